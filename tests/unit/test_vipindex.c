/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The VIP index: where xlb_vip_index_fill() puts keys, read back the way
 * the datapath reads them (xdp/xlb.bpf.c, vip_find), and the refusal of a
 * set that does not fit. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "bpfrun.h"
#include "config.h"
#include "vipindex.h"
#include "xlb_hash.h"

static struct xlb_vip_slot slots[XLB_VIP_INDEX_SLOTS];

static struct xlb_vip_key key4(uint32_t addr, uint16_t port, uint8_t proto)
{
	struct xlb_vip_key k = { .port = htons(port),
				 .proto = proto,
				 .family = XLB_FAMILY_V4 };

	k.addr[0] = htonl(addr);
	return k;
}

/* The datapath's look-up, in C. */
static const struct xlb_vip *find(const struct xlb_vip_key *k)
{
	__u32 home = xlb_vip_index_home(k);

	for (__u32 i = 0; i < XLB_VIP_INDEX_PROBES; i++) {
		const struct xlb_vip_slot *s =
			&slots[(home + i) & (XLB_VIP_INDEX_SLOTS - 1)];

		if (!s->key.family)
			return NULL;
		if (!memcmp(&s->key, k, sizeof(*k)))
			return &s->vip;
	}
	return NULL;
}

/* The key that linear probing refuses when XLB_VIP_INDEX_PROBES + 1 keys
 * share a home: placed in key-byte order, the last one finds no slot. */
static size_t refused(const struct xlb_vip_key *keys, size_t n)
{
	size_t last = 0;

	for (size_t i = 1; i < n; i++)
		if (memcmp(&keys[i], &keys[last], sizeof(keys[i])) > 0)
			last = i;
	return last;
}

Test(vipindex, every_vip_of_a_full_config_is_found)
{
	static struct xlb_vip_key keys[XLB_MAX_VIPS];
	static struct xlb_vip vips[XLB_MAX_VIPS];
	struct xlb_vip_key miss;
	size_t bad = 0;

	memset(slots, 0, sizeof(slots));
	for (uint32_t i = 0; i < XLB_MAX_VIPS; i++) {
		/* 512 addresses x 2 protocols, like the bench's 512 VIPs */
		keys[i] = key4(0x0a010001 + i / 2, 80,
			       i % 2 ? IPPROTO_UDP : IPPROTO_TCP);
		vips[i].vip_id = i;
		vips[i].encap = (uint8_t)(i % 2);
	}
	cr_assert_eq(xlb_vip_index_fill(slots, keys, vips, XLB_MAX_VIPS, &bad),
		     0);
	for (uint32_t i = 0; i < XLB_MAX_VIPS; i++) {
		const struct xlb_vip *v = find(&keys[i]);

		cr_assert_not_null(v, "VIP %u not found", i);
		cr_assert_eq(v->vip_id, i);
		cr_assert_eq(v->encap, i % 2);
	}
	miss = key4(0x0a010001, 81, IPPROTO_TCP);
	cr_assert_null(find(&miss), "a port no VIP has is not found");
	miss = key4(0x0a010001, 80, IPPROTO_SCTP);
	cr_assert_null(find(&miss));
}

Test(vipindex, keys_sharing_a_home_take_the_next_slots)
{
	struct xlb_vip_key keys[XLB_VIP_INDEX_PROBES];
	struct xlb_vip vips[XLB_VIP_INDEX_PROBES] = { 0 };
	__u32 home;
	size_t bad;

	bpfrun_same_home_keys("10.0.0.1", IPPROTO_TCP, keys,
			      XLB_VIP_INDEX_PROBES);
	home = xlb_vip_index_home(&keys[0]);
	for (size_t i = 0; i < XLB_VIP_INDEX_PROBES; i++)
		vips[i].vip_id = (uint32_t)(100 + i);
	memset(slots, 0, sizeof(slots));
	cr_assert_eq(xlb_vip_index_fill(slots, keys, vips, XLB_VIP_INDEX_PROBES,
					&bad),
		     0, "as many keys as probes fit");
	for (size_t i = 0; i < XLB_VIP_INDEX_PROBES; i++) {
		const struct xlb_vip *v = find(&keys[i]);

		cr_assert_not_null(v);
		cr_assert_eq(v->vip_id, 100 + i);
		cr_assert(slots[(home + i) & (XLB_VIP_INDEX_SLOTS - 1)]
				  .key.family,
			  "slot home+%zu is used", i);
	}
}

