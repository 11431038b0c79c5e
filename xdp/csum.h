/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Internet checksum helpers for the XDP programs (RFC 1071, RFC 1624). */
#ifndef XLB_CSUM_H
#define XLB_CSUM_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

/* Fold a 32-bit one's complement sum to 16 bits and complement it. */
static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Checksum of an outer IPv4 header (20 bytes, no options): the header is
 * ours, so its size is a constant and the sum unrolls. */
static __always_inline __u16 csum_ipv4_hdr(const void *hdr)
{
	const __u16 *w = hdr;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	return csum_fold32(sum);
}

/* RFC 1624 incremental update of a 16-bit checksum for one 16-bit word
 * changing from @old to @new (both as stored in the packet). */
static __always_inline void csum_replace2(__u16 *sum, __u16 old, __u16 new)
{
	__u32 s = (__u16) ~*sum;

	s += (__u16)~old;
	s += new;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	*sum = (__u16)~s;
}

/* Sum (not folded) of an address: one word for IPv4, four for IPv6. */
static __always_inline __u32 csum_add_words(__u32 sum, const __u32 *w, int n)
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		if (i >= n)
			break;
		sum += w[i] & 0xffff;
		sum += w[i] >> 16;
	}
	return sum;
}

#endif /* XLB_CSUM_H */
