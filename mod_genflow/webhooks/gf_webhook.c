/* SPDX-License-Identifier: Apache-2.0 */
/* gf_webhook.c: webhook signature checks with OpenSSL (see gf_webhook.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_base64.h>
#include <apr_lib.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <json-c/json.h>

#include "webhooks/gf_webhook.h"
#include "core/gf_hmac.h"
#include "core/gf_secret.h"
#include "core/gf_json.h"

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

const char *gf_webhook_secret_check(apr_pool_t *p, const char *secret)
{
    const char *b64 = secret && !strncmp(secret, "whsec_", 6) ? secret + 6 : NULL;
    const char *c;
    int n;
    (void)p;
    if (!b64) return "the secret must start with whsec_ (Standard Webhooks)";
    for (c = b64; *c; c++) {
        if (!apr_isalnum(*c) && *c != '+' && *c != '/' && *c != '=') {
            return "after whsec_ comes the secret in base64";
        }
    }
    n = apr_base64_decode_len(b64);
    if (n < 24 + 1 || n > 64 + 3) return "the secret must be 24 to 64 bytes (base64 after whsec_)";
    return NULL;
}

const char *gf_webhook_sign(apr_pool_t *p, const char *secret, const char *id,
                            const char *timestamp, const char *body, apr_size_t body_len)
{
    const char *b64key = !strncmp(secret, "whsec_", 6) ? secret + 6 : secret;
    unsigned char key[256], mac[GF_HMAC_SHA256_LEN];
    size_t maclen = sizeof(mac);
    int keylen;
    char *out;
    const void *parts[5];
    size_t lens[5];

    if (apr_base64_decode_len(b64key) > (int)sizeof(key)) return NULL;
    keylen = apr_base64_decode_binary(key, b64key);
    /* Signed content: "{id}.{timestamp}.{body}", the body as raw bytes. */
    parts[0] = id;        lens[0] = strlen(id);
    parts[1] = ".";       lens[1] = 1;
    parts[2] = timestamp; lens[2] = strlen(timestamp);
    parts[3] = ".";       lens[3] = 1;
    parts[4] = body ? (const void *)body : "";
    lens[4] = body_len;
    if (keylen <= 0 || !gf_hmac_sha256(key, (size_t)keylen, parts, lens, 5, mac)) {
        OPENSSL_cleanse(key, sizeof(key));
        return NULL;
    }
    OPENSSL_cleanse(key, sizeof(key));
    out = apr_palloc(p, 3 + (apr_size_t)apr_base64_encode_len((int)maclen));
    memcpy(out, "v1,", 3);
    apr_base64_encode_binary(out + 3, mac, (int)maclen);
    return out;
}

const char *gf_webhook_sign_all(apr_pool_t *p, const apr_array_header_t *secrets,
                                const char *id, const char *timestamp, const char *body,
                                apr_size_t body_len)
{
    const char *all = NULL, *one;
    int i;

    for (i = 0; secrets && i < secrets->nelts; i++) {
        one = gf_webhook_sign(p, APR_ARRAY_IDX(secrets, i, const char *), id, timestamp, body,
                              body_len);
        if (!one) return NULL;
        all = all ? apr_pstrcat(p, all, " ", one, NULL) : one;
    }
    return all;
}

apr_array_header_t *gf_webhook_secrets_parse(apr_pool_t *p, const char *text, const char **err)
{
    return gf_secret_lines(p, text, GF_WEBHOOK_SECRETS_MAX, "secret", gf_webhook_secret_check,
                           err);
}

long gf_webhook_retry_delay_ms(long first_secs, int attempt, long max_secs, apr_uint32_t rnd)
{
    long d = first_secs > 0 ? first_secs : 1;
    int i;

    for (i = 1; i < attempt && d < max_secs; i++) d *= 2;
    if (d > max_secs) d = max_secs;
    return d * 1000 / 100 * (80 + (long)(rnd % 41));
}

