/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Backend choice: hash modes, wildcard-port VIPs, and 10,000 random flows
 * whose backend the program picks == the one user space computes. */
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include <criterion/criterion.h>

#include "bpfrun.h"
#include "maglev.h"
#include "pkt.h"
#include "xlb_hash.h"

#define RING 251
#define NBE 8 /* backends per VIP in the hash-mode tests */
#define BE_BASE 20 /* their ids: BE_BASE .. BE_BASE + NBE - 1 */

static const uint8_t MYMAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t RMAC[6] = { 0x02, 0, 0, 0, 0xaa, 0x01 };
static const struct xlb_cfg CFG = {
	.gw_mac = { 0x02, 0, 0, 0, 0, 0x01 },
	.if_mac = { 0x02, 0, 0, 0, 0, 0x02 },
	.mtu = 1500,
};

static struct bpfrun r;

static void teardown(void)
{
	bpfrun_close(&r);
}

/* NBE backends of @family at 10.0.1.<id> / fd00::1:<id>. */
static void add_backends(int family, uint32_t base)
{
	uint32_t i;

	for (i = 0; i < NBE; i++) {
		char a[64];
		struct xlb_backend b;

		if (family == 4)
			snprintf(a, sizeof(a), "10.0.1.%u", base + i);
		else
			snprintf(a, sizeof(a), "fd00::1:%x", base + i);
		b = bpfrun_backend(a, 1, XLB_BE_F_IN_USE | XLB_BE_F_LIVE);
		bpfrun_set_backend(&r, base + i, &b);
	}
}

/* One VIP (id 1) on @addr port @port (0 = all) with NBE backends spread
 * over the ring; returns nothing, fails on setup errors. */
static void one_vip(const char *addr, uint16_t port, uint8_t proto,
		    uint8_t mode)
{
	struct xlb_vip_key k = bpfrun_vip_key(addr, port, proto);
	struct xlb_vip v = { .vip_id = 1, .hash_mode = mode };
	uint32_t ids[NBE], i;

	bpfrun_open(&r, RING);
	bpfrun_set_cfg(&r, &CFG);
	add_backends(k.family == XLB_FAMILY_V4 ? 4 : 6, BE_BASE);
	for (i = 0; i < NBE; i++)
		ids[i] = BE_BASE + (i * 3) % NBE; /* not in id order */
	bpfrun_add_vip(&r, &k, &v, 0);
	bpfrun_fill_ring(&r, 1, ids, NBE);
}

TestSuite(hash, .fini = teardown);

static void flow_pkt(struct pkt *p, int family, const char *src,
		     const char *dst, uint8_t proto, uint16_t sport,
		     uint16_t dport)
{
	struct pkt_simple s = { .family = family, .proto = proto };

	memcpy(s.dmac, MYMAC, 6);
	memcpy(s.smac, RMAC, 6);
	pkt_addr(src, s.src);
	pkt_addr(dst, s.dst);
	s.sport = sport;
	s.dport = dport;
	s.payload = 10;
	pkt_simple(p, &s);
}

/* Send @p, check the exact bytes against the model, and return the
 * outer destination's last byte (the backend id in these tests). */
static uint32_t backend_of(struct pkt *p, int be_family)
{
	uint8_t out[PKT_MAX];
	struct pkt_view v;
	size_t n;

	bpfrun_expect_fwd(&r, "flow", p->data, p->len, UINT32_MAX, XLB_CNT_TX);
	n = bpfrun_expect(&r, "flow again", p->data, p->len, XDP_TX, NULL, 0,
			  out);
	cr_assert(pkt_parse(out, n, &v) && v.family == be_family);
	/* outer dst: IPv4 at +16 (4 bytes), IPv6 at +24 (16 bytes) */
	return be_family == 4 ? out[v.l3_off + 19] : out[v.l3_off + 39];
}

/**
 * mode_case - flows that differ only in what the hash mode ignores must
 * land on one backend; flows that differ in what it uses must spread
 * (over 64 flows, more than one backend), so the test can fail both ways.
 */
