/* SPDX-License-Identifier: Apache-2.0 */
/* test_provider.c: declarations, chains, the local provider and storage. */
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <pthread.h>
#include <poll.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "test_core.h"
#include "providers/gf_provider.h"
#include "providers/gf_provider_net.h"
#include "storage/gf_storage.h"
#include "core/gf_error.h"
#include "net/gf_abort.h"
#include "net/gf_http.h"
#include "net/gf_netaddr.h"
#include "core/gf_secret.h"
#include "core/gf_input.h"

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
    /* The known kinds are the table's, not a list kept by hand. */
    ck_assert_ptr_nonnull(strstr(err, "(known: local, stability, fal, replicate, aiml, openai, gemini, bfl, comfyui)"));
    p = gf_provider_create(test_pool, "s", "stability", &err);
    ck_assert_ptr_nonnull(p);
    /* Network kinds need a key, and https unless loopback http is allowed. */
    ck_assert_ptr_nonnull(strstr(p->kind->check(test_pool, p), "no API key"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, p, "key_env=GF_SURELY_UNSET_VARIABLE"));
    setenv("GF_TEST_KEY", "sk-secret", 1);
    ck_assert_ptr_null(gf_provider_option(test_pool, p, "key_env=GF_TEST_KEY"));
    ck_assert_ptr_null(p->kind->check(test_pool, p));
    ck_assert_ptr_null(gf_provider_option(test_pool, p, "base_url=http://example.com"));
    ck_assert_ptr_nonnull(p->kind->check(test_pool, p));
    ck_assert_ptr_null(gf_provider_option(test_pool, p, "base_url=http://127.0.0.1:9"));
    ck_assert_ptr_nonnull(p->kind->check(test_pool, p));
    ck_assert_ptr_null(gf_provider_option(test_pool, p, "insecure_loopback=on"));
    ck_assert_ptr_null(p->kind->check(test_pool, p));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, p, "timeout=soon"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, p, "colour=red"));
    /* A key never appears in what the checks say. */
    ck_assert_ptr_null(strstr(gf_provider_option(test_pool, p, "colour=red"), "sk-secret"));
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

START_TEST(local_simulations)
{
    const char *err;
    gf_provider_t *p = gf_provider_create(test_pool, "sim", "local", &err);
    gf_job_t job;
    gf_provider_result_t res;

    memset(&job, 0, sizeof(job));
    job.id = "g1";
    job.prompt = "x";
    ck_assert_ptr_null(gf_provider_option(test_pool, p, "fail=PROVIDER_CREDITS"));
    gf_provider_generate(p, &job, test_pool, &res);
    ck_assert_str_eq(res.error_code, "PROVIDER_CREDITS");
    ck_assert(!res.transient);
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, p, "fail=NOPE"));

    p = gf_provider_create(test_pool, "flaky", "local", &err);
    ck_assert_ptr_null(gf_provider_option(test_pool, p, "fail_rate=100"));
    ck_assert_ptr_null(gf_provider_option(test_pool, p, "retry_after=3"));
    gf_provider_generate(p, &job, test_pool, &res);
    ck_assert_str_eq(res.error_code, "NETWORK_ERROR");
    ck_assert(res.transient);
    ck_assert_int_eq(res.retry_after, apr_time_from_sec(3));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, p, "fail_rate=101"));

    /* async=2: accepted, running at the first poll, done at the second. */
    p = gf_provider_create(test_pool, "queue", "local", &err);
    ck_assert_ptr_null(gf_provider_option(test_pool, p, "async=2"));
    gf_provider_generate(p, &job, test_pool, &res);
    ck_assert_ptr_null(res.error_code);
    ck_assert_str_eq(res.provider_job_id, "local-g1");
    ck_assert_ptr_null(res.image);
    job.poll_count = 0;
    gf_provider_attempt(p, &job, "local-g1", test_pool, &res);
    ck_assert(res.running && !res.image);
    job.poll_count = 1;
    gf_provider_attempt(p, &job, "local-g1", test_pool, &res);
    ck_assert_ptr_nonnull(res.image);

    p = gf_provider_create(test_pool, "stuck", "local", &err);
    ck_assert_ptr_null(gf_provider_option(test_pool, p, "async=never"));
    job.poll_count = 500;
    gf_provider_attempt(p, &job, "local-g1", test_pool, &res);
    ck_assert(res.running);
}
END_TEST

START_TEST(chain_text)
{
    const char *err = NULL;
    apr_array_header_t *c = gf_chain_parse(test_pool, "fal:fal-ai/flux/dev,local", &err);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(c, 0, gf_chain_entry_t).model, "fal-ai/flux/dev");
    ck_assert_ptr_null(gf_chain_parse(test_pool, "", &err));
    ck_assert_ptr_null(gf_chain_parse(test_pool, "a,:m", &err));
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

