/* SPDX-License-Identifier: Apache-2.0 */
/* gf_schema.h: which database schema this build of the module runs on.
 *
 * genflow-migrate records every migration it applies in
 * genflow_schema_version. Migrations come in two phases (docs/operations.md,
 * "Upgrading"): expand steps add what a new module needs and keep what the
 * previous release uses, so both run side by side on one database;
 * contract steps remove what only older modules used, once every node runs
 * the new one, and raise genflow_schema_floor.needs_at_least so that an
 * older module that still starts refuses rather than misbehaves.
 *
 * A module runs when the newest expand migration it was built for
 * (GF_SCHEMA_NEEDS) is applied and the floor is not above it.
 */
#ifndef GF_SCHEMA_H
#define GF_SCHEMA_H

#include <apr_pools.h>

/* The release, from configure.ac (semantic versioning). */
#ifndef GF_VERSION
#error "GF_VERSION is defined by the build (Makefile.am, from configure.ac)"
#endif

/* The newest migration this module needs (sql/NNN_*.sql). Kept equal to
 * the highest expand migration in sql/ by tests/check_version.sh. */
#define GF_SCHEMA_NEEDS 52

/* What the database said: read by the glue (two queries, see
 * mod_genflow_schema.c) and judged here. */
typedef struct {
    int has_table;     /* genflow_schema_version exists */
    int needs_applied; /* the row of GF_SCHEMA_NEEDS is in it */
    long newest;       /* highest version applied (0: none) */
    long floor;        /* genflow_schema_floor.needs_at_least (0: no floor yet) */
} gf_schema_seen_t;

typedef enum {
    GF_SCHEMA_OK = 0,
    GF_SCHEMA_TOO_OLD,   /* run genflow-migrate (the expand phase) */
    GF_SCHEMA_TOO_NEW    /* contracted past this module: upgrade the module */
} gf_schema_verdict_t;

/* The verdict for a module that needs `needs`; *msg (from p) says it in a
 * sentence an administrator can act on, naming the versions and the
 * command, also when the verdict is OK. */
gf_schema_verdict_t gf_schema_judge(apr_pool_t *p, const gf_schema_seen_t *seen, long needs,
                                    const char **msg);

/* msg (libpq's, which ends in a newline and may span lines) on one line of
 * the error log: line breaks made spaces, in a copy from p. */
const char *gf_schema_one_line(apr_pool_t *p, const char *msg);

#endif
