/* SPDX-License-Identifier: MIT */
/* The Lua host: one LuaJIT state per event loop, the `moonwire.core` and
 * `moonwire.json` modules it sees, and the one protected-call wrapper that
 * every entry into Lua goes through. */
#ifndef MW_HOST_H
#define MW_HOST_H

#include <lua.h>

#include "buf.h"

struct event_base;
struct mw_http;
struct mw_store;
struct mw_walker;

/* Event priorities of the loop (libevent runs lower numbers first). */
enum { MW_PRIO_URGENT = 0, MW_PRIO_WORK = 1 };

typedef struct mw_host {
    lua_State *L;
    struct event_base *base;
    struct mw_http *http;
    struct mw_store *store;     /* may be NULL: no database opened */
    struct mw_walker *walker;
    struct mw_sqlrun *sqlrun;   /* `core.sql`, when a store is open */
    struct mw_recent *recent;   /* `core.recent_*`, made on first use */
    struct later *laters;       /* pending core.after timers */
    const char *lua_dir;        /* the runtime library (lua/) */
    const char *nodes_dir;      /* the built-in node types (nodes/) */
} mw_host;

typedef struct mw_host_opts {
    const char *db_path;         /* NULL: no database */
    const char *key_file;        /* seals secret settings; NULL: db_path.key */
    const char *const *node_dirs; /* extra node directories, NULL-ended */
    double node_instructions;    /* user-node CPU bound; 0: the default */
    double node_memory_mb;       /* user-node memory bound; 0: the default */
} mw_host_opts;

/* Creates the loop, the HTTP client, the store and the Lua state, and
 * initialises the runtime (`moonwire.runtime`.init). */
mw_host *mw_host_create(const mw_host_opts *opts, mw_err *e);
void mw_host_destroy(mw_host *h);

/* Calls the function below nargs arguments on the stack, in protected
 * mode, with a traceback. Leaves nres results, or nothing and e set. */
int mw_host_pcall(lua_State *L, int nargs, int nres, mw_err *e);

/* Pushes require(module)[fn]; raises nothing: pushes nil when absent. */
void mw_host_push_fn(lua_State *L, const char *module, const char *fn);

/* Runs the loop until nothing is left to do. */
int mw_host_dispatch(mw_host *h);

/* Seconds since the epoch and a monotonic clock in milliseconds. */
double mw_host_time(void);
double mw_host_now_ms(void);

#endif
