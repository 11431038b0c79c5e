/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Unit tests of the reload plan (lib/diff.c): which VIPs and backends are
 * added, removed, changed, and when a Maglev table is rebuilt. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "diff.h"

/* A config with @n VIPs 10.0.0.<i+1>:80/tcp, each with @nb active
 * backends 10.1.<i>.<j+1> of weight 100. */
static void mk(struct xlb_config *c, size_t n, size_t nb)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->interface, "veth0");
	c->maglev_table_size = 65537;
	c->conntrack_size = 1000;
	c->mtu = 1500;
	c->icmp_too_big = true;
	c->gw_mac_auto = true;
	c->n_vips = n;
	c->vips = calloc(n ? n : 1, sizeof(*c->vips));
	for (size_t i = 0; i < n; i++) {
		struct xlb_vip_cfg *v = &c->vips[i];

		snprintf(v->name, sizeof(v->name), "vip%zu", i);
		v->addr.family = XLB_FAMILY_V4;
		v->addr.a[0] = htonl(0x0a000001 + i);
		v->port = 80;
		v->proto = IPPROTO_TCP;
		v->conntrack = true;
		v->icmp_echo = true;
		v->gue_port = XLB_GUE_PORT_DEFAULT;
		v->n_backends = nb;
		v->backends =
			calloc(XLB_MAX_BACKENDS_PER_VIP, sizeof(*v->backends));
		for (size_t j = 0; j < nb; j++) {
			v->backends[j].addr.family = XLB_FAMILY_V4;
			v->backends[j].addr.a[0] =
				htonl(0x0a010000 + (i << 8) + j + 1);
			v->backends[j].weight = 100;
		}
	}
}

static void rm(struct xlb_config *c)
{
	for (size_t i = 0; i < c->n_vips; i++)
		free(c->vips[i].backends);
	free(c->vips);
}

static struct xlb_config a, b;
static struct xlb_diff d;

static void fini(void)
{
	xlb_diff_free(&d);
	rm(&a);
	rm(&b);
}

TestSuite(diff, .fini = fini);

Test(diff, identical_configs_change_nothing)
{
	mk(&a, 3, 4);
	mk(&b, 3, 4);
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert_eq(d.n_vips, 3);
	cr_assert_eq(d.vips_same, 3);
	cr_assert_eq(d.vips_added + d.vips_removed + d.vips_changed, 0);
	cr_assert_eq(d.rings, 0);
	cr_assert_eq(d.be_added + d.be_removed + d.be_changed, 0);
	cr_assert_not(d.settings);
	for (size_t i = 0; i < d.n_vips; i++) {
		cr_assert_eq(d.vips[i].kind, XLB_SAME);
		cr_assert_not(d.vips[i].ring);
		cr_assert_eq(d.vips[i].n_be, 4);
	}
	char s[128];
	xlb_diff_summary(&d, s, sizeof(s));
	cr_assert_str_eq(s, "no changes");
}

Test(diff, from_empty_everything_is_added)
{
	mk(&a, 0, 0);
	mk(&b, 2, 3);
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert_eq(d.vips_added, 2);
	cr_assert_eq(d.rings, 2);
	cr_assert_eq(d.be_added, 6);
	cr_assert_eq(d.vips[1].kind, XLB_ADDED);
	cr_assert_eq(d.vips[1].new_idx, 1);
	cr_assert_eq(d.vips[1].old_idx, XLB_DIFF_NONE);
	cr_assert_eq(d.vips[1].be[2].kind, XLB_ADDED);
	char s[128];
	xlb_diff_summary(&d, s, sizeof(s));
	cr_assert_str_eq(s, "2 VIPs added, 6 backends added, 2 rings rebuilt");
}

