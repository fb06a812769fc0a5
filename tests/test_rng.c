/* SPDX-License-Identifier: BSD-3-Clause */
/* Philox4x32-10, the (seed, round, worker, chunk) stream, the sequential generator. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/rng.h"

#define STREAM_WORDS (UINT64_C(1) << 34)

/* word j of the stream straight from the block function, as rng.h defines it */
static uint32_t
stream_word(uint64_t seed, uint32_t round, uint32_t worker, uint32_t chunk, uint64_t j)
{
	const uint32_t key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) };
	const uint32_t ctr[4] = { (uint32_t)(j / 4), chunk, worker, round };
	uint32_t out[4];

	gcdl_rng_philox(ctr, key, out);
	return out[j % 4];
}

START_TEST(stream_rejects)
{
	uint32_t w[8];

	ck_assert_int_eq(gcdl_rng_stream(1, 2, 3, 4, 0, NULL, 1), -EINVAL);
	ck_assert_int_eq(gcdl_rng_stream(1, 2, 3, 4, 0, NULL, 0), 0);
	ck_assert_int_eq(gcdl_rng_stream(1, 2, 3, 4, STREAM_WORDS, w, 1), -ERANGE);
	ck_assert_int_eq(gcdl_rng_stream(1, 2, 3, 4, UINT64_MAX, w, 1), -ERANGE);
	ck_assert_int_eq(gcdl_rng_stream(1, 2, 3, 4, STREAM_WORDS - 4, w, 5), -ERANGE);
	ck_assert_int_eq(gcdl_rng_stream(1, 2, 3, 4, 0, w, SIZE_MAX), -ERANGE);
	/* the last four words exist and are block 2^32 - 1 */
	ck_assert_int_eq(gcdl_rng_stream(1, 2, 3, 4, STREAM_WORDS - 4, w, 4), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(w[i], stream_word(1, 2, 3, 4, STREAM_WORDS - 4 + i));
}
END_TEST

/* The sequential generator and the raw block ignore NULL instead of crashing. */
START_TEST(sequential_ignores_null)
{
	uint32_t ctr[4] = { 0 }, key[2] = { 0 }, out[4] = { 7, 7, 7, 7 };
	uint32_t a[3] = { 1, 2, 3 };
	struct gcdl_rng r;

	gcdl_rng_init(NULL, 1, GCDL_RNG_TEST, 0, 0);
	ck_assert_uint_eq(gcdl_rng_u32(NULL), 0);
	gcdl_rng_philox(NULL, key, out);
	gcdl_rng_philox(ctr, NULL, out);
	ck_assert_uint_eq(out[0], 7);
	gcdl_rng_philox(ctr, key, NULL);
	gcdl_rng_shuffle(NULL, a, 3);
	gcdl_rng_init(&r, 1, GCDL_RNG_TEST, 0, 0);
	gcdl_rng_shuffle(&r, NULL, 3);
	ck_assert_uint_eq(a[0], 1);
	ck_assert_uint_eq(a[2], 3);
}
END_TEST

/* Random123's known-answer vectors for Philox4x32-10. */
START_TEST(philox_known_answers)
{
	static const struct {
		uint32_t ctr[4], key[2], out[4];
	} kat[] = {
		{ { 0, 0, 0, 0 }, { 0, 0 }, { 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 } },
		{ { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff },
		  { 0xffffffff, 0xffffffff },
		  { 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd } },
		{ { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344 },
		  { 0xa4093822, 0x299f31d0 },
		  { 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 } },
	};

	for (size_t t = 0; t < sizeof(kat) / sizeof(kat[0]); t++) {
		uint32_t out[4];

		gcdl_rng_philox(kat[t].ctr, kat[t].key, out);
		for (int i = 0; i < 4; i++)
			ck_assert_msg(out[i] == kat[t].out[i], "vector %zu word %d: %08x != %08x",
				      t, i, out[i], kat[t].out[i]);
	}
}
END_TEST

START_TEST(stream_is_philox)
{
	const uint64_t seed = UINT64_C(0x0123456789abcdef);
	uint32_t a[103], b[103];

	ck_assert_int_eq(gcdl_rng_stream(seed, 17, 5, 9, 0, a, 103), 0);
	ck_assert_int_eq(gcdl_rng_stream(seed, 17, 5, 9, 0, b, 103), 0);
	ck_assert_mem_eq(a, b, sizeof(a));
	for (uint32_t j = 0; j < 103; j++)
		ck_assert_uint_eq(a[j], stream_word(seed, 17, 5, 9, j));
	/* far into the stream as well */
	ck_assert_int_eq(gcdl_rng_stream(seed, 17, 5, 9, UINT64_C(5000000001), a, 7), 0);
	for (uint32_t j = 0; j < 7; j++)
		ck_assert_uint_eq(a[j], stream_word(seed, 17, 5, 9, UINT64_C(5000000001) + j));
}
END_TEST

START_TEST(stream_subranges)
{
	static const uint32_t ranges[][2] = {
		{ 0, 1 }, { 1, 2 },	{ 3, 5 }, { 4, 8 },	{ 5, 300 },
		{ 7, 7 }, { 255, 257 }, { 0, 512 }, { 509, 512 }, { 2, 511 },
	};
	uint32_t all[512], part[513];

	ck_assert_int_eq(gcdl_rng_stream(99, 1, 2, 3, 0, all, 512), 0);
	for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
		uint32_t a = ranges[r][0], n = ranges[r][1] - a;

		memset(part, 0, sizeof(part));
		ck_assert_int_eq(gcdl_rng_stream(99, 1, 2, 3, a, part, n), 0);
		ck_assert_mem_eq(part, all + a, (size_t)n * sizeof(uint32_t));
		/* nothing past n words is written */
		ck_assert_uint_eq(part[n], 0);
	}
}
END_TEST

