/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Parsing: VLAN tags, IPv4 options, IPv6 extension headers, fragments,
 * non-VIP and malformed traffic, truncation at every header boundary. */
#include <string.h>

#include <arpa/inet.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include <criterion/criterion.h>

#include "bpfrun.h"
#include "pkt.h"

#define RING 251
#define BE4 7 /* IPv4 backend id */
#define BE6 8 /* IPv6 backend id */

static const char *const VIP4 = "192.0.2.1";
static const char *const VIP6 = "2001:db8::1";
static const char *const CLI4 = "198.51.100.10";
static const char *const CLI6 = "2001:db8:c::10";
static const uint8_t MYMAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t RMAC[6] = { 0x02, 0, 0, 0, 0xaa, 0x01 };

static struct bpfrun r;

/* VIPs 1..4: {v4, v6} x {TCP, UDP} on port 80, every one to a single
 * backend of the VIP's family; echo answered on both addresses. */
static void setup(void)
{
	struct xlb_cfg cfg = {
		.gw_mac = { 0x02, 0, 0, 0, 0, 0x01 },
		.if_mac = { 0x02, 0, 0, 0, 0, 0x02 },
		.mtu = 1500,
	};
	struct xlb_backend b4 =
		bpfrun_backend("10.0.0.2", 1, XLB_BE_F_IN_USE | XLB_BE_F_LIVE);
	struct xlb_backend b6 =
		bpfrun_backend("fd00::2", 1, XLB_BE_F_IN_USE | XLB_BE_F_LIVE);
	uint32_t id4 = BE4, id6 = BE6;
	struct {
		const char *addr;
		uint8_t proto;
		uint32_t id;
		uint32_t *be;
	} v[] = { { VIP4, IPPROTO_TCP, 1, &id4 },
		  { VIP4, IPPROTO_UDP, 2, &id4 },
		  { VIP6, IPPROTO_TCP, 3, &id6 },
		  { VIP6, IPPROTO_UDP, 4, &id6 } };
	size_t i;

	bpfrun_open(&r, RING);
	bpfrun_set_cfg(&r, &cfg);
	bpfrun_set_backend(&r, BE4, &b4);
	bpfrun_set_backend(&r, BE6, &b6);
	for (i = 0; i < 4; i++) {
		struct xlb_vip_key k =
			bpfrun_vip_key(v[i].addr, 80, v[i].proto);
		struct xlb_vip vip = { .vip_id = v[i].id };

		bpfrun_add_vip(&r, &k, &vip, XLB_ADDR_F_ICMP_ECHO);
		bpfrun_fill_ring(&r, v[i].id, v[i].be, 1);
	}
}

static void teardown(void)
{
	bpfrun_close(&r);
}

TestSuite(parse, .init = setup, .fini = teardown);

static void simple(struct pkt_simple *s, int family, uint8_t proto)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->dmac, MYMAC, 6);
	memcpy(s->smac, RMAC, 6);
	s->family = family;
	pkt_addr(family == 4 ? CLI4 : CLI6, s->src);
	pkt_addr(family == 4 ? VIP4 : VIP6, s->dst);
	s->proto = proto;
	s->sport = 40001;
	s->dport = 80;
	s->payload = 64;
}

/* Ethernet (+ @nvlan tags) and an IPv4/IPv6 header to the VIP; the caller
 * adds what follows. */
static void start(struct pkt *p, int family, int nvlan, const char *dst)
{
	uint8_t a[16];

	pkt_init(p);
	pkt_eth(p, MYMAC, RMAC, PKT_AUTO);
	if (nvlan == 2)
		pkt_vlan(p, 0x88a8, 10, PKT_AUTO);
	if (nvlan >= 1)
		pkt_vlan(p, 0x8100, 20, PKT_AUTO);
	if (family == 4) {
		struct pkt_ip4 ip = { .id = 1, .proto = PKT_AUTO };

		pkt_addr(CLI4, a);
		memcpy(&ip.src, a, 4);
		pkt_addr(dst ? dst : VIP4, a);
		memcpy(&ip.dst, a, 4);
		pkt_ipv4(p, &ip);
	} else {
		struct pkt_ip6 ip = { .nexthdr = PKT_AUTO };

		pkt_addr(CLI6, ip.src);
		pkt_addr(dst ? dst : VIP6, ip.dst);
		pkt_ipv6(p, &ip);
	}
}

