/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* ICMP from XDP: echo replies for VIPs, "fragmentation needed" / "packet
 * too big" to clients, and the flow an ICMP error is about. */
#ifndef XLB_ICMP_H
#define XLB_ICMP_H

#include "encap.h"

/* Most bytes of the offending IPv6 packet quoted in a packet-too-big: as
 * much as keeps the reply within the minimum IPv6 MTU (RFC 4443 2.4(c)),
 * as Linux does. The client's stack needs the ports to match the socket,
 * and they follow any extension headers (a fixed 64 bytes left them out
 * behind 24 bytes of them). */
#define XLB_ICMP6_QUOTE_MAX (1280 - 40 - 8)
/* Largest IPv4 quote: a 60-byte header with options + 8 bytes. */
#define XLB_ICMP4_QUOTE_MAX 68

static __always_inline void swap_macs(void *data)
{
	struct ethhdr *eth = data;
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

/* Largest ICMP message we answer an echo for: the checksum is verified
 * over all of it first, and a bound keeps that loop finite: 4 KiB covers
 * any frame that fits one page, the most XDP sees without multi-buffer. */
#define XLB_ECHO_MAX 4096

/* One's complement sum of @n bytes at @p (odd @n allowed), @n <= @max. */
static __always_inline __u32 csum_bytes(const void *p, void *data_end, __u32 n,
					const __u32 max)
{
	const __u16 *w = p;
	__u32 sum = 0, i;

	for (i = 0; i < max / 2; i++) {
		if (i >= n / 2 || (void *)(w + i + 1) > data_end)
			break;
		sum += w[i];
	}
	if ((n & 1) && i == n / 2 && i < max / 2) {
		const __u8 *b = (const __u8 *)(w + i);

		if ((void *)(b + 1) <= data_end)
			sum += *b; /* the odd byte, padded with zero */
	}
	return sum;
}

/**
 * xlb_csum_pkt - one's complement sum of @len packet bytes from @off
 *
 * A global function: the verifier checks its XLB_ECHO_MAX-byte loop once,
 * not again at every call site. Returns the unfolded sum, or 0 (which no
 * valid message sums to once folded with its checksum) when out of range.
 */
__attribute__((noinline)) __u32 xlb_csum_pkt(struct xdp_md *ctx, __u32 off,
					     __u32 len)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (off > XLB_MAX_L4_OFF || len > XLB_ECHO_MAX)
		return 0;
	return csum_bytes(data + off, data_end, len, XLB_ECHO_MAX);
}

/* Echo request -> echo reply in place. Returns 0, -1 if the request is
 * truncated or its checksums are wrong (the caller drops), 1 if it is
 * larger than XLB_ECHO_MAX (the caller passes it to the kernel). */
static __always_inline int echo_reply_v4(struct xdp_md *ctx,
					 const struct pkt *p)
{
	__u32 l3 = p->l3_off, l4 = p->l4_off;
	__u32 len = p->ip_len - (l4 - l3), isum;
	void *data, *data_end;
	struct iphdr *iph;
	struct icmphdr *ic;
	__u16 old;
	__be32 a;

	/* A bad checksum is not a request (RFC 1122 3.2.2); answering it
	 * would send a reply with a bad checksum. */
	if (len > XLB_ECHO_MAX)
		return 1;
	isum = xlb_csum_pkt(ctx, l4, len);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (l3 > XLB_MAX_L3_OFF || l4 > XLB_MAX_L4_OFF ||
	    data + ETH_HLEN > data_end)
		return -1;
	iph = data + l3;
	ic = data + l4;
	if ((void *)(iph + 1) > data_end || (void *)(ic + 1) > data_end)
		return -1;
	if (csum_fold32(csum_bytes(iph, data_end, l4 - l3, 60)) ||
	    csum_fold32(isum))
		return -1;
	swap_macs(data);
	a = iph->saddr;
	iph->saddr = iph->daddr;
	iph->daddr = a;
	old = *(__u16 *)&iph->ttl;
	iph->ttl = XLB_OUTER_TTL;
	csum_replace2(&iph->check, old, *(__u16 *)&iph->ttl);
	old = *(__u16 *)ic;
	ic->type = ICMP_ECHOREPLY;
	csum_replace2(&ic->checksum, old, *(__u16 *)ic);
	return 0;
}

