/* SPDX-License-Identifier: MIT */
/* Recent share fingerprints (see recent.h): open addressing with linear
 * probing over 16-byte slots. Entries are never removed one by one; when
 * the table fills, it is rebuilt with the entries still inside the window
 * (and, at the size cap, only the newer half of those). */
#include "recent.h"

#include <stdlib.h>

#define MIN_CAP 4096u

typedef struct slot {
    uint64_t fp;    /* 0: empty */
    uint32_t id_lo; /* the id's low 32 bits: see full_id */
    uint32_t t;     /* epoch seconds when added */
} slot;

struct mw_recent {
    slot *slots;
    size_t cap; /* a power of two */
    size_t used;
    int64_t max_id; /* the highest id added */
};

/* FNV-1a, 64 bits; 0 marks an empty slot, so it is never a fingerprint. */
static uint64_t fingerprint(const char *key, size_t n)
{
    uint64_t h = 14695981039346656037ull;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

/* Ids grow by one per share, and an entry is at most a window old, so the
 * id it stands for is the highest id with those low bits not above the
 * highest added: 2^32 shares inside one window never happen. */
static int64_t full_id(const mw_recent *r, uint32_t lo)
{
    int64_t id = (r->max_id & ~(int64_t)0xffffffff) | lo;

    return id > r->max_id ? id - ((int64_t)1 << 32) : id;
}

mw_recent *mw_recent_create(void)
{
    mw_recent *r = calloc(1, sizeof(*r));

    if (r && !(r->slots = calloc(MIN_CAP, sizeof(slot)))) {
        free(r);
        return NULL;
    }
    if (r)
        r->cap = MIN_CAP;
    return r;
}

void mw_recent_destroy(mw_recent *r)
{
    if (!r)
        return;
    free(r->slots);
    free(r);
}

size_t mw_recent_count(const mw_recent *r)
{
    return r ? r->used : 0;
}

static void put(slot *slots, size_t cap, slot s)
{
    size_t i = s.fp & (cap - 1);

    while (slots[i].fp)
        i = (i + 1) & (cap - 1);
    slots[i] = s;
}

static size_t live_since(const mw_recent *r, uint32_t since)
{
    size_t n = 0;

    for (size_t i = 0; i < r->cap; i++)
        n += r->slots[i].fp && r->slots[i].t >= since;
    return n;
}

/* Makes room: drops what is older than `since`, grows while there is
 * room to, and at the cap keeps only the newer half (by time). */
static int rebuild(mw_recent *r, uint32_t since, uint32_t now)
{
    size_t live = live_since(r, since);
    size_t cap = r->cap;
    slot *fresh;

    while (live * 20 > cap * 7 && cap < MW_RECENT_MAX)
        cap *= 2;
    while (live * 2 > cap && since < now) {
        since += (now - since + 1) / 2;
        live = live_since(r, since);
    }
    if (live * 10 > cap * 7) /* all from this very second: start over */
        since = now + 1;
    if (!(fresh = calloc(cap, sizeof(slot))))
        return -1;
    for (size_t i = 0; i < r->cap; i++)
        if (r->slots[i].fp && r->slots[i].t >= since)
            put(fresh, cap, r->slots[i]);
    free(r->slots);
    r->slots = fresh;
    r->cap = cap;
    r->used = live_since(r, since);
    return 0;
}

int64_t mw_recent_find(mw_recent *r, const char *key, size_t n, double since)
{
    uint64_t fp = fingerprint(key, n);
    uint32_t t = since > 0 ? (uint32_t)since : 0;

    for (size_t i = fp & (r->cap - 1); r->slots[i].fp;
         i = (i + 1) & (r->cap - 1)) {
        if (r->slots[i].fp == fp && r->slots[i].t >= t)
            return full_id(r, r->slots[i].id_lo);
    }
    return 0;
}

int mw_recent_add(mw_recent *r, const char *key, size_t n, int64_t id,
                  double now, double window)
{
    uint32_t t = now > 0 ? (uint32_t)now : 0;
    uint32_t since = now - window > 0 ? (uint32_t)(now - window) : 0;
    slot s = {fingerprint(key, n), (uint32_t)id, t};

    /* at most 70% full, so that probes stay short */
    if ((r->used + 1) * 10 > r->cap * 7 && rebuild(r, since, t) < 0)
        return -1;
    if (id > r->max_id)
        r->max_id = id;
    put(r->slots, r->cap, s);
    r->used++;
    return 0;
}
