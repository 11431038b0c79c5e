/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The connection tables from user space; see conntrack.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "conntrack.h"
#include "xlb_hash.h"

/* Bit offset of member @name of composite type @id, looking into
 * anonymous members (struct bpf_array's value is in an anonymous union);
 * -1 if it has none. */
static long member_bits(const struct btf *btf, __u32 id, const char *name)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	const struct btf_member *m;

	if (!t || !btf_is_composite(t))
		return -1;
	m = btf_members(t);
	for (__u16 i = 0; i < btf_vlen(t); i++, m++) {
		const char *n = btf__name_by_offset(btf, m->name_off);
		long off;

		if (n && !strcmp(n, name))
			return btf_member_bit_offset(t, i);
		if (n && *n)
			continue;
		off = member_bits(btf, btf__resolve_type(btf, m->type), name);
		if (off >= 0)
			return btf_member_bit_offset(t, i) + off;
	}
	return -1;
}

uint32_t xlb_ct_kernel_pad(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	long bits = -1;
	int id;

	if (libbpf_get_error(btf))
		return 0;
	id = btf__find_by_name_kind(btf, "bpf_array", BTF_KIND_STRUCT);
	if (id > 0)
		bits = member_bits(btf, (__u32)id, "value");
	btf__free(btf);
	return bits < 0 ? 0 : xlb_ct_pad((__u32)(bits / 8));
}

int xlb_ct_size(struct bpf_map *ct4, struct bpf_map *ct6, uint32_t size,
		struct xlb_ct_layout *l)
{
	l->size = size;
	l->chunks4 = xlb_ct_chunks(size, XLB_CT4_CHUNK);
	l->chunks6 = xlb_ct_chunks(size, XLB_CT6_CHUNK);
	l->pad = xlb_ct_kernel_pad();
	return bpf_map__set_max_entries(ct4, l->chunks4) ?:
		       bpf_map__set_max_entries(ct6, l->chunks6);
}

/* The geometry of @family's tables in @t. */
static void geometry(struct xlb_ct_table *t, int family)
{
	bool v4 = family == XLB_FAMILY_V4;

	t->family = family;
	t->per_chunk = v4 ? XLB_CT4_CHUNK : XLB_CT6_CHUNK;
	t->bucket_size = v4 ? sizeof(struct xlb_ct4_bucket) :
			      sizeof(struct xlb_ct6_bucket);
	t->chunk_bytes = XLB_CT_CHUNK_BYTES(t->per_chunk, t->bucket_size);
}

/* Chunks made and put in the outer map at a time: an update of an
 * ARRAY_OF_MAPS waits for an RCU grace period (about 10 ms here), a batch
 * of updates waits once. Each chunk of a batch holds an fd until the
 * batch is in: the batch is what RLIMIT_NOFILE leaves room for, after
 * raising its soft limit towards POPULATE_BATCH (the process's own
 * business: only the soft limit, never past the hard one). */
#define POPULATE_BATCH 4096
#define POPULATE_FDS_SPARE 128

static uint32_t populate_batch(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r))
		return 64;
	if (r.rlim_cur < POPULATE_BATCH + POPULATE_FDS_SPARE &&
	    r.rlim_max > r.rlim_cur) {
		r.rlim_cur = r.rlim_max < POPULATE_BATCH + POPULATE_FDS_SPARE ?
				     r.rlim_max :
				     POPULATE_BATCH + POPULATE_FDS_SPARE;
		setrlimit(RLIMIT_NOFILE, &r);
		getrlimit(RLIMIT_NOFILE, &r);
	}
	if (r.rlim_cur >= POPULATE_BATCH + POPULATE_FDS_SPARE)
		return POPULATE_BATCH;
	return r.rlim_cur > 2 * POPULATE_FDS_SPARE ?
		       (uint32_t)(r.rlim_cur - POPULATE_FDS_SPARE) :
		       64;
}

/* Make every chunk of table @fd of @family; @base chunks (of the other
 * table) were made before, @total in all, for @progress. */
