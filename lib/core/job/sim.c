/* SPDX-License-Identifier: BSD-3-Clause */
/* The in-memory cluster: workers and aggregator in one thread, real frames. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gcdl/deadline.h"
#include "gcdl/metrics.h"
#include "gcdl/round_end.h"
#include "gcdl/rng.h"
#include "gcdl/sim.h"
#include "gcdl/straggler.h"

#include "clock.h"

/* Worker k sends its chunks as frames; each is lost with probability loss,
 * the aggregator validates and ingests the others. */
static int
send_worker(struct gcdl_engine *e, const struct gcdl_profile *p, uint32_t k, uint32_t t,
	    const float *v, uint8_t *payload, uint8_t *frame, size_t cap,
	    const struct gcdl_frame_limits *lim, double loss, uint64_t *lost)
{
	struct gcdl_frame_hdr h = { 0 };
	struct gcdl_rng lr;

	h.type = (uint8_t)gcdl_engine_msg_type(e);
	h.job_id = p->job_id;
	h.round = t;
	h.sender = (uint16_t)k;
	h.src[0] = 0x02; /* locally administered unicast */
	h.src[5] = (uint8_t)k;
	h.dst[0] = 0x02;
	h.dst[5] = 0xff;
	gcdl_rng_init(&lr, p->seed, GCDL_RNG_LOSS, t, k);
	for (uint32_t c = 0; c < gcdl_engine_chunks(e); c++) {
		struct gcdl_frame_hdr rx;
		const uint8_t *pl;
		uint32_t count;
		ssize_t flen;
		int len, rc;

		len = gcdl_engine_encode_chunk(e, k, t, c, v, payload, gcdl_engine_max_payload(e),
					       &count);
		if (len < 0)
			return len;
		h.chunk = c;
		h.first_coord = c * gcdl_engine_chunk_coords(e);
		h.coord_count = count;
		h.scale_block = h.type == GCDL_MSG_ONEBIT ? (uint16_t)p->scale_block : 0;
		h.payload_len = (uint16_t)len;
		flen = gcdl_frame_encode(&h, payload, frame, cap);
		if (flen < 0)
			return (int)flen;
		if (loss > 0 && gcdl_rng_uniform(&lr) < loss) {
			(*lost)++;
			continue;
		}
		rc = gcdl_frame_decode(frame, (size_t)flen, lim, &rx, &pl);
		if (rc != 0)
			return -EPROTO; /* our own frame must always be valid */
		rc = gcdl_engine_ingest(e, &rx, pl);
		if (rc != 0 && rc != -EALREADY)
			return rc;
	}
	return 0;
}