/* Equal words between two 64-word streams; for independent streams each word
 * matches with probability 2^-32, so even one match is a near-certain bug. */
static int
matches(const uint32_t *a, const uint32_t *b)
{
	int m = 0;

	for (int i = 0; i < 64; i++)
		m += a[i] == b[i];
	return m;
}

START_TEST(stream_selectors_differ)
{
	const uint64_t seed = 7;
	uint32_t base[64], other[64];

	ck_assert_int_eq(gcdl_rng_stream(seed, 1, 2, 3, 0, base, 64), 0);
	gcdl_rng_stream(seed + 1, 1, 2, 3, 0, other, 64);
	ck_assert_int_eq(matches(base, other), 0);
	gcdl_rng_stream(seed | (UINT64_C(1) << 40), 1, 2, 3, 0, other, 64);
	ck_assert_int_eq(matches(base, other), 0);
	gcdl_rng_stream(seed, 2, 2, 3, 0, other, 64);
	ck_assert_int_eq(matches(base, other), 0);
	gcdl_rng_stream(seed, 1, 3, 3, 0, other, 64);
	ck_assert_int_eq(matches(base, other), 0);
	gcdl_rng_stream(seed, 1, 2, 4, 0, other, 64);
	ck_assert_int_eq(matches(base, other), 0);
	/* swapped selectors are different streams too */
	gcdl_rng_stream(seed, 1, 3, 2, 0, other, 64);
	ck_assert_int_eq(matches(base, other), 0);
	gcdl_rng_stream(seed, 2, 1, 3, 0, other, 64);
	ck_assert_int_eq(matches(base, other), 0);
}
END_TEST

