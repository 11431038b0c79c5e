/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Netlink (libmnl) look-ups the control plane needs: interface MAC and
 * the default gateway's MAC. */
#ifndef XLB_NETLINK_H
#define XLB_NETLINK_H

#include <stddef.h>
#include <stdint.h>

/* Messages written to @err fit in this many bytes (interface names and
 * addresses included). */
#define XLB_NL_ERRLEN 256

/**
 * xlb_nl_if_mac - hardware address of an interface
 * Returns 0, or -errno with a sentence in @err (what failed and what to do).
 */
int xlb_nl_if_mac(const char *ifname, uint8_t mac[6], char *err, size_t errlen);

/**
 * xlb_nl_gateway_mac - MAC of the default gateway reached through @ifname
 * @family: AF_INET or AF_INET6 (AF_UNSPEC: try IPv4 then IPv6)
 *
 * Finds the default route out of @ifname, then the gateway's neighbour
 * entry; if the entry is missing or incomplete it probes the gateway (a
 * neighbour solicitation through the kernel) and waits up to ~1 s.
 * Returns 0, or -errno with a sentence in @err.
 */
int xlb_nl_gateway_mac(const char *ifname, int family, uint8_t mac[6],
		       char *err, size_t errlen);

#endif /* XLB_NETLINK_H */
