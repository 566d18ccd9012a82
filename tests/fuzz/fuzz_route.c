/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_route: the per-type API's path routing and request headers
 * (gf_route.c), and the query parameters the handlers read through it.
 *
 * Input: NUL-separated fields
 *   path \0 Prefer \0 Content-Type \0 query string \0 Idempotency-Key
 * Properties: a route with an id has a canonical 36-character UUID; a
 * route has an Allow list exactly when it is one; Prefer: wait= gives
 * 0..max; a query value is absent, GF_QUERY_BAD, or valid UTF-8 without
 * NUL; limit/olderThan read as the handlers read them stay in range; a
 * "before" cursor that passes is a UUID. The Idempotency-Key length rule
 * (1..255) lives in the httpd glue (mod_genflow_idempotency.c) and is
 * not reached here. */
#include <string.h>
#include "fuzz_common.h"
#include "core/gf_route.h"
#include "core/gf_credits.h"
#include "core/gf_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = { "limit", "before", "olderThan", "status", "type",
                                         "user", "l", NULL };
    apr_pool_t *p = fuzz_pool_begin();
    char *f[5];
    size_t lens[5];
    gf_route_t route;
    int secs = -7, i, max;

    {
        /* NUL separates the fields (fuzz_fields takes a C string separator) */
        size_t pos = 0, k;
        for (i = 0; i < 5; i++) {
            size_t end = pos;
            if (pos > size) { f[i] = apr_pstrdup(p, ""); lens[i] = 0; continue; }
            for (k = pos; k < size && data[k]; k++);
            end = k;
            f[i] = apr_pstrmemdup(p, (const char *)data + pos, end - pos);
            lens[i] = end - pos;
            pos = end + 1;
        }
    }

    gf_route_parse(f[0], &route);
    FUZZ_CHECK((route.kind == GF_ROUTE_NONE) == (route.allow == NULL));
    if (route.id_valid) {
        FUZZ_CHECK(strlen(route.id) == 36 && gf_uuid_valid(route.id));
        FUZZ_CHECK(route.kind >= GF_ROUTE_STATUS && route.kind <= GF_ROUTE_EVENTS);
    }
    else {
        FUZZ_CHECK(route.id[0] == '\0');
    }
    (void)gf_uuid_valid(f[0]);

    for (max = 0; max <= 60; max += 60) {
        secs = -7;
        if (gf_prefer_wait(f[1], max, &secs)) FUZZ_CHECK(secs >= 0 && secs <= max);
        else FUZZ_CHECK(secs == -7);
    }
    (void)gf_prefer_wait(NULL, 60, &secs);

    (void)gf_content_type_is_json(f[2]);
    (void)gf_content_type_is_json(NULL);

    for (i = 0; names[i]; i++) {
        const char *v = gf_query_arg(p, f[3], names[i]);
        long n = -1;
        if (!v || v == GF_QUERY_BAD) continue;
        FUZZ_CHECK(gf_utf8_valid_str(v));
        if (!strcmp(names[i], "limit") && !gf_parse_amount(p, v, 100, &n)) {
            FUZZ_CHECK(n >= 0 && n <= 100);
        }
        if (!strcmp(names[i], "olderThan") && !gf_parse_amount(p, v, 10L * 365 * 86400, &n)) {
            FUZZ_CHECK(n >= 0 && n <= 10L * 365 * 86400);
        }
        if (!strcmp(names[i], "before") && gf_uuid_valid(v)) FUZZ_CHECK(strlen(v) == 36);
    }
    (void)gf_query_arg(p, NULL, "limit");

    /* The Idempotency-Key is only compared and hashed by the glue; read it
     * as a query name too, the one other place a key-like token is parsed. */
    if (*f[4]) (void)gf_query_arg(p, f[3], f[4]);
    fuzz_pool_end(p);
    return 0;
}
