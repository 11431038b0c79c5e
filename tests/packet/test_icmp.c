/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* ICMP: echo replies from XDP, ICMP errors routed to the flow's backend,
 * and "fragmentation needed" / "packet too big" when encap exceeds the MTU. */
#include <string.h>

#include <arpa/inet.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include <criterion/criterion.h>

#include "bpfrun.h"
#include "pkt.h"

#define RING 251
#define BE_A 10
#define BE_B 11
#define MTU 1000 /* bytes: small, so oversize test packets stay small */

static const uint8_t MYMAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t RMAC[6] = { 0x02, 0, 0, 0, 0xaa, 0x01 };

static struct bpfrun r;
static struct xlb_cfg cfg = {
	.gw_mac = { 0x02, 0, 0, 0, 0, 0x01 },
	.if_mac = { 0x02, 0, 0, 0, 0, 0x02 },
	.mtu = MTU,
	.flags = XLB_CFG_F_ICMP_TOO_BIG,
};
static int fam;
static const char *vip_addr, *cli_addr;
static struct xlb_vip vip_tcp = { .vip_id = 1 }, vip_udp = { .vip_id = 2 };

static size_t overhead(int be_family, bool gue);

static void teardown(void)
{
	bpfrun_close(&r);
}

TestSuite(icmp, .fini = teardown);

static void set_ring(uint32_t vip_id, uint32_t be)
{
	bpfrun_fill_ring(&r, vip_id, &be, 1);
}

/**
 * scene - VIPs TCP:80 (id 1) and UDP:53 (id 2) on one address of @family;
 * backends A and B of family @be_family (A with @be_flags); rings all A.
 * @addr_flags: the address's XLB_ADDR_F_*.
 */
static void scene(int family, int be_family, uint8_t be_flags,
		  uint32_t addr_flags)
{
	struct xlb_vip_key kt, ku;
	struct xlb_backend a =
		bpfrun_backend(be_family == 4 ? "10.0.0.10" : "fd00::10", 1,
			       XLB_BE_F_IN_USE | XLB_BE_F_LIVE | be_flags);
	struct xlb_backend b =
		bpfrun_backend(be_family == 4 ? "10.0.0.11" : "fd00::11", 1,
			       XLB_BE_F_IN_USE | XLB_BE_F_LIVE);

	fam = family;
	vip_addr = family == 4 ? "192.0.2.1" : "2001:db8::1";
	cli_addr = family == 4 ? "198.51.100.10" : "2001:db8:c::10";
	kt = bpfrun_vip_key(vip_addr, 80, IPPROTO_TCP);
	ku = bpfrun_vip_key(vip_addr, 53, IPPROTO_UDP);
	bpfrun_open(&r, RING);
	bpfrun_set_cfg(&r, &cfg);
	bpfrun_set_backend(&r, BE_A, &a);
	bpfrun_set_backend(&r, BE_B, &b);
	bpfrun_add_vip(&r, &kt, &vip_tcp, addr_flags);
	bpfrun_add_vip(&r, &ku, &vip_udp, addr_flags);
	set_ring(1, BE_A);
	set_ring(2, BE_A);
}

static void base(struct pkt_simple *s, uint8_t proto, int nvlan)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->dmac, MYMAC, 6);
	memcpy(s->smac, RMAC, 6);
	s->family = fam;
	pkt_addr(cli_addr, s->src);
	pkt_addr(vip_addr, s->dst);
	s->proto = proto;
	s->nvlan = nvlan;
	s->vlan_tpid[0] = 0x8100;
	s->vlan_tci[0] = 42;
}

/* ---- Echo ----------------------------------------------------------------- */

