/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Weighted Maglev lookup-table builder (Eisenbud et al., NSDI 2016). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"

/*
 * Each backend walks its own permutation of the table,
 * p[j] = (offset + j * skip) % m, and claims the first slot still free.
 * The paper takes turns round-robin; with weights, backend i should claim
 * its k-th slot at "time" k / w_i, so we take turns in that order (a
 * weighted fair queue): after any number of claims every backend has
 * placed floor(t * w_i) or one more, the same balance as the paper's
 * "credit per round" scheme, but the cost is O(m log n) claims plus the
 * expected O(m log m) probes, whatever the spread of the weights (a
 * round-by-round loop costs O(rounds * n), i.e. O(m * n) when one
 * backend outweighs all the others).
 */

struct mb {
	uint64_t key_hi, key_lo; /* address as big-endian words: sort key */
	uint8_t family;
	uint16_t weight;
	uint32_t id;
	uint32_t pos; /* current slot of the permutation walk */
	uint32_t skip; /* step of the walk, 1..m-1 */
	uint64_t step; /* due_one / weight: time between two claims */
};

static bool is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	if (n % 2 == 0)
		return n == 2;
	for (uint32_t d = 3; (uint64_t)d * d <= n; d += 2)
		if (n % d == 0)
			return false;
	return true;
}

/* murmur3's 64-bit finaliser: every input bit flips ~half the output. */
static uint64_t fmix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/*
 * A fixed function of (family, 16 address bytes, seed): the table must be
 * the same on every machine and in every release, so never change it.
 */
static uint64_t addr_hash(const struct mb *b, uint64_t seed)
{
	uint64_t h = fmix64(seed ^ b->family);

	h = fmix64(h ^ b->key_hi) + 0x9e3779b97f4a7c15ULL;
	h = fmix64(h ^ b->key_lo);
	return h;
}

#define SEED_OFFSET 0x6a09e667f3bcc908ULL /* two unrelated constants */
#define SEED_SKIP 0xbb67ae8584caa73bULL

/* Address bytes (network order in memory) as big-endian 64-bit words, so
 * the key does not depend on the host's byte order. */
static void addr_key(const struct xlb_addr *a, uint64_t *hi, uint64_t *lo)
{
	uint8_t bytes[16];

	memcpy(bytes, a->a, sizeof(bytes));
	*hi = *lo = 0;
	for (int i = 0; i < 8; i++) {
		*hi = *hi << 8 | bytes[i];
		*lo = *lo << 8 | bytes[8 + i];
	}
}

static int mb_cmp(const void *pa, const void *pb)
{
	const struct mb *a = pa, *b = pb;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->key_hi != b->key_hi)
		return a->key_hi < b->key_hi ? -1 : 1;
	if (a->key_lo != b->key_lo)
		return a->key_lo < b->key_lo ? -1 : 1;
	/* Same address twice (config rejects it): still a total order. */
	if (a->weight != b->weight)
		return a->weight < b->weight ? -1 : 1;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return 0;
}

/*
 * Turn order: the next claim of backend i is due at (taken_i + 1) / w_i,
 * kept in fixed point as a running sum of step_i = due_one / w_i with
 * due_one = 2^62 / m, so no sum of up to m + 1 steps overflows. Rounding
 * shifts a due time by under m units, which is well below one step
 * (>= 2^46 / m) for any table up to 2^21 slots: the order is that of the
 * exact fractions but for ties, and integer-only, so the same on every
 * machine. Ties go to the lower sorted index. The key sits in the heap
 * entry itself: the heap is the hot loop.
 */

struct turn {
	uint64_t due;
	uint32_t idx;
};

static inline bool before(const struct turn *a, const struct turn *b)
{
	return a->due != b->due ? a->due < b->due : a->idx < b->idx;
}

static void sift_down(struct turn *heap, uint32_t n, uint32_t i)
{
	struct turn t = heap[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && before(&heap[c + 1], &heap[c]))
			c++;
		if (!before(&heap[c], &t))
			break;
		heap[i] = heap[c];
		i = c;
	}
	heap[i] = t;
}

int xlb_maglev_build(const struct xlb_maglev_backend *be, size_t n,
		     uint32_t *table, uint32_t m)
{
	struct mb *v = NULL;
	struct turn *heap = NULL;
	/* Taken slots as bits: m bits stay in cache, m words do not. */
	uint64_t *used = NULL;
	uint32_t live = 0;
	int err = 0;

	if (!is_prime(m) || n > m || (n && !be) || !table)
		return -EINVAL;

	for (uint32_t s = 0; s < m; s++)
		table[s] = XLB_MAGLEV_EMPTY;

	for (size_t i = 0; i < n; i++) {
		/* Would read as "no backend" in the datapath. */
		if (be[i].id == XLB_MAGLEV_EMPTY)
			return -EINVAL;
		if (be[i].weight)
			live++;
	}
	if (!live)
		return -ENOENT;

	v = calloc(live, sizeof(*v));
	heap = calloc(live, sizeof(*heap));
	used = calloc(m / 64 + 1, sizeof(*used));
	if (!v || !heap || !used) {
		err = -ENOMEM;
		goto out;
	}

	for (size_t i = 0, k = 0; i < n; i++) {
		if (!be[i].weight)
			continue;
		addr_key(&be[i].addr, &v[k].key_hi, &v[k].key_lo);
		v[k].family = be[i].addr.family;
		v[k].weight = be[i].weight;
		v[k].id = be[i].id;
		k++;
	}
	qsort(v, live, sizeof(*v), mb_cmp);

	for (uint32_t i = 0; i < live; i++) {
		v[i].pos = addr_hash(&v[i], SEED_OFFSET) % m;
		/* m == 2 leaves one possible step; m - 1 is then 1. */
		v[i].skip = addr_hash(&v[i], SEED_SKIP) % (m - 1) + 1;
		v[i].step = ((1ULL << 62) / m) / v[i].weight;
		heap[i].due = v[i].step;
		heap[i].idx = i;
	}
	for (uint32_t i = live / 2; i-- > 0;)
		sift_down(heap, live, i);

	for (uint32_t filled = 0; filled < m; filled++) {
		struct mb *b = &v[heap[0].idx];

		/* The walk visits every slot (m prime), and one is free. */
		while (used[b->pos / 64] & 1ULL << b->pos % 64) {
			/* pos + skip, mod m, without overflowing 32 bits */
			if (b->pos >= m - b->skip)
				b->pos -= m - b->skip;
			else
				b->pos += b->skip;
		}
		used[b->pos / 64] |= 1ULL << b->pos % 64;
		table[b->pos] = b->id;
		heap[0].due += b->step;
		sift_down(heap, live, 0);
	}

out:
	free(used);
	free(heap);
	free(v);
	return err;
}

void xlb_maglev_mark(uint32_t *table, const uint32_t *old, uint32_t m)
{
	for (uint32_t s = 0; s < m; s++)
		if (!old || (old[s] & XLB_RING_F_CHANGED) ||
		    (old[s] & XLB_RING_ID_MASK) != table[s])
			table[s] |= XLB_RING_F_CHANGED;
}
