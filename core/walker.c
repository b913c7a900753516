/* SPDX-License-Identifier: MIT */
/* Executions as coroutines. The walker owns the graph and the order of
 * nodes; `moonwire.runtime` owns what a node does (run_node) and the trace.
 * Yield protocol from Lua: coroutine.yield("http", req) -> resumed with
 * (res) or (nil, err); yield("sleep", ms) -> (); yield("park") -> () once
 * core.wake(exec_id) is called. */
#include "walker.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <lauxlib.h>

#include "host.h"
#include "http.h"
#include "log.h"

#define MAX_HEADERS 128

typedef struct port_edge {
    char *port;
    int to; /* node index, or -1 when the port is unwired */
} port_edge;

typedef struct graph_node {
    char *id;
    port_edge *edges;
    int nedges;
} graph_node;

struct mw_graph {
    int refs;
    int start;
    int n;
    graph_node *nodes;
};

struct mw_exec {
    mw_walker *w;
    mw_graph *g;
    long id;
    int node;
    lua_State *co;
    int co_ref;
    int exec_ref;
    int parked;
    struct event *timer;
    mw_exec_done cb;
    void *ud;
    mw_exec *prev, *next;
};

struct mw_walker {
    mw_host *h;
    int run_node_ref;
    int finish_ref;
    long next_id;
    long running;
    mw_exec *execs;
};

static char walker_key;

static void resume(mw_exec *x, int nargs);

/* ---- graph --------------------------------------------------------------- */

static void graph_free(mw_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n; i++) {
        for (int j = 0; j < g->nodes[i].nedges; j++)
            free(g->nodes[i].edges[j].port);
        free(g->nodes[i].edges);
        free(g->nodes[i].id);
    }
    free(g->nodes);
    free(g);
}

void mw_graph_unref(mw_graph *g)
{
    if (g && --g->refs == 0)
        graph_free(g);
}

static int node_index(const mw_graph *g, const char *id)
{
    for (int i = 0; i < g->n; i++) {
        if (strcmp(g->nodes[i].id, id) == 0)
            return i;
    }
    return -1;
}

/* Reads wf.next[id] (a table port -> node id) into the node's edges. */
static int read_edges(lua_State *L, mw_graph *g, graph_node *gn)
{
    int cap = 4;

    gn->edges = calloc((size_t)cap, sizeof(*gn->edges));
    if (!gn->edges)
        return -1;
    if (!lua_istable(L, -1))
        return 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
            if (gn->nedges == cap) {
                port_edge *grown = realloc(gn->edges, 2 * (size_t)cap *
                                           sizeof(*grown));
                if (!grown) {
                    lua_pop(L, 2);
                    return -1;
                }
                gn->edges = grown;
                cap *= 2;
            }
            gn->edges[gn->nedges].port = strdup(lua_tostring(L, -2));
            gn->edges[gn->nedges].to = node_index(g, lua_tostring(L, -1));
            gn->nedges++;
        }
        lua_pop(L, 1);
    }
    return 0;
}

