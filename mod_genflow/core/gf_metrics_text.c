/* SPDX-License-Identifier: Apache-2.0 */
/* gf_metrics_text.c: the Prometheus text exposition format 0.0.4 (see
 * gf_metrics.h): a growing buffer in a pool, HELP and TYPE lines, samples
 * with their label values escaped. It knows nothing of the counters, so
 * the httpd glue writes its database gauges with it too.
 */
#include <stdarg.h>
#include <string.h>
#include <apr_strings.h>

#include "core/gf_metrics.h"
#include "core/gf_metrics_private.h"

void gf_mtext_init(gf_mtext_t *t, apr_pool_t *p)
{
    t->p = p;
    t->cap = 4096;
    t->buf = apr_palloc(p, t->cap);
    t->len = 0;
    t->buf[0] = '\0';
}

static void put(gf_mtext_t *t, const char *s, apr_size_t n)
{
    if (t->len + n + 1 > t->cap) {
        apr_size_t cap = t->cap * 2;
        char *b;
        while (cap < t->len + n + 1) cap *= 2;
        b = apr_palloc(t->p, cap);
        memcpy(b, t->buf, t->len);
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void puts_(gf_mtext_t *t, const char *s)
{
    put(t, s, strlen(s));
}

const char *gf_mtext_str(gf_mtext_t *t)
{
    return t->buf;
}

void gf_mtext_append(gf_mtext_t *t, const gf_mtext_t *other)
{
    put(t, other->buf, other->len);
}

const char *gf_metrics_escape(apr_pool_t *p, const char *v)
{
    const char *s;
    char *out, *o;
    apr_size_t extra = 0;

    for (s = v; *s; s++) extra += (*s == '\\' || *s == '"' || *s == '\n');
    if (!extra) return v;
    o = out = apr_palloc(p, strlen(v) + extra + 1);
    for (s = v; *s; s++) {
        if (*s == '\\' || *s == '"') {
            *o++ = '\\';
            *o++ = *s;
        }
        else if (*s == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        }
        else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

void gf_mtext_family(gf_mtext_t *t, const char *name, const char *type, const char *help)
{
    const char *s;
    puts_(t, "# HELP ");
    puts_(t, name);
    puts_(t, " ");
    /* HELP escapes only \ and newline. */
    for (s = help; *s; s++) {
        if (*s == '\\') puts_(t, "\\\\");
        else if (*s == '\n') puts_(t, "\\n");
        else put(t, s, 1);
    }
    puts_(t, "\n# TYPE ");
    puts_(t, name);
    puts_(t, " ");
    puts_(t, type);
    puts_(t, "\n");
}

void gf_mtext_sample_kv(gf_mtext_t *t, const char *name, const char *value,
                        const char *const *kv, int nlabels)
{
    int i;
    puts_(t, name);
    for (i = 0; i < nlabels; i++) {
        puts_(t, i ? ",": "{");
        puts_(t, kv[2 * i]);
        puts_(t, "=\"");
        puts_(t, gf_metrics_escape(t->p, kv[2 * i + 1] ? kv[2 * i + 1] : ""));
        puts_(t, "\"");
    }
    if (nlabels) puts_(t, "}");
    puts_(t, " ");
    puts_(t, value);
    puts_(t, "\n");
}

void gf_mtext_sample(gf_mtext_t *t, const char *name, const char *value, ...)
{
    const char *kv[2 * MAX_LABELS];
    const char *k;
    int n = 0;
    va_list ap;

    va_start(ap, value);
    while (n < MAX_LABELS && (k = va_arg(ap, const char *)) != NULL) {
        kv[2 * n] = k;
        kv[2 * n + 1] = va_arg(ap, const char *);
        n++;
    }
    va_end(ap);
    gf_mtext_sample_kv(t, name, value, kv, n);
}
