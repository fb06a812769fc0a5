/* SPDX-License-Identifier: BSD-3-Clause */
/* 1-bit quantizers and packed-bit kernels (scalar reference path). */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "gcdl/quant.h"
#include "gcdl/rng.h"

#define RNG_BATCH 256 /* random words drawn at a time */

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

static inline float
block_scale(const float *scales, uint32_t j, uint32_t scale_block)
{
	return scales[scale_block ? j / scale_block : 0];
}

int
gcdl_quant_onebit(const float *v, uint32_t count, uint32_t scale_block, uint64_t seed,
		  uint32_t round, uint32_t worker, uint32_t chunk, float *scales, uint8_t *bits)
{
	const uint32_t bs = scale_block ? scale_block : count;
	const uint32_t blocks = gcdl_quant_blocks(count, scale_block);
	uint32_t words[RNG_BATCH];

	if (v == NULL || scales == NULL || bits == NULL || count == 0)
		return -EINVAL;
	for (uint32_t j = 0; j < count; j++)
		if (!isfinite(v[j]))
			return -EDOM;

	for (uint32_t b = 0; b < blocks; b++) {
		uint32_t end = b * bs + bs < count ? b * bs + bs : count;
		float m = 0.0f;

		for (uint32_t j = b * bs; j < end; j++)
			m = fmaxf(m, fabsf(v[j]));
		scales[b] = m;
	}
	memset(bits, 0, gcdl_quant_packed_bytes(count));
	for (uint32_t base = 0; base < count; base += RNG_BATCH) {
		uint32_t n = count - base < RNG_BATCH ? count - base : RNG_BATCH;

		gcdl_rng_stream(seed, round, worker, chunk, base, words, n);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t j = base + i;
			float B = scales[j / bs];
			float prob, u;

			if (B == 0.0f)
				continue;
			prob = 0.5f + 0.5f * (v[j] / B);
			u = (float)(words[i] >> 8) * 0x1.0p-24f;
			if (u < prob)
				bits[j >> 3] |= (uint8_t)(1u << (j & 7));
		}
	}
	return 0;
}

int
gcdl_quant_sign(const float *v, uint32_t count, uint8_t *bits)
{
	if (v == NULL || bits == NULL || count == 0)
		return -EINVAL;
	memset(bits, 0, gcdl_quant_packed_bytes(count));
	for (uint32_t j = 0; j < count; j++)
		if (v[j] >= 0.0f)
			bits[j >> 3] |= (uint8_t)(1u << (j & 7));
	return 0;
}

int
gcdl_quant_unpack(const uint8_t *bits, const float *scales, uint32_t count,
		  uint32_t scale_block, float *out)
{
	if (bits == NULL || out == NULL || count == 0)
		return -EINVAL;
	for (uint32_t j = 0; j < count; j++) {
		float s = scales ? block_scale(scales, j, scale_block) : 1.0f;

		out[j] = ((bits[j >> 3] >> (j & 7)) & 1) ? s : -s;
	}
	return 0;
}

int
gcdl_quant_accumulate(float *acc, const uint8_t *bits, const float *scales, uint32_t count,
		      uint32_t scale_block)
{
	if (acc == NULL || bits == NULL || count == 0)
		return -EINVAL;
	for (uint32_t j = 0; j < count; j++) {
		float s = scales ? block_scale(scales, j, scale_block) : 1.0f;

		acc[j] += ((bits[j >> 3] >> (j & 7)) & 1) ? s : -s;
	}
	return 0;
}
