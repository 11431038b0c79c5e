/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Netlink look-ups against a throw-away pair of network namespaces. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include "netlink.h"

/*
 * Topology, made fresh for every test (criterion runs each test in its
 * own process, so setns() only moves that process):
 *
 *   netns xnl<r>_<w>a (the test runs here)    netns xnl<r>_<w>b (router)
 *   xnl0 02:00:00:00:00:01  <---- veth ---->  xnl1 02:00:00:00:00:fe
 *        192.0.2.1/24, 2001:db8::1/64              192.0.2.254, 2001:db8::fe
 *   xnl2 02:00:00:00:00:02  <---- veth ---->  xnl3 (down the same way)
 *        198.51.100.1/24                           198.51.100.254
 *
 * Documentation prefixes only; nothing leaves the two namespaces.
 */
static char ns_a[32], ns_b[32];
static int orig_ns = -1;
static bool in_setup; /* a failing command in setup cleans up itself */

static const uint8_t mac_a[6] = { 2, 0, 0, 0, 0, 0x01 };
static const uint8_t mac_router[6] = { 2, 0, 0, 0, 0, 0xfe };
static const uint8_t mac_router2[6] = { 2, 0, 0, 0, 0, 0xfd };

static void teardown(void);
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command; fail the test (with the command) if it fails;
 * during setup, clean up what was made before failing. */
static void sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	if (rc && in_setup)
		teardown();
	cr_assert_eq(rc, 0, "command failed (%d): %s", rc, cmd);
}

static void teardown(void)
{
	char cmd[128];

	if (orig_ns >= 0) {
		setns(orig_ns, CLONE_NEWNET);
		close(orig_ns);
		orig_ns = -1;
	}
	/* Deleting a netns destroys its veth ends (and so their peers). */
	if (ns_a[0]) {
		snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", ns_a);
		if (system(cmd))
			fprintf(stderr, "warning: could not delete netns %s\n",
				ns_a);
	}
	if (ns_b[0]) {
		snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", ns_b);
		if (system(cmd))
			fprintf(stderr, "warning: could not delete netns %s\n",
				ns_b);
	}
}

static void setup(void)
{
	char path[64];

	in_setup = true;
	/* xnl<runner pid>_<worker pid>: the runner's hook below removes
	 * whatever a crashed or timed-out worker could not. */
	snprintf(ns_a, sizeof(ns_a), "xnl%d_%da", (int)getppid(),
		 (int)getpid());
	snprintf(ns_b, sizeof(ns_b), "xnl%d_%db", (int)getppid(),
		 (int)getpid());
	sh("ip netns add %s", ns_a);
	sh("ip netns add %s", ns_b);
	sh("ip -n %s link set lo up", ns_a);
	/* The kernel's own neighbour solicitations (no packet waiting) come
	 * from the link-local address, which DAD keeps tentative for ~1 s
	 * after link-up: skip DAD so the link is ready at once. */
	sh("ip netns exec %s sh -c 'echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad && echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad'",
	   ns_a);
	sh("ip -n %s link set lo up", ns_b);
	sh("ip -n %s link add xnl0 address 02:00:00:00:00:01 type veth peer name xnl1 address 02:00:00:00:00:fe netns %s",
	   ns_a, ns_b);
	sh("ip -n %s link add xnl2 address 02:00:00:00:00:02 type veth peer name xnl3 address 02:00:00:00:00:fd netns %s",
	   ns_a, ns_b);
	sh("ip -n %s addr add 192.0.2.1/24 dev xnl0", ns_a);
	sh("ip -n %s addr add 2001:db8::1/64 dev xnl0 nodad", ns_a);
	sh("ip -n %s addr add 198.51.100.1/24 dev xnl2", ns_a);
	sh("ip -n %s addr add 192.0.2.254/24 dev xnl1", ns_b);
	sh("ip -n %s addr add 2001:db8::fe/64 dev xnl1 nodad", ns_b);
	sh("ip -n %s addr add 198.51.100.254/24 dev xnl3", ns_b);
	sh("ip -n %s link set xnl0 up", ns_a);
	sh("ip -n %s link set xnl2 up", ns_a);
	sh("ip -n %s link set xnl1 up", ns_b);
	sh("ip -n %s link set xnl3 up", ns_b);
	/* Until both ends show carrier (linkwatch can lag ~1 s) the far
	 * end has no IPv6 multicast route and ignores solicitations. */
	sh("for i in $(seq 300); do [ $(ip -n %s -o link show up 2>/dev/null | grep -c 'state UP') = 2 ] && [ $(ip -n %s -o link show up 2>/dev/null | grep -c 'state UP') = 2 ] && exit 0; sleep 0.01; done; exit 1",
	   ns_a, ns_b);
	/* IPv6 addresses added before carrier stay tentative (and deaf to
	 * neighbour solicitations) until addrconf catches up, nodad or not. */
	sh("for i in $(seq 200); do [ -z \"$(ip -n %s -6 addr show scope global tentative)$(ip -n %s -6 addr show scope global tentative)\" ] && exit 0; sleep 0.01; done; exit 1",
	   ns_a, ns_b);

	orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(orig_ns, 0, "open own netns: %s", strerror(errno));
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns_a);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(setns(fd, CLONE_NEWNET), 0, "setns %s: %s", ns_a,
		     strerror(errno));
	close(fd);
	in_setup = false;
}

