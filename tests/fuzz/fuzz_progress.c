/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_progress: the progress bars read from providers' logs
 * (gf_progress.c) on any bytes.
 *
 * Properties: a report is a fraction 0..1 in hundredths; it depends only
 * on the text's last GF_PROGRESS_SCAN_MAX bytes; a line without "%|"
 * after it cannot hide the report before it; and a bar drawn after any
 * text (tqdm's \r) is the report, whatever came before. */
#include <math.h>
#include <string.h>
#include <apr_strings.h>
#include "fuzz_common.h"
#include "core/gf_progress.h"

static void check_fraction(double f)
{
    FUZZ_CHECK(f >= 0 && f <= 1);
    FUZZ_CHECK(fabs(f * GF_PROGRESS_STEPS - floor(f * GF_PROGRESS_STEPS + 0.5)) < 1e-6);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    /* an exact-size copy: any read past size is an ASan report */
    char *s = apr_palloc(p, size ? size : 1), *more;
    double f = -1, g = -1;
    int found;
    static const char bar[] = "\r 37%|###       | 37/100 [00:01<00:02]";
    static const char tail[] = "\nSaving the picture";

    memcpy(s, data, size);
    found = gf_progress_scan(s, size, &f);
    if (found) check_fraction(f);

    /* A plain line after it changes nothing. */
    more = apr_palloc(p, size + sizeof(tail) - 1);
    memcpy(more, s, size);
    memcpy(more + size, tail, sizeof(tail) - 1);
    if (size + sizeof(tail) - 1 <= GF_PROGRESS_SCAN_MAX) {
        FUZZ_CHECK(gf_progress_scan(more, size + sizeof(tail) - 1, &g) == found);
        FUZZ_CHECK(!found || g == f);
    }

    /* A bar drawn last is the report. */
    more = apr_palloc(p, size + sizeof(bar) - 1);
    memcpy(more, s, size);
    memcpy(more + size, bar, sizeof(bar) - 1);
    FUZZ_CHECK(gf_progress_scan(more, size + sizeof(bar) - 1, &g) && g == 0.37);
    fuzz_pool_end(p);
    return 0;
}