static void mode_case(int family, uint8_t mode)
{
	const char *vip = family == 4 ? "192.0.2.1" : "2001:db8::1";
	char src[64];
	uint32_t first = 0, be;
	int i, spread = 0;
	struct pkt p;

	one_vip(vip, 0, IPPROTO_TCP, mode);
	/* vary what the mode ignores */
	for (i = 0; i < 64; i++) {
		uint16_t sport = 40000, dport = 80;

		if (mode == XLB_HASH_SRC_IP) {
			sport = (uint16_t)(1024 + i * 997);
			dport = (uint16_t)(1 + i * 31);
		} else if (mode == XLB_HASH_SRC_IP_PORT) {
			dport = (uint16_t)(1 + i * 31);
		} else {
			break; /* 5-tuple ignores nothing */
		}
		flow_pkt(&p, family,
			 family == 4 ? "198.51.100.7" : "2001:db8::7", vip,
			 IPPROTO_TCP, sport, dport);
		be = backend_of(&p, family);
		if (i == 0)
			first = be;
		cr_assert_eq(
			be, first,
			"hash mode %u: flow %d (sport %u dport %u) went to "
			"backend %u, flow 0 to %u; the mode must ignore "
			"what differs",
			mode, i, sport, dport, be, first);
	}
	/* vary what the mode uses */
	for (i = 0; i < 64; i++) {
		uint16_t sport = 40000;

		if (family == 4)
			snprintf(src, sizeof(src), "198.51.100.%d", 10 + i);
		else
			snprintf(src, sizeof(src), "2001:db8::%x", 0x100 + i);
		if (mode == XLB_HASH_SRC_IP_PORT || mode == XLB_HASH_5TUPLE) {
			/* keep the address, vary the port */
			snprintf(src, sizeof(src), "%s",
				 family == 4 ? "198.51.100.7" : "2001:db8::7");
			sport = (uint16_t)(1024 + i * 997);
		}
		flow_pkt(&p, family, src, vip, IPPROTO_TCP, sport, 80);
		be = backend_of(&p, family);
		if (i == 0)
			first = be;
		else if (be != first)
			spread = 1;
	}
	cr_assert(spread,
		  "hash mode %u: 64 flows differing in hashed fields all went "
		  "to backend %u",
		  mode, first);
}

Test(hash, mode_5tuple_v4)
{
	mode_case(4, XLB_HASH_5TUPLE);
}

Test(hash, mode_5tuple_v6)
{
	mode_case(6, XLB_HASH_5TUPLE);
}

Test(hash, mode_src_ip_v4)
{
	mode_case(4, XLB_HASH_SRC_IP);
}

Test(hash, mode_src_ip_v6)
{
	mode_case(6, XLB_HASH_SRC_IP);
}

Test(hash, mode_src_ip_port_v4)
{
	mode_case(4, XLB_HASH_SRC_IP_PORT);
}

Test(hash, mode_src_ip_port_v6)
{
	mode_case(6, XLB_HASH_SRC_IP_PORT);
}

/* In 5-tuple mode the destination port is hashed too. */
static void dport_matters(int family)
{
	const char *vip = family == 4 ? "192.0.2.1" : "2001:db8::1";
	const char *cli = family == 4 ? "198.51.100.7" : "2001:db8::7";
	uint32_t first = 0, be;
	int i, spread = 0;
	struct pkt p;

	one_vip(vip, 0, IPPROTO_UDP, XLB_HASH_5TUPLE);
	for (i = 0; i < 64; i++) {
		flow_pkt(&p, family, cli, vip, IPPROTO_UDP, 5000,
			 (uint16_t)(1 + i * 31));
		be = backend_of(&p, family);
		if (i == 0)
			first = be;
		else if (be != first)
			spread = 1;
	}
	cr_assert(spread, "5-tuple: 64 destination ports, one backend");
}

Test(hash, mode_5tuple_dport_hashed_v4)
{
	dport_matters(4);
}

Test(hash, mode_5tuple_dport_hashed_v6)
{
	dport_matters(6);
}

/* ---- Wildcard port ------------------------------------------------------- */

/**
 * wildcard_case - VIP A on port 0 (every port) and VIP B on port 443 of
 * the same address: 443 goes to B's backends, any other port to A's, UDP
 * to neither (the wildcard is per protocol).
 */
static void wildcard_case(int family)
{
	const char *vip = family == 4 ? "192.0.2.1" : "2001:db8::1";
	const char *cli = family == 4 ? "198.51.100.7" : "2001:db8::7";
	struct xlb_vip_key ka = bpfrun_vip_key(vip, 0, IPPROTO_TCP);
	struct xlb_vip_key kb = bpfrun_vip_key(vip, 443, IPPROTO_TCP);
	struct xlb_vip va = { .vip_id = 1 }, vb = { .vip_id = 2 };
	uint32_t a = 20, b = 30;
	uint16_t port;
	struct pkt p;

	bpfrun_open(&r, RING);
	bpfrun_set_cfg(&r, &CFG);
	add_backends(family, 20);
	add_backends(family, 30);
	bpfrun_add_vip(&r, &ka, &va, 0);
	bpfrun_add_vip(&r, &kb, &vb, 0);
	bpfrun_fill_ring(&r, 1, &a, 1);
	bpfrun_fill_ring(&r, 2, &b, 1);

	for (port = 1; port < 65535 - 5000; port += 4999) {
		flow_pkt(&p, family, cli, vip, IPPROTO_TCP, 40000, port);
		bpfrun_expect_fwd(&r, "wildcard VIP", p.data, p.len,
				  port == 443 ? b : a, XLB_CNT_TX);
	}
	flow_pkt(&p, family, cli, vip, IPPROTO_TCP, 40000, 443);
	bpfrun_expect_fwd(&r, "exact VIP beats wildcard", p.data, p.len, b,
			  XLB_CNT_TX);
	flow_pkt(&p, family, cli, vip, IPPROTO_UDP, 40000, 443);
	bpfrun_expect_verdict(&r, "UDP to a TCP-only wildcard VIP", p.data,
			      p.len, XDP_PASS, XLB_CNT_PASS_VIP_OTHER);

	/* without the wildcard, other ports are not ours */
	bpfrun_del_vip(&r, &ka);
	flow_pkt(&p, family, cli, vip, IPPROTO_TCP, 40000, 8080);
	bpfrun_expect_verdict(&r, "port without a VIP", p.data, p.len, XDP_PASS,
			      XLB_CNT_PASS_VIP_OTHER);
}