Test(vipindex, one_key_too_many_is_refused_and_named)
{
	struct xlb_vip_key keys[XLB_VIP_INDEX_PROBES + 1];
	struct xlb_vip vips[XLB_VIP_INDEX_PROBES + 1] = { 0 };
	size_t bad = 99;

	bpfrun_same_home_keys("10.0.0.1", IPPROTO_TCP, keys,
			      XLB_VIP_INDEX_PROBES + 1);
	memset(slots, 0, sizeof(slots));
	cr_assert_eq(xlb_vip_index_fill(slots, keys, vips,
					XLB_VIP_INDEX_PROBES + 1, &bad),
		     -ENOSPC);
	cr_assert_eq(bad, refused(keys, XLB_VIP_INDEX_PROBES + 1),
		     "names the key that found no slot");
}

Test(vipindex, placement_does_not_depend_on_order)
{
	static struct xlb_vip_slot first[XLB_VIP_INDEX_SLOTS];
	struct xlb_vip_key keys[64];
	struct xlb_vip vips[64] = { 0 };
	size_t bad;

	/* a cluster, so order could matter */
	bpfrun_same_home_keys("10.0.0.1", IPPROTO_TCP, keys, 4);
	for (size_t i = 4; i < 64; i++)
		keys[i] = key4(0x0a000100 + (uint32_t)i, 443, IPPROTO_TCP);
	memset(slots, 0, sizeof(slots));
	cr_assert_eq(xlb_vip_index_fill(slots, keys, vips, 64, &bad), 0);
	memcpy(first, slots, sizeof(first));
	for (size_t i = 0; i < 32; i++) { /* reverse */
		struct xlb_vip_key t = keys[i];

		keys[i] = keys[63 - i];
		keys[63 - i] = t;
	}
	memset(slots, 0, sizeof(slots));
	cr_assert_eq(xlb_vip_index_fill(slots, keys, vips, 64, &bad), 0);
	cr_assert(!memcmp(first, slots, sizeof(first)));
}

Test(vipindex, config_check_names_the_vip_that_does_not_fit)
{
	struct xlb_vip_key keys[XLB_VIP_INDEX_PROBES + 1];
	char *yaml = malloc(16384), *p = yaml, want[256];
	struct xlb_config cfg;
	struct xlb_diag diag;
	size_t bad;
	int r;

	cr_assert_not_null(yaml);
	bpfrun_same_home_keys("10.0.0.1", IPPROTO_TCP, keys,
			      XLB_VIP_INDEX_PROBES + 1);
	p += sprintf(p, "interface: eth0\nvips:\n");
	for (size_t i = 0; i < XLB_VIP_INDEX_PROBES + 1; i++)
		p += sprintf(
			p,
			"  - {name: v%zu, address: 10.0.0.1, port: %u, "
			"protocol: tcp, backends: [{address: 10.1.0.1}]}\n",
			i, ntohs(keys[i].port));
	r = xlb_config_parse("t.yaml", yaml, strlen(yaml), &cfg, &diag);
	for (size_t i = 0; i < diag.n; i++)
		cr_log_info("got: %s", diag.msgs[i]);
	cr_assert_eq(r, -EINVAL);
	cr_assert_eq(diag.n, 1);
	bad = refused(keys, XLB_VIP_INDEX_PROBES + 1);
	/* line 1 interface, 2 vips:, 3.. one vip each */
	snprintf(
		want, sizeof(want),
		"t.yaml:%zu:5: error: vip 'v%zu' finds no free slot in the datapath's VIP index: too many of the %d vips hash next to it",
		bad + 3, bad, XLB_VIP_INDEX_PROBES + 1);
	cr_assert(!strncmp(diag.msgs[0], want, strlen(want)),
		  "\n got: %s\nwant: %s...", diag.msgs[0], want);
	xlb_diag_free(&diag);
	free(yaml);
}