/* Runs in the runner process after all tests: sweep our namespaces. */
ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	char prefix[32], cmd[300];
	struct dirent *de;
	DIR *d = opendir("/var/run/netns");

	(void)stats;
	if (!d)
		return;
	snprintf(prefix, sizeof(prefix), "xnl%d_", (int)getpid());
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		fprintf(stderr, "removing netns %s left by a dead test\n",
			de->d_name);
		snprintf(cmd, sizeof(cmd), "ip netns del %s", de->d_name);
		if (system(cmd))
			fprintf(stderr, "warning: could not delete netns %s\n",
				de->d_name);
	}
	closedir(d);
}

TestSuite(netlink, .init = setup, .fini = teardown, .timeout = 30);

static void expect_mac(const uint8_t got[6], const uint8_t want[6])
{
	cr_expect_arr_eq(
		got, want, 6,
		"MAC %02x:%02x:%02x:%02x:%02x:%02x, want %02x:%02x:%02x:%02x:%02x:%02x",
		got[0], got[1], got[2], got[3], got[4], got[5], want[0],
		want[1], want[2], want[3], want[4], want[5]);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Neighbour state of @addr on @dev in netns A, as `ip` prints it. */
static void neigh_state(const char *addr, const char *dev, char *out,
			size_t len)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ip -n %s neigh show %s dev %s", ns_a, addr,
		 dev);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	if (!fgets(out, (int)len, p))
		out[0] = 0;
	pclose(p);
}

Test(netlink, if_mac)
{
	uint8_t mac[6] = { 0 };
	char err[XLB_NL_ERRLEN] = "";

	cr_assert_eq(xlb_nl_if_mac("xnl0", mac, err, sizeof(err)), 0, "%s",
		     err);
	expect_mac(mac, mac_a);
}

Test(netlink, if_mac_unknown_interface)
{
	uint8_t mac[6];
	char err[XLB_NL_ERRLEN] = "";

	cr_assert_eq(xlb_nl_if_mac("xnlnope", mac, err, sizeof(err)), -ENODEV);
	cr_expect(strstr(err, "interface xnlnope does not exist"), "%s", err);
}

/* A tun device has no link-layer address at all. */
Test(netlink, if_mac_not_ethernet)
{
	uint8_t mac[6];
	char err[XLB_NL_ERRLEN] = "";

	sh("ip -n %s tuntap add dev xnlt mode tun", ns_a);
	cr_assert_eq(xlb_nl_if_mac("xnlt", mac, err, sizeof(err)),
		     -EPROTONOSUPPORT);
	cr_expect(strstr(err, "interface xnlt has no Ethernet address"), "%s",
		  err);
}

/* An entry already in the table is used as it is: no probe. A permanent
 * entry with a MAC that is not the router's proves it was read. */
