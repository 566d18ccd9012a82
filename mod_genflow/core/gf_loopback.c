/* SPDX-License-Identifier: Apache-2.0 */
/* gf_loopback.c: loopback host names (see gf_loopback.h). */
#include <string.h>
#include <strings.h>

#include "core/gf_loopback.h"

int gf_loopback_host(const char *host)
{
    size_t n = host ? strlen(host) : 0;
    return host && (!strcasecmp(host, "localhost") || !strncmp(host, "127.", 4)
                    || !strcmp(host, "::1") || !strcmp(host, "[::1]")
                    || (n > 10 && !strcasecmp(host + n - 10, ".localhost")));
}
