/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xlbctl: the operator's command line over lib/ — check, load, reload,
 * unload, status and stats of the xlb XDP load balancer. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <linux/limits.h>

#include "service.h"
#include "config.h"
#include "log.h"
#include "maps.h"
#include "stats.h"

/* Exit statuses. */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* Plural "s" for a count. */
#define PL(n) ((n) == 1 ? "" : "s")

int xlbctl_cmd_run(int argc, char **argv); /* ctl/run.c */

static const char *help_main =
	"NAME\n"
	"    xlbctl - control the xlb XDP layer-4 load balancer\n"
	"\n"
	"SYNOPSIS\n"
	"    xlbctl [-v] COMMAND [OPTIONS]\n"
	"    xlbctl COMMAND --help\n"
	"\n"
	"DESCRIPTION\n"
	"    xlb balances TCP and UDP services (VIPs) over backends with Maglev\n"
	"    consistent hashing, encapsulating packets to the backend (IPIP or\n"
	"    GUE) from an XDP program. xlbctl loads the program on an interface,\n"
	"    keeps its maps in line with a YAML configuration file, and reports\n"
	"    its state and counters. An instance is the program on one interface,\n"
	"    pinned under /sys/fs/bpf/xlb/IFACE/.\n"
	"\n"
	"COMMANDS\n"
	"    check FILE        validate a configuration file, change nothing\n"
	"    load -c FILE      load and attach the balancer as FILE describes\n"
	"    reload -c FILE    apply the changes in FILE to the running instance\n"
	"    unload [-i IFACE] detach the balancer and remove its pins\n"
	"    status [-i IFACE] show program, VIPs and backends\n"
	"    stats [-i IFACE]  show counters, rates, JSON or Prometheus text\n"
	"    run -c FILE       run as a service: load, watch FILE, health-check\n"
	"                      backends, serve metrics, announce VIPs via BIRD\n"
	"\n"
	"OPTIONS\n"
	"    -v, --verbose     also show debug lines and libbpf/libxdp output\n"
	"                      (e.g. the verifier log when a load fails)\n"
	"    -h, --help        this text; `xlbctl COMMAND --help` for a command\n"
	"\n"
	"EXIT STATUS\n"
	"    0 success, 1 failure or invalid configuration, 2 usage error.\n"
	"\n"
	"EXAMPLES\n"
	"    xlbctl check /etc/xlb/xlb.yaml\n"
	"    xlbctl load -c /etc/xlb/xlb.yaml --mode generic\n"
	"    xlbctl reload -c /etc/xlb/xlb.yaml\n"
	"    xlbctl stats --watch 1\n"
	"    xlbctl unload -i eth1\n";

static const char *help_check =
	"NAME\n"
	"    xlbctl check - validate a configuration file\n"
	"\n"
	"SYNOPSIS\n"
	"    xlbctl check FILE\n"
	"\n"
	"DESCRIPTION\n"
	"    Reads FILE and reports every error with its line and column.\n"
	"    Touches nothing and needs no privileges.\n"
	"\n"
	"EXIT STATUS\n"
	"    0 valid, 1 invalid or unreadable, 2 usage error.\n"
	"\n"
	"EXAMPLES\n"
	"    xlbctl check xlb.yaml && xlbctl reload -c xlb.yaml\n";

static const char *help_load =
	"NAME\n"
	"    xlbctl load - load and attach the balancer\n"
	"\n"
	"SYNOPSIS\n"
	"    xlbctl load -c FILE [--mode native|generic]\n"
	"\n"
	"DESCRIPTION\n"
	"    Validates FILE, loads the XDP program sized by maglev_table_size\n"
	"    and conntrack_size, pins it and its maps under\n"
	"    /sys/fs/bpf/xlb/IFACE/ (directory 0700, pins 0600), fills the maps\n"
	"    and only then attaches the program to the interface of FILE.\n"
	"    Refuses if xlb is already loaded there or another XDP program is\n"
	"    attached. On any error everything created is removed again.\n"
	"    Needs root (CAP_BPF and CAP_NET_ADMIN).\n"
	"    The connection tables are made at load, 32 KiB chunks of kernel\n"
	"    memory (98 MB for the default conntrack_size of a million flows);\n"
	"    from about 6.6 million flows on this takes seconds (some 30 s at\n"
	"    the largest size) and progress is shown on stderr.\n"
	"\n"
	"OPTIONS\n"
	"    -c, --config FILE  configuration file (required)\n"
	"    -m, --mode MODE    native (driver, default) or generic (SKB mode,\n"
	"                       for drivers without XDP); overrides `mode:`\n"
	"\n"
	"EXIT STATUS\n"
	"    0 loaded, 1 failure (nothing left behind), 2 usage error.\n"
	"\n"
	"EXAMPLES\n"
	"    xlbctl load -c /etc/xlb/xlb.yaml\n"
	"    xlbctl -v load -c xlb.yaml --mode generic\n";

