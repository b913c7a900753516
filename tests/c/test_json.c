/* SPDX-License-Identifier: MIT */
/* JSON codec: round trips that must be exact, and inputs that must fail
 * with a message naming where. One table of named cases per group. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "check.h"
#include "json.h"

/* Decodes in[0..n) from a copy of exactly n bytes, so that the sanitizer
 * sees any read past the end; validates it too, which must agree with
 * the decoder, message and all. Returns what mw_json_decode returns. */
static int decode_exact(lua_State *L, const char *in, size_t n, mw_err *e)
{
    char *copy = malloc(n ? n : 1);
    mw_err ve = {0};
    int rc, vrc;

    memcpy(copy, in, n);
    rc = mw_json_decode(L, copy, n, e);
    vrc = mw_json_validate(copy, n, &ve);
    if (vrc != rc || (rc < 0 && strcmp(ve.msg, e->msg) != 0)) {
        printf("# validate disagrees: %d/%d \"%s\" vs \"%s\"\n", rc, vrc,
               e->msg, ve.msg);
        failures++;
    }
    free(copy);
    return rc;
}

/* Copies the value on top (json.copy) and tells whether the copy encodes
 * as want, is made of new tables and leaves one value pushed. */
static int copy_encodes_same(lua_State *L, const char *want)
{
    mw_err e = {0};
    mw_buf b;
    int top = lua_gettop(L), ok;

    mw_buf_init(&b);
    ok = mw_json_copy(L, top, &e) == 0 && lua_gettop(L) == top + 1 &&
         mw_json_encode(L, -1, &b, 0, &e) == 0 && strcmp(b.data, want) == 0 &&
         (!lua_istable(L, top) || lua_topointer(L, top) != lua_topointer(L, -1));
    lua_settop(L, top);
    mw_buf_free(&b);
    return ok;
}

/* Decodes in[0..n) and encodes back; compares with want. */
static void roundtrip_n(lua_State *L, const char *name, const char *in,
                        size_t n, const char *want)
{
    mw_err e = {0};
    mw_buf b;
    int ok;

    mw_buf_init(&b);
    ok = decode_exact(L, in, n, &e) == 0 &&
         mw_json_encode(L, -1, &b, 0, &e) == 0 && strcmp(b.data, want) == 0;
    if (!ok)
        printf("# %s: got %s (%s)\n", name, b.data ? b.data : "-", e.msg);
    CHECK(name, ok && lua_gettop(L) == 1);
    if (ok && !copy_encodes_same(L, want))
        printf("# %s: its copy differs\n", name), failures++;
    lua_settop(L, 0);
    mw_buf_free(&b);
}

static void roundtrip(lua_State *L, const char *name, const char *in,
                      const char *want)
{
    roundtrip_n(L, name, in, strlen(in), want);
}

static void must_fail(lua_State *L, const char *name, const char *in,
                      size_t n, const char *msg_part)
{
    mw_err e = {0};
    int rc = decode_exact(L, in, n, &e);

    if (rc == 0 || !strstr(e.msg, msg_part))
        printf("# %s: rc=%d msg=%s\n", name, rc, e.msg);
    CHECK(name, rc < 0 && strstr(e.msg, msg_part) && lua_gettop(L) == 0);
    lua_settop(L, 0);
}

