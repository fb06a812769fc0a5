/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A process's data plane: the job, the ports (made for a local cluster,
 * probed for a multi-host node), the nodes on their lcores, the run, the
 * replica check and the summary.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <numa.h>

#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_malloc.h>

#include "gcdl/mesh.h"

#include "dp_internal.h"
#include "seterr.h"

#define DP_WORKER_GRACE_S 2 /* local: workers still running this long after the
			     * aggregators finished are stopped (replicas then differ) */

static uint32_t dp_count; /* data planes this process made */

const char *
gcdl_dp_role_name(enum gcdl_dp_role role)
{
	switch (role) {
	case GCDL_DP_LOCAL:
		return "local";
	case GCDL_DP_AGGREGATOR:
		return "aggregator";
	case GCDL_DP_WORKER:
		return "worker";
	default:
		return "unknown";
	}
}

static const char *
topology_name(enum gcdl_topology t)
{
	return t == GCDL_TOPO_SHARDED ? "sharded" : t == GCDL_TOPO_MESH ? "mesh" : "star";
}

void
dp_node_conf(const struct gcdl_dp *dp, struct gcdl_node_conf *c, int reports)
{
	c->job = (struct gcdl_job *)&dp->job;
	c->auth = dp->auth;
	c->stop = dp->opts.stop;
	if (!reports)
		return;
	c->resume = dp->opts.resume;
	c->out.metrics = dp->opts.metrics;
	c->out.progress = dp->opts.progress;
	c->out.progress_tty = dp->opts.progress != NULL && isatty(fileno(dp->opts.progress));
	c->out.progress_s = dp->opts.progress_s;
	c->pcap = dp->opts.pcap;
}

/* One node of a multi-host job on every port the EAL probed. */
/* The next name of a "NAME,..." list, into name; @return 1, 0 at the end,
 * -1 for an empty or too long name. */
static int
next_name(const char **p, char name[RTE_ETH_NAME_MAX_LEN])
{
	size_t len = strcspn(*p, ",");

	if (**p == '\0')
		return 0;
	if (len == 0 || len >= RTE_ETH_NAME_MAX_LEN)
		return -1;
	memcpy(name, *p, len);
	name[len] = '\0';
	*p += (*p)[len] == ',' ? len + 1 : len;
	return 1;
}

/* Is ethdev port `port` named in dataplane.ports ("" takes every port)?
 * (ports_named() has checked the list.) */
static int
port_wanted(const char *list, uint16_t port)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	uint16_t id;

	if (list[0] == '\0')
		return 1;
	while (next_name(&list, name) > 0)
		if (rte_eth_dev_get_port_by_name(name, &id) == 0 && id == port)
			return 1;
	return 0;
}

/* Every name in dataplane.ports is a probed port: else an error listing the
 * probed ones. */
static int
ports_named(const char *list, char *err, size_t errlen)
{
	char name[RTE_ETH_NAME_MAX_LEN], probed[512] = "";
	const char *p = list;
	size_t off = 0;
	uint16_t id, port;
	int rc;

	while ((rc = next_name(&p, name)) > 0) {
		if (rte_eth_dev_get_port_by_name(name, &id) == 0)
			continue;
		RTE_ETH_FOREACH_DEV(port) {
			char pn[RTE_ETH_NAME_MAX_LEN] = "";

			rte_eth_dev_get_name_by_port(port, pn);
			off += (size_t)snprintf(probed + off, off < sizeof(probed) ? sizeof(probed) - off
						: 0, "%s%s", off ? ", " : "", pn);
			if (off >= sizeof(probed))
				break;
		}
		gcdl_seterr(err, errlen, "dataplane.ports names '%s', which the EAL did not probe "
			    "(probed: %s): give it with --vdev or -a, or fix the name", name,
			    probed[0] ? probed : "none");
		return -ENODEV;
	}
	if (rc < 0) {
		gcdl_seterr(err, errlen, "dataplane.ports '%s': an empty or too long name", list);
		return -EINVAL;
	}
	return 0;
}

