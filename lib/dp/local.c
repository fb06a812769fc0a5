/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The local cluster: every node of the job in one process. Each pair of
 * nodes that talk is joined by a net_ring port pair (a point-to-point link,
 * as a memif link would be): aggregator a and worker k (star, sharded), or
 * peers i and j (mesh). The nodes are the multi-host nodes, unchanged; only
 * their ports differ.
 *
 * Lcores: the aggregators (and mesh peer 0, the committer) are polled on an
 * lcore of their own, or on the main lcore when none is left; the workers
 * (peers 1..N-1) are spread over dataplane.worker_lcores lcores, worker k on
 * the (k mod W)-th. Every node's memory is on the socket of its lcore.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "dp_internal.h"
#include "seterr.h"

/* Lcores: group 0 (aggregators) on agg_lcore, groups 1..W on worker lcores. */
static int
assign_lcores(struct gcdl_dp *dp, char *err, size_t errlen)
{
	unsigned ids[RTE_MAX_LCORE], n = 0, lc;
	uint32_t w = dp->prof.worker_lcores;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	dp->main_lcore = rte_get_main_lcore();
	RTE_LCORE_FOREACH_WORKER(lc)
		ids[n++] = lc;
	if (n < w) {
		gcdl_seterr(err, errlen, "dataplane.worker_lcores = %u needs %u EAL lcores (%u worker "
			    "lcores + the main one), the EAL has %u: pass e.g. --lcores "
			    "'(0-%u)@(0-%ld)'", w, w + 1, w, n + 1, w, cpus > 1 ? cpus - 1 : 0);
		return -EINVAL;
	}
	dp->ngroups = 1 + w;
	dp->groups[0].lcore = n > w ? ids[w] : dp->main_lcore;
	for (uint32_t i = 0; i < w; i++)
		dp->groups[1 + i].lcore = ids[i];
	for (uint32_t g = 0; g < dp->ngroups; g++) {
		dp->groups[g].dp = dp;
		dp->groups[g].socket = dp_lcore_socket(dp->groups[g].lcore);
	}
	return 0;
}

/* The group that polls node i of dp->nodes. */
static uint32_t
group_of(const struct gcdl_dp *dp, uint32_t i)
{
	uint32_t w = dp->ngroups - 1;

	if (i < dp->naggs)
		return 0;
	return 1 + (i - dp->naggs) % w;
}

