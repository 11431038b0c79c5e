/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The decapsulator's maps and counters, shared by xdp/decap.bpf.c, its
 * tests and operators reading its counters. */
#ifndef XLB_DECAP_ABI_H
#define XLB_DECAP_ABI_H

/* Extra GUE ports the program accepts besides the gue_port setting. */
#define DECAP_MAX_GUE_PORTS 16
/* Local tunnel endpoints (addresses) for the only_local setting. */
#define DECAP_MAX_LOCAL 64

/* Index into decap_stats (per-CPU __u64). */
enum decap_counter {
	DECAP_CNT_IPIP = 0, /* IPv4 in IPv4 */
	DECAP_CNT_IP6IP6, /* IPv6 in IPv6 */
	DECAP_CNT_4IN6, /* IPv4 in IPv6 */
	DECAP_CNT_6IN4, /* IPv6 in IPv4 */
	DECAP_CNT_GUE4, /* GUE (UDP) over IPv4, either inner family */
	DECAP_CNT_GUE6, /* GUE (UDP) over IPv6, either inner family */
	DECAP_CNT_PASS_OTHER, /* not a tunnel packet: passed untouched */
	DECAP_CNT_PASS_BAD_INNER, /* tunnel protocol, inner header missing */
	DECAP_CNT_PASS_NOT_LOCAL, /* only_local set, outer dst not ours */
	DECAP_CNT_ADJUST_FAILED, /* bpf_xdp_adjust_head failed */
	/* outer ECN CE over an inner packet that is not ECN-capable: dropped,
	 * as RFC 6040 4.2 says (congestion it cannot be told of) */
	DECAP_CNT_DROP_CE_NOT_ECT,
	DECAP_CNT_MAX,
};

#endif /* XLB_DECAP_ABI_H */
