/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The mesh topology's agreement: every node multicasts its 1-bit frames to
 * all peers and aggregates them itself, and every replica applies exactly
 * the same contributions each round, so the replicas stay bit-identical
 * also when frames are lost. Transport-agnostic: no clock, no DPDK types;
 * the transport calls in when frames arrive and when its timers fire.
 *
 * One round t on node n (docs/MULTIHOST.md, "Mesh", has the reasoning):
 *
 *     gcdl_mesh_begin_round(m, t, checksum(w_t))
 *     own and peers' gradient frames of round t -> gcdl_mesh_store()
 *         (frames and commits of rounds up to t+6 are kept for later)
 *     the committer (node 0), when every frame is in or at its deadline:
 *         gcdl_mesh_commit_build() -> COMMIT frame to every peer
 *         (the held set (chunk, worker), and the checksum of w_t)
 *     every other node: COMMIT -> gcdl_mesh_on_commit()
 *         the contributions it holds beyond the commit are left out;
 *         those it lacks are asked for:
 *     each repair timer: gcdl_mesh_repair_build() -> REPAIR frame
 *         (no commit yet: asks the committer for it; else lists the
 *         missing (chunk, worker); the first try asks the committer, which
 *         holds everything it committed, later tries ask every node)
 *     REPAIR from a peer -> gcdl_mesh_on_repair(): resend what it asks for
 *     state READY -> gcdl_mesh_apply(): the engine aggregates exactly the
 *         committed set (in worker order) and takes the optimizer step
 *
 * A node that still lacks a committed contribution (or the commit) after
 * params.repair_tries requests, or whose checksum of w_t differs from the
 * committer's, leaves the replica set (gcdl_mesh_synced() false): it applies
 * nothing and sends no gradient until the transport has copied a replica's
 * model and momentum into it and called gcdl_mesh_resync(). No replica ever
 * applies a set other than the commit, so the replicas that apply a round
 * agree bit for bit, and a round never waits longer than the repair bound.
 *
 * Commit payload (network byte order):
 *
 *     off size
 *       0  4   chunks C           must be the job's
 *       4  2   nodes N            must be the job's
 *       6  2   reserved           0
 *       8  8   checksum           gcdl_mesh_checksum() of w_t
 *      16  4   count              contributions in the set (its popcount)
 *      20      set                C*N bits, contribution (c, k) at bit
 *                                 c*N + k, LSB first; padding bits 0
 *
 * Repair payload: chunks (4), nodes (2), flags (2: GCDL_MESH_WANT_COMMIT),
 * server (2: the node asked to answer, or GCDL_MESH_ANY), reserved (2: 0),
 * count (4), then the wanted set as above (16 bytes before the set).
 */
#ifndef GCDL_MESH_H
#define GCDL_MESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "gcdl/engine.h"
#include "gcdl/frame.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The mesh's multicast MAC, locally administered: every peer receives it. */
#define GCDL_MESH_GROUP { 0x03, 'g', 'c', 'd', 'l', 0x00 }


#define GCDL_MESH_COMMIT_HDR 20     /**< commit payload bytes before the set */
#define GCDL_MESH_REPAIR_HDR 16     /**< repair payload bytes before the set */
#define GCDL_MESH_SET_MAX 8192      /**< largest set in bytes (65536 contributions) */
#define GCDL_MESH_ANY 0xFFFF        /**< repair server: every node that holds one answers */
#define GCDL_MESH_WANT_COMMIT 0x1   /**< repair flag: resend the round's commit */

/**
 * Why a commit or repair frame is dropped (after gcdl_frame_decode()): one list
 * for the enum, the counter names ("mesh_drop_<name>") and descriptions.
 * _(ENUM, name, description)
 */
#define GCDL_MESH_DROPS(_)                                                                  \
	_(LENGTH, length, "payload length is not header + set of the job's shape")          \
	_(SHAPE, shape, "chunks or nodes differ from the job's")                             \
	_(RESERVED, reserved, "a reserved field or unknown flag is not 0")                  \
	_(PADDING, padding, "a set bit beyond chunks*nodes")                                \
	_(COUNT, count, "count is not the number of set bits")                              \
	_(SERVER, server, "repair server is neither a node, the aggregator, nor any")        \
	_(EMPTY, empty, "repair asks for nothing")                                          \
	_(COMMITTER, committer, "commit from a node that is not the committer")             \
	_(ROUND, round, "commit or repair for a round this node does not hold")

