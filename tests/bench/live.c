/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Packets per second with live frames: bench_gen runs under
 * BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES and transmits out of
 * one end of a veth pair; xlb (or the floor, in its place) runs natively
 * on the other end and XDP_TXes them back; bench_sink counts and drops
 * what returns. All of it runs on the calling CPU (the veth NAPI runs in
 * the softirq the test run raises), so Mpps is per core. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "bench.h"
#include "bench_floor.skel.h"
#include "bench_gen.skel.h"
#include "xlb.skel.h"

/* Frames per test-run call, and per batch inside it (the kernel's
 * default batch; at most 256). */
#define LIVE_REPEAT (1U << 18)
#define LIVE_BATCH 64
/* The port of the second VIP, the one with `conntrack: false`. */
#define LIVE_NOCT_PORT 81

static char ns_gen[32], ns_lb[32], if_gen[IF_NAMESIZE], if_lb[IF_NAMESIZE];
static bool created;

static void teardown(void)
{
	if (!created)
		return;
	created = false;
	sh("ip netns del %s", ns_gen);
	sh("ip netns del %s", ns_lb);
}

static void on_signal(int sig)
{
	teardown();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Two namespaces joined by a veth pair; every name carries our pid. */
static int make_pair(void)
{
	int pid = getpid();

	snprintf(ns_gen, sizeof(ns_gen), "xlbb-g-%d", pid);
	snprintf(ns_lb, sizeof(ns_lb), "xlbb-l-%d", pid);
	snprintf(if_gen, sizeof(if_gen), "xlbbg%d", pid);
	snprintf(if_lb, sizeof(if_lb), "xlbbl%d", pid);
	atexit(teardown);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	created = true;
	if (sh("ip netns add %s", ns_gen) || sh("ip netns add %s", ns_lb) ||
	    sh("ip -n %s link add %s type veth peer name %s netns %s", ns_gen,
	       if_gen, if_lb, ns_lb) ||
	    sh("ip -n %s link set %s up", ns_gen, if_gen) ||
	    sh("ip -n %s link set %s up", ns_lb, if_lb))
		return -EIO;
	return 0;
}

/* Enter network namespace @name (NULL: back to @home). */
static int enter(const char *name, int home)
{
	char path[64];
	int fd, err = 0;

	if (!name)
		return setns(home, CLONE_NEWNET) ? -errno : 0;
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET))
		err = -errno;
	close(fd);
	return err;
}

/* Attach @prog_fd natively to @ifname in @ns, replacing what is there. */
static int attach(const char *ns, const char *ifname, int prog_fd, int home,
		  int *ifindex)
{
	int err = enter(ns, home);

	if (err)
		return err;
	*ifindex = (int)if_nametoindex(ifname);
	if (!*ifindex)
		err = -errno;
	else
		err = bpf_xdp_attach(*ifindex, prog_fd, XDP_FLAGS_DRV_MODE,
				     NULL);
	enter(NULL, home);
	return err;
}

static uint64_t percpu_sum(int fd)
{
	int n = possible_cpus();
	uint64_t v[n], sum = 0;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, v))
		return 0;
	for (int c = 0; c < n; c++)
		sum += v[c];
	return sum;
}

/* Run the generator for @secs and return the rate at the sink, Mpps. */
static int run_gen(int gen_fd, int ifindex, const uint8_t *frame, uint32_t len,
		   double secs, int sink_fd, int home, double *mpps)
{
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		    .batch_size = LIVE_BATCH);
	uint64_t s0, s1, t0, t1 = 0, limit = (uint64_t)(secs * 1e9);
	int err;

	o.repeat = bopt.quick ? 4096 : LIVE_REPEAT;
	/* ingress_ifindex is looked up in the caller's namespace */
	err = enter(ns_gen, home);
	if (err)
		return err;
	s0 = percpu_sum(sink_fd);
	t0 = now_ns();
	do {
		if (bpf_prog_test_run_opts(gen_fd, &o)) {
			err = -errno;
			break;
		}
		t1 = now_ns();
	} while (t1 - t0 < limit);
	s1 = percpu_sum(sink_fd);
	enter(NULL, home);
	if (err) {
		fprintf(stderr, "xlb-bench: live-frames test run failed: %s\n",
			strerror(-err));
		return err;
	}
	*mpps = (double)(s1 - s0) / ((double)(t1 - t0) / 1e9) / 1e6;
	return 0;
}

