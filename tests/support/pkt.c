/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Test packet builder, Internet checksum, parser and hexdump diff; written
 * from the RFCs, sharing no code with the datapath it checks. */
#include <string.h>

#include <arpa/inet.h>

#include <criterion/criterion.h>

#include "pkt.h"

/* Header lengths, bytes. */
#define ETH_LEN 14
#define VLAN_LEN 4
#define IP4_LEN 20
#define IP6_LEN 40
#define FRAG6_LEN 8
#define TCP_LEN 20
#define UDP_LEN 8
#define ICMP_LEN 8

/* Protocol numbers (IANA). */
#define P_HOPOPTS 0
#define P_ICMP 1
#define P_IPIP 4
#define P_TCP 6
#define P_UDP 17
#define P_IPV6 41
#define P_ROUTING 43
#define P_FRAGMENT 44
#define P_ICMPV6 58
#define P_NONE 59
#define P_DSTOPTS 60
#define P_EXPERIMENT 253 /* RFC 3692: for IPv4 raw payload in tests */

void pkt_init(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
}

/* Reserve @n bytes for a new layer; NULL (and overflow set) if full. */
static uint8_t *push(struct pkt *p, enum pkt_kind kind, size_t n, int next)
{
	struct pkt_layer *l;
	uint8_t *h;

	if (p->overflow || p->len + n > PKT_MAX ||
	    p->nlayers >= PKT_MAX_LAYERS) {
		p->overflow = true;
		return NULL;
	}
	l = &p->layer[p->nlayers++];
	l->kind = kind;
	l->off = (uint16_t)p->len;
	l->hlen = (uint16_t)n;
	l->next = next;
	l->flags = 0;
	l->aux = 0;
	h = p->data + p->len;
	memset(h, 0, n);
	p->len += n;
	return h;
}

void pkt_eth(struct pkt *p, const uint8_t dst[6], const uint8_t src[6],
	     int type)
{
	uint8_t *h = push(p, PKT_L_ETH, ETH_LEN, type);

	if (!h)
		return;
	memcpy(h, dst, 6);
	memcpy(h + 6, src, 6);
}

void pkt_vlan(struct pkt *p, uint16_t tpid, uint16_t tci, int type)
{
	uint8_t *h = push(p, PKT_L_VLAN, VLAN_LEN, type);

	if (!h)
		return;
	pkt_put16(h, tci);
	/* The TPID lives in the previous layer's type field: pkt_finish()
	 * writes it there. */
	p->layer[p->nlayers - 1].aux = tpid;
}

void pkt_ipv4(struct pkt *p, const struct pkt_ip4 *ip)
{
	size_t hl = IP4_LEN + ip->opts_len;
	uint8_t *h;

	if (ip->opts_len % 4 || hl > 60) {
		p->overflow = true; /* an IHL cannot describe it */
		return;
	}
	h = push(p, PKT_L_IP4, hl, ip->proto);
	if (!h)
		return;
	h[0] = 0x40 | (uint8_t)(hl / 4);
	h[1] = ip->tos;
	pkt_put16(h + 4, ip->id);
	pkt_put16(h + 6, ip->frag);
	h[8] = ip->ttl ? ip->ttl : 64;
	memcpy(h + 12, &ip->src, 4);
	memcpy(h + 16, &ip->dst, 4);
	if (ip->opts_len)
		memcpy(h + IP4_LEN, ip->opts, ip->opts_len);
}

void pkt_ipv6(struct pkt *p, const struct pkt_ip6 *ip)
{
	uint8_t *h = push(p, PKT_L_IP6, IP6_LEN, ip->nexthdr);

	if (!h)
		return;
	pkt_put32(h,
		  6U << 28 | (uint32_t)ip->tclass << 20 | (ip->flow & 0xfffff));
	h[7] = ip->hlim ? ip->hlim : 64;
	memcpy(h + 8, ip->src, 16);
	memcpy(h + 24, ip->dst, 16);
}

