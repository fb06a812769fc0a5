/* SPDX-License-Identifier: BSD-3-Clause */
/* The 1-bit quantizers and the packed-bit kernels. */
#include <check.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/quant.h"
#include "gcdl/rng.h"

#define MAXC 4200

static int
get_bit(const uint8_t *bits, uint32_t j)
{
	return (bits[j / 8] >> (j % 8)) & 1;
}

/* The 24-bit uniform U of coordinate j: its 16-bit half-word (half j % 2,
 * low half first, of stream word j / 2) above its tie-break byte (byte j % 4
 * of stream word 2^33 + j / 4). */
static uint32_t
ref_u24(uint64_t seed, uint32_t round, uint32_t worker, uint32_t chunk, uint32_t j)
{
	uint32_t w, t;

	ck_assert_int_eq(gcdl_rng_stream(seed, round, worker, chunk, j / 2, &w, 1), 0);
	ck_assert_int_eq(gcdl_rng_stream(seed, round, worker, chunk, (UINT64_C(1) << 33) + j / 4,
					 &t, 1),
			 0);
	return ((w >> (16 * (j % 2))) & 0xffff) << 8 | ((t >> (8 * (j % 4))) & 0xff);
}

/*
 * The header's definition, one coordinate at a time: scale = max |v| over the
 * block, bit j = 1 iff U_j * 2^-24 < (1 + v_j/B) / 2 in float, with the full
 * 24-bit U_j drawn for every coordinate (the kernels draw its low byte only
 * when the high 16 bits do not decide); bits 0 in a zero block and past count.
 */
static void
ref_onebit(const float *v, uint32_t count, uint32_t S, uint64_t seed, uint32_t round,
	   uint32_t worker, uint32_t chunk, float *scales, uint8_t *bits)
{
	uint32_t bs = S ? S : count;

	memset(bits, 0, (count + 7) / 8);
	for (uint32_t b = 0; b * bs < count; b++) {
		float m = 0.0f;

		for (uint32_t j = b * bs; j < count && j < b * bs + bs; j++)
			m = fmaxf(m, fabsf(v[j]));
		scales[b] = m;
	}
	for (uint32_t j = 0; j < count; j++) {
		float B = scales[j / bs], u, p;

		if (B == 0.0f)
			continue;
		u = (float)ref_u24(seed, round, worker, chunk, j) * 0x1.0p-24f;
		p = (1.0f + v[j] / B) / 2.0f;
		if (u < p)
			bits[j / 8] |= (uint8_t)(1u << (j % 8));
	}
}

/* Values with zeros, -0, ties of the block maximum, extremes and subnormals. */
static void
fill_values(float *v, uint32_t n, uint64_t seed)
{
	struct gcdl_rng r;

	gcdl_rng_init(&r, seed, GCDL_RNG_TEST, 1, 0);
	for (uint32_t j = 0; j < n; j++) {
		switch (gcdl_rng_below(&r, 16)) {
		case 0:
			v[j] = 0.0f;
			break;
		case 1:
			v[j] = -0.0f;
			break;
		case 2:
			v[j] = 1.0f;
			break;
		case 3:
			v[j] = -1.0f;
			break;
		case 4:
			v[j] = 1e-42f; /* subnormal */
			break;
		default:
			v[j] = (float)gcdl_rng_normal(&r);
		}
	}
}

START_TEST(sizes)
{
	ck_assert_uint_eq(gcdl_quant_blocks(0, 0), 0);
	ck_assert_uint_eq(gcdl_quant_blocks(0, 256), 0);
	ck_assert_uint_eq(gcdl_quant_blocks(1, 0), 1);
	ck_assert_uint_eq(gcdl_quant_blocks(1000, 0), 1);
	ck_assert_uint_eq(gcdl_quant_blocks(1000, 1), 1000);
	ck_assert_uint_eq(gcdl_quant_blocks(1000, 256), 4);
	ck_assert_uint_eq(gcdl_quant_blocks(1024, 256), 4);
	ck_assert_uint_eq(gcdl_quant_blocks(1025, 256), 5);
	ck_assert_uint_eq(gcdl_quant_blocks(5, UINT32_MAX), 1);
	ck_assert_uint_eq(gcdl_quant_blocks(UINT32_MAX, 2), UINT32_C(1) << 31);
	ck_assert_uint_eq(gcdl_quant_packed_bytes(0), 0);
	ck_assert_uint_eq(gcdl_quant_packed_bytes(1), 1);
	ck_assert_uint_eq(gcdl_quant_packed_bytes(8), 1);
	ck_assert_uint_eq(gcdl_quant_packed_bytes(9), 2);
	ck_assert_uint_eq(gcdl_quant_packed_bytes(UINT32_MAX), UINT32_C(1) << 29);
}
END_TEST

