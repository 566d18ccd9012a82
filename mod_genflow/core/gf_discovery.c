/* SPDX-License-Identifier: Apache-2.0 */
/* gf_discovery.c: the type list of GET {genflow-types} (see gf_discovery.h). */
#include <string.h>
#include <apr_strings.h>
#include <json-c/json.h>

#include "core/gf_discovery.h"
#include "core/gf_input.h"
#include "core/gf_json.h"

const char *const GF_DISCOVERY_FIELDS[] = {
    "prompt", "preset", "sourceImage", "style", "quality", "aspectRatio", "customPrompt",
    "parameters", "count", NULL
};
/* The same lists as gf_input.c accepts; tests/unit/test_discovery.c
 * checks every choice against the validation. */
const char *const GF_DISCOVERY_STYLES[] = { "realistic", "artistic", "minimal", NULL };
const char *const GF_DISCOVERY_QUALITIES[] = { "auto", "high", NULL };
const char *const GF_DISCOVERY_ASPECT_RATIOS[] = {
    "1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9", NULL
};

static json_object *word_list(const char *const *words)
{
    json_object *a = json_object_new_array();
    for (; *words; words++) {
        json_object_array_add(a, json_object_new_string(*words));
    }
    return a;
}

/* Every type's fields, and the edit inputs this one takes (GenFlowAccept). */
static json_object *type_fields(const gf_discovery_type_t *t)
{
    json_object *a = word_list(GF_DISCOVERY_FIELDS);
    if (t->accepts & GF_ACCEPT_MASK) json_object_array_add(a, json_object_new_string("mask"));
    if (t->accepts & GF_ACCEPT_REFERENCES) {
        json_object_array_add(a, json_object_new_string("referenceImages"));
    }
    return a;
}

const char *gf_discovery_url(apr_pool_t *p, const char *base, const char *endpoint)
{
    apr_size_t n = strlen(base);
    if (n && base[n - 1] == '/') {
        return apr_pstrcat(p, base, endpoint, NULL);
    }
    return apr_pstrcat(p, base, "/", endpoint, NULL);
}

const char *gf_discovery_json(apr_pool_t *p, const gf_discovery_type_t *types, int n)
{
    json_object *out = gf_json_pool_own(p, json_object_new_object());
    json_object *list = json_object_new_array(), *options;
    int i;

    for (i = 0; i < n; i++) {
        const gf_discovery_type_t *t = &types[i];
        json_object *o = json_object_new_object(), *needs = json_object_new_array();
        if (t->needs & GF_NEED_PROMPT) {
            json_object_array_add(needs, json_object_new_string("prompt"));
        }
        if (t->needs & GF_NEED_SOURCE_IMAGE) {
            json_object_array_add(needs, json_object_new_string("sourceImage"));
        }
        if (t->needs & GF_NEED_PRESET) {
            json_object_array_add(needs, json_object_new_string("preset"));
        }
        json_object_object_add(o, "type", json_object_new_string(t->type));
        json_object_object_add(o, "base", json_object_new_string(t->base));
        json_object_object_add(o, "needs", needs);
        json_object_object_add(o, "cost", json_object_new_int64(t->cost));
        json_object_object_add(o, "fields", type_fields(t));
        json_object_object_add(o, "presetsUrl",
                               json_object_new_string(gf_discovery_url(p, t->base, "presets")));
        json_object_object_add(o, "historyUrl",
                               json_object_new_string(gf_discovery_url(p, t->base, "history")));
        json_object_object_add(o, "defaultWait", json_object_new_int(t->wait));
        json_object_object_add(o, "maxCount", json_object_new_int(t->max_count));
        if (t->accepts & GF_ACCEPT_REFERENCES) {
            json_object_object_add(o, "maxReferences", json_object_new_int(t->max_references));
        }
        json_object_array_add(list, o);
    }
    json_object_object_add(out, "types", list);
    options = json_object_new_object();
    json_object_object_add(options, "style", word_list(GF_DISCOVERY_STYLES));
    json_object_object_add(options, "quality", word_list(GF_DISCOVERY_QUALITIES));
    json_object_object_add(options, "aspectRatio", word_list(GF_DISCOVERY_ASPECT_RATIOS));
    json_object_object_add(out, "options", options);
    return gf_json_dump(p, out);
}

int gf_discovery_location_matches(const char *path, const char *uri)
{
    size_t len = strlen(path);
    if (strncmp(path, uri, len)) return 0;
    return len == 0 || path[len - 1] == '/' || uri[len] == '/' || uri[len] == '\0';
}
