/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A little cluster of nodes for the data-plane suites (test_node.c,
 * test_hostile.c): its job, mbuf pool, links (net_ring port pairs made with
 * rte_eth_from_rings(), two rings each) and nodes. Side 0 of link k is the
 * aggregator's port k in a star, side 1 worker k's only port; a test can
 * put frames on a port's receive ring (c->ring[link][side]) as a host on
 * that link would.
 */
#ifndef GCDL_TESTS_NODE_CLUSTER_H
#define GCDL_TESTS_NODE_CLUSTER_H

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "gcdl/node.h"

#include "dp_test.h"

#define MAX_NODES 8
#define MAX_LINKS 16

/* A little cluster: its job, pool, links (port pairs) and nodes. */
struct cluster {
	struct gcdl_profile p;
	struct gcdl_job job;
	struct rte_mempool *pool;
	uint32_t nlinks;
	struct rte_ring *ring[MAX_LINKS][2];
	int port[MAX_LINKS][2];
	uint32_t nnodes;
	struct gcdl_node *node[MAX_NODES];
	int dead[MAX_NODES];               /* a node the test stopped polling */
	const struct gcdl_auth *auth;      /* the job key of every node, or NULL */
};

static uint32_t cluster_seq;
/* The job key the next clusters' nodes use (NULL: frames carry no tag). */
static const struct gcdl_auth *cluster_auth;

static inline void
link_up(struct cluster *c, uint32_t l)
{
	char name[32];

	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "tn%u_%u_%d", cluster_seq, l, i);
		c->ring[l][i] = rte_ring_create(name, 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		ck_assert_ptr_nonnull(c->ring[l][i]);
	}
	for (int i = 0; i < 2; i++) {
		struct rte_eth_conf conf;

		memset(&conf, 0, sizeof(conf));
		snprintf(name, sizeof(name), "tn%u_%u_%c", cluster_seq, l, i ? 'b' : 'a');
		c->port[l][i] = rte_eth_from_rings(name, &c->ring[l][i], 1, &c->ring[l][!i], 1, 0);
		ck_assert_int_ge(c->port[l][i], 0);
		ck_assert_int_eq(rte_eth_dev_configure((uint16_t)c->port[l][i], 1, 1, &conf), 0);
		ck_assert_int_eq(rte_eth_rx_queue_setup((uint16_t)c->port[l][i], 0, 1024, 0, NULL,
							c->pool), 0);
		ck_assert_int_eq(rte_eth_tx_queue_setup((uint16_t)c->port[l][i], 0, 1024, 0, NULL), 0);
		ck_assert_int_eq(rte_eth_dev_start((uint16_t)c->port[l][i]), 0);
	}
}

static inline void
cluster_open(struct cluster *c, const struct gcdl_profile *p, uint32_t nlinks)
{
	char err[512], name[32];

	memset(c, 0, sizeof(*c));
	c->p = *p;
	c->auth = cluster_auth;
	cluster_seq++;
	ck_assert_msg(gcdl_job_open(&c->job, p, 1, err, sizeof(err)) == 0, "%s", err);
	snprintf(name, sizeof(name), "tn_pool%u", cluster_seq);
	c->pool = rte_pktmbuf_pool_create(name, 8191, 256, 0, 2304, 0);
	ck_assert_ptr_nonnull(c->pool);
	c->nlinks = nlinks;
	for (uint32_t l = 0; l < nlinks; l++)
		link_up(c, l);
}

