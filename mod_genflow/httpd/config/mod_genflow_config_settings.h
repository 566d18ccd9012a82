/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_config_settings.h: every numeric setting, declared once.
 *
 * One line per setting. From it come the record's field, its "not given"
 * value in a new record, its merge (the more specific record wins when it
 * gave it), its getter gf_conf_<field>, and its directive, set by one
 * setter that finds the line through cmd->info. Adding a setting is a
 * line here and the code that reads its getter (and its paragraph in
 * conf/genflow.conf).
 *
 * S(getter, type, field, directive, default, min, max, unit, vhost, where, help)
 *   getter   PLAIN: the default is the constant given; OWN: the getter is
 *            written by hand (mod_genflow_config_defaults.c), the default
 *            depends on something else
 *   min, max the accepted range of the whole number; unit words the
 *            message of a value below min ("must be at least 2 seconds")
 *   vhost    NULL, or why a <VirtualHost> may not set it: the main
 *            server's value holds for everything its children share
 *   where    the contexts of the directive (RSRC_CONF, ACCESS_CONF)
 */
#ifndef MOD_GENFLOW_CONFIG_SETTINGS_H
#define MOD_GENFLOW_CONFIG_SETTINGS_H

#include "core/gf_credits.h"
#include "core/gf_input.h"

#define GF_DEFAULT_STARTING_CREDITS 10
#define GF_DEFAULT_DAILY_LIMIT      100
#define GF_DEFAULT_MAX_BODY         (64 * 1024)
#define GF_MAX_BODY_LIMIT           (16 * 1024 * 1024)
#define GF_DEFAULT_MAX_RETRIES      3
#define GF_PREFER_WAIT_MAX          60
#define GF_DEFAULT_WORKERS          2
#define GF_DEFAULT_STATUS_CACHE     4096
#define GF_DEFAULT_LEASE_SECS       30
#define GF_DEFAULT_DEADLINE_SECS    120
#define GF_DEFAULT_MAX_ACTIVE       10
#define GF_DEFAULT_PENDING_TTL      3600
#define GF_DEFAULT_CREATED_TTL      900
#define GF_DEFAULT_RETENTION        (30L * 86400)
#define GF_DEFAULT_UPLOAD_RETENTION (30L * 86400)
#define GF_DEFAULT_PREVIEW_KEEP     600
#define GF_DEFAULT_PARK_MAX         10000
#define GF_DEFAULT_MAX_IN_FLIGHT    500
#define GF_DEFAULT_KEPT_POLLS       10000
#define GF_DEFAULT_EVENTS_PER_USER  16
#define GF_DEFAULT_EVENTS_MAX_SECS  600
#define GF_DEFAULT_EVENTS_HEARTBEAT 15
#define GF_DEFAULT_PRESETS_PER_WEEK 6
#define GF_DEFAULT_UPLOAD_MAX_BYTES (10L * 1024 * 1024)
#define GF_UPLOAD_MAX_BYTES_LIMIT   (100L * 1024 * 1024)
#define GF_DEFAULT_UPLOAD_MAX_PIXELS 25000000L
#define GF_UPLOAD_MAX_PIXELS_LIMIT  100000000L
#define GF_TEN_YEARS                (10L * 365 * 86400)

#define GF_VHOST_CHILD_THREADS  "a child's worker threads serve all of its servers"
#define GF_VHOST_SWEEPS         "the sweeps run once per database, for all servers on it"

