/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK telemetry of a process's data plane, in every role: /gcdl/stats,
 * /gcdl/round, /gcdl/layout, /gcdl/workers and /gcdl/node on the EAL's
 * telemetry socket (<runtime dir>/dpdk_telemetry.v2, e.g.
 * `echo /gcdl/round | dpdk-telemetry.py -f PREFIX`).
 *
 * The callbacks run on DPDK's telemetry thread (one per client connection),
 * while the lcores keep running: they read the nodes' counters (the list of
 * gcdl/counters.h) and published round state with relaxed atomic loads and
 * never take a lock on the data path. Each value is current; a reply is not
 * a snapshot of one instant.
 *
 * The telemetry API of DPDK 22.11 passes no user pointer to a callback, so
 * the data plane is attached here; gcdl_dp_free() detaches it and waits
 * for callbacks in progress before the memory goes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_telemetry.h>

#include "gcdl/layout.h"

#include "dp_internal.h"

static struct gcdl_dp *tel_dp;   /* attached data plane, or NULL */
static uint32_t tel_busy;        /* callbacks holding tel_dp */
static int tel_registered;       /* touched by the main thread only */

/* Take the attached data plane; tel_put() when done. Sequentially consistent
 * with gcdl_dp_telemetry_detach(): either detach sees tel_busy > 0 and
 * waits, or this sees NULL. */
static struct gcdl_dp *
tel_get(void)
{
	struct gcdl_dp *dp;

	__atomic_fetch_add(&tel_busy, 1, __ATOMIC_SEQ_CST);
	dp = __atomic_load_n(&tel_dp, __ATOMIC_SEQ_CST);
	if (dp == NULL)
		__atomic_fetch_sub(&tel_busy, 1, __ATOMIC_SEQ_CST);
	return dp;
}

static void
tel_put(void)
{
	__atomic_fetch_sub(&tel_busy, 1, __ATOMIC_SEQ_CST);
}

/* rte_tel_data_add_dict_* return a positive E2BIG on truncation: an error too. */
static int
add_u64(struct rte_tel_data *d, const char *name, uint64_t v)
{
	return rte_tel_data_add_dict_u64(d, name, v) == 0 ? 0 : -EINVAL;
}

static int
add_str(struct rte_tel_data *d, const char *name, const char *v)
{
	return rte_tel_data_add_dict_string(d, name, v) == 0 ? 0 : -EINVAL;
}

static int
add_double(struct rte_tel_data *d, const char *name, double v)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.6f", v);
	return add_str(d, name, buf);
}

/* The attached data plane for a command that takes no parameters (tel_put()
 * when done), or NULL with *rc -EINVAL (parameters) or -ENODEV (none). */
static struct gcdl_dp *
tel_begin(const char *params, int *rc)
{
	struct gcdl_dp *dp;

	*rc = 0;
	if (params != NULL && params[0] != '\0') {
		*rc = -EINVAL;
		return NULL;
	}
	dp = tel_get();
	if (dp == NULL)
		*rc = -ENODEV;
	return dp;
}

static int
tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct gcdl_counters total, one;
	struct gcdl_dp *dp;
	int rc = 0;

	RTE_SET_USED(cmd);
	dp = tel_begin(params, &rc);
	if (dp == NULL)
		return rc;
	memset(&total, 0, sizeof(total));
	for (uint32_t i = 0; i < dp->nnodes; i++) {
		gcdl_counters_snapshot(&one, gcdl_node_counters(dp->nodes[i]));
		gcdl_counters_accumulate(&total, &one);
	}
	gcdl_counters_sum_drops(&total);
	rte_tel_data_start_dict(d);
	for (int c = 0; c < GCDL_CTR__COUNT; c++)
		rc |= add_u64(d, gcdl_counter_name(c), total.v[c]);
	tel_put();
	return rc;
}

static int
tel_round(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct gcdl_node_round r;
	struct gcdl_dp *dp;
	int rc = 0;

	RTE_SET_USED(cmd);
	dp = tel_begin(params, &rc);
	if (dp == NULL)
		return rc;
	/* the node that owns the run: aggregator 0, peer 0, or this process's node */
	gcdl_node_round(dp->nodes[0], &r);
	rte_tel_data_start_dict(d);
	rc |= add_u64(d, "round", r.round);
	rc |= add_u64(d, "rounds_done", r.rounds_done);
	rc |= add_u64(d, "rounds_total", r.rounds_total);
	rc |= add_u64(d, "evaluated", r.evaluated);
	if (r.evaluated) {
		rc |= add_double(d, "train_loss", r.train_loss);
		rc |= add_double(d, "test_accuracy", r.test_accuracy);
	} else {
		rc |= add_str(d, "train_loss", "");
		rc |= add_str(d, "test_accuracy", "");
	}
	rc |= add_u64(d, "stragglers", r.stragglers);
	rc |= add_u64(d, "deadline_us", (uint64_t)(r.deadline_us + 0.5));
	tel_put();
	return rc;
}