void pkt_ipv6_ext(struct pkt *p, uint8_t type, size_t len, int nexthdr)
{
	uint8_t *h;

	if (len < 8 || len % 8 || len > 2048) {
		p->overflow = true; /* hdr ext len cannot describe it */
		return;
	}
	h = push(p, PKT_L_EXT6, len, nexthdr);
	if (!h)
		return;
	p->layer[p->nlayers - 1].aux = type;
	h[1] = (uint8_t)(len / 8 - 1);
	if (type == P_ROUTING) {
		/* Routing type 253 (RFC 4727 experiment), segments left 0:
		 * a node that does not know the type ignores the header. */
		h[2] = 253;
		h[3] = 0;
	} else {
		/* One PadN option covering the rest (RFC 8200 4.2). */
		h[2] = 1;
		h[3] = (uint8_t)(len - 4);
	}
}

void pkt_ipv6_frag(struct pkt *p, uint16_t offset, bool more, uint32_t id,
		   int nexthdr)
{
	uint8_t *h = push(p, PKT_L_FRAG6, FRAG6_LEN, nexthdr);

	if (!h)
		return;
	pkt_put16(h + 2, (uint16_t)(offset << 3 | (more ? 1 : 0)));
	pkt_put32(h + 4, id);
}

void pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags,
	     uint32_t seq, uint32_t ack)
{
	uint8_t *h = push(p, PKT_L_TCP, TCP_LEN, PKT_AUTO);

	if (!h)
		return;
	pkt_put16(h, sport);
	pkt_put16(h + 2, dport);
	pkt_put32(h + 4, seq);
	pkt_put32(h + 8, ack);
	h[12] = 5 << 4;
	h[13] = flags;
	pkt_put16(h + 14, 65535);
}

void pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport, uint16_t flags)
{
	uint8_t *h = push(p, PKT_L_UDP, UDP_LEN, PKT_AUTO);

	if (!h)
		return;
	p->layer[p->nlayers - 1].flags = flags;
	pkt_put16(h, sport);
	pkt_put16(h + 2, dport);
}

static void icmp(struct pkt *p, enum pkt_kind kind, uint8_t type, uint8_t code,
		 uint32_t rest)
{
	uint8_t *h = push(p, kind, ICMP_LEN, PKT_AUTO);

	if (!h)
		return;
	h[0] = type;
	h[1] = code;
	pkt_put32(h + 4, rest);
}

void pkt_icmp4(struct pkt *p, uint8_t type, uint8_t code, uint32_t rest)
{
	icmp(p, PKT_L_ICMP4, type, code, rest);
}

void pkt_icmp6(struct pkt *p, uint8_t type, uint8_t code, uint32_t rest)
{
	icmp(p, PKT_L_ICMP6, type, code, rest);
}

void pkt_bytes(struct pkt *p, const void *b, size_t n)
{
	uint8_t *h = push(p, PKT_L_RAW, n, PKT_AUTO);

	if (h && n)
		memcpy(h, b, n);
}

void pkt_payload(struct pkt *p, size_t n, uint8_t seed)
{
	uint8_t *h = push(p, PKT_L_RAW, n, PKT_AUTO);
	size_t i;

	if (!h)
		return;
	for (i = 0; i < n; i++)
		h[i] = (uint8_t)(seed + i * 7);
}

const struct pkt_layer *pkt_find(const struct pkt *p, enum pkt_kind kind,
				 int from)
{
	int i;

	for (i = from < 0 ? 0 : from; i < p->nlayers; i++)
		if (p->layer[i].kind == kind)
			return &p->layer[i];
	return NULL;
}

/* Ethertype announcing layer @i, or -1 if it has none. */
static int ethertype_of(const struct pkt *p, int i)
{
	if (i >= p->nlayers)
		return -1;
	switch (p->layer[i].kind) {
	case PKT_L_VLAN:
		return p->layer[i].aux; /* its TPID */
	case PKT_L_IP4:
		return 0x0800;
	case PKT_L_IP6:
		return 0x86dd;
	default:
		return -1;
	}
}

/* IP protocol / next header announcing layer @i; @v6 picks "no next
 * header" (59) or the experiment number for a raw payload. */
static int proto_of(const struct pkt *p, int i, bool v6)
{
	if (i >= p->nlayers)
		return v6 ? P_NONE : P_EXPERIMENT;
	switch (p->layer[i].kind) {
	case PKT_L_IP4:
		return P_IPIP;
	case PKT_L_IP6:
		return P_IPV6;
	case PKT_L_EXT6:
		return p->layer[i].aux; /* its type */
	case PKT_L_FRAG6:
		return P_FRAGMENT;
	case PKT_L_TCP:
		return P_TCP;
	case PKT_L_UDP:
		return P_UDP;
	case PKT_L_ICMP4:
		return P_ICMP;
	case PKT_L_ICMP6:
		return P_ICMPV6;
	default:
		return v6 ? P_NONE : P_EXPERIMENT;
	}
}