/* A node on the given sides of links: (link, side) pairs. */
static inline struct gcdl_node *
node_on(struct cluster *c, enum gcdl_node_role role, uint32_t id, const uint32_t *links,
	const int *sides, uint16_t n, const struct gcdl_node_conf *extra)
{
	struct gcdl_node_conf conf;
	uint16_t ports[MAX_LINKS];
	uint8_t macs[MAX_LINKS][6];
	struct gcdl_node *node;
	char err[512];

	if (extra != NULL)
		conf = *extra;
	else
		memset(&conf, 0, sizeof(conf));
	for (uint16_t i = 0; i < n; i++) {
		ports[i] = (uint16_t)c->port[links[i]][sides[i]];
		memcpy(macs[i], (uint8_t[6]){ 0x02, 0x74, 0x6e, (uint8_t)links[i],
					      (uint8_t)sides[i], (uint8_t)cluster_seq }, 6);
	}
	conf.role = role;
	conf.id = id;
	conf.job = &c->job;
	conf.pool = c->pool;
	conf.nports = n;
	conf.ports = ports;
	conf.macs = (const uint8_t (*)[6])macs;
	conf.local = 1;
	if (conf.auth == NULL)
		conf.auth = c->auth;
	node = gcdl_node_create(&conf, err, sizeof(err));
	ck_assert_msg(node != NULL, "%s %u: %s", gcdl_node_role_name(role), id, err);
	c->node[c->nnodes++] = node;
	return node;
}

/* A star: aggregator 0 on side 0 of link k, worker k on side 1. */
static inline void
star(struct cluster *c, const struct gcdl_profile *p, const struct gcdl_node_conf *agg_extra,
     const struct gcdl_node_conf *w0_extra)
{
	uint32_t links[MAX_LINKS];
	int sides[MAX_LINKS];

	cluster_open(c, p, p->workers);
	for (uint32_t k = 0; k < p->workers; k++) {
		links[k] = k;
		sides[k] = 0;
	}
	node_on(c, GCDL_NODE_AGGREGATOR, 0, links, sides, (uint16_t)p->workers, agg_extra);
	for (uint32_t k = 0; k < p->workers; k++) {
		int side = 1;

		node_on(c, GCDL_NODE_WORKER, k, &k, &side, 1, k == 0 ? w0_extra : NULL);
	}
}

static inline void
cluster_close(struct cluster *c)
{
	for (uint32_t i = 0; i < c->nnodes; i++)
		gcdl_node_free(c->node[i]);
	for (uint32_t l = 0; l < c->nlinks; l++) {
		for (int i = 0; i < 2; i++) {
			rte_eth_dev_stop((uint16_t)c->port[l][i]);
			rte_eth_dev_close((uint16_t)c->port[l][i]);
		}
		for (int i = 0; i < 2; i++) {
			void *m;

			while (rte_ring_dequeue(c->ring[l][i], &m) == 0)
				rte_pktmbuf_free(m);
			rte_ring_free(c->ring[l][i]);
		}
	}
	rte_mempool_free(c->pool);
	gcdl_job_close(&c->job);
}

/* Put a frame on the receive ring of (link, side), as a host on that link
 * would send it. */
static inline void
inject_bytes(struct cluster *c, uint32_t link, int side, const uint8_t *frame, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(c->pool);

	ck_assert_ptr_nonnull(m);
	ck_assert_uint_le(len, rte_pktmbuf_tailroom(m));
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), frame, len);
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	ck_assert_int_eq(rte_ring_enqueue(c->ring[link][side], m), 0);
}

static inline int
run(struct cluster *c)
{
	return gcdl_node_run(c->node, c->nnodes, NULL);
}

static inline uint64_t
ctr(const struct gcdl_node *n, enum gcdl_counter k)
{
	return gcdl_counter_get(gcdl_node_counters(n), k);
}

static inline void
assert_model(const struct gcdl_node *n, const float *ref, uint32_t dim, const char *what)
{
	uint32_t d, first, count;
	const float *w = gcdl_node_model(n, &d, &first, &count);

	ck_assert_uint_eq(d, dim);
	ck_assert_msg(memcmp(w + first, ref + first, sizeof(float) * count) == 0,
		      "%s: coordinates %u..%u differ", what, first, first + count - 1);
}

#endif /* GCDL_TESTS_NODE_CLUSTER_H */
