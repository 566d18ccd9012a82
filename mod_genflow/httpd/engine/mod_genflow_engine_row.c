/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_row.c: a claimed row, as every step of its attempt
 * reads and writes it: the claim's columns into gf_claim_t and its slot
 * (gf_engine_row_fill), the guarded statements of its lease (RENEW,
 * RELEASE: gf_engine_row_statement), and the log line of each of its
 * transitions (gf_engine_row_log). Below the steps that use it (outcome,
 * keep, standby, attempt, claim), so none of them calls another's.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/engine/mod_genflow_engine.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/servers/mod_genflow_servers.h"
#include "core/gf_attempt.h"
#include "core/gf_sql.h"
#include "net/gf_loop.h"

/* The claimed row as the attempt reads it. */
static void fill_claim(const gf_type_t *t, const char *const *row, const char *lease_owner,
                       gf_claim_t *c)
{
    memset(c, 0, sizeof(*c));
    c->type = t;
    c->id = row[GF_CLAIM_ID];
    c->user = row[GF_CLAIM_USER];
    c->prompt = row[GF_CLAIM_PROMPT];
    c->source_image = row[GF_CLAIM_SOURCE_IMAGE];
    c->aspect_ratio = row[GF_CLAIM_ASPECT_RATIO];
    c->seed = (apr_uint64_t)apr_atoi64(row[GF_CLAIM_SEED]);
    c->chain = row[GF_CLAIM_CHAIN];
    c->chain_index = atoi(row[GF_CLAIM_CHAIN_INDEX]);
    c->retry_count = atoi(row[GF_CLAIM_RETRY_COUNT]);
    c->max_retries = atoi(row[GF_CLAIM_MAX_RETRIES]);
    c->poll_count = atoi(row[GF_CLAIM_POLL_COUNT]);
    c->provider_job_id = row[GF_CLAIM_PROVIDER_JOB_ID];
    c->attempts = atoi(row[GF_CLAIM_ATTEMPTS]);
    c->deadline = gf_attempt_ms(row[GF_CLAIM_DEADLINE_MS]);
    c->provider_state = row[GF_CLAIM_PROVIDER_STATE];
    c->accepted_by = row[GF_CLAIM_ACCEPTED_BY];
    c->poll_errors = atoi(row[GF_CLAIM_POLL_ERRORS]);
    c->rescued = row[GF_CLAIM_RESCUED] && !strcmp(row[GF_CLAIM_RESCUED], "1");
    c->started = gf_attempt_ms(row[GF_CLAIM_STARTED_MS]);
    c->preset = row[GF_CLAIM_PRESET];
    c->strength = row[GF_CLAIM_STRENGTH];
    c->steps = row[GF_CLAIM_STEPS] ? atoi(row[GF_CLAIM_STEPS]) : 0;
    gf_attempt_counts(row[GF_CLAIM_COUNT], row[GF_CLAIM_STORED], &c->count, &c->stored);
    c->mask = row[GF_CLAIM_MASK];
    c->references = row[GF_CLAIM_REFERENCES];
    c->server_name = row[GF_CLAIM_SERVER_NAME];
    c->cancel_at = gf_attempt_ms(row[GF_CLAIM_CANCEL_MS]);
    c->traced = gf_trace_parse(row[GF_CLAIM_TRACEPARENT], &c->trace);
    c->line = row[GF_CLAIM_LINE];
    c->job_started = gf_attempt_ms(row[GF_CLAIM_JOB_STARTED_MS]);
    c->slot = gf_attempt_ms(row[GF_CLAIM_GATE_UNTIL]);
    c->lease_owner = lease_owner;
}

