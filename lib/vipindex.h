/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The VIP index (xlb_vip_index): the control plane's side. */
#ifndef XLB_VIPINDEX_H
#define XLB_VIPINDEX_H

#include <stddef.h>

#include "config.h"
#include "xlb_abi.h"

/* The datapath's key of VIP @v (address, port, protocol, family). */
void xlb_vip_key_of(struct xlb_vip_key *k, const struct xlb_vip_cfg *v);

/**
 * xlb_vip_index_fill - place @n VIPs in index slots
 * @slots: XLB_VIP_INDEX_SLOTS entries, zeroed by the caller
 * @vips:  each key's VIP, or NULL to place the keys only (a fit check)
 * @bad:   out, on -ENOSPC: the key that found no free slot within
 *         XLB_VIP_INDEX_PROBES of its home
 *
 * Pure: the same set of keys gives the same slots, in any order.
 * Returns 0, -ENOSPC or -ENOMEM.
 */
int xlb_vip_index_fill(struct xlb_vip_slot *slots,
		       const struct xlb_vip_key *keys,
		       const struct xlb_vip *vips, size_t n, size_t *bad);

/**
 * xlb_vip_index_install - make @slots the index the datapath reads
 * @outer_fd: the xlb_vip_index map
 *
 * Writes a new inner map and swaps it in with one update: a packet sees
 * the old index or the new one, never a mix. Returns 0 or -errno.
 */
int xlb_vip_index_install(int outer_fd, const struct xlb_vip_slot *slots);

/**
 * xlb_vip_index_read - the index the datapath reads now, into @slots
 * (XLB_VIP_INDEX_SLOTS of them). Returns 0, -ENOENT if none is
 * installed, or -errno.
 */
int xlb_vip_index_read(int outer_fd, struct xlb_vip_slot *slots);

/**
 * xlb_vip_index_sync - rebuild the index from a xlb_vips hash map
 *
 * For loaders that write xlb_vips directly (tests, benchmarks); xlbctl
 * builds the index from its plan. Returns 0, -ENOSPC or -errno.
 */
int xlb_vip_index_sync(int vips_fd, int outer_fd);

#endif /* XLB_VIPINDEX_H */
