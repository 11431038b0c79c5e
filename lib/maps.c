/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Load, pin, sync and unload the balancer: the program and its maps under
 * /sys/fs/bpf/xlb/<ifname>/, and the reload that writes only what differs,
 * in an order the datapath can run through at any point. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "conntrack.h"
#include "diff.h"
#include "log.h"
#include "maglev.h"
#include "maps.h"
#include "vipindex.h"
#include "filter.h"
#include "netlink.h"
#include "xlb.skel.h"

#define BPFFS "/sys/fs/bpf"
/* The kernel's "operation not supported" (not in the uapi errno.h). */
#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif

/* Map pins: name in the object and in the pin directory, and where its fd
 * goes in struct xlb_instance. */
static const struct {
	const char *name;
	size_t off;
} pin_maps[] = {
	{ "xlb_cfg", offsetof(struct xlb_instance, cfg_fd) },
	{ "xlb_vips", offsetof(struct xlb_instance, vips_fd) },
	{ "xlb_vip_index", offsetof(struct xlb_instance, index_fd) },
	{ "xlb_vip_addrs", offsetof(struct xlb_instance, addrs_fd) },
	{ "xlb_rings", offsetof(struct xlb_instance, rings_fd) },
	{ "xlb_backends", offsetof(struct xlb_instance, backends_fd) },
	{ "xlb_conntrack4", offsetof(struct xlb_instance, ct4_fd) },
	{ "xlb_conntrack6", offsetof(struct xlb_instance, ct6_fd) },
	{ "xlb_stats", offsetof(struct xlb_instance, stats_fd) },
	{ "xlb_vip_stats", offsetof(struct xlb_instance, vip_stats_fd) },
	{ "xlb_be_stats", offsetof(struct xlb_instance, be_stats_fd) },
	{ "xlb_vip_meta", offsetof(struct xlb_instance, meta_fd) },
	{ "xlb_addr_filter", offsetof(struct xlb_instance, filter_fd) },
	{ XLB_PIN_RODATA, offsetof(struct xlb_instance, rodata_fd) },
};
#define N_PIN_MAPS (sizeof(pin_maps) / sizeof(pin_maps[0]))

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int xlb_require_root(void)
{
	if (geteuid() != 0) {
		xlb_err("must run as root (needs CAP_BPF/CAP_NET_ADMIN)\n");
		return -EPERM;
	}
	return 0;
}

/* ---- Instances --------------------------------------------------------- */

int xlb_instances(char names[][IF_NAMESIZE], size_t max)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	d = opendir(XLB_PIN_ROOT);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) && n < max) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		if (strlen(de->d_name) >= IF_NAMESIZE)
			continue;
		strcpy(names[n++], de->d_name);
	}
	closedir(d);
	return (int)n;
}

int xlb_instance_pick(const char *want, char out[IF_NAMESIZE])
{
	char names[XLB_MAX_INSTANCES][IF_NAMESIZE];
	char list[512] = "";
	int n;

	if (want) {
		if (strlen(want) >= IF_NAMESIZE) {
			xlb_err("interface name '%s' is too long: Linux names are 1..15 bytes\n",
				want);
			return -EINVAL;
		}
		strcpy(out, want);
		return 0;
	}
	n = xlb_instances(names, XLB_MAX_INSTANCES);
	if (n < 0) {
		xlb_err("cannot list %s: %s\n", XLB_PIN_ROOT, strerror(-n));
		return n;
	}
	if (n == 0) {
		xlb_err("nothing loaded (no instance under %s); run `xlbctl load -c FILE`\n",
			XLB_PIN_ROOT);
		return -ENOENT;
	}
	if (n > 1) {
		for (int i = 0; i < n; i++) {
			strncat(list, " ", sizeof(list) - strlen(list) - 1);
			strncat(list, names[i],
				sizeof(list) - strlen(list) - 1);
		}
		xlb_err("several instances loaded:%s; pick one with -i IFACE\n",
			list);
		return -EINVAL;
	}
	strcpy(out, names[0]);
	return 0;
}

/* The program on the link (any mode), 0 if none. */
static int link_prog(int ifindex, uint32_t *id, bool *generic)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int err;

	*id = 0;
	*generic = false;
	if (!ifindex)
		return 0;
	err = bpf_xdp_query(ifindex, 0, &q);
	if (err)
		return err;
	*id = q.prog_id;
	if (!*id)
		*id = q.skb_prog_id ? q.skb_prog_id : q.drv_prog_id;
	*generic = q.attach_mode == XDP_ATTACHED_SKB ||
		   (q.skb_prog_id && q.skb_prog_id == *id);
	return 0;
}

/* The load-time settings in the program's read-only data: ring_size and
 * conntrack_size. */
static int read_rodata(struct xlb_instance *in)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), key = 0;
	struct xlb__rodata ro;
	void *buf;
	int err;

	err = bpf_obj_get_info_by_fd(in->rodata_fd, &info, &len);
	if (err)
		return err;
	if (info.value_size < sizeof(ro))
		return -EINVAL;
	buf = calloc(1, info.value_size);
	if (!buf)
		return -ENOMEM;
	err = bpf_map_lookup_elem(in->rodata_fd, &key, buf);
	if (!err) {
		memcpy(&ro, buf, sizeof(ro));
		in->ring_size = ro.ring_size;
		in->conntrack_size = ro.conntrack.size;
	}
	free(buf);
	return err;
}

/* The connection tables are chunked (ARRAY_OF_MAPS), as this xlbctl
 * makes them; before 2026-11-26 each was one ARRAY. */
static bool ct_layout_current(const struct xlb_instance *in)
{
	struct bpf_map_info i4 = {}, i6 = {};
	__u32 l4 = sizeof(i4), l6 = sizeof(i6);

	return !bpf_obj_get_info_by_fd(in->ct4_fd, &i4, &l4) &&
	       !bpf_obj_get_info_by_fd(in->ct6_fd, &i6, &l6) &&
	       i4.type == BPF_MAP_TYPE_ARRAY_OF_MAPS &&
	       i6.type == BPF_MAP_TYPE_ARRAY_OF_MAPS;
}

/* @in with no fd open, for xlb_instance_close(). */
static void instance_init(struct xlb_instance *in)
{
	memset(in, 0, sizeof(*in));
	in->prog_fd = -1;
	for (size_t i = 0; i < N_PIN_MAPS; i++)
		*(int *)((char *)in + pin_maps[i].off) = -1;
}

/* A pin of the instance cannot be opened: -ESTALE if it is missing (an
 * interrupted load, or someone removed it), else -errno. */
static int pin_error(const char *path, const char *ifname, bool quiet)
{
	int err = errno == ENOENT ? -ESTALE : -errno;

	if (!quiet)
		xlb_err("cannot open %s: %s; the instance is incomplete, run `xlbctl unload -i %s`\n",
			path, strerror(errno), ifname);
	return err;
}

static int instance_open(const char *ifname, struct xlb_instance *in,
			 bool quiet)
{
	struct bpf_prog_info pinfo = {};
	__u32 plen = sizeof(pinfo);
	char path[PATH_MAX + 32];
	struct stat st;
	int err;

	instance_init(in);
	snprintf(in->ifname, sizeof(in->ifname), "%s", ifname);
	snprintf(in->dir, sizeof(in->dir), "%s/%s", XLB_PIN_ROOT, ifname);
	if (stat(in->dir, &st))
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/%s", in->dir, XLB_PIN_PROG);
	in->prog_fd = bpf_obj_get(path);
	if (in->prog_fd < 0)
		return pin_error(path, ifname, quiet);
	for (size_t i = 0; i < N_PIN_MAPS; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", in->dir,
			 pin_maps[i].name);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			err = pin_error(path, ifname, quiet);
			xlb_instance_close(in);
			return err;
		}
		*(int *)((char *)in + pin_maps[i].off) = fd;
	}
	err = bpf_obj_get_info_by_fd(in->prog_fd, &pinfo, &plen);
	if (!err)
		in->prog_id = pinfo.id;
	if (!err)
		err = read_rodata(in);
	if (!err && !ct_layout_current(in))
		err = -EINVAL;
	if (err && quiet)
		;
	else if (err == -EINVAL)
		xlb_err("the instance on %s was loaded by an older xlbctl (its read-only data or its connection tables have an older layout); unload it with the xlbctl that loaded it, then load with this one (docs/operations.md, 'Upgrade xlb itself')\n",
			ifname);
	else if (err)
		xlb_err("cannot read the instance on %s: %s\n", ifname,
			strerror(-err));
	if (err) {
		xlb_instance_close(in);
		return err;
	}
	in->ifindex = (int)if_nametoindex(ifname);
	if (link_prog(in->ifindex, &in->attached_id, &in->generic) == 0)
		in->attached =
			in->attached_id && in->attached_id == in->prog_id;
	return 0;
}

int xlb_instance_open(const char *ifname, struct xlb_instance *in)
{
	return instance_open(ifname, in, false);
}

void xlb_instance_close(struct xlb_instance *in)
{
	if (in->prog_fd >= 0)
		close(in->prog_fd);
	in->prog_fd = -1;
	for (size_t i = 0; i < N_PIN_MAPS; i++) {
		int *fd = (int *)((char *)in + pin_maps[i].off);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

/* ---- Reading the running state ---------------------------------------- */

int xlb_array_read(int fd, uint32_t n, size_t vsize, void *buf)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 *keys, out = 0, count, done = 0;
	int err = 0;

	keys = calloc(n, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	while (done < n) {
		count = n - done;
		err = bpf_map_lookup_batch(
			fd, done ? &out : NULL, &out, keys + done,
			(char *)buf + (size_t)done * vsize, &count, &opts);
		done += count;
		if (err)
			break;
	}
	if (err == -ENOENT && done == n)
		err = 0;
	if (err && err != -ENOENT) {
		/* No batch support: one element at a time. */
		for (__u32 k = 0; k < n; k++) {
			err = bpf_map_lookup_elem(
				fd, &k, (char *)buf + (size_t)k * vsize);
			if (err)
				break;
		}
	} else {
		err = 0;
	}
	free(keys);
	return err;
}

static void addr_from(struct xlb_addr *a, const __be32 *w, __u8 family)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->a, w, family == XLB_FAMILY_V6 ? 16 : 4);
}

