/* SPDX-License-Identifier: Apache-2.0 */
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
#include <apr_lib.h>
#include <apr_sha1.h>

#include "core/gf_sql.h"
#include "core/gf_round.h"
#include "core/gf_sql_private.h"

static const char *const OP_NAMES[GF_SQL_TYPE_OPS] = {
    "create", "queue", "get", "claim", "schedule", "complete", "fail", "input", "expire",
    "prune", "wake", "history", "admin_list", "admin_delete", "metrics", "renew", "release",
    "accepted", "claim_polls", "release_rest", "create_queue", "history_next", "admin_status",
    "admin_user", "expire_line", "expire_late", "strays", "keep", "abort", "get_line",
    "progress", "more", "completes", "creates"
};

/* The status object of docs/api.md, built from the row's own columns
 * (alias a) in one pass; its place in line only where a status read
 * computes it (STATUS_JSON_AT, GET_SQL), else null, and estimatedStartAt
 * always null here (the glue fills it in from the provider's limits).
 * A processing generation's progress and estimatedFinishAt are its
 * provider's report of its current job (sql/041: the end is where the
 * reported fraction puts it, from the job's start; a job given up for a
 * fallback shows none); without one, null here, and the glue estimates
 * them from the provider's recent job times. genflow_status_object('{Y}', to_jsonb(row))
 * gives the same object, but PostgreSQL inlines that SQL function and
 * then evaluates to_jsonb(row) once for each of its 22 references. */
#define STATUS_JSON(a) STATUS_JSON_AT(a, "NULL::bigint")
/* The pictures of a completed row (alias a): its images (sql/047), or
 * for a row completed before them its one image_url; none for any other
 * (an open row's images are those its calls stored so far, MORE_SQL, not
 * delivered until it completes); genflow_images_of (sql/050) says the
 * same for the webhooks' payloads. */
#define IMAGES_OF(a) \
    "CASE WHEN " a ".status <> 'completed' THEN '[]'::jsonb" \
    " WHEN jsonb_typeof(" a ".images) = 'array' THEN " a ".images" \
    " WHEN " a ".image_url IS NOT NULL" \
    " THEN jsonb_build_array(jsonb_build_object('url', " a ".image_url, 'width', NULL," \
    "  'height', NULL, 'seed', NULL)) ELSE '[]'::jsonb END"
/* How many pictures the generation asks for (the create's count). */
#define COUNT_OF(a) "COALESCE((" a ".input->>'count')::int, 1)"
#define STATUS_JSON_AT(a, place) \
    "json_build_object('generationId', " a ".id, 'type', '{Y}', 'status', " a ".status," \
    " 'prompt', " a ".prompt, 'preset', " a ".preset, 'imageUrl', " a ".image_url," \
    " 'images', " IMAGES_OF(a) ", 'count', " COUNT_OF(a) "," \
    " 'provider', " a ".provider, 'model', " a ".model, 'providerJobId', " a ".provider_job_id," \
    " 'retryCount', " a ".retry_count, 'maxRetries', " a ".max_retries," \
    " 'error', CASE WHEN " a ".error_code IS NULL THEN NULL" \
    "  ELSE json_build_object('code', " a ".error_code, 'message', " a ".error_message) END," \
    " 'estimatedCost', " a ".estimated_cost, 'creditsCharged', " a ".credits_charged," \
    " 'createdAt', genflow_rfc3339(" a ".created_at)," \
    " 'startedAt', genflow_rfc3339(" a ".started_at)," \
    " 'finishedAt', genflow_rfc3339(" a ".finished_at)," \
    " 'processingTimeMs', CASE WHEN " a ".finished_at IS NOT NULL AND " a ".started_at IS NOT NULL" \
    "  THEN round(extract(epoch FROM " a ".finished_at - " a ".started_at) * 1000)::bigint END," \
    " 'traceId', substr(" a ".traceparent, 4, 32)," \
    " 'queuePosition', " place ", 'estimatedStartAt', NULL::text," \
    " 'progress', CASE WHEN " a ".status = 'processing' AND " a ".provider_job_id IS NOT NULL" \
    "  THEN " a ".progress END," \
    " 'estimatedFinishAt', CASE WHEN " a ".status = 'processing'" \
    "  AND " a ".provider_job_id IS NOT NULL AND " a ".progress > 0" \
    "  THEN genflow_rfc3339(" a ".job_started_at" \
    "   + (" a ".progress_at - " a ".job_started_at) / " a ".progress::float8) END)"

/* 1 when the finalized row (alias a) counted as active: it was queued.
 * A generation that was only created never counted (docs/architecture.md,
 * "The active count"). */
#define WAS_ACTIVE(a) "(" a ".queued_at IS NOT NULL)::int"

/* One member of a statement's args CTE, as a scalar subquery: the
 * planner makes it a parameter of an index condition (where a join with
 * the args row would lose the index's order). */
#define ARG(name) "(SELECT a." name " FROM args a)"

/* The line of a type's provider (sql/022): a queued generation's turn is
 * greatest(the head of the line, the turn of the user's previous one + 1)
 * (genflow_turns). The head is the lowest turn still waiting
 * (<table>_fresh), or, when none waits, the highest turn ever given
 * (genflow_turns_last): it never goes back, so a user queued now is never
 * put behind turns given before. prov is the row's provider (an
 * expression). */
#define LINE_HEAD(prov) \
    "COALESCE((SELECT h.turn FROM {T} h WHERE h.status = 'pending' AND h.queued_at IS NOT NULL" \
    "           AND h.cur_provider = " prov " ORDER BY h.turn LIMIT 1)," \
    "         (SELECT t.last_turn FROM genflow_turns t WHERE t.gen_type = '{Y}'" \
    "           AND t.provider = " prov " ORDER BY t.last_turn DESC LIMIT 1), 0)"
/* Take the user's turn in the line of prov: one row (last_turn), none
 * when `from` has no row (the statement was refused). A user of weight w
 * (GenFlowLine, sql/040) keeps the last turn while fewer than w of the
 * user's generations have it and the head has not passed it; weight 1
 * always takes the next. */
#define SHARES_TURN(weight) \
    "(genflow_turns.taken < " weight " AND genflow_turns.last_turn >= EXCLUDED.last_turn)"
