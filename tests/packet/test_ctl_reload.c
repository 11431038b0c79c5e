/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xlbctl end to end: load on a veth in a throw-away netns, pins, packets
 * through the attached program (BPF_PROG_TEST_RUN on the pinned prog),
 * reloads that add/remove/drain/down backends, a refused reload that must
 * leave every map byte-identical, stats, unload, and the reload time of
 * 512 VIPs x 100 backends. Needs root. */
#define _GNU_SOURCE /* qsort_r */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include "pkt.h"
#include "xlb_abi.h"

#define XLBCTL XLB_BINARY_DIR "/ctl/xlbctl"
/* Test flows per phase: enough that each of 4 backends gets some. */
#define NFLOWS 400

static char ns_lb[32], ns_gw[32], ifname[16], peer[16], if2[16], dir[128];
static char cfgpath[128];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	return r == -1 ? -1 : WEXITSTATUS(r);
}

/* Run xlbctl inside the balancer's netns (nsenter, not `ip netns exec`:
 * that remounts /sys, and pins made there would be lost). Output (stdout
 * and stderr) goes to @out. Returns the exit status. */
static int ctl(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int ctl(char *out, size_t len, const char *fmt, ...)
{
	char args[512], cmd[1024];
	size_t n = 0;
	va_list ap;
	FILE *f;
	int r;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "nsenter --net=/run/netns/%s %s %s 2>&1",
		 ns_lb, XLBCTL, args);
	f = popen(cmd, "r");
	cr_assert(f, "popen %s", cmd);
	if (out && len) {
		n = fread(out, 1, len - 1, f);
		out[n] = '\0';
	} else {
		char sink[4096];

		while (fread(sink, 1, sizeof(sink), f) > 0)
			;
	}
	r = pclose(f);
	return WEXITSTATUS(r);
}

static void setup(void)
{
	int id = getpid() % 100000;

	snprintf(ns_lb, sizeof(ns_lb), "xct%dlb", id);
	snprintf(ns_gw, sizeof(ns_gw), "xct%dgw", id);
	snprintf(ifname, sizeof(ifname), "xct%da", id);
	snprintf(peer, sizeof(peer), "xct%db", id);
	snprintf(if2, sizeof(if2), "xct%dc", id);
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/xlb/%s", ifname);
	snprintf(cfgpath, sizeof(cfgpath), "/tmp/xct%d.yaml", id);
	cr_assert_eq(geteuid(), 0, "these tests need root (netns, XDP)");
	cr_assert_eq(
		sh("mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf"),
		0);
	cr_assert_eq(sh("ip netns add %s && ip netns add %s", ns_lb, ns_gw), 0);
	cr_assert_eq(
		sh("ip link add %s netns %s type veth peer name %s netns %s",
		   ifname, ns_lb, peer, ns_gw),
		0);
	cr_assert_eq(sh("ip -n %s link set %s up && ip -n %s link set %s up && "
			"ip -n %s addr add 192.0.2.1/24 dev %s && "
			"ip -n %s addr add 192.0.2.2/24 dev %s && "
			"ip -n %s route add default via 192.0.2.2",
			ns_lb, ifname, ns_gw, peer, ns_lb, ifname, ns_gw, peer,
			ns_lb),
		     0);
}

static void teardown(void)
{
	ctl(NULL, 0, "unload -i %s", ifname);
	ctl(NULL, 0, "unload -i %s", if2);
	sh("rm -rf %s /sys/fs/bpf/xlb/%s 2>/dev/null; rmdir /sys/fs/bpf/xlb 2>/dev/null",
	   dir, if2);
	sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", ns_lb,
	   ns_gw);
	unlink(cfgpath);
}

TestSuite(ctl, .init = setup, .fini = teardown, .timeout = 600);

/* ---- Configs ------------------------------------------------------------ */

struct be {
	int last; /* 10.1.0.<last> */
	const char *state; /* NULL: active */
	int weight; /* 0: default */
};

/* One VIP 10.0.0.10:80/tcp ("web") with @n backends, and two that no
 * reload here touches: "dns" (10.0.0.53:53/udp) and "web6"
 * ([fc00::10]:443/tcp). */
static void write_cfg(const char *table, const struct be *b, int n)
{
	FILE *f = fopen(cfgpath, "w");

	cr_assert(f);
	fprintf(f,
		"interface: %s\nmaglev_table_size: %s\nconntrack_size: 65536\n"
		"vips:\n  - name: web\n    address: 10.0.0.10\n    port: 80\n"
		"    protocol: tcp\n    backends:\n",
		ifname, table);
	for (int i = 0; i < n; i++) {
		fprintf(f, "      - address: 10.1.0.%d\n", b[i].last);
		if (b[i].state)
			fprintf(f, "        state: %s\n", b[i].state);
		if (b[i].weight)
			fprintf(f, "        weight: %d\n", b[i].weight);
	}
	fprintf(f, "  - name: dns\n    address: 10.0.0.53\n    port: 53\n"
		   "    protocol: udp\n    backends:\n"
		   "      - address: 10.2.0.1\n      - address: 10.2.0.2\n"
		   "  - name: web6\n    address: fc00::10\n    port: 443\n"
		   "    protocol: tcp\n    backends:\n"
		   "      - address: fc00:1::1\n      - address: fc00:1::2\n");
	fclose(f);
}

/* ---- Packets through the pinned program ----------------------------------- */

static int prog_fd = -1;

static void open_prog(void)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/prog", dir);
	prog_fd = bpf_obj_get(p);
	cr_assert(prog_fd >= 0, "bpf_obj_get(%s): %s", p, strerror(errno));
}

/* Run one TCP packet of flow @sport (client 198.51.100.7) to web through
 * the pinned program: its action, and for XDP_TX the IPv4 output in @out
 * (PKT_MAX bytes) and its parse in @v. */
static int run_web(uint16_t sport, uint8_t flags, uint8_t *out,
		   struct pkt_view *v)
{
	struct pkt_simple s = { .family = 4,
				.proto = 6,
				.sport = sport,
				.dport = 80,
				.tcp_flags = flags,
				.payload = 20 };
	static struct pkt p;
	LIBBPF_OPTS(bpf_test_run_opts, o);
	int err;

	pkt_addr("198.51.100.7", s.src);
	pkt_addr("10.0.0.10", s.dst);
	pkt_simple(&p, &s);
	o.data_in = p.data;
	o.data_size_in = (__u32)p.len;
	o.data_out = out;
	o.data_size_out = PKT_MAX;
	o.repeat = 1;
	err = bpf_prog_test_run_opts(prog_fd, &o);
	cr_assert_eq(err, 0, "BPF_PROG_TEST_RUN: %s", strerror(-err));
	if (o.retval == XDP_TX)
		cr_assert(pkt_parse(out, o.data_size_out, v) && v->family == 4,
			  "output is not IPv4");
	return (int)o.retval;
}

