/* SPDX-License-Identifier: Apache-2.0 */
/* gf_create.h: what a create decides before its statement, from plain
 * values (httpd/api/mod_genflow_handle_type_create.c and _generate.c read
 * the request and the configuration): the new generation's id and seed,
 * an upload's id, the checks of Cancel-After, of the count and of
 * generate's body by id, each refusal with the message the client gets.
 */
#ifndef GF_CREATE_H
#define GF_CREATE_H

#include <apr_pools.h>
#include <apr_uuid.h>
#include <json-c/json.h>

/* Random bytes gf_create_id_v7 takes: the UUID's 16, then 4 of the seed. */
#define GF_CREATE_DRAW_BYTES (sizeof(((apr_uuid_t *)0)->data) + 4)

/* A new generation's id, a time-ordered UUID (RFC 9562 version 7: the
 * Unix time ms in milliseconds, then 74 bits of draw), and a seed from
 * the draw's last 4 bytes, in the documented range 0..4294967294.
 * Time-ordered, each create adds to the right end of the type table's
 * primary key and of the ledger's index by generation: with random ids
 * every insert went to a random page of indexes that outgrow the cache (a
 * million rows of history made creates 1.27 times slower). The random part
 * keeps ids unguessable. */
void gf_create_id_v7(char id[APR_UUID_FORMATTED_LENGTH + 1], apr_uint64_t ms,
                     const unsigned char draw[GF_CREATE_DRAW_BYTES], apr_uint64_t *seed);

/* The same from the system's random source and clock; when the source
 * fails, libuuid's id and a seed from the clock. apr_uuid_get would do
 * for every create too, but through libuuid it makes five more system
 * calls a create (it reseeds its own generator each time). */
void gf_create_draw_id(char id[APR_UUID_FORMATTED_LENGTH + 1], apr_uint64_t *seed);

/* An upload's id: a random (version 4) UUID made of draw (16 bytes). */
void gf_create_upload_id_v4(char id[APR_UUID_FORMATTED_LENGTH + 1], const unsigned char *draw);

/* The same from the system's random source; libuuid's generator only when
 * that fails. */
void gf_create_draw_upload_id(char id[APR_UUID_FORMATTED_LENGTH + 1]);

/* The create's own deadline in seconds: the Cancel-After header when sent
 * (whole seconds or a duration, at least 1 s), else *seconds as the body's
 * cancelAfter set it, at most the type's deadline_secs. NULL, or the 400's
 * message naming the field. */
const char *gf_create_cancel_after(apr_pool_t *p, const char *header, int deadline_secs,
                                   int *seconds);

/* A count over the type's max_count (GenFlowMaxCount): the 400's message;
 * NULL within it. */
const char *gf_create_count_refusal(apr_pool_t *p, int count, int max_count);

/* generate of a created generation: body is {"generationId"} with at most
 * a cancelAfter (*cancel_after, 0 without). NULL, or the 400's message. */
const char *gf_create_by_id_args(apr_pool_t *p, json_object *body, int *cancel_after);

#endif
