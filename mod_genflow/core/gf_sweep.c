/* SPDX-License-Identifier: Apache-2.0 */
/* gf_sweep.c: the sweeps' default waits, repeats, looks and pages
 * (gf_sweep.h). */
#include <apr_strings.h>

#include "core/gf_sweep.h"

long gf_sweep_queued_ttl(long pending_ttl)
{
    return pending_ttl > 0 ? pending_ttl : 3600;
}

long gf_sweep_created_ttl(long created_ttl, long queued_ttl)
{
    return created_ttl > 0 ? created_ttl : queued_ttl;
}

int gf_sweep_again(const char *count, apr_int64_t batch, apr_int64_t *total)
{
    apr_int64_t n;
    if (!count) return 0;
    *total += (n = apr_atoi64(count));
    return n >= batch;
}

const char *gf_sweep_total(apr_pool_t *p, apr_int64_t total)
{
    return total ? apr_psprintf(p, "%" APR_INT64_T_FMT, total) : NULL;
}

const char *gf_sweep_names(apr_pool_t *p, apr_hash_t *names)
{
    const char *out = "";
    apr_hash_index_t *hi;
    for (hi = names ? apr_hash_first(p, names) : NULL; hi; hi = apr_hash_next(hi)) {
        out = apr_pstrcat(p, out, *out ? "\n" : "", (const char *)apr_hash_this_key(hi), NULL);
    }
    return out;
}

apr_time_t gf_sweep_next(apr_time_t now, long every, apr_interval_time_t min,
                         apr_interval_time_t max)
{
    apr_interval_time_t t = apr_time_from_sec(every);
    return now + (t < min ? min : t > max ? max : t);
}

void gf_sweep_page(char *after, apr_size_t size, int n, int page, const char *last, int *more)
{
    if (n < page || !last) {
        *after = '\0';
        return;
    }
    apr_cpystrn(after, last, size);
    if (more) *more = 1;
}
