/* SPDX-License-Identifier: BSD-3-Clause */
/* The aggregator: contributor sets, duplicates, decoders. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/agg.h"
#include "gcdl/quant.h"
#include "gcdl/rng.h"

START_TEST(decoder_names_reject)
{
	enum gcdl_decoder d = GCDL_DECODER_UNBIASED;

	ck_assert_int_eq(gcdl_decoder_parse(NULL, &d), -EINVAL);
	ck_assert_int_eq(gcdl_decoder_parse("unbiased", NULL), -EINVAL);
	ck_assert_int_eq(gcdl_decoder_parse("", &d), -EINVAL);
	ck_assert_int_eq(gcdl_decoder_parse("Normalised", &d), -EINVAL);
	ck_assert_int_eq(gcdl_decoder_parse("normalised ", &d), -EINVAL);
	ck_assert_int_eq(gcdl_decoder_parse("majority", &d), -EINVAL);
	ck_assert_int_eq(d, GCDL_DECODER_UNBIASED); /* untouched */
	ck_assert_str_eq(gcdl_decoder_name(GCDL_DECODER__COUNT), "unknown");
	ck_assert_str_eq(gcdl_decoder_name((enum gcdl_decoder)99), "unknown");
	ck_assert_str_eq(gcdl_decoder_name((enum gcdl_decoder)-1), "unknown");
}
END_TEST

START_TEST(create_rejects)
{
	errno = 0;
	ck_assert_ptr_null(gcdl_agg_create(0, 10, 4));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(gcdl_agg_create(GCDL_AGG_MAX_WORKERS + 1, 10, 4));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(gcdl_agg_create(4, 0, 4));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(gcdl_agg_create(4, 10, 0));
	ck_assert_int_eq(errno, EINVAL);
	gcdl_agg_free(NULL);
}
END_TEST