static int
pool_for(struct gcdl_dp *dp, unsigned socket, uint32_t mbufs, char *err, size_t errlen)
{
	char name[RTE_MEMPOOL_NAMESIZE];

	if (dp->pool[socket] != NULL)
		return 0;
	snprintf(name, sizeof(name), "gcdl%u_pool_s%u", dp->seq, socket);
	dp->pool[socket] = dp_pool_create(name, socket, mbufs, dp->data_room);
	if (dp->pool[socket] == NULL) {
		gcdl_seterr(err, errlen, "mempool %s: cannot create %u mbufs of %u bytes on socket %u: "
			    "%s (raise -m or lower dataplane.mbufs)", name, mbufs, dp->data_room,
			    socket, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	return 0;
}

/* What the job can hold in flight at once: each worker's held frames (twice
 * with injected duplicates), its share of the downlink streams and a burst;
 * in a mesh, every peer's frames to every other; and every lcore's mempool
 * cache (1.5 x 256). */
static uint64_t
mbufs_needed(const struct gcdl_dp *dp)
{
	const struct gcdl_profile *p = &dp->prof;
	uint64_t chunks = gcdl_engine_chunks(dp->job.engine) * (p->fault_dup_p > 0 ? 2 : 1);
	uint64_t mc = gcdl_frame_chunk_coords(GCDL_MSG_MODEL, gcdl_profile_frame_mtu(p), 0);
	uint64_t mchunks = (gcdl_engine_dim(dp->job.engine) + mc - 1) / mc;
	uint64_t down = RTE_MIN((uint64_t)p->ring_size + NODE_FEED_MAX, NODE_IMAGES * mchunks);
	uint64_t per = p->topology == GCDL_TOPO_MESH ? p->workers - 1
		       : p->topology == GCDL_TOPO_SHARDED ? p->aggregators : 1;

	return (uint64_t)p->workers * per * (chunks + p->burst + down) + 64 +
	       (uint64_t)(dp->ngroups + 1) * 384;
}

static int
make_links(struct gcdl_dp *dp, char *err, size_t errlen)
{
	const struct gcdl_profile *p = &dp->prof;
	uint32_t n = p->workers, k = p->aggregators;
	int mesh = p->topology == GCDL_TOPO_MESH;
	uint32_t need;

	dp->nlinks = mesh ? n * (n - 1) / 2 : n * k;
	need = 2 * dp->nlinks;
	if (need + rte_eth_dev_count_total() > RTE_MAX_ETHPORTS) {
		gcdl_seterr(err, errlen, "cluster.workers = %u%s: the local mode needs %u net_ring "
			    "ports (one pair per link), DPDK has room for %u (RTE_MAX_ETHPORTS, "
			    "%u in use): fewer workers%s, or one process per node (--role)", n,
			    mesh ? " in a mesh" : p->topology == GCDL_TOPO_SHARDED ?
			    " with network.aggregators" : "", need, RTE_MAX_ETHPORTS,
			    rte_eth_dev_count_total(), mesh ? " (a mesh needs N(N-1) ports)" : "");
		return -EINVAL;
	}
	dp->links = rte_zmalloc("gcdl_links", sizeof(*dp->links) * RTE_MAX(dp->nlinks, 1u), 0);
	if (dp->links == NULL) {
		gcdl_seterr(err, errlen, "local: out of memory (raise -m)");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < dp->nlinks; i++)
		dp->links[i].port[0] = dp->links[i].port[1] = -1;
	for (uint32_t i = 0, l = 0; i < dp->nnodes; i++) {
		for (uint32_t j = i + 1; j < dp->nnodes; j++) {
			unsigned sock[2];
			struct rte_mempool *pool[2];
			int rc;

			/* mesh: every pair; star, sharded: aggregator and worker */
			if (!mesh && (i >= dp->naggs || j < dp->naggs))
				continue;
			sock[0] = dp->groups[group_of(dp, i)].socket;
			sock[1] = dp->groups[group_of(dp, j)].socket;
			pool[0] = dp->pool[sock[0]];
			pool[1] = dp->pool[sock[1]];
			rc = dp_link_create(&dp->links[l], dp->seq, l, sock, p->ring_size, pool, err,
					    errlen);
			if (rc != 0)
				return rc;
			l++;
		}
	}
	return 0;
}

/* The link between nodes i < j and its side for i. */
static uint32_t
link_of(const struct gcdl_dp *dp, uint32_t i, uint32_t j)
{
	if (dp->prof.topology == GCDL_TOPO_MESH) {
		uint32_t n = dp->nnodes;

		/* pairs (i, j), i < j, in order */
		return i * n - i * (i + 1) / 2 + (j - i - 1);
	}
	return i * dp->prof.workers + (j - dp->naggs);
}

static int
make_node(struct gcdl_dp *dp, uint32_t i, char *err, size_t errlen)
{
	const struct gcdl_profile *p = &dp->prof;
	int mesh = p->topology == GCDL_TOPO_MESH;
	struct dp_group *g = &dp->groups[group_of(dp, i)];
	struct gcdl_node_conf c;
	uint16_t ports[NODE_MAX_PORTS];
	uint8_t macs[NODE_MAX_PORTS][6];
	uint32_t np = 0, inject_from;
	char why[512];

	memset(&c, 0, sizeof(c));
	for (uint32_t j = 0; j < dp->nnodes; j++) {
		uint32_t li;
		int side = i < j ? 0 : 1;

		if (j == i || (!mesh && (i < dp->naggs) == (j < dp->naggs)))
			continue;
		li = i < j ? link_of(dp, i, j) : link_of(dp, j, i);
		/* locally administered: 02:67:63 ("gc"), the link, the side; an
		 * aggregator has one MAC on all its ports (02:67:63:ff:a:ff), as a
		 * host with one NIC would: its downlink frame is built once and
		 * every port sends the same mbuf */
		macs[np][0] = 0x02;
		macs[np][1] = 0x67;
		macs[np][2] = 0x63;
		macs[np][3] = (uint8_t)(li >> 8);
		macs[np][4] = (uint8_t)li;
		macs[np][5] = (uint8_t)side;
		if (!mesh && i < dp->naggs) {
			macs[np][3] = 0xff;
			macs[np][4] = (uint8_t)i;
			macs[np][5] = 0xff;
		}
		ports[np++] = (uint16_t)dp->links[li].port[side];
	}
	if (mesh) {
		c.role = GCDL_NODE_PEER;
		c.id = i;
	} else {
		c.role = i < dp->naggs ? GCDL_NODE_AGGREGATOR : GCDL_NODE_WORKER;
		c.id = i < dp->naggs ? i : i - dp->naggs;
	}
	/* the node that owns the run reports it: aggregator 0, peer 0 */
	dp_node_conf(dp, &c, i == 0);
	c.pool = dp->pool[g->socket];
	c.nports = (uint16_t)np;
	c.ports = ports;
	c.macs = (const uint8_t (*)[6])macs;
	c.socket = g->socket;
	c.local = 1;
	if (!mesh) {
		c.local_finished = &dp->workers_done;
		c.local_workers = p->workers;
	}
	/* the self-tests come from worker 0 (peer 1; peer 0 when it is alone) */
	inject_from = mesh ? (dp->nnodes > 1 ? 1 : 0) : dp->naggs;
	if (i == inject_from) {
		c.inject_garbage = dp->opts.inject_garbage;
		c.inject_hostile = dp->opts.inject_hostile;
	}
	dp->nodes[i] = gcdl_node_create(&c, why, sizeof(why));
	if (dp->nodes[i] == NULL) {
		gcdl_seterr(err, errlen, "%s %u: %s", gcdl_node_role_name(c.role), c.id, why);
		return -(rte_errno ? rte_errno : EINVAL);
	}
	g->nodes[g->count++] = dp->nodes[i];
	return 0;
}

int
dp_local_build(struct gcdl_dp *dp, char *err, size_t errlen)
{
	const struct gcdl_profile *p = &dp->prof;
	uint64_t need;
	int rc;

	if (p->topology == GCDL_TOPO_SHARDED && p->checkpoint_every > 0) {
		char where[GCDL_PROFILE_STR + 96];

		gcdl_profile_where(p, "checkpoint.every", where, sizeof(where));
		gcdl_seterr(err, errlen, "%s: checkpoints of a sharded job are written by each "
			    "aggregator process (--role aggregator --id A): the local mode runs "
			    "%u aggregators in one process and cannot write one checkpoint.path",
			    where, p->aggregators);
		return -EINVAL;
	}
	if (p->topology == GCDL_TOPO_SHARDED && dp->opts.resume != NULL) {
		gcdl_seterr(err, errlen, "--resume: a sharded job resumes per aggregator process "
			    "(--role aggregator --id A)");
		return -EINVAL;
	}
	rc = assign_lcores(dp, err, errlen);
	if (rc != 0)
		return rc;
	dp->naggs = p->topology == GCDL_TOPO_MESH ? 0 : p->aggregators;
	dp->nnodes = dp->naggs + p->workers;
	if (p->topology == GCDL_TOPO_MESH)
		dp->naggs = 1; /* peer 0, the committer, polls on the aggregators' lcore */
	need = mbufs_needed(dp);
	if (p->mbufs < need) {
		char where[GCDL_PROFILE_STR + 96];

		gcdl_profile_where(p, "dataplane.mbufs", where, sizeof(where));
		gcdl_seterr(err, errlen, "%s: dataplane.mbufs %u is below the %" PRIu64 " mbufs this "
			    "job can hold in flight (%u workers, %u uplink frames per round and "
			    "worker, rings of %u)", where, p->mbufs, need, p->workers,
			    gcdl_engine_chunks(dp->job.engine), p->ring_size);
		return -EINVAL;
	}
	for (uint32_t g = 0; g < dp->ngroups; g++) {
		rc = pool_for(dp, dp->groups[g].socket, p->mbufs, err, errlen);
		if (rc != 0)
			return rc;
		dp->groups[g].nodes = calloc(dp->nnodes, sizeof(*dp->groups[g].nodes));
		if (dp->groups[g].nodes == NULL) {
			gcdl_seterr(err, errlen, "local: out of memory");
			return -ENOMEM;
		}
	}
	dp->nodes = calloc(dp->nnodes, sizeof(*dp->nodes));
	if (dp->nodes == NULL) {
		gcdl_seterr(err, errlen, "local: out of memory");
		return -ENOMEM;
	}
	rc = make_links(dp, err, errlen);
	for (uint32_t i = 0; rc == 0 && i < dp->nnodes; i++)
		rc = make_node(dp, i, err, errlen);
	return rc;
}

void
dp_local_check_replicas(struct gcdl_dp *dp)
{
	const struct gcdl_profile *p = &dp->prof;
	uint32_t dim = 0;

	dp->replicas_checked = 0;
	dp->replicas_identical = 0;
	if (p->topology == GCDL_TOPO_MESH) {
		const float *ref = gcdl_node_model(dp->nodes[0], &dim, NULL, NULL);

		for (uint32_t i = 1; i < dp->nnodes; i++) {
			dp->replicas_checked++;
			if (memcmp(gcdl_node_model(dp->nodes[i], NULL, NULL, NULL), ref,
				   sizeof(float) * dim) == 0)
				dp->replicas_identical++;
		}
		return;
	}
	/* every worker against every aggregator's range */
	for (uint32_t k = dp->naggs; k < dp->nnodes; k++) {
		const float *w = gcdl_node_model(dp->nodes[k], &dim, NULL, NULL);
		int same = 1;

		for (uint32_t a = 0; a < dp->naggs; a++) {
			uint32_t first, count;
			const float *ref = gcdl_node_model(dp->nodes[a], NULL, &first, &count);

			same &= memcmp(w + first, ref + first, sizeof(float) * count) == 0;
		}
		dp->replicas_checked++;
		dp->replicas_identical += same;
	}
}
