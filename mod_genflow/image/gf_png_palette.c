/* SPDX-License-Identifier: Apache-2.0 */
/* gf_png_palette.c: the colours a look takes from words (see
 * gf_png_private.h): emotion-mask's mood from the words of its prompt,
 * the presets' tone from the preset's key, and a colour of its own for
 * any other text, all pure functions of the text.
 */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_sha1.h>

#include "image/gf_png_private.h"

/* Does a word of lower (lowercase text) begin with one of words? At the
 * start of a word only: "rage" is not in "storage", "zen" not in "frozen". */
static int has_word(const char *lower, const char *const *words)
{
    for (; *words; words++) {
        const char *at = lower;
        while ((at = strstr(at, *words)) != NULL) {
            if (at == lower || !apr_isalpha(at[-1])) return 1;
            at++;
        }
    }
    return 0;
}

/* The most saturated colour of c's hue: its smallest channel to 0, its
 * largest to 255 (grey becomes a mid grey). */
rgb_t gf_png_saturate(rgb_t c)
{
    unsigned lo = c.r, hi = c.r;
    rgb_t o;
    if (c.g < lo) lo = c.g;
    if (c.b < lo) lo = c.b;
    if (c.g > hi) hi = c.g;
    if (c.b > hi) hi = c.b;
    if (hi == lo) {
        o.r = o.g = o.b = 160;
        return o;
    }
    o.r = (unsigned char)((c.r - lo) * 255 / (hi - lo));
    o.g = (unsigned char)((c.g - lo) * 255 / (hi - lo));
    o.b = (unsigned char)((c.b - lo) * 255 / (hi - lo));
    return o;
}

/* A saturated colour from the SHA-1 of text: the same text, the same colour. */
rgb_t gf_png_hash_color(const char *text)
{
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t ctx;
    rgb_t c;

    apr_sha1_init(&ctx);
    apr_sha1_update(&ctx, text, (unsigned)strlen(text));
    apr_sha1_final(digest, &ctx);
    c.r = digest[0];
    c.g = digest[1];
    c.b = digest[2];
    return gf_png_saturate(c);
}

static rgb_t rgb(unsigned char r, unsigned char g, unsigned char b)
{
    rgb_t c;
    c.r = r;
    c.g = g;
    c.b = b;
    return c;
}

/* emotion-mask's colour: the mood its words name, else one of its own. */
rgb_t gf_png_mood_color(apr_pool_t *p, const char *prompt, const char *preset)
{
    static const char *const joy[] = { "happy", "joy", "smil", "laugh", "delight", "cheer",
                                       NULL };
    static const char *const sad[] = { "sad", "crying", "cries", "tear", "lonely", "melanchol",
                                       "grief", "sorrow", NULL };
    static const char *const anger[] = { "angry", "anger", "rage", "furious", "hate", "fury",
                                         NULL };
    static const char *const love[] = { "love", "heart", "romantic", "kiss", NULL };
    static const char *const fear[] = { "fear", "scared", "afraid", "horror", "spooky",
                                        "terrif", "terror", NULL };
    static const char *const calm[] = { "calm", "peace", "seren", "relax", "zen", "tranquil",
                                        NULL };
    static const char *const surprise[] = { "surpris", "shock", "wow", "amazed", "astonish",
                                            NULL };
    char *text = apr_pstrcat(p, prompt, " ", preset ? preset : "", NULL), *s;

    for (s = text; *s; s++) {
        *s = (char)apr_tolower(*s);
    }
    if (has_word(text, joy)) return rgb(255, 205, 40);
    if (has_word(text, sad)) return rgb(60, 120, 255);
    if (has_word(text, anger)) return rgb(255, 40, 30);
    if (has_word(text, love)) return rgb(255, 80, 170);
    if (has_word(text, fear)) return rgb(150, 60, 255);
    if (has_word(text, calm)) return rgb(40, 220, 180);
    if (has_word(text, surprise)) return rgb(255, 140, 20);
    return gf_png_hash_color(text);
}

/* presets: the tone the preset's key names, else a tint of its own colour. */
tone_t gf_png_preset_tone(apr_pool_t *p, const char *preset)
{
    char *key = apr_pstrdup(p, preset ? preset : ""), *s;

    for (s = key; *s; s++) {
        *s = (char)apr_tolower(*s);
    }
    if (strstr(key, "noir")) return TONE_NOIR;
    if (strstr(key, "sepia") || strstr(key, "vintage")) return TONE_SEPIA;
    if (strstr(key, "neon")) return TONE_NEON;
    return TONE_TINT;
}
