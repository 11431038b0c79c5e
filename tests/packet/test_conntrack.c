/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Connection table: established flows survive ring changes, SYNs are not
 * remembered, removed backends (generation bump, LIVE cleared) re-hash,
 * per-VIP counters. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include <arpa/inet.h>
#include <linux/bpf.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include "bpfrun.h"
#include "pkt.h"
#include "xlb_hash.h"

#define RING 251
#define BE_A 10
#define BE_B 11

static const uint8_t MYMAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t RMAC[6] = { 0x02, 0, 0, 0, 0xaa, 0x01 };

static struct bpfrun r;
static int fam; /* family of the current test */
static uint32_t vip_id; /* VIP of the current test */

static void teardown(void)
{
	bpfrun_close(&r);
}

TestSuite(conntrack, .fini = teardown);

/* A ring change on a running instance: every slot's owner may differ
 * from what the table remembers, so every slot is marked, as ctl marks
 * the slots whose owner changed. */
static void set_ring(uint32_t be)
{
	uint32_t v = be | XLB_RING_F_CHANGED;

	bpfrun_fill_ring(&r, vip_id, &v, 1);
}

/**
 * scene - one VIP of @family, @proto port 80 (@flags: XLB_VIP_F_*), two
 * backends A and B of the same family, the ring all A.
 */
static void scene(int family, uint8_t proto, uint32_t flags)
{
	struct xlb_cfg cfg = {
		.gw_mac = { 0x02, 0, 0, 0, 0, 0x01 },
		.if_mac = { 0x02, 0, 0, 0, 0, 0x02 },
		.mtu = 1500,
	};
	const char *vip = family == 4 ? "192.0.2.1" : "2001:db8::1";
	struct xlb_vip_key k = bpfrun_vip_key(vip, 80, proto);
	struct xlb_vip v = { .vip_id = 5, .flags = flags };
	struct xlb_backend a =
		bpfrun_backend(family == 4 ? "10.0.0.10" : "fd00::10", 1,
			       XLB_BE_F_IN_USE | XLB_BE_F_LIVE | XLB_BE_F_NEW);
	struct xlb_backend b =
		bpfrun_backend(family == 4 ? "10.0.0.11" : "fd00::11", 1,
			       XLB_BE_F_IN_USE | XLB_BE_F_LIVE | XLB_BE_F_NEW);

	fam = family;
	vip_id = 5;
	bpfrun_open(&r, RING);
	bpfrun_set_cfg(&r, &cfg);
	bpfrun_set_backend(&r, BE_A, &a);
	bpfrun_set_backend(&r, BE_B, &b);
	bpfrun_add_vip(&r, &k, &v, 0);
	bpfrun_fill_ring(&r, vip_id, &(uint32_t){ BE_A }, 1); /* fresh */
}

/* Flow number @n of the test's family to the VIP. */
static void flow(struct pkt *p, struct xlb_flow_key *f, int n, uint8_t proto,
		 uint8_t tcp_flags)
{
	struct pkt_simple s = { .family = fam, .proto = proto };

	memcpy(s.dmac, MYMAC, 6);
	memcpy(s.smac, RMAC, 6);
	pkt_addr(fam == 4 ? "198.51.100.10" : "2001:db8:c::10", s.src);
	pkt_addr(fam == 4 ? "192.0.2.1" : "2001:db8::1", s.dst);
	s.sport = (uint16_t)(40000 + n);
	s.dport = 80;
	s.tcp_flags = tcp_flags;
	s.payload = 20;
	pkt_simple(p, &s);
	bpfrun_flow_of(&s, f);
}

static void send_to(const char *what, const struct pkt *p, uint32_t be)
{
	bpfrun_expect_fwd(&r, what, p->data, p->len, be, XLB_CNT_TX);
}

