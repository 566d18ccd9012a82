/* SPDX-License-Identifier: Apache-2.0 */
/* gf_secret.c: secrets from files and the environment (see gf_secret.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_lib.h>

#include "core/gf_secret.h"
#include "core/gf_utf8.h"

/* A key or secret goes into an HTTP header or an HMAC as it is: one word
 * of printable ASCII. A NUL would cut it short, a newline would end the
 * header early, anything else is a copy-and-paste accident. */
static int is_token(const char *s)
{
    for (; *s; s++) {
        if (*s < 0x21 || *s > 0x7e) return 0;
    }
    return 1;
}

/* The file's text, trimmed; NULL and *why when it cannot be used. */
static char *read_trimmed(apr_pool_t *p, const char *option, const char *path,
                          const char **why)
{
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf, *s, *e, *copy;
    apr_size_t n;

    if (apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p) != APR_SUCCESS
        || apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS) {
        *why = apr_psprintf(p, "%s: cannot read %s", option, path);
        return NULL;
    }
    if (fi.size > GF_SECRET_FILE_MAX) {
        apr_file_close(f);
        *why = apr_psprintf(p, "%s: %s is larger than %d bytes", option, path, GF_SECRET_FILE_MAX);
        return NULL;
    }
    n = (apr_size_t)fi.size;
    buf = apr_palloc(p, n + 1);
    if (n && apr_file_read_full(f, buf, n, &n) != APR_SUCCESS) n = 0;
    apr_file_close(f);
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        memset(buf, 0, n);
        *why = apr_psprintf(p, "%s: %s holds a NUL byte", option, path);
        return NULL;
    }
    for (s = buf; *s && apr_isspace(*s); s++);
    for (e = s + strlen(s); e > s && apr_isspace(e[-1]); e--);
    *e = '\0';
    if (!*s) {
        *why = apr_psprintf(p, "%s: %s is empty", option, path);
        return NULL;
    }
    copy = apr_pstrdup(p, s);
    memset(buf, 0, n);   /* one copy of the secret, not two */
    return copy;
}

const char *gf_secret_from_file(apr_pool_t *p, const char *option, const char *path,
                                const char **secret)
{
    const char *why = NULL;
    char *s = read_trimmed(p, option, path, &why);

    if (!s) return why;
    if (!is_token(s)) {
        memset(s, 0, strlen(s));
        return apr_psprintf(p, "%s: the secret in %s must be one word of printable ASCII "
                            "(no spaces, control characters or other bytes)", option, path);
    }
    *secret = s;
    return NULL;
}

const char *gf_secret_text_from_file(apr_pool_t *p, const char *option, const char *path,
                                     const char **text)
{
    const char *why = NULL;
    char *s = read_trimmed(p, option, path, &why);

    if (!s) return why;
    if (!gf_utf8_valid_str(s)) {
        return apr_psprintf(p, "%s: %s is not valid UTF-8 text", option, path);
    }
    *text = s;
    return NULL;
}

const char *gf_secret_from_env(apr_pool_t *p, const char *option, const char *name,
                               const char **secret)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        return apr_psprintf(p, "%s: the environment variable %s is not set", option, name);
    }
    if (!is_token(v)) {
        return apr_psprintf(p, "%s: the secret in the environment variable %s must be one word "
                            "of printable ASCII (no spaces, control characters or other bytes)",
                            option, name);
    }
    *secret = apr_pstrdup(p, v);
    return NULL;
}

apr_array_header_t *gf_secret_lines(apr_pool_t *p, const char *text, int max, const char *what,
                                    const char *(*check)(apr_pool_t *p, const char *line),
                                    const char **err)
{
    apr_array_header_t *lines = apr_array_make(p, 2, sizeof(const char *));
    char *line = apr_pstrdup(p, text ? text : ""), *next, *end;
    const char *why;
    int n;

    for (n = 1; line; line = next, n++) {
        if ((next = strchr(line, '\n')) != NULL) *next++ = '\0';
        end = line + strlen(line);
        while (apr_isspace(*line)) line++;
        while (end > line && apr_isspace(end[-1])) *--end = '\0';
        if (!*line || *line == '#') continue;
        if ((why = check(p, line)) != NULL) {
            *err = apr_psprintf(p, "line %d: %s", n, why);
            return NULL;
        }
        if (lines->nelts == max) {
            *err = apr_psprintf(p, "at most %d %ss", max, what);
            return NULL;
        }
        APR_ARRAY_PUSH(lines, const char *) = line;
    }
    if (!lines->nelts) {
        *err = apr_psprintf(p, "no %s in the file", what);
        return NULL;
    }
    return lines;
}
