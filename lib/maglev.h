/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maglev consistent hashing (Eisenbud et al., NSDI 2016) with weights. */
#ifndef XLB_MAGLEV_H
#define XLB_MAGLEV_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* One backend as the table builder sees it. */
struct xlb_maglev_backend {
	struct xlb_addr addr; /* identity: the permutation derives from it */
	uint32_t id; /* value written into the table (backend slot) */
	uint16_t weight; /* 0 = no entries (as drain/down) */
};

/**
 * xlb_maglev_build - fill a Maglev lookup table
 * @be:    backends, in any order (the result does not depend on it)
 * @n:     number of backends
 * @table: out, @m entries, each a backend's id
 * @m:     table size, a prime
 *
 * Deterministic: the same set of (address, weight) pairs gives the same
 * address in every slot on every machine, whatever the order of @be.
 * Backends with weight 0 get no slot; the others get slots in
 * proportion to their weights (to rounding). Returns 0, -EINVAL
 * (m not prime, n > m, an id equal to XLB_MAGLEV_EMPTY), -ENOENT (no
 * backend with weight > 0: table left filled with XLB_MAGLEV_EMPTY) or
 * -ENOMEM. Cost: O(m log n) plus O(m log m) expected probes.
 */
int xlb_maglev_build(const struct xlb_maglev_backend *be, size_t n,
		     uint32_t *table, uint32_t m);

/* Slot value meaning "no backend": the datapath drops and counts. */
#define XLB_MAGLEV_EMPTY UINT32_MAX

/**
 * xlb_maglev_mark - set XLB_RING_F_CHANGED (xlb_abi.h) in a new table
 * @table: the new table, @m slots
 * @old:   the table it replaces, as stored (marks included), or NULL:
 *         mark every slot
 *
 * A slot is marked if @old marked it or named another backend there.
 */
void xlb_maglev_mark(uint32_t *table, const uint32_t *old, uint32_t m);

#endif /* XLB_MAGLEV_H */