static const struct {
    const char *name, *in, *want;
} trips[] = {
    {"null, [] and {} stay apart", "[null,[],{}]", "[null,[],{}]"},
    {"19-digit id stays exact", "{\"id\":7512345678901234567}",
     "{\"id\":7512345678901234567}"},
    {"negative 64-bit id stays exact", "-9223372036854775808",
     "-9223372036854775808"},
    {"2^53 is a plain number", "9007199254740992", "9007199254740992"},
    {"2^53 + 1 is not read as 2^53", "[9007199254740993,-9007199254740993]",
     "[9007199254740993,-9007199254740993]"},
    {"floats read back the same", "[0.5,-1,0.1,1e+21,3.14159]",
     "[0.5,-1,0.1,1e+21,3.14159]"},
    {"object keys come out sorted", "{\"b\":1,\"a\":{\"d\":[],\"c\":null}}",
     "{\"a\":{\"c\":null,\"d\":[]},\"b\":1}"},
    {"escapes are decoded and re-escaped", "\"a\\\"b\\\\c\\n\\u0001\\/\"",
     "\"a\\\"b\\\\c\\n\\u0001/\""},
    {"surrogate pair becomes one code point", "\"\\ud83d\\ude00\"",
     "\"\xF0\x9F\x98\x80\""},
    {"lone surrogate becomes U+FFFD", "\"\\ud800x\"", "\"\xEF\xBF\xBDx\""},
    {"invalid UTF-8 becomes U+FFFD", "\"a\xFF" "b\"", "\"a\xEF\xBF\xBD" "b\""},
    {"U+2028 is escaped on output", "\"\xE2\x80\xA8\"", "\"\\u2028\""},
    {"keys that differ after a NUL stay apart", "{\"k\\u0000y\":2,\"k\\u0000x\":1}",
     "{\"k\\u0000x\":1,\"k\\u0000y\":2}"},
    {"byte-order mark is skipped", "\xEF\xBB\xBF{\"a\":true}", "{\"a\":true}"},
    {"unicode text passes through", "\"Ünïcödé — 日本語 🚨\"",
     "\"Ünïcödé — 日本語 🚨\""},
    {"short integers stay exact",
     "[999999999999999,-123456789012345,1717236000,0]",
     "[999999999999999,-123456789012345,1717236000,0]"},
    {"16 digits and more stay exact", "[1234567890123456,9007199254740995]",
     "[1234567890123456,9007199254740995]"},
    {"integers with an exponent or a fraction are numbers", "[1e3,10.0,-0.0]",
     "[1000,10,0]"},
    {"escapes after plain text and bad UTF-8",
     "\"ab\\n\xFF" "d\\u00e9\xC3\xA9\"",
     "\"ab\\n\xEF\xBF\xBD" "d\xC3\xA9\xC3\xA9\""},
    {"U+2029 is escaped amid other text", "\"a\xE2\x80\xA9\xE2\x80\xA7z\"",
     "\"a\\u2029\xE2\x80\xA7z\""},
    {"keys sharing eight bytes sort by the rest",
     "{\"abcdefghj\":3,\"abcdefgh\":1,\"abcdefghi\":2,\"abcdefg\":0}",
     "{\"abcdefg\":0,\"abcdefgh\":1,\"abcdefghi\":2,\"abcdefghj\":3}"},
    {"an empty key sorts before a NUL key", "{\"\\u0000\":2,\"\":1}",
     "{\"\":1,\"\\u0000\":2}"},
    {"exponents near a double's range", "[1.5e308,1e-999,-2E-400]",
     "[1.5e+308,0,0]"},
};

static const struct {
    const char *name, *in, *part;
} bad[] = {
    {"trailing comma in object", "{\"a\":1,}", "line 1, column 8"},
    {"missing value", "{\"a\":}", "unexpected '}'"},
    {"unterminated string", "\"abc", "unterminated string"},
    {"raw newline in string", "\"a\nb\"", "control character"},
    {"text after the value", "{} x", "trailing text"},
    {"leading zero", "012", "leading zero"},
    {"a number beyond a double", "[1e999]", "out of range"},
    {"a negative number beyond a double", "{\"a\":-1.8E+308}",
     "number out of range: unexpected '-' at line 1, column 6 (byte 5)"},
    {"bad literal", "nul", "invalid literal"},
    {"empty input", "", "end of input"},
    {"error on line 3", "{\n\"a\": 1,\n\"b\" 2}", "line 3, column 5"},
    {"leading zero after a minus", "-01",
     "leading zero in number: unexpected '1'"},
    {"a minus alone", "[-]",
     "invalid number: unexpected ']' at line 1, column 3"},
    {"a fraction without digits", "1.", "invalid number: unexpected end"},
    {"invalid escape", "\"ab\\x\"", "invalid escape in string: unexpected 'x'"},
    {"control character after an escape", "\"\\n\x01\"", "control character"},
    {"unterminated after bad UTF-8", "\"a\xFF",
     "unterminated string: unexpected '\"' at line 1, column 1 (byte 0)"},
};

static void deep_nesting(lua_State *L)
{
    char in[1000];
    mw_err e = {0};

    memset(in, '[', sizeof(in));
    CHECK("nesting deeper than the limit is refused",
          mw_json_decode(L, in, sizeof(in), &e) < 0 &&
              strstr(e.msg, "deeper than"));
    lua_settop(L, 0);
}

