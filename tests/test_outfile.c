/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Output files (gcdl/outfile.h, metrics, checkpoints): only regular files
 * or new paths are written (a rename over /dev/null, run as root, used to
 * replace the device), stale temporary files of killed processes are
 * removed, metrics rows are whole even when a write fails, and a checkpoint
 * is checked for type and size before it is read (/dev/zero used to be read
 * for ~2 GiB).
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gcdl/checkpoint.h"
#include "gcdl/metrics.h"
#include "gcdl/outfile.h"

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/gcdl_test_outfile_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(check_refuses_what_is_not_a_regular_file)
{
	char err[256], path[128];

	ck_assert_int_eq(gcdl_outfile_check("/dev/null", err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(gcdl_outfile_check(path, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gcdl_outfile_check(dir, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "directory") != NULL);
	snprintf(path, sizeof(path), "%s/nodir/x.csv", dir);
	ck_assert_int_lt(gcdl_outfile_check(path, err, sizeof(err)), 0);
	/* a new path and a regular file are fine */
	snprintf(path, sizeof(path), "%s/new.csv", dir);
	ck_assert_int_eq(gcdl_outfile_check(path, err, sizeof(err)), 0);
	fclose(fopen(path, "w"));
	ck_assert_int_eq(gcdl_outfile_check(path, err, sizeof(err)), 0);
	/* a checkpoint is never written over a device either */
	{
		struct gcdl_checkpoint ck = { 0 };
		float w[2] = { 1, 2 }, m[2] = { 0, 0 };

		ck.dim = 2;
		ck.model = w;
		ck.momentum = m;
		ck_assert_int_eq(gcdl_checkpoint_save("/dev/null", &ck, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);
	}
	{
		struct stat st;

		ck_assert_int_eq(stat("/dev/null", &st), 0);
		ck_assert(S_ISCHR(st.st_mode));
	}
}
END_TEST

START_TEST(stale_temporaries_of_dead_processes_go)
{
	char path[128], f[8][160];
	pid_t dead, live = getpid();
	int status;

	/* a PID that is surely gone: a child that exited and was reaped */
	dead = fork();
	ck_assert_int_ge(dead, 0);
	if (dead == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(dead, &status, 0), dead);
	snprintf(path, sizeof(path), "%s/m.csv", dir);
	snprintf(f[0], sizeof(f[0]), "%s/.m.csv.tmp-%d", dir, (int)dead);   /* goes */
	snprintf(f[1], sizeof(f[1]), "%s/m.csv.tmp-%d", dir, (int)dead);    /* goes (old form) */
	snprintf(f[2], sizeof(f[2]), "%s/.m.csv.tmp-%d", dir, (int)live);   /* a live one: stays */
	snprintf(f[3], sizeof(f[3]), "%s/.other.csv.tmp-%d", dir, (int)dead); /* another file's */
	snprintf(f[4], sizeof(f[4]), "%s/.m.csv.tmp-0%d", dir, (int)dead); /* not a PID */
	snprintf(f[5], sizeof(f[5]), "%s/.m.csv.tmp-%dx", dir, (int)dead); /* not a PID */
	snprintf(f[6], sizeof(f[6]), "%s/m.csv", dir);                     /* the output */
	for (int i = 0; i < 7; i++)
		fclose(fopen(f[i], "w"));
	ck_assert_int_eq(gcdl_outfile_clean_stale(path), 2);
	ck_assert_int_ne(access(f[0], F_OK), 0);
	ck_assert_int_ne(access(f[1], F_OK), 0);
	for (int i = 2; i < 7; i++)
		ck_assert_msg(access(f[i], F_OK) == 0, "%s removed", f[i]);
	snprintf(path, sizeof(path), "%s/nodir/m.csv", dir);
	ck_assert_int_lt(gcdl_outfile_clean_stale(path), 0);
	ck_assert_int_eq(gcdl_outfile_clean_stale(NULL), -EINVAL);
}
END_TEST

/* A write that fails half-way (here: the file size limit) takes the row
 * back: the file holds the header and whole rows only. */
START_TEST(metrics_rows_are_whole)
{
	struct gcdl_metrics_row r = { .method = "onebit_gc", .uplink_bits = 123456789,
				      .stragglers = 2, .wall_ms = 1.5 };
	char path[128], err[256], buf[8192];
	struct rlimit lim;
	size_t len, rows = 0;
	FILE *f;
	int rc = 0;

	signal(SIGXFSZ, SIG_IGN);
	snprintf(path, sizeof(path), "%s/m.csv", dir);
	f = gcdl_metrics_open(path, err, sizeof(err));
	ck_assert_ptr_nonnull(f);
	lim.rlim_cur = lim.rlim_max = 1000;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (uint32_t t = 0; t < 100 && rc == 0; t++) {
		r.round = t;
		rc = gcdl_metrics_write(f, &r);
		rows += rc == 0;
	}
	ck_assert_int_eq(rc, -EIO);
	ck_assert_uint_gt(rows, 5);
	/* a later row fails the same way, and leaves nothing either */
	ck_assert_int_eq(gcdl_metrics_write(f, &r), -EIO);
	fclose(f);
	f = fopen(path, "r");
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	ck_assert_uint_le(len, 1000);
	ck_assert_msg(len > 0 && buf[len - 1] == '\n', "torn row: '%s'", buf + len - 20);
	{
		size_t lines = 0;

		for (size_t i = 0; i < len; i++)
			lines += buf[i] == '\n';
		ck_assert_uint_eq(lines, rows + 1);
	}
}
END_TEST

START_TEST(checkpoint_load_checks_type_and_size)
{
	struct gcdl_checkpoint ck = { 0 };
	char err[256], path[128];
	FILE *f;

	ck_assert_int_eq(gcdl_checkpoint_load("/dev/zero", &ck, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);
	ck_assert_int_lt(gcdl_checkpoint_load(dir, &ck, err, sizeof(err)), 0);
	/* a sparse file far larger than any checkpoint: refused before a read */
	snprintf(path, sizeof(path), "%s/huge.bin", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(ftruncate(fileno(f), (off_t)16 << 30), 0);
	fclose(f);
	ck_assert_int_eq(gcdl_checkpoint_load(path, &ck, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "larger than any") != NULL, "%s", err);
	ck_assert_ptr_null(ck.model);
}
END_TEST

static Suite *
outfile_suite(void)
{
	Suite *s = suite_create("outfile");
	TCase *t = tcase_create("outfile");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, check_refuses_what_is_not_a_regular_file);
	tcase_add_test(t, stale_temporaries_of_dead_processes_go);
	tcase_add_test(t, metrics_rows_are_whole);
	tcase_add_test(t, checkpoint_load_checks_type_and_size);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(outfile_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
