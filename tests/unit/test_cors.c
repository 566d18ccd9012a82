/* SPDX-License-Identifier: Apache-2.0 */
/* test_cors.c: GenFlowCORSOrigins' syntax and the preflight headers
 * (gf_cors.c), and the genflow-types answer (gf_discovery.c). */
#include <string.h>
#include <apr_strings.h>
#include <json-c/json.h>

#include "test_core.h"
#include "core/gf_cors.h"
#include "core/gf_discovery.h"
#include "core/gf_input.h"
#include "core/gf_json.h"

START_TEST(origins_accepted)
{
    static const char *const good[] = {
        "http://studio.example", "https://studio.example", "http://localhost:8080",
        "https://a-b.c.example:8443", "http://127.0.0.1:3000", "http://[::1]:5173",
        "https://xn--bcher-kva.example", "http://studio.example:65535", NULL
    };
    int i;
    for (i = 0; good[i]; i++) {
        const char *err = gf_cors_check_origin(test_pool, good[i]);
        ck_assert_msg(err == NULL, "%s: %s", good[i], err);
    }
}
END_TEST

START_TEST(origins_refused)
{
    static const char *const bad[] = {
        "studio.example", "ftp://studio.example", "HTTP://studio.example",
        "http://Studio.example", "http://studio.example/", "http://studio.example/app",
        "http://", "http://:80", "http://studio.example:0", "http://studio.example:65536",
        "http://studio.example:080", "http://studio.example:", "http://studio.example:80",
        "https://studio.example:443", "http://user@studio.example", "http://*.example",
        "http://studio..example", "http://.studio.example", "http://studio.example.",
        "http://[::1", "http://[]", "http://studio.example?x", "null", "", NULL
    };
    int i;
    for (i = 0; bad[i]; i++) {
        ck_assert_msg(gf_cors_check_origin(test_pool, bad[i]) != NULL, "accepted %s", bad[i]);
    }
    /* The message tells how to write it. */
    ck_assert(strstr(gf_cors_check_origin(test_pool, "http://studio.example/"),
                     "write http://studio.example") != NULL);
    ck_assert(strstr(gf_cors_check_origin(test_pool, "https://s.example:443"),
                     "default port") != NULL);
}
END_TEST

START_TEST(directive_values)
{
    gf_cors_conf_t *c = NULL;
    char *two[] = { "http://a.example", "https://b.example:8443" };
    char *none[] = { "none" };
    char *any[] = { "*" };
    char *mixed[] = { "*", "http://a.example" };
    char *mixed_none[] = { "http://a.example", "none" };
    char *bad[] = { "http://a.example", "http://b.example/" };

    ck_assert_ptr_null(gf_cors_parse(test_pool, 2, two, &c));
    ck_assert(gf_cors_enabled(c));
    ck_assert(!c->any);
    ck_assert_str_eq(gf_cors_allow_origin(c, "https://b.example:8443"), "https://b.example:8443");
    ck_assert_ptr_null(gf_cors_allow_origin(c, "https://b.example"));
    ck_assert_ptr_null(gf_cors_allow_origin(c, "http://A.example"));
    ck_assert_ptr_null(gf_cors_allow_origin(c, "http://a.example.evil"));
    ck_assert_ptr_null(gf_cors_allow_origin(c, "null"));
    ck_assert_ptr_null(gf_cors_allow_origin(c, NULL));

    ck_assert_ptr_null(gf_cors_parse(test_pool, 1, none, &c));
    ck_assert(!gf_cors_enabled(c));
    ck_assert_ptr_null(gf_cors_allow_origin(c, "http://a.example"));

    ck_assert_ptr_null(gf_cors_parse(test_pool, 1, any, &c));
    ck_assert(gf_cors_enabled(c));
    ck_assert(c->any);
    ck_assert_str_eq(gf_cors_allow_origin(c, "http://anything.example"), "*");

    ck_assert_ptr_nonnull(gf_cors_parse(test_pool, 2, mixed, &c));
    ck_assert_ptr_nonnull(gf_cors_parse(test_pool, 2, mixed_none, &c));
    ck_assert_ptr_nonnull(gf_cors_parse(test_pool, 2, bad, &c));
    ck_assert_ptr_nonnull(gf_cors_parse(test_pool, 0, bad, &c));
    ck_assert(!gf_cors_enabled(NULL));
}
END_TEST

