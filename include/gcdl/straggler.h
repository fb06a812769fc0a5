/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Injected stragglers: which workers miss a round, and how long workers take.
 *
 * Two models (METHOD.md, Setting):
 *  - Bernoulli(p): each worker independently misses each round with probability p.
 *  - timing: worker k's compute time in round t is
 *    slowdown_k * (shift + Exp(mean)); it misses the round when that time is
 *    past the round's deadline. In the data plane the worker really waits that
 *    long (scaled by `time_scale`) and the deadline decides; in the simulator
 *    the comparison is made directly.
 * Every draw is a pure function of (seed, round, worker), so the simulator and
 * the data plane see the same stragglers.
 */
#ifndef GCDL_STRAGGLER_H
#define GCDL_STRAGGLER_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Straggler models. */
enum gcdl_straggler_kind {
	GCDL_STRAGGLER_NONE = 0,
	GCDL_STRAGGLER_BERNOULLI,
	GCDL_STRAGGLER_TIMING,
	GCDL_STRAGGLER__COUNT
};

/** Parameters of the straggler model. */
struct gcdl_straggler_model {
	enum gcdl_straggler_kind kind;
	double p;             /**< Bernoulli probability, [0, 1) */
	double shift_us;      /**< timing: minimum compute time, >= 0 */
	double mean_us;       /**< timing: mean of the exponential part, >= 0 */
	uint32_t workers;     /**< length of slowdown[] */
	const double *slowdown; /**< timing: per-worker factor >= 1, or NULL for all 1 */
};

/**
 * Parse a straggler model name ("none", "bernoulli", "timing").
 *
 * @param name  the name.
 * @param kind  where the kind is written.
 * @return 0, or -EINVAL for NULL or an unknown name.
 */
int gcdl_straggler_kind_parse(const char *name, enum gcdl_straggler_kind *kind);

/**
 * Worker k's simulated compute time in a round, in microseconds.
 *
 * @param m       the model.
 * @param seed    job seed.
 * @param round   round number.
 * @param worker  worker index.
 * @return the time for the timing model, 0 for the other models or bad arguments.
 */
double gcdl_straggler_compute_us(const struct gcdl_straggler_model *m, uint64_t seed,
				 uint32_t round, uint32_t worker);

/**
 * Whether worker k is a straggler in a round.
 *
 * @param m            the model.
 * @param seed         job seed.
 * @param round        round number.
 * @param worker       worker index.
 * @param deadline_us  the round's deadline (timing model only).
 * @return true for a straggler; false otherwise, for model none, or NULL @p m.
 */
bool gcdl_straggler_is(const struct gcdl_straggler_model *m, uint64_t seed, uint32_t round,
		       uint32_t worker, double deadline_us);

/**
 * Parse a slowdown list "K:F[,K:F...]" (worker K is F times slower) into a
 * per-worker array initialised to 1.
 *
 * @param text     the list; "" leaves every factor at 1.
 * @param workers  N.
 * @param out      N factors.
 * @return 0, or -EINVAL for NULL, a malformed entry, K >= N, F < 1 or not finite.
 */
int gcdl_straggler_parse_slowdown(const char *text, uint32_t workers, double *out);

struct gcdl_profile;

/**
 * Fill a straggler model from a profile's [stragglers] section and
 * cluster.workers (N).
 *
 * @param m         the model; m->slowdown is set to @p slowdown.
 * @param p         the profile.
 * @param slowdown  N factors, filled from stragglers.slowdown.
 * @return 0, or -EINVAL for NULL or a malformed stragglers.slowdown.
 */
int gcdl_straggler_from_profile(struct gcdl_straggler_model *m, const struct gcdl_profile *p,
				double *slowdown);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_STRAGGLER_H */