#define TAKE_TURN(prov, user, from, weight) \
    " turn AS (INSERT INTO genflow_turns (gen_type, provider, user_id, last_turn, taken)" \
    "  SELECT '{Y}', " prov ", " user ", " LINE_HEAD(prov) ", 1 FROM " from \
    "  ON CONFLICT (gen_type, provider, user_id) DO UPDATE" \
    "   SET last_turn = CASE WHEN " SHARES_TURN(weight) " THEN genflow_turns.last_turn" \
    "        ELSE greatest(genflow_turns.last_turn + 1, EXCLUDED.last_turn) END," \
    "    taken = CASE WHEN " SHARES_TURN(weight) " THEN genflow_turns.taken + 1 ELSE 1 END," \
    "    updated_at = now()" \
    "  RETURNING last_turn),"

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
 * reserves and inserts nothing.
 *
 * The account is changed by genflow_reserve (sql/026), its one UPDATE with
 * the balance, allowance and active guards, called only when the checks
 * before it (ok: the id, the key's record, the upload) passed. In this
 * statement, PostgreSQL's re-check of an account row that another
 * transaction changed meanwhile would start every part of the statement
 * again (the inserts with their indexes); in the function it starts that
 * UPDATE alone. */
/* The columns a create writes, and their values from a row of its
 * arguments (alias a) for the user the reservation returned. */
#define CREATE_ROW_COLS \
    "id, user_id, prompt, user_prompt, preset, source_image, aspect_ratio, seed, input," \
    " estimated_cost, max_retries, chain, deadline_secs, server_name, cancel_at, traceparent"
#define CREATE_ROW_VALS(a, user) \
    a ".id, " user ", " a ".prompt, " a ".user_prompt, " a ".preset, " a ".source_image, " \
    a ".aspect_ratio, " a ".seed, " a ".input, " a ".cost, " a ".max_retries, " a ".chain, " \
    a ".deadline_secs, " a ".server_name," \
    " now() + make_interval(secs => (" a ".input->>'cancelAfter')::int), " a ".traceparent"
#define CREATE_ANSWER(gen) \
    gen ".id::text, " gen ".estimated_cost::text, " gen ".prompt, genflow_rfc3339(" gen ".created_at)"

#define CREATE_TEMPLATE(QUEUED, TURN, QUEUE_COLS, QUEUE_VALS) \
    "WITH args AS (SELECT %s::text AS user_id, %d::int AS cost, %d::int AS day_limit," \
    " %s::text AS prompt, %s::text AS user_prompt, %s::text AS preset," \
    " %s::text AS source_image, %s::text AS aspect_ratio, %s::bigint AS seed," \
    " %s::jsonb AS input, %d::int AS max_retries, %s::text AS chain," \
    " %d::int AS deadline_secs, %d::int AS max_active, %s::uuid AS id," \
    " %s::text AS idem_key, %s::text AS idem_owner, %s::text AS server_name," \
    " %s::text AS traceparent, %d::int AS weight, %s::text AS line)," \
    " rec AS MATERIALIZED (SELECT i.key FROM genflow_idempotency i, args" \
    "  WHERE i.user_id = args.user_id AND i.key = args.idem_key" \
    "   AND i.owner = args.idem_owner AND i.state = 'running' AND i.generation_id IS NULL" \
    "  FOR UPDATE OF i)," \
    " ok AS MATERIALIZED (SELECT args.user_id, args.cost, args.day_limit, args.max_active FROM args" \
    "  WHERE NOT EXISTS (SELECT 1 FROM {T} x WHERE x.id = args.id)" \
    "   AND (args.idem_key IS NULL OR EXISTS (SELECT 1 FROM rec))" \
    "   AND (left(args.source_image, 7) IS DISTINCT FROM 'upload:'" \
    "        OR EXISTS (SELECT 1 FROM genflow_uploads u" \
    "         WHERE u.id = (CASE WHEN left(args.source_image, 7) = 'upload:'" \
    "                            THEN substr(args.source_image, 8) END)::uuid" \
    "           AND u.user_id = args.user_id)))," \
    " res AS MATERIALIZED (SELECT genflow_reserve(ok.user_id, ok.cost, ok.day_limit, ok.max_active, " \
    QUEUED ") AS user_id FROM ok)," \
    " acct AS (SELECT res.user_id FROM res WHERE res.user_id IS NOT NULL)," \
    TURN \
    " gen AS (INSERT INTO {T} (" CREATE_ROW_COLS QUEUE_COLS ")" \
    "  SELECT " CREATE_ROW_VALS("args", "acct.user_id") \
    QUEUE_VALS " FROM acct, args" \
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
    " SELECT " CREATE_ANSWER("gen") " FROM gen"

static const char CREATE_SQL[] = CREATE_TEMPLATE("false", "", "", "");

/* args: the creates of several requests, as a JSON array of objects
 * {user_id, cost, day_limit, prompt, user_prompt, preset, source_image,
 * aspect_ratio, seed, input (as text), max_retries, chain, deadline_secs,
 * id, server_name, traceparent} (json-c writes it: gf_create_batch).
 * CREATE_SQL for each, in one statement and one commit, for creates that
 * have neither an Idempotency-Key nor an upload as their source (those
 * are created alone): each keeps its own reservation with its own guard
 * (a create the account refuses is left out, and the others are made),
 * its own row and its own ledger row. The accounts are changed in user
 * order, so that two batches never wait on each other in a circle. An id
 * that exists already (a re-run after a lost connection) is left out,
 * each looked up by its key (a subquery, not a join: a plan made while
 * the table was new would hash-join it with a scan of the table). Returns
 * CREATE's columns for each row made. */
static const char CREATE_BATCH_SQL[] =
    "WITH args AS MATERIALIZED (SELECT a.n, a.user_id, a.cost, a.day_limit, a.prompt,"
    "  a.user_prompt, a.preset, a.source_image, a.aspect_ratio, a.seed, a.input::jsonb AS input,"
    "  a.max_retries, a.chain, a.deadline_secs, a.id, a.server_name, a.traceparent"
    "  FROM jsonb_to_recordset(%s::jsonb) AS a(n int, user_id text, cost int, day_limit int,"
    "  prompt text, user_prompt text, preset text, source_image text, aspect_ratio text,"
    "  seed bigint, input text, max_retries int, chain text, deadline_secs int, id uuid,"
    "  server_name text, traceparent text)),"
    " fresh AS MATERIALIZED (SELECT args.n, args.user_id, args.cost, args.day_limit FROM args"
    "  WHERE (SELECT x.id FROM {T} x WHERE x.id = args.id) IS NULL),"
    " res AS MATERIALIZED (SELECT fresh.n, genflow_reserve(fresh.user_id, fresh.cost,"
    "  fresh.day_limit, 0, false) AS user_id FROM fresh ORDER BY fresh.user_id, fresh.n),"
    " gen AS (INSERT INTO {T} (" CREATE_ROW_COLS ")"
    "  SELECT " CREATE_ROW_VALS("args", "res.user_id")
    "  FROM res JOIN args ON args.n = res.n WHERE res.user_id IS NOT NULL"
    "  RETURNING id, user_id, estimated_cost, prompt, created_at),"
    " led AS (INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason)"
    "  SELECT user_id, 'reserve', -estimated_cost, '{Y}', id, 'create' FROM gen)"
    " SELECT " CREATE_ANSWER("gen") " FROM gen";

/* The provider of a new generation's chain: its first entry's name. */
#define FIRST_PROVIDER "(SELECT split_part(split_part(a.chain, ',', 1), ':', 1) FROM args a)"

static const char CREATE_QUEUED_SQL[] =
    CREATE_TEMPLATE("true", TAKE_TURN(FIRST_PROVIDER, "acct.user_id", "acct", ARG("weight")),
                    ", queued_at, next_attempt_at, turn, line",
                    ", now(), now(), (SELECT t.last_turn FROM turn t), args.line");

/* args: id, user, Idempotency-Key and owner token (or NULL), per-user
 * active limit (0 = none), Cancel-After seconds from now (0: the create's
 * stands), the weight and name of the request's line (GenFlowLine; 1 and
 * NULL: standard). Hands the owner's pending generation to the
 * workers (the row's trigger notifies them), counts it active and links it
 * to the key's record, all in one statement, or writes nothing: no row when
 * the generation is not the owner's pending, never queued one, or when the
 * user already has max_active generations queued or processing. The row is
 * locked first (pick), then the account: the order every finalization
 * takes, so two statements never wait on each other in a circle; and the
 * account's guard is evaluated on its newest version (genflow_activate,
 * sql/026: READ COMMITTED re-checks an updated row), so concurrent queues
 * of one user never pass the limit. */
static const char QUEUE_SQL[] =
    "WITH args AS (SELECT %s::uuid AS id, %s::text AS user_id, %s::text AS idem_key,"
    " %s::text AS idem_owner, %d::int AS max_active, %d::int AS cancel_after,"
    " %d::int AS weight, %s::text AS line),"
    " pick AS (SELECT g.id, g.user_id, g.cur_provider FROM {T} g, args"
    "  WHERE g.id = args.id AND g.user_id = args.user_id AND g.status = 'pending'"
    "   AND g.queued_at IS NULL FOR UPDATE OF g),"
    " res AS MATERIALIZED (SELECT genflow_activate(pick.user_id, args.max_active) AS user_id"
    "  FROM pick, args),"
    " acct AS (SELECT res.user_id FROM res WHERE res.user_id IS NOT NULL),"
    TAKE_TURN("(SELECT k.cur_provider FROM pick k)", "acct.user_id", "acct", ARG("weight"))
    " q AS (UPDATE {T} g SET queued_at = now(), next_attempt_at = now(), line = args.line,"
    "   cancel_at = CASE WHEN args.cancel_after > 0"
    "                    THEN now() + make_interval(secs => args.cancel_after) ELSE g.cancel_at END,"
    "   turn = (SELECT t.last_turn FROM turn t), ticket = nextval('genflow_ticket') FROM acct, args"
    "  WHERE g.id = args.id AND g.user_id = acct.user_id AND g.status = 'pending'"
    "   AND g.queued_at IS NULL RETURNING g.*),"
    " idem AS (UPDATE genflow_idempotency i SET generation_id = q.id FROM q, args"
    "  WHERE args.idem_key IS NOT NULL AND i.user_id = args.user_id AND i.key = args.idem_key"
    "   AND i.owner = args.idem_owner AND i.generation_id IS NULL)"
    " SELECT " STATUS_JSON("q") "::text FROM q";

/* Created by a server this worker's httpd has: the main server
 * (no name; every node has one) or one of the virtual hosts named in
 * names, newline-separated. A generation of a virtual host that no node
 * has any more is left to expire (genflow_expire_orphans, refunded). */
#define SERVED_BY(d, names) \
    " AND (" d ".server_name IS NULL OR " d ".server_name = ANY(string_to_array(" names ", E'\\n')))"

/* A claim's arguments, gathered once (GF_CLAIM_ARG_*): read through
 * scalar subqueries, which the planner turns into parameters of the index
 * conditions (a join with the args row would lose the index's order). */
#define CLAIM_ARGS \
    "WITH args AS (SELECT %s::text AS owner, %d::int AS lease, %s::text AS names," \
    " %s::text AS provider, %d::int AS max_concurrent, %s::bigint AS spacing_us, %d::int AS batch," \
    " %d::int AS held_place, %s::uuid AS held_id, %d::int AS held_attempt, %d::int AS standby),"
/* The gates of the provider's limits kept in the database for every node
 * (GenFlowProvider limits=site): the pause a 429 asked for (read), the
 * rate's next start (locked: two claims never take one start; its slot is
 * that start, or now if later; a rate's standby, standby = 2, may take it
 * up to GF_CLAIM_RATE_AHEAD_MS ahead, its row then waiting in the child
 * until the slot), and, for
 * max_concurrent=, up to n free places (locked, skipping the ones other
 * claims hold: each claim takes places nobody else can). A place whose
 * holder's lease ran out is free: a killed node's calls free theirs. The
 * row locks are re-checked on the newest version of the row (READ
 * COMMITTED), so a place or a start taken by a claim that committed
 * after this statement's snapshot is not taken again. No place it could
 * lock, though one is free in its snapshot, is 'busy', not 'full': another
 * claim holds that place's lock for the moment of its statement (and
 * may take nothing: its row pick comes after the place's lock), so the
 * answer is "ask again", not "wait for a call to end". With 0 for both
 * limits (a provider without limits, or one counted per node) only the
 * pause is read. */
#define CLAIM_GATES(n) \
    " lim AS MATERIALIZED (SELECT l.next_start_at, l.paused_until FROM genflow_provider_limits l" \
    "  WHERE l.provider = " ARG("provider") ")," \
    " rate AS MATERIALIZED (SELECT l.provider, greatest(l.next_start_at, now()) AS slot" \
    "  FROM genflow_provider_limits l" \
    "  WHERE " ARG("spacing_us") " > 0 AND l.provider = " ARG("provider") \
    "   AND l.next_start_at <= now() + CASE WHEN " ARG("standby") " = 2" \
    "    THEN make_interval(secs => least(" ARG("spacing_us") " / 1000000.0," \
    "     " GF_SQL_STRINGIFY(GF_CLAIM_RATE_AHEAD_MS) " / 1000.0))" \
    "    ELSE interval '0' END" \
    "   AND l.paused_until <= now()" \
    "  FOR UPDATE OF l SKIP LOCKED)," \
    " place AS MATERIALIZED (SELECT p.provider, p.place, row_number() OVER (ORDER BY p.place) AS n" \
    "  FROM (SELECT s.provider, s.place FROM genflow_provider_places s" \
    "   WHERE " ARG("max_concurrent") " > 0 AND s.provider = " ARG("provider") \
    "    AND s.place <= " ARG("max_concurrent") \
    "    AND CASE WHEN " ARG("held_place") " > 0" \
    "        THEN s.place = " ARG("held_place") " AND s.generation_id = " ARG("held_id") \
    "         AND s.attempt = " ARG("held_attempt") \
    "         AND (" ARG("standby") " = 0 OR s.lease_until >= now())" \
    "        ELSE s.generation_id IS NULL OR s.lease_until < now() END" \
    "    AND NOT EXISTS (SELECT 1 FROM lim WHERE lim.paused_until > now())" \
    "    AND (" ARG("spacing_us") " = 0 OR EXISTS (SELECT 1 FROM rate))" \
    "   ORDER BY s.place LIMIT " n " FOR UPDATE OF s SKIP LOCKED) p)," \
    " gate AS MATERIALIZED (SELECT CASE" \
    "   WHEN EXISTS (SELECT 1 FROM lim WHERE lim.paused_until > now()) THEN 'paused'" \
    "   WHEN a.spacing_us > 0 AND NOT EXISTS (SELECT 1 FROM rate) THEN 'rate'" \
    "   WHEN a.max_concurrent > 0 AND NOT EXISTS (SELECT 1 FROM place) THEN" \
    "    CASE WHEN " ARG("held_place") " = 0 AND EXISTS (SELECT 1 FROM genflow_provider_places s" \
    "      WHERE s.provider = " ARG("provider") " AND s.place <= " ARG("max_concurrent") \
    "       AND (s.generation_id IS NULL OR s.lease_until < now()))" \
    "    THEN 'busy' ELSE 'full' END" \
    "   ELSE 'open' END AS state FROM args a),"

/* The claimed rows are updated by the tuple ids their lock returned (the
 * newest versions, locked by this statement, so unchanged since): a TID
 * scan, whatever the statistics. Joined by id alone, a plan cached while
 * the table was empty (a new type, a site's first hour) hash-joins the
 * picks with a sequential scan of the whole table, each claim reading
 * every row there is by the time the queue is deep; so did a join by
 * tuple id once the picks could be a batch (FRESH_ROWS): the rows
 * are read by their tuple ids as an array, which only a TID scan serves. */
#define CLAIM_BY_TID "g.ctid = ANY (ARRAY(SELECT k.tid FROM pick k)) AND g.ctid = pick.tid" \
    " AND g.id = pick.id"

/* What a claim sets: a lease, the attempt's number (which guards every
 * later write of the attempt), and the first claim's start (the rate's
 * slot where it took one: a rate's standby starts its call then) and deadline
 * (GenFlowDeadline from now, or the request's own cancel_at if nearer:
 * the deadline rules then end it in time); next_attempt_at moves to the
 * lease's end, where a rescue would find the row due. */
#define CLAIM_SET \
    "UPDATE {T} g SET status = 'processing', lease_owner = " ARG("owner") ", woken_at = NULL," \
    "  lease_until = now() + make_interval(secs => " ARG("lease") ")," \
    "  next_attempt_at = now() + make_interval(secs => " ARG("lease") ")," \
    "  attempts = g.attempts + 1," \
    "  job_started_at = CASE WHEN g.provider_job_id IS NULL THEN now() ELSE g.job_started_at END," \
    "  progress = CASE WHEN g.provider_job_id IS NULL THEN NULL ELSE g.progress END," \
    "  progress_at = CASE WHEN g.provider_job_id IS NULL THEN NULL ELSE g.progress_at END," \
    "  started_at = COALESCE(g.started_at, greatest(now(), (SELECT max(r.slot) FROM rate r)))," \
    "  deadline_at = COALESCE(g.deadline_at," \
    "   LEAST(now() + make_interval(secs => g.deadline_secs), g.cancel_at))"

/* The places the claimed rows hold (row n takes place n), and the rate's
 * next start, S/N after the slot taken (the start that was due, or now
 * if later): the starts are spread evenly, no window of S seconds holds
 * more than N, and a start taken on time by a standby keeps the next on
 * the same grid (a claim late by a millisecond would push every later
 * start of a busy line back by as much). A standby claim (standby = 1) takes no place and frees none:
 * its row waits in the child for the held place, whose call is still
 * open, and runs under that place's holder when the call ends. */
#define CLAIM_TAKE \
    " took AS (UPDATE genflow_provider_places s SET generation_id = c.id, attempt = c.attempts," \
    "   lease_owner = c.lease_owner, lease_until = c.lease_until" \
    "  FROM place, claimed c WHERE c.n = place.n AND " ARG("standby") " = 0" \
    "   AND s.provider = place.provider AND s.place = place.place)," \
    " freed AS (UPDATE genflow_provider_places s SET generation_id = NULL, attempt = NULL," \
    "   lease_owner = NULL, lease_until = NULL" \
    "  WHERE " ARG("held_place") " > 0 AND s.provider = " ARG("provider") \
    "   AND s.place = " ARG("held_place") " AND s.generation_id = " ARG("held_id") \
    "   AND s.attempt = " ARG("held_attempt") " AND " ARG("standby") " = 0" \
    "   AND NOT EXISTS (SELECT 1 FROM claimed))," \
    " spaced AS (UPDATE genflow_provider_limits l" \
    "   SET next_start_at = greatest(l.next_start_at, now())" \
    "       + make_interval(secs => " ARG("spacing_us") " / 1000000.0)" \
    "  FROM rate WHERE l.provider = rate.provider AND EXISTS (SELECT 1 FROM claimed))"

/* The claimed rows (GF_CLAIM_*: times in milliseconds since the epoch;
 * whether the row still had an owner, a rescue; the place it holds; the
 * rate's slot taken, GF_CLAIM_GATE_UNTIL, rounded up to the millisecond),
 * or, when none was claimed, one row that says why (GF_CLAIM_GATE: 'open' with
 * nothing due, 'full', 'busy', 'rate' or 'paused', and until when in
 * GF_CLAIM_GATE_UNTIL for the last two, rounded up to the millisecond: a
 * worker that wakes then finds the gate open; one woken up to half a
 * millisecond early was told 'rate' again, and waited 2 ms and a claim
 * more: gf_limits_gate_close). */
#define CLAIM_RESULT \
    " SELECT c.id::text, c.user_id, c.prompt, c.source_image, c.aspect_ratio, c.seed::text," \
    "  c.chain, c.chain_index, c.retry_count, c.max_retries, c.poll_count, c.provider_job_id," \
    "  c.attempts, (extract(epoch FROM c.deadline_at) * 1000)::bigint::text, c.provider_state," \
    "  c.poll_errors, (c.prev_owner IS NOT NULL)::int::text," \
    "  (extract(epoch FROM c.started_at) * 1000)::bigint::text, c.preset," \
    "  c.input->'parameters'->>'strength', c.server_name," \
    "  (extract(epoch FROM c.cancel_at) * 1000)::bigint::text, c.traceparent, c.line," \
    "  (extract(epoch FROM c.job_started_at) * 1000)::bigint::text, c.provider," \
    "  place.place::text, 'claimed'," \
    "  (SELECT ceil(extract(epoch FROM max(r.slot)) * 1000)::bigint FROM rate r)::text," \
    "  c.input->'parameters'->>'num_inference_steps', c.input->>'count'," \
    "  c.input->>'mask', c.input->>'referenceImages'," \
    "  jsonb_array_length(CASE WHEN jsonb_typeof(c.images) = 'array' THEN c.images END)::text" \
    " FROM claimed c LEFT JOIN place ON place.n = c.n" \
    " UNION ALL" \
    " SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL," \
    "  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, gate.state," \
    "  CASE gate.state" \
    "   WHEN 'paused' THEN (SELECT ceil(extract(epoch FROM max(lim.paused_until)) * 1000)::bigint FROM lim)" \
    "   WHEN 'rate' THEN (SELECT ceil(extract(epoch FROM max(lim.next_start_at)) * 1000)::bigint FROM lim)" \
    "  END::text, NULL, NULL, NULL, NULL, NULL" \
    " FROM gate WHERE NOT EXISTS (SELECT 1 FROM claimed)"

/* args (GF_CLAIM_ARG_*): lease owner, lease seconds, server names
 * (SERVED_BY), the provider, its max_concurrent= and its rate's spacing
 * in microseconds when they are kept in the database (else 0: counted per node, or
 * none), a batch size (FRESH_ROWS), and a place a call that just ended
 * still holds (its number, generation and attempt; 0, NULL, 0: none): the
 * claimed row takes that very place, handed on in the one statement,
 * and when nothing is claimed the place is freed; with standby 1 the
 * place's call is still open (its holder and its lease are only checked):
 * the row is claimed to take the place in the child when the call ends
 * (mod_genflow_engine_standby.c), and nothing is freed; with standby 2,
 * a rate's standby, it takes the rate's next start even a little ahead
 * (mod_genflow_engine_pacer.c). Takes rows of that provider that
 * have no accepted provider job, if the provider's gates let a call
 * start: first a row claimed before whose next attempt is due (a retry,
 * a fallback, a rescue: a started generation, its deadline running:
 * one), else the first of the line (<table>_fresh): the lowest turn, so
 * users take turns (sql/022); or the first GF_ROUND_FRESH_BATCH (or
 * GF_ROUND_FRESH_SMALL) of the line, in order, for a provider without
 * limits kept here (one statement, one commit and one pass of the line's
 * counts for all of them). Each is one probe of an index led by the
 * provider that stops at the last row it takes; a provider without a
 * place reads none. */
/* The rows of the line a claim may take: the first GF_ROUND_FRESH_BATCH,
 * or GF_ROUND_FRESH_SMALL, when the glue asks for that many
 * (gf_round_claim_want: a plain provider, a loop to run them all at
 * once, places free) and no place is handed on or stood by for, nor
 * limits kept in the database; else the first. One scan of the line
 * with a constant limit, the largest batch, which the index's order
 * serves (a limit the planner cannot read, a parameter or a subquery,
 * made it scan the whole table), cut to the size asked for by the limit
 * outside it (FRESH_WANT): rows are locked as they are pulled, so no
 * more than that size is locked. One scan, not one a size: the plan
 * made while a type table is new joins its picks with the table by
 * tuple id only while they look few (t/41_plans.t). */
#define FRESH_PLAIN \
    " a.max_concurrent = 0 AND a.spacing_us = 0 AND a.held_place = 0 AND a.standby = 0"
#define FRESH_WANT \
    "(SELECT CASE WHEN a.batch >= " GF_SQL_STRINGIFY(GF_ROUND_FRESH_BATCH) " AND" FRESH_PLAIN \
    "   THEN " GF_SQL_STRINGIFY(GF_ROUND_FRESH_BATCH) \
    "  WHEN a.batch >= " GF_SQL_STRINGIFY(GF_ROUND_FRESH_SMALL) " AND" FRESH_PLAIN \
    "   THEN " GF_SQL_STRINGIFY(GF_ROUND_FRESH_SMALL) " ELSE 1 END FROM args a)"
#define FRESH_ROWS \
    " SELECT f.id, f.tid, f.prev_owner FROM (" \
    " SELECT d.id, d.ctid AS tid, NULL::text AS prev_owner FROM {T} d" \
    "  WHERE (SELECT state FROM gate) = 'open' AND NOT EXISTS (SELECT 1 FROM again)" \
    "   AND d.status = 'pending' AND d.queued_at IS NOT NULL" \
    "   AND d.cur_provider = " ARG("provider") SERVED_BY("d", ARG("names")) \
    /* Past its own Cancel-After before it started: the sweep's (ABORTED). */ \
    "   AND (d.cancel_at IS NULL OR d.cancel_at > now())" \
    "  ORDER BY d.turn, d.ticket LIMIT " GF_SQL_STRINGIFY(GF_ROUND_FRESH_BATCH) \
    "  FOR UPDATE OF d SKIP LOCKED) f LIMIT " FRESH_WANT

static const char CLAIM_SQL[] =
    CLAIM_ARGS
    CLAIM_GATES("1")
    " again AS MATERIALIZED (SELECT d.id, d.ctid AS tid, d.lease_owner AS prev_owner FROM {T} d"
    "  WHERE (SELECT state FROM gate) = 'open'"
    "   AND d.status = 'processing' AND d.provider_job_id IS NULL"
    "   AND d.cur_provider = " ARG("provider")
    "   AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until < now())"
    "   AND d.queued_at IS NOT NULL" SERVED_BY("d", ARG("names"))
    "  ORDER BY d.next_attempt_at LIMIT 1 FOR UPDATE OF d SKIP LOCKED),"
    " fresh AS MATERIALIZED (" FRESH_ROWS "),"
    " pick AS (SELECT id, tid, prev_owner, 1::bigint AS n FROM again"
    "  UNION ALL SELECT id, tid, prev_owner, row_number() OVER () FROM fresh),"
    " claimed AS (" CLAIM_SET
    "  FROM pick WHERE " CLAIM_BY_TID " RETURNING g.*, pick.prev_owner, pick.n),"
    CLAIM_TAKE
    CLAIM_RESULT;

/* args as CLAIM. Takes up to batch due polls of accepted jobs of the
 * provider at once, oldest first (<table>_polls), each with a place of
 * its own when the provider's places are kept in the database, and one
 * at most under a rate (each poll is a call): all under one lease. Each
 * goes in flight on the child's loop at once; a worker without a loop
 * polls them in turn and gives back, with RELEASE_REST, those it will
 * not reach within half the lease. */
static const char CLAIM_POLLS_SQL[] =
    CLAIM_ARGS
    CLAIM_GATES(ARG("batch"))
    " room AS MATERIALIZED (SELECT CASE WHEN (SELECT state FROM gate) <> 'open' THEN 0"
    "   WHEN a.max_concurrent > 0 THEN (SELECT count(*) FROM place)"
    "   WHEN a.spacing_us > 0 THEN 1 ELSE a.batch END AS n FROM args a),"
    " polls AS MATERIALIZED (SELECT d.id, d.ctid AS tid, d.lease_owner AS prev_owner FROM {T} d"
    "  WHERE d.status = 'processing' AND d.provider_job_id IS NOT NULL"
    "   AND d.cur_provider = " ARG("provider")
    "   AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until < now())"
    "   AND d.queued_at IS NOT NULL" SERVED_BY("d", ARG("names"))
    "  ORDER BY d.next_attempt_at LIMIT (SELECT n FROM room) FOR UPDATE OF d SKIP LOCKED),"
    " pick AS (SELECT id, tid, prev_owner, row_number() OVER () AS n FROM polls),"
    " claimed AS (" CLAIM_SET
    "  FROM pick WHERE " CLAIM_BY_TID " RETURNING g.*, pick.prev_owner, pick.n),"
    CLAIM_TAKE
    CLAIM_RESULT;

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

/* args: lease seconds, id, lease owner, attempt, and the holder of the
 * place the attempt calls under (generation and attempt; NULL, 0: the
 * attempt itself). The heartbeat of a running attempt: only the holder of
 * this very attempt extends its lease; no row means the lease was taken
 * over or the generation ended (cancelled), and the attempt must write
 * nothing. The place the attempt holds in its provider's limits (sql/022)
 * is renewed too, whether or not the row still is the attempt's: the call
 * is open until the attempt gives the place back. A place passed on in
 * the child (a standby row) keeps the holder that claimed it. The row
 * says how many places were renewed (0: the place is no longer held by
 * that holder). Only lease_until changes: an update that indexes need not
 * hear of. It never shortens a lease (a kept poll's covers its next
 * polls). */
static const char RENEW_SQL[] =
    "WITH args AS (SELECT %d::int AS lease, %s::uuid AS id, %s::text AS owner, %d::int AS attempt,"
    " %s::uuid AS place_id, %d::int AS place_attempt),"
    " renewed AS (UPDATE {T} g SET lease_until = greatest(g.lease_until,"
    "   now() + make_interval(secs => " ARG("lease") "))"
    "  WHERE g.id = " ARG("id") " AND g.lease_owner = " ARG("owner")
    "   AND g.attempts = " ARG("attempt") " AND g.status = 'processing' RETURNING 1),"
    " held AS (UPDATE genflow_provider_places s"
    "   SET lease_until = now() + make_interval(secs => " ARG("lease") ")"
    "  WHERE s.generation_id = COALESCE(" ARG("place_id") ", " ARG("id") ")"
    "   AND s.attempt = CASE WHEN " ARG("place_id") " IS NULL THEN " ARG("attempt")
    "    ELSE " ARG("place_attempt") " END RETURNING 1)"
    " SELECT (SELECT count(*) FROM held)::text FROM renewed";

/* args: seconds, poll count, id, lease owner, attempt. A poll its child
 * keeps for the next ones (mod_genflow_engine_keep.c): the lease, and the
 * moment a rescue would find the row due, that many seconds ahead, and
 * the polls made so far (a rescuer goes on from there). Only the holder
 * of this very attempt; no row when the lease is gone, the generation
 * ended, or a webhook woke it (woken_at: the schedule then polls at
 * once). */
static const char KEEP_SQL[] =
    "WITH args AS (SELECT %d::int AS secs, %d::int AS polls, %s::uuid AS id, %s::text AS owner,"
    " %d::int AS attempt)"
    " UPDATE {T} g SET lease_until = now() + make_interval(secs => a.secs),"
    "  next_attempt_at = now() + make_interval(secs => a.secs), poll_count = a.polls,"
    "  poll_errors = 0"
    " FROM args a WHERE g.id = a.id AND g.lease_owner = a.owner AND g.attempts = a.attempt"
    "  AND g.status = 'processing' AND g.woken_at IS NULL"
    " RETURNING g.id::text";

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

/* args: fraction (0..1), id, lease owner, attempt. The progress its
 * provider reported for the accepted job of this very attempt, written
 * only when it grew and at most once a second (sql/041), and announced
 * on genflow_progress: the watchers of the generation read it again, and
 * nothing else wakes (genflow_change would make a kept poll due at once). */
static const char PROGRESS_SQL[] =
    "WITH args AS (SELECT %s::real AS progress, %s::uuid AS id, %s::text AS owner,"
    " %d::int AS attempt),"
    " up AS (UPDATE {T} g SET progress = a.progress, progress_at = now() FROM args a"
    "  WHERE g.id = a.id AND g.lease_owner = a.owner AND g.attempts = a.attempt"
    "   AND g.status = 'processing' AND g.provider_job_id IS NOT NULL"
    "   AND (g.progress IS NULL OR g.progress < a.progress)"
    "   AND (g.progress_at IS NULL OR g.progress_at <= now() - interval '1 second')"
    "  RETURNING g.id)"
    " SELECT up.id::text, pg_notify('genflow_progress', up.id::text)::text FROM up";

/* A queued row's place in its provider's line (sql/031): how many rows
 * a claim takes before it, those with a smaller (turn, ticket).
 *  - The earlier turns, from the line's counts: at each of the four turn
 *    levels the buckets left of the row's own within their parent (at the
 *    top, all to the left), one index range of at most 15 live buckets.
 *  - Its own turn, where users queued before it: counted in <table>_fresh
 *    (one index range) while they are at most LINE_SCAN (the usual case:
 *    a turn holds one row per user waiting); past that, from the ticket
 *    levels of the counts (four more ranges) and the row's own block of
 *    16 tickets (at most 15 entries of <table>_fresh).
 *  - Retries, fallbacks and rescues due now go first (CLAIM_SQL's again:
 *    bounded by the calls in flight, counted up to 1000).
 * A fixed number of index ranges, each of a bounded number of entries,
 * whatever the line's length. */
#define LINE_SCAN "256"
#define LINE_COUNTS(g, levels) \
    "(SELECT COALESCE(sum(c.n), 0) FROM genflow_line_counts c" \
    "  WHERE c.gen_type = '{Y}' AND c.provider = " g ".cur_provider AND (" levels "))"
#define LINE_TURNS(g, lvl, shift, own) \
    "(c.lvl = " lvl " AND c.turn >= (" g ".turn >> " shift ") << 4 AND c.turn < " g ".turn" own ")"
#define LINE_TICKETS(g, lvl, shift, own) \
    "(c.lvl = " lvl " AND c.turn = " g ".turn AND c.sub >= (" g ".ticket >> " shift ") << 4" \
    " AND c.sub < " g ".ticket" own ")"
#define LINE_OWN_TURN(g, from, lim) \
    "(SELECT count(*) FROM (SELECT 1 FROM {T} h WHERE h.status = 'pending'" \
    "   AND h.queued_at IS NOT NULL AND h.cur_provider = " g ".cur_provider" \
    "   AND h.turn = " g ".turn AND h.ticket >= " from " AND h.ticket < " g ".ticket" lim ") x)"
#define LINE_PLACE(g) \
    "(" LINE_COUNTS(g, LINE_TURNS(g, "0", "4", "") " OR " LINE_TURNS(g, "1", "8", " >> 4") \
                    " OR " LINE_TURNS(g, "2", "12", " >> 8") \
                    " OR (c.lvl = 3 AND c.turn < " g ".turn >> 12)") \
    " + (SELECT CASE WHEN t.n <= " LINE_SCAN " THEN t.n ELSE " \
    LINE_COUNTS(g, LINE_TICKETS(g, "-1", "8", " >> 4") " OR " LINE_TICKETS(g, "-2", "12", " >> 8") \
                " OR " LINE_TICKETS(g, "-3", "16", " >> 12") \
                " OR (c.lvl = -4 AND c.turn = " g ".turn AND c.sub < " g ".ticket >> 16)") \
    "   + " LINE_OWN_TURN(g, "(" g ".ticket >> 4) << 4", "") " END" \
    "  FROM (SELECT " LINE_OWN_TURN(g, "0", " LIMIT " LINE_SCAN " + 1") " AS n) t)" \
    " + (SELECT count(*) FROM (SELECT 1 FROM {T} d WHERE d.status = 'processing'" \
    "     AND d.provider_job_id IS NULL AND d.cur_provider = " g ".cur_provider" \
    "     AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until < now())" \
    "     AND d.queued_at IS NOT NULL LIMIT 1000) x))"

/* args: id, user. The status object, and for the status handler the
 * state and the age in milliseconds, for Retry-After; then 1 when the
 * generation was queued (a pending one that was never queued is only
 * created); its place in line (NULL when it is not in one) and its
 * provider, from which the glue estimates when it starts. */
/* A processing row's provider job start (ms since the epoch) when its
 * provider reported no progress: the glue's estimate starts there. */
#define JOB_STARTED(g) \
    "CASE WHEN " g ".status = 'processing' AND (" g ".progress IS NULL OR " g ".provider_job_id IS NULL)" \
    " THEN (extract(epoch FROM " g ".job_started_at) * 1000)::bigint::text END"

static const char GET_SQL[] =
    "SELECT " STATUS_JSON_AT("g", "pos.n") "::text, g.status,"
    "  (extract(epoch FROM now() - g.created_at) * 1000)::bigint,"
    "  (g.queued_at IS NOT NULL)::int::text, pos.n::text, g.cur_provider, " JOB_STARTED("g")
    " FROM {T} g"
    " CROSS JOIN LATERAL (SELECT CASE WHEN g.status = 'pending' AND g.queued_at IS NOT NULL"
    "   AND g.turn IS NOT NULL AND g.ticket IS NOT NULL THEN " LINE_PLACE("g") " END AS n OFFSET 0) pos"
    " WHERE g.id = %s::uuid AND g.user_id = %s";

/* args: the generations and their owners, as a JSON array of {"id","u"}
 * (json-c writes it: any user name goes in escaped). GET's columns for
 * each that exists and is that user's, with its id and user after them:
 * one statement for the watchers of a line in a child, whatever their
 * number (docs/architecture.md, "Status"), each row by its primary key. */
static const char GET_LINE_SQL[] =
    "SELECT " STATUS_JSON_AT("g", "pos.n") "::text, g.status,"
    "  (extract(epoch FROM now() - g.created_at) * 1000)::bigint,"
    "  (g.queued_at IS NOT NULL)::int::text, pos.n::text, g.cur_provider, g.id::text, g.user_id,"
    "  " JOB_STARTED("g")
    " FROM jsonb_to_recordset(%s::jsonb) AS w(id uuid, u text)"
    /* Each row by its key, even while the table is new and small (a join
     * would scan it then, and mod_dbd's connections keep that plan). */
    " CROSS JOIN LATERAL (SELECT * FROM {T} t WHERE t.id = w.id AND t.user_id = w.u OFFSET 0) g"
    " CROSS JOIN LATERAL (SELECT CASE WHEN g.status = 'pending' AND g.queued_at IS NOT NULL"
    "   AND g.turn IS NOT NULL AND g.ticket IS NOT NULL THEN " LINE_PLACE("g") " END AS n OFFSET 0) pos";

/* The pictures earlier calls of an open row stored (MORE_SQL), as a
 * JSON array (empty when none). */
#define KEPT(a) "COALESCE(CASE WHEN jsonb_typeof(" a ".images) = 'array' THEN " a ".images END," \
    " '[]'::jsonb)"

/* args: id, this call's pictures (a JSON array of {url, width, height,
 * seed}), provider, model, lease owner, attempt. A count asked one call
 * after another (a provider that takes no number, or a count beyond its
 * number): the call's pictures are added to the row's images, where
 * COMPLETE_SQL finds them, and the row goes back to the queue due now for
 * the next call, as a retry does, with a fresh retry count and no job:
 * a retry or a rescue then asks only for the pictures still missing.
 * Nothing is charged until the generation completes. Only the lease
 * holder of this very attempt. */
static const char MORE_SQL[] =
    "WITH args AS (SELECT %s::jsonb AS images, %s::text AS provider, %s::text AS model,"
    " %s::uuid AS id, %s::text AS owner, %d::int AS attempt)"
    " UPDATE {T} g SET images = " KEPT("g") " || a.images, provider = a.provider,"
    "  model = a.model, retry_count = 0, poll_count = 0, poll_errors = 0,"
    "  provider_job_id = NULL, provider_state = NULL, progress = NULL, progress_at = NULL,"
    "  woken_at = NULL, next_attempt_at = now(), lease_owner = NULL, lease_until = NULL"
    " FROM args a WHERE g.id = a.id AND g.lease_owner = a.owner AND g.attempts = a.attempt"
    "  AND g.status = 'processing' AND jsonb_array_length(a.images) >= 1"
    " RETURNING g.id::text";

/* args: id, the first picture's URL, this call's pictures (a JSON array
 * of {url, width, height, seed}; with those earlier calls stored, at
 * least one, at most the count), provider, model, lease owner, attempt.
 * The row is charged its cost per picture delivered (the reservation was the cost of the count asked
 * for), and the charge row, inserted in the same statement as the state
 * change, gives back what the pictures not delivered reserved (0 when
 * all came); the unique index on finalizations makes a second one
 * impossible. The lease guard keeps a worker whose lease was taken over
 * from finishing the row. The account is changed by genflow_settle
 * (sql/026), as CREATE's reservation is by genflow_reserve, for the same
 * reason: with what was given back, or NULL when nothing was. */
/* The completion of the rows of gen's args (a CTE of id, image_url,
 * images, provider, model, lease_owner, attempts): COMPLETE_SQL's one
 * row, COMPLETE_BATCH_SQL's several. */
#define COMPLETE_GEN(which) \
    " gen AS (UPDATE {T} g SET status = 'completed'," \
    "   image_url = COALESCE(" KEPT("g") "->0->>'url', args.image_url)," \
    "   images = " KEPT("g") " || args.images, provider = COALESCE(args.provider, g.provider)," \
    "   model = CASE WHEN args.provider IS NULL THEN g.model ELSE args.model END," \
    "   credits_charged = g.estimated_cost / " COUNT_OF("g") \
    "    * least(jsonb_array_length(" KEPT("g") " || args.images), " COUNT_OF("g") ")," \
    "   error_code = NULL, error_message = NULL, finished_at = now()," \
    "   lease_owner = NULL, lease_until = NULL" \
    "  FROM args WHERE " which " AND g.status IN ('pending', 'processing')" \
    "   AND g.lease_owner = args.lease_owner AND g.attempts = args.attempts" \
    "   AND jsonb_array_length(" KEPT("g") " || args.images) >= 1" \
    "  RETURNING g.*)," \
    " led AS (INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason)" \
    "  SELECT user_id, 'charge', estimated_cost - credits_charged, '{Y}', id, 'completed' FROM gen),"
#define COMPLETE_SETTLE \
    "genflow_settle(gen.user_id, NULLIF(gen.estimated_cost - gen.credits_charged, 0)," \
    " gen.created_at, " WAS_ACTIVE("gen") ")"

static const char COMPLETE_SQL[] =
    "WITH args AS (SELECT %s::uuid AS id, %s::text AS image_url, %s::jsonb AS images,"
    " %s::text AS provider, %s::text AS model, %s::text AS lease_owner, %d::int AS attempts),"
    COMPLETE_GEN("g.id = args.id")
    " acct AS MATERIALIZED (SELECT " COMPLETE_SETTLE " FROM gen)"
    " SELECT " STATUS_JSON("gen") "::text FROM gen, acct";

/* args: the completions of several attempts, as a JSON array of objects
 * {id, image_url, images (COMPLETE's JSON array, as text), provider,
 * model, lease_owner, attempts} (json-c writes it: gf_settle_batch).
 * COMPLETE_SQL for each, in one statement and one commit: each row keeps
 * its own guard (a row whose lease was taken over, or that was
 * cancelled, is left out; the others complete), its own charge row and
 * its own account change. The accounts are changed in user order, after
 * every row is locked, so that two batches never wait on each other in
 * a circle. Each row by its key, even on a new table. Returns the id and
 * the status object of each row completed. */
static const char COMPLETE_BATCH_SQL[] =
    "WITH args AS MATERIALIZED (SELECT a.id, a.image_url, a.images::jsonb AS images, a.provider,"
    "  a.model, a.lease_owner, a.attempts FROM jsonb_to_recordset(%s::jsonb) AS a(id uuid,"
    "  image_url text, images text, provider text, model text, lease_owner text, attempts int)),"
    COMPLETE_GEN("g.id = ANY(ARRAY(SELECT k.id FROM args k)) AND g.id = args.id")
    " acct AS MATERIALIZED (SELECT gen.id, " COMPLETE_SETTLE " AS done FROM gen"
    "  ORDER BY gen.user_id, gen.id)"
    " SELECT gen.id::text, " STATUS_JSON("gen") "::text FROM gen JOIN acct ON acct.id = gen.id";

/* args: id, terminal status (failed|cancelled), error code, error message,
 * provider, model, lease owner, attempt (both NULL for a cancel, which
 * needs no lease), owner (NULL for a worker). Refunds the reservation and gives back the
 * day's (and week's) allowance when the generation was created on the
 * current UTC day (week), through genflow_settle (sql/026). A user's
 * cancel also says so on genflow_cancel (at its commit): the child whose
 * attempt is calling the provider for it cuts the call. */
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
    " acct AS MATERIALIZED (SELECT genflow_settle(led.user_id, led.amount, gen.created_at, "
    WAS_ACTIVE("gen") ") FROM led JOIN gen ON gen.id = led.generation_id),"
    " told AS MATERIALIZED (SELECT pg_notify('genflow_cancel', gen.id::text) FROM gen, args"
    "  WHERE args.lease_owner IS NULL AND args.status = 'cancelled')"
    " SELECT " STATUS_JSON("gen") "::text, gen.provider_state FROM gen, acct,"
    " (SELECT count(*) FROM told) t";

/* args: id, user. What a retry needs. */
static const char INPUT_SQL[] =
    "SELECT g.status, g.input::text FROM {T} g WHERE g.id = %s::uuid AND g.user_id = %s";

/* A sweep's finalization: the rows gen picked (up to 100, skipping
 * locked ones) failed or cancelled with their code (the ledger's reason),
 * each refunded, the refunds summed per user into the account in one
 * statement (and the day's allowance of those created today); ACTIVE gives
 * back the active count of the rows that were queued (SWEEP_QUEUED), or
 * nothing for a sweep of rows never queued. Returns how many. */
#define SWEEP_QUEUED "   active = greatest(a.active - pu.queued, 0),"
#define SWEEP_REFUND(ACTIVE) \
    " led AS (INSERT INTO genflow_ledger (user_id, kind, amount, gen_type, generation_id, reason)" \
    "  SELECT user_id, 'refund', estimated_cost, '{Y}', id, error_code FROM gen" \
    "  RETURNING user_id, amount, generation_id)," \
    " per_user AS (SELECT led.user_id, sum(led.amount) AS amount," \
    "   count(*) FILTER (WHERE gen.queued_at IS NOT NULL) AS queued," \
    "   sum(CASE WHEN (gen.created_at AT TIME ZONE 'UTC')::date = " UTC_TODAY \
    "            THEN led.amount ELSE 0 END) AS today," \
    "   sum(CASE WHEN " UTC_WEEK_OF("gen.created_at") " = " UTC_WEEK \
    "            THEN led.amount ELSE 0 END) AS week" \
    "  FROM led JOIN gen ON gen.id = led.generation_id GROUP BY led.user_id)," \
    " acct AS (UPDATE genflow_accounts a SET balance = a.balance + pu.amount," \
    ACTIVE \
    "   daily_used = CASE WHEN a.daily_date = " UTC_TODAY \
    "                     THEN greatest(a.daily_used - pu.today, 0) ELSE a.daily_used END," \
    "   weekly_used = CASE WHEN a.weekly_start = " UTC_WEEK \
    "                      THEN greatest(a.weekly_used - pu.week, 0) ELSE a.weekly_used END," \
    "   updated_at = now()" \
    "  FROM per_user pu WHERE a.user_id = pu.user_id)" \
    " SELECT count(*)::text FROM gen"

/* args: TTL seconds (GenFlowCreatedTTL). Pending generations that were
 * created but never queued within the TTL (<table>_created, oldest first)
 * become failed/EXPIRED. They were never active, so the active count
 * stays. */
static const char EXPIRE_SQL[] =
    "WITH args AS (SELECT %d::int AS ttl),"
    " gen AS (UPDATE {T} g SET status = 'failed', error_code = 'EXPIRED',"
    "   error_message = 'the generation was never started', credits_charged = 0,"
    "   finished_at = now()"
    "  WHERE g.id = ANY(ARRAY(SELECT d.id FROM {T} d WHERE d.status = 'pending'"
    "     AND d.queued_at IS NULL AND d.created_at < now() - make_interval(secs => " ARG("ttl") ")"
    "     ORDER BY d.created_at LIMIT 100 FOR UPDATE SKIP LOCKED))"
    "   AND g.status = 'pending' AND g.queued_at IS NULL"
    "  RETURNING g.*),"
    SWEEP_REFUND("");

/* args: TTL seconds (GenFlowPendingTTL), server names (SERVED_BY).
 * Queued generations of these servers that waited in the line longer
 * than that without being claimed (behind a provider's limits that could
 * not take them in time) become failed/QUEUE_TIMEOUT, oldest first
 * (<table>_due). A generation of a server no node has is left to
 * genflow_expire_orphans (EXPIRED). */
static const char EXPIRE_QUEUED_SQL[] =
    "WITH args AS (SELECT %d::int AS ttl, %s::text AS names),"
    " gen AS (UPDATE {T} g SET status = 'failed', error_code = 'QUEUE_TIMEOUT',"
    "   error_message = 'not started within ' || " ARG("ttl") " || ' s: provider '"
    "     || g.cur_provider || ' had no free place for it in that time (GenFlowPendingTTL)',"
    "   credits_charged = 0, finished_at = now()"
    "  WHERE g.id = ANY(ARRAY(SELECT d.id FROM {T} d WHERE d.queued_at IS NOT NULL"
    "     AND d.status = 'pending'"
    "     AND d.next_attempt_at < now() - make_interval(secs => " ARG("ttl") ")"
    SERVED_BY("d", ARG("names"))
    "     ORDER BY d.next_attempt_at LIMIT 100 FOR UPDATE SKIP LOCKED))"
    "   AND g.status = 'pending' AND g.queued_at IS NOT NULL"
    "  RETURNING g.*),"
    SWEEP_REFUND(SWEEP_QUEUED);

/* args: grace seconds. Started generations without a provider job and
 * without a live lease, past their deadline by more than the grace (no
 * attempt took them to fail them: their provider had no place), become
 * failed/TIMEOUT, or cancelled/CANCEL_AFTER when the deadline was the
 * request's own (<table>_deadline). Those with a job are left to their
 * polls, which also cancel the job. */
#define OWN_DEADLINE "g.cancel_at IS NOT NULL AND g.cancel_at <= g.deadline_at"
static const char EXPIRE_OVERDUE_SQL[] =
    "WITH args AS (SELECT %d::int AS grace),"
    " gen AS (UPDATE {T} g SET"
    "   status = CASE WHEN " OWN_DEADLINE " THEN 'cancelled' ELSE 'failed' END,"
    "   error_code = CASE WHEN " OWN_DEADLINE " THEN 'CANCEL_AFTER' ELSE 'TIMEOUT' END,"
    "   error_message = CASE WHEN " OWN_DEADLINE
    "    THEN 'its Cancel-After passed while it waited to be tried again'"
    "    ELSE 'not finished by its deadline' END, credits_charged = 0,"
    "   finished_at = now(), lease_owner = NULL, lease_until = NULL"
    "  WHERE g.id = ANY(ARRAY(SELECT d.id FROM {T} d WHERE d.status = 'processing'"
    "     AND d.deadline_at < now() - make_interval(secs => " ARG("grace") ")"
    "     AND d.provider_job_id IS NULL AND (d.lease_until IS NULL OR d.lease_until < now())"
    "     ORDER BY d.deadline_at LIMIT 100 FOR UPDATE SKIP LOCKED))"
    "   AND g.status = 'processing' AND (g.lease_until IS NULL OR g.lease_until < now())"
    "  RETURNING g.*),"
    SWEEP_REFUND(SWEEP_QUEUED);

/* args: how many at most. Generations still waiting for their first
 * attempt when their own Cancel-After passed (created, or queued behind
 * their provider's limits) are cancelled with ABORTED, oldest deadline
 * first (<table>_cancel_at): no provider was called, the reservation is
 * refunded, and queued ones give back their active count. */
static const char ABORT_SQL[] =
    "WITH args AS (SELECT %d::int AS batch),"
    " gen AS (UPDATE {T} g SET status = 'cancelled', error_code = 'ABORTED',"
    "   error_message = 'not started before its Cancel-After: no provider was called,"
    " nothing is charged',"
    "   credits_charged = 0, finished_at = now()"
    "  WHERE g.id = ANY(ARRAY(SELECT d.id FROM {T} d WHERE d.cancel_at IS NOT NULL"
    "     AND d.status = 'pending' AND d.cancel_at <= now()"
    "     ORDER BY d.cancel_at LIMIT " ARG("batch") " FOR UPDATE SKIP LOCKED))"
    "   AND g.status = 'pending'"
    "  RETURNING g.*),"
    SWEEP_REFUND(SWEEP_QUEUED);

/* args: retention seconds. Failed and cancelled rows older than that go;
 * completed rows are the user's gallery and stay; the ledger stays. */
/* (The <table>_prunable partial index of sql/010 serves the inner search;
 * the rows go by tuple id, a TID scan whatever the statistics: by
 * id = ANY(...), a plan cached while the table was new scans it all.) */
static const char PRUNE_SQL[] =
    "WITH d AS (DELETE FROM {T} g USING (SELECT x.ctid AS tid FROM {T} x"
    "   WHERE x.status IN ('failed', 'cancelled')"
    "     AND x.finished_at < now() - make_interval(secs => %d) LIMIT 500) p"
    "  WHERE g.ctid = p.tid RETURNING 1)"
    " SELECT count(*)::text FROM d";

/* args: provider job id. A provider's webhook says the job finished: poll
 * it now (the poll does the completion, with all its guards), or right
 * after the attempt that holds it. Duplicate deliveries match nothing new.
 * genflow_change tells the child that keeps the poll (its lease holds the
 * row) to make it now. */
static const char WAKE_SQL[] =
    "WITH w AS (UPDATE {T} g SET next_attempt_at = now(), woken_at = now()"
    "  WHERE g.provider_job_id = %s AND g.status IN ('pending', 'processing')"
    "   AND g.queued_at IS NOT NULL"
    "  RETURNING g.id)"
    " SELECT w.id::text, pg_notify('genflow_change', w.id::text)::text FROM w";

/* args: user, limit. The first page of the user's history, newest first
 * (<table>_user_history). */
static const char HISTORY_SQL[] =
    "SELECT " STATUS_JSON("g") "::text, g.id::text FROM {T} g"
    " WHERE g.user_id = %s ORDER BY g.created_at DESC, g.id DESC LIMIT %d";

/* args: user, cursor id, limit. The page after the cursor: the index
 * range starts at the cursor's (created_at, id), so a page costs its own
 * rows whatever its depth. A cursor that is not one of the user's
 * generations gives an empty page. */
static const char HISTORY_AFTER_SQL[] =
    "WITH args AS (SELECT %s::text AS user_id, %s::uuid AS cursor, %d::int AS lim)"
    " SELECT " STATUS_JSON("g") "::text, g.id::text FROM {T} g"
    " WHERE g.user_id = " ARG("user_id")
    "  AND (g.created_at, g.id) < ("
    "   (SELECT c.created_at FROM {T} c WHERE c.id = " ARG("cursor")
    "     AND c.user_id = " ARG("user_id") "),"
    "   (SELECT c.id FROM {T} c WHERE c.id = " ARG("cursor") " AND c.user_id = " ARG("user_id") "))"
    " ORDER BY g.created_at DESC, g.id DESC LIMIT " ARG("lim");

/* The admin list's object: the status object with the user and what its
 * provider calls cost (providerCost: null when none was recorded). */
#define ADMIN_JSON(a) \
    "(" STATUS_JSON(a) "::jsonb" \
    " || jsonb_build_object('user', " a ".user_id, 'providerCost'," \
    "     (SELECT sum(c.cost)::float8 FROM genflow_provider_costs c" \
    "      WHERE c.generation_id = " a ".id)))::text, genflow_rfc3339(" a ".created_at)"
#define ADMIN_BRANCH(status) \
    "(SELECT g.* FROM {T} g WHERE g.status = '" status "'" \
    "  ORDER BY g.created_at DESC, g.id DESC LIMIT " ARG("lim") ")"

/* args: limit. Every generation, newest first: the newest of each status
 * (<table>_status), merged. */
static const char ADMIN_LIST_SQL[] =
    "WITH args AS (SELECT %d::int AS lim)"
    " SELECT " ADMIN_JSON("u") " FROM (" ADMIN_BRANCH("pending")
    "  UNION ALL " ADMIN_BRANCH("processing") " UNION ALL " ADMIN_BRANCH("completed")
    "  UNION ALL " ADMIN_BRANCH("failed") " UNION ALL " ADMIN_BRANCH("cancelled") ") u"
    " ORDER BY u.created_at DESC, u.id DESC LIMIT " ARG("lim");

/* args: status, limit. */
static const char ADMIN_LIST_STATUS_SQL[] =
    "SELECT " ADMIN_JSON("g") " FROM {T} g WHERE g.status = %s"
    " ORDER BY g.created_at DESC, g.id DESC LIMIT %d";

/* args: user, status (or NULL), limit (<table>_user_history). */
static const char ADMIN_LIST_USER_SQL[] =
    "WITH args AS (SELECT %s::text AS user_id, %s::text AS status, %d::int AS lim)"
    " SELECT " ADMIN_JSON("g") " FROM {T} g WHERE g.user_id = " ARG("user_id")
    "  AND (" ARG("status") " IS NULL OR g.status = " ARG("status") ")"
    " ORDER BY g.created_at DESC, g.id DESC LIMIT " ARG("lim");

/* args: status (a terminal one, or NULL for all three), seconds. Only
 * terminal rows go; the ledger is never deleted. */
static const char ADMIN_DELETE_SQL[] =
    "WITH d AS (DELETE FROM {T} g WHERE g.status IN ('completed', 'failed', 'cancelled')"
    "   AND (%s::text IS NULL OR g.status = %s::text)"
    "   AND g.finished_at < now() - make_interval(secs => %d) RETURNING 1)"
    " SELECT count(*)::text FROM d";

/* args: a dummy. Generations per status (GF_METRICS_*), read by the type
 * table's own <table>_gauges() (sql/032): the open ones counted in the
 * partial indexes of the queue, the finished ones from the totals the
 * sweep folds and the deltas the triggers add since (sql/024, sql/025),
 * all through indexes whatever the tables' statistics say, never a scan
 * of the history; and, on the pending row, how many are due now (the
 * line, all due, plus retries and polls whose time came), how long the
 * longest due one has waited (seconds) and how many started ones are
 * within 15 s of their deadline. */
static const char METRICS_SQL[] =
    "WITH args AS (SELECT %s::text AS x)"
    " SELECT g.status, g.n::text, g.due::text, g.oldest::text, g.near::text FROM {T}_gauges() g";

/* args: the providers the type's chains name, newline-separated. The
 * providers of the queue's rows that are not among them (a chain written
 * under an earlier configuration): each line of <table>_fresh, _again and
 * _polls read by a skip from one provider to the next, a probe each. */
#define LINE_PROVIDERS(name, where) \
    " " name "(p) AS (SELECT (SELECT min(d.cur_provider) FROM {T} d WHERE " where ")" \
    "  UNION ALL SELECT (SELECT min(d.cur_provider) FROM {T} d WHERE " where \
    "   AND d.cur_provider > " name ".p) FROM " name " WHERE " name ".p IS NOT NULL)"
static const char LINE_PROVIDERS_SQL[] =
    "WITH RECURSIVE args AS (SELECT %s::text AS known),"
    LINE_PROVIDERS("fresh", "d.status = 'pending' AND d.queued_at IS NOT NULL") ","
    LINE_PROVIDERS("again", "d.status = 'processing' AND d.provider_job_id IS NULL") ","
    LINE_PROVIDERS("polls", "d.status = 'processing' AND d.provider_job_id IS NOT NULL")
    " SELECT DISTINCT u.p FROM (SELECT p FROM fresh UNION ALL SELECT p FROM again"
    "  UNION ALL SELECT p FROM polls) u"
    " WHERE u.p IS NOT NULL AND u.p <> ALL(string_to_array(" ARG("known") ", E'\\n'))";

void gf_sql_type_statements(apr_pool_t *p, const char *type, const char *table,
                            apr_array_header_t *stmts)
{
    static const char *const SQL[GF_SQL_TYPE_OPS] = {
        CREATE_SQL, QUEUE_SQL, GET_SQL, CLAIM_SQL, SCHEDULE_SQL, COMPLETE_SQL, FAIL_SQL,
        INPUT_SQL, EXPIRE_SQL, PRUNE_SQL, WAKE_SQL, HISTORY_SQL, ADMIN_LIST_SQL,
        ADMIN_DELETE_SQL, METRICS_SQL, RENEW_SQL, RELEASE_SQL, ACCEPTED_SQL,
        CLAIM_POLLS_SQL, RELEASE_REST_SQL, CREATE_QUEUED_SQL, HISTORY_AFTER_SQL,
        ADMIN_LIST_STATUS_SQL, ADMIN_LIST_USER_SQL, EXPIRE_QUEUED_SQL, EXPIRE_OVERDUE_SQL,
        LINE_PROVIDERS_SQL, KEEP_SQL, ABORT_SQL, GET_LINE_SQL, PROGRESS_SQL, MORE_SQL,
        COMPLETE_BATCH_SQL, CREATE_BATCH_SQL
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

int gf_sql_valid_provider(const char *s)
{
    size_t n = strlen(s), i;
    if (n == 0 || n > 64) return 0;
    for (i = 0; i < n; i++) {
        if (!apr_isalnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') return 0;
    }
    return 1;
}

/* The providers of a type as an SQL array literal of validated names
 * (letters, digits, - _ .: nothing to quote); NULL when one is not. */
static const char *provider_array(apr_pool_t *p, const char *list)
{
    char *copy = apr_pstrdup(p, list ? list : ""), *last, *name;
    const char *out = "ARRAY[";
    int n = 0;
    for (name = apr_strtok(copy, "\n", &last); name; name = apr_strtok(NULL, "\n", &last)) {
        if (!gf_sql_valid_provider(name)) return NULL;
        out = apr_pstrcat(p, out, n++ ? ", '" : "'", name, "'", NULL);
    }
    return apr_pstrcat(p, out, "]::text[]", NULL);
}

/* Is a claim of type {T} and provider p.name due: the line's first row
 * (any of the line is due), a retry or rescue whose time came, or a poll
 * whose time came. Each is one probe of an index led by the provider, in
 * the index's order: a scalar subquery keeps its ORDER BY and LIMIT (an
 * EXISTS loses them, and may then be planned as a scan that stops at the
 * first match, which a long history puts far away). */
#define DUE_NEW \
    "(SELECT d.id FROM {T} d WHERE d.status = 'pending' AND d.queued_at IS NOT NULL" \
    "  AND d.cur_provider = p.name" SERVED_BY("d", "mine.names") \
    "  ORDER BY d.turn LIMIT 1) IS NOT NULL" \
    " OR (SELECT d.id FROM {T} d WHERE d.status = 'processing' AND d.provider_job_id IS NULL" \
    "  AND d.cur_provider = p.name AND d.next_attempt_at <= now()" \
    "  AND (d.lease_until IS NULL OR d.lease_until < now()) AND d.queued_at IS NOT NULL" \
    SERVED_BY("d", "mine.names") " ORDER BY d.next_attempt_at LIMIT 1) IS NOT NULL"
#define DUE_POLL \
    "(SELECT d.id FROM {T} d WHERE d.status = 'processing' AND d.provider_job_id IS NOT NULL" \
    "  AND d.cur_provider = p.name AND d.next_attempt_at <= now()" \
    "  AND (d.lease_until IS NULL OR d.lease_until < now()) AND d.queued_at IS NOT NULL" \
    SERVED_BY("d", "mine.names") " ORDER BY d.next_attempt_at LIMIT 1) IS NOT NULL"

int gf_sql_due_types_statement(apr_pool_t *p, const char *label, const char *const *types,
                               const char *const *tables, const char *const *providers, int n,
                               apr_array_header_t *stmts)
{
    /* Two branches per type (new work, polls), each over the type's
     * providers, all on the one parameter: the server names the claims
     * take (SERVED_BY). An idle type costs a probe of each provider's
     * indexes that finds nothing. */
    const char *sql = "WITH mine AS (SELECT %s::text AS names) ";
    int i;
    for (i = 0; i < n; i++) {
        const char *arr = provider_array(p, providers[i]);
        if (!arr) return 0;
        sql = apr_pstrcat(p, sql, i ? " UNION ALL " : "",
                          fill(p, "SELECT '{Y}'::text, p.name, 'new'::text FROM mine, unnest(", types[i],
                               tables[i]), arr,
                          fill(p, ") p(name) WHERE " DUE_NEW
                                  " UNION ALL SELECT '{Y}'::text, p.name, 'poll'::text FROM mine, unnest(",
                               types[i], tables[i]), arr,
                          fill(p, ") p(name) WHERE " DUE_POLL, types[i], tables[i]), NULL);
    }
    if (n == 0) sql = "SELECT %s::text, NULL::text, NULL::text WHERE false";
    gf_sql_add(stmts, label, sql, 1);
    return 1;
}
