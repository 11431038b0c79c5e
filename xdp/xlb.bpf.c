/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xlb: the XDP layer-4 balancer. Reads top to bottom like a packet's
 * journey: parse, find the VIP, pick a backend (connection table, then
 * Maglev), encapsulate, XDP_TX. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xlb_abi.h"
#include "xlb_hash.h"
#include "maps.h"
#include "parse.h"
#include "encap.h"
#include "icmp.h"

/* Maglev table size, set by the loader before load (a prime); every
 * ring in xlb_rings has this many slots. */
const volatile __u32 ring_size = XLB_RING_SIZE_BUILD;
/* The connection tables' layout, set by the loader (struct
 * xlb_ct_layout); the default is for XLB_CONNTRACK_DEFAULT flows. */
const volatile struct xlb_ct_layout conntrack = {
	.size = XLB_CONNTRACK_DEFAULT,
	.chunks4 = XLB_CT_CHUNKS(XLB_CONNTRACK_DEFAULT, XLB_CT4_CHUNK),
	.chunks6 = XLB_CT_CHUNKS(XLB_CONNTRACK_DEFAULT, XLB_CT6_CHUNK),
};

static __always_inline void count(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&xlb_stats, &reason);

	if (c)
		*c += 1;
}

static __always_inline int verdict(__u32 reason, int action)
{
	count(reason);
	return action;
}

/* The VIP of @k in the VIP index @index: the slots from @k's home on, up
 * to the first empty one. NULL if none. */
static __always_inline struct xlb_vip *vip_find(void *index,
						const struct xlb_vip_key *k)
{
	const __u64 *kw = (const __u64 *)k;
	__u32 home = xlb_vip_index_home(k);

	for (__u32 i = 0; i < XLB_VIP_INDEX_PROBES; i++) {
		__u32 n = (home + i) & (XLB_VIP_INDEX_SLOTS - 1);
		struct xlb_vip_slot *s = bpf_map_lookup_elem(index, &n);
		const __u64 *sw;

		if (!s || !s->key.family)
			return NULL;
		sw = (const __u64 *)&s->key;
		if (!((sw[0] ^ kw[0]) | (sw[1] ^ kw[1])) &&
		    ((const __u32 *)sw)[4] == ((const __u32 *)kw)[4])
			return &s->vip;
	}
	return NULL;
}

/* @k's VIP, or else the wildcard-port VIP of its address and protocol.
 * NULL if neither (or no index is installed yet). */
static __always_inline struct xlb_vip *vip_find_or_any(struct xlb_vip_key *k)
{
	__u32 zero = 0;
	void *index = bpf_map_lookup_elem(&xlb_vip_index, &zero);
	struct xlb_vip *vip;

	if (!index)
		return NULL;
	vip = vip_find(index, k);
	if (vip)
		return vip;
	k->port = 0;
	return vip_find(index, k);
}

/* Bloom-filter test: 0 means "certainly not a VIP address". */
static __always_inline int maybe_vip_addr(const struct xlb_flow_key *f)
{
	__u32 bit = xlb_addr_filter_bit(f->dst, f->family);
	__u32 word = bit / 64;
	__u64 *w = bpf_map_lookup_elem(&xlb_addr_filter, &word);

	return w && (*w & (1ULL << (bit % 64)));
}

/* The exact look-up behind a positive filter answer. */
static __always_inline struct xlb_vip_addr *
vip_addr(const struct xlb_flow_key *f)
{
	struct xlb_addr_key ak = {};

	__builtin_memcpy(ak.addr, f->dst, 16);
	ak.family = f->family;
	return bpf_map_lookup_elem(&xlb_vip_addrs, &ak);
}

/* A packet for a VIP address that cannot be balanced: @reason if the
 * address is a VIP's, else the filter's false positive passes untouched. */
static __always_inline int not_balanced(const struct xlb_flow_key *f,
					__u32 reason, int action)
{
	if (!vip_addr(f))
		return verdict(XLB_CNT_PASS_NON_VIP, XDP_PASS);
	return verdict(reason, action);
}

/* The slot value (backend id | XLB_RING_F_CHANGED) in @vip's Maglev ring
 * for @f. The ring's hash is computed only here: a connection-table hit
 * never needs it. */
