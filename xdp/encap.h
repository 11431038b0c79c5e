/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Encapsulation toward a backend: IPIP, IP6IP6, 4in6, 6in4 and GUE
 * (variant 1: outer IP + UDP + inner IP, no GUE header). */
#ifndef XLB_ENCAP_H
#define XLB_ENCAP_H

#include "parse.h"
#include "csum.h"

#define XLB_IPV4_HLEN 20
#define XLB_IPV6_HLEN 40
#define XLB_UDP_HLEN 8
/* Largest L3 offset: Ethernet + two VLAN tags. */
#define XLB_MAX_L3_OFF (ETH_HLEN + XLB_MAX_VLANS * 4)

/* Bytes added in front of the inner packet. */
static __always_inline __u32 encap_overhead(__u8 be_family, int gue)
{
	return (be_family == XLB_FAMILY_V6 ? XLB_IPV6_HLEN : XLB_IPV4_HLEN) +
	       (gue ? XLB_UDP_HLEN : 0);
}

/* Ethernet header (and the VLAN tags the packet came with) in front of a
 * new L3 header of @etype. @l3 must already be checked <= XLB_MAX_L3_OFF
 * and data + XLB_MAX_L3_OFF against data_end. */
static __always_inline void write_l2(void *data, const struct pkt *p,
				     const __u8 *dst, const __u8 *src,
				     __u16 etype)
{
	struct ethhdr *eth = data;
	__u16 *w = (void *)&eth->h_proto;

	__builtin_memcpy(eth->h_dest, dst, ETH_ALEN);
	__builtin_memcpy(eth->h_source, src, ETH_ALEN);
	if (p->vlans == 0) {
		w[0] = etype;
	} else if (p->vlans == 1) {
		w[0] = p->vlan_proto[0];
		w[1] = p->vlan_tci[0];
		w[2] = etype;
	} else {
		w[0] = p->vlan_proto[0];
		w[1] = p->vlan_tci[0];
		w[2] = p->vlan_proto[1];
		w[3] = p->vlan_tci[1];
		w[4] = etype;
	}
}

/**
 * encap - put outer headers in front of the packet and address it to @be
 * @entropy: xlb_flow_entropy() of the flow: for the derived outer source,
 *           the IPv6 flow label and the GUE source port
 * @gue_port: UDP destination port (network order) when @gue
 *
 * Returns 0 with the frame ready for XDP_TX, -1 if the head could not be
 * grown (the packet is unchanged then).
 */
static __always_inline int encap(struct xdp_md *ctx, const struct pkt *p,
				 const struct xlb_cfg *cfg,
				 const struct xlb_backend *be, __u32 entropy,
				 int gue, __be16 gue_port)
{
	int v6 = be->family == XLB_FAMILY_V6;
	__u32 olen = encap_overhead(be->family, gue);
	__u32 l3 = p->l3_off;
	__u8 inner_proto =
		p->flow.family == XLB_FAMILY_V6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
	void *data, *data_end;
	struct udphdr *udp;

	if (l3 > XLB_MAX_L3_OFF)
		return -1;
	if (bpf_xdp_adjust_head(ctx, -(int)olen))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	/* the Ethernet header with two tags always fits: the frame holds
	 * at least the outer and an inner IP header now */
	if (data + XLB_MAX_L3_OFF > data_end)
		return -1;

	if (v6) {
		struct ipv6hdr *o6 = data + l3;

		if ((void *)(o6 + 1) > data_end)
			return -1;
		write_l2(data, p, cfg->gw_mac, cfg->if_mac,
			 bpf_htons(ETH_P_IPV6));
		*(__be32 *)o6 = bpf_htonl(0x60000000U | ((__u32)p->tos << 20) |
					  (entropy & 0xfffff));
		o6->payload_len =
			bpf_htons(p->ip_len + (gue ? XLB_UDP_HLEN : 0));
		o6->nexthdr = gue ? IPPROTO_UDP : inner_proto;
		o6->hop_limit = XLB_OUTER_TTL;
		if (cfg->flags & XLB_CFG_F_SRC6) {
			__builtin_memcpy(&o6->saddr, cfg->src6, 16);
		} else {
			__be32 *s = (__be32 *)&o6->saddr;

			s[0] = bpf_htonl(XLB_DERIVED_SRC6_W0);
			s[1] = 0;
			s[2] = 0;
			s[3] = bpf_htonl(entropy);
		}
		__builtin_memcpy(&o6->daddr, be->addr, 16);
		udp = (void *)(o6 + 1);
	} else {
		struct iphdr *o4 = data + l3;

		if ((void *)(o4 + 1) > data_end)
			return -1;
		write_l2(data, p, cfg->gw_mac, cfg->if_mac,
			 bpf_htons(ETH_P_IP));
		*(__u8 *)o4 = 0x45;
		o4->tos = p->tos;
		o4->tot_len = bpf_htons(p->ip_len + olen);
		o4->id = 0;
		o4->frag_off = bpf_htons(IP_DF);
		o4->ttl = XLB_OUTER_TTL;
		o4->protocol = gue ? IPPROTO_UDP : inner_proto;
		o4->check = 0;
		o4->saddr =
			cfg->flags & XLB_CFG_F_SRC4 ?
				cfg->src4 :
				bpf_htonl(XLB_DERIVED_SRC4_NET |
					  (entropy & XLB_DERIVED_SRC4_MASK));
		o4->daddr = be->addr[0];
		o4->check = csum_ipv4_hdr(o4);
		udp = (void *)(o4 + 1);
	}
	if (gue) {
		if ((void *)(udp + 1) > data_end)
			return -1;
		/* ephemeral range, per flow: spreads flows over RX queues */
		udp->source = bpf_htons(0xc000 | (entropy & 0x3fff));
		udp->dest = gue_port;
		udp->len = bpf_htons(p->ip_len + XLB_UDP_HLEN);
		udp->check = 0; /* RFC 6935/6936: zero checksum for tunnels */
	}
	return 0;
}

#endif /* XLB_ENCAP_H */
