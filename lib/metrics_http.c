/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The metrics endpoint: accept, read one request, write one answer,
 * close; every socket non-blocking on the service's epoll loop. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "health.h"
#include "metrics_http.h"

/* Largest request read: a GET line and a few headers. */
#define REQ_MAX 4096

struct client {
	struct xlb_ev ev;
	struct xlb_metrics_srv *m;
	int fd;
	uint64_t since_ms; /* accepted, or last wrote something */
	char req[REQ_MAX + 1];
	size_t req_len;
	char *out; /* answer, when writing */
	size_t out_len, out_off;
};

struct xlb_metrics_srv {
	struct xlb_ev ev;
	int epfd, fd, port;
	xlb_metrics_render_fn fn;
	void *ctx;
	struct client *cl[XLB_METRICS_MAX_CLIENTS];
	bool paused; /* out of descriptors: listener off until expire() */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int xlb_metrics_parse_listen(const char *s, struct sockaddr_storage *ss,
			     socklen_t *len)
{
	char host[128];
	const char *colon, *port_s;
	char *end;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		port_s = rb + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port_s = colon + 1;
	}
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (!port_s[0] || *end || errno || port > 65535)
		return -EINVAL;
	if (!host[0] || strchr(host, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (host[0] && inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -EINVAL;
		*len = sizeof(*a);
		return 0;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
		return -EINVAL;
	*len = sizeof(*a);
	return 0;
}

static void client_close(struct client *c)
{
	struct xlb_metrics_srv *m = c->m;

	for (size_t i = 0; i < XLB_METRICS_MAX_CLIENTS; i++)
		if (m->cl[i] == c)
			m->cl[i] = NULL;
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
}

static void respond(struct client *c, int status, const char *reason,
		    const char *ctype, const char *body, size_t blen, bool head)
{
	char *out = NULL;
	size_t olen = 0;
	FILE *f = open_memstream(&out, &olen);
	struct epoll_event e = { .events = EPOLLOUT, .data.ptr = &c->ev };

	if (!f) {
		client_close(c);
		return;
	}
	fprintf(f,
		"HTTP/1.0 %d %s\r\nContent-Type: %s\r\n"
		"Content-Length: %zu\r\nConnection: close\r\n\r\n",
		status, reason, ctype, blen);
	if (!head)
		fwrite(body, 1, blen, f);
	if (fclose(f)) {
		client_close(c);
		return;
	}
	c->out = out;
	c->out_len = olen;
	c->out_off = 0;
	if (epoll_ctl(c->m->epfd, EPOLL_CTL_MOD, c->fd, &e))
		client_close(c);
}

static void plain(struct client *c, int status, const char *reason,
		  const char *text, bool head)
{
	respond(c, status, reason, "text/plain; charset=utf-8", text,
		strlen(text), head);
}

/* A whole request is in c->req: answer it. */
static void handle(struct client *c)
{
	char method[16], target[256];
	char *body = NULL;
	size_t blen = 0;
	FILE *f;
	bool head;
	int r;

	if (sscanf(c->req, "%15s %255s HTTP/%*u.%*u", method, target) != 2) {
		plain(c, 400, "Bad Request", "malformed request line\n", false);
		return;
	}
	head = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !head) {
		plain(c, 405, "Method Not Allowed", "only GET and HEAD\n",
		      false);
		return;
	}
	/* Prometheus may add a query string; the page has no parameters. */
	target[strcspn(target, "?")] = '\0';
	if (strcmp(target, "/metrics")) {
		plain(c, 404, "Not Found",
		      "not found; metrics are at /metrics\n", head);
		return;
	}
	f = open_memstream(&body, &blen);
	if (!f) {
		plain(c, 500, "Internal Server Error", "out of memory\n", head);
		return;
	}
	r = c->m->fn(c->m->ctx, f);
	if (fclose(f) || r) {
		free(body);
		plain(c, 500, "Internal Server Error",
		      "cannot read the counters; see the service log\n", head);
		return;
	}
	respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body,
		blen, head);
	free(body);
}

static void client_io(struct xlb_ev *ev, uint32_t events)
{
	struct client *c = (struct client *)ev;
	ssize_t r;

	if (c->out) {
		while (c->out_off < c->out_len) {
			r = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return;
			if (r <= 0) {
				client_close(c);
				return;
			}
			c->out_off += (size_t)r;
			c->since_ms = mono_ms(); /* progress: not idle */
		}
		/* All sent: HTTP/1.0, the close ends the body. */
		shutdown(c->fd, SHUT_WR);
		client_close(c);
		return;
	}
	for (;;) {
		r = recv(c->fd, c->req + c->req_len, REQ_MAX - c->req_len, 0);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			client_close(c);
			return;
		}
		c->req_len += (size_t)r;
		c->req[c->req_len] = '\0';
		if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n")) {
			handle(c);
			return;
		}
		if (c->req_len == REQ_MAX) {
			plain(c, 431, "Request Header Fields Too Large",
			      "request too large\n", false);
			return;
		}
	}
}

