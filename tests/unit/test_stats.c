/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Unit tests of lib/stats.c: counter names, rates, and per-CPU sums read
 * from real PERCPU_ARRAY maps shaped like the datapath's (needs root). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include "stats.h"

Test(stats, every_counter_has_a_unique_lowercase_name_and_help)
{
	for (unsigned int i = 0; i < XLB_CNT_MAX; i++) {
		const char *n = xlb_counter_name(i);

		cr_assert(n && *n, "counter %u has no name", i);
		cr_assert(xlb_counter_help(i) && *xlb_counter_help(i),
			  "counter %s has no help", n);
		for (const char *c = n; *c; c++)
			cr_assert(islower((unsigned char)*c) || *c == '_' ||
					  isdigit((unsigned char)*c),
				  "name %s is not a Prometheus label value", n);
		for (unsigned int j = 0; j < i; j++)
			cr_assert_str_neq(n, xlb_counter_name(j));
	}
	cr_assert_str_eq(xlb_counter_name(XLB_CNT_RX), "rx");
	cr_assert_str_eq(xlb_counter_name(XLB_CNT_DROP_NO_BACKEND),
			 "drop_no_backend");
	cr_assert_null(xlb_counter_name(XLB_CNT_MAX));
}

Test(stats, rates)
{
	cr_assert_float_eq(xlb_stats_rate(100, 300, 2.0), 100.0, 1e-9);
	cr_assert_float_eq(xlb_stats_rate(5, 5, 1.0), 0.0, 1e-9);
	/* A counter that went backwards (slot reused, counters reset). */
	cr_assert_float_eq(xlb_stats_rate(500, 10, 1.0), 0.0, 1e-9);
	cr_assert_float_eq(xlb_stats_rate(0, 10, 0.0), 0.0, 1e-9);
}

static int percpu(const char *name, __u32 vsize, __u32 n)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, name, 4, vsize, n,
				NULL);

	cr_assert(fd >= 0, "creating %s: %s (run as root)", name,
		  strerror(errno));
	return fd;
}

