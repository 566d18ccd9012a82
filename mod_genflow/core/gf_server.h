/* SPDX-License-Identifier: Apache-2.0 */
/* gf_server.h: the names the servers (main, virtual hosts) and their
 * providers go by, and whether a directory's mode lets a user write it,
 * without httpd: the glue reads its server records, hashes and stat()
 * into these plain values (httpd/servers/mod_genflow_servers.c).
 */
#ifndef GF_SERVER_H
#define GF_SERVER_H

#include <sys/types.h>
#include <apr_hash.h>
#include <apr_network_io.h>
#include <apr_pools.h>

/* A virtual host's name, "host:port" (hostname NULL: ""), or the host
 * alone without a port: the one rule for generations' server names and
 * the providers' keys. */
const char *gf_server_label_of(apr_pool_t *p, const char *hostname, apr_port_t port);

/* The key by which the shared states of provider name, declared by server
 * ("" the main server's), are found: "server/name", or "server/name#N"
 * when keys (those made so far) has it already (two virtual hosts of one
 * name and port, told apart by order). Not added to keys. */
const char *gf_server_provider_key(apr_pool_t *p, apr_hash_t *keys, const char *server,
                                   const char *name);

/* The keys of h (strings), sorted, newline-separated ("" when none). */
const char *gf_server_sorted_keys(apr_pool_t *p, apr_hash_t *h);

/* Does the answer of gf_server_may_write for uid and a directory owned
 * by owner depend on uid's groups (not for root, nor for the owner)? */
int gf_server_needs_groups(uid_t owner, uid_t uid);

/* May user uid, whose groups are groups (n), write and enter a directory
 * of mode owned by owner and group? As the kernel decides for the
 * permission bits (root always may); ACLs are not consulted. */
int gf_server_may_write(mode_t mode, uid_t owner, gid_t group, uid_t uid, const gid_t *groups,
                        int n);

#endif
