/* gf_sql.c: the module's SQL (see gf_sql.h): the statements of each type's
 * table, and the due-work probe. The site-wide statements are in
 * gf_sql_global.c.
 *
 * Placeholders are apr_dbd's: %s (text), %d (integer); the pgsql driver
 * turns them into $n. A literal percent sign would have to be %%.
 * Parameters are gathered once in an "args" CTE so each appears once in
 * the argument list, in the order of the comment above each statement.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_sha1.h>

#include "core/gf_sql.h"
#include "core/gf_sql_private.h"

static const char *const OP_NAMES[GF_SQL_TYPE_OPS] = {
    "create", "queue", "get", "claim", "schedule", "complete", "fail", "input", "expire",
    "prune", "wake", "history", "admin_list", "admin_delete", "metrics", "renew", "release",
    "accepted", "claim_polls", "release_rest", "create_queue"
};

/* The status object of docs/api.md, built from the row's own columns
 * (alias a) in one pass. genflow_status_object('{Y}', to_jsonb(row))
 * gives the same object, but PostgreSQL inlines that SQL function and
 * then evaluates to_jsonb(row) once for each of its 22 references. */
#define STATUS_JSON(a) \
    "json_build_object('generationId', " a ".id, 'type', '{Y}', 'status', " a ".status," \
    " 'prompt', " a ".prompt, 'preset', " a ".preset, 'imageUrl', " a ".image_url," \
    " 'provider', " a ".provider, 'model', " a ".model, 'providerJobId', " a ".provider_job_id," \
    " 'retryCount', " a ".retry_count, 'maxRetries', " a ".max_retries," \
    " 'error', CASE WHEN " a ".error_code IS NULL THEN NULL" \
    "  ELSE json_build_object('code', " a ".error_code, 'message', " a ".error_message) END," \
    " 'estimatedCost', " a ".estimated_cost, 'creditsCharged', " a ".credits_charged," \
    " 'createdAt', genflow_rfc3339(" a ".created_at)," \
    " 'startedAt', genflow_rfc3339(" a ".started_at)," \
    " 'finishedAt', genflow_rfc3339(" a ".finished_at)," \
    " 'processingTimeMs', CASE WHEN " a ".finished_at IS NOT NULL AND " a ".started_at IS NOT NULL" \
    "  THEN round(extract(epoch FROM " a ".finished_at - " a ".started_at) * 1000)::bigint END)"

/* 1 when the finalized row (alias a) counted as active: it was queued.
 * A generation that was only created never counted (docs/architecture.md,
 * "The active count"). */
#define WAS_ACTIVE(a) "(" a ".queued_at IS NOT NULL)::int"

int gf_sql_valid_table(const char *s)
{
    size_t n = strlen(s), i;
    if (n == 0 || n > GF_SQL_TABLE_MAX || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) return 0;
    for (i = 1; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return 0;
    }
    return 1;
}

int gf_sql_valid_type(const char *s)
{
    size_t n = strlen(s), i;
    if (n == 0 || n > 63 || !(s[0] >= 'a' && s[0] <= 'z')) return 0;
    for (i = 1; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) return 0;
    }
    return 1;
}

/* PostgreSQL cuts identifiers, prepared statement names included, to 63
 * bytes: two long table names could then share a label, and one type run
 * another's statement. A label that would be longer keeps a prefix of
 * the table name and adds a hash of the whole name. */
#define GF_SQL_LABEL_MAX 63

const char *gf_sql_type_label(apr_pool_t *p, const char *table, gf_sql_type_op_t op)
{
    const char *label = apr_pstrcat(p, "gf_", table, "_", OP_NAMES[op], NULL);
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t ctx;
    char hex[17];
    int i;

    if (strlen(label) <= GF_SQL_LABEL_MAX) {
        return label;
    }
    apr_sha1_init(&ctx);
    apr_sha1_update(&ctx, table, (unsigned int)strlen(table));
    apr_sha1_final(digest, &ctx);
    for (i = 0; i < 8; i++) apr_snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return apr_psprintf(p, "gf_%.30s_%s_%s", table, hex, OP_NAMES[op]);
}

void gf_sql_add(apr_array_header_t *stmts, const char *label, const char *sql, int rerun_safe)
{
    gf_sql_stmt_t *st = apr_array_push(stmts);
    st->label = label;
    st->sql = sql;
    st->rerun_safe = rerun_safe;
}

