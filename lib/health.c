/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Backend health checks: the rise/fall state machine, the non-blocking
 * TCP/HTTP/UDP checkers, and the health_check: blocks of the config. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "diff.h"
#include "health.h"

/* ---- Configuration ---------------------------------------------------- */

void xlb_hc_defaults(struct xlb_hc_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->type = XLB_HC_NONE;
	c->expect_status = 200;
	c->rise = XLB_HC_RISE;
	c->fall = XLB_HC_FALL;
	c->interval_ms = XLB_HC_INTERVAL_MS;
	c->timeout_ms = XLB_HC_TIMEOUT_MS;
	strcpy(c->path, "/");
}

void xlb_hc_set_free(struct xlb_hc_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_vips; i++)
		free(s->be ? s->be[i] : NULL);
	free(s->be);
	free(s->n_be);
	memset(s, 0, sizeof(*s));
}

static const char *const hc_types[] = { "none", "tcp", "http", "udp", NULL };

const char *xlb_hc_type_name(uint8_t type)
{
	return type <= XLB_HC_UDP ? hc_types[type] : "?";
}

/* ---- State machine ---------------------------------------------------- */

void xlb_hc_sm_init(struct xlb_hc_sm *sm)
{
	memset(sm, 0, sizeof(*sm));
	sm->up = true;
}

bool xlb_hc_sm_feed(struct xlb_hc_sm *sm, uint16_t rise, uint16_t fall, bool ok)
{
	if (ok) {
		sm->fail_run = 0;
		if (sm->up)
			return false;
		if (++sm->ok_run < (rise ? rise : 1))
			return false;
		sm->up = true;
		sm->ok_run = 0;
		return true;
	}
	sm->ok_run = 0;
	if (!sm->up)
		return false;
	if (++sm->fail_run < (fall ? fall : 1))
		return false;
	sm->up = false;
	sm->fail_run = 0;
	return true;
}

/* ---- Checker ------------------------------------------------------------ */

uint64_t xlb_hc_clock_mono(void *ctx)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_of(const struct xlb_health *h)
{
	return h->clock ? h->clock(h->ctx) : xlb_hc_clock_mono(NULL);
}

void xlb_health_init(struct xlb_health *h, int epfd)
{
	memset(h, 0, sizeof(*h));
	h->epfd = epfd;
	h->clock = xlb_hc_clock_mono;
}

void xlb_hc_abort(struct xlb_hc_target *t)
{
	if (t->fd >= 0) {
		if (t->h && t->h->epfd >= 0)
			epoll_ctl(t->h->epfd, EPOLL_CTL_DEL, t->fd, NULL);
		close(t->fd);
	}
	t->fd = -1;
	t->phase = XLB_HCP_IDLE;
	t->len = 0;
}

void xlb_health_free(struct xlb_health *h)
{
	for (size_t i = 0; i < h->n; i++) {
		xlb_hc_abort(h->t[i]);
		free(h->t[i]);
	}
	free(h->t);
	h->t = NULL;
	h->n = 0;
	for (size_t i = 0; i < h->n_gone; i++)
		free(h->gone[i]);
	free(h->gone);
	h->gone = NULL;
	h->n_gone = 0;
}

/* Record the end of a check and schedule the next one. */
static void finish(struct xlb_hc_target *t, bool ok, const char *why)
{
	struct xlb_health *h = t->h;
	char reason[sizeof(t->reason)];

	xlb_hc_abort(t);
	t->checks++;
	h->checks++;
	if (!ok) {
		t->failures++;
		snprintf(t->reason, sizeof(t->reason), "%s", why);
	}
	if (!xlb_hc_sm_feed(&t->sm, t->cfg.rise, t->cfg.fall, ok))
		return;
	t->transitions++;
	h->transitions++;
	if (ok)
		snprintf(reason, sizeof(reason), "%u consecutive checks passed",
			 t->cfg.rise);
	else
		snprintf(reason, sizeof(reason), "%s", why);
	if (h->on_change)
		h->on_change(h->ctx, t, reason);
}

