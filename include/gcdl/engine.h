/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The algorithm engine: what workers compute and send, and what the
 * aggregator does with what arrives. It knows nothing of transports: the
 * in-memory simulator (gcdl-sim) and the DPDK data plane (gcdl) drive the
 * same calls, so for the same seed and the same arrivals they produce the
 * same model, bit for bit.
 *
 * One round t, as the transports drive it:
 *
 *     worker k (not a straggler):
 *         gcdl_engine_worker_gradient(e, ctx, k, t, w, v)     v_k
 *         gcdl_engine_worker_compress(e, k, t, v)  onebit_gc_ef: C(v_k + e_k)
 *         for each chunk c:
 *             gcdl_engine_encode_chunk(e, k, t, c, v, payload)  -> frame payload
 *     aggregator:
 *         gcdl_engine_begin_round(e, t)
 *         gcdl_engine_ingest(e, hdr, payload)  for each frame that arrives in time
 *         gcdl_engine_close_round(e, u, &info) decode, optimizer step: u = update
 *     every replica:
 *         gcdl_engine_apply_update(w, u, dim)  w <- w - u
 *
 * The update u is what the downlink carries (METHOD.md, Downlink): every
 * replica subtracts the same float vector, so replicas stay bit-identical.
 */
#ifndef GCDL_ENGINE_H
#define GCDL_ENGINE_H

#include <stdint.h>

#include "gcdl/dataset.h"
#include "gcdl/frame.h"
#include "gcdl/layout.h"
#include "gcdl/model.h"
#include "gcdl/profile.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What closing a round found. */
struct gcdl_round_info {
	uint32_t round;
	uint32_t contributors;    /**< workers with at least one accepted chunk */
	uint32_t stragglers;      /**< workers with no accepted chunk */
	uint32_t empty_chunks;    /**< chunks nobody contributed to */
	uint64_t frames;          /**< gradient frames accepted this round */
	uint64_t duplicates;      /**< duplicate frames ignored this round */
	uint64_t payload_bytes;   /**< payload bytes of accepted frames */
	uint64_t wire_bytes;      /**< on-the-wire bytes of accepted frames (gcdl_profile_wire_bytes) */
	uint64_t downlink_bytes;  /**< on-the-wire bytes of the round's downlink, each frame
				   *   once (gcdl_engine_downlink_bytes() of the whole model) */
	double lr;                /**< step size used */
};

struct gcdl_engine;

/**
 * Create an engine for a profile.
 *
 * The layout is built from the profile (methods sent with d = 1 use the
 * uncoded layout and need M = N). The training set must already be
 * partitioned into M partitions (gcdl_dataset_partition()); the engine keeps
 * pointers to it, which must outlive the engine.
 *
 * model.type external: no rows (the trainer holds the data; offsets all 0),
 * and the engine's step is u = g exactly (step size 1, no momentum, no
 * decay): the update of a round is its decoded gradient, for the trainer's
 * optimizer (lib/python/gcdl).
 *
 * @param p         the profile (validated).
 * @param train     the partitioned training set.
 * @param offsets   its M+1 partition offsets.
 * @param contexts  number of compute contexts (threads that may call
 *                  gcdl_engine_worker_gradient() at once, each with its own ctx), >= 1.
 * @param err       receives a message on failure.
 * @param errlen    size of @p err.
 * @return the engine, or NULL with errno EINVAL (bad profile/layout/data) or ENOMEM.
 */
struct gcdl_engine *gcdl_engine_create(const struct gcdl_profile *p,
				       const struct gcdl_dataset *train, const uint32_t *offsets,
				       uint32_t contexts, char *err, size_t errlen);

/** Free an engine; NULL is ignored. @param e the engine. */
void gcdl_engine_free(struct gcdl_engine *e);

/** @return the shard layout in use. @param e the engine. */
const struct gcdl_layout *gcdl_engine_layout(const struct gcdl_engine *e);

/** @return the model's number of parameters. @param e the engine. */
uint32_t gcdl_engine_dim(const struct gcdl_engine *e);

/** @return the uplink message type (onebit, float or sign). @param e the engine. */
enum gcdl_msg_type gcdl_engine_msg_type(const struct gcdl_engine *e);

/** @return the number of uplink chunks per worker and round. @param e the engine. */
uint32_t gcdl_engine_chunks(const struct gcdl_engine *e);

