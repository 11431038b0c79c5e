/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What differs between two configurations (or the running state read back
 * from the maps and a new file): the plan a reload applies. */
#ifndef XLB_DIFF_H
#define XLB_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* No counterpart in the other config. */
#define XLB_DIFF_NONE SIZE_MAX

enum xlb_change {
	XLB_SAME = 0,
	XLB_ADDED,
	XLB_REMOVED,
	XLB_CHANGED,
};

/* What changed in a backend that exists on both sides (bit mask). */
#define XLB_BD_STATE (1U << 0)
#define XLB_BD_WEIGHT (1U << 1)
#define XLB_BD_GUE (1U << 2)

/* What changed in a VIP that exists on both sides (bit mask). */
#define XLB_VD_NAME (1U << 0)
#define XLB_VD_CONNTRACK (1U << 1)
#define XLB_VD_HASH (1U << 2)
#define XLB_VD_ENCAP (1U << 3) /* encap or gue_port */
#define XLB_VD_ECHO (1U << 4)
#define XLB_VD_BACKENDS (1U << 5) /* some backend added/removed/changed */

struct xlb_be_diff {
	enum xlb_change kind;
	size_t old_idx; /* index in the old VIP's backends, or XLB_DIFF_NONE */
	size_t new_idx; /* index in the new VIP's backends, or XLB_DIFF_NONE */
	unsigned int what; /* XLB_BD_* when kind == XLB_CHANGED */
};

/* VIPs are matched by their datapath identity (address, port, protocol);
 * backends within a VIP by address. */
struct xlb_vip_diff {
	enum xlb_change kind;
	size_t old_idx; /* index in old->vips, or XLB_DIFF_NONE */
	size_t new_idx; /* index in new->vips, or XLB_DIFF_NONE */
	unsigned int what; /* XLB_VD_* when kind == XLB_CHANGED */
	bool ring; /* the Maglev table must be rebuilt (and swapped) */
	/* every slot of the new table gets XLB_RING_F_CHANGED: the VIP's
	 * flows may have connection-table entries made by another table (the
	 * VIP is added, its hash or conntrack changes, or it is a wildcard-port
	 * VIP that inherits a removed VIP's flows); implies @ring */
	bool remark;
	size_t n_be; /* entries in @be: union of both backend lists */
	struct xlb_be_diff *be;
	size_t be_added, be_removed, be_changed;
};

struct xlb_diff {
	size_t n_vips; /* union of both VIP lists, new order then removed */
	struct xlb_vip_diff *vips;
	size_t vips_added, vips_removed, vips_changed, vips_same;
	size_t be_added, be_removed, be_changed;
	size_t rings; /* rings to rebuild */
	bool settings; /* gateway MAC, encap source, mtu or icmp_too_big */
};

/**
 * xlb_diff_compute - compare two configurations
 * @old: what runs (may be an empty config: everything is added)
 * @new: what the operator wants
 * @d:   out; free with xlb_diff_free
 *
 * Pure: reads only its arguments. Settings that cannot change without
 * unloading are not checked here (see xlb_diff_fixed). A gateway MAC
 * marked auto on either side is not compared: the caller resolves it.
 * Returns 0 or -ENOMEM.
 */
int xlb_diff_compute(const struct xlb_config *old, const struct xlb_config *new,
		     struct xlb_diff *d);
void xlb_diff_free(struct xlb_diff *d);

/**
 * xlb_diff_fixed - refuse changes a reload cannot apply
 * @old, @new: running and wanted configuration
 * @err:       out, one sentence per refused setting with the remedy
 *
 * Interface, mode, maglev_table_size and conntrack_size are fixed when the
 * program is loaded. Returns 0 if none changed, -EINVAL otherwise.
 */
int xlb_diff_fixed(const struct xlb_config *old, const struct xlb_config *new,
		   char *err, size_t errlen);

/* "2 VIPs added, 1 VIP changed, 3 backends added" or "no changes". */
void xlb_diff_summary(const struct xlb_diff *d, char *buf, size_t len);

/* Effective Maglev weight of a backend: its weight if active, else 0. */
uint16_t xlb_backend_ring_weight(const struct xlb_backend_cfg *b);

/* What @v's Maglev table is built from (the address and ring weight of
 * each backend with a ring weight) in 32 bits, whatever the backends'
 * order; never 0. Equal for two VIPs that ring_same() would call equal. */
uint32_t xlb_ring_fingerprint(const struct xlb_vip_cfg *v);

#endif /* XLB_DIFF_H */
