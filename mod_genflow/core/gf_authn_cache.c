/* SPDX-License-Identifier: Apache-2.0 */
/* gf_authn_cache.c: key derivation, TTL arithmetic and file identity of
 * the verified-credential cache (gf_authn_cache.h says why each input is in
 * the key). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/gf_authn_cache.h"

int gf_file_id_read(const char *path, gf_file_id_t *id)
{
    struct stat st;

    memset(id, 0, sizeof(*id));
    if (!path || stat(path, &st) != 0) {
        return path ? errno : EINVAL;
    }
    id->exists = 1;
    id->dev = (apr_uint64_t)st.st_dev;
    id->ino = (apr_uint64_t)st.st_ino;
    id->size = (apr_uint64_t)st.st_size;
    /* Nanoseconds: htpasswd rewrites the file in place (same inode), often
     * at the same size (every bcrypt hash is 60 characters), so the
     * timestamps are what tells two versions apart. ctime also moves on a
     * rename over the file and on chmod. */
    id->mtime_sec = (apr_int64_t)st.st_mtim.tv_sec;
    id->mtime_nsec = (apr_int64_t)st.st_mtim.tv_nsec;
    id->ctime_sec = (apr_int64_t)st.st_ctim.tv_sec;
    id->ctime_nsec = (apr_int64_t)st.st_ctim.tv_nsec;
    return 0;
}

int gf_file_ids_read(apr_pool_t *p, const apr_array_header_t *paths, const gf_file_id_t **ids,
                     const char **failed)
{
    gf_file_id_t *out;
    int i, e;

    *ids = NULL;
    if (!paths || !paths->nelts) return 0;
    out = apr_palloc(p, sizeof(*out) * (apr_size_t)paths->nelts);
    for (i = 0; i < paths->nelts; i++) {
        *failed = APR_ARRAY_IDX(paths, i, const char *);
        if ((e = gf_file_id_read(*failed, &out[i])) != 0) return e;
    }
    *ids = out;
    return 0;
}

int gf_file_id_equal(const gf_file_id_t *a, const gf_file_id_t *b)
{
    if (!a->exists || !b->exists) {
        return 0;   /* an unreadable file is never "unchanged" */
    }
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size
        && a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec
        && a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
}

