/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 server on bufferevents with http-parser. One request at a time
 * per connection: reading pauses from a complete request until its reply
 * is queued, which keeps pipelined requests in order and lets a reply wait
 * for a durable write. Limits and parse errors get JSON answers. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <http_parser.h>

#include "host.h"
#include "log.h"

#define MAX_HEADERS 100
#define MAX_URL 8192

typedef struct conn conn;

struct mw_sreq {
    conn *c;            /* NULL once the client has gone */
    mw_server *s;
    char method[16];
    mw_buf url;
    char *path;
    char *query;
    char *hname[MAX_HEADERS];
    char *hvalue[MAX_HEADERS];
    int nheaders;
    mw_buf body;
    int keepalive;
    double started_ms;
};

struct conn {
    mw_server *s;
    struct bufferevent *bev;
    http_parser parser;
    mw_sreq *req;       /* the request being read or answered */
    mw_buf field;       /* header name being read */
    mw_buf value;       /* header value being read */
    int in_value;
    int waiting;        /* a complete request awaits its reply */
    int closing;        /* close once the output is written */
    int draining;       /* write side shut; reading until the peer closes */
    int bad_version;    /* the request is not HTTP/1.x */
    const char *repeated; /* a header that may appear once, twice */
    double begun_ms;    /* when the request being read began, or 0 */
    char peer[64];
    conn *prev, *next;
};

struct mw_server {
    struct event_base *base;
    struct evconnlistener *listener;
    mw_server_opts opts;
    mw_server_cb cb;
    void *ud;
    conn *conns;
    int open;  /* connections in conns */
    int full;  /* not accepting: open reached opts.max_conns */
    long pending;
    int port;
    char address[INET6_ADDRSTRLEN + 8]; /* bound: "1.2.3.4:80", "[::1]:80" */
    struct event *resume; /* re-enables accepting after an accept error */
};

static http_parser_settings settings;

static void conn_close(conn *c);
static void conn_feed(conn *c);

/* ---- requests ------------------------------------------------------------ */

static void req_free(mw_sreq *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nheaders; i++) {
        free(r->hname[i]);
        free(r->hvalue[i]);
    }
    mw_buf_free(&r->url);
    mw_buf_free(&r->body);
    free(r->path);
    free(r);
}

const char *mw_sreq_method(const mw_sreq *r) { return r->method; }
const char *mw_sreq_path(const mw_sreq *r) { return r->path ? r->path : "/"; }
const char *mw_sreq_query(const mw_sreq *r) { return r->query ? r->query : ""; }
const char *mw_sreq_peer(const mw_sreq *r) { return r->c ? r->c->peer : "-"; }
double mw_sreq_started_ms(const mw_sreq *r) { return r->started_ms; }

const char *mw_sreq_header(const mw_sreq *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->hname[i], name) == 0)
            return r->hvalue[i];
    }
    return NULL;
}

int mw_sreq_nheaders(const mw_sreq *r) { return r->nheaders; }

void mw_sreq_header_at(const mw_sreq *r, int i, const char **name,
                       const char **value)
{
    *name = r->hname[i];
    *value = r->hvalue[i];
}

const char *mw_sreq_body(const mw_sreq *r, size_t *len)
{
    *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
    }
}

void mw_sreq_reply(mw_sreq *r, int status, const char *content_type,
                   const char *body, size_t len, const char *const *headers,
                   size_t nheaders)
{
    conn *c = r->c;
    struct evbuffer *out;

    r->s->pending--;
    if (!c) {
        req_free(r);
        return;
    }
    out = bufferevent_get_output(c->bev);
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n",
                        status, reason(status), len);
    if (content_type)
        evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
    for (size_t i = 0; i < nheaders; i++)
        evbuffer_add_printf(out, "%s\r\n", headers[i]);
    if (!r->keepalive || c->closing)
        evbuffer_add_printf(out, "Connection: close\r\n");
    evbuffer_add(out, "\r\n", 2);
    if (len && strcmp(r->method, "HEAD") != 0)
        evbuffer_add(out, body, len);
    if (!r->keepalive)
        c->closing = 1;
    c->req = NULL;
    c->waiting = 0;
    req_free(r);
    if (!c->closing) {
        http_parser_pause(&c->parser, 0);
        bufferevent_enable(c->bev, EV_READ);
        conn_feed(c);
    }
}

