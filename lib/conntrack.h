/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The connection tables (xlb_conntrack4/6) seen from user space: sized
 * and created at load, then read and written the way the datapath does
 * (xlb_abi.h has the layout), one chunk at a time through the bpf()
 * system call. The control plane checks them for emptiness; the tests and
 * the bench look flows up, plant entries and clear them. */
#ifndef XLB_CONNTRACK_H
#define XLB_CONNTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xlb_abi.h"

struct bpf_map;

struct xlb_ct_table {
	int fd; /* the outer map (not owned) */
	uint32_t nchunks;
	uint32_t per_chunk; /* XLB_CT4_CHUNK or XLB_CT6_CHUNK */
	uint32_t bucket_size; /* sizeof(struct xlb_ct4/6_bucket) */
	uint32_t chunk_bytes; /* a chunk's element: XLB_CT_CHUNK_BYTES() */
	uint32_t pad;
	int family; /* XLB_FAMILY_* */
	void *buf; /* one chunk's element, read or to write */
};

/* The pad of this kernel: xlb_ct_pad() of where it puts an ARRAY's
 * element in the array (struct bpf_array's value, from the kernel's BTF;
 * without BTF, 0: buckets may then straddle lines, which costs time,
 * not correctness). */
uint32_t xlb_ct_kernel_pad(void);

/* Size both tables of an object not loaded yet for @size flows; in @l
 * the layout to put in its read-only data (`conntrack`). Returns 0 or
 * -errno. */
int xlb_ct_size(struct bpf_map *ct4, struct bpf_map *ct6, uint32_t size,
		struct xlb_ct_layout *l);

/* Called as chunks are made: @done of @total, both tables together.
 * Returns 0 to go on, or -errno to stop (xlb_ct_populate() returns it). */
typedef int (*xlb_ct_progress_fn)(uint32_t done, uint32_t total, void *arg);

/* Create every chunk of the loaded, still empty tables @ct4_fd (IPv4) and
 * @ct6_fd (IPv6), calling @progress (unless NULL) after each batch. May
 * raise the soft RLIMIT_NOFILE (up to the hard limit) to make bigger
 * batches. Returns 0 or -errno (a chunk the kernel could not make:
 * -ENOMEM, say; the chunks made so far go with the tables). */
int xlb_ct_populate(int ct4_fd, int ct6_fd, xlb_ct_progress_fn progress,
		    void *arg);

/* Open table @fd of @family (@fd stays the caller's). Returns 0 or -errno
 * (a map that is not a populated connection table of that family:
 * -EINVAL). */
int xlb_ct_open(struct xlb_ct_table *t, int fd, int family);
void xlb_ct_close(struct xlb_ct_table *t);

/* Buckets in the table, and where flow @f lives: chunk * per_chunk +
 * bucket in its chunk. */
uint64_t xlb_ct_nbuckets(const struct xlb_ct_table *t);
uint64_t xlb_ct_bucket_of(const struct xlb_ct_table *t,
			  const struct xlb_flow_key *f);

/* Read chunk @c into t->buf, write t->buf as chunk @c. Return 0 or
 * -errno. A write replaces the whole chunk: only while no packet runs. */
int xlb_ct_read_chunk(struct xlb_ct_table *t, uint32_t c);
int xlb_ct_write_chunk(struct xlb_ct_table *t, uint32_t c);
/* Bucket @i (below per_chunk) of the chunk in t->buf. */
void *xlb_ct_buf_bucket(const struct xlb_ct_table *t, uint32_t i);

/* The entry of flow @f of VIP @vip_id; whether it is referenced
 * (XLB_CT_V_REF) in *@ref unless NULL. */
bool xlb_ct_get(struct xlb_ct_table *t, const struct xlb_flow_key *f,
		uint32_t vip_id, struct xlb_ct *ct, bool *ref);
/* Remember @f of VIP @vip_id with @ct: its entry if it has one, else an
 * empty way of its bucket (the tests plant entries; nothing is evicted).
 * Rewrites the flow's chunk: only while no packet runs. Returns 0,
 * -ENOSPC if every way is taken, -EINVAL for ids out of range. */
int xlb_ct_put(struct xlb_ct_table *t, const struct xlb_flow_key *f,
	       uint32_t vip_id, const struct xlb_ct *ct);
/* Forget every flow. Only while no packet runs through the program: a
 * flow being inserted meanwhile may survive, half written. Returns 0 or
 * -errno. */
int xlb_ct_clear(struct xlb_ct_table *t);
/* Flows remembered; stops counting at @max (0: no limit). A chunk that
 * cannot be read counts as full. */
size_t xlb_ct_count(struct xlb_ct_table *t, size_t max);

#endif /* XLB_CONNTRACK_H */
