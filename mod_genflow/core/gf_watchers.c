/* SPDX-License-Identifier: Apache-2.0 */
/* gf_watchers.c: watchers per user for every process of a server (see
 * gf_watchers.h). */
#include "core/gf_watchers.h"

apr_uint64_t gf_watchers_key(const char *user)
{
    /* FNV-1a, 64 bits: two users sharing a key would share a cap, which at
     * 2^-64 per pair is not a concern. */
    apr_uint64_t h = 14695981039346656037ULL;
    for (; *user; user++) h = (h ^ (unsigned char)*user) * 1099511628211ULL;
    return h ? h : 1;
}

static apr_size_t cell_at(apr_uint64_t user, apr_size_t ncells, int k)
{
    return (apr_size_t)((user + (apr_uint64_t)k) % ncells);
}

static int window(apr_size_t ncells)
{
    return ncells < GF_WATCHERS_PROBE ? (int)ncells : GF_WATCHERS_PROBE;
}

int gf_watchers_count(const gf_watchers_cell_t *cells, apr_size_t ncells, apr_uint64_t user)
{
    int k, total = 0;
    for (k = 0; k < window(ncells); k++) {
        const gf_watchers_cell_t *c = &cells[cell_at(user, ncells, k)];
        if (c->user == user) total += c->n;
    }
    return total;
}

/* The user's cells of processes that are gone, emptied; what they held. */
static int reap(gf_watchers_cell_t *cells, apr_size_t ncells, apr_uint64_t user,
                apr_int32_t self, gf_watchers_alive_fn *alive, void *baton)
{
    int k, freed = 0;
    for (k = 0; k < window(ncells); k++) {
        gf_watchers_cell_t *c = &cells[cell_at(user, ncells, k)];
        if (c->user == user && c->n > 0 && c->pid != self && !alive(c->pid, baton)) {
            freed += c->n;
            c->n = 0;
        }
    }
    return freed;
}

gf_watchers_result_t gf_watchers_open(gf_watchers_cell_t *cells, apr_size_t ncells,
                                      apr_uint64_t user, apr_int32_t pid, int limit,
                                      gf_watchers_alive_fn *alive, void *baton)
{
    gf_watchers_cell_t *mine = NULL, *spare = NULL;
    int k, total = 0;

    for (k = 0; k < window(ncells); k++) {
        gf_watchers_cell_t *c = &cells[cell_at(user, ncells, k)];
        if (c->user == user) {
            total += c->n;
            if (c->pid == pid) mine = c;
        }
        if (c->n == 0 && !spare) spare = c;
    }
    if (limit > 0 && total >= limit) {
        total -= reap(cells, ncells, user, pid, alive, baton);
        if (total >= limit) return GF_WATCHERS_LIMIT;
    }
    for (k = 0; !mine && !spare && k < window(ncells); k++) {
        gf_watchers_cell_t *c = &cells[cell_at(user, ncells, k)];
        if (c->n == 0) spare = c;                  /* emptied by the reap */
    }
    if (!mine) {
        if (!spare) return GF_WATCHERS_FULL;
        mine = spare;
        mine->user = user;
        mine->pid = pid;
        mine->n = 0;
    }
    mine->n++;
    return GF_WATCHERS_OK;
}

void gf_watchers_close(gf_watchers_cell_t *cells, apr_size_t ncells, apr_uint64_t user,
                       apr_int32_t pid)
{
    int k;
    for (k = 0; k < window(ncells); k++) {
        gf_watchers_cell_t *c = &cells[cell_at(user, ncells, k)];
        if (c->user == user && c->pid == pid && c->n > 0) {
            c->n--;
            return;
        }
    }
}

void gf_watchers_forget_pid(gf_watchers_cell_t *cells, apr_size_t ncells, apr_int32_t pid)
{
    apr_size_t i;
    for (i = 0; i < ncells; i++) {
        if (cells[i].pid == pid) cells[i].n = 0;
    }
}

apr_size_t gf_watchers_cells_wanted(int children, long per_child)
{
    apr_size_t n = (apr_size_t)GF_WATCHERS_CELLS_PER_WATCHER
                   * (apr_size_t)(children > 0 ? children : 1) * (apr_size_t)per_child;
    return n < GF_WATCHERS_CELLS_MIN ? GF_WATCHERS_CELLS_MIN
           : n > GF_WATCHERS_CELLS_MAX ? GF_WATCHERS_CELLS_MAX : n;
}
