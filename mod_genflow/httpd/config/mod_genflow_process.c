/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_process.c: the process record (mod_genflow_process.h). */
#include <string.h>
#include <apr_errno.h>
#include <apr_escape.h>
#include <apr_general.h>
#include <apr_network_io.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "httpd/config/mod_genflow_process.h"

#define NODE_KEY "mod_genflow_node"

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

void gf_process_name(apr_pool_t *proc)
{
    const char *node = NULL;
    apr_pool_userdata_get((void **)&node, NODE_KEY, proc);
    if (!node) {
        char host[APRMAXHOSTLEN + 1];
        unsigned char bits[6];
        if (apr_gethostname(host, sizeof(host), proc) != APR_SUCCESS) {
            apr_cpystrn(host, "localhost", sizeof(host));
        }
        if (apr_generate_random_bytes(bits, sizeof(bits)) != APR_SUCCESS) {
            apr_time_t now = apr_time_now();
            memcpy(bits, &now, sizeof(bits));
        }
        node = apr_pstrcat(proc, host, ":", apr_pescape_hex(proc, bits, sizeof(bits), 0), NULL);
        apr_pool_userdata_set(node, NODE_KEY, apr_pool_cleanup_null, proc);
    }
    process->node = node;
}
