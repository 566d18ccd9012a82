/* SPDX-License-Identifier: Apache-2.0 */
/* gf_json.h: json-c objects tied to APR pools.
 *
 * A parsed object is released by a cleanup on the pool it was parsed in
 * (the mod_md json_create/json_pool_cleanup pattern), so handlers never
 * leak a json_object on an early return.
 */
#ifndef GF_JSON_H
#define GF_JSON_H

#include <apr_pools.h>
#include <json-c/json.h>

/* Deepest nesting accepted from a client; create bodies are two levels. */
#define GF_JSON_MAX_DEPTH 16

/* Parse len bytes. On failure returns NULL and sets *err to a short,
 * client-safe description. */
json_object *gf_json_parse(apr_pool_t *p, const char *buf, apr_size_t len,
                           const char **err);

/* Hand ownership of obj to pool p (json_object_put at cleanup). */
json_object *gf_json_pool_own(apr_pool_t *p, json_object *obj);

/* The string member key of o, or NULL when o is not an object with a
 * string there. */
const char *gf_json_str(json_object *o, const char *key);

/* The JSON object text obj with one more string member name: value (a
 * name that needs no escaping), written before its closing brace, so that
 * an object composed elsewhere (the database's) is not parsed again. NULL
 * when obj is not an object's text. */
const char *gf_json_add_string(apr_pool_t *p, const char *obj, const char *name,
                               const char *value);

/* Compact serialisation copied into p. */
const char *gf_json_dump(apr_pool_t *p, json_object *obj);

/* The text of a JSON array of one object for each of the n items,
 * made by one(items[i], i), in p; NULL when n is not 1..max or one
 * gives NULL for an item (a batch statement's argument: then each item
 * is written alone). */
typedef json_object *gf_json_item_fn(const char *const *item, int i);
const char *gf_json_array_of(apr_pool_t *p, const char *const *const *items, int n, int max,
                             gf_json_item_fn *one);

/* The canonical text of obj: what two documents that mean the same thing
 * have in common, so that {"b":1, "a":"x"} and {"a":"\u0078","b":1}
 * give the same text. Members are sorted by name (bytewise, after
 * escapes are decoded), there is no whitespace, strings are written by
 * json-c from their decoded bytes, and a number is written by its value
 * within its kind: 0.5, 0.50 and 5e-1 are the same fraction, 7.0 and 7e0
 * too (written 7.0), but the integer 7 is another value, as the fields
 * that take integers accept 7 and refuse 7.0. Values and their types
 * count: 1 and "1", null and a missing member, [1,2] and [2,1] differ.
 * The text is JSON, except for a number too large for a double (json-c
 * reads 1e400 as infinity, written "inf"). */
const char *gf_json_canonical(apr_pool_t *p, json_object *obj);

#endif
