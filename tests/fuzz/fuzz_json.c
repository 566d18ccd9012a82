/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_json: gf_json_parse, gf_json_str and gf_json_dump (gf_json.c).
 *
 * Properties: a refusal has a client-safe message (valid UTF-8); an
 * accepted document holds only strict UTF-8 strings without NUL (member
 * names included) and no deeper nesting than GF_JSON_MAX_DEPTH; its dump
 * parses again to a document whose dump is the same (stable); its
 * canonical text (gf_json_canonical, what Idempotency-Key compares) is
 * JSON whose canonical text is itself. */
#include <string.h>
#include "fuzz_common.h"
#include "core/gf_json.h"
#include "core/gf_utf8.h"

static void walk(json_object *v, int depth)
{
    size_t i, n;
    FUZZ_CHECK(depth <= GF_JSON_MAX_DEPTH);
    switch (json_object_get_type(v)) {
    case json_type_string:
        FUZZ_CHECK(gf_utf8_valid(json_object_get_string(v),
                                 (apr_size_t)json_object_get_string_len(v)));
        break;
    case json_type_object: {
        json_object_object_foreach(v, key, val) {
            FUZZ_CHECK(gf_utf8_valid_str(key));
            walk(val, depth + 1);
        }
        break;
    }
    case json_type_array:
        n = json_object_array_length(v);
        for (i = 0; i < n; i++) walk(json_object_array_get_idx(v, i), depth + 1);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    char *buf = apr_palloc(p, size);   /* exact size, not NUL-terminated */
    const char *err = NULL, *dump, *dump2, *err2 = NULL, *canon;
    json_object *o, *o2;

    memcpy(buf, data, size);
    o = gf_json_parse(p, buf, size, &err);
    if (!o) {
        FUZZ_CHECK(err && *err && gf_utf8_valid_str(err));
    }
    else {
        walk(o, 1);
        (void)gf_json_str(o, "prompt");
        (void)gf_json_str(o, "id");
        dump = gf_json_dump(p, o);
        FUZZ_CHECK(dump && gf_utf8_valid_str(dump));
        o2 = gf_json_parse(p, dump, strlen(dump), &err2);
        /* json-c writes non-finite doubles as NaN/Infinity, which strict
         * JSON refuses: only finite documents must round-trip. */
        if (!strstr(dump, "NaN") && !strstr(dump, "Infinity")) {
            FUZZ_CHECK(o2 != NULL);
        }
        if (o2) {
            dump2 = gf_json_dump(p, o2);
            FUZZ_CHECK(!strcmp(dump, dump2));
        }
        canon = gf_json_canonical(p, o);
        FUZZ_CHECK(canon && gf_utf8_valid_str(canon));
        {
            /* Only a non-finite double (written inf or nan) does not read back. */
            json_object *o3 = gf_json_parse(p, canon, strlen(canon), &err2);
            if (!o3) FUZZ_CHECK(strstr(canon, "inf") || strstr(canon, "nan"));
            else FUZZ_CHECK(!strcmp(gf_json_canonical(p, o3), canon));
        }
    }
    (void)gf_json_str(NULL, "x");
    fuzz_pool_end(p);
    return 0;
}
