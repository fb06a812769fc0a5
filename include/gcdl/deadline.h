/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Round deadlines: fixed, or adaptive (a quantile of recent arrival times,
 * bounded). The simulator and the data plane use the same rule.
 */
#ifndef GCDL_DEADLINE_H
#define GCDL_DEADLINE_H

#include <stdint.h>

#include "gcdl/profile.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Arrival times kept for the adaptive deadline. */
#define GCDL_DEADLINE_WINDOW 256

/** Deadline state. */
struct gcdl_deadline {
	enum gcdl_deadline_mode mode;
	double fixed_us, quantile, min_us, max_us;
	double window[GCDL_DEADLINE_WINDOW]; /**< most recent arrival times, ring */
	uint32_t count;                      /**< how many are valid */
	uint32_t next;                       /**< where the next one goes */
};

/**
 * Initialise from a profile's [deadline] keys.
 *
 * @param dl  the state.
 * @param p   the profile.
 * @return 0, or -EINVAL for NULL arguments.
 */
int gcdl_deadline_init(struct gcdl_deadline *dl, const struct gcdl_profile *p);

/**
 * Record one worker's arrival time (from round start), in microseconds.
 *
 * @param dl  the state.
 * @param us  the time; non-finite or negative values (and a NULL @p dl) are ignored.
 */
void gcdl_deadline_observe(struct gcdl_deadline *dl, double us);

/**
 * The deadline for the next round, in microseconds: fixed_us, or the
 * quantile of the recorded times clamped to [min_us, max_us] (max_us while
 * nothing has been recorded).
 *
 * @param dl  the state.
 * @return the deadline, 0 for NULL.
 */
double gcdl_deadline_current(const struct gcdl_deadline *dl);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_DEADLINE_H */
