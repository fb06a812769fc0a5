/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "gcdl/model.h"
#include "gcdl/rng.h"

static float *
fmalloc(size_t n)
{
	float *p = malloc(sizeof(float) * (n ? n : 1));

	ck_assert_ptr_nonnull(p);
	return p;
}

static void
fill_normal(struct gcdl_rng *r, float *a, size_t n, double sd)
{
	for (size_t i = 0; i < n; i++)
		a[i] = (float)(sd * gcdl_rng_normal(r));
}

static void
fill_labels(struct gcdl_rng *r, float *y, size_t n, uint32_t classes)
{
	for (size_t i = 0; i < n; i++)
		y[i] = (float)gcdl_rng_below(r, classes);
}

/* ---- negative cases ---------------------------------------------------- */

START_TEST(test_kind_parse)
{
	enum gcdl_model_kind k = GCDL_MODEL__COUNT;

	ck_assert_int_eq(gcdl_model_kind_parse(NULL, &k), -EINVAL);
	ck_assert_int_eq(gcdl_model_kind_parse("softmax", NULL), -EINVAL);
	ck_assert_int_eq(gcdl_model_kind_parse("", &k), -EINVAL);
	ck_assert_int_eq(gcdl_model_kind_parse("Softmax", &k), -EINVAL);
	ck_assert_int_eq(gcdl_model_kind_parse("mlp2", &k), -EINVAL);
	ck_assert_int_eq(gcdl_model_kind_parse("least", &k), -EINVAL);
	ck_assert_int_eq(k, GCDL_MODEL__COUNT);
	ck_assert_int_eq(gcdl_model_kind_parse("least_squares", &k), 0);
	ck_assert_int_eq(k, GCDL_MODEL_LEAST_SQUARES);
	ck_assert_int_eq(gcdl_model_kind_parse("softmax", &k), 0);
	ck_assert_int_eq(k, GCDL_MODEL_SOFTMAX);
	ck_assert_int_eq(gcdl_model_kind_parse("mlp", &k), 0);
	ck_assert_int_eq(k, GCDL_MODEL_MLP);
	ck_assert_int_eq(gcdl_model_kind_parse("external", &k), 0);
	ck_assert_int_eq(k, GCDL_MODEL_EXTERNAL);
}
END_TEST

/* An external model (a trainer's): its dimension is `features`, zeros at
 * start, and gcdl computes none of it. */
START_TEST(test_external)
{
	struct gcdl_model *m = gcdl_model_create(GCDL_MODEL_EXTERNAL, 12345, 0, 0, 0.0f);
	float *w = malloc(sizeof(float) * 12345), x[4] = { 1, 2, 3, 4 }, y[1] = { 0 };
	double loss = -1, acc = -1;

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(w);
	ck_assert_uint_eq(gcdl_model_dim(m), 12345);
	for (uint32_t j = 0; j < 12345; j++)
		w[j] = 1.0f;
	ck_assert_int_eq(gcdl_model_init(m, w, 3), 0);
	for (uint32_t j = 0; j < 12345; j++)
		ck_assert(w[j] == 0.0f);
	ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, 1, w, &loss), -ENOTSUP);
	ck_assert_int_eq(gcdl_model_eval(m, w, x, y, 1, &loss, &acc), -ENOTSUP);
	ck_assert(loss == -1 && acc == -1);
	gcdl_model_free(m);
	free(w);
	/* no parameters */
	errno = 0;
	ck_assert_ptr_null(gcdl_model_create(GCDL_MODEL_EXTERNAL, 0, 0, 0, 0.0f));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static void
expect_create_einval(enum gcdl_model_kind kind, uint32_t d, uint32_t c, uint32_t h, float l2)
{
	errno = 0;
	ck_assert_ptr_null(gcdl_model_create(kind, d, c, h, l2));
	ck_assert_int_eq(errno, EINVAL);
}

START_TEST(test_create_bad)
{
	expect_create_einval(GCDL_MODEL__COUNT, 5, 3, 4, 0.0f);
	expect_create_einval((enum gcdl_model_kind)-1, 5, 3, 4, 0.0f);
	for (int k = 0; k < GCDL_MODEL__COUNT; k++) {
		expect_create_einval((enum gcdl_model_kind)k, 0, 3, 4, 0.0f);
		expect_create_einval((enum gcdl_model_kind)k, 5, 3, 4, -1e-6f);
		expect_create_einval((enum gcdl_model_kind)k, 5, 3, 4, NAN);
		expect_create_einval((enum gcdl_model_kind)k, 5, 3, 4, INFINITY);
	}
	expect_create_einval(GCDL_MODEL_SOFTMAX, 5, 0, 0, 0.0f);
	expect_create_einval(GCDL_MODEL_SOFTMAX, 5, 1, 0, 0.0f);
	expect_create_einval(GCDL_MODEL_MLP, 5, 1, 4, 0.0f);
	expect_create_einval(GCDL_MODEL_MLP, 5, 3, 0, 0.0f);
	/* parameter count beyond the CBLAS index range */
	expect_create_einval(GCDL_MODEL_SOFTMAX, 1u << 30, 2, 0, 0.0f);
	expect_create_einval(GCDL_MODEL_MLP, 1u << 16, 2, 1u << 15, 0.0f);
}
END_TEST

