/* gf_provider_local.c: the built-in `local` provider (SPEC §6).
 *
 * No network: it renders a deterministic PNG from the final prompt and the
 * seed (gf_png.c). The demo uses it, and a chain may end with it as the
 * last resort.
 */
#include <apr_strings.h>

#include "gf_provider.h"
#include "gf_png.h"
#include "gf_error.h"

#define LOCAL_DEFAULT_MODEL "local-glitch-v1"

static void local_generate(const gf_provider_t *prov, const gf_job_t *job,
                           apr_pool_t *p, gf_provider_result_t *res)
{
    unsigned w, h;
    apr_status_t rv;

    gf_png_dimensions(job->aspect_ratio, &w, &h);
    rv = gf_png_render(p, job->prompt, job->seed, w, h, &res->image, &res->image_len);
    if (rv != APR_SUCCESS) {
        res->error_code = GF_JOB_API;
        res->error_message = "local renderer failed";
        return;
    }
    res->content_type = "image/png";
    res->model = job->model ? job->model
               : (prov->default_model ? prov->default_model : LOCAL_DEFAULT_MODEL);
}

const gf_provider_kind_t gf_provider_kind_local = {
    "local",
    NULL,
    local_generate,
    NULL,
    NULL
};
