/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Checkpoints of the aggregator: everything needed to continue a run after
 * a crash, written atomically (temporary file, fsync, rename, fsync of the
 * directory) with a CRC-32 over the whole file that is verified on load.
 *
 * Contents: the round to continue with (rounds completed), the model and the
 * optimizer state (momentum), the layout (kind, N, M, d and a hash of every
 * worker's partitions), the job's profile hash (gcdl_profile_hash()), and
 * the RNG state. Every random draw of gcdl is counter-based, keyed by
 * (job.seed, round, worker, chunk), so the RNG state is the seed and the
 * round; both are stored and checked. Also the run's cumulative totals
 * (every counter of gcdl/counters.h flagged GCDL_CTR_F_RESUME: uplink bits,
 * stragglers, rounds closed, ...), so the metrics and summaries continue
 * where they stopped.
 *
 * File layout (little-endian): "GCDLCKPT", version (u32, 3), header length
 * (u32, 96), round, dim, workers, partitions, redundancy, layout kind,
 * method, number of totals T (u32 each), profile hash, layout hash, seed,
 * hash of the totals' names (u64 each), whether the downlink's residual
 * follows (u32, 0 or 1), the number S of worker states (u32; version 4),
 * 8 bytes of zeros; then T u64 totals in the order of the counter list, dim
 * float32 of model, dim of momentum and, if so, dim of residual, then S
 * worker states (u32 worker, u32 which: gcdl/engine.h enum
 * gcdl_worker_state, dim float32), then the CRC-32 (zlib) of everything
 * before. Version 3 (S = 0) is read too.
 *
 * Worker states (onebit_gc_ef's residuals, optim.momentum_at = workers) are
 * those the writing engine sees: in local mode every worker's (the nodes
 * share them); a multi-host aggregator's checkpoint holds none (each worker
 * keeps its own in its process; a restarted worker starts from 0).
 */
#ifndef GCDL_CHECKPOINT_H
#define GCDL_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "gcdl/counters.h"

#ifdef __cplusplus
extern "C" {
#endif

struct gcdl_engine;
struct gcdl_profile;

#define GCDL_CHECKPOINT_VERSION 4

/** A checkpoint in memory. */
struct gcdl_checkpoint {
	uint32_t round;          /**< rounds completed: the run continues with this round */
	uint32_t dim;
	uint32_t workers, partitions, redundancy;
	uint32_t layout_kind;    /**< enum gcdl_layout_kind in use */
	uint32_t method;         /**< enum gcdl_method */
	uint64_t profile_hash;   /**< gcdl_profile_hash() of the job */
	uint64_t layout_hash;    /**< FNV-1a over every worker's partition list */
	uint64_t seed;           /**< job.seed: with round, the state of every RNG stream */
	/** the run's totals, by counter id (only GCDL_CTR_F_RESUME counters are
	 *  written and read; the others are 0) */
	uint64_t totals[GCDL_CTR__COUNT];
	float *model;            /**< dim values */
	float *momentum;         /**< dim values */
	float *residual;         /**< dim values: the downlink's error feedback (downlink.mode
				  *   onebit), or NULL */
	uint32_t nstates;        /**< worker states that follow */
	uint32_t states_busy;    /**< describe: states skipped, their worker computing */
	uint32_t *state_worker;  /**< nstates: the worker of each */
	uint32_t *state_which;   /**< nstates: enum gcdl_worker_state */
	float *states;           /**< nstates * dim values (the checkpoint's own copy) */
	int owned;               /**< model and momentum are the checkpoint's (load) */
};

/**
 * Describe an engine's state after `round` completed rounds (model and
 * momentum point into the engine; the worker states it holds are copied:
 * free with gcdl_checkpoint_free()).
 *
 * @param ck     receives the description (totals 0); set the totals after.
 * @param p      the job's profile.
 * @param e      the engine.
 * @param round  rounds completed.
 * @return 0, -EINVAL for NULL arguments, -ENOMEM.
 */
int gcdl_checkpoint_describe(struct gcdl_checkpoint *ck, const struct gcdl_profile *p,
			     struct gcdl_engine *e, uint32_t round);

/**
 * Write a checkpoint atomically: PATH.tmp-PID, fsync, rename over PATH, fsync
 * of the directory. A crash at any point leaves the old file or the new one,
 * never a torn one.
 *
 * @param path    the file.
 * @param ck      what to write.
 * @param err     receives "PATH: reason" on failure.
 * @param errlen  size of @p err.
 * @return 0, -EINVAL for NULL arguments, or the negative errno of the failed call.
 */
int gcdl_checkpoint_save(const char *path, const struct gcdl_checkpoint *ck, char *err,
			 size_t errlen);

/**
 * Read and verify a checkpoint: magic, version, header, size, CRC-32 and
 * finite values. Nothing of a file that fails is returned.
 *
 * @param path    the file.
 * @param ck      receives the checkpoint; free with gcdl_checkpoint_free().
 * @param err     receives "PATH: reason" on failure.
 * @param errlen  size of @p err.
 * @return 0; -EINVAL for NULL arguments; -EBADMSG for a file that is not a
 *         gcdl checkpoint, of another version, truncated, with a wrong
 *         checksum or non-finite values; -ENOMEM; or the errno of reading.
 */
int gcdl_checkpoint_load(const char *path, struct gcdl_checkpoint *ck, char *err,
			 size_t errlen);

/**
 * Check that a checkpoint belongs to this job and load it into the engine
 * (model, momentum, the downlink's residual and the worker states). Refused:
 * another profile hash, seed, method, dimension or layout, a round at or
 * past job.rounds, or a worker state this job does not keep.
 *
 * @param ck      a loaded checkpoint.
 * @param p       the job's profile.
 * @param e       its engine (not running).
 * @param err     receives one line naming what differs.
 * @param errlen  size of @p err.
 * @return 0, -EINVAL for NULL arguments, -ESTALE for a mismatch (nothing changed).
 */
int gcdl_checkpoint_restore(const struct gcdl_checkpoint *ck, const struct gcdl_profile *p,
			    struct gcdl_engine *e, char *err, size_t errlen);

/**
 * Free what gcdl_checkpoint_load() allocated. NULL is ignored.
 *
 * @param ck  the checkpoint.
 */
void gcdl_checkpoint_free(struct gcdl_checkpoint *ck);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_CHECKPOINT_H */
