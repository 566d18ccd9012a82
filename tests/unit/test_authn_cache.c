/* SPDX-License-Identifier: Apache-2.0 */
/* test_authn_cache.c: key derivation, TTL arithmetic and file identity of
 * the verified-credential cache (gf_authn_cache.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>

#include "test_core.h"
#include "core/gf_authn_cache.h"

static unsigned char SECRET[GF_AUTHN_CACHE_SECRET_LEN];
static gf_file_id_t FILES[2];

static void base_fields(gf_authn_cache_fields_t *f)
{
    int i;
    for (i = 0; i < GF_AUTHN_CACHE_SECRET_LEN; i++) SECRET[i] = (unsigned char)i;
    memset(FILES, 0, sizeof(FILES));
    FILES[0].exists = 1;
    FILES[0].dev = 1; FILES[0].ino = 2; FILES[0].size = 3;
    FILES[0].mtime_sec = 4; FILES[0].mtime_nsec = 5;
    FILES[0].ctime_sec = 6; FILES[0].ctime_nsec = 7;
    FILES[1] = FILES[0];
    memset(f, 0, sizeof(*f));
    f->context = "ctx";
    f->realm = "realm";
    f->provider = "file";
    f->user = "alice";
    f->password = "secret";
    f->files = FILES;
    f->nfiles = 1;
}

static void key_of(const gf_authn_cache_fields_t *f, unsigned char *k)
{
    gf_authn_hmac_t *h = gf_authn_cache_hmac_new(SECRET);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(gf_authn_cache_key(h, f, k), 1);
    gf_authn_cache_hmac_free(h);
}

static int same_key(const gf_authn_cache_fields_t *a, const gf_authn_cache_fields_t *b)
{
    unsigned char ka[GF_AUTHN_CACHE_KEY_LEN], kb[GF_AUTHN_CACHE_KEY_LEN];
    key_of(a, ka);
    key_of(b, kb);
    return memcmp(ka, kb, sizeof(ka)) == 0;
}

/* The layout and the hand-made HMAC are pinned: HMAC-SHA-256 over the
 * length-prefixed fields, as computed independently (Python's hmac module)
 * for these inputs. */
START_TEST(key_known_answer)
{
    gf_authn_cache_fields_t f;
    unsigned char k[GF_AUTHN_CACHE_KEY_LEN];
    char hex[2 * GF_AUTHN_CACHE_KEY_LEN + 1];
    int i;

    base_fields(&f);
    key_of(&f, k);
    for (i = 0; i < GF_AUTHN_CACHE_KEY_LEN; i++) sprintf(hex + 2 * i, "%02x", k[i]);
    ck_assert_str_eq(hex, "c0dcbdc930b085af430c5c3c38bdb3f3ad229decdf633fdd2d9c3862c932c8c4");
}
END_TEST

/* One prepared HMAC gives the same key every time (its keyed states are
 * copied, never consumed), and a NULL one gives none. */
START_TEST(key_deterministic)
{
    gf_authn_cache_fields_t a, b;
    gf_authn_hmac_t *h;
    unsigned char k1[GF_AUTHN_CACHE_KEY_LEN], k2[GF_AUTHN_CACHE_KEY_LEN];

    base_fields(&a);
    base_fields(&b);
    ck_assert(same_key(&a, &b));
    h = gf_authn_cache_hmac_new(SECRET);
    ck_assert_int_eq(gf_authn_cache_key(h, &a, k1), 1);
    ck_assert_int_eq(gf_authn_cache_key(h, &a, k2), 1);
    ck_assert(memcmp(k1, k2, sizeof(k1)) == 0);
    gf_authn_cache_hmac_free(h);
    ck_assert_int_eq(gf_authn_cache_key(NULL, &a, k1), 0);
}
END_TEST

/* Every input is in the key: changing any one gives another key. */
START_TEST(key_every_field_counts)
{
    gf_authn_cache_fields_t a, b;
    base_fields(&a);

    b = a; b.context = "ctx2";       ck_assert(!same_key(&a, &b));
    b = a; b.realm = "other realm";  ck_assert(!same_key(&a, &b));
    b = a; b.provider = "dbd";       ck_assert(!same_key(&a, &b));
    b = a; b.user = "bob";           ck_assert(!same_key(&a, &b));
    b = a; b.password = "secreT";    ck_assert(!same_key(&a, &b));
    b = a; b.nfiles = 0;             ck_assert(!same_key(&a, &b));
    b = a; b.nfiles = 2;             ck_assert(!same_key(&a, &b));
}
END_TEST

