/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_watch.h: requests that wait for a generation to change
 * (generate's wait, the status long-poll, the event stream) without
 * holding a thread or a database connection (mod_genflow_watch.c).
 *
 * A watch is a step function that looks at the generation and either
 * answers (returns the handler's result) or asks to keep waiting
 * (GF_WATCH_AGAIN). gf_watch_run calls it once at once, then again each
 * time something happened (the generation changed, a heartbeat or the
 * deadline is due, the child is stopping), until it answers:
 *
 *  - parked, under the event MPM on HTTP/1.x: the handler returns
 *    SUSPENDED and gives its thread back; the steps run later on worker
 *    threads, handed to the MPM by this child's watcher thread;
 *  - else blocking, on the request's thread, while this child has fewer
 *    than GenFlowBlockingWaiters such waits (prefork, worker, HTTP/2
 *    streams, the parking limit GenFlowParkMax reached);
 *  - else not at all: the step is called once more with GF_WOKE_FULL and
 *    must answer at once (202, the status now, retry: and close).
 */
#ifndef MOD_GENFLOW_WATCH_H
#define MOD_GENFLOW_WATCH_H


/* A step's "not yet". */
#define GF_WATCH_AGAIN (-4242)

/* Why a step runs (bits; 0 the first look). */
#define GF_WOKE_CHANGE   0x01   /* the generation may have changed: read it */
#define GF_WOKE_DEADLINE 0x02   /* the watch's deadline passed: answer */
#define GF_WOKE_BEAT     0x04   /* a heartbeat is due (streams) */
#define GF_WOKE_STOP     0x08   /* the child is stopping: answer now */
#define GF_WOKE_FULL     0x10   /* no room to wait: answer now */

/* Answer or return GF_WATCH_AGAIN. ctx lives in r->pool. A step that
 * answers with output already sent returns OK. */
typedef int gf_watch_step_fn(request_rec *r, void *ctx, int woke);

typedef struct {
    const char *id;              /* the generation watched */
    apr_time_t deadline;         /* GF_WOKE_DEADLINE from then on */
    apr_interval_time_t beat;    /* GF_WOKE_BEAT this often; 0 never */
    int streams;                 /* the first step sends output (an event
                                  * stream): the connection is closed after
                                  * the answer if it may park */
    gf_watch_step_fn *step;
    void *ctx;
    const apr_interval_time_t *look; /* NULL, or where the step says how soon to
                                  * read again unprompted (GF_WOKE_CHANGE) after
                                  * this step: 0 the backstop; else that soon
                                  * (what NOTIFY does not announce, such as
                                  * the place in line of a queued generation) */
} gf_watch_t;

/* Run the watch; the handler returns what this returns. */
int gf_watch_run(request_rec *r, const gf_watch_t *w);

/* Count a watching request of r->user (an event stream, a status
 * long-poll) until r ends: 0 when the user has GenFlowEventsPerUser open
 * already on this server, every child together
 * (mod_genflow_watch_users.c). */
int gf_watch_user_open(request_rec *r);

/* Requests waiting now in this child: parked, and blocking a thread. */
void gf_watch_counts(int *parked, int *blocking);

/* Hooks and the listener's news (mod_genflow.c, mod_genflow_engine_changes.c). */
void gf_watch_child_init(apr_pool_t *pchild, server_rec *s);
void gf_watch_announce(const char *id);          /* NULL: every generation */
void gf_watch_suspended(conn_rec *c, request_rec *r);
void gf_watch_child_stopping(apr_pool_t *pchild, int graceful);
/* The table of watching requests per user: its Mutex registered
 * (register_hooks), made in the parent (post_config), attached by each
 * child (child_init). */
void gf_watch_users_register_hooks(void);
int gf_watch_users_post_config(apr_pool_t *pconf, server_rec *s);
void gf_watch_users_child_init(apr_pool_t *pchild, server_rec *s);

/* The previews of pictures being drawn (mod_genflow_watch_previews.c):
 * the board made (child_init); a preview heard on genflow_preview put on
 * it (the listener's news; 1 when it is the generation's newest, and the
 * listener then wakes its watchers); and id's newest preview heard within
 * keep, its sequence number (0: none) and its URL into url. */
void gf_watch_previews_child_init(apr_pool_t *pchild, server_rec *s);
int gf_watch_preview_heard(const char *id, apr_time_t stamp, const char *url);
apr_uint32_t gf_watch_preview_get(const char *id, apr_interval_time_t keep, char *url,
                                  apr_size_t size);

#endif