static __always_inline int ring_pick(const struct xlb_flow_key *f,
				     const struct xlb_vip *vip, __u32 *val)
{
	struct xlb_ring_pair *pair; /* the ring's __u64 values */
	__u32 slot, elem;
	void *ring;

	ring = bpf_map_lookup_elem(&xlb_rings, &vip->vip_id);
	if (!ring)
		return -1;
	slot = xlb_flow_hash(f, vip->hash_mode) % ring_size;
	elem = slot / 2;
	pair = bpf_map_lookup_elem(ring, &elem);
	if (!pair)
		return -1;
	*val = pair->slot[slot & 1];
	return 0;
}

/* What a packet does with the connection table. */
enum ct_use {
	CT_INSERT, /* look up; on a miss remember the ring's choice */
	CT_READ, /* look up only: an ICMP error about a flow */
	CT_SYN, /* a bare TCP SYN: pick_backend_syn() */
};

/* The backend of ring slot value @val for pick_backend(): 0 and a copy
 * in @be if the slot names a backend in use, else -1. */
static __always_inline int ring_backend(__u32 val, __u32 *id,
					struct xlb_backend *be)
{
	struct xlb_backend *slot_be;

	*id = val & XLB_RING_ID_MASK;
	slot_be = bpf_map_lookup_elem(&xlb_backends, id);
	if (!slot_be)
		return -1;
	*be = *slot_be;
	return be->flags & XLB_BE_F_IN_USE ? 0 : -1;
}

/* Keeps clang from reordering a way's stores (x86 keeps their order). */
#define ct_barrier() asm volatile("" ::: "memory")

/* A flow's place in its connection table. */
struct ct_pos {
	void *bucket; /* its bucket; NULL: the look-up failed */
	__u64 *val; /* its way's val; NULL: not remembered */
	__u64 old; /* *val as read */
};

/* One read of a way's val: the decision and the backend come from it. */
#define ct_val_read(p) (*(volatile __u64 *)(p))

/* The way of bucket @b that holds the flow, and its val in @val. */
static __always_inline __u64 *ct4_find(struct xlb_ct4_bucket *b, __u64 key,
				       __u64 vkey, __u64 *val)
{
#pragma unroll
	for (int i = 0; i < XLB_CT_WAYS; i++) {
		__u64 v = ct_val_read(&b->way[i].val);

		if (xlb_ct4_holds(&b->way[i], v, key, vkey)) {
			*val = v;
			return &b->way[i].val;
		}
	}
	return NULL;
}

static __always_inline __u64 *ct6_find(struct xlb_ct6_bucket *b,
				       const __u64 *src, __u64 key, __u64 vkey,
				       __u64 *val)
{
#pragma unroll
	for (int i = 0; i < XLB_CT_WAYS; i++) {
		__u64 v = ct_val_read(&b->way[i].val);

		if (xlb_ct6_holds(&b->way[i], v, src, key, vkey)) {
			*val = v;
			return &b->way[i].val;
		}
	}
	return NULL;
}

/* The way a new flow takes in bucket @b: the first empty one, else the
 * first without XLB_CT_V_REF; -1 if all are in use and referenced, after
 * clearing their bits (second chance), or being inserted into. One
 * function per family. */
/* clang-format off */
#define CT_VICTIM(name, bucket_t)					\
static __always_inline int name(bucket_t *b)				\
{									\
	_Pragma("unroll")						\
	for (int i = 0; i < XLB_CT_WAYS; i++)				\
		if (!(b->way[i].val & (XLB_CT_V_USED | XLB_CT_V_BUSY)))	\
			return i;					\
	_Pragma("unroll")						\
	for (int i = 0; i < XLB_CT_WAYS; i++)				\
		if ((b->way[i].val & (XLB_CT_V_REF | XLB_CT_V_BUSY)) == 0) \
			return i;					\
	_Pragma("unroll")						\
	for (int i = 0; i < XLB_CT_WAYS; i++)				\
		__sync_fetch_and_and(&b->way[i].val, ~XLB_CT_V_REF);	\
	return -1;							\
}
/* clang-format on */
CT_VICTIM(ct4_victim, struct xlb_ct4_bucket)
CT_VICTIM(ct6_victim, struct xlb_ct6_bucket)

/* Take way @w's val for an insert: 1 if it is still free to take (empty,
 * or in use and unreferenced) and this CPU swapped it for XLB_CT_V_BUSY. */
static __always_inline int ct_claim(__u64 *w)
{
	__u64 old = *w;

	if (old & (XLB_CT_V_BUSY | XLB_CT_V_REF))
		return 0;
	return __sync_val_compare_and_swap(w, old, XLB_CT_V_BUSY) == old;
}

