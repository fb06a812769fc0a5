/* SPDX-License-Identifier: BSD-3-Clause */
/* A job: datasets loaded per the profile, normalised, partitioned; the engine. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h> /* openblas_set_num_threads */

#include "gcdl/job.h"
#include "seterr.h"

#define SYNTH_TRAIN_DEFAULT 2000
#define SYNTH_TEST_DEFAULT 1000
#define FMNIST_CLASSES 10 /* Fashion-MNIST declares ten classes */

/* Keep the first rows of a dataset (the arrays keep their size). */
static void
keep_rows(struct gcdl_dataset *ds, uint32_t rows)
{
	if (rows > 0 && rows < ds->rows)
		ds->rows = rows;
}

/* Move rows [from, rows) of src into a new dataset dst, and shrink src. */
static int
split_tail(struct gcdl_dataset *src, uint32_t from, struct gcdl_dataset *dst)
{
	uint32_t n = src->rows - from;

	memset(dst, 0, sizeof(*dst));
	dst->x = malloc(sizeof(float) * (size_t)n * src->features);
	dst->y = malloc(sizeof(float) * n);
	if (dst->x == NULL || dst->y == NULL) {
		gcdl_dataset_free(dst);
		return -ENOMEM;
	}
	memcpy(dst->x, src->x + (size_t)from * src->features,
	       sizeof(float) * (size_t)n * src->features);
	memcpy(dst->y, src->y + from, sizeof(float) * n);
	dst->rows = n;
	dst->features = src->features;
	dst->classes = src->classes;
	src->rows = from;
	return 0;
}

