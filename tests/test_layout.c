/* SPDX-License-Identifier: BSD-3-Clause */
/* Shard layouts: rejections, invariants over a grid of (N, M, d), pair
 * balance of the pairwise layout. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/layout.h"

/* Independent recount from gcdl_layout_holds(). */
static void
recount(const struct gcdl_layout *l, struct gcdl_layout_props *p, uint64_t *sumsq)
{
	uint32_t n = gcdl_layout_workers(l), m = gcdl_layout_partitions(l);

	memset(p, 0, sizeof(*p));
	p->rep_min = p->load_min = p->pair_min = UINT32_MAX;
	*sumsq = 0;
	for (uint32_t i = 0; i < m; i++) {
		uint32_t r = 0;

		for (uint32_t k = 0; k < n; k++)
			r += gcdl_layout_holds(l, k, i);
		p->rep_min = r < p->rep_min ? r : p->rep_min;
		p->rep_max = r > p->rep_max ? r : p->rep_max;
	}
	for (uint32_t k = 0; k < n; k++) {
		uint32_t s = 0;

		for (uint32_t i = 0; i < m; i++)
			s += gcdl_layout_holds(l, k, i);
		p->load_min = s < p->load_min ? s : p->load_min;
		p->load_max = s > p->load_max ? s : p->load_max;
	}
	for (uint32_t a = 0; a < m; a++) {
		for (uint32_t b = a + 1; b < m; b++) {
			uint32_t c = 0;

			for (uint32_t k = 0; k < n; k++)
				c += gcdl_layout_holds(l, k, a) && gcdl_layout_holds(l, k, b);
			p->pair_min = c < p->pair_min ? c : p->pair_min;
			p->pair_max = c > p->pair_max ? c : p->pair_max;
			*sumsq += (uint64_t)c * c;
		}
	}
	if (m < 2)
		p->pair_min = p->pair_max = 0;
}

static void
expect_reject(enum gcdl_layout_kind kind, uint32_t n, uint32_t m, uint32_t d, const char *frag)
{
	char err[256] = "";

	errno = 0;
	ck_assert_ptr_null(gcdl_layout_create(kind, n, m, d, 1, err, sizeof(err)));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_msg(strstr(err, frag) != NULL, "'%s' not in '%s'", frag, err);
}

START_TEST(rejects_impossible)
{
	expect_reject(GCDL_LAYOUT_PAIRWISE, 0, 4, 1, "N (workers)");
	expect_reject(GCDL_LAYOUT_PAIRWISE, GCDL_LAYOUT_MAX_NODES + 1, 4, 1, "N (workers)");
	expect_reject(GCDL_LAYOUT_PAIRWISE, 4, 0, 1, "M (partitions)");
	expect_reject(GCDL_LAYOUT_PAIRWISE, 4, 4, 0, "d (replication)");
	expect_reject(GCDL_LAYOUT_PAIRWISE, 4, 4, 5, "d (replication)");
	expect_reject(GCDL_LAYOUT_PAIRWISE, 4, 10, 3, "d*M/N must be an integer");
	expect_reject(GCDL_LAYOUT_RANDOM, 4, 10, 3, "d*M/N must be an integer");
	expect_reject(GCDL_LAYOUT_UNCODED, 4, 4, 2, "uncoded layout needs d = 1 and M = N");
	expect_reject(GCDL_LAYOUT_UNCODED, 4, 8, 1, "uncoded layout needs d = 1 and M = N");
	expect_reject(GCDL_LAYOUT_FRACTIONAL, 6, 6, 4, "fractional layout needs d to divide N");
	expect_reject(GCDL_LAYOUT_FRACTIONAL, 6, 3, 4, "fractional layout needs d to divide N");
	expect_reject(GCDL_LAYOUT_CYCLIC, 6, 4, 3, "cyclic layout needs N to divide M");
	expect_reject((enum gcdl_layout_kind)17, 4, 4, 1, "unknown layout kind");
	/* err may be NULL */
	ck_assert_ptr_null(gcdl_layout_create(GCDL_LAYOUT_CYCLIC, 0, 4, 1, 1, NULL, 0));
}
END_TEST

