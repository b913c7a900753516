/* SPDX-License-Identifier: MIT */
/* Store: links and history survive closing and reopening the database;
 * new databases get the current layout, older ones keep working. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "store.h"

/* The stored (sealed) text of the secret, read around the store API. */
static void raw_secret(mw_store *s, mw_buf *out)
{
    sqlite3_stmt *st;

    mw_buf_reset(out);
    sqlite3_prepare_v2(mw_store_db(s), "SELECT value FROM settings WHERE "
                       "name = 'client_secret'", -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW)
        mw_buf_adds(out, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

/* The first column of the first row of sql, as an integer (-1 if none). */
static long long query_int(mw_store *s, const char *sql)
{
    sqlite3_stmt *st;
    long long v = -1;

    sqlite3_prepare_v2(mw_store_db(s), sql, -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* A database as releases before 8 KiB pages made it: 4 KiB pages, links
 * and history as rowid tables, one link saved. */
static void make_old(const char *path)
{
    sqlite3 *db;

    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA page_size=4096; PRAGMA journal_mode=WAL;"
                 "CREATE TABLE links(integration TEXT NOT NULL,"
                 " incident TEXT NOT NULL, external_id TEXT NOT NULL,"
                 " updated_at INTEGER NOT NULL, PRIMARY KEY(integration, incident));"
                 "CREATE TABLE history(integration TEXT NOT NULL,"
                 " incident TEXT NOT NULL, shares INTEGER NOT NULL,"
                 " succeeded INTEGER NOT NULL, first_seen REAL NOT NULL,"
                 " last_seen REAL NOT NULL, PRIMARY KEY(integration, incident));"
                 "INSERT INTO links VALUES('i', 'old', '\"OLD-1\"', 0);",
                 NULL, NULL, NULL);
    sqlite3_close(db);
}

static void remove_db(const char *db)
{
    char side[80];

    unlink(db);
    snprintf(side, sizeof(side), "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", db);
    unlink(side);
}

static void test_layout(const char *db)
{
    mw_err e = {0};
    mw_history h;
    mw_buf b;
    mw_store *s;

    mw_buf_init(&b);
    remove_db(db);
    s = mw_store_open(db, &e);
    CHECK("a new database has 8 KiB pages",
          query_int(s, "PRAGMA page_size") == 8192);
    CHECK("a new database keeps links and history by their key alone",
          query_int(s, "SELECT count(*) FROM sqlite_schema WHERE name IN"
                       " ('links', 'history') AND sql LIKE '%WITHOUT ROWID'") == 2);
    mw_store_close(s);
    remove_db(db);

    make_old(db);
    s = mw_store_open(db, &e);
    CHECK("a database made before opens", s != NULL);
    CHECK("and keeps its pages and tables",
          query_int(s, "PRAGMA page_size") == 4096 &&
              query_int(s, "SELECT count(*) FROM sqlite_schema WHERE"
                           " sql LIKE '%WITHOUT ROWID'") == 0);
    CHECK("its links read back",
          mw_store_link_get(s, "i", "old", &b, &e) == 1 &&
              strcmp(b.data, "\"OLD-1\"") == 0);
    CHECK("its links and history take writes",
          mw_store_link_put(s, "i", "old", "2", &e) == 0 &&
              mw_store_link_put(s, "i", "new", "3", &e) == 0 &&
              mw_store_history_add(s, "i", "new", 1, 5, &e) == 0 &&
              mw_store_link_get(s, "i", "old", &b, &e) == 1 &&
              strcmp(b.data, "2") == 0 &&
              mw_store_history_get(s, "i", "new", &h, &e) == 0 && h.succeeded == 1);
    mw_store_close(s);
    remove_db(db);
    mw_buf_free(&b);
}

int main(void)
{
    char path[] = "/tmp/mw-store-XXXXXX";
    char db[64], key[80];
    int fd = mkstemp(path);
    mw_err e = {0};
    mw_history h;
    mw_buf b;
    mw_store *s;

    close(fd);
    unlink(path);
    snprintf(db, sizeof(db), "%s.db", path);
    mw_buf_init(&b);

    s = mw_store_open(db, &e);
    CHECK("opens a new database", s != NULL);
    CHECK("no link before one is saved",
          mw_store_link_get(s, "i", "inc-1", &b, &e) == 0);
    CHECK("saves a link", mw_store_link_put(s, "i", "inc-1", "\"EXT-1\"", &e) == 0);
    CHECK("replaces a link", mw_store_link_put(s, "i", "inc-1", "9001", &e) == 0);
    CHECK("records a failed share", mw_store_history_add(s, "i", "inc-1", 0, 10, &e) == 0);
    CHECK("records a succeeded share", mw_store_history_add(s, "i", "inc-1", 1, 20, &e) == 0);
    mw_store_close(s);

    s = mw_store_open(db, &e);
    CHECK("reopens", s != NULL);
    CHECK("the link survives reopening",
          mw_store_link_get(s, "i", "inc-1", &b, &e) == 1 && strcmp(b.data, "9001") == 0);
    CHECK("links are per integration", mw_store_link_get(s, "j", "inc-1", &b, &e) == 0);
    CHECK("history counts shares and successes",
          mw_store_history_get(s, "i", "inc-1", &h, &e) == 0 && h.shares == 2 &&
              h.succeeded == 1 && h.first_seen == 10 && h.last_seen == 20);
    snprintf(key, sizeof(key), "%s.key", db);
    CHECK("a key file can be named", mw_store_set_key_file(s, key) == 0);
    CHECK("settings round-trip",
          mw_store_setting_put(s, "i", "client_secret", "s3cr3t", 1, &e) == 0);
    CHECK("a plain setting is stored as it is",
          mw_store_setting_put(s, "i", "base_url", "http://x", 0, &e) == 0);
    int secret = 0;
    CHECK("a secret setting reads back with its flag",
          mw_store_setting_get(s, "i", "client_secret", &b, &secret, &e) == 1 &&
              strcmp(b.data, "s3cr3t") == 0 && secret == 1);
    mw_store_close(s);

    s = mw_store_open(db, &e);
    raw_secret(s, &b);
    CHECK("the secret is not stored in plain text",
          b.data && strncmp(b.data, "mw1:", 4) == 0 && !strstr(b.data, "s3cr3t"));
    mw_store_set_key_file(s, key);
    CHECK("the key file opens it again after reopening",
          mw_store_setting_get(s, "i", "client_secret", &b, &secret, &e) == 1 &&
              strcmp(b.data, "s3cr3t") == 0);
    mw_store_close(s);

    unlink(key);
    s = mw_store_open(db, &e);
    mw_store_set_key_file(s, key);
    CHECK("a different key cannot open it, and says so",
          mw_store_setting_get(s, "i", "client_secret", &b, &secret, &e) < 0 &&
              strstr(e.msg, "cannot be decrypted"));
    mw_store_close(s);
    unlink(key);

    s = mw_store_open("/nonexistent-dir/x.db", &e);
    CHECK("an unusable path is an error naming it",
          s == NULL && strstr(e.msg, "/nonexistent-dir/x.db"));

    mw_buf_free(&b);
    remove_db(db);
    test_layout(db);
    printf("%d failed\n", failures);
    return failures ? 1 : 0;
}
