/* SPDX-License-Identifier: MIT */
/* The JSON codec of the Lua boundary: a one-pass decoder that builds Lua
 * values on the stack and an encoder that walks them. Number text and UTF-8
 * rules live here; what a value means is left to the Lua runtime. */
#include "json.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

/* Addresses used as unique registry keys. */
static char array_mt_key;
static char bignum_mt_key;
static char raw_mt_key;

#define MAX_SAFE_INT 9007199254740992.0 /* 2^53 */

/* Stack slots that members may hold, summed over the containers being
 * decoded, or the objects being written. LuaJIT gives a C call 8000
 * slots; nesting to MW_JSON_MAX_DEPTH needs a few hundred beside these. */
#define HELD_MAX 2048

typedef struct dec {
    lua_State *L;
    const unsigned char *p;
    const unsigned char *start;
    const unsigned char *end;
    mw_err *e;
    int depth;
    int max_depth; /* validate's bound; decode's is MW_JSON_MAX_DEPTH */
    int held; /* stack slots holding members not yet in their table */
    int array_mt; /* stack slots of the marker metatables, fetched once */
    int bignum_mt;
} dec;

/* Pushes the metatable registered under key (nil before mw_json_open). */
static void push_mt(lua_State *L, void *key)
{
    lua_pushlightuserdata(L, key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

/* mw_buf_add for the few bytes the codec writes at a time, inline: there
 * is nearly always room, so the call into buf.c is the rare case. Keeps
 * the buffer NUL-terminated, as mw_buf promises. */
static inline int put(mw_buf *b, const void *p, size_t n)
{
    if (n >= b->cap - b->len)
        return mw_buf_add(b, p, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static inline int put_char(mw_buf *b, char c)
{
    return put(b, &c, 1);
}

/* Bytes that end a run of string text copied as it is, both ways: controls,
 * '"', '\\', and bytes >= 0x80 (UTF-8, checked a sequence at a time). */
static const unsigned char text_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    [(unsigned char)'"'] = 1, [(unsigned char)'\\'] = 1,
    [0x80] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

/* The same without the bytes >= 0x80, for the validator: invalid UTF-8
 * passes there, as the decoder reads it as U+FFFD. */
static const unsigned char string_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    [(unsigned char)'"'] = 1, [(unsigned char)'\\'] = 1};

/* Word-at-a-time scanning (little-endian hosts): eight bytes are tested
 * at once for the bytes the tables above stop at. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WORD_SCAN 1
#define BYTES(c) (0x0101010101010101ULL * (c))

static inline uint64_t load_word(const unsigned char *p)
{
    uint64_t w;

    memcpy(&w, p, sizeof(w));
    return w;
}

/* High bit set in each byte of w that is below 0x20, '"' or '\\', and,
 * with high = BYTES(0x80), in each byte >= 0x80. A byte can be flagged
 * wrongly only above one that is flagged rightly (a borrow), so the
 * lowest flagged byte is always the first stop. */
static inline uint64_t stops_in(uint64_t w, uint64_t high)
{
    uint64_t q = w ^ BYTES('"'), b = w ^ BYTES('\\');
    uint64_t t = ((w - BYTES(0x20)) & ~w) | ((q - BYTES(1)) & ~q) |
                 ((b - BYTES(1)) & ~b);

    return (t | (w & high)) & BYTES(0x80);
}
#endif

/* The first byte at or after p that stop[] (text_stop or string_stop,
 * high being BYTES(0x80) or 0 to match) stops at, or end. */
static inline const unsigned char *
scan_text(const unsigned char *p, const unsigned char *end,
          const unsigned char *stop, uint64_t high)
{
#ifdef WORD_SCAN
    uint64_t t;

    if (end - p >= 8) {
        for (; end - p >= 8; p += 8) {
            t = stops_in(load_word(p), high);
            if (t)
                return p + __builtin_ctzll(t) / 8;
        }
        if (p == end)
            return end;
        /* The last word, overlapping bytes already passed: no stop among
         * those, and none flagged wrongly below a real one. */
        t = stops_in(load_word(end - 8), high);
        return t ? end - 8 + __builtin_ctzll(t) / 8 : end;
    }
#else
    (void)high;
#endif
    while (p < end && !stop[*p])
        p++;
    return p;
}

#ifdef WORD_SCAN
#define TEXT_HIGH BYTES(0x80)
#else
#define TEXT_HIGH 0
#endif

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
    return put(b, t, n);
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

/* JSON's whitespace. */
static const unsigned char ws_byte[256] = {
    [(unsigned char)' '] = 1, [(unsigned char)'\t'] = 1,
    [(unsigned char)'\n'] = 1, [(unsigned char)'\r'] = 1};

/* Moves d->p past whitespace. In indented text most of it is a newline
 * and a run of spaces, so after each whitespace byte the spaces that
 * follow are skipped eight at a time. */
static inline void skip_ws(dec *d)
{
    const unsigned char *p = d->p, *end = d->end;

    while (p < end && ws_byte[*p]) {
        p++;
#ifdef WORD_SCAN
        if (end - p >= 8) {
            uint64_t x = load_word(p) ^ BYTES(' ');

            p += x ? __builtin_ctzll(x) / 8 : 8;
        }
#endif
    }
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
        return put(b, REPLACEMENT, 3);
    }
    return add_utf8(b, cp);
}

static int string_escape(dec *d, mw_buf *b)
{
    char c;

    d->p++; /* the backslash */
    if (d->p >= d->end)
        return fail(d, d->p, "unterminated string");
    switch (*d->p) {
    case '"':
    case '\\':
    case '/':
        c = (char)*d->p;
        break;
    case 'b':
        c = '\b';
        break;
    case 'f':
        c = '\f';
        break;
    case 'n':
        c = '\n';
        break;
    case 'r':
        c = '\r';
        break;
    case 't':
        c = '\t';
        break;
    case 'u':
        return unicode_escape(d, b);
    default:
        return fail(d, d->p, "invalid escape in string");
    }
    d->p++;
    return put_char(b, c);
}

/* Skips string text that stays as it is: ASCII other than controls, '"'
 * and '\\', and valid UTF-8 sequences. Returns where it stopped. */
static const unsigned char *skip_plain(const unsigned char *p,
                                       const unsigned char *end)
{
    for (;;) {
        size_t n;

        p = scan_text(p, end, text_stop, TEXT_HIGH);
        if (p >= end || *p < 0x80)
            return p;
        n = utf8_len(p, (size_t)(end - p));
        if (n == 0)
            return p;
        p += n;
    }
}

/* Builds in b the text of a string that must be rewritten (escapes,
 * invalid UTF-8, or an error): d->p is at the opening quote, stop where
 * its plain text ends. Leaves d->p after the closing quote. */
static int unescape_string(dec *d, mw_buf *b, const unsigned char *stop)
{
    const unsigned char *open = d->p;
    const unsigned char *run = open + 1;

    mw_buf_reset(b);
    d->p = stop;
    for (;;) {
        d->p = skip_plain(d->p, d->end);
        if (d->p > run && put(b, run, (size_t)(d->p - run)) < 0)
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
        } else if (*d->p < 0x20) {
            return fail(d, d->p, "control character in string");
        } else {
            /* A byte that does not start valid UTF-8. */
            put(b, REPLACEMENT, 3);
            d->p++;
        }
        run = d->p;
    }
}

static int read_rewritten_string(dec *d, mw_buf *b, const unsigned char *stop)
{
    if (unescape_string(d, b, stop) < 0)
        return -1;
    lua_pushlstring(d->L, b->data ? b->data : "", b->len);
    return 0;
}

/* Reads a string (d->p at the opening quote) and pushes it. Invalid UTF-8
 * is replaced with U+FFFD, so what Lua sees is always valid UTF-8. Most
 * strings need no rewriting and are pushed straight from the input. */
static int read_string(dec *d, mw_buf *b)
{
    const unsigned char *text = d->p + 1;
    const unsigned char *stop = skip_plain(text, d->end);

    if (stop < d->end && *stop == '"') {
        lua_pushlstring(d->L, (const char *)text, (size_t)(stop - text));
        d->p = stop + 1;
        return 0;
    }
    return read_rewritten_string(d, b, stop);
}

/* Pushes a big number holding the digits s[0..n); mt is the stack slot
 * of its metatable. */
static void push_bignum(lua_State *L, const char *s, size_t n, int mt)
{
    lua_createtable(L, 1, 0);
    lua_pushlstring(L, s, n);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, mt);
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

/* Reads a plain integer of at most 15 digits (d->p at its first byte),
 * the most common number in payloads (ids, counts, timestamps), without
 * strtod: it is exact in a double. Returns 1 with the number pushed, or 0
 * with d->p unmoved for any other number text, valid or not. */
static int read_short_integer(dec *d)
{
    const unsigned char *p = d->p;
    const unsigned char *digits;
    int64_t v = 0;
    int neg = p < d->end && *p == '-';

    p += neg;
    digits = p;
    /* Sixteen digits at most are read, so v cannot overflow. */
    while (p < d->end && *p >= '0' && *p <= '9' && p - digits <= 15)
        v = v * 10 + (*p++ - '0');
    if (p == digits || p - digits > 15 || (*digits == '0' && p - digits > 1))
        return 0;
    if (p < d->end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' ||
                       *p == 'E'))
        return 0;
    /* "-0" is a negative zero, as strtod reads it. */
    lua_pushnumber(d->L, neg ? -(double)v : (double)v);
    d->p = p;
    return 1;
}

