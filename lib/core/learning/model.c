/* SPDX-License-Identifier: BSD-3-Clause */
/* Least squares, softmax regression and a one-hidden-layer ReLU MLP over a
 * flat parameter vector; matrix products through CBLAS. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "gcdl/model.h"
#include "gcdl/rng.h"

#define EVAL_BLOCK 4096 /* rows per block in gcdl_model_eval */

struct gcdl_model {
	enum gcdl_model_kind kind;
	uint32_t features, classes, hidden, dim;
	float l2;
	uint32_t cap;  /* rows the scratch holds */
	float *z;      /* rows x classes logits (rows for least squares) */
	float *h;      /* mlp: rows x hidden pre-activations, then activations */
	float *dh;     /* mlp: rows x hidden back-propagated deltas */
};

static const char *const kind_names[GCDL_MODEL__COUNT] = { "least_squares", "softmax", "mlp",
							     "external" };

int
gcdl_model_kind_parse(const char *name, enum gcdl_model_kind *kind)
{
	if (name == NULL || kind == NULL)
		return -EINVAL;
	for (int i = 0; i < GCDL_MODEL__COUNT; i++) {
		if (strcmp(name, kind_names[i]) == 0) {
			*kind = (enum gcdl_model_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

struct gcdl_model *
gcdl_model_create(enum gcdl_model_kind kind, uint32_t features, uint32_t classes,
		  uint32_t hidden, float l2)
{
	struct gcdl_model *m;
	uint64_t dim;

	if ((unsigned)kind >= GCDL_MODEL__COUNT || features == 0 || !isfinite(l2) || l2 < 0 ||
	    (kind != GCDL_MODEL_LEAST_SQUARES && kind != GCDL_MODEL_EXTERNAL && classes < 2) ||
	    (kind == GCDL_MODEL_MLP && hidden == 0)) {
		errno = EINVAL;
		return NULL;
	}
	switch (kind) {
	case GCDL_MODEL_LEAST_SQUARES:
		dim = (uint64_t)features + 1;
		classes = 1;
		hidden = 0;
		break;
	case GCDL_MODEL_SOFTMAX:
		dim = (uint64_t)classes * features + classes;
		hidden = 0;
		break;
	case GCDL_MODEL_EXTERNAL:
		dim = features;
		classes = 0;
		hidden = 0;
		break;
	default:
		dim = (uint64_t)hidden * features + hidden + (uint64_t)classes * hidden + classes;
		break;
	}
	if (dim > UINT32_MAX / 2) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	m->kind = kind;
	m->features = features;
	m->classes = classes;
	m->hidden = hidden;
	m->l2 = l2;
	m->dim = (uint32_t)dim;
	return m;
}

void
gcdl_model_free(struct gcdl_model *m)
{
	if (m == NULL)
		return;
	free(m->z);
	free(m->h);
	free(m->dh);
	free(m);
}

uint32_t
gcdl_model_dim(const struct gcdl_model *m)
{
	return m ? m->dim : 0;
}

int
gcdl_model_init(const struct gcdl_model *m, float *w, uint64_t seed)
{
	struct gcdl_rng r;

	if (m == NULL || w == NULL)
		return -EINVAL;
	memset(w, 0, sizeof(float) * m->dim);
	if (m->kind != GCDL_MODEL_MLP)
		return 0;
	gcdl_rng_init(&r, seed, GCDL_RNG_INIT, 0, 0);
	{
		const size_t n1 = (size_t)m->hidden * m->features;
		const size_t off2 = n1 + m->hidden;
		const size_t n2 = (size_t)m->classes * m->hidden;
		const double s1 = sqrt(2.0 / m->features);                  /* He */
		const double s2 = sqrt(2.0 / (m->hidden + m->classes));     /* Glorot */

		for (size_t i = 0; i < n1; i++)
			w[i] = (float)(s1 * gcdl_rng_normal(&r));
		for (size_t i = 0; i < n2; i++)
			w[off2 + i] = (float)(s2 * gcdl_rng_normal(&r));
	}
	return 0;
}

static int
reserve(struct gcdl_model *m, uint32_t rows)
{
	float *z, *h = NULL, *dh = NULL;

	if (rows <= m->cap)
		return 0;
	z = realloc(m->z, sizeof(float) * (size_t)rows * m->classes);
	if (z == NULL)
		return -ENOMEM;
	m->z = z;
	if (m->kind == GCDL_MODEL_MLP) {
		h = realloc(m->h, sizeof(float) * (size_t)rows * m->hidden);
		if (h == NULL)
			return -ENOMEM;
		m->h = h;
		dh = realloc(m->dh, sizeof(float) * (size_t)rows * m->hidden);
		if (dh == NULL)
			return -ENOMEM;
		m->dh = dh;
	}
	m->cap = rows;
	return 0;
}

static int
check_labels(const struct gcdl_model *m, const float *y, uint32_t rows)
{
	if (m->kind == GCDL_MODEL_LEAST_SQUARES)
		return 0;
	for (uint32_t i = 0; i < rows; i++) {
		float c = y[i];

		if (!(c >= 0.0f && c < (float)m->classes) || c != floorf(c))
			return -EINVAL;
	}
	return 0;
}

/* z = a * W^T + b for a [rows x in], W [out x in]. */
static void
affine(const float *a, uint32_t rows, uint32_t in, const float *W, const float *b, uint32_t out,
       float *z)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)out, (int)in, 1.0f, a,
		    (int)in, W, (int)in, 0.0f, z, (int)out);
	for (uint32_t i = 0; i < rows; i++)
		for (uint32_t c = 0; c < out; c++)
			z[(size_t)i * out + c] += b[c];
}

/* Forward pass into m->z (and m->h = ReLU activations for the MLP). */
static void
forward(struct gcdl_model *m, const float *w, const float *x, uint32_t rows)
{
	const uint32_t D = m->features, C = m->classes, H = m->hidden;

	switch (m->kind) {
	case GCDL_MODEL_LEAST_SQUARES:
		cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)rows, (int)D, 1.0f, x, (int)D, w, 1,
			    0.0f, m->z, 1);
		for (uint32_t i = 0; i < rows; i++)
			m->z[i] += w[D];
		break;
	case GCDL_MODEL_SOFTMAX:
		affine(x, rows, D, w, w + (size_t)C * D, C, m->z);
		break;
	default: {
		const float *W2 = w + (size_t)H * D + H;

		affine(x, rows, D, w, w + (size_t)H * D, H, m->h);
		for (size_t i = 0; i < (size_t)rows * H; i++)
			m->h[i] = m->h[i] > 0.0f ? m->h[i] : 0.0f;
		affine(m->h, rows, H, W2, W2 + (size_t)C * H, C, m->z);
		break;
	}
	}
}