/* Settings of the server record (gf_server_conf_t). */
#define GF_SERVER_SETTINGS(S) \
    S(PLAIN, long, starting_credits, "GenFlowStartingCredits", GF_DEFAULT_STARTING_CREDITS, \
      0, GF_CREDITS_MAX, "", NULL, RSRC_CONF, "Credits a new account starts with") \
    S(PLAIN, long, daily_limit, "GenFlowDailyLimit", GF_DEFAULT_DAILY_LIMIT, \
      0, GF_CREDITS_MAX, "", NULL, RSRC_CONF, \
      "Credits a user may spend per UTC day (0 = no limit)") \
    S(PLAIN, int, workers, "GenFlowWorkers", GF_DEFAULT_WORKERS, 0, 64, "", \
      GF_VHOST_CHILD_THREADS, RSRC_CONF, \
      "Background worker threads per httpd child (0 = this server works no jobs)") \
    S(PLAIN, long, status_cache, "GenFlowStatusCache", GF_DEFAULT_STATUS_CACHE, 0, 1000000, "", \
      "a child keeps one cache for all of its servers", RSRC_CONF, \
      "Status answers each child keeps (0 = none)") \
    S(PLAIN, long, max_in_flight, "GenFlowMaxInFlight", GF_DEFAULT_MAX_IN_FLIGHT, 1, 100000, "", \
      "a child's engine runs the attempts of all of its servers", RSRC_CONF, \
      "Attempts (provider calls and their waits) a child runs at once (default 500)") \
    S(PLAIN, long, kept_polls, "GenFlowKeptPolls", GF_DEFAULT_KEPT_POLLS, 0, 1000000, "", \
      "a child's engine keeps the polls of all of its servers", RSRC_CONF, \
      "Polls of accepted jobs a child keeps between polls, no statement each (default 10000; 0 = none)") \
    S(PLAIN, long, park_max, "GenFlowParkMax", GF_DEFAULT_PARK_MAX, 0, 1000000, "", \
      "a child parks requests for all of its servers", RSRC_CONF, \
      "Waits a child parks without a thread under the event MPM (default 10000; 0 = never)") \
    S(OWN, long, blocking_waiters, "GenFlowBlockingWaiters", 0, 0, 100000, "", \
      "a child's threads serve all of its servers", RSRC_CONF, \
      "Waits that may hold a thread of a child (default half of ThreadsPerChild)") \
    S(PLAIN, long, events_per_user, "GenFlowEventsPerUser", GF_DEFAULT_EVENTS_PER_USER, \
      0, 1000000, "", "the server counts the watchers of all of its hosts", RSRC_CONF, \
      "Event streams and status long-polls one user may keep open on the server, every " \
      "child together (default 16; 0 = no cap)") \
    S(PLAIN, int, lease_secs, "GenFlowLeaseSeconds", GF_DEFAULT_LEASE_SECS, 2, 3600, "second", \
      NULL, RSRC_CONF, "How long a worker owns an attempt before another may rescue it") \
    S(PLAIN, long, presets_per_week, "GenFlowPresetsPerWeek", GF_DEFAULT_PRESETS_PER_WEEK, \
      1, 1000, "", NULL, RSRC_CONF, "Presets of a type active in one ISO week (rotation)") \
    S(PLAIN, long, max_active, "GenFlowMaxActive", GF_DEFAULT_MAX_ACTIVE, 0, GF_TEN_YEARS, "", \
      NULL, RSRC_CONF, \
      "Generations one user may have queued or processing (0 = no limit); more → 429") \
    S(OWN, long, created_ttl, "GenFlowCreatedTTL", GF_DEFAULT_CREATED_TTL, 0, GF_TEN_YEARS, "", \
      GF_VHOST_SWEEPS, RSRC_CONF, \
      "Seconds after which a created but never started generation expires (default 900)") \
    S(PLAIN, long, pending_ttl, "GenFlowPendingTTL", GF_DEFAULT_PENDING_TTL, 0, GF_TEN_YEARS, "", \
      GF_VHOST_SWEEPS, RSRC_CONF, \
      "Seconds a queued generation may wait for a worker before it expires (default 3600)") \
    S(PLAIN, long, retention, "GenFlowRetention", GF_DEFAULT_RETENTION, 0, GF_TEN_YEARS, "", \
      GF_VHOST_SWEEPS, RSRC_CONF, "Seconds failed and cancelled generations are kept (0 = forever)") \
    S(PLAIN, long, webhook_first_retry, "GenFlowWebhookFirstRetry", 5, 1, 3600, "second", \
      GF_VHOST_SWEEPS, RSRC_CONF, \
      "Seconds before a failed webhook delivery is tried again; doubles each time (default 5)") \
    S(PLAIN, long, webhook_retry_period, "GenFlowWebhookRetryPeriod", 86400, 10, 604800, \
      "second", GF_VHOST_SWEEPS, RSRC_CONF, \
      "Seconds a webhook delivery is retried before it is failed (default 86400)") \
    S(PLAIN, long, upload_retention, "GenFlowUploadRetention", GF_DEFAULT_UPLOAD_RETENTION, 0, \
      GF_TEN_YEARS, "", GF_VHOST_SWEEPS, RSRC_CONF, \
      "Seconds an upload no generation uses is kept (default 30 days; 0 = forever)") \
    S(PLAIN, long, preview_keep, "GenFlowPreviewKeep", GF_DEFAULT_PREVIEW_KEEP, 1, 86400, \
      "second", GF_VHOST_SWEEPS, RSRC_CONF, \
      "Seconds a preview of a picture being drawn is kept in the store (default 600)")

