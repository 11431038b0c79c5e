/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The service loop without a datapath: config-file changes (in place,
 * rename-replace, bad edits) drive the apply callback or not; health
 * transitions reach it; the metrics endpoint answers. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "metrics_http.h"
#include "service.h"

struct fake_dp {
	int calls, firsts;
	int fail; /* -errno to return */
	size_t n_vips, n_be;
	uint8_t state[8];
};

static int fake_apply(void *ctx, const struct xlb_config *eff, bool first)
{
	struct fake_dp *f = ctx;

	f->calls++;
	f->firsts += first;
	if (f->fail)
		return f->fail;
	f->n_vips = eff->n_vips;
	f->n_be = eff->n_vips ? eff->vips[0].n_backends : 0;
	for (size_t j = 0; j < f->n_be && j < 8; j++)
		f->state[j] = eff->vips[0].backends[j].state;
	return 0;
}

static char dir[64];
static char path[128];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/xsv-watch-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/xlb.yaml", dir);
}

static void rm_tmp(void)
{
	char cmd[128];

	if (!dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	dir[0] = '\0';
}

/* Also after a failed assertion: no directory left behind. */
TestSuite(watch, .fini = rm_tmp);
TestSuite(bgp, .fini = rm_tmp);

/* A config with @n backends on 10.0.0.10:80 and the given extra text
 * in the service: section. */
static void config_text(char *buf, size_t len, int n, const char *svc)
{
	size_t off = (size_t)snprintf(buf, len,
				      "interface: lo\n"
				      "service:\n"
				      "  metrics_listen: 127.0.0.1:0\n"
				      "%s"
				      "vips:\n"
				      "  - name: web\n"
				      "    address: 10.0.0.10\n"
				      "    port: 80\n"
				      "    protocol: tcp\n"
				      "    backends:\n",
				      svc);

	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, len - off,
					"      - address: 10.1.0.%d\n", i + 1);
}

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
}

static void write_config(int n)
{
	char buf[4096];

	config_text(buf, sizeof(buf), n, "");
	write_file(path, buf);
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Run the loop until *@v differs from @was or @ms pass. */
static void step_until_change(struct xlb_service *s, const uint64_t *v,
			      uint64_t was, int ms)
{
	uint64_t end = ms_now() + (uint64_t)ms;

	while (*v == was && ms_now() < end)
		xlb_service_step(s, 20);
}

/* Run the loop for @ms whatever happens. */
static void step_for(struct xlb_service *s, int ms)
{
	uint64_t end = ms_now() + (uint64_t)ms;

	while (ms_now() < end)
		xlb_service_step(s, 20);
}

static struct xlb_service *open_svc(struct fake_dp *f)
{
	struct xlb_service_opts o = {
		.config = path, .mode = -1, .apply = fake_apply, .ctx = f
	};
	struct xlb_service *s = NULL;

	cr_assert_eq(xlb_service_open(&s, &o), 0);
	cr_assert_eq(f->calls, 1);
	cr_assert_eq(f->firsts, 1, "start-up apply is marked first");
	return s;
}

Test(watch, write_in_place_reloads)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;

	mkdir_tmp();
	write_config(2);
	s = open_svc(&f);
	cr_assert_eq(f.n_be, 2);
	write_config(3);
	step_until_change(s, &s->reloads_ok, 0, 3000);
	cr_assert_eq(s->reloads_ok, 1);
	cr_assert_eq(s->reloads_err, 0);
	cr_assert_eq(f.calls, 2);
	cr_assert_eq(f.n_be, 3, "the new file was applied");
	/* One write is one reload, not one per inotify event. */
	step_for(s, 400);
	cr_assert_eq(f.calls, 2);
	xlb_service_close(s);
	rm_tmp();
}

Test(watch, rename_replace_reloads)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;
	char tmp[160], buf[4096];

	mkdir_tmp();
	write_config(2);
	s = open_svc(&f);
	/* As editors and config managers do: write aside, rename over. */
	snprintf(tmp, sizeof(tmp), "%s/.xlb.yaml.swp", dir);
	config_text(buf, sizeof(buf), 4, "");
	write_file(tmp, buf);
	cr_assert_eq(rename(tmp, path), 0);
	step_until_change(s, &s->reloads_ok, 0, 3000);
	cr_assert_eq(s->reloads_ok, 1);
	cr_assert_eq(f.n_be, 4);
	/* The watch survives the replacement: a second one works too. */
	config_text(buf, sizeof(buf), 1, "");
	write_file(tmp, buf);
	cr_assert_eq(rename(tmp, path), 0);
	step_until_change(s, &s->reloads_ok, 1, 3000);
	cr_assert_eq(s->reloads_ok, 2);
	cr_assert_eq(f.n_be, 1);
	xlb_service_close(s);
	rm_tmp();
}

