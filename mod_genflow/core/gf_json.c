/* SPDX-License-Identifier: Apache-2.0 */
/* gf_json.c: pool-owned json-c parsing and serialisation (see gf_json.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_tables.h>

#include "core/gf_json.h"
#include "core/gf_utf8.h"

/* The first string (a member name or a value) in v that is not strict
 * UTF-8 or holds a NUL ("\u0000"): json-c decodes escapes into bytes, so
 * "\ud800" and "\u0000" arrive here as such. Returns the path of the
 * offending member ("prompt", "parameters.seed", "[2]"), or NULL. */
static const char *bad_string(apr_pool_t *p, json_object *v, const char *path)
{
    const char *bad;
    size_t i, n;

    switch (json_object_get_type(v)) {
    case json_type_string:
        return gf_utf8_valid(json_object_get_string(v), (apr_size_t)json_object_get_string_len(v))
               ? NULL : (*path ? path : "the body");
    case json_type_object: {
        json_object_object_foreach(v, key, val) {
            const char *sub = *path ? apr_pstrcat(p, path, ".", key, NULL) : key;
            if (!gf_utf8_valid_str(key)) {
                return *path ? apr_pstrcat(p, path, ".(a member name)", NULL)
                             : "(a member name)";
            }
            if ((bad = bad_string(p, val, sub)) != NULL) return bad;
        }
        return NULL;
    }
    case json_type_array:
        n = json_object_array_length(v);
        for (i = 0; i < n; i++) {
            const char *sub = apr_psprintf(p, "%s[%lu]", path, (unsigned long)i);
            if ((bad = bad_string(p, json_object_array_get_idx(v, i), sub)) != NULL) return bad;
        }
        return NULL;
    default:
        return NULL;
    }
}

static apr_status_t json_pool_cleanup(void *data)
{
    json_object_put(data);
    return APR_SUCCESS;
}

json_object *gf_json_pool_own(apr_pool_t *p, json_object *obj)
{
    if (obj) {
        apr_pool_cleanup_register(p, obj, json_pool_cleanup, apr_pool_cleanup_null);
    }
    return obj;
}

/* Two things json-c lets through that RFC 8259 does not: two members with
 * the same name (json-c keeps the last and says nothing, so
 * {"amount":1,"amount":1000} would mean whatever the last one says while a
 * proxy or a log reader saw the first), and 'single-quoted' strings, which
 * json-c 0.16 takes even in strict mode. This pass runs over text json-c
 * has already accepted (so otherwise well-formed) and returns what is
 * wrong with it, or NULL. Names are compared after their escapes are
 * decoded ("a" and "\u0061" are the same name). */
static const char *not_plain_json(apr_pool_t *p, const char *buf, apr_size_t len)
{
    apr_hash_t *seen[GF_JSON_MAX_DEPTH + 1];
    int is_object[GF_JSON_MAX_DEPTH + 1], expect_key[GF_JSON_MAX_DEPTH + 1];
    int depth = -1;
    apr_size_t i = 0;

    while (i < len) {
        char c = buf[i];
        if (c == '\'') {
            /* Outside a string: the start of a single-quoted one. */
            return "request body has a 'single-quoted' string; JSON strings take double quotes";
        }
        if (c == '"') {
            apr_size_t start = ++i;
            int escaped = 0;
            while (i < len && buf[i] != '"') {
                if (buf[i] == '\\') { escaped = 1; i++; }
                i++;
            }
            if (i >= len) return NULL;   /* unterminated: never read past len */
            if (depth >= 0 && is_object[depth] && expect_key[depth]) {
                const char *name = NULL;
                apr_size_t name_len = 0;
                if (!escaped) {
                    name = buf + start;
                    name_len = i - start;
                }
                else {
                    /* Let json-c decode the escapes of this one string. */
                    json_object *o = json_tokener_parse(apr_pstrmemdup(p, buf + start - 1,
                                                                       i - start + 2));
                    if (o && json_object_is_type(o, json_type_string)) {
                        name = apr_pstrmemdup(p, json_object_get_string(o),
                                              (apr_size_t)json_object_get_string_len(o));
                        name_len = (apr_size_t)json_object_get_string_len(o);
                    }
                    json_object_put(o);
                }
                if (name) {
                    if (apr_hash_get(seen[depth], name, (apr_ssize_t)name_len)) {
                        return apr_psprintf(p, "request body names the member \"%s\" twice in "
                                            "one object", gf_utf8_clean(p, name, name_len, 64));
                    }
                    apr_hash_set(seen[depth], name, (apr_ssize_t)name_len, "");
                }
                expect_key[depth] = 0;
            }
            i++;   /* the closing quote */
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth + 1 > GF_JSON_MAX_DEPTH) return NULL;   /* json-c refused it already */
            depth++;
            is_object[depth] = c == '{';
            expect_key[depth] = c == '{';
            seen[depth] = c == '{' ? apr_hash_make(p) : NULL;
        }
        else if (c == '}' || c == ']') {
            if (depth >= 0) depth--;
        }
        else if (c == ',' && depth >= 0 && is_object[depth]) {
            expect_key[depth] = 1;
        }
        i++;
    }
    return NULL;
}