static void echo_case(int family, int nvlan, size_t payload)
{
	struct pkt_simple s;
	struct pkt in, want;
	uint64_t before[XLB_CNT_MAX], after[XLB_CNT_MAX];
	static const unsigned int cnt[] = { XLB_CNT_TX_ICMP_ECHO, XLB_CNT_MAX };

	scene(family, family, 0, XLB_ADDR_F_ICMP_ECHO);
	base(&s, family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, nvlan);
	s.sport = 0x4242; /* echo id */
	s.dport = 7; /* sequence */
	s.payload = payload;
	pkt_simple(&in, &s);
	bpfrun_want_echo(&want, in.data, in.len);
	bpfrun_counters(&r, before);
	bpfrun_expect(&r, "echo request", in.data, in.len, XDP_TX, want.data,
		      want.len, NULL);
	bpfrun_counters(&r, after);
	bpfrun_assert_counted("echo request", before, after, cnt);
}

Test(icmp, echo_v4)
{
	echo_case(4, 0, 56);
}

Test(icmp, echo_v6)
{
	echo_case(6, 0, 56);
}

Test(icmp, echo_vlan_v4)
{
	echo_case(4, 1, 56);
}

Test(icmp, echo_vlan_v6)
{
	echo_case(6, 1, 56);
}

/* An odd payload length exercises the checksum's last byte. */
Test(icmp, echo_odd_length_v4)
{
	echo_case(4, 0, 33);
}

Test(icmp, echo_odd_length_v6)
{
	echo_case(6, 0, 33);
}

/* A request with a bad checksum is not a request (RFC 1122 3.2.2): no
 * reply, which would carry a bad checksum too. @where: byte to corrupt,
 * from the L3 header (the IPv4 header checksum or the ICMP payload). */
static void echo_bad_csum_case(int family, size_t where)
{
	struct pkt_simple s;
	struct pkt in;

	scene(family, family, 0, XLB_ADDR_F_ICMP_ECHO);
	base(&s, family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, 0);
	s.payload = 56;
	pkt_simple(&in, &s);
	in.data[14 + where] ^= 0x01;
	bpfrun_expect_verdict(&r, "echo request with a bad checksum", in.data,
			      in.len, XDP_DROP, XLB_CNT_DROP_MALFORMED_L4);
}

Test(icmp, echo_bad_icmp_checksum_v4)
{
	echo_bad_csum_case(4, 20 + 8 + 5);
}

Test(icmp, echo_bad_icmp_checksum_v6)
{
	echo_bad_csum_case(6, 40 + 8 + 5);
}

Test(icmp, echo_bad_ip_header_checksum_v4)
{
	echo_bad_csum_case(4, 10);
}

/* A payload cut short with the IP length fixed: the checksum no longer
 * covers what is there. */
static void echo_cut_case(int family)
{
	struct pkt_simple s;
	struct pkt in;

	scene(family, family, 0, XLB_ADDR_F_ICMP_ECHO);
	base(&s, family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, 0);
	s.payload = 56;
	pkt_simple(&in, &s);
	in.len -= 3;
	if (family == 4) {
		pkt_put16(in.data + 14 + 2, (uint16_t)(in.len - 14));
		pkt_put16(in.data + 14 + 10, 0);
		pkt_put16(in.data + 14 + 10, pkt_ip4_csum(in.data + 14, 20));
	} else {
		pkt_put16(in.data + 14 + 4, (uint16_t)(in.len - 14 - 40));
	}
	bpfrun_expect_verdict(&r, "echo request cut short", in.data, in.len,
			      XDP_DROP, XLB_CNT_DROP_MALFORMED_L4);
}

Test(icmp, echo_cut_short_v4)
{
	echo_cut_case(4);
}

Test(icmp, echo_cut_short_v6)
{
	echo_cut_case(6);
}

static void echo_off_case(int family)
{
	struct pkt_simple s;
	struct pkt in;

	scene(family, family, 0, 0);
	base(&s, family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, 0);
	s.payload = 56;
	pkt_simple(&in, &s);
	bpfrun_expect_verdict(&r, "echo to an address without echo", in.data,
			      in.len, XDP_PASS, XLB_CNT_PASS_VIP_OTHER);
}