/* Send one TCP packet of flow @sport to web; return the last byte of the
 * backend address it was encapsulated to, or -action if it was not
 * transmitted. */
static int send_tcp(uint16_t sport, uint8_t flags)
{
	uint8_t out[PKT_MAX];
	struct pkt_view v;
	int act = run_web(sport, flags, out, &v);

	if (act != XDP_TX)
		return -act;
	cr_assert_eq(v.proto, IPPROTO_IPIP);
	cr_assert_eq(pkt_get32(out + v.l3_off + 16) & 0xffffff00, 0x0a010000,
		     "outer dst not in 10.1.0.0/24");
	return out[v.l3_off + 19];
}

/* Send one IPv6 TCP packet of flow @sport to web6; return the last byte
 * of the backend it was encapsulated to (IP6IP6), or -action. */
static int send_tcp6(uint16_t sport)
{
	struct pkt_simple s = {
		.family = 6, .proto = 6, .sport = sport, .dport = 443
	};
	static struct pkt p;
	uint8_t out[PKT_MAX];
	struct pkt_view v;
	LIBBPF_OPTS(bpf_test_run_opts, o);
	uint8_t want[16];

	pkt_addr("2001:db8::7", s.src);
	pkt_addr("fc00::10", s.dst);
	pkt_simple(&p, &s);
	o.data_in = p.data;
	o.data_size_in = (__u32)p.len;
	o.data_out = out;
	o.data_size_out = sizeof(out);
	o.repeat = 1;
	cr_assert_eq(bpf_prog_test_run_opts(prog_fd, &o), 0);
	if (o.retval != XDP_TX)
		return -(int)o.retval;
	cr_assert(pkt_parse(out, o.data_size_out, &v) && v.family == 6,
		  "output is not IPv6");
	cr_assert_eq(v.proto, IPPROTO_IPV6);
	pkt_addr("fc00:1::", want);
	cr_assert_eq(memcmp(out + v.l3_off + 24, want, 15), 0,
		     "outer dst not in fc00:1::/120");
	return out[v.l3_off + 39];
}

/* ---- Map dumps ----------------------------------------------------------- */

struct blob {
	uint8_t *b;
	size_t n;
};

static void put(struct blob *d, const void *p, size_t n)
{
	d->b = realloc(d->b, d->n + n);
	cr_assert(d->b);
	memcpy(d->b + d->n, p, n);
	d->n += n;
}

static int pinned(const char *name)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = bpf_obj_get(p);
	cr_assert(fd >= 0, "bpf_obj_get(%s): %s", p, strerror(errno));
	return fd;
}

static int cmp_mem(const void *a, const void *b, void *n)
{
	return memcmp(a, b, *(size_t *)n);
}

/* Every key and value of map @name, keys sorted (hash order may differ
 * for equal contents); for xlb_rings the inner map ids and contents. */
static void dump_map(struct blob *d, const char *name)
{
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info);
	int fd = pinned(name);
	uint8_t *keys, *k, *prev = NULL;
	size_t n = 0, ks;

	cr_assert_eq(bpf_obj_get_info_by_fd(fd, &info, &ilen), 0);
	ks = info.key_size;
	keys = calloc(info.max_entries + 1, ks);
	k = keys;
	while (!bpf_map_get_next_key(fd, prev, k)) {
		prev = k;
		k += ks;
		n++;
	}
	qsort_r(keys, n, ks, cmp_mem, &ks);
	put(d, name, strlen(name));
	for (size_t i = 0; i < n; i++) {
		uint8_t val[4096];
		__u32 vs = info.value_size;

		put(d, keys + i * ks, ks);
		if (info.type == BPF_MAP_TYPE_ARRAY_OF_MAPS) {
			__u32 id;
			struct bpf_map_info ii = {};
			__u32 il = sizeof(ii);
			int ifd;
			uint32_t *ring;

			if (bpf_map_lookup_elem(fd, keys + i * ks, &id))
				continue; /* empty slot */
			put(d, &id, sizeof(id));
			ifd = bpf_map_get_fd_by_id(id);
			cr_assert(ifd >= 0);
			cr_assert_eq(bpf_obj_get_info_by_fd(ifd, &ii, &il), 0);
			ring = calloc(ii.max_entries, ii.value_size);
			for (__u32 s = 0; s < ii.max_entries; s++)
				cr_assert_eq(
					bpf_map_lookup_elem(
						ifd, &s,
						(char *)ring +
							(size_t)s *
								ii.value_size),
					0);
			put(d, ring, (size_t)ii.max_entries * ii.value_size);
			free(ring);
			close(ifd);
			continue;
		}
		cr_assert(vs <= sizeof(val));
		cr_assert_eq(bpf_map_lookup_elem(fd, keys + i * ks, val), 0,
			     "%s lookup", name);
		put(d, val, vs);
	}
	free(keys);
	close(fd);
}

static void dump_all(struct blob *d)
{
	static const char *maps[] = { "xlb_cfg",       "xlb_vips",
				      "xlb_vip_addrs", "xlb_rings",
				      "xlb_backends",  "xlb_vip_meta" };

	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		dump_map(d, maps[i]);
}

/* ---- Tests ---------------------------------------------------------------- */