/* ---- VLAN ---------------------------------------------------------------- */

static void vlan_case(int family, uint16_t tpid0, int nvlan, uint8_t proto)
{
	struct pkt_simple s;
	struct pkt in;

	simple(&s, family, proto);
	s.nvlan = nvlan;
	s.vlan_tpid[0] = tpid0;
	s.vlan_tci[0] = 0x2064; /* PCP 1, VID 100 */
	s.vlan_tpid[1] = 0x8100;
	s.vlan_tci[1] = 0x00c8; /* VID 200 */
	pkt_simple(&in, &s);
	bpfrun_expect_fwd(&r, "VLAN-tagged frame", in.data, in.len, UINT32_MAX,
			  XLB_CNT_TX);
}

Test(parse, vlan_single_v4)
{
	vlan_case(4, 0x8100, 1, IPPROTO_TCP);
}

Test(parse, vlan_single_v6)
{
	vlan_case(6, 0x8100, 1, IPPROTO_TCP);
}

Test(parse, vlan_single_8021ad_v4)
{
	vlan_case(4, 0x88a8, 1, IPPROTO_UDP);
}

Test(parse, vlan_double_v4)
{
	vlan_case(4, 0x88a8, 2, IPPROTO_TCP);
}

Test(parse, vlan_double_v6)
{
	vlan_case(6, 0x88a8, 2, IPPROTO_UDP);
}

/* A third tag is beyond what we look into: not ours, passed untouched. */
Test(parse, vlan_triple_passes)
{
	struct pkt in;

	pkt_init(&in);
	pkt_eth(&in, MYMAC, RMAC, PKT_AUTO);
	pkt_vlan(&in, 0x88a8, 1, PKT_AUTO);
	pkt_vlan(&in, 0x8100, 2, PKT_AUTO);
	pkt_vlan(&in, 0x8100, 3, 0x0800);
	pkt_payload(&in, 60, 1);
	pkt_finish(&in);
	bpfrun_expect_verdict(&r, "three VLAN tags", in.data, in.len, XDP_PASS,
			      XLB_CNT_PASS_NON_IP);
}

/* ---- IPv4 options --------------------------------------------------------- */

static void ip4_options_case(size_t olen)
{
	uint8_t opts[40];
	struct pkt_ip4 ip = { .id = 9, .proto = PKT_AUTO, .opts = opts };
	uint8_t a[16];
	struct pkt in;
	size_t i;

	/* Router alert (RFC 2113) then NOPs, EOL last */
	for (i = 0; i < olen; i++)
		opts[i] = 1;
	opts[0] = 0x94;
	opts[1] = 4;
	opts[2] = opts[3] = 0;
	opts[olen - 1] = 0;
	ip.opts_len = olen;
	pkt_addr(CLI4, a);
	memcpy(&ip.src, a, 4);
	pkt_addr(VIP4, a);
	memcpy(&ip.dst, a, 4);
	pkt_init(&in);
	pkt_eth(&in, MYMAC, RMAC, PKT_AUTO);
	pkt_ipv4(&in, &ip);
	pkt_tcp(&in, 40001, 80, PKT_TCP_ACK, 1, 1);
	pkt_payload(&in, 32, 5);
	pkt_finish(&in);
	bpfrun_expect_fwd(&r, "IPv4 with options", in.data, in.len, UINT32_MAX,
			  XLB_CNT_TX);
}

