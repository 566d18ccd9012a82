/* SPDX-License-Identifier: Apache-2.0 */
/* gf_input.c: create-field validation (see gf_input.h). */
#include <stdarg.h>
#include <string.h>
#include <math.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <apr_lib.h>

#include "core/gf_input.h"
#include "core/gf_json.h"
#include "core/gf_route.h"

static const char *const STYLES[] = { "realistic", "artistic", "minimal", NULL };
static const char *const QUALITIES[] = { "auto", "high", NULL };
static const char *const ASPECT_RATIOS[] = {
    "1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9", NULL
};

apr_size_t gf_utf8_length(const char *s)
{
    apr_size_t n = 0;
    for (; *s; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80) {
            n++;
        }
    }
    return n;
}

#define fail gf_input_fail

/* Record a rejection; fmt's arguments name the field. Returns 0. */
int gf_input_fail(gf_input_error_t *err, apr_pool_t *p, const char *field,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->field = field;
    err->message = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    return 0;
}

static int one_of(const char *v, const char *const *allowed)
{
    for (; *allowed; allowed++) {
        if (!strcmp(v, *allowed)) {
            return 1;
        }
    }
    return 0;
}

static const char *join_words(apr_pool_t *p, const char *const *words)
{
    const char *s = NULL;
    for (; *words; words++) {
        s = s ? apr_pstrcat(p, s, ", ", *words, NULL) : *words;
    }
    return s;
}

/* A string field: must be a JSON string of 1..max_chars code points. */
static int get_string(apr_pool_t *p, json_object *v, const char *field,
                      apr_size_t max_chars, const char **out,
                      gf_input_error_t *err)
{
    const char *s;
    apr_size_t n;

    if (!json_object_is_type(v, json_type_string)) {
        return fail(err, p, field, "%s must be a string", field);
    }
    s = json_object_get_string(v);
    n = gf_utf8_length(s);
    if ((apr_size_t)json_object_get_string_len(v) != strlen(s)) {
        return fail(err, p, field, "%s must not contain NUL characters", field);
    }
    if (n == 0) {
        return fail(err, p, field, "%s must not be empty", field);
    }
    if (strspn(s, " \t\r\n") == strlen(s)) {
        /* "   " would be charged for a picture of nothing. */
        return fail(err, p, field, "%s must not be blank (only white space)", field);
    }
    if (n > max_chars) {
        return fail(err, p, field, "%s is longer than %" APR_SIZE_T_FMT " characters",
                    field, max_chars);
    }
    *out = apr_pstrdup(p, s);
    return 1;
}

static int get_enum(apr_pool_t *p, json_object *v, const char *field,
                    const char *const *allowed, const char **out,
                    gf_input_error_t *err)
{
    if (!get_string(p, v, field, 32, out, err)) {
        return 0;
    }
    if (!one_of(*out, allowed)) {
        return fail(err, p, field, "%s must be one of: %s", field, join_words(p, allowed));
    }
    return 1;
}

static int get_number(apr_pool_t *p, json_object *v, const char *field,
                      double lo, double hi, int integral, double *out,
                      gf_input_error_t *err)
{
    double d;

    if (!json_object_is_type(v, json_type_int)
        && !(json_object_is_type(v, json_type_double) && !integral)) {
        return fail(err, p, field, "%s must be %s", field,
                    integral ? "an integer" : "a number");
    }
    d = json_object_get_double(v);
    if (json_object_is_type(v, json_type_int)) {
        /* json-c saturates huge integers; read them as int64 to see it. */
        int64_t i = json_object_get_int64(v);
        if (i == INT64_MAX || i == INT64_MIN) {
            return fail(err, p, field, "%s is out of range", field);
        }
        d = (double)i;
    }
    if (isnan(d) || d < lo || d > hi) {
        /* %.15g: whole bounds print whole (4294967294, not 4.29497e+09). */
        return fail(err, p, field, "%s must be between %.15g and %.15g", field, lo, hi);
    }
    *out = d;
    return 1;
}

