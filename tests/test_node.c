/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Check tests of the node (include/gcdl/node.h), in the style of DPDK's
 * app/test/test_pmd_ring.c: nodes on net_ring port pairs made with
 * rte_eth_from_rings() under --no-huge --no-pci, polled by this thread with
 * gcdl_node_run() (all of a cluster's nodes on one lcore), a few rounds each.
 * The models are compared with gcdl-sim's (gcdl_sim_run() on the same
 * profile), the counters with what the profile makes happen.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "gcdl/extgrad.h"

#include "gcdl/join.h"
#include "gcdl/sim.h"
#include "gcdl/vlan.h"

#include "node_cluster.h"

/* ---- rejections first -------------------------------------------------- */

START_TEST(bad_configurations_refused)
{
	struct gcdl_profile p;
	struct cluster c;
	struct gcdl_node_conf conf;
	uint16_t port;
	char err[512];

	dp_test_profile(&p, 5);
	cluster_open(&c, &p, 1);
	port = (uint16_t)c.port[0][0];
	memset(&conf, 0, sizeof(conf));
	conf.job = &c.job;
	conf.pool = c.pool;
	conf.nports = 1;
	conf.ports = &port;
	/* worker id beyond N */
	conf.role = GCDL_NODE_WORKER;
	conf.id = 4;
	ck_assert_ptr_null(gcdl_node_create(&conf, err, sizeof(err)));
	ck_assert_msg(strstr(err, "--id 4: this job has workers 0..3") != NULL, "%s", err);
	/* aggregator id beyond K */
	conf.role = GCDL_NODE_AGGREGATOR;
	conf.id = 1;
	ck_assert_ptr_null(gcdl_node_create(&conf, err, sizeof(err)));
	ck_assert_msg(strstr(err, "aggregators 0..0") != NULL, "%s", err);
	/* a peer outside a mesh */
	conf.role = GCDL_NODE_PEER;
	conf.id = 0;
	ck_assert_ptr_null(gcdl_node_create(&conf, err, sizeof(err)));
	ck_assert_msg(strstr(err, "needs network.topology mesh") != NULL, "%s", err);
	/* hostile frames without a key */
	conf.role = GCDL_NODE_WORKER;
	conf.inject_hostile = 3;
	ck_assert_ptr_null(gcdl_node_create(&conf, err, sizeof(err)));
	ck_assert_msg(strstr(err, "needs a job key") != NULL, "%s", err);
	conf.inject_hostile = 0;
	/* no port */
	conf.nports = 0;
	ck_assert_ptr_null(gcdl_node_create(&conf, err, sizeof(err)));
	ck_assert_ptr_null(gcdl_node_create(NULL, err, sizeof(err)));
	ck_assert_int_eq(gcdl_node_run(NULL, 0, NULL), -EINVAL);
	gcdl_node_free(NULL);
	cluster_close(&c);
}
END_TEST

/* An aggregator that no worker joins fails with -ENOTCONN, saying so. */
START_TEST(no_worker_joins)
{
	struct gcdl_profile p;
	struct cluster c;
	uint32_t link = 0;
	int side = 0;

	dp_test_profile(&p, 5);
	p.join_wait_ms = 30;
	cluster_open(&c, &p, 1);
	node_on(&c, GCDL_NODE_AGGREGATOR, 0, &link, &side, 1, NULL);
	ck_assert_int_eq(run(&c), -ENOTCONN);
	ck_assert_msg(strstr(gcdl_node_error(c.node[0]), "no worker joined within "
			     "network.join_wait_ms = 30 ms") != NULL, "%s", gcdl_node_error(c.node[0]));
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_CLOSED_COMPLETE) +
			  ctr(c.node[0], GCDL_CTR_CLOSED_DEADLINE), 0);
	cluster_close(&c);
}
END_TEST

/* Workers that join and then never send: after network.absent_rounds rounds
 * without a contributor the aggregator fails with -ENOTCONN. */