/* Replace every {T} (table) and {Y} (type) in a template. The values are
 * validated identifiers (gf_sql_valid_*), so no quoting is needed. */
static const char *fill(apr_pool_t *p, const char *tmpl, const char *type, const char *table)
{
    const char *out = "";
    const char *s = tmpl, *m;
    while ((m = strchr(s, '{')) != NULL && (m[1] == 'T' || m[1] == 'Y') && m[2] == '}') {
        out = apr_pstrcat(p, out, apr_pstrmemdup(p, s, (apr_size_t)(m - s)),
                          m[1] == 'T' ? table : type, NULL);
        s = m + 3;
    }
    return apr_pstrcat(p, out, s, NULL);
}

/* args: user, cost, configured daily limit, final prompt, user prompt,
 * preset, source image, aspect ratio, seed, input JSON, max retries,
 * provider chain ("a,b:model"), deadline seconds, per-user active limit
 * (0 = none; only CREATE_QUEUED reads it), the new generation's id (chosen
 * by the caller), the request's Idempotency-Key and owner token (both NULL
 * without a key), and the server (virtual host) whose request creates it,
 * whose settings the workers then use (its "host:port").
 * No row when the balance or the day's allowance does not allow it (and,
 * for CREATE_QUEUED, the active limit), when the user has no account yet
 * (the caller makes it and runs this again: the usual create is one round
 * trip), when the id exists already (a re-run after a lost connection: the
 * caller recognises its row by the id), when the Idempotency-Key record is
 * no longer this request's, or when the source image is an upload
 * ("upload:<id>") that is not one of this user's (the caller tells that
 * refusal apart with GF_SQL_UPLOAD_GET, only then). The upload id is cast
 * only through the CASE, so a URL source never reaches the uuid cast, even
 * when the planner folds a custom plan's constant arguments. The key's
 * record gets the generation id in the same transaction, and an upload
 * used as the source its last_used_at (GenFlowUploadRetention counts from
 * there). Returns only what
 * the create answer needs: id, cost, final prompt, creation time.
 *
 * The key's record is locked (rec) before the account: a takeover of the
 * record by another request then waits for this statement and finds the
 * generation linked, or it went first and this statement, re-reading the
 * record's newest version, creates nothing; and a record that names a
 * generation already never gets a second one. Checked only in the account
 * update's snapshot, the record could be taken over while the statement
 * waited for the account row, and both requests would create (a race the
 * model in models/ found: docs/architecture.md, "The model").
 *
 * CREATE_SQL inserts the row unqueued: a created generation is not active
 * (it does not count against GenFlowMaxActive). CREATE_QUEUED, the one-call
 * generate and retry, inserts it queued and counts it active in the same
 * statement, under the same guard as QUEUE_SQL: refused by the limit, it
 * reserves and inserts nothing. */
