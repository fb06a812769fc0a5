/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The local data plane as a whole: lcore assignment, memory placement,
 * pools, port pairs and rings at creation; launching the lcores and the
 * control thread, and collecting the result, at run time.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>
#include <numa.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "dp_internal.h"
#include "../core/seterr.h"

/* Worker lcores and the aggregator lcore: the aggregator takes the first
 * lcore after the main one when there are enough, else the main lcore. */
static int
assign_lcores(struct gcdl_dp *dp, char *err, size_t errlen)
{
	unsigned ids[RTE_MAX_LCORE], n = 0, lc, first = 0;

	dp->main_lcore = rte_get_main_lcore();
	RTE_LCORE_FOREACH_WORKER(lc)
		ids[n++] = lc;
	dp->nwl = dp->prof.worker_lcores;
	if (dp->nwl > dp->n)
		dp->nwl = dp->n; /* no idle worker lcores */
	if (n >= dp->nwl + 1) {
		dp->agg_lcore = ids[0];
		first = 1;
	} else if (n >= dp->nwl) {
		dp->agg_lcore = dp->main_lcore;
	} else {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		gcdl_seterr(err, errlen, "dataplane.worker_lcores = %u needs %u EAL lcores (the "
		       "aggregator may run on the main lcore), the EAL has %u: pass e.g. "
		       "--lcores '(0-%u)@(0-%ld)'", dp->prof.worker_lcores, dp->nwl + 1, n + 1,
		       dp->nwl, cpus > 1 ? cpus - 1 : 0);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < dp->nwl; i++)
		dp->wl_lcore[i] = ids[first + i];
	return 0;
}

static unsigned
lcore_socket(unsigned lcore)
{
	unsigned s = rte_lcore_to_socket_id(lcore);

	return s < RTE_MAX_NUMA_NODES ? s : 0;
}

