/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Announcing VIPs through BIRD: which prefixes, the include file that
 * holds them, and BIRD's control-socket protocol for "configure". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "bgp.h"
#include "diff.h"
#include "service.h"

void xlb_bgp_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int xlb_bgp_prefixes(const struct xlb_config *eff, bool attached, char ***out)
{
	char **v = calloc(eff->n_vips + 1, sizeof(*v));
	size_t n = 0, k = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; attached && i < eff->n_vips; i++) {
		const struct xlb_vip_cfg *vip = &eff->vips[i];
		char a[64];
		bool usable = false;

		for (size_t j = 0; j < vip->n_backends && !usable; j++)
			usable = xlb_backend_ring_weight(&vip->backends[j]) > 0;
		if (!usable)
			continue;
		xlb_addr_str(&vip->addr, a, sizeof(a));
		if (asprintf(&v[n], "%s/%d", a,
			     vip->addr.family == XLB_FAMILY_V6 ? 128 : 32) <
		    0) {
			xlb_bgp_strv_free(v, n);
			return -ENOMEM;
		}
		n++;
	}
	qsort(v, n, sizeof(*v), cmp_str);
	/* Several VIPs (ports) share an address: announce it once. */
	for (size_t i = 0; i < n; i++) {
		if (k && !strcmp(v[k - 1], v[i])) {
			free(v[i]);
			continue;
		}
		v[k++] = v[i];
	}
	*out = v;
	return (int)k;
}

char *xlb_bgp_render(char *const *prefixes, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f,
		"# Written by xlb (xlbctl run): the VIPs this balancer "
		"serves now.\n# Do not edit: it is replaced on every "
		"change. Export with\n#   export where proto = \"%s\" || "
		"proto = \"%s\";\n",
		XLB_BIRD_PROTO4, XLB_BIRD_PROTO6);
	for (int fam = 4; fam <= 6; fam += 2) {
		fprintf(f, "protocol static %s {\n\tipv%d;\n",
			fam == 4 ? XLB_BIRD_PROTO4 : XLB_BIRD_PROTO6, fam);
		for (size_t i = 0; i < n; i++)
			if ((strchr(prefixes[i], ':') != NULL) == (fam == 6))
				fprintf(f, "\troute %s blackhole;\n",
					prefixes[i]);
		fprintf(f, "}\n");
	}
	if (fclose(f))
		return NULL;
	return buf;
}

int xlb_write_atomic(const char *path, const char *data, size_t len)
{
	char tmp[4200];
	int fd, err = 0;
	size_t off = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/**
 * take_final - consume the complete lines in @buf up to BIRD's final one
 * ("NNNN text"; continuation lines are "NNNN-text" or " text")
 * Returns the final code, or -1 if more bytes are needed; the text of the
 * last coded line is left in @msg.
 */
static int take_final(char *buf, size_t *have, size_t cap, char *msg,
		      size_t len)
{
	char *nl;

	while ((nl = memchr(buf, '\n', *have))) {
		size_t ll = (size_t)(nl - buf);
		bool final = false;
		int code = -1;

		*nl = '\0';
		if (ll >= 5 && buf[0] >= '0' && buf[0] <= '9') {
			code = atoi(buf);
			final = buf[4] == ' ';
			snprintf(msg, len, "%s", buf + 5);
		}
		memmove(buf, nl + 1, *have - ll - 1);
		*have -= ll + 1;
		if (final)
			return code;
	}
	if (*have == cap)
		*have = 0; /* a line this long is not BIRD's: skip it */
	return -1;
}

/* Read until BIRD's final line; returns its code or -errno. */
static int bird_reply(int fd, uint64_t deadline, char *msg, size_t len)
{
	char buf[4096];
	size_t have = 0;

	for (;;) {
		int code = take_final(buf, &have, sizeof(buf), msg, len);
		uint64_t now = mono_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (code >= 0)
			return code;
		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r ? -errno : -ETIMEDOUT;
		r = read(fd, buf + have, sizeof(buf) - have);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return r ? -errno : -ECONNRESET;
		have += (size_t)r;
	}
}

/* 0003 Reconfigured, 0004 in progress, 0005 queued: taken. 8xxx and
 * 9xxx are errors (a syntax error in BIRD's config: fix it, then the
 * next retry succeeds). */
static bool configure_taken(int code)
{
	return code >= 3 && code <= 5;
}

int xlb_bird_configure(const char *sock, int timeout_ms, char *msg, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = mono_ms() + (uint64_t)timeout_ms;
	static const char cmd[] = "configure\n";
	int fd, code;

	msg[0] = '\0';
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		snprintf(msg, len, "socket path %s is too long", sock);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		snprintf(
			msg, len,
			"cannot connect to BIRD at %s: %s; is bird running with -s %s?",
			sock, strerror(e), sock);
		close(fd);
		return -e;
	}
	/* Greeting: "0001 BIRD 2.0.12 ready." */
	code = bird_reply(fd, deadline, msg, len);
	if (code == 1) {
		if (send(fd, cmd, sizeof(cmd) - 1, MSG_NOSIGNAL) !=
		    sizeof(cmd) - 1)
			code = -errno;
		else
			code = bird_reply(fd, deadline, msg, len);
	} else if (code >= 0) {
		code = -EPROTO;
	}
	close(fd);
	if (code < 0) {
		if (!msg[0] || code == -ETIMEDOUT || code == -ECONNRESET)
			snprintf(msg, len, "BIRD at %s: %s", sock,
				 strerror(-code));
		return code;
	}
	return configure_taken(code) ? 0 : -EINVAL;
}

