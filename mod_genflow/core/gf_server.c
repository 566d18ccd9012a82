/* SPDX-License-Identifier: Apache-2.0 */
/* gf_server.c: the servers' and providers' names, and a directory's write
 * permission for a user (see gf_server.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "core/gf_server.h"

const char *gf_server_label_of(apr_pool_t *p, const char *hostname, apr_port_t port)
{
    return port ? apr_psprintf(p, "%s:%u", hostname ? hostname : "", (unsigned)port)
                : apr_pstrdup(p, hostname ? hostname : "");
}

const char *gf_server_provider_key(apr_pool_t *p, apr_hash_t *keys, const char *server,
                                   const char *name)
{
    const char *key = apr_pstrcat(p, server, "/", name, NULL);
    int n = 1;
    while (apr_hash_get(keys, key, APR_HASH_KEY_STRING)) {
        key = apr_psprintf(p, "%s/%s#%d", server, name, ++n);
    }
    return key;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *gf_server_sorted_keys(apr_pool_t *p, apr_hash_t *h)
{
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    apr_hash_index_t *hi;
    const char *out = "";
    int i;
    for (hi = h ? apr_hash_first(p, h) : NULL; hi; hi = apr_hash_next(hi)) {
        APR_ARRAY_PUSH(names, const char *) = apr_hash_this_key(hi);
    }
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), cmp_name);
    for (i = 0; i < names->nelts; i++) {
        out = apr_pstrcat(p, out, i ? "\n" : "", APR_ARRAY_IDX(names, i, const char *), NULL);
    }
    return out;
}

int gf_server_needs_groups(uid_t owner, uid_t uid)
{
    return uid != 0 && owner != uid;
}

int gf_server_may_write(mode_t mode, uid_t owner, gid_t group, uid_t uid, const gid_t *groups,
                        int n)
{
    int i;
    if (uid == 0) return 1;
    if (owner == uid) return (mode & (S_IWUSR | S_IXUSR)) == (S_IWUSR | S_IXUSR);
    for (i = 0; i < n; i++) {
        if (groups[i] == group) return (mode & (S_IWGRP | S_IXGRP)) == (S_IWGRP | S_IXGRP);
    }
    return (mode & (S_IWOTH | S_IXOTH)) == (S_IWOTH | S_IXOTH);
}
