/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The xlb ABI: every map key, value, flag and limit shared by the XDP
 * programs (xdp/), the control plane (lib/, ctl/) and the tests.
 *
 * Rules: fixed-width kernel types only, every hole is a named pad field,
 * byte order stated per field, and a size assertion beside each struct.
 * Callers zero keys (= {}) before filling them: a stray pad byte makes a
 * hash lookup miss silently.
 */
#ifndef XLB_ABI_H
#define XLB_ABI_H

#include <linux/types.h>

/* ---- Limits ------------------------------------------------------------ */

/* VIPs the maps hold; vip ids are 0..XLB_MAX_VIPS-1. */
#define XLB_MAX_VIPS 1024
/* Backend slots over all VIPs (512 VIPs x 100 backends fits with room);
 * a backend slot belongs to one VIP. Ids are 0..XLB_MAX_BACKENDS-1. */
#define XLB_MAX_BACKENDS 65536
/* Backends one VIP may have. */
#define XLB_MAX_BACKENDS_PER_VIP 4096
/* Slots of the VIP index (xlb_vip_index): 8 per VIP at most, so probe
 * runs stay short; a power of two. */
#define XLB_VIP_INDEX_SLOTS 8192
/* Slots a key may sit past its home slot (linear probing). ctl refuses a
 * set of VIPs that does not fit, before changing anything. */
#define XLB_VIP_INDEX_PROBES 8
/* Distinct VIP addresses (echo/fragment lookups are by address). */
#define XLB_MAX_VIP_ADDRS XLB_MAX_VIPS
/* Bits of the VIP address filter (xlb_addr_filter): a one-hash Bloom
 * filter that lets the datapath pass non-VIP traffic without a hash-map
 * lookup. 64 Ki bits = 8 KiB stays in cache; with 1024 addresses the
 * false-positive rate is 1.6% (those take the exact lookup). */
#define XLB_ADDR_FILTER_BITS 65536
#define XLB_ADDR_FILTER_WORDS (XLB_ADDR_FILTER_BITS / 64)
/* Default Maglev table size: a prime, as the Maglev paper requires. */
#define XLB_RING_SIZE_DEFAULT 65537
/* Largest table size accepted (a prime). */
#define XLB_RING_SIZE_MAX 655373
/* Default connection-table size, in flows. */
#define XLB_CONNTRACK_DEFAULT 1000000
/* IPv6 extension headers walked before giving up (counted). */
#define XLB_MAX_EXT_HDRS 8
/* VIP name length in bytes, NUL included. */
#define XLB_NAME_LEN 32
/* Default GUE destination port (UDP). */
#define XLB_GUE_PORT_DEFAULT 6080
/* Outer TTL / hop limit of encapsulated packets. */
#define XLB_OUTER_TTL 64

/* Address families as stored in keys (not AF_*: stable across libcs). */
#define XLB_FAMILY_V4 4
#define XLB_FAMILY_V6 6

/* ---- Hash modes (struct xlb_vip.hash_mode) ---------------------------- */
#define XLB_HASH_5TUPLE 0 /* src, dst, sport, dport, proto (default) */
#define XLB_HASH_SRC_IP 1 /* source address only: client stickiness */
#define XLB_HASH_SRC_IP_PORT 2 /* source address + source port */

/* ---- Encapsulation (struct xlb_vip.encap) ----------------------------- */
#define XLB_ENCAP_IPIP 0 /* IPIP / IP6IP6 / 4in6 / 6in4 by families */
#define XLB_ENCAP_GUE 1 /* outer IP + UDP (GUE variant 1) + inner IP */

/* ---- VIP flags (struct xlb_vip.flags) --------------------------------- */
#define XLB_VIP_F_NO_CONNTRACK (1U << 0) /* bypass the connection table */

/* ---- VIP address flags (struct xlb_vip_addr.flags) -------------------- */
#define XLB_ADDR_F_ICMP_ECHO (1U << 0) /* answer echo requests from XDP */

/* ---- Backend flags (struct xlb_backend.flags) ------------------------- */
/* Slot in use: the entry describes a configured backend. */
#define XLB_BE_F_IN_USE (1U << 0)
/* Established flows may stay (active or drain); clear when down. */
#define XLB_BE_F_LIVE (1U << 1)
/* Encapsulate in GUE even if the VIP says IPIP. */
#define XLB_BE_F_GUE (1U << 2)
/* Takes new connections: state active and weight > 0 (the backends its
 * VIP's ring is built from). A bare SYN follows a remembered entry only to
 * a backend with this flag: an entry that a SYN finds is a closed
 * connection's (a reused client port), and a draining backend must get no
 * new connection. */