/* The direct model APIs' own options: each value checked where it is
 * declared, so a typo stops httpd -t instead of reaching the provider. */
START_TEST(direct_kind_options)
{
    const char *err = NULL;
    gf_provider_t *o = gf_provider_create(test_pool, "o", "openai", &err);
    gf_provider_t *g = gf_provider_create(test_pool, "g", "gemini", &err);
    gf_provider_t *b = gf_provider_create(test_pool, "b", "bfl", &err);
    const gf_net_settings_t *ns;

    ck_assert_ptr_nonnull(o);
    ck_assert_ptr_nonnull(g);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_null(gf_provider_option(test_pool, o, "quality=high"));
    ck_assert_ptr_null(gf_provider_option(test_pool, o, "moderation=low"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, o, "quality=ultra"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, o, "background=hig"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, o, "output_format="));
    ns = o->impl;
    ck_assert_str_eq(ns->base_url, "https://api.openai.com/v1");
    ck_assert_str_eq(gf_net_kind_get(ns, "quality", "-"), "high");
    ck_assert_str_eq(gf_net_kind_get(ns, "background", "-"), "-");
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, g, "quality=high"));
    ck_assert_ptr_null(gf_provider_option(test_pool, b, "safety_tolerance=6"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, b, "safety_tolerance=7"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, b, "output_format=gif"));
    ck_assert_ptr_null(gf_provider_option(test_pool, b, "poll_hosts=*.bfl.ai,api.us1.bfl.ai"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, b, "poll_hosts=https://x.bfl.ai"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, b, "poll_hosts=x.bfl.ai:8443"));
    /* BFL is asynchronous: max_jobs= is its own (24 tasks an account). */
    ck_assert_ptr_null(gf_provider_option(test_pool, b, "max_jobs=24"));
    ck_assert_int_eq(gf_net_one_of("png", "jpeg|png|webp"), 1);
    ck_assert_int_eq(gf_net_one_of("pn", "jpeg|png|webp"), 0);
    ck_assert_int_eq(gf_net_one_of("", "jpeg|png|webp"), 0);
}
END_TEST

/* How many pictures one call of each kind brings: a count beyond it is
 * asked one call after another. */
START_TEST(pictures_per_call)
{
    const char *err = NULL;
    gf_provider_t *k;
#define PER_CALL(kind, opt, model, want)                                          \
    do {                                                                          \
        k = gf_provider_create(test_pool, "k", kind, &err);                       \
        ck_assert_ptr_nonnull(k);                                                 \
        if (opt) ck_assert_ptr_null(gf_provider_option(test_pool, k, opt));       \
        ck_assert_int_eq(gf_provider_max_count(k, model), want);                  \
    } while (0)
    PER_CALL("stability", NULL, NULL, 1);
    PER_CALL("bfl", NULL, "flux-kontext-pro", 1);
    PER_CALL("openai", NULL, NULL, 10);
    PER_CALL("openai", NULL, "dall-e-3", 1);
    PER_CALL("openai", "model=dall-e-3", NULL, 1);
    PER_CALL("fal", NULL, "fal-ai/flux/schnell", 4);
    PER_CALL("aiml", NULL, "dall-e-2", 10);
    PER_CALL("aiml", NULL, "dall-e-3", 1);
    PER_CALL("aiml", NULL, "flux/schnell", 4);
    PER_CALL("gemini", NULL, "imagen-4.0-generate-001", 4);
    PER_CALL("gemini", NULL, "gemini-2.5-flash-image", 1);
    PER_CALL("replicate", NULL, NULL, 1);
    PER_CALL("replicate", "count_input=num_outputs", NULL, 4);
    PER_CALL("local", NULL, NULL, GF_COUNT_MAX);
    PER_CALL("local", "per_call=1", NULL, 1);
    PER_CALL("local", "per_call=3", NULL, 3);
    PER_CALL("comfyui", NULL, NULL, 1);
#undef PER_CALL
    ck_assert_int_eq(gf_provider_max_count(NULL, NULL), 1);
    k = gf_provider_create(test_pool, "k", "local", &err);
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, k, "per_call=0"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, k, "per_call=11"));
}
END_TEST

/* A base64 picture: decoded when it is strict base64 of a PNG, JPEG or
 * WebP; anything else fails the call (transient) without a picture. */
