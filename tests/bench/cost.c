/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Cost per packet: one BPF_PROG_TEST_RUN call per packet (repeat = 1, so
 * an encapsulating program never sees its own output), the kernel-timed
 * duration averaged over many calls, the median of several runs, for each
 * path through xlb and for the floor program timed the same way. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "bench.h"
#include "maglev.h"
#include "bench_floor.skel.h"
#include "xlb.skel.h"

/* Established flows cycled through per path: many enough that the flows
 * do not all sit in one cache line of the table, few enough to prebuild. */
#define POOL_FLOWS 4096
/* Source ports per source address in generated new flows. */
#define NEW_PORTS 64512

#define VIP_A 0x0a000001U /* 10.0.0.1: TCP :80 and UDP :53 */
#define VIP_W 0x0a000002U /* 10.0.0.2: TCP, every port */
#define VIP_G 0x0a000003U /* 10.0.0.3: TCP :80, GUE */
#define VIP_N 0x0a000004U /* 10.0.0.4: TCP :80, no connection table */
#define VIP_MULTI 0x0a010001U /* 10.1.0.1 + v: the 512-VIP variants */
#define NON_VIP 0x0a090909U /* 10.9.9.9 */
#define CLIENT 0xac100000U /* 172.16.0.0/12: established clients */
#define NEW_CLIENT 0x64400000U /* 100.64.0.0/10: new-flow clients */
#define BE_NET 0x0a640000U /* 10.100.0.0/16: backends */

static const uint8_t vip6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0,
				  0,	0, 0, 0, 0, 0, 0, 1 };

enum check {
	CHK_NONE,
	CHK_HIT, /* every packet a conntrack hit */
	CHK_MISS, /* every packet a miss, nothing inserted */
	CHK_INSERT, /* every packet a miss and an insert */
	CHK_NON_VIP, /* counted PASS_NON_VIP */
	CHK_ICMP_FWD, /* counted TX_ICMP_ERR_FWD */
	CHK_ECHO, /* counted TX_ICMP_ECHO */
};

struct pool {
	uint8_t *buf; /* n packets, BPKT_MAX apart */
	uint32_t *len;
	size_t n;
	uint8_t new_proto; /* a new flow per call (rewrites packet 0) */
	uint32_t new_vips; /* > 1: new flows go round the VIPs from new_dst */
	uint32_t new_dst;
	int action; /* XDP action every call must return */
	int grow; /* output length - input length; -1: not checked */
	enum check check;
	uint32_t vip_id; /* for CHK_HIT/MISS/INSERT */
	bool clear_ct; /* empty the connection table before each run */
};

static uint64_t new_seq; /* new-flow sequence, never reused */

static int pool_alloc(struct pool *p, size_t n)
{
	memset(p, 0, sizeof(*p));
	p->buf = calloc(n, BPKT_MAX);
	p->len = calloc(n, sizeof(*p->len));
	p->n = n;
	p->action = XDP_TX;
	p->grow = -1;
	if (!p->buf || !p->len) {
		fprintf(stderr, "xlb-bench: out of memory for packets\n");
		return -ENOMEM;
	}
	return 0;
}

static void pool_free(struct pool *p)
{
	free(p->buf);
	free(p->len);
	p->buf = NULL;
	p->len = NULL;
}

static uint8_t *pkt_at(const struct pool *p, size_t i)
{
	return p->buf + i * BPKT_MAX;
}

/* Is path @name selected by --filter (a comma-separated list of names)? */
static bool want(const char *name)
{
	size_t n = strlen(name);
	const char *f = bopt.filter;

	if (!f)
		return true;
	while (*f) {
		size_t l = strcspn(f, ",");

		if (l == n && !strncmp(f, name, n))
			return true;
		f += l + (f[l] == ',');
	}
	return false;
}

/* One timed run: @calls test runs, one packet each. Returns 0 or -errno
 * with @err set. */
