/* SPDX-License-Identifier: MIT */
/* Growable buffers and the error struct every module reports through. */
#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mw_buf_init(mw_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void mw_buf_free(mw_buf *b)
{
    free(b->data);
    mw_buf_init(b);
}

void mw_buf_reset(mw_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int mw_buf_reserve(mw_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    size_t cap;
    char *p;

    if (need <= b->cap)
        return 0;
    if (need < b->len)
        return -1;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int mw_buf_add(mw_buf *b, const void *p, size_t n)
{
    if (mw_buf_reserve(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int mw_buf_addc(mw_buf *b, char c)
{
    return mw_buf_add(b, &c, 1);
}

int mw_buf_adds(mw_buf *b, const char *s)
{
    return mw_buf_add(b, s, strlen(s));
}

int mw_buf_printf(mw_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || mw_buf_reserve(b, (size_t)n) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void mw_err_set(mw_err *e, const char *code, const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
}

int mw_buf_read_file(mw_buf *b, const char *path, mw_err *e)
{
    FILE *f = fopen(path, "rb");
    char chunk[16384];
    size_t n;
    int rc = 0;

    if (!f) {
        mw_err_set(e, "E_FILE", "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (mw_buf_add(b, chunk, n) < 0) {
            mw_err_set(e, "E_NOMEM", "out of memory reading %s", path);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        mw_err_set(e, "E_FILE", "cannot read %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && !b->data)
        rc = mw_buf_add(b, "", 0);
    fclose(f);
    return rc;
}