static void fail_errno(struct xlb_hc_target *t, const char *what, int err)
{
	char why[128];

	snprintf(why, sizeof(why), "%s: %s", what, strerror(err));
	finish(t, false, why);
}

static socklen_t to_sockaddr(const struct xlb_addr *a, uint16_t port,
			     struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == XLB_FAMILY_V6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a->a, 16);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	memcpy(&s4->sin_addr, &a->a[0], 4);
	return sizeof(*s4);
}

static int watch(struct xlb_hc_target *t, uint32_t events, int op)
{
	struct epoll_event e = { .events = events, .data.ptr = &t->ev };

	return epoll_ctl(t->h->epfd, op, t->fd, &e) ? -errno : 0;
}

static void http_send(struct xlb_hc_target *t);

/* What the check does once connected. */
static void connected(struct xlb_hc_target *t)
{
	if (t->cfg.type == XLB_HC_TCP) {
		finish(t, true, NULL);
		return;
	}
	bool v6 = t->addr.family == XLB_FAMILY_V6;
	char host[64];

	xlb_addr_str(&t->addr, host, sizeof(host));
	/* HTTP/1.0: the server closes after answering, no keep-alive state.
	 * Host: for servers that insist on one (virtual hosts). */
	t->len = (size_t)snprintf(t->buf, sizeof(t->buf),
				  "GET %s HTTP/1.0\r\nHost: %s%s%s\r\n"
				  "User-Agent: xlb-health\r\n"
				  "Connection: close\r\n\r\n",
				  t->cfg.path, v6 ? "[" : "", host,
				  v6 ? "]" : "");
	if (t->len >= sizeof(t->buf))
		t->len = sizeof(t->buf) - 1;
	t->phase = XLB_HCP_SEND;
	http_send(t);
}

static void http_send(struct xlb_hc_target *t)
{
	ssize_t w = send(t->fd, t->buf, t->len, MSG_NOSIGNAL);

	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		if (watch(t, EPOLLOUT, EPOLL_CTL_MOD))
			fail_errno(t, "epoll", errno);
		return;
	}
	if (w < 0) {
		fail_errno(t, "send", errno);
		return;
	}
	memmove(t->buf, t->buf + w, t->len - (size_t)w);
	t->len -= (size_t)w;
	if (t->len) {
		if (watch(t, EPOLLOUT, EPOLL_CTL_MOD))
			fail_errno(t, "epoll", errno);
		return;
	}
	t->phase = XLB_HCP_RECV;
	if (watch(t, EPOLLIN, EPOLL_CTL_MOD))
		fail_errno(t, "epoll", errno);
}

/* Judge the status line in t->buf: 1 ok, 0 failed (reason set), -1 more
 * bytes needed. */
static int http_judge(struct xlb_hc_target *t, bool eof, char *why, size_t len)
{
	char *nl = memchr(t->buf, '\n', t->len);
	unsigned int major, minor, status;

	if (!nl && !eof && t->len < sizeof(t->buf) - 1)
		return -1;
	t->buf[t->len] = '\0';
	if (nl)
		*nl = '\0';
	if (sscanf(t->buf, "HTTP/%u.%u %3u", &major, &minor, &status) != 3) {
		snprintf(why, len, "%s",
			 t->len ? "no HTTP status line in reply" :
				  "connection closed without reply");
		return 0;
	}
	if (status != t->cfg.expect_status) {
		snprintf(why, len, "HTTP status %u, expected %u", status,
			 t->cfg.expect_status);
		return 0;
	}
	return 1;
}

