/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The connection tables from user space; see conntrack.h. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "conntrack.h"
#include "xlb_hash.h"

int xlb_ct_size(struct bpf_map *ct4, struct bpf_map *ct6, uint32_t size)
{
	uint32_t n = xlb_ct_buckets(size);

	return bpf_map__set_max_entries(ct4, n) ?:
		       bpf_map__set_max_entries(ct6, n);
}

int xlb_ct_open(struct xlb_ct_table *t, int fd, int family)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint32_t want = family == XLB_FAMILY_V4 ?
				sizeof(struct xlb_ct4_bucket) :
				sizeof(struct xlb_ct6_bucket);
	void *mem;

	memset(t, 0, sizeof(*t));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != BPF_MAP_TYPE_ARRAY || info.value_size != want ||
	    !(info.map_flags & BPF_F_MMAPABLE) || !info.max_entries)
		return -EINVAL;
	t->len = ((size_t)info.max_entries * want + page - 1) / page * page;
	mem = mmap(NULL, t->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return -errno;
	t->mem = mem;
	t->nbuckets = info.max_entries;
	t->bucket_size = want;
	t->family = family;
	return 0;
}

void xlb_ct_close(struct xlb_ct_table *t)
{
	if (t->mem)
		munmap(t->mem, t->len);
	t->mem = NULL;
}

/* The bucket of @f. */
static void *bucket_of(const struct xlb_ct_table *t,
		       const struct xlb_flow_key *f)
{
	uint32_t b = xlb_ct_bucket(xlb_flow_entropy(f), t->nbuckets);

	return (char *)t->mem + (size_t)b * t->bucket_size;
}

static struct xlb_ct4_way *way4(void *bucket, int i)
{
	return &((struct xlb_ct4_bucket *)bucket)->line[i / 2].way[i % 2];
}

static struct xlb_ct6_way *way6(void *bucket, int i)
{
	return &((struct xlb_ct6_bucket *)bucket)->way[i];
}

/* Way @i of @f's bucket holds @f (1), is empty (0), holds another flow
 * (-1); its entry in *@ct. */
static int way_holds(const struct xlb_ct_table *t, const struct xlb_flow_key *f,
		     int i, struct xlb_ct **ct)
{
	void *bucket = bucket_of(t, f);

	if (t->family == XLB_FAMILY_V4) {
		struct xlb_ct4_way *w = way4(bucket, i);
		__u64 k0, k1;

		xlb_ct4_key(f, &k0, &k1);
		*ct = &w->ct;
		return !w->k1 ? 0 : w->k1 == k1 && w->k0 == k0 ? 1 : -1;
	} else {
		struct xlb_ct6_way *w = way6(bucket, i);

		*ct = &w->ct;
		return !w->k[4] ? 0 : !memcmp(w->k, f, sizeof(w->k)) ? 1 : -1;
	}
}

bool xlb_ct_get(const struct xlb_ct_table *t, const struct xlb_flow_key *f,
		struct xlb_ct *ct)
{
	struct xlb_ct *c;

	if (!t->mem || f->family != t->family)
		return false;
	for (int i = 0; i < XLB_CT_WAYS; i++)
		if (way_holds(t, f, i, &c) == 1) {
			*ct = *c;
			return true;
		}
	return false;
}

int xlb_ct_put(struct xlb_ct_table *t, const struct xlb_flow_key *f,
	       const struct xlb_ct *ct)
{
	int empty = -1, held;
	struct xlb_ct *c;

	if (!t->mem || f->family != t->family)
		return -EINVAL;
	for (int i = 0; i < XLB_CT_WAYS; i++) {
		held = way_holds(t, f, i, &c);
		if (held == 1) {
			*c = *ct;
			return 0;
		}
		if (held == 0 && empty < 0)
			empty = i;
	}
	if (empty < 0)
		return -ENOSPC;
	/* as the datapath writes: value first, the last key word last */
	if (t->family == XLB_FAMILY_V4) {
		struct xlb_ct4_way *w = way4(bucket_of(t, f), empty);
		__u64 k0, k1;

		xlb_ct4_key(f, &k0, &k1);
		w->ct = *ct;
		w->k0 = k0;
		__atomic_store_n(&w->k1, k1, __ATOMIC_RELEASE);
	} else {
		struct xlb_ct6_way *w = way6(bucket_of(t, f), empty);
		__u64 k[5];

		memcpy(k, f, sizeof(k));
		w->ct = *ct;
		memcpy(w->k, k, 4 * sizeof(k[0]));
		__atomic_store_n(&w->k[4], k[4], __ATOMIC_RELEASE);
	}
	return 0;
}

void xlb_ct_clear(struct xlb_ct_table *t)
{
	if (t->mem)
		memset(t->mem, 0, (size_t)t->nbuckets * t->bucket_size);
}

size_t xlb_ct_count(const struct xlb_ct_table *t)
{
	size_t n = 0;

	if (!t->mem)
		return 0;
	for (uint32_t b = 0; b < t->nbuckets; b++) {
		void *bucket = (char *)t->mem + (size_t)b * t->bucket_size;

		for (int i = 0; i < XLB_CT_WAYS; i++)
			n += t->family == XLB_FAMILY_V4 ?
				     way4(bucket, i)->k1 != 0 :
				     way6(bucket, i)->k[4] != 0;
	}
	return n;
}