#define CREATE_TEMPLATE(ACTIVE_SET, ACTIVE_GUARD, QUEUE_COLS, QUEUE_VALS) \
    "WITH args AS (SELECT %s::text AS user_id, %d::int AS cost, %d::int AS day_limit," \
    " %s::text AS prompt, %s::text AS user_prompt, %s::text AS preset," \
    " %s::text AS source_image, %s::text AS aspect_ratio, %s::bigint AS seed," \
    " %s::jsonb AS input, %d::int AS max_retries, %s::text AS chain," \
    " %d::int AS deadline_secs, %d::int AS max_active, %s::uuid AS id," \
    " %s::text AS idem_key, %s::text AS idem_owner, %s::text AS server_name)," \
    " rec AS MATERIALIZED (SELECT i.key FROM genflow_idempotency i, args" \
    "  WHERE i.user_id = args.user_id AND i.key = args.idem_key" \
    "   AND i.owner = args.idem_owner AND i.state = 'running' AND i.generation_id IS NULL" \
    "  FOR UPDATE OF i)," \
    " acct AS (UPDATE genflow_accounts a SET balance = a.balance - args.cost," \
    "   daily_used = CASE WHEN a.daily_date = " UTC_TODAY " THEN a.daily_used ELSE 0 END + args.cost," \
    "   daily_date = " UTC_TODAY ", updated_at = now()" ACTIVE_SET \
    "  FROM args WHERE a.user_id = args.user_id AND a.balance >= args.cost" \
    ACTIVE_GUARD \
    "   AND NOT EXISTS (SELECT 1 FROM {T} x WHERE x.id = args.id)" \
    "   AND (args.idem_key IS NULL OR EXISTS (SELECT 1 FROM rec))" \
    "   AND (left(args.source_image, 7) IS DISTINCT FROM 'upload:'" \
    "        OR EXISTS (SELECT 1 FROM genflow_uploads u" \
    "         WHERE u.id = (CASE WHEN left(args.source_image, 7) = 'upload:'" \
    "                            THEN substr(args.source_image, 8) END)::uuid" \
    "           AND u.user_id = args.user_id))" \
    "   AND (COALESCE(a.daily_limit, args.day_limit) = 0" \
    "        OR CASE WHEN a.daily_date = " UTC_TODAY " THEN a.daily_used ELSE 0 END + args.cost" \
    "           <= COALESCE(a.daily_limit, args.day_limit))" \
    "  RETURNING a.user_id)," \
    " gen AS (INSERT INTO {T} (id, user_id, prompt, user_prompt, preset, source_image," \
    "   aspect_ratio, seed, input, estimated_cost, max_retries, chain, deadline_secs, server_name" \
    QUEUE_COLS ")" \
    "  SELECT args.id, acct.user_id, args.prompt, args.user_prompt, args.preset, args.source_image," \
    "   args.aspect_ratio, args.seed, args.input, args.cost, args.max_retries, args.chain," \
    "   args.deadline_secs, args.server_name" QUEUE_VALS " FROM acct, args" \
    "  RETURNING id, user_id, estimated_cost, prompt, created_at)," \
    " used AS (UPDATE genflow_uploads u SET last_used_at = now() FROM gen, args" \
    "  WHERE u.id = (CASE WHEN left(args.source_image, 7) = 'upload:'" \
    "                     THEN substr(args.source_image, 8) END)::uuid" \
    "   AND u.user_id = gen.user_id)," \
    " led AS (INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason)" \
    "  SELECT user_id, 'reserve', -estimated_cost, '{Y}', id, 'create' FROM gen)," \
    " idem AS (UPDATE genflow_idempotency i SET generation_id = gen.id FROM gen, args" \
    "  WHERE args.idem_key IS NOT NULL AND i.user_id = args.user_id AND i.key = args.idem_key" \
    "   AND i.owner = args.idem_owner)" \
    " SELECT gen.id::text, gen.estimated_cost::text, gen.prompt, genflow_rfc3339(gen.created_at)" \
    " FROM gen"

static const char CREATE_SQL[] = CREATE_TEMPLATE("", "", "", "");

static const char CREATE_QUEUED_SQL[] =
    CREATE_TEMPLATE(", active = a.active + 1",
                    "   AND (args.max_active = 0 OR a.active < args.max_active)",
                    ", queued_at, next_attempt_at", ", now(), now()");

/* args: id, user, Idempotency-Key and owner token (or NULL), per-user
 * active limit (0 = none). Hands the owner's pending generation to the
 * workers (the row's trigger notifies them), counts it active and links it
 * to the key's record, all in one statement, or writes nothing: no row when
 * the generation is not the owner's pending, never queued one, or when the
 * user already has max_active generations queued or processing. The row is
 * locked first (pick), then the account: the order every finalization
 * takes, so two statements never wait on each other in a circle; and the
 * account's guard is evaluated on its newest version (READ COMMITTED
 * re-checks an updated row), so concurrent queues of one user never pass
 * the limit. */
static const char QUEUE_SQL[] =
    "WITH args AS (SELECT %s::uuid AS id, %s::text AS user_id, %s::text AS idem_key,"
    " %s::text AS idem_owner, %d::int AS max_active),"
    " pick AS (SELECT g.id, g.user_id FROM {T} g, args"
    "  WHERE g.id = args.id AND g.user_id = args.user_id AND g.status = 'pending'"
    "   AND g.queued_at IS NULL FOR UPDATE OF g),"
    " acct AS (UPDATE genflow_accounts a SET active = a.active + 1 FROM pick, args"
    "  WHERE a.user_id = pick.user_id AND (args.max_active = 0 OR a.active < args.max_active)"
    "  RETURNING a.user_id),"
    " q AS (UPDATE {T} g SET queued_at = now(), next_attempt_at = now() FROM acct, args"
    "  WHERE g.id = args.id AND g.user_id = acct.user_id AND g.status = 'pending'"
    "   AND g.queued_at IS NULL RETURNING g.*),"
    " idem AS (UPDATE genflow_idempotency i SET generation_id = q.id FROM q, args"
    "  WHERE args.idem_key IS NOT NULL AND i.user_id = args.user_id AND i.key = args.idem_key"
    "   AND i.owner = args.idem_owner AND i.generation_id IS NULL)"
    " SELECT " STATUS_JSON("q") "::text FROM q";

