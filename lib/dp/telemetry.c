/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK telemetry of the data plane: /gcdl/stats, /gcdl/round, /gcdl/layout
 * and /gcdl/workers on the EAL's telemetry socket
 * (<runtime dir>/dpdk_telemetry.v2, e.g. `echo /gcdl/round | dpdk-telemetry.py
 * -f PREFIX`).
 *
 * The callbacks run on DPDK's telemetry thread (one per client connection),
 * while the lcores and the control thread keep running: they read the
 * per-lcore counters and the control thread's published round state with
 * relaxed atomic loads and never take a lock on the data path. Each value is
 * current; a reply is not a snapshot of one instant.
 *
 * The telemetry API of DPDK 22.11 passes no user pointer to a callback, so
 * the data plane is attached here; gcdl_dp_free() detaches it and waits
 * for callbacks in progress before the memory goes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_telemetry.h>

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

static double
load_double(const double *p)
{
	double v;

	__atomic_load(p, &v, __ATOMIC_RELAXED);
	return v;
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

static int
tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	uint64_t up_tx_f = 0, up_tx_b = 0, dn_rx_f = 0, dn_rx_b = 0, dn_dup = 0, skipped = 0;
	uint64_t alloc = 0, drops = 0, dn_drops = 0, dn_by[GCDL_DROP__COUNT] = { 0 };
	uint64_t by[GCDL_DROP__COUNT] = { 0 }, fault[5] = { 0 }, txfull = 0;
	const struct dp_stats *a, *c;
	struct gcdl_dp *dp;
	char key[64];
	int rc = 0;

	RTE_SET_USED(cmd);
	if (params != NULL && params[0] != '\0')
		return -EINVAL; /* none taken */
	dp = tel_get();
	if (dp == NULL)
		return -ENODEV;
	a = &dp->agg->st;
	c = &dp->ctl_st;
	for (uint32_t i = 0; i < dp->nwl; i++) {
		const struct dp_stats *w = &dp->wl[i]->st;

		up_tx_f += DP_STAT_GET(w, tx_frames);
		up_tx_b += DP_STAT_GET(w, tx_bytes);
		dn_rx_f += DP_STAT_GET(w, rx_frames);
		dn_rx_b += DP_STAT_GET(w, rx_bytes);
		dn_dup += DP_STAT_GET(w, duplicates);
		skipped += DP_STAT_GET(w, skipped);
		alloc += DP_STAT_GET(w, alloc_fail);
		txfull += DP_STAT_GET(w, tx_full);
		fault[0] += DP_STAT_GET(w, fault_dropped);
		fault[1] += DP_STAT_GET(w, fault_duplicated);
		fault[2] += DP_STAT_GET(w, fault_reordered);
		fault[3] += DP_STAT_GET(w, fault_corrupted);
		fault[4] += DP_STAT_GET(w, fault_delayed);
		for (int r = 1; r < GCDL_DROP__COUNT; r++)
			dn_by[r] += DP_STAT_GET(w, drops[r]);
	}
	alloc += DP_STAT_GET(a, alloc_fail) + DP_STAT_GET(c, alloc_fail);
	for (int r = 1; r < GCDL_DROP__COUNT; r++) {
		by[r] = DP_STAT_GET(a, drops[r]);
		drops += by[r];
		dn_drops += dn_by[r];
	}

	rte_tel_data_start_dict(d);
	rc |= add_u64(d, "uplink_tx_frames", up_tx_f);
	rc |= add_u64(d, "uplink_tx_bytes", up_tx_b);
	rc |= add_u64(d, "uplink_rx_frames", DP_STAT_GET(a, rx_frames));
	rc |= add_u64(d, "uplink_rx_bytes", DP_STAT_GET(a, rx_bytes));
	rc |= add_u64(d, "uplink_accepted", DP_STAT_GET(a, accepted));
	rc |= add_u64(d, "uplink_payload_bytes",
		      __atomic_load_n(&dp->tel.payload_bytes, __ATOMIC_RELAXED));
	rc |= add_u64(d, "uplink_wire_bytes",
		      __atomic_load_n(&dp->tel.wire_bytes, __ATOMIC_RELAXED));
	rc |= add_u64(d, "downlink_tx_frames", DP_STAT_GET(a, tx_frames));
	rc |= add_u64(d, "downlink_tx_bytes", DP_STAT_GET(a, tx_bytes));
	rc |= add_u64(d, "downlink_rx_frames", dn_rx_f);
	rc |= add_u64(d, "downlink_rx_bytes", dn_rx_b);
	rc |= add_u64(d, "garbage_injected", DP_STAT_GET(c, tx_frames));
	rc |= add_u64(d, "duplicates", DP_STAT_GET(a, duplicates));
	rc |= add_u64(d, "downlink_duplicates", dn_dup);
	rc |= add_u64(d, "late", DP_STAT_GET(a, late));
	rc |= add_u64(d, "rejected", DP_STAT_GET(a, rejected));
	rc |= add_u64(d, "stragglers",
		      __atomic_load_n(&dp->tel.stragglers_total, __ATOMIC_RELAXED));
	rc |= add_u64(d, "skipped", skipped);
	rc |= add_u64(d, "closed_complete",
		      __atomic_load_n(&dp->tel.closed_complete, __ATOMIC_RELAXED));
	rc |= add_u64(d, "closed_deadline",
		      __atomic_load_n(&dp->tel.closed_deadline, __ATOMIC_RELAXED));
	rc |= add_u64(d, "alloc_failures", alloc);
	rc |= add_u64(d, "tx_full", txfull + DP_STAT_GET(a, tx_full));
	rc |= add_u64(d, "fault_dropped", fault[0]);
	rc |= add_u64(d, "fault_duplicated", fault[1]);
	rc |= add_u64(d, "fault_reordered", fault[2]);
	rc |= add_u64(d, "fault_corrupted", fault[3]);
	rc |= add_u64(d, "fault_delayed", fault[4]);
	rc |= add_u64(d, "drops", drops);
	for (int r = 1; r < GCDL_DROP__COUNT; r++) {
		snprintf(key, sizeof(key), "drop_%s", gcdl_frame_drop_name(r));
		rc |= add_u64(d, key, by[r]);
	}
	rc |= add_u64(d, "downlink_drops", dn_drops);
	for (int r = 1; r < GCDL_DROP__COUNT; r++) {
		snprintf(key, sizeof(key), "downlink_drop_%s", gcdl_frame_drop_name(r));
		rc |= add_u64(d, key, dn_by[r]);
	}
	tel_put();
	return rc;
}

