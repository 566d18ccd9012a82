/* SPDX-License-Identifier: Apache-2.0 */
/* gf_watchers.h: how many requests each user has watching generations
 * (event streams, status long-polls), counted for every process of a
 * server in one table, so that a per-user cap holds for the server as a
 * whole, not for each child.
 *
 * The table is an array of cells the caller keeps in shared memory and
 * serialises calls on (a global mutex). A cell counts one user's watchers
 * in one process, so that a process that dies with watchers open (killed,
 * crashed) can be reaped: its cells are emptied once it is found gone.
 * Cells are found by probing a window of GF_WATCHERS_PROBE cells from the
 * user's hash: every cell of a user lies in that window, so a count is a
 * walk of one window, whatever the table's size.
 */
#ifndef GF_WATCHERS_H
#define GF_WATCHERS_H

#include <apr.h>

typedef struct {
    apr_uint64_t user;   /* gf_watchers_key of the user; 0: never used */
    apr_int32_t pid;     /* the process whose watchers these are */
    apr_int32_t n;       /* how many it has open; 0: free for anyone */
} gf_watchers_cell_t;

#define GF_WATCHERS_PROBE 64

/* The cell key of a user name (never 0). */
apr_uint64_t gf_watchers_key(const char *user);

typedef enum {
    GF_WATCHERS_OK = 0,      /* counted */
    GF_WATCHERS_LIMIT,       /* the user has limit open already */
    GF_WATCHERS_FULL         /* no free cell in the user's window: not counted */
} gf_watchers_result_t;

/* Is process pid alive? (kill(pid, 0) in the glue.) */
typedef int gf_watchers_alive_fn(apr_int32_t pid, void *baton);

/* One more watcher of user in process pid, unless the user has limit open
 * in all processes together (limit > 0). At the limit, the cells of
 * processes that are gone are emptied first. */
gf_watchers_result_t gf_watchers_open(gf_watchers_cell_t *cells, apr_size_t ncells,
                                      apr_uint64_t user, apr_int32_t pid, int limit,
                                      gf_watchers_alive_fn *alive, void *baton);

/* One watcher of user in pid fewer (one that gf_watchers_open counted). */
void gf_watchers_close(gf_watchers_cell_t *cells, apr_size_t ncells, apr_uint64_t user,
                       apr_int32_t pid);

/* The watchers user has open in all processes. */
int gf_watchers_count(const gf_watchers_cell_t *cells, apr_size_t ncells, apr_uint64_t user);

/* A process starts as pid: whatever an earlier process of that pid left
 * counted is its no longer. */
void gf_watchers_forget_pid(gf_watchers_cell_t *cells, apr_size_t ncells, apr_int32_t pid);

/* The table's size for a server of children processes (at least 1) that
 * may each hold per_child watchers (parked and blocking): a cell counts
 * one user's in one process, so GF_WATCHERS_CELLS_PER_WATCHER cells per
 * watcher possible keep it at most half full; bounded, since a process's
 * start walks the table. */
#define GF_WATCHERS_CELLS_PER_WATCHER 2
#define GF_WATCHERS_CELLS_MIN 1024
#define GF_WATCHERS_CELLS_MAX (1 << 18)
apr_size_t gf_watchers_cells_wanted(int children, long per_child);

#endif