static int time_run(int fd, const struct pool *p, uint64_t calls, double *ns,
		    double *wall, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .repeat = 1);
	uint64_t sum = 0, t0;

	t0 = now_ns();
	for (uint64_t i = 0; i < calls; i++) {
		size_t k = p->new_proto ? 0 : i % p->n;
		uint8_t *b = pkt_at(p, k);

		if (p->new_proto) {
			uint64_t s = new_seq++;

			bpkt_set_src4(b, NEW_CLIENT + (uint32_t)(s / NEW_PORTS),
				      (uint16_t)(1024 + s % NEW_PORTS));
			if (p->new_vips > 1)
				bpkt_set_dst4(
					b, p->new_dst +
						   (uint32_t)(s % p->new_vips));
		}
		o.data_in = b;
		o.data_size_in = p->len[k];
		if (bpf_prog_test_run_opts(fd, &o)) {
			snprintf(err, errlen, "test run failed: %s",
				 strerror(errno));
			return -errno;
		}
		if ((int)o.retval != p->action) {
			snprintf(err, errlen,
				 "call %llu returned action %u, want %d",
				 (unsigned long long)i, o.retval, p->action);
			return -EPROTO;
		}
		sum += o.duration;
	}
	*wall = (double)(now_ns() - t0) / (double)calls;
	*ns = (double)sum / (double)calls;
	return 0;
}

/* The output of one call, checked for length and (for encapsulation) an
 * outer destination among the backends. */
static int check_output(int fd, const struct pool *p, char *err, size_t errlen)
{
	uint8_t out[BPKT_MAX + 64];
	LIBBPF_OPTS(bpf_test_run_opts, o, .repeat = 1, .data_in = pkt_at(p, 0),
		    .data_size_in = p->len[0], .data_out = out,
		    .data_size_out = sizeof(out));
	uint32_t dst;

	if (p->grow < 0)
		return 0;
	if (bpf_prog_test_run_opts(fd, &o)) {
		snprintf(err, errlen, "test run failed: %s", strerror(errno));
		return -errno;
	}
	if ((int)o.data_size_out != (int)p->len[0] + p->grow) {
		snprintf(err, errlen, "output %u bytes, want %d",
			 o.data_size_out, (int)p->len[0] + p->grow);
		return -EPROTO;
	}
	if (p->grow > 0) {
		dst = bpkt_outer_dst4(out, o.data_size_out);
		if ((dst & 0xffff0000U) != BE_NET) {
			snprintf(err, errlen,
				 "outer destination %08x is no backend", dst);
			return -EPROTO;
		}
	}
	return 0;
}

struct snap {
	struct xlb_vip_stats vs;
	uint64_t non_vip, icmp_fwd, echo;
};

static void take(struct bxlb *x, const struct pool *p, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	if (!x)
		return;
	bxlb_vip_stats(x, p->vip_id, &s->vs);
	s->non_vip = bxlb_counter(x, XLB_CNT_PASS_NON_VIP);
	s->icmp_fwd = bxlb_counter(x, XLB_CNT_TX_ICMP_ERR_FWD);
	s->echo = bxlb_counter(x, XLB_CNT_TX_ICMP_ECHO);
}

