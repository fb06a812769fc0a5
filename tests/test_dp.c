/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Check tests of a process's data plane (include/gcdl/dp.h) in local mode:
 * the whole cluster in this process, its nodes on net_ring port pairs and
 * three lcores, under --no-huge --no-pci. Star, sharded and mesh against
 * gcdl-sim; the summary and its JSON; a stop request; a checkpoint and
 * --resume carrying every total; the options a role cannot honour.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gcdl/checkpoint.h"
#include "gcdl/dp.h"
#include "gcdl/sim.h"

#include "dp_test.h"

static char dir[64];

static struct gcdl_dp *
local(const struct gcdl_profile *p, const struct gcdl_dp_opts *o)
{
	struct gcdl_dp_opts none = { .role = GCDL_DP_LOCAL };
	struct gcdl_dp *dp;
	char err[512];

	dp = gcdl_dp_create(p, o != NULL ? o : &none, err, sizeof(err));
	ck_assert_msg(dp != NULL, "%s", err);
	return dp;
}

/* Run locally, check the replicas and the model against gcdl-sim's. */
static void
run_against_sim(const struct gcdl_profile *p, uint32_t nodes, uint32_t replicas)
{
	struct gcdl_summary s;
	struct gcdl_dp *dp = local(p, NULL);
	uint32_t dim, d;
	const float *w;
	float *ref;

	ck_assert_msg(gcdl_dp_run(dp) == 0, "%s", gcdl_dp_error(dp));
	gcdl_dp_summary(dp, &s);
	ck_assert_str_eq(s.role, "local");
	ck_assert_uint_eq(s.nnodes, nodes);
	ck_assert_uint_eq(s.rounds, p->rounds);
	ck_assert_uint_eq(s.replicas_checked, replicas);
	ck_assert_uint_eq(s.replicas_identical, replicas);
	ck_assert(s.evaluated);
	ck_assert(s.test_accuracy >= 0.9);
	ref = dp_test_sim_model(p, &dim);
	w = gcdl_dp_model(dp, &d);
	ck_assert_uint_eq(d, dim);
	ck_assert(memcmp(w, ref, sizeof(float) * dim) == 0);
	ck_assert_uint_eq(s.model_crc, gcdl_crc32_floats(ref, dim));
	free(ref);
	gcdl_dp_free(dp);
}

START_TEST(local_star)
{
	struct gcdl_profile p;
	struct gcdl_summary s;
	struct gcdl_dp *dp;
	char path[128], err[256], buf[65536];
	FILE *f;
	size_t n;

	dp_test_profile(&p, 30);
	run_against_sim(&p, 5, 4);
	/* the summary: totals over the nodes, one aggregator's worker table,
	 * the same numbers in the JSON */
	dp = local(&p, NULL);
	ck_assert_int_eq(gcdl_dp_run(dp), 0);
	gcdl_dp_summary(dp, &s);
	ck_assert_uint_eq(s.total.v[GCDL_CTR_UPLINK_ACCEPTED], 4 * 30);
	ck_assert_uint_eq(s.total.v[GCDL_CTR_UPLINK_TX_FRAMES], 4 * 30);
	ck_assert_uint_eq(s.total.v[GCDL_CTR_CONTRIBUTED], 4 * 30);
	ck_assert_str_eq(s.nodes[0].role, "aggregator");
	ck_assert_uint_eq(s.nodes[0].nworkers, 4);
	ck_assert_uint_eq(s.nodes[0].workers[2].accepted, 30);
	ck_assert_uint_eq(s.nodes[0].workers[2].joins, 1);
	ck_assert_str_eq(s.nodes[3].role, "worker");
	ck_assert_uint_eq(s.nodes[3].id, 2);
	snprintf(path, sizeof(path), "%s/s.json", dir);
	ck_assert_msg(gcdl_summary_save_json(&s, path, err, sizeof(err)) == 0, "%s", err);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	ck_assert(strstr(buf, "\"role\":\"local\"") != NULL);
	ck_assert(strstr(buf, "\"uplink_accepted\":120,") != NULL);
	ck_assert(strstr(buf, "\"replicas_identical\":4,") != NULL);
	ck_assert(strstr(buf, "\"drop_auth\":0") != NULL);
	ck_assert(buf[n - 1] == '\n' && buf[n - 2] == '}');
	gcdl_dp_free(dp);
}
END_TEST

