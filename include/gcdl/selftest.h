/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The frames of the self-tests `--inject-garbage N` and `--inject-hostile N`:
 * a node sends N of them per round to the peers it sends its own frames to,
 * and the receivers must drop and count every one, changing nothing.
 *
 * Garbage: each frame starts as a valid frame of the sender's kind (an
 * uplink gradient frame of a worker, an update frame of an aggregator) and
 * is broken in one way, so that gcdl_frame_decode() drops it under a known
 * reason; fields checked after the CRC are broken before the frame is
 * sealed, so the CRC does not hide them. Frame number seq of a run has kind
 * seq % GCDL_GARBAGE__COUNT, so the kinds cycle even at one frame a round.
 *
 * Hostile (needs a job key): well-formed frames of the sender's kind that
 * only the tag can tell from genuine ones, cycling three kinds:
 *   spoofed:   round t, tagged with a wrong key (dropped as auth);
 *   replayed:  tagged with the key of the sender's genuine frames (the
 *              run's session key) but of round t - 1, as a copy of an
 *              authentic frame of a closed round would be (late); round 0
 *              has no closed round: spoofed instead;
 *   altered:   round t, tagged with that key, then one payload byte
 *              changed and the CRC recomputed (dropped as auth).
 * No DPDK types: the data plane copies the bytes into mbufs.
 */
#ifndef GCDL_SELFTEST_H
#define GCDL_SELFTEST_H

#include <stddef.h>
#include <stdint.h>

#include "gcdl/auth.h"
#include "gcdl/engine.h"
#include "gcdl/profile.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The kinds of garbage frames, in the order they cycle. */
enum gcdl_garbage_kind {
	GCDL_GARBAGE_TRUNCATED = 0, /**< one byte short of a header: drop truncated */
	GCDL_GARBAGE_ETHERTYPE,     /**< EtherType 0x0800: drop ethertype */
	GCDL_GARBAGE_MAGIC,         /**< drop magic */
	GCDL_GARBAGE_CRC,           /**< payload changed after sealing: drop crc */
	GCDL_GARBAGE_JOB,           /**< another job id: drop job */
	GCDL_GARBAGE_SENDER,        /**< sender id out of range: drop sender */
	GCDL_GARBAGE_OFFSET,        /**< first_coord off by one: drop offset */
	GCDL_GARBAGE_COUNT,         /**< coord_count too large: drop count */
	GCDL_GARBAGE_LENGTH,        /**< payload_len past the frame's end: drop length */
	GCDL_GARBAGE_RANDOM,        /**< random bytes, never the gcdl EtherType:
				     *   drop truncated or ethertype */
	GCDL_GARBAGE__COUNT
};

/** Who sends the self-test frames: their kind and sender id follow from it. */
struct gcdl_selftest_from {
	int aggregator;     /**< 0: a worker (gradient frames); 1: an aggregator (updates) */
	uint16_t sender;    /**< its sender id (k, or N + a) */
	uint32_t senders;   /**< sender ids the receivers accept (garbage goes beyond) */
};

/**
 * Build garbage frame number @p seq of round @p round.
 *
 * @param e      the job's engine (frame shape).
 * @param p      the profile.
 * @param from   the sender.
 * @param round  t.
 * @param seq    the frame's number in the run.
 * @param buf    receives the frame.
 * @param cap    its capacity.
 * @return the frame's length, 0 when @p cap is too small or an argument is NULL.
 */
size_t gcdl_selftest_garbage(const struct gcdl_engine *e, const struct gcdl_profile *p,
			     const struct gcdl_selftest_from *from, uint32_t round, uint64_t seq,
			     uint8_t *buf, size_t cap);

/**
 * Build hostile frame number @p seq of round @p round.
 *
 * @param e      the job's engine (frame shape).
 * @param p      the profile.
 * @param auth   the key of the sender's genuine frames (with a job key, the
 *               run's session key: gcdl/auth.h).
 * @param from   the sender.
 * @param round  t.
 * @param seq    the frame's number in the run (kind seq % 3, chunk and worker
 *               from seq / 3).
 * @param buf    receives the frame.
 * @param cap    its capacity.
 * @return the frame's length, 0 when @p cap is too small or an argument is NULL.
 */
size_t gcdl_selftest_hostile(const struct gcdl_engine *e, const struct gcdl_profile *p,
			     const struct gcdl_auth *auth, const struct gcdl_selftest_from *from,
			     uint32_t round, uint64_t seq, uint8_t *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_SELFTEST_H */