START_TEST(b64_pictures)
{
    static const char PNG1[] = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";
    static const char *const BAD[] = {
        "iVBORw0K!!oAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC",
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmC",
        "bm90IGEgcGljdHVyZQ==",   /* "not a picture" */
        "iVBO=w0K",
        "",
    };
    const char *err = NULL;
    gf_provider_t *o = gf_provider_create(test_pool, "o", "openai", &err);
    gf_provider_result_t res;
    apr_size_t i;

    memset(&res, 0, sizeof(res));
    gf_net_b64_picture(test_pool, o, PNG1, strlen(PNG1), &res);
    ck_assert_ptr_null(res.error_code);
    ck_assert_ptr_nonnull(res.image);
    ck_assert_str_eq(res.content_type, "image/png");
    ck_assert_uint_eq(res.image_len, 69);
    for (i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        memset(&res, 0, sizeof(res));
        gf_net_b64_picture(test_pool, o, BAD[i], strlen(BAD[i]), &res);
        ck_assert_str_eq(res.error_code, "API_ERROR");
        ck_assert_int_eq(res.transient, 1);
        ck_assert_ptr_null(res.image);
    }
}
END_TEST

START_TEST(provider_costs)
{
    const char *err = NULL;
    gf_provider_t *prov = gf_provider_create(test_pool, "paid", "aiml", &err);
    gf_provider_result_t res;

    ck_assert_ptr_nonnull(prov);
    ck_assert_ptr_null(gf_provider_option(test_pool, prov, "cost=0.01"));
    ck_assert_ptr_null(gf_provider_option(test_pool, prov, "cost_per_unit=0.0000001"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, prov, "cost=cheap"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, prov, "cost=-1"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, prov, "cost_per_unit=1e7"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, prov, "cost="));
    /* A delivered picture with its reported usage: both parts. */
    memset(&res, 0, sizeof(res));
    res.image_url = "https://x/y.png";
    res.usage = 120000;
    ck_assert_double_eq_tol(gf_provider_attempt_cost(prov, &res), 0.022, 1e-12);
    /* A failure that reported a usage (a failed prediction ran): the usage only. */
    res.error_code = "API_ERROR";
    ck_assert_double_eq_tol(gf_provider_attempt_cost(prov, &res), 0.012, 1e-12);
    /* Nothing reported, nothing delivered: nothing. */
    memset(&res, 0, sizeof(res));
    res.provider_job_id = "job";
    res.running = 1;
    ck_assert_double_eq_tol(gf_provider_attempt_cost(prov, &res), 0, 1e-12);
}
END_TEST

START_TEST(s3_presigned_url)
{
    gf_storage_t *st;
    char *aws[] = { "bucket=examplebucket", "region=us-east-1", "endpoint=https://s3.amazonaws.com",
                    "style=virtual", "key_env=GF_TEST_S3_KEY", "secret_env=GF_TEST_S3_SECRET",
                    "presign=86400" };
    char *both[] = { "bucket=examplebucket", "region=us-east-1", "endpoint=https://s3.amazonaws.com",
                     "key_env=GF_TEST_S3_KEY", "secret_env=GF_TEST_S3_SECRET",
                     "presign=600", "public_url=https://cdn.example.com" };
    apr_time_exp_t t;
    apr_time_t when;

    /* AWS's published example of a presigned URL (Amazon S3 API
     * reference, "Authenticating Requests: Using Query Parameters"). */
    setenv("GF_TEST_S3_KEY", "AKIAIOSFODNN7EXAMPLE", 1);
    setenv("GF_TEST_S3_SECRET", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 1);
    ck_assert_ptr_null(gf_storage_s3_create(test_pool, 7, aws, &st));
    memset(&t, 0, sizeof(t));
    t.tm_year = 113;
    t.tm_mon = 4;
    t.tm_mday = 24;
    ck_assert_int_eq(apr_time_exp_gmt_get(&when, &t), APR_SUCCESS);
    ck_assert_str_eq(gf_s3_presign(test_pool, gf_storage_s3_of(st), "test.txt", when, 86400),
                     "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                     "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                     "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                     "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    /* The public URL of a presigning bucket is a presigned one. */
    ck_assert_ptr_nonnull(strstr(gf_s3_public_url(test_pool, gf_storage_s3_of(st), "a.png"),
                                 "&X-Amz-Expires=86400&"));
    ck_assert_ptr_nonnull(gf_storage_s3_create(test_pool, 7, both, &st));
}
END_TEST

START_TEST(local_storage_lists)
{
    char tmpl[] = "/tmp/gf-list-XXXXXX";
    const char *dir = mkdtemp(tmpl), *url = NULL, *err = NULL;
    const char *names[] = { "uploads/c.png", "uploads/a.png", "uploads/b.webp.Xy12Zw",
                            "neo-glitch/z.png" };
    gf_storage_t *st;
    apr_array_header_t *objs;
    unsigned i;

    ck_assert_ptr_nonnull(dir);
    st = gf_storage_local_create(test_pool, dir, "/media");
    /* Nothing stored yet: an empty list, not an error. */
    ck_assert_int_eq(gf_storage_list(st, test_pool, "uploads/", NULL, 10, &objs, &err), APR_SUCCESS);
    ck_assert_int_eq(objs->nelts, 0);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ck_assert_int_eq(gf_storage_put(st, test_pool, names[i], (const unsigned char *)"x", 1,
                                        "image/png", &url, &err), APR_SUCCESS);
    }
    /* The folder only, in key order, cut to max; then on after a key. */
    ck_assert_int_eq(gf_storage_list(st, test_pool, "uploads/", NULL, 2, &objs, &err), APR_SUCCESS);
    ck_assert_int_eq(objs->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(objs, 0, gf_storage_object_t).key, "uploads/a.png");
    ck_assert_str_eq(APR_ARRAY_IDX(objs, 1, gf_storage_object_t).key, "uploads/b.webp.Xy12Zw");
    ck_assert(APR_ARRAY_IDX(objs, 0, gf_storage_object_t).mtime > 0);
    ck_assert_int_eq(gf_storage_list(st, test_pool, "uploads/", "uploads/b.webp.Xy12Zw", 2, &objs,
                                     &err), APR_SUCCESS);
    ck_assert_int_eq(objs->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(objs, 0, gf_storage_object_t).key, "uploads/c.png");
    /* A prefix that could leave the directory is refused. */
    ck_assert_int_ne(gf_storage_list(st, test_pool, "../", NULL, 2, &objs, &err), APR_SUCCESS);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) gf_storage_remove(st, test_pool, names[i]);
    apr_dir_remove(apr_pstrcat(test_pool, dir, "/uploads", NULL), test_pool);
    apr_dir_remove(apr_pstrcat(test_pool, dir, "/neo-glitch", NULL), test_pool);
    apr_dir_remove(dir, test_pool);
}
END_TEST

