/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Prebuilt benchmark packets: IPv4/IPv6 TCP/UDP, ICMP echo and ICMP
 * errors, with valid lengths and checksums, and in-place flow rewrites. */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <string.h>

#include "bench.h"

static const uint8_t dmac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t smac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

static uint32_t csum_add(uint32_t sum, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v & 0xff;
}

static void put32(uint8_t *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b + 2, v & 0xffff);
}

static size_t eth(uint8_t *b, uint16_t type)
{
	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	put16(b + 12, type);
	return ETH_HLEN;
}

static void ip4_csum(uint8_t *ip)
{
	put16(ip + 10, 0);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
}

/* IPv4 header at @ip, @plen bytes of payload after it. */
static void ip4(uint8_t *ip, uint8_t proto, uint32_t src, uint32_t dst,
		size_t plen)
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + plen));
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	ip4_csum(ip);
}

/* TCP or UDP header and payload at @l4; the checksum over the pseudo
 * header whose sum is @pseudo. Returns the L4 length. */
static size_t l4(uint8_t *l4, uint8_t proto, uint16_t sport, uint16_t dport,
		 uint8_t flags, uint32_t pseudo)
{
	size_t hl = proto == IPPROTO_TCP ? 20 : 8, len = hl + BPKT_PAYLOAD;

	memset(l4, 0, hl);
	put16(l4, sport);
	put16(l4 + 2, dport);
	for (size_t i = 0; i < BPKT_PAYLOAD; i++)
		l4[hl + i] = (uint8_t)(0x61 + i);
	if (proto == IPPROTO_TCP) {
		put32(l4 + 4, 1000);
		put32(l4 + 8, flags & TCPF_ACK ? 2000 : 0);
		l4[12] = 5 << 4;
		l4[13] = flags;
		put16(l4 + 14, 65535);
		put16(l4 + 16,
		      csum_fold(csum_add(pseudo + proto + len, l4, len)));
	} else {
		put16(l4 + 4, (uint16_t)len);
		put16(l4 + 6,
		      csum_fold(csum_add(pseudo + proto + len, l4, len)));
	}
	return len;
}

size_t bpkt_v4(uint8_t *b, uint8_t proto, uint32_t src, uint32_t dst,
	       uint16_t sport, uint16_t dport, uint8_t tcp_flags)
{
	size_t off = eth(b, ETH_P_IP), len;
	uint8_t *ip = b + off;
	uint32_t pseudo =
		(src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff);

	len = l4(ip + 20, proto, sport, dport, tcp_flags, pseudo);
	ip4(ip, proto, src, dst, len);
	return off + 20 + len;
}

size_t bpkt_v6(uint8_t *b, uint8_t proto, const uint8_t src[16],
	       const uint8_t dst[16], uint16_t sport, uint16_t dport,
	       uint8_t tcp_flags)
{
	size_t off = eth(b, ETH_P_IPV6), len;
	uint8_t *ip = b + off;
	uint32_t pseudo = csum_add(csum_add(0, src, 16), dst, 16);

	memset(ip, 0, 40);
	ip[0] = 0x60;
	ip[6] = proto;
	ip[7] = 64;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	len = l4(ip + 40, proto, sport, dport, tcp_flags, pseudo);
	put16(ip + 4, (uint16_t)len);
	return off + 40 + len;
}

size_t bpkt_echo4(uint8_t *b, uint32_t src, uint32_t dst)
{
	size_t off = eth(b, ETH_P_IP);
	uint8_t *ip = b + off, *ic = ip + 20;
	size_t len = 8 + 24;

	memset(ic, 0, len);
	ic[0] = 8; /* echo request */
	put16(ic + 4, 0x1234);
	put16(ic + 6, 1);
	for (size_t i = 8; i < len; i++)
		ic[i] = (uint8_t)i;
	put16(ic + 2, csum_fold(csum_add(0, ic, len)));
	ip4(ip, IPPROTO_ICMP, src, dst, len);
	return off + 20 + len;
}

size_t bpkt_icmp_err4(uint8_t *b, uint32_t router, uint32_t vip, uint16_t vport,
		      uint32_t client, uint16_t cport)
{
	size_t off = eth(b, ETH_P_IP);
	uint8_t *ip = b + off, *ic = ip + 20, *in = ic + 8;
	size_t len = 8 + 20 + 8;

	memset(ic, 0, len);
	ic[0] = 3; /* destination unreachable */
	ic[1] = 4; /* fragmentation needed */
	put16(ic + 6, 1400);
	/* the quoted packet: backend (as the VIP) to the client */
	ip4(in, IPPROTO_TCP, vip, client, 20 + BPKT_PAYLOAD + 1400);
	put16(in + 20, vport);
	put16(in + 22, cport);
	put32(in + 24, 1000);
	put16(ic + 2, csum_fold(csum_add(0, ic, len)));
	ip4(ip, IPPROTO_ICMP, router, vip, len);
	return off + 20 + len;
}

void bpkt_set_src4(uint8_t *b, uint32_t src, uint16_t sport)
{
	uint8_t *ip = b + ETH_HLEN;

	put32(ip + 12, src);
	put16(ip + 20, sport);
	ip4_csum(ip);
	/* the L4 checksum is left stale: xlb never reads it, and keeping
	 * it right would add user-space work between the timed calls */
}

void bpkt_set_dst4(uint8_t *b, uint32_t dst)
{
	uint8_t *ip = b + ETH_HLEN;

	put32(ip + 16, dst);
	ip4_csum(ip);
}

uint32_t bpkt_outer_dst4(const uint8_t *b, size_t len)
{
	const uint8_t *ip = b + ETH_HLEN;

	if (len < ETH_HLEN + 20 || b[12] != 0x08 || b[13] != 0x00)
		return 0;
	return (uint32_t)ip[16] << 24 | (uint32_t)ip[17] << 16 |
	       (uint32_t)ip[18] << 8 | ip[19];
}
