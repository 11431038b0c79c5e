/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* BPF_PROG_TEST_RUN harness for the xlb XDP object (see bpfrun.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "filter.h"
#include "vipindex.h"
#include "bpfrun.h"
#include "xlb_hash.h"
#include "xlb.skel.h"

/* libbpf speaks only when XLB_TEST_VERBOSE is set: its load logs would
 * bury the test's own message. */
static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!getenv("XLB_TEST_VERBOSE"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* A ring map: same type, sizes and flags as the datapath's inner map
 * template, or the kernel refuses it in xlb_rings. */
static int ring_create(uint32_t ring_size)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xlb_test_ring", sizeof(__u32),
			    sizeof(struct xlb_ring_pair),
			    XLB_RING_ELEMS(ring_size), &opts);
	cr_assert(fd >= 0, "creating a ring map of %u slots: %s", ring_size,
		  strerror(errno));
	return fd;
}

void bpfrun_open(struct bpfrun *r, uint32_t ring_size)
{
	int err, fd;

	memset(r, 0, sizeof(*r));
	r->tmpl_fd = -1;
	r->ring_size = ring_size;
	libbpf_set_print(print_fn);
	cr_assert(geteuid() == 0,
		  "packet tests load BPF programs and need root "
		  "(CAP_BPF + CAP_NET_ADMIN): run them with sudo");
	r->ncpus = libbpf_num_possible_cpus();
	cr_assert(r->ncpus > 0, "libbpf_num_possible_cpus: %s",
		  strerror(-r->ncpus));

	r->skel = xlb__open();
	cr_assert(r->skel,
		  "xlb__open (object compiled into %s/xlb.skel.h) failed: "
		  "%s; rebuild the BPF object",
		  XLB_BPF_DIR, strerror(errno));
	r->skel->rodata->ring_size = ring_size;
	/* libbpf 1.1 crashes in bpf_map__set_max_entries() on the inner map
	 * template (it has no object); give xlb_rings a template map of the
	 * right size instead, as the kernel only compares the two. */
	fd = ring_create(ring_size);
	err = bpf_map__set_inner_map_fd(r->skel->maps.xlb_rings, fd);
	cr_assert(!err, "setting the ring template (%u slots): %s", ring_size,
		  strerror(-err));
	r->tmpl_fd = fd;
	err = xlb_ct_size(r->skel->maps.xlb_conntrack4,
			  r->skel->maps.xlb_conntrack6, BPFRUN_CONNTRACK_SIZE,
			  &r->skel->rodata->conntrack);
	cr_assert(!err, "setting the conntrack size: %s", strerror(-err));

	err = xlb__load(r->skel);
	cr_assert(!err,
		  "loading xlb.bpf.o failed: %s; run the test with "
		  "XLB_TEST_VERBOSE=1 to see the verifier log",
		  strerror(-err));
	r->prog_fd = bpf_program__fd(r->skel->progs.xlb_main);
	cr_assert(r->prog_fd >= 0, "xlb_main has no fd after load");
	err = xlb_ct_populate(bpf_map__fd(r->skel->maps.xlb_conntrack4),
			      bpf_map__fd(r->skel->maps.xlb_conntrack6), NULL,
			      NULL);
	cr_assert(!err, "making the connection tables: %s", strerror(-err));
	err = xlb_ct_open(&r->ct4, bpf_map__fd(r->skel->maps.xlb_conntrack4), XLB_FAMILY_V4) ?:
		      xlb_ct_open(&r->ct6,
				  bpf_map__fd(r->skel->maps.xlb_conntrack6),
				  XLB_FAMILY_V6);
	cr_assert(!err, "mapping the connection tables: %s", strerror(-err));
}

void bpfrun_close(struct bpfrun *r)
{
	if (!r->skel)
		return; /* never opened */
	xlb_ct_close(&r->ct4);
	xlb_ct_close(&r->ct6);
	xlb__destroy(r->skel);
	r->skel = NULL;
	if (r->tmpl_fd >= 0)
		close(r->tmpl_fd);
	r->tmpl_fd = -1;
}