static void encode_errors(lua_State *L)
{
    mw_err e = {0};
    mw_buf b;

    mw_buf_init(&b);
    lua_pushnumber(L, 0.0 / 0.0);
    CHECK("NaN cannot be encoded", mw_json_encode(L, -1, &b, 0, &e) < 0 &&
                                       strstr(e.msg, "NaN"));
    lua_settop(L, 0);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "self");
    CHECK("a table containing itself is refused",
          mw_json_encode(L, -1, &b, 0, &e) < 0);
    lua_settop(L, 0);
    lua_createtable(L, 2, 0);
    lua_pushliteral(L, "x");
    lua_rawseti(L, -2, 1);
    lua_pushliteral(L, "y");
    lua_rawseti(L, -2, 2);
    mw_buf_reset(&b);
    CHECK("a plain Lua sequence encodes as an array",
          mw_json_encode(L, -1, &b, 0, &e) == 0 &&
              strcmp(b.data, "[\"x\",\"y\"]") == 0);
    lua_settop(L, 0);
    mw_buf_free(&b);
}

/* -0 reads as a negative zero, as strtod gives it. */
static void negative_zero(lua_State *L)
{
    mw_err e = {0};
    double v;

    CHECK("-0 decodes", mw_json_decode(L, "-0", 2, &e) == 0);
    v = lua_tonumber(L, -1);
    CHECK("-0 is a negative zero", v == 0 && signbit(v));
    lua_settop(L, 0);
}

/* Objects of every size come out sorted: small ones, ones sorted with
 * qsort, and ones too large to hold on the stack (written by lookup). */
static void wide_objects(lua_State *L)
{
    static const int sizes[] = {5, 40, 3000};
    char name[64];
    mw_err e = {0};
    mw_buf got, want;

    mw_buf_init(&got);
    mw_buf_init(&want);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        int n = sizes[k];

        lua_newtable(L);
        for (int i = n - 1; i >= 0; i--) {
            lua_pushfstring(L, "k%05d", i);
            lua_pushinteger(L, i);
            lua_rawset(L, -3);
        }
        mw_buf_reset(&want);
        for (int i = 0; i < n; i++)
            mw_buf_printf(&want, "%s\"k%05d\":%d", i ? "," : "{", i, i);
        mw_buf_addc(&want, '}');
        mw_buf_reset(&got);
        snprintf(name, sizeof(name),
                 "an object of %d members comes out sorted", n);
        CHECK(name, mw_json_encode(L, -1, &got, 0, &e) == 0 &&
                        strcmp(got.data, want.data) == 0 && lua_gettop(L) == 1);
        lua_settop(L, 0);
    }
    mw_buf_free(&got);
    mw_buf_free(&want);
}

/* Containers are read onto the stack before their table is made; past
 * the stack-held limit (2,048 slots over all levels) a container makes
 * its table early and sets the rest as they come. Sizes around both the
 * batch of stack checks (32) and that limit come back whole. */
static void wide_containers(lua_State *L)
{
    static const int sizes[] = {1, 31, 32, 33, 1023, 1024, 1025, 2047,
                                2048, 2049, 5000};
    char name[96];
    mw_buf in, want;

    mw_buf_init(&in);
    mw_buf_init(&want);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        int n = sizes[k];

        /* an object, its members given out of order */
        mw_buf_reset(&in);
        mw_buf_reset(&want);
        for (int i = 0; i < n; i++) {
            mw_buf_printf(&in, "%s\"k%05d\":%d", i ? "," : "{", n - 1 - i,
                          n - 1 - i);
            mw_buf_printf(&want, "%s\"k%05d\":%d", i ? "," : "{", i, i);
        }
        mw_buf_addc(&in, '}');
        mw_buf_addc(&want, '}');
        snprintf(name, sizeof(name), "an object of %d members decodes whole",
                 n);
        roundtrip_n(L, name, in.data, in.len, want.data);

        /* an array of arrays, so that both levels hold values */
        mw_buf_reset(&in);
        for (int i = 0; i < n; i++)
            mw_buf_printf(&in, "%s[%d,\"s\"]", i ? "," : "[", i);
        mw_buf_addc(&in, ']');
        snprintf(name, sizeof(name), "an array of %d arrays decodes whole", n);
        roundtrip_n(L, name, in.data, in.len, in.data);
    }
    mw_buf_free(&in);
    mw_buf_free(&want);
}

