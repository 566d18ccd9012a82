/* SPDX-License-Identifier: Apache-2.0 */
/* gf_previews.h: the latest preview of each generation being drawn, as a
 * child keeps them for the watchers of its event streams.
 *
 * A preview is a small picture of a generation not yet finished (a
 * partial picture a provider streamed), announced to every node on the
 * notification channel genflow_preview as "<generation id> <stamp> <url>",
 * the stamp being when it was taken (µs since the epoch): a preview
 * announced late never replaces one taken after it. Each
 * child's listener puts what it hears on its board, and an event stream
 * of that generation sends the newest one it has not sent. The board is a
 * fixed array: a generation's preview replaces its last one, and a new
 * generation takes the place of the one heard of longest ago, so that a
 * burst of previews costs no memory beyond the array. Previews older than
 * the keep time are not handed out (their pictures are swept away).
 * The caller serialises calls (a mutex in the glue).
 */
#ifndef GF_PREVIEWS_H
#define GF_PREVIEWS_H

#include <apr.h>
#include <apr_time.h>

#define GF_PREVIEWS_SLOTS   256
#define GF_PREVIEW_ID_MAX   64      /* a generation id: a UUID, 36 bytes */
#define GF_PREVIEW_URL_MAX  2048    /* a preview's URL, NUL included */

typedef struct {
    char id[GF_PREVIEW_ID_MAX];
    char url[GF_PREVIEW_URL_MAX];
    apr_uint32_t seq;               /* 0: an empty slot */
    apr_time_t at;                  /* when it was heard */
    apr_time_t stamp;               /* when it was taken */
} gf_preview_t;

typedef struct {
    gf_preview_t slots[GF_PREVIEWS_SLOTS];
    apr_uint32_t seq;               /* the last sequence number given */
} gf_previews_t;

/* A notification's payload "<id> <stamp> <url>": 1 with id, stamp and url
 * copied out (NUL-terminated), 0 when it is not one (an id that is not a
 * UUID, a stamp that is not a number, a URL empty, too long or with a byte
 * outside printable ASCII). */
int gf_previews_parse(const char *payload, char id[GF_PREVIEW_ID_MAX], apr_time_t *stamp,
                      char url[GF_PREVIEW_URL_MAX]);

/* Is key one of the store's previews, "previews/<uuid>-<16 hex>.jpg"? */
int gf_previews_key(const char *key);

/* Put id's preview taken at stamp, heard at now: its sequence number
 * (never 0, higher than every earlier one), or 0 when the board holds one
 * of id taken later (it stays). */
apr_uint32_t gf_previews_put(gf_previews_t *b, const char *id, apr_time_t stamp, const char *url,
                             apr_time_t now);

/* id's newest preview heard within keep of now: its sequence number, with
 * its URL copied into url (size bytes); 0 when there is none. */
apr_uint32_t gf_previews_get(const gf_previews_t *b, const char *id, apr_time_t now,
                             apr_interval_time_t keep, char *url, apr_size_t size);

#endif