/** @return coordinates per uplink chunk (the last may be shorter). @param e the engine. */
uint32_t gcdl_engine_chunk_coords(const struct gcdl_engine *e);

/** @return the largest uplink payload in bytes. @param e the engine. */
size_t gcdl_engine_max_payload(const struct gcdl_engine *e);

/**
 * The aggregator's model replica (owned by the engine; updated by
 * gcdl_engine_close_round()). Initialised from the seed at creation.
 *
 * @param e  the engine.
 * @return gcdl_engine_dim(e) floats.
 */
float *gcdl_engine_model(struct gcdl_engine *e);

/**
 * The optimizer's momentum buffer (owned by the engine; all zeros without
 * momentum). A replica that copies another's state copies it with the model.
 *
 * @param e  the engine.
 * @return gcdl_engine_dim(e) floats, or NULL for NULL @p e.
 */
float *gcdl_engine_momentum(struct gcdl_engine *e);

/**
 * Worker k's weighted gradient v_k = sum_{i in S_k} grad f_i(w) / (M r_i)
 * (for signsgd_mv: its partition's gradient, whose sign is sent).
 * With model.batch > 0 each partition's gradient is taken over a minibatch
 * drawn from (seed, round, partition), so every holder of a partition
 * computes the same value.
 *
 * @param e       the engine.
 * @param ctx     compute context, 0..contexts-1; one thread per context at a time.
 * @param worker  k.
 * @param round   t.
 * @param w       the model.
 * @param v       receives dim values.
 * @return 0, -EINVAL for NULL, -ERANGE for ctx or worker out of range,
 *         -ENOTSUP for an external model (its trainer computes v_k), or the
 *         model's error.
 */
int gcdl_engine_worker_gradient(struct gcdl_engine *e, uint32_t ctx, uint32_t worker,
				uint32_t round, const float *w, float *v);

/**
 * Error feedback on the uplink (job.method onebit_gc_ef, METHOD.md): once per
 * round t that worker k computes, compress x = v_k + e_k to q = C(x), the
 * scaled sign per scale block of the uplink's chunks, keep e_k = x - q (in
 * float arithmetic: e_k[j] = x[j] - q[j] with x[j] = v[j] + e_k[j]), and
 * make q's payloads (block scales and signs), which
 * gcdl_engine_encode_chunk() then gives for round t. v is not changed. With
 * optim.momentum_at = workers (any method) v_k is first replaced by the
 * worker's momentum m_k = mu m_k + v_k (in v). The state starts at 0
 * (allocated here at the first call); a worker that does not compute a round
 * does not call this and keeps it. A no-op for the other methods without
 * worker momentum. Not thread-safe for one engine.
 *
 * @param e       the engine.
 * @param worker  k.
 * @param round   t: the round the payloads are for.
 * @param v       v_k (dim values).
 * @return 0, -EINVAL for NULL, -ERANGE for worker out of range, -EDOM for a
 *         non-finite v (state untouched), -ENOMEM.
 */
int gcdl_engine_worker_compress(struct gcdl_engine *e, uint32_t worker, uint32_t round, float *v);

/** A worker's state kept between its rounds (checkpoints carry it). */
enum gcdl_worker_state {
	GCDL_WSTATE_EF = 1,       /**< onebit_gc_ef: the residual e_k */
	GCDL_WSTATE_MOMENTUM = 2, /**< optim.momentum_at workers: m_k */
};

/**
 * Copy worker k's state, whole: a copy that overlaps a
 * gcdl_engine_worker_compress() of k on another thread is retried, then
 * given up.
 *
 * @param out  dim values.
 * @return 1 copied, 0 none yet (k never computed: the state is 0), -EINVAL
 *         for NULL, -ERANGE for a state this job does not keep or k out of
 *         range, -EBUSY when k kept changing it.
 */
int gcdl_engine_worker_state_get(const struct gcdl_engine *e, uint32_t worker,
				 enum gcdl_worker_state which, float *out);

/**
 * Set worker k's state (a checkpoint's); not while k computes.
 *
 * @return 0, -EINVAL for NULL, -ERANGE for a state this job does not keep or
 *         k out of range, -EDOM for a non-finite value, -ENOMEM.
 */
int gcdl_engine_worker_state_set(struct gcdl_engine *e, uint32_t worker,
				 enum gcdl_worker_state which, const float *in);

