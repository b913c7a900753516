/* SPDX-License-Identifier: MIT */
/* libcurl multi on libevent: sockets and the single multi timer become
 * libevent events, and finished transfers are collected after each action.
 * libcurl never sends a request body twice on its own: see on_prereq and
 * on_seek. */
#include "http.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "log.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_CONNECT_MS 10000L
#define DEFAULT_MAX_BODY (16u << 20)
#define MAX_REDIRECTS 5L
/* Finished transfers kept for the next requests, each with its easy
 * handle: a reused handle keeps its buffers and every option that does not
 * change between requests, so a request sets only the few that do. */
#define IDLE_MAX 64

struct mw_http {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    size_t pending;
    int keepalive;       /* reuse connections (MOONWIRE_HTTP_KEEPALIVE) */
    int proxy_env;       /* a proxy variable was set at start */
    struct xfer *active; /* doubly linked, for destroy */
    struct xfer *idle[IDLE_MAX];
    int n_idle;
    struct sock **socks;      /* by descriptor; NULL where none */
    size_t n_socks;
    struct sock *idle_socks;  /* idle connections still watched */
    struct sock *dispatching; /* whose event is being handled */
    unsigned rx_turn;         /* counts socket actions, see note_rx */
    struct xfer *rx;          /* answered in part in this turn */
};

typedef struct xfer {
    mw_http *h;
    CURL *easy;
    struct curl_slist *hdrs; /* one block: see set_headers */
    char *body;
    size_t body_len;
    size_t body_off;
    size_t max_body;
    mw_http_cb cb;
    void *ud;
    mw_http_resp resp;
    char errbuf[CURL_ERROR_SIZE];
    int in_memory;    /* the body is libcurl's to send (CURLOPT_POSTFIELDS) */
    int attempts;     /* times libcurl was about to send the request */
    curl_socket_t fd; /* the last socket libcurl watched for it */
    unsigned rx_turn; /* the last turn in which answer bytes came */
    struct xfer *rx_next;
    struct xfer *prev, *next;
} xfer;

/* A socket libcurl asked us to watch, with one libevent event that is
 * changed in place when libcurl changes what it waits for. When a
 * transfer ends, libcurl says REMOVE even though the connection stays open
 * for the next request; a connection socket then stays registered for
 * reading, so that a request on a kept-alive connection costs no epoll
 * change. That is safe only because such a socket reaches on_close before
 * it is closed: libevent must never believe a descriptor is watched once
 * its number may belong to another socket. Idle connections are let go
 * as soon as no transfer runs, so that an otherwise empty loop can end
 * (`moonwire run` returns when it does). */
typedef struct sock {
    mw_http *h;
    struct event *ev;
    curl_socket_t fd;
    short kind;   /* EV_READ | EV_WRITE as registered; 0 for none */
    int in_use;   /* libcurl watches it (a poll set, and no REMOVE since) */
    int conn;     /* a connection socket (see on_sockopt) */
    int released; /* let go while its event was handled; freed after */
    struct sock *prev_idle, *next_idle; /* in h->idle_socks, or both NULL */
} sock;

static void check_done(mw_http *h);
static void on_socket_event(evutil_socket_t fd, short what, void *arg);

/* ---- sockets ------------------------------------------------------------- */

static sock *sock_at(mw_http *h, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < h->n_socks ? h->socks[fd] : NULL;
}

static sock *sock_add(mw_http *h, curl_socket_t fd)
{
    sock *sk;

    if ((size_t)fd >= h->n_socks) {
        size_t n = (size_t)fd < 64 ? 64 : 2 * (size_t)fd;
        sock **t = realloc(h->socks, n * sizeof(*t));

        if (!t)
            return NULL;
        memset(t + h->n_socks, 0, (n - h->n_socks) * sizeof(*t));
        h->socks = t;
        h->n_socks = n;
    }
    if (!(sk = calloc(1, sizeof(*sk))))
        return NULL;
    sk->h = h;
    sk->fd = fd;
    h->socks[fd] = sk;
    return sk;
}

