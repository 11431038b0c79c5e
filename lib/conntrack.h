/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The connection tables (xlb_conntrack4/6) seen from user space: mapped
 * into memory, read and written the way the datapath does (xlb_abi.h has
 * the layout). The control plane checks them for emptiness; the tests and
 * the bench look flows up, plant entries and clear them. */
#ifndef XLB_CONNTRACK_H
#define XLB_CONNTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xlb_abi.h"

struct bpf_map;

struct xlb_ct_table {
	void *mem; /* the buckets, mapped shared */
	size_t len; /* bytes mapped */
	uint32_t nbuckets;
	uint32_t bucket_size; /* sizeof(struct xlb_ct4/6_bucket) */
	int family; /* XLB_FAMILY_* */
};

/* Size both tables of an object not loaded yet for @size flows. Returns
 * 0 or -errno. */
int xlb_ct_size(struct bpf_map *ct4, struct bpf_map *ct6, uint32_t size);

/* Map connection table @fd of @family. Returns 0 or -errno (a map that
 * is not a connection table of that family: -EINVAL). */
int xlb_ct_open(struct xlb_ct_table *t, int fd, int family);
void xlb_ct_close(struct xlb_ct_table *t);

/* The entry of flow @f of VIP @vip_id; whether it is referenced
 * (XLB_CT_V_REF) in *@ref unless NULL. */
bool xlb_ct_get(const struct xlb_ct_table *t, const struct xlb_flow_key *f,
		uint32_t vip_id, struct xlb_ct *ct, bool *ref);
/* Remember @f of VIP @vip_id with @ct: its entry if it has one, else an
 * empty way of its bucket (the tests plant entries; nothing is evicted).
 * Returns 0, -ENOSPC if every way is taken, -EINVAL for ids out of
 * range. */
int xlb_ct_put(struct xlb_ct_table *t, const struct xlb_flow_key *f,
	       uint32_t vip_id, const struct xlb_ct *ct);
/* Forget every flow. Only while no packet runs through the program: a
 * flow being inserted meanwhile may survive, half written. */
void xlb_ct_clear(struct xlb_ct_table *t);
/* Flows remembered. */
size_t xlb_ct_count(const struct xlb_ct_table *t);

#endif /* XLB_CONNTRACK_H */
