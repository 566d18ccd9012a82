/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_preview.c: a picture being drawn, shown to the
 * watchers of its generation (docs/api.md, "Previews").
 *
 * A provider that streams partial pictures (openai with partial_images=)
 * hands each to the job's preview hook, inside its transfer on the loop
 * thread. The hook must not block: it takes at most one picture a second
 * per attempt (the stream reader asks it first, gf_job_t.preview_wanted,
 * so that a picture it would drop is not even decoded), copies it, and
 * starts a fiber for it, at most PREVIEWS_AT_ONCE in a child (a preview
 * is never worth memory a picture needs). The fiber holds a place of the
 * loop as an attempt does (gf_engine_reserve): a stopping child's workers
 * serve its statements until it ends, and it stores nothing once the
 * child stops. The fiber:
 *   - shrinks it to a small JPEG on a worker (a decode is no work for the
 *     loop);
 *   - stores it under previews/ in the site's store (put in the fiber, as
 *     a result's picture is);
 *   - announces "<id> <stamp> <url>" on genflow_preview with one
 *     statement, no row written (the stamp: when the hook took it, so
 *     that a slower earlier preview never replaces a later one): every
 *     child of every node hears it, and the generation's event streams
 *     send it (mod_genflow_watch_previews.c).
 * A preview is never charged and never part of the generation's row.
 * What fails on the way is dropped (logged at debug): the picture itself
 * goes on. The previews are swept from the store once older than
 * GenFlowPreviewKeep (gf_engine_previews_sweep), by listing previews/ of
 * the store of each database's first server, as the uploads' sweep does:
 * a server with a store of its own (a virtual host's), or a store that
 * cannot list (Cloudinary), gets no previews.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_atomic.h>
#include <apr_strings.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_previews.h"
#include "core/gf_settle.h"
#include "core/gf_sweep.h"
#include "core/gf_sql.h"
#include "image/gf_image.h"
#include "storage/gf_storage.h"
#include "net/gf_loop.h"

#define PREVIEWS_AT_ONCE  8                     /* being made in a child */
#define PREVIEW_SIDE      384                   /* pixels, the longer side */
#define PREVIEW_QUALITY   70
#define PREVIEW_PIXELS    ((apr_uint64_t)4096 * 2048)   /* 25 MB of pixels at most */
#define PREVIEW_FOLDER    "previews"
#define PREVIEW_PREFIX    PREVIEW_FOLDER "/"
#define LIST_PAGE         1000

typedef struct {
    server_rec *s;
    char id[GF_PREVIEW_ID_MAX];
    apr_time_t taken;            /* when the hook took it */
    apr_pool_t *p;
    const unsigned char *bytes;  /* the partial picture, after the record */
    apr_size_t len;
    unsigned char *small;        /* its small JPEG (the worker's) */
    apr_size_t small_len;
    const char *why;             /* why there is none */
    const char *payload;         /* "<id> <url>" */
    int noted;
} preview_t;

/* The store the sweep looks through for s's previews: that of the first
 * server of s's database, as for the uploads. NULL: s is on none. */
static const gf_storage_t *swept_store(server_rec *s)
{
    gf_engine_t *W = gf_engine();
    int i, j;
    for (i = 0; W && W->databases && i < W->databases->nelts; i++) {
        const gf_database_t *e = APR_ARRAY_IDX(W->databases, i, gf_database_t *);
        for (j = 0; j < e->servers->nelts; j++) {
            if (APR_ARRAY_IDX(e->servers, j, gf_server_t *)->s == s) {
                return gf_server_conf(e->s)->storage;
            }
        }
    }
    return NULL;
}

int gf_engine_previews_on(server_rec *s)
{
    const gf_storage_t *st = gf_server_conf(s)->storage;
    return st && st->list && st->remove && st == swept_store(s);
}

/* On a worker: the picture decoded and shrunk. */
static void shrink_now(void *baton)
{
    preview_t *x = baton;
    gf_image_format_t fmt;
    gf_image_t img;

    x->why = gf_image_decode(x->p, x->bytes, x->len, PREVIEW_PIXELS, &fmt, &img);
    if (!x->why) {
        x->why = gf_image_small_jpeg(x->p, &img, PREVIEW_SIDE, PREVIEW_QUALITY, &x->small,
                                     &x->small_len);
    }
}

/* On a worker: the announcement. */
static void note_now(void *baton)
{
    preview_t *x = baton;
    const char *args[1];
    gf_db_rows_t *rows;
    args[0] = x->payload;
    x->noted = gf_db_select_once(x->s, x->p, GF_SQL_PREVIEW_NOTE, &rows, 1, args) == GF_DB_OK;
}

/* A URL the listeners would refuse (gf_previews_parse) is said once. */
static apr_uint32_t url_warned;

static void preview_main(void *baton)
{
    preview_t *x = baton;
    gf_engine_t *W = gf_engine();
    const gf_storage_t *st = gf_server_conf(x->s)->storage;
    const char *url = NULL, *err = NULL;

    if (!W->stopping && gf_engine_pool(&x->p, "genflow-preview") == APR_SUCCESS) {
        gf_loop_blocking(shrink_now, x);
        if (!x->why && W->stopping) x->why = "the child is stopping";
        if (!x->why
            && gf_storage_put(st, x->p, gf_settle_object_key(x->p, PREVIEW_FOLDER, x->id, ".jpg"),
                              x->small, x->small_len, "image/jpeg", &url, &err) != APR_SUCCESS) {
            x->why = err ? err : "the store refused it";
        }
        if (!x->why && !(x->payload = gf_settle_preview(x->p, x->id, x->taken, url))) {
            x->why = "its URL is not printable ASCII without spaces, or too long";
            if (apr_atomic_cas32(&url_warned, 1, 0) == 0) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, x->s, GF_LOGNO(1724)
                             "no previews: the store's URLs (%s) are not printable ASCII "
                             "without spaces of at most %d bytes",
                             ap_escape_logitem(x->p, url ? url : ""), GF_PREVIEW_URL_MAX - 1);
            }
        }
        if (!x->why) {
            gf_loop_blocking(note_now, x);
            if (!x->noted) x->why = "the database did not take its announcement";
        }
        if (x->why && APLOGdebug(x->s)) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, x->s, GF_LOGNO(1721)
                         "no preview for id=%s: %s", x->id, ap_escape_logitem(x->p, x->why));
        }
        apr_pool_destroy(x->p);
    }
    apr_atomic_dec32(&W->previews);
    free(x);
    gf_engine_landed();
}

