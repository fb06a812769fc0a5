/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Counter-based pseudo-random numbers (Philox4x32-10).
 *
 * The quantizer's stream is a pure function of (seed, round, worker, chunk):
 * word j of the stream is output word j%4 of Philox4x32-10 applied to the
 * counter {j/4, chunk, worker, round} under the key {seed low, seed high}.
 * Any frame can therefore be regenerated bit-for-bit, on any path.
 *
 * A small sequential generator built on the same function serves every other
 * seeded draw (layouts, data shuffles, stragglers, minibatches, faults), each
 * in its own domain so streams never overlap.
 */
#ifndef GCDL_RNG_H
#define GCDL_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * One Philox4x32-10 block.
 *
 * @param ctr  the 128-bit counter.
 * @param key  the 64-bit key.
 * @param out  the four output words.
 * NULL arguments are ignored (nothing is written).
 */
void gcdl_rng_philox(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/**
 * Words [first, first+n) of the stream keyed by (seed, round, worker, chunk).
 *
 * @param seed    job seed.
 * @param round   round number.
 * @param worker  worker index.
 * @param chunk   chunk index.
 * @param first   index of the first word wanted.
 * @param out     where the n words are written.
 * @param n       number of words; 0 is allowed and writes nothing.
 * @return 0 on success, -EINVAL if @p out is NULL while n > 0, -ERANGE if
 *         first + n overflows the 2^34-word stream.
 */
int gcdl_rng_stream(uint64_t seed, uint32_t round, uint32_t worker, uint32_t chunk,
		    uint64_t first, uint32_t *out, size_t n);

/** The worker id of the stream that breaks tied signsgd_mv votes, keyed by
 *  (seed, round, this, chunk): no worker has it. */
#define GCDL_RNG_VOTE_WORKER 0xFFFFFFFFu

/** Domains of the sequential generator; each gives independent streams. */
enum gcdl_rng_domain {
	GCDL_RNG_LAYOUT = 1,
	GCDL_RNG_DATA,
	GCDL_RNG_STRAGGLER,
	GCDL_RNG_MINIBATCH,
	GCDL_RNG_INIT,
	GCDL_RNG_FAULT,
	GCDL_RNG_TEST,
	GCDL_RNG_LOSS,     /**< simulated packet loss (gcdl-sim --packet-loss) */
};

/** Sequential generator state; plain data, copy to fork a stream. */
struct gcdl_rng {
	uint32_t key[2];
	uint32_t ctr[4];
	uint32_t buf[4];
	uint32_t left; /**< unused words left in buf */
};

/**
 * Start a sequential stream.
 *
 * @param r       the state to initialise.
 * @param seed    job seed.
 * @param domain  what the draws are for (enum gcdl_rng_domain).
 * @param a       first stream selector (e.g. round).
 * @param b       second stream selector (e.g. worker).
 * A NULL @p r is ignored.
 */
void gcdl_rng_init(struct gcdl_rng *r, uint64_t seed, uint32_t domain, uint32_t a, uint32_t b);

/** @return the next 32 uniformly distributed bits (0 for NULL). @param r the state. */
uint32_t gcdl_rng_u32(struct gcdl_rng *r);

/** @return the next 64 uniformly distributed bits. @param r the state. */
uint64_t gcdl_rng_u64(struct gcdl_rng *r);

/** @return a double uniform on [0, 1) with 53 random bits. @param r the state. */
double gcdl_rng_uniform(struct gcdl_rng *r);

/**
 * An integer uniform on [0, n), without modulo bias.
 *
 * @param r  the state.
 * @param n  the bound; 0 returns 0.
 * @return the draw.
 */
uint32_t gcdl_rng_below(struct gcdl_rng *r, uint32_t n);

/** @return a standard normal draw (Box-Muller). @param r the state. */
double gcdl_rng_normal(struct gcdl_rng *r);

/**
 * Shuffle an array of indices in place (Fisher-Yates).
 *
 * @param r  the state.
 * @param a  the array; NULL (with any n) or a NULL @p r does nothing.
 * @param n  its length.
 */
void gcdl_rng_shuffle(struct gcdl_rng *r, uint32_t *a, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_RNG_H */
