/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The YAML config loader: values and defaults of good files, the exact
 * message (with position) for each kind of mistake, and hostile input. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>

#include <criterion/criterion.h>

#include "config.h"

#define FIXTURES XLB_SOURCE_DIR "/tests/unit/configs"

/* A valid file that most bad cases below change in one place. */
#define HEAD "interface: eth0\n"
#define VIP_WEB                    \
	"  - name: web\n"          \
	"    address: 10.0.0.10\n" \
	"    port: 80\n"           \
	"    protocol: tcp\n"      \
	"    backends:\n"          \
	"      - address: 10.1.0.1\n"

static int parse(const char *yaml, struct xlb_config *cfg,
		 struct xlb_diag *diag)
{
	return xlb_config_parse("t.yaml", yaml, strlen(yaml), cfg, diag);
}

/* Asserts that @yaml is rejected with exactly the messages given, in
 * order; a mismatch prints the expected and the actual line. */
static void expect_errors_v(const char *yaml, const char *const *want)
{
	struct xlb_config cfg;
	struct xlb_diag diag;
	size_t n = 0, i;
	int r;

	while (want[n])
		n++;
	r = parse(yaml, &cfg, &diag);
	for (i = 0; i < diag.n; i++)
		cr_log_info("got: %s", diag.msgs[i]);
	cr_assert_eq(r, -EINVAL, "parse returned %d, want -EINVAL", r);
	for (i = 0; i < n && i < diag.n; i++)
		cr_assert(!strcmp(diag.msgs[i], want[i]),
			  "message %zu\n got: %s\nwant: %s", i, diag.msgs[i],
			  want[i]);
	cr_assert_eq(diag.n, n, "%zu messages, want %zu", diag.n, n);
	cr_assert_eq(cfg.n_vips, 0, "a rejected config is left empty");
	cr_assert_null(cfg.vips);
	xlb_diag_free(&diag);
}

#define expect_errors(yaml, ...) \
	expect_errors_v(yaml, (const char *const[]){ __VA_ARGS__, NULL })

static void expect_ok(const char *yaml, struct xlb_config *cfg)
{
	struct xlb_diag diag;
	size_t i;
	int r;

	r = parse(yaml, cfg, &diag);
	for (i = 0; i < diag.n; i++)
		cr_log_error("unexpected: %s", diag.msgs[i]);
	cr_assert_eq(r, 0, "parse returned %d", r);
	cr_assert_eq(diag.n, 0);
	xlb_diag_free(&diag);
}

static struct xlb_addr addr(const char *s)
{
	struct xlb_addr a;

	cr_assert_eq(xlb_addr_parse(s, &a), 0, "bad test address %s", s);
	return a;
}

static void assert_addr(const struct xlb_addr *got, const char *want)
{
	char buf[INET6_ADDRSTRLEN];
	struct xlb_addr w = addr(want);

	cr_assert(xlb_addr_eq(got, &w), "address %s, want %s",
		  xlb_addr_str(got, buf, sizeof(buf)), want);
}

/* ---- Helpers ------------------------------------------------------------ */

Test(config_addr, parse_and_print_ipv4)
{
	struct xlb_addr a;
	char buf[INET6_ADDRSTRLEN];

	cr_assert_eq(xlb_addr_parse("10.1.2.3", &a), 0);
	cr_assert_eq(a.family, XLB_FAMILY_V4);
	cr_assert_eq(a.a[0], htonl(0x0a010203));
	cr_assert_eq(a.a[1] | a.a[2] | a.a[3], 0);
	cr_assert_str_eq(xlb_addr_str(&a, buf, sizeof(buf)), "10.1.2.3");
}

Test(config_addr, parse_and_print_ipv6)
{
	struct xlb_addr a;
	char buf[INET6_ADDRSTRLEN];

	cr_assert_eq(xlb_addr_parse("FC00:0::1", &a), 0);
	cr_assert_eq(a.family, XLB_FAMILY_V6);
	cr_assert_eq(a.a[0], htonl(0xfc000000));
	cr_assert_eq(a.a[3], htonl(1));
	cr_assert_str_eq(xlb_addr_str(&a, buf, sizeof(buf)), "fc00::1");
}

Test(config_addr, parse_rejects_non_addresses)
{
	static const char *const bad[] = { "",
					   "10.0.0",
					   "10.0.0.256",
					   "10.0.0.1/32",
					   "fc00::1%eth0",
					   " 10.0.0.1",
					   "fc00:::1",
					   "localhost" };
	struct xlb_addr a;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&a, 0xab, sizeof(a));
		cr_assert_eq(xlb_addr_parse(bad[i], &a), -EINVAL, "'%s'",
			     bad[i]);
		cr_assert_eq(a.family, 0, "'%s' leaves out zeroed", bad[i]);
	}
	cr_assert_eq(xlb_addr_parse(NULL, &a), -EINVAL);
}

Test(config_addr, eq_compares_family_and_bits)
{
	struct xlb_addr a = addr("10.0.0.1"), b = addr("10.0.0.1");
	struct xlb_addr c = addr("10.0.0.2"), d = addr("::a00:1");

	cr_assert(xlb_addr_eq(&a, &b));
	cr_assert_not(xlb_addr_eq(&a, &c));
	cr_assert_not(xlb_addr_eq(&a, &d), "::10.0.0.1 is not 10.0.0.1");
	b.a[2] = 7; /* words past an IPv4 address do not count */
	cr_assert(xlb_addr_eq(&a, &b));
}

Test(config_addr, str_of_unknown_family_and_small_buffer)
{
	struct xlb_addr z = { 0 }, a = addr("fc00::1234:5678");
	char buf[8];

	cr_assert_str_eq(xlb_addr_str(&z, buf, sizeof(buf)), "?");
	cr_assert_str_eq(xlb_addr_str(&a, buf, sizeof(buf)), "?");
}

Test(config_addr, is_prime)
{
	static const uint32_t primes[] = { 2,	  3,	 5,	 251,
					   65521, 65537, 655373, 4294967291U };
	static const uint32_t others[] = {
		0, 1, 4, 9, 65535, 65536, 655371, 4294967295U, 4294967291U - 2
	};
	size_t i;

	for (i = 0; i < sizeof(primes) / sizeof(primes[0]); i++)
		cr_assert(xlb_is_prime(primes[i]), "%u is prime", primes[i]);
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		cr_assert_not(xlb_is_prime(others[i]), "%u is not prime",
			      others[i]);
}

Test(config_diag, print_one_per_line)
{
	char *msgs[] = { "a:1:1: error: x", "a:2:3: error: y" };
	struct xlb_diag d = { 2, msgs };
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	cr_assert_not_null(f);
	xlb_diag_print(&d, f);
	fclose(f);
	cr_assert_str_eq(out, "a:1:1: error: x\na:2:3: error: y\n");
	free(out);
}

/* ---- Good configs ------------------------------------------------------- */

Test(config_good, minimal_gets_defaults)
{
	struct xlb_config cfg;
	const struct xlb_vip_cfg *v;

	expect_ok(HEAD "vips:\n" VIP_WEB, &cfg);
	cr_assert_str_eq(cfg.path, "t.yaml");
	cr_assert_str_eq(cfg.interface, "eth0");
	cr_assert_not(cfg.mode_generic);
	cr_assert(cfg.gw_mac_auto);
	cr_assert_not(cfg.has_src4);
	cr_assert_not(cfg.has_src6);
	cr_assert_eq(cfg.maglev_table_size, XLB_RING_SIZE_DEFAULT);
	cr_assert_eq(cfg.conntrack_size, XLB_CONNTRACK_DEFAULT);
	cr_assert_eq(cfg.mtu, 1500);
	cr_assert(cfg.icmp_too_big);
	cr_assert_eq(cfg.n_vips, 1);
	v = &cfg.vips[0];
	cr_assert_str_eq(v->name, "web");
	assert_addr(&v->addr, "10.0.0.10");
	cr_assert_eq(v->port, 80);
	cr_assert_eq(v->proto, IPPROTO_TCP);
	cr_assert_eq(v->hash_mode, XLB_HASH_5TUPLE);
	cr_assert(v->conntrack);
	cr_assert(v->icmp_echo);
	cr_assert_eq(v->encap, XLB_ENCAP_IPIP);
	cr_assert_eq(v->gue_port, XLB_GUE_PORT_DEFAULT);
	cr_assert_eq(v->pos.line, 3);
	cr_assert_eq(v->pos.col, 5);
	cr_assert_eq(v->n_backends, 1);
	assert_addr(&v->backends[0].addr, "10.1.0.1");
	cr_assert_eq(v->backends[0].weight, 100);
	cr_assert_eq(v->backends[0].state, XLB_BE_STATE_ACTIVE);
	cr_assert_not(v->backends[0].gue);
	cr_assert_eq(v->backends[0].pos.line, 8);
	cr_assert_eq(v->backends[0].pos.col, 9);
	xlb_config_free(&cfg);
	cr_assert_eq(cfg.n_vips, 0);
	cr_assert_null(cfg.vips);
	xlb_config_free(&cfg); /* twice is harmless */
}