int
gcdl_sim_run(struct gcdl_job *job, const struct gcdl_sim_opts *o, struct gcdl_sim_result *res)
{
	static const struct gcdl_sim_opts none = { 0 };
	const struct gcdl_profile *p;
	struct gcdl_straggler_model sm = { 0 };
	struct gcdl_sim_result r = { 0 };
	struct gcdl_round_end_opts reo = { 0 };
	struct gcdl_round_end re;
	struct gcdl_frame_limits lim;
	struct gcdl_deadline dl;
	struct gcdl_engine *e;
	struct gcdl_counters *c = NULL;
	double *slow = NULL, t_start;
	uint8_t *payload = NULL, *frame = NULL;
	float *v = NULL;
	char err[256];
	size_t cap;
	int rc = 0;

	if (job == NULL || job->engine == NULL)
		return -EINVAL;
	if (o == NULL)
		o = &none;
	if (!(o->packet_loss >= 0 && o->packet_loss <= 1))
		return -EINVAL;
	p = &job->prof;
	e = job->engine;
	cap = gcdl_engine_max_payload(e) + GCDL_FRAME_OVERHEAD + GCDL_ETH_MIN_FRAME;
	v = malloc(sizeof(float) * gcdl_engine_dim(e));
	payload = malloc(gcdl_engine_max_payload(e));
	frame = malloc(cap);
	slow = malloc(sizeof(double) * p->workers);
	c = o->counters != NULL ? o->counters : calloc(1, sizeof(*c));
	if (v == NULL || payload == NULL || frame == NULL || slow == NULL || c == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = gcdl_straggler_from_profile(&sm, p, slow);
	if (rc != 0)
		goto out;
	gcdl_deadline_init(&dl, p);
	reo.metrics = o->metrics;
	reo.progress = o->progress;
	reo.progress_tty = o->progress_tty;
	reo.progress_s = o->progress_s;
	reo.evaluate = 1;
	gcdl_round_end_init(&re, job, e, c, &reo, NULL);
	t_start = gcdl_clock_now_s();

	for (uint32_t t = 0; t < p->rounds; t++) {
		double t0 = gcdl_clock_now_s(), deadline = gcdl_deadline_current(&dl);
		struct gcdl_round_info info;
		int stop = o->stop != NULL && *o->stop;

		gcdl_engine_begin_round(e, t);
		gcdl_engine_frame_limits(e, t, t, &lim);
		for (uint32_t k = 0; k < p->workers; k++) {
			if (sm.kind == GCDL_STRAGGLER_TIMING) {
				double us = gcdl_straggler_compute_us(&sm, p->seed, t, k);

				gcdl_deadline_observe(&dl, us);
				if (us > deadline)
					continue;
			} else if (gcdl_straggler_is(&sm, p->seed, t, k, deadline)) {
				continue;
			}
			rc = gcdl_engine_worker_gradient(e, 0, k, t, gcdl_engine_model(e), v);
			if (rc == 0)
				rc = gcdl_engine_worker_compress(e, k, t, v);
			if (rc == 0)
				rc = send_worker(e, p, k, t, v, payload, frame, cap, &lim,
						 o->packet_loss, &r.lost_frames);
			if (rc != 0)
				goto out;
		}
		gcdl_engine_close_round(e, NULL, &info);
		gcdl_counter_add(c, GCDL_CTR_UPLINK_ACCEPTED, info.frames);
		r.frames += info.frames;
		r.payload_bits += info.payload_bytes * 8;
		r.uplink_bits += info.wire_bytes * 8;
		r.downlink_bits += info.downlink_bytes * 8;
		r.stragglers += info.stragglers;
		r.rounds = t + 1;
		rc = gcdl_round_end_close(&re, t, &info, (gcdl_clock_now_s() - t0) * 1e3,
					  t + 1 == p->rounds || stop, err, sizeof(err));
		if (rc != 0)
			goto out;
		if (stop)
			break;
	}
	r.train_loss = re.loss;
	r.test_accuracy = re.acc;
	r.wall_s = gcdl_clock_now_s() - t_start;
	gcdl_counter_add(c, GCDL_CTR_FAULT_DROPPED, r.lost_frames);
	gcdl_figure_set(c, GCDL_FIG_WALL_S, r.wall_s);
out:
	if (res != NULL)
		*res = r;
	if (c != o->counters)
		free(c);
	free(v);
	free(payload);
	free(frame);
	free(slow);
	return rc;
}

int
gcdl_sim_variance(struct gcdl_job *job, const struct gcdl_sim_opts *o, uint32_t draws,
		  struct gcdl_sim_variance *out)
{
	const struct gcdl_profile *p;
	struct gcdl_straggler_model sm = { 0 };
	struct gcdl_sim_variance r = { 0 };
	struct gcdl_frame_limits lim;
	struct gcdl_deadline dl;
	struct gcdl_engine *e;
	double *exact = NULL, *gsum = NULL, *slow = NULL, deadline, loss;
	double esum = 0, esq = 0, gsq = 0;
	uint8_t *payload = NULL, *frame = NULL;
	float *v = NULL, *g = NULL, *q = NULL;
	uint64_t lost = 0;
	uint32_t dim, n;
	size_t cap;
	int rc = 0;

	if (job == NULL || job->engine == NULL || out == NULL || draws < 2)
		return -EINVAL;
	p = &job->prof;
	/* signsgd_mv's vote estimates no gradient; momentum on the workers would
	 * be measured, not the gradient */
	if (p->method == GCDL_METHOD_SIGNSGD_MV || gcdl_profile_worker_momentum(p))
		return -ENOTSUP;
	loss = o != NULL ? o->packet_loss : 0.0;
	if (!(loss >= 0 && loss <= 1))
		return -EINVAL;
	e = job->engine;
	dim = gcdl_engine_dim(e);
	n = p->workers;
	cap = gcdl_engine_max_payload(e) + GCDL_FRAME_OVERHEAD + GCDL_ETH_MIN_FRAME;
	v = malloc(sizeof(float) * (size_t)dim * n);
	g = malloc(sizeof(float) * dim);
	exact = calloc(dim, sizeof(double));
	gsum = calloc(dim, sizeof(double));
	slow = malloc(sizeof(double) * n);
	payload = malloc(gcdl_engine_max_payload(e));
	frame = malloc(cap);
	q = malloc(sizeof(float) * dim);
	if (v == NULL || g == NULL || exact == NULL || gsum == NULL || slow == NULL ||
	    payload == NULL || frame == NULL || q == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = gcdl_straggler_from_profile(&sm, p, slow);
	if (rc != 0)
		goto out;
	gcdl_deadline_init(&dl, p);
	deadline = gcdl_deadline_current(&dl);
	for (uint32_t k = 0; k < n; k++) {
		float *vk = v + (size_t)k * dim;

		rc = gcdl_engine_worker_gradient(e, 0, k, p->rounds, gcdl_engine_model(e), vk);
		if (rc != 0)
			goto out;
		for (uint32_t j = 0; j < dim; j++)
			exact[j] += vk[j];
	}
	for (uint32_t j = 0; j < dim; j++)
		r.grad_norm2 += exact[j] * exact[j];
	for (uint32_t i = 0; i < draws; i++) {
		uint32_t t = p->rounds + i;
		struct gcdl_round_info info;
		double err = 0;

		gcdl_engine_begin_round(e, t);
		gcdl_engine_frame_limits(e, t, t, &lim);
		for (uint32_t k = 0; k < n; k++) {
			if (sm.kind == GCDL_STRAGGLER_TIMING) {
				if (gcdl_straggler_compute_us(&sm, p->seed, t, k) > deadline)
					continue;
			} else if (gcdl_straggler_is(&sm, p->seed, t, k, deadline)) {
				continue;
			}
			/* onebit_gc_ef: each draw is a round of the same gradient, so the
			 * residuals evolve as they would (their bias shows in bias2) */
			memcpy(q, v + (size_t)k * dim, sizeof(float) * dim);
			rc = gcdl_engine_worker_compress(e, k, t, q);
			if (rc == 0)
				rc = send_worker(e, p, k, t, q, payload, frame, cap, &lim, loss,
						 &lost);
			if (rc != 0)
				goto out;
		}
		gcdl_engine_decode_round(e, g, &info);
		for (uint32_t j = 0; j < dim; j++) {
			double dj = (double)g[j] - exact[j];

			err += dj * dj;
			gsum[j] += g[j];
			gsq += (double)g[j] * g[j];
		}
		esum += err;
		esq += err * err;
		r.stragglers += info.stragglers;
		r.empty_chunks += info.empty_chunks;
	}
	r.draws = draws;
	r.mse = esum / draws;
	r.mse_stderr = sqrt(fmax(0.0, esq / draws - r.mse * r.mse) / (draws - 1));
	{
		double mean2 = 0;

		for (uint32_t j = 0; j < dim; j++) {
			double mj = gsum[j] / draws, bj = mj - exact[j];

			mean2 += mj * mj;
			r.bias2 += bj * bj;
		}
		r.variance = fmax(0.0, gsq / draws - mean2);
	}
	r.stragglers /= draws;
	r.empty_chunks /= draws;
	gcdl_engine_begin_round(e, p->rounds);
	*out = r;
out:
	free(v);
	free(g);
	free(q);
	free(exact);
	free(gsum);
	free(slow);
	free(payload);
	free(frame);
	return rc;
}