static void on_io(struct xlb_ev *ev, uint32_t events)
{
	struct xlb_hc_target *t = (struct xlb_hc_target *)ev;
	char why[128];
	ssize_t r;
	int err = 0;
	socklen_t el = sizeof(err);

	switch (t->phase) {
	case XLB_HCP_IDLE:
		return;
	case XLB_HCP_CONNECT:
		if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &el))
			err = errno;
		if (!err && (events & (EPOLLERR | EPOLLHUP)))
			err = ECONNRESET;
		if (err) {
			fail_errno(t, "connect", err);
			return;
		}
		connected(t);
		return;
	case XLB_HCP_SEND:
		http_send(t);
		return;
	case XLB_HCP_RECV:
		break;
	}
	if (t->cfg.type == XLB_HC_UDP) {
		r = recv(t->fd, t->buf, sizeof(t->buf) - 1, 0);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r < 0) {
			/* ECONNREFUSED: an ICMP port unreachable came back. */
			fail_errno(t, "recv", errno);
			return;
		}
		if (t->cfg.expect[0] &&
		    !memmem(t->buf, (size_t)r, t->cfg.expect,
			    strlen(t->cfg.expect))) {
			finish(t, false, "reply lacks the expected text");
			return;
		}
		finish(t, true, NULL);
		return;
	}
	for (;;) {
		int v;

		r = recv(t->fd, t->buf + t->len, sizeof(t->buf) - 1 - t->len,
			 0);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r < 0) {
			fail_errno(t, "recv", errno);
			return;
		}
		t->len += (size_t)r;
		v = http_judge(t, r == 0, why, sizeof(why));
		if (v < 0)
			continue;
		finish(t, v == 1, why);
		return;
	}
}