Test(parse, ipv4_options_4_bytes)
{
	ip4_options_case(4);
}

Test(parse, ipv4_options_40_bytes)
{
	ip4_options_case(40);
}

/* ---- IPv6 extension headers ---------------------------------------------- */

/* IPv6 to the VIP with the extension headers @types (@lens bytes each),
 * then @proto (TCP or UDP) to port 80. */
static void ext_pkt(struct pkt *in, const uint8_t *types, const size_t *lens,
		    size_t n, uint8_t proto)
{
	size_t i;

	start(in, 6, 0, NULL);
	for (i = 0; i < n; i++)
		pkt_ipv6_ext(in, types[i], lens[i], PKT_AUTO);
	if (proto == IPPROTO_TCP)
		pkt_tcp(in, 40001, 80, PKT_TCP_ACK, 1, 1);
	else
		pkt_udp(in, 40001, 80, 0);
	pkt_payload(in, 20, 9);
	pkt_finish(in);
}

static void ext_ok(const char *what, const uint8_t *types, const size_t *lens,
		   size_t n)
{
	struct pkt in;

	ext_pkt(&in, types, lens, n, IPPROTO_TCP);
	bpfrun_expect_fwd(&r, what, in.data, in.len, UINT32_MAX, XLB_CNT_TX);
	ext_pkt(&in, types, lens, n, IPPROTO_UDP);
	bpfrun_expect_fwd(&r, what, in.data, in.len, UINT32_MAX, XLB_CNT_TX);
}

Test(parse, ipv6_ext_hop_by_hop)
{
	static const uint8_t t[] = { 0 };
	static const size_t l[] = { 8 };

	ext_ok("hop-by-hop", t, l, 1);
}

Test(parse, ipv6_ext_routing)
{
	static const uint8_t t[] = { 43 };
	static const size_t l[] = { 24 };

	ext_ok("routing header", t, l, 1);
}

Test(parse, ipv6_ext_dest_opts)
{
	static const uint8_t t[] = { 60 };
	static const size_t l[] = { 16 };

	ext_ok("destination options", t, l, 1);
}

Test(parse, ipv6_ext_chain)
{
	static const uint8_t t[] = { 0, 60, 43, 60 };
	static const size_t l[] = { 8, 16, 8, 40 };

	ext_ok("hop-by-hop, dest opts, routing, dest opts", t, l, 4);
}

Test(parse, ipv6_ext_at_limit)
{
	uint8_t t[XLB_MAX_EXT_HDRS];
	size_t l[XLB_MAX_EXT_HDRS], i;

	for (i = 0; i < XLB_MAX_EXT_HDRS; i++) {
		t[i] = i == 0 ? 0 : 60;
		l[i] = 8;
	}
	ext_ok("XLB_MAX_EXT_HDRS extension headers", t, l, XLB_MAX_EXT_HDRS);
}

Test(parse, ipv6_ext_over_limit)
{
	uint8_t t[XLB_MAX_EXT_HDRS + 1];
	size_t l[XLB_MAX_EXT_HDRS + 1], i;
	struct pkt in;

	for (i = 0; i <= XLB_MAX_EXT_HDRS; i++) {
		t[i] = i == 0 ? 0 : 60;
		l[i] = 8;
	}
	ext_pkt(&in, t, l, XLB_MAX_EXT_HDRS + 1, IPPROTO_TCP);
	bpfrun_expect_verdict(&r, "one extension header over the limit",
			      in.data, in.len, XDP_PASS,
			      XLB_CNT_PASS_EXT_HDR_LIMIT);
}

/* An extension header claiming more bytes than the packet has. */
Test(parse, ipv6_ext_overruns_packet)
{
	static const uint8_t t[] = { 60 };
	static const size_t l[] = { 8 };
	struct pkt in;

	ext_pkt(&in, t, l, 1, IPPROTO_TCP);
	in.data[14 + 40 + 1] = 200; /* (200 + 1) * 8 bytes */
	bpfrun_expect_verdict(&r, "extension header longer than the packet",
			      in.data, in.len, XDP_PASS,
			      XLB_CNT_PASS_MALFORMED_L3);
}

