/* SPDX-License-Identifier: MIT */
/* core.sql: binding, rows, the statement cache and the transaction calls,
 * each case a Lua chunk run against an in-memory database. */
#include <stdio.h>

#include <lauxlib.h>
#include <lualib.h>
#include <sqlite3.h>

#include "sqlrun.h"

typedef struct test_case {
    const char *name;
    const char *chunk; /* returns true when the behaviour holds */
} test_case;

static const test_case cases[] = {
    {"rows come back as tables keyed by column name",
     "local rows = sql.sql('SELECT 1 AS a, \\'x\\' AS b UNION ALL SELECT 2, \\'y\\'')\n"
     "return #rows == 2 and rows[1].a == 1 and rows[2].b == 'y'"},
    {"a parameter not given binds NULL",
     "return sql.sql('SELECT ? IS NULL AS n, ? AS v', nil)[1].n == 1"},
    {"integers bind exactly and fractions stay fractions",
     "local r = sql.sql('SELECT ? AS i, typeof(?) AS t, ? AS f', 2^52 + 1, 2^40, 0.5)[1]\n"
     "return r.i == 2^52 + 1 and r.t == 'integer' and r.f == 0.5"},
    {"an INSERT returns no rows, the count changed and the new id",
     "sql.sql('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)')\n"
     "local rows, n, id = sql.sql('INSERT INTO t(v) VALUES(?)', 'a')\n"
     "return #rows == 0 and n == 1 and id == 1"},
    {"a text run twice is prepared once",
     "local before = count()\n"
     "sql.sql('SELECT v FROM t WHERE id = ?', 1)\n"
     "local after = count()\n"
     "return sql.sql('SELECT v FROM t WHERE id = ?', 1)[1].v == 'a'\n"
     "  and after == before + 1 and count() == after"},
    {"a text built anew at run time finds the cached statement",
     "local before = count()\n"
     "local w = 'WHERE'\n"
     "local text = 'SELECT v FROM t ' .. w .. ' id = ?'\n"
     "return sql.sql(text, 1)[1].v == 'a' and count() == before"},
    {"texts past the cache's size still run, uncached",
     "for i = 1, 200 do\n"
     "  if sql.sql('SELECT ' .. i .. ' AS n')[1].n ~= i then return false end\n"
     "end\n"
     "return count() <= 128"},
    {"a bad statement returns nil and the reason",
     "local rows, err = sql.sql('SELEC 1')\n"
     "return rows == nil and err:find('cannot prepare SQL', 1, true) ~= nil"},
    {"a text with no statement in it is an error, every time",
     "return sql.sql('-- nothing') == nil and sql.sql('-- nothing') == nil"},
    {"a failing step returns nil and the reason, and the statement runs again",
     "sql.sql('CREATE TABLE u(k TEXT PRIMARY KEY)')\n"
     "sql.sql('INSERT INTO u VALUES(?)', 'k')\n"
     "local rows, err = sql.sql('INSERT INTO u VALUES(?)', 'k')\n"
     "return rows == nil and err:find('UNIQUE', 1, true) ~= nil\n"
     "  and sql.sql('INSERT INTO u VALUES(?)', 'j') ~= nil"},
    {"a rolled back transaction leaves nothing",
     "assert(sql.sql_begin())\n"
     "sql.sql('INSERT INTO t(v) VALUES(?)', 'gone')\n"
     "assert(sql.sql_rollback())\n"
     "return sql.sql('SELECT count(*) AS n FROM t')[1].n == 1"},
    {"a committed transaction stays",
     "assert(sql.sql_begin())\n"
     "sql.sql('INSERT INTO t(v) VALUES(?)', 'kept')\n"
     "assert(sql.sql_commit())\n"
     "return sql.sql('SELECT count(*) AS n FROM t')[1].n == 2"},
    {"commit outside a transaction says why",
     "local ok, err = sql.sql_commit()\n"
     "return ok == nil and type(err) == 'string'"},
};

/* count(): the statements prepared on the database now. */
static int l_count(lua_State *L)
{
    sqlite3 *db = lua_touserdata(L, lua_upvalueindex(1));
    int n = 0;

    for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st;
         st = sqlite3_next_stmt(db, st))
        n++;
    lua_pushinteger(L, n);
    return 1;
}

static int run(lua_State *L, const test_case *c)
{
    int ok;

    if (luaL_dostring(L, c->chunk) != 0) {
        printf("# %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return 0;
    }
    ok = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return ok;
}

int main(void)
{
    int failures = 0, n = (int)(sizeof(cases) / sizeof(cases[0]));
    sqlite3 *db;
    mw_sqlrun *r;
    lua_State *L;

    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return 1;
    r = mw_sqlrun_create(db);
    L = luaL_newstate();
    luaL_openlibs(L);
    lua_newtable(L);
    mw_sqlrun_register(L, r);
    lua_setglobal(L, "sql");
    lua_pushlightuserdata(L, db);
    lua_pushcclosure(L, l_count, 1);
    lua_setglobal(L, "count");

    for (int i = 0; i < n; i++) {
        int ok = run(L, &cases[i]);
        printf("%s - %s\n", ok ? "ok" : "not ok", cases[i].name);
        failures += !ok;
    }

    lua_close(L);
    mw_sqlrun_destroy(r);
    sqlite3_close(db);
    printf("1..%d\n", n);
    return failures ? 1 : 0;
}