/* Remember flow @f (not in @pos's bucket) with @val (see xlb_ct_val()):
 * the way is claimed, keyed, then given its val, so that a reader on
 * another CPU never pairs a key with another flow's val. Returns 1 if
 * remembered, 0 if the bucket had no way to give (or another CPU claimed
 * it first). */
static __always_inline int ct_insert(const struct xlb_flow_key *f,
				     const struct ct_pos *pos, __u64 val)
{
	struct xlb_ct4_way *w4 = NULL;
	struct xlb_ct6_way *w6 = NULL;
	__u64 *vp;
	int v;

	if (f->family == XLB_FAMILY_V4) {
		v = ct4_victim(pos->bucket);
		if (v < 0 || v >= XLB_CT_WAYS)
			return 0;
		w4 = &((struct xlb_ct4_bucket *)pos->bucket)->way[v];
		vp = &w4->val;
	} else {
		v = ct6_victim(pos->bucket);
		if (v < 0 || v >= XLB_CT_WAYS)
			return 0;
		w6 = &((struct xlb_ct6_bucket *)pos->bucket)->way[v];
		vp = &w6->val;
	}
	if (!ct_claim(vp))
		return 0;
	if (w4) {
		w4->key = xlb_ct4_key(f);
	} else if (w6) {
		const __u64 *src = (const __u64 *)f->src;

		w6->src[0] = src[0];
		w6->src[1] = src[1];
		w6->key = xlb_ct6_key(f);
	}
	ct_barrier();
	*vp = val;
	return 1;
}

/* Point the stale or reused entry whose val @vp was @old at @val, unless
 * another CPU changed the way meanwhile. */
static __always_inline void ct_repoint(__u64 *vp, __u64 old, __u64 val)
{
	__sync_val_compare_and_swap(vp, old, val);
}

/* The bucket of a flow whose xlb_flow_entropy() is @h in connection table
 * @table of @nchunks chunks of @per buckets of @size bytes; NULL if the
 * chunk is missing. */
static __always_inline void *ct_bucket(void *table, __u32 h, __u32 nchunks,
				       __u32 per, __u32 size)
{
	__u32 chunk = xlb_ct_chunk(h, nchunks), zero = 0;
	__u32 slot = xlb_ct_slot(h, nchunks, per);
	void *inner = bpf_map_lookup_elem(table, &chunk);
	char *c = inner ? bpf_map_lookup_elem(inner, &zero) : NULL;

	if (!c || slot >= per || conntrack.pad > 63)
		return NULL;
	return c + conntrack.pad + slot * size;
}

/* The remembered backend of @f, a flow of VIP @vip_id (@h:
 * xlb_flow_entropy(@f)), if the table has one that is still live and of
 * the same generation: 1 and a copy in @be. 0 otherwise, with the entry
 * (stale, or NULL) and its bucket in @pos. A hit marks the entry
 * referenced (once). */
static __always_inline int ct_backend(const struct xlb_flow_key *f, __u32 h,
				      __u32 vip_id, struct ct_pos *pos,
				      __u32 *id, struct xlb_backend *be)
{
	__u64 vkey = xlb_ct_val_key(vip_id), *vp, val = 0;
	struct xlb_backend *slot_be;

	pos->val = NULL;
	if (f->family == XLB_FAMILY_V4) {
		struct xlb_ct4_bucket *b;

		b = ct_bucket(&xlb_conntrack4, h, conntrack.chunks4,
			      XLB_CT4_CHUNK, sizeof(*b));
		pos->bucket = b;
		if (!b)
			return 0;
		vp = ct4_find(b, xlb_ct4_key(f), vkey, &val);
	} else {
		struct xlb_ct6_bucket *b;

		b = ct_bucket(&xlb_conntrack6, h, conntrack.chunks6,
			      XLB_CT6_CHUNK, sizeof(*b));
		pos->bucket = b;
		if (!b)
			return 0;
		vp = ct6_find(b, (const __u64 *)f->src, xlb_ct6_key(f), vkey,
			      &val);
	}
	pos->val = vp;
	if (!vp)
		return 0;
	pos->old = val;
	*id = xlb_ct_val_backend(val);
	slot_be = bpf_map_lookup_elem(&xlb_backends, id);
	if (!slot_be)
		return 0;
	*be = *slot_be;
	if (!(be->flags & XLB_BE_F_LIVE) || be->gen != (__u32)val)
		return 0;
	/* unless another CPU changed the way since it was read */
	if (!(val & XLB_CT_V_REF) &&
	    __sync_val_compare_and_swap(vp, val, val | XLB_CT_V_REF) == val)
		pos->old = val | XLB_CT_V_REF;
	return 1;
}

