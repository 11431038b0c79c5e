/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xlbctl run: xlb as a service (config watch, health checks, metrics,
 * BGP through BIRD) in the foreground, for systemd. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "maps.h"
#include "service.h"

int xlbctl_cmd_run(int argc, char **argv);

static const char help_run[] =
	"usage: xlbctl run -c FILE [--mode native|generic] [--log-format kv|json] [-v]\n"
	"\n"
	"Run xlb as a service in the foreground: load the balancer for FILE (or\n"
	"adopt the one already loaded on its interface), then\n"
	"  - reload when FILE changes (rename-replace too) or on SIGHUP; a file\n"
	"    with errors is logged with file:line:col and changes nothing,\n"
	"  - health-check the backends (health_check: per VIP or backend) and\n"
	"    take failing ones out of the Maglev table until they recover,\n"
	"  - serve Prometheus metrics at http://ADDR/metrics\n"
	"    (service: metrics_listen, default " XLB_SVC_METRICS_DEFAULT "),\n"
	"  - announce the VIPs with a healthy backend through BIRD\n"
	"    (service: bgp:), withdrawing them when not, and on exit.\n"
	"SIGTERM/SIGINT stop: the datapath stays (service: on_exit: keep, the\n"
	"default) or is removed (on_exit: unload).\n"
	"\n"
	"options:\n"
	"    -c, --config FILE      the YAML config (required)\n"
	"    -m, --mode MODE        native or generic XDP (default: the config's)\n"
	"    -l, --log-format FMT   kv or json (default: service: log_format, kv)\n"
	"    -v, --verbose          debug output, libbpf messages\n"
	"    -h, --help             this text\n"
	"\n"
	"Events are logged one per line on stdout (journald keeps them):\n"
	"    ts=... event=backend_down vip=web backend=10.1.0.1 reason=\"connect timeout\"\n"
	"See docs/service.md.\n";

int xlbctl_cmd_run(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, 0, 'c' },
		{ "mode", required_argument, 0, 'm' },
		{ "log-format", required_argument, 0, 'l' },
		{ "verbose", no_argument, 0, 'v' },
		{ "help", no_argument, 0, 'h' },
		{}
	};
	struct xlb_service_opts o = { .mode = -1, .signals = true };
	struct xlb_service *s;
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:m:l:vh", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "native"))
				o.mode = 0;
			else if (!strcmp(optarg, "generic"))
				o.mode = 1;
			else {
				fprintf(stderr,
					"xlbctl run: --mode '%s' is neither native nor generic\n",
					optarg);
				return 2;
			}
			break;
		case 'l':
			if (strcmp(optarg, "kv") && strcmp(optarg, "json")) {
				fprintf(stderr,
					"xlbctl run: --log-format '%s' is neither kv nor json\n",
					optarg);
				return 2;
			}
			o.log_format = optarg;
			break;
		case 'v':
			xlb_log_init("xlbctl", true);
			break;
		case 'h':
			fputs(help_run, stdout);
			return 0;
		default:
			fputs("try: xlbctl run --help\n", stderr);
			return 2;
		}
	}
	if (!o.config || optind != argc) {
		fprintf(stderr, "xlbctl run: %s\ntry: xlbctl run --help\n",
			o.config ? "unexpected argument" :
				   "-c FILE is required");
		return 2;
	}
	if (xlb_require_root())
		return 1;
	/* Events must reach journald as they happen. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* A peer (BIRD, a scraper, a log reader) going away is an error on
	 * that one socket or pipe, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	err = xlb_service_open(&s, &o);
	if (err)
		return 1;
	xlb_service_run(s);
	xlb_service_close(s);
	return 0;
}
