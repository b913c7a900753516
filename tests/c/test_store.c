/* SPDX-License-Identifier: MIT */
/* Store: links and history survive closing and reopening the database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

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
    unlink(db);
    for (const char *ext = "-wal"; ext; ext = strcmp(ext, "-wal") ? NULL : "-shm") {
        char side[80];
        snprintf(side, sizeof(side), "%s%s", db, ext);
        unlink(side);
    }
    printf("%d failed\n", failures);
    return failures ? 1 : 0;
}