static void start(struct xlb_hc_target *t, uint64_t now)
{
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(&t->addr, t->cfg.port, &ss);
	bool udp = t->cfg.type == XLB_HC_UDP;
	int fd;

	t->next_ms = now + t->cfg.interval_ms;
	t->deadline_ms = now + t->cfg.timeout_ms;
	t->len = 0;
	fd = socket(ss.ss_family,
		    (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK |
			    SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		/* Out of descriptors or memory here says nothing about the
		 * backend: skip this round rather than take it out. */
		t->h->local_errors++;
		snprintf(t->reason, sizeof(t->reason),
			 "check not run: socket: %s", strerror(errno));
		return;
	}
	t->fd = fd;
	if (!udp) {
		/* Close with a reset: no TIME_WAIT left behind per check. */
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	t->phase = XLB_HCP_CONNECT;
	if (connect(fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) {
		fail_errno(t, "connect", errno);
		return;
	}
	if (udp) {
		if (send(fd, t->cfg.send, strlen(t->cfg.send), 0) < 0) {
			fail_errno(t, "send", errno);
			return;
		}
		t->phase = XLB_HCP_RECV;
		if (watch(t, EPOLLIN, EPOLL_CTL_ADD))
			fail_errno(t, "epoll", errno);
		return;
	}
	if (watch(t, EPOLLOUT, EPOLL_CTL_ADD))
		fail_errno(t, "epoll", errno);
}

uint64_t xlb_health_tick(struct xlb_health *h)
{
	uint64_t now = now_of(h), next = UINT64_MAX;

	for (size_t i = 0; i < h->n; i++) {
		struct xlb_hc_target *t = h->t[i];

		if (t->phase != XLB_HCP_IDLE && now >= t->deadline_ms)
			finish(t, false,
			       t->phase == XLB_HCP_CONNECT ?
				       "connect timeout" :
				       "response timeout");
		if (t->phase == XLB_HCP_IDLE && now >= t->next_ms)
			start(t, now);
		if (t->phase != XLB_HCP_IDLE && t->deadline_ms < next)
			next = t->deadline_ms;
		if (t->next_ms < next)
			next = t->next_ms;
	}
	return next;
}

static bool same_vip(const struct xlb_hc_target *t, const struct xlb_vip_cfg *v)
{
	return t->vip_port == v->port && t->vip_proto == v->proto &&
	       xlb_addr_eq(&t->vip_addr, &v->addr);
}

int xlb_health_configure(struct xlb_health *h, const struct xlb_config *cfg,
			 const struct xlb_hc_set *set)
{
	struct xlb_hc_target **nt = NULL, **gone = NULL;
	size_t n = 0, cap = 0, k = 0, n_gone = 0;
	/* kept[o]: h->t[o] (o < h->n) or h->gone[o - h->n] is taken */
	bool *kept = calloc(h->n + h->n_gone + 1, sizeof(*kept));
	uint64_t now = now_of(h);

	if (!kept)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_vips; i++)
		for (size_t j = 0; set && i < set->n_vips && j < set->n_be[i];
		     j++)
			cap += set->be[i][j].type != XLB_HC_NONE;
	nt = calloc(cap + 1, sizeof(*nt));
	if (!nt) {
		free(kept);
		return -ENOMEM;
	}
	/* First pass: allocate what is new, so failure changes nothing. */
	for (size_t i = 0; i < cfg->n_vips && set && i < set->n_vips; i++) {
		const struct xlb_vip_cfg *v = &cfg->vips[i];

		for (size_t j = 0; j < v->n_backends && j < set->n_be[i]; j++) {
			const struct xlb_hc_cfg *c = &set->be[i][j];
			struct xlb_hc_target *t = NULL;

			if (c->type == XLB_HC_NONE)
				continue;
			for (size_t o = 0; o < h->n + h->n_gone; o++) {
				struct xlb_hc_target *c =
					o < h->n ? h->t[o] : h->gone[o - h->n];

				if (kept[o] || !same_vip(c, v) ||
				    !xlb_addr_eq(&c->addr,
						 &v->backends[j].addr))
					continue;
				t = c;
				kept[o] = true;
				break;
			}
			if (!t) {
				t = calloc(1, sizeof(*t));
				if (!t)
					goto nomem;
				t->ev.fn = on_io;
				t->h = h;
				t->fd = -1;
				xlb_hc_sm_init(&t->sm);
				t->addr = v->backends[j].addr;
				t->vip_addr = v->addr;
				t->vip_port = v->port;
				t->vip_proto = v->proto;
				/* Spread first checks over one interval. */
				t->next_ms =
					now +
					(cap ? k * c->interval_ms / cap : 0);
				t->cfg = *c;
			} else if (memcmp(&t->cfg, c, sizeof(*c))) {
				xlb_hc_abort(t);
				t->next_ms = now;
			}
			k++;
			t->cfg = *c;
			t->vip = i;
			t->be = j;
			snprintf(t->vip_name, sizeof(t->vip_name), "%s",
				 v->name);
			nt[n++] = t;
		}
	}
	/* Dropped now: idle, kept until the next configure. Dropped the
	 * time before and not taken back: freed. */
	gone = calloc(h->n + 1, sizeof(*gone));
	if (!gone)
		goto nomem;
	for (size_t o = 0; o < h->n; o++) {
		if (kept[o])
			continue;
		xlb_hc_abort(h->t[o]);
		gone[n_gone++] = h->t[o];
	}
	for (size_t o = 0; o < h->n_gone; o++)
		if (!kept[h->n + o])
			free(h->gone[o]);
	free(kept);
	free(h->gone);
	h->gone = gone;
	h->n_gone = n_gone;
	free(h->t);
	h->t = nt;
	h->n = n;
	return 0;
nomem:
	for (size_t i = 0; i < n; i++) {
		bool old = false;

		for (size_t o = 0; o < h->n; o++)
			old |= h->t[o] == nt[i];
		for (size_t o = 0; o < h->n_gone; o++)
			old |= h->gone[o] == nt[i];
		if (!old)
			free(nt[i]);
	}
	free(nt);
	free(kept);
	return -ENOMEM;
}

static const struct xlb_hc_target *find(const struct xlb_health *h, size_t vip,
					size_t be)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->t[i]->vip == vip && h->t[i]->be == be)
			return h->t[i];
	return NULL;
}

bool xlb_health_up(const struct xlb_health *h, size_t vip, size_t be)
{
	const struct xlb_hc_target *t = find(h, vip, be);

	return !t || t->sm.up;
}

void xlb_health_effective_free(struct xlb_config *c)
{
	for (size_t i = 0; c->vips && i < c->n_vips; i++)
		free(c->vips[i].backends);
	free(c->vips);
	c->vips = NULL;
	c->n_vips = 0;
}