/**
 * pick_backend - connection table first, then the VIP's Maglev ring
 * @f:      the flow, client side
 * @h:      xlb_flow_entropy(@f)
 * @insert: remember the choice on a miss (not for an ICMP error)
 * @be:     out: a copy of the backend slot, taken once: the control plane
 *          rewrites slots with plain map updates, so every decision and
 *          the encapsulation must come from one read
 *
 * A remembered backend is used only while its slot is live and of the
 * same generation; otherwise the flow is re-hashed (and re-remembered).
 * ct_misses counts every packet whose backend came from the ring;
 * new_flows every flow remembered or re-pointed; XLB_CNT_CT_FULL every
 * flow its bucket had no room for (or, rarely, whose way another CPU
 * claimed first).
 * Returns 0 and the backend's id in @id, or -1 if the VIP has none.
 */
static __always_inline int pick_backend(const struct xlb_flow_key *f, __u32 h,
					const struct xlb_vip *vip,
					struct xlb_vip_stats *vs, int insert,
					__u32 *id, struct xlb_backend *be)
{
	int use_ct = !(vip->flags & XLB_VIP_F_NO_CONNTRACK);
	struct ct_pos pos = {};
	__u32 val;

	if (use_ct) {
		if (ct_backend(f, h, vip->vip_id, &pos, id, be)) {
			vs->ct_hits++;
			return 0;
		}
		vs->ct_misses++;
	}
	if (ring_pick(f, vip, &val) || ring_backend(val, id, be))
		return -1;

	if (use_ct && insert && pos.bucket) {
		__u64 val = xlb_ct_val(vip->vip_id, *id, be->gen);

		if (pos.val)
			ct_repoint(pos.val, pos.old, val); /* stale */
		else if (!ct_insert(f, &pos, val)) {
			count(XLB_CNT_CT_FULL);
			return 0;
		}
		vs->new_flows++;
	}
	return 0;
}

/**
 * pick_backend_syn - pick_backend() for a bare TCP SYN
 *
 * A SYN is never remembered: a SYN flood must not evict established
 * flows; the handshake's ACK inserts, and until then Maglev gives the
 * same answer. It reads its ring slot first: on a slot without
 * XLB_RING_F_CHANGED the owner never changed since the flows there were
 * remembered, so every live entry names that owner and the table is not
 * read at all.
 *
 * A live entry that a SYN finds is a closed connection's whose client
 * reuses the source port (or, rarely, a late duplicate of a live
 * connection's SYN). It is followed only to a backend that takes new
 * connections (XLB_BE_F_NEW): a draining one must get none. Otherwise the
 * ring decides, and the entry is re-pointed in place (nothing inserted) so
 * that the handshake's ACK goes where the SYN went.
 */
static __always_inline int pick_backend_syn(const struct xlb_flow_key *f,
					    __u32 h, const struct xlb_vip *vip,
					    struct xlb_vip_stats *vs, __u32 *id,
					    struct xlb_backend *be)
{
	int use_ct = !(vip->flags & XLB_VIP_F_NO_CONNTRACK);
	__u64 *reused = NULL;
	struct ct_pos pos;
	__u32 val;

	if (ring_pick(f, vip, &val))
		return -1;
	if (use_ct && (val & XLB_RING_F_CHANGED) &&
	    ct_backend(f, h, vip->vip_id, &pos, id, be)) {
		if (be->flags & XLB_BE_F_NEW) {
			vs->ct_hits++;
			return 0;
		}
		reused = pos.val;
	}
	if (use_ct)
		vs->ct_misses++;
	if (ring_backend(val, id, be))
		return -1;
	if (reused)
		ct_repoint(reused, pos.old,
			   xlb_ct_val(vip->vip_id, *id, be->gen));
	return 0;
}

/**
 * forward - send a packet of @vip's flow @f to its backend
 * @use:    what the connection table does, enum ct_use
 * @reason: the counter a transmitted packet goes under
 */