#define XLB_BE_F_NEW (1U << 3)

/* Backend states as the control plane records them (xlb_backend.state). */
#define XLB_BE_STATE_ACTIVE 0
#define XLB_BE_STATE_DRAIN 1
#define XLB_BE_STATE_DOWN 2

/* ---- Global config flags (struct xlb_cfg.flags) ----------------------- */
#define XLB_CFG_F_ICMP_TOO_BIG (1U << 0) /* answer oversize with ICMP */
#define XLB_CFG_F_SRC4 (1U << 1) /* src4 is set: else derived */
#define XLB_CFG_F_SRC6 (1U << 2) /* src6 is set: else derived */

/* Derived outer sources (no encap_source configured): the flow hash fills
 * the host bits so a backend's NIC spreads flows over its RX queues.
 * IPv4: 172.16.0.0/12 (private); IPv6: 100::/64 (discard-only, RFC 6666).
 * Both in host byte order here; the program converts. */
#define XLB_DERIVED_SRC4_NET 0xac100000U
#define XLB_DERIVED_SRC4_MASK 0x000fffffU
#define XLB_DERIVED_SRC6_W0 0x01000000U

/* ---- Maps ---------------------------------------------------------------
 * Names as they appear in the object and under /sys/fs/bpf/xlb/<ifname>/.
 *
 *  xlb_cfg       ARRAY[1]            struct xlb_cfg
 *  xlb_vips      HASH                struct xlb_vip_key -> struct xlb_vip
 *                                    (ctl's record; the datapath reads
 *                                    xlb_vip_index)
 *  xlb_vip_index ARRAY_OF_MAPS[1]    0 -> ARRAY[XLB_VIP_INDEX_SLOTS] of
 *                                    struct xlb_vip_slot: the same VIPs,
 *                                    open addressing, built aside and
 *                                    swapped in whole
 *  xlb_vip_addrs HASH                struct xlb_addr_key -> struct xlb_vip_addr
 *  xlb_addr_filter ARRAY             word -> __u64 bits: bit
 *                                    xlb_addr_filter_bit(addr) set for
 *                                    every VIP address (mmapable)
 *  xlb_rings     ARRAY_OF_MAPS       vip_id -> ARRAY[XLB_RING_ELEMS(ring_size)]
 *                                    of struct xlb_ring_pair: backend ids
 *                                    | XLB_RING_F_CHANGED (swapped whole
 *                                    on reload)
 *  xlb_backends  ARRAY               backend id -> struct xlb_backend
 *  xlb_conntrack4 ARRAY_OF_MAPS      chunk -> ARRAY[1] of XLB_CT4_CHUNK
 *                                    struct xlb_ct4_bucket
 *  xlb_conntrack6 ARRAY_OF_MAPS      chunk -> ARRAY[1] of XLB_CT6_CHUNK
 *                                    struct xlb_ct6_bucket
 *                                    (IPv4 and IPv6 flows: at least
 *                                    xlb_ct_buckets(conntrack_size)
 *                                    buckets of XLB_CT_WAYS flows, in
 *                                    chunks the kernel allocates in huge
 *                                    pages; xlb_ct_chunk() and
 *                                    xlb_ct_slot() say where a flow lives)
 *  xlb_stats     PERCPU_ARRAY        reason -> __u64
 *  xlb_vip_stats PERCPU_ARRAY        vip_id -> struct xlb_vip_stats
 *  xlb_be_stats  PERCPU_ARRAY        backend id -> struct xlb_be_stats
 *  xlb_vip_meta  ARRAY               vip_id -> struct xlb_vip_meta (ctl only)
 */

/* Global settings, written by the control plane, read per packet. */
struct xlb_cfg {
	__u8 gw_mac[6]; /* next hop (router) MAC: outer Ethernet dst */
	__u8 if_mac[6]; /* our interface MAC: outer Ethernet src */
	__be32 src4; /* outer IPv4 source when XLB_CFG_F_SRC4 */
	__be32 src6[4]; /* outer IPv6 source when XLB_CFG_F_SRC6 */
	__u16 mtu; /* host order: largest outer IP packet, bytes */
	__u16 flags; /* XLB_CFG_F_* */
	__u32 pad;
};
_Static_assert(sizeof(struct xlb_cfg) == 40, "xlb_cfg layout");

