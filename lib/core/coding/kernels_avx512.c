/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The AVX-512 (F+BW) path of the 1-bit kernels and the frame RNG. Same
 * results as the scalar reference bit for bit: the same float operations in
 * the same order per coordinate (no FMA: -ffp-contract=off), only wider.
 */
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#include "kernels.h"

#define T512 __attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512dq")))

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/*
 * One Philox round on 8 blocks, one per 64-bit lane with its 32-bit value in
 * the low half: vpmuludq reads only low halves, so the high halves may hold
 * anything and the products need no shuffles.
 */
#define PHILOX_ROUND(c0, c1, c2, c3, k0, k1)                                          \
	do {                                                                          \
		__m512i p0_ = _mm512_mul_epu32(c0, m0);                               \
		__m512i p1_ = _mm512_mul_epu32(c2, m1);                               \
		c0 = _mm512_ternarylogic_epi32(_mm512_srli_epi64(p1_, 32), c1, k0, 0x96); \
		c2 = _mm512_ternarylogic_epi32(_mm512_srli_epi64(p0_, 32), c3, k1, 0x96); \
		c1 = p1_;                                                             \
		c3 = p0_;                                                             \
	} while (0)

/* the 4 words of each of the 8 blocks, in stream order */
static inline T512 void
philox_store8(__m512i c0, __m512i c1, __m512i c2, __m512i c3, uint32_t *out)
{
	const __m512i ia = _mm512_setr_epi32(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28,
					     14, 30);
	const __m512i lo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
	const __m512i hi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
	__m512i a = _mm512_permutex2var_epi32(c0, ia, c1);
	__m512i b = _mm512_permutex2var_epi32(c2, ia, c3);

	_mm512_storeu_si512((void *)out, _mm512_permutex2var_epi64(a, lo, b));
	_mm512_storeu_si512((void *)(out + 16), _mm512_permutex2var_epi64(a, hi, b));
}

/* 4 x 8 blocks side by side hide the multiply latency: ~0.9 cycles/word
 * on a Zen 4 EPYC (gcdl-bench rng_stream) */
static T512 void
philox_avx512(uint64_t seed, uint32_t round, uint32_t worker, uint32_t chunk, uint32_t blk,
	      uint32_t nblk, uint32_t *out)
{
	const __m512i m0 = _mm512_set1_epi64(PHILOX_M0);
	const __m512i m1 = _mm512_set1_epi64(PHILOX_M1);
	const __m512i iota = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
	const __m512i vchunk = _mm512_set1_epi64(chunk);
	const __m512i vworker = _mm512_set1_epi64(worker);
	const __m512i vround = _mm512_set1_epi64(round);
	uint32_t k0s[10], k1s[10];
	uint32_t b = 0;

	k0s[0] = (uint32_t)seed;
	k1s[0] = (uint32_t)(seed >> 32);
	for (int r = 1; r < 10; r++) {
		k0s[r] = k0s[r - 1] + PHILOX_W0;
		k1s[r] = k1s[r - 1] + PHILOX_W1;
	}
	for (; b + 32 <= nblk; b += 32, out += 128) {
		__m512i base = _mm512_set1_epi64(blk + b);
		__m512i a0 = _mm512_add_epi64(base, iota), a1 = vchunk, a2 = vworker, a3 = vround;
		__m512i b0 = _mm512_add_epi64(a0, _mm512_set1_epi64(8)), b1 = vchunk,
			b2 = vworker, b3 = vround;
		__m512i c0 = _mm512_add_epi64(a0, _mm512_set1_epi64(16)), c1 = vchunk,
			c2 = vworker, c3 = vround;
		__m512i d0 = _mm512_add_epi64(a0, _mm512_set1_epi64(24)), d1 = vchunk,
			d2 = vworker, d3 = vround;

		for (int r = 0; r < 10; r++) {
			const __m512i k0 = _mm512_set1_epi32((int)k0s[r]);
			const __m512i k1 = _mm512_set1_epi32((int)k1s[r]);

			PHILOX_ROUND(a0, a1, a2, a3, k0, k1);
			PHILOX_ROUND(b0, b1, b2, b3, k0, k1);
			PHILOX_ROUND(c0, c1, c2, c3, k0, k1);
			PHILOX_ROUND(d0, d1, d2, d3, k0, k1);
		}
		philox_store8(a0, a1, a2, a3, out);
		philox_store8(b0, b1, b2, b3, out + 32);
		philox_store8(c0, c1, c2, c3, out + 64);
		philox_store8(d0, d1, d2, d3, out + 96);
	}
	for (; b < nblk; b += 8, out += 32) {
		__m512i a0 = _mm512_add_epi64(_mm512_set1_epi64(blk + b), iota), a1 = vchunk,
			a2 = vworker, a3 = vround;

		for (int r = 0; r < 10; r++) {
			const __m512i k0 = _mm512_set1_epi32((int)k0s[r]);
			const __m512i k1 = _mm512_set1_epi32((int)k1s[r]);

			PHILOX_ROUND(a0, a1, a2, a3, k0, k1);
		}
		philox_store8(a0, a1, a2, a3, out);
	}
}

