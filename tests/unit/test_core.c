/* test_core.c: runs every unit-test suite of the httpd-free core. */
#include <stdlib.h>
#include <apr_general.h>

#include "test_core.h"

apr_pool_t *test_pool;

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
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_pool_destroy(test_pool);
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
