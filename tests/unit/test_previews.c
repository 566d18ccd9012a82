/* SPDX-License-Identifier: Apache-2.0 */
/* test_previews.c: previews of a picture being drawn: the board a child
 * keeps them on (core/gf_previews.h), their small JPEG
 * (image/gf_image.h) and the reading of OpenAI's streamed answer that
 * yields them (providers/gf_provider_openai_stream.h). */
#include <string.h>
#include <apr_strings.h>

#include "test_core.h"
#include "core/gf_previews.h"
#include "core/gf_error.h"
#include "image/gf_image.h"
#include "providers/gf_provider_openai_stream.h"

#define ID1 "0a1b2c3d-0000-4000-8000-00000000aaaa"
#define ID2 "0a1b2c3d-0000-4000-8000-00000000bbbb"

START_TEST(previews_parse)
{
    char id[GF_PREVIEW_ID_MAX], url[GF_PREVIEW_URL_MAX];
    char *long_url = apr_pcalloc(test_pool, GF_PREVIEW_URL_MAX + 64);
    apr_time_t stamp = 0;

    ck_assert(gf_previews_parse(ID1 " 1795300000123456 /media/previews/x.jpg", id, &stamp, url));
    ck_assert_str_eq(id, ID1);
    ck_assert(stamp == (apr_time_t)1795300000123456LL);
    ck_assert_str_eq(url, "/media/previews/x.jpg");
    ck_assert(!gf_previews_parse(NULL, id, &stamp, url));
    ck_assert(!gf_previews_parse(ID1, id, &stamp, url));                       /* nothing else */
    ck_assert(!gf_previews_parse(ID1 " 12", id, &stamp, url));                 /* no URL */
    ck_assert(!gf_previews_parse(ID1 " 12 ", id, &stamp, url));                /* an empty one */
    ck_assert(!gf_previews_parse(ID1 " /x.jpg", id, &stamp, url));             /* no stamp */
    ck_assert(!gf_previews_parse(ID1 " 1x /x.jpg", id, &stamp, url));
    ck_assert(!gf_previews_parse(ID1 " 1234567890123456789 /x.jpg", id, &stamp, url));
    ck_assert(!gf_previews_parse("not-a-uuid 12 /x.jpg", id, &stamp, url));
    ck_assert(!gf_previews_parse(ID1 " 12 /a b.jpg", id, &stamp, url));        /* a space */
    ck_assert(!gf_previews_parse(ID1 " 12 /a\x01.jpg", id, &stamp, url));      /* a control byte */
    ck_assert(!gf_previews_parse(ID1 " 12 /\xc3\xa9.jpg", id, &stamp, url));   /* not ASCII */
    memcpy(long_url, ID1 " 12 /", 41);
    memset(long_url + 41, 'a', GF_PREVIEW_URL_MAX);
    ck_assert(!gf_previews_parse(long_url, id, &stamp, url));                  /* too long */
}
END_TEST

START_TEST(previews_keys)
{
    ck_assert(gf_previews_key("previews/" ID1 "-0123456789abcdef.jpg"));
    ck_assert(!gf_previews_key("previews/" ID1 "-0123456789abcdef.png"));   /* a type's result */
    ck_assert(!gf_previews_key("previews/" ID1 "-0123456789abcdeg.jpg"));
    ck_assert(!gf_previews_key("previews/" ID1 "-0123456789abcde.jpg"));
    ck_assert(!gf_previews_key("previews/notes.txt"));
    ck_assert(!gf_previews_key("uploads/" ID1 "-0123456789abcdef.jpg"));
    ck_assert(!gf_previews_key("previews/sub/" ID1 "-0123456789abcdef.jpg"));
    ck_assert(!gf_previews_key(NULL));
}
END_TEST

