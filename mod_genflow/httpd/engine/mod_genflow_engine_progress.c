/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_progress.c: the progress a provider reports for a
 * running job (core/gf_progress.h), written for its watchers.
 *
 * A poll that finds the job still running may carry a fraction (a
 * diffusion model's progress bar in Replicate's or fal's logs). It is
 * written when it grew and at most once a second: the attempt remembers
 * what it wrote, when the statement wrote it (a kept poll carries that
 * in its record), and the
 * statement (PROGRESS, core/gf_sql.c) holds the database to the same rule
 * for every node. Its NOTIFY is genflow_progress: the generation's
 * watchers read it again (mod_genflow_engine_listener.c), a kept poll is
 * not made due by its own report. Never a reason to give a kept poll
 * up: a report the database could not take is dropped, the next one
 * comes with the next poll.
 */
#include <apr_strings.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_sql.h"
#include "net/gf_loop.h"

/* No more than one write a second per generation. */
#define PROGRESS_EVERY apr_time_from_sec(1)

typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const gf_claim_t *c;
    double fraction;
    int rc;
} progress_statement_t;

static void progress_now(void *baton)
{
    progress_statement_t *x = baton;
    gf_db_rows_t *rows;
    ap_dbd_t *dbd = gf_db_open(x->p, x->s);
    x->rc = -1;
    if (!dbd) return;
    if (gf_db_pselect(x->s, x->p, dbd, x->c->type->labels[GF_SQL_PROGRESS], &rows, 4,
                      apr_psprintf(x->p, "%.2f", x->fraction), x->c->id, x->c->lease_owner,
                      apr_itoa(x->p, x->c->attempts)) == GF_DB_OK) {
        x->rc = rows->nrows;
    }
    gf_db_close(x->s, dbd);
}

void gf_engine_progress_note(server_rec *s, apr_pool_t *p, gf_claim_t *c,
                             const gf_provider_result_t *res, const gf_decision_t *d)
{
    progress_statement_t x;

    if (d->next != GF_NEXT_POLL || d->poll_failed || !res->has_progress
        || !(res->progress > c->progress) || apr_time_now() - c->progress_at < PROGRESS_EVERY) {
        return;
    }
    x.s = s;
    x.p = p;
    x.c = c;
    x.fraction = res->progress;
    x.rc = -1;
    gf_loop_blocking(progress_now, &x);
    /* Only a row written counts. The statement holds its own second
     * against the database's clock, and a row it left alone (a second
     * not yet past there, or another node's larger report) leaves this
     * attempt free to write at its next poll: counting it as written
     * would drop the next report that grew. The time is taken after the
     * statement: never before the database's own, so the next try is
     * never early by this clock. */
    if (x.rc <= 0) return;
    c->progress = res->progress;
    c->progress_at = apr_time_now();
}
