/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker lcore loop. Each worker lcore runs several logical workers k,
 * each with its own replica w and its own port W_k. Per logical worker:
 *
 *   round t: v_k = gradient(w_t); each chunk encoded straight into an mbuf
 *            behind a prebuilt header, sealed (CRC), held until its send time
 *            (now, or round start + simulated compute time for the timing
 *            straggler model), then sent in bursts; a Bernoulli straggler
 *            sends nothing;
 *   then:    the update frames of round t are validated and assembled; when
 *            all are in, w_{t+1} = w_t - u_t and round t+1 begins.
 *
 * Held frames go out at the latest when the round's update is complete (the
 * round is over, they are late anyway), so a slow worker never falls more
 * than one round behind.
 */
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "gcdl/rng.h"

#include "dp_internal.h"

/* gcdl header fields patched per frame (offsets in the whole frame) */
#define OFF_ROUND (GCDL_ETH_HDR_LEN + 8)
#define OFF_CHUNK (GCDL_ETH_HDR_LEN + 16)
#define OFF_FIRST (GCDL_ETH_HDR_LEN + 20)
#define OFF_COUNT (GCDL_ETH_HDR_LEN + 24)
#define OFF_PAYLOAD_LEN (GCDL_ETH_HDR_LEN + 30)

static inline void
put_be32(uint8_t *p, uint32_t v)
{
	rte_be32_t be = rte_cpu_to_be_32(v);

	memcpy(p, &be, sizeof(be));
}

static inline void
put_be16(uint8_t *p, uint16_t v)
{
	rte_be16_t be = rte_cpu_to_be_16(v);

	memcpy(p, &be, sizeof(be));
}

static void
fail(struct dp_wlcore *wl, const struct dp_lworker *w, int rc)
{
	struct dp_msg m = { .type = DP_MSG_ERROR, .round = w->round, .worker = w->id, .arg = rc };

	gcdl_dp_msg_send(wl->dp, wl->dp->ctl_in, &m);
	dp_set_quit(wl->dp);
}

/* The start TSC of a round, if the control thread announced it. */
static int
start_of(const struct dp_wlcore *wl, uint32_t round, uint64_t *tsc)
{
	uint32_t s = round % DP_START_SLOTS;

	if (!wl->start_valid[s] || wl->start_round[s] != round)
		return 0;
	*tsc = wl->start_tsc[s];
	return 1;
}

static void
resolve_due(struct dp_wlcore *wl, struct dp_lworker *w)
{
	const struct gcdl_dp *dp = wl->dp;
	uint64_t start;
	double us;

	if (w->due_known)
		return;
	if (dp->sm.kind != GCDL_STRAGGLER_TIMING && !gcdl_dp_faults_slow(dp, w->id)) {
		w->due = 0;
		w->due_known = 1;
		return;
	}
	if (!start_of(wl, w->round, &start))
		return;
	w->due = 0;
	if (dp->sm.kind == GCDL_STRAGGLER_TIMING) {
		us = gcdl_straggler_compute_us(&dp->sm, dp->prof.seed, w->round, w->id) *
		     dp->prof.time_scale;
		w->due = start + (uint64_t)(us * (double)dp->hz / 1e6);
	}
	w->due = gcdl_dp_faults_due(wl, w, start, w->due);
	w->due_known = 1;
}

/* Give back the first n held mbufs of a round that failed to build. */
static void
free_held(struct dp_lworker *w, uint32_t n)
{
	if (n > 0)
		rte_pktmbuf_free_bulk(w->held, n);
}

