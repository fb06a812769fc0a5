/* SPDX-License-Identifier: BSD-3-Clause */
/* Straggler models and round deadlines. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/deadline.h"
#include "gcdl/profile.h"
#include "gcdl/straggler.h"

START_TEST(kind_parse_rejects)
{
	enum gcdl_straggler_kind k;

	ck_assert_int_eq(gcdl_straggler_kind_parse(NULL, &k), -EINVAL);
	ck_assert_int_eq(gcdl_straggler_kind_parse("timing", NULL), -EINVAL);
	ck_assert_int_eq(gcdl_straggler_kind_parse("Timing", &k), -EINVAL);
	ck_assert_int_eq(gcdl_straggler_kind_parse("timing", &k), 0);
	ck_assert_int_eq(k, GCDL_STRAGGLER_TIMING);
}
END_TEST

START_TEST(slowdown_rejects_malformed)
{
	static const char *const bad[] = { "a:2", "1", "1:", "1:x", "5:2", "1:0.5", "1:inf",
					   "1:2,", "1:2;2:3", "-1:2", ":2", "1:2 3:4" };
	double f[5];

	ck_assert_int_eq(gcdl_straggler_parse_slowdown(NULL, 5, f), -EINVAL);
	ck_assert_int_eq(gcdl_straggler_parse_slowdown("", 5, NULL), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(gcdl_straggler_parse_slowdown(bad[i], 5, f) == -EINVAL,
			      "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(deadline_rejects_null)
{
	struct gcdl_profile p;
	struct gcdl_deadline dl;

	gcdl_profile_defaults(&p);
	ck_assert_int_eq(gcdl_deadline_init(NULL, &p), -EINVAL);
	ck_assert_int_eq(gcdl_deadline_init(&dl, NULL), -EINVAL);
	gcdl_deadline_observe(NULL, 5.0); /* ignored, no crash */
	ck_assert_double_eq(gcdl_deadline_current(NULL), 0.0);
	ck_assert_int_eq(gcdl_deadline_init(&dl, &p), 0);
}
END_TEST

START_TEST(from_profile_rejects)
{
	struct gcdl_straggler_model m;
	struct gcdl_profile p;
	double slow[8];

	gcdl_profile_defaults(&p);
	p.workers = 4;
	ck_assert_int_eq(gcdl_straggler_from_profile(NULL, &p, slow), -EINVAL);
	ck_assert_int_eq(gcdl_straggler_from_profile(&m, NULL, slow), -EINVAL);
	ck_assert_int_eq(gcdl_straggler_from_profile(&m, &p, NULL), -EINVAL);
	strcpy(p.slowdown, "4:2"); /* worker 4 of 0..3 */
	ck_assert_int_eq(gcdl_straggler_from_profile(&m, &p, slow), -EINVAL);
}
END_TEST

START_TEST(from_profile_copies)
{
	struct gcdl_straggler_model m;
	struct gcdl_profile p;
	double slow[4];

	gcdl_profile_defaults(&p);
	p.workers = 4;
	p.straggler_model = GCDL_STRAGGLER_TIMING;
	p.straggler_p = 0.25;
	p.shift_us = 1000;
	p.mean_us = 500;
	strcpy(p.slowdown, "2:3");
	ck_assert_int_eq(gcdl_straggler_from_profile(&m, &p, slow), 0);
	ck_assert_int_eq(m.kind, GCDL_STRAGGLER_TIMING);
	ck_assert_double_eq(m.p, 0.25);
	ck_assert_double_eq(m.shift_us, 1000);
	ck_assert_double_eq(m.mean_us, 500);
	ck_assert_uint_eq(m.workers, 4);
	ck_assert_ptr_eq(m.slowdown, slow);
	ck_assert_double_eq(slow[0], 1.0);
	ck_assert_double_eq(slow[2], 3.0);
	ck_assert_double_eq(slow[3], 1.0);
}
END_TEST

