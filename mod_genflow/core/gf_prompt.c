/* SPDX-License-Identifier: Apache-2.0 */
/* gf_prompt.c: deterministic prompt templates (see gf_prompt.h). */
#include <string.h>
#include <apr_strings.h>

#include "core/gf_prompt.h"
#include "core/gf_builtin.h"
#include "core/gf_utf8.h"

static const char *const PLACEHOLDERS[] = {
    "prompt", "customPrompt", "preset", "style", "quality", "aspectRatio", "type", NULL
};

const char *gf_prompt_default_template(const char *type)
{
    const gf_builtin_type_t *b = gf_builtin_type(type);
    if (b) return b->tmpl;
    return "{type}, {preset}, {prompt}, {customPrompt}, {style}, {quality}, "
           "aspect ratio {aspectRatio}";
}

const char *gf_prompt_style_words(const char *style)
{
    if (!style) return NULL;
    if (!strcmp(style, "realistic")) return "photorealistic, natural lighting";
    if (!strcmp(style, "artistic"))  return "artistic, painterly brushwork";
    if (!strcmp(style, "minimal"))   return "minimalist, clean composition";
    return NULL;
}

const char *gf_prompt_quality_words(const char *quality)
{
    if (quality && !strcmp(quality, "high")) {
        return "highly detailed, sharp focus";
    }
    return NULL;  /* "auto" adds nothing */
}

static const char *placeholder_value(const char *name, apr_size_t len,
                                     const char *type, const gf_input_t *in,
                                     int *known)
{
    *known = 1;
#define IS(s) (len == sizeof(s) - 1 && !strncmp(name, s, len))
    if (IS("prompt"))       return in->prompt;
    if (IS("customPrompt")) return in->custom_prompt;
    if (IS("preset"))       return in->preset;
    if (IS("style"))        return gf_prompt_style_words(in->style);
    if (IS("quality"))      return gf_prompt_quality_words(in->quality);
    if (IS("aspectRatio"))  return in->aspect_ratio;
    if (IS("type"))         return type;
#undef IS
    *known = 0;
    return NULL;
}

const char *gf_prompt_check_template(apr_pool_t *p, const char *tmpl)
{
    const char *s = tmpl;

    /* The prompt it builds is stored and sent: text only. */
    if (!gf_utf8_valid_str(tmpl)) {
        return "prompt template is not valid UTF-8 text";
    }
    while ((s = strchr(s, '{')) != NULL) {
        const char *end = strchr(s, '}');
        const char *const *ph;
        int ok = 0;
        if (!end) {
            return "unbalanced '{' in prompt template";
        }
        for (ph = PLACEHOLDERS; *ph; ph++) {
            if ((apr_size_t)(end - s - 1) == strlen(*ph) && !strncmp(s + 1, *ph, strlen(*ph))) {
                ok = 1;
            }
        }
        if (!ok) {
            return apr_psprintf(p, "unknown placeholder %.*s in prompt template "
                                "(known: {prompt} {customPrompt} {preset} {style} "
                                "{quality} {aspectRatio} {type})", (int)(end - s + 1), s);
        }
        s = end + 1;
    }
    return NULL;
}

/* Expand one segment; *keep is 0 when it had placeholders and all were empty. */
static const char *expand_segment(apr_pool_t *p, const char *seg, apr_size_t len,
                                  const char *type, const gf_input_t *in, int *keep)
{
    const char *out = "";
    const char *end = seg + len;
    int placeholders = 0, filled = 0;

    while (seg < end) {
        const char *open = memchr(seg, '{', (apr_size_t)(end - seg));
        const char *close = open ? memchr(open, '}', (apr_size_t)(end - open)) : NULL;
        const char *val;
        int known;

        if (!open || !close) {
            out = apr_pstrcat(p, out, apr_pstrmemdup(p, seg, (apr_size_t)(end - seg)), NULL);
            break;
        }
        out = apr_pstrcat(p, out, apr_pstrmemdup(p, seg, (apr_size_t)(open - seg)), NULL);
        val = placeholder_value(open + 1, (apr_size_t)(close - open - 1), type, in, &known);
        if (known) {
            placeholders++;
            if (val && *val) {
                filled++;
                out = apr_pstrcat(p, out, val, NULL);
            }
        }
        else {
            out = apr_pstrcat(p, out, apr_pstrmemdup(p, open, (apr_size_t)(close - open + 1)), NULL);
        }
        seg = close + 1;
    }
    *keep = placeholders == 0 || filled > 0;
    return out;
}

static const char *trim(apr_pool_t *p, const char *s)
{
    const char *e = s + strlen(s);
    while (*s == ' ' || *s == '\t') s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    return apr_pstrmemdup(p, s, (apr_size_t)(e - s));
}

const char *gf_prompt_build(apr_pool_t *p, const char *tmpl, const char *type,
                            const gf_input_t *in)
{
    const char *result = NULL;
    const char *seg;

    /* A chosen preset always counts: a site's own template without
     * {preset} gets its words as a last segment, so two presets never
     * build the same prompt. */
    if (in->preset && *in->preset && !strstr(tmpl, "{preset}")) {
        tmpl = apr_pstrcat(p, tmpl, ", {preset}", NULL);
    }
    seg = tmpl;
    /* Segments are split on the template's own commas only: a comma inside
     * the user's prompt never changes which segments are kept. */
    while (seg) {
        const char *comma = strchr(seg, ',');
        apr_size_t len = comma ? (apr_size_t)(comma - seg) : strlen(seg);
        int keep;
        const char *text = trim(p, expand_segment(p, seg, len, type, in, &keep));

        if (keep && *text) {
            result = result ? apr_pstrcat(p, result, ", ", text, NULL) : text;
        }
        seg = comma ? comma + 1 : NULL;
    }
    return result ? result : "";
}
