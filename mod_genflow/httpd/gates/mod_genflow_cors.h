/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_cors.h: the CORS headers of every location the module
 * serves, preflights answered without authentication, and cross-site
 * writes refused (mod_genflow_cors.c says how; GenFlowCORSOrigins is the
 * configuration's).
 */
#ifndef MOD_GENFLOW_CORS_H
#define MOD_GENFLOW_CORS_H


void gf_cors_register_hooks(void);
/* The first steps of the module's one handler (mod_genflow_handlers.c),
 * before the request's own: answer a marked preflight (204, no body), then
 * refuse a state-changing request from another site's page (403; provider
 * webhooks, server to server and signed, are not a browser's). Each
 * returns GF_CONTINUE when it answered nothing. */
int gf_cors_preflight(request_rec *r);
int gf_cors_refuse_cross_site(request_rec *r);

#endif
