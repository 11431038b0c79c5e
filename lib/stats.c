/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counter reading and summing, and the names of the global
 * counters (enum xlb_counter). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "stats.h"

static const struct {
	const char *name;
	const char *help;
} counters[XLB_CNT_MAX] = {
	[XLB_CNT_RX] = { "rx", "every packet seen" },
	[XLB_CNT_TX] = { "tx", "encapsulated and transmitted" },
	[XLB_CNT_TX_ICMP_ECHO] = { "tx_icmp_echo", "echo replies sent" },
	[XLB_CNT_TX_ICMP_TOO_BIG] = { "tx_icmp_too_big",
				      "frag-needed / packet-too-big sent" },
	[XLB_CNT_TX_ICMP_ERR_FWD] = { "tx_icmp_err_fwd",
				      "ICMP errors forwarded to a backend" },
	[XLB_CNT_PASS_NON_IP] = { "pass_non_ip",
				  "not IPv4/IPv6 (ARP, LLDP, ...), passed" },
	[XLB_CNT_PASS_NON_VIP] = { "pass_non_vip",
				   "IP, but not for a VIP, passed" },
	[XLB_CNT_PASS_MALFORMED_L2] = { "pass_malformed_l2",
					"truncated Ethernet / VLAN header, passed" },
	[XLB_CNT_PASS_MALFORMED_L3] = { "pass_malformed_l3",
					"truncated or bad IPv4/IPv6 header, passed" },
	[XLB_CNT_PASS_EXT_HDR_LIMIT] = { "pass_ext_hdr_limit",
					 "too many IPv6 extension headers, passed" },
	[XLB_CNT_DROP_MALFORMED_L4] = { "drop_malformed_l4",
					"VIP address, bad TCP/UDP/ICMP header, dropped" },
	[XLB_CNT_DROP_FRAGMENT] = { "drop_fragment",
				    "fragment for a VIP address, dropped" },
	[XLB_CNT_DROP_NO_BACKEND] = { "drop_no_backend",
				      "VIP without a usable backend, dropped" },
	[XLB_CNT_DROP_TOO_BIG] = { "drop_too_big",
				   "over MTU after encapsulation, no ICMP sent, dropped" },
	[XLB_CNT_DROP_ICMP_UNMATCHED] = { "drop_icmp_unmatched",
					  "ICMP to a VIP address matching no flow, dropped" },
	[XLB_CNT_DROP_ADJUST] = { "drop_adjust",
				  "bpf_xdp_adjust_head/tail failed, dropped" },
	[XLB_CNT_PASS_VIP_OTHER] = { "pass_vip_other",
				     "VIP address, no VIP for the port/protocol, passed" },
	[XLB_CNT_CT_FULL] = { "ct_full",
			      "new flow not remembered: its connection-table bucket held only recently seen flows (forwarded by the ring)" },
};

const char *xlb_counter_name(unsigned int c)
{
	return c < XLB_CNT_MAX ? counters[c].name : NULL;
}

const char *xlb_counter_help(unsigned int c)
{
	return c < XLB_CNT_MAX ? counters[c].help : NULL;
}

void xlb_stats_free(struct xlb_stats_sample *s)
{
	free(s->vip);
	free(s->be);
	free(s->global_cpu);
	free(s->vip_cpu);
	free(s->be_cpu);
	memset(s, 0, sizeof(*s));
}