static int read_number(dec *d)
{
    const unsigned char *s = d->p;
    int integral;
    char tmp[NUMBER_MAX + 1];
    double v;
    size_t n;

    if (read_short_integer(d))
        return 0;
    if (scan_number(d, &integral) < 0)
        return -1;
    n = (size_t)(d->p - s);
    if (n > NUMBER_MAX) {
        if (!integral)
            return fail(d, s, "number too long");
        push_bignum(d->L, (const char *)s, n, d->bignum_mt);
        return 0;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    v = strtod(tmp, NULL);
    if (!isfinite(v))
        return fail(d, s, "number out of range");
    /* 2^53 and beyond: 2^53 + 1 reads as 2^53, so keep the text */
    if (integral && fabs(v) >= MAX_SAFE_INT)
        push_bignum(d->L, tmp, n, d->bignum_mt);
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

/* A container's members are read onto the stack first and set into a
 * table made once their count is known, so that no table grows (and
 * rehashes) member by member. The members held so far, over all the
 * containers being read, stay within HELD_MAX slots; a container that
 * would pass it makes its table at that point and sets the rest as they
 * come. Stack room is checked every ROOM_BATCH members, not for every
 * value. */
#define ROOM_BATCH 32

/* Room for the next ROOM_BATCH members (two slots each) and a bignum's
 * scratch slot, from the count-th member on; the first batch is checked
 * with the container, and a nested container checks its own. */
static int stack_room(dec *d, int count)
{
    if (count == 0 || count % ROOM_BATCH != 0 ||
        lua_checkstack(d->L, 2 * ROOM_BATCH + 2))
        return 0;
    return fail(d, d->p, "out of Lua stack");
}

/* Makes the array at slot from the n values above it, leaving only the
 * array. */
static void make_array(dec *d, int slot, int n)
{
    lua_createtable(d->L, n, 0);
    lua_pushvalue(d->L, d->array_mt);
    lua_setmetatable(d->L, -2);
    lua_replace(d->L, slot);
    for (int i = n; i > 0; i--)
        lua_rawseti(d->L, slot, i);
}

/* Makes the object at slot from the n key/value pairs above it, set in
 * text order so that the last of repeated names counts. */
static void make_object(dec *d, int slot, int n)
{
    lua_createtable(d->L, 0, n);
    lua_replace(d->L, slot);
    for (int i = 0; i < n; i++) {
        lua_pushvalue(d->L, slot + 2 * i + 1);
        lua_pushvalue(d->L, slot + 2 * i + 2);
        lua_rawset(d->L, slot);
    }
    lua_settop(d->L, slot);
}

/* Pushes the array at d->p (its '['). */
static int read_array(dec *d, mw_buf *sb)
{
    int slot, n = 0, made = 0;

    lua_pushnil(d->L); /* where the array will be */
    slot = lua_gettop(d->L);
    d->p++;
    skip_ws(d);
    if (d->p < d->end && *d->p == ']') {
        d->p++;
        make_array(d, slot, 0);
        return 0;
    }
    for (;;) {
        if (stack_room(d, n) < 0 || read_value(d, sb) < 0)
            return -1;
        n++;
        if (made) {
            lua_rawseti(d->L, slot, n);
        } else if (d->held + 1 > HELD_MAX) {
            make_array(d, slot, n);
            d->held -= n - 1;
            made = 1;
        } else {
            d->held++;
        }
        skip_ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == ']') {
            d->p++;
            break;
        }
        return fail(d, d->p, "expected ',' or ']' in array");
    }
    if (!made) {
        make_array(d, slot, n);
        d->held -= n;
    }
    return 0;
}

/* A member name and its value, pushed (d->p before the name). */
static int read_member(dec *d, mw_buf *sb)
{
    skip_ws(d);
    if (d->p >= d->end || *d->p != '"')
        return fail(d, d->p, "expected a string key in object");
    if (read_string(d, sb) < 0)
        return -1;
    skip_ws(d);
    if (d->p >= d->end || *d->p != ':')
        return fail(d, d->p, "expected ':' after object key");
    d->p++;
    return read_value(d, sb);
}

/* Pushes the object at d->p (its '{'). */
static int read_object(dec *d, mw_buf *sb)
{
    int slot, n = 0, made = 0;

    lua_pushnil(d->L); /* where the object will be */
    slot = lua_gettop(d->L);
    d->p++;
    skip_ws(d);
    if (d->p < d->end && *d->p == '}') {
        d->p++;
        make_object(d, slot, 0);
        return 0;
    }
    for (;;) {
        if (stack_room(d, n) < 0 || read_member(d, sb) < 0)
            return -1;
        n++;
        if (made) {
            lua_rawset(d->L, slot);
        } else if (d->held + 2 > HELD_MAX) {
            make_object(d, slot, n);
            d->held -= 2 * (n - 1);
            made = 1;
        } else {
            d->held += 2;
        }
        skip_ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == '}') {
            d->p++;
            break;
        }
        return fail(d, d->p, "expected ',' or '}' in object");
    }
    if (!made) {
        make_object(d, slot, n);
        d->held -= 2 * n;
    }
    return 0;
}