/* bpf_map__update_elem checks key and value sizes against the map. */
static void update(struct bpf_map *m, const void *k, size_t ks, const void *v,
		   size_t vs, const char *what)
{
	int err = bpf_map__update_elem(m, k, ks, v, vs, BPF_ANY);

	cr_assert(!err, "updating map %s (%s): %s", bpf_map__name(m), what,
		  strerror(-err));
}

/* The address filter bit the control plane sets with every VIP address. */
static void set_filter(struct bpfrun *r, const __be32 *addr, __u8 family)
{
	int err = xlb_filter_add(bpf_map__fd(r->skel->maps.xlb_addr_filter),
				 addr, family);

	cr_assert(!err, "setting the address filter: %s", strerror(-err));
}

void bpfrun_set_cfg(struct bpfrun *r, const struct xlb_cfg *cfg)
{
	__u32 k = 0;

	update(r->skel->maps.xlb_cfg, &k, sizeof(k), cfg, sizeof(*cfg), "cfg");
	r->cfg = *cfg;
}

/* The datapath reads VIPs from xlb_vip_index: rebuild it from xlb_vips,
 * as xlbctl does after writing them. */
static void sync_index(struct bpfrun *r)
{
	int err = xlb_vip_index_sync(bpf_map__fd(r->skel->maps.xlb_vips),
				     bpf_map__fd(r->skel->maps.xlb_vip_index));

	cr_assert(!err, "rebuilding the VIP index: %s", strerror(-err));
}

void bpfrun_add_vip(struct bpfrun *r, const struct xlb_vip_key *k,
		    const struct xlb_vip *v, uint32_t addr_flags)
{
	struct xlb_addr_key ak = {};
	struct xlb_vip_addr va = {};

	update(r->skel->maps.xlb_vips, k, sizeof(*k), v, sizeof(*v), "vip");
	sync_index(r);
	memcpy(ak.addr, k->addr, sizeof(ak.addr));
	ak.family = k->family;
	if (bpf_map__lookup_elem(r->skel->maps.xlb_vip_addrs, &ak, sizeof(ak),
				 &va, sizeof(va), 0))
		memset(&va, 0, sizeof(va));
	va.refs++;
	va.flags = addr_flags;
	set_filter(r, ak.addr, ak.family);
	update(r->skel->maps.xlb_vip_addrs, &ak, sizeof(ak), &va, sizeof(va),
	       "vip address");
}

void bpfrun_del_vip(struct bpfrun *r, const struct xlb_vip_key *k)
{
	int err =
		bpf_map__delete_elem(r->skel->maps.xlb_vips, k, sizeof(*k), 0);

	cr_assert(!err, "deleting a VIP: %s", strerror(-err));
	sync_index(r);
}

void bpfrun_set_addr(struct bpfrun *r, const struct xlb_addr_key *k,
		     uint32_t flags)
{
	struct xlb_vip_addr va = { .flags = flags, .refs = 1 };

	set_filter(r, k->addr, k->family);
	update(r->skel->maps.xlb_vip_addrs, k, sizeof(*k), &va, sizeof(va),
	       "vip address");
}

void bpfrun_set_backend(struct bpfrun *r, uint32_t id,
			const struct xlb_backend *b)
{
	update(r->skel->maps.xlb_backends, &id, sizeof(id), b, sizeof(*b),
	       "backend");
}

void bpfrun_get_backend(struct bpfrun *r, uint32_t id, struct xlb_backend *b)
{
	int err = bpf_map__lookup_elem(r->skel->maps.xlb_backends, &id,
				       sizeof(id), b, sizeof(*b), 0);

	cr_assert(!err, "reading backend %u: %s", id, strerror(-err));
}