static int populate(int fd, int family, uint32_t batch, uint32_t base,
		    uint32_t total, xlb_ct_progress_fn progress, void *arg)
{
	struct xlb_ct_table t = { .fd = fd };
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), *keys;
	int *fds, err = 0;

	geometry(&t, family);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != BPF_MAP_TYPE_ARRAY_OF_MAPS)
		return -EINVAL;
	keys = calloc(batch, sizeof(*keys));
	fds = calloc(batch, sizeof(*fds));
	if (!keys || !fds) {
		free(keys);
		free(fds);
		return -ENOMEM;
	}
	for (__u32 c = 0; c < info.max_entries && !err;) {
		__u32 n = 0, count;

		for (; n < batch && c < info.max_entries; n++, c++) {
			fds[n] = bpf_map_create(
				BPF_MAP_TYPE_ARRAY,
				family == XLB_FAMILY_V4 ? "xlb_ct4_chunk" :
							  "xlb_ct6_chunk",
				sizeof(__u32), t.chunk_bytes, 1, NULL);
			if (fds[n] < 0) {
				err = -errno;
				break;
			}
			keys[n] = c;
		}
		count = n;
		if (!err && count &&
		    bpf_map_update_batch(fd, keys, fds, &count, NULL))
			err = -errno;
		for (__u32 i = 0; i < n; i++)
			close(fds[i]);
		if (!err && progress)
			err = progress(base + c, total, arg);
	}
	free(keys);
	free(fds);
	return err;
}

/* Chunks in table @fd (its outer map's size); 0 if it cannot be read. */
static uint32_t nchunks(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

int xlb_ct_populate(int ct4_fd, int ct6_fd, xlb_ct_progress_fn progress,
		    void *arg)
{
	uint32_t batch = populate_batch(), n4 = nchunks(ct4_fd);
	uint32_t total = n4 + nchunks(ct6_fd);

	return populate(ct4_fd, XLB_FAMILY_V4, batch, 0, total, progress, arg) ?:
		       populate(ct6_fd, XLB_FAMILY_V6, batch, n4, total,
				progress, arg);
}

int xlb_ct_open(struct xlb_ct_table *t, int fd, int family)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	geometry(t, family);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != BPF_MAP_TYPE_ARRAY_OF_MAPS || !info.max_entries)
		return -EINVAL;
	t->fd = fd;
	t->nchunks = info.max_entries;
	t->pad = xlb_ct_kernel_pad();
	t->buf = calloc(1, t->chunk_bytes);
	if (!t->buf)
		return -ENOMEM;
	/* a chunk of the right shape */
	if (xlb_ct_read_chunk(t, 0)) {
		xlb_ct_close(t);
		return -EINVAL;
	}
	return 0;
}

void xlb_ct_close(struct xlb_ct_table *t)
{
	free(t->buf);
	t->buf = NULL;
	t->fd = -1;
}

uint64_t xlb_ct_nbuckets(const struct xlb_ct_table *t)
{
	return (uint64_t)t->nchunks * t->per_chunk;
}

uint64_t xlb_ct_bucket_of(const struct xlb_ct_table *t,
			  const struct xlb_flow_key *f)
{
	__u32 h = xlb_flow_entropy(f);

	return (uint64_t)xlb_ct_chunk(h, t->nchunks) * t->per_chunk +
	       xlb_ct_slot(h, t->nchunks, t->per_chunk);
}

/* An fd of chunk @c, or -errno. */
static int chunk_fd(const struct xlb_ct_table *t, uint32_t c)
{
	struct bpf_map_info info = {};
	__u32 id, len = sizeof(info);
	int fd;

	if (!t->buf || c >= t->nchunks)
		return -EINVAL;
	if (bpf_map_lookup_elem(t->fd, &c, &id))
		return -errno;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    info.type != BPF_MAP_TYPE_ARRAY ||
	    info.value_size != t->chunk_bytes) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/* Chunk @c into t->buf, or t->buf into chunk @c. */
static int chunk_io(struct xlb_ct_table *t, uint32_t c, bool write)
{
	__u32 zero = 0;
	int fd = chunk_fd(t, c), err;

	if (fd < 0)
		return fd;
	err = write ? bpf_map_update_elem(fd, &zero, t->buf, BPF_ANY) :
		      bpf_map_lookup_elem(fd, &zero, t->buf);
	err = err ? -errno : 0;
	close(fd);
	return err;
}

int xlb_ct_read_chunk(struct xlb_ct_table *t, uint32_t c)
{
	return chunk_io(t, c, false);
}

int xlb_ct_write_chunk(struct xlb_ct_table *t, uint32_t c)
{
	return chunk_io(t, c, true);
}

void *xlb_ct_buf_bucket(const struct xlb_ct_table *t, uint32_t i)
{
	return (char *)t->buf + t->pad + (size_t)i * t->bucket_size;
}

/* The val of way @i of @bucket. */
static __u64 *val_of(const struct xlb_ct_table *t, void *bucket, int i)
{
	return t->family == XLB_FAMILY_V4 ?
		       &((struct xlb_ct4_bucket *)bucket)->way[i].val :
		       &((struct xlb_ct6_bucket *)bucket)->way[i].val;
}

/* Read @f's chunk into t->buf: its index in *@chunk, and @f's bucket
 * there; NULL and -errno in *@err if the chunk cannot be read. */
