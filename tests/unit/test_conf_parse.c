/* SPDX-License-Identifier: Apache-2.0 */
/* test_conf_parse.c: the directive values' rules (gf_conf_parse.c): the
 * words each accepts and refuses, and the messages the directives answer,
 * which conf/genflow.conf and the integration suite quote. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "test_core.h"
#include "core/gf_conf_parse.h"
#include "core/gf_input.h"
#include "core/gf_sql.h"

START_TEST(origins)
{
    apr_array_header_t *out;
    char *good[] = { "https://a.example", "http://127.0.0.1:8080/", "HTTPS://b.example:8443" };
    char *none[] = { "none" };
    char *two_none[] = { "https://a.example", "none" };
    char *path[] = { "https://a.example/x" };
    char *plain[] = { "http://a.example" };
    char *user[] = { "https://u@a.example" };

    ck_assert_ptr_null(gf_conf_parse_origins(test_pool, 3, good, &out));
    ck_assert_int_eq(out->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(out, 0, const char *), "https://a.example:443");
    ck_assert_str_eq(APR_ARRAY_IDX(out, 1, const char *), "http://127.0.0.1:8080");
    ck_assert_str_eq(APR_ARRAY_IDX(out, 2, const char *), "HTTPS://b.example:8443");
    ck_assert_ptr_null(gf_conf_parse_origins(test_pool, 1, none, &out));
    ck_assert_int_eq(out->nelts, 0);
    /* "none" is a list of its own only alone. */
    ck_assert_str_eq(gf_conf_parse_origins(test_pool, 2, two_none, &out),
                     "'none' is not scheme://host[:port]");
    ck_assert_str_eq(gf_conf_parse_origins(test_pool, 1, path, &out),
                     "'https://a.example/x' is not scheme://host[:port]");
    ck_assert_str_eq(gf_conf_parse_origins(test_pool, 1, user, &out),
                     "'https://u@a.example' is not scheme://host[:port]");
    ck_assert_str_eq(gf_conf_parse_origins(test_pool, 1, plain, &out),
                     "'http://a.example': https, or http to a loopback host only");
}
END_TEST

START_TEST(events_base)
{
    const char *b = NULL;

    ck_assert_ptr_null(gf_conf_parse_events_base(test_pool, "none", &b));
    ck_assert_str_eq(b, "");
    ck_assert_ptr_null(gf_conf_parse_events_base(test_pool, "https://ev.example/s//", &b));
    ck_assert_str_eq(b, "https://ev.example/s");
    ck_assert_ptr_null(gf_conf_parse_events_base(test_pool, "http://localhost:81", &b));
    ck_assert_str_eq(b, "http://localhost:81");
    ck_assert_str_eq(gf_conf_parse_events_base(test_pool, "http://ev.example", &b),
                     "'http://ev.example': https, or http to a loopback host only (its URLs "
                     "carry a token)");
    ck_assert_str_eq(gf_conf_parse_events_base(test_pool, "https://ev.example/?a", &b),
                     "'https://ev.example/?a' is not scheme://host[:port][/path]");
    ck_assert_ptr_nonnull(gf_conf_parse_events_base(test_pool, "https://ev.example/a b", &b));
    ck_assert_ptr_nonnull(gf_conf_parse_events_base(test_pool, "https://ev.example/#f", &b));
    ck_assert_ptr_nonnull(gf_conf_parse_events_base(test_pool, "ev.example", &b));
}
END_TEST

START_TEST(admins)
{
    const char *expr;
    apr_array_header_t *users;
    char *none[] = { "none" };
    char *ex[] = { "expr", "%{REMOTE_USER} == 'a'" };
    char *us[] = { "user", "alice", "bob" };
    char *empty[] = { "user", "alice", "" };
    char *lone[] = { "user" };
    char *other[] = { "group", "x" };

    ck_assert_ptr_null(gf_conf_parse_admins(test_pool, 1, none, &expr, &users));
    ck_assert(expr == NULL && users == NULL);
    ck_assert_ptr_null(gf_conf_parse_admins(test_pool, 2, ex, &expr, &users));
    ck_assert_str_eq(expr, "%{REMOTE_USER} == 'a'");
    ck_assert_ptr_null(users);
    ck_assert_ptr_null(gf_conf_parse_admins(test_pool, 3, us, &expr, &users));
    ck_assert_ptr_null(expr);
    ck_assert_int_eq(users->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(users, 1, const char *), "bob");
    ck_assert_str_eq(gf_conf_parse_admins(test_pool, 3, empty, &expr, &users),
                     "an empty user name");
    ck_assert_str_eq(gf_conf_parse_admins(test_pool, 1, lone, &expr, &users),
                     "use user NAME..., expr \"EXPR\" or none");
    ck_assert_str_eq(gf_conf_parse_admins(test_pool, 2, other, &expr, &users),
                     "use user NAME..., expr \"EXPR\" or none");
}
END_TEST

