/* mod_genflow_private.h: what every glue file needs: the module record,
 * the log setup and the few macros the handlers' conventions rest on.
 *
 * The glue (httpd/mod_genflow*.c) is thin: directives, hooks, handlers,
 * the mod_dbd access and the job engine. Everything that can be tested
 * without httpd lives in the other folders of mod_genflow/. Each glue
 * concern has a header of its own, and headers include only those of the
 * concerns below them (docs/architecture.md "How the code is laid out";
 * tests/check_includes.sh keeps the order).
 */
#ifndef MOD_GENFLOW_PRIVATE_H
#define MOD_GENFLOW_PRIVATE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

extern module AP_MODULE_DECLARE_DATA genflow_module;
APLOG_USE_MODULE(genflow);

/* Module-owned log tags: "GF" + a unique number (httpd's AH namespace is
 * not ours). tests/check_lognos.sh keeps the numbers unique. */
#define GF_LOGNO(n) "GF" #n ": "

/* A setting not given: a merge tells it from zero, a getter applies the
 * default. */
#define GF_UNSET (-1)

/* Returned by request helpers that answered nothing: the handler goes on.
 * Any other value means an answer was sent and is the handler's result. */
#define GF_CONTINUE (-1000)

#endif
