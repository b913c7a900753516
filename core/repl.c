/* SPDX-License-Identifier: MIT */
/* The REPL's terminal side: line editing and history (libedit), multi-line
 * input, and running the loop while an input's task waits on the network.
 * What an input means is lua/moonwire/repl.lua's. */
#include "repl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <editline/readline.h>
#include <event2/event.h>
#include <lauxlib.h>

#include "buf.h"
#include "host.h"
#include "log.h"

static int call_repl(lua_State *L, const char *fn, int nargs, int nres)
{
    mw_err e = {0};

    mw_host_push_fn(L, "moonwire.repl", fn);
    lua_insert(L, -nargs - 1);
    if (mw_host_pcall(L, nargs, nres, &e) < 0) {
        fprintf(stderr, "repl: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static int busy(lua_State *L)
{
    int b;

    if (call_repl(L, "is_busy", 0, 1) < 0)
        return 0;
    b = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return b;
}

/* Evaluates one complete input; returns 1 when more lines are needed. */
static int eval(mw_host *h, const char *text)
{
    lua_State *L = h->L;
    int incomplete;

    lua_pushstring(L, text);
    if (call_repl(L, "eval", 1, 1) < 0)
        return 0;
    incomplete = lua_isstring(L, -1) &&
                 strcmp(lua_tostring(L, -1), "incomplete") == 0;
    lua_pop(L, 1);
    while (!incomplete && busy(L))
        event_base_loop(h->base, EVLOOP_ONCE);
    return incomplete;
}

static void history_path(char *out, size_t n)
{
    const char *home = getenv("HOME");

    snprintf(out, n, "%s/.moonwire_history", home && *home ? home : ".");
}

int mw_repl_main(mw_host *h, const char *workflow, const char *share)
{
    lua_State *L = h->L;
    char hist[1024];
    mw_buf input;
    char *line;

    history_path(hist, sizeof(hist));
    using_history();
    read_history(hist);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, workflow);
    lua_setfield(L, -2, "workflow");
    lua_pushstring(L, share);
    lua_setfield(L, -2, "share");
    if (call_repl(L, "start", 1, 0) < 0)
        return 1;
    mw_buf_init(&input);
    while ((line = readline(input.len ? ">> " : "mw> ")) != NULL) {
        if (input.len)
            mw_buf_addc(&input, '\n');
        mw_buf_adds(&input, line);
        free(line);
        if (input.len == 0)
            continue;
        if (eval(h, input.data))
            continue;
        add_history(input.data);
        mw_buf_reset(&input);
    }
    fputc('\n', stdout);
    write_history(hist);
    mw_buf_free(&input);
    return 0;
}