START_TEST(sequential_deterministic)
{
	struct gcdl_rng a, b, c, fork;
	int same_dom = 0, same_sel = 0;

	gcdl_rng_init(&a, 5, GCDL_RNG_DATA, 1, 2);
	gcdl_rng_init(&b, 5, GCDL_RNG_DATA, 1, 2);
	for (int i = 0; i < 1000; i++)
		ck_assert_uint_eq(gcdl_rng_u32(&a), gcdl_rng_u32(&b));
	/* a copy continues the same stream */
	fork = a;
	for (int i = 0; i < 10; i++)
		ck_assert_uint_eq(gcdl_rng_u64(&a), gcdl_rng_u64(&fork));
	/* other domain or selectors: other streams (64 words, 2^-32 per match) */
	gcdl_rng_init(&a, 5, GCDL_RNG_DATA, 1, 2);
	gcdl_rng_init(&b, 5, GCDL_RNG_LAYOUT, 1, 2);
	gcdl_rng_init(&c, 5, GCDL_RNG_DATA, 2, 1);
	for (int i = 0; i < 64; i++) {
		uint32_t x = gcdl_rng_u32(&a);

		same_dom += x == gcdl_rng_u32(&b);
		same_sel += x == gcdl_rng_u32(&c);
	}
	ck_assert_int_eq(same_dom, 0);
	ck_assert_int_eq(same_sel, 0);
}
END_TEST

START_TEST(uniform_moments)
{
	/* n = 200000 draws of U[0,1): the mean has sd sqrt(1/12/n) = 6.5e-4, 5 sd =
	 * 3.3e-3; (U - 1/2)^2 has mean 1/12 and variance 1/80 - 1/144 = 1/180, so its
	 * average has sd sqrt(1/180/n) = 1.7e-4, 5 sd = 8.4e-4. */
	const int n = 200000;
	struct gcdl_rng r;
	double s = 0.0, s2 = 0.0, lo = 1.0, hi = 0.0;

	gcdl_rng_init(&r, 11, GCDL_RNG_TEST, 0, 0);
	for (int i = 0; i < n; i++) {
		double u = gcdl_rng_uniform(&r);

		ck_assert(u >= 0.0 && u < 1.0);
		s += u;
		s2 += (u - 0.5) * (u - 0.5);
		lo = fmin(lo, u);
		hi = fmax(hi, u);
	}
	ck_assert_double_eq_tol(s / n, 0.5, 3.3e-3);
	ck_assert_double_eq_tol(s2 / n, 1.0 / 12.0, 8.4e-4);
	/* the extremes of 2e5 draws lie within 1e-4 of the ends with probability
	 * 1 - 2 (1 - 1e-4)^n > 1 - 1e-8 */
	ck_assert(lo < 1e-4 && hi > 1.0 - 1e-4);
}
END_TEST

START_TEST(below_range_and_uniformity)
{
	static const uint32_t bounds[] = { 1, 2, 3, 7, 1000, 0x80000001u, UINT32_MAX };
	const int n = 100000;
	struct gcdl_rng r;
	uint32_t hist[10] = { 0 }, low = 0;
	double chi2 = 0.0;

	gcdl_rng_init(&r, 12, GCDL_RNG_TEST, 0, 0);
	ck_assert_uint_eq(gcdl_rng_below(&r, 0), 0);
	for (size_t b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++)
		for (int i = 0; i < 2000; i++)
			ck_assert_uint_lt(gcdl_rng_below(&r, bounds[b]), bounds[b]);
	/* chi-square over 10 cells, 9 degrees of freedom: P(chi2_9 > 40) = 7.6e-6 */
	for (int i = 0; i < n; i++)
		hist[gcdl_rng_below(&r, 10)]++;
	for (int c = 0; c < 10; c++)
		chi2 += (hist[c] - n / 10.0) * (hist[c] - n / 10.0) / (n / 10.0);
	ck_assert_msg(chi2 < 40.0, "chi2 = %g", chi2);
	/* no modulo bias: for n = 3 * 2^30, x % n would put half the draws below
	 * 2^30 instead of a third; 30000 draws give sd sqrt(2/9/30000) = 2.7e-3 */
	for (int i = 0; i < 30000; i++)
		low += gcdl_rng_below(&r, 0xC0000000u) < 0x40000000u;
	ck_assert_double_eq_tol(low / 30000.0, 1.0 / 3.0, 5 * 2.7e-3);
}
END_TEST