START_TEST(no_worker_contributes)
{
	struct gcdl_profile p;
	struct cluster c;

	dp_test_profile(&p, 100);
	p.straggler_model = GCDL_STRAGGLER_BERNOULLI;
	p.straggler_p = 0.99;
	p.absent_rounds = 3;
	p.deadline_us = 2000;
	star(&c, &p, NULL, NULL);
	ck_assert_int_eq(run(&c), -ENOTCONN);
	ck_assert_msg(strstr(gcdl_node_error(c.node[0]), "no worker contributed to the last 3 "
			     "rounds") != NULL, "%s", gcdl_node_error(c.node[0]));
	ck_assert_uint_lt(ctr(c.node[0], GCDL_CTR_CLOSED_DEADLINE), 100);
	cluster_close(&c);
}
END_TEST

/* ---- a star ------------------------------------------------------------ */

/* No stragglers, every frame in time: the aggregator's model is gcdl-sim's
 * bit for bit, every worker's replica equals it, and every counter is what
 * the job makes: one frame per worker and round, one update each way. */
START_TEST(star_equals_sim)
{
	const uint32_t R = 30;
	struct gcdl_profile p;
	struct cluster c;
	uint64_t sent = 0, taken = 0;
	uint32_t dim;
	float *ref;

	dp_test_profile(&p, R);
	star(&c, &p, NULL, NULL);
	ck_assert_int_eq(run(&c), 0);
	ref = dp_test_sim_model(&p, &dim);
	assert_model(c.node[0], ref, dim, "aggregator");
	for (uint32_t k = 1; k <= 4; k++) {
		assert_model(c.node[k], ref, dim, "worker replica");
		ck_assert_uint_eq(ctr(c.node[k], GCDL_CTR_CONTRIBUTED), R);
		ck_assert_uint_eq(ctr(c.node[k], GCDL_CTR_APPLIED), R);
		sent += ctr(c.node[k], GCDL_CTR_UPLINK_TX_FRAMES);
		taken += ctr(c.node[k], GCDL_CTR_DOWNLINK_ACCEPTED);
		ck_assert_uint_eq(ctr(c.node[k], GCDL_CTR_DROPS), 0);
	}
	ck_assert_uint_eq(sent, 4 * R);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_UPLINK_ACCEPTED), 4 * R);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_CLOSED_COMPLETE), R);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_STRAGGLERS), 0);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_JOINS), 4);
	/* one model frame at the join, one update frame per round (dim 84) */
	ck_assert_uint_eq(taken, 4 * (R + 1));
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_DOWNLINK_TX_FRAMES), 4 * (R + 1));
	/* one chunk of 84 coordinates: 2 scales and 11 bytes of bits, padded
	 * to the 60-byte minimum, plus the FCS */
	ck_assert_uint_eq(gcdl_frame_payload_len(GCDL_MSG_ONEBIT, dim, 64), 19);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_UPLINK_WIRE_BYTES),
			  4 * R * gcdl_frame_wire_bytes(19));
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_UPLINK_PAYLOAD_BYTES), 4 * R * 19);
	free(ref);
	cluster_close(&c);
}
END_TEST

/* Every downlink mode (METHOD.md "Downlink") computes gcdl-sim's model for
 * its profile, and counts the downlink as gcdl-sim does (each frame once);
 * relay and float32 give the same model (the update is exact either way),
 * onebit another (its update is compressed, with error feedback). */
START_TEST(star_downlink_modes_equal_sim)
{
	static const enum gcdl_downlink modes[] = { GCDL_DOWNLINK_RELAY, GCDL_DOWNLINK_ONEBIT,
						    GCDL_DOWNLINK_FLOAT32 };
	const uint32_t R = 20;
	float *models[3];
	uint32_t dim = 0;

	for (int i = 0; i < 3; i++) {
		struct gcdl_profile p;
		struct cluster c;
		struct gcdl_job job;
		char err[256];
		uint64_t sim_dl;

		dp_test_profile(&p, R);
		p.downlink = modes[i];
		star(&c, &p, NULL, NULL);
		ck_assert_int_eq(run(&c), 0);
		models[i] = dp_test_sim_model(&p, &dim);
		for (uint32_t k = 0; k <= 4; k++)
			assert_model(c.node[k], models[i], dim, k ? "worker" : "aggregator");
		/* the downlink's bytes: the sim's, from the same frames */
		ck_assert_msg(gcdl_job_open(&job, &p, 1, err, sizeof(err)) == 0, "%s", err);
		{
			struct gcdl_sim_result r;

			ck_assert_int_eq(gcdl_sim_run(&job, NULL, &r), 0);
			sim_dl = r.downlink_bits / 8;
		}
		gcdl_job_close(&job);
		ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_DOWNLINK_WIRE_BYTES), sim_dl);
		ck_assert_uint_gt(sim_dl, 0);
		ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_DOWNLINK_REPAIRS), 0);
		for (uint32_t k = 1; k <= 4; k++)
			ck_assert_uint_eq(ctr(c.node[k], GCDL_CTR_APPLIED), R);
		cluster_close(&c);
	}
	ck_assert_mem_eq(models[0], models[2], sizeof(float) * dim);
	ck_assert_int_ne(memcmp(models[1], models[2], sizeof(float) * dim), 0);
	for (int i = 0; i < 3; i++)
		free(models[i]);
}
END_TEST