START_TEST(slowdown_parses)
{
	double f[5];

	ck_assert_int_eq(gcdl_straggler_parse_slowdown("", 5, f), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_double_eq(f[i], 1.0);
	ck_assert_int_eq(gcdl_straggler_parse_slowdown(" 1:2.5, 4:4 ", 5, f), 0);
	ck_assert_double_eq(f[0], 1.0);
	ck_assert_double_eq(f[1], 2.5);
	ck_assert_double_eq(f[2], 1.0);
	ck_assert_double_eq(f[4], 4.0);
}
END_TEST

START_TEST(none_and_null_never_straggle)
{
	struct gcdl_straggler_model m = { .kind = GCDL_STRAGGLER_NONE, .p = 0.9 };

	for (uint32_t t = 0; t < 100; t++) {
		ck_assert(!gcdl_straggler_is(&m, 1, t, 0, 0.0));
		ck_assert(!gcdl_straggler_is(NULL, 1, t, 0, 0.0));
	}
	ck_assert_double_eq(gcdl_straggler_compute_us(&m, 1, 0, 0), 0.0);
	ck_assert_double_eq(gcdl_straggler_compute_us(NULL, 1, 0, 0), 0.0);
}
END_TEST

START_TEST(bernoulli_rate_and_determinism)
{
	/* n = 20 workers * 10000 rounds draws; the fraction has standard deviation
	 * sqrt(p(1-p)/n) = 8.9e-4 for p = 0.2; 5 sigma = 4.5e-3. */
	struct gcdl_straggler_model m = { .kind = GCDL_STRAGGLER_BERNOULLI, .p = 0.2 };
	const uint32_t workers = 20, rounds = 10000;
	uint64_t hits = 0, same_pair = 0;

	for (uint32_t t = 0; t < rounds; t++) {
		for (uint32_t k = 0; k < workers; k++) {
			bool s = gcdl_straggler_is(&m, 42, t, k, 0.0);

			ck_assert(s == gcdl_straggler_is(&m, 42, t, k, 0.0));
			hits += s;
		}
		/* workers 0 and 1 both stragglers: p^2 = 0.04, sd sqrt(.04*.96/1e4) = 2e-3 */
		same_pair += gcdl_straggler_is(&m, 42, t, 0, 0) && gcdl_straggler_is(&m, 42, t, 1, 0);
	}
	ck_assert(fabs((double)hits / (workers * rounds) - 0.2) < 4.5e-3);
	ck_assert(fabs((double)same_pair / rounds - 0.04) < 1e-2);
	m.p = 0.0;
	for (uint32_t t = 0; t < 1000; t++)
		ck_assert(!gcdl_straggler_is(&m, 42, t, 3, 0.0));
}
END_TEST

START_TEST(timing_model)
{
	/* compute time = f * (shift + Exp(mean)); its mean is f*(shift+mean) and
	 * its sd f*mean, so the sample mean over n=20000 has sd f*mean/141;
	 * we allow 5 sd. */
	double slow[3] = { 1.0, 1.0, 5.0 };
	struct gcdl_straggler_model m = { .kind = GCDL_STRAGGLER_TIMING, .shift_us = 1000,
					  .mean_us = 500, .workers = 3, .slowdown = slow };
	const uint32_t n = 20000;
	double sum0 = 0, sum2 = 0;
	uint32_t late0 = 0;

	for (uint32_t t = 0; t < n; t++) {
		double a = gcdl_straggler_compute_us(&m, 7, t, 0);
		double c = gcdl_straggler_compute_us(&m, 7, t, 2);

		ck_assert(a >= 1000.0);
		ck_assert(c >= 5000.0);
		ck_assert_double_eq(a, gcdl_straggler_compute_us(&m, 7, t, 0));
		ck_assert(gcdl_straggler_is(&m, 7, t, 0, 1800.0) == (a > 1800.0));
		/* worker 2 is 5x slower: always past a 2 ms deadline */
		ck_assert(gcdl_straggler_is(&m, 7, t, 2, 2000.0));
		sum0 += a;
		sum2 += c;
		late0 += a > 1800.0;
	}
	ck_assert(fabs(sum0 / n - 1500.0) < 5 * 500.0 / sqrt(n));
	ck_assert(fabs(sum2 / n - 7500.0) < 5 * 2500.0 / sqrt(n));
	/* P(Exp(500) > 800) = exp(-1.6) = 0.2019; sd sqrt(.2*.8/2e4) = 2.8e-3 */
	ck_assert(fabs((double)late0 / n - exp(-1.6)) < 1.5e-2);
}
END_TEST

START_TEST(deadline_fixed_and_adaptive)
{
	struct gcdl_profile p;
	struct gcdl_deadline dl;

	gcdl_profile_defaults(&p);
	p.deadline_us = 1234;
	gcdl_deadline_init(&dl, &p);
	gcdl_deadline_observe(&dl, 99999);
	ck_assert_double_eq(gcdl_deadline_current(&dl), 1234);

	p.deadline_mode = GCDL_DEADLINE_ADAPTIVE;
	p.deadline_quantile = 0.8;
	p.deadline_min_us = 10;
	p.deadline_max_us = 90;
	gcdl_deadline_init(&dl, &p);
	ck_assert_double_eq(gcdl_deadline_current(&dl), 90); /* nothing observed yet */
	for (int i = 100; i >= 1; i--)
		gcdl_deadline_observe(&dl, i);
	gcdl_deadline_observe(&dl, NAN);
	gcdl_deadline_observe(&dl, -5);
	ck_assert_uint_eq(dl.count, 100);
	ck_assert_double_eq(gcdl_deadline_current(&dl), 80); /* 80th of 1..100 */
	p.deadline_max_us = 50;
	gcdl_deadline_init(&dl, &p);
	for (int i = 1; i <= 100; i++)
		gcdl_deadline_observe(&dl, i);
	ck_assert_double_eq(gcdl_deadline_current(&dl), 50); /* clamped */
	p.deadline_min_us = 100;
	p.deadline_max_us = 200;
	gcdl_deadline_init(&dl, &p);
	gcdl_deadline_observe(&dl, 3);
	ck_assert_double_eq(gcdl_deadline_current(&dl), 100);
	/* the window forgets: 256 new large values replace the old ones */
	for (int i = 0; i < GCDL_DEADLINE_WINDOW; i++)
		gcdl_deadline_observe(&dl, 150);
	ck_assert_double_eq(gcdl_deadline_current(&dl), 150);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("straggler");
	TCase *neg = tcase_create("negative");
	TCase *pos = tcase_create("positive");
	SRunner *sr;
	int failed;

	tcase_add_test(neg, kind_parse_rejects);
	tcase_add_test(neg, slowdown_rejects_malformed);
	tcase_add_test(neg, deadline_rejects_null);
	tcase_add_test(neg, from_profile_rejects);
	tcase_add_test(pos, slowdown_parses);
	tcase_add_test(pos, from_profile_copies);
	tcase_add_test(pos, none_and_null_never_straggle);
	tcase_add_test(pos, bernoulli_rate_and_determinism);
	tcase_add_test(pos, timing_model);
	tcase_add_test(pos, deadline_fixed_and_adaptive);
	suite_add_tcase(s, neg);
	suite_add_tcase(s, pos);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