bool bpfrun_get_vip(struct bpfrun *r, const struct xlb_vip_key *k,
		    struct xlb_vip *v)
{
	return !bpf_map__lookup_elem(r->skel->maps.xlb_vips, k, sizeof(*k), v,
				     sizeof(*v), 0);
}

void bpfrun_set_ring(struct bpfrun *r, uint32_t vip_id, const uint32_t *slots)
{
	__u32 i;
	int fd = ring_create(r->ring_size);

	for (i = 0; i < XLB_RING_ELEMS(r->ring_size); i++) {
		struct xlb_ring_pair p = { { slots[2 * i],
					     2 * i + 1 < r->ring_size ?
						     slots[2 * i + 1] :
						     XLB_MAGLEV_EMPTY } };

		cr_assert(!bpf_map_update_elem(fd, &i, &p, BPF_ANY),
			  "filling ring slots %u-%u: %s", 2 * i, 2 * i + 1,
			  strerror(errno));
	}
	update(r->skel->maps.xlb_rings, &vip_id, sizeof(vip_id), &fd,
	       sizeof(fd), "ring");
	/* The outer map holds its own reference. */
	close(fd);
}

void bpfrun_fill_ring(struct bpfrun *r, uint32_t vip_id, const uint32_t *ids,
		      size_t n)
{
	uint32_t *slots = calloc(r->ring_size, sizeof(*slots));
	uint32_t i;

	cr_assert(slots, "out of memory for a ring of %u", r->ring_size);
	for (i = 0; i < r->ring_size; i++)
		slots[i] = n ? ids[i % n] : XLB_MAGLEV_EMPTY;
	bpfrun_set_ring(r, vip_id, slots);
	free(slots);
}

uint32_t bpfrun_ring_slot(struct bpfrun *r, uint32_t vip_id, uint32_t slot)
{
	struct xlb_ring_pair p;
	__u32 inner_id, elem = slot / 2;
	int err, fd;

	err = bpf_map__lookup_elem(r->skel->maps.xlb_rings, &vip_id,
				   sizeof(vip_id), &inner_id, sizeof(inner_id),
				   0);
	cr_assert(!err, "VIP %u has no ring: %s", vip_id, strerror(-err));
	fd = bpf_map_get_fd_by_id(inner_id);
	cr_assert(fd >= 0, "opening ring map id %u: %s", inner_id,
		  strerror(errno));
	err = bpf_map_lookup_elem(fd, &elem, &p);
	close(fd);
	cr_assert(!err, "reading ring slot %u: %s", slot, strerror(errno));
	if (p.slot[slot & 1] == XLB_MAGLEV_EMPTY)
		return XLB_MAGLEV_EMPTY;
	return p.slot[slot & 1] & XLB_RING_ID_MASK;
}

int bpfrun_run(struct bpfrun *r, const uint8_t *in, size_t in_len, uint8_t *out,
	       size_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in,
		    .data_size_in = (__u32)in_len, .data_out = out,
		    .data_size_out = PKT_MAX, .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(r->prog_fd, &opts);
	cr_assert(!err,
		  "BPF_PROG_TEST_RUN of a %zu-byte packet failed: %s "
		  "(the kernel takes 14..~3500 bytes)",
		  in_len, strerror(errno));
	*out_len = opts.data_size_out;
	return (int)opts.retval;
}

const char *bpfrun_action_name(int action)
{
	static const char *const n[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS",
					 "XDP_TX", "XDP_REDIRECT" };

	return action >= 0 && action < 5 ? n[action] : "XDP_?";
}

