/* SPDX-License-Identifier: Apache-2.0 */
/* gf_status_cache.c: status answers of generations (see
 * gf_status_cache.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_atomic.h>

#include "core/gf_status_cache.h"

typedef struct {
    const void *scope;          /* NULL: the slot is empty */
    char *id, *user, *json, *etag;   /* one malloc'd block, id first */
    char *line;                 /* in the block too: the line it waits in, or NULL */
    char *dress, *dressed, *dressed_etag; /* one malloc'd block, dress first, or NULL:
                                  * the answer as one reader's was sent */
    apr_time_t born, until;
    apr_time_t refresh;         /* past until: when a get was sent to read it again */
    apr_uint32_t mark;          /* its bucket's shared mark when it was read */
} entry_t;

struct gf_status_cache_t {
    entry_t *slots;
    apr_uint32_t *versions;     /* per slot: forgets seen */
    apr_uint32_t epoch;         /* clears seen */
    apr_uint32_t *marks;        /* shared with the node's other processes, or NULL */
    gf_status_place_t *places;  /* likewise, GF_STATUS_PLACES of them, or NULL */
    apr_size_t n, count;
};

/* FNV-1a over the id: ids are random UUIDs, any mixing spreads them. */
static apr_uint32_t hash_of(const char *id)
{
    apr_uint32_t h = 2166136261u;
    for (; *id; id++) h = (h ^ (unsigned char)*id) * 16777619u;
    return h;
}

static apr_size_t slot_of(const gf_status_cache_t *c, const char *id)
{
    return (apr_size_t)hash_of(id) % c->n;
}

/* The shared mark of id's bucket (0 when nothing is shared). */
static apr_uint32_t mark_of(const gf_status_cache_t *c, const char *id)
{
    if (!c->marks) return 0;
    return apr_atomic_read32(&c->marks[hash_of(id) % GF_STATUS_MARKS]);
}

static entry_t *entry_of(gf_status_cache_t *c, const void *scope, const char *id,
                         const char *user);

static void drop(gf_status_cache_t *c, entry_t *e)
{
    if (!e->scope) return;
    free(e->id);
    free(e->dress);
    memset(e, 0, sizeof(*e));
    c->count--;
}

static apr_status_t free_all(void *data)
{
    gf_status_cache_clear(data);
    return APR_SUCCESS;
}

gf_status_cache_t *gf_status_cache_create(apr_pool_t *p, apr_size_t slots)
{
    gf_status_cache_t *c = apr_pcalloc(p, sizeof(*c));
    c->n = slots ? slots : 1;
    c->slots = apr_pcalloc(p, sizeof(entry_t) * c->n);
    c->versions = apr_pcalloc(p, sizeof(apr_uint32_t) * c->n);
    apr_pool_cleanup_register(p, c, free_all, apr_pool_cleanup_null);
    return c;
}

int gf_status_cache_get(gf_status_cache_t *c, const void *scope, const char *id,
                        const char *user, apr_pool_t *p, const char **json, const char **etag,
                        apr_time_t *born, apr_time_t *until)
{
    return gf_status_cache_get_dressed(c, scope, id, user, NULL, p, json, etag, born, until);
}

int gf_status_cache_get_dressed(gf_status_cache_t *c, const void *scope, const char *id,
                                const char *user, const char *dress, apr_pool_t *p,
                                const char **json, const char **etag, apr_time_t *born,
                                apr_time_t *until)
{
    entry_t *e = &c->slots[slot_of(c, id)];
    if (!e->scope || e->scope != scope || strcmp(e->id, id) || strcmp(e->user, user)) {
        return 0;
    }
    if (e->until) {
        /* Past its time: the first get reads it again (a miss), and the
         * gets meanwhile take this one for GF_STATUS_CACHE_REFRESH, so
         * that a crowd whose looks fall due together sends one read, not
         * one each. A reader that never puts is replaced after that. */
        apr_time_t now = apr_time_now();
        if (now >= e->until + GF_STATUS_CACHE_REFRESH) {
            drop(c, e);
            return 0;
        }
        if (now >= e->until && (!e->refresh || now >= e->refresh + GF_STATUS_CACHE_REFRESH)) {
            e->refresh = now;
            return 0;
        }
    }
    if (e->mark != mark_of(c, id)) {
        /* Another process changed it (or an id of its bucket). */
        drop(c, e);
        return 0;
    }
    if (born) *born = e->born;
    if (until) *until = e->until;
    if (dress && e->dress && !strcmp(e->dress, dress)) {
        *json = apr_pstrdup(p, e->dressed);
        *etag = apr_pstrdup(p, e->dressed_etag);
        return 2;
    }
    *json = apr_pstrdup(p, e->json);
    *etag = apr_pstrdup(p, e->etag);
    return 1;
}

