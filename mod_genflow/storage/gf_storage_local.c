/* SPDX-License-Identifier: Apache-2.0 */
/* gf_storage_local.c: results stored as files that Apache serves.
 *
 * Each file is written to a temporary name, flushed to disk, renamed
 * into place and its folder flushed (and a folder made for it, into its
 * parent), so a crash never leaves a half-written or unnamed picture
 * behind a completed generation.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_file_io.h>
#include <apr_file_info.h>

#include "storage/gf_storage.h"
#include "net/gf_loop.h"

typedef struct {
    const char *dir;
    const char *url_prefix;
} local_storage_t;

static int safe_key(const char *key)
{
    /* Keys are built by the module from the type and a UUID; refuse anything
     * that could escape the directory all the same. */
    const char *s;
    if (!*key || key[0] == '/' || strstr(key, "..")) return 0;
    for (s = key; *s; s++) {
        if (!(apr_isalnum(*s) || *s == '-' || *s == '_' || *s == '.' || *s == '/')) return 0;
    }
    return 1;
}

/* The new name is on disk only once its directory is: without this, a
 * power cut after the rename may leave the picture under its temporary
 * name while the generation's committed row points at the final one. */
static apr_status_t sync_dir(const char *dir, apr_pool_t *p)
{
    apr_file_t *d;
    apr_status_t rv = apr_file_open(&d, dir, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) return rv;
    rv = apr_file_sync(d);
    apr_file_close(d);
    /* Some filesystems cannot sync a directory (EINVAL): nothing more to do there. */
    return APR_STATUS_IS_EINVAL(rv) ? APR_SUCCESS : rv;
}

/* dir after a rename in it, and the levels above it that this put made
 * (made: 0 none, 1 dir itself, 2 dir and perhaps its parent): each new
 * name is in its parent folder, which must reach the disk too. */
static apr_status_t sync_made(const char *dir, int made, apr_pool_t *p)
{
    apr_status_t rv = sync_dir(dir, p);
    char *up = apr_pstrdup(p, dir), *slash;
    int level;

    for (level = 0; rv == APR_SUCCESS && level < made; level++) {
        if (!(slash = strrchr(up, '/')) || slash == up) break;
        *slash = '\0';
        rv = sync_dir(up, p);
    }
    return rv;
}

static apr_status_t local_put(const gf_storage_t *st, apr_pool_t *p, const char *key,
                              const unsigned char *data, apr_size_t len,
                              const char *content_type, const char **url,
                              const char **err)
{
    const local_storage_t *ls = st->impl;
    const char *path, *dir, *slash;
    char *tmpl;
    apr_file_t *f;
    apr_size_t written;
    apr_status_t rv;
    int made = 0;
    char errbuf[120];

    (void)content_type;
    if (!safe_key(key)) {
        *err = "unsafe storage key";
        return APR_EINVAL;
    }
    path = apr_pstrcat(p, ls->dir, "/", key, NULL);
    slash = strrchr(path, '/');
    dir = apr_pstrmemdup(p, path, (apr_size_t)(slash - path));
    /* Most puts find their folder; a folder made here (a type's first
     * picture in it) is synced into its parents after the rename too. */
    rv = apr_dir_make(dir, APR_FPROT_OS_DEFAULT, p);
    if (rv == APR_SUCCESS) made = 1;
    else if (APR_STATUS_IS_EEXIST(rv)) rv = APR_SUCCESS;
    else if ((rv = apr_dir_make_recursive(dir, APR_FPROT_OS_DEFAULT, p)) == APR_SUCCESS) made = 2;
    if (rv != APR_SUCCESS) goto fail;

    tmpl = apr_pstrcat(p, path, ".XXXXXX", NULL);
    rv = apr_file_mktemp(&f, tmpl, APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                                   | APR_FOPEN_BINARY, p);
    if (rv != APR_SUCCESS) goto fail;
    rv = apr_file_write_full(f, data, len, &written);
    if (rv == APR_SUCCESS) rv = apr_file_sync(f);
    if (rv == APR_SUCCESS) rv = apr_file_perms_set(tmpl, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                                        | APR_FPROT_GREAD | APR_FPROT_WREAD);
    if (rv == APR_ENOTIMPL) rv = APR_SUCCESS;
    apr_file_close(f);
    if (rv == APR_SUCCESS) rv = apr_file_rename(tmpl, path, p);
    if (rv != APR_SUCCESS) {
        apr_file_remove(tmpl, p);
        goto fail;
    }
    if ((rv = sync_made(dir, made, p)) != APR_SUCCESS) {
        /* Not on disk for sure: no row will name it, so it goes. */
        apr_file_remove(path, p);
        goto fail;
    }
    *url = apr_pstrcat(p, ls->url_prefix, "/", key, NULL);
    return APR_SUCCESS;
fail:
    *err = apr_psprintf(p, "cannot store %s: %s", key, apr_strerror(rv, errbuf, sizeof(errbuf)));
    return rv;
}

