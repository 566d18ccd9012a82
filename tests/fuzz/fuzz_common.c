/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_common.c: pool allocators mapped to malloc, a fake gf_http_perform,
 * and small helpers for the libFuzzer targets (see fuzz_common.h).
 *
 * Why the allocator wrappers: an APR pool hands out pieces of 8 KB blocks.
 * Writing or reading one byte past a 10-byte apr_palloc'd buffer lands in
 * the next piece of the same block, memory AddressSanitizer considers
 * valid, so the overflow goes unnoticed. tests/fuzz/build links every
 * target with -Wl,--wrap=apr_palloc,... : each call our code (and this
 * harness) makes to one of the functions below goes to __wrap_<name>,
 * which mallocs exactly the requested size (so the bytes after it are a
 * redzone) and registers a pool cleanup that frees it when the pool is
 * cleared or destroyed (so pool lifetimes, and LeakSanitizer, still
 * work). The string helpers are wrapped too, because APR calls its own
 * apr_palloc internally, where --wrap does not reach. Allocations APR
 * makes on its own (tables, arrays, hashes) still come from pool blocks.
 * Formatting is left to the real apr_pvsprintf (APR has its own format
 * extensions); its result is copied into an exact-size block.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "fuzz_common.h"
#include "net/gf_http.h"
#include "net/gf_http_sink.h"

/* ---- pool allocations, one malloc each --------------------------------- */

void *__real_apr_palloc(apr_pool_t *p, apr_size_t size);
char *__real_apr_pvsprintf(apr_pool_t *p, const char *fmt, va_list ap);

static apr_status_t free_block(void *m)
{
    free(m);
    return APR_SUCCESS;
}

static void *block(apr_pool_t *p, apr_size_t size)
{
    void *m = malloc(size ? size : 1);
    if (!m) abort();
    apr_pool_cleanup_register(p, m, free_block, apr_pool_cleanup_null);
    return m;
}

void *__wrap_apr_palloc(apr_pool_t *p, apr_size_t size);
void *__wrap_apr_pcalloc(apr_pool_t *p, apr_size_t size);
char *__wrap_apr_pstrdup(apr_pool_t *p, const char *s);
char *__wrap_apr_pstrndup(apr_pool_t *p, const char *s, apr_size_t n);
char *__wrap_apr_pstrmemdup(apr_pool_t *p, const char *s, apr_size_t n);
void *__wrap_apr_pmemdup(apr_pool_t *p, const void *m, apr_size_t n);
char *__wrap_apr_pstrcat(apr_pool_t *p, ...);
char *__wrap_apr_pvsprintf(apr_pool_t *p, const char *fmt, va_list ap);
char *__wrap_apr_psprintf(apr_pool_t *p, const char *fmt, ...);

void *__wrap_apr_palloc(apr_pool_t *p, apr_size_t size)
{
    return block(p, size);
}

void *__wrap_apr_pcalloc(apr_pool_t *p, apr_size_t size)
{
    return memset(block(p, size), 0, size);
}

char *__wrap_apr_pstrmemdup(apr_pool_t *p, const char *s, apr_size_t n)
{
    char *d;
    if (!s) return NULL;
    d = block(p, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *__wrap_apr_pstrdup(apr_pool_t *p, const char *s)
{
    return s ? __wrap_apr_pstrmemdup(p, s, strlen(s)) : NULL;
}

char *__wrap_apr_pstrndup(apr_pool_t *p, const char *s, apr_size_t n)
{
    const char *end;
    if (!s) return NULL;
    end = memchr(s, '\0', n);
    return __wrap_apr_pstrmemdup(p, s, end ? (apr_size_t)(end - s) : n);
}

void *__wrap_apr_pmemdup(apr_pool_t *p, const void *m, apr_size_t n)
{
    void *d;
    if (!m) return NULL;
    d = block(p, n);
    memcpy(d, m, n);
    return d;
}

char *__wrap_apr_pstrcat(apr_pool_t *p, ...)
{
    va_list ap;
    const char *s;
    apr_size_t total = 0, n;
    char *out, *o;

    va_start(ap, p);
    while ((s = va_arg(ap, const char *)) != NULL) total += strlen(s);
    va_end(ap);
    o = out = block(p, total + 1);
    va_start(ap, p);
    while ((s = va_arg(ap, const char *)) != NULL) {
        n = strlen(s);
        memcpy(o, s, n);
        o += n;
    }
    va_end(ap);
    *o = '\0';
    return out;
}

char *__wrap_apr_pvsprintf(apr_pool_t *p, const char *fmt, va_list ap)
{
    char *s = __real_apr_pvsprintf(p, fmt, ap);
    return s ? __wrap_apr_pstrdup(p, s) : NULL;
}

char *__wrap_apr_psprintf(apr_pool_t *p, const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    s = __wrap_apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    return s;
}

/* ---- pools and fields ---------------------------------------------------- */

static apr_pool_t *root;

void fuzz_init(void)
{
    if (root) return;
    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&root, NULL) != APR_SUCCESS) abort();
}