/* A service: address, port (0 = every port), protocol. */
struct xlb_vip_key {
	__be32 addr[4]; /* IPv4 in addr[0], rest zero */
	__be16 port; /* network order; 0 = wildcard */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family; /* XLB_FAMILY_V4 / XLB_FAMILY_V6 */
};
_Static_assert(sizeof(struct xlb_vip_key) == 20, "xlb_vip_key layout");

struct xlb_vip {
	__u32 vip_id; /* index into xlb_rings, xlb_vip_stats */
	__u32 flags; /* XLB_VIP_F_* */
	__u8 hash_mode; /* XLB_HASH_* */
	__u8 encap; /* XLB_ENCAP_* */
	__be16 gue_port; /* network order, with XLB_ENCAP_GUE */
	__u32 pad;
};
_Static_assert(sizeof(struct xlb_vip) == 16, "xlb_vip layout");

/* One slot of the VIP index: a key and its VIP, one cache line. A key
 * sits in the first free slot from xlb_vip_index_home(key) on, at most
 * XLB_VIP_INDEX_PROBES - 1 past it; a lookup stops at an empty slot. */
struct xlb_vip_slot {
	struct xlb_vip_key key; /* family 0: empty */
	__u32 pad;
	struct xlb_vip vip;
	__u8 pad2[24];
};
_Static_assert(sizeof(struct xlb_vip_slot) == 64, "xlb_vip_slot layout");

/* An address some VIP uses, for what is decided by address alone
 * (ICMP echo, fragments, ICMP errors). */
struct xlb_addr_key {
	__be32 addr[4];
	__u8 family;
	__u8 pad[3];
};
_Static_assert(sizeof(struct xlb_addr_key) == 20, "xlb_addr_key layout");

struct xlb_vip_addr {
	__u32 flags; /* XLB_ADDR_F_* */
	__u32 refs; /* VIPs on this address (control plane bookkeeping) */
};
_Static_assert(sizeof(struct xlb_vip_addr) == 8, "xlb_vip_addr layout");

/* Two Maglev slots per array element: an ARRAY map rounds every value up
 * to 8 bytes, so a lone __u32 would waste half the ring. Slot i is
 * element i / 2, slot[i & 1]; mmap'ed, the ring is a plain __u32 array
 * with slot i at index i. The last half of an odd-sized ring is unused. */
struct xlb_ring_pair {
	__u32 slot[2]; /* backend ids, host order, | XLB_RING_F_CHANGED */
};
_Static_assert(sizeof(struct xlb_ring_pair) == 8, "xlb_ring_pair layout");
#define XLB_RING_ELEMS(m) (((m) + 1) / 2)

/* In a ring slot: the slot's backend may differ from the one a
 * connection-table entry of a flow on it names. ctl sets it on every slot
 * whose owner changed since the instance was loaded, and on every slot of
 * a ring whose flows may have entries from elsewhere (xlb_vip_diff.remark
 * in lib/diff.h says when). A bare SYN on a slot without it
 * skips the table: every live entry of a flow there names this backend.
 * The empty slot (UINT32_MAX) carries it too, harmlessly. */
#define XLB_RING_F_CHANGED 0x80000000U
#define XLB_RING_ID_MASK 0x7fffffffU

/* A backend slot. gen changes every time the slot is (re)assigned, so a
 * connection-table entry that names a removed backend never matches a new
 * one that reuses the slot. */
struct xlb_backend {
	__be32 addr[4]; /* IPv4 in addr[0] */
	__u32 gen; /* slot generation, never 0 for a used slot */
	__u32 vip_id; /* owner VIP (control plane bookkeeping) */
	__u16 weight; /* host order, 0..65535 */
	__u8 family; /* XLB_FAMILY_* */
	__u8 flags; /* XLB_BE_F_* */
	__u8 state; /* XLB_BE_STATE_* (control plane bookkeeping) */
	__u8 pad[3];
};
_Static_assert(sizeof(struct xlb_backend) == 32, "xlb_backend layout");

/* A flow as the connection table and the hash see it (client side). */
struct xlb_flow_key {
	__be32 src[4];
	__be32 dst[4];
	__be16 sport; /* network order; 0 for ICMP */
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
} __attribute__((aligned(8))); /* compared as five __u64 words */
_Static_assert(sizeof(struct xlb_flow_key) == 40, "xlb_flow_key layout");

/* A connection-table entry as user space reads and plants it
 * (lib/conntrack.h); the tables store it packed in a way's val. */
