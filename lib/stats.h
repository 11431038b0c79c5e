/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Reading the datapath's per-CPU counters: global reasons, per VIP, per
 * backend; sums, per-CPU values and rates between two samples. */
#ifndef XLB_STATS_H
#define XLB_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "maps.h"
#include "xlb_abi.h"

/* One reading of every counter. Arrays indexed by counter, vip_id or
 * backend slot; the per-CPU ones [cpu * n + index], only when asked. */
struct xlb_stats_sample {
	double t; /* CLOCK_MONOTONIC, seconds */
	int ncpu; /* possible CPUs */
	__u64 global[XLB_CNT_MAX];
	struct xlb_vip_stats *vip; /* XLB_MAX_VIPS, summed over CPUs */
	struct xlb_be_stats *be; /* XLB_MAX_BACKENDS, summed */
	__u64 *global_cpu; /* ncpu * XLB_CNT_MAX, or NULL */
	struct xlb_vip_stats *vip_cpu; /* ncpu * XLB_MAX_VIPS, or NULL */
	struct xlb_be_stats *be_cpu; /* ncpu * XLB_MAX_BACKENDS, or NULL */
};

/* Name of a global counter ("rx", "drop_no_backend", ...), NULL if out of
 * range. Stable: used as JSON keys and Prometheus label values. */
const char *xlb_counter_name(unsigned int c);
/* One line on what a counter counts, for --help and # HELP. */
const char *xlb_counter_help(unsigned int c);

/**
 * xlb_stats_read - read every counter of an instance
 * @per_cpu: also keep the per-CPU values
 * Returns 0 or -errno; free with xlb_stats_free.
 */
int xlb_stats_read(const struct xlb_instance *in, bool per_cpu,
		   struct xlb_stats_sample *s);
void xlb_stats_free(struct xlb_stats_sample *s);

/* Per-second rate of a counter between two samples (0 if no time passed
 * or the counter went backwards, as after a slot was reused). */
double xlb_stats_rate(uint64_t before, uint64_t after, double dt);

/**
 * xlb_stats_prometheus - counters in the Prometheus text format
 * @st:      the running state (VIP names, backend slots)
 * @s:       a sample (with per-CPU arrays if @per_cpu)
 *
 * Metric names xlb_*, labels reason, vip, backend and (with @per_cpu) cpu.
 * Shared by `xlbctl stats --prometheus` and the service's /metrics.
 */
void xlb_stats_prometheus(FILE *out, const struct xlb_state *st,
			  const struct xlb_stats_sample *s, bool per_cpu);

#endif /* XLB_STATS_H */
