/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Packet fuzzer: a million hostile frames through the real xlb object
 * (BPF_PROG_TEST_RUN), each checked against a reference model of the
 * datapath's contract, its counters and the bytes it transmits.
 *
 * Every run replays tests/packet/fuzz_corpus/ first, then sweeps fixed
 * templates (truncation at every offset, every header byte mutated), then
 * XLB_FUZZ_N random inputs (default 1,000,000) from seed XLB_FUZZ_SEED
 * (default: time-derived, always printed). A failing input is written to
 * the corpus (one file per kind of failure) and the test fails. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <criterion/criterion.h>

#include "bpfrun.h"
#include "pkt.h"
#include "xlb_hash.h"
#include "xlb.skel.h"

/* ---- The configuration the fuzzer runs against ---------------------- */

/* Maglev slots per ring: a small prime keeps setup fast and still lets
 * every backend of a VIP be hit. */
#define RING 31
/* Largest frame BPF_PROG_TEST_RUN takes for a non-frags XDP program:
 * a page minus XDP headroom and skb_shared_info, bytes. */
#define MAX_FRAME 3500
/* Minimum frame BPF_PROG_TEST_RUN accepts: an Ethernet header. */
#define MIN_FRAME 14
/* Output buffer: input + the largest encapsulation overhead. */
#define OUT_MAX 8192
/* Corpus files written per kind of failure (one is enough to replay). */
#define CORPUS_PER_KIND 1
/* Failures printed in full before the rest are only counted. */
#define PRINT_MAX 10

static const uint8_t GW_MAC[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t IF_MAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };

/* Global settings the random inputs run under, a third each: MTU (the
 * largest outer IP packet, bytes; 0 = no limit), ICMP too-big on/off,
 * configured or derived outer sources. The sweep runs under the first. */
static const struct fz_cfg {
	uint16_t mtu;
	uint16_t flags;
	const char *src4, *src6;
} CFGS[] = {
	{ 1500, XLB_CFG_F_ICMP_TOO_BIG | XLB_CFG_F_SRC4, "192.0.2.100", NULL },
	{ 1400, XLB_CFG_F_SRC6, NULL, "2001:db8:ffff::1" },
	{ 0, XLB_CFG_F_ICMP_TOO_BIG, NULL, NULL },
};
#define NCFGS (sizeof(CFGS) / sizeof(CFGS[0]))

struct fz_vip {
	const char *addr;
	uint16_t port; /* host order, 0 = wildcard */
	uint8_t proto;
	uint8_t encap;
	uint16_t gue_port; /* host order */
	uint8_t hash_mode;
	uint32_t flags;
	int echo; /* ICMP echo on this VIP's address */
	int nbe;
	uint32_t be[4]; /* backend ids; a ring slot takes be[k % nbe] */
	/* filled at setup */
	struct xlb_vip_key key;
	struct xlb_vip val;
	uint32_t ring[RING];
};

struct fz_be {
	const char *addr;
	uint8_t flags; /* 0: slot referenced by a ring but not in use */
};

/* Backend slots; the ids are the indices. */
static struct fz_be BES[] = {
	[0] = { "10.1.0.1", XLB_BE_F_IN_USE | XLB_BE_F_LIVE },
	[1] = { "10.1.0.2", XLB_BE_F_IN_USE | XLB_BE_F_LIVE },
	[2] = { "2001:db8:1::2", XLB_BE_F_IN_USE | XLB_BE_F_LIVE },
	[3] = { "10.1.0.3", XLB_BE_F_IN_USE | XLB_BE_F_LIVE },
	[4] = { "10.1.0.4", XLB_BE_F_IN_USE | XLB_BE_F_LIVE | XLB_BE_F_GUE },
	[5] = { "10.1.0.5", XLB_BE_F_IN_USE | XLB_BE_F_LIVE },
	[6] = { "10.1.0.6", XLB_BE_F_IN_USE | XLB_BE_F_LIVE },
	[7] = { "2001:db8:1::7", XLB_BE_F_IN_USE | XLB_BE_F_LIVE },
	[8] = { "2001:db8:1::8", XLB_BE_F_IN_USE | XLB_BE_F_LIVE },
	[9] = { "10.1.0.9", XLB_BE_F_IN_USE | XLB_BE_F_LIVE },
	[10] = { "2001:db8:1::a",
		 XLB_BE_F_IN_USE | XLB_BE_F_LIVE | XLB_BE_F_GUE },
	[11] = { "10.1.0.11", 0 },
};
#define NBE (sizeof(BES) / sizeof(BES[0]))
static struct xlb_backend BE[NBE];

/* v4/v6, tcp/udp, exact port and wildcard, IPIP and GUE, every hash
 * mode, conntrack on and off, echo on and off, a VIP with an empty ring
 * and one whose ring names a slot not in use. */
static struct fz_vip VIPS[] = {
	{ "10.0.0.1",
	  80,
	  IPPROTO_TCP,
	  XLB_ENCAP_IPIP,
	  0,
	  XLB_HASH_5TUPLE,
	  0,
	  1,
	  3,
	  { 0, 1, 2 } },
	{ "10.0.0.1",
	  53,
	  IPPROTO_UDP,
	  XLB_ENCAP_GUE,
	  6081,
	  XLB_HASH_SRC_IP,
	  0,
	  1,
	  2,
	  { 3, 4 } },
	{ "10.0.0.2",
	  0,
	  IPPROTO_TCP,
	  XLB_ENCAP_IPIP,
	  0,
	  XLB_HASH_SRC_IP_PORT,
	  XLB_VIP_F_NO_CONNTRACK,
	  0,
	  2,
	  { 5, 6 } },
	{ "2001:db8::1",
	  443,
	  IPPROTO_TCP,
	  XLB_ENCAP_IPIP,
	  0,
	  XLB_HASH_5TUPLE,
	  0,
	  1,
	  3,
	  { 7, 8, 10 } },
	{ "2001:db8::1",
	  0,
	  IPPROTO_UDP,
	  XLB_ENCAP_GUE,
	  6080,
	  XLB_HASH_5TUPLE,
	  0,
	  1,
	  1,
	  { 9 } },
	{ "10.0.0.3",
	  80,
	  IPPROTO_TCP,
	  XLB_ENCAP_IPIP,
	  0,
	  XLB_HASH_5TUPLE,
	  0,
	  0,
	  0,
	  { 0 } },
	{ "2001:db8::2",
	  5353,
	  IPPROTO_UDP,
	  XLB_ENCAP_IPIP,
	  0,
	  XLB_HASH_5TUPLE,
	  0,
	  1,
	  1,
	  { 11 } },
};
#define NVIPS (sizeof(VIPS) / sizeof(VIPS[0]))

/* Addresses the generator sends to besides the VIPs. */
static const char *const OTHER_DST[] = { "10.0.0.9", "2001:db8::9",
					 "10.1.0.1" };

static struct bpfrun R;
static int STATS_FD;
static struct xlb_cfg CFG;

/* ---- Random numbers: splitmix64, repeatable from the seed ------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t rn(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

/* True with probability @pct percent. */
static int chance(unsigned int pct)
{
	return rn(100) < pct;
}

/* ---- Setup ----------------------------------------------------------- */

/* Install global settings @i of CFGS, in the maps and for the model. */
static void set_cfg(size_t i)
{
	uint8_t a[16];

	memset(&CFG, 0, sizeof(CFG));
	memcpy(CFG.gw_mac, GW_MAC, 6);
	memcpy(CFG.if_mac, IF_MAC, 6);
	CFG.mtu = CFGS[i].mtu;
	CFG.flags = CFGS[i].flags;
	if (CFGS[i].src4) {
		pkt_addr(CFGS[i].src4, a);
		memcpy(&CFG.src4, a, 4);
	}
	if (CFGS[i].src6) {
		pkt_addr(CFGS[i].src6, a);
		memcpy(CFG.src6, a, 16);
	}
	bpfrun_set_cfg(&R, &CFG);
}

