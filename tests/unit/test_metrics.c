/* SPDX-License-Identifier: Apache-2.0 */
/* test_metrics.c: counters, histograms and their Prometheus text (gf_metrics.c). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>

#include "test_core.h"
#include "core/gf_metrics.h"
#include "core/gf_error.h"
#include "core/gf_route.h"
#include "core/gf_schema.h"
#include "core/gf_sql.h"

static const char *const TYPES[] = { "neo-glitch", "custom-prompt" };
static const char *const PROVIDERS[] = { "stab", "local", "local", "fal" };
static const char *const ENDPOINTS[] = { "create", "generate", "status", "cancel", "retry",
                                         "events", "history", "presets", "not_found", "quota",
                                         "admin", "health", "metrics", "webhook", "uploads",
                                         "types", "quota" };
#define NEP ((int)(sizeof(ENDPOINTS) / sizeof(ENDPOINTS[0])))

/* A layout attached to fresh memory from the test pool. */
static gf_metrics_t *fresh(void)
{
    gf_metrics_t *m = gf_metrics_layout(test_pool, TYPES, 2, PROVIDERS, 4, ENDPOINTS, NEP, NULL, 0);
    void *mem = apr_palloc(test_pool, gf_metrics_bytes(m));
    gf_metrics_attach(m, mem, 1, apr_time_from_sec(1000));
    return m;
}

static const char *render(const gf_metrics_t *m)
{
    gf_mtext_t t;
    gf_mtext_init(&t, test_pool);
    gf_metrics_render(m, &t);
    return gf_mtext_str(&t);
}

/* Does text contain this exact line? */
static int has_line(const char *text, const char *line)
{
    const char *s = text;
    size_t n = strlen(line);
    while ((s = strstr(s, line)) != NULL) {
        if ((s == text || s[-1] == '\n') && s[n] == '\n') return 1;
        s += n;
    }
    return 0;
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;
    const char *s = text;
    while ((s = strstr(s, needle)) != NULL) {
        n++;
        s += strlen(needle);
    }
    return n;
}

/* Every family has one HELP and one TYPE before its samples, and the
 * samples of a family are contiguous (a name seen once never comes back
 * after another family started). */
static void check_exposition(const char *text)
{
    char *copy = apr_pstrdup(test_pool, text), *line, *last;
    const char *family = NULL, *type = NULL;
    apr_hash_t *seen = apr_hash_make(test_pool);

    for (line = apr_strtok(copy, "\n", &last); line; line = apr_strtok(NULL, "\n", &last)) {
        if (!strncmp(line, "# HELP ", 7)) {
            char *name = apr_pstrdup(test_pool, line + 7);
            *strchr(name, ' ') = '\0';
            ck_assert_msg(!apr_hash_get(seen, name, APR_HASH_KEY_STRING), "family %s twice", name);
            apr_hash_set(seen, name, APR_HASH_KEY_STRING, name);
            family = name;
            type = NULL;
        }
        else if (!strncmp(line, "# TYPE ", 7)) {
            ck_assert_ptr_nonnull(family);
            ck_assert_int_eq(strncmp(line + 7, family, strlen(family)), 0);
            type = line + 8 + strlen(family);
        }
        else {
            size_t n = strcspn(line, "{ ");
            char *name = apr_pstrmemdup(test_pool, line, n);
            ck_assert_msg(family && type, "sample before HELP/TYPE: %s", line);
            if (!strcmp(type, "histogram")) {
                ck_assert_msg(!strcmp(name, apr_pstrcat(test_pool, family, "_bucket", NULL))
                              || !strcmp(name, apr_pstrcat(test_pool, family, "_sum", NULL))
                              || !strcmp(name, apr_pstrcat(test_pool, family, "_count", NULL)),
                              "%s outside its family %s", line, family);
            }
            else {
                ck_assert_msg(!strcmp(name, family), "%s outside its family %s", line, family);
            }
            if (!strcmp(type, "counter")) {
                ck_assert_msg(n > 6 && !strcmp(name + n - 6, "_total"), "counter %s", name);
            }
        }
    }
}

