/* SPDX-License-Identifier: Apache-2.0 */
/* gf_http.c: libcurl exchanges for the provider adapters (see gf_http.h). */
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <curl/curl.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_uri.h>

#include "net/gf_http.h"
#include "core/gf_loopback.h"
#include "core/gf_trace.h"
#include "net/gf_http_sink.h"
#include "net/gf_netaddr.h"
#include "net/gf_loop.h"
#include "net/gf_abort.h"

#define GF_HTTP_ABORTED "aborted: the server is stopping"

/* The process-wide share: DNS answers and TLS sessions learnt by one worker
 * thread serve the others. Not the connection cache: libcurl 7.88 documents
 * CURL_LOCK_DATA_CONNECT as unsupported between concurrent threads, so idle
 * connections stay in each thread's own handles (see gf_http.h). */
static CURLSH *share;
static pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];   /* one per kind of data */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *baton)
{
    if ((unsigned)data < CURL_LOCK_DATA_LAST) pthread_mutex_lock(&share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *baton)
{
    if ((unsigned)data < CURL_LOCK_DATA_LAST) pthread_mutex_unlock(&share_locks[data]);
}

void gf_http_global_init(void)
{
    static int done;
    int i;

    if (done) {
        return;
    }
    done = 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (i = 0; i < CURL_LOCK_DATA_LAST; i++) {
        pthread_mutex_init(&share_locks[i], NULL);
    }
    /* Without a share (curl_share_init failed) every handle keeps its own caches. */
    if ((share = curl_share_init()) != NULL) {
        curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
}

/* The calling thread's handles, kept for its lifetime so that connections
 * (and their TLS state) to a provider host survive from one call to the
 * next. The transfer runs on a multi handle of its own rather than through
 * curl_easy_perform, whose internal wait lasts up to a second when nothing
 * arrives (e.g. while a provider thinks): our own wait is capped at
 * ABORT_POLL_MS so that the abort flag is seen promptly. The idle
 * connections live in the multi handle's cache. */
static __thread CURL *tl_easy;
static __thread CURLM *tl_multi;

#define ABORT_POLL_MS 100
#define MAX_IDLE_CONNECTIONS 8L

void gf_http_thread_cleanup(void)
{
    /* The easy handle is never left attached to the multi handle. */
    if (tl_easy) curl_easy_cleanup(tl_easy);
    if (tl_multi) curl_multi_cleanup(tl_multi);   /* closes the idle connections */
    tl_easy = NULL;
    tl_multi = NULL;
}

static int thread_handles(void)
{
    if (!tl_easy || !tl_multi) {
        gf_http_thread_cleanup();
        tl_easy = curl_easy_init();
        tl_multi = curl_multi_init();
        if (!tl_easy || !tl_multi) {
            gf_http_thread_cleanup();
            return 0;
        }
        curl_multi_setopt(tl_multi, CURLMOPT_MAXCONNECTS, MAX_IDLE_CONNECTIONS);
    }
    return 1;
}

/* Also stops curl in the middle of a long download, between two waits. */
static int on_progress(void *baton, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    return gf_abort_raised();
}

/* Runs the transfer set up on tl_easy; CURLE_ABORTED_BY_CALLBACK when the
 * abort flag was raised. */
static CURLcode run_transfer(void)
{
    CURLcode rc = CURLE_OK;
    CURLMsg *msg;
    int running = 1, left;

    if (curl_multi_add_handle(tl_multi, tl_easy) != CURLM_OK) {
        return CURLE_FAILED_INIT;
    }
    while (running) {
        if (curl_multi_perform(tl_multi, &running) != CURLM_OK) {
            rc = CURLE_FAILED_INIT;
            break;
        }
        if (!running) {
            break;
        }
        if (gf_abort_raised()) {
            /* Covers the states in which curl calls no progress callback;
             * removing the unfinished transfer closes its connection. */
            rc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        if (curl_multi_poll(tl_multi, NULL, 0, ABORT_POLL_MS, NULL) != CURLM_OK) {
            rc = CURLE_FAILED_INIT;
            break;
        }
    }
    if (!running) {
        while ((msg = curl_multi_info_read(tl_multi, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == tl_easy) {
                rc = msg->data.result;
            }
        }
    }
    curl_multi_remove_handle(tl_multi, tl_easy);
    return rc;
}

const char *gf_http_check_url(apr_pool_t *p, const char *url, int allow_loopback_http)
{
    apr_uri_t uri;

    if (!url || apr_uri_parse(p, url, &uri) != APR_SUCCESS || !uri.scheme || !uri.hostname) {
        return apr_psprintf(p, "'%s' is not an absolute URL", url ? url : "");
    }
    if (!strcasecmp(uri.scheme, "https")) {
        return NULL;
    }
    if (!strcasecmp(uri.scheme, "http") && allow_loopback_http && gf_loopback_host(uri.hostname)) {
        return NULL;
    }
    return apr_psprintf(p, "'%s': only https is allowed (plain http only to a loopback "
                        "address with insecure_loopback=on)", url);
}

const char *gf_http_check_origin(apr_pool_t *p, const char *url, const char *origin_url)
{
    apr_uri_t u, o;

    if (!url || apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.scheme || !u.hostname) {
        return apr_psprintf(p, "'%s' is not an absolute URL", url ? url : "");
    }
    if (!origin_url || apr_uri_parse(p, origin_url, &o) != APR_SUCCESS || !o.scheme
        || !o.hostname) {
        return "the provider's base_url is not an absolute URL";
    }
    if (strcasecmp(u.scheme, o.scheme) || strcasecmp(u.hostname, o.hostname)
        || (u.port ? u.port : apr_uri_port_of_scheme(u.scheme))
           != (o.port ? o.port : apr_uri_port_of_scheme(o.scheme))
        || u.user || u.password) {
        return apr_psprintf(p, "'%s' is not on the provider's origin %s://%s%s%s", url,
                            o.scheme, o.hostname, o.port_str ? ":" : "",
                            o.port_str ? o.port_str : "");
    }
    return NULL;
}

/* What a public_only transfer learned about its addresses. */
typedef struct {
    int allow_loopback;
    const char *refusal;       /* why the address was refused, or NULL */
    char ip[64];
} addr_guard_t;

/* A new connection: refuse a non-public address before connecting. */
static curl_socket_t on_open_socket(void *baton, curlsocktype purpose, struct curl_sockaddr *a)
{
    addr_guard_t *g = baton;
    const char *why;

    (void)purpose;
    if ((why = gf_netaddr_refusal(&a->addr, g->allow_loopback)) != NULL) {
        const void *raw = a->family == AF_INET6
            ? (const void *)&((const struct sockaddr_in6 *)(const void *)&a->addr)->sin6_addr
            : (const void *)&((const struct sockaddr_in *)(const void *)&a->addr)->sin_addr;
        if (!inet_ntop(a->family, raw, g->ip, sizeof(g->ip))) strcpy(g->ip, "?");
        g->refusal = why;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

#if LIBCURL_VERSION_NUM >= 0x075000
/* Every connection, reused ones too, just before the request is sent. */
static int on_prereq(void *baton, char *primary_ip, char *local_ip, int primary_port,
                     int local_port)
{
    addr_guard_t *g = baton;
    const char *why;

    (void)local_ip; (void)primary_port; (void)local_port;
    if ((why = gf_netaddr_refusal_text(primary_ip, g->allow_loopback)) != NULL) {
        apr_cpystrn(g->ip, primary_ip ? primary_ip : "?", sizeof(g->ip));
        g->refusal = why;
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}
#endif

static int add_header(void *baton, const char *key, const char *value)
{
    struct curl_slist **list = baton;
    char buf[8192];
    apr_snprintf(buf, sizeof(buf), "%s: %s", key, value);
    *list = curl_slist_append(*list, buf);
    return 1;
}

/* The request's total timeout, cut to the calling fiber's end (an
 * attempt's deadline, gf_loop_until) when that comes first: a
 * millisecond past it, so that the attempt's decision sees the deadline
 * passed. */
static long total_timeout_ms(const gf_http_request_t *req)
{
    long ms = req->timeout_ms > 0 ? req->timeout_ms : 60000L;
    apr_interval_time_t left = gf_loop_left();
    if (left >= 0) {
        long to_end = (long)((left + 999) / 1000) + 1;
        if (to_end < ms) ms = to_end;
    }
    return ms;
}

/* The options of one transfer, set afresh on each call: the previous
 * call ended with curl_easy_reset (gf_http_perform), which keeps only
 * connections and caches. */
static void set_options(CURL *curl, const gf_http_request_t *req, gf_http_sink_t *sink,
                        gf_http_response_t *res, char *errbuf, addr_guard_t *guard)
{
    curl_easy_setopt(curl, CURLOPT_SHARE, share);
    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR,
                     req->allow_loopback_http || req->http_to_origin ? "http,https" : "https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 5000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, total_timeout_ms(req));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, gf_http_on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, gf_http_on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, res);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mod_genflow/0.1");
    memset(guard, 0, sizeof(*guard));
    if (req->public_only) {
        guard->allow_loopback = req->allow_loopback_http;
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, guard);
#if LIBCURL_VERSION_NUM >= 0x075000
        curl_easy_setopt(curl, CURLOPT_PREREQFUNCTION, on_prereq);
        curl_easy_setopt(curl, CURLOPT_PREREQDATA, guard);
#endif
    }
    if (req->aws_sigv4) {
        curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, req->aws_sigv4);
        curl_easy_setopt(curl, CURLOPT_USERNAME, req->aws_key);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, req->aws_secret);
    }
}

/* The traceparent of an exchange made for a generation (the trace
 * attached to the pool it runs in, core/gf_trace.h): a span of its own,
 * a child of the generation's. NULL outside a trace, or when the request
 * names one itself. */
static const char *traceparent(apr_pool_t *p, const gf_http_request_t *req)
{
    const gf_trace_t *t = gf_trace_of(p);
    unsigned char span[8];
    gf_trace_t child;

    if (!t || (req->headers && apr_table_get(req->headers, "traceparent"))) return NULL;
    if (apr_generate_random_bytes(span, sizeof(span)) != APR_SUCCESS) return NULL;
    gf_trace_child(t, span, &child);
    return apr_pstrcat(p, "traceparent: ", gf_trace_header(p, &child), NULL);
}

/* The request's headers (into *headers, freed by the caller), its body or
 * multipart parts (the mime returned, or NULL) and its method. */
static curl_mime *set_request(CURL *curl, const gf_http_request_t *req, const char *trace,
                              struct curl_slist **headers)
{
    curl_mime *mime = NULL;
    int i;

    if (req->headers) {
        apr_table_do(add_header, headers, req->headers, NULL);
    }
    if (trace) *headers = curl_slist_append(*headers, trace);
    /* No "Expect: 100-continue" round trip for uploads. Not when libcurl
     * signs: 7.88 signs the emptied header as if it were sent, and the
     * server's signature differs. It asks to continue only above 1 MiB,
     * and S3 answers that at once. */
    if (!req->aws_sigv4) *headers = curl_slist_append(*headers, "Expect:");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, *headers);

    if (req->parts) {
        mime = curl_mime_init(curl);
        for (i = 0; i < req->parts->nelts; i++) {
            const gf_http_part_t *pt = &APR_ARRAY_IDX(req->parts, i, gf_http_part_t);
            curl_mimepart *part = curl_mime_addpart(mime);
            curl_mime_name(part, pt->name);
            if (pt->data) {
                curl_mime_data(part, (const char *)pt->data, pt->data_len);
                if (pt->filename) curl_mime_filename(part, pt->filename);
            }
            else {
                curl_mime_data(part, pt->value ? pt->value : "", CURL_ZERO_TERMINATED);
            }
            if (pt->content_type) curl_mime_type(part, pt->content_type);
        }
        curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
    }
    else if (req->body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    if (req->method && strcmp(req->method, "GET") && strcmp(req->method, "POST")) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    }
    else if (req->method && !strcmp(req->method, "POST") && !req->body && !req->parts) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    }
    return mime;
}

/* What the transfer came to, into res. */
static void take_result(apr_pool_t *p, CURL *curl, CURLcode rc, const addr_guard_t *guard,
                        const gf_http_sink_t *sink, const char *errbuf, gf_http_response_t *res)
{
    long status = 0, sent = 0;

    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (guard->refusal) {
        /* Checked before the address was used: nothing was sent. */
        res->error = apr_psprintf(p, "refused to connect to %s, %s", guard->ip, guard->refusal);
        res->refused = 1;
    }
    else if (rc == CURLE_ABORTED_BY_CALLBACK) {
        res->error = GF_HTTP_ABORTED;
        res->transient = res->aborted = 1;
    }
    else if (rc != CURLE_OK) {
        res->too_large = sink->too_large;
        res->tapped = sink->tapping;
        res->error = sink->too_large
            ? apr_psprintf(p, "answer larger than %" APR_SIZE_T_FMT " bytes", sink->max)
            : sink->tap_refused ? "the streamed answer was refused by its reader"
            : apr_psprintf(p, "%s%s%s", curl_easy_strerror(rc), errbuf[0] ? ": " : "", errbuf);
        /* Every transport failure may go away; an oversized answer, or a
         * stream its reader refused, will not. */
        res->transient = !sink->too_large && !sink->tap_refused;
        /* Whether any of the request went out (a connect failure sends
         * nothing): a timeout or a reset after it leaves open whether the
         * server acted on it. */
        if (curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &sent) == CURLE_OK && sent > 0) {
            res->sent = 1;
        }
    }
    else {
        const char *ct;
        res->status = (int)status;
        res->tapped = sink->tapping;
        res->body = sink->buf && !sink->tapping ? sink->buf : apr_pstrdup(p, "");
        if (sink->buf && !sink->tapping) res->body[sink->len] = '\0';
        res->body_len = sink->tapping ? 0 : sink->len;
        ct = apr_table_get(res->headers, "content-type");
        res->content_type = ct ? ct : "";
    }
}

