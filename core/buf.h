/* SPDX-License-Identifier: MIT */
/* A growable byte buffer, always NUL-terminated after its length.
 * Used by the JSON codec, the HTTP client and the CLI. */
#ifndef MW_BUF_H
#define MW_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct mw_buf {
    char *data;
    size_t len;
    size_t cap;
} mw_buf;

/* An error carried back to the caller: a stable code and a message. */
typedef struct mw_err {
    const char *code;
    char msg[512];
} mw_err;

void mw_buf_init(mw_buf *b);
void mw_buf_free(mw_buf *b);
void mw_buf_reset(mw_buf *b);
/* Returns 0, or -1 when memory runs out (the buffer is left unchanged). */
int mw_buf_reserve(mw_buf *b, size_t extra);
int mw_buf_add(mw_buf *b, const void *p, size_t n);
int mw_buf_addc(mw_buf *b, char c);
int mw_buf_adds(mw_buf *b, const char *s);
int mw_buf_printf(mw_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void mw_err_set(mw_err *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads a whole file into b. Returns 0, or -1 with e set. */
int mw_buf_read_file(mw_buf *b, const char *path, mw_err *e);

#endif
