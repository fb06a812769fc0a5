/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The end of a round, written once for every program: after a round's
 * update is applied, add the round's totals to the node's counters,
 * evaluate train loss and test accuracy when due, write the metrics row,
 * print progress and write the checkpoint when due. gcdl-sim, the
 * aggregator node, the mesh node and the local data plane all call
 * gcdl_round_end_close(), so their metrics agree column for column.
 *
 * Progress is one line: "[who]round R/T loss L acc A X rounds/s F frames/s
 * G Gbit/s stragglers S late N ETA E s" ("loss - acc -" before the first
 * evaluation); on a terminal the line is rewritten with \\r and ended with a
 * newline after the last round.
 */
#ifndef GCDL_ROUND_END_H
#define GCDL_ROUND_END_H

#include <stdint.h>
#include <stdio.h>

#include "gcdl/checkpoint.h"
#include "gcdl/counters.h"
#include "gcdl/engine.h"
#include "gcdl/job.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What the end of a round writes. */
struct gcdl_round_end_opts {
	FILE *metrics;       /**< metrics CSV (header written), or NULL */
	FILE *progress;      /**< progress lines, or NULL */
	int progress_tty;    /**< one line rewritten with \\r instead of plain lines */
	double progress_s;   /**< at most this many seconds between progress lines */
	const char *who;     /**< prefix of progress lines ("aggregator 1: "), or NULL */
	int evaluate;        /**< evaluate when due (0: never: a sharded aggregator holds
			      *   only its range of the model) */
	int checkpoint;      /**< write the profile's checkpoints (checkpoint.every/path) */
};

/** The state of the rounds' ends of one node. */
struct gcdl_round_end {
	struct gcdl_job *job;       /**< datasets for evaluation, the profile */
	struct gcdl_engine *e;      /**< the model evaluated and checkpointed */
	struct gcdl_counters *c;    /**< the node's counters: the round's totals go here */
	struct gcdl_round_end_opts o;
	uint32_t first_round;       /**< 0, or the round a checkpoint continued with */
	uint32_t rounds_done;       /**< rounds completed */
	int evaluated;              /**< loss and acc hold an evaluation */
	double loss, acc;           /**< the last evaluation */
	double t0_s;                /**< monotonic seconds at gcdl_round_end_init() */
	double report_s;            /**< of the last progress line */
	uint32_t report_round;      /**< rounds_done at the last progress line */
	uint64_t report_frames;     /**< uplink_accepted then */
	uint64_t report_wire;       /**< uplink_wire_bytes then */
};

/**
 * Start the rounds' ends of a node. With a checkpoint to continue from, its
 * totals are copied into the node's counters.
 *
 * @param re      the state.
 * @param job     the job (datasets and profile).
 * @param e       the engine whose model is evaluated and checkpointed.
 * @param c       the node's counters.
 * @param o       what to write (copied), or NULL for nothing.
 * @param resume  the checkpoint the run continues from, or NULL.
 * @return 0, or -EINVAL for NULL @p re, @p job, @p e or @p c.
 */
int gcdl_round_end_init(struct gcdl_round_end *re, struct gcdl_job *job, struct gcdl_engine *e,
			struct gcdl_counters *c, const struct gcdl_round_end_opts *o,
			const struct gcdl_checkpoint *resume);

/**
 * Restart the clock of the rates and the ETA (when the first round starts,
 * after joins and warm-up).
 *
 * @param re  the state.
 */
void gcdl_round_end_start(struct gcdl_round_end *re);

/**
 * The end of round t: add the round's payload bytes, wire bytes and
 * stragglers to the counters, evaluate when due (every job.eval_every rounds
 * and the last), write the metrics row (uplink_bits = 8 x the wire bytes so
 * far), print progress when due, and write the checkpoint when due (every
 * checkpoint.every rounds, not after the last).
 *
 * @param re       the state.
 * @param round    t (0-based).
 * @param info     what closing the round found.
 * @param wall_ms  the round's time, from its start to its close.
 * @param last     non-zero for the run's last round (also a stop request).
 * @param err      receives one line on failure.
 * @param errlen   size of @p err.
 * @return 0; -EIO when the metrics row cannot be written; the engine's
 *         error when evaluation fails; the checkpoint's when it cannot be
 *         written.
 */
int gcdl_round_end_close(struct gcdl_round_end *re, uint32_t round,
			 const struct gcdl_round_info *info, double wall_ms, int last, char *err,
			 size_t errlen);

/**
 * Evaluate the model now (outside the schedule: a worker's final replica).
 *
 * @param re   the state.
 * @param w    the model to evaluate (NULL: the engine's).
 * @return 0, or the engine's error.
 */
int gcdl_round_end_eval(struct gcdl_round_end *re, const float *w);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_ROUND_END_H */
