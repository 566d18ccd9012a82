/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_comfyui: the comfyui adapter's reading of a ComfyUI server's
 * answers (the prompt's answer and node_errors, the history, the queue,
 * the upload), driven through the kind's own generate/poll/cancel with
 * fuzzed HTTP answers (fuzz_provider.h), with a fixed text-to-image or
 * image-to-image workflow in ComfyUI's API format. A cancel makes up to
 * three exchanges: the delete, the queue, the targeted interrupt. */
#include "fuzz_provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char WORKFLOW[] =
    "{\"3\":{\"class_type\":\"KSampler\",\"inputs\":{\"seed\":1,\"steps\":20,\"model\":[\"4\",0]}},"
    "\"5\":{\"class_type\":\"EmptyLatentImage\",\"inputs\":{\"width\":512,\"height\":512}},"
    "\"6\":{\"class_type\":\"CLIPTextEncode\",\"inputs\":{\"text\":\"x\",\"clip\":[\"4\",1]}},"
    "\"10\":{\"class_type\":\"LoadImage\",\"inputs\":{\"image\":\"example.png\"}},"
    "\"9\":{\"class_type\":\"SaveImage\",\"inputs\":{\"filename_prefix\":\"genflow\",\"images\":[\"8\",0]}}}";

static void setup(apr_pool_t *p, gf_provider_t *prov)
{
    gf_net_kind_option(p, prov, "http://127.0.0.1:8188", "workflow", WORKFLOW);
    FUZZ_CHECK(gf_provider_option(p, prov, "prompt=6.text") == NULL);
    FUZZ_CHECK(gf_provider_option(p, prov, "seed=3.seed") == NULL);
    FUZZ_CHECK(gf_provider_option(p, prov, "width=5.width") == NULL);
    FUZZ_CHECK(gf_provider_option(p, prov, "height=5.height") == NULL);
    FUZZ_CHECK(gf_provider_option(p, prov, "steps=3.steps") == NULL);
    FUZZ_CHECK(gf_provider_option(p, prov, "image=10.image") == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_provider_with("comfyui", setup, 3, data, size);
}