/**
 * Keep the workers' states in @p owner's store instead of @p e's own: the
 * engines of one process's nodes (local mode) share it, so that the
 * aggregator's checkpoint holds every worker's. @p owner must outlive @p e;
 * call before any round.
 *
 * @return 0 (also when the job keeps no worker state), -EINVAL for NULL,
 *         the same engine or engines of other jobs, -EBUSY when @p e already
 *         holds a state.
 */
int gcdl_engine_share_worker_state(struct gcdl_engine *e, struct gcdl_engine *owner);

/**
 * Encode one chunk of v_k as the uplink payload of the method (1-bit with
 * block scales, float32, or signs), ready for a frame of type
 * gcdl_engine_msg_type(). Thread-safe.
 *
 * @param e        the engine.
 * @param worker   k.
 * @param round    t (keys the quantizer's random stream).
 * @param chunk    c.
 * @param v        the whole v_k (dim values).
 * @param payload  receives the payload.
 * @param cap      its capacity.
 * @param count    receives the chunk's coordinate count, or NULL.
 * @return the payload length, -EINVAL for NULL, -ERANGE for chunk or worker
 *         out of range, -ENOSPC when cap is too small, -EDOM for a non-finite v,
 *         -ESTALE (onebit_gc_ef) when gcdl_engine_worker_compress() did not
 *         compress round t for k.
 */
int gcdl_engine_encode_chunk(const struct gcdl_engine *e, uint32_t worker, uint32_t round,
			     uint32_t chunk, const float *v, uint8_t *payload, size_t cap,
			     uint32_t *count);

/**
 * Fill the frame limits of the aggregator for uplink frames of this job.
 *
 * @param e          the engine.
 * @param round_min  first accepted round.
 * @param round_max  last accepted round.
 * @param lim        receives the limits.
 */
void gcdl_engine_frame_limits(const struct gcdl_engine *e, uint32_t round_min, uint32_t round_max,
			      struct gcdl_frame_limits *lim);

/**
 * Start aggregating round t: clear accumulators and counters.
 *
 * @param e      the engine.
 * @param round  t.
 * @return 0, or -EINVAL for NULL.
 */
int gcdl_engine_begin_round(struct gcdl_engine *e, uint32_t round);

/** Largest magnitude of a scale or float value gcdl_engine_ingest() accepts:
 *  4096 workers x a rescale of up to 4096 x 1e30 = 1.7e37, so the update
 *  stays finite for lr up to 10. */
#define GCDL_ENGINE_MAX_VALUE 1e30f

/**
 * Ingest one validated uplink frame (gcdl_frame_decode() succeeded).
 *
 * @param e        the engine.
 * @param hdr      the decoded header.
 * @param payload  its payload.
 * The frame is stored; with one accumulation part, the frame that completes
 * its chunk (every worker's frame in) has the chunk accumulated at once.
 *
 * @return 0 when accepted, -EALREADY for a duplicate (ignored), -ESTALE for
 *         a frame of another round, -EPROTO for a frame of another type than
 *         the method's uplink, -EINVAL for NULL or a sender/chunk out of range,
 *         -EDOM for a value that is not finite or above GCDL_ENGINE_MAX_VALUE
 *         in magnitude, or a negative scale, -ERANGE for a frame whose largest
 *         scale or value exceeds coding.value_bound times the largest one
 *         accepted in the last round that had any (neither is stored).
 */
int gcdl_engine_ingest(struct gcdl_engine *e, const struct gcdl_frame_hdr *hdr,
		       const uint8_t *payload);

/**
 * Close the round: decode the gradient estimate, take the optimizer step on
 * the engine's replica (every part, gcdl_engine_close_part(), then
 * gcdl_engine_close_finish()), and write the update u (w_{t+1} = w_t - u). When the
 * downlink is compressed (gcdl_profile_downlink_compressed()) the update
 * written and applied is q = C(u + e) with error feedback (gcdl/downlink.h);
 * with signsgd_mv's vote downlink (gcdl_profile_downlink_vote()) @p update
 * receives the vote (+-1, 0 where no worker voted), from which every replica
 * steps (gcdl_engine_step()).
 *
 * @param e       the engine.
 * @param update  receives dim values, or NULL.
 * @param info    receives the round's counts, or NULL.
 * @return 0, or -EINVAL for NULL @p e.
 */
int gcdl_engine_close_round(struct gcdl_engine *e, float *update, struct gcdl_round_info *info);

/** Most accumulation parts (gcdl_engine_set_parts()). */
#define GCDL_ENGINE_MAX_PARTS 16

