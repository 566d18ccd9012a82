/* SPDX-License-Identifier: Apache-2.0 */
/* gf_provider.c: provider declarations and chains (see gf_provider.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_base64.h>
#include <apr_sha1.h>

#include "providers/gf_provider.h"
#include "core/gf_utf8.h"
#include "core/gf_error.h"
#include "core/gf_input.h"

static const gf_provider_kind_t *const KINDS[] = {
    &gf_provider_kind_local,
    &gf_provider_kind_stability,
    &gf_provider_kind_fal,
    &gf_provider_kind_replicate,
    &gf_provider_kind_aiml,
    &gf_provider_kind_openai,
    &gf_provider_kind_gemini,
    &gf_provider_kind_bfl,
    &gf_provider_kind_comfyui,
    NULL
};

static int valid_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++) {
        if (!(apr_isalnum(*s) || *s == '-' || *s == '_' || *s == '.')) return 0;
    }
    return 1;
}

const char *gf_provider_data_uri(apr_pool_t *p, const unsigned char *bytes, apr_size_t len,
                                 const char *content_type)
{
    char *b64;
    if (!bytes || !len || !content_type || len > (apr_size_t)(APR_INT32_MAX / 4 * 3 - 4)) {
        return NULL;
    }
    b64 = apr_palloc(p, (apr_size_t)apr_base64_encode_len((int)len));
    apr_base64_encode_binary(b64, bytes, (int)len);
    return apr_pstrcat(p, "data:", content_type, ";base64,", b64, NULL);
}

const char *gf_provider_source_uri(apr_pool_t *p, const gf_job_t *job)
{
    if (!job->source_image) return NULL;
    if (!gf_input_upload_id(job->source_image)) return job->source_image;   /* https URL */
    if (job->source_url && !strncasecmp(job->source_url, "https://", 8)) return job->source_url;
    /* A local directory's URL is a path on this site, which a provider
     * cannot fetch: the bytes travel inline. */
    return gf_provider_data_uri(p, job->source_bytes, job->source_len, job->source_content_type);
}

const char *gf_provider_picture_uri(apr_pool_t *p, const gf_job_picture_t *pic)
{
    if (pic->url && !strncasecmp(pic->url, "https://", 8)) return pic->url;
    return gf_provider_data_uri(p, pic->bytes, pic->len, pic->content_type);
}

int gf_provider_mask(apr_pool_t *p, const gf_provider_t *prov, const gf_job_t *job,
                     gf_mask_form_t form, const unsigned char **bytes, apr_size_t *len,
                     gf_provider_result_t *res)
{
    unsigned char *out = NULL;
    unsigned w, h;
    const char *err = gf_mask_convert(p, job->mask->bytes, job->mask->len, form, &out, len,
                                      &w, &h);
    if (err) {
        res->error_code = GF_JOB_VALIDATION;
        res->transient = 0;
        res->error_message = apr_psprintf(p, "%s: %s", prov->name, err);
        return 0;
    }
    *bytes = out;
    return 1;
}

const gf_provider_kind_t *gf_provider_kind_find(const char *kind)
{
    const gf_provider_kind_t *const *k;
    for (k = KINDS; *k; k++) {
        if (!strcmp((*k)->kind, kind)) {
            return *k;
        }
    }
    return NULL;
}

gf_provider_t *gf_provider_create(apr_pool_t *p, const char *name,
                                  const char *kind, const char **err)
{
    const gf_provider_kind_t *k = gf_provider_kind_find(kind);
    gf_provider_t *prov;

    if (!valid_name(name)) {
        *err = apr_psprintf(p, "provider name '%s' may only use letters, digits, '-', '_' and '.'", name);
        return NULL;
    }
    if (!strncmp(name, GF_GROUP_KEY_PREFIX, sizeof(GF_GROUP_KEY_PREFIX) - 1)) {
        *err = apr_psprintf(p, "provider name '%s': names beginning with '" GF_GROUP_KEY_PREFIX
                            "' are the keys of provider groups", name);
        return NULL;
    }
    if (!k) {
        const gf_provider_kind_t *const *known;
        const char *names = "";
        for (known = KINDS; *known; known++) {
            names = apr_pstrcat(p, names, known == KINDS ? "" : ", ", (*known)->kind, NULL);
        }
        *err = apr_psprintf(p, "unknown provider kind '%s' (known: %s)", kind, names);
        return NULL;
    }
    prov = apr_pcalloc(p, sizeof(*prov));
    prov->name = apr_pstrdup(p, name);
    prov->kind = k;
    gf_breaker_conf_default(&prov->breaker);
    prov->breaker_slot = -1;
    prov->limit_slot = -1;
    prov->poll_every = k->poll_every;
    return prov;
}