START_TEST(cloudinary_signatures)
{
    apr_table_t *params = apr_table_make(test_pool, 8);
    gf_storage_t *st;
    char *argv_ok[] = { "cloud=demo", "api_key=123", "secret_env=GF_TEST_CLOUD_SECRET" };
    char *argv_bad[] = { "cloud=demo" };
    const char *vector = "cloud_name=dn6ot3ged&timestamp=1568810420&username=user@cloudinary.com";

    /* pycloudinary's published signature test vectors (docs/providers.md, "Cloudinary"). */
    ck_assert_str_eq(gf_cloudinary_digest(test_pool, vector, "hdcixPpR2iKERPwqvH6sHdK9cyac", "sha1"),
                     "14c00ba6d0dfdedbc86b316847d95b9e6cd46d94");
    ck_assert_str_eq(gf_cloudinary_digest(test_pool, vector, "hdcixPpR2iKERPwqvH6sHdK9cyac", "sha256"),
                     "45ddaa4fa01f0c2826f32f669d2e4514faf275fe6df053f1a150e7beae58a3bd");
    /* What an upload signs: sorted, non-empty, without file, cloud_name,
     * resource_type, api_key; booleans as 1/0. */
    apr_table_set(params, "timestamp", "1568810420");
    apr_table_set(params, "public_id", "neo-glitch/abc");
    apr_table_set(params, "overwrite", "1");
    apr_table_set(params, "api_key", "123");
    apr_table_set(params, "file", "bytes");
    apr_table_set(params, "cloud_name", "demo");
    apr_table_set(params, "resource_type", "image");
    apr_table_set(params, "folder", "");
    ck_assert_str_eq(gf_cloudinary_string_to_sign(test_pool, params),
                     "overwrite=1&public_id=neo-glitch/abc&timestamp=1568810420");
    ck_assert_str_eq(gf_cloudinary_sign(test_pool, params, "s3cret", "sha1"),
                     gf_cloudinary_digest(test_pool, "overwrite=1&public_id=neo-glitch/abc"
                                          "&timestamp=1568810420", "s3cret", "sha1"));
    setenv("GF_TEST_CLOUD_SECRET", "s3cret", 1);
    ck_assert_ptr_null(gf_storage_cloudinary_create(test_pool, 3, argv_ok, &st));
    ck_assert_str_eq(st->backend, "cloudinary");
    ck_assert_ptr_nonnull(gf_storage_cloudinary_create(test_pool, 1, argv_bad, &st));
}
END_TEST

