/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Load xlb from its skeleton and fill its maps directly through the ABI:
 * the benchmarks measure the datapath, not the control plane. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "filter.h"
#include "bench.h"
#include "maglev.h"
#include "vipindex.h"
#include "xlb_hash.h"
#include "xlb.skel.h"

/* An empty ring map of @size slots; returns its fd or -errno. */
static int ring_new(uint32_t size)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_MMAPABLE);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xlb_ring",
				sizeof(uint32_t), sizeof(struct xlb_ring_pair),
				XLB_RING_ELEMS(size), &mo);

	return fd < 0 ? -errno : fd;
}

/* The xlb object: the one compiled into the skeleton, or with --object a
 * variant built from another source (profiling). Opened, not loaded. */
static struct bpf_object *xlb_object(struct bxlb *x)
{
	if (bopt.object) {
		struct bpf_object *o = bpf_object__open_file(bopt.object, NULL);

		return o && !libbpf_get_error(o) ? o : NULL;
	}
	x->skel = xlb__open();
	return x->skel ? x->skel->obj : NULL;
}

static int map_fd(struct bxlb *x, const char *name)
{
	return bpf_object__find_map_fd_by_name(x->obj, name);
}

int bxlb_open(struct bxlb *x, uint32_t ring_size, uint32_t ct_size)
{
	struct xlb_cfg cfg = {
		.gw_mac = { 0x02, 0, 0, 0, 0, 0xfe },
		.if_mac = { 0x02, 0, 0, 0, 0, 0x02 },
		.mtu = 1500,
		.flags = XLB_CFG_F_ICMP_TOO_BIG,
	};
	struct bpf_map *rodata;
	struct bpf_program *prog;
	__u32 zero = 0, buf[64];
	struct xlb__rodata *ro;
	const __u32 *rs;
	size_t rs_size;
	int err, tmpl = -1;

	memset(x, 0, sizeof(*x));
	x->ring_size = ring_size ? ring_size : XLB_RING_SIZE_DEFAULT;
	x->ncpus = libbpf_num_possible_cpus();
	x->obj = xlb_object(x);
	if (!x->obj) {
		err = -errno;
		fprintf(stderr,
			"xlb-bench: cannot open the xlb object %s: %s (rebuild "
			"the tree: cmake --build BUILD)\n",
			bopt.object ? bopt.object : "(skeleton)",
			strerror(-err));
		return err;
	}
	/* .rodata holds ring_size and the connection tables' layout, laid
	 * out as in the skeleton's struct xlb__rodata (a --object build of
	 * the same sources has the same) */
	rodata = bpf_object__find_map_by_name(x->obj, ".rodata");
	rs = rodata ? bpf_map__initial_value(rodata, &rs_size) : NULL;
	if (!rs || rs_size < sizeof(*ro) || rs_size > sizeof(buf)) {
		fprintf(stderr, "xlb-bench: the xlb object has no ring_size "
				"and conntrack_size in .rodata\n");
		err = -ENOENT;
		goto fail;
	}
	memcpy(buf, rs, rs_size);
	ro = (struct xlb__rodata *)buf;
	ro->ring_size = x->ring_size;
	err = xlb_ct_size(
		bpf_object__find_map_by_name(x->obj, "xlb_conntrack4"),
		bpf_object__find_map_by_name(x->obj, "xlb_conntrack6"),
		ct_size ? ct_size : XLB_CONNTRACK_DEFAULT, &ro->conntrack);
	if (err) {
		fprintf(stderr,
			"xlb-bench: cannot size the connection tables: %s\n",
			strerror(-err));
		goto fail;
	}
	err = bpf_map__set_initial_value(rodata, buf, rs_size);
	if (err)
		goto fail;
	/* libbpf 1.1 crashes in bpf_map__set_max_entries() on the inner map
	 * template; a template map of the right size does the same job (the
	 * kernel only compares the two) */
	tmpl = ring_new(x->ring_size);
	err = tmpl < 0 ? tmpl :
			 bpf_map__set_inner_map_fd(bpf_object__find_map_by_name(
							   x->obj, "xlb_rings"),
						   tmpl);
	if (err) {
		fprintf(stderr,
			"xlb-bench: cannot make the ring template: %s\n",
			strerror(-err));
		goto fail;
	}
	err = bpf_object__load(x->obj);
	if (err) {
		fprintf(stderr,
			"xlb-bench: cannot load xlb.bpf.o: %s (run as root; "
			"-v shows the verifier log)\n",
			strerror(-err));
		goto fail;
	}
	close(tmpl);
	tmpl = -1;
	prog = bpf_object__find_program_by_name(x->obj, "xlb_main");
	x->prog_fd = prog ? bpf_program__fd(prog) : -1;
	x->vips_fd = map_fd(x, "xlb_vips");
	x->addrs_fd = map_fd(x, "xlb_vip_addrs");
	x->rings_fd = map_fd(x, "xlb_rings");
	x->backends_fd = map_fd(x, "xlb_backends");
	x->stats_fd = map_fd(x, "xlb_stats");
	x->vip_stats_fd = map_fd(x, "xlb_vip_stats");
	err = xlb_ct_populate(map_fd(x, "xlb_conntrack4"), map_fd(x, "xlb_conntrack6"), NULL, NULL) ?:
		      xlb_ct_open(&x->ct, map_fd(x, "xlb_conntrack4"),
				  XLB_FAMILY_V4);
	if (err) {
		fprintf(stderr,
			"xlb-bench: cannot make the connection tables: %s\n",
			strerror(-err));
		bxlb_close(x);
		return err;
	}
	err = bpf_map_update_elem(map_fd(x, "xlb_cfg"), &zero, &cfg, BPF_ANY);
	if (err || x->prog_fd < 0) {
		fprintf(stderr, "xlb-bench: cannot write xlb_cfg: %s\n",
			strerror(errno));
		bxlb_close(x);
		return -EIO;
	}
	return 0;
fail:
	if (tmpl >= 0)
		close(tmpl);
	bxlb_close(x);
	return err;
}