/* Of repeated names the last counts, whether both are held on the stack,
 * or the first is held and the second set after the table was made. */
static void repeated_names(lua_State *L)
{
    static const int at[] = {2, 1500};
    char name[96];
    mw_buf in, want;

    roundtrip(L, "of repeated names in an object the last counts",
              "{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}");
    mw_buf_init(&in);
    mw_buf_init(&want);
    for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
        mw_buf_reset(&in);
        mw_buf_reset(&want);
        mw_buf_adds(&in, "{\"dup\":\"first\"");
        for (int i = 1; i < at[k]; i++)
            mw_buf_printf(&in, ",\"k%05d\":%d", i, i);
        mw_buf_adds(&in, ",\"dup\":\"last\",\"zz\":{\"dup\":1,\"dup\":2}}");
        mw_buf_adds(&want, "{\"dup\":\"last\"");
        for (int i = 1; i < at[k]; i++)
            mw_buf_printf(&want, ",\"k%05d\":%d", i, i);
        mw_buf_adds(&want, ",\"zz\":{\"dup\":2}}");
        snprintf(name, sizeof(name),
                 "a name repeated %d members on: the last counts", at[k]);
        roundtrip_n(L, name, in.data, in.len, want.data);
    }
    mw_buf_free(&in);
    mw_buf_free(&want);
}

/* 199 levels of objects with 40 members each before the next level: the
 * members held pass the limit part way down, and the stack holds. */
static void deep_and_wide(lua_State *L)
{
    mw_buf in;
    int levels = MW_JSON_MAX_DEPTH - 1;

    mw_buf_init(&in);
    for (int d = 0; d < levels; d++) {
        mw_buf_addc(&in, '{');
        for (int i = 0; i < 40; i++)
            mw_buf_printf(&in, "\"m%02d\":%d,", i, d);
        mw_buf_adds(&in, "\"next\":");
    }
    mw_buf_adds(&in, "[]");
    for (int d = 0; d < levels; d++)
        mw_buf_addc(&in, '}');
    /* the input is already in encoder order: keys sorted, compact */
    roundtrip_n(L, "199 levels of 40 members each decode whole", in.data,
                in.len, in.data);
    mw_buf_free(&in);
}

/* Strings are scanned eight bytes at a time: every byte that ends a run
 * of plain text is tried at every offset of a word, and as the last
 * bytes of the input. */
static void string_offsets(lua_State *L)
{
    static const struct {
        const char *in, *out;
    } stops[] = {
        {"\\\"", "\\\""}, {"\\n", "\\n"}, {"\\u00e9", "\xC3\xA9"},
        {"\x01", NULL}, {"\x1F", NULL}, {"\xC3\xA9", "\xC3\xA9"},
        {"\xFF", "\xEF\xBF\xBD"}, {"\xE2\x80\xA8", "\\u2028"},
        {" ", " "}, {"\x7F", "\x7F"},
    };
    char in[64], want[64], name[96];

    for (size_t k = 0; k < sizeof(stops) / sizeof(stops[0]); k++) {
        for (int at = 0; at < 18; at++) {
            int n = snprintf(in, sizeof(in), "\"%.*s%s%.*s\"", at,
                             "abcdefghijklmnopqrstu", stops[k].in, 3, "xyz");

            snprintf(name, sizeof(name), "stop %zu at offset %d", k, at);
            if (!stops[k].out) {
                must_fail(L, name, in, (size_t)n, "control character");
                continue;
            }
            snprintf(want, sizeof(want), "\"%.*s%s%.*s\"", at,
                     "abcdefghijklmnopqrstu", stops[k].out, 3, "xyz");
            roundtrip_n(L, name, in, (size_t)n, want);
            /* the same string left open: the scan meets the end */
            must_fail(L, name, in, (size_t)n - 1, "unterminated string");
        }
    }
}

/* Whitespace runs of every length, of spaces and of mixed bytes, and
 * whitespace at the very end of the input. */
