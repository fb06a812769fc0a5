/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fault injection on a worker's transmit path ([faults], gcdl/faults.h):
 * the pure plan (which frames to drop, duplicate, corrupt, and the order)
 * applied to the mbufs a logical worker holds for its round, and the send
 * time of a slow worker. Counted per worker lcore.
 */
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>

#include "dp_internal.h"

int
gcdl_dp_faults_wlcore_init(struct dp_wlcore *wl)
{
	const struct gcdl_dp *dp = wl->dp;
	int sock = (int)wl->socket;

	if (!dp->faults.active)
		return 0;
	wl->plan = rte_malloc_socket("gcdl_fault_plan", sizeof(*wl->plan) * 2 * dp->chunks, 0,
				     sock);
	wl->scratch = rte_malloc_socket("gcdl_fault_mbufs", sizeof(*wl->scratch) * 2 * dp->chunks,
					0, sock);
	return wl->plan != NULL && wl->scratch != NULL ? 0 : -ENOMEM;
}

void
gcdl_dp_faults_wlcore_fini(struct dp_wlcore *wl)
{
	rte_free(wl->plan);
	rte_free(wl->scratch);
	wl->plan = NULL;
	wl->scratch = NULL;
}

int
gcdl_dp_faults_apply(struct dp_wlcore *wl, struct dp_lworker *w)
{
	const struct gcdl_faults *f = &wl->dp->faults;
	struct gcdl_fault_counts c = { 0 };
	uint32_t n = w->nheld, out = 0, dups = 0, corrupted = 0;
	int m;

	if (wl->plan == NULL || n == 0)
		return 0;
	m = gcdl_faults_plan(f, w->round, w->id, n, wl->plan, &c);
	if (m < 0)
		return m;
	/* duplicates copy the frame before any bit of it is flipped */
	for (int i = 0; i < m; i++) {
		const struct gcdl_fault_send *s = &wl->plan[i];
		struct rte_mbuf *src = w->held[s->index], *mb;

		if (s->copy == 0) {
			wl->scratch[i] = src;
			continue;
		}
		mb = rte_pktmbuf_alloc(wl->pool);
		if (mb == NULL) {
			DP_STAT_ADD(&wl->st, alloc_fail, 1);
			wl->scratch[i] = NULL; /* no room: this duplicate is not sent */
			continue;
		}
		rte_memcpy(rte_pktmbuf_mtod(mb, void *), rte_pktmbuf_mtod(src, void *),
			   src->data_len);
		mb->data_len = src->data_len;
		mb->pkt_len = src->pkt_len;
		wl->scratch[i] = mb;
		dups++;
	}
	/* frames the plan dropped: no copy 0 refers to them */
	for (uint32_t k = 0; k < n; k++)
		w->held_len[k] = 0;
	for (int i = 0; i < m; i++)
		if (wl->plan[i].copy == 0)
			w->held_len[wl->plan[i].index] = 1;
	for (uint32_t k = 0; k < n; k++)
		if (w->held_len[k] == 0)
			rte_pktmbuf_free(w->held[k]);
	for (int i = 0; i < m; i++) {
		struct rte_mbuf *mb = wl->scratch[i];

		if (mb == NULL)
			continue;
		if (wl->plan[i].corrupt &&
		    gcdl_faults_flip(rte_pktmbuf_mtod(mb, uint8_t *), mb->data_len,
				     wl->plan[i].flip) >= 0)
			corrupted++;
		w->held[out] = mb;
		w->held_len[out] = mb->data_len;
		out++;
	}
	w->nheld = out;
	w->next = 0;
	DP_STAT_ADD(&wl->st, fault_dropped, c.dropped);
	DP_STAT_ADD(&wl->st, fault_duplicated, dups);
	DP_STAT_ADD(&wl->st, fault_corrupted, corrupted);
	DP_STAT_ADD(&wl->st, fault_reordered, c.reordered);
	return 0;
}

int
gcdl_dp_faults_slow(const struct gcdl_dp *dp, uint32_t worker)
{
	return gcdl_faults_hold_us(&dp->faults, worker, 1.0) > 0;
}

uint64_t
gcdl_dp_faults_due(struct dp_wlcore *wl, struct dp_lworker *w, uint64_t start, uint64_t due)
{
	const struct gcdl_dp *dp = wl->dp;
	uint64_t elapsed = w->ready_tsc > start ? w->ready_tsc - start : 0;
	double hold = gcdl_faults_hold_us(&dp->faults, w->id, dp_tsc_us(dp, elapsed));
	uint64_t t;

	if (hold <= 0)
		return due;
	t = w->ready_tsc + (uint64_t)(hold * (double)dp->hz / 1e6);
	DP_STAT_ADD(&wl->st, fault_delayed, w->nheld);
	return t > due ? t : due;
}
