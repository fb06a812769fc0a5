/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control thread and the round state machine (a DPDK control thread,
 * not an lcore):
 *
 *   open t:   arm the deadline on the TSC (fixed, or adaptive from recent
 *             arrival times), OPEN(t) to the aggregator lcore with the
 *             previous round's downlink image, ROUND(t) to the worker lcores;
 *   closed t: the aggregator lcore stopped ingesting t and sent CLOSED(t):
 *             gcdl_engine_close_round() (decode + optimizer step = update u),
 *             evaluate when due, write the metrics row, encode u as UPDATE
 *             frames (a downlink image), then begin and open t+1 (the image
 *             goes down with OPEN), or send the image alone after the last
 *             round.
 *
 * The engine's round state belongs to the aggregator lcore between OPEN and
 * CLOSED and to this thread otherwise; a downlink image belongs to the
 * aggregator lcore between OPEN/DOWNLINK and IMAGE_DONE.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "gcdl/metrics.h"

#include "dp_internal.h"

int
gcdl_dp_msg_send(struct gcdl_dp *dp, struct rte_ring *r, const struct dp_msg *m)
{
	struct dp_msg copy = *m;

	while (rte_ring_enqueue_elem(r, &copy, sizeof(copy)) != 0) {
		if (dp_quit(dp))
			return -ECANCELED;
		rte_pause();
	}
	return 0;
}

static int
stop_requested(const struct gcdl_dp *dp)
{
	return dp->opts.stop != NULL && __atomic_load_n(dp->opts.stop, __ATOMIC_RELAXED);
}

static int
handle(struct gcdl_dp *dp, const struct dp_msg *m)
{
	switch (m->type) {
	case DP_MSG_ARRIVAL:
		gcdl_deadline_observe(&dp->dl, m->us);
		DP_LOG(control, DEBUG, "worker %u: round %u complete after %.1f us%s", m->worker,
		       m->round, m->us, m->arg ? " (late)" : "");
		break;
	case DP_MSG_IMAGE_DONE:
		dp->image_free[(struct dp_image *)m->ptr - dp->images] = 1;
		break;
	case DP_MSG_LCORE_DONE:
		dp->lcores_done++;
		break;
	case DP_MSG_STARTED:
		dp->agg_started = 1;
		break;
	case DP_MSG_CLOSED:
		dp->closed = *m;
		dp->closed_ready = 1;
		break;
	case DP_MSG_ERROR:
		snprintf(dp->fail, sizeof(dp->fail), "worker %u, round %u: %s%s", m->worker,
			 m->round, strerror(-m->arg),
			 m->arg == -ENOBUFS ? " (mempool exhausted: raise dataplane.mbufs)"
			 : m->arg == -EDOM ? " (non-finite gradient: the model diverged, "
					     "lower optim.lr)" : "");
		return m->arg < 0 ? m->arg : -EIO;
	default:
		break;
	}
	return 0;
}

/* Read the inbox once; back off when it was empty. */
static int
pump(struct gcdl_dp *dp, struct dp_idle *idle)
{
	int quit = dp_quit(dp), n = 0, rc;
	struct dp_msg m;

	while (rte_ring_dequeue_elem(dp->ctl_in, &m, sizeof(m)) == 0) {
		n++;
		rc = handle(dp, &m);
		if (rc != 0)
			return rc;
	}
	if (quit)
		return -ECANCELED;
	if (n > 0)
		dp_idle_reset(idle);
	else
		dp_idle_wait(idle, DP_IDLE_SLEEP_US);
	return 0;
}

static struct dp_image *
free_image(struct gcdl_dp *dp, int *rc)
{
	struct dp_idle idle = { 0 };

	for (;;) {
		for (int i = 0; i < DP_IMAGES; i++) {
			if (dp->image_free[i]) {
				dp->image_free[i] = 0;
				return &dp->images[i];
			}
		}
		*rc = pump(dp, &idle);
		if (*rc != 0)
			return NULL;
	}
}

