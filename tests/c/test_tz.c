/* SPDX-License-Identifier: MIT */
/* Time zones: POSIX TZ rules of TZif footers (written into small TZif files
 * made here), listed transitions, files that must be refused, and one zone
 * of the system's tz database. One table of named cases per group. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tz.h"

static char dir[] = "/tmp/mw-test-tz-XXXXXX";

static void be32(FILE *f, int64_t v)
{
    for (int s = 24; s >= 0; s -= 8)
        fputc((int)((uint64_t)v >> s) & 0xFF, f);
}

static void be64(FILE *f, int64_t v)
{
    be32(f, (int64_t)((uint64_t)v >> 32));
    be32(f, v);
}

/* A local time type: offset, DST flag, abbreviation index. */
static void ttinfo(FILE *f, int32_t utoff, int isdst, int abbr)
{
    be32(f, utoff);
    fputc(isdst, f);
    fputc(abbr, f);
}

/* A TZif header: version, then isut, isstd, leap, time, type, char counts. */
static void head(FILE *f, char version, int times, int types, int chars)
{
    fwrite("TZif", 1, 4, f);
    fputc(version, f);
    for (int i = 0; i < 15; i++)
        fputc(0, f);
    be32(f, 0);
    be32(f, 0);
    be32(f, 0);
    be32(f, times);
    be32(f, types);
    be32(f, chars);
}

/* Writes zone `name`: a minimal version 1 block, then version 2 data with
 * two transitions (2000 to "AAA" +1h, 2010 to "BBB" +2h DST, "LMT" before)
 * when `listed`, and the footer rule `tz`. */
static void write_zone(const char *name, int listed, const char *tz)
{
    static const char chars[] = "LMT\0AAA\0BBB";
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    head(f, '2', 0, 1, 1);
    fwrite("\0\0\0\0\0\0\0", 1, 7, f); /* one type, one NUL */
    head(f, '2', listed ? 2 : 0, 3, sizeof(chars));
    if (listed) {
        be64(f, 946684800);  /* 2000-01-01 */
        be64(f, 1262304000); /* 2010-01-01 */
        fwrite("\1\2", 1, 2, f);
    }
    ttinfo(f, 0, 0, 0);
    ttinfo(f, 3600, 0, 4);
    ttinfo(f, 7200, 1, 8);
    fwrite(chars, 1, sizeof(chars), f);
    fprintf(f, "\n%s\n", tz);
    fclose(f);
}

static const struct {
    const char *name, *tz;
    int64_t t;
    int32_t utoff;
    const char *abbr;
} rules[] = {
    {"rule: winter in CET", "CET-1CEST,M3.5.0,M10.5.0/3", 1705320000, 3600,
     "CET"},
    {"rule: summer in CET", "CET-1CEST,M3.5.0,M10.5.0/3", 1719835200, 7200,
     "CEST"},
    {"rule: last second before the change", "CET-1CEST,M3.5.0,M10.5.0/3",
     1711846799, 3600, "CET"},
    {"rule: the change itself", "CET-1CEST,M3.5.0,M10.5.0/3", 1711846800, 7200,
     "CEST"},
    {"rule: southern summer spans the new year",
     "AEST-10AEDT,M10.1.0,M4.1.0/3", 1705320000, 39600, "AEDT"},
    {"rule: southern winter", "AEST-10AEDT,M10.1.0,M4.1.0/3", 1719835200,
     36000, "AEST"},
    {"rule: DST offset written out", "NZST-12NZDT-13,M9.5.0,M4.1.0/3",
     1705320000, 46800, "NZDT"},
    {"rule: quoted abbreviation, minutes", "<+0330>-3:30", 1705320000, 12600,
     "+0330"},
    {"rule: Jn never counts Feb 29 (before)", "XST3XDT,J60,J300", 1709269199,
     -10800, "XST"},
    {"rule: Jn never counts Feb 29 (J60 is Mar 1)", "XST3XDT,J60,J300",
     1709269200, -7200, "XDT"},
    {"rule: Jn end in DST time", "XST3XDT,J60,J300", 1730001599, -7200,
     "XDT"},
    {"rule: Jn end", "XST3XDT,J60,J300", 1730001600, -10800, "XST"},
    {"rule: zero-based n counts Feb 29", "XST3XDT,59,299", 1709182800, -7200,
     "XDT"},
    {"rule: zero-based n, just before", "XST3XDT,59,299", 1709182799, -10800,
     "XST"},
    {"rule: DST all year (hour 25)", "EST5EDT,0/0,J365/25", 1705320000,
     -14400, "EDT"},
    {"rule: no DST at all", "UTC0", 1719835200, 0, "UTC"},
};