void bxlb_close(struct bxlb *x)
{
	xlb_ct_close(&x->ct);
	if (x->skel)
		xlb__destroy(x->skel);
	else if (x->obj)
		bpf_object__close(x->obj);
	x->skel = NULL;
	x->obj = NULL;
}

int bxlb_backend(struct bxlb *x, uint32_t id, uint32_t addr)
{
	struct xlb_backend be = {
		.gen = 1,
		.weight = 100,
		.family = XLB_FAMILY_V4,
		.flags = XLB_BE_F_IN_USE | XLB_BE_F_LIVE | XLB_BE_F_NEW,
	};

	be.addr[0] = htobe32(addr);
	if (bpf_map_update_elem(x->backends_fd, &id, &be, BPF_ANY)) {
		fprintf(stderr, "xlb-bench: cannot write backend %u: %s\n", id,
			strerror(errno));
		return -errno;
	}
	return 0;
}

/* @vip_id's ring now, mmap'ed (@sz bytes, writable if @rw), or NULL if
 * it has none. */
static uint32_t *ring_map(struct bxlb *x, uint32_t vip_id, size_t sz, bool rw)
{
	uint32_t inner_id, *ring;
	int fd;

	if (bpf_map_lookup_elem(x->rings_fd, &vip_id, &inner_id))
		return NULL;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return NULL;
	ring = mmap(NULL, sz, PROT_READ | (rw ? PROT_WRITE : 0), MAP_SHARED, fd,
		    0);
	close(fd);
	return ring == MAP_FAILED ? NULL : ring;
}

int bxlb_ring_mark_all(struct bxlb *x, uint32_t vip_id)
{
	size_t sz = (size_t)XLB_RING_ELEMS(x->ring_size) *
		    sizeof(struct xlb_ring_pair);
	uint32_t *ring = ring_map(x, vip_id, sz, true);

	if (!ring) {
		fprintf(stderr, "xlb-bench: cannot map ring %u: %s\n", vip_id,
			strerror(errno));
		return -EIO;
	}
	xlb_maglev_mark(ring, NULL, x->ring_size);
	munmap(ring, sz);
	return 0;
}

int bxlb_ring(struct bxlb *x, uint32_t vip_id, const uint32_t *table,
	      const uint32_t *ids)
{
	size_t sz = (size_t)XLB_RING_ELEMS(x->ring_size) *
		    sizeof(struct xlb_ring_pair);
	uint32_t *ring, *old = ring_map(x, vip_id, sz, false);
	int fd, err = 0;

	fd = ring_new(x->ring_size);
	if (fd < 0) {
		errno = -fd;
		fprintf(stderr, "xlb-bench: cannot create a ring map: %s\n",
			strerror(errno));
		return -errno;
	}
	ring = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ring == MAP_FAILED) {
		err = -errno;
		fprintf(stderr, "xlb-bench: cannot mmap a ring map: %s\n",
			strerror(errno));
		goto out;
	}
	for (uint32_t s = 0; s < x->ring_size; s++)
		ring[s] = table[s] == XLB_MAGLEV_EMPTY ? XLB_MAGLEV_EMPTY :
							 ids[table[s]];
	if (old) /* replacing a ring: mark as xlbctl does */
		xlb_maglev_mark(ring, old, x->ring_size);
	munmap(ring, sz);
	if (bpf_map_update_elem(x->rings_fd, &vip_id, &fd, BPF_ANY)) {
		err = -errno;
		fprintf(stderr, "xlb-bench: cannot install ring %u: %s\n",
			vip_id, strerror(errno));
	}
out:
	if (old)
		munmap(old, sz);
	close(fd);
	return err;
}