static void addr_key(struct xlb_addr_key *k, const struct xlb_addr *a)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, a->a, sizeof(k->addr));
	k->family = a->family;
}

/* The datapath's record of VIP @v under id @vid. */
static void mk_vip(struct xlb_vip *vip, const struct xlb_vip_cfg *v, __u32 vid)
{
	memset(vip, 0, sizeof(*vip));
	vip->vip_id = vid;
	vip->flags = v->conntrack ? 0 : XLB_VIP_F_NO_CONNTRACK;
	vip->hash_mode = v->hash_mode;
	vip->encap = v->encap;
	vip->gue_port = htons(v->gue_port);
}

void xlb_state_free(struct xlb_state *st)
{
	for (size_t i = 0; i < st->cfg.n_vips; i++) {
		free(st->cfg.vips[i].backends);
		if (st->slot)
			free(st->slot[i]);
	}
	free(st->cfg.vips);
	free(st->vip_id);
	free(st->slot);
	free(st->be);
	free(st->vip_used);
	free(st->orphan);
	memset(st, 0, sizeof(*st));
}

int xlb_state_read(const struct xlb_instance *in, struct xlb_state *st)
{
	struct xlb_vip_meta *meta = NULL;
	size_t *idx = NULL; /* vip_id -> index in cfg.vips */
	__u32 key = 0;
	int err;

	memset(st, 0, sizeof(*st));
	meta = calloc(XLB_MAX_VIPS, sizeof(*meta));
	idx = calloc(XLB_MAX_VIPS, sizeof(*idx));
	st->be = calloc(XLB_MAX_BACKENDS, sizeof(*st->be));
	st->vip_used = calloc(XLB_MAX_VIPS, sizeof(*st->vip_used));
	st->cfg.vips = calloc(XLB_MAX_VIPS, sizeof(*st->cfg.vips));
	st->vip_id = calloc(XLB_MAX_VIPS, sizeof(*st->vip_id));
	st->slot = calloc(XLB_MAX_VIPS, sizeof(*st->slot));
	if (!meta || !idx || !st->be || !st->vip_used || !st->cfg.vips ||
	    !st->vip_id || !st->slot) {
		err = -ENOMEM;
		goto out;
	}
	err = xlb_array_read(in->meta_fd, XLB_MAX_VIPS, sizeof(*meta), meta);
	if (!err)
		err = xlb_array_read(in->backends_fd, XLB_MAX_BACKENDS,
				     sizeof(*st->be), st->be);
	if (!err)
		err = bpf_map_lookup_elem(in->cfg_fd, &key, &st->hw);
	if (err)
		goto out;

	struct xlb_config *c = &st->cfg;

	snprintf(c->interface, sizeof(c->interface), "%s", in->ifname);
	c->mode_generic = in->generic;
	c->maglev_table_size = in->ring_size;
	c->conntrack_size = in->conntrack_size;
	memcpy(c->gw_mac, st->hw.gw_mac, 6);
	c->mtu = st->hw.mtu;
	c->icmp_too_big = st->hw.flags & XLB_CFG_F_ICMP_TOO_BIG;
	c->has_src4 = st->hw.flags & XLB_CFG_F_SRC4;
	c->has_src6 = st->hw.flags & XLB_CFG_F_SRC6;
	if (c->has_src4)
		addr_from(&c->src4, &st->hw.src4, XLB_FAMILY_V4);
	if (c->has_src6)
		addr_from(&c->src6, st->hw.src6, XLB_FAMILY_V6);

	for (__u32 id = 0; id < XLB_MAX_VIPS; id++) {
		struct xlb_vip_cfg *v;
		struct xlb_vip vip;
		struct xlb_addr_key ak;
		struct xlb_vip_addr va;

		if (!meta[id].key.family)
			continue;
		st->vip_used[id] = true;
		idx[id] = c->n_vips;
		st->vip_id[c->n_vips] = id;
		v = &c->vips[c->n_vips++];
		memcpy(v->name, meta[id].name, XLB_NAME_LEN);
		v->name[XLB_NAME_LEN - 1] = '\0';
		addr_from(&v->addr, meta[id].key.addr, meta[id].key.family);
		v->port = ntohs(meta[id].key.port);
		v->proto = meta[id].key.proto;
		v->conntrack = true;
		v->gue_port = XLB_GUE_PORT_DEFAULT;
		if (!bpf_map_lookup_elem(in->vips_fd, &meta[id].key, &vip)) {
			v->conntrack = !(vip.flags & XLB_VIP_F_NO_CONNTRACK);
			v->hash_mode = vip.hash_mode;
			v->encap = vip.encap;
			v->gue_port = ntohs(vip.gue_port);
		} else {
			xlb_warn(
				"VIP %s (id %u) has no xlb_vips entry; it will be rewritten\n",
				v->name, id);
		}
		addr_key(&ak, &v->addr);
		if (!bpf_map_lookup_elem(in->addrs_fd, &ak, &va))
			v->icmp_echo = va.flags & XLB_ADDR_F_ICMP_ECHO;
	}
	/* Backends, in slot order, to their owner VIP. */
	size_t *cnt = calloc(XLB_MAX_VIPS, sizeof(*cnt));

	if (!cnt) {
		err = -ENOMEM;
		goto out;
	}
	for (__u32 s = 0; s < XLB_MAX_BACKENDS; s++)
		if ((st->be[s].flags & XLB_BE_F_IN_USE) &&
		    st->be[s].vip_id < XLB_MAX_VIPS &&
		    st->vip_used[st->be[s].vip_id])
			cnt[st->be[s].vip_id]++;
	for (size_t i = 0; i < c->n_vips; i++) {
		size_t n = cnt[st->vip_id[i]];

		c->vips[i].backends =
			calloc(n ? n : 1, sizeof(*c->vips[i].backends));
		st->slot[i] = calloc(n ? n : 1, sizeof(*st->slot[i]));
		if (!c->vips[i].backends || !st->slot[i]) {
			free(cnt);
			err = -ENOMEM;
			goto out;
		}
	}
	free(cnt);
	for (__u32 s = 0; s < XLB_MAX_BACKENDS; s++) {
		const struct xlb_backend *b = &st->be[s];
		struct xlb_backend_cfg *bc;
		struct xlb_vip_cfg *v;
		size_t i;

		if (!(b->flags & XLB_BE_F_IN_USE))
			continue;
		if (b->vip_id >= XLB_MAX_VIPS || !st->vip_used[b->vip_id]) {
			if (!st->orphan) {
				st->orphan = calloc(XLB_MAX_BACKENDS,
						    sizeof(*st->orphan));
				if (!st->orphan) {
					err = -ENOMEM;
					goto out;
				}
			}
			st->orphan[st->n_orphan++] = s;
			continue;
		}
		i = idx[b->vip_id];
		v = &c->vips[i];
		st->slot[i][v->n_backends] = s;
		bc = &v->backends[v->n_backends++];
		addr_from(&bc->addr, b->addr, b->family);
		bc->weight = b->weight;
		bc->state = b->state;
		bc->gue = b->flags & XLB_BE_F_GUE;
	}
	for (size_t i = 0; i < c->n_vips; i++)
		c->vips[i].ring_stale = meta[st->vip_id[i]].ring_fp !=
					xlb_ring_fingerprint(&c->vips[i]);
out:
	free(meta);
	free(idx);
	if (err)
		xlb_state_free(st);
	return err;
}

/* ---- Sync: apply a config to the maps ---------------------------------- */

/* Which slots of a new ring carry XLB_RING_F_CHANGED. */
enum ring_marks {
	MARKS_NONE, /* a fresh instance: no entry can disagree */
	MARKS_DIFF, /* those whose owner differs from old_fd's, or marked */
	MARKS_ALL, /* entries of its flows may come from elsewhere */
};

/* A ring built aside, waiting to be swapped in. */
struct new_ring {
	__u32 vip_id;
	const struct xlb_vip_cfg *vip;
	const __u32 *slots; /* backend slot of each of vip->backends */
	enum ring_marks marks;
	int old_fd; /* MARKS_DIFF: the ring in use now */
	int fd; /* -1 until built */
	int err;
};

/* Threads building rings at once (each holds one table, 4 bytes a slot). */
#define RING_THREADS_MAX 16

static int build_rings(struct new_ring *r, size_t n, __u32 m);

struct plan {
	struct xlb_config want; /* the new config, echo normalised */
	struct xlb_diff d;
	__u32 *new_vip_id; /* per want.vips[i] */
	__u32 **new_slot; /* per want.vips[i].backends[j] */
	struct new_ring *rings;
	size_t n_rings;
	int empty_fd; /* an all-empty ring for removed VIPs' ids, or -1 */
	struct xlb_vip_slot *index; /* the new VIP index, or NULL: no change */
	struct xlb_cfg hw;
	bool hw_changed;
};

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n_rings; i++) {
		if (p->rings[i].fd >= 0)
			close(p->rings[i].fd);
		if (p->rings[i].old_fd >= 0)
			close(p->rings[i].old_fd);
	}
	if (p->empty_fd >= 0)
		close(p->empty_fd);
	free(p->rings);
	free(p->index);
	if (p->new_slot)
		for (size_t i = 0; i < p->want.n_vips; i++)
			free(p->new_slot[i]);
	free(p->new_slot);
	free(p->new_vip_id);
	free(p->want.vips);
	xlb_diff_free(&p->d);
}