Test(stats, sums_and_per_cpu_values)
{
	struct xlb_instance in = { .prog_fd = -1 };
	int ncpu = libbpf_num_possible_cpus();
	struct xlb_stats_sample s;

	cr_assert(ncpu > 0);
	in.stats_fd = percpu("t_stats", 8, XLB_CNT_MAX);
	in.vip_stats_fd = percpu("t_vip_stats", sizeof(struct xlb_vip_stats),
				 XLB_MAX_VIPS);
	in.be_stats_fd = percpu("t_be_stats", sizeof(struct xlb_be_stats),
				XLB_MAX_BACKENDS);

	/* CPU c holds c+1 for every field, times a per-key factor. */
	__u64 *g = calloc(ncpu, 8);
	struct xlb_vip_stats *v = calloc(ncpu, sizeof(*v));
	struct xlb_be_stats *b = calloc(ncpu, sizeof(*b));
	__u32 k;

	for (int c = 0; c < ncpu; c++) {
		g[c] = (__u64)(c + 1) * 7;
		v[c] = (struct xlb_vip_stats){ .packets = c + 1,
					       .bytes = 100 * (c + 1),
					       .new_flows = 2 * (c + 1),
					       .ct_hits = 3 * (c + 1),
					       .ct_misses = 4 * (c + 1) };
		b[c] = (struct xlb_be_stats){ .packets = 5 * (c + 1),
					      .bytes = 500 * (c + 1) };
	}
	k = XLB_CNT_TX;
	cr_assert_eq(bpf_map_update_elem(in.stats_fd, &k, g, 0), 0);
	k = 9;
	cr_assert_eq(bpf_map_update_elem(in.vip_stats_fd, &k, v, 0), 0);
	k = XLB_MAX_BACKENDS - 1; /* the last slot is read too */
	cr_assert_eq(bpf_map_update_elem(in.be_stats_fd, &k, b, 0), 0);

	cr_assert_eq(xlb_stats_read(&in, true, &s), 0);
	__u64 tri = (__u64)ncpu * (ncpu + 1) / 2; /* 1 + 2 + ... + ncpu */
	cr_assert_eq(s.ncpu, ncpu);
	cr_assert_eq(s.global[XLB_CNT_TX], 7 * tri);
	cr_assert_eq(s.global[XLB_CNT_RX], 0);
	cr_assert_eq(s.vip[9].packets, tri);
	cr_assert_eq(s.vip[9].bytes, 100 * tri);
	cr_assert_eq(s.vip[9].new_flows, 2 * tri);
	cr_assert_eq(s.vip[9].ct_hits, 3 * tri);
	cr_assert_eq(s.vip[9].ct_misses, 4 * tri);
	cr_assert_eq(s.vip[8].packets, 0);
	cr_assert_eq(s.be[XLB_MAX_BACKENDS - 1].packets, 5 * tri);
	cr_assert_eq(s.be[XLB_MAX_BACKENDS - 1].bytes, 500 * tri);
	for (int c = 0; c < ncpu; c++) {
		cr_assert_eq(s.global_cpu[c * XLB_CNT_MAX + XLB_CNT_TX],
			     (__u64)7 * (c + 1));
		cr_assert_eq(s.vip_cpu[c * XLB_MAX_VIPS + 9].ct_misses,
			     (__u64)4 * (c + 1));
		cr_assert_eq(
			s.be_cpu[c * XLB_MAX_BACKENDS + XLB_MAX_BACKENDS - 1]
				.bytes,
			(__u64)500 * (c + 1));
	}
	xlb_stats_free(&s);

	/* Without --per-cpu only the sums are kept. */
	cr_assert_eq(xlb_stats_read(&in, false, &s), 0);
	cr_assert_null(s.global_cpu);
	cr_assert_null(s.be_cpu);
	cr_assert_eq(s.vip[9].bytes, 100 * tri);
	xlb_stats_free(&s);

	free(g);
	free(v);
	free(b);
	close(in.stats_fd);
	close(in.vip_stats_fd);
	close(in.be_stats_fd);
}

/* xlb_packets_total holds one outcome per packet, so that its sum is the
 * packets seen: rx and the events (ct_full) have names of their own. It
 * used to carry them as reasons too, and sum() counted packets twice. */
Test(stats, prometheus_outcomes_sum_to_rx)
{
	struct xlb_stats_sample s = { .ncpu = 1 };
	struct xlb_state st = { 0 };
	unsigned long long sum = 0, rx = 0, v;
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	cr_assert_not_null(f);
	s.vip = calloc(XLB_MAX_VIPS, sizeof(*s.vip));
	s.be = calloc(XLB_MAX_BACKENDS, sizeof(*s.be));
	cr_assert(s.vip && s.be);
	s.global[XLB_CNT_RX] = 10;
	s.global[XLB_CNT_TX] = 7;
	s.global[XLB_CNT_PASS_NON_VIP] = 3;
	s.global[XLB_CNT_CT_FULL] = 2;
	xlb_stats_prometheus(f, &st, &s, false);
	fclose(f);
	cr_assert(strstr(text, "\nxlb_rx_packets_total 10\n"), "%s", text);
	cr_assert(strstr(text, "\nxlb_events_total{event=\"ct_full\"} 2\n"),
		  "%s", text);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "xlb_packets_total{%*[^}]} %llu", &v) == 1)
			sum += v;
		if (sscanf(line, "xlb_rx_packets_total %llu", &v) == 1)
			rx = v;
		cr_assert_null(strstr(line, "reason=\"rx\""), "%s", line);
		cr_assert_null(strstr(line, "reason=\"ct_full\""), "%s", line);
	}
	cr_assert_eq(sum, rx, "outcomes sum to %llu, rx %llu", sum, rx);
	free(text);
	free(s.vip);
	free(s.be);
}
