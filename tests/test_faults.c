/* SPDX-License-Identifier: BSD-3-Clause */
/* Fault injection decisions: slow-worker syntax, plans, bit flips, holds. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/faults.h"
#include "gcdl/frame.h"
#include "gcdl/profile.h"

static struct gcdl_faults
model(double drop, double dup, double corrupt, uint32_t window, uint64_t seed)
{
	struct gcdl_faults f;

	memset(&f, 0, sizeof(f));
	f.drop_p = drop;
	f.dup_p = dup;
	f.corrupt_p = corrupt;
	f.reorder_window = window;
	f.seed = seed;
	return f;
}

START_TEST(slow_rejects_malformed)
{
	static const char *const bad[] = { "a:2", "1", "1:", "1:x", "5:2", "1:0.5", "1:inf",
					   "1:nan", "1:2,", "1:2;2:3", "-1:2", ":2", "1:2 3:4",
					   "1:+5", "1:+-5us", "1:+5ms", "1:2,1:3",
					   "1:+5us,1:+6us", "1:2y", ",", "1:1e7" };
	double f[5], d[5];

	ck_assert_int_eq(gcdl_faults_parse_slow(NULL, 5, f, d), -EINVAL);
	ck_assert_int_eq(gcdl_faults_parse_slow("", 0, f, d), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(gcdl_faults_parse_slow(bad[i], 5, f, d) == -EINVAL, "'%s' accepted",
			      bad[i]);
}
END_TEST

START_TEST(slow_parses)
{
	double f[5], d[5];

	ck_assert_int_eq(gcdl_faults_parse_slow("", 5, f, d), 0);
	for (int i = 0; i < 5; i++) {
		ck_assert_double_eq(f[i], 1.0);
		ck_assert_double_eq(d[i], 0.0);
	}
	ck_assert_int_eq(gcdl_faults_parse_slow(" 1:5x, 1:+300us,4:2.5 ", 5, f, d), 0);
	ck_assert_double_eq(f[1], 5.0);
	ck_assert_double_eq(d[1], 300.0);
	ck_assert_double_eq(f[4], 2.5);
	ck_assert_double_eq(d[4], 0.0);
	ck_assert_double_eq(f[0], 1.0);
	/* checking only */
	ck_assert_int_eq(gcdl_faults_parse_slow("0:3", 1, NULL, NULL), 0);
}
END_TEST

START_TEST(init_from_profile)
{
	struct gcdl_profile p;
	struct gcdl_faults f;

	ck_assert_int_eq(gcdl_faults_init(NULL, NULL), -EINVAL);
	gcdl_profile_defaults(&p);
	p.seed = 77;
	ck_assert_int_eq(gcdl_faults_init(&f, &p), 0);
	ck_assert_int_eq(f.active, 0);
	ck_assert_uint_eq(f.seed, 77); /* faults.seed 0: the job seed */
	gcdl_faults_fini(&f);
	p.fault_seed = 5;
	snprintf(p.fault_slow_workers, sizeof(p.fault_slow_workers), "2:5");
	ck_assert_int_eq(gcdl_faults_init(&f, &p), 0);
	ck_assert_int_eq(f.active, 1);
	ck_assert_uint_eq(f.seed, 5);
	ck_assert_double_eq(f.slow_factor[2], 5.0);
	gcdl_faults_fini(&f);
	gcdl_faults_fini(NULL);
	snprintf(p.fault_slow_workers, sizeof(p.fault_slow_workers), "%u:5", p.workers);
	ck_assert_int_eq(gcdl_faults_init(&f, &p), -EINVAL);
	p.fault_slow_workers[0] = '\0';
	p.fault_reorder_window = 8;
	ck_assert_int_eq(gcdl_faults_init(&f, &p), 0);
	ck_assert_int_eq(f.active, 1);
	gcdl_faults_fini(&f);
}
END_TEST