/* Model names go into URL paths and JSON bodies: the characters of
 * provider model ids ("fal-ai/flux/dev", "owner/model:version",
 * "sd3.5-large") and nothing that would change a URL's meaning. */
static int valid_model(const char *s)
{
    if (!*s || strlen(s) > 200) return 0;
    for (; *s; s++) {
        if (!apr_isalnum(*s) && !strchr("._~:/@+-", *s)) return 0;
    }
    return 1;
}

double gf_provider_attempt_cost(const gf_provider_t *prov, const gf_provider_result_t *res)
{
    double cost = 0;
    if (!prov || !res) return 0;
    if (res->usage > 0 && res->usage < 1e12) cost += res->usage * prov->cost_per_unit;
    /* cost= is per picture delivered: a call that brought several
     * (OpenAI's n, fal's num_images) cost that many. */
    if (!res->error_code && !res->running && (res->image || res->image_url)) {
        cost += prov->cost_per_call * (1 + (res->n_more > 0 ? res->n_more : 0));
    }
    return cost;
}

int gf_provider_max_count(const gf_provider_t *prov, const char *model)
{
    int n = prov && prov->kind->max_count ? prov->kind->max_count(prov, model) : 1;
    return n < 1 ? 1 : n > GF_COUNT_MAX ? GF_COUNT_MAX : n;
}

const char *gf_provider_option(apr_pool_t *p, gf_provider_t *prov, const char *arg)
{
    const char *eq = strchr(arg, '=');
    const char *key, *value;

    if (!eq || eq == arg) {
        return apr_psprintf(p, "provider option '%s' is not of the form key=value", arg);
    }
    key = apr_pstrmemdup(p, arg, (apr_size_t)(eq - arg));
    value = eq + 1;
    if (!gf_utf8_printable_str(arg)) {
        return apr_psprintf(p, "provider option %s: the value is not printable UTF-8 text",
                            gf_utf8_printable_str(key) ? key : "(name)");
    }
    if (!strcmp(key, "model")) {
        if (!*value) return "provider option model= needs a value";
        if (!valid_model(value)) {
            return apr_psprintf(p, "provider option model=%s: a model name has letters, digits "
                                "and . _ ~ : / @ + - only", value);
        }
        prov->default_model = apr_pstrdup(p, value);
        return NULL;
    }
    if (!strcmp(key, "cost") || !strcmp(key, "cost_per_unit")) {
        char *end;
        double v = strtod(value, &end);
        if (!*value || *end || !(v >= 0 && v <= 1e6)) {
            return apr_psprintf(p, "provider option %s=%s: a number from 0 to 1000000 (the site's "
                                "money unit)", key, value);
        }
        if (!strcmp(key, "cost")) prov->cost_per_call = v;
        else prov->cost_per_unit = v;
        return NULL;
    }
    if (!strcmp(key, "poll")) {
        char *end;
        long ms = strtol(value, &end, 10);
        if (!prov->kind->poll) {
            return apr_psprintf(p, "provider option poll=: a '%s' provider answers at once; "
                                "poll= is for the kinds whose jobs are polled", prov->kind->kind);
        }
        if (!*value || *end || ms < GF_POLL_EVERY_MIN_MS || ms > GF_POLL_EVERY_MAX_MS) {
            return apr_psprintf(p, "provider option poll=%s: milliseconds between two polls of a "
                                "job, %d to %d", value, GF_POLL_EVERY_MIN_MS, GF_POLL_EVERY_MAX_MS);
        }
        prov->poll_every = apr_time_from_msec(ms);
        return NULL;
    }
    {
        const char *err;
        if (gf_breaker_option(&prov->breaker, key, value, &err)) return err;
        if ((err = gf_limit_option(p, &prov->limit, key, value)) != GF_LIMIT_NOT_MINE) {
            return err;
        }
        if ((err = gf_budget_option(p, &prov->budget, key, value)) != GF_BUDGET_NOT_MINE) {
            return err;
        }
    }
    if (prov->kind->set_option) {
        return prov->kind->set_option(p, prov, key, value);
    }
    return apr_psprintf(p, "provider kind '%s' has no option '%s'", prov->kind->kind, key);
}