/* Settings of the location record (gf_dir_conf_t). */
#define GF_DIR_SETTINGS(S) \
    S(OWN, long, cost, "GenFlowCost", 1, 0, GF_CREDITS_MAX, "", NULL, ACCESS_CONF, \
      "Credits one generation of this type costs") \
    S(PLAIN, long, max_body, "GenFlowMaxBody", GF_DEFAULT_MAX_BODY, 256, GF_MAX_BODY_LIMIT, \
      "byte", NULL, ACCESS_CONF, "Largest request body accepted, in bytes") \
    S(PLAIN, int, max_count, "GenFlowMaxCount", GF_COUNT_DEFAULT_MAX, 1, GF_COUNT_MAX, "picture", \
      NULL, RSRC_CONF | ACCESS_CONF, \
      "Most pictures one generation of this type may ask for (count; default 4)") \
    S(PLAIN, int, max_references, "GenFlowMaxReferences", GF_REFERENCES_DEFAULT_MAX, 1, \
      GF_REFERENCES_MAX, "picture", NULL, RSRC_CONF | ACCESS_CONF, \
      "Most reference pictures a create of this type may give (referenceImages; default 4)") \
    S(PLAIN, int, wait_default, "GenFlowWait", 0, 0, GF_PREFER_WAIT_MAX, "", NULL, ACCESS_CONF, \
      "Seconds generate waits for a result when the client sends no Prefer: wait") \
    S(PLAIN, int, max_retries, "GenFlowMaxRetries", GF_DEFAULT_MAX_RETRIES, 0, 10, "", NULL, \
      ACCESS_CONF, "Retries of a transient provider failure before falling back") \
    S(PLAIN, int, deadline_secs, "GenFlowDeadline", GF_DEFAULT_DEADLINE_SECS, 1, 86400, "second", \
      NULL, RSRC_CONF | ACCESS_CONF, \
      "Seconds after its start by which a generation must be terminal (TIMEOUT)") \
    S(PLAIN, int, events_max_secs, "GenFlowEventsMaxSeconds", GF_DEFAULT_EVENTS_MAX_SECS, \
      1, 86400, "second", NULL, RSRC_CONF | ACCESS_CONF, \
      "Seconds an event stream may last before it closes (default 600)") \
    S(PLAIN, int, events_heartbeat, "GenFlowEventsHeartbeat", GF_DEFAULT_EVENTS_HEARTBEAT, \
      1, 86400, "second", NULL, RSRC_CONF | ACCESS_CONF, \
      "Seconds between an event stream's comment heartbeats (default 15)") \
    S(PLAIN, long, upload_max_bytes, "GenFlowUploadMaxBytes", GF_DEFAULT_UPLOAD_MAX_BYTES, \
      1024, GF_UPLOAD_MAX_BYTES_LIMIT, "byte", NULL, RSRC_CONF | ACCESS_CONF, \
      "Largest image an upload may be, in bytes (default 10485760)") \
    S(PLAIN, long, upload_max_pixels, "GenFlowUploadMaxPixels", GF_DEFAULT_UPLOAD_MAX_PIXELS, \
      1, GF_UPLOAD_MAX_PIXELS_LIMIT, "pixel", NULL, RSRC_CONF | ACCESS_CONF, \
      "Most pixels (width x height) an uploaded image may have (default 25000000)")

/* The record's field of a line. */
#define GF_SETTING_FIELD(getter, type, field, ...) type field;

/* The getter of a PLAIN line (an OWN line's is declared by hand). */
#define GF_SETTING_GETTER_DECL_PLAIN(type, field, rec) type gf_conf_##field(const rec *c);
#define GF_SETTING_GETTER_DECL_OWN(type, field, rec)
#define GF_SETTING_SERVER_GETTER(getter, type, field, ...) \
    GF_SETTING_GETTER_DECL_##getter(type, field, gf_server_conf_t)
#define GF_SETTING_DIR_GETTER(getter, type, field, ...) \
    GF_SETTING_GETTER_DECL_##getter(type, field, gf_dir_conf_t)

#endif
