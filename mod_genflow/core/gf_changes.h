/* SPDX-License-Identifier: Apache-2.0 */
/* gf_changes.h: the generations a child heard change lately.
 *
 * Every change of a generation's visible state is announced to each
 * child (NOTIFY genflow_change); the child counts what it hears and
 * keeps the last GF_RECENT ids in a ring, so that a waiter that read the
 * row just before a notification arrived does not sleep through it, and
 * a kept poll can tell whether its generation changed during its call.
 * The ring lives in the glue's engine record, under its mutex
 * (mod_genflow_engine_changes.c); these functions only read and write it.
 */
#ifndef GF_CHANGES_H
#define GF_CHANGES_H

#include <apr.h>
#include <apr_time.h>

#define GF_RECENT 128

typedef struct {
    char id[40];
    apr_uint64_t seq;
} gf_recent_t;

/* A change heard after seq changes: of id, noted in the ring; of any
 * generation (id NULL), every "since" before it made stale. The count
 * after it. */
apr_uint64_t gf_changes_note(gf_recent_t ring[GF_RECENT], apr_uint64_t seq, const char *id);

/* Was id noted after since (the count then), seq being the count now?
 * Also 1 when too much happened since for the ring to tell. */
int gf_changes_since(const gf_recent_t ring[GF_RECENT], apr_uint64_t seq, const char *id,
                     apr_uint64_t since);

/* Waiters re-read at least this often: the backstop of NOTIFY. */
#define GF_BACKSTOP_LISTENING apr_time_from_sec(2)
#define GF_BACKSTOP_DEAF      apr_time_from_msec(250)

/* How long a waiter for a change sleeps at most: timeout, capped by the
 * backstop (the short one while the child hears no notifications). */
apr_interval_time_t gf_changes_wait(apr_interval_time_t timeout, int listening);

/* One more entry, name, at the end of a newline-separated list of size
 * bytes (a name may be there several times: one entry per place freed);
 * 0 when it does not fit (the list is left as it was). */
int gf_changes_list_add(char *list, apr_size_t size, const char *name);

#endif