static const char *help_reload =
	"NAME\n"
	"    xlbctl reload - apply a changed configuration without reloading\n"
	"\n"
	"SYNOPSIS\n"
	"    xlbctl reload -c FILE [--mode native|generic]\n"
	"\n"
	"DESCRIPTION\n"
	"    Reads the running state back from the pinned maps, compares it with\n"
	"    FILE and writes only the difference: VIPs added, removed or changed,\n"
	"    backends added, removed, drained, taken down or re-weighted. A VIP\n"
	"    whose Maglev table changes gets a new table built aside and swapped\n"
	"    in with one map update; unchanged VIPs are not touched. Established\n"
	"    flows stay on their backend unless it was removed or taken down.\n"
	"    Everything is checked before the first write: if FILE is invalid or\n"
	"    cannot be applied, nothing changes.\n"
	"    interface, mode, maglev_table_size and conntrack_size are fixed at\n"
	"    load; changing them needs `xlbctl unload` then `xlbctl load`.\n"
	"\n"
	"OPTIONS\n"
	"    -c, --config FILE  configuration file (required)\n"
	"    -m, --mode MODE    the mode the instance was loaded with, if it was\n"
	"                       overridden with `load --mode`\n"
	"\n"
	"EXIT STATUS\n"
	"    0 applied, 1 refused or failed, 2 usage error.\n"
	"\n"
	"EXAMPLES\n"
	"    xlbctl reload -c /etc/xlb/xlb.yaml\n";

static const char *help_unload =
	"NAME\n"
	"    xlbctl unload - detach the balancer and remove its pins\n"
	"\n"
	"SYNOPSIS\n"
	"    xlbctl unload [-i IFACE]\n"
	"\n"
	"DESCRIPTION\n"
	"    Detaches the program (only if the one attached is ours) and removes\n"
	"    /sys/fs/bpf/xlb/IFACE/. Without -i, unloads the only instance.\n"
	"    Unloading where nothing is loaded says so and succeeds.\n"
	"\n"
	"OPTIONS\n"
	"    -i, --interface IFACE  the instance to unload\n"
	"\n"
	"EXIT STATUS\n"
	"    0 unloaded or nothing loaded, 1 failure, 2 usage error.\n"
	"\n"
	"EXAMPLES\n"
	"    xlbctl unload -i eth1\n";

static const char *help_status =
	"NAME\n"
	"    xlbctl status - show the running balancer\n"
	"\n"
	"SYNOPSIS\n"
	"    xlbctl status [-i IFACE] [--json]\n"
	"\n"
	"DESCRIPTION\n"
	"    Program id, attach mode, interface, table and connection-table\n"
	"    sizes, global settings, and every VIP with its backends, their\n"
	"    state, weight and slot. Without -i, the only instance.\n"
	"\n"
	"OPTIONS\n"
	"    -i, --interface IFACE  the instance to show\n"
	"    -j, --json             one JSON object instead of text\n"
	"\n"
	"EXIT STATUS\n"
	"    0 shown, 1 failure (e.g. nothing loaded), 2 usage error.\n"
	"\n"
	"EXAMPLES\n"
	"    xlbctl status\n"
	"    xlbctl status -i eth1 --json | jq '.vips[].backends'\n";

static const char *help_stats =
	"NAME\n"
	"    xlbctl stats - show the balancer's counters\n"
	"\n"
	"SYNOPSIS\n"
	"    xlbctl stats [-i IFACE] [--per-cpu] [--watch SECONDS]\n"
	"                 [--json | --prometheus]\n"
	"\n"
	"DESCRIPTION\n"
	"    Global counters by reason (rx, tx, drop_no_backend, ...), and per\n"
	"    VIP (packets, bytes, new_flows, ct_hits, ct_misses) and per backend\n"
	"    (packets, bytes), summed over CPUs.\n"
	"\n"
	"OPTIONS\n"
	"    -i, --interface IFACE  the instance to read\n"
	"    -p, --per-cpu          also each CPU's values\n"
	"    -w, --watch SECONDS    every SECONDS, show rates (packets/s, bit/s)\n"
	"                           in place until interrupted (Ctrl-C)\n"
	"    -j, --json             {\"global\": {reason: n}, \"vips\": {name:\n"
	"                           {..., \"backends\": {addr: {...}}}}}\n"
	"    -P, --prometheus       text exposition format (xlb_* metrics with\n"
	"                           labels reason, vip, backend, cpu)\n"
	"\n"
	"EXIT STATUS\n"
	"    0 shown, 1 failure, 2 usage error.\n"
	"\n"
	"EXAMPLES\n"
	"    xlbctl stats\n"
	"    xlbctl stats --watch 1\n"
	"    xlbctl stats --prometheus > /var/lib/node_exporter/xlb.prom\n";

