/* gf_http.h: one HTTP exchange over libcurl, for the provider adapters.
 *
 * Every call has a connect timeout, a total timeout and a response size
 * cap; CURLOPT_NOSIGNAL is set (threaded MPMs); only https is allowed,
 * except plain http to a loopback address when the caller explicitly
 * allows it (mock providers in tests). Failures are classified: a
 * transport error (connect, DNS, TLS, timeout, reset, truncated body) is
 * transient; an oversized body is not.
 */
#ifndef GF_HTTP_H
#define GF_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct {
    const char *name;          /* form field name */
    const char *value;         /* text value, or NULL with data */
    const unsigned char *data; /* file contents */
    apr_size_t data_len;
    const char *filename;      /* for file parts */
    const char *content_type;
} gf_http_part_t;

typedef struct {
    const char *method;        /* GET, POST, PUT */
    const char *url;
    apr_table_t *headers;      /* request headers, may be NULL */
    const char *body;          /* raw body or NULL */
    apr_size_t body_len;
    apr_array_header_t *parts; /* gf_http_part_t: multipart/form-data instead of body */
    long connect_timeout_ms;
    long timeout_ms;
    apr_size_t max_response;   /* bytes; larger answers are refused */
    int allow_loopback_http;   /* permit http:// to 127.0.0.0/8, localhost, ::1 */
} gf_http_request_t;

typedef struct {
    int status;                /* HTTP status, 0 when no answer */
    apr_table_t *headers;      /* response headers, names lower-cased */
    char *body;                /* NUL-terminated copy */
    apr_size_t body_len;
    const char *content_type;  /* or "" */
    const char *error;         /* transport failure, NULL when an answer came */
    int transient;             /* the failure is worth retrying */
    int too_large;             /* the answer exceeded max_response */
} gf_http_response_t;

/* Once per process, while single-threaded (post_config). */
void gf_http_global_init(void);

/* Is this URL allowed under the request's scheme rules? NULL or why not. */
const char *gf_http_check_url(apr_pool_t *p, const char *url, int allow_loopback_http);

void gf_http_perform(apr_pool_t *p, const gf_http_request_t *req, gf_http_response_t *res);

#endif