/* Did every call take the path it is named for? */
static int verify(const struct pool *p, const struct snap *a,
		  const struct snap *b, uint64_t n, char *note, size_t len)
{
	uint64_t hits = b->vs.ct_hits - a->vs.ct_hits;
	uint64_t miss = b->vs.ct_misses - a->vs.ct_misses;
	uint64_t ins = b->vs.new_flows - a->vs.new_flows;
	bool ok = true;

	switch (p->check) {
	case CHK_NONE:
		snprintf(note, len, "action checked");
		break;
	case CHK_HIT:
		ok = hits == n && miss == 0;
		snprintf(note, len, "ct hits %llu/%llu",
			 (unsigned long long)hits, (unsigned long long)n);
		break;
	case CHK_MISS:
		ok = miss == n && ins == 0;
		snprintf(note, len, "ct misses %llu/%llu, inserts %llu",
			 (unsigned long long)miss, (unsigned long long)n,
			 (unsigned long long)ins);
		break;
	case CHK_INSERT:
		ok = miss == n && ins == n;
		snprintf(note, len, "ct inserts %llu/%llu",
			 (unsigned long long)ins, (unsigned long long)n);
		break;
	case CHK_NON_VIP:
		ok = b->non_vip - a->non_vip == n;
		snprintf(note, len, "PASS_NON_VIP %llu/%llu",
			 (unsigned long long)(b->non_vip - a->non_vip),
			 (unsigned long long)n);
		break;
	case CHK_ICMP_FWD:
		ok = b->icmp_fwd - a->icmp_fwd == n && hits == n;
		snprintf(note, len, "ICMP_ERR_FWD %llu/%llu, ct hits %llu",
			 (unsigned long long)(b->icmp_fwd - a->icmp_fwd),
			 (unsigned long long)n, (unsigned long long)hits);
		break;
	case CHK_ECHO:
		ok = b->echo - a->echo == n;
		snprintf(note, len, "ICMP_ECHO %llu/%llu",
			 (unsigned long long)(b->echo - a->echo),
			 (unsigned long long)n);
		break;
	}
	return ok ? 0 : -EPROTO;
}

/* Median of bopt.runs timed runs of @p through @fd, added as @name. */
static struct bench_path *measure(struct bench_results *r, struct bxlb *x,
				  int fd, const char *name,
				  const struct pool *p, double target)
{
	struct bench_path *bp = &r->paths[r->npaths];
	double ns[16], wall[16], lo, hi;
	char err[160] = "";
	struct snap a, b;
	int runs = bopt.runs > 16 ? 16 : bopt.runs;

	if (r->npaths >= BENCH_MAX_PATHS)
		return NULL;
	if (strcmp(name, "floor") && !want(name))
		return NULL;
	r->npaths++;
	memset(bp, 0, sizeof(*bp));
	snprintf(bp->name, sizeof(bp->name), "%s", name);
	bp->target = target;
	bp->calls = bopt.calls;
	if (!bopt.no_check && check_output(fd, p, err, sizeof(err)))
		goto fail;
	for (int i = 0; i < runs; i++) {
		if (p->clear_ct && x)
			bxlb_ct_clear(x);
		take(x, p, &a);
		if (time_run(fd, p, bopt.calls, &ns[i], &wall[i], err,
			     sizeof(err)))
			goto fail;
		take(x, p, &b);
		if (x && !bopt.no_check &&
		    verify(p, &a, &b, bopt.calls, bp->note, sizeof(bp->note))) {
			snprintf(err, sizeof(err), "wrong path: %s", bp->note);
			goto fail;
		}
	}
	lo = hi = ns[0];
	for (int i = 1; i < runs; i++) {
		lo = ns[i] < lo ? ns[i] : lo;
		hi = ns[i] > hi ? ns[i] : hi;
	}
	bp->ns = median(ns, runs);
	bp->wall_ns = median(wall, runs);
	bp->spread = bp->ns > 0 ? (hi - lo) / bp->ns : 0;
	bp->ok = true;
	say("  %-34s %7.1f ns  (wall %7.1f ns)  %s\n", name, bp->ns,
	    bp->wall_ns, bp->note);
	return bp;
fail:
	snprintf(bp->note, sizeof(bp->note), "%s", err);
	fprintf(stderr, "xlb-bench: %s: %s\n", name, err);
	return bp;
}

/* ---- Configurations ------------------------------------------------------ */

/* Load xlb with @nvips TCP VIPs of @nbe backends each (and, with
 * @extras, the UDP, IPv6, wildcard and GUE VIPs of the base set). */
