/* SPDX-License-Identifier: Apache-2.0 */
/* router-bench: what choosing a group's member costs an attempt, on the
 * core library (bench/router builds and runs it): gf_router_pick for a
 * group of 2 and of 16 members under each policy, beside what every
 * create does anyway: json-c's parse of its body. Prints per kind
 * "kind µs_median µs_best" over 7 rounds of 200,000. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>

#include "core/gf_router.h"

#define ROUNDS 7
#define REPS 200000

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

static volatile double sink;
static gf_group_member_t members[GF_GROUP_MEMBERS_MAX];

static double run_pick(gf_group_policy_t pol, int n)
{
    apr_uint32_t rnd = 12345;
    int i;
    double t0 = now_us();
    for (i = 0; i < REPS; i++) {
        rnd = rnd * 1664525u + 1013904223u;
        sink += gf_router_pick(pol, members, n, rnd);
    }
    return (now_us() - t0) / REPS;
}

static const char BODY[] = "{\"prompt\":\"a lighthouse at dusk, long exposure\",\"style\":\"artistic\","
                           "\"aspectRatio\":\"16:9\",\"parameters\":{\"seed\":42,\"guidance_scale\":7}}";

static double run_parse(void)
{
    int i;
    double t0 = now_us();
    for (i = 0; i < REPS / 10; i++) {
        json_object *o = json_tokener_parse(BODY);
        sink += o != NULL;
        json_object_put(o);
    }
    return (now_us() - t0) / (REPS / 10);
}

static void report_pick(const char *kind, gf_group_policy_t pol, int n)
{
    double us[ROUNDS];
    int r;
    for (r = 0; r < ROUNDS; r++) us[r] = run_pick(pol, n);
    qsort(us, ROUNDS, sizeof(us[0]), cmp);
    printf("%s %.4f %.4f\n", kind, us[ROUNDS / 2], us[0]);
}

int main(void)
{
    double us[ROUNDS];
    int i, r;
    for (i = 0; i < GF_GROUP_MEMBERS_MAX; i++) {
        members[i].available = i != 3;
        members[i].weight = 1 + i % 3;
        members[i].latency_ms = 200 + 37 * i;
        members[i].cost = 0.002 + 0.001 * (i % 4);
        members[i].busy = i % 5;
    }
    report_pick("latency2", GF_GROUP_LATENCY, 2);
    report_pick("latency16", GF_GROUP_LATENCY, 16);
    report_pick("cost16", GF_GROUP_COST, 16);
    report_pick("busy16", GF_GROUP_LEAST_BUSY, 16);
    report_pick("shuffle16", GF_GROUP_SHUFFLE, 16);
    for (r = 0; r < ROUNDS; r++) us[r] = run_parse();
    qsort(us, ROUNDS, sizeof(us[0]), cmp);
    printf("parse %.4f %.4f\n", us[ROUNDS / 2], us[0]);
    return 0;
}
