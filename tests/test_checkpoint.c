/* SPDX-License-Identifier: BSD-3-Clause */
/* Checkpoints: round trip, atomic replace, every corruption refused, every
 * mismatch refused, nothing restored from a refused file. */
#include <check.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gcdl/checkpoint.h"
#include "gcdl/engine.h"
#include "gcdl/job.h"

#include <zlib.h>

static char dir[64], path[128];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/gcdl_test_ckpt_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ck.bin", dir);
}

static void
teardown(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
profile(struct gcdl_profile *p)
{
	gcdl_profile_defaults(p);
	p->workers = 4;
	p->partitions = 4;
	p->redundancy = 2;
	p->dataset = GCDL_DATA_SYNTH_GMM;
	p->train_rows = 200;
	p->test_rows = 50;
	p->synth_features = 6;
	p->synth_classes = 3;
	p->momentum = 0.5;
	p->rounds = 50;
	p->seed = 21;
}

static void
open_job(struct gcdl_job *job, const struct gcdl_profile *p)
{
	char err[256];

	ck_assert_msg(gcdl_job_open(job, p, 1, err, sizeof(err)) == 0, "%s", err);
}

/* Write a checkpoint of a job whose model and momentum hold known values. */
static void
write_known(const struct gcdl_profile *p, uint32_t round)
{
	struct gcdl_checkpoint ck;
	struct gcdl_job job;
	char err[256];
	uint32_t dim;

	open_job(&job, p);
	dim = gcdl_engine_dim(job.engine);
	for (uint32_t i = 0; i < dim; i++) {
		gcdl_engine_model(job.engine)[i] = 0.25f * (float)i - 3.0f;
		gcdl_engine_momentum(job.engine)[i] = -0.125f * (float)i;
	}
	ck_assert_int_eq(gcdl_checkpoint_describe(&ck, p, job.engine, round), 0);
	ck.totals[GCDL_CTR_UPLINK_WIRE_BYTES] = 123456789012ULL;
	ck.totals[GCDL_CTR_UPLINK_PAYLOAD_BYTES] = 42;
	ck.totals[GCDL_CTR_STRAGGLERS] = 7;
	ck.totals[GCDL_CTR_RX_FRAMES] = 99; /* not a run total: not written */
	ck_assert_msg(gcdl_checkpoint_save(path, &ck, err, sizeof(err)) == 0, "%s", err);
	gcdl_checkpoint_free(&ck);
	gcdl_job_close(&job);
}

START_TEST(round_trip_and_restore)
{
	struct gcdl_profile p;
	struct gcdl_checkpoint ck;
	struct gcdl_job job;
	char err[256];
	glob_t g;
	uint32_t dim;

	profile(&p);
	write_known(&p, 30);
	ck_assert_int_eq(gcdl_checkpoint_load(path, &ck, err, sizeof(err)), 0);
	ck_assert_uint_eq(ck.round, 30);
	ck_assert_uint_eq(ck.totals[GCDL_CTR_UPLINK_WIRE_BYTES], 123456789012ULL);
	ck_assert_uint_eq(ck.totals[GCDL_CTR_UPLINK_PAYLOAD_BYTES], 42);
	ck_assert_uint_eq(ck.totals[GCDL_CTR_STRAGGLERS], 7);
	ck_assert_uint_eq(ck.totals[GCDL_CTR_RX_FRAMES], 0);
	ck_assert_uint_eq(ck.seed, 21);
	open_job(&job, &p);
	dim = gcdl_engine_dim(job.engine);
	ck_assert_uint_eq(ck.dim, dim);
	ck_assert_int_eq(gcdl_checkpoint_restore(&ck, &p, job.engine, err, sizeof(err)), 0);
	for (uint32_t i = 0; i < dim; i++) {
		ck_assert_float_eq(gcdl_engine_model(job.engine)[i], 0.25f * (float)i - 3.0f);
		ck_assert_float_eq(gcdl_engine_momentum(job.engine)[i], -0.125f * (float)i);
	}
	gcdl_job_close(&job);
	gcdl_checkpoint_free(&ck);
	gcdl_checkpoint_free(&ck); /* twice is fine */
	gcdl_checkpoint_free(NULL);
	/* replaced in place, no temporary file left, not readable by others */
	write_known(&p, 40);
	ck_assert_int_eq(gcdl_checkpoint_load(path, &ck, err, sizeof(err)), 0);
	ck_assert_uint_eq(ck.round, 40);
	gcdl_checkpoint_free(&ck);
	{
		char pat[160];
		struct stat st;

		snprintf(pat, sizeof(pat), "%s/*tmp*", dir);
		ck_assert_int_eq(glob(pat, 0, NULL, &g), GLOB_NOMATCH);
		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert_int_eq(st.st_mode & 077, 0);
	}
}
END_TEST

static void
expect_bad_file(const char *frag)
{
	struct gcdl_checkpoint ck;
	char err[256] = "";

	ck_assert_int_eq(gcdl_checkpoint_load(path, &ck, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, frag) != NULL, "'%s' not in '%s'", frag, err);
	ck_assert_msg(strstr(err, path) != NULL, "no file name in '%s'", err);
	ck_assert_ptr_null(ck.model);
}

static long
file_len(void)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return (long)st.st_size;
}

