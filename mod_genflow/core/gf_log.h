/* SPDX-License-Identifier: Apache-2.0 */
/* gf_log.h: logging for the httpd-free core.
 *
 * The core never includes httpd headers, so it cannot call ap_log_error.
 * mod_genflow.c installs a callback at startup (the mod_md pattern,
 * md_log_set); unit tests leave it unset and the messages are dropped.
 */
#ifndef GF_LOG_H
#define GF_LOG_H

typedef enum {
    GF_LOG_ERR = 3,
    GF_LOG_WARNING = 4,
    GF_LOG_INFO = 6,
    GF_LOG_DEBUG = 7
} gf_log_level_t;

typedef int gf_log_enabled_fn(void *baton, gf_log_level_t level);
typedef void gf_log_print_fn(void *baton, gf_log_level_t level, const char *msg);

void gf_log_set(gf_log_enabled_fn *enabled, gf_log_print_fn *print, void *baton);
int gf_log_enabled(gf_log_level_t level);
void gf_log(gf_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