START_TEST(null_aggregator)
{
	float g[4], v[4] = { 0 }, sc[1] = { 1 };
	uint8_t bits[1] = { 0 };

	ck_assert_int_eq(gcdl_agg_reset(NULL), -EINVAL);
	ck_assert_uint_eq(gcdl_agg_chunks(NULL), 0);
	ck_assert_uint_eq(gcdl_agg_chunk_len(NULL, 0), 0);
	ck_assert(!gcdl_agg_has(NULL, 0, 0));
	ck_assert_uint_eq(gcdl_agg_contributors(NULL, 0), 0);
	ck_assert_uint_eq(gcdl_agg_total_contributions(NULL), 0);
	ck_assert_int_eq(gcdl_agg_add_onebit(NULL, 0, 0, sc, 0, bits, 4), -EINVAL);
	ck_assert_int_eq(gcdl_agg_add_float(NULL, 0, 0, v, 4), -EINVAL);
	ck_assert_int_eq(gcdl_agg_add_sign(NULL, 0, 0, bits, 4), -EINVAL);
	ck_assert_int_eq(gcdl_agg_decode(NULL, GCDL_DECODER_NORMALISED, 0.0, g, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_agg_decode_majority(NULL, g), -EINVAL);
}
END_TEST

/* Every rejected add leaves the round exactly as it was. */
static void
assert_round_is(const struct gcdl_agg *a, const float *want, uint32_t dim, uint64_t total)
{
	float g[16];

	ck_assert_uint_le(dim, 16);
	ck_assert_uint_eq(gcdl_agg_total_contributions(a), total);
	/* p = 0: the unbiased decoder returns the raw sums */
	ck_assert_int_eq(gcdl_agg_decode(a, GCDL_DECODER_UNBIASED, 0.0, g, NULL), 0);
	for (uint32_t j = 0; j < dim; j++)
		ck_assert_float_eq(g[j], want[j]);
}

START_TEST(add_rejects)
{
	/* N = 3, dim 10 in chunks of 4: lengths 4, 4, 2 */
	struct gcdl_agg *a = gcdl_agg_create(3, 10, 4);
	const float v[4] = { 1.0f, 2.0f, 3.0f, 4.0f }, sc[2] = { 0.5f, 0.25f };
	const uint8_t bits[1] = { 0x05 };
	float want[10] = { 0 };

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(gcdl_agg_add_float(a, 0, 0, NULL, 4), -EINVAL);
	ck_assert_int_eq(gcdl_agg_add_onebit(a, 0, 0, NULL, 0, bits, 4), -EINVAL);
	ck_assert_int_eq(gcdl_agg_add_onebit(a, 0, 0, sc, 0, NULL, 4), -EINVAL);
	ck_assert_int_eq(gcdl_agg_add_sign(a, 0, 0, NULL, 4), -EINVAL);
	/* worker or chunk out of range */
	ck_assert_int_eq(gcdl_agg_add_float(a, 3, 0, v, 4), -ERANGE);
	ck_assert_int_eq(gcdl_agg_add_float(a, UINT32_MAX, 0, v, 4), -ERANGE);
	ck_assert_int_eq(gcdl_agg_add_float(a, 0, 3, v, 4), -ERANGE);
	ck_assert_int_eq(gcdl_agg_add_onebit(a, 3, 0, sc, 0, bits, 4), -ERANGE);
	ck_assert_int_eq(gcdl_agg_add_onebit(a, 0, 3, sc, 0, bits, 4), -ERANGE);
	ck_assert_int_eq(gcdl_agg_add_sign(a, 3, 0, bits, 4), -ERANGE);
	ck_assert_int_eq(gcdl_agg_add_sign(a, 0, 3, bits, 4), -ERANGE);
	/* count differs from the chunk's length */
	ck_assert_int_eq(gcdl_agg_add_float(a, 0, 0, v, 3), -EMSGSIZE);
	ck_assert_int_eq(gcdl_agg_add_float(a, 0, 0, v, 0), -EMSGSIZE);
	ck_assert_int_eq(gcdl_agg_add_float(a, 0, 2, v, 4), -EMSGSIZE);
	ck_assert_int_eq(gcdl_agg_add_onebit(a, 0, 1, sc, 0, bits, 5), -EMSGSIZE);
	ck_assert_int_eq(gcdl_agg_add_sign(a, 0, 2, bits, 3), -EMSGSIZE);
	assert_round_is(a, want, 10, 0);
	ck_assert(!gcdl_agg_has(a, 0, 0));

	/* a duplicate, of any kind, is refused and changes nothing */
	ck_assert_int_eq(gcdl_agg_add_float(a, 1, 0, v, 4), 0);
	for (int j = 0; j < 4; j++)
		want[j] = v[j];
	assert_round_is(a, want, 10, 1);
	ck_assert_int_eq(gcdl_agg_add_float(a, 1, 0, v, 4), -EALREADY);
	ck_assert_int_eq(gcdl_agg_add_onebit(a, 1, 0, sc, 2, bits, 4), -EALREADY);
	ck_assert_int_eq(gcdl_agg_add_sign(a, 1, 0, bits, 4), -EALREADY);
	assert_round_is(a, want, 10, 1);
	ck_assert_uint_eq(gcdl_agg_contributors(a, 0), 1);
	/* bits 0x05 = + - + -, blocks of 2 with scales 0.5 and 0.25 */
	ck_assert_int_eq(gcdl_agg_add_onebit(a, 2, 1, sc, 2, bits, 4), 0);
	want[4] = 0.5f;
	want[5] = -0.5f;
	want[6] = 0.25f;
	want[7] = -0.25f;
	ck_assert_int_eq(gcdl_agg_add_onebit(a, 2, 1, sc, 2, bits, 4), -EALREADY);
	ck_assert_int_eq(gcdl_agg_add_float(a, 2, 1, v, 4), -EALREADY);
	assert_round_is(a, want, 10, 2);
	/* the last, shorter chunk */
	ck_assert_int_eq(gcdl_agg_add_sign(a, 0, 2, bits, 2), 0);
	want[8] = 1.0f;
	want[9] = -1.0f;
	ck_assert_int_eq(gcdl_agg_add_sign(a, 0, 2, bits, 2), -EALREADY);
	assert_round_is(a, want, 10, 3);
	gcdl_agg_free(a);
}
END_TEST

START_TEST(decode_rejects)
{
	struct gcdl_agg *a = gcdl_agg_create(2, 4, 4);
	static const double bad_p[] = { -0.1, 1.0, 1.5, NAN, INFINITY, -INFINITY };
	float g[4] = { 7, 7, 7, 7 };
	uint32_t empty = 99;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(gcdl_agg_decode(a, GCDL_DECODER_NORMALISED, 0.0, NULL, &empty), -EINVAL);
	ck_assert_int_eq(gcdl_agg_decode(a, GCDL_DECODER__COUNT, 0.0, g, &empty), -EINVAL);
	ck_assert_int_eq(gcdl_agg_decode(a, (enum gcdl_decoder)-1, 0.0, g, &empty), -EINVAL);
	for (size_t i = 0; i < sizeof(bad_p) / sizeof(bad_p[0]); i++) {
		ck_assert_int_eq(gcdl_agg_decode(a, GCDL_DECODER_UNBIASED, bad_p[i], g, &empty),
				 -EINVAL);
		ck_assert_int_eq(gcdl_agg_decode(a, GCDL_DECODER_NORMALISED, bad_p[i], g, &empty),
				 -EINVAL);
	}
	ck_assert_int_eq(gcdl_agg_decode_majority(a, NULL), -EINVAL);
	/* nothing written on a rejection */
	ck_assert_uint_eq(empty, 99);
	for (int j = 0; j < 4; j++)
		ck_assert_float_eq(g[j], 7.0f);
	gcdl_agg_free(a);
}
END_TEST

START_TEST(decoder_names)
{
	enum gcdl_decoder d;

	ck_assert_int_eq(gcdl_decoder_parse("unbiased", &d), 0);
	ck_assert_int_eq(d, GCDL_DECODER_UNBIASED);
	ck_assert_int_eq(gcdl_decoder_parse("normalised", &d), 0);
	ck_assert_int_eq(d, GCDL_DECODER_NORMALISED);
	d = GCDL_DECODER_UNBIASED;
	ck_assert_int_eq(gcdl_decoder_parse("normalized", &d), 0);
	ck_assert_int_eq(d, GCDL_DECODER_NORMALISED);
	ck_assert_str_eq(gcdl_decoder_name(GCDL_DECODER_NORMALISED), "normalised");
	ck_assert_str_eq(gcdl_decoder_name(GCDL_DECODER_UNBIASED), "unbiased");
}
END_TEST

START_TEST(geometry_and_bitmaps)
{
	struct gcdl_agg *a = gcdl_agg_create(GCDL_AGG_MAX_WORKERS, 10, 4);
	static const uint32_t who[] = { 0, 63, 64, 65, 127, 128, 2047, 4095 };
	const float v[4] = { 1, 1, 1, 1 };

	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(gcdl_agg_chunks(a), 3);
	ck_assert_uint_eq(gcdl_agg_chunk_len(a, 0), 4);
	ck_assert_uint_eq(gcdl_agg_chunk_len(a, 1), 4);
	ck_assert_uint_eq(gcdl_agg_chunk_len(a, 2), 2);
	ck_assert_uint_eq(gcdl_agg_chunk_len(a, 3), 0);
	for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++)
		ck_assert_int_eq(gcdl_agg_add_float(a, who[i], 1, v, 4), 0);
	for (uint32_t k = 0; k < GCDL_AGG_MAX_WORKERS; k++) {
		int in = 0;

		for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++)
			in |= who[i] == k;
		ck_assert_int_eq(gcdl_agg_has(a, k, 1), in);
		ck_assert(!gcdl_agg_has(a, k, 0));
		ck_assert(!gcdl_agg_has(a, k, 2));
	}
	ck_assert(!gcdl_agg_has(a, GCDL_AGG_MAX_WORKERS, 1));
	ck_assert(!gcdl_agg_has(a, 0, 3));
	ck_assert_uint_eq(gcdl_agg_contributors(a, 1), 8);
	ck_assert_uint_eq(gcdl_agg_contributors(a, 0), 0);
	ck_assert_uint_eq(gcdl_agg_contributors(a, 3), 0);
	ck_assert_uint_eq(gcdl_agg_total_contributions(a), 8);
	gcdl_agg_free(a);

	/* one chunk holding everything, chunk larger than dim */
	a = gcdl_agg_create(1, 3, 1000);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(gcdl_agg_chunks(a), 1);
	ck_assert_uint_eq(gcdl_agg_chunk_len(a, 0), 3);
	gcdl_agg_free(a);
}
END_TEST

