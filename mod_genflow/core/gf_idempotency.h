/* SPDX-License-Identifier: Apache-2.0 */
/* gf_idempotency.h: the rules of the Idempotency-Key header, without
 * httpd or the database.
 *
 * httpd/gates/mod_genflow_idempotency.c runs the statements (IDEM_BEGIN,
 * IDEM_GET, IDEM_TAKEOVER, IDEM_SAVE, IDEM_DROP, IDEM_RELEASE) and sends
 * the answers; what a request's key is worth, what its fingerprint is,
 * what a record found under the key means for it, and what its owner
 * does with the record once it answered are decided here.
 */
#ifndef GF_IDEMPOTENCY_H
#define GF_IDEMPOTENCY_H

#include <apr_pools.h>

/* The longest Idempotency-Key accepted. */
#define GF_IDEM_KEY_MAX 255

/* Is key (the header's value) 1 to GF_IDEM_KEY_MAX bytes? */
int gf_idem_key_valid(const char *key);

/* The request's fingerprints, each "{SHA}" + base64 of SHA-1: *fp over
 * "METHOD URI\n" and the body's canonical JSON (gf_json_canonical), or
 * its bytes when it is not JSON (retry's empty body, or one the endpoint
 * refuses); *fp_bytes over "METHOD URI\n" and the body's bytes, NULs
 * included. A record matches either: those written by versions that
 * compared bytes keep matching for their 24 h. */
void gf_idem_fingerprints(apr_pool_t *p, const char *method, const char *uri,
                          const char *body, apr_size_t len, const char **fp,
                          const char **fp_bytes);

/* What a record found under the key (IDEM_GET's columns, gf_sql.h's
 * gf_sql_idem_col_t) means for a request that holds token and these
 * fingerprints. */
typedef enum {
    GF_IDEM_RUN_OWN = 0,     /* its own BEGIN, committed before its answer was lost: run */
    GF_IDEM_OTHER_REQUEST,   /* the key was used with another request: 422 */
    GF_IDEM_REPLAY,          /* the first request's answer: sent again */
    GF_IDEM_TAKE_OVER,       /* released, or its owner is gone: try to take it over */
    GF_IDEM_STILL_RUNNING    /* the first request runs: 409, Retry-After */
} gf_idem_verdict_t;

/* Is the record (IDEM_GET's columns) still owned by token? */
int gf_idem_owned(const char *const *rec, const char *token);

gf_idem_verdict_t gf_idem_judge(const char *const *rec, const char *token, const char *fp,
                                const char *fp_bytes);

/* What the owner does with its record once it answered status: keep the
 * answer for replay (a 2xx with a body: it did its work), drop the record
 * (nothing was created: the key is free again), or release it (a
 * generation is bound to the key, linked, but the answer failed: the next
 * request with the key answers for it). */
typedef enum {
    GF_IDEM_SAVE = 0,
    GF_IDEM_DROP,
    GF_IDEM_RELEASE
} gf_idem_ending_t;

gf_idem_ending_t gf_idem_ending(int has_body, int status, int linked);

#endif