/* 5% of the downlink's frames (each port's copy) not sent: in every mode the
 * workers ask for what they miss and the replicas end equal to the
 * aggregator's model, without a resync. */
START_TEST(star_downlink_loss_repaired)
{
	static const enum gcdl_downlink modes[] = { GCDL_DOWNLINK_RELAY, GCDL_DOWNLINK_ONEBIT,
						    GCDL_DOWNLINK_FLOAT32 };
	const uint32_t R = 60;

	for (int i = 0; i < 3; i++) {
		struct gcdl_profile p;
		struct cluster c;
		uint64_t asked = 0;

		dp_test_profile(&p, R);
		p.downlink = modes[i];
		p.deadline_us = 20000;
		p.fault_downlink_drop_p = 0.05;
		star(&c, &p, NULL, NULL);
		ck_assert_int_eq(run(&c), 0);
		ck_assert_uint_gt(ctr(c.node[0], GCDL_CTR_FAULT_DROPPED), 0);
		ck_assert_uint_gt(ctr(c.node[0], GCDL_CTR_DOWNLINK_REPAIRS), 0);
		ck_assert_uint_gt(ctr(c.node[0], GCDL_CTR_DOWNLINK_REPAIR_BYTES), 0);
		ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_JOINS), 4);
		for (uint32_t k = 1; k <= 4; k++) {
			asked += ctr(c.node[k], GCDL_CTR_DOWNLINK_REPAIRS);
			ck_assert_msg(ctr(c.node[k], GCDL_CTR_JOINS) == 1, "mode %d worker %u: %lu joins, %lu resync requests", i, k - 1, (unsigned long)ctr(c.node[k], GCDL_CTR_JOINS), (unsigned long)ctr(c.node[k], GCDL_CTR_RESYNC_REQUESTS));
			ck_assert_uint_eq(ctr(c.node[k], GCDL_CTR_APPLIED), R);
			assert_model(c.node[k], gcdl_node_model(c.node[0], NULL, NULL, NULL),
				     gcdl_engine_dim(c.job.engine), "replica");
		}
		ck_assert_uint_gt(asked, 0);
		cluster_close(&c);
	}
}
END_TEST

/* Bernoulli stragglers: the skipped worker-rounds are the aggregator's
 * stragglers, and (every frame of the others in time) the model is still
 * gcdl-sim's. */
/* The 1-bit methods of the loop tests (_i): the unbiased quantizer, and
 * the scaled sign with worker-side error feedback (each worker's residual
 * kept across the rounds it skips). */
static const enum gcdl_method onebit_methods[] = { GCDL_METHOD_ONEBIT_GC,
						   GCDL_METHOD_ONEBIT_GC_EF };

/* With error feedback the model is not the unbiased quantizer's: the
 * method is in effect. */
static void
assert_method_matters(const struct gcdl_profile *p, const float *ref, uint32_t dim)
{
	struct gcdl_profile q = *p;
	uint32_t d2;
	float *other;

	if (p->method == GCDL_METHOD_ONEBIT_GC)
		return;
	q.method = GCDL_METHOD_ONEBIT_GC;
	other = dp_test_sim_model(&q, &d2);
	ck_assert_uint_eq(d2, dim);
	ck_assert_msg(memcmp(other, ref, sizeof(float) * dim) != 0,
		      "%s gives onebit_gc's model", gcdl_method_name(p->method));
	free(other);
}