static int read_value(dec *d, mw_buf *sb)
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
        /* the table's slot, the batch of members and their scratch */
        if (!lua_checkstack(d->L, 2 * ROOM_BATCH + 4))
            return fail(d, d->p, "out of Lua stack");
        rc = *d->p == '{' ? read_object(d, sb) : read_array(d, sb);
        d->depth--;
        return rc;
    case '"':
        return read_string(d, sb);
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
    int top = lua_gettop(L);
    dec d = {.L = L, .p = (const unsigned char *)s,
             .start = (const unsigned char *)s,
             .end = (const unsigned char *)s + n, .e = e,
             .array_mt = top + 1, .bignum_mt = top + 2};
    mw_buf sb;
    int rc;

    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        d.p += 3;
    /* the marker metatables, a scalar and a bignum's scratch slot */
    if (!lua_checkstack(L, 4))
        return fail(&d, d.p, "out of Lua stack");
    /* Fetched once here rather than from the registry for every array and
     * big number; they sit below the value and are removed at the end. */
    push_mt(L, &array_mt_key);
    push_mt(L, &bignum_mt_key);
    mw_buf_init(&sb);
    rc = read_value(&d, &sb);
    if (rc == 0) {
        skip_ws(&d);
        if (d.p < d.end)
            rc = fail(&d, d.p, "trailing text after the JSON value");
    }
    mw_buf_free(&sb);
    if (rc < 0) {
        lua_settop(L, top);
        return -1;
    }
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return 0;
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

