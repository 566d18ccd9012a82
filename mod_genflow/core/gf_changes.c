/* SPDX-License-Identifier: Apache-2.0 */
/* gf_changes.c: the ring of the generations a child heard change lately
 * (gf_changes.h). */
#include <string.h>
#include <apr_strings.h>

#include "core/gf_changes.h"

apr_uint64_t gf_changes_note(gf_recent_t ring[GF_RECENT], apr_uint64_t seq, const char *id)
{
    seq++;
    if (id) {
        gf_recent_t *slot = &ring[seq % GF_RECENT];
        apr_cpystrn(slot->id, id, sizeof(slot->id));
        slot->seq = seq;
    }
    else {
        /* Everything may have changed: every "since" is now stale. */
        seq += GF_RECENT;
    }
    return seq;
}

apr_interval_time_t gf_changes_wait(apr_interval_time_t timeout, int listening)
{
    apr_interval_time_t cap = listening ? GF_BACKSTOP_LISTENING : GF_BACKSTOP_DEAF;
    return timeout > cap ? cap : timeout;
}

int gf_changes_list_add(char *list, apr_size_t size, const char *name)
{
    apr_size_t len = strlen(list), n = strlen(name);
    if (len + n + 2 > size) return 0;
    if (len) list[len++] = '\n';
    memcpy(list + len, name, n + 1);
    return 1;
}

int gf_changes_since(const gf_recent_t ring[GF_RECENT], apr_uint64_t seq, const char *id,
                     apr_uint64_t since)
{
    int i;
    if (seq - since >= GF_RECENT) return 1;   /* too much happened: look again */
    for (i = 0; i < GF_RECENT; i++) {
        if (ring[i].seq > since && !strcmp(ring[i].id, id)) return 1;
    }
    return 0;
}