START_TEST(budget_and_jobs)
{
    gf_budget_conf_t b;
    char dir[] = "/tmp/gf-zoneinfo-XXXXXX";
    apr_file_t *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(apr_dir_make(apr_pstrcat(test_pool, dir, "/Europe", NULL),
                                  APR_FPROT_OS_DEFAULT, test_pool), APR_SUCCESS);
    ck_assert_int_eq(apr_file_open(&f, apr_pstrcat(test_pool, dir, "/Europe/Berlin", NULL),
                                   APR_FOPEN_CREATE | APR_FOPEN_WRITE, APR_FPROT_OS_DEFAULT,
                                   test_pool), APR_SUCCESS);
    apr_file_close(f);
    memset(&b, 0, sizeof(b));
    ck_assert_ptr_null(gf_conf_check_budget(test_pool, &b, dir));
    b.hold = 0.5;
    ck_assert_str_eq(gf_conf_check_budget(test_pool, &b, dir),
                     "provider option budget_hold= needs budget=AMOUNT/PERIOD");
    b.hold = 0;
    b.tz = "UTC";
    ck_assert_str_eq(gf_conf_check_budget(test_pool, &b, dir),
                     "provider option budget_tz= needs budget=AMOUNT/PERIOD");
    b.period = GF_BUDGET_DAY;
    ck_assert_ptr_null(gf_conf_check_budget(test_pool, &b, dir));   /* UTC needs no file */
    b.tz = "Europe/Berlin";
    ck_assert_ptr_null(gf_conf_check_budget(test_pool, &b, dir));
    b.tz = "Mars/Olympus";
    ck_assert_str_eq(gf_conf_check_budget(test_pool, &b, dir),
                     apr_psprintf(test_pool, "provider option budget_tz=Mars/Olympus: no such "
                                  "time zone in %s", dir));
    apr_file_remove(apr_pstrcat(test_pool, dir, "/Europe/Berlin", NULL), test_pool);
    apr_dir_remove(apr_pstrcat(test_pool, dir, "/Europe", NULL), test_pool);
    ck_assert_int_eq(apr_dir_remove(dir, test_pool), APR_SUCCESS);

    ck_assert_ptr_null(gf_conf_check_max_jobs(test_pool, 0, 0, "stability"));
    ck_assert_ptr_null(gf_conf_check_max_jobs(test_pool, 1, 1, "fal"));
    ck_assert_str_eq(gf_conf_check_max_jobs(test_pool, 1, 0, "Stability"),
                     "max_jobs= is for a provider whose jobs run asynchronously; Stability "
                     "answers each call with its picture: use max_concurrent=");
}
END_TEST

START_TEST(small_values)
{
    int unnamed = -1;

    ck_assert_ptr_null(gf_conf_parse_statements(test_pool, "Named", &unnamed));
    ck_assert_int_eq(unnamed, 0);
    ck_assert_ptr_null(gf_conf_parse_statements(test_pool, "UNNAMED", &unnamed));
    ck_assert_int_eq(unnamed, 1);
    ck_assert_str_eq(gf_conf_parse_statements(test_pool, "pooled", &unnamed),
                     "named or unnamed, not 'pooled'");
    ck_assert_int_eq(unnamed, 1);

    ck_assert_ptr_null(gf_conf_check_storage_url("/media"));
    ck_assert_ptr_null(gf_conf_check_storage_url("https://cdn.example/m"));
    ck_assert_ptr_null(gf_conf_check_storage_url("http://cdn.example"));
    ck_assert_str_eq(gf_conf_check_storage_url("media"),
                     "must be a path such as /media or an http(s) URL prefix");
    ck_assert_ptr_nonnull(gf_conf_check_storage_url("ftp://x"));

    ck_assert(gf_conf_plain_path("/gen/anime"));
    ck_assert(!gf_conf_plain_path("^/gen/(a|b)"));
    ck_assert(!gf_conf_plain_path("/gen/.*"));
    ck_assert(!gf_conf_plain_path("gen"));
    ck_assert(!gf_conf_plain_path(NULL));
}
END_TEST

