/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The downlink's 1-bit coding (METHOD.md, "Downlink"), free of DPDK: the
 * aggregator's update u_t compressed with error feedback, q_t = C(u_t + e_t),
 * e_{t+1} = u_t + e_t - q_t, where C is the scaled sign per block of S
 * coordinates: C(x)_j = (sum over the block of |x_i| / |block|) * sign(x_j)
 * (sign(0) = +1). Blocks are cut inside the uplink's chunks of L
 * coordinates exactly as the 1-bit gradient's are, so a chunk of the update
 * is one GCDL_MSG_UPDATE1 frame laid out as a 1-bit gradient frame: the block
 * scales (float32, big-endian) then the sign bits (1 = +, LSB first). Every
 * replica, the aggregator's included, applies w -= q; a worker rebuilds q
 * bit for bit from the frame (each q_j is its block's float scale, or its
 * negation).
 */
#ifndef GCDL_DOWNLINK_H
#define GCDL_DOWNLINK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The scale of one block: the mean of |x_i|, summed in double in a fixed
 * order (eight lanes, lane i % 8, combined pairwise), so that every replica
 * and the simulator compute the same float.
 *
 * @param x  the block's values.
 * @param n  how many (0 gives 0).
 * @return the scale.
 */
float gcdl_downlink_scale(const float *x, uint32_t n);

/**
 * Compress u + e into q with error feedback over the coordinates
 * [first, first + count), which start a chunk: blocks of S coordinates
 * within each chunk of L coordinates (S = 0: one block per chunk).
 *
 * @param u             the update.
 * @param e             the residual, updated in place (e = u + e - q).
 * @param q             receives the compressed update (may be u).
 * @param first         first coordinate (a multiple of @p chunk_coords).
 * @param count         coordinates.
 * @param chunk_coords  L.
 * @param scale_block   S.
 */
void gcdl_downlink_compress(const float *u, float *e, float *q, uint32_t first, uint32_t count,
			    uint32_t chunk_coords, uint32_t scale_block);

/**
 * The payload of the 1-bit update frame of one chunk, from the compressed
 * update q of its coordinates.
 *
 * @param q            the chunk's count values of q.
 * @param count        coordinates in the chunk.
 * @param scale_block  S.
 * @param payload      receives gcdl_frame_payload_len(GCDL_MSG_UPDATE1, count, S) bytes.
 * @return the payload's length.
 */
size_t gcdl_downlink_encode(const float *q, uint32_t count, uint32_t scale_block,
			    uint8_t *payload);

/**
 * Rebuild q from a 1-bit update payload.
 *
 * @param payload      the frame's payload.
 * @param count        coordinates in the chunk.
 * @param scale_block  S.
 * @param q            receives count values.
 * @return 0, or -EDOM when a scale is negative or not finite (nothing written).
 */
int gcdl_downlink_decode(const uint8_t *payload, uint32_t count, uint32_t scale_block, float *q);

/**
 * Apply a 1-bit update payload to a replica: w -= q, without building q (one
 * pass over w, the same floats as gcdl_downlink_decode() then a subtraction).
 *
 * @param payload      the frame's payload.
 * @param count        coordinates in the chunk.
 * @param scale_block  S.
 * @param w            the replica's count values.
 * @return 0, or -EDOM when a scale is negative or not finite (nothing written).
 */
int gcdl_downlink_apply(const uint8_t *payload, uint32_t count, uint32_t scale_block, float *w);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_DOWNLINK_H */
