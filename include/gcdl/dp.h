/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * A gcdl process's data plane: the nodes of gcdl/node.h, their ports and
 * lcores, telemetry, and the run's summary.
 *
 * - role local (the default): the whole cluster in one process. N worker
 *   nodes and K aggregator nodes (topology star, K = 1, or sharded), or N
 *   mesh peers, each pair of nodes that talk joined by a net_ring port pair
 *   made with rte_eth_from_rings() (a point-to-point link, as memif would
 *   be). Worker nodes (mesh peers 1..N-1) are spread over
 *   dataplane.worker_lcores lcores, aggregators (and peer 0) poll on an lcore
 *   of their own, or the main lcore when none is left.
 * - role aggregator or worker: one node of a multi-host job on the ports the
 *   EAL probed (--vdev net_memif, net_af_packet, or a NIC), polled on the
 *   main lcore.
 *
 * The same node code runs in every role; only the ports differ.
 * Every function here needs an initialised EAL.
 */
#ifndef GCDL_DP_H
#define GCDL_DP_H

#include <stdint.h>
#include <stdio.h>

#include "gcdl/checkpoint.h"
#include "gcdl/node.h"
#include "gcdl/profile.h"
#include "gcdl/summary.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The process's role. */
enum gcdl_dp_role {
	GCDL_DP_LOCAL = 0,    /**< every node of the job, on net_ring port pairs */
	GCDL_DP_AGGREGATOR,   /**< one aggregator node, on the probed ports */
	GCDL_DP_WORKER,       /**< one worker node (a peer in mesh), on the probed ports */
};

/** Name of a role ("local", "aggregator", "worker"). */
const char *gcdl_dp_role_name(enum gcdl_dp_role role);

/** Exit status of a run whose aggregator never had a contributor. */
#define GCDL_EXIT_NO_CONTRIBUTOR 3

/** Options of a process. */
struct gcdl_dp_opts {
	enum gcdl_dp_role role;
	uint32_t id;                 /**< node id of a multi-host role */
	FILE *metrics;               /**< metrics CSV (header written), or NULL: written by
				      *   the aggregator (star), aggregator 0's range
				      *   (sharded), a peer (mesh) */
	FILE *progress;              /**< progress lines, or NULL */
	double progress_s;           /**< at most this many seconds between lines */
	const int *stop;             /**< stop request (atomic load), or NULL */
	struct gcdl_pcap *pcap;      /**< capture of the aggregator's (local: aggregator 0's,
				      *   peer 0's) or this node's frames, or NULL */
	const struct gcdl_checkpoint *resume; /**< continue from it (aggregator, peer 0), or NULL */
	uint32_t inject_garbage;     /**< self-test frames per round from this node (local:
				      *   from worker 0, peer 1 in mesh) */
	uint32_t inject_hostile;     /**< the same, needs job.key_file */
	const char *grad_shm;        /**< a worker of model.type external: its trainer's
				      *   channel (gcdl/extgrad.h), or NULL */
};

struct gcdl_dp;

/**
 * Build a process's data plane: load the job, make (local) or take
 * (multi-host) the ports, create the mempools on every socket that runs a
 * node, the nodes, and attach telemetry.
 *
 * @param p       the profile (validated here).
 * @param o       options (copied).
 * @param err     receives one line naming the key, device or resource.
 * @param errlen  size of @p err.
 * @return the data plane, or NULL with rte_errno set (EINVAL for a bad
 *         profile, role, option or too few lcores, ENODEV when a port is
 *         missing, ENOMEM, or the error of the failed call).
 */
struct gcdl_dp *gcdl_dp_create(const struct gcdl_profile *p, const struct gcdl_dp_opts *o,
			       char *err, size_t errlen);

/**
 * Print where everything lives: each lcore and its nodes, the ports, pools.
 *
 * @param dp   the data plane.
 * @param out  the stream.
 */
void gcdl_dp_print_placement(const struct gcdl_dp *dp, FILE *out);

/**
 * Run every node until the job's last round, a stop request or a failure;
 * then (local) compare every replica with the reference model.
 *
 * @param dp  the data plane; it runs once.
 * @return 0; -EPROTO when replicas differ; -ENOTCONN when an aggregator had
 *         no contributor (GCDL_EXIT_NO_CONTRIBUTOR); -EPERM when an
 *         aggregator refused this worker; -ETIMEDOUT when a worker heard
 *         nothing for network.idle_timeout_ms; another negative errno for a
 *         failure (gcdl_dp_error() says which).
 */
int gcdl_dp_run(struct gcdl_dp *dp);

/**
 * Why the run failed, in one line naming the node, round or file.
 *
 * @param dp  the data plane.
 * @return the message, "" when it did not fail.
 */
const char *gcdl_dp_error(const struct gcdl_dp *dp);

/**
 * Fill the run's summary (owned by @p dp until gcdl_dp_free(); valid after
 * gcdl_dp_run()). status is left 0 for the caller.
 *
 * @param dp  the data plane.
 * @param s   receives the summary.
 */
void gcdl_dp_summary(struct gcdl_dp *dp, struct gcdl_summary *s);

/**
 * The model this process saves with --save-model: the aggregator's (local
 * star: aggregator 0's; sharded: the assembled ranges of every aggregator),
 * or this node's.
 *
 * @param dp   the data plane.
 * @param dim  receives the coordinates.
 * @return the model (valid until gcdl_dp_free()), NULL when there is none.
 */
const float *gcdl_dp_model(struct gcdl_dp *dp, uint32_t *dim);

/**
 * The job the process runs.
 *
 * @param dp  the data plane.
 * @return the job.
 */
struct gcdl_job *gcdl_dp_job(struct gcdl_dp *dp);

/**
 * Stop and close the ports, free the nodes, pools and the job. NULL is ignored.
 *
 * @param dp  the data plane.
 */
void gcdl_dp_free(struct gcdl_dp *dp);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_DP_H */
