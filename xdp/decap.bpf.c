/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xlb_decap: the backend side of xlb. Strips the outer headers the
 * balancer put in front of a client packet (IPIP, IP6IP6, 4in6, 6in4, GUE
 * variant 1) and passes the inner packet to the kernel stack, which then
 * sees the client's packet addressed to the VIP (configured on lo). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "csum.h"
#include "xlb_abi.h"
#include "decap_abi.h"

/* GUE destination port (host order), set through the skeleton before load;
 * loaders that cannot set it (ip link ... obj) get the xlb default. Ports
 * in decap_gue_ports are accepted as well. */
const volatile __u16 gue_port = XLB_GUE_PORT_DEFAULT;
/* Non-zero: decapsulate only packets whose outer destination is in
 * decap_local (the host's own tunnel endpoints); anything else is passed
 * untouched, as if this program were not there. */
const volatile __u8 only_local = 0;

/* Extra GUE ports: UDP port (network order) -> non-zero. Written by the
 * operator (bpftool) or a test; empty by default. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DECAP_MAX_GUE_PORTS);
	__type(key, __be16);
	__type(value, __u8);
} decap_gue_ports SEC(".maps");

/* Local tunnel endpoints, consulted when only_local is set. Written by the
 * operator or a test. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DECAP_MAX_LOCAL);
	__type(key, struct xlb_addr_key);
	__type(value, __u8);
} decap_local SEC(".maps");

/* Counters, DECAP_CNT_* (per CPU). Read by tests and operators. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DECAP_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} decap_stats SEC(".maps");

/* VLAN tags we look through, as xlb keeps the ones a packet came with. */
#define DECAP_MAX_VLANS 2
#define DECAP_MAX_L3_OFF (ETH_HLEN + DECAP_MAX_VLANS * 4)

/* IPv4 frag_off bits (host order). */
#define DECAP_IP_MF 0x2000
#define DECAP_IP_OFFSET 0x1fff

static __always_inline int count(__u32 reason, int action)
{
	__u64 *c = bpf_map_lookup_elem(&decap_stats, &reason);

	if (c)
		*c += 1;
	return action;
}

/* IP version of the header at @p, or 0 if it is not there. */
static __always_inline __u8 ip_version(void *p, void *data_end, __u8 family)
{
	__u32 need =
		family == 4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);

	if (p + need > data_end)
		return 0;
	return *(__u8 *)p >> 4;
}

/* ECN field values (RFC 3168) */
#define DECAP_ECN_NOT_ECT 0
#define DECAP_ECN_CE 3

/* The ECN field of the IP header at @p (checked to be there). */
static __always_inline __u8 ip_ecn(void *p, __u8 family)
{
	if (family == 4)
		return ((struct iphdr *)p)->tos & 3;
	return (((__u8 *)p)[1] >> 4) & 3; /* traffic class bits 1-0 */
}

/* Mark the inner header at @p (ECT(0) or ECT(1)) congestion experienced,
 * as the outer one was on the way (RFC 6040 4.2): a router between the
 * balancer and this host marked the outer header xlb gave the packet. */
static __always_inline void ip_set_ce(void *p, __u8 family)
{
	if (family == 4) {
		struct iphdr *iph = p;
		__u16 old = *(__u16 *)p; /* version/IHL and TOS */

		iph->tos |= 3;
		csum_replace2(&iph->check, old, *(__u16 *)p);
	} else {
		((__u8 *)p)[1] |= 3 << 4;
	}
}

static __always_inline int is_local(const struct xlb_addr_key *k)
{
	return bpf_map_lookup_elem(&decap_local, k) != NULL;
}

static __always_inline int is_gue_port(__be16 port)
{
	if (port == bpf_htons(gue_port))
		return 1;
	return bpf_map_lookup_elem(&decap_gue_ports, &port) != NULL;
}