Test(watch, bad_edit_changes_nothing)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;

	mkdir_tmp();
	write_config(2);
	s = open_svc(&f);
	write_file(path, "interface: lo\nvips:\n  - name: web\n"
			 "    address: 10.0.0.999\n");
	step_until_change(s, &s->reloads_err, 0, 3000);
	cr_assert_eq(s->reloads_err, 1);
	cr_assert_eq(s->reloads_ok, 0);
	cr_assert_eq(f.calls, 1, "apply not called for a bad file");
	cr_assert_eq(s->cfg.vips[0].n_backends, 2, "old config still runs");
	/* Fixing the file reloads. */
	write_config(3);
	step_until_change(s, &s->reloads_ok, 0, 3000);
	cr_assert_eq(f.calls, 2);
	cr_assert_eq(f.n_be, 3);
	xlb_service_close(s);
	rm_tmp();
}

Test(watch, refused_apply_keeps_the_old_config)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;

	mkdir_tmp();
	write_config(2);
	s = open_svc(&f);
	f.fail = -EIO;
	write_config(5);
	step_until_change(s, &s->reloads_err, 0, 3000);
	cr_assert_eq(s->reloads_err, 1);
	cr_assert_eq(f.calls, 2, "apply tried once");
	cr_assert_eq(s->cfg.vips[0].n_backends, 2);
	xlb_service_close(s);
	rm_tmp();
}

Test(watch, other_files_and_deletion_do_not_apply)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;
	char other[160];

	mkdir_tmp();
	write_config(2);
	s = open_svc(&f);
	snprintf(other, sizeof(other), "%s/other.yaml", dir);
	write_file(other, "x: 1\n");
	step_for(s, 500);
	cr_assert_eq(s->file_events, 0, "another file in the directory");
	cr_assert_eq(f.calls, 1);
	/* The file vanishing is an error to log, not an empty config. */
	cr_assert_eq(unlink(path), 0);
	step_until_change(s, &s->reloads_err, 0, 3000);
	cr_assert_eq(s->reloads_err, 1);
	cr_assert_eq(f.calls, 1);
	unlink(other);
	xlb_service_close(s);
	rm_tmp();
}

Test(watch, sighup_path_reloads_through_the_same_function)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;

	mkdir_tmp();
	write_config(2);
	s = open_svc(&f);
	cr_assert_eq(xlb_service_reload(s, "SIGHUP"), 0);
	cr_assert_eq(s->reloads_ok, 1);
	cr_assert_eq(f.calls, 2);
	xlb_service_close(s);
	rm_tmp();
}

/* This test's own network namespace, lo up with 10.99.0.1 (the config
 * refuses loopback backends); skipped without root. */
static void private_netns(void)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNET))
		cr_skip_test("needs root for a private network namespace");
	cr_assert_eq(system("ip link set lo up && "
			    "ip addr add 10.99.0.1/32 dev lo"),
		     0);
}

/* VIP web with two backends: 10.99.0.1, TCP-checked on port 1 (refused
 * at once in private_netns(): down after one check), and one unchecked. */
static void write_dead_backend_config(unsigned int interval_ms,
				      unsigned int timeout_ms)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "interface: lo\n"
		 "service: {metrics_listen: 'off'}\n"
		 "vips:\n"
		 "  - name: web\n"
		 "    address: 10.0.0.10\n"
		 "    port: 80\n"
		 "    protocol: tcp\n"
		 "    health_check: {type: tcp, port: 1, interval_ms: %u,"
		 " timeout_ms: %u, rise: 2, fall: 1}\n"
		 "    backends:\n"
		 "      - address: 10.99.0.1\n"
		 "      - address: 10.1.0.2\n"
		 "        health_check: {type: none}\n",
		 interval_ms, timeout_ms);
	write_file(path, buf);
}