static int
pool_for(struct gcdl_dp *dp, unsigned socket, char *err, size_t errlen)
{
	char name[RTE_MEMPOOL_NAMESIZE];

	if (dp->pool[socket] != NULL)
		return 0;
	snprintf(name, sizeof(name), "gcdl_pool_s%u", socket);
	dp->pool[socket] = gcdl_dp_pool_create(name, socket, dp->pool_mbufs, dp->data_room);
	if (dp->pool[socket] == NULL) {
		gcdl_seterr(err, errlen, "mempool %s: cannot create %u mbufs of %u bytes on socket %u: "
		       "%s (raise -m or lower dataplane.mbufs)", name, dp->pool_mbufs,
		       dp->data_room, socket, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	return 0;
}

static struct rte_ring *
msg_ring(const char *name, unsigned count, unsigned socket, unsigned flags, char *err,
	 size_t errlen)
{
	struct rte_ring *r = rte_ring_create_elem(name, sizeof(struct dp_msg), count, (int)socket,
						  flags);

	if (r == NULL)
		gcdl_seterr(err, errlen, "ring %s: cannot create %u slots: %s", name, count,
		       rte_strerror(rte_errno));
	return r;
}

/* Open the job with the engine's memory preferred on the aggregator's node. */
static int
open_job(struct gcdl_dp *dp, unsigned socket, char *err, size_t errlen)
{
	int numa = numa_available() >= 0;
	int rc;

	dp->numa_engine = -1;
	if (numa) {
		numa_set_preferred((int)socket);
		dp->numa_engine = (int)socket;
	}
	rc = gcdl_job_open(&dp->job, &dp->prof, dp->nwl + 1, err, errlen);
	if (numa)
		numa_set_localalloc();
	if (rc == 0)
		dp->job_open = 1;
	return rc;
}

struct gcdl_dp *
gcdl_dp_create(const struct gcdl_profile *p, const struct gcdl_dp_opts *o, char *err,
	       size_t errlen)
{
	struct gcdl_dp *dp;
	size_t payload;
	uint64_t need;
	unsigned asock;
	char name[RTE_RING_NAMESIZE];
	int rc;

	if (p == NULL) {
		gcdl_seterr(err, errlen, "data plane: no profile");
		rte_errno = EINVAL;
		return NULL;
	}
	if (gcdl_profile_validate(p, err, errlen) != 0) {
		rte_errno = EINVAL;
		return NULL;
	}
	dp = rte_zmalloc("gcdl_dp", sizeof(*dp), RTE_CACHE_LINE_SIZE);
	if (dp == NULL) {
		gcdl_seterr(err, errlen, "data plane: out of memory (raise -m)");
		rte_errno = ENOMEM;
		return NULL;
	}
	dp->prof = *p;
	if (o != NULL)
		dp->opts = *o;
	if (dp->opts.progress_s <= 0)
		dp->opts.progress_s = 1.0;
	dp->n = p->workers;
	dp->burst = p->burst;
	dp->pool_mbufs = p->mbufs;
	dp->hz = rte_get_tsc_hz();
	if (p->key_file[0] != '\0') {
		char where[GCDL_PROFILE_STR + 96], why[128];

		rc = gcdl_auth_key_load(&dp->auth_key, p->key_file, why, sizeof(why));
		if (rc != 0) {
			gcdl_profile_where(p, "job.key_file", where, sizeof(where));
			gcdl_seterr(err, errlen, "%s: %s: %s", where, p->key_file, why);
			rc = -EINVAL;
			goto fail;
		}
		dp->auth = &dp->auth_key;
	} else if (dp->opts.inject_hostile > 0) {
		gcdl_seterr(err, errlen, "--inject-hostile needs a job key (job.key_file)");
		rc = -EINVAL;
		goto fail;
	}
	rc = assign_lcores(dp, err, errlen);
	if (rc != 0)
		goto fail;
	asock = lcore_socket(dp->agg_lcore);

	/* BLAS runs inside the worker lcores and the control thread: one thread
	 * each, or its own threads would fight the pinned lcores for the cores */
	openblas_set_num_threads(1);
	rc = open_job(dp, asock, err, errlen);
	if (rc != 0)
		goto fail;
	dp->e = dp->job.engine;
	if (dp->opts.resume != NULL) {
		char why[384];
		const struct gcdl_checkpoint *ck = dp->opts.resume;

		rc = gcdl_checkpoint_restore(ck, p, dp->e, why, sizeof(why));
		if (rc != 0) {
			gcdl_seterr(err, errlen, "--resume: %s", why);
			rc = -EINVAL;
			goto fail;
		}
		dp->first_round = ck->round;
		dp->res.up_wire_bytes = ck->up_wire_bytes;
		dp->res.up_payload_bytes = ck->up_payload_bytes;
		dp->res.stragglers = ck->stragglers;
	}
	dp->dim = gcdl_engine_dim(dp->e);
	dp->chunks = gcdl_engine_chunks(dp->e);
	dp->chunk_coords = gcdl_engine_chunk_coords(dp->e);
	dp->dl_coords = gcdl_frame_chunk_coords(GCDL_MSG_UPDATE, p->mtu, 0);
	dp->dl_chunks = (dp->dim + dp->dl_coords - 1) / dp->dl_coords;
	payload = RTE_MAX(gcdl_engine_max_payload(dp->e), 4 * (size_t)dp->dl_coords);
	dp->frame_cap = RTE_MAX((size_t)GCDL_ETH_MIN_FRAME,
				GCDL_FRAME_OVERHEAD + payload + GCDL_FRAME_TAG_LEN);
	dp->data_room = (uint16_t)RTE_ALIGN_CEIL(RTE_PKTMBUF_HEADROOM + dp->frame_cap, 64);

	dp->slowdown = rte_malloc("gcdl_slowdown", sizeof(double) * dp->n, 0);
	if (dp->slowdown == NULL) {
		gcdl_seterr(err, errlen, "data plane: out of memory (raise -m)");
		rc = -ENOMEM;
		goto fail;
	}
	if (gcdl_straggler_from_profile(&dp->sm, p, dp->slowdown) != 0) {
		gcdl_seterr(err, errlen, "stragglers.slowdown '%s' is malformed", p->slowdown);
		rc = -EINVAL;
		goto fail;
	}
	rc = gcdl_faults_init(&dp->faults, p);
	if (rc != 0) {
		gcdl_seterr(err, errlen, "faults.slow_workers '%s': %s", p->fault_slow_workers,
			    strerror(-rc));
		goto fail;
	}

	/* what can be in flight at once: each worker's held uplink frames and a
	 * burst, its share of up to DP_IMAGES downlink images queued in its ring,
	 * the garbage burst, and every lcore's mempool cache (1.5 x 256) */
	need = (uint64_t)dp->n * (dp->chunks * (p->fault_dup_p > 0 ? 2 : 1) + dp->burst +
				  RTE_MIN((uint64_t)p->ring_size, (uint64_t)DP_IMAGES * dp->dl_chunks)) +
	       64 + (uint64_t)(dp->nwl + 2) * 384;
	if (p->mbufs < need) {
		char where[GCDL_PROFILE_STR + 96];

		gcdl_profile_where(p, "dataplane.mbufs", where, sizeof(where));
		gcdl_seterr(err, errlen, "%s: dataplane.mbufs %u is below the %" PRIu64 " mbufs this "
		       "job can hold in flight (%u workers, %u uplink and %u downlink frames per "
		       "round)", where, p->mbufs, need, dp->n, dp->chunks, dp->dl_chunks);
		rc = -EINVAL;
		goto fail;
	}

	/* pools on every socket that runs an lcore of ours */
	rc = pool_for(dp, asock, err, errlen);
	for (uint32_t i = 0; rc == 0 && i < dp->nwl; i++)
		rc = pool_for(dp, lcore_socket(dp->wl_lcore[i]), err, errlen);
	if (rc != 0)
		goto fail;

	dp->ctl_in = msg_ring("gcdl_ctl_in", DP_CTL_RING, asock, RING_F_SC_DEQ, err, errlen);
	dp->agg_in = msg_ring("gcdl_agg_in", DP_LCORE_RING, asock,
			      RING_F_SP_ENQ | RING_F_SC_DEQ, err, errlen);
	if (dp->ctl_in == NULL || dp->agg_in == NULL) {
		rc = -ENOMEM;
		goto fail;
	}

	/* port pairs: W_k on its worker lcore's socket, A_k on the aggregator's */
	dp->garbage = dp->opts.inject_garbage > 0 || dp->opts.inject_hostile > 0;
	dp->npairs = dp->n + (dp->garbage ? 1 : 0);
	dp->pairs = rte_zmalloc_socket("gcdl_pairs", sizeof(*dp->pairs) * dp->npairs, 0,
				       (int)asock);
	if (dp->pairs == NULL) {
		gcdl_seterr(err, errlen, "data plane: out of memory (raise -m)");
		rc = -ENOMEM;
		goto fail;
	}
	for (uint32_t k = 0; k < dp->npairs; k++) {
		dp->pairs[k].wport = -1;
		dp->pairs[k].aport = -1;
	}
	for (uint32_t k = 0; k < dp->npairs; k++) {
		unsigned ws = k < dp->n ? lcore_socket(dp->wl_lcore[k % dp->nwl]) : asock;

		rc = gcdl_dp_pair_create(&dp->pairs[k], k < dp->n ? k : 0,
					 k < dp->n ? "gcdl_w" : "gcdl_g", ws, asock, p->ring_size,
					 dp->pool[ws], dp->pool[asock], err, errlen);
		if (rc != 0)
			goto fail;
	}
	if (rte_eth_dev_count_avail() < 2 * dp->npairs) {
		gcdl_seterr(err, errlen, "too few ports: %u available, %u needed (%u port pairs)",
		       rte_eth_dev_count_avail(), 2 * dp->npairs, dp->npairs);
		rc = -ENODEV;
		goto fail;
	}

	for (uint32_t i = 0; i < dp->nwl; i++) {
		unsigned s = lcore_socket(dp->wl_lcore[i]);
		struct dp_wlcore *wl = rte_zmalloc_socket("gcdl_wlcore", sizeof(*wl),
							  RTE_CACHE_LINE_SIZE, (int)s);

		if (wl == NULL) {
			gcdl_seterr(err, errlen, "worker lcore %u: out of memory on socket %u",
			       dp->wl_lcore[i], s);
			rc = -ENOMEM;
			goto fail;
		}
		dp->wl[i] = wl;
		wl->lcore = dp->wl_lcore[i];
		wl->socket = s;
		wl->index = i;
		wl->ctx = i + 1; /* context 0 is the control thread's (evaluation) */
		snprintf(name, sizeof(name), "gcdl_wl%u_in", i);
		wl->in = msg_ring(name, DP_LCORE_RING, s, RING_F_SP_ENQ | RING_F_SC_DEQ, err,
				  errlen);
		if (wl->in == NULL) {
			rc = -ENOMEM;
			goto fail;
		}
		rc = gcdl_dp_wlcore_init(dp, wl, err, errlen);
		if (rc != 0)
			goto fail;
	}
	dp->agg = rte_zmalloc_socket("gcdl_agg", sizeof(*dp->agg), RTE_CACHE_LINE_SIZE,
				     (int)asock);
	if (dp->agg == NULL) {
		gcdl_seterr(err, errlen, "aggregator lcore %u: out of memory on socket %u",
		       dp->agg_lcore, asock);
		rc = -ENOMEM;
		goto fail;
	}
	dp->agg->lcore = dp->agg_lcore;
	dp->agg->socket = asock;
	dp->agg->in = dp->agg_in;
	rc = gcdl_dp_agg_init(dp, dp->agg, err, errlen);
	if (rc == 0)
		rc = gcdl_dp_control_init(dp, err, errlen);
	if (rc != 0)
		goto fail;
	/* telemetry is an observer: without it the run goes on */
	rc = gcdl_dp_telemetry_attach(dp);
	if (rc != 0)
		DP_LOG(dataplane, WARNING, "telemetry: /gcdl/ commands unavailable: %s",
		       strerror(-rc));
	return dp;
fail:
	gcdl_dp_free(dp);
	rte_errno = rc < 0 ? -rc : EINVAL;
	return NULL;
}

const char *
gcdl_dp_error(const struct gcdl_dp *dp)
{
	return dp != NULL ? dp->fail : "";
}

struct gcdl_job *
gcdl_dp_job(struct gcdl_dp *dp)
{
	return dp != NULL ? &dp->job : NULL;
}

void
gcdl_dp_print_placement(const struct gcdl_dp *dp, FILE *out)
{
	if (dp == NULL)
		return;
	fprintf(out, "placement:\n");
	fprintf(out, "  lcore %u: %s, socket %u\n", dp->main_lcore,
		dp->agg_lcore == dp->main_lcore ? "main + aggregator" : "main (waits)",
		lcore_socket(dp->main_lcore));
	if (dp->agg_lcore != dp->main_lcore)
		fprintf(out, "  lcore %u: aggregator, socket %u\n", dp->agg_lcore,
			dp->agg->socket);
	for (uint32_t i = 0; i < dp->nwl; i++) {
		const struct dp_wlcore *wl = dp->wl[i];

		fprintf(out, "  lcore %u: worker lcore %u (engine context %u), socket %u, "
			"logical workers", wl->lcore, i, wl->ctx, wl->socket);
		for (uint32_t j = 0; j < wl->nworkers; j++)
			fprintf(out, "%s%u", j ? "," : " ", wl->w[j].id);
		fprintf(out, "; replicas and update buffers on socket %u\n", wl->socket);
	}
	fprintf(out, "  control thread gcdl-ctrl: a DPDK control thread (not an lcore); "
		"evaluation uses engine context 0\n");
	for (unsigned s = 0; s < RTE_MAX_NUMA_NODES; s++)
		if (dp->pool[s] != NULL)
			fprintf(out, "  mempool %s: socket %d, %u mbufs, data room %u bytes\n",
				dp->pool[s]->name, dp->pool[s]->socket_id, dp->pool[s]->size,
				dp->data_room);
	for (uint32_t k = 0; k < dp->npairs; k++) {
		const struct dp_pair *pp = &dp->pairs[k];
		char wn[RTE_ETH_NAME_MAX_LEN], an[RTE_ETH_NAME_MAX_LEN];

		rte_eth_dev_get_name_by_port((uint16_t)pp->wport, wn);
		rte_eth_dev_get_name_by_port((uint16_t)pp->aport, an);
		fprintf(out, "  %s %u: port %d %s (socket %d) <-> port %d %s (socket %d), "
			"rings of %u\n", k < dp->n ? "worker" : "garbage source", k < dp->n ? k : 0,
			pp->wport, wn, rte_eth_dev_socket_id((uint16_t)pp->wport), pp->aport, an,
			rte_eth_dev_socket_id((uint16_t)pp->aport), dp->prof.ring_size);
	}
	fprintf(out, "  aggregator state, update and downlink images: socket %u; engine "
		"accumulators: %s\n", dp->agg->socket,
		dp->numa_engine >= 0 ? "libnuma preferred node of the aggregator"
				     : "default policy (no NUMA support)");
	fprintf(out, "  job: N=%u workers, dim %u, %u uplink chunk(s) of %u coords, %u downlink "
		"frame(s) of %u coords, burst %u\n", dp->n, dp->dim, dp->chunks,
		dp->chunk_coords, dp->dl_chunks, dp->dl_coords, dp->burst);
}

/* Compare every worker replica with the aggregator's model. */
static void
check_replicas(struct gcdl_dp *dp)
{
	const float *w = gcdl_engine_model(dp->e);

	dp->res.replicas_checked = 0;
	dp->res.replicas_identical = 0;
	for (uint32_t i = 0; i < dp->nwl; i++) {
		const struct dp_wlcore *wl = dp->wl[i];

		for (uint32_t j = 0; j < wl->nworkers; j++) {
			dp->res.replicas_checked++;
			if (memcmp(wl->w[j].w, w, sizeof(float) * dp->dim) == 0)
				dp->res.replicas_identical++;
		}
	}
}

/* Wait for the launched lcore loops without spinning (rte_eal_wait_lcore
 * busy-polls, which would take a core from the lcores on a small machine);
 * a stop request while waiting makes them quit. */
static void
wait_lcores(struct gcdl_dp *dp, uint32_t launched)
{
	while (__atomic_load_n(&dp->exited, __ATOMIC_ACQUIRE) < launched) {
		if (dp->opts.stop != NULL && __atomic_load_n(dp->opts.stop, __ATOMIC_RELAXED))
			dp_set_quit(dp);
		rte_delay_us_sleep(1000);
	}
	rte_eal_mp_wait_lcore();
}

int
gcdl_dp_run(struct gcdl_dp *dp, struct gcdl_dp_result *res)
{
	uint32_t launched = 0;
	int rc = 0;

	if (dp == NULL || dp->ran)
		return -EINVAL;
	dp->ran = 1;
	for (uint32_t i = 0; i < dp->nwl && rc == 0; i++) {
		rc = rte_eal_remote_launch(gcdl_dp_worker_main, dp->wl[i], dp->wl_lcore[i]);
		launched += rc == 0;
	}
	if (rc == 0 && dp->agg_lcore != dp->main_lcore) {
		rc = rte_eal_remote_launch(gcdl_dp_agg_main, dp->agg, dp->agg_lcore);
		launched += rc == 0;
	}
	if (rc == 0) {
		rc = rte_ctrl_thread_create(&dp->ctl_thread, "gcdl-ctrl", NULL,
					    gcdl_dp_control_main, dp);
		if (rc == 0)
			dp->ctl_started = 1;
		else
			snprintf(dp->fail, sizeof(dp->fail), "cannot create the control thread: %s",
				 strerror(rc > 0 ? rc : -rc));
		rc = rc > 0 ? -rc : rc;
	} else {
		snprintf(dp->fail, sizeof(dp->fail), "cannot launch an lcore: %s", strerror(-rc));
	}
	if (rc != 0)
		dp_set_quit(dp);
	if (dp->agg_lcore == dp->main_lcore) {
		if (rc == 0)
			gcdl_dp_agg_main(dp->agg);
		else
			__atomic_fetch_add(&dp->exited, 1, __ATOMIC_RELEASE);
		launched++;
	}
	if (dp->ctl_started)
		pthread_join(dp->ctl_thread, NULL);
	wait_lcores(dp, launched);
	if (rc == 0)
		rc = dp->run_rc;
	gcdl_dp_stats_collect(dp, &dp->res);
	if (rc == 0 && !dp->res.stopped) {
		check_replicas(dp);
		if (dp->res.replicas_identical != dp->res.replicas_checked) {
			snprintf(dp->fail, sizeof(dp->fail), "%u of %u worker replicas differ from "
				 "the aggregator's model", dp->res.replicas_checked -
				 dp->res.replicas_identical, dp->res.replicas_checked);
			rc = -EPROTO;
		}
	}
	if (res != NULL)
		*res = dp->res;
	return rc;
}

void
gcdl_dp_free(struct gcdl_dp *dp)
{
	if (dp == NULL)
		return;
	gcdl_dp_telemetry_detach(dp);
	gcdl_dp_control_fini(dp);
	if (dp->agg != NULL) {
		gcdl_dp_agg_fini(dp->agg);
		rte_free(dp->agg);
	}
	for (uint32_t i = 0; i < DP_MAX_WLCORES; i++) {
		if (dp->wl[i] == NULL)
			continue;
		gcdl_dp_wlcore_fini(dp->wl[i]);
		rte_ring_free(dp->wl[i]->in);
		rte_free(dp->wl[i]);
	}
	if (dp->pairs != NULL) {
		for (uint32_t k = 0; k < dp->npairs; k++)
			gcdl_dp_pair_destroy(&dp->pairs[k]);
		rte_free(dp->pairs);
	}
	rte_ring_free(dp->ctl_in);
	rte_ring_free(dp->agg_in);
	for (unsigned s = 0; s < RTE_MAX_NUMA_NODES; s++)
		rte_mempool_free(dp->pool[s]);
	rte_free(dp->slowdown);
	gcdl_faults_fini(&dp->faults);
	if (dp->job_open)
		gcdl_job_close(&dp->job);
	rte_free(dp);
}