static void put_u64(unsigned char *out, apr_uint64_t v)
{
    int i;
    for (i = 7; i >= 0; i--) {
        out[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/* HMAC (RFC 2104) over SHA-256, by hand on EVP_MD_CTX so that the keyed
 * states can be prepared once: H((K ^ opad) || H((K ^ ipad) || m)). */
struct gf_authn_hmac {
    EVP_MD_CTX *inner;           /* SHA-256 after the block K ^ ipad */
    EVP_MD_CTX *outer;           /* SHA-256 after the block K ^ opad */
};

#define SHA256_BLOCK 64

void gf_authn_cache_hmac_free(gf_authn_hmac_t *h)
{
    if (h) {
        EVP_MD_CTX_free(h->inner);
        EVP_MD_CTX_free(h->outer);
        free(h);
    }
}

gf_authn_hmac_t *gf_authn_cache_hmac_new(const unsigned char *secret)
{
    unsigned char ipad[SHA256_BLOCK], opad[SHA256_BLOCK];
    gf_authn_hmac_t *h = calloc(1, sizeof(*h));
    int i, ok;

    if (!h) return NULL;
    /* The secret is shorter than a block: zero-padded, never hashed first. */
    memset(ipad, 0x36, sizeof(ipad));
    memset(opad, 0x5c, sizeof(opad));
    for (i = 0; i < GF_AUTHN_CACHE_SECRET_LEN; i++) {
        ipad[i] ^= secret[i];
        opad[i] ^= secret[i];
    }
    h->inner = EVP_MD_CTX_new();
    h->outer = EVP_MD_CTX_new();
    ok = h->inner && h->outer
        && EVP_DigestInit_ex(h->inner, EVP_sha256(), NULL) == 1
        && EVP_DigestUpdate(h->inner, ipad, sizeof(ipad)) == 1
        && EVP_DigestInit_ex(h->outer, EVP_sha256(), NULL) == 1
        && EVP_DigestUpdate(h->outer, opad, sizeof(opad)) == 1;
    OPENSSL_cleanse(ipad, sizeof(ipad));
    OPENSSL_cleanse(opad, sizeof(opad));
    if (!ok) {
        gf_authn_cache_hmac_free(h);
        return NULL;
    }
    return h;
}

/* One field: a presence byte, its length (8 bytes) and its bytes, so that
 * ("ab", "c") and ("a", "bc") and (NULL, "") all hash differently. */
static int mac_string(EVP_MD_CTX *ctx, const char *s)
{
    unsigned char hdr[9];
    size_t len = s ? strlen(s) : 0;

    hdr[0] = s ? 1 : 0;
    put_u64(hdr + 1, (apr_uint64_t)len);
    return EVP_DigestUpdate(ctx, hdr, sizeof(hdr)) == 1
        && (len == 0 || EVP_DigestUpdate(ctx, s, len) == 1);
}

static int mac_file(EVP_MD_CTX *ctx, const gf_file_id_t *id)
{
    unsigned char b[1 + 7 * 8];

    b[0] = id->exists ? 1 : 0;
    put_u64(b + 1, id->dev);
    put_u64(b + 9, id->ino);
    put_u64(b + 17, id->size);
    put_u64(b + 25, (apr_uint64_t)id->mtime_sec);
    put_u64(b + 33, (apr_uint64_t)id->mtime_nsec);
    put_u64(b + 41, (apr_uint64_t)id->ctime_sec);
    put_u64(b + 49, (apr_uint64_t)id->ctime_nsec);
    return EVP_DigestUpdate(ctx, b, sizeof(b)) == 1;
}

int gf_authn_cache_key(const gf_authn_hmac_t *h, const gf_authn_cache_fields_t *f,
                       unsigned char key[GF_AUTHN_CACHE_KEY_LEN])
{
    /* A version tag: a future change of the layout can never meet an old
     * entry under the same secret. */
    static const char tag[] = "genflow-authn-cache/1";
    unsigned char count[8];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = h ? EVP_MD_CTX_new() : NULL;
    int i, ok = ctx && f->nfiles >= 0 && EVP_MD_CTX_copy_ex(ctx, h->inner) == 1;

    ok = ok && mac_string(ctx, tag)
        && mac_string(ctx, f->context)
        && mac_string(ctx, f->realm)
        && mac_string(ctx, f->provider)
        && mac_string(ctx, f->user)
        && mac_string(ctx, f->password);
    if (ok) {
        put_u64(count, (apr_uint64_t)f->nfiles);
        ok = EVP_DigestUpdate(ctx, count, sizeof(count)) == 1;
    }
    for (i = 0; ok && i < f->nfiles; i++) {
        ok = mac_file(ctx, &f->files[i]);
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == GF_AUTHN_CACHE_KEY_LEN
        && EVP_MD_CTX_copy_ex(ctx, h->outer) == 1
        && EVP_DigestUpdate(ctx, md, mdlen) == 1
        && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == GF_AUTHN_CACHE_KEY_LEN;
    if (ok) {
        memcpy(key, md, GF_AUTHN_CACHE_KEY_LEN);
    }
    OPENSSL_cleanse(md, sizeof(md));   /* the inner hash covers the password */
    EVP_MD_CTX_free(ctx);
    return ok;
}

apr_time_t gf_authn_cache_expiry(apr_time_t now, int ttl_secs)
{
    return now + apr_time_from_sec(ttl_secs > 0 ? ttl_secs : 0);
}

int gf_authn_cache_fresh(apr_time_t now, apr_time_t expiry, int ttl_secs)
{
    if (ttl_secs <= 0 || expiry <= now) {
        return 0;
    }
    return expiry - now <= apr_time_from_sec(ttl_secs);
}

void gf_authn_cache_value_encode(apr_time_t expiry, unsigned char out[GF_AUTHN_CACHE_VALUE_LEN])
{
    put_u64(out, (apr_uint64_t)expiry);
}

int gf_authn_cache_value_decode(const unsigned char *in, unsigned int len, apr_time_t *expiry)
{
    apr_uint64_t v = 0;
    unsigned int i;

    if (!in || len != GF_AUTHN_CACHE_VALUE_LEN) {
        return 0;
    }
    for (i = 0; i < GF_AUTHN_CACHE_VALUE_LEN; i++) {
        v = (v << 8) | in[i];
    }
    *expiry = (apr_time_t)v;
    return 1;
}

const char *gf_authn_cache_parse_ttl(const char *arg, int *out)
{
    char *end;
    long v;

    if (!arg || !*arg || *arg == '-' || *arg == '+') {
        return "must be a whole number of seconds";
    }
    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno || *end) {
        return "must be a whole number of seconds";
    }
    if (v < 1 || v > GF_AUTHN_CACHE_TTL_MAX) {
        /* An entry outlives a removed user by up to the TTL when no file
         * is watched: an hour is the most that is offered. */
        return "must be between 1 and 3600 seconds";
    }
    *out = (int)v;
    return NULL;
}

const char *gf_authn_cache_parse_size(apr_pool_t *p, const char *arg, apr_size_t *out)
{
    char *end;
    apr_int64_t v, mult = 1;

    if (!arg || !*arg || *arg == '-' || *arg == '+') {
        return "must be a number of bytes (K and M suffixes allowed)";
    }
    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (errno) {
        return "must be a number of bytes (K and M suffixes allowed)";
    }
    if ((*end == 'K' || *end == 'k') && !end[1]) {
        mult = 1024;
    }
    else if ((*end == 'M' || *end == 'm') && !end[1]) {
        mult = 1024 * 1024;
    }
    else if (*end) {
        return "must be a number of bytes (K and M suffixes allowed)";
    }
    if (v > GF_AUTHN_CACHE_SIZE_MAX / mult || v * mult < GF_AUTHN_CACHE_SIZE_MIN) {
        return apr_psprintf(p, "must be between %d and %ld bytes", GF_AUTHN_CACHE_SIZE_MIN,
                            (long)GF_AUTHN_CACHE_SIZE_MAX);
    }
    *out = (apr_size_t)(v * mult);
    return NULL;
}

const char *gf_authn_cache_check_socache(const char *arg)
{
    if (!*arg || *arg == ':') return "GenFlowAuthnCache: give a socache provider, e.g. shmcb";
    return NULL;
}

const char *gf_authn_cache_check_wrap(const char *name)
{
    if (!strcmp(name, GF_AUTHN_CACHE_PROVIDER)) {
        return "GenFlowAuthnCacheProvider cannot wrap genflow-cache itself";
    }
    return NULL;
}

void gf_authn_cache_socache_spec(apr_pool_t *p, const char *spec, const char **name,
                                 const char **args)
{
    const char *sep;

    if (!spec) spec = GF_AUTHN_CACHE_SOCACHE_DEFAULT;
    sep = strchr(spec, ':');
    *name = sep ? apr_pstrmemdup(p, spec, (apr_size_t)(sep - spec)) : spec;
    *args = sep ? sep + 1 : NULL;
}

const char *gf_authn_cache_shmcb_args(apr_pool_t *p, const char *path, apr_size_t size)
{
    return apr_psprintf(p, "%s(%" APR_SIZE_T_FMT ")", path,
                        size ? size : (apr_size_t)GF_AUTHN_CACHE_SIZE_DEFAULT);
}

const char *gf_authn_cache_context(apr_pool_t *p, const char *host, unsigned port,
                                   const char *section)
{
    return apr_psprintf(p, "%s:%u %s", host ? host : "", port, section);
}
