/* SPDX-License-Identifier: Apache-2.0 */
/* gf_builtin.c: the shipped types (see gf_builtin.h). */
#include <string.h>

#include "core/gf_builtin.h"
#include "core/gf_input.h"

/* Every template has {preset}: a type's presets (sql/004, GET
 * {base}/presets) are offered for every type, so the chosen one's words
 * must reach the provider whatever the type (empty without a preset). */
static const gf_builtin_type_t BUILTIN_TYPES[] = {
    { "neo-glitch", 1, GF_NEED_PROMPT,
      "neo-glitch digital art, {prompt}, {preset}, {customPrompt}, "
      "chromatic aberration and scan-line glitches, {style}, {quality}, "
      "aspect ratio {aspectRatio}" },
    { "emotion-mask", 2, GF_NEED_SOURCE_IMAGE,
      "expressive emotion mask portrait, {prompt}, {preset}, {customPrompt}, "
      "{style}, {quality}, aspect ratio {aspectRatio}" },
    { "presets", 2, GF_NEED_PRESET,
      "{preset} preset, {prompt}, {customPrompt}, {style}, {quality}, "
      "aspect ratio {aspectRatio}" },
    { "ghibli-reaction", 2, GF_NEED_SOURCE_IMAGE,
      "hand-drawn Studio Ghibli style reaction, soft watercolor "
      "backgrounds, {prompt}, {preset}, {customPrompt}, {style}, {quality}, "
      "aspect ratio {aspectRatio}" },
    { "custom-prompt", 2, GF_NEED_PROMPT,
      "{prompt}, {preset}, {customPrompt}, {style}, {quality}, "
      "aspect ratio {aspectRatio}" },
    { NULL, 0, 0, NULL }
};

const gf_builtin_type_t *gf_builtin_type(const char *name)
{
    const gf_builtin_type_t *b;
    for (b = BUILTIN_TYPES; name && b->name; b++) {
        if (!strcmp(b->name, name)) return b;
    }
    return NULL;
}