/* Data loss summed over rows; turns m->z into dLoss/dz (unscaled) when
 * want_delta. Counts correct argmax predictions into *correct. */
static double
loss_and_delta(struct gcdl_model *m, const float *y, uint32_t rows, int want_delta,
	       uint64_t *correct)
{
	const uint32_t C = m->classes;
	double sum = 0.0;

	if (m->kind == GCDL_MODEL_LEAST_SQUARES) {
		for (uint32_t i = 0; i < rows; i++) {
			float r = m->z[i] - y[i];

			sum += 0.5 * (double)r * r;
			if (want_delta)
				m->z[i] = r;
		}
		return sum;
	}
	for (uint32_t i = 0; i < rows; i++) {
		float *z = m->z + (size_t)i * C;
		uint32_t label = (uint32_t)y[i], best = 0;
		float mx = z[0];
		double se = 0.0;

		for (uint32_t c = 1; c < C; c++) {
			if (z[c] > mx) {
				mx = z[c];
				best = c;
			}
		}
		if (correct != NULL && best == label)
			(*correct)++;
		sum += (double)mx - z[label];
		if (!want_delta) {
			for (uint32_t c = 0; c < C; c++)
				se += expf(z[c] - mx);
			sum += log(se);
			continue;
		}
		/* softmax - onehot, exponentials kept in z to avoid a second exp */
		for (uint32_t c = 0; c < C; c++) {
			z[c] = expf(z[c] - mx);
			se += z[c];
		}
		sum += log(se);
		for (uint32_t c = 0; c < C; c++)
			z[c] = (float)(z[c] / se);
		z[label] -= 1.0f;
	}
	return sum;
}

static double
l2_term(const struct gcdl_model *m, const float *w)
{
	double s = 0.0;
	const uint32_t D = m->features, C = m->classes, H = m->hidden;

	if (m->l2 == 0.0f)
		return 0.0;
	switch (m->kind) {
	case GCDL_MODEL_LEAST_SQUARES:
		for (uint32_t j = 0; j < D; j++)
			s += (double)w[j] * w[j];
		break;
	case GCDL_MODEL_SOFTMAX:
		for (size_t j = 0; j < (size_t)C * D; j++)
			s += (double)w[j] * w[j];
		break;
	default:
		for (size_t j = 0; j < (size_t)H * D; j++)
			s += (double)w[j] * w[j];
		for (size_t j = 0; j < (size_t)C * H; j++)
			s += (double)w[(size_t)H * D + H + j] * w[(size_t)H * D + H + j];
		break;
	}
	return 0.5 * m->l2 * s;
}

