/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_api.c: SetHandler genflow-api. */
#include <http_protocol.h>

#include "httpd/api/mod_genflow_handlers.h"
#include "httpd/io/mod_genflow_http.h"
#include "core/gf_error.h"

/* SetHandler genflow-api: the API prefix itself (e.g. <Location /api>).
 * Every path under it that no type location or site handler serves,
 * an unknown type included, answers a JSON 404 NOT_FOUND instead of
 * httpd's HTML page, whatever the method. */
int gf_api_handler(request_rec *r)
{
    return gf_send_error(r, HTTP_NOT_FOUND, GF_ERR_NOT_FOUND,
                         "no API here: the path names no generation type or endpoint");
}