START_TEST(onebit_rejects)
{
	float v[20] = { 0.5f }, scales[4];
	uint8_t bits[4];

	ck_assert_int_eq(gcdl_quant_onebit(NULL, 20, 8, 1, 0, 0, 0, scales, bits), -EINVAL);
	ck_assert_int_eq(gcdl_quant_onebit(v, 20, 8, 1, 0, 0, 0, NULL, bits), -EINVAL);
	ck_assert_int_eq(gcdl_quant_onebit(v, 20, 8, 1, 0, 0, 0, scales, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_quant_onebit(v, 0, 8, 1, 0, 0, 0, scales, bits), -EINVAL);
}
END_TEST

START_TEST(onebit_rejects_nonfinite)
{
	static const float bad[] = { NAN, -NAN, INFINITY, -INFINITY };
	static const uint32_t where[] = { 0, 7, 8, 19 };
	float v[20], scales[4];
	uint8_t bits[4];

	for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++)
		for (size_t w = 0; w < sizeof(where) / sizeof(where[0]); w++) {
			for (int j = 0; j < 20; j++)
				v[j] = (float)j - 10.0f;
			v[where[w]] = bad[b];
			memset(scales, 0xa5, sizeof(scales));
			memset(bits, 0xa5, sizeof(bits));
			ck_assert_int_eq(gcdl_quant_onebit(v, 20, 8, 1, 0, 0, 0, scales, bits),
					 -EDOM);
			for (int i = 0; i < 4; i++) {
				uint32_t s;

				memcpy(&s, &scales[i], 4);
				ck_assert_uint_eq(s, 0xa5a5a5a5u);
				ck_assert_uint_eq(bits[i], 0xa5);
			}
			/* two or three at once, 8 apart */
			v[where[w] < 16 ? where[w] ^ 8 : where[w] - 8] = bad[b];
			ck_assert_int_eq(gcdl_quant_onebit(v, 20, 8, 1, 0, 0, 0, scales, bits),
					 -EDOM);
			v[16 + where[w] % 4] = bad[b];
			ck_assert_int_eq(gcdl_quant_onebit(v, 20, 8, 1, 0, 0, 0, scales, bits),
					 -EDOM);
		}
}
END_TEST

