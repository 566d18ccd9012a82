/* SPDX-License-Identifier: Apache-2.0 */
/* gf_policy.c: the content policy's normal form, deny list and moderation
 * answer (gf_policy.h). The Unicode work is libunistring's (its case
 * folding with compatibility decomposition, its general categories and
 * properties) and ICU's (the confusable skeleton of UTS #39, from its
 * spoof checker). */
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <json-c/json.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>
#include <unicode/uspoof.h>

#include "core/gf_policy.h"
#include "core/gf_json.h"

typedef struct {
    const char *spaced;          /* " word word ", as a skeleton */
    int line;
} phrase_t;

typedef struct {
    regex_t re;
    int line;
} pattern_t;

struct gf_policy_list {
    USpoofChecker *spoof;        /* the skeletons' (closed with the pool) */
    apr_hash_t *words;           /* one word's skeleton → its line (int *) */
    apr_array_header_t *phrases; /* phrase_t */
    apr_array_header_t *patterns;/* pattern_t * */
    int size;
};

/* ---- the normal form ------------------------------------------------------ */

typedef struct {
    const uint8_t *at;           /* in the folded text */
    apr_size_t len;              /* bytes */
    int chars;                   /* code points */
} word_t;

/* Is uc a letter or a digit (words are made of them)? ASCII without the
 * table: most prompts are ASCII. */
static int word_char(ucs4_t uc)
{
    if (uc < 0x80) return (uc >= 'a' && uc <= 'z') || (uc >= 'A' && uc <= 'Z')
                          || (uc >= '0' && uc <= '9');
    return uc_is_general_category(uc, UC_CATEGORY_L) || uc_is_general_category(uc, UC_CATEGORY_N)
           || uc_is_general_category(uc, UC_CATEGORY_Mc);
}

/* Is uc dropped without separating (a mark over a letter, a format
 * character, any default-ignorable code point: those a renderer shows as
 * nothing, the Hangul fillers among them though they are letters)?
 * Spacing marks (Mc: the vowel signs of Indic scripts) are part of their
 * word (word_char). */
static int dropped(ucs4_t uc)
{
    return uc >= 0x80 && (uc_is_general_category(uc, UC_CATEGORY_Mn)
                          || uc_is_general_category(uc, UC_CATEGORY_Me)
                          || uc_is_general_category(uc, UC_CATEGORY_Cf)
                          || uc_is_property_default_ignorable_code_point(uc));
}

/* Case folding with compatibility decomposition (malloc'd, as
 * libunistring's): for ASCII, which neither changes beyond its case, the
 * lower case at once. */
static uint8_t *fold(const char *text, size_t len, size_t *flen)
{
    size_t i;
    uint8_t *out;
    for (i = 0; i < len && !((unsigned char)text[i] & 0x80); i++) ;
    if (i < len) return u8_casefold((const uint8_t *)text, len, NULL, UNINORM_NFKD, NULL, flen);
    if (!(out = malloc(len ? len : 1))) return NULL;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        out[i] = (uint8_t)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    *flen = len;
    return out;
}

/* The words of folded text: runs of letters and digits; marks and format
 * characters dropped without separating (a word's bytes are then copied
 * without them, see put_word); anything else separates. */
static apr_array_header_t *words_of(apr_pool_t *p, const uint8_t *s, size_t n)
{
    apr_array_header_t *words = apr_array_make(p, 16, sizeof(word_t));
    word_t *w = NULL;
    size_t i = 0;

    while (i < n) {
        ucs4_t uc;
        int k = u8_mbtouc(&uc, s + i, n - i);
        if (k <= 0) break;
        if (dropped(uc)) {
            /* Dropped: "ns\u200Bfw" is "nsfw" (the word goes on). */
            if (w) w->len += (apr_size_t)k;
        }
        else if (word_char(uc)) {
            if (!w) {
                w = apr_array_push(words);
                w->at = s + i;
                w->len = 0;
                w->chars = 0;
            }
            w->len += (apr_size_t)k;
            w->chars++;
        }
        else {
            w = NULL;
        }
        i += (size_t)k;
    }
    return words;
}