static int usage(const char *help, const char *fmt, const char *arg)
{
	if (fmt) {
		fprintf(stderr, "xlbctl: ");
		fprintf(stderr, fmt, arg);
		fprintf(stderr, "\n");
	}
	/* The SYNOPSIS block of the command's help, not all of it. */
	const char *syn = strstr(help, "SYNOPSIS\n"), *end;

	if (syn) {
		syn += strlen("SYNOPSIS\n");
		end = strstr(syn, "\n\n");
		fprintf(stderr, "usage:\n%.*s\n", (int)(end ? end - syn : 0),
			syn);
	}
	fprintf(stderr, "(--help for the whole text)\n");
	return EXIT_USAGE;
}

/* ---- Formatting -------------------------------------------------------- */

static const char *proto_str(uint8_t p)
{
	return p == IPPROTO_TCP ? "tcp" : p == IPPROTO_UDP ? "udp" : "?";
}

static const char *state_str(uint8_t s)
{
	switch (s) {
	case XLB_BE_STATE_ACTIVE:
		return "active";
	case XLB_BE_STATE_DRAIN:
		return "drain";
	case XLB_BE_STATE_DOWN:
		return "down";
	}
	return "?";
}

static const char *hash_str(uint8_t h)
{
	switch (h) {
	case XLB_HASH_5TUPLE:
		return "5tuple";
	case XLB_HASH_SRC_IP:
		return "src_ip";
	case XLB_HASH_SRC_IP_PORT:
		return "src_ip_port";
	}
	return "?";
}

static const char *addr_s(const struct xlb_addr *a, char *buf, size_t len)
{
	return xlb_addr_str(a, buf, len);
}

static void vip_endpoint(const struct xlb_vip_cfg *v, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], port[8];

	addr_s(&v->addr, a, sizeof(a));
	if (v->port)
		snprintf(port, sizeof(port), "%u", v->port);
	else
		snprintf(port, sizeof(port), "*");
	if (v->addr.family == XLB_FAMILY_V6)
		snprintf(buf, len, "[%s]:%s/%s", a, port, proto_str(v->proto));
	else
		snprintf(buf, len, "%s:%s/%s", a, port, proto_str(v->proto));
}

static void mac_str(const uint8_t *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
}

/* ---- check ------------------------------------------------------------- */

static int read_config(const char *path, struct xlb_config *cfg)
{
	struct xlb_svc_cfg svc;
	struct xlb_diag diag = {};
	int err;

	/* the service's keys (service:, health_check:) are valid here too:
	 * one file serves `load` and `run` */
	err = xlb_svc_load(path, cfg, &svc, &diag);
	if (!err)
		xlb_svc_cfg_free(&svc);
	if (err) {
		xlb_diag_print(&diag, stderr);
		if (!diag.n)
			xlb_err("%s: %s\n", path, strerror(-err));
		xlb_diag_free(&diag);
		return err;
	}
	xlb_diag_free(&diag);
	return 0;
}

static size_t count_backends(const struct xlb_config *cfg)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_vips; i++)
		n += cfg->vips[i].n_backends;
	return n;
}

static int cmd_check(int argc, char **argv)
{
	static const struct option lo[] = { { "help", no_argument, 0, 'h' },
					    { "verbose", no_argument, 0, 'v' },
					    {} };
	struct xlb_config cfg;
	int o;

	while ((o = getopt_long(argc, argv, "hv", lo, NULL)) != -1) {
		if (o == 'h') {
			fputs(help_check, stdout);
			return EXIT_OK;
		}
		if (o == 'v') {
			xlb_log_init("xlbctl", true);
			continue;
		}
		return usage(help_check, NULL, NULL);
	}
	if (optind != argc - 1)
		return usage(help_check, "check: expected one FILE", NULL);
	if (read_config(argv[optind], &cfg))
		return EXIT_FAIL;
	printf("%s: ok (interface %s, %zu VIP%s, %zu backend%s)\n",
	       argv[optind], cfg.interface, cfg.n_vips, PL(cfg.n_vips),
	       count_backends(&cfg), PL(count_backends(&cfg)));
	xlb_config_free(&cfg);
	return EXIT_OK;
}

/* ---- load / reload ------------------------------------------------------ */

static int parse_mode(const char *s)
{
	if (!strcmp(s, "native"))
		return 0;
	if (!strcmp(s, "generic"))
		return 1;
	return -1;
}

