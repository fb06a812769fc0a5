/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Every counter of a gcdl node, from one list (as VPP's error counters are):
 * GCDL_COUNTERS expands into the enum, the names used by the human summary,
 * the JSON summary and DPDK telemetry, and their descriptions, so a new
 * counter is one line and can never be missing from one report.
 *
 * A counter is a uint64_t with one writer (the thread that runs the node);
 * readers on other threads load it relaxed (gcdl_counter_get()). Counters
 * flagged GCDL_CTR_F_RESUME are the run's cumulative totals: a checkpoint
 * carries them and --resume continues from them.
 *
 * The figures (GCDL_FIGURES) are doubles of the same kind: the largest of
 * a process's nodes is reported.
 */
#ifndef GCDL_COUNTERS_H
#define GCDL_COUNTERS_H

#include <stdint.h>

#include "gcdl/frame.h"
#include "gcdl/mesh.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Flag of a counter: carried by checkpoints, continued by --resume. */
#define GCDL_CTR_F_RESUME 0x1

/**
 * _(ENUM, name, flags, description). Names are the keys of the JSON summary
 * and of /gcdl/stats; drop reasons follow as drop_<reason> and
 * mesh_drop_<reason> (GCDL_FRAME_DROPS, GCDL_MESH_DROPS).
 */
#define GCDL_COUNTERS(_)                                                                   \
	_(RX_FRAMES, rx_frames, 0, "frames received on this node's ports")                 \
	_(RX_BYTES, rx_bytes, 0, "bytes of those")                                          \
	_(TX_FRAMES, tx_frames, 0, "frames the ports took")                                 \
	_(TX_BYTES, tx_bytes, 0, "bytes of those")                                          \
	_(TX_FAILED, tx_failed, 0, "frames a port would not take (dropped)")                \
	_(TX_FULL, tx_full, 0, "transmit bursts a full ring took only partly (retried)")    \
	_(ALLOC_FAILURES, alloc_failures, 0, "mbuf allocation failures (retried)")          \
	_(NOT_MINE, not_mine, 0, "frames addressed to another MAC")                         \
	_(WRONG_VLAN, wrong_vlan, 0,                                                        \
	  "frames of another 802.1Q VLAN, or untagged on a node with network.vlan set")    \
	_(PORT_MISSED, port_missed, 0,                                                      \
	  "frames the ports dropped before this node polled them (imissed: a full receive ring)") \
	_(DROPS, drops, 0, "frames dropped by validation (sum of drop_<reason>)")           \
	_(UPLINK_TX_FRAMES, uplink_tx_frames, 0, "gradient frames sent")                    \
	_(UPLINK_TX_BYTES, uplink_tx_bytes, 0, "bytes of those")                            \
	_(UPLINK_RX_FRAMES, uplink_rx_frames, 0, "valid gradient frames received")          \
	_(UPLINK_RX_BYTES, uplink_rx_bytes, 0, "bytes of those")                            \
	_(UPLINK_ACCEPTED, uplink_accepted, GCDL_CTR_F_RESUME,                              \
	  "gradient frames accepted in time")                                               \
	_(UPLINK_PAYLOAD_BYTES, uplink_payload_bytes, GCDL_CTR_F_RESUME,                    \
	  "payload bytes of the accepted gradient frames")                                  \
	_(UPLINK_WIRE_BYTES, uplink_wire_bytes, GCDL_CTR_F_RESUME,                          \
	  "on-the-wire bytes of the accepted gradient frames (the metrics' uplink_bits / 8)") \
	_(DOWNLINK_WIRE_BYTES, downlink_wire_bytes, GCDL_CTR_F_RESUME,                      \
	  "on-the-wire bytes of the rounds' downlink, each frame once (a multicast frame once)") \
	_(DOWNLINK_REPAIR_BYTES, downlink_repair_bytes, GCDL_CTR_F_RESUME,                  \
	  "on-the-wire bytes of downlink frames sent again on request (the metrics' "        \
	  "downlink_bits / 8 is this plus downlink_wire_bytes)")                            \
	_(DOWNLINK_REPAIRS, downlink_repairs, 0,                                            \
	  "downlink frames sent again on request (aggregator) or asked for (worker)")       \
	_(REPAIRS_UNHELD, repairs_unheld, 0,                                                \
	  "repair requests for an update the aggregator does not hold (its round not closed yet, " \
	  "or no longer kept: the worker resyncs)")                                         \
	_(DOWNLINK_TX_FRAMES, downlink_tx_frames, 0, "update and model frames sent")        \
	_(DOWNLINK_TX_BYTES, downlink_tx_bytes, 0, "bytes of those")                        \
	_(DOWNLINK_RX_FRAMES, downlink_rx_frames, 0, "valid update and model frames received") \
	_(DOWNLINK_RX_BYTES, downlink_rx_bytes, 0, "bytes of those")                        \
	_(DOWNLINK_ACCEPTED, downlink_accepted, 0, "update and model frames taken")         \
	_(CONTROL_TX_FRAMES, control_tx_frames, 0,                                          \
	  "hello, config, resync, commit and repair frames sent")                           \
	_(CONTROL_RX_FRAMES, control_rx_frames, 0, "valid control frames received")         \
	_(DUPLICATES, duplicates, 0, "frames already held (ignored)")                       \
	_(LATE, late, 0, "frames of a round already closed or applied")                     \
	_(REJECTED, rejected, 0, "valid frames whose values were refused (not finite, out of range)") \
	_(UNJOINED, unjoined, 0, "gradient frames of workers that have not joined")          \
	_(STRAGGLERS, stragglers, GCDL_CTR_F_RESUME,                                        \
	  "worker-rounds without an accepted frame")                                        \
	_(CLOSED_COMPLETE, closed_complete, GCDL_CTR_F_RESUME,                              \
	  "rounds closed because every expected frame came")                                \
	_(CLOSED_DEADLINE, closed_deadline, GCDL_CTR_F_RESUME, "rounds closed by their deadline") \
	_(CLOSED_CATCHUP, closed_catchup, 0,                                                \
	  "rounds closed at once to catch up with the other aggregators (sharded)")         \
	_(CLOSED_STOP, closed_stop, 0, "rounds closed on a stop request")                   \
	_(CLOSED_LATE, closed_late, 0, "rounds closed more than 1 ms past their deadline")  \
	_(CLOSED_LATE_NOT_RUNNING, closed_late_not_running, 0,                              \
	  "of those, rounds within 1 ms once the time the lcore was not running is taken away") \
	_(CONTRIBUTED, contributed, 0, "rounds this worker sent its gradient for")          \
	_(SKIPPED, skipped, 0, "rounds this worker was an injected Bernoulli straggler")    \
	_(APPLIED, applied, 0, "updates this replica applied (a worker: one per aggregator and round)") \
	_(JOINS, joins, 0, "joins (aggregator: new incarnations accepted; worker: configs taken)") \
	_(RESYNCS, resyncs, 0, "models resent to a worker that asked again")                \
	_(RESYNC_REQUESTS, resync_requests, 0, "resync requests sent")                      \
	_(REFUSED, refused, 0, "hellos refused (another profile, id or version)")           \
	_(NO_SESSION, no_session, 0,                                                        \
	  "frames under a session key that came before this node learned the session (dropped)") \
	_(CHALLENGES, challenges, 0,                                                        \
	  "hellos under the job key answered with the session only (a join needs a proof)") \
	_(CAUGHT_UP, caught_up, 0, "catch-up requests served (sharded)")                    \
	_(CHECKPOINTS, checkpoints, 0, "checkpoints written")                               \
	_(FAULT_DROPPED, fault_dropped, 0, "[faults]: frames not sent")                     \
	_(FAULT_DUPLICATED, fault_duplicated, 0, "[faults]: frames sent twice")             \
	_(FAULT_REORDERED, fault_reordered, 0, "[faults]: frames sent out of order")        \
	_(FAULT_CORRUPTED, fault_corrupted, 0, "[faults]: frames sent with a flipped bit")  \
	_(FAULT_DELAYED, fault_delayed, 0, "[faults]: frames a slow worker held back")      \
	_(GARBAGE_SENT, garbage_sent, 0, "--inject-garbage: malformed frames sent")         \
	_(HOSTILE_SENT, hostile_sent, 0, "--inject-hostile: spoofed, replayed or altered frames sent") \
	_(MESH_GRADIENT_SENT, mesh_gradient_sent, 0, "mesh: gradient frames multicast")     \
	_(MESH_STORED, mesh_stored, 0, "mesh: gradient frames stored")                      \
	_(MESH_STALE, mesh_stale, 0, "mesh: gradient frames outside the rounds held")       \
	_(MESH_OWN_ECHO, mesh_own_echo, 0, "mesh: own multicast frames seen again")         \
	_(MESH_COMMITS_TAKEN, mesh_commits_taken, 0, "mesh: commits accepted or built")     \
	_(MESH_COMMITS_SENT, mesh_commits_sent, 0, "mesh: commits sent")                    \
	_(MESH_COMMIT_DUPS, mesh_commit_dups, 0, "mesh: commits of a round already committed") \
	_(MESH_LEFT_OUT, mesh_left_out, 0, "mesh: held contributions a commit left out")    \
	_(MESH_REPAIRS_SENT, mesh_repairs_sent, 0, "mesh: repair requests sent")            \
	_(MESH_REPAIRED, mesh_repaired, 0, "mesh: missing contributions repaired")          \
	_(MESH_SERVED_FRAMES, mesh_served_frames, 0, "mesh: gradient frames resent on request") \
	_(MESH_SERVED_COMMITS, mesh_served_commits, 0, "mesh: commits resent on request")   \
	_(MESH_GAVE_UP, mesh_gave_up, 0, "mesh: rounds given up after the repair bound")    \
	_(MESH_MISMATCHES, mesh_mismatches, 0, "mesh: commits whose model checksum differed") \
	_(MESH_RESYNCS, mesh_resyncs, 0, "mesh: replicas copied from node 0")               \
	_(MESH_RESYNC_ANSWERS, mesh_resync_answers, 0, "mesh: resync requests answered")    \
	_(MESH_CONTROL_DROPPED, mesh_control_dropped, 0, "mesh: [faults] drops of other frames") \
	_(MESH_DROPS, mesh_drops, 0, "mesh: commit and repair frames dropped (sum of mesh_drop_<reason>)") \
	_(CPU_ENCODE_NS, cpu_encode_ns, 0, "CPU ns quantizing and framing the uplink")      \
	_(ENCODE_COORDS, encode_coords, 0, "coordinates quantized and framed")              \
	_(CPU_TX_NS, cpu_tx_ns, 0, "CPU ns in uplink transmit bursts")                      \
	_(CPU_INGEST_NS, cpu_ingest_ns, 0, "CPU ns in receive polls that brought frames")   \
	_(INGEST_COORDS, ingest_coords, 0, "coordinates of the gradient frames ingested")   \
	_(CPU_DECODE_NS, cpu_decode_ns, 0, "CPU ns decoding rounds and taking the optimizer step") \
	_(DECODE_COORDS, decode_coords, 0, "coordinates accumulated (dim x contributors)")  \
	_(CPU_DL_ENCODE_NS, cpu_dl_encode_ns, 0, "CPU ns encoding the downlink's frames (aggregator)") \
	_(CPU_DL_RX_NS, cpu_dl_rx_ns, 0, "CPU ns in receive polls that brought frames, applying updates included (worker)") \
	_(CPU_EVAL_NS, cpu_eval_ns, 0, "CPU ns evaluating train loss and test accuracy")

/** Counter ids: GCDL_CTR_<ENUM>, then GCDL_CTR_DROP_<REASON> and GCDL_CTR_MESH_DROP_<REASON>. */
enum gcdl_counter {
#define GCDL_CTR_ENUM_(e, n, f, d) GCDL_CTR_##e,
	GCDL_COUNTERS(GCDL_CTR_ENUM_)
#undef GCDL_CTR_ENUM_
#define GCDL_CTR_DROP_ENUM_(e, n, d) GCDL_CTR_DROP_##e,
	GCDL_FRAME_DROPS(GCDL_CTR_DROP_ENUM_)
#undef GCDL_CTR_DROP_ENUM_
#define GCDL_CTR_MESH_DROP_ENUM_(e, n, d) GCDL_CTR_MESH_DROP_##e,
	GCDL_MESH_DROPS(GCDL_CTR_MESH_DROP_ENUM_)
#undef GCDL_CTR_MESH_DROP_ENUM_
	GCDL_CTR__COUNT
};

/** The counter of frame drop reason r (1 .. GCDL_DROP__COUNT-1). */
#define GCDL_CTR_DROP(r) ((enum gcdl_counter)(GCDL_CTR_DROP_TRUNCATED + (r) - 1))
/** The counter of mesh drop reason r (1 .. GCDL_MESH_DROP__COUNT-1). */
#define GCDL_CTR_MESH_DROP(r) ((enum gcdl_counter)(GCDL_CTR_MESH_DROP_LENGTH + (r) - 1))

/**
 * _(ENUM, name, unit, description): figures, the largest over a process's
 * nodes is reported.
 */
#define GCDL_FIGURES(_)                                                                    \
	_(WALL_S, wall_s, "s", "from the first round's start to the last round's close")   \
	_(MAX_ROUND_US, max_round_us, "us", "longest round, from its start to its close")   \
	_(MAX_OVERSHOOT_US, max_overshoot_us, "us",                                         \
	  "worst time past a deadline at which the round closed")                           \
	_(MAX_OVERSHOOT_RUNNING_US, max_overshoot_running_us, "us",                         \
	  "the same, less the time the lcore was not running")                              \
	_(LAST_DEADLINE_US, last_deadline_us, "us", "the deadline of the last round")

/** Figure ids: GCDL_FIG_<ENUM>. */
enum gcdl_figure {
#define GCDL_FIG_ENUM_(e, n, u, d) GCDL_FIG_##e,
	GCDL_FIGURES(GCDL_FIG_ENUM_)
#undef GCDL_FIG_ENUM_
	GCDL_FIG__COUNT
};

/** A node's counters and figures. One writer; see the file comment. */
struct gcdl_counters {
	uint64_t v[GCDL_CTR__COUNT];
	double fig[GCDL_FIG__COUNT];
};

/** Add n to counter c (single writer: a relaxed store, readers load relaxed). */
static inline void
gcdl_counter_add(struct gcdl_counters *s, enum gcdl_counter c, uint64_t n)
{
	__atomic_store_n(&s->v[c], s->v[c] + n, __ATOMIC_RELAXED);
}

/** Read counter c from any thread. */
static inline uint64_t
gcdl_counter_get(const struct gcdl_counters *s, enum gcdl_counter c)
{
	return __atomic_load_n(&s->v[c], __ATOMIC_RELAXED);
}

/** Raise figure f to v if v is larger (single writer). */
static inline void
gcdl_figure_max(struct gcdl_counters *s, enum gcdl_figure f, double v)
{
	if (v > s->fig[f])
		__atomic_store(&s->fig[f], &v, __ATOMIC_RELAXED);
}

/** Set figure f (single writer). */
static inline void
gcdl_figure_set(struct gcdl_counters *s, enum gcdl_figure f, double v)
{
	__atomic_store(&s->fig[f], &v, __ATOMIC_RELAXED);
}

/** Read figure f from any thread. */
static inline double
gcdl_figure_get(const struct gcdl_counters *s, enum gcdl_figure f)
{
	double v;

	__atomic_load(&s->fig[f], &v, __ATOMIC_RELAXED);
	return v;
}

/**
 * Name of a counter (the JSON and telemetry key: "uplink_accepted",
 * "drop_crc", "mesh_drop_shape", ...).
 *
 * @param c  a counter id.
 * @return a static string, "unknown" outside the enum.
 */
const char *gcdl_counter_name(int c);

/**
 * One-line description of a counter.
 *
 * @param c  a counter id.
 * @return a static string, "" outside the enum.
 */
const char *gcdl_counter_desc(int c);

/**
 * Flags of a counter (GCDL_CTR_F_RESUME).
 *
 * @param c  a counter id.
 * @return the flags, 0 outside the enum.
 */
unsigned gcdl_counter_flags(int c);

/**
 * Name of a figure ("wall_s", ...).
 *
 * @param f  a figure id.
 * @return a static string, "unknown" outside the enum.
 */
const char *gcdl_figure_name(int f);

/**
 * Unit and description of a figure.
 *
 * @param f     a figure id.
 * @param unit  receives the unit ("s", "us"), or NULL.
 * @return the description, "" outside the enum.
 */
const char *gcdl_figure_desc(int f, const char **unit);

/**
 * Snapshot every counter and figure of @p src into @p dst with relaxed loads.
 *
 * @param dst  receives the values.
 * @param src  counters another thread may be writing.
 */
void gcdl_counters_snapshot(struct gcdl_counters *dst, const struct gcdl_counters *src);

/**
 * Add every counter of @p src to @p dst and raise every figure of @p dst to
 * @p src's where larger (a process's total over its nodes).
 *
 * @param dst  the total.
 * @param src  one node's values (a snapshot).
 */
void gcdl_counters_accumulate(struct gcdl_counters *dst, const struct gcdl_counters *src);

/**
 * Recompute the sums GCDL_CTR_DROPS and GCDL_CTR_MESH_DROPS from the
 * counters of each reason.
 *
 * @param s  the counters (a snapshot).
 */
void gcdl_counters_sum_drops(struct gcdl_counters *s);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_COUNTERS_H */
