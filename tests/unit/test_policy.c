/* SPDX-License-Identifier: Apache-2.0 */
/* test_policy.c: the content policy's normal form, deny list and
 * moderation answers (core/gf_policy.h). */
#include <string.h>

#include "test_core.h"
#include "core/gf_policy.h"

static const char *norm(const char *s)
{
    const char *n = gf_policy_normalise(test_pool, s, strlen(s));
    ck_assert_ptr_nonnull(n);
    return n;
}

START_TEST(normal_form_folds_what_spelling_tricks_change)
{
    ck_assert_str_eq(norm("NSFW"), "nsfw");
    ck_assert_str_eq(norm("\xef\xbc\xae\xef\xbc\xb3\xef\xbc\xa6\xef\xbc\xb7"), "nsfw"); /* ＮＳＦＷ */
    ck_assert_str_eq(norm("\xf0\x9d\x90\x8d\xf0\x9d\x90\x92\xf0\x9d\x90\x85\xf0\x9d\x90\x96"),
                     "nsfw");                                  /* 𝐍𝐒𝐅𝐖 */
    ck_assert_str_eq(norm("n.s.f.w"), "nsfw");
    ck_assert_str_eq(norm("n s f w"), "nsfw");
    ck_assert_str_eq(norm("N-S-F-W!"), "nsfw");
    ck_assert_str_eq(norm("ns\xe2\x80\x8b" "fw"), "nsfw");     /* zero-width space inside */
    ck_assert_str_eq(norm("nsf\xc2\xad" "w"), "nsfw");         /* soft hyphen */
    ck_assert_str_eq(norm("nsfw\xcc\x80"), "nsfw");            /* combining grave */
    ck_assert_str_eq(norm("Caf\xc3\xa9"), "cafe");             /* é decomposed, mark dropped */
    ck_assert_str_eq(norm("\xef\xac\x81ne"), "fine");          /* ﬁ ligature */
    ck_assert_str_eq(norm("STRASSE stra\xc3\x9f" "e"), "strasse strasse");
}
END_TEST

START_TEST(normal_form_keeps_words_apart)
{
    ck_assert_str_eq(norm("  A cat,  on the\tmat. "), "a cat on the mat");
    ck_assert_str_eq(norm("i am a cat"), "i am a cat");        /* lone letters stay */
    ck_assert_str_eq(norm("x y z and a b"), "xyz and ab");
    ck_assert_str_eq(norm(""), "");
    ck_assert_str_eq(norm("!!! ..."), "");
    ck_assert_str_eq(norm("a"), "a");
    ck_assert_str_eq(norm("r2d2 c-3po"), "r2d2 c 3po");
    /* Hindi: the vowel sign (Mc) stays in its word: kaam is not kam. */
    ck_assert_str_eq(norm("\xe0\xa4\x95\xe0\xa4\xbe\xe0\xa4\xae"), "\xe0\xa4\x95\xe0\xa4\xbe\xe0\xa4\xae");
    ck_assert_ptr_null(gf_policy_normalise(test_pool, "\xff", 1));
    ck_assert_ptr_null(gf_policy_normalise(test_pool, "\xed\xa0\x80", 3));
}
END_TEST

static gf_policy_list_t *list(const char *text);
static int denies(const gf_policy_list_t *l, const char *prompt, int *line);

START_TEST(normal_form_drops_every_default_ignorable)
{
    /* Letters (Lo) that show as nothing: the Hangul fillers. */
    ck_assert_str_eq(norm("ns\xe3\x85\xa4" "fw"), "nsfw");     /* U+3164 HANGUL FILLER */
    ck_assert_str_eq(norm("ns\xe1\x85\x9f" "fw"), "nsfw");     /* U+115F CHOSEONG FILLER */
    ck_assert_str_eq(norm("ns\xe1\x85\xa0" "fw"), "nsfw");     /* U+1160 JUNGSEONG FILLER */
    ck_assert_str_eq(norm("ns\xef\xbe\xa0" "fw"), "nsfw");     /* U+FFA0 HALFWIDTH FILLER */
    /* Marks and format characters that are default-ignorable too. */
    ck_assert_str_eq(norm("ns\xcd\x8f" "fw"), "nsfw");         /* U+034F GRAPHEME JOINER */
    ck_assert_str_eq(norm("ns\xe1\xa0\x8e" "fw"), "nsfw");     /* U+180E MONGOLIAN VOWEL SEP. */
    ck_assert_str_eq(norm("ns\xe2\x81\xa4" "fw"), "nsfw");     /* U+2064 INVISIBLE PLUS */
    ck_assert_str_eq(norm("ns\xf3\xa0\x80\x81" "fw"), "nsfw"); /* U+E0001 LANGUAGE TAG */
    ck_assert_str_eq(norm("ns\xe1\x9e\xb4" "fw"), "nsfw");     /* U+17B4 KHMER VOWEL AQ */
    ck_assert_str_eq(norm("\xe3\x85\xa4 \xe1\x85\x9f"), "");   /* fillers alone: no word */
}
END_TEST

