/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_openai_stream: the reading of OpenAI's streamed Images API answer
 * (providers/gf_provider_openai_stream.c): partial pictures to the
 * preview hook, the completed picture, error events.
 *
 * Input: one byte for the size of the pieces the stream is fed in (its
 * value + 1), one for the cap of an event (its value + 1, times 64), then
 * the stream. Properties: a preview handed over is non-empty and its
 * bytes are a PNG, JPEG or WebP, with that content type; no more previews
 * than partial pictures read; the result is a picture (non-empty, a
 * content type) or a failure with a code and a message that is valid
 * UTF-8 without control characters, at most GF_PROVIDER_MESSAGE_MAX
 * bytes; fed whole or in pieces, the same verdict. */
#include <string.h>
#include "fuzz_common.h"
#include "core/gf_utf8.h"
#include "image/gf_image.h"
#include "providers/gf_provider_openai_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_preview(void *baton, const unsigned char *bytes, apr_size_t len, const char *type)
{
    int *n = baton;
    FUZZ_CHECK(bytes && len > 0 && type);
    FUZZ_CHECK(gf_image_sniff(bytes, len) != GF_IMAGE_UNKNOWN);
    FUZZ_CHECK(!strcmp(type, gf_image_content_type(gf_image_sniff(bytes, len))));
    (*n)++;
}

/* Read the stream in pieces of piece bytes; the verdict: 1 a picture, 0 a
 * failure. */
static int read_once(apr_pool_t *p, const char *text, size_t len, size_t piece, size_t max)
{
    gf_provider_t prov;
    gf_job_t job;
    gf_provider_result_t res;
    gf_openai_stream_t *st;
    size_t at;
    int previews = 0, previewed;

    memset(&prov, 0, sizeof(prov));
    prov.name = "fuzzprov";
    memset(&job, 0, sizeof(job));
    job.preview = on_preview;
    job.preview_baton = &previews;
    memset(&res, 0, sizeof(res));
    st = gf_openai_stream_make(p, &prov, &job, max);
    for (at = 0; at < len; at += piece) {
        gf_openai_stream_tap(st, text + at, len - at < piece ? len - at : piece);
    }
    gf_openai_stream_end(st, &res);
    FUZZ_CHECK(gf_openai_stream_partials(st, &previewed) >= previewed);
    FUZZ_CHECK(previewed == previews);
    if (res.error_code) {
        const char *c;
        FUZZ_CHECK(res.error_message && gf_utf8_valid_str(res.error_message));
        FUZZ_CHECK(strlen(res.error_message) <= GF_PROVIDER_MESSAGE_MAX);
        for (c = res.error_message; *c; c++) FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
        FUZZ_CHECK(!res.image);
        return 0;
    }
    FUZZ_CHECK(res.image && res.image_len > 0 && res.content_type);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    size_t piece, max;
    int whole, pieces;

    if (size < 2) return 0;
    piece = (size_t)data[0] + 1;
    max = ((size_t)data[1] + 1) * 64;
    p = fuzz_pool_begin();
    whole = read_once(p, (const char *)data + 2, size - 2, size, max);
    pieces = read_once(p, (const char *)data + 2, size - 2, piece, max);
    FUZZ_CHECK(whole == pieces);
    fuzz_pool_end(p);
    return 0;
}