static void
flip_byte(long off)
{
	FILE *f = fopen(path, "r+b");
	int c;

	ck_assert_ptr_nonnull(f);
	fseek(f, off, SEEK_SET);
	c = fgetc(f);
	fseek(f, off, SEEK_SET);
	fputc(c ^ 0x10, f);
	fclose(f);
}

/* A flipped byte anywhere (header, model, momentum, checksum) is caught. */
START_TEST(corruption_refused)
{
	struct gcdl_profile p;
	long len;

	profile(&p);
	write_known(&p, 30);
	len = file_len();
	for (long off = 16; off < len; off += 7) {
		write_known(&p, 30);
		flip_byte(off);
		expect_bad_file("checkpoint");
	}
	write_known(&p, 30);
	flip_byte(len / 2);
	expect_bad_file("checksum mismatch");
	write_known(&p, 30);
	flip_byte(0);
	expect_bad_file("not a gcdl checkpoint");
	write_known(&p, 30);
	flip_byte(8);
	expect_bad_file("version");
	write_known(&p, 30);
	ck_assert_int_eq(truncate(path, len - 1), 0);
	expect_bad_file("truncated");
	ck_assert_int_eq(truncate(path, 10), 0);
	expect_bad_file("not a gcdl checkpoint");
	ck_assert_int_eq(truncate(path, 0), 0);
	expect_bad_file("not a gcdl checkpoint");
}
END_TEST