static void on_accept(struct xlb_ev *ev, uint32_t events)
{
	struct xlb_metrics_srv *m = (struct xlb_metrics_srv *)ev;

	for (;;) {
		int fd = accept4(m->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event e = { .events = EPOLLIN };
		struct client *c;
		size_t i;

		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM: the connection
			 * stays queued and the listener readable; watching it
			 * would spin the loop. Off until the next expire(),
			 * a second away, when clients may have gone. */
			struct epoll_event off = { .data.ptr = &m->ev };

			if (!epoll_ctl(m->epfd, EPOLL_CTL_MOD, m->fd, &off))
				m->paused = true;
			return;
		}
		if (fd < 0)
			return;
		for (i = 0; i < XLB_METRICS_MAX_CLIENTS && m->cl[i]; i++)
			;
		c = i < XLB_METRICS_MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			close(fd); /* full: the scraper retries */
			continue;
		}
		c->ev.fn = client_io;
		c->m = m;
		c->fd = fd;
		c->since_ms = mono_ms();
		e.data.ptr = &c->ev;
		if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &e)) {
			close(fd);
			free(c);
			continue;
		}
		m->cl[i] = c;
	}
}

int xlb_metrics_open(struct xlb_metrics_srv **out, int epfd,
		     const char *listen_on, xlb_metrics_render_fn fn, void *ctx,
		     char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct xlb_metrics_srv *m;
	struct epoll_event e = { .events = EPOLLIN };
	int one = 1, r;

	if (xlb_metrics_parse_listen(listen_on, &ss, &sl)) {
		snprintf(
			err, errlen,
			"metrics_listen '%s' is not ADDRESS:PORT (e.g. 127.0.0.1:9100, [::1]:9100, :9100)",
			listen_on);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->ev.fn = on_accept;
	m->epfd = epfd;
	m->fn = fn;
	m->ctx = ctx;
	m->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	if (m->fd < 0)
		goto fail;
	setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(m->fd, (struct sockaddr *)&ss, sl) || listen(m->fd, 64))
		goto fail;
	if (getsockname(m->fd, (struct sockaddr *)&ss, &sl))
		goto fail;
	m->port = ntohs(ss.ss_family == AF_INET6 ?
				((struct sockaddr_in6 *)&ss)->sin6_port :
				((struct sockaddr_in *)&ss)->sin_port);
	e.data.ptr = &m->ev;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, m->fd, &e))
		goto fail;
	*out = m;
	return 0;
fail:
	r = -errno;
	snprintf(
		err, errlen,
		"cannot listen on %s for metrics: %s; pick a free address with service: metrics_listen:",
		listen_on, strerror(errno));
	if (m->fd >= 0)
		close(m->fd);
	free(m);
	return r;
}

int xlb_metrics_port(const struct xlb_metrics_srv *m)
{
	return m->port;
}

void xlb_metrics_expire(struct xlb_metrics_srv *m, uint64_t now_ms)
{
	for (size_t i = 0; m && i < XLB_METRICS_MAX_CLIENTS; i++)
		if (m->cl[i] &&
		    now_ms - m->cl[i]->since_ms > XLB_METRICS_CLIENT_MS)
			client_close(m->cl[i]);
	if (m && m->paused) {
		struct epoll_event on = { .events = EPOLLIN,
					  .data.ptr = &m->ev };

		if (!epoll_ctl(m->epfd, EPOLL_CTL_MOD, m->fd, &on))
			m->paused = false;
	}
}

void xlb_metrics_close(struct xlb_metrics_srv *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < XLB_METRICS_MAX_CLIENTS; i++)
		if (m->cl[i])
			client_close(m->cl[i]);
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, m->fd, NULL);
	close(m->fd);
	free(m);
}