static int
tel_node(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct gcdl_dp *dp;
	char list[RTE_TEL_MAX_STRING_LEN];
	size_t used = 0;
	int rc = 0;

	RTE_SET_USED(cmd);
	dp = tel_begin(params, &rc);
	if (dp == NULL)
		return rc;
	list[0] = '\0';
	for (uint32_t i = 0; i < dp->nnodes; i++) {
		const struct gcdl_node *n = dp->nodes[i];
		int w = snprintf(list + used, sizeof(list) - used, "%s%s %u", i ? "," : "",
				 gcdl_node_role_name(n->conf.role), n->conf.id);

		if (w < 0 || used + (size_t)w + 4 >= sizeof(list)) {
			snprintf(list + used, sizeof(list) - used, "...");
			break;
		}
		used += (size_t)w;
	}
	rte_tel_data_start_dict(d);
	rc |= add_str(d, "role", gcdl_dp_role_name(dp->opts.role));
	rc |= add_u64(d, "id", dp->opts.id);
	rc |= add_str(d, "topology", dp->prof.topology == GCDL_TOPO_SHARDED ? "sharded" :
		      dp->prof.topology == GCDL_TOPO_MESH ? "mesh" : "star");
	rc |= add_str(d, "job", dp->prof.name);
	rc |= add_u64(d, "job_id", dp->prof.job_id);
	rc |= add_u64(d, "nodes", dp->nnodes);
	rc |= add_str(d, "node_list", list);
	tel_put();
	return rc;
}

/* The layout kind the engine built (gcdl_profile_layout()). */
static enum gcdl_layout_kind
layout_kind(const struct gcdl_profile *p)
{
	enum gcdl_layout_kind kind;
	uint32_t m, d;

	gcdl_profile_layout(p, &kind, &m, &d);
	return kind;
}

/* "0,3": a worker's partitions; a list too long for a telemetry string ends in "...". */
static void
partition_list(const uint32_t *parts, uint32_t count, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < count; i++) {
		char item[16];
		int n = snprintf(item, sizeof(item), "%s%u", i ? "," : "", parts[i]);

		if (used + (size_t)n + 4 > len) {
			snprintf(buf + used, len - used, "...");
			return;
		}
		memcpy(buf + used, item, (size_t)n + 1);
		used += (size_t)n;
	}
}

/* Worker keys "w<k>" a dict of this many other entries can still take. */
static uint32_t
workers_shown(uint32_t n, uint32_t others)
{
	uint32_t room = RTE_TEL_MAX_DICT_ENTRIES - others;

	return n <= room ? n : room - 1; /* one for "workers_shown" */
}

static int
tel_layout(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct gcdl_layout *l;
	struct gcdl_layout_props pr;
	struct gcdl_dp *dp;
	uint32_t shown;
	int rc = 0;

	RTE_SET_USED(cmd);
	dp = tel_begin(params, &rc);
	if (dp == NULL)
		return rc;
	l = gcdl_engine_layout(dp->job.engine);
	if (gcdl_layout_props(l, &pr) != 0) {
		tel_put();
		return -EINVAL;
	}
	rte_tel_data_start_dict(d);
	rc |= add_str(d, "kind", gcdl_layout_kind_name(layout_kind(&dp->prof)));
	rc |= add_u64(d, "workers", pr.workers);
	rc |= add_u64(d, "partitions", pr.partitions);
	rc |= add_u64(d, "rep_min", pr.rep_min);
	rc |= add_u64(d, "rep_max", pr.rep_max);
	rc |= add_u64(d, "load_min", pr.load_min);
	rc |= add_u64(d, "load_max", pr.load_max);
	rc |= add_u64(d, "pair_min", pr.pair_min);
	rc |= add_u64(d, "pair_max", pr.pair_max);
	shown = workers_shown(pr.workers, 9);
	if (shown < pr.workers)
		rc |= add_u64(d, "workers_shown", shown);
	for (uint32_t k = 0; k < shown; k++) {
		char key[16], list[RTE_TEL_MAX_STRING_LEN];
		const uint32_t *parts;
		uint32_t count;

		if (gcdl_layout_worker_partitions(l, k, &parts, &count) != 0) {
			rc = -EINVAL;
			break;
		}
		partition_list(parts, count, list, sizeof(list));
		snprintf(key, sizeof(key), "w%u", k);
		rc |= add_str(d, key, list);
	}
	tel_put();
	return rc;
}