/* The claim's picking rules: due now, and the lease free or expired (an
 * interrupted attempt: rescued), skipping rows other workers hold. The
 * due-types probe asks the same. */
#define DUE_NOW(d) \
    d ".queued_at IS NOT NULL AND " d ".status IN ('pending', 'processing')" \
    " AND " d ".next_attempt_at <= now() AND (" d ".lease_until IS NULL OR " d ".lease_until < now())"

/* ... and created by a server this worker's httpd has: the main server
 * (no name; every node has one) or one of the virtual hosts named in
 * names, newline-separated. A generation of a virtual host that no node
 * has any more is left to expire (genflow_expire_orphans, refunded). */
#define SERVED_BY(d, names) \
    " AND (" d ".server_name IS NULL OR " d ".server_name = ANY(string_to_array(" names ", E'\\n')))"

/* What a claim sets and returns. Times come back in milliseconds since the
 * epoch; the second-to-last column says whether the row still had an
 * owner (a rescue: that attempt ended without writing its outcome). */
#define CLAIM_SET \
    "UPDATE {T} g SET status = 'processing', lease_owner = %s, woken_at = NULL," \
    "  lease_until = now() + make_interval(secs => %d), attempts = g.attempts + 1," \
    "  started_at = COALESCE(g.started_at, now())," \
    "  deadline_at = COALESCE(g.deadline_at, now() + make_interval(secs => g.deadline_secs))"
#define CLAIM_RETURNING \
    " RETURNING g.id::text, g.user_id, g.prompt, g.source_image, g.aspect_ratio, g.seed::text," \
    "  g.chain, g.chain_index, g.retry_count, g.max_retries, g.poll_count, g.provider_job_id," \
    "  g.attempts, (extract(epoch FROM g.deadline_at) * 1000)::bigint::text, g.provider_state," \
    "  g.poll_errors, (pick.prev_owner IS NOT NULL)::int::text," \
    "  (extract(epoch FROM g.started_at) * 1000)::bigint::text, g.preset," \
    "  g.input->'parameters'->>'strength', g.server_name"

/* ... and not of a provider the worker may not call now (its limits are
 * full, or it asked for a pause): skip names them, newline-separated; the
 * row's provider is its chain's current entry, without the model. */
#define NOT_SKIPPED(d, skip) \
    " AND NOT (split_part(split_part(" d ".chain, ',', " d ".chain_index + 1), ':', 1)" \
    "   = ANY(string_to_array(COALESCE(" skip ", ''), E'\\n')))"

/* args: lease owner, lease seconds, server names (SERVED_BY), providers
 * to skip (NOT_SKIPPED). Takes one due row that has no accepted provider
 * job: a first attempt, a retry or a fallback. New work goes ahead of the
 * polls of accepted jobs, however many are due (the <table>_due_new index
 * of sql/013 serves it).
 *
 * Users take turns: the row goes to the user with the fewest attempts of
 * this type running now (a live lease), the oldest due row of theirs
 * first; between users with as many running, the oldest due row. One
 * user's 500 queued generations thus share the places with another's one
 * instead of going ahead of it. */
static const char CLAIM_SQL[] =
    CLAIM_SET
    " FROM (SELECT d.id, d.lease_owner AS prev_owner FROM {T} d"
    "   LEFT JOIN (SELECT b.user_id, count(*) AS n FROM {T} b"
    "     WHERE b.status = 'processing' AND b.lease_until >= now() GROUP BY b.user_id) busy"
    "   ON busy.user_id = d.user_id"
    "   WHERE " DUE_NOW("d") SERVED_BY("d", "%s::text") " AND d.provider_job_id IS NULL"
    NOT_SKIPPED("d", "%s::text")
    "   ORDER BY COALESCE(busy.n, 0), d.next_attempt_at LIMIT 1 FOR UPDATE OF d SKIP LOCKED) pick"
    " WHERE g.id = pick.id"
    CLAIM_RETURNING;