Test(config_good, every_key_set)
{
	struct xlb_config cfg;
	const struct xlb_vip_cfg *v;
	const struct xlb_backend_cfg *b;

	expect_ok(
		"interface: veth-xlb0\n"
		"mode: generic\n"
		"gateway_mac: 02:00:00:AB:cd:fe\n"
		"encap_source:\n"
		"  ipv4: 10.0.0.1\n"
		"  ipv6: fc00::1\n"
		"maglev_table_size: 251\n"
		"conntrack_size: 4096\n"
		"mtu: 9000\n"
		"icmp_too_big: false\n"
		"vips:\n"
		"  - name: dns.v6_1\n"
		"    address: fc00::53\n"
		"    port: 0\n"
		"    protocol: udp\n"
		"    hash: src-ip-port\n"
		"    conntrack: no\n"
		"    icmp_echo: False\n"
		"    encap: gue\n"
		"    gue_port: 9999\n"
		"    backends:\n"
		"      - address: fc00:1::1\n"
		"        weight: 0\n"
		"        state: drain\n"
		"      - address: 10.1.0.2\n"
		"        weight: 65535\n"
		"        state: down\n"
		"        encap: gue\n"
		"  - {name: b, address: 10.0.0.11, port: 65535, protocol: tcp,\n"
		"     hash: src-ip, backends: [{address: 10.1.0.3}]}\n",
		&cfg);
	cr_assert_str_eq(cfg.interface, "veth-xlb0");
	cr_assert(cfg.mode_generic);
	cr_assert_not(cfg.gw_mac_auto);
	cr_assert_arr_eq(cfg.gw_mac,
			 ((uint8_t[]){ 0x02, 0, 0, 0xab, 0xcd, 0xfe }), 6);
	cr_assert(cfg.has_src4);
	cr_assert(cfg.has_src6);
	assert_addr(&cfg.src4, "10.0.0.1");
	assert_addr(&cfg.src6, "fc00::1");
	cr_assert_eq(cfg.maglev_table_size, 251);
	cr_assert_eq(cfg.conntrack_size, 4096);
	cr_assert_eq(cfg.mtu, 9000);
	cr_assert_not(cfg.icmp_too_big);
	cr_assert_eq(cfg.n_vips, 2);

	v = &cfg.vips[0];
	cr_assert_str_eq(v->name, "dns.v6_1");
	assert_addr(&v->addr, "fc00::53");
	cr_assert_eq(v->port, 0);
	cr_assert_eq(v->proto, IPPROTO_UDP);
	cr_assert_eq(v->hash_mode, XLB_HASH_SRC_IP_PORT);
	cr_assert_not(v->conntrack);
	cr_assert_not(v->icmp_echo);
	cr_assert_eq(v->encap, XLB_ENCAP_GUE);
	cr_assert_eq(v->gue_port, 9999);
	cr_assert_eq(v->n_backends, 2);
	b = &v->backends[0];
	assert_addr(&b->addr, "fc00:1::1");
	cr_assert_eq(b->weight, 0);
	cr_assert_eq(b->state, XLB_BE_STATE_DRAIN);
	cr_assert_not(b->gue, "no encap key: gue comes from the vip");
	b = &v->backends[1];
	assert_addr(&b->addr, "10.1.0.2");
	cr_assert_eq(b->weight, 65535);
	cr_assert_eq(b->state, XLB_BE_STATE_DOWN);
	cr_assert(b->gue);

	v = &cfg.vips[1];
	cr_assert_str_eq(v->name, "b");
	cr_assert_eq(v->port, 65535);
	cr_assert_eq(v->hash_mode, XLB_HASH_SRC_IP);
	cr_assert_eq(v->pos.line, 29);
	cr_assert_eq(v->n_backends, 1);
	assert_addr(&v->backends[0].addr, "10.1.0.3");
	xlb_config_free(&cfg);
}

Test(config_good, backend_gue_under_ipip_vip)
{
	struct xlb_config cfg;

	expect_ok(HEAD "vips:\n" VIP_WEB "        encap: gue\n"
		       "      - address: 10.1.0.2\n"
		       "        encap: ipip\n",
		  &cfg);
	cr_assert(cfg.vips[0].backends[0].gue);
	cr_assert_not(cfg.vips[0].backends[1].gue);
	xlb_config_free(&cfg);
}

Test(config_good, gue_port_without_gue_is_accepted)
{
	struct xlb_config cfg;

	expect_ok(HEAD "vips:\n" VIP_WEB "    gue_port: 7000\n", &cfg);
	cr_assert_eq(cfg.vips[0].encap, XLB_ENCAP_IPIP);
	cr_assert_eq(cfg.vips[0].gue_port, 7000);
	xlb_config_free(&cfg);
}

Test(config_good, same_address_other_port_or_protocol)
{
	struct xlb_config cfg;

	expect_ok(HEAD "vips:\n" VIP_WEB "  - name: web-any\n"
		       "    address: 10.0.0.10\n"
		       "    port: 0\n"
		       "    protocol: tcp\n"
		       "    backends: [{address: 10.1.0.1}]\n"
		       "  - name: web-udp\n"
		       "    address: 10.0.0.10\n"
		       "    port: 80\n"
		       "    protocol: udp\n"
		       "    backends: [{address: 10.1.0.1}]\n",
		  &cfg);
	cr_assert_eq(cfg.n_vips, 3);
	xlb_config_free(&cfg);
}

Test(config_good, quoted_strings_and_booleans)
{
	struct xlb_config cfg;

	expect_ok("\"interface\": 'eth1'\n"
		  "icmp_too_big: YES\n"
		  "vips:\n"
		  "  - name: \"80\"\n"
		  "    address: \"fc00::10\"\n"
		  "    port: +443\n"
		  "    protocol: 'udp'\n"
		  "    conntrack: on\n"
		  "    icmp_echo: Off\n"
		  "    backends:\n"
		  "      - address: '10.1.0.1'\n",
		  &cfg);
	cr_assert_str_eq(cfg.interface, "eth1");
	cr_assert(cfg.icmp_too_big);
	cr_assert_str_eq(cfg.vips[0].name, "80");
	cr_assert_eq(cfg.vips[0].port, 443);
	cr_assert(cfg.vips[0].conntrack);
	cr_assert_not(cfg.vips[0].icmp_echo);
	xlb_config_free(&cfg);
}

Test(config_good, limits_exactly_reached)
{
	/* 4096 backends in one vip, and a name of 31 characters. */
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);
	struct xlb_config cfg;

	fprintf(f,
		HEAD "vips:\n  - name: %031d\n    address: 10.0.0.10\n"
		     "    port: 80\n    protocol: tcp\n    backends:\n",
		0);
	for (i = 0; i < XLB_MAX_BACKENDS_PER_VIP; i++)
		fprintf(f, "      - address: 10.1.%zu.%zu\n", i / 256, i % 256);
	fclose(f);
	expect_ok(buf, &cfg);
	cr_assert_eq(strlen(cfg.vips[0].name), 31);
	cr_assert_eq(cfg.vips[0].n_backends, XLB_MAX_BACKENDS_PER_VIP);
	xlb_config_free(&cfg);
	free(buf);
}