/* ICMP echo is decided per address: a VIP answers if any VIP on its
 * address does. Normalise so the diff compares what the maps can hold. */
static int normalise(const struct xlb_config *cfg, struct xlb_config *out)
{
	*out = *cfg;
	out->vips = calloc(cfg->n_vips ? cfg->n_vips : 1, sizeof(*out->vips));
	if (!out->vips)
		return -ENOMEM;
	memcpy(out->vips, cfg->vips, cfg->n_vips * sizeof(*out->vips));
	for (size_t i = 0; i < out->n_vips; i++)
		for (size_t j = 0; j < out->n_vips; j++)
			if (out->vips[j].icmp_echo &&
			    xlb_addr_eq(&out->vips[i].addr, &out->vips[j].addr))
				out->vips[i].icmp_echo = true;
	return 0;
}

/* An empty ring (inner) map of @m slots: same type, sizes and flags as
 * the program's template, or the outer map refuses it. */
static int ring_map_create(__u32 m)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE);
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xlb_ring", sizeof(__u32),
			    sizeof(struct xlb_ring_pair), XLB_RING_ELEMS(m),
			    &o);
	return fd < 0 ? -errno : fd;
}

/* Bytes of a ring map of @m slots as mmap() takes them. */
static size_t ring_map_len(__u32 m)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return ((size_t)XLB_RING_ELEMS(m) * sizeof(struct xlb_ring_pair) + pg -
		1) /
	       pg * pg;
}

/* Mark @table's slots (XLB_RING_F_CHANGED) as @marks says; MARKS_DIFF
 * compares with the ring map @old_fd. */
static int mark_ring(const struct xlb_vip_cfg *v, __u32 *table, __u32 m,
		     enum ring_marks marks, int old_fd)
{
	const __u32 *old;
	size_t len;

	if (marks == MARKS_NONE)
		return 0;
	if (marks == MARKS_ALL) {
		xlb_maglev_mark(table, NULL, m);
		return 0;
	}
	len = ring_map_len(m);
	old = mmap(NULL, len, PROT_READ, MAP_SHARED, old_fd, 0);
	if (old == MAP_FAILED) {
		int err = -errno;

		xlb_err("cannot read the current ring of VIP %s: %s\n", v->name,
			strerror(-err));
		return err;
	}
	xlb_maglev_mark(table, old, m);
	munmap((void *)old, len);
	return 0;
}

/* A new inner map of @m slots filled by Maglev from @v's usable backends,
 * marked as @marks says. */
static int build_ring(const struct xlb_vip_cfg *v, const __u32 *slots, __u32 m,
		      enum ring_marks marks, int old_fd, int *out_fd)
{
	size_t len, n = 0;
	struct xlb_maglev_backend *mb = NULL;
	__u32 *table = NULL;
	void *mem;
	int fd, err;

	fd = ring_map_create(m);
	if (fd < 0) {
		xlb_err("cannot create a ring map of %u slots for VIP %s: %s\n",
			m, v->name, strerror(-fd));
		return fd;
	}
	mb = calloc(v->n_backends ? v->n_backends : 1, sizeof(*mb));
	table = calloc(m, sizeof(*table));
	if (!mb || !table) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t j = 0; j < v->n_backends; j++) {
		mb[n].addr = v->backends[j].addr;
		mb[n].id = slots[j];
		mb[n].weight = xlb_backend_ring_weight(&v->backends[j]);
		n++;
	}
	err = xlb_maglev_build(mb, n, table, m);
	if (err == -ENOENT) /* nothing active: every slot empty, drops */
		err = 0;
	if (err) {
		xlb_err("cannot build the Maglev table of VIP %s: %s\n",
			v->name, strerror(-err));
		goto out;
	}
	err = mark_ring(v, table, m, marks, old_fd);
	if (err)
		goto out;
	/* mmap'ed, the ring is a __u32 per slot (struct xlb_ring_pair) */
	len = ring_map_len(m);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		err = -errno;
		xlb_err("cannot mmap the ring map for VIP %s: %s\n", v->name,
			strerror(errno));
		goto out;
	}
	memcpy(mem, table, (size_t)m * sizeof(*table));
	if (m & 1) /* the unused last half */
		((__u32 *)mem)[m] = XLB_MAGLEV_EMPTY;
	munmap(mem, len);
out:
	free(mb);
	free(table);
	if (err) {
		close(fd);
		return err;
	}
	*out_fd = fd;
	return 0;
}

static void mk_backend(struct xlb_backend *b, const struct xlb_backend_cfg *c,
		       __u32 vip_id, __u32 gen)
{
	memset(b, 0, sizeof(*b));
	memcpy(b->addr, c->addr.a, sizeof(b->addr));
	b->gen = gen;
	b->vip_id = vip_id;
	b->weight = c->weight;
	b->family = c->addr.family;
	b->state = c->state;
	b->flags = XLB_BE_F_IN_USE;
	if (c->state != XLB_BE_STATE_DOWN)
		b->flags |= XLB_BE_F_LIVE;
	if (c->state == XLB_BE_STATE_ACTIVE && c->weight)
		b->flags |= XLB_BE_F_NEW;
	if (c->gue)
		b->flags |= XLB_BE_F_GUE;
}

static __u32 next_gen(__u32 gen)
{
	return gen + 1 ? gen + 1 : 1;
}

/* xlb_cfg for @cfg. @running: what the maps hold now (zero at load): if
 * `gateway_mac: auto` cannot be resolved, a reload keeps the running MAC
 * (a backend change must not fail for a missing ARP entry). */
static int resolve_hw(const struct xlb_config *cfg,
		      const struct xlb_cfg *running, struct xlb_cfg *hw)
{
	static const __u8 zero[6];
	char err[256];
	int r;

	memset(hw, 0, sizeof(*hw));
	r = xlb_nl_if_mac(cfg->interface, hw->if_mac, err, sizeof(err));
	if (r) {
		xlb_err("%s\n", err);
		return r;
	}
	if (cfg->gw_mac_auto) {
		r = xlb_nl_gateway_mac(cfg->interface, AF_UNSPEC, hw->gw_mac,
				       err, sizeof(err));
		if (r && memcmp(running->gw_mac, zero, 6)) {
			xlb_warn(
				"gateway_mac: auto: %s; keeping %02x:%02x:%02x:%02x:%02x:%02x\n",
				err, running->gw_mac[0], running->gw_mac[1],
				running->gw_mac[2], running->gw_mac[3],
				running->gw_mac[4], running->gw_mac[5]);
			memcpy(hw->gw_mac, running->gw_mac, 6);
		} else if (r) {
			xlb_err("gateway_mac: auto: %s\n", err);
			return r;
		}
	} else {
		memcpy(hw->gw_mac, cfg->gw_mac, 6);
	}
	if (cfg->has_src4) {
		hw->src4 = cfg->src4.a[0];
		hw->flags |= XLB_CFG_F_SRC4;
	}
	if (cfg->has_src6) {
		memcpy(hw->src6, cfg->src6.a, sizeof(hw->src6));
		hw->flags |= XLB_CFG_F_SRC6;
	}
	if (cfg->icmp_too_big)
		hw->flags |= XLB_CFG_F_ICMP_TOO_BIG;
	hw->mtu = cfg->mtu;
	return 0;
}

/* The VIP index @in's datapath reads is @want (all XLB_VIP_INDEX_SLOTS). */
static bool index_is(const struct xlb_instance *in,
		     const struct xlb_vip_slot *want)
{
	struct xlb_vip_slot *cur = calloc(XLB_VIP_INDEX_SLOTS, sizeof(*cur));
	bool same = cur && !xlb_vip_index_read(in->index_fd, cur) &&
		    !memcmp(cur, want, XLB_VIP_INDEX_SLOTS * sizeof(*cur));

	free(cur);
	return same;
}

/* The new VIP index, when any VIP is added, removed or changed, or when
 * the one the datapath reads is not the VIPs' (a reload that was killed
 * or failed between writing a VIP and swapping in the index leaves it
 * so, and the next diff of the VIPs alone finds nothing to do). */
static int plan_index(const struct xlb_instance *in, bool loading,
		      struct plan *p)
{
	bool changed =
		p->d.vips_added || p->d.vips_removed || p->d.vips_changed;
	size_t n = p->want.n_vips, bad = 0;
	struct xlb_vip_key *keys;
	struct xlb_vip *vips;
	int err;

	if (loading && !changed)
		return 0;
	p->index = calloc(XLB_VIP_INDEX_SLOTS, sizeof(*p->index));
	keys = calloc(n ? n : 1, sizeof(*keys));
	vips = calloc(n ? n : 1, sizeof(*vips));
	if (!p->index || !keys || !vips) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		xlb_vip_key_of(&keys[i], &p->want.vips[i]);
		mk_vip(&vips[i], &p->want.vips[i], p->new_vip_id[i]);
	}
	err = xlb_vip_index_fill(p->index, keys, vips, n, &bad);
	if (err)
		xlb_err("VIP %s: no free slot in the VIP index within %d of its home (%zu VIPs in %d slots); change or drop this VIP and reload, and please report the configuration\n",
			p->want.vips[bad].name, XLB_VIP_INDEX_PROBES, n,
			XLB_VIP_INDEX_SLOTS);
	if (!err && !changed) {
		if (index_is(in, p->index)) {
			free(p->index);
			p->index = NULL;
		} else {
			xlb_warn(
				"the VIP index the datapath reads does not match the VIPs (an earlier reload stopped half-way?); installing it again\n");
		}
	}
