/* SPDX-License-Identifier: MIT */
/* `moonwire serve`: configuration (defaults, file, environment), the data
 * directory and admin token, the HTTP server, signals, and the hand-off
 * of every request to the Lua API (moonwire.api). */
#ifndef MW_DAEMON_H
#define MW_DAEMON_H

int mw_daemon_main(int argc, char **argv);

#endif
