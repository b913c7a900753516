/* SPDX-License-Identifier: MIT */
/* The command line: run, validate, render, test. Parses arguments, builds
 * a host, and hands each command to its C driver or Lua function. */
#ifndef MW_CLI_H
#define MW_CLI_H

int mw_cli_main(int argc, char **argv);

#endif
