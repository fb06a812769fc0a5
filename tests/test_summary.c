/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The run's summary (gcdl/summary.h): gcdl_summary_assess() flags a run whose
 * rounds closed without frames that came too late (the default demo on a
 * busy machine ended at 0.79 with 7.8 of 10 workers straggling and exited 0
 * without a word), and flags nothing else: injected stragglers, a worker's
 * own summary, gcdl-sim. The JSON carries the warning.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/summary.h"

/* A local star: one aggregator node, n worker nodes. */
static void
local_star(struct gcdl_summary *s, struct gcdl_node_summary *nodes, uint32_t n, uint32_t rounds,
	   uint64_t accepted, uint64_t late, uint64_t stragglers, uint64_t skipped_each)
{
	memset(s, 0, sizeof(*s));
	memset(nodes, 0, sizeof(*nodes) * (n + 1));
	snprintf(s->role, sizeof(s->role), "local");
	s->workers = n;
	s->rounds = rounds;
	s->nnodes = n + 1;
	s->nodes = nodes;
	snprintf(nodes[0].role, sizeof(nodes[0].role), "aggregator");
	nodes[0].c.v[GCDL_CTR_UPLINK_ACCEPTED] = accepted;
	nodes[0].c.v[GCDL_CTR_LATE] = late;
	nodes[0].c.v[GCDL_CTR_STRAGGLERS] = stragglers;
	for (uint32_t k = 1; k <= n; k++) {
		snprintf(nodes[k].role, sizeof(nodes[k].role), "worker");
		nodes[k].c.v[GCDL_CTR_SKIPPED] = skipped_each;
	}
}

START_TEST(nothing_to_flag)
{
	struct gcdl_node_summary nodes[11];
	struct gcdl_summary s;

	/* 400 rounds, 10 workers, p = 0.2 injected: 800 straggler-rounds, all
	 * injected; 4 late frames of 3,175 */
	local_star(&s, nodes, 10, 400, 3175, 4, 800, 80);
	ck_assert_int_eq(gcdl_summary_assess(&s), 0);
	ck_assert_str_eq(s.warning, "");
	/* just below both thresholds */
	local_star(&s, nodes, 10, 400, 9500, 499, 800 + 399, 80);
	ck_assert_int_eq(gcdl_summary_assess(&s), 0);
}
END_TEST

START_TEST(late_frames_flag_the_run)
{
	struct gcdl_node_summary nodes[11];
	struct gcdl_summary s;

	/* 5% of the frames late, no unplanned straggler */
	local_star(&s, nodes, 10, 400, 9500, 500, 800, 80);
	ck_assert_int_eq(gcdl_summary_assess(&s), 1);
	ck_assert_msg(strstr(s.warning, "5% of the gradient frames late (500)") != NULL, "%s",
		      s.warning);
	ck_assert_msg(strstr(s.warning, "deadline.mode = adaptive") != NULL, "%s", s.warning);
}
END_TEST

START_TEST(unplanned_stragglers_flag_the_run)
{
	struct gcdl_node_summary nodes[11];
	struct gcdl_summary s;

	/* the loaded demo: 7.8 of 10 workers straggling on average, 0.2 injected */
	local_star(&s, nodes, 10, 400, 3175, 0, 3120, 80);
	ck_assert_int_eq(gcdl_summary_assess(&s), 1);
	ck_assert_msg(strstr(s.warning, "58% of the worker-rounds stragglers") != NULL, "%s",
		      s.warning);
	/* sharded: two aggregators each count the same straggler-rounds */
	local_star(&s, nodes, 10, 400, 3175, 0, 800, 80);
	nodes[1] = nodes[0];
	snprintf(nodes[1].role, sizeof(nodes[1].role), "aggregator");
	nodes[2].c.v[GCDL_CTR_SKIPPED] = 160; /* the two workers' skips moved */
	nodes[3].c.v[GCDL_CTR_SKIPPED] = 160;
	ck_assert_int_eq(gcdl_summary_assess(&s), 0);
}
END_TEST

START_TEST(no_aggregator_no_flag)
{
	struct gcdl_node_summary nodes[11];
	struct gcdl_summary s;

	/* a worker's own summary counts late update frames, not gradients */
	local_star(&s, nodes, 10, 400, 0, 500, 0, 0);
	snprintf(s.role, sizeof(s.role), "worker");
	snprintf(nodes[0].role, sizeof(nodes[0].role), "worker");
	ck_assert_int_eq(gcdl_summary_assess(&s), 0);
	/* a multi-host aggregator: its workers' injected skips are not in its
	 * summary, so its stragglers say nothing (30% here, p = 0.3 injected)... */
	local_star(&s, nodes, 10, 400, 3175, 0, 1200, 0);
	snprintf(s.role, sizeof(s.role), "aggregator");
	s.nnodes = 1;
	ck_assert_int_eq(gcdl_summary_assess(&s), 0);
	/* ...its late frames do */
	nodes[0].c.v[GCDL_CTR_LATE] = 200;
	ck_assert_int_eq(gcdl_summary_assess(&s), 1);
	ck_assert_int_eq(gcdl_summary_assess(NULL), 0);
}
END_TEST

START_TEST(json_carries_the_warning)
{
	struct gcdl_node_summary nodes[11];
	struct gcdl_summary s;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	local_star(&s, nodes, 10, 400, 3175, 0, 3120, 80);
	s.program = "gcdl";
	ck_assert_int_eq(gcdl_summary_assess(&s), 1);
	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(gcdl_summary_write_json(&s, f), 0);
	fclose(f);
	ck_assert_msg(strstr(buf, "\"warning\":\"rounds closed without frames that came too late") !=
		      NULL, "%s", buf);
	free(buf);
	/* and none when there is nothing to say */
	local_star(&s, nodes, 10, 400, 3175, 0, 800, 80);
	ck_assert_int_eq(gcdl_summary_assess(&s), 0);
	f = open_memstream(&buf, &len);
	ck_assert_int_eq(gcdl_summary_write_json(&s, f), 0);
	fclose(f);
	ck_assert_msg(strstr(buf, "\"warning\":\"\"") != NULL, "%s", buf);
	free(buf);
}
END_TEST

static Suite *
summary_suite(void)
{
	Suite *s = suite_create("summary");
	TCase *t = tcase_create("summary");

	tcase_add_test(t, nothing_to_flag);
	tcase_add_test(t, late_frames_flag_the_run);
	tcase_add_test(t, unplanned_stragglers_flag_the_run);
	tcase_add_test(t, no_aggregator_no_flag);
	tcase_add_test(t, json_carries_the_warning);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(summary_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