static int
load_data(struct gcdl_job *job, char *err, size_t errlen)
{
	const struct gcdl_profile *p = &job->prof;
	char img[GCDL_PROFILE_STR + 64], lbl[GCDL_PROFILE_STR + 64];
	uint32_t ntrain = p->train_rows ? p->train_rows : SYNTH_TRAIN_DEFAULT;
	uint32_t ntest = p->test_rows ? p->test_rows : SYNTH_TEST_DEFAULT;
	int rc;

	switch (p->dataset) {
	case GCDL_DATA_FMNIST:
		snprintf(img, sizeof(img), "%s/train-images-idx3-ubyte.gz", p->path);
		snprintf(lbl, sizeof(lbl), "%s/train-labels-idx1-ubyte.gz", p->path);
		rc = gcdl_dataset_load_idx(img, lbl, FMNIST_CLASSES, &job->train, err, errlen);
		if (rc != 0)
			return rc;
		snprintf(img, sizeof(img), "%s/t10k-images-idx3-ubyte.gz", p->path);
		snprintf(lbl, sizeof(lbl), "%s/t10k-labels-idx1-ubyte.gz", p->path);
		rc = gcdl_dataset_load_idx(img, lbl, FMNIST_CLASSES, &job->test, err, errlen);
		if (rc != 0)
			return rc;
		keep_rows(&job->train, p->train_rows);
		keep_rows(&job->test, p->test_rows);
		return 0;
	case GCDL_DATA_LIBSVM: {
		int regression = p->model == GCDL_MODEL_LEAST_SQUARES;

		rc = gcdl_dataset_load_libsvm(p->path, 0, 0, regression, &job->train, err, errlen);
		if (rc != 0)
			return rc;
		/* the training set declares the classes: a test label beyond them is an error */
		rc = gcdl_dataset_load_libsvm(p->test_path[0] ? p->test_path : p->path,
					      job->train.features, job->train.classes, regression,
					      &job->test, err, errlen);
		if (rc != 0)
			return rc;
		keep_rows(&job->train, p->train_rows);
		keep_rows(&job->test, p->test_rows);
		return 0;
	}
	case GCDL_DATA_SYNTH_LINEAR:
		if ((uint64_t)ntrain + ntest > UINT32_MAX) {
			gcdl_seterr(err, errlen, "data.train_rows + data.test_rows is too large");
			return -EINVAL;
		}
		rc = gcdl_dataset_synth_linear(ntrain + ntest, p->synth_features, p->synth_noise,
					       p->seed, &job->train);
		if (rc != 0)
			break;
		return split_tail(&job->train, ntrain, &job->test);
	case GCDL_DATA_SYNTH_GMM:
		rc = gcdl_dataset_synth_gmm(ntrain, p->synth_features, p->synth_classes,
					    p->synth_sep, p->seed, 0, &job->train);
		if (rc != 0)
			break;
		rc = gcdl_dataset_synth_gmm(ntest, p->synth_features, p->synth_classes,
					    p->synth_sep, p->seed, 1, &job->test);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	if (rc != 0)
		gcdl_seterr(err, errlen, "data.dataset: cannot generate the synthetic set: %s",
		       strerror(-rc));
	return rc;
}

int
gcdl_job_open(struct gcdl_job *job, const struct gcdl_profile *p, uint32_t contexts, char *err,
	      size_t errlen)
{
	uint32_t m;
	int rc;

	if (job == NULL || p == NULL || contexts == 0) {
		gcdl_seterr(err, errlen, "job: missing arguments");
		return -EINVAL;
	}
	memset(job, 0, sizeof(*job));
	job->prof = *p;
	/* BLAS on one thread, in every program: OpenBLAS's threaded sgemm sums
	 * in an order that depends on its thread count, so the models' bits (and
	 * gcdl-sim's agreement with the data plane) would depend on the machine's
	 * cores; and in the data plane its threads would fight the pinned lcores. */
	openblas_set_num_threads(1);
	rc = gcdl_profile_validate(p, err, errlen);
	if (rc != 0)
		return rc;
	m = p->partitions ? p->partitions : p->workers;
	job->offsets = calloc((size_t)m + 1, sizeof(uint32_t));
	if (job->offsets == NULL) {
		rc = -ENOMEM;
		gcdl_seterr(err, errlen, "job: out of memory");
		goto fail;
	}
	if (p->model == GCDL_MODEL_EXTERNAL)
		/* the trainer holds the data: no rows, empty partitions */
		goto engine;
	rc = load_data(job, err, errlen);
	if (rc != 0)
		goto fail;
	switch (p->normalize) {
	case GCDL_NORM_SCALE:
		gcdl_dataset_scale(&job->train, 1.0f / 255.0f);
		gcdl_dataset_scale(&job->test, 1.0f / 255.0f);
		break;
	case GCDL_NORM_STANDARDIZE:
		rc = gcdl_dataset_standardize(&job->train, &job->test);
		if (rc != 0) {
			gcdl_seterr(err, errlen, "data.normalize standardize: %s", strerror(-rc));
			goto fail;
		}
		break;
	default:
		break;
	}
	if (m > job->train.rows) {
		gcdl_seterr(err, errlen, "cluster.partitions %u is more than the %u training rows", m,
		       job->train.rows);
		rc = -EINVAL;
		goto fail;
	}
	rc = gcdl_dataset_partition(&job->train, m, p->partitioning, p->seed, job->offsets);
	if (rc != 0) {
		gcdl_seterr(err, errlen, "data.partitioning %s into %u partitions: %s",
		       p->partitioning == GCDL_PART_LABEL ? "label" : "iid", m, strerror(-rc));
		goto fail;
	}
engine:
	job->engine = gcdl_engine_create(p, &job->train, job->offsets, contexts, err, errlen);
	if (job->engine == NULL) {
		rc = -errno;
		goto fail;
	}
	return 0;
fail:
	gcdl_job_close(job);
	return rc;
}

struct gcdl_engine *
gcdl_job_engine_create(struct gcdl_job *job, uint32_t contexts, char *err, size_t errlen)
{
	if (job == NULL || job->engine == NULL || job->offsets == NULL) {
		gcdl_seterr(err, errlen, "job: not open");
		errno = EINVAL;
		return NULL;
	}
	return gcdl_engine_create(&job->prof, &job->train, job->offsets, contexts, err, errlen);
}

void
gcdl_job_close(struct gcdl_job *job)
{
	if (job == NULL)
		return;
	gcdl_engine_free(job->engine);
	gcdl_dataset_free(&job->train);
	gcdl_dataset_free(&job->test);
	free(job->offsets);
	memset(job, 0, sizeof(*job));
}

bool
gcdl_job_eval_due(const struct gcdl_profile *p, uint32_t round)
{
	if (p == NULL)
		return false;
	if (round + 1 >= p->rounds)
		return true;
	return p->eval_every > 0 && (round + 1) % p->eval_every == 0;
}
