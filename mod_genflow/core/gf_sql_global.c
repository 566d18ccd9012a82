/* SPDX-License-Identifier: Apache-2.0 */
/* gf_sql_global.c: the module's site-wide SQL (see gf_sql.h): accounts,
 * quota, presets, Idempotency-Key records, admin grants, uploads, the
 * health ping and the orphan sweep. Placeholders and the "args" CTE as in
 * gf_sql.c. */
#include <apr_strings.h>

#include "core/gf_sql_private.h"

/* args: user, starting balance. Creates the account on first use with its
 * starting grant; concurrent first requests create it once. */
static const char ACCOUNT_ENSURE_SQL[] =
    "WITH args AS (SELECT %s::text AS user_id, %d::bigint AS start),"
    " ins AS (INSERT INTO genflow_accounts (user_id, balance)"
    "  SELECT user_id, start FROM args ON CONFLICT (user_id) DO NOTHING"
    "  RETURNING user_id, balance)"
    " INSERT INTO genflow_ledger (user_id, kind, amount, reason)"
    " SELECT user_id, 'grant', balance, 'starting balance' FROM ins WHERE balance > 0";

/* args: configured daily limit, user. Balance, daily limit, today's use,
 * and the active count: generations queued or processing (sql/016). */
static const char ACCOUNT_STATE_SQL[] =
    "SELECT a.balance, COALESCE(a.daily_limit, %d),"
    " CASE WHEN a.daily_date = " UTC_TODAY " THEN a.daily_used ELSE 0 END, a.active"
    " FROM genflow_accounts a WHERE a.user_id = %s";

/* args: configured daily limit, user. weekly_used: credits of this ISO
 * week's reservations that were not refunded, kept in the account as the
 * day's are (sql/023): one row read, however long the user's history. */
static const char QUOTA_SQL[] =
    "SELECT a.balance, COALESCE(a.daily_limit, %d),"
    " CASE WHEN a.daily_date = " UTC_TODAY " THEN a.daily_used ELSE 0 END,"
    " CASE WHEN a.weekly_start = " UTC_WEEK " THEN a.weekly_used ELSE 0 END"
    " FROM genflow_accounts a WHERE a.user_id = %s";

/* args: type. Enabled presets in rotation order (gf_presets.c). */
static const char PRESETS_SQL[] =
    "SELECT key, name, prompt, COALESCE(description, '') FROM genflow_presets"
    " WHERE type_name = %s AND enabled ORDER BY position, key";

/* Idempotency records. begin args: user, key, fingerprint, owner token →
 * a row when this request owns the key (a re-run after a lost connection
 * finds the record with its own token instead). Records are pruned after
 * 24 h (sweep). */
static const char IDEM_BEGIN_SQL[] =
    "INSERT INTO genflow_idempotency (user_id, key, fingerprint, owner) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (user_id, key) DO NOTHING RETURNING 1";
/* args: seconds after which a running record's owner counts as gone, user,
 * key. */
static const char IDEM_GET_SQL[] =
    "SELECT fingerprint, state, response_status, response_body, location, owner,"
    " generation_id::text,"
    " (owner IS NULL OR claimed_at < now() - make_interval(secs => %d))::int::text"
    " FROM genflow_idempotency WHERE user_id = %s AND key = %s";
/* args: new owner token, user, key, seconds. A running record whose owner
 * released it or died (claimed longer ago than the bound) passes to this
 * request; it comes back with the generation its first owner created, or
 * '' when that owner died before creating one. */
static const char IDEM_TAKEOVER_SQL[] =
    "UPDATE genflow_idempotency SET owner = %s, claimed_at = now()"
    " WHERE user_id = %s AND key = %s AND state = 'running'"
    "  AND (owner IS NULL OR claimed_at < now() - make_interval(secs => %d))"
    " RETURNING COALESCE(generation_id::text, '')";
/* args: status, body, location, user, key, owner. */
static const char IDEM_SAVE_SQL[] =
    "UPDATE genflow_idempotency SET state = 'done', response_status = %d, response_body = %s,"
    " location = %s WHERE user_id = %s AND key = %s AND owner = %s RETURNING 1";
/* args: user, key, owner. The request did nothing worth replaying (bad
 * input, the per-user limit) and created nothing: the key may be used
 * again. */
