/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A multi-host node: the job, every probed ethdev port, the mempool and the
 * transmit path shared by the aggregator (node_agg.c) and the worker
 * (node_worker.c) loops; the summary.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>
#include <zlib.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_pause.h>

#include "node_internal.h"
#include "../core/seterr.h"

int
gcdl_node_send(struct gcdl_node *n, uint16_t pi, const uint8_t dst[6],
	       const struct gcdl_frame_hdr *h, const void *payload)
{
	struct node_txq *q = &n->txq[pi];
	struct gcdl_frame_hdr hh = *h;
	struct rte_mbuf *m;
	ssize_t len;

	m = rte_pktmbuf_alloc(n->pool);
	if (m == NULL) {
		gcdl_node_flush(n);
		m = rte_pktmbuf_alloc(n->pool);
		if (m == NULL) {
			n->res.tx_failed++;
			return -ENOBUFS;
		}
	}
	memcpy(hh.dst, dst, 6);
	memcpy(hh.src, n->mac[pi], 6);
	len = gcdl_frame_encode(&hh, payload, rte_pktmbuf_mtod(m, uint8_t *),
				rte_pktmbuf_tailroom(m));
	if (len < 0) {
		rte_pktmbuf_free(m);
		n->res.tx_failed++;
		return (int)len;
	}
	if (n->auth != NULL)
		len = gcdl_auth_seal(n->auth, rte_pktmbuf_mtod(m, uint8_t *),
				     rte_pktmbuf_tailroom(m));
	if (len < 0) {
		rte_pktmbuf_free(m);
		n->res.tx_failed++;
		return (int)len;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	q->m[q->n++] = m;
	if (q->n == n->burst)
		gcdl_node_flush(n);
	return 0;
}

void
gcdl_node_flush(struct gcdl_node *n)
{
	for (uint16_t pi = 0; pi < n->nports; pi++) {
		struct node_txq *q = &n->txq[pi];
		uint64_t give_up = 0;
		uint16_t sent = 0;

		while (sent < q->n) {
			uint16_t s = rte_eth_tx_burst(n->port[pi], 0, q->m + sent, q->n - sent);

			for (uint16_t i = 0; i < s; i++)
				n->res.tx_bytes += q->m[sent + i]->pkt_len;
			sent += s;
			if (sent == q->n)
				break;
			/* a full ring drains quickly; a link that is down (a memif peer
			 * that died) never does */
			if (give_up == 0) {
				struct rte_eth_link lk;

				memset(&lk, 0, sizeof(lk));
				if (rte_eth_link_get_nowait(n->port[pi], &lk) == 0 && !lk.link_status)
					break;
				give_up = rte_get_tsc_cycles() + n->hz * NODE_TX_SPIN_US / 1000000;
			} else if (rte_get_tsc_cycles() > give_up) {
				break;
			}
			rte_pause();
		}
		n->res.tx_frames += sent;
		if (sent < q->n) {
			n->res.tx_failed += q->n - sent;
			rte_pktmbuf_free_bulk(q->m + sent, q->n - sent);
		}
		q->n = 0;
	}
}

uint16_t
gcdl_node_rx(struct gcdl_node *n, uint16_t pi, struct rte_mbuf **pkts)
{
	uint16_t nb = rte_eth_rx_burst(n->port[pi], 0, pkts, (uint16_t)n->burst), kept = 0;

	for (uint16_t i = 0; i < nb; i++) {
		const uint8_t *d = rte_pktmbuf_mtod(pkts[i], const uint8_t *);

		n->res.rx_frames++;
		n->res.rx_bytes += rte_pktmbuf_data_len(pkts[i]);
		/* group addresses (broadcast hellos) are for everyone */
		if (rte_pktmbuf_data_len(pkts[i]) >= 6 && !(d[0] & 1) &&
		    memcmp(d, n->mac[pi], 6) != 0) {
			n->res.not_mine++;
			rte_pktmbuf_free(pkts[i]);
			continue;
		}
		pkts[kept++] = pkts[i];
	}
	return kept;
}

int
gcdl_node_decode(struct gcdl_node *n, const struct rte_mbuf *m, struct gcdl_frame_hdr *hdr,
		 const uint8_t **pl)
{
	const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	int rc = gcdl_frame_decode(data, len, &n->lim, hdr, pl);

	if (rc == 0 && n->auth != NULL)
		rc = gcdl_auth_verify(n->auth, data, len);
	if (rc > 0)
		n->res.drops[rc]++;
	return rc < 0 ? GCDL_DROP_TRUNCATED : rc;
}

void
gcdl_node_hdr(const struct gcdl_node *n, struct gcdl_frame_hdr *h, int type, uint32_t round)
{
	memset(h, 0, sizeof(*h));
	h->type = (uint8_t)type;
	h->job_id = n->prof.job_id;
	h->round = round;
	h->sender = n->self;
}

void
gcdl_node_send_range(struct gcdl_node *n, uint16_t pi, const uint8_t dst[6], int type,
		     uint32_t round, const float *vec, uint32_t first, uint32_t count)
{
	struct gcdl_frame_hdr h;

	if (count == 0)
		return;
	gcdl_node_hdr(n, &h, type, round);
	for (uint32_t c = first / n->mc; c <= (first + count - 1) / n->mc; c++) {
		uint32_t lo = c * n->mc;
		uint32_t cnt = RTE_MIN(n->mc, n->dim - lo);

		h.chunk = c;
		h.first_coord = lo;
		h.coord_count = cnt;
		h.payload_len = (uint16_t)(4 * cnt);
		gcdl_frame_put_floats(n->payload, vec + lo, cnt);
		gcdl_node_send(n, pi, dst, &h, n->payload);
	}
}

uint64_t
gcdl_node_crc(const float *v, uint32_t count)
{
	uLong c = crc32(0L, Z_NULL, 0);
	const uint8_t *p = (const uint8_t *)v;
	size_t left = (size_t)count * sizeof(float);

	while (left > 0) {
		uInt step = left > (1u << 30) ? (1u << 30) : (uInt)left;

		c = crc32(c, p, step);
		p += step;
		left -= step;
	}
	return c;
}

static int
port_start(struct gcdl_node *n, uint16_t pi, const uint8_t *want_mac, char *err, size_t errlen)
{
	uint16_t port = n->port[pi];
	struct rte_eth_dev_info info;
	struct rte_ether_addr a;
	struct rte_eth_conf conf;
	char name[RTE_ETH_NAME_MAX_LEN] = "";
	int rc;

	rte_eth_dev_get_name_by_port(port, name);
	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_info_get(port, &info);
	if (rc == 0)
		rc = rte_eth_dev_configure(port, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(port, 0, (uint16_t)RTE_MIN(n->prof.ring_size, 4096u),
					    rte_eth_dev_socket_id(port) < 0 ? 0 :
					    (unsigned)rte_eth_dev_socket_id(port), NULL, n->pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(port, 0, (uint16_t)RTE_MIN(n->prof.ring_size, 4096u),
					    rte_eth_dev_socket_id(port) < 0 ? 0 :
					    (unsigned)rte_eth_dev_socket_id(port), NULL);
	if (rc != 0) {
		gcdl_seterr(err, errlen, "port %u (%s): cannot configure it: %s", port, name,
			    rte_strerror(-rc));
		return rc;
	}
	if (want_mac != NULL) {
		memcpy(a.addr_bytes, want_mac, 6);
		rc = rte_eth_dev_default_mac_addr_set(port, &a);
		if (rc != 0) {
			char t[18];

			gcdl_seterr(err, errlen, "port %u (%s): cannot take the profile's MAC %s: %s",
				    port, name, gcdl_mac_format(want_mac, t, sizeof(t)),
				    rte_strerror(-rc));
			return rc;
		}
	}
	rc = rte_eth_dev_start(port);
	if (rc != 0) {
		gcdl_seterr(err, errlen, "port %u (%s): cannot start it: %s", port, name,
			    rte_strerror(-rc));
		return rc;
	}
	n->started[pi] = 1;
	/* frames come to the profile's MAC, which the kernel side may not know */
	rte_eth_promiscuous_enable(port);
	rc = rte_eth_macaddr_get(port, &a);
	if (rc != 0) {
		gcdl_seterr(err, errlen, "port %u (%s): no MAC: %s", port, name, rte_strerror(-rc));
		return rc;
	}
	memcpy(n->mac[pi], a.addr_bytes, 6);
	return 0;
}

struct gcdl_node *
gcdl_node_create(const struct gcdl_profile *p, const struct gcdl_node_opts *o, char *err,
		 size_t errlen)
{
	struct gcdl_node *n;
	const uint8_t *own_mac = NULL;
	uint16_t port;
	uint32_t mbufs;
	size_t payload;
	char why[512];
	int rc;

	if (p == NULL || o == NULL) {
		gcdl_seterr(err, errlen, "node: no profile or options");
		rte_errno = EINVAL;
		return NULL;
	}
	rc = gcdl_profile_validate(p, why, sizeof(why));
	if (rc != 0) {
		gcdl_seterr(err, errlen, "%s", why);
		rte_errno = EINVAL;
		return NULL;
	}
	if (p->topology == GCDL_TOPO_MESH && o->role != GCDL_NODE_WORKER) {
		gcdl_seterr(err, errlen, "network.topology mesh has no aggregator: run every node "
			    "as --role worker --id K");
		rte_errno = EINVAL;
		return NULL;
	}
	if (o->role == GCDL_NODE_WORKER && o->id >= p->workers) {
		gcdl_seterr(err, errlen, "--id %u: this job has workers 0..%u (cluster.workers = %u)",
			    o->id, p->workers - 1, p->workers);
		rte_errno = EINVAL;
		return NULL;
	}
	if (o->role == GCDL_NODE_AGGREGATOR && o->id >= p->aggregators) {
		gcdl_seterr(err, errlen, "--id %u: this job has aggregators 0..%u "
			    "(network.aggregators = %u)", o->id, p->aggregators - 1, p->aggregators);
		rte_errno = EINVAL;
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		gcdl_seterr(err, errlen, "node: out of memory");
		rte_errno = ENOMEM;
		return NULL;
	}
	n->prof = *p;
	n->opts = *o;
	n->n = p->workers;
	n->k = p->aggregators;
	n->hz = rte_get_tsc_hz();
	n->burst = RTE_MIN(p->burst, (uint32_t)NODE_MAX_BURST);
	n->hash = gcdl_profile_hash(p);
	n->self = (uint16_t)(o->role == GCDL_NODE_WORKER ? o->id : p->workers + o->id);
	n->res.rounds_planned = p->rounds;

	if (p->aggregator_macs[0] != '\0') {
		n->agg_macs = calloc(n->k, 6);
		if (n->agg_macs == NULL)
			goto nomem;
		gcdl_mac_list_parse(p->aggregator_macs, n->agg_macs, n->k);
		if (o->role == GCDL_NODE_AGGREGATOR)
			own_mac = n->agg_macs[o->id];
	}
	if (p->worker_macs[0] != '\0') {
		n->worker_macs = calloc(n->n, 6);
		if (n->worker_macs == NULL)
			goto nomem;
		gcdl_mac_list_parse(p->worker_macs, n->worker_macs, n->n);
		if (o->role == GCDL_NODE_WORKER)
			own_mac = n->worker_macs[o->id];
	}

	openblas_set_num_threads(1);
	rc = gcdl_job_open(&n->job, p, 1, why, sizeof(why));
	if (rc != 0) {
		gcdl_seterr(err, errlen, "%s", why);
		rte_errno = -rc;
		goto fail;
	}
	n->job_open = 1;
	n->e = n->job.engine;
	if (o->resume != NULL && o->role == GCDL_NODE_AGGREGATOR) {
		rc = gcdl_checkpoint_restore(o->resume, p, n->e, why, sizeof(why));
		if (rc != 0) {
			gcdl_seterr(err, errlen, "--resume: %s", why);
			rte_errno = EINVAL;
			goto fail;
		}
		n->first_round = o->resume->round;
		n->res.stragglers = o->resume->stragglers;
	}
	n->dim = gcdl_engine_dim(n->e);
	n->chunks = gcdl_engine_chunks(n->e);
	n->chunk_coords = gcdl_engine_chunk_coords(n->e);
	n->mc = gcdl_frame_chunk_coords(GCDL_MSG_MODEL, p->mtu, 0);
	n->mchunks = (n->dim + n->mc - 1) / n->mc;
	if (n->k > n->chunks) {
		gcdl_seterr(err, errlen, "network.aggregators %u: this model has only %u uplink "
			    "chunks to share among them", n->k, n->chunks);
		rte_errno = EINVAL;
		goto fail;
	}
	payload = RTE_MAX(gcdl_engine_max_payload(n->e), 4 * (size_t)n->mc);
	payload = RTE_MAX(payload, (size_t)GCDL_CONFIG_FIXED_LEN + 4 * GCDL_JOIN_MAX_PARTS);
	n->frame_cap = RTE_MAX((size_t)GCDL_ETH_MIN_FRAME,
			       GCDL_FRAME_OVERHEAD + payload + GCDL_FRAME_TAG_LEN);
	if (p->key_file[0] != '\0') {
		char where[GCDL_PROFILE_STR + 96];

		rc = gcdl_auth_key_load(&n->auth_key, p->key_file, why, sizeof(why));
		if (rc != 0) {
			gcdl_profile_where(p, "job.key_file", where, sizeof(where));
			gcdl_seterr(err, errlen, "%s: %s: %s", where, p->key_file, why);
			rte_errno = -rc;
			goto fail;
		}
		n->auth = &n->auth_key;
	}
	n->payload = malloc(payload);
	if (n->payload == NULL)
		goto nomem;

	n->slowdown = calloc(n->n, sizeof(double));
	if (n->slowdown == NULL)
		goto nomem;
	gcdl_straggler_from_profile(&n->sm, p, n->slowdown); /* validated with the profile */

	mbufs = p->mbufs;
	n->pool = rte_pktmbuf_pool_create("gcdl_node_pool", mbufs, RTE_MIN(256u, mbufs / 2), 0,
					  /* af_packet wants room for its 2048-byte frames */
					  (uint16_t)RTE_MAX(RTE_ALIGN_CEIL(RTE_PKTMBUF_HEADROOM +
									   n->frame_cap, 64),
							    (size_t)RTE_MBUF_DEFAULT_BUF_SIZE),
					  (int)rte_socket_id());
	if (n->pool == NULL) {
		gcdl_seterr(err, errlen, "mempool of dataplane.mbufs = %u mbufs of %zu bytes: %s "
			    "(raise -m or lower dataplane.mbufs)", mbufs, n->frame_cap,
			    rte_strerror(rte_errno));
		goto fail;
	}
	RTE_ETH_FOREACH_DEV(port) {
		if (n->nports == NODE_MAX_PORTS)
			break;
		n->port[n->nports] = port;
		rc = port_start(n, n->nports, own_mac, err, errlen);
		n->nports++;
		if (rc != 0) {
			rte_errno = -rc;
			goto fail;
		}
	}
	if (n->nports == 0) {
		gcdl_seterr(err, errlen, "no ethdev port: give one with --vdev (net_memif, "
			    "net_af_packet) or a NIC");
		rte_errno = ENODEV;
		goto fail;
	}

	rc = p->topology == GCDL_TOPO_MESH ? gcdl_node_mesh_init(n, err, errlen)
	     : o->role == GCDL_NODE_AGGREGATOR ? gcdl_node_agg_init(n, err, errlen)
					       : gcdl_node_worker_init(n, err, errlen);
	if (rc != 0) {
		rte_errno = -rc;
		goto fail;
	}
	return n;
nomem:
	gcdl_seterr(err, errlen, "node: out of memory");
	rte_errno = ENOMEM;
fail:
	rc = rte_errno;
	gcdl_node_free(n);
	rte_errno = rc;
	return NULL;
}

int
gcdl_node_run(struct gcdl_node *n, struct gcdl_node_result *res)
{
	int rc;

	if (n == NULL)
		return -EINVAL;
	if (n->ran) {
		rc = -EINVAL;
	} else {
		n->ran = 1;
		rc = n->prof.topology == GCDL_TOPO_MESH ? gcdl_node_mesh_run(n)
		     : n->opts.role == GCDL_NODE_AGGREGATOR ? gcdl_node_agg_run(n)
							    : gcdl_node_worker_run(n);
		gcdl_node_flush(n);
	}
	if (res != NULL)
		*res = n->res;
	return rc;
}

void
gcdl_node_set_metrics(struct gcdl_node *n, FILE *f)
{
	if (n != NULL)
		n->opts.metrics = f;
}

const char *
gcdl_node_error(const struct gcdl_node *n)
{
	return n == NULL ? "" : n->fail;
}

const float *
gcdl_node_model(const struct gcdl_node *n, uint32_t *dim)
{
	if (n == NULL)
		return NULL;
	if (dim != NULL)
		*dim = n->dim;
	/* a mesh node's replica is its engine's model */
	return n->opts.role == GCDL_NODE_WORKER && n->mesh == NULL ? n->w
								    : gcdl_engine_model(n->e);
}

void
gcdl_node_print_placement(const struct gcdl_node *n, FILE *out)
{
	char t[18];

	if (n == NULL || out == NULL)
		return;
	fprintf(out, "gcdl: role %s %u (sender id %u), topology %s, %u aggregator(s), lcore %u, "
		"profile hash %016" PRIx64 "\n",
		n->opts.role == GCDL_NODE_WORKER ? "worker" : "aggregator", n->opts.id, n->self,
		n->prof.topology == GCDL_TOPO_SHARDED ? "sharded" :
		n->prof.topology == GCDL_TOPO_MESH ? "mesh" : "star", n->k, rte_lcore_id(),
		n->hash);
	for (uint16_t pi = 0; pi < n->nports; pi++) {
		char name[RTE_ETH_NAME_MAX_LEN] = "";

		rte_eth_dev_get_name_by_port(n->port[pi], name);
		fprintf(out, "gcdl: port %u %s MAC %s\n", n->port[pi], name,
			gcdl_mac_format(n->mac[pi], t, sizeof(t)));
	}
	fprintf(out, "gcdl: dim %u, %u uplink chunks of %u coords, %u model frames of %u coords",
		n->dim, n->chunks, n->chunk_coords, n->mchunks, n->mc);
	if (n->opts.role == GCDL_NODE_AGGREGATOR)
		fprintf(out, "; owns chunks %u..%u (coords %u..%u)", n->chunk_first,
			n->chunk_first + n->chunk_count - 1, n->coord_first,
			n->coord_first + n->coord_count - 1);
	fprintf(out, "\n");
}

void
gcdl_node_print_summary(const struct gcdl_node *n, const struct gcdl_node_result *r, FILE *out)
{
	double s = r->wall_s > 0 ? r->wall_s : 0;
	uint64_t drops = 0;

	if (n == NULL || r == NULL || out == NULL)
		return;
	for (int i = 1; i < GCDL_DROP__COUNT; i++)
		drops += r->drops[i];
	fprintf(out, "== gcdl summary ==\n");
	fprintf(out, "role: %s %u\n", n->opts.role == GCDL_NODE_WORKER ? "worker" : "aggregator",
		n->opts.id);
	fprintf(out, "rounds: %u of %u%s\n", r->rounds, r->rounds_planned,
		r->stopped ? " (stopped by signal)" : "");
	if (n->opts.role == GCDL_NODE_AGGREGATOR && n->prof.topology == GCDL_TOPO_SHARDED) {
		/* it holds a right model only in its own range */
		fprintf(out, "train_loss: n/a (sharded: the workers evaluate the whole model)\n");
		fprintf(out, "test_accuracy: n/a (sharded: the workers evaluate the whole model)\n");
		fprintf(out, "model_crc: %08" PRIx64 " (of its coordinates %u..%u)\n", r->model_crc,
			n->coord_first, n->coord_first + n->coord_count - 1);
	} else {
		fprintf(out, "train_loss: %.6f\n", r->train_loss);
		fprintf(out, "test_accuracy: %.4f\n", r->test_accuracy);
		fprintf(out, "model_crc: %08" PRIx64 "\n", r->model_crc);
	}
	if (n->opts.role == GCDL_NODE_AGGREGATOR)
		fprintf(out, "checkpoints: %u written, resumed at round %u\n", r->checkpoints,
			n->first_round);
	fprintf(out, "sent: %" PRIu64 " frames, %" PRIu64 " bytes (%" PRIu64 " not taken by "
		"the port)\n", r->tx_frames, r->tx_bytes, r->tx_failed);
	fprintf(out, "received: %" PRIu64 " frames, %" PRIu64 " bytes (%" PRIu64
		" for other MACs)\n", r->rx_frames, r->rx_bytes, r->not_mine);
	fprintf(out, "accepted: %" PRIu64 "\n", r->accepted);
	fprintf(out, "drops: %" PRIu64 "\n", drops);
	for (int i = 1; i < GCDL_DROP__COUNT; i++)
		if (r->drops[i] > 0)
			fprintf(out, "drop %s: %" PRIu64 "\n", gcdl_frame_drop_name(i), r->drops[i]);
	fprintf(out, "duplicates: %" PRIu64 "\n", r->duplicates);
	fprintf(out, "late frames: %" PRIu64 "\n", r->late);
	if (n->opts.role == GCDL_NODE_AGGREGATOR) {
		fprintf(out, "unjoined frames: %" PRIu64 "\n", r->unjoined);
		fprintf(out, "stragglers: %" PRIu64 " worker-rounds\n", r->stragglers);
		fprintf(out, "rounds closed: %u complete, %u by deadline, %u to catch up\n",
			r->closed_complete, r->closed_deadline, r->closed_catchup);
		for (uint32_t k = 0; k < r->nworkers; k++) {
			const struct gcdl_node_wstat *w = &r->wstat[k];

			fprintf(out, "worker %u: joins %u resyncs %u refused %u accepted %" PRIu64
				" accepted_since_join %" PRIu64 " late %" PRIu64 " joined_round %u "
				"last_round %u\n", k, w->joins, w->resyncs, w->refused, w->accepted,
				w->accepted_now, w->late, w->joined_round, w->last_round);
		}
	} else {
		fprintf(out, "contributed rounds: %" PRIu64 " (%" PRIu64
			" injected Bernoulli skips)\n", r->sent_rounds, r->skipped);
		fprintf(out, "configs accepted: %" PRIu64 ", resync requests %" PRIu64 "\n",
			r->joins, r->resync_requests);
	}
	gcdl_node_mesh_summary(n, out);
	fprintf(out, "time: %.3f s\n", r->wall_s);
	fprintf(out, "rounds/s: %.1f\n", s > 0 ? r->rounds / s : 0.0);
	fprintf(out, "frames/s: %.0f received, %.0f sent\n", s > 0 ? r->rx_frames / s : 0.0,
		s > 0 ? r->tx_frames / s : 0.0);
}

void
gcdl_node_free(struct gcdl_node *n)
{
	if (n == NULL)
		return;
	gcdl_node_mesh_free(n);
	for (uint16_t pi = 0; pi < n->nports; pi++) {
		if (n->txq[pi].n > 0)
			rte_pktmbuf_free_bulk(n->txq[pi].m, n->txq[pi].n);
		if (n->started[pi])
			rte_eth_dev_stop(n->port[pi]);
		rte_eth_dev_close(n->port[pi]);
	}
	rte_mempool_free(n->pool);
	if (n->job_open)
		gcdl_job_close(&n->job);
	free(n->agg_macs);
	free(n->worker_macs);
	free(n->slowdown);
	free(n->payload);
	free(n->jw);
	free(n->res.wstat);
	free(n->update);
	free(n->w);
	free(n->u);
	free(n->v);
	free(n->links);
	free(n->lgot);
	free(n);
}