static void setup_maps(void)
{
	struct xlb_addr_key ak;
	size_t i, j;
	bpfrun_open(&R, RING);
	STATS_FD = bpf_map__fd(R.skel->maps.xlb_stats);

	set_cfg(0);

	for (i = 0; i < NBE; i++) {
		BE[i] = bpfrun_backend(BES[i].addr, BES[i].flags ? 7 + i : 0,
				       BES[i].flags);
		if (!BES[i].flags)
			memset(&BE[i], 0, sizeof(BE[i]));
		bpfrun_set_backend(&R, i, &BE[i]);
	}
	for (i = 0; i < NVIPS; i++) {
		struct fz_vip *v = &VIPS[i];

		v->key = bpfrun_vip_key(v->addr, v->port, v->proto);
		memset(&v->val, 0, sizeof(v->val));
		v->val.vip_id = (uint32_t)i;
		v->val.flags = v->flags;
		v->val.hash_mode = v->hash_mode;
		v->val.encap = v->encap;
		v->val.gue_port = htons(v->gue_port);
		bpfrun_add_vip(&R, &v->key, &v->val,
			       v->echo ? XLB_ADDR_F_ICMP_ECHO : 0);
		for (j = 0; j < RING; j++)
			v->ring[j] = v->nbe ? v->be[(j * 7 + i) % v->nbe] :
					      XLB_MAGLEV_EMPTY;
		bpfrun_set_ring(&R, (uint32_t)i, v->ring);
	}
	/* bpfrun_add_vip set each address's flags from its last VIP: make
	 * the echo setting per address explicit (all VIPs on an address
	 * above agree). */
	for (i = 0; i < NVIPS; i++) {
		memset(&ak, 0, sizeof(ak));
		memcpy(ak.addr, VIPS[i].key.addr, 16);
		ak.family = VIPS[i].key.family;
		bpfrun_set_addr(&R, &ak,
				VIPS[i].echo ? XLB_ADDR_F_ICMP_ECHO : 0);
	}
}

/* ---- The reference model --------------------------------------------
 * What xlb must do with a frame, derived from the contract (xlb_abi.h
 * counters, docs/architecture.md) and written independently of xdp/.
 * Returns the outcome counter; for XDP_TX outcomes @want gets the exact
 * frame that must leave. */

struct flow {
	int family; /* XLB_FAMILY_V4 / V6 */
	uint8_t src[16], dst[16];
	uint8_t proto;
	uint16_t sport, dport; /* network order */
};

struct view {
	size_t l3, l4, ip_len;
	int nvlan;
	uint16_t tpid[2], tci[2];
	int frag, df;
	uint8_t tos;
	struct flow f;
};

static int is_vlan(uint16_t t)
{
	return t == 0x8100 || t == 0x88a8;
}

static int is_ext6(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 60 || nh == 44;
}

static const struct fz_vip *vip_find(int family, const uint8_t *addr,
				     uint16_t port, uint8_t proto)
{
	size_t i;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < NVIPS; i++) {
			const struct fz_vip *v = &VIPS[i];

			if (v->key.family == family &&
			    !memcmp(v->key.addr, addr,
				    family == XLB_FAMILY_V4 ? 4 : 16) &&
			    v->key.proto == proto &&
			    v->key.port == (pass ? 0 : port))
				return v;
		}
	}
	return NULL;
}

/* -1: not a VIP address; else its echo flag. */
static int addr_echo(int family, const uint8_t *addr)
{
	size_t i;

	for (i = 0; i < NVIPS; i++)
		if (VIPS[i].key.family == family &&
		    !memcmp(VIPS[i].key.addr, addr,
			    family == XLB_FAMILY_V4 ? 4 : 16))
			return VIPS[i].echo;
	return -1;
}

/* Parse L2 and L3 as the contract says; returns 0 or the PASS counter. */
static int m_parse(const uint8_t *b, size_t n, struct view *v)
{
	uint16_t et;
	size_t off = 14;

	memset(v, 0, sizeof(*v));
	if (n < 14)
		return XLB_CNT_PASS_MALFORMED_L2;
	et = pkt_get16(b + 12);
	while (is_vlan(et) && v->nvlan < 2) {
		if (off + 4 > n)
			return XLB_CNT_PASS_MALFORMED_L2;
		v->tpid[v->nvlan] = et;
		v->tci[v->nvlan] = pkt_get16(b + off);
		et = pkt_get16(b + off + 2);
		v->nvlan++;
		off += 4;
	}
	if (is_vlan(et))
		return XLB_CNT_PASS_NON_IP;
	v->l3 = off;
	if (et == 0x0800) {
		const uint8_t *ip = b + off;
		size_t hl, tot;

		if (off + 20 > n || ip[0] >> 4 != 4 || (ip[0] & 15) < 5)
			return XLB_CNT_PASS_MALFORMED_L3;
		hl = (ip[0] & 15) * 4u;
		tot = pkt_get16(ip + 2);
		if (tot < hl || off + tot > n)
			return XLB_CNT_PASS_MALFORMED_L3;
		v->l4 = off + hl;
		v->ip_len = tot;
		v->tos = ip[1];
		v->df = !!(ip[6] & 0x40);
		v->frag = (pkt_get16(ip + 6) & 0x3fff) != 0;
		v->f.family = XLB_FAMILY_V4;
		v->f.proto = ip[9];
		memcpy(v->f.src, ip + 12, 4);
		memcpy(v->f.dst, ip + 16, 4);
		return 0;
	}
	if (et == 0x86dd) {
		const uint8_t *ip = b + off;
		size_t plen, o;
		uint8_t nh;
		int i;

		if (off + 40 > n || ip[0] >> 4 != 6)
			return XLB_CNT_PASS_MALFORMED_L3;
		plen = pkt_get16(ip + 4);
		if (plen == 0 || off + 40 + plen > n)
			return XLB_CNT_PASS_MALFORMED_L3;
		v->ip_len = 40 + plen;
		v->tos = (uint8_t)((ip[0] & 15) << 4 | ip[1] >> 4);
		v->f.family = XLB_FAMILY_V6;
		memcpy(v->f.src, ip + 8, 16);
		memcpy(v->f.dst, ip + 24, 16);
		nh = ip[6];
		o = off + 40;
		for (i = 0; i < XLB_MAX_EXT_HDRS && is_ext6(nh); i++) {
			size_t h = o;

			if (o + 8 > n)
				return XLB_CNT_PASS_MALFORMED_L3;
			if (nh == 44) {
				v->frag = 1;
				o += 8;
			} else {
				o += (b[h + 1] + 1u) * 8;
			}
			nh = b[h];
			/* the datapath follows headers up to this offset */
			if (o > 1024)
				return XLB_CNT_PASS_MALFORMED_L3;
		}
		if (is_ext6(nh))
			return XLB_CNT_PASS_EXT_HDR_LIMIT;
		if (o > off + v->ip_len)
			return XLB_CNT_PASS_MALFORMED_L3;
		v->l4 = o;
		v->f.proto = nh;
		return 0;
	}
	return XLB_CNT_PASS_NON_IP;
}

static size_t alen(int family)
{
	return family == XLB_FAMILY_V4 ? 4 : 16;
}

/* Outer L2 of a frame we send: @dst, @src, the input's VLAN tags. */
static size_t put_l2(uint8_t *o, const struct view *v, const uint8_t *dst,
		     const uint8_t *src, uint16_t etype)
{
	size_t off = 12;
	int i;

	memcpy(o, dst, 6);
	memcpy(o + 6, src, 6);
	for (i = 0; i < v->nvlan; i++) {
		pkt_put16(o + off, v->tpid[i]);
		pkt_put16(o + off + 2, v->tci[i]);
		off += 4;
	}
	pkt_put16(o + off, etype);
	return off + 2;
}