/* A word's letters and digits at out (its marks and format characters
 * left out); the bytes written. */
static apr_size_t put_word(char *out, const word_t *w)
{
    apr_size_t i = 0, o = 0;
    while (i < w->len) {
        ucs4_t uc;
        int k = u8_mbtouc(&uc, w->at + i, w->len - i);
        if (k <= 0) break;
        if (word_char(uc) && !dropped(uc)) {
            memcpy(out + o, w->at + i, (size_t)k);
            o += (apr_size_t)k;
        }
        i += (apr_size_t)k;
    }
    return o;
}

const char *gf_policy_normalise(apr_pool_t *p, const char *text, apr_size_t len)
{
    size_t flen = 0;
    uint8_t *folded;
    apr_array_header_t *words;
    char *out;
    apr_size_t o = 0;
    int i;

    if (!text || u8_check((const uint8_t *)text, len)) return NULL;
    if (!len) return "";
    if (!(folded = fold(text, len, &flen))) return NULL;
    words = words_of(p, folded, flen);
    out = apr_palloc(p, flen + (apr_size_t)words->nelts + 1);
    for (i = 0; i < words->nelts;) {
        const word_t *w = &APR_ARRAY_IDX(words, i, word_t);
        if (o) out[o++] = ' ';
        if (w->chars == 1) {
            /* A run of one-letter words is one word: "n.s.f.w" is "nsfw". */
            while (i < words->nelts && APR_ARRAY_IDX(words, i, word_t).chars == 1) {
                o += put_word(out + o, &APR_ARRAY_IDX(words, i, word_t));
                i++;
            }
        }
        else {
            o += put_word(out + o, w);
            i++;
        }
    }
    out[o] = '\0';
    free(folded);
    return out;
}

/* ---- the deny list ------------------------------------------------------------ */

/* The confusable skeleton (UTS #39) of normal-form text, malloc'd: the
 * same for look-alikes of any script ("nѕfw" with a Cyrillic dze is
 * "nsfw"). Spaces stay spaces, so words stay words. NULL when ICU fails. */
static char *skeleton(const USpoofChecker *sc, const char *s, size_t n)
{
    UErrorCode st = U_ZERO_ERROR;
    int32_t cap = (int32_t)(n * 2 + 16), k;
    char *out;

    if (n > (size_t)INT32_MAX / 4 || !(out = malloc((size_t)cap))) return NULL;
    k = uspoof_getSkeletonUTF8(sc, 0, s, (int32_t)n, out, cap, &st);
    if (st == U_BUFFER_OVERFLOW_ERROR || st == U_STRING_NOT_TERMINATED_WARNING) {
        char *more = realloc(out, (size_t)k + 1);
        if (!more) { free(out); return NULL; }
        out = more;
        st = U_ZERO_ERROR;
        k = uspoof_getSkeletonUTF8(sc, 0, s, (int32_t)n, out, k + 1, &st);
    }
    if (U_FAILURE(st)) { free(out); return NULL; }
    out[k] = '\0';
    return out;
}

/* A skeleton in p (for the list's entries). */
static const char *skeleton_in(apr_pool_t *p, const USpoofChecker *sc, const char *s)
{
    char *m = skeleton(sc, s, strlen(s));
    const char *out = m ? apr_pstrdup(p, m) : NULL;
    free(m);
    return out;
}

static apr_status_t spoof_close(void *data)
{
    uspoof_close(data);
    return APR_SUCCESS;
}

static apr_status_t pattern_free(void *data)
{
    regfree(&((pattern_t *)data)->re);
    return APR_SUCCESS;
}