START_TEST(local_sharded)
{
	struct gcdl_profile p;

	dp_test_profile(&p, 30);
	p.topology = GCDL_TOPO_SHARDED;
	p.aggregators = 2;
	p.mtu = 64;
	p.scale_block = 8;
	run_against_sim(&p, 6, 4);
}
END_TEST

/* dataplane.agg_lcores = 2: the aggregator's lcore receives and stores,
 * two aggregation lcores accumulate and close a range of chunks each (the
 * software dispatch of net_ring, memif, af_packet). Both work, and the
 * model is gcdl-sim's and one lcore's, bit for bit. */
START_TEST(local_agg_lcores)
{
	struct gcdl_profile p;
	struct gcdl_summary s;
	struct gcdl_dp *dp;
	const float *w;
	float *one;
	uint32_t dim, d;
	uint64_t coords = 0;

	dp_test_profile(&p, 30);
	p.mtu = 64;
	p.scale_block = 8;
	/* one lcore: the reference */
	dp = local(&p, NULL);
	ck_assert_msg(gcdl_dp_run(dp) == 0, "%s", gcdl_dp_error(dp));
	w = gcdl_dp_model(dp, &dim);
	one = malloc(sizeof(float) * dim);
	ck_assert_ptr_nonnull(one);
	memcpy(one, w, sizeof(float) * dim);
	gcdl_dp_summary(dp, &s);
	ck_assert_uint_eq(s.nodes[0].nagg_lcores, 1);
	ck_assert_int_eq(s.nodes[0].agg_lcores[0].lcore, -1);
	ck_assert_uint_eq(s.nodes[0].agg_lcores[0].coords, (uint64_t)30 * 4 * dim);
	gcdl_dp_free(dp);

	p.agg_lcores = 2;
	run_against_sim(&p, 5, 4);
	dp = local(&p, NULL);
	ck_assert_msg(gcdl_dp_run(dp) == 0, "%s", gcdl_dp_error(dp));
	w = gcdl_dp_model(dp, &d);
	ck_assert_uint_eq(d, dim);
	ck_assert(memcmp(w, one, sizeof(float) * dim) == 0);
	gcdl_dp_summary(dp, &s);
	ck_assert_str_eq(s.nodes[0].role, "aggregator");
	ck_assert_uint_eq(s.nodes[0].nagg_lcores, 2);
	for (uint32_t i = 0; i < 2; i++) {
		const struct gcdl_agg_lcore_summary *l = &s.nodes[0].agg_lcores[i];

		ck_assert_uint_eq(l->part, i);
		ck_assert_int_ge(l->lcore, 1);
		ck_assert_uint_gt(l->chunk_count, 0);
		uint32_t cc = gcdl_engine_chunk_coords(gcdl_dp_job(dp)->engine);
		uint32_t x1 = (l->chunk_first + l->chunk_count) * cc;

		/* every frame of its chunks, every round: 4 workers, no straggler */
		ck_assert_uint_eq(l->coords, (uint64_t)30 * 4 * ((x1 < dim ? x1 : dim) -
								 l->chunk_first * cc));
		ck_assert_uint_eq(l->closes, 30);
		ck_assert_uint_gt(l->cpu_close_ns, 0);
		coords += l->coords;
	}
	ck_assert_int_ne(s.nodes[0].agg_lcores[0].lcore, s.nodes[0].agg_lcores[1].lcore);
	ck_assert_uint_eq(s.nodes[0].agg_lcores[0].chunk_first + s.nodes[0].agg_lcores[0].chunk_count,
			  s.nodes[0].agg_lcores[1].chunk_first);
	ck_assert_uint_eq(coords, (uint64_t)30 * 4 * dim);
	/* the workers' tables say the same: every frame accepted */
	ck_assert_uint_eq(s.total.v[GCDL_CTR_INGEST_COORDS], coords);
	gcdl_dp_free(dp);
	free(one);
}
END_TEST