/* args: lease owner, lease seconds, server names (SERVED_BY), providers
 * to skip (NOT_SKIPPED), batch size. Takes up to that many due
 * polls of accepted jobs at once, oldest first (<table>_due_poll), all
 * under one lease: each goes in flight on the child's loop at once; a
 * worker without a loop polls them in turn and gives back, with
 * RELEASE_REST, those it will not reach within half the lease. */
static const char CLAIM_POLLS_SQL[] =
    CLAIM_SET
    " FROM (SELECT d.id, d.lease_owner AS prev_owner FROM {T} d"
    "   WHERE " DUE_NOW("d") SERVED_BY("d", "%s::text") " AND d.provider_job_id IS NOT NULL"
    NOT_SKIPPED("d", "%s::text")
    "   ORDER BY d.next_attempt_at LIMIT %d FOR UPDATE SKIP LOCKED) pick"
    " WHERE g.id = pick.id"
    CLAIM_RETURNING;

/* args: ids (comma-separated), lease owner. The claimed polls a worker
 * did not run (half its lease passed, or the child is stopping) go back,
 * due now and free, for any worker. The owner string is this worker
 * thread's, which holds these leases until it gives them back. */
static const char RELEASE_REST_SQL[] =
    "UPDATE {T} g SET lease_owner = NULL, lease_until = now() - interval '1 second',"
    "  next_attempt_at = now()"
    " WHERE g.id = ANY (string_to_array(%s, ',')::uuid[]) AND g.lease_owner = %s"
    "  AND g.status = 'processing'"
    " RETURNING 1";

/* args: delay ms, chain index, retry count, poll count, failed polls,
 * provider job id, provider state, provider, model, id, lease owner,
 * attempt. Only the lease holder of
 * this very attempt can put the row back. A webhook that arrived during
 * the attempt (woken_at) makes the next poll immediate. */
static const char SCHEDULE_SQL[] =
    "UPDATE {T} g SET next_attempt_at = CASE WHEN g.woken_at IS NOT NULL THEN now()"
    "   ELSE now() + make_interval(secs => %d / 1000.0) END, woken_at = NULL,"
    "  chain_index = %d, retry_count = %d, poll_count = %d, poll_errors = %d,"
    "  provider_job_id = %s,"
    "  provider_state = %s, provider = %s, model = %s, lease_owner = NULL, lease_until = NULL"
    " WHERE g.id = %s::uuid AND g.lease_owner = %s AND g.attempts = %d"
    "  AND g.status = 'processing'"
    " RETURNING g.id::text";

/* args: lease seconds, id, lease owner, attempt. The heartbeat of a
 * running attempt: only the holder of this very attempt extends its
 * lease; no row means the lease was taken over or the generation ended
 * (cancelled), and the attempt must write nothing. */
static const char RENEW_SQL[] =
    "UPDATE {T} g SET lease_until = now() + make_interval(secs => %d)"
    " WHERE g.id = %s::uuid AND g.lease_owner = %s AND g.attempts = %d"
    "  AND g.status = 'processing'"
    " RETURNING 1";

/* args: uncertain (1 when a submission was cut off: the provider may have
 * accepted it), delay ms, id, lease owner, attempt. An attempt abandoned at
 * child exit gives its row back, due now (delay 0), for any worker to
 * rescue; the provider's job id and state stay, so an accepted job is
 * polled, not submitted again. After a cut-off submission the owner stays,
 * with the lease already expired: the next claim sees a rescue, as after a
 * crash. An attempt whose provider has no place gives it back certain,
 * due when a place may be free (delay). */
static const char RELEASE_SQL[] =
    "UPDATE {T} g SET lease_owner = CASE WHEN %d = 1 THEN g.lease_owner END,"
    "  lease_until = now() - interval '1 second',"
    "  next_attempt_at = now() + make_interval(secs => %d / 1000.0)"
    " WHERE g.id = %s::uuid AND g.lease_owner = %s AND g.attempts = %d"
    "  AND g.status = 'processing'"
    " RETURNING 1";

