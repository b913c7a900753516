/* SPDX-License-Identifier: MIT */
/* The daemon driver. C keeps what touches the process: configuration,
 * files, the listening socket and signals; every request goes to
 * moonwire.api (Lua), which answers at once or later through core.reply,
 * and the share queue lives in moonwire.daemon (Lua). */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <lauxlib.h>

#include "host.h"
#include "log.h"
#include "server.h"
#include "store.h"
#include "walker.h"

#define MAX_DIRS 32
#define DRAIN_SECONDS 10

typedef struct setting {
    const char *key;   /* config-file key */
    const char *env;   /* environment override */
    const char *flag;  /* command-line option, or NULL */
    int kind;          /* cJSON_String, cJSON_Number or cJSON_Array */
    const char *def;   /* default, as JSON text */
    double min;        /* smallest number accepted */
} setting;

/* Every setting, its file key, environment variable and default; the
 * same table is documented in docs/configuration.md. */
static const setting settings_table[] = {
    {"listen", "MOONWIRE_LISTEN", "--listen", cJSON_String, "\"127.0.0.1:8420\"", 0},
    {"data_dir", "MOONWIRE_DATA_DIR", "--data-dir", cJSON_String,
     "\"moonwire-data\"", 0},
    {"admin_token", "MOONWIRE_ADMIN_TOKEN", NULL, cJSON_String, "null", 0},
    {"log_level", "MOONWIRE_LOG_LEVEL", "--log-level", cJSON_String, "\"info\"", 0},
    {"node_path", "MOONWIRE_NODE_PATH", "--node-path", cJSON_Array, "[]", 0},
    {"secret_key_file", "MOONWIRE_SECRET_KEY_FILE", NULL, cJSON_String, "null", 0},
    {"max_body_bytes", "MOONWIRE_MAX_BODY_BYTES", NULL, cJSON_Number, "1048576", 1024},
    {"idle_timeout_s", "MOONWIRE_IDLE_TIMEOUT_S", NULL, cJSON_Number, "60", 1},
    {"max_connections", "MOONWIRE_MAX_CONNECTIONS", NULL, cJSON_Number, "4096", 1},
    {"wait_timeout_s", "MOONWIRE_WAIT_TIMEOUT_S", NULL, cJSON_Number, "300", 1},
    {"dedup_window_s", "MOONWIRE_DEDUP_WINDOW_S", NULL, cJSON_Number, "10", 0},
    {"retention_days", "MOONWIRE_RETENTION_DAYS", NULL, cJSON_Number, "7", 0.01},
    {"retention_count", "MOONWIRE_RETENTION_COUNT", NULL, cJSON_Number, "10000", 1},
    {"max_concurrent", "MOONWIRE_MAX_CONCURRENT", NULL, cJSON_Number, "512", 1},
    {"node_instructions", "MOONWIRE_NODE_INSTRUCTIONS", NULL, cJSON_Number,
     "50000000", 100000},
    {"node_memory_mb", "MOONWIRE_NODE_MEMORY_MB", NULL, cJSON_Number, "64", 1},
    {"generate_provider", "MOONWIRE_GENERATE_PROVIDER", NULL, cJSON_String,
     "\"builtin\"", 0},
    {"llm_url", "MOONWIRE_LLM_URL", NULL, cJSON_String, "null", 0},
    {"llm_model", "MOONWIRE_LLM_MODEL", NULL, cJSON_String, "null", 0},
    {"llm_api_key", "MOONWIRE_LLM_API_KEY", NULL, cJSON_String, "null", 0},
    {"llm_timeout_ms", "MOONWIRE_LLM_TIMEOUT_MS", NULL, cJSON_Number, "60000", 100},
    {NULL, NULL, NULL, 0, NULL, 0},
};

typedef struct daemon {
    mw_host *h;
    int max_conns; /* the inbound cap in force (connection_cap) */
    mw_server *srv;
    cJSON *config;
    const char *config_file;
    struct event *sig_term, *sig_int, *sig_hup, *drain;
    int stopping;
    double stop_started;
} daemon;

/* ---- configuration ------------------------------------------------------- */

