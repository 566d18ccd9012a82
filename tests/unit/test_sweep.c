/* SPDX-License-Identifier: Apache-2.0 */
/* test_sweep.c: the engine's sweeps and what they read back
 * (core/gf_sweep.h, core/gf_uploads.h, core/gf_changes.h,
 * core/gf_delivery.h): default waits, repeats while a batch fills, the
 * next look and page, an upload's id from its key, an edit's reference
 * list, the ring of changes heard, and a webhook delivery's origin,
 * answer and statement. */
#include <string.h>
#include <apr_strings.h>

#include "test_core.h"
#include "core/gf_changes.h"
#include "core/gf_delivery.h"
#include "core/gf_sql.h"
#include "core/gf_sweep.h"
#include "core/gf_uploads.h"

#define UUID "0a1b2c3d-0000-4000-8000-00000000aaaa"

START_TEST(sweep_repeats)
{
    apr_int64_t total = 0;

    ck_assert_int_eq(gf_sweep_queued_ttl(0), 3600);
    ck_assert_int_eq(gf_sweep_queued_ttl(-5), 3600);
    ck_assert_int_eq(gf_sweep_queued_ttl(90), 90);
    ck_assert_int_eq(gf_sweep_created_ttl(0, 90), 90);
    ck_assert_int_eq(gf_sweep_created_ttl(30, 90), 30);
    {
        apr_hash_t *h = apr_hash_make(test_pool);
        const char *names;
        ck_assert_str_eq(gf_sweep_names(test_pool, NULL), "");
        ck_assert_str_eq(gf_sweep_names(test_pool, h), "");
        apr_hash_set(h, "fal", APR_HASH_KEY_STRING, "");
        ck_assert_str_eq(gf_sweep_names(test_pool, h), "fal");
        apr_hash_set(h, "aiml", APR_HASH_KEY_STRING, "");
        names = gf_sweep_names(test_pool, h);
        ck_assert(!strcmp(names, "fal\naiml") || !strcmp(names, "aiml\nfal"));
    }
    /* Run again while a whole batch changed. */
    ck_assert_int_eq(gf_sweep_again("100", 100, &total), 1);
    ck_assert_int_eq(gf_sweep_again("250", 100, &total), 1);
    ck_assert_int_eq(gf_sweep_again("99", 100, &total), 0);
    ck_assert(total == 449);
    ck_assert_int_eq(gf_sweep_again(NULL, 100, &total), 0);
    ck_assert(total == 449);
    ck_assert_str_eq(gf_sweep_total(test_pool, total), "449");
    ck_assert_ptr_null(gf_sweep_total(test_pool, 0));
}
END_TEST

START_TEST(sweep_looks_and_pages)
{
    apr_time_t now = apr_time_from_sec(100);
    char after[16] = "x";
    int more = 0;

    ck_assert(gf_sweep_next(now, 1, apr_time_from_sec(2), apr_time_from_sec(60))
              == now + apr_time_from_sec(2));
    ck_assert(gf_sweep_next(now, 30, apr_time_from_sec(2), apr_time_from_sec(60))
              == now + apr_time_from_sec(30));
    ck_assert(gf_sweep_next(now, 86400, apr_time_from_sec(2), apr_time_from_sec(60))
              == now + apr_time_from_sec(60));
    /* A full page: the next starts after its last key. */
    gf_sweep_page(after, sizeof(after), 1000, 1000, "previews/abc", &more);
    ck_assert_str_eq(after, "previews/abc");
    ck_assert_int_eq(more, 1);
    /* A key longer than the room is cut, not overrun. */
    gf_sweep_page(after, sizeof(after), 1000, 1000, "previews/0123456789", NULL);
    ck_assert_str_eq(after, "previews/012345");
    /* The last page: from the start again. */
    more = 0;
    gf_sweep_page(after, sizeof(after), 999, 1000, "previews/zzz", &more);
    ck_assert_str_eq(after, "");
    ck_assert_int_eq(more, 0);
    gf_sweep_page(after, sizeof(after), 0, 1000, NULL, &more);
    ck_assert_str_eq(after, "");
}
END_TEST