Test(watch, failing_backend_is_applied_down_then_up)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;
	/* The config refuses loopback backends: give this test a network
	 * namespace of its own with a routable address on lo. */
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(0x0a630001) };
	socklen_t l = sizeof(a);
	char buf[4096];
	uint64_t t0;
	int srv;

	private_netns();
	srv = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(srv, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(srv, 64), 0);
	cr_assert_eq(getsockname(srv, (struct sockaddr *)&a, &l), 0);
	mkdir_tmp();
	snprintf(buf, sizeof(buf),
		 "interface: lo\n"
		 "service: {metrics_listen: 'off'}\n"
		 "vips:\n"
		 "  - name: web\n"
		 "    address: 10.0.0.10\n"
		 "    port: 80\n"
		 "    protocol: tcp\n"
		 "    health_check: {type: tcp, port: %u, interval_ms: 20,"
		 " timeout_ms: 20, rise: 2, fall: 3}\n"
		 "    backends:\n"
		 "      - address: 10.99.0.1\n"
		 "      - address: 10.1.0.2\n"
		 "        health_check: {type: none}\n",
		 ntohs(a.sin_port));
	write_file(path, buf);
	s = open_svc(&f);
	cr_assert_null(s->metrics, "metrics_listen: off");
	step_for(s, 200);
	cr_assert_eq(f.calls, 1, "healthy: nothing to apply");
	cr_assert_gt(s->health.checks, 3, "checks ran on the timer");
	close(srv);
	t0 = ms_now();
	step_until_change(s, &s->health.transitions, 0, 3000);
	cr_assert_eq(s->health.transitions, 1);
	/* fall 3 x interval 20 ms, with slack for a loaded machine. */
	cr_assert_lt(ms_now() - t0, 1000);
	cr_assert_eq(f.calls, 2, "the transition was applied");
	cr_assert_eq(f.state[0], XLB_BE_STATE_DOWN);
	cr_assert_eq(f.state[1], XLB_BE_STATE_ACTIVE);
	cr_assert_eq(s->cfg.vips[0].backends[0].state, XLB_BE_STATE_ACTIVE,
		     "the file config is not touched");

	srv = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
	cr_assert_eq(bind(srv, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(srv, 64), 0);
	step_until_change(s, &s->health.transitions, 1, 3000);
	cr_assert_eq(s->health.transitions, 2);
	cr_assert_eq(f.calls, 3);
	cr_assert_eq(f.state[0], XLB_BE_STATE_ACTIVE);
	close(srv);
	xlb_service_close(s);
	rm_tmp();
}

/* An apply the datapath refuses is tried again by the housekeeping timer,
 * once a second; it was tried after every event of the loop (each check,
 * each timer), some 100 times a second. */
Test(watch, refused_health_apply_is_retried_once_a_second)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;
	int calls;

	/* nothing listens on 10.99.0.1: every check is refused at once */
	private_netns();
	mkdir_tmp();
	write_dead_backend_config(20, 20);
	s = open_svc(&f);
	f.fail = -EIO;
	step_until_change(s, &s->health.transitions, 0, 3000);
	cr_assert_eq(s->health.transitions, 1);
	calls = f.calls;
	step_for(s, 2000);
	cr_assert_leq(f.calls - calls, 4, "%d applies in 2 s", f.calls - calls);
	cr_assert_geq(f.calls - calls, 1, "never retried");
	f.fail = 0;
	step_for(s, 1500);
	cr_assert_eq(f.state[0], XLB_BE_STATE_DOWN, "applied once it works");
	xlb_service_close(s);
	rm_tmp();
}

/* A reload the datapath refuses puts the running config's checks back:
 * a backend the new file had dropped came back with a fresh "up" state,
 * so a dead backend read healthy (and could be applied active). */
Test(watch, a_refused_reload_keeps_the_health_state)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;

	private_netns();
	mkdir_tmp();
	write_dead_backend_config(100, 50);
	s = open_svc(&f);
	step_until_change(s, &s->health.transitions, 0, 3000);
	cr_assert_not(xlb_health_up(&s->health, 0, 0), "down");
	f.fail = -EIO;
	write_file(path, "interface: lo\n"
			 "service: {metrics_listen: 'off'}\n"
			 "vips:\n"
			 "  - name: web\n"
			 "    address: 10.0.0.10\n"
			 "    port: 80\n"
			 "    protocol: tcp\n"
			 "    backends:\n"
			 "      - address: 10.1.0.2\n");
	step_until_change(s, &s->reloads_err, 0, 3000);
	cr_assert_eq(s->reloads_err, 1);
	cr_assert_not(xlb_health_up(&s->health, 0, 0),
		      "the dead backend reads healthy again");
	xlb_service_close(s);
	rm_tmp();
}