START_TEST(sign_unpack_accumulate_reject)
{
	float v[8] = { 0 }, out[8], sc[1] = { 1.0f };
	uint8_t bits[1] = { 0 };

	ck_assert_int_eq(gcdl_quant_sign(NULL, 8, bits), -EINVAL);
	ck_assert_int_eq(gcdl_quant_sign(v, 8, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_quant_sign(v, 0, bits), -EINVAL);
	ck_assert_int_eq(gcdl_quant_unpack(NULL, sc, 8, 0, out), -EINVAL);
	ck_assert_int_eq(gcdl_quant_unpack(bits, sc, 8, 0, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_quant_unpack(bits, sc, 0, 0, out), -EINVAL);
	ck_assert_int_eq(gcdl_quant_accumulate(NULL, bits, sc, 8, 0), -EINVAL);
	ck_assert_int_eq(gcdl_quant_accumulate(out, NULL, sc, 8, 0), -EINVAL);
	ck_assert_int_eq(gcdl_quant_accumulate(out, bits, sc, 0, 0), -EINVAL);
}
END_TEST

/* Coordinate j at bit j % 8 of byte j / 8, LSB first; high bits of the last byte 0. */
START_TEST(pack_bit_order)
{
	/* signs + - - + - - - - | + + -  ->  0b00001001, 0b00000011 */
	const float s[11] = { 1, -1, -1, 1, -1, -1, -1, -1, 1, 1, -1 };
	float v[11], scales[1];
	uint8_t bits[2];

	memset(bits, 0xff, sizeof(bits));
	ck_assert_int_eq(gcdl_quant_sign(s, 11, bits), 0);
	ck_assert_uint_eq(bits[0], 0x09);
	ck_assert_uint_eq(bits[1], 0x03);
	/* v = +-B is deterministic: probability 1 and 0 */
	for (int j = 0; j < 11; j++)
		v[j] = 2.5f * s[j];
	memset(bits, 0xff, sizeof(bits));
	ck_assert_int_eq(gcdl_quant_onebit(v, 11, 0, 1, 2, 3, 4, scales, bits), 0);
	ck_assert_float_eq(scales[0], 2.5f);
	ck_assert_uint_eq(bits[0], 0x09);
	ck_assert_uint_eq(bits[1], 0x03);
}
END_TEST

START_TEST(sign_quantizer)
{
	const float v[10] = { 0.0f, -0.0f, 1e-42f, -1e-42f, 3.0f, -3.0f, FLT_MAX, -FLT_MAX,
			      INFINITY, -INFINITY };
	uint8_t bits[2];
	float out[10];

	ck_assert_int_eq(gcdl_quant_sign(v, 10, bits), 0);
	/* 0 and -0 are >= 0: 1 1 1 0 1 0 1 0 | 1 0 */
	ck_assert_uint_eq(bits[0], 0x57);
	ck_assert_uint_eq(bits[1], 0x01);
	ck_assert_int_eq(gcdl_quant_unpack(bits, NULL, 10, 0, out), 0);
	for (int j = 0; j < 10; j++)
		ck_assert_float_eq(out[j], j % 2 == 0 || j == 1 ? 1.0f : -1.0f);
}
END_TEST

/* Bit-exact against the reference over sizes around bytes and batches, and
 * block sizes of 0, 1, unaligned, 8, dividing and not dividing the count. */
START_TEST(onebit_matches_definition)
{
	static const uint32_t counts[] = { 1, 7, 8, 9, 31, 33, 255, 256, 257, 1000, 1031, 4099 };
	static const uint32_t blocks[] = { 0, 1, 3, 8, 13, 256, 300, 5000 };
	float *v = malloc(MAXC * sizeof(float)), *sc = malloc(MAXC * sizeof(float));
	float *rsc = malloc(MAXC * sizeof(float));
	uint8_t bits[MAXC / 8 + 1], rbits[MAXC / 8 + 1];

	ck_assert(v != NULL && sc != NULL && rsc != NULL);
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
		for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
			uint32_t n = counts[c], S = blocks[b], nb = gcdl_quant_blocks(n, S);
			uint64_t seed = UINT64_C(0xfeedbeef00000000) + c * 16 + b;

			fill_values(v, n, seed);
			/* one block entirely zero, when there are several */
			if (nb > 2)
				memset(v + S, 0, S * sizeof(float));
			memset(bits, 0xff, sizeof(bits));
			ck_assert_int_eq(gcdl_quant_onebit(v, n, S, seed, 9, 4, 2, sc, bits), 0);
			ref_onebit(v, n, S, seed, 9, 4, 2, rsc, rbits);
			ck_assert_mem_eq(sc, rsc, nb * sizeof(float));
			ck_assert_msg(memcmp(bits, rbits, (n + 7) / 8) == 0,
				      "bits differ: count %u block %u", n, S);
			/* nothing past the packed bytes */
			ck_assert_uint_eq(bits[(n + 7) / 8], 0xff);
			if (nb > 2) {
				ck_assert_float_eq(sc[1], 0.0f);
				for (uint32_t j = S; j < 2 * S; j++)
					ck_assert_int_eq(get_bit(bits, j), 0);
			}
		}
	free(v);
	free(sc);
	free(rsc);
}
END_TEST

/* The comparison rule by hand: v = 0 gives p = 1/2, so bit = top bit of the
 * coordinate's half-word is 0; v = B/2 gives p = 3/4, so bit = its top two
 * bits are not both 1; v = -B/2 gives p = 1/4, so bit = both top bits are 0
 * (a p with 16 bits or fewer never needs the tie-break byte). */
START_TEST(onebit_rule_by_hand)
{
	enum { N = 300 };
	float v[N], sc[1];
	uint8_t bits[(N + 7) / 8];
	uint32_t w[N / 2];

	for (uint32_t j = 0; j < N; j++)
		v[j] = j % 3 == 0 ? 0.0f : j % 3 == 1 ? 2.0f : -2.0f;
	v[N - 1] = 4.0f; /* B = 4 */
	ck_assert_int_eq(gcdl_quant_onebit(v, N, 0, 77, 5, 6, 7, sc, bits), 0);
	ck_assert_int_eq(gcdl_rng_stream(77, 5, 6, 7, 0, w, N / 2), 0);
	ck_assert_float_eq(sc[0], 4.0f);
	for (uint32_t j = 0; j < N - 1; j++) {
		uint32_t h = (w[j / 2] >> (16 * (j % 2))) & 0xffff;
		int want = j % 3 == 0 ? (h >> 15) == 0 :
			   j % 3 == 1 ? (h >> 14) != 3 :
					(h >> 14) == 0;

		ck_assert_msg(get_bit(bits, j) == want, "coordinate %u", j);
	}
	ck_assert_int_eq(get_bit(bits, N - 1), 1);
	/* N = 300: 4 high bits of the last byte are unused */
	ck_assert_uint_eq(bits[N / 8] >> 4, 0);
}
END_TEST

/* The first coordinate from `from` on whose half-word is h (one 2^-16 draw
 * each: found within 2^22 coordinates but for a 2^-388 chance). */
static uint32_t
find_half(uint64_t seed, uint32_t round, uint32_t h, uint32_t from)
{
	static uint32_t w[4096];

	for (uint32_t base = from / 2 * 2; base < (UINT32_C(1) << 22); base += 8192) {
		ck_assert_int_eq(gcdl_rng_stream(seed, round, 0, 0, base / 2, w, 4096), 0);
		for (uint32_t i = 0; i < 8192; i++)
			if (base + i >= from && ((w[i / 2] >> (16 * (i % 2))) & 0xffff) == h)
				return base + i;
	}
	ck_abort_msg("no half-word %#x in the stream", h);
	return 0;
}

/* The comparison is strict: u = p gives 0. With p = 1/2 and a half-word of
 * 0x8000, u >= 1/2 whatever the tie-break byte; with p = 0 and a half-word of
 * 0, u >= 0 = p. */
START_TEST(onebit_rule_is_strict)
{
	uint32_t j = find_half(2024, 9, 0x8000, 1), k = find_half(2024, 9, 0, 1);
	uint32_t n = (j > k ? j : k) + 1;
	float *v = calloc(n, sizeof(float)), sc[1];
	uint8_t *bits = malloc((n + 7) / 8);

	ck_assert(v != NULL && bits != NULL);
	v[0] = 1.0f; /* B = 1; v = 0 elsewhere: p = 1/2 */
	ck_assert_int_eq(gcdl_quant_onebit(v, n, 0, 2024, 9, 0, 0, sc, bits), 0);
	ck_assert_int_eq(get_bit(bits, j), 0);
	ck_assert_int_eq(get_bit(bits, k), 1); /* u < 2^-8 < 1/2 */
	v[k] = -1.0f; /* p = 0 = u at best */
	ck_assert_int_eq(gcdl_quant_onebit(v, n, 0, 2024, 9, 0, 0, sc, bits), 0);
	ck_assert_int_eq(get_bit(bits, k), 0);
	free(v);
	free(bits);
}
END_TEST

/* Values whose p falls where the half-word does not decide, so the tie-break
 * byte must: every bit still follows the 24-bit definition, and both outcomes
 * of the byte occur. */
START_TEST(onebit_tie_break)
{
	enum { N = 3000 };
	static float v[N + 1], sc[1], rsc[1];
	static uint8_t bits[N / 8 + 1], rbits[N / 8 + 1];
	static uint32_t w[N / 2 + 1];
	uint32_t ties = 0, ones = 0;

	ck_assert_int_eq(gcdl_rng_stream(31, 4, 2, 1, 0, w, N / 2 + 1), 0);
	for (uint32_t j = 0; j < N; j++) {
		uint32_t h = (w[j / 2] >> (16 * (j % 2))) & 0xffff;
		/* p = (h * 256 + t) * 2^-24 with t in 1..255, through v = 2p - 1 */
		float p = (float)(h * 256 + 1 + j % 255) * 0x1.0p-24f;

		v[j] = 2.0f * p - 1.0f;
	}
	v[N] = 1.0f; /* B = 1 */
	ck_assert_int_eq(gcdl_quant_onebit(v, N + 1, 0, 31, 4, 2, 1, sc, bits), 0);
	ref_onebit(v, N + 1, 0, 31, 4, 2, 1, rsc, rbits);
	ck_assert_mem_eq(bits, rbits, sizeof(bits));
	for (uint32_t j = 0; j < N; j++) {
		uint32_t h = (w[j / 2] >> (16 * (j % 2))) & 0xffff;
		float p = (1.0f + v[j]) * 0.5f, u = (float)h * 0x1.0p-16f;

		if (u < p && !(u + 0x1.fep-17f < p)) {
			ties++;
			ones += (uint32_t)get_bit(bits, j);
		}
	}
	/* most values land in the tie zone; the byte decides both ways */
	ck_assert_uint_gt(ties, N / 2);
	ck_assert_uint_gt(ones, 0);
	ck_assert_uint_lt(ones, ties);
}
END_TEST

START_TEST(onebit_extremes_deterministic)
{
	/* v = +-B everywhere, including the largest floats: bits are the signs */
	float v[40], sc[5];
	uint8_t bits[5], sbits[5];

	for (int j = 0; j < 40; j++)
		v[j] = (j * 7) % 3 == 0 ? -FLT_MAX : FLT_MAX;
	for (uint32_t round = 0; round < 50; round++) {
		ck_assert_int_eq(gcdl_quant_onebit(v, 40, 8, 3, round, 0, 0, sc, bits), 0);
		ck_assert_int_eq(gcdl_quant_sign(v, 40, sbits), 0);
		ck_assert_mem_eq(bits, sbits, 5);
		for (int b = 0; b < 5; b++)
			ck_assert_float_eq(sc[b], FLT_MAX);
	}
}
END_TEST

/* S = 1: every coordinate is its own block with B = |v|, so the bits are the
 * signs (0 for a zero) and unpack gives v back exactly. */
START_TEST(block_size_one_is_exact)
{
	float v[40], sc[40], out[40];
	uint8_t bits[5];

	for (int j = 0; j < 40; j++)
		v[j] = (float)(j - 20) * 0.37f;
	for (uint32_t round = 0; round < 20; round++) {
		ck_assert_int_eq(gcdl_quant_onebit(v, 40, 1, 3, round, 0, 0, sc, bits), 0);
		for (int j = 0; j < 40; j++) {
			ck_assert_float_eq(sc[j], fabsf(v[j]));
			ck_assert_int_eq(get_bit(bits, j), v[j] > 0.0f);
		}
		ck_assert_int_eq(gcdl_quant_unpack(bits, sc, 40, 1, out), 0);
		for (int j = 0; j < 40; j++)
			ck_assert_float_eq(out[j], v[j]);
	}
}
END_TEST

START_TEST(unpack_by_hand)
{
	/* bytes 0x09 0x03: + - - + - - - - + + - */
	const uint8_t bits[2] = { 0x09, 0x03 };
	const int sgn[11] = { 1, -1, -1, 1, -1, -1, -1, -1, 1, 1, -1 };
	const float sc4[3] = { 1.0f, 2.0f, 3.0f }, sc3[4] = { 0.5f, 0.25f, 8.0f, 0.0f };
	float out[11], acc[11];

	ck_assert_int_eq(gcdl_quant_unpack(bits, NULL, 11, 4, out), 0);
	for (int j = 0; j < 11; j++)
		ck_assert_float_eq(out[j], (float)sgn[j]);
	ck_assert_int_eq(gcdl_quant_unpack(bits, sc4, 11, 0, out), 0);
	for (int j = 0; j < 11; j++)
		ck_assert_float_eq(out[j], (float)sgn[j]);
	ck_assert_int_eq(gcdl_quant_unpack(bits, sc4, 11, 4, out), 0);
	for (int j = 0; j < 11; j++)
		ck_assert_float_eq(out[j], sgn[j] * sc4[j / 4]);
	/* blocks of 3 do not start at byte boundaries; the last block has scale 0 */
	ck_assert_int_eq(gcdl_quant_unpack(bits, sc3, 11, 3, out), 0);
	for (int j = 0; j < 11; j++)
		ck_assert_float_eq(out[j], sgn[j] * sc3[j / 3]);
	for (int j = 0; j < 11; j++)
		acc[j] = (float)j;
	ck_assert_int_eq(gcdl_quant_accumulate(acc, bits, sc3, 11, 3), 0);
	ck_assert_int_eq(gcdl_quant_accumulate(acc, bits, NULL, 11, 3), 0);
	for (int j = 0; j < 11; j++)
		ck_assert_float_eq(acc[j], (float)j + sgn[j] * sc3[j / 3] + (float)sgn[j]);
}
END_TEST

/* unpack and accumulate agree with the bits one by one, for every block layout. */
START_TEST(roundtrips)
{
	static const uint32_t counts[] = { 1, 9, 64, 255, 1031, 4099 };
	static const uint32_t blocks[] = { 0, 1, 5, 8, 256, 300 };
	float *v = malloc(MAXC * sizeof(float)), *sc = malloc(MAXC * sizeof(float));
	float *out = malloc(MAXC * sizeof(float)), *acc = malloc(MAXC * sizeof(float));
	uint8_t bits[MAXC / 8 + 1];

	ck_assert(v != NULL && sc != NULL && out != NULL && acc != NULL);
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
		for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
			uint32_t n = counts[c], S = blocks[b], bs = S ? S : n;

			fill_values(v, n, 100 + c * 16 + b);
			ck_assert_int_eq(gcdl_quant_onebit(v, n, S, 5, 1, 2, 3, sc, bits), 0);
			for (uint32_t j = 0; j < n; j++)
				acc[j] = 0.25f * (float)j;
			ck_assert_int_eq(gcdl_quant_unpack(bits, sc, n, S, out), 0);
			ck_assert_int_eq(gcdl_quant_accumulate(acc, bits, sc, n, S), 0);
			for (uint32_t j = 0; j < n; j++) {
				float B = sc[j / bs], want = get_bit(bits, j) ? B : -B;

				ck_assert_float_eq(out[j], want);
				ck_assert_float_eq(acc[j], 0.25f * (float)j + want);
				/* the estimate has v's sign whenever |v| = B */
				if (fabsf(v[j]) == B && B > 0.0f)
					ck_assert_float_eq(out[j], v[j]);
			}
			/* signs through unit scales */
			ck_assert_int_eq(gcdl_quant_sign(v, n, bits), 0);
			ck_assert_int_eq(gcdl_quant_unpack(bits, NULL, n, S, out), 0);
			for (uint32_t j = 0; j < n; j++)
				ck_assert_float_eq(out[j], v[j] >= 0.0f ? 1.0f : -1.0f);
		}
	free(v);
	free(sc);
	free(out);
	free(acc);
}
END_TEST

