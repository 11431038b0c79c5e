/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The VIP index: open addressing over an ARRAY, built aside, swapped in
 * whole (xdp/xlb.bpf.c, vip_find). */
#define _GNU_SOURCE /* qsort_r */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>

#include "vipindex.h"
#include "xlb_hash.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524 /* the kernel's "operation not supported" */
#endif

void xlb_vip_key_of(struct xlb_vip_key *k, const struct xlb_vip_cfg *v)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, v->addr.a, sizeof(k->addr));
	k->port = htons(v->port);
	k->proto = v->proto;
	k->family = v->addr.family;
}

/* Orders key indices by home slot, then key bytes (qsort_r). */
static int by_home(const void *a, const void *b, void *arg)
{
	const struct xlb_vip_key *keys = arg;
	const struct xlb_vip_key *ka = &keys[*(const size_t *)a];
	const struct xlb_vip_key *kb = &keys[*(const size_t *)b];
	__u32 ha = xlb_vip_index_home(ka), hb = xlb_vip_index_home(kb);

	if (ha != hb)
		return ha < hb ? -1 : 1;
	return memcmp(ka, kb, sizeof(*ka));
}

int xlb_vip_index_fill(struct xlb_vip_slot *slots,
		       const struct xlb_vip_key *keys,
		       const struct xlb_vip *vips, size_t n, size_t *bad)
{
	size_t *order = calloc(n ? n : 1, sizeof(*order));

	if (!order)
		return -ENOMEM;
	/* in a fixed order: where each key lands, and whether the set
	 * fits, depends on the set only, not on the order of the config */
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), by_home, (void *)keys);
	for (size_t o = 0; o < n; o++) {
		size_t i = order[o];
		__u32 home = xlb_vip_index_home(&keys[i]), p;

		for (p = 0; p < XLB_VIP_INDEX_PROBES; p++) {
			struct xlb_vip_slot *s =
				&slots[(home + p) & (XLB_VIP_INDEX_SLOTS - 1)];

			if (s->key.family)
				continue;
			s->key = keys[i];
			if (vips)
				s->vip = vips[i];
			break;
		}
		if (p == XLB_VIP_INDEX_PROBES) {
			*bad = i;
			free(order);
			return -ENOSPC;
		}
	}
	free(order);
	return 0;
}

int xlb_vip_index_install(int outer_fd, const struct xlb_vip_slot *slots)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE);
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 zero = 0, n = XLB_VIP_INDEX_SLOTS, *keys;
	int fd, err;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xlb_vip_index", sizeof(__u32),
			    sizeof(struct xlb_vip_slot), XLB_VIP_INDEX_SLOTS,
			    &o);
	if (fd < 0)
		return -errno;
	keys = malloc(sizeof(*keys) * XLB_VIP_INDEX_SLOTS);
	if (!keys) {
		close(fd);
		return -ENOMEM;
	}
	for (__u32 i = 0; i < XLB_VIP_INDEX_SLOTS; i++)
		keys[i] = i;
	err = bpf_map_update_batch(fd, keys, slots, &n, &bo);
	if (err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUPP) {
		err = 0;
		for (__u32 i = 0; i < XLB_VIP_INDEX_SLOTS && !err; i++)
			if (slots[i].key.family &&
			    bpf_map_update_elem(fd, &i, &slots[i], BPF_ANY))
				err = -errno;
	}
	if (!err && bpf_map_update_elem(outer_fd, &zero, &fd, BPF_ANY))
		err = -errno;
	free(keys);
	close(fd); /* the outer map holds it now */
	return err;
}

int xlb_vip_index_read(int outer_fd, struct xlb_vip_slot *slots)
{
	size_t len = XLB_VIP_INDEX_SLOTS * sizeof(*slots);
	__u32 zero = 0, id;
	int fd, err;
	void *m;

	if (bpf_map_lookup_elem(outer_fd, &zero, &id))
		return -errno;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	/* installed mmapable: one copy, not a system call per slot */
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (m != MAP_FAILED) {
		memcpy(slots, m, len);
		munmap(m, len);
		close(fd);
		return 0;
	}
	err = 0;
	for (__u32 i = 0; i < XLB_VIP_INDEX_SLOTS && !err; i++)
		if (bpf_map_lookup_elem(fd, &i, &slots[i]))
			err = -errno;
	close(fd);
	return err;
}

int xlb_vip_index_sync(int vips_fd, int outer_fd)
{
	struct xlb_vip_slot *slots =
		calloc(XLB_VIP_INDEX_SLOTS, sizeof(*slots));
	struct xlb_vip_key *keys = calloc(XLB_MAX_VIPS, sizeof(*keys));
	struct xlb_vip *vips = calloc(XLB_MAX_VIPS, sizeof(*vips));
	struct xlb_vip_key k, next;
	size_t n = 0, bad;
	int err = 0;

	if (!slots || !keys || !vips) {
		err = -ENOMEM;
		goto out;
	}
	for (int r = bpf_map_get_next_key(vips_fd, NULL, &next); !r;
	     r = bpf_map_get_next_key(vips_fd, &k, &next)) {
		k = next;
		if (n == XLB_MAX_VIPS) {
			err = -E2BIG;
			goto out;
		}
		if (bpf_map_lookup_elem(vips_fd, &k, &vips[n]))
			continue; /* deleted meanwhile */
		keys[n++] = k;
	}
	err = xlb_vip_index_fill(slots, keys, vips, n, &bad) ?:
		      xlb_vip_index_install(outer_fd, slots);
out:
	free(slots);
	free(keys);
	free(vips);
	return err;
}
