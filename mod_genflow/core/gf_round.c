/* SPDX-License-Identifier: Apache-2.0 */
/* gf_round.c: the rules of gf_round.h that choose which row (type,
 * provider) a claim takes next: the skip list, the due probe's rows, a
 * claim's gate and the visit of a round. The timing is gf_round_time.c's.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "core/gf_round.h"

/* ---- the skip list ----------------------------------------------------- */

int gf_round_skip_has(const gf_skip_t *list, const char *name)
{
    apr_size_t n = strlen(name);
    const char *at = list->names;
    while (*at) {
        const char *end = strchr(at, '\n');
        apr_size_t len = end ? (apr_size_t)(end - at) : strlen(at);
        if (len == n && !memcmp(at, name, n)) return 1;
        if (!end) break;
        at = end + 1;
    }
    return 0;
}

void gf_round_skip_add(gf_skip_t *skip, const char *list)
{
    char *copy, *last, *name;
    apr_size_t len = strlen(skip->names);
    char buf[GF_SKIP_MAX];

    if (!list || !*list) return;
    apr_cpystrn(buf, list, sizeof(buf));
    copy = buf;
    for (name = apr_strtok(copy, "\n", &last); name; name = apr_strtok(NULL, "\n", &last)) {
        apr_size_t n = strlen(name);
        if (gf_round_skip_has(skip, name)) continue;
        if (len + n + 2 > sizeof(skip->names)) return;
        if (len) skip->names[len++] = '\n';
        memcpy(skip->names + len, name, n + 1);
        len += n;
    }
}

int gf_round_split_names(apr_pool_t *p, const gf_skip_t *list, const char **names)
{
    char *copy = apr_pstrdup(p, list->names), *last, *name;
    int n = 0;
    for (name = apr_strtok(copy, "\n", &last); name && n < GF_ROUND_NAMES_MAX;
         name = apr_strtok(NULL, "\n", &last)) {
        names[n++] = name;
    }
    return n;
}

const char *gf_round_provider(const char *const *names, int n, int i, int rotate,
                              const gf_skip_t *skip)
{
    const char *name;
    if (n <= 0) return NULL;
    name = names[(i + rotate) % n];
    return gf_round_skip_has(skip, name) ? NULL : name;
}

void gf_round_due_mark(gf_due_t *due, const char *provider, const char *kind)
{
    due->any = 1;
    gf_round_skip_add(!strcmp(kind, "poll") ? &due->polls : &due->fresh, provider);
}

/* ---- a claim's gate ---------------------------------------------------- */

const char *gf_round_gate_label(const char *gate)
{
    return !gate ? "other" : !strcmp(gate, "open") ? "empty" : gate;
}

int gf_round_gate_skips(const char *gate)
{
    return gate && strcmp(gate, "open") != 0;
}

int gf_round_gate_busy(const char *gate)
{
    return gate && !strcmp(gate, "busy");
}

apr_interval_time_t gf_round_busy_again(const char *gate, int tries, int stopping)
{
    if (!gf_round_gate_busy(gate) || tries >= GF_ROUND_BUSY_TRIES || stopping) return 0;
    return GF_ROUND_BUSY_WAIT << (tries - 1);
}

/* ---- claimed rows a worker runs itself ---------------------------------- */

apr_time_t gf_round_stop_by(apr_time_t now, int lease_secs)
{
    return now + apr_time_from_sec(lease_secs) / 2;
}

int gf_round_give_back(int i, int from, apr_time_t now, apr_time_t stop_by, int stopping)
{
    return i > from && (now >= stop_by || stopping);
}

int gf_round_claim_want(int polls, int places, int loop, int handed_on, int plain)
{
    if (places <= 0) return 0;
    if (polls) return places < GF_ROUND_POLL_BATCH ? places : GF_ROUND_POLL_BATCH;
    /* The statement takes a batch of new work, a small one, or one row. */
    if (!loop || handed_on || !plain) return 1;
    if (places >= GF_ROUND_FRESH_BATCH) return GF_ROUND_FRESH_BATCH;
    return places >= GF_ROUND_FRESH_SMALL ? GF_ROUND_FRESH_SMALL : 1;
}