START_TEST(preflight_headers)
{
    ck_assert_ptr_null(gf_cors_allow_headers(test_pool, NULL));
    ck_assert_ptr_null(gf_cors_allow_headers(test_pool, ""));
    ck_assert_ptr_null(gf_cors_allow_headers(test_pool, "x-custom, cookie"));
    ck_assert_str_eq(gf_cors_allow_headers(test_pool, "content-type,authorization"),
                     "Content-Type, Authorization");
    /* Unknown ones are left out, repeats said once, spaces and case ignored. */
    ck_assert_str_eq(gf_cors_allow_headers(test_pool,
                                           " idempotency-key , X-Evil,PREFER,prefer, last-event-id"),
                     "Idempotency-Key, Prefer, Last-Event-ID");
    ck_assert_str_eq(gf_cors_allow_headers(test_pool, "if-none-match"), "If-None-Match");
    ck_assert_str_eq(gf_cors_allow_headers(test_pool, "cancel-after, Traceparent, tracestate"),
                     "Cancel-After, traceparent, tracestate");
    /* A prefix of an allowed name is not that name. */
    ck_assert_ptr_null(gf_cors_allow_headers(test_pool, "authorizatio, content-type-x"));
    ck_assert_str_eq(gf_cors_allow_methods(test_pool, "GET, HEAD"), "GET, HEAD, OPTIONS");
    ck_assert_str_eq(gf_cors_allow_methods(test_pool, NULL), "OPTIONS");
}
END_TEST

START_TEST(cross_site_writes)
{
    gf_cors_conf_t *listed = NULL, *any = NULL;
    char *two[] = { "https://studio.example", "http://localhost:5173" };
    char *star[] = { "*" };
    const char *host = "api.example:8080";

    ck_assert_ptr_null(gf_cors_parse(test_pool, 2, two, &listed));
    ck_assert_ptr_null(gf_cors_parse(test_pool, 1, star, &any));
    /* Not a browser: neither header. */
    ck_assert_ptr_null(gf_cors_cross_site(listed, NULL, NULL, host));
    ck_assert_ptr_null(gf_cors_cross_site(NULL, NULL, NULL, NULL));
    /* The browser says it is the site's own page (or the user's action). */
    ck_assert_ptr_null(gf_cors_cross_site(NULL, "http://api.example:8080", "same-origin", host));
    ck_assert_ptr_null(gf_cors_cross_site(NULL, NULL, "none", host));
    ck_assert_ptr_null(gf_cors_cross_site(NULL, "https://evil.example", "Same-Origin", host));
    /* Another site's page: only a listed origin. */
    ck_assert_ptr_nonnull(gf_cors_cross_site(NULL, "https://evil.example", "cross-site", host));
    ck_assert_ptr_nonnull(gf_cors_cross_site(listed, "https://evil.example", "cross-site", host));
    ck_assert_ptr_null(gf_cors_cross_site(listed, "https://studio.example", "cross-site", host));
    ck_assert_ptr_null(gf_cors_cross_site(listed, "http://localhost:5173", "same-site", host));
    ck_assert_ptr_nonnull(gf_cors_cross_site(listed, "https://studio.example:443", "cross-site",
                                             host));
    ck_assert_ptr_nonnull(gf_cors_cross_site(listed, "https://sub.studio.example", "same-site",
                                             host));
    /* A subdomain of the API's host is another origin too. */
    ck_assert_ptr_nonnull(gf_cors_cross_site(NULL, "http://x.api.example:8080", "same-site", host));
    /* "*" lets any page read without credentials, not write with them. */
    ck_assert_ptr_nonnull(gf_cors_cross_site(any, "https://evil.example", "cross-site", host));
    ck_assert_ptr_nonnull(gf_cors_cross_site(any, "https://evil.example", NULL, host));
    /* An unknown Sec-Fetch-Site value is not same-origin. */
    ck_assert_ptr_nonnull(gf_cors_cross_site(NULL, NULL, "same-originx", host));
    /* Without Sec-Fetch-Site: Origin against the Host the request went to. */
    ck_assert_ptr_null(gf_cors_cross_site(NULL, "http://api.example:8080", NULL, host));
    ck_assert_ptr_null(gf_cors_cross_site(NULL, "https://API.example:8080", NULL, host));
    ck_assert_ptr_nonnull(gf_cors_cross_site(NULL, "http://api.example", NULL, host));
    ck_assert_ptr_nonnull(gf_cors_cross_site(NULL, "http://api.example:8080", NULL, NULL));
    ck_assert_ptr_nonnull(gf_cors_cross_site(NULL, "http://api.example:80800", NULL, host));
    ck_assert_ptr_nonnull(gf_cors_cross_site(NULL, "null", NULL, host));
    ck_assert_ptr_nonnull(gf_cors_cross_site(listed, "null", NULL, "null"));
    ck_assert_ptr_null(gf_cors_cross_site(listed, "https://studio.example", NULL, host));
    /* The refusal says what an administrator can do. */
    ck_assert(strstr(gf_cors_cross_site(NULL, "https://evil.example", "cross-site", host),
                     "GenFlowCORSOrigins") != NULL);
}
END_TEST

