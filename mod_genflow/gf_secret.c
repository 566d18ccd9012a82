/* gf_secret.c: secrets from files and the environment (see gf_secret.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_lib.h>

#include "gf_secret.h"

const char *gf_secret_from_file(apr_pool_t *p, const char *option, const char *path,
                                const char **secret)
{
    apr_file_t *f;
    char buf[16384];
    apr_size_t n = sizeof(buf) - 1;
    char *s, *e;

    if (apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p) != APR_SUCCESS) {
        return apr_psprintf(p, "%s: cannot read %s", option, path);
    }
    if (apr_file_read(f, buf, &n) != APR_SUCCESS) n = 0;
    apr_file_close(f);
    buf[n] = '\0';
    for (s = buf; *s && apr_isspace(*s); s++);
    for (e = s + strlen(s); e > s && apr_isspace(e[-1]); e--);
    *e = '\0';
    if (!*s) {
        return apr_psprintf(p, "%s: %s is empty", option, path);
    }
    *secret = apr_pstrdup(p, s);
    memset(buf, 0, sizeof(buf));   /* no copy left on the stack */
    return NULL;
}

const char *gf_secret_from_env(apr_pool_t *p, const char *option, const char *name,
                               const char **secret)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        return apr_psprintf(p, "%s: the environment variable %s is not set", option, name);
    }
    *secret = apr_pstrdup(p, v);
    return NULL;
}