/* Compute v_k and encode every chunk into a held mbuf. */
static int
build_frames(struct dp_wlcore *wl, struct dp_lworker *w)
{
	struct gcdl_dp *dp = wl->dp;
	uint64_t t0, coords = 0;
	uint32_t nbulk = 0;
	int rc;

	/* synthetic: wl->v holds a fixed pseudo-gradient (no model compute) */
	if (!dp->prof.synthetic_gradient) {
		rc = gcdl_engine_worker_gradient(dp->e, wl->ctx, w->id, w->round, w->w, wl->v);
		if (rc != 0)
			return rc;
	}
	t0 = dp_thread_ns();
	/* the round's mbufs in bursts of bulk allocations where the pool has them */
	for (uint32_t c = 0; c < dp->chunks; c++) {
		struct rte_mbuf *m;
		uint32_t count = 0;
		size_t flen;
		uint8_t *f;
		int len;

		if (c == nbulk) {
			uint32_t want = RTE_MIN(dp->chunks - c, (uint32_t)DP_MAX_BURST);

			if (rte_pktmbuf_alloc_bulk(wl->pool, w->held + c, want) == 0)
				nbulk = c + want;
		}
		m = c < nbulk ? w->held[c] : rte_pktmbuf_alloc(wl->pool);
		if (m == NULL) {
			/* mbufs come back as the aggregator frees what it received;
			 * a pool that stays empty is a sizing error, not a wait */
			uint64_t give_up = rte_rdtsc() + dp->hz * DP_ALLOC_WAIT_S;

			while ((m = rte_pktmbuf_alloc(wl->pool)) == NULL) {
				DP_STAT_ADD(&wl->st, alloc_fail, 1);
				if (dp_quit(dp) || rte_rdtsc() > give_up) {
					free_held(w, c);
					return dp_quit(dp) ? -ECANCELED : -ENOBUFS;
				}
				rte_delay_us_sleep(DP_IDLE_SLEEP_US);
			}
		}
		f = rte_pktmbuf_mtod(m, uint8_t *);
		len = gcdl_engine_encode_chunk(dp->e, w->id, w->round, c, wl->v,
					       f + GCDL_FRAME_OVERHEAD,
					       rte_pktmbuf_tailroom(m) - GCDL_FRAME_OVERHEAD, &count);
		if (len < 0) {
			rte_pktmbuf_free(m);
			free_held(w, c);
			if (nbulk > c + 1)
				rte_pktmbuf_free_bulk(w->held + c + 1, nbulk - c - 1);
			return len;
		}
		coords += count;
		memcpy(f, w->tmpl, GCDL_FRAME_OVERHEAD);
		put_be32(f + OFF_ROUND, w->round);
		put_be32(f + OFF_CHUNK, c);
		put_be32(f + OFF_FIRST, c * dp->chunk_coords);
		put_be32(f + OFF_COUNT, count);
		put_be16(f + OFF_PAYLOAD_LEN, (uint16_t)len);
		flen = GCDL_FRAME_OVERHEAD + (size_t)len;
		if (dp->auth != NULL) {
			/* CRC, then the tag after the payload */
			flen = (size_t)gcdl_auth_seal(dp->auth, f, rte_pktmbuf_tailroom(m));
		} else {
			if (flen < GCDL_ETH_MIN_FRAME) {
				memset(f + flen, 0, GCDL_ETH_MIN_FRAME - flen);
				flen = GCDL_ETH_MIN_FRAME;
			}
			gcdl_frame_seal(f, flen);
		}
		m->data_len = (uint16_t)flen;
		m->pkt_len = (uint32_t)flen;
		w->held[c] = m;
		w->held_len[c] = (uint16_t)flen;
	}
	w->nheld = dp->chunks;
	w->next = 0;
	w->ready_tsc = rte_rdtsc();
	DP_STAT_ADD(&wl->st, encode_ns, dp_thread_ns() - t0);
	DP_STAT_ADD(&wl->st, encode_coords, coords);
	return gcdl_dp_faults_apply(wl, w);
}

/* Start w->round: send nothing (straggler), or encode and hold the frames. */
static int
begin_round(struct dp_wlcore *wl, struct dp_lworker *w)
{
	struct gcdl_dp *dp = wl->dp;
	int rc;

	if (w->round >= dp->prof.rounds) {
		w->state = DP_W_DONE;
		return 0;
	}
	w->lim.round_min = w->round;
	w->lim.round_max = w->round;
	w->due_known = 0;
	if (dp->sm.kind == GCDL_STRAGGLER_BERNOULLI &&
	    gcdl_straggler_is(&dp->sm, dp->prof.seed, w->round, w->id, dp->prof.deadline_us)) {
		DP_STAT_ADD(&wl->st, skipped, 1);
		w->state = DP_W_WAIT;
		return 0;
	}
	rc = build_frames(wl, w);
	if (rc != 0)
		return rc;
	w->state = DP_W_HOLD;
	resolve_due(wl, w);
	return 0;
}

