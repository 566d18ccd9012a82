/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_cors: GenFlowCORSOrigins' origin syntax and the preflight's
 * request headers (gf_cors.c).
 *
 * Input: NUL-separated fields
 *   directive word \0 request Origin \0 Access-Control-Request-Headers
 *   \0 Sec-Fetch-Site \0 Host   (an empty field is a header not sent)
 * Properties: an accepted origin starts with http:// or https://, holds
 * no '/' after them, no upper case, no '@', '*' or whitespace; the
 * answer's Allow-Origin is NULL or exactly the request's origin (or "*"
 * with "*"); the allowed headers are a comma-separated list of distinct
 * names from GF_CORS_ALLOW_HEADERS, each one the request named (any case);
 * a state-changing request that a browser says comes from another site
 * (Sec-Fetch-Site other than same-origin or none) goes on only from an
 * origin the directive lists by name ("*" lists none), one without any of
 * the headers always goes on, and a refusal names GenFlowCORSOrigins. */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include "fuzz_common.h"
#include "core/gf_cors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The i-th field (NUL-separated), "" when missing. */
static char *field(apr_pool_t *p, const uint8_t *data, size_t size, int i)
{
    size_t pos = 0, k;
    for (; i > 0; i--) {
        for (k = pos; k < size && data[k]; k++);
        if (k >= size) return apr_pstrdup(p, "");
        pos = k + 1;
    }
    for (k = pos; k < size && data[k]; k++);
    return apr_pstrmemdup(p, (const char *)data + pos, k - pos);
}

static int contains_word_ci(const char *list, const char *start, size_t n)
{
    const char *s = list;
    while (*s) {
        const char *b, *e;
        while (*s == ' ' || *s == '\t' || *s == ',') s++;
        b = s;
        while (*s && *s != ',') s++;
        e = s;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if ((size_t)(e - b) == n && !strncasecmp(b, start, n)) return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    char *word = field(p, data, size, 0);
    char *origin = field(p, data, size, 1);
    char *requested = field(p, data, size, 2);
    char *fetch_site = field(p, data, size, 3);
    char *host = field(p, data, size, 4);
    char *argv[1] = { word };
    gf_cors_conf_t *conf = NULL;
    const char *err, *allow, *headers;

    err = gf_cors_check_origin(p, word);
    if (!err) {
        const char *rest;
        FUZZ_CHECK(!strncmp(word, "http://", 7) || !strncmp(word, "https://", 8));
        rest = strstr(word, "://") + 3;
        FUZZ_CHECK(*rest && !strchr(rest, '/') && !strchr(rest, '@') && !strchr(rest, '*'));
        for (; *rest; rest++) {
            FUZZ_CHECK(!isupper((unsigned char)*rest) && !isspace((unsigned char)*rest));
        }
    }
    if (!gf_cors_parse(p, 1, argv, &conf)) {
        allow = gf_cors_allow_origin(conf, origin);
        FUZZ_CHECK(!allow || !strcmp(allow, origin) || (conf->any && !strcmp(allow, "*")));
        FUZZ_CHECK(!allow || *origin);
        FUZZ_CHECK(gf_cors_enabled(conf) == (conf->any || conf->origins->nelts == 1));
    }
    headers = gf_cors_allow_headers(p, requested);
    if (headers) {
        const char *s = headers;
        while (*s) {
            const char *e = strstr(s, ", ");
            size_t n = e ? (size_t)(e - s) : strlen(s);
            /* An allowed name, asked for, listed once. */
            FUZZ_CHECK(contains_word_ci(GF_CORS_ALLOW_HEADERS, s, n));
            FUZZ_CHECK(contains_word_ci(requested, s, n));
            FUZZ_CHECK(!e || !contains_word_ci(e + 2, s, n));
            s = e ? e + 2 : s + n;
        }
    }
    {
        const char *o = *origin ? origin : NULL, *fs = *fetch_site ? fetch_site : NULL;
        const char *why = gf_cors_cross_site(conf, o, fs, *host ? host : NULL);
        int listed = conf && !conf->any && gf_cors_allow_origin(conf, o) != NULL;
        FUZZ_CHECK(!why || strstr(why, "GenFlowCORSOrigins"));
        if (fs && strcasecmp(fs, "same-origin") && strcasecmp(fs, "none")) {
            FUZZ_CHECK((why == NULL) == listed);
        }
        if (!o && !fs) FUZZ_CHECK(!why);
    }
    FUZZ_CHECK(strcmp(gf_cors_allow_methods(p, "GET"), "GET, OPTIONS") == 0);
    fuzz_pool_end(p);
    return 0;
}