int gf_status_cache_dress(gf_status_cache_t *c, const void *scope, const char *id,
                          const char *user, const char *base_etag, const char *dress,
                          const char *json, const char *etag)
{
    entry_t *e = entry_of(c, scope, id, user);
    size_t ld = strlen(dress) + 1, lj = strlen(json) + 1, le = strlen(etag) + 1;
    char *block;

    /* Not the answer it was dressed from (changed, or read again since). */
    if (!e || strcmp(e->etag, base_etag) || ld + lj + le > GF_STATUS_CACHE_ENTRY_MAX) return 0;
    if (!(block = malloc(ld + lj + le))) return 0;
    free(e->dress);
    e->dress = memcpy(block, dress, ld);
    e->dressed = memcpy(block + ld, json, lj);
    e->dressed_etag = memcpy(block + ld + lj, etag, le);
    return 1;
}

apr_uint64_t gf_status_cache_version(const gf_status_cache_t *c, const char *id)
{
    /* Forgets and clears only add, so their sum moves whenever either
     * does; the low half is the shared mark. */
    return ((apr_uint64_t)(c->epoch + c->versions[slot_of(c, id)]) << 32) | mark_of(c, id);
}

int gf_status_cache_put(gf_status_cache_t *c, const void *scope, const char *id,
                        const char *user, const char *json, const char *etag, apr_time_t born,
                        apr_time_t until, apr_uint64_t version)
{
    return gf_status_cache_put_line(c, scope, id, user, json, etag, born, until, NULL, version);
}

int gf_status_cache_put_line(gf_status_cache_t *c, const void *scope, const char *id,
                             const char *user, const char *json, const char *etag,
                             apr_time_t born, apr_time_t until, const char *line,
                             apr_uint64_t version)
{
    apr_size_t slot = slot_of(c, id);
    entry_t *e = &c->slots[slot];
    size_t li = strlen(id) + 1, lu = strlen(user) + 1, lj = strlen(json) + 1,
           le = strlen(etag) + 1, ll = line ? strlen(line) + 1 : 0;
    char *block;

    /* Forgotten (changed) after the caller read it: the answer may be
     * stale. So may the entry of the id that another put left meanwhile
     * (one with a place in line, kept a second, read before the caller's):
     * neither is kept. */
    if (version != gf_status_cache_version(c, id)) {
        if (e->scope && !strcmp(e->id, id)) drop(c, e);
        return 0;
    }
    if (!scope || li + lu + lj + le + ll > GF_STATUS_CACHE_ENTRY_MAX) return 0;
    if (!(block = malloc(li + lu + lj + le + ll))) return 0;
    drop(c, e);
    e->id = block;
    e->user = memcpy(block + li, user, lu);
    e->json = memcpy(block + li + lu, json, lj);
    e->etag = memcpy(block + li + lu + lj, etag, le);
    e->line = line ? memcpy(block + li + lu + lj + le, line, ll) : NULL;
    memcpy(e->id, id, li);
    e->scope = scope;
    e->born = born;
    e->until = until;
    e->refresh = 0;
    e->mark = (apr_uint32_t)version;
    c->count++;
    return 1;
}

/* The entry of (scope, id, user), whatever its time, or NULL. */
static entry_t *entry_of(gf_status_cache_t *c, const void *scope, const char *id,
                         const char *user)
{
    entry_t *e = &c->slots[slot_of(c, id)];
    if (!e->scope || e->scope != scope || strcmp(e->id, id) || strcmp(e->user, user)) return NULL;
    return e;
}

const char *gf_status_cache_line(gf_status_cache_t *c, const void *scope, const char *id,
                                 const char *user, apr_pool_t *p)
{
    entry_t *e = entry_of(c, scope, id, user);
    return e && e->line && e->until ? apr_pstrdup(p, e->line) : NULL;
}

