/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* rtnetlink look-ups over libmnl: an interface's MAC, the default
 * gateway's MAC (with a kernel-driven ARP/ND probe when it is unknown). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>

#include "netlink.h"

/* Dump replies come in multi-message datagrams of up to a page or two;
 * 32 KiB holds any of them. */
#define NL_BUF 32768

/* How long to wait for ARP/ND to resolve the gateway, and how often to
 * look at the neighbour table meanwhile. */
#define PROBE_WAIT_MS 1000
#define PROBE_POLL_MS 10

struct nl {
	struct mnl_socket *sk;
	unsigned int portid;
	unsigned int seq;
};

static void say(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int nl_open(struct nl *nl, char *err, size_t errlen)
{
	nl->sk = mnl_socket_open(NETLINK_ROUTE);
	if (!nl->sk) {
		int e = errno;

		say(err, errlen, "cannot open a rtnetlink socket: %s",
		    strerror(e));
		return -e;
	}
	if (mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		say(err, errlen, "cannot bind a rtnetlink socket: %s",
		    strerror(e));
		mnl_socket_close(nl->sk);
		nl->sk = NULL;
		return -e;
	}
	nl->portid = mnl_socket_get_portid(nl->sk);
	nl->seq = (unsigned int)time(NULL);
	return 0;
}

static void nl_close(struct nl *nl)
{
	if (nl->sk)
		mnl_socket_close(nl->sk);
	nl->sk = NULL;
}

/*
 * Send @req and feed every reply to @cb until the dump ends, the ACK
 * arrives or @cb stops. Returns 0 or -errno (the kernel's, for a NACK).
 */
static int nl_talk(struct nl *nl, struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	char *buf = malloc(NL_BUF);
	int ret;

	if (!buf)
		return -ENOMEM;
	req->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->sk, req, req->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(nl->sk, buf, NL_BUF);

		if (len < 0) {
			ret = -errno;
			break;
		}
		ret = mnl_cb_run(buf, len, req->nlmsg_seq, nl->portid, cb,
				 data);
		if (ret < 0) {
			ret = -errno;
			break;
		}
		if (ret == MNL_CB_STOP) {
			ret = 0;
			break;
		}
	}
out:
	free(buf);
	return ret;
}

static const char *family_name(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

/* ---- interface MAC ---- */

struct link_q {
	bool found;
	int addr_len; /* of IFLA_ADDRESS, -1 if absent */
	uint8_t mac[6];
};

static int link_attr_cb(const struct nlattr *a, void *data)
{
	struct link_q *q = data;

	if (mnl_attr_get_type(a) == IFLA_ADDRESS) {
		q->addr_len = mnl_attr_get_payload_len(a);
		if (q->addr_len == 6)
			memcpy(q->mac, mnl_attr_get_payload(a), 6);
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_q *q = data;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	q->found = true;
	q->addr_len = -1;
	mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr_cb, q);
	return MNL_CB_OK;
}

int xlb_nl_if_mac(const char *ifname, uint8_t mac[6], char *err, size_t errlen)
{
	char req_buf[MNL_SOCKET_BUFFER_SIZE];
	struct link_q q = { .addr_len = -1 };
	struct nl nl = { 0 };
	unsigned int ifindex = if_nametoindex(ifname);
	int ret;

	if (!ifindex) {
		say(err, errlen,
		    "interface %s does not exist (check the name with `ip link`)",
		    ifname);
		return -ENODEV;
	}
	ret = nl_open(&nl, err, errlen);
	if (ret)
		return ret;

	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req_buf);
	nlh->nlmsg_type = RTM_GETLINK;
	/* The ACK after the reply is what ends nl_talk(). */
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;

	ret = nl_talk(&nl, nlh, link_cb, &q);
	nl_close(&nl);
	if (ret) {
		say(err, errlen, "cannot read interface %s over netlink: %s",
		    ifname, strerror(-ret));
		return ret;
	}
	if (!q.found) {
		say(err, errlen,
		    "interface %s vanished while reading its address (retry)",
		    ifname);
		return -ENODEV;
	}
	if (q.addr_len != 6) {
		say(err, errlen,
		    "interface %s has no Ethernet address (xlb needs an Ethernet interface)",
		    ifname);
		return -EPROTONOSUPPORT;
	}
	memcpy(mac, q.mac, 6);
	return 0;
}

/* ---- default route ---- */

/* Default routes that name a nexthop object only (RTA_NH_ID, as with
 * net.ipv4.nexthop_compat_mode = 0): resolved after the dump, since a
 * socket cannot take a second request while it is dumping. */