Test(ctl, load_pins_status_unload)
{
	struct be b[] = { { 1 }, { 2 } };
	char out[8192];
	struct stat st;

	write_cfg("251", b, 2);
	cr_assert_eq(ctl(out, sizeof(out), "check %s", cfgpath), 0, "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert(strstr(out, "loaded on"), "%s", out);
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700, "pin dir mode %o",
		     st.st_mode & 0777);
	static const char *pins[] = { "prog",		"xlb_cfg",
				      "xlb_vips",	"xlb_vip_addrs",
				      "xlb_rings",	"xlb_backends",
				      "xlb_conntrack4", "xlb_conntrack6",
				      "xlb_stats",	"xlb_vip_stats",
				      "xlb_be_stats",	"xlb_vip_meta" };
	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		char p[256];

		snprintf(p, sizeof(p), "%s/%s", dir, pins[i]);
		cr_assert_eq(stat(p, &st), 0, "missing pin %s", p);
		cr_assert_eq(st.st_mode & 0777, 0600, "%s mode %o", p,
			     st.st_mode & 0777);
	}
	cr_assert_eq(
		sh("ip -n %s link show %s | grep -q 'prog/xdp'", ns_lb, ifname),
		0, "no XDP program on %s", ifname);

	/* Loading twice and loading over a foreign program are refused. */
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfgpath), 1);
	cr_assert(strstr(out, "already loaded"), "%s", out);

	cr_assert_eq(ctl(out, sizeof(out), "status -i %s", ifname), 0, "%s",
		     out);
	cr_assert(strstr(out, "maglev_table_size: 251"), "%s", out);
	cr_assert(strstr(out, "10.1.0.2"), "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "status -i %s --json", ifname), 0);
	cr_assert(strstr(out, "\"name\": \"web\""), "%s", out);
	cr_assert(strstr(out, "\"attached\": true"), "%s", out);

	cr_assert_eq(ctl(out, sizeof(out), "unload -i %s", ifname), 0, "%s",
		     out);
	cr_assert(strstr(out, "unloaded from"), "%s", out);
	cr_assert_neq(stat(dir, &st), 0, "%s still exists", dir);
	cr_assert_neq(
		sh("ip -n %s link show %s | grep -q 'prog/xdp'", ns_lb, ifname),
		0, "XDP program left on %s", ifname);
	cr_assert_eq(ctl(out, sizeof(out), "unload -i %s", ifname), 0);
	cr_assert(strstr(out, "nothing loaded on"), "%s", out);

	/* Another XDP program attached: refused, named. */
	/* (bpftool and a pin, not `ip ... obj`: that leaves iproute2's
	 * directories in bpffs behind; nsenter, not `ip -n`, which remounts
	 * /sys and so cannot see the pin) */
	cr_assert_eq(
		sh("bpftool prog load %s/pass.bpf.o /sys/fs/bpf/%s_foreign type xdp && "
		   "nsenter --net=/run/netns/%s ip link set dev %s xdpgeneric pinned /sys/fs/bpf/%s_foreign; "
		   "r=$?; rm -f /sys/fs/bpf/%s_foreign; exit $r",
		   XLB_BPF_DIR, ifname, ns_lb, ifname, ifname, ifname),
		0);
	cr_assert_eq(
		ctl(out, sizeof(out), "load -c %s --mode generic", cfgpath), 1);
	cr_assert(strstr(out, "already has XDP program id"), "%s", out);
	cr_assert_neq(stat(dir, &st), 0, "refused load left %s", dir);
	sh("ip -n %s link set dev %s xdpgeneric off", ns_lb, ifname);
}

/* The first line @cmd prints, in @buf. */
static void first_line(char *buf, size_t len, const char *cmd)
{
	FILE *f = popen(cmd, "r");

	cr_assert(f && fgets(buf, (int)len, f), "no output from %s", cmd);
	pclose(f);
}

/* "prog/xdp id N" of the XDP program on the interface under test, and a
 * digest of its backend slots, in @buf. */
static void running_state(char *buf, size_t len)
{
	char cmd[512], prog[64];

	snprintf(cmd, sizeof(cmd),
		 "nsenter --net=/run/netns/%s ip -o link show %s | "
		 "grep -o 'prog/xdp id [0-9]*'",
		 ns_lb, ifname);
	first_line(prog, sizeof(prog), cmd);
	snprintf(cmd, sizeof(cmd),
		 "bpftool map dump pinned %s/xlb_backends | sha1sum", dir);
	first_line(buf, len, cmd);
	strncat(buf, prog, len - strlen(buf) - 1);
}

/* An instance whose connection tables are the pre-chunk single ARRAY (an
 * older xlbctl loaded it): status and reload refuse it and say how to
 * upgrade; the reload changes nothing. */
Test(ctl, older_instance_refused)
{
	struct be b[] = { { 1 }, { 2 } }, b3[] = { { 1 }, { 2 }, { 3 } };
	char out[8192], state0[160], state1[160];

	write_cfg("251", b, 2);
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert_eq(sh("rm %s/xlb_conntrack4 && bpftool map create "
			"%s/xlb_conntrack4 type array key 4 value 64 "
			"entries 8 name xlb_conntrack4 flags 0x400",
			dir, dir),
		     0);
	running_state(state0, sizeof(state0));

	cr_assert_eq(ctl(out, sizeof(out), "status -i %s", ifname), 1, "%s",
		     out);
	cr_assert(strstr(out, "was loaded by an older xlbctl") &&
			  strstr(out, "Upgrade xlb itself"),
		  "%s", out);
	write_cfg("251", b3, 3);
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 1, "%s",
		     out);
	cr_assert(strstr(out, "was loaded by an older xlbctl"), "%s", out);
	running_state(state1, sizeof(state1));
	cr_assert_str_eq(state0, state1,
			 "the refused reload changed the program or its "
			 "backends");
}

/* Two instances: commands without -i refuse and name both; -i picks. */
Test(ctl, several_instances)
{
	char if2[16], cfg2[160], out[8192];
	struct be b[] = { { 1 } };

	snprintf(if2, sizeof(if2), "%.10sc", ifname);
	snprintf(cfg2, sizeof(cfg2), "%s.2.yaml", cfgpath);
	cr_assert_eq(
		sh("ip -n %s link add %s type veth peer name %.10sd && "
		   "ip -n %s link set %s up && ip -n %s link set %.10sd up",
		   ns_lb, if2, ifname, ns_lb, if2, ns_lb, ifname),
		0);
	write_cfg("251", b, 1);
	FILE *f = fopen(cfg2, "w");
	fprintf(f,
		"interface: %s\nmode: generic\ngateway_mac: 02:00:00:00:00:fe\n"
		"maglev_table_size: 13\nconntrack_size: 128\nvips:\n"
		"  - name: other\n    address: 10.9.0.1\n    port: 0\n"
		"    protocol: udp\n    backends:\n      - address: 10.9.1.1\n",
		if2);
	fclose(f);
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfg2), 0, "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "status"), 1, "%s", out);
	cr_assert(strstr(out, "several instances loaded:") &&
			  strstr(out, ifname) && strstr(out, if2),
		  "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "stats"), 1, "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "status -i %s", if2), 0, "%s", out);
	cr_assert(strstr(out, "maglev_table_size: 13") &&
			  strstr(out, "other 10.9.0.1:*/udp"),
		  "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "unload -i %s", if2), 0, "%s", out);
	cr_assert_eq(access(dir, F_OK), 0, "unloading %s removed %s", if2, dir);
	cr_assert_eq(ctl(out, sizeof(out), "status -i %s", ifname), 0, "%s",
		     out);
	unlink(cfg2);
}