static int setup(struct bxlb *x, uint32_t nbe, uint32_t nvips, bool extras,
		 uint32_t ct_size)
{
	uint32_t *table, *ids = calloc(nbe, sizeof(uint32_t));
	struct xlb_vip_key k;
	uint32_t nslots = nbe * nvips;
	int err;

	if (!ids)
		return -ENOMEM;
	err = bxlb_open(x, 0, ct_size);
	if (err)
		goto out_ids;
	/* more backends than slots: VIPs share slots (the datapath does
	 * not care which VIP a slot belongs to) */
	if (nslots > XLB_MAX_BACKENDS)
		nslots = XLB_MAX_BACKENDS;
	for (uint32_t i = 0; i < nslots && !err; i++)
		err = bxlb_backend(x, i, BE_NET + i);
	table = err ? NULL : bxlb_maglev(x->ring_size, nbe, 0);
	if (!table) {
		err = err ? err : -ENOMEM;
		goto out;
	}
	for (uint32_t v = 0; v < nvips && !err; v++) {
		for (uint32_t j = 0; j < nbe; j++)
			ids[j] = (v * nbe + j) % XLB_MAX_BACKENDS;
		xkey4(&k, nvips == 1 ? VIP_A : VIP_MULTI + v, 80, IPPROTO_TCP);
		err = bxlb_vip(x, &k, v, XLB_ENCAP_IPIP, 0,
			       XLB_ADDR_F_ICMP_ECHO, table, ids);
	}
	for (uint32_t j = 0; j < nbe; j++)
		ids[j] = j;
	if (extras && !err) {
		xkey4(&k, VIP_A, 53, IPPROTO_UDP);
		err = bxlb_vip(x, &k, 1, XLB_ENCAP_IPIP, 0,
			       XLB_ADDR_F_ICMP_ECHO, table, ids);
	}
	if (extras && !err) {
		xkey6(&k, vip6, 80, IPPROTO_TCP);
		err = bxlb_vip(x, &k, 2, XLB_ENCAP_IPIP, 0, 0, table, ids);
	}
	if (extras && !err) {
		xkey4(&k, VIP_W, 0, IPPROTO_TCP);
		err = bxlb_vip(x, &k, 3, XLB_ENCAP_IPIP, 0, 0, table, ids);
	}
	if (extras && !err) {
		xkey4(&k, VIP_N, 80, IPPROTO_TCP);
		err = bxlb_vip(x, &k, 5, XLB_ENCAP_IPIP, XLB_VIP_F_NO_CONNTRACK,
			       0, table, ids);
	}
	if (extras && !err) {
		xkey4(&k, VIP_G, 80, IPPROTO_TCP);
		err = bxlb_vip(x, &k, 4, XLB_ENCAP_GUE, 0, 0, table, ids);
	}
	free(table);
out:
	if (err)
		bxlb_close(x);
out_ids:
	free(ids);
	return err;
}

/* Established flows i = 0..n-1 of a client range toward @vip(s): TCP ACKs
 * (which insert on first sight) or UDP. */
static int pool_est4(struct pool *p, uint8_t proto, uint32_t vip,
		     uint32_t nvips, uint16_t dport, bool vary_dport)
{
	int err = pool_alloc(p, POOL_FLOWS);

	for (size_t i = 0; !err && i < p->n; i++)
		p->len[i] = (uint32_t)bpkt_v4(
			pkt_at(p, i), proto, CLIENT + (uint32_t)i,
			vip + (uint32_t)(i % nvips), (uint16_t)(10000 + i),
			(uint16_t)(vary_dport ? dport + i % 64 : dport),
			TCPF_ACK);
	p->grow = 20;
	p->check = CHK_HIT;
	return err;
}

/* Send every packet of @p once (inserting its flow). */
static int warm(int fd, const struct pool *p)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .repeat = 1);

	for (size_t i = 0; i < p->n; i++) {
		o.data_in = pkt_at(p, i);
		o.data_size_in = p->len[i];
		if (bpf_prog_test_run_opts(fd, &o) ||
		    (int)o.retval != p->action) {
			fprintf(stderr, "xlb-bench: warming flow %zu failed\n",
				i);
			return -EPROTO;
		}
	}
	return 0;
}

static int pool_new4(struct pool *p, uint8_t proto, uint32_t vip, uint8_t flags,
		     enum check chk)
{
	int err = pool_alloc(p, 1);