#define MAX_NH_ROUTES 8

struct route_q {
	int family;
	int ifindex;
	uint32_t nh_id[MAX_NH_ROUTES], nh_prio[MAX_NH_ROUTES];
	int n_nh;
	bool found; /* a default route out of ifindex */
	uint32_t prio; /* its metric (lowest wins) */
	int gw_family; /* 0: no gateway (on-link route) */
	uint8_t gw[16];
	bool elsewhere; /* a default route out of another interface */
};

struct route_attrs {
	const struct nlattr *tb[RTA_MAX + 1];
};

static int route_attr_cb(const struct nlattr *a, void *data)
{
	struct route_attrs *ra = data;
	int type = mnl_attr_get_type(a);

	if (type >= 0 && type <= RTA_MAX)
		ra->tb[type] = a;
	return MNL_CB_OK;
}

/* Gateway from RTA_GATEWAY (same family as the route) or RTA_VIA (any
 * family, e.g. an IPv4 route via an IPv6 link-local router). */
static int gateway_of(const struct route_attrs *ra, int family, uint8_t gw[16])
{
	const struct nlattr *g = ra->tb[RTA_GATEWAY];
	const struct nlattr *v = ra->tb[RTA_VIA];
	size_t alen = family == AF_INET6 ? 16 : 4;

	if (g && mnl_attr_get_payload_len(g) == alen) {
		memcpy(gw, mnl_attr_get_payload(g), alen);
		return family;
	}
	if (v && mnl_attr_get_payload_len(v) >= sizeof(struct rtvia)) {
		const struct rtvia *via = mnl_attr_get_payload(v);
		size_t vlen = mnl_attr_get_payload_len(v) - sizeof(*via);

		if (via->rtvia_family == AF_INET && vlen >= 4) {
			memcpy(gw, via->rtvia_addr, 4);
			return AF_INET;
		}
		if (via->rtvia_family == AF_INET6 && vlen >= 16) {
			memcpy(gw, via->rtvia_addr, 16);
			return AF_INET6;
		}
	}
	return 0;
}

static void route_offer(struct route_q *q, uint32_t prio, int gw_family,
			const uint8_t gw[16])
{
	/* Lowest metric wins, as in the kernel; a route with a gateway
	 * beats an on-link one of the same metric (it is usable). */
	if (q->found && (prio > q->prio ||
			 (prio == q->prio && (q->gw_family || !gw_family))))
		return;
	q->found = true;
	q->prio = prio;
	q->gw_family = gw_family;
	if (gw_family)
		memcpy(q->gw, gw, 16);
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_q *q = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct route_attrs ra = { 0 };
	uint8_t gw[16] = { 0 };
	uint32_t table, prio;
	int gw_family;

	if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_family != q->family ||
	    rtm->rtm_dst_len != 0 || rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, &ra);
	table = ra.tb[RTA_TABLE] ? mnl_attr_get_u32(ra.tb[RTA_TABLE]) :
				   rtm->rtm_table;
	/* Policy-routing tables are the operator's business; the box's
	 * own default route lives in main. */
	if (table != RT_TABLE_MAIN)
		return MNL_CB_OK;
	prio = ra.tb[RTA_PRIORITY] ? mnl_attr_get_u32(ra.tb[RTA_PRIORITY]) : 0;

	if (ra.tb[RTA_OIF]) {
		if ((int)mnl_attr_get_u32(ra.tb[RTA_OIF]) != q->ifindex) {
			q->elsewhere = true;
			return MNL_CB_OK;
		}
		gw_family = gateway_of(&ra, q->family, gw);
		route_offer(q, prio, gw_family, gw);
		return MNL_CB_OK;
	}
	if (ra.tb[RTA_NH_ID] && !ra.tb[RTA_MULTIPATH]) {
		if (q->n_nh < MAX_NH_ROUTES) {
			q->nh_id[q->n_nh] = mnl_attr_get_u32(ra.tb[RTA_NH_ID]);
			q->nh_prio[q->n_nh++] = prio;
		}
		return MNL_CB_OK;
	}
	if (!ra.tb[RTA_MULTIPATH])
		return MNL_CB_OK;

	/* ECMP: the first next hop out of our interface. */
	const struct rtnexthop *nh = mnl_attr_get_payload(ra.tb[RTA_MULTIPATH]);
	int left = mnl_attr_get_payload_len(ra.tb[RTA_MULTIPATH]);

	while (RTNH_OK(nh, left)) {
		if (nh->rtnh_ifindex == q->ifindex) {
			struct route_attrs na = { 0 };
			const void *nh_attrs = RTNH_DATA(nh);
			/* the libmnl macro walks a variable named attr */
			const struct nlattr *attr;

			mnl_attr_for_each_payload(nh_attrs,
						  nh->rtnh_len - sizeof(*nh))
			{
				route_attr_cb(attr, &na);
			}
			gw_family = gateway_of(&na, q->family, gw);
			route_offer(q, prio, gw_family, gw);
			return MNL_CB_OK;
		}
		left -= NLMSG_ALIGN(nh->rtnh_len);
		nh = RTNH_NEXT(nh);
	}
	q->elsewhere = true;
	return MNL_CB_OK;
}