START_TEST(star_bernoulli_equals_sim)
{
	const uint32_t R = 20;
	struct gcdl_profile p;
	struct cluster c;
	uint64_t skipped = 0;
	uint32_t dim;
	float *ref;

	dp_test_profile(&p, R);
	p.method = onebit_methods[_i];
	p.straggler_model = GCDL_STRAGGLER_BERNOULLI;
	p.deadline_us = 100000; /* rounds with a straggler wait for it */
	star(&c, &p, NULL, NULL);
	ck_assert_int_eq(run(&c), 0);
	for (uint32_t k = 1; k <= 4; k++)
		skipped += ctr(c.node[k], GCDL_CTR_SKIPPED);
	ck_assert_uint_gt(skipped, 0);
	ck_assert_msg(ctr(c.node[0], GCDL_CTR_LATE) == 0,
		      "frames came late on this machine: the comparison needs a longer deadline");
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_STRAGGLERS), skipped);
	ref = dp_test_sim_model(&p, &dim);
	assert_model(c.node[0], ref, dim, "aggregator");
	for (uint32_t k = 1; k <= 4; k++)
		assert_model(c.node[k], ref, dim, "worker replica");
	assert_method_matters(&p, ref, dim);
	free(ref);
	cluster_close(&c);
}
END_TEST

/* [faults] drop_p at the workers' transmit: what a worker did not send is
 * counted by it and missing at the aggregator (one chunk per worker: a
 * dropped frame makes a straggler); the replicas still agree. */
START_TEST(star_faults_drop)
{
	const uint32_t R = 20;
	struct gcdl_profile p;
	struct cluster c;
	uint64_t dropped = 0, sent = 0;
	uint32_t dim;

	dp_test_profile(&p, R);
	p.fault_drop_p = 0.3;
	p.deadline_us = 20000;
	star(&c, &p, NULL, NULL);
	ck_assert_int_eq(run(&c), 0);
	dim = gcdl_engine_dim(c.job.engine);
	for (uint32_t k = 1; k <= 4; k++) {
		dropped += ctr(c.node[k], GCDL_CTR_FAULT_DROPPED);
		sent += ctr(c.node[k], GCDL_CTR_UPLINK_TX_FRAMES);
		assert_model(c.node[k], gcdl_node_model(c.node[0], NULL, NULL, NULL), dim,
			     "worker replica");
	}
	ck_assert_uint_gt(dropped, 0);
	ck_assert_uint_eq(sent + dropped, 4 * R);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_UPLINK_ACCEPTED), sent);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_STRAGGLERS), dropped);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_FAULT_DROPPED), 0); /* the aggregator sends none */
	cluster_close(&c);
}
END_TEST

/* A frame that comes after its round's deadline is late: worker 0 sends
 * 20 ms after each round it computes begins, against a 4 ms deadline: every
 * round closes by the deadline without it, each frame it sends is late (but
 * maybe the last, still on its way when the run ends), the others' never. */
START_TEST(star_late_frames)
{
	const uint32_t R = 30;
	struct gcdl_profile p;
	struct cluster c;
	uint64_t sent0, late;

	dp_test_profile(&p, R);
	p.deadline_us = 4000;
	snprintf(p.fault_slow_workers, sizeof(p.fault_slow_workers), "0:+20000us");
	star(&c, &p, NULL, NULL);
	ck_assert_int_eq(run(&c), 0);
	sent0 = ctr(c.node[1], GCDL_CTR_UPLINK_TX_FRAMES);
	late = ctr(c.node[0], GCDL_CTR_LATE);
	ck_assert_uint_ge(sent0, 2);
	ck_assert_uint_eq(ctr(c.node[1], GCDL_CTR_FAULT_DELAYED), sent0);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_CLOSED_DEADLINE), R);
	ck_assert_uint_ge(ctr(c.node[0], GCDL_CTR_STRAGGLERS), R);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_UPLINK_ACCEPTED), 3 * R);
	ck_assert_msg(late == sent0 || late + 1 == sent0, "late %lu, worker 0 sent %lu",
		      (unsigned long)late, (unsigned long)sent0);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_DROP(GCDL_DROP_ROUND)), 0);
	cluster_close(&c);
}
END_TEST

/* --inject-garbage from worker 0: every malformed frame is dropped by the
 * aggregator under its reason, and the model is the clean run's. */
