/* SPDX-License-Identifier: Apache-2.0 */
/* gf_stream_token.h: the token of an events URL on a host of its own
 * (GenFlowEventsBase).
 *
 * A browser's EventSource cannot send an Authorization header, and a Basic
 * login belongs to one host and port: a stream on another host would come
 * unauthenticated. The status object therefore names the stream with a
 * token in its query ("?token="), made with the site's
 * GenFlowEventsSecretFile: it lets its holder follow one generation of one
 * type as its owner until it expires, and nothing else.
 *
 * Form: "<expiry>.<user>.<mac>", the expiry in seconds since the epoch,
 * the user and the MAC in base64url without padding; the MAC is
 * HMAC-SHA256 of "genflow-events-v1\n<type>\n<id>\n<user>\n<expiry>".
 */
#ifndef GF_STREAM_TOKEN_H
#define GF_STREAM_TOKEN_H

#include <apr_pools.h>
#include <apr_tables.h>

/* Longest token accepted (a user of 255 bytes fits). */
#define GF_STREAM_TOKEN_MAX 512

/* The token for user following generation id of type until expiry; NULL
 * when it cannot be made (no key, a user of more than 255 bytes). */
const char *gf_stream_token_make(apr_pool_t *p, const unsigned char *key, size_t keylen,
                                 const char *type, const char *id, const char *user,
                                 apr_int64_t expiry);

/* The user a token names, when it is well formed, its MAC is right for
 * type and id, and it has not expired at now; else NULL, with *why saying
 * which (for the error answer; never the key or the MAC). */
const char *gf_stream_token_user(apr_pool_t *p, const unsigned char *key, size_t keylen,
                                 const char *type, const char *id, const char *token,
                                 apr_int64_t now, const char **why);

/* The keys of GenFlowEventsSecretFile (const char *): one a line, newest
 * first, blank lines and '#' comments skipped, each at least
 * GF_STREAM_KEY_MIN characters, at most GF_STREAM_KEYS_MAX. The first
 * makes tokens and every one checks them: a new key put first while the
 * old one stays second lets the tokens given out meanwhile live out their
 * day or two. NULL, with *err saying why, for a file without a key or
 * with a short one. */
#define GF_STREAM_KEY_MIN 32
#define GF_STREAM_KEYS_MAX 4
apr_array_header_t *gf_stream_keys_parse(apr_pool_t *p, const char *text, const char **err);

/* gf_stream_token_user under each of keys in turn: the user of the first
 * that takes the token. *why is the expiry's when a key made it but it has
 * expired. */
const char *gf_stream_token_user_any(apr_pool_t *p, const apr_array_header_t *keys,
                                     const char *type, const char *id, const char *token,
                                     apr_int64_t now, const char **why);

/* The expiry of a token made at now: the end of the next UTC day. A token
 * is the same all day (so the status answer that carries it stays the
 * same, and its ETag with it), and valid 1 to 2 days: longer than a
 * generation waits. */
apr_int64_t gf_stream_token_expiry(apr_int64_t now);

#endif
