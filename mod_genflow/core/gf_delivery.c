/* SPDX-License-Identifier: Apache-2.0 */
/* gf_delivery.c: a webhook delivery's origin, its answer's wording and
 * the statement that records it (gf_delivery.h). */
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include "core/gf_delivery.h"
#include "core/gf_sql.h"
#include "core/gf_trace.h"

const char *gf_delivery_origin(apr_pool_t *p, const char *url, int *http)
{
    apr_uri_t u;
    *http = 0;
    if (!url || apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.scheme || !u.hostname) return NULL;
    /* Plain http only reaches an origin the site allowed, and only on a
     * loopback host (GenFlowWebhookOrigins). */
    *http = !strcasecmp(u.scheme, "http");
    return apr_psprintf(p, "%s://%s:%u", u.scheme, u.hostname,
                        u.port ? u.port : apr_uri_port_of_scheme(u.scheme));
}

const char *gf_delivery_answer(apr_pool_t *p, int status)
{
    return apr_psprintf(p, "answered %d%s", status,
                        status == GF_DELIVERY_GONE
                        ? " Gone: the receiver asked for no more deliveries"
                        : status >= 300 && status < 400 ? " (redirects are not followed)" : "");
}

const char *gf_delivery_error(apr_pool_t *p, const char *error, int status)
{
    if (error) return error;
    return status < 200 || status >= 300 ? gf_delivery_answer(p, status) : NULL;
}

const char *gf_delivery_statement(apr_pool_t *p, int status, const char *error, const char *id,
                                  int attempt, long delay_ms, long period, const char **args,
                                  int *nargs)
{
    if (status >= 200 && status < 300) {
        *nargs = 3;
        args[0] = apr_itoa(p, status);
        args[1] = id;
        args[2] = apr_itoa(p, attempt);
        return GF_SQL_WEBHOOK_DONE;
    }
    *nargs = 8;
    args[0] = status == GF_DELIVERY_GONE ? "1" : "0";
    args[1] = apr_ltoa(p, delay_ms);
    args[2] = apr_ltoa(p, period);
    args[3] = args[1];
    args[4] = apr_itoa(p, status);
    args[5] = error;
    args[6] = id;
    args[7] = apr_itoa(p, attempt);
    return GF_SQL_WEBHOOK_RETRY;
}

const char *gf_delivery_trace(apr_pool_t *p, const char *trace_id)
{
    gf_trace_t t;
    unsigned char span[8];
    if (apr_generate_random_bytes(span, sizeof(span)) != APR_SUCCESS
        || !gf_trace_in(trace_id, span, &t)) {
        return "-";
    }
    gf_trace_attach(p, &t);
    return apr_pstrdup(p, t.trace_id);
}