START_TEST(decode_by_hand)
{
	/* N = 4, dim 10, chunks of 4 (4, 4, 2) */
	struct gcdl_agg *a = gcdl_agg_create(4, 10, 4);
	const float v0[4] = { 1.0f, -2.0f, 0.5f, 0.0f }, v2[4] = { 3.0f, 2.0f, -0.5f, 1.0f };
	const float v3[2] = { 0.25f, -8.0f };
	float g[10];
	uint32_t empty = 99;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(gcdl_agg_add_float(a, 0, 0, v0, 4), 0);
	ck_assert_int_eq(gcdl_agg_add_float(a, 2, 0, v2, 4), 0);
	ck_assert_int_eq(gcdl_agg_add_float(a, 3, 2, v3, 2), 0);
	/* chunk 0: 4/2 * (v0 + v2); chunk 1 empty: 0; chunk 2: 4/1 * v3 */
	for (int j = 0; j < 10; j++)
		g[j] = 42.0f;
	ck_assert_int_eq(gcdl_agg_decode(a, GCDL_DECODER_NORMALISED, 0.9, g, &empty), 0);
	ck_assert_uint_eq(empty, 1);
	for (int j = 0; j < 4; j++)
		ck_assert_float_eq(g[j], 2.0f * (v0[j] + v2[j]));
	for (int j = 4; j < 8; j++)
		ck_assert_float_eq(g[j], 0.0f);
	ck_assert_float_eq(g[8], 1.0f);
	ck_assert_float_eq(g[9], -32.0f);
	/* unbiased, p = 0.75: every chunk times 4 */
	for (int j = 0; j < 10; j++)
		g[j] = 42.0f;
	empty = 99;
	ck_assert_int_eq(gcdl_agg_decode(a, GCDL_DECODER_UNBIASED, 0.75, g, &empty), 0);
	ck_assert_uint_eq(empty, 1);
	for (int j = 0; j < 4; j++)
		ck_assert_float_eq(g[j], 4.0f * (v0[j] + v2[j]));
	for (int j = 4; j < 8; j++)
		ck_assert_float_eq(g[j], 0.0f);
	ck_assert_float_eq(g[8], 1.0f);
	ck_assert_float_eq(g[9], -32.0f);
	/* empty may be NULL */
	ck_assert_int_eq(gcdl_agg_decode(a, GCDL_DECODER_UNBIASED, 0.0, g, NULL), 0);
	ck_assert_float_eq(g[9], -8.0f);
	gcdl_agg_free(a);
}
END_TEST

