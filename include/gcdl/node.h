/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * A node: the one unit of gcdl's data plane. A worker, an aggregator or a
 * mesh peer, on whatever ethdev ports it is given: the net_ring pairs of
 * the local mode (a whole cluster of nodes in one process), memif,
 * af_packet, or a NIC (one node per host, docs/MULTIHOST.md). Every mode is
 * made of nodes, and every feature is written once, here: the join protocol,
 * rounds and deadlines, [faults] at transmit, the self-test injectors,
 * packet capture, checkpoints, counters and summaries.
 *
 * Nodes are addressed by MAC: the profile's network.aggregator_macs and
 * network.worker_macs, or each port's own MAC when they are empty. Workers
 * join with a hello (job id, worker id, gcdl_profile_hash()); each
 * aggregator answers with a config (shard assignment, dimensions, current
 * round) and its range of the model, then runs rounds against its deadline
 * whether or not every worker is there; it sends the update of every round
 * to every joined worker. A worker that misses an update asks for a resync.
 * Mesh peers multicast their gradient frames to every peer and apply what
 * peer 0 commits (gcdl/mesh.h).
 *
 * A node is driven by polling (gcdl_node_poll()): one call receives a burst
 * on each port, advances the node's state machine and sends what is due;
 * it never blocks. gcdl_node_run() polls a set of nodes on one lcore until
 * they are done, backing off when idle (and spinning near a deadline), so a
 * node shares an lcore with others in local mode, and runs alone on the
 * main lcore of a multi-host process.
 *
 * Threads: a node is polled by one thread at a time; its counters and its
 * round state for telemetry are read by other threads with relaxed loads.
 * Every function here needs an initialised EAL.
 */
#ifndef GCDL_NODE_H
#define GCDL_NODE_H

#include <stdint.h>
#include <stdio.h>

#include "gcdl/auth.h"
#include "gcdl/checkpoint.h"
#include "gcdl/counters.h"
#include "gcdl/job.h"
#include "gcdl/round_end.h"
#include "gcdl/summary.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rte_mempool;

/** What a node is. */
enum gcdl_node_role {
	GCDL_NODE_WORKER = 0,  /**< computes and sends gradients, keeps a replica */
	GCDL_NODE_AGGREGATOR,  /**< aggregates a range of chunks, sends the updates */
	GCDL_NODE_PEER,        /**< mesh: a worker that aggregates every peer's frames */
};

/** Name of a role ("worker", "aggregator", "peer"). */
const char *gcdl_node_role_name(enum gcdl_node_role role);

/** A classic pcap capture file being written (gcdl_pcap_open()). */
struct gcdl_pcap;

/** How to build a node. */
struct gcdl_node_conf {
	enum gcdl_node_role role;
	uint32_t id;                  /**< worker or peer k (< N), aggregator a (< K) */
	struct gcdl_job *job;         /**< the job (datasets, profile), shared by the
				       *   nodes of a process; the node builds its own engine */
	const struct gcdl_auth *auth; /**< the job key (every frame tagged), or NULL */
	struct rte_mempool *pool;     /**< mbufs for what the node sends */
	uint16_t nports;              /**< ports, started by the caller, at least one */
	const uint16_t *ports;        /**< their ethdev ids */
	/** the node's address on each port, or NULL for the ports' own MACs (the
	 *  local cluster gives its net_ring ports, whose MACs are all zero,
	 *  addresses of their own) */
	const uint8_t (*macs)[6];
	unsigned socket;              /**< NUMA node of the lcore that will poll it */
	const struct gcdl_checkpoint *resume; /**< aggregator or peer 0: continue from it */
	struct gcdl_round_end_opts out; /**< metrics, progress (evaluate and checkpoint
					 *   are decided by the node) */
	struct gcdl_pcap *pcap;       /**< capture of every frame in and out, or NULL */
	uint32_t inject_garbage;      /**< self-test frames per round (gcdl/selftest.h) */
	uint32_t inject_hostile;      /**< the same, needs @ref auth */
	const char *grad_shm;         /**< a worker of model.type external: the channel
				       *   file it creates for its trainer (gcdl/extgrad.h) */
	const int *stop;              /**< stop request (atomic load), or NULL */
	int local;                    /**< part of a local cluster: no final evaluation of
				       *   a worker's replica (the cluster compares replicas) */
	/** a local cluster's count of its workers that are done: a worker adds
	 *  itself, an aggregator lingers after its last round (to repair the
	 *  downlink, answer resyncs) until it reaches local_workers; NULL: a
	 *  multi-host node, whose aggregator lingers NODE_LINGER_US */
	uint32_t *local_finished;
	uint32_t local_workers;       /**< the workers of the local cluster */
};