static const char IDEM_DROP_SQL[] =
    "DELETE FROM genflow_idempotency WHERE user_id = %s AND key = %s AND state = 'running'"
    " AND owner = %s AND generation_id IS NULL RETURNING 1";
/* args: user, key, owner. The request failed after its generation was
 * created (database trouble): the next request with the key takes the
 * record over at once and answers for that generation. */
static const char IDEM_RELEASE_SQL[] =
    "UPDATE genflow_idempotency SET owner = NULL WHERE user_id = %s AND key = %s"
    " AND state = 'running' AND owner = %s RETURNING 1";
/* args: seconds. */
static const char IDEM_PRUNE_SQL[] =
    "WITH d AS (DELETE FROM genflow_idempotency WHERE created_at < now() - make_interval(secs => %d)"
    "  RETURNING 1) SELECT count(*)::text FROM d";

/* args: user, amount, reason, operation id (chosen by the caller). A
 * grant is a ledger row and the balance in one statement; the account
 * must exist. Run again with the same operation id (after a lost
 * connection) it grants nothing and returns no row. */
static const char ADMIN_GRANT_SQL[] =
    "WITH args AS (SELECT %s::text AS user_id, %d::bigint AS amount, %s::text AS reason,"
    " %s::uuid AS op_id),"
    " g AS (INSERT INTO genflow_ledger (user_id, kind, amount, reason, op_id)"
    "  SELECT user_id, 'grant', amount, reason, op_id FROM args"
    "  ON CONFLICT (op_id) WHERE op_id IS NOT NULL DO NOTHING RETURNING user_id, amount)"
    " UPDATE genflow_accounts a SET balance = a.balance + g.amount, updated_at = now()"
    "  FROM g WHERE a.user_id = g.user_id RETURNING a.balance::text";

/* args: id (chosen by the caller), user, storage backend, storage key,
 * URL, content type, width, height, bytes. Written once the storage took
 * the bytes. Run again after a lost connection it inserts nothing and
 * returns no row; the caller then recognises its row by the id. */
static const char UPLOAD_INSERT_SQL[] =
    "INSERT INTO genflow_uploads (id, user_id, storage, storage_key, url, content_type,"
    " width, height, bytes) VALUES (%s::uuid, %s, %s, %s, %s, %s, %d, %d, %s::bigint)"
    " ON CONFLICT (id) DO NOTHING RETURNING genflow_rfc3339(created_at)";

/* args: id, user. The user's upload (another user's is no row, as an
 * unknown id): where it is stored and what it is. */
static const char UPLOAD_GET_SQL[] =
    "SELECT storage, storage_key, url, content_type, width::text, height::text, bytes::text,"
    " genflow_rfc3339(created_at) FROM genflow_uploads WHERE id = %s::uuid AND user_id = %s";

/* args: upload ids ("id,id,…", checked uuids), user. The rows of the
 * uploads an edit names that are the user's, each marked used now, so
 * GenFlowUploadRetention counts from this create for a mask and a
 * reference as the create's own statement does for a source. By the
 * primary key, one row each. */
static const char UPLOAD_EDIT_SQL[] =
    "UPDATE genflow_uploads SET last_used_at = now()"
    " WHERE id = ANY(string_to_array(%s, ',')::uuid[]) AND user_id = %s"
    " RETURNING id::text, content_type, width::text, height::text";

/* args: upload ids ("id,id,…", checked uuids), user. Where the uploads
 * a create names are kept, to read them back (the content policy's
 * pictures), the user's only; by the primary key. */
static const char UPLOAD_READ_SQL[] =
    "SELECT id::text, storage, storage_key, url, content_type, width::text, height::text,"
    " bytes::text FROM genflow_uploads"
    " WHERE id = ANY(string_to_array(%s, ',')::uuid[]) AND user_id = %s";

/* args: seconds (GenFlowUploadRetention), storage backends of this
 * server (newline-separated), how many at most. Uploads no generation
 * has used for that long, deleted from the table: the caller then removes
 * their objects from the store (a store that fails leaves an object
 * without a row, which the orphan sweep finds). Locked rows (another
 * child's sweep) are skipped. */
static const char UPLOAD_EXPIRE_SQL[] =
    "DELETE FROM genflow_uploads WHERE id = ANY(ARRAY(SELECT id FROM genflow_uploads"
    " WHERE last_used_at < now() - make_interval(secs => %d)"
    "  AND storage = ANY(string_to_array(%s, E'\\n'))"
    " ORDER BY last_used_at LIMIT %d FOR UPDATE SKIP LOCKED))"
    " RETURNING id::text, storage, storage_key";

