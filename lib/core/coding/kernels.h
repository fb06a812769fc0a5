/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-ISA kernel table behind gcdl/kernels.h. Each path lives in its own
 * file (kernels_avx2.c, kernels_avx512.c) compiled with function target
 * attributes, so the build needs no -march flag; every kernel file is built
 * with -ffp-contract=off so that no path fuses a multiply and an add.
 */
#ifndef GCDL_CORE_KERNELS_H
#define GCDL_CORE_KERNELS_H

#include <stdint.h>

#include "gcdl/kernels.h"

struct gcdl_kernels {
	/* nblk (a multiple of 8) Philox4x32-10 blocks of the stream, from block
	 * blk on: words 4 * blk .. 4 * (blk + nblk) - 1 into out */
	void (*philox)(uint64_t seed, uint32_t round, uint32_t worker, uint32_t chunk,
		       uint32_t blk, uint32_t nblk, uint32_t *out);
	/* max over n values of (bits & 0x7fffffff): the bits of max |v|, and
	 * >= 0x7f800000 iff a value is not finite */
	uint32_t (*max_abs_bits)(const float *v, uint32_t n);
	/* the scales and bits of a chunk of finite values (bs > 0) */
	void (*onebit)(const float *v, uint32_t count, uint32_t bs, uint64_t seed, uint32_t round,
		       uint32_t worker, uint32_t chunk, float *scales, uint8_t *bits);
	void (*sign)(const float *v, uint32_t count, uint8_t *bits);
	/* out_j (+)= s_b * (2 b_j - 1); scales NULL: s = 1; bs > 0 */
	void (*expand)(const uint8_t *bits, const float *scales, uint32_t count, uint32_t bs,
		       float *out, int acc);
};

/* The active table. */
const struct gcdl_kernels *gcdl_kernels_get(void);

extern const struct gcdl_kernels gcdl_kernels_scalar;
#if defined(__x86_64__)
extern const struct gcdl_kernels gcdl_kernels_avx2;
extern const struct gcdl_kernels gcdl_kernels_avx512;
#endif

/* Scalar reference pieces shared with the SIMD files for their tails. */
void gcdl_kernels_philox_scalar(uint64_t seed, uint32_t round, uint32_t worker, uint32_t chunk,
				uint32_t blk, uint32_t nblk, uint32_t *out);

/*
 * The rule of gcdl/quant.h for one coordinate: p = (1 + v / B) / 2 in float
 * (NaN for B = 0, so every comparison below is false and the bit is 0);
 * u = U * 2^-24 with the 24-bit U = (h << 8) | l, h the coordinate's 16-bit
 * half-word, l its tie-break byte; bit = u < p. The byte only matters when
 * h * 2^-16 < p <= (h * 256 + 255) * 2^-24 (probability < 2^-16), so it is
 * drawn only then. Every sum and product here is exact.
 */
static inline float
gcdl_kernels_p(float v, float B)
{
	return (1.0f + v / B) * 0.5f;
}

/* 1 or 0 when h decides, 2 when the tie-break byte must */
static inline uint32_t
gcdl_kernels_draw_hi(float p, uint32_t h)
{
	float u = (float)(int32_t)h * 0x1.0p-16f;

	if (u + 0x1.fep-17f < p) /* (h * 256 + 255) * 2^-24 */
		return 1;
	return u < p ? 2 : 0;
}

static inline uint32_t
gcdl_kernels_tie_bit(float p, uint32_t h, uint32_t l)
{
	return (float)(int32_t)((h << 8) | l) * 0x1.0p-24f < p;
}

/* stream word of the tie-break bytes: byte j % 4 of word TIE_WORD + j / 4 */
#define GCDL_KERNELS_TIE_WORD (UINT64_C(1) << 33)

/* The tie-break byte of coordinate j (one Philox block, scalar). */
uint32_t gcdl_kernels_tie_byte(uint64_t seed, uint32_t round, uint32_t worker, uint32_t chunk,
			       uint32_t j);

#define GCDL_KERNELS_BATCH 256 /* coordinates per batch of random words */

#endif /* GCDL_CORE_KERNELS_H */
