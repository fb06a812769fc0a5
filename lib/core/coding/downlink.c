/* SPDX-License-Identifier: BSD-3-Clause */
/* The downlink's 1-bit coding: scaled sign with error feedback (gcdl/downlink.h). */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "gcdl/downlink.h"
#include "gcdl/frame.h"
#include "gcdl/quant.h"

/* One block: x = u + e; s = mean |x|; q = +-s; e = x - q. */
static void
compress_block(const float *u, float *e, float *q, uint32_t n)
{
	double sum = 0;
	float s;

	for (uint32_t j = 0; j < n; j++)
		sum += fabsf(u[j] + e[j]);
	s = (float)(sum / n);
	for (uint32_t j = 0; j < n; j++) {
		float x = u[j] + e[j];
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
	memset(bits, 0, nbytes);
	for (uint32_t b = 0; b < nb; b++) {
		/* every value of a block is +-s: its magnitude is the scale */
		float s = fabsf(q[(size_t)b * blk]);

		gcdl_frame_put_floats(payload + 4 * (size_t)b, &s, 1);
	}
	for (uint32_t j = 0; j < count; j++)
		if (!signbit(q[j]))
			bits[j / 8] |= (uint8_t)(1u << (j % 8));
	return 4 * (size_t)nb + nbytes;
}

int
gcdl_downlink_decode(const uint8_t *payload, uint32_t count, uint32_t scale_block, float *q)
{
	float scales[GCDL_MTU_MAX / 4];
	uint32_t nb = gcdl_quant_blocks(count, scale_block);
	uint32_t blk = scale_block == 0 ? count : scale_block;
	const uint8_t *bits = payload + 4 * (size_t)nb;

	if (payload == NULL || q == NULL || nb > GCDL_MTU_MAX / 4)
		return -EINVAL;
	gcdl_frame_get_floats(scales, payload, nb);
	for (uint32_t b = 0; b < nb; b++)
		if (!(scales[b] >= 0.0f) || !isfinite(scales[b]))
			return -EDOM;
	for (uint32_t j = 0; j < count; j++) {
		float s = scales[j / blk];

		q[j] = bits[j / 8] >> (j % 8) & 1 ? s : -s;
	}
	return 0;
}
