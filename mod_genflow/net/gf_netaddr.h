/* SPDX-License-Identifier: Apache-2.0 */
/* gf_netaddr.h: is an address one the module may fetch a result from?
 *
 * Provider answers name the URL of their picture, and a spoofed or
 * compromised answer could name an address inside the site's own network
 * (a database, an admin port, a cloud metadata service). Result downloads
 * therefore connect only to public addresses: not loopback, private
 * (10/8, 172.16/12, 192.168/16), carrier-grade NAT (100.64/10),
 * link-local (169.254/16, which holds the 169.254.169.254 metadata
 * service, and fe80::/10), unique-local (fc00::/7, which holds AWS's
 * fd00:ec2::254), multicast, documentation, benchmarking or reserved
 * ranges, nor the unspecified address. IPv4-mapped and IPv4-compatible
 * IPv6 addresses (::ffff:a.b.c.d) and NAT64 (64:ff9b::/96) are judged by
 * the IPv4 address inside them.
 *
 * The check runs on the address curl actually connects to (gf_http.c), so
 * a host name that resolves to a private address, or changes its answer
 * between two lookups, is refused as well.
 */
#ifndef GF_NETADDR_H
#define GF_NETADDR_H

#include <sys/socket.h>

/* NULL when the address is public (or loopback and allow_loopback is
 * set), else a short reason ("a private address", "the loopback
 * address", …) for the log and the job's error message. */
const char *gf_netaddr_refusal(const struct sockaddr *sa, int allow_loopback);

/* The same for an address in text form (as curl reports it); an address
 * that does not parse is refused. */
const char *gf_netaddr_refusal_text(const char *ip, int allow_loopback);

#endif