Test(netlink, gateway_v4_existing_entry)
{
	static const uint8_t fake[6] = { 2, 0, 0, 0, 0, 0xaa };
	uint8_t mac[6] = { 0 };
	char err[XLB_NL_ERRLEN] = "";

	sh("ip -n %s route add default via 192.0.2.254 dev xnl0", ns_a);
	sh("ip -n %s neigh replace 192.0.2.254 lladdr 02:00:00:00:00:aa dev xnl0 nud permanent",
	   ns_a);
	cr_assert_eq(xlb_nl_gateway_mac("xnl0", AF_INET, mac, err, sizeof(err)),
		     0, "%s", err);
	expect_mac(mac, fake);
}

Test(netlink, gateway_v4_stale_entry)
{
	uint8_t mac[6] = { 0 };
	char err[XLB_NL_ERRLEN] = "";

	sh("ip -n %s route add default via 192.0.2.254 dev xnl0", ns_a);
	sh("ip -n %s neigh replace 192.0.2.254 lladdr 02:00:00:00:00:fe dev xnl0 nud stale",
	   ns_a);
	cr_assert_eq(xlb_nl_gateway_mac("xnl0", AF_INET, mac, err, sizeof(err)),
		     0, "%s", err);
	expect_mac(mac, mac_router);
}

/* Empty neighbour table: the kernel must ARP for the router. */
Test(netlink, gateway_v4_probe)
{
	uint8_t mac[6] = { 0 };
	char err[XLB_NL_ERRLEN] = "", st[256];

	sh("ip -n %s route add default via 192.0.2.254 dev xnl0", ns_a);
	sh("ip -n %s neigh flush dev xnl0", ns_a);
	neigh_state("192.0.2.254", "xnl0", st, sizeof(st));
	cr_assert_eq(st[0], 0, "neighbour table not empty: %s", st);

	double t0 = now_ms();
	cr_assert_eq(xlb_nl_gateway_mac("xnl0", AF_INET, mac, err, sizeof(err)),
		     0, "%s", err);
	fprintf(stderr, "netlink: ARP probe resolved the gateway in %.1f ms\n",
		now_ms() - t0);
	expect_mac(mac, mac_router);
	neigh_state("192.0.2.254", "xnl0", st, sizeof(st));
	cr_expect(strstr(st, "02:00:00:00:00:fe"), "neighbour now: %s", st);
}

/* A FAILED entry (router was down) is probed again, not reported. */
Test(netlink, gateway_v4_failed_entry_reprobed)
{
	uint8_t mac[6] = { 0 };
	char err[XLB_NL_ERRLEN] = "";

	sh("ip -n %s route add default via 192.0.2.254 dev xnl0", ns_a);
	sh("ip -n %s neigh replace 192.0.2.254 dev xnl0 nud failed", ns_a);
	cr_assert_eq(xlb_nl_gateway_mac("xnl0", AF_INET, mac, err, sizeof(err)),
		     0, "%s", err);
	expect_mac(mac, mac_router);
}

Test(netlink, gateway_v6_probe)
{
	uint8_t mac[6] = { 0 };
	char err[XLB_NL_ERRLEN] = "";

	sh("ip -n %s -6 route add default via 2001:db8::fe dev xnl0", ns_a);
	cr_assert_eq(
		xlb_nl_gateway_mac("xnl0", AF_INET6, mac, err, sizeof(err)), 0,
		"%s", err);
	expect_mac(mac, mac_router);
}

/* IPv4 default route via an IPv6 next hop (RFC 5549): RTA_VIA, and the
 * router is found in the IPv6 neighbour table. */
Test(netlink, gateway_v4_via_v6_nexthop)
{
	uint8_t mac[6] = { 0 };
	char err[XLB_NL_ERRLEN] = "";

	sh("ip -n %s -4 route add default via inet6 2001:db8::fe dev xnl0",
	   ns_a);
	cr_assert_eq(xlb_nl_gateway_mac("xnl0", AF_INET, mac, err, sizeof(err)),
		     0, "%s", err);
	expect_mac(mac, mac_router);
}