static T512 uint32_t
max_abs_bits_avx512(const float *v, uint32_t n)
{
	const __m512i nosign = _mm512_set1_epi32(0x7fffffff);
	__m512i m0 = _mm512_setzero_si512(), m1 = m0;
	uint32_t i = 0;

	for (; i + 32 <= n; i += 32) {
		m0 = _mm512_max_epu32(m0, _mm512_and_si512(_mm512_loadu_si512(v + i), nosign));
		m1 = _mm512_max_epu32(m1, _mm512_and_si512(_mm512_loadu_si512(v + i + 16), nosign));
	}
	for (; i < n; i += 16) {
		__mmask16 k = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);

		m0 = _mm512_max_epu32(m0, _mm512_and_si512(_mm512_maskz_loadu_epi32(k, v + i),
							   nosign));
	}
	return _mm512_reduce_max_epu32(_mm512_max_epu32(m0, m1));
}

/*
 * Scales of the 16 coordinates j .. j+15 (a group never starts past the
 * block *b); *b and *bend (the first coordinate past block *b) advance.
 */
static inline T512 __m512
group_scales(const float *scales, uint32_t bs, uint32_t j, uint32_t m, uint32_t *b,
	     uint64_t *bend)
{
	float s[16];

	if (j + m <= *bend)
		return _mm512_set1_ps(scales[*b]);
	for (uint32_t l = 0; l < 16; l++) {
		while (l < m && j + l >= *bend) {
			(*b)++;
			*bend += bs;
		}
		s[l] = l < m ? scales[*b] : 1.0f;
	}
	return _mm512_loadu_ps(s);
}

static inline T512 void
advance_block(uint32_t j, uint32_t bs, uint32_t *b, uint64_t *bend)
{
	while (j >= *bend) {
		(*b)++;
		*bend += bs;
	}
}

/* store the low ceil(m / 8) bytes of a 16-bit mask */
static inline void
store_mask16(uint8_t *p, uint32_t k, uint32_t m)
{
	if (m == 16) {
		uint16_t x = (uint16_t)k;

		memcpy(p, &x, 2);
	} else {
		p[0] = (uint8_t)k;
		if (m > 8)
			p[1] = (uint8_t)(k >> 8);
	}
}

/* The tie-break bytes of the lanes in kt: rare (each lane 2^-16). */
static __attribute__((noinline)) uint32_t
ties16(const float *pv, const uint32_t *hv, uint32_t kt, uint32_t j, uint64_t seed,
       uint32_t round, uint32_t worker, uint32_t chunk)
{
	uint32_t k1 = 0;

	for (uint32_t l = 0; l < 16; l++)
		if (kt >> l & 1)
			k1 |= gcdl_kernels_tie_bit(pv[l], hv[l],
						   gcdl_kernels_tie_byte(seed, round, worker, chunk,
									 j + l))
			      << l;
	return k1;
}

struct draw_ctx {
	uint64_t seed;
	uint32_t round, worker, chunk;
};

/* the bits of coordinates j .. j+m-1 (m <= 16), half-words at h */
static inline T512 void
draw16(const float *v, const uint16_t *h, uint32_t j, uint32_t m, __m512 B, uint8_t *bits,
       const struct draw_ctx *c)
{
	const __m512 one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f);
	const __m512 ulp16 = _mm512_set1_ps(0x1.0p-16f), top = _mm512_set1_ps(0x1.fep-17f);
	__mmask16 lanes = m == 16 ? 0xffff : (__mmask16)((1u << m) - 1);
	__m512 x = _mm512_maskz_loadu_ps(lanes, v + j);
	__m512i hi = _mm512_cvtepu16_epi32(_mm256_load_si256((const __m256i *)h));
	__m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(hi), ulp16);
	__m512 p = _mm512_mul_ps(_mm512_add_ps(one, _mm512_div_ps(x, B)), half);
	__mmask16 k1 = _mm512_mask_cmp_ps_mask(lanes, _mm512_add_ps(u, top), p, _CMP_LT_OQ);
	__mmask16 kt = _mm512_mask_cmp_ps_mask(lanes & ~k1, u, p, _CMP_LT_OQ);

	if (__builtin_expect(kt != 0, 0)) {
		float pv[16];
		uint32_t hv[16];

		_mm512_storeu_ps(pv, p);
		_mm512_storeu_si512(hv, hi);
		k1 |= (__mmask16)ties16(pv, hv, kt, j, c->seed, c->round, c->worker, c->chunk);
	}
	store_mask16(bits + j / 8, k1, m);
}