/* ---- Fragments ---------------------------------------------------------- */

static void frag4_case(const char *what, uint16_t frag, const char *dst,
		       int action, unsigned int counter)
{
	struct pkt in;

	start(&in, 4, 0, dst);
	in.data[14 + 6] = frag >> 8;
	in.data[14 + 7] = frag & 0xff;
	pkt_udp(&in, 40001, 80, 0);
	pkt_payload(&in, 64, 2);
	pkt_finish(&in);
	bpfrun_expect_verdict(&r, what, in.data, in.len, action, counter);
}

Test(parse, fragment_v4_first)
{
	frag4_case("IPv4 first fragment (MF)", 0x2000, NULL, XDP_DROP,
		   XLB_CNT_DROP_FRAGMENT);
}

Test(parse, fragment_v4_later)
{
	frag4_case("IPv4 non-first fragment", 0x0010, NULL, XDP_DROP,
		   XLB_CNT_DROP_FRAGMENT);
}

Test(parse, fragment_v4_last)
{
	frag4_case("IPv4 last fragment (offset, no MF)", 0x00b9, NULL, XDP_DROP,
		   XLB_CNT_DROP_FRAGMENT);
}

Test(parse, fragment_v4_not_vip_passes)
{
	frag4_case("IPv4 fragment to another address", 0x2000, "192.0.2.99",
		   XDP_PASS, XLB_CNT_PASS_NON_VIP);
}

/* DF alone is not a fragment. */
Test(parse, df_is_not_fragment_v4)
{
	struct pkt in;

	start(&in, 4, 0, NULL);
	in.data[14 + 6] = 0x40;
	pkt_udp(&in, 40001, 80, 0);
	pkt_payload(&in, 64, 2);
	pkt_finish(&in);
	bpfrun_expect_fwd(&r, "IPv4 with DF", in.data, in.len, UINT32_MAX,
			  XLB_CNT_TX);
}

static void frag6_case(const char *what, uint16_t off, bool more,
		       const char *dst, int action, unsigned int counter)
{
	struct pkt in;

	start(&in, 6, 0, dst);
	pkt_ipv6_frag(&in, off, more, 0x1234, PKT_AUTO);
	if (off == 0)
		pkt_udp(&in, 40001, 80, 0);
	pkt_payload(&in, 64, 2);
	pkt_finish(&in);
	bpfrun_expect_verdict(&r, what, in.data, in.len, action, counter);
}

Test(parse, fragment_v6_first)
{
	frag6_case("IPv6 first fragment", 0, true, NULL, XDP_DROP,
		   XLB_CNT_DROP_FRAGMENT);
}

Test(parse, fragment_v6_later)
{
	frag6_case("IPv6 non-first fragment", 100, true, NULL, XDP_DROP,
		   XLB_CNT_DROP_FRAGMENT);
}

/* An atomic fragment (offset 0, M clear: RFC 6946) is still a fragment
 * header; the datapath treats every fragment header alike. */
Test(parse, fragment_v6_atomic)
{
	frag6_case("IPv6 atomic fragment", 0, false, NULL, XDP_DROP,
		   XLB_CNT_DROP_FRAGMENT);
}

Test(parse, fragment_v6_not_vip_passes)
{
	frag6_case("IPv6 fragment to another address", 0, true, "2001:db8::99",
		   XDP_PASS, XLB_CNT_PASS_NON_VIP);
}

/* ---- Not for us ------------------------------------------------------------ */