out:
	free(keys);
	free(vips);
	return err;
}

/* Connection table @fd of @family holds nothing (or cannot be read:
 * then it does not count as empty). */
static bool ct_table_empty(int fd, int family)
{
	struct xlb_ct_table t;
	size_t n;

	if (xlb_ct_open(&t, fd, family))
		return false;
	n = xlb_ct_count(&t, 1);
	xlb_ct_close(&t);
	return n == 0;
}

/* Both connection tables hold nothing. */
static bool ct_empty(const struct xlb_instance *in)
{
	return ct_table_empty(in->ct4_fd, XLB_FAMILY_V4) &&
	       ct_table_empty(in->ct6_fd, XLB_FAMILY_V6);
}

/* An fd of the ring VIP @vip_id uses now, or -errno. */
static int ring_fd_of(const struct xlb_instance *in, __u32 vip_id)
{
	__u32 inner_id;
	int fd;

	if (bpf_map_lookup_elem(in->rings_fd, &vip_id, &inner_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	return fd < 0 ? -errno : fd;
}

/**
 * plan_rings - the rings to build, and how to mark them
 *
 * XLB_RING_F_CHANGED (xlb_abi.h) must be on every slot where a live
 * connection-table entry of a flow may name another backend than the
 * slot's: a bare SYN trusts an unmarked slot without reading the table.
 * Entries are written with the ring's choice, so on a running instance
 * a rebuilt ring keeps its marks and marks the slots whose owner changed,
 * or every slot where the diff says so (xlb_vip_diff.remark). An instance
 * with no VIP and empty tables marks nothing: one being loaded (@loading:
 * its tables were just made), or one whose tables are read and found
 * empty.
 */
static int plan_rings(const struct xlb_instance *in, const struct xlb_state *st,
		      bool loading, struct plan *p)
{
	bool fresh = st->cfg.n_vips == 0 && (loading || ct_empty(in));

	for (size_t i = 0; i < p->d.n_vips; i++) {
		const struct xlb_vip_diff *vd = &p->d.vips[i];
		const struct xlb_vip_cfg *v;
		struct new_ring *r;

		if (!vd->ring)
			continue;
		v = &p->want.vips[vd->new_idx];
		r = &p->rings[p->n_rings++];
		r->vip_id = p->new_vip_id[vd->new_idx];
		r->vip = v;
		r->slots = p->new_slot[vd->new_idx];
		r->fd = -1;
		r->old_fd = -1;
		r->marks = fresh      ? MARKS_NONE :
			   vd->remark ? MARKS_ALL :
					MARKS_DIFF;
		if (r->marks == MARKS_DIFF) {
			r->old_fd = ring_fd_of(in, r->vip_id);
			if (r->old_fd < 0) {
				xlb_err("cannot open the current ring of VIP %s: %s\n",
					v->name, strerror(-r->old_fd));
				return r->old_fd;
			}
		}
	}
	return 0;
}

/* Everything that can fail without touching the datapath: ids, slots,
 * MACs, and every new ring built aside. */
static int plan_make(const struct xlb_instance *in, const struct xlb_state *st,
		     const struct xlb_config *cfg, bool loading, struct plan *p)
{
	__u32 next_vip = 0, next_slot = 0;
	int err;

	memset(p, 0, sizeof(*p));
	p->empty_fd = -1;
	err = normalise(cfg, &p->want);
	if (err)
		return err;
	err = resolve_hw(cfg, &st->hw, &p->hw);
	if (err)
		return err;
	p->hw_changed = memcmp(&p->hw, &st->hw, sizeof(p->hw)) != 0;
	/* The diff compares settings on the resolved MAC. */
	p->want.gw_mac_auto = false;
	memcpy(p->want.gw_mac, p->hw.gw_mac, 6);
	err = xlb_diff_compute(&st->cfg, &p->want, &p->d);
	if (err)
		return err;
	/* the diff rebuilds a ring left stale; say why */
	for (size_t i = 0; i < p->d.n_vips; i++) {
		const struct xlb_vip_diff *vd = &p->d.vips[i];

		if (vd->ring && vd->kind != XLB_ADDED &&
		    st->cfg.vips[vd->old_idx].ring_stale)
			xlb_warn(
				"VIP %s: its ring was not built from its backends (an earlier load or reload was interrupted); rebuilding it\n",
				st->cfg.vips[vd->old_idx].name);
	}

	p->new_vip_id = calloc(p->want.n_vips ? p->want.n_vips : 1,
			       sizeof(*p->new_vip_id));
	p->new_slot = calloc(p->want.n_vips ? p->want.n_vips : 1,
			     sizeof(*p->new_slot));
	p->rings = calloc(p->d.rings ? p->d.rings : 1, sizeof(*p->rings));
	if (!p->new_vip_id || !p->new_slot || !p->rings)
		return -ENOMEM;

	/* Ids and slots come from what is free now: a removed VIP's id or
	 * backend's slot is only released after the new state is in. */
	for (size_t i = 0; i < p->d.n_vips; i++) {
		const struct xlb_vip_diff *vd = &p->d.vips[i];
		const struct xlb_vip_cfg *v;
		__u32 *slots;

		if (vd->kind == XLB_REMOVED)
			continue;
		v = &p->want.vips[vd->new_idx];
		if (vd->kind == XLB_ADDED) {
			while (next_vip < XLB_MAX_VIPS &&
			       st->vip_used[next_vip])
				next_vip++;
			if (next_vip == XLB_MAX_VIPS) {
				xlb_err("no free VIP id for %s: at most %d VIPs, counting the ones this reload removes; reload in two steps\n",
					v->name, XLB_MAX_VIPS);
				return -ENOSPC;
			}
			p->new_vip_id[vd->new_idx] = next_vip++;
		} else {
			p->new_vip_id[vd->new_idx] = st->vip_id[vd->old_idx];
		}
		slots = calloc(v->n_backends ? v->n_backends : 1,
			       sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		p->new_slot[vd->new_idx] = slots;
		for (size_t k = 0; k < vd->n_be; k++) {
			const struct xlb_be_diff *bd = &vd->be[k];

			if (bd->kind == XLB_REMOVED)
				continue;
			if (bd->kind != XLB_ADDED) {
				slots[bd->new_idx] =
					st->slot[vd->old_idx][bd->old_idx];
				continue;
			}
			while (next_slot < XLB_MAX_BACKENDS &&
			       (st->be[next_slot].flags & XLB_BE_F_IN_USE))
				next_slot++;
			if (next_slot == XLB_MAX_BACKENDS) {
				xlb_err("no free backend slot for VIP %s: at most %d backends, counting the ones this reload removes; reload in two steps\n",
					v->name, XLB_MAX_BACKENDS);
				return -ENOSPC;
			}
			slots[bd->new_idx] = next_slot++;
		}
	}
	err = plan_rings(in, st, loading, p);
	if (err)
		return err;
	err = plan_index(in, loading, p);
	if (err)
		return err;
	if (p->d.vips_removed) {
		static const struct xlb_vip_cfg none = { .name = "(removed)" };

		err = build_ring(&none, NULL, in->ring_size, MARKS_NONE, -1,
				 &p->empty_fd);
		if (err)
			return err;
	}
	return build_rings(p->rings, p->n_rings, in->ring_size);
}

struct ring_jobs {
	struct new_ring *r;
	size_t n, next;
	__u32 m;
	pthread_mutex_t lock;
};

static void *ring_worker(void *arg)
{
	struct ring_jobs *j = arg;

	for (;;) {
		struct new_ring *r;

		pthread_mutex_lock(&j->lock);
		r = j->next < j->n ? &j->r[j->next++] : NULL;
		pthread_mutex_unlock(&j->lock);
		if (!r)
			return NULL;
		r->err = build_ring(r->vip, r->slots, j->m, r->marks, r->old_fd,
				    &r->fd);
	}
}

/* Maglev builds are independent and take milliseconds each at the default
 * table size: spread them over the CPUs. */
static int build_rings(struct new_ring *r, size_t n, __u32 m)
{
	struct ring_jobs j = { .r = r, .n = n, .m = m };
	pthread_t tid[RING_THREADS_MAX];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nt = ncpu > 0 ? (size_t)ncpu : 1, started = 0;

	if (nt > RING_THREADS_MAX)
		nt = RING_THREADS_MAX;
	if (nt > n)
		nt = n;
	pthread_mutex_init(&j.lock, NULL);
	for (size_t i = 1; i < nt; i++) {
		if (pthread_create(&tid[started], NULL, ring_worker, &j))
			break;
		started++;
	}
	ring_worker(&j); /* this thread works too */
	for (size_t i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&j.lock);
	for (size_t i = 0; i < n; i++)
		if (r[i].err)
			return r[i].err;
	return 0;
}

static int zero_percpu(int fd, __u32 key, size_t vsize)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t sz = ((vsize + 7) / 8 * 8) * (size_t)(ncpu > 0 ? ncpu : 1);
	void *z = calloc(1, sz);
	int err;

	if (!z)
		return -ENOMEM;
	err = bpf_map_update_elem(fd, &key, z, 0);
	free(z);
	return err;
}

#define TRY(call, ...)                                                                                \
	do {                                                                                          \
		err = (call);                                                                         \
		if (err) {                                                                            \
			xlb_err(__VA_ARGS__);                                                         \
			xlb_err("the maps are now partly updated: fix the cause and reload again\n"); \
			return err;                                                                   \
		}                                                                                     \
	} while (0)

/* Each ARRAY_OF_MAPS update waits for an RCU grace period (the kernel
 * makes sure no program still uses the old inner map when it returns);
 * a batch update waits once for all of them (Linux >= 6.8). */
static int swap_rings(const struct xlb_instance *in, const struct plan *p)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 *keys, n = (__u32)p->n_rings;
	int *fds, err;

	if (!n)
		return 0;
	keys = calloc(n, sizeof(*keys));
	fds = calloc(n, sizeof(*fds));
	if (!keys || !fds) {
		free(keys);
		free(fds);
		return -ENOMEM;
	}
	for (__u32 i = 0; i < n; i++) {
		keys[i] = p->rings[i].vip_id;
		fds[i] = p->rings[i].fd;
	}
	err = bpf_map_update_batch(in->rings_fd, keys, fds, &n, &o);
	if (err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUPP) {
		xlb_dbg("batch update of xlb_rings refused (%s); one by one\n",
			strerror(-err));
		err = 0;
		for (__u32 i = 0; i < p->n_rings && !err; i++)
			err = bpf_map_update_elem(in->rings_fd, &keys[i],
						  &fds[i], 0);
	}
	free(keys);
	free(fds);
	return err;
}

/* Release the rings of removed VIPs. Deleting is one RCU wait per ring;
 * instead point every removed id at one shared empty ring in a single
 * batch update (one wait for all): the old rings are freed just the same,
 * and the ids stay unreachable (their xlb_vips entries are gone) until a
 * new VIP takes one and swaps in its own ring. */
static int drop_rings(const struct xlb_instance *in, const struct plan *p,
		      __u32 *ids, __u32 n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 cnt = n;
	int *fds, err = -EINVAL;

	if (!n)
		return 0;
	fds = calloc(n, sizeof(*fds));
	if (fds && p->empty_fd >= 0) {
		for (__u32 i = 0; i < n; i++)
			fds[i] = p->empty_fd;
		err = bpf_map_update_batch(in->rings_fd, ids, fds, &cnt, &o);
	}
	free(fds);
	if (!err)
		return 0;
	xlb_dbg("batch update of xlb_rings refused (%s); deleting one by one\n",
		strerror(-err));
	for (__u32 i = 0; i < n; i++) {
		err = bpf_map_delete_elem(in->rings_fd, &ids[i]);
		if (err && err != -ENOENT)
			return err;
	}
	return 0;
}

/* Backend slot writes gathered for one batch update (one syscall instead
 * of one per slot: 51,200 slots at load). */
struct be_batch {
	__u32 *keys;
	struct xlb_backend *vals;
	__u32 n, cap;
};

static int be_batch_add(struct be_batch *bb, __u32 slot,
			const struct xlb_backend *b)
{
	if (bb->n == bb->cap) {
		__u32 cap = bb->cap ? bb->cap * 2 : 256;
		__u32 *k = realloc(bb->keys, cap * sizeof(*k));
		struct xlb_backend *v;

		if (!k)
			return -ENOMEM;
		bb->keys = k;
		v = realloc(bb->vals, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		bb->vals = v;
		bb->cap = cap;
	}
	bb->keys[bb->n] = slot;
	bb->vals[bb->n++] = *b;
	return 0;
}

/* Write and empty the batch; element by element if the kernel has no
 * batch support. */
static int be_batch_flush(int fd, struct be_batch *bb)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 cnt = bb->n;
	int err = 0;

	if (!bb->n)
		return 0;
	err = bpf_map_update_batch(fd, bb->keys, bb->vals, &cnt, &o);
	if (err) {
		err = 0;
		for (__u32 i = 0; i < bb->n && !err; i++)
			err = bpf_map_update_elem(fd, &bb->keys[i],
						  &bb->vals[i], 0);
	}
	bb->n = 0;
	return err;
}

static void be_batch_free(struct be_batch *bb)
{
	free(bb->keys);
	free(bb->vals);
}

/* The address filter exactly as @w's VIP addresses need it. */
static int write_filter(const struct xlb_instance *in,
			const struct xlb_config *w)
{
	__be32(*addrs)[4] = calloc(w->n_vips ? w->n_vips : 1, sizeof(*addrs));
	__u8 *fam = calloc(w->n_vips ? w->n_vips : 1, 1);
	int err = -ENOMEM;

	if (addrs && fam) {
		for (size_t i = 0; i < w->n_vips; i++) {
			memcpy(addrs[i], w->vips[i].addr.a, sizeof(addrs[i]));
			fam[i] = w->vips[i].addr.family;
		}
		err = xlb_filter_write(in->filter_fd, (const __be32(*)[4])addrs,
				       fam, w->n_vips);
	}
	free(addrs);
	free(fam);
	return err;
}

/* Delete the xlb_vips keys and xlb_vip_addrs addresses no VIP of @w owns:
 * a reload stopped between writing a VIP's entry and its name (which is
 * what makes a VIP known to the next one) leaves them behind. The
 * datapath reads VIPs from the index; the addresses answer echo. */
static int sweep_orphans(const struct xlb_instance *in,
			 const struct xlb_config *w)
{
	struct xlb_vip_key k, nk, *dk = calloc(XLB_MAX_VIPS + 1, sizeof(*dk));
	struct xlb_addr_key a, na, *da = calloc(XLB_MAX_VIPS + 1, sizeof(*da));
	size_t nd = 0, na_n = 0;
	int err = 0;

	if (!dk || !da) {
		free(dk);
		free(da);
		return -ENOMEM;
	}
	/* from a key no map holds (the first key follows), not NULL, which
	 * valgrind takes for a bad pointer */
	memset(&k, 0xff, sizeof(k));
	memset(&a, 0xff, sizeof(a));
	for (int r = bpf_map_get_next_key(in->vips_fd, &k, &nk);
	     !r && nd <= XLB_MAX_VIPS;
	     r = bpf_map_get_next_key(in->vips_fd, &k, &nk)) {
		bool owned = false;

		k = nk;
		for (size_t i = 0; i < w->n_vips && !owned; i++) {
			struct xlb_vip_key wk;

			xlb_vip_key_of(&wk, &w->vips[i]);
			owned = !memcmp(&wk, &k, sizeof(k));
		}
		if (!owned)
			dk[nd++] = k;
	}
	for (int r = bpf_map_get_next_key(in->addrs_fd, &a, &na);
	     !r && na_n <= XLB_MAX_VIPS;
	     r = bpf_map_get_next_key(in->addrs_fd, &a, &na)) {
		bool owned = false;

		a = na;
		for (size_t i = 0; i < w->n_vips && !owned; i++) {
			struct xlb_addr_key wa;

			addr_key(&wa, &w->vips[i].addr);
			owned = !memcmp(&wa, &a, sizeof(a));
		}
		if (!owned)
			da[na_n++] = a;
	}
	for (size_t i = 0; i < nd && !err; i++)
		if (bpf_map_delete_elem(in->vips_fd, &dk[i]) && errno != ENOENT)
			err = -errno;
	for (size_t i = 0; i < na_n && !err; i++)
		if (bpf_map_delete_elem(in->addrs_fd, &da[i]) &&
		    errno != ENOENT)
			err = -errno;
	if (!err && (nd || na_n))
		xlb_warn(
			"deleted %zu VIP entr%s and %zu address%s no VIP owns (an earlier reload stopped half-way?)\n",
			nd, nd == 1 ? "y" : "ies", na_n, na_n == 1 ? "" : "es");
	free(dk);
	free(da);
	return err;
}

/* The writes, in the order that keeps every VIP consistent for the
 * datapath at every step. */
static int apply_writes(const struct xlb_instance *in,
			const struct xlb_state *st, struct plan *p,
			struct be_batch *bb)
{
	struct xlb_config *w = &p->want;
	__u32 gone[XLB_MAX_VIPS], n_gone = 0;
	struct xlb_backend b;
	int err;

	/* 1. Backend slots: new ones, and changes that keep or make them
	 *    live (down ones lose LIVE only after the rings no longer name
	 *    them). Fresh ids start with zeroed counters. */
	for (size_t i = 0; i < p->d.n_vips; i++) {
		const struct xlb_vip_diff *vd = &p->d.vips[i];

		if (vd->kind == XLB_REMOVED)
			continue;
		__u32 vid = p->new_vip_id[vd->new_idx];

		if (vd->kind == XLB_ADDED)
			TRY(zero_percpu(in->vip_stats_fd, vid,
					sizeof(struct xlb_vip_stats)),
			    "cannot reset counters of VIP id %u: %s\n", vid,
			    strerror(-err));
		for (size_t k = 0; k < vd->n_be; k++) {
			const struct xlb_be_diff *bd = &vd->be[k];
			const struct xlb_backend_cfg *bc;
			__u32 s;

			if (bd->kind != XLB_ADDED && bd->kind != XLB_CHANGED)
				continue;
			bc = &w->vips[vd->new_idx].backends[bd->new_idx];
			s = p->new_slot[vd->new_idx][bd->new_idx];
			if (bd->kind == XLB_CHANGED &&
			    bc->state == XLB_BE_STATE_DOWN)
				continue;
			if (bd->kind == XLB_ADDED) {
				mk_backend(&b, bc, vid,
					   next_gen(st->be[s].gen));
				/* gen 0: never used, counters still 0 */
				if (st->be[s].gen)
					TRY(zero_percpu(in->be_stats_fd, s,
							sizeof(struct
							       xlb_be_stats)),
					    "cannot reset counters of backend slot %u: %s\n",
					    s, strerror(-err));
			} else {
				mk_backend(&b, bc, vid, st->be[s].gen);
			}
			TRY(be_batch_add(bb, s, &b), "out of memory%s\n", "");
		}
	}
	/* A slot used before gets its new contents with no flags first, and
	 * its flags in a second write: a late reader whose copy tears across
	 * either write sees flags 0 or a consistent entry. */
	for (__u32 i = 0; i < bb->n; i++) {
		struct xlb_backend pre = bb->vals[i];
		__u32 s = bb->keys[i];

		if (!st->be[s].gen || (st->be[s].flags & XLB_BE_F_IN_USE))
			continue;
		pre.flags = 0;
		TRY(bpf_map_update_elem(in->backends_fd, &s, &pre, 0),
		    "cannot write backend slot %u: %s\n", s, strerror(-err));
	}
	TRY(be_batch_flush(in->backends_fd, bb),
	    "cannot write backend slots: %s\n", strerror(-err));
	/* 2. Rings: one update each, atomic for the datapath. */
	TRY(swap_rings(in, p), "cannot swap in the new rings: %s\n",
	    strerror(-err));
	/* 3. VIP entries and names, then the addresses they use; their
	 *    filter bits first, so no VIP is ever filtered out. */
	for (size_t i = 0; i < w->n_vips; i++)
		TRY(xlb_filter_add(in->filter_fd, w->vips[i].addr.a,
				   w->vips[i].addr.family),
		    "cannot write the address filter: %s\n", strerror(-err));
	for (size_t i = 0; i < p->d.n_vips; i++) {
		const struct xlb_vip_diff *vd = &p->d.vips[i];
		const struct xlb_vip_cfg *v;
		struct xlb_vip_meta m = {};
		struct xlb_vip vip = {};
		struct xlb_vip_key k;
		__u32 vid;

		if (vd->kind == XLB_REMOVED || vd->kind == XLB_SAME)
			continue;
		v = &w->vips[vd->new_idx];
		vid = p->new_vip_id[vd->new_idx];
		xlb_vip_key_of(&k, v);
		mk_vip(&vip, v, vid);
		TRY(bpf_map_update_elem(in->vips_fd, &k, &vip, 0),
		    "cannot write VIP %s: %s\n", v->name, strerror(-err));
		snprintf(m.name, sizeof(m.name), "%s", v->name);
		m.key = k;
		m.ring_size = in->ring_size;
		m.ring_fp = xlb_ring_fingerprint(v);
		TRY(bpf_map_update_elem(in->meta_fd, &vid, &m, 0),
		    "cannot write the name of VIP %s: %s\n", v->name,
		    strerror(-err));
	}
	for (size_t i = 0; i < w->n_vips; i++) {
		struct xlb_vip_addr va = {}, cur;
		struct xlb_addr_key ak;
		bool first = true;

		for (size_t j = 0; j < i && first; j++)
			if (xlb_addr_eq(&w->vips[j].addr, &w->vips[i].addr))
				first = false;
		if (!first)
			continue;
		for (size_t j = i; j < w->n_vips; j++)
			if (xlb_addr_eq(&w->vips[j].addr, &w->vips[i].addr))
				va.refs++;
		va.flags = w->vips[i].icmp_echo ? XLB_ADDR_F_ICMP_ECHO : 0;
		addr_key(&ak, &w->vips[i].addr);
		if (!bpf_map_lookup_elem(in->addrs_fd, &ak, &cur) &&
		    !memcmp(&cur, &va, sizeof(va)))
			continue;
		TRY(bpf_map_update_elem(in->addrs_fd, &ak, &va, 0),
		    "cannot write the address entry of VIP %s: %s\n",
		    w->vips[i].name, strerror(-err));
	}
	/* 4. Removed VIPs: entry first (no new packet finds it), then the
	 *    ring, the name, and addresses no VIP uses any more. */
	for (size_t i = 0; i < p->d.n_vips; i++) {
		const struct xlb_vip_diff *vd = &p->d.vips[i];
		const struct xlb_vip_cfg *v;
		struct xlb_vip_meta m = {};
		struct xlb_vip_key k;
		__u32 vid;

		if (vd->kind != XLB_REMOVED)
			continue;
		v = &st->cfg.vips[vd->old_idx];
		vid = st->vip_id[vd->old_idx];
		xlb_vip_key_of(&k, v);
		err = bpf_map_delete_elem(in->vips_fd, &k);
		if (err && err != -ENOENT)
			TRY(err, "cannot delete VIP %s: %s\n", v->name,
			    strerror(-err));
		gone[n_gone++] = vid;
		TRY(bpf_map_update_elem(in->meta_fd, &vid, &m, 0),
		    "cannot clear the name of VIP %s: %s\n", v->name,
		    strerror(-err));
	}
	/* The index the datapath reads: the new and changed VIPs in, the
	 *    removed ones out, in one swap. */
	if (p->index)
		TRY(xlb_vip_index_install(in->index_fd, p->index),
		    "cannot swap in the new VIP index: %s\n", strerror(-err));
	TRY(drop_rings(in, p, gone, n_gone),
	    "cannot delete the rings of removed VIPs: %s\n", strerror(-err));
	for (size_t i = 0; i < st->cfg.n_vips; i++) {
		const struct xlb_addr *a = &st->cfg.vips[i].addr;
		struct xlb_addr_key ak;
		bool used = false;

		for (size_t j = 0; j < w->n_vips && !used; j++)
			used = xlb_addr_eq(&w->vips[j].addr, a);
		if (used)
			continue;
		addr_key(&ak, a);
		err = bpf_map_delete_elem(in->addrs_fd, &ak);
		if (err && err != -ENOENT)
			TRY(err, "cannot delete an address entry: %s\n",
			    strerror(-err));
	}
	TRY(sweep_orphans(in, w), "cannot delete stale VIP entries: %s\n",
	    strerror(-err));
	/* Bits only removed addresses used may clear now. */
	TRY(write_filter(in, w), "cannot write the address filter: %s\n",
	    strerror(-err));
	/* 5. Backends that left: free the slot with a new generation, so
	 *    remembered flows to them stop matching; down ones lose LIVE
	 *    (and get a new generation too). */
	for (size_t i = 0; i < p->d.n_vips; i++) {
		const struct xlb_vip_diff *vd = &p->d.vips[i];

		for (size_t k = 0; k < vd->n_be; k++) {
			const struct xlb_be_diff *bd = &vd->be[k];
			__u32 s;

			if (bd->kind == XLB_REMOVED) {
				/* Only flags and generation change: a reader
				 * whose copy tears across this write still
				 * sees the removed backend's own address,
				 * never a mix or zeros. */
				s = st->slot[vd->old_idx][bd->old_idx];
				b = st->be[s];
				b.flags = 0;
				b.gen = next_gen(st->be[s].gen);
			} else if (bd->kind == XLB_CHANGED &&
				   w->vips[vd->new_idx]
						   .backends[bd->new_idx]
						   .state ==
					   XLB_BE_STATE_DOWN) {
				/* Going down also forgets its flows for
				 * good: a new generation, so they do not
				 * come back if it returns. */
				s = p->new_slot[vd->new_idx][bd->new_idx];
				mk_backend(&b,
					   &w->vips[vd->new_idx]
						    .backends[bd->new_idx],
					   p->new_vip_id[vd->new_idx],
					   st->be[s].state ==
							   XLB_BE_STATE_DOWN ?
						   st->be[s].gen :
						   next_gen(st->be[s].gen));
			} else {
				continue;
			}
			TRY(be_batch_add(bb, s, &b), "out of memory%s\n", "");
		}
	}
	/* Slots of no VIP (xlb_state_read()) go as removed ones do: no ring
	 * the datapath can reach names them now that the index is the
	 * VIPs'. */
	for (size_t i = 0; i < st->n_orphan; i++) {
		__u32 s = st->orphan[i];

		b = st->be[s];
		b.flags = 0;
		b.gen = next_gen(st->be[s].gen);
		TRY(be_batch_add(bb, s, &b), "out of memory%s\n", "");
	}
	TRY(be_batch_flush(in->backends_fd, bb),
	    "cannot write backend slots: %s\n", strerror(-err));
	/* 6. Global settings. */
	if (p->hw_changed) {
		__u32 zero = 0;

		TRY(bpf_map_update_elem(in->cfg_fd, &zero, &p->hw, 0),
		    "cannot write xlb_cfg: %s\n", strerror(-err));
	}
	return 0;
}

static int plan_apply(const struct xlb_instance *in, const struct xlb_state *st,
		      struct plan *p)
{
	struct be_batch bb = {};
	int err = apply_writes(in, st, p, &bb);

	be_batch_free(&bb);
	return err;
}

/* Lock an instance directory against concurrent load/reload/unload of
 * the same instance (others go on in parallel). Returns the fd holding
 * the lock, -ENOENT if there is no such instance, or -errno. */
static int lock_dir(const char *dir)
{
	int fd, err;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	if (flock(fd, LOCK_EX)) {
		err = -errno;
		xlb_err("cannot lock %s: %s\n", dir, strerror(errno));
		close(fd);
		return err;
	}
	return fd;
}

/* Create and lock the directory of a new instance: creating it is the
 * claim, so of two loads on one interface only one goes on. */
static int claim_instance(const char *dir, const char *ifname)
{
	for (int tries = 0;; tries++) {
		if (mkdir(XLB_PIN_ROOT, 0700) && errno != EEXIST)
			break;
		if (!mkdir(dir, 0700))
			return lock_dir(dir);
		if (errno == EEXIST) {
			xlb_err("xlb is already loaded on %s (%s); use `xlbctl reload -c FILE` or `xlbctl unload -i %s`\n",
				ifname, dir, ifname);
			return -EEXIST;
		}
		/* ENOENT: an unload removed the empty root meanwhile. */
		if (errno != ENOENT || tries == 3)
			break;
	}
	xlb_err("cannot create %s: %s\n", dir, strerror(errno));
	return -errno;
}

static void count_cfg(const struct xlb_config *cfg, struct xlb_sync_report *r)
{
	r->n_vips = cfg->n_vips;
	r->n_backends = 0;
	for (size_t i = 0; i < cfg->n_vips; i++)
		r->n_backends += cfg->vips[i].n_backends;
}

/* Sync @cfg into the open instance; @loading: xlb_load() made it just
 * now (nothing to compare the load-time settings with, its tables are
 * empty). @t0: start of the command. */
static int sync_instance(const struct xlb_instance *in,
			 const struct xlb_config *cfg, bool loading, double t0,
			 struct xlb_sync_report *rep)
{
	struct xlb_state st;
	struct plan p;
	char why[1024];
	double t1;
	int err;

	err = xlb_state_read(in, &st);
	if (err) {
		xlb_err("cannot read the running state from %s: %s\n", in->dir,
			strerror(-err));
		return err;
	}
	/* Detached (by someone else): the mode is whatever a new attach
	 * will use, not a setting to compare. */
	if (!in->attached)
		st.cfg.mode_generic = cfg->mode_generic;
	if (!loading && xlb_diff_fixed(&st.cfg, cfg, why, sizeof(why))) {
		xlb_err("%s\n", why);
		xlb_state_free(&st);
		return -EINVAL;
	}
	t1 = now_ms();
	if (rep)
		rep->ms_read = t1 - t0;
	if (st.n_orphan)
		xlb_warn(
			"%zu backend slot(s) belong to no VIP (an earlier reload stopped half-way?); freeing them\n",
			st.n_orphan);
	err = plan_make(in, &st, cfg, loading, &p);
	if (rep)
		rep->ms_plan = now_ms() - t1;
	if (err) {
		if (err == -ENOMEM)
			xlb_err("out of memory while preparing the update\n");
		xlb_err("nothing was changed\n");
		goto out;
	}
	t1 = now_ms();
	err = plan_apply(in, &st, &p);
	if (rep) {
		xlb_diff_summary(&p.d, rep->summary, sizeof(rep->summary));
		rep->ms_apply = now_ms() - t1;
		rep->ms = now_ms() - t0;
		count_cfg(cfg, rep);
	}
out:
	plan_free(&p);
	xlb_state_free(&st);
	return err;
}

/* Room for one fd per ring built aside (up to XLB_MAX_VIPS at once). */
static void raise_nofile(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r))
		return;
	if (r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

int xlb_reload(const struct xlb_config *cfg, int mode,
	       struct xlb_sync_report *rep)
{
	struct xlb_config c = *cfg;
	struct xlb_instance in;
	char dir[PATH_MAX];
	int lock, err;
	double t0;

	err = xlb_require_root();
	if (err)
		return err;
	raise_nofile();
	snprintf(dir, sizeof(dir), "%s/%s", XLB_PIN_ROOT, cfg->interface);
	lock = lock_dir(dir);
	if (lock == -ENOENT) {
		xlb_err("nothing loaded on %s; run `xlbctl load -c %s` first\n",
			cfg->interface, cfg->path);
		return lock;
	}
	if (lock < 0)
		return lock;
	/* The time of the work, not of waiting for another xlbctl. */
	t0 = now_ms();
	err = xlb_instance_open(cfg->interface, &in);
	if (err == -ENOENT) {
		xlb_err("nothing loaded on %s; run `xlbctl load -c %s` first\n",
			cfg->interface, cfg->path);
		goto out;
	}
	if (err)
		goto out;
	if (!in.attached)
		xlb_warn(
			"the program is not attached to %s (%s); updating the maps anyway; `xlbctl unload` then `xlbctl load` attaches it again\n",
			in.ifname,
			in.attached_id ? "another XDP program is" :
					 "no XDP program is");
	if (mode >= 0)
		c.mode_generic = mode;
	else if (!c.mode_set && in.attached)
		c.mode_generic = in.generic; /* said nowhere: what runs */
	err = sync_instance(&in, &c, false, t0, rep);
	xlb_instance_close(&in);
out:
	close(lock);
	return err;
}

/* ---- Load and unload ---------------------------------------------------- */

static int ensure_bpffs(void)
{
	struct statfs s;

	if (!statfs(BPFFS, &s) && s.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", BPFFS, "bpf", 0, "mode=0700")) {
		xlb_err("%s is not a bpf filesystem and mounting one failed: %s; run `mount -t bpf bpf %s`\n",
			BPFFS, strerror(errno), BPFFS);
		return -errno;
	}
	return 0;
}

static void prog_name(__u32 id, char *buf, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	int fd;

	snprintf(buf, len, "?");
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &ilen))
		snprintf(buf, len, "%s", info.name);
	close(fd);
}