/* Each member of a file's identity counts: any edit of the file voids the
 * entries made under its previous version. */
START_TEST(key_file_identity_counts)
{
    gf_authn_cache_fields_t a, b;
    gf_file_id_t changed[1];
    int m;

    base_fields(&a);
    for (m = 0; m < 8; m++) {
        changed[0] = FILES[0];
        switch (m) {
        case 0: changed[0].dev++; break;
        case 1: changed[0].ino++; break;
        case 2: changed[0].size++; break;
        case 3: changed[0].mtime_sec++; break;
        case 4: changed[0].mtime_nsec++; break;
        case 5: changed[0].ctime_sec++; break;
        case 6: changed[0].ctime_nsec++; break;
        default: changed[0].exists = 0; break;
        }
        b = a;
        b.files = changed;
        ck_assert_msg(!same_key(&a, &b), "member %d of the file identity is not in the key", m);
    }
}
END_TEST

/* Fields are length-prefixed: moving bytes from one to the next, or
 * absent against empty, never gives the same key. */
START_TEST(key_fields_do_not_run_together)
{
    gf_authn_cache_fields_t a, b;
    base_fields(&a);
    b = a;
    a.user = "ab"; a.password = "c";
    b.user = "a"; b.password = "bc";
    ck_assert(!same_key(&a, &b));
    a.user = "alice:x"; a.password = "y";
    b.user = "alice"; b.password = "x:y";
    ck_assert(!same_key(&a, &b));
    b = a; a.realm = NULL; b.realm = "";
    ck_assert(!same_key(&a, &b));
}
END_TEST

START_TEST(key_depends_on_secret)
{
    gf_authn_cache_fields_t f;
    unsigned char k1[GF_AUTHN_CACHE_KEY_LEN], k2[GF_AUTHN_CACHE_KEY_LEN];
    base_fields(&f);
    key_of(&f, k1);
    SECRET[0] ^= 1;
    key_of(&f, k2);
    ck_assert(memcmp(k1, k2, sizeof(k1)) != 0);
}
END_TEST

START_TEST(ttl_arithmetic)
{
    apr_time_t now = apr_time_from_sec(1000000);
    apr_time_t exp = gf_authn_cache_expiry(now, 60);

    ck_assert(exp == now + apr_time_from_sec(60));
    ck_assert(gf_authn_cache_fresh(now, exp, 60));
    ck_assert(gf_authn_cache_fresh(exp - 1, exp, 60));
    ck_assert(!gf_authn_cache_fresh(exp, exp, 60));          /* expires at its expiry */
    ck_assert(!gf_authn_cache_fresh(exp + 1, exp, 60));
    /* An entry that claims more than the TTL from now (clock stepped back,
     * TTL lowered) is not trusted. */
    ck_assert(!gf_authn_cache_fresh(now - apr_time_from_sec(1), exp, 60));
    ck_assert(!gf_authn_cache_fresh(now, exp, 30));
    ck_assert(!gf_authn_cache_fresh(now, exp, 0));
    ck_assert(gf_authn_cache_expiry(now, -5) == now);
}
END_TEST

START_TEST(value_round_trip)
{
    unsigned char v[GF_AUTHN_CACHE_VALUE_LEN];
    apr_time_t t = APR_INT64_C(1795000000123456), back = 0;

    gf_authn_cache_value_encode(t, v);
    ck_assert_int_eq(gf_authn_cache_value_decode(v, sizeof(v), &back), 1);
    ck_assert(back == t);
    ck_assert_int_eq(gf_authn_cache_value_decode(v, sizeof(v) - 1, &back), 0);
    ck_assert_int_eq(gf_authn_cache_value_decode(v, sizeof(v) + 1, &back), 0);
    ck_assert_int_eq(gf_authn_cache_value_decode(NULL, sizeof(v), &back), 0);
}
END_TEST

