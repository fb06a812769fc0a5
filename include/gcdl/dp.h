/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The DPDK data plane in local mode: N logical workers and one aggregator in
 * one process, each worker connected to the aggregator by a pair of ethdev
 * ports made with rte_eth_from_rings(). Logical workers are multiplexed over
 * the worker lcores (dataplane.worker_lcores), the aggregator has its own
 * lcore (the main lcore when no other one is left), and a DPDK control
 * thread runs the rounds: it arms each round's deadline on the TSC, closes
 * the round when the aggregator lcore hands it over, takes the optimizer
 * step, evaluates, writes the metrics row, and gives the aggregator lcore
 * the update to send down. Lcores and the control thread talk through
 * rte_ring messages only.
 *
 * For the same profile and the same arrivals the data plane computes the
 * same model, bit for bit, as gcdl-sim (both drive the engine of engine.h).
 *
 * Every function here needs an initialised EAL.
 */
#ifndef GCDL_DP_H
#define GCDL_DP_H

#include <stdint.h>
#include <stdio.h>

#include "gcdl/checkpoint.h"
#include "gcdl/frame.h"
#include "gcdl/job.h"
#include "gcdl/profile.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of a data-plane run. */
struct gcdl_dp_opts {
	/** Self-test: malformed frames injected per round into the
	 *  aggregator's polling set through an extra port pair (0: none). */
	uint32_t inject_garbage;
	/** Self-test of job.key_file: well-formed frames per round with a wrong
	 *  tag, of a closed round, or altered after tagging (0: none; needs a key). */
	uint32_t inject_hostile;
	FILE *metrics;      /**< metrics CSV stream (header already written), or NULL */
	FILE *progress;     /**< progress lines, or NULL for none */
	double progress_s;  /**< at most this many seconds between progress lines */
	/** Stop request, read with __atomic_load_n (a signal handler may set
	 *  it): the run stops after the round in progress. NULL: none. */
	const int *stop;
	/** Capture of every frame the aggregator lcore receives and sends
	 *  (gcdl_pcap_open()), or NULL for none. */
	struct gcdl_pcap *pcap;
	/** Continue from this checkpoint (gcdl_checkpoint_load(); checked against
	 *  the job and loaded into the engine before the replicas copy it), or NULL. */
	const struct gcdl_checkpoint *resume;
};

/** How far past its deadline a round may close: the bound the aggregator
 *  lcore keeps while it runs (it polls without sleeping near a deadline). */
#define GCDL_DP_CLOSE_SLACK_US 1000.0

/** What a run did. Uplink: workers to aggregator; downlink: the other way. */
struct gcdl_dp_result {
	uint32_t rounds;            /**< rounds completed */
	uint32_t rounds_planned;    /**< job.rounds */
	int stopped;                /**< non-zero when stopped by request */
	double train_loss;          /**< last evaluation */
	double test_accuracy;       /**< last evaluation */
	double wall_s;              /**< from round 0's start to the last round's close */

	uint64_t up_tx_frames;      /**< uplink frames the workers sent */
	uint64_t up_tx_bytes;
	uint64_t up_rx_frames;      /**< frames the aggregator received (garbage included) */
	uint64_t up_rx_bytes;
	uint64_t up_accepted;       /**< uplink frames ingested in time */
	uint64_t up_payload_bytes;  /**< their payload bytes */
	uint64_t up_wire_bytes;     /**< their on-the-wire bytes */
	uint64_t down_tx_frames;    /**< update frames the aggregator sent */
	uint64_t down_tx_bytes;
	uint64_t down_rx_frames;    /**< frames the workers received */
	uint64_t down_rx_bytes;
	uint64_t garbage_sent;      /**< malformed frames injected */
	uint64_t hostile_sent;      /**< --inject-hostile frames injected */

	uint64_t drops[GCDL_DROP__COUNT];      /**< aggregator drops by reason */
	uint64_t down_drops[GCDL_DROP__COUNT]; /**< worker drops by reason */
	uint64_t duplicates;        /**< duplicate uplink frames ignored */
	uint64_t down_duplicates;   /**< duplicate update frames ignored */
	uint64_t late;              /**< uplink frames of an already-closed round */
	uint64_t stragglers;        /**< worker-rounds with no chunk accepted */
	uint64_t skipped;           /**< worker-rounds a Bernoulli straggler did not send */
	uint64_t alloc_failures;    /**< mbuf allocation failures (retried) */
	uint64_t tx_full;           /**< TX bursts a full ring took only partly (retried) */
	uint64_t fault_dropped;     /**< [faults]: uplink frames not sent */
	uint64_t fault_duplicated;  /**< [faults]: uplink frames sent twice */
	uint64_t fault_reordered;   /**< [faults]: uplink copies sent out of order */
	uint64_t fault_corrupted;   /**< [faults]: uplink copies with a flipped bit */
	uint64_t fault_delayed;     /**< [faults]: uplink frames a slow worker held back */

	uint32_t closed_complete;   /**< rounds closed because every frame arrived */
	uint32_t closed_deadline;   /**< rounds closed by their deadline */
	double max_round_us;        /**< longest round, start to close */
	double max_overshoot_us;    /**< worst time past a deadline at which the aggregator
				     *   lcore saw that it had passed (the round itself
				     *   accepts nothing seen after its deadline) */
	double max_overshoot_running_us; /**< the same, less the time in which the lcore
					  *   was not running (descheduled by the OS or
					  *   the hypervisor) */
	uint32_t closed_late;       /**< rounds closed more than GCDL_DP_CLOSE_SLACK_US
				     *   past their deadline */
	uint32_t closed_late_not_running; /**< of those, the rounds that are within the
					   *   slack once the time the lcore was not
					   *   running is taken away */
	double last_deadline_us;    /**< the deadline of the last round */

