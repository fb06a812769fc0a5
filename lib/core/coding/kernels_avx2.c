/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The AVX2 path of the 1-bit kernels and the frame RNG. Same results as the
 * scalar reference bit for bit: the same float operations in the same order
 * per coordinate (no FMA: -ffp-contract=off), 8 coordinates at a time; the
 * last partial group runs the scalar rule.
 */
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "kernels.h"

#define T256 __attribute__((target("avx2")))

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* One Philox round on 4 blocks, one per 64-bit lane (value in the low half). */
#define PHILOX_ROUND(c0, c1, c2, c3, k0, k1)                                              \
	do {                                                                              \
		__m256i p0_ = _mm256_mul_epu32(c0, m0);                                   \
		__m256i p1_ = _mm256_mul_epu32(c2, m1);                                   \
		c0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1_, 32), c1), k0); \
		c2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0_, 32), c3), k1); \
		c1 = p1_;                                                                 \
		c3 = p0_;                                                                 \
	} while (0)

static inline T256 void
philox_store4(__m256i c0, __m256i c1, __m256i c2, __m256i c3, uint32_t *out)
{
	__m256i a = _mm256_blend_epi32(c0, _mm256_slli_epi64(c1, 32), 0xaa);
	__m256i b = _mm256_blend_epi32(c2, _mm256_slli_epi64(c3, 32), 0xaa);
	__m256i lo = _mm256_unpacklo_epi64(a, b); /* blocks 0 | 2 */
	__m256i hi = _mm256_unpackhi_epi64(a, b); /* blocks 1 | 3 */

	_mm256_storeu_si256((__m256i *)out, _mm256_permute2x128_si256(lo, hi, 0x20));
	_mm256_storeu_si256((__m256i *)(out + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
}

static T256 void
philox_avx2(uint64_t seed, uint32_t round, uint32_t worker, uint32_t chunk, uint32_t blk,
	    uint32_t nblk, uint32_t *out)
{
	const __m256i m0 = _mm256_set1_epi64x(PHILOX_M0);
	const __m256i m1 = _mm256_set1_epi64x(PHILOX_M1);
	const __m256i iota = _mm256_setr_epi64x(0, 1, 2, 3);
	const __m256i vchunk = _mm256_set1_epi64x(chunk);
	const __m256i vworker = _mm256_set1_epi64x(worker);
	const __m256i vround = _mm256_set1_epi64x(round);
	uint32_t k0s[10], k1s[10];
	uint32_t b = 0;

	k0s[0] = (uint32_t)seed;
	k1s[0] = (uint32_t)(seed >> 32);
	for (int r = 1; r < 10; r++) {
		k0s[r] = k0s[r - 1] + PHILOX_W0;
		k1s[r] = k1s[r - 1] + PHILOX_W1;
	}
	for (; b + 16 <= nblk; b += 16, out += 64) {
		__m256i a0 = _mm256_add_epi64(_mm256_set1_epi64x(blk + b), iota), a1 = vchunk,
			a2 = vworker, a3 = vround;
		__m256i b0 = _mm256_add_epi64(a0, _mm256_set1_epi64x(4)), b1 = vchunk,
			b2 = vworker, b3 = vround;
		__m256i c0 = _mm256_add_epi64(a0, _mm256_set1_epi64x(8)), c1 = vchunk,
			c2 = vworker, c3 = vround;
		__m256i d0 = _mm256_add_epi64(a0, _mm256_set1_epi64x(12)), d1 = vchunk,
			d2 = vworker, d3 = vround;

		for (int r = 0; r < 10; r++) {
			const __m256i k0 = _mm256_set1_epi32((int)k0s[r]);
			const __m256i k1 = _mm256_set1_epi32((int)k1s[r]);

			PHILOX_ROUND(a0, a1, a2, a3, k0, k1);
			PHILOX_ROUND(b0, b1, b2, b3, k0, k1);
			PHILOX_ROUND(c0, c1, c2, c3, k0, k1);
			PHILOX_ROUND(d0, d1, d2, d3, k0, k1);
		}
		philox_store4(a0, a1, a2, a3, out);
		philox_store4(b0, b1, b2, b3, out + 16);
		philox_store4(c0, c1, c2, c3, out + 32);
		philox_store4(d0, d1, d2, d3, out + 48);
	}
	for (; b < nblk; b += 8, out += 32) {
		__m256i a0 = _mm256_add_epi64(_mm256_set1_epi64x(blk + b), iota), a1 = vchunk,
			a2 = vworker, a3 = vround;
		__m256i b0 = _mm256_add_epi64(a0, _mm256_set1_epi64x(4)), b1 = vchunk,
			b2 = vworker, b3 = vround;

		for (int r = 0; r < 10; r++) {
			const __m256i k0 = _mm256_set1_epi32((int)k0s[r]);
			const __m256i k1 = _mm256_set1_epi32((int)k1s[r]);

			PHILOX_ROUND(a0, a1, a2, a3, k0, k1);
			PHILOX_ROUND(b0, b1, b2, b3, k0, k1);
		}
		philox_store4(a0, a1, a2, a3, out);
		philox_store4(b0, b1, b2, b3, out + 16);
	}
}

static T256 uint32_t
max_abs_bits_avx2(const float *v, uint32_t n)
{
	const __m256i nosign = _mm256_set1_epi32(0x7fffffff);
	__m256i m0 = _mm256_setzero_si256(), m1 = m0;
	uint32_t i = 0, m, t[8];

	for (; i + 16 <= n; i += 16) {
		m0 = _mm256_max_epu32(m0, _mm256_and_si256(_mm256_loadu_si256((const void *)(v + i)),
							   nosign));
		m1 = _mm256_max_epu32(m1, _mm256_and_si256(
						  _mm256_loadu_si256((const void *)(v + i + 8)), nosign));
	}
	_mm256_storeu_si256((__m256i *)t, _mm256_max_epu32(m0, m1));
	m = 0;
	for (int l = 0; l < 8; l++)
		m = t[l] > m ? t[l] : m;
	for (; i < n; i++) {
		uint32_t a;

		memcpy(&a, v + i, 4);
		a &= 0x7fffffffu;
		m = a > m ? a : m;
	}
	return m;
}

static inline void
advance_block(uint32_t j, uint32_t bs, uint32_t *b, uint64_t *bend)
{
	while (j >= *bend) {
		(*b)++;
		*bend += bs;
	}
}

/* Scales of the m (<= 8) coordinates from j on; 1.0 past m. */
static inline T256 __m256
group_scales(const float *scales, uint32_t bs, uint32_t j, uint32_t m, uint32_t *b,
	     uint64_t *bend)
{
	float s[8];

	advance_block(j, bs, b, bend);
	if (j + m <= *bend)
		return _mm256_set1_ps(scales[*b]);
	for (uint32_t l = 0; l < 8; l++) {
		while (l < m && j + l >= *bend) {
			(*b)++;
			*bend += bs;
		}
		s[l] = l < m ? scales[*b] : 1.0f;
	}
	return _mm256_loadu_ps(s);
}

struct draw_ctx {
	uint64_t seed;
	uint32_t round, worker, chunk;
};

/* The tie-break bytes of the lanes in kt: rare (each lane 2^-16). */
static __attribute__((noinline)) uint32_t
ties8(const float *pv, const uint32_t *hv, uint32_t kt, uint32_t j, const struct draw_ctx *c)
{
	uint32_t k1 = 0;

	for (uint32_t l = 0; l < 8; l++)
		if (kt >> l & 1)
			k1 |= gcdl_kernels_tie_bit(pv[l], hv[l],
						   gcdl_kernels_tie_byte(c->seed, c->round, c->worker,
									 c->chunk, j + l))
			      << l;
	return k1;
}

/* the bits of coordinates j .. j+7, half-words at h */
static inline T256 void
draw8(const float *v, const uint16_t *h, uint32_t j, __m256 B, uint8_t *bits,
      const struct draw_ctx *c)
{
	const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
	const __m256 ulp16 = _mm256_set1_ps(0x1.0p-16f), top = _mm256_set1_ps(0x1.fep-17f);
	__m256 x = _mm256_loadu_ps(v + j);
	__m256i hi = _mm256_cvtepu16_epi32(_mm_load_si128((const __m128i *)h));
	__m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(hi), ulp16);
	__m256 p = _mm256_mul_ps(_mm256_add_ps(one, _mm256_div_ps(x, B)), half);
	uint32_t k1 = (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_add_ps(u, top), p,
								  _CMP_LT_OQ));
	uint32_t kt = (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(u, p, _CMP_LT_OQ)) & ~k1;

	if (__builtin_expect(kt != 0, 0)) {
		float pv[8];
		uint32_t hv[8];

		_mm256_storeu_ps(pv, p);
		_mm256_storeu_si256((__m256i *)hv, hi);
		k1 |= ties8(pv, hv, kt, j, c);
	}
	bits[j / 8] = (uint8_t)k1;
}