static int
build_single(struct gcdl_dp *dp, char *err, size_t errlen)
{
	const struct gcdl_profile *p = &dp->prof;
	unsigned socket = rte_socket_id() < RTE_MAX_NUMA_NODES ? rte_socket_id() : 0;
	uint8_t (*macs)[6] = NULL;
	const uint8_t *own = NULL;
	struct gcdl_node_conf c;
	char name[RTE_MEMPOOL_NAMESIZE], why[512];
	static const uint8_t mesh_group[6] = GCDL_MESH_GROUP;
	uint8_t groups[2][6];
	uint32_t ngroups = 0;
	struct dp_port_conf pc;
	uint16_t port;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	if (dp->opts.role == GCDL_DP_AGGREGATOR) {
		c.role = GCDL_NODE_AGGREGATOR;
		if (p->aggregator_macs[0] != '\0' && p->topology != GCDL_TOPO_MESH) {
			macs = calloc(p->aggregators, 6);
			if (macs == NULL)
				return -ENOMEM;
			gcdl_mac_list_parse(p->aggregator_macs, macs, p->aggregators);
			if (dp->opts.id < p->aggregators)
				own = macs[dp->opts.id];
		}
	} else {
		c.role = p->topology == GCDL_TOPO_MESH ? GCDL_NODE_PEER : GCDL_NODE_WORKER;
		if (p->worker_macs[0] != '\0') {
			macs = calloc(p->workers, 6);
			if (macs == NULL)
				return -ENOMEM;
			gcdl_mac_list_parse(p->worker_macs, macs, p->workers);
			if (dp->opts.id < p->workers)
				own = macs[dp->opts.id];
		}
	}
	/* af_packet wants room for its 2048-byte frames */
	snprintf(name, sizeof(name), "gcdl%u_pool_s%u", dp->seq, socket);
	dp->pool[socket] = dp_pool_create(name, socket, p->mbufs,
					  (uint16_t)RTE_MAX((size_t)dp->data_room,
							    (size_t)RTE_MBUF_DEFAULT_BUF_SIZE));
	if (dp->pool[socket] == NULL) {
		gcdl_seterr(err, errlen, "mempool of dataplane.mbufs = %u mbufs of %zu bytes: %s "
			    "(raise -m or lower dataplane.mbufs)", p->mbufs, dp->frame_cap,
			    rte_strerror(rte_errno));
		rc = -ENOMEM;
		goto out;
	}
	rc = ports_named(p->ports, err, errlen);
	if (rc != 0)
		goto out;
	/* the multicast a node takes: the downlink's group, and a mesh's */
	gcdl_profile_downlink_group(p, groups[ngroups++]);
	if (p->topology == GCDL_TOPO_MESH)
		memcpy(groups[ngroups++], mesh_group, 6);
	pc = (struct dp_port_conf){
		.ring_size = p->ring_size, .pool = dp->pool[socket], .want_mac = own,
		.mtu = p->mtu, .groups = (const uint8_t (*)[6])groups, .ngroups = ngroups,
		.vlan = (uint16_t)p->vlan, .isolate = p->flow_isolate != 0,
	};
	RTE_ETH_FOREACH_DEV(port) {
		if (dp->nports == NODE_MAX_PORTS)
			break;
		if (!port_wanted(p->ports, port))
			continue; /* the EAL probed it; the profile gives it to nobody */
		dp->ports[dp->nports] = port;
		rc = dp_port_start(port, &pc, err, errlen);
		dp->port_started[dp->nports] = rc == 0;
		dp->nports++;
		if (rc != 0)
			goto out;
	}
	if (dp->nports == 0) {
		gcdl_seterr(err, errlen, "no ethdev port: give one with --vdev (net_memif, "
			    "net_af_packet) or a NIC%s", p->ports[0] ? " named in dataplane.ports" : "");
		rc = -ENODEV;
		goto out;
	}
	dp_node_conf(dp, &c, 1);
	c.id = dp->opts.id;
	c.pool = dp->pool[socket];
	c.nports = dp->nports;
	c.ports = dp->ports;
	c.socket = socket;
	c.inject_garbage = dp->opts.inject_garbage;
	c.inject_hostile = dp->opts.inject_hostile;
	c.grad_shm = dp->opts.grad_shm;
	dp->nodes = calloc(1, sizeof(*dp->nodes));
	if (dp->nodes == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	dp->nodes[0] = gcdl_node_create(&c, why, sizeof(why));
	if (dp->nodes[0] == NULL) {
		gcdl_seterr(err, errlen, "%s", why);
		rc = -(rte_errno ? rte_errno : EINVAL);
		goto out;
	}
	dp->nnodes = 1;
	dp->naggs = c.role == GCDL_NODE_AGGREGATOR;
	dp->ngroups = 1;
	dp->main_lcore = rte_get_main_lcore();
	dp->groups[0].dp = dp;
	dp->groups[0].lcore = dp->main_lcore;
	dp->groups[0].socket = socket;
	dp->groups[0].nodes = dp->nodes;
	dp->groups[0].count = 1;
out:
	free(macs);
	return rc;
}

/* The helper lcores of every node (an aggregator's aggregation lcores, a
 * worker's quantizing lcores): EAL lcores no group polls on, in order. */
static int
assign_helpers(struct gcdl_dp *dp, char *err, size_t errlen)
{
	unsigned free_ids[RTE_MAX_LCORE], nfree = 0, lc, eal = rte_lcore_count();
	uint32_t need = 0, used_lcores = 0;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	for (uint32_t i = 0; i < dp->nnodes; i++)
		need += gcdl_node_helper_lcores(dp->nodes[i]);
	if (need == 0)
		return 0;
	RTE_LCORE_FOREACH_WORKER(lc) {
		int taken = 0;

		for (uint32_t g = 0; g < dp->ngroups; g++)
			taken |= dp->groups[g].lcore == lc;
		if (!taken)
			free_ids[nfree++] = lc;
	}
	if (nfree < need) {
		for (uint32_t g = 0; g < dp->ngroups; g++)
			used_lcores += dp->groups[g].lcore != dp->main_lcore;
		gcdl_seterr(err, errlen, "dataplane.agg_lcores = %u and dataplane.quant_lcores = %u "
			    "need %u EAL lcores of their own (besides the main lcore and the %u that "
			    "poll nodes), the EAL has %u: pass e.g. --lcores '(0-%u)@(0-%ld)', or set "
			    "them to 1", dp->prof.agg_lcores, dp->prof.quant_lcores, need, used_lcores,
			    eal, used_lcores + need, cpus > 1 ? cpus - 1 : 0);
		return -EINVAL;
	}
	dp->helpers = calloc(need, sizeof(*dp->helpers));
	if (dp->helpers == NULL) {
		gcdl_seterr(err, errlen, "aggregation lcores: out of memory");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < dp->nnodes; i++) {
		for (uint32_t j = 0; j < gcdl_node_helper_lcores(dp->nodes[i]); j++) {
			struct dp_helper *a = &dp->helpers[dp->nhelpers];

			a->dp = dp;
			a->node = dp->nodes[i];
			a->part = j;
			a->lcore = free_ids[dp->nhelpers++];
		}
	}
	return 0;
}

static int
check_opts(const struct gcdl_profile *p, const struct gcdl_dp_opts *o, char *err, size_t errlen)
{
	if (o->role == GCDL_DP_LOCAL)
		return 0;
	if (o->role == GCDL_DP_WORKER && o->id >= p->workers) {
		gcdl_seterr(err, errlen, "--id %u: this job has workers 0..%u (cluster.workers = %u)",
			    o->id, p->workers - 1, p->workers);
		return -EINVAL;
	}
	if (o->role == GCDL_DP_AGGREGATOR && p->topology != GCDL_TOPO_MESH &&
	    o->id >= p->aggregators) {
		gcdl_seterr(err, errlen, "--id %u: this job has aggregators 0..%u "
			    "(network.aggregators = %u)", o->id, p->aggregators - 1, p->aggregators);
		return -EINVAL;
	}
	if (o->role == GCDL_DP_AGGREGATOR && p->topology == GCDL_TOPO_MESH) {
		gcdl_seterr(err, errlen, "network.topology mesh has no aggregator: run every node "
			    "as --role worker --id K");
		return -EINVAL;
	}
	if (o->metrics != NULL && o->role == GCDL_DP_WORKER && p->topology != GCDL_TOPO_MESH) {
		gcdl_seterr(err, errlen, "--metrics is written by the aggregator, not a worker");
		return -EINVAL;
	}
	if (o->resume != NULL && o->role == GCDL_DP_WORKER && p->topology != GCDL_TOPO_MESH) {
		gcdl_seterr(err, errlen, "--resume is for the aggregator: a worker rejoins and "
			    "takes the restarted aggregator's round and model");
		return -EINVAL;
	}
	if (p->key_file[0] == '\0' && !p->insecure) {
		char where[GCDL_PROFILE_STR + 96];

		gcdl_profile_where(p, "job.key_file", where, sizeof(where));
		gcdl_seterr(err, errlen, "%s: the multi-host roles need a job key, or anyone on the "
			    "segment can change the model: make one with 'gcdl --gen-key FILE', copy "
			    "it to every node and set job.key_file = FILE (or set job.insecure = true "
			    "to run without, on a segment you trust)", where);
		return -EPERM;
	}
	return 0;
}

struct gcdl_dp *
gcdl_dp_create(const struct gcdl_profile *p, const struct gcdl_dp_opts *o, char *err,
	       size_t errlen)
{
	struct gcdl_dp *dp;
	int rc;

	if (p == NULL || o == NULL) {
		gcdl_seterr(err, errlen, "data plane: no profile or options");
		rte_errno = EINVAL;
		return NULL;
	}
	if (gcdl_profile_validate(p, err, errlen) != 0) {
		rte_errno = EINVAL;
		return NULL;
	}
	rc = check_opts(p, o, err, errlen);
	if (rc != 0) {
		rte_errno = -rc;
		return NULL;
	}
	dp = rte_zmalloc("gcdl_dp", sizeof(*dp), RTE_CACHE_LINE_SIZE);
	if (dp == NULL) {
		gcdl_seterr(err, errlen, "data plane: out of memory (raise -m)");
		rte_errno = ENOMEM;
		return NULL;
	}
	dp->seq = __atomic_fetch_add(&dp_count, 1, __ATOMIC_RELAXED);
	dp->prof = *p;
	dp->opts = *o;
	if (dp->opts.progress_s <= 0)
		dp->opts.progress_s = 1.0;
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
	} else if (o->inject_hostile > 0) {
		gcdl_seterr(err, errlen, "--inject-hostile needs a job key (job.key_file)");
		rc = -EINVAL;
		goto fail;
	}
	rc = gcdl_job_open(&dp->job, p, 1, err, errlen);
	if (rc != 0)
		goto fail;
	dp->job_open = 1;
	if (p->topology != GCDL_TOPO_MESH && p->aggregators > gcdl_engine_chunks(dp->job.engine)) {
		gcdl_seterr(err, errlen, "network.aggregators %u: this model has only %u uplink "
			    "chunks to share among them (lower coding.mtu for more)", p->aggregators,
			    gcdl_engine_chunks(dp->job.engine));
		rc = -EINVAL;
		goto fail;
	}
	dp->frame_cap = node_frame_cap(&dp->job);
	/* a PMD that receives into a ring of its own first needs more: af_packet's
	 * ring frames (framesz) hold a 66-byte header before the packet, and its
	 * mbufs must hold framesz - 32; with framesz = the largest frame + 66
	 * rounded up to 1 KiB (2048 at MTU 1500, its default; 9216 at 9000:
	 * docs/MULTIHOST.md) */
	if (o->role == GCDL_DP_LOCAL)
		dp->data_room = (uint16_t)RTE_ALIGN_CEIL(RTE_PKTMBUF_HEADROOM + dp->frame_cap, 64);
	else
		dp->data_room = (uint16_t)(RTE_PKTMBUF_HEADROOM +
					   RTE_ALIGN_CEIL(dp->frame_cap + DP_AF_PACKET_HDR, 1024));
	rc = o->role == GCDL_DP_LOCAL ? dp_local_build(dp, err, errlen)
				      : build_single(dp, err, errlen);
	if (rc == 0)
		rc = assign_helpers(dp, err, errlen);
	if (rc != 0)
		goto fail;
	/* telemetry is an observer: without it the run goes on */
	rc = dp_telemetry_attach(dp);
	if (rc != 0)
		NODE_LOG(dataplane, WARNING, "telemetry: /gcdl/ commands unavailable: %s",
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
	if (dp == NULL || out == NULL)
		return;
	fprintf(out, "placement (role %s, topology %s, %u node(s)):\n",
		gcdl_dp_role_name(dp->opts.role), topology_name(dp->prof.topology), dp->nnodes);
	for (uint32_t g = 0; g < dp->ngroups; g++) {
		const struct dp_group *gr = &dp->groups[g];

		fprintf(out, " lcore %u%s, socket %u: %u node(s)\n", gr->lcore,
			gr->lcore == dp->main_lcore ? " (main)" : "", gr->socket, gr->count);
		for (uint32_t i = 0; i < gr->count; i++)
			gcdl_node_print_placement(gr->nodes[i], out);
	}
	for (unsigned s = 0; s < RTE_MAX_NUMA_NODES; s++)
		if (dp->pool[s] != NULL)
			fprintf(out, " mempool %s: socket %d, %u mbufs, data room %u bytes\n",
				dp->pool[s]->name, dp->pool[s]->socket_id, dp->pool[s]->size,
				dp->data_room);
	fprintf(out, " job: N=%u workers, dim %u, %u uplink chunk(s) of %u coords, burst %u; "
		"each node's engine (replica, accumulators) on its lcore's socket%s\n",
		dp->prof.workers, gcdl_engine_dim(dp->job.engine),
		gcdl_engine_chunks(dp->job.engine), gcdl_engine_chunk_coords(dp->job.engine),
		dp->prof.burst, numa_available() >= 0 ? " (libnuma)" : " (no NUMA support)");
}

static int
group_main(void *arg)
{
	struct dp_group *g = arg;

	g->rc = gcdl_node_run(g->nodes, g->count, &g->dp->quit);
	if (g->rc != 0)
		__atomic_store_n(&g->dp->quit, 1, __ATOMIC_RELEASE);
	return g->rc;
}

static int
helper_main(void *arg)
{
	struct dp_helper *a = arg;

	a->rc = gcdl_node_helper_run(a->node, a->part, &a->dp->quit);
	return a->rc;
}

/* The first failing node's message. */
static int
first_failure(struct gcdl_dp *dp)
{
	for (uint32_t i = 0; i < dp->nnodes; i++) {
		const char *why = gcdl_node_error(dp->nodes[i]);

		if (why[0] != '\0') {
			if (dp->nnodes > 1)
				snprintf(dp->fail, sizeof(dp->fail), "%s %u: %s",
					 dp->nodes[i]->conf.role == GCDL_NODE_AGGREGATOR ? "aggregator"
					 : dp->nodes[i]->conf.role == GCDL_NODE_PEER ? "peer"
					 : "worker", dp->nodes[i]->conf.id, why);
			else
				snprintf(dp->fail, sizeof(dp->fail), "%s", why);
			return dp->nodes[i]->rc;
		}
	}
	return 0;
}

/* Local: wait for the lcores without spinning (rte_eal_wait_lcore busy-polls,
 * which would take a core from the lcores on a small machine). Workers still
 * running long after the aggregators finished are stopped. */
static void
wait_groups(struct gcdl_dp *dp)
{
	uint64_t aggs_done = 0;

	for (;;) {
		int running = 0;

		for (uint32_t g = 0; g < dp->ngroups; g++)
			if (dp->groups[g].lcore != dp->main_lcore &&
			    rte_eal_get_lcore_state(dp->groups[g].lcore) == RUNNING)
				running++;
		if (running == 0)
			break;
		if (aggs_done == 0 && dp->naggs > 0) {
			int all = 1;

			for (uint32_t i = 0; i < dp->naggs; i++)
				all &= gcdl_node_done(dp->nodes[i]);
			if (all)
				aggs_done = rte_rdtsc();
		}
		if (aggs_done != 0 && rte_rdtsc() - aggs_done > DP_WORKER_GRACE_S * dp->hz)
			__atomic_store_n(&dp->quit, 1, __ATOMIC_RELEASE);
		rte_delay_us_sleep(1000);
	}
	rte_eal_mp_wait_lcore();
}

int
gcdl_dp_run(struct gcdl_dp *dp)
{
	struct dp_group *on_main = NULL;
	int rc = 0;

	if (dp == NULL || dp->ran)
		return -EINVAL;
	dp->ran = 1;
	for (uint32_t i = 0; i < dp->nhelpers; i++) {
		rc = rte_eal_remote_launch(helper_main, &dp->helpers[i], dp->helpers[i].lcore);
		if (rc != 0) {
			snprintf(dp->fail, sizeof(dp->fail), "cannot launch helper lcore %u: %s",
				 dp->helpers[i].lcore, strerror(-rc));
			__atomic_store_n(&dp->quit, 1, __ATOMIC_RELEASE);
			break;
		}
	}
	for (uint32_t g = 0; rc == 0 && g < dp->ngroups; g++) {
		struct dp_group *gr = &dp->groups[g];

		if (gr->lcore == dp->main_lcore) {
			on_main = gr;
			continue;
		}
		rc = rte_eal_remote_launch(group_main, gr, gr->lcore);
		if (rc != 0) {
			snprintf(dp->fail, sizeof(dp->fail), "cannot launch lcore %u: %s", gr->lcore,
				 strerror(-rc));
			__atomic_store_n(&dp->quit, 1, __ATOMIC_RELEASE);
			break;
		}
	}
	if (rc == 0 && on_main != NULL)
		group_main(on_main);
	if (dp->ngroups > 1 || on_main == NULL || dp->nhelpers > 0)
		wait_groups(dp);
	if (rc == 0)
		rc = first_failure(dp);
	if (rc == 0) {
		for (uint32_t g = 0; g < dp->ngroups && rc == 0; g++)
			rc = dp->groups[g].rc;
	}
	if (rc == 0 && dp->opts.role == GCDL_DP_LOCAL) {
		int stopped = 0;

		for (uint32_t i = 0; i < dp->nnodes; i++)
			stopped |= dp->nodes[i]->stopped;
		if (!stopped) {
			dp_local_check_replicas(dp);
			if (dp->replicas_identical != dp->replicas_checked) {
				snprintf(dp->fail, sizeof(dp->fail), "%u of %u replicas differ from the "
					 "model they must equal", dp->replicas_checked -
					 dp->replicas_identical, dp->replicas_checked);
				rc = -EPROTO;
			}
		}
	}
	return rc;
}

/* Local sharded: the aggregators' ranges put together, evaluated. */
static void
assemble(struct gcdl_dp *dp, struct gcdl_summary *s)
{
	uint32_t dim = gcdl_engine_dim(dp->job.engine);

	if (dp->model == NULL)
		dp->model = malloc(sizeof(float) * dim);
	if (dp->model == NULL)
		return;
	for (uint32_t a = 0; a < dp->naggs; a++) {
		uint32_t first, count;
		const float *w = gcdl_node_model(dp->nodes[a], NULL, &first, &count);

		memcpy(dp->model + first, w + first, sizeof(float) * count);
	}
	if (gcdl_engine_eval(dp->job.engine, dp->model, &dp->job.train, &s->train_loss, NULL) == 0 &&
	    gcdl_engine_eval(dp->job.engine, dp->model, &dp->job.test, NULL, &s->test_accuracy) == 0)
		s->evaluated = 1;
	s->model_crc = gcdl_crc32_floats(dp->model, dim);
	s->have_crc = 1;
}

/* The process's threads and their CPU time (user + system) from
 * /proc/self/task/TID/stat, and the whole process's from getrusage(): what a
 * run costs, every thread of it (lcores, the main thread, the EAL's). */
static void
threads_cpu(struct gcdl_summary *s)
{
	double tick = (double)sysconf(_SC_CLK_TCK);
	struct rusage ru;
	struct dirent *de;
	DIR *d;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		s->cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
			   (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	d = opendir("/proc/self/task");
	if (d == NULL || tick <= 0) {
		if (d != NULL)
			closedir(d);
		return;
	}
	while ((de = readdir(d)) != NULL && s->nthreads < GCDL_SUMMARY_MAX_THREADS) {
		struct gcdl_thread_summary *t = &s->threads[s->nthreads];
		char path[300], buf[512], *open, *close;
		unsigned long long ut = 0, st = 0;
		FILE *f;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", de->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) == NULL) {
			fclose(f);
			continue;
		}
		fclose(f);
		/* tid (comm) state ppid ... utime(14) stime(15): comm may hold spaces */
		open = strchr(buf, '(');
		close = strrchr(buf, ')');
		if (open == NULL || close == NULL || close < open ||
		    sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			   &ut, &st) != 2)
			continue;
		t->tid = atoi(de->d_name);
		snprintf(t->name, sizeof(t->name), "%.*s", (int)(close - open - 1), open + 1);
		t->cpu_s = (double)(ut + st) / tick;
		s->nthreads++;
	}
	closedir(d);
}