/** Why a commit or repair frame is dropped (GCDL_MESH_DROPS); 0: not dropped. */
enum gcdl_mesh_drop {
	GCDL_MESH_DROP_NONE = 0,
#define GCDL_MESH_DROP_ENUM_(e, n, d) GCDL_MESH_DROP_##e,
	GCDL_MESH_DROPS(GCDL_MESH_DROP_ENUM_)
#undef GCDL_MESH_DROP_ENUM_
	GCDL_MESH_DROP__COUNT
};

/** A round's commit (decoded; round from the frame header). */
struct gcdl_mesh_commit {
	uint32_t round;                /**< t */
	uint64_t checksum;             /**< checksum of w_t at the committer */
	uint32_t count;                /**< contributions in @p set */
	uint8_t set[GCDL_MESH_SET_MAX]; /**< bit c*N + k: (chunk c, worker k) included */
};

/** A repair request (decoded; round and requester from the frame header). */
struct gcdl_mesh_repair {
	uint32_t round;                /**< t */
	uint16_t from;                 /**< requesting node */
	uint16_t server;               /**< node asked to answer, or GCDL_MESH_ANY */
	uint16_t flags;                /**< GCDL_MESH_WANT_COMMIT */
	uint32_t count;                /**< contributions wanted */
	uint8_t set[GCDL_MESH_SET_MAX]; /**< wanted (chunk, worker), as in a commit */
};

/** A node's place in the mesh. */
struct gcdl_mesh_params {
	uint32_t nodes;         /**< N: nodes = workers, 1..4096 */
	uint32_t chunks;        /**< C: uplink chunks per worker and round */
	uint32_t self;          /**< this node's id, < nodes; or nodes: the aggregator of a
				 *   star (downlink.mode relay), which holds and commits but
				 *   does not contribute */
	uint32_t committer;     /**< the node that commits: 0 in a mesh, nodes (the
				 *   aggregator) in a star's relay */
	uint32_t repair_tries;  /**< repair requests per round before leaving the replica set, >= 1 */
	size_t max_payload;     /**< largest gradient payload (gcdl_engine_max_payload()) */
};

/** Where a node is in the current round. */
enum gcdl_mesh_state {
	GCDL_MESH_COLLECT = 0, /**< no commit yet */
	GCDL_MESH_REPAIR,      /**< commit in, committed contributions missing */
	GCDL_MESH_READY,       /**< commit in and every committed contribution held */
	GCDL_MESH_APPLIED,     /**< the round's update is applied */
	GCDL_MESH_OUT,         /**< out of the replica set: waits for gcdl_mesh_resync() */
};

/** A node's counters (cumulative). */
struct gcdl_mesh_stats {
	uint64_t stored;          /**< gradient frames stored */
	uint64_t duplicates;      /**< gradient frames already held */
	uint64_t stale;           /**< gradient frames outside rounds t-1..t+1 */
	uint64_t commits;         /**< commits accepted (or built, on the committer) */
	uint64_t commit_dups;     /**< commits of a round already committed */
	uint64_t left_out;        /**< held contributions the commit left out */
	uint64_t repairs_sent;    /**< repair requests built */
	uint64_t repaired;        /**< missing committed contributions that arrived later */
	uint64_t served_frames;   /**< gradient frames resent on request */
	uint64_t served_commits;  /**< commits resent on request */
	uint64_t gave_up;         /**< rounds left after repair_tries requests */
	uint64_t mismatches;      /**< commits whose checksum differed from this replica's */
	uint64_t resyncs;         /**< gcdl_mesh_resync() calls */
	uint64_t drops[GCDL_MESH_DROP__COUNT]; /**< commit and repair frames dropped, by reason */
};

/** What gcdl_mesh_on_repair() hands the transport to send back. */
struct gcdl_mesh_emit {
	/** Resend a gradient frame (header and payload as stored). @return 0 or negative. */
	int (*frame)(void *arg, const struct gcdl_frame_hdr *hdr, const uint8_t *payload);
	/** Resend a commit. @return 0 or negative. */
	int (*commit)(void *arg, const struct gcdl_mesh_commit *c);
	void *arg; /**< passed to both */
};

struct gcdl_mesh;

/**
 * Name of a mesh drop reason ("length", "shape", ...).
 * @param reason  an enum gcdl_mesh_drop value.
 * @return a static string, "unknown" outside the enum.
 */
const char *gcdl_mesh_drop_name(int reason);

