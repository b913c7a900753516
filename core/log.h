/* SPDX-License-Identifier: MIT */
/* Leveled, one-line-per-event logging to stderr. The macros test the level
 * before formatting, so a disabled debug line costs one comparison. */
#ifndef MW_LOG_H
#define MW_LOG_H

enum mw_log_level {
    MW_LOG_ERROR = 0,
    MW_LOG_WARN,
    MW_LOG_INFO,
    MW_LOG_DEBUG
};

/* read by the checkpoint thread too (core/checkpoint.c): atomic */
extern _Atomic int mw_log_level;

/* Returns -1 for a name that is not a level (the level is unchanged). */
int mw_log_set_level(const char *name);
double mw_log_clock_ms(void);
void mw_log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define MW_LOG(lvl, ...) \
    do { \
        if ((lvl) <= mw_log_level) \
            mw_log_write((lvl), __VA_ARGS__); \
    } while (0)
/* At most one line a second from this call site. */
#define MW_LOG_LIMITED(lvl, ...) \
    do { \
        static double mw_last_; \
        double mw_now_ = mw_log_clock_ms(); \
        if ((lvl) <= mw_log_level && mw_now_ - mw_last_ >= 1000) { \
            mw_last_ = mw_now_; \
            mw_log_write((lvl), __VA_ARGS__); \
        } \
    } while (0)
#define MW_ERROR(...) MW_LOG(MW_LOG_ERROR, __VA_ARGS__)
#define MW_WARN(...) MW_LOG(MW_LOG_WARN, __VA_ARGS__)
#define MW_INFO(...) MW_LOG(MW_LOG_INFO, __VA_ARGS__)
#define MW_DEBUG(...) MW_LOG(MW_LOG_DEBUG, __VA_ARGS__)

#endif