static void whitespace_runs(lua_State *L)
{
    char in[256], name[96];

    for (int len = 0; len < 20; len++) {
        int n = snprintf(in, sizeof(in), "{%*s\"a\"%*s:%*s[%*s1%*s,\n\t\r%*s2]"
                         "%*s}%*s", len, "", len, "", len, "", len, "", len,
                         "", len, "", len, "", len, "");

        snprintf(name, sizeof(name), "runs of %d spaces are whitespace", len);
        roundtrip_n(L, name, in, (size_t)n, "{\"a\":[1,2]}");
        n = snprintf(in, sizeof(in), "%*s\t\n%*s", len, "", len, "");
        snprintf(name, sizeof(name), "whitespace alone (%d) is no value", len);
        must_fail(L, name, in, (size_t)n, "expected a value");
    }
}

/* What json.copy refuses, it refuses with the encoder's message (json.raw
 * text, which the encoder writes, aside); a key that is not a string is
 * what is reported of an object, even when a value of another member is
 * refused too. */
static const struct {
    const char *name, *lua, *msg;
    int copy_only;
} copy_refusals[] = {
    {"NaN is not copied", "return {a = {0/0}}", "cannot encode NaN as JSON", 0},
    {"an infinite number is not copied", "return {1, 2, 1/0}",
     "cannot encode an infinite number as JSON", 0},
    {"a function is not copied", "return {a = {b = {c = print}}}",
     "a Lua function cannot be encoded as JSON", 0},
    {"a number key is not copied", "return {a = 1, [1.5] = 2}",
     "object key of type number cannot be encoded (keys must be strings)", 0},
    /* tables built until lua_next meets a refused value before the key */
    {"a bad key is told before a bad value",
     "for i = 1, 200 do\n"
     "  local t = {}\n"
     "  for j = 1, 40 do t['k' .. j] = {f = print} end\n"
     "  t[i + 0.5] = 1\n"
     "  if type(next(t)) == 'string' then return t end\n"
     "end",
     "object key of type number cannot be encoded (keys must be strings)", 0},
    {"a bad key of a wide object is told before a bad value",
     "for i = 1, 200 do\n"
     "  local t = {}\n"
     "  for j = 1, 3000 do t['k' .. j] = j end\n"
     "  t[{}] = 1\n"
     "  local k = next(t)\n"
     "  if type(k) == 'string' then t[k] = {f = print}; return t end\n"
     "end",
     "object key of type table cannot be encoded (keys must be strings)", 0},
    {"json.raw text is not copied", "return {a = json.raw('[]')}",
     "JSON text (json.raw) is not copied", 1},
    {"a table containing itself is not copied",
     "local t = {}\nt.t = t\nreturn t", "nested deeper than 200 levels", 0},
};

static void copy_errors(lua_State *L)
{
    mw_json_open(L);
    lua_setglobal(L, "json");
    for (size_t i = 0; i < sizeof(copy_refusals) / sizeof(copy_refusals[0]);
         i++) {
        mw_err ce = {0}, ee = {0};
        mw_buf b;
        int ok;

        mw_buf_init(&b);
        if (luaL_dostring(L, copy_refusals[i].lua) != 0) {
            printf("# %s: %s\n", copy_refusals[i].name, lua_tostring(L, -1));
            failures++;
            lua_settop(L, 0);
            continue;
        }
        ok = mw_json_copy(L, 1, &ce) < 0 && lua_gettop(L) == 1 &&
             strstr(ce.msg, copy_refusals[i].msg) &&
             (copy_refusals[i].copy_only ||
              (mw_json_encode(L, 1, &b, 0, &ee) < 0 &&
               strstr(ee.msg, copy_refusals[i].msg)));
        if (!ok)
            printf("# %s: copy \"%s\", encode \"%s\"\n",
                   copy_refusals[i].name, ce.msg, ee.msg);
        CHECK(copy_refusals[i].name, ok);
        mw_buf_free(&b);
        lua_settop(L, 0);
    }
}

/* json.encode keeps its output buffer between calls: a large output, an
 * error and a small output after them each come out whole. */