/* Chunks long enough for the grouped loops (16, 16, 5 coordinates): every kind
 * of contribution lands on its own coordinates, and decodes scale them. */
START_TEST(sums_over_long_chunks)
{
	enum { N = 3, DIM = 37, L = 16 };
	struct gcdl_agg *a = gcdl_agg_create(N, DIM, L);
	float v[N][DIM], want[DIM] = { 0 }, g[DIM], sc[2], out[L];
	uint8_t bits[2];

	ck_assert_ptr_nonnull(a);
	for (int k = 0; k < N; k++)
		for (int j = 0; j < DIM; j++)
			v[k][j] = (float)((j * 5 + k * 3) % 13 - 6) * 0.25f;
	for (uint32_t c = 0; c < 3; c++) {
		uint32_t len = gcdl_agg_chunk_len(a, c), first = c * L;

		/* worker 0 float, worker 1 1-bit with blocks of 8, worker 2 signs */
		ck_assert_int_eq(gcdl_agg_add_float(a, 0, c, &v[0][first], len), 0);
		ck_assert_int_eq(gcdl_quant_onebit(&v[1][first], len, 8, 5, 0, 1, c, sc, bits), 0);
		ck_assert_int_eq(gcdl_agg_add_onebit(a, 1, c, sc, 8, bits, len), 0);
		ck_assert_int_eq(gcdl_quant_unpack(bits, sc, len, 8, out), 0);
		for (uint32_t j = 0; j < len; j++)
			want[first + j] = v[0][first + j] + out[j];
		ck_assert_int_eq(gcdl_quant_sign(&v[2][first], len, bits), 0);
		ck_assert_int_eq(gcdl_agg_add_sign(a, 2, c, bits, len), 0);
		for (uint32_t j = 0; j < len; j++)
			want[first + j] += v[2][first + j] >= 0.0f ? 1.0f : -1.0f;
	}
	/* all multiples of 1/4 (scales are |v| maxima): the sums are exact */
	ck_assert_int_eq(gcdl_agg_decode(a, GCDL_DECODER_UNBIASED, 0.0, g, NULL), 0);
	for (int j = 0; j < DIM; j++)
		ck_assert_msg(g[j] == want[j], "coordinate %d: %g, want %g", j, g[j], want[j]);
	ck_assert_int_eq(gcdl_agg_decode(a, GCDL_DECODER_UNBIASED, 0.5, g, NULL), 0);
	for (int j = 0; j < DIM; j++)
		ck_assert_float_eq(g[j], 2.0f * want[j]);
	ck_assert_int_eq(gcdl_agg_decode_majority(a, g), 0);
	for (int j = 0; j < DIM; j++)
		ck_assert_float_eq(g[j], want[j] > 0 ? 1.0f : want[j] < 0 ? -1.0f : 0.0f);
	gcdl_agg_free(a);
}
END_TEST

