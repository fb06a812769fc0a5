/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The kernel paths: every path the CPU has gives the same bits as the scalar
 * reference, for the frame RNG, quantize+pack, sign+pack, unpack and
 * accumulate, over lengths, scale blocks and alignments that hit every head,
 * tail and block-boundary case of the SIMD loops.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/kernels.h"
#include "gcdl/quant.h"
#include "gcdl/rng.h"

#define MAXC 5000
#define GUARD 64 /* bytes after each output that no kernel may touch */

static const uint32_t counts[] = { 1,   2,	 7,   8,   9,	15,  16,  17,  31,   32,  33,	63,
				   64,	65,  100, 255, 256, 257, 511, 513, 1000, 4097, MAXC };
static const uint32_t blocks[] = { 0, 1, 3, 7, 8, 9, 15, 16, 17, 24, 64, 100, 256, 300, 1 << 20 };

static void
select_or_fail(enum gcdl_kernels_path p)
{
	ck_assert_int_eq(gcdl_kernels_select(p), 0);
	ck_assert_int_eq(gcdl_kernels_active(), p);
}

/* Values with zeros, -0, ties of the block maximum, subnormals, normals. */
static void
fill_values(float *v, uint32_t n, uint32_t seed)
{
	struct gcdl_rng r;

	gcdl_rng_init(&r, seed, GCDL_RNG_TEST, 2, 0);
	for (uint32_t j = 0; j < n; j++) {
		switch (gcdl_rng_below(&r, 12)) {
		case 0:
			v[j] = 0.0f;
			break;
		case 1:
			v[j] = -0.0f;
			break;
		case 2:
			v[j] = 3.0f;
			break;
		case 3:
			v[j] = 1e-42f;
			break;
		default:
			v[j] = (float)gcdl_rng_normal(&r);
		}
	}
}

START_TEST(select_rejects)
{
	ck_assert_int_eq(gcdl_kernels_select((enum gcdl_kernels_path)-1), -EINVAL);
	ck_assert_int_eq(gcdl_kernels_select(GCDL_KERNELS_NPATHS), -EINVAL);
	ck_assert_int_eq(gcdl_kernels_parse(NULL), -EINVAL);
	ck_assert_int_eq(gcdl_kernels_parse("avx3"), -EINVAL);
	ck_assert_int_eq(gcdl_kernels_parse(""), -EINVAL);
	ck_assert_int_eq(gcdl_kernels_parse("scalar"), GCDL_KERNELS_SCALAR);
	ck_assert_int_eq(gcdl_kernels_parse("avx2"), GCDL_KERNELS_AVX2);
	ck_assert_int_eq(gcdl_kernels_parse("avx512"), GCDL_KERNELS_AVX512);
	ck_assert_str_eq(gcdl_kernels_name(GCDL_KERNELS_AVX512), "avx512");
	ck_assert_str_eq(gcdl_kernels_name(GCDL_KERNELS_NPATHS), "?");
	ck_assert_int_eq(gcdl_kernels_available(GCDL_KERNELS_SCALAR), 1);
	ck_assert_int_eq(gcdl_kernels_available(GCDL_KERNELS_NPATHS), 0);
	for (int p = 0; p < GCDL_KERNELS_NPATHS; p++)
		if (!gcdl_kernels_available((enum gcdl_kernels_path)p)) {
			/* refused, and the path in use stays */
			enum gcdl_kernels_path cur = gcdl_kernels_active();

			ck_assert_int_eq(gcdl_kernels_select((enum gcdl_kernels_path)p), -ENOTSUP);
			ck_assert_int_eq(gcdl_kernels_active(), cur);
		}
}
END_TEST