START_TEST(types)
{
    const char *t = NULL;
    int same = -1;
    char long_name[GF_SQL_TABLE_MAX + 2];

    ck_assert_ptr_null(gf_conf_type_table(test_pool, "neo-glitch", NULL, &t));
    ck_assert_str_eq(t, "neo_glitch_media");
    ck_assert_ptr_null(gf_conf_type_table(test_pool, "anime", "pics", &t));
    ck_assert_str_eq(t, "pics");
    ck_assert_str_eq(gf_conf_type_table(test_pool, "Anime", NULL, &t),
                     "type name 'Anime' must be lower-case letters, digits and '-', starting "
                     "with a letter");
    ck_assert_str_eq(gf_conf_type_table(test_pool, "anime", "my-pics", &t),
                     "table name 'my-pics' must be lower-case letters, digits and '_'");
    /* The longest table the derived index names fit, and one more. */
    memset(long_name, 'a', GF_SQL_TABLE_MAX);
    long_name[GF_SQL_TABLE_MAX] = '\0';
    ck_assert_ptr_null(gf_conf_type_table(test_pool, "x", long_name, &t));
    long_name[GF_SQL_TABLE_MAX] = 'a';
    long_name[GF_SQL_TABLE_MAX + 1] = '\0';
    ck_assert_ptr_nonnull(strstr(gf_conf_type_table(test_pool, "x", long_name, &t),
                                 "is longer than 50 characters (PostgreSQL cuts the names of "
                                 "its indexes at 63); give a shorter one as the second "
                                 "argument: GenFlowType x TABLE"));

    ck_assert_ptr_null(gf_conf_type_clash(test_pool, "a", "a_media", "a", "a_media", &same));
    ck_assert_int_eq(same, 1);
    ck_assert_ptr_null(gf_conf_type_clash(test_pool, "a", "a_media", "b", "b_media", &same));
    ck_assert_int_eq(same, 0);
    ck_assert_str_eq(gf_conf_type_clash(test_pool, "a", "x", "a", "a_media", &same),
                     "type 'a' is already mounted with table 'a_media'");
    ck_assert_str_eq(gf_conf_type_clash(test_pool, "c", "a_media", "a", "a_media", &same),
                     "table 'a_media' already belongs to type 'a'");
}
END_TEST

START_TEST(priority)
{
    static const char *const bad[] = { "", "1001", "-1001", "1.5", "x", "10 ", NULL };
    int n = 7, i;

    ck_assert_ptr_null(gf_conf_parse_priority("1000", &n));
    ck_assert_int_eq(n, 1000);
    ck_assert_ptr_null(gf_conf_parse_priority("-1000", &n));
    ck_assert_int_eq(n, -1000);
    for (i = 0; bad[i]; i++) {
        ck_assert_str_eq(gf_conf_parse_priority(bad[i], &n), "takes a whole number, "
                         "-1000..1000 (higher is claimed first; default 0)");
    }
    ck_assert_int_eq(n, -1000);
    ck_assert_ptr_null(gf_conf_priority_clash(test_pool, "a", NULL, 0, 5));
    ck_assert_ptr_null(gf_conf_priority_clash(test_pool, "a", "f:1", 5, 5));
    ck_assert_str_eq(gf_conf_priority_clash(test_pool, "a", "f:1", 5, 6),
                     "type 'a' already has priority 5 (f:1)");
}
END_TEST

START_TEST(settings)
{
    long v = -1;

    ck_assert_ptr_null(gf_conf_parse_setting(test_pool, "2", 2, 10, "second", &v));
    ck_assert_int_eq(v, 2);
    ck_assert_str_eq(gf_conf_parse_setting(test_pool, "1", 2, 10, "second", &v),
                     "must be at least 2 seconds");
    ck_assert_str_eq(gf_conf_parse_setting(test_pool, "0", 1, 10, "second", &v),
                     "must be at least 1 second");
    ck_assert_str_eq(gf_conf_parse_setting(test_pool, "0", 1, 10, "", &v),
                     "must be at least 1");
    ck_assert_str_eq(gf_conf_parse_setting(test_pool, "0", 3, 10, "", &v),
                     "must be at least 3");
    ck_assert_str_eq(gf_conf_parse_setting(test_pool, "11", 1, 10, "second", &v),
                     "'11' is not a whole number between 0 and 10");
    ck_assert_str_eq(gf_conf_vhost_refusal(test_pool, "GenFlowWorkers", "why"),
                     "GenFlowWorkers cannot occur within <VirtualHost> section: why; set it "
                     "outside, for every server");
}
END_TEST