/* Per-CPU values come as ncpu blocks of the value size rounded up to 8. */
static void *read_percpu(int fd, __u32 n, size_t vsize, int ncpu, int *err)
{
	size_t stride = (vsize + 7) / 8 * 8 * (size_t)ncpu;
	void *buf = calloc(n, stride);

	if (!buf) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = xlb_array_read(fd, n, stride, buf);
	if (*err) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void add_vip(struct xlb_vip_stats *a, const struct xlb_vip_stats *b)
{
	a->packets += b->packets;
	a->bytes += b->bytes;
	a->new_flows += b->new_flows;
	a->ct_hits += b->ct_hits;
	a->ct_misses += b->ct_misses;
}

int xlb_stats_read(const struct xlb_instance *in, bool per_cpu,
		   struct xlb_stats_sample *s)
{
	struct xlb_vip_stats *vraw = NULL;
	struct xlb_be_stats *braw = NULL;
	struct timespec ts;
	__u64 *graw = NULL;
	int err, ncpu;

	memset(s, 0, sizeof(*s));
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	s->ncpu = ncpu;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->t = ts.tv_sec + ts.tv_nsec / 1e9;

	graw = read_percpu(in->stats_fd, XLB_CNT_MAX, sizeof(__u64), ncpu,
			   &err);
	if (!graw)
		goto fail;
	vraw = read_percpu(in->vip_stats_fd, XLB_MAX_VIPS,
			   sizeof(struct xlb_vip_stats), ncpu, &err);
	if (!vraw)
		goto fail;
	braw = read_percpu(in->be_stats_fd, XLB_MAX_BACKENDS,
			   sizeof(struct xlb_be_stats), ncpu, &err);
	if (!braw)
		goto fail;
	s->vip = calloc(XLB_MAX_VIPS, sizeof(*s->vip));
	s->be = calloc(XLB_MAX_BACKENDS, sizeof(*s->be));
	if (!s->vip || !s->be) {
		err = -ENOMEM;
		goto fail;
	}
	if (per_cpu) {
		s->global_cpu = calloc((size_t)ncpu * XLB_CNT_MAX,
				       sizeof(*s->global_cpu));
		s->vip_cpu = calloc((size_t)ncpu * XLB_MAX_VIPS,
				    sizeof(*s->vip_cpu));
		s->be_cpu = calloc((size_t)ncpu * XLB_MAX_BACKENDS,
				   sizeof(*s->be_cpu));
		if (!s->global_cpu || !s->vip_cpu || !s->be_cpu) {
			err = -ENOMEM;
			goto fail;
		}
	}
	/* Value sizes are multiples of 8 already: element k of CPU c is at
	 * [k * ncpu + c]. */
	for (__u32 k = 0; k < XLB_CNT_MAX; k++)
		for (int c = 0; c < ncpu; c++) {
			__u64 v = graw[(size_t)k * ncpu + c];

			s->global[k] += v;
			if (per_cpu)
				s->global_cpu[(size_t)c * XLB_CNT_MAX + k] = v;
		}
	for (__u32 k = 0; k < XLB_MAX_VIPS; k++)
		for (int c = 0; c < ncpu; c++) {
			const struct xlb_vip_stats *v =
				&vraw[(size_t)k * ncpu + c];

			add_vip(&s->vip[k], v);
			if (per_cpu)
				s->vip_cpu[(size_t)c * XLB_MAX_VIPS + k] = *v;
		}
	for (__u32 k = 0; k < XLB_MAX_BACKENDS; k++)
		for (int c = 0; c < ncpu; c++) {
			const struct xlb_be_stats *v =
				&braw[(size_t)k * ncpu + c];

			s->be[k].packets += v->packets;
			s->be[k].bytes += v->bytes;
			if (per_cpu)
				s->be_cpu[(size_t)c * XLB_MAX_BACKENDS + k] =
					*v;
		}
	free(graw);
	free(vraw);
	free(braw);
	return 0;
fail:
	free(graw);
	free(vraw);
	free(braw);
	xlb_stats_free(s);
	return err;
}

double xlb_stats_rate(uint64_t before, uint64_t after, double dt)
{
	if (dt <= 0 || after < before)
		return 0;
	return (double)(after - before) / dt;
}

/* ---- Prometheus text exposition ------------------------------------ */

static void prom_head(FILE *out, const char *name, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
}

/* {reason="..."/{event="..."} (@key), vip, backend, cpu}; nothing if
 * there is no label at all. */
static void prom_labels(FILE *out, const char *vip, const char *be, int cpu,
			const char *reason, const char *key)
{
	bool first = true;

	if (!reason && !vip && !be && cpu < 0)
		return;
	fprintf(out, "{");
	if (reason) {
		fprintf(out, "%s=", key);
		xlb_put_quoted(out, reason);
		first = false;
	}
	if (vip) {
		fprintf(out, "%svip=", first ? "" : ",");
		xlb_put_quoted(out, vip);
		first = false;
	}
	if (be) {
		fprintf(out, "%sbackend=", first ? "" : ",");
		xlb_put_quoted(out, be);
		first = false;
	}
	if (cpu >= 0)
		fprintf(out, "%scpu=\"%d\"", first ? "" : ",", cpu);
	fprintf(out, "}");
}

/* Every CPU with --per-cpu, else the sums (cpu -1). */
#define FOR_CPUS(k, s, per_cpu) \
	for (int k = (per_cpu) ? 0 : -1; k < ((per_cpu) ? (s)->ncpu : 0); k++)

void xlb_stats_prometheus(FILE *out, const struct xlb_state *st,
			  const struct xlb_stats_sample *s, bool per_cpu)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} vf[] = {
		{ "xlb_vip_packets_total", "Packets received for the VIP.",
		  offsetof(struct xlb_vip_stats, packets) },
		{ "xlb_vip_bytes_total", "Bytes received for the VIP.",
		  offsetof(struct xlb_vip_stats, bytes) },
		{ "xlb_vip_new_flows_total",
		  "Flows inserted in the connection table.",
		  offsetof(struct xlb_vip_stats, new_flows) },
		{ "xlb_vip_ct_hits_total", "Connection-table hits.",
		  offsetof(struct xlb_vip_stats, ct_hits) },
		{ "xlb_vip_ct_misses_total", "Connection-table misses.",
		  offsetof(struct xlb_vip_stats, ct_misses) },
	};
	const struct xlb_config *c = &st->cfg;
	char a[96];

	/* One outcome per packet under xlb_packets_total, so that its sum
	 * is the packets seen; rx and the events beside an outcome have
	 * names of their own. */
	static const struct {
		const char *name, *help;
		unsigned int from, to; /* counters [from, to) */
		const char *label; /* the counter's name under it, or none */
	} gf[] = {
		{ "xlb_rx_packets_total", "Packets the datapath saw.",
		  XLB_CNT_RX, XLB_CNT_RX + 1, NULL },
		{ "xlb_packets_total",
		  "Packets by what the datapath did with them (reason); they "
		  "sum to xlb_rx_packets_total.",
		  XLB_CNT_RX + 1, XLB_CNT_EVENTS, "reason" },
		{ "xlb_events_total",
		  "Events beside a packet's outcome (event), such as ct_full: "
		  "a new flow its connection-table bucket had no room for.",
		  XLB_CNT_EVENTS, XLB_CNT_MAX, "event" },
	};

	for (size_t g = 0; g < sizeof(gf) / sizeof(gf[0]); g++) {
		prom_head(out, gf[g].name, gf[g].help);
		for (unsigned int r = gf[g].from; r < gf[g].to; r++)
			FOR_CPUS(k, s, per_cpu)
			{
				fprintf(out, "%s", gf[g].name);
				prom_labels(out, NULL, NULL, k,
					    gf[g].label ? xlb_counter_name(r) :
							  NULL,
					    gf[g].label);
				fprintf(out, " %llu\n",
					k < 0 ? s->global[r] :
						s->global_cpu[k * XLB_CNT_MAX +
							      r]);
			}
	}
	for (size_t f = 0; f < sizeof(vf) / sizeof(vf[0]); f++) {
		prom_head(out, vf[f].name, vf[f].help);
		for (size_t i = 0; i < c->n_vips; i++) {
			uint32_t id = st->vip_id[i];

			FOR_CPUS(k, s, per_cpu)
			{
				const struct xlb_vip_stats *v =
					k < 0 ? &s->vip[id] :
						&s->vip_cpu[k * XLB_MAX_VIPS +
							    id];

				fprintf(out, "%s", vf[f].name);
				prom_labels(out, c->vips[i].name, NULL, k, NULL,
					    NULL);
				fprintf(out,
					" %llu"
					"\n",
					*(const __u64 *)((const char *)v +
							 vf[f].off));
			}
		}
	}
	for (int f = 0; f < 2; f++) {
		const char *name = f ? "xlb_backend_bytes_total" :
				       "xlb_backend_packets_total";

		prom_head(out, name,
			  f ? "Bytes sent to the backend." :
			      "Packets sent to the backend.");
		for (size_t i = 0; i < c->n_vips; i++) {
			const struct xlb_vip_cfg *v = &c->vips[i];

			for (size_t j = 0; j < v->n_backends; j++) {
				uint32_t sl = st->slot[i][j];

				xlb_addr_str(&v->backends[j].addr, a,
					     sizeof(a));
				FOR_CPUS(k, s, per_cpu)
				{
					const struct xlb_be_stats *b =
						k < 0 ? &s->be[sl] :
							&s->be_cpu
								 [k * XLB_MAX_BACKENDS +
								  sl];

					fprintf(out, "%s", name);
					prom_labels(out, v->name, a, k, NULL,
						    NULL);
					fprintf(out,
						" %llu"
						"\n",
						f ? b->bytes : b->packets);
				}
			}
		}
	}
}