static int rm_dir(const char *dir)
{
	struct dirent *de;
	char p[PATH_MAX + 300];
	int err = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (unlink(p) && !err)
			err = -errno;
	}
	closedir(d);
	if (rmdir(dir) && !err)
		err = -errno;
	return err;
}

static int pin_all(struct xlb *skel, const char *dir)
{
	char p[PATH_MAX + 32];
	struct bpf_map *m;
	int err;

	snprintf(p, sizeof(p), "%s/%s", dir, XLB_PIN_PROG);
	err = bpf_program__pin(skel->progs.xlb_main, p);
	if (!err)
		err = chmod(p, 0600) ? -errno : 0;
	for (size_t i = 0; !err && i < N_PIN_MAPS; i++) {
		m = i == N_PIN_MAPS - 1 ? skel->maps.rodata :
					  bpf_object__find_map_by_name(
						  skel->obj, pin_maps[i].name);
		if (!m) {
			xlb_err("the object has no map %s: xlb.bpf.o and xlbctl do not match\n",
				pin_maps[i].name);
			return -ENOENT;
		}
		snprintf(p, sizeof(p), "%s/%s", dir, pin_maps[i].name);
		err = bpf_map__pin(m, p);
		if (!err)
			err = chmod(p, 0600) ? -errno : 0;
	}
	if (err)
		xlb_err("cannot pin %s: %s\n", p, strerror(-err));
	return err;
}

