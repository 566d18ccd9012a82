/* SPDX-License-Identifier: Apache-2.0 */
/* gf_progress.h: how far a processing generation has come, without httpd.
 *
 * Two sources, in this order:
 *  - the provider's own report: diffusion models print a progress bar
 *    (tqdm's) into their logs, which Replicate returns in a prediction's
 *    "logs" and fal in its queue status's "logs" (with ?logs=1). A bar's
 *    line is "  50%|█████     | 25/50 [00:01<00:01, 17.1it/s]"; the last
 *    bar of the text is the report (gf_progress_scan). Only that shape
 *    counts: a prompt echoed into the logs ("50% off") is not a report.
 *  - else the provider's recent job times on this site: a job that
 *    usually takes T and started t ago is t/T of the way, and ends at its
 *    start + T (gf_progress_estimate).
 * Reported progress never goes back within one provider job (the engine
 * writes it only when it grew), so a model that prints a second bar (a
 * refiner's) holds the bar at the first one's end until it grows again.
 */
#ifndef GF_PROGRESS_H
#define GF_PROGRESS_H

#include <apr_time.h>

/* Reports are kept to hundredths: a change smaller is no change. */
#define GF_PROGRESS_STEPS 100
/* An estimate from job times stops short of the end: only the provider
 * says a job is done. */
#define GF_PROGRESS_ESTIMATE_MAX 0.99
/* The most of a text scanned: its end, where the newest bar is. */
#define GF_PROGRESS_SCAN_MAX (64 * 1024)

/* The last progress bar in len bytes of text (any bytes; NULs are
 * ordinary), as a fraction 0..1 in hundredths: 1 and *fraction, else 0.
 * The bar's "n/total" counts when it has one (25/50 is 0.5), else its
 * percentage. Lines end at \n or \r (tqdm redraws with \r). Only the
 * last GF_PROGRESS_SCAN_MAX bytes are read. */
int gf_progress_scan(const char *text, apr_size_t len, double *fraction);

/* The estimate of a job that started at `started` (0: unknown) on a
 * provider whose jobs took `typical` lately (0: unknown), at now: 1 with
 * *fraction (0..GF_PROGRESS_ESTIMATE_MAX, hundredths) and *finish (its
 * start + typical; 0 once that has passed: overdue, the end is unknown),
 * else 0. */
int gf_progress_estimate(apr_time_t started, apr_interval_time_t typical, apr_time_t now,
                         double *fraction, apr_time_t *finish);

/* A fraction as the engine stores and compares it: clamped to 0..1,
 * rounded down to hundredths. */
double gf_progress_step(double fraction);

#endif