Test(ctl, usage_and_invalid)
{
	char out[8192];

	cr_assert_eq(ctl(out, sizeof(out), "load"), 2, "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "frobnicate"), 2, "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "stats -i %s --watch x", ifname), 2,
		     "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "status -i %s", ifname), 1, "%s",
		     out);
	/* a name no interface can have is a usage error, as documented */
	for (int i = 0; i < 3; i++) {
		static const char *const cmd[] = { "unload", "status",
						   "stats" };

		cr_assert_eq(ctl(out, sizeof(out), "%s -i abcdefghijklmnopq",
				 cmd[i]),
			     2, "%s: %s", cmd[i], out);
		cr_assert(strstr(out, "is too long: Linux names are 1..15"),
			  "%s", out);
	}
	cr_assert_eq(ctl(out, sizeof(out), "check --help"), 0);
	cr_assert(strstr(out, "EXIT STATUS"), "%s", out);
	FILE *f = fopen(cfgpath, "w");
	fprintf(f, "interface: %s\nvips: [\n", ifname);
	fclose(f);
	cr_assert_eq(ctl(out, sizeof(out), "check %s", cfgpath), 1, "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfgpath), 1, "%s",
		     out);
	cr_assert_eq(access(dir, F_OK), -1);
}

/* Id of the inner map that is VIP @vip_id's ring now. */
static __u32 ring_id(__u32 vip_id)
{
	int rings = pinned("xlb_rings");
	__u32 id = 0;

	cr_assert_eq(bpf_map_lookup_elem(rings, &vip_id, &id), 0,
		     "no ring for VIP id %u", vip_id);
	close(rings);
	return id;
}

/* Ring slots of VIP @vip_id per backend (by last address byte, via the
 * backend slot the ring names). */
static void ring_counts(uint32_t vip_id, int *per)
{
	int rings = pinned("xlb_rings"), bes = pinned("xlb_backends");
	struct bpf_map_info ii = {};
	__u32 il = sizeof(ii), id, v;
	struct xlb_backend b;
	int ifd;

	cr_assert_eq(bpf_map_lookup_elem(rings, &vip_id, &id), 0);
	ifd = bpf_map_get_fd_by_id(id);
	cr_assert(ifd >= 0);
	cr_assert_eq(bpf_obj_get_info_by_fd(ifd, &ii, &il), 0);
	/* two slots per element; the last half of an odd ring is unused */
	for (__u32 s = 0; s < ii.max_entries * 2 - 1; s++) {
		struct xlb_ring_pair p;
		__u32 e = s / 2;

		cr_assert_eq(bpf_map_lookup_elem(ifd, &e, &p), 0);
		v = p.slot[s & 1];
		cr_assert_neq(v, 0xffffffffU, "ring slot %u empty", s);
		v &= XLB_RING_ID_MASK;
		cr_assert_eq(bpf_map_lookup_elem(bes, &v, &b), 0);
		per[ntohl(b.addr[0]) & 0xff]++;
	}
	close(ifd);
	close(rings);
	close(bes);
}

/* Which backend each of NFLOWS flows (sport 10000+i) goes to. */
static void send_all(int *got, uint8_t flags)
{
	for (int i = 0; i < NFLOWS; i++)
		got[i] = send_tcp((uint16_t)(10000 + i), flags);
}