START_TEST(previews_board)
{
    gf_previews_t *b = apr_pcalloc(test_pool, sizeof(*b));
    char url[GF_PREVIEW_URL_MAX], id[GF_PREVIEW_ID_MAX];
    apr_time_t now = apr_time_from_sec(1000000), keep = apr_time_from_sec(10);
    apr_uint32_t s1, s2, s3;
    int i;

    ck_assert_uint_eq(gf_previews_get(b, ID1, now, keep, url, sizeof(url)), 0);
    s1 = gf_previews_put(b, ID1, now, "/p/1.jpg", now);
    s2 = gf_previews_put(b, ID2, now, "/p/2.jpg", now);
    ck_assert_uint_ne(s1, 0);
    ck_assert_uint_gt(s2, s1);
    ck_assert_uint_eq(gf_previews_get(b, ID1, now, keep, url, sizeof(url)), s1);
    ck_assert_str_eq(url, "/p/1.jpg");
    /* A newer preview replaces the last one of its generation... */
    s3 = gf_previews_put(b, ID1, now + 2, "/p/3.jpg", now + 1);
    ck_assert_uint_gt(s3, s2);
    ck_assert_uint_eq(gf_previews_get(b, ID1, now + 1, keep, url, sizeof(url)), s3);
    ck_assert_str_eq(url, "/p/3.jpg");
    /* ...and one taken before it, heard late, does not. */
    ck_assert_uint_eq(gf_previews_put(b, ID1, now + 1, "/p/late.jpg", now + 1), 0);
    ck_assert_uint_eq(gf_previews_get(b, ID1, now + 1, keep, url, sizeof(url)), s3);
    ck_assert_str_eq(url, "/p/3.jpg");
    /* Past the keep time it is not handed out. */
    ck_assert_uint_eq(gf_previews_get(b, ID1, now + 1 + keep + 1, keep, url, sizeof(url)), 0);
    /* A burst of other generations takes the oldest places: ID2's (heard
     * first) goes, and the board never grows. */
    for (i = 0; i < GF_PREVIEWS_SLOTS - 2; i++) {
        apr_snprintf(id, sizeof(id), "0a1b2c3d-0000-4000-8000-%012d", i);
        gf_previews_put(b, id, now, "/p/x.jpg", now + 2);
    }
    ck_assert_uint_eq(gf_previews_get(b, ID1, now + 2, keep, url, sizeof(url)), s3);
    ck_assert_uint_eq(gf_previews_get(b, ID2, now + 2, keep, url, sizeof(url)), s2);
    gf_previews_put(b, "0a1b2c3d-0000-4000-8000-ffffffffffff", now, "/p/y.jpg", now + 3);
    ck_assert_uint_eq(gf_previews_get(b, ID2, now + 3, keep, url, sizeof(url)), 0);
    ck_assert_uint_eq(gf_previews_get(b, ID1, now + 3, keep, url, sizeof(url)), s3);
}
END_TEST

/* An RGB picture: the left half red, the right half blue. */
static gf_image_t halves(unsigned w, unsigned h)
{
    gf_image_t img;
    unsigned x, y;
    img.width = w;
    img.height = h;
    img.rgb = apr_palloc(test_pool, (apr_size_t)w * h * 3);
    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            unsigned char *px = img.rgb + ((apr_size_t)y * w + x) * 3;
            px[0] = x < w / 2 ? 220 : 10;
            px[1] = 20;
            px[2] = x < w / 2 ? 10 : 220;
        }
    }
    return img;
}

START_TEST(small_jpeg)
{
    gf_image_t big = halves(1536, 1024), small_one = halves(100, 60), out;
    gf_image_format_t fmt;
    unsigned char *jpeg;
    apr_size_t len;
    const unsigned char *left, *right;

    ck_assert_ptr_null(gf_image_small_jpeg(test_pool, &big, 384, 70, &jpeg, &len));
    ck_assert_ptr_null(gf_image_decode(test_pool, jpeg, len, 1 << 20, &fmt, &out));
    ck_assert_int_eq(fmt, GF_IMAGE_JPEG);
    ck_assert_uint_eq(out.width, 384);
    ck_assert_uint_eq(out.height, 256);
    ck_assert_uint_lt(len, 20000);
    /* Shrunk, not cropped: red on the left, blue on the right. */
    left = out.rgb + ((apr_size_t)128 * 384 + 50) * 3;
    right = out.rgb + ((apr_size_t)128 * 384 + 330) * 3;
    ck_assert_int_gt(left[0], 150);
    ck_assert_int_lt(left[2], 80);
    ck_assert_int_gt(right[2], 150);
    ck_assert_int_lt(right[0], 80);
    /* A picture smaller than the side keeps its size. */
    ck_assert_ptr_null(gf_image_small_jpeg(test_pool, &small_one, 384, 70, &jpeg, &len));
    ck_assert_ptr_null(gf_image_decode(test_pool, jpeg, len, 1 << 20, &fmt, &out));
    ck_assert_uint_eq(out.width, 100);
    ck_assert_uint_eq(out.height, 60);
    /* Tall pictures keep their shape too; nothing is no picture. */
    big = halves(300, 3000);
    ck_assert_ptr_null(gf_image_small_jpeg(test_pool, &big, 384, 70, &jpeg, &len));
    ck_assert_ptr_null(gf_image_decode(test_pool, jpeg, len, 1 << 20, &fmt, &out));
    ck_assert_uint_eq(out.width, 38);
    ck_assert_uint_eq(out.height, 384);
    ck_assert_ptr_nonnull(gf_image_small_jpeg(test_pool, NULL, 384, 70, &jpeg, &len));
}
END_TEST

