/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The summary of a run, for people and for programs: one structure, printed
 * as "key: value" lines (gcdl_summary_print()) or written as one JSON object
 * (gcdl_summary_write_json(), `--summary-json FILE`). Both are generated from
 * the counter list of gcdl/counters.h, so they name the same counters with
 * the same words in every role.
 *
 * JSON layout (version 1):
 *
 *     { "version": 1, "program": "gcdl", "role": "local", "id": 0,
 *       "topology": "star", "method": "onebit_gc", "profile": "...",
 *       "workers": N, "aggregators": K,
 *       "rounds": R, "rounds_planned": R, "first_round": 0, "stopped": false,
 *       "evaluated": true, "train_loss": x, "test_accuracy": x,
 *       "model_crc": "89abcdef", "replicas_checked": N, "replicas_identical": N,
 *       "status": 0, "error": "",
 *       "counters": { every counter: the sum over the process's nodes },
 *       "figures": { every figure: the largest over the nodes },
 *       "nodes": [ { "role": "aggregator", "id": 0, "rounds": R, "evaluated": ..,
 *                    "train_loss": .., "test_accuracy": .., "model_crc": "..",
 *                    "crc_first": 0, "crc_count": dim, "in_sync": true,
 *                    "counters": {...}, "figures": {...},
 *                    "ports": [ { "id": 0, "name": "net_af_packet0", "mac": ".." } ],
 *                    "workers": [ { "worker": k, "joins": .., ... } ] }, ... ] }
 *
 * A loss or accuracy that was never evaluated is null.
 */
#ifndef GCDL_SUMMARY_H
#define GCDL_SUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gcdl/counters.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GCDL_SUMMARY_VERSION 1

/** What an aggregator knows of one worker. */
struct gcdl_worker_row {
	uint32_t joins;              /**< new incarnations accepted */
	uint32_t resyncs;            /**< models resent to the same incarnation */
	uint32_t refused;            /**< refused hellos */
	uint64_t accepted;           /**< its gradient frames accepted in time */
	uint64_t accepted_since_join; /**< of those, from its current incarnation */
	uint64_t late;               /**< its frames of closed rounds */
	uint64_t duplicates;         /**< its duplicate frames */
	uint64_t rejected;           /**< its frames whose values were refused */
	uint32_t joined_round;       /**< round of its last join */
	uint32_t last_round;         /**< latest round it sent for + 1 (0: none) */
};

#define GCDL_SUMMARY_MAX_THREADS 64 /**< threads listed (the rest are summed in cpu_s) */
#define GCDL_SUMMARY_MAX_PORTS 64

/** One port of a node. */
struct gcdl_port_summary {
	uint16_t id;             /**< ethdev port id */
	char name[64];           /**< its device name */
	char mac[18];            /**< "aa:bb:cc:dd:ee:ff" */
	int32_t mtu;             /**< its MTU (net_af_packet: its interface's), -1 when the
				      PMD has none (net_ring, net_memif) */
	int8_t promiscuous;      /**< 1: takes every frame, 0: not, -1: unknown */
	int8_t allmulticast;     /**< 1: takes every multicast frame, 0: not, -1: unknown */
};

/** One thread of the process and the CPU time it used so far (user + system). */
struct gcdl_thread_summary {
	int tid;                 /**< the kernel's thread id */
	char name[16];           /**< its name (lcore-worker-N, eal-intr-thread, gcdl, ...) */
	double cpu_s;            /**< CPU seconds, from /proc/self/task/TID/stat */
};

/** Most aggregation parts listed per node (GCDL_ENGINE_MAX_PARTS). */
#define GCDL_SUMMARY_MAX_AGG_LCORES 16

/** One part of an aggregator's aggregation (dataplane.agg_lcores). */
struct gcdl_agg_lcore_summary {
	uint32_t part;             /**< the part, 0.. */
	int lcore;                 /**< the EAL lcore that ran it; -1: the node's own lcore
				    *   (one part, accumulated as frames are ingested) */
	uint32_t chunk_first, chunk_count; /**< the uplink chunks it owns */
	uint64_t coords;           /**< coordinates accumulated, all rounds */
	uint64_t coords_at_close;  /**< of which when a round closed, not on arrival */
	uint64_t chunks_closed_early; /**< chunks closed as they completed, not at the end */
	uint64_t cpu_accumulate_ns; /**< its lcore's CPU time accumulating (lcore >= 0) */
	uint64_t cpu_close_ns;     /**< its lcore's CPU time closing its part (lcore >= 0) */
	uint64_t closes;           /**< rounds it closed (lcore >= 0) */
};

/** One quantizing lcore of a worker (dataplane.quant_lcores). */
struct gcdl_quant_lcore_summary {
	int lcore;                 /**< its EAL lcore, -1 before it ran */
	uint32_t chunk_first, chunk_count; /**< the chunks it frames each round */
	uint64_t coords;           /**< coordinates it quantized and framed */
	uint64_t cpu_ns;           /**< its CPU time doing so */
	uint64_t rounds;           /**< rounds it framed */
};

/** One node of the run. */
struct gcdl_node_summary {
	char role[16];           /**< "worker", "aggregator" or "peer" (mesh) */
	uint32_t id;             /**< worker k, aggregator a, or peer k */
	uint32_t rounds;         /**< rounds closed (aggregator) or applied (worker, peer) */
	int evaluated;           /**< loss and accuracy are set */
	double train_loss;
	double test_accuracy;
	uint32_t model_crc;      /**< CRC-32 of its model's floats in [crc_first, +crc_count) */
	uint32_t crc_first, crc_count;
	int in_sync;             /**< peer: in the replica set; others 1 */
	struct gcdl_counters c;  /**< a snapshot */
	uint32_t nworkers;       /**< rows of @ref workers (aggregators) */
	struct gcdl_worker_row *workers;
	uint16_t nports;         /**< ports it ran on */
	struct gcdl_port_summary ports[GCDL_SUMMARY_MAX_PORTS];
	uint32_t nagg_lcores;    /**< aggregator: its aggregation parts */
	struct gcdl_agg_lcore_summary agg_lcores[GCDL_SUMMARY_MAX_AGG_LCORES];
	uint32_t nquant_lcores;  /**< worker: its quantizing lcores (its own not counted) */
	struct gcdl_quant_lcore_summary quant_lcores[GCDL_SUMMARY_MAX_AGG_LCORES];
};

/** A whole run. */
struct gcdl_summary {
	const char *program;     /**< "gcdl", "gcdl-sim" */
	char role[16];           /**< "local", "aggregator", "worker", "sim" */
	uint32_t id;             /**< the node id of a multi-host role */
	const char *topology;    /**< "star", "sharded", "mesh" */
	const char *method;
	const char *profile;     /**< the profile's path */
	uint32_t workers;        /**< N */
	uint32_t aggregators;    /**< K (0 in mesh) */
	uint32_t rounds;         /**< rounds completed */
	uint32_t rounds_planned;
	uint32_t first_round;    /**< 0, or the round a --resume continued with */
	int stopped;             /**< stopped by a signal */
	int evaluated;           /**< train_loss and test_accuracy are set */
	double train_loss;
	double test_accuracy;
	int have_crc;            /**< model_crc is set */
	uint32_t model_crc;      /**< of the process's model (the aggregator's in local star) */
	uint32_t replicas_checked;   /**< replicas compared with the reference model */
	uint32_t replicas_identical; /**< of those, bit-identical */
	int status;              /**< the exit status */
	const char *error;       /**< why it failed, "" when it did not */
	struct gcdl_counters total; /**< counters summed, figures the largest, over the nodes */
	uint32_t nnodes;
	struct gcdl_node_summary *nodes;
	uint32_t nthreads;       /**< the process's threads at the end of the run */
	struct gcdl_thread_summary threads[GCDL_SUMMARY_MAX_THREADS];
	double cpu_s;            /**< the whole process's CPU seconds (getrusage) */
	char warning[512];       /**< "" or why the run learnt from fewer workers than
				      planned (gcdl_summary_assess()) */
};

/**
 * CRC-32 (zlib) of a float vector's bytes in host order.
 *
 * @param v      the floats.
 * @param count  how many.
 * @return the CRC.
 */
uint32_t gcdl_crc32_floats(const float *v, uint64_t count);

/**
 * Recompute @p s->total from the nodes: counters summed (drops recomputed),
 * figures the largest.
 *
 * @param s  the summary.
 */
void gcdl_summary_total(struct gcdl_summary *s);

/** gcdl_summary_assess(): late frames, as a share of the aggregators' gradient
 * frames, from which a run is flagged. */
#define GCDL_SUMMARY_LATE_SHARE 0.05
/** gcdl_summary_assess(): stragglers that were not injected, as a share of the
 * worker-rounds, from which a run is flagged. */
#define GCDL_SUMMARY_UNPLANNED_SHARE 0.10

/**
 * Flag a run whose rounds closed without frames that came too late: over the
 * aggregator nodes, late gradient frames >= GCDL_SUMMARY_LATE_SHARE of those
 * that came, or (local mode, where the workers' nodes are in the summary)
 * stragglers beyond the injected ones (workers' `skipped`) >=
 * GCDL_SUMMARY_UNPLANNED_SHARE of the worker-rounds. Sets @p s->warning
 * (the shares, and what to try), "" otherwise. Needs @p s->nodes, @p s->rounds
 * and @p s->workers; a summary without aggregators (a worker, gcdl-sim, a mesh
 * peer) is never flagged.
 *
 * @param s  the summary.
 * @return 1 when flagged, else 0.
 */
int gcdl_summary_assess(struct gcdl_summary *s);

/**
 * Print the summary for people: "== gcdl summary ==", then one "key: value"
 * line each for the run's figures, every counter that is not zero (named
 * and described from the counter list), the rates that follow from them,
 * and each aggregator's worker table.
 *
 * @param s    the summary.
 * @param out  the stream.
 */
void gcdl_summary_print(const struct gcdl_summary *s, FILE *out);

/**
 * Write the summary as one JSON object and a newline (see the file comment).
 *
 * @param s    the summary.
 * @param out  the stream.
 * @return 0, or -EIO when the stream reports an error.
 */
int gcdl_summary_write_json(const struct gcdl_summary *s, FILE *out);

/**
 * Write the JSON summary to a file: a temporary name beside it, then a rename
 * (gcdl/outfile.h), so a reader never sees a half-written object.
 *
 * @param s       the summary.
 * @param path    the file.
 * @param err     receives "PATH: reason" on failure.
 * @param errlen  size of @p err.
 * @return 0, or a negative errno.
 */
int gcdl_summary_save_json(const struct gcdl_summary *s, const char *path, char *err,
			   size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_SUMMARY_H */