/* Encode update u of round t as UPDATE frames from the aggregator (sender N). */
static void
encode_image(struct gcdl_dp *dp, struct dp_image *img, uint32_t round, const float *u)
{
	uint8_t payload[GCDL_MTU_MAX];
	struct gcdl_frame_hdr h;

	memset(&h, 0, sizeof(h));
	h.type = GCDL_MSG_UPDATE;
	h.job_id = dp->prof.job_id;
	h.round = round;
	h.sender = (uint16_t)dp->n;
	img->round = round;
	for (uint32_t c = 0; c < dp->dl_chunks; c++) {
		uint32_t first = c * dp->dl_coords;
		uint32_t cnt = RTE_MIN(dp->dl_coords, dp->dim - first);
		ssize_t len;

		h.chunk = c;
		h.first_coord = first;
		h.coord_count = cnt;
		h.payload_len = (uint16_t)(4 * cnt);
		gcdl_frame_put_floats(payload, u + first, cnt);
		/* addresses are filled in per port by the aggregator lcore */
		len = gcdl_frame_encode(&h, payload, img->data + (size_t)c * img->stride,
					img->stride);
		if (dp->auth != NULL)
			len = gcdl_auth_seal(dp->auth, img->data + (size_t)c * img->stride,
					     img->stride);
		img->len[c] = (uint16_t)len;
	}
}

int
dp_inject_frames(struct gcdl_dp *dp, uint32_t round, uint32_t count, dp_frame_builder build,
		 uint64_t *bytes)
{
	const struct dp_pair *g = &dp->pairs[dp->n];
	struct rte_mempool *pool = dp->pool[dp->agg->socket];
	uint32_t left = count, index = 0;

	*bytes = 0;
	while (left > 0) {
		struct rte_mbuf *m[64];
		uint32_t cnt = RTE_MIN(left, (uint32_t)RTE_DIM(m)), sent = 0;

		if (rte_pktmbuf_alloc_bulk(pool, m, cnt) != 0) {
			DP_STAT_ADD(&dp->ctl_st, alloc_fail, 1);
			if (dp_quit(dp))
				return -ECANCELED;
			rte_pause();
			continue;
		}
		for (uint32_t i = 0; i < cnt; i++) {
			uint64_t seq = (uint64_t)round * count + index + i;
			size_t len = build(dp, round, seq, rte_pktmbuf_mtod(m[i], uint8_t *),
					   rte_pktmbuf_tailroom(m[i]));

			m[i]->data_len = (uint16_t)len;
			m[i]->pkt_len = (uint32_t)len;
			*bytes += len;
		}
		while (sent < cnt) {
			sent += rte_eth_tx_burst((uint16_t)g->wport, 0, m + sent,
						 (uint16_t)(cnt - sent));
			if (sent < cnt) {
				if (dp_quit(dp)) {
					rte_pktmbuf_free_bulk(m + sent, cnt - sent);
					return -ECANCELED;
				}
				rte_pause();
			}
		}
		left -= cnt;
		index += cnt;
	}
	return 0;
}

static size_t
garbage_frame(struct gcdl_dp *dp, uint32_t round, uint64_t seq, uint8_t *buf, size_t room)
{
	return gcdl_dp_garbage_frame(dp->e, &dp->prof, round, seq, buf, room);
}

/* Inject the self-test's malformed frames for round t on the garbage port. */
static int
inject_garbage(struct gcdl_dp *dp, uint32_t round)
{
	uint64_t bytes;
	int rc = dp_inject_frames(dp, round, dp->opts.inject_garbage, garbage_frame, &bytes);

	if (rc == 0) {
		DP_STAT_ADD(&dp->ctl_st, tx_frames, dp->opts.inject_garbage);
		DP_STAT_ADD(&dp->ctl_st, tx_bytes, bytes);
	}
	return rc;
}

/* Open round t: deadline on the TSC, OPEN to the aggregator, ROUND to the workers. */
static int
open_round(struct gcdl_dp *dp, uint32_t round, struct dp_image *prev, uint64_t *start,
	   uint64_t *deadline)
{
	struct dp_msg m = { .type = DP_MSG_OPEN, .round = round, .ptr = prev };
	double dl_us = gcdl_deadline_current(&dp->dl);
	int rc;

	dp->res.last_deadline_us = dl_us;
	__atomic_store(&dp->tel.deadline_us, &dl_us, __ATOMIC_RELAXED);
	__atomic_store_n(&dp->tel.round, round + 1, __ATOMIC_RELAXED);
	*start = rte_rdtsc();
	*deadline = *start + (uint64_t)(dl_us * (double)dp->hz / 1e6);
	m.tsc = *start;
	m.tsc2 = *deadline;
	rc = gcdl_dp_msg_send(dp, dp->agg_in, &m);
	if (rc != 0)
		return rc;
	if (round == dp->first_round) {
		struct dp_idle idle = { 0 };

		/* frames of the first round must not reach the aggregator before it opened it */
		while (!dp->agg_started) {
			rc = pump(dp, &idle);
			if (rc != 0)
				return rc;
		}
	}
	for (uint32_t i = 0; i < dp->nwl; i++) {
		struct dp_msg r = { .type = DP_MSG_ROUND, .round = round, .tsc = *start };

		rc = gcdl_dp_msg_send(dp, dp->wl[i]->in, &r);
		if (rc != 0)
			return rc;
	}
	if (dp->opts.inject_garbage > 0) {
		rc = inject_garbage(dp, round);
		if (rc != 0)
			return rc;
	}
	if (dp->opts.inject_hostile > 0)
		return gcdl_dp_inject_hostile(dp, round);
	return 0;
}

