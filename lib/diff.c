/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The reload plan: which VIPs and backends were added, removed or changed
 * between two configurations, and which Maglev tables must be rebuilt. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "xlb_hash.h"

uint16_t xlb_backend_ring_weight(const struct xlb_backend_cfg *b)
{
	return b->state == XLB_BE_STATE_ACTIVE ? b->weight : 0;
}

uint32_t xlb_ring_fingerprint(const struct xlb_vip_cfg *v)
{
	uint32_t sum = 0;

	/* a sum of per-backend mixes: the order does not matter */
	for (size_t i = 0; i < v->n_backends; i++) {
		const struct xlb_backend_cfg *b = &v->backends[i];
		uint16_t w = xlb_backend_ring_weight(b);
		uint32_t h = w | (uint32_t)b->addr.family << 16;

		if (!w)
			continue;
		for (int k = 0; k < 4; k++)
			h = xlb_fmix(h ^ b->addr.a[k]) + (uint32_t)k;
		sum += xlb_fmix(h);
	}
	return xlb_fmix(sum) | 1;
}

static bool vip_same_key(const struct xlb_vip_cfg *a,
			 const struct xlb_vip_cfg *b)
{
	return a->port == b->port && a->proto == b->proto &&
	       xlb_addr_eq(&a->addr, &b->addr);
}

static size_t find_vip(const struct xlb_config *c, const struct xlb_vip_cfg *v)
{
	for (size_t i = 0; i < c->n_vips; i++)
		if (vip_same_key(&c->vips[i], v))
			return i;
	return XLB_DIFF_NONE;
}

static size_t find_be(const struct xlb_vip_cfg *v, const struct xlb_addr *a)
{
	for (size_t i = 0; i < v->n_backends; i++)
		if (xlb_addr_eq(&v->backends[i].addr, a))
			return i;
	return XLB_DIFF_NONE;
}

/* Every backend with a ring weight in @a has the same weight in @b and
 * vice versa: then Maglev gives the same table. */
static bool ring_same(const struct xlb_vip_cfg *a, const struct xlb_vip_cfg *b)
{
	for (int pass = 0; pass < 2; pass++) {
		const struct xlb_vip_cfg *x = pass ? b : a, *y = pass ? a : b;

		for (size_t i = 0; i < x->n_backends; i++) {
			uint16_t w = xlb_backend_ring_weight(&x->backends[i]);
			size_t j;

			if (!w)
				continue;
			j = find_be(y, &x->backends[i].addr);
			if (j == XLB_DIFF_NONE ||
			    xlb_backend_ring_weight(&y->backends[j]) != w)
				return false;
		}
	}
	return true;
}

static int diff_backends(const struct xlb_vip_cfg *o,
			 const struct xlb_vip_cfg *n, struct xlb_vip_diff *vd)
{
	size_t no = o ? o->n_backends : 0, nn = n ? n->n_backends : 0;
	size_t k = 0;

	vd->be = calloc(no + nn ? no + nn : 1, sizeof(*vd->be));
	if (!vd->be)
		return -ENOMEM;
	for (size_t i = 0; i < nn; i++) {
		const struct xlb_backend_cfg *nb = &n->backends[i];
		struct xlb_be_diff *bd = &vd->be[k++];
		size_t j = o ? find_be(o, &nb->addr) : XLB_DIFF_NONE;

		bd->new_idx = i;
		bd->old_idx = j;
		if (j == XLB_DIFF_NONE) {
			bd->kind = XLB_ADDED;
			vd->be_added++;
			continue;
		}
		const struct xlb_backend_cfg *ob = &o->backends[j];

		if (ob->state != nb->state)
			bd->what |= XLB_BD_STATE;
		if (ob->weight != nb->weight)
			bd->what |= XLB_BD_WEIGHT;
		if (ob->gue != nb->gue)
			bd->what |= XLB_BD_GUE;
		bd->kind = bd->what ? XLB_CHANGED : XLB_SAME;
		if (bd->what)
			vd->be_changed++;
	}
	for (size_t j = 0; j < no; j++) {
		struct xlb_be_diff *bd;

		if (n && find_be(n, &o->backends[j].addr) != XLB_DIFF_NONE)
			continue;
		bd = &vd->be[k++];
		bd->kind = XLB_REMOVED;
		bd->old_idx = j;
		bd->new_idx = XLB_DIFF_NONE;
		vd->be_removed++;
	}
	vd->n_be = k;
	return 0;
}

