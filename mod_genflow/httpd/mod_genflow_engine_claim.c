/* mod_genflow_engine_claim.c: a worker's turn at one type: claim due rows
 * under a lease (new work first, then a batch of due polls), each with a
 * place of its provider's limits, and launch each on the child's loop (or
 * run it here when the loop does not take it).
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "httpd/mod_genflow_engine_int.h"
#include "core/gf_sql.h"
#include "httpd/mod_genflow_engine_run.h"
#include "httpd/mod_genflow_limits.h"

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
    c->deadline = apr_time_from_msec(apr_atoi64(row[GF_CLAIM_DEADLINE_MS]));
    c->provider_state = row[GF_CLAIM_PROVIDER_STATE];
    c->poll_errors = atoi(row[GF_CLAIM_POLL_ERRORS]);
    c->rescued = row[GF_CLAIM_RESCUED] && !strcmp(row[GF_CLAIM_RESCUED], "1");
    c->started = row[GF_CLAIM_STARTED_MS]
                 ? apr_time_from_msec(apr_atoi64(row[GF_CLAIM_STARTED_MS])) : 0;
    c->preset = row[GF_CLAIM_PRESET];
    c->strength = row[GF_CLAIM_STRENGTH];
    c->server_name = row[GF_CLAIM_SERVER_NAME];
    c->lease_owner = lease_owner;
}

/* Run one claimed row under its slot (heartbeats follow it), with the
 * settings of the server (virtual host) that created it, and the place of
 * its provider's limits the claim took for it (hold), which goes back
 * when the attempt made no call. */
static int run_row(const gf_database_t *e, apr_pool_t *p, const gf_type_t *t,
                   const char *const *row, const char *lease_owner, gf_attempt_t *slot,
                   gf_limits_hold_t *hold)
{
    gf_claim_t c;
    server_rec *s;
    int rc;
    fill_claim(t, row, lease_owner, &c);
    /* The claim took only rows of the main server (no name: the database's
     * first server, the main one when it mounts types) or of a virtual
     * host of this engine. */
    if (!(s = gf_database_server_for(e, c.server_name))) s = e->s;
    gf_attempt_begin(slot, s, t, c.id, lease_owner, c.attempts);
    rc = gf_run_claimed(s, p, &c, slot, hold);
    gf_attempt_end(slot);
    if (hold->prov) gf_limits_unused(hold);
    return rc;
}

/* A claimed row in flight on the child's loop: everything it uses lives
 * in its own pool, which one thread at a time uses (the loop's, or a
 * worker's while the fiber waits for a statement). */
typedef struct {
    apr_pool_t *pool;
    const gf_database_t *e;
    const gf_type_t *t;
    const char **row;
    const char *lease_owner;
    gf_attempt_t slot;
    gf_limits_hold_t hold;
} flight_t;

static void flight_main(void *baton)
{
    flight_t *f = baton;
    run_row(f->e, f->pool, f->t, f->row, f->lease_owner, &f->slot, &f->hold);
    apr_pool_destroy(f->pool);
    free(f);
    gf_engine_landed();
}

/* Launch a claimed row on the loop; 0 when the loop took it. */
static int launch(const gf_database_t *e, const gf_type_t *t, const gf_db_rows_t *rows, int i,
                  const char *lease_owner, const gf_limits_hold_t *hold)
{
    apr_allocator_t *allocator;
    flight_t *f = calloc(1, sizeof(*f));
    int k;

    if (!f) return -1;
    /* A pool of its own allocator: no other thread's pool is touched. */
    if (apr_allocator_create(&allocator) != APR_SUCCESS) {
        free(f);
        return -1;
    }
    if (apr_pool_create_unmanaged_ex(&f->pool, NULL, allocator) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        free(f);
        return -1;
    }
    apr_allocator_owner_set(allocator, f->pool);
    apr_pool_tag(f->pool, "genflow_attempt");
    f->e = e;
    f->t = t;
    f->lease_owner = apr_pstrdup(f->pool, lease_owner);
    f->hold = *hold;
    f->row = apr_pcalloc(f->pool, sizeof(char *) * (apr_size_t)rows->ncols);
    for (k = 0; k < rows->ncols; k++) {
        f->row[k] = rows->rows[i][k] ? apr_pstrdup(f->pool, rows->rows[i][k]) : NULL;
    }
    if (gf_engine_launch(flight_main, f) != 0) {
        apr_pool_destroy(f->pool);
        free(f);
        return -1;
    }
    return 0;
}