static int set_value(cJSON *cfg, const setting *s, const char *text,
                     mw_err *e)
{
    cJSON *v = NULL;

    if (s->kind == cJSON_String) {
        v = cJSON_CreateString(text);
    } else if (s->kind == cJSON_Number) {
        char *end;
        double d = strtod(text, &end);
        if (end == text || *end || d < s->min) {
            mw_err_set(e, "E_CONFIG", "%s must be a number of at least %g, "
                       "got \"%s\"", s->key, s->min, text);
            return -1;
        }
        v = cJSON_CreateNumber(d);
    } else {
        cJSON *arr = cJSON_GetObjectItem(cfg, s->key);
        char *copy = strdup(text);
        for (char *t = copy ? strtok(copy, ":") : NULL; t; t = strtok(NULL, ":"))
            cJSON_AddItemToArray(arr, cJSON_CreateString(t));
        free(copy);
        return 0;
    }
    cJSON_ReplaceItemInObject(cfg, s->key, v);
    return 0;
}

static int check_kind(const cJSON *v, const setting *s, const char *file,
                      mw_err *e)
{
    int ok = (s->kind == cJSON_String && (cJSON_IsString(v) || cJSON_IsNull(v))) ||
             (s->kind == cJSON_Number && cJSON_IsNumber(v) && v->valuedouble >= s->min) ||
             (s->kind == cJSON_Array && cJSON_IsArray(v));
    if (!ok)
        mw_err_set(e, "E_CONFIG", "%s: \"%s\" must be %s", file, s->key,
                   s->kind == cJSON_String ? "a string" :
                   s->kind == cJSON_Number ? "a number no smaller than the minimum "
                   "in docs/configuration.md" :
                   "an array of strings");
    return ok ? 0 : -1;
}

static int merge_file(cJSON *cfg, const char *file, mw_err *e)
{
    mw_buf b;
    cJSON *doc;
    int rc = -1;

    mw_buf_init(&b);
    if (mw_buf_read_file(&b, file, e) < 0)
        goto out;
    doc = cJSON_ParseWithLength(b.data, b.len);
    if (!cJSON_IsObject(doc)) {
        mw_err_set(e, "E_CONFIG", "%s is not a JSON object (near byte %ld)",
                   file, doc ? 0L : (long)(cJSON_GetErrorPtr() - b.data));
        cJSON_Delete(doc);
        goto out;
    }
    for (cJSON *item = doc->child; item; item = item->next) {
        const setting *s = settings_table;
        while (s->key && strcmp(s->key, item->string) != 0)
            s++;
        if (!s->key) {
            mw_err_set(e, "E_CONFIG", "%s: unknown setting \"%s\" (see "
                       "docs/configuration.md)", file, item->string);
            cJSON_Delete(doc);
            goto out;
        }
        if (check_kind(item, s, file, e) < 0) {
            cJSON_Delete(doc);
            goto out;
        }
        cJSON_ReplaceItemInObject(cfg, s->key, cJSON_Duplicate(item, 1));
    }
    cJSON_Delete(doc);
    rc = 0;
out:
    mw_buf_free(&b);
    return rc;
}

/* defaults < config file < environment < command line */
static cJSON *load_config(int argc, char **argv, const char **file,
                          mw_err *e)
{
    cJSON *cfg = cJSON_CreateObject();

    *file = NULL;
    for (int i = 2; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--config") == 0)
            *file = argv[i + 1];
    }
    if (!*file && getenv("MOONWIRE_CONFIG"))
        *file = getenv("MOONWIRE_CONFIG");
    for (const setting *s = settings_table; s->key; s++)
        cJSON_AddItemToObject(cfg, s->key, cJSON_Parse(s->def));
    if (*file && merge_file(cfg, *file, e) < 0)
        goto fail;
    for (const setting *s = settings_table; s->key; s++) {
        const char *v = getenv(s->env);
        if (v && *v && set_value(cfg, s, v, e) < 0)
            goto fail;
    }
    for (int i = 2; i < argc; i++) {
        const setting *s = settings_table;
        if (strcmp(argv[i], "--config") == 0) {
            i++;
            continue;
        }
        while (s->key && (!s->flag || strcmp(s->flag, argv[i]) != 0))
            s++;
        if (!s->key || i + 1 >= argc) {
            mw_err_set(e, "E_USAGE", "unknown option or missing value: %s "
                       "(serve takes --listen, --data-dir, --config, "
                       "--node-path, --log-level)", argv[i]);
            goto fail;
        }
        if (set_value(cfg, s, argv[++i], e) < 0)
            goto fail;
    }
    return cfg;
fail:
    cJSON_Delete(cfg);
    return NULL;
}