/* With every contribution equal to v, N/|R| * |R| v = N v for any R != {}:
 * the values are multiples of 1/8 so the float sums are exact. */
START_TEST(normalised_exact_for_equal_contributions)
{
	enum { N = 7, DIM = 11, L = 4 };
	struct gcdl_agg *a = gcdl_agg_create(N, DIM, L);
	float v[DIM], g[DIM];
	struct gcdl_rng r;

	ck_assert_ptr_nonnull(a);
	for (int j = 0; j < DIM; j++)
		v[j] = (float)(j - 5) * 0.125f;
	gcdl_rng_init(&r, 31, GCDL_RNG_STRAGGLER, 0, 0);
	for (int t = 0; t < 200; t++) {
		uint32_t empty;

		gcdl_agg_reset(a);
		for (uint32_t c = 0; c < 3; c++) {
			uint32_t mask = 1 + gcdl_rng_below(&r, (1u << N) - 1); /* R != {} */
			uint32_t len = gcdl_agg_chunk_len(a, c);

			for (uint32_t k = 0; k < N; k++) {
				if (!(mask >> k & 1))
					continue;
				ck_assert_int_eq(gcdl_agg_add_float(a, k, c, v + c * L, len), 0);
			}
			ck_assert_uint_eq(gcdl_agg_contributors(a, c), __builtin_popcount(mask));
		}
		ck_assert_int_eq(gcdl_agg_decode(a, GCDL_DECODER_NORMALISED, 0.0, g, &empty), 0);
		ck_assert_uint_eq(empty, 0);
		for (int j = 0; j < DIM; j++)
			ck_assert_float_eq(g[j], N * v[j]);
	}
	gcdl_agg_free(a);
}
END_TEST