static int attach(int prog_fd, int ifindex, const char *ifname, bool generic)
{
	enum xdp_attach_mode mode = generic ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	struct xdp_program *xp;
	char msg[256];
	int err;

	xp = xdp_program__from_fd(prog_fd);
	err = libxdp_get_error(xp);
	if (err) {
		libxdp_strerror(err, msg, sizeof(msg));
		xlb_err("libxdp cannot use the loaded program: %s\n", msg);
		return err;
	}
	err = xdp_program__attach(xp, ifindex, mode, 0);
	xdp_program__close(xp);
	if (!err)
		return 0;
	libxdp_strerror(err, msg, sizeof(msg));
	if (!generic && (err == -EOPNOTSUPP || err == -EINVAL))
		xlb_err("cannot attach to %s in native mode: %s; the driver may not support XDP: try --mode generic\n",
			ifname, msg);
	else
		xlb_err("cannot attach to %s (%s mode): %s\n", ifname,
			generic ? "generic" : "native", msg);
	return err;
}

/* Making the connection tables takes about a second per 10^5 chunks:
 * progress on stderr from this many chunks in all (conntrack_size of some
 * 6.6 million flows). */
#define CT_PROGRESS_CHUNKS 20000
#define CT_CHUNK_ALLOC 32768.0 /* bytes the kernel takes for a chunk */