/* Registers the socket for kind (0: for nothing). */
static int sock_watch(sock *sk, short kind)
{
    struct event_base *base = sk->h->base;

    if (kind == sk->kind)
        return 0;
    if (sk->kind && event_del(sk->ev) < 0)
        return -1;
    sk->kind = 0;
    if (!kind)
        return 0;
    if (!sk->ev)
        sk->ev = event_new(base, sk->fd, kind | EV_PERSIST, on_socket_event, sk);
    else if (event_assign(sk->ev, base, sk->fd, kind | EV_PERSIST,
                          on_socket_event, sk) < 0)
        return -1;
    if (!sk->ev || event_add(sk->ev, NULL) < 0)
        return -1;
    sk->kind = kind;
    return 0;
}

static int is_idle(const mw_http *h, const sock *sk)
{
    return sk->prev_idle || h->idle_socks == sk;
}

static void idle_add(mw_http *h, sock *sk)
{
    if (is_idle(h, sk))
        return;
    sk->prev_idle = NULL;
    sk->next_idle = h->idle_socks;
    if (h->idle_socks)
        h->idle_socks->prev_idle = sk;
    h->idle_socks = sk;
}

static void idle_remove(mw_http *h, sock *sk)
{
    if (!is_idle(h, sk))
        return;
    if (sk->prev_idle)
        sk->prev_idle->next_idle = sk->next_idle;
    else
        h->idle_socks = sk->next_idle;
    if (sk->next_idle)
        sk->next_idle->prev_idle = sk->prev_idle;
    sk->prev_idle = sk->next_idle = NULL;
}

/* Called when no transfer runs: see sock. */
static void idle_unwatch(mw_http *h)
{
    while (h->idle_socks) {
        sock *sk = h->idle_socks;

        idle_remove(h, sk);
        sock_watch(sk, 0);
    }
}

static void sock_free(sock *sk)
{
    if (sk->ev)
        event_free(sk->ev);
    free(sk);
}

/* Stops watching a socket and forgets it; the memory waits for the end of
 * the event being handled if it is that socket's. */
static void sock_release(mw_http *h, sock *sk)
{
    idle_remove(h, sk);
    sock_watch(sk, 0);
    h->socks[sk->fd] = NULL;
    if (sk == h->dispatching)
        sk->released = 1;
    else
        sock_free(sk);
}

/* CURLOPT_SOCKOPTFUNCTION: marks the sockets of connections, the ones
 * libcurl closes through on_close. */
static int on_sockopt(void *clientp, curl_socket_t fd, curlsocktype purpose)
{
    mw_http *h = clientp;
    sock *sk = sock_at(h, fd);

    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKOPT_OK;
    if (sk)
        sock_release(h, sk); /* left over from an earlier socket */
    if (!(sk = sock_add(h, fd)))
        return CURL_SOCKOPT_ERROR;
    sk->conn = 1;
    return CURL_SOCKOPT_OK;
}

/* CURLOPT_CLOSESOCKETFUNCTION */
static int on_close(void *clientp, curl_socket_t fd)
{
    mw_http *h = clientp;
    sock *sk = sock_at(h, fd);

    if (sk)
        sock_release(h, sk);
    return close(fd);
}

/* ---- libevent glue ------------------------------------------------------- */

/* Sends the ACK the kernel is holding back. A peer that writes its headers
 * and body in two segments (Nagle on its side) sends the second only once
 * the first is acknowledged, and our delayed ACK would make that 40 ms a
 * request. Needed only when a read left an answer incomplete, which
 * answers in one segment never do. */
static void ack_now(curl_socket_t fd)
{
#ifdef TCP_QUICKACK
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &(int){1}, sizeof(int));
#else
    (void)fd;
#endif
}

static void turn_begin(mw_http *h)
{
    h->rx_turn++;
    h->rx = NULL;
}

