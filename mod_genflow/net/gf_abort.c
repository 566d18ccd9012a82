/* SPDX-License-Identifier: Apache-2.0 */
/* gf_abort.c: the process's abort flag (see gf_abort.h). */
#include "net/gf_abort.h"

/* Set at child start, before the worker threads run; read by them. */
static const volatile int *volatile abort_flag;

void gf_abort_set_flag(const volatile int *flag)
{
    abort_flag = flag;
}

int gf_abort_raised(void)
{
    const volatile int *flag = abort_flag;   /* read the pointer once */
    return flag && *flag;
}