static void assert_ct(const char *what, const struct xlb_flow_key *f,
		      uint32_t be, uint32_t gen)
{
	struct xlb_ct ct;

	cr_assert(bpfrun_ct_get(&r, vip_id, f, &ct),
		  "%s: flow not in the table", what);
	cr_assert_eq(ct.backend_id, be, "%s: table says backend %u, want %u",
		     what, ct.backend_id, be);
	cr_assert_eq(ct.gen, gen, "%s: table says gen %u, want %u", what,
		     ct.gen, gen);
}

static void assert_no_ct(const char *what, const struct xlb_flow_key *f)
{
	struct xlb_ct ct;

	cr_assert(!bpfrun_ct_get(&r, vip_id, f, &ct),
		  "%s: flow is in the table (backend %u) but must not be", what,
		  ct.backend_id);
}

/* ---- Established flows stay where they are -------------------------------- */

static void established_case(int family, uint8_t proto)
{
	struct xlb_flow_key f, g;
	struct pkt p, q;

	scene(family, proto, 0);
	flow(&p, &f, 1, proto, PKT_TCP_ACK);
	send_to("first packet", &p, BE_A);
	assert_ct("after the first packet", &f, BE_A, 1);

	set_ring(BE_B);
	send_to("established flow after the ring moved to B", &p, BE_A);
	flow(&q, &g, 2, proto, PKT_TCP_ACK);
	send_to("new flow after the ring moved to B", &q, BE_B);
	assert_ct("new flow", &g, BE_B, 1);
}

Test(conntrack, established_survives_ring_change_tcp_v4)
{
	established_case(4, IPPROTO_TCP);
}

Test(conntrack, established_survives_ring_change_tcp_v6)
{
	established_case(6, IPPROTO_TCP);
}

Test(conntrack, established_survives_ring_change_udp_v4)
{
	established_case(4, IPPROTO_UDP);
}

Test(conntrack, established_survives_ring_change_udp_v6)
{
	established_case(6, IPPROTO_UDP);
}

/* ---- A bare SYN is not remembered ---------------------------------------- */

static void syn_case(int family)
{
	struct xlb_flow_key f;
	struct pkt syn, ack, synack;

	scene(family, IPPROTO_TCP, 0);
	flow(&syn, &f, 1, IPPROTO_TCP, PKT_TCP_SYN);
	send_to("SYN", &syn, BE_A);
	assert_no_ct("after a SYN", &f);

	set_ring(BE_B);
	send_to("retransmitted SYN after the ring moved", &syn, BE_B);
	assert_no_ct("after the second SYN", &f);
	flow(&ack, &f, 1, IPPROTO_TCP, PKT_TCP_ACK);
	send_to("handshake ACK", &ack, BE_B);
	assert_ct("after the ACK", &f, BE_B, 1);
	set_ring(BE_A);
	send_to("data after the ring moved back", &ack, BE_B);
	/* a SYN of a remembered flow still finds it */
	send_to("SYN of a remembered flow", &syn, BE_B);

	/* a SYN with ACK is not a bare SYN: remembered */
	flow(&synack, &f, 2, IPPROTO_TCP, PKT_TCP_SYN | PKT_TCP_ACK);
	send_to("SYN+ACK", &synack, BE_A);
	assert_ct("after a SYN+ACK", &f, BE_A, 1);
}

Test(conntrack, syn_not_inserted_v4)
{
	syn_case(4);
}

Test(conntrack, syn_not_inserted_v6)
{
	syn_case(6);
}

/* ---- A bare SYN reads the table only on a marked ring slot ------------- */

/* The table says B, the ring says A. Unmarked, the slot's owner never
 * changed, so no live entry can disagree with it: ctl guarantees that, and
 * the SYN trusts it without a look-up (an entry put there by hand shows
 * the look-up was skipped). Marked, the SYN follows the entry. Other
 * packets always read the table. */
