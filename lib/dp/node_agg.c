/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The aggregator node a, one loop on the main lcore:
 *
 *   before round 0: answer hellos until every worker joined or
 *                   network.join_wait_ms passed;
 *   round t:        ingest the gradient frames of the chunks a owns, from
 *                   joined workers, until every expected frame arrived (the
 *                   expected workers: joined and heard from within
 *                   network.absent_rounds rounds) or the deadline passed;
 *   closing t:      decode + optimizer step (gcdl_engine_close_round), evaluate
 *                   when due (star), write the metrics row, send the update of
 *                   a's coordinate range to every joined worker, open t+1;
 *   any time:       a hello or resync is answered with a config and a's range
 *                   of the model w_t (the model of the round in progress);
 *   after the end:  resyncs are answered for NODE_LINGER_US with the final model.
 *
 * A sharded aggregator updates only its own range of the model correctly: it
 * receives no gradient for the others. Workers evaluate the assembled model.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_log.h>

#include "gcdl/deadline.h"
#include "gcdl/layout.h"
#include "gcdl/metrics.h"

#include "node_internal.h"
#include "dp_internal.h"
#include "../core/seterr.h"

struct agg_round {
	uint32_t t;
	int started;          /* round 0's clock runs */
	int open;
	uint64_t start_us, deadline_us;
	uint64_t got, expected;
	uint32_t *arr;        /* chunks of each worker this round */
	struct gcdl_deadline dl;
	uint64_t t0_us;
	int first_seen;       /* sharded: a frame of this round came, the deadline follows it */
	double loss, acc;     /* last evaluation */
	uint64_t last_report_us, last_frames;
	uint64_t linger_until; /* after the last round: answer resyncs until then */
};

static int finish_round(struct gcdl_node *n, struct agg_round *r, uint64_t now, int how);

int
gcdl_node_agg_init(struct gcdl_node *n, char *err, size_t errlen)
{
	uint32_t end;

	gcdl_shard_chunks(n->chunks, n->k, n->opts.id, &n->chunk_first, &n->chunk_count);
	n->coord_first = n->chunk_first * n->chunk_coords;
	end = (uint32_t)RTE_MIN((uint64_t)(n->chunk_first + n->chunk_count) * n->chunk_coords,
				(uint64_t)n->dim);
	n->coord_count = end - n->coord_first;
	n->jw = calloc(n->n, sizeof(*n->jw));
	n->res.wstat = calloc(n->n, sizeof(*n->res.wstat));
	n->update = calloc(n->dim, sizeof(float));
	if (n->jw == NULL || n->res.wstat == NULL || n->update == NULL) {
		gcdl_seterr(err, errlen, "aggregator: out of memory");
		return -ENOMEM;
	}
	n->res.nworkers = n->n;
	gcdl_engine_frame_limits(n->e, 0, n->prof.rounds - 1, &n->lim);
	n->lim.chunk_coords[GCDL_MSG_HELLO] = 1;
	n->lim.chunk_coords[GCDL_MSG_RESYNC] = 1;
	return 0;
}