START_TEST(test_dims)
{
	struct gcdl_model *m;

	ck_assert_uint_eq(gcdl_model_dim(NULL), 0);
	/* classes and hidden are ignored where the kind has none */
	m = gcdl_model_create(GCDL_MODEL_LEAST_SQUARES, 5, 0, 0, 0.0f);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(gcdl_model_dim(m), 6);
	gcdl_model_free(m);
	m = gcdl_model_create(GCDL_MODEL_LEAST_SQUARES, 784, 10, 128, 0.5f);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(gcdl_model_dim(m), 785);
	gcdl_model_free(m);
	m = gcdl_model_create(GCDL_MODEL_SOFTMAX, 784, 10, 128, 0.0f);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(gcdl_model_dim(m), 10 * 784 + 10);
	gcdl_model_free(m);
	m = gcdl_model_create(GCDL_MODEL_SOFTMAX, 5, 2, 0, 0.0f);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(gcdl_model_dim(m), 12);
	gcdl_model_free(m);
	m = gcdl_model_create(GCDL_MODEL_MLP, 784, 10, 128, 1e-4f);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(gcdl_model_dim(m), 128 * 784 + 128 + 10 * 128 + 10);
	gcdl_model_free(m);
	m = gcdl_model_create(GCDL_MODEL_MLP, 5, 3, 4, 0.0f);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(gcdl_model_dim(m), 4 * 5 + 4 + 3 * 4 + 3);
	gcdl_model_free(m);
	gcdl_model_free(NULL);
}
END_TEST

START_TEST(test_init_bad)
{
	struct gcdl_model *m = gcdl_model_create(GCDL_MODEL_MLP, 5, 3, 4, 0.0f);
	float w[64];

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(gcdl_model_init(NULL, w, 1), -EINVAL);
	ck_assert_int_eq(gcdl_model_init(m, NULL, 1), -EINVAL);
	gcdl_model_free(m);
}
END_TEST

START_TEST(test_loss_grad_bad)
{
	struct gcdl_model *m = gcdl_model_create(GCDL_MODEL_SOFTMAX, 2, 3, 0, 0.0f);
	struct gcdl_model *ls = gcdl_model_create(GCDL_MODEL_LEAST_SQUARES, 2, 0, 0, 0.0f);
	float w[9] = { 0 }, g[9], x[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	float y[4] = { 0, 1, 2, 1 };
	const float bad[] = { -1.0f, 3.0f, 0.5f, 2.999f, 1e9f, -0.0001f, NAN, INFINITY };
	double loss;

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(ls);
	ck_assert_int_eq(gcdl_model_loss_grad(NULL, w, x, y, 4, g, &loss), -EINVAL);
	ck_assert_int_eq(gcdl_model_loss_grad(m, NULL, x, y, 4, g, &loss), -EINVAL);
	ck_assert_int_eq(gcdl_model_loss_grad(m, w, NULL, y, 4, g, &loss), -EINVAL);
	ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, NULL, 4, g, &loss), -EINVAL);
	ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, 0, g, &loss), -EINVAL);
	/* rejected before any row is read */
	ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, (uint32_t)INT_MAX + 1u, g, &loss),
			 -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		y[3] = bad[i];
		ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, 4, g, &loss), -EINVAL);
		ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, 4, NULL, NULL), -EINVAL);
	}
	/* least squares takes any real target */
	y[3] = -3.75f;
	ck_assert_int_eq(gcdl_model_loss_grad(ls, w, x, y, 4, g, &loss), 0);
	y[3] = 2.0f;
	ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, 4, g, &loss), 0);
	ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, 4, NULL, NULL), 0);
	gcdl_model_free(m);
	gcdl_model_free(ls);
}
END_TEST