START_TEST(normal_form_splits_words_as_documented)
{
    /* A run of one-letter words is one word, with the one-letter words
     * beside it ("a" included), and a word cut by punctuation into longer
     * pieces stays cut: the docs (gf_policy.h, docs/security.md) say so
     * and name the entries that catch them. */
    gf_policy_list_t *l = list("nsfw\nns fw\n");
    int line = 0;
    ck_assert_str_eq(norm("a n.s.f.w"), "ansfw");
    ck_assert_str_eq(norm("ns.fw"), "ns fw");
    ck_assert(!denies(list("nsfw\n"), "a n.s.f.w", NULL));
    ck_assert(!denies(list("nsfw\n"), "ns.fw", NULL));
    ck_assert(denies(l, "ns.fw", &line));                      /* the phrase entry */
    ck_assert_int_eq(line, 2);
    ck_assert(denies(list("re:(^| )a?nsfw( |$)\n"), "a n.s.f.w", NULL));
}
END_TEST

START_TEST(deny_list_matches_look_alikes_by_skeleton)
{
    /* UTS #39's confusable skeleton (ICU's spoof checker), on both the
     * entries and the prompt: look-alike letters of other scripts, and
     * digits that pass for letters. */
    gf_policy_list_t *l = list("nsfw\nbad word\nhell\nn\xd0\xb0ked\nre:^plain$\n");
    int line = 0;
    ck_assert(denies(l, "n\xd1\x95" "fw", &line));              /* Cyrillic dze */
    ck_assert_int_eq(line, 1);
    ck_assert(denies(l, "N\xd0\x85" "FW", NULL));               /* its capital, folded */
    ck_assert(denies(l, "\xd5\xb8sfw", NULL));                  /* Armenian vo */
    ck_assert(denies(l, "so b\xd0\xb0" "d word", &line));       /* Cyrillic a, in a phrase */
    ck_assert_int_eq(line, 2);
    ck_assert(denies(l, "he11", &line));                        /* digits one */
    ck_assert_int_eq(line, 3);
    ck_assert(denies(l, "naked", &line));                       /* an entry in Cyrillic */
    ck_assert_int_eq(line, 4);
    ck_assert(!denies(l, "nsfa", NULL));
    ck_assert(!denies(l, "bad words", NULL));
    /* Patterns see the normal form, not the skeleton. */
    ck_assert(denies(l, "plain", NULL));
    ck_assert(!denies(l, "p1ain", NULL));
    /* The skeleton's own equivalences hold for entries too: "rn" is "m". */
    ck_assert(denies(list("corn\n"), "com", NULL));
}
END_TEST

static gf_policy_list_t *list(const char *text)
{
    const char *err = NULL;
    gf_policy_list_t *l = gf_policy_list_parse(test_pool, text, strlen(text), &err);
    ck_assert_msg(l != NULL, "parse: %s", err ? err : "?");
    return l;
}

static int denies(const gf_policy_list_t *l, const char *prompt, int *line)
{
    return gf_policy_list_match(l, norm(prompt), line);
}

