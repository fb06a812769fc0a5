/* SPDX-License-Identifier: BSD-3-Clause */
/* The in-memory cluster: convergence to a known optimum, determinism, the
 * uplink accounting, and the metrics file. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gcdl/engine.h"
#include "gcdl/metrics.h"
#include "gcdl/sim.h"

static void
ls_profile(struct gcdl_profile *p, enum gcdl_method m)
{
	gcdl_profile_defaults(p);
	p->method = m;
	p->workers = 6;
	p->partitions = 6;
	p->redundancy = 2;
	p->dataset = GCDL_DATA_SYNTH_LINEAR;
	p->model = GCDL_MODEL_LEAST_SQUARES;
	p->normalize = GCDL_NORM_NONE;
	p->train_rows = 600;
	p->test_rows = 100;
	p->synth_features = 8;
	p->synth_noise = 0.5;
	p->straggler_p = 0.2;
	p->eval_every = 0;
	p->seed = 5;
}

/* Closed-form least-squares optimum on the training set (with bias), by
 * Gaussian elimination in double; returns the minimal loss 1/(2n) sum r^2. */
static double
ls_optimum(const struct gcdl_dataset *ds)
{
	const uint32_t d = ds->features + 1;
	double a[16][17] = { { 0 } }, w[16], loss = 0;

	ck_assert_uint_le(d, 16);
	for (uint32_t i = 0; i < ds->rows; i++) {
		double x[16];

		for (uint32_t j = 0; j < ds->features; j++)
			x[j] = ds->x[(size_t)i * ds->features + j];
		x[d - 1] = 1.0;
		for (uint32_t r = 0; r < d; r++) {
			for (uint32_t c = 0; c < d; c++)
				a[r][c] += x[r] * x[c];
			a[r][d] += x[r] * ds->y[i];
		}
	}
	for (uint32_t c = 0; c < d; c++) {
		uint32_t piv = c;

		for (uint32_t r = c + 1; r < d; r++)
			if (fabs(a[r][c]) > fabs(a[piv][c]))
				piv = r;
		for (uint32_t k = 0; k <= d; k++) {
			double t = a[c][k];

			a[c][k] = a[piv][k];
			a[piv][k] = t;
		}
		for (uint32_t r = 0; r < d; r++) {
			double f;

			if (r == c)
				continue;
			f = a[r][c] / a[c][c];
			for (uint32_t k = c; k <= d; k++)
				a[r][k] -= f * a[c][k];
		}
	}
	for (uint32_t c = 0; c < d; c++)
		w[c] = a[c][d] / a[c][c];
	for (uint32_t i = 0; i < ds->rows; i++) {
		double r = w[d - 1] - ds->y[i];

		for (uint32_t j = 0; j < ds->features; j++)
			r += w[j] * ds->x[(size_t)i * ds->features + j];
		loss += r * r;
	}
	return loss / (2.0 * ds->rows);
}

static double
run_loss(struct gcdl_profile *p, double *opt)
{
	struct gcdl_job job;
	struct gcdl_sim_result res;
	char err[256] = "";

	ck_assert_msg(gcdl_job_open(&job, p, 1, err, sizeof(err)) == 0, "%s", err);
	*opt = ls_optimum(&job.train);
	ck_assert_int_eq(gcdl_sim_run(&job, NULL, &res), 0);
	ck_assert_uint_eq(res.rounds, p->rounds);
	gcdl_job_close(&job);
	return res.train_loss;
}