void gf_http_perform(apr_pool_t *p, const gf_http_request_t *req, gf_http_response_t *res)
{
    CURL *curl;
    CURLcode rc;
    struct curl_slist *headers = NULL;
    curl_mime *mime;
    gf_http_sink_t sink;
    addr_guard_t guard;
    char errbuf[CURL_ERROR_SIZE];
    const char *bad;
    int in_fiber = gf_loop_in_fiber();

    memset(res, 0, sizeof(*res));
    res->headers = apr_table_make(p, 16);
    res->content_type = "";
    if ((req->origin && (bad = gf_http_check_origin(p, req->url, req->origin)) != NULL)
        || (!(req->http_to_origin && req->origin)
            && (bad = gf_http_check_url(p, req->url, req->allow_loopback_http)) != NULL)) {
        res->error = bad;
        res->refused = 1;
        return;
    }
    if (gf_abort_raised()) {
        res->error = GF_HTTP_ABORTED;
        res->transient = res->aborted = 1;
        return;
    }
    memset(&sink, 0, sizeof(sink));
    sink.p = p;
    sink.max = req->max_response ? req->max_response : 10 * 1024 * 1024;
    sink.tap = req->tap;
    sink.tap_baton = req->tap_baton;
    sink.res = res;
    errbuf[0] = '\0';

    /* In a fiber of the engine's loop (gf_loop.h) the transfer joins the
     * loop's multi handle, whose connection cache every fiber shares, on
     * a handle of its own; elsewhere it runs on this thread's handles. */
    if (in_fiber) curl = curl_easy_init();
    else curl = thread_handles() ? tl_easy : NULL;
    if (!curl) {
        res->error = "cannot create a curl handle";
        res->transient = 1;
        return;
    }
    set_options(curl, req, &sink, res, errbuf, &guard);
    mime = set_request(curl, req, traceparent(p, req), &headers);
    rc = in_fiber ? gf_loop_transfer(curl) : run_transfer();
    take_result(p, curl, rc, &guard, &sink, errbuf, res);
    /* Drop every pointer into this call (errbuf on our stack, sink, res, the
     * header list, the mime, the body) before they die; the handle keeps its
     * connections and caches. */
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
    if (in_fiber) curl_easy_cleanup(curl);
    else curl_easy_reset(curl);
    curl_slist_free_all(headers);
    if (mime) curl_mime_free(mime);
}
