/* SPDX-License-Identifier: Apache-2.0 */
/* gf_http_sink.h: libcurl's write and header callbacks, on their own so
 * that the unit tests and the fuzzers can feed them the bytes a provider
 * sends without a network.
 *
 * The body sink collects at most `max` bytes; one byte more sets
 * too_large and makes the callback return 0, which aborts the transfer
 * (CURLE_WRITE_ERROR). The header callback keeps the headers of the last
 * response only (a status line clears them), with lower-cased names and
 * trimmed values.
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
} gf_http_sink_t;

/* CURLOPT_WRITEFUNCTION with a gf_http_sink_t as its data. */
size_t gf_http_on_body(char *data, size_t size, size_t n, void *baton);

/* CURLOPT_HEADERFUNCTION with the gf_http_response_t (headers made) as its data. */
size_t gf_http_on_header(char *data, size_t size, size_t n, void *baton);

#endif