/* After a socket action: collects finished transfers, then acknowledges
 * for each one left with part of its answer. A transfer that has kept its
 * connection since the last one ended there may not have told us its
 * socket; `fallback` is the socket the action was for, if any. */
static void turn_end(mw_http *h, curl_socket_t fallback)
{
    check_done(h);
    for (xfer *x = h->rx; x; x = x->rx_next) {
        curl_socket_t fd = x->fd != CURL_SOCKET_BAD ? x->fd : fallback;

        if (fd != CURL_SOCKET_BAD)
            ack_now(fd);
    }
    h->rx = NULL;
}

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
    sock *sk = arg;
    mw_http *h = sk->h;
    int flags = 0;
    int running;

    /* An idle connection became readable: the peer closed it, most
     * likely. libcurl checks a connection before it reuses one. */
    if (!sk->in_use) {
        idle_remove(h, sk);
        sock_watch(sk, 0);
        return;
    }
    if (what & EV_READ)
        flags |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        flags |= CURL_CSELECT_OUT;
    h->dispatching = sk;
    turn_begin(h);
    curl_multi_socket_action(h->multi, fd, flags, &running);
    turn_end(h, fd);
    h->dispatching = NULL;
    if (sk->released)
        sock_free(sk);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    mw_http *h = arg;
    int running;

    (void)fd;
    (void)what;
    turn_begin(h);
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    turn_end(h, CURL_SOCKET_BAD);
}

/* CURLMOPT_SOCKETFUNCTION */
static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp,
                          void *socketp)
{
    mw_http *h = userp;
    sock *sk = sock_at(h, s);
    xfer *x = NULL;
    short kind = 0;

    (void)socketp;
    if (what == CURL_POLL_REMOVE) {
        if (!sk)
            return 0;
        sk->in_use = 0;
        if (!sk->conn)
            sock_release(h, sk);
        else if (sk->kind & EV_WRITE)
            return sock_watch(sk, 0); /* it would wake the loop at once */
        else if (sk->kind)
            idle_add(h, sk);
        return 0;
    }
    if (what & CURL_POLL_IN)
        kind |= EV_READ;
    if (what & CURL_POLL_OUT)
        kind |= EV_WRITE;
    if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x) == CURLE_OK && x)
        x->fd = s;
    if (!sk && !(sk = sock_add(h, s)))
        return -1;
    idle_remove(h, sk);
    sk->in_use = 1;
    return sock_watch(sk, kind);
}

/* CURLMOPT_TIMERFUNCTION: arm or disarm the one multi timer. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    mw_http *h = userp;
    struct timeval tv;

    (void)multi;
    if (timeout_ms < 0)
        return evtimer_del(h->timer);
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return evtimer_add(h->timer, &tv);
}

/* ---- transfers ----------------------------------------------------------- */

/* Lists, once a turn, a transfer that received answer bytes in it;
 * finish() takes it off again if the answer was complete. */
static void note_rx(xfer *x)
{
    mw_http *h = x->h;

    if (x->rx_turn != h->rx_turn) {
        x->rx_turn = h->rx_turn;
        x->rx_next = h->rx;
        h->rx = x;
    }
}