START_TEST(deny_list_matches_words_phrases_and_patterns)
{
    gf_policy_list_t *l = list("\xef\xbb\xbf# a comment after a byte order mark\n\nNSFW\n  bad   Word \n"
                                "re:^(kill|hurt)( |$)\nre:go+r+e\nzebra # not a comment\n");
    int line = 0;
    ck_assert_int_eq(gf_policy_list_size(l), 5);
    ck_assert(denies(l, "a ＮＳＦＷ picture", &line));
    ck_assert_int_eq(line, 3);
    ck_assert(denies(l, "n.s.f.w", NULL));
    ck_assert(denies(l, "such a BAD, word!", &line));
    ck_assert_int_eq(line, 4);
    ck_assert(denies(l, "Kill the lights", &line));
    ck_assert_int_eq(line, 5);
    ck_assert(denies(l, "goooorrre", &line));
    ck_assert_int_eq(line, 6);
    ck_assert(!denies(l, "a nsfwish picture", NULL));          /* whole words only */
    ck_assert(!denies(l, "badword", NULL));
    ck_assert(!denies(l, "word bad", NULL));
    ck_assert(!denies(l, "skill the lights", NULL));
    ck_assert(!denies(l, "killer whale", NULL));               /* ( |$): the word's end */
    ck_assert(denies(l, "hurt", &line));
    ck_assert(denies(l, "a zebra, not a comment", &line));     /* '#' inside a line is text */
    ck_assert_int_eq(line, 7);
    ck_assert(!denies(l, "a zebra", NULL));
    ck_assert(!denies(l, "a cat on a mat", NULL));
}
END_TEST

START_TEST(deny_list_refuses_what_it_cannot_use)
{
    const char *err = NULL;
    ck_assert_ptr_null(gf_policy_list_parse(test_pool, "ok\n...\n", 7, &err));
    ck_assert_str_eq(err, "line 2: no letter or digit to match");
    ck_assert_ptr_null(gf_policy_list_parse(test_pool, "ok\nre:(\n", 8, &err));
    ck_assert(strncmp(err, "line 2: the pattern does not compile", 36) == 0);
    ck_assert_ptr_null(gf_policy_list_parse(test_pool, "\xff\n", 2, &err));
    ck_assert_str_eq(err, "line 1: not valid UTF-8 text");
    ck_assert_ptr_null(gf_policy_list_parse(test_pool, "a\0b\n", 4, &err));
    ck_assert_int_eq(gf_policy_list_size(list("")), 0);
    ck_assert(!gf_policy_list_match(NULL, "x", NULL));
}
END_TEST

START_TEST(moderation_answers_in_openai_shape)
{
    const char *why;
    apr_array_header_t *cats = apr_array_make(test_pool, 1, sizeof(const char *));
    const char *flagged = "{\"id\":\"modr-1\",\"model\":\"omni-moderation-latest\",\"results\":"
                          "[{\"flagged\":true,\"categories\":{\"violence\":true,\"sexual\":false},"
                          "\"category_scores\":{\"violence\":0.9}}]}";
    const char *clean = "{\"results\":[{\"flagged\":false,\"categories\":{\"violence\":false}}]}";

    ck_assert_int_eq(gf_policy_moderation_read(test_pool, flagged, strlen(flagged), NULL, &why),
                     GF_MODERATION_FLAGGED);
    ck_assert_str_eq(why, "violence");
    ck_assert_int_eq(gf_policy_moderation_read(test_pool, clean, strlen(clean), NULL, &why),
                     GF_MODERATION_ALLOWED);
    APR_ARRAY_PUSH(cats, const char *) = "sexual";
    ck_assert_int_eq(gf_policy_moderation_read(test_pool, flagged, strlen(flagged), cats, &why),
                     GF_MODERATION_ALLOWED);                   /* only the categories asked */
    ck_assert_int_eq(gf_policy_moderation_read(test_pool, "nope", 4, NULL, &why),
                     GF_MODERATION_BAD);
    ck_assert_int_eq(gf_policy_moderation_read(test_pool, "{\"results\":[]}", 14, NULL, &why),
                     GF_MODERATION_BAD);
    ck_assert_int_eq(gf_policy_moderation_read(test_pool, "{\"results\":[{\"flagged\":\"yes\"}]}",
                                               31, NULL, &why), GF_MODERATION_BAD);
    ck_assert_str_eq(gf_policy_moderation_body(test_pool, "a \"cat\"", NULL),
                     "{\"input\":\"a \\\"cat\\\"\"}");
    ck_assert_str_eq(gf_policy_moderation_body(test_pool, "x", "m"),
                     "{\"input\":\"x\",\"model\":\"m\"}");
}
END_TEST