/* The encapsulated frame: the contract of xdp/encap.h written anew. */
static size_t want_encap(uint8_t *o, const uint8_t *in, size_t n,
			 const struct view *v, const struct fz_vip *vip,
			 const struct xlb_backend *be, uint32_t entropy)
{
	int gue = vip->encap == XLB_ENCAP_GUE || (be->flags & XLB_BE_F_GUE);
	int v6 = be->family == XLB_FAMILY_V6;
	uint8_t inner = v->f.family == XLB_FAMILY_V6 ? 41 : 4;
	size_t l2 = put_l2(o, v, GW_MAC, IF_MAC, v6 ? 0x86dd : 0x0800);
	uint8_t *ip = o + l2, *udp;

	if (v6) {
		memset(ip, 0, 40);
		pkt_put32(ip, 6U << 28 | (uint32_t)v->tos << 20 |
				      (entropy & 0xfffff));
		pkt_put16(ip + 4, (uint16_t)(v->ip_len + (gue ? 8 : 0)));
		ip[6] = gue ? 17 : inner;
		ip[7] = XLB_OUTER_TTL;
		if (CFG.flags & XLB_CFG_F_SRC6) {
			memcpy(ip + 8, CFG.src6, 16);
		} else {
			ip[8] = 0x01; /* 100::/64, entropy in the low word */
			pkt_put32(ip + 20, entropy);
		}
		memcpy(ip + 24, be->addr, 16);
		udp = ip + 40;
	} else {
		memset(ip, 0, 20);
		ip[0] = 0x45;
		ip[1] = v->tos;
		pkt_put16(ip + 2, (uint16_t)(v->ip_len + 20 + (gue ? 8 : 0)));
		pkt_put16(ip + 6, 0x4000);
		ip[8] = XLB_OUTER_TTL;
		ip[9] = gue ? 17 : inner;
		if (CFG.flags & XLB_CFG_F_SRC4)
			memcpy(ip + 12, &CFG.src4, 4);
		else /* 172.16.0.0/12, entropy in the host bits */
			pkt_put32(ip + 12,
				  XLB_DERIVED_SRC4_NET |
					  (entropy & XLB_DERIVED_SRC4_MASK));
		memcpy(ip + 16, be->addr, 4);
		pkt_put16(ip + 10, pkt_ip4_csum(ip, 20));
		udp = ip + 20;
	}
	if (gue) {
		pkt_put16(udp, (uint16_t)(0xc000 | (entropy & 0x3fff)));
		pkt_put16(udp + 2, vip->encap == XLB_ENCAP_GUE ?
					   vip->gue_port :
					   XLB_GUE_PORT_DEFAULT);
		pkt_put16(udp + 4, (uint16_t)(v->ip_len + 8));
		pkt_put16(udp + 6, 0);
		udp += 8;
	}
	/* the IP packet and any Ethernet trailer, byte for byte */
	memcpy(udp, in + v->l3, n - v->l3);
	return (size_t)(udp - o) + (n - v->l3);
}

/* Echo reply: MACs and addresses swapped, TTL 64, checksums correct. */
static size_t want_echo(uint8_t *o, const uint8_t *in, size_t n,
			const struct view *v)
{
	uint8_t *ip = o + v->l3, *ic = o + v->l4;
	size_t a = alen(v->f.family), ilen = v->l3 + v->ip_len - v->l4;

	memcpy(o, in, n);
	memcpy(o, in + 6, 6);
	memcpy(o + 6, in, 6);
	if (v->f.family == XLB_FAMILY_V4) {
		memcpy(ip + 12, v->f.dst, a);
		memcpy(ip + 16, v->f.src, a);
		ip[8] = XLB_OUTER_TTL;
		pkt_put16(ip + 10, 0);
		pkt_put16(ip + 10, pkt_ip4_csum(ip, v->l4 - v->l3));
		ic[0] = 0;
	} else {
		memcpy(ip + 8, v->f.dst, a);
		memcpy(ip + 24, v->f.src, a);
		ip[7] = XLB_OUTER_TTL;
		ic[0] = 129;
	}
	pkt_put16(ic + 2, 0);
	if (v->f.family == XLB_FAMILY_V4) {
		pkt_put16(ic + 2, pkt_csum_fold(pkt_csum_add(0, ic, ilen)));
	} else {
		/* pseudo header with the final addresses (RFC 8200 8.1) */
		uint8_t ph[8] = { 0 };
		uint32_t s = pkt_csum_add(0, ip + 8, 32);

		pkt_put32(ph, (uint32_t)ilen);
		ph[7] = 58;
		s = pkt_csum_add(s, ph, 8);
		pkt_put16(ic + 2, pkt_csum_fold(pkt_csum_add(s, ic, ilen)));
	}
	return n;
}

/* ICMP fragmentation-needed / packet-too-big back to the client. */
static size_t want_too_big(uint8_t *o, const uint8_t *in, const struct view *v,
			   uint32_t mtu)
{
	size_t l2, quote;
	uint8_t *ip, *ic;

	if (v->f.family == XLB_FAMILY_V4) {
		l2 = put_l2(o, v, in + 6, in, 0x0800);
		quote = v->l4 - v->l3 + 8;
		ip = o + l2;
		ic = ip + 20;
		memset(ip, 0, 28);
		ip[0] = 0x45;
		pkt_put16(ip + 2, (uint16_t)(28 + quote));
		ip[8] = XLB_OUTER_TTL;
		ip[9] = 1;
		memcpy(ip + 12, v->f.dst, 4);
		memcpy(ip + 16, v->f.src, 4);
		pkt_put16(ip + 10, pkt_ip4_csum(ip, 20));
		ic[0] = 3;
		ic[1] = 4;
		pkt_put16(ic + 6, (uint16_t)mtu);
		memcpy(ic + 8, in + v->l3, quote);
		pkt_put16(ic + 2,
			  pkt_csum_fold(pkt_csum_add(0, ic, 8 + quote)));
	} else {
		uint8_t ph[8] = { 0 };
		uint32_t s;

		l2 = put_l2(o, v, in + 6, in, 0x86dd);
		/* RFC 4443 2.4(c): what fits 1280 bytes, even */
		quote = (v->ip_len < 1232 ? v->ip_len : 1232) & ~(size_t)1;
		ip = o + l2;
		ic = ip + 40;
		memset(ip, 0, 48);
		ip[0] = 0x60;
		pkt_put16(ip + 4, (uint16_t)(8 + quote));
		ip[6] = 58;
		ip[7] = XLB_OUTER_TTL;
		memcpy(ip + 8, v->f.dst, 16);
		memcpy(ip + 24, v->f.src, 16);
		ic[0] = 2;
		pkt_put32(ic + 4, mtu);
		memcpy(ic + 8, in + v->l3, quote);
		s = pkt_csum_add(0, ip + 8, 32);
		pkt_put32(ph, (uint32_t)(8 + quote));
		ph[7] = 58;
		s = pkt_csum_add(s, ph, 8);
		pkt_put16(ic + 2,
			  pkt_csum_fold(pkt_csum_add(s, ic, 8 + quote)));
	}
	return (size_t)(ic - o) + 8 + quote;
}

/* Forward a flow of @vip: Maglev choice (the connection table can only
 * repeat it: the fuzzer never changes the maps), MTU, encapsulation. */
static int m_forward(const uint8_t *in, size_t n, const struct view *v,
		     const struct flow *fl, const struct fz_vip *vip,
		     int icmp_err, uint8_t *want, size_t *want_len)
{
	struct xlb_flow_key fk = {};
	const struct xlb_backend *be;
	uint32_t hash, id;
	size_t olen;
	int gue;

	fk.family = (uint8_t)fl->family;
	memcpy(fk.src, fl->src, alen(fl->family));
	memcpy(fk.dst, fl->dst, alen(fl->family));
	fk.sport = fl->sport;
	fk.dport = fl->dport;
	fk.proto = fl->proto;
	hash = xlb_flow_hash(&fk, vip->hash_mode);
	id = vip->ring[hash % RING];
	if (id == XLB_MAGLEV_EMPTY || id >= NBE ||
	    !(BE[id].flags & XLB_BE_F_IN_USE))
		return XLB_CNT_DROP_NO_BACKEND;
	be = &BE[id];
	gue = vip->encap == XLB_ENCAP_GUE || (be->flags & XLB_BE_F_GUE);
	olen = (be->family == XLB_FAMILY_V6 ? 40 : 20) + (gue ? 8 : 0);
	if (CFG.mtu && v->ip_len + olen > CFG.mtu) {
		/* RFC 1122 3.2.2 / RFC 4443 2.4(e): never an ICMP error
		 * about an ICMP error; IPv4 without DF: we cannot fragment */
		if (!(CFG.flags & XLB_CFG_F_ICMP_TOO_BIG) || CFG.mtu <= olen ||
		    icmp_err || (v->f.family == XLB_FAMILY_V4 && !v->df))
			return XLB_CNT_DROP_TOO_BIG;
		*want_len =
			want_too_big(want, in, v, (uint32_t)(CFG.mtu - olen));
		return XLB_CNT_TX_ICMP_TOO_BIG;
	}
	*want_len = want_encap(want, in, n, v, vip, be, xlb_flow_entropy(&fk));
	return icmp_err ? XLB_CNT_TX_ICMP_ERR_FWD : XLB_CNT_TX;
}

/* The flow an ICMP error quotes, client side; 0 or -1 if the quote (within
 * the IP packet) is too short or not TCP/UDP. */
static int m_icmp_err_flow(const uint8_t *b, const struct view *v,
			   struct flow *f)
{
	size_t off = v->l4 + 8, end = v->l3 + v->ip_len, ports;
	const uint8_t *e = b + off;