void
gcdl_dp_summary(struct gcdl_dp *dp, struct gcdl_summary *s)
{
	const struct gcdl_node_summary *ref;

	memset(s, 0, sizeof(*s));
	if (dp == NULL)
		return;
	s->program = "gcdl";
	snprintf(s->role, sizeof(s->role), "%s", gcdl_dp_role_name(dp->opts.role));
	s->id = dp->opts.id;
	s->topology = topology_name(dp->prof.topology);
	s->method = gcdl_method_name(dp->prof.method);
	s->profile = dp->prof.source;
	s->workers = dp->prof.workers;
	s->aggregators = dp->prof.topology == GCDL_TOPO_MESH ? 0 : dp->prof.aggregators;
	s->rounds_planned = dp->prof.rounds;
	s->error = dp->fail;
	if (dp->ns == NULL && dp->nnodes > 0) {
		dp->ns = calloc(dp->nnodes, sizeof(*dp->ns));
		if (dp->ns == NULL)
			return;
		for (uint32_t i = 0; i < dp->nnodes; i++)
			gcdl_node_summary(dp->nodes[i], &dp->ns[i]);
	}
	s->nnodes = dp->nnodes;
	s->nodes = dp->ns;
	gcdl_summary_total(s);
	threads_cpu(s);
	if (dp->nnodes == 0)
		return;
	/* the node that owns the run: aggregator 0, peer 0, or this node */
	ref = &dp->ns[0];
	s->rounds = ref->rounds;
	s->first_round = dp->nodes[0]->re.first_round;
	for (uint32_t i = 0; i < dp->nnodes; i++)
		s->stopped |= dp->nodes[i]->stopped;
	s->replicas_checked = dp->replicas_checked;
	s->replicas_identical = dp->replicas_identical;
	gcdl_summary_assess(s);
	if (dp->opts.role == GCDL_DP_LOCAL && dp->prof.topology == GCDL_TOPO_SHARDED) {
		assemble(dp, s);
		return;
	}
	s->evaluated = ref->evaluated;
	s->train_loss = ref->train_loss;
	s->test_accuracy = ref->test_accuracy;
	s->model_crc = ref->model_crc;
	s->have_crc = 1;
}

