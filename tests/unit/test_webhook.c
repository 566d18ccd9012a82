/* SPDX-License-Identifier: Apache-2.0 */
/* test_webhook.c: webhook signatures against the documented test vector
 * (Replicate) and a freshly generated Ed25519 key (fal). */
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <apr_strings.h>
#include <apr_base64.h>

#include "test_core.h"
#include "webhooks/gf_webhook.h"
#include "providers/gf_provider.h"

#define VECTOR_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define VECTOR_ID     "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define VECTOR_TS     "1614265330"
#define VECTOR_BODY   "{\"test\": 2432232314}"
#define VECTOR_SIG    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

START_TEST(standard_webhooks_signature)
{
    /* The Standard Webhooks specification's example, as the reference
     * library (npm standardwebhooks 1.1.1) signs it. */
    ck_assert_str_eq(gf_webhook_sign(test_pool, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                     "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
                                     "{\"test\": 2432232314}", 20),
                     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    ck_assert_ptr_null(gf_webhook_secret_check(test_pool, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    ck_assert_ptr_nonnull(gf_webhook_secret_check(test_pool, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    ck_assert_ptr_nonnull(gf_webhook_secret_check(test_pool, "whsec_c2hvcnQ="));
    ck_assert_ptr_nonnull(gf_webhook_secret_check(test_pool, "whsec_not base64 at all!!!!!!!!!!!!"));
}
END_TEST

START_TEST(replicate_test_vector)
{
    apr_time_t at = apr_time_from_sec(1614265330 + 10);
    ck_assert_ptr_null(gf_webhook_verify_replicate(test_pool, VECTOR_SECRET, VECTOR_ID, VECTOR_TS,
                                                   VECTOR_SIG, VECTOR_BODY, strlen(VECTOR_BODY), at));
    /* Several signatures: any one matching is enough. */
    ck_assert_ptr_null(gf_webhook_verify_replicate(test_pool, VECTOR_SECRET, VECTOR_ID, VECTOR_TS,
                                                   "v1,AAAA " VECTOR_SIG, VECTOR_BODY,
                                                   strlen(VECTOR_BODY), at));
    /* Tampered body, id, signature; stale or malformed timestamps. */
    ck_assert_ptr_nonnull(gf_webhook_verify_replicate(test_pool, VECTOR_SECRET, VECTOR_ID, VECTOR_TS,
                                                      VECTOR_SIG, "{\"test\": 1}", 11, at));
    ck_assert_ptr_nonnull(gf_webhook_verify_replicate(test_pool, VECTOR_SECRET, "msg_other", VECTOR_TS,
                                                      VECTOR_SIG, VECTOR_BODY, strlen(VECTOR_BODY), at));
    ck_assert_ptr_nonnull(gf_webhook_verify_replicate(test_pool, VECTOR_SECRET, VECTOR_ID, VECTOR_TS,
                                                      "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=",
                                                      VECTOR_BODY, strlen(VECTOR_BODY), at));
    ck_assert_ptr_nonnull(gf_webhook_verify_replicate(test_pool, VECTOR_SECRET, VECTOR_ID, VECTOR_TS,
                                                      VECTOR_SIG, VECTOR_BODY, strlen(VECTOR_BODY),
                                                      apr_time_from_sec(1614265330 + 301)));
    ck_assert_ptr_nonnull(gf_webhook_verify_replicate(test_pool, VECTOR_SECRET, VECTOR_ID, "16142x",
                                                      VECTOR_SIG, VECTOR_BODY, strlen(VECTOR_BODY), at));
    ck_assert_ptr_nonnull(gf_webhook_verify_replicate(test_pool, VECTOR_SECRET, VECTOR_ID, VECTOR_TS,
                                                      NULL, VECTOR_BODY, strlen(VECTOR_BODY), at));
}
END_TEST

START_TEST(fal_ed25519)
{
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char pub[32], sig[64], digest[32];
    size_t publen = sizeof(pub), siglen = sizeof(sig);
    unsigned int dlen;
    char hex[65], sighex[129], b64[64], *c;
    const char *body = "{\"request_id\":\"r1\",\"status\":\"OK\"}", *msg, *err = NULL;
    apr_array_header_t *keys;
    apr_time_t now = apr_time_from_sec(1795300000);
    int i;

    ck_assert(EVP_PKEY_keygen_init(kctx) == 1 && EVP_PKEY_keygen(kctx, &key) == 1);
    ck_assert(EVP_PKEY_get_raw_public_key(key, pub, &publen) == 1);
    EVP_Digest(body, strlen(body), digest, &dlen, EVP_sha256(), NULL);
    for (i = 0; i < 32; i++) apr_snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    msg = apr_psprintf(test_pool, "r1\nuser-7\n1795300000\n%s", hex);
    ck_assert(EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1);
    ck_assert(EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)msg, strlen(msg)) == 1);
    for (i = 0; i < 64; i++) apr_snprintf(sighex + 2 * i, 3, "%02x", sig[i]);

    /* The public key as a JWKS document (base64url, no padding). */
    apr_base64_encode_binary(b64, pub, 32);
    for (c = b64; *c; c++) {
        if (*c == '+') *c = '-';
        else if (*c == '/') *c = '_';
        else if (*c == '=') *c = '\0';
    }
    keys = gf_webhook_load_fal_keys(test_pool, apr_psprintf(test_pool,
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}]}", b64), &err);
    ck_assert_msg(keys != NULL, "%s", err);
    ck_assert_ptr_null(gf_webhook_verify_fal(test_pool, keys, "r1", "user-7", "1795300000", sighex,
                                             body, strlen(body), now));
    ck_assert_ptr_nonnull(gf_webhook_verify_fal(test_pool, keys, "r2", "user-7", "1795300000", sighex,
                                                body, strlen(body), now));
    ck_assert_ptr_nonnull(gf_webhook_verify_fal(test_pool, keys, "r1", "user-7", "1795300000", sighex,
                                                "{}", 2, now));
    ck_assert_ptr_nonnull(gf_webhook_verify_fal(test_pool, keys, "r1", "user-7", "1795300000", sighex,
                                                body, strlen(body), now + apr_time_from_sec(400)));
    ck_assert_ptr_nonnull(gf_webhook_verify_fal(test_pool, keys, "r1", "user-7", "1795300000", "abc",
                                                body, strlen(body), now));
    /* One key per line works too; garbage does not. */
    ck_assert_ptr_nonnull(gf_webhook_load_fal_keys(test_pool, apr_pstrcat(test_pool, "# fal\n", b64,
                                                                          "\n", NULL), &err));
    ck_assert_ptr_null(gf_webhook_load_fal_keys(test_pool, "not-a-key!", &err));
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_CTX_free(kctx);
    EVP_PKEY_free(key);
}
END_TEST

/* The body is binary: a leading NUL and embedded NULs must be signed and
 * checked over body_len bytes (a C-string build once read past the copy and
 * crashed httpd). The expected MAC is computed here over the exact bytes. */
START_TEST(replicate_binary_body)
{
    static const char secret_raw[] = "0123456789abcdef0123456789abcdef";
    /* "whsec_" + base64(secret_raw) */
    const char *secret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    const char *id = "msg_nul", *ts = "1700000000";
    apr_time_t at = apr_time_from_sec(1700000000 + 5);
    apr_size_t len = 4096, i;
    char *body = apr_palloc(test_pool, len), *msg, sig[64];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    apr_size_t prefix;

    for (i = 0; i < len; i++) body[i] = (char)(i % 7 == 0 ? 0 : 'a' + i % 26);
    ck_assert_int_eq(body[0], 0);
    prefix = strlen(id) + 1 + strlen(ts) + 1;
    msg = apr_palloc(test_pool, prefix + len);
    apr_snprintf(msg, prefix + 1, "%s.%s.", id, ts);
    memcpy(msg + prefix, body, len);     /* the exact bytes, NULs included */
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), secret_raw, (int)strlen(secret_raw),
                               (const unsigned char *)msg, prefix + len, mac, &maclen));
    strcpy(sig, "v1,");
    apr_base64_encode_binary(sig + 3, mac, (int)maclen);

    ck_assert_ptr_null(gf_webhook_verify_replicate(test_pool, secret, id, ts, sig, body, len, at));
    ck_assert_ptr_nonnull(gf_webhook_verify_replicate(test_pool, secret, id, ts, "v1,AAAA",
                                                      body, len, at));
    /* Bytes after the first NUL count: change one, the MAC no longer fits. */
    body[len - 1] ^= 1;
    ck_assert_ptr_nonnull(gf_webhook_verify_replicate(test_pool, secret, id, ts, sig, body, len, at));
    /* A lone NUL body and an empty body are handled too, without a crash. */
    ck_assert_ptr_nonnull(gf_webhook_verify_replicate(test_pool, secret, id, ts, sig, "", 1, at));
    ck_assert_ptr_nonnull(gf_webhook_verify_replicate(test_pool, secret, id, ts, sig, "", 0, at));
}
END_TEST

