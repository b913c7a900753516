/* SPDX-License-Identifier: MIT */
/* The statement runner behind `core.sql`: a small cache of prepared
 * statements keyed by their text, parameter binding from Lua (nil and
 * json.null bind NULL, booleans bind 0/1, integral numbers bind int64),
 * and rows pushed as tables keyed by column name. */
#include "sqlrun.h"

#include <math.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <sqlite3.h>

#include "json.h"

#define CACHE_SIZE 128

/* The cache is a Lua table from SQL text to its statement (a light
 * userdata), kept as an upvalue of `sql`. Lua interns strings, so the
 * lookup is one hashed probe however many statements are cached, and
 * the table's keys keep the texts alive. The statements themselves are
 * listed here, to be finalized with the runner. */
struct mw_sqlrun {
    sqlite3 *db;
    sqlite3_stmt *cache[CACHE_SIZE];
    int n;
    sqlite3_stmt *begin, *commit, *rollback;
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
    for (int i = 0; i < r->n; i++)
        sqlite3_finalize(r->cache[i]);
    sqlite3_finalize(r->begin);
    sqlite3_finalize(r->commit);
    sqlite3_finalize(r->rollback);
    free(r);
}

/* The statement for the SQL text at stack index idx, from the cache or
 * prepared (and cached while there is room). Sets *owned when the
 * caller must finalize it. Leaves the stack as it found it. */
static sqlite3_stmt *prepare(lua_State *L, mw_sqlrun *r, int idx, int *owned)
{
    sqlite3_stmt *st;
    size_t len;
    const char *sql = lua_tolstring(L, idx, &len);

    *owned = 0;
    lua_pushvalue(L, idx);
    lua_rawget(L, lua_upvalueindex(2));
    st = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (st)
        return st;
    if (sqlite3_prepare_v2(r->db, sql, (int)len, &st, NULL) != SQLITE_OK || !st)
        return NULL; /* no statement in the text is an error too */
    if (r->n == CACHE_SIZE) {
        *owned = 1;
        return st;
    }
    r->cache[r->n++] = st;
    lua_pushvalue(L, idx);
    lua_pushlightuserdata(L, st);
    lua_rawset(L, lua_upvalueindex(2));
    return st;
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
        /* not copied: the string stays on the Lua stack while the
         * statement runs, and every parameter is bound afresh before
         * the next run, so the pointer is never read once stale */
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

/* Binds every parameter of st from the stack values after the SQL text;
 * those not given bind NULL. */
static void bind_all(lua_State *L, sqlite3_stmt *st)
{
    int n = sqlite3_bind_parameter_count(st);

    for (int i = 1; i <= n; i++)
        bind_one(L, st, i, i + 1);
}

/* Steps st to its end and pushes its rows, a table of tables keyed by
 * column name. The names are pushed once, below the rows table's first
 * row, and reused for every row. A statement with no result columns (a
 * write) pushes the one shared empty table, read-only, instead of a new
 * one. Returns the last step's result. */
static int push_rows(lua_State *L, sqlite3_stmt *st)
{
    int cols = sqlite3_column_count(st);
    int rows, rc, n = 0;

    if (cols == 0) {
        lua_pushvalue(L, lua_upvalueindex(3));
        return sqlite3_step(st);
    }
    lua_newtable(L);
    rows = lua_gettop(L);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == 0) {
            luaL_checkstack(L, cols + 3, "too many result columns");
            for (int i = 0; i < cols; i++)
                lua_pushstring(L, sqlite3_column_name(st, i));
        }
        lua_createtable(L, 0, cols);
        for (int i = 0; i < cols; i++) {
            lua_pushvalue(L, rows + 1 + i);
            push_column(L, st, i);
            lua_rawset(L, -3);
        }
        lua_rawseti(L, rows, ++n);
    }
    lua_settop(L, rows);
    return rc;
}

static int l_sql(lua_State *L)
{
    mw_sqlrun *r = lua_touserdata(L, lua_upvalueindex(1));
    sqlite3_stmt *st;
    int owned, rc;

    luaL_checkstring(L, 1);
    if (!(st = prepare(L, r, 1, &owned))) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot prepare SQL: %s", sqlite3_errmsg(r->db));
        return 2;
    }
    /* an error raised while rows were pushed leaves it mid-run */
    if (sqlite3_stmt_busy(st))
        sqlite3_reset(st);
    bind_all(L, st);
    rc = push_rows(L, st);
    sqlite3_reset(st);
    if (owned)
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

/* Runs one of the transaction statements, prepared on first use into
 * *slot. Pushes true, or nil and the message. */
static int exec_simple(lua_State *L, sqlite3_stmt **slot, const char *sql)
{
    mw_sqlrun *r = lua_touserdata(L, lua_upvalueindex(1));
    int rc = SQLITE_ERROR;

    if (*slot || sqlite3_prepare_v2(r->db, sql, -1, slot, NULL) == SQLITE_OK) {
        rc = sqlite3_step(*slot);
        sqlite3_reset(*slot);
    }
    if (rc == SQLITE_DONE) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushnil(L);
    lua_pushstring(L, sqlite3_errmsg(r->db));
    return 2;
}

static int l_begin(lua_State *L)
{
    mw_sqlrun *r = lua_touserdata(L, lua_upvalueindex(1));

    return exec_simple(L, &r->begin, "BEGIN IMMEDIATE");
}

static int l_commit(lua_State *L)
{
    mw_sqlrun *r = lua_touserdata(L, lua_upvalueindex(1));

    return exec_simple(L, &r->commit, "COMMIT");
}

static int l_rollback(lua_State *L)
{
    mw_sqlrun *r = lua_touserdata(L, lua_upvalueindex(1));

    return exec_simple(L, &r->rollback, "ROLLBACK");
}

static int read_only(lua_State *L)
{
    return luaL_error(L, "the rows of a statement without results are "
                         "read-only");
}

/* Each function gets the runner, the cache table and the empty rows
 * table as upvalues. */
void mw_sqlrun_register(lua_State *L, mw_sqlrun *r)
{
    static const luaL_Reg fns[] = {{"sql", l_sql}, {"sql_begin", l_begin},
                                   {"sql_commit", l_commit},
                                   {"sql_rollback", l_rollback}, {NULL, NULL}};

    lua_newtable(L);
    /* the rows of a write: empty, and kept so (see push_rows) */
    lua_newtable(L);
    lua_newtable(L);
    lua_pushcfunction(L, read_only);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushlightuserdata(L, r);
        lua_pushvalue(L, -3);
        lua_pushvalue(L, -3);
        lua_pushcclosure(L, f->func, 3);
        lua_setfield(L, -4, f->name);
    }
    lua_pop(L, 2);
}