/* args: provider job id, provider state, provider, id, lease owner,
 * attempt. The provider accepted a job during this attempt: record it
 * before anything else can fail, so a rescue polls it instead of
 * submitting again. */
static const char ACCEPTED_SQL[] =
    "UPDATE {T} g SET provider_job_id = %s, provider_state = %s, provider = %s"
    " WHERE g.id = %s::uuid AND g.lease_owner = %s AND g.attempts = %d"
    "  AND g.status = 'processing'"
    " RETURNING 1";

/* args: id, user. The status object, and for the status handler (which
 * sends the object as it comes, never parsing it) the state and the age in
 * milliseconds, for Retry-After; then 1 when the generation was queued
 * (a pending one that was never queued is only created). */
static const char GET_SQL[] =
    "SELECT " STATUS_JSON("g") "::text, g.status,"
    "  (extract(epoch FROM now() - g.created_at) * 1000)::bigint,"
    "  (g.queued_at IS NOT NULL)::int::text FROM {T} g"
    " WHERE g.id = %s::uuid AND g.user_id = %s";

/* args: id, image URL, provider, model, lease owner, attempt. The charge
 * row is inserted in the same statement as the state change; the unique
 * index on finalizations makes a second one impossible. The lease guard
 * keeps a worker whose lease was taken over from finishing the row. */
static const char COMPLETE_SQL[] =
    "WITH args AS (SELECT %s::uuid AS id, %s::text AS image_url, %s::text AS provider,"
    " %s::text AS model, %s::text AS lease_owner, %d::int AS attempts),"
    " gen AS (UPDATE {T} g SET status = 'completed', image_url = args.image_url,"
    "   provider = args.provider, model = args.model, credits_charged = g.estimated_cost,"
    "   error_code = NULL, error_message = NULL, finished_at = now(),"
    "   lease_owner = NULL, lease_until = NULL"
    "  FROM args WHERE g.id = args.id AND g.status IN ('pending', 'processing')"
    "   AND g.lease_owner = args.lease_owner AND g.attempts = args.attempts"
    "  RETURNING g.*),"
    " led AS (INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason)"
    "  SELECT user_id, 'charge', 0, '{Y}', id, 'completed' FROM gen),"
    " acct AS (UPDATE genflow_accounts a"
    "   SET active = greatest(a.active - " WAS_ACTIVE("gen") ", 0)"
    "  FROM gen WHERE a.user_id = gen.user_id)"
    " SELECT " STATUS_JSON("gen") "::text FROM gen";

/* args: id, terminal status (failed|cancelled), error code, error message,
 * provider, model, lease owner, attempt (both NULL for a cancel, which
 * needs no lease), owner (NULL for a worker). Refunds the reservation and gives back the
 * day's allowance when the generation was created on the current UTC day. */
static const char FAIL_SQL[] =
    "WITH args AS (SELECT %s::uuid AS id, %s::text AS status, %s::text AS error_code,"
    " %s::text AS error_message, %s::text AS provider, %s::text AS model,"
    " %s::text AS lease_owner, %s::int AS attempts, %s::text AS user_id),"
    " gen AS (UPDATE {T} g SET status = args.status, error_code = args.error_code,"
    "   error_message = args.error_message, provider = COALESCE(args.provider, g.provider),"
    "   model = COALESCE(args.model, g.model), credits_charged = 0, finished_at = now(),"
    "   lease_owner = NULL, lease_until = NULL"
    "  FROM args WHERE g.id = args.id AND g.status IN ('pending', 'processing')"
    "   AND args.status IN ('failed', 'cancelled')"
    "   AND (args.lease_owner IS NULL"
    "        OR (g.lease_owner = args.lease_owner AND g.attempts = args.attempts))"
    "   AND (args.user_id IS NULL OR g.user_id = args.user_id)"
    "  RETURNING g.*),"
    " led AS (INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason)"
    "  SELECT user_id, 'refund', estimated_cost, '{Y}', id, error_code FROM gen"
    "  RETURNING user_id, amount, generation_id),"
    " acct AS (UPDATE genflow_accounts a SET balance = a.balance + led.amount,"
    "   daily_used = CASE WHEN a.daily_date = (gen.created_at AT TIME ZONE 'UTC')::date"
    "                     THEN greatest(a.daily_used - led.amount, 0) ELSE a.daily_used END,"
    "   active = greatest(a.active - " WAS_ACTIVE("gen") ", 0), updated_at = now()"
    "  FROM led JOIN gen ON gen.id = led.generation_id WHERE a.user_id = led.user_id)"
    " SELECT " STATUS_JSON("gen") "::text, gen.provider_state FROM gen";