static int only_space(const char *s, apr_size_t n)
{
    while (n--) {
        if (!strchr(" \t\r\n", *s++)) {
            return 0;
        }
    }
    return 1;
}

json_object *gf_json_parse(apr_pool_t *p, const char *buf, apr_size_t len,
                           const char **err)
{
    json_tokener *tok;
    json_object *obj;
    enum json_tokener_error jerr;

    if (len == 0) {
        *err = "request body is empty";
        return NULL;
    }
    if (memchr(buf, '\0', len)) {
        *err = "request body contains a NUL byte";
        return NULL;
    }
    tok = json_tokener_new_ex(GF_JSON_MAX_DEPTH);
    if (!tok) {
        *err = "out of memory";
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, buf, (int)len);
    jerr = json_tokener_get_error(tok);
    if (jerr == json_tokener_continue && !obj) {
        /* A bare number ("123") waits for more digits: the end of the
         * input ends it. */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_success && obj) {
            json_tokener_free(tok);
            return gf_json_pool_own(p, obj);
        }
        json_object_put(obj);
        obj = NULL;
        if (jerr == json_tokener_success) {
            *err = "request body is JSON null; a JSON object is expected";
            json_tokener_free(tok);
            return NULL;
        }
        /* It ended in the middle of a value. */
        jerr = json_tokener_continue;
    }
    if (jerr == json_tokener_continue) {
        *err = "request body is truncated JSON";
        json_object_put(obj);
        obj = NULL;
    }
    else if (jerr != json_tokener_success) {
        *err = apr_psprintf(p, "request body is not valid JSON: %s",
                            json_tokener_error_desc(jerr));
        obj = NULL;
    }
    else if (!only_space(buf + json_tokener_get_parse_end(tok),
                         len - json_tokener_get_parse_end(tok))) {
        /* Trailing garbage after a complete value, e.g. "{}x". */
        *err = "request body has data after the JSON value";
        json_object_put(obj);
        obj = NULL;
    }
    else if (!obj) {
        *err = "request body is JSON null; a JSON object is expected";
    }
    else {
        const char *bad = bad_string(p, obj, ""), *dup;
        if (bad) {
            *err = apr_psprintf(p, "%s: not valid UTF-8 text (or holds a NUL character)", bad);
            json_object_put(obj);
            obj = NULL;
        }
        else if ((dup = not_plain_json(p, buf, len)) != NULL) {
            *err = dup;
            json_object_put(obj);
            obj = NULL;
        }
    }
    json_tokener_free(tok);
    return gf_json_pool_own(p, obj);
}

const char *gf_json_str(json_object *o, const char *key)
{
    json_object *v;
    return (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v)
            && json_object_is_type(v, json_type_string)) ? json_object_get_string(v) : NULL;
}

