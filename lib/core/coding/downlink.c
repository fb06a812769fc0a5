/* SPDX-License-Identifier: BSD-3-Clause */
/* The downlink's 1-bit coding: scaled sign with error feedback (gcdl/downlink.h). */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "gcdl/downlink.h"
#include "gcdl/frame.h"
#include "gcdl/quant.h"

float
gcdl_downlink_scale(const float *x, uint32_t n)
{
	double lane[8] = { 0 };
	uint32_t j = 0;

	if (x == NULL || n == 0)
		return 0.0f;
	/* eight independent sums (a sequential one is bound by the add's
	 * latency), combined pairwise in a fixed order */
	for (; j + 8 <= n; j += 8)
		for (int k = 0; k < 8; k++)
			lane[k] += fabsf(x[j + k]);
	for (int k = 0; j < n; j++, k++)
		lane[k] += fabsf(x[j]);
	return (float)((((lane[0] + lane[1]) + (lane[2] + lane[3])) +
			((lane[4] + lane[5]) + (lane[6] + lane[7]))) / n);
}

/* One block: x = u + e; s = mean |x|; q = +-s; e = x - q (x held in q). */
static void
compress_block(const float *u, float *e, float *q, uint32_t n)
{
	float s;

	for (uint32_t j = 0; j < n; j++)
		q[j] = u[j] + e[j];
	s = gcdl_downlink_scale(q, n);
	for (uint32_t j = 0; j < n; j++) {
		float x = q[j];
		float v = x >= 0.0f ? s : -s;

		e[j] = x - v;
		q[j] = v;
	}
}

void
gcdl_downlink_compress(const float *u, float *e, float *q, uint32_t first, uint32_t count,
		       uint32_t chunk_coords, uint32_t scale_block)
{
	uint32_t end = first + count;

	if (u == NULL || e == NULL || q == NULL || chunk_coords == 0)
		return;
	for (uint32_t c0 = first; c0 < end; c0 += chunk_coords) {
		uint32_t clen = end - c0 < chunk_coords ? end - c0 : chunk_coords;
		uint32_t blk = scale_block == 0 ? clen : scale_block;

		for (uint32_t b0 = 0; b0 < clen; b0 += blk) {
			uint32_t n = clen - b0 < blk ? clen - b0 : blk;

			compress_block(u + c0 + b0, e + c0 + b0, q + c0 + b0, n);
		}
	}
}

size_t
gcdl_downlink_encode(const float *q, uint32_t count, uint32_t scale_block, uint8_t *payload)
{
	uint32_t nb = gcdl_quant_blocks(count, scale_block);
	uint32_t blk = scale_block == 0 ? count : scale_block;
	uint8_t *bits = payload + 4 * (size_t)nb;
	size_t nbytes = gcdl_quant_packed_bytes(count);

	if (q == NULL || payload == NULL || count == 0)
		return 0;
	for (uint32_t b = 0; b < nb; b++) {
		/* every value of a block is +-s: its magnitude is the scale */
		float s = fabsf(q[(size_t)b * blk]);

		gcdl_frame_put_floats(payload + 4 * (size_t)b, &s, 1);
	}
	/* a set bit is a value whose sign bit is clear: the kernel's v >= 0, but
	 * for the -0 of a block whose scale is 0 */
	gcdl_quant_sign(q, count, bits);
	for (uint32_t b = 0; b < nb; b++) {
		uint32_t j0 = b * blk, n = count - j0 < blk ? count - j0 : blk;

		if (q[j0] != 0.0f)
			continue;
		for (uint32_t j = j0; j < j0 + n; j++) {
			if (signbit(q[j]))
				bits[j / 8] &= (uint8_t)~(1u << (j % 8));
		}
	}
	return 4 * (size_t)nb + nbytes;
}

/* The payload's scales into scales[] (negated for apply: w + (-s)(2b - 1) is
 * w - s(2b - 1) exactly), then the kernel's expand: q = s(2b - 1), or w += . */
static int
expand(const uint8_t *payload, uint32_t count, uint32_t scale_block, float *q, int sub)
{
	float scales[GCDL_MTU_MAX / 4];
	uint32_t nb = gcdl_quant_blocks(count, scale_block);
	const uint8_t *bits = payload + 4 * (size_t)nb;

	if (payload == NULL || q == NULL || count == 0 || nb > GCDL_MTU_MAX / 4)
		return -EINVAL;
	gcdl_frame_get_floats(scales, payload, nb);
	for (uint32_t b = 0; b < nb; b++) {
		if (!(scales[b] >= 0.0f) || !isfinite(scales[b]))
			return -EDOM;
		if (sub)
			scales[b] = -scales[b];
	}
	if (sub)
		return gcdl_quant_accumulate(q, bits, scales, count, scale_block);
	return gcdl_quant_unpack(bits, scales, count, scale_block, q);
}

int
gcdl_downlink_decode(const uint8_t *payload, uint32_t count, uint32_t scale_block, float *q)
{
	return expand(payload, count, scale_block, q, 0);
}

int
gcdl_downlink_apply(const uint8_t *payload, uint32_t count, uint32_t scale_block, float *w)
{
	return expand(payload, count, scale_block, w, 1);
}