static const char *add_entry(apr_pool_t *p, gf_policy_list_t *l, const char *entry,
                             apr_size_t n, int line)
{
    if (n > 3 && !memcmp(entry, "re:", 3)) {
        pattern_t *pt = apr_pcalloc(p, sizeof(*pt));
        char *src = apr_pstrmemdup(p, entry + 3, n - 3);
        int rc = regcomp(&pt->re, src, REG_EXTENDED | REG_NOSUB);
        if (rc) {
            char msg[160];
            regerror(rc, &pt->re, msg, sizeof(msg));
            return apr_psprintf(p, "line %d: the pattern does not compile (%s)", line, msg);
        }
        pt->line = line;
        apr_pool_cleanup_register(p, pt, pattern_free, apr_pool_cleanup_null);
        APR_ARRAY_PUSH(l->patterns, pattern_t *) = pt;
    }
    else {
        const char *normal = gf_policy_normalise(p, entry, n);
        int *at;
        if (!normal) return apr_psprintf(p, "line %d: not valid UTF-8", line);
        if (!*normal) return apr_psprintf(p, "line %d: no letter or digit to match", line);
        if (!(normal = skeleton_in(p, l->spoof, normal))) {
            return apr_psprintf(p, "line %d: no confusable skeleton (ICU)", line);
        }
        at = apr_palloc(p, sizeof(*at));
        *at = line;
        if (!strchr(normal, ' ')) {
            if (!apr_hash_get(l->words, normal, APR_HASH_KEY_STRING)) {
                apr_hash_set(l->words, normal, APR_HASH_KEY_STRING, at);
            }
        }
        else {
            phrase_t *ph = apr_array_push(l->phrases);
            ph->spaced = apr_pstrcat(p, " ", normal, " ", NULL);
            ph->line = line;
        }
    }
    l->size++;
    return NULL;
}

gf_policy_list_t *gf_policy_list_parse(apr_pool_t *p, const char *text, apr_size_t len,
                                       const char **err)
{
    gf_policy_list_t *l = apr_pcalloc(p, sizeof(*l));
    apr_size_t at = 0;
    int line = 0;
    UErrorCode st = U_ZERO_ERROR;

    *err = NULL;
    l->spoof = uspoof_open(&st);
    if (U_FAILURE(st) || !l->spoof) {
        *err = apr_psprintf(p, "ICU's spoof checker did not open (%s)", u_errorName(st));
        return NULL;
    }
    apr_pool_cleanup_register(p, l->spoof, spoof_close, apr_pool_cleanup_null);
    l->words = apr_hash_make(p);
    l->phrases = apr_array_make(p, 8, sizeof(phrase_t));
    l->patterns = apr_array_make(p, 8, sizeof(pattern_t *));
    if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
        /* A byte order mark before the first line (an editor's). */
        text += 3;
        len -= 3;
    }
    if (len > GF_POLICY_LIST_MAX_BYTES) {
        *err = apr_psprintf(p, "the file is larger than %d bytes", GF_POLICY_LIST_MAX_BYTES);
        return NULL;
    }
    while (at < len) {
        const char *s = text + at, *nl = memchr(s, '\n', len - at);
        apr_size_t n = nl ? (apr_size_t)(nl - s) : len - at;
        at += n + (nl ? 1 : 0);
        line++;
        while (n && (*s == ' ' || *s == '\t')) { s++; n--; }
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
        if (!n || *s == '#') continue;
        if (memchr(s, '\0', n) || u8_check((const uint8_t *)s, n)) {
            *err = apr_psprintf(p, "line %d: not valid UTF-8 text", line);
            return NULL;
        }
        if (l->size >= GF_POLICY_LIST_MAX_ENTRIES) {
            *err = apr_psprintf(p, "more than %d entries", GF_POLICY_LIST_MAX_ENTRIES);
            return NULL;
        }
        if ((*err = add_entry(p, l, s, n, line)) != NULL) return NULL;
    }
    return l;
}