/*
 * Exact mean and variance of one coordinate of the decoded gradient, by
 * enumerating the 2^N arrival sets R of its chunk (each worker arrives with
 * probability 1 - p, independently). Worker k contributes a value with mean
 * m[k] and variance s2[k] (0 for float32 contributions, B^2 - v^2 for the
 * 1-bit quantizer), independent across workers and of R.
 */
static void
exact_moments(enum gcdl_decoder dec, double p, uint32_t n, const double *m, const double *s2,
	      double *mean, double *var)
{
	double e1 = 0.0, e2 = 0.0;

	for (uint32_t R = 0; R < (1u << n); R++) {
		uint32_t size = (uint32_t)__builtin_popcount(R);
		double pr = pow(1 - p, size) * pow(p, n - size), f, cm = 0.0, cv = 0.0;

		if (size == 0)
			continue; /* decodes to 0 */
		f = dec == GCDL_DECODER_UNBIASED ? 1.0 / (1.0 - p) : (double)n / size;
		for (uint32_t k = 0; k < n; k++)
			if (R >> k & 1) {
				cm += m[k];
				cv += s2[k];
			}
		e1 += pr * f * cm;
		e2 += pr * (f * f * cv + f * f * cm * cm);
	}
	*mean = e1;
	*var = e2 - e1 * e1;
}

enum { UN = 6, UDIM = 10, UL = 4, UCHUNKS = 3, US = 2 };

/* Per-worker vectors with different sizes and signs, so that which workers
 * arrive matters. */
static void
worker_vectors(float v[UN][UDIM])
{
	for (int k = 0; k < UN; k++)
		for (int j = 0; j < UDIM; j++)
			v[k][j] = (float)(((k * 7 + j * 3) % 11) - 5) * 0.1f * (float)(k + 1);
}

/* Worker k's chunk c, as float32 or through the 1-bit quantizer (blocks of US,
 * the stream keyed by round t). */
static void
contribute(struct gcdl_agg *a, int onebit, const float *x, uint32_t t, uint32_t k, uint32_t c)
{
	uint32_t len = gcdl_agg_chunk_len(a, c);
	float sc[UL];
	uint8_t bits[1];

	if (!onebit) {
		ck_assert_int_eq(gcdl_agg_add_float(a, k, c, x, len), 0);
		return;
	}
	ck_assert_int_eq(gcdl_quant_onebit(x, len, US, 77, t, k, c, sc, bits), 0);
	ck_assert_int_eq(gcdl_agg_add_onebit(a, k, c, sc, US, bits, len), 0);
}

/*
 * Over random stragglers (each worker's frame for each chunk lost with
 * probability p, from a seeded generator) the average of T decodes has the
 * exact mean of exact_moments, which is sum_k v_k for the unbiased decoder and
 * (1 - p^N) sum_k v_k for the normalised one (R = {} decodes to 0; otherwise,
 * given |R|, R is a uniform subset and N/|R| undoes the thinning). The
 * tolerance is 5 sd of the average, sqrt(var/T); over 2 * 10 coordinates the
 * union bound puts a false alarm near 1e-5.
 */
