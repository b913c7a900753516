/* SPDX-License-Identifier: MIT */
/* The recent-share table behind deduplication: found inside the window,
 * not after it; ids past 2^32; growth under many keys; the size cap
 * forgetting the oldest first. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "recent.h"

static int64_t find(mw_recent *r, const char *key, double since)
{
    return mw_recent_find(r, key, strlen(key), since);
}

static int add(mw_recent *r, const char *key, int64_t id, double now)
{
    return mw_recent_add(r, key, strlen(key), id, now, 10);
}

static void window(void)
{
    mw_recent *r = mw_recent_create();

    add(r, "integ/a", 7, 1000.5);
    CHECK("found inside the window", find(r, "integ/a", 995) == 7);
    CHECK("other keys are not found", find(r, "integ/b", 995) == 0);
    CHECK("not found once the window has passed", find(r, "integ/a", 1001) == 0);
    add(r, "integ/a", 9, 1020);
    CHECK("a key added again is found with its new id",
          find(r, "integ/a", 1015) == 9);
    mw_recent_destroy(r);
}

static void big_ids(void)
{
    mw_recent *r = mw_recent_create();
    int64_t base = ((int64_t)5 << 32) - 3;

    for (int i = 0; i < 6; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        add(r, key, base + i, 2000);
    }
    CHECK("an id below a 2^32 boundary comes back whole",
          find(r, "k0", 1995) == base);
    CHECK("an id past a 2^32 boundary comes back whole",
          find(r, "k5", 1995) == base + 5);
    mw_recent_destroy(r);
}

static void growth_and_cap(void)
{
    mw_recent *r = mw_recent_create();
    char key[32];
    int found = 0;

    for (int i = 1; i <= 100000; i++) {
        snprintf(key, sizeof(key), "grow-%d", i);
        add(r, key, i, 3000 + i / 20000);
    }
    for (int i = 1; i <= 100000; i++) {
        snprintf(key, sizeof(key), "grow-%d", i);
        found += find(r, key, 2995) == i;
    }
    CHECK("100,000 keys in one window are all found", found == 100000);

    for (int i = 1; i <= (int)MW_RECENT_MAX; i++) {
        snprintf(key, sizeof(key), "cap-%d", i);
        add(r, key, 200000 + i, 4000 + (double)i / 100000);
    }
    CHECK("the table stays under its cap", mw_recent_count(r) <= MW_RECENT_MAX);
    snprintf(key, sizeof(key), "cap-%d", (int)MW_RECENT_MAX);
    CHECK("the newest key survives the cap",
          find(r, key, 3995) == 200000 + (int64_t)MW_RECENT_MAX);
    CHECK("the oldest keys are forgotten first", find(r, "grow-1", 2995) == 0);
    mw_recent_destroy(r);
}

int main(void)
{
    window();
    big_ids();
    growth_and_cap();
    printf("%d failed\n", failures);
    return failures ? 1 : 0;
}