static int cmd_load(int argc, char **argv, bool reload)
{
	static const struct option lo[] = {
		{ "config", required_argument, 0, 'c' },
		{ "mode", required_argument, 0, 'm' },
		{ "help", no_argument, 0, 'h' },
		{ "verbose", no_argument, 0, 'v' },
		{}
	};
	const char *help = reload ? help_reload : help_load;
	struct xlb_sync_report rep = {};
	struct xlb_load_opts opts = { .mode = -1 };
	const char *file = NULL;
	struct xlb_config cfg;
	int o, err;

	while ((o = getopt_long(argc, argv, "c:m:hv", lo, NULL)) != -1) {
		switch (o) {
		case 'c':
			file = optarg;
			break;
		case 'm':
			opts.mode = parse_mode(optarg);
			if (opts.mode < 0)
				return usage(
					help,
					"--mode: '%s' is neither native nor generic",
					optarg);
			break;
		case 'h':
			fputs(help, stdout);
			return EXIT_OK;
		case 'v':
			xlb_log_init("xlbctl", true);
			break;
		default:
			return usage(help, NULL, NULL);
		}
	}
	if (!file)
		return usage(help, "%s: -c FILE is required",
			     reload ? "reload" : "load");
	if (optind != argc)
		return usage(help, "unexpected argument '%s'", argv[optind]);
	if (xlb_require_root())
		return EXIT_FAIL;
	if (read_config(file, &cfg)) {
		xlb_err("%s: invalid, nothing was changed\n", file);
		return EXIT_FAIL;
	}
	if (reload)
		err = xlb_reload(&cfg, opts.mode, &rep);
	else
		err = xlb_load(&cfg, &opts, &rep);
	if (!err) {
		bool generic = opts.mode >= 0 ? opts.mode : cfg.mode_generic;

		if (reload)
			printf("reloaded %s in %.0f ms: %s\n", cfg.interface,
			       rep.ms, rep.summary);
		else
			printf("loaded on %s (%s mode) in %.0f ms: %zu VIP%s, %zu backend%s\n",
			       cfg.interface, generic ? "generic" : "native",
			       rep.ms, rep.n_vips, PL(rep.n_vips),
			       rep.n_backends, PL(rep.n_backends));
		xlb_dbg("state read by %.1f ms, checks and new rings %.1f ms, map writes %.1f ms\n",
			rep.ms_read, rep.ms_plan, rep.ms_apply);
	}
	xlb_config_free(&cfg);
	return err ? EXIT_FAIL : EXIT_OK;
}

/* ---- unload ------------------------------------------------------------ */

/* The exit status when no instance could be taken for -i @want: a name
 * no interface can have is a usage error (xlb_instance_pick() said so). */
static int pick_failed(const char *want)
{
	return want && strlen(want) >= IF_NAMESIZE ? EXIT_USAGE : EXIT_FAIL;
}

static int cmd_unload(int argc, char **argv)
{
	static const struct option lo[] = { { "interface", required_argument, 0,
					      'i' },
					    { "help", no_argument, 0, 'h' },
					    { "verbose", no_argument, 0, 'v' },
					    {} };
	char names[XLB_MAX_INSTANCES][IF_NAMESIZE], ifname[IF_NAMESIZE];
	const char *want = NULL;
	bool nothing;
	int o, n;

	while ((o = getopt_long(argc, argv, "i:hv", lo, NULL)) != -1) {
		switch (o) {
		case 'i':
			want = optarg;
			break;
		case 'h':
			fputs(help_unload, stdout);
			return EXIT_OK;
		case 'v':
			xlb_log_init("xlbctl", true);
			break;
		default:
			return usage(help_unload, NULL, NULL);
		}
	}
	if (optind != argc)
		return usage(help_unload, "unexpected argument '%s'",
			     argv[optind]);
	if (xlb_require_root())
		return EXIT_FAIL;
	if (!want) {
		n = xlb_instances(names, XLB_MAX_INSTANCES);
		if (n == 0) {
			printf("nothing loaded\n");
			return EXIT_OK;
		}
	}
	if (xlb_instance_pick(want, ifname))
		return pick_failed(want);
	if (xlb_unload(ifname, &nothing))
		return EXIT_FAIL;
	if (nothing)
		printf("nothing loaded on %s\n", ifname);
	else
		printf("unloaded from %s\n", ifname);
	return EXIT_OK;
}

/* ---- status ------------------------------------------------------------ */

static int open_instance(const char *want, struct xlb_instance *in)
{
	char ifname[IF_NAMESIZE];
	int err;

	if (xlb_require_root())
		return -EPERM;
	err = xlb_instance_pick(want, ifname);
	if (err)
		return err;
	err = xlb_instance_open(ifname, in);
	if (err == -ENOENT)
		xlb_err("nothing loaded on %s\n", ifname);
	return err;
}

static const char *attach_str(const struct xlb_instance *in)
{
	if (!in->attached)
		return "not attached";
	return in->generic ? "generic" : "native";
}

