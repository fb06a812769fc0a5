/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Aggregation of one round: chunk accumulators, contributor sets, decoders.
 *
 * The model's `dim` coordinates are cut into chunks of `chunk_coords`
 * (the last one may be shorter). For every chunk the aggregator keeps a float
 * accumulator and the set of workers that contributed; a second contribution
 * from the same worker to the same chunk is a duplicate and is ignored.
 * Closing a round decodes the gradient estimate:
 *  - unbiased:   g_c = 1/(1-p) * sum_{k in R_c} contribution_k
 *  - normalised: g_c = N/|R_c| * sum_{k in R_c} contribution_k (0 when R_c empty)
 *  - majority:   g_c = sign(sum of sign votes) (signSGD), 0 on ties.
 */
#ifndef GCDL_AGG_H
#define GCDL_AGG_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Decoders of METHOD.md. */
enum gcdl_decoder {
	GCDL_DECODER_NORMALISED = 0, /**< N/|R_c| rescaling, the default */
	GCDL_DECODER_UNBIASED,       /**< 1/(1-p) rescaling, needs p */
	GCDL_DECODER__COUNT
};

/** Most workers one aggregator accepts. */
#define GCDL_AGG_MAX_WORKERS 4096

struct gcdl_agg;

/**
 * Parse a decoder name ("normalised" or "unbiased").
 *
 * @param name  the name.
 * @param dec   where the decoder is written.
 * @return 0 on success, -EINVAL for NULL arguments or an unknown name.
 */
int gcdl_decoder_parse(const char *name, enum gcdl_decoder *dec);

/**
 * The name of a decoder.
 *
 * @param dec  the decoder.
 * @return a static string, "unknown" for a value outside the enum.
 */
const char *gcdl_decoder_name(enum gcdl_decoder dec);

/**
 * Create an aggregator.
 *
 * @param workers       N, 1..GCDL_AGG_MAX_WORKERS.
 * @param dim           model coordinates, > 0.
 * @param chunk_coords  coordinates per chunk, > 0.
 * @return the aggregator, or NULL with errno EINVAL (bad sizes) or ENOMEM.
 */
struct gcdl_agg *gcdl_agg_create(uint32_t workers, uint32_t dim, uint32_t chunk_coords);

/** Free an aggregator; NULL is ignored. @param agg the aggregator. */
void gcdl_agg_free(struct gcdl_agg *agg);

/**
 * Clear accumulators and contributor sets for a new round.
 *
 * @param agg  the aggregator.
 * @return 0, or -EINVAL for NULL.
 */
int gcdl_agg_reset(struct gcdl_agg *agg);

/**
 * Clear one chunk's accumulators and contributor set (touches nothing
 * else: threads that own other chunks may work on them meanwhile).
 *
 * @param agg    the aggregator.
 * @param chunk  chunk index.
 * @return 0, -EINVAL for NULL, -ERANGE for a chunk out of range.
 */
int gcdl_agg_reset_chunk(struct gcdl_agg *agg, uint32_t chunk);

/** @return the number of chunks, 0 for NULL. @param agg the aggregator. */
uint32_t gcdl_agg_chunks(const struct gcdl_agg *agg);

/**
 * Coordinates in one chunk.
 *
 * @param agg    the aggregator.
 * @param chunk  chunk index.
 * @return the chunk's length, 0 for NULL or an out-of-range chunk.
 */
uint32_t gcdl_agg_chunk_len(const struct gcdl_agg *agg, uint32_t chunk);

/**
 * Accumulate one worker's 1-bit chunk with its block scales.
 *
 * @param agg          the aggregator.
 * @param worker       sender, 0..N-1.
 * @param chunk        chunk index.
 * @param scales       the block scales (host order).
 * @param scale_block  S, or 0 for one scale per chunk.
 * @param bits         packed bits.
 * @param count        coordinates; must equal the chunk's length.
 * @return 0 when added, -EALREADY for a duplicate (ignored, nothing changes),
 *         -EINVAL for NULL pointers, -ERANGE for a worker or chunk out of range,
 *         -EMSGSIZE when count differs from the chunk's length.
 */
int gcdl_agg_add_onebit(struct gcdl_agg *agg, uint32_t worker, uint32_t chunk,
			const float *scales, uint32_t scale_block, const uint8_t *bits,
			uint32_t count);

