/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The flow hash, one definition compiled into the XDP program and into
 * user space, so both pick the same Maglev slot for the same flow.
 *
 * Murmur3's 32-bit block mix over the words the VIP's hash mode selects,
 * then its finaliser. Words are taken as stored (network order): the hash
 * is defined on the bytes, so every host computes the same value.
 */
#ifndef XLB_HASH_H
#define XLB_HASH_H

#include "xlb_abi.h"

#ifndef XLB_INLINE
#ifdef __bpf__
#define XLB_INLINE static __attribute__((always_inline)) inline
#else
#define XLB_INLINE static inline
#endif
#endif

/* Seed: any constant works, it only has to match on every balancer. */
#define XLB_HASH_SEED 0x786c6221U

XLB_INLINE __u32 xlb_rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

XLB_INLINE __u32 xlb_mix(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51U;
	k = xlb_rotl32(k, 15);
	k *= 0x1b873593U;
	h ^= k;
	h = xlb_rotl32(h, 13);
	return h * 5 + 0xe6546b64U;
}

XLB_INLINE __u32 xlb_fmix(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bU;
	h ^= h >> 13;
	h *= 0xc2b2ae35U;
	h ^= h >> 16;
	return h;
}

/* Hash of one address: one word for IPv4, four for IPv6. */
XLB_INLINE __u32 xlb_hash_addr(__u32 h, const __be32 *a, __u8 family)
{
	h = xlb_mix(h, a[0]);
	if (family == XLB_FAMILY_V6) {
		h = xlb_mix(h, a[1]);
		h = xlb_mix(h, a[2]);
		h = xlb_mix(h, a[3]);
	}
	return h;
}

/**
 * xlb_flow_hash - the hash a VIP's ring is indexed with
 * @f:    the flow, client side (src = client, dst = VIP)
 * @mode: XLB_HASH_* of the VIP
 *
 * Returns the 32-bit hash; the Maglev slot is hash % ring_size.
 */
XLB_INLINE __u32 xlb_flow_hash(const struct xlb_flow_key *f, __u8 mode)
{
	__u32 h = XLB_HASH_SEED;

	h = xlb_hash_addr(h, f->src, f->family);
	if (mode == XLB_HASH_SRC_IP)
		return xlb_fmix(h ^ 4);
	if (mode == XLB_HASH_SRC_IP_PORT)
		return xlb_fmix(xlb_mix(h, (__u32)f->sport) ^ 8);
	h = xlb_hash_addr(h, f->dst, f->family);
	h = xlb_mix(h, (__u32)f->sport | ((__u32)f->dport << 16));
	h = xlb_mix(h, f->proto);
	return xlb_fmix(h ^ 40);
}

/**
 * xlb_flow_entropy - per-flow bits for the outer headers
 * @f: the flow, client side
 *
 * The connection tables place the flow by it (xlb_ct_chunk()), and the
 * derived outer source, the IPv6 flow label and the GUE source port carry
 * it, so that routers and the backend NIC's RSS spread the flows of one
 * balancer. It is not xlb_flow_hash on purpose: an established flow takes
 * its backend from the connection table, and the ring's hash (a chain of
 * up to ten murmur3 mixes) is then never computed. This one is the
 * addresses folded, one multiply, the ports, and murmur3's finaliser: the
 * table reads its high bits and the headers its low bits, and both must
 * look random for structured flows too. (Until 2026-11-26 it ended after
 * one more multiply and one shift: the flows of one client address on
 * consecutive ports, a NAT's, then piled up in a few buckets, 4.4% of
 * them beyond their bucket's ways in a table for four times as many
 * flows; tests/unit/test_spread.c.)
 */
XLB_INLINE __u32 xlb_flow_entropy(const struct xlb_flow_key *f)
{
	__u32 a = f->src[0] ^ f->dst[0];

	if (f->family == XLB_FAMILY_V6)
		a ^= f->src[1] ^ f->src[2] ^ f->src[3] ^ f->dst[1] ^ f->dst[2] ^
		     f->dst[3];
	return xlb_fmix((a * 0x9e3779b1U) ^
			((__u32)f->sport | (__u32)f->dport << 16));
}

/**
 * xlb_vip_index_home - the home slot of a VIP key in the VIP index
 *
 * Every packet to a VIP computes it, so it is short: the address words
 * folded, one multiply, the port/protocol/family word, murmur3's
 * finaliser. The multiply and the finaliser are bijections, so the keys
 * of a structured set (consecutive addresses, one port; one address,
 * consecutive ports) stay distinct until the final mask, and only chance
 * collisions of the 13 low bits share a home: placement tolerates those
 * (XLB_VIP_INDEX_PROBES).
 */
XLB_INLINE __u32 xlb_vip_index_home(const struct xlb_vip_key *k)
{
	__u32 a = k->addr[0] ^ k->addr[1] ^ k->addr[2] ^ k->addr[3];
	__u32 w =
		(__u32)k->port | (__u32)k->proto << 16 | (__u32)k->family << 24;

	return xlb_fmix(a * 0x9e3779b1U ^ w) & (XLB_VIP_INDEX_SLOTS - 1);
}