static int skip_string(dec *d)
{
    const unsigned char *open = d->p;
    const unsigned char *p = open + 1;

    for (;;) {
        p = scan_text(p, d->end, string_stop, 0);
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

/* Refuses what read_number refuses: a fraction or exponent too long, and
 * a number beyond a double, which only an exponent can make of a number
 * this short (so only then is strtod asked). */
static int check_number(dec *d)
{
    const unsigned char *s = d->p;
    char tmp[NUMBER_MAX + 1];
    int integral;
    size_t n;

    if (scan_number(d, &integral) < 0)
        return -1;
    n = (size_t)(d->p - s);
    if (integral)
        return 0;
    if (n > NUMBER_MAX)
        return fail(d, s, "number too long");
    if (!memchr(s, 'e', n) && !memchr(s, 'E', n))
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (!isfinite(strtod(tmp, NULL)))
        return fail(d, s, "number out of range");
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
        if (++d->depth > d->max_depth) {
            char what[48];

            snprintf(what, sizeof(what), "nesting deeper than %d levels",
                     d->max_depth);
            return fail(d, d->p, what);
        }
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
    return mw_json_validate_depth(s, n, MW_JSON_MAX_DEPTH, e);
}

int mw_json_validate_depth(const char *s, size_t n, int max_depth, mw_err *e)
{
    dec d = {.p = (const unsigned char *)s, .start = (const unsigned char *)s,
             .end = (const unsigned char *)s + n, .e = e,
             .max_depth = max_depth < 1 || max_depth > MW_JSON_MAX_DEPTH
                              ? MW_JSON_MAX_DEPTH : max_depth};

    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        d.p += 3;
    if (check_value(&d) < 0)
        return -1;
    skip_ws(&d);
    if (d.p < d.end)
        return fail(&d, d.p, "trailing text after the JSON value");
    return 0;
}

/* ---- looking up ---------------------------------------------------------- */

/* Reads the member name at d->p (its opening quote) as the decoder would
 * and tells whether it is key[0..n). Leaves d->p after the name. */
static int name_is(dec *d, mw_buf *b, const char *key, size_t n, int *same)
{
    const unsigned char *text = d->p + 1;
    const unsigned char *stop = skip_plain(text, d->end);

    if (stop < d->end && *stop == '"') {
        *same = (size_t)(stop - text) == n && memcmp(text, key, n) == 0;
        d->p = stop + 1;
        return 0;
    }
    if (unescape_string(d, b, stop) < 0)
        return -1;
    *same = b->len == n && (n == 0 || memcmp(b->data, key, n) == 0);
    return 0;
}

/* Bytes that matter when skipping a value by its brackets, and bytes that
 * end a number or a literal. */
static const unsigned char structural[256] = {
    [(unsigned char)'"'] = 1, [(unsigned char)'{'] = 1,
    [(unsigned char)'['] = 1, [(unsigned char)'}'] = 1,
    [(unsigned char)']'] = 1};
static const unsigned char scalar_end[256] = {
    [(unsigned char)','] = 1, [(unsigned char)'}'] = 1,
    [(unsigned char)']'] = 1, [(unsigned char)' '] = 1,
    [(unsigned char)'\t'] = 1, [(unsigned char)'\n'] = 1,
    [(unsigned char)'\r'] = 1};

/* Where the string whose text begins at p ends: after its closing quote,
 * the first quote not escaped by an odd run of backslashes. */
static const unsigned char *string_end(const unsigned char *p,
                                       const unsigned char *end)
{
    for (const unsigned char *from = p;;) {
        const unsigned char *q = memchr(from, '"', (size_t)(end - from));
        size_t slashes = 0;

        if (!q)
            return end;
        while (q - slashes > p && q[-1 - (ptrdiff_t)slashes] == '\\')
            slashes++;
        if (slashes % 2 == 0)
            return q + 1;
        from = q + 1;
    }
}

/* Skips the value at d->p in text known to be JSON (validated), by its
 * brackets and quotes alone: a fraction of what checking it costs. On text
 * that is not JSON it still stays within the input. */
static void skip_known(dec *d)
{
    const unsigned char *p = d->p, *end = d->end;
    int depth = 0;

    if (p < end && !structural[*p]) {
        while (p < end && !scalar_end[*p])
            p++;
        d->p = p;
        return;
    }
    while (p < end) {
        unsigned char c;

        while (p < end && !structural[*p])
            p++;
        if (p >= end)
            break;
        c = *p++;
        if (c == '"')
            p = string_end(p, end);
        else if (c == '{' || c == '[')
            depth++;
        else
            depth--;
        if (depth <= 0)
            break;
    }
    d->p = p;
}

/* Finds member key[0..n) of the object at d->p: *at is where its value
 * begins, or NULL. The last of repeated names counts, as in the decoder,
 * so the whole object is read (its values only skipped: the text is known
 * to be JSON); d->p ends after it. */
static int find_member(dec *d, mw_buf *b, const char *key, size_t n,
                       const unsigned char **at)
{
    *at = NULL;
    d->p++;
    skip_ws(d);
    if (d->p < d->end && *d->p == '}') {
        d->p++;
        return 0;
    }
    for (;;) {
        int same;

        skip_ws(d);
        if (d->p >= d->end || *d->p != '"')
            return fail(d, d->p, "expected a string key in object");
        if (name_is(d, b, key, n, &same) < 0)
            return -1;
        skip_ws(d);
        if (d->p >= d->end || *d->p != ':')
            return fail(d, d->p, "expected ':' after object key");
        d->p++;
        skip_ws(d);
        if (same)
            *at = d->p;
        if (d->p >= d->end)
            return fail(d, d->p, "expected a value");
        skip_known(d);
        skip_ws(d);
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            continue;
        }
        if (d->p < d->end && *d->p == '}') {
            d->p++;
            return 0;
        }
        return fail(d, d->p, "expected ',' or '}' in object");
    }
}

/* Pushes the kind of the value at d->p and, for a scalar, the value as
 * the decoder reads it. Returns how many values it pushed, or -1. */
static int push_found(dec *d, mw_buf *b)
{
    static const char *const kinds[] = {"object", "array", "string",
                                        "boolean", "null", "number"};
    const char *kind;
    int rc = 0;

    if (d->p >= d->end)
        return fail(d, d->p, "expected a value");
    switch (*d->p) {
    case '{':
        kind = kinds[0];
        break;
    case '[':
        kind = kinds[1];
        break;
    case '"':
        kind = kinds[2];
        break;
    case 't':
    case 'f':
        kind = kinds[3];
        break;
    case 'n':
        kind = kinds[4];
        break;
    default:
        kind = kinds[5];
        break;
    }
    lua_pushstring(d->L, kind);
    if (kind == kinds[0] || kind == kinds[1])
        return 1;
    if (kind == kinds[2])
        rc = read_string(d, b);
    else if (kind == kinds[5])
        rc = read_number(d);
    else
        rc = read_value(d, b);
    return rc < 0 ? -1 : 2;
}

int mw_json_lookup(lua_State *L, const char *s, size_t n,
                   const char *const *keys, const size_t *key_lens,
                   int nkeys, mw_err *e)
{
    int top = lua_gettop(L);
    dec d = {.L = L, .p = (const unsigned char *)s,
             .start = (const unsigned char *)s,
             .end = (const unsigned char *)s + n, .e = e,
             .array_mt = top + 1, .bignum_mt = top + 2};
    mw_buf b;
    int rc = 0;

    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        d.p += 3;
    if (!lua_checkstack(L, 6))
        return fail(&d, d.p, "out of Lua stack");
    push_mt(L, &array_mt_key);
    push_mt(L, &bignum_mt_key);
    mw_buf_init(&b);
    skip_ws(&d);
    for (int i = 0; i < nkeys && rc == 0; i++) {
        const unsigned char *at;

        if (d.p >= d.end || *d.p != '{')
            break;
        rc = find_member(&d, &b, keys[i], key_lens[i], &at);
        if (rc == 0 && !at)
            break;
        if (rc == 0)
            d.p = at;
        if (rc == 0 && i == nkeys - 1)
            rc = push_found(&d, &b);
        if (rc > 0)
            break;
    }
    if (nkeys == 0 && rc == 0)
        rc = push_found(&d, &b);
    mw_buf_free(&b);
    if (rc < 0) {
        lua_settop(L, top);
        return -1;
    }
    /* the values found take the places of the marker metatables */
    for (int i = rc; i > 0; i--)
        lua_replace(L, top + i);
    lua_settop(L, top + rc);
    return rc;
}

/* ---- encoding ------------------------------------------------------------ */

/* U+2028 and U+2029 end a line in JavaScript, so they are escaped for
 * output that may be pasted into a script. */
static int is_line_sep(const unsigned char *s, size_t len)
{
    return len == 3 && s[0] == 0xE2 && s[1] == 0x80 &&
           (s[2] == 0xA8 || s[2] == 0xA9);
}

/* Writes the escape for the text at *at (a byte that text_stop stops at
 * and that is not copied as it is) and moves *at past what it used. */
static int escape_one(mw_buf *out, const unsigned char **at,
                      const unsigned char *end)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = *at;

    *at = s + 1;
    if (*s == '"' || *s == '\\') {
        char esc[2] = {'\\', (char)*s};
        return put(out, esc, 2);
    }
    if (*s < 0x20) {
        const char *named = *s == '\n' ? "\\n" : *s == '\r' ? "\\r" :
                            *s == '\t' ? "\\t" : *s == '\b' ? "\\b" :
                            *s == '\f' ? "\\f" : NULL;
        char u[6] = {'\\', 'u', '0', '0', hex[*s >> 4], hex[*s & 15]};
        return named ? put(out, named, 2) : put(out, u, 6);
    }
    if (utf8_len(s, (size_t)(end - s)) == 0)
        return put(out, REPLACEMENT, 3);
    /* Valid UTF-8 reaches here only as a line separator. */
    *at = s + 3;
    return put(out, s[2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
}

/* Appends the escaped text of s[0..end), whose plain text runs up to
 * stop (the first byte text_stop stops at, or end). */
static int escape_text(mw_buf *out, const unsigned char *s,
                       const unsigned char *end, const unsigned char *stop)
{
    const unsigned char *run = s;

    /* Text that needs no escape, valid UTF-8 included, is copied a run at
     * a time; escape_one writes the rest. */
    for (s = stop;; s = scan_text(s, end, text_stop, TEXT_HIGH)) {
        size_t len;

        if (s < end && *s >= 0x80) {
            len = utf8_len(s, (size_t)(end - s));
            if (len > 0 && !is_line_sep(s, len)) {
                s += len;
                continue;
            }
        }
        if (s > run && put(out, run, (size_t)(s - run)) < 0)
            return -1;
        if (s >= end)
            return 0;
        if (escape_one(out, &s, end) < 0)
            return -1;
        run = s;
    }
}

int mw_json_escape(mw_buf *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;

    return escape_text(out, s, s + n, scan_text(s, s + n, text_stop,
                                                 TEXT_HIGH));
}

/* Appends s[0..n) as a string literal, quotes and all, and then, for a
 * member name, colon bytes of ": " (1 or 2; 0 for none). Most strings
 * need no escape: those are checked for room once and copied whole. */
static int put_string(mw_buf *out, const char *str, size_t n, int colon)
{
    const unsigned char *s = (const unsigned char *)str;
    const unsigned char *stop = scan_text(s, s + n, text_stop, TEXT_HIGH);
    char *w;

    if (stop < s + n) {
        if (put_char(out, '"') < 0 || escape_text(out, s, s + n, stop) < 0)
            return -1;
        return put(out, "\": ", 1 + (size_t)colon);
    }
    if (n + 4 >= out->cap - out->len && mw_buf_reserve(out, n + 4) < 0)
        return -1;
    w = out->data + out->len;
    *w++ = '"';
    memcpy(w, s, n);
    w += n;
    *w++ = '"';
    if (colon > 0)
        *w++ = ':';
    if (colon > 1)
        *w++ = ' ';
    *w = '\0';
    out->len = (size_t)(w - out->data);
    return 0;
}

/* Writes a double the shortest way that reads back to the same value. */
/* Writes v, a whole number of thousandths below 1e12 (durations in
 * traces, most fractions in payloads), without printf. It is what "%.15g"
 * writes: v is the double nearest to the decimal k/1000, which has at
 * most 15 significant digits, so rounding v to 15 digits gives it back. */
static int put_thousandths(mw_buf *out, double v)
{
    char tmp[32];
    char *p = tmp + sizeof(tmp);
    unsigned long long k = (unsigned long long)nearbyint(fabs(v) * 1000.0);
    unsigned frac = (unsigned)(k % 1000);
    int digits = 3;

    while (digits > 0 && frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    for (int i = 0; i < digits; i++, frac /= 10)
        *--p = (char)('0' + frac % 10);
    if (digits > 0)
        *--p = '.';
    k /= 1000;
    do {
        *--p = (char)('0' + k % 10);
        k /= 10;
    } while (k);
    if (v < 0)
        *--p = '-';
    return put(out, p, (size_t)(tmp + sizeof(tmp) - p));
}

static int add_number(mw_buf *out, double v, mw_err *e)
{
    char tmp[40];

    if (!isfinite(v)) {
        mw_err_set(e, "E_JSON", "cannot encode %s as JSON",
                   isnan(v) ? "NaN" : "an infinite number");
        return -1;
    }
    /* Integral when truncation keeps it (checked in range, so the cast is
     * defined); -0 is written as 0. */
    if (fabs(v) <= MAX_SAFE_INT && (double)(long long)v == v) {
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
        return put(out, p, (size_t)(tmp + sizeof(tmp) - p));
    }
    if (fabs(v) < 1e12 && nearbyint(v * 1000.0) / 1000.0 == v)
        return put_thousandths(out, v);
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
    int array_mt; /* stack slots of the marker metatables, fetched once */
    int bignum_mt;
    int raw_mt;
    int held; /* stack slots holding members of the objects being written */
} enc;

static int encode_value(enc *c, int idx);

static int newline(enc *c)
{
    if (!(c->flags & MW_JSON_PRETTY))
        return 0;
    if (put_char(c->out, '\n') < 0)
        return -1;
    for (int i = 0; i < c->depth; i++)
        if (put(c->out, "  ", 2) < 0)
            return -1;
    return 0;
}

/* Whether the table at idx has the metatable registered under key. */
static int has_mark(lua_State *L, int idx, void *key)
{
    int yes;

    if (!lua_getmetatable(L, idx))
        return 0;
    push_mt(L, key);
    yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

enum { MARK_NONE, MARK_ARRAY, MARK_BIGNUM, MARK_RAW };

/* Which of the codec's metatables the table at idx has. */
static int table_mark(enc *c, int idx)
{
    int mark = MARK_NONE;

    if (!lua_getmetatable(c->L, idx))
        return MARK_NONE;
    if (lua_rawequal(c->L, -1, c->array_mt))
        mark = MARK_ARRAY;
    else if (lua_rawequal(c->L, -1, c->bignum_mt))
        mark = MARK_BIGNUM;
    else if (lua_rawequal(c->L, -1, c->raw_mt))
        mark = MARK_RAW;
    lua_pop(c->L, 1);
    return mark;
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
    if (put_char(c->out, '[') < 0)
        return -1;
    c->depth++;
    for (size_t i = 1; i <= n; i++) {
        if (i > 1 && put_char(c->out, ',') < 0)
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
    return put_char(c->out, ']');
}

/* An object member: its key (Lua strings may hold NUL bytes, so keys keep
 * lengths), the key's first bytes as a number (key_head) and the stack
 * slot of its value, or 0 to look the value up by key. */
typedef struct member {
    const char *s;
    size_t n;
    uint64_t head;
    int slot;
} member;

/* The first eight bytes of a key, big-endian, padded with zeros. */
static uint64_t key_head(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    uint64_t h = 0;

#ifdef WORD_SCAN
    if (n >= 8)
        return __builtin_bswap64(load_word(u));
#endif
    for (size_t i = 0; i < 8 && i < n; i++)
        h |= (uint64_t)u[i] << (56 - 8 * i);
    return h;
}

/* Keys in byte order, a key before the longer keys it begins (memcmp,
 * then the shorter first). Most keys differ in their first eight bytes,
 * so the heads are compared first, as numbers, and order the same way:
 * where two heads first differ, either both bytes are the keys' own, or
 * the lower is the pad of a key that ends there and so begins the other.
 * Equal heads fall through to the full comparison. */
static int cmp_members(const member *x, const member *y)
{
    size_t n = x->n < y->n ? x->n : y->n;
    int c;

    if (x->head != y->head)
        return x->head < y->head ? -1 : 1;
    c = memcmp(x->s, y->s, n);
    if (c != 0)
        return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

static int qsort_cmp(const void *a, const void *b)
{
    return cmp_members(a, b);
}

/* Objects up to this many members sort their members in a local array,
 * by insertion (few compares, no calls through a pointer); larger ones
 * allocate it and use qsort. */
#define SMALL_OBJECT 32

static void sort_members(member *m, size_t n)
{
    if (n > SMALL_OBJECT) {
        qsort(m, n, sizeof(*m), qsort_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        member t = m[i];
        size_t j = i;

        for (; j > 0 && cmp_members(&t, &m[j - 1]) < 0; j--)
            m[j] = m[j - 1];
        m[j] = t;
    }
}

static void key_error(enc *c, int idx)
{
    mw_err_set(c->e, "E_JSON", "object key of type %s cannot be encoded "
               "(keys must be strings)", luaL_typename(c->L, idx));
}

/* Writes the members m[0..n) of the object at idx, in that order. */
static int write_members(enc *c, int idx, const member *m, size_t n)
{
    int colon = (c->flags & MW_JSON_PRETTY) ? 2 : 1;

    if (put_char(c->out, '{') < 0)
        return -1;
    c->depth++;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && put_char(c->out, ',') < 0)
            return -1;
        if (newline(c) < 0 || put_string(c->out, m[i].s, m[i].n, colon) < 0)
            return -1;
        if (m[i].slot) {
            if (encode_value(c, m[i].slot) < 0)
                return -1;
            continue;
        }
        lua_pushlstring(c->L, m[i].s, m[i].n);
        lua_rawget(c->L, idx);
        if (encode_value(c, lua_gettop(c->L)) < 0)
            return -1;
        lua_pop(c->L, 1);
    }
    c->depth--;
    if (n > 0 && newline(c) < 0)
        return -1;
    return put_char(c->out, '}');
}

/* Writes an object whose members do not fit on the stack (see HELD_MAX):
 * collects and sorts its keys, then looks up each value by key. Slower,
 * but needs no stack space per member. */
static int encode_object_by_lookup(enc *c, int idx)
{
    size_t n = 0, cap = 8;
    member *m = malloc(cap * sizeof(*m));
    int rc;

    if (!m)
        return -1;
    lua_pushnil(c->L);
    while (lua_next(c->L, idx)) {
        lua_pop(c->L, 1);
        if (lua_type(c->L, -1) != LUA_TSTRING) {
            key_error(c, -1);
            lua_pop(c->L, 1);
            free(m);
            return -1;
        }
        if (n == cap) {
            member *grown = realloc(m, 2 * cap * sizeof(*m));
            if (!grown) {
                lua_pop(c->L, 1);
                free(m);
                return -1;
            }
            m = grown;
            cap *= 2;
        }
        /* The strings stay alive: the table holds them. */
        m[n].s = lua_tolstring(c->L, -1, &m[n].n);
        m[n].head = key_head(m[n].s, m[n].n);
        m[n].slot = 0;
        n++;
    }
    sort_members(m, n);
    rc = write_members(c, idx, m, n);
    free(m);
    return rc;
}

#define MEMBERS_TOO_MANY (-2)

/* Pushes the key and the value of every member of the table at idx, in
 * lua_next order. Returns how many, -1 with c->e set at a key that is not
 * a string, or MEMBERS_TOO_MANY past HELD_MAX or when the stack cannot
 * grow; when it fails the stack is as it was. */
static int push_members(enc *c, int idx)
{
    lua_State *L = c->L;
    int base = lua_gettop(L);
    int n = 0;

    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            key_error(c, -2);
            lua_settop(L, base);
            return -1;
        }
        if (c->held + 2 * (n + 1) > HELD_MAX ||
            (n % ROOM_BATCH == 0 && !lua_checkstack(L, 2 * ROOM_BATCH + 1))) {
            lua_settop(L, base);
            return MEMBERS_TOO_MANY;
        }
        n++;
        lua_pushvalue(L, -2); /* the key again, for lua_next */
    }
    return n;
}

/* Writes an object with its members sorted by key. The members are kept
 * on the stack as lua_next gives them, so each value is written from its
 * slot: no key array to build, no lookup by key. */
static int encode_object(enc *c, int idx)
{
    int base = lua_gettop(c->L);
    int n = push_members(c, idx);
    member small[SMALL_OBJECT];
    member *m = small;
    int rc;

    if (n == MEMBERS_TOO_MANY)
        return encode_object_by_lookup(c, idx);
    if (n < 0)
        return -1;
    if (n > SMALL_OBJECT && !(m = malloc((size_t)n * sizeof(*m)))) {
        lua_settop(c->L, base);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        m[i].slot = base + 2 * i + 2;
        m[i].s = lua_tolstring(c->L, m[i].slot - 1, &m[i].n);
        m[i].head = key_head(m[i].s, m[i].n);
    }
    sort_members(m, (size_t)n);
    c->held += 2 * n;
    rc = write_members(c, idx, m, (size_t)n);
    c->held -= 2 * n;
    if (m != small)
        free(m);
    lua_settop(c->L, base);
    return rc;
}

static int encode_table(enc *c, int idx)
{
    size_t n = 0;
    int mark;

    if (c->depth >= MW_JSON_MAX_DEPTH) {
        mw_err_set(c->e, "E_JSON", "value nested deeper than %d levels "
                   "(or a table that contains itself)", MW_JSON_MAX_DEPTH);
        return -1;
    }
    if (!lua_checkstack(c->L, 8)) {
        mw_err_set(c->e, "E_JSON", "out of Lua stack while encoding");
        return -1;
    }
    mark = table_mark(c, idx);
    if (mark == MARK_BIGNUM || mark == MARK_RAW) {
        /* digits, or JSON text written before: both go out as they are */
        lua_rawgeti(c->L, idx, 1);
        n = 0;
        const char *digits = lua_tolstring(c->L, -1, &n);
        int rc = digits ? put(c->out, digits, n) : -1;
        lua_pop(c->L, 1);
        return rc;
    }
    if (mark == MARK_ARRAY)
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
        return put(c->out, "null", 4);
    case LUA_TLIGHTUSERDATA:
        if (mw_json_is_null(c->L, idx))
            return put(c->out, "null", 4);
        break;
    case LUA_TBOOLEAN:
        return lua_toboolean(c->L, idx) ? put(c->out, "true", 4)
                                        : put(c->out, "false", 5);
    case LUA_TNUMBER:
        return add_number(c->out, lua_tonumber(c->L, idx), c->e);
    case LUA_TSTRING:
        s = lua_tolstring(c->L, idx, &n);
        return put_string(c->out, s, n, 0);
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
    int top = lua_gettop(L);
    enc c = {.L = L, .out = out, .flags = flags, .e = e,
             .array_mt = top + 1, .bignum_mt = top + 2, .raw_mt = top + 3};
    int rc;

    if (idx < 0)
        idx = top + idx + 1;
    if (!lua_checkstack(L, 3)) {
        mw_err_set(e, "E_JSON", "out of Lua stack while encoding");
        return -1;
    }
    /* The marker metatables, fetched once rather than twice per table. */
    push_mt(L, &array_mt_key);
    push_mt(L, &bignum_mt_key);
    push_mt(L, &raw_mt_key);
    rc = encode_value(&c, idx);
    lua_settop(L, top);
    if (rc < 0 && e && !e->code)
        mw_err_set(e, "E_NOMEM", "out of memory while encoding JSON");
    return rc;
}

/* ---- copying ------------------------------------------------------------- */

/* A deep copy of a value, refused where the encoder refuses it, so that
 * copy(v) stands for decode(encode(v)) at a fraction of the cost: strings
 * are shared (Lua strings do not change), tables made anew. */
static int copy_in_place(enc *c, int idx);

/* After a member's value was refused, looks on from the key at key_at
 * for a key that is not a string: of the two, that is what is reported
 * (all keys of an object are checked before its values are written).
 * Returns -1. */
static int keys_first(enc *c, int idx, int key_at)
{
    lua_State *L = c->L;

    lua_settop(L, key_at);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            key_error(c, -1);
            break;
        }
    }
    return -1;
}

/* Makes the object at slot from the n key/value pairs just above it
 * (keys of a table: none repeats, so they are set from the top down) and
 * moves what was above them, count slots, down into their place. */
static void make_copy(lua_State *L, int slot, int n, int count)
{
    for (int i = 0; i < count; i++)
        lua_insert(L, slot + 1);
    lua_createtable(L, 0, n);
    lua_replace(L, slot);
    for (int i = 0; i < n; i++)
        lua_rawset(L, slot);
}

/* Pushes a copy of the object at idx. Its members are walked once: each
 * key and copied value stays on the stack (within HELD_MAX, as when
 * decoding) until the table is made at its final size. */
static int copy_members(enc *c, int idx)
{
    lua_State *L = c->L;
    int slot, n = 0, made = 0;

    lua_pushnil(L); /* where the copy will be */
    slot = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int top = lua_gettop(L);

        if (lua_type(L, -2) != LUA_TSTRING) {
            key_error(c, -2);
            return -1;
        }
        if (!made && n > 0 && n % ROOM_BATCH == 0 &&
            !lua_checkstack(L, 2 * ROOM_BATCH + 4)) {
            mw_err_set(c->e, "E_JSON", "out of Lua stack while copying");
            return -1;
        }
        if (copy_in_place(c, top) < 0)
            return keys_first(c, idx, top - 1);
        if (made) {
            lua_pushvalue(L, -2);
            lua_insert(L, -3);
            lua_rawset(L, slot);
            continue;
        }
        n++;
        if (c->held + 2 > HELD_MAX) {
            /* the table is made now; the last key goes on for lua_next */
            lua_pushvalue(L, -2);
            make_copy(L, slot, n, 1);
            c->held -= 2 * (n - 1);
            made = 1;
            continue;
        }
        c->held += 2;
        lua_pushvalue(L, -2); /* the key again, for lua_next */
    }
    if (!made) {
        make_copy(L, slot, n, 0);
        c->held -= 2 * n;
    }
    return 0;
}