size_t bpfrun_expect(struct bpfrun *r, const char *what, const uint8_t *in,
		     size_t in_len, int action, const uint8_t *want,
		     size_t want_len, uint8_t *out)
{
	static uint8_t got[PKT_MAX];
	size_t got_len;
	int act;

	act = bpfrun_run(r, in, in_len, got, &got_len);
	if (act != action) {
		pkt_hexdump(stderr, "input", in, in_len);
		pkt_hexdump(stderr, "output", got, got_len);
	}
	cr_assert_eq(act, action, "%s: verdict %s, want %s", what,
		     bpfrun_action_name(act), bpfrun_action_name(action));
	if (!want && action == XDP_PASS) {
		want = in;
		want_len = in_len;
	}
	if (want && (got_len != want_len || memcmp(got, want, got_len))) {
		fprintf(stderr, "%s:\n", what);
		pkt_hexdiff(stderr, got, got_len, want, want_len);
		cr_assert_fail(
			"%s: output packet differs from the expected one "
			"(hexdump diff above: got | want)",
			what);
	}
	if (out)
		memcpy(out, got, got_len);
	return got_len;
}

/* Sum a per-CPU value of @n u64 fields at @key of @m into @sum. */
static void percpu_sum(struct bpfrun *r, struct bpf_map *m, __u32 key,
		       uint64_t *sum, size_t n)
{
	size_t vs = n * sizeof(uint64_t);
	uint64_t *v = calloc(r->ncpus, vs);
	int err, c;
	size_t i;

	cr_assert(v, "out of memory for per-CPU values");
	err = bpf_map__lookup_elem(m, &key, sizeof(key), v, vs * r->ncpus, 0);
	cr_assert(!err, "reading %s[%u]: %s", bpf_map__name(m), key,
		  strerror(-err));
	memset(sum, 0, vs);
	for (c = 0; c < r->ncpus; c++)
		for (i = 0; i < n; i++)
			sum[i] += v[c * n + i];
	free(v);
}

void bpfrun_counters(struct bpfrun *r, uint64_t c[XLB_CNT_MAX])
{
	unsigned int i;

	for (i = 0; i < XLB_CNT_MAX; i++)
		percpu_sum(r, r->skel->maps.xlb_stats, i, &c[i], 1);
}

uint64_t bpfrun_counter(struct bpfrun *r, unsigned int idx)
{
	uint64_t v;

	percpu_sum(r, r->skel->maps.xlb_stats, idx, &v, 1);
	return v;
}

const char *bpfrun_counter_name(unsigned int idx)
{
	static const char *const n[XLB_CNT_MAX] = {
		[XLB_CNT_RX] = "RX",
		[XLB_CNT_CT_FULL] = "CT_FULL",
		[XLB_CNT_TX] = "TX",
		[XLB_CNT_TX_ICMP_ECHO] = "TX_ICMP_ECHO",
		[XLB_CNT_TX_ICMP_TOO_BIG] = "TX_ICMP_TOO_BIG",
		[XLB_CNT_TX_ICMP_ERR_FWD] = "TX_ICMP_ERR_FWD",
		[XLB_CNT_PASS_NON_IP] = "PASS_NON_IP",
		[XLB_CNT_PASS_NON_VIP] = "PASS_NON_VIP",
		[XLB_CNT_PASS_MALFORMED_L2] = "PASS_MALFORMED_L2",
		[XLB_CNT_PASS_MALFORMED_L3] = "PASS_MALFORMED_L3",
		[XLB_CNT_PASS_EXT_HDR_LIMIT] = "PASS_EXT_HDR_LIMIT",
		[XLB_CNT_DROP_MALFORMED_L4] = "DROP_MALFORMED_L4",
		[XLB_CNT_DROP_FRAGMENT] = "DROP_FRAGMENT",
		[XLB_CNT_DROP_NO_BACKEND] = "DROP_NO_BACKEND",
		[XLB_CNT_DROP_TOO_BIG] = "DROP_TOO_BIG",
		[XLB_CNT_DROP_ICMP_UNMATCHED] = "DROP_ICMP_UNMATCHED",
		[XLB_CNT_DROP_ADJUST] = "DROP_ADJUST",
		[XLB_CNT_PASS_VIP_OTHER] = "PASS_VIP_OTHER",
	};

	return idx < XLB_CNT_MAX && n[idx] ? n[idx] : "?";
}