/** What one accumulation part owns and did (gcdl_engine_part_stats()). */
struct gcdl_engine_part_stats {
	uint32_t chunk_first, chunk_count; /**< its uplink chunks */
	uint32_t coord_first, coord_count; /**< their coordinates (whole update frames) */
	uint64_t coords;          /**< coordinates accumulated, all rounds */
	uint64_t coords_at_close; /**< of which when a round closed rather than on arrival */
	uint64_t chunks_closed_early; /**< chunks closed when they completed (early close) */
};

/**
 * Cut the aggregation into @p parts contiguous ranges of chunks, each run by
 * one thread: gcdl_engine_accumulate() and gcdl_engine_close_part() of part
 * i touch only its chunks' slots, accumulators and coordinates (the model,
 * momentum, residual and update of its range), so the parts run on
 * different threads at once. A range is whole uplink chunks and, with the
 * onebit downlink, whole update frames. With one part (the default)
 * gcdl_engine_ingest() accumulates a frame on arrival itself; with more,
 * ingest only stores it (with release order) and the parts' threads
 * accumulate. Every part count gives the same bits: each chunk's frames are
 * added in worker order. Call between rounds; with more than one part, no
 * frame is ingested between the close of a round and the next
 * gcdl_engine_begin_round().
 *
 * @param e      the engine.
 * @param parts  1..GCDL_ENGINE_MAX_PARTS (parts past the number of ranges own nothing).
 * @return 0, -EINVAL for NULL or a count out of range, -ENOMEM.
 */
int gcdl_engine_set_parts(struct gcdl_engine *e, uint32_t parts);

/**
 * Early close: a chunk whose every worker's frame is in is closed at once,
 * by the thread that accumulates it (decode, optimizer step, downlink
 * compression, its range of @p update), while it is in cache; the round's
 * close then handles only the chunks that were not complete. The same bits
 * as closing everything at the end. For an aggregator, which steps every
 * round it accumulates: gcdl_engine_decode_round() (no step) refuses to run
 * on such an engine.
 *
 * @param e       the engine.
 * @param on      1 to close complete chunks early, 0 not to.
 * @param update  what gcdl_engine_close_round() would be given (NULL: none).
 * @return 0, -EINVAL for NULL, -ENOTSUP when a chunk is not a whole number
 *         of update frames (onebit downlink with other frame sizes).
 */
int gcdl_engine_set_early_close(struct gcdl_engine *e, int on, float *update);

/** @return the number of accumulation parts, 0 for NULL. @param e the engine. */
uint32_t gcdl_engine_parts(const struct gcdl_engine *e);

/**
 * What one part owns and has accumulated.
 *
 * @param e     the engine.
 * @param part  the part.
 * @param st    receives the figures.
 * @return 0, -EINVAL for NULL, -ERANGE for a part out of range.
 */
int gcdl_engine_part_stats(const struct gcdl_engine *e, uint32_t part,
			   struct gcdl_engine_part_stats *st);

/**
 * Accumulate, in worker order, part @p part's chunks whose every worker's
 * frame is in (the thread of the part, while the round is open; frames are
 * stored by gcdl_engine_ingest() on another thread).
 *
 * @param e     the engine.
 * @param part  the part.
 * @return coordinates accumulated by this call (0 for bad arguments).
 */
uint64_t gcdl_engine_accumulate(struct gcdl_engine *e, uint32_t part);

/**
 * Close part @p part of the round (its thread, after the last ingest of the
 * round): accumulate what is left of its chunks, decode them, take the
 * optimizer step on its coordinates and write its range of @p update, as
 * gcdl_engine_close_round() does for the whole model.
 *
 * @param e       the engine.
 * @param part    the part.
 * @param update  the whole update (dim values; the part's range written), or NULL.
 * @return 0, -EINVAL for NULL @p e, -ERANGE for a part out of range.
 */
int gcdl_engine_close_part(struct gcdl_engine *e, uint32_t part, float *update);

/**
 * The update of the round just closed (what gcdl_engine_close_round() writes
 * to its @p update; for signsgd_mv's vote downlink the step taken, not the
 * vote): the engine's own array, valid until the next close or step.
 *
 * @param e  the engine.
 * @return dim values, NULL for NULL.
 */
const float *gcdl_engine_update(const struct gcdl_engine *e);

