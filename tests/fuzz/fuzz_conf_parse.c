/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_conf_parse: the directives' values (gf_conf_parse.c) and
 * GenFlowProviders' words (gf_chain_spec.c), one directive a line, its
 * words split at blanks:
 *   origins W …           gf_conf_parse_origins
 *   events W              gf_conf_parse_events_base
 *   admins W …            gf_conf_parse_admins
 *   type NAME [TABLE]     gf_conf_type_table, gf_conf_type_clash with the
 *                         last type accepted
 *   priority N            gf_conf_parse_priority
 *   setting V MIN MAX U   gf_conf_parse_setting
 *   require W … / accept W …   gf_conf_parse_needs, gf_conf_parse_accepts
 *   policy K=V …          gf_conf_key_value, gf_conf_policy_option,
 *                         gf_conf_policy_whole (the file and environment
 *                         options are the handler's: not read here)
 *   chain W …             gf_chain_spec_split, gf_chain_spec_names
 * Properties: every error is a non-empty message; an accepted origin is
 * "scheme://host:port" with a port; an events base keeps no trailing '/';
 * an accepted table is a valid one of at most GF_SQL_TABLE_MAX bytes, and
 * a type clashes with itself only by being the same; a priority is within
 * -1000..1000 and a setting within MIN..MAX; GenFlowRequire and
 * GenFlowAccept give only their bits; a chain's entries are no arrows, at
 * most one per word, a group's one whole, and each entry's first provider
 * is named by the entry itself. */
#include <stdlib.h>
#include <string.h>
#include "fuzz_common.h"
#include "core/gf_chain_spec.h"
#include "core/gf_conf_parse.h"
#include "core/gf_input.h"
#include "core/gf_sql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *last_name, *last_table;

static void check_err(const char *err)
{
    FUZZ_CHECK(err == NULL || *err);
}

static void origins(apr_pool_t *p, int argc, char **argv)
{
    apr_array_header_t *out = NULL;
    const char *err = gf_conf_parse_origins(p, argc, argv, &out);
    int i;

    check_err(err);
    if (err) return;
    FUZZ_CHECK(out && out->nelts <= argc);
    for (i = 0; i < out->nelts; i++) {
        const char *o = APR_ARRAY_IDX(out, i, const char *), *colon;
        FUZZ_CHECK(strstr(o, "://") != NULL);
        colon = strrchr(o, ':');
        FUZZ_CHECK(colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1));
    }
}

static void type(apr_pool_t *p, int argc, char **argv)
{
    const char *table = NULL, *err;
    int same = -1;

    err = gf_conf_type_table(p, argv[1], argc >= 3 ? argv[2] : NULL, &table);
    check_err(err);
    if (err) return;
    FUZZ_CHECK(gf_sql_valid_type(argv[1]) && gf_sql_valid_table(table));
    FUZZ_CHECK(strlen(table) <= GF_SQL_TABLE_MAX);
    FUZZ_CHECK(!gf_conf_type_clash(p, argv[1], table, argv[1], table, &same) && same == 1);
    if (last_name) {
        err = gf_conf_type_clash(p, argv[1], table, last_name, last_table, &same);
        check_err(err);
        if (!err) FUZZ_CHECK(same == !strcmp(argv[1], last_name));
    }
    last_name = apr_pstrdup(p, argv[1]);
    last_table = table;
}

static void numbers(apr_pool_t *p, int argc, char **argv)
{
    const char *err;

    if (!strcmp(argv[0], "priority")) {
        int n = 5000;
        err = gf_conf_parse_priority(argv[1], &n);
        check_err(err);
        FUZZ_CHECK(err ? n == 5000 : n >= -1000 && n <= 1000);
    }
    else if (argc >= 4) {
        long min = strtol(argv[2], NULL, 10), max = strtol(argv[3], NULL, 10), v = -1;
        if (max < 0) max = 0;
        err = gf_conf_parse_setting(p, argv[1], min, max, argc >= 5 ? argv[4] : "", &v);
        check_err(err);
        if (!err) FUZZ_CHECK(v >= min && v <= max);
    }
}

