/* SPDX-License-Identifier: MIT */
/* Command-line drivers. `run` is driven here because it owns the loop:
 * shares are started one after another, each once the previous execution
 * has ended, and one JSON line is printed per execution. The other
 * commands are thin: they call into `moonwire.cli` (Lua). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <lauxlib.h>

#include "daemon.h"
#include "host.h"
#include "json.h"
#include "log.h"
#include "repl.h"
#include "store.h"
#include "walker.h"

#define MAX_LIST 64

typedef struct args {
    const char *cmd;
    const char *db;
    const char *integration;
    const char *mode;
    const char *missing;
    const char *provider;
    const char *workflow;
    const char *share;
    const char *data;
    int dry_run;
    int json_out;
    int secret;
    const char *pos[4096];
    int npos;
    const char *sets[MAX_LIST];
    int nsets;
    const char *node_dirs[MAX_LIST + 1];
    int ndirs;
} args;

static const char usage[] =
    "usage: moonwire <command> [options]\n"
    "\n"
    "  serve                   run the daemon (see docs/configuration.md)\n"
    "      --listen HOST:PORT --data-dir DIR --config FILE\n"
    "  run WORKFLOW SHARE...   run shares in order through a workflow\n"
    "      --db FILE             database for external IDs and history\n"
    "                            (default: ./moonwire.db)\n"
    "      --set NAME=VALUE      an integration setting, e.g.\n"
    "                            --set integration.base_url=http://...\n"
    "      --integration NAME    whose links and settings to use "
    "(default: default)\n"
    "      --dry-run             send nothing; show what would be sent\n"
    "  validate FILE...        check workflows; every problem is listed\n"
    "      --json                print the problems as JSON\n"
    "  render [TEMPLATE]       render a template (stdin when no file)\n"
    "      --mode json|text|html --data FILE --missing empty|null|error\n"
    "  settings [list | set NAME VALUE | unset NAME]\n"
    "                          integration settings kept in the database\n"
    "      --db FILE --integration NAME --secret (implied for names such\n"
    "      as client_secret or *token); a VALUE of - is read from stdin\n"
    "  repl [--workflow FILE] [--share FILE]\n"
    "                          a Lua prompt inside the runtime\n"
    "  test [PATH...]          run Lua spec files inside the runtime\n"
    "  generate PROMPT         draft a workflow from a description\n"
    "      --provider builtin|openai --db FILE --integration NAME\n"
    "  version                 print the version\n"
    "\n"
    "common: --node-path DIR (repeatable), --log-level error|warn|info|debug\n"
    "A SHARE file holds one JSON object, a JSON array of shares, or one\n"
    "share per line.\n";

/* ---- arguments ----------------------------------------------------------- */

static int need_value(int argc, char **argv, int i)
{
    if (i + 1 >= argc) {
        fprintf(stderr, "moonwire: option %s needs a value\n", argv[i]);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, args *a)
{
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        const char **slot = NULL;

        if (strcmp(o, "--dry-run") == 0) {
            a->dry_run = 1;
            continue;
        }
        if (strcmp(o, "--json") == 0) {
            a->json_out = 1;
            continue;
        }
        if (strcmp(o, "--secret") == 0) {
            a->secret = 1;
            continue;
        }
        if (o[0] != '-' || strcmp(o, "-") == 0) {
            if (a->npos >= (int)(sizeof(a->pos) / sizeof(a->pos[0]))) {
                fprintf(stderr, "moonwire: too many arguments\n");
                return -1;
            }
            a->pos[a->npos++] = o;
            continue;
        }
        if (need_value(argc, argv, i) < 0)
            return -1;
        if (strcmp(o, "--db") == 0)
            slot = &a->db;
        else if (strcmp(o, "--integration") == 0)
            slot = &a->integration;
        else if (strcmp(o, "--mode") == 0)
            slot = &a->mode;
        else if (strcmp(o, "--data") == 0)
            slot = &a->data;
        else if (strcmp(o, "--missing") == 0)
            slot = &a->missing;
        else if (strcmp(o, "--provider") == 0)
            slot = &a->provider;
        else if (strcmp(o, "--workflow") == 0)
            slot = &a->workflow;
        else if (strcmp(o, "--share") == 0)
            slot = &a->share;
        else if (strcmp(o, "--log-level") == 0 &&
                 mw_log_set_level(argv[i + 1]) < 0) {
            fprintf(stderr, "moonwire: --log-level must be error, warn, info "
                    "or debug\n");
            return -1;
        }
        else if (strcmp(o, "--set") == 0 && a->nsets < MAX_LIST)
            a->sets[a->nsets++] = argv[i + 1];
        else if (strcmp(o, "--node-path") == 0 && a->ndirs < MAX_LIST)
            a->node_dirs[a->ndirs++] = argv[i + 1];
        else {
            fprintf(stderr, "moonwire: unknown option %s for %s\n%s", o,
                    a->cmd, usage);
            return -1;
        }
        if (slot)
            *slot = argv[i + 1];
        i++;
    }
    return 0;
}