Test(icmp, echo_disabled_v4)
{
	echo_off_case(4);
}

Test(icmp, echo_disabled_v6)
{
	echo_off_case(6);
}

static void echo_non_vip_case(int family)
{
	struct pkt_simple s;
	struct pkt in;

	scene(family, family, 0, XLB_ADDR_F_ICMP_ECHO);
	base(&s, family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, 0);
	pkt_addr(family == 4 ? "192.0.2.77" : "2001:db8::77", s.dst);
	s.payload = 56;
	pkt_simple(&in, &s);
	bpfrun_expect_verdict(&r, "echo to another address", in.data, in.len,
			      XDP_PASS, XLB_CNT_PASS_NON_VIP);
}

Test(icmp, echo_non_vip_v4)
{
	echo_non_vip_case(4);
}

Test(icmp, echo_non_vip_v6)
{
	echo_non_vip_case(6);
}

/* Other informational types (an echo reply, a v6 neighbour solicitation)
 * are left to the kernel. */
static void other_type_case(int family, uint8_t type)
{
	struct pkt_simple s;
	struct pkt in;
	size_t icmp_off = 14 + (family == 4 ? 20 : 40);

	scene(family, family, 0, XLB_ADDR_F_ICMP_ECHO);
	base(&s, family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, 0);
	s.payload = 24;
	pkt_simple(&in, &s);
	in.data[icmp_off] = type;
	bpfrun_expect_verdict(&r, "other ICMP type", in.data, in.len, XDP_PASS,
			      XLB_CNT_PASS_VIP_OTHER);
}

Test(icmp, other_type_echo_reply_v4)
{
	other_type_case(4, 0);
}

Test(icmp, other_type_neighbour_solicitation_v6)
{
	other_type_case(6, 135);
}

/* IPv6 with next header 1 (ICMP for IPv4) is not ICMPv6, nor IPv4 with
 * protocol 58 ICMP: an "echo request" in either must not be answered.
 * @type: the echo-request type of the protocol the header does not say. */
static void wrong_icmp_case(int family, uint8_t proto, uint8_t type)
{
	struct pkt_simple s;
	struct pkt in;
	size_t l3 = 14, l4 = 14 + (family == 4 ? 20 : 40);
	uint8_t out[PKT_MAX];
	int action;
	size_t n;

	scene(family, family, 0, XLB_ADDR_F_ICMP_ECHO);
	base(&s, family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6, 0);
	s.payload = 24;
	pkt_simple(&in, &s);
	in.data[l4] = type;
	if (family == 4) {
		in.data[l3 + 9] = proto;
		pkt_put16(in.data + l3 + 10, 0);
		pkt_put16(in.data + l3 + 10, pkt_ip4_csum(in.data + l3, 20));
	} else {
		in.data[l3 + 6] = proto;
	}
	action = bpfrun_run(&r, in.data, in.len, out, &n);
	cr_assert_neq(action, XDP_TX,
		      "an IPv%d packet with protocol %u holding type %u was "
		      "answered as an echo request (the ICMP handler must "
		      "check the protocol matches the family)",
		      family, proto, type);
}

Test(icmp, icmpv4_in_ipv6_not_answered)
{
	wrong_icmp_case(6, IPPROTO_ICMP, 128);
}

Test(icmp, icmpv6_in_ipv4_not_answered)
{
	wrong_icmp_case(4, IPPROTO_ICMPV6, 8);
}

/* ---- ICMP errors about VIP flows ---------------------------------------- */

/**
 * icmp_error - the ICMP error a router sends the VIP about a packet the
 * backend sent (VIP:@vport -> client:@cport, @proto): outer IP from the
 * router to the VIP, ICMP @type/@code/@rest, the offending IP header and
 * its first 8 L4 bytes (@quote_l4: how many L4 bytes to quote).
 */
