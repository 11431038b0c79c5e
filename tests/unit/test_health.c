/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Health checks: the rise/fall state machine, timeouts on a fake clock,
 * the TCP/HTTP/UDP checkers against local sockets, and config parsing. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "health.h"
#include "service.h"

/* ---- State machine ------------------------------------------------------- */

Test(health_sm, starts_up_and_falls_after_fall_failures)
{
	struct xlb_hc_sm sm;

	xlb_hc_sm_init(&sm);
	cr_assert(sm.up);
	cr_assert_not(xlb_hc_sm_feed(&sm, 2, 3, false));
	cr_assert_not(xlb_hc_sm_feed(&sm, 2, 3, false));
	cr_assert(sm.up, "2 failures of fall=3 must not take it down");
	cr_assert(xlb_hc_sm_feed(&sm, 2, 3, false), "3rd failure flips");
	cr_assert_not(sm.up);
	cr_assert_not(xlb_hc_sm_feed(&sm, 2, 3, false), "already down");
}

Test(health_sm, rises_after_rise_successes)
{
	struct xlb_hc_sm sm;

	xlb_hc_sm_init(&sm);
	for (int i = 0; i < 3; i++)
		xlb_hc_sm_feed(&sm, 2, 3, false);
	cr_assert_not(sm.up);
	cr_assert_not(xlb_hc_sm_feed(&sm, 2, 3, true));
	cr_assert_not(sm.up, "1 success of rise=2 must not bring it up");
	cr_assert(xlb_hc_sm_feed(&sm, 2, 3, true));
	cr_assert(sm.up);
	cr_assert_not(xlb_hc_sm_feed(&sm, 2, 3, true), "already up");
}

Test(health_sm, flapping_never_changes_state)
{
	struct xlb_hc_sm sm;
	int flips = 0;

	xlb_hc_sm_init(&sm);
	/* ok, fail, fail, ok, fail, fail ...: never 3 failures in a row. */
	for (int i = 0; i < 300; i++)
		flips += xlb_hc_sm_feed(&sm, 2, 3, i % 3 == 0);
	cr_assert_eq(flips, 0);
	cr_assert(sm.up);
	/* Down, then ok/fail alternating: never 2 successes in a row. */
	for (int i = 0; i < 3; i++)
		xlb_hc_sm_feed(&sm, 2, 3, false);
	for (int i = 0; i < 300; i++)
		flips += xlb_hc_sm_feed(&sm, 2, 3, i % 2 == 0);
	cr_assert_eq(flips, 0);
	cr_assert_not(sm.up);
}

Test(health_sm, a_success_resets_the_failure_run)
{
	struct xlb_hc_sm sm;

	xlb_hc_sm_init(&sm);
	xlb_hc_sm_feed(&sm, 2, 3, false);
	xlb_hc_sm_feed(&sm, 2, 3, false);
	xlb_hc_sm_feed(&sm, 2, 3, true);
	xlb_hc_sm_feed(&sm, 2, 3, false);
	xlb_hc_sm_feed(&sm, 2, 3, false);
	cr_assert(sm.up, "the run restarted at the success");
	cr_assert(xlb_hc_sm_feed(&sm, 2, 3, false));
}

Test(health_sm, rise_and_fall_of_one_follow_every_result)
{
	struct xlb_hc_sm sm;

	xlb_hc_sm_init(&sm);
	cr_assert(xlb_hc_sm_feed(&sm, 1, 1, false));
	cr_assert(xlb_hc_sm_feed(&sm, 1, 1, true));
	cr_assert(xlb_hc_sm_feed(&sm, 1, 1, false));
	cr_assert_not(sm.up);
}

/* ---- The checker on a fake clock ------------------------------------------ */

struct fake {
	uint64_t now;
	int changes;
	bool last_up;
	char reason[128];
};