/* The IP layer whose pseudo header covers layer @i (the nearest before). */
static const struct pkt_layer *ip_before(const struct pkt *p, int i)
{
	while (--i >= 0)
		if (p->layer[i].kind == PKT_L_IP4 ||
		    p->layer[i].kind == PKT_L_IP6)
			return &p->layer[i];
	return NULL;
}

/* The upper-layer protocol number of an L4 kind. */
static uint8_t l4_proto(enum pkt_kind k)
{
	switch (k) {
	case PKT_L_TCP:
		return P_TCP;
	case PKT_L_UDP:
		return P_UDP;
	case PKT_L_ICMP6:
		return P_ICMPV6;
	default:
		return P_ICMP;
	}
}

void pkt_finish(struct pkt *p)
{
	int i;

	cr_assert(!p->overflow,
		  "test packet builder: packet exceeds %d bytes or %d layers, "
		  "or a header length is invalid; shorten the test packet",
		  PKT_MAX, PKT_MAX_LAYERS);

	/* Next-protocol fields and lengths. */
	for (i = 0; i < p->nlayers; i++) {
		struct pkt_layer *l = &p->layer[i];
		uint8_t *h = p->data + l->off;
		int nx = l->next;
		size_t rest = p->len - l->off;

		switch (l->kind) {
		case PKT_L_ETH:
		case PKT_L_VLAN:
			if (nx == PKT_AUTO)
				nx = ethertype_of(p, i + 1);
			cr_assert(nx >= 0,
				  "test packet builder: layer %d needs an "
				  "explicit ethertype (next layer is not "
				  "VLAN/IP)",
				  i);
			pkt_put16(h + (l->kind == PKT_L_ETH ? 12 : 2),
				  (uint16_t)nx);
			break;
		case PKT_L_IP4:
			h[9] = (uint8_t)(nx == PKT_AUTO ?
						 proto_of(p, i + 1, false) :
						 nx);
			pkt_put16(h + 2, (uint16_t)rest);
			break;
		case PKT_L_IP6:
			h[6] = (uint8_t)(nx == PKT_AUTO ?
						 proto_of(p, i + 1, true) :
						 nx);
			pkt_put16(h + 4, (uint16_t)(rest - IP6_LEN));
			break;
		case PKT_L_EXT6:
		case PKT_L_FRAG6:
			h[0] = (uint8_t)(nx == PKT_AUTO ?
						 proto_of(p, i + 1, true) :
						 nx);
			break;
		case PKT_L_UDP:
			pkt_put16(h + 4, (uint16_t)rest);
			break;
		default:
			break;
		}
	}

	/* Checksums, innermost first: an outer one may cover inner bytes. */
	for (i = p->nlayers - 1; i >= 0; i--) {
		struct pkt_layer *l = &p->layer[i];
		uint8_t *h = p->data + l->off;
		size_t rest = p->len - l->off;
		const struct pkt_layer *ip;
		uint16_t c;

		switch (l->kind) {
		case PKT_L_IP4:
			pkt_put16(h + 10, 0);
			pkt_put16(h + 10, pkt_ip4_csum(h, l->hlen));
			break;
		case PKT_L_ICMP4:
			pkt_put16(h + 2, 0);
			pkt_put16(h + 2,
				  pkt_csum_fold(pkt_csum_add(0, h, rest)));
			break;
		case PKT_L_TCP:
		case PKT_L_UDP:
		case PKT_L_ICMP6: {
			int co = l->kind == PKT_L_TCP ? 16 :
				 l->kind == PKT_L_UDP ? 6 :
							2;

			pkt_put16(h + co, 0);
			if (l->flags & PKT_F_NO_CSUM)
				break;
			ip = ip_before(p, i);
			cr_assert(ip,
				  "test packet builder: L4 layer %d has no "
				  "IP header before it",
				  i);
			c = pkt_l4_csum(p->data + ip->off, h, rest,
					l4_proto(l->kind));
			/* UDP sends a computed 0 as 0xffff (RFC 768). */
			if (l->kind == PKT_L_UDP && c == 0)
				c = 0xffff;
			pkt_put16(h + co, c);
			break;
		}
		default:
			break;
		}
	}
}