	memset(f, 0, sizeof(*f));
	f->family = v->f.family;
	/* the datapath follows a quote up to the same offset as L4 */
	if (off > 1024)
		return -1;
	if (v->f.family == XLB_FAMILY_V4) {
		if (off + 20 > end || e[0] >> 4 != 4 || (e[0] & 15) < 5)
			return -1;
		ports = off + (e[0] & 15) * 4u;
		f->proto = e[9];
		memcpy(f->src, e + 16, 4);
		memcpy(f->dst, e + 12, 4);
	} else {
		if (off + 40 > end)
			return -1;
		ports = off + 40;
		f->proto = e[6];
		memcpy(f->src, e + 24, 16);
		memcpy(f->dst, e + 8, 16);
	}
	if (f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP)
		return -1;
	if (ports + 4 > end)
		return -1;
	memcpy(&f->dport, b + ports, 2);
	memcpy(&f->sport, b + ports + 2, 2);
	return 0;
}

static int icmp_csum_ok(const uint8_t *b, const struct view *v)
{
	const uint8_t *ic = b + v->l4;
	size_t ilen = v->l3 + v->ip_len - v->l4;

	if (v->f.family == XLB_FAMILY_V4)
		return pkt_csum_fold(pkt_csum_add(0, ic, ilen)) == 0;
	return pkt_l4_csum(b + v->l3, ic, ilen, 58) == 0;
}

/* Counters other than the one model() returns that are also right for
 * the input it looked at last (a bit per counter); 0 mostly. */
static uint32_t model_alt;

static int model(const uint8_t *b, size_t n, uint8_t *want, size_t *want_len)
{
	const struct fz_vip *vip;
	struct view v;
	int rc, echo, v4;

	*want_len = 0;
	model_alt = 0;
	rc = m_parse(b, n, &v);
	if (rc)
		return rc;
	v4 = v.f.family == XLB_FAMILY_V4;
	echo = addr_echo(v.f.family, v.f.dst);
	if (echo < 0)
		return XLB_CNT_PASS_NON_VIP;
	if (v.frag)
		return XLB_CNT_DROP_FRAGMENT;
	if (v.l4 > 1024)
		return XLB_CNT_DROP_MALFORMED_L4;
	if (v.f.proto == IPPROTO_TCP) {
		const uint8_t *th = b + v.l4;

		if (v.l4 + 20 > n || th[12] >> 4 < 5 ||
		    v.l4 + (th[12] >> 4) * 4u > v.l3 + v.ip_len)
			return XLB_CNT_DROP_MALFORMED_L4;
		memcpy(&v.f.sport, th, 2);
		memcpy(&v.f.dport, th + 2, 2);
	} else if (v.f.proto == IPPROTO_UDP) {
		if (v.l4 + 8 > n || v.l4 + 8 > v.l3 + v.ip_len)
			return XLB_CNT_DROP_MALFORMED_L4;
		memcpy(&v.f.sport, b + v.l4, 2);
		memcpy(&v.f.dport, b + v.l4 + 2, 2);
	} else if (v.f.proto == (v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6)) {
		const uint8_t *ic = b + v.l4;
		struct flow ef;

		if (v.l4 + 8 > n || v.l4 + 8 > v.l3 + v.ip_len)
			return XLB_CNT_DROP_MALFORMED_L4;
		if (ic[0] == (v4 ? 8 : 128)) {
			if (!echo)
				return XLB_CNT_PASS_VIP_OTHER;
			/* A request that fails a checksum is not one (RFC
			 * 1122 3.2.1.2, 3.2.2): answering it sends a reply
			 * with a bad checksum. Not answering it is what
			 * counts; drop or pass are both right. */
			if (!icmp_csum_ok(b, &v) ||
			    (v4 && pkt_ip4_csum(b + v.l3, v.l4 - v.l3))) {
				model_alt = 1U << XLB_CNT_PASS_VIP_OTHER |
					    1U << XLB_CNT_PASS_MALFORMED_L3;
				return XLB_CNT_DROP_MALFORMED_L4;
			}
			*want_len = want_echo(want, b, n, &v);
			return XLB_CNT_TX_ICMP_ECHO;
		}
		if (v4 ? (ic[0] != 3 && ic[0] != 11) :
			 (ic[0] != 1 && ic[0] != 2 && ic[0] != 3))
			return XLB_CNT_PASS_VIP_OTHER;
		if (m_icmp_err_flow(b, &v, &ef))
			return XLB_CNT_DROP_ICMP_UNMATCHED;
		vip = vip_find(ef.family, ef.dst, ef.dport, ef.proto);
		if (!vip)
			return XLB_CNT_DROP_ICMP_UNMATCHED;
		return m_forward(b, n, &v, &ef, vip, 1, want, want_len);
	} else {
		return XLB_CNT_PASS_VIP_OTHER;
	}
	vip = vip_find(v.f.family, v.f.dst, v.f.dport, v.f.proto);
	if (!vip)
		return XLB_CNT_PASS_VIP_OTHER;
	return m_forward(b, n, &v, &v.f, vip, 0, want, want_len);
}

/* The XDP action every counter implies. */
static int action_of(int cnt)
{
	switch (cnt) {
	case XLB_CNT_TX:
	case XLB_CNT_TX_ICMP_ECHO:
	case XLB_CNT_TX_ICMP_TOO_BIG:
	case XLB_CNT_TX_ICMP_ERR_FWD:
		return XDP_TX;
	case XLB_CNT_PASS_NON_IP:
	case XLB_CNT_PASS_NON_VIP:
	case XLB_CNT_PASS_MALFORMED_L2:
	case XLB_CNT_PASS_MALFORMED_L3:
	case XLB_CNT_PASS_EXT_HDR_LIMIT:
	case XLB_CNT_PASS_VIP_OTHER:
		return XDP_PASS;
	default:
		return XDP_DROP;
	}
}

/* ---- Structural checks of what leaves, independent of the model ------ */

/* Returns NULL if @o (sent for input @in) is a well-formed frame: outer
 * IPv4 checksum and lengths, the inner packet byte for byte, an outer dst
 * that is a live backend; ICMP replies with correct checksums. */
static const char *check_tx(int cnt, const uint8_t *o, size_t on,
			    const uint8_t *in, size_t n)
{
	struct view ov, iv;
	size_t i;

	if (m_parse(o, on, &ov))
		return "transmitted frame does not parse";
	if (m_parse(in, n, &iv))
		return "transmitted a frame whose input does not parse";
	if (ov.nvlan != iv.nvlan ||
	    memcmp(ov.tci, iv.tci, sizeof(ov.tci[0]) * iv.nvlan))
		return "VLAN tags changed";
	if (ov.f.family == XLB_FAMILY_V4 &&
	    pkt_ip4_csum(o + ov.l3, ov.l4 - ov.l3))
		return "outer IPv4 header checksum wrong";
	if (cnt == XLB_CNT_TX || cnt == XLB_CNT_TX_ICMP_ERR_FWD) {
		size_t inner = ov.l4;

		if (memcmp(o, GW_MAC, 6) || memcmp(o + 6, IF_MAC, 6))
			return "encapsulated frame not gateway-addressed";
		if (ov.f.proto == IPPROTO_UDP)
			inner += 8;
		if (on - inner != n - iv.l3 ||
		    memcmp(o + inner, in + iv.l3, n - iv.l3))
			return "inner packet differs from the input's";
		if (ov.ip_len != iv.ip_len + (inner - ov.l3))
			return "outer length does not cover the inner packet";
		for (i = 0; i < NBE; i++)
			if ((BE[i].flags & XLB_BE_F_LIVE) &&
			    BE[i].family == ov.f.family &&
			    !memcmp(BE[i].addr, ov.f.dst, alen(ov.f.family)))
				break;
		if (i == NBE)
			return "outer destination is not a live backend";
		return NULL;
	}
	/* echo reply, too-big: ICMP back to the client from the VIP */
	if (memcmp(o + 6, in, 6) || memcmp(o, in + 6, 6))
		return "ICMP reply not sent back to the sender's MAC";
	if (memcmp(ov.f.dst, iv.f.src, 16) || memcmp(ov.f.src, iv.f.dst, 16))
		return "ICMP reply addresses are not the input's swapped";
	if (ov.f.proto != (ov.f.family == XLB_FAMILY_V4 ? 1 : 58) ||
	    ov.l4 + 8 > ov.l3 + ov.ip_len)
		return "ICMP reply is not ICMP";
	if (!icmp_csum_ok(o, &ov))
		return "ICMP reply checksum wrong";
	return NULL;
}

/* ---- Running and recording -------------------------------------------- */

static uint64_t prev[XLB_CNT_MAX];
static uint64_t n_inputs, n_failures;
static const char *origin; /* what generated the current input */

