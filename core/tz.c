/* SPDX-License-Identifier: MIT */
/* Reads TZif files of the system tz database (RFC 8536: the 64-bit data of
 * version 2 and later, and the POSIX TZ rule in the footer for moments after
 * the last listed transition) and answers offset lookups for the Lua date
 * helper. Formatting dates is left to the Lua template runtime. */
#include "tz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#define TZ_DIR_DEFAULT "/usr/share/zoneinfo"
#define TZ_NAME_MAX 255
#define TZIF_HEAD 44
#define TZIF_COUNT_MAX 100000 /* far above any real zone */

/* A date of a POSIX TZ rule: Jn (1-365, Feb 29 never counted), n (0-365)
 * or Mm.w.d (weekday d of week w of month m, week 5 meaning the last). */
typedef struct tz_when {
    char kind; /* 'J', 'D' or 'M' */
    int month, week, day;
    int32_t time; /* seconds after local midnight; may be negative */
} tz_when;

typedef struct tz_rule {
    mw_tz_info std, dst;
    int has_dst;
    tz_when start, end;
} tz_rule;

typedef struct tz_type {
    int32_t utoff;
    uint8_t isdst;
    uint8_t abbr; /* index into chars */
} tz_type;

struct mw_tz {
    size_t ntimes, ntypes, nchars;
    int64_t *times; /* ascending transition moments */
    uint8_t *idx;   /* type in force from times[i] on */
    tz_type *types;
    char *chars; /* NUL-terminated abbreviations */
    int has_rule;
    tz_rule rule;
};

typedef struct tzif_head {
    int version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tzif_head;

/* ---- calendar ------------------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t year_of_days(int64_t z)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return days[m - 1] + (m == 2 && is_leap(y));
}

/* ---- POSIX TZ rules ----------------------------------------------------- */

/* Reads a zone abbreviation: letters, or anything alphanumeric, '+' or '-'
 * between '<' and '>'. */
static int parse_abbr(const char **s, char out[16])
{
    const char *p = *s;
    size_t n = 0;
    int quoted = *p == '<';

    if (quoted)
        p++;
    while (n < 15 && (quoted ? (*p == '+' || *p == '-' ||
                                (*p >= '0' && *p <= '9') ||
                                ((*p | 32) >= 'a' && (*p | 32) <= 'z'))
                             : ((*p | 32) >= 'a' && (*p | 32) <= 'z')))
        out[n++] = *p++;
    out[n] = '\0';
    if (n == 0 || (quoted && *p++ != '>'))
        return -1;
    *s = p;
    return 0;
}

/* Reads [+-]h[:mm[:ss]] with hours up to max_hours, as seconds. */
static int parse_hms(const char **s, int max_hours, int32_t *out)
{
    const char *p = *s;
    int sign = 1;
    long part[3] = {0, 0, 0};

    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    for (int i = 0; i < 3; i++) {
        char *end;
        if (i > 0 && *p != ':')
            break;
        if (i > 0)
            p++;
        if (*p < '0' || *p > '9')
            return -1;
        part[i] = strtol(p, &end, 10);
        p = end;
    }
    if (part[0] > max_hours || part[1] > 59 || part[2] > 59)
        return -1;
    *out = (int32_t)(sign * (part[0] * 3600 + part[1] * 60 + part[2]));
    *s = p;
    return 0;
}

static int parse_number(const char **s, long min, long max, int *out)
{
    char *end;
    long v;

    if (**s < '0' || **s > '9')
        return -1;
    v = strtol(*s, &end, 10);
    if (v < min || v > max)
        return -1;
    *out = (int)v;
    *s = end;
    return 0;
}

/* Reads ",date[/time]" of a rule; the time defaults to 02:00. */
static int parse_when(const char **s, tz_when *w)
{
    const char *p = *s;

    if (*p++ != ',')
        return -1;
    w->time = 7200;
    if (*p == 'M') {
        p++;
        w->kind = 'M';
        if (parse_number(&p, 1, 12, &w->month) < 0 || *p++ != '.' ||
            parse_number(&p, 1, 5, &w->week) < 0 || *p++ != '.' ||
            parse_number(&p, 0, 6, &w->day) < 0)
            return -1;
    } else {
        w->kind = *p == 'J' ? 'J' : 'D';
        p += *p == 'J';
        if (parse_number(&p, w->kind == 'J', 365, &w->day) < 0)
            return -1;
    }
    if (*p == '/') {
        p++;
        if (parse_hms(&p, 167, &w->time) < 0)
            return -1;
    }
    *s = p;
    return 0;
}

/* Parses a TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3". POSIX offsets
 * count hours west of UTC; the rule keeps seconds east. */
static int parse_rule(const char *s, tz_rule *r)
{
    int32_t west;

    memset(r, 0, sizeof(*r));
    if (parse_abbr(&s, r->std.abbr) < 0 || parse_hms(&s, 24, &west) < 0)
        return -1;
    r->std.utoff = -west;
    if (*s == '\0')
        return 0;
    r->has_dst = 1;
    r->dst.isdst = 1;
    if (parse_abbr(&s, r->dst.abbr) < 0)
        return -1;
    r->dst.utoff = r->std.utoff + 3600;
    if (*s != ',' && *s != '\0') {
        if (parse_hms(&s, 24, &west) < 0)
            return -1;
        r->dst.utoff = -west;
    }
    if (*s == '\0') /* POSIX leaves the dates open; use the US ones */
        s = ",M3.2.0,M11.1.0";
    if (parse_when(&s, &r->start) < 0 || parse_when(&s, &r->end) < 0)
        return -1;
    return *s == '\0' ? 0 : -1;
}

/* Days since the epoch of a rule date in year y. */
static int64_t when_days(const tz_when *w, int64_t y)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    int64_t first, day, last;

    if (w->kind == 'D')
        return jan1 + w->day;
    if (w->kind == 'J')
        return jan1 + w->day - 1 + (is_leap(y) && w->day >= 60);
    first = days_from_civil(y, w->month, 1);
    day = first + ((w->day - (first + 4) % 7) + 14) % 7 + (w->week - 1) * 7;
    last = first + month_days(y, w->month) - 1;
    while (day > last)
        day -= 7;
    return day;
}

