/* SPDX-License-Identifier: MIT */
/* Named time zones from the system tz database: reads TZif files (RFC 8536)
 * and tells the offset from UTC, DST flag and abbreviation in force at a
 * moment. Calendars and date formats are the Lua template runtime's. */
#ifndef MW_TZ_H
#define MW_TZ_H

#include <stdint.h>

#include <lua.h>

#include "buf.h"

typedef struct mw_tz mw_tz;

typedef struct mw_tz_info {
    int32_t utoff; /* seconds east of UTC */
    int isdst;
    char abbr[16]; /* "CEST", "EST", "+03" */
} mw_tz_info;

/* Loads zone `name` ("Europe/Paris") from dir, or from $TZDIR or
 * /usr/share/zoneinfo when dir is NULL. Returns NULL with e set for a name
 * that is not a zone name, a missing file or a file that is not TZif. */
mw_tz *mw_tz_load(const char *dir, const char *name, mw_err *e);

/* Frees a zone; accepts NULL. */
void mw_tz_destroy(mw_tz *z);

/* The local time type in force at t, in seconds since the epoch. */
void mw_tz_lookup(const mw_tz *z, int64_t t, mw_tz_info *out);

/* Adds tz_offset(name, seconds) -> offset, abbreviation, is_dst (or nil,
 * message) to the table on top of the stack; loaded zones are cached. */
void mw_tz_register(lua_State *L);

#endif