struct nh_reply {
	bool found;
	int family; /* of the gateway */
	uint32_t oif;
	bool has_gw;
	uint8_t gw[16];
	uint32_t group[32]; /* member ids, if a group */
	int n_group;
};

static int nh_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nh_reply *r = data;
	const struct nhmsg *nhm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	size_t alen = nhm->nh_family == AF_INET6 ? 16 : 4;

	if (nlh->nlmsg_type != RTM_NEWNEXTHOP)
		return MNL_CB_OK;
	r->found = true;
	r->family = nhm->nh_family;
	mnl_attr_for_each(attr, nlh, sizeof(*nhm))
	{
		const void *p = mnl_attr_get_payload(attr);
		size_t len = mnl_attr_get_payload_len(attr);

		switch (mnl_attr_get_type(attr)) {
		case NHA_OIF:
			if (len == 4)
				r->oif = mnl_attr_get_u32(attr);
			break;
		case NHA_GATEWAY:
			if (len == alen) {
				memcpy(r->gw, p, alen);
				r->has_gw = true;
			}
			break;
		case NHA_GROUP:
			for (size_t i = 0;
			     i + sizeof(struct nexthop_grp) <= len &&
			     r->n_group < 32;
			     i += sizeof(struct nexthop_grp)) {
				const struct nexthop_grp *g =
					(const void *)((const char *)p + i);

				r->group[r->n_group++] = g->id;
			}
			break;
		}
	}
	return MNL_CB_OK;
}

static int nh_get(struct nl *nl, uint32_t id, struct nh_reply *r)
{
	char req_buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req_buf);

	memset(r, 0, sizeof(*r));
	nlh->nlmsg_type = RTM_GETNEXTHOP;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	struct nhmsg *nhm = mnl_nlmsg_put_extra_header(nlh, sizeof(*nhm));
	nhm->nh_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NHA_ID, id);
	return nl_talk(nl, nlh, nh_cb, r);
}

/*
 * Offer nexthop @id as a default route of metric @prio if it leaves by our
 * interface; for a group, its first member that does (groups hold plain
 * nexthops only: the kernel forbids nesting). *offered says if it did.
 */
static int route_offer_nh(struct nl *nl, struct route_q *q, uint32_t id,
			  uint32_t prio, bool in_group, bool *offered)
{
	struct nh_reply r;
	int ret = nh_get(nl, id, &r);

	*offered = false;
	if (ret == -ENOENT)
		return 0; /* deleted since the dump */
	if (ret)
		return ret;
	if (r.n_group && !in_group) {
		uint32_t members[32];
		int n = r.n_group;

		memcpy(members, r.group, sizeof(members));
		for (int i = 0; i < n && !*offered; i++) {
			ret = route_offer_nh(nl, q, members[i], prio, true,
					     offered);
			if (ret)
				return ret;
		}
	} else if ((int)r.oif == q->ifindex) {
		route_offer(q, prio, r.has_gw ? r.family : 0, r.gw);
		*offered = true;
	}
	if (!*offered && !in_group)
		q->elsewhere = true;
	return 0;
}

static int find_default_route(struct nl *nl, struct route_q *q)
{
	char req_buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req_buf);
	int ret;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = q->family;
	ret = nl_talk(nl, nlh, route_cb, q);
	for (int i = 0; !ret && i < q->n_nh; i++) {
		bool offered;

		ret = route_offer_nh(nl, q, q->nh_id[i], q->nh_prio[i], false,
				     &offered);
	}
	return ret;
}

/* ---- neighbour ---- */

struct neigh_q {
	int family;
	int ifindex;
	uint8_t dst[16];
	bool found;
	uint16_t state; /* NUD_* */
	bool has_mac;
	uint8_t mac[6];
};

static int neigh_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (type >= 0 && type <= NDA_MAX)
		tb[type] = a;
	return MNL_CB_OK;
}