/* One progress report over the last dt seconds (frames accepted and uplink
 * bytes on the wire in that time). On a terminal (tty) it rewrites a single
 * line with \r and ends it with a newline after the last round; otherwise it
 * is a plain line of its own. */
static void
progress(struct gcdl_dp *dp, int tty, uint32_t done, double loss, double acc,
	 uint32_t stragglers, double dt, uint64_t frames, uint64_t wire_bytes)
{
	double rps = dp->res.wall_s > 0 ? dp->res.rounds / dp->res.wall_s : 0.0;
	double eta = rps > 0 ? (dp->prof.rounds - done) / rps : 0.0;
	char la[64] = "loss - acc -";
	int last = done == dp->prof.rounds || dp->res.stopped;

	if (!isnan(loss))
		snprintf(la, sizeof(la), "loss %.4f acc %.4f", loss, acc);
	/* trailing blanks on a terminal wipe the rest of a longer previous line */
	fprintf(dp->opts.progress, "%sround %u/%u %s %.1f rounds/s %.0f frames/s %.6f Gbit/s "
		"stragglers %u late %" PRIu64 " ETA %.0f s%s",
		tty ? "\r" : "", done, dp->prof.rounds, la, rps, dt > 0 ? frames / dt : 0.0,
		dt > 0 ? 8.0 * wire_bytes / dt / 1e9 : 0.0, stragglers,
		DP_STAT_GET(&dp->agg->st, late), eta,
		!tty || last ? "\n" : "    ");
	fflush(dp->opts.progress);
}

/* The engine's state after `rounds` completed rounds, to checkpoint.path. */
static int
write_checkpoint(struct gcdl_dp *dp, uint32_t rounds)
{
	struct gcdl_checkpoint ck;
	char why[384];
	int rc;

	gcdl_checkpoint_describe(&ck, &dp->prof, dp->e, rounds);
	ck.up_wire_bytes = dp->res.up_wire_bytes;
	ck.up_payload_bytes = dp->res.up_payload_bytes;
	ck.stragglers = dp->res.stragglers;
	rc = gcdl_checkpoint_save(dp->prof.checkpoint_path, &ck, why, sizeof(why));
	if (rc != 0) {
		snprintf(dp->fail, sizeof(dp->fail), "checkpoint after round %u: %.200s", rounds,
			 why);
		return rc;
	}
	dp->res.checkpoints++;
	DP_LOG(control, DEBUG, "checkpoint after round %u written to %s", rounds,
	       dp->prof.checkpoint_path);
	return 0;
}