static void words(apr_pool_t *p, int argc, char **argv)
{
    unsigned u = 0;
    const char *err;

    if (!strcmp(argv[0], "require")) {
        err = gf_conf_parse_needs(p, argc - 1, argv + 1, &u);
        check_err(err);
        FUZZ_CHECK(!(u & ~(unsigned)(GF_NEED_PROMPT | GF_NEED_SOURCE_IMAGE | GF_NEED_PRESET)));
    }
    else {
        err = gf_conf_parse_accepts(p, argc - 1, argv + 1, &u);
        check_err(err);
        FUZZ_CHECK(!(u & ~(unsigned)(GF_ACCEPT_MASK | GF_ACCEPT_REFERENCES)));
    }
}

static void policy(apr_pool_t *p, int argc, char **argv)
{
    gf_conf_policy_opts_t o;
    const char *key, *value, *err = NULL;
    int i;

    memset(&o, 0, sizeof(o));
    for (i = 1; i < argc && !err; i++) {
        err = gf_conf_key_value(p, argv[i], &key, &value);
        check_err(err);
        if (err) return;
        FUZZ_CHECK(*key && *value && !strchr(key, '='));
        err = gf_conf_policy_option(p, &o, key, value);
        if (err == GF_CONF_POLICY_READ) err = NULL;
        check_err(err);
    }
    if (!err) check_err(gf_conf_policy_whole(0, &o));
    FUZZ_CHECK(!o.categories || o.categories->nelts > 0 || err);
}

static void chain(apr_pool_t *p, int argc, char **argv)
{
    apr_array_header_t *entries = NULL;
    const char *err = gf_chain_spec_split(p, argc - 1, argv + 1, &entries);
    int i;

    check_err(err);
    FUZZ_CHECK(entries && entries->nelts <= argc - 1 && (err != NULL) == (entries->nelts == 0));
    for (i = 0; i < entries->nelts; i++) {
        const char *e = APR_ARRAY_IDX(entries, i, const char *);
        const char *w = e[0] == '{' ? e + 1 : e;
        size_t n = strcspn(w, ":=} ");
        FUZZ_CHECK(*e && strcmp(e, "->") && strcmp(e, "\xe2\x86\x92"));
        /* A group's entry is its words joined: its first word names it. */
        if (n > 0 && w[n] != ' ') FUZZ_CHECK(gf_chain_spec_names(e, apr_pstrndup(p, w, n)));
    }
}

static void directive(apr_pool_t *p, int argc, char **argv)
{
    const char *err, *base = NULL, *expr;
    apr_array_header_t *users;

    if (!strcmp(argv[0], "origins")) origins(p, argc - 1, argv + 1);
    else if (!strcmp(argv[0], "events") && argc >= 2) {
        err = gf_conf_parse_events_base(p, argv[1], &base);
        check_err(err);
        if (!err) FUZZ_CHECK(!*base || base[strlen(base) - 1] != '/');
    }
    else if (!strcmp(argv[0], "admins")) {
        err = gf_conf_parse_admins(p, argc - 1, argv + 1, &expr, &users);
        check_err(err);
        if (!err) FUZZ_CHECK(!(expr && users) && (!users || users->nelts == argc - 2));
    }
    else if (!strcmp(argv[0], "type") && argc >= 2) type(p, argc, argv);
    else if ((!strcmp(argv[0], "priority") || !strcmp(argv[0], "setting")) && argc >= 2) {
        numbers(p, argc, argv);
    }
    else if (!strcmp(argv[0], "require") || !strcmp(argv[0], "accept")) words(p, argc, argv);
    else if (!strcmp(argv[0], "policy")) policy(p, argc, argv);
    else if (!strcmp(argv[0], "chain")) chain(p, argc, argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    char *text = apr_pstrmemdup(p, (const char *)data, size), *line, *last = NULL;

    last_name = last_table = NULL;
    for (line = apr_strtok(text, "\n", &last); line; line = apr_strtok(NULL, "\n", &last)) {
        char *argv[32], *tok, *wlast = NULL;
        int argc = 0;
        for (tok = apr_strtok(line, " \t", &wlast); tok && argc < 32;
             tok = apr_strtok(NULL, " \t", &wlast)) {
            argv[argc++] = tok;
        }
        if (argc) directive(p, argc, argv);
    }
    fuzz_pool_end(p);
    return 0;
}