static void status_text(const struct xlb_instance *in,
			const struct xlb_state *st)
{
	const struct xlb_config *c = &st->cfg;
	char a[96], b[96];

	printf("interface:         %s (ifindex %d)\n", in->ifname, in->ifindex);
	printf("program:           id %u, %s", in->prog_id, attach_str(in));
	if (!in->attached && in->attached_id)
		printf(" (another program, id %u, is attached)",
		       in->attached_id);
	printf("\npins:              %s\n", in->dir);
	printf("maglev_table_size: %u\n", in->ring_size);
	printf("conntrack_size:    %u\n", in->conntrack_size);
	mac_str(st->hw.gw_mac, a, sizeof(a));
	mac_str(st->hw.if_mac, b, sizeof(b));
	printf("gateway_mac:       %s\ninterface_mac:     %s\n", a, b);
	printf("mtu:               %u\nicmp_too_big:      %s\n", c->mtu,
	       c->icmp_too_big ? "on" : "off");
	printf("encap_source:      %s %s\n",
	       c->has_src4 ? addr_s(&c->src4, a, sizeof(a)) : "derived",
	       c->has_src6 ? addr_s(&c->src6, b, sizeof(b)) : "derived");
	printf("VIPs:              %zu\n", c->n_vips);
	for (size_t i = 0; i < c->n_vips; i++) {
		const struct xlb_vip_cfg *v = &c->vips[i];

		vip_endpoint(v, a, sizeof(a));
		printf("\n  %s %s (id %u): hash %s, encap %s", v->name, a,
		       st->vip_id[i], hash_str(v->hash_mode),
		       v->encap == XLB_ENCAP_GUE ? "gue" : "ipip");
		if (v->encap == XLB_ENCAP_GUE)
			printf(" port %u", v->gue_port);
		printf(", conntrack %s, icmp_echo %s, %zu backend%s\n",
		       v->conntrack ? "on" : "off", v->icmp_echo ? "on" : "off",
		       v->n_backends, PL(v->n_backends));
		for (size_t j = 0; j < v->n_backends; j++) {
			const struct xlb_backend_cfg *bc = &v->backends[j];

			printf("    %-39s %-6s weight %-5u slot %u gen %u%s\n",
			       addr_s(&bc->addr, a, sizeof(a)),
			       state_str(bc->state), bc->weight, st->slot[i][j],
			       st->be[st->slot[i][j]].gen,
			       bc->gue ? " gue" : "");
		}
	}
}

static void status_json(const struct xlb_instance *in,
			const struct xlb_state *st)
{
	const struct xlb_config *c = &st->cfg;
	char a[96];

	printf("{\"interface\": ");
	xlb_put_json_str(stdout, in->ifname);
	printf(", \"ifindex\": %d, \"program_id\": %u, \"attached\": %s, \"mode\": \"%s\"",
	       in->ifindex, in->prog_id, in->attached ? "true" : "false",
	       in->generic ? "generic" : "native");
	printf(", \"maglev_table_size\": %u, \"conntrack_size\": %u",
	       in->ring_size, in->conntrack_size);
	mac_str(st->hw.gw_mac, a, sizeof(a));
	printf(", \"gateway_mac\": \"%s\"", a);
	mac_str(st->hw.if_mac, a, sizeof(a));
	printf(", \"interface_mac\": \"%s\", \"mtu\": %u, \"icmp_too_big\": %s",
	       a, c->mtu, c->icmp_too_big ? "true" : "false");
	printf(", \"vips\": [");
	for (size_t i = 0; i < c->n_vips; i++) {
		const struct xlb_vip_cfg *v = &c->vips[i];

		printf("%s{\"name\": ", i ? ", " : "");
		xlb_put_json_str(stdout, v->name);
		printf(", \"id\": %u, \"address\": \"%s\", \"port\": %u, \"proto\": \"%s\"",
		       st->vip_id[i], addr_s(&v->addr, a, sizeof(a)), v->port,
		       proto_str(v->proto));
		printf(", \"hash\": \"%s\", \"encap\": \"%s\", \"gue_port\": %u, \"conntrack\": %s, \"icmp_echo\": %s, \"backends\": [",
		       hash_str(v->hash_mode),
		       v->encap == XLB_ENCAP_GUE ? "gue" : "ipip", v->gue_port,
		       v->conntrack ? "true" : "false",
		       v->icmp_echo ? "true" : "false");
		for (size_t j = 0; j < v->n_backends; j++) {
			const struct xlb_backend_cfg *bc = &v->backends[j];
			uint32_t s = st->slot[i][j];

			printf("%s{\"address\": \"%s\", \"state\": \"%s\", \"weight\": %u, \"slot\": %u, \"gen\": %u, \"gue\": %s}",
			       j ? ", " : "", addr_s(&bc->addr, a, sizeof(a)),
			       state_str(bc->state), bc->weight, s,
			       st->be[s].gen, bc->gue ? "true" : "false");
		}
		printf("]}");
	}
	printf("]}\n");
}

