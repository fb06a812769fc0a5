/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The in-memory cluster simulator: every worker and the aggregator of a job
 * in one thread, with real frames (encoded, validated, decoded) and injected
 * stragglers, driving the same engine as the data plane.
 */
#ifndef GCDL_SIM_H
#define GCDL_SIM_H

#include <stdint.h>
#include <stdio.h>

#include "gcdl/counters.h"
#include "gcdl/job.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a run writes while it goes. */
struct gcdl_sim_opts {
	FILE *metrics;      /**< metrics CSV stream (header already written), or NULL */
	FILE *progress;     /**< progress stream, or NULL for none */
	int progress_tty;   /**< non-zero: one updating line; zero: plain periodic lines */
	double progress_s;  /**< seconds between progress reports */
	const volatile int *stop; /**< if not NULL, the run stops after the round when *stop != 0 */
	double packet_loss; /**< probability that an uplink frame is lost, 0..1 (each frame
			     *   independently, seeded by (seed, round, worker, chunk)) */
	/** receives the run's counters (gcdl/counters.h: uplink frames and bytes,
	 *  stragglers, lost frames as fault_dropped, evaluation CPU time), or NULL */
	struct gcdl_counters *counters;
};

/** What a run ends with. */
struct gcdl_sim_result {
	uint32_t rounds;          /**< rounds completed */
	double train_loss;        /**< last evaluation */
	double test_accuracy;     /**< last evaluation */
	uint64_t frames;          /**< uplink frames accepted */
	uint64_t payload_bits;    /**< uplink payload bits (cumulative) */
	uint64_t uplink_bits;     /**< uplink on-the-wire bits (cumulative) */
	uint64_t downlink_bits;   /**< downlink on-the-wire bits sent, each frame once */
	uint64_t stragglers;      /**< worker-rounds missed */
	uint64_t lost_frames;     /**< uplink frames dropped by the simulated packet loss */
	double wall_s;            /**< run time */
};

/** The decoded gradient measured against the exact one (gcdl_sim_variance()). */
struct gcdl_sim_variance {
	uint32_t draws;       /**< straggler sets (and quantizer draws) measured */
	double grad_norm2;    /**< ||grad F(w)||^2, the exact gradient's squared norm */
	double mse;           /**< mean over draws of ||g - grad F(w)||^2 */
	double mse_stderr;    /**< standard error of @ref mse */
	double variance;      /**< E||g - E g||^2 (trace of the covariance of g) */
	double bias2;         /**< ||E g - grad F(w)||^2 (E: the mean over the draws) */
	double stragglers;    /**< mean stragglers per draw */
	double empty_chunks;  /**< mean chunks per draw that nobody contributed to */
};

/**
 * Run a job's rounds in memory.
 *
 * @param job  an open job.
 * @param o    output options (NULL: none).
 * @param res  receives the result, or NULL.
 * @return 0, -EINVAL for NULL @p job, -ENOMEM, -EIO when the metrics file
 *         cannot be written, or an engine error.
 */
int gcdl_sim_run(struct gcdl_job *job, const struct gcdl_sim_opts *o, struct gcdl_sim_result *res);

/**
 * Measure the decoded gradient against the exact gradient at the engine's
 * current model w: compute every worker's v_k once, take grad F(w) as their
 * sum, then for each of @p draws rounds (keys job.rounds, job.rounds + 1, ...)
 * draw the stragglers, the packet loss and the quantizer as a round would,
 * send real frames and decode them with gcdl_engine_decode_round() (no
 * optimizer step). With model.batch > 0 every draw uses the minibatches of
 * round job.rounds, so grad F(w) is the gradient over those rows.
 *
 * @param job    an open job (its model is not changed).
 * @param o      options (only packet_loss is used; NULL: none).
 * @param draws  number of draws, >= 2.
 * @param out    receives the measurement.
 * @return 0, -EINVAL for NULL arguments or draws < 2, -ENOTSUP for
 *         signsgd_mv (its aggregate is a sign vector, not a gradient
 *         estimate), -ENOMEM, or an engine error.
 */
int gcdl_sim_variance(struct gcdl_job *job, const struct gcdl_sim_opts *o, uint32_t draws,
		      struct gcdl_sim_variance *out);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_SIM_H */
