/* SPDX-License-Identifier: MIT */
/* `moonwire repl`: an interactive Lua prompt inside the runtime. */
#ifndef MW_REPL_H
#define MW_REPL_H

struct mw_host;

int mw_repl_main(struct mw_host *h, const char *workflow, const char *share);

#endif
