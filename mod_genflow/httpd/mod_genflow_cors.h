/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_cors.h: the CORS headers of every location the module
 * serves, preflights answered without authentication, and cross-site
 * writes refused (mod_genflow_cors.c says how; GenFlowCORSOrigins is the
 * configuration's).
 */
#ifndef MOD_GENFLOW_CORS_H
#define MOD_GENFLOW_CORS_H

#include "httpd/mod_genflow_http.h"

void gf_cors_register_hooks(void);

#endif