static int
run_rounds(struct gcdl_dp *dp)
{
	const struct gcdl_profile *p = &dp->prof;
	struct gcdl_dp_result *res = &dp->res;
	struct gcdl_engine *e = dp->e;
	uint64_t start, deadline, t0, last_report, frames_at_report = 0, wire_at_report = 0;
	int tty = dp->opts.progress != NULL && isatty(fileno(dp->opts.progress));
	struct dp_idle done_idle = { 0 };
	uint32_t rounds_at_report = dp->first_round;
	double loss = NAN, acc = NAN;
	uint32_t t = dp->first_round;
	int rc;

	res->rounds_planned = p->rounds;
	res->first_round = dp->first_round;
	gcdl_engine_begin_round(e, t);
	rc = open_round(dp, t, NULL, &start, &deadline);
	if (rc != 0)
		return rc;
	t0 = last_report = start;
	for (;;) {
		struct gcdl_metrics_row row = { 0 };
		struct gcdl_round_info info;
		struct dp_idle idle = { 0 };
		struct dp_image *img;
		int close_sent = 0, last, eval;
		double round_us, round_dl_us;

		while (!dp->closed_ready) {
			rc = pump(dp, &idle);
			if (rc != 0)
				return rc;
			if (!close_sent && stop_requested(dp)) {
				struct dp_msg m = { .type = DP_MSG_CLOSE_NOW, .round = t };

				rc = gcdl_dp_msg_send(dp, dp->agg_in, &m);
				if (rc != 0)
					return rc;
				close_sent = 1;
			}
		}
		dp->closed_ready = 0;
		/* the round's length as the metrics report it: until the aggregator
		 * lcore actually closed it (tsc2), not until the deadline it honoured */
		round_us = dp_tsc_us(dp, dp->closed.tsc2 - start);
		round_dl_us = dp_tsc_us(dp, deadline - start);
		if (dp->closed.arg == 1) {
			double over = dp->closed.tsc2 > deadline
					      ? dp_tsc_us(dp, dp->closed.tsc2 - deadline) : 0.0;
			double running = over - dp->closed.us;

			res->closed_deadline++;
			if (over > res->max_overshoot_us)
				res->max_overshoot_us = over;
			if (running > res->max_overshoot_running_us)
				res->max_overshoot_running_us = running;
			if (over > GCDL_DP_CLOSE_SLACK_US) {
				res->closed_late++;
				if (running <= GCDL_DP_CLOSE_SLACK_US)
					res->closed_late_not_running++;
			}
		} else if (dp->closed.arg == 0) {
			res->closed_complete++;
		}
		if (round_us > res->max_round_us)
			res->max_round_us = round_us;
		res->wall_s = dp_tsc_us(dp, dp->closed.tsc - t0) / 1e6;

		{
			uint64_t c0 = dp_thread_ns();

			gcdl_engine_close_round(e, dp->update, &info);
			res->decode_ns += dp_thread_ns() - c0;
			res->decode_coords += (uint64_t)dp->dim * info.contributors;
		}
		res->up_payload_bytes += info.payload_bytes;
		res->up_wire_bytes += info.wire_bytes;
		res->stragglers += info.stragglers;
		res->rounds = t + 1;
		__atomic_store_n(&dp->tel.stragglers, info.stragglers, __ATOMIC_RELAXED);
		__atomic_store_n(&dp->tel.rounds_done, t + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&dp->tel.stragglers_total, res->stragglers, __ATOMIC_RELAXED);
		__atomic_store_n(&dp->tel.payload_bytes, res->up_payload_bytes, __ATOMIC_RELAXED);
		__atomic_store_n(&dp->tel.wire_bytes, res->up_wire_bytes, __ATOMIC_RELAXED);
		__atomic_store_n(&dp->tel.closed_complete, res->closed_complete, __ATOMIC_RELAXED);
		__atomic_store_n(&dp->tel.closed_deadline, res->closed_deadline, __ATOMIC_RELAXED);
		res->stopped = stop_requested(dp);
		last = t + 1 == p->rounds || res->stopped;

		/* evaluate and report before the update goes down, so evaluation never
		 * competes with the next round's workers for the cores */
		eval = gcdl_job_eval_due(p, t) || last;
		if (eval) {
			rc = gcdl_engine_eval(e, gcdl_engine_model(e), &dp->job.train, &loss, NULL);
			if (rc == 0)
				rc = gcdl_engine_eval(e, gcdl_engine_model(e), &dp->job.test, NULL,
						      &acc);
			if (rc != 0) {
				snprintf(dp->fail, sizeof(dp->fail), "evaluation after round %u: %s",
					 t + 1, strerror(-rc));
				return rc;
			}
			res->train_loss = loss;
			res->test_accuracy = acc;
			__atomic_store(&dp->tel.train_loss, &loss, __ATOMIC_RELAXED);
			__atomic_store(&dp->tel.test_accuracy, &acc, __ATOMIC_RELAXED);
			__atomic_store_n(&dp->tel.evaluated, 1, __ATOMIC_RELAXED);
		}
		row.round = t + 1;
		row.method = gcdl_method_name(p->method);
		row.evaluated = eval;
		row.train_loss = loss;
		row.test_accuracy = acc;
		row.uplink_bits = 8 * res->up_wire_bytes;
		row.stragglers = info.stragglers;
		row.wall_ms = round_us / 1e3;
		if (dp->opts.metrics != NULL && gcdl_metrics_write(dp->opts.metrics, &row) != 0) {
			snprintf(dp->fail, sizeof(dp->fail), "metrics: write failed after round %u",
				 t + 1);
			return -EIO;
		}
		if (dp->opts.progress != NULL) {
			uint64_t now = rte_rdtsc();
			double dt = dp_tsc_us(dp, now - last_report) / 1e6;
			uint64_t frames = DP_STAT_GET(&dp->agg->st, accepted);

			double every = tty ? dp->opts.progress_s / 5 : dp->opts.progress_s;

			if (last || dt >= every ||
			    (t + 1 - rounds_at_report >= 10 && dt >= every / 4)) {
				progress(dp, tty, t + 1, loss, acc, info.stragglers, dt,
					 frames - frames_at_report,
					 res->up_wire_bytes - wire_at_report);
				last_report = now;
				frames_at_report = frames;
				wire_at_report = res->up_wire_bytes;
				rounds_at_report = t + 1;
			}
		}
		if (p->checkpoint_every > 0 && (t + 1) % p->checkpoint_every == 0 && !last) {
			rc = write_checkpoint(dp, t + 1);
			if (rc != 0)
				return rc;
		}
		img = free_image(dp, &rc);
		if (img == NULL)
			return rc;
		encode_image(dp, img, t, dp->update);
		if (!last) {
			gcdl_engine_begin_round(e, t + 1);
			rc = open_round(dp, t + 1, img, &start, &deadline);
		} else {
			struct dp_msg m = { .type = DP_MSG_DOWNLINK, .round = t, .ptr = img };

			rc = gcdl_dp_msg_send(dp, dp->agg_in, &m);
		}
		if (rc != 0)
			return rc;
		DP_LOG(control, DEBUG, "round %u closed %s after %.1f us (deadline %.1f us): %u "
		       "stragglers, %" PRIu64 " frames, %" PRIu64 " duplicates", t,
		       dp->closed.arg == 0 ? "complete" : dp->closed.arg == 1 ? "by deadline" :
		       "on request", round_us,
		       round_dl_us, info.stragglers, info.frames,
		       info.duplicates);
		if (last)
			break;
		t++;
	}
	if (res->stopped)
		return 0;
	/* every worker applies the last update; every image comes back */
	for (;;) {
		int all = dp->lcores_done == dp->nwl;

		for (int i = 0; i < DP_IMAGES; i++)
			all &= dp->image_free[i];
		if (all)
			break;
		rc = pump(dp, &done_idle);
		if (rc != 0)
			return rc;
	}
	return 0;
}

