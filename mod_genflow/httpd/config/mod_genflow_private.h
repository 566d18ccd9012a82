/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_private.h: what every glue file needs (the module's
 * declaration, its log tags, the handlers' conventions), as mod_md's
 * mod_md_private.h. The process's state is mod_genflow_process.h. */
#ifndef MOD_GENFLOW_PRIVATE_H
#define MOD_GENFLOW_PRIVATE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

extern module AP_MODULE_DECLARE_DATA genflow_module;
APLOG_USE_MODULE(genflow);

/* Module-owned log tags: "GF" + a unique number (tests/check_lognos.sh). */
#define GF_LOGNO(n) "GF" #n ": "

/* A setting not given: a merge tells it from zero, a getter applies the default. */
#define GF_UNSET (-1)

/* Returned by request helpers that answered nothing: the handler goes on;
 * any other value is the handler's result. */
#define GF_CONTINUE (-1000)

#endif