static int get_https_url(apr_pool_t *p, json_object *v, const char *field,
                         const char **out, gf_input_error_t *err)
{
    apr_uri_t uri;
    const char *s;

    if (!get_string(p, v, field, GF_URL_MAX_CHARS, &s, err)) {
        return 0;
    }
    if (strncasecmp(s, "https://", 8)) {
        return fail(err, p, field, "%s must be an https URL", field);
    }
    if (strpbrk(s, " \t\r\n\"<>\\")) {
        return fail(err, p, field, "%s holds a space, quote, angle bracket or backslash, "
                    "which a URL may not", field);
    }
    if (apr_uri_parse(p, s, &uri) != APR_SUCCESS || !uri.hostname || !*uri.hostname) {
        return fail(err, p, field, "%s is not a URL with a host name", field);
    }
    if (uri.user || uri.password) {
        return fail(err, p, field, "%s must not carry a user name or password", field);
    }
    *out = s;
    return 1;
}

/* sourceImage: an https URL, or a reference to one of the user's uploads,
 * "upload:<id>" as POST /api/uploads answered it (the id lower-cased, so
 * the stored input and the create's ownership check see one spelling).
 * Whether the upload exists and is the caller's is the create
 * statement's business (gf_sql.c), not the syntax's. */
static int get_source_image(apr_pool_t *p, json_object *v, const char **out,
                            gf_input_error_t *err)
{
    if (json_object_is_type(v, json_type_string)
        && !strncmp(json_object_get_string(v), GF_UPLOAD_REF_PREFIX,
                    sizeof(GF_UPLOAD_REF_PREFIX) - 1)) {
        return gf_input_upload_ref(p, v, "sourceImage", out, err);
    }
    if (!get_https_url(p, v, "sourceImage", out, err)) {
        if (err->message && strstr(err->message, "must be an https URL")) {
            err->message = "sourceImage must be an https URL or an upload reference "
                           "(upload:<uuid>, from POST /api/uploads)";
        }
        return 0;
    }
    return 1;
}

int gf_input_upload_ref(apr_pool_t *p, json_object *v, const char *field, const char **out,
                        gf_input_error_t *err)
{
    const char *s;
    char *ref, *c;

    if (!json_object_is_type(v, json_type_string)
        || strncmp(json_object_get_string(v), GF_UPLOAD_REF_PREFIX,
                   sizeof(GF_UPLOAD_REF_PREFIX) - 1)) {
        return fail(err, p, field, "%s must be an upload reference (upload:<uuid>, from "
                    "POST /api/uploads)", field);
    }
    s = json_object_get_string(v) + sizeof(GF_UPLOAD_REF_PREFIX) - 1;
    if ((apr_size_t)json_object_get_string_len(v) != strlen(json_object_get_string(v))
        || !gf_uuid_valid(s)) {
        return fail(err, p, field, "%s: '%s…' must be followed by the uploadId of an upload "
                    "(upload:<uuid>)", field, GF_UPLOAD_REF_PREFIX);
    }
    ref = apr_pstrcat(p, GF_UPLOAD_REF_PREFIX, s, NULL);
    for (c = ref; *c; c++) *c = (char)apr_tolower(*c);
    *out = ref;
    return 1;
}

const char *gf_input_upload_id(const char *source_image)
{
    if (!source_image || strncmp(source_image, GF_UPLOAD_REF_PREFIX,
                                 sizeof(GF_UPLOAD_REF_PREFIX) - 1)) {
        return NULL;
    }
    return source_image + sizeof(GF_UPLOAD_REF_PREFIX) - 1;
}

/* webhook: an http(s) URL (which origins a location accepts is the glue's
 * GenFlowWebhookOrigins). */
static int get_webhook(apr_pool_t *p, json_object *v, const char **out, gf_input_error_t *err)
{
    apr_uri_t uri;
    const char *s;

    if (!get_string(p, v, "webhook", GF_URL_MAX_CHARS, &s, err)) return 0;
    if (strncasecmp(s, "https://", 8) && strncasecmp(s, "http://", 7)) {
        return fail(err, p, "webhook", "webhook must be an https URL");
    }
    if (strpbrk(s, " \t\r\n\"<>\\") || apr_uri_parse(p, s, &uri) != APR_SUCCESS
        || !uri.hostname || !*uri.hostname || uri.user || uri.password || uri.fragment) {
        return fail(err, p, "webhook", "webhook is not a URL with a host name (and no user "
                    "name, password or fragment)");
    }
    *out = s;
    return 1;
}

static const char *const WEBHOOK_EVENTS[] = { "started", "completed", "failed", "cancelled", NULL };

