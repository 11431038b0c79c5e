/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xlb_pass: passes every packet. The lab attaches it to the router end of
 * a balancer's veth: a veth delivers XDP_TX frames only to a peer whose
 * NAPI runs, and attaching any XDP program turns that on. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xlb_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