int gf_policy_list_size(const gf_policy_list_t *l)
{
    return l ? l->size : 0;
}

/* Does the skeleton of the normal form hold a word or phrase entry? */
static int words_match(const gf_policy_list_t *l, const char *skel, int *line)
{
    const char *w = skel;
    size_t n = strlen(skel);
    char *spaced;
    int i;

    /* Each word of the text against the one-word entries. */
    while (*w) {
        const char *e = strchr(w, ' ');
        apr_size_t k = e ? (apr_size_t)(e - w) : strlen(w);
        int *at = apr_hash_get(l->words, w, (apr_ssize_t)k);
        if (at) {
            if (line) *line = *at;
            return 1;
        }
        w += k + (e ? 1 : 0);
    }
    if (!l->phrases->nelts) return 0;
    /* Phrases whole: " text " holds " a b " only on word boundaries. */
    if (!(spaced = malloc(n + 3))) return 0;
    spaced[0] = ' ';
    memcpy(spaced + 1, skel, n);
    spaced[n + 1] = ' ';
    spaced[n + 2] = '\0';
    for (i = 0; i < l->phrases->nelts; i++) {
        const phrase_t *ph = &APR_ARRAY_IDX(l->phrases, i, phrase_t);
        if (strstr(spaced, ph->spaced)) {
            if (line) *line = ph->line;
            free(spaced);
            return 1;
        }
    }
    free(spaced);
    return 0;
}

int gf_policy_list_match(const gf_policy_list_t *l, const char *normal, int *line)
{
    char *skel;
    int i, hit;

    if (!l || !normal) return 0;
    if (l->words && (apr_hash_count(l->words) || l->phrases->nelts)) {
        /* A skeleton ICU cannot make refuses: the policy fails closed. */
        if (!(skel = skeleton(l->spoof, normal, strlen(normal)))) {
            if (line) *line = 0;
            return 1;
        }
        hit = words_match(l, skel, line);
        free(skel);
        if (hit) return 1;
    }
    /* Patterns see the normal form itself (gf_policy.h). */
    for (i = 0; i < l->patterns->nelts; i++) {
        pattern_t *pt = APR_ARRAY_IDX(l->patterns, i, pattern_t *);
        if (regexec(&pt->re, normal, 0, NULL, 0) == 0) {
            if (line) *line = pt->line;
            return 1;
        }
    }
    return 0;
}

/* ---- the moderation endpoint ------------------------------------------------- */

const char *gf_policy_moderation_body(apr_pool_t *p, const char *input, const char *model)
{
    json_object *o = gf_json_pool_own(p, json_object_new_object());
    json_object_object_add(o, "input", json_object_new_string(input ? input : ""));
    if (model) json_object_object_add(o, "model", json_object_new_string(model));
    return gf_json_dump(p, o);
}

const char *gf_policy_moderation_parts(apr_pool_t *p, const char *text,
                                       const char *const *urls, int n, const char *model)
{
    json_object *o = gf_json_pool_own(p, json_object_new_object()), *in = json_object_new_array();
    int i;

    if (text) {
        json_object *t = json_object_new_object();
        json_object_object_add(t, "type", json_object_new_string("text"));
        json_object_object_add(t, "text", json_object_new_string(text));
        json_object_array_add(in, t);
    }
    for (i = 0; i < n; i++) {
        json_object *img = json_object_new_object(), *u = json_object_new_object();
        json_object_object_add(u, "url", json_object_new_string(urls[i]));
        json_object_object_add(img, "type", json_object_new_string("image_url"));
        json_object_object_add(img, "image_url", u);
        json_object_array_add(in, img);
    }
    json_object_object_add(o, "input", in);
    if (model) json_object_object_add(o, "model", json_object_new_string(model));
    return gf_json_dump(p, o);
}

/* The categories of one result that are true and asked for, comma
 * separated, or NULL. */