/* A file deleted and created again (install(1), cp --remove-destination,
 * a config manager) is empty when IN_CREATE fires: the reload waits for
 * IN_CLOSE_WRITE instead of applying whatever was written by then. */
Test(watch, a_created_file_is_read_once_written)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;
	char head[1024], tail[256];
	FILE *w;

	mkdir_tmp();
	config_text(head, sizeof(head), 1, "");
	snprintf(tail, sizeof(tail),
		 "      - address: 10.1.0.2\n      - address: 10.1.0.3\n");
	write_config(3);
	s = open_svc(&f);
	cr_assert_eq(f.n_be, 3);
	cr_assert_eq(unlink(path), 0);
	step_until_change(s, &s->reloads_err, 0, 2000);
	w = fopen(path, "w");
	cr_assert_not_null(w);
	fputs(head, w);
	fflush(w);
	step_for(s, 400); /* past the debounce */
	cr_assert_eq(f.n_be, 3, "a half-written file was applied");
	fputs(tail, w);
	fclose(w);
	step_until_change(s, &s->reloads_ok, 0, 3000);
	cr_assert_eq(s->reloads_ok, 1);
	cr_assert_eq(f.n_be, 3);
	xlb_service_close(s);
	rm_tmp();
}

/* GET @target from the endpoint while the loop runs; returns the reply. */
static char *http_get(struct xlb_service *s, const char *target)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	static char resp[65536];
	char req[256];
	size_t n = 0;
	uint64_t end = ms_now() + 3000;

	a.sin_port = htons((uint16_t)xlb_metrics_port(s->metrics));
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: x\r\n\r\n",
		 target);
	cr_assert_eq(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	while (ms_now() < end) {
		ssize_t r;

		xlb_service_step(s, 10);
		r = recv(fd, resp + n, sizeof(resp) - 1 - n, MSG_DONTWAIT);
		if (r == 0)
			break;
		if (r > 0)
			n += (size_t)r;
	}
	resp[n] = '\0';
	close(fd);
	return resp;
}

/* Out of descriptors with a scrape waiting: accept() fails and the
 * listener stays readable. The loop spun at 100% CPU; now the listener
 * rests until the next housekeeping tick and the scrape is served once
 * descriptors are back. */
Test(watch, metrics_out_of_descriptors_does_not_spin)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;
	struct rlimit rl = { 256, 256 };
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	int fds[300], n = 0, d, c, steps = 0;
	char resp[64] = "";
	uint64_t end;

	mkdir_tmp();
	write_config(1);
	s = open_svc(&f);
	a.sin_port = htons((uint16_t)xlb_metrics_port(s->metrics));
	c = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(c, 0);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (n < 300 && (d = dup(0)) >= 0)
		fds[n++] = d;
	cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(send(c, req, sizeof(req) - 1, 0),
		     (ssize_t)sizeof(req) - 1);
	for (end = ms_now() + 500; ms_now() < end; steps++)
		xlb_service_step(s, 100);
	cr_assert_lt(steps, 20, "the loop spun: %d steps in 500 ms", steps);
	while (n)
		close(fds[--n]);
	for (end = ms_now() + 3000; ms_now() < end && !resp[0];) {
		xlb_service_step(s, 50);
		if (recv(c, resp, sizeof(resp) - 1, MSG_DONTWAIT) <= 0)
			resp[0] = '\0';
	}
	cr_assert(!strncmp(resp, "HTTP/1.", 7),
		  "no reply once descriptors "
		  "were back: '%s'",
		  resp);
	close(c);
	xlb_service_close(s);
	rm_tmp();
}

Test(watch, metrics_endpoint_serves_and_404s)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;
	char *r;

	mkdir_tmp();
	write_config(2);
	s = open_svc(&f);
	cr_assert_not_null(s->metrics);
	cr_assert_gt(xlb_metrics_port(s->metrics), 0);
	cr_assert_eq(xlb_service_reload(s, "test"), 0);
	r = http_get(s, "/metrics");
	cr_assert(!strncmp(r, "HTTP/1.0 200 OK\r\n", 17), "got: %.80s", r);
	cr_assert(strstr(r, "text/plain; version=0.0.4"));
	cr_assert(strstr(r, "\nxlb_reloads_total{result=\"ok\"} 1\n"), "%s", r);
	cr_assert(strstr(r, "\nxlb_reloads_total{result=\"error\"} 0\n"));
	cr_assert(strstr(r, "\nxlb_backend_healthy{vip=\"web\",backend="
			    "\"10.1.0.2\"} 1\n"));
	cr_assert(strstr(r, "\nxlb_health_transitions_total 0\n"));
	cr_assert(strstr(r, "\nxlb_last_reload_timestamp_seconds 1"));
	r = http_get(s, "/other");
	cr_assert(!strncmp(r, "HTTP/1.0 404 ", 13), "got: %.80s", r);
	xlb_service_close(s);
	rm_tmp();
}

