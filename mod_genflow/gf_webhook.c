/* gf_webhook.c: webhook signature checks with OpenSSL (see gf_webhook.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_base64.h>
#include <apr_lib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include <json-c/json.h>

#include "gf_webhook.h"
#include "gf_json.h"

static const char *check_time(apr_pool_t *p, const char *timestamp, apr_time_t now)
{
    char *end;
    long long ts;

    if (!timestamp || !*timestamp) return "missing timestamp";
    ts = strtoll(timestamp, &end, 10);
    if (*end || ts <= 0) return "malformed timestamp";
    if (llabs((long long)apr_time_sec(now) - ts) > GF_WEBHOOK_TOLERANCE_SECS) {
        return apr_psprintf(p, "stale timestamp (more than %d s from now)",
                            GF_WEBHOOK_TOLERANCE_SECS);
    }
    return NULL;
}

const char *gf_webhook_verify_replicate(apr_pool_t *p, const char *secret, const char *id,
                                        const char *timestamp, const char *signatures,
                                        const char *body, apr_size_t body_len, apr_time_t now)
{
    const char *err, *b64key;
    unsigned char key[256], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int keylen;
    char *expected, *list, *tok, *last = NULL;
    char *msg;
    apr_size_t msglen;

    if (!id || !*id || !signatures || !*signatures) return "missing webhook headers";
    if ((err = check_time(p, timestamp, now)) != NULL) return err;
    b64key = !strncmp(secret, "whsec_", 6) ? secret + 6 : secret;
    if (apr_base64_decode_len(b64key) > (int)sizeof(key)) return "webhook secret too long";
    keylen = apr_base64_decode_binary(key, b64key);
    msg = apr_psprintf(p, "%s.%s.", id, timestamp);
    msglen = strlen(msg);
    msg = apr_pstrcat(p, msg, apr_pstrmemdup(p, body, body_len), NULL);
    if (!HMAC(EVP_sha256(), key, keylen, (const unsigned char *)msg, msglen + body_len,
              mac, &maclen)) {
        return "HMAC failed";
    }
    expected = apr_palloc(p, (apr_size_t)apr_base64_encode_len((int)maclen));
    apr_base64_encode_binary(expected, mac, (int)maclen);
    list = apr_pstrdup(p, signatures);
    for (tok = apr_strtok(list, " ", &last); tok; tok = apr_strtok(NULL, " ", &last)) {
        const char *sig = strchr(tok, ',');
        if (sig && !strncmp(tok, "v1,", 3) && strlen(sig + 1) == strlen(expected)
            && CRYPTO_memcmp(sig + 1, expected, strlen(expected)) == 0) {
            return NULL;
        }
    }
    return "no matching signature";
}

static int hexval(int c)
{
    return apr_isdigit(c) ? c - '0' : apr_isxdigit(c) ? (apr_tolower(c) - 'a' + 10) : -1;
}

const char *gf_webhook_verify_fal(apr_pool_t *p, const apr_array_header_t *keys,
                                  const char *request_id, const char *user_id,
                                  const char *timestamp, const char *signature_hex,
                                  const char *body, apr_size_t body_len, apr_time_t now)
{
    unsigned char digest[32], sig[64];
    char hex[65];
    const char *err, *msg;
    unsigned int dlen = 0;
    int i;

    if (!request_id || !user_id || !signature_hex) return "missing webhook headers";
    if ((err = check_time(p, timestamp, now)) != NULL) return err;
    if (strlen(signature_hex) != 128) return "malformed signature";
    for (i = 0; i < 64; i++) {
        int hi = hexval(signature_hex[2 * i]), lo = hexval(signature_hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return "malformed signature";
        sig[i] = (unsigned char)(hi * 16 + lo);
    }
    if (!EVP_Digest(body, body_len, digest, &dlen, EVP_sha256(), NULL)) return "digest failed";
    for (i = 0; i < 32; i++) apr_snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    msg = apr_psprintf(p, "%s\n%s\n%s\n%s", request_id, user_id, timestamp, hex);
    for (i = 0; keys && i < keys->nelts; i++) {
        const unsigned char *k = APR_ARRAY_IDX(keys, i, const unsigned char *);
        EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k, 32);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int ok = pk && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1
                 && EVP_DigestVerify(ctx, sig, sizeof(sig), (const unsigned char *)msg,
                                     strlen(msg)) == 1;
        EVP_MD_CTX_free(ctx);
        EVP_PKEY_free(pk);
        if (ok) return NULL;
    }
    return "no key verifies the signature";
}

/* base64url without padding → bytes (32 expected). */
static unsigned char *b64url_key(apr_pool_t *p, const char *s)
{
    char *t = apr_pstrdup(p, s), *c;
    apr_size_t n;
    unsigned char *out;

    for (c = t; *c; c++) {
        if (*c == '-') *c = '+';
        else if (*c == '_') *c = '/';
    }
    n = strlen(t);
    while (n % 4) { t = apr_pstrcat(p, t, "=", NULL); n++; }
    out = apr_palloc(p, (apr_size_t)apr_base64_decode_len(t) + 1);
    return apr_base64_decode_binary(out, t) == 32 ? out : NULL;
}

apr_array_header_t *gf_webhook_load_fal_keys(apr_pool_t *p, const char *text, const char **err)
{
    apr_array_header_t *keys = apr_array_make(p, 4, sizeof(unsigned char *));
    const char *perr;
    json_object *doc = NULL, *list;
    char *copy, *line, *last = NULL;
    size_t i;

    while (apr_isspace(*text)) text++;
    if (*text == '{') {
        doc = gf_json_parse(p, text, strlen(text), &perr);
        if (!doc || !json_object_object_get_ex(doc, "keys", &list)
            || !json_object_is_type(list, json_type_array)) {
            *err = "not a JWKS document with a keys array";
            return NULL;
        }
        for (i = 0; i < json_object_array_length(list); i++) {
            json_object *k = json_object_array_get_idx(list, i), *x, *crv;
            if (json_object_object_get_ex(k, "crv", &crv)
                && !strcmp(json_object_get_string(crv), "Ed25519")
                && json_object_object_get_ex(k, "x", &x)) {
                unsigned char *raw = b64url_key(p, json_object_get_string(x));
                if (raw) *(unsigned char **)apr_array_push(keys) = raw;
            }
        }
    }
    else {
        copy = apr_pstrdup(p, text);
        for (line = apr_strtok(copy, "\r\n", &last); line; line = apr_strtok(NULL, "\r\n", &last)) {
            unsigned char *raw;
            while (apr_isspace(*line)) line++;
            if (!*line || *line == '#') continue;
            if (!(raw = b64url_key(p, line))) {
                *err = "a line is not a base64url Ed25519 public key";
                return NULL;
            }
            *(unsigned char **)apr_array_push(keys) = raw;
        }
    }
    if (keys->nelts == 0) {
        *err = "no Ed25519 public keys found";
        return NULL;
    }
    return keys;
}
