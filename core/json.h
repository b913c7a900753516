/* SPDX-License-Identifier: MIT */
/* JSON <-> Lua values, direct to and from the Lua stack. Keeps null, [] and
 * {} apart (a sentinel and an array metatable) and keeps integers beyond
 * 2^53 exact (as big-number values holding their digits). cJSON cannot do
 * the last (its numbers are doubles), so the Lua boundary has this codec;
 * cJSON serves the C-only documents (configuration, CLI lines). */
#ifndef MW_JSON_H
#define MW_JSON_H

#include <stddef.h>

#include <lua.h>

#include "buf.h"

#define MW_JSON_MAX_DEPTH 200

enum {
    MW_JSON_PRETTY = 1 /* two-space indentation, one member per line */
};

/* Decodes s[0..n) and pushes the value. Returns 0, or -1 with e set (line,
 * column and byte offset in the message) and nothing pushed. */
int mw_json_decode(lua_State *L, const char *s, size_t n, mw_err *e);

/* Checks that s[0..n) is what mw_json_decode accepts, building nothing.
 * Returns 0, or -1 with e set as mw_json_decode would set it. */
int mw_json_validate(const char *s, size_t n, mw_err *e);
/* The same, refusing nesting deeper than max_depth (at most
 * MW_JSON_MAX_DEPTH): for texts that are stored inside larger ones. */
int mw_json_validate_depth(const char *s, size_t n, int max_depth, mw_err *e);

/* Longest path mw_json_lookup follows. */
#define MW_JSON_LOOKUP_MAX 16

/* Follows the object keys keys[0..nkeys) into s[0..n) and pushes the kind
 * of the value found ("object", "array", "string", "number", "boolean",
 * "null") and, for a scalar, the value as mw_json_decode reads it, without
 * decoding anything else. Of repeated names the last counts, as in
 * mw_json_decode. Returns how many values it pushed: 0 when a key is
 * missing or a step is not an object, or -1 with e set at a syntax error
 * it meets. s must be JSON (mw_json_validate): the values passed on the
 * way are skipped by their brackets alone, which on other text may give
 * a wrong answer, though never a read outside s. */
int mw_json_lookup(lua_State *L, const char *s, size_t n,
                   const char *const *keys, const size_t *key_lens,
                   int nkeys, mw_err *e);

/* Appends the JSON text of the value at idx to out. Returns 0 or -1. */
int mw_json_encode(lua_State *L, int idx, mw_buf *out, int flags, mw_err *e);

/* Pushes a deep copy of the value at idx: what decoding its encoding gives
 * (tables made anew, plain sequences marked as arrays), refused with e set
 * where mw_json_encode would refuse it. Returns 0 or -1 (nothing pushed). */
int mw_json_copy(lua_State *L, int idx, mw_err *e);

/* Appends the body of a JSON string literal for s (no quotes). */
int mw_json_escape(mw_buf *out, const char *s, size_t n);

/* Pushes json.null / tests for it. */
void mw_json_push_null(lua_State *L);
int mw_json_is_null(lua_State *L, int idx);

/* Sets the array mark on the table at idx. */
void mw_json_mark_array(lua_State *L, int idx);

/* Opens the `moonwire.json` module; leaves its table on the stack. */
int mw_json_open(lua_State *L);

#endif