Test(ctl, reload_moves_only_what_it_must)
{
	int before[NFLOWS], after[NFLOWS], fresh[NFLOWS], seen[256] = { 0 };
	struct blob d1, d2;
	char out[8192];

	struct be b1[] = { { 1 }, { 2 }, { 3 }, { 4 } };
	write_cfg("251", b1, 4);
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfgpath), 0, "%s",
		     out);
	open_prog();

	/* The ring is Maglev's: 251 slots over 4 equal backends. */
	int per[5] = { 0 };
	ring_counts(0, per);
	for (int k = 1; k <= 4; k++)
		cr_assert(per[k] == 62 || per[k] == 63,
			  "backend .%d has %d of 251 ring slots", k, per[k]);

	/* Established flows (ACK inserts in the connection table). */
	send_all(before, 0);
	for (int i = 0; i < NFLOWS; i++) {
		cr_assert(before[i] >= 1 && before[i] <= 4, "flow %d: got %d",
			  i, before[i]);
		seen[before[i]]++;
	}
	for (int k = 1; k <= 4; k++)
		cr_assert(seen[k] > NFLOWS / 10, "backend %d got %d flows", k,
			  seen[k]);

	/* IPv6: IP6IP6 to both backends of web6. */
	int seen6[3] = { 0 };
	for (int i = 0; i < 64; i++) {
		int r = send_tcp6((uint16_t)(20000 + i));

		cr_assert(r == 1 || r == 2, "IPv6 flow %d went to %d", i, r);
		seen6[r]++;
	}
	cr_assert(seen6[1] && seen6[2], "IPv6 flows: %d/%d", seen6[1],
		  seen6[2]);

	/* Stats match what was sent. */
	cr_assert_eq(ctl(out, sizeof(out), "stats -i %s --json", ifname), 0,
		     "%s", out);
	char want[64];
	snprintf(want, sizeof(want), "\"web\": {\"packets\": %d,", NFLOWS);
	cr_assert(strstr(out, want), "want %s in %s", want, out);
	snprintf(want, sizeof(want), "\"10.1.0.3\": {\"packets\": %d,",
		 seen[3]);
	cr_assert(strstr(out, want), "want %s in %s", want, out);
	cr_assert_eq(ctl(out, sizeof(out), "stats -i %s --prometheus", ifname),
		     0);
	snprintf(want, sizeof(want), "xlb_vip_packets_total{vip=\"web\"} %d\n",
		 NFLOWS);
	cr_assert(strstr(out, want), "want %s in %s", want, out);

	/* A refused reload changes nothing, byte for byte: a broken file, a
	 * fixed setting, and an unresolvable interface. */
	dump_all(&d1);
	FILE *f = fopen(cfgpath, "w");
	fprintf(f, "interface: %s\nvips:\n  - name: [\n", ifname);
	fclose(f);
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 1, "%s",
		     out);
	cr_assert(strstr(out, "nothing was changed"), "%s", out);
	struct be b2[] = { { 1 }, { 9 } };
	write_cfg("257", b2, 2);
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 1, "%s",
		     out);
	cr_assert(
		strstr(out,
		       "maglev_table_size changed from 251 to 257: this needs `xlbctl unload` then `xlbctl load`"),
		"%s", out);
	dump_all(&d2);
	cr_assert_eq(d1.n, d2.n, "map dump size changed");
	cr_assert_eq(memcmp(d1.b, d2.b, d1.n), 0,
		     "maps changed by a refused reload");
	free(d2.b);

	/* An unchanged file: nothing written either. */
	write_cfg("251", b1, 4);
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert(strstr(out, "no changes"), "%s", out);
	dump_all(&d2);
	cr_assert(d1.n == d2.n && !memcmp(d1.b, d2.b, d1.n),
		  "maps changed by a no-op reload");
	free(d1.b);
	free(d2.b);

	/* Remove .4, drain .3, add .5: web gets a new ring, the others keep
	 * theirs (same inner map). */
	__u32 ring_web = ring_id(0), ring_dns = ring_id(1),
	      ring_v6 = ring_id(2);
	struct be b3[] = { { 1 }, { 2 }, { 3, "drain" }, { 5 } };
	write_cfg("251", b3, 4);
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert_neq(ring_id(0), ring_web, "web's ring was not swapped");
	cr_assert_eq(ring_id(1), ring_dns, "dns's ring was touched");
	cr_assert_eq(ring_id(2), ring_v6, "web6's ring was touched");
	cr_assert(
		strstr(out,
		       "1 VIP changed, 1 backend added, 1 backend removed, 1 backend changed, 1 ring rebuilt"),
		"%s", out);
	send_all(after, 0);
	int moved_kept = 0, moved4 = 0;
	for (int i = 0; i < NFLOWS; i++) {
		if (before[i] == 4) {
			cr_assert(after[i] == 1 || after[i] == 2 ||
					  after[i] == 5,
				  "flow %d of removed .4 went to %d", i,
				  after[i]);
			moved4++;
		} else if (after[i] != before[i]) {
			moved_kept++;
		}
	}
	cr_assert_eq(moved_kept, 0,
		     "%d established flows of kept/drained backends moved",
		     moved_kept);
	cr_assert_eq(moved4, seen[4]);
	/* New flows avoid the drained and the removed backend. */
	for (int i = 0; i < NFLOWS; i++) {
		fresh[i] = send_tcp((uint16_t)(30000 + i), PKT_TCP_SYN);
		cr_assert(fresh[i] == 1 || fresh[i] == 2 || fresh[i] == 5,
			  "new flow %d went to %d", i, fresh[i]);
	}
	/* A client that reuses the port of a flow on drained .3 opens a new
	 * connection: its SYN finds the old entry on a changed slot and
	 * still avoids .3 (xlbctl cleared XLB_BE_F_NEW), and the handshake's
	 * ACK follows the SYN. */
	for (int i = 0; i < NFLOWS; i++) {
		int syn, ack;

		if (before[i] != 3)
			continue;
		syn = send_tcp((uint16_t)(10000 + i), PKT_TCP_SYN);
		cr_assert(syn == 1 || syn == 2 || syn == 5,
			  "new connection on flow %d's port went to %d", i,
			  syn);
		ack = send_tcp((uint16_t)(10000 + i), PKT_TCP_ACK);
		cr_assert_eq(ack, syn, "flow %d: SYN to %d, its ACK to %d", i,
			     syn, ack);
	}

	/* .3 down: its established flows move too. */
	struct be b4[] = { { 1 }, { 2 }, { 3, "down" }, { 5 } };
	write_cfg("251", b4, 4);
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert(strstr(out, "1 backend changed"), "%s", out);
	cr_assert(strstr(out, "ring") == NULL,
		  "drain -> down must not rebuild the ring: %s", out);
	cr_assert_eq(ctl(out, sizeof(out), "status -i %s --json", ifname), 0);
	cr_assert(
		strstr(out,
		       "{\"address\": \"10.1.0.3\", \"state\": \"down\", \"weight\": 100, \"slot\": 2, \"gen\": 2,"),
		"down backend keeps its slot with a new generation: %s", out);
	send_all(after, 0);
	for (int i = 0; i < NFLOWS; i++)
		if (before[i] == 3)
			cr_assert(after[i] == 1 || after[i] == 2 ||
					  after[i] == 5,
				  "flow %d of down .3 went to %d", i, after[i]);
		else if (before[i] != 4)
			cr_assert_eq(after[i], before[i], "flow %d moved", i);

	/* Every backend down: an empty ring, the VIP drops. */
	struct be b5[] = { { 1, "down" }, { 2, "down" }, { 5, "drain" } };
	write_cfg("251", b5, 3);
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert_eq(send_tcp(50000, PKT_TCP_SYN), -XDP_DROP);

	close(prog_fd);
	cr_assert_eq(ctl(out, sizeof(out), "unload -i %s", ifname), 0, "%s",
		     out);
	cr_assert_eq(access(dir, F_OK), -1);
}

/* ---- Ring slot marks (XLB_RING_F_CHANGED) ------------------------------- */

#define MRING 251

/* A reload killed after it wrote the backends and before it swapped the
 * ring (as robust_reload's SIGKILLs found): the next reload of the same
 * file finds the backends already as the file says, yet must rebuild the
 * ring they no longer describe. Here the kill's leftovers are written by
 * hand: .3 set to drain in its slot, the ring left alone. */
Test(ctl, reload_after_interrupted_reload_converges)
{
	struct be b1[] = { { 1 }, { 2 }, { 3 } };
	struct be b2[] = { { 1 }, { 2 }, { 3, "drain" } };
	int per[5] = { 0 }, bes;
	struct xlb_backend b;
	char out[8192];
	__u32 s;

	write_cfg("251", b1, 3);
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfgpath), 0, "%s",
		     out);
	bes = pinned("xlb_backends");
	for (s = 0; s < XLB_MAX_BACKENDS; s++) {
		cr_assert_eq(bpf_map_lookup_elem(bes, &s, &b), 0);
		if ((b.flags & XLB_BE_F_IN_USE) &&
		    b.addr[0] == htonl(0x0a010003))
			break;
	}
	cr_assert_lt(s, XLB_MAX_BACKENDS, "no slot holds 10.1.0.3");
	b.state = XLB_BE_STATE_DRAIN;
	b.flags &= (__u8)~XLB_BE_F_NEW;
	cr_assert_eq(bpf_map_update_elem(bes, &s, &b, 0), 0);
	close(bes);
	ring_counts(0, per);
	cr_assert_gt(per[3], 0, "the interrupted reload's ring names .3");

	write_cfg("251", b2, 3);
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert(strstr(out, "VIP web: its ring was not built from its "
			      "backends"),
		  "%s", out);
	cr_assert(strstr(out, "1 ring rebuilt"), "%s", out);
	memset(per, 0, sizeof(per));
	ring_counts(0, per);
	cr_assert_eq(per[3], 0, "the draining .3 still owns %d ring slots",
		     per[3]);
	cr_assert(per[1] + per[2] == 251, ".1 %d + .2 %d slots", per[1],
		  per[2]);
	/* converged: the next reload finds nothing to do */
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert(strstr(out, "no changes") && !strstr(out, "rebuilding"), "%s",
		  out);
}

