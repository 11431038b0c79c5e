/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The backend decapsulator (xdp/decap.bpf.c) through BPF_PROG_TEST_RUN:
 * every encapsulation xlb produces comes out as the exact inner frame,
 * everything else passes untouched, and each case hits its counter. */
#include <errno.h>
#include <string.h>

#include <arpa/inet.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <criterion/criterion.h>

#include "decap_abi.h"
#include "log.h"
#include "pkt.h"
#include "xlb_abi.h"

static const uint8_t rmac[6] = { 0x02, 0, 0, 0, 0x21, 0x01 }; /* router */
static const uint8_t bmac[6] = { 0x02, 0, 0, 0, 0x21, 0x02 }; /* backend */

/* The object opened from the build directory at run time (not through a
 * skeleton, so this file builds whether or not decap.skel.h exists yet). */
static struct {
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *stats, *gue_ports, *local;
} d;

/* An IPv4 address in network order, for struct pkt_ip4. */
static uint32_t addr4(const char *s)
{
	uint8_t b[16];
	uint32_t v;

	cr_assert_eq(pkt_addr(s, b), 4, "bad IPv4 address %s", s);
	memcpy(&v, b, 4);
	return v;
}

/* Set the load-time setting @name (a const volatile global of @size bytes
 * in .rodata, found through the object's BTF) to @val before load. */
static void rodata_set(const char *name, const void *val, size_t size)
{
	struct btf *btf = bpf_object__btf(d.obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	struct bpf_map *m, *ro = NULL;
	char buf[256];
	const void *data;
	size_t sz = 0;
	int id;

	bpf_object__for_each_map(m, d.obj)
	{
		const char *n = bpf_map__name(m);
		size_t l = strlen(n);

		if (bpf_map__is_internal(m) && l >= 7 &&
		    !strcmp(n + l - 7, ".rodata"))
			ro = m;
	}
	cr_assert(btf && ro, "decap.bpf.o has no BTF or no .rodata");
	data = bpf_map__initial_value(ro, &sz);
	cr_assert(data && sz <= sizeof(buf),
		  "decap.bpf.o: .rodata of %zu bytes", sz);
	memcpy(buf, data, sz);
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	cr_assert_gt(id, 0, "decap.bpf.o: no .rodata section in its BTF");
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *v = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, v->name_off), name))
			continue;
		cr_assert_eq(vs->size, size, "%s: %u bytes, expected %zu", name,
			     vs->size, size);
		cr_assert_leq(vs->offset + size, sz);
		memcpy(buf + vs->offset, val, size);
		cr_assert_eq(bpf_map__set_initial_value(ro, buf, sz), 0,
			     "cannot set %s", name);
		return;
	}
	cr_assert_fail("decap.bpf.o: no setting '%s' in .rodata", name);
}

/* Open and load the object; @gue_port 0 keeps the default, @only_local
 * restricts decapsulation to decap_local. */
static void load(uint16_t gue_port, uint8_t only_local)
{
	const char *path = XLB_BPF_DIR "/decap.bpf.o";
	int err;

	xlb_log_init("test_decap", false);
	d.obj = bpf_object__open_file(path, NULL);
	cr_assert_not_null(d.obj,
			   "cannot open %s: %s (build the project first)", path,
			   strerror(errno));
	if (gue_port)
		rodata_set("gue_port", &gue_port, sizeof(gue_port));
	rodata_set("only_local", &only_local, sizeof(only_local));
	err = bpf_object__load(d.obj);
	cr_assert_eq(err, 0, "cannot load %s: %s (run as root with bpffs)",
		     path, strerror(-err));
	d.prog = bpf_object__find_program_by_name(d.obj, "xlb_decap");
	d.stats = bpf_object__find_map_by_name(d.obj, "decap_stats");
	d.gue_ports = bpf_object__find_map_by_name(d.obj, "decap_gue_ports");
	d.local = bpf_object__find_map_by_name(d.obj, "decap_local");
	cr_assert(d.prog && d.stats && d.gue_ports && d.local,
		  "%s lacks the program xlb_decap or one of its maps", path);
}

static void setup(void)
{
	load(0, 0);
}

static void teardown(void)
{
	bpf_object__close(d.obj);
	memset(&d, 0, sizeof(d));
}

TestSuite(decap, .fini = teardown);