void bpfrun_assert_counted(const char *what, const uint64_t before[XLB_CNT_MAX],
			   const uint64_t after[XLB_CNT_MAX],
			   const unsigned int *idx)
{
	uint64_t want[XLB_CNT_MAX];
	unsigned int i;

	memcpy(want, before, sizeof(want));
	want[XLB_CNT_RX]++;
	for (; *idx < XLB_CNT_MAX; idx++)
		want[*idx]++;
	for (i = 0; i < XLB_CNT_MAX; i++)
		cr_assert_eq(after[i], want[i],
			     "%s: counter %s went from %llu to %llu, want %llu",
			     what, bpfrun_counter_name(i),
			     (unsigned long long)before[i],
			     (unsigned long long)after[i],
			     (unsigned long long)want[i]);
}

void bpfrun_vip_stats(struct bpfrun *r, uint32_t vip_id,
		      struct xlb_vip_stats *s)
{
	uint64_t v[5];

	_Static_assert(sizeof(v) == sizeof(*s), "xlb_vip_stats is 5 u64");
	percpu_sum(r, r->skel->maps.xlb_vip_stats, vip_id, v, 5);
	memcpy(s, v, sizeof(*s));
}

void bpfrun_be_stats(struct bpfrun *r, uint32_t id, struct xlb_be_stats *s)
{
	uint64_t v[2];

	_Static_assert(sizeof(v) == sizeof(*s), "xlb_be_stats is 2 u64");
	percpu_sum(r, r->skel->maps.xlb_be_stats, id, v, 2);
	memcpy(s, v, sizeof(*s));
}

static struct xlb_ct_table *ct_table(struct bpfrun *r,
				     const struct xlb_flow_key *k)
{
	return k->family == XLB_FAMILY_V4 ? &r->ct4 : &r->ct6;
}

bool bpfrun_ct_get(struct bpfrun *r, uint32_t vip_id,
		   const struct xlb_flow_key *k, struct xlb_ct *ct)
{
	return xlb_ct_get(ct_table(r, k), k, vip_id, ct, NULL);
}

bool bpfrun_ct_referenced(struct bpfrun *r, uint32_t vip_id,
			  const struct xlb_flow_key *k)
{
	struct xlb_ct ct;
	bool ref;

	cr_assert(xlb_ct_get(ct_table(r, k), k, vip_id, &ct, &ref),
		  "flow not in the connection table");
	return ref;
}

void bpfrun_ct_put(struct bpfrun *r, uint32_t vip_id,
		   const struct xlb_flow_key *k, const struct xlb_ct *ct)
{
	int err = xlb_ct_put(ct_table(r, k), k, vip_id, ct);

	cr_assert(!err, "planting a connection-table entry: %s",
		  strerror(-err));
}

void bpfrun_ct_clear(struct bpfrun *r)
{
	int err = xlb_ct_clear(&r->ct4) ?: xlb_ct_clear(&r->ct6);

	cr_assert(!err, "clearing the connection tables: %s", strerror(-err));
}

/* ---- What xlb should send --------------------------------------------- */

void bpfrun_flow_of(const struct pkt_simple *s, struct xlb_flow_key *f)
{
	memset(f, 0, sizeof(*f));
	f->family = s->family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
	memcpy(f->src, s->src, s->family == 4 ? 4 : 16);
	memcpy(f->dst, s->dst, s->family == 4 ? 4 : 16);
	f->proto = s->proto;
	if (s->proto == IPPROTO_TCP || s->proto == IPPROTO_UDP) {
		f->sport = htons(s->sport);
		f->dport = htons(s->dport);
	}
}

