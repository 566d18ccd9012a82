/* SPDX-License-Identifier: Apache-2.0 */
/* policy-bench: what GenFlowPromptPolicy's deny list costs one create, on
 * the core library (bench/policy builds and runs it): the prompt's normal
 * form and the match against a list of ENTRIES entries (words, phrases and
 * 20 patterns), for prompts of about 120 characters and of 2,000 (the
 * longest a prompt may be), some with full-width letters and accents.
 * Prints per kind: "kind µs_median µs_best" over 7 rounds of 2,000 checks;
 * the same allowed prompts each round (nothing in them is denied, so every
 * entry is looked at). Usage: policy-bench [ENTRIES] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "core/gf_policy.h"

#define ROUNDS 7
#define CHECKS 2000

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

/* A made-up word of 4 to 9 letters, never one of the prompts' words. */
static const char *word(apr_pool_t *p, unsigned *seed)
{
    char w[12];
    int n = 4 + (int)(rand_r(seed) % 6), i;
    for (i = 0; i < n; i++) w[i] = (char)('a' + rand_r(seed) % 26);
    w[0] = 'q';   /* the prompts below have no word starting with q */
    w[n] = '\0';
    return apr_pstrdup(p, w);
}

static const char *SENTENCES[] = {
    "a lighthouse on a cliff at dusk, waves breaking below, ",
    "Portrait of an old fisherman, Caf\xc3\xa9 lights behind him, soft focus, ",
    "\xef\xbc\xa8\xef\xbd\x85\xef\xbd\x8c\xef\xbd\x8c\xef\xbd\x8f full-width title over a neon city street, rain, ",
    "watercolour fox in a snowy forest, morning light, ",
    "isometric tiny house with a garden, pastel colours, 3d render, ",
};

static const char *prompt_of(apr_pool_t *p, int i, size_t len)
{
    char *s = apr_palloc(p, len + 64);
    size_t n = 0;
    while (n < len) {
        const char *t = SENTENCES[(i + (int)n) % 5];
        size_t k = strlen(t);
        memcpy(s + n, t, k);
        n += k;
    }
    s[len] = '\0';
    /* not inside a UTF-8 sequence */
    while (len && ((unsigned char)s[len - 1] & 0xc0) == 0x80) s[--len] = '\0';
    if (len && (unsigned char)s[len - 1] >= 0xc0) s[--len] = '\0';
    return s;
}

static void measure(apr_pool_t *p, const gf_policy_list_t *l, const char *kind, size_t len)
{
    double us[ROUNDS];
    const char *prompts[16];
    int r, i, hits = 0;

    for (i = 0; i < 16; i++) prompts[i] = prompt_of(p, i, len);
    for (r = 0; r < ROUNDS; r++) {
        apr_pool_t *sub;
        double t0;
        apr_pool_create(&sub, p);
        t0 = now_us();
        for (i = 0; i < CHECKS; i++) {
            const char *s = prompts[i % 16];
            const char *n = gf_policy_normalise(sub, s, strlen(s));
            hits += gf_policy_list_match(l, n, NULL);
            if (i % 64 == 63) apr_pool_clear(sub);
        }
        us[r] = (now_us() - t0) / CHECKS;
        apr_pool_destroy(sub);
    }
    qsort(us, ROUNDS, sizeof(double), cmp);
    printf("%s %.2f %.2f %d\n", kind, us[ROUNDS / 2], us[0], hits);
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    int entries = argc > 1 ? atoi(argv[1]) : 1000, i;
    unsigned seed = 42;
    char *text;
    size_t at = 0, cap;
    const char *err = NULL;
    gf_policy_list_t *l;

    apr_initialize();
    apr_pool_create(&p, NULL);
    cap = (size_t)entries * 32 + 1024;
    text = apr_palloc(p, cap);
    for (i = 0; i < entries; i++) {
        const char *line;
        if (i < 20) line = apr_psprintf(p, "re:%s[a-z]*%s", word(p, &seed), word(p, &seed));
        else if (i % 10 == 0) line = apr_psprintf(p, "%s %s", word(p, &seed), word(p, &seed));
        else line = word(p, &seed);
        at += (size_t)snprintf(text + at, cap - at, "%s\n", line);
    }
    if (!(l = gf_policy_list_parse(p, text, at, &err))) {
        fprintf(stderr, "policy-bench: %s\n", err);
        return 1;
    }
    printf("entries %d\n", gf_policy_list_size(l));
    measure(p, l, "short", 120);
    measure(p, l, "long", 2000);
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