START_TEST(answer_headers)
{
    gf_cors_conf_t *c = NULL;
    char *one[] = { "https://a.example" };
    char *any[] = { "*" };
    apr_table_t *t = apr_table_make(test_pool, 8);

    ck_assert_ptr_null(gf_cors_parse(test_pool, 1, one, &c));
    gf_cors_actual_headers(c, "https://a.example", t);
    ck_assert_str_eq(apr_table_get(t, "Access-Control-Allow-Origin"), "https://a.example");
    ck_assert_str_eq(apr_table_get(t, "Access-Control-Allow-Credentials"), "true");
    ck_assert_str_eq(apr_table_get(t, "Access-Control-Expose-Headers"), GF_CORS_EXPOSE_HEADERS);
    ck_assert_int_eq(apr_table_elts(t)->nelts, 3);

    t = apr_table_make(test_pool, 8);
    apr_table_setn(t, "Vary", "Origin");
    gf_cors_preflight_headers(test_pool, c, "https://a.example", GF_CORS_DEFAULT_METHODS,
                              "content-type, x-unknown", t);
    ck_assert_str_eq(apr_table_get(t, "Access-Control-Allow-Methods"),
                     gf_cors_allow_methods(test_pool, "GET, HEAD, POST"));
    ck_assert_str_eq(apr_table_get(t, "Access-Control-Allow-Headers"), "Content-Type");
    ck_assert_str_eq(apr_table_get(t, "Access-Control-Max-Age"), GF_CORS_MAX_AGE);
    ck_assert_str_eq(apr_table_get(t, "Access-Control-Allow-Credentials"), "true");
    ck_assert_str_eq(apr_table_get(t, "Vary"),
                     "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");

    /* "*": never with credentials; no allowed header asked, none named. */
    ck_assert_ptr_null(gf_cors_parse(test_pool, 1, any, &c));
    t = apr_table_make(test_pool, 8);
    gf_cors_preflight_headers(test_pool, c, "*", "GET", NULL, t);
    ck_assert_str_eq(apr_table_get(t, "Access-Control-Allow-Origin"), "*");
    ck_assert_ptr_null(apr_table_get(t, "Access-Control-Allow-Credentials"));
    ck_assert_ptr_null(apr_table_get(t, "Access-Control-Allow-Headers"));
    t = apr_table_make(test_pool, 8);
    gf_cors_actual_headers(c, "*", t);
    ck_assert_ptr_null(apr_table_get(t, "Access-Control-Allow-Credentials"));
}
END_TEST

Suite *cors_suite(void)
{
    Suite *s = suite_create("cors");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, origins_accepted);
    tcase_add_test(tc, origins_refused);
    tcase_add_test(tc, directive_values);
    tcase_add_test(tc, preflight_headers);
    tcase_add_test(tc, cross_site_writes);
    tcase_add_test(tc, answer_headers);
    suite_add_tcase(s, tc);
    return s;
}

/* ---- genflow-types ------------------------------------------------------- */

static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no member %s", key);
    return v;
}