/* Pushes a copy of the table at idx. */
static int copy_table(enc *c, int idx)
{
    lua_State *L = c->L;
    size_t n = 0;
    int mark;

    if (c->depth >= MW_JSON_MAX_DEPTH) {
        mw_err_set(c->e, "E_JSON", "value nested deeper than %d levels "
                   "(or a table that contains itself)", MW_JSON_MAX_DEPTH);
        return -1;
    }
    if (!lua_checkstack(L, 2 * ROOM_BATCH + 8)) {
        mw_err_set(c->e, "E_JSON", "out of Lua stack while copying");
        return -1;
    }
    mark = table_mark(c, idx);
    if (mark == MARK_RAW) {
        mw_err_set(c->e, "E_JSON", "JSON text (json.raw) is not copied");
        return -1;
    }
    if (mark == MARK_BIGNUM || mark == MARK_ARRAY ||
        looks_like_array(L, idx, &n)) {
        if (mark != MARK_NONE)
            n = lua_objlen(L, idx);
        lua_createtable(L, (int)n, 0);
        c->depth++;
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, (int)i);
            if (copy_in_place(c, lua_gettop(L)) < 0)
                return -1;
            lua_rawseti(L, -2, (int)i);
        }
        c->depth--;
        lua_pushvalue(L, mark == MARK_BIGNUM ? c->bignum_mt : c->array_mt);
        lua_setmetatable(L, -2);
        return 0;
    }
    c->depth++;
    if (copy_members(c, idx) < 0)
        return -1;
    c->depth--;
    return 0;
}