static const char *temp_file(const char *content)
{
    char *path = apr_pstrdup(test_pool, "/tmp/gf-authn-test.XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq((int)write(fd, content, strlen(content)), (int)strlen(content));
    close(fd);
    return path;
}

static void set_mtime(const char *path, long sec, long nsec)
{
    struct timespec ts[2];
    ts[0].tv_sec = sec; ts[0].tv_nsec = nsec;
    ts[1] = ts[0];
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

START_TEST(file_identity)
{
    const char *path = temp_file("alice:$2y$05$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
    const char *other = temp_file("x\n");
    gf_file_id_t a, b;
    FILE *fp;

    set_mtime(path, 1700000000, 100);
    ck_assert_int_eq(gf_file_id_read(path, &a), 0);
    ck_assert_int_eq(a.exists, 1);
    ck_assert_int_eq(gf_file_id_read(path, &b), 0);
    ck_assert(gf_file_id_equal(&a, &b));                       /* unchanged */
    ck_assert(a.mtime_nsec == 100);

    /* Rewritten in place, same size, the mtime one nanosecond later: a new
     * version (htpasswd rewrites in place and bcrypt hashes all have the
     * same length). */
    fp = fopen(path, "r+");
    ck_assert_ptr_nonnull(fp);
    fputs("bob  ", fp);
    fclose(fp);
    set_mtime(path, 1700000000, 101);
    ck_assert_int_eq(gf_file_id_read(path, &b), 0);
    ck_assert(b.size == a.size && b.ino == a.ino);
    ck_assert(!gf_file_id_equal(&a, &b));

    /* Replaced by a rename (a new inode), even with the old timestamps. */
    set_mtime(other, 1700000000, 100);
    ck_assert_int_eq(rename(other, path), 0);
    ck_assert_int_eq(gf_file_id_read(path, &b), 0);
    ck_assert(!gf_file_id_equal(&a, &b));

    /* Gone: an error, and never equal to anything, itself included. */
    unlink(path);
    ck_assert_int_eq(gf_file_id_read(path, &b), ENOENT);
    ck_assert_int_eq(b.exists, 0);
    ck_assert(!gf_file_id_equal(&b, &b));
    ck_assert(!gf_file_id_equal(&a, &b));
    ck_assert_int_eq(gf_file_id_read(NULL, &b), EINVAL);
}
END_TEST

START_TEST(parse_ttl)
{
    int v = 0;
    ck_assert_ptr_null(gf_authn_cache_parse_ttl("60", &v));
    ck_assert_int_eq(v, 60);
    ck_assert_ptr_null(gf_authn_cache_parse_ttl("1", &v));
    ck_assert_ptr_null(gf_authn_cache_parse_ttl("3600", &v));
    ck_assert_int_eq(v, 3600);
    ck_assert_ptr_nonnull(gf_authn_cache_parse_ttl("0", &v));
    ck_assert_ptr_nonnull(gf_authn_cache_parse_ttl("3601", &v));
    ck_assert_ptr_nonnull(gf_authn_cache_parse_ttl("-5", &v));
    ck_assert_ptr_nonnull(gf_authn_cache_parse_ttl("60s", &v));
    ck_assert_ptr_nonnull(gf_authn_cache_parse_ttl("", &v));
    ck_assert_ptr_nonnull(gf_authn_cache_parse_ttl("99999999999999999999", &v));
    ck_assert_int_eq(v, 3600);   /* untouched by the refusals */
}
END_TEST

START_TEST(parse_size)
{
    apr_size_t v = 0;
    ck_assert_ptr_null(gf_authn_cache_parse_size(test_pool, "1M", &v));
    ck_assert(v == 1048576);
    ck_assert_ptr_null(gf_authn_cache_parse_size(test_pool, "64k", &v));
    ck_assert(v == 65536);
    ck_assert_ptr_null(gf_authn_cache_parse_size(test_pool, "8192", &v));
    ck_assert(v == 8192);
    ck_assert_ptr_nonnull(gf_authn_cache_parse_size(test_pool, "8191", &v));
    ck_assert_ptr_nonnull(gf_authn_cache_parse_size(test_pool, "257M", &v));
    ck_assert_ptr_nonnull(gf_authn_cache_parse_size(test_pool, "1G", &v));
    ck_assert_ptr_nonnull(gf_authn_cache_parse_size(test_pool, "-1M", &v));
    ck_assert_ptr_nonnull(gf_authn_cache_parse_size(test_pool, "M", &v));
    ck_assert_ptr_nonnull(gf_authn_cache_parse_size(test_pool, "99999999999999999999M", &v));
    ck_assert(v == 8192);
}
END_TEST

START_TEST(watched_files)
{
    apr_array_header_t *paths = apr_array_make(test_pool, 2, sizeof(const char *));
    const gf_file_id_t *ids = (const gf_file_id_t *)1;
    const char *failed = NULL;

    ck_assert_int_eq(gf_file_ids_read(test_pool, NULL, &ids, &failed), 0);
    ck_assert_ptr_null(ids);
    ck_assert_int_eq(gf_file_ids_read(test_pool, paths, &ids, &failed), 0);
    ck_assert_ptr_null(ids);
    APR_ARRAY_PUSH(paths, const char *) = "/";
    APR_ARRAY_PUSH(paths, const char *) = "/etc";
    ck_assert_int_eq(gf_file_ids_read(test_pool, paths, &ids, &failed), 0);
    ck_assert_ptr_nonnull(ids);
    ck_assert(ids[0].exists && ids[1].exists);
    ck_assert(!gf_file_id_equal(&ids[0], &ids[1]));
    APR_ARRAY_PUSH(paths, const char *) = "/nonexistent/genflow";
    ck_assert_int_ne(gf_file_ids_read(test_pool, paths, &ids, &failed), 0);
    ck_assert_str_eq(failed, "/nonexistent/genflow");
    ck_assert_ptr_null(ids);
}
END_TEST

START_TEST(directive_values)
{
    const char *name, *args;

    ck_assert_ptr_null(gf_authn_cache_check_socache("shmcb"));
    ck_assert_ptr_null(gf_authn_cache_check_socache("dbm:/run/x"));
    ck_assert_str_eq(gf_authn_cache_check_socache(""),
                     "GenFlowAuthnCache: give a socache provider, e.g. shmcb");
    ck_assert_ptr_nonnull(gf_authn_cache_check_socache(":args"));
    ck_assert_ptr_null(gf_authn_cache_check_wrap("file"));
    ck_assert_str_eq(gf_authn_cache_check_wrap("genflow-cache"),
                     "GenFlowAuthnCacheProvider cannot wrap genflow-cache itself");

    gf_authn_cache_socache_spec(test_pool, NULL, &name, &args);
    ck_assert_str_eq(name, "shmcb");
    ck_assert_ptr_null(args);
    gf_authn_cache_socache_spec(test_pool, "dbm:/run/c:x", &name, &args);
    ck_assert_str_eq(name, "dbm");
    ck_assert_str_eq(args, "/run/c:x");
    gf_authn_cache_socache_spec(test_pool, "memcache:", &name, &args);
    ck_assert_str_eq(name, "memcache");
    ck_assert_str_eq(args, "");

    ck_assert_str_eq(gf_authn_cache_shmcb_args(test_pool, "/run/c", 0), "/run/c(1048576)");
    ck_assert_str_eq(gf_authn_cache_shmcb_args(test_pool, "/run/c", 8192), "/run/c(8192)");
    ck_assert_str_eq(gf_authn_cache_context(test_pool, "h.example", 443, "/api"),
                     "h.example:443 /api");
    ck_assert_str_eq(gf_authn_cache_context(test_pool, NULL, 0, "(server)"), ":0 (server)");
}
END_TEST

Suite *authn_cache_suite(void)
{
    Suite *s = suite_create("authn_cache");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, key_known_answer);
    tcase_add_test(tc, key_deterministic);
    tcase_add_test(tc, key_every_field_counts);
    tcase_add_test(tc, key_file_identity_counts);
    tcase_add_test(tc, key_fields_do_not_run_together);
    tcase_add_test(tc, key_depends_on_secret);
    tcase_add_test(tc, ttl_arithmetic);
    tcase_add_test(tc, value_round_trip);
    tcase_add_test(tc, file_identity);
    tcase_add_test(tc, parse_ttl);
    tcase_add_test(tc, parse_size);
    tcase_add_test(tc, directive_values);
    tcase_add_test(tc, watched_files);
    suite_add_tcase(s, tc);
    return s;
}