	if (err)
		return err;
	p->len[0] = (uint32_t)bpkt_v4(pkt_at(p, 0), proto, NEW_CLIENT, vip,
				      1024, 80, flags);
	if (proto == IPPROTO_UDP)
		p->len[0] = (uint32_t)bpkt_v4(pkt_at(p, 0), proto, NEW_CLIENT,
					      vip, 1024, 53, flags);
	p->new_proto = proto;
	p->grow = 20;
	p->check = chk;
	return 0;
}

/* @p again with its first flow only, as @name: every call the same
 * packet, as the floor is timed. What remains is the program's own cost
 * with warm caches; the pool's 4,096 flows add the cache and TLB misses of
 * a connection table larger than the caches. */
static void measure_one_flow(struct bench_results *r, struct bxlb *x,
			     const char *name, struct pool *p, double target)
{
	size_t n = p->n;

	p->n = 1;
	measure(r, x, x->prog_fd, name, p, target);
	p->n = n;
}

/* ---- The floor ------------------------------------------------------------ */

static int floor_measure(struct bench_results *r, struct bench_floor *fl,
			 double *ns, double *wall)
{
	struct pool p;
	struct bench_path *bp;
	int err = pool_alloc(&p, POOL_FLOWS);

	for (size_t i = 0; !err && i < p.n; i++)
		p.len[i] = (uint32_t)bpkt_v4(
			pkt_at(&p, i), IPPROTO_TCP, CLIENT + (uint32_t)i, VIP_A,
			(uint16_t)(10000 + i), 80, TCPF_ACK);
	if (err)
		return err;
	p.grow = 0;
	bp = measure(r, NULL, bpf_program__fd(fl->progs.bench_floor), "floor",
		     &p, 0);
	pool_free(&p);
	if (!bp || !bp->ok)
		return -EPROTO;
	*ns = bp->ns;
	*wall = bp->wall_ns;
	r->npaths--; /* reported as floor_ns, not as a path */
	return 0;
}

/* ---- The paths -------------------------------------------------------------- */