START_TEST(accessors_reject_bad_arguments)
{
	struct gcdl_layout *l = gcdl_layout_create(GCDL_LAYOUT_CYCLIC, 4, 4, 2, 1, NULL, 0);
	struct gcdl_layout_props p;
	enum gcdl_layout_kind k;
	const uint32_t *parts;
	uint32_t count;

	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(gcdl_layout_worker_partitions(l, 4, &parts, &count), -ERANGE);
	ck_assert_int_eq(gcdl_layout_worker_partitions(NULL, 0, &parts, &count), -EINVAL);
	ck_assert_int_eq(gcdl_layout_worker_partitions(l, 0, NULL, &count), -EINVAL);
	ck_assert_int_eq(gcdl_layout_worker_partitions(l, 0, &parts, NULL), -EINVAL);
	ck_assert_uint_eq(gcdl_layout_replication(l, 4), 0);
	ck_assert_uint_eq(gcdl_layout_replication(NULL, 0), 0);
	ck_assert(!gcdl_layout_holds(l, 4, 0));
	ck_assert(!gcdl_layout_holds(l, 0, 4));
	ck_assert(!gcdl_layout_holds(NULL, 0, 0));
	ck_assert_int_eq(gcdl_layout_props(NULL, &p), -EINVAL);
	ck_assert_int_eq(gcdl_layout_props(l, NULL), -EINVAL);
	ck_assert_uint_eq(gcdl_layout_workers(NULL), 0);
	ck_assert_uint_eq(gcdl_layout_partitions(NULL), 0);
	ck_assert_int_eq(gcdl_layout_kind_parse(NULL, &k), -EINVAL);
	ck_assert_int_eq(gcdl_layout_kind_parse("pairwise", NULL), -EINVAL);
	ck_assert_int_eq(gcdl_layout_kind_parse("diagonal", &k), -EINVAL);
	ck_assert_str_eq(gcdl_layout_kind_name((enum gcdl_layout_kind)99), "unknown");
	gcdl_layout_free(l);
	gcdl_layout_free(NULL);
}
END_TEST

START_TEST(names_round_trip)
{
	enum gcdl_layout_kind k;

	for (int i = 0; i < GCDL_LAYOUT__COUNT; i++) {
		ck_assert_int_eq(gcdl_layout_kind_parse(gcdl_layout_kind_name(i), &k), 0);
		ck_assert_int_eq(k, i);
	}
}
END_TEST

/* Every kind, wherever (N, M, d) is valid for it: exact replication d, exact
 * load s, sorted distinct partitions, and props equal to a recount. */
START_TEST(grid_invariants)
{
	uint32_t made[GCDL_LAYOUT__COUNT] = { 0 };

	for (uint32_t n = 1; n <= 10; n++) {
		const uint32_t ms[3] = { n, 2 * n, n / 2 };

		for (int mi = 0; mi < 3; mi++) {
			uint32_t m = ms[mi];

			if (m == 0)
				continue;
			for (uint32_t d = 1; d <= n && d <= 4; d++) {
				if ((d * m) % n != 0)
					continue;
				for (int kind = 0; kind < GCDL_LAYOUT__COUNT; kind++) {
					struct gcdl_layout *l = gcdl_layout_create(
						kind, n, m, d, 3, NULL, 0);
					struct gcdl_layout_props got, want;
					uint64_t sumsq;
					uint32_t s = d * m / n;

					if (l == NULL)
						continue;
					made[kind]++;
					ck_assert_int_eq(gcdl_layout_props(l, &got), 0);
					recount(l, &want, &sumsq);
					ck_assert_uint_eq(want.rep_min, d);
					ck_assert_uint_eq(want.rep_max, d);
					ck_assert_uint_eq(want.load_min, s);
					ck_assert_uint_eq(want.load_max, s);
					ck_assert_uint_eq(got.rep_min, want.rep_min);
					ck_assert_uint_eq(got.rep_max, want.rep_max);
					ck_assert_uint_eq(got.load_min, want.load_min);
					ck_assert_uint_eq(got.load_max, want.load_max);
					ck_assert_uint_eq(got.pair_min, want.pair_min);
					ck_assert_uint_eq(got.pair_max, want.pair_max);
					ck_assert_uint_eq(got.workers, n);
					ck_assert_uint_eq(got.partitions, m);
					for (uint32_t k = 0; k < n; k++) {
						const uint32_t *parts;
						uint32_t cnt;

						ck_assert_int_eq(gcdl_layout_worker_partitions(
									 l, k, &parts, &cnt), 0);
						ck_assert_uint_eq(cnt, s);
						for (uint32_t j = 0; j < cnt; j++) {
							ck_assert(j == 0 || parts[j] > parts[j - 1]);
							ck_assert(gcdl_layout_holds(l, k, parts[j]));
						}
					}
					for (uint32_t i = 0; i < m; i++)
						ck_assert_uint_eq(gcdl_layout_replication(l, i), d);
					gcdl_layout_free(l);
				}
			}
		}
	}
	/* every kind was exercised many times */
	for (int kind = 0; kind < GCDL_LAYOUT__COUNT; kind++)
		ck_assert_uint_ge(made[kind], 10);
}
END_TEST

