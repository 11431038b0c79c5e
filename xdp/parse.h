/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Header parsing for the balancer: Ethernet, VLANs, IPv4, IPv6 extension
 * headers, TCP/UDP/ICMP. Every access is bounds-checked first; offsets
 * are capped so the verifier can follow them. */
#ifndef XLB_PARSE_H
#define XLB_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmpv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xlb_abi.h"

/* <linux/icmp.h> pulls in libc socket headers that do not build for
 * -target bpf; the few ICMP definitions the balancer needs: */
#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11

/* IPv4 frag_off bits (host order; <net/ip.h> is kernel-internal). */
#define IP_DF 0x4000
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

/* An 802.1Q / 802.1ad tag after the MAC addresses. */
struct vlan_hdr {
	__be16 h_vlan_TCI;
	__be16 h_vlan_encapsulated_proto;
};

struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	union {
		struct {
			__be16 id;
			__be16 sequence;
		} echo;
		__be32 gateway;
		struct {
			__be16 __unused;
			__be16 mtu;
		} frag;
	} un;
};

/* VLAN tags we look through: 802.1ad outer + 802.1Q inner at most. */
#define XLB_MAX_VLANS 2
/* Largest L4 offset we follow: Ethernet + 2 tags + IPv6 + 8 extension
 * headers of up to 2 KiB each would be absurd; cap where the verifier
 * needs a bound and no sane packet reaches. */
#define XLB_MAX_L4_OFF 1024

/* What parsing found; offsets are from the start of the frame. */
struct pkt {
	__u32 l3_off; /* IP header */
	__u32 l4_off; /* L4 header */
	__u32 ip_len; /* IP packet length from its header (no padding) */
	__u16 vlan_tci[XLB_MAX_VLANS]; /* as on the wire */
	__u16 vlan_proto[XLB_MAX_VLANS];
	__u8 vlans; /* tags seen */
	__u8 frag; /* a fragment (first or not) */
	__u8 tos; /* IPv4 TOS / IPv6 traffic class */
	__u8 df; /* IPv4 don't-fragment bit */
	struct xlb_flow_key flow; /* client side, ports filled by L4 parse */
};

/* Outcome of a parse step. */
enum {
	PARSE_OK = 0,
	PARSE_NON_IP,
	PARSE_BAD_L2,
	PARSE_BAD_L3,
	PARSE_EXT_LIMIT,
};

static __always_inline int is_vlan(__u16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) ||
	       proto == bpf_htons(ETH_P_8021AD);
}

/* Ethernet and up to two VLAN tags. Returns PARSE_* and the ethertype of
 * the payload in @proto. */
static __always_inline int parse_l2(void *data, void *data_end, struct pkt *p,
				    __u16 *proto)
{
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth);
	__u16 h_proto;

	if ((void *)(eth + 1) > data_end)
		return PARSE_BAD_L2;
	h_proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < XLB_MAX_VLANS; i++) {
		struct vlan_hdr *vh = data + off;

		if (!is_vlan(h_proto))
			break;
		if ((void *)(vh + 1) > data_end)
			return PARSE_BAD_L2;
		p->vlan_proto[i] = h_proto;
		p->vlan_tci[i] = vh->h_vlan_TCI;
		h_proto = vh->h_vlan_encapsulated_proto;
		p->vlans++;
		off += sizeof(*vh);
	}
	if (is_vlan(h_proto))
		return PARSE_NON_IP; /* a third tag: not ours to look into */
	p->l3_off = off;
	*proto = h_proto;
	return PARSE_OK;
}

static __always_inline int parse_ipv4(void *data, void *data_end, struct pkt *p)
{
	struct iphdr *iph = data + p->l3_off;
	__u32 hl, tot;

	if ((void *)(iph + 1) > data_end)
		return PARSE_BAD_L3;
	if (iph->version != 4 || iph->ihl < 5)
		return PARSE_BAD_L3;
	hl = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	if (tot < hl || (void *)iph + tot > data_end)
		return PARSE_BAD_L3;
	p->l4_off = p->l3_off + hl;
	p->ip_len = tot;
	p->tos = iph->tos;
	p->df = !!(iph->frag_off & bpf_htons(IP_DF));
	p->frag = !!(iph->frag_off & bpf_htons(IP_MF | IP_OFFSET));
	p->flow.family = XLB_FAMILY_V4;
	p->flow.proto = iph->protocol;
	p->flow.src[0] = iph->saddr;
	p->flow.dst[0] = iph->daddr;
	return PARSE_OK;
}

/* IPv6 and its extension headers, walked up to XLB_MAX_EXT_HDRS. */
static __always_inline int parse_ipv6(void *data, void *data_end, struct pkt *p)
{
	struct ipv6hdr *ip6h = data + p->l3_off;
	__u32 off, plen;
	__u8 nh;

	if ((void *)(ip6h + 1) > data_end)
		return PARSE_BAD_L3;
	if (ip6h->version != 6)
		return PARSE_BAD_L3;
	plen = bpf_ntohs(ip6h->payload_len);
	/* payload_len 0 is a jumbogram (hop-by-hop option): not on Ethernet */
	if (plen == 0 || (void *)(ip6h + 1) + plen > data_end)
		return PARSE_BAD_L3;
	p->ip_len = sizeof(*ip6h) + plen;
	p->tos = (ip6h->priority << 4) | (ip6h->flow_lbl[0] >> 4);
	p->flow.family = XLB_FAMILY_V6;
	__builtin_memcpy(p->flow.src, &ip6h->saddr, 16);
	__builtin_memcpy(p->flow.dst, &ip6h->daddr, 16);

	nh = ip6h->nexthdr;
	off = p->l3_off + sizeof(*ip6h);
#pragma unroll
	for (int i = 0; i < XLB_MAX_EXT_HDRS; i++) {
		__u8 *h = data + off;

		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING &&
		    nh != IPPROTO_DSTOPTS && nh != IPPROTO_FRAGMENT)
			goto done;
		if ((void *)(h + 8) > data_end)
			return PARSE_BAD_L3;
		if (nh == IPPROTO_FRAGMENT) {
			p->frag = 1;
			off += 8;
		} else {
			off += (h[1] + 1) * 8;
		}
		nh = h[0];
		if (off > XLB_MAX_L4_OFF)
			return PARSE_BAD_L3;
	}
	if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING ||
	    nh == IPPROTO_DSTOPTS || nh == IPPROTO_FRAGMENT)
		return PARSE_EXT_LIMIT;
done:
	if (off > p->l3_off + p->ip_len)
		return PARSE_BAD_L3;
	p->l4_off = off;
	p->flow.proto = nh;
	return PARSE_OK;
}

#endif /* XLB_PARSE_H */
