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
#include <apr_tables.h>

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

/* The keys of a file that holds several, one a line, newest first (the
 * rotation of webhook secrets and of events tokens' keys): each line
 * trimmed, blank lines and '#' comments skipped, each passed to check
 * (NULL: fine; else why not), at most max. NULL with *err ("line N: …",
 * "at most N …", "no … in the file", naming what, "secret" or "key") when
 * one fails or none is there. */
apr_array_header_t *gf_secret_lines(apr_pool_t *p, const char *text, int max, const char *what,
                                    const char *(*check)(apr_pool_t *p, const char *line),
                                    const char **err);

#endif