/**
 * End the round's close once every part closed: the round's counts.
 *
 * @param e     the engine.
 * @param info  receives the round's counts, or NULL.
 * @return 0, -EINVAL for NULL @p e.
 */
int gcdl_engine_close_finish(struct gcdl_engine *e, struct gcdl_round_info *info);

/**
 * Take the optimizer step of round @p round on the engine's replica (its
 * model and momentum) from a gradient estimate: what a replica that did not
 * decode the round itself does with signsgd_mv's vote downlink
 * (gcdl_profile_downlink_vote()). The same arithmetic as
 * gcdl_engine_close_round() after its decode.
 *
 * @param e      the engine.
 * @param g      dim values.
 * @param round  the round (its step size).
 * @return 0, or -EINVAL for NULL.
 */
int gcdl_engine_step(struct gcdl_engine *e, const float *g, uint32_t round);

/**
 * Decode the gradient estimate of the frames accepted so far in this round,
 * without the optimizer step: the model and the optimizer state are left as
 * they are, and the round stays open. Measures the decoded gradient against
 * the exact one (gcdl_sim_variance()).
 *
 * @param e     the engine.
 * @param g     receives dim values: the decoder's estimate of grad F(w)
 *              (for signsgd_mv, the majority vote's signs).
 * @param info  receives the round's counts so far (contributors, stragglers,
 *              empty chunks, frames), or NULL.
 * @return 0, -EINVAL for NULL @p e or @p g, -EBUSY on an engine with early
 *         close (gcdl_engine_set_early_close()).
 */
int gcdl_engine_decode_round(struct gcdl_engine *e, float *g, struct gcdl_round_info *info);

/**
 * The downlink's error-feedback residual (downlink.mode onebit), for
 * checkpoints.
 *
 * @param e  the engine.
 * @return dim floats, or NULL when the update is not compressed.
 */
float *gcdl_engine_residual(struct gcdl_engine *e);

/**
 * The type of the round's update frames: GCDL_MSG_UPDATE1 when the update is
 * compressed to 1 bit (gcdl_profile_downlink_compressed()) or is signsgd_mv's
 * vote (gcdl_profile_downlink_vote()), else
 * GCDL_MSG_UPDATE (float32). (downlink.mode relay sends no update: the
 * accepted uplink frames and a commit.)
 *
 * @param e  the engine.
 * @return the type.
 */
enum gcdl_msg_type gcdl_engine_downlink_type(const struct gcdl_engine *e);

/**
 * Coordinates per update frame: those of a 1-bit gradient frame for
 * GCDL_MSG_UPDATE1 (the uplink's chunks, for a 1-bit method), of a float32
 * frame for GCDL_MSG_UPDATE.
 *
 * @param e  the engine.
 * @return L, or 0 for NULL.
 */
uint32_t gcdl_engine_downlink_chunk_coords(const struct gcdl_engine *e);

/**
 * Wire bytes of the round's downlink for the coordinates [first,
 * first+count) (a sharded aggregator's range), each frame once as a
 * multicast sends it: the update frames that hold a coordinate of the range;
 * for downlink.mode relay the round's accepted frames (@p info->wire_bytes)
 * and the commit; 0 in a mesh.
 *
 * @param e      the engine.
 * @param first  first coordinate.
 * @param count  coordinates.
 * @param info   the closed round's counts (relay), or NULL.
 * @return the bytes.
 */
uint64_t gcdl_engine_downlink_bytes(const struct gcdl_engine *e, uint32_t first, uint32_t count,
				    const struct gcdl_round_info *info);

/**
 * Apply an update to a replica: w <- w - u.
 *
 * @param w    the replica.
 * @param u    the update (must not overlap @p w).
 * @param dim  coordinates.
 */
void gcdl_engine_apply_update(float *restrict w, const float *restrict u, uint32_t dim);

/**
 * Evaluate a model on a dataset. Uses compute context 0's scratch space: do
 * not call it while another thread computes a gradient with ctx 0 (the data
 * plane gives its worker lcores contexts 1 and up).
 *
 * @param e         the engine.
 * @param w         the model.
 * @param ds        the dataset.
 * @param loss      receives the mean loss, or NULL.
 * @param accuracy  receives the accuracy, or NULL.
 * @return 0, -ENOTSUP for an external model (its trainer evaluates), or the
 *         model's error.
 */
int gcdl_engine_eval(struct gcdl_engine *e, const float *w, const struct gcdl_dataset *ds,
		     double *loss, double *accuracy);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_ENGINE_H */
