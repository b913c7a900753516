/* SPDX-License-Identifier: MIT */
/* Inbound HTTP/1.1 on the event loop: listening, keep-alive connections,
 * request parsing (http-parser), limits answered with JSON errors, and
 * replies that may come later than the request (after a durable write or
 * a finished execution). Routing and meaning are the caller's. */
#ifndef MW_SERVER_H
#define MW_SERVER_H

#include <stddef.h>

#include "buf.h"

struct event_base;
typedef struct mw_server mw_server;
typedef struct mw_sreq mw_sreq;

typedef struct mw_server_opts {
    size_t max_body;        /* bytes; over it: 413 */
    int idle_timeout_s;     /* keep-alive and slow-client timeout */
    int max_conns;          /* open connections; at it, accepting pauses */
} mw_server_opts;

/* Called once per complete request. The handler must eventually call
 * mw_sreq_reply exactly once, now or later. */
typedef void (*mw_server_cb)(mw_sreq *r, void *ud);

mw_server *mw_server_create(struct event_base *base,
                            const mw_server_opts *opts, mw_server_cb cb,
                            void *ud, mw_err *e);
/* Listens on "HOST:PORT" (port 0 picks one): an IPv4 address, an IPv6
 * address in brackets, a host name, or an empty host for every IPv4
 * address. */
int mw_server_listen(mw_server *s, const char *hostport, mw_err *e);
/* Checks "HOST:PORT" as mw_server_listen would read it, binding nothing:
 * 0, or -1 with e set. */
int mw_server_check_address(const char *hostport, mw_err *e);
/* The port actually bound, after listen. */
int mw_server_port(const mw_server *s);
/* Connections open now. */
int mw_server_open(const mw_server *s);
/* The address actually bound, after listen: "127.0.0.1:8420",
 * "[::1]:8420". */
const char *mw_server_address(const mw_server *s);
/* Stops accepting new connections; open ones finish their request. */
void mw_server_stop_accepting(mw_server *s);
/* Closes every connection; pending requests are dropped unanswered. */
void mw_server_destroy(mw_server *s);
/* Requests received and not yet answered. */
long mw_server_pending(const mw_server *s);

const char *mw_sreq_method(const mw_sreq *r);
const char *mw_sreq_path(const mw_sreq *r);  /* without the query */
const char *mw_sreq_query(const mw_sreq *r); /* "" when none */
/* A request header by case-insensitive name, or NULL. */
const char *mw_sreq_header(const mw_sreq *r, const char *name);
const char *mw_sreq_body(const mw_sreq *r, size_t *len);
int mw_sreq_nheaders(const mw_sreq *r);
void mw_sreq_header_at(const mw_sreq *r, int i, const char **name,
                       const char **value);
const char *mw_sreq_peer(const mw_sreq *r);
/* Monotonic milliseconds when the request was complete. */
double mw_sreq_started_ms(const mw_sreq *r);

/* Sends the reply and releases r. headers: "Name: value" lines, may be
 * NULL. When the client has gone, only releases r. */
void mw_sreq_reply(mw_sreq *r, int status, const char *content_type,
                   const char *body, size_t len, const char *const *headers,
                   size_t nheaders);

#endif