/* Malformed key files are a clear error for the caller (startup then fails
 * with it), never a NULL dereference. */
START_TEST(fal_keys_malformed)
{
    static const char *const bad[] = {
        "{\"keys\":[{\"crv\":null}]}",
        "{\"keys\":[{\"x\":null}]}",
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}]}",
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":null}]}",
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":null,\"x\":\"AAAA\"}]}",
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":42}]}",
        "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"short\"}]}",
        "{\"keys\":[{\"kty\":7}]}",
        "{\"keys\":[null]}",
        "{\"keys\":[\"x\"]}",
        "{\"keys\":\"nope\"}",
        "{\"keys\":null}",
        "{\"nokeys\":[]}",
        "{\"keys\":[]}",
        "{\"keys\":[",
        "[]",
        "[{\"kty\":\"OKP\"}]",
        "",
    };
    const char *valid = "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"x\",\"e\":\"AQAB\"},"
                        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";
    apr_array_header_t *keys;
    const char *err;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        ck_assert_msg(gf_webhook_load_fal_keys(test_pool, bad[i], &err) == NULL,
                      "accepted: %s", bad[i]);
        ck_assert_msg(err && *err, "no message for: %s", bad[i]);
    }
    err = NULL;
    gf_webhook_load_fal_keys(test_pool, "{\"keys\":[{\"crv\":null}]}", &err);
    ck_assert_str_eq(err, "keys[0].crv is not a string");
    gf_webhook_load_fal_keys(test_pool, "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}]}", &err);
    ck_assert_str_eq(err, "keys[0] (Ed25519) has no \"x\"");
    gf_webhook_load_fal_keys(test_pool, "{\"keys\":\"nope\"}", &err);
    ck_assert_str_eq(err, "not a JWKS document: \"keys\" is not an array");

    /* The RFC 8037 example key; a non-OKP key beside it is skipped. */
    err = NULL;
    keys = gf_webhook_load_fal_keys(test_pool, valid, &err);
    ck_assert_msg(keys != NULL, "%s", err);
    ck_assert_int_eq(keys->nelts, 1);
    ck_assert_int_eq(APR_ARRAY_IDX(keys, 0, unsigned char *)[0], 0xd7);
    /* Line form with trailing blanks; a key followed by junk is refused. */
    ck_assert_ptr_nonnull(gf_webhook_load_fal_keys(
        test_pool, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo  \n", &err));
    ck_assert_ptr_null(gf_webhook_load_fal_keys(
        test_pool, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo!!\n", &err));
}
END_TEST

/* The glue verifies a delivery through the provider's kind alone: the
 * kinds that send webhooks carry their check and the member that names
 * the job, the others none. */
START_TEST(kind_methods)
{
    apr_time_t at = apr_time_from_sec(1614265330 + 10);
    apr_table_t *h = apr_table_make(test_pool, 4);
    const char *err = NULL;
    gf_provider_t *rep, *bare;

    setenv("GF_TEST_WHSEC", VECTOR_SECRET, 1);
    rep = gf_provider_create(test_pool, "rep", "replicate", &err);
    ck_assert_ptr_nonnull(rep);
    ck_assert_ptr_null(gf_provider_option(test_pool, rep, "webhook_secret_env=GF_TEST_WHSEC"));
    bare = gf_provider_create(test_pool, "bare", "replicate", &err);
    ck_assert_ptr_nonnull(bare);
    apr_table_set(h, "webhook-id", VECTOR_ID);
    apr_table_set(h, "webhook-timestamp", VECTOR_TS);
    apr_table_set(h, "webhook-signature", VECTOR_SIG);

    ck_assert_str_eq(gf_provider_kind_replicate.webhook_job_field, "id");
    ck_assert_ptr_null(rep->kind->webhook_verify(test_pool, rep, h, VECTOR_BODY,
                                                 strlen(VECTOR_BODY), at));
    ck_assert_ptr_nonnull(rep->kind->webhook_verify(test_pool, rep, h, "{}", 2, at));
    /* Declared without a secret: nothing it receives is believed. */
    ck_assert_ptr_nonnull(bare->kind->webhook_verify(test_pool, bare, h, VECTOR_BODY,
                                                     strlen(VECTOR_BODY), at));
    ck_assert_ptr_nonnull(gf_provider_kind_fal.webhook_verify);
    ck_assert_str_eq(gf_provider_kind_fal.webhook_job_field, "request_id");
    ck_assert_ptr_null(gf_provider_kind_stability.webhook_verify);
    ck_assert_ptr_null(gf_provider_kind_aiml.webhook_verify);
    ck_assert_ptr_null(gf_provider_kind_local.webhook_verify);
}
END_TEST

/* Rotation: a file of secrets, newest first, signs every delivery with
 * each, and the old secret's entry is the one it signed with alone. */
START_TEST(secret_rotation)
{
    const char *err = NULL, *all;
    apr_array_header_t *secrets;

    secrets = gf_webhook_secrets_parse(test_pool, "# newest first\n"
                                       "whsec_c2VjcmV0LW51bWJlci10d28taXMtbmV3ZXI=\r\n\n"
                                       "  " VECTOR_SECRET "  \n", &err);
    ck_assert_msg(secrets != NULL, "%s", err);
    ck_assert_int_eq(secrets->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(secrets, 1, const char *), VECTOR_SECRET);
    all = gf_webhook_sign_all(test_pool, secrets, VECTOR_ID, VECTOR_TS, VECTOR_BODY,
                              strlen(VECTOR_BODY));
    ck_assert_ptr_nonnull(all);
    ck_assert_ptr_nonnull(strchr(all, ' '));
    ck_assert_str_eq(strchr(all, ' ') + 1, VECTOR_SIG);
    ck_assert_ptr_null(gf_webhook_verify_replicate(test_pool, VECTOR_SECRET, VECTOR_ID, VECTOR_TS,
                                                   all, VECTOR_BODY, strlen(VECTOR_BODY),
                                                   apr_time_from_sec(1614265330)));
    ck_assert_ptr_null(gf_webhook_sign_all(test_pool, NULL, "a", "1", "", 0));

    /* Refusals name the line and never echo the secret. */
    ck_assert_ptr_null(gf_webhook_secrets_parse(test_pool, VECTOR_SECRET "\nnot-a-secret\n", &err));
    ck_assert_str_eq(err, "line 2: the secret must start with whsec_ (Standard Webhooks)");
    ck_assert_ptr_null(gf_webhook_secrets_parse(test_pool, "\n# only a comment\n", &err));
    ck_assert_str_eq(err, "no secret in the file");
    ck_assert_ptr_null(gf_webhook_secrets_parse(test_pool, apr_pstrcat(test_pool,
        VECTOR_SECRET "\n", VECTOR_SECRET "\n", VECTOR_SECRET "\n", VECTOR_SECRET "\n",
        VECTOR_SECRET "\n", VECTOR_SECRET "\n", VECTOR_SECRET "\n", VECTOR_SECRET "\n",
        VECTOR_SECRET "\n", NULL), &err));
    ck_assert_str_eq(err, "at most 8 secrets");
}
END_TEST

/* Retries double up to the cap, spread 80..120 %: the whole range is
 * reached, nothing outside it. */
START_TEST(retry_jitter)
{
    long lo = 1L << 30, hi = 0, d;
    apr_uint32_t r;

    for (r = 0; r < 41; r++) {
        d = gf_webhook_retry_delay_ms(1, 1, 7200, r);
        if (d < lo) lo = d;
        if (d > hi) hi = d;
    }
    ck_assert_int_eq(lo, 800);
    ck_assert_int_eq(hi, 1200);
    ck_assert_int_eq(gf_webhook_retry_delay_ms(1, 1, 7200, 41 + 5), 850);     /* rnd wraps */
    ck_assert_int_eq(gf_webhook_retry_delay_ms(5, 3, 7200, 20), 20000);      /* 5·2² at 100 % */
    ck_assert_int_eq(gf_webhook_retry_delay_ms(5, 40, 7200, 20), 7200000);   /* capped */
    ck_assert_int_eq(gf_webhook_retry_delay_ms(5, 40, 7200, 40), 8640000);   /* cap, then spread */
    ck_assert_int_eq(gf_webhook_retry_delay_ms(0, 1, 7200, 20), 1000);       /* at least 1 s */
}
END_TEST

Suite *webhook_suite(void)
{
    Suite *s = suite_create("webhook");
    TCase *tc = tcase_create("signatures");
    tcase_add_test(tc, standard_webhooks_signature);
    tcase_add_test(tc, replicate_test_vector);
    tcase_add_test(tc, fal_ed25519);
    tcase_add_test(tc, replicate_binary_body);
    tcase_add_test(tc, fal_keys_malformed);
    tcase_add_test(tc, kind_methods);
    tcase_add_test(tc, secret_rotation);
    tcase_add_test(tc, retry_jitter);
    suite_add_tcase(s, tc);
    return s;
}