/* ---- OpenAI's stream --------------------------------------------------- */

/* A real 1x1 PNG, in base64. */
#define PNG64 "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"

typedef struct {
    int n;
    apr_size_t len;
    const char *type;
    int refuse;                  /* preview_wanted answers 0 */
    int asked;
} previews_seen_t;

static int preview_wanted(void *baton)
{
    previews_seen_t *x = baton;
    x->asked++;
    return !x->refuse;
}

static void on_preview(void *baton, const unsigned char *bytes, apr_size_t len, const char *type)
{
    previews_seen_t *x = baton;
    ck_assert_ptr_nonnull(bytes);
    x->n++;
    x->len = len;
    x->type = type;
}

/* The stream read in pieces of piece bytes (0: whole), into res. */
static gf_openai_stream_t *read_stream(const char *text, apr_size_t piece, apr_size_t max,
                                       previews_seen_t *seen, gf_provider_result_t *res, int *rc)
{
    static gf_provider_t prov;
    static gf_job_t job;
    gf_openai_stream_t *st;
    apr_size_t len = strlen(text), at = 0;
    int refuse;

    memset(&prov, 0, sizeof(prov));
    prov.name = "oai";
    memset(&job, 0, sizeof(job));
    job.preview = on_preview;
    job.preview_wanted = preview_wanted;
    job.preview_baton = seen;
    refuse = seen->refuse;
    memset(seen, 0, sizeof(*seen));
    seen->refuse = refuse;
    memset(res, 0, sizeof(*res));
    st = gf_openai_stream_make(test_pool, &prov, &job, max);
    *rc = 0;
    if (!piece) piece = len ? len : 1;
    for (; at < len; at += piece) {
        if (gf_openai_stream_tap(st, text + at, len - at < piece ? len - at : piece) < 0) *rc = -1;
    }
    gf_openai_stream_end(st, res);
    return st;
}

START_TEST(openai_stream_pictures)
{
    const char *text =
        ": a comment\r\n"
        "event: image_generation.partial_image\r\n"
        "data: {\"type\":\"image_generation.partial_image\",\"b64_json\":\"" PNG64 "\","
        "\"partial_image_index\":0}\r\n\r\n"
        "event: image_generation.partial_image\n"
        "data: {\"type\":\"image_generation.partial_image\",\"b64_json\":\"!!notbase64\","
        "\"partial_image_index\":1}\n\n"
        "event: image_generation.completed\n"
        "data: {\"type\":\"image_generation.completed\",\"b64_json\":\"" PNG64 "\","
        "\"usage\":{\"total_tokens\":6290}}\n\n"
        "event: image_generation.completed\n"
        "data: {\"type\":\"image_generation.completed\",\"b64_json\":\"AAAA\"}\n\n";
    apr_size_t piece;
    int rc, previewed;

    for (piece = 0; piece < 40; piece += 7) {
        previews_seen_t seen = { 0 };
        gf_provider_result_t res;
        gf_openai_stream_t *st = read_stream(text, piece, 1 << 20, &seen, &res, &rc);
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(seen.n, 1);                 /* the damaged one is skipped */
        ck_assert_str_eq(seen.type, "image/png");
        ck_assert_int_eq(gf_openai_stream_partials(st, &previewed), 2);
        ck_assert_int_eq(previewed, 1);
        ck_assert_ptr_null(res.error_code);          /* the first completed counts */
        ck_assert_ptr_nonnull(res.image);
        ck_assert_str_eq(res.content_type, "image/png");
        ck_assert(res.usage > 6289 && res.usage < 6291);
        ck_assert_str_eq(res.usage_unit, "tokens");
    }
    /* A hook that would not take one now: the partial pictures are
     * counted, none is handed over, and the picture still comes. */
    {
        previews_seen_t seen = { 0 };
        gf_provider_result_t res;
        gf_openai_stream_t *st;
        seen.refuse = 1;
        st = read_stream(text, 0, 1 << 20, &seen, &res, &rc);
        ck_assert_int_eq(seen.n, 0);
        ck_assert_int_ge(seen.asked, 2);
        ck_assert_int_eq(gf_openai_stream_partials(st, &previewed), 2);
        ck_assert_int_eq(previewed, 0);
        ck_assert_ptr_nonnull(res.image);
    }
}
END_TEST

