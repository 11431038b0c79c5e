/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* libFuzzer target for the config loader and validator: any bytes in, no
 * crash, no leak, no undefined behaviour; every rejection says where. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Name the loader puts in front of every message. */
#define NAME "fuzz.yaml"

/* "fuzz.yaml:LINE:COL: " with LINE, COL >= 1. */
static int positioned(const char *m)
{
	unsigned int line, col;
	int end = 0;

	if (strncmp(m, NAME ":", sizeof(NAME)))
		return 0;
	if (sscanf(m + sizeof(NAME), "%u:%u: %n", &line, &col, &end) != 2 ||
	    !end)
		return 0;
	return line >= 1 && col >= 1;
}

static void die(const char *why, const struct xlb_diag *d, int rc)
{
	size_t i;

	fprintf(stderr, "fuzz_config: %s (rc %d, %zu messages)\n", why, rc,
		d->n);
	for (i = 0; i < d->n; i++)
		fprintf(stderr, "  [%zu] %s\n", i, d->msgs[i]);
	abort();
}

/* What a config the loader accepted must satisfy, whatever the input. */
static void check_accepted(const struct xlb_config *c, const struct xlb_diag *d)
{
	size_t i, j, nb = 0;

	if (memchr(c->interface, 0, sizeof(c->interface)) == NULL ||
	    !c->interface[0])
		die("accepted a config without a NUL-terminated interface", d,
		    0);
	if (!xlb_is_prime(c->maglev_table_size) ||
	    c->maglev_table_size > XLB_RING_SIZE_MAX)
		die("accepted a Maglev table size that is not a prime in range",
		    d, 0);
	if (c->n_vips > XLB_MAX_VIPS || (c->n_vips && !c->vips))
		die("accepted more VIPs than the maps hold", d, 0);
	for (i = 0; i < c->n_vips; i++) {
		const struct xlb_vip_cfg *v = &c->vips[i];

		if (!memchr(v->name, 0, sizeof(v->name)))
			die("accepted a VIP name without NUL", d, 0);
		if (v->proto != 6 && v->proto != 17)
			die("accepted a VIP protocol other than tcp/udp", d, 0);
		if (v->addr.family != XLB_FAMILY_V4 &&
		    v->addr.family != XLB_FAMILY_V6)
			die("accepted a VIP address of no family", d, 0);
		if (v->hash_mode > XLB_HASH_SRC_IP_PORT ||
		    v->encap > XLB_ENCAP_GUE)
			die("accepted an unknown hash mode or encap", d, 0);
		if (v->n_backends > XLB_MAX_BACKENDS_PER_VIP ||
		    (v->n_backends && !v->backends))
			die("accepted more backends than a VIP may have", d, 0);
		for (j = 0; j < v->n_backends; j++) {
			const struct xlb_backend_cfg *b = &v->backends[j];

			if (b->addr.family != XLB_FAMILY_V4 &&
			    b->addr.family != XLB_FAMILY_V6)
				die("accepted a backend address of no family",
				    d, 0);
			if (b->state > XLB_BE_STATE_DOWN)
				die("accepted an unknown backend state", d, 0);
		}
		nb += v->n_backends;
	}
	if (nb > XLB_MAX_BACKENDS)
		die("accepted more backends than the maps hold", d, 0);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct xlb_config cfg;
	struct xlb_diag diag;
	size_t i;
	int rc, pos = 0;

	rc = xlb_config_parse(NAME, (const char *)data, size, &cfg, &diag);
	for (i = 0; i < diag.n; i++) {
		if (!diag.msgs[i] || strncmp(diag.msgs[i], NAME, strlen(NAME)))
			die("a message does not name the file", &diag, rc);
		pos |= positioned(diag.msgs[i]);
	}
	if (rc == 0) {
		check_accepted(&cfg, &diag);
		xlb_config_free(&cfg);
	} else if (rc != -EINVAL) {
		die("a buffer was refused with an error other than -EINVAL",
		    &diag, rc);
	} else if (!pos) {
		die("rejected without a file:line:col message", &diag, rc);
	}
	xlb_diag_free(&diag);
	return 0;
}