static const struct {
    const char *name, *lua;
} encode_calls[] = {
    {"encode writes small values", "return json.encode({a = 1}) == '{\"a\":1}'"},
    {"encode writes a value past the buffer it keeps",
     "local s = string.rep('x', 200000)\n"
     "return json.encode({s}) == '[\"' .. s .. '\"]'"},
    {"encode writes a small value after a large one",
     "return json.encode({b = json.null}) == '{\"b\":null}'"},
    {"encode reports an error and goes on",
     "local s, err = json.encode({f = print})\n"
     "return s == nil and err:find('function') and json.encode('x') == '\"x\"'"},
    {"encode writes pretty output",
     "return json.encode({a = {1, 2}}, {pretty = true}) == "
     "'{\\n  \"a\": [\\n    1,\\n    2\\n  ]\\n}'"},
    {"encode escapes member names and values alike",
     "return json.encode({['k\"\\0\\n' .. string.rep('y', 9)] = 'v\\1'}) == "
     "'{\"k\\\\\"\\\\u0000\\\\n' .. string.rep('y', 9) .. '\":\"v\\\\u0001\"}'"},
};

static void encode_from_lua(lua_State *L)
{
    mw_json_open(L);
    lua_setglobal(L, "json");
    for (size_t i = 0; i < sizeof(encode_calls) / sizeof(encode_calls[0]);
         i++) {
        int ok = luaL_dostring(L, encode_calls[i].lua) == 0 &&
                 lua_toboolean(L, -1);

        if (!ok)
            printf("# %s: %s\n", encode_calls[i].name, lua_tostring(L, -1));
        CHECK(encode_calls[i].name, ok);
        lua_settop(L, 0);
    }
}

/* Member names with a stop (an escape, a control, UTF-8) at every offset
 * of the words they are scanned in, and names that differ only past a
 * NUL byte or past their first eight bytes, in objects small, large and
 * too large to hold on the stack. */
static void member_names(lua_State *L)
{
    static const int sizes[] = {3, 40, 3000};
    char name[96];
    mw_buf in, want;

    mw_buf_init(&in);
    mw_buf_init(&want);
    for (int at = 0; at < 18; at++) {
        char key[64], out[64];

        snprintf(key, sizeof(key), "%.*s\\t\xC3\xA9%.*s", at,
                 "abcdefghijklmnopqrstu", 2, "yz");
        snprintf(out, sizeof(out), "%.*s\\t\xC3\xA9%.*s", at,
                 "abcdefghijklmnopqrstu", 2, "yz");
        mw_buf_reset(&in);
        mw_buf_printf(&in, "{\"%s\":1}", key);
        mw_buf_reset(&want);
        mw_buf_printf(&want, "{\"%s\":1}", out);
        snprintf(name, sizeof(name), "a name with a stop at offset %d", at);
        roundtrip_n(L, name, in.data, in.len, want.data);
    }
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        int n = sizes[k];

        mw_buf_reset(&in);
        mw_buf_reset(&want);
        for (int i = n - 1; i >= 0; i--)
            mw_buf_printf(&in, "%s\"k\\u0000%05d\":%d,\"k%05d\":%d",
                          i == n - 1 ? "{" : ",", i, i, i, -i);
        mw_buf_adds(&in, ",\"abcdefgh\\u0000\":1,\"abcdefgh\":0}");
        mw_buf_adds(&want, "{\"abcdefgh\":0,\"abcdefgh\\u0000\":1");
        for (int i = 0; i < n; i++)
            mw_buf_printf(&want, ",\"k\\u0000%05d\":%d", i, i);
        for (int i = 0; i < n; i++)
            mw_buf_printf(&want, ",\"k%05d\":%d", i, -i);
        mw_buf_addc(&want, '}');
        snprintf(name, sizeof(name),
                 "%d names with NUL bytes come out in byte order", 2 * n + 2);
        roundtrip_n(L, name, in.data, in.len, want.data);
    }
    mw_buf_free(&in);
    mw_buf_free(&want);
}