/* Buckets of a connection table for @size flows: XLB_CT_WAYS ways per
 * two flows, so a table of @size flows is at most half full. */
#define XLB_CT_BUCKETS(size) (((size) + 1) / 2)
XLB_INLINE __u32 xlb_ct_buckets(__u32 size)
{
	return XLB_CT_BUCKETS(size);
}

/* Chunks of @per buckets (XLB_CT4_CHUNK or XLB_CT6_CHUNK) that hold the
 * buckets of a table for @size flows (the macro: for initialisers). */
#define XLB_CT_CHUNKS(size, per) ((XLB_CT_BUCKETS(size) + (per)-1) / (per))
XLB_INLINE __u32 xlb_ct_chunks(__u32 size, __u32 per)
{
	return XLB_CT_CHUNKS(size, per);
}

/**
 * xlb_ct_chunk - the chunk of a flow in a table of @nchunks chunks
 * @h: xlb_flow_entropy() of the flow, which every forwarded packet
 *     computes anyway
 *
 * The high half of @h * @nchunks maps @h onto 0..@nchunks-1 without a
 * division or a power-of-two size; xlb_ct_slot() maps the low half onto
 * the chunk's buckets.
 */
XLB_INLINE __u32 xlb_ct_chunk(__u32 h, __u32 nchunks)
{
	return (__u32)(((__u64)h * nchunks) >> 32);
}

/* The bucket of that flow in its chunk of @per buckets: 0..@per-1. */
XLB_INLINE __u32 xlb_ct_slot(__u32 h, __u32 nchunks, __u32 per)
{
	return (__u32)(((__u64)(__u32)(h * nchunks) * per) >> 32);
}

/* Bytes from a chunk's element to its first bucket, when the kernel puts
 * the element @value_off bytes into an allocation that starts on a page
 * (offsetof(struct bpf_array, value)): the buckets start on a line. */
XLB_INLINE __u32 xlb_ct_pad(__u32 value_off)
{
	return (64 - (value_off & 63)) & 63;
}

/* IPv4 flow @f as struct xlb_ct4_way.key. */
XLB_INLINE __u64 xlb_ct4_key(const struct xlb_flow_key *f)
{
	return (__u64)f->src[0] | (__u64)f->sport << 32 | (__u64)f->dport << 48;
}

/* IPv6 flow @f as struct xlb_ct6_way.key (its source: the first two words
 * of struct xlb_flow_key). */
XLB_INLINE __u64 xlb_ct6_key(const struct xlb_flow_key *f)
{
	return (__u64)f->sport | (__u64)f->dport << 16;
}

/* A used way's val: backend @backend_id of generation @gen for a flow of
 * VIP @vip_id. */
XLB_INLINE __u64 xlb_ct_val(__u32 vip_id, __u32 backend_id, __u32 gen)
{
	return XLB_CT_V_USED | (__u64)vip_id << XLB_CT_V_VIP_SHIFT |
	       (__u64)(backend_id & 0xffff) << XLB_CT_V_BACKEND_SHIFT | gen;
}

/* The bits of val a look-up for a flow of VIP @vip_id compares. */
XLB_INLINE __u64 xlb_ct_val_key(__u32 vip_id)
{
	return XLB_CT_V_USED | (__u64)vip_id << XLB_CT_V_VIP_SHIFT;
}

/* Way @w, whose val was read once as @val, holds the IPv4 flow whose
 * xlb_ct4_key() is @key, of the VIP whose xlb_ct_val_key() is @vkey. The
 * caller uses that same @val: read again, it could be another flow's,
 * written meanwhile by an insert on another CPU. */
XLB_INLINE int xlb_ct4_holds(const struct xlb_ct4_way *w, __u64 val, __u64 key,
			     __u64 vkey)
{
	return (val & XLB_CT_V_KEY) == vkey && w->key == key;
}

/* The same for IPv6: @src is the flow's source as two words. */
XLB_INLINE int xlb_ct6_holds(const struct xlb_ct6_way *w, __u64 val,
			     const __u64 *src, __u64 key, __u64 vkey)
{
	return (val & XLB_CT_V_KEY) == vkey && w->key == key &&
	       w->src[0] == src[0] && w->src[1] == src[1];
}

XLB_INLINE __u32 xlb_ct_val_backend(__u64 val)
{
	return (__u32)(val >> XLB_CT_V_BACKEND_SHIFT) & 0xffff;
}

/**
 * xlb_addr_filter_bit - the bit of xlb_addr_filter an address sets
 * @a: address words as stored (IPv4 in a[0])
 *
 * Returns a bit index below XLB_ADDR_FILTER_BITS. Fibonacci hashing of
 * the folded address: cheap, and spreads neighbouring addresses.
 */
XLB_INLINE __u32 xlb_addr_filter_bit(const __be32 *a, __u8 family)
{
	__u32 x = a[0];

	if (family == XLB_FAMILY_V6)
		x = xlb_mix(xlb_mix(xlb_mix(a[0], a[1]), a[2]), a[3]);
	return (x * 0x9e3779b1U) >> 16;
}

#endif /* XLB_HASH_H */
