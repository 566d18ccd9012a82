/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_http_sink: libcurl's callbacks of the HTTP layer (gf_http_sink.c)
 * and its URL rules (gf_http_check_url and gf_http_check_origin, gf_http.c).
 *
 * Input: fields separated by a line "~~~":
 *   header block (fed line by line, each line ending in "\n" as libcurl
 *   delivers them, in an exact-size buffer of its own), body (fed in
 *   chunks whose sizes come from the last byte of the input), size cap
 *   (decimal), URL
 * Properties: header names are lower case; values have no leading blank
 * and no trailing CR/LF/blank; after a status line only the headers that
 * follow it remain; the body sink holds exactly the bytes fed, with room
 * for the NUL gf_http_perform adds, until one byte more than the cap
 * makes it refuse (and stay refused); a URL accepted on an https origin
 * is one the scheme rule accepts. */
#include <stdlib.h>
#include <string.h>
#include <apr_tables.h>
#include "fuzz_common.h"
#include "net/gf_http.h"
#include "net/gf_http_sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    char *f[4];
    size_t lens[4], pos, fed = 0;
    gf_http_response_t res;
    gf_http_sink_t sink;
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    int i, since_status = 0;
    size_t chunk_base = size ? (size_t)data[size - 1] + 1 : 1;

    fuzz_fields(p, data, size, "\n~~~\n", 4, f, lens);

    /* headers */
    memset(&res, 0, sizeof(res));
    res.headers = apr_table_make(p, 4);
    pos = 0;
    while (pos < lens[0]) {
        const char *nl = memchr(f[0] + pos, '\n', lens[0] - pos);
        size_t len = nl ? (size_t)(nl - (f[0] + pos)) + 1 : lens[0] - pos;
        char *line = apr_palloc(p, len + (nl ? 0 : 1));
        memcpy(line, f[0] + pos, len);
        if (!nl) line[len++] = '\n';
        FUZZ_CHECK(gf_http_on_header(line, 1, len, &res) == len);
        if (len >= 5 && !memcmp(line, "HTTP/", 5)) since_status = 0;
        else if (memchr(line, ':', len)) since_status++;
        pos += nl ? len : len - 1;
    }
    arr = apr_table_elts(res.headers);
    e = (const apr_table_entry_t *)arr->elts;
    FUZZ_CHECK(arr->nelts == since_status);
    for (i = 0; i < arr->nelts; i++) {
        const char *c;
        size_t vl = strlen(e[i].val);
        for (c = e[i].key; *c; c++) FUZZ_CHECK(!(*c >= 'A' && *c <= 'Z'));
        FUZZ_CHECK(e[i].val[0] != ' ' && e[i].val[0] != '\t');
        if (vl) {
            char last = e[i].val[vl - 1];
            FUZZ_CHECK(last != '\r' && last != '\n' && last != ' ');
        }
    }

    /* body */
    memset(&sink, 0, sizeof(sink));
    sink.p = p;
    sink.max = (apr_size_t)strtoul(f[2], NULL, 10);
    if (!*f[2]) sink.max = 1 << 20;
    pos = 0;
    i = 0;
    while (pos < lens[1]) {
        size_t n = (chunk_base * (size_t)(i + 1)) % 97 + 1, got;
        char *chunk;
        if (n > lens[1] - pos) n = lens[1] - pos;
        chunk = apr_palloc(p, n);
        memcpy(chunk, f[1] + pos, n);
        got = gf_http_on_body(chunk, 1, n, &sink);
        if (fed + n > sink.max) {
            FUZZ_CHECK(got == 0 && sink.too_large);
            break;
        }
        FUZZ_CHECK(got == n && !sink.too_large);
        fed += n;
        pos += n;
        i++;
        FUZZ_CHECK(sink.len == fed && sink.cap > sink.len);
        FUZZ_CHECK(!memcmp(sink.buf, f[1], fed));
    }
    if (sink.buf) sink.buf[sink.len] = '\0';   /* what gf_http_perform does */
    FUZZ_CHECK(gf_http_on_body("", 1, 0, &sink) == 0);

    /* URL rule */
    (void)gf_http_check_url(p, f[3], 0);
    (void)gf_http_check_url(p, f[3], 1);
    {
        static const char *const origins[] = { "https://queue.fal.run", "https://api.replicate.com",
                                               "http://127.0.0.1:8081", "https://[::1]:8443/x", NULL };
        for (i = 0; origins[i]; i++) {
            /* a URL on an origin is a URL the scheme rule accepts (https origins) */
            if (!gf_http_check_origin(p, f[3], origins[i]) && origins[i][4] == 's') {
                FUZZ_CHECK(gf_http_check_url(p, f[3], 0) == NULL);
            }
        }
        (void)gf_http_check_origin(p, "https://api.stability.ai/v2beta", f[3]);
    }
    fuzz_pool_end(p);
    return 0;
}
