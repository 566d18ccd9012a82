/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_webhook_fal: fal's webhook keys and signatures (gf_webhook.c):
 * gf_webhook_load_fal_keys over a key file (JWKS or base64url lines) and
 * gf_webhook_verify_fal (hex signature, timestamp window, SHA-256 of the
 * raw body, Ed25519 under each key).
 *
 * Input: fields separated by a line "~~~":
 *   key file text, request id, user id, timestamp, signature hex, body
 * Properties: a key file that loads gives at least one key (each read as
 * 32 bytes: ASan checks); a refusal has a message; an accepted signature
 * has a fresh timestamp; a message signed here with a fixed Ed25519 key
 * verifies under the loaded keys plus that key (as JWKS and as a line),
 * and fails with one body byte changed. */
#include <stdlib.h>
#include <string.h>
#include <apr_base64.h>
#include <openssl/evp.h>
#include "fuzz_common.h"
#include "webhooks/gf_webhook.h"

#define NOW_SECS 1700000000

static EVP_PKEY *priv;
static unsigned char pub[32];
static char pub_b64url[64];

static void init_key(void)
{
    static const unsigned char seed[32] = "genflow fuzz fixed ed25519 seed";
    size_t n = sizeof(pub);
    char tmp[64], *c;
    if (priv) return;
    priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    if (!priv || EVP_PKEY_get_raw_public_key(priv, pub, &n) != 1) abort();
    apr_base64_encode_binary(tmp, pub, 32);
    for (c = tmp; *c; c++) {
        if (*c == '+') *c = '-';
        else if (*c == '/') *c = '_';
        else if (*c == '=') { *c = '\0'; break; }
    }
    strcpy(pub_b64url, tmp);
}

static const char *sign_hex(apr_pool_t *p, const char *rid, const char *uid, const char *ts,
                            const char *body, size_t body_len)
{
    unsigned char digest[32], sig[64];
    unsigned int dlen = 0;
    size_t siglen = sizeof(sig);
    char hex[65], *out;
    const char *msg;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int i;

    EVP_Digest(body, body_len, digest, &dlen, EVP_sha256(), NULL);
    for (i = 0; i < 32; i++) apr_snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    msg = apr_psprintf(p, "%s\n%s\n%s\n%s", rid, uid, ts, hex);
    if (!ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, priv) != 1
        || EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)msg, strlen(msg)) != 1) abort();
    EVP_MD_CTX_free(ctx);
    out = apr_palloc(p, 129);
    for (i = 0; i < 64; i++) apr_snprintf(out + 2 * i, 3, "%02X", sig[i]);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    apr_time_t now = apr_time_from_sec(NOW_SECS);
    char *f[6], *body;
    size_t lens[6];
    const char *err = NULL, *r, *fresh;
    apr_array_header_t *keys, *mine;
    int i;

    init_key();
    fuzz_fields(p, data, size, "\n~~~\n", 6, f, lens);
    body = apr_palloc(p, lens[5]);
    memcpy(body, f[5], lens[5]);

    keys = gf_webhook_load_fal_keys(p, f[0], &err);
    if (keys) {
        FUZZ_CHECK(keys->nelts > 0);
        for (i = 0; i < keys->nelts; i++) {
            const unsigned char *k = APR_ARRAY_IDX(keys, i, const unsigned char *);
            volatile unsigned char sum = 0;
            int b;
            for (b = 0; b < 32; b++) sum ^= k[b];   /* each key is 32 readable bytes */
            (void)sum;
        }
    }
    else {
        FUZZ_CHECK(err && *err);
    }
    (void)gf_webhook_load_fal_keys(p, NULL, &err);

    r = gf_webhook_verify_fal(p, keys, f[1], f[2], f[3], f[4], body, lens[5], now);
    if (!r) {
        long long ts = strtoll(f[3], NULL, 10);
        FUZZ_CHECK(keys && ts > 0 && llabs(ts - NOW_SECS) <= GF_WEBHOOK_TOLERANCE_SECS);
        FUZZ_CHECK(strlen(f[4]) == 128);
    }
    else {
        FUZZ_CHECK(*r);
    }

    /* Our key, as a JWKS and as a key line: both load to the same bytes. */
    mine = gf_webhook_load_fal_keys(p, apr_psprintf(p, "{\"keys\":[{\"kty\":\"OKP\",\"crv\":"
                                                       "\"Ed25519\",\"x\":\"%s\"}]}", pub_b64url),
                                    &err);
    FUZZ_CHECK(mine && mine->nelts == 1
               && !memcmp(APR_ARRAY_IDX(mine, 0, const unsigned char *), pub, 32));
    mine = gf_webhook_load_fal_keys(p, apr_psprintf(p, "# ours\n  %s  \n", pub_b64url), &err);
    FUZZ_CHECK(mine && mine->nelts == 1
               && !memcmp(APR_ARRAY_IDX(mine, 0, const unsigned char *), pub, 32));
    if (keys) {
        for (i = 0; i < keys->nelts; i++) {
            *(const unsigned char **)apr_array_push(mine) = APR_ARRAY_IDX(keys, i,
                                                                          const unsigned char *);
        }
    }
    fresh = apr_ltoa(p, NOW_SECS + 5);
    {
        const char *sig = sign_hex(p, f[1], f[2], fresh, body, lens[5]);
        FUZZ_CHECK(gf_webhook_verify_fal(p, mine, f[1], f[2], fresh, sig, body, lens[5], now)
                   == NULL);
        if (lens[5]) {
            char *t = apr_pmemdup(p, body, lens[5]);
            t[0] ^= 0x20;
            FUZZ_CHECK(gf_webhook_verify_fal(p, mine, f[1], f[2], fresh, sig, t, lens[5], now)
                       != NULL);
        }
    }
    fuzz_pool_end(p);
    return 0;
}