/**
 * Bytes of a contribution set of C chunks and N nodes.
 * @param chunks  C.
 * @param nodes   N.
 * @return ceil(C*N/8), or 0 when C or N is 0 or the set exceeds GCDL_MESH_SET_MAX.
 */
size_t gcdl_mesh_set_bytes(uint32_t chunks, uint32_t nodes);

/**
 * Whether (chunk, worker) is in a set.
 * @param set     the set.
 * @param nodes   N.
 * @param chunk   c.
 * @param worker  k.
 * @return true when bit c*N + k is set.
 */
bool gcdl_mesh_set_has(const uint8_t *set, uint32_t nodes, uint32_t chunk, uint32_t worker);

/**
 * A model checksum that every host computes alike: FNV-1a 64 over the
 * float32 bit patterns, each taken most significant byte first.
 * @param w    the model.
 * @param dim  coordinates.
 * @return the checksum (that of nothing for NULL).
 */
uint64_t gcdl_mesh_checksum(const float *w, uint32_t dim);

/**
 * Encode a commit payload.
 * @param c        the commit (its count is recomputed from the set).
 * @param chunks   C.
 * @param nodes    N.
 * @param payload  output.
 * @param cap      its capacity.
 * @return bytes written, -EINVAL for NULL or a shape beyond GCDL_MESH_SET_MAX,
 *         -ENOSPC when @p cap is too small.
 */
ssize_t gcdl_mesh_commit_encode(const struct gcdl_mesh_commit *c, uint32_t chunks, uint32_t nodes,
				uint8_t *payload, size_t cap);

/**
 * Validate and decode a commit payload (the frame passed gcdl_frame_decode()).
 * @param payload  the payload.
 * @param len      its length.
 * @param chunks   the job's C.
 * @param nodes    the job's N.
 * @param c        receives the commit (round left 0: take it from the header).
 * @return 0, a positive enum gcdl_mesh_drop reason, or -EINVAL for NULL.
 */
int gcdl_mesh_commit_decode(const uint8_t *payload, size_t len, uint32_t chunks, uint32_t nodes,
			    struct gcdl_mesh_commit *c);

/**
 * Encode a repair payload.
 * @param r        the request (its count is recomputed from the set).
 * @param chunks   C.
 * @param nodes    N.
 * @param payload  output.
 * @param cap      its capacity.
 * @return bytes written, -EINVAL for NULL or a shape beyond GCDL_MESH_SET_MAX,
 *         -ENOSPC when @p cap is too small.
 */
ssize_t gcdl_mesh_repair_encode(const struct gcdl_mesh_repair *r, uint32_t chunks, uint32_t nodes,
				uint8_t *payload, size_t cap);

/**
 * Validate and decode a repair payload (the frame passed gcdl_frame_decode()).
 * @param payload  the payload.
 * @param len      its length.
 * @param chunks   the job's C.
 * @param nodes    the job's N.
 * @param r        receives the request (round and from left 0: take them from the header).
 * @return 0, a positive enum gcdl_mesh_drop reason, or -EINVAL for NULL.
 */
int gcdl_mesh_repair_decode(const uint8_t *payload, size_t len, uint32_t chunks, uint32_t nodes,
			    struct gcdl_mesh_repair *r);

/**
 * Create a node's mesh state.
 * @param p  the node's parameters.
 * @return the state, or NULL with errno EINVAL (a parameter out of range,
 *         a set beyond GCDL_MESH_SET_MAX) or ENOMEM.
 */
struct gcdl_mesh *gcdl_mesh_create(const struct gcdl_mesh_params *p);

/** Free a node's mesh state; NULL is ignored. @param m the state. */
void gcdl_mesh_free(struct gcdl_mesh *m);

/**
 * Open round t. Frames and a commit of t already stored (they came early)
 * are kept; the store of t-1 is kept to answer repairs.
 * @param m         the state.
 * @param round     t; must be later than the previous round.
 * @param checksum  gcdl_mesh_checksum() of this replica's w_t.
 * @return 0, -EINVAL for NULL, -ERANGE for a round not after the last one.
 */
int gcdl_mesh_begin_round(struct gcdl_mesh *m, uint32_t round, uint64_t checksum);

/**
 * Store a validated gradient frame (own or a peer's, first copy or resent).
 * @param m        the state.
 * @param hdr      its decoded header (hdr->sender is the contributing worker).
 * @param payload  its payload.
 * @return 0 when stored, -EALREADY for a contribution already held,
 *         -ESTALE for a round outside t-1..t+6, -EINVAL for NULL, a sender or
 *         chunk out of range, or a payload longer than params.max_payload.
 */