static int
tel_round(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct gcdl_dp *dp;
	int rc = 0;

	RTE_SET_USED(cmd);
	if (params != NULL && params[0] != '\0')
		return -EINVAL; /* none taken */
	dp = tel_get();
	if (dp == NULL)
		return -ENODEV;
	rte_tel_data_start_dict(d);
	rc |= add_u64(d, "round", __atomic_load_n(&dp->tel.round, __ATOMIC_RELAXED));
	rc |= add_u64(d, "rounds_done", __atomic_load_n(&dp->tel.rounds_done, __ATOMIC_RELAXED));
	rc |= add_u64(d, "rounds_total", dp->prof.rounds);
	rc |= add_u64(d, "evaluated", __atomic_load_n(&dp->tel.evaluated, __ATOMIC_RELAXED));
	if (__atomic_load_n(&dp->tel.evaluated, __ATOMIC_RELAXED)) {
		rc |= add_double(d, "train_loss", load_double(&dp->tel.train_loss));
		rc |= add_double(d, "test_accuracy", load_double(&dp->tel.test_accuracy));
	} else {
		rc |= add_str(d, "train_loss", "");
		rc |= add_str(d, "test_accuracy", "");
	}
	rc |= add_u64(d, "stragglers", __atomic_load_n(&dp->tel.stragglers, __ATOMIC_RELAXED));
	rc |= add_u64(d, "deadline_us", (uint64_t)(load_double(&dp->tel.deadline_us) + 0.5));
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
	if (params != NULL && params[0] != '\0')
		return -EINVAL; /* none taken */
	dp = tel_get();
	if (dp == NULL)
		return -ENODEV;
	l = gcdl_engine_layout(dp->e);
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
	uint32_t shown;
	int rc = 0;

	RTE_SET_USED(cmd);
	if (params != NULL && params[0] != '\0')
		return -EINVAL; /* none taken */
	dp = tel_get();
	if (dp == NULL)
		return -ENODEV;
	rte_tel_data_start_dict(d);
	shown = workers_shown(dp->n, 0);
	if (shown < dp->n)
		rc |= add_u64(d, "workers_shown", shown);
	for (uint32_t k = 0; k < shown && rc == 0; k++) {
		const struct dp_wstats *ws = &dp->agg->wst[k];
		struct rte_tel_data *w = rte_tel_data_alloc();
		char key[16];

		if (w == NULL) {
			rc = -ENOMEM;
			break;
		}
		rte_tel_data_start_dict(w);
		/* 1-based like /gcdl/round, 0: nothing valid from k yet */
		rc |= add_u64(w, "last_round", DP_STAT_GET(ws, last_round));
		rc |= add_u64(w, "accepted", DP_STAT_GET(ws, accepted));
		rc |= add_u64(w, "duplicates", DP_STAT_GET(ws, duplicates));
		rc |= add_u64(w, "late", DP_STAT_GET(ws, late));
		rc |= add_u64(w, "rejected", DP_STAT_GET(ws, rejected));
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
gcdl_dp_telemetry_attach(struct gcdl_dp *dp)
{
	static const struct {
		const char *cmd;
		telemetry_cb fn;
		const char *help;
	} cmds[] = {
		/* help texts must stay below RTE_TEL_MAX_STRING_LEN (128) */
		{ "/gcdl/stats", tel_stats,
		  "gcdl: frames, bytes, drops by reason, duplicates, late. No parameters." },
		{ "/gcdl/round", tel_round,
		  "gcdl: round, rounds done and total, loss, accuracy, stragglers, deadline_us." },
		{ "/gcdl/layout", tel_layout,
		  "gcdl: shard layout kind and properties, each worker's partitions." },
		{ "/gcdl/workers", tel_workers,
		  "gcdl: per worker: last round seen, accepted/duplicate/late/rejected frames." },
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
gcdl_dp_telemetry_detach(struct gcdl_dp *dp)
{
	struct gcdl_dp *mine = dp;

	if (dp == NULL ||
	    !__atomic_compare_exchange_n(&tel_dp, &mine, NULL, 0, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		return;
	while (__atomic_load_n(&tel_busy, __ATOMIC_SEQ_CST) != 0)
		rte_delay_us_sleep(100);
}
