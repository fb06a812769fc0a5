/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The external-gradient channel (gcdl/extgrad.h): the refusals first, then
 * the layout a trainer reads by offset (lib/python/gcdl/channel.py), a
 * gradient taken only for the node's round (a late one counted once, never
 * taken), rounds published only in order, and the state and message.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gcdl/extgrad.h"

#define DIM 1000u

static char dir[64], path[96];
static const uint32_t parts[2] = { 3, 5 };
static const float weights[2] = { 0.125f, 0.0625f };

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/gcdl_test_extgrad_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/w1.grad", dir);
}

static void
teardown(void)
{
	unlink(path);
	rmdir(dir);
}

static struct gcdl_extgrad_info
info(void)
{
	struct gcdl_extgrad_info i = { .dim = DIM, .slots = 4, .worker = 1, .workers = 4,
				       .partitions = 8, .nparts = 2, .rounds = 30, .seed = 7,
				       .parts = parts, .weights = weights };
	return i;
}

START_TEST(refuses_bad_arguments)
{
	struct gcdl_extgrad_info i;
	char err[256];

	ck_assert_uint_eq(gcdl_extgrad_size(0, 4), 0);
	ck_assert_uint_eq(gcdl_extgrad_size(DIM, 0), 0);
	ck_assert_uint_eq(gcdl_extgrad_size(DIM, 70000), 0);
	/* each bad field alone */
	for (int c = 0; c < 7; c++) {
		i = info();
		switch (c) {
		case 0: i.dim = 0; break;
		case 1: i.workers = 0; break;
		case 2: i.worker = 4; break;
		case 3: i.partitions = 0; break;
		case 4: i.nparts = 0; break;
		case 5: i.nparts = GCDL_EXTGRAD_MAX_PARTS + 1; break;
		default: i.parts = NULL; break;
		}
		errno = 0;
		err[0] = '\0';
		ck_assert_ptr_null(gcdl_extgrad_create(path, &i, err, sizeof(err)));
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_ptr_nonnull(strstr(err, "bad channel arguments"));
		ck_assert_int_eq(access(path, F_OK), -1); /* nothing created */
	}
	i = info();
	ck_assert_ptr_null(gcdl_extgrad_create(NULL, &i, err, sizeof(err)));
	ck_assert_ptr_null(gcdl_extgrad_create("", &i, err, sizeof(err)));
	ck_assert_ptr_null(gcdl_extgrad_create(path, NULL, err, sizeof(err)));
	/* a directory that does not exist: the system's reason, with the path */
	errno = 0;
	ck_assert_ptr_null(gcdl_extgrad_create("/nonexistent-gcdl-dir/w.grad", &i, err,
					       sizeof(err)));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent-gcdl-dir/w.grad: cannot create it"));
	ck_assert_int_eq(gcdl_extgrad_take(NULL, 0, (float[1]){ 0 }), -EINVAL);
	ck_assert_int_eq(gcdl_extgrad_publish(NULL, 0, (float[1]){ 0 }), -EINVAL);
	gcdl_extgrad_free(NULL);
}
END_TEST

START_TEST(layout_a_trainer_reads)
{
	struct gcdl_extgrad_info i = info();
	struct gcdl_extgrad *x;
	struct gcdl_extgrad_hdr *h;
	struct stat st;
	char err[256];
	uint8_t *raw;
	uint32_t u32;
	float f;

	/* a stale file of an earlier run is replaced */
	FILE *old = fopen(path, "w");
	ck_assert_ptr_nonnull(old);
	fputs("stale", old);
	fclose(old);
	x = gcdl_extgrad_create(path, &i, err, sizeof(err));
	ck_assert_msg(x != NULL, "%s", err);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_uint_eq((size_t)st.st_size, gcdl_extgrad_size(DIM, 4));
	h = gcdl_extgrad_hdr(x);
	raw = (uint8_t *)h;
	/* the byte offsets of channel.py */
	memcpy(&u32, raw + 0, 4);
	ck_assert_uint_eq(u32, GCDL_EXTGRAD_MAGIC);
	memcpy(&u32, raw + 8, 4);
	ck_assert_uint_eq(u32, DIM);
	memcpy(&u32, raw + 16, 4);
	ck_assert_uint_eq(u32, 1);
	memcpy(&u32, raw + 28, 4);
	ck_assert_uint_eq(u32, 2);
	memcpy(&u32, raw + 36, 4);
	ck_assert_uint_eq(u32, GCDL_EXTGRAD_STARTING);
	memcpy(&u32, raw + 64 + 4, 4);
	ck_assert_uint_eq(u32, 5);
	memcpy(&f, raw + 320 + 4, 4);
	ck_assert(f == 0.0625f);
	ck_assert_uint_eq(h->seed, 7);
	ck_assert_uint_eq(h->slot_stride, 4032);          /* 4000 bytes, to 64 */
	ck_assert_uint_eq(h->out_off, 4096 + 4096);       /* in, rounded to a page */
	gcdl_extgrad_free(x);
}
END_TEST

