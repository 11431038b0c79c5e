/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Backend health checks: per-backend rise/fall state machines fed by
 * non-blocking TCP, HTTP and UDP probes on the service's epoll loop. */
#ifndef XLB_HEALTH_H
#define XLB_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "config.h"

/* An epoll event source: epoll_event.data.ptr points at one of these,
 * embedded first in the object that owns the descriptor. */
struct xlb_ev {
	void (*fn)(struct xlb_ev *ev, uint32_t events);
};

enum xlb_hc_type {
	XLB_HC_NONE = 0, /* no check: the backend counts as healthy */
	XLB_HC_TCP, /* TCP connect succeeds */
	XLB_HC_HTTP, /* HTTP/1.0 GET answers with expect_status */
	XLB_HC_UDP, /* a datagram sent gets a reply (containing expect) */
};

/* Defaults, in milliseconds and counts, as most balancers use them. */
#define XLB_HC_INTERVAL_MS 1000
#define XLB_HC_TIMEOUT_MS 500
#define XLB_HC_RISE 2
#define XLB_HC_FALL 3
/* Shortest interval accepted: below it checks would load the backends
 * more than the traffic does. */
#define XLB_HC_INTERVAL_MIN_MS 10
#define XLB_HC_TEXT_LEN 256

/* One health_check: block, resolved (defaults filled, port chosen). */
struct xlb_hc_cfg {
	uint8_t type; /* enum xlb_hc_type */
	uint16_t port; /* host order; 0 = the VIP's port */
	uint16_t expect_status; /* http; default 200 */
	uint16_t rise, fall;
	uint32_t interval_ms, timeout_ms;
	char path[XLB_HC_TEXT_LEN]; /* http; default "/" */
	char send[XLB_HC_TEXT_LEN]; /* udp request payload */
	char expect[XLB_HC_TEXT_LEN]; /* udp: substring the reply must hold */
};

/* The checks a config asks for: one per backend, indexed like the
 * config's vips[i].backends[j]. */
struct xlb_hc_set {
	size_t n_vips;
	size_t *n_be;
	struct xlb_hc_cfg **be;
};

void xlb_hc_defaults(struct xlb_hc_cfg *c);
void xlb_hc_set_free(struct xlb_hc_set *s);
const char *xlb_hc_type_name(uint8_t type);

/* ---- The state machine (pure: no clock, no I/O) --------------------- */

/* Flapping is absorbed: the state changes only after @rise consecutive
 * successes (down -> up) or @fall consecutive failures (up -> down). */
struct xlb_hc_sm {
	bool up;
	uint16_t ok_run; /* consecutive successes while down */
	uint16_t fail_run; /* consecutive failures while up */
};

/* A new backend starts up: taking every backend out at start-up until
 * its first checks pass would drop all traffic on every restart. */
void xlb_hc_sm_init(struct xlb_hc_sm *sm);

/**
 * xlb_hc_sm_feed - record one check result
 * Returns true if this result changed the state (sm->up is the new one).
 */
bool xlb_hc_sm_feed(struct xlb_hc_sm *sm, uint16_t rise, uint16_t fall,
		    bool ok);

/* ---- The checker ------------------------------------------------------ */

enum xlb_hc_phase {
	XLB_HCP_IDLE = 0,
	XLB_HCP_CONNECT, /* tcp/http: connect in progress */
	XLB_HCP_SEND, /* http: request being written */
	XLB_HCP_RECV, /* http/udp: waiting for the answer */
};

/* One backend under check. */
struct xlb_hc_target {
	struct xlb_ev ev; /* first: epoll data.ptr */
	struct xlb_health *h;
	size_t vip, be; /* indexes in the config in effect */
	char vip_name[XLB_NAME_LEN];
	struct xlb_addr vip_addr;
	uint16_t vip_port;
	uint8_t vip_proto;
	struct xlb_addr addr; /* the backend's real address: checks go here */
	struct xlb_hc_cfg cfg; /* port resolved */
	struct xlb_hc_sm sm;
	/* The check in flight. */
	int fd;
	enum xlb_hc_phase phase;
	uint64_t deadline_ms; /* fails as timed out at this time */
	uint64_t next_ms; /* next check starts at this time */
	char buf[512];
	size_t len;
	/* Counters. */
	uint64_t checks, failures, transitions;
	char reason[128]; /* why the last check failed */
};