/* args: id, user. What a retry needs. */
static const char INPUT_SQL[] =
    "SELECT g.status, g.input::text FROM {T} g WHERE g.id = %s::uuid AND g.user_id = %s";

/* args: TTL seconds (GenFlowCreatedTTL). Up to 100 pending generations
 * that were created but never queued within the TTL become failed/EXPIRED,
 * refunded per user in one statement. They were never active, so the
 * active count stays. */
static const char EXPIRE_SQL[] =
    "WITH args AS (SELECT %d::int AS ttl),"
    " gen AS (UPDATE {T} g SET status = 'failed', error_code = 'EXPIRED',"
    "   error_message = 'the generation was never started', credits_charged = 0,"
    "   finished_at = now()"
    "  WHERE g.id IN (SELECT d.id FROM {T} d, args WHERE d.status = 'pending'"
    "     AND d.queued_at IS NULL AND d.created_at < now() - make_interval(secs => args.ttl)"
    "     ORDER BY d.created_at LIMIT 100 FOR UPDATE SKIP LOCKED)"
    "   AND g.status = 'pending' AND g.queued_at IS NULL"
    "  RETURNING g.*),"
    " led AS (INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason)"
    "  SELECT user_id, 'refund', estimated_cost, '{Y}', id, 'EXPIRED' FROM gen"
    "  RETURNING user_id, amount, generation_id),"
    " per_user AS (SELECT led.user_id, sum(led.amount) AS amount,"
    "   sum(CASE WHEN (gen.created_at AT TIME ZONE 'UTC')::date = " UTC_TODAY
    "            THEN led.amount ELSE 0 END) AS today"
    "  FROM led JOIN gen ON gen.id = led.generation_id GROUP BY led.user_id),"
    " acct AS (UPDATE genflow_accounts a SET balance = a.balance + pu.amount,"
    "   daily_used = CASE WHEN a.daily_date = " UTC_TODAY
    "                     THEN greatest(a.daily_used - pu.today, 0) ELSE a.daily_used END,"
    "   updated_at = now()"
    "  FROM per_user pu WHERE a.user_id = pu.user_id)"
    " SELECT count(*)::text FROM gen";

/* args: retention seconds. Failed and cancelled rows older than that go;
 * completed rows are the user's gallery and stay; the ledger stays. */
/* (The <table>_prunable partial index of sql/010 serves the inner search.) */
static const char PRUNE_SQL[] =
    "WITH d AS (DELETE FROM {T} g WHERE g.id IN (SELECT x.id FROM {T} x"
    "   WHERE x.status IN ('failed', 'cancelled')"
    "     AND x.finished_at < now() - make_interval(secs => %d) LIMIT 500)"
    "  RETURNING 1)"
    " SELECT count(*)::text FROM d";

/* args: provider job id. A provider's webhook says the job finished: poll
 * it now (the poll does the completion, with all its guards), or right
 * after the attempt that holds it. Duplicate deliveries match nothing new. */
static const char WAKE_SQL[] =
    "UPDATE {T} g SET next_attempt_at = now(), woken_at = now()"
    " WHERE g.provider_job_id = %s AND g.status IN ('pending', 'processing')"
    "  AND g.queued_at IS NOT NULL"
    " RETURNING g.id::text";

/* args: user, cursor id (or NULL), the same cursor id, limit. Keyset
 * paging on (created_at, id), served by the user-history index. */
static const char HISTORY_SQL[] =
    "SELECT " STATUS_JSON("g") "::text, g.id::text FROM {T} g"
    " WHERE g.user_id = %s"
    "  AND (%s::uuid IS NULL OR (g.created_at, g.id) <"
    "       (SELECT c.created_at, c.id FROM {T} c WHERE c.id = %s::uuid AND c.user_id = g.user_id))"
    " ORDER BY g.created_at DESC, g.id DESC LIMIT %d";

/* args: status (or NULL), user (or NULL), limit. With the user and what
 * its provider calls cost (providerCost: null when none was recorded). */