const float *
gcdl_dp_model(struct gcdl_dp *dp, uint32_t *dim)
{
	if (dp == NULL || dp->nnodes == 0)
		return NULL;
	if (dp->opts.role == GCDL_DP_LOCAL && dp->prof.topology == GCDL_TOPO_SHARDED) {
		struct gcdl_summary s;

		gcdl_dp_summary(dp, &s);
		*dim = gcdl_engine_dim(dp->job.engine);
		return dp->model;
	}
	return gcdl_node_model(dp->nodes[0], dim, NULL, NULL);
}

void
gcdl_dp_free(struct gcdl_dp *dp)
{
	if (dp == NULL)
		return;
	dp_telemetry_detach(dp);
	if (dp->ns != NULL) {
		for (uint32_t i = 0; i < dp->nnodes; i++)
			gcdl_node_summary_free(&dp->ns[i]);
		free(dp->ns);
	}
	for (uint32_t g = 0; g < dp->ngroups; g++)
		if (dp->groups[g].nodes != dp->nodes)
			free(dp->groups[g].nodes);
	if (dp->nodes != NULL) {
		for (uint32_t i = 0; i < dp->nnodes; i++)
			gcdl_node_free(dp->nodes[i]);
		free(dp->nodes);
		free(dp->helpers);
	}
	if (dp->links != NULL) {
		for (uint32_t i = 0; i < dp->nlinks; i++)
			dp_link_destroy(&dp->links[i]);
		rte_free(dp->links);
	}
	for (uint16_t i = 0; i < dp->nports; i++) {
		if (dp->port_started[i])
			rte_eth_dev_stop(dp->ports[i]);
		rte_eth_dev_close(dp->ports[i]);
	}
	for (unsigned s = 0; s < RTE_MAX_NUMA_NODES; s++)
		rte_mempool_free(dp->pool[s]);
	free(dp->model);
	if (dp->job_open)
		gcdl_job_close(&dp->job);
	rte_free(dp);
}