void bpfrun_outer(struct pkt_outer *op, const uint8_t *in, size_t in_len,
		  const struct xlb_cfg *cfg, const struct xlb_vip *vip,
		  const struct xlb_backend *be, const struct xlb_flow_key *f)
{
	uint32_t entropy = xlb_flow_entropy(f);
	struct pkt_outer o = {};
	struct pkt_view v;
	const uint8_t *ip;

	cr_assert(pkt_parse(in, in_len, &v) && v.family,
		  "bpfrun_want_encap: input is not an IP frame");
	ip = in + v.l3_off;
	memcpy(o.dmac, cfg->gw_mac, 6);
	memcpy(o.smac, cfg->if_mac, 6);
	o.family = be->family == XLB_FAMILY_V4 ? 4 : 6;
	o.tos = v.family == 4 ? ip[1] :
				(uint8_t)((ip[0] & 0x0f) << 4 | ip[1] >> 4);
	o.ttl = XLB_OUTER_TTL;
	if (o.family == 4) {
		uint32_t s = htonl(XLB_DERIVED_SRC4_NET |
				   (entropy & XLB_DERIVED_SRC4_MASK));

		o.frag = 0x4000; /* DF */
		memcpy(o.src, cfg->flags & XLB_CFG_F_SRC4 ? &cfg->src4 : &s, 4);
		memcpy(o.dst, be->addr, 4);
	} else {
		if (cfg->flags & XLB_CFG_F_SRC6) {
			memcpy(o.src, cfg->src6, 16);
		} else {
			/* 100::/64 with the entropy in the last 32 bits */
			o.src[0] = 0x01;
			pkt_put32(o.src + 12, entropy);
		}
		memcpy(o.dst, be->addr, 16);
		o.flow = entropy & 0xfffff;
	}
	if (vip->encap == XLB_ENCAP_GUE || (be->flags & XLB_BE_F_GUE)) {
		o.udp = true;
		o.sport = 0xc000 | (entropy & 0x3fff);
		o.dport = vip->encap == XLB_ENCAP_GUE ? ntohs(vip->gue_port) :
							XLB_GUE_PORT_DEFAULT;
	}
	*op = o;
}

void bpfrun_want_encap(struct pkt *want, const uint8_t *in, size_t in_len,
		       const struct xlb_cfg *cfg, const struct xlb_vip *vip,
		       const struct xlb_backend *be,
		       const struct xlb_flow_key *f)
{
	struct pkt_outer o;

	bpfrun_outer(&o, in, in_len, cfg, vip, be, f);
	pkt_encap(want, in, in_len, &o);
}

void bpfrun_want_echo(struct pkt *want, const uint8_t *in, size_t in_len)
{
	struct pkt_view v;
	uint8_t tmp[16], *ip, *ic;
	size_t ilen;

	cr_assert(pkt_parse(in, in_len, &v) && v.family && v.l4_off,
		  "bpfrun_want_echo: input is not an IP frame");
	pkt_init(want);
	memcpy(want->data, in, in_len);
	want->len = in_len;
	memcpy(want->data, in + 6, 6);
	memcpy(want->data + 6, in, 6);
	ip = want->data + v.l3_off;
	ic = want->data + v.l4_off;
	ilen = pkt_ip_len(ip) - (v.l4_off - v.l3_off);
	if (v.family == 4) {
		memcpy(tmp, ip + 12, 4);
		memcpy(ip + 12, ip + 16, 4);
		memcpy(ip + 16, tmp, 4);
		ip[8] = XLB_OUTER_TTL;
		pkt_put16(ip + 10, 0);
		pkt_put16(ip + 10, pkt_ip4_csum(ip, v.l3_hlen));
		ic[0] = 0; /* echo reply */
	} else {
		memcpy(tmp, ip + 8, 16);
		memcpy(ip + 8, ip + 24, 16);
		memcpy(ip + 24, tmp, 16);
		ip[7] = XLB_OUTER_TTL;
		ic[0] = 129; /* echo reply */
	}
	pkt_put16(ic + 2, 0);
	pkt_put16(ic + 2, pkt_l4_csum(ip, ic, ilen, v.family == 4 ? 1 : 58));
}

