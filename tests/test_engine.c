/* SPDX-License-Identifier: BSD-3-Clause */
/* The engine: weights, payloads, ingest rules, decoders over stragglers,
 * order independence. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/downlink.h"
#include "gcdl/engine.h"
#include "gcdl/job.h"
#include "gcdl/quant.h"
#include "gcdl/rng.h"
#include "gcdl/sim.h"

#define N 4

static void
small_profile(struct gcdl_profile *p, enum gcdl_method m)
{
	gcdl_profile_defaults(p);
	p->method = m;
	p->workers = N;
	p->partitions = N;
	p->redundancy = 2;
	p->dataset = GCDL_DATA_SYNTH_GMM;
	p->train_rows = 400;
	p->test_rows = 100;
	p->synth_features = 5;
	p->synth_classes = 3;
	p->lr = 1.0;
	p->momentum = 0.0;
	p->scale_block = 8;
	p->seed = 11;
	/* the update as computed (float32): these tests check the optimizer's
	 * arithmetic; the 1-bit downlink has tests of its own */
	p->downlink = GCDL_DOWNLINK_FLOAT32;
}

static void
open_job(struct gcdl_job *job, const struct gcdl_profile *p)
{
	char err[256] = "";
	int rc = gcdl_job_open(job, p, 2, err, sizeof(err));

	ck_assert_msg(rc == 0, "job: %s", err);
}

/* Send worker k's chunks for round t straight into the engine. */
static void
deliver(struct gcdl_engine *e, uint32_t k, uint32_t t, const float *v, uint32_t chunk)
{
	uint8_t payload[9000];
	struct gcdl_frame_hdr h = { 0 };
	uint32_t count;
	int len = gcdl_engine_encode_chunk(e, k, t, chunk, v, payload, sizeof(payload), &count);

	ck_assert_int_gt(len, 0);
	h.type = (uint8_t)gcdl_engine_msg_type(e);
	h.round = t;
	h.sender = (uint16_t)k;
	h.chunk = chunk;
	h.coord_count = count;
	h.payload_len = (uint16_t)len;
	ck_assert_int_eq(gcdl_engine_ingest(e, &h, payload), 0);
}

START_TEST(create_rejects)
{
	struct gcdl_profile p;
	struct gcdl_job job;
	struct gcdl_dataset ds = { 0 };
	uint32_t off[N + 1] = { 0, 100, 200, 300, 400 };
	char err[256];

	small_profile(&p, GCDL_METHOD_SGC);
	open_job(&job, &p);
	ck_assert_ptr_null(gcdl_engine_create(NULL, &job.train, job.offsets, 1, err, 256));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(gcdl_engine_create(&p, NULL, job.offsets, 1, err, 256));
	ck_assert_ptr_null(gcdl_engine_create(&p, &job.train, NULL, 1, err, 256));
	ck_assert_ptr_null(gcdl_engine_create(&p, &job.train, job.offsets, 0, err, 256));
	ck_assert_ptr_null(gcdl_engine_create(&p, &ds, off, 1, err, 256)); /* empty data */
	/* offsets that do not cover the rows */
	off[N] = 399;
	ck_assert_ptr_null(gcdl_engine_create(&p, &job.train, off, 1, err, 256));
	ck_assert(strstr(err, "do not cover") != NULL);
	/* an empty partition */
	off[N] = 400;
	off[2] = 100;
	ck_assert_ptr_null(gcdl_engine_create(&p, &job.train, off, 1, err, 256));
	ck_assert(strstr(err, "partition 1 is empty") != NULL);
	/* an impossible layout */
	p.redundancy = 5;
	ck_assert_ptr_null(gcdl_engine_create(&p, &job.train, job.offsets, 1, err, 256));
	ck_assert_int_eq(errno, EINVAL);
	gcdl_job_close(&job);
}
END_TEST