static uint64_t
pair_sumsq(enum gcdl_layout_kind kind, uint32_t n, uint32_t m, uint32_t d, uint64_t seed,
	   struct gcdl_layout_props *p)
{
	struct gcdl_layout *l = gcdl_layout_create(kind, n, m, d, seed, NULL, 0);
	uint64_t sumsq;

	ck_assert_ptr_nonnull(l);
	recount(l, p, &sumsq);
	gcdl_layout_free(l);
	return sumsq;
}

/* With M = N the pairwise search reaches max - min <= 1 for every N <= 16 and
 * d <= 4. (Not every (N, M, d) allows it: N = 4, M = 8, d = 2 needs 4 blocks
 * of 4 points, each point in 2 blocks, pairwise meeting in <= 1 point, but
 * 8 shared points do not fit in the 6 block pairs; there the search returns
 * its best, never worse than cyclic, checked below.) */
START_TEST(pairwise_balances_pairs)
{
	for (uint32_t n = 2; n <= 16; n++) {
		for (uint32_t d = 2; d <= 4 && d <= n; d++) {
			struct gcdl_layout_props p;

			pair_sumsq(GCDL_LAYOUT_PAIRWISE, n, n, d, 1, &p);
			ck_assert_msg(p.pair_max - p.pair_min <= 1, "N=M=%u d=%u: pairs %u..%u",
				      n, d, p.pair_min, p.pair_max);
		}
	}
}
END_TEST

START_TEST(pairwise_fano_plane)
{
	struct gcdl_layout_props p;

	pair_sumsq(GCDL_LAYOUT_PAIRWISE, 7, 7, 3, 1, &p);
	ck_assert_uint_eq(p.pair_min, 1);
	ck_assert_uint_eq(p.pair_max, 1);
	pair_sumsq(GCDL_LAYOUT_PAIRWISE, 7, 7, 3, 12345, &p);
	ck_assert_uint_eq(p.pair_min, 1);
	ck_assert_uint_eq(p.pair_max, 1);
	/* cyclic on the same (N, M, d) is not balanced: partitions 0 and 1 share 2 workers */
	pair_sumsq(GCDL_LAYOUT_CYCLIC, 7, 7, 3, 1, &p);
	ck_assert_uint_eq(p.pair_max, 2);
	ck_assert_uint_eq(p.pair_min, 0);
}
END_TEST

START_TEST(pairwise_never_worse_than_cyclic_or_random)
{
	static const uint32_t cases[][3] = { { 4, 8, 2 }, { 6, 12, 3 }, { 10, 10, 2 },
					     { 10, 20, 3 }, { 12, 12, 4 }, { 8, 4, 2 } };

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct gcdl_layout_props p;
		uint32_t n = cases[c][0], m = cases[c][1], d = cases[c][2];
		uint64_t pw = pair_sumsq(GCDL_LAYOUT_PAIRWISE, n, m, d, 1, &p);

		ck_assert_uint_le(pw, pair_sumsq(GCDL_LAYOUT_CYCLIC, n, m, d, 1, &p));
		ck_assert_uint_le(pw, pair_sumsq(GCDL_LAYOUT_RANDOM, n, m, d, 1, &p));
	}
}
END_TEST