static apr_status_t local_remove(const gf_storage_t *st, apr_pool_t *p, const char *key)
{
    const local_storage_t *ls = st->impl;
    if (!safe_key(key)) return APR_EINVAL;
    return apr_file_remove(apr_pstrcat(p, ls->dir, "/", key, NULL), p);
}

/* A file of the directory, read whole: its size is checked against max
 * before anything is allocated, and a file that changed size meanwhile is
 * refused rather than read in part. */
static apr_status_t local_get(const gf_storage_t *st, apr_pool_t *p, const char *key,
                              const char *url, apr_size_t max, unsigned char **data,
                              apr_size_t *len, const char **err)
{
    const local_storage_t *ls = st->impl;
    apr_finfo_t fi;
    apr_file_t *f;
    apr_size_t got = 0;
    unsigned char *buf;
    apr_status_t rv;
    char errbuf[120];

    (void)url;
    if (!safe_key(key)) {
        *err = "unsafe storage key";
        return APR_EINVAL;
    }
    rv = apr_file_open(&f, apr_pstrcat(p, ls->dir, "/", key, NULL),
                       APR_FOPEN_READ | APR_FOPEN_BINARY, APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) goto fail;
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f);
    if (rv == APR_SUCCESS && (fi.filetype != APR_REG || fi.size < 0
                              || (apr_uint64_t)fi.size > (apr_uint64_t)max)) {
        apr_file_close(f);
        *err = apr_psprintf(p, "%s is not a regular file of at most %" APR_SIZE_T_FMT
                            " bytes", key, max);
        return APR_EINVAL;
    }
    if (rv != APR_SUCCESS) {
        apr_file_close(f);
        goto fail;
    }
    /* One byte more than the size tells a file that grew since. */
    buf = apr_palloc(p, (apr_size_t)fi.size + 1);
    rv = apr_file_read_full(f, buf, (apr_size_t)fi.size + 1, &got);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) goto fail;
    if (got != (apr_size_t)fi.size) {
        *err = apr_psprintf(p, "%s changed while it was read", key);
        return APR_EINVAL;
    }
    *data = buf;
    *len = got;
    return APR_SUCCESS;
fail:
    *err = apr_psprintf(p, "cannot read %s: %s", key, apr_strerror(rv, errbuf, sizeof(errbuf)));
    return rv;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const gf_storage_object_t *)a)->key, ((const gf_storage_object_t *)b)->key);
}

/* The files of one folder of the directory (prefix ends with '/'), its
 * temporary names included: a writer killed before its rename leaves one.
 * The folder is read whole, then sorted and cut to max. */