int gf_status_cache_line_watched(gf_status_cache_t *c, const void *scope, const char *line,
                                 int max, apr_pool_t *p, apr_array_header_t *ids,
                                 apr_array_header_t *users)
{
    apr_time_t now = apr_time_now();
    apr_size_t i;
    int n = 0;
    for (i = 0; i < c->n && n < max; i++) {
        entry_t *e = &c->slots[i];
        /* Looked at within the last refresh: watched still. */
        if (!e->scope || e->scope != scope || !e->line || !e->until || strcmp(e->line, line)
            || now >= e->until + GF_STATUS_CACHE_REFRESH) {
            continue;
        }
        e->refresh = now;
        APR_ARRAY_PUSH(ids, const char *) = apr_pstrdup(p, e->id);
        APR_ARRAY_PUSH(users, const char *) = apr_pstrdup(p, e->user);
        n++;
    }
    return n;
}

void gf_status_cache_forget(gf_status_cache_t *c, const char *id)
{
    apr_size_t slot = slot_of(c, id);
    entry_t *e = &c->slots[slot];
    c->versions[slot]++;
    if (e->scope && !strcmp(e->id, id)) drop(c, e);
}

void gf_status_cache_clear(gf_status_cache_t *c)
{
    apr_size_t i;
    c->epoch++;
    if (!c->count) return;
    for (i = 0; i < c->n; i++) drop(c, &c->slots[i]);
}

void gf_status_cache_share(gf_status_cache_t *c, apr_uint32_t *marks)
{
    c->marks = marks;
}

void gf_status_cache_share_places(gf_status_cache_t *c, gf_status_place_t *places)
{
    c->places = places;
}

void gf_status_cache_publish_place(gf_status_cache_t *c, const char *id, long place,
                                   apr_time_t read_at, apr_int32_t pid)
{
    gf_status_place_t *s;
    apr_uint32_t seq;
    if (!c->places || strlen(id) >= sizeof(s->id)) return;
    s = &c->places[hash_of(id) % GF_STATUS_PLACES];
    seq = apr_atomic_read32(&s->seq);
    /* Being written by another, or taken meanwhile: that one's is as good. */
    if ((seq & 1) || apr_atomic_cas32(&s->seq, seq + 1, seq) != seq) return;
    apr_cpystrn(s->id, id, sizeof(s->id));
    s->place = (apr_int32_t)place;
    s->pid = pid;
    s->read_at = read_at;
    apr_atomic_inc32(&s->seq);       /* even again: whole (a full barrier) */
}

int gf_status_cache_shared_place(const gf_status_cache_t *c, const char *id, apr_time_t now,
                                 apr_int32_t self, apr_interval_time_t own_age,
                                 apr_interval_time_t max_age, long *place)
{
    const gf_status_place_t *s;
    gf_status_place_t copy;
    apr_uint32_t before;
    if (!c->places) return 0;
    s = &c->places[hash_of(id) % GF_STATUS_PLACES];
    /* Adding 0 reads the sequence with a full barrier on each side. */
    before = apr_atomic_add32((volatile apr_uint32_t *)&s->seq, 0);
    if (before & 1) return 0;
    memcpy(&copy, (const void *)s, sizeof(copy));
    if (apr_atomic_add32((volatile apr_uint32_t *)&s->seq, 0) != before) return 0;
    copy.id[sizeof(copy.id) - 1] = '\0';
    if (copy.pid == self) max_age = own_age;
    if (strcmp(copy.id, id) || copy.read_at > now || now - copy.read_at >= max_age) return 0;
    *place = copy.place;
    return 1;
}

int gf_status_cache_peek(gf_status_cache_t *c, const void *scope, const char *id,
                         const char *user, apr_pool_t *p, const char **json, apr_time_t *born,
                         const char **line)
{
    entry_t *e = entry_of(c, scope, id, user);
    if (!e) return 0;
    if (e->mark != mark_of(c, id)) {
        drop(c, e);
        return 0;
    }
    *json = apr_pstrdup(p, e->json);
    *born = e->born;
    *line = e->line ? apr_pstrdup(p, e->line) : NULL;
    return 1;
}

void gf_status_cache_mark(gf_status_cache_t *c, const char *id)
{
    if (c->marks) apr_atomic_inc32(&c->marks[hash_of(id) % GF_STATUS_MARKS]);
    gf_status_cache_forget(c, id);
}

apr_size_t gf_status_cache_count(const gf_status_cache_t *c)
{
    return c->count;
}
