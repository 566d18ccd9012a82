/* SPDX-License-Identifier: Apache-2.0 */
/* print-sql TYPE TABLE OP: the SQL text of one of the module's statements,
 * exactly as mod_genflow prepares it (bench/status-sql runs it under
 * pgbench; t/41_plans.t reads its plans). print-sql global LABEL: one of
 * the site-wide statements (gf_sql.h's GF_SQL_* labels, e.g.
 * gf_place_release). print-sql due TYPE TABLE PROVIDERS: the due-work
 * probe of one type whose chains name those providers (comma-separated). */
#include <stdio.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "core/gf_sql.h"

int main(int argc, char **argv)
{
    apr_pool_t *p;
    apr_array_header_t *stmts;
    const char *want;
    int i;

    if (!(argc == 4 || (argc == 3 && !strcmp(argv[1], "global"))
          || (argc == 5 && !strcmp(argv[1], "due")))) {
        fprintf(stderr, "usage: print-sql TYPE TABLE OP (e.g. neo-glitch neo_glitch_media get)\n"
                        "       print-sql global LABEL (e.g. gf_place_release)\n"
                        "       print-sql due TYPE TABLE PROVIDERS (e.g. due neo-glitch "
                        "neo_glitch_media local,fal)\n");
        return 2;
    }
    apr_initialize();
    apr_pool_create(&p, NULL);
    stmts = apr_array_make(p, 32, sizeof(gf_sql_stmt_t));
    if (argc == 4) {
        gf_sql_type_statements(p, argv[1], argv[2], stmts);
        want = apr_psprintf(p, "gf_%s_%s", argv[2], argv[3]);
    }
#ifndef GF_PRINT_SQL_TYPE_ONLY   /* bench/create-sql builds it against an old gf_sql.c */
    else if (argc == 3) {
        gf_sql_global_statements(p, stmts);
        want = argv[2];
    }
    else if (argc == 5) {
        const char *type = argv[2], *table = argv[3];
        const char *provs = apr_pstrdup(p, argv[4]);
        char *c;
        for (c = (char *)provs; *c; c++) if (*c == ',') *c = '\n';
        if (!gf_sql_due_types_statement(p, "due", &type, &table, &provs, 1, stmts)) {
            fprintf(stderr, "a provider name the SQL cannot carry\n");
            return 2;
        }
        want = "due";
    }
#endif
    else {
        fprintf(stderr, "this print-sql prints the statements of a type only\n");
        return 2;
    }
    for (i = 0; i < stmts->nelts; i++) {
        const gf_sql_stmt_t *st = &APR_ARRAY_IDX(stmts, i, gf_sql_stmt_t);
        if (!strcmp(st->label, want)) {
            puts(st->sql);
            return 0;
        }
    }
    fprintf(stderr, "no statement %s\n", want);
    return 1;
}
