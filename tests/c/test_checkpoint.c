/* SPDX-License-Identifier: MIT */
/* WAL checkpoints on the worker thread (core/checkpoint.c): under a
 * steady stream of commits the WAL stays bounded and starts over, the
 * database file receives the pages, and nothing committed is lost across
 * stop, close and reopen. Small limits keep the run short. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "checkpoint.h"

#define STEP 64
#define CATCH_UP 512
#define COMMITS 4000
#define PAGE 8192

static int failures;

#define CHECK(name, cond) \
    do { \
        if (!(cond)) { \
            failures++; \
            printf("not ok - %s (%s:%d)\n", name, __FILE__, __LINE__); \
        } else { \
            printf("ok - %s\n", name); \
        } \
    } while (0)

static long long file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
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
    char path[256], wal[300], blob[6000];
    sqlite3 *db;
    sqlite3_stmt *ins;
    mw_checkpointer *c;
    mw_err e = {0};
    long long wal_max = 0, db_mid;
    int ok = 1;

    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/t.db", dir);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA page_size=8192; PRAGMA journal_mode=WAL;"
                 "PRAGMA synchronous=NORMAL;"
                 "CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)",
                 NULL, NULL, NULL);

    /* no checkpoints but the worker's: without it the WAL would hold
     * every commit */
    sqlite3_wal_autocheckpoint(db, 0);
    c = mw_checkpointer_start(db, path, STEP, CATCH_UP, &e);
    CHECK("the worker starts", c != NULL);
    if (!c) {
        printf("# %s\n", e.msg);
        return 1;
    }
    memset(blob, 'x', sizeof(blob));
    sqlite3_prepare_v2(db, "INSERT INTO t(body) VALUES (?1)", -1, &ins, NULL);
    for (int i = 0; i < COMMITS && ok; i++) {
        long long size;

        blob[i % sizeof(blob)] = (char)('a' + i % 26);
        sqlite3_bind_blob(ins, 1, blob, sizeof(blob), SQLITE_STATIC);
        ok = sqlite3_step(ins) == SQLITE_DONE;
        sqlite3_reset(ins);
        size = file_size(wal);
        if (size > wal_max)
            wal_max = size;
    }
    sqlite3_finalize(ins);
    CHECK("every commit succeeds", ok);
    db_mid = file_size(path);
    printf("# WAL file at most %lld bytes (%lld frames), database %lld "
           "bytes\n", wal_max, wal_max / (PAGE + 24), db_mid);
    /* 4,000 commits of a page or more each: a WAL that never started
     * over would hold them all */
    CHECK("the WAL starts over and stays bounded",
          wal_max / (PAGE + 24) < 4 * CATCH_UP);
    CHECK("checkpoints fill the database file",
          db_mid > (long long)COMMITS * (long long)sizeof(blob) / 2);

    mw_checkpointer_stop(c);
    CHECK("commits go on after the worker stops",
          sqlite3_exec(db, "INSERT INTO t(body) VALUES ('last')", NULL, NULL,
                       NULL) == SQLITE_OK);
    sqlite3_close(db);

    sqlite3_open(path, &db);
    CHECK("every row is there after reopening",
          query_int(db, "SELECT count(*) FROM t") == COMMITS + 1);
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
    printf("1..7\n");
    return failures ? 1 : 0;
}