Test(config_good, every_file_in_configs_dir)
{
	glob_t g;
	size_t i;

	cr_assert_eq(glob(XLB_SOURCE_DIR "/configs/*.yaml", 0, NULL, &g), 0,
		     "no configs/*.yaml");
	cr_assert_geq(g.gl_pathc, 3);
	for (i = 0; i < g.gl_pathc; i++) {
		struct xlb_config cfg;
		struct xlb_diag diag;
		size_t j;
		int r = xlb_config_load(g.gl_pathv[i], &cfg, &diag);

		for (j = 0; j < diag.n; j++)
			cr_log_error("%s", diag.msgs[j]);
		cr_expect_eq(r, 0, "%s: %d", g.gl_pathv[i], r);
		cr_expect_eq(diag.n, 0);
		cr_expect_gt(cfg.n_vips, 0, "%s has vips", g.gl_pathv[i]);
		xlb_config_free(&cfg);
		xlb_diag_free(&diag);
	}
	globfree(&g);
}

Test(config_good, dual_stack_example)
{
	struct xlb_config cfg;
	struct xlb_diag diag;
	size_t i, gue_vips = 0, v6_vips = 0, gue_backends = 0;

	cr_assert_eq(xlb_config_load(XLB_SOURCE_DIR "/configs/dual-stack.yaml",
				     &cfg, &diag),
		     0);
	for (i = 0; i < cfg.n_vips; i++) {
		size_t j;

		gue_vips += cfg.vips[i].encap == XLB_ENCAP_GUE;
		v6_vips += cfg.vips[i].addr.family == XLB_FAMILY_V6;
		for (j = 0; j < cfg.vips[i].n_backends; j++)
			gue_backends += cfg.vips[i].backends[j].gue;
	}
	cr_assert_geq(gue_vips, 1);
	cr_assert_geq(gue_backends, 1);
	cr_assert_geq(v6_vips, 1);
	cr_assert_lt(v6_vips, cfg.n_vips, "IPv4 vips too");
	xlb_config_free(&cfg);
	xlb_diag_free(&diag);
}

Test(config_good, large_example)
{
	struct xlb_config cfg;
	struct xlb_diag diag;
	size_t i, n_be = 0;

	cr_assert_eq(xlb_config_load(XLB_SOURCE_DIR "/configs/large.yaml", &cfg,
				     &diag),
		     0);
	cr_assert_eq(cfg.n_vips, 512);
	for (i = 0; i < cfg.n_vips; i++)
		n_be += cfg.vips[i].n_backends;
	cr_assert_eq(n_be, 2048);
	cr_assert_str_eq(cfg.vips[511].name, "svc-0511");
	xlb_config_free(&cfg);
	xlb_diag_free(&diag);
}

/* ---- YAML-level problems ------------------------------------------------ */

Test(config_yaml, syntax_error_with_position)
{
	expect_errors(
		HEAD "vips:\n  - name: web\n   address: 10.0.0.10\n",
		"t.yaml:4:4: error: invalid YAML: did not find expected '-' indicator (while parsing a block collection at line 3 column 3); check the indentation, the quotes and the ': ' after each key");
}

Test(config_yaml, syntax_error_with_context)
{
	expect_errors(
		HEAD "vips: [\n",
		"t.yaml:3:1: error: invalid YAML: did not find expected node content (while parsing a flow node at line 3 column 1); check the indentation, the quotes and the ': ' after each key");
}

Test(config_yaml, unterminated_quote)
{
	expect_errors(
		HEAD "mode: \"native\nvips: []\n",
		"t.yaml:4:1: error: invalid YAML: found unexpected end of stream (while scanning a quoted scalar at line 2 column 7); check the indentation, the quotes and the ': ' after each key");
}

Test(config_yaml, bad_utf8)
{
	expect_errors(
		"interface: e\xfftho\n",
		"t.yaml:1:13: error: invalid input: invalid leading UTF-8 octet (0xff); an xlb config must be UTF-8 text");
}

Test(config_yaml, control_character)
{
	expect_errors(
		HEAD "mode: na\x01tive\n",
		"t.yaml:2:9: error: invalid input: control characters are not allowed (0x01); an xlb config must be UTF-8 text");
}

Test(config_yaml, nul_byte)
{
	struct xlb_config cfg;
	struct xlb_diag diag;

	cr_assert_eq(xlb_config_parse("t.yaml", "interface: e\0th0\n", 17, &cfg,
				      &diag),
		     -EINVAL);
	cr_assert_eq(diag.n, 1);
	cr_assert_str_eq(
		diag.msgs[0],
		"t.yaml:1:13: error: invalid input: control characters are not allowed (0x00); an xlb config must be UTF-8 text");
	xlb_diag_free(&diag);
}

Test(config_yaml, empty_file)
{
	expect_errors(
		"",
		"t.yaml:1:1: error: the file is empty; an xlb config needs at least 'interface' and 'vips' (see docs/config.md)");
	expect_errors(
		"# only a comment\n---\n",
		"t.yaml:1:1: error: the file is empty; an xlb config needs at least 'interface' and 'vips' (see docs/config.md)");
}

Test(config_yaml, top_level_not_a_mapping)
{
	expect_errors(
		"- interface: eth0\n",
		"t.yaml:1:1: error: the top level must be a mapping of keys, not a list; start with 'interface: eth0' (see docs/config.md)");
	expect_errors(
		"eth0\n",
		"t.yaml:1:1: error: the top level must be a mapping of keys, not 'eth0'; start with 'interface: eth0' (see docs/config.md)");
}

Test(config_yaml, second_document)
{
	expect_errors(
		HEAD "vips:\n" VIP_WEB "---\n" HEAD,
		"t.yaml:9:1: error: a second YAML document starts here; an xlb config is one document: remove the '---' line or split the file");
}

Test(config_yaml, alias_refused_rest_checked)
{
	expect_errors(
		"interface: &dev eth0\n"
		"mode: *dev\n"
		"mtu: 5\n"
		"vips:\n" VIP_WEB,
		"t.yaml:2:7: error: aliases ('*dev') are not supported in xlb configs; write the value out in full",
		"t.yaml:3:6: error: 'mtu' 5 is out of range; allowed: 68..65535 (1280..65535 with IPv6)");
}

Test(config_yaml, deep_nesting)
{
	char buf[256];

	memset(buf, '[', 100);
	memset(buf + 100, ']', 100);
	buf[200] = '\0';
	expect_errors(
		buf,
		"t.yaml:1:33: error: nesting deeper than 32 levels; an xlb config needs 4 (top level, vips, vip, backends)");
}

Test(config_yaml, key_not_a_scalar)
{
	expect_errors(
		HEAD "? [a, b]\n: 1\nvips:\n" VIP_WEB,
		"t.yaml:2:3: error: a key in the top level must be a name, not a list; allowed: interface, mode, gateway_mac, encap_source, maglev_table_size, conntrack_size, mtu, icmp_too_big, service, vips");
}

/* ---- Keys --------------------------------------------------------------- */

Test(config_keys, unknown_key_did_you_mean_backend)
{
	expect_errors(
		HEAD "vips:\n" VIP_WEB "        wieght: 5\n",
		"t.yaml:9:9: error: unknown key 'wieght' in backend; did you mean 'weight'? (allowed: address, weight, state, encap, health_check)");
}