static uint64_t counter(unsigned int idx)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[ncpu], sum = 0;
	int err;

	err = bpf_map__lookup_elem(d.stats, &idx, sizeof(idx), v, sizeof(v), 0);
	cr_assert_eq(err, 0, "reading decap_stats[%u]: %s", idx,
		     strerror(-err));
	for (int i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

/**
 * run - run @in once; assert the verdict is XDP_PASS, the output equals
 * @want (or @in when @want is NULL) and counter @cnt grew by exactly one.
 */
static void run(const char *what, const struct pkt *in, const struct pkt *want,
		unsigned int cnt)
{
	uint8_t out[PKT_MAX];
	const uint8_t *w = want ? want->data : in->data;
	size_t wlen = want ? want->len : in->len;
	uint64_t before[DECAP_CNT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in->data,
		    .data_size_in = in->len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);
	int err;

	for (unsigned int i = 0; i < DECAP_CNT_MAX; i++)
		before[i] = counter(i);
	err = bpf_prog_test_run_opts(bpf_program__fd(d.prog), &opts);
	cr_assert_eq(err, 0, "%s: test run failed: %s", what, strerror(-err));
	cr_assert_eq(opts.retval, XDP_PASS, "%s: verdict %u, want XDP_PASS",
		     what, opts.retval);
	if (opts.data_size_out != wlen || memcmp(out, w, wlen)) {
		pkt_hexdiff(stderr, out, opts.data_size_out, w, wlen);
		cr_assert_fail("%s: output differs from the %s (diff above)",
			       what, want ? "inner frame" : "input");
	}
	for (unsigned int i = 0; i < DECAP_CNT_MAX; i++)
		cr_assert_eq(counter(i) - before[i], i == cnt ? 1 : 0,
			     "%s: counter %u grew by %llu", what, i,
			     (unsigned long long)(counter(i) - before[i]));
}

/* A client's packet as the backend's stack must see it: the outer frame's
 * MACs (router -> backend), any VLAN tags, the client's IP packet with
 * TOS / traffic class @tos. */
static void inner_tos(struct pkt *p, int family, uint8_t proto, int nvlan,
		      uint8_t tos)
{
	struct pkt_simple s = { .family = family,
				.proto = proto,
				.sport = 40001,
				.dport = 80,
				.payload = 200,
				.tos = tos };

	memcpy(s.dmac, bmac, 6);
	memcpy(s.smac, rmac, 6);
	pkt_addr(family == 4 ? "10.100.1.2" : "fd00:100:1::2", s.src);
	pkt_addr(family == 4 ? "10.0.0.10" : "fd00:a::10", s.dst);
	s.nvlan = nvlan;
	for (int i = 0; i < nvlan; i++) {
		s.vlan_tpid[i] = i == 0 && nvlan == 2 ? 0x88a8 : 0x8100;
		s.vlan_tci[i] = 100 + i;
	}
	pkt_simple(p, &s);
}

static void inner(struct pkt *p, int family, uint8_t proto, int nvlan)
{
	inner_tos(p, family, proto, nvlan, 0x10);
}

/* What xlb sends toward a backend of @family: outer from a derived
 * source, optionally UDP to @gue_dport. */
static void outer(struct pkt_outer *o, int family, uint16_t gue_dport)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->dmac, bmac, 6);
	memcpy(o->smac, rmac, 6);
	o->family = family;
	pkt_addr(family == 4 ? "172.16.3.4" : "100::1234", o->src);
	pkt_addr(family == 4 ? "10.1.1.2" : "fd00:1:1::2", o->dst);
	o->frag = family == 4 ? 0x4000 : 0; /* DF, as xlb sets */
	o->flow = 0x12345;
	if (gue_dport) {
		o->udp = true;
		o->sport = 0xc123;
		o->dport = gue_dport;
	}
}

static void check(const char *what, int in_family, uint8_t proto,
		  int out_family, uint16_t gue_dport, int nvlan,
		  unsigned int cnt)
{
	static struct pkt in, enc;
	struct pkt_outer o;

	inner(&in, in_family, proto, nvlan);
	outer(&o, out_family, gue_dport);
	pkt_encap(&enc, in.data, in.len, &o);
	run(what, &enc, &in, cnt);
}

Test(decap, ipip, .init = setup)
{
	check("IPv4 TCP in IPv4", 4, 6, 4, 0, 0, DECAP_CNT_IPIP);
	check("IPv4 UDP in IPv4", 4, 17, 4, 0, 0, DECAP_CNT_IPIP);
}