/* Send held frames whose time has come (all of them, waiting, when forced). */
static int
try_send(struct dp_wlcore *wl, struct dp_lworker *w, int force)
{
	int did = 0;

	if (w->state != DP_W_HOLD)
		return 0;
	if (!force) {
		resolve_due(wl, w);
		if (!w->due_known || rte_rdtsc() < w->due)
			return 0;
	}
	while (w->next < w->nheld) {
		/* a burst is too short to be descheduled in: the TSC, no system call */
		uint64_t t0 = rte_rdtsc();
		uint16_t n = rte_eth_tx_burst(w->port, 0, w->held + w->next,
					      (uint16_t)RTE_MIN(w->nheld - w->next,
								wl->dp->burst));
		uint64_t bytes = 0;

		if (n > 0)
			DP_STAT_ADD(&wl->st, tx_ns,
				    (uint64_t)(dp_tsc_us(wl->dp, rte_rdtsc() - t0) * 1e3));
		for (uint16_t i = 0; i < n; i++)
			bytes += w->held_len[w->next + i];
		DP_STAT_ADD(&wl->st, tx_frames, n);
		DP_STAT_ADD(&wl->st, tx_bytes, bytes);
		w->next += n;
		did |= n > 0;
		if (w->next < w->nheld) {
			DP_STAT_ADD(&wl->st, tx_full, 1);
			if (!force)
				return did;
			if (dp_quit(wl->dp))
				return did;
			rte_pause();
		}
	}
	w->nheld = 0;
	w->next = 0;
	w->state = DP_W_WAIT;
	return 1;
}

/* The update of w->round is complete: apply it and begin the next round. */
static int
complete_update(struct dp_wlcore *wl, struct dp_lworker *w)
{
	struct gcdl_dp *dp = wl->dp;

	if (w->state == DP_W_HOLD) {
		try_send(wl, w, 1);
		if (w->state == DP_W_HOLD)
			return -ECANCELED; /* quitting */
	}
	gcdl_engine_apply_update(w->w, w->u, dp->dim);
	DP_STAT_ADD(&wl->st, applied, 1);
	memset(w->got, 0, dp->dl_chunks);
	w->got_n = 0;
	w->round++;
	return begin_round(wl, w);
}

/* Receive update frames on W_k. @return frames seen, or a negative error. */
static int
rx_updates(struct dp_wlcore *wl, struct dp_lworker *w)
{
	struct gcdl_dp *dp = wl->dp;
	struct rte_mbuf *pkts[DP_MAX_BURST];
	uint16_t nb = rte_eth_rx_burst(w->port, 0, pkts, (uint16_t)dp->burst);
	uint64_t bytes = 0;
	int rc = 0;

	for (uint16_t i = 0; i < nb; i++) {
		const uint8_t *data = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
		uint32_t len = rte_pktmbuf_data_len(pkts[i]);
		struct gcdl_frame_hdr hdr;
		const uint8_t *pl;
		int r;

		bytes += len;
		if (rc != 0)
			continue;
		r = gcdl_frame_decode(data, len, &w->lim, &hdr, &pl);
		if (r == 0 && dp->auth != NULL)
			r = gcdl_auth_verify(dp->auth, data, len);
		if (r == 0 && hdr.sender != dp->n)
			r = GCDL_DROP_SENDER; /* updates come from the aggregator only */
		if (r == 0 && w->state == DP_W_DONE)
			r = GCDL_DROP_ROUND;
		if (r > 0) {
			DP_STAT_ADD(&wl->st, drops[r], 1);
			continue;
		}
		if (w->got[hdr.chunk]) {
			DP_STAT_ADD(&wl->st, duplicates, 1);
			continue;
		}
		gcdl_frame_get_floats(w->u + hdr.first_coord, pl, hdr.coord_count);
		w->got[hdr.chunk] = 1;
		if (++w->got_n == dp->dl_chunks)
			rc = complete_update(wl, w);
	}
	DP_STAT_ADD(&wl->st, rx_frames, nb);
	DP_STAT_ADD(&wl->st, rx_bytes, bytes);
	if (nb > 0)
		rte_pktmbuf_free_bulk(pkts, nb);
	return rc != 0 ? rc : nb;
}