static const char *member_parse(apr_pool_t *p, const char *arg, gf_chain_member_t *m)
{
    const char *colon = strchr(arg, ':'), *eq = strrchr(arg, '=');
    const char *end = eq ? eq : arg + strlen(arg);

    m->weight = 1;
    if (eq) {
        char *stop;
        long w = strtol(eq + 1, &stop, 10);
        if (!eq[1] || *stop || w < 1 || w > GF_GROUP_WEIGHT_MAX) {
            return apr_psprintf(p, "group member '%s': a weight is =1 to =%d", arg,
                                GF_GROUP_WEIGHT_MAX);
        }
        m->weight = (int)w;
    }
    if (colon && colon > end) colon = NULL;
    m->provider = apr_pstrmemdup(p, arg, (apr_size_t)((colon ? colon : end) - arg));
    m->model = colon ? apr_pstrmemdup(p, colon + 1, (apr_size_t)(end - colon - 1)) : NULL;
    if (!valid_name(m->provider)) {
        return apr_psprintf(p, "group member '%s': bad provider name", arg);
    }
    if (m->model && !valid_model(m->model)) {
        return apr_psprintf(p, "group member '%s': a model name has letters, digits and "
                            ". _ ~ : / @ + - only", arg);
    }
    return NULL;
}

/* "{a b:m=2}@latency" (or "{a|b:m=2}@latency"): a group; key: the one
 * its row's chain keeps it under, or NULL to make it. */
static const char *group_parse(apr_pool_t *p, const char *arg, const char *key,
                               gf_chain_entry_t *entry)
{
    const char *close = strchr(arg, '}'), *text = NULL;
    char *inner, *last, *tok;
    int i, j;

    if (!close || close[1] != '@') {
        return apr_psprintf(p, "chain entry '%s': a group is {provider provider ...}@policy, "
                            "policy latency, cost, least-busy or shuffle",
                            gf_utf8_printable_str(arg) ? arg : "(not text)");
    }
    if (!(entry->policy = gf_group_policy_parse(close + 2))) {
        return apr_psprintf(p, "chain entry '%s': the policy after @ is latency, cost, "
                            "least-busy or shuffle", gf_utf8_printable_str(arg) ? arg : "(not text)");
    }
    entry->members = apr_array_make(p, 4, sizeof(gf_chain_member_t));
    inner = apr_pstrmemdup(p, arg + 1, (apr_size_t)(close - arg - 1));
    for (tok = apr_strtok(inner, " \t|", &last); tok; tok = apr_strtok(NULL, " \t|", &last)) {
        const char *err;
        if (entry->members->nelts == GF_GROUP_MEMBERS_MAX) {
            return apr_psprintf(p, "a group has at most %d providers", GF_GROUP_MEMBERS_MAX);
        }
        if ((err = member_parse(p, tok, apr_array_push(entry->members))) != NULL) return err;
    }
    if (entry->members->nelts < 2) {
        return "a group names at least two providers (one alone is a plain chain entry)";
    }
    for (i = 0; i < entry->members->nelts; i++) {
        const gf_chain_member_t *m = &APR_ARRAY_IDX(entry->members, i, gf_chain_member_t);
        const char *item = m->model ? apr_pstrcat(p, m->provider, ":", m->model, NULL)
                                    : m->provider;
        for (j = 0; j < i; j++) {
            const gf_chain_member_t *o = &APR_ARRAY_IDX(entry->members, j, gf_chain_member_t);
            if (!strcmp(o->provider, m->provider)
                && !strcmp(o->model ? o->model : "", m->model ? m->model : "")) {
                return apr_psprintf(p, "a group names %s twice", item);
            }
        }
        if (m->weight != 1) item = apr_psprintf(p, "%s=%d", item, m->weight);
        text = text ? apr_pstrcat(p, text, "|", item, NULL) : item;
    }
    text = apr_pstrcat(p, "{", text, "}@", gf_group_policy_name(entry->policy), NULL);
    /* A row's cur_provider (its line) is its chain entry up to the first
     * ':': the key, a name of the group's text that SQL takes as it is. */
    if (!key) {
        unsigned char d[APR_SHA1_DIGESTSIZE];
        apr_sha1_ctx_t c;
        apr_sha1_init(&c);
        apr_sha1_update(&c, text, (unsigned int)strlen(text));
        apr_sha1_final(d, &c);
        key = apr_psprintf(p, GF_GROUP_KEY_PREFIX "%02x%02x%02x%02x%02x", d[0], d[1], d[2], d[3],
                           d[4]);
    }
    entry->provider = key;
    entry->text = apr_pstrcat(p, key, ":", text, NULL);
    entry->model = NULL;
    return NULL;
}

