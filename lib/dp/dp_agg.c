/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The aggregator lcore loop: poll every A_k port (and the garbage port) in
 * bursts, validate every frame against the engine's limits, drop and count
 * by reason, ignore duplicates, ingest valid frames of the open round and
 * count frames of closed rounds as late. The round closes when every
 * expected frame has arrived or its deadline (TSC) passes; the loop then
 * stops ingesting and hands the round to the control thread. Downlink
 * images (the update's frames, encoded by the control thread) are copied
 * into mbufs per port, addressed and sent in bursts.
 */
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "dp_internal.h"

static void
post(struct dp_agg *a, struct dp_msg *m, int droppable)
{
	if (droppable) {
		if (rte_ring_enqueue_elem(a->dp->ctl_in, m, sizeof(*m)) != 0)
			DP_STAT_ADD(&a->st, msg_lost, 1);
		return;
	}
	gcdl_dp_msg_send(a->dp, a->dp->ctl_in, m);
}

/* how: 0 every frame arrived, 1 deadline, 2 stop request. A round closed by
 * its deadline accepted nothing seen at or after it: it closed at the
 * deadline (tsc), whenever this lcore got to notice (tsc2). How much of the
 * time past the deadline the lcore was not running (the OS or the hypervisor
 * ran something else) is reported, the larger of two lower bounds:
 * - if the previous poll-loop iteration found nothing to do, it paused until
 *   prev_wake at the latest (never past a deadline); the time after that
 *   until this iteration began;
 * - the wall time since the last iteration that began before the deadline
 *   (pre_tsc) less this thread's CPU time since then, less the time from
 *   pre_tsc to the deadline (off-CPU time that may lie before it); only
 *   if the lcore has not chosen to sleep or yield since (it does not within
 *   DP_DEADLINE_SPIN_US of a deadline). */
static void
close_round(struct dp_agg *a, uint64_t now, int how)
{
	struct dp_msg m = { .type = DP_MSG_CLOSED, .round = a->round, .arg = how, .tsc = now,
			    .tsc2 = now };

	if (how == 1 && now > a->deadline_tsc) {
		uint64_t from = a->prev_wake > a->deadline_tsc ? a->prev_wake : a->deadline_tsc;

		m.tsc = a->deadline_tsc;
		if (!a->prev_work && a->top > from)
			m.us = dp_tsc_us(a->dp, a->top - from);
		if (a->pre_tsc != 0) {
			double off = dp_tsc_us(a->dp, now - a->pre_tsc) -
				     (double)(dp_thread_ns() - a->pre_cpu) / 1e3 -
				     dp_tsc_us(a->dp, a->deadline_tsc - a->pre_tsc);
			double lag = dp_tsc_us(a->dp, now - a->deadline_tsc);

			if (off > lag)
				off = lag;
			if (off > m.us)
				m.us = off;
		}
	}

	a->open = 0;
	post(a, &m, 0);
}

/* Count a chunk of worker k in round r; report the worker's arrival when it is complete. */
static void
track_arrival(struct dp_agg *a, uint32_t r, uint32_t k, uint64_t now, int late)
{
	uint32_t s = r & 1;

	if (!a->arr_valid[s] || a->arr_round[s] != r)
		return;
	if (++a->arr[s][k] == a->dp->chunks) {
		struct dp_msg m = { .type = DP_MSG_ARRIVAL, .round = r, .worker = k, .arg = late,
				    .us = dp_tsc_us(a->dp, now - a->arr_start[s]) };

		post(a, &m, 1);
	}
}

static void
frame_in(struct dp_agg *a, const uint8_t *data, uint32_t len, uint64_t now)
{
	struct gcdl_frame_hdr hdr;
	struct dp_wstats *ws;
	const uint8_t *pl;
	int rc;

	rc = gcdl_frame_decode(data, len, &a->lim, &hdr, &pl);
	/* with a job key nothing of a frame is used before its tag is checked */
	if (rc == 0 && a->dp->auth != NULL)
		rc = gcdl_auth_verify(a->dp->auth, data, len);
	if (rc > 0) {
		DP_STAT_ADD(&a->st, drops[rc], 1);
		return;
	}
	if (rc < 0) {
		DP_STAT_ADD(&a->st, rejected, 1);
		return;
	}
	/* the header is valid: hdr.sender < n */
	ws = &a->wst[hdr.sender];
	if (hdr.round + 1ULL > ws->last_round)
		__atomic_store_n(&ws->last_round, hdr.round + 1ULL, __ATOMIC_RELAXED);
	if (hdr.round < a->round || !a->open) {
		DP_STAT_ADD(&a->st, late, 1);
		DP_STAT_ADD(ws, late, 1);
		track_arrival(a, hdr.round, hdr.sender, now, 1);
		return;
	}
	rc = gcdl_engine_ingest(a->dp->e, &hdr, pl);
	if (rc == -EALREADY) {
		DP_STAT_ADD(&a->st, duplicates, 1);
		DP_STAT_ADD(ws, duplicates, 1);
		return;
	}
	if (rc != 0) {
		DP_STAT_ADD(&a->st, rejected, 1);
		DP_STAT_ADD(ws, rejected, 1);
		return;
	}
	DP_STAT_ADD(&a->st, accepted, 1);
	DP_STAT_ADD(&a->st, ingest_coords, hdr.coord_count);
	DP_STAT_ADD(ws, accepted, 1);
	track_arrival(a, hdr.round, hdr.sender, now, 0);
	if (++a->got == a->expected)
		close_round(a, rte_rdtsc(), 0);
}

/* Poll every RX port once. @return frames received. */
static uint32_t
rx_all(struct dp_agg *a)
{
	struct rte_mbuf *pkts[DP_MAX_BURST];
	struct gcdl_pcap *pc = a->dp->opts.pcap;
	uint64_t t0 = 0; /* read when a poll first brings frames: idle polls make no system call */
	uint32_t total = 0;

	for (uint32_t p = 0; p < a->nrx; p++) {
		uint16_t nb = rte_eth_rx_burst(a->rxport[p], 0, pkts, (uint16_t)a->dp->burst);
		uint64_t now, bytes = 0;

		if (nb == 0)
			continue;
		if (t0 == 0)
			t0 = dp_thread_ns();
		now = rte_rdtsc();
		/* frames seen after the deadline are late, even if the loop was
		 * descheduled and only now gets to them */
		if (a->open && now >= a->deadline_tsc)
			close_round(a, now, 1);
		if (unlikely(pc != NULL)) {
			for (uint16_t i = 0; i < nb; i++)
				gcdl_dp_pcap_write(pc, now, NULL,
						   rte_pktmbuf_mtod(pkts[i], const uint8_t *),
						   rte_pktmbuf_data_len(pkts[i]));
		}
		for (uint16_t i = 0; i < nb; i++) {
			uint32_t len = rte_pktmbuf_data_len(pkts[i]);

			if (i + 1 < nb)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
			bytes += len;
			frame_in(a, rte_pktmbuf_mtod(pkts[i], const uint8_t *), len, now);
		}
		DP_STAT_ADD(&a->st, rx_frames, nb);
		DP_STAT_ADD(&a->st, rx_bytes, bytes);
		rte_pktmbuf_free_bulk(pkts, nb);
		total += nb;
	}
	/* empty polls are idle time, not ingest */
	if (t0 != 0)
		DP_STAT_ADD(&a->st, ingest_ns, dp_thread_ns() - t0);
	return total;
}

static void
push_image(struct dp_agg *a, struct dp_image *img)
{
	uint32_t s = (uint32_t)(a->tail_seq % DP_IMAGES);

	a->fifo[s] = img;
	a->remaining[s] = a->dp->n;
	a->tail_seq++;
}

/* Send the next burst of downlink frames on each port. @return frames sent. */
static uint32_t
tx_downlink(struct dp_agg *a)
{
	struct gcdl_dp *dp = a->dp;
	struct rte_mbuf *m[DP_MAX_BURST];
	struct gcdl_pcap *pc = dp->opts.pcap;
	uint32_t total = 0;

	for (uint32_t k = 0; k < dp->n; k++) {
		const struct dp_pair *pp = &dp->pairs[k];
		struct dp_image *img;
		uint32_t s, cnt, first;
		uint64_t bytes = 0;
		uint16_t sent;

		if (a->port_seq[k] == a->tail_seq)
			continue;
		s = (uint32_t)(a->port_seq[k] % DP_IMAGES);
		img = a->fifo[s];
		first = a->port_frame[k];
		cnt = RTE_MIN(img->frames - first, dp->burst);
		if (rte_pktmbuf_alloc_bulk(a->pool, m, cnt) != 0) {
			DP_STAT_ADD(&a->st, alloc_fail, 1);
			continue;
		}
		for (uint32_t i = 0; i < cnt; i++) {
			uint8_t *f = rte_pktmbuf_mtod(m[i], uint8_t *);
			uint16_t len = img->len[first + i];

			rte_memcpy(f, img->data + (size_t)(first + i) * img->stride, len);
			memcpy(f, pp->wmac.addr_bytes, 6);
			memcpy(f + 6, pp->amac.addr_bytes, 6);
			m[i]->data_len = len;
			m[i]->pkt_len = len;
		}
		sent = rte_eth_tx_burst((uint16_t)pp->aport, 0, m, (uint16_t)cnt);
		if (sent < cnt) {
			/* the port's ring is full: the rest goes in a later pass */
			DP_STAT_ADD(&a->st, tx_full, 1);
			rte_pktmbuf_free_bulk(m + sent, cnt - sent);
		}
		for (uint16_t i = 0; i < sent; i++)
			bytes += img->len[first + i];
		if (unlikely(pc != NULL)) {
			/* the image with this port's MACs, as the mbufs were sent */
			uint8_t mac[12];
			uint64_t now = rte_rdtsc();

			memcpy(mac, pp->wmac.addr_bytes, 6);
			memcpy(mac + 6, pp->amac.addr_bytes, 6);
			for (uint16_t i = 0; i < sent; i++)
				gcdl_dp_pcap_write(pc, now, mac,
						   img->data + (size_t)(first + i) * img->stride,
						   img->len[first + i]);
		}
		DP_STAT_ADD(&a->st, tx_frames, sent);
		DP_STAT_ADD(&a->st, tx_bytes, bytes);
		total += sent;
		a->port_frame[k] += sent;
		if (a->port_frame[k] < img->frames)
			continue;
		a->port_frame[k] = 0;
		a->port_seq[k]++;
		if (--a->remaining[s] == 0) {
			/* every port sends images in order: the oldest completes first */
			struct dp_msg done = { .type = DP_MSG_IMAGE_DONE, .round = img->round,
					       .ptr = img };

			a->head_seq++;
			post(a, &done, 0);
		}
	}
	return total;
}

static int
rx_control(struct dp_agg *a)
{
	struct dp_msg m;
	int n = 0;

	while (rte_ring_dequeue_elem(a->in, &m, sizeof(m)) == 0) {
		n++;
		switch (m.type) {
		case DP_MSG_OPEN: {
			uint32_t s = m.round & 1;

			a->round = m.round;
			a->start_tsc = m.tsc;
			a->deadline_tsc = m.tsc2;
			a->pre_tsc = 0;
			a->got = 0;
			a->expected = (uint64_t)a->dp->n * a->dp->chunks;
			a->lim.round_max = m.round;
			memset(a->arr[s], 0, sizeof(uint32_t) * a->dp->n);
			a->arr_round[s] = m.round;
			a->arr_start[s] = m.tsc;
			a->arr_valid[s] = 1;
			a->open = 1;
			if (m.ptr != NULL)
				push_image(a, m.ptr);
			if (!a->started) {
				struct dp_msg st = { .type = DP_MSG_STARTED, .round = m.round };

				a->started = 1;
				post(a, &st, 0);
			}
			break;
		}
		case DP_MSG_DOWNLINK:
			push_image(a, m.ptr);
			break;
		case DP_MSG_CLOSE_NOW:
			if (a->open && a->round == m.round)
				close_round(a, rte_rdtsc(), 2);
			break;
		case DP_MSG_STOP:
			a->stopping = 1;
			break;
		default:
			break;
		}
	}
	return n;
}

int
gcdl_dp_agg_main(void *arg)
{
	struct dp_agg *a = arg;
	struct gcdl_dp *dp = a->dp;
	struct dp_idle idle = { 0 };

	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	a->spin_tsc = (uint64_t)DP_DEADLINE_SPIN_US * dp->hz / 1000000;
	while (!dp_quit(dp)) {
		uint32_t work = 0;
		uint64_t max_us = DP_IDLE_SLEEP_US;
		int spin = 0;

		a->top = rte_rdtsc();
		if (a->open && a->top < a->deadline_tsc && a->deadline_tsc - a->top < a->spin_tsc) {
			a->pre_tsc = a->top;
			a->pre_cpu = dp_thread_ns();
		}
		work += (uint32_t)rx_control(a);
		work += rx_all(a);
		if (a->open) {
			uint64_t now = rte_rdtsc();

			if (now >= a->deadline_tsc) {
				close_round(a, now, 1);
			} else {
				max_us = (uint64_t)dp_tsc_us(dp, a->deadline_tsc - now);
				spin = max_us < DP_DEADLINE_SPIN_US;
			}
		}
		work += tx_downlink(a);
		if (a->stopping && a->head_seq == a->tail_seq) {
			/* count whatever is still queued, then leave */
			while (rx_all(a) > 0)
				;
			break;
		}
		a->prev_work = work != 0;
		if (work) {
			dp_idle_reset(&idle);
		} else if (spin) {
			a->prev_wake = rte_rdtsc();
			rte_pause(); /* see DP_DEADLINE_SPIN_US */
		} else {
			uint64_t us = max_us < DP_IDLE_SLEEP_US ? max_us : DP_IDLE_SLEEP_US;

			a->prev_wake = rte_rdtsc() + us * dp->hz / 1000000;
			a->pre_tsc = 0; /* off-CPU by choice: not "not running" */
			dp_idle_wait(&idle, max_us);
		}
	}
	__atomic_fetch_add(&dp->exited, 1, __ATOMIC_RELEASE);
	return 0;
}

int
gcdl_dp_agg_init(struct gcdl_dp *dp, struct dp_agg *a, char *err, size_t errlen)
{
	int sock = (int)a->socket;

	a->dp = dp;
	a->pool = dp->pool[a->socket];
	a->nrx = dp->npairs;
	a->rxport = rte_zmalloc_socket("gcdl_agg_rx", sizeof(uint16_t) * a->nrx, 0, sock);
	a->arr[0] = rte_zmalloc_socket("gcdl_agg_arr", sizeof(uint32_t) * dp->n, 0, sock);
	a->arr[1] = rte_zmalloc_socket("gcdl_agg_arr", sizeof(uint32_t) * dp->n, 0, sock);
	a->port_seq = rte_zmalloc_socket("gcdl_agg_seq", sizeof(uint64_t) * dp->n, 0, sock);
	a->port_frame = rte_zmalloc_socket("gcdl_agg_frame", sizeof(uint32_t) * dp->n, 0, sock);
	a->wst = rte_zmalloc_socket("gcdl_agg_wst", sizeof(*a->wst) * dp->n, RTE_CACHE_LINE_SIZE,
				    sock);
	if (a->rxport == NULL || a->arr[0] == NULL || a->arr[1] == NULL || a->port_seq == NULL ||
	    a->port_frame == NULL || a->wst == NULL) {
		snprintf(err, errlen, "aggregator lcore %u: no memory on socket %u", a->lcore,
			 a->socket);
		return -ENOMEM;
	}
	for (uint32_t p = 0; p < a->nrx; p++)
		a->rxport[p] = (uint16_t)dp->pairs[p].aport;
	gcdl_engine_frame_limits(dp->e, 0, 0, &a->lim);
	return 0;
}

void
gcdl_dp_agg_fini(struct dp_agg *a)
{
	if (a == NULL)
		return;
	rte_free(a->rxport);
	rte_free(a->arr[0]);
	rte_free(a->arr[1]);
	rte_free(a->port_seq);
	rte_free(a->port_frame);
	rte_free(a->wst);
}
