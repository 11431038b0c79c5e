/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maglev table builder: balance, disruption, determinism, weights, errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "maglev.h"

#define M_SMALL 65537u /* XLB_RING_SIZE_DEFAULT */
#define M_LARGE 655373u /* XLB_RING_SIZE_MAX */

/* Backend i: 10.(i/250).(i%250).1 or 2001:db8::<i>, id i. */
static void make_addr(struct xlb_addr *a, unsigned int i, int v6)
{
	char buf[64];

	memset(a, 0, sizeof(*a));
	if (v6) {
		snprintf(buf, sizeof(buf), "2001:db8::%x:%x", i >> 16,
			 i & 0xffff);
		a->family = XLB_FAMILY_V6;
		cr_assert_eq(inet_pton(AF_INET6, buf, a->a), 1);
	} else {
		snprintf(buf, sizeof(buf), "10.%u.%u.1", i / 250, i % 250);
		a->family = XLB_FAMILY_V4;
		cr_assert_eq(inet_pton(AF_INET, buf, a->a), 1);
	}
}

static struct xlb_maglev_backend *make_backends(size_t n, uint16_t weight)
{
	struct xlb_maglev_backend *be = calloc(n, sizeof(*be));

	cr_assert_not_null(be);
	for (size_t i = 0; i < n; i++) {
		make_addr(&be[i].addr, i, 0);
		be[i].id = i;
		be[i].weight = weight;
	}
	return be;
}

static uint32_t *build(const struct xlb_maglev_backend *be, size_t n,
		       uint32_t m)
{
	uint32_t *t = malloc(m * sizeof(*t));

	cr_assert_not_null(t);
	int err = xlb_maglev_build(be, n, t, m);
	cr_assert_eq(err, 0, "xlb_maglev_build(n=%zu, m=%u) = %d", n, m, err);
	return t;
}

/* Slot counts per id (ids are < n); fails on any slot left empty. */
static size_t *count_slots(const uint32_t *t, uint32_t m, size_t n)
{
	size_t *c = calloc(n, sizeof(*c));

	cr_assert_not_null(c);
	for (uint32_t s = 0; s < m; s++) {
		cr_assert_lt(t[s], n, "slot %u holds %u (n=%zu)", s, t[s], n);
		c[t[s]]++;
	}
	return c;
}

/* Every backend's share within 1% of its weighted ideal; returns the
 * largest relative deviation seen. */
static double check_balance(const struct xlb_maglev_backend *be, size_t n,
			    uint32_t m)
{
	uint32_t *t = build(be, n, m);
	size_t *c = count_slots(t, m, n);
	double wsum = 0, worst = 0;

	for (size_t i = 0; i < n; i++)
		wsum += be[i].weight;
	for (size_t i = 0; i < n; i++) {
		double ideal = (double)m * be[i].weight / wsum;
		double dev = ideal ? ((double)c[i] - ideal) / ideal : c[i];

		if (dev < 0)
			dev = -dev;
		if (dev > worst)
			worst = dev;
		cr_expect_leq(dev, 0.01,
			      "backend %zu (weight %u): %zu slots, ideal %.2f",
			      i, be[i].weight, c[i], ideal);
	}
	free(c);
	free(t);
	return worst;
}

static void balance_equal(size_t n)
{
	struct xlb_maglev_backend *be = make_backends(n, 100);
	double worst = check_balance(be, n, M_SMALL);

	fprintf(stderr,
		"maglev balance: N=%zu M=%u equal weights: max deviation %.3f%% of ideal share\n",
		n, M_SMALL, worst * 100);
	free(be);
}

Test(maglev, balance_equal_10)
{
	balance_equal(10);
}

Test(maglev, balance_equal_100)
{
	balance_equal(100);
}

Test(maglev, balance_equal_1000)
{
	balance_equal(1000);
}

Test(maglev, balance_weighted_1_to_10)
{
	struct xlb_maglev_backend *be = make_backends(10, 0);

	for (size_t i = 0; i < 10; i++)
		be[i].weight = i + 1;
	double worst = check_balance(be, 10, M_SMALL);
	fprintf(stderr,
		"maglev balance: N=10 M=%u weights 1..10: max deviation %.3f%%\n",
		M_SMALL, worst * 100);
	free(be);
}

Test(maglev, balance_weighted_mixed_100)
{
	/* Weights 1, 2, 3, 4 repeating: smallest ideal share 262 slots. */
	struct xlb_maglev_backend *be = make_backends(100, 0);

	for (size_t i = 0; i < 100; i++)
		be[i].weight = i % 4 + 1;
	double worst = check_balance(be, 100, M_SMALL);
	fprintf(stderr,
		"maglev balance: N=100 M=%u weights 1..4: max deviation %.3f%%\n",
		M_SMALL, worst * 100);
	free(be);
}