/* MOONWIRE_NODE_PATH adds directories (colon-separated) after --node-path. */
static void env_node_dirs(args *a, char *copy)
{
    for (char *tok = strtok(copy, ":"); tok && a->ndirs < MAX_LIST;
         tok = strtok(NULL, ":")) {
        if (*tok)
            a->node_dirs[a->ndirs++] = tok;
    }
}

/* ---- run ----------------------------------------------------------------- */

typedef struct run_state {
    mw_host *h;
    mw_graph *g;
    int wf_ref;
    int shares_ref; /* Lua list of {label=, value=, error=} */
    int count;
    int next;
    int failed;
    int live;
    const char *integration;
    int settings_ref;
    struct event *kick;
} run_state;

static void print_line(lua_State *L, int idx)
{
    mw_err e = {0};
    mw_buf b;

    mw_buf_init(&b);
    if (mw_json_encode(L, idx, &b, 0, &e) == 0) {
        fwrite(b.data, 1, b.len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    } else {
        fprintf(stderr, "moonwire: cannot print a result: %s\n", e.msg);
    }
    mw_buf_free(&b);
}

static void print_share_error(lua_State *L, const char *label, const char *msg)
{
    lua_createtable(L, 0, 3);
    lua_pushstring(L, label);
    lua_setfield(L, -2, "share");
    lua_pushliteral(L, "failed");
    lua_setfield(L, -2, "status");
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "error");
    print_line(L, -1);
    lua_pop(L, 1);
}

static void on_exec_done(mw_exec *x, int ok, void *ud)
{
    run_state *rs = ud;
    lua_State *L = rs->h->L;
    mw_err e = {0};
    struct timeval now = {0, 0};

    (void)x;
    if (!ok)
        rs->failed++;
    mw_host_push_fn(L, "moonwire.runtime", "summary");
    lua_pushvalue(L, -2);
    if (mw_host_pcall(L, 1, 1, &e) == 0) {
        print_line(L, -1);
        lua_pop(L, 1);
    } else {
        fprintf(stderr, "moonwire: %s\n", e.msg);
    }
    /* The next share starts from the loop, not from inside this callback,
     * so a long run of executions that never wait does not nest. */
    evtimer_add(rs->kick, &now);
}

/* Prepares share i and starts it. Returns 0 when started, -1 when the
 * share could not even start (already reported). */
static int start_share(run_state *rs, int i)
{
    lua_State *L = rs->h->L;
    mw_err e = {0};
    int top = lua_gettop(L);
    const char *label;

    lua_rawgeti(L, LUA_REGISTRYINDEX, rs->shares_ref);
    lua_rawgeti(L, -1, i);
    lua_getfield(L, -1, "label");
    label = lua_tostring(L, -1);
    lua_getfield(L, -2, "error");
    if (lua_isstring(L, -1)) {
        print_share_error(L, label, lua_tostring(L, -1));
        lua_settop(L, top);
        return -1;
    }
    lua_pop(L, 1);
    mw_host_push_fn(L, "moonwire.runtime", "prepare");
    lua_rawgeti(L, LUA_REGISTRYINDEX, rs->wf_ref);
    lua_getfield(L, -4, "value");
    lua_createtable(L, 0, 4);
    lua_pushstring(L, rs->integration);
    lua_setfield(L, -2, "integration");
    lua_rawgeti(L, LUA_REGISTRYINDEX, rs->settings_ref);
    lua_setfield(L, -2, "settings");
    lua_pushboolean(L, rs->live);
    lua_setfield(L, -2, "live");
    lua_pushvalue(L, -5);
    lua_setfield(L, -2, "label");
    if (mw_host_pcall(L, 3, 2, &e) < 0 || lua_isnil(L, -2)) {
        print_share_error(L, label, e.code ? e.msg : lua_tostring(L, -1));
        lua_settop(L, top);
        return -1;
    }
    lua_pop(L, 1);
    if (mw_walker_start(rs->h->walker, rs->g, -1, on_exec_done, rs, &e) < 0) {
        print_share_error(L, label, e.msg);
        lua_settop(L, top);
        return -1;
    }
    lua_settop(L, top);
    return 0;
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    run_state *rs = arg;

    (void)fd;
    (void)what;
    while (rs->next <= rs->count) {
        if (start_share(rs, rs->next++) == 0)
            return;
        rs->failed++;
    }
}