static void read_counters(uint64_t c[XLB_CNT_MAX])
{
	uint32_t keys[XLB_CNT_MAX], out_batch, count = XLB_CNT_MAX;
	uint64_t *vals = calloc((size_t)R.ncpus * XLB_CNT_MAX, 8);
	int err, i, cpu;

	cr_assert(vals, "out of memory");
	err = bpf_map_lookup_batch(STATS_FD, NULL, &out_batch, keys, vals,
				   &count, NULL);
	if (err && errno != ENOENT)
		cr_assert_fail("reading xlb_stats: %s", strerror(errno));
	cr_assert_eq(count, XLB_CNT_MAX, "xlb_stats batch returned %u", count);
	memset(c, 0, sizeof(uint64_t) * XLB_CNT_MAX);
	for (i = 0; i < XLB_CNT_MAX; i++)
		for (cpu = 0; cpu < R.ncpus; cpu++)
			c[keys[i]] += vals[i * R.ncpus + cpu];
	free(vals);
}

static const char *corpus_dir(void)
{
	return XLB_SOURCE_DIR "/tests/packet/fuzz_corpus";
}

static uint64_t fnv(const uint8_t *b, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

/* Failure kind -> file-name prefix: letters, digits, '-'. */
static void slug(const char *s, char *out, size_t len)
{
	size_t j = 0;

	for (; *s && j + 1 < len; s++) {
		char c = *s;

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			out[j++] = c;
		else if (c >= 'A' && c <= 'Z')
			out[j++] = (char)(c - 'A' + 'a');
		else if (j && out[j - 1] != '-')
			out[j++] = '-';
	}
	while (j && out[j - 1] == '-')
		j--;
	out[j] = 0;
}

static int corpus_has_kind(const char *prefix)
{
	DIR *d = opendir(corpus_dir());
	struct dirent *e;
	int k = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix)) &&
		    e->d_name[strlen(prefix)] == '.')
			k++;
	closedir(d);
	return k;
}

static void corpus_write(const char *kind, const char *detail, const uint8_t *b,
			 size_t n)
{
	char pre[96], path[512];
	FILE *f;
	size_t i;

	slug(kind, pre, sizeof(pre));
	if (corpus_has_kind(pre) >= CORPUS_PER_KIND)
		return;
	mkdir(corpus_dir(), 0755);
	snprintf(path, sizeof(path), "%s/%s.%016" PRIx64 ".hex", corpus_dir(),
		 pre, fnv(b, n));
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "fuzz: cannot write %s: %s\n", path,
			strerror(errno));
		return;
	}
	fprintf(f, "# xlb packet fuzz regression input (%zu bytes)\n", n);
	fprintf(f, "# %s: %s\n", kind, detail);
	for (i = 0; i < n; i++)
		fprintf(f, "%02x%s", b[i],
			i % 16 == 15 || i + 1 == n ? "\n" : " ");
	fclose(f);
	fprintf(stderr, "fuzz: input saved to %s\n", path);
}

static void fail(const char *kind, const char *detail, const uint8_t *in,
		 size_t n, const uint8_t *got, size_t got_len,
		 const uint8_t *want, size_t want_len)
{
	n_failures++;
	corpus_write(kind, detail, in, n);
	if (n_failures > PRINT_MAX)
		return;
	fprintf(stderr, "\nfuzz FAILURE (%s input #%" PRIu64 "): %s: %s\n",
		origin, n_inputs, kind, detail);
	pkt_hexdump(stderr, "input", in, n);
	if (want && want_len) {
		fprintf(stderr, "output (got | want):\n");
		pkt_hexdiff(stderr, got, got_len, want, want_len);
	} else if (got && got_len) {
		pkt_hexdump(stderr, "output", got, got_len);
	}
}

/* Run one input and check every invariant, the counters included. */
static void check_one(const uint8_t *in, size_t n)
{
	static uint8_t out[OUT_MAX], want[OUT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in,
		    .data_size_in = (__u32)n, .data_out = out,
		    .data_size_out = OUT_MAX, .repeat = 1);
	uint64_t now[XLB_CNT_MAX];
	size_t want_len, got_len;
	int err, cnt, got_cnt = -1, grew = 0, i;
	char detail[256];
	const char *why;

	if (n < MIN_FRAME || n > MAX_FRAME)
		return;
	cnt = model(in, n, want, &want_len);
	err = bpf_prog_test_run_opts(R.prog_fd, &opts);
	cr_assert(!err, "BPF_PROG_TEST_RUN of %zu bytes: %s", n,
		  strerror(errno));
	n_inputs++;
	got_len = opts.data_size_out;
	read_counters(now);
	for (i = 0; i < XLB_CNT_MAX; i++) {
		if (now[i] < prev[i]) {
			snprintf(detail, sizeof(detail),
				 "counter %s went backwards",
				 bpfrun_counter_name(i));
			fail("counter backwards", detail, in, n, NULL, 0, NULL,
			     0);
		}
		if (i != XLB_CNT_RX && i < XLB_CNT_EVENTS &&
		    now[i] != prev[i]) {
			grew += (int)(now[i] - prev[i]);
			got_cnt = i;
		}
	}
	if (now[XLB_CNT_RX] != prev[XLB_CNT_RX] + 1 || grew != 1) {
		snprintf(detail, sizeof(detail),
			 "RX grew by %" PRIu64 ", outcome counters by %d "
			 "(want 1 and 1)",
			 now[XLB_CNT_RX] - prev[XLB_CNT_RX], grew);
		fail("counters not one outcome", detail, in, n, NULL, 0, NULL,
		     0);
	}
	memcpy(prev, now, sizeof(prev));

	if (opts.retval != XDP_PASS && opts.retval != XDP_DROP &&
	    opts.retval != XDP_TX) {
		snprintf(detail, sizeof(detail), "verdict %s",
			 bpfrun_action_name((int)opts.retval));
		fail("bad verdict", detail, in, n, out, got_len, NULL, 0);
		return;
	}
	if (got_cnt >= 0 && action_of(got_cnt) != (int)opts.retval) {
		snprintf(detail, sizeof(detail), "verdict %s counted as %s",
			 bpfrun_action_name((int)opts.retval),
			 bpfrun_counter_name(got_cnt));
		fail("verdict and counter disagree", detail, in, n, out,
		     got_len, NULL, 0);
	}
	if (got_cnt != cnt && got_cnt >= 0 && (model_alt & 1U << got_cnt))
		cnt = got_cnt;
	if (got_cnt != cnt) {
		char kind[96];

		snprintf(kind, sizeof(kind), "%s not %s",
			 bpfrun_counter_name(got_cnt),
			 bpfrun_counter_name(cnt));
		snprintf(detail, sizeof(detail),
			 "verdict %s counted %s, the model says %s (%s)",
			 bpfrun_action_name((int)opts.retval),
			 bpfrun_counter_name(got_cnt), bpfrun_counter_name(cnt),
			 bpfrun_action_name(action_of(cnt)));
		fail(kind, detail, in, n, out, got_len,
		     opts.retval == XDP_TX ? want : NULL,
		     opts.retval == XDP_TX ? want_len : 0);
		return;
	}
	if (opts.retval == XDP_PASS && (got_len != n || memcmp(out, in, n))) {
		fail("pass modified the frame", "XDP_PASS output != input", in,
		     n, out, got_len, in, n);
		return;
	}
	if (opts.retval != XDP_TX)
		return;
	why = check_tx(cnt, out, got_len, in, n);
	if (why) {
		fail(why, bpfrun_counter_name(cnt), in, n, out, got_len, want,
		     want_len);
		return;
	}
	if (got_len != want_len || memcmp(out, want, got_len)) {
		char kind[96];

		snprintf(kind, sizeof(kind), "%s output differs",
			 bpfrun_counter_name(cnt));
		fail(kind, "transmitted frame != the model's", in, n, out,
		     got_len, want, want_len);
	}
}

/* The fast path: inputs run in blocks with one counter read per block
 * (a syscall costs as much as a test run). A block where anything differs
 * from the model, counters included, is run again input by input through
 * check_one(), which finds and reports the culprit: the datapath's verdict
 * does not depend on state the block changed (the maps are static; the
 * connection table only repeats Maglev's choice). */
#define BLOCK 64
static uint8_t blk_buf[BLOCK][MAX_FRAME];
static size_t blk_len[BLOCK];
static uint64_t blk_pred[XLB_CNT_MAX];
static int blk_n, blk_dirty;
/* Inputs with more than one right counter, and the union of those. */
static uint32_t blk_alt_mask;
static uint64_t blk_alt_n;