/* A reload that moves the endpoint to an address it cannot have (another
 * program holds the port) keeps serving metrics where it did: the old
 * listener was closed first, and the endpoint was gone until a restart. */
Test(watch, a_failed_metrics_move_keeps_the_endpoint)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	char buf[4096];
	int busy;

	mkdir_tmp();
	write_config(1);
	s = open_svc(&f);
	cr_assert_not_null(s->metrics);
	busy = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(busy, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(busy, 1), 0);
	cr_assert_eq(getsockname(busy, (struct sockaddr *)&a, &l), 0);
	snprintf(buf, sizeof(buf),
		 "interface: lo\n"
		 "service:\n"
		 "  metrics_listen: 127.0.0.1:%u\n"
		 "vips:\n"
		 "  - name: web\n"
		 "    address: 10.0.0.10\n"
		 "    port: 80\n"
		 "    protocol: tcp\n"
		 "    backends:\n"
		 "      - address: 10.1.0.1\n",
		 ntohs(a.sin_port));
	write_file(path, buf);
	step_until_change(s, &s->reloads_ok, 0, 3000);
	cr_assert_eq(s->reloads_ok, 1);
	cr_assert_not_null(s->metrics, "no metrics endpoint left");
	cr_assert(strstr(http_get(s, "/metrics"), "200 OK"));
	close(busy);
	xlb_service_close(s);
	rm_tmp();
}

Test(watch, bad_listen_address_is_a_config_error)
{
	struct xlb_config cfg;
	struct xlb_svc_cfg svc;
	struct xlb_diag d = { 0 };
	char buf[4096];

	mkdir_tmp();
	config_text(buf, sizeof(buf), 1, "  on_exit: maybe\n");
	write_file(path, buf);
	cr_assert_eq(xlb_svc_load(path, &cfg, &svc, &d), -EINVAL);
	cr_assert_eq(d.n, 1);
	cr_assert(strstr(d.msgs[0], ":4:12: error: on_exit must be keep"), "%s",
		  d.msgs[0]);
	xlb_diag_free(&d);
	rm_tmp();
}

/* ---- BGP: prefixes, the include file, BIRD's control socket ----------------- */

#include <pthread.h>
#include <sys/un.h>

#include "bgp.h"

/* A stand-in for BIRD's control socket: greets, answers "configure"
 * with @reply, counts the commands. */
struct fake_bird {
	int fd;
	pthread_t th;
	const char *reply;
	int configures;
	int held; /* a silent BIRD keeps the connection open, unanswered */
	char path[100]; /* fits sun_path */
};

static void send_str(int fd, const char *s)
{
	if (send(fd, s, strlen(s), MSG_NOSIGNAL) < 0)
		return; /* the service hung up: fine */
}

static void *bird_thread(void *arg)
{
	struct fake_bird *b = arg;

	for (;;) {
		char buf[256];
		ssize_t n;
		int c = accept(b->fd, NULL, NULL);
		const char *reply =
			__atomic_load_n(&b->reply, __ATOMIC_SEQ_CST);

		if (c < 0)
			return NULL;
		/* MSG_NOSIGNAL: the service may hang up first (SIGPIPE
		 * would kill the whole test). */
		send_str(c, "0001 BIRD 2.0.12 ready.\n");
		n = recv(c, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			if (!strcmp(buf, "configure\n")) {
				__atomic_add_fetch(&b->configures, 1,
						   __ATOMIC_SEQ_CST);
				send_str(c, reply);
			}
		}
		if (!reply[0] && b->held < 0) {
			b->held = c;
			continue;
		}
		close(c);
	}
}

