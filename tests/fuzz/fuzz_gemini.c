/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_gemini: the gemini adapter's reading of provider answers
 * (gf_provider_gemini.c and gf_provider_net.c, its base64 pictures among
 * them), driven through the kind's own generate/poll with fuzzed HTTP
 * answers: see fuzz_provider.h for the input format and the properties
 * checked. */
#include "fuzz_provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_provider("gemini", data, size);
}