/* Pictures go as omni-moderation's parts, after the text. */
START_TEST(moderation_parts_carry_pictures)
{
    static const char *const urls[] = { "data:image/jpeg;base64,AAA=", "https://a.example/b.png" };
    ck_assert_str_eq(gf_policy_moderation_parts(test_pool, "a cat", urls, 2, "omni-moderation-latest"),
                     "{\"input\":[{\"type\":\"text\",\"text\":\"a cat\"},"
                     "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/jpeg;base64,AAA=\"}},"
                     "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://a.example/b.png\"}}],"
                     "\"model\":\"omni-moderation-latest\"}");
    /* No text: the pictures alone. */
    ck_assert_str_eq(gf_policy_moderation_parts(test_pool, NULL, urls + 1, 1, NULL),
                     "{\"input\":[{\"type\":\"image_url\",\"image_url\":"
                     "{\"url\":\"https://a.example/b.png\"}}]}");
}
END_TEST

START_TEST(user_texts_are_judged_together)
{
    static const char list[] = "bad word\n# two\nre:^evil";
    const char *err = NULL, *texts[2];
    const gf_policy_list_t *l = gf_policy_list_parse(test_pool, list, strlen(list), &err);
    const char *pics[1] = { "https://a.example/b.png" };
    gf_input_t in;
    int line = 0;

    ck_assert_ptr_nonnull(l);
    memset(&in, 0, sizeof(in));
    ck_assert_int_eq(gf_policy_user_texts(&in, texts), 0);
    in.prompt = "";
    in.custom_prompt = "a cat";
    ck_assert_int_eq(gf_policy_user_texts(&in, texts), 1);
    ck_assert_str_eq(texts[0], "a cat");
    in.prompt = "Evil cat";
    ck_assert_int_eq(gf_policy_user_texts(&in, texts), 2);
    ck_assert_str_eq(texts[0], "Evil cat");
    /* Each text in its own normal form: the pattern's ^ is the start of
     * the second as well, and the line is the entry's. */
    ck_assert_int_eq(gf_policy_deny_texts(test_pool, l, texts, 2, &line), 1);
    ck_assert_int_eq(line, 3);
    texts[0] = "a cat";
    texts[1] = "an EVIL cat";
    ck_assert_int_eq(gf_policy_deny_texts(test_pool, l, texts, 2, &line), 0);
    texts[1] = "BAD  word";
    ck_assert_int_eq(gf_policy_deny_texts(test_pool, l, texts, 2, &line), 1);
    ck_assert_int_eq(line, 1);
    ck_assert_int_eq(gf_policy_deny_texts(test_pool, l, texts, 1, &line), 0);
    texts[0] = "\xff";
    ck_assert_int_eq(gf_policy_deny_texts(test_pool, l, texts, 1, &line), -1);

    /* One call: the texts one a line, the pictures in the parts' shape. */
    texts[0] = "a";
    texts[1] = "b";
    ck_assert_str_eq(gf_policy_moderation_request(test_pool, texts, 2, NULL, 0, NULL),
                     "{\"input\":\"a\\nb\"}");
    ck_assert_str_eq(gf_policy_moderation_request(test_pool, texts, 1, NULL, 0, "m"),
                     gf_policy_moderation_body(test_pool, "a", "m"));
    ck_assert_str_eq(gf_policy_moderation_request(test_pool, texts, 0, pics, 1, NULL),
                     gf_policy_moderation_parts(test_pool, NULL, pics, 1, NULL));
    ck_assert_str_eq(gf_policy_moderation_request(test_pool, texts, 2, pics, 1, NULL),
                     gf_policy_moderation_parts(test_pool, "a\nb", pics, 1, NULL));
}
END_TEST

Suite *policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("policy");
    tcase_add_test(tc, normal_form_folds_what_spelling_tricks_change);
    tcase_add_test(tc, normal_form_drops_every_default_ignorable);
    tcase_add_test(tc, normal_form_splits_words_as_documented);
    tcase_add_test(tc, deny_list_matches_look_alikes_by_skeleton);
    tcase_add_test(tc, normal_form_keeps_words_apart);
    tcase_add_test(tc, deny_list_matches_words_phrases_and_patterns);
    tcase_add_test(tc, deny_list_refuses_what_it_cannot_use);
    tcase_add_test(tc, moderation_answers_in_openai_shape);
    tcase_add_test(tc, moderation_parts_carry_pictures);
    tcase_add_test(tc, user_texts_are_judged_together);
    suite_add_tcase(s, tc);
    return s;
}