/* Checks the value at idx (an absolute index) as the encoder would and,
 * when it is a table, puts its copy in its place; other values are
 * shared as they are. */
static int copy_in_place(enc *c, int idx)
{
    double v;

    switch (lua_type(c->L, idx)) {
    case LUA_TNUMBER:
        v = lua_tonumber(c->L, idx);
        if (!isfinite(v)) {
            mw_err_set(c->e, "E_JSON", "cannot encode %s as JSON",
                       isnan(v) ? "NaN" : "an infinite number");
            return -1;
        }
        return 0;
    case LUA_TLIGHTUSERDATA:
        if (!mw_json_is_null(c->L, idx))
            break;
        return 0;
    case LUA_TNIL:
    case LUA_TBOOLEAN:
    case LUA_TSTRING:
        return 0;
    case LUA_TTABLE:
        if (copy_table(c, idx) < 0)
            return -1;
        lua_replace(c->L, idx);
        return 0;
    default:
        break;
    }
    mw_err_set(c->e, "E_JSON", "a Lua %s cannot be encoded as JSON",
               luaL_typename(c->L, idx));
    return -1;
}

int mw_json_copy(lua_State *L, int idx, mw_err *e)
{
    int top = lua_gettop(L);
    enc c = {.L = L, .e = e, .array_mt = top + 1, .bignum_mt = top + 2,
             .raw_mt = top + 3};

    if (idx < 0)
        idx = top + idx + 1;
    if (!lua_checkstack(L, 4)) {
        mw_err_set(e, "E_JSON", "out of Lua stack while copying");
        return -1;
    }
    push_mt(L, &array_mt_key);
    push_mt(L, &bignum_mt_key);
    push_mt(L, &raw_mt_key);
    lua_pushvalue(L, idx);
    if (copy_in_place(&c, top + 4) < 0) {
        lua_settop(L, top);
        return -1;
    }
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return 0;
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
    push_mt(L, &array_mt_key);
    lua_setmetatable(L, idx);
}