static void flush_block(void)
{
	uint64_t now[XLB_CNT_MAX], alt_seen = 0;
	int i, ok = !blk_dirty;

	if (!blk_n)
		return;
	read_counters(now);
	if (now[XLB_CNT_RX] != prev[XLB_CNT_RX] + (uint64_t)blk_n)
		ok = 0;
	/* exact predictions exactly; what is left over belongs to the
	 * inputs with alternatives, on their counters only */
	for (i = 0; ok && i < XLB_CNT_MAX; i++) {
		uint64_t left;

		if (i == XLB_CNT_RX || i >= XLB_CNT_EVENTS)
			continue;
		if (now[i] < prev[i] + blk_pred[i]) {
			ok = 0;
			break;
		}
		left = now[i] - prev[i] - blk_pred[i];
		if (left && !(blk_alt_mask & 1U << i))
			ok = 0;
		alt_seen += left;
	}
	if (alt_seen != blk_alt_n)
		ok = 0;
	memcpy(prev, now, sizeof(prev));
	if (!ok)
		for (i = 0; i < blk_n; i++)
			check_one(blk_buf[i], blk_len[i]);
	memset(blk_pred, 0, sizeof(blk_pred));
	blk_n = 0;
	blk_dirty = 0;
	blk_alt_mask = 0;
	blk_alt_n = 0;
}

static void run_one(const uint8_t *in, size_t n)
{
	static uint8_t out[OUT_MAX], want[OUT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in,
		    .data_size_in = (__u32)n, .data_out = out,
		    .data_size_out = OUT_MAX, .repeat = 1);
	size_t want_len, got_len;
	int cnt, act, good;

	if (n < MIN_FRAME || n > MAX_FRAME)
		return;
	cnt = model(in, n, want, &want_len);
	cr_assert(!bpf_prog_test_run_opts(R.prog_fd, &opts),
		  "BPF_PROG_TEST_RUN of %zu bytes: %s", n, strerror(errno));
	n_inputs++;
	got_len = opts.data_size_out;
	act = (int)opts.retval;
	memcpy(blk_buf[blk_n], in, n);
	blk_len[blk_n++] = n;
	good = act == action_of(cnt);
	if (model_alt) {
		uint32_t m = model_alt | 1U << cnt;
		int i;

		/* the alternatives are never XDP_TX: an action one of
		 * them has, and the counters are checked per block */
		for (good = 0, i = 0; i < XLB_CNT_MAX; i++)
			if ((m & 1U << i) && action_of(i) == act &&
			    act != XDP_TX)
				good = 1;
	}
	if (good && act == XDP_PASS)
		good = got_len == n && !memcmp(out, in, n);
	if (good && act == XDP_TX)
		good = got_len == want_len && !memcmp(out, want, got_len) &&
		       !check_tx(cnt, out, got_len, in, n);
	if (!good) {
		blk_dirty = 1;
	} else if (model_alt) {
		blk_alt_mask |= model_alt | 1U << cnt;
		blk_alt_n++;
	} else {
		blk_pred[cnt]++;
	}
	if (blk_n == BLOCK)
		flush_block();
}

/* ---- Corpus replay ---------------------------------------------------- */

static size_t parse_hex(FILE *f, uint8_t *b, size_t max)
{
	size_t n = 0;
	int c, hi = -1, comment = 0;

	while ((c = fgetc(f)) != EOF) {
		int d;

		if (c == '\n')
			comment = 0;
		if (comment || c == '#') {
			comment = 1;
			continue;
		}
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			continue;
		if (hi < 0) {
			hi = d;
		} else if (n < max) {
			b[n++] = (uint8_t)(hi << 4 | d);
			hi = -1;
		}
	}
	return n;
}

