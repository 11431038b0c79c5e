/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The connection table under a SYN flood: millions of new random flows
 * (bare SYNs, which xlb does not remember, and ACK-only "new" flows, which
 * it does) while established flows keep sending. Once with the ring left
 * alone (Maglev alone keeps every flow in place), once with a ring change
 * in the middle: then a flow keeps its backend only through its
 * connection-table entry, so an evicted entry shows as a moved flow. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "bench.h"
#include "xlb_hash.h"

#define VIP 0x0a000001U
#define CLIENT 0xac100000U
/* Backends before and after the ring change (10 added: about 1 flow in
 * 11 hashes to another backend afterwards). */
#define NBE 100
#define NBE_AFTER 110
/* Times each established flow sends during the flood. */
#define EST_ROUNDS 4

struct est {
	uint8_t pkt[BPKT_MAX];
	uint32_t len;
	uint32_t backend; /* outer destination at the start */
	uint8_t moved; /* ever sent elsewhere */
	uint8_t seen_after; /* sent since the ring change */
	uint8_t had_entry; /* remembered when first sent after the change */
	uint8_t slot_changed;
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void flow_of(uint32_t i, struct xlb_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->src[0] = htobe32(CLIENT + i);
	k->dst[0] = htobe32(VIP);
	k->sport = htons((uint16_t)(10000 + i % 50000));
	k->dport = htons(80);
	k->proto = IPPROTO_TCP;
	k->family = XLB_FAMILY_V4;
}

/* One packet through xlb; the backend it went to in @be (0: none). */
static int send1(struct bxlb *x, const uint8_t *pkt, uint32_t len, uint32_t *be)
{
	uint8_t out[BPKT_MAX + 64];
	LIBBPF_OPTS(bpf_test_run_opts, o, .repeat = 1, .data_in = pkt,
		    .data_size_in = len);

	if (be) {
		o.data_out = out;
		o.data_size_out = sizeof(out);
	}
	if (bpf_prog_test_run_opts(x->prog_fd, &o))
		return -errno;
	if (o.retval != XDP_TX)
		return -EPROTO;
	if (be)
		*be = bpkt_outer_dst4(out, o.data_size_out);
	return 0;
}

/* Send established flow @e (checking the table first after a change). */
static int send_est(struct bxlb *x, struct est *e, uint32_t i, bool changed)
{
	struct xlb_flow_key k;
	struct xlb_ct ct;
	uint32_t be = 0;
	int err;

	if (changed && !e->seen_after) {
		flow_of(i, &k);
		e->had_entry = xlb_ct_get(&x->ct, &k, 0, &ct, NULL);
		e->seen_after = 1;
	}
	err = send1(x, e->pkt, e->len, &be);
	if (!err && be != e->backend)
		e->moved = 1;
	return err;
}

static int one_case(bool change, struct bench_flood_case *c)
{
	uint32_t ids[NBE_AFTER], *t0 = NULL, *t1 = NULL, n = bopt.flood_est;
	uint64_t gap, rnd = 0x9e3779b97f4a7c15ULL, start;
	struct xlb_vip_key vk;
	struct xlb_flow_key k;
	struct xlb_ct ct;
	struct est *e;
	struct bxlb x;
	uint8_t fp[BPKT_MAX];
	uint32_t flen, next = 0;
	int err;

	memset(c, 0, sizeof(*c));
	e = calloc(n, sizeof(*e));
	if (!e)
		return -ENOMEM;
	err = bxlb_open(&x, 0, bopt.ct_size);
	if (err)
		goto out_e;
	t0 = bxlb_maglev(x.ring_size, NBE, 0);
	t1 = bxlb_maglev(x.ring_size, NBE_AFTER, 0);
	for (uint32_t i = 0; i < NBE_AFTER && !err; i++) {
		ids[i] = i;
		err = bxlb_backend(&x, i, 0x0a640000U + i);
	}
	xkey4(&vk, VIP, 80, IPPROTO_TCP);
	if (!err && t0 && t1)
		err = bxlb_vip(&x, &vk, 0, XLB_ENCAP_IPIP, 0, 0, t0, ids);
	if (err || !t0 || !t1) {
		err = err ? err : -ENOMEM;
		goto out;
	}

	/* the established flows: their first packet (an ACK) inserts */
	for (uint32_t i = 0; i < n && !err; i++) {
		uint32_t slot;

		flow_of(i, &k);
		e[i].len = (uint32_t)bpkt_v4(e[i].pkt, IPPROTO_TCP, CLIENT + i,
					     VIP, ntohs(k.sport), 80, TCPF_ACK);
		err = send1(&x, e[i].pkt, e[i].len, &e[i].backend);
		slot = xlb_flow_hash(&k, XLB_HASH_5TUPLE) % x.ring_size;
		e[i].slot_changed = t0[slot] != t1[slot];
		c->would_move += e[i].slot_changed;
	}
	c->est = n;

	flen = (uint32_t)bpkt_v4(fp, IPPROTO_TCP, 0, VIP, 1, 80, TCPF_SYN);
	gap = bopt.flood_pkts / ((uint64_t)n * EST_ROUNDS);
	if (gap == 0)
		gap = 1;
	start = now_ns();
	for (uint64_t i = 0; i < bopt.flood_pkts && !err; i++) {
		uint64_t r = xorshift(&rnd);
		bool syn = i & 1;

		if (change && i == bopt.flood_pkts / 2) {
			err = bxlb_ring(&x, 0, t1, ids);
			if (err)
				break;
		}
		/* random client in 100.64.0.0/10 and port: new flows */
		bpkt_set_src4(fp, 0x64400000U | (uint32_t)(r & 0x3fffff),
			      (uint16_t)(1024 + (r >> 32) % 64512));
		fp[14 + 20 + 13] = syn ? TCPF_SYN : TCPF_ACK;
		err = send1(&x, fp, flen, NULL);
		c->syn += syn;
		c->ack_new += !syn;
		if (!err && i % gap == 0) {
			err = send_est(&x, &e[next], next,
				       change && i >= bopt.flood_pkts / 2);
			next = (next + 1) % n;
		}
	}
	c->flood_pkts = c->syn + c->ack_new;
	c->flood_kpps = (double)c->flood_pkts /
			((double)(now_ns() - start) / 1e9) / 1e3;

	/* the end: is each flow still remembered, and where does it go? */
	for (uint32_t i = 0; i < n && !err; i++) {
		if (!change) {
			flow_of(i, &k);
			c->ct_survived += xlb_ct_get(&x.ct, &k, 0, &ct, NULL);
		}
		err = send_est(&x, &e[i], i, change);
		if (change)
			c->ct_survived += e[i].had_entry;
		c->moved += e[i].moved;
		c->moved_with_entry += e[i].moved && e[i].had_entry;
	}
	c->kept = n - c->moved;
	if (!change)
		c->would_move = 0;
	if (err)
		fprintf(stderr, "xlb-bench: flood: test run failed: %s\n",
			strerror(-err));
out:
	free(t0);
	free(t1);
	bxlb_close(&x);
out_e:
	free(e);
	return err;
}

int bench_flood(struct bench_results *r)
{
	struct bench_flood *f = &r->flood;
	int err;

	f->ct_size = bopt.ct_size;
	f->ct_ways = xlb_ct_chunks(bopt.ct_size, XLB_CT4_CHUNK) *
		     XLB_CT4_CHUNK * XLB_CT_WAYS;
	say("SYN flood: %llu new flows, %u established, table %u flows (%u "
	    "ways)\n",
	    (unsigned long long)bopt.flood_pkts, bopt.flood_est, f->ct_size,
	    f->ct_ways);
	err = one_case(false, &f->stable);
	if (!err)
		err = one_case(true, &f->ring_change);
	if (err) {
		snprintf(f->err, sizeof(f->err), "flood run failed: %s",
			 strerror(-err));
		return err;
	}
	f->done = true;
	say("  stable: kept %u/%u; ring change: kept %u/%u, entries "
	    "survived %u\n",
	    f->stable.kept, f->stable.est, f->ring_change.kept,
	    f->ring_change.est, f->ring_change.ct_survived);
	return 0;
}