/* ---- Asynchronous "configure" on the caller's epoll loop ------------------ */

void xlb_bgp_init(struct xlb_bgp *b)
{
	memset(b, 0, sizeof(*b));
	b->epfd = -1;
	b->fd = -1;
}

void xlb_bgp_abort(struct xlb_bgp *b)
{
	if (b->fd >= 0) {
		epoll_ctl(b->epfd, EPOLL_CTL_DEL, b->fd, NULL);
		close(b->fd);
	}
	b->fd = -1;
	b->greeted = false;
	b->rlen = 0;
}

static int async_start(struct xlb_bgp *b);

/* The conversation ended with @err (0: BIRD took the file). */
static void async_end(struct xlb_bgp *b, int err)
{
	xlb_bgp_abort(b);
	if (err)
		b->again =
			false; /* still pending: the retry sends the latest */
	if (!err && b->again) {
		/* BIRD may have read the file before its last change. */
		b->again = false;
		err = async_start(b);
		if (!err)
			return;
	}
	if (!err)
		b->pending = false;
	if (b->done)
		b->done(b->ctx, b, err);
}

static void async_io(struct xlb_ev *ev, uint32_t events)
{
	static const char cmd[] = "configure\n";
	struct xlb_bgp *b = (struct xlb_bgp *)ev;
	char msg[sizeof(b->err)];
	ssize_t r;
	int code;

	r = read(b->fd, b->rbuf + b->rlen, sizeof(b->rbuf) - b->rlen);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		int e = r ? errno : ECONNRESET;

		snprintf(b->err, sizeof(b->err), "BIRD at %s: %s", b->socket,
			 strerror(e));
		async_end(b, -e);
		return;
	}
	b->rlen += (size_t)r;
	msg[0] = '\0';
	code = take_final(b->rbuf, &b->rlen, sizeof(b->rbuf), msg, sizeof(msg));
	if (code < 0)
		return;
	if (!b->greeted) {
		/* "0001 BIRD 2.0.12 ready." A short line to a local socket
		 * that just spoke: the write does not block. */
		if (code != 1 || send(b->fd, cmd, sizeof(cmd) - 1,
				      MSG_NOSIGNAL) != sizeof(cmd) - 1) {
			snprintf(b->err, sizeof(b->err),
				 "BIRD at %s: unexpected greeting '%s'",
				 b->socket, msg);
			async_end(b, -EPROTO);
			return;
		}
		b->greeted = true;
		return;
	}
	if (configure_taken(code)) {
		b->err[0] = '\0';
		async_end(b, 0);
		return;
	}
	snprintf(b->err, sizeof(b->err), "%s", msg);
	async_end(b, -EINVAL);
}