/* Would the hook take a picture now? (Asked before the picture is decoded.) */
int gf_engine_preview_wanted(void *baton)
{
    gf_preview_hook_t *h = baton;
    gf_engine_t *W = gf_engine();
    return W && !W->stopping && apr_atomic_read32(&W->previews) < PREVIEWS_AT_ONCE
        && gf_settle_preview_due(h->last, apr_time_now());
}

void gf_engine_preview_hook(void *baton, const unsigned char *bytes, apr_size_t len,
                            const char *content_type)
{
    gf_preview_hook_t *h = baton;
    gf_engine_t *W = gf_engine();
    preview_t *x;

    (void)content_type;   /* the decoder reads the format from the bytes */
    if (!gf_engine_preview_wanted(baton)) return;
    if (apr_atomic_inc32(&W->previews) >= PREVIEWS_AT_ONCE) {
        apr_atomic_dec32(&W->previews);
        return;
    }
    /* A place of the loop, as an attempt holds one: no place, no preview. */
    if (gf_engine_reserve(1) != 1) {
        apr_atomic_dec32(&W->previews);
        return;
    }
    if (!(x = malloc(sizeof(*x) + len))) {
        gf_engine_unreserve(1);
        apr_atomic_dec32(&W->previews);
        return;
    }
    memset(x, 0, sizeof(*x));
    x->s = h->s;
    x->taken = apr_time_now();
    apr_cpystrn(x->id, h->id, sizeof(x->id));
    memcpy(x + 1, bytes, len);
    x->bytes = (const unsigned char *)(x + 1);
    x->len = len;
    if (gf_engine_launch(preview_main, x) != 0) {
        gf_engine_unreserve(1);
        apr_atomic_dec32(&W->previews);
        free(x);
        return;
    }
    h->last = x->taken;
}

/* ---- the sweep ---------------------------------------------------------- */

/* A page of st's previews after *after: those older than before go. */
static int sweep_store(server_rec *s, apr_pool_t *p, const gf_storage_t *st, apr_time_t before,
                       char *after, apr_size_t after_size, int *more)
{
    apr_array_header_t *objs;
    const char *err = NULL;
    int i, removed = 0;

    if (gf_storage_list(st, p, PREVIEW_PREFIX, *after ? after : NULL, LIST_PAGE, &objs, &err)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(1722)
                     "cannot look for old previews in the %s storage: %s", st->backend,
                     ap_escape_logitem(p, err));
        return 0;
    }
    for (i = 0; i < objs->nelts; i++) {
        const gf_storage_object_t *o = &APR_ARRAY_IDX(objs, i, gf_storage_object_t);
        /* Only what the previews put there: a type may be called
         * "previews" too (its results end in .png). */
        if (o->mtime < before && gf_previews_key(o->key)
            && gf_storage_remove(st, p, o->key) == APR_SUCCESS) {
            removed++;
        }
    }
    /* The next page at the next look; after the last, the first again. */
    gf_sweep_page(after, after_size, objs->nelts, LIST_PAGE,
                  objs->nelts ? APR_ARRAY_IDX(objs, objs->nelts - 1, gf_storage_object_t).key
                              : NULL, more);
    return removed;
}

void gf_engine_previews_sweep(const gf_database_t *e, apr_pool_t *p, gf_previews_scan_t *scan)
{
    long keep = gf_conf_preview_keep(gf_server_conf(e->s));
    apr_time_t now = apr_time_now(), before = now - apr_time_from_sec(keep);
    int removed, more = 0;

    if (now < scan->at || !gf_engine_previews_on(e->s)) return;
    /* A look a keep time, at least 2 s and at most a minute apart; the
     * next page at the next round. */
    scan->at = gf_sweep_next(now, keep, apr_time_from_sec(2), apr_time_from_sec(60));
    removed = sweep_store(e->s, p, gf_server_conf(e->s)->storage, before, scan->after,
                          sizeof(scan->after), &more);
    if (more) scan->at = now;
    if (removed && APLOGdebug(e->s)) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, e->s, GF_LOGNO(1723)
                     "removed %d previews older than %lds", removed, keep);
    }
}