server_rec *gf_engine_row_fill(const gf_database_t *e, const gf_type_t *t, const char *const *row,
                               const char *lease_owner, const gf_limits_hold_t *hold, gf_claim_t *c,
                               gf_attempt_t *slot)
{
    server_rec *s;
    fill_claim(t, row, lease_owner, c);
    /* Its first claim is its start, counted under its line (a share of
     * the starts per line: GenFlowLine's weights at work). */
    if (c->attempts == 1) gf_metrics_line_start(gf_metrics(), t->name, c->line);
    /* The claim took only rows of the main server (no name: the database's
     * first server, the main one when it mounts types) or of a virtual
     * host of this database. */
    if (!(s = gf_database_server_for(e, c->server_name))) s = e->s;
    /* The claim leased the row a moment ago. */
    c->lease_end = gf_attempt_lease_end(apr_time_now(), gf_conf_lease_secs(gf_server_conf(s)));
    c->seen = gf_engine_change_seq();
    memset(slot, 0, sizeof(*slot));
    if (hold && hold->prov && hold->place > 0) {
        apr_cpystrn(slot->place_id, hold->id, sizeof(slot->place_id));
        slot->place_attempt = hold->attempt;
        slot->place_until = c->lease_end;
    }
    return s;
}

/* A guarded statement of this attempt, run where statements may block
 * (gf_loop_blocking: a worker thread, never the loop's). */
typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const gf_claim_t *c;
    gf_sql_type_op_t op;
    int certain;
    int rc;
} statement_t;

static int attempt_statement_now(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                                 gf_sql_type_op_t op, int certain);

static void statement_now(void *baton)
{
    statement_t *x = baton;
    x->rc = attempt_statement_now(x->s, x->p, x->c, x->op, x->certain);
}

/* Run one guarded statement of this attempt on a connection held only for
 * it: RENEW (is the lease still ours?) or RELEASE (certain: no request
 * went to the provider in this attempt). 1 when it matched, 0 when it did
 * not, -1 when the database could not say. */
int gf_engine_row_statement(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                            gf_sql_type_op_t op, int certain)
{
    statement_t x;
    x.certain = certain;
    x.s = s;
    x.p = p;
    x.c = c;
    x.op = op;
    x.rc = -1;
    gf_loop_blocking(statement_now, &x);
    return x.rc;
}

static int attempt_statement_now(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                                 gf_sql_type_op_t op, int certain)
{
    const char *args[GF_ATTEMPT_LEASE_ARGS];
    gf_db_rows_t *rows;
    gf_db_status_t st;
    ap_dbd_t *dbd = gf_db_open(p, s);
    int n;

    if (!dbd) return -1;
    gf_attempt_lease_args(p, op == GF_SQL_RENEW, gf_conf_lease_secs(gf_server_conf(s)), c->id,
                          c->lease_owner, c->attempts, c->provider_job_id, certain, c->defer,
                          args, &n);
    st = gf_db_pselectv(s, p, dbd, c->type->labels[op], &rows, n, args);
    gf_db_close(s, dbd);
    if (st != GF_DB_OK) return -1;
    return rows->nrows == 1;
}

const char *gf_engine_row_trace(const gf_claim_t *c)
{
    return c->traced ? c->trace.trace_id : "-";
}

void gf_engine_row_log(server_rec *s, apr_pool_t *p, int level, const gf_claim_t *c,
                       const char *provider, const char *what, const char *code,
                       const char *detail)
{
    /* The detail is often a provider's own words: escaped like any other
     * outside text in the error_log (quotes, backslashes, control and
     * non-ASCII bytes). */
    ap_log_error(APLOG_MARK, level, 0, s, GF_LOGNO(1401)
                 "%s type=%s id=%s user=%s provider=%s attempt=%d chain_index=%d "
                 "retry=%d trace=%s error=%s%s%s", what, c->type->name, c->id, c->user,
                 provider ? provider : "-", c->attempts, c->chain_index, c->retry_count,
                 gf_engine_row_trace(c),
                 code ? code : "-", detail ? ": " : "", detail ? ap_escape_logitem(p, detail) : "");
}