static int async_start(struct xlb_bgp *b)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &b->ev };
	int err;

	b->ev.fn = async_io;
	if (strlen(b->socket) >= sizeof(sa.sun_path)) {
		snprintf(b->err, sizeof(b->err), "socket path %s is too long",
			 b->socket);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, b->socket);
	b->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (b->fd < 0)
		return -errno;
	/* A local stream socket connects at once (or fails at once). */
	if (connect(b->fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    errno != EINPROGRESS && errno != EAGAIN) {
		err = -errno;
		snprintf(
			b->err, sizeof(b->err),
			"cannot connect to BIRD at %s: %s; is bird running with -s %s?",
			b->socket, strerror(-err), b->socket);
		xlb_bgp_abort(b);
		return err;
	}
	if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->fd, &e)) {
		err = -errno;
		snprintf(b->err, sizeof(b->err), "epoll: %s", strerror(-err));
		xlb_bgp_abort(b);
		return err;
	}
	b->deadline_ms = mono_ms() + XLB_BIRD_TIMEOUT_MS;
	return 0;
}

void xlb_bgp_expire(struct xlb_bgp *b, uint64_t now_ms)
{
	if (b->fd < 0 || now_ms < b->deadline_ms)
		return;
	snprintf(b->err, sizeof(b->err),
		 "BIRD at %s did not answer \"configure\" within %d ms",
		 b->socket, XLB_BIRD_TIMEOUT_MS);
	async_end(b, -ETIMEDOUT);
}

void xlb_bgp_free(struct xlb_bgp *b)
{
	if (!b)
		return;
	xlb_bgp_abort(b);
	free(b->written);
	xlb_bgp_strv_free(b->prefixes, b->n_prefixes);
	b->written = NULL;
	b->prefixes = NULL;
	b->n_prefixes = 0;
}

/* Log the prefixes in @a that are not in @b (both sorted). */
static void log_diff(char **a, size_t na, char **b, size_t nb,
		     const char *event)
{
	size_t j = 0;

	for (size_t i = 0; i < na; i++) {
		while (j < nb && strcmp(b[j], a[i]) < 0)
			j++;
		if (j < nb && !strcmp(b[j], a[i]))
			continue;
		xlb_slog(event, "prefix", a[i], NULL);
	}
}

int xlb_bgp_sync(struct xlb_bgp *b, const struct xlb_config *eff, bool attached,
		 char *err, size_t errlen)
{
	char **p = NULL, *text, msg[512];
	bool wrote = false;
	int n, r;

	err[0] = '\0';
	n = xlb_bgp_prefixes(eff, attached, &p);
	if (n < 0)
		return n;
	text = xlb_bgp_render(p, (size_t)n);
	if (!text) {
		xlb_bgp_strv_free(p, (size_t)n);
		return -ENOMEM;
	}
	if (!b->written || strcmp(text, b->written)) {
		r = xlb_write_atomic(b->include, text, strlen(text));
		if (r) {
			snprintf(
				err, errlen,
				"cannot write the BIRD include file %s: %s; check that its directory exists and is writable",
				b->include, strerror(-r));
			b->pending = true; /* housekeeping tries again */
			free(text);
			xlb_bgp_strv_free(p, (size_t)n);
			return r;
		}
		free(b->written);
		b->written = text;
		text = NULL;
		log_diff(p, (size_t)n, b->prefixes, b->n_prefixes,
			 "bgp_announce");
		log_diff(b->prefixes, b->n_prefixes, p, (size_t)n,
			 "bgp_withdraw");
		xlb_bgp_strv_free(b->prefixes, b->n_prefixes);
		b->prefixes = p;
		b->n_prefixes = (size_t)n;
		p = NULL;
		b->pending = true;
		wrote = true;
	}
	free(text);
	xlb_bgp_strv_free(p, p ? (size_t)n : 0);
	if (!b->pending)
		return 0;
	if (b->epfd >= 0) {
		if (b->fd >= 0) {
			/* BIRD may be reading the old file: once more after. */
			b->again |= wrote;
			return 0;
		}
		r = async_start(b);
		if (r)
			snprintf(err, errlen, "%s", b->err);
		return r;
	}
	r = xlb_bird_configure(b->socket, XLB_BIRD_TIMEOUT_MS, msg,
			       sizeof(msg));
	if (r) {
		snprintf(err, errlen, "BIRD did not take the new routes: %s",
			 msg);
		return r;
	}
	b->pending = false;
	return 0;
}