START_TEST(sweep_upload_ids)
{
    apr_array_header_t *refs;

    ck_assert_str_eq(gf_uploads_key_id(test_pool, "uploads/" UUID ".png"), UUID);
    ck_assert_str_eq(gf_uploads_key_id(test_pool, "uploads/" UUID ".png.tmp-1"), UUID);
    ck_assert_ptr_null(gf_uploads_key_id(test_pool, "uploads/" UUID));          /* no extension */
    ck_assert_ptr_null(gf_uploads_key_id(test_pool, "uploads/" UUID "x.png"));
    ck_assert_ptr_null(gf_uploads_key_id(test_pool, "previews/" UUID ".png"));
    ck_assert_ptr_null(gf_uploads_key_id(test_pool, "uploads/0a1b2c3d_0000-4000-8000-00000000aaaa.png"));
    ck_assert_ptr_null(gf_uploads_key_id(test_pool, "uploads/0a1b2c3g-0000-4000-8000-00000000aaaa.png"));
    ck_assert_ptr_null(gf_uploads_key_id(test_pool, "uploads/"));
    ck_assert_str_eq(gf_uploads_old_id(test_pool, "uploads/" UUID ".png", 5, 6), UUID);
    ck_assert_ptr_null(gf_uploads_old_id(test_pool, "uploads/" UUID ".png", 6, 6));
    ck_assert_ptr_null(gf_uploads_old_id(test_pool, "other/" UUID ".png", 5, 6));

    ck_assert_str_eq(gf_uploads_backends(test_pool, "s3", NULL), "s3");
    ck_assert_str_eq(gf_uploads_backends(test_pool, "cloudinary", "local"), "cloudinary\nlocal");

    refs = gf_uploads_references(test_pool, "[\"upload:a\",\"upload:b\"]");
    ck_assert_ptr_nonnull(refs);
    ck_assert_int_eq(refs->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(refs, 1, const char *), "upload:b");
    ck_assert_int_eq(gf_uploads_references(test_pool, "[]")->nelts, 0);
    ck_assert_ptr_null(gf_uploads_references(test_pool, "{\"a\":1}"));
    ck_assert_ptr_null(gf_uploads_references(test_pool, "[\"upload:a\""));
    ck_assert_ptr_null(gf_uploads_references(test_pool, NULL));
    ck_assert_ptr_null(gf_uploads_references(test_pool, "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]"));
    ck_assert_int_eq(gf_uploads_references(test_pool, "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]")->nelts,
                     16);
}
END_TEST

START_TEST(sweep_changes_ring)
{
    gf_recent_t ring[GF_RECENT];
    apr_uint64_t seq = 0, since;
    int i;

    memset(ring, 0, sizeof(ring));
    seq = gf_changes_note(ring, seq, "a");
    since = seq;
    ck_assert(!gf_changes_since(ring, seq, "a", since));       /* heard before: not after */
    seq = gf_changes_note(ring, seq, "b");
    ck_assert(gf_changes_since(ring, seq, "b", since));
    ck_assert(!gf_changes_since(ring, seq, "a", since));
    ck_assert(!gf_changes_since(ring, seq, "c", since));
    /* Too much since for the ring to tell: changed, to be safe. */
    for (i = 0; i < GF_RECENT - 2; i++) seq = gf_changes_note(ring, seq, "x");
    ck_assert(!gf_changes_since(ring, seq, "c", since));
    seq = gf_changes_note(ring, seq, "x");
    ck_assert(gf_changes_since(ring, seq, "c", since));
    /* Anything may have changed: every "since" before it is stale. */
    since = seq;
    seq = gf_changes_note(ring, seq, NULL);
    ck_assert(seq == since + 1 + GF_RECENT);
    ck_assert(gf_changes_since(ring, seq, "c", since));
    ck_assert(!gf_changes_since(ring, seq, "c", seq));
}
END_TEST

START_TEST(sweep_delivery)
{
    const char *args[GF_DELIVERY_ARGS];
    int http = -1, n = 0;

    ck_assert_str_eq(gf_delivery_origin(test_pool, "https://hooks.example/x?a=1", &http),
                     "https://hooks.example:443");
    ck_assert_int_eq(http, 0);
    ck_assert_str_eq(gf_delivery_origin(test_pool, "HTTP://127.0.0.1:8080/h", &http),
                     "HTTP://127.0.0.1:8080");
    ck_assert_int_eq(http, 1);
    ck_assert_ptr_null(gf_delivery_origin(test_pool, "/relative", &http));
    ck_assert_ptr_null(gf_delivery_origin(test_pool, "mailto:x@example.com", &http));
    ck_assert_ptr_null(gf_delivery_origin(test_pool, NULL, &http));

    ck_assert_str_eq(gf_delivery_answer(test_pool, 500), "answered 500");
    ck_assert_str_eq(gf_delivery_error(test_pool, "timed out", 0), "timed out");
    ck_assert_str_eq(gf_delivery_error(test_pool, NULL, 404), "answered 404");
    ck_assert_str_eq(gf_delivery_error(test_pool, NULL, 199), "answered 199");
    ck_assert_ptr_null(gf_delivery_error(test_pool, NULL, 200));
    ck_assert_ptr_null(gf_delivery_error(test_pool, NULL, 299));
    ck_assert_str_eq(gf_delivery_answer(test_pool, 302), "answered 302 (redirects are not followed)");
    ck_assert_str_eq(gf_delivery_answer(test_pool, 410),
                     "answered 410 Gone: the receiver asked for no more deliveries");

    ck_assert_str_eq(gf_delivery_statement(test_pool, 204, NULL, "7", 2, 0, 3600, args, &n),
                     GF_SQL_WEBHOOK_DONE);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(args[0], "204");
    ck_assert_str_eq(args[1], "7");
    ck_assert_str_eq(args[2], "2");
    ck_assert_str_eq(gf_delivery_statement(test_pool, 0, "timeout", "7", 3, 1500, 3600, args, &n),
                     GF_SQL_WEBHOOK_RETRY);
    ck_assert_int_eq(n, 8);
    ck_assert_str_eq(args[0], "0");
    ck_assert_str_eq(args[1], "1500");
    ck_assert_str_eq(args[2], "3600");
    ck_assert_str_eq(args[3], "1500");
    ck_assert_str_eq(args[4], "0");
    ck_assert_str_eq(args[5], "timeout");
    ck_assert_str_eq(args[6], "7");
    ck_assert_str_eq(args[7], "3");
    gf_delivery_statement(test_pool, 410, "gone", "7", 3, 1500, 3600, args, &n);
    ck_assert_str_eq(args[0], "1");                             /* failed at once */
    gf_delivery_statement(test_pool, 300, "x", "7", 3, 1500, 3600, args, &n);
    ck_assert_int_eq(n, 8);                                      /* a 3xx is not delivered */
    ck_assert_str_eq(args[0], "0");
}
END_TEST

