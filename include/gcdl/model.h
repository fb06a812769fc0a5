/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Models: loss and gradient over a block of rows, evaluation.
 *
 * The parameters are one flat float vector of gcdl_model_dim() coordinates,
 * owned by the caller, so that the engine can quantize, aggregate and update
 * it as a whole. Layouts of that vector:
 *  - least squares: w[features], b                     (loss 1/2 mean (x.w+b-y)^2)
 *  - softmax:       W[classes][features], b[classes]   (mean cross-entropy)
 *  - mlp:           W1[hidden][features], b1[hidden], W2[classes][hidden], b2[classes]
 *                   with ReLU on the hidden layer      (mean cross-entropy)
 *  - external:      `features` coordinates of a model gcdl does not compute:
 *                   loss, gradient and evaluation answer -ENOTSUP
 * An optional L2 term l2/2 * ||weights||^2 (biases excluded) is added to the
 * loss and its gradient. Matrix products go through CBLAS.
 */
#ifndef GCDL_MODEL_H
#define GCDL_MODEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Model kinds. */
enum gcdl_model_kind {
	GCDL_MODEL_LEAST_SQUARES = 0,
	GCDL_MODEL_SOFTMAX,
	GCDL_MODEL_MLP,
	GCDL_MODEL_EXTERNAL, /**< a model trained outside gcdl (PyTorch, lib/python/gcdl):
			      *   gcdl carries its gradient of `features` coordinates
			      *   and computes nothing of it */
	GCDL_MODEL__COUNT
};

struct gcdl_model;

/**
 * Parse a model name ("least_squares", "softmax", "mlp", "external").
 *
 * @param name  the name.
 * @param kind  where the kind is written.
 * @return 0, or -EINVAL for NULL or an unknown name.
 */
int gcdl_model_kind_parse(const char *name, enum gcdl_model_kind *kind);

/**
 * Create a model description with its scratch space.
 *
 * @param kind      the kind.
 * @param features  inputs per row, > 0.
 * @param classes   classes (>= 2) for softmax and mlp; ignored for least squares.
 * @param hidden    hidden units (> 0) for mlp; ignored otherwise.
 * @param l2        L2 coefficient, >= 0 and finite.
 * @return the model, or NULL with errno EINVAL (bad argument) or ENOMEM.
 */
struct gcdl_model *gcdl_model_create(enum gcdl_model_kind kind, uint32_t features,
				     uint32_t classes, uint32_t hidden, float l2);

/** Free a model; NULL is ignored. @param m the model. */
void gcdl_model_free(struct gcdl_model *m);

/** @return the number of parameters, 0 for NULL. @param m the model. */
uint32_t gcdl_model_dim(const struct gcdl_model *m);

/**
 * Initialise parameters: zeros for least squares and softmax; for the MLP,
 * He-normal W1 and Glorot-normal W2 drawn from the seed, zero biases.
 *
 * @param m     the model.
 * @param w     gcdl_model_dim(m) parameters.
 * @param seed  seed.
 * @return 0, or -EINVAL for NULL.
 */
int gcdl_model_init(const struct gcdl_model *m, float *w, uint64_t seed);

/**
 * Mean loss and its gradient over rows (plus the L2 term).
 *
 * @param m     the model.
 * @param w     parameters.
 * @param x     rows x features, row-major.
 * @param y     rows targets (class indices as floats, or real targets).
 * @param rows  number of rows, > 0.
 * @param grad  receives gcdl_model_dim(m) values, or NULL for the loss only.
 * @param loss  receives the mean loss, or NULL.
 * @return 0, -EINVAL for NULL m/w/x/y, rows = 0 or above INT_MAX (the CBLAS
 *         index type), or a class index out of range, -ENOMEM when scratch
 *         space cannot grow, -ENOTSUP for an external model.
 */
int gcdl_model_loss_grad(struct gcdl_model *m, const float *w, const float *x, const float *y,
			 uint32_t rows, float *grad, double *loss);

/**
 * Evaluate mean loss (L2 term included) and accuracy over rows, in blocks so
 * that memory stays bounded for any row count.
 *
 * @param m         the model.
 * @param w         parameters.
 * @param x         rows x features.
 * @param y         rows targets.
 * @param rows      number of rows, > 0.
 * @param loss      receives the mean loss, or NULL.
 * @param accuracy  receives the fraction classified correctly (argmax), or
 *                  NULL; for least squares it receives 0.
 * @return 0, -EINVAL for NULL m/w/x/y, rows = 0, or a class index out of
 *         range, -ENOMEM when scratch space cannot grow, -ENOTSUP for an
 *         external model.
 */
int gcdl_model_eval(struct gcdl_model *m, const float *w, const float *x, const float *y,
		    uint32_t rows, double *loss, double *accuracy);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_MODEL_H */