SEC("xdp")
int xlb_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct xlb_addr_key dst = {};
	__u16 tags[2 * DECAP_MAX_VLANS] = {};
	__u8 macs[2 * ETH_ALEN];
	__u32 l3 = ETH_HLEN, olen, vlans = 0, reason;
	__u16 h_proto;
	__u8 proto, inner;
	void *l4;

	if ((void *)(eth + 1) > data_end)
		return count(DECAP_CNT_PASS_OTHER, XDP_PASS);
	h_proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < DECAP_MAX_VLANS; i++) {
		__u16 *vh = data + l3;

		if (h_proto != bpf_htons(ETH_P_8021Q) &&
		    h_proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 2) > data_end)
			return count(DECAP_CNT_PASS_OTHER, XDP_PASS);
		tags[2 * i] = h_proto;
		tags[2 * i + 1] = vh[0];
		h_proto = vh[1];
		vlans++;
		l3 += 4;
	}

	if (h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = data + l3;

		if ((void *)(iph + 1) > data_end || iph->ihl < 5)
			return count(DECAP_CNT_PASS_OTHER, XDP_PASS);
		/* a fragment cannot be decapsulated on its own: the kernel
		 * reassembles, then its tunnel device (if any) decides */
		if (iph->frag_off & bpf_htons(DECAP_IP_MF | DECAP_IP_OFFSET))
			return count(DECAP_CNT_PASS_OTHER, XDP_PASS);
		olen = iph->ihl * 4;
		proto = iph->protocol;
		dst.family = XLB_FAMILY_V4;
		dst.addr[0] = iph->daddr;
	} else if (h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = data + l3;

		if ((void *)(ip6h + 1) > data_end)
			return count(DECAP_CNT_PASS_OTHER, XDP_PASS);
		/* xlb never adds extension headers: a tunnel packet has the
		 * payload right after the fixed header */
		olen = sizeof(*ip6h);
		proto = ip6h->nexthdr;
		dst.family = XLB_FAMILY_V6;
		__builtin_memcpy(dst.addr, &ip6h->daddr, 16);
	} else {
		return count(DECAP_CNT_PASS_OTHER, XDP_PASS);
	}

	l4 = data + l3 + olen;
	if (proto == IPPROTO_IPIP) {
		inner = 4;
	} else if (proto == IPPROTO_IPV6) {
		inner = 6;
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > data_end || !is_gue_port(uh->dest))
			return count(DECAP_CNT_PASS_OTHER, XDP_PASS);
		/* GUE variant 1: the payload is an IP header, told apart by
		 * its version nibble (RFC draft-ietf-intarea-gue 5.3) */
		inner = ip_version(uh + 1, data_end, 4);
		if (inner != 4 && inner != 6)
			return count(DECAP_CNT_PASS_OTHER, XDP_PASS);
		olen += sizeof(*uh);
		l4 = uh + 1;
	} else {
		return count(DECAP_CNT_PASS_OTHER, XDP_PASS);
	}
	if (ip_version(l4, data_end, inner) != inner)
		return count(DECAP_CNT_PASS_BAD_INNER, XDP_PASS);
	if (only_local && !is_local(&dst))
		return count(DECAP_CNT_PASS_NOT_LOCAL, XDP_PASS);
	/* The outer header's ECN, as routers left it, onto the inner one
	 * (RFC 6040, normal mode; xlb copied the inner's into the outer). */
	if (ip_ecn(data + l3, dst.family == XLB_FAMILY_V4 ? 4 : 6) ==
	    DECAP_ECN_CE) {
		__u8 in_ecn = ip_ecn(l4, inner);

		if (in_ecn == DECAP_ECN_NOT_ECT)
			return count(DECAP_CNT_DROP_CE_NOT_ECT, XDP_DROP);
		if (in_ecn != DECAP_ECN_CE)
			ip_set_ce(l4, inner);
	}

	if (proto == IPPROTO_UDP)
		reason = dst.family == XLB_FAMILY_V4 ? DECAP_CNT_GUE4 :
						       DECAP_CNT_GUE6;
	else if (dst.family == XLB_FAMILY_V4)
		reason = inner == 4 ? DECAP_CNT_IPIP : DECAP_CNT_6IN4;
	else
		reason = inner == 4 ? DECAP_CNT_4IN6 : DECAP_CNT_IP6IP6;

	/* Keep the MACs and tags, drop the outer headers, then write the
	 * Ethernet header back in front of the inner packet. */
	__builtin_memcpy(macs, eth, sizeof(macs));
	if (bpf_xdp_adjust_head(ctx, (int)olen))
		return count(DECAP_CNT_ADJUST_FAILED, XDP_PASS);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	/* the inner IP header was checked to follow, so the tags fit */
	if (data + DECAP_MAX_L3_OFF > data_end)
		return count(DECAP_CNT_ADJUST_FAILED, XDP_DROP);
	__builtin_memcpy(data, macs, sizeof(macs));
	{
		__u16 *w = data + 2 * ETH_ALEN;
		__u16 et = inner == 4 ? bpf_htons(ETH_P_IP) :
					bpf_htons(ETH_P_IPV6);

		if (vlans == 0) {
			w[0] = et;
		} else if (vlans == 1) {
			w[0] = tags[0];
			w[1] = tags[1];
			w[2] = et;
		} else {
			w[0] = tags[0];
			w[1] = tags[1];
			w[2] = tags[2];
			w[3] = tags[3];
			w[4] = et;
		}
	}
	return count(reason, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
