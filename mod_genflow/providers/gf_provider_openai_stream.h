/* SPDX-License-Identifier: Apache-2.0 */
/* gf_provider_openai_stream.h: the reading of OpenAI's streamed Images
 * API answer (`stream: true` with `partial_images`), as it comes.
 *
 * The answer is text/event-stream (net/gf_sse.h). Each event's data is a
 * JSON object whose `type` names it (the event line says the same):
 *   image_generation.partial_image, image_edit.partial_image
 *       {b64_json, partial_image_index, …}: a picture being drawn, handed
 *       to the job's preview hook once its base64 is checked and its
 *       bytes are a PNG, JPEG or WebP (a damaged one is skipped: a
 *       preview is never worth failing the picture for); one the hook
 *       would not take now (preview_wanted) is not even parsed;
 *   image_generation.completed, image_edit.completed
 *       {b64_json, usage, …}: the picture; the first one counts;
 *   error {error: {message, code}} (or message and code at the top): the
 *       call failed after its 200, mapped as an error answer is.
 * A stream that ends without its picture failed, transiently (the call is
 * synchronous: nothing was accepted that a retry could run twice).
 * Every event's data is capped (the reader's max); a partial picture is
 * parsed and decoded in a pool of its own, freed before the next.
 */
#ifndef GF_PROVIDER_OPENAI_STREAM_H
#define GF_PROVIDER_OPENAI_STREAM_H

#include "providers/gf_provider.h"

typedef struct gf_openai_stream_t gf_openai_stream_t;

/* A reader for one call of job, in p, whose events are at most max bytes. */
gf_openai_stream_t *gf_openai_stream_make(apr_pool_t *p, const gf_provider_t *prov,
                                          const gf_job_t *job, apr_size_t max);

/* gf_http_request_t.tap: read len more bytes of the stream (0, or -1 once
 * an event passed the cap). */
int gf_openai_stream_tap(void *baton, const char *data, apr_size_t len);

/* After the stream ended with its transfer: the picture and its usage
 * into res, or the failure. */
void gf_openai_stream_end(gf_openai_stream_t *st, gf_provider_result_t *res);

/* Partial pictures read, and of those handed to the preview hook. */
int gf_openai_stream_partials(const gf_openai_stream_t *st, int *previewed);

/* An error answer's code is a refusal of the content, or the account's
 * credits (shared with gf_provider_openai.c). */
int gf_openai_refused(const char *code);
int gf_openai_no_credits(const char *code);

#endif