int xlb_health_effective(const struct xlb_health *h,
			 const struct xlb_config *in, struct xlb_config *out)
{
	*out = *in;
	out->vips = calloc(in->n_vips + 1, sizeof(*out->vips));
	if (!out->vips)
		return -ENOMEM;
	for (size_t i = 0; i < in->n_vips; i++) {
		const struct xlb_vip_cfg *v = &in->vips[i];
		struct xlb_vip_cfg *w = &out->vips[i];

		*w = *v;
		w->backends = calloc(v->n_backends + 1, sizeof(*w->backends));
		if (!w->backends) {
			out->n_vips = i;
			xlb_health_effective_free(out);
			return -ENOMEM;
		}
		memcpy(w->backends, v->backends,
		       v->n_backends * sizeof(*w->backends));
	}
	for (size_t i = 0; i < h->n; i++) {
		const struct xlb_hc_target *t = h->t[i];

		if (t->sm.up || t->vip >= out->n_vips ||
		    t->be >= out->vips[t->vip].n_backends)
			continue;
		/* Down, not drain: a dead backend cannot finish its flows. */
		out->vips[t->vip].backends[t->be].state = XLB_BE_STATE_DOWN;
	}
	return 0;
}

/* ---- YAML ----------------------------------------------------------------- */

void xlb_y_err(struct xlb_diag *diag, const char *name, const yaml_node_t *at,
	       const char *fmt, ...)
{
	char body[512], *text = NULL, **m;
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (at)
		r = asprintf(&text, "%s:%zu:%zu: error: %s", name,
			     at->start_mark.line + 1, at->start_mark.column + 1,
			     body);
	else
		r = asprintf(&text, "%s: error: %s", name, body);
	if (r < 0 || !diag) {
		if (r >= 0)
			free(text);
		return;
	}
	m = realloc(diag->msgs, (diag->n + 1) * sizeof(*m));
	if (!m) {
		free(text);
		return;
	}
	diag->msgs = m;
	diag->msgs[diag->n++] = text;
}

static bool y_is(const yaml_node_t *n, const char *s)
{
	return n && n->type == YAML_SCALAR_NODE &&
	       n->data.scalar.length == strlen(s) &&
	       !memcmp(n->data.scalar.value, s, n->data.scalar.length);
}

yaml_node_t *xlb_y_get(yaml_document_t *d, yaml_node_t *map, const char *key,
		       yaml_node_t **keynode)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);

		if (!y_is(k, key))
			continue;
		if (keynode)
			*keynode = k;
		return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

