/* SPDX-License-Identifier: BSD-3-Clause */
/* Packet pools and port pairs: two ethdev ports made with rte_eth_from_rings()
 * whose TX ring is the other's RX ring, one queue each. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>

#include "dp_internal.h"

#define POOL_CACHE 256

struct rte_mempool *
gcdl_dp_pool_create(const char *name, unsigned socket, uint32_t mbufs, uint16_t data_room)
{
	uint32_t cache = POOL_CACHE;

	/* the cache may hold at most 1.5 * cache <= n mbufs */
	if (cache > mbufs / 2)
		cache = mbufs / 2;
	if (cache > RTE_MEMPOOL_CACHE_MAX_SIZE)
		cache = RTE_MEMPOOL_CACHE_MAX_SIZE;
	return rte_pktmbuf_pool_create(name, mbufs, cache, 0, data_room, (int)socket);
}

static int
port_start(uint16_t port, uint32_t ring_size, unsigned socket, struct rte_mempool *pool)
{
	/* net_ring ignores the descriptor counts: the rings set the depth */
	uint16_t desc = ring_size > 32768 ? 32768 : (uint16_t)ring_size;
	struct rte_eth_conf conf;
	int rc;

	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(port, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(port, 0, desc, socket, NULL, pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(port, 0, desc, socket, NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(port);
	return rc;
}

int
gcdl_dp_pair_create(struct dp_pair *pp, uint32_t index, const char *prefix, unsigned wsocket,
		    unsigned asocket, uint32_t ring_size, struct rte_mempool *wpool,
		    struct rte_mempool *apool, char *err, size_t errlen)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	int rc;

	memset(pp, 0, sizeof(*pp));
	pp->wport = -1;
	pp->aport = -1;
	pp->wsocket = wsocket;
	pp->asocket = asocket;
	snprintf(pp->name, sizeof(pp->name), "%s%u", prefix, index);
	/* each ring lives with its consumer; one producer, one consumer */
	snprintf(name, RTE_RING_NAMESIZE, "%.16s_up", pp->name);
	pp->to_agg = rte_ring_create(name, ring_size, (int)asocket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, RTE_RING_NAMESIZE, "%.16s_dn", pp->name);
	pp->to_worker = rte_ring_create(name, ring_size, (int)wsocket,
					RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (pp->to_agg == NULL || pp->to_worker == NULL) {
		snprintf(err, errlen, "port pair %s: cannot create its rings of %u slots: %s",
			 pp->name, ring_size, rte_strerror(rte_errno));
		return -(rte_errno ? rte_errno : ENOMEM);
	}
	snprintf(name, sizeof(name), "%s_w", pp->name);
	pp->wport = rte_eth_from_rings(name, &pp->to_worker, 1, &pp->to_agg, 1, wsocket);
	snprintf(name, sizeof(name), "%s_a", pp->name);
	pp->aport = rte_eth_from_rings(name, &pp->to_agg, 1, &pp->to_worker, 1, asocket);
	if (pp->wport < 0 || pp->aport < 0 || !rte_eth_dev_is_valid_port((uint16_t)pp->wport) ||
	    !rte_eth_dev_is_valid_port((uint16_t)pp->aport)) {
		snprintf(err, errlen, "port pair %s: net_ring port did not probe: %s", pp->name,
			 rte_strerror(rte_errno));
		return -ENODEV;
	}
	rc = port_start((uint16_t)pp->wport, ring_size, wsocket, wpool);
	if (rc == 0)
		pp->wstarted = 1;
	if (rc == 0)
		rc = port_start((uint16_t)pp->aport, ring_size, asocket, apool);
	if (rc == 0)
		pp->astarted = 1;
	if (rc != 0) {
		snprintf(err, errlen, "port pair %s: cannot configure and start ports %d/%d: %s",
			 pp->name, pp->wport, pp->aport, rte_strerror(-rc));
		return rc;
	}
	rte_eth_macaddr_get((uint16_t)pp->wport, &pp->wmac);
	rte_eth_macaddr_get((uint16_t)pp->aport, &pp->amac);
	return 0;
}

static void
drain_ring(struct rte_ring *r)
{
	void *objs[64];
	unsigned int n;

	while ((n = rte_ring_dequeue_burst(r, objs, RTE_DIM(objs), NULL)) > 0)
		rte_pktmbuf_free_bulk((struct rte_mbuf **)objs, n);
}

void
gcdl_dp_pair_destroy(struct dp_pair *pp)
{
	if (pp == NULL)
		return;
	if (pp->wport >= 0) {
		if (pp->wstarted)
			rte_eth_dev_stop((uint16_t)pp->wport);
		rte_eth_dev_close((uint16_t)pp->wport);
	}
	if (pp->aport >= 0) {
		if (pp->astarted)
			rte_eth_dev_stop((uint16_t)pp->aport);
		rte_eth_dev_close((uint16_t)pp->aport);
	}
	/* ports made from existing rings leave them to us */
	if (pp->to_agg != NULL) {
		drain_ring(pp->to_agg);
		rte_ring_free(pp->to_agg);
	}
	if (pp->to_worker != NULL) {
		drain_ring(pp->to_worker);
		rte_ring_free(pp->to_worker);
	}
	memset(pp, 0, sizeof(*pp));
	pp->wport = -1;
	pp->aport = -1;
}
