/* SPDX-License-Identifier: MIT */
/* The graph walker: runs one execution of a workflow as a Lua coroutine,
 * node by node, following the port each node returns through the graph.
 * When a node yields for I/O (http, sleep, park) the walker starts it on
 * the loop and resumes the coroutine when it completes. */
#ifndef MW_WALKER_H
#define MW_WALKER_H

#include <lua.h>

#include "buf.h"

struct mw_host;
typedef struct mw_walker mw_walker;
typedef struct mw_graph mw_graph;
typedef struct mw_exec mw_exec;

/* Called once when an execution ends, with the execution's Lua table on
 * top of the host state's stack (popped by the walker afterwards). */
typedef void (*mw_exec_done)(mw_exec *x, int ok, void *ud);

mw_walker *mw_walker_create(struct mw_host *h, mw_err *e);
/* Abandons running executions without calling their callbacks. */
void mw_walker_destroy(mw_walker *w);

/* Adds the walker's functions (wake) to the table on top of L. */
void mw_walker_register(lua_State *L);

/* Builds the graph from a validated workflow table at idx (the `wf` that
 * moonwire.workflow.load returns: nodes, start, next). Reference counted:
 * each execution holds one reference. */
mw_graph *mw_graph_create(lua_State *L, int idx, mw_err *e);
void mw_graph_unref(mw_graph *g);

/* Starts executing g with the execution table at idx (from
 * runtime.prepare). The first node runs before this returns. */
int mw_walker_start(mw_walker *w, mw_graph *g, int idx, mw_exec_done cb,
                    void *ud, mw_err *e);

/* Executions started and not yet ended. */
long mw_walker_running(const mw_walker *w);

#endif