mw_graph *mw_graph_create(lua_State *L, int idx, mw_err *e)
{
    mw_graph *g = calloc(1, sizeof(*g));
    int top = lua_gettop(L);

    if (idx < 0)
        idx = top + idx + 1;
    if (!g)
        goto nomem;
    g->refs = 1;
    lua_getfield(L, idx, "nodes");
    g->n = (int)lua_objlen(L, -1);
    g->nodes = calloc((size_t)g->n + 1, sizeof(*g->nodes));
    if (!g->nodes)
        goto nomem;
    for (int i = 0; i < g->n; i++) {
        lua_rawgeti(L, -1, i + 1);
        lua_getfield(L, -1, "id");
        g->nodes[i].id = strdup(lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
        lua_pop(L, 2);
        if (!g->nodes[i].id)
            goto nomem;
    }
    lua_getfield(L, idx, "next");
    for (int i = 0; i < g->n; i++) {
        lua_getfield(L, -1, g->nodes[i].id);
        if (read_edges(L, g, &g->nodes[i]) < 0)
            goto nomem;
        lua_pop(L, 1);
    }
    lua_getfield(L, idx, "start");
    g->start = lua_isstring(L, -1) ? node_index(g, lua_tostring(L, -1)) : -1;
    lua_settop(L, top);
    if (g->start < 0) {
        mw_err_set(e, "E_WORKFLOW", "the workflow has no start node");
        graph_free(g);
        return NULL;
    }
    return g;
nomem:
    lua_settop(L, top);
    graph_free(g);
    mw_err_set(e, "E_NOMEM", "out of memory building the workflow graph");
    return NULL;
}

/* Where `port` of node i leads: a node index, or -1 (unwired). */
static int graph_next(const mw_graph *g, int i, const char *port)
{
    const graph_node *gn = &g->nodes[i];

    for (int j = 0; port && j < gn->nedges; j++) {
        if (strcmp(gn->edges[j].port, port) == 0)
            return gn->edges[j].to;
    }
    return -1;
}

/* ---- executions ---------------------------------------------------------- */

static mw_walker *walker_of(lua_State *L)
{
    mw_walker *w;

    lua_pushlightuserdata(L, &walker_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    w = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return w;
}

static void exec_free(mw_exec *x)
{
    lua_State *L = x->w->h->L;
    mw_walker *w = x->w;

    if (x->prev)
        x->prev->next = x->next;
    else
        w->execs = x->next;
    if (x->next)
        x->next->prev = x->prev;
    w->running--;
    if (x->timer)
        event_free(x->timer);
    luaL_unref(L, LUA_REGISTRYINDEX, x->co_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, x->exec_ref);
    if (x->g)
        mw_graph_unref(x->g);
    free(x);
}

/* Ends the execution: runtime.finish(exec, ok, reason), then the callback
 * with the execution table on top of the host stack. */
static void finish(mw_exec *x, int ok, const char *reason)
{
    lua_State *L = x->w->h->L;
    mw_err e = {0};

    lua_rawgeti(L, LUA_REGISTRYINDEX, x->w->finish_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, x->exec_ref);
    lua_pushboolean(L, ok);
    if (reason)
        lua_pushstring(L, reason);
    else
        lua_pushnil(L);
    if (mw_host_pcall(L, 3, 0, &e) < 0) {
        MW_ERROR("runtime.finish failed: %s", e.msg);
        ok = 0;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, x->exec_ref);
    if (x->cb)
        x->cb(x, ok, x->ud);
    lua_pop(L, 1);
    exec_free(x);
}

static void run_node(mw_exec *x)
{
    lua_settop(x->co, 0);
    lua_rawgeti(x->co, LUA_REGISTRYINDEX, x->w->run_node_ref);
    lua_rawgeti(x->co, LUA_REGISTRYINDEX, x->exec_ref);
    lua_pushinteger(x->co, x->node + 1);
    resume(x, 2);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    mw_exec *x = arg;

    (void)fd;
    (void)what;
    x->parked = 0;
    lua_settop(x->co, 0);
    resume(x, 0);
}

static void push_headers(lua_State *co, const mw_buf *raw)
{
    const char *p = raw->data ? raw->data : "";

    lua_newtable(co);
    while (*p) {
        const char *eol = strchr(p, '\n');
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        const char *v;
        const char *end = eol;

        if (colon) {
            luaL_Buffer b;
            luaL_buffinit(co, &b);
            for (const char *k = p; k < colon; k++)
                luaL_addchar(&b, (char)(*k >= 'A' && *k <= 'Z' ? *k + 32 : *k));
            luaL_pushresult(&b);
            v = colon + 1;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
            lua_pushlstring(co, v, (size_t)(end - v));
            lua_rawset(co, -3);
        }
        p = eol + 1;
    }
}

static void on_http_done(mw_http_resp *r, void *ud)
{
    mw_exec *x = ud;
    lua_State *co = x->co;

    lua_settop(co, 0);
    if (r->error_code) {
        lua_pushnil(co);
        lua_createtable(co, 0, 2);
        lua_pushstring(co, r->error_code);
        lua_setfield(co, -2, "code");
        lua_pushstring(co, r->error);
        lua_setfield(co, -2, "message");
        lua_pushnumber(co, r->total_ms);
        lua_setfield(co, -2, "duration_ms");
        resume(x, 2);
        return;
    }
    lua_createtable(co, 0, 4);
    lua_pushinteger(co, (lua_Integer)r->status);
    lua_setfield(co, -2, "status");
    push_headers(co, &r->headers);
    lua_setfield(co, -2, "headers");
    lua_pushlstring(co, r->body.data ? r->body.data : "", r->body.len);
    lua_setfield(co, -2, "body");
    lua_pushnumber(co, r->total_ms);
    lua_setfield(co, -2, "duration_ms");
    resume(x, 1);
}

static long field_long(lua_State *co, int idx, const char *k)
{
    long v;

    lua_getfield(co, idx, k);
    v = (long)lua_tonumber(co, -1);
    lua_pop(co, 1);
    return v;
}

/* Starts the request described by the table at stack index 2. */
static int start_http(mw_exec *x, mw_err *e)
{
    lua_State *co = x->co;
    const char *hdrs[MAX_HEADERS];
    mw_http_req req = {0};

    lua_getfield(co, 2, "method");
    lua_getfield(co, 2, "url");
    lua_getfield(co, 2, "body");
    lua_getfield(co, 2, "headers");
    req.method = lua_tostring(co, 3);
    req.url = lua_tostring(co, 4);
    req.body = lua_tolstring(co, 5, &req.body_len);
    if (!req.method || !req.url) {
        mw_err_set(e, "E_HTTP_REQUEST", "an http request needs a method and a url");
        return -1;
    }
    if (lua_istable(co, 6) && lua_objlen(co, 6) > MAX_HEADERS) {
        mw_err_set(e, "E_HTTP_HEADER", "a request may carry at most %d "
                   "headers; this one has %d", MAX_HEADERS,
                   (int)lua_objlen(co, 6));
        return -1;
    }
    for (int i = 1; lua_istable(co, 6) && i <= MAX_HEADERS; i++) {
        lua_rawgeti(co, 6, i);
        if (!lua_isstring(co, -1)) {
            lua_pop(co, 1);
            break;
        }
        hdrs[req.nheaders++] = lua_tostring(co, -1);
    }
    req.headers = hdrs;
    req.timeout_ms = field_long(co, 2, "timeout_ms");
    req.connect_timeout_ms = field_long(co, 2, "connect_timeout_ms");
    req.max_body = (size_t)field_long(co, 2, "max_body");
    return mw_http_start(x->w->h->http, &req, on_http_done, x, e);
}

static void handle_yield(mw_exec *x)
{
    lua_State *co = x->co;
    const char *kind = lua_tostring(co, 1);
    mw_err e = {0};
    struct timeval tv = {0, 0};
    long ms;

    if (kind && strcmp(kind, "http") == 0 && lua_istable(co, 2)) {
        if (start_http(x, &e) == 0)
            return;
        lua_settop(co, 0);
        lua_pushnil(co);
        lua_createtable(co, 0, 2);
        lua_pushstring(co, e.code ? e.code : "E_HTTP_START");
        lua_setfield(co, -2, "code");
        lua_pushstring(co, e.msg);
        lua_setfield(co, -2, "message");
        resume(x, 2);
        return;
    }
    if (kind && strcmp(kind, "sleep") == 0) {
        ms = (long)lua_tonumber(co, 2);
        tv.tv_sec = ms > 0 ? ms / 1000 : 0;
        tv.tv_usec = ms > 0 ? (ms % 1000) * 1000 : 0;
        evtimer_add(x->timer, &tv);
        return;
    }
    if (kind && strcmp(kind, "park") == 0) {
        x->parked = 1;
        return;
    }
    finish(x, 0, "a node yielded something the runtime does not know "
           "(use ctx:http or ctx:sleep instead of coroutine.yield)");
}

/* Resumes the coroutine and handles what it did: yield for I/O, return
 * from a node (follow its port), or raise (fail the execution). */
static void resume(mw_exec *x, int nargs)
{
    for (;;) {
        int rc = lua_resume(x->co, nargs);
        const char *port, *status;
        int next;

        if (rc == LUA_YIELD) {
            handle_yield(x);
            return;
        }
        if (rc != 0) {
            const char *msg = lua_tostring(x->co, -1);
            luaL_traceback(x->w->h->L, x->co, msg ? msg : "error", 0);
            MW_ERROR("execution %ld: %s", x->id, lua_tostring(x->w->h->L, -1));
            lua_pop(x->w->h->L, 1);
            if (!x->g)
                exec_free(x);
            else
                finish(x, 0, msg ? msg : "the runtime raised an error");
            return;
        }
        if (!x->g) { /* a task from core.spawn has run to its end */
            exec_free(x);
            return;
        }
        port = lua_tostring(x->co, 1);
        status = lua_tostring(x->co, 2);
        next = graph_next(x->g, x->node, port);
        if (next < 0) {
            int failed = status && strcmp(status, "error") == 0;
            finish(x, !failed, failed ? lua_tostring(x->co, 3) : NULL);
            return;
        }
        x->node = next;
        lua_settop(x->co, 0);
        lua_rawgeti(x->co, LUA_REGISTRYINDEX, x->w->run_node_ref);
        lua_rawgeti(x->co, LUA_REGISTRYINDEX, x->exec_ref);
        lua_pushinteger(x->co, x->node + 1);
        nargs = 2;
    }
}

int mw_walker_start(mw_walker *w, mw_graph *g, int idx, mw_exec_done cb,
                    void *ud, mw_err *e)
{
    lua_State *L = w->h->L;
    mw_exec *x = calloc(1, sizeof(*x));

    if (idx < 0)
        idx = lua_gettop(L) + idx + 1;
    if (!x || !(x->timer = evtimer_new(w->h->base, on_timer, x))) {
        free(x);
        mw_err_set(e, "E_NOMEM", "out of memory starting an execution");
        return -1;
    }
    x->w = w;
    x->g = g;
    g->refs++;
    x->id = ++w->next_id;
    x->node = g->start;
    x->cb = cb;
    x->ud = ud;
    x->co = lua_newthread(L);
    x->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushinteger(L, x->id);
    lua_setfield(L, idx, "id");
    lua_pushvalue(L, idx);
    x->exec_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    x->next = w->execs;
    if (w->execs)
        w->execs->prev = x;
    w->execs = x;
    w->running++;
    run_node(x);
    return 0;
}

long mw_walker_running(const mw_walker *w)
{
    return w ? w->running : 0;
}

/* core.spawn(fn, ...) -> id: runs fn in a coroutine of its own under the
 * same yield protocol as nodes (http, sleep, park), so code outside a
 * workflow (the generator's model calls, say) can wait on the network
 * without blocking the loop. Errors are logged; the result is dropped. */
static int l_spawn(lua_State *L)
{
    mw_walker *w = walker_of(L);
    int nargs = lua_gettop(L) - 1;
    mw_exec *x;

    luaL_checktype(L, 1, LUA_TFUNCTION);
    x = calloc(1, sizeof(*x));
    if (!w || !x || !(x->timer = evtimer_new(w->h->base, on_timer, x))) {
        free(x);
        return luaL_error(L, "cannot start a task");
    }
    x->w = w;
    x->id = ++w->next_id;
    x->exec_ref = LUA_NOREF;
    x->co = lua_newthread(L);
    x->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_xmove(L, x->co, 0);
    lua_pushvalue(L, 1);
    lua_xmove(L, x->co, 1);
    for (int i = 2; i <= nargs + 1; i++) {
        lua_pushvalue(L, i);
        lua_xmove(L, x->co, 1);
    }
    x->next = w->execs;
    if (w->execs)
        w->execs->prev = x;
    w->execs = x;
    w->running++;
    lua_pushinteger(L, x->id);
    resume(x, nargs);
    return 1;
}

/* core.wake(exec_id): resumes a parked execution on the next loop turn. */
static int l_wake(lua_State *L)
{
    mw_walker *w = walker_of(L);
    long id = (long)luaL_checknumber(L, 1);
    struct timeval now = {0, 0};

    for (mw_exec *x = w ? w->execs : NULL; x; x = x->next) {
        if (x->id == id && x->parked) {
            x->parked = 0;
            evtimer_add(x->timer, &now);
            lua_pushboolean(L, 1);
            return 1;
        }
    }
    lua_pushboolean(L, 0);
    return 1;
}

/* core.graph(wf) -> graph userdata (the C graph of a loaded workflow). */
static int l_graph(lua_State *L)
{
    mw_graph **ud;
    mw_err e = {0};
    mw_graph *g;

    luaL_checktype(L, 1, LUA_TTABLE);
    g = mw_graph_create(L, 1, &e);
    if (!g) {
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    ud = lua_newuserdata(L, sizeof(*ud));
    *ud = g;
    luaL_getmetatable(L, "moonwire.graph");
    lua_setmetatable(L, -2);
    return 1;
}

static int graph_gc(lua_State *L)
{
    mw_graph **ud = luaL_checkudata(L, 1, "moonwire.graph");

    mw_graph_unref(*ud);
    *ud = NULL;
    return 0;
}

/* core.start(graph, exec) -> true | nil, err. The execution ends through
 * runtime.finish, which calls exec.on_finish. */
static int l_start(lua_State *L)
{
    mw_graph **ud = luaL_checkudata(L, 1, "moonwire.graph");
    mw_walker *w = walker_of(L);
    mw_err e = {0};

    luaL_checktype(L, 2, LUA_TTABLE);
    if (!w || !*ud || mw_walker_start(w, *ud, 2, NULL, NULL, &e) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, e.code ? e.msg : "the walker is not running");
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_running(lua_State *L)
{
    lua_pushinteger(L, mw_walker_running(walker_of(L)));
    return 1;
}

void mw_walker_register(lua_State *L)
{
    if (luaL_newmetatable(L, "moonwire.graph")) {
        lua_pushcfunction(L, graph_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_wake);
    lua_setfield(L, -2, "wake");
    lua_pushcfunction(L, l_graph);
    lua_setfield(L, -2, "graph");
    lua_pushcfunction(L, l_start);
    lua_setfield(L, -2, "start");
    lua_pushcfunction(L, l_running);
    lua_setfield(L, -2, "running");
    lua_pushcfunction(L, l_spawn);
    lua_setfield(L, -2, "spawn");
}

mw_walker *mw_walker_create(mw_host *h, mw_err *e)
{
    mw_walker *w = calloc(1, sizeof(*w));
    lua_State *L = h->L;

    if (!w) {
        mw_err_set(e, "E_NOMEM", "out of memory");
        return NULL;
    }
    w->h = h;
    lua_pushlightuserdata(L, &walker_key);
    lua_pushlightuserdata(L, w);
    lua_rawset(L, LUA_REGISTRYINDEX);
    mw_host_push_fn(L, "moonwire.runtime", "run_node");
    w->run_node_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    mw_host_push_fn(L, "moonwire.runtime", "finish");
    w->finish_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (w->run_node_ref == LUA_REFNIL || w->finish_ref == LUA_REFNIL) {
        mw_err_set(e, "E_RUNTIME", "cannot load moonwire.runtime from %s "
                   "(set MOONWIRE_LUA_DIR): run_node and finish are missing",
                   h->lua_dir);
        mw_walker_destroy(w);
        return NULL;
    }
    return w;
}

void mw_walker_destroy(mw_walker *w)
{
    if (!w)
        return;
    while (w->execs)
        exec_free(w->execs);
    free(w);
}
