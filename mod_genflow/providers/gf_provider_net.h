/* SPDX-License-Identifier: Apache-2.0 */
/* gf_provider_net.h: what the network provider kinds share.
 *
 * Options of every network kind (GenFlowProvider NAME KIND key=value …):
 *   base_url=URL          API root (default: the provider's public API)
 *   key_file=PATH         read the API key from this file at startup
 *   key_env=NAME          or from this environment variable
 *   timeout=MS            total time of one HTTP exchange (default 60000)
 *   connect_timeout=MS    (default 5000)
 *   max_bytes=N           largest answer accepted (default 20 MiB)
 *   insecure_loopback=on  allow plain http to 127.0.0.1/localhost, and result
 *                         downloads from loopback addresses (tests)
 *   webhook_url=URL       ask the provider to call this URL when a job ends
 *   webhook_secret_file=PATH / webhook_secret_env=NAME   (replicate: whsec_…)
 *   webhook_keys_file=PATH  (fal: JWKS or base64url Ed25519 keys, one a line)
 *   webhook_poll=SECONDS  with a webhook, poll only this often (default 30)
 * Keys are never logged, never put in an error message or a response.
 */
#ifndef GF_PROVIDER_NET_H
#define GF_PROVIDER_NET_H

#include <json-c/json.h>

#include "providers/gf_provider.h"
#include "net/gf_http.h"

typedef struct {
    const char *base_url;
    const char *key;
    long connect_timeout_ms;
    long timeout_ms;
    apr_size_t max_bytes;
    int insecure_loopback;
    int prefer_wait;            /* replicate: Prefer: wait=N on create; -1 unset */
    const char *webhook_url;    /* sent to the provider: it calls us there */
    const char *webhook_secret; /* replicate: whsec_… */
    apr_array_header_t *webhook_keys; /* fal: Ed25519 public keys */
    long webhook_poll_secs;     /* with webhooks, poll only this often (backup) */
    apr_table_t *kind_opts;     /* options of the kind's own, validated by it */
} gf_net_settings_t;

/* The kind's settings, created with its default base URL on first use. */
gf_net_settings_t *gf_net_settings(gf_provider_t *prov, apr_pool_t *p, const char *default_base);

/* Apply one option of a network kind whose public API is default_base:
 * NULL when applied, else an error naming the option. */
const char *gf_net_set_option(apr_pool_t *p, gf_provider_t *prov, const char *default_base,
                              const char *key, const char *value);

/* The startup check of every network kind: a key is present and the base
 * URL is allowed. */
const char *gf_net_check(apr_pool_t *p, const gf_provider_t *prov);

/* A request with the settings' timeouts, cap and scheme rule, pinned to
 * the base_url's origin (gf_http_request_t.origin). */
void gf_net_request(apr_pool_t *p, const gf_net_settings_t *ns, gf_http_request_t *req,
                    const char *method, const char *url);

/* A URL taken from a provider's answer (a status, result or cancel URL)
 * may be followed with the key only on the configured base_url's origin:
 * NULL, or the reason for the job's error message. */
const char *gf_net_followable(apr_pool_t *p, const gf_provider_t *prov,
                              const gf_net_settings_t *ns, const char *url);

/* What the answer says the call used, at doc.a.b[.c] (c NULL: two
 * levels), a positive number, into res->usage with its unit; nothing
 * when it is absent or not a number. */
void gf_net_usage(json_object *doc, const char *a, const char *b, const char *c, const char *unit,
                  gf_provider_result_t *res);

/* Record a failure in res. */
void gf_net_fail(gf_provider_result_t *res, const char *code, int transient, const char *message);

/* A transport failure (no HTTP answer) → NETWORK_ERROR/TIMEOUT, transient. */
void gf_net_transport_failure(apr_pool_t *p, const gf_provider_t *prov,
                              const gf_http_response_t *hr, gf_provider_result_t *res);

/* The generic meaning of an HTTP error status; the adapters refine it. */
void gf_net_status_failure(apr_pool_t *p, const gf_provider_t *prov, int status,
                           const char *detail, apr_interval_time_t retry_after,
                           gf_provider_result_t *res);

/* Retry-After of an answer (seconds form), 0 when absent. */
apr_interval_time_t gf_net_retry_after(const gf_http_response_t *hr);