/* Without a link-local address the kernel sends no solicitation at all:
 * the message must say so, not blame the router. */
Test(netlink, gateway_v6_no_link_local)
{
	uint8_t mac[6];
	char err[XLB_NL_ERRLEN] = "";

	sh("ip -n %s -6 addr flush dev xnl0 scope link", ns_a);
	sh("ip -n %s -6 route add default via 2001:db8::fe dev xnl0", ns_a);
	cr_assert_eq(
		xlb_nl_gateway_mac("xnl0", AF_INET6, mac, err, sizeof(err)),
		-EHOSTUNREACH);
	cr_expect(strstr(err, "xnl0 has no usable IPv6 link-local address"),
		  "%s", err);
	/* whole sentence, remedy included, in XLB_NL_ERRLEN */
	cr_expect(strstr(err, "or set gateway_mac explicitly)"), "%s", err);
}

/* Nobody owns 2001:db8::fd: the plain "did not answer" message. */
Test(netlink, gateway_v6_silent)
{
	uint8_t mac[6];
	char err[XLB_NL_ERRLEN] = "";

	sh("ip -n %s -6 route add default via 2001:db8::fd dev xnl0", ns_a);
	cr_assert_eq(
		xlb_nl_gateway_mac("xnl0", AF_INET6, mac, err, sizeof(err)),
		-EHOSTUNREACH);
	cr_expect(
		strstr(err,
		       "gateway 2001:db8::fd on xnl0 did not answer neighbour solicitation within 1 s"),
		"%s", err);
}

/* AF_UNSPEC: IPv4 has no default route here, IPv6 does. */
Test(netlink, gateway_unspec_falls_back_to_v6)
{
	uint8_t mac[6] = { 0 };
	char err[XLB_NL_ERRLEN] = "";

	sh("ip -n %s -6 route add default via 2001:db8::fe dev xnl0", ns_a);
	cr_assert_eq(
		xlb_nl_gateway_mac("xnl0", AF_UNSPEC, mac, err, sizeof(err)), 0,
		"%s", err);
	expect_mac(mac, mac_router);
}

/* ECMP default route: the next hop out of xnl0 is the one we want, the
 * one out of xnl2 (MAC ...:fd) is not. */
Test(netlink, gateway_v4_multipath)
{
	uint8_t mac[6] = { 0 };
	char err[XLB_NL_ERRLEN] = "";

	sh("ip -n %s route add default nexthop via 198.51.100.254 dev xnl2 nexthop via 192.0.2.254 dev xnl0",
	   ns_a);
	cr_assert_eq(xlb_nl_gateway_mac("xnl0", AF_INET, mac, err, sizeof(err)),
		     0, "%s", err);
	expect_mac(mac, mac_router);
	cr_assert_eq(xlb_nl_gateway_mac("xnl2", AF_INET, mac, err, sizeof(err)),
		     0, "%s", err);
	expect_mac(mac, mac_router2);
}

/* A default route through a nexthop object (as FRR installs them). */
Test(netlink, gateway_v4_nexthop_object)
{
	uint8_t mac[6] = { 0 };
	char err[XLB_NL_ERRLEN] = "";

	sh("ip -n %s nexthop add id 10 via 192.0.2.254 dev xnl0", ns_a);
	sh("ip -n %s route add default nhid 10", ns_a);
	cr_assert_eq(xlb_nl_gateway_mac("xnl0", AF_INET, mac, err, sizeof(err)),
		     0, "%s", err);
	expect_mac(mac, mac_router);
}

/* The same, with the kernel's compatibility attributes off: the route
 * names only the nexthop id, and a group's member out of xnl0 counts. */