START_TEST(test_eval_bad)
{
	enum { N = 5000, D = 2 };
	struct gcdl_model *m = gcdl_model_create(GCDL_MODEL_MLP, D, 3, 4, 0.0f);
	float *x = fmalloc((size_t)N * D), *y = fmalloc(N), w[64] = { 0 };
	double loss, acc;

	ck_assert_ptr_nonnull(m);
	for (size_t i = 0; i < (size_t)N * D; i++)
		x[i] = (float)(i % 7);
	for (size_t i = 0; i < N; i++)
		y[i] = (float)(i % 3);
	ck_assert_int_eq(gcdl_model_eval(NULL, w, x, y, N, &loss, &acc), -EINVAL);
	ck_assert_int_eq(gcdl_model_eval(m, NULL, x, y, N, &loss, &acc), -EINVAL);
	ck_assert_int_eq(gcdl_model_eval(m, w, NULL, y, N, &loss, &acc), -EINVAL);
	ck_assert_int_eq(gcdl_model_eval(m, w, x, NULL, N, &loss, &acc), -EINVAL);
	ck_assert_int_eq(gcdl_model_eval(m, w, x, y, 0, &loss, &acc), -EINVAL);
	/* a bad label in the last, partial block is still found */
	y[4500] = 3.0f;
	ck_assert_int_eq(gcdl_model_eval(m, w, x, y, N, &loss, &acc), -EINVAL);
	y[4500] = -1.0f;
	ck_assert_int_eq(gcdl_model_eval(m, w, x, y, N, NULL, NULL), -EINVAL);
	y[4500] = 1.5f;
	ck_assert_int_eq(gcdl_model_eval(m, w, x, y, N, &loss, &acc), -EINVAL);
	y[4500] = NAN;
	ck_assert_int_eq(gcdl_model_eval(m, w, x, y, N, &loss, &acc), -EINVAL);
	y[4500] = 0.0f;
	ck_assert_int_eq(gcdl_model_eval(m, w, x, y, N, &loss, &acc), 0);
	gcdl_model_free(m);
	free(x);
	free(y);
}
END_TEST

/* ---- gradient against central finite differences ------------------------ */

enum { GC_N = 7, GC_D = 5, GC_C = 3, GC_H = 4 };
#define GC_EPS 1e-2

/*
 * Tolerance: the loss is computed in float (sums accumulated in double), so
 * one evaluation carries an absolute error of a few float ulps of the O(1)
 * terms, ~1e-6; divided by the step 2*eps = 2e-2 that is ~1e-4 in the
 * difference quotient. The truncation error of the central difference is
 * eps^2/6 * |d^3L/dw^3| <= 1.7e-5 * (|x|^3 ~ 30) ~ 5e-4 (zero for least
 * squares, which is quadratic). The analytic gradient itself is float, relative
 * error ~1e-6. Hence |g - fd| <= 2e-3 + 2e-3 |fd|, while the L2 terms and the
 * 1/rows scaling this test guards against are of order 0.1.
 */
#define GC_ABS 2e-3
#define GC_REL 2e-3

static double
loss_at(struct gcdl_model *m, const float *w, const float *x, const float *y)
{
	double l = NAN;

	ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, GC_N, NULL, &l), 0);
	return l;
}

/* Whether every MLP pre-activation stays clear of the ReLU kink under any
 * single-coordinate perturbation of size eps. */
static int
mlp_clear_of_kinks(const float *w, const float *x)
{
	double xmax = 0.0;

	for (size_t i = 0; i < (size_t)GC_N * GC_D; i++)
		xmax = fmax(xmax, fabs(x[i]));
	for (uint32_t i = 0; i < GC_N; i++) {
		for (uint32_t h = 0; h < GC_H; h++) {
			double a = w[GC_H * GC_D + h];

			for (uint32_t d = 0; d < GC_D; d++)
				a += (double)w[h * GC_D + d] * x[i * GC_D + d];
			if (fabs(a) <= 2.0 * GC_EPS * (1.0 + xmax))
				return 0;
		}
	}
	return 1;
}

