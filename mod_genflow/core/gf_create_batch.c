/* SPDX-License-Identifier: Apache-2.0 */
/* gf_create_batch.c: the argument and the answer of CREATE_BATCH. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <json-c/json.h>

#include "core/gf_create_batch.h"
#include "core/gf_json.h"
#include "core/gf_sql.h"

int gf_create_batch_joins(const char *const *a)
{
    const char *src = a[GF_CREATE_SOURCE_IMAGE];
    return a[GF_CREATE_IDEM_KEY] == NULL && a[GF_CREATE_IDEM_OWNER] == NULL
           && !(src && strncmp(src, "upload:", 7) == 0);
}

/* A string member, or JSON null for SQL NULL. */
static void add_text(struct json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

/* A whole number member: CREATE's own cast would refuse what is not one. */
static int add_number(struct json_object *o, const char *key, const char *v)
{
    char *end;
    long long n;
    if (!v || !*v) return 0;
    n = strtoll(v, &end, 10);
    if (*end) return 0;
    json_object_object_add(o, key, json_object_new_int64(n));
    return 1;
}

static struct json_object *one(const char *const *a, int n)
{
    struct json_object *o;

    if (!a[GF_CREATE_ID] || !a[GF_CREATE_USER] || !gf_create_batch_joins(a)) return NULL;
    o = json_object_new_object();
    json_object_object_add(o, "n", json_object_new_int(n));
    add_text(o, "user_id", a[GF_CREATE_USER]);
    add_text(o, "prompt", a[GF_CREATE_PROMPT]);
    add_text(o, "user_prompt", a[GF_CREATE_USER_PROMPT]);
    add_text(o, "preset", a[GF_CREATE_PRESET]);
    add_text(o, "source_image", a[GF_CREATE_SOURCE_IMAGE]);
    add_text(o, "aspect_ratio", a[GF_CREATE_ASPECT_RATIO]);
    /* As text: the statement casts it, as CREATE does its argument. */
    add_text(o, "input", a[GF_CREATE_INPUT]);
    add_text(o, "chain", a[GF_CREATE_CHAIN]);
    add_text(o, "id", a[GF_CREATE_ID]);
    add_text(o, "server_name", a[GF_CREATE_SERVER_NAME]);
    add_text(o, "traceparent", a[GF_CREATE_TRACEPARENT]);
    if (!add_number(o, "cost", a[GF_CREATE_COST])
        || !add_number(o, "day_limit", a[GF_CREATE_DAY_LIMIT])
        || !add_number(o, "seed", a[GF_CREATE_SEED])
        || !add_number(o, "max_retries", a[GF_CREATE_MAX_RETRIES])
        || !add_number(o, "deadline_secs", a[GF_CREATE_DEADLINE_SECS])) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

const char *gf_create_batch_json(apr_pool_t *p, const char *const *const *args, int n)
{
    return gf_json_array_of(p, args, n, GF_CREATE_BATCH_MAX, one);
}

const char *const *gf_create_batch_row(const char *const *const *rows, int nrows, const char *id)
{
    int i;
    if (!id) return NULL;
    for (i = 0; i < nrows; i++) {
        /* PostgreSQL writes a uuid in lower case; the id came from it. */
        if (rows[i][GF_CREATED_ID] && strcasecmp(rows[i][GF_CREATED_ID], id) == 0) return rows[i];
    }
    return NULL;
}
