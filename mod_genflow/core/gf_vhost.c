/* SPDX-License-Identifier: Apache-2.0 */
/* gf_vhost.c: does a URL name a virtual host (see gf_vhost.h). */
#include <strings.h>
#include <apr_fnmatch.h>

#include "core/gf_vhost.h"

static int named(const char *host, const char *const *names)
{
    int i;
    for (i = 0; names && names[i]; i++) {
        if (!strcasecmp(names[i], host)) return 1;
        if (apr_fnmatch_test(names[i])
            && apr_fnmatch(names[i], host, APR_FNM_CASE_BLIND) == APR_SUCCESS) {
            return 1;
        }
    }
    return 0;
}

int gf_vhost_match(const char *host, unsigned port, const gf_vhost_t *v)
{
    int i, by_name = named(host, v->names), any_port = 0;

    for (i = 0; i < v->naddrs; i++) {
        const gf_vhost_addr_t *a = &v->addrs[i];
        int port_ok = a->port == 0 || a->port == port;
        /* An address names the host only on its own port. */
        if (a->ip && !strcasecmp(a->ip, host) && port_ok) return GF_VHOST_EXACT;
        any_port |= port_ok;
    }
    if (by_name) return any_port ? GF_VHOST_EXACT : GF_VHOST_NAME;
    return GF_VHOST_NO;
}
