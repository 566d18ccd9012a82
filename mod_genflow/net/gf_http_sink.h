/* SPDX-License-Identifier: Apache-2.0 */
/* gf_http_sink.h: libcurl's write and header callbacks, on their own so
 * that the unit tests and the fuzzers can feed them the bytes a provider
 * sends without a network.
 *
 * The body sink collects at most `max` bytes; one byte more sets
 * too_large and makes the callback return 0, which aborts the transfer
 * (CURLE_WRITE_ERROR). With a tap, a successful answer (2xx) whose
 * headers say text/event-stream goes to the tap instead of the buffer
 * (still counted against max); a tap that answers -1 sets tap_refused and
 * aborts too. The header callback keeps the status and the headers of
 * the last response only (a status line clears them), with lower-cased
 * names and trimmed values.
 */
#ifndef GF_HTTP_SINK_H
#define GF_HTTP_SINK_H

#include <stddef.h>
#include <apr_pools.h>
#include "net/gf_http.h"

typedef struct {
    apr_pool_t *p;
    char *buf;                 /* not NUL-terminated; the caller adds one at buf[len] (cap > len) */
    apr_size_t len, cap, max;
    int too_large;
    /* The request's tap (gf_http_request_t), and the response whose
     * status and headers say whether the answer is a stream; tapping is
     * decided at the first byte of the body. */
    int (*tap)(void *baton, const char *data, apr_size_t len);
    void *tap_baton;
    const gf_http_response_t *res;
    int decided, tapping, tap_refused;
} gf_http_sink_t;

/* CURLOPT_WRITEFUNCTION with a gf_http_sink_t as its data. */
size_t gf_http_on_body(char *data, size_t size, size_t n, void *baton);

/* CURLOPT_HEADERFUNCTION with the gf_http_response_t (headers made) as its data. */
size_t gf_http_on_header(char *data, size_t size, size_t n, void *baton);

#endif
