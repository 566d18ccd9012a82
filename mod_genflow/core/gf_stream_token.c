/* SPDX-License-Identifier: Apache-2.0 */
/* gf_stream_token.c: the tokens of events URLs (see gf_stream_token.h). */
#include <string.h>
#include <apr_base64.h>
#include <apr_strings.h>
#include <openssl/crypto.h>

#include "core/gf_stream_token.h"
#include "core/gf_hmac.h"
#include "core/gf_secret.h"

#define USER_MAX 255
#define DAY 86400

static const char EXPIRED[] = "the token has expired: read the status again for a new eventsUrl";

static int mac_of(const unsigned char *key, size_t keylen, const char *type, const char *id,
                  const char *user, size_t user_len, const char *expiry,
                  unsigned char mac[GF_HMAC_SHA256_LEN])
{
    static const char tag[] = "genflow-events-v1\n";
    const void *parts[8];
    size_t lens[8];
    parts[0] = tag;    lens[0] = sizeof(tag) - 1;
    parts[1] = type;   lens[1] = strlen(type);
    parts[2] = "\n";   lens[2] = 1;
    parts[3] = id;     lens[3] = strlen(id);
    parts[4] = "\n";   lens[4] = 1;
    parts[5] = user;   lens[5] = user_len;
    parts[6] = "\n";   lens[6] = 1;
    parts[7] = expiry; lens[7] = strlen(expiry);
    return keylen > 0 && gf_hmac_sha256(key, keylen, parts, lens, 8, mac);
}

/* base64url without padding. */
static char *b64url(apr_pool_t *p, const unsigned char *data, int len)
{
    char *out = apr_palloc(p, (apr_size_t)apr_base64_encode_len(len)), *c;
    apr_base64_encode_binary(out, data, len);
    for (c = out; *c; c++) {
        if (*c == '+') *c = '-';
        else if (*c == '/') *c = '_';
        else if (*c == '=') { *c = '\0'; break; }
    }
    return out;
}

/* Decoded base64url of s[0..n) into out (at most max bytes); -1 when s is
 * not base64url or too long. */
static int unb64url(apr_pool_t *p, const char *s, apr_size_t n, unsigned char *out, int max)
{
    char *copy;
    apr_size_t i;
    if (n == 0 || n % 4 == 1 || n > (apr_size_t)max / 3 * 4 + 4) return -1;
    copy = apr_palloc(p, n + 3);
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            return -1;
        }
        copy[i] = c;
    }
    while (i % 4) copy[i++] = '=';
    copy[i] = '\0';
    if (apr_base64_decode_len(copy) > max + 2) return -1;
    return apr_base64_decode_binary(out, copy);
}

const char *gf_stream_token_make(apr_pool_t *p, const unsigned char *key, size_t keylen,
                                 const char *type, const char *id, const char *user,
                                 apr_int64_t expiry)
{
    unsigned char mac[GF_HMAC_SHA256_LEN];
    const char *exp = apr_psprintf(p, "%" APR_INT64_T_FMT, expiry);
    size_t n = user ? strlen(user) : 0;

    if (!key || n == 0 || n > USER_MAX || !mac_of(key, keylen, type, id, user, n, exp, mac)) {
        return NULL;
    }
    return apr_pstrcat(p, exp, ".", b64url(p, (const unsigned char *)user, (int)n), ".",
                       b64url(p, mac, sizeof(mac)), NULL);
}

const char *gf_stream_token_user(apr_pool_t *p, const unsigned char *key, size_t keylen,
                                 const char *type, const char *id, const char *token,
                                 apr_int64_t now, const char **why)
{
    unsigned char user[USER_MAX + 3], mac[GF_HMAC_SHA256_LEN + 3], want[GF_HMAC_SHA256_LEN];
    const char *dot1, *dot2, *c;
    char *exp;
    int user_len, mac_len;
    apr_int64_t expiry;

    *why = "the token is not one this site made";
    if (!key || !token || strlen(token) > GF_STREAM_TOKEN_MAX
        || !(dot1 = strchr(token, '.')) || !(dot2 = strchr(dot1 + 1, '.'))
        || dot1 == token || dot1 - token > 18) {
        return NULL;
    }
    for (c = token; c < dot1; c++) {
        if (*c < '0' || *c > '9') return NULL;
    }
    exp = apr_pstrmemdup(p, token, (apr_size_t)(dot1 - token));
    user_len = unb64url(p, dot1 + 1, (apr_size_t)(dot2 - dot1 - 1), user, USER_MAX);
    mac_len = unb64url(p, dot2 + 1, strlen(dot2 + 1), mac, GF_HMAC_SHA256_LEN);
    if (user_len <= 0 || user_len > USER_MAX || mac_len != GF_HMAC_SHA256_LEN
        || memchr(user, '\0', (size_t)user_len)
        || !mac_of(key, keylen, type, id, (const char *)user, (size_t)user_len, exp, want)
        || CRYPTO_memcmp(want, mac, sizeof(want)) != 0) {
        return NULL;
    }
    expiry = apr_atoi64(exp);
    if (expiry <= now) {
        *why = EXPIRED;
        return NULL;
    }
    *why = NULL;
    return apr_pstrmemdup(p, (const char *)user, (apr_size_t)user_len);
}

static const char *key_check(apr_pool_t *p, const char *line)
{
    return strlen(line) < GF_STREAM_KEY_MIN
           ? apr_psprintf(p, "a key must be at least %d characters (openssl rand -hex 32)",
                          GF_STREAM_KEY_MIN)
           : NULL;
}

apr_array_header_t *gf_stream_keys_parse(apr_pool_t *p, const char *text, const char **err)
{
    return gf_secret_lines(p, text, GF_STREAM_KEYS_MAX, "key", key_check, err);
}

const char *gf_stream_token_user_any(apr_pool_t *p, const apr_array_header_t *keys,
                                     const char *type, const char *id, const char *token,
                                     apr_int64_t now, const char **why)
{
    const char *first_why = "the token is not one this site made", *user;
    int i;

    for (i = 0; keys && i < keys->nelts; i++) {
        const char *key = APR_ARRAY_IDX(keys, i, const char *);
        user = gf_stream_token_user(p, (const unsigned char *)key, strlen(key), type, id, token,
                                    now, why);
        if (user) return user;
        if (!strcmp(*why, EXPIRED)) first_why = EXPIRED;
    }
    *why = first_why;
    return NULL;
}

apr_int64_t gf_stream_token_expiry(apr_int64_t now)
{
    return (now / DAY + 2) * DAY;
}
