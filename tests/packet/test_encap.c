/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Encapsulation toward a backend, one test per outer/inner family pair and
 * GUE variant: verdict, every outer field, inner packet byte for byte. */
#include <string.h>

#include <arpa/inet.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include <criterion/criterion.h>

#include "bpfrun.h"
#include "pkt.h"

/* A small prime ring keeps loads fast; the datapath indexes hash % 251. */
#define RING 251
#define VIP_ID 3
#define BE_ID 7

static struct bpfrun r;
static struct xlb_cfg cfg = {
	.gw_mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
	.if_mac = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 },
	.mtu = 1500,
};

static void setup(void)
{
	bpfrun_open(&r, RING);
	bpfrun_set_cfg(&r, &cfg);
}

static void teardown(void)
{
	bpfrun_close(&r);
}

TestSuite(encap, .init = setup, .fini = teardown);

/* The client's frame: Ethernet from the router to us. */
static void client_pkt(struct pkt_simple *s, const char *client,
		       const char *vip, uint8_t proto)
{
	static const uint8_t rmac[6] = { 0x02, 0, 0, 0, 0xaa, 0x01 };
	static const uint8_t mymac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

	memset(s, 0, sizeof(*s));
	memcpy(s->dmac, mymac, 6);
	memcpy(s->smac, rmac, 6);
	s->family = pkt_addr(client, s->src);
	cr_assert_eq(pkt_addr(vip, s->dst), s->family);
	s->proto = proto;
	s->sport = 40001;
	s->dport = 80;
	s->payload = 100;
}

/**
 * check_encap - one VIP, one backend, one packet: XDP_TX, the exact bytes
 * @vip:      VIP address (port 80 of @proto)
 * @encap:    XLB_ENCAP_* of the VIP
 * @gue_port: VIP's GUE port (host order), with XLB_ENCAP_GUE
 * @be_addr:  backend address
 * @be_flags: extra backend flags (XLB_BE_F_GUE)
 * @s:        the client packet (already set up by client_pkt)
 */
static void check_encap(const char *what, uint8_t encap, uint16_t gue_port,
			const char *be_addr, uint8_t be_flags,
			const struct pkt_simple *s)
{
	char vip_addr[INET6_ADDRSTRLEN];
	struct xlb_vip_key k;
	struct xlb_vip v = { .vip_id = VIP_ID,
			     .encap = encap,
			     .gue_port = htons(gue_port) };
	struct xlb_backend be = bpfrun_backend(
		be_addr, 1, XLB_BE_F_IN_USE | XLB_BE_F_LIVE | be_flags);
	uint64_t before[XLB_CNT_MAX], after[XLB_CNT_MAX];
	static const unsigned int tx[] = { XLB_CNT_TX, XLB_CNT_MAX };
	struct xlb_flow_key f;
	struct pkt_outer o;
	struct pkt in, want;
	uint8_t out[PKT_MAX];
	uint32_t id = BE_ID;
	size_t n;

	inet_ntop(s->family == 4 ? AF_INET : AF_INET6, s->dst, vip_addr,
		  sizeof(vip_addr));
	k = bpfrun_vip_key(vip_addr, s->dport, s->proto);
	bpfrun_add_vip(&r, &k, &v, 0);
	bpfrun_set_backend(&r, BE_ID, &be);
	bpfrun_fill_ring(&r, VIP_ID, &id, 1);

	pkt_simple(&in, s);
	bpfrun_flow_of(s, &f);
	bpfrun_outer(&o, in.data, in.len, &cfg, &v, &be, &f);
	pkt_encap(&want, in.data, in.len, &o);

	bpfrun_counters(&r, before);
	n = bpfrun_expect(&r, what, in.data, in.len, XDP_TX, want.data,
			  want.len, out);
	pkt_assert_outer(out, n, in.data, in.len, &o);
	bpfrun_counters(&r, after);
	bpfrun_assert_counted(what, before, after, tx);
}

Test(encap, ipip)
{
	struct pkt_simple s;

	client_pkt(&s, "198.51.100.10", "192.0.2.1", IPPROTO_TCP);
	check_encap("IPv4 in IPv4", XLB_ENCAP_IPIP, 0, "10.0.0.2", 0, &s);
}

Test(encap, ip6ip6)
{
	struct pkt_simple s;

	client_pkt(&s, "2001:db8:c::10", "2001:db8::1", IPPROTO_TCP);
	check_encap("IPv6 in IPv6", XLB_ENCAP_IPIP, 0, "fd00::2", 0, &s);
}