Test(hash, wildcard_port_v4)
{
	wildcard_case(4);
}

Test(hash, wildcard_port_v6)
{
	wildcard_case(6);
}

/* ---- VIP index: keys that share a home slot ------------------------------ */

/* VIPs whose index keys collide are all found by the BPF look-up (which
 * compares the whole key, port and protocol included), a key past the
 * probe run is not, and removing the VIP at the home slot leaves the
 * others reachable. */
static void index_case(int family)
{
	const char *vip = family == 4 ? "192.0.2.1" : "2001:db8::1";
	const char *cli = family == 4 ? "198.51.100.7" : "2001:db8::7";
	struct xlb_vip_key keys[XLB_VIP_INDEX_PROBES + 1];
	uint16_t ports[XLB_VIP_INDEX_PROBES + 1];
	struct xlb_vip_key k;
	struct pkt p;
	uint32_t i;

	bpfrun_same_home_keys(vip, IPPROTO_TCP, keys, XLB_VIP_INDEX_PROBES + 1);
	for (i = 0; i < XLB_VIP_INDEX_PROBES + 1; i++)
		ports[i] = ntohs(keys[i].port);
	bpfrun_open(&r, RING);
	bpfrun_set_cfg(&r, &CFG);
	add_backends(family, BE_BASE);
	for (i = 0; i < XLB_VIP_INDEX_PROBES; i++) {
		struct xlb_vip v = { .vip_id = i + 1 };
		uint32_t be = BE_BASE + i % NBE;

		k = bpfrun_vip_key(vip, ports[i], IPPROTO_TCP);
		bpfrun_add_vip(&r, &k, &v, 0);
		bpfrun_fill_ring(&r, i + 1, &be, 1);
	}
	for (i = 0; i < XLB_VIP_INDEX_PROBES; i++) {
		flow_pkt(&p, family, cli, vip, IPPROTO_TCP, 40000, ports[i]);
		bpfrun_expect_fwd(&r, "VIP past its home slot", p.data, p.len,
				  BE_BASE + i % NBE, XLB_CNT_TX);
		flow_pkt(&p, family, cli, vip, IPPROTO_UDP, 40000, ports[i]);
		bpfrun_expect_verdict(&r, "same port, other protocol", p.data,
				      p.len, XDP_PASS, XLB_CNT_PASS_VIP_OTHER);
	}
	flow_pkt(&p, family, cli, vip, IPPROTO_TCP, 40000,
		 ports[XLB_VIP_INDEX_PROBES]);
	bpfrun_expect_verdict(&r, "same home, no VIP", p.data, p.len, XDP_PASS,
			      XLB_CNT_PASS_VIP_OTHER);

	k = bpfrun_vip_key(vip, ports[0], IPPROTO_TCP);
	bpfrun_del_vip(&r, &k);
	flow_pkt(&p, family, cli, vip, IPPROTO_TCP, 40000, ports[0]);
	bpfrun_expect_verdict(&r, "removed VIP", p.data, p.len, XDP_PASS,
			      XLB_CNT_PASS_VIP_OTHER);
	for (i = 1; i < XLB_VIP_INDEX_PROBES; i++) {
		flow_pkt(&p, family, cli, vip, IPPROTO_TCP, 40001, ports[i]);
		bpfrun_expect_fwd(&r, "VIP after a removal", p.data, p.len,
				  BE_BASE + i % NBE, XLB_CNT_TX);
	}
}

Test(hash, vip_index_shared_home_v4)
{
	index_case(4);
}

Test(hash, vip_index_shared_home_v6)
{
	index_case(6);
}

/* ---- Consistency: BPF vs user space over 10,000 random flows ------------ */

/* xorshift32: a fixed seed makes every run test the same flows. */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

#define NFLOWS 10000
#define CONS_RING 65537