apr_pool_t *fuzz_pool_begin(void)
{
    apr_pool_t *p;
    fuzz_init();
    if (apr_pool_create(&p, root) != APR_SUCCESS) abort();
    return p;
}

void fuzz_pool_end(apr_pool_t *p)
{
    apr_pool_destroy(p);
}

int fuzz_fields(apr_pool_t *p, const uint8_t *data, size_t size, const char *sep,
                int max, char **fields, size_t *lens)
{
    size_t seplen = strlen(sep), pos = 0;
    int i, present = 0;

    for (i = 0; i < max; i++) {
        fields[i] = apr_pstrmemdup(p, "", 0);
        lens[i] = 0;
    }
    for (i = 0; i < max && pos <= size; i++) {
        size_t end = size, next = size + 1;
        if (i < max - 1 && seplen) {
            const uint8_t *hit = NULL;
            size_t k;
            for (k = pos; k + seplen <= size; k++) {
                if (!memcmp(data + k, sep, seplen)) { hit = data + k; break; }
            }
            if (hit) {
                end = (size_t)(hit - data);
                next = end + seplen;
            }
        }
        fields[i] = apr_pstrmemdup(p, (const char *)data + pos, end - pos);
        lens[i] = end - pos;
        present++;
        pos = next;
    }
    return present;
}

/* ---- the fake HTTP exchange ---------------------------------------------- *
 *
 * Answers, in the order requests are made, separated by a line "~~~":
 *
 *   HTTP/1.1 200 OK          status line (or "ERROR <message>": no answer,
 *   Content-Type: image/png   a transport failure such as a reset)
 *   finish-reason: SUCCESS   header lines, "\n" or "\r\n"
 *                            an empty line
 *   <body bytes>             up to the separator (NULs allowed)
 *
 * The header lines go through gf_http_on_header and the body through
 * gf_http_on_body in chunks of varying size, exactly as libcurl feeds
 * gf_http_perform; the response is then completed as gf_http_perform
 * does (NUL after the body, content_type from the headers, the size cap
 * of the request). As in gf_http_perform, a URL that gf_http_check_url or
 * (with an origin) gf_http_check_origin refuses is not sent and gets no
 * answer; the public-address check made at connect time is not modelled.
 * Requests beyond the last answer fail like a refused connection.
 */

#define ANSWER_SEP "\n~~~\n"

static const char *answers;
static size_t answers_len, answers_pos;
static int calls;

void fuzz_http_answers(const char *text, size_t len)
{
    answers = text;
    answers_len = len;
    answers_pos = 0;
    calls = 0;
}

int fuzz_http_calls(void)
{
    return calls;
}

void __wrap_gf_http_perform(apr_pool_t *p, const gf_http_request_t *req, gf_http_response_t *res);