static int cmd_status(int argc, char **argv)
{
	static const struct option lo[] = { { "interface", required_argument, 0,
					      'i' },
					    { "json", no_argument, 0, 'j' },
					    { "help", no_argument, 0, 'h' },
					    { "verbose", no_argument, 0, 'v' },
					    {} };
	struct xlb_instance in;
	struct xlb_state st;
	const char *want = NULL;
	bool json = false;
	int o, err;

	while ((o = getopt_long(argc, argv, "i:jhv", lo, NULL)) != -1) {
		switch (o) {
		case 'i':
			want = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(help_status, stdout);
			return EXIT_OK;
		case 'v':
			xlb_log_init("xlbctl", true);
			break;
		default:
			return usage(help_status, NULL, NULL);
		}
	}
	if (optind != argc)
		return usage(help_status, "unexpected argument '%s'",
			     argv[optind]);
	if (open_instance(want, &in))
		return pick_failed(want);
	err = xlb_state_read(&in, &st);
	if (err) {
		xlb_err("cannot read the maps of %s: %s\n", in.ifname,
			strerror(-err));
		xlb_instance_close(&in);
		return EXIT_FAIL;
	}
	if (json)
		status_json(&in, &st);
	else
		status_text(&in, &st);
	xlb_state_free(&st);
	xlb_instance_close(&in);
	return EXIT_OK;
}

/* ---- stats ------------------------------------------------------------- */

static volatile sig_atomic_t stop;

static void on_sigint(int sig)
{
	stop = 1;
}

static void stats_text(const struct xlb_state *st,
		       const struct xlb_stats_sample *s, bool per_cpu)
{
	const struct xlb_config *c = &st->cfg;
	char a[96];

	printf("%-22s %20s", "global", "total");
	if (per_cpu)
		for (int k = 0; k < s->ncpu; k++) {
			char h[16];

			snprintf(h, sizeof(h), "cpu%d", k);
			printf(" %16s", h);
		}
	printf("\n");
	for (unsigned int r = 0; r < XLB_CNT_MAX; r++) {
		printf("  %-20s %20llu", xlb_counter_name(r), s->global[r]);
		if (per_cpu)
			for (int k = 0; k < s->ncpu; k++)
				printf(" %16llu",
				       s->global_cpu[k * XLB_CNT_MAX + r]);
		printf("\n");
	}
	for (size_t i = 0; i < c->n_vips; i++) {
		const struct xlb_vip_cfg *v = &c->vips[i];
		uint32_t id = st->vip_id[i];
		const struct xlb_vip_stats *vs = &s->vip[id];

		vip_endpoint(v, a, sizeof(a));
		printf("\nVIP %s %s\n", v->name, a);
		printf("  packets %llu"
		       "  bytes %llu"
		       "  new_flows %llu"
		       "  ct_hits %llu"
		       "  ct_misses %llu"
		       "\n",
		       vs->packets, vs->bytes, vs->new_flows, vs->ct_hits,
		       vs->ct_misses);
		if (per_cpu)
			for (int k = 0; k < s->ncpu; k++) {
				vs = &s->vip_cpu[k * XLB_MAX_VIPS + id];
				printf("    cpu%-3d packets %llu"
				       "  bytes %llu"
				       "  new_flows %llu"
				       "  ct_hits %llu"
				       "  ct_misses %llu"
				       "\n",
				       k, vs->packets, vs->bytes, vs->new_flows,
				       vs->ct_hits, vs->ct_misses);
			}
		for (size_t j = 0; j < v->n_backends; j++) {
			uint32_t sl = st->slot[i][j];

			printf("  backend %-39s packets %llu"
			       "  bytes %llu"
			       "\n",
			       addr_s(&v->backends[j].addr, a, sizeof(a)),
			       s->be[sl].packets, s->be[sl].bytes);
			if (per_cpu)
				for (int k = 0; k < s->ncpu; k++) {
					const struct xlb_be_stats *bs =
						&s->be_cpu
							 [k * XLB_MAX_BACKENDS +
							  sl];

					printf("    cpu%-3d packets %llu"
					       "  bytes %llu"
					       "\n",
					       k, bs->packets, bs->bytes);
				}
		}
	}
}

static void json_vip(const struct xlb_vip_stats *v)
{
	printf("\"packets\": %llu"
	       ", \"bytes\": %llu"
	       ", \"new_flows\": %llu"
	       ", \"ct_hits\": %llu"
	       ", \"ct_misses\": %llu",
	       v->packets, v->bytes, v->new_flows, v->ct_hits, v->ct_misses);
}

/* One {"global":..., "vips":...} object for CPU @cpu (-1: the sums). */
static void stats_json_one(const struct xlb_state *st,
			   const struct xlb_stats_sample *s, int cpu)
{
	const struct xlb_config *c = &st->cfg;
	char a[96];

	printf("\"global\": {");
	for (unsigned int r = 0; r < XLB_CNT_MAX; r++)
		printf("%s\"%s\": %llu", r ? ", " : "", xlb_counter_name(r),
		       cpu < 0 ? s->global[r] :
				 s->global_cpu[cpu * XLB_CNT_MAX + r]);
	printf("}, \"vips\": {");
	for (size_t i = 0; i < c->n_vips; i++) {
		const struct xlb_vip_cfg *v = &c->vips[i];
		uint32_t id = st->vip_id[i];

		printf("%s", i ? ", " : "");
		xlb_put_json_str(stdout, v->name);
		printf(": {");
		json_vip(cpu < 0 ? &s->vip[id] :
				   &s->vip_cpu[cpu * XLB_MAX_VIPS + id]);
		printf(", \"backends\": {");
		for (size_t j = 0; j < v->n_backends; j++) {
			uint32_t sl = st->slot[i][j];
			const struct xlb_be_stats *b =
				cpu < 0 ?
					&s->be[sl] :
					&s->be_cpu[cpu * XLB_MAX_BACKENDS + sl];

			printf("%s\"%s\": {\"packets\": %llu"
			       ", \"bytes\": %llu"
			       "}",
			       j ? ", " : "",
			       addr_s(&v->backends[j].addr, a, sizeof(a)),
			       b->packets, b->bytes);
		}
		printf("}}");
	}
	printf("}");
}