static uint64_t fake_clock(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

static void fake_change(void *ctx, struct xlb_hc_target *t, const char *why)
{
	struct fake *f = ctx;

	f->changes++;
	f->last_up = t->sm.up;
	snprintf(f->reason, sizeof(f->reason), "%s", why);
}

/* One VIP 10.0.0.10:80/tcp with one backend at 127.0.0.1 (or ::1). */
struct rig {
	struct fake fk;
	struct xlb_health h;
	struct xlb_config cfg;
	struct xlb_vip_cfg vip;
	struct xlb_backend_cfg be[2];
	struct xlb_hc_set set;
	struct xlb_hc_cfg hc[2];
	size_t n_be;
	struct xlb_hc_cfg *hcp;
};

static void rig_init(struct rig *r, uint8_t type, uint16_t port, size_t n_be)
{
	memset(r, 0, sizeof(*r));
	r->fk.now = 1000000;
	xlb_health_init(&r->h, epoll_create1(EPOLL_CLOEXEC));
	cr_assert_geq(r->h.epfd, 0);
	r->h.clock = fake_clock;
	r->h.on_change = fake_change;
	r->h.ctx = &r->fk;
	snprintf(r->vip.name, sizeof(r->vip.name), "web");
	cr_assert_eq(xlb_addr_parse("10.0.0.10", &r->vip.addr), 0);
	r->vip.port = 80;
	r->vip.proto = IPPROTO_TCP;
	for (size_t i = 0; i < n_be; i++) {
		cr_assert_eq(xlb_addr_parse(i ? "127.0.0.2" : "127.0.0.1",
					    &r->be[i].addr),
			     0);
		r->be[i].weight = 100;
		xlb_hc_defaults(&r->hc[i]);
		r->hc[i].type = type;
		r->hc[i].port = port;
	}
	r->vip.backends = r->be;
	r->vip.n_backends = n_be;
	r->cfg.vips = &r->vip;
	r->cfg.n_vips = 1;
	r->n_be = n_be;
	r->hcp = r->hc;
	r->set.n_vips = 1;
	r->set.n_be = &r->n_be;
	r->set.be = &r->hcp;
	cr_assert_eq(xlb_health_configure(&r->h, &r->cfg, &r->set), 0);
}

static void rig_fini(struct rig *r)
{
	int fd = r->h.epfd;

	xlb_health_free(&r->h);
	close(fd);
}

/* Dispatch the checker's socket events for up to @ms of real time (I/O
 * on loopback, not the fake clock) until the check in flight ends. */
static void pump(struct rig *r, struct xlb_hc_target *t, int ms)
{
	for (int i = 0; i < ms / 10 && t->phase != XLB_HCP_IDLE; i++) {
		struct epoll_event ev[8];
		int n = epoll_wait(r->h.epfd, ev, 8, 10);

		for (int k = 0; k < n; k++) {
			struct xlb_ev *e = ev[k].data.ptr;

			e->fn(e, ev[k].events);
		}
	}
}

static int udp_server(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int tcp_server(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(fd, 16), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

Test(health_check, silent_udp_backend_times_out_on_the_fake_clock)
{
	struct rig r;
	uint16_t port;
	int srv = udp_server(&port);
	struct xlb_hc_target *t;
	uint64_t next;

	rig_init(&r, XLB_HC_UDP, port, 1);
	t = r.h.t[0];
	next = xlb_health_tick(&r.h);
	cr_assert_eq(t->phase, XLB_HCP_RECV, "check started");
	cr_assert_eq(next, r.fk.now + XLB_HC_TIMEOUT_MS, "wake at timeout");
	r.fk.now += XLB_HC_TIMEOUT_MS - 1;
	xlb_health_tick(&r.h);
	cr_assert_eq(t->checks, 0, "1 ms before the timeout: no result");
	r.fk.now += 1;
	next = xlb_health_tick(&r.h);
	cr_assert_eq(t->checks, 1);
	cr_assert_eq(t->failures, 1);
	cr_assert_str_eq(t->reason, "response timeout");
	cr_assert(t->sm.up, "one failure of fall=3");
	cr_assert_eq(next, r.fk.now - XLB_HC_TIMEOUT_MS + XLB_HC_INTERVAL_MS,
		     "next check one interval after the last start");
	/* Two more intervals of silence: down after fall x interval. */
	for (int i = 0; i < 2; i++) {
		r.fk.now = next;
		xlb_health_tick(&r.h);
		r.fk.now += XLB_HC_TIMEOUT_MS;
		next = xlb_health_tick(&r.h);
	}
	cr_assert_eq(t->failures, 3);
	cr_assert_not(t->sm.up);
	cr_assert_eq(r.fk.changes, 1);
	cr_assert_not(r.fk.last_up);
	cr_assert_str_eq(r.fk.reason, "response timeout");
	cr_assert_eq(r.h.transitions, 1);
	rig_fini(&r);
	close(srv);
}

Test(health_check, udp_reply_with_expected_text_passes)
{
	struct rig r;
	uint16_t port;
	int srv = udp_server(&port);
	struct xlb_hc_target *t;
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	char buf[64];
	ssize_t n;

	rig_init(&r, XLB_HC_UDP, port, 1);
	t = r.h.t[0];
	snprintf(t->cfg.send, sizeof(t->cfg.send), "ping");
	snprintf(t->cfg.expect, sizeof(t->cfg.expect), "pong");
	xlb_health_tick(&r.h);
	n = recvfrom(srv, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
	cr_assert_eq(n, 4);
	cr_assert_eq(memcmp(buf, "ping", 4), 0, "the configured payload");
	sendto(srv, "xx pong xx", 10, 0, (struct sockaddr *)&from, fl);
	pump(&r, t, 2000);
	cr_assert_eq(t->checks, 1);
	cr_assert_eq(t->failures, 0);
	/* Next interval: a reply without the text fails. */
	r.fk.now += XLB_HC_INTERVAL_MS;
	xlb_health_tick(&r.h);
	fl = sizeof(from);
	n = recvfrom(srv, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
	cr_assert_eq(n, 4);
	sendto(srv, "nope", 4, 0, (struct sockaddr *)&from, fl);
	pump(&r, t, 2000);
	cr_assert_eq(t->failures, 1);
	cr_assert_str_eq(t->reason, "reply lacks the expected text");
	rig_fini(&r);
	close(srv);
}

Test(health_check, udp_port_unreachable_fails_at_once)
{
	struct rig r;
	uint16_t port;
	int srv = udp_server(&port);
	struct xlb_hc_target *t;

	close(srv); /* nothing listens: ICMP port unreachable */
	rig_init(&r, XLB_HC_UDP, port, 1);
	t = r.h.t[0];
	xlb_health_tick(&r.h);
	pump(&r, t, 2000);
	cr_assert_eq(t->failures, 1);
	cr_assert(strstr(t->reason, "refused"), "reason: %s", t->reason);
	rig_fini(&r);
}

Test(health_check, tcp_connect_passes_and_refused_fails)
{
	struct rig r;
	uint16_t port;
	int srv = tcp_server(&port);
	struct xlb_hc_target *t;

	rig_init(&r, XLB_HC_TCP, port, 1);
	t = r.h.t[0];
	xlb_health_tick(&r.h);
	pump(&r, t, 2000);
	cr_assert_eq(t->checks, 1);
	cr_assert_eq(t->failures, 0, "reason: %s", t->reason);
	close(srv);
	for (int i = 0; i < 3; i++) {
		r.fk.now += XLB_HC_INTERVAL_MS;
		xlb_health_tick(&r.h);
		pump(&r, t, 2000);
	}
	cr_assert_eq(t->failures, 3);
	cr_assert_str_eq(t->reason, "connect: Connection refused");
	cr_assert_not(t->sm.up);
	cr_assert_str_eq(r.fk.reason, "connect: Connection refused");
	rig_fini(&r);
}

/* Serve one HTTP request on @srv with @answer; returns the request. */
static void http_answer(struct rig *r, struct xlb_hc_target *t, int srv,
			const char *answer, char *req, size_t len)
{
	int c;
	ssize_t n = 0;

	pump(r, t, 100); /* connect completes, request is sent */
	c = accept(srv, NULL, NULL);
	cr_assert_geq(c, 0);
	for (int i = 0; i < 200 && !strstr(req, "\r\n\r\n"); i++) {
		ssize_t k = recv(c, req + n, len - 1 - (size_t)n, MSG_DONTWAIT);

		if (k > 0)
			n += k;
		req[n] = '\0';
		pump(r, t, 10);
	}
	cr_assert_eq(send(c, answer, strlen(answer), 0),
		     (ssize_t)strlen(answer));
	close(c);
	pump(r, t, 2000);
}

Test(health_check, http_status_is_checked)
{
	struct rig r;
	uint16_t port;
	int srv = tcp_server(&port);
	struct xlb_hc_target *t;
	char req[1024] = "";

	rig_init(&r, XLB_HC_HTTP, port, 1);
	t = r.h.t[0];
	snprintf(t->cfg.path, sizeof(t->cfg.path), "/healthz");
	xlb_health_tick(&r.h);
	http_answer(&r, t, srv, "HTTP/1.0 200 OK\r\n\r\nfine\n", req,
		    sizeof(req));
	cr_assert(!strncmp(req, "GET /healthz HTTP/1.0\r\n", 23), "req: %s",
		  req);
	cr_assert_eq(t->checks, 1);
	cr_assert_eq(t->failures, 0, "reason: %s", t->reason);

	r.fk.now += XLB_HC_INTERVAL_MS;
	xlb_health_tick(&r.h);
	req[0] = '\0';
	http_answer(&r, t, srv, "HTTP/1.1 503 Service Unavailable\r\n\r\n", req,
		    sizeof(req));
	cr_assert_eq(t->failures, 1);
	cr_assert_str_eq(t->reason, "HTTP status 503, expected 200");

	r.fk.now += XLB_HC_INTERVAL_MS;
	xlb_health_tick(&r.h);
	req[0] = '\0';
	http_answer(&r, t, srv, "SSH-2.0-OpenSSH\r\n", req, sizeof(req));
	cr_assert_eq(t->failures, 2);
	cr_assert_str_eq(t->reason, "no HTTP status line in reply");
	rig_fini(&r);
	close(srv);
}

Test(health_check, http_connected_but_silent_times_out)
{
	struct rig r;
	uint16_t port;
	int srv = tcp_server(&port);
	struct xlb_hc_target *t;

	rig_init(&r, XLB_HC_HTTP, port, 1);
	t = r.h.t[0];
	xlb_health_tick(&r.h);
	pump(&r, t, 100);
	cr_assert_eq(t->phase, XLB_HCP_RECV, "connected, request sent");
	r.fk.now += XLB_HC_TIMEOUT_MS;
	xlb_health_tick(&r.h);
	cr_assert_eq(t->failures, 1);
	cr_assert_str_eq(t->reason, "response timeout");
	rig_fini(&r);
	close(srv);
}

Test(health_check, ipv6_tcp_check)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t l = sizeof(a);
	int srv = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct rig r;
	struct xlb_hc_target *t;

	cr_assert_geq(srv, 0);
	if (bind(srv, (struct sockaddr *)&a, sizeof(a)))
		cr_skip_test("no IPv6 loopback here");
	cr_assert_eq(listen(srv, 4), 0);
	cr_assert_eq(getsockname(srv, (struct sockaddr *)&a, &l), 0);
	rig_init(&r, XLB_HC_TCP, ntohs(a.sin6_port), 1);
	t = r.h.t[0];
	cr_assert_eq(xlb_addr_parse("::1", &t->addr), 0);
	xlb_health_tick(&r.h);
	pump(&r, t, 2000);
	cr_assert_eq(t->checks, 1);
	cr_assert_eq(t->failures, 0, "reason: %s", t->reason);
	rig_fini(&r);
	close(srv);
}

Test(health_check, no_socket_is_not_a_backend_failure)
{
	struct rig r;
	struct rlimit rl;
	struct xlb_hc_target *t;

	rig_init(&r, XLB_HC_TCP, 9, 1);
	t = r.h.t[0];
	/* No descriptor left: socket() fails with EMFILE. */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = (rlim_t)dup(0);
	close((int)rl.rlim_cur);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	for (int i = 0; i < 5; i++) {
		xlb_health_tick(&r.h);
		r.fk.now += XLB_HC_INTERVAL_MS;
	}
	cr_assert_eq(t->checks, 0);
	cr_assert_eq(r.h.local_errors, 5);
	cr_assert(t->sm.up, "not taken out for our own shortage");
	cr_assert(strstr(t->reason, "check not run"), "%s", t->reason);
	rig_fini(&r);
}

/* ---- Effective config and reconfiguration --------------------------------- */

Test(health_effective, failed_backend_is_down_in_a_copy_only)
{
	struct rig r;
	struct xlb_config eff;

	rig_init(&r, XLB_HC_TCP, 1, 2);
	cr_assert_eq(r.h.n, 2);
	for (int i = 0; i < 3; i++)
		xlb_hc_sm_feed(&r.h.t[1]->sm, 2, 3, false);
	cr_assert_eq(xlb_health_effective(&r.h, &r.cfg, &eff), 0);
	cr_assert_eq(eff.vips[0].backends[0].state, XLB_BE_STATE_ACTIVE);
	cr_assert_eq(eff.vips[0].backends[1].state, XLB_BE_STATE_DOWN);
	cr_assert_eq(r.be[1].state, XLB_BE_STATE_ACTIVE, "input untouched");
	cr_assert(xlb_health_up(&r.h, 0, 0));
	cr_assert_not(xlb_health_up(&r.h, 0, 1));
	xlb_health_effective_free(&eff);
	rig_fini(&r);
}

Test(health_effective, reconfigure_keeps_state_by_identity)
{
	struct rig r;
	struct xlb_backend_cfg swapped[2];

	rig_init(&r, XLB_HC_TCP, 1, 2);
	for (int i = 0; i < 3; i++)
		xlb_hc_sm_feed(&r.h.t[1]->sm, 2, 3, false);
	/* Same backends in the other order: the state follows 127.0.0.2. */
	swapped[0] = r.be[1];
	swapped[1] = r.be[0];
	r.vip.backends = swapped;
	cr_assert_eq(xlb_health_configure(&r.h, &r.cfg, &r.set), 0);
	cr_assert_not(xlb_health_up(&r.h, 0, 0));
	cr_assert(xlb_health_up(&r.h, 0, 1));
	/* Without a check a backend counts as healthy. */
	r.hc[0].type = XLB_HC_NONE;
	cr_assert_eq(xlb_health_configure(&r.h, &r.cfg, &r.set), 0);
	cr_assert_eq(r.h.n, 1);
	cr_assert(xlb_health_up(&r.h, 0, 0));
	rig_fini(&r);
}

/* ---- Parsing ---------------------------------------------------------------- */

static char *write_tmp(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/xsv-hc-XXXXXX.yaml");
	fd = mkstemps(path, 5);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static const char good[] =
	"interface: lo\n"
	"service:\n"
	"  metrics_listen: 127.0.0.1:9999\n"
	"  log_format: json\n"
	"  on_exit: unload\n"
	"  bgp:\n"
	"    bird_socket: /run/x.ctl\n"
	"    include_file: /run/x.conf\n"
	"vips:\n"
	"  - name: web\n"
	"    address: 10.0.0.10\n"
	"    port: 80\n"
	"    protocol: tcp\n"
	"    health_check:\n"
	"      type: http\n"
	"      path: /healthz\n"
	"      interval_ms: 200\n"
	"      timeout_ms: 100\n"
	"      rise: 1\n"
	"    backends:\n"
	"      - address: 10.1.0.1\n"
	"      - health_check: {port: 8080, fall: 5}\n"
	"        address: 10.1.0.2\n"
	"      - address: 10.1.0.3\n"
	"        health_check: {type: none}\n"
	"  - name: dns\n"
	"    address: 10.0.0.11\n"
	"    port: 53\n"
	"    protocol: udp\n"
	"    backends:\n"
	"      - address: 10.1.0.1\n"
	"        health_check: {type: udp, send: ping, expect: pong}\n";

Test(health_parse, blocks_merge_over_the_vip_and_service_is_read)
{
	struct xlb_config cfg;
	struct xlb_svc_cfg svc;
	struct xlb_diag d = { 0 };
	char *p = write_tmp(good);
	int err = xlb_svc_load(p, &cfg, &svc, &d);
	const struct xlb_hc_cfg *c;

	for (size_t i = 0; i < d.n; i++)
		cr_log_error("%s", d.msgs[i]);
	cr_assert_eq(err, 0);
	cr_assert_str_eq(svc.metrics_listen, "127.0.0.1:9999");
	cr_assert(svc.log_json);
	cr_assert(svc.on_exit_unload);
	cr_assert(svc.bgp, "a bgp: block enables it");
	cr_assert_str_eq(svc.bird_socket, "/run/x.ctl");
	cr_assert_str_eq(svc.include_file, "/run/x.conf");
	cr_assert_eq(svc.hc.n_vips, 2);
	c = &svc.hc.be[0][0];
	cr_assert_eq(c->type, XLB_HC_HTTP);
	cr_assert_eq(c->port, 80, "the VIP's port");
	cr_assert_str_eq(c->path, "/healthz");
	cr_assert_eq(c->interval_ms, 200);
	cr_assert_eq(c->rise, 1);
	cr_assert_eq(c->fall, XLB_HC_FALL);
	c = &svc.hc.be[0][1];
	cr_assert_eq(c->type, XLB_HC_HTTP, "inherited");
	cr_assert_eq(c->port, 8080);
	cr_assert_eq(c->fall, 5);
	cr_assert_eq(c->interval_ms, 200, "inherited");
	cr_assert_eq(svc.hc.be[0][2].type, XLB_HC_NONE);
	c = &svc.hc.be[1][0];
	cr_assert_eq(c->type, XLB_HC_UDP);
	cr_assert_eq(c->port, 53);
	cr_assert_str_eq(c->send, "ping");
	cr_assert_str_eq(c->expect, "pong");
	cr_assert_eq(cfg.n_vips, 2);
	cr_assert_eq(cfg.vips[0].n_backends, 3);
	xlb_config_free(&cfg);
	xlb_svc_cfg_free(&svc);
	xlb_diag_free(&d);
	unlink(p);
}

static bool has_msg(const struct xlb_diag *d, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->msgs[i], needle))
			return true;
	return false;
}

Test(health_parse, errors_name_file_line_and_column)
{
	struct xlb_config cfg;
	struct xlb_svc_cfg svc;
	struct xlb_diag d = { 0 };
	char *p = write_tmp("interface: lo\n"
			    "service:\n"
			    "  log_format: xml\n"
			    "vips:\n"
			    "  - name: any\n"
			    "    address: 10.0.0.10\n"
			    "    port: 0\n"
			    "    protocol: tcp\n"
			    "    health_check:\n"
			    "      type: icmp\n"
			    "      timeout_ms: 2000\n"
			    "      rize: 2\n"
			    "    backends:\n"
			    "      - address: 10.1.0.1\n");
	char at[96];
	int err = xlb_svc_load(p, &cfg, &svc, &d);

	cr_assert_eq(err, -EINVAL);
	for (size_t i = 0; i < d.n; i++)
		cr_log_info("%s", d.msgs[i]);
	snprintf(at, sizeof(at), "%s:3:15: error: log_format", p);
	cr_assert(has_msg(&d, at), "log_format at 3:15");
	snprintf(at, sizeof(at), "%s:10:13: error: health_check type", p);
	cr_assert(has_msg(&d, at), "type at 10:13");
	snprintf(at, sizeof(at), "%s:12:7: error: unknown key", p);
	cr_assert(has_msg(&d, at), "rize at 12:7");
	cr_assert(has_msg(&d, "timeout_ms (2000) is longer than interval_ms"));
	cr_assert(has_msg(&d, "needs a port"));
	xlb_diag_free(&d);
	unlink(p);
}

Test(health_parse, udp_vip_needs_an_explicit_type)
{
	struct xlb_config cfg;
	struct xlb_svc_cfg svc;
	struct xlb_diag d = { 0 };
	char *p = write_tmp("interface: lo\n"
			    "vips:\n"
			    "  - name: dns\n"
			    "    address: 10.0.0.10\n"
			    "    port: 53\n"
			    "    protocol: udp\n"
			    "    health_check: {interval_ms: 500}\n"
			    "    backends:\n"
			    "      - address: 10.1.0.1\n"
			    "        health_check: {port: 5353}\n");
	char at[96];

	cr_assert_eq(xlb_svc_load(p, &cfg, &svc, &d), -EINVAL);
	snprintf(at, sizeof(at),
		 "%s:7:5: error: health_check of UDP VIP 'dns' needs a type",
		 p);
	cr_assert(has_msg(&d, at), "at the VIP's block");
	cr_assert_eq(d.n, 1, "the backend inherits: one message");
	xlb_diag_free(&d);
	unlink(p);
}

Test(health_parse, datapath_errors_keep_their_positions)
{
	struct xlb_config cfg;
	struct xlb_svc_cfg svc;
	struct xlb_diag d = { 0 };
	/* The service keys are blanked before the datapath parser runs:
	 * its message for line 6 must still say line 6. */
	char *p = write_tmp("interface: lo\n"
			    "service:\n"
			    "  on_exit: keep\n"
			    "vips:\n"
			    "  - name: web\n"
			    "    adress: 10.0.0.10\n"
			    "    port: 80\n"
			    "    protocol: tcp\n"
			    "    backends:\n"
			    "      - address: 10.1.0.1\n");
	char at[96];

	cr_assert_eq(xlb_svc_load(p, &cfg, &svc, &d), -EINVAL);
	for (size_t i = 0; i < d.n; i++)
		cr_log_info("%s", d.msgs[i]);
	snprintf(at, sizeof(at), "%s:6:5: error:", p);
	cr_assert(has_msg(&d, at), "adress at 6:5");
	xlb_diag_free(&d);
	unlink(p);
}

/* The service keys were once blanked out of a copy for the datapath
 * loader, at libyaml's character counts taken for byte offsets: a 3-byte
 * em dash in a comment moved the blanking 2 bytes early, conntrack_size
 * lost a digit, a backend's address its last, and `xlbctl check` said ok.
 * Every value must come through whatever text is around it. */
Test(health_parse, non_ascii_text_and_a_bom_leave_every_value_intact)
{
	static const char *const heads[] = { "", "\xef\xbb\xbf" };
	static const char body[] =
		"# xlb on lb1 \xe2\x80\x94 production, M\xc3\xbcnchen\n"
		"interface: lo\n"
		"conntrack_size: 4000000\n"
		"service:\n"
		"  metrics_listen: 127.0.0.1:9100\n"
		"vips:\n"
		"  - name: web # \xf0\x9f\x8c\x8d\n"
		"    address: 10.0.0.10\n"
		"    port: 80\n"
		"    protocol: tcp\n"
		"    health_check: {type: tcp} # Z\xc3\xbcrich\n"
		"    backends:\n"
		"      - {address: 10.1.0.12, health_check: {port: 81}}\n"
		"      - address: 10.1.0.13 # \xc3\xa9t\xc3\xa9\n"
		"        health_check: {port: 82}\n"
		"      - address: 10.1.0.14\n";

	for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
		struct xlb_config cfg;
		struct xlb_svc_cfg svc;
		struct xlb_diag d = { 0 };
		char text[sizeof(body) + 4], *p;
		int err;

		snprintf(text, sizeof(text), "%s%s", heads[h], body);
		p = write_tmp(text);
		err = xlb_svc_load(p, &cfg, &svc, &d);
		for (size_t i = 0; i < d.n; i++)
			cr_log_error("%s", d.msgs[i]);
		cr_assert_eq(err, 0, "with%s a byte-order mark",
			     h ? "" : "out");
		cr_assert_eq(cfg.conntrack_size, 4000000);
		cr_assert_str_eq(svc.metrics_listen, "127.0.0.1:9100");
		cr_assert_eq(cfg.n_vips, 1);
		cr_assert_eq(cfg.vips[0].n_backends, 3);
		cr_assert_eq(cfg.vips[0].backends[0].addr.a[0],
			     htonl(0x0a01000c));
		cr_assert_eq(cfg.vips[0].backends[1].addr.a[0],
			     htonl(0x0a01000d));
		cr_assert_eq(cfg.vips[0].backends[2].addr.a[0],
			     htonl(0x0a01000e));
		cr_assert_eq(svc.hc.be[0][0].port, 81);
		cr_assert_eq(svc.hc.be[0][1].port, 82);
		cr_assert_eq(svc.hc.be[0][2].port, 80);
		xlb_config_free(&cfg);
		xlb_svc_cfg_free(&svc);
		xlb_diag_free(&d);
		unlink(p);
	}
}

/* The service keys are found with libyaml's loader, which takes time
 * quadratic in the nesting: 100,000 levels ran for minutes (in the
 * service loop, on every save) before the config loader's own limit of 32
 * levels got to say so. Now the limits are checked first. */
Test(health_parse, deep_nesting_is_refused_fast, .timeout = 10)
{
	enum { LEVELS = 100000 };
	static const char head[] = "interface: lo\nvips: ";
	size_t len = sizeof(head) - 1 + 2 * LEVELS + 1;
	struct xlb_config cfg;
	struct xlb_svc_cfg svc;
	struct xlb_diag d = { 0 };
	char *text = malloc(len + 1), *p;

	cr_assert_not_null(text);
	memcpy(text, head, sizeof(head) - 1);
	memset(text + sizeof(head) - 1, '[', LEVELS);
	memset(text + sizeof(head) - 1 + LEVELS, ']', LEVELS);
	text[len - 1] = '\n';
	text[len] = '\0';
	p = write_tmp(text);
	free(text);
	cr_assert_eq(xlb_svc_load(p, &cfg, &svc, &d), -EINVAL);
	cr_assert(has_msg(&d, "nesting deeper than 32 levels"));
	xlb_diag_free(&d);
	unlink(p);
}

/* The datapath loader knows the service keys (and leaves them to the
 * service): a second one is a duplicate, a typo gets a suggestion, and
 * the messages of both come in file order. */
Test(health_parse, service_keys_get_the_loaders_messages_in_file_order)
{
	struct xlb_config cfg;
	struct xlb_svc_cfg svc;
	struct xlb_diag d = { 0 };
	char *p = write_tmp("interface: lo\n"
			    "service:\n"
			    "  log_format: xml\n"
			    "  metrix_listen: 127.0.0.1:9100\n"
			    "service:\n"
			    "  on_exit: keep\n"
			    "servcie: {}\n"
			    "vips:\n"
			    "  - name: web\n"
			    "    address: 10.0.0.10\n"
			    "    port: 80\n"
			    "    protocol: tcp\n"
			    "    health_check: {type: tcp}\n"
			    "    health_check: {type: http}\n"
			    "    backends:\n"
			    "      - address: 10.1.0.1\n"
			    "        weight: 70000\n");
	char want[5][160];

	cr_assert_eq(xlb_svc_load(p, &cfg, &svc, &d), -EINVAL);
	for (size_t i = 0; i < d.n; i++)
		cr_log_info("%s", d.msgs[i]);
	snprintf(want[0], sizeof(want[0]), "%s:3:15: error: log_format", p);
	snprintf(want[1], sizeof(want[1]), "%s:4:3: error: unknown key", p);
	snprintf(want[2], sizeof(want[2]),
		 "%s:5:1: error: duplicate key 'service' in the top level "
		 "(first at line 2)",
		 p);
	snprintf(want[3], sizeof(want[3]),
		 "%s:7:1: error: unknown key 'servcie' in the top level; did "
		 "you mean 'service'?",
		 p);
	snprintf(want[4], sizeof(want[4]),
		 "%s:14:5: error: duplicate key 'health_check'", p);
	cr_assert_geq(d.n, 6);
	for (size_t i = 0; i < 5; i++)
		cr_assert(!strncmp(d.msgs[i], want[i], strlen(want[i])),
			  "message %zu: %s, want %s...", i, d.msgs[i], want[i]);
	cr_assert(strstr(d.msgs[5], ":17:17: error: 'weight' 70000"), "%s",
		  d.msgs[5]);
	xlb_diag_free(&d);
	unlink(p);
}

Test(health_parse, flow_style_mappings)
{
	struct xlb_config cfg;
	struct xlb_svc_cfg svc;
	struct xlb_diag d = { 0 };
	char *p = write_tmp(
		"{interface: lo, service: {log_format: json}, vips: [\n"
		" {name: a, health_check: {type: udp, port: 53}, address: 10.0.0.10,"
		" port: 53, protocol: udp, backends: [{address: 10.1.0.1,"
		" health_check: {fall: 7}}]},\n"
		" {name: b, address: 10.0.0.11, port: 80, protocol: tcp,"
		" backends: [{health_check: {type: tcp}, address: 10.1.0.2}],"
		" health_check: {type: http}}]}\n");
	int err = xlb_svc_load(p, &cfg, &svc, &d);

	for (size_t i = 0; i < d.n; i++)
		cr_log_error("%s", d.msgs[i]);
	cr_assert_eq(err, 0);
	cr_assert(svc.log_json);
	cr_assert_eq(svc.hc.be[0][0].type, XLB_HC_UDP);
	cr_assert_eq(svc.hc.be[0][0].fall, 7);
	cr_assert_eq(svc.hc.be[1][0].type, XLB_HC_TCP, "backend's own type");
	xlb_config_free(&cfg);
	xlb_svc_cfg_free(&svc);
	xlb_diag_free(&d);
	unlink(p);
}

Test(health_parse, fifo_and_missing_files_fail_fast_with_the_loaders_words,
     .timeout = 10)
{
	struct xlb_config cfg;
	struct xlb_svc_cfg svc;
	struct xlb_diag d = { 0 }, ref = { 0 };
	char p[] = "/tmp/xsv-fifo-XXXXXX";
	struct xlb_config rc;

	cr_assert_not_null(mkdtemp(p));
	strcat(p, "/x.yaml");
	cr_assert_eq(mkfifo(p, 0600), 0);
	/* A FIFO must not block: the same error as the datapath loader. */
	cr_assert_lt(xlb_svc_load(p, &cfg, &svc, &d), 0);
	cr_assert_lt(xlb_config_load(p, &rc, &ref), 0);
	cr_assert_eq(d.n, 1);
	cr_assert_eq(ref.n, 1);
	cr_assert_str_eq(d.msgs[0], ref.msgs[0]);
	xlb_diag_free(&d);
	xlb_diag_free(&ref);
	unlink(p);
	cr_assert_eq(xlb_svc_load(p, &cfg, &svc, &d), -ENOENT);
	cr_assert_eq(d.n, 1);
	cr_assert(strstr(d.msgs[0], "cannot open"), "%s", d.msgs[0]);
	xlb_diag_free(&d);
	*strrchr(p, '/') = '\0';
	rmdir(p);
}