static void syn_marks_case(int family)
{
	struct xlb_flow_key f;
	struct xlb_ct ct = { .backend_id = BE_B, .gen = 1 };
	struct xlb_vip_stats vs;
	struct pkt syn, ack;

	scene(family, IPPROTO_TCP, 0);
	flow(&syn, &f, 1, IPPROTO_TCP, PKT_TCP_SYN);
	flow(&ack, &f, 1, IPPROTO_TCP, PKT_TCP_ACK);
	bpfrun_ct_put(&r, vip_id, &f, &ct);
	send_to("SYN on an unmarked slot: the ring, unread table", &syn, BE_A);
	send_to("ACK on an unmarked slot: the table", &ack, BE_B);
	set_ring(BE_A); /* the same owner, now marked */
	send_to("SYN on a marked slot: the table", &syn, BE_B);
	bpfrun_ct_clear(&r);
	send_to("SYN on a marked slot, no entry: the ring", &syn, BE_A);
	assert_no_ct("after the SYNs", &f);
	/* every SYN counts as a miss: its backend came from the ring, except
	 * the one the table answered */
	bpfrun_vip_stats(&r, vip_id, &vs);
	cr_assert_eq(vs.ct_hits, 2, "ct_hits %llu, want 2",
		     (unsigned long long)vs.ct_hits);
	cr_assert_eq(vs.ct_misses, 2, "ct_misses %llu, want 2",
		     (unsigned long long)vs.ct_misses);
}

Test(conntrack, syn_reads_table_only_on_marked_slot_v4)
{
	syn_marks_case(4);
}

Test(conntrack, syn_reads_table_only_on_marked_slot_v6)
{
	syn_marks_case(6);
}

/* ---- Removed backends are re-hashed ------------------------------------- */

/* Slot A reassigned (new address, generation 2): the remembered flow must
 * not follow the slot to the new owner; it goes where the ring says (B)
 * and the table is corrected. */
static void gen_bump_case(int family)
{
	struct xlb_backend a2 =
		bpfrun_backend(family == 4 ? "10.0.0.99" : "fd00::99", 2,
			       XLB_BE_F_IN_USE | XLB_BE_F_LIVE | XLB_BE_F_NEW);
	struct xlb_flow_key f;
	struct pkt p;

	scene(family, IPPROTO_TCP, 0);
	flow(&p, &f, 1, IPPROTO_TCP, PKT_TCP_ACK);
	send_to("first packet", &p, BE_A);
	bpfrun_set_backend(&r, BE_A, &a2);
	set_ring(BE_B);
	send_to("after backend A's slot was reassigned", &p, BE_B);
	assert_ct("after the re-hash", &f, BE_B, 1);
	send_to("next packet", &p, BE_B);
}

Test(conntrack, removed_backend_gen_bump_v4)
{
	gen_bump_case(4);
}

Test(conntrack, removed_backend_gen_bump_v6)
{
	gen_bump_case(6);
}

/* Backend A marked down (LIVE cleared, slot still in use): its flows move
 * to where the ring says. */
static void live_cleared_case(int family, uint8_t flags)
{
	struct xlb_flow_key f;
	struct xlb_backend a;
	struct pkt p;

	scene(family, IPPROTO_TCP, 0);
	flow(&p, &f, 1, IPPROTO_TCP, PKT_TCP_ACK);
	send_to("first packet", &p, BE_A);
	bpfrun_get_backend(&r, BE_A, &a);
	a.flags = flags;
	a.state = XLB_BE_STATE_DOWN;
	bpfrun_set_backend(&r, BE_A, &a);
	set_ring(BE_B);
	send_to("after backend A went down", &p, BE_B);
	assert_ct("after the re-hash", &f, BE_B, 1);
}

Test(conntrack, removed_backend_live_cleared_v4)
{
	live_cleared_case(4, XLB_BE_F_IN_USE);
}

Test(conntrack, removed_backend_live_cleared_v6)
{
	live_cleared_case(6, XLB_BE_F_IN_USE);
}

Test(conntrack, removed_backend_slot_freed_v4)
{
	live_cleared_case(4, 0);
}

Test(conntrack, removed_backend_slot_freed_v6)
{
	live_cleared_case(6, 0);
}

/* Backend A drains as xlbctl writes `state: drain`: LIVE kept,
 * XLB_BE_F_NEW cleared, out of the ring (now all B, every slot marked). */
