/* SPDX-License-Identifier: MIT */
/* Entry point: global library set-up, then the command line. */
#include <curl/curl.h>

#include "cli.h"

int main(int argc, char **argv)
{
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = mw_cli_main(argc, argv);
    curl_global_cleanup();
    return rc;
}