static void
check_unbiased(int onebit)
{
	enum { T = 20000 };
	const double p = 0.3;
	struct gcdl_agg *a = gcdl_agg_create(UN, UDIM, UL);
	float v[UN][UDIM], q[2][UDIM];
	double sum[2][UDIM] = { { 0 } }, sumsq[UDIM] = { 0 };
	double m[UN], s2[UN];
	struct gcdl_rng r;

	ck_assert_ptr_nonnull(a);
	worker_vectors(v);
	gcdl_rng_init(&r, onebit ? 41 : 42, GCDL_RNG_STRAGGLER, 0, 0);
	for (uint32_t t = 0; t < T; t++) {
		gcdl_agg_reset(a);
		for (uint32_t c = 0; c < UCHUNKS; c++)
			for (uint32_t k = 0; k < UN; k++)
				if (gcdl_rng_uniform(&r) >= p)
					contribute(a, onebit, &v[k][c * UL], t, k, c);
		for (int d = 0; d < 2; d++) {
			enum gcdl_decoder dec = (enum gcdl_decoder)d;

			ck_assert_int_eq(gcdl_agg_decode(a, dec, p, q[d], NULL), 0);
			for (int j = 0; j < UDIM; j++)
				sum[d][j] += q[d][j];
		}
		for (int j = 0; j < UDIM; j++) {
			double x = q[GCDL_DECODER_UNBIASED][j];

			sumsq[j] += x * x;
		}
	}
	for (int j = 0; j < UDIM; j++) {
		double total = 0.0;

		for (int k = 0; k < UN; k++) {
			/* the scale of the block of 2 holding j */
			int b0 = j - j % US;
			double B = fmax(fabs(v[k][b0]), fabs(v[k][b0 + 1]));

			m[k] = v[k][j];
			s2[k] = onebit ? B * B - m[k] * m[k] : 0.0;
			total += m[k];
		}
		for (int d = 0; d < 2; d++) {
			double mean, var, avg = sum[d][j] / T;

			exact_moments((enum gcdl_decoder)d, p, UN, m, s2, &mean, &var);
			if (d == GCDL_DECODER_UNBIASED)
				ck_assert_double_eq_tol(mean, total, 1e-9);
			else
				ck_assert_double_eq_tol(mean, (1 - pow(p, UN)) * total, 1e-9);
			/* + 1e-5 for the float rounding of the sums */
			ck_assert_msg(fabs(avg - mean) <= 5 * sqrt(var / T) + 1e-5,
				      "%s coord %d: average %g, expected %g (sd %g)",
				      d ? "unbiased" : "normalised", j, avg, mean, sqrt(var / T));
		}
		/* the spread matches too (unbiased decoder): the second moment's
		 * average is within 5 sd, bounding Var(g^2) by max(g^2) * E[g^2] */
		{
			double mean, var, m2, gmax = 0.0;

			exact_moments(GCDL_DECODER_UNBIASED, p, UN, m, s2, &mean, &var);
			m2 = var + mean * mean;
			for (int k = 0; k < UN; k++) {
				int b0 = j - j % US;
				double B = onebit ? fmax(fabs(v[k][b0]), fabs(v[k][b0 + 1])) :
						    fabs(v[k][j]);

				gmax += B / (1 - p);
			}
			ck_assert_msg(fabs(sumsq[j] / T - m2) <= 5 * sqrt(gmax * gmax * m2 / T),
				      "coord %d: E[g^2] %g, expected %g", j, sumsq[j] / T, m2);
		}
	}
	gcdl_agg_free(a);
}

START_TEST(decoders_unbiased_float)
{
	check_unbiased(0);
}
END_TEST

START_TEST(decoders_unbiased_onebit)
{
	check_unbiased(1);
}
END_TEST