START_TEST(star_garbage)
{
	const uint32_t R = 8, G = 10;
	struct gcdl_profile p;
	struct cluster c, clean;
	struct gcdl_node_conf w0 = { 0 };
	static const enum gcdl_frame_drop once[] = {
		GCDL_DROP_MAGIC, GCDL_DROP_CRC, GCDL_DROP_JOB, GCDL_DROP_SENDER,
		GCDL_DROP_OFFSET, GCDL_DROP_COUNT, GCDL_DROP_LENGTH,
	};
	uint32_t dim = 84;

	dp_test_profile(&p, R);
	star(&clean, &p, NULL, NULL);
	ck_assert_int_eq(run(&clean), 0);
	w0.inject_garbage = G;
	star(&c, &p, NULL, &w0);
	ck_assert_int_eq(run(&c), 0);
	ck_assert_uint_eq(ctr(c.node[1], GCDL_CTR_GARBAGE_SENT), R * G);
	ck_assert_uint_eq(ctr(c.node[1], GCDL_CTR_UPLINK_TX_FRAMES), R);
	for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++)
		ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_DROP(once[i])), R);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_DROP(GCDL_DROP_TRUNCATED)) +
			  ctr(c.node[0], GCDL_CTR_DROP(GCDL_DROP_ETHERTYPE)), 3 * R);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_UPLINK_ACCEPTED), 4 * R);
	assert_model(c.node[0], gcdl_node_model(clean.node[0], NULL, NULL, NULL), dim, "aggregator");
	cluster_close(&clean);
	cluster_close(&c);
}
END_TEST

/* network.vlan = 100: every frame goes out with the 802.1Q tag (4 bytes
 * more on the wire for each) and comes in stripped: the model is gcdl-sim's
 * and the untagged run's, the metrics' bytes the same. Frames the
 * aggregator gets from a host on its link untagged, or tagged for VLAN 200,
 * are counted as wrong_vlan and go no further; one tagged for VLAN 100 is
 * validated (and dropped as garbage). */
START_TEST(star_vlan)
{
	const uint32_t R = 12;
	struct gcdl_profile p;
	struct cluster c, plain;
	uint8_t f[64];
	uint32_t dim;
	float *ref;

	dp_test_profile(&p, R);
	star(&plain, &p, NULL, NULL);
	ck_assert_int_eq(run(&plain), 0);
	p.vlan = 100;
	p.vlan_priority = 5;
	star(&c, &p, NULL, NULL);
	/* broadcast frames of gcdl's EtherType with a wrong magic */
	memset(f, 0xab, sizeof(f));
	memset(f, 0xff, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	inject_bytes(&c, 0, 0, f, sizeof(f));                         /* untagged */
	memmove(f + 16, f + 12, sizeof(f) - 16);
	f[12] = 0x81, f[13] = 0x00, f[14] = 0xa0, f[15] = 200;       /* VLAN 200 */
	inject_bytes(&c, 0, 0, f, sizeof(f));
	f[15] = 100;                                                  /* VLAN 100 */
	inject_bytes(&c, 0, 0, f, sizeof(f));
	ck_assert_int_eq(run(&c), 0);
	p.vlan = 0;
	ref = dp_test_sim_model(&p, &dim);
	assert_model(c.node[0], ref, dim, "aggregator");
	for (uint32_t k = 1; k <= 4; k++) {
		assert_model(c.node[k], ref, dim, "worker replica");
		ck_assert_uint_eq(ctr(c.node[k], GCDL_CTR_WRONG_VLAN), 0);
		ck_assert_uint_eq(ctr(c.node[k], GCDL_CTR_RX_FRAMES),
				  ctr(plain.node[k], GCDL_CTR_RX_FRAMES));
		ck_assert_uint_eq(ctr(c.node[k], GCDL_CTR_RX_BYTES),
				  ctr(plain.node[k], GCDL_CTR_RX_BYTES) +
				  GCDL_VLAN_TAG_LEN * ctr(c.node[k], GCDL_CTR_RX_FRAMES));
		ck_assert_uint_eq(ctr(c.node[k], GCDL_CTR_TX_BYTES),
				  ctr(plain.node[k], GCDL_CTR_TX_BYTES) +
				  GCDL_VLAN_TAG_LEN * ctr(c.node[k], GCDL_CTR_TX_FRAMES));
	}
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_WRONG_VLAN), 2);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_DROP(GCDL_DROP_MAGIC)), 1);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_UPLINK_WIRE_BYTES),
			  ctr(plain.node[0], GCDL_CTR_UPLINK_WIRE_BYTES));
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_UPLINK_ACCEPTED), 4 * R);
	free(ref);
	cluster_close(&plain);
	cluster_close(&c);
}
END_TEST