/* Answers a protocol-level problem with a JSON error and closes. */
static void reply_error(conn *c, int status, const char *code,
                        const char *msg)
{
    char body[512];
    int n;

    n = snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\","
                 "\"message\":\"%s\"}}", code, msg);
    c->closing = 1;
    if (!c->req) {
        c->req = calloc(1, sizeof(*c->req));
        if (!c->req) {
            conn_close(c);
            return;
        }
        c->req->c = c;
        c->req->s = c->s;
        snprintf(c->req->method, sizeof(c->req->method), "GET");
    }
    c->s->pending++;
    c->req->keepalive = 0;
    bufferevent_disable(c->bev, EV_READ);
    mw_sreq_reply(c->req, status, "application/json", body, (size_t)n, NULL,
                  0);
}

/* ---- parser callbacks ---------------------------------------------------- */

static int on_begin(http_parser *p)
{
    conn *c = p->data;

    req_free(c->req);
    c->req = calloc(1, sizeof(*c->req));
    if (!c->req)
        return -1;
    c->req->c = c;
    c->req->s = c->s;
    c->begun_ms = mw_host_now_ms();
    mw_buf_reset(&c->field);
    mw_buf_reset(&c->value);
    c->in_value = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;

    if (c->req->url.len + n > MAX_URL)
        return -1;
    return mw_buf_add(&c->req->url, at, n);
}

static int end_header(conn *c)
{
    mw_sreq *r = c->req;

    if (c->field.len == 0)
        return 0;
    if (r->nheaders >= MAX_HEADERS)
        return -1;
    r->hname[r->nheaders] = strdup(c->field.data);
    r->hvalue[r->nheaders] = strdup(c->value.data ? c->value.data : "");
    if (!r->hname[r->nheaders] || !r->hvalue[r->nheaders])
        return -1;
    r->nheaders++;
    mw_buf_reset(&c->field);
    mw_buf_reset(&c->value);
    return 0;
}

static int on_field(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;

    if (c->in_value) {
        if (end_header(c) < 0)
            return -1;
        c->in_value = 0;
    }
    return mw_buf_add(&c->field, at, n);
}

static int on_value(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;

    c->in_value = 1;
    if (!c->value.data && mw_buf_add(&c->value, "", 0) < 0)
        return -1;
    return mw_buf_add(&c->value, at, n);
}

static int split_url(mw_sreq *r)
{
    const char *u = r->url.data ? r->url.data : "/";
    const char *q = strchr(u, '?');

    r->path = strdup(u);
    if (!r->path)
        return -1;
    if (q) {
        r->path[q - u] = '\0';
        r->query = r->path + (q - u) + 1;
    }
    return 0;
}

/* Headers a request may carry once: two differing Authorization or
 * Content-Type lines leave it unclear which one the sender meant. */
static const char *repeated_header(const mw_sreq *r)
{
    static const char *const once[] = {"authorization", "content-type",
                                       "content-length", "content-encoding",
                                       "host"};

    for (size_t k = 0; k < sizeof(once) / sizeof(once[0]); k++) {
        int seen = 0;

        for (int i = 0; i < r->nheaders; i++)
            if (strcasecmp(r->hname[i], once[k]) == 0 && seen++)
                return once[k];
    }
    return NULL;
}