/* args: upload ids, comma-separated. Those that have a row. */
static const char UPLOAD_KNOWN_SQL[] =
    "SELECT id::text FROM genflow_uploads WHERE id = ANY(string_to_array(%s, ',')::uuid[])";

/* args: generation id, type, attempt, provider, usage (or NULL), its
 * unit (or NULL), cost, and the provider's budget period and zone (NULL,
 * NULL without a budget). Once per (generation, attempt, provider): a
 * statement run again after a lost answer writes nothing. With a budget
 * the cost is added to the period's spend (sql/042) in the same
 * statement. */
static const char COST_RECORD_SQL[] =
    "WITH args AS (SELECT %s::uuid AS id, %s::text AS gen_type, %d::int AS attempt,"
    " %s::text AS provider, %s::numeric AS usage, %s::text AS unit, %s::numeric AS cost,"
    " %s::text AS period, %s::text AS zone),"
    " c AS (INSERT INTO genflow_provider_costs (generation_id, gen_type, attempt, provider, usage,"
    "  usage_unit, cost) SELECT id, gen_type, attempt, provider, usage, unit, cost FROM args"
    "  ON CONFLICT DO NOTHING RETURNING 1),"
    " s AS (SELECT genflow_spend_add(a.provider, a.period, a.zone, a.cost, a.id, a.attempt)"
    "  FROM args a WHERE a.period IS NOT NULL AND EXISTS (SELECT 1 FROM c))"
    " SELECT 1 FROM c, (SELECT count(*) FROM s) x";

/* args: provider, its budget's period and zone. What the period of now
 * cost so far (sql/042), how many calls were priced, when the period
 * began (ms since the epoch), and what its jobs in flight hold (sql/045):
 * one row by its key; until the period's first priced call, the calls
 * recorded since it began (one index range, sql/043). */
#define PERIOD_COSTS(what) \
    "(SELECT " what " FROM genflow_provider_costs c" \
    "  WHERE c.provider = a.provider AND c.created_at >= a.start)"
static const char BUDGET_SPENT_SQL[] =
    "WITH args AS (SELECT %s::text AS provider, genflow_period_start(%s, %s, now()) AS start)"
    " SELECT COALESCE(s.spent, " PERIOD_COSTS("COALESCE(sum(c.cost), 0)") ")::text,"
    "  COALESCE(s.calls, " PERIOD_COSTS("count(*)") ")::text,"
    "  (extract(epoch FROM a.start) * 1000)::bigint::text,"
    "  COALESCE(s.held, 0)::text"
    " FROM args a LEFT JOIN genflow_provider_spend s"
    "  ON s.provider = a.provider AND s.period_start = a.start";

/* args: provider, max_jobs= (0: none), its budget's period (NULL: none),
 * zone and amount, the amount this job holds (NULL: the period's
 * average), generation id, type, and until when (ms since the epoch: its
 * deadline and a lease). What the job holds from its submission to its
 * end (sql/045): a job slot (one conditional update of the provider's row
 * by its key) and its expected cost (one of the period's row): 'held',
 * 'jobs' (no slot) or 'budget' (no room). */
static const char PROVIDER_HOLD_SQL[] =
    "SELECT genflow_provider_hold(%s, %s::int, %s, %s, %s::numeric, %s::numeric, %s::uuid, %s,"
    " to_timestamp(%s::bigint / 1000.0))";

/* args: generation id, provider. Its hold released (sql/045), if it has
 * one: the amount, or NULL. */
static const char PROVIDER_RELEASE_SQL[] =
    "SELECT genflow_provider_release(%s::uuid, %s)::text";

/* Holds past their job's deadline (a child killed with its job, a
 * generation cancelled or expired while its job ran), by the index on
 * until, at most 500 a sweep; how many. */
static const char HOLDS_EXPIRE_SQL[] =
    "SELECT count(genflow_provider_release(h.generation_id, h.provider))::text"
    " FROM (SELECT generation_id, provider FROM genflow_provider_holds"
    "  WHERE until < now() ORDER BY until LIMIT 500) h";

