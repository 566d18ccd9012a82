/* SPDX-License-Identifier: Apache-2.0 */
/* gf_utf8.h: strict UTF-8 for text that arrives from clients, providers
 * and files.
 *
 * json-c and libcurl pass bytes through; PostgreSQL refuses some of them
 * (and then a request ends in a 500), logs and JSON answers must never
 * carry them. "Valid" here is RFC 3629: no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF, and no NUL, which would cut a
 * C string short.
 */
#ifndef GF_UTF8_H
#define GF_UTF8_H

#include <apr_pools.h>

/* Are the n bytes at s valid UTF-8 without NUL? */
int gf_utf8_valid(const char *s, apr_size_t n);

/* The same for a NUL-terminated string (NULL is valid: absent). */
int gf_utf8_valid_str(const char *s);

/* Valid and free of control characters (below 0x20, and DEL): text from
 * a configuration file that goes into URLs, JSON and the database. */
int gf_utf8_printable_str(const char *s);

/* A copy of the n bytes at s that is valid UTF-8: each invalid byte and
 * each control character (below 0x20, and DEL) becomes '?', and the
 * result is cut on a character boundary to at most max bytes. For
 * provider error text, which goes to the database, the logs and answers. */
char *gf_utf8_clean(apr_pool_t *p, const char *s, apr_size_t n, apr_size_t max);

#endif