/* The stream from many starting words and lengths, against the scalar path. */
START_TEST(rng_paths_agree)
{
	static const uint64_t firsts[] = { 0, 1, 3, 4, 31, 32, 1000, (UINT64_C(1) << 32) - 3,
					   (UINT64_C(1) << 34) - 700 };
	static uint32_t ref[700], got[700 + GUARD];

	for (int p = 1; p < GCDL_KERNELS_NPATHS; p++) {
		if (!gcdl_kernels_available((enum gcdl_kernels_path)p))
			continue;
		for (size_t f = 0; f < sizeof(firsts) / sizeof(firsts[0]); f++)
			for (uint32_t n = 1; n <= 700; n += n < 70 ? 1 : 97) {
				select_or_fail(GCDL_KERNELS_SCALAR);
				ck_assert_int_eq(gcdl_rng_stream(0x1234567890abcdefULL, 5, 6, 7,
								 firsts[f], ref, n),
						 0);
				select_or_fail((enum gcdl_kernels_path)p);
				memset(got, 0xa5, sizeof(got));
				ck_assert_int_eq(gcdl_rng_stream(0x1234567890abcdefULL, 5, 6, 7,
								 firsts[f], got, n),
						 0);
				ck_assert_msg(memcmp(ref, got, n * 4) == 0, "%s: first %llu n %u",
					      gcdl_kernels_name(p), (unsigned long long)firsts[f], n);
				ck_assert_uint_eq(got[n], 0xa5a5a5a5u);
			}
	}
}
END_TEST

/* Values whose p = (1 + v/B)/2 falls where the coordinate's half-word
 * (stream 99, 3, 4, 5) does not decide, so the tie-break byte must; every
 * block holds a 1, so B = 1. */
static void
fill_ties(float *v, uint32_t n, uint32_t S)
{
	static uint32_t w[MAXC / 2 + 1];
	uint32_t bs = S ? S : n;

	ck_assert_int_eq(gcdl_rng_stream(99, 3, 4, 5, 0, w, n / 2 + 1), 0);
	for (uint32_t j = 0; j < n; j++) {
		uint32_t h = (w[j / 2] >> (16 * (j % 2))) & 0xffff;

		v[j] = 2.0f * ((float)(h * 256 + 1 + j % 255) * 0x1.0p-24f) - 1.0f;
	}
	for (uint32_t j = 0; j < n; j += bs)
		v[j] = 1.0f;
}

/* Every kernel on one (count, S, misalignment), path p against scalar. */
static void
compare(enum gcdl_kernels_path p, uint32_t count, uint32_t S, uint32_t mis, int ties)
{
	static float vbuf[MAXC + 16], acc0[MAXC + 16];
	static float rs[MAXC + GUARD], gs[MAXC + GUARD];
	static uint8_t rb[MAXC / 8 + GUARD], gb[MAXC / 8 + GUARD];
	static float ro[MAXC + GUARD], go[MAXC + GUARD];
	float *v = vbuf + mis;
	uint32_t nb = gcdl_quant_blocks(count, S);
	size_t pb = gcdl_quant_packed_bytes(count);
	char what[96];

	snprintf(what, sizeof(what), "%s: count %u S %u misalign %u ties %d", gcdl_kernels_name(p),
		 count, S, mis, ties);
	if (ties)
		fill_ties(v, count, S);
	else
		fill_values(v, count, count * 131 + S);
	fill_values(acc0, count, count + 7);

	/* quantize + pack */
	select_or_fail(GCDL_KERNELS_SCALAR);
	memset(rb, 0xa5, sizeof(rb));
	ck_assert_int_eq(gcdl_quant_onebit(v, count, S, 99, 3, 4, 5, rs, rb), 0);
	select_or_fail(p);
	memset(gb, 0xa5, sizeof(gb));
	memset(gs, 0xa5, sizeof(gs));
	ck_assert_int_eq(gcdl_quant_onebit(v, count, S, 99, 3, 4, 5, gs, gb), 0);
	ck_assert_msg(memcmp(rs, gs, nb * 4) == 0, "scales differ, %s", what);
	ck_assert_msg(memcmp(rb, gb, pb) == 0, "onebit bits differ, %s", what);
	ck_assert_msg(gb[pb] == 0xa5 && gb[pb + GUARD - 1] == 0xa5, "onebit overran, %s", what);
	ck_assert_msg(((uint8_t *)gs)[nb * 4] == 0xa5,
		      "scales overran, %s", what);
	/* unused high bits of the last byte are 0 */
	if (count % 8)
		ck_assert_uint_eq(gb[pb - 1] >> (count % 8), 0);

	/* unpack and accumulate, with scales and without */
	for (int with = 0; with < 2; with++) {
		const float *sc = with ? rs : NULL;

		select_or_fail(GCDL_KERNELS_SCALAR);
		memset(ro, 0xa5, sizeof(ro));
		ck_assert_int_eq(gcdl_quant_unpack(rb, sc, count, S, ro), 0);
		select_or_fail(p);
		memset(go, 0xa5, sizeof(go));
		ck_assert_int_eq(gcdl_quant_unpack(rb, sc, count, S, go), 0);
		ck_assert_msg(memcmp(ro, go, count * 4) == 0, "unpack differs (scales %d), %s",
			      with, what);
		ck_assert_msg(memcmp(ro + count, go + count, GUARD * 4) == 0, "unpack overran, %s",
			      what);

		select_or_fail(GCDL_KERNELS_SCALAR);
		memcpy(ro, acc0, count * 4);
		ck_assert_int_eq(gcdl_quant_accumulate(ro, rb, sc, count, S), 0);
		select_or_fail(p);
		memcpy(go, acc0, count * 4);
		ck_assert_int_eq(gcdl_quant_accumulate(go, rb, sc, count, S), 0);
		ck_assert_msg(memcmp(ro, go, count * 4) == 0,
			      "accumulate differs (scales %d), %s", with, what);
		ck_assert_msg(memcmp(ro + count, go + count, GUARD * 4) == 0,
			      "accumulate overran, %s", what);
	}

	/* sign + pack */
	select_or_fail(GCDL_KERNELS_SCALAR);
	memset(rb, 0xa5, sizeof(rb));
	ck_assert_int_eq(gcdl_quant_sign(v, count, rb), 0);
	select_or_fail(p);
	memset(gb, 0xa5, sizeof(gb));
	ck_assert_int_eq(gcdl_quant_sign(v, count, gb), 0);
	ck_assert_msg(memcmp(rb, gb, pb + GUARD) == 0, "sign differs or overran, %s", what);
}