START_TEST(known_layouts)
{
	struct gcdl_layout *l;
	const uint32_t *parts;
	uint32_t cnt;

	/* cyclic N = M = 5, d = 2: worker k holds k, k+1 mod 5 */
	l = gcdl_layout_create(GCDL_LAYOUT_CYCLIC, 5, 5, 2, 1, NULL, 0);
	ck_assert_ptr_nonnull(l);
	gcdl_layout_worker_partitions(l, 4, &parts, &cnt);
	ck_assert_uint_eq(cnt, 2);
	ck_assert_uint_eq(parts[0], 0);
	ck_assert_uint_eq(parts[1], 4);
	gcdl_layout_worker_partitions(l, 1, &parts, &cnt);
	ck_assert_uint_eq(parts[0], 1);
	ck_assert_uint_eq(parts[1], 2);
	gcdl_layout_free(l);
	/* fractional N = 6, M = 6, d = 2: workers 2 and 3 form group 1 with {2, 3} */
	l = gcdl_layout_create(GCDL_LAYOUT_FRACTIONAL, 6, 6, 2, 1, NULL, 0);
	ck_assert_ptr_nonnull(l);
	for (uint32_t k = 2; k <= 3; k++) {
		gcdl_layout_worker_partitions(l, k, &parts, &cnt);
		ck_assert_uint_eq(parts[0], 2);
		ck_assert_uint_eq(parts[1], 3);
	}
	gcdl_layout_free(l);
	/* uncoded: worker k holds exactly partition k */
	l = gcdl_layout_create(GCDL_LAYOUT_UNCODED, 9, 9, 1, 1, NULL, 0);
	ck_assert_ptr_nonnull(l);
	for (uint32_t k = 0; k < 9; k++) {
		gcdl_layout_worker_partitions(l, k, &parts, &cnt);
		ck_assert_uint_eq(cnt, 1);
		ck_assert_uint_eq(parts[0], k);
	}
	gcdl_layout_free(l);
}
END_TEST

static int
same_layout(enum gcdl_layout_kind kind, uint64_t s1, uint64_t s2)
{
	struct gcdl_layout *a = gcdl_layout_create(kind, 10, 10, 3, s1, NULL, 0);
	struct gcdl_layout *b = gcdl_layout_create(kind, 10, 10, 3, s2, NULL, 0);
	int same = 1;

	for (uint32_t k = 0; k < 10; k++)
		for (uint32_t i = 0; i < 10; i++)
			same &= gcdl_layout_holds(a, k, i) == gcdl_layout_holds(b, k, i);
	gcdl_layout_free(a);
	gcdl_layout_free(b);
	return same;
}

START_TEST(seeded_determinism)
{
	ck_assert(same_layout(GCDL_LAYOUT_PAIRWISE, 5, 5));
	ck_assert(same_layout(GCDL_LAYOUT_RANDOM, 5, 5));
	ck_assert(!same_layout(GCDL_LAYOUT_RANDOM, 5, 6));
	ck_assert(same_layout(GCDL_LAYOUT_CYCLIC, 5, 6)); /* no randomness */
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("layout");
	TCase *neg = tcase_create("negative");
	TCase *pos = tcase_create("positive");
	SRunner *sr;
	int failed;

	tcase_set_timeout(pos, 120);
	tcase_add_test(neg, rejects_impossible);
	tcase_add_test(neg, accessors_reject_bad_arguments);
	tcase_add_test(pos, names_round_trip);
	tcase_add_test(pos, grid_invariants);
	tcase_add_test(pos, pairwise_balances_pairs);
	tcase_add_test(pos, pairwise_fano_plane);
	tcase_add_test(pos, pairwise_never_worse_than_cyclic_or_random);
	tcase_add_test(pos, known_layouts);
	tcase_add_test(pos, seeded_determinism);
	suite_add_tcase(s, neg);
	suite_add_tcase(s, pos);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