/* Send a config (and for an accepted one a's range of the model at round t). */
static void
answer(struct gcdl_node *n, uint16_t pi, const uint8_t dst[6], uint32_t k, uint32_t inc,
       uint32_t status, uint32_t t)
{
	struct gcdl_config c;
	struct gcdl_frame_hdr h;
	const uint32_t *parts = NULL;
	uint32_t nparts = 0;
	int len;

	memset(&c, 0, sizeof(c));
	c.version = GCDL_JOIN_VERSION;
	c.status = status;
	c.profile_hash = n->hash;
	c.worker = k;
	c.incarnation = inc;
	c.round = t;
	c.rounds = n->prof.rounds;
	c.dim = n->dim;
	c.chunks = n->chunks;
	c.chunk_coords = n->chunk_coords;
	c.model_coords = n->mc;
	c.aggregator = n->opts.id;
	c.aggregators = n->k;
	c.chunk_first = n->chunk_first;
	c.chunk_count = n->chunk_count;
	c.coord_first = n->coord_first;
	c.coord_count = n->coord_count;
	if (status == GCDL_JOIN_ACCEPTED &&
	    gcdl_layout_worker_partitions(gcdl_engine_layout(n->e), k, &parts, &nparts) == 0) {
		c.nparts = RTE_MIN(nparts, (uint32_t)GCDL_JOIN_MAX_PARTS);
		memcpy(c.parts, parts, sizeof(uint32_t) * c.nparts);
	}
	len = gcdl_config_encode(&c, n->payload, GCDL_CONFIG_FIXED_LEN + 4 * GCDL_JOIN_MAX_PARTS);
	if (len < 0)
		return;
	gcdl_node_hdr(n, &h, GCDL_MSG_CONFIG, 0);
	h.payload_len = (uint16_t)len;
	gcdl_node_send(n, pi, dst, &h, n->payload);
	if (status == GCDL_JOIN_ACCEPTED)
		gcdl_node_send_range(n, pi, dst, GCDL_MSG_MODEL, t, gcdl_engine_model(n->e),
				     n->coord_first, n->coord_count);
	gcdl_node_flush(n);
}

static void
on_hello(struct gcdl_node *n, struct agg_round *r, uint16_t pi, const struct gcdl_frame_hdr *hdr,
	 const uint8_t *pl)
{
	struct gcdl_hello h;
	struct gcdl_join_worker *w;
	enum gcdl_join_action act;
	uint32_t status, prev_inc;
	int was_joined;
	char mac[18];

	if (gcdl_hello_decode(pl, hdr->payload_len, &h) != 0 || h.worker != hdr->sender) {
		n->res.drops[GCDL_DROP_PAYLOAD]++;
		return;
	}
	w = &n->jw[hdr->sender];
	was_joined = w->joined;
	prev_inc = w->incarnation;
	act = gcdl_join_on_hello(w, &h, n->hash, hdr->src,
				 pi, n->worker_macs ? n->worker_macs[hdr->sender] : NULL, r->t,
				 hdr->type == GCDL_MSG_RESYNC, &status);
	gcdl_mac_format(hdr->src, mac, sizeof(mac));
	switch (act) {
	case GCDL_JOIN_ACT_IGNORE:
		n->res.drops[GCDL_DROP_SENDER]++;
		return;
	case GCDL_JOIN_ACT_REFUSE:
		/* once per incarnation: the worker retries its hello */
		if (w->refused == 1 || h.incarnation != w->incarnation) {
			if (status == GCDL_JOIN_REFUSED_PROFILE)
				DP_LOG(control, WARNING, "refused worker %u (%s): its profile hash "
				       "%016" PRIx64 " differs from this aggregator's %016" PRIx64
				       ": every node must run the same profile (keys outside "
				       "[dataplane])", h.worker, mac, h.profile_hash, n->hash);
			else
				DP_LOG(control, WARNING, "refused worker %u (%s): join protocol version "
				       "%u, this aggregator speaks %u", h.worker, mac, h.version,
				       GCDL_JOIN_VERSION);
			if (!was_joined)
				w->incarnation = h.incarnation;
		}
		answer(n, pi, hdr->src, h.worker, h.incarnation, status, r->t);
		return;
	case GCDL_JOIN_ACT_JOIN:
		n->res.wstat[hdr->sender].accepted_now = 0;
		n->res.wstat[hdr->sender].joined_round = r->t;
		DP_LOG(control, NOTICE, "worker %u (%s) %sjoined at round %u", h.worker, mac,
		       was_joined && prev_inc != h.incarnation ? "re" : "", r->t);
		break;
	case GCDL_JOIN_ACT_RESEND:
		/* sharded: the worker's other ranges are at a later round; close
		 * the rounds in between now (nobody can send for them) */
		if (hdr->type == GCDL_MSG_RESYNC && r->started && h.round != GCDL_JOIN_NONE &&
		    h.round > r->t && h.round <= n->prof.rounds && r->linger_until == 0) {
			DP_LOG(control, INFO, "worker %u: catching up from round %u to %u", h.worker,
			       r->t, h.round);
			while (r->t < h.round && r->linger_until == 0)
				if (finish_round(n, r, node_us(n), 3) != 0)
					return;
			n->res.caught_up++;
		}
		DP_LOG(control, INFO, "worker %u (%s): model resent at round %u", h.worker, mac, r->t);
		break;
	}
	answer(n, pi, hdr->src, h.worker, h.incarnation, GCDL_JOIN_ACCEPTED, r->t);
}