/* args: a group's members' names, '|'-separated; this httpd's node.
 * Their measures (sql/044), each member's rows by their keys: provider,
 * latency (ms) or NULL, cost or NULL, the calls the other nodes have
 * open to it (their rows of the last 3 s: a node that died stops
 * counting), and its jobs running on every node (max_jobs=, sql/045) or
 * NULL. */
static const char GROUP_STATS_SQL[] =
    "SELECT m.provider, s.latency_ms::text, s.cost::text,"
    "  (SELECT COALESCE(sum(o.open), 0) FROM genflow_provider_open o"
    "    WHERE o.provider = m.provider AND o.node <> %s"
    "    AND o.updated_at > now() - interval '3 seconds')::text,"
    "  (SELECT j.running FROM genflow_provider_jobs j WHERE j.provider = m.provider)::text"
    " FROM unnest(string_to_array(%s, '|')) AS m(provider)"
    " LEFT JOIN genflow_provider_stats s ON s.provider = m.provider";

/* args: this httpd's node; members' names and their calls open from it,
 * each '|'-separated in the same order. Each member's row by its key:
 * written while it has calls open, deleted when it has none. */
static const char GROUP_OPEN_SQL[] =
    "WITH u AS (SELECT a.provider, a.open::bigint AS open"
    "   FROM unnest(string_to_array(%s, '|'), string_to_array(%s, '|')) AS a(provider, open)),"
    " gone AS (DELETE FROM genflow_provider_open o USING u"
    "   WHERE o.provider = u.provider AND o.node = %s AND u.open = 0 RETURNING 1)"
    " INSERT INTO genflow_provider_open AS o (provider, node, open)"
    " SELECT u.provider, %s, u.open FROM u WHERE u.open > 0"
    " ON CONFLICT (provider, node) DO UPDATE SET open = EXCLUDED.open, updated_at = now()";

/* The rows of nodes that stopped writing a minute ago (they died with
 * calls open), by the index on updated_at; how many. */
static const char GROUP_OPEN_PRUNE_SQL[] =
    "WITH gone AS (DELETE FROM genflow_provider_open"
    "  WHERE updated_at < now() - interval '1 minute' RETURNING 1)"
    " SELECT count(*)::text FROM gone";

/* args: provider, call time (ms), what the picture cost (0: not known).
 * One more completed generation of a group's member into its running
 * averages (GF_GROUP_ALPHA, core/gf_router.h), by its key. */
static const char GROUP_RECORD_SQL[] =
    "INSERT INTO genflow_provider_stats AS s (provider, latency_ms, cost)"
    " VALUES (%s, %s::float8, NULLIF(%s::float8, 0))"
    " ON CONFLICT (provider) DO UPDATE SET"
    "  latency_ms = s.latency_ms + 0.3 * (EXCLUDED.latency_ms - s.latency_ms),"
    "  cost = CASE WHEN EXCLUDED.cost IS NULL THEN s.cost WHEN s.cost IS NULL THEN EXCLUDED.cost"
    "   ELSE s.cost + 0.3 * (EXCLUDED.cost - s.cost) END,"
    "  calls = s.calls + 1, updated_at = now()";

/* args: lease seconds, how many. Due deliveries of the outbox (sql/021),
 * each under a lease for this worker's delivery and its attempt counted;
 * locked rows (another child's) are skipped. */
static const char WEBHOOK_CLAIM_SQL[] =
    "UPDATE genflow_webhook_outbox o SET lease_until = now() + make_interval(secs => %d),"
    " attempts = o.attempts + 1"
    " WHERE o.id = ANY(ARRAY(SELECT d.id FROM genflow_webhook_outbox d WHERE d.state = 'pending'"
    "  AND d.next_attempt_at <= now() AND (d.lease_until IS NULL OR d.lease_until < now())"
    "  ORDER BY d.next_attempt_at LIMIT %d FOR UPDATE SKIP LOCKED))"
    " RETURNING o.id::text, o.webhook_id, o.url, o.payload::text, o.attempts::text,"
    " o.payload->'data'->>'traceId'";

/* args: HTTP status, id, attempt. Delivered (this very attempt's). */
static const char WEBHOOK_DONE_SQL[] =
    "UPDATE genflow_webhook_outbox SET state = 'delivered', delivered_at = now(),"
    " last_status = %d, last_error = NULL, lease_until = NULL"
    " WHERE id = %s::bigint AND attempts = %d AND state = 'pending' RETURNING 1";

