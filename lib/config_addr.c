/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Address and number helpers of the configuration model, shared by the
 * loader, xlbctl and the tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "config.h"

/**
 * xlb_addr_parse - read one IPv4 or IPv6 address (no prefix, no zone)
 * @s:   text such as "10.0.0.1" or "fc00::1"
 * @out: zeroed, then filled in network order
 *
 * Returns 0, or -EINVAL if @s is not an address (@out is then zero).
 */
int xlb_addr_parse(const char *s, struct xlb_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &out->a[0]) == 1) {
		out->family = XLB_FAMILY_V4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->a) == 1) {
		out->family = XLB_FAMILY_V6;
		return 0;
	}
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

/**
 * xlb_addr_str - print an address; returns @buf
 *
 * @len should be at least INET6_ADDRSTRLEN (46). An address of unknown
 * family, or a @buf too small, prints as "?".
 */
const char *xlb_addr_str(const struct xlb_addr *a, char *buf, size_t len)
{
	const char *r = NULL;

	if (!buf || !len)
		return "";
	if (a && a->family == XLB_FAMILY_V4)
		r = inet_ntop(AF_INET, &a->a[0], buf, (socklen_t)len);
	else if (a && a->family == XLB_FAMILY_V6)
		r = inet_ntop(AF_INET6, a->a, buf, (socklen_t)len);
	if (!r)
		snprintf(buf, len, "?");
	return buf;
}

/* Same family and same bits; words past an IPv4 address are ignored. */
bool xlb_addr_eq(const struct xlb_addr *a, const struct xlb_addr *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == XLB_FAMILY_V4)
		return a->a[0] == b->a[0];
	return memcmp(a->a, b->a, sizeof(a->a)) == 0;
}

/* Trial division: at most 2^16 steps for a 32-bit number, and the loader
 * calls it once per file. */
bool xlb_is_prime(uint32_t n)
{
	uint32_t d;

	if (n < 2)
		return false;
	if (n % 2 == 0)
		return n == 2;
	for (d = 3; (uint64_t)d * d <= n; d += 2)
		if (n % d == 0)
			return false;
	return true;
}
