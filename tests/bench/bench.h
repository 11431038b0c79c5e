/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xlb-bench: shared options, results, packet builders and the loader that
 * fills xlb's maps directly (no xlbctl), for every benchmark section. */
#ifndef XLB_BENCH_H
#define XLB_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "conntrack.h"
#include "xlb_abi.h"

/* ---- Options ------------------------------------------------------------ */

#define SEC_COST (1U << 0)
#define SEC_LIVE (1U << 1)
#define SEC_FLOOD (1U << 2)
#define SEC_CTL (1U << 3)
#define SEC_ALL (SEC_COST | SEC_LIVE | SEC_FLOOD | SEC_CTL)

struct bench_opts {
	bool quick, json, verbose;
	unsigned int sections; /* SEC_* */
	uint64_t calls; /* test runs per timed run (one per packet) */
	int runs; /* timed runs per path; the median is kept */
	int loads; /* cost: fresh loads of xlb; the median over them is kept */
	int cpu; /* CPU to pin to; -1: do not pin */
	double live_secs; /* live frames: seconds per measurement */
	uint32_t live_flows; /* live frames: flows of the "many" case */
	int live_rounds; /* live frames: rounds of xlb then the floor */
	uint32_t live_ct_size; /* live frames: conntrack_size of xlb */
	uint64_t flood_pkts; /* SYN flood: new-flow packets */
	uint32_t flood_est; /* SYN flood: established flows */
	uint32_t ct_size; /* conntrack flows for the "full" paths */
	const char *xlbctl; /* path of xlbctl for the reload timing */
	const char *filter; /* cost: only paths whose name contains it */
	const char *object; /* a variant xlb.bpf.o in place of the built-in */
	bool no_check; /* time only: do not check the path taken */
};

/* ---- Results ------------------------------------------------------------ */

#define BENCH_MAX_PATHS 48
#define BENCH_MAX_LIVE_ROUNDS 9

struct bench_path {
	char name[48];
	double ns; /* kernel-timed ns per packet (median of runs) */
	double wall_ns; /* wall-clock ns per call, syscall included */
	double ratio; /* ns / floor ns */
	double target; /* ratio the path should stay under; 0: none */
	double spread; /* (max - min) / median of the runs' (loads') ns */
	uint64_t calls; /* per run */
	char note[96]; /* what was checked, or why it failed */
	bool ok; /* every call returned the expected action */
};

struct bench_live {
	bool done;
	char err[256];
	double xlb_mpps, floor_mpps; /* many flows (median of the rounds) */
	double xlb_mpps_1flow, floor_mpps_1flow; /* one flow */
	/* many flows to a VIP with `conntrack: false`: no flow's state is
	 * read, so against xlb_mpps it shows what reading it costs */
	double xlb_mpps_noct;
	int rounds;
	double xlb_r[BENCH_MAX_LIVE_ROUNDS], xlb1_r[BENCH_MAX_LIVE_ROUNDS];
	double xlbn_r[BENCH_MAX_LIVE_ROUNDS];
	double floor_r[BENCH_MAX_LIVE_ROUNDS], floor1_r[BENCH_MAX_LIVE_ROUNDS];
	uint32_t flows;
	uint32_t ct_size; /* xlb's conntrack_size */
	uint64_t ct_buckets; /* its IPv4 table's buckets */
	double secs;
	int cpu;
	uint64_t xlb_tx, sink; /* many flows, xlb: its TX counter vs sink */
	uint64_t ct_full; /* ... and its ct_full: packets not remembered */
	/* this CPU's latency of random reads, one line each, over working
	 * sets of mem_mb[i] MB (what a flow's bucket costs when the flows'
	 * buckets are that many bytes of lines) */
	int nmem;
	uint32_t mem_mb[8];
	double mem_ns[8];
	double bucket_mb; /* the many flows' distinct bucket lines, in MB */
};

struct bench_flood_case {
	uint64_t flood_pkts, syn, ack_new; /* packets sent */
	uint32_t est; /* established flows */
	uint32_t kept; /* same backend at the end */
	uint32_t moved; /* changed backend */
	uint32_t ct_survived; /* entry present at the end */
	uint32_t moved_with_entry; /* moved although remembered */
	uint32_t would_move; /* slot changed by the ring change */
	double flood_kpps; /* test-run calls per second */
};

struct bench_flood {
	bool done;
	char err[256];
	uint32_t ct_size, ct_ways;
	struct bench_flood_case stable, ring_change;
};

struct bench_maglev_time {
	uint32_t n, m;
	double ms;
};

struct bench_map_mem {
	char name[40];
	uint64_t bytes;
};

struct bench_ctl {
	bool done;
	char err[256];
	struct bench_maglev_time mg[8];
	int nmg;
	struct bench_map_mem mem[16];
	int nmem;
	uint64_t mem_total; /* every map, no VIP ring */
	uint64_t ring_bytes; /* one ring at the default size */
	uint64_t ring_bytes_max; /* one ring at XLB_RING_SIZE_MAX */
	char reload_status[160]; /* "ok" or "n/a: ..." */
	/* as xlbctl reports them, and the whole process's wall time */
	double load_ms, reload_full_ms, reload_one_ms, reload_noop_ms;
	double load_wall, reload_full_wall, reload_one_wall, reload_noop_wall;
};

struct bench_results {
	double floor_ns, floor_wall_ns;
	double floor_ns_begin, floor_ns_end;
	int npaths;
	struct bench_path paths[BENCH_MAX_PATHS];
	struct bench_live live;
	struct bench_flood flood;
	struct bench_ctl ctl;
	int cpu;
	char kernel[64];
	char date[32];
};

