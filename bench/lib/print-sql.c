/* print-sql TYPE TABLE LABEL_SUFFIX: the SQL text of one of the module's
 * statements, exactly as mod_genflow prepares it (bench/status-sql runs it
 * under pgbench). */
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

    if (argc != 4) {
        fprintf(stderr, "usage: print-sql TYPE TABLE OP (e.g. neo-glitch neo_glitch_media get)\n");
        return 2;
    }
    apr_initialize();
    apr_pool_create(&p, NULL);
    stmts = apr_array_make(p, 32, sizeof(gf_sql_stmt_t));
    gf_sql_type_statements(p, argv[1], argv[2], stmts);
    want = apr_psprintf(p, "gf_%s_%s", argv[2], argv[3]);
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