	uint32_t checkpoints;       /**< checkpoints written */
	uint32_t first_round;       /**< 0, or the round a --resume checkpoint continued with */

	/* CPU time of the hot paths (thread CPU clock: time a thread was
	 * descheduled on a shared core is not counted) */
	uint64_t encode_ns;         /**< worker lcores: quantizing and framing */
	uint64_t encode_coords;     /**< coordinates they quantized and framed */
	uint64_t tx_ns;             /**< worker lcores: uplink tx bursts */
	uint64_t ingest_ns;         /**< aggregator lcore: polls that brought frames */
	uint64_t ingest_coords;     /**< coordinates of the uplink frames it ingested */
	uint64_t decode_ns;         /**< control thread: decoding rounds (accumulate + step) */
	uint64_t decode_coords;     /**< coordinates it accumulated (dim x contributors) */
	uint32_t replicas_checked;  /**< worker replicas compared with the aggregator's model */
	uint32_t replicas_identical;/**< of those, bit-identical */
};

struct gcdl_dp;

/** A classic pcap capture file being written. */
struct gcdl_pcap;

/**
 * Create a classic libpcap capture file (magic 0xa1b2c3d4, version 2.4,
 * snaplen 65535, linktype 1 = Ethernet) and write its global header. Pass it
 * as gcdl_dp_opts.pcap: the aggregator lcore then appends every frame it
 * receives (garbage and late frames included) and every update frame it
 * sends, time-stamped from the TSC. Call after rte_eal_init() (it reads the
 * TSC frequency).
 *
 * @param path    the file, created or truncated.
 * @param err     receives one line naming the file on failure.
 * @param errlen  size of @p err.
 * @return the capture, or NULL with errno set (EINVAL for NULL arguments, or
 *         the error of fopen/fwrite/malloc).
 */
struct gcdl_pcap *gcdl_pcap_open(const char *path, char *err, size_t errlen);

/**
 * Flush and close a capture. NULL is ignored.
 *
 * @param pc  the capture, not in use by a running data plane.
 * @return 0, or -EIO when a record could not be written or flushed.
 */
int gcdl_pcap_close(struct gcdl_pcap *pc);

/**
 * Build the local data plane for a profile: load the job (datasets, engine),
 * assign lcores, create the mempools and the port pairs, and allocate every
 * replica and buffer on the NUMA node of the lcore or port that uses it.
 *
 * Needs 1 + dataplane.worker_lcores EAL lcores (the aggregator lcore may be
 * the main lcore).
 *
 * @param p       the profile (validated here).
 * @param o       run options (copied), or NULL for none.
 * @param err     receives one line naming the key, device or resource on failure.
 * @param errlen  size of @p err.
 * @return the data plane, or NULL with rte_errno set (EINVAL for a bad
 *         profile, too few lcores or dataplane.mbufs too small for the job,
 *         ENODEV when a port failed to appear, ENOMEM when memory or the
 *         mempool cannot be allocated, or the error of the failed call).
 */
struct gcdl_dp *gcdl_dp_create(const struct gcdl_profile *p, const struct gcdl_dp_opts *o,
			       char *err, size_t errlen);

/**
 * The job the data plane runs (its engine holds the aggregator's model).
 *
 * @param dp  the data plane.
 * @return the job, or NULL for NULL @p dp.
 */
struct gcdl_job *gcdl_dp_job(struct gcdl_dp *dp);

/**
 * Print where everything lives: the role and socket of every lcore, the
 * control thread, the mempools, the ports and the replicas.
 *
 * @param dp   the data plane.
 * @param out  the stream.
 */
void gcdl_dp_print_placement(const struct gcdl_dp *dp, FILE *out);

/**
 * Run every round (or until a stop request), then stop the lcores.
 *
 * @param dp   the data plane; it can run once.
 * @param res  receives what the run did (also on failure), or NULL.
 * @return 0; -EINVAL for NULL @p dp or a second run; -EIO when the metrics
 *         file cannot be written; -EPROTO when a worker replica ended up
 *         different from the aggregator's model; the engine's or EAL's
 *         error otherwise.
 */
int gcdl_dp_run(struct gcdl_dp *dp, struct gcdl_dp_result *res);

/**
 * Why the run failed, in one line naming the worker, round or file.
 *
 * @param dp  the data plane.
 * @return the message, "" when the run did not fail (or for NULL @p dp).
 */
const char *gcdl_dp_error(const struct gcdl_dp *dp);

/**
 * Print the summary of a run: rounds, final loss and accuracy, frames and
 * bytes sent and received, drops by reason, duplicates, stragglers, late
 * frames, deadline overshoot and throughput. One "key: value" per line.
 *
 * @param res  the result.
 * @param out  the stream.
 */
void gcdl_dp_print_summary(const struct gcdl_dp_result *res, FILE *out);

/**
 * Stop and close the ports, free the rings, pools, buffers and the job.
 * NULL is ignored.
 *
 * @param dp  the data plane.
 */
void gcdl_dp_free(struct gcdl_dp *dp);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_DP_H */