static void
grad_check(enum gcdl_model_kind kind, float l2, uint64_t seed)
{
	struct gcdl_model *m = gcdl_model_create(kind, GC_D, GC_C, GC_H, l2);
	uint32_t dim = gcdl_model_dim(m);
	float *w = fmalloc(dim), *g = fmalloc(dim), *g2 = fmalloc(dim), *wp = fmalloc(dim);
	float x[GC_N * GC_D], y[GC_N];
	struct gcdl_rng r;
	double loss, loss2;
	int tries = 0, hidden_active = 0;

	ck_assert_ptr_nonnull(m);
	gcdl_rng_init(&r, seed, GCDL_RNG_TEST, kind, 0);
	do {
		ck_assert_int_lt(tries++, 1000);
		fill_normal(&r, x, GC_N * GC_D, 1.0);
		fill_normal(&r, w, dim, 0.7); /* nonzero biases too */
		if (kind == GCDL_MODEL_LEAST_SQUARES)
			fill_normal(&r, y, GC_N, 2.0);
		else
			fill_labels(&r, y, GC_N, GC_C);
	} while (kind == GCDL_MODEL_MLP && !mlp_clear_of_kinks(w, x));

	ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, GC_N, g, &loss), 0);
	ck_assert(isfinite(loss) && loss > 0.0);
	/* loss-only and gradient-only calls agree with the combined one */
	ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, GC_N, NULL, &loss2), 0);
	ck_assert_double_eq(loss, loss2);
	ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, GC_N, g2, NULL), 0);
	ck_assert_mem_eq(g, g2, sizeof(float) * dim);

	for (uint32_t j = 0; j < dim; j++) {
		double lp, lm, step, fd;

		memcpy(wp, w, sizeof(float) * dim);
		wp[j] = (float)(w[j] + GC_EPS);
		lp = loss_at(m, wp, x, y);
		step = wp[j];
		wp[j] = (float)(w[j] - GC_EPS);
		lm = loss_at(m, wp, x, y);
		step -= wp[j];
		fd = (lp - lm) / step;
		ck_assert_msg(fabs(g[j] - fd) <= GC_ABS + GC_REL * fabs(fd),
			      "kind %d l2 %g coord %u/%u: grad %.6g, finite difference %.6g", kind,
			      (double)l2, j, dim, (double)g[j], fd);
		if (kind == GCDL_MODEL_MLP && j < GC_H * GC_D && g[j] != 0.0f)
			hidden_active = 1;
	}
	/* the MLP check must exercise the first layer, not only dead units */
	if (kind == GCDL_MODEL_MLP)
		ck_assert(hidden_active);
	gcdl_model_free(m);
	free(w);
	free(g);
	free(g2);
	free(wp);
}

START_TEST(test_grad_least_squares)
{
	grad_check(GCDL_MODEL_LEAST_SQUARES, 0.0f, 11);
	grad_check(GCDL_MODEL_LEAST_SQUARES, 0.3f, 12);
}
END_TEST

START_TEST(test_grad_softmax)
{
	grad_check(GCDL_MODEL_SOFTMAX, 0.0f, 21);
	grad_check(GCDL_MODEL_SOFTMAX, 0.3f, 22);
}
END_TEST

START_TEST(test_grad_mlp)
{
	for (uint64_t s = 31; s < 34; s++) {
		grad_check(GCDL_MODEL_MLP, 0.0f, s);
		grad_check(GCDL_MODEL_MLP, 0.3f, s + 100);
	}
}
END_TEST

/* ---- known values -------------------------------------------------------- */

START_TEST(test_least_squares_known)
{
	/* preds x.w + b = 0.5, -0.5, 3; residuals -0.5, -0.5, 1 */
	const float x[6] = { 1, 2, 3, 4, 0, -1 }, y[3] = { 1, 0, 2 };
	const float w[3] = { 0.5f, -1.0f, 2.0f };
	struct gcdl_model *m = gcdl_model_create(GCDL_MODEL_LEAST_SQUARES, 2, 0, 0, 0.0f);
	struct gcdl_model *mr = gcdl_model_create(GCDL_MODEL_LEAST_SQUARES, 2, 0, 0, 0.5f);
	float g[3];
	double loss, acc = -1.0;

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(mr);
	/* 1/(2*3) * (0.25 + 0.25 + 1) */
	ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, 3, g, &loss), 0);
	ck_assert_double_eq_tol(loss, 0.25, 1e-12);
	/* X^T r / 3 = (-2/3, -4/3), mean r = 0 */
	ck_assert_float_eq_tol(g[0], -2.0f / 3.0f, 1e-6f);
	ck_assert_float_eq_tol(g[1], -4.0f / 3.0f, 1e-6f);
	ck_assert_float_eq_tol(g[2], 0.0f, 1e-7f);
	/* + 0.5/2 * (0.25 + 1); gradient + 0.5 w, bias untouched */
	ck_assert_int_eq(gcdl_model_loss_grad(mr, w, x, y, 3, g, &loss), 0);
	ck_assert_double_eq_tol(loss, 0.5625, 1e-12);
	ck_assert_float_eq_tol(g[0], -2.0f / 3.0f + 0.25f, 1e-6f);
	ck_assert_float_eq_tol(g[1], -4.0f / 3.0f - 0.5f, 1e-6f);
	ck_assert_float_eq_tol(g[2], 0.0f, 1e-7f);
	ck_assert_int_eq(gcdl_model_eval(mr, w, x, y, 3, &loss, &acc), 0);
	ck_assert_double_eq_tol(loss, 0.5625, 1e-12);
	ck_assert_double_eq(acc, 0.0);
	gcdl_model_free(m);
	gcdl_model_free(mr);
}
END_TEST

