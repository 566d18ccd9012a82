/* SPDX-License-Identifier: Apache-2.0 */
/* gf_schema.c: the database schema's version judged against this module's
 * (gf_schema.h). */
#include <apr_strings.h>

#include "core/gf_schema.h"

gf_schema_verdict_t gf_schema_judge(apr_pool_t *p, const gf_schema_seen_t *seen, long needs,
                                    const char **msg)
{
    if (!seen->has_table) {
        *msg = apr_psprintf(p, "the database has no mod_genflow schema (no "
                            "genflow_schema_version table); mod_genflow %s needs schema "
                            "version %ld: run genflow-migrate DATABASE_URI", GF_VERSION, needs);
        return GF_SCHEMA_TOO_OLD;
    }
    if (!seen->needs_applied) {
        *msg = apr_psprintf(p, "the database schema is at version %ld; mod_genflow %s needs "
                            "version %ld: run genflow-migrate --phase expand DATABASE_URI "
                            "(docs/operations.md, \"Upgrading\")", seen->newest, GF_VERSION,
                            needs);
        return GF_SCHEMA_TOO_OLD;
    }
    if (seen->floor > needs) {
        *msg = apr_psprintf(p, "the database schema (version %ld) was contracted for modules "
                            "that need version %ld or later; mod_genflow %s needs %ld: install "
                            "the module of the release that ran those migrations "
                            "(genflow-migrate --status lists them)", seen->newest, seen->floor,
                            GF_VERSION, needs);
        return GF_SCHEMA_TOO_NEW;
    }
    *msg = apr_psprintf(p, "database schema at version %ld (mod_genflow %s needs %ld)",
                        seen->newest, GF_VERSION, needs);
    return GF_SCHEMA_OK;
}

const char *gf_schema_one_line(apr_pool_t *p, const char *msg)
{
    char *s = apr_pstrdup(p, msg), *c;
    for (c = s; *c; c++) {
        if (*c == '\n' || *c == '\r') *c = ' ';
    }
    return s;
}