START_TEST(majority_by_hand)
{
	/* N = 4, dim 9 in chunks of 4: 4, 4, 1. Bit j of a byte is the vote on
	 * coordinate j of the chunk (1: +1, 0: -1). Chunk 0, workers 0..3:
	 *   coordinate 0: + + + -  sum  2 -> +1
	 *   coordinate 1: - - - +  sum -2 -> -1
	 *   coordinate 2: + + - -  sum  0 ->  0 (tie)
	 *   coordinate 3: + - - -  sum -2 -> -1 */
	struct gcdl_agg *a = gcdl_agg_create(4, 9, 4);
	const uint8_t c0[4] = { 0x0d, 0x05, 0x01, 0x02 };
	/* chunk 1, workers 0 and 1 only: + + - - and + - - -: sums 2, 0, -2, -2 */
	const uint8_t c1[2] = { 0x03, 0x01 };
	const float want[9] = { 1, -1, 0, -1, 1, 0, -1, -1, 0 }; /* chunk 2: no votes */
	float g[9];

	ck_assert_ptr_nonnull(a);
	for (uint32_t k = 0; k < 4; k++)
		ck_assert_int_eq(gcdl_agg_add_sign(a, k, 0, &c0[k], 4), 0);
	for (uint32_t k = 0; k < 2; k++)
		ck_assert_int_eq(gcdl_agg_add_sign(a, k, 1, &c1[k], 4), 0);
	for (int j = 0; j < 9; j++)
		g[j] = 42.0f;
	ck_assert_int_eq(gcdl_agg_decode_majority(a, g), 0);
	for (int j = 0; j < 9; j++)
		ck_assert_msg(g[j] == want[j], "coordinate %d: %g, want %g", j, g[j], want[j]);
	/* a round with a single vote: it decides */
	gcdl_agg_reset(a);
	ck_assert_int_eq(gcdl_agg_add_sign(a, 3, 2, &c1[1], 1), 0);
	ck_assert_int_eq(gcdl_agg_decode_majority(a, g), 0);
	ck_assert_float_eq(g[8], 1.0f);
	ck_assert_float_eq(g[0], 0.0f);
	gcdl_agg_free(a);
}
END_TEST

START_TEST(reset_clears)
{
	struct gcdl_agg *a = gcdl_agg_create(3, 6, 4);
	const float v[4] = { 1, 2, 3, 4 };
	float g[6];
	uint32_t empty;

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(gcdl_agg_add_float(a, 0, 0, v, 4), 0);
	ck_assert_int_eq(gcdl_agg_add_float(a, 2, 1, v, 2), 0);
	ck_assert_uint_eq(gcdl_agg_total_contributions(a), 2);
	ck_assert_int_eq(gcdl_agg_reset(a), 0);
	ck_assert_uint_eq(gcdl_agg_total_contributions(a), 0);
	ck_assert_uint_eq(gcdl_agg_contributors(a, 0), 0);
	ck_assert_uint_eq(gcdl_agg_contributors(a, 1), 0);
	ck_assert(!gcdl_agg_has(a, 0, 0));
	ck_assert(!gcdl_agg_has(a, 2, 1));
	ck_assert_int_eq(gcdl_agg_decode(a, GCDL_DECODER_NORMALISED, 0.0, g, &empty), 0);
	ck_assert_uint_eq(empty, 2);
	ck_assert_int_eq(gcdl_agg_decode_majority(a, g), 0);
	for (int j = 0; j < 6; j++)
		ck_assert_float_eq(g[j], 0.0f);
	/* the same worker may contribute again, into cleared accumulators */
	ck_assert_int_eq(gcdl_agg_add_float(a, 0, 0, v, 4), 0);
	ck_assert_int_eq(gcdl_agg_decode(a, GCDL_DECODER_UNBIASED, 0.0, g, &empty), 0);
	ck_assert_uint_eq(empty, 1);
	for (int j = 0; j < 4; j++)
		ck_assert_float_eq(g[j], v[j]);
	gcdl_agg_free(a);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("agg");
	TCase *neg = tcase_create("negative");
	TCase *pos = tcase_create("positive");
	SRunner *sr;
	int failed;

	tcase_add_test(neg, decoder_names_reject);
	tcase_add_test(neg, create_rejects);
	tcase_add_test(neg, null_aggregator);
	tcase_add_test(neg, add_rejects);
	tcase_add_test(neg, decode_rejects);
	tcase_add_test(pos, decoder_names);
	tcase_add_test(pos, geometry_and_bitmaps);
	tcase_add_test(pos, decode_by_hand);
	tcase_add_test(pos, sums_over_long_chunks);
	tcase_add_test(pos, normalised_exact_for_equal_contributions);
	tcase_add_test(pos, decoders_unbiased_float);
	tcase_add_test(pos, decoders_unbiased_onebit);
	tcase_add_test(pos, majority_by_hand);
	tcase_add_test(pos, reset_clears);
	tcase_set_timeout(pos, 60);
	suite_add_tcase(s, neg);
	suite_add_tcase(s, pos);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
