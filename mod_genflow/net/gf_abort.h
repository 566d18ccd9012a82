/* SPDX-License-Identifier: Apache-2.0 */
/* gf_abort.h: the process's abort flag, below everything that waits on
 * the network or a timer (gf_http.c's transfers, gf_loop.c's waits, the
 * local provider's simulated latency), so that none of them depends on
 * another for it. The httpd glue's engine raises it when the child stops. */
#ifndef GF_ABORT_H
#define GF_ABORT_H

/* Set once at child start, before the worker threads run (NULL: none).
 * When *flag becomes non-zero, transfers fail promptly with aborted = 1
 * and every wait of the loop ends. */
void gf_abort_set_flag(const volatile int *flag);

/* Is the abort flag raised? */
int gf_abort_raised(void);

#endif