static void stats_json(const struct xlb_state *st,
		       const struct xlb_stats_sample *s, bool per_cpu)
{
	printf("{");
	stats_json_one(st, s, -1);
	if (per_cpu) {
		/* The same members for each CPU. */
		printf(", \"per_cpu\": [");
		for (int k = 0; k < s->ncpu; k++) {
			printf("%s{\"cpu\": %d, ", k ? ", " : "", k);
			stats_json_one(st, s, k);
			printf("}");
		}
		printf("]");
	}
	printf("}\n");
}

static void fmt_rate(double v, const char *unit, char *buf, size_t len)
{
	const char *pfx[] = { "", "k", "M", "G", "T" };
	int i = 0;

	while (v >= 1000 && i < 4) {
		v /= 1000;
		i++;
	}
	snprintf(buf, len, "%.2f %s%s", v, pfx[i], unit);
}

static void stats_rates(const struct xlb_state *st,
			const struct xlb_stats_sample *a,
			const struct xlb_stats_sample *b, double period)
{
	const struct xlb_config *c = &st->cfg;
	double dt = b->t - a->t;
	char r1[32], r2[32], ad[96];
	time_t now = time(NULL);
	char tbuf[32];

	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime(&now));
	printf("\033[H\033[2J");
	printf("xlb on %s: every %.3g s, %s (Ctrl-C to stop)\n\n", c->interface,
	       period, tbuf);
	printf("%-22s %16s\n", "global", "per second");
	for (unsigned int r = 0; r < XLB_CNT_MAX; r++) {
		double v = xlb_stats_rate(a->global[r], b->global[r], dt);

		if (v > 0 || r == XLB_CNT_RX || r == XLB_CNT_TX)
			printf("  %-20s %16.1f\n", xlb_counter_name(r), v);
	}
	for (size_t i = 0; i < c->n_vips; i++) {
		const struct xlb_vip_cfg *v = &c->vips[i];
		uint32_t id = st->vip_id[i];

		vip_endpoint(v, ad, sizeof(ad));
		fmt_rate(xlb_stats_rate(a->vip[id].packets, b->vip[id].packets,
					dt),
			 "pps", r1, sizeof(r1));
		fmt_rate(8 * xlb_stats_rate(a->vip[id].bytes, b->vip[id].bytes,
					    dt),
			 "bit/s", r2, sizeof(r2));
		printf("\nVIP %s %s: %s, %s, %.1f new flows/s\n", v->name, ad,
		       r1, r2,
		       xlb_stats_rate(a->vip[id].new_flows,
				      b->vip[id].new_flows, dt));
		for (size_t j = 0; j < v->n_backends; j++) {
			uint32_t sl = st->slot[i][j];

			fmt_rate(xlb_stats_rate(a->be[sl].packets,
						b->be[sl].packets, dt),
				 "pps", r1, sizeof(r1));
			fmt_rate(8 * xlb_stats_rate(a->be[sl].bytes,
						    b->be[sl].bytes, dt),
				 "bit/s", r2, sizeof(r2));
			printf("  %-39s %-6s %14s %16s\n",
			       addr_s(&v->backends[j].addr, ad, sizeof(ad)),
			       state_str(v->backends[j].state), r1, r2);
		}
	}
	fflush(stdout);
}

/* @in is still the instance pinned: not unloaded (nor loaded again). */
static bool still_pinned(const struct xlb_instance *in)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	char p[PATH_MAX + 32];
	bool same;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", in->dir, XLB_PIN_PROG);
	fd = bpf_obj_get(p);
	if (fd < 0)
		return false;
	same = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       info.id == in->prog_id;
	close(fd);
	return same;
}