/* IPv4 options (NOPs) in the quoted header of icmp_error(), bytes. */
static size_t emb_opts;

static void icmp_error(struct pkt *p, uint8_t type, uint8_t code, uint32_t rest,
		       uint8_t proto, uint16_t vport, uint16_t cport,
		       size_t quote_l4)
{
	struct pkt emb;
	uint8_t a[16];
	size_t l3;

	pkt_init(&emb);
	if (fam == 4) {
		static const uint8_t nops[40] = {
			1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
			1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
			1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
		};
		struct pkt_ip4 ip = { .ttl = 3,
				      .frag = 0x4000,
				      .proto = PKT_AUTO,
				      .opts = nops,
				      .opts_len = emb_opts };

		pkt_addr(vip_addr, a);
		memcpy(&ip.src, a, 4);
		pkt_addr(cli_addr, a);
		memcpy(&ip.dst, a, 4);
		pkt_ipv4(&emb, &ip);
	} else {
		struct pkt_ip6 ip = { .hlim = 3, .nexthdr = PKT_AUTO };

		pkt_addr(vip_addr, ip.src);
		pkt_addr(cli_addr, ip.dst);
		pkt_ipv6(&emb, &ip);
	}
	if (proto == IPPROTO_TCP)
		pkt_tcp(&emb, vport, cport, PKT_TCP_ACK, 7, 9);
	else
		pkt_udp(&emb, vport, cport, 0);
	pkt_payload(&emb, 1400, 1);
	pkt_finish(&emb);
	l3 = fam == 4 ? 20 + emb_opts : 40;

	pkt_init(p);
	pkt_eth(p, MYMAC, RMAC, PKT_AUTO);
	if (fam == 4) {
		struct pkt_ip4 ip = { .tos = 0xc0, .proto = PKT_AUTO };

		pkt_addr("203.0.113.1", a); /* the router */
		memcpy(&ip.src, a, 4);
		pkt_addr(vip_addr, a);
		memcpy(&ip.dst, a, 4);
		pkt_ipv4(p, &ip);
		pkt_icmp4(p, type, code, rest);
	} else {
		struct pkt_ip6 ip = { .tclass = 0xc0, .nexthdr = PKT_AUTO };

		pkt_addr("2001:db8:ffff::1", ip.src);
		pkt_addr(vip_addr, ip.dst);
		pkt_ipv6(p, &ip);
		pkt_icmp6(p, type, code, rest);
	}
	pkt_bytes(p, emb.data, l3 + quote_l4);
	pkt_finish(p);
}

/* The client-side flow of the test: client:@cport -> VIP:@vport. */
static void client_flow(struct xlb_flow_key *f, uint8_t proto, uint16_t vport,
			uint16_t cport)
{
	uint8_t a[16];

	memset(f, 0, sizeof(*f));
	f->family = fam == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
	pkt_addr(cli_addr, a);
	memcpy(f->src, a, 16);
	pkt_addr(vip_addr, a);
	memcpy(f->dst, a, 16);
	f->proto = proto;
	f->sport = htons(cport);
	f->dport = htons(vport);
}

/* Expect the ICMP frame @p encapsulated whole toward @be_id as flow @f of
 * @vip (outer source, flow label, ports from @f's hash). */
static void expect_err_fwd(const char *what, const struct pkt *p,
			   const struct xlb_flow_key *f,
			   const struct xlb_vip *vip, uint32_t be_id)
{
	uint64_t before[XLB_CNT_MAX], after[XLB_CNT_MAX];
	static const unsigned int cnt[] = { XLB_CNT_TX_ICMP_ERR_FWD,
					    XLB_CNT_MAX };
	struct xlb_backend be;
	struct pkt_outer o;
	struct pkt want;
	uint8_t out[PKT_MAX];
	size_t n;

	bpfrun_get_backend(&r, be_id, &be);
	bpfrun_outer(&o, p->data, p->len, &cfg, vip, &be, f);
	pkt_encap(&want, p->data, p->len, &o);
	bpfrun_counters(&r, before);
	n = bpfrun_expect(&r, what, p->data, p->len, XDP_TX, want.data,
			  want.len, out);
	pkt_assert_outer(out, n, p->data, p->len, &o);
	bpfrun_counters(&r, after);
	bpfrun_assert_counted(what, before, after, cnt);
}

