/* SPDX-License-Identifier: Apache-2.0 */
/* test_core.h: the suites of the core unit tests (libcheck). */
#ifndef TEST_CORE_H
#define TEST_CORE_H

#include <check.h>
#include <pthread.h>
#include <apr_pools.h>

extern apr_pool_t *test_pool;

/* A listening TCP socket on 127.0.0.1, on a free port (*port): the
 * unit tests' little HTTP servers. */
int test_listen_loopback(int backlog, int *port);

/* Stop such a server's thread (it polls stop[0]) and close its sockets. */
void test_server_stop(pthread_t thread, int lfd, int stop[2]);

Suite *input_suite(void);
Suite *edits_suite(void);
Suite *keep_suite(void);
Suite *attempt_suite(void);
Suite *outcome_suite(void);
Suite *sweep_suite(void);
Suite *prompt_suite(void);
Suite *png_suite(void);
Suite *font_suite(void);
Suite *credits_suite(void);
Suite *route_suite(void);
Suite *sql_suite(void);
Suite *status_cache_suite(void);
Suite *provider_suite(void);
Suite *job_suite(void);
Suite *webhook_suite(void);
Suite *presets_suite(void);
Suite *utf8_suite(void);
Suite *metrics_suite(void);
Suite *authn_cache_suite(void);
Suite *image_suite(void);
Suite *cors_suite(void);
Suite *breaker_suite(void);
Suite *discovery_suite(void);
Suite *loop_suite(void);
Suite *limit_suite(void);
Suite *round_suite(void);
Suite *pacer_suite(void);
Suite *limit_gate_suite(void);
Suite *server_suite(void);
Suite *trace_suite(void);
Suite *stream_token_suite(void);
Suite *watchers_suite(void);
Suite *park_suite(void);
Suite *answer_suite(void);
Suite *create_suite(void);
Suite *admin_suite(void);
Suite *policy_suite(void);
Suite *progress_suite(void);
Suite *budget_suite(void);
Suite *router_suite(void);
Suite *sse_suite(void);
Suite *previews_suite(void);
Suite *schema_suite(void);
Suite *conf_parse_suite(void);
Suite *conf_check_suite(void);
Suite *chain_spec_suite(void);
Suite *idempotency_suite(void);

#endif
