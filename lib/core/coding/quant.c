/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * 1-bit quantizers and packed-bit kernels.
 *
 * The public functions check their arguments and call the kernel table of
 * kernels.h (AVX2 or AVX-512 when the CPU has them). This file holds the
 * portable scalar reference path: its per-coordinate loops run over fixed
 * groups of 8 coordinates (one packed byte) so that gcc -O2, whose "very
 * cheap" cost model only vectorises loops with a known trip count, turns them
 * into SSE2 code; tails are plain scalar loops.
 */
#include <errno.h>
#include <string.h>

#include "gcdl/quant.h"
#include "gcdl/rng.h"
#include "kernels.h"

#define BATCH GCDL_KERNELS_BATCH /* a multiple of 32 */
#define SIGN_BIT 0x80000000u /* of a float32 */
#define EXP_MASK 0x7f800000u /* of a float32: all ones for inf and NaN */

uint32_t
gcdl_quant_blocks(uint32_t count, uint32_t scale_block)
{
	if (count == 0)
		return 0;
	if (scale_block == 0)
		return 1;
	return count / scale_block + (count % scale_block != 0);
}

size_t
gcdl_quant_packed_bytes(uint32_t count)
{
	return ((size_t)count + 7) / 8;
}

static inline uint32_t
f2u(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static inline float
u2f(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/* Pack 8 flags (bytes 0 or 1) into one byte, flag i at bit i: the multiply
 * moves byte i's low bit to bit 56 + i, with no two partial products meeting. */
static inline uint8_t
pack8(const uint8_t *flag)
{
	uint64_t x;

	memcpy(&x, flag, sizeof(x));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return (uint8_t)((x * UINT64_C(0x0102040810204080)) >> 56);
}

/* Pack n flags into ceil(n / 8) bytes; the unused high bits of the last byte
 * come out 0 since the flag buffer is zero-padded here. */
static void
pack_flags(uint8_t *flag, uint32_t n, uint8_t *bits)
{
	uint32_t nb = (n + 7) / 8;

	memset(flag + n, 0, (size_t)nb * 8 - n);
	for (uint32_t k = 0; k < nb; k++)
		bits[k] = pack8(flag + 8 * k);
}

/* Flags of n coordinates sharing the scale B (> 0): 0, 1, or 2 where the
 * tie-break byte decides. The half-words h convert exactly, and through
 * int32 so that the loop vectorises. */
static void
draw_flags(const float *restrict v, const uint16_t *restrict h, uint32_t n, float B,
	   uint8_t *restrict flag)
{
	for (; n >= 8; n -= 8, v += 8, h += 8, flag += 8)
		for (uint32_t k = 0; k < 8; k++)
			flag[k] = (uint8_t)gcdl_kernels_draw_hi(gcdl_kernels_p(v[k], B), h[k]);
	for (uint32_t k = 0; k < n; k++)
		flag[k] = (uint8_t)gcdl_kernels_draw_hi(gcdl_kernels_p(v[k], B), h[k]);
}

uint32_t
gcdl_kernels_tie_byte(uint64_t seed, uint32_t round, uint32_t worker, uint32_t chunk, uint32_t j)
{
	uint32_t w = 0;

	gcdl_rng_stream(seed, round, worker, chunk, GCDL_KERNELS_TIE_WORD + j / 4, &w, 1);
	return (w >> (8 * (j % 4))) & 0xff;
}

/* max over n values of their bits without the sign: the bits of max |v|
 * (finite values order like their bit patterns), >= EXP_MASK iff one is an
 * infinity or a NaN. */
static uint32_t
max_abs_bits_scalar(const float *v, uint32_t n)
{
	uint32_t m8[8] = { 0 }, m = 0, i = 0;

	for (; i + 8 <= n; i += 8)
		for (uint32_t k = 0; k < 8; k++) {
			uint32_t a = f2u(v[i + k]) & ~SIGN_BIT;

			m8[k] = a > m8[k] ? a : m8[k];
		}
	for (; i < n; i++) {
		uint32_t a = f2u(v[i]) & ~SIGN_BIT;

		m = a > m ? a : m;
	}
	for (uint32_t k = 0; k < 8; k++)
		m = m8[k] > m ? m8[k] : m;
	return m;
}

static void
onebit_scalar(const float *v, uint32_t count, uint32_t bs, uint64_t seed, uint32_t round,
	      uint32_t worker, uint32_t chunk, float *scales, uint8_t *bits)
{
	uint32_t words[BATCH / 2];
	uint16_t h[BATCH];
	uint8_t flag[BATCH];
	uint32_t blocks = gcdl_quant_blocks(count, bs);

	for (uint32_t b = 0; b < blocks; b++) {
		uint32_t first = b * bs;

		scales[b] = u2f(max_abs_bits_scalar(v + first,
						    count - first < bs ? count - first : bs));
	}
	for (uint32_t base = 0; base < count; base += BATCH) {
		uint32_t n = count - base < BATCH ? count - base : BATCH;

		/* coordinate j: half j % 2 (low half first) of word j / 2 */
		gcdl_rng_stream(seed, round, worker, chunk, base / 2, words, (n + 1) / 2);
		for (uint32_t i = 0; i < n; i++)
			h[i] = (uint16_t)(words[i / 2] >> (16 * (i % 2)));
		/* one segment per scale block met in this batch */
		for (uint32_t i = 0; i < n;) {
			uint32_t j = base + i, b = j / bs;
			uint64_t end = (uint64_t)b * bs + bs - base; /* batch-relative */
			uint32_t len = (uint32_t)(end < n ? end : n) - i;
			float B = scales[b];

			if (B == 0.0f)
				memset(flag + i, 0, len);
			else
				draw_flags(v + j, h + i, len, B, flag + i);
			i += len;
		}
		for (uint32_t i = 0; i < n; i++)
			if (flag[i] == 2) {
				uint32_t j = base + i;
				float p = gcdl_kernels_p(v[j], scales[j / bs]);

				flag[i] = (uint8_t)gcdl_kernels_tie_bit(
					p, h[i], gcdl_kernels_tie_byte(seed, round, worker, chunk, j));
			}
		pack_flags(flag, n, bits + base / 8);
	}
}

int
gcdl_quant_onebit(const float *v, uint32_t count, uint32_t scale_block, uint64_t seed,
		  uint32_t round, uint32_t worker, uint32_t chunk, float *scales, uint8_t *bits)
{
	const struct gcdl_kernels *k = gcdl_kernels_get();

	if (v == NULL || scales == NULL || bits == NULL || count == 0)
		return -EINVAL;
	/* a pass of its own, so that nothing is written for a bad chunk */
	if (k->max_abs_bits(v, count) >= EXP_MASK)
		return -EDOM;
	k->onebit(v, count, scale_block ? scale_block : count, seed, round, worker, chunk, scales,
		  bits);
	return 0;
}

static void
sign_scalar(const float *v, uint32_t count, uint8_t *bits)
{
	uint8_t flag[BATCH];

	for (uint32_t base = 0; base < count; base += BATCH) {
		uint32_t n = count - base < BATCH ? count - base : BATCH, i = 0;

		for (; i + 8 <= n; i += 8)
			for (uint32_t k = 0; k < 8; k++)
				flag[i + k] = v[base + i + k] >= 0.0f;
		for (; i < n; i++)
			flag[i] = v[base + i] >= 0.0f;
		pack_flags(flag, n, bits + base / 8);
	}
}

int
gcdl_quant_sign(const float *v, uint32_t count, uint8_t *bits)
{
	if (v == NULL || bits == NULL || count == 0)
		return -EINVAL;
	gcdl_kernels_get()->sign(v, count, bits);
	return 0;
}
/*
 * out[i] = s for a 1 bit, -s for a 0 bit, for n coordinates starting at bit
 * `first` of `bits`; acc != 0 adds instead of storing. The sign is flipped by
 * xor so that every value is exactly +-s.
 */
static inline float
signed_scale(uint32_t su, const uint8_t *bits, uint32_t j)
{
	return u2f(su ^ (((bits[j >> 3] >> (j & 7)) & 1) ? 0 : SIGN_BIT));
}

static inline void
expand(const uint8_t *restrict bits, uint32_t first, uint32_t n, float s, float *restrict out,
       int acc)
{
	/* a table, not 1u << k: this is the form gcc -O2 vectorises (pand, pcmpeqd) */
	static const uint32_t lane_bit[8] = { 1, 2, 4, 8, 16, 32, 64, 128 };
	const uint32_t su = f2u(s);
	const uint8_t *p;

	/* head up to a byte boundary */
	for (; n > 0 && (first & 7) != 0; n--, first++, out++)
		*out = acc ? *out + signed_scale(su, bits, first) : signed_scale(su, bits, first);
	p = bits + first / 8;
	for (; n >= 8; n -= 8, p++, out += 8) {
		const uint32_t byte = *p;

		for (uint32_t k = 0; k < 8; k++) {
			float x = u2f(su ^ ((byte & lane_bit[k]) == 0 ? SIGN_BIT : 0));

			out[k] = acc ? out[k] + x : x;
		}
	}
	for (uint32_t k = 0; k < n; k++)
		out[k] = acc ? out[k] + signed_scale(su, p, k) : signed_scale(su, p, k);
}

static void
expand_scalar(const uint8_t *bits, const float *scales, uint32_t count, uint32_t bs, float *out,
	      int acc)
{
	uint32_t blocks = gcdl_quant_blocks(count, bs);

	for (uint32_t b = 0; b < blocks; b++) {
		uint32_t first = b * bs, n = count - first < bs ? count - first : bs;
		float s = scales != NULL ? scales[b] : 1.0f;

		/* constant acc, so that each call gets its own loop */
		if (acc)
			expand(bits, first, n, s, out + first, 1);
		else
			expand(bits, first, n, s, out + first, 0);
	}
}

int
gcdl_quant_unpack(const uint8_t *bits, const float *scales, uint32_t count,
		  uint32_t scale_block, float *out)
{
	if (bits == NULL || out == NULL || count == 0)
		return -EINVAL;
	gcdl_kernels_get()->expand(bits, scales, count,
				   scales != NULL && scale_block != 0 ? scale_block : count, out, 0);
	return 0;
}

int
gcdl_quant_accumulate(float *acc, const uint8_t *bits, const float *scales, uint32_t count,
		      uint32_t scale_block)
{
	if (acc == NULL || bits == NULL || count == 0)
		return -EINVAL;
	gcdl_kernels_get()->expand(bits, scales, count,
				   scales != NULL && scale_block != 0 ? scale_block : count, acc, 1);
	return 0;
}

const struct gcdl_kernels gcdl_kernels_scalar = {
	.philox = gcdl_kernels_philox_scalar,
	.max_abs_bits = max_abs_bits_scalar,
	.onebit = onebit_scalar,
	.sign = sign_scalar,
	.expand = expand_scalar,
};
