/* SPDX-License-Identifier: MIT */
/* Store: links and history survive closing and reopening the database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int main(void)
{
    char path[] = "/tmp/mw-store-XXXXXX";
    char db[64];
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
    CHECK("settings round-trip",
          mw_store_setting_put(s, "i", "client_secret", "s3cr3t", 1, &e) == 0);
    int secret = 0;
    CHECK("a secret setting reads back with its flag",
          mw_store_setting_get(s, "i", "client_secret", &b, &secret, &e) == 1 &&
              strcmp(b.data, "s3cr3t") == 0 && secret == 1);
    mw_store_close(s);

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
