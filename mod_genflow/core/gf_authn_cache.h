/* SPDX-License-Identifier: Apache-2.0 */
/* gf_authn_cache.h: the verified-credential cache of the genflow-cache
 * authn provider, without httpd.
 *
 * bcrypt is meant to be slow, and Basic auth sends the password with every
 * request, so a bcrypt user costs a bcrypt run per request. The cache
 * remembers that a (user, password) pair was verified by the wrapped
 * provider, for a short TTL, so that later requests skip the hash.
 *
 * What is stored is not the password, nor a hash an attacker could test
 * guesses against offline: the lookup key is an HMAC-SHA-256 under a random
 * secret that lives only in the memory of httpd's processes (generated at
 * each configuration load, never written anywhere), over every input that
 * must match for a hit to be sound:
 *   - the context (server and configuration section) and the realm, so an
 *     entry of one location never opens another;
 *   - the wrapped provider's name;
 *   - the user and the password, each length-prefixed, so no two different
 *     field lists serialize to the same bytes;
 *   - the identity of every watched password file (device, inode, size,
 *     mtime and ctime to the nanosecond): editing the file changes the key
 *     of every entry at once, so a changed or removed password is refused
 *     on the very next request.
 * The value is only the entry's expiry. Only successful verifications are
 * stored; a refusal always goes to the wrapped provider.
 */
#ifndef GF_AUTHN_CACHE_H
#define GF_AUTHN_CACHE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#define GF_AUTHN_CACHE_SECRET_LEN 32   /* bytes of the per-boot HMAC key */
#define GF_AUTHN_CACHE_KEY_LEN    32   /* bytes of a lookup key (SHA-256) */
#define GF_AUTHN_CACHE_VALUE_LEN  8    /* bytes of a stored value (the expiry) */

#define GF_AUTHN_CACHE_PROVIDER    "genflow-cache"  /* its authn provider name */
#define GF_AUTHN_CACHE_TTL_DEFAULT 60          /* seconds */
#define GF_AUTHN_CACHE_TTL_MAX     3600        /* a longer TTL is refused */
#define GF_AUTHN_CACHE_SIZE_DEFAULT (1024 * 1024)
#define GF_AUTHN_CACHE_SIZE_MIN     8192       /* mod_socache_shmcb's own minimum */
#define GF_AUTHN_CACHE_SIZE_MAX     (256L * 1024 * 1024)

/* What identifies one version of a file. exists = 0 when it could not be
 * read (stat failed): such a file makes the request bypass the cache. */
typedef struct {
    int exists;
    apr_uint64_t dev, ino, size;
    apr_int64_t mtime_sec, mtime_nsec;
    apr_int64_t ctime_sec, ctime_nsec;
} gf_file_id_t;

/* stat(2) of path into *id. Returns 0, or the errno of the failure (then
 * id->exists is 0). One syscall: cheap enough for every request. */
int gf_file_id_read(const char *path, gf_file_id_t *id);

/* Every watched file's identity (paths: const char *), in order, into
 * *ids (NULL when there is none). Returns 0, or the errno of the first
 * that cannot be read, its path in *failed: which version of it verified
 * a password is then not known, so no entry may be used or stored. */
int gf_file_ids_read(apr_pool_t *p, const apr_array_header_t *paths, const gf_file_id_t **ids,
                     const char **failed);

/* Do a and b name the same version of the same file? */
int gf_file_id_equal(const gf_file_id_t *a, const gf_file_id_t *b);

/* The inputs of one lookup key. Strings may be NULL (hashed as absent,
 * which differs from ""). */
typedef struct {
    const char *context;         /* server and section of the configuration */
    const char *realm;           /* AuthName */
    const char *provider;        /* the wrapped provider's name */
    const char *user;
    const char *password;
    const gf_file_id_t *files;   /* the watched files' identities */
    int nfiles;
} gf_authn_cache_fields_t;

/* HMAC-SHA-256 under one secret (GF_AUTHN_CACHE_SECRET_LEN bytes), with
 * the keyed inner and outer hash states computed once: a key then costs two
 * context copies and the hashing of its fields, not the key setup OpenSSL
 * does per EVP_PKEY (tens of microseconds, on every request). Read-only
 * after creation, so the threads of a child share one. NULL on failure. */
typedef struct gf_authn_hmac gf_authn_hmac_t;
gf_authn_hmac_t *gf_authn_cache_hmac_new(const unsigned char *secret);
void gf_authn_cache_hmac_free(gf_authn_hmac_t *h);

/* The lookup key of f. Returns 1, or 0 when the hash failed (the caller
 * then bypasses the cache). */
int gf_authn_cache_key(const gf_authn_hmac_t *h, const gf_authn_cache_fields_t *f,
                       unsigned char key[GF_AUTHN_CACHE_KEY_LEN]);

/* When an entry stored at now with ttl_secs expires. */
apr_time_t gf_authn_cache_expiry(apr_time_t now, int ttl_secs);

/* May an entry with this expiry be used at now under ttl_secs? Not when it
 * has expired, and not when it claims to live longer than ttl_secs from
 * now (the clock stepped back, or the TTL was lowered): such an entry is
 * verified again rather than trusted for longer than configured. */
int gf_authn_cache_fresh(apr_time_t now, apr_time_t expiry, int ttl_secs);

/* The stored value: the expiry, 8 bytes big-endian. decode returns 0 for
 * a value of any other length. */
void gf_authn_cache_value_encode(apr_time_t expiry, unsigned char out[GF_AUTHN_CACHE_VALUE_LEN]);
int gf_authn_cache_value_decode(const unsigned char *in, unsigned int len, apr_time_t *expiry);

/* Directive values: NULL when arg is valid (stored in *out), else the
 * message. TTL: whole seconds, 1 to GF_AUTHN_CACHE_TTL_MAX. Size: bytes,
 * with an optional K or M suffix, GF_AUTHN_CACHE_SIZE_MIN to _MAX. */
const char *gf_authn_cache_parse_ttl(const char *arg, int *out);
const char *gf_authn_cache_parse_size(apr_pool_t *p, const char *arg, apr_size_t *out);

/* GenFlowAuthnCache provider[:args]: NULL when a provider is named, else
 * the directive's whole message. */
const char *gf_authn_cache_check_socache(const char *arg);

/* GenFlowAuthnCacheProvider NAME: NULL unless NAME is genflow-cache
 * itself (the directive's whole message). */
const char *gf_authn_cache_check_wrap(const char *name);

/* The socache a spec names (NULL: GF_AUTHN_CACHE_SOCACHE_DEFAULT): *name
 * before its first ':', *args after it or NULL. */
#define GF_AUTHN_CACHE_SOCACHE_DEFAULT "shmcb"
void gf_authn_cache_socache_spec(apr_pool_t *p, const char *spec, const char **name,
                                 const char **args);

/* shmcb's arguments when none were given: the file it uses only where
 * anonymous shared memory is missing, and the size (0:
 * GF_AUTHN_CACHE_SIZE_DEFAULT), "path(size)". */
const char *gf_authn_cache_shmcb_args(apr_pool_t *p, const char *path, apr_size_t size);

/* The key's context: "host:port section" (host NULL as ""), so that
 * entries of one server and section never serve another. */
const char *gf_authn_cache_context(apr_pool_t *p, const char *host, unsigned port,
                                   const char *section);

#endif