Test(maglev, balance_weighted_large_table)
{
	struct xlb_maglev_backend *be = make_backends(1000, 0);

	for (size_t i = 0; i < 1000; i++)
		be[i].weight = 50 + i % 7 * 25;
	double worst = check_balance(be, 1000, M_LARGE);
	fprintf(stderr,
		"maglev balance: N=1000 M=%u weights 50..200: max deviation %.3f%%\n",
		M_LARGE, worst * 100);
	free(be);
}

/*
 * Remove backend r: its slots must move (1/N of the table) and ideally
 * nothing else. Maglev moves a little more; the paper's Fig. 8 shows a
 * few percent of extra churn at M ~ 100 N. Bound the extra at 1/N + 1%.
 */
static void disruption(size_t n, uint32_t m)
{
	struct xlb_maglev_backend *be = make_backends(n, 100);
	uint32_t *before = build(be, n, m);
	size_t r = n / 2;

	be[r].weight = 0; /* same as removing it, and ids stay put */
	uint32_t *after = build(be, n, m);
	size_t moved = 0, own = 0, extra = 0;

	for (uint32_t s = 0; s < m; s++) {
		cr_assert_neq(after[s], r, "slot %u still on removed backend",
			      s);
		if (before[s] == after[s])
			continue;
		moved++;
		if (before[s] == r)
			own++;
		else
			extra++;
	}
	double fm = (double)moved / m, fx = (double)extra / m;

	fprintf(stderr,
		"maglev disruption: N=%zu M=%u remove 1: moved %.4f of the table (ideal 1/N = %.4f), of which %.4f beyond the removed backend's own slots\n",
		n, m, fm, 1.0 / n, fx);
	size_t *c = count_slots(before, m, n);

	cr_expect_eq(own, c[r]);
	free(c);
	cr_expect_leq(fx, 1.0 / n + 0.01, "extra churn %.4f for N=%zu", fx, n);
	free(after);
	free(before);
	free(be);
}

Test(maglev, disruption_remove_1_of_10)
{
	disruption(10, M_SMALL);
}

Test(maglev, disruption_remove_1_of_100)
{
	disruption(100, M_SMALL);
}

Test(maglev, disruption_remove_1_of_1000)
{
	disruption(1000, M_SMALL);
}

/* A bigger table (m ~ 655 n) churns less: the paper's advice m >= 100 n. */
Test(maglev, disruption_remove_1_of_1000_large_table)
{
	disruption(1000, M_LARGE);
}

/* Same set in another order (and a mix of families): same address in
 * every slot. */
Test(maglev, deterministic_under_reordering)
{
	const size_t n = 200;
	struct xlb_maglev_backend *a = make_backends(n, 0);
	struct xlb_maglev_backend *b = calloc(n, sizeof(*b));

	cr_assert_not_null(b);
	for (size_t i = 0; i < n; i++) {
		make_addr(&a[i].addr, i, i % 3 == 0);
		a[i].weight = 1 + i % 5;
	}
	memcpy(b, a, n * sizeof(*a));
	srand(12345);
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1);
		struct xlb_maglev_backend t = b[i];

		b[i] = b[j];
		b[j] = t;
	}
	/* Give the shuffled copy different ids: compare addresses. */
	for (size_t i = 0; i < n; i++)
		b[i].id = i;

	uint32_t *ta = build(a, n, M_SMALL), *tb = build(b, n, M_SMALL);

	for (uint32_t s = 0; s < M_SMALL; s++) {
		const struct xlb_addr *x = &a[ta[s]].addr, *y = &b[tb[s]].addr;

		cr_assert(x->family == y->family &&
				  !memcmp(x->a, y->a, sizeof(x->a)),
			  "slot %u differs after reordering", s);
	}
	free(ta);
	free(tb);
	free(a);
	free(b);
}

/*
 * The table must be the same on every machine and in every release (two
 * xlb instances behind one router must agree): pin a digest of one table.
 * If this fails, the hash or the fill order changed.
 */
Test(maglev, stable_across_releases)
{
	struct xlb_maglev_backend *be = make_backends(16, 0);
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (size_t i = 0; i < 16; i++) {
		make_addr(&be[i].addr, i, i % 2);
		be[i].weight = 1 + i;
	}
	uint32_t *t = build(be, 16, 251);

	for (uint32_t s = 0; s < 251; s++) {
		h ^= t[s];
		h *= 0x100000001b3ULL;
	}
	cr_expect_eq(h, 0x3badb9341adf05beULL, "table digest 0x%016llx",
		     (unsigned long long)h);
	free(t);
	free(be);
}