/* ---- sharded and mesh -------------------------------------------------- */

/* K = 2 aggregators, 3 chunks per worker: each aggregator accepts only the
 * chunks it owns, and the two ranges put together are gcdl-sim's model. */
START_TEST(sharded_equals_sim)
{
	const uint32_t R = 20, N = 4, K = 2;
	struct gcdl_profile p;
	struct cluster c;
	uint32_t links[8], dim, cf, cc;
	int sides[8];
	float *ref;

	dp_test_profile(&p, R);
	p.method = onebit_methods[_i];
	p.mtu = 64;
	p.scale_block = 8;
	p.topology = GCDL_TOPO_SHARDED;
	p.aggregators = K;
	cluster_open(&c, &p, N * K);
	for (uint32_t a = 0; a < K; a++) {
		for (uint32_t k = 0; k < N; k++) {
			links[k] = a * N + k;
			sides[k] = 0;
		}
		node_on(&c, GCDL_NODE_AGGREGATOR, a, links, sides, (uint16_t)N, NULL);
	}
	for (uint32_t k = 0; k < N; k++) {
		for (uint32_t a = 0; a < K; a++) {
			links[a] = a * N + k;
			sides[a] = 1;
		}
		node_on(&c, GCDL_NODE_WORKER, k, links, sides, (uint16_t)K, NULL);
	}
	ck_assert_int_eq(run(&c), 0);
	ref = dp_test_sim_model(&p, &dim);
	for (uint32_t a = 0; a < K; a++) {
		gcdl_shard_chunks(gcdl_engine_chunks(c.job.engine), K, a, &cf, &cc);
		assert_model(c.node[a], ref, dim, "aggregator range");
		ck_assert_uint_eq(ctr(c.node[a], GCDL_CTR_UPLINK_ACCEPTED), (uint64_t)N * R * cc);
		ck_assert_uint_eq(ctr(c.node[a], GCDL_CTR_DROPS), 0);
	}
	for (uint32_t k = 0; k < N; k++) {
		uint32_t d;

		ck_assert_uint_eq(ctr(c.node[K + k], GCDL_CTR_APPLIED), (uint64_t)K * R);
		ck_assert(memcmp(gcdl_node_model(c.node[K + k], &d, NULL, NULL), ref,
				 sizeof(float) * dim) == 0);
	}
	free(ref);
	cluster_close(&c);
}
END_TEST

/* Three mesh peers, a link between each pair: every peer applies what peer 0
 * commits, and (every frame in time) that is gcdl-sim's model. */
START_TEST(mesh_equals_sim)
{
	const uint32_t R = 20, N = 3;
	struct gcdl_profile p;
	struct cluster c;
	uint32_t dim;
	float *ref;

	dp_test_profile(&p, R);
	p.method = onebit_methods[_i];
	p.workers = N;
	p.partitions = N;
	p.topology = GCDL_TOPO_MESH;
	cluster_open(&c, &p, 3);
	/* links: 0 = (0,1), 1 = (0,2), 2 = (1,2) */
	node_on(&c, GCDL_NODE_PEER, 0, (uint32_t[]){ 0, 1 }, (int[]){ 0, 0 }, 2, NULL);
	node_on(&c, GCDL_NODE_PEER, 1, (uint32_t[]){ 0, 2 }, (int[]){ 1, 0 }, 2, NULL);
	node_on(&c, GCDL_NODE_PEER, 2, (uint32_t[]){ 1, 2 }, (int[]){ 1, 1 }, 2, NULL);
	ck_assert_int_eq(run(&c), 0);
	ref = dp_test_sim_model(&p, &dim);
	for (uint32_t i = 0; i < N; i++) {
		assert_model(c.node[i], ref, dim, "peer");
		ck_assert_uint_eq(ctr(c.node[i], GCDL_CTR_APPLIED), R);
		ck_assert_uint_eq(ctr(c.node[i], GCDL_CTR_CONTRIBUTED), R);
	}
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_MESH_COMMITS_SENT), R);
	assert_method_matters(&p, ref, dim);
	free(ref);
	cluster_close(&c);
}
END_TEST

