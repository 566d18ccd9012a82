/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_replicate: the replicate adapter's reading of provider answers
 * (gf_provider_replicate.c and gf_provider_net.c), driven through the kind's own
 * generate/poll/cancel with fuzzed HTTP answers: see fuzz_provider.h for
 * the input format and the properties checked. */
#include "fuzz_provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_provider("replicate", data, size);
}