START_TEST(test_softmax_zero_weights)
{
	enum { N = 10, D = 3, C = 4 };
	/* all logits tie, so argmax picks class 0: 3 of 10 rows (each other
	 * class has a different count, so any other tie rule gives another value) */
	const float y[N] = { 0, 1, 2, 3, 0, 1, 2, 3, 0, 2 };
	struct gcdl_model *m = gcdl_model_create(GCDL_MODEL_SOFTMAX, D, C, 0, 0.7f);
	float w[C * D + C] = { 0 }, g[C * D + C], x[N * D];
	struct gcdl_rng r;
	double loss, acc;

	ck_assert_ptr_nonnull(m);
	gcdl_rng_init(&r, 5, GCDL_RNG_TEST, 0, 0);
	fill_normal(&r, x, N * D, 1.0);
	ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, N, g, &loss), 0);
	ck_assert_double_eq_tol(loss, log(C), 1e-6);
	ck_assert_int_eq(gcdl_model_eval(m, w, x, y, N, &loss, &acc), 0);
	ck_assert_double_eq_tol(loss, log(C), 1e-6);
	ck_assert_double_eq(acc, 0.3);
	/* dW[c] = mean (1/C - [y=c]) x, db[c] = 1/C - frac(y=c) */
	for (uint32_t c = 0; c < C; c++) {
		double gb = 0.0;

		for (uint32_t d = 0; d < D; d++) {
			double s = 0.0;

			for (uint32_t i = 0; i < N; i++)
				s += (1.0 / C - (y[i] == (float)c)) * x[i * D + d];
			ck_assert_double_eq_tol(g[c * D + d], s / N, 1e-6);
		}
		for (uint32_t i = 0; i < N; i++)
			gb += 1.0 / C - (y[i] == (float)c);
		ck_assert_double_eq_tol(g[C * D + c], gb / N, 1e-6);
	}
	gcdl_model_free(m);
}
END_TEST

/* Direct double-precision loss and correct count, for eval checks. near_ties
 * counts rows whose top two logits are within 1e-3 (float may order them
 * differently). */
static void
direct_eval(enum gcdl_model_kind kind, const float *w, const float *x, const float *y,
	    uint32_t n, uint32_t D, uint32_t C, uint32_t H, float l2, double *loss,
	    uint64_t *correct, uint64_t *near_ties)
{
	double sum = 0.0, reg = 0.0;

	*correct = 0;
	*near_ties = 0;
	for (uint32_t i = 0; i < n; i++) {
		const float *xi = x + (size_t)i * D;
		double z[16], h[64], mx, se = 0.0, second = -INFINITY;
		uint32_t best = 0;

		if (kind == GCDL_MODEL_LEAST_SQUARES) {
			double p = w[D];

			for (uint32_t d = 0; d < D; d++)
				p += (double)w[d] * xi[d];
			sum += 0.5 * (p - y[i]) * (p - y[i]);
			continue;
		}
		if (kind == GCDL_MODEL_SOFTMAX) {
			for (uint32_t c = 0; c < C; c++) {
				z[c] = w[(size_t)C * D + c];
				for (uint32_t d = 0; d < D; d++)
					z[c] += (double)w[(size_t)c * D + d] * xi[d];
			}
		} else {
			const float *W2 = w + (size_t)H * D + H;

			for (uint32_t k = 0; k < H; k++) {
				h[k] = w[(size_t)H * D + k];
				for (uint32_t d = 0; d < D; d++)
					h[k] += (double)w[(size_t)k * D + d] * xi[d];
				h[k] = fmax(h[k], 0.0);
			}
			for (uint32_t c = 0; c < C; c++) {
				z[c] = W2[(size_t)C * H + c];
				for (uint32_t k = 0; k < H; k++)
					z[c] += (double)W2[(size_t)c * H + k] * h[k];
			}
		}
		mx = z[0];
		for (uint32_t c = 1; c < C; c++) {
			if (z[c] > mx) {
				second = mx;
				mx = z[c];
				best = c;
			} else if (z[c] > second) {
				second = z[c];
			}
		}
		for (uint32_t c = 0; c < C; c++)
			se += exp(z[c] - mx);
		sum += log(se) + mx - z[(uint32_t)y[i]];
		*correct += best == (uint32_t)y[i];
		*near_ties += mx - second < 1e-3;
	}
	if (kind == GCDL_MODEL_LEAST_SQUARES) {
		for (uint32_t d = 0; d < D; d++)
			reg += (double)w[d] * w[d];
	} else if (kind == GCDL_MODEL_SOFTMAX) {
		for (size_t j = 0; j < (size_t)C * D; j++)
			reg += (double)w[j] * w[j];
	} else {
		for (size_t j = 0; j < (size_t)H * D; j++)
			reg += (double)w[j] * w[j];
		for (size_t j = 0; j < (size_t)C * H; j++)
			reg += (double)w[(size_t)H * D + H + j] * w[(size_t)H * D + H + j];
	}
	*loss = sum / n + 0.5 * l2 * reg;
}