/**
 * error_case - client flow F (TCP) is established on A; the ring moves to
 * B. An ICMP error about F must go to A (the connection table), one about
 * a flow never seen to B (the ring), without remembering that flow.
 */
static void error_case(int family, int be_family, uint8_t type, uint8_t code,
		       uint32_t rest)
{
	struct xlb_flow_key f, g;
	struct pkt_simple s;
	struct pkt data, err;
	struct xlb_ct ct;

	scene(family, be_family, 0, 0);
	base(&s, IPPROTO_TCP, 0);
	s.sport = 40001;
	s.dport = 80;
	s.payload = 10;
	pkt_simple(&data, &s);
	bpfrun_expect_fwd(&r, "client data", data.data, data.len, BE_A,
			  XLB_CNT_TX);
	set_ring(1, BE_B);

	icmp_error(&err, type, code, rest, IPPROTO_TCP, 80, 40001, 8);
	client_flow(&f, IPPROTO_TCP, 80, 40001);
	expect_err_fwd("ICMP error about an established flow", &err, &f,
		       &vip_tcp, BE_A);

	icmp_error(&err, type, code, rest, IPPROTO_TCP, 80, 40002, 8);
	client_flow(&g, IPPROTO_TCP, 80, 40002);
	expect_err_fwd("ICMP error about an unknown flow", &err, &g, &vip_tcp,
		       BE_B);
	cr_assert(!bpfrun_ct_get(&r, vip_tcp.vip_id, &g, &ct),
		  "an ICMP error created a connection-table entry");
}

Test(icmp, error_v4_dest_unreach)
{
	error_case(4, 4, 3, 1, 0);
}

Test(icmp, error_v4_frag_needed)
{
	error_case(4, 4, 3, 4, 1400);
}

Test(icmp, error_v4_time_exceeded)
{
	error_case(4, 4, 11, 0, 0);
}

Test(icmp, error_v4_to_v6_backend)
{
	error_case(4, 6, 3, 4, 1280);
}

Test(icmp, error_v6_dest_unreach)
{
	error_case(6, 6, 1, 4, 0);
}

Test(icmp, error_v6_packet_too_big)
{
	error_case(6, 6, 2, 0, 1280);
}

Test(icmp, error_v6_time_exceeded)
{
	error_case(6, 6, 3, 0, 0);
}

Test(icmp, error_v6_to_v4_backend)
{
	error_case(6, 4, 2, 0, 1280);
}

/* UDP flows: the embedded UDP header picks the UDP VIP. */
static void error_udp_case(int family)
{
	struct xlb_flow_key f;
	struct pkt err;

	scene(family, family, 0, 0);
	set_ring(2, BE_B);
	icmp_error(&err, family == 4 ? 3 : 1, family == 4 ? 3 : 4, 0,
		   IPPROTO_UDP, 53, 5353, 8);
	client_flow(&f, IPPROTO_UDP, 53, 5353);
	expect_err_fwd("ICMP port unreachable about a UDP flow", &err, &f,
		       &vip_udp, BE_B);
}

Test(icmp, error_udp_v4)
{
	error_udp_case(4);
}

Test(icmp, error_udp_v6)
{
	error_udp_case(6);
}