static void drain_a(void)
{
	struct xlb_backend a;

	bpfrun_get_backend(&r, BE_A, &a);
	a.state = XLB_BE_STATE_DRAIN;
	a.flags &= (uint8_t)~XLB_BE_F_NEW;
	bpfrun_set_backend(&r, BE_A, &a);
	set_ring(BE_B);
}

/* Draining: established flows stay. */
static void drain_case(int family)
{
	struct xlb_flow_key f;
	struct pkt p;

	scene(family, IPPROTO_TCP, 0);
	flow(&p, &f, 1, IPPROTO_TCP, PKT_TCP_ACK);
	send_to("first packet", &p, BE_A);
	drain_a();
	send_to("established flow to a draining backend", &p, BE_A);
}

Test(conntrack, draining_backend_keeps_flows_v4)
{
	drain_case(4);
}

Test(conntrack, draining_backend_keeps_flows_v6)
{
	drain_case(6);
}

/* A client reuses the source port of a closed connection to a backend that
 * now drains (no XLB_BE_F_NEW): the new connection's SYN must not follow
 * the old entry; it takes the ring, and the entry follows it for the
 * handshake's ACK. (A SYN that finds an entry to a backend that takes new
 * connections follows it: syn_reads_table_only_on_marked_slot.) */
static void drain_reused_port_case(int family)
{
	struct xlb_flow_key f;
	struct pkt syn, ack;

	scene(family, IPPROTO_TCP, 0);
	flow(&syn, &f, 1, IPPROTO_TCP, PKT_TCP_SYN);
	flow(&ack, &f, 1, IPPROTO_TCP, PKT_TCP_ACK);
	send_to("old connection's SYN", &syn, BE_A);
	send_to("old connection's ACK", &ack, BE_A);
	assert_ct("old connection", &f, BE_A, 1);
	drain_a();
	send_to("new connection's SYN, same 5-tuple, A draining", &syn, BE_B);
	assert_ct("after the SYN", &f, BE_B, 1);
	send_to("new connection's ACK", &ack, BE_B);
}

Test(conntrack, drain_reused_port_syn_takes_ring_v4)
{
	drain_reused_port_case(4);
}

Test(conntrack, drain_reused_port_syn_takes_ring_v6)
{
	drain_reused_port_case(6);
}

/* ---- A full bucket: second chance ---------------------------------------- */

/* Up to @max flows of the scene (numbers for flow() in @n) that share one
 * connection-table bucket, the fullest among the first 25,000 flows.
 * Returns how many. */
#define CANDIDATES 25000

static int flows_sharing_a_bucket(int *n, int max)
{
	struct xlb_ct_table *t = fam == 4 ? &r.ct4 : &r.ct6;
	static uint32_t bucket[CANDIDATES];
	uint32_t *per = calloc(xlb_ct_nbuckets(t), sizeof(*per)), best = 0;
	struct xlb_flow_key k;
	struct pkt q;
	int m = 0;

	cr_assert(per);
	for (int i = 0; i < CANDIDATES; i++) {
		flow(&q, &k, i, IPPROTO_TCP, PKT_TCP_ACK);
		bucket[i] = (uint32_t)xlb_ct_bucket_of(t, &k);
		if (++per[bucket[i]] > per[best])
			best = bucket[i];
	}
	for (int i = 0; i < CANDIDATES && m < max; i++)
		if (bucket[i] == best)
			n[m++] = i;
	free(per);
	return m;
}

/* Flows 0..(XLB_CT_WAYS + 2) of the scene that share one bucket: @n[i]
 * for flow(), packets @p[i] (ACKs), keys @f[i]. */
#define SHARED (XLB_CT_WAYS + 2)

static void same_bucket(int n[SHARED], struct pkt p[SHARED],
			struct xlb_flow_key f[SHARED])
{
	int m = flows_sharing_a_bucket(n, SHARED);