static void bird_start(struct fake_bird *b, const char *reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	b->reply = reply;
	b->configures = 0;
	b->held = -1;
	snprintf(b->path, sizeof(b->path), "%s/bird.ctl", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", b->path);
	b->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(b->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(b->fd, 8), 0);
	cr_assert_eq(pthread_create(&b->th, NULL, bird_thread, b), 0);
}

static int bird_count(struct fake_bird *b)
{
	return __atomic_load_n(&b->configures, __ATOMIC_SEQ_CST);
}

static void bird_stop(struct fake_bird *b)
{
	shutdown(b->fd, SHUT_RDWR);
	pthread_join(b->th, NULL);
	close(b->fd);
	if (b->held >= 0)
		close(b->held);
	unlink(b->path);
}

/* Run the loop until BIRD got @n "configure"s and the last one was
 * answered (the service talks to BIRD asynchronously). */
static void step_until_bird(struct xlb_service *s, struct fake_bird *b, int n)
{
	uint64_t end = ms_now() + 3000;

	while ((bird_count(b) < n || (s->bgp && s->bgp->pending)) &&
	       ms_now() < end)
		xlb_service_step(s, 20);
}

static char *slurp(const char *p)
{
	static char buf[4096];
	FILE *f = fopen(p, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

Test(bgp, prefixes_need_a_usable_backend_and_are_unique)
{
	struct xlb_backend_cfg be[3] = { 0 };
	struct xlb_vip_cfg v[4] = { 0 };
	struct xlb_config c = { .vips = v, .n_vips = 4 };
	char **p = NULL;
	int n;

	for (int i = 0; i < 3; i++) {
		cr_assert_eq(xlb_addr_parse("10.1.0.1", &be[i].addr), 0);
		be[i].weight = 100;
	}
	be[1].state = XLB_BE_STATE_DRAIN;
	be[2].weight = 0;
	cr_assert_eq(xlb_addr_parse("10.0.0.10", &v[0].addr), 0);
	v[0].backends = &be[0];
	v[0].n_backends = 1;
	v[1] = v[0]; /* another port on the same address */
	v[1].port = 443;
	cr_assert_eq(xlb_addr_parse("10.0.0.11", &v[2].addr), 0);
	v[2].backends = &be[1]; /* drain and weight 0: nothing usable */
	v[2].n_backends = 2;
	cr_assert_eq(xlb_addr_parse("fd00::10", &v[3].addr), 0);
	v[3].backends = &be[0];
	v[3].n_backends = 1;
	n = xlb_bgp_prefixes(&c, true, &p);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(p[0], "10.0.0.10/32");
	cr_assert_str_eq(p[1], "fd00::10/128");
	char *text = xlb_bgp_render(p, (size_t)n);

	cr_assert(strstr(text, "protocol static xlb_vips4 {\n\tipv4;\n\troute "
			       "10.0.0.10/32 blackhole;\n}\n"),
		  "%s", text);
	cr_assert(strstr(text, "protocol static xlb_vips6 {\n\tipv6;\n\troute "
			       "fd00::10/128 blackhole;\n}\n"),
		  "%s", text);
	free(text);
	xlb_bgp_strv_free(p, (size_t)n);
	n = xlb_bgp_prefixes(&c, false, &p);
	cr_assert_eq(n, 0, "not attached: nothing");
	xlb_bgp_strv_free(p, 0);
}

Test(bgp, bird_errors_are_reported)
{
	struct fake_bird b;
	char msg[256];

	mkdir_tmp();
	bird_start(&b, "0002-Reading configuration from /etc/bird.conf\n"
		       "8002 /etc/bird.conf:3:1 syntax error\n");
	cr_assert_eq(xlb_bird_configure(b.path, 2000, msg, sizeof(msg)),
		     -EINVAL);
	cr_assert_str_eq(msg, "/etc/bird.conf:3:1 syntax error");
	bird_stop(&b);
	cr_assert_lt(xlb_bird_configure(b.path, 2000, msg, sizeof(msg)), 0);
	cr_assert(strstr(msg, "cannot connect to BIRD"), "%s", msg);
	rm_tmp();
}

Test(bgp, service_announces_withdraws_and_retries)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;
	struct fake_bird b;
	char buf[4096], svc[512], inc[160];
	char *t;
	uint64_t end;

	mkdir_tmp();
	snprintf(inc, sizeof(inc), "%s/vips.conf", dir);
	snprintf(svc, sizeof(svc),
		 "  bgp:\n    bird_socket: %s/bird.ctl\n"
		 "    include_file: %s\n",
		 dir, inc);
	config_text(buf, sizeof(buf), 2, svc);
	write_file(path, buf);
	/* BIRD not running yet: the file is written, the change pending. */
	s = open_svc(&f);
	t = slurp(inc);
	cr_assert_not_null(t);
	cr_assert(strstr(t, "route 10.0.0.10/32 blackhole;"), "%s", t);
	cr_assert(s->bgp->pending);
	bird_start(&b, "0002-Reading configuration\n0003 Reconfigured\n");
	end = ms_now() + 3000;
	while (s->bgp->pending && ms_now() < end)
		xlb_service_step(s, 50);
	cr_assert_not(s->bgp->pending, "retried by the housekeeping timer");
	cr_assert_eq(bird_count(&b), 1);
	/* Every backend drained: withdrawn. */
	config_text(buf, sizeof(buf), 0, svc);
	strcat(buf, "      - address: 10.1.0.1\n        state: drain\n");
	write_file(path, buf);
	step_until_change(s, &s->reloads_ok, 0, 3000);
	cr_assert_eq(s->reloads_ok, 1);
	step_until_bird(s, &b, 2);
	cr_assert_eq(bird_count(&b), 2);
	t = slurp(inc);
	cr_assert_null(strstr(t, "route "), "%s", t);
	/* Active again, then stop: withdrawn on the way out. */
	config_text(buf, sizeof(buf), 1, svc);
	write_file(path, buf);
	step_until_change(s, &s->reloads_ok, 1, 3000);
	cr_assert(strstr(slurp(inc), "route 10.0.0.10/32"));
	step_until_bird(s, &b, 3);
	cr_assert_eq(bird_count(&b), 3);
	/* Stop: withdrawn on the way out. */
	xlb_service_close(s);
	cr_assert_null(strstr(slurp(inc), "route "));
	cr_assert_eq(bird_count(&b), 4);
	bird_stop(&b);
	rm_tmp();
}

/* The include file could not be written (its directory missing): the
 * service said "retry 1s" but only the next change of routes wrote it. */
Test(bgp, a_failed_include_write_is_retried)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;
	char buf[4096], svc[512], inc[160], sub[128];
	uint64_t end;

	mkdir_tmp();
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(inc, sizeof(inc), "%s/vips.conf", sub);
	snprintf(svc, sizeof(svc),
		 "  bgp:\n    bird_socket: %s/bird.ctl\n"
		 "    include_file: %s\n",
		 dir, inc);
	config_text(buf, sizeof(buf), 2, svc);
	write_file(path, buf);
	s = open_svc(&f);
	cr_assert(strstr(s->bgp_err, "cannot write"), "%s", s->bgp_err);
	cr_assert_eq(mkdir(sub, 0755), 0);
	end = ms_now() + 3000;
	while (access(inc, F_OK) && ms_now() < end)
		xlb_service_step(s, 50);
	cr_assert_eq(access(inc, F_OK), 0, "not written again");
	cr_assert(strstr(slurp(inc), "route 10.0.0.10/32 blackhole;"));
	xlb_service_close(s);
	rm_tmp();
}

Test(bgp, turning_bgp_off_withdraws)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;
	struct fake_bird b;
	char buf[4096], svc[512], inc[160];

	mkdir_tmp();
	bird_start(&b, "0003 Reconfigured\n");
	snprintf(inc, sizeof(inc), "%s/vips.conf", dir);
	snprintf(svc, sizeof(svc),
		 "  bgp:\n    bird_socket: %s/bird.ctl\n"
		 "    include_file: %s\n",
		 dir, inc);
	config_text(buf, sizeof(buf), 1, svc);
	write_file(path, buf);
	s = open_svc(&f);
	cr_assert(strstr(slurp(inc), "route 10.0.0.10/32"));
	step_until_bird(s, &b, 1);
	cr_assert_eq(bird_count(&b), 1);
	strcat(svc, "    enabled: false\n");
	config_text(buf, sizeof(buf), 1, svc);
	write_file(path, buf);
	step_until_change(s, &s->reloads_ok, 0, 3000);
	cr_assert_eq(s->reloads_ok, 1);
	cr_assert_null(s->bgp, "BGP off");
	cr_assert_null(strstr(slurp(inc), "route "), "withdrawn");
	cr_assert_eq(bird_count(&b), 2);
	xlb_service_close(s);
	cr_assert_eq(bird_count(&b), 2, "nothing more to say once off");
	bird_stop(&b);
	rm_tmp();
}