START_TEST(needs_and_accepts)
{
    unsigned u = 99;
    char *needs[] = { "prompt", "none", "sourceImage" };
    char *none[] = { "None" };
    char *bad[] = { "prompt", "mask" };
    char *accepts[] = { "mask", "referenceImages" };
    char *bad_accept[] = { "prompt" };

    ck_assert_ptr_null(gf_conf_parse_needs(test_pool, 3, needs, &u));
    ck_assert_uint_eq(u, GF_NEED_PROMPT | GF_NEED_SOURCE_IMAGE);
    ck_assert_ptr_null(gf_conf_parse_needs(test_pool, 1, none, &u));
    ck_assert_uint_eq(u, 0);
    ck_assert_str_eq(gf_conf_parse_needs(test_pool, 2, bad, &u),
                     "unknown field 'mask' (prompt, sourceImage, preset or none)");
    ck_assert_ptr_null(gf_conf_parse_accepts(test_pool, 2, accepts, &u));
    ck_assert_uint_eq(u, GF_ACCEPT_MASK | GF_ACCEPT_REFERENCES);
    ck_assert_ptr_null(gf_conf_parse_accepts(test_pool, 1, none, &u));
    ck_assert_uint_eq(u, 0);
    ck_assert_str_eq(gf_conf_parse_accepts(test_pool, 1, bad_accept, &u),
                     "unknown input 'prompt' (mask, referenceImages or none)");
}
END_TEST

START_TEST(policy_options)
{
    gf_conf_policy_opts_t o;
    const char *k, *v;

    memset(&o, 0, sizeof(o));
    ck_assert_ptr_null(gf_conf_key_value(test_pool, "timeout=500", &k, &v));
    ck_assert_str_eq(k, "timeout");
    ck_assert_str_eq(v, "500");
    ck_assert_str_eq(gf_conf_key_value(test_pool, "=x", &k, &v), "'=x' is not key=value");
    ck_assert_str_eq(gf_conf_key_value(test_pool, "x=", &k, &v), "'x=' is not key=value");
    ck_assert_str_eq(gf_conf_key_value(test_pool, "x=\x01", &k, &v),
                     "'(not text)' is not key=value");

    ck_assert_ptr_eq(gf_conf_policy_option(test_pool, &o, "deny_list", "f"), GF_CONF_POLICY_READ);
    ck_assert_int_eq(o.moderation_opts, 0);
    ck_assert_ptr_null(gf_conf_policy_option(test_pool, &o, "insecure_loopback", "on"));
    ck_assert_int_eq(o.moderation_opts, 0);
    ck_assert_int_eq(o.insecure_loopback, 1);
    /* A deny list alone is a policy; moderation options without the URL
     * are not. */
    ck_assert_ptr_null(gf_conf_policy_whole(1, &o));
    ck_assert_str_eq(gf_conf_policy_whole(0, &o),
                     "give deny_list=FILE, moderation=URL or both (or off)");
    ck_assert_ptr_eq(gf_conf_policy_option(test_pool, &o, "key_env", "K"), GF_CONF_POLICY_READ);
    ck_assert_int_eq(o.moderation_opts, 1);
    ck_assert_str_eq(gf_conf_policy_whole(1, &o),
                     "key_file=, key_env=, model=, timeout=, on_error=, categories= and images= "
                     "go with moderation=URL");
    ck_assert_ptr_null(gf_conf_policy_option(test_pool, &o, "moderation", "https://m.example"));
    ck_assert_ptr_null(gf_conf_policy_whole(0, &o));
}
END_TEST