static void
eval_blocks(enum gcdl_model_kind kind, uint32_t n)
{
	enum { D = 20, C = 4, H = 8 };
	const uint32_t small = n < 7 ? n : 7;
	const float l2 = 0.05f;
	struct gcdl_model *m = gcdl_model_create(kind, D, C, H, l2);
	uint32_t dim = gcdl_model_dim(m);
	float *w = fmalloc(dim), *x = fmalloc((size_t)n * D), *y = fmalloc(n);
	float *g = fmalloc(dim), *g2 = fmalloc(dim);
	double loss_eval, loss_lg, loss_direct, acc = -1.0, l7a, l7b;
	uint64_t correct, ties;
	struct gcdl_rng r;

	ck_assert_ptr_nonnull(m);
	gcdl_rng_init(&r, 77, GCDL_RNG_TEST, kind, n);
	fill_normal(&r, x, (size_t)n * D, 1.0);
	fill_normal(&r, w, dim, 0.4);
	if (kind == GCDL_MODEL_LEAST_SQUARES)
		fill_normal(&r, y, n, 1.0);
	else
		fill_labels(&r, y, n, C);

	/* small call first, then the big one grows the scratch, then small again */
	ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, small, g, &l7a), 0);
	ck_assert_int_eq(gcdl_model_eval(m, w, x, y, n, &loss_eval, &acc), 0);
	ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, n, NULL, &loss_lg), 0);
	ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, small, g2, &l7b), 0);
	ck_assert_double_eq(l7a, l7b);
	ck_assert_mem_eq(g, g2, sizeof(float) * dim);

	direct_eval(kind, w, x, y, n, D, C, H, l2, &loss_direct, &correct, &ties);
	/* float logits: per-row loss error ~1e-6, so 1e-5 is loose; dropping or
	 * repeating a block of rows moves the mean by O(0.1) */
	ck_assert_msg(fabs(loss_eval - loss_direct) <= 1e-5 * (1.0 + loss_direct),
		      "eval %.9g direct %.9g", loss_eval, loss_direct);
	ck_assert_msg(fabs(loss_eval - loss_lg) <= 1e-6 * (1.0 + loss_lg),
		      "eval %.9g loss_grad %.9g", loss_eval, loss_lg);
	if (kind == GCDL_MODEL_LEAST_SQUARES) {
		ck_assert_double_eq(acc, 0.0);
	} else {
		double lo = (double)(correct > ties ? correct - ties : 0) / n;
		double hi = (double)(correct + ties) / n;

		ck_assert_msg(acc >= lo && acc <= hi, "accuracy %.6f, direct %.6f (ties %lu)",
			      acc, (double)correct / n, (unsigned long)ties);
		/* not a degenerate check: accuracy is neither 0 nor 1 */
		ck_assert(acc > 0.05 && acc < 0.95);
	}
	gcdl_model_free(m);
	free(w);
	free(x);
	free(y);
	free(g);
	free(g2);
}

START_TEST(test_eval_blocks)
{
	const uint32_t rows[] = { 1, 4096, 4097, 5000, 8192 + 11 };

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (int k = 0; k < GCDL_MODEL_EXTERNAL; k++) /* the models gcdl computes */
			if (rows[i] > 1 || k == GCDL_MODEL_LEAST_SQUARES)
				eval_blocks((enum gcdl_model_kind)k, rows[i]);
}
END_TEST

/* ---- initialisation ------------------------------------------------------ */