/* An empty error for a call from Lua: the code and the message's first
 * byte, not all 500 of them, are cleared on every call. */
static void err_clear(mw_err *e)
{
    e->code = NULL;
    e->msg[0] = '\0';
}

static int l_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    mw_err e;

    err_clear(&e);
    if (mw_json_decode(L, s, n, &e) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    return 1;
}

/* validate(text [, max_depth]) -> true | nil, message (the decoder's
 * message). */
static int l_validate(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    int max_depth = (int)luaL_optinteger(L, 2, MW_JSON_MAX_DEPTH);
    mw_err e;

    err_clear(&e);
    if (mw_json_validate_depth(s, n, max_depth, &e) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* encode(value [, {pretty = true}]) -> text | nil, message. The output
 * buffer is kept between calls (an upvalue, so one per Lua state) rather
 * than allocated and grown each time; one that grew past ENCODE_KEEP is
 * let go after the call. Encoding calls no Lua code, so no call can
 * begin while another is writing into it. */
#define ENCODE_KEEP 65536

static int l_encode(lua_State *L)
{
    mw_buf *b = lua_touserdata(L, lua_upvalueindex(1));
    int flags = 0, rc;
    mw_err e;

    err_clear(&e);
    luaL_checkany(L, 1);
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "pretty");
        if (lua_toboolean(L, -1))
            flags |= MW_JSON_PRETTY;
        lua_pop(L, 1);
    }
    mw_buf_reset(b);
    rc = mw_json_encode(L, 1, b, flags, &e);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
    } else {
        lua_pushlstring(L, b->data ? b->data : "", b->len);
    }
    if (b->cap > ENCODE_KEEP)
        mw_buf_free(b);
    return rc < 0 ? 2 : 1;
}