int bxlb_vip(struct bxlb *x, const struct xlb_vip_key *key, uint32_t vip_id,
	     uint8_t encap, uint32_t vip_flags, uint32_t addr_flags,
	     const uint32_t *table, const uint32_t *ids)
{
	struct xlb_vip v = {
		.vip_id = vip_id,
		.flags = vip_flags,
		.encap = encap,
		.gue_port = htons(XLB_GUE_PORT_DEFAULT),
	};
	struct xlb_addr_key ak = {};
	struct xlb_vip_addr va = { .flags = addr_flags, .refs = 1 };
	int index_fd = map_fd(x, "xlb_vip_index");
	int err = bxlb_ring(x, vip_id, table, ids);

	if (err)
		return err;
	memcpy(ak.addr, key->addr, sizeof(ak.addr));
	ak.family = key->family;
	if (xlb_filter_add(map_fd(x, "xlb_addr_filter"), ak.addr, ak.family) ||
	    bpf_map_update_elem(x->addrs_fd, &ak, &va, BPF_ANY) ||
	    bpf_map_update_elem(x->vips_fd, key, &v, BPF_ANY)) {
		fprintf(stderr, "xlb-bench: cannot write VIP %u: %s\n", vip_id,
			strerror(errno));
		return -errno;
	}
	/* the datapath reads VIPs from the index (an --object variant
	 * from before it has none) */
	if (index_fd >= 0 && (err = xlb_vip_index_sync(x->vips_fd, index_fd))) {
		fprintf(stderr, "xlb-bench: cannot rebuild the VIP index: %s\n",
			strerror(-err));
		return err;
	}
	return 0;
}

uint32_t *bxlb_maglev(uint32_t ring_size, uint32_t n, uint32_t first)
{
	struct xlb_maglev_backend *be = calloc(n, sizeof(*be));
	uint32_t *t = malloc(sizeof(uint32_t) * ring_size);
	int err;

	if (!be || !t)
		goto fail;
	for (uint32_t j = 0; j < n; j++) {
		be[j].addr.family = XLB_FAMILY_V4;
		be[j].addr.a[0] = htobe32(0x0a640000U + first + j);
		be[j].id = j;
		be[j].weight = 100;
	}
	err = xlb_maglev_build(be, n, t, ring_size);
	if (err) {
		fprintf(stderr,
			"xlb-bench: Maglev build (%u backends, %u "
			"slots) failed: %s\n",
			n, ring_size, strerror(-err));
		goto fail;
	}
	free(be);
	return t;
fail:
	free(be);
	free(t);
	return NULL;
}

uint64_t bxlb_counter(struct bxlb *x, uint32_t idx)
{
	uint64_t v[x->ncpus], sum = 0;

	if (bpf_map_lookup_elem(x->stats_fd, &idx, v))
		return 0;
	for (int c = 0; c < x->ncpus; c++)
		sum += v[c];
	return sum;
}

int bxlb_vip_stats(struct bxlb *x, uint32_t vip_id, struct xlb_vip_stats *s)
{
	struct xlb_vip_stats v[x->ncpus];

	memset(s, 0, sizeof(*s));
	if (bpf_map_lookup_elem(x->vip_stats_fd, &vip_id, v))
		return -errno;
	for (int c = 0; c < x->ncpus; c++) {
		s->packets += v[c].packets;
		s->bytes += v[c].bytes;
		s->new_flows += v[c].new_flows;
		s->ct_hits += v[c].ct_hits;
		s->ct_misses += v[c].ct_misses;
	}
	return 0;
}

int bxlb_ct_clear(struct bxlb *x)
{
	return xlb_ct_clear(&x->ct);
}

uint64_t bxlb_ct_count(struct bxlb *x)
{
	return xlb_ct_count(&x->ct, 0);
}

/* Keys are written straight into the ways: each bucket is full whether or
 * not these flows would hash to it, and no flow the bench sends matches
 * them (198.18.0.0/15, the benchmarking range, to VIP id 0). */
int bxlb_ct_fill(struct bxlb *x)
{
	uint32_t i = 0;
	int err = 0;

	for (uint32_t c = 0; c < x->ct.nchunks && !err; c++) {
		for (uint32_t s = 0; s < x->ct.per_chunk; s++, i++) {
			struct xlb_ct4_bucket *b = xlb_ct_buf_bucket(&x->ct, s);

			for (int w = 0; w < XLB_CT_WAYS; w++) {
				b->way[w].key =
					(__u64)htobe32(0xc6120000U +
						       (i >> 15)) |
					(__u64)htons(1024 + (i & 0x7fff))
						<< 32 |
					(__u64)htons(80 + w) << 48;
				b->way[w].val = xlb_ct_val(0, 0, 1);
			}
		}
		err = xlb_ct_write_chunk(&x->ct, c);
	}
	return err;
}

void xkey4(struct xlb_vip_key *k, uint32_t addr, uint16_t port, uint8_t proto)
{
	memset(k, 0, sizeof(*k));
	k->addr[0] = htobe32(addr);
	k->port = htons(port);
	k->proto = proto;
	k->family = XLB_FAMILY_V4;
}

void xkey6(struct xlb_vip_key *k, const uint8_t addr[16], uint16_t port,
	   uint8_t proto)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, addr, 16);
	k->port = htons(port);
	k->proto = proto;
	k->family = XLB_FAMILY_V6;
}
