/* SPDX-License-Identifier: Apache-2.0 */
/* test_core.c: runs every unit-test suite of the httpd-free core. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <apr_general.h>

#include "test_core.h"

apr_pool_t *test_pool;

int test_listen_loopback(int backlog, int *port)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, backlog), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

void test_server_stop(pthread_t thread, int lfd, int stop[2])
{
    ck_assert_int_eq(write(stop[1], "x", 1), 1);
    pthread_join(thread, NULL);
    close(lfd);
    close(stop[0]);
    close(stop[1]);
}

int main(void)
{
    SRunner *sr;
    int failed;

    apr_initialize();
    apr_pool_create(&test_pool, NULL);
    sr = srunner_create(input_suite());
    srunner_add_suite(sr, prompt_suite());
    srunner_add_suite(sr, png_suite());
    srunner_add_suite(sr, font_suite());
    srunner_add_suite(sr, credits_suite());
    srunner_add_suite(sr, route_suite());
    srunner_add_suite(sr, sql_suite());
    srunner_add_suite(sr, status_cache_suite());
    srunner_add_suite(sr, provider_suite());
    srunner_add_suite(sr, job_suite());
    srunner_add_suite(sr, webhook_suite());
    srunner_add_suite(sr, presets_suite());
    srunner_add_suite(sr, utf8_suite());
    srunner_add_suite(sr, metrics_suite());
    srunner_add_suite(sr, authn_cache_suite());
    srunner_add_suite(sr, image_suite());
    srunner_add_suite(sr, cors_suite());
    srunner_add_suite(sr, breaker_suite());
    srunner_add_suite(sr, discovery_suite());
    srunner_add_suite(sr, loop_suite());
    srunner_add_suite(sr, limit_suite());
    srunner_add_suite(sr, round_suite());
    srunner_add_suite(sr, pacer_suite());
    srunner_add_suite(sr, limit_gate_suite());
    srunner_add_suite(sr, server_suite());
    srunner_add_suite(sr, trace_suite());
    srunner_add_suite(sr, stream_token_suite());
    srunner_add_suite(sr, watchers_suite());
    srunner_add_suite(sr, park_suite());
    srunner_add_suite(sr, answer_suite());
    srunner_add_suite(sr, create_suite());
    srunner_add_suite(sr, admin_suite());
    srunner_add_suite(sr, schema_suite());
    srunner_add_suite(sr, policy_suite());
    srunner_add_suite(sr, progress_suite());
    srunner_add_suite(sr, budget_suite());
    srunner_add_suite(sr, router_suite());
    srunner_add_suite(sr, sse_suite());
    srunner_add_suite(sr, previews_suite());
    srunner_add_suite(sr, edits_suite());
    srunner_add_suite(sr, conf_parse_suite());
    srunner_add_suite(sr, conf_check_suite());
    srunner_add_suite(sr, chain_spec_suite());
    srunner_add_suite(sr, idempotency_suite());
    srunner_add_suite(sr, keep_suite());
    srunner_add_suite(sr, attempt_suite());
    srunner_add_suite(sr, outcome_suite());
    srunner_add_suite(sr, sweep_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_pool_destroy(test_pool);
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