static int neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	struct neigh_q *q = data;
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[NDA_MAX + 1] = { 0 };
	size_t alen = q->family == AF_INET6 ? 16 : 4;

	if (nlh->nlmsg_type != RTM_NEWNEIGH || ndm->ndm_family != q->family ||
	    ndm->ndm_ifindex != q->ifindex)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ndm), neigh_attr_cb, tb);
	if (!tb[NDA_DST] || mnl_attr_get_payload_len(tb[NDA_DST]) != alen ||
	    memcmp(mnl_attr_get_payload(tb[NDA_DST]), q->dst, alen))
		return MNL_CB_OK;
	q->found = true;
	q->state = ndm->ndm_state;
	q->has_mac =
		tb[NDA_LLADDR] && mnl_attr_get_payload_len(tb[NDA_LLADDR]) == 6;
	if (q->has_mac)
		memcpy(q->mac, mnl_attr_get_payload(tb[NDA_LLADDR]), 6);
	return MNL_CB_OK;
}

static int neigh_lookup(struct nl *nl, struct neigh_q *q)
{
	char req_buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req_buf);

	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	struct ndmsg *ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = q->family;
	q->found = false;
	q->has_mac = false;
	return nl_talk(nl, nlh, neigh_cb, q);
}

/* An entry the kernel itself would send to (STALE included: the MAC was
 * right a moment ago and the kernel reconfirms it on use). */
static bool neigh_usable(const struct neigh_q *q)
{
	return q->found && q->has_mac &&
	       (q->state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE |
			    NUD_PERMANENT | NUD_NOARP));
}

/*
 * Ask the kernel to resolve the gateway, as if a packet were waiting for
 * it: RTM_NEWNEIGH with NTF_USE creates the entry if needed and runs
 * neigh_event_send(), i.e. ARP request / neighbour solicitation with the
 * kernel's own retries, without sending anything to the gateway itself.
 */
static int neigh_probe(struct nl *nl, const struct neigh_q *q)
{
	char req_buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req_buf);

	nlh->nlmsg_type = RTM_NEWNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK;
	struct ndmsg *ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = q->family;
	ndm->ndm_ifindex = q->ifindex;
	ndm->ndm_flags = NTF_USE;
	mnl_attr_put(nlh, NDA_DST, q->family == AF_INET6 ? 16 : 4, q->dst);
	return nl_talk(nl, nlh, NULL, NULL);
}

struct lladdr_q {
	int ifindex;
	bool usable; /* a link-local IPv6 address past DAD */
};

static int lladdr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct lladdr_q *q = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	uint32_t flags;

	if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET6 ||
	    (int)ifa->ifa_index != q->ifindex ||
	    ifa->ifa_scope != RT_SCOPE_LINK)
		return MNL_CB_OK;
	flags = ifa->ifa_flags;
	mnl_attr_for_each(attr, nlh, sizeof(*ifa))
	{
		if (mnl_attr_get_type(attr) == IFA_FLAGS &&
		    mnl_attr_get_payload_len(attr) == 4)
			flags = mnl_attr_get_u32(attr);
	}
	if (!(flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)))
		q->usable = true;
	return MNL_CB_OK;
}

/*
 * Whether the kernel can solicit on its own: with no packet waiting, it
 * sends neighbour solicitations from the interface's link-local address
 * and sends nothing while there is none (or it is still in DAD).
 */