START_TEST(bucket_search)
{
    static const double b[] = { 0.1, 0.5, 1, 5 };
    ck_assert_int_eq(gf_metrics_bucket(b, 4, 0), 0);
    ck_assert_int_eq(gf_metrics_bucket(b, 4, 0.1), 0);      /* le is inclusive */
    ck_assert_int_eq(gf_metrics_bucket(b, 4, 0.1001), 1);
    ck_assert_int_eq(gf_metrics_bucket(b, 4, 1), 2);
    ck_assert_int_eq(gf_metrics_bucket(b, 4, 4.9), 3);
    ck_assert_int_eq(gf_metrics_bucket(b, 4, 5), 3);
    ck_assert_int_eq(gf_metrics_bucket(b, 4, 5.1), 4);      /* +Inf */
    ck_assert_int_eq(gf_metrics_bucket(b, 4, 1e9), 4);
    ck_assert_int_eq(gf_metrics_bucket(b, 0, 1), 0);
}
END_TEST

START_TEST(label_values_are_escaped)
{
    gf_mtext_t t;
    ck_assert_str_eq(gf_metrics_escape(test_pool, "plain"), "plain");
    ck_assert_str_eq(gf_metrics_escape(test_pool, "a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    gf_mtext_init(&t, test_pool);
    gf_mtext_family(&t, "x_total", "counter", "a \\ help\nline \"quoted\"");
    gf_mtext_sample(&t, "x_total", "3", "k", "v\"1", "j", "w\n", NULL);
    gf_mtext_sample(&t, "x_total", "4", NULL);
    ck_assert_str_eq(gf_mtext_str(&t),
                     "# HELP x_total a \\\\ help\\nline \"quoted\"\n"
                     "# TYPE x_total counter\n"
                     "x_total{k=\"v\\\"1\",j=\"w\\n\"} 3\n"
                     "x_total 4\n");
}
END_TEST

START_TEST(text_buffer_grows)
{
    gf_mtext_t t;
    int i;
    gf_mtext_init(&t, test_pool);
    for (i = 0; i < 2000; i++) gf_mtext_sample(&t, "a_long_metric_name_total", "1", NULL);
    ck_assert_uint_eq(strlen(gf_mtext_str(&t)), 2000 * strlen("a_long_metric_name_total 1\n"));
}
END_TEST

START_TEST(layout_is_bounded_and_signed)
{
    gf_metrics_t *m = gf_metrics_layout(test_pool, TYPES, 2, PROVIDERS, 4, ENDPOINTS, NEP, NULL, 0);
    gf_metrics_t *same = gf_metrics_layout(test_pool, TYPES, 2, PROVIDERS, 4, ENDPOINTS, NEP, NULL, 0);
    gf_metrics_t *other = gf_metrics_layout(test_pool, TYPES, 1, PROVIDERS, 4, ENDPOINTS, NEP, NULL, 0);
    void *mem;

    ck_assert_int_eq(m->ntypes, 2);
    ck_assert_int_eq(m->nproviders, 3);                  /* duplicates dropped */
    ck_assert_str_eq(m->providers[0], "fal");            /* sorted */
    /* The endpoints as given, duplicates dropped, "other" added last. */
    ck_assert_int_eq(m->nendpoints, NEP);
    ck_assert_str_eq(m->endpoints[15], "types");
    ck_assert_str_eq(m->endpoints[NEP - 1], "other");
    /* Another set of endpoint labels is another layout. */
    ck_assert(gf_metrics_layout(test_pool, TYPES, 2, PROVIDERS, 4, ENDPOINTS, NEP - 2, NULL, 0)->signature
              != m->signature);
    ck_assert(m->signature == same->signature);
    ck_assert(m->signature != other->signature);
    ck_assert_uint_eq(gf_metrics_bytes(m), gf_metrics_bytes(same));
    /* The size depends on the configuration only, never on traffic. */
    ck_assert_uint_lt(gf_metrics_bytes(m), 64 * 1024);

    mem = apr_palloc(test_pool, gf_metrics_bytes(m));
    memset(mem, 0xab, gf_metrics_bytes(m));
    ck_assert(!gf_metrics_matches(m, mem));
    gf_metrics_attach(m, mem, 1, apr_time_from_sec(1234));
    ck_assert(gf_metrics_matches(same, mem));
    ck_assert(!gf_metrics_matches(other, mem));
    ck_assert(gf_metrics_start_time(m) == apr_time_from_sec(1234));

    /* A re-attach with the same layout (a graceful restart) keeps the counts. */
    gf_metrics_request(m, "neo-glitch", "create", 201, 1000);
    gf_metrics_attach(same, mem, 0, apr_time_from_sec(9999));
    ck_assert(gf_metrics_start_time(same) == apr_time_from_sec(1234));
    ck_assert(has_line(render(same),
                       "genflow_requests_total{type=\"neo-glitch\",endpoint=\"create\",status=\"201\"} 1"));
}
END_TEST

START_TEST(line_starts_by_type_and_line)
{
    static const char *const LINES[] = { "premium", "other", "premium", "pro", "standard" };
    gf_metrics_t *m = gf_metrics_layout(test_pool, TYPES, 2, PROVIDERS, 4, ENDPOINTS, NEP, LINES, 5);
    const char *text;

    /* "standard" first, each name once ("other" and "standard" are the
     * layout's own), "other" last; another set of lines is another layout. */
    ck_assert_int_eq(m->nlines, 4);
    ck_assert_str_eq(m->lines[0], "standard");
    ck_assert_str_eq(m->lines[1], "premium");
    ck_assert_str_eq(m->lines[2], "pro");
    ck_assert_str_eq(m->lines[3], "other");
    ck_assert(m->signature != gf_metrics_layout(test_pool, TYPES, 2, PROVIDERS, 4, ENDPOINTS, NEP,
                                                LINES, 1)->signature);
    gf_metrics_attach(m, apr_palloc(test_pool, gf_metrics_bytes(m)), 1, 0);
    gf_metrics_line_start(m, "neo-glitch", "premium");
    gf_metrics_line_start(m, "neo-glitch", "premium");
    gf_metrics_line_start(m, "neo-glitch", NULL);
    gf_metrics_line_start(m, "custom-prompt", "gone");      /* a name the layout lacks */
    gf_metrics_line_start(m, "no-such-type", "premium");    /* not counted */
    text = render(m);
    ck_assert(has_line(text, "genflow_line_starts_total{type=\"neo-glitch\",line=\"premium\"} 2"));
    ck_assert(has_line(text, "genflow_line_starts_total{type=\"neo-glitch\",line=\"standard\"} 1"));
    ck_assert(has_line(text, "genflow_line_starts_total{type=\"neo-glitch\",line=\"pro\"} 0"));
    ck_assert(has_line(text, "genflow_line_starts_total{type=\"custom-prompt\",line=\"other\"} 1"));
    ck_assert(has_line(text, "genflow_line_starts_total{type=\"custom-prompt\",line=\"premium\"} 0"));
}
END_TEST

START_TEST(unattached_is_a_no_op)
{
    gf_metrics_t *m = gf_metrics_layout(test_pool, TYPES, 2, PROVIDERS, 4, ENDPOINTS, NEP, NULL, 0);
    gf_metrics_request(m, "neo-glitch", "create", 201, 1);
    gf_metrics_request(NULL, "neo-glitch", "create", 201, 1);
    gf_metrics_credits(NULL, GF_CREDITS_RESERVED, 3);
    ck_assert_str_eq(render(m), "");
}
END_TEST

START_TEST(requests_are_counted_with_bounded_labels)
{
    gf_metrics_t *m = fresh();
    const char *text;

    gf_metrics_request(m, "neo-glitch", "create", 201, apr_time_from_msec(3));
    gf_metrics_request(m, "neo-glitch", "create", 201, apr_time_from_msec(30));
    gf_metrics_request(m, "neo-glitch", "not_found", 404, apr_time_from_msec(1));
    gf_metrics_request(m, NULL, "quota", 200, apr_time_from_msec(2));
    /* Anything outside the fixed lists is "other" / "-". */
    gf_metrics_request(m, "no-such-type", "bogus-endpoint", 299, 0);
    gf_metrics_request(m, NULL, "health", 599, apr_time_from_sec(100));
    text = render(m);
    check_exposition(text);
    ck_assert(has_line(text, "genflow_requests_total{type=\"neo-glitch\",endpoint=\"create\",status=\"201\"} 2"));
    ck_assert(has_line(text, "genflow_requests_total{type=\"neo-glitch\",endpoint=\"not_found\",status=\"404\"} 1"));
    ck_assert(has_line(text, "genflow_requests_total{type=\"-\",endpoint=\"quota\",status=\"200\"} 1"));
    ck_assert(has_line(text, "genflow_requests_total{type=\"-\",endpoint=\"other\",status=\"other\"} 1"));
    ck_assert(has_line(text, "genflow_requests_total{type=\"-\",endpoint=\"health\",status=\"other\"} 1"));
    /* Zero series are left out. */
    ck_assert(!strstr(text, "endpoint=\"cancel\""));

    /* create: 3 ms and 30 ms → cumulative buckets. */
    ck_assert(has_line(text, "genflow_request_duration_seconds_bucket{endpoint=\"create\",le=\"0.005\"} 1"));
    ck_assert(has_line(text, "genflow_request_duration_seconds_bucket{endpoint=\"create\",le=\"0.025\"} 1"));
    ck_assert(has_line(text, "genflow_request_duration_seconds_bucket{endpoint=\"create\",le=\"0.05\"} 2"));
    ck_assert(has_line(text, "genflow_request_duration_seconds_bucket{endpoint=\"create\",le=\"+Inf\"} 2"));
    ck_assert(has_line(text, "genflow_request_duration_seconds_sum{endpoint=\"create\"} 0.033000"));
    ck_assert(has_line(text, "genflow_request_duration_seconds_count{endpoint=\"create\"} 2"));
    /* 100 s lands only in +Inf. */
    ck_assert(has_line(text, "genflow_request_duration_seconds_bucket{endpoint=\"health\",le=\"60\"} 0"));
    ck_assert(has_line(text, "genflow_request_duration_seconds_bucket{endpoint=\"health\",le=\"+Inf\"} 1"));
    ck_assert_int_eq(count_of(text, "# TYPE genflow_request_duration_seconds histogram\n"), 1);
}
END_TEST

START_TEST(provider_calls_and_engine_counters)
{
    gf_metrics_t *m = fresh();
    gf_provider_result_t res;
    const char *outcome, *code, *text;

    memset(&res, 0, sizeof(res));
    res.image_url = "https://x/y.png";
    gf_metrics_classify(&res, &outcome, &code);
    ck_assert_str_eq(outcome, "ok");
    ck_assert_str_eq(code, "none");
    gf_metrics_provider_call(m, "local", outcome, code, apr_time_from_msec(40));

    memset(&res, 0, sizeof(res));
    res.provider_job_id = "job-1";
    gf_metrics_classify(&res, &outcome, &code);
    ck_assert_str_eq(outcome, "pending");

    memset(&res, 0, sizeof(res));
    res.error_code = GF_JOB_NETWORK;
    res.transient = 1;
    gf_metrics_classify(&res, &outcome, &code);
    ck_assert_str_eq(outcome, "transient");
    ck_assert_str_eq(code, "NETWORK_ERROR");
    gf_metrics_provider_call(m, "stab", outcome, code, apr_time_from_msec(200));

    memset(&res, 0, sizeof(res));
    res.error_code = GF_JOB_PROVIDER_CREDITS;
    gf_metrics_classify(&res, &outcome, &code);
    ck_assert_str_eq(outcome, "permanent");
    ck_assert_str_eq(code, "PROVIDER_CREDITS");

    memset(&res, 0, sizeof(res));   /* neither image nor job */
    gf_metrics_classify(&res, &outcome, &code);
    ck_assert_str_eq(outcome, "permanent");
    ck_assert_str_eq(code, "API_ERROR");

    gf_metrics_provider_call(m, "gone", "permanent", "SOMETHING_NEW", 0);
    gf_metrics_retry(m, "neo-glitch");
    gf_metrics_retry(m, "neo-glitch");
    gf_metrics_fallback(m, "custom-prompt");
    gf_metrics_retry(m, "unknown");   /* ignored */

    text = render(m);
    check_exposition(text);
    ck_assert(has_line(text, "genflow_provider_calls_total{provider=\"local\",outcome=\"ok\",code=\"none\"} 1"));
    ck_assert(has_line(text, "genflow_provider_calls_total{provider=\"stab\",outcome=\"transient\",code=\"NETWORK_ERROR\"} 1"));
    ck_assert(has_line(text, "genflow_provider_calls_total{provider=\"other\",outcome=\"permanent\",code=\"other\"} 1"));
    ck_assert(has_line(text, "genflow_provider_call_duration_seconds_bucket{provider=\"local\",le=\"0.05\"} 1"));
    ck_assert(has_line(text, "genflow_provider_call_duration_seconds_bucket{provider=\"local\",le=\"0.01\"} 0"));
    ck_assert(has_line(text, "genflow_provider_call_duration_seconds_count{provider=\"stab\"} 1"));
    ck_assert(has_line(text, "genflow_retries_total{type=\"neo-glitch\"} 2"));
    ck_assert(has_line(text, "genflow_retries_total{type=\"custom-prompt\"} 0"));
    ck_assert(has_line(text, "genflow_fallbacks_total{type=\"custom-prompt\"} 1"));
    ck_assert(has_line(text, "genflow_credits_total{movement=\"reserved\"} 0"));
    ck_assert(has_line(text, "genflow_counters_start_time_seconds 1000.000000"));
}
END_TEST

START_TEST(provider_costs_are_counted)
{
    gf_metrics_t *m = fresh();
    const char *text;

    gf_metrics_provider_cost(m, "local", 0.022);
    gf_metrics_provider_cost(m, "local", 0.0025);
    gf_metrics_provider_cost(m, "gone", 1.5);      /* undeclared: other */
    gf_metrics_provider_cost(m, "stab", -3);       /* ignored */
    text = render(m);
    check_exposition(text);
    ck_assert(has_line(text, "genflow_provider_cost_total{provider=\"local\"} 0.024500"));
    ck_assert(has_line(text, "genflow_provider_cost_total{provider=\"stab\"} 0.000000"));
    ck_assert(has_line(text, "genflow_provider_cost_total{provider=\"other\"} 1.500000"));
}
END_TEST

START_TEST(terminal_status_objects)
{
    gf_metrics_t *m = fresh();
    const char *text;
    apr_time_t t;

    ck_assert(gf_metrics_parse_time("2026-11-22T12:00:01.250Z", &t));
    ck_assert(t == apr_time_from_sec(1795348801) + apr_time_from_msec(250));
    ck_assert(gf_metrics_parse_time("2026-11-22T12:00:01Z", &t));
    ck_assert(!gf_metrics_parse_time("2026-11-22 12:00:01Z", &t));
    ck_assert(!gf_metrics_parse_time("2026-11-22T12:00:01.5", &t));
    ck_assert(!gf_metrics_parse_time(NULL, &t));

    gf_metrics_credits(m, GF_CREDITS_RESERVED, 2);
    gf_metrics_credits(m, GF_CREDITS_RESERVED, 3);
    gf_metrics_credits(m, GF_CREDITS_RESERVED, -4);   /* ignored */
    ck_assert(gf_metrics_terminal(m, test_pool, "neo-glitch",
        "{\"status\": \"completed\", \"estimatedCost\": 2, \"creditsCharged\": 2,"
        " \"createdAt\": \"2026-11-22T12:00:00.000Z\", \"finishedAt\": \"2026-11-22T12:00:02.400Z\"}"));
    ck_assert(gf_metrics_terminal(m, test_pool, "neo-glitch",
        "{\"status\": \"failed\", \"estimatedCost\": 3, \"creditsCharged\": 0,"
        " \"createdAt\": \"2026-11-22T12:00:00.000Z\", \"finishedAt\": \"2026-11-22T12:01:00.000Z\"}"));
    ck_assert(gf_metrics_terminal(m, test_pool, "custom-prompt",
        "{\"status\": \"cancelled\", \"estimatedCost\": 1, \"creditsCharged\": 0,"
        " \"createdAt\": \"2026-11-22T12:00:00.000Z\", \"finishedAt\": \"2026-11-22T12:00:00.050Z\"}"));
    ck_assert(!gf_metrics_terminal(m, test_pool, "neo-glitch",
        "{\"status\": \"processing\", \"estimatedCost\": 9}"));
    ck_assert(!gf_metrics_terminal(m, test_pool, "neo-glitch", "not json"));

    text = render(m);
    check_exposition(text);
    ck_assert(has_line(text, "genflow_credits_total{movement=\"reserved\"} 5"));
    ck_assert(has_line(text, "genflow_credits_total{movement=\"charged\"} 2"));
    ck_assert(has_line(text, "genflow_credits_total{movement=\"refunded\"} 4"));
    ck_assert(has_line(text, "genflow_generation_duration_seconds_bucket{type=\"neo-glitch\",status=\"completed\",le=\"1\"} 0"));
    ck_assert(has_line(text, "genflow_generation_duration_seconds_bucket{type=\"neo-glitch\",status=\"completed\",le=\"2.5\"} 1"));
    ck_assert(has_line(text, "genflow_generation_duration_seconds_sum{type=\"neo-glitch\",status=\"completed\"} 2.400000"));
    ck_assert(has_line(text, "genflow_generation_duration_seconds_bucket{type=\"neo-glitch\",status=\"failed\",le=\"30\"} 0"));
    ck_assert(has_line(text, "genflow_generation_duration_seconds_bucket{type=\"neo-glitch\",status=\"failed\",le=\"60\"} 1"));
    ck_assert(has_line(text, "genflow_generation_duration_seconds_count{type=\"custom-prompt\",status=\"cancelled\"} 1"));
    ck_assert(has_line(text, "genflow_generation_duration_seconds_bucket{type=\"custom-prompt\",status=\"cancelled\",le=\"0.1\"} 1"));
    ck_assert(!strstr(text, "status=\"processing\""));
}
END_TEST

/* The endpoint labels: a type's routes in order, then not_found. */
START_TEST(endpoint_labels)
{
    apr_array_header_t *a = gf_metrics_endpoint_labels(test_pool);
    const char *const want[] = { "create", "generate", "status", "cancel", "retry", "events",
                                 "history", "presets", "not_found" };
    int i;

    ck_assert_int_eq(a->nelts, 9);
    for (i = 0; i < 9; i++) ck_assert_str_eq(APR_ARRAY_IDX(a, i, const char *), want[i]);
    ck_assert_str_eq(gf_metrics_route_endpoint(GF_ROUTE_STATUS), "status");
    ck_assert_str_eq(gf_metrics_route_endpoint(GF_ROUTE_NONE), "not_found");
    ck_assert_str_eq(gf_metrics_route_endpoint(99), "not_found");
}
END_TEST

START_TEST(scrape_texts)
{
    ck_assert_str_eq(gf_metrics_build_info(test_pool), apr_psprintf(test_pool,
        "# HELP genflow_build_info The module's release and the database schema version it "
        "needs (always 1).\n# TYPE genflow_build_info gauge\n"
        "genflow_build_info{version=\"%s\",schema=\"%d\"} 1\n", GF_VERSION, GF_SCHEMA_NEEDS));
    ck_assert_str_eq(gf_metrics_engine_text(test_pool, 42, 3, 7, 5, 2),
        "# HELP genflow_workers_running Worker threads in the child that answered this scrape.\n"
        "# TYPE genflow_workers_running gauge\n"
        "genflow_workers_running{pid=\"42\"} 3\n"
        "# HELP genflow_attempts_in_flight Attempts the child that answered this scrape runs "
        "at once (GenFlowMaxInFlight caps them).\n"
        "# TYPE genflow_attempts_in_flight gauge\n"
        "genflow_attempts_in_flight{pid=\"42\"} 7\n"
        "# HELP genflow_provider_exchanges_open HTTP exchanges with providers and stores open "
        "in that child now.\n"
        "# TYPE genflow_provider_exchanges_open gauge\n"
        "genflow_provider_exchanges_open{pid=\"42\"} 5\n"
        "# HELP genflow_polls_kept Polls of accepted jobs that child keeps for their next poll "
        "(GenFlowKeptPolls caps them).\n"
        "# TYPE genflow_polls_kept gauge\n"
        "genflow_polls_kept{pid=\"42\"} 2\n");
    ck_assert_str_eq(gf_metrics_status_text(test_pool, 1, 2, 42, 3), apr_psprintf(test_pool,
        "GenFlowVersion: %s\nGenFlowSchemaNeeds: %d\nGenFlowTypes: 2\n"
        "GenFlowWorkersRunning: 3\n", GF_VERSION, GF_SCHEMA_NEEDS));
    ck_assert_str_eq(gf_metrics_status_text(test_pool, 0, 2, 42, 3), apr_psprintf(test_pool,
        "<hr />\n<h2>mod_genflow %s</h2>\n<dl><dt>Database schema needed: %d</dt>"
        "<dt>Types: 2</dt><dt>Worker threads in this child (pid 42): 3</dt></dl>\n",
        GF_VERSION, GF_SCHEMA_NEEDS));
}
END_TEST

/* The database's gauges: generations by type and status first, then each
 * per-type family contiguous, the webhook outbox last. */
START_TEST(database_gauges)
{
    static const char *a0[GF_METRICS_COLS], *a1[GF_METRICS_COLS], *b0[GF_METRICS_COLS];
    static const char *hooks[] = { "4", "120", "1" };
    const char *const *arows[] = { a0, a1 }, *const *brows[] = { b0 };
    gf_mtext_t db;
    gf_mgauges_t g;
    const char *out;

    a0[GF_METRICS_STATUS] = "pending";
    a0[GF_METRICS_COUNT] = "5";
    a0[GF_METRICS_DUE] = "2";
    a0[GF_METRICS_OLDEST] = "30";
    a0[GF_METRICS_NEAR] = "0";
    a1[GF_METRICS_STATUS] = "processing";
    a1[GF_METRICS_COUNT] = "3";
    a1[GF_METRICS_DUE] = "1";
    a1[GF_METRICS_OLDEST] = "45";
    a1[GF_METRICS_NEAR] = "1";
    b0[GF_METRICS_STATUS] = "completed";
    b0[GF_METRICS_COUNT] = "9";
    b0[GF_METRICS_DUE] = "0";
    b0[GF_METRICS_OLDEST] = "0";
    b0[GF_METRICS_NEAR] = "0";
    gf_mtext_init(&db, test_pool);
    gf_mgauges_init(&g, &db, test_pool);
    gf_mgauges_type(&g, "a", arows, 2);
    gf_mgauges_type(&g, "b", brows, 1);
    gf_mgauges_webhooks(&g, hooks);
    gf_mgauges_finish(&g);
    out = gf_mtext_str(&db);
    ck_assert_str_eq(out,
        "# HELP genflow_generations Generations in the database by type and status.\n"
        "# TYPE genflow_generations gauge\n"
        "genflow_generations{type=\"a\",status=\"pending\"} 5\n"
        "genflow_generations{type=\"a\",status=\"processing\"} 3\n"
        "genflow_generations{type=\"b\",status=\"completed\"} 9\n"
        "# HELP genflow_jobs_due Queued generations whose next attempt is due now, by type.\n"
        "# TYPE genflow_jobs_due gauge\n"
        "genflow_jobs_due{type=\"a\"} 3\n"
        "genflow_jobs_due{type=\"b\"} 0\n"
        "# HELP genflow_queue_oldest_seconds How long the longest-waiting due generation has "
        "waited for a worker, by type (0: none due).\n"
        "# TYPE genflow_queue_oldest_seconds gauge\n"
        "genflow_queue_oldest_seconds{type=\"a\"} 45\n"
        "genflow_queue_oldest_seconds{type=\"b\"} 0\n"
        "# HELP genflow_generations_near_deadline Open generations within 15 s of their "
        "deadline (GenFlowDeadline), by type.\n"
        "# TYPE genflow_generations_near_deadline gauge\n"
        "genflow_generations_near_deadline{type=\"a\"} 1\n"
        "genflow_generations_near_deadline{type=\"b\"} 0\n"
        "# HELP genflow_webhooks_pending Webhook deliveries to the site's backend waiting to go "
        "out or to be tried again.\n"
        "# TYPE genflow_webhooks_pending gauge\n"
        "genflow_webhooks_pending 4\n"
        "# HELP genflow_webhooks_oldest_pending_seconds Age of the oldest waiting webhook "
        "delivery (0: none).\n"
        "# TYPE genflow_webhooks_oldest_pending_seconds gauge\n"
        "genflow_webhooks_oldest_pending_seconds 120\n"
        "# HELP genflow_webhooks_failed Webhook deliveries that failed for good (the admin API "
        "lists them).\n"
        "# TYPE genflow_webhooks_failed gauge\n"
        "genflow_webhooks_failed 1\n");
}
END_TEST

Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, bucket_search);
    tcase_add_test(tc, endpoint_labels);
    tcase_add_test(tc, scrape_texts);
    tcase_add_test(tc, database_gauges);
    tcase_add_test(tc, label_values_are_escaped);
    tcase_add_test(tc, text_buffer_grows);
    tcase_add_test(tc, layout_is_bounded_and_signed);
    tcase_add_test(tc, line_starts_by_type_and_line);
    tcase_add_test(tc, unattached_is_a_no_op);
    tcase_add_test(tc, requests_are_counted_with_bounded_labels);
    tcase_add_test(tc, provider_calls_and_engine_counters);
    tcase_add_test(tc, provider_costs_are_counted);
    tcase_add_test(tc, terminal_status_objects);
    suite_add_tcase(s, tc);
    return s;
}