START_TEST(openai_stream_failures)
{
    previews_seen_t seen = { 0 };
    gf_provider_result_t res;
    int rc;

    /* An error event after a partial picture: a refusal by its code. */
    read_stream("event: image_edit.partial_image\n"
                "data: {\"type\":\"image_edit.partial_image\",\"b64_json\":\"" PNG64 "\"}\n\n"
                "event: error\n"
                "data: {\"type\":\"error\",\"error\":{\"code\":\"moderation_blocked\","
                "\"message\":\"rejected\"}}\n\n",
                0, 1 << 20, &seen, &res, &rc);
    ck_assert_int_eq(seen.n, 1);
    ck_assert_str_eq(res.error_code, GF_JOB_CONTENT_FILTERED);
    ck_assert_int_eq(res.transient, 0);
    ck_assert_ptr_null(res.image);
    /* Another error, named only in the data: worth another try. */
    read_stream("data: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"oops\"}",
                0, 1 << 20, &seen, &res, &rc);
    ck_assert_str_eq(res.error_code, GF_JOB_API);
    ck_assert_int_eq(res.transient, 1);
    ck_assert_ptr_nonnull(strstr(res.error_message, "oops"));
    /* The account's credits. */
    read_stream("event: error\ndata: {\"error\":{\"code\":\"insufficient_quota\"}}\n\n",
                0, 1 << 20, &seen, &res, &rc);
    ck_assert_str_eq(res.error_code, GF_JOB_PROVIDER_CREDITS);
    /* A stream that ends without its picture. */
    read_stream("event: image_generation.partial_image\n"
                "data: {\"b64_json\":\"" PNG64 "\"}\n\n",
                0, 1 << 20, &seen, &res, &rc);
    ck_assert_int_eq(seen.n, 1);
    ck_assert_str_eq(res.error_code, GF_JOB_API);
    ck_assert_int_eq(res.transient, 1);
    ck_assert_ptr_nonnull(strstr(res.error_message, "ended before its picture"));
    /* Events of no concern, and a completed one without a picture. */
    read_stream("event: ping\ndata: {}\n\nevent: image_generation.completed\ndata: {\"usage\":{}}\n\n",
                0, 1 << 20, &seen, &res, &rc);
    ck_assert_int_eq(seen.n, 0);
    ck_assert_str_eq(res.error_code, GF_JOB_API);
    /* Past the cap: refused, and no picture. */
    read_stream("event: image_generation.completed\n"
                "data: {\"type\":\"image_generation.completed\",\"b64_json\":\"" PNG64 "\"}\n\n",
                0, 32, &seen, &res, &rc);
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_nonnull(res.error_code);
    ck_assert_ptr_null(res.image);
    /* A last event without its blank line still counts. */
    read_stream("event: image_generation.completed\n"
                "data: {\"b64_json\":\"" PNG64 "\"}",
                0, 1 << 20, &seen, &res, &rc);
    ck_assert_ptr_null(res.error_code);
    ck_assert_ptr_nonnull(res.image);
}
END_TEST

Suite *previews_suite(void)
{
    Suite *s = suite_create("previews");
    TCase *tc = tcase_create("previews");
    tcase_add_test(tc, previews_parse);
    tcase_add_test(tc, previews_keys);
    tcase_add_test(tc, previews_board);
    tcase_add_test(tc, small_jpeg);
    tcase_add_test(tc, openai_stream_pictures);
    tcase_add_test(tc, openai_stream_failures);
    suite_add_tcase(s, tc);
    return s;
}