int xlb_y_uint(struct xlb_diag *diag, const char *name, yaml_node_t *n,
	       const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
	char buf[32], *end;
	unsigned long long v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.length == 0 ||
	    n->data.scalar.length >= sizeof(buf)) {
		xlb_y_err(diag, name, n,
			  "%s must be a whole number from %llu to %llu", key,
			  (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	memcpy(buf, n->data.scalar.value, n->data.scalar.length);
	buf[n->data.scalar.length] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || *end || buf[0] == '-' || v < min || v > max) {
		xlb_y_err(
			diag, name, n,
			"%s is '%s'; it must be a whole number from %llu to %llu",
			key, buf, (unsigned long long)min,
			(unsigned long long)max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int xlb_y_str(struct xlb_diag *diag, const char *name, yaml_node_t *n,
	      const char *key, char *buf, size_t len)
{
	if (n->type != YAML_SCALAR_NODE) {
		xlb_y_err(diag, name, n, "%s must be a text value", key);
		return -EINVAL;
	}
	if (n->data.scalar.length >= len ||
	    memchr(n->data.scalar.value, '\0', n->data.scalar.length)) {
		xlb_y_err(diag, name, n,
			  "%s is too long (%zu bytes); at most %zu are allowed",
			  key, n->data.scalar.length, len - 1);
		return -EINVAL;
	}
	memcpy(buf, n->data.scalar.value, n->data.scalar.length);
	buf[n->data.scalar.length] = '\0';
	return 0;
}

static const char *const hc_keys[] = { "type",		"port",	      "path",
				       "expect_status", "send",	      "expect",
				       "interval_ms",	"timeout_ms", "rise",
				       "fall",		NULL };

/* Overlay the keys of one health_check: mapping on @c. */
static int hc_block(yaml_document_t *d, const char *name, yaml_node_t *map,
		    struct xlb_hc_cfg *c, struct xlb_diag *diag)
{
	int errs = 0;
	uint64_t v;

	if (map->type != YAML_MAPPING_NODE) {
		xlb_y_err(
			diag, name, map,
			"health_check must be a mapping (type:, port:, interval_ms:, ...)");
		return 1;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		yaml_node_t *val = yaml_document_get_node(d, p->value);
		char word[16] = "";
		int i;

		for (i = 0; hc_keys[i]; i++)
			if (y_is(k, hc_keys[i]))
				break;
		if (!hc_keys[i]) {
			char kw[40] = "?";

			xlb_y_str(NULL, name, k, "key", kw, sizeof(kw));
			xlb_y_err(
				diag, name, k,
				"unknown key '%s' in health_check; allowed: type, port, path, expect_status, send, expect, interval_ms, timeout_ms, rise, fall",
				kw);
			errs++;
			continue;
		}
		switch (i) {
		case 0: {
			int t = 0;

			if (xlb_y_str(NULL, name, val, "type", word,
				      sizeof(word)) == 0)
				for (t = 0; hc_types[t]; t++)
					if (!strcmp(word, hc_types[t]))
						break;
			if (!word[0] || !hc_types[t]) {
				xlb_y_err(
					diag, name, val,
					"health_check type must be tcp, http, udp or none");
				errs++;
				break;
			}
			c->type = (uint8_t)t;
			break;
		}
		case 1:
			if (xlb_y_uint(diag, name, val, "port", 1, 65535, &v))
				errs++;
			else
				c->port = (uint16_t)v;
			break;
		case 2:
			if (xlb_y_str(diag, name, val, "path", c->path,
				      sizeof(c->path))) {
				errs++;
			} else if (c->path[0] != '/' ||
				   strpbrk(c->path, " \r\n\t")) {
				xlb_y_err(
					diag, name, val,
					"path must start with '/' and hold no spaces or line breaks (encode them as %%20)");
				errs++;
			}
			break;
		case 3:
			if (xlb_y_uint(diag, name, val, "expect_status", 100,
				       599, &v))
				errs++;
			else
				c->expect_status = (uint16_t)v;
			break;
		case 4:
			errs += !!xlb_y_str(diag, name, val, "send", c->send,
					    sizeof(c->send));
			break;
		case 5:
			errs += !!xlb_y_str(diag, name, val, "expect",
					    c->expect, sizeof(c->expect));
			break;
		case 6:
			if (xlb_y_uint(diag, name, val, "interval_ms",
				       XLB_HC_INTERVAL_MIN_MS, 3600000, &v))
				errs++;
			else
				c->interval_ms = (uint32_t)v;
			break;
		case 7:
			if (xlb_y_uint(diag, name, val, "timeout_ms", 1,
				       3600000, &v))
				errs++;
			else
				c->timeout_ms = (uint32_t)v;
			break;
		case 8:
		case 9:
			if (xlb_y_uint(diag, name, val, hc_keys[i], 1, 1000,
				       &v))
				errs++;
			else if (i == 8)
				c->rise = (uint16_t)v;
			else
				c->fall = (uint16_t)v;
			break;
		}
	}
	return errs;
}

/* Checks that need the whole block: port known, timeout in interval. */
static int hc_finish(const char *name, yaml_node_t *at,
		     const struct xlb_vip_cfg *v, struct xlb_hc_cfg *c,
		     struct xlb_diag *diag)
{
	int errs = 0;

	if (c->type == XLB_HC_NONE)
		return 0;
	if (!c->port)
		c->port = v->port;
	if (!c->port) {
		xlb_y_err(
			diag, name, at,
			"health_check of VIP '%s' needs a port: the VIP serves every port, so give port: N",
			v->name);
		errs++;
	}
	if (c->timeout_ms > c->interval_ms) {
		xlb_y_err(
			diag, name, at,
			"health_check timeout_ms (%u) is longer than interval_ms (%u); make the timeout at most the interval",
			c->timeout_ms, c->interval_ms);
		errs++;
	}
	return errs;
}

/* A UDP service rarely listens on TCP: the tcp default would take every
 * backend out. Make the operator say what to check. */
static int udp_needs_type(const char *name, yaml_node_t *at,
			  const struct xlb_vip_cfg *v, struct xlb_diag *diag)
{
	xlb_y_err(
		diag, name, at,
		"health_check of UDP VIP '%s' needs a type: udp (with send:/expect: the service answers), or tcp/http on a port the backends serve over TCP",
		v->name);
	return 1;
}

/* The items of a sequence, or the values of a mapping, in order. */
static size_t y_items(yaml_document_t *d, yaml_node_t *n, yaml_node_t **out,
		      size_t max)
{
	size_t k = 0;

	if (n && n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top && k < max; it++)
			out[k++] = yaml_document_get_node(d, *it);
	} else if (n && n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top && k < max; p++)
			out[k++] = yaml_document_get_node(d, p->value);
	}
	return k;
}

int xlb_hc_parse(yaml_document_t *d, const char *name,
		 const struct xlb_config *cfg, struct xlb_hc_set *set,
		 struct xlb_diag *diag)
{
	yaml_node_t *root = yaml_document_get_root_node(d);
	yaml_node_t *vips = xlb_y_get(d, root, "vips", NULL);
	yaml_node_t **vn = NULL, **bn = NULL;
	size_t nv;
	int errs = 0;

	memset(set, 0, sizeof(*set));
	set->n_be = calloc(cfg->n_vips + 1, sizeof(*set->n_be));
	set->be = calloc(cfg->n_vips + 1, sizeof(*set->be));
	vn = calloc(cfg->n_vips + 1, sizeof(*vn));
	if (!set->n_be || !set->be || !vn)
		goto nomem;
	set->n_vips = cfg->n_vips;
	nv = y_items(d, vips, vn, cfg->n_vips);
	for (size_t i = 0; i < cfg->n_vips; i++) {
		const struct xlb_vip_cfg *v = &cfg->vips[i];
		yaml_node_t *vhc = NULL, *be = NULL, *vkey = NULL;
		struct xlb_hc_cfg base;
		size_t nb;

		set->be[i] = calloc(v->n_backends + 1, sizeof(**set->be));
		if (!set->be[i])
			goto nomem;
		set->n_be[i] = v->n_backends;
		xlb_hc_defaults(&base);
		if (i < nv) {
			vhc = xlb_y_get(d, vn[i], "health_check", &vkey);
			be = xlb_y_get(d, vn[i], "backends", NULL);
		}
		if (vhc && v->proto == IPPROTO_UDP &&
		    !xlb_y_get(d, vhc, "type", NULL))
			errs += udp_needs_type(name, vkey, v, diag);
		if (vhc) {
			/* A block without type: means tcp. */
			base.type = XLB_HC_TCP;
			errs += hc_block(d, name, vhc, &base, diag);
			struct xlb_hc_cfg chk = base;

			errs += hc_finish(name, vkey, v, &chk, diag);
		}
		free(bn);
		bn = calloc(v->n_backends + 1, sizeof(*bn));
		if (!bn)
			goto nomem;
		nb = y_items(d, be, bn, v->n_backends);
		for (size_t j = 0; j < v->n_backends; j++) {
			struct xlb_hc_cfg *c = &set->be[i][j];
			yaml_node_t *bkey = NULL;
			yaml_node_t *bhc =
				j < nb ? xlb_y_get(d, bn[j], "health_check",
						   &bkey) :
					 NULL;

			*c = base;
			if (!bhc) {
				struct xlb_diag quiet = { 0 };

				/* Errors of the VIP's block were reported. */
				hc_finish(name, vhc, v, c, &quiet);
				xlb_diag_free(&quiet);
				continue;
			}
			if (c->type == XLB_HC_NONE)
				c->type = XLB_HC_TCP;
			if (!vhc && v->proto == IPPROTO_UDP &&
			    !xlb_y_get(d, bhc, "type", NULL))
				errs += udp_needs_type(name, bkey, v, diag);
			errs += hc_block(d, name, bhc, c, diag);
			errs += hc_finish(name, bkey, v, c, diag);
		}
	}
	free(bn);
	free(vn);
	return errs;
nomem:
	free(bn);
	free(vn);
	xlb_hc_set_free(set);
	return -ENOMEM;
}
