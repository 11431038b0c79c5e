/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The VIP address filter: set bits before VIPs appear, clear them after
 * VIPs are gone. */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>

#include "filter.h"
#include "xlb_hash.h"

int xlb_filter_add(int fd, const __be32 *addr, __u8 family)
{
	__u32 bit = xlb_addr_filter_bit(addr, family), word = bit / 64;
	__u64 w = 0;

	if (bpf_map_lookup_elem(fd, &word, &w))
		return -errno;
	if (w & (1ULL << (bit % 64)))
		return 0;
	w |= 1ULL << (bit % 64);
	return bpf_map_update_elem(fd, &word, &w, BPF_ANY) ? -errno : 0;
}

int xlb_filter_write(int fd, const __be32 (*addrs)[4], const __u8 *fam,
		     size_t n)
{
	static __u64 want[XLB_ADDR_FILTER_WORDS];
	__u64 cur;

	memset(want, 0, sizeof(want));
	for (size_t i = 0; i < n; i++) {
		__u32 bit = xlb_addr_filter_bit(addrs[i], fam[i]);

		want[bit / 64] |= 1ULL << (bit % 64);
	}
	for (__u32 word = 0; word < XLB_ADDR_FILTER_WORDS; word++) {
		if (bpf_map_lookup_elem(fd, &word, &cur))
			return -errno;
		if (cur == want[word])
			continue;
		if (bpf_map_update_elem(fd, &word, &want[word], BPF_ANY))
			return -errno;
	}
	return 0;
}