struct gcdl_node;

/**
 * Build a node: its engine on the job's datasets (its replica), its
 * buffers, the frame limits of its role.
 *
 * @param c       the configuration (copied; the job, pool, ports, pcap and
 *                auth must outlive the node).
 * @param err     receives one line naming the key, id or resource on failure.
 * @param errlen  size of @p err.
 * @return the node, or NULL with rte_errno set (EINVAL for a bad role, id
 *         or profile, ENOMEM).
 */
struct gcdl_node *gcdl_node_create(const struct gcdl_node_conf *c, char *err, size_t errlen);

/**
 * The helper lcores a node needs besides the lcore that polls it: an
 * aggregator's aggregation lcores (dataplane.agg_lcores when above 1), a
 * worker's quantizing lcores (dataplane.quant_lcores - 1), else 0. Each
 * must run gcdl_node_helper_run() while the node is polled.
 *
 * @param n  the node.
 * @return the count, 0 for NULL or a node without.
 */
uint32_t gcdl_node_helper_lcores(const struct gcdl_node *n);

/**
 * The loop of helper lcore @p i: an aggregation lcore (lib/dp/agg_lcore.c)
 * accumulates its chunks' frames as the node's lcore stores them and closes
 * its part of each round when asked; a quantizing lcore
 * (lib/dp/quant_lcore.c) frames its range of the worker's chunks each
 * round. Returns when the node finished its rounds, failed, or @p quit is set.
 *
 * @param n     the node.
 * @param i     0 .. gcdl_node_helper_lcores() - 1.
 * @param quit  stop request (atomic load), or NULL.
 * @return 0, or -EINVAL for bad arguments.
 */
int gcdl_node_helper_run(struct gcdl_node *n, uint32_t i, const int *quit);

/**
 * What aggregation part @p i of an aggregator owns and did.
 *
 * @param n  the node.
 * @param i  the part.
 * @param s  receives the figures.
 * @return 0, -EINVAL for NULL, -ERANGE for a part out of range.
 */
int gcdl_node_agg_lcore_stats(const struct gcdl_node *n, uint32_t i,
			      struct gcdl_agg_lcore_summary *s);

/** Where an lcore's poll loop is, for the nodes it polls. */
struct gcdl_loop {
	uint64_t top;      /**< TSC when this iteration began */
	int prev_work;     /**< the previous iteration found work */
	int prev_slept;    /**< the previous iteration slept or yielded by choice */
	uint64_t prev_wake; /**< when that sleep was meant to end */
	uint64_t wake;     /**< out: the earliest TSC a node wants to be polled again */
};

/**
 * Poll a node once: receive, advance, send. Never blocks.
 *
 * @param n   the node.
 * @param lp  the loop (n may lower lp->wake).
 * @return how much work it found (0: idle), or a negative errno when it
 *         failed (gcdl_node_error() says why).
 */
int gcdl_node_poll(struct gcdl_node *n, struct gcdl_loop *lp);

/**
 * Poll nodes on the calling lcore until every one is done, one fails, or
 * *quit becomes non-zero (atomic load). Backs off when idle: spins, yields,
 * then sleeps up to 20 us, but never past a node's next timer, and spins
 * without sleeping within 500 us of one (a sleeping thread's wake-up can be
 * late).
 *
 * @param nodes   the nodes.
 * @param count   how many.
 * @param quit    set by another thread to end the loop, or NULL.
 * @return 0, or the first failing node's error.
 */
int gcdl_node_run(struct gcdl_node **nodes, uint32_t count, const int *quit);

/**
 * Whether a node is done: its last round is closed or applied (or it
 * stopped on request), and any lingering is over.
 *
 * @param n  the node.
 * @return non-zero when done.
 */
int gcdl_node_done(const struct gcdl_node *n);