static void pass_case(const char *what, int family, const char *dst,
		      uint8_t proto, uint16_t dport, unsigned int counter)
{
	struct pkt_simple s;
	struct pkt in;

	simple(&s, family, proto);
	pkt_addr(dst, s.dst);
	s.dport = dport;
	pkt_simple(&in, &s);
	bpfrun_expect_verdict(&r, what, in.data, in.len, XDP_PASS, counter);
}

Test(parse, non_vip_v4)
{
	pass_case("IPv4 to another address", 4, "192.0.2.2", IPPROTO_TCP, 80,
		  XLB_CNT_PASS_NON_VIP);
}

Test(parse, non_vip_v6)
{
	pass_case("IPv6 to another address", 6, "2001:db8::2", IPPROTO_TCP, 80,
		  XLB_CNT_PASS_NON_VIP);
}

/* The VIP's IPv4 address as the last word of an IPv6 address is not it. */
Test(parse, non_vip_v6_embedding_v4)
{
	pass_case("IPv6 ::192.0.2.1", 6, "::192.0.2.1", IPPROTO_TCP, 80,
		  XLB_CNT_PASS_NON_VIP);
}

Test(parse, vip_other_port_v4)
{
	pass_case("IPv4 VIP address, other port", 4, VIP4, IPPROTO_TCP, 22,
		  XLB_CNT_PASS_VIP_OTHER);
}

Test(parse, vip_other_port_v6)
{
	pass_case("IPv6 VIP address, other port", 6, VIP6, IPPROTO_UDP, 53,
		  XLB_CNT_PASS_VIP_OTHER);
}

static void other_proto_case(int family)
{
	struct pkt in;

	start(&in, family, 0, NULL);
	in.data[14 + (family == 4 ? 9 : 6)] = 47; /* GRE */
	in.layer[1].next = 47;
	pkt_payload(&in, 40, 3);
	pkt_finish(&in);
	bpfrun_expect_verdict(&r, "GRE to the VIP address", in.data, in.len,
			      XDP_PASS, XLB_CNT_PASS_VIP_OTHER);
}

Test(parse, vip_other_proto_v4)
{
	other_proto_case(4);
}

Test(parse, vip_other_proto_v6)
{
	other_proto_case(6);
}

Test(parse, non_ip_arp)
{
	struct pkt in;

	pkt_init(&in);
	pkt_eth(&in, MYMAC, RMAC, 0x0806);
	pkt_payload(&in, 28, 0);
	pkt_finish(&in);
	bpfrun_expect_verdict(&r, "ARP", in.data, in.len, XDP_PASS,
			      XLB_CNT_PASS_NON_IP);
}

Test(parse, non_ip_vlan_arp)
{
	struct pkt in;

	pkt_init(&in);
	pkt_eth(&in, MYMAC, RMAC, PKT_AUTO);
	pkt_vlan(&in, 0x8100, 5, 0x0806);
	pkt_payload(&in, 28, 0);
	pkt_finish(&in);
	bpfrun_expect_verdict(&r, "ARP in a VLAN", in.data, in.len, XDP_PASS,
			      XLB_CNT_PASS_NON_IP);
}

/* ---- Malformed L3 / L4 ------------------------------------------------------ */

/* A valid packet to the VIP with byte @off set to @val (IPv4 header
 * checksum then refreshed), expected to pass as malformed L3. */
static void bad_l3(const char *what, int family, size_t off, uint8_t val)
{
	struct pkt_simple s;
	struct pkt in;

	simple(&s, family, IPPROTO_TCP);
	pkt_simple(&in, &s);
	in.data[14 + off] = val;
	if (family == 4) {
		pkt_put16(in.data + 14 + 10, 0);
		pkt_put16(in.data + 14 + 10, pkt_ip4_csum(in.data + 14, 20));
	}
	bpfrun_expect_verdict(&r, what, in.data, in.len, XDP_PASS,
			      XLB_CNT_PASS_MALFORMED_L3);
}

Test(parse, malformed_v4_version)
{
	bad_l3("IPv4 ethertype, version 6", 4, 0, 0x65);
}

