/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Announcing VIPs through BIRD: a generated include file of static routes
 * and a "configure" on BIRD's control socket whenever it changes. */
#ifndef XLB_BGP_H
#define XLB_BGP_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "health.h"

/* Names of the static protocols in the include file: a BIRD static
 * protocol has one channel, so IPv4 and IPv6 routes get one each. */
#define XLB_BIRD_PROTO4 "xlb_vips4"
#define XLB_BIRD_PROTO6 "xlb_vips6"
/* How long BIRD may take to answer "configure", in ms. */
#define XLB_BIRD_TIMEOUT_MS 3000

struct xlb_bgp;

/* An asynchronous "configure" ended: @err 0 (BIRD took the file) or
 * -errno with the reason in b->err. */
typedef void (*xlb_bgp_done_fn)(void *ctx, struct xlb_bgp *b, int err);

struct xlb_bgp {
	struct xlb_ev ev; /* first: epoll data.ptr of @fd */
	char socket[108]; /* BIRD control socket */
	char include[4096]; /* file BIRD's config includes */
	char *written; /* content of the include file we wrote last */
	bool pending; /* written, but BIRD has not taken it yet */
	size_t n_prefixes;
	char **prefixes; /* announced now, "10.0.0.10/32" */
	/* Asynchronous mode (set epfd >= 0 and done before the first
	 * sync): "configure" runs on the caller's epoll loop. */
	int epfd; /* -1: blocking, up to XLB_BIRD_TIMEOUT_MS */
	xlb_bgp_done_fn done;
	void *ctx;
	int fd; /* the conversation in flight, or -1 */
	bool greeted; /* BIRD said hello, "configure" was sent */
	bool again; /* the file changed while BIRD was reading it */
	uint64_t deadline_ms; /* CLOCK_MONOTONIC */
	char rbuf[2048];
	size_t rlen;
	char err[512]; /* why the last attempt failed */
};

/* Zero @b and set the fields that need a value (fds -1). */
void xlb_bgp_init(struct xlb_bgp *b);

/**
 * xlb_bgp_prefixes - the VIP prefixes to announce
 * @eff:      the effective config (health applied)
 * @attached: the datapath is on the interface (else: none)
 * @out:      sorted, unique "addr/32" and "addr/128" strings
 *
 * A VIP address is announced if one of its VIPs has a backend with a
 * Maglev weight (active, weight > 0, passing its checks).
 * Returns the count, or -ENOMEM. Free with xlb_bgp_strv_free.
 */
int xlb_bgp_prefixes(const struct xlb_config *eff, bool attached, char ***out);
void xlb_bgp_strv_free(char **v, size_t n);

/* The include file for @prefixes (both static protocols, always). */
char *xlb_bgp_render(char *const *prefixes, size_t n);

/**
 * xlb_bgp_sync - announce exactly what @eff allows
 * Rewrites the include file atomically if its content changes and asks
 * BIRD to reconfigure; logs each announce/withdraw. If BIRD cannot be
 * reached the change stays pending and the next call retries. In
 * asynchronous mode the answer comes through b->done.
 * Returns 0 (done, or started), or -errno (the reason in @err).
 */
int xlb_bgp_sync(struct xlb_bgp *b, const struct xlb_config *eff, bool attached,
		 char *err, size_t errlen);
void xlb_bgp_free(struct xlb_bgp *b);

/* Give up a "configure" in flight (it stays pending). */
void xlb_bgp_abort(struct xlb_bgp *b);

/* Fail a "configure" in flight past its deadline; call every second. */
void xlb_bgp_expire(struct xlb_bgp *b, uint64_t now_ms);

/**
 * xlb_bird_configure - "configure" over BIRD's control socket
 * Returns 0 when BIRD reconfigured, -errno otherwise with BIRD's answer
 * or the socket error in @msg.
 */
int xlb_bird_configure(const char *sock, int timeout_ms, char *msg, size_t len);

/* Write @len bytes to @path through a temporary file and rename(2), so a
 * reader sees the old or the new content, never a part. */
int xlb_write_atomic(const char *path, const char *data, size_t len);

#endif /* XLB_BGP_H */
