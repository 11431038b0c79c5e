/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The test packet builder checked against fixed vectors (checksums that
 * tcpdump confirmed, RFC 1071's example), so the packet tests rest on
 * something other than themselves. Needs no root. */
#include <string.h>

#include <criterion/criterion.h>

#include "pkt.h"

/* The IPv4 header example of RFC 1071's usual illustration: the stored
 * checksum 0xb861 makes the header sum to 0. */
Test(pkt, ipv4_header_checksum_vector)
{
	uint8_t h[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40,
			  0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
			  0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };

	cr_assert_eq(pkt_ip4_csum(h, 20), 0xb861);
	pkt_put16(h + 10, 0xb861);
	cr_assert_eq(pkt_ip4_csum(h, 20), 0);
}

/* RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to ddf2. */
Test(pkt, rfc1071_sum_vector)
{
	static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03,
				     0xf4, 0xf5, 0xf6, 0xf7 };

	cr_assert_eq(pkt_csum_fold(pkt_csum_add(0, b, sizeof(b))),
		     (uint16_t)~0xddf2);
	/* an odd tail is padded with a zero byte */
	cr_assert_eq(pkt_csum_fold(pkt_csum_add(0, b, 3)),
		     (uint16_t) ~(0x0001 + 0xf200));
}

static void simple(struct pkt *p, int family, uint8_t proto)
{
	struct pkt_simple s = { .family = family, .proto = proto };

	pkt_addr(family == 4 ? "198.51.100.10" : "2001:db8::10", s.src);
	pkt_addr(family == 4 ? "192.0.2.1" : "2001:db8::1", s.dst);
	s.sport = 1234;
	s.dport = 80;
	s.payload = 33;
	pkt_simple(p, &s);
}

/* TCP checksums of two packets that tcpdump -vvv reported "correct". */
Test(pkt, tcp_checksum_vectors)
{
	struct pkt p;

	simple(&p, 4, 6);
	cr_assert_eq(p.len, 14 + 20 + 20 + 33);
	cr_assert_eq(pkt_get16(p.data + 14 + 20 + 16), 0x9872);
	simple(&p, 6, 6);
	cr_assert_eq(p.len, 14 + 40 + 20 + 33);
	cr_assert_eq(pkt_get16(p.data + 14 + 40 + 16), 0x292f);
}

/* Every finished packet verifies: IPv4 header, UDP, ICMP, ICMPv6. */
Test(pkt, finished_packets_verify)
{
	static const uint8_t protos[2][3] = { { 6, 17, 1 }, { 6, 17, 58 } };
	int f, i;

	for (f = 0; f < 2; f++) {
		for (i = 0; i < 3; i++) {
			struct pkt p;
			struct pkt_view v;
			uint8_t proto = protos[f][i];

			simple(&p, f ? 6 : 4, proto);
			cr_assert(pkt_parse(p.data, p.len, &v));
			cr_assert_eq(v.proto, proto);
			if (!f)
				cr_assert_eq(pkt_ip4_csum(p.data + 14, 20), 0);
			cr_assert_eq(pkt_l4_csum(p.data + 14, p.data + v.l4_off,
						 p.len - v.l4_off, proto),
				     0,
				     "IPv%d proto %u: checksum does not verify",
				     f ? 6 : 4, proto);
		}
	}
}

/* Lengths and next-header chain through VLANs and extension headers. */
Test(pkt, layers_chain)
{
	static const uint8_t m[6] = { 0 };
	struct pkt_ip6 ip = { .nexthdr = PKT_AUTO };
	struct pkt_view v;
	struct pkt p;

	pkt_init(&p);
	pkt_eth(&p, m, m, PKT_AUTO);
	pkt_vlan(&p, 0x88a8, 5, PKT_AUTO);
	pkt_vlan(&p, 0x8100, 7, PKT_AUTO);
	pkt_ipv6(&p, &ip);
	pkt_ipv6_ext(&p, 0, 8, PKT_AUTO);
	pkt_ipv6_ext(&p, 43, 16, PKT_AUTO);
	pkt_ipv6_frag(&p, 0, true, 1, PKT_AUTO);
	pkt_udp(&p, 1, 2, 0);
	pkt_payload(&p, 5, 0);
	pkt_finish(&p);
	cr_assert_eq(pkt_get16(p.data + 12), 0x88a8);
	cr_assert_eq(pkt_get16(p.data + 16), 0x8100);
	cr_assert_eq(pkt_get16(p.data + 20), 0x86dd);
	cr_assert(pkt_parse(p.data, p.len, &v));
	cr_assert_eq(v.nvlan, 2);
	cr_assert_eq(v.l3_off, 22);
	cr_assert_eq(v.l3_hlen, 40 + 8 + 16 + 8);
	cr_assert_eq(v.proto, 17);
	cr_assert_eq(pkt_get16(p.data + 22 + 4), 8 + 16 + 8 + 8 + 5);
	cr_assert_eq(pkt_get16(p.data + v.l4_off + 4), 8 + 5);
}

/* The builder refuses to write past its buffer and says so. */
Test(pkt, overflow_refused)
{
	static const uint8_t m[6] = { 0 };
	struct pkt p;

	pkt_init(&p);
	pkt_eth(&p, m, m, 0x0800);
	pkt_payload(&p, PKT_MAX, 0);
	cr_assert(p.overflow);
	cr_assert_eq(p.len, 14);
}

Test(pkt, hexdiff_counts_differences)
{
	uint8_t a[40], b[40];
	FILE *f = fopen("/dev/null", "w");

	cr_assert(f);
	memset(a, 1, sizeof(a));
	memcpy(b, a, sizeof(b));
	cr_assert_eq(pkt_hexdiff(f, a, 40, b, 40), 0);
	b[3] = 9;
	b[39] = 9;
	cr_assert_eq(pkt_hexdiff(f, a, 40, b, 40), 2);
	cr_assert_eq(pkt_hexdiff(f, a, 40, b, 36), 1 + 4);
	fclose(f);
}
