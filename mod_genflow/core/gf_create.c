/* SPDX-License-Identifier: Apache-2.0 */
/* gf_create.c: a create's ids and checks from plain values (see
 * gf_create.h). */
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "core/gf_create.h"
#include "core/gf_input.h"
#include "core/gf_route.h"

void gf_create_id_v7(char id[APR_UUID_FORMATTED_LENGTH + 1], apr_uint64_t ms,
                     const unsigned char draw[GF_CREATE_DRAW_BYTES], apr_uint64_t *seed)
{
    apr_uuid_t uuid;
    int i;

    memcpy(uuid.data, draw, sizeof(uuid.data));
    for (i = 0; i < 6; i++) uuid.data[i] = (unsigned char)(ms >> (8 * (5 - i)));
    uuid.data[6] = (unsigned char)((uuid.data[6] & 0x0f) | 0x70);   /* version 7 */
    uuid.data[8] = (unsigned char)((uuid.data[8] & 0x3f) | 0x80);   /* RFC 9562 variant */
    apr_uuid_format(id, &uuid);
    *seed = 0;
    for (i = 0; i < 4; i++) *seed = (*seed << 8) | draw[sizeof(uuid.data) + i];
    *seed %= 4294967295ULL;
}

void gf_create_draw_id(char id[APR_UUID_FORMATTED_LENGTH + 1], apr_uint64_t *seed)
{
    unsigned char b[GF_CREATE_DRAW_BYTES];
    apr_uint64_t ms = (apr_uint64_t)apr_time_as_msec(apr_time_now());

    if (apr_generate_random_bytes(b, sizeof(b)) != APR_SUCCESS) {
        apr_uuid_t uuid;
        apr_uuid_get(&uuid);
        apr_uuid_format(id, &uuid);
        *seed = (apr_uint64_t)apr_time_now() % 4294967295ULL;
        return;
    }
    gf_create_id_v7(id, ms, b, seed);
}

void gf_create_upload_id_v4(char id[APR_UUID_FORMATTED_LENGTH + 1], const unsigned char *draw)
{
    apr_uuid_t uuid;

    memcpy(uuid.data, draw, sizeof(uuid.data));
    uuid.data[6] = (unsigned char)((uuid.data[6] & 0x0f) | 0x40);   /* version 4 */
    uuid.data[8] = (unsigned char)((uuid.data[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    apr_uuid_format(id, &uuid);
}

void gf_create_draw_upload_id(char id[APR_UUID_FORMATTED_LENGTH + 1])
{
    apr_uuid_t uuid;

    if (apr_generate_random_bytes(uuid.data, sizeof(uuid.data)) != APR_SUCCESS) {
        apr_uuid_get(&uuid);
    }
    gf_create_upload_id_v4(id, uuid.data);
}

const char *gf_create_cancel_after(apr_pool_t *p, const char *header, int deadline_secs,
                                   int *seconds)
{
    long n;

    if (header) {
        if (!gf_cancel_after(header, &n) || n < 1) {
            return "Cancel-After: give whole seconds (90) or a duration (1m30s), at least 1 s";
        }
        *seconds = (int)n;
    }
    if (*seconds > deadline_secs) {
        return apr_psprintf(p, "%s: at most %d s, the type's deadline (GenFlowDeadline)",
                            header ? "Cancel-After" : "cancelAfter", deadline_secs);
    }
    return NULL;
}

const char *gf_create_count_refusal(apr_pool_t *p, int count, int max_count)
{
    if (count <= max_count) return NULL;
    return apr_psprintf(p, "count: at most %d picture%s for this type (GenFlowMaxCount)",
                        max_count, max_count == 1 ? "" : "s");
}

const char *gf_create_by_id_args(apr_pool_t *p, json_object *body, int *cancel_after)
{
    json_object *ca = NULL;
    gf_input_error_t ierr;
    int n = json_object_object_get_ex(body, "cancelAfter", &ca) ? 2 : 1;

    if (json_object_object_length(body) != n) {
        return "generationId: give either generationId alone (with at most cancelAfter) or the "
               "create fields, not both";
    }
    *cancel_after = 0;
    if (ca && !json_object_is_type(ca, json_type_null)
        && !gf_input_cancel_after(p, ca, cancel_after, &ierr)) {
        return ierr.message;
    }
    return NULL;
}