Test(config_keys, unknown_key_did_you_mean_top_and_vip)
{
	expect_errors(
		"Interface: eth0\nmtu_size: 1400\nvips:\n" VIP_WEB
		"    protcol: udp\n",
		"t.yaml:1:1: error: unknown key 'Interface' in the top level; did you mean 'interface'? (allowed: interface, mode, gateway_mac, encap_source, maglev_table_size, conntrack_size, mtu, icmp_too_big, service, vips)",
		"t.yaml:1:1: error: missing required key 'interface' in the top level; required: interface, vips",
		"t.yaml:2:1: error: unknown key 'mtu_size' in the top level; allowed: interface, mode, gateway_mac, encap_source, maglev_table_size, conntrack_size, mtu, icmp_too_big, service, vips",
		"t.yaml:10:5: error: unknown key 'protcol' in vip 'web'; did you mean 'protocol'? (allowed: name, address, port, protocol, hash, conntrack, icmp_echo, encap, gue_port, health_check, backends)");
}

Test(config_keys, unknown_key_without_suggestion)
{
	expect_errors(
		HEAD "vips:\n" VIP_WEB "        colour: blue\n",
		"t.yaml:9:9: error: unknown key 'colour' in backend; allowed: address, weight, state, encap, health_check");
}

Test(config_keys, key_in_the_wrong_place)
{
	expect_errors(
		HEAD "vips:\n" VIP_WEB "    weight: 3\n"
		     "encap_source:\n  ipv4: 10.0.0.1\n  mtu: 1400\n",
		"t.yaml:9:5: error: unknown key 'weight' in vip 'web'; it belongs in a backend: check the indentation (allowed here: name, address, port, protocol, hash, conntrack, icmp_echo, encap, gue_port, health_check, backends)",
		"t.yaml:12:3: error: unknown key 'mtu' in encap_source; it belongs in the top level: check the indentation (allowed here: ipv4, ipv6)");
}

Test(config_keys, duplicate_key)
{
	expect_errors(
		HEAD "mtu: 1400\nvips:\n" VIP_WEB "mtu: 1500\n"
		     "  # comment\n",
		"t.yaml:10:1: error: duplicate key 'mtu' in the top level (first at line 2); give each key once");
	expect_errors(
		HEAD "vips:\n" VIP_WEB "    port: 81\n",
		"t.yaml:9:5: error: duplicate key 'port' in vip 'web' (first at line 5); give each key once");
}

Test(config_keys, missing_top_level_keys)
{
	expect_errors(
		"mode: native\n",
		"t.yaml:1:1: error: missing required key 'interface' in the top level; required: interface, vips",
		"t.yaml:1:1: error: missing required key 'vips' in the top level; required: interface, vips");
}

Test(config_keys, missing_vip_keys)
{
	expect_errors(
		HEAD "vips:\n  - name: web\n    hash: src-ip\n"
		     "  - address: 10.0.0.10\n    port: 80\n"
		     "    protocol: tcp\n    backends: [{address: 10.1.0.1}]\n",
		"t.yaml:3:5: error: missing required key 'address' in vip 'web'; required: name, address, port, protocol, backends",
		"t.yaml:3:5: error: missing required key 'port' in vip 'web'; required: name, address, port, protocol, backends",
		"t.yaml:3:5: error: missing required key 'protocol' in vip 'web'; required: name, address, port, protocol, backends",
		"t.yaml:3:5: error: missing required key 'backends' in vip 'web'; required: name, address, port, protocol, backends",
		"t.yaml:5:5: error: missing required key 'name' in vip #2; required: name, address, port, protocol, backends");
}

Test(config_keys, missing_backend_address)
{
	expect_errors(
		HEAD "vips:\n" VIP_WEB "      - weight: 5\n",
		"t.yaml:9:9: error: missing required key 'address' in backend; required: address");
}

/* ---- Types -------------------------------------------------------------- */

Test(config_types, list_where_a_scalar_belongs)
{
	expect_errors(
		"interface: [eth0, eth1]\nvips:\n" VIP_WEB
		"    port: [80, 443]\n",
		"t.yaml:1:12: error: 'interface' must be a string, not a list; give an interface name such as eth0",
		"t.yaml:9:5: error: duplicate key 'port' in vip 'web' (first at line 5); give each key once");
	expect_errors(
		HEAD "vips:\n  - name: web\n    address: 10.0.0.10\n"
		     "    port: [80, 443]\n    protocol: {tcp: 1}\n"
		     "    backends: [{address: 10.1.0.1}]\n",
		"t.yaml:5:11: error: 'port' must be a number, not a list; allowed: 0..65535 (0 = every port)",
		"t.yaml:6:15: error: 'protocol' must be a string, not a mapping; allowed: tcp, udp");
}

Test(config_types, words_for_numbers)
{
	expect_errors(
		HEAD "mtu: yes\nconntrack_size: 1e6\n"
		     "maglev_table_size: 0x10001\nvips:\n" VIP_WEB
		     "        weight: 1.5\n",
		"t.yaml:2:6: error: 'mtu' must be a number, not 'yes'; allowed: 68..65535 (1280..65535 with IPv6)",
		"t.yaml:3:17: error: 'conntrack_size' must be a number, not '1e6'; allowed: 1..134217728 flows",
		"t.yaml:4:20: error: 'maglev_table_size' must be a number, not '0x10001'; allowed: a prime up to 655373",
		"t.yaml:12:17: error: 'weight' must be a number, not '1.5'; allowed: 0..65535");
}

Test(config_types, quoted_number_empty_and_null)
{
	expect_errors(
		HEAD "mtu:\nconntrack_size: ~\nvips:\n" VIP_WEB
		     "        weight: \"10\"\n",
		"t.yaml:2:5: error: 'mtu' must be a number, not an empty value; allowed: 68..65535 (1280..65535 with IPv6)",
		"t.yaml:3:17: error: 'conntrack_size' must be a number, not null; allowed: 1..134217728 flows",
		"t.yaml:11:17: error: 'weight' must be a number, not the quoted string \"10\"; allowed: 0..65535");
}

Test(config_types, leading_zero)
{
	expect_errors(
		HEAD "vips:\n" VIP_WEB "        weight: 010\n",
		"t.yaml:9:17: error: 'weight' 010 has a leading zero, which YAML 1.1 reads as octal; write it in decimal without leading zeros (allowed: 0..65535)");
}

Test(config_types, bad_boolean)
{
	expect_errors(
		HEAD "icmp_too_big: 1\nvips:\n" VIP_WEB
		     "    conntrack: \"true\"\n    icmp_echo: [true]\n",
		"t.yaml:2:15: error: 'icmp_too_big' must be true or false, not '1'; allowed: true, false",
		"t.yaml:10:16: error: 'conntrack' must be true or false, not the quoted string \"true\"; allowed: true, false",
		"t.yaml:11:16: error: 'icmp_echo' must be true or false, not a list; allowed: true, false");
}

Test(config_types, bad_enums)
{
	expect_errors(
		HEAD "mode: skb\nvips:\n  - name: web\n"
		     "    address: 10.0.0.10\n    port: 80\n    protocol: TCP\n"
		     "    hash: srcip\n    encap: vxlan\n    backends:\n"
		     "      - address: 10.1.0.1\n        state: drained\n"
		     "        encap: GUE\n",
		"t.yaml:2:7: error: invalid mode 'skb'; allowed: native, generic",
		"t.yaml:7:15: error: invalid protocol 'TCP'; did you mean 'tcp'? (allowed: tcp, udp)",
		"t.yaml:8:11: error: invalid hash 'srcip'; did you mean 'src-ip'? (allowed: 5tuple, src-ip, src-ip-port)",
		"t.yaml:9:12: error: invalid encap 'vxlan'; allowed: ipip, gue",
		"t.yaml:12:16: error: invalid state 'drained'; did you mean 'drain'? (allowed: active, drain, down)",
		"t.yaml:13:16: error: invalid encap 'GUE'; did you mean 'gue'? (allowed: ipip, gue)");
}