	cr_assert_eq(m, SHARED, "no %d of %d flows share a bucket", SHARED,
		     CANDIDATES);
	for (int i = 0; i < SHARED; i++)
		flow(&p[i], &f[i], n[i], IPPROTO_TCP, PKT_TCP_ACK);
}

static bool referenced(const struct xlb_flow_key *f)
{
	return bpfrun_ct_referenced(&r, vip_id, f);
}

/* A bucket's ways go to new flows while empty; when full, a new flow
 * takes the first way whose flow was not seen again, and when every flow
 * there was, it is forwarded unremembered (ct_full) and they all lose the
 * mark: flows that keep sending are never displaced by a flood of
 * one-packet flows. */
static void second_chance_case(int family)
{
	struct xlb_flow_key f[SHARED];
	struct pkt p[SHARED];
	struct xlb_vip_stats vs;
	int n[SHARED];
	char what[64];

	scene(family, IPPROTO_TCP, 0);
	same_bucket(n, p, f);
	for (int i = 0; i < XLB_CT_WAYS; i++) {
		snprintf(what, sizeof(what), "flow %d, first packet", n[i]);
		send_to(what, &p[i], BE_A);
		cr_assert(!referenced(&f[i]), "a new entry is unreferenced");
		send_to(what, &p[i], BE_A);
		cr_assert(referenced(&f[i]), "a hit marks the entry");
	}
	/* every way referenced: the new flow is not remembered */
	bpfrun_expect_fwd_event(&r, "a fifth flow, bucket full of live flows",
				p[4].data, p[4].len, BE_A, XLB_CNT_TX,
				XLB_CNT_CT_FULL);
	assert_no_ct("the fifth flow", &f[4]);
	cr_assert_eq(bpfrun_counter(&r, XLB_CNT_CT_FULL), 1, "ct_full %llu",
		     (unsigned long long)bpfrun_counter(&r, XLB_CNT_CT_FULL));
	for (int i = 0; i < XLB_CT_WAYS; i++) {
		assert_ct("a live flow after ct_full", &f[i], BE_A, 1);
		cr_assert(!referenced(&f[i]), "ct_full clears the marks");
	}
	/* flows 0 and 1 send again; the fifth takes flow 2's way */
	send_to("flow 0 again", &p[0], BE_A);
	send_to("flow 1 again", &p[1], BE_A);
	send_to("the fifth flow again", &p[4], BE_A);
	assert_ct("the fifth flow", &f[4], BE_A, 1);
	assert_no_ct("flow 2, not seen again", &f[2]);
	/* a sixth one-packet flow takes the fifth's way, not flow 3's */
	send_to("a sixth flow", &p[5], BE_A);
	assert_ct("the sixth flow", &f[5], BE_A, 1);
	assert_no_ct("the fifth flow, seen once since", &f[4]);
	for (int i = 0; i < XLB_CT_WAYS; i++)
		if (i != 2)
			assert_ct("the others stay", &f[i], BE_A, 1);
	bpfrun_vip_stats(&r, vip_id, &vs);
	cr_assert_eq(vs.new_flows, XLB_CT_WAYS + 2, "new_flows %llu",
		     (unsigned long long)vs.new_flows);
	cr_assert_eq(bpfrun_counter(&r, XLB_CNT_CT_FULL), 1);
}

Test(conntrack, full_bucket_second_chance_v4)
{
	second_chance_case(4);
}

Test(conntrack, full_bucket_second_chance_v6)
{
	second_chance_case(6);
}

/* ---- Two CPUs, one bucket -------------------------------------------------- */

#define RACE_FLOWS 8
#define RACE_ROUNDS 20000

struct racer {
	int cpu;
	int n; /* flows */
	const struct pkt *p[RACE_FLOWS];
	uint8_t want[RACE_FLOWS]; /* last byte of the backend's address */
	long wrong, failed;
};

/* Send the racer's flows round after round from its CPU; count packets
 * that went to another backend than their ring slot's. */
