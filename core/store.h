/* SPDX-License-Identifier: MIT */
/* The sqlite3 store: what must outlive one run. External-ID links, the
 * record of earlier shares per incident, and integration settings. SQL
 * lives here and nowhere else. */
#ifndef MW_STORE_H
#define MW_STORE_H

#include "buf.h"

typedef struct mw_store mw_store;

typedef struct mw_history {
    long shares;       /* executions recorded for the incident */
    long succeeded;    /* of which succeeded */
    double first_seen; /* epoch seconds; 0 when never seen */
    double last_seen;
} mw_history;

/* Opens (creating when needed) the database at path. */
mw_store *mw_store_open(const char *path, mw_err *e);

/* Where the key that seals secret settings lives (see secret.h). The file
 * is read, or created, the first time a secret is written or read. */
int mw_store_set_key_file(mw_store *s, const char *path);
/* Reads the key file now when it exists, so that a bad one is found at
 * start rather than when a secret is first needed. */
int mw_store_check_key(mw_store *s, mw_err *e);
void mw_store_close(mw_store *s);

/* flock on path itself (a directory or a file; no lock file that could
 * be deleted from under the lock): `moonwire serve` takes its data dir
 * and its database exclusively, the CLI commands that open a database
 * take it shared, so that neither runs on what a daemon is serving,
 * whatever name (symbolic or hard link) leads to it. Returns the
 * descriptor, kept open (and the lock held) until the process exits, or
 * -1 with e set. */
int mw_store_lock(const char *path, int exclusive, mw_err *e);

/* From now on WAL checkpoints run on a thread of their own (checkpoint.h)
 * instead of inside the commits that grow the WAL: for the daemon, whose
 * loop must not wait on their syncs. The database must not be held in
 * exclusive locking mode. */
int mw_store_checkpoint_aside(mw_store *s, mw_err *e);
/* A WAL checkpoint now (on that thread when there is one): after a failed
 * commit, so that a WAL copied through can start over (checkpoint.h). */
void mw_store_checkpoint_now(mw_store *s);
/* Checkpoint passes of that thread, and catch-ups by the committing
 * thread; both 0 while checkpoints are sqlite's own. */
void mw_store_checkpoint_counts(mw_store *s, long long *passes,
                                long long *catch_ups);

/* Link (integration, incident) -> external ID, kept as JSON text so that
 * numbers, big integers and strings come back as they were saved.
 * link_get returns 1 and fills out when found, 0 when not, -1 on error. */
int mw_store_link_get(mw_store *s, const char *integ, const char *incident,
                      mw_buf *out, mw_err *e);
int mw_store_link_put(mw_store *s, const char *integ, const char *incident,
                      const char *json, mw_err *e);

int mw_store_history_get(mw_store *s, const char *integ, const char *incident,
                         mw_history *h, mw_err *e);
int mw_store_history_add(mw_store *s, const char *integ, const char *incident,
                         int succeeded, double now, mw_err *e);

/* Integration settings by name. get returns 1, 0 or -1 like link_get. */
int mw_store_setting_get(mw_store *s, const char *integ, const char *name,
                         mw_buf *out, int *secret, mw_err *e);
int mw_store_setting_put(mw_store *s, const char *integ, const char *name,
                         const char *value, int secret, mw_err *e);

/* Calls fn for each setting of integ; stops at the first non-zero. */
typedef int (*mw_setting_fn)(const char *name, const char *value, int secret,
                             void *ud);
int mw_store_setting_each(mw_store *s, const char *integ, mw_setting_fn fn,
                          void *ud, mw_err *e);

/* The database handle, for the statement runner in sqlrun.c. */
struct sqlite3 *mw_store_db(mw_store *s);

#endif