/* ---- Helpers (bench.c) -------------------------------------------------- */

extern struct bench_opts bopt;

/* Progress line on stderr (only with -v, or always if @always). */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t now_ns(void);
/* Pin the calling thread to @cpu; returns 0 or -errno (printed). */
int pin_cpu(int cpu);
int possible_cpus(void);
double median(double *v, int n);
/* Run a shell command, quiet unless verbose; returns its exit status. */
int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- Packets (pkt.c) ---------------------------------------------------- */

/* Bytes a prebuilt packet may take. */
#define BPKT_MAX 256
/* Payload after the L4 header: 64-byte IPv4/TCP frames. */
#define BPKT_PAYLOAD 10

/* Addresses are host order (IPv4) or 16 bytes network order (IPv6). */
size_t bpkt_v4(uint8_t *b, uint8_t proto, uint32_t src, uint32_t dst,
	       uint16_t sport, uint16_t dport, uint8_t tcp_flags);
size_t bpkt_v6(uint8_t *b, uint8_t proto, const uint8_t src[16],
	       const uint8_t dst[16], uint16_t sport, uint16_t dport,
	       uint8_t tcp_flags);
size_t bpkt_echo4(uint8_t *b, uint32_t src, uint32_t dst);
/* ICMP fragmentation-needed from @router to @vip about the packet
 * @vip:@vport -> @client:@cport (TCP) that a backend sent. */
size_t bpkt_icmp_err4(uint8_t *b, uint32_t router, uint32_t vip, uint16_t vport,
		      uint32_t client, uint16_t cport);
/* Rewrite source address and port of an IPv4 TCP/UDP frame built above
 * (IPv4 checksum kept valid). */
void bpkt_set_src4(uint8_t *b, uint32_t src, uint16_t sport);
/* Rewrite the destination address (IPv4 checksum kept valid). */
void bpkt_set_dst4(uint8_t *b, uint32_t dst);
/* Outer IPv4 destination of an encapsulated frame (host order), 0 if the
 * frame is not IPv4. */
uint32_t bpkt_outer_dst4(const uint8_t *b, size_t len);

#define TCPF_SYN 0x02
#define TCPF_ACK 0x10

/* ---- xlb loaded from its skeleton, maps filled directly (xlbload.c) ---- */

struct xlb;
struct bpf_object;

struct bxlb {
	struct xlb *skel; /* NULL with --object */
	struct bpf_object *obj; /* the loaded object either way */
	int prog_fd;
	uint32_t ring_size;
	int ncpus;
	int vips_fd, addrs_fd, rings_fd, backends_fd;
	int stats_fd, vip_stats_fd;
	struct xlb_ct_table ct; /* IPv4: the bench's flows are IPv4 */
};

/* Load xlb with @ring_size slots per ring and @ct_size conntrack flows
 * (0: defaults). Returns 0 or -errno (printed). */
int bxlb_open(struct bxlb *x, uint32_t ring_size, uint32_t ct_size);
void bxlb_close(struct bxlb *x);
/* Backend slot @id at @addr (IPv4, host order), live, generation 1. */
int bxlb_backend(struct bxlb *x, uint32_t id, uint32_t addr);
/* A VIP: @key, id @vip_id, @encap XLB_ENCAP_*, @vip_flags XLB_VIP_F_*;
 * its address gets @addr_flags. The ring maps Maglev positions 0..n-1 of @table (values
 * local indexes) to @ids. */
int bxlb_vip(struct bxlb *x, const struct xlb_vip_key *key, uint32_t vip_id,
	     uint8_t encap, uint32_t vip_flags, uint32_t addr_flags,
	     const uint32_t *table, const uint32_t *ids);
/* Swap in a new ring for @vip_id (as a reload does): replacing a ring,
 * it marks (XLB_RING_F_CHANGED) the slots whose owner changed and keeps
 * the old marks, as xlbctl does; a first ring has none. */
int bxlb_ring(struct bxlb *x, uint32_t vip_id, const uint32_t *table,
	      const uint32_t *ids);
/* Mark every slot of @vip_id's ring in place: the worst case for a bare
 * SYN, which then always reads the connection table. */
int bxlb_ring_mark_all(struct bxlb *x, uint32_t vip_id);
/* Maglev table over @n backends at 10.100.0.0 + @first + j (ids are
 * local indexes 0..n-1). Returns a malloc'd ring_size table or NULL. */
uint32_t *bxlb_maglev(uint32_t ring_size, uint32_t n, uint32_t first);
/* Global counter / VIP counters summed over CPUs. */
uint64_t bxlb_counter(struct bxlb *x, uint32_t idx);
int bxlb_vip_stats(struct bxlb *x, uint32_t vip_id, struct xlb_vip_stats *s);
/* Delete every conntrack entry. */
int bxlb_ct_clear(struct bxlb *x);
/* Fill every way of the connection table with unrelated flows, none
 * referenced: every insert then evicts. Returns 0 or -errno. */
int bxlb_ct_fill(struct bxlb *x);
/* Conntrack entries. */
uint64_t bxlb_ct_count(struct bxlb *x);

void xkey4(struct xlb_vip_key *k, uint32_t addr, uint16_t port, uint8_t proto);
void xkey6(struct xlb_vip_key *k, const uint8_t addr[16], uint16_t port,
	   uint8_t proto);

/* ---- Sections ------------------------------------------------------------ */

int bench_cost(struct bench_results *r);
int bench_live(struct bench_results *r);
int bench_flood(struct bench_results *r);
int bench_ctl(struct bench_results *r);

#endif /* XLB_BENCH_H */