static int
tel_workers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct gcdl_dp *dp;
	uint32_t shown, n;
	int rc = 0;

	RTE_SET_USED(cmd);
	dp = tel_begin(params, &rc);
	if (dp == NULL)
		return rc;
	rte_tel_data_start_dict(d);
	n = dp->naggs > 0 && dp->nodes[0]->conf.role == GCDL_NODE_AGGREGATOR ? dp->prof.workers : 0;
	shown = workers_shown(n, 0);
	if (shown < n)
		rc |= add_u64(d, "workers_shown", shown);
	for (uint32_t k = 0; k < shown && rc == 0; k++) {
		struct rte_tel_data *w = rte_tel_data_alloc();
		struct gcdl_worker_row sum, row;
		char key[16];

		if (w == NULL) {
			rc = -ENOMEM;
			break;
		}
		/* sharded: each aggregator sees the worker's chunks of its range */
		memset(&sum, 0, sizeof(sum));
		for (uint32_t a = 0; a < dp->naggs; a++) {
			if (gcdl_node_worker_row(dp->nodes[a], k, &row) != 0)
				continue;
			sum.accepted += row.accepted;
			sum.duplicates += row.duplicates;
			sum.late += row.late;
			sum.rejected += row.rejected;
			sum.joins += row.joins;
			if (row.last_round > sum.last_round)
				sum.last_round = row.last_round;
		}
		rte_tel_data_start_dict(w);
		/* 1-based like /gcdl/round, 0: nothing valid from k yet */
		rc |= add_u64(w, "last_round", sum.last_round);
		rc |= add_u64(w, "accepted", sum.accepted);
		rc |= add_u64(w, "duplicates", sum.duplicates);
		rc |= add_u64(w, "late", sum.late);
		rc |= add_u64(w, "rejected", sum.rejected);
		rc |= add_u64(w, "joins", sum.joins);
		snprintf(key, sizeof(key), "w%u", k);
		if (rc != 0 || rte_tel_data_add_dict_container(d, key, w, 0) != 0) {
			rte_tel_data_free(w);
			rc = -EINVAL;
		}
	}
	tel_put();
	return rc;
}

int
dp_telemetry_attach(struct gcdl_dp *dp)
{
	static const struct {
		const char *cmd;
		telemetry_cb fn;
		const char *help;
	} cmds[] = {
		/* help texts must stay below RTE_TEL_MAX_STRING_LEN (128) */
		{ "/gcdl/stats", tel_stats,
		  "gcdl: every counter of the process's nodes, summed. No parameters." },
		{ "/gcdl/round", tel_round,
		  "gcdl: round, rounds done and total, loss, accuracy, stragglers, deadline_us." },
		{ "/gcdl/layout", tel_layout,
		  "gcdl: shard layout kind and properties, each worker's partitions." },
		{ "/gcdl/workers", tel_workers,
		  "gcdl: per worker: last round seen, accepted/duplicate/late/rejected frames." },
		{ "/gcdl/node", tel_node,
		  "gcdl: this process's role, id, topology, job and nodes." },
	};
	struct gcdl_dp *none = NULL;

	if (dp == NULL)
		return -EINVAL;
	if (!tel_registered) {
		for (size_t i = 0; i < RTE_DIM(cmds); i++) {
			int rc = rte_telemetry_register_cmd(cmds[i].cmd, cmds[i].fn, cmds[i].help);

			if (rc != 0)
				return rc < 0 ? rc : -rc;
		}
		tel_registered = 1;
	}
	if (!__atomic_compare_exchange_n(&tel_dp, &none, dp, 0, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		return -EBUSY;
	return 0;
}

void
dp_telemetry_detach(struct gcdl_dp *dp)
{
	struct gcdl_dp *mine = dp;

	if (dp == NULL ||
	    !__atomic_compare_exchange_n(&tel_dp, &mine, NULL, 0, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		return;
	while (__atomic_load_n(&tel_busy, __ATOMIC_SEQ_CST) != 0)
		rte_delay_us_sleep(100);
}