/*
 * Unbiasedness and variance over T = 4000 rounds (each round a fresh stream).
 * Per coordinate x = B (2b - 1) has mean v and variance s2 = B^2 - v^2, so the
 * mean of T draws is within 5 sqrt(s2/T) of v; with 200 coordinates the union
 * bound gives a false alarm below 200 * 5.7e-7 = 1.2e-4 (normal approximation;
 * |v| <= 0.9 B keeps both outcomes frequent). The variance estimate
 * mean((x - v)^2) has mean s2 and variance m4 - s2^2 with
 * m4 = q (B - v)^4 + (1 - q) (B + v)^4, q = (1 + v/B)/2: same 5 sd bound.
 * Coordinates with |v| = B have variance 0 and must be exact.
 */
START_TEST(onebit_unbiased)
{
	enum { N = 200, S = 64, T = 4000 };
	float v[N], sc[4], x[N];
	double sum[N] = { 0 }, sq[N] = { 0 };
	uint8_t bits[N / 8];
	struct gcdl_rng r;

	gcdl_rng_init(&r, 21, GCDL_RNG_TEST, 0, 0);
	for (uint32_t j = 0; j < N; j++)
		v[j] = (float)(1.8 * gcdl_rng_uniform(&r) - 0.9);
	/* block maxima: +-1 at one coordinate of each block (last block: 8 coords) */
	v[0] = 1.0f;
	v[S + 5] = -1.0f;
	v[2 * S + 63] = 1.0f;
	v[3 * S + 2] = -1.0f;
	v[10] = 0.0f;
	for (uint32_t t = 0; t < T; t++) {
		ck_assert_int_eq(gcdl_quant_onebit(v, N, S, 1234, t, 1, 0, sc, bits), 0);
		ck_assert_int_eq(gcdl_quant_unpack(bits, sc, N, S, x), 0);
		for (uint32_t j = 0; j < N; j++) {
			sum[j] += x[j];
			sq[j] += ((double)x[j] - v[j]) * ((double)x[j] - v[j]);
		}
	}
	for (int b = 0; b < 4; b++)
		ck_assert_float_eq(sc[b], 1.0f);
	for (uint32_t j = 0; j < N; j++) {
		double B = 1.0, vj = v[j], s2 = B * B - vj * vj, q = (1 + vj / B) / 2;
		double m4 = q * pow(B - vj, 4) + (1 - q) * pow(B + vj, 4);
		double mean = sum[j] / T, var = sq[j] / T;

		if (s2 == 0.0) {
			ck_assert_double_eq(mean, vj);
			continue;
		}
		ck_assert_msg(fabs(mean - vj) <= 5 * sqrt(s2 / T), "coord %u: mean %g v %g", j,
			      mean, vj);
		ck_assert_msg(fabs(var - s2) <= 5 * sqrt((m4 - s2 * s2) / T),
			      "coord %u: var %g want %g", j, var, s2);
	}
}
END_TEST

