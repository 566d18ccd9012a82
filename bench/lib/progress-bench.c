/* SPDX-License-Identifier: Apache-2.0 */
/* progress-bench: what reading a provider's progress report costs a poll,
 * on the core library (bench/progress builds and runs it): the last
 * progress bar of a running Replicate prediction's logs (a diffusion
 * model's steps, as Replicate sends them), and the worst case: logs at
 * the scan's cap (64 KB of lines without a bar, each read), beside what
 * the poll does anyway with the same answer: json-c's parse of the
 * prediction. Prints per kind "kind µs_median µs_best" over 7 rounds of
 * 20,000. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>

#include "core/gf_progress.h"

#define ROUNDS 7
#define REPS 20000

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A diffusion model's log: its seed and prompt, then tqdm's line for each
 * step done of 50 (the bar of "#" for Replicate's block characters). */
static char *logs_of(int steps, size_t pad)
{
    size_t cap = 8192 + pad, n = 0;
    char *s = malloc(cap);
    int k;
    if (!s) exit(1);
    n += (size_t)snprintf(s + n, cap - n, "Using seed: 42069\nPrompt: a lighthouse at dusk\n");
    memset(s + n, 'x', pad);   /* a long log before the bar */
    n += pad;
    for (k = 0; k <= steps; k++) {
        n += (size_t)snprintf(s + n, cap - n, "\n%3d%%|%-10.*s| %d/50 [00:01<00:02, 17.10it/s]",
                              k * 2, k / 5, "##########", k);
    }
    return s;
}

typedef double (*run_fn)(const char *text);

static volatile double sink;

static double run_scan(const char *text)
{
    double f = 0;
    int i;
    double t0 = now_us();
    for (i = 0; i < REPS; i++) {
        gf_progress_scan(text, strlen(text), &f);
        sink += f;
    }
    return (now_us() - t0) / REPS;
}

static double run_parse(const char *text)
{
    int i;
    double t0 = now_us();
    for (i = 0; i < REPS; i++) {
        json_object *o = json_tokener_parse(text);
        sink += o != NULL;
        json_object_put(o);
    }
    return (now_us() - t0) / REPS;
}

static void report(const char *kind, run_fn fn, const char *text)
{
    double us[ROUNDS];
    int r;
    for (r = 0; r < ROUNDS; r++) us[r] = fn(text);
    qsort(us, ROUNDS, sizeof(us[0]), cmp);
    printf("%s %.3f %.3f\n", kind, us[ROUNDS / 2], us[0]);
}

int main(void)
{
    char *logs = logs_of(26, 0), *big = malloc(GF_PROGRESS_SCAN_MAX + 1), *answer;
    json_object *o = json_object_new_object();
    double f = -1;

    /* The prediction a poll reads, with those logs. */
    /* The worst: a full 64 KB of log lines (and 100 % signs) with no bar. */
    {
        size_t n = 0;
        if (!big) return 1;
        while (n + 40 < GF_PROGRESS_SCAN_MAX) {
            n += (size_t)snprintf(big + n, GF_PROGRESS_SCAN_MAX - n,
                                  "loading weights: 100%% of shard %05zu\n", n % 99991);
        }
        big[n] = '\0';
    }
    json_object_object_add(o, "id", json_object_new_string("heat2o3bzn3ahtr6bjfftvbaci"));
    json_object_object_add(o, "status", json_object_new_string("processing"));
    json_object_object_add(o, "logs", json_object_new_string(logs));
    json_object_object_add(o, "created_at", json_object_new_string("2026-11-28T08:00:00.000Z"));
    answer = strdup(json_object_to_json_string(o));
    json_object_put(o);
    if (!gf_progress_scan(logs, strlen(logs), &f) || f != 0.52) {
        fprintf(stderr, "progress-bench: the logs read as %.2f, not 0.52\n", f);
        return 1;
    }
    printf("bytes %zu %zu %zu\n", strlen(logs), strlen(big), strlen(answer));
    report("scan", run_scan, logs);
    report("scan_cap", run_scan, big);
    report("parse", run_parse, answer);
    free(logs);
    free(big);
    free(answer);
    return 0;
}