/* The outer protocol web's packet of flow @sport leaves with, or -action. */
static int web_outer_proto(uint16_t sport)
{
	uint8_t out[PKT_MAX];
	struct pkt_view v;
	int act = run_web(sport, PKT_TCP_ACK, out, &v);

	return act == XDP_TX ? v.proto : -act;
}

/* A reload killed after it wrote a changed VIP's xlb_vips entry and
 * before it swapped in the VIP index (written here by hand: web's encap
 * set to GUE in xlb_vips only). The next reload of the same file reads
 * the VIP back as the file says, finds no VIP to change, and must still
 * give the datapath the index the VIPs make. */
Test(ctl, reload_after_interrupted_reload_installs_the_index)
{
	struct be b[] = { { 1 }, { 2 } };
	struct xlb_vip_key k, next;
	struct xlb_vip vip;
	char out[8192];
	bool found = false;
	int vips;

	write_cfg("251", b, 2);
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfgpath), 0, "%s",
		     out);
	open_prog();
	cr_assert_eq(web_outer_proto(1000), IPPROTO_IPIP);
	vips = pinned("xlb_vips");
	for (int r = bpf_map_get_next_key(vips, NULL, &next); !r && !found;
	     r = bpf_map_get_next_key(vips, &k, &next)) {
		k = next;
		found = k.addr[0] == htonl(0x0a00000a) && k.port == htons(80);
	}
	cr_assert(found, "no xlb_vips entry for web");
	cr_assert_eq(bpf_map_lookup_elem(vips, &k, &vip), 0);
	vip.encap = XLB_ENCAP_GUE;
	vip.gue_port = htons(XLB_GUE_PORT_DEFAULT);
	cr_assert_eq(bpf_map_update_elem(vips, &k, &vip, 0), 0);
	close(vips);
	cr_assert_eq(web_outer_proto(1000), IPPROTO_IPIP,
		     "the datapath reads the index, not xlb_vips");

	/* web only (web6 is TCP too): the first "protocol: tcp" */
	cr_assert_eq(
		sh("sed -i '0,/^    protocol: tcp$/s//&\\n    encap: gue/' %s",
		   cfgpath),
		0);
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert(strstr(out, "VIP index the datapath reads does not match"),
		  "%s", out);
	cr_assert_eq(web_outer_proto(1000), IPPROTO_UDP, "web is GUE now");
	/* converged: nothing to say the next time */
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert(strstr(out, "no changes") && !strstr(out, "VIP index"), "%s",
		  out);
}

/* A reload killed between writing an added VIP's xlb_vips entry and its
 * name leaves an entry (and an address) no VIP owns, written here by
 * hand. The next reload deletes them. */
Test(ctl, reload_deletes_vip_entries_no_vip_owns)
{
	struct be b[] = { { 1 }, { 2 } };
	struct xlb_vip_key k = { .port = htons(80),
				 .proto = IPPROTO_TCP,
				 .family = XLB_FAMILY_V4 };
	struct xlb_addr_key ak = { .family = XLB_FAMILY_V4 };
	struct xlb_vip vip = { .vip_id = 7 };
	struct xlb_vip_addr va = { .refs = 1 };
	char out[8192];
	int vips, addrs;

	write_cfg("251", b, 2);
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfgpath), 0, "%s",
		     out);
	k.addr[0] = ak.addr[0] = htonl(0x0a000063); /* 10.0.0.99 */
	vips = pinned("xlb_vips");
	addrs = pinned("xlb_vip_addrs");
	cr_assert_eq(bpf_map_update_elem(vips, &k, &vip, 0), 0);
	cr_assert_eq(bpf_map_update_elem(addrs, &ak, &va, 0), 0);
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert(strstr(out, "deleted 1 VIP entry and 1 address no VIP owns"),
		  "%s", out);
	cr_assert_neq(bpf_map_lookup_elem(vips, &k, &vip), 0, "still there");
	cr_assert_neq(bpf_map_lookup_elem(addrs, &ak, &va), 0, "still there");
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert(strstr(out, "no changes") && !strstr(out, "deleted"), "%s",
		  out);
	close(vips);
	close(addrs);
}

/* A reload killed between writing an added VIP's backend slots and its
 * name (or between clearing a removed VIP's name and freeing its slots)
 * leaves slots in use that name a VIP id without a VIP (written here by
 * hand). The next reload frees them with a new generation, so remembered
 * flows cannot match them and a VIP that reuses the id does not adopt
 * them. */
Test(ctl, reload_frees_backend_slots_of_no_vip)
{
	struct be b[] = { { 1 }, { 2 } };
	struct xlb_backend o = {}, got;
	char out[8192];
	__u32 s;
	int bes;

	write_cfg("251", b, 2);
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfgpath), 0, "%s",
		     out);
	bes = pinned("xlb_backends");
	for (s = XLB_MAX_BACKENDS - 1; s > 0; s--) {
		cr_assert_eq(bpf_map_lookup_elem(bes, &s, &got), 0);
		if (!(got.flags & XLB_BE_F_IN_USE))
			break;
	}
	o.addr[0] = htonl(0x0a090909);
	o.family = XLB_FAMILY_V4;
	o.gen = 5;
	o.vip_id = 9; /* no VIP has it: ids 0-2 are used */
	o.weight = 100;
	o.flags = XLB_BE_F_IN_USE | XLB_BE_F_LIVE | XLB_BE_F_NEW;
	cr_assert_eq(bpf_map_update_elem(bes, &s, &o, 0), 0);

	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert(strstr(out, "1 backend slot(s) belong to no VIP"), "%s", out);
	cr_assert_eq(bpf_map_lookup_elem(bes, &s, &got), 0);
	cr_assert_eq(got.flags, 0, "slot %u still in use", s);
	cr_assert_eq(got.gen, 6, "a new generation");
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert(strstr(out, "no changes") && !strstr(out, "no VIP"), "%s",
		  out);
	close(bes);
}

/* An instance with a pin missing (removed by hand) or none at all (a
 * load interrupted before it pinned anything) is still unloaded: the
 * program detached, the directory gone. unload said "nothing loaded",
 * exited 0 and left the program forwarding. */
