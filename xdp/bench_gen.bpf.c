/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Traffic generator for the live-frames benchmark (BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES), and the sink that counts what comes back.
 *
 * Live frames reset only the frame pointers between iterations, not the
 * bytes: a page comes back holding whatever the balancer wrote into it
 * (outer headers over our Ethernet header). So bench_gen rewrites the
 * whole header from a template on every iteration, then varies the flow. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Ethernet + IPv4 (no options) + TCP (no options): what the template
 * holds and what is rewritten per frame, bytes. */
#define GEN_HDR_LEN (ETH_HLEN + 20 + 20)
/* Source ports used per source address: 1024..65535. */
#define GEN_PORTS 64512

/* Header template (set by the loader before load): a valid Ethernet,
 * IPv4 and TCP header of the frame the test run was given. */
const volatile __u8 tmpl[GEN_HDR_LEN] __attribute__((aligned(2)));
/* Distinct flows to cycle through (1: every frame is the same flow). */
const volatile __u32 nflows = 1;

/* Frames generated, per CPU: also the flow sequence. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} gen_seq SEC(".maps");

/* Frames that came back and were dropped by bench_sink, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sink_count SEC(".maps");

static __always_inline __u16 ip_csum(const __u16 *w)
{
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + ETH_HLEN;
	struct tcphdr *th = data + ETH_HLEN + sizeof(*iph);
	__u32 zero = 0, flow = 0;
	__u64 *seq;

	if (data + GEN_HDR_LEN > data_end)
		return XDP_ABORTED;
	seq = bpf_map_lookup_elem(&gen_seq, &zero);
	if (!seq)
		return XDP_ABORTED;
	if (nflows > 1) {
		/* a multiplicative scramble so consecutive frames are far
		 * apart in the flow space, as random clients would be */
		flow = (__u32)(*seq * 2654435761ULL) % nflows;
	}
	*seq += 1;

	/* volatile reads: a plain memcpy from a const array lets the
	 * compiler copy the zeros it was initialised with */
#pragma unroll
	for (int i = 0; i < GEN_HDR_LEN; i += 2)
		*(__u16 *)(data + i) = *(const volatile __u16 *)&tmpl[i];
	th->source = bpf_htons(1024 + flow % GEN_PORTS);
	iph->saddr = bpf_htonl(bpf_ntohl(iph->saddr) + flow / GEN_PORTS);
	iph->check = 0;
	iph->check = ip_csum((const __u16 *)iph);
	return XDP_TX;
}

SEC("xdp")
int bench_sink(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&sink_count, &zero);

	if (c)
		*c += 1;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
