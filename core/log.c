/* SPDX-License-Identifier: MIT */
/* Log sink: "<UTC time> <level> <message>" per line on stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

_Atomic int mw_log_level = MW_LOG_WARN;

static const char *const names[] = {"error", "warn", "info", "debug"};

int mw_log_set_level(const char *name)
{
    for (int i = 0; name && i < 4; i++) {
        if (strcmp(name, names[i]) == 0) {
            mw_log_level = i;
            return 0;
        }
    }
    return name ? -1 : 0;
}

double mw_log_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void mw_log_write(int level, const char *fmt, ...)
{
    char line[2048];
    char stamp[32];
    struct timeval tv;
    struct tm tm;
    va_list ap;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* One event, one line: values from outside (an incident id, say) must
     * not start a forged line or drive the terminal. */
    for (char *p = line; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = (*p == '\n' || *p == '\r') ? ' ' : '?';
    }
    fprintf(stderr, "%s.%03ldZ %s %s\n", stamp, (long)(tv.tv_usec / 1000),
            names[level], line);
}