START_TEST(take_only_the_rounds_gradient)
{
	struct gcdl_extgrad_info i = info();
	struct gcdl_extgrad *x = gcdl_extgrad_create(path, &i, NULL, 0);
	struct gcdl_extgrad_hdr *h;
	float *in, v[DIM];

	ck_assert_ptr_nonnull(x);
	h = gcdl_extgrad_hdr(x);
	in = (float *)((uint8_t *)h + GCDL_EXTGRAD_DATA_OFF);
	/* nothing posted */
	ck_assert_int_eq(gcdl_extgrad_take(x, 0, v), 0);
	/* the trainer's gradient of round 0 */
	for (uint32_t j = 0; j < DIM; j++)
		in[j] = (float)j * 0.5f - 3.0f;
	h->in_round = 1;
	memset(v, 0, sizeof(v));
	ck_assert_int_eq(gcdl_extgrad_take(x, 0, v), 1);
	ck_assert_int_eq(memcmp(v, in, sizeof(v)), 0);
	ck_assert_uint_eq(h->taken, 1);
	/* the node is at round 3: round 2's gradient came late: never taken,
	 * counted once however often the node looks */
	h->in_round = 3;
	for (int r = 0; r < 5; r++)
		ck_assert_int_eq(gcdl_extgrad_take(x, 3, v), -ESTALE);
	ck_assert_uint_eq(h->stale, 1);
	ck_assert_uint_eq(h->taken, 1);
	/* a gradient ahead of the node's round is not taken either */
	h->in_round = 6;
	ck_assert_int_eq(gcdl_extgrad_take(x, 3, v), 0);
	ck_assert_int_eq(gcdl_extgrad_take(x, 5, v), 1);
	ck_assert_uint_eq(h->taken, 6);
	gcdl_extgrad_free(x);
}
END_TEST

START_TEST(publish_in_order)
{
	struct gcdl_extgrad_info i = info();
	struct gcdl_extgrad *x = gcdl_extgrad_create(path, &i, NULL, 0);
	struct gcdl_extgrad_hdr *h;
	float g[DIM];

	ck_assert_ptr_nonnull(x);
	h = gcdl_extgrad_hdr(x);
	for (uint32_t r = 0; r < 6; r++) {
		const float *slot;

		for (uint32_t j = 0; j < DIM; j++)
			g[j] = (float)(r * DIM + j);
		ck_assert_int_eq(gcdl_extgrad_publish(x, r, g), 0);
		ck_assert_uint_eq(h->out_rounds, r + 1);
		slot = (const float *)((uint8_t *)h + h->out_off + (r % 4) * h->slot_stride);
		ck_assert_int_eq(memcmp(slot, g, sizeof(g)), 0);
	}
	/* a skipped round (a late join, a resync) and a repeated one are refused */
	ck_assert_int_eq(gcdl_extgrad_publish(x, 7, g), -ERANGE);
	ck_assert_int_eq(gcdl_extgrad_publish(x, 5, g), -ERANGE);
	ck_assert_uint_eq(h->out_rounds, 6);
	gcdl_extgrad_straggler(x, 6);
	ck_assert_uint_eq(h->straggler, 7);
	gcdl_extgrad_set_state(x, GCDL_EXTGRAD_RUNNING, NULL);
	ck_assert_uint_eq(h->state, GCDL_EXTGRAD_RUNNING);
	ck_assert_str_eq(h->message, "");
	{
		char longmsg[1000];

		memset(longmsg, 'x', sizeof(longmsg) - 1);
		longmsg[sizeof(longmsg) - 1] = '\0';
		gcdl_extgrad_set_state(x, GCDL_EXTGRAD_FAILED, longmsg);
		ck_assert_uint_eq(h->state, GCDL_EXTGRAD_FAILED);
		ck_assert_uint_eq(strlen(h->message), sizeof(h->message) - 1); /* cut, ended */
	}
	gcdl_extgrad_free(x);
}
END_TEST

static Suite *
extgrad_suite(void)
{
	Suite *s = suite_create("extgrad");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, refuses_bad_arguments);
	tcase_add_test(tc, layout_a_trainer_reads);
	tcase_add_test(tc, take_only_the_rounds_gradient);
	tcase_add_test(tc, publish_in_order);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(extgrad_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