int gcdl_mesh_store(struct gcdl_mesh *m, const struct gcdl_frame_hdr *hdr,
		    const uint8_t *payload);

/**
 * Contributions held for the current round.
 * @param m  the state.
 * @return the count (0 for NULL).
 */
uint32_t gcdl_mesh_held(const struct gcdl_mesh *m);

/**
 * The committer's commit of the current round: the set it holds. From then
 * on the committer is READY and answers commit requests for the round.
 * @param m  the state (of the committer).
 * @param c  receives the commit.
 * @return 0, -EINVAL for NULL, -EPERM on a node that is not the committer,
 *         -EALREADY when the round is already committed or applied.
 */
int gcdl_mesh_commit_build(struct gcdl_mesh *m, struct gcdl_mesh_commit *c);

/**
 * Take a peer's commit.
 * @param m       the state.
 * @param sender  the frame's sender.
 * @param c       the decoded commit, round set from the header.
 * @return 0 when taken (see gcdl_mesh_state()); a positive enum gcdl_mesh_drop
 *         (committer, round: counted); -EALREADY for a repeated commit of
 *         the round; -ENOTRECOVERABLE when the checksum differs from this
 *         replica's (the node leaves the replica set); -EINVAL for NULL.
 */
int gcdl_mesh_on_commit(struct gcdl_mesh *m, uint16_t sender, const struct gcdl_mesh_commit *c);

/**
 * Build the next repair request of the current round: called by the
 * transport each time its repair timer fires while the state is COLLECT
 * (non-committer) or REPAIR.
 * @param m  the state.
 * @param r  receives the request.
 * @return 0 when @p r is to be sent; -EALREADY when nothing is missing
 *         (READY, APPLIED, or the committer); -ETIMEDOUT when
 *         params.repair_tries requests are spent: the node leaves the
 *         replica set; -EINVAL for NULL.
 */
int gcdl_mesh_repair_build(struct gcdl_mesh *m, struct gcdl_mesh_repair *r);

/**
 * Answer a peer's repair request: resend every asked contribution of that
 * round it holds (when asked by id or GCDL_MESH_ANY) and, on the committer,
 * the commit when it is wanted.
 * @param m     the state.
 * @param r     the decoded request, round and from set from the header.
 * @param emit  where to send.
 * @return frames and commits handed to @p emit; a positive
 *         GCDL_MESH_DROP_ROUND (counted) when this node holds no store of
 *         that round; the first negative value from @p emit; -EINVAL for NULL.
 */
int gcdl_mesh_on_repair(struct gcdl_mesh *m, const struct gcdl_mesh_repair *r,
			const struct gcdl_mesh_emit *emit);

/**
 * Apply the current round: feed exactly the committed contributions to the
 * engine (gcdl_engine_begin_round, _ingest, _close_round); the engine's
 * replica takes the step.
 * @param m       the state (READY).
 * @param e       this node's engine (its model is this node's replica).
 * @param update  receives the update, or NULL.
 * @param info    receives the round's counts, or NULL.
 * @return 0, -EAGAIN when the state is not READY, -EINVAL for NULL, or the
 *         engine's error.
 */
int gcdl_mesh_apply(struct gcdl_mesh *m, struct gcdl_engine *e, float *update,
		    struct gcdl_round_info *info);

/**
 * Rejoin the replica set after the transport copied a replica's state at
 * the start of round t (model and momentum) into this node's engine.
 * @param m      the state.
 * @param round  t: the next round this node applies; gcdl_mesh_begin_round(t) follows.
 * @return 0, -EINVAL for NULL.
 */
int gcdl_mesh_resync(struct gcdl_mesh *m, uint32_t round);

/** @return the state of the current round (GCDL_MESH_OUT for NULL). @param m the state. */
enum gcdl_mesh_state gcdl_mesh_state(const struct gcdl_mesh *m);

/** @return whether the node is in the replica set (false for NULL). @param m the state. */
bool gcdl_mesh_synced(const struct gcdl_mesh *m);

/** @return the current round (0 for NULL). @param m the state. */
uint32_t gcdl_mesh_round(const struct gcdl_mesh *m);

/** @return the counters, or NULL. @param m the state. */
const struct gcdl_mesh_stats *gcdl_mesh_stats(const struct gcdl_mesh *m);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_MESH_H */
