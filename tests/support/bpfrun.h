/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Run the real xlb XDP object through BPF_PROG_TEST_RUN: load it from its
 * skeleton, fill its maps through the ABI, run one packet, compare bytes. */
#ifndef XLB_TEST_BPFRUN_H
#define XLB_TEST_BPFRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conntrack.h"
#include "maglev.h" /* XLB_MAGLEV_EMPTY */
#include "pkt.h"
#include "xlb_abi.h"

struct xlb;

/* Connection-table size the tests load with, flows: small enough that a
 * test does not preallocate the production million, large enough that the
 * 10,000-flow consistency test never evicts. */
#define BPFRUN_CONNTRACK_SIZE 65536

struct bpfrun {
	struct xlb *skel;
	int prog_fd;
	uint32_t ring_size;
	int tmpl_fd; /* inner map template of xlb_rings */
	int ncpus; /* possible CPUs: per-CPU map values come in this many */
	struct xlb_cfg cfg; /* as last written by bpfrun_set_cfg() */
	struct xlb_ct_table ct4, ct6; /* the connection tables, mapped */
};

/* Load xlb.bpf.o with @ring_size slots per ring (a prime). Fails the test
 * with the reason (and the remedy: root, rebuild) if it cannot. */
void bpfrun_open(struct bpfrun *r, uint32_t ring_size);
/* Destroy the skeleton (maps, program, inner ring maps go with it). */
void bpfrun_close(struct bpfrun *r);

void bpfrun_set_cfg(struct bpfrun *r, const struct xlb_cfg *cfg);
/* Add a VIP and count it on its address in xlb_vip_addrs (created with
 * @addr_flags if new, else its flags are replaced by @addr_flags). */
void bpfrun_add_vip(struct bpfrun *r, const struct xlb_vip_key *k,
		    const struct xlb_vip *v, uint32_t addr_flags);
void bpfrun_del_vip(struct bpfrun *r, const struct xlb_vip_key *k);
void bpfrun_set_addr(struct bpfrun *r, const struct xlb_addr_key *k,
		     uint32_t flags);
void bpfrun_set_backend(struct bpfrun *r, uint32_t id,
			const struct xlb_backend *b);
/* Install a new ring for @vip_id (swapping out the old one, as the control
 * plane does): @slots has ring_size backend ids (XLB_MAGLEV_EMPTY for
 * none), each | XLB_RING_F_CHANGED where a bare SYN must read the
 * connection table. */
void bpfrun_set_ring(struct bpfrun *r, uint32_t vip_id, const uint32_t *slots);
/* Same, slot i = @ids[i % @n]; @n == 0 leaves every slot empty. */
void bpfrun_fill_ring(struct bpfrun *r, uint32_t vip_id, const uint32_t *ids,
		      size_t n);
/* Read slot @slot of @vip_id's ring back through the outer map: the
 * backend id, without XLB_RING_F_CHANGED (XLB_MAGLEV_EMPTY stays). */
uint32_t bpfrun_ring_slot(struct bpfrun *r, uint32_t vip_id, uint32_t slot);
/* Read a VIP / backend back from the maps; false if absent. */
bool bpfrun_get_vip(struct bpfrun *r, const struct xlb_vip_key *k,
		    struct xlb_vip *v);
void bpfrun_get_backend(struct bpfrun *r, uint32_t id, struct xlb_backend *b);

/* Run @in once (repeat = 1). @out gets the resulting packet (PKT_MAX
 * bytes room), @out_len its length. Returns the XDP action. */
int bpfrun_run(struct bpfrun *r, const uint8_t *in, size_t in_len, uint8_t *out,
	       size_t *out_len);

/* Run @in and assert the action is @action; if @want is given, the output
 * must equal it byte for byte (a hexdump diff of both is printed and the
 * test fails if not). For XDP_PASS with @want NULL the packet must come out
 * unchanged. @what names the case in messages. Returns the output length
 * and copies the output to @out if not NULL. */
size_t bpfrun_expect(struct bpfrun *r, const char *what, const uint8_t *in,
		     size_t in_len, int action, const uint8_t *want,
		     size_t want_len, uint8_t *out);

/* Global counters summed over CPUs: @c gets XLB_CNT_MAX values. */
void bpfrun_counters(struct bpfrun *r, uint64_t c[XLB_CNT_MAX]);
uint64_t bpfrun_counter(struct bpfrun *r, unsigned int idx);
/* Assert that between @before and @after exactly RX and the counters in
 * @idx (a XLB_CNT_MAX-terminated list) grew, each by one. */
void bpfrun_assert_counted(const char *what, const uint64_t before[XLB_CNT_MAX],
			   const uint64_t after[XLB_CNT_MAX],
			   const unsigned int *idx);
void bpfrun_vip_stats(struct bpfrun *r, uint32_t vip_id,
		      struct xlb_vip_stats *s);