static T256 void
onebit_avx2(const float *v, uint32_t count, uint32_t bs, uint64_t seed, uint32_t round,
	    uint32_t worker, uint32_t chunk, float *scales, uint8_t *bits)
{
	uint32_t words[GCDL_KERNELS_BATCH / 2] __attribute__((aligned(32)));
	const uint16_t *h = (const uint16_t *)words; /* little-endian: low half first */
	const struct draw_ctx c = { seed, round, worker, chunk };
	uint32_t blocks = count / bs + (count % bs != 0);
	uint32_t b = 0, done = 0;
	uint64_t bend = bs;

	for (uint32_t base = 0; base < count; base += GCDL_KERNELS_BATCH) {
		uint32_t n = count - base < GCDL_KERNELS_BATCH ? count - base : GCDL_KERNELS_BATCH;
		uint32_t nblk = ((n + 63) / 64) * 8, j = base;
		uint64_t end = base + n;

		/* the scales of the blocks this batch meets, while it is in cache */
		for (; done < blocks && (uint64_t)done * bs < end; done++) {
			uint32_t first = done * bs, mb = max_abs_bits_avx2(
				v + first, count - first < bs ? count - first : bs);

			memcpy(&scales[done], &mb, 4);
		}
		philox_avx2(seed, round, worker, chunk, base / 8, nblk, words);
		while (j + 8 <= end) {
			uint64_t lim;
			__m256 B;

			advance_block(j, bs, &b, &bend);
			B = _mm256_set1_ps(scales[b]);
			lim = bend < end ? bend : end;
			for (; j + 8 <= lim; j += 8)
				draw8(v, h + (j - base), j, B, bits, &c);
			if (j < lim && j + 8 <= end) {
				/* a group across a block boundary */
				draw8(v, h + (j - base), j, group_scales(scales, bs, j, 8, &b, &bend),
				      bits, &c);
				j += 8;
			}
		}
		if (j < end) {
			uint32_t byte = 0;

			for (uint32_t l = 0; j + l < end; l++) {
				float p;
				uint32_t hh = h[j - base + l], r;

				advance_block(j + l, bs, &b, &bend);
				p = gcdl_kernels_p(v[j + l], scales[b]);
				r = gcdl_kernels_draw_hi(p, hh);
				if (r == 2)
					r = gcdl_kernels_tie_bit(p, hh,
								 gcdl_kernels_tie_byte(seed, round, worker,
										       chunk, j + l));
				byte |= r << l;
			}
			bits[j / 8] = (uint8_t)byte;
		}
	}
}