Test(diff, removed_vip_lists_its_backends)
{
	mk(&a, 3, 2);
	mk(&b, 3, 2);
	/* drop vip1 from b */
	free(b.vips[1].backends);
	b.vips[1] = b.vips[2];
	b.n_vips = 2;
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert_eq(d.n_vips, 3);
	cr_assert_eq(d.vips_removed, 1);
	cr_assert_eq(d.vips_same, 2);
	cr_assert_eq(d.be_removed, 2);
	cr_assert_eq(d.rings, 0);
	cr_assert_eq(d.vips[2].kind, XLB_REMOVED);
	cr_assert_eq(d.vips[2].old_idx, 1);
	cr_assert_eq(d.vips[2].n_be, 2);
	cr_assert_eq(d.vips[2].be[0].kind, XLB_REMOVED);
	/* vip2 is matched by key although it moved in the list */
	cr_assert_eq(d.vips[1].old_idx, 2);
	cr_assert_eq(d.vips[1].new_idx, 1);
}

Test(diff, backend_added_and_removed_rebuilds_ring)
{
	mk(&a, 1, 3);
	mk(&b, 1, 3);
	b.vips[0].backends[1].addr.a[0] = htonl(0x0a0200ff); /* replace #1 */
	b.vips[0].backends[3] = b.vips[0].backends[0];
	b.vips[0].backends[3].addr.a[0] = htonl(0x0a0200fe); /* add one */
	b.vips[0].n_backends = 4;
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	struct xlb_vip_diff *v = &d.vips[0];
	cr_assert_eq(v->kind, XLB_CHANGED);
	cr_assert(v->what & XLB_VD_BACKENDS);
	cr_assert(v->ring);
	cr_assert_eq(v->be_added, 2);
	cr_assert_eq(v->be_removed, 1);
	cr_assert_eq(v->n_be, 5);
	cr_assert_eq(v->be[0].kind, XLB_SAME);
	cr_assert_eq(v->be[1].kind, XLB_ADDED);
	cr_assert_eq(v->be[4].kind, XLB_REMOVED);
	cr_assert_eq(v->be[4].old_idx, 1);
}

Test(diff, weight_change_rebuilds_ring)
{
	mk(&a, 1, 3);
	mk(&b, 1, 3);
	b.vips[0].backends[2].weight = 50;
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert(d.vips[0].ring);
	cr_assert_eq(d.vips[0].be[2].kind, XLB_CHANGED);
	cr_assert_eq(d.vips[0].be[2].what, XLB_BD_WEIGHT);
	cr_assert_eq(d.be_changed, 1);
}

Test(diff, drain_and_down_rebuild_ring)
{
	mk(&a, 2, 3);
	mk(&b, 2, 3);
	b.vips[0].backends[0].state = XLB_BE_STATE_DRAIN;
	b.vips[1].backends[2].state = XLB_BE_STATE_DOWN;
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert(d.vips[0].ring);
	cr_assert(d.vips[1].ring);
	cr_assert_eq(d.vips[0].be[0].what, XLB_BD_STATE);
	cr_assert_eq(d.vips[1].be[2].what, XLB_BD_STATE);
}

Test(diff, change_outside_ring_keeps_ring)
{
	mk(&a, 1, 3);
	mk(&b, 1, 3);
	/* weight of a drained backend does not enter the table */
	a.vips[0].backends[0].state = XLB_BE_STATE_DRAIN;
	b.vips[0].backends[0].state = XLB_BE_STATE_DRAIN;
	b.vips[0].backends[0].weight = 7;
	/* drain -> down: no ring entries either way */
	a.vips[0].backends[1].state = XLB_BE_STATE_DRAIN;
	b.vips[0].backends[1].state = XLB_BE_STATE_DOWN;
	b.vips[0].backends[2].gue = true;
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert_eq(d.vips[0].kind, XLB_CHANGED);
	cr_assert_not(d.vips[0].ring);
	cr_assert_eq(d.vips[0].be[2].what, XLB_BD_GUE);
	cr_assert_eq(d.be_changed, 3);
	cr_assert_eq(d.rings, 0);
}

Test(diff, backend_order_does_not_matter)
{
	mk(&a, 1, 4);
	mk(&b, 1, 4);
	struct xlb_backend_cfg t = b.vips[0].backends[0];
	b.vips[0].backends[0] = b.vips[0].backends[3];
	b.vips[0].backends[3] = t;
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert_eq(d.vips[0].kind, XLB_SAME);
	cr_assert_eq(d.vips[0].be[0].old_idx, 3);
}