static void forget_rx(mw_http *h, xfer *x)
{
    xfer **p = &h->rx;

    if (x->rx_turn != h->rx_turn)
        return;
    while (*p && *p != x)
        p = &(*p)->rx_next;
    if (*p)
        *p = x->rx_next;
    x->rx_turn = 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    xfer *x = arg;
    size_t len = size * n;

    note_rx(x);
    if (x->resp.body.len + len > x->max_body) {
        snprintf(x->resp.error, sizeof(x->resp.error),
                 "response body larger than %zu bytes", x->max_body);
        x->resp.error_code = "E_HTTP_TOO_LARGE";
        return 0;
    }
    return mw_buf_add(&x->resp.body, p, len) == 0 ? len : 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    xfer *x = arg;
    size_t len = size * n;
    size_t end = len;

    note_rx(x);
    /* A new status line (after 100 Continue or a redirect) starts over. */
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        mw_buf_reset(&x->resp.headers);
        return len;
    }
    while (end > 0 && (p[end - 1] == '\r' || p[end - 1] == '\n'))
        end--;
    if (end == 0 || !memchr(p, ':', end))
        return len;
    if (mw_buf_add(&x->resp.headers, p, end) < 0 ||
        mw_buf_addc(&x->resp.headers, '\n') < 0)
        return 0;
    return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *arg)
{
    xfer *x = arg;
    size_t left = x->body_len - x->body_off;
    size_t len = size * n < left ? size * n : left;

    memcpy(p, x->body + x->body_off, len);
    x->body_off += len;
    return len;
}

/* A body goes through on_read only when redirects may be followed (GET
 * or HEAD with a body). Refusing to seek is what stops libcurl from
 * re-sending it, on a fresh connection after a reused one died
 * mid-request or to a redirect's target. */
static int on_seek(void *arg, curl_off_t offset, int origin)
{
    (void)arg;
    (void)offset;
    (void)origin;
    return CURL_SEEKFUNC_CANTSEEK;
}

/* CURLOPT_PREREQFUNCTION: called each time libcurl is about to send the
 * request. Any other body is handed over in memory, so that it leaves in
 * one write with the headers; libcurl could then send it again by itself
 * when a reused connection dies under the first attempt, so a second
 * attempt is refused: whether to retry is the node's decision. */
static int on_prereq(void *arg, char *remote_ip, char *local_ip,
                     int remote_port, int local_port)
{
    xfer *x = arg;

    (void)remote_ip;
    (void)local_ip;
    (void)remote_port;
    (void)local_port;
    if (!x->in_memory || x->attempts++ == 0)
        return CURL_PREREQFUNC_OK;
    x->resp.error_code = "E_HTTP_CONNECTION_LOST";
    snprintf(x->resp.error, sizeof(x->resp.error), "the connection was "
             "lost after the request was sent; it was not sent again, and "
             "the target may have processed it");
    return CURL_PREREQFUNC_ABORT;
}

/* Options that are the same for every request of this client. */
static void set_constant(xfer *x)
{
    CURL *c = x->easy;

    if (!x->h->keepalive)
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    /* Without a proxy variable, libcurl would still look for five of them
     * on every request; the empty strings say "none" once. */
    if (!x->h->proxy_env) {
        curl_easy_setopt(c, CURLOPT_PROXY, "");
        curl_easy_setopt(c, CURLOPT_NOPROXY, "");
    }
    curl_easy_setopt(c, CURLOPT_PRIVATE, x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, x);
    curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(c, CURLOPT_PREREQDATA, x);
    curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    curl_easy_setopt(c, CURLOPT_SOCKOPTDATA, x->h);
    curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, on_close);
    curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, x->h);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "moonwire/" MW_VERSION);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    /* the smallest curl allows: only GET and HEAD bodies use on_read */
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
}

/* A transfer from the idle pool, or a new one. Its response buffers are
 * empty and its handle out of the multi handle. */
static xfer *xfer_get(mw_http *h)
{
    xfer *x;

    if (h->n_idle > 0)
        return h->idle[--h->n_idle];
    x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->h = h;
    x->easy = curl_easy_init();
    if (!x->easy) {
        free(x);
        return NULL;
    }
    mw_buf_init(&x->resp.headers);
    mw_buf_init(&x->resp.body);
    set_constant(x);
    return x;
}

/* Ends a transfer whose handle is out of the multi handle: what belonged
 * to its request is freed, and the rest goes back to the pool. */