Test(netlink, gateway_v4_nexthop_object_no_compat)
{
	uint8_t mac[6] = { 0 };
	char err[XLB_NL_ERRLEN] = "";

	sh("ip netns exec %s sh -c 'echo 0 > /proc/sys/net/ipv4/nexthop_compat_mode'",
	   ns_a);
	sh("ip -n %s nexthop add id 11 via 198.51.100.254 dev xnl2", ns_a);
	sh("ip -n %s nexthop add id 12 via 192.0.2.254 dev xnl0", ns_a);
	sh("ip -n %s nexthop add id 20 group 11/12", ns_a);
	sh("ip -n %s route add default nhid 20", ns_a);
	cr_assert_eq(xlb_nl_gateway_mac("xnl0", AF_INET, mac, err, sizeof(err)),
		     0, "%s", err);
	expect_mac(mac, mac_router);
	cr_assert_eq(xlb_nl_gateway_mac("xnl2", AF_INET, mac, err, sizeof(err)),
		     0, "%s", err);
	expect_mac(mac, mac_router2);
}

/* Two default routes out of xnl0: the lower metric wins. */
Test(netlink, gateway_v4_lowest_metric)
{
	uint8_t mac[6] = { 0 };
	char err[XLB_NL_ERRLEN] = "";

	sh("ip -n %s route add default via 192.0.2.253 dev xnl0 metric 200",
	   ns_a);
	sh("ip -n %s route add default via 192.0.2.254 dev xnl0 metric 100",
	   ns_a);
	cr_assert_eq(xlb_nl_gateway_mac("xnl0", AF_INET, mac, err, sizeof(err)),
		     0, "%s", err);
	expect_mac(mac, mac_router);
}

Test(netlink, no_default_route)
{
	uint8_t mac[6];
	char err[XLB_NL_ERRLEN] = "";

	cr_assert_eq(xlb_nl_gateway_mac("xnl0", AF_INET, mac, err, sizeof(err)),
		     -ENOENT);
	cr_expect(strstr(err, "no IPv4 default route through xnl0"), "%s", err);
	cr_expect(strstr(err, "set gateway_mac"), "%s", err);

	cr_assert_eq(
		xlb_nl_gateway_mac("xnl0", AF_UNSPEC, mac, err, sizeof(err)),
		-ENOENT);
	cr_expect(strstr(err, "no default route through xnl0, IPv4 or IPv6"),
		  "%s", err);
}

Test(netlink, default_route_via_other_interface)
{
	uint8_t mac[6];
	char err[XLB_NL_ERRLEN] = "";

	sh("ip -n %s route add default via 198.51.100.254 dev xnl2", ns_a);
	cr_assert_eq(xlb_nl_gateway_mac("xnl0", AF_INET, mac, err, sizeof(err)),
		     -ENOENT);
	cr_expect(strstr(err, "no IPv4 default route through xnl0"), "%s", err);
	cr_expect(strstr(err, "another interface"), "%s", err);
}

Test(netlink, default_route_without_gateway)
{
	uint8_t mac[6];
	char err[XLB_NL_ERRLEN] = "";

	sh("ip -n %s route add default dev xnl0", ns_a);
	cr_assert_eq(xlb_nl_gateway_mac("xnl0", AF_INET, mac, err, sizeof(err)),
		     -ENOENT);
	cr_expect(strstr(err, "has no gateway"), "%s", err);
}

/* Nobody owns 192.0.2.253: give up after about 1 s with a sentence. */
Test(netlink, gateway_silent)
{
	uint8_t mac[6];
	char err[XLB_NL_ERRLEN] = "";

	sh("ip -n %s route add default via 192.0.2.253 dev xnl0", ns_a);
	double t0 = now_ms();
	cr_assert_eq(xlb_nl_gateway_mac("xnl0", AF_INET, mac, err, sizeof(err)),
		     -EHOSTUNREACH);
	double dt = now_ms() - t0;
	cr_expect(
		strstr(err,
		       "gateway 192.0.2.253 on xnl0 did not answer ARP within 1 s"),
		"%s", err);
	cr_expect(dt >= 900 && dt < 2500, "gave up after %.0f ms", dt);
}

Test(netlink, gateway_unknown_interface)
{
	uint8_t mac[6];
	char err[XLB_NL_ERRLEN] = "";

	cr_assert_eq(
		xlb_nl_gateway_mac("xnlnope", AF_INET, mac, err, sizeof(err)),
		-ENODEV);
	cr_expect(strstr(err, "interface xnlnope does not exist"), "%s", err);
}