static int replay_corpus(void)
{
	static uint8_t b[MAX_FRAME + 1];
	DIR *d = opendir(corpus_dir());
	struct dirent *e;
	int files = 0;

	if (!d)
		return 0;
	origin = "corpus";
	while ((e = readdir(d))) {
		char path[512];
		size_t len = strlen(e->d_name), n;
		FILE *f;

		if (len < 5 || strcmp(e->d_name + len - 4, ".hex"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", corpus_dir(), e->d_name);
		f = fopen(path, "r");
		cr_assert(f, "opening %s: %s", path, strerror(errno));
		n = parse_hex(f, b, sizeof(b));
		fclose(f);
		cr_assert(n >= MIN_FRAME && n <= MAX_FRAME,
			  "%s: %zu bytes; a corpus input must be %d..%d", path,
			  n, MIN_FRAME, MAX_FRAME);
		check_one(b, n);
		files++;
	}
	closedir(d);
	return files;
}

/* ---- Generators ------------------------------------------------------- */

static const uint16_t PORTS[] = { 80, 53, 443, 5353, 8080, 0 };

static const char *pick_dst(int v6)
{
	static const char *const v4s[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3" };
	static const char *const v6s[] = { "2001:db8::1", "2001:db8::2" };

	if (chance(12))
		return v6 ? OTHER_DST[1] :
			    (chance(50) ? OTHER_DST[0] : OTHER_DST[2]);
	return v6 ? v6s[rn(2)] : v4s[rn(3)];
}

static uint16_t pick_port(void)
{
	return chance(80) ? PORTS[rn(sizeof(PORTS) / sizeof(PORTS[0]))] :
			    (uint16_t)rnd();
}

static size_t pick_payload(void)
{
	switch (rn(8)) {
	case 0:
		return 1380 + rn(160); /* around the MTU after encap */
	case 1:
		return rn(3300);
	case 2:
		return 0;
	default:
		return rn(80);
	}
}

/* @n, or less so that the frame stays within what a test run takes. */
static size_t fit(const struct pkt *p, size_t n)
{
	size_t room = p->len < MAX_FRAME ? MAX_FRAME - p->len : 0;

	return n < room ? n : room;
}

/* Headers up to and including IP; returns the IP family (4/6). */
static int gen_l3(struct pkt *p, int v6, const char *src, const char *dst,
		  int proto)
{
	uint8_t smac[6] = { 0x02, 0xcc, 0, 0, 0, (uint8_t)rn(256) };
	uint8_t dmac[6] = { 0x02, 0xbb, 0, 0, 0, 1 };
	uint8_t s[16], d[16];
	int nv = chance(70) ? 0 : (int)rn(3) + (chance(5) ? 1 : 0), i;

	pkt_eth(p, dmac, smac, PKT_AUTO);
	for (i = 0; i < nv; i++)
		pkt_vlan(p, chance(50) ? 0x8100 : 0x88a8, (uint16_t)rn(4096),
			 PKT_AUTO);
	pkt_addr(src, s);
	pkt_addr(dst, d);
	if (!v6) {
		static const uint8_t opts[40] = { 1, 1, 1, 1, 1, 1, 1, 1 };
		struct pkt_ip4 ip = { .tos = (uint8_t)rn(256),
				      .ttl = (uint8_t)(1 + rn(255)),
				      .id = (uint16_t)rnd(),
				      .frag = chance(70) ? 0x4000 : 0,
				      .proto = proto };

		memcpy(&ip.src, s, 4);
		memcpy(&ip.dst, d, 4);
		if (chance(10)) {
			ip.opts = opts;
			ip.opts_len = 4 * (1 + rn(10));
		}
		if (chance(3))
			ip.frag |= chance(50) ? 0x2000 : (uint16_t)rn(0x2000);
		pkt_ipv4(p, &ip);
		return 4;
	}
	struct pkt_ip6 ip = { .tclass = (uint8_t)rn(256),
			      .flow = (uint32_t)rnd(),
			      .hlim = (uint8_t)(1 + rn(255)),
			      .nexthdr = PKT_AUTO };
	static const uint8_t types[] = { 0, 43, 60 };
	/* extension headers: none mostly, sometimes a chain up to the limit
	 * and one beyond it */
	int k = chance(25) ? (int)rn(XLB_MAX_EXT_HDRS + 2) : 0;

	memcpy(ip.src, s, 16);
	memcpy(ip.dst, d, 16);
	if (!k)
		ip.nexthdr = proto;
	pkt_ipv6(p, &ip);
	for (i = 0; i < k; i++) {
		int next = i == k - 1 ? proto : PKT_AUTO;

		if (chance(8))
			pkt_ipv6_frag(p, chance(50) ? 0 : (uint16_t)rn(8191),
				      chance(50), (uint32_t)rnd(), next);
		else
			pkt_ipv6_ext(p, types[rn(3)],
				     8 * (1 + rn(chance(90) ? 3 : 40)), next);
	}
	return 6;
}

static void client_addr(int v6, char *buf, size_t len)
{
	if (v6)
		snprintf(buf, len, "2001:db8:c::%x", rn(0x10000));
	else
		snprintf(buf, len, "198.51.100.%u", rn(256));
}

/* An ICMP error about a packet a backend sent from a VIP to a client. */
static void gen_icmp_err(struct pkt *p, int v6, const char *vip_addr,
			 int hostile)
{
	struct pkt q;
	char client[64], router[64];
	uint8_t s[16], d[16];
	size_t quote;
	int tcp = chance(50);
	uint16_t vport = pick_port();

	client_addr(v6, client, sizeof(client));
	client_addr(v6, router, sizeof(router));
	pkt_init(&q);
	pkt_addr(vip_addr, s);
	pkt_addr(client, d);
	if (!v6) {
		struct pkt_ip4 ip = { .proto = PKT_AUTO, .frag = 0x4000 };

		memcpy(&ip.src, s, 4);
		memcpy(&ip.dst, d, 4);
		pkt_ipv4(&q, &ip);
	} else {
		struct pkt_ip6 ip = { .nexthdr = PKT_AUTO };

		memcpy(ip.src, s, 16);
		memcpy(ip.dst, d, 16);
		pkt_ipv6(&q, &ip);
	}
	if (tcp)
		pkt_tcp(&q, vport, (uint16_t)rnd(), PKT_TCP_ACK,
			(uint32_t)rnd(), (uint32_t)rnd());
	else
		pkt_udp(&q, vport, (uint16_t)rnd(), 0);
	pkt_payload(&q, chance(10) ? 1300 + rn(300) : rn(64), (uint8_t)rnd());
	pkt_finish(&q);
	/* RFC 792: header + 8 bytes; RFC 4443: as much as fits */
	quote = chance(50) ? (v6 ? 48 : 28) : q.len;
	if (hostile) {
		size_t l3 = 0;

		switch (rn(6)) {
		case 0: /* truncated quote */
			quote = rn((uint32_t)quote + 1);
			break;
		case 1: /* IHL / version nibble */
			q.data[l3] = (uint8_t)rnd();
			break;
		case 2: /* protocol / next header */
			q.data[l3 + (v6 ? 6 : 9)] = (uint8_t)rnd();
			break;
		case 3: /* any header byte */
			q.data[rn(v6 ? 48 : 28)] = (uint8_t)rnd();
			break;
		case 4: /* lengths */
			pkt_put16(q.data + (v6 ? 4 : 2), (uint16_t)rnd());
			break;
		default: /* the embedded source is not ours */
			memset(q.data + (v6 ? 8 : 12), 0x5a, v6 ? 16 : 4);
			break;
		}
	}
	gen_l3(p, v6, router, vip_addr, PKT_AUTO);
	if (!v6)
		pkt_icmp4(p, chance(80) ? 3 : 11,
			  chance(50) ? 4 : (uint8_t)rn(16),
			  chance(50) ? 1400 : (uint32_t)rnd());
	else
		pkt_icmp6(p, (uint8_t)(1 + rn(3)), (uint8_t)rn(8),
			  chance(50) ? 1280 : (uint32_t)rnd());
	pkt_bytes(p, q.data, fit(p, quote < q.len ? quote : q.len));
	pkt_finish(p);
}

/* A well-formed frame of some kind, toward a VIP address mostly. */
static void gen_valid(struct pkt *p)
{
	int v6 = chance(45);
	const char *dst = pick_dst(v6);
	char src[64];
	uint32_t kind = rn(100);

	pkt_init(p);
	client_addr(v6, src, sizeof(src));
	if (kind < 12) {
		gen_icmp_err(p, v6, dst, 0);
		goto trailer;
	}
	if (kind < 40) {
		gen_l3(p, v6, src, dst, PKT_AUTO);
		pkt_tcp(p, (uint16_t)(1024 + rn(60000)), pick_port(),
			chance(20) ? PKT_TCP_SYN :
				     (uint8_t)(PKT_TCP_ACK | rn(256)),
			(uint32_t)rnd(), (uint32_t)rnd());
	} else if (kind < 70) {
		gen_l3(p, v6, src, dst, PKT_AUTO);
		pkt_udp(p, (uint16_t)rnd(), pick_port(),
			chance(10) ? PKT_F_NO_CSUM : 0);
	} else if (kind < 90) {
		gen_l3(p, v6, src, dst, PKT_AUTO);
		if (v6)
			pkt_icmp6(p, chance(85) ? 128 : (uint8_t)rnd(), 0,
				  (uint32_t)rnd());
		else
			pkt_icmp4(p, chance(85) ? 8 : (uint8_t)rnd(), 0,
				  (uint32_t)rnd());
	} else {
		/* another protocol, including ICMP of the other family */
		static const int protos[] = { 1, 58, 47, 132, 59, 255 };

		gen_l3(p, v6, src, dst, protos[rn(6)]);
	}
	pkt_payload(p, fit(p, pick_payload()), (uint8_t)rnd());
	pkt_finish(p);
trailer:
	/* Ethernet padding / trailer bytes after the IP packet */
	if (chance(8)) {
		size_t t = 1 + rn(40);

		if (p->len + t <= PKT_MAX) {
			for (size_t i = 0; i < t; i++)
				p->data[p->len + i] = (uint8_t)rnd();
			p->len += t;
		}
	}
}

/* Offsets of the header bytes of @p (up to 64 past the last header). */
static size_t header_end(const struct pkt *p)
{
	size_t end = 0;
	int i;

	for (i = 0; i < p->nlayers; i++)
		if (p->layer[i].kind != PKT_L_RAW)
			end = p->layer[i].off + p->layer[i].hlen;
	end += 64;
	return end < p->len ? end : p->len;
}

/* A 16-bit value near a length that matters. */
static uint16_t boundary16(uint16_t real)
{
	static const uint16_t fixed[] = { 0, 1, 7, 8, 19, 20, 39, 40, 0xffff };

	switch (rn(4)) {
	case 0:
		return fixed[rn(sizeof(fixed) / sizeof(fixed[0]))];
	case 1:
		return (uint16_t)(real + 1);
	case 2:
		return (uint16_t)(real - 1 - rn(8));
	default:
		return (uint16_t)rnd();
	}
}

/* Mutate one header field of @p (layer-aware) or its length. */
static void mutate(struct pkt *p)
{
	const struct pkt_layer *l;
	uint8_t *h;
	size_t hend = header_end(p);

	if (!p->nlayers || chance(15)) {
		/* any byte in the headers: a random value or one bit */
		if (hend) {
			size_t i = rn((uint32_t)hend);

			if (chance(50))
				p->data[i] = (uint8_t)rnd();
			else
				p->data[i] ^= (uint8_t)(1u << rn(8));
		}
		return;
	}
	if (chance(12)) {
		/* truncate */
		p->len = MIN_FRAME + rn((uint32_t)(p->len - MIN_FRAME + 1));
		return;
	}
	l = &p->layer[rn((uint32_t)p->nlayers)];
	if (l->off >= p->len)
		return;
	h = p->data + l->off;
	switch (l->kind) {
	case PKT_L_ETH:
		pkt_put16(h + 12,
			  chance(50) ? (uint16_t)rnd() :
				       (uint16_t[]){ 0x0800, 0x86dd, 0x8100,
						     0x88a8, 0x0806 }[rn(5)]);
		break;
	case PKT_L_VLAN:
		pkt_put16(h + 2 * rn(2),
			  chance(50) ? (uint16_t)rnd() :
				       (uint16_t[]){ 0x0800, 0x86dd, 0x8100,
						     0x88a8 }[rn(4)]);
		break;
	case PKT_L_IP4:
		switch (rn(7)) {
		case 0: /* version / IHL */
			h[0] = chance(50) ? (uint8_t)(0x40 | rn(16)) :
					    (uint8_t)rnd();
			break;
		case 1:
			pkt_put16(h + 2, boundary16(pkt_get16(h + 2)));
			break;
		case 2: /* flags / fragment offset */
			pkt_put16(h + 6, (uint16_t)(pkt_get16(h + 6) ^
						    (1u << rn(16))));
			break;
		case 3:
			h[9] = (uint8_t[]){ 1, 6, 17, 58, 0, 255 }[rn(6)];
			break;
		case 4: /* addresses */
			h[12 + rn(8)] ^= (uint8_t)(1u << rn(8));
			break;
		case 5: /* checksum */
			h[10 + rn(2)] ^= (uint8_t)(1 + rn(255));
			break;
		default:
			h[rn(l->hlen)] = (uint8_t)rnd();
			break;
		}
		break;
	case PKT_L_IP6:
		switch (rn(5)) {
		case 0:
			h[0] = (uint8_t)rnd();
			break;
		case 1:
			pkt_put16(h + 4, boundary16(pkt_get16(h + 4)));
			break;
		case 2:
			h[6] = (uint8_t[]){
				0, 43, 44, 60, 6, 17, 58, 1, 59
			}[rn(9)];
			break;
		case 3:
			h[8 + rn(32)] ^= (uint8_t)(1u << rn(8));
			break;
		default:
			h[rn(40)] = (uint8_t)rnd();
			break;
		}
		break;
	case PKT_L_EXT6:
	case PKT_L_FRAG6:
		if (chance(50))
			h[0] = (uint8_t[]){
				0, 43, 44, 60, 6, 17, 58, 1, 59
			}[rn(9)];
		else if (chance(60))
			h[1] = chance(50) ? (uint8_t)rn(4) : (uint8_t)rnd();
		else
			h[2 + rn(6)] = (uint8_t)rnd();
		break;
	case PKT_L_TCP:
		if (chance(40))
			h[12] = (uint8_t)(rn(16) << 4);
		else if (chance(50))
			h[13] = (uint8_t)rnd();
		else
			h[rn(20)] = (uint8_t)rnd();
		break;
	case PKT_L_UDP:
		if (chance(50))
			pkt_put16(h + 4, boundary16(pkt_get16(h + 4)));
		else
			h[rn(8)] = (uint8_t)rnd();
		break;
	case PKT_L_ICMP4:
	case PKT_L_ICMP6:
		if (chance(40))
			h[0] = (uint8_t[]){ 0,	 3,   8,
					    11,	 1,   2,
					    128, 129, (uint8_t)rnd() }[rn(9)];
		else
			h[rn(8)] = (uint8_t)rnd();
		break;
	default:
		if (l->hlen)
			h[rn(l->hlen)] = (uint8_t)rnd();
		break;
	}
}

/* Random bytes; half of them start like an IP frame to a VIP address. */
static size_t gen_random(uint8_t *b)
{
	size_t n = MIN_FRAME + rn(chance(90) ? 200 : MAX_FRAME - MIN_FRAME);
	size_t i, l3 = 14;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)rnd();
	if (chance(50)) {
		int v6 = chance(50);
		uint8_t a[16];

		if (chance(20)) {
			pkt_put16(b + 12, 0x8100);
			l3 += 4;
		}
		if (n < l3 + 40)
			return n;
		pkt_put16(b + l3 - 2, v6 ? 0x86dd : 0x0800);
		pkt_addr(pick_dst(v6), a);
		if (v6) {
			b[l3] = (uint8_t)(0x60 | (b[l3] & 15));
			memcpy(b + l3 + 24, a, 16);
			if (chance(70))
				pkt_put16(
					b + l3 + 4,
					(uint16_t)rn((uint32_t)(n - l3 - 39)));
			if (chance(50))
				b[l3 + 6] = (uint8_t[]){ 6,  17, 58, 0,
							 43, 60, 44 }[rn(7)];
		} else {
			b[l3] = (uint8_t)(0x40 | (chance(70) ? 5 : rn(16)));
			memcpy(b + l3 + 16, a, 4);
			if (chance(70))
				pkt_put16(b + l3 + 2,
					  (uint16_t)(20 + rn((uint32_t)(n - l3 -
									19))));
			if (chance(70))
				pkt_put16(b + l3 + 6, 0x4000);
			if (chance(50))
				b[l3 + 9] = (uint8_t[]){ 6, 17, 1 }[rn(3)];
		}
	}
	return n;
}

/* Every truncation and every single-byte header mutation of @p. */
static void sweep(const struct pkt *p)
{
	static uint8_t b[PKT_MAX];
	size_t hend = header_end(p), n, i, k;
	static const uint8_t deltas[] = { 0x01, 0x80, 0x0f, 0xf0 };

	for (n = MIN_FRAME; n <= p->len && n <= MAX_FRAME; n++) {
		/* every offset in the headers, then a stride through data */
		if (n > hend + 8 && (n - hend) % 61 && n != p->len - 1)
			continue;
		run_one(p->data, n);
	}
	if (p->len > MAX_FRAME)
		return;
	memcpy(b, p->data, p->len);
	for (i = 0; i < hend; i++) {
		uint8_t orig = b[i];

		b[i] = 0x00;
		run_one(b, p->len);
		b[i] = 0xff;
		run_one(b, p->len);
		for (k = 0; k < sizeof(deltas); k++) {
			b[i] = orig ^ deltas[k];
			run_one(b, p->len);
		}
		b[i] = (uint8_t)(orig + 1);
		run_one(b, p->len);
		b[i] = (uint8_t)(orig - 1);
		run_one(b, p->len);
		b[i] = orig;
	}
}

/* ---- The test ---------------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	char *end;
	uint64_t v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoull(s, &end, 0);
	cr_assert(!errno && !*end, "%s=%s: not a number", name, s);
	return v;
}

Test(fuzz, packets, .timeout = 0)
{
	uint64_t seed, total, per, i, c[XLB_CNT_MAX], sum = 0;
	static uint8_t b[PKT_MAX];
	struct pkt p;
	struct timespec t0, t1;
	int files, k;

	seed = env_u64("XLB_FUZZ_SEED",
		       (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	total = env_u64("XLB_FUZZ_N", 1000000);
	fprintf(stderr,
		"fuzz: seed %" PRIu64 " (repeat with XLB_FUZZ_SEED=%" PRIu64
		"), %" PRIu64 " random inputs (XLB_FUZZ_N)\n",
		seed, seed, total);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	setup_maps();
	read_counters(prev);

	files = replay_corpus();
	fprintf(stderr, "fuzz: replayed %d corpus inputs from %s\n", files,
		corpus_dir());

	/* fixed templates: the sweep is the same on every run */
	rng_state = 0x786c62;
	origin = "sweep";
	for (k = 0; k < 48; k++) {
		gen_valid(&p);
		sweep(&p);
	}
	flush_block();
	fprintf(stderr, "fuzz: sweep done, %" PRIu64 " inputs\n", n_inputs);

	rng_state = seed;
	per = (total + NCFGS - 1) / NCFGS;
	for (i = 0; i < total; i++) {
		uint32_t what = rn(100), m;
		size_t n;

		/* a third of the inputs under each of the settings */
		if (i % per == 0) {
			flush_block();
			set_cfg(i / per);
		}

		if (what < 10) {
			origin = "random";
			n = gen_random(b);
			run_one(b, n);
			continue;
		}
		if (what < 25) {
			origin = "hostile-icmp";
			pkt_init(&p);
			gen_icmp_err(&p, chance(50),
				     chance(50) ? "10.0.0.1" : "2001:db8::1",
				     1);
		} else {
			origin = what < 50 ? "valid" : "mutated";
			gen_valid(&p);
			if (what >= 50)
				for (m = 1 + rn(3); m; m--)
					mutate(&p);
		}
		run_one(p.data, p.len);
	}
	flush_block();
	clock_gettime(CLOCK_MONOTONIC, &t1);

	read_counters(c);
	for (k = 0; k < XLB_CNT_MAX; k++) {
		if (k != XLB_CNT_RX && k < XLB_CNT_EVENTS)
			sum += c[k];
		if (c[k])
			fprintf(stderr, "fuzz:   %-20s %" PRIu64 "\n",
				bpfrun_counter_name(k), c[k]);
	}
	fprintf(stderr,
		"fuzz: %" PRIu64 " inputs in %.1f s, %" PRIu64 " failures "
		"(seed %" PRIu64 ")\n",
		n_inputs,
		(double)(t1.tv_sec - t0.tv_sec) +
			(double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		n_failures, seed);
	cr_expect_eq(c[XLB_CNT_RX], n_inputs,
		     "RX counted %" PRIu64 " packets, %" PRIu64 " were run",
		     c[XLB_CNT_RX], n_inputs);
	cr_expect_eq(sum, n_inputs,
		     "outcome counters sum to %" PRIu64 ", %" PRIu64
		     " inputs were run",
		     sum, n_inputs);
	cr_assert_eq(n_failures, 0,
		     "%" PRIu64 " of %" PRIu64 " inputs broke an invariant "
		     "(first ones printed above; inputs saved in %s; seed "
		     "%" PRIu64 ")",
		     n_failures, n_inputs, corpus_dir(), seed);
	bpfrun_close(&R);
}