static int base_paths(struct bench_results *r)
{
	uint32_t ct = XLB_CONNTRACK_DEFAULT; /* as shipped */
	struct bxlb x;
	struct pool p, est = { 0 };
	uint8_t src6[16] = { 0xfd, 0xcc };
	int err;

	if (!want("v4-tcp-syn-new") && !want("v4-tcp-ack-new") &&
	    !want("v4-udp-new") && !want("v4-tcp-established") &&
	    !want("v4-udp-established") && !want("v6-tcp-established") &&
	    !want("v4-tcp-established-1flow") &&
	    !want("v4-udp-established-1flow") &&
	    !want("v6-tcp-established-1flow") &&
	    !want("v4-tcp-wildcard-port-established") &&
	    !want("v4-tcp-gue-established") && !want("v4-icmp-error-fwd") &&
	    !want("v4-tcp-no-conntrack") &&
	    !want("v4-tcp-established-churned") && !want("v4-icmp-echo") &&
	    !want("v4-non-vip-pass"))
		return 0;
	say("base set: 6 VIPs, 100 backends, %u conntrack flows\n", ct);
	err = setup(&x, 100, 1, true, ct);
	if (err)
		return err;

	if (!(err = pool_new4(&p, IPPROTO_TCP, VIP_A, TCPF_SYN, CHK_MISS))) {
		measure(r, &x, x.prog_fd, "v4-tcp-syn-new", &p, 5.0);
		pool_free(&p);
	}

	if (!err &&
	    !(err = pool_est4(&est, IPPROTO_TCP, VIP_A, 1, 80, false)) &&
	    !(err = warm(x.prog_fd, &est))) {
		measure(r, &x, x.prog_fd, "v4-tcp-established", &est, 2.3);
		measure_one_flow(r, &x, "v4-tcp-established-1flow", &est, 2.3);
	}

	if (!err && !(err = pool_est4(&p, IPPROTO_UDP, VIP_A, 1, 53, false))) {
		p.vip_id = 1;
		if (!(err = warm(x.prog_fd, &p))) {
			measure(r, &x, x.prog_fd, "v4-udp-established", &p,
				2.5);
			measure_one_flow(r, &x, "v4-udp-established-1flow", &p,
					 2.5);
		}
		pool_free(&p);
	}
	if (!err && !(err = pool_alloc(&p, POOL_FLOWS))) {
		for (size_t i = 0; i < p.n; i++) {
			src6[14] = (uint8_t)(i >> 8);
			src6[15] = (uint8_t)i;
			p.len[i] = (uint32_t)bpkt_v6(
				pkt_at(&p, i), IPPROTO_TCP, src6, vip6,
				(uint16_t)(10000 + i), 80, TCPF_ACK);
		}
		p.grow = 20;
		p.check = CHK_HIT;
		p.vip_id = 2;
		if (!(err = warm(x.prog_fd, &p))) {
			measure(r, &x, x.prog_fd, "v6-tcp-established", &p,
				2.4);
			measure_one_flow(r, &x, "v6-tcp-established-1flow", &p,
					 2.4);
		}
		pool_free(&p);
	}
	if (!err && !(err = pool_est4(&p, IPPROTO_TCP, VIP_W, 1, 8000, true))) {
		p.vip_id = 3;
		if (!(err = warm(x.prog_fd, &p)))
			measure(r, &x, x.prog_fd,
				"v4-tcp-wildcard-port-established", &p, 0);
		pool_free(&p);
	}
	if (!err && !(err = pool_est4(&p, IPPROTO_TCP, VIP_G, 1, 80, false))) {
		p.vip_id = 4;
		p.grow = 28;
		if (!(err = warm(x.prog_fd, &p)))
			measure(r, &x, x.prog_fd, "v4-tcp-gue-established", &p,
				0);
		pool_free(&p);
	}
	if (!err && !(err = pool_est4(&p, IPPROTO_TCP, VIP_N, 1, 80, false))) {
		p.vip_id = 5;
		p.check = CHK_NONE;
		measure(r, &x, x.prog_fd, "v4-tcp-no-conntrack", &p, 0);
		pool_free(&p);
	}
	/* ICMP errors about the established flows of est */
	if (!err && !(err = pool_alloc(&p, POOL_FLOWS))) {
		for (size_t i = 0; i < p.n; i++)
			p.len[i] = (uint32_t)bpkt_icmp_err4(
				pkt_at(&p, i), 0xc0000201U, VIP_A, 80,
				CLIENT + (uint32_t)i, (uint16_t)(10000 + i));
		p.grow = 20;
		p.check = CHK_ICMP_FWD;
		measure(r, &x, x.prog_fd, "v4-icmp-error-fwd", &p, 0);
		pool_free(&p);
	}
	if (!err && !(err = pool_alloc(&p, 1))) {
		p.len[0] = (uint32_t)bpkt_echo4(pkt_at(&p, 0), CLIENT, VIP_A);
		p.grow = 0;
		p.check = CHK_ECHO;
		measure(r, &x, x.prog_fd, "v4-icmp-echo", &p, 0);
		pool_free(&p);
	}
	if (!err &&
	    !(err = pool_est4(&p, IPPROTO_TCP, NON_VIP, 1, 80, false))) {
		p.action = XDP_PASS;
		p.grow = 0;
		p.check = CHK_NON_VIP;
		measure(r, &x, x.prog_fd, "v4-non-vip-pass", &p, 1.4);
		pool_free(&p);
	}
	/* the inserting paths last: they scatter the table (see below) */
	if (!err &&
	    !(err = pool_new4(&p, IPPROTO_TCP, VIP_A, TCPF_ACK, CHK_INSERT))) {
		p.clear_ct = true;
		measure(r, &x, x.prog_fd, "v4-tcp-ack-new", &p, 5.0);
		pool_free(&p);
	}
	if (!err && !(err = pool_new4(&p, IPPROTO_UDP, VIP_A, 0, CHK_INSERT))) {
		p.clear_ct = true;
		p.vip_id = 1;
		measure(r, &x, x.prog_fd, "v4-udp-new", &p, 5.0);
		pool_free(&p);
	}
	/* the same established flows again, now that a million inserts and
	 * deletes have passed: their entries sit wherever the free lists
	 * put them, not side by side as in a fresh table */
	if (!err && est.buf && want("v4-tcp-established-churned")) {
		bxlb_ct_clear(&x);
		if (!(err = warm(x.prog_fd, &est)))
			measure(r, &x, x.prog_fd, "v4-tcp-established-churned",
				&est, 2.3);
	}
	if (est.buf)
		pool_free(&est);
	bxlb_close(&x);
	return err;
}