Test(config_types, vips_and_backends_not_lists)
{
	expect_errors(
		HEAD "vips:\n  name: web\n",
		"t.yaml:3:3: error: 'vips' must be a list, not a mapping; write one '- name: ...' item per vip");
	expect_errors(
		HEAD "vips:\n  - web\n  - name: w2\n    address: 10.0.0.1\n"
		     "    port: 1\n    protocol: udp\n    backends: 10.1.0.1\n",
		"t.yaml:3:5: error: a vip must be a mapping, not 'web'; write '- name: web' followed by address, port, protocol and backends",
		"t.yaml:8:15: error: 'backends' of vip 'w2' must be a list, not '10.1.0.1'; write one '- address: ...' item per backend");
	expect_errors(
		HEAD "vips:\n" VIP_WEB "      - 10.1.0.2\n",
		"t.yaml:9:9: error: a backend must be a mapping, not '10.1.0.2'; write '- address: 10.1.0.1' (keys: address, weight, state, encap, health_check)");
	expect_errors(
		HEAD "vips: []\n",
		"t.yaml:2:7: error: 'vips' is empty; add at least one vip (name, address, port, protocol, backends)");
	expect_errors(
		HEAD "vips:\n" VIP_WEB "encap_source: 10.0.0.1\n",
		"t.yaml:9:15: error: 'encap_source' must be a mapping, not '10.0.0.1'; write 'ipv4: ADDRESS' and/or 'ipv6: ADDRESS' under it, or leave it out");
}

Test(config_types, long_and_odd_values_are_excerpted)
{
	expect_errors(
		HEAD
		"mode: \"a'b\\\\c\\td\"\nvips:\n" VIP_WEB "        state: "
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		"t.yaml:2:7: error: invalid mode 'a\\x27b\\x5cc\\x09d'; allowed: native, generic",
		"t.yaml:10:16: error: invalid state 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'; allowed: active, drain, down");
}

/* ---- Values ------------------------------------------------------------- */

Test(config_values, bad_addresses)
{
	expect_errors(
		HEAD "vips:\n  - name: web\n    address: 10.0.0.300\n"
		     "    port: 80\n    protocol: tcp\n    backends:\n"
		     "      - address: 10.1.0.0/24\n"
		     "      - address: fc00::1::2\n"
		     "      - address: [10.1.0.1]\n",
		"t.yaml:4:14: error: invalid vip address '10.0.0.300'; give an IPv4 (10.0.0.10) or IPv6 (fc00::10) address",
		"t.yaml:8:18: error: invalid backend address '10.1.0.0/24': a prefix length is not allowed here; give an IPv4 (10.0.0.10) or IPv6 (fc00::10) address",
		"t.yaml:9:18: error: invalid backend address 'fc00::1::2'; give an IPv4 (10.0.0.10) or IPv6 (fc00::10) address",
		"t.yaml:10:18: error: backend address must be a string, not a list; give an IPv4 (10.0.0.10) or IPv6 (fc00::10) address");
}

Test(config_values, non_unicast_addresses)
{
	expect_errors(
		HEAD "vips:\n  - name: web\n    address: 224.0.0.1\n"
		     "    port: 80\n    protocol: tcp\n    backends:\n"
		     "      - address: 127.0.0.1\n"
		     "      - address: '::'\n"
		     "      - address: ff02::1\n"
		     "      - address: 255.255.255.255\n"
		     "      - address: 0.0.0.0\n"
		     "      - address: 240.0.0.1\n",
		"t.yaml:4:14: error: vip address 224.0.0.1 is a multicast address; give a routable unicast address",
		"t.yaml:8:18: error: backend address 127.0.0.1 is a loopback address; give a routable unicast address",
		"t.yaml:9:18: error: backend address :: is the unspecified address; give a routable unicast address",
		"t.yaml:10:18: error: backend address ff02::1 is a multicast address; give a routable unicast address",
		"t.yaml:11:18: error: backend address 255.255.255.255 is the broadcast address; give a routable unicast address",
		"t.yaml:12:18: error: backend address 0.0.0.0 is the unspecified address; give a routable unicast address",
		"t.yaml:13:18: error: backend address 240.0.0.1 is a reserved (class E) address; give a routable unicast address");
}

Test(config_values, encap_source_families)
{
	expect_errors(
		HEAD "encap_source:\n  ipv4: fc00::1\n  ipv6: 10.0.0.1\n"
		     "  ipv5: 1.2.3.4\nvips:\n" VIP_WEB,
		"t.yaml:3:9: error: encap_source ipv4 address 'fc00::1' is an IPv6 address; give an IPv4 address such as 10.0.0.1",
		"t.yaml:4:9: error: encap_source ipv6 address '10.0.0.1' is an IPv4 address; give an IPv6 address such as fc00::1",
		"t.yaml:5:3: error: unknown key 'ipv5' in encap_source; did you mean 'ipv4'? (allowed: ipv4, ipv6)");
}

Test(config_values, bad_mac)
{
	expect_errors(
		HEAD "gateway_mac: 02:00:00:00:00\nvips:\n" VIP_WEB,
		"t.yaml:2:14: error: invalid gateway_mac '02:00:00:00:00'; give auto or a MAC address such as 02:00:00:00:00:fe");
	expect_errors(
		HEAD "gateway_mac: 02-00-00-00-00-fe\nvips:\n" VIP_WEB,
		"t.yaml:2:14: error: invalid gateway_mac '02-00-00-00-00-fe'; give auto or a MAC address such as 02:00:00:00:00:fe");
	expect_errors(
		HEAD "gateway_mac: 0g:00:00:00:00:fe\nvips:\n" VIP_WEB,
		"t.yaml:2:14: error: invalid gateway_mac '0g:00:00:00:00:fe'; give auto or a MAC address such as 02:00:00:00:00:fe");
	expect_errors(
		HEAD "gateway_mac: 01:00:5e:00:00:01\nvips:\n" VIP_WEB,
		"t.yaml:2:14: error: gateway_mac 01:00:5e:00:00:01 is a multicast address; give the router's unicast MAC or auto");
	expect_errors(
		HEAD "gateway_mac: 00:00:00:00:00:00\nvips:\n" VIP_WEB,
		"t.yaml:2:14: error: gateway_mac 00:00:00:00:00:00 is zero; give the router's unicast MAC or auto");
	expect_errors(
		HEAD "gateway_mac: AUTO\nvips:\n" VIP_WEB,
		"t.yaml:2:14: error: invalid gateway_mac 'AUTO'; give auto or a MAC address such as 02:00:00:00:00:fe");
}

Test(config_values, bad_interface_names)
{
	expect_errors(
		"interface: a-very-long-ifname0\nvips:\n" VIP_WEB,
		"t.yaml:1:12: error: invalid interface name 'a-very-long-ifname0'; Linux names are 1..15 bytes without '/', ':' or spaces");
	expect_errors(
		"interface: 'eth 0'\nvips:\n" VIP_WEB,
		"t.yaml:1:12: error: invalid interface name 'eth 0'; Linux names are 1..15 bytes without '/', ':' or spaces");
	expect_errors(
		"interface: ..\nvips:\n" VIP_WEB,
		"t.yaml:1:12: error: invalid interface name '..'; Linux names are 1..15 bytes without '/', ':' or spaces");
	expect_errors(
		"interface: ''\nvips:\n" VIP_WEB,
		"t.yaml:1:12: error: invalid interface name ''; Linux names are 1..15 bytes without '/', ':' or spaces");
	expect_errors(
		"interface:\nvips:\n" VIP_WEB,
		"t.yaml:1:11: error: 'interface' must be a string, not an empty value; give an interface name such as eth0");
}

Test(config_values, bad_vip_names)
{
	expect_errors(
		HEAD "vips:\n  - name: my web\n    address: 10.0.0.10\n"
		     "    port: 80\n    protocol: tcp\n"
		     "    backends: [{address: 10.1.0.1}]\n"
		     "  - name: abcdefghijklmnopqrstuvwxyz0123456\n"
		     "    address: 10.0.0.11\n"
		     "    port: 80\n    protocol: tcp\n"
		     "    backends: [{address: 10.1.0.1}]\n",
		"t.yaml:3:11: error: invalid vip name 'my web'; use 1..31 characters from A-Z a-z 0-9 _ . -",
		"t.yaml:8:11: error: vip name 'abcdefghijklmnopqrstuvwxyz0123456' is 33 bytes long; use 1..31 characters from A-Z a-z 0-9 _ . -");
}

