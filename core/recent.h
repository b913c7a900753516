/* SPDX-License-Identifier: MIT */
/* The shares taken in during the last seconds, by fingerprint, for the
 * daemon's deduplication: an identical share inside the window is
 * answered with the id of the first. Kept in memory so that intake writes
 * no index of random keys: a table of 16-byte entries, at most
 * MW_RECENT_MAX of them (4 MiB); past that the oldest are forgotten
 * first, so at very high rates the window in effect shortens. */
#ifndef MW_RECENT_H
#define MW_RECENT_H

#include <stddef.h>
#include <stdint.h>

#define MW_RECENT_MAX (1u << 18)

typedef struct mw_recent mw_recent;

mw_recent *mw_recent_create(void);
void mw_recent_destroy(mw_recent *r);

/* The id remembered for key (any bytes) at a time >= since (epoch
 * seconds), or 0. A found id may still be a fingerprint collision: the
 * caller checks it against what it stored. */
int64_t mw_recent_find(mw_recent *r, const char *key, size_t n, double since);

/* Remembers key -> id (> 0) at time now; entries older than `window`
 * seconds may be dropped to make room. Returns 0, or -1 when out of
 * memory (the key is then not remembered). */
int mw_recent_add(mw_recent *r, const char *key, size_t n, int64_t id,
                  double now, double window);

/* Entries held, for tests. */
size_t mw_recent_count(const mw_recent *r);

#endif
