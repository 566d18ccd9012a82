/* SPDX-License-Identifier: Apache-2.0 */
/* gf_secret.h: API keys and secrets named in the configuration.
 *
 * Read once at startup (before httpd drops privileges, so a root-only file
 * works), surrounding whitespace trimmed. Error messages name the file or
 * the variable, never the secret.
 */
#ifndef GF_SECRET_H
#define GF_SECRET_H

#include <apr_pools.h>

/* The largest secret or key file read. */
#define GF_SECRET_FILE_MAX 65536

/* NULL and *secret on success, else why not (option names what asked).
 * A secret is one word of printable ASCII (it goes into HTTP headers and
 * HMACs as it is); a file is read whole, at most GF_SECRET_FILE_MAX bytes,
 * and may not hold a NUL. */
const char *gf_secret_from_file(apr_pool_t *p, const char *option, const char *path,
                                const char **secret);
const char *gf_secret_from_env(apr_pool_t *p, const char *option, const char *name,
                               const char **secret);

/* A text file (fal's JWKS or key lines): valid UTF-8 without NUL, trimmed. */
const char *gf_secret_text_from_file(apr_pool_t *p, const char *option, const char *path,
                                     const char **text);

#endif
