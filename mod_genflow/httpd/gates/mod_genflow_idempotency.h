/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_idempotency.h: requests under an Idempotency-Key
 * (mod_genflow_idempotency.c).
 */
#ifndef MOD_GENFLOW_IDEMPOTENCY_H
#define MOD_GENFLOW_IDEMPOTENCY_H


/* Run(r, baton) under the request's
 * Idempotency-Key, if it has one; resume(r, baton, id) answers for the
 * generation id that an earlier request with the key created before it
 * died. */
int gf_idempotent(request_rec *r, long max_body, int (*run)(request_rec *, void *),
                  int (*resume)(request_rec *, void *, const char *), void *baton);
/* Does this request still own its Idempotency-Key's record? */
int gf_idempotency_still_owned(request_rec *r);

#endif