struct xlb_ct {
	__u32 backend_id;
	__u32 gen; /* xlb_backend.gen when remembered */
};
_Static_assert(sizeof(struct xlb_ct) == 8, "xlb_ct layout");

/* ---- Connection tables ---------------------------------------------------
 * xlb's own set-associative tables, not kernel hash maps: a flow lives in
 * one bucket (xlb_ct_chunk(), xlb_ct_slot()) of XLB_CT_WAYS ways, so a look-up reads the
 * bucket's line(s) and compares inline (no helper call, no element to
 * chase) and an insert is a store into the lines the missed look-up just
 * read.
 *
 * A way is the client side of the flow (source address and both ports)
 * and one 64-bit val: the VIP id (which stands for the VIP's address and
 * protocol), the backend id and its generation, and two flags. The VIP id
 * is part of the key; everything about the entry changes with one store.
 *
 * Replacement is second chance (CLOCK) within the bucket: a hit sets the
 * way's XLB_CT_V_REF (once, atomically); an insert takes an empty way, else
 * the first way without the bit (a flow that sent one packet since the
 * bucket was last full: a spoofed ACK or a dead flow), else clears every
 * way's bit and inserts nothing (XLB_CNT_CT_FULL): a flood of one-packet
 * flows never displaces flows that keep sending. A flow that is not
 * remembered is still balanced by its VIP's ring.
 *
 * Both tables are shared by all CPUs, without locks. An insert claims its
 * way by swapping the val it chose the way by for XLB_CT_V_BUSY
 * (compare-and-swap: of two CPUs, one wins, the other inserts nothing),
 * writes the key, then the val; every other change of a val is atomic too.
 * A reader checks val first, so a reader racing a writer on another CPU
 * sees the old flow, a way that matches nothing, or the new flow. */
#define XLB_CT_WAYS 4

/* struct xlb_ct*_way.val: */
#define XLB_CT_V_GEN 0x00000000ffffffffULL /* backend generation */
#define XLB_CT_V_BACKEND_SHIFT 32 /* backend id, 16 bits */
#define XLB_CT_V_VIP_SHIFT 48 /* VIP id, 10 bits: part of the key */
#define XLB_CT_V_VIP (0x3ffULL << XLB_CT_V_VIP_SHIFT)
#define XLB_CT_V_BUSY (1ULL << 61) /* an insert owns the way */
#define XLB_CT_V_USED (1ULL << 62) /* clear: the way is empty */
/* The flow was seen again since inserted or since its bucket was last
 * full. */
#define XLB_CT_V_REF (1ULL << 63)
/* The bits of val that a look-up compares. */
#define XLB_CT_V_KEY (XLB_CT_V_VIP | XLB_CT_V_USED)
_Static_assert(XLB_MAX_VIPS <= 1024, "VIP ids fit XLB_CT_V_VIP");
_Static_assert(XLB_MAX_BACKENDS <= 65536, "backend ids fit 16 bits of val");

/* Memory: the tables are chunks, each an ARRAY of one element, found by
 * the chunk's index in an ARRAY_OF_MAPS. A chunk is small enough (32 KiB
 * with the kernel's array header) that the kernel allocates it with
 * kmalloc, in its direct map, which x86 maps with 2 MiB and 1 GiB pages;
 * one big ARRAY would be vmalloc()ed in 4 KiB pages, and with many flows
 * nearly every look-up would then miss the TLB as well as the cache.
 * The buckets start xlb_ct_pad(offsetof(struct bpf_array, value)) bytes
 * into the element, on a cache line. The element has room for one more
 * bucket and that pad: the verifier bounds a bucket's offset by the
 * bytes of the buckets, not by the last bucket's start. */
#define XLB_CT4_CHUNK 500 /* IPv4 buckets per chunk */
#define XLB_CT6_CHUNK 250 /* IPv6 buckets per chunk */
#define XLB_CT_CHUNK_BYTES(buckets, bucket_size) \
	(((buckets) + 1) * (bucket_size) + 64)

/* The tables' layout: the program's read-only `conntrack`, set by the
 * loader (lib/conntrack.c, xlb_ct_size()); the datapath divides nothing. */
struct xlb_ct_layout {
	__u32 size; /* flows the tables are sized for: conntrack_size */
	__u32 chunks4; /* xlb_ct_chunks(size, XLB_CT4_CHUNK) */
	__u32 chunks6; /* xlb_ct_chunks(size, XLB_CT6_CHUNK) */
	__u32 pad; /* xlb_ct_pad() of this kernel's array layout */
};