struct ct_progress {
	double t0, shown; /* ms */
	bool tty;
};

/* A load holds SIGINT, SIGTERM and SIGHUP (xlb_load()): one of them is
 * waiting, so the load stops at its next step and removes what it made. */
static bool stop_asked(void)
{
	sigset_t p;

	return !sigpending(&p) &&
	       (sigismember(&p, SIGINT) || sigismember(&p, SIGTERM) ||
		sigismember(&p, SIGHUP));
}

static int ct_progress(uint32_t done, uint32_t total, void *arg)
{
	struct ct_progress *p = arg;
	double t = now_ms(), secs = (t - p->t0) / 1000;
	bool last = done >= total;

	if (stop_asked())
		return -EINTR;
	if (total < CT_PROGRESS_CHUNKS ||
	    (!last && t - p->shown < (p->tty ? 250 : 5000)))
		return 0;
	p->shown = t;
	fprintf(stderr,
		"%sxlbctl: making the connection tables: %u of %u chunks (%.1f of %.1f GB) in %.1f s, %.0f chunks/s%s",
		p->tty ? "\r" : "", done, total, done * CT_CHUNK_ALLOC / 1e9,
		total * CT_CHUNK_ALLOC / 1e9, secs,
		secs > 0 ? done / secs : 0.0, p->tty && !last ? "" : "\n");
	return 0;
}

static int load(const struct xlb_config *cfg, const struct xlb_load_opts *opts,
		struct xlb_sync_report *rep)
{
	struct xlb_config c = *cfg;
	double t0 = now_ms();
	struct xlb_instance in;
	char dir[PATH_MAX], name[64];
	struct xlb *skel = NULL;
	bool generic, gen_now;
	struct ct_progress prog;
	int lock, ifindex, err, tmpl_fd = -1;
	__u32 cur;