START_TEST(s3_options_and_urls)
{
    gf_storage_t *st;
    const gf_s3_t *s3;
    char *path[] = { "bucket=pics", "region=eu-west-1", "endpoint=https://s3.example.com/",
                     "key_env=GF_TEST_S3_KEY", "secret_env=GF_TEST_S3_SECRET", "prefix=gen/" };
    char *virt[] = { "bucket=pics", "region=auto", "endpoint=https://r2.example.com:8443",
                     "key_env=GF_TEST_S3_KEY", "secret_env=GF_TEST_S3_SECRET", "style=virtual",
                     "public_url=https://cdn.example.com/media/" };
    char *bad[][6] = {
        { "bucket=Pics", "region=r", "endpoint=https://s3.example.com",
          "key_env=GF_TEST_S3_KEY", "secret_env=GF_TEST_S3_SECRET", "style=path" },
        { "bucket=pics", "region=r", "endpoint=https://s3.example.com/bucket",
          "key_env=GF_TEST_S3_KEY", "secret_env=GF_TEST_S3_SECRET", "style=path" },
        { "bucket=pics", "region=r", "endpoint=http://s3.example.com",
          "key_env=GF_TEST_S3_KEY", "secret_env=GF_TEST_S3_SECRET", "style=path" },
        { "bucket=pics", "region=r", "endpoint=https://s3.example.com",
          "key_env=GF_TEST_S3_KEY", "secret_env=GF_TEST_S3_SECRET", "prefix=/x/" },
        { "bucket=pics", "region=r", "endpoint=https://s3.example.com",
          "key_env=GF_TEST_S3_KEY", "secret_env=GF_TEST_S3_SECRET", "style=dns" },
        { "bucket=pics", "region=r", "endpoint=https://s3.example.com",
          "key_env=GF_TEST_S3_KEY", "style=path", "prefix=a/" },
    };
    unsigned i;

    setenv("GF_TEST_S3_KEY", "AKIDEXAMPLE", 1);
    setenv("GF_TEST_S3_SECRET", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    ck_assert_ptr_null(gf_storage_s3_create(test_pool, 6, path, &st));
    ck_assert_str_eq(st->backend, "s3");
    ck_assert_ptr_nonnull(st->remove);
    ck_assert_ptr_nonnull(s3 = gf_storage_s3_of(st));
    /* Path style: the bucket is the path's first segment. */
    ck_assert_str_eq(gf_s3_object_url(test_pool, s3, "neo-glitch/a.png"),
                     "https://s3.example.com/pics/gen/neo-glitch/a.png");
    ck_assert_str_eq(gf_s3_public_url(test_pool, s3, "neo-glitch/a.png"),
                     "https://s3.example.com/pics/gen/neo-glitch/a.png");
    /* Virtual-host style: the bucket is the host's first label, the port
     * stays; clients load from public_url. */
    ck_assert_ptr_null(gf_storage_s3_create(test_pool, 7, virt, &st));
    s3 = gf_storage_s3_of(st);
    ck_assert_str_eq(gf_s3_object_url(test_pool, s3, "uploads/b.webp"),
                     "https://pics.r2.example.com:8443/uploads/b.webp");
    ck_assert_str_eq(gf_s3_public_url(test_pool, s3, "uploads/b.webp"),
                     "https://cdn.example.com/media/uploads/b.webp");
    ck_assert_ptr_null(gf_storage_s3_of(gf_storage_local_create(test_pool, "/tmp", "/media")));
    /* An upper-case bucket, an endpoint with a path, plain http without
     * insecure_loopback, a prefix from the root, an unknown style, no
     * secret: each refused with a reason. */
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_ptr_nonnull(gf_storage_s3_create(test_pool, 6, bad[i], &st));
    }
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

/* ---- gf_http: connection reuse and the abort flag ------------------------
 * A loopback HTTP/1.1 server in a thread: answers every request with a
 * small Content-Length body on a kept-alive connection (or, when silent,
 * never answers) and counts the connections it accepted. */
typedef struct {
    int lfd, stop[2], port, silent;
    int accepted;              /* read by the test after srv_stop */
    pthread_t thread;
} srv_t;

static void *srv_main(void *baton)
{
    srv_t *s = baton;
    struct pollfd fds[10];
    char buf[10][4096];
    size_t len[10];
    int n = 2, i;
    static const char answer[] =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";

    fds[0].fd = s->lfd;
    fds[1].fd = s->stop[0];
    fds[0].events = fds[1].events = POLLIN;
    for (;;) {
        if (poll(fds, (nfds_t)n, -1) < 0 || fds[1].revents) break;
        if ((fds[0].revents & POLLIN) && n < 10) {
            int c = accept(s->lfd, NULL, NULL);
            if (c >= 0) {
                s->accepted++;
                fds[n].fd = c;
                fds[n].events = POLLIN;
                fds[n].revents = 0;
                len[n++] = 0;
            }
        }
        for (i = 2; i < n; i++) {
            ssize_t r;
            char *end;
            if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
            r = read(fds[i].fd, buf[i] + len[i], sizeof(buf[i]) - 1 - len[i]);
            if (r <= 0) {   /* the client closed: forget the connection */
                close(fds[i].fd);
                fds[i] = fds[n - 1];
                len[i] = len[n - 1];
                memcpy(buf[i], buf[n - 1], len[i]);
                n--;
                i--;
                continue;
            }
            len[i] += (size_t)r;
            buf[i][len[i]] = '\0';
            /* GET requests only: a request ends at the blank line. */
            while ((end = strstr(buf[i], "\r\n\r\n")) != NULL) {
                size_t used = (size_t)(end + 4 - buf[i]);
                if (!s->silent && write(fds[i].fd, answer, sizeof(answer) - 1) < 0) {
                    break;   /* the client will see a failure */
                }
                memmove(buf[i], buf[i] + used, len[i] - used + 1);
                len[i] -= used;
            }
        }
    }
    for (i = 2; i < n; i++) close(fds[i].fd);
    return NULL;
}

static void srv_start(srv_t *s, int silent)
{
    memset(s, 0, sizeof(*s));
    s->silent = silent;
    s->lfd = test_listen_loopback(8, &s->port);
    ck_assert_int_eq(pipe(s->stop), 0);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, srv_main, s), 0);
}

