/* SPDX-License-Identifier: MIT */
/* The JSON codec of the Lua boundary: a one-pass decoder that builds Lua
 * values on the stack and an encoder that walks them. Number text and UTF-8
 * rules live here; what a value means is left to the Lua runtime. */
#include "json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

/* Addresses used as unique registry keys. */
static char array_mt_key;
static char bignum_mt_key;

#define MAX_SAFE_INT 9007199254740992.0 /* 2^53 */

typedef struct dec {
    lua_State *L;
    const unsigned char *p;
    const unsigned char *start;
    const unsigned char *end;
    mw_err *e;
    int depth;
    int hint; /* members of the last object read: a size for the next */
} dec;

/* ---- UTF-8 -------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static int add_utf8(mw_buf *b, uint32_t cp)
{
    char t[4];
    size_t n;

    if (cp < 0x80) {
        t[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        t[0] = (char)(0xC0 | (cp >> 6));
        t[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12));
        t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        t[0] = (char)(0xF0 | (cp >> 18));
        t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return mw_buf_add(b, t, n);
}

#define REPLACEMENT "\xEF\xBF\xBD"

/* ---- decoding ------------------------------------------------------------ */

static void position(dec *d, const unsigned char *at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const unsigned char *q = d->start; q < at; q++) {
        if (*q == '\n') {
            (*line)++;
            *col = 1;
        } else if ((*q & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

static int fail(dec *d, const unsigned char *at, const char *what)
{
    int line, col;

    position(d, at, &line, &col);
    if (at >= d->end)
        mw_err_set(d->e, "E_JSON", "%s: unexpected end of input at line %d, "
                   "column %d", what, line, col);
    else if (*at >= 0x20 && *at < 0x7F)
        mw_err_set(d->e, "E_JSON", "%s: unexpected '%c' at line %d, "
                   "column %d (byte %zu)", what, *at, line, col,
                   (size_t)(at - d->start));
    else
        mw_err_set(d->e, "E_JSON", "%s: unexpected byte 0x%02X at line %d, "
                   "column %d (byte %zu)", what, *at, line, col,
                   (size_t)(at - d->start));
    return -1;
}

static void skip_ws(dec *d)
{
    const unsigned char *p = d->p;

    while (p < d->end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    d->p = p;
}

static int hex4(const unsigned char *p, uint32_t *out)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Decodes one \u escape (p at the 'u'), joining surrogate pairs; a lone
 * surrogate becomes U+FFFD. Advances d->p past what it used. */
static int unicode_escape(dec *d, mw_buf *b)
{
    uint32_t cp, lo;

    if (d->end - d->p < 5 || hex4(d->p + 1, &cp) < 0)
        return fail(d, d->p, "invalid \\u escape");
    d->p += 5;
    if (cp >= 0xD800 && cp <= 0xDBFF && d->end - d->p >= 6 &&
        d->p[0] == '\\' && d->p[1] == 'u' && hex4(d->p + 2, &lo) == 0 &&
        lo >= 0xDC00 && lo <= 0xDFFF) {
        d->p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
        return mw_buf_adds(b, REPLACEMENT);
    }
    return add_utf8(b, cp);
}

static int string_escape(dec *d, mw_buf *b)
{
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    const char *hit;

    d->p++; /* the backslash */
    if (d->p >= d->end)
        return fail(d, d->p, "unterminated string");
    if (*d->p == 'u')
        return unicode_escape(d, b);
    hit = *d->p ? strchr(from, *d->p) : NULL;
    if (!hit)
        return fail(d, d->p, "invalid escape in string");
    d->p++;
    return mw_buf_addc(b, to[hit - from]);
}

/* Reads a string (d->p at the opening quote) into b. Invalid UTF-8 is
 * replaced with U+FFFD, so what Lua sees is always valid UTF-8. */
static int read_string(dec *d, mw_buf *b)
{
    const unsigned char *open = d->p;

    mw_buf_reset(b);
    d->p++;
    for (;;) {
        const unsigned char *run = d->p;
        size_t n;

        while (d->p < d->end && *d->p >= 0x20 && *d->p < 0x80 &&
               *d->p != '"' && *d->p != '\\')
            d->p++;
        if (d->p > run && mw_buf_add(b, run, (size_t)(d->p - run)) < 0)
            return fail(d, run, "out of memory");
        if (d->p >= d->end)
            return fail(d, open, "unterminated string");
        if (*d->p == '"') {
            d->p++;
            return 0;
        }
        if (*d->p == '\\') {
            if (string_escape(d, b) < 0)
                return -1;
            continue;
        }
        if (*d->p < 0x20)
            return fail(d, d->p, "control character in string");
        n = utf8_len(d->p, (size_t)(d->end - d->p));
        if (n == 0) {
            mw_buf_adds(b, REPLACEMENT);
            d->p++;
        } else {
            mw_buf_add(b, d->p, n);
            d->p += n;
        }
    }
}

static void push_bignum(lua_State *L, const char *s, size_t n)
{
    lua_createtable(L, 1, 0);
    lua_pushlstring(L, s, n);
    lua_rawseti(L, -2, 1);
    lua_pushlightuserdata(L, &bignum_mt_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setmetatable(L, -2);
}

/* Scans the text of a number (d->p at its first byte) and leaves d->p
 * after it. *integral is set when it has no fraction and no exponent. */
static int scan_number(dec *d, int *integral)
{
    *integral = 1;
    if (d->p < d->end && *d->p == '-')
        d->p++;
    if (d->p >= d->end || *d->p < '0' || *d->p > '9')
        return fail(d, d->p, "invalid number");
    if (*d->p == '0' && d->p + 1 < d->end && d->p[1] >= '0' && d->p[1] <= '9')
        return fail(d, d->p + 1, "leading zero in number");
    while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
        d->p++;
    if (d->p < d->end && *d->p == '.') {
        *integral = 0;
        d->p++;
        if (d->p >= d->end || *d->p < '0' || *d->p > '9')
            return fail(d, d->p, "invalid number");
        while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
            d->p++;
    }
    if (d->p < d->end && (*d->p == 'e' || *d->p == 'E')) {
        *integral = 0;
        d->p++;
        if (d->p < d->end && (*d->p == '+' || *d->p == '-'))
            d->p++;
        if (d->p >= d->end || *d->p < '0' || *d->p > '9')
            return fail(d, d->p, "invalid number");
        while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
            d->p++;
    }
    return 0;
}

/* Longest number text read as a double; longer integers become big
 * numbers and longer fractions are refused. */
#define NUMBER_MAX 63

static int read_number(dec *d)
{
    const unsigned char *s = d->p;
    int integral;
    char tmp[NUMBER_MAX + 1];
    double v;
    size_t n;

    if (scan_number(d, &integral) < 0)
        return -1;
    n = (size_t)(d->p - s);
    if (n > NUMBER_MAX) {
        if (!integral)
            return fail(d, s, "number too long");
        push_bignum(d->L, (const char *)s, n);
        return 0;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    v = strtod(tmp, NULL);
    if (!isfinite(v))
        return fail(d, s, "number out of range");
    if (integral && fabs(v) > MAX_SAFE_INT)
        push_bignum(d->L, tmp, n);
    else
        lua_pushnumber(d->L, v);
    return 0;
}

static int literal(dec *d, const char *word, size_t n)
{
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
        return fail(d, d->p, "invalid literal");
    d->p += n;
    return 0;
}

static int read_value(dec *d, mw_buf *sb);

static int read_array(dec *d, mw_buf *sb)
{
    int i = 0, hint = 0;

    lua_newtable(d->L);
    mw_json_mark_array(d->L, -1);
    d->p++;
    skip_ws(d);
    if (d->p < d->end && *d->p == ']') {
        d->p++;
        return 0;
    }
    for (;;) {
        d->hint = hint;
        if (read_value(d, sb) < 0)
            return -1;
        hint = d->hint;
        lua_rawseti(d->L, -2, ++i);
        skip_ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == ']') {
            d->p++;
            return 0;
        }
        return fail(d, d->p, "expected ',' or ']' in array");
    }
}

/* Objects in an array mostly share a shape, so each is created with room
 * for as many members as the object before it (d->hint, capped so that a
 * large object cannot make its small neighbours large) and sets the hint
 * to its own count when done. */
#define HINT_MAX 64

static int read_object(dec *d, mw_buf *sb)
{
    int members = 0;

    lua_createtable(d->L, 0, d->hint < HINT_MAX ? d->hint : HINT_MAX);
    d->hint = 0;
    d->p++;
    skip_ws(d);
    if (d->p < d->end && *d->p == '}') {
        d->p++;
        return 0;
    }
    for (;;) {
        members++;
        skip_ws(d);
        if (d->p >= d->end || *d->p != '"')
            return fail(d, d->p, "expected a string key in object");
        if (read_string(d, sb) < 0)
            return -1;
        lua_pushlstring(d->L, sb->data ? sb->data : "", sb->len);
        skip_ws(d);
        if (d->p >= d->end || *d->p != ':')
            return fail(d, d->p, "expected ':' after object key");
        d->p++;
        d->hint = 0;
        if (read_value(d, sb) < 0)
            return -1;
        lua_rawset(d->L, -3);
        skip_ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == '}') {
            d->p++;
            d->hint = members;
            return 0;
        }
        return fail(d, d->p, "expected ',' or '}' in object");
    }
}

static int read_value(dec *d, mw_buf *sb)
{
    int rc;

    skip_ws(d);
    if (d->p >= d->end)
        return fail(d, d->p, "expected a value");
    if (!lua_checkstack(d->L, 4))
        return fail(d, d->p, "out of Lua stack");
    switch (*d->p) {
    case '{':
    case '[':
        if (++d->depth > MW_JSON_MAX_DEPTH)
            return fail(d, d->p, "nesting deeper than 200 levels");
        rc = *d->p == '{' ? read_object(d, sb) : read_array(d, sb);
        d->depth--;
        return rc;
    case '"':
        if (read_string(d, sb) < 0)
            return -1;
        lua_pushlstring(d->L, sb->data ? sb->data : "", sb->len);
        return 0;
    case 't':
        rc = literal(d, "true", 4);
        if (rc == 0)
            lua_pushboolean(d->L, 1);
        return rc;
    case 'f':
        rc = literal(d, "false", 5);
        if (rc == 0)
            lua_pushboolean(d->L, 0);
        return rc;
    case 'n':
        rc = literal(d, "null", 4);
        if (rc == 0)
            mw_json_push_null(d->L);
        return rc;
    default:
        return read_number(d);
    }
}

int mw_json_decode(lua_State *L, const char *s, size_t n, mw_err *e)
{
    dec d = {L, (const unsigned char *)s, (const unsigned char *)s,
             (const unsigned char *)s + n, e, 0, 0};
    int top = lua_gettop(L);
    mw_buf sb;
    int rc;

    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        d.p += 3;
    mw_buf_init(&sb);
    rc = read_value(&d, &sb);
    if (rc == 0) {
        skip_ws(&d);
        if (d.p < d.end)
            rc = fail(&d, d.p, "trailing text after the JSON value");
    }
    mw_buf_free(&sb);
    if (rc < 0)
        lua_settop(L, top);
    return rc;
}

/* ---- validating ---------------------------------------------------------- */

/* The checker below accepts exactly what the decoder accepts, with the
 * same messages, but builds nothing: templates use it to check output
 * whose value nobody reads. */

static int skip_escape(dec *d)
{
    uint32_t cp;

    d->p++; /* the backslash */
    if (d->p >= d->end)
        return fail(d, d->p, "unterminated string");
    if (*d->p == 'u') {
        if (d->end - d->p < 5 || hex4(d->p + 1, &cp) < 0)
            return fail(d, d->p, "invalid \\u escape");
        d->p += 5;
        return 0;
    }
    if (!*d->p || !strchr("\"\\/bfnrt", *d->p))
        return fail(d, d->p, "invalid escape in string");
    d->p++;
    return 0;
}

/* Invalid UTF-8 passes: the decoder reads it as U+FFFD. */
/* Bytes that end a run of plain string text: controls, '"' and '\\'. */
static const unsigned char string_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    [(unsigned char)'"'] = 1, [(unsigned char)'\\'] = 1};

static int skip_string(dec *d)
{
    const unsigned char *open = d->p;
    const unsigned char *p = open + 1;

    for (;;) {
        while (p < d->end && !string_stop[*p])
            p++;
        d->p = p;
        if (p >= d->end)
            return fail(d, open, "unterminated string");
        if (*p == '"') {
            d->p = p + 1;
            return 0;
        }
        if (*p < 0x20)
            return fail(d, p, "control character in string");
        if (skip_escape(d) < 0)
            return -1;
        p = d->p;
    }
}

static int check_number(dec *d)
{
    const unsigned char *s = d->p;
    int integral;

    if (scan_number(d, &integral) < 0)
        return -1;
    if (!integral && (size_t)(d->p - s) > NUMBER_MAX)
        return fail(d, s, "number too long");
    return 0;
}

static int check_value(dec *d);

/* A member name and its colon (d->p before the name). */
static int check_key(dec *d)
{
    skip_ws(d);
    if (d->p >= d->end || *d->p != '"')
        return fail(d, d->p, "expected a string key in object");
    if (skip_string(d) < 0)
        return -1;
    skip_ws(d);
    if (d->p >= d->end || *d->p != ':')
        return fail(d, d->p, "expected ':' after object key");
    d->p++;
    return 0;
}

/* An array or an object (d->p at its bracket), members and all. */
static int check_members(dec *d)
{
    int object = *d->p == '{';
    unsigned char close = object ? '}' : ']';

    d->p++;
    skip_ws(d);
    if (d->p < d->end && *d->p == close) {
        d->p++;
        return 0;
    }
    for (;;) {
        if ((object && check_key(d) < 0) || check_value(d) < 0)
            return -1;
        skip_ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == close) {
            d->p++;
            return 0;
        }
        return fail(d, d->p, object ? "expected ',' or '}' in object" :
                    "expected ',' or ']' in array");
    }
}

static int check_value(dec *d)
{
    int rc;

    skip_ws(d);
    if (d->p >= d->end)
        return fail(d, d->p, "expected a value");
    switch (*d->p) {
    case '{':
    case '[':
        if (++d->depth > MW_JSON_MAX_DEPTH)
            return fail(d, d->p, "nesting deeper than 200 levels");
        rc = check_members(d);
        d->depth--;
        return rc;
    case '"':
        return skip_string(d);
    case 't':
        return literal(d, "true", 4);
    case 'f':
        return literal(d, "false", 5);
    case 'n':
        return literal(d, "null", 4);
    default:
        return check_number(d);
    }
}

int mw_json_validate(const char *s, size_t n, mw_err *e)
{
    dec d = {NULL, (const unsigned char *)s, (const unsigned char *)s,
             (const unsigned char *)s + n, e, 0, 0};

    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        d.p += 3;
    if (check_value(&d) < 0)
        return -1;
    skip_ws(&d);
    if (d.p < d.end)
        return fail(&d, d.p, "trailing text after the JSON value");
    return 0;
}

/* ---- encoding ------------------------------------------------------------ */

int mw_json_escape(mw_buf *out, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < n) {
        size_t run = i;
        size_t len;

        while (i < n && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' &&
               s[i] != '\\')
            i++;
        if (i > run && mw_buf_add(out, s + run, i - run) < 0)
            return -1;
        if (i >= n)
            break;
        if (s[i] == '"' || s[i] == '\\') {
            char esc[2] = {'\\', (char)s[i]};
            if (mw_buf_add(out, esc, 2) < 0)
                return -1;
            i++;
            continue;
        }
        if (s[i] < 0x20) {
            const char *named = s[i] == '\n' ? "\\n" : s[i] == '\r' ? "\\r" :
                                s[i] == '\t' ? "\\t" : s[i] == '\b' ? "\\b" :
                                s[i] == '\f' ? "\\f" : NULL;
            char u[6] = {'\\', 'u', '0', '0', hex[s[i] >> 4], hex[s[i] & 15]};
            if ((named ? mw_buf_add(out, named, 2) : mw_buf_add(out, u, 6)) < 0)
                return -1;
            i++;
            continue;
        }
        len = utf8_len(s + i, n - i);
        if (len == 0) {
            if (mw_buf_adds(out, REPLACEMENT) < 0)
                return -1;
            i++;
        } else if (len == 3 && s[i] == 0xE2 && s[i + 1] == 0x80 &&
                   (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
            if (mw_buf_adds(out, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029") < 0)
                return -1;
            i += 3;
        } else {
            if (mw_buf_add(out, s + i, len) < 0)
                return -1;
            i += len;
        }
    }
    return 0;
}

/* Writes a double the shortest way that reads back to the same value. */
static int add_number(mw_buf *out, double v, mw_err *e)
{
    char tmp[40];

    if (!isfinite(v)) {
        mw_err_set(e, "E_JSON", "cannot encode %s as JSON",
                   isnan(v) ? "NaN" : "an infinite number");
        return -1;
    }
    if (v == floor(v) && fabs(v) <= MAX_SAFE_INT) {
        /* Integers are most numbers in payloads: digits by hand, no
         * printf. */
        long long n = (long long)v;
        unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n
                                     : (unsigned long long)n;
        char *p = tmp + sizeof(tmp);

        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (n < 0)
            *--p = '-';
        return mw_buf_add(out, p, (size_t)(tmp + sizeof(tmp) - p));
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    return mw_buf_adds(out, tmp);
}

typedef struct enc {
    lua_State *L;
    mw_buf *out;
    int flags;
    mw_err *e;
    int depth;
} enc;

static int encode_value(enc *c, int idx);

static int newline(enc *c)
{
    if (!(c->flags & MW_JSON_PRETTY))
        return 0;
    if (mw_buf_addc(c->out, '\n') < 0)
        return -1;
    for (int i = 0; i < c->depth; i++)
        if (mw_buf_add(c->out, "  ", 2) < 0)
            return -1;
    return 0;
}

static int has_mark(lua_State *L, int idx, void *key)
{
    int yes;

    if (!lua_getmetatable(L, idx))
        return 0;
    lua_pushlightuserdata(L, key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

/* A plain table is written as an array when its keys are exactly 1..n
 * with n > 0, so node code may build lists without marking them. */
static int looks_like_array(lua_State *L, int idx, size_t *len)
{
    size_t n = lua_objlen(L, idx);
    size_t count = 0;

    if (n == 0)
        return 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 1);
            return 0;
        }
    }
    *len = n;
    return count == n;
}

static int encode_array(enc *c, int idx, size_t n)
{
    if (mw_buf_addc(c->out, '[') < 0)
        return -1;
    c->depth++;
    for (size_t i = 1; i <= n; i++) {
        if (i > 1 && mw_buf_addc(c->out, ',') < 0)
            return -1;
        if (newline(c) < 0)
            return -1;
        lua_rawgeti(c->L, idx, (int)i);
        if (encode_value(c, lua_gettop(c->L)) < 0)
            return -1;
        lua_pop(c->L, 1);
    }
    c->depth--;
    if (n > 0 && newline(c) < 0)
        return -1;
    return mw_buf_addc(c->out, ']');
}

/* An object key: Lua strings may hold NUL bytes, so keys keep lengths. */
typedef struct key {
    const char *s;
    size_t n;
} key;

static int cmp_keys(const void *a, const void *b)
{
    const key *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);

    if (c != 0)
        return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

/* Collects the string keys of the table at idx, sorted. Leaves no stack
 * change; the strings stay alive because the table holds them. */
static key *sorted_keys(enc *c, int idx, size_t *count)
{
    size_t n = 0, cap = 8;
    key *keys = malloc(cap * sizeof(*keys));

    if (!keys)
        return NULL;
    lua_pushnil(c->L);
    while (lua_next(c->L, idx)) {
        lua_pop(c->L, 1);
        if (lua_type(c->L, -1) != LUA_TSTRING) {
            mw_err_set(c->e, "E_JSON", "object key of type %s cannot be "
                       "encoded (keys must be strings)",
                       luaL_typename(c->L, -1));
            lua_pop(c->L, 1);
            free(keys);
            return NULL;
        }
        if (n == cap) {
            key *grown = realloc(keys, 2 * cap * sizeof(*keys));
            if (!grown) {
                lua_pop(c->L, 1);
                free(keys);
                return NULL;
            }
            keys = grown;
            cap *= 2;
        }
        keys[n].s = lua_tolstring(c->L, -1, &keys[n].n);
        n++;
    }
    qsort(keys, n, sizeof(*keys), cmp_keys);
    *count = n;
    return keys;
}

static int encode_object(enc *c, int idx)
{
    size_t n = 0;
    key *keys = sorted_keys(c, idx, &n);
    int rc = -1;

    if (!keys)
        return -1;
    if (mw_buf_addc(c->out, '{') < 0)
        goto out;
    c->depth++;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && mw_buf_addc(c->out, ',') < 0)
            goto out;
        if (newline(c) < 0 || mw_buf_addc(c->out, '"') < 0 ||
            mw_json_escape(c->out, keys[i].s, keys[i].n) < 0 ||
            mw_buf_adds(c->out, (c->flags & MW_JSON_PRETTY) ? "\": " : "\":") < 0)
            goto out;
        lua_pushlstring(c->L, keys[i].s, keys[i].n);
        lua_rawget(c->L, idx);
        if (encode_value(c, lua_gettop(c->L)) < 0)
            goto out;
        lua_pop(c->L, 1);
    }
    c->depth--;
    if (n > 0 && newline(c) < 0)
        goto out;
    rc = mw_buf_addc(c->out, '}');
out:
    free(keys);
    return rc;
}

static int encode_table(enc *c, int idx)
{
    size_t n = 0;

    if (c->depth >= MW_JSON_MAX_DEPTH) {
        mw_err_set(c->e, "E_JSON", "value nested deeper than %d levels "
                   "(or a table that contains itself)", MW_JSON_MAX_DEPTH);
        return -1;
    }
    if (!lua_checkstack(c->L, 8)) {
        mw_err_set(c->e, "E_JSON", "out of Lua stack while encoding");
        return -1;
    }
    if (has_mark(c->L, idx, &bignum_mt_key)) {
        lua_rawgeti(c->L, idx, 1);
        n = 0;
        const char *digits = lua_tolstring(c->L, -1, &n);
        int rc = digits ? mw_buf_add(c->out, digits, n) : -1;
        lua_pop(c->L, 1);
        return rc;
    }
    if (has_mark(c->L, idx, &array_mt_key))
        return encode_array(c, idx, lua_objlen(c->L, idx));
    if (looks_like_array(c->L, idx, &n))
        return encode_array(c, idx, n);
    return encode_object(c, idx);
}

static int encode_value(enc *c, int idx)
{
    size_t n;
    const char *s;

    switch (lua_type(c->L, idx)) {
    case LUA_TNIL:
        return mw_buf_add(c->out, "null", 4);
    case LUA_TLIGHTUSERDATA:
        if (mw_json_is_null(c->L, idx))
            return mw_buf_add(c->out, "null", 4);
        break;
    case LUA_TBOOLEAN:
        return mw_buf_adds(c->out, lua_toboolean(c->L, idx) ? "true" : "false");
    case LUA_TNUMBER:
        return add_number(c->out, lua_tonumber(c->L, idx), c->e);
    case LUA_TSTRING:
        s = lua_tolstring(c->L, idx, &n);
        if (mw_buf_addc(c->out, '"') < 0 || mw_json_escape(c->out, s, n) < 0)
            return -1;
        return mw_buf_addc(c->out, '"');
    case LUA_TTABLE:
        return encode_table(c, idx);
    default:
        break;
    }
    mw_err_set(c->e, "E_JSON", "a Lua %s cannot be encoded as JSON",
               luaL_typename(c->L, idx));
    return -1;
}

int mw_json_encode(lua_State *L, int idx, mw_buf *out, int flags, mw_err *e)
{
    enc c = {L, out, flags, e, 0};
    int top = lua_gettop(L);
    int rc;

    if (idx < 0)
        idx = top + idx + 1;
    rc = encode_value(&c, idx);
    lua_settop(L, top);
    if (rc < 0 && e && !e->code)
        mw_err_set(e, "E_NOMEM", "out of memory while encoding JSON");
    return rc;
}

/* ---- the Lua module ------------------------------------------------------ */

void mw_json_push_null(lua_State *L)
{
    lua_pushlightuserdata(L, NULL);
}

int mw_json_is_null(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA &&
           lua_touserdata(L, idx) == NULL;
}

void mw_json_mark_array(lua_State *L, int idx)
{
    if (idx < 0)
        idx = lua_gettop(L) + idx + 1;
    lua_pushlightuserdata(L, &array_mt_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setmetatable(L, idx);
}

static int l_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    mw_err e = {0};

    if (mw_json_decode(L, s, n, &e) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    return 1;
}

/* validate(text) -> true | nil, message (the decoder's message). */
static int l_validate(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    mw_err e = {0};

    if (mw_json_validate(s, n, &e) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_encode(lua_State *L)
{
    int flags = 0;
    mw_err e = {0};
    mw_buf b;

    luaL_checkany(L, 1);
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "pretty");
        if (lua_toboolean(L, -1))
            flags |= MW_JSON_PRETTY;
        lua_pop(L, 1);
    }
    mw_buf_init(&b);
    if (mw_json_encode(L, 1, &b, flags, &e) < 0) {
        mw_buf_free(&b);
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    lua_pushlstring(L, b.data ? b.data : "", b.len);
    mw_buf_free(&b);
    return 1;
}

static int l_escape(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    mw_buf b;

    mw_buf_init(&b);
    if (mw_json_escape(&b, s, n) < 0) {
        mw_buf_free(&b);
        return luaL_error(L, "out of memory");
    }
    lua_pushlstring(L, b.data ? b.data : "", b.len);
    mw_buf_free(&b);
    return 1;
}

static int l_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1))
        lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    mw_json_mark_array(L, 1);
    return 1;
}

static int l_is_array(lua_State *L)
{
    lua_pushboolean(L, lua_istable(L, 1) && has_mark(L, 1, &array_mt_key));
    return 1;
}

static int l_is_bignum(lua_State *L)
{
    lua_pushboolean(L, lua_istable(L, 1) && has_mark(L, 1, &bignum_mt_key));
    return 1;
}

static int l_bignum(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);

    push_bignum(L, s, n);
    return 1;
}

