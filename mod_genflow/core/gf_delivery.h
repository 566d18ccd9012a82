/* SPDX-License-Identifier: Apache-2.0 */
/* gf_delivery.h: what a webhook delivery's answer means, without httpd
 * or a database.
 *
 * The outbox's deliveries (sql/021) go out from the glue
 * (mod_genflow_engine_webhooks.c); this file says where one may go (its
 * origin, and whether it is plain http), how an answer is worded for the
 * admin, and which statement records it with what: a 2xx delivers it; a
 * 410 Gone fails it at once (the receiver's "stop sending"); anything
 * else is tried again after the delay the glue drew
 * (gf_webhook_retry_delay_ms), until the retry period has passed.
 */
#ifndef GF_DELIVERY_H
#define GF_DELIVERY_H

#include <apr_pools.h>

/* A 410 Gone answer is the receiver's "stop sending" (Standard Webhooks). */
#define GF_DELIVERY_GONE 410

/* The most arguments a delivery's statement takes. */
#define GF_DELIVERY_ARGS 8

/* "scheme://host:port" of url (the port the scheme's when none is
 * written), *http set for plain http; NULL when url is not an absolute
 * URL with a host. */
const char *gf_delivery_origin(apr_pool_t *p, const char *url, int *http);

/* Why an answer of status (not a 2xx) did not deliver it, for the
 * admin: "answered <status>", and what a 410 or a redirect means. */
const char *gf_delivery_answer(apr_pool_t *p, int status);
/* Why an exchange did not deliver it: its error (no answer came), the
 * answer's words (gf_delivery_answer), or NULL for a 2xx. */
const char *gf_delivery_error(apr_pool_t *p, const char *error, int status);

/* The statement that records attempt number `attempt` of delivery id:
 * status 2xx GF_SQL_WEBHOOK_DONE, else GF_SQL_WEBHOOK_RETRY with error,
 * the next try after delay_ms and the retry period (seconds), failed at
 * once on a 410. Its arguments in args (GF_DELIVERY_ARGS), *nargs. */
const char *gf_delivery_statement(apr_pool_t *p, int status, const char *error, const char *id,
                                  int attempt, long delay_ms, long period, const char **args,
                                  int *nargs);

/* A delivery continues its generation's trace (trace_id, its status
 * object's traceId): a span of its own, drawn now, carried by pool p for
 * its exchange. Its trace id, or "-" when the generation has none. */
const char *gf_delivery_trace(apr_pool_t *p, const char *trace_id);

#endif