START_TEST(normal_moments)
{
	/* n = 200000 N(0,1) draws: mean sd 1/sqrt(n) = 2.2e-3, 5 sd = 0.0112; X^2
	 * has variance 2, so the mean square has sd sqrt(2/n) = 3.2e-3, 5 sd = 0.0158;
	 * P(|X| > 1.96) = 0.05 with sd sqrt(.05*.95/n) = 4.9e-4, 5 sd = 2.4e-3. */
	const int n = 200000;
	struct gcdl_rng r;
	double s = 0.0, s2 = 0.0, tail = 0.0;

	gcdl_rng_init(&r, 13, GCDL_RNG_TEST, 0, 0);
	for (int i = 0; i < n; i++) {
		double x = gcdl_rng_normal(&r);

		ck_assert(isfinite(x));
		s += x;
		s2 += x * x;
		tail += fabs(x) > 1.959964;
	}
	ck_assert_double_eq_tol(s / n, 0.0, 0.0112);
	ck_assert_double_eq_tol(s2 / n, 1.0, 0.0158);
	ck_assert_double_eq_tol(tail / n, 0.05, 2.4e-3);
}
END_TEST

START_TEST(shuffle_permutes)
{
	uint32_t a[100], b[100], seen[100] = { 0 };
	struct gcdl_rng r, r2;
	int moved = 0;

	gcdl_rng_init(&r, 14, GCDL_RNG_TEST, 0, 0);
	gcdl_rng_shuffle(&r, NULL, 0);
	for (uint32_t i = 0; i < 100; i++)
		a[i] = b[i] = i;
	gcdl_rng_init(&r, 14, GCDL_RNG_TEST, 1, 0);
	gcdl_rng_init(&r2, 14, GCDL_RNG_TEST, 1, 0);
	gcdl_rng_shuffle(&r, a, 100);
	gcdl_rng_shuffle(&r2, b, 100);
	ck_assert_mem_eq(a, b, sizeof(a));
	for (uint32_t i = 0; i < 100; i++) {
		ck_assert_uint_lt(a[i], 100);
		seen[a[i]]++;
		moved += a[i] != i;
	}
	for (uint32_t i = 0; i < 100; i++)
		ck_assert_uint_eq(seen[i], 1);
	/* a uniform permutation of 100 has on average 1 fixed point; more than 10
	 * has probability < 1e-7 */
	ck_assert_int_gt(moved, 90);
}
END_TEST

START_TEST(shuffle_uniform)
{
	/* all 6 orders of 3 items over 60000 shuffles: chi-square with 5 degrees of
	 * freedom, P(chi2_5 > 35) = 1.5e-6 */
	const int n = 60000;
	uint32_t hist[6] = { 0 };
	struct gcdl_rng r;
	double chi2 = 0.0;

	gcdl_rng_init(&r, 15, GCDL_RNG_TEST, 0, 0);
	for (int t = 0; t < n; t++) {
		uint32_t a[3] = { 0, 1, 2 };

		gcdl_rng_shuffle(&r, a, 3);
		/* rank of the permutation: first element * 2 + order of the other two */
		hist[a[0] * 2 + (a[1] > a[2])]++;
	}
	for (int c = 0; c < 6; c++)
		chi2 += (hist[c] - n / 6.0) * (hist[c] - n / 6.0) / (n / 6.0);
	ck_assert_msg(chi2 < 35.0, "chi2 = %g", chi2);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("rng");
	TCase *neg = tcase_create("negative");
	TCase *pos = tcase_create("positive");
	SRunner *sr;
	int failed;

	tcase_add_test(neg, stream_rejects);
	tcase_add_test(neg, sequential_ignores_null);
	tcase_add_test(pos, philox_known_answers);
	tcase_add_test(pos, stream_is_philox);
	tcase_add_test(pos, stream_subranges);
	tcase_add_test(pos, stream_selectors_differ);
	tcase_add_test(pos, sequential_deterministic);
	tcase_add_test(pos, uniform_moments);
	tcase_add_test(pos, below_range_and_uniformity);
	tcase_add_test(pos, normal_moments);
	tcase_add_test(pos, shuffle_permutes);
	tcase_add_test(pos, shuffle_uniform);
	suite_add_tcase(s, neg);
	suite_add_tcase(s, pos);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