Test(maglev, weight_zero_gets_nothing)
{
	const size_t n = 10;
	struct xlb_maglev_backend *be = make_backends(n, 100);

	be[3].weight = 0;
	be[7].weight = 0;
	uint32_t *t = build(be, n, M_SMALL);
	size_t *c = count_slots(t, M_SMALL, n);

	cr_expect_eq(c[3], 0);
	cr_expect_eq(c[7], 0);
	for (size_t i = 0; i < n; i++)
		if (be[i].weight)
			cr_expect(c[i] == M_SMALL / 8 ||
					  c[i] == M_SMALL / 8 + 1,
				  "backend %zu: %zu slots", i, c[i]);
	free(c);
	free(t);
	free(be);
}

/* Halving one weight of ten should move about its lost share (~4.7%). */
Test(maglev, weight_change_moves_bounded)
{
	const size_t n = 10;
	struct xlb_maglev_backend *be = make_backends(n, 100);
	uint32_t *before = build(be, n, M_SMALL);

	be[4].weight = 50;
	uint32_t *after = build(be, n, M_SMALL);
	size_t moved = 0;

	for (uint32_t s = 0; s < M_SMALL; s++)
		moved += before[s] != after[s];
	double ideal = 0.1 - 50.0 / 950, fm = (double)moved / M_SMALL;

	fprintf(stderr,
		"maglev weight change: N=10, one 100 -> 50: moved %.4f of the table (ideal %.4f)\n",
		fm, ideal);
	cr_expect_geq(fm, ideal * 0.99);
	cr_expect_leq(fm, 2 * ideal, "moved %.4f, ideal %.4f", fm, ideal);
	free(after);
	free(before);
	free(be);
}

Test(maglev, all_zero_is_enoent)
{
	struct xlb_maglev_backend *be = make_backends(5, 0);
	uint32_t t[251];

	memset(t, 0, sizeof(t));
	cr_assert_eq(xlb_maglev_build(be, 5, t, 251), -ENOENT);
	for (uint32_t s = 0; s < 251; s++)
		cr_assert_eq(t[s], XLB_MAGLEV_EMPTY, "slot %u = %u", s, t[s]);
	cr_assert_eq(xlb_maglev_build(NULL, 0, t, 251), -ENOENT);
	free(be);
}

Test(maglev, invalid_arguments)
{
	struct xlb_maglev_backend *be = make_backends(5, 1);
	static uint32_t t[65536];

	cr_expect_eq(xlb_maglev_build(be, 5, t, 65536), -EINVAL);
	cr_expect_eq(xlb_maglev_build(be, 5, t, 65535), -EINVAL);
	cr_expect_eq(xlb_maglev_build(be, 5, t, 1), -EINVAL);
	cr_expect_eq(xlb_maglev_build(be, 5, t, 0), -EINVAL);
	cr_expect_eq(xlb_maglev_build(be, 5, t, 3), -EINVAL, "n > m");
	cr_expect_eq(xlb_maglev_build(be, 5, t, 5), 0, "n == m is fine");
	be[2].id = XLB_MAGLEV_EMPTY;
	cr_expect_eq(xlb_maglev_build(be, 5, t, 7), -EINVAL, "reserved id");
	free(be);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Build times; the bound is loose (a few ms expected) to catch an
 * accidental O(m * n). One heavy backend among light ones is the case a
 * round-by-round weighted fill would make O(m * n). */
Test(maglev, build_time)
{
	static const size_t ns[] = { 10, 100, 1000 };
	static const uint32_t ms[] = { M_SMALL, M_LARGE };
	uint32_t *t = malloc(M_LARGE * sizeof(*t));

	cr_assert_not_null(t);
	for (size_t k = 0; k < 2; k++) {
		for (size_t j = 0; j < 3; j++) {
			for (int skew = 0; skew < 2; skew++) {
				struct xlb_maglev_backend *be =
					make_backends(ns[j], skew ? 1 : 100);
				if (skew)
					be[0].weight = UINT16_MAX;
				double t0 = now_ms();
				cr_assert_eq(
					xlb_maglev_build(be, ns[j], t, ms[k]),
					0);
				double dt = now_ms() - t0;
				fprintf(stderr,
					"maglev build: N=%zu M=%u %s: %.2f ms\n",
					ns[j], ms[k],
					skew ? "one weight 65535, rest 1" :
					       "equal weights",
					dt);
				cr_expect_lt(dt, 1000.0);
				free(be);
			}
		}
	}
	free(t);
}
