/* mod_genflow_run.c: working one generation through its provider chain.
 *
 * The generation is claimed (pending → processing) by one conditional
 * UPDATE, each provider of the chain is tried in order until one returns a
 * picture, the picture is stored, and the row is finalized by one
 * statement that also charges or refunds. For now this runs inside the
 * generate request; the background job engine will call the same steps.
 */
#include <string.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "mod_genflow_private.h"
#include "gf_error.h"
#include "gf_sql.h"

static gf_db_status_t finalize_failed(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
                                      const char *id, const char *code, const char *message,
                                      const char *provider, const char *model,
                                      gf_db_rows_t **rows)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(1401)
                  "failed type=%s id=%s user=%s provider=%s error=%s: %s", dc->type->name, id,
                  r->user, provider ? provider : "-", code, message);
    return gf_db_select(r, dbd, dc->type->labels[GF_SQL_FAIL], rows, 6, id, "failed", code,
                        message, provider, model);
}

/* Returns OK with *status_json set to the terminal status object;
 * HTTP_NOT_FOUND/HTTP_CONFLICT when the generation is not the caller's
 * pending generation; HTTP_SERVICE_UNAVAILABLE or HTTP_INTERNAL_SERVER_ERROR
 * on database trouble. Nothing is sent to the client here. */
int gf_run_generation(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
                      const char *id, const char **status_json)
{
    gf_server_conf_t *sc = gf_server_conf(r->server);
    static const gf_chain_entry_t default_entry = { "local", NULL };
    gf_db_rows_t *rows;
    gf_db_status_t st;
    gf_job_t job;
    gf_provider_result_t res;
    const char *last_code = GF_JOB_API, *last_message = "no provider could be tried";
    const char *last_provider = NULL, *last_model = NULL;
    int i, nentries;

    st = gf_db_select(r, dbd, dc->type->labels[GF_SQL_CLAIM], &rows, 2, id, r->user);
    if (st != GF_DB_OK) {
        return st == GF_DB_UNAVAILABLE ? HTTP_SERVICE_UNAVAILABLE : HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rows->nrows == 0) {
        return HTTP_CONFLICT;  /* the caller tells "not found" from "not pending" */
    }
    memset(&job, 0, sizeof(job));
    job.type = dc->type->name;
    job.id = id;
    job.user = r->user;
    job.prompt = rows->rows[0][1];
    job.source_image = rows->rows[0][2];
    job.aspect_ratio = rows->rows[0][3];
    job.seed = (apr_uint64_t)apr_atoi64(rows->rows[0][4]);

    nentries = dc->chain ? dc->chain->nelts : 1;
    for (i = 0; i < nentries; i++) {
        const gf_chain_entry_t *e = dc->chain ? &APR_ARRAY_IDX(dc->chain, i, gf_chain_entry_t)
                                              : &default_entry;
        gf_provider_t *prov = apr_hash_get(sc->providers, e->provider, APR_HASH_KEY_STRING);
        const char *url = NULL, *err = NULL;

        if (!prov) {
            continue;  /* refused at startup; only reachable with a changed vhost */
        }
        job.model = e->model;
        gf_provider_generate(prov, &job, r->pool, &res);
        last_provider = prov->name;
        last_model = res.model ? res.model : e->model;
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GF_LOGNO(1402)
                      "attempt type=%s id=%s user=%s provider=%s model=%s attempt=1 result=%s",
                      job.type, id, r->user, prov->name, last_model ? last_model : "-",
                      res.error_code ? res.error_code : "image");
        if (res.error_code) {
            last_code = res.error_code;
            last_message = res.error_message;
            if (!strcmp(res.error_code, GF_JOB_CONTENT_FILTERED)) {
                break;  /* moderation is final: no fallback (SPEC §4) */
            }
            continue;  /* fall back to the next provider of the chain */
        }
        if (res.image) {
            const char *key = apr_pstrcat(r->pool, job.type, "/", id, ".png", NULL);
            if (gf_storage_put(sc->storage, r->pool, key, res.image, res.image_len,
                               res.content_type, &url, &err) != APR_SUCCESS) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GF_LOGNO(1403)
                              "storage failed for type=%s id=%s: %s", job.type, id, err);
                st = finalize_failed(r, dbd, dc, id, GF_JOB_STORAGE,
                                     "the image could not be stored", prov->name, last_model,
                                     &rows);
                goto finalized;
            }
        }
        else {
            url = res.image_url;
        }
        st = gf_db_select(r, dbd, dc->type->labels[GF_SQL_COMPLETE], &rows, 4, id, url,
                          prov->name, last_model);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(1404)
                      "completed type=%s id=%s user=%s provider=%s", job.type, id, r->user,
                      prov->name);
        goto finalized;
    }
    st = finalize_failed(r, dbd, dc, id, last_code, last_message, last_provider, last_model,
                         &rows);

finalized:
    if (st != GF_DB_OK) {
        return st == GF_DB_UNAVAILABLE ? HTTP_SERVICE_UNAVAILABLE : HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rows->nrows == 0) {
        /* Finalized by someone else meanwhile: report the state it has. */
        st = gf_db_select(r, dbd, dc->type->labels[GF_SQL_GET], &rows, 2, id, r->user);
        if (st != GF_DB_OK || rows->nrows == 0) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    *status_json = rows->rows[0][0];
    return OK;
}