START_TEST(test_init_zero_and_determinism)
{
	struct gcdl_model *ls = gcdl_model_create(GCDL_MODEL_LEAST_SQUARES, 6, 0, 0, 0.0f);
	struct gcdl_model *sm = gcdl_model_create(GCDL_MODEL_SOFTMAX, 6, 3, 0, 0.0f);
	struct gcdl_model *ml = gcdl_model_create(GCDL_MODEL_MLP, 6, 3, 5, 0.0f);
	uint32_t dim = gcdl_model_dim(ml);
	float *a = fmalloc(dim), *b = fmalloc(dim);

	ck_assert_ptr_nonnull(ls);
	ck_assert_ptr_nonnull(sm);
	ck_assert_ptr_nonnull(ml);
	for (uint32_t j = 0; j < dim; j++)
		a[j] = 7.0f;
	ck_assert_int_eq(gcdl_model_init(ls, a, 1), 0);
	for (uint32_t j = 0; j < gcdl_model_dim(ls); j++)
		ck_assert_float_eq(a[j], 0.0f);
	ck_assert_float_eq(a[gcdl_model_dim(ls)], 7.0f); /* writes dim values only */
	ck_assert_int_eq(gcdl_model_init(sm, a, 1), 0);
	for (uint32_t j = 0; j < gcdl_model_dim(sm); j++)
		ck_assert_float_eq(a[j], 0.0f);

	ck_assert_int_eq(gcdl_model_init(ml, a, 42), 0);
	ck_assert_int_eq(gcdl_model_init(ml, b, 42), 0);
	ck_assert_mem_eq(a, b, sizeof(float) * dim);
	ck_assert_int_eq(gcdl_model_init(ml, b, 43), 0);
	ck_assert_int_ne(memcmp(a, b, sizeof(float) * dim), 0);
	gcdl_model_free(ls);
	gcdl_model_free(sm);
	gcdl_model_free(ml);
	free(a);
	free(b);
}
END_TEST

/*
 * n iid N(0, s^2) draws: the sample mean has standard deviation s/sqrt(n) and
 * the sample variance s^2 sqrt(2/n) (normal fourth moment 3 s^4). Both are
 * checked to 5 standard deviations (false alarm < 1e-6, and the seed is fixed).
 */
static void
check_normal(const float *a, size_t n, double s)
{
	double sum = 0.0, sq = 0.0, mean, var;

	for (size_t i = 0; i < n; i++) {
		sum += a[i];
		sq += (double)a[i] * a[i];
	}
	mean = sum / n;
	var = sq / n - mean * mean;
	ck_assert_msg(fabs(mean) <= 5.0 * s / sqrt((double)n), "mean %g (s %g, n %zu)", mean, s,
		      n);
	ck_assert_msg(fabs(var / (s * s) - 1.0) <= 5.0 * sqrt(2.0 / n),
		      "variance %g, expected %g (n %zu)", var, s * s, n);
}

static void
init_statistics(uint32_t D, uint32_t C, uint32_t H)
{
	struct gcdl_model *m = gcdl_model_create(GCDL_MODEL_MLP, D, C, H, 0.0f);
	uint32_t dim = gcdl_model_dim(m);
	float *w = fmalloc(dim);

	ck_assert_ptr_nonnull(m);
	for (uint32_t j = 0; j < dim; j++)
		w[j] = 3.0f;
	ck_assert_int_eq(gcdl_model_init(m, w, 2024), 0);
	check_normal(w, (size_t)H * D, sqrt(2.0 / D));                        /* He */
	check_normal(w + (size_t)H * D + H, (size_t)C * H, sqrt(2.0 / (H + C))); /* Glorot */
	for (uint32_t k = 0; k < H; k++)
		ck_assert_float_eq(w[(size_t)H * D + k], 0.0f);
	for (uint32_t c = 0; c < C; c++)
		ck_assert_float_eq(w[(size_t)H * D + H + (size_t)C * H + c], 0.0f);
	gcdl_model_free(m);
	free(w);
}

START_TEST(test_init_mlp_statistics)
{
	/* Fashion-MNIST shape: He fan-in 784 vs 784+128 is a 16% variance gap */
	init_statistics(784, 10, 128);
	/* many classes, so Glorot's fan-in + fan-out (80) differs from fan-in (16) */
	init_statistics(40, 64, 16);
}
END_TEST

/* ---- training ------------------------------------------------------------ */

enum { TOY_N = 90, TOY_C = 3 };

/* Three Gaussian clusters in the plane; labels are checked to be the nearest
 * centre, so the classes are separated by the (linear) Voronoi boundaries. */
static void
toy_data(float *x, float *y)
{
	static const float centre[TOY_C][2] = { { 3, 0 }, { -3, 0 }, { 0, 3 } };
	struct gcdl_rng r;

	gcdl_rng_init(&r, 9, GCDL_RNG_TEST, 1, 0);
	for (uint32_t i = 0; i < TOY_N; i++) {
		uint32_t c = i % TOY_C, near = 0;
		double best = INFINITY;

		x[2 * i] = centre[c][0] + (float)(0.6 * gcdl_rng_normal(&r));
		x[2 * i + 1] = centre[c][1] + (float)(0.6 * gcdl_rng_normal(&r));
		y[i] = (float)c;
		for (uint32_t k = 0; k < TOY_C; k++) {
			double dx = x[2 * i] - centre[k][0], dy = x[2 * i + 1] - centre[k][1];

			if (dx * dx + dy * dy < best) {
				best = dx * dx + dy * dy;
				near = k;
			}
		}
		ck_assert_uint_eq(near, c);
	}
}