const char *gf_webhook_verify_replicate(apr_pool_t *p, const char *secret, const char *id,
                                        const char *timestamp, const char *signatures,
                                        const char *body, apr_size_t body_len, apr_time_t now)
{
    const char *err, *expected;
    char *list, *tok, *last = NULL;

    if (!id || !*id || !signatures || !*signatures) return "missing webhook headers";
    if ((err = check_time(p, timestamp, now)) != NULL) return err;
    if (!body && body_len) return "missing body";
    if (!(expected = gf_webhook_sign(p, secret, id, timestamp, body, body_len))) {
        return "HMAC failed";
    }
    list = apr_pstrdup(p, signatures);
    for (tok = apr_strtok(list, " ", &last); tok; tok = apr_strtok(NULL, " ", &last)) {
        if (strlen(tok) == strlen(expected) && CRYPTO_memcmp(tok, expected, strlen(expected)) == 0) {
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

/* base64url without padding → bytes (32 expected). Anything but the
 * base64url alphabet (and trailing '=') is refused outright, because the
 * APR decoder silently stops at the first foreign character. */
static unsigned char *b64url_key(apr_pool_t *p, const char *s)
{
    char *t, *c;
    apr_size_t n;
    unsigned char *out;

    if (!s) return NULL;
    n = strlen(s);
    while (n && s[n - 1] == '=') n--;
    if (n == 0 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
                  != n) {
        return NULL;
    }
    t = apr_pstrmemdup(p, s, n);
    for (c = t; *c; c++) {
        if (*c == '-') *c = '+';
        else if (*c == '_') *c = '/';
    }
    while (n % 4) { t = apr_pstrcat(p, t, "=", NULL); n++; }
    out = apr_palloc(p, (apr_size_t)apr_base64_decode_len(t) + 1);
    return apr_base64_decode_binary(out, t) == 32 ? out : NULL;
}

/* A JWK string member: *val set when present and a string; an error when it
 * is present with another JSON type (null included), so that a malformed
 * key file stops startup with a message instead of a NULL dereference. */
static const char *jwk_str(apr_pool_t *p, json_object *k, apr_size_t i, const char *name,
                           const char **val)
{
    json_object *v;

    *val = NULL;
    if (!json_object_object_get_ex(k, name, &v)) return NULL;
    if (!json_object_is_type(v, json_type_string)) {
        return apr_psprintf(p, "keys[%" APR_SIZE_T_FMT "].%s is not a string", i, name);
    }
    *val = json_object_get_string(v);
    return NULL;
}

/* One JWK of a JWKS (keys[i]): its Ed25519 key pushed on keys, or
 * nothing for another key type; an error, or NULL. */
static const char *jwk_key(apr_pool_t *p, json_object *k, size_t i, apr_array_header_t *keys)
{
    const char *kty, *crv, *x, *err;
    unsigned char *raw;

    if (!k || !json_object_is_type(k, json_type_object)) {
        return apr_psprintf(p, "keys[%" APR_SIZE_T_FMT "] is not an object", i);
    }
    if ((err = jwk_str(p, k, i, "kty", &kty)) != NULL
        || (err = jwk_str(p, k, i, "crv", &crv)) != NULL
        || (err = jwk_str(p, k, i, "x", &x)) != NULL) {
        return err;
    }
    if (!kty) return apr_psprintf(p, "keys[%" APR_SIZE_T_FMT "] has no \"kty\"", i);
    /* A JWKS may also publish other key types: those are skipped. */
    if (strcmp(kty, "OKP")) return NULL;
    if (!crv) return apr_psprintf(p, "keys[%" APR_SIZE_T_FMT "] (OKP) has no \"crv\"", i);
    if (strcmp(crv, "Ed25519")) return NULL;
    if (!x) return apr_psprintf(p, "keys[%" APR_SIZE_T_FMT "] (Ed25519) has no \"x\"", i);
    if (!(raw = b64url_key(p, x))) {
        return apr_psprintf(p, "keys[%" APR_SIZE_T_FMT "].x is not a base64url "
                            "32-byte Ed25519 public key", i);
    }
    *(unsigned char **)apr_array_push(keys) = raw;
    return NULL;
}

/* A JWKS document {"keys":[...]}: its Ed25519 keys onto keys; an error,
 * or NULL. */
static const char *jwks_keys(apr_pool_t *p, const char *text, apr_array_header_t *keys)
{
    const char *perr = NULL, *err;
    json_object *doc, *list;
    size_t i;

    doc = gf_json_parse(p, text, strlen(text), &perr);
    if (!doc || !json_object_is_type(doc, json_type_object)) {
        return apr_psprintf(p, "not valid JSON: %s", perr ? perr : "parse error");
    }
    if (!json_object_object_get_ex(doc, "keys", &list)) {
        return "not a JWKS document: no \"keys\" member";
    }
    if (!json_object_is_type(list, json_type_array)) {
        return "not a JWKS document: \"keys\" is not an array";
    }
    for (i = 0; i < json_object_array_length(list); i++) {
        if ((err = jwk_key(p, json_object_array_get_idx(list, i), i, keys)) != NULL) return err;
    }
    return NULL;
}

/* One base64url key a line, blank lines and # comments skipped: onto
 * keys; an error, or NULL. */
static const char *line_keys(apr_pool_t *p, const char *text, apr_array_header_t *keys)
{
    char *copy = apr_pstrdup(p, text), *line, *last = NULL;

    for (line = apr_strtok(copy, "\r\n", &last); line; line = apr_strtok(NULL, "\r\n", &last)) {
        unsigned char *raw;
        char *end;
        while (apr_isspace(*line)) line++;
        if (!*line || *line == '#') continue;
        /* Trailing blanks are not part of the key (strict alphabet below). */
        end = line + strlen(line);
        while (end > line && apr_isspace(end[-1])) *--end = '\0';
        if (!(raw = b64url_key(p, line))) {
            return "a line is not a base64url Ed25519 public key";
        }
        *(unsigned char **)apr_array_push(keys) = raw;
    }
    return NULL;
}

/* Errors are returned, never fatal here: the caller turns them into a
 * configuration error so httpd refuses to start with the message. */
apr_array_header_t *gf_webhook_load_fal_keys(apr_pool_t *p, const char *text, const char **err)
{
    apr_array_header_t *keys = apr_array_make(p, 4, sizeof(unsigned char *));

    if (!text) {
        *err = "no key text";
        return NULL;
    }
    while (apr_isspace(*text)) text++;
    if (*text == '[') {
        *err = "a JSON key file must be a JWKS object {\"keys\":[...]}, not an array";
        return NULL;
    }
    if ((*err = *text == '{' ? jwks_keys(p, text, keys) : line_keys(p, text, keys)) != NULL) {
        return NULL;
    }
    if (keys->nelts == 0) {
        *err = "no Ed25519 public keys found";
        return NULL;
    }
    return keys;
}