/**
 * struct xlb_health - every check of a service
 * @clock:     monotonic time in ms (tests give a fake one)
 * @on_change: called after a target's state flipped, with the reason
 *             ("connect: Connection refused", "timeout", "2 checks passed")
 */
struct xlb_health {
	int epfd;
	uint64_t (*clock)(void *ctx);
	void (*on_change)(void *ctx, struct xlb_hc_target *t,
			  const char *reason);
	void *ctx;
	size_t n;
	struct xlb_hc_target **t;
	/* The targets the last configure dropped, idle, kept so that the
	 * next one can take them back with their state (a reload the
	 * datapath refuses reconfigures the running config's checks). */
	size_t n_gone;
	struct xlb_hc_target **gone;
	uint64_t transitions; /* all targets, since start */
	uint64_t checks;
	uint64_t local_errors; /* checks not run: no socket (EMFILE, ...) */
};

/* The monotonic clock in ms, for @clock. */
uint64_t xlb_hc_clock_mono(void *ctx);

void xlb_health_init(struct xlb_health *h, int epfd);
void xlb_health_free(struct xlb_health *h);

/**
 * xlb_health_configure - make the checks match @cfg and @set
 * A backend already checked (same VIP address/port/protocol and backend
 * address) keeps its state and counters; a changed check is restarted
 * but keeps its state. Returns 0 or -ENOMEM (then nothing changed).
 */
int xlb_health_configure(struct xlb_health *h, const struct xlb_config *cfg,
			 const struct xlb_hc_set *set);

/**
 * xlb_health_tick - start due checks and fail the timed-out ones
 * Returns the time (ms, the @clock's) when it must be called again, or
 * UINT64_MAX if there is nothing to check.
 */
uint64_t xlb_health_tick(struct xlb_health *h);

/* Abort a target's check in flight (no result recorded). */
void xlb_hc_abort(struct xlb_hc_target *t);

/* The state of cfg->vips[vip].backends[be]: true without a check. */
bool xlb_health_up(const struct xlb_health *h, size_t vip, size_t be);

/**
 * xlb_health_effective - @in with every failed backend marked down
 * @out: a deep copy (free with xlb_health_effective_free)
 * A backend that fails its checks is taken out of the Maglev table like
 * one configured "state: down": only its share of the table moves.
 * Returns 0 or -ENOMEM.
 */
int xlb_health_effective(const struct xlb_health *h,
			 const struct xlb_config *in, struct xlb_config *out);
void xlb_health_effective_free(struct xlb_config *c);

/* ---- Parsing the health_check: blocks --------------------------------- */

/**
 * xlb_hc_parse - read the health_check: blocks of a parsed YAML document
 * @doc:  the libyaml document of the config file
 * @name: file name for messages
 * @cfg:  the config read from the same file (gives VIP ports and counts)
 * @set:  out (free with xlb_hc_set_free)
 * @diag: errors appended, "file:line:col: error: ..."
 *
 * A backend's block is merged over its VIP's. Returns the number of
 * errors (0: @set is valid), or -ENOMEM.
 */
int xlb_hc_parse(yaml_document_t *doc, const char *name,
		 const struct xlb_config *cfg, struct xlb_hc_set *set,
		 struct xlb_diag *diag);

/* YAML helpers shared with the service: section lookups and errors. */
yaml_node_t *xlb_y_get(yaml_document_t *d, yaml_node_t *map, const char *key,
		       yaml_node_t **keynode);
void xlb_y_err(struct xlb_diag *diag, const char *name, const yaml_node_t *at,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A scalar as an unsigned integer in [min, max]; errors go to @diag. */
int xlb_y_uint(struct xlb_diag *diag, const char *name, yaml_node_t *n,
	       const char *key, uint64_t min, uint64_t max, uint64_t *out);
/* A scalar copied into @buf; too long or not a scalar is an error. */
int xlb_y_str(struct xlb_diag *diag, const char *name, yaml_node_t *n,
	      const char *key, char *buf, size_t len);

#endif /* XLB_HEALTH_H */