static const char *true_categories(apr_pool_t *p, json_object *cats,
                                   const apr_array_header_t *asked)
{
    const char *found = NULL;
    if (!cats || !json_object_is_type(cats, json_type_object)) return NULL;
    json_object_object_foreach(cats, name, v) {
        int i, wanted = !asked || !asked->nelts;
        if (!json_object_is_type(v, json_type_boolean) || !json_object_get_boolean(v)) continue;
        for (i = 0; !wanted && i < asked->nelts; i++) {
            wanted = !strcmp(APR_ARRAY_IDX(asked, i, const char *), name);
        }
        if (wanted) found = found ? apr_pstrcat(p, found, ",", name, NULL) : apr_pstrdup(p, name);
    }
    return found;
}

gf_moderation_t gf_policy_moderation_read(apr_pool_t *p, const char *body, apr_size_t len,
                                          const apr_array_header_t *categories,
                                          const char **why)
{
    json_object *doc, *results, *r, *flagged, *cats;
    const char *err = NULL, *hit = NULL;
    int i, n, any = 0, by_category = categories && categories->nelts;

    *why = NULL;
    if (!(doc = gf_json_parse(p, body, len, &err))) {
        *why = "the answer is not JSON";
        return GF_MODERATION_BAD;
    }
    if (!json_object_is_type(doc, json_type_object)
        || !json_object_object_get_ex(doc, "results", &results)
        || !json_object_is_type(results, json_type_array)
        || (n = (int)json_object_array_length(results)) == 0) {
        *why = "the answer has no results array";
        return GF_MODERATION_BAD;
    }
    for (i = 0; i < n; i++) {
        r = json_object_array_get_idx(results, (size_t)i);
        if (!json_object_is_type(r, json_type_object)
            || !json_object_object_get_ex(r, "flagged", &flagged)
            || !json_object_is_type(flagged, json_type_boolean)) {
            *why = "a result has no boolean flagged";
            return GF_MODERATION_BAD;
        }
        cats = json_object_object_get_ex(r, "categories", &cats) ? cats : NULL;
        if (by_category) {
            const char *t = true_categories(p, cats, categories);
            if (t) {
                any = 1;
                hit = hit ? apr_pstrcat(p, hit, ",", t, NULL) : t;
            }
        }
        else if (json_object_get_boolean(flagged)) {
            const char *t = true_categories(p, cats, NULL);
            any = 1;
            hit = hit ? apr_pstrcat(p, hit, ",", t ? t : "flagged", NULL) : (t ? t : "flagged");
        }
    }
    *why = hit;
    return any ? GF_MODERATION_FLAGGED : GF_MODERATION_ALLOWED;
}

int gf_policy_user_texts(const gf_input_t *in, const char *texts[2])
{
    int n = 0;
    if (in->prompt && *in->prompt) texts[n++] = in->prompt;
    if (in->custom_prompt && *in->custom_prompt) texts[n++] = in->custom_prompt;
    return n;
}

int gf_policy_deny_texts(apr_pool_t *p, const gf_policy_list_t *l, const char *const *texts,
                         int n, int *line)
{
    int i, hit = 0;

    for (i = 0; i < n && !hit; i++) {
        const char *normal = gf_policy_normalise(p, texts[i], strlen(texts[i]));
        if (!normal) return -1;
        hit = gf_policy_list_match(l, normal, line);
    }
    return hit;
}

const char *gf_policy_moderation_request(apr_pool_t *p, const char *const *texts, int n,
                                         const char *const *pictures, int npics,
                                         const char *model)
{
    const char *text = n >= 2 ? apr_pstrcat(p, texts[0], "\n", texts[1], NULL)
                              : n ? texts[0] : NULL;
    return npics > 0 ? gf_policy_moderation_parts(p, text, pictures, npics, model)
                     : gf_policy_moderation_body(p, text, model);
}