/* Reader errors are placed by counting bytes: count characters instead,
 * as every other position does, and not a byte-order mark. */
Test(config_yaml, encoding_error_columns_count_characters)
{
	expect_errors("interface: eth0\n# Z\xc3\xbcrich \xff\nvips: []\n",
		      "t.yaml:2:10: error: invalid input: invalid leading "
		      "UTF-8 octet (0xff); an xlb config must be UTF-8 text");
	expect_errors("\xef\xbb\xbfinterface: \x01"
		      "eth0\n",
		      "t.yaml:1:12: error: invalid input: control characters "
		      "are not allowed (0x01); an xlb config must be UTF-8 "
		      "text");
}

Test(config_yaml, utf16_refused)
{
	static const char le[] = "\xff\xfei\0n\0t\0e\0r\0f\0a\0c\0e\0:\0 "
				 "\0l\0o\0\n\0";
	struct xlb_config cfg;
	struct xlb_diag diag;

	cr_assert_eq(
		xlb_config_parse("t.yaml", le, sizeof(le) - 1, &cfg, &diag),
		-EINVAL);
	cr_assert_eq(diag.n, 1);
	cr_assert_str_eq(
		diag.msgs[0],
		"t.yaml:1:1: error: the file is UTF-16 text (it starts with a UTF-16 byte-order mark); an xlb config must be UTF-8: convert it, e.g. iconv -f UTF-16 -t UTF-8");
	xlb_diag_free(&diag);
}

Test(config_values, ipv4_mapped_addresses_refused)
{
	expect_errors(
		HEAD "vips:\n  - name: web\n    address: ::ffff:10.0.0.10\n"
		     "    port: 80\n    protocol: tcp\n"
		     "    backends:\n      - address: 10.1.0.1\n"
		     "      - address: ::FFFF:10.1.0.1\n"
		     "      - address: ::ffff:127.0.0.1\n",
		"t.yaml:4:14: error: vip address '::ffff:10.0.0.10' is an IPv4-mapped IPv6 address, which no packet carries; write the IPv4 address 10.0.0.10",
		"t.yaml:9:18: error: backend address '::FFFF:10.1.0.1' is an IPv4-mapped IPv6 address, which no packet carries; write the IPv4 address 10.1.0.1",
		"t.yaml:10:18: error: backend address '::ffff:127.0.0.1' is an IPv4-mapped IPv6 address, which no packet carries; write the IPv4 address 127.0.0.1");
}

Test(config_values, port_and_weight_out_of_range)
{
	expect_errors(
		HEAD "vips:\n  - name: web\n    address: 10.0.0.10\n"
		     "    port: 65536\n    protocol: tcp\n    gue_port: 0\n"
		     "    backends:\n      - address: 10.1.0.1\n"
		     "        weight: 65536\n      - address: 10.1.0.2\n"
		     "        weight: -1\n      - address: 10.1.0.3\n"
		     "        weight: 99999999999999999999999\n"
		     "      - address: 10.1.0.4\n"
		     "        weight: -0\n",
		"t.yaml:5:11: error: 'port' 65536 is out of range; allowed: 0..65535 (0 = every port)",
		"t.yaml:7:15: error: 'gue_port' 0 is out of range; allowed: 1..65535",
		"t.yaml:10:17: error: 'weight' 65536 is out of range; allowed: 0..65535",
		"t.yaml:12:17: error: 'weight' -1 is out of range; allowed: 0..65535",
		"t.yaml:14:17: error: 'weight' 99999999999999999999999 is out of range; allowed: 0..65535",
		"t.yaml:16:17: error: 'weight' -0 is out of range; allowed: 0..65535");
	/* -0 as a port was read as 0, every port */
	expect_errors(
		HEAD "vips:\n  - name: web\n    address: 10.0.0.10\n"
		     "    port: -0\n    protocol: tcp\n"
		     "    backends:\n      - address: 10.1.0.1\n",
		"t.yaml:5:11: error: 'port' -0 is out of range; allowed: 0..65535 (0 = every port)");
}

Test(config_values, table_size_not_prime_or_too_large)
{
	expect_errors(
		HEAD "maglev_table_size: 65536\nvips:\n" VIP_WEB,
		"t.yaml:2:20: error: 'maglev_table_size' 65536 is not a prime; use 65521 or 65537 (Maglev needs a prime table size)");
	expect_errors(
		HEAD "maglev_table_size: 1\nvips:\n" VIP_WEB,
		"t.yaml:2:20: error: 'maglev_table_size' 1 is not a prime; use 2 (Maglev needs a prime table size)");
	expect_errors(
		HEAD "maglev_table_size: 655379\nvips:\n" VIP_WEB,
		"t.yaml:2:20: error: 'maglev_table_size' 655379 is too large; allowed: a prime up to 655373");
	expect_errors(
		HEAD "maglev_table_size: 5000000000\nvips:\n" VIP_WEB,
		"t.yaml:2:20: error: 'maglev_table_size' 5000000000 is out of range; allowed: a prime up to 655373");
}

Test(config_values, table_smaller_than_backends)
{
	expect_errors(
		HEAD "maglev_table_size: 2\nvips:\n" VIP_WEB
		     "      - address: 10.1.0.2\n      - address: 10.1.0.3\n",
		"t.yaml:9:7: error: vip 'web' has 3 backends, more than maglev_table_size 2; use a prime table size at least that large (ideally 100 times the backend count)");
}

Test(config_values, conntrack_size_range)
{
	expect_errors(
		HEAD "conntrack_size: 0\nvips:\n" VIP_WEB,
		"t.yaml:2:17: error: 'conntrack_size' 0 is out of range; allowed: 1..134217728 flows");
	expect_errors(
		HEAD "conntrack_size: 134217729\nvips:\n" VIP_WEB,
		"t.yaml:2:17: error: 'conntrack_size' 134217729 is out of range; allowed: 1..134217728 flows");
}

Test(config_values, mtu_range)
{
	struct xlb_config cfg;

	expect_errors(
		HEAD "mtu: 67\nvips:\n" VIP_WEB,
		"t.yaml:2:6: error: 'mtu' 67 is out of range; allowed: 68..65535 (1280..65535 with IPv6)");
	expect_errors(
		HEAD "mtu: 65536\nvips:\n" VIP_WEB,
		"t.yaml:2:6: error: 'mtu' 65536 is out of range; allowed: 68..65535 (1280..65535 with IPv6)");
	expect_ok(HEAD "mtu: 68\nvips:\n" VIP_WEB, &cfg);
	cr_assert_eq(cfg.mtu, 68);
	xlb_config_free(&cfg);
}

Test(config_values, mtu_below_ipv6_minimum)
{
	struct xlb_config cfg;

	expect_errors(
		HEAD "mtu: 1279\nvips:\n" VIP_WEB
		     "      - address: fc00:1::1\n",
		"t.yaml:2:6: error: 'mtu' 1279 is below 1280, the IPv6 minimum, and vip 'web' (line 4) has IPv6 addresses; allowed: 1280..65535 with IPv6");
	expect_ok(HEAD "mtu: 1280\nvips:\n" VIP_WEB
		       "      - address: fc00:1::1\n",
		  &cfg);
	xlb_config_free(&cfg);
}

Test(config_values, backend_ipip_under_gue_vip)
{
	expect_errors(
		HEAD "vips:\n" VIP_WEB "        encap: ipip\n    encap: gue\n",
		"t.yaml:9:16: error: backend encap 'ipip' cannot override encap 'gue' of vip 'web'; a backend can only switch to gue: set encap: ipip on the vip and encap: gue on its GUE backends");
}

/* ---- Cross-checks ------------------------------------------------------- */

Test(config_cross, duplicate_vip)
{
	expect_errors(
		HEAD "vips:\n" VIP_WEB "  - name: web2\n"
		     "    address: 10.0.0.10\n    port: 80\n    protocol: tcp\n"
		     "    backends: [{address: 10.1.0.2}]\n",
		"t.yaml:9:5: error: duplicate vip 10.0.0.10 port 80 tcp: vip 'web' at line 3 has the same address, port and protocol; each combination may be used once");
}