void __wrap_gf_http_perform(apr_pool_t *p, const gf_http_request_t *req, gf_http_response_t *res)
{
    const char *a, *end, *line, *sep = NULL;
    size_t k, n, chunk;
    gf_http_sink_t sink;
    static const size_t CHUNKS[] = { 1, 13, 4096, 7, 65536 };
    int c = 0;

    /* What every adapter must hand over. */
    FUZZ_CHECK(req && req->method && req->url);
    FUZZ_CHECK(!req->body || !req->parts);
    calls++;
    memset(res, 0, sizeof(*res));
    res->headers = apr_table_make(p, 16);
    res->content_type = "";
    /* gf_http_perform's own checks before anything is sent (the real
     * functions): a refused request consumes no answer. */
    if ((res->error = gf_http_check_url(p, req->url, req->allow_loopback_http)) != NULL
        || (req->origin && (res->error = gf_http_check_origin(p, req->url, req->origin)) != NULL)) {
        res->refused = 1;
        return;
    }
    if (answers_pos > answers_len || !answers) {
        res->error = "Couldn't connect to server (fuzz: no more answers)";
        res->transient = 1;
        return;
    }
    a = answers + answers_pos;
    n = answers_len - answers_pos;
    for (k = 0; k + sizeof(ANSWER_SEP) - 1 <= n; k++) {
        if (!memcmp(a + k, ANSWER_SEP, sizeof(ANSWER_SEP) - 1)) { sep = a + k; break; }
    }
    end = sep ? sep : a + n;
    answers_pos = sep ? (size_t)(sep - answers) + sizeof(ANSWER_SEP) - 1 : answers_len + 1;

    if (end - a >= 5 && !memcmp(a, "ERROR", 5)) {
        const char *nl = memchr(a, '\n', (size_t)(end - a));
        res->error = apr_pstrmemdup(p, a, (size_t)((nl ? nl : end) - a));
        res->transient = 1;
        return;
    }
    /* Header lines, status line first, until an empty line. */
    line = a;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t len = nl ? (size_t)(nl - line) + 1 : (size_t)(end - line);
        /* libcurl hands each line over, whole and ending in "\n", in a
         * buffer of its own (a last line without one gets one here) */
        char *copy = apr_palloc(p, len + (nl ? 0 : 1));
        memcpy(copy, line, len);
        if (!nl) copy[len] = '\n';
        FUZZ_CHECK(gf_http_on_header(copy, 1, len + (nl ? 0 : 1), res) == len + (nl ? 0 : 1));
        /* libcurl's reading of the status line, which the callback's own
         * (for the body's sink) agrees with on every status it accepts. */
        if (len >= 5 && !memcmp(line, "HTTP/", 5)) {
            const char *sp = memchr(line, ' ', len);
            res->status = sp ? atoi(apr_pstrmemdup(p, sp + 1, len - (size_t)(sp + 1 - line))) : 0;
        }
        line += len;
        if (len == 1 || (len == 2 && line[-2] == '\r')) break;   /* the empty line */
    }
    if (res->status < 100 || res->status > 999) {
        /* libcurl: no status line, or not a three-digit code */
        res->status = 0;
        res->error = "Weird server reply";
        res->transient = 1;
        return;
    }
    memset(&sink, 0, sizeof(sink));
    sink.p = p;
    sink.max = req->max_response ? req->max_response : 10 * 1024 * 1024;
    sink.tap = req->tap;
    sink.tap_baton = req->tap_baton;
    sink.res = res;
    while (line < end) {
        char *copy;
        chunk = CHUNKS[c++ % (sizeof(CHUNKS) / sizeof(CHUNKS[0]))];
        if (chunk > (size_t)(end - line)) chunk = (size_t)(end - line);
        copy = apr_pmemdup(p, line, chunk);
        if (gf_http_on_body(copy, 1, chunk, &sink) != chunk) {
            FUZZ_CHECK(sink.too_large || sink.tap_refused);
            res->tapped = sink.tapping;
            if (sink.tap_refused) {
                res->error = "the streamed answer was refused by its reader";
                res->status = 0;
                return;
            }
            res->too_large = 1;
            res->error = apr_psprintf(p, "answer larger than %" APR_SIZE_T_FMT " bytes", sink.max);
            res->status = 0;
            return;
        }
        FUZZ_CHECK(sink.len <= sink.max && (sink.tapping || sink.len < sink.cap));
        line += chunk;
    }
    {
        const char *ct;
        res->tapped = sink.tapping;
        res->body = sink.buf && !sink.tapping ? sink.buf : apr_pstrdup(p, "");
        if (sink.buf && !sink.tapping) res->body[sink.len] = '\0';
        res->body_len = sink.tapping ? 0 : sink.len;
        ct = apr_table_get(res->headers, "content-type");
        res->content_type = ct ? ct : "";
    }
}