static apr_status_t local_list(const gf_storage_t *st, apr_pool_t *p, const char *prefix,
                               const char *after, int max, apr_array_header_t **out,
                               const char **err)
{
    const local_storage_t *ls = st->impl;
    apr_dir_t *d;
    apr_finfo_t fi;
    apr_status_t rv;
    char errbuf[120];

    *out = apr_array_make(p, 16, sizeof(gf_storage_object_t));
    if (!safe_key(prefix) || prefix[strlen(prefix) - 1] != '/') {
        *err = "unsafe storage prefix";
        return APR_EINVAL;
    }
    rv = apr_dir_open(&d, apr_pstrcat(p, ls->dir, "/", prefix, NULL), p);
    if (APR_STATUS_IS_ENOENT(rv)) return APR_SUCCESS;   /* nothing stored yet */
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "cannot list %s: %s", prefix, apr_strerror(rv, errbuf, sizeof(errbuf)));
        return rv;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE | APR_FINFO_MTIME, d) == APR_SUCCESS) {
        gf_storage_object_t *o;
        const char *key;
        if (fi.filetype != APR_REG || !safe_key(fi.name)) continue;
        key = apr_pstrcat(p, prefix, fi.name, NULL);
        if (after && strcmp(key, after) <= 0) continue;
        o = apr_array_push(*out);
        o->key = key;
        o->mtime = fi.mtime;
    }
    apr_dir_close(d);
    qsort((*out)->elts, (size_t)(*out)->nelts, sizeof(gf_storage_object_t), by_key);
    if ((*out)->nelts > max) (*out)->nelts = max;
    return APR_SUCCESS;
}

gf_storage_t *gf_storage_local_create(apr_pool_t *p, const char *dir, const char *url_prefix)
{
    gf_storage_t *st = apr_pcalloc(p, sizeof(*st));
    local_storage_t *ls = apr_pcalloc(p, sizeof(*ls));
    apr_size_t n = strlen(url_prefix);

    ls->dir = apr_pstrdup(p, dir);
    /* "/media/" and "/media" both give "/media/<key>". */
    ls->url_prefix = (n && url_prefix[n - 1] == '/') ? apr_pstrmemdup(p, url_prefix, n - 1)
                                                     : apr_pstrdup(p, url_prefix);
    st->backend = "local";
    st->blocks = 1;
    st->put = local_put;
    st->remove = local_remove;
    st->get = local_get;
    st->list = local_list;
    st->impl = ls;
    return st;
}

typedef struct {
    const gf_storage_t *st;
    apr_pool_t *p;
    const char *key;
    const unsigned char *data;
    apr_size_t len;
    const char *content_type;
    const char **url;
    const char **err;
    apr_status_t rv;
} put_t;

static void put_now(void *baton)
{
    put_t *x = baton;
    x->rv = x->st->put(x->st, x->p, x->key, x->data, x->len, x->content_type, x->url, x->err);
}

apr_status_t gf_storage_put(const gf_storage_t *st, apr_pool_t *p, const char *key,
                            const unsigned char *data, apr_size_t len,
                            const char *content_type, const char **url,
                            const char **err)
{
    put_t x;
    if (!st->blocks) return st->put(st, p, key, data, len, content_type, url, err);
    x.st = st;
    x.p = p;
    x.key = key;
    x.data = data;
    x.len = len;
    x.content_type = content_type;
    x.url = url;
    x.err = err;
    x.rv = APR_EGENERAL;
    gf_loop_blocking(put_now, &x);
    return x.rv;
}

apr_status_t gf_storage_remove(const gf_storage_t *st, apr_pool_t *p, const char *key)
{
    return st->remove ? st->remove(st, p, key) : APR_ENOTIMPL;
}

apr_status_t gf_storage_list(const gf_storage_t *st, apr_pool_t *p, const char *prefix,
                             const char *after, int max, apr_array_header_t **out,
                             const char **err)
{
    if (!st->list) {
        *err = apr_psprintf(p, "the %s storage cannot list", st->backend);
        return APR_ENOTIMPL;
    }
    return st->list(st, p, prefix, after, max, out, err);
}

apr_status_t gf_storage_get(const gf_storage_t *st, apr_pool_t *p, const char *key,
                            const char *url, apr_size_t max, unsigned char **data,
                            apr_size_t *len, const char **err)
{
    if (!st->get) {
        *err = apr_psprintf(p, "the %s storage cannot read back", st->backend);
        return APR_ENOTIMPL;
    }
    return st->get(st, p, key, url, max, data, len, err);
}
