/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The VIP address filter (xlb_addr_filter): the control plane's side. */
#ifndef XLB_FILTER_H
#define XLB_FILTER_H

#include <stddef.h>
#include <linux/types.h>

/**
 * xlb_filter_add - set the filter bit of one address
 * @fd: the xlb_addr_filter map
 *
 * Call before the address's VIP entries are written, so the datapath
 * never filters out a VIP it could find. Returns 0 or -errno.
 */
int xlb_filter_add(int fd, const __be32 *addr, __u8 family);

/**
 * xlb_filter_write - make the filter exactly the bits of @n addresses
 * @addrs: n entries of 4 words each (IPv4 in word 0)
 * @fam:   n families
 *
 * Each changed 64-bit word is written with one update, so a reader sees
 * the old or the new word, never a mix: call it after removed VIPs are
 * gone (their bits may then clear) and with every live address in the
 * set (their bits stay set throughout). Returns 0 or -errno.
 */
int xlb_filter_write(int fd, const __be32 (*addrs)[4], const __u8 *fam,
		     size_t n);

#endif /* XLB_FILTER_H */
