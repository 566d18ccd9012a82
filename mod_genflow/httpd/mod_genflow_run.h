/* mod_genflow_run.h: what the attempt runner's files share
 * (mod_genflow_run.c, mod_genflow_run_source.c). */
#ifndef MOD_GENFLOW_RUN_H
#define MOD_GENFLOW_RUN_H

#include "httpd/mod_genflow_engine_int.h"
#include "core/gf_job.h"

/* An "upload:<id>" source: the upload's bytes (and, for the local
 * provider, its pixels) into job. 1 when the job has them; else 0 and res
 * says why: a transient STORAGE_ERROR (retried), or a permanent one when
 * the upload is gone or no longer what it was. */
int gf_run_resolve_upload(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                          const gf_provider_t *prov, gf_job_t *job, gf_provider_result_t *res);

#endif