/**
 * Accumulate one worker's float32 chunk.
 *
 * @param agg     the aggregator.
 * @param worker  sender.
 * @param chunk   chunk index.
 * @param v       the values.
 * @param count   coordinates; must equal the chunk's length.
 * @return as gcdl_agg_add_onebit().
 */
int gcdl_agg_add_float(struct gcdl_agg *agg, uint32_t worker, uint32_t chunk, const float *v,
		       uint32_t count);

/**
 * Accumulate one worker's sign votes (+1 for bit 1, -1 for bit 0).
 *
 * @param agg     the aggregator.
 * @param worker  sender.
 * @param chunk   chunk index.
 * @param bits    packed sign bits.
 * @param count   coordinates; must equal the chunk's length.
 * @return as gcdl_agg_add_onebit().
 */
int gcdl_agg_add_sign(struct gcdl_agg *agg, uint32_t worker, uint32_t chunk, const uint8_t *bits,
		      uint32_t count);

/**
 * Whether a worker has contributed to a chunk this round.
 *
 * @param agg     the aggregator.
 * @param worker  worker index.
 * @param chunk   chunk index.
 * @return true if it has; false otherwise or for bad arguments.
 */
bool gcdl_agg_has(const struct gcdl_agg *agg, uint32_t worker, uint32_t chunk);

/**
 * Number of contributors |R_c| to a chunk this round.
 *
 * @param agg    the aggregator.
 * @param chunk  chunk index.
 * @return |R_c|, 0 for bad arguments.
 */
uint32_t gcdl_agg_contributors(const struct gcdl_agg *agg, uint32_t chunk);

/**
 * Total contributions this round over all chunks.
 *
 * @param agg  the aggregator.
 * @return the sum over chunks of |R_c|, 0 for NULL.
 */
uint64_t gcdl_agg_total_contributions(const struct gcdl_agg *agg);

/**
 * Decode the round's gradient estimate.
 *
 * @param agg     the aggregator.
 * @param dec     the decoder.
 * @param p       straggler probability for the unbiased decoder, [0, 1).
 * @param g       receives dim values.
 * @param empty   if not NULL, receives the number of chunks without contributors.
 * @return 0 on success, -EINVAL for NULL pointers, an unknown decoder or p
 *         outside [0, 1).
 */
int gcdl_agg_decode(const struct gcdl_agg *agg, enum gcdl_decoder dec, double p, float *g,
		    uint32_t *empty);

/**
 * Decode the chunks [lo, hi) only: as gcdl_agg_decode(), which decodes
 * [0, chunks). Reads and writes nothing outside those chunks' coordinates.
 *
 * @param agg     the aggregator.
 * @param dec     the decoder.
 * @param p       straggler probability for the unbiased decoder, [0, 1).
 * @param g       the whole gradient (dim values); only the range is written.
 * @param lo      first chunk.
 * @param hi      one past the last chunk.
 * @param empty   if not NULL, receives the range's chunks without contributors.
 * @return 0, -EINVAL as gcdl_agg_decode(), -ERANGE when lo > hi or hi > chunks.
 */
int gcdl_agg_decode_range(const struct gcdl_agg *agg, enum gcdl_decoder dec, double p,
			  float *g, uint32_t lo, uint32_t hi, uint32_t *empty);

/**
 * Majority vote over the chunks [lo, hi) only (gcdl_agg_decode_majority()).
 *
 * @param agg  the aggregator.
 * @param g    the whole vote (dim values); only the range is written.
 * @param lo   first chunk.
 * @param hi   one past the last chunk.
 * @return 0, -EINVAL for NULL pointers, -ERANGE when lo > hi or hi > chunks.
 */
int gcdl_agg_decode_majority_range(const struct gcdl_agg *agg, float *g, uint32_t lo,
				   uint32_t hi);

/**
 * Decode by majority vote: g_j = sign(sum of votes), 0 on a tie or no vote.
 *
 * @param agg  the aggregator.
 * @param g    receives dim values in {-1, 0, +1}.
 * @return 0 on success, -EINVAL for NULL pointers.
 */
int gcdl_agg_decode_majority(const struct gcdl_agg *agg, float *g);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_AGG_H */