/* args: stop (1: the receiver said 410 Gone), delay ms, retry period
 * seconds, delay ms again, HTTP status (0: none), error, id, attempt. Not
 * delivered: due again after the delay, or failed for good when told to
 * stop or once the delay would pass the period since retry_from. */
static const char WEBHOOK_RETRY_SQL[] =
    "UPDATE genflow_webhook_outbox SET"
    " state = CASE WHEN %d = 1 OR now() + make_interval(secs => %d / 1000.0)"
    "              > retry_from + make_interval(secs => %d) THEN 'failed' ELSE 'pending' END,"
    " next_attempt_at = now() + make_interval(secs => %d / 1000.0), lease_until = NULL,"
    " last_status = NULLIF(%d, 0), last_error = %s"
    " WHERE id = %s::bigint AND attempts = %d AND state = 'pending' RETURNING state";

/* args: state (failed, pending or delivered), how many. The deliveries in
 * that state, newest first (admin API). */
static const char WEBHOOK_FAILED_SQL[] =
    "SELECT json_build_object('id', o.id, 'webhookId', o.webhook_id,"
    " 'generationId', o.generation_id, 'type', o.gen_type, 'user', o.user_id, 'event', o.event,"
    " 'url', o.url, 'attempts', o.attempts, 'lastStatus', o.last_status,"
    " 'lastError', o.last_error, 'createdAt', genflow_rfc3339(o.created_at))::text"
    " FROM genflow_webhook_outbox o WHERE o.state = %s"
    " ORDER BY o.created_at DESC, o.id DESC LIMIT %d";

/* args: id. A delivery goes out again (a waiting one: now), with the same
 * webhook-id, its retry period starting now. */
static const char WEBHOOK_REDELIVER_SQL[] =
    "UPDATE genflow_webhook_outbox SET state = 'pending', next_attempt_at = now(),"
    " retry_from = now(), lease_until = NULL"
    " WHERE id = %s::bigint RETURNING webhook_id";

/* args: seconds (GenFlowRetention). Deliveries done with (delivered or
 * failed) longer ago than that leave the outbox, a batch at a time
 * (genflow_webhook_outbox_done, sql/022: only the rows it deletes are
 * read). */
static const char WEBHOOK_PRUNE_SQL[] =
    "WITH d AS (DELETE FROM genflow_webhook_outbox WHERE id = ANY(ARRAY(SELECT id"
    "  FROM genflow_webhook_outbox WHERE state IN ('delivered', 'failed')"
    "   AND COALESCE(delivered_at, next_attempt_at) < now() - make_interval(secs => %d)"
    "  ORDER BY COALESCE(delivered_at, next_attempt_at)"
    "  LIMIT 1000 FOR UPDATE SKIP LOCKED)) RETURNING 1) SELECT count(*)::text FROM d";

/* args: a dummy. The webhook outbox for the metrics: deliveries waiting,
 * the age in seconds of the oldest waiting one, and those failed; each
 * from genflow_webhook_outbox_state (sql/022): the waiting and failed
 * ones are counted, the delivered ones never read. */
static const char WEBHOOK_BACKLOG_SQL[] =
    "SELECT (SELECT count(*) FROM genflow_webhook_outbox o WHERE o.state = 'pending'"
    "         AND %s::text IS NOT NULL)::text,"
    " COALESCE(extract(epoch FROM now() - (SELECT o.created_at FROM genflow_webhook_outbox o"
    "   WHERE o.state = 'pending' ORDER BY o.created_at LIMIT 1)), 0)::bigint::text,"
    " (SELECT count(*) FROM genflow_webhook_outbox o WHERE o.state = 'failed')::text";

/* args: provider, its max_concurrent=. The rows of a provider's limits
 * kept in the database (sql/022): its gate and one place per call it may
 * have open; rows that exist stay as they are. */
static const char PLACES_ENSURE_SQL[] =
    "WITH args AS (SELECT %s::text AS provider, %d::int AS places),"
    " lim AS (INSERT INTO genflow_provider_limits (provider) SELECT provider FROM args"
    "  ON CONFLICT (provider) DO NOTHING)"
    " INSERT INTO genflow_provider_places (provider, place)"
    " SELECT args.provider, n FROM args, generate_series(1, args.places) n"
    " ON CONFLICT (provider, place) DO NOTHING";

