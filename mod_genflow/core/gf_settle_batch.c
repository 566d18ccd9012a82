/* SPDX-License-Identifier: Apache-2.0 */
/* gf_settle_batch.c: the argument and the answer of COMPLETE_BATCH. */
#include <stdlib.h>
#include <strings.h>
#include <apr_strings.h>
#include <json-c/json.h>

#include "core/gf_json.h"
#include "core/gf_settle_batch.h"

/* A string member, or JSON null for SQL NULL. */
static void add_text(struct json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

static struct json_object *one(const char *const *a, int i)
{
    struct json_object *o;
    char *end;
    long attempt;

    (void)i;
    if (!a[0] || !a[6]) return NULL;
    attempt = strtol(a[6], &end, 10);
    if (end == a[6] || *end || attempt < 0 || attempt > 0x7fffffffL) return NULL;
    o = json_object_new_object();
    add_text(o, "id", a[0]);
    add_text(o, "image_url", a[1]);
    /* As text: the statement casts it, as COMPLETE does its argument. */
    add_text(o, "images", a[2]);
    add_text(o, "provider", a[3]);
    add_text(o, "model", a[4]);
    add_text(o, "lease_owner", a[5]);
    json_object_object_add(o, "attempts", json_object_new_int((int)attempt));
    return o;
}

const char *gf_settle_batch_json(apr_pool_t *p, const char *const *const *args, int n)
{
    return gf_json_array_of(p, args, n, GF_SETTLE_BATCH_MAX, one);
}

const char *gf_settle_batch_status(const char *const *const *rows, int nrows, const char *id)
{
    int i;
    if (!id) return NULL;
    for (i = 0; i < nrows; i++) {
        /* PostgreSQL writes a uuid in lower case; the id came from it. */
        if (rows[i][0] && strcasecmp(rows[i][0], id) == 0) return rows[i][1];
    }
    return NULL;
}