/* Pushes the settings table built from --set NAME=VALUE. */
static int push_settings(lua_State *L, const args *a)
{
    lua_newtable(L);
    for (int i = 0; i < a->nsets; i++) {
        const char *s = a->sets[i];
        const char *eq = strchr(s, '=');

        if (!eq || eq == s) {
            fprintf(stderr, "moonwire: --set needs NAME=VALUE, got \"%s\"\n", s);
            return -1;
        }
        if (strncmp(s, "integration.", 12) == 0 && s + 12 < eq)
            s += 12;
        lua_pushlstring(L, s, (size_t)(eq - s));
        lua_pushstring(L, eq + 1);
        lua_rawset(L, -3);
    }
    return 0;
}

/* Calls moonwire.cli.fn with the nargs values on the stack and leaves
 * its one result. Returns -1 (nothing left) after a runtime error. */
static int call_cli(lua_State *L, const char *fn, int nargs)
{
    mw_err e = {0};

    mw_host_push_fn(L, "moonwire.cli", fn);
    lua_insert(L, -nargs - 1);
    if (mw_host_pcall(L, nargs, 1, &e) < 0) {
        fprintf(stderr, "moonwire: %s\n", e.msg);
        return -1;
    }
    return 0;
}

/* Loads and validates the workflow file (problems are printed by Lua) and
 * builds its graph. */
static int load_workflow(run_state *rs, const char *file)
{
    lua_State *L = rs->h->L;
    mw_err e = {0};

    lua_pushstring(L, file);
    if (call_cli(L, "load_workflow_file", 1) < 0)
        return -1;
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return -1;
    }
    rs->g = mw_graph_create(L, -1, &e);
    if (!rs->g) {
        fprintf(stderr, "moonwire: %s: %s\n", file, e.msg);
        lua_pop(L, 1);
        return -1;
    }
    rs->wf_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Reads every share file into a Lua list of {label, value | error}. */