static void *race(void *arg)
{
	struct racer *c = arg;
	uint8_t out[PKT_MAX];
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(c->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		c->failed++;
		return NULL;
	}
	for (int k = 0; k < RACE_ROUNDS; k++)
		for (int i = 0; i < c->n; i++) {
			LIBBPF_OPTS(bpf_test_run_opts, o,
				    .data_in = c->p[i]->data,
				    .data_size_in = (__u32)c->p[i]->len,
				    .data_out = out,
				    .data_size_out = sizeof(out), .repeat = 1);

			if (bpf_prog_test_run_opts(r.prog_fd, &o) ||
			    o.retval != XDP_TX) {
				c->failed++;
				continue;
			}
			/* outer IPv4 destination (Ethernet 14 + 16), last byte */
			c->wrong += out[14 + 19] != c->want[i];
		}
	return NULL;
}

/* Two CPUs insert flows into the same bucket at once, the bucket too small
 * for all of them, so ways change hands tens of thousands of times: no
 * packet and no entry may ever pair one flow's key with another's backend
 * (the ring sends half of them to A, half to B). A sanity check of the
 * shared table under churn on two CPUs, not a proof: the windows the
 * claim and the store order close are a few instructions wide, and
 * mutants that drop the compare-and-swap or store the val before the key
 * passed it (BPF_PROG_TEST_RUN calls are a microsecond apart). */
Test(conntrack, two_cpus_one_bucket)
{
	static const uint32_t ab[] = { BE_A, BE_B };
	struct xlb_flow_key f[RACE_FLOWS];
	struct pkt p[RACE_FLOWS];
	struct racer c[2] = { { .cpu = 0 }, { .cpu = 1 } };
	struct xlb_vip_stats vs;
	int num[RACE_FLOWS], n;
	pthread_t t[2];

	if (libbpf_num_possible_cpus() < 2)
		cr_skip_test("needs two CPUs");
	scene(4, IPPROTO_TCP, 0);
	bpfrun_fill_ring(&r, vip_id, ab, 2);
	n = flows_sharing_a_bucket(num, RACE_FLOWS);
	cr_assert(n > XLB_CT_WAYS, "no bucket gets more than %d flows", n);
	for (int i = 0; i < n; i++) {
		struct racer *rc = &c[i % 2];
		struct xlb_backend be;
		struct xlb_vip vip;
		uint32_t id;

		flow(&p[i], &f[i], num[i], IPPROTO_TCP, PKT_TCP_ACK);
		cr_assert(bpfrun_model(&r, &f[i], &vip, &id, &be));
		rc->p[rc->n] = &p[i];
		rc->want[rc->n++] = ((const uint8_t *)be.addr)[3];
	}
	for (int i = 0; i < 2; i++)
		cr_assert(!pthread_create(&t[i], NULL, race, &c[i]));
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(c[i].failed, 0, "CPU %d: %ld runs failed", i,
			     c[i].failed);
		cr_assert_eq(c[i].wrong, 0,
			     "CPU %d: %ld packets went to the other backend", i,
			     c[i].wrong);
	}
	for (int i = 0; i < n; i++) {
		struct xlb_backend be;
		struct xlb_vip vip;
		struct xlb_ct ct;
		uint32_t id;

		bpfrun_model(&r, &f[i], &vip, &id, &be);
		if (bpfrun_ct_get(&r, vip_id, &f[i], &ct))
			cr_assert_eq(
				ct.backend_id, id,
				"flow %d remembered on %u, its ring says %u", i,
				ct.backend_id, id);
	}
	bpfrun_vip_stats(&r, vip_id, &vs);
	cr_assert_gt(vs.new_flows, RACE_ROUNDS / 10,
		     "ways changed hands only %llu times: no race was run",
		     (unsigned long long)vs.new_flows);
}

/* ---- VIP without connection table --------------------------------------- */

