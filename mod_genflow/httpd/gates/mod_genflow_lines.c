/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_lines.c: which GenFlowLine a request's generation is queued
 * in (see mod_genflow_lines.h). The expressions run in the request that
 * queues (a create with its fields, a generate, a retry), over what the
 * site's own modules set on it by then: its user, its environment
 * (SetEnvIf, RewriteRule [E=], the authentication's variables), its
 * headers.
 */
#include "httpd/gates/mod_genflow_lines.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/io/mod_genflow_trace.h"

const gf_line_t *gf_line_of(request_rec *r, const gf_dir_conf_t *dc)
{
    int i;
    for (i = 0; dc->lines && i < dc->lines->nelts; i++) {
        const gf_line_t *l = &APR_ARRAY_IDX(dc->lines, i, gf_line_t);
        const char *err = NULL;
        int rc = ap_expr_exec(r, l->expr, &err);
        if (rc > 0) return l;
        if (rc < 0) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, GF_LOGNO(5501)
                          "GenFlowLine %s (%s): its expression failed: %s; the request is "
                          "not in this line user=%s trace=%s", l->name, l->where,
                          err ? err : "?", r->user ? r->user : "-",
                          gf_trace_request(r)->trace_id);
        }
    }
    return NULL;
}
