/* SPDX-License-Identifier: Apache-2.0 */
/* test_sse.c: the text/event-stream reader (net/gf_sse.h), fed whole and
 * split at every byte. */
#include <string.h>

#include "test_core.h"
#include "net/gf_sse.h"
#include <apr_strings.h>

/* The events read, as "type=data|" each. */
typedef struct {
    char out[4096];
    int n;
} seen_t;

static void on_event(void *baton, const char *event, const char *data, apr_size_t len)
{
    seen_t *x = baton;
    apr_size_t used = strlen(x->out);
    apr_snprintf(x->out + used, sizeof(x->out) - used, "%s=%.*s|", event, (int)len, data);
    x->n++;
}

/* text read in one piece and in pieces of every size; each reading must
 * give want. */
static void reads_as(const char *text, apr_size_t max, int rc, const char *want)
{
    apr_size_t len = strlen(text), piece;
    for (piece = 0; piece <= len; piece++) {
        gf_sse_t *s;
        seen_t x;
        apr_size_t at = 0;
        int got = 0;
        memset(&x, 0, sizeof(x));
        s = gf_sse_make(test_pool, max, on_event, &x);
        if (piece == 0) got = gf_sse_feed(s, text, len);
        for (; piece && at < len; at += piece) {
            if (gf_sse_feed(s, text + at, len - at < piece ? len - at : piece) < 0) got = -1;
        }
        ck_assert_msg(got == rc, "pieces of %zu: rc %d", piece, got);
        ck_assert_msg(!strcmp(x.out, want), "pieces of %zu: got [%s], want [%s]", piece, x.out, want);
    }
}

START_TEST(sse_events)
{
    /* OpenAI's shapes: a named event, its JSON on one data line. */
    reads_as("event: image_generation.partial_image\ndata: {\"b64_json\":\"AAA\"}\n\n"
             "event: image_generation.completed\ndata: {\"b64_json\":\"BBB\"}\n\n",
             1024, 0,
             "image_generation.partial_image={\"b64_json\":\"AAA\"}|"
             "image_generation.completed={\"b64_json\":\"BBB\"}|");
    /* CRLF and CR line ends, comments, id and retry, no space after the
     * colon, several data lines joined by LF, the default type. */
    reads_as(": keep-alive\r\nid: 7\r\nretry: 100\r\ndata:a\r\ndata: b\r\n\r\ndata: c\r\r", 1024, 0,
             "message=a\nb|message=c|");
    /* A leading byte-order mark is not the stream's; one later is. */
    reads_as("\xEF\xBB\xBF" "data: x\n\n", 1024, 0, "message=x|");
    reads_as("\xEF\xBB" "data: x\n\n", 1024, 0, "");
    /* No data: nothing dispatched; an event cut before its blank line is
     * not dispatched either; the type does not carry over. */
    reads_as("event: ping\n\nevent: a\ndata: 1\n\ndata: 2\n\ndata: 3", 1024, 0, "a=1|message=2|");
    /* An empty data line is data. */
    reads_as("data\n\n", 1024, 0, "message=|");
}
END_TEST

START_TEST(sse_caps)
{
    /* An event's data past the cap refuses the stream; the events before
     * it were read. */
    reads_as("data: 12345\n\ndata: 123456789\n\ndata: 1\n\n", 8, -1, "message=12345|");
    reads_as("data: 1234\ndata: 1234\n\n", 8, -1, "");
    /* A line without an end, past the cap: refused, however it comes. */
    reads_as(": aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 8, -1, "");
    /* A type is cut to its size, never past its buffer. */
    {
        char text[300];
        memset(text, 0, sizeof(text));
        strcpy(text, "event: ");
        memset(text + 7, 'e', 200);
        strcat(text, "\ndata: z\n\n");
        gf_sse_t *s;
        seen_t x;
        memset(&x, 0, sizeof(x));
        s = gf_sse_make(test_pool, 1024, on_event, &x);
        ck_assert_int_eq(gf_sse_feed(s, text, strlen(text)), 0);
        ck_assert_int_eq(x.n, 1);
        ck_assert_int_eq((int)strlen(x.out), GF_SSE_TYPE_MAX - 1 + 3);
        /* Refused stays refused. */
        {
            char line[1050];
            memset(line, 'a', sizeof(line));
            line[0] = ':';
            ck_assert_int_eq(gf_sse_feed(s, line, sizeof(line)), -1);
        }
        ck_assert_int_eq(gf_sse_feed(s, "data: y\n\n", 9), -1);
        ck_assert_int_eq(x.n, 1);
    }
    /* NULs inside data are kept, with the length. */
    {
        static const char text[] = "data: a\0b\n\n";
        gf_sse_t *s;
        seen_t x;
        memset(&x, 0, sizeof(x));
        s = gf_sse_make(test_pool, 64, on_event, &x);
        ck_assert_int_eq(gf_sse_feed(s, text, sizeof(text) - 1), 0);
        ck_assert_int_eq(x.n, 1);
    }
}
END_TEST

Suite *sse_suite(void)
{
    Suite *s = suite_create("sse");
    TCase *tc = tcase_create("sse");
    tcase_add_test(tc, sse_events);
    tcase_add_test(tc, sse_caps);
    suite_add_tcase(s, tc);
    return s;
}