static unsigned int vip_what(const struct xlb_vip_cfg *o,
			     const struct xlb_vip_cfg *n)
{
	unsigned int w = 0;

	if (strcmp(o->name, n->name))
		w |= XLB_VD_NAME;
	if (o->conntrack != n->conntrack)
		w |= XLB_VD_CONNTRACK;
	if (o->hash_mode != n->hash_mode)
		w |= XLB_VD_HASH;
	if (o->encap != n->encap ||
	    (n->encap == XLB_ENCAP_GUE && o->gue_port != n->gue_port))
		w |= XLB_VD_ENCAP;
	if (o->icmp_echo != n->icmp_echo)
		w |= XLB_VD_ECHO;
	return w;
}

static bool settings_differ(const struct xlb_config *o,
			    const struct xlb_config *n)
{
	if (o->mtu != n->mtu || o->icmp_too_big != n->icmp_too_big)
		return true;
	if (o->has_src4 != n->has_src4 || o->has_src6 != n->has_src6)
		return true;
	if (n->has_src4 && !xlb_addr_eq(&o->src4, &n->src4))
		return true;
	if (n->has_src6 && !xlb_addr_eq(&o->src6, &n->src6))
		return true;
	if (!o->gw_mac_auto && !n->gw_mac_auto &&
	    memcmp(o->gw_mac, n->gw_mac, sizeof(n->gw_mac)))
		return true;
	return false;
}

/* @v is a wildcard-port VIP on the address and protocol of a VIP that
 * @d removes: that VIP's flows fall back to @v with their entries. */
static bool takes_removed_flows(const struct xlb_config *old,
				const struct xlb_diff *d,
				const struct xlb_vip_cfg *v)
{
	if (v->port)
		return false;
	for (size_t i = 0; i < d->n_vips; i++) {
		const struct xlb_vip_cfg *o;

		if (d->vips[i].kind != XLB_REMOVED)
			continue;
		o = &old->vips[d->vips[i].old_idx];
		if (o->proto == v->proto && xlb_addr_eq(&o->addr, &v->addr))
			return true;
	}
	return false;
}

int xlb_diff_compute(const struct xlb_config *old, const struct xlb_config *new,
		     struct xlb_diff *d)
{
	size_t cap = old->n_vips + new->n_vips, k = 0;
	int err;

	memset(d, 0, sizeof(*d));
	d->vips = calloc(cap ? cap : 1, sizeof(*d->vips));
	if (!d->vips)
		return -ENOMEM;
	for (size_t i = 0; i < new->n_vips; i++) {
		const struct xlb_vip_cfg *nv = &new->vips[i], *ov = NULL;
		struct xlb_vip_diff *vd = &d->vips[k++];
		size_t j = find_vip(old, nv);

		vd->new_idx = i;
		vd->old_idx = j;
		if (j != XLB_DIFF_NONE)
			ov = &old->vips[j];
		err = diff_backends(ov, nv, vd);
		if (err)
			goto fail;
		if (!ov) {
			vd->kind = XLB_ADDED;
			vd->ring = vd->remark = true;
			d->vips_added++;
		} else {
			vd->what = vip_what(ov, nv);
			if (vd->be_added || vd->be_removed || vd->be_changed)
				vd->what |= XLB_VD_BACKENDS;
			vd->remark =
				vd->what & (XLB_VD_HASH | XLB_VD_CONNTRACK);
			vd->ring = vd->remark || ov->ring_stale ||
				   !ring_same(ov, nv);
			vd->kind =
				vd->what || vd->ring ? XLB_CHANGED : XLB_SAME;
			if (vd->kind == XLB_CHANGED)
				d->vips_changed++;
			else
				d->vips_same++;
		}
		d->be_added += vd->be_added;
		d->be_removed += vd->be_removed;
		d->be_changed += vd->be_changed;
	}
	for (size_t j = 0; j < old->n_vips; j++) {
		struct xlb_vip_diff *vd;

		if (find_vip(new, &old->vips[j]) != XLB_DIFF_NONE)
			continue;
		vd = &d->vips[k++];
		vd->kind = XLB_REMOVED;
		vd->old_idx = j;
		vd->new_idx = XLB_DIFF_NONE;
		err = diff_backends(&old->vips[j], NULL, vd);
		if (err)
			goto fail;
		d->vips_removed++;
		d->be_removed += vd->be_removed;
	}
	d->n_vips = k;
	for (size_t i = 0; i < d->n_vips; i++) {
		struct xlb_vip_diff *vd = &d->vips[i];

		if (vd->kind != XLB_REMOVED &&
		    takes_removed_flows(old, d, &new->vips[vd->new_idx]))
			vd->ring = vd->remark = true;
		d->rings += vd->ring;
	}
	d->settings = settings_differ(old, new);
	return 0;
fail:
	d->n_vips = k;
	xlb_diff_free(d);
	return err;
}