void bpfrun_want_too_big(struct pkt *want, const uint8_t *in, size_t in_len,
			 uint32_t mtu)
{
	struct pkt_view v;
	const uint8_t *ip;
	size_t quote;
	int i;

	cr_assert(pkt_parse(in, in_len, &v) && v.family && v.l4_off,
		  "bpfrun_want_too_big: input is not an IP frame");
	ip = in + v.l3_off;
	pkt_init(want);
	pkt_eth(want, in + 6, in, PKT_AUTO);
	for (i = 0; i < v.nvlan; i++)
		pkt_vlan(want, v.vlan_tpid[i], v.vlan_tci[i], PKT_AUTO);
	if (v.family == 4) {
		struct pkt_ip4 o = { .ttl = XLB_OUTER_TTL, .proto = PKT_AUTO };

		memcpy(&o.src, ip + 16, 4);
		memcpy(&o.dst, ip + 12, 4);
		pkt_ipv4(want, &o);
		/* RFC 792: the IP header and the first 8 payload bytes;
		 * RFC 1191: next-hop MTU in the low 16 bits */
		pkt_icmp4(want, 3, 4, mtu & 0xffff);
		quote = v.l3_hlen + 8;
	} else {
		struct pkt_ip6 o = { .hlim = XLB_OUTER_TTL,
				     .nexthdr = PKT_AUTO };

		memcpy(o.src, ip + 24, 16);
		memcpy(o.dst, ip + 8, 16);
		pkt_ipv6(want, &o);
		pkt_icmp6(want, 2, 0, mtu);
		/* RFC 4443 2.4(c): as much as fits the minimum MTU of
		 * 1280 with the new IPv6 and ICMPv6 headers (even) */
		quote = pkt_ip_len(ip) < 1232 ? pkt_ip_len(ip) : 1232;
		quote &= ~(size_t)1;
	}
	pkt_bytes(want, ip, quote);
	pkt_finish(want);
}

/* ---- Building the maps' contents from text ---------------------------- */

struct xlb_vip_key bpfrun_vip_key(const char *addr, uint16_t port,
				  uint8_t proto)
{
	struct xlb_vip_key k = {};
	uint8_t a[16];

	k.family = pkt_addr(addr, a) == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
	memcpy(k.addr, a, 16);
	k.port = htons(port);
	k.proto = proto;
	return k;
}

void bpfrun_same_home_keys(const char *addr, uint8_t proto,
			   struct xlb_vip_key *out, size_t n)
{
	static uint16_t count[XLB_VIP_INDEX_SLOTS];
	uint32_t home = UINT32_MAX, port;
	size_t i = 0;

	memset(count, 0, sizeof(count));
	for (port = 1; port < 65536 && home == UINT32_MAX; port++) {
		struct xlb_vip_key k =
			bpfrun_vip_key(addr, (uint16_t)port, proto);
		uint32_t h = xlb_vip_index_home(&k);

		if (++count[h] == n)
			home = h;
	}
	cr_assert_neq(home, UINT32_MAX, "no %zu ports share a home slot", n);
	for (port = 1; i < n; port++) {
		out[i] = bpfrun_vip_key(addr, (uint16_t)port, proto);
		if (xlb_vip_index_home(&out[i]) == home)
			i++;
	}
}

struct xlb_backend bpfrun_backend(const char *addr, uint32_t gen, uint8_t flags)
{
	struct xlb_backend b = {};
	uint8_t a[16];

	b.family = pkt_addr(addr, a) == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
	memcpy(b.addr, a, 16);
	b.gen = gen;
	b.weight = 100;
	b.flags = flags;
	b.state = XLB_BE_STATE_ACTIVE;
	return b;
}

/* ---- Expectations from the model -------------------------------------- */

void bpfrun_flow_of_frame(const uint8_t *in, size_t in_len,
			  struct xlb_flow_key *f)
{
	struct pkt_view v;
	size_t alen;

