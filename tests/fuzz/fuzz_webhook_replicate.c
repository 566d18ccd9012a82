/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_webhook_replicate: Replicate's webhook signature check
 * (gf_webhook_verify_replicate): header parsing ("v1,<base64>" entries,
 * space separated), the whsec_ secret, the timestamp window, the HMAC over
 * the raw body (NULs included).
 *
 * Input: fields separated by a line "~~~":
 *   secret, webhook-id, webhook-timestamp, webhook-signature, body (rest)
 * Properties: an accepted signature has a fresh timestamp (300 s) and one
 * entry equal to the HMAC computed here; a signature made here with the
 * input's secret, id and body verifies, and fails once one body byte
 * changes. */
#include <stdlib.h>
#include <string.h>
#include <apr_base64.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "fuzz_common.h"
#include "webhooks/gf_webhook.h"

#define NOW_SECS 1700000000

/* "v1,<base64 HMAC-SHA256(key, id.ts.body)>", or NULL without a usable key. */
static const char *sign(apr_pool_t *p, const char *secret, const char *id, const char *ts,
                        const char *body, size_t body_len)
{
    const char *b64 = !strncmp(secret, "whsec_", 6) ? secret + 6 : secret;
    unsigned char *key, mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int keylen;
    char *msg, *out;
    size_t idl = strlen(id), tsl = strlen(ts);

    if (apr_base64_decode_len(b64) > 256) return NULL;
    key = apr_palloc(p, (apr_size_t)apr_base64_decode_len(b64) + 1);
    keylen = apr_base64_decode_binary(key, b64);
    if (keylen <= 0) return NULL;
    msg = apr_palloc(p, idl + tsl + body_len + 2);
    memcpy(msg, id, idl);
    msg[idl] = '.';
    memcpy(msg + idl + 1, ts, tsl);
    msg[idl + 1 + tsl] = '.';
    memcpy(msg + idl + tsl + 2, body, body_len);
    if (!HMAC(EVP_sha256(), key, keylen, (unsigned char *)msg, idl + tsl + body_len + 2,
              mac, &maclen)) return NULL;
    out = apr_palloc(p, (apr_size_t)apr_base64_encode_len((int)maclen));
    apr_base64_encode_binary(out, mac, (int)maclen);
    return apr_pstrcat(p, "v1,", out, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    apr_time_t now = apr_time_from_sec(NOW_SECS);
    char *f[5];
    size_t lens[5];
    const char *r, *good, *fresh = apr_ltoa(p, NOW_SECS - 10);

    fuzz_fields(p, data, size, "\n~~~\n", 5, f, lens);
    /* body: exact size, not terminated, so a read past body_len is caught */
    {
        char *body = apr_palloc(p, lens[4]);
        memcpy(body, f[4], lens[4]);
        f[4] = body;
    }
    r = gf_webhook_verify_replicate(p, f[0], f[1], f[2], f[3], f[4], lens[4], now);
    if (!r) {
        long long ts = strtoll(f[2], NULL, 10);
        FUZZ_CHECK(*f[1] && ts > 0 && llabs(ts - NOW_SECS) <= GF_WEBHOOK_TOLERANCE_SECS);
        good = sign(p, f[0], f[1], f[2], f[4], lens[4]);
        FUZZ_CHECK(good && strstr(f[3], good));
    }
    else {
        FUZZ_CHECK(*r);
    }
    (void)gf_webhook_verify_replicate(p, f[0], f[1], f[2], f[3], NULL, 0, now);

    /* Round trip with a signature made here. */
    if (*f[1] && (good = sign(p, f[0], f[1], fresh, f[4], lens[4])) != NULL
        && apr_base64_decode_len(!strncmp(f[0], "whsec_", 6) ? f[0] + 6 : f[0]) <= 256) {
        const char *list = apr_pstrcat(p, "v1,bm9wZQ== ", good, " v2,xyz", NULL);
        FUZZ_CHECK(gf_webhook_verify_replicate(p, f[0], f[1], fresh, list, f[4], lens[4], now)
                   == NULL);
        if (lens[4]) {
            char *tampered = apr_pmemdup(p, f[4], lens[4]);
            tampered[lens[4] / 2] ^= 1;
            FUZZ_CHECK(gf_webhook_verify_replicate(p, f[0], f[1], fresh, list, tampered,
                                                   lens[4], now) != NULL);
        }
        FUZZ_CHECK(gf_webhook_verify_replicate(p, f[0], f[1], apr_ltoa(p, NOW_SECS - 301), list,
                                               f[4], lens[4], now) != NULL);
    }
    fuzz_pool_end(p);
    return 0;
}