static int load_shares(run_state *rs, const args *a)
{
    lua_State *L = rs->h->L;

    lua_createtable(L, a->npos, 0);
    for (int i = 1; i < a->npos; i++) {
        lua_pushstring(L, a->pos[i]);
        lua_rawseti(L, -2, i);
    }
    if (call_cli(L, "read_shares", 1) < 0)
        return -1;
    rs->count = (int)lua_objlen(L, -1);
    rs->shares_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* Refuses a database a running `moonwire serve` holds (mw_store_lock):
 * the daemon caches what the CLI would change. A database not made yet
 * is no daemon's. */
static int lock_db(const char *db_path, mw_err *e)
{
    if (access(db_path, F_OK) != 0)
        return 0;
    return mw_store_lock(db_path, 0, e) < 0 ? -1 : 0;
}

static int cmd_run(mw_host *h, const args *a)
{
    run_state rs = {0};
    lua_State *L = h->L;
    int rc = 1;

    if (a->npos < 2) {
        fprintf(stderr, "moonwire run: need a workflow and at least one "
                "share file\n%s", usage);
        return 2;
    }
    rs.h = h;
    rs.next = 1;
    rs.live = !a->dry_run;
    rs.integration = a->integration ? a->integration : "default";
    rs.wf_ref = rs.shares_ref = rs.settings_ref = LUA_NOREF;
    if (push_settings(L, a) < 0)
        return 2;
    rs.settings_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (load_workflow(&rs, a->pos[0]) < 0 || load_shares(&rs, a) < 0)
        goto out;
    rs.kick = evtimer_new(h->base, on_kick, &rs);
    if (!rs.kick)
        goto out;
    on_kick(-1, 0, &rs);
    mw_host_dispatch(h);
    rc = rs.failed > 0 ? 1 : 0;
out:
    if (rs.kick)
        event_free(rs.kick);
    mw_graph_unref(rs.g);
    luaL_unref(L, LUA_REGISTRYINDEX, rs.wf_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, rs.shares_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, rs.settings_ref);
    return rc;
}

/* ---- the other commands -------------------------------------------------- */

static void push_strings(lua_State *L, const char *const *v, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, v[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

static int cmd_lua(mw_host *h, const args *a)
{
    lua_State *L = h->L;
    int rc, deferred;

    push_strings(L, a->pos, a->npos);
    lua_createtable(L, 0, 4);
    lua_pushboolean(L, a->json_out);
    lua_setfield(L, -2, "json");
    lua_pushboolean(L, a->secret);
    lua_setfield(L, -2, "secret");
    if (a->mode) {
        lua_pushstring(L, a->mode);
        lua_setfield(L, -2, "mode");
    }
    if (a->data) {
        lua_pushstring(L, a->data);
        lua_setfield(L, -2, "data");
    }
    if (a->missing) {
        lua_pushstring(L, a->missing);
        lua_setfield(L, -2, "missing");
    }
    if (a->provider) {
        lua_pushstring(L, a->provider);
        lua_setfield(L, -2, "provider");
    }
    if (a->db) {
        lua_pushstring(L, a->db);
        lua_setfield(L, -2, "db");
    }
    if (a->integration) {
        lua_pushstring(L, a->integration);
        lua_setfield(L, -2, "integration");
    }
    if (call_cli(L, a->cmd, 2) < 0)
        return 2;
    deferred = lua_isnil(L, -1);
    rc = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    /* Specs and tasks (core.spawn) may have started work on the loop. A
     * command that returned nil sets moonwire.cli.exit_code when done. */
    mw_host_dispatch(h);
    if (deferred) {
        mw_host_push_fn(L, "moonwire.cli", "exit_code");
        rc = lua_isnumber(L, -1) ? (int)lua_tointeger(L, -1) : 1;
        lua_pop(L, 1);
    }
    return rc;
}

int mw_cli_main(int argc, char **argv)
{
    args a = {0};
    mw_host_opts opts = {0};
    mw_host *h;
    mw_err e = {0};
    char *envpath = NULL;
    int rc;

    if (argc < 2 || strcmp(argv[1], "help") == 0 ||
        strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    /* `moonwire COMMAND --help` too */
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("moonwire %s\n", MW_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "serve") == 0)
        return mw_daemon_main(argc, argv);
    a.cmd = argv[1];
    if (strcmp(a.cmd, "run") && strcmp(a.cmd, "validate") &&
        strcmp(a.cmd, "render") && strcmp(a.cmd, "test") &&
        strcmp(a.cmd, "generate") && strcmp(a.cmd, "settings") &&
        strcmp(a.cmd, "repl")) {
        fprintf(stderr, "moonwire: unknown command \"%s\"\n%s", a.cmd, usage);
        return 2;
    }
    mw_log_set_level(getenv("MOONWIRE_LOG_LEVEL"));
    if (parse_args(argc, argv, &a) < 0)
        return 2;
    if (getenv("MOONWIRE_NODE_PATH")) {
        envpath = strdup(getenv("MOONWIRE_NODE_PATH"));
        if (envpath)
            env_node_dirs(&a, envpath);
    }
    opts.node_dirs = a.node_dirs;
    if (getenv("MOONWIRE_NODE_INSTRUCTIONS"))
        opts.node_instructions = atof(getenv("MOONWIRE_NODE_INSTRUCTIONS"));
    if (getenv("MOONWIRE_NODE_MEMORY_MB"))
        opts.node_memory_mb = atof(getenv("MOONWIRE_NODE_MEMORY_MB"));
    /* A dry run reads an existing database but never creates one. */
    if (strcmp(a.cmd, "run") == 0)
        opts.db_path = a.db ? a.db : "moonwire.db";
    if (a.dry_run && opts.db_path && access(opts.db_path, F_OK) != 0)
        opts.db_path = NULL;
    else if (strcmp(a.cmd, "generate") == 0)
        opts.db_path = a.db;
    else if (strcmp(a.cmd, "settings") == 0)
        opts.db_path = a.db ? a.db : "moonwire.db";
    if (opts.db_path && lock_db(opts.db_path, &e) < 0) {
        fprintf(stderr, "moonwire: %s\n", e.msg);
        free(envpath);
        return 2;
    }
    h = mw_host_create(&opts, &e);
    if (!h) {
        fprintf(stderr, "moonwire: %s\n", e.msg);
        free(envpath);
        return 2;
    }
    if (strcmp(a.cmd, "run") == 0)
        rc = cmd_run(h, &a);
    else if (strcmp(a.cmd, "repl") == 0)
        rc = mw_repl_main(h, a.workflow, a.share);
    else
        rc = cmd_lua(h, &a);
    mw_host_destroy(h);
    free(envpath);
    return rc;
}