/* Give back the claimed polls from row `from` on, which this worker will
 * not run: due now, free for any worker. */
static void release_rest(server_rec *s, apr_pool_t *p, const gf_type_t *t, gf_db_rows_t *rows,
                         int from, const char *lease_owner)
{
    const char *ids = "";
    gf_db_rows_t *res;
    ap_dbd_t *dbd;
    int i;

    for (i = from; i < rows->nrows; i++) {
        ids = apr_pstrcat(p, ids, i > from ? "," : "", rows->rows[i][GF_CLAIM_ID], NULL);
    }
    if (!*ids || !(dbd = gf_db_open(p, s))) return;   /* else the leases just expire */
    gf_db_pselect(s, p, dbd, t->labels[GF_SQL_RELEASE_REST], &res, 2, ids, lease_owner);
    gf_db_close(s, dbd);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GF_LOGNO(1409)
                 "type=%s: gave back %d claimed polls not run in time", t->name,
                 rows->nrows - from);
}

/* The provider a claimed row is about to call: its chain's current
 * entry (NULL when the chain cannot be read; run_claimed fails it). */
static const char *row_provider(apr_pool_t *p, const char *const *row)
{
    const char *err;
    const char *text = row[GF_CLAIM_CHAIN], *at = row[GF_CLAIM_CHAIN_INDEX];
    apr_array_header_t *chain = text ? gf_chain_parse(p, text, &err) : NULL;
    int index = at ? atoi(at) : -1;
    if (!chain || index < 0 || index >= chain->nelts) return NULL;
    return APR_ARRAY_IDX(chain, index, gf_chain_entry_t).provider;
}

/* Is name one of skip's names? */
static int skip_has(const gf_skip_t *skip, const char *name, apr_size_t n)
{
    const char *at = skip->names;
    while (*at) {
        const char *end = strchr(at, '\n');
        apr_size_t len = end ? (apr_size_t)(end - at) : strlen(at);
        if (len == n && !memcmp(at, name, n)) return 1;
        if (!end) break;
        at = end + 1;
    }
    return 0;
}

void gf_skip_add(gf_skip_t *skip, const char *list)
{
    char *copy, *last, *name;
    apr_size_t len = strlen(skip->names);
    char buf[GF_SKIP_MAX];

    if (!list || !*list) return;
    apr_cpystrn(buf, list, sizeof(buf));
    copy = buf;
    for (name = apr_strtok(copy, "\n", &last); name; name = apr_strtok(NULL, "\n", &last)) {
        apr_size_t n = strlen(name);
        if (skip_has(skip, name, n)) continue;
        if (len + n + 2 > sizeof(skip->names)) return;
        if (len) skip->names[len++] = '\n';
        memcpy(skip->names + len, name, n + 1);
        len += n;
    }
}

static const char *skip_list(apr_pool_t *p, const gf_limits_claim_t *lc, const gf_skip_t *skip)
{
    const char *mine = gf_limits_claim_skip(lc);
    if (!skip->names[0]) return mine;
    return *mine ? apr_pstrcat(p, mine, "\n", skip->names, NULL) : skip->names;
}

/* Claim: new work first (a first attempt, a retry or a fallback), then
 * the due polls of accepted jobs, a batch at a time. The places of the
 * providers' limits are taken before each claim (*lc): the claim leaves
 * the rows of providers without one in the queue. */
static gf_db_status_t claim(const gf_database_t *e, apr_pool_t *p, const gf_type_t *t,
                            const char *lease_owner, int places, gf_limits_claim_t **lc,
                            gf_db_rows_t **rows, gf_skip_t *skip)
{
    server_rec *s = e->s;
    gf_server_conf_t *sc = gf_server_conf(s);
    const char *lease = apr_ltoa(p, gf_conf_lease_secs(sc));
    int batch = places < GF_POLL_BATCH ? places : GF_POLL_BATCH;
    gf_db_status_t st;
    ap_dbd_t *dbd;

    *lc = gf_limits_claim_begin(p, sc->providers, t->providers, 1);
    if (!(dbd = gf_db_open(p, s))) return GF_DB_ERROR;
    st = gf_db_pselect(s, p, dbd, t->labels[GF_SQL_CLAIM], rows, 4, lease_owner, lease,
                       e->names, skip_list(p, *lc, skip));
    if (st == GF_DB_OK && (*rows)->nrows == 0) {
        gf_limits_claim_end(*lc);
        *lc = gf_limits_claim_begin(p, sc->providers, t->providers, batch);
        /* No more rows than the places taken for any one provider. */
        st = gf_db_pselect(s, p, dbd, t->labels[GF_SQL_CLAIM_POLLS], rows, 5, lease_owner,
                           lease, e->names, skip_list(p, *lc, skip),
                           apr_ltoa(p, gf_limits_claim_room(*lc)));
    }
    gf_db_close(s, dbd);
    /* The caller learns which providers had no place. */
    gf_skip_add(skip, gf_limits_claim_skip(*lc));
    return st;
}