/* A running ring its backends do not describe (an interrupted reload) is
 * rebuilt even when the file matches the backends. */
Test(diff, stale_ring_is_rebuilt)
{
	mk(&a, 2, 3);
	mk(&b, 2, 3);
	a.vips[1].ring_stale = true;
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert_eq(d.vips[0].kind, XLB_SAME);
	cr_assert_not(d.vips[0].ring);
	cr_assert_eq(d.vips[1].kind, XLB_CHANGED);
	cr_assert(d.vips[1].ring && !d.vips[1].remark);
	cr_assert_eq(d.vips[1].what, 0);
	cr_assert_eq(d.rings, 1);
	cr_assert_eq(d.vips_changed, 1);
	cr_assert_eq(d.vips_same, 1);
}

/* The fingerprint follows what Maglev builds from: addresses and ring
 * weights, in any order; not states or weights outside the ring. */
Test(diff, ring_fingerprint)
{
	uint32_t f0;

	mk(&a, 1, 4);
	f0 = xlb_ring_fingerprint(&a.vips[0]);
	cr_assert_neq(f0, 0);
	struct xlb_backend_cfg t = a.vips[0].backends[0];
	a.vips[0].backends[0] = a.vips[0].backends[3];
	a.vips[0].backends[3] = t;
	cr_assert_eq(xlb_ring_fingerprint(&a.vips[0]), f0, "order matters");
	a.vips[0].backends[3].gue = true;
	cr_assert_eq(xlb_ring_fingerprint(&a.vips[0]), f0, "gue matters");
	a.vips[0].backends[3].weight = 50;
	cr_assert_neq(xlb_ring_fingerprint(&a.vips[0]), f0, "weight ignored");
	a.vips[0].backends[3].weight = 100;
	a.vips[0].backends[3].state = XLB_BE_STATE_DRAIN;
	cr_assert_neq(xlb_ring_fingerprint(&a.vips[0]), f0, "drain ignored");
	/* a drained backend's weight is not in the ring */
	f0 = xlb_ring_fingerprint(&a.vips[0]);
	a.vips[0].backends[3].weight = 7;
	cr_assert_eq(xlb_ring_fingerprint(&a.vips[0]), f0);
	a.vips[0].backends[1].addr.a[0] ^= htonl(1);
	cr_assert_neq(xlb_ring_fingerprint(&a.vips[0]), f0, "address ignored");
}

Test(diff, vip_attributes)
{
	mk(&a, 5, 1);
	mk(&b, 5, 1);
	strcpy(b.vips[0].name, "renamed");
	b.vips[1].conntrack = false;
	b.vips[2].hash_mode = XLB_HASH_SRC_IP;
	b.vips[3].encap = XLB_ENCAP_GUE;
	b.vips[4].icmp_echo = false;
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert_eq(d.vips[0].what, XLB_VD_NAME);
	cr_assert_eq(d.vips[1].what, XLB_VD_CONNTRACK);
	cr_assert_eq(d.vips[2].what, XLB_VD_HASH);
	cr_assert_eq(d.vips[3].what, XLB_VD_ENCAP);
	cr_assert_eq(d.vips[4].what, XLB_VD_ECHO);
	cr_assert_eq(d.vips_changed, 5);
	/* the same backends, but a new hash mode moves every flow's slot and
	 * conntrack turned on may meet old entries: rebuilt, every slot
	 * marked changed; the other attributes leave the table alone */
	cr_assert_eq(d.rings, 2);
	for (size_t i = 0; i < 5; i++) {
		bool want = i == 1 || i == 2;

		cr_assert_eq(d.vips[i].ring, want, "vip%zu ring", i);
		cr_assert_eq(d.vips[i].remark, want, "vip%zu remark", i);
	}
}

/* Which new tables get every slot marked (XLB_RING_F_CHANGED): an added
 * VIP, and a wildcard-port VIP whose address and protocol lose a VIP (its
 * flows fall back to the wildcard with their entries); a table rebuilt for
 * its backends only marks the slots that changed. */