static void
on_gradient(struct gcdl_node *n, struct agg_round *r, const struct gcdl_frame_hdr *hdr,
	    const uint8_t *pl, uint64_t now)
{
	struct gcdl_join_worker *w = &n->jw[hdr->sender];
	struct gcdl_node_wstat *ws = &n->res.wstat[hdr->sender];
	int rc;

	if (!w->joined) {
		n->res.unjoined++;
		return;
	}
	if (memcmp(hdr->src, w->mac, 6) != 0) {
		n->res.drops[GCDL_DROP_SENDER]++;
		return;
	}
	if (hdr->chunk < n->chunk_first || hdr->chunk >= n->chunk_first + n->chunk_count) {
		n->res.drops[GCDL_DROP_CHUNK]++; /* sent to the wrong aggregator */
		return;
	}
	if (hdr->round + 1 > w->last_round) {
		w->last_round = hdr->round + 1;
		ws->last_round = w->last_round;
	}
	if (hdr->round > r->t) {
		n->res.drops[GCDL_DROP_ROUND]++;
		return;
	}
	if (hdr->round < r->t || (r->started && !r->open)) {
		n->res.late++;
		ws->late++;
		return;
	}
	rc = gcdl_engine_ingest(n->e, hdr, pl);
	if (rc == -EALREADY) {
		n->res.duplicates++;
		return;
	}
	if (rc != 0) {
		n->res.rejected++;
		return;
	}
	n->res.accepted++;
	ws->accepted++;
	ws->accepted_now++;
	r->got++;
	/* sharded: every aggregator counts the round from the workers' frames,
	 * which reach all of them at once, so their rounds stay aligned */
	if (n->prof.topology == GCDL_TOPO_SHARDED && r->started && !r->first_seen) {
		r->first_seen = 1;
		r->deadline_us = now + (uint64_t)gcdl_deadline_current(&r->dl);
	}
	if (++r->arr[hdr->sender] == n->chunk_count && r->started)
		gcdl_deadline_observe(&r->dl, (double)(now - r->start_us));
}

/* Receive on every port. @return frames handled. */
static uint32_t
poll_ports(struct gcdl_node *n, struct agg_round *r)
{
	struct rte_mbuf *pkts[NODE_MAX_BURST];
	uint32_t total = 0;

	for (uint16_t pi = 0; pi < n->nports; pi++) {
		uint16_t nb = gcdl_node_rx(n, pi, pkts);
		uint64_t now = nb > 0 ? node_us(n) : 0;

		/* frames seen after the deadline are late */
		if (nb > 0 && r->open && now >= r->deadline_us)
			r->open = 0;
		for (uint16_t i = 0; i < nb; i++) {
			struct gcdl_frame_hdr hdr;
			const uint8_t *pl;
			if (gcdl_node_decode(n, pkts[i], &hdr, &pl) != 0)
				continue;
			if (hdr.type == GCDL_MSG_HELLO || hdr.type == GCDL_MSG_RESYNC)
				on_hello(n, r, pi, &hdr, pl);
			else if (r->t < n->prof.rounds)
				on_gradient(n, r, &hdr, pl, now);
			else
				n->res.late++;
		}
		if (nb > 0)
			rte_pktmbuf_free_bulk(pkts, nb);
		total += nb;
	}
	return total;
}

static void
open_round(struct gcdl_node *n, struct agg_round *r, uint64_t now)
{
	uint32_t expected = 0;

	for (uint32_t k = 0; k < n->n; k++)
		expected += gcdl_join_expected(&n->jw[k], r->t, n->prof.absent_rounds);
	r->expected = (uint64_t)expected * n->chunk_count;
	r->start_us = now;
	r->deadline_us = now + (uint64_t)gcdl_deadline_current(&r->dl);
	r->open = 1;
	r->first_seen = r->got > 0;
	/* frames that came before the round's clock started count */
	if (r->expected > 0 && r->got >= r->expected)
		r->open = 0;
}

