/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Loading, pinning and syncing the balancer: the program and its maps under
 * /sys/fs/bpf/xlb/<ifname>/, and the reload that applies a config diff. */
#ifndef XLB_MAPS_H
#define XLB_MAPS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#include "config.h"
#include "xlb_abi.h"

/* Where instances live: one directory per interface. */
#define XLB_PIN_ROOT "/sys/fs/bpf/xlb"
/* Pin name of the program; maps are pinned under their own names, the
 * read-only data section (ring_size) as "rodata". */
#define XLB_PIN_PROG "prog"
#define XLB_PIN_RODATA "rodata"

/* Instances found under XLB_PIN_ROOT. */
#define XLB_MAX_INSTANCES 64

/* A loaded instance, opened from its pins. */
struct xlb_instance {
	char ifname[IF_NAMESIZE];
	char dir[PATH_MAX];
	int ifindex; /* 0 if the interface is gone */
	int prog_fd;
	uint32_t prog_id;
	int cfg_fd, vips_fd, index_fd, addrs_fd, rings_fd, backends_fd, ct4_fd;
	int ct6_fd;
	int stats_fd, vip_stats_fd, be_stats_fd, meta_fd, filter_fd, rodata_fd;
	uint32_t ring_size; /* Maglev table size the program was built with */
	uint32_t conntrack_size; /* flows */
	uint32_t attached_id; /* XDP program on the link now (0: none) */
	bool attached; /* attached_id is our program */
	bool generic; /* attached in SKB (generic) mode */
};

/* The running state, read back from the maps. */
struct xlb_state {
	struct xlb_config cfg; /* as a config: VIPs, backends, settings */
	uint32_t *vip_id; /* per cfg.vips[i] */
	uint32_t **slot; /* per cfg.vips[i].backends[j] */
	struct xlb_backend *be; /* every slot, XLB_MAX_BACKENDS */
	bool *vip_used; /* XLB_MAX_VIPS */
	struct xlb_cfg hw; /* xlb_cfg[0] */
	/* Slots in use that name a VIP id without a VIP: left by a reload
	 * that stopped half-way; the next reload frees them. */
	uint32_t *orphan;
	size_t n_orphan;
};

/* Outcome of load/reload, for the "reloaded in N ms: ..." line. */
struct xlb_sync_report {
	char summary[256];
	double ms; /* wall time of the whole command's work */
	double ms_read; /* command start to running state read */
	double ms_plan; /* checks, ids, MACs, new rings built */
	double ms_apply; /* from the first map write to the last */
	size_t n_vips, n_backends;
};

struct xlb_load_opts {
	int mode; /* -1: from the config; 0 native; 1 generic */
};

/**
 * xlb_instances - names of the loaded instances (directories in
 * XLB_PIN_ROOT). Returns how many (up to @max), or -errno.
 */
int xlb_instances(char names[][IF_NAMESIZE], size_t max);

/**
 * xlb_instance_pick - resolve -i: @want if given, else the only instance.
 * Errors (printed): none loaded (-ENOENT), several and no -i (-EINVAL).
 */
int xlb_instance_pick(const char *want, char out[IF_NAMESIZE]);

/* Open the pins of the instance on @ifname. -ENOENT if not loaded. */
int xlb_instance_open(const char *ifname, struct xlb_instance *in);
void xlb_instance_close(struct xlb_instance *in);

/* Read the running state; free with xlb_state_free. */
int xlb_state_read(const struct xlb_instance *in, struct xlb_state *st);
void xlb_state_free(struct xlb_state *st);

/**
 * xlb_load - load, pin, fill and attach the balancer for @cfg->interface
 * Refuses (non-root, already loaded, another XDP program attached) before
 * changing anything; on failure removes whatever it created.
 * Returns 0 or -errno; every error is printed with its remedy.
 */
int xlb_load(const struct xlb_config *cfg, const struct xlb_load_opts *opts,
	     struct xlb_sync_report *rep);

/**
 * xlb_reload - apply @cfg to the running instance on @cfg->interface
 * Only the difference is written, in an order that never lets the
 * datapath see a half-made VIP. All checks happen before the first write:
 * on error nothing has changed. @mode as in xlb_load_opts.
 */
int xlb_reload(const struct xlb_config *cfg, int mode,
	       struct xlb_sync_report *rep);

/**
 * xlb_unload - detach the program from @ifname and remove its pins
 * Returns 0 (also when nothing was loaded: *@nothing set), or -errno.
 */
int xlb_unload(const char *ifname, bool *nothing);

/* Fail with the standard message unless running as root. */
int xlb_require_root(void);

/* Read every element of an ARRAY (or PERCPU_ARRAY: @vsize is then the
 * rounded per-CPU size times the CPU count) into @buf. */
int xlb_array_read(int fd, uint32_t n, size_t vsize, void *buf);

#endif /* XLB_MAPS_H */