Test(config_cross, duplicate_vip_ipv6_spelled_differently)
{
	expect_errors(
		HEAD "vips:\n  - {name: a, address: 'fc00::10', port: 53,"
		     " protocol: udp, backends: [{address: fc00:1::1}]}\n"
		     "  - {name: b, address: 'FC00:0:0::10', port: 53,"
		     " protocol: udp, backends: [{address: fc00:1::1}]}\n",
		"t.yaml:4:5: error: duplicate vip fc00::10 port 53 udp: vip 'a' at line 3 has the same address, port and protocol; each combination may be used once");
}

Test(config_cross, duplicate_vip_name)
{
	expect_errors(
		HEAD "vips:\n" VIP_WEB "  - name: web\n"
		     "    address: 10.0.0.11\n    port: 80\n    protocol: tcp\n"
		     "    backends: [{address: 10.1.0.2}]\n",
		"t.yaml:9:5: error: duplicate vip name 'web' (first at line 3); give each vip a unique name");
}

Test(config_cross, duplicate_backends)
{
	expect_errors(
		HEAD "vips:\n" VIP_WEB "      - address: 10.1.0.2\n"
		     "      - address: 10.1.0.1\n      - address: 10.1.0.1\n"
		     "        weight: 3\n",
		"t.yaml:10:18: error: duplicate backend 10.1.0.1 in vip 'web' (first at line 8); list each backend once",
		"t.yaml:11:18: error: duplicate backend 10.1.0.1 in vip 'web' (first at line 8); list each backend once");
}

Test(config_cross, same_backend_in_two_vips_is_fine)
{
	struct xlb_config cfg;

	expect_ok(HEAD
		  "vips:\n" VIP_WEB "  - name: web2\n"
		  "    address: 10.0.0.11\n    port: 80\n    protocol: tcp\n"
		  "    backends: [{address: 10.1.0.1}]\n",
		  &cfg);
	xlb_config_free(&cfg);
}

Test(config_cross, icmp_echo_differs_on_one_address)
{
	expect_errors(
		HEAD
		"vips:\n" VIP_WEB "  - name: web-tls\n"
		"    address: 10.0.0.10\n    port: 443\n    protocol: tcp\n"
		"    icmp_echo: false\n"
		"    backends: [{address: 10.1.0.2}]\n",
		"t.yaml:13:16: error: vip 'web-tls' has icmp_echo false but vip 'web' (line 3) on the same address 10.0.0.10 has true; icmp_echo belongs to the address: give every vip of 10.0.0.10 the same value");
}

Test(config_cross, vip_without_backends)
{
	expect_errors(
		HEAD "vips:\n  - name: web\n    address: 10.0.0.10\n"
		     "    port: 80\n    protocol: tcp\n    backends: []\n",
		"t.yaml:7:15: error: vip 'web' has no backends; add at least one (state: down to keep it out)");
}

/* Writes @n_vips vips of @n_be backends each (distinct addresses). */
static char *gen_config(size_t n_vips, size_t n_be)
{
	char *buf = NULL;
	size_t len = 0, i, j, be = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	fprintf(f, HEAD "vips:\n");
	for (i = 0; i < n_vips; i++) {
		fprintf(f,
			"  - name: v%zu\n    address: 10.0.%zu.%zu\n"
			"    port: 80\n    protocol: tcp\n    backends:\n",
			i, i / 256, i % 256);
		for (j = 0; j < n_be; j++, be++)
			fprintf(f, "      - address: 10.%zu.%zu.%zu\n",
				1 + be / 65536, be / 256 % 256, be % 256);
	}
	fclose(f);
	return buf;
}

Test(config_limits, too_many_vips)
{
	char *yaml = gen_config(XLB_MAX_VIPS + 1, 1);

	expect_errors(
		yaml,
		"t.yaml:3:3: error: 'vips' has 1025 entries, more than 1024; allowed: at most 1024 vips");
	free(yaml);
}

Test(config_limits, too_many_backends_in_one_vip)
{
	char *yaml = gen_config(1, XLB_MAX_BACKENDS_PER_VIP + 1);

	expect_errors(
		yaml,
		"t.yaml:8:7: error: vip 'v0' has 4097 backends, more than 4096; allowed: at most 4096 backends per vip");
	free(yaml);
}

Test(config_limits, too_many_backends_in_total)
{
	/* 17 x 4096 = 69632 > 65536; the 17th vip crosses the limit. */
	char *yaml = gen_config(17, 4096);
	unsigned int line = 2 + 16 * (5 + 4096) + 6;
	char want[256];

	snprintf(
		want, sizeof(want),
		"t.yaml:%u:7: error: vip 'v16' brings the backends of all vips to 69632, more than 65536; allowed: at most 65536 backends in total",
		line);
	expect_errors(yaml, want);
	free(yaml);
}

Test(config_limits, message_count_is_capped)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);
	struct xlb_config cfg;
	struct xlb_diag diag;

	fprintf(f, HEAD "vips:\n" VIP_WEB);
	for (i = 0; i < 1500; i++)
		fprintf(f, "        x%zu: 1\n", i);
	fclose(f);
	cr_assert_eq(parse(buf, &cfg, &diag), -EINVAL);
	cr_assert_eq(diag.n, 1001);
	cr_assert_str_eq(
		diag.msgs[0],
		"t.yaml:9:9: error: unknown key 'x0' in backend; allowed: address, weight, state, encap, health_check");
	cr_assert_str_eq(
		diag.msgs[1000],
		"t.yaml: error: 500 more errors not shown; fix the ones above and check again");
	xlb_diag_free(&diag);
	free(buf);
}

/* ---- Several errors, one file ------------------------------------------- */