static int full_paths(struct bench_results *r)
{
	struct bxlb x;
	struct pool p;
	uint64_t n0, n1;
	int err;

	if (!want("v4-tcp-syn-new-full") &&
	    !want("v4-tcp-syn-new-full-changed") &&
	    !want("v4-tcp-ack-new-full"))
		return 0;
	say("full table: %u conntrack flows, prefilled\n", bopt.ct_size);
	err = setup(&x, 100, 1, false, bopt.ct_size);
	if (err)
		return err;
	err = bxlb_ct_fill(&x);
	n0 = err ? 0 : bxlb_ct_count(&x);
	say("  conntrack holds %llu flows, every way of its %llu buckets\n",
	    (unsigned long long)n0, (unsigned long long)xlb_ct_nbuckets(&x.ct));
	if (!err &&
	    !(err = pool_new4(&p, IPPROTO_TCP, VIP_A, TCPF_SYN, CHK_MISS))) {
		measure(r, &x, x.prog_fd, "v4-tcp-syn-new-full", &p, 6.0);
		/* the same after every ring slot changed: each SYN reads the
		 * table (what every SYN cost before the marks) */
		if (want("v4-tcp-syn-new-full-changed") &&
		    !(err = bxlb_ring_mark_all(&x, 0)))
			measure(r, &x, x.prog_fd, "v4-tcp-syn-new-full-changed",
				&p, 0);
		pool_free(&p);
	}
	if (!err &&
	    !(err = pool_new4(&p, IPPROTO_TCP, VIP_A, TCPF_ACK, CHK_INSERT))) {
		struct bench_path *bp;

		bp = measure(r, &x, x.prog_fd, "v4-tcp-ack-new-full", &p, 6.0);
		n1 = bxlb_ct_count(&x);
		/* every insert evicted: the table did not grow */
		if (bp && bp->ok) {
			size_t l = strlen(bp->note);

			snprintf(bp->note + l, sizeof(bp->note) - l,
				 ", table %llu -> %llu", (unsigned long long)n0,
				 (unsigned long long)n1);
		}
		pool_free(&p);
	}
	bxlb_close(&x);
	return err;
}

static int variant_paths(struct bench_results *r)
{
	static const uint32_t nbes[] = { 1, 100, 1000 };
	static const uint32_t nvipss[] = { 1, 512 };
	char name[48];
	int err = 0;

	for (size_t v = 0; v < 2 && !err; v++) {
		for (size_t b = 0; b < 3 && !err; b++) {
			uint32_t nbe = nbes[b], nv = nvipss[v];
			uint32_t vip = nv == 1 ? VIP_A : VIP_MULTI;
			struct bxlb x;
			struct pool p;

			char en[48], sn[48];

			snprintf(en, sizeof(en), "v4-tcp-established-b%u-v%u",
				 nbe, nv);
			snprintf(sn, sizeof(sn), "v4-tcp-syn-new-b%u-v%u", nbe,
				 nv);
			if (!want(en) && !want(sn))
				continue;
			say("variant: %u VIPs x %u backends\n", nv, nbe);
			err = setup(&x, nbe, nv, false, 0);
			if (err)
				break;
			if (!(err = pool_est4(&p, IPPROTO_TCP, vip, nv, 80,
					      false))) {
				/* the check reads VIP 0's counters, which
				 * only the 1-VIP case sends all flows to */
				if (nv > 1)
					p.check = CHK_NONE;
				snprintf(name, sizeof(name),
					 "v4-tcp-established-b%u-v%u", nbe, nv);
				if (!(err = warm(x.prog_fd, &p)))
					measure(r, &x, x.prog_fd, name, &p,
						2.3);
				pool_free(&p);
			}
			if (!err && !(err = pool_new4(&p, IPPROTO_TCP, vip,
						      TCPF_SYN, CHK_MISS))) {
				snprintf(name, sizeof(name),
					 "v4-tcp-syn-new-b%u-v%u", nbe, nv);
				/* spread over every VIP, as the established
				 * flows are; VIP 0's counters no longer see
				 * them all */
				p.new_vips = nv;
				p.new_dst = vip;
				if (nv > 1)
					p.check = CHK_NONE;
				measure(r, &x, x.prog_fd, name, &p, 5.0);
				pool_free(&p);
			}
			bxlb_close(&x);
		}
	}
	return err;
}