START_TEST(regeneration)
{
	enum { N = 1024 };
	float v[N], sc[4], sc2[4];
	uint8_t a[N / 8], b[N / 8];
	struct gcdl_rng r;
	/* seed, round, worker, chunk: the base and one change of each */
	static const uint64_t sel[][4] = { { 9, 3, 2, 1 },  { 10, 3, 2, 1 }, { 9, 4, 2, 1 },
					   { 9, 3, 3, 1 },  { 9, 3, 2, 2 },  { 9, 2, 3, 1 },
					   { UINT64_C(9) | (UINT64_C(1) << 33), 3, 2, 1 } };

	gcdl_rng_init(&r, 22, GCDL_RNG_TEST, 0, 0);
	for (int j = 0; j < N; j++)
		v[j] = (float)(gcdl_rng_uniform(&r) - 0.5);
	ck_assert_int_eq(gcdl_quant_onebit(v, N, 256, 9, 3, 2, 1, sc, a), 0);
	ck_assert_int_eq(gcdl_quant_onebit(v, N, 256, 9, 3, 2, 1, sc2, b), 0);
	ck_assert_mem_eq(a, b, sizeof(a));
	ck_assert_mem_eq(sc, sc2, sizeof(sc));
	/* with q = (1 + v/B)/2, an independent stream gives another bit with
	 * probability 2q(1-q); q is about uniform on [0, 1] here, so on average
	 * 1/3 of the 1024 bits differ (341, sd <= 16): 100 or fewer is > 15 sd off */
	for (size_t s = 1; s < sizeof(sel) / sizeof(sel[0]); s++) {
		int diff = 0;

		uint32_t round = (uint32_t)sel[s][1], worker = (uint32_t)sel[s][2];

		ck_assert_int_eq(gcdl_quant_onebit(v, N, 256, sel[s][0], round, worker,
						   (uint32_t)sel[s][3], sc2, b),
				 0);
		ck_assert_mem_eq(sc, sc2, sizeof(sc));
		for (int j = 0; j < N; j++)
			diff += get_bit(a, j) != get_bit(b, j);
		ck_assert_msg(diff > 100, "selector %zu: only %d bits differ", s, diff);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("quant");
	TCase *neg = tcase_create("negative");
	TCase *pos = tcase_create("positive");
	SRunner *sr;
	int failed;

	tcase_add_test(neg, onebit_rejects);
	tcase_add_test(neg, onebit_rejects_nonfinite);
	tcase_add_test(neg, sign_unpack_accumulate_reject);
	tcase_add_test(pos, sizes);
	tcase_add_test(pos, pack_bit_order);
	tcase_add_test(pos, sign_quantizer);
	tcase_add_test(pos, onebit_matches_definition);
	tcase_add_test(pos, onebit_rule_by_hand);
	tcase_add_test(pos, onebit_rule_is_strict);
	tcase_add_test(pos, onebit_tie_break);
	tcase_add_test(pos, onebit_extremes_deterministic);
	tcase_add_test(pos, block_size_one_is_exact);
	tcase_add_test(pos, unpack_by_hand);
	tcase_add_test(pos, roundtrips);
	tcase_add_test(pos, onebit_unbiased);
	tcase_add_test(pos, regeneration);
	tcase_set_timeout(pos, 60);
	suite_add_tcase(s, neg);
	suite_add_tcase(s, pos);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