Test(ctl, unload_removes_incomplete_instances)
{
	struct be b[] = { { 1 }, { 2 } };
	char out[8192];

	write_cfg("251", b, 2);
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert_eq(
		sh("ip -n %s link show %s | grep -q 'prog/xdp'", ns_lb, ifname),
		0, "attached after load");
	cr_assert_eq(sh("rm %s/xlb_vip_meta", dir), 0);
	cr_assert_neq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0);
	cr_assert(strstr(out, "the instance is incomplete") &&
			  !strstr(out, "nothing loaded"),
		  "%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "unload -i %s", ifname), 0, "%s",
		     out);
	cr_assert(strstr(out, "incomplete instance") &&
			  strstr(out, "a pin is missing") &&
			  strstr(out, "detached the program") &&
			  !strstr(out, "nothing loaded"),
		  "%s", out);
	cr_assert_neq(
		sh("ip -n %s link show %s | grep -q 'prog/xdp'", ns_lb, ifname),
		0, "still attached after unload");
	cr_assert_neq(access(dir, F_OK), 0, "%s is still there", dir);

	/* a load stopped before it pinned anything: an empty directory */
	cr_assert_eq(sh("mkdir -p %s", dir), 0);
	cr_assert_neq(ctl(out, sizeof(out), "load -c %s", cfgpath), 0);
	cr_assert_eq(ctl(out, sizeof(out), "unload -i %s", ifname), 0, "%s",
		     out);
	cr_assert(strstr(out, "incomplete instance"), "%s", out);
	cr_assert_neq(access(dir, F_OK), 0, "%s is still there", dir);
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfgpath), 0, "%s",
		     out);
}

/* Ctrl-C during a load (here 0.3 s in: verifying the program, making
 * the tables) stops it at its next step with nothing left behind; it used
 * to leave a directory that every command then sent to another. */
Test(ctl, interrupted_load_leaves_nothing)
{
	struct be b[] = { { 1 }, { 2 } };
	char out[8192], log[160];
	FILE *f;
	size_t n;

	write_cfg("251", b, 2);
	snprintf(log, sizeof(log), "%s.log", cfgpath);
	sh("timeout -s INT 0.3 nsenter --net=/run/netns/%s %s load -c %s "
	   ">%s 2>&1",
	   ns_lb, XLBCTL, cfgpath, log);
	f = fopen(log, "r");
	cr_assert_not_null(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	fclose(f);
	unlink(log);
	cr_assert(strstr(out, "interrupted: nothing was loaded"), "%s", out);
	cr_assert_neq(access(dir, F_OK), 0, "%s left behind", dir);
	cr_assert_neq(
		sh("ip -n %s link show %s | grep -q 'prog/xdp'", ns_lb, ifname),
		0, "attached");
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfgpath), 0, "%s",
		     out);
}

/* Loaded with --mode generic, reloaded without --mode from a file that
 * says no mode: the mode that runs is kept. The reload was refused with
 * advice to unload and load again (downtime) for a change nobody made. */
Test(ctl, reload_keeps_the_running_mode_unless_told)
{
	struct be b[] = { { 1 }, { 2 } };
	char out[8192];

	write_cfg("251", b, 2);
	cr_assert_eq(
		ctl(out, sizeof(out), "load -c %s --mode generic", cfgpath), 0,
		"%s", out);
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert(strstr(out, "no changes"), "%s", out);
	cr_assert_neq(
		ctl(out, sizeof(out), "reload -c %s --mode native", cfgpath), 0,
		"%s", out);
	cr_assert(strstr(out, "mode changed from generic to native"), "%s",
		  out);
}

/* stats --watch stops when the instance is unloaded under it; it went on
 * drawing the unloaded maps (held open, with their memory). */
Test(ctl, watch_stops_when_unloaded)
{
	struct be b[] = { { 1 }, { 2 } };
	char out[8192], log[160], rc[160];
	FILE *f;
	size_t n;
	int st = -1;

	write_cfg("251", b, 2);
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfgpath), 0, "%s",
		     out);
	snprintf(log, sizeof(log), "%s.log", cfgpath);
	snprintf(rc, sizeof(rc), "%s.rc", cfgpath);
	sh("nsenter --net=/run/netns/%s %s stats -i %s --watch 0.2 >%s 2>&1 &"
	   " p=$!; sleep 0.6; nsenter --net=/run/netns/%s %s unload -i %s"
	   " >/dev/null 2>&1; for i in $(seq 50); do kill -0 $p 2>/dev/null"
	   " || break; sleep 0.1; done; kill $p 2>/dev/null; wait $p;"
	   " echo $? >%s",
	   ns_lb, XLBCTL, ifname, log, ns_lb, XLBCTL, ifname, rc);
	f = fopen(rc, "r");
	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%d", &st), 1);
	fclose(f);
	f = fopen(log, "r");
	cr_assert_not_null(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	fclose(f);
	unlink(rc);
	unlink(log);
	cr_assert_eq(st, 1, "watch exit status %d: %s", st, out);
	cr_assert(strstr(out, "xlb was unloaded from"), "%s", out);
}

/* VIP @vip_id's ring as stored (ids with their marks). */
static void ring_raw(uint32_t vip_id, uint32_t *v)
{
	int ifd = bpf_map_get_fd_by_id(ring_id(vip_id));

	cr_assert(ifd >= 0, "ring of VIP id %u: %s", vip_id, strerror(errno));
	for (__u32 s = 0; s < MRING; s++) {
		struct xlb_ring_pair p;
		__u32 e = s / 2;

		cr_assert_eq(bpf_map_lookup_elem(ifd, &e, &p), 0);
		v[s] = p.slot[s & 1];
	}
	close(ifd);
}

static int n_marked(const uint32_t *v)
{
	int n = 0;

	for (int s = 0; s < MRING; s++)
		n += !!(v[s] & XLB_RING_F_CHANGED);
	return n;
}

/* web (10.0.0.10:80/tcp) with backends 10.1.0.<last[i]>, a wildcard-port
 * VIP "any" on the same address if @wild, "web" only if @web; @hash is the
 * web VIP's hash mode. */
static void write_mark_cfg(bool web, bool wild, const char *hash,
			   const int *last, int n)
{
	FILE *f = fopen(cfgpath, "w");

	cr_assert(f);
	fprintf(f, "interface: %s\nmaglev_table_size: %d\nvips:\n", ifname,
		MRING);
	if (web) {
		fprintf(f,
			"  - name: web\n    address: 10.0.0.10\n    port: 80\n"
			"    protocol: tcp\n    hash: %s\n    backends:\n",
			hash);
		for (int i = 0; i < n; i++)
			fprintf(f, "      - address: 10.1.0.%d\n", last[i]);
	}
	if (wild)
		fprintf(f,
			"  - name: any\n    address: 10.0.0.10\n    port: 0\n"
			"    protocol: tcp\n    backends:\n"
			"      - address: 10.3.0.1\n"
			"      - address: 10.3.0.2\n");
	fclose(f);
}