static struct bench_gen *gen_load(const uint8_t *frame, uint32_t nflows)
{
	struct bench_gen *g = bench_gen__open();

	if (!g)
		return NULL;
	memcpy((void *)g->rodata->tmpl, frame, sizeof(g->rodata->tmpl));
	g->rodata->nflows = nflows;
	if (bench_gen__load(g)) {
		bench_gen__destroy(g);
		return NULL;
	}
	return g;
}

/* ns per read of a pointer chase through @mb MB in random line order:
 * every read depends on the one before, so each pays the full latency
 * of wherever its line is (cache or memory, TLB or page walk). Negative
 * if the memory cannot be had. */
static double chase_ns(uint32_t mb, uint64_t reads)
{
	size_t n = (size_t)mb * 1024 * 1024 / 64, *order;
	char *m = mmap(NULL, n * 64, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t seed = 0x9e3779b97f4a7c15ULL, t0;
	void **p;
	double ns;

	order = malloc(n * sizeof(*order));
	if (m == MAP_FAILED || !order) {
		if (m != MAP_FAILED)
			munmap(m, n * 64);
		free(order);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates, xorshift */
		size_t j, t;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		j = seed % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (size_t i = 0; i < n; i++)
		*(void **)(m + order[i] * 64) = m + order[(i + 1) % n] * 64;
	p = (void **)(m + order[0] * 64);
	for (size_t i = 0; i < n; i++) /* warm: touch every line once */
		p = *p;
	t0 = now_ns();
	for (uint64_t i = 0; i < reads; i++)
		p = *p;
	ns = (double)(now_ns() - t0) / (double)reads;
	/* keep the chase: its result is used */
	if (!p)
		ns = -1;
	munmap(m, n * 64);
	free(order);
	return ns;
}

static void mem_latency(struct bench_live *l)
{
	static const uint32_t mb[] = { 1, 2, 4, 8, 16, 64 };
	uint64_t reads = bopt.quick ? 100000 : 5000000;

	/* flows hashed over B one-line buckets land in B(1 - e^(-F/B)) of
	 * them: about one line per flow while F is well below B */
	if (l->ct_buckets)
		l->bucket_mb =
			(double)l->ct_buckets *
			(1 - exp(-(double)l->flows / (double)l->ct_buckets)) *
			64 / 1e6;
	for (size_t i = 0; i < sizeof(mb) / sizeof(mb[0]); i++) {
		double ns = chase_ns(mb[i], reads);

		if (ns < 0)
			continue;
		l->mem_mb[l->nmem] = mb[i];
		l->mem_ns[l->nmem++] = ns;
		say("  random reads over %u MB: %.1f ns\n", mb[i], ns);
	}
}

int bench_live(struct bench_results *r)
{
	struct bench_live *l = &r->live;
	struct bench_gen *sink = NULL, *gen1 = NULL, *genN = NULL;
	struct bench_gen *genS = NULL;
	struct bench_floor *fl = NULL;
	struct xlb_vip_stats vs, vsn;
	struct xlb_vip_key k;
	uint32_t *table = NULL, ids[100];
	uint8_t frame[BPKT_MAX], frame_noct[BPKT_MAX];
	uint32_t len;
	struct bxlb x = {};
	int home = -1, gen_if, lb_if, err;
	uint64_t tx0 = 0, sk0 = 0, cf0 = 0;
	double warm;

	l->flows = bopt.live_flows;
	l->ct_size = bopt.live_ct_size;
	l->secs = bopt.live_secs;
	l->rounds = bopt.live_rounds;
	l->cpu = bopt.cpu;
	len = (uint32_t)bpkt_v4(frame, IPPROTO_TCP, 0xac100001U, 0x0a000001U,
				1024, 80, TCPF_ACK);
	bpkt_v4(frame_noct, IPPROTO_TCP, 0xac100001U, 0x0a000001U, 1024,
		LIVE_NOCT_PORT, TCPF_ACK);
	say("live frames: %.1f s per case, %u flows, CPU %d\n", l->secs,
	    l->flows, l->cpu);

	home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	sink = gen_load(frame, 1);
	gen1 = gen_load(frame, 1);
	genN = gen_load(frame, bopt.live_flows);
	genS = gen_load(frame_noct, bopt.live_flows);
	fl = bench_floor__open_and_load();
	if (home < 0 || !sink || !gen1 || !genN || !genS || !fl) {
		snprintf(l->err, sizeof(l->err),
			 "cannot load the generator/floor programs: %s",
			 strerror(errno));
		err = -EIO;
		goto out;
	}
	err = bxlb_open(&x, 0, bopt.live_ct_size);
	l->ct_buckets = err ? 0 : xlb_ct_nbuckets(&x.ct);
	table = err ? NULL : bxlb_maglev(x.ring_size, 100, 0);
	for (uint32_t i = 0; table && i < 100 && !err; i++) {
		ids[i] = i;
		err = bxlb_backend(&x, i, 0x0a640000U + i);
	}
	xkey4(&k, 0x0a000001U, 80, IPPROTO_TCP);
	if (!err && table)
		err = bxlb_vip(&x, &k, 0, XLB_ENCAP_IPIP, 0, 0, table, ids);
	xkey4(&k, 0x0a000001U, LIVE_NOCT_PORT, IPPROTO_TCP);
	if (!err && table)
		err = bxlb_vip(&x, &k, 1, XLB_ENCAP_IPIP,
			       XLB_VIP_F_NO_CONNTRACK, 0, table, ids);
	if (err || !table) {
		snprintf(l->err, sizeof(l->err), "cannot load xlb");
		err = err ? err : -ENOMEM;
		goto out;
	}
	err = make_pair();
	if (err) {
		snprintf(l->err, sizeof(l->err),
			 "cannot create the veth pair %s/%s in netns %s/%s "
			 "(needs root and iproute2; -v shows the commands)",
			 if_gen, if_lb, ns_gen, ns_lb);
		goto out;
	}
	err = attach(ns_gen, if_gen, bpf_program__fd(sink->progs.bench_sink),
		     home, &gen_if);
	if (!err)
		err = attach(ns_lb, if_lb, x.prog_fd, home, &lb_if);
	if (err) {
		snprintf(
			l->err, sizeof(l->err),
			"cannot attach XDP in native mode to the veth pair: %s",
			strerror(-err));
		goto out;
	}

	/* xlb: fill the connection table with the many flows first, so the
	 * timed runs are the steady state, not the first sight of each flow */
	warm = bopt.quick ? 0.05 : 1.0;
	err = run_gen(bpf_program__fd(genN->progs.bench_gen), gen_if, frame,
		      len, warm, bpf_map__fd(sink->maps.sink_count), home,
		      &l->xlb_mpps);
	/* Rounds of xlb then the floor, each with many flows then one (and
	 * for xlb then the many flows again, to the VIP without a
	 * connection table): what the host's other tenants leave of the
	 * cache changes from minute to minute, and a round compares them
	 * under the same conditions. The medians are kept. */
	for (int k = 0; k < l->rounds && !err; k++) {
		double *m[5] = { &l->xlb_r[k], &l->xlb1_r[k], &l->xlbn_r[k],
				 &l->floor_r[k], &l->floor1_r[k] };
		struct bench_gen *gens[5] = { genN, gen1, genS, genN, gen1 };

		if (k)
			err = attach(ns_lb, if_lb, x.prog_fd, home, &lb_if);
		tx0 = bxlb_counter(&x, XLB_CNT_TX);
		cf0 = bxlb_counter(&x, XLB_CNT_CT_FULL);
		sk0 = percpu_sum(bpf_map__fd(sink->maps.sink_count));
		for (int i = 0; i < 5 && !err; i++) {
			struct bench_gen *g = gens[i];

			if (i == 1 && !k) {
				l->xlb_tx = bxlb_counter(&x, XLB_CNT_TX) - tx0;
				l->ct_full =
					bxlb_counter(&x, XLB_CNT_CT_FULL) - cf0;
				l->sink = percpu_sum(bpf_map__fd(
						  sink->maps.sink_count)) -
					  sk0;
			}
			if (i == 3)
				err = attach(
					ns_lb, if_lb,
					bpf_program__fd(fl->progs.bench_floor),
					home, &lb_if);
			if (!err)
				err = run_gen(
					bpf_program__fd(g->progs.bench_gen),
					gen_if, frame, len, l->secs,
					bpf_map__fd(sink->maps.sink_count),
					home, m[i]);
		}
		say("  round %d: xlb %.3f / %.3f / %.3f Mpps, floor %.3f / "
		    "%.3f Mpps (many flows / one / many without conntrack)\n",
		    k + 1, l->xlb_r[k], l->xlb1_r[k], l->xlbn_r[k],
		    l->floor_r[k], l->floor1_r[k]);
	}
	if (err) {
		snprintf(l->err, sizeof(l->err), "live-frames run failed: %s",
			 strerror(-err));
		goto out;
	}
	l->xlb_mpps = median(l->xlb_r, l->rounds);
	l->xlb_mpps_1flow = median(l->xlb1_r, l->rounds);
	l->floor_mpps = median(l->floor_r, l->rounds);
	l->floor_mpps_1flow = median(l->floor1_r, l->rounds);
	l->xlb_mpps_noct = median(l->xlbn_r, l->rounds);
	say("  generated %llu, xlb RX %llu TX %llu, sink %llu\n",
	    (unsigned long long)percpu_sum(bpf_map__fd(genN->maps.gen_seq)),
	    (unsigned long long)bxlb_counter(&x, XLB_CNT_RX),
	    (unsigned long long)bxlb_counter(&x, XLB_CNT_TX),
	    (unsigned long long)percpu_sum(bpf_map__fd(sink->maps.sink_count)));
	for (uint32_t i = 0; bopt.verbose && i < XLB_CNT_MAX; i++)
		say("  xlb counter %u: %llu\n", i,
		    (unsigned long long)bxlb_counter(&x, i));
	if (l->sink == 0 || l->xlb_tx == 0) {
		snprintf(l->err, sizeof(l->err),
			 "no frame came back through xlb (xlb TX %llu, sink "
			 "%llu)",
			 (unsigned long long)l->xlb_tx,
			 (unsigned long long)l->sink);
		err = -EPROTO;
		goto out;
	}
	/* each VIP's packets took the path its case is named for */
	if (bxlb_vip_stats(&x, 0, &vs) || bxlb_vip_stats(&x, 1, &vsn) ||
	    !vs.ct_hits || !vsn.packets || vsn.ct_hits || vsn.ct_misses) {
		snprintf(l->err, sizeof(l->err),
			 "the VIPs' counters do not match their cases "
			 "(conntrack: ct hits %llu; without: %llu packets, ct "
			 "hits %llu, misses %llu)",
			 (unsigned long long)vs.ct_hits,
			 (unsigned long long)vsn.packets,
			 (unsigned long long)vsn.ct_hits,
			 (unsigned long long)vsn.ct_misses);
		err = -EPROTO;
		goto out;
	}
	l->done = true;
	say("  xlb %.3f Mpps (1 flow %.3f), floor %.3f Mpps (1 flow %.3f)\n",
	    l->xlb_mpps, l->xlb_mpps_1flow, l->floor_mpps, l->floor_mpps_1flow);
	mem_latency(l);
out:
	teardown();
	free(table);
	bxlb_close(&x);
	if (fl)
		bench_floor__destroy(fl);
	if (genN)
		bench_gen__destroy(genN);
	if (genS)
		bench_gen__destroy(genS);
	if (gen1)
		bench_gen__destroy(gen1);
	if (sink)
		bench_gen__destroy(sink);
	if (home >= 0)
		close(home);
	if (err)
		fprintf(stderr, "xlb-bench: live frames: %s\n", l->err);
	return err;
}
