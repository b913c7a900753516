/* SPDX-License-Identifier: MIT */
/* The statement runner behind `core.sql`: a small cache of prepared
 * statements keyed by their text, parameter binding from Lua (nil and
 * json.null bind NULL, booleans bind 0/1, integral numbers bind int64),
 * and rows pushed as tables keyed by column name. */
#include "sqlrun.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <sqlite3.h>

#include "json.h"

#define CACHE_SIZE 128

typedef struct entry {
    char *sql;
    sqlite3_stmt *st;
} entry;

struct mw_sqlrun {
    sqlite3 *db;
    entry cache[CACHE_SIZE];
    int n;
};

mw_sqlrun *mw_sqlrun_create(sqlite3 *db)
{
    mw_sqlrun *r = calloc(1, sizeof(*r));

    if (r)
        r->db = db;
    return r;
}

void mw_sqlrun_destroy(mw_sqlrun *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++) {
        sqlite3_finalize(r->cache[i].st);
        free(r->cache[i].sql);
    }
    free(r);
}

static sqlite3_stmt *prepare(mw_sqlrun *r, const char *sql)
{
    sqlite3_stmt *st = NULL;

    for (int i = 0; i < r->n; i++) {
        if (strcmp(r->cache[i].sql, sql) == 0)
            return r->cache[i].st;
    }
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    if (r->n < CACHE_SIZE) {
        r->cache[r->n].sql = strdup(sql);
        if (r->cache[r->n].sql) {
            r->cache[r->n++].st = st;
            return st;
        }
    }
    return st; /* uncached: finalized by the caller */
}

static int cached(mw_sqlrun *r, sqlite3_stmt *st)
{
    for (int i = 0; i < r->n; i++) {
        if (r->cache[i].st == st)
            return 1;
    }
    return 0;
}

static void bind_one(lua_State *L, sqlite3_stmt *st, int col, int idx)
{
    size_t n;
    const char *s;
    double d;

    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
        sqlite3_bind_int(st, col, lua_toboolean(L, idx));
        break;
    case LUA_TNUMBER:
        d = lua_tonumber(L, idx);
        if (d == floor(d) && fabs(d) < 9007199254740992.0)
            sqlite3_bind_int64(st, col, (sqlite3_int64)d);
        else
            sqlite3_bind_double(st, col, d);
        break;
    case LUA_TSTRING:
        /* not copied: the string stays on the Lua stack until the
         * statement is reset and its bindings cleared */
        s = lua_tolstring(L, idx, &n);
        sqlite3_bind_text(st, col, s, (int)n, SQLITE_STATIC);
        break;
    default:
        sqlite3_bind_null(st, col);
        break;
    }
}

static void push_column(lua_State *L, sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        lua_pushnumber(L, (lua_Number)sqlite3_column_int64(st, i));
        break;
    case SQLITE_FLOAT:
        lua_pushnumber(L, sqlite3_column_double(st, i));
        break;
    case SQLITE_NULL:
        mw_json_push_null(L);
        break;
    default:
        lua_pushlstring(L, (const char *)sqlite3_column_text(st, i),
                        (size_t)sqlite3_column_bytes(st, i));
        break;
    }
}

static int l_sql(lua_State *L)
{
    mw_sqlrun *r = lua_touserdata(L, lua_upvalueindex(1));
    const char *sql = luaL_checkstring(L, 1);
    sqlite3_stmt *st = prepare(r, sql);
    int nargs = lua_gettop(L) - 1;
    int rc, row = 0, cols;

    if (!st) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot prepare SQL: %s", sqlite3_errmsg(r->db));
        return 2;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    for (int i = 1; i <= nargs; i++)
        bind_one(L, st, i, i + 1);
    cols = sqlite3_column_count(st);
    lua_newtable(L);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        lua_createtable(L, 0, cols);
        for (int i = 0; i < cols; i++) {
            push_column(L, st, i);
            lua_setfield(L, -2, sqlite3_column_name(st, i));
        }
        lua_rawseti(L, -2, ++row);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (!cached(r, st))
        sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        lua_pushnil(L);
        lua_pushfstring(L, "SQL failed: %s", sqlite3_errmsg(r->db));
        return 2;
    }
    lua_pushinteger(L, sqlite3_changes(r->db));
    lua_pushnumber(L, (lua_Number)sqlite3_last_insert_rowid(r->db));
    return 3;
}

static int exec_simple(lua_State *L, const char *sql)
{
    mw_sqlrun *r = lua_touserdata(L, lua_upvalueindex(1));
    sqlite3_stmt *st = prepare(r, sql);
    int rc = st ? sqlite3_step(st) : SQLITE_ERROR;

    if (rc == SQLITE_DONE) {
        lua_pushboolean(L, 1);
    } else {
        lua_pushnil(L);
        lua_pushstring(L, sqlite3_errmsg(r->db));
    }
    if (st) {
        sqlite3_reset(st);
        if (!cached(r, st))
            sqlite3_finalize(st);
    }
    return rc == SQLITE_DONE ? 1 : 2;
}

static int l_begin(lua_State *L) { return exec_simple(L, "BEGIN IMMEDIATE"); }
static int l_commit(lua_State *L) { return exec_simple(L, "COMMIT"); }
static int l_rollback(lua_State *L) { return exec_simple(L, "ROLLBACK"); }

void mw_sqlrun_register(lua_State *L, mw_sqlrun *r)
{
    static const luaL_Reg fns[] = {{"sql", l_sql}, {"sql_begin", l_begin},
                                   {"sql_commit", l_commit},
                                   {"sql_rollback", l_rollback}, {NULL, NULL}};

    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushlightuserdata(L, r);
        lua_pushcclosure(L, f->func, 1);
        lua_setfield(L, -2, f->name);
    }
}
