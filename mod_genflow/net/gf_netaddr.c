/* SPDX-License-Identifier: Apache-2.0 */
/* gf_netaddr.c: public and non-public addresses (gf_netaddr.h). */
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "net/gf_netaddr.h"

typedef struct {
    unsigned char net[4];
    int bits;
    const char *what;
} v4_range_t;

/* IANA's special-purpose IPv4 registry, the parts that are not globally
 * reachable, plus multicast and the limited broadcast. */
static const v4_range_t V4_RANGES[] = {
    { { 0, 0, 0, 0 }, 8, "a reserved address (0/8)" },
    { { 10, 0, 0, 0 }, 8, "a private address" },
    { { 100, 64, 0, 0 }, 10, "a carrier-grade NAT address" },
    { { 127, 0, 0, 0 }, 8, "the loopback address" },
    { { 169, 254, 0, 0 }, 16, "a link-local address (cloud metadata lives there)" },
    { { 172, 16, 0, 0 }, 12, "a private address" },
    { { 192, 0, 0, 0 }, 24, "an IETF protocol address" },
    { { 192, 0, 2, 0 }, 24, "a documentation address" },
    { { 192, 88, 99, 0 }, 24, "a 6to4 relay address" },
    { { 192, 168, 0, 0 }, 16, "a private address" },
    { { 198, 18, 0, 0 }, 15, "a benchmarking address" },
    { { 198, 51, 100, 0 }, 24, "a documentation address" },
    { { 203, 0, 113, 0 }, 24, "a documentation address" },
    { { 224, 0, 0, 0 }, 4, "a multicast address" },
    { { 240, 0, 0, 0 }, 4, "a reserved address (240/4)" },
};

static int in_prefix(const unsigned char *addr, const unsigned char *net, int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(addr, net, (size_t)full)) return 0;
    if (!rest) return 1;
    return ((addr[full] ^ net[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static const char *v4_refusal(const unsigned char *a, int allow_loopback)
{
    size_t i;
    for (i = 0; i < sizeof(V4_RANGES) / sizeof(V4_RANGES[0]); i++) {
        if (in_prefix(a, V4_RANGES[i].net, V4_RANGES[i].bits)) {
            if (allow_loopback && a[0] == 127) return NULL;
            return V4_RANGES[i].what;
        }
    }
    return NULL;   /* 255.255.255.255 is inside 240/4 */
}

typedef struct {
    unsigned char net[16];
    int bits;
    const char *what;
} v6_range_t;

static const v6_range_t V6_RANGES[] = {
    { { 0xfc }, 7, "a unique-local address" },
    { { 0xfe, 0x80 }, 10, "a link-local address" },
    { { 0xfe, 0xc0 }, 10, "a site-local address" },
    { { 0xff }, 8, "a multicast address" },
    { { 0x20, 0x01, 0x0d, 0xb8 }, 32, "a documentation address" },
    { { 0x20, 0x01, 0x00, 0x00 }, 32, "a Teredo address" },
    { { 0x20, 0x02 }, 16, "a 6to4 address" },
    { { 0x01, 0x00 }, 64, "a discard-only address" },
};

static const char *v6_refusal(const unsigned char *a, int allow_loopback)
{
    static const unsigned char zero[16] = { 0 };
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b };
    size_t i;

    if (!memcmp(a, zero, 15)) {
        if (a[15] == 1) return allow_loopback ? NULL : "the loopback address";
        if (a[15] == 0) return "the unspecified address";
    }
    /* An IPv4 address inside: mapped (::ffff:0:0/96), the deprecated
     * compatible form (::/96) and NAT64's well-known prefix. */
    if (!memcmp(a, mapped, 12) || !memcmp(a, zero, 12) || !memcmp(a, nat64, 12)) {
        return v4_refusal(a + 12, allow_loopback);
    }
    for (i = 0; i < sizeof(V6_RANGES) / sizeof(V6_RANGES[0]); i++) {
        if (in_prefix(a, V6_RANGES[i].net, V6_RANGES[i].bits)) return V6_RANGES[i].what;
    }
    return NULL;
}

const char *gf_netaddr_refusal(const struct sockaddr *sa, int allow_loopback)
{
    if (!sa) return "no address";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return v4_refusal((const unsigned char *)&in->sin_addr, allow_loopback);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        return v6_refusal((const unsigned char *)&in6->sin6_addr, allow_loopback);
    }
    return "an address that is neither IPv4 nor IPv6";
}

const char *gf_netaddr_refusal_text(const char *ip, int allow_loopback)
{
    unsigned char buf[16];
    if (ip && inet_pton(AF_INET, ip, buf) == 1) return v4_refusal(buf, allow_loopback);
    if (ip && inet_pton(AF_INET6, ip, buf) == 1) return v6_refusal(buf, allow_loopback);
    return "an address that does not parse";
}
