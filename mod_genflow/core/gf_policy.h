/* SPDX-License-Identifier: Apache-2.0 */
/* gf_policy.h: the site's content policy for prompts (GenFlowPromptPolicy),
 * without httpd: the normal form prompts and deny lists are compared in,
 * the deny list itself, and the moderation endpoint's request and answer
 * (OpenAI's moderation API shape).
 *
 * The normal form (gf_policy_normalise) is what a word filter must see so
 * that spelling tricks do not pass it:
 *  - Unicode compatibility decomposition with case folding (libunistring's
 *    u8_casefold, NFKD): "ＮＳＦＷ" (full width), "𝐍𝐒𝐅𝐖" (mathematical
 *    letters) and "NSFW" all become "nsfw"; ligatures come apart ("ﬁ" is
 *    "fi");
 *  - marks (Mn, Me), format characters (Cf: zero-width spaces and
 *    joiners, soft hyphens, bidirectional controls) and every other
 *    default-ignorable code point (the Hangul fillers, letters that show
 *    as nothing) are dropped, so "nsfẁ", "ns\u200Bfw" and "ns\u3164fw"
 *    are "nsfw";
 *  - words are the runs of letters, digits and spacing marks (Mc: the
 *    vowel signs of Indic scripts); everything else separates them, and
 *    the normal form is the words with one space between;
 *  - a run of two or more one-letter words is one word: "n.s.f.w",
 *    "n s f w" and "n-s-f-w" are "nsfw". The run takes every one-letter
 *    word in it ("a n.s.f.w" is "ansfw"), and a word cut into pieces of
 *    two letters or more stays cut ("ns.fw" is "ns fw"): a site that
 *    cares lists the phrase or a pattern.
 * Entries of the deny list are put in the same form when it is read, so
 * an entry matches however either side was written. Word and phrase
 * entries are then compared by their confusable skeleton (UTS #39, ICU's
 * spoof checker) on both sides: look-alike letters of other scripts
 * ("nѕfw" with a Cyrillic dze) and digits that pass for letters ("he11")
 * match; so do "rn" and "m". Patterns see the normal form itself.
 */
#ifndef GF_POLICY_H
#define GF_POLICY_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "core/gf_input.h"

/* The largest deny list file read, and the most entries it may hold. */
#define GF_POLICY_LIST_MAX_BYTES (4 * 1024 * 1024)
#define GF_POLICY_LIST_MAX_ENTRIES 100000

/* The normal form of len bytes of valid UTF-8 (NULs are separators):
 * words of folded letters and digits, one space between, none at either
 * end ("" for text without a word). NULL when text is not valid UTF-8. */
const char *gf_policy_normalise(apr_pool_t *p, const char *text, apr_size_t len);

typedef struct gf_policy_list gf_policy_list_t;

/* A deny list from a file's text (a leading byte order mark skipped): one
 * entry a line, blanks around it trimmed; blank lines and lines whose
 * first non-blank character is '#' are skipped (a '#' later in a line is
 * part of the entry);
 *   word or several words   matches those words, whole, in that order
 *                           (in the normal form: "Bad  Word" is "bad word")
 *   re:PATTERN              a POSIX extended regular expression, searched
 *                           in the normal form (lower case, one space
 *                           between words, none at either end: a word's
 *                           end is "( |$)")
 * NULL and *err ("line N: …") when a line is not valid UTF-8, has no word,
 * or its pattern does not compile; also over GF_POLICY_LIST_MAX_ENTRIES. */
gf_policy_list_t *gf_policy_list_parse(apr_pool_t *p, const char *text, apr_size_t len,
                                       const char **err);

/* Entries the list holds. */
int gf_policy_list_size(const gf_policy_list_t *l);

/* Does the normal form (gf_policy_normalise) hold an entry of l? The line
 * of the first entry found goes to *line (for the site's log; the user is
 * never told which). 0 when none matches. */
int gf_policy_list_match(const gf_policy_list_t *l, const char *normal, int *line);

/* The user's own texts of a create, into texts: its prompt and
 * customPrompt when not empty (the site's templates and presets are the
 * site's, not judged). Returns how many. */
int gf_policy_user_texts(const gf_input_t *in, const char *texts[2]);

/* Does the deny list hold a word of one of the n texts, each in its own
 * normal form (a pattern's ^ is the start of each)? 1 (the entry's line in
 * *line), 0, or -1 when a normal form could not be made (no memory: the
 * texts are valid UTF-8 by then). */
int gf_policy_deny_texts(apr_pool_t *p, const gf_policy_list_t *l, const char *const *texts,
                         int n, int *line);

/* ---- the moderation endpoint (OpenAI's moderation API shape) ---- */

/* The body of POST {moderation URL}: {"input": input} and "model" when
 * model is not NULL. */
const char *gf_policy_moderation_body(apr_pool_t *p, const char *input, const char *model);
/* The same with pictures, in the multi-modal shape of OpenAI's
 * omni-moderation models: input [{type: text, text} (when text is not
 * NULL), {type: image_url, image_url: {url}} for each of urls (data:
 * URLs, or https)]. */
const char *gf_policy_moderation_parts(apr_pool_t *p, const char *text,
                                       const char *const *urls, int n, const char *model);

/* The one call that judges the n user texts (one a line; NULL for none)
 * and the npics pictures: its body, with pictures in the multi-modal
 * shape. */
const char *gf_policy_moderation_request(apr_pool_t *p, const char *const *texts, int n,
                                         const char *const *pictures, int npics,
                                         const char *model);

typedef enum {
    GF_MODERATION_ALLOWED = 0,   /* no result flagged */
    GF_MODERATION_FLAGGED,       /* a result flagged (in one of the categories asked) */
    GF_MODERATION_BAD            /* not an answer of that shape */
} gf_moderation_t;

/* Read a 200 answer {"results": [{"flagged": bool, "categories": {name:
 * bool, …}}, …]}. categories (const char *), or NULL for all: only a result
 * with one of these categories true refuses. *why: the categories found
 * true (for the site's log), or what is wrong with the answer. */
gf_moderation_t gf_policy_moderation_read(apr_pool_t *p, const char *body, apr_size_t len,
                                          const apr_array_header_t *categories,
                                          const char **why);

#endif