static bool has_usable_lladdr(struct nl *nl, int ifindex)
{
	char req_buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req_buf);
	struct lladdr_q q = { .ifindex = ifindex };

	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET6;
	/* On error, claim there is one: the plain message is then shown. */
	return nl_talk(nl, nlh, lladdr_cb, &q) ? true : q.usable;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int resolve_gateway(struct nl *nl, const char *ifname, struct neigh_q *q,
			   uint8_t mac[6], char *err, size_t errlen)
{
	char gw[INET6_ADDRSTRLEN];
	const char *how =
		q->family == AF_INET6 ? "neighbour solicitation" : "ARP";
	int ret;

	inet_ntop(q->family, q->dst, gw, sizeof(gw));
	ret = neigh_lookup(nl, q);
	if (ret)
		goto nl_err;
	if (!neigh_usable(q)) {
		ret = neigh_probe(nl, q);
		if (ret) {
			say(err, errlen,
			    "cannot start %s for gateway %s on %s: %s (set gateway_mac explicitly)",
			    how, gw, ifname, strerror(-ret));
			return ret;
		}
		for (double end = now_ms() + PROBE_WAIT_MS;;) {
			struct timespec ts = { 0, PROBE_POLL_MS * 1000000L };

			nanosleep(&ts, NULL);
			ret = neigh_lookup(nl, q);
			if (ret)
				goto nl_err;
			if (neigh_usable(q) || now_ms() >= end)
				break;
		}
	}
	if (!neigh_usable(q)) {
		if (q->found && q->state == NUD_NOARP)
			say(err, errlen,
			    "gateway %s on %s has no link-layer address (the interface does not use ARP/ND; set gateway_mac explicitly)",
			    gw, ifname);
		else if (q->family == AF_INET6 &&
			 !has_usable_lladdr(nl, q->ifindex))
			say(err, errlen,
			    "gateway %s on %s could not be solicited: %s has no usable IPv6 link-local address to send from (wait for DAD to finish, or set gateway_mac explicitly)",
			    gw, ifname, ifname);
		else
			say(err, errlen,
			    "gateway %s on %s did not answer %s within %d s (check the router, or set gateway_mac explicitly)",
			    gw, ifname, how, PROBE_WAIT_MS / 1000);
		return -EHOSTUNREACH;
	}
	memcpy(mac, q->mac, 6);
	return 0;

nl_err:
	say(err, errlen, "cannot read the neighbour table over netlink: %s",
	    strerror(-ret));
	return ret;
}

/* One family; *no_route tells "no default route here" from the rest. */
static int gateway_mac_family(struct nl *nl, const char *ifname, int ifindex,
			      int family, uint8_t mac[6], char *err,
			      size_t errlen, bool *no_route)
{
	struct route_q rq = { .family = family, .ifindex = ifindex };
	int ret = find_default_route(nl, &rq);

	*no_route = false;
	if (ret) {
		say(err, errlen,
		    "cannot read the %s routing table over netlink: %s",
		    family_name(family), strerror(-ret));
		return ret;
	}
	if (!rq.found) {
		say(err, errlen,
		    "no %s default route through %s%s (add one, or set gateway_mac: <router MAC> in the config)",
		    family_name(family), ifname,
		    rq.elsewhere ?
			    ": the default route leaves by another interface" :
			    "");
		*no_route = true;
		return -ENOENT;
	}
	if (!rq.gw_family) {
		say(err, errlen,
		    "the %s default route through %s has no gateway (it is on-link), so there is no router MAC to send to (set gateway_mac explicitly)",
		    family_name(family), ifname);
		return -ENOENT;
	}

	struct neigh_q nq = { .family = rq.gw_family, .ifindex = ifindex };
	memcpy(nq.dst, rq.gw, sizeof(nq.dst));
	return resolve_gateway(nl, ifname, &nq, mac, err, errlen);
}

int xlb_nl_gateway_mac(const char *ifname, int family, uint8_t mac[6],
		       char *err, size_t errlen)
{
	unsigned int ifindex = if_nametoindex(ifname);
	struct nl nl = { 0 };
	int ret;

	if (family != AF_INET && family != AF_INET6 && family != AF_UNSPEC) {
		say(err, errlen, "address family %d is not IPv4 or IPv6",
		    family);
		return -EAFNOSUPPORT;
	}
	if (!ifindex) {
		say(err, errlen,
		    "interface %s does not exist (check the name with `ip link`)",
		    ifname);
		return -ENODEV;
	}
	ret = nl_open(&nl, err, errlen);
	if (ret)
		return ret;

	bool no_route4, no_route6;

	if (family != AF_UNSPEC) {
		ret = gateway_mac_family(&nl, ifname, (int)ifindex, family, mac,
					 err, errlen, &no_route4);
		goto out;
	}

	/* IPv4 first, then IPv6. Report IPv4's error unless IPv4 merely
	 * has no default route: then IPv6's, or that neither has one. */
	char err4[512];
	int ret4 = gateway_mac_family(&nl, ifname, (int)ifindex, AF_INET, mac,
				      err4, sizeof(err4), &no_route4);
	if (!ret4) {
		ret = 0;
		goto out;
	}
	ret = gateway_mac_family(&nl, ifname, (int)ifindex, AF_INET6, mac, err,
				 errlen, &no_route6);
	if (!ret)
		goto out;
	if (!no_route4) {
		say(err, errlen, "%s", err4);
		ret = ret4;
	} else if (no_route6) {
		say(err, errlen,
		    "no default route through %s, IPv4 or IPv6 (add one, or set gateway_mac: <router MAC> in the config)",
		    ifname);
	}
out:
	nl_close(&nl);
	return ret;
}
