/* SPDX-License-Identifier: BSD-3-Clause */
/* Jobs: a profile's data loaded, normalised and partitioned, or a clear error. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gcdl/job.h"

START_TEST(open_rejects)
{
	struct gcdl_profile p;
	struct gcdl_job job;
	char err[512];

	gcdl_profile_defaults(&p);
	ck_assert_int_eq(gcdl_job_open(NULL, &p, 1, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gcdl_job_open(&job, NULL, 1, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gcdl_job_open(&job, &p, 0, err, sizeof(err)), -EINVAL);

	/* a missing data directory names the file */
	snprintf(p.path, sizeof(p.path), "/nonexistent/fmnist");
	ck_assert_int_eq(gcdl_job_open(&job, &p, 1, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "/nonexistent/fmnist/train-images-idx3-ubyte.gz") != NULL,
		      "%s", err);
	ck_assert_ptr_null(job.engine);
	ck_assert_ptr_null(job.train.x);

	/* an invalid profile is refused before any data is read */
	gcdl_profile_defaults(&p);
	p.redundancy = 3;
	p.partitions = 7;
	ck_assert_int_eq(gcdl_job_open(&job, &p, 1, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "cluster.layout") != NULL);

	/* more partitions than rows */
	gcdl_profile_defaults(&p);
	p.dataset = GCDL_DATA_SYNTH_GMM;
	p.workers = 8;
	p.train_rows = 5;
	ck_assert_int_eq(gcdl_job_open(&job, &p, 1, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "cluster.partitions 8 is more than the 5 training rows") != NULL);

	/* a LIBSVM file that does not exist */
	gcdl_profile_defaults(&p);
	p.dataset = GCDL_DATA_LIBSVM;
	snprintf(p.path, sizeof(p.path), "/nonexistent/train.svm");
	ck_assert_int_lt(gcdl_job_open(&job, &p, 1, err, sizeof(err)), 0);
	ck_assert(strstr(err, "/nonexistent/train.svm") != NULL);
	gcdl_job_close(NULL);
}
END_TEST

/* Write text to a fresh temporary file; returns its path in buf. */
static void
temp_text(char *buf, size_t len, const char *text)
{
	int fd;
	FILE *f;

	snprintf(buf, len, "/tmp/gcdl_test_job_XXXXXX");
	fd = mkstemp(buf);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* The training set declares the classes: a test label beyond them fails at
 * load, naming the test file and line, instead of growing the model. */
START_TEST(test_labels_outside_training_classes)
{
	struct gcdl_profile p;
	struct gcdl_job job;
	char train[64], test[64], err[512];

	temp_text(train, sizeof(train), "0 1:1\n1 2:1\n2 1:0.5\n0 2:2\n1 1:1\n2 2:1\n");
	temp_text(test, sizeof(test), "1 1:1\n# comment\n3 2:1\n");
	gcdl_profile_defaults(&p);
	p.dataset = GCDL_DATA_LIBSVM;
	p.workers = 2;
	p.redundancy = 1;
	snprintf(p.path, sizeof(p.path), "%s", train);
	snprintf(p.test_path, sizeof(p.test_path), "%s", test);
	ck_assert_int_eq(gcdl_job_open(&job, &p, 1, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, test) != NULL &&
		      strstr(err, ":3: label 3 is outside the 3 declared classes") != NULL,
		      "%s", err);
	/* within the classes it opens, with the training set's class count */
	temp_text(test, sizeof(test), "1 1:1\n2 2:1\n");
	snprintf(p.test_path, sizeof(p.test_path), "%s", test);
	ck_assert_msg(gcdl_job_open(&job, &p, 1, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(job.train.classes, 3);
	ck_assert_uint_eq(job.test.classes, 3);
	gcdl_job_close(&job);
	unlink(train);
	unlink(test);
}
END_TEST

START_TEST(synthetic_job_is_partitioned_and_normalised)
{
	struct gcdl_profile p;
	struct gcdl_job job;
	char err[512] = "";
	double mean = 0;

	gcdl_profile_defaults(&p);
	p.dataset = GCDL_DATA_SYNTH_GMM;
	p.workers = 4;
	p.train_rows = 103;
	p.test_rows = 50;
	p.synth_features = 6;
	ck_assert_msg(gcdl_job_open(&job, &p, 2, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(job.train.rows, 103);
	ck_assert_uint_eq(job.test.rows, 50);
	ck_assert_uint_eq(job.offsets[0], 0);
	ck_assert_uint_eq(job.offsets[4], 103);
	for (int i = 0; i < 4; i++) {
		uint32_t size = job.offsets[i + 1] - job.offsets[i];

		ck_assert(size == 25 || size == 26);
	}
	/* standardised with the training statistics: feature 0 has mean 0 */
	for (uint32_t r = 0; r < job.train.rows; r++)
		mean += job.train.x[(size_t)r * 6];
	ck_assert_double_eq_tol(mean / job.train.rows, 0.0, 1e-5);
	ck_assert_uint_eq(gcdl_engine_dim(job.engine), 4 * 6 + 4);
	gcdl_job_close(&job);
	ck_assert_ptr_null(job.engine);
}
END_TEST

START_TEST(linear_split_keeps_rows_apart)
{
	struct gcdl_profile p;
	struct gcdl_job job;
	char err[512] = "";

	gcdl_profile_defaults(&p);
	p.dataset = GCDL_DATA_SYNTH_LINEAR;
	p.model = GCDL_MODEL_LEAST_SQUARES;
	p.normalize = GCDL_NORM_NONE;
	p.workers = 2;
	p.train_rows = 40;
	p.test_rows = 10;
	p.synth_features = 3;
	ck_assert_msg(gcdl_job_open(&job, &p, 1, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(job.train.rows, 40);
	ck_assert_uint_eq(job.test.rows, 10);
	ck_assert_uint_eq(job.test.features, 3);
	ck_assert_uint_eq(job.train.classes, 0);
	gcdl_job_close(&job);
}
END_TEST

START_TEST(eval_schedule)
{
	struct gcdl_profile p;

	gcdl_profile_defaults(&p);
	p.rounds = 25;
	p.eval_every = 10;
	ck_assert(!gcdl_job_eval_due(&p, 0));
	ck_assert(gcdl_job_eval_due(&p, 9));   /* round 10 */
	ck_assert(!gcdl_job_eval_due(&p, 10));
	ck_assert(gcdl_job_eval_due(&p, 19));
	ck_assert(gcdl_job_eval_due(&p, 24));  /* the last round, always */
	p.eval_every = 0;
	ck_assert(!gcdl_job_eval_due(NULL, 24));
	ck_assert(!gcdl_job_eval_due(&p, 9));
	ck_assert(gcdl_job_eval_due(&p, 24));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("job");
	TCase *neg = tcase_create("negative");
	TCase *pos = tcase_create("positive");
	SRunner *sr;
	int failed;

	tcase_add_test(neg, open_rejects);
	tcase_add_test(neg, test_labels_outside_training_classes);
	tcase_add_test(pos, synthetic_job_is_partitioned_and_normalised);
	tcase_add_test(pos, linear_split_keeps_rows_apart);
	tcase_add_test(pos, eval_schedule);
	suite_add_tcase(s, neg);
	suite_add_tcase(s, pos);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