static void *read_bucket(struct xlb_ct_table *t, const struct xlb_flow_key *f,
			 uint32_t *chunk, int *err)
{
	uint64_t b = xlb_ct_bucket_of(t, f);

	*chunk = (uint32_t)(b / t->per_chunk);
	*err = xlb_ct_read_chunk(t, *chunk);
	return *err ? NULL : xlb_ct_buf_bucket(t, (uint32_t)(b % t->per_chunk));
}

/* The val of the way of @bucket that holds @f as a flow of VIP @vip_id,
 * or NULL; in *@empty the first empty way's index (-1: none). */
static __u64 *find(const struct xlb_ct_table *t, const struct xlb_flow_key *f,
		   uint32_t vip_id, void *bucket, int *empty)
{
	const __u64 *src = (const __u64 *)f->src;
	__u64 vkey = xlb_ct_val_key(vip_id);
	struct xlb_ct4_bucket *b4 = bucket;
	struct xlb_ct6_bucket *b6 = bucket;

	*empty = -1;
	for (int i = 0; i < XLB_CT_WAYS; i++) {
		bool holds = t->family == XLB_FAMILY_V4 ?
				     xlb_ct4_holds(&b4->way[i], b4->way[i].val,
						   xlb_ct4_key(f), vkey) :
				     xlb_ct6_holds(&b6->way[i], b6->way[i].val,
						   src, xlb_ct6_key(f), vkey);

		if (holds)
			return val_of(t, bucket, i);
		if (!(*val_of(t, bucket, i) & XLB_CT_V_USED) && *empty < 0)
			*empty = i;
	}
	return NULL;
}

bool xlb_ct_get(struct xlb_ct_table *t, const struct xlb_flow_key *f,
		uint32_t vip_id, struct xlb_ct *ct, bool *ref)
{
	uint32_t chunk;
	int empty, err;
	void *bucket;
	__u64 *v;

	if (f->family != t->family)
		return false;
	bucket = read_bucket(t, f, &chunk, &err);
	v = bucket ? find(t, f, vip_id, bucket, &empty) : NULL;
	if (!v)
		return false;
	ct->backend_id = xlb_ct_val_backend(*v);
	ct->gen = (__u32)*v;
	if (ref)
		*ref = *v & XLB_CT_V_REF;
	return true;
}

int xlb_ct_put(struct xlb_ct_table *t, const struct xlb_flow_key *f,
	       uint32_t vip_id, const struct xlb_ct *ct)
{
	__u64 val = xlb_ct_val(vip_id, ct->backend_id, ct->gen);
	uint32_t chunk;
	int empty, err;
	void *bucket;
	__u64 *v;

	if (f->family != t->family || vip_id >= XLB_MAX_VIPS ||
	    ct->backend_id >= XLB_MAX_BACKENDS)
		return -EINVAL;
	bucket = read_bucket(t, f, &chunk, &err);
	if (!bucket)
		return err;
	v = find(t, f, vip_id, bucket, &empty);
	if (!v) {
		if (empty < 0)
			return -ENOSPC;
		if (t->family == XLB_FAMILY_V4) {
			((struct xlb_ct4_bucket *)bucket)->way[empty].key =
				xlb_ct4_key(f);
		} else {
			struct xlb_ct6_way *w =
				&((struct xlb_ct6_bucket *)bucket)->way[empty];

			memcpy(w->src, f->src, sizeof(w->src));
			w->key = xlb_ct6_key(f);
		}
		v = val_of(t, bucket, empty);
	}
	*v = val;
	return xlb_ct_write_chunk(t, chunk);
}

int xlb_ct_clear(struct xlb_ct_table *t)
{
	int err = 0;

	if (!t->buf)
		return -EINVAL;
	memset(t->buf, 0, t->chunk_bytes);
	for (uint32_t c = 0; c < t->nchunks && !err; c++)
		err = xlb_ct_write_chunk(t, c);
	return err;
}

size_t xlb_ct_count(struct xlb_ct_table *t, size_t max)
{
	size_t n = 0, full = (size_t)t->per_chunk * XLB_CT_WAYS;

	for (uint32_t c = 0; c < t->nchunks && (!max || n < max); c++) {
		if (xlb_ct_read_chunk(t, c)) {
			n += full;
			continue;
		}
		for (uint32_t b = 0; b < t->per_chunk; b++) {
			void *bucket = xlb_ct_buf_bucket(t, b);

			for (int i = 0; i < XLB_CT_WAYS; i++)
				n += !!(*val_of(t, bucket, i) & XLB_CT_V_USED);
		}
	}
	return n;
}
