/* SPDX-License-Identifier: Apache-2.0 */
/* test_chain_spec.c: GenFlowProviders' words made into chain entries, and
 * the plain rules of the site chains' startup checks (gf_chain_spec.c). */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "test_core.h"
#include "core/gf_chain_spec.h"
#include "core/gf_input.h"

#define ENTRY(a, i) APR_ARRAY_IDX((a), (i), const char *)

START_TEST(split_entries)
{
    apr_array_header_t *e;
    char *arrows[] = { "stability", "->", "aiml:flux", "\xe2\x86\x92", "local" };
    char *group[] = { "{fal", "replicate:m=2}@latency", "->", "local" };
    char *one_word_group[] = { "{fal replicate}@cost" };
    char *open_group[] = { "a", "{fal", "replicate" };
    char *only_arrows[] = { "->", "\xe2\x86\x92" };

    ck_assert_ptr_null(gf_chain_spec_split(test_pool, 5, arrows, &e));
    ck_assert_int_eq(e->nelts, 3);
    ck_assert_str_eq(ENTRY(e, 0), "stability");
    ck_assert_str_eq(ENTRY(e, 1), "aiml:flux");
    ck_assert_str_eq(ENTRY(e, 2), "local");
    ck_assert_ptr_null(gf_chain_spec_split(test_pool, 4, group, &e));
    ck_assert_int_eq(e->nelts, 2);
    ck_assert_str_eq(ENTRY(e, 0), "{fal replicate:m=2}@latency");
    ck_assert_str_eq(ENTRY(e, 1), "local");
    ck_assert_ptr_null(gf_chain_spec_split(test_pool, 1, one_word_group, &e));
    ck_assert_str_eq(ENTRY(e, 0), "{fal replicate}@cost");
    /* A group never closed takes the words to the end (the entry's parser
     * refuses it). */
    ck_assert_ptr_null(gf_chain_spec_split(test_pool, 3, open_group, &e));
    ck_assert_int_eq(e->nelts, 2);
    ck_assert_str_eq(ENTRY(e, 1), "{fal replicate");
    ck_assert_str_eq(gf_chain_spec_split(test_pool, 2, only_arrows, &e),
                     "needs at least one provider");
    ck_assert_str_eq(gf_chain_spec_split(test_pool, 0, only_arrows, &e),
                     "needs at least one provider");
}
END_TEST

START_TEST(word_names_provider)
{
    ck_assert(gf_chain_spec_names("fal", "fal"));
    ck_assert(gf_chain_spec_names("fal:flux", "fal"));
    ck_assert(gf_chain_spec_names("{fal", "fal"));
    ck_assert(gf_chain_spec_names("fal=2}@cost", "fal"));
    ck_assert(gf_chain_spec_names("fal}@cost", "fal"));
    ck_assert(!gf_chain_spec_names("falx", "fal"));
    ck_assert(!gf_chain_spec_names("fa", "fal"));
    ck_assert(!gf_chain_spec_names("->", "fal"));
    ck_assert(!gf_chain_spec_names("{{fal", "fal"));
}
END_TEST

START_TEST(unmerged_sections)
{
    ck_assert(gf_chain_spec_unmerged("<Directory"));
    ck_assert(gf_chain_spec_unmerged("<directorymatch"));
    ck_assert(gf_chain_spec_unmerged("<Files"));
    ck_assert(gf_chain_spec_unmerged("<FilesMatch"));
    ck_assert(gf_chain_spec_unmerged("<Proxy"));
    ck_assert(gf_chain_spec_unmerged("<ProxyMatch"));
    ck_assert(!gf_chain_spec_unmerged("<Location"));
    ck_assert(!gf_chain_spec_unmerged("<LocationMatch"));
    ck_assert(!gf_chain_spec_unmerged("<VirtualHost"));
    ck_assert(!gf_chain_spec_unmerged("<If"));
}
END_TEST