int gf_run_one(const gf_database_t *e, apr_pool_t *p, const gf_type_t *t,
               const char *lease_owner, int *places, gf_skip_t *skip)
{
    server_rec *s = e->s;
    gf_server_conf_t *sc = gf_server_conf(s);
    int lease = gf_conf_lease_secs(sc);
    gf_limits_claim_t *lc;
    gf_limits_hold_t first;
    gf_db_rows_t *rows;
    apr_time_t stop_by;
    int i, from, worked = 0, trouble = 0;

    if (claim(e, p, t, lease_owner, *places, &lc, &rows, skip) != GF_DB_OK) {
        gf_limits_claim_end(lc);
        return -1;
    }
    /* Each row in flight on the loop at once, with its provider's place;
     * the rows the loop could not take (it is stopping) run here. */
    for (i = 0; i < rows->nrows; i++) {
        gf_limits_hold_t hold;
        gf_limits_claim_assign(lc, row_provider(p, rows->rows[i]), &hold);
        if (launch(e, t, rows, i, lease_owner, &hold) != 0) {
            first = hold;   /* the row runs here, with its place */
            break;
        }
        (*places)--;   /* the attempt keeps it until it lands */
    }
    if (i == rows->nrows) {
        gf_limits_claim_end(lc);
        return rows->nrows > 0 ? 1 : 0;
    }
    worked = i > 0;
    /* The batch shares one lease, renewed only for the row being worked:
     * rows not reached within half of it go back (the heartbeat of the
     * running one is the listener's). */
    stop_by = apr_time_now() + apr_time_from_sec(lease) / 2;
    for (from = i; i < rows->nrows; i++) {
        gf_attempt_t slot;
        gf_limits_hold_t hold;
        if (i > from && (apr_time_now() >= stop_by || gf_engine_aborting()
                         || gf_engine_stopping())) {
            release_rest(s, p, t, rows, i, lease_owner);
            break;
        }
        memset(&slot, 0, sizeof(slot));
        if (i == from) hold = first;
        else gf_limits_claim_assign(lc, row_provider(p, rows->rows[i]), &hold);
        if (run_row(e, p, t, rows->rows[i], lease_owner, &slot, &hold) < 0) trouble = 1;
        else worked = 1;
    }
    gf_limits_claim_end(lc);
    /* A batch that got anything done is work, even if one outcome could
     * not be written: the worker goes on rather than sleeping it off. */
    return worked ? 1 : trouble ? -1 : 0;
}

int gf_run_due_types(const gf_database_t *e, apr_pool_t *p, int *due)
{
    gf_db_rows_t *rows;
    gf_db_status_t st = GF_DB_OK;
    ap_dbd_t *dbd;
    int i, j, k;

    for (i = 0; i < e->types->nelts; i++) due[i] = 0;
    if (!(dbd = gf_db_open(p, e->s))) return -1;
    /* Usually one statement: every server of the database mounts the same
     * types (the main server's, inherited). */
    for (k = 0; k < e->due_labels->nelts && st == GF_DB_OK; k++) {
        st = gf_db_pselect(e->s, p, dbd, APR_ARRAY_IDX(e->due_labels, k, const char *), &rows,
                           1, e->names);
        for (j = 0; st == GF_DB_OK && j < rows->nrows; j++) {
            for (i = 0; i < e->types->nelts; i++) {
                const gf_type_t *t = APR_ARRAY_IDX(e->types, i, gf_type_t *);
                if (rows->rows[j][0] && !strcmp(rows->rows[j][0], t->name)) due[i] = 1;
            }
        }
    }
    gf_db_close(e->s, dbd);
    return st == GF_DB_OK ? 0 : -1;
}
