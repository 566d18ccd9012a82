/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handlers.h: the module's content handlers, the top of the
 * glue: they may use every concern below. mod_genflow_handlers.c has
 * their one table; each is named there once.
 *
 *   mod_genflow_handle_type*.c    genflow-type: the endpoints of a type's
 *                                 location (mod_genflow_handle_int.h)
 *   mod_genflow_handle_quota.c           genflow-quota
 *   mod_genflow_handle_admin.c           genflow-admin, genflow-health
 *   mod_genflow_handle_uploads.c         genflow-uploads
 *   mod_genflow_handle_webhook.c         genflow-webhook
 *   mod_genflow_handle_discovery.c    genflow-types (built at startup)
 *   mod_genflow_handle_metrics.c  genflow-metrics, and mod_status's section
 *   mod_genflow_handle_api.c      genflow-api: JSON 404 under the prefix
 *   mod_genflow_handle_gate.c     an events host: its streams only
 */
#ifndef MOD_GENFLOW_HANDLERS_H
#define MOD_GENFLOW_HANDLERS_H
#include "httpd/io/mod_genflow_db.h"
#include "image/gf_image.h"


/* Set by fixups in a GenFlowType location. */
#define GF_TYPE_HANDLER "genflow-type"

/* The one content handler of the module (its table dispatches) and the
 * mod_status section; from register_hooks. */
void gf_handlers_register_hooks(void);
/* The table into the process record, for the look-ups of the layers
 * below (CORS, metrics); pre_config, once the record exists. */
void gf_handlers_pre_config(void);

/* An events host's gate and its token authentication
 * (mod_genflow_handle_gate.c), and the 404 of everything else there. */
void gf_gate_register_hooks(void);
int gf_send_events_host_404(request_rec *r);

int gf_type_handler(request_rec *r);
int gf_quota_handler(request_rec *r);
int gf_admin_handler(request_rec *r);
/* GF_CONTINUE when r has an authenticated user (not an events token's);
 * else the 401 sent: the admin and metrics handlers answer no one else,
 * whatever Require grants. */
int gf_refuse_without_user(request_rec *r);
/* Is r's user an administrator (GenFlowAdministrators)? */
int gf_request_is_admin(request_rec *r);
/* GF_CONTINUE for an administrator; else the 401 (no user) or 403 sent. */
int gf_refuse_unless_admin(request_rec *r);
/* The methods of the admin endpoint at r's path (jobs, credits), or NULL
 * where there is none. */
const char *gf_admin_allow(request_rec *r);
int gf_health_handler(request_rec *r);
int gf_uploads_handler(request_rec *r);
/* A verified picture (fmt, width x height) kept as an upload of r's user,
 * as POST /api/uploads keeps one: stored, then its row. GF_CONTINUE with
 * *out, or the error answer sent (503 when the store will not take it). */
typedef struct {
    const char *id, *url, *content_type, *created_at;
} gf_upload_saved_t;
int gf_uploads_save(request_rec *r, const unsigned char *data, apr_size_t len,
                    gf_image_format_t fmt, unsigned width, unsigned height, gf_upload_saved_t *out);
int gf_webhook_handler(request_rec *r);
int gf_discovery_handler(request_rec *r);
int gf_metrics_handler(request_rec *r);
int gf_api_handler(request_rec *r);
/* mod_status: the module's section. */
int gf_metrics_status_section(request_rec *r, int flags);

/* The child's queues of creates written several to a statement
 * (mod_genflow_handle_type_create_batch.c); child_init. */
void gf_create_batch_child_init(apr_pool_t *pchild);

/* Each server's genflow-types answer, built once; post_config. */
void gf_discovery_post_config(apr_pool_t *pconf, server_rec *s);

/* The account of r->user, made on first use with the starting credits
 * (mod_genflow_handle_quota.c; create uses it too). */
gf_db_status_t gf_account_ensure(request_rec *r, ap_dbd_t *dbd);

#endif
