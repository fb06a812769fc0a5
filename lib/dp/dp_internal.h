/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to lib/dp: a process's data plane (include/gcdl/dp.h). dp.c builds
 * and runs it; local.c wires the nodes of a local cluster on net_ring port
 * pairs and places them on lcores; port.c makes and starts ports;
 * telemetry.c answers the /gcdl/ commands.
 */
#ifndef GCDL_DP_INTERNAL_H
#define GCDL_DP_INTERNAL_H

#include <stdint.h>

#include <rte_lcore.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "gcdl/auth.h"
#include "gcdl/dp.h"

#include "node_internal.h"

#define DP_MAX_GROUPS RTE_MAX_LCORE

/* Two ethdev ports joined by two rings (rte_eth_from_rings): side 0's TX
 * ring is side 1's RX ring and back. */
/* bytes before the packet in an af_packet (TPACKET_V2) ring frame */
#define DP_AF_PACKET_HDR 66

struct dp_link {
	struct rte_ring *ring[2];  /* ring[i]: what side i receives */
	int port[2];               /* -1 until created */
	int started[2];
	char name[2][24];          /* their names (the vdev is "net_ring_" + name) */
};

/* The nodes one lcore polls. */
struct dp_group {
	struct gcdl_dp *dp;
	unsigned lcore;
	unsigned socket;
	uint32_t count;
	struct gcdl_node **nodes;
	int rc;
};

/* One helper lcore of a node: an aggregator's aggregation lcore
 * (dataplane.agg_lcores > 1) or a worker's quantizing lcore
 * (dataplane.quant_lcores > 1). */
struct dp_helper {
	struct gcdl_dp *dp;
	struct gcdl_node *node;
	uint32_t part;
	unsigned lcore;
	int rc;
};

struct gcdl_dp {
	uint32_t seq;                   /* this process's n-th data plane: in the names of
					 * its pools, rings and ports */
	struct gcdl_profile prof;
	struct gcdl_dp_opts opts;
	struct gcdl_job job;
	int job_open;
	struct gcdl_auth auth_key;
	const struct gcdl_auth *auth;   /* &auth_key with job.key_file, else NULL */
	uint64_t hz;
	size_t frame_cap;
	uint16_t data_room;
	struct rte_mempool *pool[RTE_MAX_NUMA_NODES];
	/* local: the links between the nodes */
	struct dp_link *links;
	uint32_t nlinks;
	/* multi-host: the probed ports */
	uint16_t nports;
	uint16_t ports[NODE_MAX_PORTS];
	int port_started[NODE_MAX_PORTS];
	/* the nodes: local star/sharded: aggregators 0..K-1 then workers 0..N-1;
	 * local mesh: peers 0..N-1; multi-host: one */
	struct gcdl_node **nodes;
	uint32_t nnodes;
	uint32_t naggs;                 /* how many of nodes are aggregators */
	uint32_t workers_done;          /* local: workers done (gcdl_node_conf.local_finished) */
	struct dp_group groups[DP_MAX_GROUPS];
	uint32_t ngroups;
	struct dp_helper *helpers;   /* the helper lcores of every node */
	uint32_t nhelpers;
	unsigned main_lcore;
	int quit;                       /* set once: every loop returns */
	int ran;
	char fail[512];
	struct gcdl_node_summary *ns;   /* nnodes, after the run */
	uint32_t replicas_checked, replicas_identical;
	float *model;                   /* the assembled model of a local sharded job */
};

/* dp.c: what every node of the process is given (job, key, stop request);
 * with reports, also what the node that owns the run writes (resume,
 * metrics, progress, capture). */
void dp_node_conf(const struct gcdl_dp *dp, struct gcdl_node_conf *c, int reports);

/* port.c */
struct rte_mempool *dp_pool_create(const char *name, unsigned socket, uint32_t mbufs,
				   uint16_t data_room);
int dp_link_create(struct dp_link *l, uint32_t seq, uint32_t index, const unsigned socket[2],
		   uint32_t ring_size, struct rte_mempool *const pool[2], char *err,
		   size_t errlen);
void dp_link_destroy(struct dp_link *l);
/* How a probed port is set up (dp_port_start). */
struct dp_port_conf {
	uint32_t ring_size;          /* descriptors per ring */
	struct rte_mempool *pool;    /* its receive buffers */
	const uint8_t *want_mac;     /* the profile's MAC for it, NULL: its own */
	uint32_t mtu;                /* coding.mtu */
	const uint8_t (*groups)[6];  /* the multicast groups a node takes */
	uint32_t ngroups;
	uint16_t vlan;               /* network.vlan (0: untagged) */
	int isolate;                 /* dataplane.flow_isolate */
};

/* Configure and start a probed port for frames of coding.mtu = mtu bytes
 * after the Ethernet header: its MTU set, or refused with a message (-EMSGSIZE:
 * an af_packet interface whose MTU is smaller). It takes its own MAC, the
 * broadcast and the groups: by the PMD's multicast list, else all
 * multicast, else (and where the port's MAC is not the kernel's)
 * promiscuous. With isolate, rte_flow's isolated mode and one rule that
 * lets gcdl's EtherType (on the job's VLAN) in; a PMD without either is
 * refused with a message. */
int dp_port_start(uint16_t port, const struct dp_port_conf *pc, char *err, size_t errlen);

/* local.c: the nodes of a local cluster on their links and lcores */
int dp_local_build(struct gcdl_dp *dp, char *err, size_t errlen);
/* compare every replica with the reference model (after a complete run) */
void dp_local_check_replicas(struct gcdl_dp *dp);

/* telemetry.c: register the /gcdl/ commands (once per process) and make them
 * report on dp; detach before dp is freed (waits for a callback in progress). */
int dp_telemetry_attach(struct gcdl_dp *dp);
void dp_telemetry_detach(struct gcdl_dp *dp);

static inline unsigned
dp_lcore_socket(unsigned lcore)
{
	unsigned s = rte_lcore_to_socket_id(lcore);

	return s < RTE_MAX_NUMA_NODES ? s : 0;
}

#endif /* GCDL_DP_INTERNAL_H */