static int on_headers_done(http_parser *p)
{
    conn *c = p->data;
    mw_sreq *r = c->req;

    if (c->in_value && end_header(c) < 0)
        return -1;
    c->in_value = 0;
    if (p->http_major != 1) {
        c->bad_version = 1;
        return -1;
    }
    if ((c->repeated = repeated_header(r)))
        return -1;
    snprintf(r->method, sizeof(r->method), "%s",
             http_method_str((enum http_method)p->method));
    if (split_url(r) < 0)
        return -1;
    if (p->content_length != ULLONG_MAX &&
        p->content_length > (unsigned long long)c->s->opts.max_body) {
        c->closing = 1;
        return -1;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;

    if (c->req->body.len + n > c->s->opts.max_body) {
        c->closing = 1;
        return -1;
    }
    return mw_buf_add(&c->req->body, at, n);
}

static int on_complete(http_parser *p)
{
    conn *c = p->data;

    c->begun_ms = 0;
    c->req->keepalive = http_should_keep_alive(p);
    c->req->started_ms = mw_host_now_ms();
    c->waiting = 1;
    http_parser_pause(p, 1);
    return 0;
}

/* ---- connections ----------------------------------------------------------- */

static void too_large(conn *c)
{
    char msg[160];

    snprintf(msg, sizeof(msg), "the request body is larger than the limit "
             "of %zu bytes", c->s->opts.max_body);
    reply_error(c, 413, "E_BODY_TOO_LARGE", msg);
}

/* What went wrong, in the client's terms rather than the parser's. */
static const char *parse_message(enum http_errno err)
{
    switch (err) {
    case HPE_CB_url:
        return "the request URL is longer than 8192 bytes";
    case HPE_CB_header_field:
    case HPE_CB_header_value:
    case HPE_CB_headers_complete:
        return "the request has more than 100 headers, or headers too large";
    case HPE_INVALID_METHOD:
        return "unknown HTTP method";
    case HPE_INVALID_VERSION:
        return "unsupported HTTP version";
    default:
        return http_errno_description(err);
    }
}

/* Parses what has arrived; dispatches a complete request. */
static void conn_feed(conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);

    while (!c->waiting && !c->closing && evbuffer_get_length(in) > 0) {
        size_t len = evbuffer_get_contiguous_space(in);
        const char *data = (const char *)evbuffer_pullup(in, (ssize_t)len);
        size_t used = http_parser_execute(&c->parser, &settings, data, len);
        enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);

        evbuffer_drain(in, used);
        if (err == HPE_PAUSED || c->waiting) {
            mw_sreq *r = c->req;
            bufferevent_disable(c->bev, EV_READ);
            c->s->pending++;
            c->s->cb(r, c->s->ud);
            return;
        }
        if (err == HPE_OK && c->begun_ms > 0 &&
            mw_host_now_ms() - c->begun_ms > c->s->opts.idle_timeout_s * 1000.0) {
            /* Trickling bytes resets the idle timer; a request still
             * has idle_timeout_s in all to arrive. */
            reply_error(c, 408, "E_REQUEST_TIMEOUT", "the request took too "
                        "long to arrive");
            return;
        }
        if (err != HPE_OK) {
            if (c->bad_version) {
                reply_error(c, 505, "E_HTTP_VERSION", "only HTTP/1.0 and "
                            "HTTP/1.1 are spoken here");
            } else if (c->repeated) {
                char msg[96];

                snprintf(msg, sizeof(msg), "the request carries the %s "
                         "header more than once", c->repeated);
                reply_error(c, 400, "E_HTTP_HEADER", msg);
            } else if (c->closing && c->req && c->req->path) {
                too_large(c);
            } else if (err == HPE_HEADER_OVERFLOW) {
                reply_error(c, 431, "E_HEADERS_TOO_LARGE",
                            "the request headers are too large");
            } else {
                reply_error(c, 400, "E_HTTP_PARSE", parse_message(err));
            }
            return;
        }
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    conn *c = arg;

    if (c->draining) {
        struct evbuffer *in = bufferevent_get_input(bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    conn_feed(c);
}

/* After the last reply: shut the write side and read until the peer
 * closes (or a few seconds pass), so that a client still sending a body
 * we refused reads our answer instead of a reset. */
static void on_write(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    struct timeval linger = {5, 0};

    if (!c->closing || c->waiting || c->draining ||
        evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    c->draining = 1;
    shutdown(bufferevent_getfd(bev), SHUT_WR);
    bufferevent_set_timeouts(bev, &linger, NULL);
    bufferevent_enable(bev, EV_READ);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    conn *c = arg;

    /* A half-close: the peer has sent all it will but still reads. Answer
     * the request in hand; on_write closes once the answer is out. */
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && !c->draining &&
        (c->waiting ||
         evbuffer_get_length(bufferevent_get_output(bev)) > 0)) {
        c->closing = 1;
        bufferevent_disable(bev, EV_READ);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        /* A request still being answered keeps its struct; the reply
         * will see that the client has gone. */
        if (c->waiting && c->req) {
            c->req->c = NULL;
            c->req = NULL;
        }
        conn_close(c);
    }
}

static void conn_close(conn *c)
{
    mw_server *s = c->s;

    if (--s->open < s->opts.max_conns && s->full) {
        s->full = 0;
        if (s->listener)
            evconnlistener_enable(s->listener);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->waiting && c->req)
        c->req->c = NULL;
    else
        req_free(c->req);
    bufferevent_free(c->bev);
    mw_buf_free(&c->field);
    mw_buf_free(&c->value);
    free(c);
}

/* The IP address of sa as text into ip (size bytes); returns its port. */
static int sockaddr_ip(const struct sockaddr *sa, char *ip, size_t size)
{
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, ip, (socklen_t)size);
        return ntohs(in6->sin6_port);
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &in4->sin_addr, ip, (socklen_t)size);
        return ntohs(in4->sin_port);
    }
    return 0;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int len, void *arg)
{
    mw_server *s = arg;
    conn *c = calloc(1, sizeof(*c));
    struct timeval idle = {s->opts.idle_timeout_s, 0};

    (void)len;
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    c->s = s;
    c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        evutil_closesocket(fd);
        free(c);
        return;
    }
    sockaddr_ip(sa, c->peer, sizeof(c->peer));
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    bufferevent_priority_set(c->bev, MW_PRIO_URGENT);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_set_timeouts(c->bev, &idle, &idle);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    /* At the cap, new connections wait in the kernel's backlog until one
     * closes, as nginx does, rather than each costing a descriptor. */
    if (++s->open >= s->opts.max_conns) {
        s->full = 1;
        evconnlistener_disable(l);
        MW_LOG_LIMITED(MW_LOG_WARN, "%d connections open, max_connections: "
                       "not accepting until one closes", s->open);
    }
}