static int get_webhook_events(apr_pool_t *p, json_object *v, unsigned *out, gf_input_error_t *err)
{
    size_t i, n;
    if (!json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) == 0) {
        return fail(err, p, "webhookEvents", "webhookEvents must be a non-empty array of: %s",
                    join_words(p, WEBHOOK_EVENTS));
    }
    *out = 0;
    for (i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        unsigned bit = 0, k;
        for (k = 0; e && json_object_is_type(e, json_type_string) && WEBHOOK_EVENTS[k]; k++) {
            if (!strcmp(json_object_get_string(e), WEBHOOK_EVENTS[k])) bit = 1u << k;
        }
        if (!bit) {
            return fail(err, p, "webhookEvents", "webhookEvents may name only: %s",
                        join_words(p, WEBHOOK_EVENTS));
        }
        *out |= bit;
    }
    return 1;
}

static int parse_parameters(apr_pool_t *p, json_object *obj, gf_input_t *in,
                            gf_input_error_t *err)
{
    double d;

    if (!json_object_is_type(obj, json_type_object)) {
        return fail(err, p, "parameters", "parameters must be an object");
    }
    json_object_object_foreach(obj, key, val) {
        if (!strcmp(key, "guidance_scale")) {
            if (!get_number(p, val, "parameters.guidance_scale", 0, 20, 0, &d, err)) return 0;
            in->has_guidance_scale = 1;
            in->guidance_scale = d;
        }
        else if (!strcmp(key, "num_inference_steps")) {
            if (!get_number(p, val, "parameters.num_inference_steps", 1, 100, 1, &d, err)) return 0;
            in->has_num_inference_steps = 1;
            in->num_inference_steps = (int)d;
        }
        else if (!strcmp(key, "strength")) {
            if (!get_number(p, val, "parameters.strength", 0, 1, 0, &d, err)) return 0;
            in->has_strength = 1;
            in->strength = d;
        }
        else if (!strcmp(key, "seed")) {
            if (!get_number(p, val, "parameters.seed", 0, GF_SEED_MAX, 1, &d, err)) return 0;
            in->has_seed = 1;
            in->seed = (apr_uint64_t)d;
        }
        else {
            const char *field = apr_pstrcat(p, "parameters.", key, NULL);
            return fail(err, p, field, "%s is not a known field", field);
        }
    }
    return 1;
}

int gf_input_cancel_after(apr_pool_t *p, json_object *v, int *seconds, gf_input_error_t *err)
{
    double d;
    if (!get_number(p, v, "cancelAfter", 1, GF_CANCEL_AFTER_MAX, 1, &d, err)) return 0;
    *seconds = (int)d;
    return 1;
}

/* count: a whole number of pictures, 1..GF_COUNT_MAX (the type's own
 * maximum, GenFlowMaxCount, is the glue's to check). */
static int get_count(apr_pool_t *p, json_object *v, int *count, gf_input_error_t *err)
{
    double d;
    if (!get_number(p, v, "count", 1, GF_COUNT_MAX, 1, &d, err)) return 0;
    *count = (int)d;
    return 1;
}