/* IPv4: 16 bytes, four to a cache line. */
struct xlb_ct4_way {
	__u64 key; /* src | sport << 32 | dport << 48 (network-order fields) */
	__u64 val;
};
_Static_assert(sizeof(struct xlb_ct4_way) == 16, "xlb_ct4_way layout");

struct xlb_ct4_bucket {
	struct xlb_ct4_way way[XLB_CT_WAYS];
};
_Static_assert(sizeof(struct xlb_ct4_bucket) == 64, "xlb_ct4_bucket layout");

/* IPv6: 32 bytes, two to a cache line. */
struct xlb_ct6_way {
	__u64 src[2];
	__u64 key; /* sport | dport << 16 (network-order fields) */
	__u64 val;
};
_Static_assert(sizeof(struct xlb_ct6_way) == 32, "xlb_ct6_way layout");

struct xlb_ct6_bucket {
	struct xlb_ct6_way way[XLB_CT_WAYS];
};
_Static_assert(sizeof(struct xlb_ct6_bucket) == 128, "xlb_ct6_bucket layout");

/* Per-VIP counters (per CPU). */
struct xlb_vip_stats {
	__u64 packets;
	__u64 bytes;
	__u64 new_flows; /* flows inserted in the connection table */
	__u64 ct_hits;
	__u64 ct_misses;
};
_Static_assert(sizeof(struct xlb_vip_stats) == 40, "xlb_vip_stats layout");

/* Per-backend counters (per CPU). */
struct xlb_be_stats {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct xlb_be_stats) == 16, "xlb_be_stats layout");

/* What the control plane remembers about a VIP beside the datapath. */
struct xlb_vip_meta {
	char name[XLB_NAME_LEN];
	struct xlb_vip_key key; /* zero key: slot free */
	__u32 ring_size; /* entries in this VIP's ring */
	/* xlb_ring_fingerprint() of the backends the ring in force was built
	 * from, written after the ring: differs from the backends' own when a
	 * reload was interrupted between writing them and the ring */
	__u32 ring_fp;
};
_Static_assert(sizeof(struct xlb_vip_meta) == 60, "xlb_vip_meta layout");

/* ---- Global counters: index into xlb_stats ----------------------------
 * Every packet counts under XLB_CNT_RX and exactly one outcome (below
 * XLB_CNT_EVENTS); the events are counted beside the outcome. */
#define XLB_CNT_EVENTS XLB_CNT_CT_FULL
enum xlb_counter {
	XLB_CNT_RX = 0, /* every packet seen */
	XLB_CNT_TX, /* encapsulated and transmitted */
	XLB_CNT_TX_ICMP_ECHO, /* echo replies sent */
	XLB_CNT_TX_ICMP_TOO_BIG, /* frag-needed / packet-too-big sent */
	XLB_CNT_TX_ICMP_ERR_FWD, /* ICMP errors forwarded to a backend */
	XLB_CNT_PASS_NON_IP, /* not IPv4/IPv6 (ARP, LLDP, ...) */
	XLB_CNT_PASS_NON_VIP, /* IP, but not for a VIP */
	XLB_CNT_PASS_MALFORMED_L2, /* truncated Ethernet / VLAN header */
	XLB_CNT_PASS_MALFORMED_L3, /* truncated or bad IPv4/IPv6 header */
	XLB_CNT_PASS_EXT_HDR_LIMIT, /* too many IPv6 extension headers */
	XLB_CNT_DROP_MALFORMED_L4, /* VIP address, bad TCP/UDP/ICMP header */
	XLB_CNT_DROP_FRAGMENT, /* fragment for a VIP address */
	XLB_CNT_DROP_NO_BACKEND, /* VIP without a usable backend */
	XLB_CNT_DROP_TOO_BIG, /* over MTU after encap, no ICMP sent */
	XLB_CNT_DROP_ICMP_UNMATCHED, /* ICMP to a VIP address, no flow */
	XLB_CNT_DROP_ADJUST, /* bpf_xdp_adjust_head/tail failed */
	XLB_CNT_PASS_VIP_OTHER, /* VIP address, no VIP for port/proto */
	/* events beside a packet's outcome, from XLB_CNT_EVENTS on: */
	XLB_CNT_CT_FULL, /* new flow not remembered: its bucket's flows all
			  * recently seen (forwarded all the same) */
	XLB_CNT_MAX,
};

#endif /* XLB_ABI_H */
