/* png-bench: milliseconds per 512 x 512 render of the local provider's
 * picture (gf_png_render), the best of five rounds of 50 prompts, and the
 * average PNG size. bench/png-render builds and runs it. */
#include <stdio.h>
#include <time.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "../../mod_genflow/gf_png.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void)
{
    apr_pool_t *p;
    double best = 1e9;
    size_t total = 0;
    int round, i;

    apr_initialize();
    apr_pool_create(&p, NULL);
    for (round = 0; round < 5; round++) {
        double t0 = now(), ms;
        for (i = 0; i < 50; i++) {
            unsigned char *out;
            apr_size_t n;
            apr_pool_t *q;
            apr_pool_create(&q, p);
            if (gf_png_render(q, apr_psprintf(q, "prompt number %d", i), (apr_uint64_t)i, 512, 512,
                              &out, &n) != APR_SUCCESS) {
                fprintf(stderr, "render failed\n");
                return 1;
            }
            total += n;
            apr_pool_destroy(q);
        }
        ms = (now() - t0) / 50 * 1000;
        if (ms < best) best = ms;
    }
    printf("%.2f %zu\n", best, total / 250);
    return 0;
}