Test(encap, ip4in6)
{
	struct pkt_simple s;

	client_pkt(&s, "198.51.100.10", "192.0.2.1", IPPROTO_UDP);
	check_encap("IPv4 in IPv6", XLB_ENCAP_IPIP, 0, "fd00::2", 0, &s);
}

Test(encap, ip6in4)
{
	struct pkt_simple s;

	client_pkt(&s, "2001:db8:c::10", "2001:db8::1", IPPROTO_UDP);
	check_encap("IPv6 in IPv4", XLB_ENCAP_IPIP, 0, "10.0.0.2", 0, &s);
}

Test(encap, gue_v4)
{
	struct pkt_simple s;

	client_pkt(&s, "198.51.100.10", "192.0.2.1", IPPROTO_TCP);
	check_encap("GUE IPv4 in IPv4", XLB_ENCAP_GUE, 9999, "10.0.0.2", 0, &s);
}

Test(encap, gue_v6)
{
	struct pkt_simple s;

	client_pkt(&s, "2001:db8:c::10", "2001:db8::1", IPPROTO_TCP);
	check_encap("GUE IPv6 in IPv6", XLB_ENCAP_GUE, 9999, "fd00::2", 0, &s);
}

Test(encap, gue_4in6)
{
	struct pkt_simple s;

	client_pkt(&s, "198.51.100.10", "192.0.2.1", IPPROTO_UDP);
	check_encap("GUE IPv4 in IPv6", XLB_ENCAP_GUE, 7777, "fd00::2", 0, &s);
}

Test(encap, gue_6in4)
{
	struct pkt_simple s;

	client_pkt(&s, "2001:db8:c::10", "2001:db8::1", IPPROTO_UDP);
	check_encap("GUE IPv6 in IPv4", XLB_ENCAP_GUE, 7777, "10.0.0.2", 0, &s);
}

/* An IPIP VIP whose backend asks for GUE gets the default GUE port. */
Test(encap, gue_backend_flag_v4)
{
	struct pkt_simple s;

	client_pkt(&s, "198.51.100.10", "192.0.2.1", IPPROTO_TCP);
	check_encap("backend GUE flag, IPv4", XLB_ENCAP_IPIP, 0, "10.0.0.2",
		    XLB_BE_F_GUE, &s);
}

Test(encap, gue_backend_flag_v6)
{
	struct pkt_simple s;

	client_pkt(&s, "2001:db8:c::10", "2001:db8::1", IPPROTO_TCP);
	check_encap("backend GUE flag, IPv6", XLB_ENCAP_IPIP, 0, "fd00::2",
		    XLB_BE_F_GUE, &s);
}

/* TOS / traffic class (DSCP and ECN) of the inner packet is copied. */
Test(encap, tos_copied_v4)
{
	struct pkt_simple s;

	client_pkt(&s, "198.51.100.10", "192.0.2.1", IPPROTO_TCP);
	s.tos = 0xb9; /* EF + ECT(1) */
	check_encap("TOS copied, IPv4", XLB_ENCAP_IPIP, 0, "10.0.0.2", 0, &s);
}

Test(encap, tos_copied_v6)
{
	struct pkt_simple s;

	client_pkt(&s, "2001:db8:c::10", "2001:db8::1", IPPROTO_TCP);
	s.tos = 0xb9;
	check_encap("traffic class copied, IPv6", XLB_ENCAP_IPIP, 0, "fd00::2",
		    0, &s);
}

Test(encap, tos_copied_6in4)
{
	struct pkt_simple s;

	client_pkt(&s, "2001:db8:c::10", "2001:db8::1", IPPROTO_TCP);
	s.tos = 0x2a;
	check_encap("traffic class to TOS, 6in4", XLB_ENCAP_IPIP, 0, "10.0.0.2",
		    0, &s);
}

/* A configured encap source replaces the derived one. */
Test(encap, configured_src4)
{
	struct pkt_simple s;

	cfg.flags = XLB_CFG_F_SRC4;
	cfg.src4 = htonl(0x0a000001); /* 10.0.0.1 */
	bpfrun_set_cfg(&r, &cfg);
	client_pkt(&s, "198.51.100.10", "192.0.2.1", IPPROTO_TCP);
	check_encap("configured IPv4 source", XLB_ENCAP_IPIP, 0, "10.0.0.2", 0,
		    &s);
}