/* ~1.3 cycles/coord in cache, half of them Philox (gcdl-bench, Zen 4) */
static T512 void
onebit_avx512(const float *v, uint32_t count, uint32_t bs, uint64_t seed, uint32_t round,
	      uint32_t worker, uint32_t chunk, float *scales, uint8_t *bits)
{
	uint32_t words[GCDL_KERNELS_BATCH / 2] __attribute__((aligned(64)));
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
			uint32_t first = done * bs, mb = max_abs_bits_avx512(
				v + first, count - first < bs ? count - first : bs);

			memcpy(&scales[done], &mb, 4);
		}
		philox_avx512(seed, round, worker, chunk, base / 8, nblk, words);
		while (j < end) {
			uint64_t lim;
			__m512 B;

			advance_block(j, bs, &b, &bend);
			B = _mm512_set1_ps(scales[b]);
			lim = bend < end ? bend : end;
			for (; j + 16 <= lim; j += 16)
				draw16(v, h + (j - base), j, 16, B, bits, &c);
			if (j >= end)
				break;
			if (j < lim) {
				uint32_t m = (uint32_t)(end - j < 16 ? end - j : 16);

				if (lim < end || j + m > bend)
					B = group_scales(scales, bs, j, m, &b, &bend);
				draw16(v, h + (j - base), j, m, B, bits, &c);
				j += 16;
			}
		}
	}
}

static T512 void
sign_avx512(const float *v, uint32_t count, uint8_t *bits)
{
	const __m512 zero = _mm512_setzero_ps();
	uint32_t j = 0;

	for (; j + 64 <= count; j += 64) {
		uint64_t k = (uint64_t)_mm512_cmp_ps_mask(_mm512_loadu_ps(v + j), zero, _CMP_GE_OQ) |
			     (uint64_t)_mm512_cmp_ps_mask(_mm512_loadu_ps(v + j + 16), zero,
							  _CMP_GE_OQ) << 16 |
			     (uint64_t)_mm512_cmp_ps_mask(_mm512_loadu_ps(v + j + 32), zero,
							  _CMP_GE_OQ) << 32 |
			     (uint64_t)_mm512_cmp_ps_mask(_mm512_loadu_ps(v + j + 48), zero,
							  _CMP_GE_OQ) << 48;

		memcpy(bits + j / 8, &k, 8);
	}
	for (; j < count; j += 16) {
		uint32_t m = count - j < 16 ? count - j : 16;
		__mmask16 lanes = m == 16 ? 0xffff : (__mmask16)((1u << m) - 1);
		__m512 x = _mm512_maskz_loadu_ps(lanes, v + j);

		store_mask16(bits + j / 8, _mm512_mask_cmp_ps_mask(lanes, x, zero, _CMP_GE_OQ), m);
	}
}

/* 16 bits of coordinate j on (j a multiple of 8; only the low m are valid) */
static inline uint32_t
load_bits16(const uint8_t *bits, uint32_t j, uint32_t m)
{
	uint16_t x = 0;

	if (m > 8)
		memcpy(&x, bits + j / 8, 2);
	else
		x = bits[j / 8];
	return x;
}

/* +s for a 1 bit, s with its sign bit flipped for a 0 bit; added to out when acc */
static inline T512 void
expand16(const uint8_t *bits, uint32_t j, uint32_t m, __m512 s, float *out, int acc)
{
	const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
	__mmask16 lanes = m == 16 ? 0xffff : (__mmask16)((1u << m) - 1);
	__mmask16 k = (__mmask16)load_bits16(bits, j, m);
	__m512 x = _mm512_castsi512_ps(_mm512_mask_xor_epi32(
		_mm512_castps_si512(s), (__mmask16)~k, _mm512_castps_si512(s), sign));

	if (acc)
		x = _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, out + j), x);
	_mm512_mask_storeu_ps(out + j, lanes, x);
}

/* ~0.27 cycles/coord with the accumulators in L1/L2 (gcdl-bench, 2.6 GHz Zen 4) */
static T512 void
expand_avx512(const uint8_t *bits, const float *scales, uint32_t count, uint32_t bs, float *out,
	      int acc)
{
	uint32_t b = 0, j = 0;
	uint64_t bend = bs;

	/* groups of 16 stay aligned to the chunk; those inside one block take the
	 * fast loop, one that straddles a block boundary the per-lane scales */
	while (j < count) {
		__m512 s = _mm512_set1_ps(1.0f);
		uint64_t lim = count;

		if (scales != NULL) {
			advance_block(j, bs, &b, &bend);
			s = _mm512_set1_ps(scales[b]);
			lim = bend < count ? bend : count;
		}
		if (acc)
			for (; j + 16 <= lim; j += 16)
				expand16(bits, j, 16, s, out, 1);
		else
			for (; j + 16 <= lim; j += 16)
				expand16(bits, j, 16, s, out, 0);
		if (j >= count)
			break;
		if (j < lim && lim == count) {
			expand16(bits, j, count - j, s, out, acc);
			break;
		}
		if (j < lim) {
			uint32_t m = count - j < 16 ? count - j : 16;

			expand16(bits, j, m, group_scales(scales, bs, j, m, &b, &bend), out, acc);
			j += 16;
		}
	}
}

const struct gcdl_kernels gcdl_kernels_avx512 = {
	.philox = philox_avx512,
	.max_abs_bits = max_abs_bits_avx512,
	.onebit = onebit_avx512,
	.sign = sign_avx512,
	.expand = expand_avx512,
};
#endif /* __x86_64__ */