/* ---- Checksums -------------------------------------------------------- */

uint32_t pkt_csum_add(uint32_t sum, const void *b, size_t n)
{
	const uint8_t *c = b;
	uint64_t s = sum;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(c[i] << 8 | c[i + 1]);
	if (n & 1)
		s += (uint32_t)c[n - 1] << 8;
	while (s >> 32)
		s = (s & 0xffffffffU) + (s >> 32);
	return (uint32_t)s;
}

uint16_t pkt_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t pkt_ip4_csum(const uint8_t *ip, size_t ihl_bytes)
{
	return pkt_csum_fold(pkt_csum_add(0, ip, ihl_bytes));
}

uint16_t pkt_l4_csum(const uint8_t *ip, const uint8_t *l4, size_t l4len,
		     uint8_t proto)
{
	uint8_t ph[8];
	uint32_t s = 0;

	if (proto == P_ICMP) /* ICMPv4 has no pseudo header */
		return pkt_csum_fold(pkt_csum_add(0, l4, l4len));
	if ((ip[0] >> 4) == 4) {
		s = pkt_csum_add(s, ip + 12, 8); /* src, dst */
		ph[0] = 0;
		ph[1] = proto;
		pkt_put16(ph + 2, (uint16_t)l4len);
		s = pkt_csum_add(s, ph, 4);
	} else {
		s = pkt_csum_add(s, ip + 8, 32); /* src, dst */
		pkt_put32(ph, (uint32_t)l4len);
		ph[4] = ph[5] = ph[6] = 0;
		ph[7] = proto;
		s = pkt_csum_add(s, ph, 8);
	}
	s = pkt_csum_add(s, l4, l4len);
	return pkt_csum_fold(s);
}

/* ---- Parser ----------------------------------------------------------- */

bool pkt_parse(const uint8_t *b, size_t len, struct pkt_view *v)
{
	size_t off = ETH_LEN;
	uint16_t type;
	uint8_t nh;
	int n;

	memset(v, 0, sizeof(*v));
	v->len = len;
	if (len < ETH_LEN)
		return false;
	type = pkt_get16(b + 12);
	while ((type == 0x8100 || type == 0x88a8) && v->nvlan < 2) {
		if (off + VLAN_LEN > len)
			return false;
		v->vlan_tpid[v->nvlan] = type;
		v->vlan_tci[v->nvlan] = pkt_get16(b + off);
		v->nvlan++;
		type = pkt_get16(b + off + 2);
		off += VLAN_LEN;
	}
	v->ethertype = type;
	v->l3_off = off;
	if (type == 0x0800) {
		if (off + IP4_LEN > len || (b[off] >> 4) != 4 ||
		    (b[off] & 15) < 5 || off + (b[off] & 15) * 4U > len)
			return false;
		v->family = 4;
		v->l3_hlen = (b[off] & 15) * 4U;
		v->proto = b[off + 9];
		v->l4_off = off + v->l3_hlen;
		return true;
	}
	if (type != 0x86dd)
		return true;
	if (off + IP6_LEN > len || (b[off] >> 4) != 6)
		return false;
	v->family = 6;
	nh = b[off + 6];
	off += IP6_LEN;
	for (n = 0; n < 16; n++) {
		size_t el;

		if (nh == P_HOPOPTS || nh == P_ROUTING || nh == P_DSTOPTS) {
			if (off + 8 > len)
				return false;
			el = (b[off + 1] + 1U) * 8;
		} else if (nh == P_FRAGMENT) {
			el = FRAG6_LEN;
		} else {
			break;
		}
		if (off + el > len)
			return false;
		nh = b[off];
		off += el;
	}
	v->l3_hlen = off - v->l3_off;
	v->proto = nh;
	v->l4_off = off;
	return true;
}

/* ---- Printing --------------------------------------------------------- */

void pkt_hexdump(FILE *f, const char *title, const uint8_t *b, size_t len)
{
	size_t i;

	fprintf(f, "%s (%zu bytes):\n", title, len);
	for (i = 0; i < len; i++) {
		if (i % 16 == 0)
			fprintf(f, "  %04zx:", i);
		fprintf(f, " %02x", b[i]);
		if (i % 16 == 15 || i + 1 == len)
			fputc('\n', f);
	}
}