static __always_inline int echo_reply_v6(struct xdp_md *ctx,
					 const struct pkt *p)
{
	__u32 l3 = p->l3_off, l4 = p->l4_off;
	__u32 len = p->ip_len - (l4 - l3), sum;
	void *data, *data_end;
	struct ipv6hdr *ip6h;
	struct icmp6hdr *ic;
	struct in6_addr a;
	__u16 old;

	if (len > XLB_ECHO_MAX)
		return 1;
	sum = csum_add_words(0, p->flow.src, 4);
	sum = csum_add_words(sum, p->flow.dst, 4);
	sum += bpf_htons(len);
	sum += bpf_htons(IPPROTO_ICMPV6);
	sum += xlb_csum_pkt(ctx, l4, len);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (l3 > XLB_MAX_L3_OFF || l4 > XLB_MAX_L4_OFF ||
	    data + ETH_HLEN > data_end)
		return -1;
	ip6h = data + l3;
	ic = data + l4;
	if ((void *)(ip6h + 1) > data_end || (void *)(ic + 1) > data_end)
		return -1;
	if (csum_fold32(sum))
		return -1;
	swap_macs(data);
	/* swapping addresses leaves the pseudo-header sum unchanged */
	a = ip6h->saddr;
	ip6h->saddr = ip6h->daddr;
	ip6h->daddr = a;
	ip6h->hop_limit = XLB_OUTER_TTL;
	old = *(__u16 *)ic;
	ic->icmp6_type = ICMPV6_ECHO_REPLY;
	csum_replace2(&ic->icmp6_cksum, old, *(__u16 *)ic);
	return 0;
}

/**
 * icmp_reply_frame - reshape the frame into a reply to its sender
 * @hdrs:  bytes of new headers (IP + ICMP) put in front of the quote
 * @quote: bytes of the offending IP packet the reply keeps
 * @etype: ethertype of the reply
 *
 * The Ethernet addresses are swapped and the VLAN tags kept, so the reply
 * goes back where the packet came from. Returns 0 with room for the new
 * headers at the packet's L3 offset (packet pointers must be reloaded), -1
 * if the frame could not be resized.
 */
static __always_inline int icmp_reply_frame(struct xdp_md *ctx,
					    const struct pkt *p, __u32 hdrs,
					    __u32 quote, __u16 etype)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 mac_dst[ETH_ALEN], mac_src[ETH_ALEN];
	struct ethhdr *eth = data;
	__u32 want = p->l3_off + hdrs + quote;

	if ((void *)(eth + 1) > data_end)
		return -1;
	__builtin_memcpy(mac_dst, eth->h_source, ETH_ALEN);
	__builtin_memcpy(mac_src, eth->h_dest, ETH_ALEN);
	if (bpf_xdp_adjust_head(ctx, -(int)hdrs))
		return -1;
	if (bpf_xdp_adjust_tail(ctx,
				(int)want - (int)bpf_xdp_get_buff_len(ctx)))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + XLB_MAX_L3_OFF > data_end)
		return -1;
	write_l2(data, p, mac_dst, mac_src, etype);
	return 0;
}

/**
 * too_big_v4 - turn the packet into ICMP "fragmentation needed"
 * @mtu: next-hop MTU to announce (host order)
 *
 * The reply quotes the offending IP header and 8 bytes of its payload
 * (RFC 792), goes back where the packet came from (MACs swapped, VLAN
 * tags kept) from the VIP to the client. Returns 0 ready for XDP_TX, -1
 * if the frame could not be resized.
 */
static __always_inline int too_big_v4(struct xdp_md *ctx, const struct pkt *p,
				      __u16 mtu)
{
	__u32 l3 = p->l3_off, hl = p->l4_off - p->l3_off;
	__u32 quote = hl + 8;
	void *data, *data_end;
	struct icmphdr *ic;
	struct iphdr *iph;

	if (l3 > XLB_MAX_L3_OFF || hl > 60)
		return -1;
	if (icmp_reply_frame(ctx, p, sizeof(*iph) + sizeof(*ic), quote,
			     bpf_htons(ETH_P_IP)))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	iph = data + l3;
	ic = (void *)(iph + 1);
	if ((void *)(ic + 1) > data_end)
		return -1;

	*(__u8 *)iph = 0x45;
	iph->tos = 0;
	iph->tot_len = bpf_htons(sizeof(*iph) + sizeof(*ic) + quote);
	iph->id = 0;
	iph->frag_off = 0;
	iph->ttl = XLB_OUTER_TTL;
	iph->protocol = IPPROTO_ICMP;
	iph->check = 0;
	iph->saddr = p->flow.dst[0];
	iph->daddr = p->flow.src[0];
	iph->check = csum_ipv4_hdr(iph);

	ic->type = ICMP_DEST_UNREACH;
	ic->code = ICMP_FRAG_NEEDED;
	ic->checksum = 0;
	ic->un.frag.__unused = 0;
	ic->un.frag.mtu = bpf_htons(mtu);
	ic->checksum = csum_fold32(
		csum_bytes(ic, data_end, sizeof(*ic) + quote,
			   sizeof(struct icmphdr) + XLB_ICMP4_QUOTE_MAX));
	return 0;
}