/* Control messages: round start times. @return messages read. */
static int
rx_control(struct dp_wlcore *wl, int *start0)
{
	struct dp_msg m;
	int n = 0;

	while (rte_ring_dequeue_elem(wl->in, &m, sizeof(m)) == 0) {
		uint32_t s = m.round % DP_START_SLOTS;

		n++;
		if (m.type != DP_MSG_ROUND)
			continue;
		wl->start_tsc[s] = m.tsc;
		wl->start_round[s] = m.round;
		wl->start_valid[s] = 1;
		if (m.round == wl->dp->first_round)
			*start0 = 1;
	}
	return n;
}

int
gcdl_dp_worker_main(void *arg)
{
	struct dp_wlcore *wl = arg;
	struct gcdl_dp *dp = wl->dp;
	struct dp_idle idle = { 0 };
	int started = 0;

	/* sleep precisely when idle */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	while (!dp_quit(dp)) {
		int work = 0, start0 = 0, all_done = 1;

		work += rx_control(wl, &start0);
		if (start0 && !started) {
			started = 1;
			for (uint32_t i = 0; i < wl->nworkers; i++) {
				int rc = begin_round(wl, &wl->w[i]);

				if (rc != 0) {
					if (rc != -ECANCELED)
						fail(wl, &wl->w[i], rc);
					break;
				}
				/* do not let one worker's compute delay another's send */
				try_send(wl, &wl->w[i], 0);
			}
			work = 1;
		}
		for (uint32_t i = 0; started && i < wl->nworkers; i++) {
			struct dp_lworker *w = &wl->w[i];
			int rc = rx_updates(wl, w);

			if (rc < 0) {
				if (rc != -ECANCELED)
					fail(wl, w, rc);
				break;
			}
			work += rc;
			work += try_send(wl, w, 0);
			if (w->state != DP_W_DONE)
				all_done = 0;
		}
		if (started && all_done) {
			struct dp_msg m = { .type = DP_MSG_LCORE_DONE, .worker = wl->index };

			gcdl_dp_msg_send(dp, dp->ctl_in, &m);
			break; /* nothing is left to send or receive */
		}
		if (work) {
			dp_idle_reset(&idle);
		} else {
			uint64_t max_us = DP_IDLE_SLEEP_US;

			/* do not sleep past a held frame's send time */
			for (uint32_t i = 0; i < wl->nworkers; i++) {
				struct dp_lworker *w = &wl->w[i];
				uint64_t now = rte_rdtsc();

				if (w->state == DP_W_HOLD && w->due_known) {
					uint64_t left = w->due > now ? w->due - now : 0;
					uint64_t us = (uint64_t)dp_tsc_us(dp, left);

					if (us < max_us)
						max_us = us;
				}
			}
			dp_idle_wait(&idle, max_us);
		}
	}
	__atomic_fetch_add(&dp->exited, 1, __ATOMIC_RELEASE);
	return 0;
}

static void
lworker_fini(struct dp_lworker *w)
{
	if (w->held != NULL) {
		for (uint32_t i = w->next; i < w->nheld; i++)
			rte_pktmbuf_free(w->held[i]);
	}
	rte_free(w->held);
	rte_free(w->held_len);
	rte_free(w->w);
	rte_free(w->u);
	rte_free(w->got);
}