/* args: provider, place, generation id, attempt. The call that held the
 * place ended: the place is free. Only that call's holder (generation and
 * attempt) frees it, so a place is never given back twice, nor one that
 * a later call took after this one's lease ran out. */
static const char PLACE_RELEASE_SQL[] =
    "UPDATE genflow_provider_places SET generation_id = NULL, attempt = NULL, lease_owner = NULL,"
    " lease_until = NULL"
    " WHERE provider = %s AND place = %d AND generation_id = %s::uuid AND attempt = %d RETURNING 1";

/* args: provider, its max_concurrent= and its rate's spacing in
 * microseconds (0: none), generation id, attempt, lease owner, lease
 * seconds. A call's place and start, taken for a row whose claim took none
 * of this provider (a group's member, chosen after the claim; a row of a
 * chain the configuration no longer names): one row, the place taken (0:
 * the provider has no max_concurrent=), or NULL when it has no room now
 * (all places held, its rate's next start not come, or a pause). The
 * place is the claim's kind: the lease renewal and PLACE_RELEASE find it
 * by generation and attempt. */
static const char PLACE_TAKE_SQL[] =
    "WITH args AS (SELECT %s::text AS provider, %d::int AS max_concurrent,"
    "  %s::bigint AS spacing_us, %s::uuid AS id, %d::int AS attempt, %s::text AS owner,"
    "  %d::int AS lease),"
    " rate AS MATERIALIZED (SELECT l.provider FROM genflow_provider_limits l, args a"
    "  WHERE a.spacing_us > 0 AND l.provider = a.provider AND l.next_start_at <= now()"
    "  FOR UPDATE OF l SKIP LOCKED),"
    " place AS MATERIALIZED (SELECT s.provider, s.place FROM genflow_provider_places s, args a"
    "  WHERE a.max_concurrent > 0 AND s.provider = a.provider AND s.place <= a.max_concurrent"
    "   AND (s.generation_id IS NULL OR s.lease_until < now())"
    "  ORDER BY s.place LIMIT 1 FOR UPDATE OF s SKIP LOCKED),"
    " ok AS MATERIALIZED (SELECT 1 AS ok FROM args a"
    "  WHERE (a.max_concurrent = 0 OR EXISTS (SELECT 1 FROM place))"
    "   AND (a.spacing_us = 0 OR EXISTS (SELECT 1 FROM rate))"
    "   AND NOT EXISTS (SELECT 1 FROM genflow_provider_limits l"
    "    WHERE l.provider = a.provider AND l.paused_until > now())),"
    " took AS (UPDATE genflow_provider_places s SET generation_id = a.id, attempt = a.attempt,"
    "   lease_owner = a.owner, lease_until = now() + make_interval(secs => a.lease)"
    "  FROM place, args a WHERE s.provider = place.provider AND s.place = place.place"
    "   AND EXISTS (SELECT 1 FROM ok) RETURNING s.place),"
    " spaced AS (UPDATE genflow_provider_limits l"
    "   SET next_start_at = greatest(l.next_start_at, now())"
    "       + make_interval(secs => a.spacing_us / 1000000.0)"
    "  FROM rate, args a WHERE l.provider = rate.provider AND EXISTS (SELECT 1 FROM ok))"
    " SELECT CASE WHEN EXISTS (SELECT 1 FROM ok)"
    "  THEN COALESCE((SELECT place FROM took), 0)::text END";

/* args: provider, milliseconds. A 429 with Retry-After: no call to the
 * provider from any node until then (a later pause extends it, an
 * earlier one does not shorten it). */
static const char PROVIDER_PAUSE_SQL[] =
    "INSERT INTO genflow_provider_limits AS l (provider, paused_until)"
    " VALUES (%s, now() + make_interval(secs => %d / 1000.0))"
    " ON CONFLICT (provider) DO UPDATE SET paused_until = greatest(l.paused_until, EXCLUDED.paused_until)"
    " RETURNING 1";

/* args: provider, its max_concurrent= (0: none). For /api/health and the
 * metrics: its calls open on every node (places held under a live lease)
 * and until when it is paused (ms since the epoch, 0: not). */
static const char PROVIDER_STATE_SQL[] =
    "WITH args AS (SELECT %s::text AS provider, %d::int AS places)"
    " SELECT (SELECT count(*) FROM genflow_provider_places s, args"
    "   WHERE s.provider = args.provider AND s.place <= args.places"
    "    AND s.generation_id IS NOT NULL AND s.lease_until >= now())::text,"
    " COALESCE((SELECT (extract(epoch FROM l.paused_until) * 1000)::bigint FROM genflow_provider_limits l, args"
    "   WHERE l.provider = args.provider AND l.paused_until > now()), 0)::text";