/**
 * Whether a node's rounds are over (it may still linger to answer resyncs).
 *
 * @param n  the node.
 * @return non-zero when its last round is closed or applied, or it stopped.
 */
int gcdl_node_finished(const struct gcdl_node *n);

/**
 * End a node's lingering now (a local cluster whose workers are all done).
 *
 * @param n  the node.
 */
void gcdl_node_end_linger(struct gcdl_node *n);

/**
 * Why a node failed, in one line naming the worker, round or file.
 *
 * @param n  the node.
 * @return the message, "" when it did not fail.
 */
const char *gcdl_node_error(const struct gcdl_node *n);

/**
 * The node's model: its replica (worker, peer) or the aggregator's model
 * (right only in its range when sharded).
 *
 * @param n      the node.
 * @param dim    receives the coordinates, or NULL.
 * @param first  receives the first coordinate the node is right about, or NULL.
 * @param count  receives how many, or NULL.
 * @return the model, NULL for NULL @p n.
 */
const float *gcdl_node_model(const struct gcdl_node *n, uint32_t *dim, uint32_t *first,
			     uint32_t *count);

/**
 * The node's counters, for reading from any thread (gcdl_counter_get()).
 *
 * @param n  the node.
 * @return its counters.
 */
const struct gcdl_counters *gcdl_node_counters(const struct gcdl_node *n);

/** What telemetry shows of a node's rounds (relaxed loads). */
struct gcdl_node_round {
	uint32_t round;          /**< round in progress, 1-based (0: none yet) */
	uint32_t rounds_done;    /**< rounds closed or applied */
	uint32_t rounds_total;
	uint32_t evaluated;      /**< loss and accuracy hold an evaluation */
	uint32_t stragglers;     /**< of the last closed round */
	double train_loss;
	double test_accuracy;
	double deadline_us;      /**< of the round in progress */
};

/**
 * A node's round state, for telemetry (any thread).
 *
 * @param n  the node.
 * @param r  receives the state.
 */
void gcdl_node_round(const struct gcdl_node *n, struct gcdl_node_round *r);

/**
 * An aggregator's view of worker k, for telemetry (any thread).
 *
 * @param n    the node.
 * @param k    the worker.
 * @param row  receives the row.
 * @return 0, or -ENOENT when @p n is not an aggregator or k >= N.
 */
int gcdl_node_worker_row(const struct gcdl_node *n, uint32_t k, struct gcdl_worker_row *row);

/**
 * Fill a node's part of the summary (a snapshot of its counters; the worker
 * table of an aggregator is allocated, freed by gcdl_node_summary_free()).
 *
 * @param n  the node.
 * @param s  receives the summary.
 */
void gcdl_node_summary(const struct gcdl_node *n, struct gcdl_node_summary *s);

/** Free what gcdl_node_summary() allocated. @param s the summary. */
void gcdl_node_summary_free(struct gcdl_node_summary *s);

/**
 * One line on where the node is: role, id, sender id, ports and their MACs.
 *
 * @param n    the node.
 * @param out  the stream.
 */
void gcdl_node_print_placement(const struct gcdl_node *n, FILE *out);

/**
 * Free a node (its queued mbufs, its engine). The ports are the caller's.
 * NULL is ignored.
 *
 * @param n  the node.
 */
void gcdl_node_free(struct gcdl_node *n);

/**
 * Create a classic libpcap capture file (magic 0xa1b2c3d4, version 2.4,
 * snaplen 65535, linktype 1 = Ethernet) and write its global header. Call
 * after rte_eal_init() (it reads the TSC frequency). The node it is given
 * to appends every frame it receives and sends. One writer thread.
 *
 * @param path    the file, created or truncated.
 * @param err     receives one line naming the file on failure.
 * @param errlen  size of @p err.
 * @return the capture, or NULL with errno set.
 */
struct gcdl_pcap *gcdl_pcap_open(const char *path, char *err, size_t errlen);

/**
 * Flush and close a capture. NULL is ignored.
 *
 * @param pc  the capture, not in use by a running node.
 * @return 0, or -EIO when a record could not be written or flushed.
 */
int gcdl_pcap_close(struct gcdl_pcap *pc);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_NODE_H */