Test(decap, ip6ip6, .init = setup)
{
	check("IPv6 TCP in IPv6", 6, 6, 6, 0, 0, DECAP_CNT_IP6IP6);
	check("IPv6 UDP in IPv6", 6, 17, 6, 0, 0, DECAP_CNT_IP6IP6);
}

Test(decap, four_in_six, .init = setup)
{
	check("IPv4 TCP in IPv6", 4, 6, 6, 0, 0, DECAP_CNT_4IN6);
}

Test(decap, six_in_four, .init = setup)
{
	check("IPv6 TCP in IPv4", 6, 6, 4, 0, 0, DECAP_CNT_6IN4);
}

Test(decap, gue, .init = setup)
{
	check("GUE: IPv4 in UDP/IPv4", 4, 6, 4, 6080, 0, DECAP_CNT_GUE4);
	check("GUE: IPv6 in UDP/IPv4", 6, 17, 4, 6080, 0, DECAP_CNT_GUE4);
	check("GUE: IPv4 in UDP/IPv6", 4, 17, 6, 6080, 0, DECAP_CNT_GUE6);
	check("GUE: IPv6 in UDP/IPv6", 6, 6, 6, 6080, 0, DECAP_CNT_GUE6);
}

/* RFC 6040 4.2 (normal mode), as Linux's tunnel devices do it: xlb copies
 * the inner ECN field into the outer header, routers on the way may mark
 * the outer one CE, and that mark must reach the inner header. */
Test(decap, ecn_congestion_marks_reach_the_inner_header, .init = setup)
{
	static const struct {
		uint8_t out, in, want;
		const char *what;
	} t[] = {
		{ 0x13, 0x12, 0x13, "CE over ECT(0)" },
		{ 0x13, 0x11, 0x13, "CE over ECT(1)" },
		{ 0x13, 0x13, 0x13, "CE over CE" },
		{ 0x12, 0x11, 0x11, "ECT(0) over ECT(1)" },
		{ 0x10, 0x12, 0x12, "Not-ECT over ECT(0)" },
		{ 0xbb, 0xba, 0xbb, "CE over ECT(0), DSCP 46" },
	};
	static const struct {
		int in, out;
		uint16_t gue;
		unsigned int cnt;
	} f[] = {
		{ 4, 4, 0, DECAP_CNT_IPIP },	{ 6, 6, 0, DECAP_CNT_IP6IP6 },
		{ 4, 6, 0, DECAP_CNT_4IN6 },	{ 6, 4, 0, DECAP_CNT_6IN4 },
		{ 4, 4, 6080, DECAP_CNT_GUE4 }, { 6, 6, 6080, DECAP_CNT_GUE6 },
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		for (size_t j = 0; j < sizeof(t) / sizeof(t[0]); j++) {
			static struct pkt in, want, enc;
			struct pkt_outer o;
			char what[96];

			snprintf(what, sizeof(what), "%s, IPv%d in IPv%d%s",
				 t[j].what, f[i].in, f[i].out,
				 f[i].gue ? " GUE" : "");
			inner_tos(&in, f[i].in, 6, 0, t[j].in);
			inner_tos(&want, f[i].in, 6, 0, t[j].want);
			outer(&o, f[i].out, f[i].gue);
			o.tos = t[j].out;
			pkt_encap(&enc, in.data, in.len, &o);
			run(what, &enc, &want, f[i].cnt);
		}
	}
}

/* RFC 6040 4.2: CE on the outer header of a packet whose sender did not
 * ask for ECN cannot be passed on, and the packet is dropped. */
Test(decap, ecn_ce_over_not_ect_is_dropped, .init = setup)
{
	static const int fam[][2] = { { 4, 4 }, { 6, 6 }, { 4, 6 }, { 6, 4 } };

	for (size_t i = 0; i < sizeof(fam) / sizeof(fam[0]); i++) {
		static struct pkt in, enc;
		uint8_t out[PKT_MAX];
		struct pkt_outer o;
		uint64_t before = counter(DECAP_CNT_DROP_CE_NOT_ECT);
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_out = out,
			    .data_size_out = sizeof(out), .repeat = 1);

		inner_tos(&in, fam[i][0], 6, 0, 0x10);
		outer(&o, fam[i][1], 0);
		o.tos = 0x13;
		pkt_encap(&enc, in.data, in.len, &o);
		opts.data_in = enc.data;
		opts.data_size_in = (__u32)enc.len;
		cr_assert_eq(
			bpf_prog_test_run_opts(bpf_program__fd(d.prog), &opts),
			0);
		cr_assert_eq(opts.retval, XDP_DROP,
			     "IPv%d in IPv%d: verdict %u", fam[i][0], fam[i][1],
			     opts.retval);
		cr_assert_eq(counter(DECAP_CNT_DROP_CE_NOT_ECT) - before, 1);
	}
}