/* dataplane.quant_lcores = 2: each worker's lcore frames the first half of
 * its chunks, a quantizing lcore the second; the frames are the same bytes,
 * so the model is gcdl-sim's bit for bit. */
START_TEST(local_quant_lcores)
{
	struct gcdl_profile p;
	struct gcdl_summary s;
	struct gcdl_dp *dp;
	uint32_t cc, dim;
	int lcores[4];

	dp_test_profile(&p, 30);
	p.mtu = 64;
	p.scale_block = 8;
	p.quant_lcores = 2;
	run_against_sim(&p, 5, 4);
	dp = local(&p, NULL);
	ck_assert_msg(gcdl_dp_run(dp) == 0, "%s", gcdl_dp_error(dp));
	gcdl_dp_summary(dp, &s);
	cc = gcdl_engine_chunk_coords(gcdl_dp_job(dp)->engine);
	dim = gcdl_engine_dim(gcdl_dp_job(dp)->engine);
	ck_assert_uint_eq(s.nodes[0].nquant_lcores, 0); /* the aggregator */
	for (uint32_t k = 0; k < 4; k++) {
		const struct gcdl_node_summary *w = &s.nodes[1 + k];
		const struct gcdl_quant_lcore_summary *l = &w->quant_lcores[0];
		uint32_t x1 = (l->chunk_first + l->chunk_count) * cc;

		ck_assert_str_eq(w->role, "worker");
		ck_assert_uint_eq(w->nquant_lcores, 1);
		ck_assert_int_ge(l->lcore, 1);
		ck_assert_uint_gt(l->chunk_first, 0);
		ck_assert_uint_gt(l->chunk_count, 0);
		/* its chunks, every round; the worker's own lcore framed the rest */
		ck_assert_uint_eq(l->rounds, 30);
		ck_assert_uint_eq(l->coords, (uint64_t)30 * ((x1 < dim ? x1 : dim) -
							     l->chunk_first * cc));
		ck_assert_uint_eq(w->c.v[GCDL_CTR_ENCODE_COORDS], (uint64_t)30 * dim);
		lcores[k] = l->lcore;
		for (uint32_t j = 0; j < k; j++)
			ck_assert_int_ne(lcores[j], lcores[k]);
	}
	gcdl_dp_free(dp);
}
END_TEST

START_TEST(local_mesh)
{
	struct gcdl_profile p;

	dp_test_profile(&p, 30);
	p.topology = GCDL_TOPO_MESH;
	run_against_sim(&p, 4, 3);
}
END_TEST

/* A stop request before the run: every node stops after the round in
 * progress, the summary says so, nothing fails. */
START_TEST(stop_request)
{
	static int stop = 1;
	struct gcdl_dp_opts o = { .role = GCDL_DP_LOCAL, .stop = &stop };
	struct gcdl_profile p;
	struct gcdl_summary s;
	struct gcdl_dp *dp;

	dp_test_profile(&p, 1000);
	dp = local(&p, &o);
	ck_assert_int_eq(gcdl_dp_run(dp), 0);
	gcdl_dp_summary(dp, &s);
	ck_assert(s.stopped);
	ck_assert_uint_le(s.rounds, 1);
	ck_assert_uint_eq(s.replicas_checked, 0);
	gcdl_dp_free(dp);
}
END_TEST

/* A checkpoint after 10 of 20 rounds, then --resume: the resumed run ends
 * with the uninterrupted run's model and every total a checkpoint carries. */
