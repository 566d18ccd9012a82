/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_common.h: what every libFuzzer target of tests/fuzz shares.
 *
 * - FUZZ_CHECK(cond): a property that must hold; __builtin_trap() when it
 *   does not, so libFuzzer reports a crash and saves the input.
 * - fuzz_pool_begin()/fuzz_pool_end(): one APR pool per input, destroyed
 *   afterwards (LeakSanitizer then sees anything our code kept).
 * - fuzz_fields(): splits an input into fields at a separator.
 * - A fake gf_http_perform (fuzz_common.c) that answers from the input, so
 *   the provider and storage adapters parse fuzzed answers with no network.
 *
 * fuzz_common.c also replaces APR's pool allocators (see there): every
 * allocation our code makes from a pool is a malloc of its own, with its
 * own AddressSanitizer redzones.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>
#include <apr_strings.h>

#define FUZZ_CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

/* Once per process (from LLVMFuzzerInitialize or lazily). */
void fuzz_init(void);

/* A fresh pool for one input, and its destruction. */
apr_pool_t *fuzz_pool_begin(void);
void fuzz_pool_end(apr_pool_t *p);

/* Split data into at most max fields at each occurrence of sep (the last
 * field takes the rest, separators included). Each field is an exact-size
 * malloc'd (pool-owned) copy with a NUL after it; lens[i] is its length
 * (a field may hold NULs). Missing fields are "" (len 0). Returns the
 * number of fields actually present. */
int fuzz_fields(apr_pool_t *p, const uint8_t *data, size_t size, const char *sep,
                int max, char **fields, size_t *lens);

/* The fake gf_http_perform answers from this text (see fuzz_common.c for
 * its format); calls counts the requests made since. */
void fuzz_http_answers(const char *text, size_t len);
int fuzz_http_calls(void);

#endif