Test(decap, vlan_tags_kept, .init = setup)
{
	check("IPIP, one 802.1Q tag", 4, 6, 4, 0, 1, DECAP_CNT_IPIP);
	check("IP6IP6, 802.1ad + 802.1Q", 6, 6, 6, 0, 2, DECAP_CNT_IP6IP6);
	check("GUE/IPv6, 802.1ad + 802.1Q", 4, 17, 6, 6080, 2, DECAP_CNT_GUE6);
}

/* An outer IPv4 header with options (IHL 6): all of it goes. */
Test(decap, ipip_outer_options, .init = setup)
{
	static const uint8_t nop4[4] = { 1, 1, 1, 0 }; /* NOP NOP NOP EOL */
	static struct pkt in, enc;
	struct pkt_ip4 ip = { .proto = 4, .opts = nop4, .opts_len = 4 };
	const struct pkt_layer *l3;

	inner(&in, 4, 6, 0);
	ip.src = addr4("172.16.0.1");
	ip.dst = addr4("10.1.1.2");
	pkt_init(&enc);
	pkt_eth(&enc, bmac, rmac, PKT_AUTO);
	pkt_ipv4(&enc, &ip);
	l3 = pkt_find(&in, PKT_L_IP4, 0);
	pkt_bytes(&enc, in.data + l3->off, in.len - l3->off);
	pkt_finish(&enc);
	cr_assert_eq(enc.data[14], 0x46, "builder did not make IHL 6");
	run("IPIP with outer options", &enc, &in, DECAP_CNT_IPIP);
}

/* ---- passed untouched ---------------------------------------------------- */

Test(decap, plain_traffic_untouched, .init = setup)
{
	static struct pkt p;

	inner(&p, 4, 6, 0);
	run("plain IPv4 TCP", &p, NULL, DECAP_CNT_PASS_OTHER);
	inner(&p, 6, 17, 1);
	run("plain IPv6 UDP, tagged", &p, NULL, DECAP_CNT_PASS_OTHER);
}

Test(decap, non_ip_untouched, .init = setup)
{
	static struct pkt p;
	static const uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };

	pkt_init(&p);
	pkt_eth(&p, bmac, rmac, 0x0806);
	pkt_bytes(&p, arp, sizeof(arp));
	pkt_finish(&p);
	run("ARP", &p, NULL, DECAP_CNT_PASS_OTHER);
}

Test(decap, udp_other_port_untouched, .init = setup)
{
	static struct pkt in, enc;
	struct pkt_outer o;

	inner(&in, 4, 6, 0);
	outer(&o, 4, 6081);
	pkt_encap(&enc, in.data, in.len, &o);
	run("IPv4 in UDP to 6081", &enc, NULL, DECAP_CNT_PASS_OTHER);
}

/* UDP to the GUE port whose payload is not an IP header (a GUE header
 * with C bit, or any other traffic): not ours to strip. */
Test(decap, gue_port_non_ip_payload_untouched, .init = setup)
{
	static struct pkt p;
	struct pkt_ip4 ip = { .proto = PKT_AUTO };

	ip.src = addr4("172.16.0.1");
	ip.dst = addr4("10.1.1.2");
	pkt_init(&p);
	pkt_eth(&p, bmac, rmac, PKT_AUTO);
	pkt_ipv4(&p, &ip);
	pkt_udp(&p, 50000, 6080, 0);
	pkt_payload(&p, 64, 0x00);
	p.data[14 + 20 + 8] = 0x00; /* version 0: not IP */
	pkt_finish(&p);
	run("UDP to 6080, payload not IP", &p, NULL, DECAP_CNT_PASS_OTHER);
}

/* IPIP whose payload is shorter than an IPv4 header, or has the wrong
 * version: passed (the kernel drops or handles it), not stripped. */
