/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Test packets: a layer-by-layer builder that fills lengths and checksums at
 * the end, an independent Internet checksum, a parser and a hexdump diff. */
#ifndef XLB_TEST_PKT_H
#define XLB_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Largest packet the builder holds: more than XDP test runs accept
 * (a page minus head/tailroom), so the builder never limits a test. */
#define PKT_MAX 4096
/* Layers one packet may stack (eth, 2 VLAN, IP, 9 ext headers, L4, ...). */
#define PKT_MAX_LAYERS 24
/* "Fill this field from the next layer / the packet" for next-protocol and
 * ethertype arguments. */
#define PKT_AUTO (-1)

enum pkt_kind {
	PKT_L_ETH,
	PKT_L_VLAN,
	PKT_L_IP4,
	PKT_L_IP6,
	PKT_L_EXT6, /* hop-by-hop, routing, destination options */
	PKT_L_FRAG6,
	PKT_L_TCP,
	PKT_L_UDP,
	PKT_L_ICMP4,
	PKT_L_ICMP6,
	PKT_L_RAW, /* payload bytes or an embedded packet */
};

struct pkt_layer {
	enum pkt_kind kind;
	uint16_t off; /* offset of the header in the packet */
	uint16_t hlen; /* header length */
	int next; /* ethertype / next protocol given, or PKT_AUTO */
	uint16_t flags; /* PKT_F_* */
	uint16_t aux; /* VLAN: its TPID; EXT6: its type */
};

/* Layer flags. */
#define PKT_F_NO_CSUM (1U << 0) /* leave the checksum 0 (UDP: "none") */

/* A packet under construction. Builders append; pkt_finish() fills every
 * length, next-protocol and checksum field still to be computed. A write
 * past PKT_MAX sets @overflow and is refused (the packet is then unusable,
 * and pkt_finish() reports it). */
struct pkt {
	uint8_t data[PKT_MAX];
	size_t len;
	struct pkt_layer layer[PKT_MAX_LAYERS];
	int nlayers;
	bool overflow;
};

/* IPv4 header settings. Addresses in network order (as the ABI's __be32). */
struct pkt_ip4 {
	uint32_t src, dst; /* network order */
	uint8_t tos;
	uint8_t ttl; /* 0 means 64 */
	uint16_t id; /* host order */
	uint16_t frag; /* host order: flags (DF 0x4000, MF 0x2000) | offset/8 */
	int proto; /* PKT_AUTO: from the next layer */
	const uint8_t *opts; /* IPv4 options, a multiple of 4 bytes */
	size_t opts_len;
};

struct pkt_ip6 {
	uint8_t src[16], dst[16];
	uint8_t tclass;
	uint32_t flow; /* 20 bits */
	uint8_t hlim; /* 0 means 64 */
	int nexthdr; /* PKT_AUTO: from the next layer */
};

/* TCP flag bits (byte 13 of the header). */
#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10

void pkt_init(struct pkt *p);
/* Ethernet header; @type PKT_AUTO: from the next layer. */
void pkt_eth(struct pkt *p, const uint8_t dst[6], const uint8_t src[6],
	     int type);
/* An 802.1Q (0x8100) or 802.1ad (0x88a8) tag; @type of what follows. */
void pkt_vlan(struct pkt *p, uint16_t tpid, uint16_t tci, int type);
void pkt_ipv4(struct pkt *p, const struct pkt_ip4 *ip);
void pkt_ipv6(struct pkt *p, const struct pkt_ip6 *ip);
/* An IPv6 extension header of @type (0 hop-by-hop, 43 routing, 60
 * destination options) and @len bytes (a multiple of 8, >= 8), filled with
 * PadN (options) or an empty type-4 routing header with segments left 0. */
void pkt_ipv6_ext(struct pkt *p, uint8_t type, size_t len, int nexthdr);
/* An IPv6 fragment header: @offset in 8-byte units, @more = M flag. */
void pkt_ipv6_frag(struct pkt *p, uint16_t offset, bool more, uint32_t id,
		   int nexthdr);
/* TCP header without options (doff 5), ports in host order. */
void pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags,
	     uint32_t seq, uint32_t ack);
/* UDP header, ports in host order; @flags PKT_F_NO_CSUM leaves csum 0. */
void pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport, uint16_t flags);
/* ICMP / ICMPv6 header; @rest is the 4 bytes after the checksum (echo id
 * and sequence, next-hop MTU, ...) in host order. */
void pkt_icmp4(struct pkt *p, uint8_t type, uint8_t code, uint32_t rest);
void pkt_icmp6(struct pkt *p, uint8_t type, uint8_t code, uint32_t rest);
/* Raw bytes (payload, an embedded packet, an L2 trailer-free copy). */
void pkt_bytes(struct pkt *p, const void *b, size_t n);
/* @n payload bytes of a pattern derived from @seed. */
void pkt_payload(struct pkt *p, size_t n, uint8_t seed);
/* Fill every automatic field, innermost first. Fails the test if the
 * builder overflowed. */
void pkt_finish(struct pkt *p);
/* The first layer of @kind at or after layer @from, or NULL. */
const struct pkt_layer *pkt_find(const struct pkt *p, enum pkt_kind kind,
				 int from);

/* ---- Internet checksum (RFC 1071), independent of the datapath's ---- */

/* Add @n bytes at @b to a running 32-bit sum, as big-endian 16-bit words
 * (an odd last byte padded with zero). Only call on even-length pieces
 * except for the last one. */