/* One 16-byte row of @b starting at @off (blank past @len). */
static void row(FILE *f, const uint8_t *b, size_t len, size_t off)
{
	size_t i;

	for (i = off; i < off + 16; i++) {
		if (i < len)
			fprintf(f, " %02x", b[i]);
		else
			fputs("   ", f);
	}
}

size_t pkt_hexdiff(FILE *f, const uint8_t *got, size_t got_len,
		   const uint8_t *want, size_t want_len)
{
	size_t max = got_len > want_len ? got_len : want_len;
	size_t off, i, ndiff = 0;

	fprintf(f, "packet mismatch: got %zu bytes, want %zu bytes\n", got_len,
		want_len);
	fprintf(f, "  offset  %-48s | %s\n", " got", " want");
	for (off = 0; off < max; off += 16) {
		char mark[16 * 3 + 1];
		bool diff = false;

		for (i = 0; i < 16; i++) {
			size_t k = off + i;
			bool d = (k < got_len) != (k < want_len) ||
				 (k < got_len && got[k] != want[k]);

			memcpy(mark + i * 3, d ? " ^^" : "   ", 3);
			if (d && k < max) {
				diff = true;
				ndiff++;
			}
		}
		mark[16 * 3] = '\0';
		fprintf(f, "%c %04zx: ", diff ? '*' : ' ', off);
		row(f, got, got_len, off);
		fputs(" |", f);
		row(f, want, want_len, off);
		fputc('\n', f);
		if (diff)
			fprintf(f, "        %s  %s\n", mark, mark);
	}
	return ndiff;
}

/* ---- Composite builders ----------------------------------------------- */

int pkt_addr(const char *s, uint8_t a[16])
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET, s, a) == 1)
		return 4;
	cr_assert(inet_pton(AF_INET6, s, a) == 1,
		  "test address \"%s\" is neither IPv4 nor IPv6", s);
	return 6;
}

void pkt_simple(struct pkt *p, const struct pkt_simple *s)
{
	int i;

	pkt_init(p);
	pkt_eth(p, s->dmac, s->smac, PKT_AUTO);
	for (i = 0; i < s->nvlan && i < 2; i++)
		pkt_vlan(p, s->vlan_tpid[i], s->vlan_tci[i], PKT_AUTO);
	if (s->family == 4) {
		struct pkt_ip4 ip = { .tos = s->tos,
				      .id = 0x1234,
				      .frag = s->frag,
				      .proto = PKT_AUTO };

		memcpy(&ip.src, s->src, 4);
		memcpy(&ip.dst, s->dst, 4);
		pkt_ipv4(p, &ip);
	} else {
		struct pkt_ip6 ip = { .tclass = s->tos,
				      .flow = 0x12345,
				      .nexthdr = PKT_AUTO };

		memcpy(ip.src, s->src, 16);
		memcpy(ip.dst, s->dst, 16);
		pkt_ipv6(p, &ip);
	}
	switch (s->proto) {
	case P_TCP:
		pkt_tcp(p, s->sport, s->dport,
			s->tcp_flags ? s->tcp_flags : PKT_TCP_ACK, 1000, 2000);
		break;
	case P_UDP:
		pkt_udp(p, s->sport, s->dport, 0);
		break;
	case P_ICMP:
		pkt_icmp4(p, 8, 0, (uint32_t)s->sport << 16 | s->dport);
		break;
	case P_ICMPV6:
		pkt_icmp6(p, 128, 0, (uint32_t)s->sport << 16 | s->dport);
		break;
	default:
		cr_assert_fail("pkt_simple: protocol %u not supported",
			       s->proto);
	}
	pkt_payload(p, s->payload, (uint8_t)(s->sport ^ s->dport));
	pkt_finish(p);
}

size_t pkt_ip_len(const uint8_t *ip)
{
	if ((ip[0] >> 4) == 4)
		return pkt_get16(ip + 2);
	return IP6_LEN + (size_t)pkt_get16(ip + 4);
}

