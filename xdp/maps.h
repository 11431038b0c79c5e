/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The balancer's maps: what each holds and who writes it. Layouts are in
 * xlb_abi.h; the control plane (lib/maps.c) fills them. */
#ifndef XLB_MAPS_H
#define XLB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xlb_abi.h"

#ifndef XLB_RING_SIZE_BUILD
#define XLB_RING_SIZE_BUILD XLB_RING_SIZE_DEFAULT
#endif

/* Global settings (gateway/interface MACs, outer sources, MTU); ctl. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_cfg);
} xlb_cfg SEC(".maps");

/* Services by (address, port, protocol); ctl. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, struct xlb_vip_key);
	__type(value, struct xlb_vip);
} xlb_vips SEC(".maps");

/* The VIPs again, as the datapath looks them up: open addressing in an
 * ARRAY (struct xlb_vip_slot), so a lookup is a few inlined loads instead
 * of a hash-map helper call (jhash, bucket, element, memcmp). ctl builds
 * a new one aside and swaps it in whole. mmapable: values start on a
 * page, so each 64-byte slot is one cache line. */
struct xlb_vip_index_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_VIP_INDEX_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__uint(value_size, sizeof(struct xlb_vip_slot));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct xlb_vip_index_inner);
} xlb_vip_index SEC(".maps");

/* Every VIP address, for decisions by address alone; ctl. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLB_MAX_VIP_ADDRS);
	__type(key, struct xlb_addr_key);
	__type(value, struct xlb_vip_addr);
} xlb_vip_addrs SEC(".maps");

/* Bloom filter of VIP addresses (XLB_ADDR_FILTER_BITS); ctl. A clear bit
 * means "not a VIP address" without a hash lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_ADDR_FILTER_WORDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} xlb_addr_filter SEC(".maps");

/* One VIP's Maglev table: slot -> backend id, two slots per element. The
 * size is set at load time (ring_size); ctl builds a new one aside and
 * swaps it in whole. */
struct xlb_ring {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_RING_ELEMS(XLB_RING_SIZE_BUILD));
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	/* struct xlb_ring_pair: clang emits only a forward declaration
	 * for a struct named in an inner map, which libbpf cannot size */
	__type(value, __u64);
};

/* vip_id -> that VIP's ring; ctl. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, __u32);
	__array(values, struct xlb_ring);
} xlb_rings SEC(".maps");

/* Backend slots; ctl. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xlb_backend);
} xlb_backends SEC(".maps");

/* Connection tables: flow -> backend it was sent to, one per family;
 * the datapath writes, ctl and the tests read (lib/conntrack.c). Buckets
 * of XLB_CT_WAYS ways in chunks of XLB_CT4_CHUNK / XLB_CT6_CHUNK, see
 * xlb_abi.h; the loader sizes the outer maps to xlb_ct_chunks() and
 * creates every chunk before the program runs. */
struct xlb_ct4_chunk {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(value_size, XLB_CT_CHUNK_BYTES(XLB_CT4_CHUNK,
					      sizeof(struct xlb_ct4_bucket)));
};

struct xlb_ct6_chunk {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(value_size, XLB_CT_CHUNK_BYTES(XLB_CT6_CHUNK,
					      sizeof(struct xlb_ct6_bucket)));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct xlb_ct4_chunk);
} xlb_conntrack4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct xlb_ct6_chunk);
} xlb_conntrack6 SEC(".maps");

/* Global counters by reason (enum xlb_counter); datapath. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} xlb_stats SEC(".maps");

/* Per-VIP counters by vip_id; datapath. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct xlb_vip_stats);
} xlb_vip_stats SEC(".maps");

/* Per-backend counters by backend id; datapath. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xlb_be_stats);
} xlb_be_stats SEC(".maps");

/* VIP names and keys for the control plane; never read by the datapath. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct xlb_vip_meta);
} xlb_vip_meta SEC(".maps");

#endif /* XLB_MAPS_H */