/* args: seconds. A user's turn in a line (sql/022) is forgotten after
 * that long unused, except the highest of each line, which is its head
 * when nobody waits. */
static const char TURNS_PRUNE_SQL[] =
    "WITH d AS (DELETE FROM genflow_turns t WHERE (t.gen_type, t.provider, t.user_id) IN"
    "  (SELECT o.gen_type, o.provider, o.user_id FROM genflow_turns o"
    "    WHERE o.updated_at < now() - make_interval(secs => %d)"
    "    ORDER BY o.updated_at LIMIT 1000 FOR UPDATE SKIP LOCKED)"
    "  AND t.last_turn < (SELECT max(m.last_turn) FROM genflow_turns m"
    "    WHERE m.gen_type = t.gen_type AND m.provider = t.provider) RETURNING 1)"
    " SELECT count(*)::text FROM d";

/* args: at most this many deltas. Finished generations are counted as
 * deltas, one row each (sql/024); the sweep folds them into each type's
 * totals (genflow_status_totals, sql/025), which leaves the deltas' table
 * empty for VACUUM to cut back. Returns how many it folded. */
static const char COUNTS_FOLD_SQL[] = "SELECT genflow_fold_status_counts(%d)::text";

/* args: at most this many shard rows. The lines' counts (sql/031) that
 * writers added to their shards, folded into one row per bucket (those no
 * writer holds now: the fold never waits for one), and the buckets the
 * line has moved past dropped: a place in line sums few rows. Returns how
 * many shard rows it folded (0 too when another node folds). */
static const char LINE_FOLD_SQL[] = "SELECT genflow_fold_line_counts(%d)::text";

/* A cheap round trip for /api/health. args: a dummy (statements need one). */
static const char PING_SQL[] = "SELECT %s::text";

/* args: "<generation id> <url>". A picture being drawn, for the watchers
 * of its generation on every node (mod_genflow_engine_preview.c): no row
 * is written, nothing else listens. */
static const char PREVIEW_NOTE_SQL[] = "SELECT pg_notify('genflow_preview', %s)::text";

/* args: seconds a queued generation may stay due without a worker
 * (GenFlowPendingTTL), seconds a created one may stay unqueued
 * (GenFlowCreatedTTL). Generations of any type that no worker took in time
 * (sql/007, sql/016: a type mounted nowhere) → EXPIRED + refund. */
static const char ORPHANS_SQL[] = "SELECT genflow_expire_orphans(%d, %d)::text";