const char *gf_chain_entry_parse(apr_pool_t *p, const char *arg, gf_chain_entry_t *entry)
{
    const char *colon = strchr(arg, ':');

    memset(entry, 0, sizeof(*entry));
    if (arg[0] == '{') return group_parse(p, arg, NULL, entry);
    /* A group as a row's chain keeps it: "group.KEY:{...}@policy". */
    if (!strncmp(arg, GF_GROUP_KEY_PREFIX, sizeof(GF_GROUP_KEY_PREFIX) - 1) && colon
        && colon[1] == '{') {
        const char *key = apr_pstrmemdup(p, arg, (apr_size_t)(colon - arg));
        if (!valid_name(key)) return apr_psprintf(p, "chain entry '%s': bad group key", arg);
        return group_parse(p, colon + 1, key, entry);
    }
    entry->provider = colon ? apr_pstrmemdup(p, arg, (apr_size_t)(colon - arg))
                            : apr_pstrdup(p, arg);
    entry->model = colon ? apr_pstrdup(p, colon + 1) : NULL;
    if (!valid_name(entry->provider)) {
        return apr_psprintf(p, "chain entry '%s': bad provider name", arg);
    }
    if (!strncmp(entry->provider, GF_GROUP_KEY_PREFIX, sizeof(GF_GROUP_KEY_PREFIX) - 1)) {
        return apr_psprintf(p, "chain entry '%s': names beginning with '" GF_GROUP_KEY_PREFIX
                            "' are the keys of provider groups", arg);
    }
    if (entry->model && !*entry->model) {
        return apr_psprintf(p, "chain entry '%s': empty model after ':'", arg);
    }
    if (entry->model && !valid_model(entry->model)) {
        return apr_psprintf(p, "chain entry '%s': a model name has letters, digits and "
                            ". _ ~ : / @ + - only", gf_utf8_printable_str(arg) ? arg : "(not text)");
    }
    entry->text = entry->model ? apr_pstrcat(p, entry->provider, ":", entry->model, NULL)
                               : entry->provider;
    return NULL;
}

apr_array_header_t *gf_chain_parse(apr_pool_t *p, const char *chain, const char **err)
{
    apr_array_header_t *entries = apr_array_make(p, 4, sizeof(gf_chain_entry_t));
    char *copy = apr_pstrdup(p, chain), *last = NULL, *tok;

    for (tok = apr_strtok(copy, ",", &last); tok; tok = apr_strtok(NULL, ",", &last)) {
        if ((*err = gf_chain_entry_parse(p, tok, apr_array_push(entries))) != NULL) {
            return NULL;
        }
    }
    if (entries->nelts == 0) {
        *err = "empty provider chain";
        return NULL;
    }
    return entries;
}

void gf_provider_attempt(const gf_provider_t *prov, const gf_job_t *job,
                         const char *provider_job_id, apr_pool_t *p,
                         gf_provider_result_t *res)
{
    memset(res, 0, sizeof(*res));
    if (provider_job_id) {
        if (!prov->kind->poll) {
            res->error_code = GF_JOB_API;
            res->error_message = "provider cannot be polled";
            return;
        }
        prov->kind->poll(prov, job, provider_job_id, p, res);
    }
    else {
        prov->kind->generate(prov, job, p, res);
    }
    if (res->provider_job_id && (strlen(res->provider_job_id) > GF_PROVIDER_ID_MAX
                                 || !gf_utf8_valid_str(res->provider_job_id))) {
        /* It goes into the database, URL paths and the status JSON. */
        res->error_code = GF_JOB_API;
        res->error_message = "the provider answered a job id that is too long or not text";
        res->provider_job_id = NULL;
        res->transient = 0;
    }
    if (res->error_message) {
        /* Provider text reaches the database (valid UTF-8 only), the
         * status JSON and the logs: cut on a character boundary, control
         * characters replaced. */
        res->error_message = gf_utf8_clean(p, res->error_message, strlen(res->error_message),
                                           GF_PROVIDER_MESSAGE_MAX);
    }
    if (!res->error_code && !res->image && !res->image_url && !res->provider_job_id
        && !res->running) {
        /* A provider that claims success must hand over a picture. */
        res->error_code = GF_JOB_API;
        res->error_message = "provider returned no image";
    }
}

apr_interval_time_t gf_provider_worst_attempt(const gf_provider_t *prov)
{
    return prov->kind->worst_attempt ? prov->kind->worst_attempt(prov) : 0;
}