static int srv_stop(srv_t *s)
{
    test_server_stop(s->thread, s->lfd, s->stop);
    return s->accepted;
}

static void srv_get(srv_t *s, long timeout_ms, gf_http_response_t *res)
{
    gf_http_request_t req;
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = apr_psprintf(test_pool, "http://127.0.0.1:%d/x", s->port);
    req.timeout_ms = timeout_ms;
    req.allow_loopback_http = 1;
    gf_http_perform(test_pool, &req, res);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(http_reuses_connection)
{
    srv_t s;
    gf_http_response_t res;
    int i;

    gf_http_global_init();
    srv_start(&s, 0);
    for (i = 0; i < 3; i++) {
        srv_get(&s, 3000, &res);
        ck_assert_msg(res.status == 200, "call %d: %s", i, res.error ? res.error : "");
        ck_assert_str_eq(res.body, "ok");
        ck_assert_int_eq(res.aborted, 0);
    }
    gf_http_thread_cleanup();
    ck_assert_int_eq(srv_stop(&s), 1);   /* three calls, one connection */
}
END_TEST

START_TEST(http_thread_cleanup)
{
    srv_t s;
    gf_http_response_t res;

    gf_http_global_init();
    gf_http_thread_cleanup();            /* no handle yet: harmless */
    srv_start(&s, 0);
    srv_get(&s, 3000, &res);
    ck_assert_int_eq(res.status, 200);
    gf_http_thread_cleanup();
    gf_http_thread_cleanup();            /* twice: harmless */
    srv_get(&s, 3000, &res);             /* a fresh handle, a new connection */
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(res.body, "ok");
    gf_http_thread_cleanup();
    ck_assert_int_eq(srv_stop(&s), 2);
}
END_TEST

static volatile int abort_flag;

static void *raise_abort(void *baton)
{
    struct timespec ts = { 0, 200 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    abort_flag = 1;
    return NULL;
}

START_TEST(http_abort_flag)
{
    srv_t s;
    gf_http_response_t res;
    pthread_t t;
    double t0, took;

    gf_http_global_init();
    abort_flag = 0;
    gf_abort_set_flag(&abort_flag);
    ck_assert_int_eq(gf_abort_raised(), 0);
    srv_start(&s, 1);                    /* accepts, never answers */
    ck_assert_int_eq(pthread_create(&t, NULL, raise_abort, NULL), 0);
    t0 = now_s();
    srv_get(&s, 10000, &res);
    took = now_s() - t0;
    pthread_join(t, NULL);
    ck_assert_msg(took < 2.0, "the aborted call took %.3f s", took);
    ck_assert_int_eq(res.aborted, 1);
    ck_assert_int_eq(res.status, 0);
    ck_assert_int_eq(res.transient, 1);
    ck_assert_ptr_nonnull(strstr(res.error, "aborted"));
    ck_assert_int_eq(gf_abort_raised(), 1);
    /* While the flag stays up, new calls fail at once. */
    srv_get(&s, 10000, &res);
    ck_assert_int_eq(res.aborted, 1);
    gf_abort_set_flag(NULL);
    ck_assert_int_eq(gf_abort_raised(), 0);
    gf_http_thread_cleanup();
    srv_stop(&s);
}
END_TEST

static const char *secret_file(const char *bytes, apr_size_t n)
{
    char *path = apr_pstrdup(test_pool, "/tmp/gf-secret-XXXXXX");
    apr_file_t *f;
    ck_assert_int_eq(apr_file_mktemp(&f, path, APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL,
                                     test_pool), APR_SUCCESS);
    ck_assert_int_eq(apr_file_write_full(f, bytes, n, NULL), APR_SUCCESS);
    apr_file_close(f);
    return path;
}

START_TEST(secrets_are_one_printable_word)
{
    const char *secret = NULL, *path, *err = NULL;
    gf_provider_t *prov;

    path = secret_file("  sk-abc_123\n", 13);
    ck_assert_ptr_null(gf_secret_from_file(test_pool, "key_file", path, &secret));
    ck_assert_str_eq(secret, "sk-abc_123");
    apr_file_remove(path, test_pool);
    path = secret_file("sk-a\0bc\n", 8);             /* a NUL would cut the key short */
    ck_assert_ptr_nonnull(strstr(gf_secret_from_file(test_pool, "key_file", path, &secret), "NUL"));
    apr_file_remove(path, test_pool);
    path = secret_file("sk-a\r\nX-Injected: 1\n", 21);   /* a header of its own */
    ck_assert_ptr_nonnull(gf_secret_from_file(test_pool, "key_file", path, &secret));
    apr_file_remove(path, test_pool);
    path = secret_file("{\"keys\":[]}\n", 12);        /* text files may hold spaces */
    ck_assert_ptr_null(gf_secret_text_from_file(test_pool, "webhook_keys_file", path, &secret));
    apr_file_remove(path, test_pool);
    path = secret_file("\xff\xfe", 2);
    ck_assert_ptr_nonnull(gf_secret_text_from_file(test_pool, "webhook_keys_file", path, &secret));
    apr_file_remove(path, test_pool);
    /* Options from the configuration are text, and models fit in a URL path. */
    prov = gf_provider_create(test_pool, "f", "fal", &err);
    ck_assert_ptr_nonnull(prov);
    ck_assert_ptr_null(gf_provider_option(test_pool, prov, "model=fal-ai/flux/dev"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, prov, "model=a b"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, prov, "model=x?y=1"));
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, prov, "webhook_url=https://a/\x01"));
    setenv("GF_TEST_BAD_KEY", "sk-a b", 1);
    ck_assert_ptr_nonnull(gf_provider_option(test_pool, prov, "key_env=GF_TEST_BAD_KEY"));
}
END_TEST

