/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fault injection on a node's transmit path ([faults], gcdl/faults.h): the
 * pure plan (which frames to drop, duplicate, corrupt, and their order)
 * applied to the mbufs a node holds for its round, and the send time of a
 * slow worker. Counted in the node's counters.
 */
#include <errno.h>
#include <string.h>

#include "node_internal.h"

int
node_faults_apply(struct gcdl_node *n, uint32_t round, struct rte_mbuf **held, uint16_t *held_port,
		  uint32_t *nheld, struct gcdl_fault_send *plan, struct rte_mbuf **scratch,
		  uint16_t *scratch_port)
{
	struct gcdl_fault_counts c = { 0 };
	uint32_t cnt = *nheld, out = 0, dups = 0, corrupted = 0;
	int m;

	if (!n->faults.active || cnt == 0)
		return 0;
	m = gcdl_faults_plan(&n->faults, round, n->self, cnt, plan, &c);
	if (m < 0)
		return m;
	/* duplicates copy the frame before any bit of it is flipped */
	for (int i = 0; i < m; i++) {
		const struct gcdl_fault_send *s = &plan[i];
		struct rte_mbuf *src = held[s->index], *mb;

		scratch_port[i] = held_port[s->index];
		if (s->copy == 0) {
			scratch[i] = src;
			continue;
		}
		mb = node_alloc(n);
		if (mb == NULL) {
			scratch[i] = NULL; /* no room: this duplicate is not sent */
			continue;
		}
		rte_memcpy(rte_pktmbuf_mtod(mb, void *), rte_pktmbuf_mtod(src, void *),
			   src->data_len);
		mb->data_len = src->data_len;
		mb->pkt_len = src->pkt_len;
		scratch[i] = mb;
		dups++;
	}
	/* frames the plan dropped: no copy 0 refers to them (held_port has been
	 * copied to scratch_port: its high bit marks the frames kept) */
	for (int i = 0; i < m; i++)
		if (plan[i].copy == 0)
			held_port[plan[i].index] |= 0x8000;
	for (uint32_t k = 0; k < cnt; k++)
		if (!(held_port[k] & 0x8000))
			rte_pktmbuf_free(held[k]);
	for (int i = 0; i < m; i++) {
		struct rte_mbuf *mb = scratch[i];

		if (mb == NULL)
			continue;
		if (plan[i].corrupt &&
		    gcdl_faults_flip(rte_pktmbuf_mtod(mb, uint8_t *), mb->data_len, plan[i].flip) >= 0)
			corrupted++;
		held[out] = mb;
		held_port[out] = scratch_port[i];
		out++;
	}
	*nheld = out;
	node_count(n, GCDL_CTR_FAULT_DROPPED, c.dropped);
	node_count(n, GCDL_CTR_FAULT_DUPLICATED, dups);
	node_count(n, GCDL_CTR_FAULT_CORRUPTED, corrupted);
	node_count(n, GCDL_CTR_FAULT_REORDERED, c.reordered);
	return 0;
}

int
node_faults_slow(const struct gcdl_node *n)
{
	return gcdl_faults_hold_us(&n->faults, n->self, 1.0) > 0;
}

uint64_t
node_faults_due(struct gcdl_node *n, uint64_t start, uint64_t ready, uint64_t due, uint32_t frames)
{
	uint64_t elapsed = ready > start ? ready - start : 0;
	double hold = gcdl_faults_hold_us(&n->faults, n->self, node_tsc_us(n, elapsed));
	uint64_t t;

	if (hold <= 0)
		return due;
	t = ready + node_us_tsc(n, hold);
	node_count(n, GCDL_CTR_FAULT_DELAYED, frames);
	return t > due ? t : due;
}