uint32_t pkt_csum_add(uint32_t sum, const void *b, size_t n);
/* Fold and complement: the value to store, in host order. */
uint16_t pkt_csum_fold(uint32_t sum);
/* IPv4 header checksum of @ihl_bytes at @ip (the stored field included:
 * returns 0 for a correct header). */
uint16_t pkt_ip4_csum(const uint8_t *ip, size_t ihl_bytes);
/* Transport checksum over pseudo header + @l4 of @l4len bytes; @ip is the
 * IPv4 or IPv6 header the pseudo header comes from (IPv6 uses its dst, so
 * do not use with a routing header that has segments left). @proto is the
 * upper-layer protocol. Returns 0 when the stored checksum is right. */
uint16_t pkt_l4_csum(const uint8_t *ip, const uint8_t *l4, size_t l4len,
		     uint8_t proto);

/* ---- Parser ----------------------------------------------------------- */

/* The outer headers of a packet as found on the wire. */
struct pkt_view {
	size_t len;
	int nvlan;
	uint16_t vlan_tpid[2], vlan_tci[2];
	uint16_t ethertype; /* after the VLAN tags */
	size_t l3_off; /* first IP header */
	int family; /* 4, 6, or 0 if not IP / truncated */
	size_t l3_hlen; /* IPv4 IHL*4; IPv6: 40 + ext headers */
	uint8_t proto; /* IPv4 proto / last IPv6 next header */
	size_t l4_off; /* 0 if none */
};

/* Parse Ethernet, up to two VLAN tags, IPv4/IPv6 (ext headers walked).
 * Returns false if the packet ends before the headers it announces. */
bool pkt_parse(const uint8_t *b, size_t len, struct pkt_view *v);

/* ---- Printing --------------------------------------------------------- */

/* Hexdump @b, 16 bytes a line, offsets in hex. */
void pkt_hexdump(FILE *f, const char *title, const uint8_t *b, size_t len);
/* Side-by-side hexdump of @got and @want; differing bytes and lines are
 * marked. Returns the number of differing byte positions (length counted). */
size_t pkt_hexdiff(FILE *f, const uint8_t *got, size_t got_len,
		   const uint8_t *want, size_t want_len);

/* ---- Composite builders ----------------------------------------------- */

/* A one-flow test packet: Ethernet, optional VLAN tags, IPv4/IPv6 without
 * options, TCP/UDP (or ICMP echo request), a patterned payload. Addresses
 * are bytes in network order; IPv4 uses the first 4. */
struct pkt_simple {
	uint8_t dmac[6], smac[6];
	int nvlan;
	uint16_t vlan_tpid[2], vlan_tci[2];
	int family; /* 4 or 6 */
	uint8_t src[16], dst[16];
	uint8_t tos; /* IPv4 TOS / IPv6 traffic class */
	uint8_t proto; /* 6, 17, 1 (echo request) or 58 (echo request) */
	uint16_t sport, dport; /* host order; ICMP: echo id, sequence */
	uint8_t tcp_flags; /* 0 means ACK */
	size_t payload; /* bytes after the L4 header */
	uint16_t frag; /* IPv4 frag field, host order */
};

/* Parse a textual IPv4/IPv6 address into @a (16 bytes, IPv4 in the first
 * 4, rest zero). Returns 4 or 6; fails the test on a typo. */
int pkt_addr(const char *s, uint8_t a[16]);

/* Build @s into @p, finished. */
void pkt_simple(struct pkt *p, const struct pkt_simple *s);

/* Outer headers to put in front of a frame's IP packet. */
struct pkt_outer {
	uint8_t dmac[6], smac[6];
	int family; /* 4 or 6 */
	uint8_t src[16], dst[16];
	uint8_t tos; /* IPv4 TOS / IPv6 traffic class */
	uint32_t flow; /* IPv6 flow label */
	uint8_t ttl; /* 0 means 64 */
	uint16_t ip_id; /* IPv4, host order */
	uint16_t frag; /* IPv4 flags | offset, host order */
	bool udp; /* add a UDP header (checksum 0) */
	uint16_t sport, dport; /* UDP, host order */
};

/* The frame @in encapsulated: Ethernet with @o's MACs and @in's VLAN tags,
 * the outer IP header [+ UDP], then @in's IP packet byte for byte (its
 * length taken from its header); bytes after it in @in (Ethernet padding)
 * follow the whole packet unchanged. Fails the test if @in is not IP. */
void pkt_encap(struct pkt *out, const uint8_t *in, size_t in_len,
	       const struct pkt_outer *o);
/* Check frame @got against the encapsulation of @in described by @o, one
 * field at a time (MACs, VLAN tags, ethertype, every outer IP and UDP field,
 * checksum recomputed here), then the inner packet and any padding byte for
 * byte. Fails the test at the first difference, naming the field. */
void pkt_assert_outer(const uint8_t *got, size_t got_len, const uint8_t *in,
		      size_t in_len, const struct pkt_outer *o);
/* Length of the IP packet at @ip by its header (IPv4 tot_len, IPv6
 * 40 + payload length). */
size_t pkt_ip_len(const uint8_t *ip);

/* ---- Field access ----------------------------------------------------- */

static inline uint16_t pkt_get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint32_t pkt_get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

static inline void pkt_put16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v & 0xff;
}

static inline void pkt_put32(uint8_t *b, uint32_t v)
{
	b[0] = v >> 24;
	b[1] = (v >> 16) & 0xff;
	b[2] = (v >> 8) & 0xff;
	b[3] = v & 0xff;
}

#endif /* XLB_TEST_PKT_H */
