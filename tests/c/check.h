/* SPDX-License-Identifier: MIT */
/* The C tests' one assertion: prints a TAP line ("ok - name" or "not ok -
 * name (file:line)") and counts failures, so that main can end with
 * `return failures ? 1 : 0`. */
#ifndef MW_TEST_CHECK_H
#define MW_TEST_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(name, cond) \
    do { \
        if (!(cond)) { \
            failures++; \
            printf("not ok - %s (%s:%d)\n", name, __FILE__, __LINE__); \
        } else { \
            printf("ok - %s\n", name); \
        } \
    } while (0)

#endif
