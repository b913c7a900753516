/* SPDX-License-Identifier: MIT */
/* sqlite3 persistence. WAL mode with synchronous=NORMAL: a commit is
 * durable against process crashes and ordered against power loss. Every
 * statement is prepared once and kept for the life of the store. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <sqlite3.h>

#include "checkpoint.h"
#include "secret.h"

#define SCHEMA_VERSION 1

/* Pages of 8 KiB for a new database. A share row (about 1.4 KB with its
 * body) and an execution row (about 2 KB of trace) left 4 KiB pages a
 * third and a half empty, and a commit writes every page it touched
 * whole: with 8 KiB, a share costs half the WAL frames, a third of the
 * pages a checkpoint copies, and a tenth fewer bytes written. A database
 * made before keeps its page size (sqlite changes it only by VACUUM). */
#define PAGE_SIZE "8192"

enum {
    Q_LINK_GET,
    Q_LINK_PUT,
    Q_HIST_GET,
    Q_HIST_ADD,
    Q_SET_GET,
    Q_SET_PUT,
    Q_SET_EACH,
    Q_COUNT
};

static const char *const queries[Q_COUNT] = {
    [Q_LINK_GET] = "SELECT external_id FROM links "
                   "WHERE integration = ?1 AND incident = ?2",
    [Q_LINK_PUT] = "INSERT INTO links(integration, incident, external_id, "
                   "updated_at) VALUES(?1, ?2, ?3, strftime('%s','now')) "
                   "ON CONFLICT(integration, incident) DO UPDATE SET "
                   "external_id = excluded.external_id, "
                   "updated_at = excluded.updated_at",
    [Q_HIST_GET] = "SELECT shares, succeeded, first_seen, last_seen "
                   "FROM history WHERE integration = ?1 AND incident = ?2",
    [Q_HIST_ADD] = "INSERT INTO history(integration, incident, shares, "
                   "succeeded, first_seen, last_seen) "
                   "VALUES(?1, ?2, 1, ?3, ?4, ?4) "
                   "ON CONFLICT(integration, incident) DO UPDATE SET "
                   "shares = shares + 1, succeeded = succeeded + ?3, "
                   "last_seen = ?4",
    [Q_SET_GET] = "SELECT value, secret FROM settings "
                  "WHERE integration = ?1 AND name = ?2",
    [Q_SET_PUT] = "INSERT INTO settings(integration, name, value, secret) "
                  "VALUES(?1, ?2, ?3, ?4) "
                  "ON CONFLICT(integration, name) DO UPDATE SET "
                  "value = excluded.value, secret = excluded.secret",
    [Q_SET_EACH] = "SELECT name, value, secret FROM settings "
                   "WHERE integration = ?1 ORDER BY name",
};

