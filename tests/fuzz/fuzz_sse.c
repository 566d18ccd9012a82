/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_sse: the text/event-stream reader (net/gf_sse.c) that streamed
 * provider answers go through.
 *
 * Input: one byte for the cap (its value + 1, times 4), one for the size
 * of the pieces the stream is fed in (its value + 1), then the stream.
 * Properties: fed whole or in pieces, the same events (type and data,
 * NULs included) and the same verdict; no event's data longer than the
 * cap, none with a CR, no type as long as its buffer; once refused, the
 * reader stays refused and reads nothing more. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "fuzz_common.h"
#include "net/gf_sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    apr_pool_t *p;
    apr_size_t cap;
    char *log;                   /* each event as type, NUL, length, data */
    apr_size_t len;
    int n;
} seen_t;

static void on_event(void *baton, const char *event, const char *d, apr_size_t len)
{
    seen_t *x = baton;
    apr_size_t tl = strlen(event);
    char *more;
    FUZZ_CHECK(tl > 0 && tl < GF_SSE_TYPE_MAX);
    FUZZ_CHECK(len <= x->cap);
    FUZZ_CHECK(!memchr(d, '\r', len));
    FUZZ_CHECK(d[len] == '\0');
    more = apr_palloc(x->p, x->len + tl + 1 + sizeof(len) + len);
    if (x->len) memcpy(more, x->log, x->len);
    memcpy(more + x->len, event, tl + 1);
    memcpy(more + x->len + tl + 1, &len, sizeof(len));
    memcpy(more + x->len + tl + 1 + sizeof(len), d, len);
    x->log = more;
    x->len += tl + 1 + sizeof(len) + len;
    x->n++;
}

static int read_all(apr_pool_t *p, const char *s, size_t len, size_t piece, apr_size_t cap,
                    seen_t *x)
{
    gf_sse_t *r;
    size_t at;
    int rc = 0;
    memset(x, 0, sizeof(*x));
    x->p = p;
    x->cap = cap;
    r = gf_sse_make(p, cap, on_event, x);
    for (at = 0; at < len; at += piece) {
        int n = x->n;
        if (gf_sse_feed(r, s + at, len - at < piece ? len - at : piece) < 0) {
            if (rc < 0) FUZZ_CHECK(x->n == n);   /* refused: nothing more read */
            rc = -1;
        }
        else {
            FUZZ_CHECK(rc == 0);
        }
    }
    if (rc < 0) FUZZ_CHECK(gf_sse_feed(r, "data: x\n\n", 9) < 0);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    apr_size_t cap;
    size_t piece;
    seen_t whole, pieces;
    int rc1, rc2;

    if (size < 2) return 0;
    p = fuzz_pool_begin();
    cap = ((apr_size_t)data[0] + 1) * 4;
    piece = (size_t)data[1] + 1;
    rc1 = read_all(p, (const char *)data + 2, size - 2, size - 2 ? size - 2 : 1, cap, &whole);
    rc2 = read_all(p, (const char *)data + 2, size - 2, piece, cap, &pieces);
    FUZZ_CHECK(rc1 == rc2);
    FUZZ_CHECK(whole.n == pieces.n && whole.len == pieces.len);
    FUZZ_CHECK(!whole.len || !memcmp(whole.log, pieces.log, whole.len));
    fuzz_pool_end(p);
    return 0;
}
