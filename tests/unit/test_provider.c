/* test_provider.c: declarations, chains, the local provider and storage. */
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include "test_core.h"
#include "../../mod_genflow/gf_provider.h"
#include "../../mod_genflow/gf_storage.h"
#include "../../mod_genflow/gf_error.h"

START_TEST(declarations)
{
    const char *err = NULL;
    gf_provider_t *p = gf_provider_create(test_pool, "fast", "local", &err);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_null(gf_provider_option(test_pool, p, "model=m2"));
    ck_assert_str_eq(p->default_model, "m2");
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, p, "latency"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, p, "colour=red"));
    ck_assert_ptr_null(gf_provider_create(test_pool, "x", "dalle9", &err));
    ck_assert_ptr_nonnull(strstr(err, "unknown provider kind"));
    ck_assert_ptr_null(gf_provider_create(test_pool, "s", "stability", &err));
    ck_assert_ptr_nonnull(strstr(err, "not available"));
    ck_assert_ptr_null(gf_provider_create(test_pool, "bad name", "local", &err));
}
END_TEST

START_TEST(chains)
{
    gf_chain_entry_t e;
    ck_assert_ptr_null(gf_chain_entry_parse(test_pool, "fal:fal-ai/ghiblify", &e));
    ck_assert_str_eq(e.provider, "fal");
    ck_assert_str_eq(e.model, "fal-ai/ghiblify");
    ck_assert_ptr_null(gf_chain_entry_parse(test_pool, "local", &e));
    ck_assert_ptr_null(e.model);
    ck_assert_ptr_nonnull(gf_chain_entry_parse(test_pool, "fal:", &e));
    ck_assert_ptr_nonnull(gf_chain_entry_parse(test_pool, ":m", &e));
}
END_TEST

START_TEST(local_provider_renders)
{
    const char *err;
    gf_provider_t *p = gf_provider_create(test_pool, "local", "local", &err);
    gf_job_t job;
    gf_provider_result_t res;

    memset(&job, 0, sizeof(job));
    job.prompt = "a cat";
    job.seed = 3;
    job.aspect_ratio = "4:3";
    gf_provider_generate(p, &job, test_pool, &res);
    ck_assert_ptr_null(res.error_code);
    ck_assert_ptr_nonnull(res.image);
    ck_assert_str_eq(res.content_type, "image/png");
    ck_assert_str_eq(res.model, "local-glitch-v1");
}
END_TEST

START_TEST(local_storage)
{
    char tmpl[] = "/tmp/gf-storage-XXXXXX";
    const char *dir = mkdtemp(tmpl), *url = NULL, *err = NULL, *path;
    gf_storage_t *st;
    apr_finfo_t fi;

    ck_assert_ptr_nonnull(dir);
    st = gf_storage_local_create(test_pool, dir, "/media/");
    ck_assert_int_eq(gf_storage_put(st, test_pool, "neo-glitch/abc.png",
                                    (const unsigned char *)"PNGDATA", 7, "image/png",
                                    &url, &err), APR_SUCCESS);
    ck_assert_str_eq(url, "/media/neo-glitch/abc.png");
    path = apr_pstrcat(test_pool, dir, "/neo-glitch/abc.png", NULL);
    ck_assert_int_eq(apr_stat(&fi, path, APR_FINFO_SIZE, test_pool), APR_SUCCESS);
    ck_assert_int_eq(fi.size, 7);
    /* Keys that could leave the directory are refused. */
    ck_assert_int_ne(gf_storage_put(st, test_pool, "../escape.png",
                                    (const unsigned char *)"x", 1, "image/png", &url, &err),
                     APR_SUCCESS);
    /* An unwritable directory is an error, not a crash. */
    st = gf_storage_local_create(test_pool, "/proc/gf-no-such-dir", "/m");
    ck_assert_int_ne(gf_storage_put(st, test_pool, "a.png", (const unsigned char *)"x", 1,
                                    "image/png", &url, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(err);
    apr_file_remove(path, test_pool);
    apr_dir_remove(apr_pstrcat(test_pool, dir, "/neo-glitch", NULL), test_pool);
    apr_dir_remove(dir, test_pool);
}
END_TEST

START_TEST(error_table)
{
    ck_assert_str_eq(gf_error_code_for_status(401), "UNAUTHORIZED");
    ck_assert_str_eq(gf_error_code_for_status(413), "PAYLOAD_TOO_LARGE");
    ck_assert_str_eq(gf_error_code_for_status(503), "SERVICE_UNAVAILABLE");
    ck_assert_str_eq(gf_error_code_for_status(500), "INTERNAL_ERROR");
    ck_assert_str_eq(gf_error_json(test_pool, "X", "a \"b\""),
                     "{\"error\":{\"code\":\"X\",\"message\":\"a \\\"b\\\"\"}}");
}
END_TEST

Suite *provider_suite(void)
{
    Suite *s = suite_create("provider");
    TCase *tc = tcase_create("local");
    tcase_add_test(tc, declarations);
    tcase_add_test(tc, chains);
    tcase_add_test(tc, local_provider_renders);
    tcase_add_test(tc, local_storage);
    tcase_add_test(tc, error_table);
    suite_add_tcase(s, tc);
    return s;
}
