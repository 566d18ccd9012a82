/* SPDX-License-Identifier: Apache-2.0 */
/* gf_hmac.c: HMAC-SHA256 over byte ranges (see gf_hmac.h). */
#include <openssl/evp.h>

#include "core/gf_hmac.h"

/* Every part goes in with its explicit length: a signed body is binary and
 * attacker-controlled, and a C string of it would stop at its first NUL.
 * EVP_DigestSign with an EVP_PKEY_HMAC key exists in OpenSSL 1.1.1 (our
 * minimum) and is not deprecated in 3.x, unlike HMAC_CTX, which would
 * break the -Werror build. */
int gf_hmac_sha256(const unsigned char *key, size_t keylen, const void *const *parts,
                   const size_t *lens, int n, unsigned char mac[GF_HMAC_SHA256_LEN])
{
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_HMAC, NULL, key, keylen);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t maclen = GF_HMAC_SHA256_LEN;
    int i, ok = pk && ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1;

    for (i = 0; ok && i < n; i++) {
        ok = EVP_DigestSignUpdate(ctx, parts[i], lens[i]) == 1;
    }
    ok = ok && EVP_DigestSignFinal(ctx, mac, &maclen) == 1 && maclen == GF_HMAC_SHA256_LEN;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return ok;
}