Test(parse, malformed_v4_ihl_below_5)
{
	bad_l3("IPv4 IHL 4", 4, 0, 0x44);
}

Test(parse, malformed_v4_tot_len_below_ihl)
{
	bad_l3("IPv4 tot_len 16", 4, 3, 16);
}

Test(parse, malformed_v4_tot_len_beyond_frame)
{
	bad_l3("IPv4 tot_len past the frame", 4, 2, 0x05);
}

Test(parse, malformed_v4_ihl_beyond_tot_len)
{
	struct pkt_simple s;
	struct pkt in;

	/* IHL 15 (60 bytes) in a 40-byte datagram */
	simple(&s, 4, IPPROTO_TCP);
	s.payload = 0;
	pkt_simple(&in, &s);
	in.data[14] = 0x4f;
	bpfrun_expect_verdict(&r, "IPv4 IHL 15, tot_len 40", in.data, in.len,
			      XDP_PASS, XLB_CNT_PASS_MALFORMED_L3);
}

Test(parse, malformed_v6_version)
{
	bad_l3("IPv6 ethertype, version 4", 6, 0, 0x40);
}

Test(parse, malformed_v6_payload_len_zero)
{
	struct pkt_simple s;
	struct pkt in;

	simple(&s, 6, IPPROTO_TCP);
	pkt_simple(&in, &s);
	pkt_put16(in.data + 14 + 4, 0);
	bpfrun_expect_verdict(&r, "IPv6 payload length 0 (jumbogram)", in.data,
			      in.len, XDP_PASS, XLB_CNT_PASS_MALFORMED_L3);
}

Test(parse, malformed_v6_payload_len_beyond_frame)
{
	bad_l3("IPv6 payload length past the frame", 6, 4, 0x05);
}

static void bad_doff(int family, uint8_t doff)
{
	struct pkt_simple s;
	struct pkt in;
	size_t l4 = 14 + (family == 4 ? 20 : 40);

	simple(&s, family, IPPROTO_TCP);
	s.payload = 8;
	pkt_simple(&in, &s);
	in.data[l4 + 12] = (uint8_t)(doff << 4);
	bpfrun_expect_verdict(&r, "bad TCP data offset", in.data, in.len,
			      XDP_DROP, XLB_CNT_DROP_MALFORMED_L4);
}

Test(parse, malformed_tcp_doff_below_5_v4)
{
	bad_doff(4, 4);
}

Test(parse, malformed_tcp_doff_below_5_v6)
{
	bad_doff(6, 0);
}

Test(parse, malformed_tcp_doff_beyond_packet_v4)
{
	bad_doff(4, 15); /* 60 bytes of TCP header in a 28-byte segment */
}

Test(parse, malformed_tcp_doff_beyond_packet_v6)
{
	bad_doff(6, 8);
}

/* ---- Truncation at every offset ------------------------------------------- */

/* Where the headers of a frame end. */
struct bounds {
	size_t l3, l3_fixed, l4, l4_end, ip_len;
	int family;
	int proto;
};

static void bounds_of(const struct pkt *p, struct bounds *b)
{
	struct pkt_view v;
	size_t l4h;

	cr_assert(pkt_parse(p->data, p->len, &v));
	b->family = v.family;
	b->proto = v.proto;
	b->l3 = v.l3_off;
	b->l3_fixed = v.l3_off + (v.family == 4 ? 20 : 40);
	b->l4 = v.l4_off;
	l4h = v.proto == IPPROTO_TCP ? 20 : 8; /* UDP, ICMP, ICMPv6: 8 */
	b->l4_end = v.l4_off + l4h;
	b->ip_len = pkt_ip_len(p->data + v.l3_off);
}

/* What a frame cut to @len must get. @fixed: the IP length field was
 * rewritten to match the cut (a consistent but short packet), else it
 * still claims the whole packet. */
