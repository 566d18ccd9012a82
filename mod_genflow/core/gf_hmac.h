/* SPDX-License-Identifier: Apache-2.0 */
/* gf_hmac.h: HMAC-SHA256 (RFC 2104) over byte ranges, with OpenSSL: what
 * signs webhook deliveries and the tokens of events URLs. */
#ifndef GF_HMAC_H
#define GF_HMAC_H

#include <stddef.h>

#define GF_HMAC_SHA256_LEN 32

/* The MAC of the concatenation of n byte ranges (parts[i], lens[i] bytes
 * each; a range may hold NUL bytes) under key, into mac. 1 on success. */
int gf_hmac_sha256(const unsigned char *key, size_t keylen, const void *const *parts,
                   const size_t *lens, int n, unsigned char mac[GF_HMAC_SHA256_LEN]);

#endif