START_TEST(sim_rejects_null)
{
	struct gcdl_job job = { 0 };

	ck_assert_int_eq(gcdl_sim_run(NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_sim_run(&job, NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(metrics_rejects)
{
	char err[256];
	struct gcdl_metrics_row row = { 0 };

	ck_assert_ptr_null(gcdl_metrics_open(NULL, err, sizeof(err)));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(gcdl_metrics_open("/nonexistent-dir/m.csv", err, sizeof(err)));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert(strstr(err, "/nonexistent-dir/m.csv") != NULL);
	ck_assert_int_eq(gcdl_metrics_write(NULL, &row), -EINVAL);
	ck_assert_int_eq(gcdl_metrics_write(stdout, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_metrics_write(stdout, &row), -EINVAL); /* no method */
	ck_assert_int_eq(gcdl_metrics_close(NULL), 0);
}
END_TEST

/* Float coded gradients, full partitions, stragglers p = 0.2 with the
 * normalised decoder: the decoded gradient is a noisy estimate of grad F, so
 * with a step size decaying as eta0/sqrt(t+1) the loss approaches the
 * optimum; 2000 rounds bring it within 1% of the optimum (measured: well
 * inside). Without stragglers the iteration is plain gradient descent and
 * must reach the optimum to 1e-4 relative. */
START_TEST(least_squares_converges_to_optimum)
{
	struct gcdl_profile p;
	double opt, loss;

	ls_profile(&p, GCDL_METHOD_SGC);
	p.straggler_model = GCDL_STRAGGLER_NONE;
	p.rounds = 400;
	p.lr = 0.3;
	loss = run_loss(&p, &opt);
	ck_assert_msg(loss <= opt * (1 + 1e-4) && loss >= opt * (1 - 1e-6),
		      "no stragglers: loss %.8g, optimum %.8g", loss, opt);

	ls_profile(&p, GCDL_METHOD_SGC);
	p.rounds = 2000;
	p.lr = 0.3;
	p.schedule = GCDL_SCHEDULE_SQRT;
	loss = run_loss(&p, &opt);
	ck_assert_msg(loss <= opt * 1.01, "sgc p=0.2: loss %.8g, optimum %.8g", loss, opt);

	/* 1-bit coded: more noise, same tolerance with the decaying step */
	ls_profile(&p, GCDL_METHOD_ONEBIT_GC);
	p.rounds = 2000;
	p.lr = 0.1;
	p.scale_block = 8;
	p.schedule = GCDL_SCHEDULE_SQRT;
	loss = run_loss(&p, &opt);
	ck_assert_msg(loss <= opt * 1.05, "onebit p=0.2: loss %.8g, optimum %.8g", loss, opt);
}
END_TEST

static char *
slurp_without_wall(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512], *out = calloc(1, 1 << 20);
	size_t n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *last = strrchr(line, ',');

		ck_assert_ptr_nonnull(last);
		*last = '\0';
		n += (size_t)snprintf(out + n, (1 << 20) - n, "%s\n", line);
	}
	fclose(f);
	return out;
}

static void
run_to_file(const struct gcdl_profile *p, const char *path, struct gcdl_sim_result *res)
{
	struct gcdl_sim_opts o = { 0 };
	struct gcdl_job job;
	char err[256] = "";

	ck_assert_msg(gcdl_job_open(&job, p, 1, err, sizeof(err)) == 0, "%s", err);
	o.metrics = gcdl_metrics_open(path, err, sizeof(err));
	ck_assert_ptr_nonnull(o.metrics);
	ck_assert_int_eq(gcdl_sim_run(&job, &o, res), 0);
	ck_assert_int_eq(gcdl_metrics_close(o.metrics), 0);
	gcdl_job_close(&job);
}

START_TEST(same_seed_same_csv_and_accounting)
{
	struct gcdl_profile p;
	struct gcdl_sim_result r1, r2;
	char a[] = "/tmp/gcdl_sim_a_XXXXXX", b[] = "/tmp/gcdl_sim_b_XXXXXX";
	char *ta, *tb, header[128];
	FILE *f;
	uint64_t frames_expected = 0;

	close(mkstemp(a));
	close(mkstemp(b));
	gcdl_profile_defaults(&p);
	p.workers = 5;
	p.redundancy = 2;
	p.dataset = GCDL_DATA_SYNTH_GMM;
	p.train_rows = 500;
	p.test_rows = 200;
	p.synth_features = 40;
	p.synth_classes = 3;
	p.rounds = 30;
	p.eval_every = 7;
	p.scale_block = 16;
	p.mtu = 80; /* 123 coords; 3L/8 <= 80-36 gives chunks of 112 and 11 */
	run_to_file(&p, a, &r1);
	run_to_file(&p, b, &r2);
	ta = slurp_without_wall(a);
	tb = slurp_without_wall(b);
	ck_assert_str_eq(ta, tb);
	/* header exact; rows evaluated every 7 rounds and at the last */
	f = fopen(a, "r");
	ck_assert_ptr_nonnull(fgets(header, sizeof(header), f));
	fclose(f);
	ck_assert_str_eq(header, GCDL_METRICS_HEADER "\n");
	ck_assert(strstr(ta, "\n7,onebit_gc,0.") != NULL);
	ck_assert(strstr(ta, "\n8,onebit_gc,,,") != NULL);
	ck_assert(strstr(ta, "\n30,onebit_gc,0.") != NULL);
	/* uplink accounting: every non-straggler sends 2 frames per round; the
	 * 112-coordinate chunk carries 7 scales + 14 bytes = 42 payload bytes
	 * (14 + 36 + 42 + 4 FCS = 96 on the wire), the 11-coordinate one 1 scale
	 * + 2 bytes = 6 (padded to 60, + 4 FCS = 64). */
	frames_expected = r1.frames;
	ck_assert_uint_eq(frames_expected % 2, 0);
	ck_assert_uint_eq(r1.frames, 2 * (30 * 5 - r1.stragglers));
	ck_assert_uint_eq(r1.payload_bits, (r1.frames / 2) * (42 + 6) * 8);
	ck_assert_uint_eq(r1.uplink_bits, (r1.frames / 2) * (96 + 64) * 8);
	ck_assert_uint_gt(r1.stragglers, 0);
	ck_assert_uint_eq(r1.uplink_bits, r2.uplink_bits);
	/* a different seed changes the run */
	p.seed = 2;
	run_to_file(&p, b, &r2);
	free(tb);
	tb = slurp_without_wall(b);
	ck_assert_str_ne(ta, tb);
	free(ta);
	free(tb);
	unlink(a);
	unlink(b);
}
END_TEST

START_TEST(timing_stragglers_follow_the_deadline)
{
	struct gcdl_profile p;
	struct gcdl_sim_result r;
	struct gcdl_job job;
	char err[256] = "";

	gcdl_profile_defaults(&p);
	p.workers = 4;
	p.dataset = GCDL_DATA_SYNTH_GMM;
	p.train_rows = 400;
	p.test_rows = 100;
	p.rounds = 50;
	p.straggler_model = GCDL_STRAGGLER_TIMING;
	p.shift_us = 1000;
	p.mean_us = 100;
	p.deadline_us = 1500; /* P(1000 + Exp(100) > 1500) = e^-5: normal workers make it */
	snprintf(p.slowdown, sizeof(p.slowdown), "2:5"); /* worker 2: >= 5000 us, always late */
	ck_assert_msg(gcdl_job_open(&job, &p, 1, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(gcdl_sim_run(&job, NULL, &r), 0);
	gcdl_job_close(&job);
	/* exactly worker 2 every round, plus the rare e^-5 events (expected 0.2) */
	ck_assert_uint_ge(r.stragglers, 50);
	ck_assert_uint_le(r.stragglers, 53);
}
END_TEST

START_TEST(packet_loss_rejected_out_of_range)
{
	struct gcdl_profile p;
	struct gcdl_job job;
	struct gcdl_sim_opts o = { 0 };
	char err[256] = "";

	ls_profile(&p, GCDL_METHOD_ONEBIT_GC);
	p.rounds = 2;
	ck_assert_msg(gcdl_job_open(&job, &p, 1, err, sizeof(err)) == 0, "%s", err);
	o.packet_loss = -0.1;
	ck_assert_int_eq(gcdl_sim_run(&job, &o, NULL), -EINVAL);
	o.packet_loss = 1.5;
	ck_assert_int_eq(gcdl_sim_run(&job, &o, NULL), -EINVAL);
	o.packet_loss = NAN;
	ck_assert_int_eq(gcdl_sim_run(&job, &o, NULL), -EINVAL);
	gcdl_job_close(&job);
}
END_TEST

/* Every frame is lost independently with probability q: with q = 1 nothing
 * arrives and every worker is a straggler; with q = 0.3 the lost fraction of
 * the frames sent lies within 5 binomial standard errors of 0.3. */
START_TEST(packet_loss_drops_frames)
{
	struct gcdl_profile p;
	struct gcdl_job job;
	struct gcdl_sim_opts o = { 0 };
	struct gcdl_sim_result r;
	char err[256] = "";
	double sent, frac, se;

	ls_profile(&p, GCDL_METHOD_SGC);
	p.rounds = 40;
	p.mtu = 64; /* a few float32 coordinates per frame: several chunks per worker */
	p.downlink = GCDL_DOWNLINK_FLOAT32; /* a 1-bit update frame of 256 would not fit */
	ck_assert_msg(gcdl_job_open(&job, &p, 1, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_gt(gcdl_engine_chunks(job.engine), 1);
	o.packet_loss = 1.0;
	ck_assert_int_eq(gcdl_sim_run(&job, &o, &r), 0);
	ck_assert_uint_eq(r.frames, 0);
	ck_assert_uint_eq(r.uplink_bits, 0);
	ck_assert_uint_eq(r.stragglers, 40 * 6);
	ck_assert_uint_gt(r.lost_frames, 0);
	ck_assert_uint_eq(r.lost_frames % gcdl_engine_chunks(job.engine), 0);
	gcdl_job_close(&job);

	ck_assert_msg(gcdl_job_open(&job, &p, 1, err, sizeof(err)) == 0, "%s", err);
	o.packet_loss = 0.3;
	ck_assert_int_eq(gcdl_sim_run(&job, &o, &r), 0);
	sent = (double)(r.frames + r.lost_frames);
	frac = r.lost_frames / sent;
	se = sqrt(0.3 * 0.7 / sent);
	ck_assert_msg(fabs(frac - 0.3) < 5 * se, "lost %g of %g frames", frac, sent);
	gcdl_job_close(&job);
}
END_TEST

START_TEST(variance_rejects)
{
	struct gcdl_profile p;
	struct gcdl_job job = { 0 };
	struct gcdl_sim_variance v;
	struct gcdl_sim_opts o = { 0 };
	char err[256] = "";

	ck_assert_int_eq(gcdl_sim_variance(NULL, NULL, 10, &v), -EINVAL);
	ck_assert_int_eq(gcdl_sim_variance(&job, NULL, 10, &v), -EINVAL);
	ls_profile(&p, GCDL_METHOD_SIGNSGD_MV);
	p.rounds = 1;
	ck_assert_msg(gcdl_job_open(&job, &p, 1, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(gcdl_sim_variance(&job, NULL, 10, &v), -ENOTSUP);
	gcdl_job_close(&job);
	ls_profile(&p, GCDL_METHOD_SGC);
	ck_assert_msg(gcdl_job_open(&job, &p, 1, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(gcdl_sim_variance(&job, NULL, 1, &v), -EINVAL);
	ck_assert_int_eq(gcdl_sim_variance(&job, NULL, 10, NULL), -EINVAL);
	o.packet_loss = 2;
	ck_assert_int_eq(gcdl_sim_variance(&job, &o, 10, &v), -EINVAL);
	gcdl_job_close(&job);
}
END_TEST

/* Sum over workers of ||v_k||^2, and of the 1-bit quantizer's variance
 * sum_j (B_kb^2 - v_kj^2) (blocks of S coordinates inside each chunk). */
static void
worker_moments(struct gcdl_job *job, double *vsq, double *qvar)
{
	struct gcdl_engine *e = job->engine;
	uint32_t dim = gcdl_engine_dim(e), L = gcdl_engine_chunk_coords(e);
	uint32_t S = job->prof.scale_block ? job->prof.scale_block : L;
	float *v = malloc(sizeof(float) * dim);

	*vsq = *qvar = 0;
	for (uint32_t k = 0; k < job->prof.workers; k++) {
		ck_assert_int_eq(gcdl_engine_worker_gradient(e, 0, k, job->prof.rounds,
							     gcdl_engine_model(e), v), 0);
		for (uint32_t c0 = 0; c0 < dim; c0 += L) {
			uint32_t cend = c0 + L < dim ? c0 + L : dim;

			for (uint32_t b0 = c0; b0 < cend; b0 += S) {
				uint32_t bend = b0 + S < cend ? b0 + S : cend;
				double B = 0;

				for (uint32_t j = b0; j < bend; j++)
					B = fmax(B, fabs(v[j]));
				for (uint32_t j = b0; j < bend; j++) {
					*vsq += (double)v[j] * v[j];
					*qvar += B * B - (double)v[j] * v[j];
				}
			}
		}
	}
	free(v);
}

/* The unbiased decoder's mean squared error against grad F has a closed form
 * under Bernoulli(p) stragglers: sgc (float32) gives p/(1-p) sum_k ||v_k||^2;
 * the 1-bit quantizer adds 1/(1-p) sum_k sum_j (B^2 - v_j^2). The measured
 * MSE must lie within 5 of its own standard errors of it, its bias^2 must be
 * small against it, and the model must not change. Without stragglers, sgc
 * decodes grad F up to float rounding. */
START_TEST(variance_matches_closed_form)
{
	const double p = 0.3;
	struct gcdl_profile prof;
	struct gcdl_job job;
	struct gcdl_sim_variance v;
	char err[256] = "";
	double vsq, qvar, want;
	float *w0;
	uint32_t dim;

	for (int m = 0; m < 2; m++) {
		ls_profile(&prof, m ? GCDL_METHOD_ONEBIT_GC : GCDL_METHOD_SGC);
		prof.rounds = 3;
		prof.straggler_p = p;
		prof.decoder = GCDL_DECODER_UNBIASED;
		prof.scale_block = 4;
		ck_assert_msg(gcdl_job_open(&job, &prof, 1, err, sizeof(err)) == 0, "%s", err);
		ck_assert_int_eq(gcdl_sim_run(&job, NULL, NULL), 0);
		dim = gcdl_engine_dim(job.engine);
		w0 = malloc(sizeof(float) * dim);
		memcpy(w0, gcdl_engine_model(job.engine), sizeof(float) * dim);
		worker_moments(&job, &vsq, &qvar);
		ck_assert_int_eq(gcdl_sim_variance(&job, NULL, 4000, &v), 0);
		ck_assert_mem_eq(w0, gcdl_engine_model(job.engine), sizeof(float) * dim);
		want = p / (1 - p) * vsq + (m ? qvar / (1 - p) : 0.0);
		ck_assert_uint_eq(v.draws, 4000);
		ck_assert_msg(fabs(v.mse - want) < 5 * v.mse_stderr,
			      "method %d: mse %g, closed form %g, stderr %g", m, v.mse, want,
			      v.mse_stderr);
		ck_assert_double_lt(v.bias2, 0.01 * v.mse);
		ck_assert_double_lt(fabs(v.stragglers - p * prof.workers), 0.1);
		ck_assert_double_gt(v.grad_norm2, 0);
		free(w0);
		gcdl_job_close(&job);
	}
	ls_profile(&prof, GCDL_METHOD_SGC);
	prof.rounds = 3;
	prof.straggler_model = GCDL_STRAGGLER_NONE;
	ck_assert_msg(gcdl_job_open(&job, &prof, 1, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(gcdl_sim_variance(&job, NULL, 10, &v), 0);
	ck_assert_double_lt(v.mse, 1e-10 * v.grad_norm2);
	ck_assert_double_eq(v.stragglers, 0);
	gcdl_job_close(&job);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sim");
	TCase *neg = tcase_create("negative");
	TCase *pos = tcase_create("positive");
	SRunner *sr;
	int failed;

	tcase_set_timeout(pos, 240);
	tcase_add_test(neg, sim_rejects_null);
	tcase_add_test(neg, metrics_rejects);
	tcase_add_test(neg, packet_loss_rejected_out_of_range);
	tcase_add_test(neg, variance_rejects);
	tcase_add_test(pos, packet_loss_drops_frames);
	tcase_add_test(pos, variance_matches_closed_form);
	tcase_add_test(pos, least_squares_converges_to_optimum);
	tcase_add_test(pos, same_seed_same_csv_and_accounting);
	tcase_add_test(pos, timing_stragglers_follow_the_deadline);
	suite_add_tcase(s, neg);
	suite_add_tcase(s, pos);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