static __always_inline int forward(struct xdp_md *ctx, const struct pkt *p,
				   const struct xlb_flow_key *f,
				   const struct xlb_vip *vip, enum ct_use use,
				   __u32 reason)
{
	__u32 entropy = xlb_flow_entropy(f);
	__u32 vip_id = vip->vip_id, be_id, olen, zero = 0;
	struct xlb_vip_stats *vs;
	struct xlb_be_stats *bs;
	struct xlb_backend be;
	struct xlb_cfg *cfg;
	__u64 bytes;
	int gue;

	vs = bpf_map_lookup_elem(&xlb_vip_stats, &vip_id);
	cfg = bpf_map_lookup_elem(&xlb_cfg, &zero);
	if (!vs || !cfg)
		return verdict(XLB_CNT_DROP_NO_BACKEND, XDP_DROP);
	if (use == CT_SYN ? pick_backend_syn(f, entropy, vip, vs, &be_id, &be) :
			    pick_backend(f, entropy, vip, vs, use == CT_INSERT,
					 &be_id, &be))
		return verdict(XLB_CNT_DROP_NO_BACKEND, XDP_DROP);

	gue = vip->encap == XLB_ENCAP_GUE || (be.flags & XLB_BE_F_GUE);
	olen = encap_overhead(be.family, gue);
	if (cfg->mtu && p->ip_len + olen > cfg->mtu) {
		/* never an ICMP error about an ICMP error (RFC 1122 3.2.2,
		 * RFC 4443 2.4(e)) */
		if (!(cfg->flags & XLB_CFG_F_ICMP_TOO_BIG) ||
		    cfg->mtu <= olen || reason == XLB_CNT_TX_ICMP_ERR_FWD)
			return verdict(XLB_CNT_DROP_TOO_BIG, XDP_DROP);
		if (p->flow.family == XLB_FAMILY_V4) {
			/* without DF the sender expects us to fragment,
			 * which XDP cannot: drop, counted */
			if (!p->df || too_big_v4(ctx, p, cfg->mtu - olen))
				return verdict(XLB_CNT_DROP_TOO_BIG, XDP_DROP);
		} else if (too_big_v6(ctx, p, cfg->mtu - olen)) {
			return verdict(XLB_CNT_DROP_TOO_BIG, XDP_DROP);
		}
		return verdict(XLB_CNT_TX_ICMP_TOO_BIG, XDP_TX);
	}

	bytes = p->l3_off + p->ip_len; /* Ethernet + IP, padding excluded */
	vs->packets++;
	vs->bytes += bytes;
	bs = bpf_map_lookup_elem(&xlb_be_stats, &be_id);
	if (bs) {
		bs->packets++;
		bs->bytes += bytes;
	}
	if (encap(ctx, p, cfg, &be, entropy, gue,
		  vip->encap == XLB_ENCAP_GUE ?
			  vip->gue_port :
			  bpf_htons(XLB_GUE_PORT_DEFAULT)))
		return verdict(XLB_CNT_DROP_ADJUST, XDP_DROP);
	return verdict(reason, XDP_TX);
}

/* ICMP/ICMPv6 to a VIP address: echo, or an error about a VIP flow. */
static __always_inline int handle_icmp(struct xdp_md *ctx, struct pkt *p,
				       const struct xlb_vip_addr *va)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xlb_vip_key vk __attribute__((aligned(8))) = {};
	struct xlb_flow_key f = {};
	struct xlb_vip *vip;
	__u8 *ic = data + p->l4_off;
	int v4 = p->flow.family == XLB_FAMILY_V4;

	if (p->l4_off > XLB_MAX_L4_OFF)
		return verdict(XLB_CNT_DROP_MALFORMED_L4, XDP_DROP);
	if ((void *)(ic + 8) > data_end ||
	    p->l4_off + 8 > p->l3_off + p->ip_len)
		return verdict(XLB_CNT_DROP_MALFORMED_L4, XDP_DROP);

	if (ic[0] == (v4 ? ICMP_ECHO : ICMPV6_ECHO_REQUEST)) {
		if (!(va->flags & XLB_ADDR_F_ICMP_ECHO))
			return verdict(XLB_CNT_PASS_VIP_OTHER, XDP_PASS);
		int rc = v4 ? echo_reply_v4(ctx, p) : echo_reply_v6(ctx, p);

		if (rc > 0)
			return verdict(XLB_CNT_PASS_VIP_OTHER, XDP_PASS);
		if (rc < 0)
			return verdict(XLB_CNT_DROP_MALFORMED_L4, XDP_DROP);
		return verdict(XLB_CNT_TX_ICMP_ECHO, XDP_TX);
	}

	if (v4 ? (ic[0] != ICMP_DEST_UNREACH && ic[0] != ICMP_TIME_EXCEEDED) :
		 (ic[0] != ICMPV6_DEST_UNREACH && ic[0] != ICMPV6_PKT_TOOBIG &&
		  ic[0] != ICMPV6_TIME_EXCEED))
		return verdict(XLB_CNT_PASS_VIP_OTHER, XDP_PASS);

	if (icmp_err_flow(data, data_end, p->l4_off + 8, p->l3_off + p->ip_len,
			  p->flow.family, &f, &vk))
		return verdict(XLB_CNT_DROP_ICMP_UNMATCHED, XDP_DROP);
	vip = vip_find_or_any(&vk);
	if (!vip)
		return verdict(XLB_CNT_DROP_ICMP_UNMATCHED, XDP_DROP);
	return forward(ctx, p, &f, vip, CT_READ, XLB_CNT_TX_ICMP_ERR_FWD);
}