static void no_ct_case(int family)
{
	struct xlb_vip_stats vs;
	struct xlb_flow_key f;
	struct pkt p;

	scene(family, IPPROTO_UDP, XLB_VIP_F_NO_CONNTRACK);
	flow(&p, &f, 1, IPPROTO_UDP, 0);
	send_to("first packet", &p, BE_A);
	assert_no_ct("VIP without conntrack", &f);
	set_ring(BE_B);
	send_to("after the ring moved", &p, BE_B);
	bpfrun_vip_stats(&r, vip_id, &vs);
	cr_assert_eq(vs.new_flows + vs.ct_hits + vs.ct_misses, 0,
		     "a VIP without conntrack counted table use: new %llu "
		     "hits %llu misses %llu",
		     (unsigned long long)vs.new_flows,
		     (unsigned long long)vs.ct_hits,
		     (unsigned long long)vs.ct_misses);
	cr_assert_eq(vs.packets, 2);
}

Test(conntrack, vip_no_conntrack_v4)
{
	no_ct_case(4);
}

Test(conntrack, vip_no_conntrack_v6)
{
	no_ct_case(6);
}

/* ---- Counters -------------------------------------------------------------- */

static void counters_case(int family)
{
	struct xlb_vip_stats vs;
	struct xlb_be_stats ba, bb;
	struct xlb_flow_key f;
	struct pkt syn, ack;

	scene(family, IPPROTO_TCP, 0);
	flow(&syn, &f, 1, IPPROTO_TCP, PKT_TCP_SYN);
	flow(&ack, &f, 1, IPPROTO_TCP, PKT_TCP_ACK);
	send_to("SYN: miss, not inserted", &syn, BE_A);
	send_to("ACK: miss, inserted", &ack, BE_A);
	send_to("ACK: hit", &ack, BE_A);
	send_to("ACK: hit", &ack, BE_A);
	bpfrun_vip_stats(&r, vip_id, &vs);
	cr_assert_eq(vs.packets, 4, "packets %llu, want 4",
		     (unsigned long long)vs.packets);
	cr_assert_eq(vs.bytes, syn.len + 3 * ack.len, "bytes %llu, want %zu",
		     (unsigned long long)vs.bytes, syn.len + 3 * ack.len);
	cr_assert_eq(vs.new_flows, 1, "new_flows %llu, want 1",
		     (unsigned long long)vs.new_flows);
	cr_assert_eq(vs.ct_misses, 2, "ct_misses %llu, want 2",
		     (unsigned long long)vs.ct_misses);
	cr_assert_eq(vs.ct_hits, 2, "ct_hits %llu, want 2",
		     (unsigned long long)vs.ct_hits);
	bpfrun_be_stats(&r, BE_A, &ba);
	bpfrun_be_stats(&r, BE_B, &bb);
	cr_assert_eq(ba.packets, 4);
	cr_assert_eq(ba.bytes, syn.len + 3 * ack.len);
	cr_assert_eq(bb.packets + bb.bytes, 0);
}

Test(conntrack, vip_counters_v4)
{
	counters_case(4);
}

Test(conntrack, vip_counters_v6)
{
	counters_case(6);
}

/* ---- No usable backend ------------------------------------------------- */

static void no_backend_case(int family)
{
	struct xlb_flow_key f;
	struct xlb_backend a;
	struct pkt p;

	scene(family, IPPROTO_TCP, 0);
	flow(&p, &f, 1, IPPROTO_TCP, PKT_TCP_ACK);
	bpfrun_fill_ring(&r, vip_id, NULL, 0);
	bpfrun_expect_verdict(&r, "empty ring", p.data, p.len, XDP_DROP,
			      XLB_CNT_DROP_NO_BACKEND);
	assert_no_ct("after an empty ring", &f);

	/* ring names a slot that is not in use */
	set_ring(BE_A);
	bpfrun_get_backend(&r, BE_A, &a);
	a.flags = 0;
	bpfrun_set_backend(&r, BE_A, &a);
	bpfrun_expect_verdict(&r, "ring names a free slot", p.data, p.len,
			      XDP_DROP, XLB_CNT_DROP_NO_BACKEND);
}

Test(conntrack, no_backend_v4)
{
	no_backend_case(4);
}

Test(conntrack, no_backend_v6)
{
	no_backend_case(6);
}