static int
close_round(struct gcdl_node *n, struct agg_round *r, uint64_t now, int how, double *loss,
	    double *acc)
{
	const struct gcdl_profile *p = &n->prof;
	struct gcdl_metrics_row row = { 0 };
	struct gcdl_round_info info;
	int eval, last, rc;

	gcdl_engine_close_round(n->e, n->update, &info);
	if (p->checkpoint_every > 0 && (r->t + 1) % p->checkpoint_every == 0 &&
	    r->t + 1 < p->rounds) {
		struct gcdl_checkpoint ck;
		char why[256];

		gcdl_checkpoint_describe(&ck, p, n->e, r->t + 1);
		ck.stragglers = n->res.stragglers + info.stragglers;
		rc = gcdl_checkpoint_save(p->checkpoint_path, &ck, why, sizeof(why));
		if (rc != 0) {
			snprintf(n->fail, sizeof(n->fail), "checkpoint after round %u: %s", r->t + 1,
				 why);
			return rc;
		}
		n->res.checkpoints++;
	}
	if (how == 0)
		n->res.closed_complete++;
	else if (how == 3)
		n->res.closed_catchup++;
	else
		n->res.closed_deadline++;
	n->res.stragglers += info.stragglers;
	n->res.rounds = r->t + 1;
	n->res.wall_s = (double)(now - r->t0_us) / 1e6;
	last = r->t + 1 == p->rounds || n->res.stopped;
	/* a sharded aggregator holds only its range of the model: workers evaluate */
	eval = p->topology == GCDL_TOPO_STAR && (gcdl_job_eval_due(p, r->t) || last);
	if (eval) {
		rc = gcdl_engine_eval(n->e, gcdl_engine_model(n->e), &n->job.train, loss, NULL);
		if (rc == 0)
			rc = gcdl_engine_eval(n->e, gcdl_engine_model(n->e), &n->job.test, NULL, acc);
		if (rc != 0) {
			snprintf(n->fail, sizeof(n->fail), "evaluation after round %u: %s", r->t + 1,
				 strerror(-rc));
			return rc;
		}
		n->res.train_loss = *loss;
		n->res.test_accuracy = *acc;
	}
	row.round = r->t + 1;
	row.method = gcdl_method_name(p->method);
	row.evaluated = eval;
	row.train_loss = *loss;
	row.test_accuracy = *acc;
	row.uplink_bits = 0;
	row.stragglers = info.stragglers;
	row.wall_ms = (double)(now - r->start_us) / 1e3;
	n->res.wire_bytes += info.wire_bytes;
	row.uplink_bits = 8 * n->res.wire_bytes;
	if (n->opts.metrics != NULL) {
		if (gcdl_metrics_write(n->opts.metrics, &row) != 0) {
			snprintf(n->fail, sizeof(n->fail), "metrics: write failed after round %u",
				 r->t + 1);
			return -EIO;
		}
	}
	/* the update of a's range goes to every worker that joined */
	for (uint32_t k = 0; k < n->n; k++) {
		const struct gcdl_join_worker *w = &n->jw[k];

		if (w->joined)
			gcdl_node_send_range(n, w->port, w->mac, GCDL_MSG_UPDATE, r->t, n->update,
					     n->coord_first, n->coord_count);
	}
	gcdl_node_flush(n);
	return 0;
}

static void
progress(struct gcdl_node *n, double loss, double acc, uint64_t *last_us,
	 uint64_t *last_frames, int force)
{
	uint64_t now = node_us(n);
	double dt = (double)(now - *last_us) / 1e6;

	if (n->opts.progress == NULL || (!force && dt < n->opts.progress_s))
		return;
	fprintf(n->opts.progress, "aggregator %u: round %u/%u", n->opts.id, n->res.rounds,
		n->prof.rounds);
	if (!isnan(loss))
		fprintf(n->opts.progress, " loss %.4f acc %.4f", loss, acc);
	fprintf(n->opts.progress, " %.1f rounds/s %.0f frames/s stragglers %" PRIu64 "\n",
		n->res.wall_s > 0 ? n->res.rounds / n->res.wall_s : 0.0,
		dt > 0 ? (double)(n->res.accepted - *last_frames) / dt : 0.0,
		n->res.stragglers);
	fflush(n->opts.progress);
	*last_us = now;
	*last_frames = n->res.accepted;
}

