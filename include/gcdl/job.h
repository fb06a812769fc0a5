/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * A job: a profile's datasets loaded, normalised and partitioned, and the
 * engine built on them. Shared by gcdl-sim and the data plane so both start
 * from exactly the same state.
 */
#ifndef GCDL_JOB_H
#define GCDL_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "gcdl/dataset.h"
#include "gcdl/engine.h"
#include "gcdl/profile.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A loaded job. */
struct gcdl_job {
	struct gcdl_profile prof;   /**< the profile it was built from */
	struct gcdl_dataset train;  /**< partitioned training set */
	struct gcdl_dataset test;   /**< test set */
	uint32_t *offsets;          /**< M+1 partition offsets into train */
	struct gcdl_engine *engine; /**< the engine */
};

/**
 * Load the datasets of a profile and build the engine.
 *
 * @param job       receives the job.
 * @param p         the profile (it is validated here).
 * @param contexts  compute contexts for the engine, >= 1.
 * @param err       receives a message naming the file or key on failure.
 * @param errlen    size of @p err.
 * @return 0, or a negative errno with @p job left empty.
 */
int gcdl_job_open(struct gcdl_job *job, const struct gcdl_profile *p, uint32_t contexts,
		  char *err, size_t errlen);

/**
 * Build another engine on a job's datasets: the same layout, the same seeded
 * initial model, its own model replica, optimizer state and accumulators
 * (each node of a data plane has one). Free it with gcdl_engine_free()
 * before the job is closed.
 *
 * @param job       an open job.
 * @param contexts  compute contexts, >= 1.
 * @param err       receives a message on failure.
 * @param errlen    size of @p err.
 * @return the engine, or NULL with errno set (EINVAL, ENOMEM).
 */
struct gcdl_engine *gcdl_job_engine_create(struct gcdl_job *job, uint32_t contexts, char *err,
					   size_t errlen);

/** Release a job; an empty one is accepted. @param job the job. */
void gcdl_job_close(struct gcdl_job *job);

/**
 * Whether round t is evaluated (every eval_every rounds, and always the last).
 *
 * @param p      the profile.
 * @param round  t (0-based).
 * @return true when train loss and test accuracy are computed after round t;
 *         false for NULL @p p.
 */
bool gcdl_job_eval_due(const struct gcdl_profile *p, uint32_t round);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_JOB_H */
