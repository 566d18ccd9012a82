/* SPDX-License-Identifier: Apache-2.0 */
/* gf_loopback.h: which host names are this machine's loopback, the one
 * rule for every place that lets plain http through to a local receiver
 * (a provider or store with insecure_loopback=on, a GenFlowWebhookOrigins
 * entry). */
#ifndef GF_LOOPBACK_H
#define GF_LOOPBACK_H

/* localhost, any 127.x.y.z, ::1 (bare or bracketed), and names under
 * .localhost (RFC 6761; libcurl resolves them to the loopback itself: an
 * S3 bucket addressed by virtual host on a local endpoint is
 * <bucket>.localhost). 0 for NULL. */
int gf_loopback_host(const char *host);

#endif
