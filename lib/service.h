/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xlb as a long-running service: one epoll loop that watches the config
 * file, runs health checks, serves metrics and drives BGP announcements. */
#ifndef XLB_SERVICE_H
#define XLB_SERVICE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/un.h>

#include "config.h"
#include "health.h"

/* Default metrics address: loopback only, the port node_exporter uses
 * (scrapers on the same host; open it wider on purpose). */
#define XLB_SVC_METRICS_DEFAULT "127.0.0.1:9100"
/* Wait after the last change of the config file before reloading, in ms:
 * editors write, truncate, rename in several steps. */
#define XLB_SVC_DEBOUNCE_MS 150
/* Where the service keeps its lock (and, by default, BIRD's include). */
#define XLB_SVC_RUN_DIR "/run/xlb"

/* The service: section of the config file, plus the health checks. */
struct xlb_svc_cfg {
	char metrics_listen[128]; /* "" = no endpoint */
	bool log_json;
	bool bgp;
	char bird_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char include_file[PATH_MAX];
	bool on_exit_unload; /* on_exit: unload (default keep) */
	struct xlb_hc_set hc;
};

/**
 * xlb_svc_load - read a config file for the service
 * @path: the YAML file
 * @cfg:  the datapath config (as xlb_config_load gives it)
 * @svc:  the service: section and the health_check: blocks
 * @diag: every error, "file:line:col: error: ..."
 *
 * The service keys are read here; the datapath parser knows them and
 * leaves them alone. Messages of both come in file order. Returns 0,
 * -EINVAL (errors in @diag) or another -errno. Free with xlb_config_free and xlb_svc_cfg_free.
 */
int xlb_svc_load(const char *path, struct xlb_config *cfg,
		 struct xlb_svc_cfg *svc, struct xlb_diag *diag);
void xlb_svc_cfg_free(struct xlb_svc_cfg *svc);

/* ---- Structured log ------------------------------------------------------ */

/* One line per event on stdout: "ts=... event=NAME k=v ..." or JSON. */
void xlb_slog_set_json(bool json);
/* Key/value string pairs after @event, ended by NULL. */
void xlb_slog(const char *event, ...) __attribute__((sentinel));

/* ---- The service --------------------------------------------------------- */

struct xlb_service_opts {
	const char *config; /* path of the YAML file */
	int mode; /* -1: from the config; 0 native; 1 generic */
	bool signals; /* take SIGHUP/SIGTERM/SIGINT through signalfd */
	const char *log_format; /* "kv"/"json" overrides the file; or NULL */
	/* Tests: replaces loading/reloading the datapath. @first is true
	 * for the start-up apply. Returns 0 or -errno. NULL: the real one. */
	int (*apply)(void *ctx, const struct xlb_config *eff, bool first);
	void *ctx;
};

struct xlb_bgp;
struct xlb_metrics_srv;

struct xlb_service {
	struct xlb_service_opts o;
	char path[PATH_MAX + NAME_MAX + 2];
	char dir[PATH_MAX]; /* directory watched */
	char base[NAME_MAX + 1]; /* file name in it */
	int epfd;
	struct xlb_ev sig_ev, ino_ev, deb_ev, hc_ev, hk_ev;
	int sig_fd, ino_fd, deb_fd, hc_fd, hk_fd;
	int lock_fd; /* XLB_SVC_RUN_DIR/run-IFACE.lock, held while running */
	struct xlb_config cfg; /* file config in effect */
	struct xlb_svc_cfg svc;
	bool have_cfg;
	bool started; /* the datapath was brought up by this service */
	struct xlb_health health;
	bool dirty; /* health changed: apply the effective config */
	bool apply_retry; /* that failed: again on the next housekeeping */
	bool hc_due; /* health timer fired or checks changed: tick */
	bool hk_due; /* housekeeping timer fired */
	const char *reload_why; /* a reload is due (after the event batch) */
	bool attached; /* our program is on the interface */
	bool stop;
	int exit_signal;
	struct xlb_bgp *bgp;
	struct xlb_metrics_srv *metrics;
	char bgp_err[600]; /* last BGP problem logged ("" = none) */
	char apply_err[64]; /* last health-apply error logged */
	char apply_ms[24]; /* duration of the last apply, for the logs */
	char metrics_err[64]; /* last datapath-read error logged */
	/* Counters for the metrics endpoint. */
	uint64_t reloads_ok, reloads_err, applies_ok, applies_err;
	double last_reload; /* unix time of the last successful reload */
	uint64_t file_events; /* config-file changes seen (debounced) */
};

/**
 * xlb_service_open - read the config, bring the datapath up, open the loop
 * Loads the balancer, or adopts the one already loaded on the interface
 * (reloading it to this config). Returns 0 or -errno (errors logged).
 */
int xlb_service_open(struct xlb_service **out,
		     const struct xlb_service_opts *o);

/* One round of the loop: waits up to @timeout_ms (-1: forever) for
 * events and handles them. Returns 1 once a stop was asked, else 0. */
int xlb_service_step(struct xlb_service *s, int timeout_ms);

/* Steps until SIGTERM/SIGINT. */
int xlb_service_run(struct xlb_service *s);

/* Re-read the config file now (SIGHUP, file change). Returns 0 if the
 * new config runs, -errno if it was refused (nothing changed). */
int xlb_service_reload(struct xlb_service *s, const char *why);

/* Withdraw routes, leave or unload the datapath (on_exit), free. */
void xlb_service_close(struct xlb_service *s);

/* The metrics page: datapath counters and the service's own. */
int xlb_service_metrics(void *ctx, FILE *out);

#endif /* XLB_SERVICE_H */