START_TEST(netaddr_public_and_not)
{
    static const char *const refused[] = {
        "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "127.0.0.1", "127.9.9.9",
        "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255",
        "192.0.2.1", "198.18.0.1", "::1", "::", "fe80::1", "fd00:ec2::254", "fc00::1",
        "ff02::1", "2001:db8::1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
        "64:ff9b::a00:1", "::127.0.0.1", "not-an-address", NULL
    };
    static const char *const public[] = {
        "8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "100.63.255.255",
        "100.128.0.1", "192.169.0.1", "2606:4700::1111", "2a00:1450:4001::200e",
        "::ffff:8.8.8.8", "64:ff9b::808:808", NULL
    };
    int i;

    for (i = 0; refused[i]; i++) {
        ck_assert_msg(gf_netaddr_refusal_text(refused[i], 0) != NULL, "%s was let through",
                      refused[i]);
    }
    for (i = 0; public[i]; i++) {
        ck_assert_msg(gf_netaddr_refusal_text(public[i], 0) == NULL, "%s was refused: %s",
                      public[i], gf_netaddr_refusal_text(public[i], 0));
    }
    /* insecure_loopback lets loopback through, and nothing else. */
    ck_assert_ptr_null(gf_netaddr_refusal_text("127.0.0.1", 1));
    ck_assert_ptr_null(gf_netaddr_refusal_text("::1", 1));
    ck_assert_ptr_null(gf_netaddr_refusal_text("::ffff:127.0.0.1", 1));
    ck_assert_ptr_nonnull(gf_netaddr_refusal_text("10.0.0.1", 1));
    ck_assert_ptr_nonnull(gf_netaddr_refusal_text("169.254.169.254", 1));
    ck_assert_ptr_nonnull(strstr(gf_netaddr_refusal_text("169.254.169.254", 0), "link-local"));
}
END_TEST

START_TEST(http_origin_rule)
{
    const char *base = "https://queue.fal.run";
    /* Plain http to loopback only, names under .localhost included. */
    ck_assert_ptr_null(gf_http_check_url(test_pool, "http://genflow-pics.localhost:9000/k", 1));
    ck_assert_ptr_null(gf_http_check_url(test_pool, "http://127.0.0.1:9000/k", 1));
    ck_assert_ptr_nonnull(gf_http_check_url(test_pool, "http://localhost.example.com/k", 1));
    ck_assert_ptr_nonnull(gf_http_check_url(test_pool, "http://genflow-pics.localhost/k", 0));
    ck_assert_ptr_null(gf_http_check_origin(test_pool, "https://queue.fal.run/x/requests/1", base));
    ck_assert_ptr_null(gf_http_check_origin(test_pool, "HTTPS://Queue.Fal.Run:443/a", base));
    ck_assert_ptr_null(gf_http_check_origin(test_pool, "http://127.0.0.1:8/x",
                                            "http://127.0.0.1:8/api"));
    ck_assert_ptr_nonnull(gf_http_check_origin(test_pool, "https://evil.example/x", base));
    ck_assert_ptr_nonnull(gf_http_check_origin(test_pool, "https://queue.fal.run.evil.example/",
                                               base));
    ck_assert_ptr_nonnull(gf_http_check_origin(test_pool, "https://queue.fal.run:8443/x", base));
    ck_assert_ptr_nonnull(gf_http_check_origin(test_pool, "http://queue.fal.run/x", base));
    ck_assert_ptr_nonnull(gf_http_check_origin(test_pool, "https://u:p@queue.fal.run/x", base));
    ck_assert_ptr_nonnull(gf_http_check_origin(test_pool, "/relative", base));
    ck_assert_ptr_nonnull(gf_http_check_origin(test_pool, "http://127.0.0.1:9/x",
                                               "http://127.0.0.1:8"));
}
END_TEST