static int watch(struct xlb_instance *in, double period)
{
	struct xlb_stats_sample a, b;
	struct xlb_state st;
	struct timespec ts = { .tv_sec = (time_t)period,
			       .tv_nsec = (long)((period - (time_t)period) *
						 1e9) };
	int err;

	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	err = xlb_stats_read(in, false, &a);
	if (err)
		return err;
	while (!stop) {
		nanosleep(&ts, NULL);
		if (stop)
			break;
		/* The maps held open would go on showing an unloaded
		 * instance, frozen (and keep its memory). */
		if (!still_pinned(in)) {
			xlb_err("xlb was unloaded from %s; run the command again once it is loaded\n",
				in->ifname);
			xlb_stats_free(&a);
			return -ENOENT;
		}
		/* Re-read the VIP list: a reload may have changed it. */
		err = xlb_state_read(in, &st);
		if (!err) {
			err = xlb_stats_read(in, false, &b);
			if (err)
				xlb_state_free(&st);
		}
		if (err) {
			xlb_stats_free(&a);
			return err;
		}
		stats_rates(&st, &a, &b, period);
		xlb_state_free(&st);
		xlb_stats_free(&a);
		a = b;
	}
	xlb_stats_free(&a);
	return 0;
}

static int cmd_stats(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "interface", required_argument, 0, 'i' },
		{ "per-cpu", no_argument, 0, 'p' },
		{ "watch", required_argument, 0, 'w' },
		{ "json", no_argument, 0, 'j' },
		{ "prometheus", no_argument, 0, 'P' },
		{ "help", no_argument, 0, 'h' },
		{ "verbose", no_argument, 0, 'v' },
		{}
	};
	bool per_cpu = false, json = false, prom = false;
	struct xlb_stats_sample s;
	struct xlb_instance in;
	struct xlb_state st;
	const char *want = NULL;
	double period = 0;
	char *end;
	int o, err;

	while ((o = getopt_long(argc, argv, "i:pw:jPhv", lo, NULL)) != -1) {
		switch (o) {
		case 'i':
			want = optarg;
			break;
		case 'p':
			per_cpu = true;
			break;
		case 'w':
			period = strtod(optarg, &end);
			if (*end || !(period >= 0.1 && period <= 3600))
				return usage(
					help_stats,
					"--watch: '%s' is not a number of seconds between 0.1 and 3600",
					optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'P':
			prom = true;
			break;
		case 'h':
			fputs(help_stats, stdout);
			return EXIT_OK;
		case 'v':
			xlb_log_init("xlbctl", true);
			break;
		default:
			return usage(help_stats, NULL, NULL);
		}
	}
	if (optind != argc)
		return usage(help_stats, "unexpected argument '%s'",
			     argv[optind]);
	if (json && prom)
		return usage(help_stats,
			     "--json and --prometheus exclude each other%s",
			     "");
	if (period > 0 && (json || prom || per_cpu))
		return usage(
			help_stats,
			"--watch shows rates as text; it does not combine with --json, --prometheus or --per-cpu%s",
			"");
	if (open_instance(want, &in))
		return pick_failed(want);
	if (period > 0) {
		err = watch(&in, period);
		xlb_instance_close(&in);
		if (err)
			xlb_err("cannot read counters: %s\n", strerror(-err));
		return err ? EXIT_FAIL : EXIT_OK;
	}
	err = xlb_state_read(&in, &st);
	if (err) {
		xlb_err("cannot read the maps of %s: %s\n", in.ifname,
			strerror(-err));
		xlb_instance_close(&in);
		return EXIT_FAIL;
	}
	err = xlb_stats_read(&in, per_cpu, &s);
	if (err) {
		xlb_err("cannot read counters: %s\n", strerror(-err));
	} else {
		if (json)
			stats_json(&st, &s, per_cpu);
		else if (prom)
			xlb_stats_prometheus(stdout, &st, &s, per_cpu);
		else
			stats_text(&st, &s, per_cpu);
		xlb_stats_free(&s);
	}
	xlb_state_free(&st);
	xlb_instance_close(&in);
	return err ? EXIT_FAIL : EXIT_OK;
}

int main(int argc, char **argv)
{
	bool verbose = false;
	const char *cmd;
	int i;

	xlb_log_init("xlbctl", false);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
			verbose = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(help_main, stdout);
			return EXIT_OK;
		} else {
			return usage(help_main, "unknown option '%s'", argv[i]);
		}
	}
	if (i == argc)
		return usage(help_main, "missing COMMAND%s", "");
	xlb_log_init("xlbctl", verbose);
	cmd = argv[i];
	argc -= i;
	argv += i;
	if (!strcmp(cmd, "check"))
		return cmd_check(argc, argv);
	if (!strcmp(cmd, "load"))
		return cmd_load(argc, argv, false);
	if (!strcmp(cmd, "reload"))
		return cmd_load(argc, argv, true);
	if (!strcmp(cmd, "unload"))
		return cmd_unload(argc, argv);
	if (!strcmp(cmd, "status"))
		return cmd_status(argc, argv);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(argc, argv);
	if (!strcmp(cmd, "run"))
		return xlbctl_cmd_run(argc, argv);
	if (!strcmp(cmd, "help"))
		return fputs(help_main, stdout), EXIT_OK;
	return usage(help_main, "unknown command '%s'", cmd);
}
