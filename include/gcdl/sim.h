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
};

/** What a run ends with. */
struct gcdl_sim_result {
	uint32_t rounds;          /**< rounds completed */
	double train_loss;        /**< last evaluation */
	double test_accuracy;     /**< last evaluation */
	uint64_t frames;          /**< uplink frames accepted */
	uint64_t payload_bits;    /**< uplink payload bits (cumulative) */
	uint64_t uplink_bits;     /**< uplink on-the-wire bits (cumulative) */
	uint64_t stragglers;      /**< worker-rounds missed */
	double wall_s;            /**< run time */
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

#ifdef __cplusplus
}
#endif

#endif /* GCDL_SIM_H */