const char *gf_json_dump(apr_pool_t *p, json_object *obj)
{
    return apr_pstrdup(p, json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

const char *gf_json_array_of(apr_pool_t *p, const char *const *const *items, int n, int max,
                             gf_json_item_fn *one)
{
    json_object *arr;
    const char *out;
    int i;

    if (n < 1 || n > max) return NULL;
    arr = json_object_new_array();
    for (i = 0; i < n; i++) {
        json_object *o = one(items[i], i);
        if (!o) {
            json_object_put(arr);
            return NULL;
        }
        json_object_array_add(arr, o);
    }
    out = apr_pstrdup(p, json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
    json_object_put(arr);
    return out;
}

/* A double (a number written with a fraction or an exponent) by its
 * value: integral ones within 2^53 as "7.0", others in the shortest %.*g
 * form that reads back to the same double, always with a '.' or an 'e'
 * so that it stays apart from the integer 7, which the fields that take
 * integers accept and 7.0 they refuse. json-c reads 1e400 as infinity,
 * written "inf": not JSON, and refused by every field's range anyway. */
static const char *canonical_double(apr_pool_t *p, double d)
{
    char buf[40];
    int prec;

    /* libc's formatting: apr_snprintf's %g is not the C library's. */
    if (isfinite(d) && d == floor(d) && fabs(d) < 9007199254740992.0) {
        snprintf(buf, sizeof buf, "%.1f", d == 0 ? 0.0 : d);
        return apr_pstrdup(p, buf);
    }
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
    if (isfinite(d) && !strpbrk(buf, ".e")) {
        strcat(buf, ".0");
    }
    return apr_pstrdup(p, buf);
}

static const char *plain(json_object *v)
{
    return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN
                                             | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void write_canonical(apr_pool_t *p, json_object *v, apr_array_header_t *out)
{
    size_t i, n;

    switch (json_object_get_type(v)) {
    case json_type_null:
        APR_ARRAY_PUSH(out, const char *) = "null";
        return;
    case json_type_boolean:
        APR_ARRAY_PUSH(out, const char *) = json_object_get_boolean(v) ? "true" : "false";
        return;
    case json_type_int:
        /* json-c's own text of an integer (int64 or uint64) is canonical. */
        APR_ARRAY_PUSH(out, const char *) = apr_pstrdup(p, plain(v));
        return;
    case json_type_double:
        APR_ARRAY_PUSH(out, const char *) = canonical_double(p, json_object_get_double(v));
        return;
    case json_type_string:
        APR_ARRAY_PUSH(out, const char *) = apr_pstrdup(p, plain(v));
        return;
    case json_type_array:
        APR_ARRAY_PUSH(out, const char *) = "[";
        n = json_object_array_length(v);
        for (i = 0; i < n; i++) {
            if (i) APR_ARRAY_PUSH(out, const char *) = ",";
            write_canonical(p, json_object_array_get_idx(v, i), out);
        }
        APR_ARRAY_PUSH(out, const char *) = "]";
        return;
    case json_type_object: {
        apr_array_header_t *names = apr_array_make(p, 8, sizeof(const char *));
        int k;
        json_object_object_foreach(v, key, val) {
            (void)val;
            APR_ARRAY_PUSH(names, const char *) = key;
        }
        qsort(names->elts, (size_t)names->nelts, sizeof(const char *), by_name);
        APR_ARRAY_PUSH(out, const char *) = "{";
        for (k = 0; k < names->nelts; k++) {
            const char *name = APR_ARRAY_IDX(names, k, const char *);
            json_object *key_obj = json_object_new_string(name);
            if (k) APR_ARRAY_PUSH(out, const char *) = ",";
            APR_ARRAY_PUSH(out, const char *) = apr_pstrdup(p, plain(key_obj));
            json_object_put(key_obj);
            APR_ARRAY_PUSH(out, const char *) = ":";
            write_canonical(p, json_object_object_get(v, name), out);
        }
        APR_ARRAY_PUSH(out, const char *) = "}";
        return;
    }
    }
}

const char *gf_json_canonical(apr_pool_t *p, json_object *obj)
{
    apr_array_header_t *out = apr_array_make(p, 32, sizeof(const char *));

    write_canonical(p, obj, out);
    return apr_array_pstrcat(p, out, 0);
}

static int json_space(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

const char *gf_json_add_string(apr_pool_t *p, const char *obj, const char *name,
                               const char *value)
{
    apr_size_t n = obj ? strlen(obj) : 0, open = 0, i;
    json_object *v;
    const char *esc;
    int empty = 1;

    while (n > 0 && json_space(obj[n - 1])) n--;
    while (open < n && json_space(obj[open])) open++;
    if (n < open + 2 || obj[open] != '{' || obj[n - 1] != '}') return NULL;
    for (i = open + 1; i < n - 1 && empty; i++) {
        if (!json_space(obj[i])) empty = 0;   /* "{}" or "{ }": the first member */
    }
    v = json_object_new_string(value ? value : "");
    esc = apr_pstrdup(p, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN
                                                           | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(v);
    return apr_pstrcat(p, apr_pstrmemdup(p, obj, n - 1), empty ? "\"" : ",\"", name, "\":", esc,
                       "}", NULL);
}
