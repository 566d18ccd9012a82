/* SPDX-License-Identifier: Apache-2.0 */
/* gf_log.c: the core's logging callback (see gf_log.h). */
#include <stdarg.h>
#include <stdio.h>

#include "core/gf_log.h"

static gf_log_enabled_fn *log_enabled_cb;
static gf_log_print_fn *log_print_cb;
static void *log_baton;

void gf_log_set(gf_log_enabled_fn *enabled, gf_log_print_fn *print, void *baton)
{
    log_enabled_cb = enabled;
    log_print_cb = print;
    log_baton = baton;
}

int gf_log_enabled(gf_log_level_t level)
{
    return log_print_cb && (!log_enabled_cb || log_enabled_cb(log_baton, level));
}

void gf_log(gf_log_level_t level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    if (!gf_log_enabled(level)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log_print_cb(log_baton, level, buf);
}