static T256 void
sign_avx2(const float *v, uint32_t count, uint8_t *bits)
{
	const __m256 zero = _mm256_setzero_ps();
	uint32_t j = 0;

	for (; j + 32 <= count; j += 32) {
		uint32_t k = (uint32_t)_mm256_movemask_ps(
				     _mm256_cmp_ps(_mm256_loadu_ps(v + j), zero, _CMP_GE_OQ)) |
			     (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(v + j + 8),
									zero, _CMP_GE_OQ))
				     << 8 |
			     (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(v + j + 16),
									zero, _CMP_GE_OQ))
				     << 16 |
			     (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(v + j + 24),
									zero, _CMP_GE_OQ))
				     << 24;

		memcpy(bits + j / 8, &k, 4);
	}
	for (; j + 8 <= count; j += 8)
		bits[j / 8] = (uint8_t)_mm256_movemask_ps(
			_mm256_cmp_ps(_mm256_loadu_ps(v + j), zero, _CMP_GE_OQ));
	if (j < count) {
		uint32_t byte = 0;

		for (uint32_t l = 0; j + l < count; l++)
			byte |= (uint32_t)(v[j + l] >= 0.0f) << l;
		bits[j / 8] = (uint8_t)byte;
	}
}

static inline T256 void
expand8(const uint8_t *bits, uint32_t j, __m256 s, float *out, int acc)
{
	const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
	const __m256i sign = _mm256_set1_epi32((int)0x80000000u);
	__m256i set = _mm256_and_si256(_mm256_set1_epi32(bits[j / 8]), lane_bit);
	/* all ones where the bit is 0: flip the sign there */
	__m256i flip = _mm256_and_si256(_mm256_cmpeq_epi32(set, _mm256_setzero_si256()), sign);
	__m256 x = _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(s), flip));

	if (acc)
		x = _mm256_add_ps(_mm256_loadu_ps(out + j), x);
	_mm256_storeu_ps(out + j, x);
}

static T256 void
expand_avx2(const uint8_t *bits, const float *scales, uint32_t count, uint32_t bs, float *out,
	    int acc)
{
	uint32_t b = 0, j = 0;
	uint64_t bend = bs;

	while (j + 8 <= count) {
		__m256 s = _mm256_set1_ps(1.0f);
		uint64_t lim = count;

		if (scales != NULL) {
			advance_block(j, bs, &b, &bend);
			s = _mm256_set1_ps(scales[b]);
			lim = bend < count ? bend : count;
		}
		if (acc)
			for (; j + 8 <= lim; j += 8)
				expand8(bits, j, s, out, 1);
		else
			for (; j + 8 <= lim; j += 8)
				expand8(bits, j, s, out, 0);
		if (j < lim && j + 8 <= count) {
			expand8(bits, j, group_scales(scales, bs, j, 8, &b, &bend), out, acc);
			j += 8;
		}
	}
	for (; j < count; j++) {
		float s = 1.0f, x;
		uint32_t u;

		if (scales != NULL) {
			advance_block(j, bs, &b, &bend);
			s = scales[b];
		}
		memcpy(&u, &s, 4);
		u ^= ((bits[j / 8] >> (j & 7)) & 1) ? 0 : 0x80000000u;
		memcpy(&x, &u, 4);
		out[j] = acc ? out[j] + x : x;
	}
}

const struct gcdl_kernels gcdl_kernels_avx2 = {
	.philox = philox_avx2,
	.max_abs_bits = max_abs_bits_avx2,
	.onebit = onebit_avx2,
	.sign = sign_avx2,
	.expand = expand_avx2,
};
#endif /* __x86_64__ */
