/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The 1-bit quantizers and the packed-bit kernels.
 *
 * A chunk of `count` coordinates is cut into scale blocks of S coordinates
 * (S = 0: one block for the whole chunk). For block b the scale is
 * B_b = max |v_j| over the block, and bit j is 1 with probability
 * (1 + v_j / B_b) / 2, so that B_b * (2 b_j - 1) is an unbiased estimate of
 * v_j with variance B_b^2 - v_j^2. A block whose scale is 0 yields bits 0 and
 * contributes nothing, since every kernel multiplies by the scale.
 *
 * Bits are packed 8 coordinates per byte: coordinate j at bit (j % 8) of byte
 * (j / 8), least significant bit first; unused high bits of the last byte are 0.
 * The random draws come from gcdl_rng_stream(seed, round, worker, chunk):
 * coordinate j uses the 16-bit half-word h = half j % 2 (low half first) of
 * word j / 2, and its bit is 1 iff U * 2^-24 < (1 + v/B)/2 with the 24-bit
 * U = (h << 8) | l. The tie-break byte l (byte j % 4 of word 2^33 + j / 4) is
 * drawn only when h alone does not decide, i.e. with probability < 2^-16:
 * the law of a 24-bit uniform at half the random words of one per coordinate.
 * Every kernel runs on the path gcdl/kernels.h chose (scalar, AVX2, AVX-512),
 * with bit-identical results on each.
 */
#ifndef GCDL_QUANT_H
#define GCDL_QUANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Default scale-block size (profile key `scale_block`). */
#define GCDL_QUANT_DEFAULT_SCALE_BLOCK 256

/**
 * Number of scale blocks in a chunk.
 *
 * @param count        coordinates in the chunk.
 * @param scale_block  S, or 0 for one block per chunk.
 * @return ceil(count / S), 1 when S = 0 and count > 0, 0 when count = 0.
 */
uint32_t gcdl_quant_blocks(uint32_t count, uint32_t scale_block);

/**
 * Bytes taken by `count` packed bits.
 *
 * @param count  coordinates.
 * @return ceil(count / 8).
 */
size_t gcdl_quant_packed_bytes(uint32_t count);

/**
 * Stochastic 1-bit quantization of one chunk with per-block scales.
 *
 * @param v            the chunk's values (finite).
 * @param count        number of coordinates, > 0.
 * @param scale_block  S, or 0 for one scale per chunk.
 * @param seed         job seed.
 * @param round        round number.
 * @param worker       worker index.
 * @param chunk        chunk index.
 * @param scales       receives gcdl_quant_blocks(count, S) scales.
 * @param bits         receives gcdl_quant_packed_bytes(count) bytes.
 * @return 0 on success, -EINVAL for NULL pointers or count = 0, -EDOM if a
 *         value is not finite (nothing is written in that case).
 */
int gcdl_quant_onebit(const float *v, uint32_t count, uint32_t scale_block, uint64_t seed,
		      uint32_t round, uint32_t worker, uint32_t chunk, float *scales, uint8_t *bits);

/**
 * Deterministic sign quantization (signSGD): bit 1 for v >= 0, 0 for v < 0.
 *
 * @param v      the values.
 * @param count  number of coordinates, > 0.
 * @param bits   receives gcdl_quant_packed_bytes(count) bytes.
 * @return 0 on success, -EINVAL for NULL pointers or count = 0.
 */
int gcdl_quant_sign(const float *v, uint32_t count, uint8_t *bits);

/**
 * Unpack bits into values: out_j = B_b * (2 b_j - 1), or 2 b_j - 1 when
 * @p scales is NULL (signs).
 *
 * @param bits         packed bits.
 * @param scales       block scales, or NULL for unit scales.
 * @param count        number of coordinates, > 0.
 * @param scale_block  S, or 0 for one scale per chunk (ignored for NULL scales).
 * @param out          receives count values.
 * @return 0 on success, -EINVAL for NULL bits/out or count = 0.
 */
int gcdl_quant_unpack(const uint8_t *bits, const float *scales, uint32_t count,
		      uint32_t scale_block, float *out);

/**
 * Accumulate packed bits into float accumulators: acc_j += B_b * (2 b_j - 1),
 * or += 2 b_j - 1 when @p scales is NULL (sign votes).
 *
 * @param acc          count accumulators.
 * @param bits         packed bits.
 * @param scales       block scales, or NULL for unit scales.
 * @param count        number of coordinates, > 0.
 * @param scale_block  S, or 0 for one scale per chunk.
 * @return 0 on success, -EINVAL for NULL acc/bits or count = 0.
 */
int gcdl_quant_accumulate(float *acc, const uint8_t *bits, const float *scales, uint32_t count,
			  uint32_t scale_block);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_QUANT_H */