void xlb_diff_free(struct xlb_diff *d)
{
	if (!d->vips)
		return;
	for (size_t i = 0; i < d->n_vips; i++)
		free(d->vips[i].be);
	free(d->vips);
	memset(d, 0, sizeof(*d));
}

static size_t append(char *buf, size_t len, size_t off, const char *fmt,
		     size_t n, const char *what)
{
	int r;

	if (!n || off >= len)
		return off;
	r = snprintf(buf + off, len - off, "%s%zu %s%s %s", off ? ", " : "", n,
		     what, n == 1 ? "" : "s", fmt);
	return r < 0 ? off : off + (size_t)r;
}

void xlb_diff_summary(const struct xlb_diff *d, char *buf, size_t len)
{
	size_t off = 0;

	if (!len)
		return;
	buf[0] = '\0';
	off = append(buf, len, off, "added", d->vips_added, "VIP");
	off = append(buf, len, off, "removed", d->vips_removed, "VIP");
	off = append(buf, len, off, "changed", d->vips_changed, "VIP");
	off = append(buf, len, off, "added", d->be_added, "backend");
	off = append(buf, len, off, "removed", d->be_removed, "backend");
	off = append(buf, len, off, "changed", d->be_changed, "backend");
	off = append(buf, len, off, "rebuilt", d->rings, "ring");
	if (d->settings && off < len)
		off += (size_t)snprintf(buf + off, len - off,
					"%sglobal settings changed",
					off ? ", " : "");
	if (!off)
		snprintf(buf, len, "no changes");
}

static size_t refuse(char *err, size_t errlen, size_t off, const char *what,
		     const char *from, const char *to)
{
	int r;

	if (off >= errlen)
		return off;
	r = snprintf(
		err + off, errlen - off,
		"%s%s changed from %s to %s: this needs `xlbctl unload` then `xlbctl load`",
		off ? "\n" : "", what, from, to);
	return r < 0 ? off : off + (size_t)r;
}

int xlb_diff_fixed(const struct xlb_config *old, const struct xlb_config *new,
		   char *err, size_t errlen)
{
	char a[32], b[32];
	size_t off = 0;

	if (errlen)
		err[0] = '\0';
	if (strcmp(old->interface, new->interface))
		off = refuse(err, errlen, off, "interface", old->interface,
			     new->interface);
	if (old->mode_generic != new->mode_generic)
		off = refuse(err, errlen, off, "mode",
			     old->mode_generic ? "generic" : "native",
			     new->mode_generic ? "generic" : "native");
	if (old->maglev_table_size != new->maglev_table_size) {
		snprintf(a, sizeof(a), "%u", old->maglev_table_size);
		snprintf(b, sizeof(b), "%u", new->maglev_table_size);
		off = refuse(err, errlen, off, "maglev_table_size", a, b);
	}
	if (old->conntrack_size != new->conntrack_size) {
		snprintf(a, sizeof(a), "%u", old->conntrack_size);
		snprintf(b, sizeof(b), "%u", new->conntrack_size);
		off = refuse(err, errlen, off, "conntrack_size", a, b);
	}
	return off ? -EINVAL : 0;
}
