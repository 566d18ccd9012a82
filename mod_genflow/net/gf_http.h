/* SPDX-License-Identifier: Apache-2.0 */
/* gf_http.h: one HTTP exchange over libcurl, for the provider adapters.
 *
 * Every call has a connect timeout, a total timeout and a response size
 * cap; CURLOPT_NOSIGNAL is set (threaded MPMs); only https is allowed,
 * except plain http to a loopback address when the caller explicitly
 * allows it (mock providers in tests). Failures are classified: a
 * transport error (connect, DNS, TLS, timeout, reset, truncated body) is
 * transient; an oversized body is not.
 *
 * Connection reuse: each calling thread keeps one curl handle for its
 * lifetime (reset between calls, every option set again each call), so a
 * worker that talks to the same provider host again reuses the open
 * connection and its TLS session instead of paying a new TCP + TLS
 * handshake (and DNS lookup) per request; up to 8 idle connections per
 * thread. DNS answers and TLS sessions are also shared between threads
 * through one process-wide share object. Idle connections are not shared
 * between threads: libcurl (7.88) does not support a connection cache
 * shared by concurrent threads.
 *
 * In a fiber of the engine's loop (gf_loop.h) an exchange does not hold
 * the thread: its transfer joins the loop's multi handle and the fiber
 * sleeps until it ends; the idle connections are then the loop's, shared
 * by every fiber of it. Everything else below holds in both modes.
 *
 * Origins and addresses: a request with an origin is refused before any
 * byte leaves unless its URL is on that origin (the provider adapters set
 * the configured base_url, so a poll or cancel URL taken from an answer
 * never carries the key elsewhere); redirects are never followed. With
 * http_to_origin, plain http is allowed to that one origin and nowhere
 * else (a site's own GPU server on a private address). A
 * request marked public_only (result downloads) connects only to public
 * addresses, checked on the address curl actually connects to, new or
 * reused (CURLOPT_OPENSOCKETFUNCTION and CURLOPT_PREREQFUNCTION). With a
 * proxy configured (https_proxy), that is the proxy's address.
 *
 * Trace: an exchange made in a pool that carries a generation's trace
 * (core/gf_trace.h) sends a traceparent of that trace with a span id of its
 * own, unless the request sets one.
 *
 * Abort: once the process-wide abort flag is raised, every transfer in
 * progress stops within about 100 ms (and new ones do not start), so that
 * a stopping child exits in bounded time instead of waiting out provider
 * timeouts of up to minutes.
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
    const char *origin;        /* if set, the URL must be on this origin (scheme, host,
                                * port) or nothing is sent: API calls carry the key */
    int http_to_origin;        /* permit plain http to exactly origin (a site's own
                                * server on its own network: ComfyUI) */
    int public_only;           /* connect only to public addresses (gf_netaddr.h);
                                * loopback too with allow_loopback_http */
    const char *aws_sigv4;     /* libcurl signs the request (CURLOPT_AWS_SIGV4), e.g.
                                * "aws:amz:eu-west-1:s3", with aws_key and aws_secret;
                                * the payload hash is the caller's x-amz-content-sha256 */
    const char *aws_key;
    const char *aws_secret;
    /* A streamed answer (OpenAI's partial pictures): when the answer is
     * text/event-stream, its body goes to tap as it comes, counted against
     * max_response but not kept; any other answer (an error's JSON) is
     * kept as usual. tap runs inside the transfer (on the loop thread in
     * a fiber) and must not block; it returns 0, or -1 to stop the
     * transfer (the answer is then an error, not transient). */
    int (*tap)(void *baton, const char *data, apr_size_t len);
    void *tap_baton;
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
    int aborted;               /* stopped by the abort flag (also transient, status 0) */
    int refused;               /* not sent: off its origin or to a non-public address
                                * (permanent; error says why) */
    int sent;                  /* a transport failure after the request went out: the
                                * server may have acted on it without our knowing */
    int tapped;                /* the body went to the request's tap (body is "") */
} gf_http_response_t;

/* Once per process, while single-threaded (post_config): curl's global
 * state and the share object (with its mutexes) used by every thread. */
void gf_http_global_init(void);

/* Frees the calling thread's curl handles and closes its idle connections.
 * Worker threads call it before they exit; harmless when the thread has
 * none. A later gf_http_perform on the same thread makes new ones. */
void gf_http_thread_cleanup(void);


/* Is this URL allowed under the request's scheme rules? NULL or why not. */
const char *gf_http_check_url(apr_pool_t *p, const char *url, int allow_loopback_http);

/* Is url on the same origin as origin_url (scheme and host compared
 * without regard to case, ports with the scheme's default filled in)?
 * NULL or why not. */
const char *gf_http_check_origin(apr_pool_t *p, const char *url, const char *origin_url);

/* Thread-safe; uses (and on first use creates) the calling thread's handles. */
void gf_http_perform(apr_pool_t *p, const gf_http_request_t *req, gf_http_response_t *res);

#endif