int gf_round_batch_result(int worked, int trouble)
{
    /* A batch that got anything done is work, even if one outcome could
     * not be written: the worker goes on rather than sleeping it off. */
    return worked ? 1 : trouble ? -1 : 0;
}

/* ---- the round --------------------------------------------------------- */

int gf_round_alloc(gf_round_t *r, int maxtypes)
{
    memset(r, 0, sizeof(*r));
    r->priority = calloc((apr_size_t)maxtypes, sizeof(int));
    r->due = calloc((apr_size_t)maxtypes, sizeof(gf_due_t));
    r->order = calloc((apr_size_t)maxtypes, sizeof(int));
    r->tried = calloc((apr_size_t)maxtypes, sizeof(int));
    r->found = calloc((apr_size_t)maxtypes, sizeof(gf_skip_t));
    return r->priority && r->due && r->order && r->tried && r->found;
}

void gf_round_free(gf_round_t *r)
{
    free(r->priority);
    free(r->due);
    free(r->order);
    free(r->tried);
    free(r->found);
}

void gf_round_visit_order(const int *priority, int ntypes, int start, int *order)
{
    int i, j;
    for (i = 0; i < ntypes; i++) order[i] = (start + i) % ntypes;
    /* Insertion sort, stable: the rotation stays within each priority. */
    for (i = 1; i < ntypes; i++) {
        int k = order[i], pk = priority[k];
        for (j = i; j > 0 && priority[order[j - 1]] < pk; j--) {
            order[j] = order[j - 1];
        }
        order[j] = k;
    }
}

void gf_round_begin(gf_round_t *r, int ntypes, int start, int probed)
{
    int i;
    r->ntypes = ntypes;
    r->claims = r->worked = r->capped = 0;
    r->trouble = !probed;
    gf_round_visit_order(r->priority, ntypes, start, r->order);
    for (i = 0; i < ntypes; i++) {
        if (!probed) r->due[i].any = 0;
        r->tried[i] = 0;
        r->found[i].names[0] = '\0';
    }
    r->at = -1;
}

int gf_round_next(gf_round_t *r)
{
    for (r->at++; r->at < r->ntypes; r->at++) {
        int k = r->order[r->at];
        /* Twice without work this round is enough (the probe before a
         * lower claim may have marked it due again). */
        if (r->due[k].any && r->tried[k] < 2) return k;
    }
    return -1;
}

int gf_round_asks_higher(const gf_round_t *r, int k)
{
    int i;
    if (r->at <= 0) return 0;
    for (i = 0; i < r->ntypes; i++) {
        if (r->priority[i] > r->priority[k]) return 1;
    }
    return 0;
}

int gf_round_higher_due(const gf_round_t *r, int k)
{
    int i;
    for (i = 0; i < r->ntypes; i++) {
        if (r->due[i].any && r->tried[i] < 2 && r->priority[i] > r->priority[k]) return 1;
    }
    return 0;
}

void gf_round_top(gf_round_t *r)
{
    r->at = -1;
}

apr_size_t gf_round_skip_of_higher(const gf_round_t *r, int k, gf_skip_t *skip)
{
    int i;
    skip->names[0] = '\0';
    for (i = 0; i < r->ntypes; i++) {
        if (r->priority[i] > r->priority[k]) gf_round_skip_add(skip, r->found[i].names);
    }
    return strlen(skip->names);
}

void gf_round_found(gf_round_t *r, int k, const gf_skip_t *skip, apr_size_t before)
{
    /* What the claim found full: skip now ends with it. */
    const char *found = skip->names + before;
    if (*found == '\n') found++;
    gf_round_skip_add(&r->found[k], found);
}

int gf_round_claimed(gf_round_t *r, int k, int rc)
{
    if (rc > 0) {
        r->worked = 1;
        /* From the top again; a long queue still ends the round now and
         * then, for the sweeps and the next due probe. */
        if (++r->claims >= GF_ROUND_CLAIMS) {
            r->capped = 1;
            return -1;
        }
        r->at = -1;
        return 1;
    }
    r->tried[k]++;
    r->due[k].any = 0;           /* nothing it could take this round */
    if (rc < 0) r->trouble = 1;
    return 0;
}

int gf_round_result(const gf_round_t *r)
{
    return r->worked ? 1 + r->capped : r->trouble ? -1 : 0;
}
