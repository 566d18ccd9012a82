/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_schema.h: the database schema checked against the module's
 * own (core/gf_schema.h) when httpd starts, restarts or tests its
 * configuration (apache2ctl -t). */
#ifndef MOD_GENFLOW_SCHEMA_H
#define MOD_GENFLOW_SCHEMA_H

#include <httpd.h>

/* check_config: each database the configuration's DBDParams name (driver
 * pgsql) is asked for its schema version. Too old or contracted past this
 * module: an error naming what to run, and httpd does not start (nor does
 * a graceful restart, which apache2ctl tests first). A database that does
 * not answer within a few seconds: a warning, and the start goes on. */
int gf_schema_check_config(apr_pool_t *ptemp, server_rec *s);

/* The startup line of the parent: the release and the schema it needs. */
void gf_schema_log_startup(server_rec *s);

#endif