void bpfrun_be_stats(struct bpfrun *r, uint32_t id, struct xlb_be_stats *s);

/* Connection table, flows of VIP @vip_id: look up (false if absent),
 * whether the entry is referenced (XLB_CT_V_REF; fails the test if
 * absent), write (the flow's own way or an empty one), delete all. */
bool bpfrun_ct_get(struct bpfrun *r, uint32_t vip_id,
		   const struct xlb_flow_key *k, struct xlb_ct *ct);
bool bpfrun_ct_referenced(struct bpfrun *r, uint32_t vip_id,
			  const struct xlb_flow_key *k);
void bpfrun_ct_put(struct bpfrun *r, uint32_t vip_id,
		   const struct xlb_flow_key *k, const struct xlb_ct *ct);
void bpfrun_ct_clear(struct bpfrun *r);

/* ---- Building the maps' contents from text -------------------------- */

/* A VIP key for "addr", @port (host order), @proto. */
struct xlb_vip_key bpfrun_vip_key(const char *addr, uint16_t port,
				  uint8_t proto);
/* @n keys of "addr" and @proto, on the lowest ports whose keys share one
 * home slot of the VIP index (the first home that @n ports reach). */
void bpfrun_same_home_keys(const char *addr, uint8_t proto,
			   struct xlb_vip_key *out, size_t n);
/* A backend at "addr" with @gen and @flags (weight 100, state active). */
struct xlb_backend bpfrun_backend(const char *addr, uint32_t gen,
				  uint8_t flags);

/* ---- What xlb should send ------------------------------------------
 * Built from the contract with the test's own packet builder and
 * checksums, never from the datapath's code. */

/* The client-side flow of a pkt_simple packet. */
void bpfrun_flow_of(const struct pkt_simple *s, struct xlb_flow_key *f);
/* The outer headers xlb puts on flow @f of @vip toward @be under @cfg:
 * outer source, flow label and GUE source port from the flow hash; TOS
 * from frame @in. */
void bpfrun_outer(struct pkt_outer *o, const uint8_t *in, size_t in_len,
		  const struct xlb_cfg *cfg, const struct xlb_vip *vip,
		  const struct xlb_backend *be, const struct xlb_flow_key *f);
/* Frame @in encapsulated as bpfrun_outer() says. */
void bpfrun_want_encap(struct pkt *want, const uint8_t *in, size_t in_len,
		       const struct xlb_cfg *cfg, const struct xlb_vip *vip,
		       const struct xlb_backend *be,
		       const struct xlb_flow_key *f);
/* The echo reply to the echo request @in. */
void bpfrun_want_echo(struct pkt *want, const uint8_t *in, size_t in_len);
/* The ICMP "fragmentation needed" / ICMPv6 "packet too big" answering
 * @in, announcing @mtu. */
void bpfrun_want_too_big(struct pkt *want, const uint8_t *in, size_t in_len,
			 uint32_t mtu);

/* The client-side flow of frame @in (ports 0 for ICMP). Fails the test if
 * @in is not IP. */
void bpfrun_flow_of_frame(const uint8_t *in, size_t in_len,
			  struct xlb_flow_key *f);
/* What the maps say flow @f gets, worked out in user space from the same
 * maps and xlb_flow_hash (connection table not consulted): the VIP (exact
 * port, then port 0) into @vip, the ring's backend id and entry. Returns
 * false if no VIP matches. */
bool bpfrun_model(struct bpfrun *r, const struct xlb_flow_key *f,
		  struct xlb_vip *vip, uint32_t *be_id, struct xlb_backend *be);
/* Run frame @in, expect XDP_TX to the backend bpfrun_model() picks for its
 * flow (or to backend @be_id if not UINT32_MAX), the exact bytes (checked
 * whole and field by field) and exactly @counter (and RX) counted. */
void bpfrun_expect_fwd(struct bpfrun *r, const char *what, const uint8_t *in,
		       size_t in_len, uint32_t be_id, unsigned int counter);
/* The same, with event counter @event (XLB_CNT_EVENTS on) counted too;
 * XLB_CNT_MAX: none. */
void bpfrun_expect_fwd_event(struct bpfrun *r, const char *what,
			     const uint8_t *in, size_t in_len, uint32_t be_id,
			     unsigned int counter, unsigned int event);
/* Run frame @in, expect @action, exactly @counter (and RX) counted, and
 * for XDP_PASS the frame unchanged. */
void bpfrun_expect_verdict(struct bpfrun *r, const char *what,
			   const uint8_t *in, size_t in_len, int action,
			   unsigned int counter);

/* "XDP_TX" etc. */
const char *bpfrun_action_name(int action);
/* Name of a global counter ("DROP_FRAGMENT"), for messages. */
const char *bpfrun_counter_name(unsigned int idx);

#endif /* XLB_TEST_BPFRUN_H */