static void
train_toy(enum gcdl_model_kind kind, float lr, int steps)
{
	struct gcdl_model *m = gcdl_model_create(kind, 2, TOY_C, 8, 1e-4f);
	uint32_t dim = gcdl_model_dim(m);
	float *w = fmalloc(dim), *g = fmalloc(dim), x[2 * TOY_N], y[TOY_N];
	double loss0, loss, acc0, acc;

	ck_assert_ptr_nonnull(m);
	toy_data(x, y);
	ck_assert_int_eq(gcdl_model_init(m, w, 3), 0);
	ck_assert_int_eq(gcdl_model_eval(m, w, x, y, TOY_N, &loss0, &acc0), 0);
	ck_assert(acc0 < 1.0);
	for (int t = 0; t < steps; t++) {
		ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, TOY_N, g, NULL), 0);
		for (uint32_t j = 0; j < dim; j++)
			w[j] -= lr * g[j];
	}
	ck_assert_int_eq(gcdl_model_eval(m, w, x, y, TOY_N, &loss, &acc), 0);
	ck_assert_double_eq(acc, 1.0);
	ck_assert_msg(loss < 0.2 * loss0, "loss %g from %g", loss, loss0);
	gcdl_model_free(m);
	free(w);
	free(g);
}

START_TEST(test_train_softmax)
{
	train_toy(GCDL_MODEL_SOFTMAX, 0.5f, 100);
}
END_TEST

START_TEST(test_train_mlp)
{
	train_toy(GCDL_MODEL_MLP, 0.2f, 200);
}
END_TEST

START_TEST(test_train_least_squares)
{
	enum { N = 50, D = 2 };
	struct gcdl_model *m = gcdl_model_create(GCDL_MODEL_LEAST_SQUARES, D, 0, 0, 0.0f);
	float w[D + 1], g[D + 1], x[N * D], y[N];
	struct gcdl_rng r;
	double loss;

	ck_assert_ptr_nonnull(m);
	gcdl_rng_init(&r, 4, GCDL_RNG_TEST, 2, 0);
	fill_normal(&r, x, N * D, 1.0);
	for (uint32_t i = 0; i < N; i++)
		y[i] = 2.0f * x[2 * i] - x[2 * i + 1] + 0.5f;
	ck_assert_int_eq(gcdl_model_init(m, w, 0), 0);
	/* the Hessian's eigenvalues are ~[0.5, 1.5]: 0.3 contracts by <= 0.85 a step */
	for (int t = 0; t < 300; t++) {
		ck_assert_int_eq(gcdl_model_loss_grad(m, w, x, y, N, g, NULL), 0);
		for (uint32_t j = 0; j <= D; j++)
			w[j] -= 0.3f * g[j];
	}
	ck_assert_float_eq_tol(w[0], 2.0f, 1e-4f);
	ck_assert_float_eq_tol(w[1], -1.0f, 1e-4f);
	ck_assert_float_eq_tol(w[2], 0.5f, 1e-4f);
	ck_assert_int_eq(gcdl_model_eval(m, w, x, y, N, &loss, NULL), 0);
	ck_assert(loss < 1e-8);
	gcdl_model_free(m);
}
END_TEST

static Suite *
model_suite(void)
{
	Suite *s = suite_create("model");
	TCase *neg = tcase_create("negative");
	TCase *grad = tcase_create("gradient");
	TCase *val = tcase_create("values");
	TCase *init = tcase_create("init");
	TCase *train = tcase_create("train");

	tcase_add_test(neg, test_kind_parse);
	tcase_add_test(neg, test_external);
	tcase_add_test(neg, test_create_bad);
	tcase_add_test(neg, test_init_bad);
	tcase_add_test(neg, test_loss_grad_bad);
	tcase_add_test(neg, test_eval_bad);
	suite_add_tcase(s, neg);
	tcase_add_test(val, test_dims);
	tcase_add_test(val, test_least_squares_known);
	tcase_add_test(val, test_softmax_zero_weights);
	tcase_add_test(val, test_eval_blocks);
	tcase_set_timeout(val, 60);
	suite_add_tcase(s, val);
	tcase_add_test(grad, test_grad_least_squares);
	tcase_add_test(grad, test_grad_softmax);
	tcase_add_test(grad, test_grad_mlp);
	suite_add_tcase(s, grad);
	tcase_add_test(init, test_init_zero_and_determinism);
	tcase_add_test(init, test_init_mlp_statistics);
	suite_add_tcase(s, init);
	tcase_add_test(train, test_train_least_squares);
	tcase_add_test(train, test_train_softmax);
	tcase_add_test(train, test_train_mlp);
	suite_add_tcase(s, train);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(model_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
