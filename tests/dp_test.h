/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared by the data-plane suites (test_node.c, test_dp.c): the EAL they run
 * on (--no-huge --no-pci --no-shconf, a unique --file-prefix, seven lcores on
 * the machine's cores) and the small job of configs/ci.ini as a profile.
 * The EAL lives in the test process: the suites run with CK_NOFORK.
 */
#ifndef GCDL_TESTS_DP_TEST_H
#define GCDL_TESTS_DP_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>

#include "gcdl/job.h"
#include "gcdl/profile.h"
#include "gcdl/sim.h"

/* Start the EAL for a test program. @return 0, or -1 with a message. */
static inline int
dp_test_eal(const char *name)
{
	static char prefix[64], lcores[64];
	char *argv[] = { (char *)name, "--no-huge", "--no-pci", "--no-shconf", "-m", "256",
			 "--file-prefix", prefix, "--lcores", lcores, "--log-level", "*:error",
			 NULL };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	snprintf(prefix, sizeof(prefix), "%s-%ld", name, (long)getpid());
	/* main, workers, aggregators, and four helpers (two aggregation lcores,
	 * or a quantizing lcore for each of 4 workers) */
	snprintf(lcores, sizeof(lcores), "(0-6)@(0-%ld)", cpus > 1 ? cpus - 1 : 0);
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0) {
		fprintf(stderr, "%s: EAL initialisation failed\n", name);
		return -1;
	}
	return 0;
}

/* The job of configs/ci.ini: 4 workers, d = 2 pairwise, a seeded 4-class
 * Gaussian mixture with 20 features, softmax (dim 84: one uplink chunk at
 * MTU 1500), no stragglers and a 1 s deadline (every round closes when its
 * last frame is in). */
static inline void
dp_test_profile(struct gcdl_profile *p, uint32_t rounds)
{
	gcdl_profile_defaults(p);
	p->seed = 7;
	p->rounds = rounds;
	p->eval_every = 10;
	p->workers = 4;
	p->partitions = 4;
	p->redundancy = 2;
	p->layout = GCDL_LAYOUT_PAIRWISE;
	p->straggler_model = GCDL_STRAGGLER_NONE;
	p->straggler_p = 0.25;
	p->deadline_mode = GCDL_DEADLINE_FIXED;
	p->deadline_us = 1000000;
	p->dataset = GCDL_DATA_SYNTH_GMM;
	p->train_rows = 2000;
	p->test_rows = 1000;
	p->synth_features = 20;
	p->synth_classes = 4;
	p->synth_sep = 1.0;
	p->normalize = GCDL_NORM_STANDARDIZE;
	p->model = GCDL_MODEL_SOFTMAX;
	p->l2 = 0.0001;
	p->lr = 0.5;
	p->momentum = 0.5;
	p->scale_block = 64;
	p->mtu = 1500;
	p->burst = 32;
	p->ring_size = 1024;
	p->mbufs = 4095;
	p->worker_lcores = 1;
	p->join_wait_ms = 5000;
}

/* gcdl-sim's final model for a profile (dim floats, malloc'ed). */
static inline float *
dp_test_sim_model(const struct gcdl_profile *p, uint32_t *dim)
{
	struct gcdl_job job;
	char err[512];
	float *w;

	ck_assert_msg(gcdl_job_open(&job, p, 1, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(gcdl_sim_run(&job, NULL, NULL), 0);
	*dim = gcdl_engine_dim(job.engine);
	w = malloc(sizeof(float) * *dim);
	ck_assert_ptr_nonnull(w);
	memcpy(w, gcdl_engine_model(job.engine), sizeof(float) * *dim);
	gcdl_job_close(&job);
	return w;
}

#endif /* GCDL_TESTS_DP_TEST_H */
