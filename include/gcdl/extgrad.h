/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The external-gradient channel: how a trainer outside gcdl (a PyTorch
 * process, lib/python/gcdl) and its gcdl worker node (model.type external,
 * `gcdl --role worker --grad-shm FILE`) exchange one gradient vector per
 * round through a shared file mapping, with no system call per round.
 *
 * The node creates the file; the trainer maps it and waits for
 * GCDL_EXTGRAD_RUNNING. Round t:
 *   - the node writes `straggler` = t + 1 if its worker is an injected
 *     straggler of round t (its gradient will not be sent: the trainer may skip
 *     computing it), then `out_rounds` = t (the gradients of rounds < t are
 *     decoded; see below);
 *   - the trainer writes its v_k of round t (the weighted sum of its
 *     partitions' gradients, METHOD.md) to `in`, then `in_round` = t + 1;
 *   - the node, while its round is t, takes it (`taken` = t + 1) and sends it
 *     as 1-bit frames; a gradient for a round that has closed is never sent;
 *   - every worker decodes round t from the relayed frames (downlink.mode
 *     relay) into slot t % slots of `out`, then sets `out_rounds` = t + 1.
 *     The trainer steps its own optimizer with it: every replica applies the
 *     same decoded gradients in the same order, and a trainer that was late
 *     catches up by applying the slots it has not yet applied.
 * Counters are 64-bit, written by one side only, stored with release and
 * read with acquire semantics. A reader of slot t checks `out_rounds` again
 * after copying it: above t + slots, the slot was overwritten meanwhile (the
 * trainer fell more than `slots` rounds behind).
 *
 * Byte offsets are fixed (the Python side reads them by offset) and every
 * value is little-endian, native on the x86-64 and arm64 hosts gcdl runs on.
 */
#ifndef GCDL_EXTGRAD_H
#define GCDL_EXTGRAD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GCDL_EXTGRAD_MAGIC 0x44475847u  /**< "GXGD" */
#define GCDL_EXTGRAD_VERSION 1u
#define GCDL_EXTGRAD_MAX_PARTS 64u      /**< partitions one worker may hold */
#define GCDL_EXTGRAD_SLOTS 64u          /**< decoded rounds kept (default) */
#define GCDL_EXTGRAD_DATA_OFF 4096u     /**< `in` starts here; `out` follows */

/** The channel's state (`state`). */
enum gcdl_extgrad_state {
	GCDL_EXTGRAD_STARTING = 0, /**< created; the node has not joined yet */
	GCDL_EXTGRAD_RUNNING = 1,  /**< joined: rounds may begin */
	GCDL_EXTGRAD_ENDED = 2,    /**< the node finished every round */
	GCDL_EXTGRAD_FAILED = 3,   /**< the node failed; `message` says why */
};

/** The header at offset 0 (GCDL_EXTGRAD_DATA_OFF bytes reserved). */
struct gcdl_extgrad_hdr {
	uint32_t magic;       /**< 0: GCDL_EXTGRAD_MAGIC, written last at creation */
	uint32_t version;     /**< 4 */
	uint32_t dim;         /**< 8: coordinates of a gradient */
	uint32_t slots;       /**< 12: decoded rounds kept in `out` */
	uint32_t worker;      /**< 16: k */
	uint32_t workers;     /**< 20: N */
	uint32_t partitions;  /**< 24: M */
	uint32_t nparts;      /**< 28: partitions worker k holds */
	uint32_t rounds;      /**< 32: job.rounds */
	uint32_t state;       /**< 36: enum gcdl_extgrad_state */
	uint64_t seed;        /**< 40: job.seed (minibatches are drawn from it) */
	uint64_t slot_stride; /**< 48: bytes from one `out` slot to the next */
	uint64_t out_off;     /**< 56: offset of `out` */
	uint32_t parts[GCDL_EXTGRAD_MAX_PARTS];   /**< 64: the partitions i of worker k */
	float weights[GCDL_EXTGRAD_MAX_PARTS];    /**< 320: 1 / (M r_i) for each */
	char message[448];                        /**< 576: why it failed (NUL-terminated) */
	uint64_t in_round;    /**< 1024: trainer: `in` holds the gradient of round in_round - 1 */
	uint8_t pad0[56];
	uint64_t taken;       /**< 1088: node: in_round of the last gradient it sent */
	uint8_t pad1[56];
	uint64_t out_rounds;  /**< 1152: node: rounds decoded into `out` */
	uint8_t pad2[56];
	uint64_t straggler;   /**< 1216: node: t + 1 when worker k is a straggler of round t */
	uint8_t pad3[56];
	uint64_t stale;       /**< 1280: node: gradients that came after their round closed */
	uint8_t pad4[56];
};

/** What the node knows when it creates the channel. */
struct gcdl_extgrad_info {
	uint32_t dim, slots, worker, workers, partitions, nparts, rounds;
	uint64_t seed;
	const uint32_t *parts;  /**< nparts partitions */
	const float *weights;   /**< nparts weights */
};

struct gcdl_extgrad;

/**
 * @return the channel's size in bytes for @p dim coordinates and @p slots
 *         decoded rounds, or 0 when 0 or too large. @param dim coordinates.
 * @param slots decoded rounds kept.
 */
size_t gcdl_extgrad_size(uint32_t dim, uint32_t slots);

/**
 * Create the channel's file (mode 0600, replaced if it exists), map it and
 * write the header (state STARTING; the magic last).
 * @param path    the file, e.g. under /dev/shm.
 * @param info    what to write; dim, slots, workers, partitions > 0, nparts
 *                1..GCDL_EXTGRAD_MAX_PARTS, worker < workers.
 * @param err     receives a message on failure.
 * @param errlen  size of @p err.
 * @return the channel, or NULL with errno (EINVAL for a bad argument, or the
 *         system's error) and a message.
 */
struct gcdl_extgrad *gcdl_extgrad_create(const char *path, const struct gcdl_extgrad_info *info,
					 char *err, size_t errlen);

/** Unmap and free; the file stays for the trainer to read. NULL is ignored. @param x the channel. */
void gcdl_extgrad_free(struct gcdl_extgrad *x);

/** @return the mapped header (tests, and the Python side's mirror). @param x the channel. */
struct gcdl_extgrad_hdr *gcdl_extgrad_hdr(struct gcdl_extgrad *x);

/**
 * Set the state; with FAILED, also the message (truncated to fit).
 * @param x      the channel.
 * @param state  the new state.
 * @param msg    the message, or NULL.
 */
void gcdl_extgrad_set_state(struct gcdl_extgrad *x, enum gcdl_extgrad_state state,
			    const char *msg);

/**
 * Take the trainer's gradient of round @p round, if it is there.
 * @param x      the channel.
 * @param round  the node's round t.
 * @param v      receives dim coordinates when it is.
 * @return 1 taken (and `taken` = t + 1), 0 not yet, -ESTALE when the trainer's
 *         latest gradient is of an earlier round (counted in `stale` once),
 *         -EINVAL for NULL.
 */
int gcdl_extgrad_take(struct gcdl_extgrad *x, uint32_t round, float *v);

/**
 * Tell the trainer ahead of time that worker k is an injected straggler of
 * round @p round (its gradient of that round will not be sent).
 * @param x      the channel.
 * @param round  t.
 */
void gcdl_extgrad_straggler(struct gcdl_extgrad *x, uint32_t round);

/**
 * Publish the decoded gradient of round @p round.
 * @param x      the channel.
 * @param round  t: must be the next, `out_rounds`.
 * @param g      dim coordinates.
 * @return 0, -ERANGE when @p round is not the next round (a round was skipped:
 *         a late join or a resync, which a trainer's replica cannot follow),
 *         -EINVAL for NULL.
 */
int gcdl_extgrad_publish(struct gcdl_extgrad *x, uint32_t round, const float *g);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_EXTGRAD_H */
