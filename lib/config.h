/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The configuration model: what an operator's YAML file says, parsed and
 * validated, before anything touches the kernel. */
#ifndef XLB_CONFIG_H
#define XLB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <net/if.h>

#include "xlb_abi.h"

/* YAML nodes a config may have: a full config (65536 backends of 4 keys)
 * needs about 600000; the cap keeps a hostile file from costing GBs. */
#define XLB_CFG_MAX_NODES (1U << 20)
/* Nesting levels: a valid file needs 4 (top, vips, vip, backend...). */
#define XLB_CFG_MAX_DEPTH 32

/* Where a value came from, for messages: file:line:column (1-based). */
struct xlb_pos {
	unsigned int line;
	unsigned int col;
};

/* An IPv4 or IPv6 address in network order, as the ABI stores it. */
struct xlb_addr {
	uint8_t family; /* XLB_FAMILY_V4 / XLB_FAMILY_V6 */
	uint32_t a[4]; /* __be32 words; IPv4 in a[0], rest zero */
};

struct xlb_backend_cfg {
	struct xlb_addr addr;
	uint16_t weight; /* default 100 */
	uint8_t state; /* XLB_BE_STATE_*; default active */
	bool gue; /* per-backend GUE (key "encap: gue") */
	struct xlb_pos pos; /* of the list item */
};

struct xlb_vip_cfg {
	char name[XLB_NAME_LEN];
	struct xlb_addr addr;
	uint16_t port; /* host order; 0 = every port */
	uint8_t proto; /* IPPROTO_TCP / IPPROTO_UDP */
	uint8_t hash_mode; /* XLB_HASH_*; default 5tuple */
	bool conntrack; /* default true */
	bool icmp_echo; /* default true */
	uint8_t encap; /* XLB_ENCAP_*; default ipip */
	uint16_t gue_port; /* host order; default XLB_GUE_PORT_DEFAULT */
	size_t n_backends;
	struct xlb_backend_cfg *backends;
	struct xlb_pos pos;
	/* read back from a running instance: the ring in force was not built
	 * from these backends (a reload was interrupted between writing them
	 * and the ring); never set from a file */
	bool ring_stale;
};

struct xlb_config {
	char path[256]; /* file it was read from */
	char interface[IF_NAMESIZE];
	bool mode_generic; /* mode: native (default) | generic */
	bool mode_set; /* the file says mode: */
	bool gw_mac_auto; /* gateway_mac: auto (default) */
	uint8_t gw_mac[6];
	bool has_src4, has_src6; /* encap_source given */
	struct xlb_addr src4, src6;
	uint32_t maglev_table_size; /* default XLB_RING_SIZE_DEFAULT */
	uint32_t conntrack_size; /* default XLB_CONNTRACK_DEFAULT */
	uint16_t mtu; /* default 1500 */
	bool icmp_too_big; /* default true */
	size_t n_vips;
	struct xlb_vip_cfg *vips;
};

/* Errors collected while reading a file: all of them, not only the first. */
struct xlb_diag {
	size_t n;
	char **msgs; /* "file:line:col: error: ..." each */
};

/**
 * xlb_config_load - read and validate an xlb YAML file
 * @path: file to read
 * @cfg:  filled on success (free with xlb_config_free); on failure it is
 *        left empty (freeing it again is harmless)
 * @diag: every problem found, with positions (free with xlb_diag_free);
 *        initialised by this call, may be NULL. Messages are sorted by
 *        position and read "FILE:LINE:COL: error: what; what to do".
 *
 * Returns 0 if the file is valid, -EINVAL if it has errors (all in @diag),
 * or another -errno if it cannot be read (also described in @diag):
 * -ENOENT/-EACCES/..., -EISDIR (a directory), -ENODEV (another
 * non-regular file), -EFBIG (over 16 MiB).
 */
int xlb_config_load(const char *path, struct xlb_config *cfg,
		    struct xlb_diag *diag);
/* Same, from a buffer; @name is used in messages in place of a path. */
int xlb_config_parse(const char *name, const char *buf, size_t len,
		     struct xlb_config *cfg, struct xlb_diag *diag);
void xlb_config_free(struct xlb_config *cfg);
void xlb_diag_free(struct xlb_diag *diag);
void xlb_diag_print(const struct xlb_diag *diag, FILE *out);

/**
 * xlb_config_check_file - what `xlbctl check FILE` does
 *
 * Loads @path and prints every message to @out, or, if it is valid,
 * "FILE: ok: N VIPs, M backends". Returns 0 if valid, 1 if not.
 */
int xlb_config_check_file(const char *path, FILE *out);

/* Formatting helpers shared by ctl and tests. */
int xlb_addr_parse(const char *s, struct xlb_addr *out);
const char *xlb_addr_str(const struct xlb_addr *a, char *buf, size_t len);
bool xlb_addr_eq(const struct xlb_addr *a, const struct xlb_addr *b);
bool xlb_is_prime(uint32_t n);

#endif /* XLB_CONFIG_H */
