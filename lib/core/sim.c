/* SPDX-License-Identifier: BSD-3-Clause */
/* The in-memory cluster: workers and aggregator in one thread, real frames. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gcdl/deadline.h"
#include "gcdl/metrics.h"
#include "gcdl/rng.h"
#include "gcdl/sim.h"
#include "gcdl/straggler.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

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

static void
progress(const struct gcdl_sim_opts *o, const struct gcdl_profile *p, uint32_t done,
	 double loss, double acc, uint32_t stragglers, double elapsed, int final)
{
	double eta = done ? elapsed / done * (p->rounds - done) : 0.0;

	if (o->progress_tty)
		fprintf(o->progress, "\rround %u/%u  loss %.4f  acc %.4f  stragglers %u  "
			"%.1f rounds/s  ETA %.0fs   %s", done, p->rounds, loss, acc, stragglers,
			elapsed > 0 ? done / elapsed : 0.0, eta, final ? "\n" : "");
	else
		fprintf(o->progress, "round %u/%u loss %.4f acc %.4f stragglers %u "
			"%.1f rounds/s ETA %.0fs\n", done, p->rounds, loss, acc, stragglers,
			elapsed > 0 ? done / elapsed : 0.0, eta);
	fflush(o->progress);
}

int
gcdl_sim_run(struct gcdl_job *job, const struct gcdl_sim_opts *o, struct gcdl_sim_result *res)
{
	static const struct gcdl_sim_opts none = { 0 };
	const struct gcdl_profile *p;
	struct gcdl_straggler_model sm = { 0 };
	struct gcdl_sim_result r = { 0 };
	struct gcdl_frame_limits lim;
	struct gcdl_deadline dl;
	struct gcdl_engine *e;
	double *slow = NULL, t_start, last_report;
	double loss = NAN, acc = NAN;
	uint8_t *payload = NULL, *frame = NULL;
	float *v = NULL;
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
	if (v == NULL || payload == NULL || frame == NULL || slow == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = gcdl_straggler_from_profile(&sm, p, slow);
	if (rc != 0)
		goto out;
	gcdl_deadline_init(&dl, p);
	t_start = last_report = now_s();

	for (uint32_t t = 0; t < p->rounds; t++) {
		double t0 = now_s(), deadline = gcdl_deadline_current(&dl);
		struct gcdl_round_info info;
		struct gcdl_metrics_row row = { 0 };
		int eval = gcdl_job_eval_due(p, t) || (o->stop != NULL && *o->stop);

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
				rc = send_worker(e, p, k, t, v, payload, frame, cap, &lim,
						 o->packet_loss, &r.lost_frames);
			if (rc != 0)
				goto out;
		}
		gcdl_engine_close_round(e, NULL, &info);
		r.frames += info.frames;
		r.payload_bits += info.payload_bytes * 8;
		r.uplink_bits += info.wire_bytes * 8;
		r.stragglers += info.stragglers;
		if (eval) {
			rc = gcdl_engine_eval(e, gcdl_engine_model(e), &job->train, &loss, NULL);
			if (rc == 0)
				rc = gcdl_engine_eval(e, gcdl_engine_model(e), &job->test, NULL, &acc);
			if (rc != 0)
				goto out;
		}
		r.rounds = t + 1;
		row.round = t + 1;
		row.method = gcdl_method_name(p->method);
		row.evaluated = eval;
		row.train_loss = loss;
		row.test_accuracy = acc;
		row.uplink_bits = r.uplink_bits;
		row.stragglers = info.stragglers;
		row.wall_ms = (now_s() - t0) * 1e3;
		if (o->metrics != NULL && gcdl_metrics_write(o->metrics, &row) != 0) {
			rc = -EIO;
			goto out;
		}
		if (o->progress != NULL &&
		    (now_s() - last_report >= o->progress_s || t + 1 == p->rounds)) {
			last_report = now_s();
			progress(o, p, t + 1, loss, acc, info.stragglers, last_report - t_start,
				 t + 1 == p->rounds);
		}
		if (o->stop != NULL && *o->stop)
			break;
	}
	r.train_loss = loss;
	r.test_accuracy = acc;
	r.wall_s = now_s() - t_start;
out:
	if (res != NULL)
		*res = r;
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
	float *v = NULL, *g = NULL;
	uint64_t lost = 0;
	uint32_t dim, n;
	size_t cap;
	int rc = 0;

	if (job == NULL || job->engine == NULL || out == NULL || draws < 2)
		return -EINVAL;
	p = &job->prof;
	if (p->method == GCDL_METHOD_SIGNSGD_MV)
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
	if (v == NULL || g == NULL || exact == NULL || gsum == NULL || slow == NULL ||
	    payload == NULL || frame == NULL) {
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
			rc = send_worker(e, p, k, t, v + (size_t)k * dim, payload, frame, cap, &lim,
					 loss, &lost);
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
	free(exact);
	free(gsum);
	free(slow);
	free(payload);
	free(frame);
	return rc;
}