/* ---- server ---------------------------------------------------------------- */

mw_server *mw_server_create(struct event_base *base,
                            const mw_server_opts *opts, mw_server_cb cb,
                            void *ud, mw_err *e)
{
    mw_server *s = calloc(1, sizeof(*s));

    if (!s) {
        mw_err_set(e, "E_NOMEM", "out of memory");
        return NULL;
    }
    http_parser_settings_init(&settings);
    settings.on_message_begin = on_begin;
    settings.on_url = on_url;
    settings.on_header_field = on_field;
    settings.on_header_value = on_value;
    settings.on_headers_complete = on_headers_done;
    settings.on_body = on_body;
    settings.on_message_complete = on_complete;
    s->base = base;
    s->opts = *opts;
    if (s->opts.max_body == 0)
        s->opts.max_body = 1 << 20;
    if (s->opts.idle_timeout_s <= 0)
        s->opts.idle_timeout_s = 60;
    if (s->opts.max_conns <= 0)
        s->opts.max_conns = 4096;
    s->cb = cb;
    s->ud = ud;
    return s;
}

/* "HOST:PORT" to the address to bind: HOST is an IPv4 address, an IPv6
 * address in brackets, a name (resolved now; its first address is taken)
 * or empty for every IPv4 address. */
static int parse_hostport(const char *hp, struct sockaddr_storage *ss,
                          socklen_t *len, mw_err *e)
{
    char host[256];
    const char *colon = strrchr(hp, ':'), *h = hp;
    size_t n;
    long port;
    char *end;
    struct addrinfo hints = {0}, *res = NULL;
    int rc;

    if (!colon)
        goto bad;
    n = (size_t)(colon - hp);
    if (hp[0] == '[') { /* [v6]:port */
        if (n < 2 || hp[n - 1] != ']')
            goto bad;
        h = hp + 1;
        n -= 2;
    }
    if (n >= sizeof(host))
        goto bad;
    memcpy(host, h, n);
    host[n] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 0 || port > 65535)
        goto bad;
    if (strchr(host, ':') && hp[0] != '[')
        goto bad; /* an IPv6 address needs its brackets */
    hints.ai_family = hp[0] == '[' ? AF_INET6 : host[0] ? AF_UNSPEC : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
    if (rc != 0) {
        mw_err_set(e, "E_CONFIG", "listen address \"%s\": %s", hp,
                   rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
bad:
    mw_err_set(e, "E_CONFIG", "listen address \"%s\" is not HOST:PORT "
               "(e.g. 127.0.0.1:8080, [::1]:8080, localhost:8080, :8080)",
               hp);
    return -1;
}

static void on_resume_accept(evutil_socket_t fd, short what, void *arg)
{
    mw_server *s = arg;

    (void)fd;
    (void)what;
    if (s->listener && !s->full)
        evconnlistener_enable(s->listener);
}

/* accept() failed (descriptors exhausted, most likely): stop accepting for
 * a moment instead of spinning on the error. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    mw_server *s = arg;
    struct timeval pause = {0, 200000};

    evconnlistener_disable(l);
    if (!s->resume)
        s->resume = evtimer_new(s->base, on_resume_accept, s);
    if (s->resume)
        evtimer_add(s->resume, &pause);
    MW_LOG_LIMITED(MW_LOG_WARN, "cannot accept connections: %s; pausing 200 ms",
                   evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

int mw_server_listen(mw_server *s, const char *hostport, mw_err *e)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";

    if (parse_hostport(hostport, &ss, &len, e) < 0)
        return -1;
    s->listener = evconnlistener_new_bind(
        s->base, on_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
        1024, (struct sockaddr *)&ss, (int)len);
    if (!s->listener) {
        mw_err_set(e, "E_LISTEN", "cannot listen on %s: %s", hostport,
                   evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        return -1;
    }
    evconnlistener_set_error_cb(s->listener, on_accept_error);
    len = sizeof(ss);
    getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&ss,
                &len);
    s->port = sockaddr_ip((struct sockaddr *)&ss, ip, sizeof(ip));
    snprintf(s->address, sizeof(s->address),
             ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, s->port);
    return 0;
}

const char *mw_server_address(const mw_server *s) { return s->address; }

int mw_server_check_address(const char *hostport, mw_err *e)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    return parse_hostport(hostport, &ss, &len, e);
}

int mw_server_port(const mw_server *s) { return s->port; }
int mw_server_open(const mw_server *s) { return s ? s->open : 0; }
long mw_server_pending(const mw_server *s) { return s ? s->pending : 0; }

void mw_server_stop_accepting(mw_server *s)
{
    if (s && s->listener) {
        evconnlistener_free(s->listener);
        s->listener = NULL;
    }
}

void mw_server_destroy(mw_server *s)
{
    if (!s)
        return;
    mw_server_stop_accepting(s);
    while (s->conns)
        conn_close(s->conns);
    if (s->resume)
        event_free(s->resume);
    free(s);
}