START_TEST(types_answer)
{
    gf_discovery_type_t t[2] = {
        { "neo-glitch", "/api/neo-glitch", GF_NEED_PROMPT, 1, 30, 4, 0, 4 },
        { "emotion-mask", "/", GF_NEED_SOURCE_IMAGE | GF_NEED_PRESET, 2, 0, 1,
          GF_ACCEPT_MASK | GF_ACCEPT_REFERENCES, 3 },
    };
    const char *json = gf_discovery_json(test_pool, t, 2), *err;
    json_object *doc = gf_json_parse(test_pool, json, strlen(json), &err), *types, *a, *b;

    ck_assert_ptr_nonnull(doc);
    types = member(doc, "types");
    ck_assert_int_eq((int)json_object_array_length(types), 2);
    a = json_object_array_get_idx(types, 0);
    b = json_object_array_get_idx(types, 1);
    ck_assert_str_eq(json_object_get_string(member(a, "type")), "neo-glitch");
    ck_assert_str_eq(json_object_get_string(member(a, "base")), "/api/neo-glitch");
    ck_assert_str_eq(json_object_to_json_string_ext(member(a, "needs"), JSON_C_TO_STRING_PLAIN),
                     "[\"prompt\"]");
    ck_assert_int_eq(json_object_get_int(member(a, "cost")), 1);
    ck_assert_int_eq(json_object_get_int(member(a, "defaultWait")), 30);
    ck_assert_str_eq(json_object_get_string(member(a, "presetsUrl")), "/api/neo-glitch/presets");
    ck_assert_str_eq(json_object_get_string(member(a, "historyUrl")), "/api/neo-glitch/history");
    ck_assert_int_eq((int)json_object_array_length(member(a, "fields")), 9);
    ck_assert_int_eq(json_object_get_int(member(a, "maxCount")), 4);
    ck_assert_int_eq(json_object_get_int(member(b, "maxCount")), 1);
    /* The edits a type takes are among its fields, with their bound. */
    ck_assert_ptr_null(strstr(json_object_to_json_string(member(a, "fields")), "mask"));
    ck_assert(!json_object_object_get_ex(a, "maxReferences", NULL));
    ck_assert_int_eq((int)json_object_array_length(member(b, "fields")), 11);
    ck_assert_ptr_nonnull(strstr(json_object_to_json_string_ext(member(b, "fields"),
                                                                 JSON_C_TO_STRING_PLAIN),
                                 "\"mask\",\"referenceImages\""));
    ck_assert_int_eq(json_object_get_int(member(b, "maxReferences")), 3);
    ck_assert_str_eq(json_object_to_json_string_ext(member(b, "needs"), JSON_C_TO_STRING_PLAIN),
                     "[\"sourceImage\",\"preset\"]");
    /* A type at "/" does not get "//presets" (a host named presets). */
    ck_assert_str_eq(json_object_get_string(member(b, "presetsUrl")), "/presets");
    ck_assert_int_eq((int)json_object_array_length(member(member(doc, "options"), "style")), 3);
    /* No types: an empty list, still with the options. */
    json = gf_discovery_json(test_pool, NULL, 0);
    ck_assert_ptr_nonnull(strstr(json, "\"types\":[]"));
}
END_TEST

/* Every choice the page is offered passes the create validation, and
 * every field listed is one it accepts. */
static void accepted(const char *field, const char *value)
{
    const char *json = apr_psprintf(test_pool, "{\"prompt\":\"p\",\"%s\":\"%s\"}", field, value);
    const char *perr;
    json_object *body = gf_json_parse(test_pool, json, strlen(json), &perr);
    gf_input_t in;
    gf_input_error_t err;
    ck_assert_ptr_nonnull(body);
    ck_assert_msg(gf_input_parse(test_pool, body, 0, &in, &err), "%s=%s refused: %s", field,
                  value, err.message);
}

START_TEST(options_match_validation)
{
    const char *const *w;
    for (w = GF_DISCOVERY_STYLES; *w; w++) accepted("style", *w);
    for (w = GF_DISCOVERY_QUALITIES; *w; w++) accepted("quality", *w);
    for (w = GF_DISCOVERY_ASPECT_RATIOS; *w; w++) accepted("aspectRatio", *w);
    for (w = GF_DISCOVERY_FIELDS; *w; w++) {
        const char *json = strcmp(*w, "parameters")
            ? apr_psprintf(test_pool, "{\"%s\":null}", *w)
            : "{\"parameters\":{}}";
        const char *perr;
        json_object *body = gf_json_parse(test_pool, json, strlen(json), &perr);
        gf_input_t in;
        gf_input_error_t err;
        ck_assert_msg(gf_input_parse(test_pool, body, 0, &in, &err), "field %s refused: %s",
                      *w, err.message);
    }
}
END_TEST

/* A literal <Location> applies at '/' boundaries only, as httpd's walk. */
START_TEST(location_matches)
{
    ck_assert(gf_discovery_location_matches("/api/x", "/api/x"));
    ck_assert(gf_discovery_location_matches("/api/x", "/api/x/status/1"));
    ck_assert(!gf_discovery_location_matches("/api/x", "/api/xy"));
    ck_assert(gf_discovery_location_matches("/api/", "/api/xy"));
    ck_assert(gf_discovery_location_matches("/api/x/", "/api/x/"));
    ck_assert(!gf_discovery_location_matches("/api/x/", "/api/x"));
    ck_assert(gf_discovery_location_matches("", "/anything"));
    ck_assert(gf_discovery_location_matches("/", "/api"));
    ck_assert(!gf_discovery_location_matches("/api/x", "/api"));
}
END_TEST

Suite *discovery_suite(void)
{
    Suite *s = suite_create("discovery");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, types_answer);
    tcase_add_test(tc, options_match_validation);
    tcase_add_test(tc, location_matches);
    suite_add_tcase(s, tc);
    return s;
}