/* grad of an affine layer: gW = delta^T a / n, gb = sum delta / n. */
static void
affine_grad(const float *delta, const float *a, uint32_t rows, uint32_t in, uint32_t out,
	    float scale, float *gW, float *gb)
{
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)rows, scale,
		    delta, (int)out, a, (int)in, 0.0f, gW, (int)in);
	for (uint32_t c = 0; c < out; c++)
		gb[c] = 0.0f;
	for (uint32_t i = 0; i < rows; i++)
		for (uint32_t c = 0; c < out; c++)
			gb[c] += delta[(size_t)i * out + c];
	for (uint32_t c = 0; c < out; c++)
		gb[c] *= scale;
}

/* Measured (2-core VM, OpenBLAS): softmax 60000x784, 10 classes ~80-100 ms;
 * mlp hidden 128, 6000 rows ~34 ms. Both are the two sgemm calls per layer. */
int
gcdl_model_loss_grad(struct gcdl_model *m, const float *w, const float *x, const float *y,
		     uint32_t rows, float *grad, double *loss)
{
	const uint32_t D = m ? m->features : 0, C = m ? m->classes : 0, H = m ? m->hidden : 0;
	const float inv = rows ? 1.0f / (float)rows : 0.0f;
	double sum;
	int rc;

	if (m == NULL || w == NULL || x == NULL || y == NULL || rows == 0 || rows > INT_MAX)
		return -EINVAL;
	if (m->kind == GCDL_MODEL_EXTERNAL)
		return -ENOTSUP;
	rc = check_labels(m, y, rows);
	if (rc != 0)
		return rc;
	rc = reserve(m, rows);
	if (rc != 0)
		return rc;
	forward(m, w, x, rows);
	sum = loss_and_delta(m, y, rows, grad != NULL, NULL);
	if (loss != NULL)
		*loss = sum / rows + l2_term(m, w);
	if (grad == NULL)
		return 0;
	switch (m->kind) {
	case GCDL_MODEL_LEAST_SQUARES: {
		float gb = 0.0f;

		cblas_sgemv(CblasRowMajor, CblasTrans, (int)rows, (int)D, inv, x, (int)D, m->z, 1,
			    0.0f, grad, 1);
		for (uint32_t i = 0; i < rows; i++)
			gb += m->z[i];
		grad[D] = gb * inv;
		for (uint32_t j = 0; j < D; j++)
			grad[j] += m->l2 * w[j];
		break;
	}
	case GCDL_MODEL_SOFTMAX:
		affine_grad(m->z, x, rows, D, C, inv, grad, grad + (size_t)C * D);
		if (m->l2 != 0.0f)
			for (size_t j = 0; j < (size_t)C * D; j++)
				grad[j] += m->l2 * w[j];
		break;
	default: {
		const size_t o2 = (size_t)H * D + H;
		const float *W2 = w + o2;

		affine_grad(m->z, m->h, rows, H, C, inv, grad + o2, grad + o2 + (size_t)C * H);
		/* dh = delta2 W2, masked by the ReLU (h > 0 where it was active) */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)H, (int)C,
			    1.0f, m->z, (int)C, W2, (int)H, 0.0f, m->dh, (int)H);
		for (size_t i = 0; i < (size_t)rows * H; i++)
			if (m->h[i] <= 0.0f)
				m->dh[i] = 0.0f;
		affine_grad(m->dh, x, rows, D, H, inv, grad, grad + (size_t)H * D);
		if (m->l2 != 0.0f) {
			for (size_t j = 0; j < (size_t)H * D; j++)
				grad[j] += m->l2 * w[j];
			for (size_t j = 0; j < (size_t)C * H; j++)
				grad[o2 + j] += m->l2 * w[o2 + j];
		}
		break;
	}
	}
	return 0;
}

int
gcdl_model_eval(struct gcdl_model *m, const float *w, const float *x, const float *y,
		uint32_t rows, double *loss, double *accuracy)
{
	uint64_t correct = 0;
	double sum = 0.0;
	int rc;

	if (m == NULL || w == NULL || x == NULL || y == NULL || rows == 0)
		return -EINVAL;
	if (m->kind == GCDL_MODEL_EXTERNAL)
		return -ENOTSUP;
	rc = check_labels(m, y, rows);
	if (rc != 0)
		return rc;
	rc = reserve(m, rows < EVAL_BLOCK ? rows : EVAL_BLOCK);
	if (rc != 0)
		return rc;
	for (uint32_t first = 0; first < rows; first += EVAL_BLOCK) {
		uint32_t n = rows - first < EVAL_BLOCK ? rows - first : EVAL_BLOCK;

		forward(m, w, x + (size_t)first * m->features, n);
		sum += loss_and_delta(m, y + first, n, 0, &correct);
	}
	if (loss != NULL)
		*loss = sum / rows + l2_term(m, w);
	if (accuracy != NULL)
		*accuracy = m->kind == GCDL_MODEL_LEAST_SQUARES ? 0.0 : (double)correct / rows;
	return 0;
}