Test(encap, configured_src6)
{
	struct pkt_simple s;

	cfg.flags = XLB_CFG_F_SRC6;
	pkt_addr("fd00::1", (uint8_t *)cfg.src6);
	bpfrun_set_cfg(&r, &cfg);
	client_pkt(&s, "2001:db8:c::10", "2001:db8::1", IPPROTO_TCP);
	check_encap("configured IPv6 source", XLB_ENCAP_IPIP, 0, "fd00::2", 0,
		    &s);
}

/* The derived source depends on the flow (xlb_flow_entropy): two flows of
 * one VIP get different outer sources (else a backend NIC's RSS sees one
 * flow). */
Test(encap, derived_src_differs_per_flow)
{
	struct pkt_simple s;
	uint8_t out1[PKT_MAX], out2[PKT_MAX];
	struct pkt in;
	size_t n1, n2;

	client_pkt(&s, "198.51.100.10", "192.0.2.1", IPPROTO_TCP);
	check_encap("first flow", XLB_ENCAP_IPIP, 0, "10.0.0.2", 0, &s);
	pkt_simple(&in, &s);
	n1 = bpfrun_expect(&r, "first flow again", in.data, in.len, XDP_TX,
			   NULL, 0, out1);
	s.sport++;
	pkt_simple(&in, &s);
	n2 = bpfrun_expect(&r, "second flow", in.data, in.len, XDP_TX, NULL, 0,
			   out2);
	cr_assert(n1 > 34 && n2 > 34);
	cr_assert(memcmp(out1 + 26, out2 + 26, 4),
		  "two flows got the same derived outer source");
}

/* Frames shorter than 60 bytes arrive padded from real NICs: the outer
 * lengths come from the IP header, the padding stays behind the packet. */
Test(encap, ethernet_padding_v4)
{
	struct pkt_simple s;
	struct xlb_vip_key k = bpfrun_vip_key("192.0.2.1", 80, IPPROTO_TCP);
	struct xlb_vip v = { .vip_id = VIP_ID };
	struct xlb_backend be =
		bpfrun_backend("10.0.0.2", 1, XLB_BE_F_IN_USE | XLB_BE_F_LIVE);
	struct xlb_flow_key f;
	struct pkt_outer o;
	struct pkt in, want;
	uint8_t out[PKT_MAX];
	uint32_t id = BE_ID;
	size_t n;

	bpfrun_add_vip(&r, &k, &v, 0);
	bpfrun_set_backend(&r, BE_ID, &be);
	bpfrun_fill_ring(&r, VIP_ID, &id, 1);
	client_pkt(&s, "198.51.100.10", "192.0.2.1", IPPROTO_TCP);
	s.payload = 0; /* a bare ACK: 54 bytes */
	pkt_simple(&in, &s);
	cr_assert_eq(in.len, 54);
	memset(in.data + in.len, 0, 6);
	in.len = 60;
	bpfrun_flow_of(&s, &f);
	bpfrun_outer(&o, in.data, in.len, &cfg, &v, &be, &f);
	pkt_encap(&want, in.data, in.len, &o);
	n = bpfrun_expect(&r, "padded bare ACK", in.data, in.len, XDP_TX,
			  want.data, want.len, out);
	pkt_assert_outer(out, n, in.data, in.len, &o);
}

/* Per-VIP and per-backend counters count packets and frame bytes. */
Test(encap, vip_and_backend_counters)
{
	struct pkt_simple s;
	struct xlb_vip_stats vs;
	struct xlb_be_stats bs;
	struct pkt in;
	size_t i;

	client_pkt(&s, "2001:db8:c::10", "2001:db8::1", IPPROTO_UDP);
	check_encap("first packet", XLB_ENCAP_IPIP, 0, "fd00::2", 0, &s);
	pkt_simple(&in, &s);
	for (i = 0; i < 4; i++)
		bpfrun_expect(&r, "more packets", in.data, in.len, XDP_TX, NULL,
			      0, NULL);
	bpfrun_vip_stats(&r, VIP_ID, &vs);
	bpfrun_be_stats(&r, BE_ID, &bs);
	cr_assert_eq(vs.packets, 5, "VIP packets %llu, want 5",
		     (unsigned long long)vs.packets);
	cr_assert_eq(vs.bytes, 5 * in.len, "VIP bytes %llu, want %zu",
		     (unsigned long long)vs.bytes, 5 * in.len);
	cr_assert_eq(bs.packets, 5, "backend packets %llu, want 5",
		     (unsigned long long)bs.packets);
	cr_assert_eq(bs.bytes, 5 * in.len, "backend bytes %llu, want %zu",
		     (unsigned long long)bs.bytes, 5 * in.len);
}