/* ---- model.type external: trainers beside the workers ------------------- */

#define XT_DIM 3000u
#define XT_ROUNDS 12u

struct xtrainer {
	char path[96];
	uint32_t k;
	int failed;                       /* the channel said FAILED */
	uint32_t rounds;                  /* rounds it read back */
	uint32_t stragglers;              /* rounds flagged ahead as its straggler's */
	uint8_t straggler[XT_ROUNDS];
	float g[XT_ROUNDS][XT_DIM];       /* the decoded gradient of each round */
};

static float
xt_value(uint32_t k, uint32_t t, uint32_t j)
{
	return (float)((int)((j * 7 + k * 13 + t * 5) % 23) - 11) * 0.01f;
}

/* A trainer in C, as lib/python/gcdl/channel.py does it: its v_k of round t
 * in, unless flagged a straggler; round t's decoded gradient out. */
static void *
xt_main(void *arg)
{
	struct xtrainer *x = arg;
	struct gcdl_extgrad_hdr *h;
	uint64_t deadline = rte_get_timer_cycles() + 30 * rte_get_timer_hz();
	const struct timespec nap = { 0, 50000 };
	size_t len = gcdl_extgrad_size(XT_DIM, GCDL_EXTGRAD_SLOTS);
	int fd = open(x->path, O_RDWR);
	float *in;

	if (fd < 0)
		return NULL;
	h = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (h == MAP_FAILED)
		return NULL;
	in = (float *)((uint8_t *)h + GCDL_EXTGRAD_DATA_OFF);
	for (uint32_t t = 0; t < XT_ROUNDS; t++) {
		while (__atomic_load_n(&h->state, __ATOMIC_ACQUIRE) == GCDL_EXTGRAD_STARTING ||
		       (t > 0 && __atomic_load_n(&h->out_rounds, __ATOMIC_ACQUIRE) < t)) {
			if (h->state == GCDL_EXTGRAD_FAILED || rte_get_timer_cycles() > deadline)
				goto out;
			nanosleep(&nap, NULL);
		}
		x->straggler[t] = __atomic_load_n(&h->straggler, __ATOMIC_ACQUIRE) == t + 1;
		x->stragglers += x->straggler[t];
		if (!x->straggler[t]) {
			for (uint32_t j = 0; j < XT_DIM; j++)
				in[j] = xt_value(x->k, t, j);
			__atomic_store_n(&h->in_round, (uint64_t)t + 1, __ATOMIC_RELEASE);
		}
		while (__atomic_load_n(&h->out_rounds, __ATOMIC_ACQUIRE) <= t) {
			if (h->state == GCDL_EXTGRAD_FAILED || rte_get_timer_cycles() > deadline)
				goto out;
			nanosleep(&nap, NULL);
		}
		memcpy(x->g[t], (uint8_t *)h + h->out_off + (t % h->slots) * h->slot_stride,
		       sizeof(x->g[t]));
		x->rounds++;
	}
out:
	x->failed = h->state == GCDL_EXTGRAD_FAILED;
	munmap(h, len);
	return NULL;
}

/* model.type external with a trainer thread per worker (float32 uplink, so
 * the decoded gradient is known exactly): every worker hands its trainer the
 * same gradient each round, N/|R| times the sum of the non-stragglers' v_k
 * (the normalised decoder), the stragglers flagged ahead are the ones the
 * nodes skipped, and every channel ends ENDED. */