START_TEST(quant_paths_agree)
{
	int tested = 0;

	for (int p = 1; p < GCDL_KERNELS_NPATHS; p++) {
		if (!gcdl_kernels_available((enum gcdl_kernels_path)p))
			continue;
		tested++;
		for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
			for (size_t s = 0; s < sizeof(blocks) / sizeof(blocks[0]); s++)
				for (int ties = 0; ties < 2; ties++)
					compare((enum gcdl_kernels_path)p, counts[c], blocks[s],
						(uint32_t)(c + s + ties) % 4, ties);
	}
	fprintf(stderr, "test_kernels: %d SIMD path(s) compared with scalar\n", tested);
}
END_TEST

/* The non-finite check holds on every path, wherever the bad value sits. */
START_TEST(nonfinite_on_every_path)
{
	static float v[300];
	float sc[300];
	uint8_t bits[40];

	for (int p = 0; p < GCDL_KERNELS_NPATHS; p++) {
		if (!gcdl_kernels_available((enum gcdl_kernels_path)p))
			continue;
		select_or_fail((enum gcdl_kernels_path)p);
		for (uint32_t where = 0; where < 300; where += 13) {
			fill_values(v, 300, where);
			v[where] = where % 2 ? INFINITY : -NAN;
			ck_assert_int_eq(gcdl_quant_onebit(v, 300, 16, 1, 0, 0, 0, sc, bits), -EDOM);
			v[where] = 3.0e38f; /* the largest finite values pass */
			ck_assert_int_eq(gcdl_quant_onebit(v, 300, 16, 1, 0, 0, 0, sc, bits), 0);
			ck_assert_float_eq(sc[where / 16], 3.0e38f);
		}
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("kernels");
	TCase *neg = tcase_create("negative");
	TCase *pos = tcase_create("positive");
	SRunner *sr;
	int failed;

	tcase_add_test(neg, select_rejects);
	tcase_add_test(neg, nonfinite_on_every_path);
	tcase_add_test(pos, rng_paths_agree);
	tcase_add_test(pos, quant_paths_agree);
	tcase_set_timeout(pos, 120);
	suite_add_tcase(s, neg);
	suite_add_tcase(s, pos);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
