/* SPDX-License-Identifier: MIT */
/* Outbound HTTP: libcurl's multi interface driven by the libevent loop's
 * socket and timer callbacks. No call here blocks; each request ends in
 * exactly one callback. What a response means is the caller's business. */
#ifndef MW_HTTP_H
#define MW_HTTP_H

#include <stddef.h>

#include "buf.h"

struct event_base;
typedef struct mw_http mw_http;

typedef struct mw_http_req {
    const char *method;          /* GET, POST, PUT, PATCH, DELETE, HEAD */
    const char *url;
    const char *const *headers;  /* "Name: value" lines */
    size_t nheaders;
    const char *body;            /* may be NULL */
    size_t body_len;
    long timeout_ms;             /* total; 0 means the default (30 s) */
    long connect_timeout_ms;     /* 0 means the default (10 s) */
    size_t max_body;             /* response cap; 0 means 16 MiB */
} mw_http_req;

typedef struct mw_http_resp {
    long status;             /* 0 when no response arrived */
    mw_buf headers;          /* "name: value\n" lines of the final response */
    mw_buf body;
    const char *error_code;  /* NULL on success, else a stable E_HTTP_* code */
    char error[256];         /* a readable reason when error_code is set */
    double total_ms;
} mw_http_resp;

/* Called once per request. resp is valid only during the call. */
typedef void (*mw_http_cb)(mw_http_resp *resp, void *ud);

mw_http *mw_http_create(struct event_base *base, mw_err *e);
/* Ends every request still running; their callbacks are not called. */
void mw_http_destroy(mw_http *h);

/* Starts a request; copies everything it needs from req. */
int mw_http_start(mw_http *h, const mw_http_req *req, mw_http_cb cb,
                  void *ud, mw_err *e);

/* Requests started and not yet finished. */
size_t mw_http_pending(const mw_http *h);

#endif
