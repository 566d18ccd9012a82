/* SPDX-License-Identifier: Apache-2.0 */
/* gf_webhook.h: signatures of provider webhooks (docs/providers.md).
 *
 * Replicate: headers webhook-id, webhook-timestamp, webhook-signature
 * ("v1,<base64>" entries, space separated); signed content
 * "{id}.{timestamp}.{body}", HMAC-SHA256 keyed with the base64 part of the
 * "whsec_…" secret.
 * fal: headers X-Fal-Webhook-Request-Id, -User-Id, -Timestamp, -Signature
 * (hex); message "request_id\nuser_id\ntimestamp\nsha256_hex(body)",
 * Ed25519 under any of the configured public keys.
 * Both: a timestamp more than 300 s away from now is refused.
 */
#ifndef GF_WEBHOOK_H
#define GF_WEBHOOK_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#define GF_WEBHOOK_TOLERANCE_SECS 300

/* NULL when the signature is valid and fresh, else why not. body is raw
 * bytes (NULs allowed): the MAC covers exactly body_len of them. */
const char *gf_webhook_verify_replicate(apr_pool_t *p, const char *secret, const char *id,
                                        const char *timestamp, const char *signatures,
                                        const char *body, apr_size_t body_len, apr_time_t now);

/* The Standard Webhooks signature of one delivery, "v1,<base64 of
 * HMAC-SHA256>" over "{id}.{timestamp}.{body}" keyed with the base64 part
 * of the "whsec_…" secret (what Replicate signs with, and what mod_genflow
 * signs its own deliveries to the site's backend with). NULL on failure. */
const char *gf_webhook_sign(apr_pool_t *p, const char *secret, const char *id,
                            const char *timestamp, const char *body, apr_size_t body_len);

/* The webhook-signature header of one delivery under several secrets
 * (newest first): one "v1,…" entry per secret, space separated, so a
 * receiver that knows any one of them verifies it while the site rotates.
 * NULL on failure or without a secret. */
const char *gf_webhook_sign_all(apr_pool_t *p, const apr_array_header_t *secrets,
                                const char *id, const char *timestamp, const char *body,
                                apr_size_t body_len);

/* NULL when secret is "whsec_" and 24 to 64 bytes in base64, else why not. */
const char *gf_webhook_secret_check(apr_pool_t *p, const char *secret);

/* The most secrets one file may hold (rotation needs two; a few spare). */
#define GF_WEBHOOK_SECRETS_MAX 8

/* The secrets of a secret file: one a line, newest first; blank lines and
 * lines starting with '#' are skipped. Each must pass
 * gf_webhook_secret_check. Returns an array of const char *, or NULL and
 * *err (which names the line, never the secret). */
apr_array_header_t *gf_webhook_secrets_parse(apr_pool_t *p, const char *text, const char **err);

/* Milliseconds before delivery attempt number attempt + 1 after attempt
 * failed (attempt is 1-based): first_secs, doubling, at most max_secs, then
 * spread to 80..120 % by rnd so that deliveries failing together do not
 * return together. */
long gf_webhook_retry_delay_ms(long first_secs, int attempt, long max_secs, apr_uint32_t rnd);

/* keys: raw 32-byte Ed25519 public keys. */
const char *gf_webhook_verify_fal(apr_pool_t *p, const apr_array_header_t *keys,
                                  const char *request_id, const char *user_id,
                                  const char *timestamp, const char *signature_hex,
                                  const char *body, apr_size_t body_len, apr_time_t now);

/* Read Ed25519 public keys from a JWKS document ({"keys":[{"kty":"OKP",
 * "crv":"Ed25519","x":"<base64url>"}]}) or one base64url key per line.
 * Keys of another kty/crv are skipped; a member of the wrong JSON type
 * (null included), a missing kty/crv/x or a bad key is an error, so a broken
 * file fails startup with a message rather than loading nothing or crashing.
 * Returns the array of 32-byte keys, or NULL and *err. */
apr_array_header_t *gf_webhook_load_fal_keys(apr_pool_t *p, const char *text, const char **err);

#endif