/* links and history are keyed by their primary key alone (WITHOUT ROWID):
 * a row is one b-tree entry, read and written once, where a rowid table
 * keeps a second b-tree for the key. Databases made before keep their
 * rowid tables, which answer the same statements the same way. */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS links("
    " integration TEXT NOT NULL, incident TEXT NOT NULL,"
    " external_id TEXT NOT NULL, updated_at INTEGER NOT NULL,"
    " PRIMARY KEY(integration, incident)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS history("
    " integration TEXT NOT NULL, incident TEXT NOT NULL,"
    " shares INTEGER NOT NULL, succeeded INTEGER NOT NULL,"
    " first_seen REAL NOT NULL, last_seen REAL NOT NULL,"
    " PRIMARY KEY(integration, incident)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS settings("
    " integration TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,"
    " secret INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(integration, name));";

struct mw_store {
    sqlite3 *db;
    mw_checkpointer *checkpoints; /* while checkpoints run aside */
    sqlite3_stmt *q[Q_COUNT];
    char *key_file;
    mw_secret *key;
};

static int db_fail(mw_store *s, mw_err *e, const char *what)
{
    mw_err_set(e, "E_STORE", "%s: %s", what,
               s && s->db ? sqlite3_errmsg(s->db) : "cannot open");
    return -1;
}

static int setup(mw_store *s, mw_err *e)
{
    char pragma[64];

    /* page_size takes effect only on a new, empty file: see PAGE_SIZE */
    if (sqlite3_exec(s->db, "PRAGMA page_size=" PAGE_SIZE ";"
                     "PRAGMA journal_mode=WAL;"
                     "PRAGMA synchronous=NORMAL;"
                     "PRAGMA foreign_keys=ON;", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(s, e, "cannot configure the database");
    if (sqlite3_exec(s->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(s, e, "cannot create the database schema");
    snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d;", SCHEMA_VERSION);
    if (sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(s, e, "cannot set the schema version");
    for (int i = 0; i < Q_COUNT; i++) {
        if (sqlite3_prepare_v2(s->db, queries[i], -1, &s->q[i], NULL) !=
            SQLITE_OK)
            return db_fail(s, e, "cannot prepare a query");
    }
    return 0;
}

mw_store *mw_store_open(const char *path, mw_err *e)
{
    mw_store *s = calloc(1, sizeof(*s));

    if (!s) {
        mw_err_set(e, "E_NOMEM", "out of memory opening %s", path);
        return NULL;
    }
    /* One thread, the loop's, uses the connection: no mutex around each
     * call. */
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
                        SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        mw_err_set(e, "E_STORE", "cannot open database %s: %s", path,
                   s->db ? sqlite3_errmsg(s->db) : "out of memory");
        mw_store_close(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (setup(s, e) < 0) {
        char msg[sizeof(e->msg)];
        snprintf(msg, sizeof(msg), "%s", e ? e->msg : "");
        mw_err_set(e, "E_STORE", "%s (database %s)", msg, path);
        mw_store_close(s);
        return NULL;
    }
    return s;
}

int mw_store_set_key_file(mw_store *s, const char *path)
{
    free(s->key_file);
    s->key_file = strdup(path);
    return s->key_file ? 0 : -1;
}

static mw_secret *key_of(mw_store *s, mw_err *e)
{
    if (!s->key && s->key_file)
        s->key = mw_secret_open(s->key_file, e);
    else if (!s->key)
        mw_err_set(e, "E_SECRET_KEY", "no key file is configured for secret "
                   "settings");
    return s->key;
}

/* Turns a stored secret value back into its plain text in place. */
static int unseal_into(mw_store *s, mw_buf *value, mw_err *e)
{
    mw_secret *k;
    mw_buf plain;
    int rc;

    if (!value->data || strncmp(value->data, "mw1:", 4) != 0)
        return 0;
    if (!(k = key_of(s, e)))
        return -1;
    mw_buf_init(&plain);
    rc = mw_secret_unseal(k, value->data, &plain, e);
    if (rc == 0) {
        mw_buf_reset(value);
        rc = mw_buf_add(value, plain.data ? plain.data : "", plain.len);
    }
    mw_buf_free(&plain);
    return rc;
}

int mw_store_check_key(mw_store *s, mw_err *e)
{
    if (!s->key_file || access(s->key_file, F_OK) != 0)
        return 0;
    return key_of(s, e) ? 0 : -1;
}

struct sqlite3 *mw_store_db(mw_store *s)
{
    return s ? s->db : NULL;
}

int mw_store_checkpoint_aside(mw_store *s, mw_err *e)
{
    const char *path = sqlite3_db_filename(s->db, "main");

    if (s->checkpoints)
        return 0;
    s->checkpoints = mw_checkpointer_start(s->db, path ? path : "",
                                           MW_CHECKPOINT_STEP_FRAMES,
                                           MW_CHECKPOINT_CATCH_UP_FRAMES, e);
    return s->checkpoints ? 0 : -1;
}

void mw_store_checkpoint_now(mw_store *s)
{
    if (s->checkpoints)
        mw_checkpointer_kick(s->checkpoints);
    else
        sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                  NULL, NULL);
}

void mw_store_checkpoint_counts(mw_store *s, long long *passes,
                                long long *catch_ups)
{
    *passes = *catch_ups = 0;
    if (s->checkpoints)
        mw_checkpointer_counts(s->checkpoints, passes, catch_ups);
}

int mw_store_lock(const char *path, int exclusive, mw_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        mw_err_set(e, "E_DATA_DIR", "cannot open %s: %s", path,
                   strerror(errno));
        return -1;
    }
    if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
        return fd;
    if (errno == EWOULDBLOCK)
        mw_err_set(e, "E_DATA_DIR", exclusive
                   ? "%s is in use by another moonwire serve"
                   : "%s belongs to a running moonwire serve: use its API "
                     "(docs/api.md) rather than the database", path);
    else
        mw_err_set(e, "E_DATA_DIR", "cannot lock %s: %s", path,
                   strerror(errno));
    close(fd);
    return -1;
}

void mw_store_close(mw_store *s)
{
    if (!s)
        return;
    mw_checkpointer_stop(s->checkpoints);
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    mw_secret_close(s->key);
    free(s->key_file);
    free(s);
}

/* Resets q and binds its first text parameters. */
static sqlite3_stmt *bind2(mw_store *s, int q, const char *a, const char *b)
{
    sqlite3_stmt *st = s->q[q];

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    return st;
}

static int step_done(mw_store *s, sqlite3_stmt *st, mw_err *e)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(s, e, "cannot write");
}

static int copy_text(sqlite3_stmt *st, int col, mw_buf *out)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    int n = sqlite3_column_bytes(st, col);

    mw_buf_reset(out);
    return mw_buf_add(out, t ? (const char *)t : "", (size_t)n);
}

int mw_store_link_get(mw_store *s, const char *integ, const char *incident,
                      mw_buf *out, mw_err *e)
{
    sqlite3_stmt *st = bind2(s, Q_LINK_GET, integ, incident);
    int rc = sqlite3_step(st);
    int found = 0;

    if (rc == SQLITE_ROW)
        found = copy_text(st, 0, out) == 0 ? 1 : -1;
    else if (rc != SQLITE_DONE)
        found = db_fail(s, e, "cannot read an external ID");
    sqlite3_reset(st);
    return found;
}

int mw_store_link_put(mw_store *s, const char *integ, const char *incident,
                      const char *json, mw_err *e)
{
    sqlite3_stmt *st = bind2(s, Q_LINK_PUT, integ, incident);

    sqlite3_bind_text(st, 3, json, -1, SQLITE_STATIC);
    return step_done(s, st, e);
}

int mw_store_history_get(mw_store *s, const char *integ, const char *incident,
                         mw_history *h, mw_err *e)
{
    sqlite3_stmt *st = bind2(s, Q_HIST_GET, integ, incident);
    int rc = sqlite3_step(st);

    memset(h, 0, sizeof(*h));
    if (rc == SQLITE_ROW) {
        h->shares = (long)sqlite3_column_int64(st, 0);
        h->succeeded = (long)sqlite3_column_int64(st, 1);
        h->first_seen = sqlite3_column_double(st, 2);
        h->last_seen = sqlite3_column_double(st, 3);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, e, "cannot read the share history");
    return 0;
}

int mw_store_history_add(mw_store *s, const char *integ, const char *incident,
                         int succeeded, double now, mw_err *e)
{
    sqlite3_stmt *st = bind2(s, Q_HIST_ADD, integ, incident);

    sqlite3_bind_int(st, 3, succeeded ? 1 : 0);
    sqlite3_bind_double(st, 4, now);
    return step_done(s, st, e);
}

int mw_store_setting_get(mw_store *s, const char *integ, const char *name,
                         mw_buf *out, int *secret, mw_err *e)
{
    sqlite3_stmt *st = bind2(s, Q_SET_GET, integ, name);
    int rc = sqlite3_step(st);
    int found = 0, sealed = 0;

    if (rc == SQLITE_ROW) {
        found = copy_text(st, 0, out) == 0 ? 1 : -1;
        sealed = sqlite3_column_int(st, 1);
    } else if (rc != SQLITE_DONE) {
        found = db_fail(s, e, "cannot read a setting");
    }
    sqlite3_reset(st);
    if (secret)
        *secret = sealed;
    if (found == 1 && sealed && unseal_into(s, out, e) < 0)
        return -1;
    return found;
}

int mw_store_setting_put(mw_store *s, const char *integ, const char *name,
                         const char *value, int secret, mw_err *e)
{
    sqlite3_stmt *st;
    mw_secret *k;
    mw_buf sealed;
    int rc;

    mw_buf_init(&sealed);
    if (secret) {
        if (!(k = key_of(s, e)) ||
            mw_secret_seal(k, value, strlen(value), &sealed, e) < 0)
            return -1;
        value = sealed.data;
    }
    st = bind2(s, Q_SET_PUT, integ, name);
    sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, secret ? 1 : 0);
    rc = step_done(s, st, e);
    mw_buf_free(&sealed);
    return rc;
}

int mw_store_setting_each(mw_store *s, const char *integ, mw_setting_fn fn,
                          void *ud, mw_err *e)
{
    sqlite3_stmt *st = bind2(s, Q_SET_EACH, integ, NULL);
    mw_buf value;
    int rc, bad = 0;

    mw_buf_init(&value);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int secret = sqlite3_column_int(st, 2);
        if (copy_text(st, 1, &value) < 0 ||
            (secret && unseal_into(s, &value, e) < 0)) {
            bad = 1;
            break;
        }
        if (fn(name ? name : "", value.data ? value.data : "", secret, ud))
            break;
    }
    sqlite3_reset(st);
    mw_buf_free(&value);
    if (bad)
        return -1;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, e, "cannot list settings");
    return 0;
}