void pkt_encap(struct pkt *out, const uint8_t *in, size_t in_len,
	       const struct pkt_outer *o)
{
	struct pkt_view v;
	size_t ilen;
	int i, inner_proto;

	cr_assert(pkt_parse(in, in_len, &v) && v.family,
		  "pkt_encap: input is not an IP frame");
	ilen = pkt_ip_len(in + v.l3_off);
	cr_assert(v.l3_off + ilen <= in_len,
		  "pkt_encap: IP length %zu exceeds the frame", ilen);
	inner_proto = v.family == 4 ? P_IPIP : P_IPV6;

	pkt_init(out);
	pkt_eth(out, o->dmac, o->smac, PKT_AUTO);
	for (i = 0; i < v.nvlan; i++)
		pkt_vlan(out, v.vlan_tpid[i], v.vlan_tci[i], PKT_AUTO);
	if (o->family == 4) {
		struct pkt_ip4 ip = { .tos = o->tos,
				      .ttl = o->ttl,
				      .id = o->ip_id,
				      .frag = o->frag,
				      .proto =
					      o->udp ? PKT_AUTO : inner_proto };

		memcpy(&ip.src, o->src, 4);
		memcpy(&ip.dst, o->dst, 4);
		pkt_ipv4(out, &ip);
	} else {
		struct pkt_ip6 ip = { .tclass = o->tos,
				      .flow = o->flow,
				      .hlim = o->ttl,
				      .nexthdr =
					      o->udp ? PKT_AUTO : inner_proto };

		memcpy(ip.src, o->src, 16);
		memcpy(ip.dst, o->dst, 16);
		pkt_ipv6(out, &ip);
	}
	if (o->udp)
		pkt_udp(out, o->sport, o->dport, PKT_F_NO_CSUM);
	pkt_bytes(out, in + v.l3_off, ilen);
	pkt_finish(out);
	/* Padding after the IP packet stays after the new one: lengths and
	 * checksums above do not cover it. */
	i = (int)(in_len - v.l3_off - ilen);
	cr_assert(out->len + i <= PKT_MAX, "pkt_encap: result too long");
	memcpy(out->data + out->len, in + v.l3_off + ilen, i);
	out->len += i;
}

/* Format 16 address bytes (or 4) for a message. */
static const char *ntop(int family, const uint8_t *a, char *buf)
{
	inet_ntop(family == 4 ? AF_INET : AF_INET6, a, buf, INET6_ADDRSTRLEN);
	return buf;
}