static void xfer_put(xfer *x)
{
    mw_http *h;

    if (!x)
        return;
    h = x->h;
    free(x->hdrs);
    free(x->body);
    mw_buf_free(&x->resp.headers);
    mw_buf_free(&x->resp.body);
    if (h->n_idle < IDLE_MAX) {
        x->hdrs = NULL;
        x->body = NULL;
        h->idle[h->n_idle++] = x;
        return;
    }
    curl_easy_cleanup(x->easy);
    free(x);
}

static void unlink_xfer(mw_http *h, xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        h->active = x->next;
    if (x->next)
        x->next->prev = x->prev;
    h->pending--;
}

static const char *curl_code_name(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return "E_HTTP_TIMEOUT";
    case CURLE_COULDNT_CONNECT:
        return "E_HTTP_CONNECT";
    case CURLE_COULDNT_RESOLVE_HOST:
        return "E_HTTP_RESOLVE";
    case CURLE_GOT_NOTHING:
        return "E_HTTP_EMPTY_REPLY";
    case CURLE_SEND_FAIL_REWIND:
        return "E_HTTP_CONNECTION_LOST";
    default:
        return "E_HTTP_TRANSPORT";
    }
}

static void finish(mw_http *h, xfer *x, CURLcode rc)
{
    double secs = 0;

    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->resp.status);
    curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &secs);
    x->resp.total_ms = round(secs * 1e6) / 1000.0; /* to the microsecond */
    if (rc != CURLE_OK && !x->resp.error_code) {
        x->resp.error_code = curl_code_name(rc);
        snprintf(x->resp.error, sizeof(x->resp.error), "%s",
                 x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
    }
    if (rc != CURLE_OK)
        x->resp.status = 0;
    forget_rx(h, x);
    curl_multi_remove_handle(h->multi, x->easy);
    unlink_xfer(h, x);
    x->cb(&x->resp, x->ud);
    xfer_put(x);
}

static void check_done(mw_http *h)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(h->multi, &left))) {
        xfer *x = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        finish(h, x, msg->data.result);
    }
    if (h->pending == 0)
        idle_unwatch(h);
}

/* ---- setup --------------------------------------------------------------- */

/* A reused handle keeps the last request's method: each request sets every
 * option that decides it. */
static void set_method(xfer *x, const char *method)
{
    CURL *c = x->easy;
    int get = strcasecmp(method, "GET") == 0;
    int head = strcasecmp(method, "HEAD") == 0;
    int post = strcasecmp(method, "POST") == 0;
    int has_body = x->body_len > 0 || post || strcasecmp(method, "PUT") == 0 ||
                   strcasecmp(method, "PATCH") == 0;

    /* POSTFIELDS first: setting it also switches the handle to POST */
    x->in_memory = has_body && !get && !head;
    curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                     x->in_memory ? (x->body ? x->body : "") : NULL);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    if (head)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (has_body) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)x->body_len);
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST,
                     post || get || head ? NULL : method);
    /* Only safe methods follow redirects: a POST is never turned into a
     * GET, nor re-sent elsewhere, behind the caller's back. */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, get || head ? 1L : 0L);
}

/* The request's header lines and a last one that turns off "Expect:
 * 100-continue", as one allocation: the nodes, then the text they point
 * at. libcurl only reads the list, so it need not come from
 * curl_slist_append, and one free() releases it. */
static int set_headers(xfer *x, const mw_http_req *req)
{
    static const char no_expect[] = "Expect:";
    size_t n = req->nheaders + 1;
    size_t size = n * sizeof(struct curl_slist) + sizeof(no_expect);
    struct curl_slist *l;
    char *text;

    for (size_t i = 0; i < req->nheaders; i++)
        size += strlen(req->headers[i]) + 1;
    if (!(l = malloc(size)))
        return -1;
    text = (char *)(l + n);
    for (size_t i = 0; i < n; i++) {
        const char *line = i < req->nheaders ? req->headers[i] : no_expect;
        size_t len = strlen(line) + 1;

        l[i].data = memcpy(text, line, len);
        l[i].next = i + 1 < n ? &l[i + 1] : NULL;
        text += len;
    }
    x->hdrs = l;
    return curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, l) == CURLE_OK
               ? 0 : -1;
}