/* lookup reads one value by its object keys, as decode would read it. */
static const struct {
    const char *name, *in, *path[3], *want; /* want: kind and value, encoded */
} lookups[] = {
    {"a top-level member", "{\"id\": \"a1\", \"x\": 2}", {"id"},
     "string \"a1\""},
    {"a nested member", "{\"incident\": {\"n\": 12}}", {"incident", "n"},
     "number 12"},
    {"of repeated names the last", "{\"k\": 1, \"k\": 2}", {"k"}, "number 2"},
    {"a name written with escapes", "{\"\\u0069d\": true}", {"id"},
     "boolean true"},
    {"a string with escapes", "{\"s\": \"a\\nb\"}", {"s"},
     "string \"a\\nb\""},
    {"a big number keeps its digits", "{\"n\": 123456789012345678901}", {"n"},
     "number 123456789012345678901"},
    {"null", "{\"z\": null}", {"z"}, "null null"},
    {"an object is named, not read", "{\"o\": {\"a\": [1]}}", {"o"},
     "object"},
    {"an array is named, not read", "{\"o\": [1, 2]}", {"o"}, "array"},
    {"a missing member", "{\"a\": 1}", {"b"}, ""},
    {"a step into a scalar", "{\"a\": 1}", {"a", "b"}, ""},
    {"a step into an array", "[{\"a\": 1}]", {"a"}, ""},
    {"after a byte-order mark", "\xEF\xBB\xBF{\"a\": \"x\"}", {"a"},
     "string \"x\""},
};

static void lookup_cases(lua_State *L)
{
    for (size_t i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
        const char *keys[3];
        size_t lens[3];
        int n = 0;
        mw_err e = {0};
        mw_buf got;
        int rc;

        for (; n < 3 && lookups[i].path[n]; n++) {
            keys[n] = lookups[i].path[n];
            lens[n] = strlen(keys[n]);
        }
        mw_buf_init(&got);
        rc = mw_json_lookup(L, lookups[i].in, strlen(lookups[i].in), keys,
                            lens, n, &e);
        if (rc >= 1)
            mw_buf_adds(&got, lua_tostring(L, 1));
        if (rc == 2) {
            mw_buf_addc(&got, ' ');
            mw_json_encode(L, 2, &got, 0, &e);
        }
        if (rc < 0 || strcmp(got.data ? got.data : "", lookups[i].want) != 0)
            printf("# %s: rc=%d got %s (%s)\n", lookups[i].name, rc,
                   got.data ? got.data : "", e.msg);
        CHECK(lookups[i].name, rc >= 0 && lua_gettop(L) == rc &&
                                   strcmp(got.data ? got.data : "",
                                          lookups[i].want) == 0);
        mw_buf_free(&got);
        lua_settop(L, 0);
    }
}

static void lookup_errors(lua_State *L)
{
    const char *key = "a";
    size_t len = 1;
    mw_err e = {0};

    CHECK("lookup reports a syntax error it meets, pushing nothing",
          mw_json_lookup(L, "{\"a\": tru", 10, &key, &len, 1, &e) < 0 &&
              strstr(e.msg, "line 1") && lua_gettop(L) == 0);
    lua_settop(L, 0);
}

/* json.raw text is written as it is, wherever it sits. */
static void raw_text(lua_State *L)
{
    mw_err e = {0};
    mw_buf b;

    mw_buf_init(&b);
    lua_getfield(L, 1, "raw");
    lua_newtable(L);
    lua_pushvalue(L, 2);
    lua_pushliteral(L, "{\"b\":[1,2]}");
    lua_call(L, 1, 1);
    lua_setfield(L, -2, "a");
    CHECK("raw JSON text is spliced unchanged",
          mw_json_encode(L, -1, &b, 0, &e) == 0 &&
              strcmp(b.data, "{\"a\":{\"b\":[1,2]}}") == 0);
    lua_settop(L, 1);
    mw_buf_free(&b);
}

int main(void)
{
    lua_State *L = luaL_newstate();

    luaL_openlibs(L);
    mw_json_open(L);
    lua_settop(L, 0);
    lookup_cases(L);
    lookup_errors(L);
    mw_json_open(L); /* raw_text calls json.raw from slot 1 */
    raw_text(L);
    lua_settop(L, 0);
    for (size_t i = 0; i < sizeof(trips) / sizeof(trips[0]); i++)
        roundtrip(L, trips[i].name, trips[i].in, trips[i].want);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        must_fail(L, bad[i].name, bad[i].in, strlen(bad[i].in), bad[i].part);
    deep_nesting(L);
    encode_errors(L);
    negative_zero(L);
    wide_objects(L);
    wide_containers(L);
    repeated_names(L);
    deep_and_wide(L);
    string_offsets(L);
    whitespace_runs(L);
    copy_errors(L);
    encode_from_lua(L);
    member_names(L);
    lua_close(L);
    printf("%d failed\n", failures);
    return failures ? 1 : 0;
}