START_TEST(policy_values)
{
    gf_conf_policy_opts_t o;
    char model[102];

    memset(&o, 0, sizeof(o));
    ck_assert_ptr_null(gf_conf_policy_option(test_pool, &o, "timeout", "100"));
    ck_assert_ptr_null(gf_conf_policy_option(test_pool, &o, "timeout", "30000"));
    ck_assert_int_eq(o.timeout_ms, 30000);
    ck_assert_str_eq(gf_conf_policy_option(test_pool, &o, "timeout", "99"),
                     "timeout=99: a whole number from 100 to 30000");
    ck_assert_ptr_nonnull(gf_conf_policy_option(test_pool, &o, "timeout", "30001"));
    ck_assert_ptr_nonnull(gf_conf_policy_option(test_pool, &o, "timeout", "1s"));
    ck_assert_int_eq(o.timeout_ms, 30000);
    ck_assert_ptr_null(gf_conf_policy_option(test_pool, &o, "on_error", "allow"));
    ck_assert_int_eq(o.on_error_allow, 1);
    ck_assert_str_eq(gf_conf_policy_option(test_pool, &o, "on_error", "Allow"),
                     "on_error= is allow or deny");
    ck_assert_ptr_null(gf_conf_policy_option(test_pool, &o, "images", "on"));
    ck_assert_int_eq(o.images, 1);
    ck_assert_str_eq(gf_conf_policy_option(test_pool, &o, "images", "yes"),
                     "images= is on or off");
    ck_assert_str_eq(gf_conf_policy_option(test_pool, &o, "insecure_loopback", "1"),
                     "insecure_loopback= is on or off");
    ck_assert_ptr_null(gf_conf_policy_option(test_pool, &o, "categories", "a,,b"));
    ck_assert_int_eq(o.categories->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(o.categories, 1, const char *), "b");
    ck_assert_str_eq(gf_conf_policy_option(test_pool, &o, "categories", ",,"),
                     "categories= names at least one category");
    memset(model, 'm', 100);
    model[100] = '\0';
    ck_assert_ptr_null(gf_conf_policy_option(test_pool, &o, "model", model));
    model[100] = 'm';
    model[101] = '\0';
    ck_assert_str_eq(gf_conf_policy_option(test_pool, &o, "model", model),
                     "model= is a model name (at most 100 characters)");
    ck_assert_ptr_nonnull(gf_conf_policy_option(test_pool, &o, "model", "a\"b"));
    ck_assert_str_eq(gf_conf_policy_option(test_pool, &o, "colour", "red"),
                     "no option 'colour' (deny_list=, moderation=, key_file=, key_env=, "
                     "model=, timeout=, on_error=, categories=, images=, insecure_loopback=)");
}
END_TEST

START_TEST(policy_list_file)
{
    char path[] = "/tmp/gf-deny-XXXXXX";
    const gf_policy_list_t *l = NULL;
    int fd = mkstemp(path);
    static const char text[] = "# words\nbad word\nre:^x+$\n";

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (int)sizeof(text) - 1);
    close(fd);
    ck_assert_ptr_null(gf_conf_policy_list_read(test_pool, test_pool, path, "deny", &l));
    ck_assert_int_eq(gf_policy_list_size(l), 2);
    ck_assert_str_eq(gf_conf_policy_list_read(test_pool, test_pool, NULL, "deny", &l),
                     "deny_list=deny: cannot read the file");
    ck_assert_str_eq(gf_conf_policy_list_read(test_pool, test_pool, "/nonexistent/x", "x", &l),
                     "deny_list=x: cannot read the file");
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(fd, "re:(\n", 5), 5);
    close(fd);
    ck_assert_ptr_nonnull(strstr(gf_conf_policy_list_read(test_pool, test_pool, path, "d", &l),
                                 apr_psprintf(test_pool, "deny_list=%s: line 1", path)));
    unlink(path);
}
END_TEST

Suite *conf_parse_suite(void)
{
    Suite *s = suite_create("conf_parse");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, origins);
    tcase_add_test(tc, events_base);
    tcase_add_test(tc, admins);
    tcase_add_test(tc, budget_and_jobs);
    tcase_add_test(tc, small_values);
    tcase_add_test(tc, types);
    tcase_add_test(tc, priority);
    tcase_add_test(tc, settings);
    tcase_add_test(tc, needs_and_accepts);
    tcase_add_test(tc, policy_options);
    tcase_add_test(tc, policy_values);
    tcase_add_test(tc, policy_list_file);
    suite_add_tcase(s, tc);
    return s;
}