/* The rule's answer at t: its start is written in standard time, its end
 * in daylight time; a start after the end means a southern summer. */
static void rule_lookup(const tz_rule *r, int64_t t, mw_tz_info *out)
{
    int64_t y, start, end;
    int dst;

    if (!r->has_dst) {
        *out = r->std;
        return;
    }
    y = year_of_days(floor_div(t + r->std.utoff, 86400));
    start = when_days(&r->start, y) * 86400 + r->start.time - r->std.utoff;
    end = when_days(&r->end, y) * 86400 + r->end.time - r->dst.utoff;
    if (start < end)
        dst = t >= start && t < end;
    else
        dst = t < end || t >= start;
    *out = dst ? r->dst : r->std;
}

/* ---- TZif files --------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int parse_head(const unsigned char *p, size_t n, tzif_head *h)
{
    if (n < TZIF_HEAD || memcmp(p, "TZif", 4) != 0)
        return -1;
    h->version = p[4] ? p[4] - '0' : 1;
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 ||
        h->timecnt > TZIF_COUNT_MAX || h->leapcnt > TZIF_COUNT_MAX ||
        h->charcnt > TZIF_COUNT_MAX || h->isutcnt > h->typecnt ||
        h->isstdcnt > h->typecnt)
        return -1;
    return 0;
}

/* Bytes of the data block that follows a header, with times of tsize. */
static size_t block_size(const tzif_head *h, size_t tsize)
{
    return h->timecnt * (tsize + 1) + h->typecnt * 6 + h->charcnt +
           h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

static mw_tz *zone_alloc(const tzif_head *h)
{
    mw_tz *z = calloc(1, sizeof(*z));

    if (!z)
        return NULL;
    z->ntimes = h->timecnt;
    z->ntypes = h->typecnt;
    z->nchars = h->charcnt;
    z->times = malloc(z->ntimes * sizeof(*z->times) + 1);
    z->idx = malloc(z->ntimes + 1);
    z->types = malloc(z->ntypes * sizeof(*z->types));
    z->chars = malloc(z->nchars + 1);
    if (!z->times || !z->idx || !z->types || !z->chars) {
        mw_tz_destroy(z);
        return NULL;
    }
    return z;
}

/* Copies a data block into z; checks indices and that times ascend. */
static int parse_block(mw_tz *z, const unsigned char *p, size_t tsize)
{
    for (size_t i = 0; i < z->ntimes; i++, p += tsize) {
        z->times[i] = tsize == 8 ? be64(p) : (int32_t)be32(p);
        if (i > 0 && z->times[i] <= z->times[i - 1])
            return -1;
    }
    memcpy(z->idx, p, z->ntimes);
    for (size_t i = 0; i < z->ntimes; i++, p++)
        if (*p >= z->ntypes)
            return -1;
    for (size_t i = 0; i < z->ntypes; i++, p += 6) {
        z->types[i].utoff = (int32_t)be32(p);
        z->types[i].isdst = p[4];
        z->types[i].abbr = p[5];
        if (p[5] >= z->nchars)
            return -1;
    }
    memcpy(z->chars, p, z->nchars);
    z->chars[z->nchars] = '\0';
    return 0;
}

/* Reads the footer "\n<TZ string>\n" that follows the version 2 data. */
static int parse_footer(mw_tz *z, const unsigned char *p, size_t n)
{
    char tz[128];
    const unsigned char *nl;

    if (n < 2 || p[0] != '\n' || !(nl = memchr(p + 1, '\n', n - 1)))
        return -1;
    if (nl == p + 1)
        return 0; /* no rule */
    if ((size_t)(nl - p - 1) >= sizeof(tz))
        return -1;
    memcpy(tz, p + 1, (size_t)(nl - p - 1));
    tz[nl - p - 1] = '\0';
    if (parse_rule(tz, &z->rule) < 0)
        return -1;
    z->has_rule = 1;
    return 0;
}

/* Parses a whole TZif file: the version 1 block is skipped when the 64-bit
 * data of version 2 or later follows it. */
static mw_tz *parse_tzif(const unsigned char *p, size_t n)
{
    tzif_head h;
    size_t skip;
    mw_tz *z;

    if (parse_head(p, n, &h) < 0)
        return NULL;
    if (h.version >= 2) {
        skip = TZIF_HEAD + block_size(&h, 4);
        if (skip > n || parse_head(p + skip, n - skip, &h) < 0)
            return NULL;
        p += skip;
        n -= skip;
    }
    if (TZIF_HEAD + block_size(&h, h.version >= 2 ? 8 : 4) > n ||
        !(z = zone_alloc(&h)))
        return NULL;
    if (parse_block(z, p + TZIF_HEAD, h.version >= 2 ? 8 : 4) < 0 ||
        (h.version >= 2 &&
         parse_footer(z, p + TZIF_HEAD + block_size(&h, 8),
                      n - TZIF_HEAD - block_size(&h, 8)) < 0)) {
        mw_tz_destroy(z);
        return NULL;
    }
    return z;
}

/* A zone name is relative and plain: letters, digits, '_', '+', '-' in
 * non-empty parts separated by '/', so it cannot leave the zone directory. */
static int valid_name(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > TZ_NAME_MAX || name[0] == '/' || name[n - 1] == '/' ||
        strstr(name, "//"))
        return 0;
    for (const char *c = name; *c; c++) {
        if (!((*c | 32) >= 'a' && (*c | 32) <= 'z') && !(*c >= '0' && *c <= '9')
            && !strchr("_+-/", *c))
            return 0;
    }
    return 1;
}