void *
gcdl_dp_control_main(void *arg)
{
	struct gcdl_dp *dp = arg;
	struct dp_msg stop = { .type = DP_MSG_STOP };
	int rc;

	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	rc = run_rounds(dp);
	dp->run_rc = rc;
	/* end an updating progress line the failure cut short */
	if (rc != 0 && dp->opts.progress != NULL && dp->res.rounds > 0 &&
	    isatty(fileno(dp->opts.progress)))
		fputc('\n', dp->opts.progress);
	if (rc != 0 && dp->fail[0] == '\0')
		snprintf(dp->fail, sizeof(dp->fail), "control thread: %s", strerror(-rc));
	if (rc != 0)
		DP_LOG(control, ERR, "%s", dp->fail);
	if (rc != 0 || dp->res.stopped)
		dp_set_quit(dp);
	else
		gcdl_dp_msg_send(dp, dp->agg_in, &stop);
	return NULL;
}

int
gcdl_dp_control_init(struct gcdl_dp *dp, char *err, size_t errlen)
{
	int sock = (int)dp->agg->socket;

	dp->update = rte_malloc_socket("gcdl_update", sizeof(float) * dp->dim,
				       RTE_CACHE_LINE_SIZE, sock);
	if (dp->update == NULL)
		goto nomem;
	for (int i = 0; i < DP_IMAGES; i++) {
		struct dp_image *img = &dp->images[i];

		img->frames = dp->dl_chunks;
		img->stride = (uint32_t)RTE_ALIGN_CEIL(dp->frame_cap, RTE_CACHE_LINE_SIZE);
		img->len = rte_zmalloc_socket("gcdl_image_len", sizeof(uint16_t) * img->frames, 0,
					      sock);
		img->data = rte_zmalloc_socket("gcdl_image", (size_t)img->stride * img->frames,
					       RTE_CACHE_LINE_SIZE, sock);
		if (img->len == NULL || img->data == NULL)
			goto nomem;
		dp->image_free[i] = 1;
	}
	gcdl_deadline_init(&dp->dl, &dp->prof);
	return 0;
nomem:
	snprintf(err, errlen, "control: no memory for the update and its %u downlink images "
		 "on socket %d (raise -m)", DP_IMAGES, sock);
	return -ENOMEM;
}

void
gcdl_dp_control_fini(struct gcdl_dp *dp)
{
	rte_free(dp->update);
	dp->update = NULL;
	for (int i = 0; i < DP_IMAGES; i++) {
		rte_free(dp->images[i].len);
		rte_free(dp->images[i].data);
		dp->images[i].len = NULL;
		dp->images[i].data = NULL;
	}
}