/* The quoted IPv4 header has options: the ports follow its IHL. */
Test(icmp, error_quoted_ip_options_v4)
{
	struct xlb_flow_key f;
	struct pkt err;

	scene(4, 4, 0, 0);
	set_ring(1, BE_B);
	emb_opts = 12;
	icmp_error(&err, 3, 4, 1400, IPPROTO_TCP, 80, 40001, 8);
	client_flow(&f, IPPROTO_TCP, 80, 40001);
	expect_err_fwd("ICMP error quoting an IPv4 header with options", &err,
		       &f, &vip_tcp, BE_B);
}

/* An ICMP error too big to forward is dropped: no ICMP error about an
 * ICMP error (RFC 1122 3.2.2, RFC 4443 2.4(e)), even with too-big on. */
static void error_over_mtu_case(int family)
{
	struct pkt err;

	scene(family, family, 0, 0);
	icmp_error(&err, family == 4 ? 3 : 2, family == 4 ? 4 : 0, 1280,
		   IPPROTO_TCP, 80, 40001, 1000);
	cr_assert_gt(err.len - 14 + overhead(family, false), MTU);
	bpfrun_expect_verdict(&r, "ICMP error over the MTU", err.data, err.len,
			      XDP_DROP, XLB_CNT_DROP_TOO_BIG);
}

Test(icmp, error_over_mtu_dropped_v4)
{
	error_over_mtu_case(4);
}

Test(icmp, error_over_mtu_dropped_v6)
{
	error_over_mtu_case(6);
}

/* Errors about no VIP flow, or too short to tell, are dropped, counted. */
static void unmatched_case(int family, uint8_t proto, uint16_t vport,
			   size_t quote_l4)
{
	struct pkt err;

	scene(family, family, 0, 0);
	icmp_error(&err, family == 4 ? 3 : 1, family == 4 ? 1 : 3, 0, proto,
		   vport, 40001, quote_l4);
	bpfrun_expect_verdict(&r, "ICMP error about no VIP flow", err.data,
			      err.len, XDP_DROP, XLB_CNT_DROP_ICMP_UNMATCHED);
}

Test(icmp, error_unmatched_port_v4)
{
	unmatched_case(4, IPPROTO_TCP, 8080, 8);
}

Test(icmp, error_unmatched_port_v6)
{
	unmatched_case(6, IPPROTO_TCP, 8080, 8);
}

Test(icmp, error_quote_without_ports_v4)
{
	unmatched_case(4, IPPROTO_TCP, 80, 2);
}

Test(icmp, error_quote_without_ports_v6)
{
	unmatched_case(6, IPPROTO_UDP, 53, 3);
}

/* An ICMP error shorter than its own 8-byte header. */
static void short_icmp_case(int family)
{
	struct pkt err;
	size_t l4 = 14 + (family == 4 ? 20 : 40);

	scene(family, family, 0, 0);
	icmp_error(&err, family == 4 ? 3 : 1, 0, 0, IPPROTO_TCP, 80, 1, 8);
	err.len = l4 + 6;
	if (family == 4) {
		pkt_put16(err.data + 14 + 2, 26);
		pkt_put16(err.data + 14 + 10, 0);
		pkt_put16(err.data + 14 + 10, pkt_ip4_csum(err.data + 14, 20));
	} else {
		pkt_put16(err.data + 14 + 4, 6);
	}
	bpfrun_expect_verdict(&r, "6-byte ICMP header", err.data, err.len,
			      XDP_DROP, XLB_CNT_DROP_MALFORMED_L4);
}

Test(icmp, error_truncated_header_v4)
{
	short_icmp_case(4);
}

Test(icmp, error_truncated_header_v6)
{
	short_icmp_case(6);
}

/**
 * error_in_padding_case - an ICMP error about a known flow whose IP length
 * is cut at every byte of the ICMP header, the quoted IP header and its
 * ports, while the frame keeps every byte (as Ethernet padding would): the
 * datapath must go by the IP length. ICMP header cut: malformed L4; quote
 * cut: no flow to match. Never sent.
 */