static void want_for(const struct bounds *b, size_t len, bool fixed,
		     int *action, unsigned int *counter)
{
	*action = XDP_PASS;
	if (len < b->l3) {
		*counter = XLB_CNT_PASS_MALFORMED_L2;
	} else if (!fixed || len < b->l3_fixed || len < b->l4 ||
		   (b->family == 6 && len == b->l3_fixed)) {
		/* claims more than there is; no full IP header; IHL or ext
		 * headers beyond the end; IPv6 payload length 0 */
		*counter = XLB_CNT_PASS_MALFORMED_L3;
	} else {
		*action = XDP_DROP;
		*counter = XLB_CNT_DROP_MALFORMED_L4;
	}
}

/**
 * truncate_all - cut @p at every length from 14 (the least the kernel
 * runs) to just before the end of its L4 header: the frame cut with the IP
 * length as it was, cut with the IP length fixed up, and whole with only
 * the IP length cut (the rest is Ethernet padding: the headers must be
 * checked against the IP length, not the frame). Each must be passed or
 * dropped with its counter, never sent. Past the L4 header a length-fixed
 * frame is a valid short packet and must be forwarded.
 */
static void truncate_all(const char *what, const struct pkt *p, int full_action,
			 unsigned int full_counter)
{
	uint8_t buf[PKT_MAX], out[PKT_MAX];
	struct bounds b;
	size_t len, n;
	int mode; /* 0 cut, 1 cut + length fixed, 2 length cut, padded */

	bounds_of(p, &b);
	for (mode = 0; mode < 3; mode++) {
		bool fixed = mode > 0;

		for (len = mode == 2 ? b.l3_fixed : 14; len < b.l4_end; len++) {
			size_t flen = mode == 2 ? p->len : len;
			unsigned int counter;
			char msg[160];
			int action;

			memcpy(buf, p->data, flen);
			if (fixed && b.family == 4 && len >= b.l3 + 4) {
				pkt_put16(buf + b.l3 + 2,
					  (uint16_t)(len - b.l3));
				if (len >= b.l4) {
					pkt_put16(buf + b.l3 + 10, 0);
					pkt_put16(buf + b.l3 + 10,
						  pkt_ip4_csum(buf + b.l3,
							       b.l4 - b.l3));
				}
			} else if (fixed && b.family == 6 && len >= b.l3 + 6) {
				pkt_put16(buf + b.l3 + 4,
					  (uint16_t)(len - b.l3 - 40));
			}
			want_for(&b, len, fixed, &action, &counter);
			snprintf(msg, sizeof(msg),
				 "%s cut to %zu of %zu bytes%s", what, len,
				 p->len,
				 mode == 0 ? "" :
				 mode == 1 ? " (IP length fixed)" :
					     " (IP length cut, frame padded)");
			bpfrun_expect_verdict(&r, msg, buf, flen, action,
					      counter);
		}
	}
	/* from the end of the L4 header on, a consistent packet is valid */
	for (len = b.l4_end; len <= p->len; len++) {
		uint64_t before[XLB_CNT_MAX], after[XLB_CNT_MAX];
		unsigned int cnt[] = { full_counter, XLB_CNT_MAX };
		char msg[160];

		memcpy(buf, p->data, len);
		if (b.family == 4) {
			pkt_put16(buf + b.l3 + 2, (uint16_t)(len - b.l3));
			pkt_put16(buf + b.l3 + 10, 0);
			pkt_put16(buf + b.l3 + 10,
				  pkt_ip4_csum(buf + b.l3, b.l4 - b.l3));
		} else {
			pkt_put16(buf + b.l3 + 4, (uint16_t)(len - b.l3 - 40));
		}
		/* an echo request is answered only with a valid checksum:
		 * a cut one is made whole again */
		if (b.proto == IPPROTO_ICMP || b.proto == IPPROTO_ICMPV6) {
			pkt_put16(buf + b.l4 + 2, 0);
			pkt_put16(buf + b.l4 + 2,
				  b.proto == IPPROTO_ICMP ?
					  pkt_csum_fold(pkt_csum_add(
						  0, buf + b.l4, len - b.l4)) :
					  pkt_l4_csum(buf + b.l3, buf + b.l4,
						      len - b.l4, b.proto));
		}
		snprintf(msg, sizeof(msg), "%s cut to %zu of %zu bytes", what,
			 len, p->len);
		bpfrun_counters(&r, before);
		n = bpfrun_expect(&r, msg, buf, len, full_action, NULL, 0, out);
		bpfrun_counters(&r, after);
		bpfrun_assert_counted(msg, before, after, cnt);
		cr_assert(n >= len, "%s: output shorter than input", msg);
	}
}

