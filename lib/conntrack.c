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

/* The val of way @i of @bucket. */
static volatile __u64 *val_of(const struct xlb_ct_table *t, void *bucket, int i)
{
	return t->family == XLB_FAMILY_V4 ?
		       &((struct xlb_ct4_bucket *)bucket)->way[i].val :
		       &((struct xlb_ct6_bucket *)bucket)->way[i].val;
}

/* The val of the way of @f's bucket that holds @f as a flow of VIP
 * @vip_id, or NULL; in *@empty the first empty way's index (-1: none). */
static volatile __u64 *find(const struct xlb_ct_table *t,
			    const struct xlb_flow_key *f, uint32_t vip_id,
			    int *empty)
{
	void *bucket = bucket_of(t, f);
	struct xlb_ct4_bucket *b4 = bucket;
	struct xlb_ct6_bucket *b6 = bucket;
	const __u64 *src = (const __u64 *)f->src;
	__u64 vkey = xlb_ct_val_key(vip_id);

	*empty = -1;
	for (int i = 0; i < XLB_CT_WAYS; i++) {
		bool holds = t->family == XLB_FAMILY_V4 ?
				     xlb_ct4_holds(&b4->way[i], xlb_ct4_key(f),
						   vkey) :
				     xlb_ct6_holds(&b6->way[i], src,
						   xlb_ct6_key(f), vkey);

		if (holds)
			return val_of(t, bucket, i);
		if (!(*val_of(t, bucket, i) & XLB_CT_V_USED) && *empty < 0)
			*empty = i;
	}
	return NULL;
}

bool xlb_ct_get(const struct xlb_ct_table *t, const struct xlb_flow_key *f,
		uint32_t vip_id, struct xlb_ct *ct, bool *ref)
{
	volatile __u64 *v;
	__u64 val;
	int empty;

	if (!t->mem || f->family != t->family)
		return false;
	v = find(t, f, vip_id, &empty);
	if (!v)
		return false;
	val = *v;
	ct->backend_id = xlb_ct_val_backend(val);
	ct->gen = (__u32)val;
	if (ref)
		*ref = val & XLB_CT_V_REF;
	return true;
}

int xlb_ct_put(struct xlb_ct_table *t, const struct xlb_flow_key *f,
	       uint32_t vip_id, const struct xlb_ct *ct)
{
	__u64 val = xlb_ct_val(vip_id, ct->backend_id, ct->gen);
	volatile __u64 *v;
	void *bucket;
	int empty;

	if (!t->mem || f->family != t->family || vip_id >= XLB_MAX_VIPS ||
	    ct->backend_id >= XLB_MAX_BACKENDS)
		return -EINVAL;
	v = find(t, f, vip_id, &empty);
	if (v) {
		*v = val;
		return 0;
	}
	if (empty < 0)
		return -ENOSPC;
	/* as the datapath writes: keyed first, val last */
	bucket = bucket_of(t, f);
	if (t->family == XLB_FAMILY_V4) {
		((struct xlb_ct4_bucket *)bucket)->way[empty].key =
			xlb_ct4_key(f);
	} else {
		struct xlb_ct6_way *w =
			&((struct xlb_ct6_bucket *)bucket)->way[empty];

		memcpy(w->src, f->src, sizeof(w->src));
		w->key = xlb_ct6_key(f);
	}
	__atomic_store_n(val_of(t, bucket, empty), val, __ATOMIC_RELEASE);
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
			n += !!(*val_of(t, bucket, i) & XLB_CT_V_USED);
	}
	return n;
}