static const char ADMIN_LIST_SQL[] =
    "SELECT (" STATUS_JSON("g") "::jsonb"
    "        || jsonb_build_object('user', g.user_id, 'providerCost',"
    "             (SELECT sum(c.cost)::float8 FROM genflow_provider_costs c"
    "              WHERE c.generation_id = g.id)))::text,"
    "  genflow_rfc3339(g.created_at) FROM {T} g"
    " WHERE (%s::text IS NULL OR g.status = %s::text) AND (%s::text IS NULL OR g.user_id = %s::text)"
    " ORDER BY g.created_at DESC, g.id DESC LIMIT %d";

/* args: status (a terminal one, or NULL for all three), seconds. Only
 * terminal rows go; the ledger is never deleted. */
static const char ADMIN_DELETE_SQL[] =
    "WITH d AS (DELETE FROM {T} g WHERE g.status IN ('completed', 'failed', 'cancelled')"
    "   AND (%s::text IS NULL OR g.status = %s::text)"
    "   AND g.finished_at < now() - make_interval(secs => %d) RETURNING 1)"
    " SELECT count(*)::text FROM d";

/* args: a dummy. Generations per status, how many are due now, how long
 * the longest due one has waited (seconds), and how many open ones are
 * within 15 s of their deadline. */
#define METRICS_DUE(g) \
    g ".queued_at IS NOT NULL AND " g ".next_attempt_at <= now()" \
    " AND " g ".status IN ('pending', 'processing')"
static const char METRICS_SQL[] =
    "SELECT g.status, count(*)::text,"
    " count(*) FILTER (WHERE " METRICS_DUE("g") ")::text,"
    " COALESCE(extract(epoch FROM now() - min(g.next_attempt_at)"
    "                  FILTER (WHERE " METRICS_DUE("g") ")), 0)::bigint::text,"
    " count(*) FILTER (WHERE g.status IN ('pending', 'processing')"
    "                  AND g.deadline_at < now() + interval '15 seconds')::text"
    " FROM {T} g WHERE %s::text IS NOT NULL GROUP BY g.status";

void gf_sql_type_statements(apr_pool_t *p, const char *type, const char *table,
                            apr_array_header_t *stmts)
{
    static const char *const SQL[GF_SQL_TYPE_OPS] = {
        CREATE_SQL, QUEUE_SQL, GET_SQL, CLAIM_SQL, SCHEDULE_SQL, COMPLETE_SQL, FAIL_SQL,
        INPUT_SQL, EXPIRE_SQL, PRUNE_SQL, WAKE_SQL, HISTORY_SQL, ADMIN_LIST_SQL,
        ADMIN_DELETE_SQL, METRICS_SQL, RENEW_SQL, RELEASE_SQL, ACCEPTED_SQL,
        CLAIM_POLLS_SQL, RELEASE_REST_SQL, CREATE_QUEUED_SQL
    };
    int op;
    for (op = 0; op < GF_SQL_TYPE_OPS; op++) {
        /* A claim run twice would lease a second row: after a lost
         * connection it is not repeated (the first lease just expires).
         * Every other statement is a read, a guarded update whose repeat
         * matches nothing, or carries an id chosen before it ran. */
        gf_sql_add(stmts, gf_sql_type_label(p, table, (gf_sql_type_op_t)op),
            fill(p, SQL[op], type, table), op != GF_SQL_CLAIM && op != GF_SQL_CLAIM_POLLS);
    }
}

void gf_sql_due_types_statement(apr_pool_t *p, const char *label, const char *const *types,
                                const char *const *tables, int n, apr_array_header_t *stmts)
{
    /* One branch per type, all on the one parameter: the server names
     * the claims take (SERVED_BY). An idle type costs one probe of its due
     * index that stops at the first row not due. */
    const char *sql = "WITH mine AS (SELECT %s::text AS names) ";
    int i;
    for (i = 0; i < n; i++) {
        sql = apr_pstrcat(p, sql, i ? " UNION ALL " : "",
                          fill(p, "SELECT '{Y}'::text FROM mine WHERE EXISTS (SELECT 1 FROM {T} d"
                                  " WHERE " DUE_NOW("d") SERVED_BY("d", "mine.names") ")",
                               types[i], tables[i]), NULL);
    }
    if (n == 0) sql = "SELECT %s::text WHERE false";
    gf_sql_add(stmts, label, sql, 1);
}