static void trunc_simple(int family, uint8_t proto, int nvlan)
{
	struct pkt_simple s;
	struct pkt in;
	bool icmp = proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;

	simple(&s, family, proto);
	s.nvlan = nvlan;
	s.vlan_tpid[0] = nvlan == 2 ? 0x88a8 : 0x8100;
	s.vlan_tci[0] = 10;
	s.vlan_tpid[1] = 0x8100;
	s.vlan_tci[1] = 20;
	s.payload = 6;
	pkt_simple(&in, &s);
	truncate_all(family == 4 ? "IPv4 frame" : "IPv6 frame", &in, XDP_TX,
		     icmp ? XLB_CNT_TX_ICMP_ECHO : XLB_CNT_TX);
}

Test(parse, truncated_tcp_v4)
{
	trunc_simple(4, IPPROTO_TCP, 0);
}

Test(parse, truncated_tcp_v6)
{
	trunc_simple(6, IPPROTO_TCP, 0);
}

Test(parse, truncated_udp_v4)
{
	trunc_simple(4, IPPROTO_UDP, 0);
}

Test(parse, truncated_udp_v6)
{
	trunc_simple(6, IPPROTO_UDP, 0);
}

Test(parse, truncated_icmp_echo_v4)
{
	trunc_simple(4, IPPROTO_ICMP, 0);
}

Test(parse, truncated_icmp_echo_v6)
{
	trunc_simple(6, IPPROTO_ICMPV6, 0);
}

Test(parse, truncated_double_vlan_tcp_v4)
{
	trunc_simple(4, IPPROTO_TCP, 2);
}

Test(parse, truncated_double_vlan_udp_v6)
{
	trunc_simple(6, IPPROTO_UDP, 2);
}

Test(parse, truncated_ipv4_options)
{
	uint8_t opts[12] = { 0x94, 4, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0 };
	struct pkt_ip4 ip = { .proto = PKT_AUTO, .opts = opts, .opts_len = 12 };
	uint8_t a[16];
	struct pkt in;

	pkt_addr(CLI4, a);
	memcpy(&ip.src, a, 4);
	pkt_addr(VIP4, a);
	memcpy(&ip.dst, a, 4);
	pkt_init(&in);
	pkt_eth(&in, MYMAC, RMAC, PKT_AUTO);
	pkt_vlan(&in, 0x8100, 7, PKT_AUTO);
	pkt_ipv4(&in, &ip);
	pkt_tcp(&in, 40001, 80, PKT_TCP_ACK, 1, 1);
	pkt_payload(&in, 4, 0);
	pkt_finish(&in);
	truncate_all("IPv4 with options", &in, XDP_TX, XLB_CNT_TX);
}

Test(parse, truncated_ipv6_ext_headers)
{
	static const uint8_t t[] = { 0, 43, 60 };
	static const size_t l[] = { 8, 16, 24 };
	struct pkt in;

	ext_pkt(&in, t, l, 3, IPPROTO_UDP);
	truncate_all("IPv6 with extension headers", &in, XDP_TX, XLB_CNT_TX);
}