/* Same for IPv6: ICMPv6 packet too big (RFC 4443), quoting the first
 * XLB_ICMP6_QUOTE_MAX bytes (or the whole packet if shorter, rounded to
 * even). */
static __always_inline int too_big_v6(struct xdp_md *ctx, const struct pkt *p,
				      __u32 mtu)
{
	__u32 l3 = p->l3_off, sum;
	__u32 quote = p->ip_len < XLB_ICMP6_QUOTE_MAX ? p->ip_len :
							XLB_ICMP6_QUOTE_MAX;
	void *data, *data_end;
	struct icmp6hdr *ic;
	struct ipv6hdr *ip6h;

	quote &= ~1U;
	if (l3 > XLB_MAX_L3_OFF)
		return -1;
	if (icmp_reply_frame(ctx, p, sizeof(*ip6h) + sizeof(*ic), quote,
			     bpf_htons(ETH_P_IPV6)))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	ip6h = data + l3;
	ic = (void *)(ip6h + 1);
	if ((void *)(ic + 1) > data_end)
		return -1;

	*(__be32 *)ip6h = bpf_htonl(0x60000000U);
	ip6h->payload_len = bpf_htons(sizeof(*ic) + quote);
	ip6h->nexthdr = IPPROTO_ICMPV6;
	ip6h->hop_limit = XLB_OUTER_TTL;
	__builtin_memcpy(&ip6h->saddr, p->flow.dst, 16);
	__builtin_memcpy(&ip6h->daddr, p->flow.src, 16);

	ic->icmp6_type = ICMPV6_PKT_TOOBIG;
	ic->icmp6_code = 0;
	ic->icmp6_cksum = 0;
	ic->icmp6_mtu = bpf_htonl(mtu);
	/* pseudo-header: addresses, upper-layer length, next header */
	sum = csum_add_words(0, p->flow.src, 4);
	sum = csum_add_words(sum, p->flow.dst, 4);
	sum += bpf_htons(sizeof(*ic) + quote);
	sum += bpf_htons(IPPROTO_ICMPV6);
	sum += csum_bytes(ic, data_end, sizeof(*ic) + quote,
			  sizeof(struct icmp6hdr) + XLB_ICMP6_QUOTE_MAX);
	ic->icmp6_cksum = csum_fold32(sum);
	return 0;
}

/**
 * icmp_err_flow - the client-side flow an ICMP error is about
 * @off:  offset of the embedded (offending) IP header
 * @ip_end: offset where the ICMP packet ends (the quote must lie inside)
 * @f:    out: the flow as the client sent it (embedded src/dst swapped)
 * @vk:   out: the VIP key (embedded source address and port)
 *
 * The embedded packet is one a backend sent from the VIP to the client,
 * so swapping its addresses and ports gives the flow the client opened.
 * Returns 0, or -1 if the embedded headers are truncated or not TCP/UDP.
 */
static __always_inline int icmp_err_flow(void *data, void *data_end, __u32 off,
					 __u32 ip_end, __u8 family,
					 struct xlb_flow_key *f,
					 struct xlb_vip_key *vk)
{
	__be16 *ports;

	if (off > XLB_MAX_L4_OFF)
		return -1;
	if (family == XLB_FAMILY_V4) {
		struct iphdr *iph = data + off;

		if ((void *)(iph + 1) > data_end)
			return -1;
		if (iph->version != 4 || iph->ihl < 5)
			return -1;
		off += iph->ihl * 4;
		ports = (void *)iph + iph->ihl * 4;
		f->proto = iph->protocol;
		f->src[0] = iph->daddr;
		f->dst[0] = iph->saddr;
	} else {
		struct ipv6hdr *ip6h = data + off;

		if ((void *)(ip6h + 1) > data_end)
			return -1;
		off += sizeof(*ip6h);
		ports = (void *)(ip6h + 1);
		f->proto = ip6h->nexthdr;
		__builtin_memcpy(f->src, &ip6h->daddr, 16);
		__builtin_memcpy(f->dst, &ip6h->saddr, 16);
	}
	if (f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP)
		return -1;
	if ((void *)(ports + 2) > data_end || off + 4 > ip_end)
		return -1;
	f->family = family;
	f->sport = ports[1];
	f->dport = ports[0];
	__builtin_memcpy(vk->addr, f->dst, 16);
	vk->port = f->dport;
	vk->proto = f->proto;
	vk->family = family;
	return 0;
}

#endif /* XLB_ICMP_H */
