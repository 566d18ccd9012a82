/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_cloudinary: the Cloudinary storage backend (gf_storage_cloudinary.c):
 * reading the upload answer (secure_url, or error.message with the
 * status), and the signature's string to sign.
 *
 * Input: line 1: the storage key (e.g. "neo-glitch/<id>.png"); line 2:
 * signed parameters "k=v&k=v" (the string-to-sign check); then the
 * answers to the upload, as in fuzz_common.c. The backend is created with
 * attempts=1 (a retry sleeps 250 ms, which fuzzing cannot afford; the
 * retry loop only repeats the same parsing).
 * Properties: one exchange per attempt; success gives a non-empty URL in
 * valid UTF-8 and failure a message; the string to sign leaves out file,
 * cloud_name, resource_type, api_key, signature and empty values, is
 * sorted by name, and its digest is 40 (SHA-1) or 64 (SHA-256) hex digits. */
#include <stdlib.h>
#include <string.h>
#include <apr_tables.h>
#include "fuzz_common.h"
#include "storage/gf_storage.h"
#include "core/gf_utf8.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setenv("FUZZ_CLOUDINARY_SECRET", "abcd1234secret", 1);
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    char *f[3], *kv, *last = NULL;
    size_t lens[3];
    char *argv[] = { "cloud=demo", "api_key=123456789012345", "secret_env=FUZZ_CLOUDINARY_SECRET",
                     "attempts=1", "folder=genflow", NULL };
    gf_storage_t *st = NULL;
    const char *err = NULL, *url = NULL, *tosign, *prev = NULL, *c;
    apr_table_t *params;
    apr_status_t rv;
    static const unsigned char png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

    fuzz_fields(p, data, size, "\n", 3, f, lens);
    FUZZ_CHECK(gf_storage_cloudinary_create(p, 5, argv, &st) == NULL && st);

    fuzz_http_answers(f[2], lens[2]);
    rv = st->put(st, p, *f[0] ? f[0] : "neo-glitch/x.png", png, sizeof(png), "image/png",
                 &url, &err);
    FUZZ_CHECK(fuzz_http_calls() == 1);
    if (rv == APR_SUCCESS) {
        FUZZ_CHECK(url && *url && gf_utf8_valid_str(url));
    }
    else {
        FUZZ_CHECK(err && *err);
    }
    fuzz_http_answers(NULL, 0);

    params = apr_table_make(p, 4);
    for (kv = apr_strtok(f[1], "&", &last); kv; kv = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(kv, '=');
        if (eq) {
            *eq = '\0';
            apr_table_add(params, kv, eq + 1);
        }
    }
    tosign = gf_cloudinary_string_to_sign(p, params);
    FUZZ_CHECK(tosign);
    /* each "k=v" piece: an allowed name, in order (the input's names and
     * values hold no '&', since it was split there; names hold no '=') */
    {
        char *copy = apr_pstrdup(p, tosign), *piece;
        last = NULL;
        for (piece = apr_strtok(copy, "&", &last); piece; piece = apr_strtok(NULL, "&", &last)) {
            char *eq = strchr(piece, '=');
            FUZZ_CHECK(eq && eq[1]);
            *eq = '\0';
            FUZZ_CHECK(strcmp(piece, "file") && strcmp(piece, "cloud_name")
                       && strcmp(piece, "resource_type") && strcmp(piece, "api_key")
                       && strcmp(piece, "signature"));
            if (prev) FUZZ_CHECK(strcmp(prev, piece) <= 0);
            prev = piece;
        }
    }
    c = gf_cloudinary_sign(p, params, "secret", "sha1");
    FUZZ_CHECK(c && strlen(c) == 40 && strspn(c, "0123456789abcdef") == 40);
    c = gf_cloudinary_sign(p, params, "secret", "sha256");
    FUZZ_CHECK(c && strlen(c) == 64 && strspn(c, "0123456789abcdef") == 64);
    fuzz_pool_end(p);
    return 0;
}