START_TEST(plan_rejects_null)
{
	struct gcdl_faults f = model(0, 0, 0, 0, 1);
	struct gcdl_fault_send out[2];

	ck_assert_int_eq(gcdl_faults_plan(NULL, 0, 0, 1, out, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_faults_plan(&f, 0, 0, 1, NULL, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_faults_plan(&f, 0, 0, 0, NULL, NULL), 0);
}
END_TEST

START_TEST(plan_extremes)
{
	struct gcdl_fault_send out[64];
	struct gcdl_fault_counts c = { 0 };
	struct gcdl_faults f = model(0, 0, 0, 0, 1);
	int m;

	m = gcdl_faults_plan(&f, 3, 1, 32, out, &c);
	ck_assert_int_eq(m, 32);
	for (int i = 0; i < m; i++) {
		ck_assert_uint_eq(out[i].index, (uint32_t)i);
		ck_assert_uint_eq(out[i].copy, 0);
		ck_assert_int_eq(out[i].corrupt, 0);
	}
	ck_assert_uint_eq(c.dropped + c.duplicated + c.corrupted + c.reordered, 0);
	f = model(1, 0, 0, 0, 1);
	ck_assert_int_eq(gcdl_faults_plan(&f, 3, 1, 32, out, &c), 0);
	ck_assert_uint_eq(c.dropped, 32);
	f = model(0, 1, 1, 0, 1);
	memset(&c, 0, sizeof(c));
	m = gcdl_faults_plan(&f, 3, 1, 32, out, &c);
	ck_assert_int_eq(m, 64);
	for (int i = 0; i < m; i++) {
		ck_assert_uint_eq(out[i].index, (uint32_t)i / 2);
		ck_assert_uint_eq(out[i].copy, (uint32_t)i % 2);
		ck_assert_int_eq(out[i].corrupt, 1);
	}
	ck_assert_uint_eq(c.duplicated, 32);
	ck_assert_uint_eq(c.corrupted, 64);
}
END_TEST

/* Reordering is a permutation in windows: every copy once, none moved by the
 * window or more, none leaving its window; replayable; seed-dependent. */
START_TEST(plan_reorder_window)
{
	enum { N = 100, W = 8 };
	struct gcdl_fault_send a[2 * N], b[2 * N];
	struct gcdl_fault_counts c = { 0 };
	struct gcdl_faults f = model(0, 0, 0, W, 42);
	int seen[N] = { 0 }, m, differ = 0;

	m = gcdl_faults_plan(&f, 9, 2, N, a, &c);
	ck_assert_int_eq(m, N);
	for (int i = 0; i < m; i++) {
		int idx = (int)a[i].index;

		seen[idx]++;
		ck_assert_int_eq(idx / W, i / W);
		ck_assert_int_lt(abs(idx - i), W);
	}
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(seen[i], 1);
	ck_assert_uint_gt(c.reordered, N / 2); /* 1 - 1/W of them move, on average */
	ck_assert_uint_le(c.reordered, N);
	ck_assert_int_eq(gcdl_faults_plan(&f, 9, 2, N, b, NULL), N);
	ck_assert_int_eq(memcmp(a, b, sizeof(a[0]) * N), 0);
	f.seed = 43;
	ck_assert_int_eq(gcdl_faults_plan(&f, 9, 2, N, b, NULL), N);
	for (int i = 0; i < N; i++)
		differ += a[i].index != b[i].index;
	ck_assert_int_gt(differ, 0);
	/* window 1 keeps the order */
	f.reorder_window = 1;
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(gcdl_faults_plan(&f, 9, 2, N, b, &c), N);
	for (int i = 0; i < N; i++)
		ck_assert_uint_eq(b[i].index, (uint32_t)i);
	ck_assert_uint_eq(c.reordered, 0);
}
END_TEST

/* Rates over 100000 frames: binomial, tolerance 5 standard deviations
 * (drop 0.01: sd = sqrt(1e5 * 0.01 * 0.99) = 31.5, so +-157). */
START_TEST(plan_rates)
{
	struct gcdl_fault_send out[20];
	struct gcdl_fault_counts c = { 0 }, c2 = { 0 };
	struct gcdl_faults f = model(0.01, 0.01, 0.05, 8, 7), g = f;
	uint64_t same_drops = 1;

	g.dup_p = 0.5; /* another dup_p must not move the drops */
	for (uint32_t r = 0; r < 10000; r++) {
		for (uint32_t k = 0; k < 10; k++) {
			uint64_t d0 = c.dropped, d1 = c2.dropped;

			gcdl_faults_plan(&f, r, k, 1, out, &c);
			gcdl_faults_plan(&g, r, k, 1, out, &c2);
			same_drops &= (c.dropped - d0) == (c2.dropped - d1);
		}
	}
	ck_assert_uint_eq(same_drops, 1);
	ck_assert_msg(fabs((double)c.dropped - 1000) < 157, "dropped %lu", c.dropped);
	ck_assert_msg(fabs((double)c.duplicated - 990) < 157, "duplicated %lu", c.duplicated);
	/* corruption applies to the 100000 - dropped + duplicated copies */
	ck_assert_msg(fabs((double)c.corrupted - 5000) < 5 * 69, "corrupted %lu", c.corrupted);
}
END_TEST

static size_t
sample_frame(uint8_t *buf, size_t cap)
{
	struct gcdl_frame_hdr h;
	uint8_t payload[4 + 8];

	memset(&h, 0, sizeof(h));
	memset(payload, 0x5a, sizeof(payload));
	payload[0] = 0x3f; /* scale 0.5, big-endian */
	payload[1] = 0;
	payload[2] = 0;
	payload[3] = 0;
	h.type = GCDL_MSG_ONEBIT;
	h.job_id = 3;
	h.round = 4;
	h.sender = 1;
	h.coord_count = 64;
	h.scale_block = 64;
	h.payload_len = sizeof(payload);
	return (size_t)gcdl_frame_encode(&h, payload, buf, cap);
}

/* Every bit gcdl_faults_flip() may choose is caught by the receiver. */
START_TEST(flip_is_always_caught)
{
	uint8_t frame[128], work[128];
	struct gcdl_frame_limits lim;
	struct gcdl_frame_hdr h;
	const uint8_t *pl;
	size_t len = sample_frame(frame, sizeof(frame));
	size_t end = GCDL_FRAME_OVERHEAD + 12;
	long lo = 1L << 40, hi = -1;

	ck_assert_uint_eq(len, end); /* 62 bytes: no padding */
	memset(&lim, 0, sizeof(lim));
	lim.job_id = 3;
	lim.senders = 4;
	lim.dim = 64;
	lim.round_min = 0;
	lim.round_max = 10;
	lim.scale_block = 64;
	lim.chunk_coords[GCDL_MSG_ONEBIT] = 64;
	ck_assert_int_eq(gcdl_frame_decode(frame, len, &lim, &h, &pl), 0);
	ck_assert_int_eq(gcdl_faults_flip(NULL, len, 0), -EINVAL);
	ck_assert_int_eq(gcdl_faults_flip(work, GCDL_FRAME_OVERHEAD - 1, 0), -EINVAL);
	for (uint32_t i = 0; i < 4096; i++) {
		uint32_t flip = i * 1048576u + i; /* spread over the 32-bit range */
		long bit;

		memcpy(work, frame, len);
		bit = gcdl_faults_flip(work, len, flip);
		ck_assert_int_ge(bit, 12 * 8);
		ck_assert_int_lt(bit, (long)end * 8);
		lo = bit < lo ? bit : lo;
		hi = bit > hi ? bit : hi;
		ck_assert_int_eq(memcmp(work, frame, len) != 0, 1);
		ck_assert_msg(gcdl_frame_decode(work, len, &lim, &h, &pl) > 0,
			      "flip of bit %ld accepted", bit);
	}
	ck_assert_int_eq(lo, 12 * 8);
	ck_assert_int_eq(hi, (long)end * 8 - 1);
	memcpy(work, frame, len);
	ck_assert_int_eq(gcdl_faults_flip(work, len, UINT32_MAX), (long)end * 8 - 1);
}
END_TEST

START_TEST(hold_times)
{
	double fac[3] = { 1, 5, 1 }, ext[3] = { 0, 0, 300 };
	struct gcdl_faults f = model(0, 0, 0, 0, 1);

	f.workers = 3;
	f.slow_factor = fac;
	f.slow_extra_us = ext;
	ck_assert_double_eq(gcdl_faults_hold_us(NULL, 0, 100), 0.0);
	ck_assert_double_eq(gcdl_faults_hold_us(&f, 3, 100), 0.0);
	ck_assert_double_eq(gcdl_faults_hold_us(&f, 0, 100), 0.0);
	ck_assert_double_eq(gcdl_faults_hold_us(&f, 1, 100), 400.0);
	ck_assert_double_eq(gcdl_faults_hold_us(&f, 1, -5), 0.0);
	ck_assert_double_eq(gcdl_faults_hold_us(&f, 2, 100), 300.0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("faults");
	TCase *neg = tcase_create("negative");
	TCase *pos = tcase_create("positive");
	SRunner *sr;
	int failed;

	tcase_add_test(neg, slow_rejects_malformed);
	tcase_add_test(neg, plan_rejects_null);
	tcase_add_test(pos, slow_parses);
	tcase_add_test(pos, init_from_profile);
	tcase_add_test(pos, plan_extremes);
	tcase_add_test(pos, plan_reorder_window);
	tcase_add_test(pos, plan_rates);
	tcase_add_test(pos, flip_is_always_caught);
	tcase_add_test(pos, hold_times);
	tcase_set_timeout(pos, 60);
	suite_add_tcase(s, neg);
	suite_add_tcase(s, pos);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