/* Every path, each section on its own fresh load of xlb. */
static int all_paths(struct bench_results *r)
{
	int err = base_paths(r);

	if (!err)
		err = full_paths(r);
	if (!err)
		err = variant_paths(r);
	return err;
}

/* --loads N: every path on N fresh loads; per path the median over the
 * loads of each load's median, and the spread over the loads. */
static int paths_over_loads(struct bench_results *r)
{
	struct bench_results *one = calloc((size_t)bopt.loads, sizeof(*one));
	int n = -1, err = 0;

	if (!one)
		return -ENOMEM;
	for (int l = 0; l < bopt.loads && !err; l++) {
		say("cost: load %d of %d\n", l + 1, bopt.loads);
		err = all_paths(&one[l]);
		if (!err && n >= 0 && one[l].npaths != n)
			err = -EPROTO;
		n = one[l].npaths;
	}
	for (int i = 0; !err && i < n && r->npaths < BENCH_MAX_PATHS; i++) {
		struct bench_path *bp = &r->paths[r->npaths++];
		double ns[9], wall[9], lo, hi;

		*bp = one[0].paths[i];
		lo = hi = bp->ns;
		for (int l = 0; l < bopt.loads; l++) {
			const struct bench_path *q = &one[l].paths[i];

			ns[l] = q->ns;
			wall[l] = q->wall_ns;
			lo = q->ns < lo ? q->ns : lo;
			hi = q->ns > hi ? q->ns : hi;
			if (!q->ok && bp->ok) {
				bp->ok = false;
				memcpy(bp->note, q->note, sizeof(bp->note));
			}
		}
		bp->ns = median(ns, bopt.loads);
		bp->wall_ns = median(wall, bopt.loads);
		bp->spread = bp->ns > 0 ? (hi - lo) / bp->ns : 0;
	}
	free(one);
	return err;
}

int bench_cost(struct bench_results *r)
{
	struct bench_floor *fl = bench_floor__open_and_load();
	double f0 = 0, f1 = 0, w0 = 0, w1 = 0;
	int err;

	if (!fl) {
		fprintf(stderr, "xlb-bench: cannot load bench_floor: %s\n",
			strerror(errno));
		return -errno;
	}
	say("cost per packet: %llu calls per run, median of %d runs, CPU %d\n",
	    (unsigned long long)bopt.calls, bopt.runs, bopt.cpu);
	err = floor_measure(r, fl, &f0, &w0);
	if (!err)
		err = bopt.loads > 1 ? paths_over_loads(r) : all_paths(r);
	/* the floor again at the end: drift over the run shows here */
	if (!err)
		err = floor_measure(r, fl, &f1, &w1);
	bench_floor__destroy(fl);
	if (err)
		return err;
	r->floor_ns_begin = f0;
	r->floor_ns_end = f1;
	r->floor_ns = (f0 + f1) / 2;
	r->floor_wall_ns = (w0 + w1) / 2;
	for (int i = 0; i < r->npaths; i++)
		r->paths[i].ratio = r->paths[i].ns / r->floor_ns;
	for (int i = 0; i < r->npaths; i++)
		if (!r->paths[i].ok)
			return -EPROTO;
	return 0;
}
