/* SPDX-License-Identifier: MIT */
/* WAL checkpoints on a thread of their own. By default sqlite checkpoints
 * inside the commit that grows the WAL past its limit: it copies the
 * committed pages back into the database file and syncs both files, tens
 * of milliseconds during which the loop answers nothing. Here the loop's
 * connection only commits; a worker with a connection of its own copies
 * and syncs while the loop goes on (WAL mode lets one connection write
 * while another checkpoints).
 *
 * The worker starts a pass each time the WAL has grown by a step
 * (checkpoint.h), not after every commit: each pass syncs both files,
 * however little it copies.
 *
 * The WAL starts over from its beginning only after a checkpoint has
 * copied every frame in it, which a worker racing a busy writer never
 * quite does. So past the catch-up limit the loop copies what is left
 * itself, right after the worker's pass: a few hundred frames, once
 * every 16 MiB or so written. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "checkpoint.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "log.h"

struct mw_checkpointer {
    sqlite3 *main; /* the loop's connection */
    sqlite3 *db;   /* the worker's */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int wanted;  /* a pass is asked for */
    int truncate; /* ... one that empties the WAL file (kick) */
    int busy;    /* the worker is in a pass */
    int stop;
    int failures; /* passes that failed in a row, for the log */
    int step_frames, catch_up_frames; /* checkpoint.h */
    int held;              /* a reader holds checkpoints back, under mu */
    int asked;             /* WAL frames when a pass was last asked for */
    int warned;            /* the WAL's growth was logged (loop's own) */
    long long passes;      /* the worker's, under mu */
    long long catch_ups;   /* the loop's that copied all, its own */
};

static void *run(void *arg)
{
    mw_checkpointer *c = arg;

    pthread_setname_np(pthread_self(), "mw-checkpoint"); /* for top -H */
    pthread_mutex_lock(&c->mu);
    for (;;) {
        int rc, log = 0, copied = 0, mode;

        while (!c->wanted && !c->stop)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop)
            break;
        mode = c->truncate ? SQLITE_CHECKPOINT_TRUNCATE
                           : SQLITE_CHECKPOINT_PASSIVE;
        c->wanted = c->truncate = 0;
        c->busy = 1;
        pthread_mutex_unlock(&c->mu);
        rc = sqlite3_wal_checkpoint_v2(c->db, NULL, mode, &log, &copied);
        pthread_mutex_lock(&c->mu);
        c->busy = 0;
        c->passes++;
        if (rc == SQLITE_OK && copied >= log)
            c->held = 0; /* nothing held this pass back */
        /* BUSY now and then: the loop was catching up at that moment. BUSY
         * every time: another process holds the checkpoint lock. */
        if (rc == SQLITE_OK)
            c->failures = 0;
        else if (++c->failures == (rc == SQLITE_BUSY ? 50 : 1))
            MW_WARN("WAL checkpoint failed %d time(s) in a row: %s; the WAL "
                    "grows until one succeeds", c->failures,
                    sqlite3_errmsg(c->db));
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* sqlite's commit hook for WAL databases (it replaces the checkpoint in
 * the committing call): runs on the loop after every commit, with the
 * frames the WAL holds. A pass is asked for each step_frames frames
 * written, not after every commit: a pass costs two syncs however little
 * it copies. Past catch_up_frames the loop copies the rest itself (what
 * was written during the worker's last pass). A read transaction in
 * another process holds every checkpoint back: once the loop finds that,
 * the worker alone copies until a pass of its own copies everything it
 * sees, so that when the reader ends the backlog is copied off the loop,
 * and the loop then copies only what was written meanwhile. */
static int on_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    mw_checkpointer *c = arg;
    int busy, catch_up = 0;

    (void)name;
    if (frames < c->asked) /* the WAL started over */
        c->asked = c->warned = 0;
    if (frames - c->asked < c->step_frames)
        return SQLITE_OK;
    pthread_mutex_lock(&c->mu);
    busy = c->busy;
    if (!busy) {
        catch_up = frames >= c->catch_up_frames && !c->held;
        if (!catch_up) {
            c->wanted = 1;
            pthread_cond_signal(&c->cv);
        }
        c->asked = frames;
    }
    pthread_mutex_unlock(&c->mu);
    if (catch_up) {
        int log = 0, copied = 0;

        if (sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                      &log, &copied) == SQLITE_OK &&
            copied >= log) {
            c->catch_ups++; /* all copied: the next commit starts over */
        } else {
            pthread_mutex_lock(&c->mu);
            c->held = 1;
            pthread_mutex_unlock(&c->mu);
        }
    }
    if (frames >= 4 * c->catch_up_frames && !c->warned) {
        c->warned = 1;
        MW_WARN("the WAL holds %d frames and cannot start over: a read "
                "transaction open elsewhere (another process reading %s?) "
                "keeps checkpoints from copying past it",
                frames, sqlite3_db_filename(db, "main"));
    }
    return SQLITE_OK;
}

void mw_checkpointer_kick(mw_checkpointer *c)
{
    pthread_mutex_lock(&c->mu);
    if (!c->busy) {
        c->wanted = c->truncate = 1;
        pthread_cond_signal(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
}

void mw_checkpointer_counts(mw_checkpointer *c, long long *passes,
                            long long *catch_ups)
{
    pthread_mutex_lock(&c->mu);
    *passes = c->passes;
    pthread_mutex_unlock(&c->mu);
    *catch_ups = c->catch_ups;
}

mw_checkpointer *mw_checkpointer_start(sqlite3 *main, const char *path,
                                       int step_frames, int catch_up_frames,
                                       mw_err *e)
{
    mw_checkpointer *c = calloc(1, sizeof(*c));
    sigset_t all, old;
    int rc;

    if (!c) {
        mw_err_set(e, "E_NOMEM", "out of memory");
        return NULL;
    }
    c->main = main;
    c->step_frames = step_frames;
    c->catch_up_frames = catch_up_frames;
    if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE |
                        SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
        sqlite3_exec(c->db, "PRAGMA synchronous=NORMAL", NULL, NULL,
                     NULL) != SQLITE_OK) {
        mw_err_set(e, "E_STORE", "cannot open %s for checkpoints: %s", path,
                   c->db ? sqlite3_errmsg(c->db) : "out of memory");
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    /* signals are the loop's to take, but for the faults the worker itself
     * may cause (a SIGBUS on sqlite's mapped -shm file, say): blocked, they
     * would kill the process without a word from a crash handler */
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&c->thread, NULL, run, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        mw_err_set(e, "E_STORE", "cannot start the checkpoint thread");
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    sqlite3_wal_hook(main, on_commit, c);
    return c;
}

void mw_checkpointer_stop(mw_checkpointer *c)
{
    if (!c)
        return;
    /* back to sqlite's own checkpoints (at its default of 1,000
     * frames), for whatever the loop still writes and for the last one
     * when it closes */
    sqlite3_wal_autocheckpoint(c->main, 1000);
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    sqlite3_close(c->db);
    free(c);
}
