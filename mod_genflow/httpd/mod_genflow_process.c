/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_process.c: the process record (mod_genflow_process.h). */
#include <apr_errno.h>

#include "httpd/mod_genflow_process.h"

static gf_process_t *process;

static apr_status_t forget_process(void *unused)
{
    (void)unused;
    process = NULL;
    return APR_SUCCESS;
}

gf_process_t *gf_process(void)
{
    return process;
}

/* apr_pcalloc is a macro that reads its size twice: one size at a time. */
#define GF_PROCESS_ALLOC_(m, tag) { apr_size_t size = *sizes[i++]; P->m = apr_pcalloc(pconf, size); }

/* Nothing of the last configuration's state is seen by this one's. */
void gf_process_create(apr_pool_t *pconf, const apr_size_t *const *sizes)
{
    gf_process_t *P = apr_pcalloc(pconf, sizeof(*P));
    int i = 0;
    P->pconf = pconf;
    GF_PROCESS_MEMBERS(GF_PROCESS_ALLOC_)
    process = P;
    apr_pool_cleanup_register(pconf, NULL, forget_process, apr_pool_cleanup_null);
}