mw_tz *mw_tz_load(const char *dir, const char *name, mw_err *e)
{
    const char *env = getenv("TZDIR");
    char path[512];
    mw_buf b;
    mw_tz *z;

    if (!valid_name(name)) {
        mw_err_set(e, "E_TZ", "\"%s\" is not a time zone name", name);
        return NULL;
    }
    if (!dir)
        dir = env && *env ? env : TZ_DIR_DEFAULT;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    mw_buf_init(&b);
    if (mw_buf_read_file(&b, path, e) < 0) {
        mw_buf_free(&b);
        mw_err_set(e, "E_TZ", "unknown time zone \"%s\" (no %s)", name, path);
        return NULL;
    }
    z = parse_tzif((const unsigned char *)b.data, b.len);
    mw_buf_free(&b);
    if (!z)
        mw_err_set(e, "E_TZ", "%s is not a TZif file of the tz database",
                   path);
    return z;
}

void mw_tz_destroy(mw_tz *z)
{
    if (!z)
        return;
    free(z->times);
    free(z->idx);
    free(z->types);
    free(z->chars);
    free(z);
}

static void type_info(const mw_tz *z, size_t type, mw_tz_info *out)
{
    const tz_type *t = &z->types[type];

    out->utoff = t->utoff;
    out->isdst = t->isdst;
    snprintf(out->abbr, sizeof(out->abbr), "%s", z->chars + t->abbr);
}