static int bignum_tostring(lua_State *L)
{
    lua_rawgeti(L, 1, 1);
    return 1;
}

static int bignum_eq(lua_State *L)
{
    lua_rawgeti(L, 1, 1);
    lua_rawgeti(L, 2, 1);
    lua_pushboolean(L, lua_rawequal(L, -1, -2));
    return 1;
}

static int bignum_concat(lua_State *L)
{
    for (int i = 1; i <= 2; i++) {
        if (lua_istable(L, i)) {
            lua_rawgeti(L, i, 1);
            lua_replace(L, i);
        }
    }
    lua_concat(L, 2);
    return 1;
}

int mw_json_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"decode", l_decode},   {"encode", l_encode},
        {"validate", l_validate},
        {"escape", l_escape},   {"array", l_array},
        {"is_array", l_is_array}, {"is_bignum", l_is_bignum},
        {"bignum", l_bignum},   {NULL, NULL}};

    lua_pushlightuserdata(L, &array_mt_key);
    lua_newtable(L);
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__name");
    lua_rawset(L, LUA_REGISTRYINDEX);

    lua_pushlightuserdata(L, &bignum_mt_key);
    lua_newtable(L);
    lua_pushcfunction(L, bignum_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, bignum_eq);
    lua_setfield(L, -2, "__eq");
    lua_pushcfunction(L, bignum_concat);
    lua_setfield(L, -2, "__concat");
    lua_pushliteral(L, "bignum");
    lua_setfield(L, -2, "__name");
    lua_rawset(L, LUA_REGISTRYINDEX);

    lua_newtable(L);
    luaL_register(L, NULL, fns);
    mw_json_push_null(L);
    lua_setfield(L, -2, "null");
    lua_pushlightuserdata(L, &array_mt_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setfield(L, -2, "array_mt");
    lua_pushlightuserdata(L, &bignum_mt_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setfield(L, -2, "bignum_mt");
    return 1;
}