START_TEST(star_external_trainers)
{
	static struct xtrainer xt[4];
	struct gcdl_profile p;
	struct cluster c;
	struct gcdl_node_conf conf;
	uint32_t links[4] = { 0, 1, 2, 3 };
	int sides[4] = { 0, 0, 0, 0 }, one = 1;
	pthread_t th[4];
	char dir[64] = "/tmp/gcdl_test_node_xg_XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(dir));
	dp_test_profile(&p, XT_ROUNDS);
	p.method = GCDL_METHOD_SGC;
	p.model = GCDL_MODEL_EXTERNAL;
	p.model_dim = XT_DIM;
	p.downlink = GCDL_DOWNLINK_RELAY;
	p.straggler_model = GCDL_STRAGGLER_BERNOULLI;
	p.straggler_p = 0.25;
	p.deadline_us = 300000;
	cluster_open(&c, &p, 4);
	node_on(&c, GCDL_NODE_AGGREGATOR, 0, links, sides, 4, NULL);
	for (uint32_t k = 0; k < 4; k++) {
		memset(&xt[k], 0, sizeof(xt[k]));
		xt[k].k = k;
		snprintf(xt[k].path, sizeof(xt[k].path), "%s/w%u.grad", dir, k);
		memset(&conf, 0, sizeof(conf));
		conf.grad_shm = xt[k].path;
		node_on(&c, GCDL_NODE_WORKER, k, &links[k], &one, 1, &conf);
		ck_assert_int_eq(pthread_create(&th[k], NULL, xt_main, &xt[k]), 0);
	}
	ck_assert_int_eq(run(&c), 0);
	for (uint32_t k = 0; k < 4; k++)
		ck_assert_int_eq(pthread_join(th[k], NULL), 0);
	{
		uint64_t flagged = 0, skipped = 0;

		for (uint32_t k = 0; k < 4; k++) {
			flagged += xt[k].stragglers;
			skipped += ctr(c.node[1 + k], GCDL_CTR_SKIPPED);
		}
		ck_assert_uint_gt(flagged, 0);
		ck_assert_uint_eq(flagged, skipped);
	}
	cluster_close(&c); /* the workers' channels: ENDED */
	for (uint32_t k = 0; k < 4; k++) {
		struct gcdl_extgrad_hdr h;
		FILE *f = fopen(xt[k].path, "r");

		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fread(&h, sizeof(h), 1, f), 1);
		fclose(f);
		ck_assert_uint_eq(h.state, GCDL_EXTGRAD_ENDED);
		ck_assert_uint_eq(h.stale, 0);
		ck_assert_int_eq(xt[k].failed, 0);
		ck_assert_uint_eq(xt[k].rounds, XT_ROUNDS);
		unlink(xt[k].path);
	}
	rmdir(dir);
	for (uint32_t t = 0; t < XT_ROUNDS; t++) {
		uint32_t in = 0;

		for (uint32_t k = 0; k < 4; k++) {
			in += !xt[k].straggler[t];
			ck_assert_mem_eq(xt[k].g[t], xt[0].g[t], sizeof(xt[0].g[t]));
		}
		for (uint32_t j = 0; j < XT_DIM; j += 7) {
			double want = 0;

			for (uint32_t k = 0; k < 4; k++)
				want += xt[k].straggler[t] ? 0.0 : xt_value(k, t, j);
			want = in ? want * 4.0 / in : 0.0;
			ck_assert_msg(fabs(xt[0].g[t][j] - want) <= 1e-5,
				      "round %u coordinate %u: %g, expected %g", t, j,
				      (double)xt[0].g[t][j], want);
		}
	}
}
END_TEST

static Suite *
node_suite(void)
{
	Suite *s = suite_create("node");
	TCase *t = tcase_create("node");

	tcase_set_timeout(t, 120);
	tcase_add_test(t, bad_configurations_refused);
	tcase_add_test(t, no_worker_joins);
	tcase_add_test(t, no_worker_contributes);
	tcase_add_test(t, star_equals_sim);
	tcase_add_test(t, star_downlink_modes_equal_sim);
	tcase_add_test(t, star_downlink_loss_repaired);
	tcase_add_loop_test(t, star_bernoulli_equals_sim, 0, 2);
	tcase_add_test(t, star_faults_drop);
	tcase_add_test(t, star_late_frames);
	tcase_add_test(t, star_garbage);
	tcase_add_test(t, star_vlan);
	tcase_add_test(t, star_external_trainers);
	tcase_add_loop_test(t, sharded_equals_sim, 0, 2);
	tcase_add_loop_test(t, mesh_equals_sim, 0, 2);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (dp_test_eal("test_node") != 0)
		return 77; /* skipped: no EAL here */
	sr = srunner_create(node_suite());
	/* the EAL lives in this process */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rte_eal_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
