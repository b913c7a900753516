/* SPDX-License-Identifier: MIT */
/* WAL checkpoints on the worker thread (core/checkpoint.c): under a
 * steady stream of commits the WAL stays bounded and starts over, the
 * database file receives the pages, and nothing committed is lost across
 * stop, close and reopen. Small limits keep the run short. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "checkpoint.h"

#define STEP 64
#define CATCH_UP 1024
#define COMMITS 9000
#define PAGE 8192

static long long file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* n commits of a 6,000-byte blob each; the -wal file's largest size into
 * *wal_max. 1 if every one succeeded. A pause every 16 commits leaves
 * the worker thread a chance to be scheduled on a busy machine, as the
 * daemon's loop, which does more than commit, always does. */
static int write_rows(sqlite3 *db, const char *wal, int n, long long *wal_max)
{
    static char blob[6000];
    sqlite3_stmt *ins;
    int ok = 1;

    memset(blob, 'x', sizeof(blob));
    sqlite3_prepare_v2(db, "INSERT INTO t(body) VALUES (?1)", -1, &ins, NULL);
    for (int i = 0; i < n && ok; i++) {
        long long size;

        blob[i % sizeof(blob)] = (char)('a' + i % 26);
        sqlite3_bind_blob(ins, 1, blob, sizeof(blob), SQLITE_STATIC);
        ok = sqlite3_step(ins) == SQLITE_DONE;
        if (!ok)
            printf("# commit %d: %s (%d)\n", i, sqlite3_errmsg(db), sqlite3_extended_errcode(db));
        sqlite3_reset(ins);
        size = file_size(wal);
        if (size > *wal_max)
            *wal_max = size;
        if (i % 16 == 15)
            nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    sqlite3_finalize(ins);
    return ok;
}

/* The frames the WAL holds, as a checkpoint of what it may copy reports
 * them (retried while the worker's pass holds the checkpoint lock). */
static int wal_frames(sqlite3 *db)
{
    int log = -1, copied;

    for (int i = 0; i < 400; i++) {
        if (sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                      &log, &copied) != SQLITE_BUSY)
            return log;
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    return -1;
}

static long long query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    long long v = -1;

    sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

int main(void)
{
    char dir[] = "/tmp/mw-checkpoint-XXXXXX";
    char path[256], wal[300];
    sqlite3 *db, *reader;
    mw_checkpointer *c;
    mw_err e = {0};
    long long wal_max = 0, db_mid, passes, before, pinned;
    int ok, pinned_log, end_log;

    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/t.db", dir);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA page_size=8192; PRAGMA journal_mode=WAL;"
                 "PRAGMA synchronous=NORMAL;"
                 "CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)",
                 NULL, NULL, NULL);

    /* as the store's connection: a lock the worker holds for a moment is
     * waited for, not an error */
    sqlite3_busy_timeout(db, 5000);
    /* no checkpoints but the worker's: without it the WAL would hold
     * every commit */
    sqlite3_wal_autocheckpoint(db, 0);
    c = mw_checkpointer_start(db, path, STEP, CATCH_UP, &e);
    CHECK("the worker starts", c != NULL);
    if (!c) {
        printf("# %s\n", e.msg);
        return 1;
    }
    ok = write_rows(db, wal, COMMITS, &wal_max);
    CHECK("every commit succeeds", ok);
    db_mid = file_size(path);
    printf("# WAL file at most %lld bytes (%lld frames), database %lld "
           "bytes\n", wal_max, wal_max / (PAGE + 24), db_mid);
    /* 9,000 commits of a page or more each: a WAL that never started
     * over would hold them all */
    CHECK("the WAL starts over and stays bounded",
          wal_max / (PAGE + 24) < 4 * CATCH_UP);
    CHECK("checkpoints fill the database file",
          db_mid > (long long)COMMITS * 6000 / 4);

    /* A read transaction elsewhere holds every checkpoint back: the loop
     * must not catch up then (it would copy the whole backlog at once
     * when the reader ends), and once the reader is gone the worker
     * copies the backlog and the loop the rest. */
    sqlite3_open(path, &reader);
    sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM t", NULL, NULL, NULL);
    mw_checkpointer_counts(c, &passes, &before);
    ok = write_rows(db, wal, 2 * COMMITS / 3, &wal_max);
    mw_checkpointer_counts(c, &passes, &pinned);
    pinned_log = wal_frames(db);
    sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(reader);
    ok = write_rows(db, wal, COMMITS, &wal_max) && ok;
    end_log = wal_frames(db);
    printf("# with a reader: %lld catch-ups before, %lld after, %d frames; "
           "%d frames once it ended\n", before, pinned, pinned_log, end_log);
    CHECK("every commit succeeds with a reader", ok);
    CHECK("a reader holds the WAL, and the loop does not catch up",
          pinned_log > 2 * CATCH_UP && pinned == before);
    CHECK("the WAL starts over once the reader is gone",
          end_log >= 0 && end_log < pinned_log);

    /* a kick (after a failed commit) empties the WAL file once all is
     * copied, giving its space back */
    mw_checkpointer_kick(c);
    for (int i = 0; i < 400 && file_size(wal) > 0; i++) {
        nanosleep(&(struct timespec){0, 5000000}, NULL);
        if (i % 50 == 49)
            mw_checkpointer_kick(c); /* a pass may have been running */
    }
    CHECK("a kick cuts the WAL file to nothing", file_size(wal) == 0);

    mw_checkpointer_stop(c);
    CHECK("commits go on after the worker stops",
          sqlite3_exec(db, "INSERT INTO t(body) VALUES ('last')", NULL, NULL,
                       NULL) == SQLITE_OK);
    sqlite3_close(db);

    sqlite3_open(path, &db);
    CHECK("every row is there after reopening",
          query_int(db, "SELECT count(*) FROM t") ==
              2 * COMMITS + 2 * COMMITS / 3 + 1);
    CHECK("the database is intact",
          query_int(db, "SELECT count(*) FROM pragma_integrity_check "
                        "WHERE integrity_check = 'ok'") == 1);
    sqlite3_close(db);

    {
        char cmd[300];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", dir);
    }
    printf("1..11\n");
    return failures ? 1 : 0;
}
