/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Fault injection at transmit (profile section [faults]): which uplink
 * frames a worker drops, duplicates, reorders or corrupts, and how long a
 * slow worker holds its frames back.
 *
 * Every decision is drawn from the counter-based generator keyed by
 * (faults seed, round, worker), so the same seed injects the same faults
 * whatever the timing: a failing run can be replayed. This file only
 * decides; the data plane's transmit path (lib/dp/faults_tx.c) applies the
 * plan to its mbufs.
 */
#ifndef GCDL_FAULTS_H
#define GCDL_FAULTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gcdl_profile;

#define GCDL_FAULTS_MAX_WINDOW 1024 /**< upper bound of faults.reorder_window */

/** The fault model of a run. */
struct gcdl_faults {
	double drop_p;           /**< probability a frame is not sent */
	double dup_p;            /**< probability a sent frame is sent twice */
	double corrupt_p;        /**< probability a sent copy has one bit flipped */
	uint32_t reorder_window; /**< frames shuffled within windows of this many (<= 1: none) */
	uint64_t seed;           /**< seed of every decision */
	uint32_t workers;
	double *slow_factor;     /**< per worker: frames go out at start + F * (ready - start) */
	double *slow_extra_us;   /**< per worker: then this much later */
	int active;              /**< any fault configured */
};

/** One frame to send, in transmit order. */
struct gcdl_fault_send {
	uint32_t index;          /**< which of the round's frames (0..n-1) */
	uint32_t copy;           /**< 0: the original, 1: the duplicate */
	int corrupt;             /**< flip one bit (gcdl_faults_flip() with @c flip) */
	uint32_t flip;           /**< random word choosing the bit */
};

/** What a plan did (added to the caller's counters). */
struct gcdl_fault_counts {
	uint64_t dropped;
	uint64_t duplicated;
	uint64_t corrupted;      /**< copies with a flipped bit */
	uint64_t reordered;      /**< copies sent at another position than without reordering */
};

/**
 * Parse faults.slow_workers: comma-separated entries "K:F" (worker K takes
 * F times as long, F >= 1, an optional trailing 'x') or "K:+Dus" (its frames
 * go out D microseconds later, D >= 0); a worker may have one of each. The
 * empty string means none.
 *
 * @param text      the value.
 * @param workers   N: valid K are 0..N-1.
 * @param factor    N entries, set to 1 then to each F given (may be NULL to only check).
 * @param extra_us  N entries, set to 0 then to each D given (may be NULL).
 * @return 0, or -EINVAL for a malformed entry, K out of range, F < 1, D < 0
 *         or not finite, or a worker named twice for the same kind.
 */
int gcdl_faults_parse_slow(const char *text, uint32_t workers, double *factor,
			   double *extra_us);

/**
 * Set up the fault model from the profile's [faults] section (seed 0 means
 * the job seed).
 *
 * @param f  receives the model; free with gcdl_faults_fini().
 * @param p  a validated profile.
 * @return 0, -EINVAL for NULL or a malformed faults.slow_workers, -ENOMEM.
 */
int gcdl_faults_init(struct gcdl_faults *f, const struct gcdl_profile *p);

/**
 * Free what gcdl_faults_init() allocated. NULL is ignored.
 *
 * @param f  the model.
 */
void gcdl_faults_fini(struct gcdl_faults *f);

/**
 * Plan the transmission of one worker's n frames of a round: each frame is
 * dropped with drop_p, else sent and followed by a duplicate with dup_p;
 * every copy is corrupted with corrupt_p; then the copies are shuffled
 * within consecutive windows of reorder_window copies (so none moves by
 * reorder_window or more positions).
 *
 * @param f       the model.
 * @param round   the round.
 * @param worker  the worker.
 * @param n       frames of the round.
 * @param out     receives the copies in transmit order; room for 2*n.
 * @param c       counters to add to, or NULL.
 * @return the number of copies in @p out (0..2n), or -EINVAL for NULL
 *         @p f or @p out with n > 0.
 */
int gcdl_faults_plan(const struct gcdl_faults *f, uint32_t round, uint32_t worker, uint32_t n,
		     struct gcdl_fault_send *out, struct gcdl_fault_counts *c);

/**
 * Flip one bit of a frame, chosen by @p flip among the bits every receiver
 * checks: from the EtherType to the end of the payload (the MAC addresses
 * and the padding are not covered by the CRC, so a flip there would go
 * unnoticed and is not what corruption tests want).
 *
 * @param frame  the frame, Ethernet header first.
 * @param len    its length.
 * @param flip   random word.
 * @return the bit flipped (byte * 8 + bit), or -EINVAL for NULL or a frame
 *         shorter than its header.
 */
long gcdl_faults_flip(uint8_t *frame, size_t len, uint32_t flip);

/**
 * How long a slow worker holds its frames after they are ready.
 *
 * @param f           the model.
 * @param worker      the worker.
 * @param elapsed_us  from the round's start to the frames being ready.
 * @return (F - 1) * elapsed_us + D for the worker (0 when it is not slow or
 *         for NULL @p f or an unknown worker).
 */
double gcdl_faults_hold_us(const struct gcdl_faults *f, uint32_t worker, double elapsed_us);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_FAULTS_H */