START_TEST(http_refuses_before_sending)
{
    srv_t s;
    gf_http_request_t req;
    gf_http_response_t res;

    gf_http_global_init();
    srv_start(&s, 0);
    /* Off its origin: nothing leaves, the server sees no connection. */
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = apr_psprintf(test_pool, "http://127.0.0.1:%d/x", s.port);
    req.origin = apr_psprintf(test_pool, "http://127.0.0.1:%d", s.port == 1 ? 2 : s.port - 1);
    req.allow_loopback_http = 1;
    gf_http_perform(test_pool, &req, &res);
    ck_assert_int_eq(res.refused, 1);
    ck_assert_int_eq(res.transient, 0);
    ck_assert_int_eq(res.status, 0);
    ck_assert_ptr_nonnull(strstr(res.error, "origin"));
    /* A public_only download to loopback without insecure_loopback:
     * refused before connecting. */
    req.origin = NULL;
    req.public_only = 1;
    req.allow_loopback_http = 0;
    req.url = apr_psprintf(test_pool, "https://127.0.0.1:%d/x", s.port);
    gf_http_perform(test_pool, &req, &res);
    ck_assert_int_eq(res.refused, 1);
    ck_assert_int_eq(res.transient, 0);
    ck_assert_ptr_nonnull(strstr(res.error, "loopback"));
    gf_http_thread_cleanup();
    ck_assert_int_eq(srv_stop(&s), 0);
}
END_TEST

START_TEST(http_public_only_with_loopback_allowed)
{
    srv_t s;
    gf_http_request_t req;
    gf_http_response_t res;

    gf_http_global_init();
    srv_start(&s, 0);
    srv_get(&s, 3000, &res);             /* opens a connection to loopback */
    ck_assert_int_eq(res.status, 200);
    /* The same host again, now public_only with insecure_loopback: both
     * address checks (the new-socket one does not run, the connection is
     * reused; the prereq one does) let loopback through. */
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = apr_psprintf(test_pool, "http://127.0.0.1:%d/x", s.port);
    req.allow_loopback_http = 1;
    req.public_only = 1;
    gf_http_perform(test_pool, &req, &res);
    ck_assert_int_eq(res.status, 200);   /* loopback allowed: fine */
    ck_assert_int_eq(res.refused, 0);
    gf_http_thread_cleanup();
    ck_assert_int_eq(srv_stop(&s), 1);   /* and it did reuse the connection */
}
END_TEST

Suite *provider_suite(void)
{
    Suite *s = suite_create("provider");
    TCase *tc = tcase_create("local");
    tcase_add_test(tc, declarations);
    tcase_add_test(tc, chains);
    tcase_add_test(tc, local_provider_renders);
    tcase_add_test(tc, local_simulations);
    tcase_add_test(tc, chain_text);
    tcase_add_test(tc, local_storage);
    tcase_add_test(tc, local_storage_lists);
    tcase_add_test(tc, s3_presigned_url);
    tcase_add_test(tc, provider_costs);
    tcase_add_test(tc, cloudinary_signatures);
    tcase_add_test(tc, s3_options_and_urls);
    tcase_add_test(tc, error_table);
    suite_add_tcase(s, tc);
    tc = tcase_create("http");
    tcase_add_test(tc, http_reuses_connection);
    tcase_add_test(tc, http_thread_cleanup);
    tcase_add_test(tc, http_abort_flag);
    tcase_add_test(tc, netaddr_public_and_not);
    tcase_add_test(tc, secrets_are_one_printable_word);
    tcase_add_test(tc, direct_kind_options);
    tcase_add_test(tc, b64_pictures);
    tcase_add_test(tc, pictures_per_call);
    tcase_add_test(tc, http_origin_rule);
    tcase_add_test(tc, http_refuses_before_sending);
    tcase_add_test(tc, http_public_only_with_loopback_allowed);
    suite_add_tcase(s, tc);
    return s;
}
