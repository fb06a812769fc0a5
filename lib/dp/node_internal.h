/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to lib/dp: one multi-host node (include/gcdl/node.h). node.c
 * builds it and owns the ports and the transmit path; node_agg.c runs an
 * aggregator, node_worker.c a worker. Everything runs on the main lcore.
 */
#ifndef GCDL_NODE_INTERNAL_H
#define GCDL_NODE_INTERNAL_H

#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "gcdl/auth.h"
#include "gcdl/join.h"
#include "gcdl/node.h"
#include "gcdl/straggler.h"

#define NODE_MAX_PORTS 64
#define NODE_MAX_BURST 512
#define NODE_HELLO_US 200000   /* hello and resync retry period */
#define NODE_LINGER_US 1000000 /* the aggregator answers resyncs this long after the end */
#define NODE_TX_SPIN_US 2000   /* a full TX ring is retried this long, then frames are dropped */

struct node_txq {
	uint16_t n;
	struct rte_mbuf *m[NODE_MAX_BURST];
};

struct gcdl_node {
	struct gcdl_profile prof;
	struct gcdl_node_opts opts;
	struct gcdl_job job;
	int job_open;
	struct gcdl_engine *e;
	uint32_t n;            /* workers N */
	uint32_t k;            /* aggregators K */
	uint32_t dim, chunks, chunk_coords;
	uint32_t mc, mchunks;  /* coordinates per model/update frame, frames per model */
	uint16_t self;         /* sender id: k, or N + a */
	uint64_t hash;
	uint64_t hz;
	uint32_t burst;
	size_t frame_cap;
	struct rte_mempool *pool;

	uint16_t nports;
	uint16_t port[NODE_MAX_PORTS];
	uint8_t mac[NODE_MAX_PORTS][6];
	int started[NODE_MAX_PORTS];
	struct node_txq txq[NODE_MAX_PORTS];

	uint8_t (*agg_macs)[6];    /* K entries, NULL: found by broadcast */
	uint8_t (*worker_macs)[6]; /* N entries, NULL: any */
	struct gcdl_frame_limits lim;
	uint32_t first_round;      /* aggregator: 0, or the round a checkpoint continues with */
	struct gcdl_straggler_model sm;
	double *slowdown;
	uint8_t *payload;          /* scratch for one payload */
	struct gcdl_auth auth_key;
	const struct gcdl_auth *auth; /* job.key_file, or NULL: no tags */

	struct gcdl_node_result res;
	char fail[512];
	int ran;

	/* aggregator a */
	struct gcdl_join_worker *jw;
	uint32_t chunk_first, chunk_count, coord_first, coord_count;
	float *update;

	/* worker k */
	float *w, *u, *v;
	struct gcdl_link *links;   /* K */
	uint8_t *lgot;             /* K x mchunks: frames of the round being assembled */
	uint32_t incarnation;
	uint32_t nparts;
	uint32_t parts[GCDL_JOIN_MAX_PARTS];

	/* mesh node k (node_mesh.c) */
	struct node_mesh *mesh;
};

static inline uint64_t
node_us(const struct gcdl_node *n)
{
	return rte_get_tsc_cycles() * 1000000ULL / n->hz;
}

static inline int
node_stop(const struct gcdl_node *n)
{
	return n->opts.stop != NULL && __atomic_load_n(n->opts.stop, __ATOMIC_RELAXED);
}

/* node.c */
/* Queue one frame (header fields in h, payload of h->payload_len bytes) for
 * dst on port index pi; the source MAC is the port's. @return 0 or -ENOBUFS. */
int gcdl_node_send(struct gcdl_node *n, uint16_t pi, const uint8_t dst[6],
		   const struct gcdl_frame_hdr *h, const void *payload);
/* Send everything queued (retrying a full ring for NODE_TX_SPIN_US). */
void gcdl_node_flush(struct gcdl_node *n);
/* Receive a burst on port index pi. Frames for another MAC are freed and
 * counted. @return frames kept in pkts. */
uint16_t gcdl_node_rx(struct gcdl_node *n, uint16_t pi, struct rte_mbuf **pkts);
/* Validate a received frame (and its tag when the job has a key).
 * @return 0, or a positive drop reason (counted here). */
int gcdl_node_decode(struct gcdl_node *n, const struct rte_mbuf *m, struct gcdl_frame_hdr *hdr,
		     const uint8_t **pl);
/* Fill h with this node's header fields for a frame of the given type. */
void gcdl_node_hdr(const struct gcdl_node *n, struct gcdl_frame_hdr *h, int type,
		   uint32_t round);
/* Send model or update frames (values from vec, round) that intersect the
 * coordinate range [first, first+count) to dst on port index pi. */
void gcdl_node_send_range(struct gcdl_node *n, uint16_t pi, const uint8_t dst[6], int type,
			  uint32_t round, const float *vec, uint32_t first, uint32_t count);
/* CRC-32 of floats. */
uint64_t gcdl_node_crc(const float *v, uint32_t count);

/* node_agg.c */
int gcdl_node_agg_init(struct gcdl_node *n, char *err, size_t errlen);
int gcdl_node_agg_run(struct gcdl_node *n);

/* node_worker.c */
int gcdl_node_worker_init(struct gcdl_node *n, char *err, size_t errlen);
int gcdl_node_worker_run(struct gcdl_node *n);

/* node_mesh.c: network.topology mesh, every node a worker and a replica */
int gcdl_node_mesh_init(struct gcdl_node *n, char *err, size_t errlen);
int gcdl_node_mesh_run(struct gcdl_node *n);
void gcdl_node_mesh_summary(const struct gcdl_node *n, FILE *out);
void gcdl_node_mesh_free(struct gcdl_node *n);

#endif /* GCDL_NODE_INTERNAL_H */