int gf_input_parse(apr_pool_t *p, json_object *body, unsigned needs,
                   gf_input_t *in, gf_input_error_t *err)
{
    memset(in, 0, sizeof(*in));
    in->count = 1;
    if (!json_object_is_type(body, json_type_object)) {
        return fail(err, p, "body", "the request body must be a JSON object");
    }
    json_object_object_foreach(body, key, val) {
        int ok;
        if (json_object_is_type(val, json_type_null)) {
            /* null means "not given", as front-ends often send it. */
            continue;
        }
        if (!strcmp(key, "prompt"))
            ok = get_string(p, val, "prompt", GF_PROMPT_MAX_CHARS, &in->prompt, err);
        else if (!strcmp(key, "customPrompt"))
            ok = get_string(p, val, "customPrompt", GF_PROMPT_MAX_CHARS, &in->custom_prompt, err);
        else if (!strcmp(key, "preset"))
            ok = get_string(p, val, "preset", GF_PRESET_MAX_CHARS, &in->preset, err);
        else if (!strcmp(key, "sourceImage"))
            ok = get_source_image(p, val, &in->source_image, err);
        else if (!strcmp(key, "style"))
            ok = get_enum(p, val, "style", STYLES, &in->style, err);
        else if (!strcmp(key, "quality"))
            ok = get_enum(p, val, "quality", QUALITIES, &in->quality, err);
        else if (!strcmp(key, "aspectRatio"))
            ok = get_enum(p, val, "aspectRatio", ASPECT_RATIOS, &in->aspect_ratio, err);
        else if (!strcmp(key, "parameters"))
            ok = parse_parameters(p, val, in, err);
        else if (!strcmp(key, "webhook"))
            ok = get_webhook(p, val, &in->webhook, err);
        else if (!strcmp(key, "webhookEvents"))
            ok = get_webhook_events(p, val, &in->webhook_events, err);
        else if (!strcmp(key, "cancelAfter"))
            ok = gf_input_cancel_after(p, val, &in->cancel_after, err);
        else if (!strcmp(key, "count"))
            ok = get_count(p, val, &in->count, err);
        else if (!strcmp(key, "mask"))
            ok = gf_input_get_mask(p, val, in, err);
        else if (!strcmp(key, "referenceImages"))
            ok = gf_input_get_references(p, val, in, err);
        else
            ok = fail(err, p, apr_pstrdup(p, key), "%s is not a known field", key);
        if (!ok) {
            return 0;
        }
    }
    if (in->webhook_events && !in->webhook) {
        return fail(err, p, "webhookEvents", "webhookEvents needs a webhook");
    }
    if (in->webhook && !in->webhook_events) in->webhook_events = GF_WEBHOOK_TERMINAL;
    if ((needs & GF_NEED_PROMPT) && !in->prompt) {
        return fail(err, p, "prompt", "prompt is required for this type");
    }
    if ((needs & GF_NEED_SOURCE_IMAGE) && !in->source_image) {
        return fail(err, p, "sourceImage", "sourceImage is required for this type");
    }
    if ((needs & GF_NEED_PRESET) && !in->preset) {
        return fail(err, p, "preset", "preset is required for this type");
    }
    return gf_input_edits_consistent(p, in, err);
}

static void add_str(json_object *o, const char *k, const char *v)
{
    if (v) {
        json_object_object_add(o, k, json_object_new_string(v));
    }
}

const char *gf_input_to_json(apr_pool_t *p, const gf_input_t *in)
{
    json_object *o = gf_json_pool_own(p, json_object_new_object());
    json_object *params = json_object_new_object();

    add_str(o, "prompt", in->prompt);
    add_str(o, "customPrompt", in->custom_prompt);
    add_str(o, "preset", in->preset);
    add_str(o, "sourceImage", in->source_image);
    add_str(o, "style", in->style);
    add_str(o, "quality", in->quality);
    add_str(o, "aspectRatio", in->aspect_ratio);
    if (in->has_guidance_scale)
        json_object_object_add(params, "guidance_scale", json_object_new_double(in->guidance_scale));
    if (in->has_num_inference_steps)
        json_object_object_add(params, "num_inference_steps", json_object_new_int(in->num_inference_steps));
    if (in->has_strength)
        json_object_object_add(params, "strength", json_object_new_double(in->strength));
    if (in->has_seed)
        json_object_object_add(params, "seed", json_object_new_int64((int64_t)in->seed));
    json_object_object_add(o, "parameters", params);
    if (in->webhook) {
        json_object *events = json_object_new_array();
        unsigned k;
        for (k = 0; WEBHOOK_EVENTS[k]; k++) {
            if (in->webhook_events & (1u << k)) {
                json_object_array_add(events, json_object_new_string(WEBHOOK_EVENTS[k]));
            }
        }
        add_str(o, "webhook", in->webhook);
        json_object_object_add(o, "webhookEvents", events);
    }
    if (in->cancel_after > 0) {
        json_object_object_add(o, "cancelAfter", json_object_new_int(in->cancel_after));
    }
    /* One picture is every generation's count before count existed:
     * written only when more, so an input of one reads as it always did
     * (an Idempotency-Key's stored body, a retry's input). */
    if (in->count > 1) {
        json_object_object_add(o, "count", json_object_new_int(in->count));
    }
    gf_input_edits_to_json(o, in);
    return gf_json_dump(p, o);
}

int gf_input_need_from_word(const char *word, unsigned *need)
{
    if (!strcmp(word, "prompt"))           *need = GF_NEED_PROMPT;
    else if (!strcmp(word, "sourceImage")) *need = GF_NEED_SOURCE_IMAGE;
    else if (!strcmp(word, "preset"))      *need = GF_NEED_PRESET;
    else return 0;
    return 1;
}
