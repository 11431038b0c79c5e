/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A tiny non-blocking HTTP/1.0 server on the service's epoll loop:
 * GET /metrics answers with the Prometheus text exposition. */
#ifndef XLB_METRICS_HTTP_H
#define XLB_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* Writes the page body; returns 0 or -errno (then 500 is sent). */
typedef int (*xlb_metrics_render_fn)(void *ctx, FILE *out);

/* Scrapes in flight; a connection past them is closed at once (the
 * scraper retries), and one idle for XLB_METRICS_CLIENT_MS is dropped. */
#define XLB_METRICS_MAX_CLIENTS 32
/* A client idle that long (no request yet, or not reading the answer)
 * is dropped (ms): a slow peer cannot pin a slot. */
#define XLB_METRICS_CLIENT_MS 5000

struct xlb_metrics_srv;

/**
 * xlb_metrics_parse_listen - "127.0.0.1:9100", "[::1]:9100", ":9100"
 * (every address) into a socket address. Returns 0 or -EINVAL.
 */
int xlb_metrics_parse_listen(const char *s, struct sockaddr_storage *ss,
			     socklen_t *len);

/**
 * xlb_metrics_open - listen on @listen and serve from @epfd's loop
 * Returns 0 or -errno with the reason (and the remedy) in @err.
 */
int xlb_metrics_open(struct xlb_metrics_srv **out, int epfd, const char *listen,
		     xlb_metrics_render_fn fn, void *ctx, char *err,
		     size_t errlen);

/* Drop clients idle past XLB_METRICS_CLIENT_MS; call about every second. */
void xlb_metrics_expire(struct xlb_metrics_srv *m, uint64_t now_ms);

/* The address it listens on (to learn the port after ":0"). */
int xlb_metrics_port(const struct xlb_metrics_srv *m);

void xlb_metrics_close(struct xlb_metrics_srv *m);

#endif /* XLB_METRICS_HTTP_H */