/* Fetch a result picture (provider URLs are temporary): res gets the
 * bytes, or a transient failure. No key is sent, and only public
 * addresses are connected to (loopback too with insecure_loopback=on);
 * a refused address fails permanently. */
void gf_net_download(apr_pool_t *p, const gf_provider_t *prov, const gf_net_settings_t *ns,
                     const char *url, gf_provider_result_t *res);

/* gf_net_download, returning the answer's HTTP status (0: none came), so
 * that a kind can tell an expired result (403, 404, 410) from a failure. */
int gf_net_fetch(apr_pool_t *p, const gf_provider_t *prov, const gf_net_settings_t *ns,
                 const char *url, gf_provider_result_t *res);

/* The job's source picture as bytes, for a kind that must send them
 * itself (Gemini's inlineData, ComfyUI's upload): an upload's, or an
 * https URL's, fetched as a result is (public addresses only, no key,
 * max_bytes). 1 with *bytes, *len and *type set; 0 after filling res
 * with the failure. */
int gf_net_source_bytes(apr_pool_t *p, const gf_provider_t *prov, const gf_job_t *job,
                        const unsigned char **bytes, apr_size_t *len, const char **type,
                        gf_provider_result_t *res);

/* Width and height for an aspect ratio of the create, in multiples of 32
 * near a megapixel (what FLUX and SDXL-class models take): 0 when ar is
 * not one of the eight. */
int gf_net_ratio_size(const char *ar, int *w, int *h);

/* calls exchanges at their full timeout: the worst attempt of a kind. */
apr_interval_time_t gf_net_worst(const gf_provider_t *prov, int calls);

/* Set one option of the kind's own (already validated) in kind_opts. */
void gf_net_kind_option(apr_pool_t *p, gf_provider_t *prov, const char *default_base,
                        const char *key, const char *value);

/* A kind's own option, or dflt. */
const char *gf_net_kind_get(const gf_net_settings_t *ns, const char *key, const char *dflt);

/* value is one of the words of list (separated by '|'). */
int gf_net_one_of(const char *value, const char *list);

/* A picture given as base64 in an answer (OpenAI's b64_json, Gemini's
 * inlineData.data, Imagen's bytesBase64Encoded): strictly checked
 * (the base64 alphabet, padding only at the end), decoded, and its format
 * taken from its own bytes (PNG, JPEG or WebP; anything else fails the
 * call, transient). The answer it came in is already capped at
 * max_bytes, so the picture is at most three quarters of that. */
void gf_net_b64_picture(apr_pool_t *p, const gf_provider_t *prov, const char *b64,
                        apr_size_t len, gf_provider_result_t *res);
/* Its check and decoding alone: the picture's bytes in p and its
 * content type, or NULL with *why (a partial picture of a stream). */
const char *gf_net_b64_decode(apr_pool_t *p, const char *b64, apr_size_t len,
                              unsigned char **bytes, apr_size_t *n, const char **why);

/* The pictures of an answer after its first (a count of more than one):
 * gf_net_more gives the next free one of res->more (NULL when
 * GF_PICTURES_MAX are there), which counts once filled in;
 * gf_net_more_b64 adds one given as base64 (checked as
 * gf_net_b64_decode checks it), gf_net_more_download one behind a URL
 * (fetched as gf_net_download fetches). A picture that does not decode
 * or download is left out: the generation delivers, and is charged for,
 * the others. */
gf_picture_t *gf_net_more(apr_pool_t *p, gf_provider_result_t *res);
void gf_net_more_b64(apr_pool_t *p, const char *b64, apr_size_t len, gf_provider_result_t *res);
void gf_net_more_download(apr_pool_t *p, const gf_provider_t *prov, const gf_net_settings_t *ns,
                          const char *url, gf_provider_result_t *res);

/* Retry-After of an answer in either of its forms OpenAI sends
 * (retry-after-ms, retry-after seconds), 0 when absent; at most 3600 s. */
apr_interval_time_t gf_net_retry_after_ms(const gf_http_response_t *hr);

/* A short, safe excerpt of an error body for messages. */
const char *gf_net_excerpt(apr_pool_t *p, const char *body);

#endif