struct cons_vip {
	const char *addr;
	uint16_t port;
	uint8_t proto;
	uint8_t mode;
	int be_family;
};

/* Mixed families, protocols, hash modes and a wildcard; rings built by the
 * real Maglev code from lib/, as the control plane builds them. */
static const struct cons_vip CV[] = {
	{ "192.0.2.1", 80, IPPROTO_TCP, XLB_HASH_5TUPLE, 4 },
	{ "192.0.2.1", 53, IPPROTO_UDP, XLB_HASH_SRC_IP, 6 },
	{ "2001:db8::1", 443, IPPROTO_TCP, XLB_HASH_SRC_IP_PORT, 6 },
	{ "2001:db8::1", 0, IPPROTO_UDP, XLB_HASH_5TUPLE, 4 },
};

Test(hash, consistency_10000_flows, .timeout = 300)
{
	uint32_t seed = 0x5eed1234, nvip = sizeof(CV) / sizeof(CV[0]);
	struct xlb_maglev_backend mb[NBE];
	uint32_t *table, v, i, id;
	uint8_t out[PKT_MAX];
	unsigned int hits[sizeof(CV) / sizeof(CV[0])][NBE] = { { 0 } };

	bpfrun_open(&r, CONS_RING);
	bpfrun_set_cfg(&r, &CFG);
	table = calloc(CONS_RING, sizeof(*table));
	cr_assert(table);
	for (v = 0; v < nvip; v++) {
		struct xlb_vip_key k =
			bpfrun_vip_key(CV[v].addr, CV[v].port, CV[v].proto);
		struct xlb_vip vip = { .vip_id = v, .hash_mode = CV[v].mode };
		uint32_t base = 100 + v * NBE;

		add_backends(CV[v].be_family, base);
		for (i = 0; i < NBE; i++) {
			struct xlb_backend b;

			bpfrun_get_backend(&r, base + i, &b);
			mb[i].addr.family = b.family;
			memcpy(mb[i].addr.a, b.addr, 16);
			mb[i].id = base + i;
			mb[i].weight = (uint16_t)(100 + i * 10);
		}
		cr_assert_eq(xlb_maglev_build(mb, NBE, table, CONS_RING), 0);
		bpfrun_add_vip(&r, &k, &vip, 0);
		bpfrun_set_ring(&r, v, table);
	}
	free(table);

	for (i = 0; i < NFLOWS; i++) {
		const struct cons_vip *c = &CV[rnd(&seed) % nvip];
		int fam = strchr(c->addr, ':') ? 6 : 4;
		struct xlb_backend be;
		struct xlb_flow_key f;
		struct xlb_vip vip;
		struct pkt_simple s = { .family = fam, .proto = c->proto };
		struct pkt_view pv;
		struct pkt p;
		size_t n, alen = c->be_family == 4 ? 4 : 16;
		int act;

		memcpy(s.dmac, MYMAC, 6);
		memcpy(s.smac, RMAC, 6);
		pkt_addr(c->addr, s.dst);
		if (fam == 4) {
			pkt_put32(s.src, rnd(&seed));
		} else {
			s.src[0] = 0x20;
			s.src[1] = 0x01;
			pkt_put32(s.src + 4, rnd(&seed));
			pkt_put32(s.src + 12, rnd(&seed));
		}
		s.sport = (uint16_t)(1024 + rnd(&seed) % 64000);
		s.dport =
			c->port ? c->port : (uint16_t)(1 + rnd(&seed) % 65535);
		s.payload = rnd(&seed) % 32;
		pkt_simple(&p, &s);

		bpfrun_flow_of(&s, &f);
		cr_assert(bpfrun_model(&r, &f, &vip, &id, &be),
			  "flow %u: user space finds no VIP", i);
		act = bpfrun_run(&r, p.data, p.len, out, &n);
		cr_assert_eq(act, XDP_TX, "flow %u: verdict %s", i,
			     bpfrun_action_name(act));
		cr_assert(pkt_parse(out, n, &pv) && pv.family == c->be_family);
		cr_assert(!memcmp(out + pv.l3_off + (alen == 4 ? 16 : 24),
				  be.addr, alen),
			  "flow %u (VIP %s port %u, hash mode %u): the program "
			  "sent it to another backend than user space "
			  "computed (id %u, hash %08x, slot %u)",
			  i, c->addr, s.dport, c->mode, id,
			  xlb_flow_hash(&f, c->mode),
			  xlb_flow_hash(&f, c->mode) % CONS_RING);
		hits[c - CV][id - (100 + (c - CV) * NBE)]++;
	}
	/* every backend of every VIP was chosen: the test saw the spread */
	for (v = 0; v < nvip; v++)
		for (i = 0; i < NBE; i++)
			cr_assert(hits[v][i] > 0,
				  "VIP %u backend %u never chosen in %d flows",
				  v, i, NFLOWS);
}