Test(diff, remark_added_and_inheriting_wildcard)
{
	mk(&a, 3, 2);
	mk(&b, 3, 2);
	a.vips[1].addr = a.vips[0].addr; /* vip1: same address, port 81 */
	a.vips[1].port = 81;
	b.vips[1] = a.vips[1];
	b.vips[1].backends = calloc(2, sizeof(*b.vips[1].backends));
	memcpy(b.vips[1].backends, a.vips[1].backends,
	       2 * sizeof(*b.vips[1].backends));
	b.vips[0].port = 0; /* vip0:80 removed, a wildcard vip0:* added */
	b.vips[2].backends[1].weight = 50; /* vip2: ring only */
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert_eq(d.vips[0].kind, XLB_ADDED);
	cr_assert(d.vips[0].ring && d.vips[0].remark);
	cr_assert_eq(d.vips[1].kind, XLB_SAME);
	cr_assert(!d.vips[1].ring && !d.vips[1].remark);
	cr_assert(d.vips[2].ring && !d.vips[2].remark);
	cr_assert_eq(d.vips[3].kind, XLB_REMOVED);
	cr_assert_eq(d.rings, 2);
	xlb_diff_free(&d);

	/* the wildcard already there, unchanged, inherits vip1:81's flows */
	a.vips[0].port = 0;
	b.vips[1].port = 82;
	b.vips[2].backends[1].weight = 100;
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert_eq(d.vips[0].kind, XLB_SAME);
	cr_assert(d.vips[0].ring && d.vips[0].remark,
		  "the wildcard inherits the removed :81 flows");
	cr_assert_eq(d.vips[1].kind, XLB_ADDED);
	cr_assert(!d.vips[2].ring);
	cr_assert_eq(d.rings, 2);
}

Test(diff, gue_port_matters_only_with_gue)
{
	mk(&a, 2, 1);
	mk(&b, 2, 1);
	b.vips[0].gue_port = 7000;
	a.vips[1].encap = b.vips[1].encap = XLB_ENCAP_GUE;
	b.vips[1].gue_port = 7000;
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert_eq(d.vips[0].kind, XLB_SAME);
	cr_assert_eq(d.vips[1].what, XLB_VD_ENCAP);
}

Test(diff, port_change_is_remove_plus_add)
{
	mk(&a, 1, 2);
	mk(&b, 1, 2);
	b.vips[0].port = 443;
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert_eq(d.vips_added, 1);
	cr_assert_eq(d.vips_removed, 1);
}

Test(diff, global_settings)
{
	mk(&a, 0, 0);
	mk(&b, 0, 0);
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert_not(d.settings);
	xlb_diff_free(&d);
	b.mtu = 9000;
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert(d.settings);
	xlb_diff_free(&d);
	b.mtu = a.mtu;
	a.gw_mac_auto = b.gw_mac_auto = false;
	b.gw_mac[5] = 1;
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert(d.settings);
	xlb_diff_free(&d);
	b.gw_mac[5] = 0;
	b.has_src4 = true;
	b.src4.family = XLB_FAMILY_V4;
	cr_assert_eq(xlb_diff_compute(&a, &b, &d), 0);
	cr_assert(d.settings);
}

Test(diff, fixed_settings_are_refused_with_remedy)
{
	char err[512];

	mk(&a, 0, 0);
	mk(&b, 0, 0);
	cr_assert_eq(xlb_diff_fixed(&a, &b, err, sizeof(err)), 0);
	cr_assert_str_eq(err, "");
	b.maglev_table_size = 251;
	cr_assert_eq(xlb_diff_fixed(&a, &b, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(
		err,
		"maglev_table_size changed from 65537 to 251: this needs `xlbctl unload` then `xlbctl load`");
	b.conntrack_size = 5;
	b.mode_generic = true;
	strcpy(b.interface, "veth1");
	cr_assert_eq(xlb_diff_fixed(&a, &b, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "interface changed from veth0 to veth1"));
	cr_assert(strstr(err, "mode changed from native to generic"));
	cr_assert(strstr(err, "conntrack_size changed from 1000 to 5"));
}