START_TEST(sweep_small_rules)
{
    char list[16] = "";
    int transient = -1;

    ck_assert(gf_changes_wait(apr_time_from_sec(30), 1) == GF_BACKSTOP_LISTENING);
    ck_assert(gf_changes_wait(apr_time_from_sec(30), 0) == GF_BACKSTOP_DEAF);
    ck_assert(gf_changes_wait(apr_time_from_msec(10), 0) == apr_time_from_msec(10));

    ck_assert_int_eq(gf_changes_list_add(list, sizeof(list), "fal"), 1);
    ck_assert_int_eq(gf_changes_list_add(list, sizeof(list), "fal"), 1);   /* once a place */
    ck_assert_str_eq(list, "fal\nfal");
    ck_assert_int_eq(gf_changes_list_add(list, sizeof(list), "aiml"), 1);   /* 12 + NUL */
    ck_assert_int_eq(gf_changes_list_add(list, sizeof(list), "x"), 1);      /* 14 + NUL */
    ck_assert_int_eq(gf_changes_list_add(list, sizeof(list), "y"), 0);      /* would be 17 */
    ck_assert_str_eq(list, "fal\nfal\naiml\nx");

    ck_assert_str_eq(gf_uploads_failure(test_pool, GF_UPLOAD_LOOKUP, "the mask upload",
                                        &transient), "the mask upload could not be looked up");
    ck_assert_int_eq(transient, 1);
    ck_assert_str_eq(gf_uploads_failure(test_pool, GF_UPLOAD_UNREADABLE, "reference picture 1",
                                        &transient), "reference picture 1 could not be read back");
    ck_assert_int_eq(transient, 1);
    ck_assert_str_eq(gf_uploads_failure(test_pool, GF_UPLOAD_GONE, "the source upload",
                                        &transient), "the source upload no longer exists");
    ck_assert_int_eq(transient, 0);
    ck_assert_str_eq(gf_uploads_failure(test_pool, GF_UPLOAD_NO_STORE, "the source upload",
                                        &transient),
                     "the source upload's storage is not configured here");
    ck_assert_str_eq(gf_uploads_failure(test_pool, GF_UPLOAD_NOT_UPLOAD, "x", &transient),
                     "x is not an upload");
    ck_assert_str_eq(gf_uploads_failure(test_pool, GF_UPLOAD_CHANGED, "x", &transient),
                     "x changed since it was uploaded");
    ck_assert_int_eq(transient, 0);
    ck_assert_str_eq(gf_uploads_failure(test_pool, GF_UPLOAD_UNDECODABLE, NULL, &transient),
                     "the source upload no longer decodes as it did");
    ck_assert_str_eq(gf_uploads_failure(test_pool, GF_UPLOAD_BAD_REFERENCES, NULL, &transient),
                     "the reference pictures are not a list of uploads");
    ck_assert_int_eq(transient, 0);

    ck_assert_str_eq(gf_delivery_trace(test_pool, NULL), "-");
    ck_assert_str_eq(gf_delivery_trace(test_pool, "not a trace id"), "-");
    ck_assert_str_eq(gf_delivery_trace(test_pool, "4bf92f3577b34da6a3ce929d0e0e4736"),
                     "4bf92f3577b34da6a3ce929d0e0e4736");
}
END_TEST

Suite *sweep_suite(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("sweep");
    tcase_add_test(tc, sweep_repeats);
    tcase_add_test(tc, sweep_looks_and_pages);
    tcase_add_test(tc, sweep_upload_ids);
    tcase_add_test(tc, sweep_changes_ring);
    tcase_add_test(tc, sweep_delivery);
    tcase_add_test(tc, sweep_small_rules);
    suite_add_tcase(s, tc);
    return s;
}