static void error_in_padding_case(int family)
{
	size_t l3 = 14, l4 = l3 + (family == 4 ? 20 : 40);
	size_t quote_end = l4 + 8 + (family == 4 ? 20 : 40) + 4;
	struct pkt err;
	size_t end;

	scene(family, family, 0, 0);
	icmp_error(&err, family == 4 ? 3 : 1, family == 4 ? 1 : 3, 0,
		   IPPROTO_TCP, 80, 40001, 8);
	for (end = l4; end < quote_end; end++) {
		uint8_t buf[PKT_MAX];
		char msg[128];

		memcpy(buf, err.data, err.len);
		if (family == 4) {
			pkt_put16(buf + l3 + 2, (uint16_t)(end - l3));
			pkt_put16(buf + l3 + 10, 0);
			pkt_put16(buf + l3 + 10, pkt_ip4_csum(buf + l3, 20));
		} else if (end == l4) {
			continue; /* IPv6 payload length 0: not ICMP at all */
		} else {
			pkt_put16(buf + l3 + 4, (uint16_t)(end - l4));
		}
		snprintf(msg, sizeof(msg),
			 "ICMP error with IP length ending at byte %zu of %zu",
			 end, err.len);
		bpfrun_expect_verdict(&r, msg, buf, err.len, XDP_DROP,
				      end < l4 + 8 ?
					      XLB_CNT_DROP_MALFORMED_L4 :
					      XLB_CNT_DROP_ICMP_UNMATCHED);
	}
}

Test(icmp, error_cut_in_padding_v4)
{
	error_in_padding_case(4);
}

Test(icmp, error_cut_in_padding_v6)
{
	error_in_padding_case(6);
}

/* ---- MTU ------------------------------------------------------------------ */

/* A TCP packet whose IP length is @ip_len bytes (DF set for IPv4 if @df). */
static void sized(struct pkt *p, size_t ip_len, bool df, int nvlan)
{
	struct pkt_simple s;

	base(&s, IPPROTO_TCP, nvlan);
	s.sport = 40001;
	s.dport = 80;
	s.frag = df ? 0x4000 : 0;
	s.payload = ip_len - (fam == 4 ? 20 : 40) - 20;
	pkt_simple(p, &s);
}

/* Overhead in bytes of the outer headers toward a @be_family backend. */
static size_t overhead(int be_family, bool gue)
{
	return (be_family == 4 ? 20 : 40) + (gue ? 8 : 0);
}

/**
 * mtu_case - packets up to exactly MTU after encap go out; one byte more
 * is answered (ICMP too big announcing MTU - overhead) or dropped.
 */
static void mtu_case(int family, int be_family, bool gue, bool df, int nvlan)
{
	size_t oh = overhead(be_family, gue), fit = MTU - oh;
	uint64_t before[XLB_CNT_MAX], after[XLB_CNT_MAX];
	unsigned int cnt[] = { XLB_CNT_TX_ICMP_TOO_BIG, XLB_CNT_MAX };
	struct pkt p, want;

	scene(family, be_family, gue ? XLB_BE_F_GUE : 0, 0);
	sized(&p, fit, df, nvlan);
	bpfrun_expect_fwd(&r, "packet that fits the MTU exactly", p.data, p.len,
			  BE_A, XLB_CNT_TX);
	sized(&p, fit + 1, df, nvlan);
	if (family == 4 && !df) {
		bpfrun_expect_verdict(&r, "oversize IPv4 without DF", p.data,
				      p.len, XDP_DROP, XLB_CNT_DROP_TOO_BIG);
		return;
	}
	bpfrun_want_too_big(&want, p.data, p.len, (uint32_t)fit);
	bpfrun_counters(&r, before);
	bpfrun_expect(&r, "oversize packet", p.data, p.len, XDP_TX, want.data,
		      want.len, NULL);
	bpfrun_counters(&r, after);
	bpfrun_assert_counted("oversize packet", before, after, cnt);
}

