/* SPDX-License-Identifier: MIT */
/* Runs SQL for the Lua side of the daemon (`core.sql`): prepared once per
 * statement text and cached, parameters bound from Lua values, rows
 * returned as Lua tables. The statements themselves live in one Lua
 * module, lua/moonwire/db.lua. */
#ifndef MW_SQLRUN_H
#define MW_SQLRUN_H

#include <lua.h>

struct sqlite3;
typedef struct mw_sqlrun mw_sqlrun;

mw_sqlrun *mw_sqlrun_create(struct sqlite3 *db);
void mw_sqlrun_destroy(mw_sqlrun *r);

/* sql(text, p1, p2, ...) -> rows, changes, last_id | nil, err.
 * Registered into the table on top of L as `sql`, with `begin`,
 * `commit` and `rollback`. */
void mw_sqlrun_register(lua_State *L, mw_sqlrun *r);

#endif