/* A bare SYN skips the connection table on an unmarked slot, so ctl must
 * mark every slot where an entry may disagree with the ring: nothing on a
 * fresh load; on reload the slots whose owner changed, and the earlier
 * marks; every slot of a VIP added to a running instance, of a VIP whose
 * hash mode changed, and of a wildcard VIP that inherits a removed VIP's
 * flows. */
Test(ctl, reload_marks_changed_ring_slots)
{
	uint32_t r0[MRING], r1[MRING], r2[MRING];
	int b1[] = { 1, 2, 3, 4 }, b2[] = { 1, 2, 3, 5 }, b3[] = { 1, 2, 5 };
	int changed = 0;
	char out[8192];

	write_mark_cfg(true, false, "5tuple", b1, 4);
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfgpath), 0, "%s",
		     out);
	ring_raw(0, r0);
	cr_assert_eq(n_marked(r0), 0, "fresh load: %d slots marked",
		     n_marked(r0));

	/* .4 out, .5 in: exactly the slots whose owner changed */
	write_mark_cfg(true, false, "5tuple", b2, 4);
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	ring_raw(0, r1);
	for (int s = 0; s < MRING; s++) {
		bool moved = (r1[s] & XLB_RING_ID_MASK) != r0[s];

		changed += moved;
		cr_assert_eq(!!(r1[s] & XLB_RING_F_CHANGED), moved,
			     "slot %d: %#x -> %#x", s, r0[s], r1[s]);
	}
	cr_assert(changed > 40 && changed < 120, "%d of %d slots changed",
		  changed, MRING);

	/* .3 out: the new changes marked, the earlier marks kept */
	write_mark_cfg(true, false, "5tuple", b3, 3);
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	ring_raw(0, r2);
	for (int s = 0; s < MRING; s++) {
		bool want = (r1[s] & XLB_RING_F_CHANGED) ||
			    (r2[s] & XLB_RING_ID_MASK) !=
				    (r1[s] & XLB_RING_ID_MASK);

		cr_assert_eq(!!(r2[s] & XLB_RING_F_CHANGED), want,
			     "slot %d: %#x -> %#x", s, r1[s], r2[s]);
	}

	/* a changed hash mode moves every flow's slot */
	write_mark_cfg(true, false, "src-ip", b3, 3);
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	cr_assert(strstr(out, "1 ring rebuilt"), "%s", out);
	ring_raw(0, r2);
	cr_assert_eq(n_marked(r2), MRING, "hash mode changed: %d marked",
		     n_marked(r2));

	/* a VIP added to a running instance: all marked (id 1) */
	write_mark_cfg(true, true, "src-ip", b3, 3);
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	ring_raw(1, r1);
	cr_assert_eq(n_marked(r1), MRING, "added VIP: %d marked", n_marked(r1));

	/* web removed: its flows fall to the wildcard VIP, whose ring is
	 * rebuilt marked although its own backends did not change */
	cr_assert_eq(ctl(out, sizeof(out), "unload -i %s", ifname), 0, "%s",
		     out);
	write_mark_cfg(true, true, "5tuple", b1, 4);
	cr_assert_eq(ctl(out, sizeof(out), "load -c %s", cfgpath), 0, "%s",
		     out);
	ring_raw(1, r1);
	cr_assert_eq(n_marked(r1), 0, "fresh load: %d marked", n_marked(r1));
	write_mark_cfg(false, true, "5tuple", b1, 4);
	cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0, "%s",
		     out);
	ring_raw(1, r1);
	cr_assert_eq(n_marked(r1), MRING, "inheriting wildcard: %d marked",
		     n_marked(r1));
	cr_assert_eq(ctl(out, sizeof(out), "unload -i %s", ifname), 0, "%s",
		     out);
}

static double ms_in(const char *out)
{
	const char *p = strstr(out, " in ");

	return p ? atof(p + 4) : -1;
}

/* 512 VIPs x 100 backends: load, no-op reload, one backend changed, one
 * backend changed in every VIP, then a tenth of the VIPs removed. */
Test(ctl, bench_reload_512x100, .timeout = 900)
{
	const int nv = 512, nb = 100;
	char out[8192];

	for (int round = 0; round < 4; round++) {
		FILE *f = fopen(cfgpath, "w");

		fprintf(f,
			"interface: %s\nmode: generic\nconntrack_size: 65536\nvips:\n",
			ifname);
		for (int i = 0; i < nv; i++) {
			if (round == 3 && i % 10 == 0)
				continue;
			fprintf(f,
				"  - name: v%d\n    address: 10.%d.%d.1\n"
				"    port: 80\n    protocol: tcp\n"
				"    backends:\n",
				i, 100 + i / 256, i % 256);
			for (int j = 0; j < nb; j++) {
				int w = 100;

				if ((round == 1 && i == 7 && j == 3) ||
				    (round >= 2 && j == 3))
					w = 50;
				fprintf(f, "      - address: 172.%d.%d.%d\n",
					16 + i / 256, i % 256, j + 1);
				if (w != 100)
					fprintf(f, "        weight: %d\n", w);
			}
		}
		fclose(f);
		if (round == 0) {
			cr_assert_eq(
				ctl(out, sizeof(out), "load -c %s", cfgpath), 0,
				"%s", out);
			fprintf(stderr, "bench: load 512x100: %s", out);
			cr_log_info("load 512x100: %.0f ms", ms_in(out));
			cr_assert_eq(
				ctl(out, sizeof(out), "reload -c %s", cfgpath),
				0, "%s", out);
			fprintf(stderr, "bench: no-op reload: %s", out);
			continue;
		}
		cr_assert_eq(ctl(out, sizeof(out), "reload -c %s", cfgpath), 0,
			     "%s", out);
		fprintf(stderr, "bench: reload round %d: %s", round, out);
		cr_assert(ms_in(out) >= 0);
	}
	size_t big = 16 << 20; /* status of 51200 backends: a few MB */
	char *all = malloc(big);
	cr_assert_eq(ctl(all, big, "status -i %s --json", ifname), 0);
	cr_assert(strstr(all, "\"name\": \"v511\""));
	cr_assert_eq(ctl(all, big, "stats -i %s --prometheus", ifname), 0);
	cr_assert(strstr(
		all,
		"xlb_backend_packets_total{vip=\"v511\",backend=\"172.17.255.100\"} 0\n"));
	free(all);
	cr_assert_eq(ctl(out, sizeof(out), "unload -i %s", ifname), 0, "%s",
		     out);
}
