/* SPDX-License-Identifier: Apache-2.0 */
/* gf_vhost.h: whether a URL's host and port name a virtual host, the one
 * rule by which the module finds the events host that GenFlowEventsBase
 * names. Pure, so that it is unit-tested without httpd; the glue describes
 * each server_rec with it.
 */
#ifndef GF_VHOST_H
#define GF_VHOST_H

/* One address a <VirtualHost> listens on. */
typedef struct {
    const char *ip;      /* its IP literal; NULL for a wildcard address (*, _default_) */
    unsigned port;       /* 0: any port (*) */
} gf_vhost_addr_t;

/* A virtual host as the URL's host is compared with it. */
typedef struct {
    const char *const *names;    /* ServerName, then each ServerAlias (a wildcard one is a
                                  * shell pattern), NULL-terminated */
    const gf_vhost_addr_t *addrs;
    int naddrs;
} gf_vhost_t;

#define GF_VHOST_NO    0   /* another host */
#define GF_VHOST_NAME  1   /* its name, on a port it does not listen on: a proxy in front */
#define GF_VHOST_EXACT 2   /* its name or address, on a port it listens on */

/* How well host (case-insensitive; an IP literal without brackets) and
 * port name v. */
int gf_vhost_match(const char *host, unsigned port, const gf_vhost_t *v);

#endif