Test(icmp, mtu_frag_needed_v4)
{
	mtu_case(4, 4, false, true, 0);
}

Test(icmp, mtu_frag_needed_vlan_v4)
{
	mtu_case(4, 4, false, true, 1);
}

Test(icmp, mtu_frag_needed_v4_to_v6_backend)
{
	mtu_case(4, 6, false, true, 0);
}

Test(icmp, mtu_frag_needed_gue_v4)
{
	mtu_case(4, 4, true, true, 0);
}

Test(icmp, mtu_no_df_dropped_v4)
{
	mtu_case(4, 4, false, false, 0);
}

Test(icmp, mtu_packet_too_big_v6)
{
	mtu_case(6, 6, false, false, 0);
}

Test(icmp, mtu_packet_too_big_vlan_v6)
{
	mtu_case(6, 6, false, false, 1);
}

Test(icmp, mtu_packet_too_big_v6_to_v4_backend)
{
	mtu_case(6, 4, false, false, 0);
}

Test(icmp, mtu_packet_too_big_gue_v6)
{
	mtu_case(6, 6, true, false, 0);
}

/* Behind 24 bytes of extension headers the TCP header starts past the
 * 64 bytes xlb used to quote: the client's stack could not match the
 * packet-too-big to its socket. The quote now reaches it (RFC 4443
 * 2.4(c): as much as fits 1280 bytes). */
Test(icmp, mtu_packet_too_big_v6_quotes_past_extension_headers)
{
	size_t fit = MTU - overhead(6, false);
	struct pkt_ip6 ip = { .nexthdr = PKT_AUTO };
	struct pkt p, want;
	uint8_t out[PKT_MAX];
	struct pkt_view v;
	size_t out_len;

	scene(6, 6, 0, 0);
	pkt_addr(cli_addr, ip.src);
	pkt_addr(vip_addr, ip.dst);
	pkt_init(&p);
	pkt_eth(&p, MYMAC, RMAC, PKT_AUTO);
	pkt_ipv6(&p, &ip);
	pkt_ipv6_ext(&p, 0, 16, PKT_AUTO); /* hop-by-hop */
	pkt_ipv6_ext(&p, 60, 8, PKT_AUTO); /* destination options */
	pkt_tcp(&p, 40001, 80, PKT_TCP_ACK, 1, 1);
	pkt_payload(&p, fit + 1 - 40 - 24 - 20, 7);
	pkt_finish(&p);
	bpfrun_want_too_big(&want, p.data, p.len, (uint32_t)fit);
	out_len =
		bpfrun_expect(&r, "oversize packet behind extension headers",
			      p.data, p.len, XDP_TX, want.data, want.len, out);
	cr_assert(pkt_parse(out, out_len, &v) && v.l4_off);
	/* the quote: the offending IPv6 header at 48 bytes into the ICMPv6
	 * message's IPv6 payload, its TCP ports 64 bytes further */
	cr_assert_geq(out_len, v.l3_off + 40 + 8 + 40 + 24 + 4);
	cr_assert_eq(pkt_get16(out + v.l3_off + 48 + 64), 40001,
		     "the quote holds the client's source port");
}

/* Without XLB_CFG_F_ICMP_TOO_BIG an oversize packet is dropped, counted. */
static void mtu_drop_case(int family)
{
	struct pkt p;

	cfg.flags = 0;
	scene(family, family, 0, 0);
	sized(&p, MTU - overhead(family, false) + 1, true, 0);
	bpfrun_expect_verdict(&r, "oversize, ICMP off", p.data, p.len, XDP_DROP,
			      XLB_CNT_DROP_TOO_BIG);
}

Test(icmp, mtu_drop_v4)
{
	mtu_drop_case(4);
}

Test(icmp, mtu_drop_v6)
{
	mtu_drop_case(6);
}