static void set_request(xfer *x, const mw_http_req *req)
{
    CURL *c = x->easy;

    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                 : DEFAULT_CONNECT_MS);
    set_method(x, req->method);
}

/* Fresh per-request state of a transfer from the pool. */
static int xfer_prepare(xfer *x, const mw_http_req *req, mw_http_cb cb,
                        void *ud)
{
    x->cb = cb;
    x->ud = ud;
    x->max_body = req->max_body ? req->max_body : DEFAULT_MAX_BODY;
    x->body_len = 0;
    x->body_off = 0;
    x->errbuf[0] = '\0';
    x->attempts = 0;
    x->fd = CURL_SOCKET_BAD;
    x->rx_turn = 0;
    x->resp.status = 0;
    x->resp.error_code = NULL;
    x->resp.error[0] = '\0';
    x->resp.total_ms = 0;
    x->prev = NULL;
    if (req->body_len > 0) {
        if (!(x->body = malloc(req->body_len)))
            return -1;
        memcpy(x->body, req->body, req->body_len);
        x->body_len = req->body_len;
    }
    set_request(x, req);
    return set_headers(x, req);
}

int mw_http_start(mw_http *h, const mw_http_req *req, mw_http_cb cb,
                  void *ud, mw_err *e)
{
    xfer *x = xfer_get(h);

    if (!x || xfer_prepare(x, req, cb, ud) < 0) {
        xfer_put(x);
        mw_err_set(e, "E_NOMEM", "out of memory starting a request");
        return -1;
    }
    if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
        mw_err_set(e, "E_HTTP_START", "cannot start request to %s", req->url);
        xfer_put(x);
        return -1;
    }
    x->next = h->active;
    if (h->active)
        h->active->prev = x;
    h->active = x;
    h->pending++;
    return 0;
}

size_t mw_http_pending(const mw_http *h)
{
    return h ? h->pending : 0;
}

/* Whether the environment names a proxy the way libcurl reads it (it
 * ignores HTTP_PROXY on purpose; no_proxy matters only beside a proxy). */
static int proxy_env_set(void)
{
    static const char *const names[] = {
        "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (getenv(names[i]))
            return 1;
    return 0;
}

mw_http *mw_http_create(struct event_base *base, mw_err *e)
{
    mw_http *h = calloc(1, sizeof(*h));

    if (!h || !(h->multi = curl_multi_init()) ||
        !(h->timer = evtimer_new(base, on_timer, h))) {
        mw_http_destroy(h);
        mw_err_set(e, "E_NOMEM", "cannot create the HTTP client");
        return NULL;
    }
    h->base = base;
    /* Connections are reused; MOONWIRE_HTTP_KEEPALIVE=0 opens a new one
     * for every request, for peers that mishandle reuse. */
    h->proxy_env = proxy_env_set();
    h->keepalive = !(getenv("MOONWIRE_HTTP_KEEPALIVE") &&
                     strcmp(getenv("MOONWIRE_HTTP_KEEPALIVE"), "0") == 0);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
    return h;
}

void mw_http_destroy(mw_http *h)
{
    if (!h)
        return;
    while (h->active) {
        xfer *x = h->active;
        curl_multi_remove_handle(h->multi, x->easy);
        unlink_xfer(h, x);
        xfer_put(x);
    }
    while (h->n_idle > 0) {
        xfer *x = h->idle[--h->n_idle];
        curl_easy_cleanup(x->easy);
        free(x);
    }
    /* closes the connections, through on_close */
    if (h->multi)
        curl_multi_cleanup(h->multi);
    for (size_t i = 0; i < h->n_socks; i++)
        if (h->socks[i])
            sock_free(h->socks[i]);
    free(h->socks);
    if (h->timer)
        event_free(h->timer);
    free(h);
}