static const struct {
    const char *name;
    int64_t t;
    int32_t utoff;
    const char *abbr;
} listed[] = {
    {"listed: before the first transition", 900000000, 0, "LMT"},
    {"listed: between transitions", 1000000000, 3600, "AAA"},
    {"listed: at the last transition", 1262304000, 7200, "BBB"},
    {"listed: after it, the footer rule", 1300000000, 10800, "CCC"},
};

static void check_rules(void)
{
    mw_err e = {0};
    mw_tz_info info;

    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        mw_tz *z;
        write_zone("Rule", 0, rules[i].tz);
        z = mw_tz_load(dir, "Rule", &e);
        if (!z) {
            printf("# %s: %s\n", rules[i].name, e.msg);
            CHECK(rules[i].name, 0);
            continue;
        }
        mw_tz_lookup(z, rules[i].t, &info);
        if (info.utoff != rules[i].utoff || strcmp(info.abbr, rules[i].abbr))
            printf("# %s: got %d %s\n", rules[i].name, info.utoff, info.abbr);
        CHECK(rules[i].name, info.utoff == rules[i].utoff &&
                                 !strcmp(info.abbr, rules[i].abbr));
        mw_tz_destroy(z);
    }
}

static void check_listed(void)
{
    mw_err e = {0};
    mw_tz_info info;
    mw_tz *z;

    write_zone("Listed", 1, "CCC-3");
    z = mw_tz_load(dir, "Listed", &e);
    CHECK("listed: a file with transitions and a footer loads", z != NULL);
    for (size_t i = 0; z && i < sizeof(listed) / sizeof(listed[0]); i++) {
        mw_tz_lookup(z, listed[i].t, &info);
        CHECK(listed[i].name, info.utoff == listed[i].utoff &&
                                  !strcmp(info.abbr, listed[i].abbr));
    }
    mw_tz_destroy(z);
}

/* Files and names that must be refused, with a message. */
static void check_refused(void)
{
    static const char *const bad_footers[] = {"CET-1CEST,M13.5.0,M10.5.0",
                                              "CET", "CET-1CEST,M3.5.0",
                                              "<+03-3"};
    static const char *const bad_names[] = {"../Rule", "/etc/localtime",
                                            "Rule/", "a//b", "a.b", ""};
    mw_err e = {0};
    char path[256];
    FILE *f;

    for (size_t i = 0; i < sizeof(bad_footers) / sizeof(bad_footers[0]); i++) {
        write_zone("Bad", 0, bad_footers[i]);
        CHECK(bad_footers[i], mw_tz_load(dir, "Bad", &e) == NULL &&
                                  strstr(e.msg, "not a TZif file"));
    }
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
        CHECK("refuses the name", mw_tz_load(dir, bad_names[i], &e) == NULL &&
                                      strstr(e.msg, "not a time zone name"));
    snprintf(path, sizeof(path), "%s/Text", dir);
    f = fopen(path, "wb");
    fputs("TZif2 but short", f);
    fclose(f);
    CHECK("refuses a truncated file", mw_tz_load(dir, "Text", &e) == NULL);
    CHECK("names a missing zone", mw_tz_load(dir, "Nowhere", &e) == NULL &&
                                      strstr(e.msg, "unknown time zone"));
}

static void check_system(void)
{
    mw_err e = {0};
    mw_tz_info info;
    mw_tz *z = mw_tz_load(NULL, "America/New_York", &e);

    CHECK("system zone loads (tzdata installed)", z != NULL);
    if (!z)
        return;
    mw_tz_lookup(z, 1719835200, &info);
    CHECK("system zone: EDT in July", info.utoff == -14400 && info.isdst &&
                                          !strcmp(info.abbr, "EDT"));
    mw_tz_lookup(z, 4102488000, &info); /* 2100, past the listed changes */
    CHECK("system zone: EST in January 2100", info.utoff == -18000 &&
                                                  !strcmp(info.abbr, "EST"));
    mw_tz_destroy(z);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    check_rules();
    check_listed();
    check_refused();
    check_system();
    for (const char *n = "Rule\0Listed\0Bad\0Text\0"; *n; n += strlen(n) + 1) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, n);
        unlink(path);
    }
    rmdir(dir);
    printf("%d failed\n", failures);
    return failures ? 1 : 0;
}