START_TEST(edits_refusal)
{
    ck_assert_ptr_null(gf_chain_spec_edits_refusal(test_pool, 0, 0, 0, 4));
    ck_assert_ptr_null(gf_chain_spec_edits_refusal(test_pool, GF_ACCEPT_MASK, 1, 0, 4));
    ck_assert_str_eq(gf_chain_spec_edits_refusal(test_pool, GF_ACCEPT_MASK, 0, 8, 4),
                     "takes no mask");
    /* The mask is named first when both fail. */
    ck_assert_str_eq(gf_chain_spec_edits_refusal(test_pool, GF_ACCEPT_MASK | GF_ACCEPT_REFERENCES,
                                                 0, 0, 4), "takes no mask");
    ck_assert_ptr_null(gf_chain_spec_edits_refusal(test_pool, GF_ACCEPT_REFERENCES, 0, 4, 4));
    ck_assert_str_eq(gf_chain_spec_edits_refusal(test_pool, GF_ACCEPT_REFERENCES, 1, 3, 4),
                     "takes 3 reference pictures at most, and GenFlowMaxReferences is 4");
    ck_assert_ptr_null(gf_chain_spec_edits_refusal(test_pool, GF_ACCEPT_MASK, 1, 0, 9));
}
END_TEST

START_TEST(row_paths)
{
    apr_array_header_t *u = gf_chain_spec_row_paths(test_pool, "/gen/anime/");

    ck_assert_int_eq(u->nelts, 4);
    ck_assert_str_eq(ENTRY(u, 0), "/gen/anime");
    ck_assert_str_eq(ENTRY(u, 1), "/gen/anime/create");
    ck_assert_str_eq(ENTRY(u, 2), "/gen/anime/generate");
    ck_assert_str_eq(ENTRY(u, 3), "/gen/anime/retry/" GF_CHAIN_SPEC_PROBE_ID);
    u = gf_chain_spec_row_paths(test_pool, "/gen/anime");
    ck_assert_str_eq(ENTRY(u, 1), "/gen/anime/create");
    u = gf_chain_spec_row_paths(test_pool, "/");
    ck_assert_str_eq(ENTRY(u, 0), "/");
    ck_assert_str_eq(ENTRY(u, 2), "//generate");
    u = gf_chain_spec_row_paths(test_pool, "/a//");
    ck_assert_str_eq(ENTRY(u, 1), "/a//create");
}
END_TEST

START_TEST(edits_widen)
{
    gf_chain_edits_t own, e;

    gf_chain_spec_edits_start(&own);
    ck_assert_uint_eq(own.accepts, 0);
    ck_assert_int_eq(own.max_refs, GF_REFERENCES_DEFAULT_MAX);
    e.accepts = GF_ACCEPT_MASK;
    e.max_refs = 2;
    gf_chain_spec_edits_widen(&own, &e);
    ck_assert_uint_eq(own.accepts, GF_ACCEPT_MASK);
    ck_assert_int_eq(own.max_refs, GF_REFERENCES_DEFAULT_MAX);   /* never narrowed */
    e.accepts = GF_ACCEPT_REFERENCES;
    e.max_refs = 9;
    gf_chain_spec_edits_widen(&own, &e);
    ck_assert_uint_eq(own.accepts, GF_ACCEPT_MASK | GF_ACCEPT_REFERENCES);
    ck_assert_int_eq(own.max_refs, 9);
}
END_TEST

START_TEST(names_set)
{
    apr_hash_t *set = apr_hash_make(test_pool);

    gf_chain_spec_name_in(set, "fal", GF_CHAIN_NAMED);
    ck_assert_ptr_eq(apr_hash_get(set, "fal", APR_HASH_KEY_STRING), GF_CHAIN_NAMED);
    /* A member stays one, whatever names it later. */
    gf_chain_spec_name_in(set, "fal", GF_CHAIN_MEMBER);
    ck_assert_ptr_eq(apr_hash_get(set, "fal", APR_HASH_KEY_STRING), GF_CHAIN_MEMBER);
    gf_chain_spec_name_in(set, "fal", GF_CHAIN_NAMED);
    ck_assert_ptr_eq(apr_hash_get(set, "fal", APR_HASH_KEY_STRING), GF_CHAIN_MEMBER);
    gf_chain_spec_name_in(set, "local", GF_CHAIN_NAMED);
    ck_assert_int_eq((int)apr_hash_count(set), 2);
}
END_TEST

Suite *chain_spec_suite(void)
{
    Suite *s = suite_create("chain_spec");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, split_entries);
    tcase_add_test(tc, word_names_provider);
    tcase_add_test(tc, unmerged_sections);
    tcase_add_test(tc, edits_refusal);
    tcase_add_test(tc, row_paths);
    tcase_add_test(tc, edits_widen);
    tcase_add_test(tc, names_set);
    suite_add_tcase(s, tc);
    return s;
}
