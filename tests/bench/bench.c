/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xlb-bench: cost per packet, live-frames throughput, conntrack under a
 * SYN flood and control-plane timings; a table for people, --json for
 * tools. Method and results: docs/benchmarks.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bench.h"
#include "log.h"

struct bench_opts bopt;

void say(const char *fmt, ...)
{
	va_list ap;

	if (bopt.json && !bopt.verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "xlb-bench: cannot pin to CPU %d: %s\n", cpu,
			strerror(errno));
		return -errno;
	}
	return 0;
}

int possible_cpus(void)
{
	int n = libbpf_num_possible_cpus();

	return n > 0 ? n : 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double median(double *v, int n)
{
	double s[n];

	memcpy(s, v, sizeof(s));
	qsort(s, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (bopt.verbose)
		fprintf(stderr, "+ %s\n", cmd);
	/* stdout is the JSON: command output goes to stderr (verbose) or
	 * nowhere */
	strncat(cmd, bopt.verbose ? " 1>&2" : " >/dev/null 2>&1",
		sizeof(cmd) - strlen(cmd) - 1);
	rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* ---- Output -------------------------------------------------------------- */

static void print_table(const struct bench_results *r)
{
	const struct bench_live *l = &r->live;
	const struct bench_flood *f = &r->flood;
	const struct bench_ctl *c = &r->ctl;
	char loads[40] = "";

	if (bopt.loads > 1)
		snprintf(loads, sizeof(loads), ", median over %d loads",
			 bopt.loads);
	printf("xlb-bench  %s  kernel %s  CPU %d\n", r->date, r->kernel,
	       r->cpu);
	if (bopt.sections & SEC_COST) {
		printf("\nCost per packet (BPF_PROG_TEST_RUN, repeat=1, kernel-"
		       "timed, median of %d runs x %llu calls%s)\n",
		       bopt.runs, (unsigned long long)bopt.calls, loads);
		printf("floor (XDP_TX): %.1f ns  (begin %.1f, end %.1f; wall "
		       "per call %.0f ns)\n",
		       r->floor_ns, r->floor_ns_begin, r->floor_ns_end,
		       r->floor_wall_ns);
		printf("%-34s %8s %7s %7s %6s %8s  %s\n", "path", "ns", "ratio",
		       "target", "", "wall ns", "check");
		for (int i = 0; i < r->npaths; i++) {
			const struct bench_path *p = &r->paths[i];
			char tgt[16] = "-";
			const char *v = "";

			if (p->target > 0) {
				snprintf(tgt, sizeof(tgt), "%.1fx", p->target);
				v = p->ratio <= p->target ? "ok" : "MISS";
			}
			if (!p->ok)
				v = "FAIL";
			printf("%-34s %8.1f %6.2fx %7s %6s %8.0f  %s\n",
			       p->name, p->ns, p->ratio, tgt, v, p->wall_ns,
			       p->note);
		}
	}
	if (bopt.sections & SEC_LIVE) {
		printf("\nLive frames over a veth pair (generator -> xlb -> "
		       "sink, one CPU)\n");
		if (!l->done) {
			printf("n/a: %s\n", l->err);
		} else {
			printf("%u flows: xlb %.3f Mpps, floor %.3f Mpps, "
			       "ratio %.2f (target >= 0.70)\n",
			       l->flows, l->xlb_mpps, l->floor_mpps,
			       l->floor_mpps > 0 ? l->xlb_mpps / l->floor_mpps :
						   0);
			printf("1 flow:   xlb %.3f Mpps, floor %.3f Mpps, ratio "
			       "%.2f\n",
			       l->xlb_mpps_1flow, l->floor_mpps_1flow,
			       l->floor_mpps_1flow > 0 ?
				       l->xlb_mpps_1flow / l->floor_mpps_1flow :
				       0);
			printf("%u flows to a VIP with conntrack: false: xlb "
			       "%.3f Mpps, ratio %.2f (no target: no flow's "
			       "state is read)\n",
			       l->flows, l->xlb_mpps_noct,
			       l->floor_mpps > 0 ?
				       l->xlb_mpps_noct / l->floor_mpps :
				       0);
			printf("(median of %d rounds of xlb then the floor, "
			       "%.1f s each; many-flows ratio per round:",
			       l->rounds, l->secs);
			for (int k = 0; k < l->rounds; k++)
				printf(" %.2f",
				       l->floor_r[k] > 0 ?
					       l->xlb_r[k] / l->floor_r[k] :
					       0);
			printf("; xlb TX counter %llu vs sink %llu)\n",
			       (unsigned long long)l->xlb_tx,
			       (unsigned long long)l->sink);
			printf("memory, random reads of one line (this CPU):");
			for (int i = 0; i < l->nmem; i++)
				printf("%s %u MB %.0f ns", i ? "," : "",
				       l->mem_mb[i], l->mem_ns[i]);
			printf("\n(the %u flows' buckets, in a table for %u "
			       "flows: %.1f MB of lines; ct_full %llu of %llu "
			       "packets)\n",
			       l->flows, l->ct_size, l->bucket_mb,
			       (unsigned long long)l->ct_full,
			       (unsigned long long)l->xlb_tx);
		}
	}
	if (bopt.sections & SEC_FLOOD) {
		printf("\nConntrack under a SYN flood (%u flows, %u ways)\n",
		       f->ct_size, f->ct_ways);
		if (!f->done) {
			printf("n/a: %s\n", f->err);
		} else {
			const struct bench_flood_case *cs[2] = {
				&f->stable, &f->ring_change
			};
			const char *nm[2] = { "no ring change",
					      "ring change mid-flood" };

			for (int i = 0; i < 2; i++)
				printf("%-22s flood %llu (syn %llu, ack-new "
				       "%llu) at %.0f kpps: established %u, "
				       "kept backend %u, moved %u, entries "
				       "survived %u, moved despite entry %u, "
				       "slot changed %u\n",
				       nm[i],
				       (unsigned long long)cs[i]->flood_pkts,
				       (unsigned long long)cs[i]->syn,
				       (unsigned long long)cs[i]->ack_new,
				       cs[i]->flood_kpps, cs[i]->est,
				       cs[i]->kept, cs[i]->moved,
				       cs[i]->ct_survived,
				       cs[i]->moved_with_entry,
				       cs[i]->would_move);
		}
	}
	if (bopt.sections & SEC_CTL) {
		printf("\nControl plane\n");
		if (!c->done) {
			printf("n/a: %s\n", c->err);
		} else {
			for (int i = 0; i < c->nmg; i++)
				printf("maglev build N=%-5u M=%-7u %9.2f ms\n",
				       c->mg[i].n, c->mg[i].m, c->mg[i].ms);
			for (int i = 0; i < c->nmem; i++)
				printf("map %-16s %12llu bytes\n",
				       c->mem[i].name,
				       (unsigned long long)c->mem[i].bytes);
			printf("maps total       %12llu bytes (+ %llu per VIP "
			       "ring at M=%u, %llu at M=%u)\n",
			       (unsigned long long)c->mem_total,
			       (unsigned long long)c->ring_bytes,
			       XLB_RING_SIZE_DEFAULT,
			       (unsigned long long)c->ring_bytes_max,
			       XLB_RING_SIZE_MAX);
			if (!strcmp(c->reload_status, "ok"))
				printf("xlbctl 512 VIPs x 100 backends (as "
				       "reported / whole process): load %.0f/%.0f"
				       " ms, reload full %.0f/%.0f ms, one "
				       "backend %.0f/%.0f ms, no change "
				       "%.0f/%.0f ms\n",
				       c->load_ms, c->load_wall,
				       c->reload_full_ms, c->reload_full_wall,
				       c->reload_one_ms, c->reload_one_wall,
				       c->reload_noop_ms, c->reload_noop_wall);
			else
				printf("xlbctl reload: %s\n", c->reload_status);
		}
	}
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void json_flood_case(const char *name, const struct bench_flood_case *c)
{
	printf("\"%s\":{\"flood_pkts\":%llu,\"syn\":%llu,\"ack_new\":%llu,"
	       "\"flood_kpps\":%.1f,\"established\":%u,\"kept_backend\":%u,"
	       "\"moved\":%u,\"ct_survived\":%u,\"moved_with_entry\":%u,"
	       "\"slot_changed\":%u}",
	       name, (unsigned long long)c->flood_pkts,
	       (unsigned long long)c->syn, (unsigned long long)c->ack_new,
	       c->flood_kpps, c->est, c->kept, c->moved, c->ct_survived,
	       c->moved_with_entry, c->would_move);
}

static void print_json(const struct bench_results *r)
{
	const struct bench_live *l = &r->live;
	const struct bench_flood *f = &r->flood;
	const struct bench_ctl *c = &r->ctl;

	printf("{\"date\":\"%s\",\"kernel\":", r->date);
	json_str(r->kernel);
	printf(",\"cpu\":%d,\"calls\":%llu,\"runs\":%d,\"loads\":%d,"
	       "\"quick\":%s",
	       r->cpu, (unsigned long long)bopt.calls, bopt.runs, bopt.loads,
	       bopt.quick ? "true" : "false");
	printf(",\"floor_ns\":%.2f,\"floor_ns_begin\":%.2f,"
	       "\"floor_ns_end\":%.2f,\"floor_wall_ns\":%.1f",
	       r->floor_ns, r->floor_ns_begin, r->floor_ns_end,
	       r->floor_wall_ns);
	printf(",\"paths\":[");
	for (int i = 0; i < r->npaths; i++) {
		const struct bench_path *p = &r->paths[i];

		printf("%s{\"name\":", i ? "," : "");
		json_str(p->name);
		printf(",\"ns\":%.2f,\"ratio\":%.3f,\"wall_ns\":%.1f,"
		       "\"spread\":%.3f,\"calls\":%llu,\"ok\":%s",
		       p->ns, p->ratio, p->wall_ns, p->spread,
		       (unsigned long long)p->calls, p->ok ? "true" : "false");
		if (p->target > 0)
			printf(",\"target\":%.2f,\"meets_target\":%s",
			       p->target,
			       p->ratio <= p->target ? "true" : "false");
		printf(",\"check\":");
		json_str(p->note);
		putchar('}');
	}
	printf("]");

	printf(",\"live_frames\":{");
	if (l->done)
		printf("\"xlb_mpps\":%.4f,\"floor_mpps\":%.4f,\"ratio\":%.3f,"
		       "\"xlb_mpps_1flow\":%.4f,\"floor_mpps_1flow\":%.4f,"
		       "\"ratio_1flow\":%.3f,\"xlb_mpps_no_conntrack\":%.4f,"
		       "\"ratio_no_conntrack\":%.3f,\"flows\":%u,\"ct_size\":%u,"
		       "\"seconds\":%.2f,"
		       "\"cpu\":%d,\"xlb_tx\":%llu,\"sink\":%llu,"
		       "\"ct_full\":%llu",
		       l->xlb_mpps, l->floor_mpps,
		       l->floor_mpps > 0 ? l->xlb_mpps / l->floor_mpps : 0,
		       l->xlb_mpps_1flow, l->floor_mpps_1flow,
		       l->floor_mpps_1flow > 0 ?
			       l->xlb_mpps_1flow / l->floor_mpps_1flow :
			       0,
		       l->xlb_mpps_noct,
		       l->floor_mpps > 0 ? l->xlb_mpps_noct / l->floor_mpps : 0,
		       l->flows, l->ct_size, l->secs, l->cpu,
		       (unsigned long long)l->xlb_tx,
		       (unsigned long long)l->sink,
		       (unsigned long long)l->ct_full);
	if (l->done) {
		printf(",\"rounds\":%d,\"ratios\":[", l->rounds);
		for (int k = 0; k < l->rounds; k++)
			printf("%s%.3f", k ? "," : "",
			       l->floor_r[k] > 0 ? l->xlb_r[k] / l->floor_r[k] :
						   0);
		printf("],\"ratios_1flow\":[");
		for (int k = 0; k < l->rounds; k++)
			printf("%s%.3f", k ? "," : "",
			       l->floor1_r[k] > 0 ?
				       l->xlb1_r[k] / l->floor1_r[k] :
				       0);
		printf("],\"ratios_no_conntrack\":[");
		for (int k = 0; k < l->rounds; k++)
			printf("%s%.3f", k ? "," : "",
			       l->floor_r[k] > 0 ?
				       l->xlbn_r[k] / l->floor_r[k] :
				       0);
		printf("]");
		printf(",\"bucket_mb\":%.2f,\"mem_latency_ns\":{",
		       l->bucket_mb);
		for (int i = 0; i < l->nmem; i++)
			printf("%s\"%u\":%.1f", i ? "," : "", l->mem_mb[i],
			       l->mem_ns[i]);
		putchar('}');
	} else {
		printf("\"xlb_mpps\":null,\"floor_mpps\":null,\"error\":");
		json_str(bopt.sections & SEC_LIVE ? l->err : "not run");
	}
	printf("}");

	printf(",\"syn_flood\":{");
	if (f->done) {
		printf("\"ct_size\":%u,\"ct_ways\":%u,", f->ct_size,
		       f->ct_ways);
		json_flood_case("stable", &f->stable);
		putchar(',');
		json_flood_case("ring_change", &f->ring_change);
	} else {
		printf("\"error\":");
		json_str(bopt.sections & SEC_FLOOD ? f->err : "not run");
	}
	printf("}");

	printf(",\"control_plane\":{");
	if (c->done) {
		printf("\"maglev_build_ms\":[");
		for (int i = 0; i < c->nmg; i++)
			printf("%s{\"n\":%u,\"m\":%u,\"ms\":%.3f}",
			       i ? "," : "", c->mg[i].n, c->mg[i].m,
			       c->mg[i].ms);
		printf("],\"map_bytes\":{");
		for (int i = 0; i < c->nmem; i++)
			printf("%s\"%s\":%llu", i ? "," : "", c->mem[i].name,
			       (unsigned long long)c->mem[i].bytes);
		printf("},\"maps_total_bytes\":%llu,\"ring_bytes\":%llu,"
		       "\"ring_bytes_max\":%llu,\"reload\":",
		       (unsigned long long)c->mem_total,
		       (unsigned long long)c->ring_bytes,
		       (unsigned long long)c->ring_bytes_max);
		json_str(c->reload_status);
		if (!strcmp(c->reload_status, "ok"))
			printf(",\"load_ms\":%.1f,\"reload_full_ms\":%.1f,"
			       "\"reload_one_backend_ms\":%.1f,"
			       "\"reload_noop_ms\":%.1f,\"load_wall_ms\":%.1f,"
			       "\"reload_full_wall_ms\":%.1f,"
			       "\"reload_one_backend_wall_ms\":%.1f,"
			       "\"reload_noop_wall_ms\":%.1f",
			       c->load_ms, c->reload_full_ms, c->reload_one_ms,
			       c->reload_noop_ms, c->load_wall,
			       c->reload_full_wall, c->reload_one_wall,
			       c->reload_noop_wall);
	} else {
		printf("\"error\":");
		json_str(bopt.sections & SEC_CTL ? c->err : "not run");
	}
	printf("}}\n");
}

/* ---- Options ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xlb-bench [options]\n"
		"  --quick          tiny counts: checks that everything runs "
		"(numbers meaningless)\n"
		"  --json           print one JSON object on stdout\n"
		"  --only LIST      sections, comma-separated: cost,live,"
		"flood,ctl (default all)\n"
		"  --calls N        test runs per timed run (default "
		"1000000)\n"
		"  --runs N         timed runs per path, median kept "
		"(default 5, max 16)\n"
		"  --loads N        cost: load xlb and its maps N times, run "
		"every path on\n"
		"                   each load, keep the median over the loads "
		"(default 1,\n"
		"                   max 9): where the kernel places the "
		"connection table\n"
		"                   moves the table paths by up to 30%% "
		"between loads\n"
		"  --cpu N          CPU to pin to (default: the last one); "
		"-1: do not pin\n"
		"  --live-secs S    live frames: seconds per measurement "
		"(default 3)\n"
		"  --live-flows N   live frames: flows of the many-flows case "
		"(default 100000)\n"
		"  --live-rounds N  live frames: rounds of xlb then the floor, "
		"medians kept\n"
		"                   (default 3, max 9)\n"
		"  --live-ct-size N live frames: xlb's conntrack_size (default "
		"%u, as\n"
		"                   xlbctl loads it); the flows' bucket lines "
		"spread over\n"
		"                   less memory in a smaller table\n"
		"  --flood N        SYN flood: new-flow packets (default "
		"4000000)\n"
		"  --flood-est N    SYN flood: established flows (default "
		"10000)\n"
		"  --ct-size N      conntrack flows for the full-table paths "
		"and the flood\n"
		"                   (default %u)\n"
		"  --xlbctl PATH    xlbctl for the reload timing (default "
		"%s/ctl/xlbctl)\n"
		"  --filter LIST    cost: only these paths (comma-separated "
		"names; profiling)\n"
		"  --object FILE    a variant xlb.bpf.o in place of the built-in "
		"one (profiling)\n"
		"  --no-check       time only; do not check which path each "
		"packet took (for --object)\n"
		"  -v, --verbose    progress, commands, libbpf messages\n"
		"  -h, --help       this text\n",
		XLB_CONNTRACK_DEFAULT, XLB_CONNTRACK_DEFAULT,
		XLB_BENCH_BINARY_DIR);
}

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max,
		     uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || end == s || s[0] == '-' || v < min || v > max) {
		fprintf(stderr,
			"xlb-bench: %s wants a number from %llu to %llu, got "
			"'%s'\n",
			opt, (unsigned long long)min, (unsigned long long)max,
			s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_sections(const char *s)
{
	char buf[128], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", s);
	bopt.sections = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "cost"))
			bopt.sections |= SEC_COST;
		else if (!strcmp(tok, "live"))
			bopt.sections |= SEC_LIVE;
		else if (!strcmp(tok, "flood"))
			bopt.sections |= SEC_FLOOD;
		else if (!strcmp(tok, "ctl"))
			bopt.sections |= SEC_CTL;
		else {
			fprintf(stderr,
				"xlb-bench: --only: unknown section '%s' "
				"(cost, live, flood, ctl)\n",
				tok);
			return -EINVAL;
		}
	}
	return bopt.sections ? 0 : -EINVAL;
}

static int parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "only", required_argument, NULL, 'o' },
		{ "calls", required_argument, NULL, 'c' },
		{ "runs", required_argument, NULL, 'r' },
		{ "loads", required_argument, NULL, 'L' },
		{ "cpu", required_argument, NULL, 'p' },
		{ "live-secs", required_argument, NULL, 's' },
		{ "live-flows", required_argument, NULL, 'f' },
		{ "live-rounds", required_argument, NULL, 'R' },
		{ "live-ct-size", required_argument, NULL, 'T' },
		{ "flood", required_argument, NULL, 'F' },
		{ "flood-est", required_argument, NULL, 'E' },
		{ "ct-size", required_argument, NULL, 'C' },
		{ "xlbctl", required_argument, NULL, 'x' },
		{ "filter", required_argument, NULL, 'P' },
		{ "object", required_argument, NULL, 'O' },
		{ "no-check", no_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool set_calls = false, set_runs = false, set_secs = false;
	bool set_flood = false, set_est = false, set_ct = false;
	bool set_rounds = false;
	uint64_t v;
	int c;

	bopt.sections = SEC_ALL;
	bopt.calls = 1000000;
	bopt.runs = 5;
	bopt.loads = 1;
	bopt.cpu = possible_cpus() - 1;
	bopt.live_secs = 3;
	bopt.live_flows = 100000;
	bopt.live_rounds = 3;
	bopt.live_ct_size = XLB_CONNTRACK_DEFAULT;
	bopt.flood_pkts = 4000000;
	bopt.flood_est = 10000;
	bopt.ct_size = XLB_CONNTRACK_DEFAULT;
	bopt.xlbctl = XLB_BENCH_BINARY_DIR "/ctl/xlbctl";
	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case 'q':
			bopt.quick = true;
			break;
		case 'j':
			bopt.json = true;
			break;
		case 'o':
			if (parse_sections(optarg))
				return -EINVAL;
			break;
		case 'c':
			if (parse_u64("--calls", optarg, 1, 1000000000, &v))
				return -EINVAL;
			bopt.calls = v;
			set_calls = true;
			break;
		case 'r':
			if (parse_u64("--runs", optarg, 1, 16, &v))
				return -EINVAL;
			bopt.runs = (int)v;
			set_runs = true;
			break;
		case 'L':
			if (parse_u64("--loads", optarg, 1, 9, &v))
				return -EINVAL;
			bopt.loads = (int)v;
			break;
		case 'p':
			if (!strcmp(optarg, "-1")) {
				bopt.cpu = -1;
				break;
			}
			if (parse_u64("--cpu", optarg, 0,
				      (uint64_t)possible_cpus() - 1, &v))
				return -EINVAL;
			bopt.cpu = (int)v;
			break;
		case 's':
			if (parse_u64("--live-secs", optarg, 1, 600, &v))
				return -EINVAL;
			bopt.live_secs = (double)v;
			set_secs = true;
			break;
		case 'R':
			if (parse_u64("--live-rounds", optarg, 1,
				      BENCH_MAX_LIVE_ROUNDS, &v))
				return -EINVAL;
			bopt.live_rounds = (int)v;
			set_rounds = true;
			break;
		case 'T':
			if (parse_u64("--live-ct-size", optarg, 1024, 1u << 27,
				      &v))
				return -EINVAL;
			bopt.live_ct_size = (uint32_t)v;
			break;
		case 'f':
			if (parse_u64("--live-flows", optarg, 1, 1u << 30, &v))
				return -EINVAL;
			bopt.live_flows = (uint32_t)v;
			break;
		case 'F':
			if (parse_u64("--flood", optarg, 1, 1ULL << 34, &v))
				return -EINVAL;
			bopt.flood_pkts = v;
			set_flood = true;
			break;
		case 'E':
			if (parse_u64("--flood-est", optarg, 1, 1000000, &v))
				return -EINVAL;
			bopt.flood_est = (uint32_t)v;
			set_est = true;
			break;
		case 'C':
			if (parse_u64("--ct-size", optarg, 1024, 1u << 28, &v))
				return -EINVAL;
			bopt.ct_size = (uint32_t)v;
			set_ct = true;
			break;
		case 'x':
			bopt.xlbctl = optarg;
			break;
		case 'P':
			bopt.filter = optarg;
			break;
		case 'O':
			bopt.object = optarg;
			break;
		case 'N':
			bopt.no_check = true;
			break;
		case 'v':
			bopt.verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xlb-bench: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	if (bopt.quick) {
		/* enough to walk every code path, not to time anything */
		if (!set_calls)
			bopt.calls = 2000;
		if (!set_runs)
			bopt.runs = 1;
		if (!set_secs)
			bopt.live_secs = 0.2;
		if (!set_rounds)
			bopt.live_rounds = 1;
		if (!set_flood)
			bopt.flood_pkts = 20000;
		if (!set_est)
			bopt.flood_est = 200;
		if (!set_ct)
			bopt.ct_size = 8192;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench_results r;
	struct utsname un;
	time_t t = time(NULL);
	int rc = 0;

	if (parse_args(argc, argv))
		return 2;
	xlb_log_init("xlb-bench", bopt.verbose);
	if (geteuid() != 0) {
		fprintf(stderr, "xlb-bench: needs root (BPF programs, "
				"network namespaces): run it with sudo\n");
		return 1;
	}
	uname(&un);
	snprintf(r.kernel, sizeof(r.kernel), "%.63s", un.release);
	strftime(r.date, sizeof(r.date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	r.cpu = bopt.cpu;
	if (bopt.cpu >= 0 && pin_cpu(bopt.cpu))
		return 1;

	if ((bopt.sections & SEC_COST) && bench_cost(&r))
		rc = 1;
	if ((bopt.sections & SEC_LIVE) && bench_live(&r))
		rc = 1;
	if ((bopt.sections & SEC_FLOOD) && bench_flood(&r))
		rc = 1;
	if ((bopt.sections & SEC_CTL) && bench_ctl(&r))
		rc = 1;

	if (bopt.json)
		print_json(&r);
	else
		print_table(&r);
	return rc;
}