static int encode_buf_gc(lua_State *L)
{
    mw_buf_free(lua_touserdata(L, 1));
    return 0;
}

/* Sets the module's encode: l_encode with its buffer (table at -1). */
static void set_encode(lua_State *L)
{
    mw_buf *b = lua_newuserdata(L, sizeof(*b));

    mw_buf_init(b);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, encode_buf_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_pushcclosure(L, l_encode, 1);
    lua_setfield(L, -2, "encode");
}

/* lookup(text, {key, ...}) -> kind, value (see mw_json_lookup); nothing
 * when the path is not there; nil, message when the text is not JSON. */
static int l_lookup(lua_State *L)
{
    const char *keys[MW_JSON_LOOKUP_MAX];
    size_t lens[MW_JSON_LOOKUP_MAX];
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    int nkeys, rc;
    mw_err e;

    err_clear(&e);
    luaL_checktype(L, 2, LUA_TTABLE);
    nkeys = (int)lua_objlen(L, 2);
    luaL_argcheck(L, nkeys <= MW_JSON_LOOKUP_MAX, 2, "path too long");
    for (int i = 0; i < nkeys; i++) {
        lua_rawgeti(L, 2, i + 1);
        luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING, 2,
                      "path keys must be strings");
        keys[i] = lua_tolstring(L, -1, &lens[i]);
        /* the string stays alive in the path table */
        lua_pop(L, 1);
    }
    rc = mw_json_lookup(L, s, n, keys, lens, nkeys, &e);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    return rc;
}

/* copy(value) -> a deep copy, or nil, message where encode would fail. */
static int l_copy(lua_State *L)
{
    mw_err e;

    err_clear(&e);
    luaL_checkany(L, 1);
    if (mw_json_copy(L, 1, &e) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    return 1;
}

/* raw(text): a value the encoder writes as text, unchanged. For JSON that
 * json.encode wrote before; nothing checks it, so it is kept from
 * sandboxed modules (runtime.lua). */
static int l_raw(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TSTRING);
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, 1);
    push_mt(L, &raw_mt_key);
    lua_setmetatable(L, -2);
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

    push_mt(L, &bignum_mt_key);
    push_bignum(L, s, n, lua_gettop(L));
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
        {"decode", l_decode},   {"validate", l_validate},
        {"escape", l_escape},   {"array", l_array},
        {"is_array", l_is_array}, {"is_bignum", l_is_bignum},
        {"bignum", l_bignum},   {"lookup", l_lookup},
        {"raw", l_raw},         {"copy", l_copy},
        {NULL, NULL}};

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

    lua_pushlightuserdata(L, &raw_mt_key);
    lua_newtable(L);
    lua_pushliteral(L, "raw");
    lua_setfield(L, -2, "__name");
    lua_rawset(L, LUA_REGISTRYINDEX);

    lua_newtable(L);
    luaL_register(L, NULL, fns);
    set_encode(L);
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