	instance_init(&in);
	err = xlb_require_root();
	if (err)
		return err;
	raise_nofile();
	if (opts && opts->mode >= 0)
		c.mode_generic = opts->mode;
	generic = c.mode_generic;
	ifindex = (int)if_nametoindex(c.interface);
	if (!ifindex) {
		xlb_err("interface %s (from %s) does not exist\n", c.interface,
			c.path);
		return -ENODEV;
	}
	err = ensure_bpffs();
	if (err)
		return err;
	snprintf(dir, sizeof(dir), "%s/%s", XLB_PIN_ROOT, c.interface);
	if (!access(dir, F_OK)) {
		xlb_err("xlb is already loaded on %s (%s); use `xlbctl reload -c FILE` or `xlbctl unload -i %s`\n",
			c.interface, dir, c.interface);
		return -EEXIST;
	}
	err = link_prog(ifindex, &cur, &gen_now);
	if (err) {
		xlb_err("cannot query XDP on %s: %s\n", c.interface,
			strerror(-err));
		return err;
	}
	if (cur) {
		prog_name(cur, name, sizeof(name));
		xlb_err("%s already has XDP program id %u attached (name %s), not loaded by xlbctl; detach it first (`ip link set dev %s xdp off`, or the tool that loaded it)\n",
			c.interface, cur, name, c.interface);
		return -EBUSY;
	}
	lock = claim_instance(dir, c.interface);
	if (lock < 0)
		return lock;

	skel = xlb__open();
	if (!skel) {
		err = -errno;
		xlb_err("cannot open the BPF object: %s\n", strerror(errno));
		goto out_lock;
	}
	skel->rodata->ring_size = c.maglev_table_size;
	/* libbpf 1.1 crashes in bpf_map__set_max_entries() on an inner map
	 * (its obj pointer is NULL): give the outer map a template of the
	 * right size instead. */
	tmpl_fd = ring_map_create(c.maglev_table_size);
	err = tmpl_fd < 0 ?
		      tmpl_fd :
		      bpf_map__set_inner_map_fd(skel->maps.xlb_rings, tmpl_fd);
	if (!err)
		err = xlb_ct_size(skel->maps.xlb_conntrack4,
				  skel->maps.xlb_conntrack6, c.conntrack_size,
				  &skel->rodata->conntrack);
	if (err) {
		xlb_err("cannot size the maps: %s\n", strerror(-err));
		goto out_skel;
	}
	err = xlb__load(skel);
	if (err) {
		xlb_err("the kernel refused the program or its maps: %s%s\n",
			strerror(-err),
			xlb_log_verbose() ?
				"" :
				" (run with -v for the verifier log)");
		goto out_skel;
	}
	prog = (struct ct_progress){ .t0 = now_ms(),
				     .tty = isatty(STDERR_FILENO) };
	err = xlb_ct_populate(bpf_map__fd(skel->maps.xlb_conntrack4),
			      bpf_map__fd(skel->maps.xlb_conntrack6),
			      ct_progress, &prog);
	if (err == -EINTR) {
		if (prog.shown)
			fputc('\n', stderr);
		goto out_skel;
	}
	if (err) {
		xlb_err("cannot make the connection tables for conntrack_size %u (%.0f MB): %s; lower conntrack_size or free memory\n",
			c.conntrack_size,
			(skel->rodata->conntrack.chunks4 +
			 skel->rodata->conntrack.chunks6) *
				CT_CHUNK_ALLOC / 1e6,
			strerror(-err));
		goto out_skel;
	}
	err = stop_asked() ? -EINTR : pin_all(skel, dir);
	if (err)
		goto out_pins;
	err = xlb_instance_open(c.interface, &in);
	if (err)
		goto out_pins;
	/* Fill the maps before attaching: the program never runs on a
	 * half-made configuration. */
	err = sync_instance(&in, &c, true, t0, rep);
	if (!err && stop_asked())
		err = -EINTR;
	if (err)
		goto out_pins;
	err = attach(in.prog_fd, ifindex, c.interface, generic);
	if (err)
		goto out_pins;
	if (rep)
		rep->ms = now_ms() - t0;
	xlb_instance_close(&in);
	xlb__destroy(skel);
	close(tmpl_fd);
	close(lock);
	return 0;
out_pins:
	xlb_instance_close(&in);
out_skel:
	xlb__destroy(skel);
	if (tmpl_fd >= 0)
		close(tmpl_fd);
out_lock:
	rm_dir(dir);
	rmdir(XLB_PIN_ROOT); /* only if it is now empty */
	close(lock);
	return err;
}

int xlb_load(const struct xlb_config *cfg, const struct xlb_load_opts *opts,
	     struct xlb_sync_report *rep)
{
	sigset_t hold, old;
	int err;

	/* Ctrl-C (or a service manager's stop) while a load runs would
	 * leave a half-made instance behind: hold the signals, let the load
	 * stop at its next step and remove what it made, then take them. */
	sigemptyset(&hold);
	sigaddset(&hold, SIGINT);
	sigaddset(&hold, SIGTERM);
	sigaddset(&hold, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &hold, &old);
	err = load(cfg, opts, rep);
	if (err == -EINTR)
		xlb_err("interrupted: nothing was loaded on %s\n",
			cfg->interface);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

/* Detach exactly program @fd from @ifindex (and nothing that replaced
 * it meanwhile). */
static int detach_fd(int ifindex, int fd, bool generic)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = fd);

	return bpf_xdp_detach(
		ifindex,
		XDP_FLAGS_REPLACE |
			(generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE),
		&o);
}

static int detach(const struct xlb_instance *in)
{
	struct xdp_program *xp;
	char msg[256];
	int err;

	xp = xdp_program__from_fd(in->prog_fd);
	err = libxdp_get_error(xp);
	if (!err) {
		err = xdp_program__detach(
			xp, in->ifindex,
			in->generic ? XDP_MODE_SKB : XDP_MODE_NATIVE, 0);
		xdp_program__close(xp);
	}
	if (err) {
		/* libxdp could not: detach exactly our program by fd. */
		libxdp_strerror(err, msg, sizeof(msg));
		xlb_dbg("libxdp detach failed (%s), using bpf_xdp_detach\n",
			msg);
		err = detach_fd(in->ifindex, in->prog_fd, in->generic);
	}
	if (err)
		xlb_err("cannot detach the program from %s: %s\n", in->ifname,
			strerror(-err));
	return err;
}

/* Detach what an incomplete instance in @dir left on @ifname: the
 * program pinned there if it is the one attached, or, without that pin,
 * an attached program named xlb_main (ours: only xlbctl attaches it). */
static int detach_incomplete(const char *ifname, const char *dir)
{
	struct bpf_prog_info info = {}, pinned = {};
	__u32 len = sizeof(info), plen = sizeof(pinned), id = 0;
	int ifindex = (int)if_nametoindex(ifname), fd, pfd, err;
	char path[PATH_MAX + 32];
	bool generic = false, ours;

	if (!ifindex || link_prog(ifindex, &id, &generic) || !id)
		return 0; /* interface gone, or nothing attached */
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		xlb_err("cannot inspect the XDP program (id %u) on %s: %s\n",
			id, ifname, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, XLB_PIN_PROG);
	pfd = bpf_obj_get(path);
	if (pfd >= 0) {
		ours = !bpf_obj_get_info_by_fd(pfd, &pinned, &plen) &&
		       pinned.id == id;
		close(pfd);
	} else {
		ours = !strcmp(info.name, "xlb_main");
	}
	if (!ours) {
		xlb_warn(
			"%s has another XDP program (id %u, %s) attached, not ours: left alone\n",
			ifname, id, info.name);
		close(fd);
		return 0;
	}
	err = detach_fd(ifindex, fd, generic);
	close(fd);
	if (err)
		xlb_err("cannot detach the program (id %u) from %s: %s\n", id,
			ifname, strerror(-err));
	else
		xlb_info("detached the program (id %u) from %s\n", id, ifname);
	return err;
}

int xlb_unload(const char *ifname, bool *nothing)
{
	struct xlb_instance in;
	char dir[PATH_MAX];
	int lock, err;

	*nothing = false;
	err = xlb_require_root();
	if (err)
		return err;
	snprintf(dir, sizeof(dir), "%s/%s", XLB_PIN_ROOT, ifname);
	if (access(dir, F_OK)) {
		*nothing = true;
		return 0;
	}
	lock = lock_dir(dir);
	if (lock == -ENOENT) {
		*nothing = true;
		return 0;
	}
	if (lock < 0)
		return lock;
	err = instance_open(ifname, &in, true);
	if (err == -ENOENT) { /* removed meanwhile */
		*nothing = true;
		err = 0;
		goto out;
	}
	if (!err) {
		if (in.attached)
			err = detach(&in);
		else if (in.attached_id)
			xlb_warn(
				"%s has another XDP program (id %u) attached, not ours: left alone\n",
				ifname, in.attached_id);
		xlb_instance_close(&in);
		if (err)
			goto out;
	} else {
		/* a pin missing (a load interrupted, a pin removed) or an
		 * older xlbctl's layout: the program may still forward */
		xlb_warn("removing the incomplete instance %s (%s)\n", dir,
			 err == -ESTALE ? "a pin is missing" :
			 err == -EINVAL ? "an older xlbctl's layout" :
					  strerror(-err));
		err = detach_incomplete(ifname, dir);
		if (err)
			goto out;
	}
	err = rm_dir(dir);
	if (err)
		xlb_err("cannot remove %s: %s\n", dir, strerror(-err));
	rmdir(XLB_PIN_ROOT); /* only if it is now empty */
	/* libxdp makes its own directory when it attaches (for a dispatcher
	 * it cannot use here): remove it too if nothing else is in it */
	rmdir("/sys/fs/bpf/xdp");
out:
	close(lock);
	return err;
}