int
gcdl_dp_wlcore_init(struct gcdl_dp *dp, struct dp_wlcore *wl, char *err, size_t errlen)
{
	const float *w0 = gcdl_engine_model(dp->e);
	int sock = (int)wl->socket;
	uint32_t k;

	wl->dp = dp;
	wl->pool = dp->pool[wl->socket];
	/* logical workers index, index + nwl, ... */
	wl->nworkers = 0;
	for (k = wl->index; k < dp->n; k += dp->nwl)
		wl->nworkers++;
	wl->w = rte_zmalloc_socket("gcdl_lworkers", sizeof(*wl->w) * RTE_MAX(wl->nworkers, 1u),
				   RTE_CACHE_LINE_SIZE, sock);
	wl->v = rte_malloc_socket("gcdl_grad", sizeof(float) * dp->dim, RTE_CACHE_LINE_SIZE, sock);
	if (wl->w == NULL || wl->v == NULL || gcdl_dp_faults_wlcore_init(wl) != 0)
		goto nomem;
	if (dp->prof.synthetic_gradient) {
		/* small seeded values: the update keeps the replicas finite */
		struct gcdl_rng r;

		gcdl_rng_init(&r, dp->prof.seed, GCDL_RNG_INIT, 0x5947u, wl->index);
		for (uint32_t j = 0; j < dp->dim; j++)
			wl->v[j] = (float)(1e-3 * gcdl_rng_normal(&r));
	}
	for (uint32_t i = 0; i < wl->nworkers; i++) {
		struct dp_lworker *w = &wl->w[i];
		const struct dp_pair *pp;
		struct gcdl_frame_hdr h;
		uint8_t frame[GCDL_ETH_MIN_FRAME];

		w->id = wl->index + i * dp->nwl;
		w->round = dp->first_round;
		pp = &dp->pairs[w->id];
		w->port = (uint16_t)pp->wport;
		/* the replica starts from the same seeded model as the aggregator's */
		w->w = rte_malloc_socket("gcdl_replica", sizeof(float) * dp->dim,
					 RTE_CACHE_LINE_SIZE, sock);
		w->u = rte_zmalloc_socket("gcdl_update", sizeof(float) * dp->dim,
					  RTE_CACHE_LINE_SIZE, sock);
		w->got = rte_zmalloc_socket("gcdl_got", dp->dl_chunks, 0, sock);
		w->held = rte_zmalloc_socket("gcdl_held", sizeof(*w->held) * 2 * dp->chunks, 0,
					     sock);
		w->held_len = rte_zmalloc_socket("gcdl_held_len",
						 sizeof(uint16_t) * 2 * dp->chunks, 0, sock);
		if (w->w == NULL || w->u == NULL || w->got == NULL || w->held == NULL ||
		    w->held_len == NULL)
			goto nomem;
		memcpy(w->w, w0, sizeof(float) * dp->dim);
		w->lim.job_id = dp->prof.job_id;
		w->lim.senders = dp->n + 1;
		w->lim.dim = dp->dim;
		w->lim.chunk_coords[GCDL_MSG_UPDATE] = dp->dl_coords;
		memset(&h, 0, sizeof(h));
		memcpy(h.src, pp->wmac.addr_bytes, 6);
		memcpy(h.dst, pp->amac.addr_bytes, 6);
		h.type = (uint8_t)gcdl_engine_msg_type(dp->e);
		h.job_id = dp->prof.job_id;
		h.sender = (uint16_t)w->id;
		h.scale_block = h.type == GCDL_MSG_ONEBIT ? (uint16_t)dp->prof.scale_block : 0;
		if (gcdl_frame_encode(&h, NULL, frame, sizeof(frame)) < 0) {
			snprintf(err, errlen, "worker %u: cannot build its frame header", w->id);
			return -EINVAL;
		}
		memcpy(w->tmpl, frame, GCDL_FRAME_OVERHEAD);
	}
	return 0;
nomem:
	snprintf(err, errlen, "worker lcore %u: no memory for %u replicas of %u floats on "
		 "socket %u (raise -m)", wl->lcore, wl->nworkers, dp->dim, wl->socket);
	return -ENOMEM;
}

void
gcdl_dp_wlcore_fini(struct dp_wlcore *wl)
{
	if (wl == NULL)
		return;
	if (wl->w != NULL)
		for (uint32_t i = 0; i < wl->nworkers; i++)
			lworker_fini(&wl->w[i]);
	rte_free(wl->w);
	rte_free(wl->v);
	gcdl_dp_faults_wlcore_fini(wl);
}
