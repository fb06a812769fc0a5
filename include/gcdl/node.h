/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * One node of a multi-host job (docs/MULTIHOST.md): a separate gcdl process
 * in the role of aggregator a or worker k, on whatever ethdev ports the EAL
 * probed (--vdev net_memif, net_af_packet, or a real NIC). Nodes are
 * addressed by MAC: the profile's network.aggregator_macs and
 * network.worker_macs, or each port's own MAC when they are empty.
 *
 * Workers join with a hello (job id, worker id, gcdl_profile_hash()); each
 * aggregator answers with a config (shard assignment, dimensions, current
 * round) and its range of the model, then runs rounds against its deadline
 * whether or not every worker is there. A worker that stops sending is a
 * straggler every round and, after network.absent_rounds silent rounds, is no
 * longer awaited; a restarted worker joins again and contributes again.
 *
 * One node runs on the main lcore alone (one busy loop per process that backs
 * off when idle), so many nodes can share a small machine.
 */
#ifndef GCDL_NODE_H
#define GCDL_NODE_H

#include <stdint.h>
#include <stdio.h>

#include "gcdl/checkpoint.h"
#include "gcdl/frame.h"
#include "gcdl/job.h"
#include "gcdl/profile.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The role of a multi-host node. */
enum gcdl_node_role {
	GCDL_NODE_AGGREGATOR = 0,
	GCDL_NODE_WORKER,
};

/** Options of a node. */
struct gcdl_node_opts {
	enum gcdl_node_role role;
	uint32_t id;          /**< worker k (0..N-1), or aggregator a (0..K-1) */
	FILE *metrics;        /**< aggregator: metrics CSV (header written), or NULL */
	FILE *progress;       /**< progress lines, or NULL */
	double progress_s;    /**< at most this many seconds between progress lines */
	const int *stop;      /**< stop request (atomic load), or NULL */
	/** aggregator: continue from this checkpoint (gcdl/checkpoint.h), or NULL */
	const struct gcdl_checkpoint *resume;
};

/** Per-worker counters of an aggregator. */
struct gcdl_node_wstat {
	uint32_t joins;        /**< accepted hellos of a new incarnation */
	uint32_t resyncs;      /**< model resent to the same incarnation */
	uint32_t refused;      /**< refused hellos */
	uint64_t accepted;     /**< its gradient frames ingested in time, all incarnations */
	uint64_t accepted_now; /**< of those, from its current incarnation */
	uint64_t late;         /**< its frames of closed rounds */
	uint32_t joined_round; /**< round of its last join */
	uint32_t last_round;   /**< latest round it sent for + 1 (0: none) */
};

/** What a node did. */
struct gcdl_node_result {
	uint32_t rounds;          /**< aggregator: rounds closed; worker: updates applied up to */
	uint32_t rounds_planned;
	uint32_t checkpoints;     /**< aggregator: checkpoints written */
	int stopped;
	double train_loss;        /**< last evaluation (worker: of its final replica) */
	double test_accuracy;
	double wall_s;            /**< first round's start to the last round's close */
	uint64_t model_crc;       /**< CRC-32 of the final model's float bytes (its range
				   *   for a sharded aggregator) */
	uint64_t tx_frames, tx_bytes, rx_frames, rx_bytes;
	uint64_t accepted;        /**< aggregator: gradient frames ingested in time;
				   *   worker: model and update frames taken */
	uint64_t wire_bytes;      /**< aggregator: on-the-wire bytes of the accepted frames */
	uint64_t rejected;        /**< aggregator: valid frames the engine refused */
	uint64_t sent_rounds;     /**< worker: rounds it sent gradients for */
	uint64_t skipped;         /**< worker: rounds it was an injected Bernoulli straggler */
	uint64_t joins;           /**< worker: configs accepted (join + resyncs) */
	uint64_t resync_requests; /**< worker: resync requests sent */
	uint64_t drops[GCDL_DROP__COUNT];
	uint64_t not_mine;        /**< frames addressed to another MAC */
	uint64_t unjoined;        /**< aggregator: gradient frames of workers not joined */
	uint64_t late;            /**< aggregator: gradient frames of closed rounds;
				   *   worker: updates of rounds already applied */
	uint64_t duplicates;
	uint64_t stragglers;      /**< aggregator: worker-rounds without a chunk */
	uint64_t tx_failed;       /**< frames the port would not take */
	uint32_t closed_complete, closed_deadline;
	uint32_t closed_catchup;  /**< sharded: rounds closed at once to catch up with the
				   *   other aggregators (a worker's resync asked) */
	uint64_t caught_up;       /**< sharded: catch-up requests served */
	uint32_t nworkers;        /**< entries of wstat (aggregator) */
	struct gcdl_node_wstat *wstat;
};

struct gcdl_node;

/**
 * Build a node: open the job, start every probed ethdev port (at least one),
 * apply the profile's MAC for this node, create the mempool.
 *
 * @param p       the profile (validated here; topology star or sharded).
 * @param o       options (role, id).
 * @param err     receives one line naming the key, id or device on failure.
 * @param errlen  size of @p err.
 * @return the node, or NULL with rte_errno set (EINVAL for a bad profile,
 *         role or id, ENODEV without ports, ENOMEM, ENOTSUP for topology
 *         mesh, or the error of the failed call).
 */
struct gcdl_node *gcdl_node_create(const struct gcdl_profile *p, const struct gcdl_node_opts *o,
				   char *err, size_t errlen);

/**
 * Set the metrics stream of an aggregator (its header already written).
 *
 * @param n  the node, not running.
 * @param f  the stream, or NULL for none.
 */
void gcdl_node_set_metrics(struct gcdl_node *n, FILE *f);

/**
 * Run the node until the job's last round, a stop request or a failure.
 *
 * @param n    the node.
 * @param res  receives what it did (also on failure), or NULL.
 * @return 0; -EPERM when the aggregator refused this worker (the message,
 *         with both profile hashes, is in gcdl_node_error()); -ETIMEDOUT
 *         when an aggregator stayed silent for network.idle_timeout_ms;
 *         -EIO when the metrics file cannot be written; -EINVAL for NULL.
 */
int gcdl_node_run(struct gcdl_node *n, struct gcdl_node_result *res);

/**
 * Why the run failed, in one line.
 *
 * @param n  the node.
 * @return the message, "" when it did not fail.
 */
const char *gcdl_node_error(const struct gcdl_node *n);

/**
 * The node's model: the aggregator's (complete only in its range when
 * sharded) or the worker's replica.
 *
 * @param n    the node.
 * @param dim  receives the coordinates, or NULL.
 * @return the model, NULL for NULL @p n.
 */
const float *gcdl_node_model(const struct gcdl_node *n, uint32_t *dim);

/**
 * Print a node's placement: role, ports and their MACs, the job's sizes.
 *
 * @param n    the node.
 * @param out  the stream.
 */
void gcdl_node_print_placement(const struct gcdl_node *n, FILE *out);

/**
 * Print the summary of a node's run, one "key: value" per line (the
 * aggregator adds a "worker K:" line per worker with joins, resyncs, refusals
 * and accepted frames).
 *
 * @param n    the node.
 * @param res  its result.
 * @param out  the stream.
 */
void gcdl_node_print_summary(const struct gcdl_node *n, const struct gcdl_node_result *res,
			     FILE *out);

/**
 * Stop the ports and free everything. NULL is ignored.
 *
 * @param n  the node.
 */
void gcdl_node_free(struct gcdl_node *n);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_NODE_H */
