/* SPDX-License-Identifier: Apache-2.0 */
/* gf_previews.c: the latest preview of each generation (gf_previews.h). */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "core/gf_previews.h"

/* 8-4-4-4-12 hex digits. */
static int is_uuid(const char *s, apr_size_t len)
{
    apr_size_t i;
    if (len != 36) return 0;
    for (i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !apr_isxdigit(s[i])) return 0;
    }
    return 1;
}

int gf_previews_parse(const char *payload, char id[GF_PREVIEW_ID_MAX], apr_time_t *stamp,
                      char url[GF_PREVIEW_URL_MAX])
{
    const char *sp = payload ? strchr(payload, ' ') : NULL, *t, *u;
    apr_int64_t v = 0;
    apr_size_t n;

    if (!sp || !is_uuid(payload, (apr_size_t)(sp - payload))) return 0;
    /* The stamp: 1 to 18 digits (µs since the epoch fit in 17). */
    for (t = sp + 1, n = 0; apr_isdigit(*t) && n < 18; t++, n++) v = v * 10 + (*t - '0');
    if (n == 0 || *t != ' ') return 0;
    u = t + 1;
    n = strlen(u);
    if (n == 0 || n >= GF_PREVIEW_URL_MAX) return 0;
    for (t = u; *t; t++) {
        if ((unsigned char)*t <= ' ' || (unsigned char)*t > '~') return 0;
    }
    memcpy(id, payload, 36);
    id[36] = '\0';
    *stamp = (apr_time_t)v;
    memcpy(url, u, n + 1);
    return 1;
}

int gf_previews_key(const char *key)
{
    static const char folder[] = "previews/";
    apr_size_t i;
    const char *k;

    if (!key || strncmp(key, folder, sizeof(folder) - 1)) return 0;
    k = key + sizeof(folder) - 1;
    /* <uuid>-<16 hex>.jpg: 36 + 1 + 16 + 4 bytes. */
    if (strlen(k) != 57 || !is_uuid(k, 36) || k[36] != '-' || strcmp(k + 53, ".jpg")) return 0;
    for (i = 37; i < 53; i++) {
        if (!apr_isxdigit(k[i])) return 0;
    }
    return 1;
}

apr_uint32_t gf_previews_put(gf_previews_t *b, const char *id, apr_time_t stamp, const char *url,
                             apr_time_t now)
{
    gf_preview_t *slot = NULL, *oldest = &b->slots[0];
    apr_size_t i;

    for (i = 0; i < GF_PREVIEWS_SLOTS; i++) {
        gf_preview_t *x = &b->slots[i];
        if (x->seq && !strcmp(x->id, id)) {
            slot = x;
            break;
        }
        /* An empty slot is the oldest of all. */
        if (!x->seq || (oldest->seq && x->seq < oldest->seq)) oldest = x;
    }
    if (slot && slot->stamp > stamp) return 0;   /* a later one is there already */
    if (!slot) slot = oldest;
    apr_cpystrn(slot->id, id, sizeof(slot->id));
    apr_cpystrn(slot->url, url, sizeof(slot->url));
    slot->at = now;
    slot->stamp = stamp;
    /* Never 0, even after 2^32 previews in one child. */
    if (++b->seq == 0) b->seq = 1;
    slot->seq = b->seq;
    return slot->seq;
}

apr_uint32_t gf_previews_get(const gf_previews_t *b, const char *id, apr_time_t now,
                             apr_interval_time_t keep, char *url, apr_size_t size)
{
    apr_size_t i;
    for (i = 0; i < GF_PREVIEWS_SLOTS; i++) {
        const gf_preview_t *x = &b->slots[i];
        if (!x->seq || strcmp(x->id, id)) continue;
        if (now - x->at > keep || x->at > now + apr_time_from_sec(60)) return 0;
        if (url && size) apr_cpystrn(url, x->url, size);
        return x->seq;
    }
    return 0;
}