START_TEST(null_and_missing)
{
	struct gcdl_checkpoint ck = { 0 };
	struct gcdl_profile p;
	char err[256];

	profile(&p);
	ck_assert_int_eq(gcdl_checkpoint_load(NULL, &ck, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gcdl_checkpoint_load(path, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gcdl_checkpoint_load("/nonexistent/ck.bin", &ck, err, sizeof(err)),
			 -ENOENT);
	ck_assert_int_eq(gcdl_checkpoint_save(path, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gcdl_checkpoint_save(NULL, &ck, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gcdl_checkpoint_describe(NULL, &p, NULL, 0), -EINVAL);
	ck_assert_int_eq(gcdl_checkpoint_restore(NULL, &p, NULL, err, sizeof(err)), -EINVAL);
	/* a directory that does not exist: the error names the file */
	ck.model = ck.momentum = (float[1]){ 0 };
	ck.dim = 1;
	ck_assert_int_eq(gcdl_checkpoint_save("/nonexistent/ck.bin", &ck, err, sizeof(err)),
			 -ENOENT);
	ck_assert(strstr(err, "/nonexistent/ck.bin") != NULL);
}
END_TEST

/* Every mismatch is refused and leaves the engine as it was. */
START_TEST(mismatch_refused)
{
	struct {
		const char *key, *value, *frag;
	} cases[] = {
		{ "job.seed", "22", "another job" },
		{ "job.method", "sgc", "another job" },
		{ "cluster.workers", "8", "another shape" },
		{ "cluster.redundancy", "1", "another shape" },
		{ "cluster.layout", "cyclic", "another shape" },
		{ "data.synthetic_features", "7", "another shape" },
		{ "optim.lr", "0.3", "another profile" },
		{ "job.rounds", "30", "another profile" },
	};
	struct gcdl_profile p;
	struct gcdl_checkpoint ck;
	char err[384];

	profile(&p);
	write_known(&p, 30);
	ck_assert_int_eq(gcdl_checkpoint_load(path, &ck, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gcdl_profile q = p;
		struct gcdl_job job;
		float *before;
		uint32_t dim;

		ck_assert_int_eq(gcdl_profile_set(&q, cases[i].key, cases[i].value, err,
						  sizeof(err)), 0);
		if (strcmp(cases[i].key, "cluster.workers") == 0)
			q.partitions = 8;
		open_job(&job, &q);
		dim = gcdl_engine_dim(job.engine);
		before = malloc(sizeof(float) * dim);
		memcpy(before, gcdl_engine_model(job.engine), sizeof(float) * dim);
		ck_assert_int_eq(gcdl_checkpoint_restore(&ck, &q, job.engine, err, sizeof(err)),
				 -ESTALE);
		ck_assert_msg(strstr(err, cases[i].frag) != NULL, "%s: '%s' not in '%s'",
			      cases[i].key, cases[i].frag, err);
		ck_assert_mem_eq(before, gcdl_engine_model(job.engine), sizeof(float) * dim);
		free(before);
		gcdl_job_close(&job);
	}
	/* where checkpoints go and the data plane's tuning may change */
	{
		struct gcdl_profile q = p;
		struct gcdl_job job;

		q.checkpoint_every = 5;
		snprintf(q.checkpoint_path, sizeof(q.checkpoint_path), "/elsewhere");
		q.burst = 64;
		open_job(&job, &q);
		ck_assert_int_eq(gcdl_checkpoint_restore(&ck, &q, job.engine, err, sizeof(err)), 0);
		gcdl_job_close(&job);
	}
	gcdl_checkpoint_free(&ck);
}
END_TEST

/* Worker states (onebit_gc_ef's residuals, workers' momentum) go through a
 * checkpoint whole and come back into another engine; a job that does not
 * keep them refuses the file; a version-3 file (no states) is still read. */
START_TEST(worker_states_round_trip)
{
	struct gcdl_profile p, q;
	struct gcdl_checkpoint ck;
	struct gcdl_job job, back, other;
	char err[256];
	float *v, *got;
	uint32_t dim;

	profile(&p);
	p.method = GCDL_METHOD_ONEBIT_GC_EF;
	p.momentum_at = GCDL_MOMENTUM_WORKERS;
	open_job(&job, &p);
	dim = gcdl_engine_dim(job.engine);
	v = malloc(sizeof(float) * dim);
	got = malloc(sizeof(float) * dim);
	for (uint32_t k = 0; k < 3; k++) {
		for (uint32_t i = 0; i < dim; i++)
			v[i] = (float)(k + 1) * 0.5f - 0.01f * (float)i;
		ck_assert_int_eq(gcdl_engine_worker_state_set(job.engine, k,
							      k == 1 ? GCDL_WSTATE_MOMENTUM
								     : GCDL_WSTATE_EF, v), 0);
	}
	ck_assert_int_eq(gcdl_checkpoint_describe(&ck, &p, job.engine, 12), 0);
	ck_assert_uint_eq(ck.nstates, 3);
	ck_assert_uint_eq(ck.states_busy, 0);
	ck_assert_msg(gcdl_checkpoint_save(path, &ck, err, sizeof(err)) == 0, "%s", err);
	gcdl_checkpoint_free(&ck);
	ck_assert_int_eq(gcdl_checkpoint_load(path, &ck, err, sizeof(err)), 0);
	ck_assert_uint_eq(ck.nstates, 3);
	open_job(&back, &p);
	ck_assert_int_eq(gcdl_engine_worker_state_get(back.engine, 0, GCDL_WSTATE_EF, got), 0);
	ck_assert_int_eq(gcdl_checkpoint_restore(&ck, &p, back.engine, err, sizeof(err)), 0);
	for (uint32_t k = 0; k < 4; k++) {
		for (int w = GCDL_WSTATE_EF; w <= GCDL_WSTATE_MOMENTUM; w++) {
			int want = k < 3 && (w == GCDL_WSTATE_MOMENTUM) == (k == 1);
			int rc = gcdl_engine_worker_state_get(back.engine, k,
							      (enum gcdl_worker_state)w, got);

			ck_assert_int_eq(rc, want);
			if (!want)
				continue;
			for (uint32_t i = 0; i < dim; i++)
				ck_assert_float_eq(got[i], (float)(k + 1) * 0.5f - 0.01f * (float)i);
		}
	}
	/* restored again into an engine that holds the states already (a local
	 * mesh's peers restore the one shared store each): the same values */
	ck_assert_int_eq(gcdl_checkpoint_restore(&ck, &p, back.engine, err, sizeof(err)), 0);
	ck_assert_int_eq(gcdl_engine_worker_state_get(back.engine, 2, GCDL_WSTATE_EF, got), 1);
	for (uint32_t i = 0; i < dim; i++)
		ck_assert_float_eq(got[i], 1.5f - 0.01f * (float)i);
	/* onebit_gc keeps neither */
	q = p;
	q.method = GCDL_METHOD_ONEBIT_GC;
	q.momentum_at = 0;
	open_job(&other, &q);
	ck_assert_int_eq(gcdl_checkpoint_restore(&ck, &q, other.engine, err, sizeof(err)), -ESTALE);
	ck_assert_msg(strstr(err, "does not keep") != NULL || strstr(err, "another") != NULL,
		      "%s", err);
	gcdl_checkpoint_free(&ck);
	gcdl_job_close(&other);
	gcdl_job_close(&back);
	gcdl_job_close(&job);
	free(v);
	free(got);
	/* version 3: the same bytes without states, read as none */
	{
		struct gcdl_profile p3;
		FILE *f;
		uint8_t *buf;
		long len;
		uint32_t crc;

		profile(&p3);
		write_known(&p3, 30);
		len = file_len();
		buf = malloc((size_t)len);
		f = fopen(path, "r+b");
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
		buf[8] = 3;
		crc = (uint32_t)crc32(0L, buf, (uInt)(len - 4));
		for (int i = 0; i < 4; i++)
			buf[len - 4 + i] = (uint8_t)(crc >> (8 * i));
		rewind(f);
		ck_assert_uint_eq(fwrite(buf, 1, (size_t)len, f), (size_t)len);
		fclose(f);
		free(buf);
		ck_assert_msg(gcdl_checkpoint_load(path, &ck, err, sizeof(err)) == 0, "%s", err);
		ck_assert_uint_eq(ck.nstates, 0);
		ck_assert_uint_eq(ck.round, 30);
		gcdl_checkpoint_free(&ck);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("checkpoint");
	TCase *neg = tcase_create("negative");
	TCase *pos = tcase_create("positive");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(neg, setup, teardown);
	tcase_add_checked_fixture(pos, setup, teardown);
	tcase_add_test(neg, null_and_missing);
	tcase_add_test(neg, corruption_refused);
	tcase_add_test(neg, mismatch_refused);
	tcase_add_test(pos, round_trip_and_restore);
	tcase_add_test(pos, worker_states_round_trip);
	tcase_set_timeout(neg, 120);
	suite_add_tcase(s, neg);
	suite_add_tcase(s, pos);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
