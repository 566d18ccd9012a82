/* gf_secret.h: API keys and secrets named in the configuration.
 *
 * Read once at startup (before httpd drops privileges, so a root-only file
 * works), surrounding whitespace trimmed. Error messages name the file or
 * the variable, never the secret.
 */
#ifndef GF_SECRET_H
#define GF_SECRET_H

#include <apr_pools.h>

/* NULL and *secret on success, else why not (option names what asked). */
const char *gf_secret_from_file(apr_pool_t *p, const char *option, const char *path,
                                const char **secret);
const char *gf_secret_from_env(apr_pool_t *p, const char *option, const char *name,
                               const char **secret);

#endif