void mw_tz_lookup(const mw_tz *z, int64_t t, mw_tz_info *out)
{
    size_t lo = 0, hi;

    if (z->has_rule && (z->ntimes == 0 || t > z->times[z->ntimes - 1])) {
        rule_lookup(&z->rule, t, out);
        return;
    }
    if (z->ntimes == 0 || t < z->times[0]) {
        type_info(z, 0, out);
        return;
    }
    hi = z->ntimes; /* times[lo] <= t < times[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->times[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    type_info(z, z->idx[lo], out);
}

/* ---- moonwire.core.tz_offset -------------------------------------------- */

static char cache_key;

static int zone_gc(lua_State *L)
{
    mw_tz **box = lua_touserdata(L, 1);

    mw_tz_destroy(*box);
    *box = NULL;
    return 0;
}

/* The zone called name, from the cache or loaded into it; NULL with e set. */
static const mw_tz *cached_zone(lua_State *L, const char *name, mw_err *e)
{
    mw_tz **box;

    lua_pushlightuserdata(L, &cache_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_getfield(L, -1, name);
    box = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!box) {
        box = lua_newuserdata(L, sizeof(*box));
        *box = NULL;
        luaL_getmetatable(L, "moonwire.tz");
        lua_setmetatable(L, -2);
        if (!(*box = mw_tz_load(NULL, name, e))) {
            lua_pop(L, 2);
            return NULL;
        }
        lua_setfield(L, -2, name);
    }
    lua_pop(L, 1);
    return *box;
}

/* tz_offset(name, seconds) -> offset east of UTC in seconds, abbreviation,
 * is_dst; nil and a message for an unknown zone. */
static int l_tz_offset(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    double t = luaL_checknumber(L, 2);
    mw_err e = {0};
    const mw_tz *z;
    mw_tz_info info;

    luaL_argcheck(L, fabs(t) < 9007199254740992.0, 2, "seconds out of range");
    if (!(z = cached_zone(L, name, &e))) {
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    mw_tz_lookup(z, (int64_t)floor(t), &info);
    lua_pushinteger(L, info.utoff);
    lua_pushstring(L, info.abbr);
    lua_pushboolean(L, info.isdst);
    return 3;
}

void mw_tz_register(lua_State *L)
{
    lua_pushlightuserdata(L, &cache_key);
    lua_newtable(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
    if (luaL_newmetatable(L, "moonwire.tz")) {
        lua_pushcfunction(L, zone_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_tz_offset);
    lua_setfield(L, -2, "tz_offset");
}