Test(bgp, a_silent_bird_does_not_hold_the_loop)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;
	struct fake_bird b;
	char buf[4096], svc[512];
	uint64_t t0, end;

	mkdir_tmp();
	/* Greets, takes "configure", never answers it. */
	bird_start(&b, "");
	snprintf(svc, sizeof(svc),
		 "  bgp:\n    bird_socket: %s/bird.ctl\n"
		 "    include_file: %s/vips.conf\n",
		 dir, dir);
	config_text(buf, sizeof(buf), 1, svc);
	write_file(path, buf);
	t0 = ms_now();
	s = open_svc(&f);
	cr_assert_lt(ms_now() - t0, 1000, "start-up did not wait for BIRD");
	cr_assert_geq(s->bgp->fd, 0, "configure in flight");
	t0 = ms_now();
	xlb_service_step(s, 0);
	cr_assert_lt(ms_now() - t0, 200, "a step does not wait for BIRD");
	end = ms_now() + 6000;
	while (!s->bgp_err[0] && ms_now() < end)
		xlb_service_step(s, 50);
	cr_assert(strstr(s->bgp_err, "did not answer \"configure\" within"),
		  "%s", s->bgp_err);
	cr_assert(s->bgp->pending, "still to be told");
	xlb_bgp_abort(s->bgp);
	s->bgp->pending = false; /* the close must not wait 3 s again */
	xlb_service_close(s);
	bird_stop(&b);
	rm_tmp();
}