Test(decap, bad_inner_untouched, .init = setup)
{
	static struct pkt p, in, enc;
	struct pkt_ip4 ip = { .proto = 4 };
	struct pkt_outer o;

	ip.src = addr4("172.16.0.1");
	ip.dst = addr4("10.1.1.2");
	pkt_init(&p);
	pkt_eth(&p, bmac, rmac, PKT_AUTO);
	pkt_ipv4(&p, &ip);
	pkt_payload(&p, 12, 0x45);
	pkt_finish(&p);
	run("IPIP, 12-byte payload", &p, NULL, DECAP_CNT_PASS_BAD_INNER);

	/* IPv6 inside, but the outer says IPIP (4) */
	inner(&in, 6, 6, 0);
	outer(&o, 4, 0);
	pkt_encap(&enc, in.data, in.len, &o);
	enc.data[14 + 9] = 4;
	enc.data[14 + 10] = enc.data[14 + 11] = 0;
	pkt_put16(enc.data + 14 + 10, pkt_ip4_csum(enc.data + 14, 20));
	run("proto 4 carrying IPv6", &enc, NULL, DECAP_CNT_PASS_BAD_INNER);
}

Test(decap, outer_fragment_untouched, .init = setup)
{
	static struct pkt in, enc;
	struct pkt_outer o;

	inner(&in, 4, 6, 0);
	outer(&o, 4, 0);
	o.frag = 0x2000; /* MF: first fragment */
	pkt_encap(&enc, in.data, in.len, &o);
	run("IPIP, first fragment", &enc, NULL, DECAP_CNT_PASS_OTHER);
	o.frag = 0x0010; /* offset 128 bytes, last fragment */
	pkt_encap(&enc, in.data, in.len, &o);
	run("IPIP, later fragment", &enc, NULL, DECAP_CNT_PASS_OTHER);
}

Test(decap, truncated_headers_untouched, .init = setup)
{
	static struct pkt in, enc;
	struct pkt_outer o;

	inner(&in, 4, 6, 0);
	outer(&o, 6, 0);
	pkt_encap(&enc, in.data, in.len, &o);
	enc.len = 14 + 30; /* IPv6 header cut short */
	run("truncated outer IPv6", &enc, NULL, DECAP_CNT_PASS_OTHER);
	outer(&o, 4, 6080);
	pkt_encap(&enc, in.data, in.len, &o);
	enc.len = 14 + 20 + 4; /* UDP header cut short */
	run("truncated UDP", &enc, NULL, DECAP_CNT_PASS_OTHER);
}

/* ---- settings ------------------------------------------------------------ */

Test(decap, extra_gue_port_from_map, .init = setup)
{
	static struct pkt in, enc;
	struct pkt_outer o;
	uint16_t port = htons(7777);
	uint8_t one = 1;

	inner(&in, 4, 6, 0);
	outer(&o, 4, 7777);
	pkt_encap(&enc, in.data, in.len, &o);
	run("GUE to 7777, not configured", &enc, NULL, DECAP_CNT_PASS_OTHER);
	cr_assert_eq(bpf_map__update_elem(d.gue_ports, &port, sizeof(port),
					  &one, sizeof(one), 0),
		     0);
	run("GUE to 7777 in decap_gue_ports", &enc, &in, DECAP_CNT_GUE4);
}

Test(decap, gue_port_setting)
{
	static struct pkt in, enc;
	struct pkt_outer o;

	load(5555, 0);
	inner(&in, 6, 6, 0);
	outer(&o, 6, 6080);
	pkt_encap(&enc, in.data, in.len, &o);
	run("GUE to 6080 with gue_port 5555", &enc, NULL, DECAP_CNT_PASS_OTHER);
	outer(&o, 6, 5555);
	pkt_encap(&enc, in.data, in.len, &o);
	run("GUE to 5555 with gue_port 5555", &enc, &in, DECAP_CNT_GUE6);
}

Test(decap, only_local)
{
	static struct pkt in, enc;
	struct xlb_addr_key k = { .family = XLB_FAMILY_V6 };
	struct pkt_outer o;
	uint8_t one = 1;

	load(0, 1);
	inner(&in, 4, 6, 0);
	outer(&o, 6, 0);
	pkt_encap(&enc, in.data, in.len, &o);
	run("4in6 to a non-local address", &enc, NULL,
	    DECAP_CNT_PASS_NOT_LOCAL);
	pkt_addr("fd00:1:1::2", (uint8_t *)k.addr);
	cr_assert_eq(bpf_map__update_elem(d.local, &k, sizeof(k), &one,
					  sizeof(one), 0),
		     0);
	run("4in6 to a local address", &enc, &in, DECAP_CNT_4IN6);
}