void gf_sql_global_statements(apr_pool_t *p, apr_array_header_t *stmts)
{
    /* All re-runnable after a lost connection: reads, upserts that do
     * nothing the second time, and writes keyed by a token or id the
     * caller chose before the first run (see each statement). */
    (void)p;
    gf_sql_add(stmts, GF_SQL_ADMIN_GRANT, ADMIN_GRANT_SQL, 1);
    gf_sql_add(stmts, GF_SQL_PING, PING_SQL, 1);
    gf_sql_add(stmts, GF_SQL_IDEM_BEGIN, IDEM_BEGIN_SQL, 1);
    gf_sql_add(stmts, GF_SQL_IDEM_GET, IDEM_GET_SQL, 1);
    gf_sql_add(stmts, GF_SQL_IDEM_TAKEOVER, IDEM_TAKEOVER_SQL, 1);
    gf_sql_add(stmts, GF_SQL_IDEM_SAVE, IDEM_SAVE_SQL, 1);
    gf_sql_add(stmts, GF_SQL_IDEM_DROP, IDEM_DROP_SQL, 1);
    gf_sql_add(stmts, GF_SQL_IDEM_RELEASE, IDEM_RELEASE_SQL, 1);
    gf_sql_add(stmts, GF_SQL_IDEM_PRUNE, IDEM_PRUNE_SQL, 1);
    gf_sql_add(stmts, GF_SQL_PRESETS, PRESETS_SQL, 1);
    gf_sql_add(stmts, GF_SQL_ACCOUNT_ENSURE, ACCOUNT_ENSURE_SQL, 1);
    gf_sql_add(stmts, GF_SQL_ACCOUNT_STATE, ACCOUNT_STATE_SQL, 1);
    gf_sql_add(stmts, GF_SQL_QUOTA, QUOTA_SQL, 1);
    gf_sql_add(stmts, GF_SQL_ORPHANS, ORPHANS_SQL, 1);
    gf_sql_add(stmts, GF_SQL_UPLOAD_INSERT, UPLOAD_INSERT_SQL, 1);
    gf_sql_add(stmts, GF_SQL_UPLOAD_GET, UPLOAD_GET_SQL, 1);
    gf_sql_add(stmts, GF_SQL_UPLOAD_EXPIRE, UPLOAD_EXPIRE_SQL, 0);
    gf_sql_add(stmts, GF_SQL_UPLOAD_KNOWN, UPLOAD_KNOWN_SQL, 1);
    gf_sql_add(stmts, GF_SQL_UPLOAD_EDIT, UPLOAD_EDIT_SQL, 1);
    gf_sql_add(stmts, GF_SQL_UPLOAD_READ, UPLOAD_READ_SQL, 1);
    gf_sql_add(stmts, GF_SQL_PREVIEW_NOTE, PREVIEW_NOTE_SQL, 1);
    gf_sql_add(stmts, GF_SQL_COST_RECORD, COST_RECORD_SQL, 1);
    gf_sql_add(stmts, GF_SQL_BUDGET_SPENT, BUDGET_SPENT_SQL, 1);
    gf_sql_add(stmts, GF_SQL_PROVIDER_HOLD, PROVIDER_HOLD_SQL, 1);
    gf_sql_add(stmts, GF_SQL_PROVIDER_RELEASE, PROVIDER_RELEASE_SQL, 1);
    gf_sql_add(stmts, GF_SQL_HOLDS_EXPIRE, HOLDS_EXPIRE_SQL, 0);
    gf_sql_add(stmts, GF_SQL_GROUP_STATS, GROUP_STATS_SQL, 1);
    gf_sql_add(stmts, GF_SQL_GROUP_RECORD, GROUP_RECORD_SQL, 1);
    gf_sql_add(stmts, GF_SQL_GROUP_OPEN, GROUP_OPEN_SQL, 1);
    gf_sql_add(stmts, GF_SQL_GROUP_OPEN_PRUNE, GROUP_OPEN_PRUNE_SQL, 1);
    gf_sql_add(stmts, GF_SQL_WEBHOOK_CLAIM, WEBHOOK_CLAIM_SQL, 0);
    gf_sql_add(stmts, GF_SQL_WEBHOOK_DONE, WEBHOOK_DONE_SQL, 1);
    gf_sql_add(stmts, GF_SQL_WEBHOOK_RETRY, WEBHOOK_RETRY_SQL, 1);
    gf_sql_add(stmts, GF_SQL_WEBHOOK_FAILED, WEBHOOK_FAILED_SQL, 1);
    gf_sql_add(stmts, GF_SQL_WEBHOOK_REDELIVER, WEBHOOK_REDELIVER_SQL, 1);
    gf_sql_add(stmts, GF_SQL_WEBHOOK_BACKLOG, WEBHOOK_BACKLOG_SQL, 1);
    gf_sql_add(stmts, GF_SQL_WEBHOOK_PRUNE, WEBHOOK_PRUNE_SQL, 1);
    gf_sql_add(stmts, GF_SQL_PLACES_ENSURE, PLACES_ENSURE_SQL, 1);
    gf_sql_add(stmts, GF_SQL_PLACE_RELEASE, PLACE_RELEASE_SQL, 1);
    gf_sql_add(stmts, GF_SQL_PLACE_TAKE, PLACE_TAKE_SQL, 0);
    gf_sql_add(stmts, GF_SQL_PROVIDER_PAUSE, PROVIDER_PAUSE_SQL, 1);
    gf_sql_add(stmts, GF_SQL_PROVIDER_STATE, PROVIDER_STATE_SQL, 1);
    gf_sql_add(stmts, GF_SQL_TURNS_PRUNE, TURNS_PRUNE_SQL, 1);
    gf_sql_add(stmts, GF_SQL_COUNTS_FOLD, COUNTS_FOLD_SQL, 1);
    gf_sql_add(stmts, GF_SQL_LINE_FOLD, LINE_FOLD_SQL, 1);
}