Test(config_many, all_errors_reported_in_file_order)
{
	struct xlb_config cfg;
	struct xlb_diag diag;
	static const char *const want[] = {
		FIXTURES
		"/many-errors.yaml:5:7: error: invalid mode 'fast'; allowed: native, generic",
		FIXTURES
		"/many-errors.yaml:6:14: error: invalid gateway_mac '02:00:00:00:00:zz'; give auto or a MAC address such as 02:00:00:00:00:fe",
		FIXTURES
		"/many-errors.yaml:7:20: error: 'maglev_table_size' 1000 is not a prime; use 997 or 1009 (Maglev needs a prime table size)",
		FIXTURES
		"/many-errors.yaml:8:1: error: unknown key 'mut' in the top level; did you mean 'mtu'? (allowed: interface, mode, gateway_mac, encap_source, maglev_table_size, conntrack_size, mtu, icmp_too_big, service, vips)",
		FIXTURES
		"/many-errors.yaml:12:15: error: invalid protocol 'tcpp'; did you mean 'tcp'? (allowed: tcp, udp)",
		FIXTURES
		"/many-errors.yaml:16:9: error: unknown key 'wieght' in backend; did you mean 'weight'? (allowed: address, weight, state, encap, health_check)",
		FIXTURES
		"/many-errors.yaml:17:18: error: duplicate backend 10.1.0.1 in vip 'web' (first at line 15); list each backend once",
		FIXTURES
		"/many-errors.yaml:18:17: error: 'weight' 100000 is out of range; allowed: 0..65535",
		FIXTURES
		"/many-errors.yaml:19:5: error: missing required key 'port' in vip 'web'; required: name, address, port, protocol, backends",
		FIXTURES
		"/many-errors.yaml:19:5: error: duplicate vip name 'web' (first at line 10); give each vip a unique name",
		FIXTURES
		"/many-errors.yaml:20:14: error: invalid vip address '10.0.0'; give an IPv4 (10.0.0.10) or IPv6 (fc00::10) address",
		FIXTURES
		"/many-errors.yaml:22:15: error: vip 'web' has no backends; add at least one (state: down to keep it out)",
	};
	size_t i;

	cr_assert_eq(xlb_config_load(FIXTURES "/many-errors.yaml", &cfg, &diag),
		     -EINVAL);
	for (i = 0; i < diag.n; i++)
		cr_log_info("got: %s", diag.msgs[i]);
	for (i = 0; i < diag.n && i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert_str_eq(diag.msgs[i], want[i], "message %zu", i);
	cr_assert_eq(diag.n, sizeof(want) / sizeof(want[0]));
	xlb_diag_free(&diag);
}

/* ---- Hostile input ------------------------------------------------------ */

/* Every outcome is fine except a crash, a hang or an error without a
 * message; the sanitizer/valgrind runs catch memory errors. */
static void survive(const char *buf, size_t len)
{
	struct xlb_config cfg;
	struct xlb_diag diag;
	int r = xlb_config_parse("g", buf, len, &cfg, &diag);

	cr_assert(r == 0 || r == -EINVAL, "returned %d", r);
	cr_assert(r == 0 || diag.n > 0, "an error comes with a message");
	cr_assert(r != 0 || cfg.n_vips > 0);
	xlb_config_free(&cfg);
	xlb_diag_free(&diag);
}

Test(config_garbage, random_bytes)
{
	unsigned int seed = 12345;
	char buf[4096];
	size_t i, j, len;

	for (i = 0; i < 2000; i++) {
		len = (size_t)rand_r(&seed) % sizeof(buf);
		for (j = 0; j < len; j++)
			buf[j] = (char)rand_r(&seed);
		survive(buf, len);
	}
}

Test(config_garbage, every_single_byte)
{
	unsigned int b;

	for (b = 0; b < 256; b++) {
		char c = (char)b;

		survive(&c, 1);
	}
}

/* Each prefix of a valid file, and the file with one byte flipped at each
 * position: truncations and typos of every kind. */
Test(config_garbage, truncated_and_mutated_valid_file)
{
	const char *yaml =
		HEAD "mode: native\nencap_source: {ipv4: 10.0.0.1}\n"
		     "vips:\n" VIP_WEB "        weight: 7\n"
		     "  - {name: b, address: 'fc00::1', port: 0, "
		     "protocol: udp, backends: [{address: fc00::2}]}\n";
	size_t len = strlen(yaml), i;
	char *buf = malloc(len);
	static const char flips[] = { '\0', '\xff', ':', '-',  '[', '{',  '\'',
				      '"',  '&',    '*', '\t', ' ', '\n', '#' };

	cr_assert_not_null(buf);
	for (i = 0; i <= len; i++)
		survive(yaml, i);
	for (i = 0; i < len; i++) {
		size_t k;

		for (k = 0; k < sizeof(flips); k++) {
			memcpy(buf, yaml, len);
			buf[i] = flips[k];
			survive(buf, len);
		}
	}
	free(buf);
}

Test(config_garbage, binary_fixture_file)
{
	struct xlb_config cfg;
	struct xlb_diag diag;

	cr_assert_eq(xlb_config_load(FIXTURES "/garbage.bin", &cfg, &diag),
		     -EINVAL);
	cr_assert_eq(diag.n, 1);
	cr_assert_str_eq(
		diag.msgs[0], FIXTURES
		"/garbage.bin:1:1: error: invalid input: invalid leading UTF-8 octet (0x89); an xlb config must be UTF-8 text");
	xlb_diag_free(&diag);
}

Test(config_garbage, null_buffer)
{
	struct xlb_config cfg;
	struct xlb_diag diag;

	cr_assert_eq(xlb_config_parse(NULL, NULL, 10, &cfg, &diag), -EINVAL);
	cr_assert_eq(diag.n, 1);
	cr_assert_str_eq(
		diag.msgs[0],
		"<config>:1:1: error: the file is empty; an xlb config needs at least 'interface' and 'vips' (see docs/config.md)");
	xlb_diag_free(&diag);
}

/* ---- Files -------------------------------------------------------------- */

static void expect_load_error(const char *path, int err, const char *msg)
{
	struct xlb_config cfg;
	struct xlb_diag diag;
	int r = xlb_config_load(path, &cfg, &diag);

	cr_assert_eq(r, err, "%s: %d, want %d", path, r, err);
	cr_assert_eq(diag.n, 1);
	cr_assert_str_eq(diag.msgs[0], msg);
	cr_assert_eq(cfg.n_vips, 0);
	xlb_diag_free(&diag);
}

Test(config_file, directory_rejected)
{
	expect_load_error(
		FIXTURES, -EISDIR,
		FIXTURES
		": error: is a directory, not a regular file; give the path of a YAML config file");
}

Test(config_file, device_rejected)
{
	expect_load_error(
		"/dev/null", -ENODEV,
		"/dev/null: error: is a character device, not a regular file; give the path of a YAML config file");
}

Test(config_file, fifo_rejected_without_hanging)
{
	char dir[] = "/tmp/xlb-cfgtest-XXXXXX", path[64];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	{
		char want[160];

		snprintf(
			want, sizeof(want),
			"%s: error: is a pipe, not a regular file; give the path of a YAML config file",
			path);
		expect_load_error(path, -ENODEV, want);
	}
	unlink(path);
	rmdir(dir);
}

Test(config_file, missing_file)
{
	expect_load_error(
		"/nonexistent/xlb.yaml", -ENOENT,
		"/nonexistent/xlb.yaml: error: cannot open: No such file or directory; check the path and its permissions");
}

Test(config_file, too_large_rejected)
{
	char path[] = "/tmp/xlb-cfgtest-XXXXXX", want[256];
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	/* Sparse: 16 MiB + 1 byte costs no disk. */
	cr_assert_eq(ftruncate(fd, (16 << 20) + 1), 0);
	close(fd);
	snprintf(
		want, sizeof(want),
		"%s: error: is 16777217 bytes, more than the 16777216-byte (16 MiB) limit for a config; check that this is the right file",
		path);
	expect_load_error(path, -EFBIG, want);
	unlink(path);
}

Test(config_file, exactly_16_mib_is_read)
{
	/* A file of the largest allowed size, all comment: read, then
	 * rejected for its content, not its size. */
	char path[] = "/tmp/xlb-cfgtest-XXXXXX", want[256];
	size_t size = 16 << 20;
	char *buf = malloc(size);
	int fd = mkstemp(path);

	cr_assert_not_null(buf);
	cr_assert_geq(fd, 0);
	memset(buf, ' ', size);
	buf[0] = '#';
	buf[size - 1] = '\n';
	cr_assert_eq(write(fd, buf, size), (ssize_t)size);
	close(fd);
	free(buf);
	snprintf(
		want, sizeof(want),
		"%s:1:1: error: the file is empty; an xlb config needs at least 'interface' and 'vips' (see docs/config.md)",
		path);
	expect_load_error(path, -EINVAL, want);
	unlink(path);
}

/* ---- xlbctl check ------------------------------------------------------- */

static int check(const char *path, char **out)
{
	size_t len = 0;
	FILE *f = open_memstream(out, &len);
	int r;

	cr_assert_not_null(f);
	r = xlb_config_check_file(path, f);
	fclose(f);
	return r;
}

Test(config_check, valid_file_prints_ok)
{
	char *out = NULL;

	cr_assert_eq(check(XLB_SOURCE_DIR "/configs/minimal.yaml", &out), 0);
	cr_assert_str_eq(out, XLB_SOURCE_DIR
			 "/configs/minimal.yaml: ok: 1 VIPs, 2 backends\n");
	free(out);
}

Test(config_check, invalid_file_prints_every_error)
{
	char *out = NULL;

	cr_assert_eq(check(FIXTURES "/many-errors.yaml", &out), 1);
	cr_assert(strstr(out,
			 "many-errors.yaml:5:7: error: invalid mode 'fast'"));
	cr_assert(strstr(
		out,
		"many-errors.yaml:22:15: error: vip 'web' has no backends"));
	cr_assert_null(strstr(out, ": ok:"));
	free(out);
	cr_assert_eq(check(FIXTURES, &out), 1);
	cr_assert_str_eq(
		out, FIXTURES
		": error: is a directory, not a regular file; give the path of a YAML config file\n");
	free(out);
}