SEC("xdp")
int xlb_main(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xlb_vip_key vk __attribute__((aligned(8))) = {};
	struct xlb_vip_addr *va;
	struct xlb_vip *vip;
	struct pkt p = {};
	enum ct_use use = CT_INSERT;
	__u16 eproto;
	int rc;

	count(XLB_CNT_RX);

	rc = parse_l2(data, data_end, &p, &eproto);
	if (rc == PARSE_BAD_L2)
		return verdict(XLB_CNT_PASS_MALFORMED_L2, XDP_PASS);
	if (rc != PARSE_OK)
		return verdict(XLB_CNT_PASS_NON_IP, XDP_PASS);
	if (eproto == bpf_htons(ETH_P_IP))
		rc = parse_ipv4(data, data_end, &p);
	else if (eproto == bpf_htons(ETH_P_IPV6))
		rc = parse_ipv6(data, data_end, &p);
	else
		return verdict(XLB_CNT_PASS_NON_IP, XDP_PASS);
	if (rc == PARSE_EXT_LIMIT)
		return verdict(XLB_CNT_PASS_EXT_HDR_LIMIT, XDP_PASS);
	if (rc != PARSE_OK)
		return verdict(XLB_CNT_PASS_MALFORMED_L3, XDP_PASS);

	/* Most traffic on a shared link is not for us: one bit tells. */
	if (!maybe_vip_addr(&p.flow))
		return verdict(XLB_CNT_PASS_NON_VIP, XDP_PASS);

	if (p.frag ||
	    (p.flow.proto != IPPROTO_TCP && p.flow.proto != IPPROTO_UDP)) {
		va = vip_addr(&p.flow);
		if (!va)
			return verdict(XLB_CNT_PASS_NON_VIP, XDP_PASS);
		/* Non-first fragments carry no ports, so no flow: drop
		 * them all, counted (docs/architecture.md). */
		if (p.frag)
			return verdict(XLB_CNT_DROP_FRAGMENT, XDP_DROP);
		if (p.flow.proto == (p.flow.family == XLB_FAMILY_V4 ?
					     IPPROTO_ICMP :
					     IPPROTO_ICMPV6))
			return handle_icmp(ctx, &p, va);
		return verdict(XLB_CNT_PASS_VIP_OTHER, XDP_PASS);
	}

	if (p.l4_off > XLB_MAX_L4_OFF)
		return not_balanced(&p.flow, XLB_CNT_DROP_MALFORMED_L4,
				    XDP_DROP);
	if (p.flow.proto == IPPROTO_TCP) {
		struct tcphdr *th = data + p.l4_off;

		if ((void *)(th + 1) > data_end || th->doff < 5 ||
		    p.l4_off + th->doff * 4 > p.l3_off + p.ip_len)
			return not_balanced(&p.flow, XLB_CNT_DROP_MALFORMED_L4,
					    XDP_DROP);
		p.flow.sport = th->source;
		p.flow.dport = th->dest;
		if (th->syn && !th->ack)
			use = CT_SYN;
	} else {
		struct udphdr *uh = data + p.l4_off;

		if ((void *)(uh + 1) > data_end ||
		    p.l4_off + sizeof(*uh) > p.l3_off + p.ip_len)
			return not_balanced(&p.flow, XLB_CNT_DROP_MALFORMED_L4,
					    XDP_DROP);
		p.flow.sport = uh->source;
		p.flow.dport = uh->dest;
	}

	__builtin_memcpy(vk.addr, p.flow.dst, 16);
	vk.port = p.flow.dport;
	vk.proto = p.flow.proto;
	vk.family = p.flow.family;
	vip = vip_find_or_any(&vk);
	if (!vip)
		return not_balanced(&p.flow, XLB_CNT_PASS_VIP_OTHER, XDP_PASS);
	return forward(ctx, &p, &p.flow, vip, use, XLB_CNT_TX);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