/* Close round t (how: 0 complete, 1 deadline, 2 stop, 3 catch-up), report,
 * and open t+1 or start lingering after the last round. */
static int
finish_round(struct gcdl_node *n, struct agg_round *r, uint64_t now, int how)
{
	int rc = close_round(n, r, now, how, &r->loss, &r->acc);

	if (rc != 0)
		return rc;
	progress(n, r->loss, r->acc, &r->last_report_us, &r->last_frames,
		 r->t + 1 == n->prof.rounds || n->res.stopped);
	r->t++;
	if (r->t == n->prof.rounds || n->res.stopped) {
		r->open = 0;
		r->linger_until = n->res.stopped ? now : now + NODE_LINGER_US;
		return 0;
	}
	gcdl_engine_begin_round(n->e, r->t);
	r->got = 0;
	memset(r->arr, 0, sizeof(uint32_t) * n->n);
	open_round(n, r, node_us(n));
	return 0;
}

int
gcdl_node_agg_run(struct gcdl_node *n)
{
	struct agg_round r;
	struct dp_idle idle = { 0 };
	uint64_t wait_until;
	int rc = 0;

	memset(&r, 0, sizeof(r));
	r.loss = NAN;
	r.acc = NAN;
	r.arr = calloc(n->n, sizeof(uint32_t));
	if (r.arr == NULL)
		return -ENOMEM;
	gcdl_deadline_init(&r.dl, &n->prof);
	/* after --resume the workers rejoin at the checkpoint's round and model */
	r.t = n->first_round;
	gcdl_engine_begin_round(n->e, r.t);
	wait_until = node_us(n) + (uint64_t)n->prof.join_wait_ms * 1000;
	r.last_report_us = node_us(n);
	for (;;) {
		uint32_t work = poll_ports(n, &r);
		uint64_t now = node_us(n);

		if (n->fail[0] != '\0') {
			rc = -EIO;
			break;
		}
		if (r.linger_until != 0) {
			if (now >= r.linger_until || node_stop(n))
				break;
		} else if (!r.started) {
			uint32_t joined = 0;

			for (uint32_t k = 0; k < n->n; k++)
				joined += n->jw[k].joined;
			if (joined == n->n || now >= wait_until || node_stop(n)) {
				r.started = 1;
				r.t0_us = now;
				open_round(n, &r, now);
				work++;
			}
		} else {
			int how = -1;

			if (node_stop(n)) {
				n->res.stopped = 1;
				how = 2;
			} else if (r.open && r.expected > 0 && r.got >= r.expected) {
				how = 0;
			} else if (!r.open || now >= r.deadline_us) {
				how = 1;
			}
			if (how >= 0) {
				rc = finish_round(n, &r, now, how);
				if (rc != 0)
					break;
				work++;
			}
		}
		gcdl_node_flush(n);
		if (work) {
			dp_idle_reset(&idle);
		} else {
			uint64_t max_us = DP_IDLE_SLEEP_US;

			if (r.open && r.deadline_us > now && r.deadline_us - now < max_us)
				max_us = r.deadline_us - now;
			dp_idle_wait(&idle, max_us);
		}
	}
	for (uint32_t k = 0; k < n->n; k++) {
		n->res.wstat[k].joins = n->jw[k].joins;
		n->res.wstat[k].resyncs = n->jw[k].resyncs;
		n->res.wstat[k].refused = n->jw[k].refused;
	}
	n->res.model_crc = gcdl_node_crc(gcdl_engine_model(n->e) + n->coord_first,
					 n->coord_count);
	free(r.arr);
	return rc;
}