START_TEST(checkpoint_resume)
{
	struct gcdl_dp_opts o = { .role = GCDL_DP_LOCAL };
	struct gcdl_summary a, b;
	struct gcdl_checkpoint ck;
	struct gcdl_profile p;
	struct gcdl_dp *full, *resumed;
	uint32_t dim;
	char err[512];

	dp_test_profile(&p, 20);
	p.straggler_model = GCDL_STRAGGLER_BERNOULLI;
	if (_i == 1) {
		/* the workers' states: residuals and momentum, in the checkpoint */
		p.method = GCDL_METHOD_ONEBIT_GC_EF;
		p.momentum_at = GCDL_MOMENTUM_WORKERS;
	}
	p.checkpoint_every = 10;
	snprintf(p.checkpoint_path, sizeof(p.checkpoint_path), "%s/ck.bin", dir);
	full = local(&p, NULL);
	ck_assert_int_eq(gcdl_dp_run(full), 0);
	gcdl_dp_summary(full, &a);
	ck_assert_uint_eq(a.total.v[GCDL_CTR_CHECKPOINTS], 1);
	ck_assert_msg(gcdl_checkpoint_load(p.checkpoint_path, &ck, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(ck.round, 10);
	/* every worker computed a round by then: 4 residuals and 4 momenta */
	ck_assert_uint_eq(ck.nstates, _i == 1 ? 8 : 0);
	o.resume = &ck;
	resumed = local(&p, &o);
	ck_assert_int_eq(gcdl_dp_run(resumed), 0);
	gcdl_dp_summary(resumed, &b);
	ck_assert_uint_eq(b.first_round, 10);
	ck_assert_uint_eq(b.rounds, 20);
	for (int c = 0; c < GCDL_CTR__COUNT; c++)
		if (gcdl_counter_flags(c) & GCDL_CTR_F_RESUME)
			ck_assert_msg(b.nodes[0].c.v[c] == a.nodes[0].c.v[c], "%s: %lu resumed, %lu",
				      gcdl_counter_name(c), (unsigned long)b.nodes[0].c.v[c],
				      (unsigned long)a.nodes[0].c.v[c]);
	{
		uint32_t d2;
		const float *wa = gcdl_dp_model(full, &dim), *wb = gcdl_dp_model(resumed, &d2);

		ck_assert_uint_eq(dim, d2);
		ck_assert(memcmp(wa, wb, sizeof(float) * dim) == 0);
	}
	gcdl_dp_free(full);
	gcdl_dp_free(resumed);
	gcdl_checkpoint_free(&ck);
}
END_TEST

/* What a role cannot honour is refused, naming why. */
START_TEST(refused)
{
	static const struct {
		enum gcdl_dp_role role;
		uint32_t id;
		int topology, workers, ckpt, metrics, resume, nokey;
		const char *why;
	} cases[] = {
		/* a multi-host role without job.key_file and without job.insecure */
		{ GCDL_DP_WORKER, 0, GCDL_TOPO_STAR, 4, 0, 0, 0, 1, "gcdl --gen-key FILE" },
		{ GCDL_DP_AGGREGATOR, 0, GCDL_TOPO_STAR, 4, 0, 0, 0, 1, "job.insecure = true" },
		{ GCDL_DP_WORKER, 0, GCDL_TOPO_MESH, 4, 0, 0, 0, 1, "need a job key" },
		{ GCDL_DP_WORKER, 4, GCDL_TOPO_STAR, 4, 0, 0, 0, 0, "--id 4: this job has workers 0..3" },
		{ GCDL_DP_AGGREGATOR, 1, GCDL_TOPO_STAR, 4, 0, 0, 0, 0, "aggregators 0..0" },
		{ GCDL_DP_AGGREGATOR, 0, GCDL_TOPO_MESH, 4, 0, 0, 0, 0, "mesh has no aggregator" },
		{ GCDL_DP_WORKER, 0, GCDL_TOPO_STAR, 4, 0, 1, 0, 0, "--metrics is written by the aggregator" },
		{ GCDL_DP_WORKER, 0, GCDL_TOPO_STAR, 4, 0, 0, 1, 0, "--resume is for the aggregator" },
		{ GCDL_DP_LOCAL, 0, GCDL_TOPO_SHARDED, 4, 1, 0, 0, 0, "checkpoints of a sharded job" },
		{ GCDL_DP_LOCAL, 0, GCDL_TOPO_STAR, 20, 0, 0, 0, 0, "the local mode needs 40 net_ring ports" },
		{ GCDL_DP_WORKER, 0, GCDL_TOPO_STAR, 4, 0, 0, 0, 0, "no ethdev port" },
		/* aggregation lcores: more than the EAL has free, or in a mesh */
		{ GCDL_DP_LOCAL, 0, GCDL_TOPO_STAR, 4, 0, 0, 0, 0, "dataplane.agg_lcores = 5 and dataplane.quant_lcores = 1 need 5 EAL lcores" },
		{ GCDL_DP_LOCAL, 0, GCDL_TOPO_MESH, 4, 0, 0, 0, 0, "dataplane.agg_lcores = 5: a mesh has no aggregator" },
		{ GCDL_DP_LOCAL, 0, GCDL_TOPO_STAR, 4, 0, 0, 0, 0, "dataplane.agg_lcores = 1 and dataplane.quant_lcores = 3 need 8 EAL lcores" },
		{ GCDL_DP_LOCAL, 0, GCDL_TOPO_MESH, 4, 0, 0, 0, 0, "dataplane.quant_lcores = 3: a mesh peer" },
	};
	struct gcdl_checkpoint ck = { 0 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gcdl_dp_opts o = { .role = cases[i].role, .id = cases[i].id };
		struct gcdl_profile p;
		char err[512] = "";

		dp_test_profile(&p, 5);
		p.insecure = !cases[i].nokey;
		p.topology = (enum gcdl_topology)cases[i].topology;
		p.workers = p.partitions = (uint32_t)cases[i].workers;
		if (cases[i].workers > 4)
			p.mbufs = 100000; /* enough for 20 workers: the ports are what fails */
		if (p.topology == GCDL_TOPO_SHARDED) {
			p.aggregators = 2;
			p.mtu = 64;
			p.scale_block = 8;
		}
		if (cases[i].ckpt) {
			p.checkpoint_every = 2;
			snprintf(p.checkpoint_path, sizeof(p.checkpoint_path), "%s/x.bin", dir);
		}
		if (strstr(cases[i].why, "agg_lcores = 5") != NULL)
			p.agg_lcores = 5;
		if (strstr(cases[i].why, "quant_lcores = 3") != NULL)
			p.quant_lcores = 3;
		o.metrics = cases[i].metrics ? stderr : NULL;
		o.resume = cases[i].resume ? &ck : NULL;
		ck_assert_ptr_null(gcdl_dp_create(&p, &o, err, sizeof(err)));
		ck_assert_msg(strstr(err, cases[i].why) != NULL, "case %zu: '%s' not in '%s'", i,
			      cases[i].why, err);
	}
	ck_assert_ptr_null(gcdl_dp_create(NULL, NULL, NULL, 0));
	ck_assert_int_eq(gcdl_dp_run(NULL), -EINVAL);
	gcdl_dp_free(NULL);
}
END_TEST

static Suite *
dp_suite(void)
{
	Suite *s = suite_create("dp");
	TCase *t = tcase_create("local");

	tcase_set_timeout(t, 200);
	tcase_add_test(t, local_star);
	tcase_add_test(t, local_sharded);
	tcase_add_test(t, local_mesh);
	tcase_add_test(t, local_agg_lcores);
	tcase_add_test(t, local_quant_lcores);
	tcase_add_test(t, stop_request);
	tcase_add_loop_test(t, checkpoint_resume, 0, 2);
	tcase_add_test(t, refused);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	snprintf(dir, sizeof(dir), "/tmp/gcdl-test-dp.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return EXIT_FAILURE;
	if (dp_test_eal("test_dp") != 0)
		return 77;
	sr = srunner_create(dp_suite());
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rte_eal_cleanup();
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "test_dp: cannot remove %s\n", dir);
	}
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