START_TEST(calls_reject_bad_arguments)
{
	struct gcdl_profile p;
	struct gcdl_job job;
	struct gcdl_engine *e;
	struct gcdl_frame_hdr h = { 0 };
	float *v;
	uint8_t payload[9000];
	uint32_t dim;

	small_profile(&p, GCDL_METHOD_ONEBIT_GC);
	open_job(&job, &p);
	e = job.engine;
	dim = gcdl_engine_dim(e);
	v = calloc(dim, sizeof(float));
	ck_assert_int_eq(gcdl_engine_worker_gradient(NULL, 0, 0, 0, v, v), -EINVAL);
	ck_assert_int_eq(gcdl_engine_worker_gradient(e, 0, 0, 0, NULL, v), -EINVAL);
	ck_assert_int_eq(gcdl_engine_worker_gradient(e, 2, 0, 0, gcdl_engine_model(e), v),
			 -ERANGE);
	ck_assert_int_eq(gcdl_engine_worker_gradient(e, 0, N, 0, gcdl_engine_model(e), v),
			 -ERANGE);
	ck_assert_int_eq(gcdl_engine_encode_chunk(NULL, 0, 0, 0, v, payload, 100, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_engine_encode_chunk(e, 0, 0, gcdl_engine_chunks(e), v, payload,
						  sizeof(payload), NULL), -ERANGE);
	ck_assert_int_eq(gcdl_engine_encode_chunk(e, N, 0, 0, v, payload, sizeof(payload), NULL),
			 -ERANGE);
	ck_assert_int_eq(gcdl_engine_encode_chunk(e, 0, 0, 0, v, payload, 3, NULL), -ENOSPC);
	v[1] = NAN;
	ck_assert_int_eq(gcdl_engine_encode_chunk(e, 0, 0, 0, v, payload, sizeof(payload), NULL),
			 -EDOM);
	v[1] = 0;

	gcdl_engine_begin_round(e, 3);
	h.type = GCDL_MSG_FLOAT; /* not this method's uplink */
	h.round = 3;
	ck_assert_int_eq(gcdl_engine_ingest(e, &h, payload), -EPROTO);
	h.type = GCDL_MSG_ONEBIT;
	h.round = 2;
	ck_assert_int_eq(gcdl_engine_ingest(e, &h, payload), -ESTALE);
	h.round = 3;
	h.sender = N;
	ck_assert_int_eq(gcdl_engine_ingest(e, &h, payload), -EINVAL);
	h.sender = 0;
	h.chunk = gcdl_engine_chunks(e);
	ck_assert_int_eq(gcdl_engine_ingest(e, &h, payload), -EINVAL);
	ck_assert_int_eq(gcdl_engine_ingest(NULL, &h, payload), -EINVAL);
	ck_assert_int_eq(gcdl_engine_ingest(e, NULL, payload), -EINVAL);
	ck_assert_int_eq(gcdl_engine_close_round(NULL, NULL, NULL), -EINVAL);
	free(v);
	gcdl_job_close(&job);
}
END_TEST

START_TEST(duplicates_are_ignored_and_counted)
{
	struct gcdl_profile p;
	struct gcdl_job job;
	struct gcdl_engine *e;
	struct gcdl_round_info info;
	struct gcdl_frame_hdr h = { 0 };
	uint8_t payload[9000];
	float *v, *u1, *u2, *w0;
	uint32_t dim, count;
	int len;

	small_profile(&p, GCDL_METHOD_ONEBIT_GC);
	open_job(&job, &p);
	e = job.engine;
	dim = gcdl_engine_dim(e);
	v = malloc(sizeof(float) * dim);
	u1 = malloc(sizeof(float) * dim);
	u2 = malloc(sizeof(float) * dim);
	w0 = malloc(sizeof(float) * dim);
	memcpy(w0, gcdl_engine_model(e), sizeof(float) * dim);
	ck_assert_int_eq(gcdl_engine_worker_gradient(e, 0, 1, 0, w0, v), 0);

	gcdl_engine_begin_round(e, 0);
	deliver(e, 1, 0, v, 0);
	gcdl_engine_close_round(e, u1, &info);
	ck_assert_uint_eq(info.duplicates, 0);

	memcpy(gcdl_engine_model(e), w0, sizeof(float) * dim);
	gcdl_engine_begin_round(e, 0);
	deliver(e, 1, 0, v, 0);
	len = gcdl_engine_encode_chunk(e, 1, 0, 0, v, payload, sizeof(payload), &count);
	h.type = GCDL_MSG_ONEBIT;
	h.sender = 1;
	h.coord_count = count;
	h.payload_len = (uint16_t)len;
	payload[len - 1] ^= 0xff; /* a different payload from the same sender: still a duplicate */
	ck_assert_int_eq(gcdl_engine_ingest(e, &h, payload), -EALREADY);
	ck_assert_int_eq(gcdl_engine_ingest(e, &h, payload), -EALREADY);
	gcdl_engine_close_round(e, u2, &info);
	ck_assert_uint_eq(info.duplicates, 2);
	ck_assert_uint_eq(info.frames, gcdl_engine_chunks(e) == 1 ? 1 : 1);
	ck_assert_uint_eq(info.contributors, 1);
	ck_assert_uint_eq(info.stragglers, N - 1);
	ck_assert_mem_eq(u1, u2, sizeof(float) * dim);
	free(v);
	free(u1);
	free(u2);
	free(w0);
	gcdl_job_close(&job);
}
END_TEST

/* A frame with a NaN, an infinity or a negative scale (valid header, valid
 * CRC), or one above GCDL_ENGINE_MAX_VALUE, is refused with -EDOM and stored nowhere: one such frame would make
 * the update and every replica non-finite (found while writing the ingest
 * fuzz target; tests/fuzz/fuzz_ingest.c checks it on every accepted frame). */
START_TEST(non_finite_values_are_refused)
{
	static const uint8_t poison[][4] = { { 0x7f, 0xc0, 0, 0 },    /* NaN */
					     { 0x7f, 0x80, 0, 0 },    /* +inf */
					     { 0xff, 0x80, 0, 0 },    /* -inf */
					     { 0xbf, 0x80, 0, 0 },    /* -1.0 */
					     { 0x72, 0x00, 0, 0 } };  /* 2.5e30 */
	static const enum gcdl_method methods[] = { GCDL_METHOD_ONEBIT_GC, GCDL_METHOD_SGC };

	for (size_t mi = 0; mi < 2; mi++) {
		for (size_t pi = 0; pi < sizeof(poison) / sizeof(poison[0]); pi++) {
			struct gcdl_profile p;
			struct gcdl_job job;
			struct gcdl_engine *e;
			struct gcdl_round_info info;
			struct gcdl_frame_hdr h = { 0 };
			uint8_t payload[9000];
			float *v, *u;
			uint32_t dim, count;
			int len, want;

			small_profile(&p, methods[mi]);
			open_job(&job, &p);
			e = job.engine;
			dim = gcdl_engine_dim(e);
			v = malloc(sizeof(float) * dim);
			u = malloc(sizeof(float) * dim);
			ck_assert_int_eq(gcdl_engine_worker_gradient(e, 0, 2, 0, gcdl_engine_model(e),
								     v), 0);
			gcdl_engine_begin_round(e, 0);
			len = gcdl_engine_encode_chunk(e, 2, 0, 0, v, payload, sizeof(payload),
						       &count);
			h.type = (uint8_t)gcdl_engine_msg_type(e);
			h.sender = 2;
			h.coord_count = count;
			h.scale_block = h.type == GCDL_MSG_ONEBIT ? 8 : 0;
			h.payload_len = (uint16_t)len;
			/* the last scale (onebit) or value (float) */
			memcpy(payload + (h.type == GCDL_MSG_ONEBIT
					  ? 4 * (gcdl_quant_blocks(count, 8) - 1) : 4 * (count - 1)),
			       poison[pi], 4);
			/* a negative value is fine in a float gradient */
			want = h.type == GCDL_MSG_FLOAT && pi == 3 ? 0 : -EDOM;
			ck_assert_int_eq(gcdl_engine_ingest(e, &h, payload), want);
			gcdl_engine_close_round(e, u, &info);
			ck_assert_uint_eq(info.frames, want == 0 ? 1 : 0);
			for (uint32_t j = 0; j < dim; j++)
				ck_assert(isfinite(u[j]) && isfinite(gcdl_engine_model(e)[j]));
			free(v);
			free(u);
			gcdl_job_close(&job);
		}
	}
}
END_TEST

/* sum_k v_k over all workers is exactly the full gradient (1/M) sum_i grad f_i */
/* coding.value_bound: a frame whose largest scale exceeds value_bound times
 * the largest accepted in the last round with any is refused (-ERANGE) and
 * stored nowhere. 1e30 passed the old sanity check (GCDL_ENGINE_MAX_VALUE),
 * and one such frame from a spoofing host sent every replica's loss to 2e62. */
START_TEST(scales_beyond_the_bound_are_refused)
{
	static const double bounds[] = { 1000, 0 };

	for (size_t bi = 0; bi < 2; bi++) {
		struct gcdl_profile p;
		struct gcdl_job job;
		struct gcdl_engine *e;
		struct gcdl_round_info info;
		struct gcdl_frame_hdr h = { 0 };
		uint8_t payload[9000];
		float *v, *u, big = 1e30f, ref = 0, s;
		uint32_t dim, count, nb;
		int len;

		small_profile(&p, GCDL_METHOD_ONEBIT_GC);
		p.value_bound = bounds[bi];
		open_job(&job, &p);
		e = job.engine;
		dim = gcdl_engine_dim(e);
		v = malloc(sizeof(float) * dim);
		u = malloc(sizeof(float) * dim);
		/* round 0: nothing to compare with yet, every sane frame is taken */
		gcdl_engine_begin_round(e, 0);
		for (uint32_t k = 0; k < N; k++) {
			ck_assert_int_eq(gcdl_engine_worker_gradient(e, 0, k, 0,
								     gcdl_engine_model(e), v), 0);
			deliver(e, k, 0, v, 0);
		}
		gcdl_engine_close_round(e, u, &info);
		ck_assert_uint_eq(info.frames, N);
		/* round 1: worker 2's frame with its last scale replaced */
		gcdl_engine_begin_round(e, 1);
		ck_assert_int_eq(gcdl_engine_worker_gradient(e, 0, 2, 1, gcdl_engine_model(e), v),
				 0);
		len = gcdl_engine_encode_chunk(e, 2, 1, 0, v, payload, sizeof(payload), &count);
		ck_assert_int_gt(len, 0);
		nb = gcdl_quant_blocks(count, 8);
		for (uint32_t b = 0; b < nb; b++) {
			gcdl_frame_get_floats(&s, payload + 4 * b, 1);
			ref = s > ref ? s : ref;
		}
		ck_assert(ref > 0 && ref < 1e3f);
		h.type = GCDL_MSG_ONEBIT;
		h.round = 1;
		h.sender = 2;
		h.coord_count = count;
		h.scale_block = 8;
		h.payload_len = (uint16_t)len;
		gcdl_frame_put_floats(payload + 4 * (nb - 1), &big, 1);
		if (bounds[bi] > 0) {
			ck_assert_int_eq(gcdl_engine_ingest(e, &h, payload), -ERANGE);
			/* not stored: worker 2's genuine frame is taken after it */
			deliver(e, 2, 1, v, 0);
		} else {
			/* value_bound = 0: only GCDL_ENGINE_MAX_VALUE applies */
			ck_assert_int_eq(gcdl_engine_ingest(e, &h, payload), 0);
		}
		gcdl_engine_close_round(e, u, &info);
		ck_assert_uint_eq(info.frames, 1);
		for (uint32_t j = 0; j < dim && bounds[bi] > 0; j++)
			ck_assert(fabsf(u[j]) < 1e6f);
		free(v);
		free(u);
		gcdl_job_close(&job);
	}
}
END_TEST

START_TEST(worker_weights_sum_to_full_gradient)
{
	struct gcdl_profile p;
	struct gcdl_job job;
	struct gcdl_engine *e;
	struct gcdl_model *m;
	double *sum, *ref;
	float *v, *g;
	uint32_t dim;

	small_profile(&p, GCDL_METHOD_SGC);
	p.partitions = 8; /* s = 4 partitions per worker, r_i = 2 */
	open_job(&job, &p);
	e = job.engine;
	dim = gcdl_engine_dim(e);
	v = malloc(sizeof(float) * dim);
	g = malloc(sizeof(float) * dim);
	sum = calloc(dim, sizeof(double));
	ref = calloc(dim, sizeof(double));
	/* move away from the all-zero start so every coordinate is exercised */
	for (uint32_t j = 0; j < dim; j++)
		gcdl_engine_model(e)[j] = 0.01f * (float)((j * 7) % 13) - 0.05f;
	for (uint32_t k = 0; k < N; k++) {
		ck_assert_int_eq(gcdl_engine_worker_gradient(e, 1, k, 0, gcdl_engine_model(e), v),
				 0);
		for (uint32_t j = 0; j < dim; j++)
			sum[j] += v[j];
	}
	m = gcdl_model_create(GCDL_MODEL_SOFTMAX, 5, 3, 0, 0.0f);
	for (uint32_t i = 0; i < 8; i++) {
		uint32_t a = job.offsets[i], b = job.offsets[i + 1];

		ck_assert_int_eq(gcdl_model_loss_grad(m, gcdl_engine_model(e),
						      job.train.x + (size_t)a * 5, job.train.y + a,
						      b - a, g, NULL), 0);
		for (uint32_t j = 0; j < dim; j++)
			ref[j] += g[j] / 8.0;
	}
	for (uint32_t j = 0; j < dim; j++)
		ck_assert_msg(fabs(sum[j] - ref[j]) <= 1e-5 * (1.0 + fabs(ref[j])),
			      "coord %u: %g vs %g", j, sum[j], ref[j]);
	gcdl_model_free(m);
	free(v);
	free(g);
	free(sum);
	free(ref);
	gcdl_job_close(&job);
}
END_TEST

/* Decode round t with the given straggler set; returns the update (= g with
 * lr 1, no momentum) and restores the model. */
static void
decode_with(struct gcdl_engine *e, float **vs, unsigned present, uint32_t t, float *g,
	    const float *w0)
{
	gcdl_engine_begin_round(e, t);
	for (uint32_t k = 0; k < N; k++)
		if (present & (1u << k))
			for (uint32_t c = 0; c < gcdl_engine_chunks(e); c++)
				deliver(e, k, t, vs[k], c);
	gcdl_engine_close_round(e, g, NULL);
	memcpy(gcdl_engine_model(e), w0, sizeof(float) * gcdl_engine_dim(e));
}

/* Float methods: the expectation over every straggler set, weighted by its
 * Bernoulli probability, is computed exactly by enumerating all 2^N sets. */
START_TEST(float_decoders_exactly_unbiased)
{
	const double p = 0.3;
	struct gcdl_profile prof;
	struct gcdl_job job;
	struct gcdl_engine *e;
	float *vs[N], *g, *w0;
	double *full, *eu, *en;
	uint32_t dim;

	small_profile(&prof, GCDL_METHOD_SGC);
	prof.straggler_p = p;
	prof.mtu = 100; /* several chunks per worker */
	for (int dec = 0; dec < 2; dec++) {
		prof.decoder = dec ? GCDL_DECODER_UNBIASED : GCDL_DECODER_NORMALISED;
		open_job(&job, &prof);
		e = job.engine;
		dim = gcdl_engine_dim(e);
		ck_assert_uint_gt(gcdl_engine_chunks(e), 1);
		g = malloc(sizeof(float) * dim);
		w0 = malloc(sizeof(float) * dim);
		full = calloc(dim, sizeof(double));
		eu = calloc(dim, sizeof(double));
		en = calloc(dim, sizeof(double));
		for (uint32_t j = 0; j < dim; j++)
			gcdl_engine_model(e)[j] = 0.02f * (float)((j * 5) % 11) - 0.1f;
		memcpy(w0, gcdl_engine_model(e), sizeof(float) * dim);
		for (uint32_t k = 0; k < N; k++) {
			vs[k] = malloc(sizeof(float) * dim);
			gcdl_engine_worker_gradient(e, 0, k, 0, w0, vs[k]);
			for (uint32_t j = 0; j < dim; j++)
				full[j] += vs[k][j];
		}
		for (unsigned set = 0; set < (1u << N); set++) {
			int present = __builtin_popcount(set);
			double prob = pow(1 - p, present) * pow(p, N - present);

			decode_with(e, vs, set, 0, g, w0);
			for (uint32_t j = 0; j < dim; j++) {
				eu[j] += prob * g[j];
				/* normalised: condition on at least one arrival */
				if (present > 0)
					en[j] += prob / (1 - pow(p, N)) * g[j];
			}
		}
		for (uint32_t j = 0; j < dim; j++) {
			double got = dec ? eu[j] : en[j];

			ck_assert_msg(fabs(got - full[j]) <= 1e-5 * (1 + fabs(full[j])),
				      "decoder %d coord %u: E[g] %g, grad F %g", dec, j, got,
				      full[j]);
		}
		for (uint32_t k = 0; k < N; k++)
			free(vs[k]);
		free(g);
		free(w0);
		free(full);
		free(eu);
		free(en);
		gcdl_job_close(&job);
	}
}
END_TEST

/* 1-bit: over quantizer randomness and Bernoulli stragglers, the mean of the
 * unbiased decoder's g converges to grad F. Tolerance: 5 standard errors of
 * the per-coordinate sample mean (sample sd / sqrt(T)), T = 3000 rounds; with
 * dim = 18 coordinates the chance of a false failure is < 18 * 6e-7. */
START_TEST(onebit_statistically_unbiased)
{
	const uint32_t T = 3000;
	struct gcdl_profile prof;
	struct gcdl_job job;
	struct gcdl_engine *e;
	float *vs[N], *g, *w0;
	double *full, *s1, *s2;
	struct gcdl_rng r;
	uint32_t dim;

	small_profile(&prof, GCDL_METHOD_ONEBIT_GC);
	prof.straggler_p = 0.25;
	prof.decoder = GCDL_DECODER_UNBIASED;
	open_job(&job, &prof);
	e = job.engine;
	dim = gcdl_engine_dim(e);
	g = malloc(sizeof(float) * dim);
	w0 = malloc(sizeof(float) * dim);
	full = calloc(dim, sizeof(double));
	s1 = calloc(dim, sizeof(double));
	s2 = calloc(dim, sizeof(double));
	for (uint32_t j = 0; j < dim; j++)
		gcdl_engine_model(e)[j] = 0.03f * (float)((j * 3) % 7) - 0.1f;
	memcpy(w0, gcdl_engine_model(e), sizeof(float) * dim);
	for (uint32_t k = 0; k < N; k++) {
		vs[k] = malloc(sizeof(float) * dim);
		gcdl_engine_worker_gradient(e, 0, k, 0, w0, vs[k]);
		for (uint32_t j = 0; j < dim; j++)
			full[j] += vs[k][j];
	}
	gcdl_rng_init(&r, 99, GCDL_RNG_TEST, 0, 0);
	for (uint32_t t = 0; t < T; t++) {
		unsigned set = 0;

		for (uint32_t k = 0; k < N; k++)
			if (gcdl_rng_uniform(&r) >= 0.25)
				set |= 1u << k;
		decode_with(e, vs, set, t, g, w0);
		for (uint32_t j = 0; j < dim; j++) {
			s1[j] += g[j];
			s2[j] += (double)g[j] * g[j];
		}
	}
	for (uint32_t j = 0; j < dim; j++) {
		double mean = s1[j] / T, var = s2[j] / T - mean * mean;
		double se = sqrt(var / T);

		ck_assert_msg(fabs(mean - full[j]) <= 5 * se + 1e-7,
			      "coord %u: mean %g, grad F %g, se %g", j, mean, full[j], se);
	}
	for (uint32_t k = 0; k < N; k++)
		free(vs[k]);
	free(g);
	free(w0);
	free(full);
	free(s1);
	free(s2);
	gcdl_job_close(&job);
}
END_TEST

/* The decoded update does not depend on the order frames arrive in. */
START_TEST(arrival_order_does_not_matter)
{
	struct gcdl_profile prof;
	struct gcdl_job job;
	struct gcdl_engine *e;
	float *vs[N], *u1, *u2, *w0;
	uint32_t dim, chunks;

	small_profile(&prof, GCDL_METHOD_SGC);
	prof.mtu = 100;
	open_job(&job, &prof);
	e = job.engine;
	dim = gcdl_engine_dim(e);
	chunks = gcdl_engine_chunks(e);
	u1 = malloc(sizeof(float) * dim);
	u2 = malloc(sizeof(float) * dim);
	w0 = malloc(sizeof(float) * dim);
	for (uint32_t j = 0; j < dim; j++)
		gcdl_engine_model(e)[j] = 0.07f * (float)((j * 3) % 5) - 0.1f;
	memcpy(w0, gcdl_engine_model(e), sizeof(float) * dim);
	for (uint32_t k = 0; k < N; k++) {
		vs[k] = malloc(sizeof(float) * dim);
		gcdl_engine_worker_gradient(e, 0, k, 0, w0, vs[k]);
	}
	decode_with(e, vs, (1u << N) - 1, 0, u1, w0);
	gcdl_engine_begin_round(e, 0);
	for (int c = (int)chunks - 1; c >= 0; c--)
		for (int k = N - 1; k >= 0; k--)
			deliver(e, (uint32_t)k, 0, vs[k], (uint32_t)c);
	gcdl_engine_close_round(e, u2, NULL);
	ck_assert_mem_eq(u1, u2, sizeof(float) * dim);
	for (uint32_t k = 0; k < N; k++)
		free(vs[k]);
	free(u1);
	free(u2);
	free(w0);
	gcdl_job_close(&job);
}
END_TEST

/* Run 3 rounds of @p m over a fresh job with the aggregation cut into @p
 * parts (each part's accumulation called between ingests, as its thread
 * would), frames in @p order (0: worker order, 1: reverse, 2: worker 0 a
 * straggler); the updates of every round and the model after them in out
 * (4 x dim floats). @return coordinates accumulated when the rounds
 * closed rather than on arrival. */
static uint64_t
run_parts(enum gcdl_method m, uint32_t parts, int order, int early, float *out, uint32_t *dim_out,
	  uint64_t *total)
{
	struct gcdl_profile prof;
	struct gcdl_job job;
	struct gcdl_engine *e;
	uint32_t dim, chunks;
	uint64_t at_close = 0, early_chunks = 0;
	float *v;

	small_profile(&prof, m);
	prof.synth_features = 60;
	prof.mtu = 120;
	prof.momentum = 0.5;
	if (m == GCDL_METHOD_ONEBIT_GC)
		prof.downlink = GCDL_DOWNLINK_ONEBIT;
	open_job(&job, &prof);
	e = job.engine;
	ck_assert_int_eq(gcdl_engine_set_parts(e, parts), 0);
	ck_assert_uint_eq(gcdl_engine_parts(e), parts);
	dim = gcdl_engine_dim(e);
	chunks = gcdl_engine_chunks(e);
	*dim_out = dim;
	v = malloc(sizeof(float) * dim);
	for (uint32_t t = 0; t < 3; t++) {
		gcdl_engine_begin_round(e, t);
		ck_assert_int_eq(gcdl_engine_set_early_close(e, early, out + (size_t)t * dim), 0);
		for (uint32_t i = 0; i < N; i++) {
			uint32_t k = order == 1 ? N - 1 - i : i;

			if (order == 2 && k == 0)
				continue;
			gcdl_engine_worker_gradient(e, 0, k, t, gcdl_engine_model(e), v);
			for (uint32_t c = 0; c < chunks; c++) {
				deliver(e, k, t, v, c);
				/* each part's thread polls, in some order */
				for (uint32_t q = 0; parts > 1 && q < parts; q++)
					gcdl_engine_accumulate(e, (c + k + q) % parts);
			}
		}
		if (early) {
			float g1[4096];

			ck_assert_int_eq(gcdl_engine_decode_round(e, g1, NULL), -EBUSY);
		}
		ck_assert_int_eq(gcdl_engine_close_round(e, out + (size_t)t * dim, NULL), 0);
	}
	memcpy(out + (size_t)3 * dim, gcdl_engine_model(e), sizeof(float) * dim);
	*total = 0;
	for (uint32_t i = 0; i < parts; i++) {
		struct gcdl_engine_part_stats st;

		ck_assert_int_eq(gcdl_engine_part_stats(e, i, &st), 0);
		at_close += st.coords_at_close;
		*total += st.coords;
		early_chunks += st.chunks_closed_early;
	}
	ck_assert_int_eq(gcdl_engine_part_stats(e, parts, &(struct gcdl_engine_part_stats){ 0 }),
			 -ERANGE);
	/* early close: every chunk of every round when all 4 sent, none without worker 0 */
	ck_assert_uint_eq(early_chunks, early && order != 2 ? 3 * chunks : 0);
	free(v);
	gcdl_job_close(&job);
	return at_close;
}

/* Accumulation parts (threads), early close and arrival order change no bit
 * of the updates or the model; a chunk is accumulated when its last frame
 * arrives, and a missing worker 0 holds every chunk back to the close. */
START_TEST(parts_give_the_same_bits)
{
	static const enum gcdl_method ms[] = { GCDL_METHOD_ONEBIT_GC, GCDL_METHOD_SGC,
					       GCDL_METHOD_SIGNSGD_MV };
	static const uint32_t ps[] = { 2, 3, 16 };

	for (size_t mi = 0; mi < sizeof(ms) / sizeof(ms[0]); mi++) {
		for (int order = 0; order < 3; order++) {
			float *ref = malloc(sizeof(float) * 4 * 4096), *got = malloc(sizeof(float) * 4 * 4096);
			uint32_t dim;
			uint64_t total, at_close = run_parts(ms[mi], 1, order, 0, ref, &dim, &total);
			uint32_t senders = order == 2 ? N - 1 : N;

			ck_assert_uint_le(dim, 4096);
			/* every accepted frame is accumulated exactly once */
			ck_assert_uint_eq(total, (uint64_t)3 * senders * dim);
			/* one part, on arrival: all of it in worker or reverse order
			 * (the last frame of a chunk completes its prefix), none
			 * while worker 0 is missing */
			ck_assert_uint_eq(at_close, order == 2 ? total : 0);
			for (size_t pi = 0; pi < 2 * sizeof(ps) / sizeof(ps[0]) + 1; pi++) {
				/* 2, 3, 16 parts; then 1, 2, 3, 16 with early close */
				uint32_t parts = pi < 3 ? ps[pi] : pi == 3 ? 1 : ps[pi - 4];
				int early = pi >= 3;
				uint64_t t2;

				memset(got, 0, sizeof(float) * 4 * 4096);
				run_parts(ms[mi], parts, order, early, got, &dim, &t2);
				ck_assert_uint_eq(t2, total);
				ck_assert_msg(memcmp(ref, got, sizeof(float) * 4 * dim) == 0,
					      "method %zu, order %d, %u parts, early %d: other bits", mi,
					      order, parts, early);
			}
			free(ref);
			free(got);
		}
	}
}
END_TEST

START_TEST(parts_reject_bad_arguments)
{
	struct gcdl_profile prof;
	struct gcdl_job job;
	struct gcdl_engine_part_stats st;

	small_profile(&prof, GCDL_METHOD_ONEBIT_GC);
	open_job(&job, &prof);
	ck_assert_int_eq(gcdl_engine_set_parts(NULL, 2), -EINVAL);
	ck_assert_int_eq(gcdl_engine_set_parts(job.engine, 0), -EINVAL);
	ck_assert_int_eq(gcdl_engine_set_parts(job.engine, GCDL_ENGINE_MAX_PARTS + 1), -EINVAL);
	ck_assert_uint_eq(gcdl_engine_parts(job.engine), 1);
	ck_assert_uint_eq(gcdl_engine_parts(NULL), 0);
	ck_assert_int_eq(gcdl_engine_part_stats(NULL, 0, &st), -EINVAL);
	ck_assert_int_eq(gcdl_engine_part_stats(job.engine, 0, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_engine_part_stats(job.engine, 1, &st), -ERANGE);
	ck_assert_uint_eq(gcdl_engine_accumulate(NULL, 0), 0);
	ck_assert_uint_eq(gcdl_engine_accumulate(job.engine, 1), 0);
	ck_assert_int_eq(gcdl_engine_close_part(NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_engine_close_part(job.engine, 1, NULL), -ERANGE);
	ck_assert_int_eq(gcdl_engine_close_finish(NULL, NULL), -EINVAL);
	/* the parts cover the model once, in order */
	ck_assert_int_eq(gcdl_engine_set_parts(job.engine, 3), 0);
	for (uint32_t i = 0, next = 0, cnext = 0; i < 3; i++) {
		ck_assert_int_eq(gcdl_engine_part_stats(job.engine, i, &st), 0);
		ck_assert_uint_eq(st.coord_first, next);
		ck_assert_uint_eq(st.chunk_first, cnext);
		next += st.coord_count;
		cnext += st.chunk_count;
		if (i == 2) {
			ck_assert_uint_eq(next, gcdl_engine_dim(job.engine));
			ck_assert_uint_eq(cnext, gcdl_engine_chunks(job.engine));
		}
	}
	gcdl_job_close(&job);
}
END_TEST

START_TEST(signsgd_majority_and_update)
{
	struct gcdl_profile prof;
	struct gcdl_job job;
	struct gcdl_engine *e;
	float *vs[N], *u, *w0;
	uint32_t dim;

	small_profile(&prof, GCDL_METHOD_SIGNSGD_MV);
	prof.lr = 0.01;
	open_job(&job, &prof);
	e = job.engine;
	dim = gcdl_engine_dim(e);
	u = malloc(sizeof(float) * dim);
	w0 = malloc(sizeof(float) * dim);
	memcpy(w0, gcdl_engine_model(e), sizeof(float) * dim);
	for (uint32_t k = 0; k < N; k++) {
		vs[k] = malloc(sizeof(float) * dim);
		for (uint32_t j = 0; j < dim; j++) /* worker k votes + on j iff (j >> k) & 1 */
			vs[k][j] = ((j >> k) & 1) ? 1.0f : -1.0f;
	}
	decode_with(e, vs, 0x7, 0, u, w0); /* workers 0, 1, 2 */
	for (uint32_t j = 0; j < dim; j++) {
		int votes = 0;

		for (uint32_t k = 0; k < 3; k++)
			votes += ((j >> k) & 1) ? 1 : -1;
		/* the vote downlink: the update written is the vote itself */
		ck_assert_float_eq(u[j], votes > 0 ? 1.0f : -1.0f);
	}
	decode_with(e, vs, 0x3, 0, u, w0); /* two voters: a tie is broken by the seeded bit */
	{
		uint32_t plus = 0, ties = 0;

		for (uint32_t j = 0; j < dim; j++) {
			int votes = (j & 1 ? 1 : -1) + ((j >> 1) & 1 ? 1 : -1);

			if (votes != 0) {
				ck_assert_float_eq(u[j], votes > 0 ? 1.0f : -1.0f);
				continue;
			}
			/* 1 bit per coordinate: +-1, never 0 */
			ck_assert(u[j] == 1.0f || u[j] == -1.0f);
			ties++;
			plus += u[j] > 0;
		}
		ck_assert_uint_gt(ties, 4);
		ck_assert_uint_gt(plus, 0);
		ck_assert_uint_lt(plus, ties);
		/* a replica that steps from the vote lands where the aggregator did */
		{
			struct gcdl_job job2;
			float *w2;

			open_job(&job2, &prof);
			memcpy(gcdl_engine_model(job2.engine), w0, sizeof(float) * dim);
			ck_assert_int_eq(gcdl_engine_step(job2.engine, u, 0), 0);
			w2 = gcdl_engine_model(job2.engine);
			for (uint32_t j = 0; j < dim; j++)
				ck_assert_float_eq(w2[j], w0[j] - 0.01f * u[j]);
			gcdl_job_close(&job2);
		}
		/* the same round breaks the same ties: every replica agrees */
		{
			float *u2 = malloc(sizeof(float) * dim);

			decode_with(e, vs, 0x3, 0, u2, w0);
			ck_assert_mem_eq(u, u2, sizeof(float) * dim);
			free(u2);
		}
	}
	for (uint32_t k = 0; k < N; k++)
		free(vs[k]);
	free(u);
	free(w0);
	gcdl_job_close(&job);
}
END_TEST

/* downlink.mode onebit: the engine applies q = C(u + e) with error feedback
 * (gcdl/downlink.h), not u; q is +-(block mean) per block of the update
 * frames, the residual carries u + e - q to the next round, and a frame
 * encoded from q decodes to q bit for bit (what a worker applies). */
START_TEST(onebit_downlink_error_feedback)
{
	struct gcdl_profile prof;
	struct gcdl_job job, ref;
	struct gcdl_engine *e, *f;
	float *vs[N], *q, *u, *w0, *e0, *back;
	uint8_t payload[9000];
	uint32_t dim, l, s;

	small_profile(&prof, GCDL_METHOD_ONEBIT_GC);
	prof.downlink = GCDL_DOWNLINK_ONEBIT;
	open_job(&job, &prof);
	prof.downlink = GCDL_DOWNLINK_FLOAT32;
	open_job(&ref, &prof);
	e = job.engine;
	f = ref.engine;
	dim = gcdl_engine_dim(e);
	l = gcdl_engine_downlink_chunk_coords(e);
	s = prof.scale_block;
	ck_assert_int_eq(gcdl_engine_downlink_type(e), GCDL_MSG_UPDATE1);
	ck_assert_int_eq(gcdl_engine_downlink_type(f), GCDL_MSG_UPDATE);
	ck_assert_ptr_nonnull(gcdl_engine_residual(e));
	ck_assert_ptr_null(gcdl_engine_residual(f));
	q = malloc(sizeof(float) * dim);
	u = malloc(sizeof(float) * dim);
	w0 = malloc(sizeof(float) * dim);
	e0 = calloc(dim, sizeof(float));
	back = malloc(sizeof(float) * dim);
	for (uint32_t k = 0; k < N; k++) {
		vs[k] = malloc(sizeof(float) * dim);
		ck_assert_int_eq(gcdl_engine_worker_gradient(e, 0, k, 0, gcdl_engine_model(e),
							     vs[k]), 0);
	}
	memcpy(w0, gcdl_engine_model(e), sizeof(float) * dim);
	for (int round = 0; round < 3; round++) {
		gcdl_engine_begin_round(e, (uint32_t)round);
		for (uint32_t k = 0; k < N; k++)
			for (uint32_t c = 0; c < gcdl_engine_chunks(e); c++)
				deliver(e, k, (uint32_t)round, vs[k], c);
		gcdl_engine_close_round(e, q, NULL);
		/* the replica took q */
		for (uint32_t j = 0; j < dim; j++)
			ck_assert_float_eq(gcdl_engine_model(e)[j], w0[j] - q[j]);
		memcpy(gcdl_engine_model(e), w0, sizeof(float) * dim);
		decode_with(f, vs, 0xf, (uint32_t)round, u, w0);
		/* q: +-mean|u + e| per block; e' = u + e - q */
		for (uint32_t c0 = 0; c0 < dim; c0 += l) {
			uint32_t clen = dim - c0 < l ? dim - c0 : l;

			for (uint32_t b0 = 0; b0 < clen; b0 += s) {
				uint32_t n = clen - b0 < s ? clen - b0 : s;
				double lane[8] = { 0 }, sum;

				/* the sum's order: lane i % 8, lanes pairwise */
				for (uint32_t i = 0; i < n; i++)
					lane[i % 8] += fabsf(u[c0 + b0 + i] + e0[c0 + b0 + i]);
				sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
				      ((lane[4] + lane[5]) + (lane[6] + lane[7]));
				for (uint32_t j = c0 + b0; j < c0 + b0 + n; j++) {
					float x = u[j] + e0[j];

					ck_assert_float_eq(fabsf(q[j]), (float)(sum / n));
					ck_assert((x >= 0) == (q[j] >= 0));
					e0[j] = x - q[j];
				}
			}
		}
		ck_assert_mem_eq(gcdl_engine_residual(e), e0, sizeof(float) * dim);
		/* frames of q decode to q, bit for bit */
		for (uint32_t c0 = 0; c0 < dim; c0 += l) {
			uint32_t clen = dim - c0 < l ? dim - c0 : l;
			size_t len = gcdl_downlink_encode(q + c0, clen, s, payload);

			ck_assert_uint_eq(len, gcdl_frame_payload_len(GCDL_MSG_UPDATE1, clen, s));
			ck_assert_int_eq(gcdl_downlink_decode(payload, clen, s, back + c0), 0);
		}
		ck_assert_mem_eq(back, q, sizeof(float) * dim);
	}
	/* a bad scale is refused */
	{
		float nanv = NAN;

		gcdl_downlink_encode(q, l < dim ? l : dim, s, payload);
		gcdl_frame_put_floats(payload, &nanv, 1);
		ck_assert_int_eq(gcdl_downlink_decode(payload, l < dim ? l : dim, s, back), -EDOM);
	}
	/* the round's downlink on the wire: the 1-bit frames of the model, once */
	{
		uint64_t want = 0;

		for (uint32_t c0 = 0; c0 < dim; c0 += l)
			want += gcdl_frame_wire_bytes(gcdl_frame_payload_len(
					GCDL_MSG_UPDATE1, dim - c0 < l ? dim - c0 : l, s));
		ck_assert_uint_eq(gcdl_engine_downlink_bytes(e, 0, dim, NULL), want);
	}
	for (uint32_t k = 0; k < N; k++)
		free(vs[k]);
	free(q);
	free(u);
	free(w0);
	free(e0);
	free(back);
	gcdl_job_close(&job);
	gcdl_job_close(&ref);
}
END_TEST

/* The 1-bit downlink payload, at every count and scale block (bytes and
 * blocks that do not start on a byte boundary included): decode gives q bit
 * for bit, apply gives w - q bit for bit, and a bad scale changes nothing. */
START_TEST(downlink_payload_decode_and_apply)
{
	static const uint32_t counts[] = { 1, 7, 8, 9, 13, 64, 100, 1001 };
	static const uint32_t blocks[] = { 0, 1, 3, 8, 12, 64 };
	uint8_t payload[GCDL_MTU_MAX];
	float q[1001], back[1001], w[1001], want[1001];
	struct gcdl_rng r;

	gcdl_rng_init(&r, 7, GCDL_RNG_INIT, 0, 0);
	for (size_t ci = 0; ci < sizeof(counts) / sizeof(counts[0]); ci++)
		for (size_t bi = 0; bi < sizeof(blocks) / sizeof(blocks[0]); bi++) {
			uint32_t n = counts[ci], s = blocks[bi], blk = s == 0 ? n : s;
			float nanv = NAN;

			for (uint32_t j = 0; j < n; j++) {
				/* +-scale of the block; signed zeros too */
				float sc = j / blk % 3 == 2 ? 0.0f : 0.25f + (float)(j / blk);

				q[j] = gcdl_rng_u32(&r) & 1 ? sc : -sc;
				w[j] = (float)gcdl_rng_uniform(&r) - 0.5f;
				want[j] = w[j] - q[j];
			}
			ck_assert_uint_eq(gcdl_downlink_encode(q, n, s, payload),
					  gcdl_frame_payload_len(GCDL_MSG_UPDATE1, n, s));
			memset(back, 0xa5, sizeof(back));
			ck_assert_int_eq(gcdl_downlink_decode(payload, n, s, back), 0);
			ck_assert_mem_eq(back, q, sizeof(float) * n);
			ck_assert_int_eq(gcdl_downlink_apply(payload, n, s, w), 0);
			ck_assert_mem_eq(w, want, sizeof(float) * n);
			/* the last block's scale not finite: refused, w untouched */
			gcdl_frame_put_floats(payload + 4 * (gcdl_quant_blocks(n, s) - 1), &nanv, 1);
			ck_assert_int_eq(gcdl_downlink_apply(payload, n, s, w), -EDOM);
			ck_assert_mem_eq(w, want, sizeof(float) * n);
			ck_assert_int_eq(gcdl_downlink_decode(payload, n, s, back), -EDOM);
		}
}
END_TEST

START_TEST(optimizer_momentum_and_schedules)
{
	struct gcdl_profile prof;
	struct gcdl_job job;
	struct gcdl_engine *e;
	struct gcdl_round_info info;
	float *vs[N], *u, *w0, *g1;
	uint32_t dim;

	small_profile(&prof, GCDL_METHOD_SGC);
	prof.momentum = 0.5;
	prof.lr = 0.1;
	prof.schedule = GCDL_SCHEDULE_STEP;
	prof.step_every = 2;
	prof.step_gamma = 0.5;
	open_job(&job, &prof);
	e = job.engine;
	dim = gcdl_engine_dim(e);
	u = malloc(sizeof(float) * dim);
	g1 = malloc(sizeof(float) * dim);
	w0 = malloc(sizeof(float) * dim);
	memcpy(w0, gcdl_engine_model(e), sizeof(float) * dim);
	for (uint32_t k = 0; k < N; k++) {
		vs[k] = malloc(sizeof(float) * dim);
		for (uint32_t j = 0; j < dim; j++)
			vs[k][j] = 0.25f;
	}
	/* all workers present, normalised: g = N/N * sum = 1.0 per coordinate */
	for (uint32_t t = 0; t < 3; t++) {
		gcdl_engine_begin_round(e, t);
		for (uint32_t k = 0; k < N; k++)
			deliver(e, k, t, vs[k], 0);
		gcdl_engine_close_round(e, u, &info);
		/* m_0 = 1, m_1 = 1.5, m_2 = 1.75; lr 0.1, 0.1, 0.05 */
		ck_assert_float_eq_tol(u[0], (t == 0 ? 0.1f : t == 1 ? 0.15f : 0.0875f), 1e-6f);
		ck_assert_double_eq_tol(info.lr, (t < 2 ? 0.1 : 0.05), 1e-6);
	}
	/* the engine applied w -= u each round */
	ck_assert_float_eq_tol(gcdl_engine_model(e)[0], w0[0] - 0.3375f, 1e-6f);
	for (uint32_t k = 0; k < N; k++)
		free(vs[k]);
	free(u);
	free(g1);
	free(w0);
	gcdl_job_close(&job);
}
END_TEST

START_TEST(float_payload_round_trips)
{
	struct gcdl_profile prof;
	struct gcdl_job job;
	struct gcdl_engine *e;
	uint8_t payload[9000];
	float *v, back[400];
	uint32_t dim, count;
	int len;

	small_profile(&prof, GCDL_METHOD_SGC);
	open_job(&job, &prof);
	e = job.engine;
	dim = gcdl_engine_dim(e);
	v = malloc(sizeof(float) * dim);
	for (uint32_t j = 0; j < dim; j++)
		v[j] = (float)j * 0.5f - 3.0f;
	len = gcdl_engine_encode_chunk(e, 0, 0, 0, v, payload, sizeof(payload), &count);
	ck_assert_uint_eq(count, dim);
	ck_assert_int_eq(len, 4 * (int)dim);
	ck_assert_uint_eq(payload[0], 0xc0); /* -3.0f = 0xc0400000 big-endian */
	ck_assert_uint_eq(payload[1], 0x40);
	gcdl_frame_get_floats(back, payload, count);
	ck_assert_mem_eq(back, v, sizeof(float) * dim);
	free(v);
	gcdl_job_close(&job);
}
END_TEST

/* decode_round gives the g that close_round then steps with (lr 1, no
 * momentum: the update is g), and leaves the model alone. */
START_TEST(decode_round_is_close_round_without_step)
{
	struct gcdl_profile prof;
	struct gcdl_job job;
	struct gcdl_engine *e;
	struct gcdl_round_info info;
	float *v, *g, *u, *w0;
	uint32_t dim;

	small_profile(&prof, GCDL_METHOD_ONEBIT_GC);
	prof.lr = 0.5;
	open_job(&job, &prof);
	e = job.engine;
	dim = gcdl_engine_dim(e);
	v = malloc(sizeof(float) * dim);
	g = malloc(sizeof(float) * dim);
	u = malloc(sizeof(float) * dim);
	w0 = malloc(sizeof(float) * dim);
	memcpy(w0, gcdl_engine_model(e), sizeof(float) * dim);
	ck_assert_int_eq(gcdl_engine_decode_round(NULL, g, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_engine_decode_round(e, NULL, NULL), -EINVAL);
	gcdl_engine_begin_round(e, 3);
	for (uint32_t k = 0; k < N; k += 2) { /* workers 1 and 3 straggle */
		gcdl_engine_worker_gradient(e, 0, k, 3, w0, v);
		for (uint32_t c = 0; c < gcdl_engine_chunks(e); c++)
			deliver(e, k, 3, v, c);
	}
	ck_assert_int_eq(gcdl_engine_decode_round(e, g, &info), 0);
	ck_assert_uint_eq(info.contributors, 2);
	ck_assert_uint_eq(info.stragglers, 2);
	ck_assert_mem_eq(w0, gcdl_engine_model(e), sizeof(float) * dim);
	ck_assert_int_eq(gcdl_engine_close_round(e, u, &info), 0);
	ck_assert_uint_eq(info.stragglers, 2);
	for (uint32_t j = 0; j < dim; j++) {
		ck_assert_float_eq(u[j], 0.5f * g[j]);
		ck_assert_float_eq(gcdl_engine_model(e)[j], w0[j] - u[j]);
	}
	free(v);
	free(g);
	free(u);
	free(w0);
	gcdl_job_close(&job);
}
END_TEST

/* onebit_gc_ef, refusals first: arguments, a non-finite v (the residual
 * untouched), a residual of another method, and the unbiased decoder. */
START_TEST(ef_rejects)
{
	struct gcdl_profile prof;
	struct gcdl_job job, other;
	struct gcdl_engine *e;
	char err[256];
	float *v;
	uint32_t dim;

	small_profile(&prof, GCDL_METHOD_ONEBIT_GC_EF);
	prof.decoder = GCDL_DECODER_UNBIASED;
	ck_assert_int_eq(gcdl_profile_validate(&prof, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "onebit_gc_ef decodes with the normalised decoder") != NULL,
		      "%s", err);
	prof.decoder = GCDL_DECODER_NORMALISED;
	open_job(&job, &prof);
	e = job.engine;
	dim = gcdl_engine_dim(e);
	v = calloc(dim, sizeof(float));
	ck_assert_int_eq(gcdl_engine_worker_compress(NULL, 0, 0, v), -EINVAL);
	ck_assert_int_eq(gcdl_engine_worker_compress(e, 0, 0, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_engine_worker_compress(e, N, 0, v), -ERANGE);
	ck_assert_int_eq(gcdl_engine_worker_state_set(e, N, GCDL_WSTATE_EF, v), -ERANGE);
	ck_assert_int_eq(gcdl_engine_worker_state_set(e, 0, GCDL_WSTATE_MOMENTUM, v), -ERANGE);
	ck_assert_int_eq(gcdl_engine_worker_state_get(e, N, GCDL_WSTATE_EF, v), -ERANGE);
	/* no residual before the first round */
	ck_assert_int_eq(gcdl_engine_worker_state_get(e, 0, GCDL_WSTATE_EF, v), 0);
	v[dim / 2] = NAN;
	ck_assert_int_eq(gcdl_engine_worker_compress(e, 0, 0, v), -EDOM);
	ck_assert_int_eq(gcdl_engine_worker_state_get(e, 0, GCDL_WSTATE_EF, v), 0);
	ck_assert_int_eq(gcdl_engine_worker_state_set(e, 0, GCDL_WSTATE_EF, v), -EDOM);
	/* another method has none */
	small_profile(&prof, GCDL_METHOD_ONEBIT_GC);
	open_job(&other, &prof);
	v[dim / 2] = 1.0f;
	ck_assert_int_eq(gcdl_engine_worker_compress(other.engine, 0, 0, v), 0);
	ck_assert_float_eq(v[dim / 2], 1.0f); /* untouched */
	ck_assert_int_eq(gcdl_engine_worker_state_set(other.engine, 0, GCDL_WSTATE_EF, v), -ERANGE);
	ck_assert_int_eq(gcdl_engine_worker_state_get(other.engine, 0, GCDL_WSTATE_EF, v), -ERANGE);
	free(v);
	gcdl_job_close(&other);
	gcdl_job_close(&job);
}
END_TEST

/* The residual identity of METHOD.md over several rounds, exactly in float
 * arithmetic: x = v + e_old, q = +-mean|x| per block of the uplink's chunks
 * (the sign of x), e_new = x - q; the frame carries q's scales and signs,
 * and the aggregator decodes it to q (the normalised decoder, every worker
 * in: g = sum of q). A worker that skips a round keeps its residual. */
START_TEST(ef_residual_identity)
{
	struct gcdl_profile prof;
	struct gcdl_job job;
	struct gcdl_engine *e;
	struct gcdl_round_info info;
	float *v, *x, *eold, *g, *sum, *r, q[9000];
	uint32_t dim, L, S = 8;

	small_profile(&prof, GCDL_METHOD_ONEBIT_GC_EF);
	prof.scale_block = S;
	prof.synth_features = 30; /* dim 93 */
	prof.mtu = 64;            /* several chunks, a short last block */
	open_job(&job, &prof);
	e = job.engine;
	dim = gcdl_engine_dim(e);
	L = gcdl_engine_chunk_coords(e);
	ck_assert_msg(gcdl_engine_chunks(e) > 1 && (L % S != 0 || dim % L % S != 0),
		      "dim %u, chunks of %u: want several, and a short block", dim, L);
	v = malloc(sizeof(float) * dim);
	x = malloc(sizeof(float) * dim);
	eold = calloc(dim, sizeof(float));
	r = malloc(sizeof(float) * dim);
	g = malloc(sizeof(float) * dim);
	sum = malloc(sizeof(float) * dim);
	for (uint32_t t = 0; t < 5; t++) {
		gcdl_engine_begin_round(e, t);
		memset(sum, 0, sizeof(float) * dim);
		for (uint32_t k = 0; k < N; k++) {
			int had = gcdl_engine_worker_state_get(e, k, GCDL_WSTATE_EF, eold);

			/* worker 3 straggles in rounds 1 and 2: its residual stays */
			if (k == 3 && (t == 1 || t == 2)) {
				ck_assert_int_eq(had, 1);
				continue;
			}
			ck_assert_int_eq(had, t == 0 ? 0 : 1);
			gcdl_engine_worker_gradient(e, 0, k, t, gcdl_engine_model(e), v);
			if (had == 0)
				memset(eold, 0, sizeof(float) * dim);
			for (uint32_t j = 0; j < dim; j++)
				x[j] = v[j] + eold[j];
			/* a payload asked for before this round's compression is refused */
			{
				uint8_t pl[9000];

				ck_assert_int_eq(gcdl_engine_encode_chunk(e, k, t, 0, v, pl,
									  sizeof(pl), NULL), -ESTALE);
			}
			ck_assert_int_eq(gcdl_engine_worker_compress(e, k, t, v), 0);
			ck_assert_int_eq(gcdl_engine_worker_state_get(e, k, GCDL_WSTATE_EF, r), 1);
			for (uint32_t c0 = 0; c0 < dim; c0 += L) {
				uint32_t clen = dim - c0 < L ? dim - c0 : L;
				uint8_t pl[9000];
				uint32_t cnt;
				int len = gcdl_engine_encode_chunk(e, k, t, c0 / L, v, pl, sizeof(pl),
								   &cnt);

				/* what the frame carries decodes to q */
				ck_assert_int_gt(len, 0);
				ck_assert_uint_eq(cnt, clen);
				ck_assert_int_eq(gcdl_downlink_decode(pl, cnt, S, q), 0);
				for (uint32_t b0 = c0; b0 < c0 + clen; b0 += S) {
					uint32_t n = c0 + clen - b0 < S ? c0 + clen - b0 : S;
					float s = gcdl_downlink_scale(x + b0, n);

					ck_assert_float_gt(s, 0.0f);
					for (uint32_t j = b0; j < b0 + n; j++) {
						float qj = x[j] >= 0.0f ? s : -s;

						ck_assert_msg(q[j - c0] == qj, "t %u k %u j %u: q", t, k, j);
						ck_assert_msg(r[j] == x[j] - qj, "t %u k %u j %u: e", t, k, j);
						if (t == 0)
							sum[j] += qj;
					}
				}
			}
			for (uint32_t c = 0; c < gcdl_engine_chunks(e); c++)
				deliver(e, k, t, v, c);
		}
		ck_assert_int_eq(gcdl_engine_decode_round(e, g, &info), 0);
		if (t == 0) {
			/* every worker in: the normalised decoder's N/|R| is 1 */
			ck_assert_uint_eq(info.contributors, N);
			for (uint32_t j = 0; j < dim; j++)
				ck_assert_float_eq_tol(g[j], sum[j], 1e-6f * fabsf(sum[j]) + 1e-12f);
		}
		gcdl_engine_close_round(e, NULL, &info);
	}
	free(v);
	free(x);
	free(eold);
	free(r);
	free(g);
	free(sum);
	gcdl_job_close(&job);
}
END_TEST

/* gcdl-sim with worker 0 always late (timing stragglers, 1000x slower):
 * it never computes, so it never has a residual; the others have one, and
 * a residual set from a checkpoint is the one kept. */
START_TEST(ef_straggler_keeps_residual)
{
	struct gcdl_profile prof;
	struct gcdl_job job;
	struct gcdl_sim_result res;
	float *r, *got;
	uint32_t dim;

	small_profile(&prof, GCDL_METHOD_ONEBIT_GC_EF);
	prof.rounds = 10;
	prof.eval_every = 0;
	prof.straggler_model = GCDL_STRAGGLER_TIMING;
	prof.deadline_us = 5000;
	snprintf(prof.slowdown, sizeof(prof.slowdown), "0:1000");
	open_job(&job, &prof);
	ck_assert_int_eq(gcdl_sim_run(&job, NULL, &res), 0);
	ck_assert_uint_eq(res.stragglers, prof.rounds);
	dim = gcdl_engine_dim(job.engine);
	r = malloc(sizeof(float) * dim);
	got = malloc(sizeof(float) * dim);
	ck_assert_int_eq(gcdl_engine_worker_state_get(job.engine, 0, GCDL_WSTATE_EF, got), 0);
	for (uint32_t k = 1; k < N; k++)
		ck_assert_int_eq(gcdl_engine_worker_state_get(job.engine, k, GCDL_WSTATE_EF, got), 1);
	for (uint32_t j = 0; j < dim; j++)
		r[j] = (float)j * 0.25f;
	ck_assert_int_eq(gcdl_engine_worker_state_set(job.engine, 0, GCDL_WSTATE_EF, r), 0);
	ck_assert_int_eq(gcdl_engine_worker_state_get(job.engine, 0, GCDL_WSTATE_EF, got), 1);
	ck_assert_mem_eq(got, r, sizeof(float) * dim);
	free(r);
	free(got);
	gcdl_job_close(&job);
}
END_TEST

/* optim.momentum_at = workers: a worker sends its momentum m_k = mu m_k + v_k
 * (onebit_gc quantizes it as it is), kept across the rounds it skips, and
 * the aggregator steps without momentum: u = lr g. */
START_TEST(worker_momentum)
{
	struct gcdl_profile prof;
	struct gcdl_job job;
	struct gcdl_engine *e;
	struct gcdl_round_info info;
	float *v, *m, *want, *u, *g, *w0;
	uint32_t dim;

	small_profile(&prof, GCDL_METHOD_ONEBIT_GC);
	prof.momentum = 0.75;
	prof.momentum_at = GCDL_MOMENTUM_WORKERS;
	prof.lr = 0.5;
	open_job(&job, &prof);
	e = job.engine;
	dim = gcdl_engine_dim(e);
	v = malloc(sizeof(float) * dim);
	m = calloc(dim, sizeof(float));
	want = malloc(sizeof(float) * dim);
	u = malloc(sizeof(float) * dim);
	g = malloc(sizeof(float) * dim);
	w0 = malloc(sizeof(float) * dim);
	for (uint32_t t = 0; t < 3; t++) {
		gcdl_engine_worker_gradient(e, 0, 1, t, gcdl_engine_model(e), v);
		for (uint32_t j = 0; j < dim; j++)
			want[j] = m[j] = 0.75f * m[j] + v[j];
		ck_assert_int_eq(gcdl_engine_worker_compress(e, 1, t, v), 0);
		ck_assert_mem_eq(v, want, sizeof(float) * dim);
	}
	/* worker 1's momentum as kept, worker 2 (never computed) has none */
	ck_assert_int_eq(gcdl_engine_worker_state_get(e, 1, GCDL_WSTATE_MOMENTUM, v), 1);
	ck_assert_mem_eq(v, m, sizeof(float) * dim);
	ck_assert_int_eq(gcdl_engine_worker_state_get(e, 2, GCDL_WSTATE_MOMENTUM, v), 0);
	ck_assert_int_eq(gcdl_engine_worker_state_get(e, 1, GCDL_WSTATE_EF, v), -ERANGE);
	/* the aggregator: no momentum on top */
	memcpy(w0, gcdl_engine_model(e), sizeof(float) * dim);
	gcdl_engine_begin_round(e, 5);
	for (uint32_t k = 0; k < N; k++) {
		gcdl_engine_worker_gradient(e, 0, k, 5, w0, v);
		ck_assert_int_eq(gcdl_engine_worker_compress(e, k, 5, v), 0);
		for (uint32_t c = 0; c < gcdl_engine_chunks(e); c++)
			deliver(e, k, 5, v, c);
	}
	ck_assert_int_eq(gcdl_engine_decode_round(e, g, &info), 0);
	ck_assert_int_eq(gcdl_engine_close_round(e, u, &info), 0);
	for (uint32_t j = 0; j < dim; j++)
		ck_assert_float_eq(u[j], 0.5f * g[j]);
	free(v);
	free(m);
	free(want);
	free(u);
	free(g);
	free(w0);
	gcdl_job_close(&job);
}
END_TEST

/* model.type external: no data; the trainer computes v_k and evaluates; the
 * update of a round is exactly its decoded gradient whatever [optim] says
 * (the trainer's optimizer steps): the same bits as decode_round on a twin
 * engine, round after round (no momentum carried, step size 1). */
START_TEST(external_update_is_the_decoded_gradient)
{
	struct gcdl_profile p;
	struct gcdl_job ja, jb;
	struct gcdl_engine *a, *b;
	enum { D = 3000 };
	float v[D], *u = malloc(sizeof(float) * D), *g = malloc(sizeof(float) * D);
	double loss = 0;

	gcdl_profile_defaults(&p);
	p.workers = N;
	p.partitions = N;
	p.redundancy = 2;
	p.method = GCDL_METHOD_ONEBIT_GC_EF;
	p.model = GCDL_MODEL_EXTERNAL;
	p.model_dim = D;
	p.downlink = GCDL_DOWNLINK_RELAY;
	p.lr = 0.3;        /* ignored: the trainer's optimizer steps */
	p.momentum = 0.9;
	p.weight_decay = 0.01;
	p.scale_block = 64;
	open_job(&ja, &p);
	open_job(&jb, &p);
	a = ja.engine;
	b = jb.engine;
	ck_assert_uint_eq(gcdl_engine_dim(a), D);
	ck_assert_uint_eq(ja.train.rows, 0);
	ck_assert_int_eq(gcdl_engine_worker_gradient(a, 0, 0, 0, gcdl_engine_model(a), v),
			 -ENOTSUP);
	ck_assert_int_eq(gcdl_engine_eval(a, gcdl_engine_model(a), &ja.test, &loss, NULL),
			 -ENOTSUP);
	for (uint32_t t = 0; t < 3; t++) {
		struct gcdl_round_info ia, ib;

		ck_assert_int_eq(gcdl_engine_begin_round(a, t), 0);
		ck_assert_int_eq(gcdl_engine_begin_round(b, t), 0);
		for (uint32_t k = 0; k < N; k++) {
			if (k == t) /* a straggler per round */
				continue;
			for (uint32_t j = 0; j < D; j++)
				v[j] = (float)(((j * 7 + k * 13 + t * 5) % 23) - 11) * 0.01f;
			ck_assert_int_eq(gcdl_engine_worker_compress(a, k, t, v), 0);
			ck_assert_int_eq(gcdl_engine_worker_compress(b, k, t, v), 0);
			for (uint32_t c = 0; c < gcdl_engine_chunks(a); c++) {
				deliver(a, k, t, v, c);
				deliver(b, k, t, v, c);
			}
		}
		ck_assert_int_eq(gcdl_engine_close_round(a, u, &ia), 0);
		ck_assert_int_eq(gcdl_engine_decode_round(b, g, &ib), 0);
		ck_assert_int_eq(memcmp(u, g, sizeof(float) * D), 0);
		ck_assert(g[0] != 0.0f || g[1] != 0.0f); /* not a zero update */
	}
	free(u);
	free(g);
	gcdl_job_close(&ja);
	gcdl_job_close(&jb);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("engine");
	TCase *neg = tcase_create("negative");
	TCase *pos = tcase_create("positive");
	SRunner *sr;
	int failed;

	tcase_set_timeout(pos, 120);
	tcase_add_test(neg, create_rejects);
	tcase_add_test(neg, ef_rejects);
	tcase_add_test(pos, ef_residual_identity);
	tcase_add_test(pos, ef_straggler_keeps_residual);
	tcase_add_test(pos, worker_momentum);
	tcase_add_test(neg, calls_reject_bad_arguments);
	tcase_add_test(neg, duplicates_are_ignored_and_counted);
	tcase_add_test(neg, non_finite_values_are_refused);
	tcase_add_test(neg, scales_beyond_the_bound_are_refused);
	tcase_add_test(pos, worker_weights_sum_to_full_gradient);
	tcase_add_test(pos, float_decoders_exactly_unbiased);
	tcase_add_test(pos, onebit_statistically_unbiased);
	tcase_add_test(pos, arrival_order_does_not_matter);
	tcase_add_test(pos, parts_give_the_same_bits);
	tcase_add_test(neg, parts_reject_bad_arguments);
	tcase_add_test(pos, signsgd_majority_and_update);
	tcase_add_test(pos, onebit_downlink_error_feedback);
	tcase_add_test(pos, downlink_payload_decode_and_apply);
	tcase_add_test(pos, optimizer_momentum_and_schedules);
	tcase_add_test(pos, float_payload_round_trips);
	tcase_add_test(pos, decode_round_is_close_round_without_step);
	tcase_add_test(pos, external_update_is_the_decoded_gradient);
	suite_add_tcase(s, neg);
	suite_add_tcase(s, pos);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