void pkt_assert_outer(const uint8_t *got, size_t got_len, const uint8_t *in,
		      size_t in_len, const struct pkt_outer *o)
{
	char b1[INET6_ADDRSTRLEN], b2[INET6_ADDRSTRLEN];
	struct pkt_view iv, gv;
	size_t ilen, olen, pad, ohl = o->family == 4 ? IP4_LEN : IP6_LEN;
	uint8_t ttl = o->ttl ? o->ttl : 64;
	const uint8_t *ip, *inner;
	int i;

	cr_assert(pkt_parse(in, in_len, &iv) && iv.family,
		  "input is not an IP frame");
	ilen = pkt_ip_len(in + iv.l3_off);
	pad = in_len - iv.l3_off - ilen;
	olen = ohl + (o->udp ? UDP_LEN : 0) + ilen;

	cr_assert(pkt_parse(got, got_len, &gv), "output headers truncated");
	cr_assert(!memcmp(got, o->dmac, 6), "outer Ethernet dst is not gw_mac");
	cr_assert(!memcmp(got + 6, o->smac, 6),
		  "outer Ethernet src is not if_mac");
	cr_assert_eq(gv.nvlan, iv.nvlan, "VLAN tags: got %d, want %d", gv.nvlan,
		     iv.nvlan);
	for (i = 0; i < iv.nvlan; i++) {
		cr_assert_eq(gv.vlan_tpid[i], iv.vlan_tpid[i],
			     "VLAN %d TPID 0x%04x, want 0x%04x", i,
			     gv.vlan_tpid[i], iv.vlan_tpid[i]);
		cr_assert_eq(gv.vlan_tci[i], iv.vlan_tci[i],
			     "VLAN %d TCI 0x%04x, want 0x%04x", i,
			     gv.vlan_tci[i], iv.vlan_tci[i]);
	}
	cr_assert_eq(gv.ethertype, o->family == 4 ? 0x0800 : 0x86dd,
		     "outer ethertype 0x%04x for an IPv%d outer header",
		     gv.ethertype, o->family);
	cr_assert_eq(gv.l3_off, iv.l3_off, "outer IP header at %zu, want %zu",
		     gv.l3_off, iv.l3_off);
	cr_assert_eq(got_len, gv.l3_off + olen + pad,
		     "frame length %zu, want %zu (outer %zu + inner %zu + "
		     "padding %zu)",
		     got_len, gv.l3_off + olen + pad, ohl, ilen, pad);
	ip = got + gv.l3_off;

	if (o->family == 4) {
		cr_assert_eq(ip[0], 0x45, "outer version/IHL 0x%02x, want 0x45",
			     ip[0]);
		cr_assert_eq(ip[1], o->tos, "outer TOS 0x%02x, want 0x%02x",
			     ip[1], o->tos);
		cr_assert_eq(pkt_get16(ip + 2), olen,
			     "outer tot_len %u, want %zu", pkt_get16(ip + 2),
			     olen);
		cr_assert_eq(pkt_get16(ip + 4), o->ip_id,
			     "outer id 0x%04x, want 0x%04x", pkt_get16(ip + 4),
			     o->ip_id);
		cr_assert_eq(pkt_get16(ip + 6), o->frag,
			     "outer frag_off 0x%04x, want 0x%04x",
			     pkt_get16(ip + 6), o->frag);
		cr_assert_eq(ip[8], ttl, "outer TTL %u, want %u", ip[8], ttl);
		cr_assert_eq(ip[9],
			     o->udp ? P_UDP :
				      (iv.family == 4 ? P_IPIP : P_IPV6),
			     "outer protocol %u", ip[9]);
		cr_assert_eq(pkt_ip4_csum(ip, IP4_LEN), 0,
			     "outer IPv4 header checksum 0x%04x is wrong",
			     pkt_get16(ip + 10));
		cr_assert(!memcmp(ip + 12, o->src, 4), "outer src %s, want %s",
			  ntop(4, ip + 12, b1), ntop(4, o->src, b2));
		cr_assert(!memcmp(ip + 16, o->dst, 4), "outer dst %s, want %s",
			  ntop(4, ip + 16, b1), ntop(4, o->dst, b2));
	} else {
		uint32_t w = pkt_get32(ip);

		cr_assert_eq(w >> 28, 6, "outer version %u, want 6", w >> 28);
		cr_assert_eq((w >> 20) & 0xff, o->tos,
			     "outer traffic class 0x%02x, want 0x%02x",
			     (w >> 20) & 0xff, o->tos);
		cr_assert_eq(w & 0xfffff, o->flow,
			     "outer flow label 0x%05x, want 0x%05x",
			     w & 0xfffff, o->flow);
		cr_assert_eq(pkt_get16(ip + 4), olen - IP6_LEN,
			     "outer payload length %u, want %zu",
			     pkt_get16(ip + 4), olen - IP6_LEN);
		cr_assert_eq(ip[6],
			     o->udp ? P_UDP :
				      (iv.family == 4 ? P_IPIP : P_IPV6),
			     "outer next header %u", ip[6]);
		cr_assert_eq(ip[7], ttl, "outer hop limit %u, want %u", ip[7],
			     ttl);
		cr_assert(!memcmp(ip + 8, o->src, 16), "outer src %s, want %s",
			  ntop(6, ip + 8, b1), ntop(6, o->src, b2));
		cr_assert(!memcmp(ip + 24, o->dst, 16), "outer dst %s, want %s",
			  ntop(6, ip + 24, b1), ntop(6, o->dst, b2));
	}
	inner = ip + ohl;
	if (o->udp) {
		cr_assert_eq(pkt_get16(inner), o->sport,
			     "GUE UDP source port %u, want %u",
			     pkt_get16(inner), o->sport);
		cr_assert_eq(pkt_get16(inner + 2), o->dport,
			     "GUE UDP destination port %u, want %u",
			     pkt_get16(inner + 2), o->dport);
		cr_assert_eq(pkt_get16(inner + 4), UDP_LEN + ilen,
			     "GUE UDP length %u, want %zu",
			     pkt_get16(inner + 4), UDP_LEN + ilen);
		cr_assert_eq(pkt_get16(inner + 6), 0,
			     "GUE UDP checksum 0x%04x, want 0 (none)",
			     pkt_get16(inner + 6));
		inner += UDP_LEN;
	}
	cr_assert(!memcmp(inner, in + iv.l3_off, ilen + pad),
		  "inner packet (%zu bytes from offset %zu) is not the input "
		  "IP packet byte for byte",
		  ilen + pad, (size_t)(inner - got));
}