static const char *cfg_str(const cJSON *cfg, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(cfg, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double cfg_num(const cJSON *cfg, const char *key)
{
    return cJSON_GetObjectItem(cfg, key)->valuedouble;
}

/* ---- data directory and admin token --------------------------------------- */

static int ensure_dir(const char *dir, mw_err *e)
{
    struct stat st;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        mw_err_set(e, "E_DATA_DIR", "cannot create data directory %s: %s",
                   dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        mw_err_set(e, "E_DATA_DIR", "data directory %s is not a directory", dir);
        return -1;
    }
    return 0;
}

/* Reads the admin token file, or creates it (mode 0600) with a new random
 * token. The token itself is never logged; its path is. */
static int admin_token_file(lua_State *L, const char *dir, char *out,
                            size_t outlen, mw_err *e)
{
    char path[1024];
    FILE *f;
    int fd;
    size_t n;

    snprintf(path, sizeof(path), "%s/admin-token", dir);
    f = fopen(path, "r");
    if (f) {
        n = fread(out, 1, outlen - 1, f);
        fclose(f);
        while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
            n--;
        out[n] = '\0';
        if (n >= 16) {
            MW_INFO("admin token read from %s", path);
            return 0;
        }
    }
    lua_getglobal(L, "require");
    lua_pushliteral(L, "moonwire.core");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "random_hex");
    lua_pushinteger(L, 32);
    lua_call(L, 1, 1);
    snprintf(out, outlen, "%s", lua_tostring(L, -1));
    lua_pop(L, 2);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, out, strlen(out)) < 0 || write(fd, "\n", 1) < 0) {
        mw_err_set(e, "E_DATA_DIR", "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    MW_WARN("no admin token configured: generated one into %s (mode 0600)", path);
    return 0;
}

/* ---- requests -------------------------------------------------------------- */

static void push_request(lua_State *L, mw_sreq *r, long id)
{
    size_t len;
    const char *body = mw_sreq_body(r, &len);

    lua_createtable(L, 0, 8);
    lua_pushstring(L, mw_sreq_method(r));
    lua_setfield(L, -2, "method");
    lua_pushstring(L, mw_sreq_path(r));
    lua_setfield(L, -2, "path");
    lua_pushstring(L, mw_sreq_query(r));
    lua_setfield(L, -2, "query");
    lua_pushlstring(L, body, len);
    lua_setfield(L, -2, "body");
    lua_pushstring(L, mw_sreq_peer(r));
    lua_setfield(L, -2, "peer");
    lua_pushinteger(L, id);
    lua_setfield(L, -2, "id");
    lua_createtable(L, 0, mw_sreq_nheaders(r));
    for (int i = 0; i < mw_sreq_nheaders(r); i++) {
        const char *name, *value;
        luaL_Buffer b;
        mw_sreq_header_at(r, i, &name, &value);
        luaL_buffinit(L, &b);
        for (const char *k = name; *k; k++)
            luaL_addchar(&b, (char)(*k >= 'A' && *k <= 'Z' ? *k + 32 : *k));
        luaL_pushresult(&b);
        lua_pushstring(L, value);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "headers");
}

static char pending_key;

/* core.reply(id, status, body, content_type, headers) for a deferred
 * request; false when it is unknown (already answered). */
static int l_reply(lua_State *L)
{
    lua_Integer id = luaL_checkinteger(L, 1);
    int status = (int)luaL_checkinteger(L, 2);
    size_t len = 0;
    const char *body = luaL_optlstring(L, 3, "", &len);
    const char *ctype = luaL_optstring(L, 4, "application/json");
    const char *hdrs[32];
    size_t nh = 0;
    mw_sreq *r;

    lua_pushlightuserdata(L, &pending_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_rawgeti(L, -1, (int)id);
    r = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!r) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_pushnil(L);
    lua_rawseti(L, -2, (int)id);
    for (int i = 1; lua_istable(L, 5) && nh < 32; i++) {
        lua_rawgeti(L, 5, i);
        if (!lua_isstring(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        hdrs[nh++] = lua_tostring(L, -1);
        lua_pop(L, 1); /* the table keeps the string alive */
    }
    MW_DEBUG("http %s %s -> %d (%.1f ms)", mw_sreq_method(r), mw_sreq_path(r),
             status, mw_host_now_ms() - mw_sreq_started_ms(r));
    mw_sreq_reply(r, status, ctype, body, len, hdrs, nh);
    lua_pushboolean(L, 1);
    return 1;
}

static void remember(lua_State *L, mw_sreq *r, long id)
{
    lua_pushlightuserdata(L, &pending_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, r);
    lua_rawseti(L, -2, (int)id);
    lua_pop(L, 1);
}

static void on_request(mw_sreq *r, void *ud)
{
    static long next_id;
    daemon *d = ud;
    lua_State *L = d->h->L;
    long id = ++next_id;
    mw_err e = {0};
    static const char oops[] = "{\"error\":{\"code\":\"E_INTERNAL\","
                               "\"message\":\"internal error; see the log\"}}";

    if (next_id >= 0x7fffffff)
        next_id = 0;
    remember(L, r, id);
    mw_host_push_fn(L, "moonwire.api", "handle");
    push_request(L, r, id);
    if (mw_host_pcall(L, 1, 0, &e) < 0) {
        MW_ERROR("request %s %s failed: %s", mw_sreq_method(r),
                 mw_sreq_path(r), e.msg);
        lua_pushcfunction(L, l_reply);
        lua_pushinteger(L, id);
        lua_pushinteger(L, 500);
        lua_pushstring(L, oops);
        lua_call(L, 3, 1);
        lua_pop(L, 1);
    }
}

/* ---- signals and shutdown ----------------------------------------------- */

static void call_daemon(daemon *d, const char *fn)
{
    mw_err e = {0};

    mw_host_push_fn(d->h->L, "moonwire.daemon", fn);
    if (mw_host_pcall(d->h->L, 0, 0, &e) < 0)
        MW_ERROR("daemon.%s failed: %s", fn, e.msg);
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
    daemon *d = arg;
    long running = mw_walker_running(d->h->walker);
    struct timeval tick = {0, 100000};

    (void)fd;
    (void)what;
    if (running == 0 || mw_host_now_ms() - d->stop_started > DRAIN_SECONDS * 1000) {
        if (running > 0)
            MW_WARN("stopping with %ld executions unfinished; their shares "
                    "run again at the next start", running);
        event_base_loopexit(d->h->base, NULL);
        return;
    }
    evtimer_add(d->drain, &tick);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    daemon *d = arg;

    (void)what;
    if (d->stopping)
        return;
    d->stopping = 1;
    d->stop_started = mw_host_now_ms();
    MW_INFO("signal %d: no longer accepting; draining running executions",
            (int)sig);
    mw_server_stop_accepting(d->srv);
    call_daemon(d, "stop");
    on_drain(-1, 0, d);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    daemon *d = arg;
    mw_err e = {0};

    (void)sig;
    (void)what;
    if (d->config_file) {
        cJSON *fresh = cJSON_CreateObject();
        for (const setting *s = settings_table; s->key; s++)
            cJSON_AddItemToObject(fresh, s->key, cJSON_Parse(s->def));
        if (merge_file(fresh, d->config_file, &e) == 0) {
            const char *level = cfg_str(fresh, "log_level");

            if (mw_log_set_level(level) < 0)
                MW_ERROR("reload: log_level \"%s\" is not error, warn, info "
                         "or debug; keeping the running level", level);
        } else
            MW_ERROR("reload: %s; keeping the running configuration", e.msg);
        cJSON_Delete(fresh);
    }
    MW_INFO("SIGHUP: reloading node modules");
    call_daemon(d, "reload");
}

/* ---- start ----------------------------------------------------------------- */

static void push_json(lua_State *L, const cJSON *v)
{
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        int i = 0;
        lua_newtable(L);
        for (const cJSON *c = v->child; c; c = c->next) {
            push_json(L, c);
            if (cJSON_IsArray(v))
                lua_rawseti(L, -2, ++i);
            else
                lua_setfield(L, -2, c->string);
        }
    } else if (cJSON_IsString(v)) {
        lua_pushstring(L, v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        lua_pushnumber(L, v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        lua_pushboolean(L, cJSON_IsTrue(v));
    } else {
        lua_pushnil(L);
    }
}

/* The inbound connection cap, within the open-file limit: that limit's
 * soft value is raised as far as the hard one allows, and what it still
 * lacks comes off the cap (each execution may hold an outbound
 * connection, and the store and the loop need a few descriptors). */
static int connection_cap(daemon *d)
{
    int want = (int)cfg_num(d->config, "max_connections");
    rlim_t need = (rlim_t)want + (rlim_t)cfg_num(d->config, "max_concurrent")
                  + 64;
    struct rlimit rl;
    int cap;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return want;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t old = rl.rlim_cur;

        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need
                          ? need : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            rl.rlim_cur = old;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return want;
    cap = (int)rl.rlim_cur - (int)(need - (rlim_t)want);
    if (cap < 16)
        cap = 16;
    MW_WARN("max_connections lowered from %d to %d: the open-file limit is "
            "%llu (raise it, e.g. LimitNOFILE= in the systemd unit)", want,
            cap, (unsigned long long)rl.rlim_cur);
    return cap;
}

/* core.connections() -> connections open, the most accepted at once. */
static int l_connections(lua_State *L)
{
    daemon *d = lua_touserdata(L, lua_upvalueindex(1));

    lua_pushinteger(L, mw_server_open(d->srv));
    lua_pushinteger(L, d->max_conns);
    return 2;
}

static int start(daemon *d, mw_err *e)
{
    lua_State *L = d->h->L;
    char token[256];
    const char *tok = cfg_str(d->config, "admin_token");
    const char *dir = cfg_str(d->config, "data_dir");

    if (!tok) {
        if (admin_token_file(L, dir, token, sizeof(token), e) < 0)
            return -1;
        tok = token;
    }
    lua_pushlightuserdata(L, &pending_key);
    lua_newtable(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "moonwire.core");
    lua_call(L, 1, 1);
    lua_pushcfunction(L, l_reply);
    lua_setfield(L, -2, "reply");
    lua_pushlightuserdata(L, d);
    lua_pushcclosure(L, l_connections, 1);
    lua_setfield(L, -2, "connections");
    lua_pop(L, 1);

    mw_host_push_fn(L, "moonwire.daemon", "start");
    push_json(L, d->config);
    lua_pushstring(L, tok);
    lua_setfield(L, -2, "admin_token");
    lua_pushinteger(L, mw_server_port(d->srv));
    lua_setfield(L, -2, "port");
    return mw_host_pcall(L, 1, 0, e);
}

static int serve(daemon *d, mw_err *e)
{
    const char *dir = cfg_str(d->config, "data_dir");
    const char *dirs[MAX_DIRS + 1] = {0};
    mw_host_opts opts = {0};
    mw_server_opts so = {0};
    char db[1024], key[1024];
    int n = 0;

    /* One daemon to a data dir: a second would run the same queue. A
     * listen address that cannot be read stops it before anything is
     * created. */
    if (mw_server_check_address(cfg_str(d->config, "listen"), e) < 0 ||
        ensure_dir(dir, e) < 0 || mw_store_lock(dir, 1, e) < 0)
        return -1;
    snprintf(db, sizeof(db), "%s/moonwire.db", dir);
    for (cJSON *p = cJSON_GetObjectItem(d->config, "node_path")->child;
         p && n < MAX_DIRS; p = p->next)
        if (cJSON_IsString(p))
            dirs[n++] = p->valuestring;
    opts.db_path = db;
    opts.node_instructions = cfg_num(d->config, "node_instructions");
    opts.node_memory_mb = cfg_num(d->config, "node_memory_mb");
    snprintf(key, sizeof(key), "%s/secret.key", dir);
    opts.key_file = cfg_str(d->config, "secret_key_file")
                        ? cfg_str(d->config, "secret_key_file") : key;
    opts.node_dirs = dirs;
    if (!(d->h = mw_host_create(&opts, e)) ||
        mw_store_check_key(d->h->store, e) < 0 ||
        mw_store_lock(db, 1, e) < 0 ||
        mw_store_checkpoint_aside(d->h->store, e) < 0)
        return -1;
    so.max_body = (size_t)cfg_num(d->config, "max_body_bytes");
    so.idle_timeout_s = (int)cfg_num(d->config, "idle_timeout_s");
    so.max_conns = d->max_conns = connection_cap(d);
    d->srv = mw_server_create(d->h->base, &so, on_request, d, e);
    if (!d->srv || mw_server_listen(d->srv, cfg_str(d->config, "listen"), e) < 0)
        return -1;
    if (start(d, e) < 0)
        return -1;
    d->sig_term = evsignal_new(d->h->base, SIGTERM, on_stop, d);
    d->sig_int = evsignal_new(d->h->base, SIGINT, on_stop, d);
    d->sig_hup = evsignal_new(d->h->base, SIGHUP, on_hup, d);
    d->drain = evtimer_new(d->h->base, on_drain, d);
    evsignal_add(d->sig_term, NULL);
    evsignal_add(d->sig_int, NULL);
    evsignal_add(d->sig_hup, NULL);
    MW_INFO("listening on %s (configured %s), data in %s",
            mw_server_address(d->srv), cfg_str(d->config, "listen"), dir);
    mw_host_dispatch(d->h);
    call_daemon(d, "shutdown");
    MW_INFO("stopped");
    return 0;
}

/* libevent's own messages (a failed accept() when descriptors run out,
 * say) go through our log, at most one a second so a flood stays small. */
static void libevent_log(int severity, const char *msg)
{
    static double last_ms;
    static long dropped;
    double now = mw_host_now_ms();

    if (severity < EVENT_LOG_WARN) {
        MW_DEBUG("libevent: %s", msg);
        return;
    }
    if (now - last_ms < 1000) {
        dropped++;
        return;
    }
    MW_WARN("libevent: %s%s", msg, dropped ? " (and similar lines dropped)" : "");
    last_ms = now;
    dropped = 0;
}

int mw_daemon_main(int argc, char **argv)
{
    daemon d = {0};
    mw_err e = {0};
    int rc;

    signal(SIGPIPE, SIG_IGN);
    umask(077); /* the database, its key and the token are the daemon's own */
    event_set_log_callback(libevent_log);
    d.config = load_config(argc, argv, &d.config_file, &e);
    if (!d.config) {
        fprintf(stderr, "moonwire serve: %s%s%s\n", e.code ? e.code : "",
                e.code ? ": " : "", e.msg);
        return 2;
    }
    if (mw_log_set_level(cfg_str(d.config, "log_level")) < 0) {
        fprintf(stderr, "moonwire serve: log_level must be error, warn, info "
                "or debug\n");
        cJSON_Delete(d.config);
        return 2;
    }
    rc = serve(&d, &e) < 0 ? 1 : 0;
    if (rc && e.code)
        MW_ERROR("%s: %s", e.code, e.msg);
    else if (rc)
        MW_ERROR("%s", e.msg);
    if (d.sig_term)
        event_free(d.sig_term);
    if (d.sig_int)
        event_free(d.sig_int);
    if (d.sig_hup)
        event_free(d.sig_hup);
    if (d.drain)
        event_free(d.drain);
    mw_server_destroy(d.srv);
    mw_host_destroy(d.h);
    cJSON_Delete(d.config);
    return rc;
}