	cr_assert(pkt_parse(in, in_len, &v) && v.family,
		  "bpfrun_flow_of_frame: not an IP frame");
	memset(f, 0, sizeof(*f));
	f->family = v.family == 4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
	alen = v.family == 4 ? 4 : 16;
	memcpy(f->src, in + v.l3_off + (v.family == 4 ? 12 : 8), alen);
	memcpy(f->dst, in + v.l3_off + (v.family == 4 ? 16 : 24), alen);
	f->proto = v.proto;
	if ((v.proto == IPPROTO_TCP || v.proto == IPPROTO_UDP) &&
	    v.l4_off + 4 <= in_len) {
		memcpy(&f->sport, in + v.l4_off, 2);
		memcpy(&f->dport, in + v.l4_off + 2, 2);
	}
}

bool bpfrun_model(struct bpfrun *r, const struct xlb_flow_key *f,
		  struct xlb_vip *vip, uint32_t *be_id, struct xlb_backend *be)
{
	struct xlb_vip_key k = {};

	memcpy(k.addr, f->dst, sizeof(k.addr));
	k.port = f->dport;
	k.proto = f->proto;
	k.family = f->family;
	if (!bpfrun_get_vip(r, &k, vip)) {
		k.port = 0;
		if (!bpfrun_get_vip(r, &k, vip))
			return false;
	}
	*be_id = bpfrun_ring_slot(r, vip->vip_id,
				  xlb_flow_hash(f, vip->hash_mode) %
					  r->ring_size);
	if (*be_id != XLB_MAGLEV_EMPTY)
		bpfrun_get_backend(r, *be_id, be);
	return true;
}

void bpfrun_expect_fwd(struct bpfrun *r, const char *what, const uint8_t *in,
		       size_t in_len, uint32_t be_id, unsigned int counter)
{
	bpfrun_expect_fwd_event(r, what, in, in_len, be_id, counter,
				XLB_CNT_MAX);
}

void bpfrun_expect_fwd_event(struct bpfrun *r, const char *what,
			     const uint8_t *in, size_t in_len, uint32_t be_id,
			     unsigned int counter, unsigned int event)
{
	uint64_t before[XLB_CNT_MAX], after[XLB_CNT_MAX];
	unsigned int cnt[] = { counter, event, XLB_CNT_MAX };
	static uint8_t out[PKT_MAX];
	struct xlb_backend be;
	struct xlb_flow_key f;
	struct pkt_outer o;
	struct xlb_vip vip;
	struct pkt want;
	uint32_t id;
	size_t n;

	bpfrun_flow_of_frame(in, in_len, &f);
	cr_assert(bpfrun_model(r, &f, &vip, &id, &be),
		  "%s: test setup: no VIP for this flow", what);
	if (be_id != UINT32_MAX) {
		id = be_id;
		bpfrun_get_backend(r, id, &be);
	}
	cr_assert_neq(id, XLB_MAGLEV_EMPTY,
		      "%s: test setup: the ring slot is empty", what);
	bpfrun_outer(&o, in, in_len, &r->cfg, &vip, &be, &f);
	pkt_encap(&want, in, in_len, &o);
	bpfrun_counters(r, before);
	n = bpfrun_expect(r, what, in, in_len, XDP_TX, want.data, want.len,
			  out);
	pkt_assert_outer(out, n, in, in_len, &o);
	bpfrun_counters(r, after);
	bpfrun_assert_counted(what, before, after, cnt);
}

void bpfrun_expect_verdict(struct bpfrun *r, const char *what,
			   const uint8_t *in, size_t in_len, int action,
			   unsigned int counter)
{
	uint64_t before[XLB_CNT_MAX], after[XLB_CNT_MAX];
	unsigned int cnt[] = { counter, XLB_CNT_MAX };

	bpfrun_counters(r, before);
	bpfrun_expect(r, what, in, in_len, action, NULL, 0, NULL);
	bpfrun_counters(r, after);
	bpfrun_assert_counted(what, before, after, cnt);
}