Test(bgp, a_refusing_bird_is_reported_then_recovered)
{
	struct fake_dp f = { 0 };
	struct xlb_service *s;
	struct fake_bird b;
	char buf[4096], svc[512];
	uint64_t end;

	mkdir_tmp();
	bird_start(&b, "8002 /etc/bird.conf:3:1 syntax error\n");
	snprintf(svc, sizeof(svc),
		 "  bgp:\n    bird_socket: %s/bird.ctl\n"
		 "    include_file: %s/vips.conf\n",
		 dir, dir);
	config_text(buf, sizeof(buf), 1, svc);
	write_file(path, buf);
	s = open_svc(&f);
	end = ms_now() + 3000;
	while (!s->bgp_err[0] && ms_now() < end)
		xlb_service_step(s, 20);
	cr_assert(strstr(s->bgp_err, "/etc/bird.conf:3:1 syntax error"), "%s",
		  s->bgp_err);
	/* The operator fixes BIRD's config: the next retry gets through. */
	__atomic_store_n(&b.reply, "0003 Reconfigured\n", __ATOMIC_SEQ_CST);
	end = ms_now() + 3000;
	while ((s->bgp_err[0] || s->bgp->pending) && ms_now() < end)
		xlb_service_step(s, 20);
	cr_assert_eq(s->bgp_err[0], '\0', "recovered");
	cr_assert_not(s->bgp->pending);
	xlb_service_close(s);
	bird_stop(&b);
	rm_tmp();
}

/* ---- Structured log -------------------------------------------------------- */

/* Run xlb_slog with stdout sent to a file; returns what it printed. */
static char *slog_capture(bool json)
{
	static char out[1024];
	char p[] = "/tmp/xsv-slog-XXXXXX";
	int fd = mkstemp(p), saved = dup(1);
	ssize_t n;

	cr_assert_geq(fd, 0);
	fflush(stdout);
	dup2(fd, 1);
	xlb_slog_set_json(json);
	xlb_slog("backend_down", "vip", "web", "backend", "10.1.0.1", "reason",
		 "connect timeout", "note", "say \"hi\"\n", "empty", "", NULL);
	xlb_slog_set_json(false);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(p);
	return out;
}

Test(slog, kv_quotes_what_needs_it)
{
	char *o = slog_capture(false);

	cr_assert(!strncmp(o, "ts=20", 5), "%s", o);
	cr_assert(
		strstr(o,
		       "Z event=backend_down vip=web backend=10.1.0.1 "
		       "reason=\"connect timeout\" note=\"say \\\"hi\\\"\\n\" "
		       "empty=\"\"\n"),
		"%s", o);
	cr_assert_eq(strchr(o, '\n'), o + strlen(o) - 1, "one line");
}

Test(slog, json_is_one_object_per_line)
{
	char *o = slog_capture(true);

	cr_assert(!strncmp(o, "{\"ts\":\"20", 9), "%s", o);
	cr_assert(strstr(o, "\",\"event\":\"backend_down\",\"vip\":\"web\","
			    "\"backend\":\"10.1.0.1\",\"reason\":\"connect "
			    "timeout\",\"note\":\"say \\\"hi\\\"\\u000a\","
			    "\"empty\":\"\"}\n"),
		  "%s", o);
}
