/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker node k, one loop on the main lcore. It keeps one link per
 * aggregator (struct gcdl_link): hello until a config comes, then the
 * aggregator's range of the model, then that range's updates round by
 * round. Round R is computed when every link's range is at R (ranges of a
 * sharded job may be at different rounds just after a join: the worker then
 * waits for the laggard's update and contributes from the next round).
 * Each chunk goes to its owner (gcdl_shard_owner). A missed update, or
 * nothing from a link for a while, makes the worker ask for a resync; the
 * answer is a config and the model, as for a join.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_random.h>

#include "gcdl/layout.h"

#include "node_internal.h"
#include "dp_internal.h"
#include "../core/seterr.h"

int
gcdl_node_worker_init(struct gcdl_node *n, char *err, size_t errlen)
{
	const uint32_t *parts;
	uint32_t nparts;

	n->w = calloc(n->dim, sizeof(float));
	n->u = calloc(n->dim, sizeof(float));
	n->v = calloc(n->dim, sizeof(float));
	n->links = calloc(n->k, sizeof(*n->links));
	n->lgot = calloc((size_t)n->k * n->mchunks, 1);
	if (n->w == NULL || n->u == NULL || n->v == NULL || n->links == NULL || n->lgot == NULL) {
		gcdl_seterr(err, errlen, "worker: out of memory");
		return -ENOMEM;
	}
	memcpy(n->w, gcdl_engine_model(n->e), sizeof(float) * n->dim);
	/* tells a restarted process from a retried hello */
	n->incarnation = (uint32_t)rte_rand() | 1;
	n->lim.job_id = n->prof.job_id;
	n->lim.senders = n->n + n->k;
	n->lim.dim = n->dim;
	n->lim.round_min = 0;
	n->lim.round_max = n->prof.rounds;
	n->lim.chunk_coords[GCDL_MSG_CONFIG] = 1;
	n->lim.chunk_coords[GCDL_MSG_MODEL] = n->mc;
	n->lim.chunk_coords[GCDL_MSG_UPDATE] = n->mc;
	if (gcdl_layout_worker_partitions(gcdl_engine_layout(n->e), n->opts.id, &parts,
					  &nparts) == 0) {
		n->nparts = RTE_MIN(nparts, (uint32_t)GCDL_JOIN_MAX_PARTS);
		memcpy(n->parts, parts, sizeof(uint32_t) * n->nparts);
	}
	for (uint32_t a = 0; a < n->k; a++) {
		n->links[a].state = GCDL_LINK_HELLO;
		n->links[a].round = GCDL_JOIN_NONE;
		if (n->agg_macs != NULL) {
			memcpy(n->links[a].mac, n->agg_macs[a], 6);
			n->links[a].have_mac = 1;
			n->links[a].port = 0; /* refined by its config */
		}
	}
	return 0;
}

static const uint8_t BROADCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* A hello (first join) or resync (after a config) to aggregator a. */
static void
send_hello_round(struct gcdl_node *n, uint32_t a, int resync, uint32_t round)
{
	struct gcdl_link *l = &n->links[a];
	struct gcdl_hello h = { .version = GCDL_JOIN_VERSION, .worker = n->opts.id,
				.profile_hash = n->hash, .incarnation = n->incarnation,
				.round = round };
	struct gcdl_frame_hdr fh;
	int len = gcdl_hello_encode(&h, n->payload, GCDL_HELLO_LEN);

	gcdl_node_hdr(n, &fh, resync ? GCDL_MSG_RESYNC : GCDL_MSG_HELLO, 0);
	fh.payload_len = (uint16_t)len;
	if (resync)
		n->res.resync_requests++;
	/* before its config, the aggregator may sit behind any port */
	for (uint16_t pi = 0; pi < n->nports; pi++) {
		if (l->have_mac && l->state != GCDL_LINK_HELLO && pi != l->port)
			continue;
		gcdl_node_send(n, pi, l->have_mac ? l->mac : BROADCAST, &fh, n->payload);
	}
	gcdl_node_flush(n);
}

static void
send_hello(struct gcdl_node *n, uint32_t a, int resync)
{
	send_hello_round(n, a, resync, n->links[a].round);
}

static int
on_config(struct gcdl_node *n, uint16_t pi, const struct gcdl_frame_hdr *hdr, const uint8_t *pl,
	  uint64_t now)
{
	uint32_t a = hdr->sender - n->n, first, count;
	struct gcdl_link *l = &n->links[a];
	struct gcdl_config c;
	char mac[18];

	if (gcdl_config_decode(pl, hdr->payload_len, &c) != 0) {
		n->res.drops[GCDL_DROP_PAYLOAD]++;
		return 0;
	}
	if (c.worker != n->opts.id || c.incarnation != n->incarnation) {
		n->res.late++; /* an answer to another process or an earlier one */
		return 0;
	}
	gcdl_mac_format(hdr->src, mac, sizeof(mac));
	if (c.status != GCDL_JOIN_ACCEPTED) {
		l->state = GCDL_LINK_REFUSED;
		if (c.status == GCDL_JOIN_REFUSED_PROFILE)
			snprintf(n->fail, sizeof(n->fail), "aggregator %u (%s) refused worker %u: "
				 "this worker's profile hash %016" PRIx64 " differs from the "
				 "aggregator's %016" PRIx64 ": every node must run the same profile "
				 "(keys outside [dataplane])", a, mac, n->opts.id, n->hash,
				 c.profile_hash);
		else if (c.status == GCDL_JOIN_REFUSED_VERSION)
			snprintf(n->fail, sizeof(n->fail), "aggregator %u (%s) refused worker %u: "
				 "join protocol version %u is not the aggregator's", a, mac,
				 n->opts.id, GCDL_JOIN_VERSION);
		else
			snprintf(n->fail, sizeof(n->fail), "aggregator %u (%s) refused worker %u: "
				 "no such worker id in its job", a, mac, n->opts.id);
		return -EPERM;
	}
	/* only a link that asked: a hello for another aggregator, or a retried
	 * one, may be answered by this aggregator too */
	if (l->state != GCDL_LINK_HELLO) {
		n->res.late++;
		return 0;
	}
	gcdl_shard_chunks(n->chunks, n->k, a, &first, &count);
	if (c.dim != n->dim || c.chunks != n->chunks || c.chunk_coords != n->chunk_coords ||
	    c.model_coords != n->mc || c.aggregators != n->k || c.aggregator != a ||
	    c.chunk_first != first || c.chunk_count != count || c.rounds != n->prof.rounds ||
	    c.nparts != n->nparts || memcmp(c.parts, n->parts, 4 * (size_t)c.nparts) != 0) {
		snprintf(n->fail, sizeof(n->fail), "aggregator %u (%s) sent worker %u a shard "
			 "assignment that disagrees with this worker's profile (dim %u/%u, chunks "
			 "%u/%u, aggregators %u/%u, partitions %u/%u)", a, mac, n->opts.id, c.dim,
			 n->dim, c.chunks, n->chunks, c.aggregators, n->k, c.nparts, n->nparts);
		return -EPROTO;
	}
	gcdl_link_on_config(l, &c);
	memcpy(l->mac, hdr->src, 6);
	l->port = pi;
	l->have_mac = 1;
	l->last_rx_us = now;
	memset(n->lgot + (size_t)a * n->mchunks, 0, n->mchunks);
	n->res.joins++;
	return 0;
}

/* A model or update frame from aggregator a. */
static void
on_values(struct gcdl_node *n, const struct gcdl_frame_hdr *hdr, const uint8_t *pl, uint64_t now)
{
	uint32_t a = hdr->sender - n->n, lo, cnt;
	struct gcdl_link *l = &n->links[a];
	uint8_t *got = n->lgot + (size_t)a * n->mchunks;
	int model = hdr->type == GCDL_MSG_MODEL;

	if ((model && l->state != GCDL_LINK_MODEL) || (!model && l->state != GCDL_LINK_READY) ||
	    hdr->round < l->round) {
		n->res.late++;
		return;
	}
	if (hdr->round > l->round) {
		/* an update of a later round: this range missed one */
		if (!model) {
			l->state = GCDL_LINK_HELLO;
			l->next_hello_us = now;
		}
		n->res.late++;
		return;
	}
	gcdl_link_clip(l, hdr->first_coord, hdr->coord_count, &lo, &cnt);
	if (cnt == 0) {
		n->res.drops[GCDL_DROP_OFFSET]++;
		return;
	}
	if (got[hdr->chunk]) {
		n->res.duplicates++;
		return;
	}
	got[hdr->chunk] = 1;
	l->last_rx_us = now;
	n->res.accepted++;
	gcdl_frame_get_floats((model ? n->w : n->u) + lo, pl + 4 * (lo - hdr->first_coord), cnt);
	if (++l->got < l->frames)
		return;
	l->got = 0;
	memset(got, 0, n->mchunks);
	if (model) {
		l->state = GCDL_LINK_READY;
	} else {
		gcdl_engine_apply_update(n->w + l->coord_first, n->u + l->coord_first,
					 l->coord_count);
		l->round++;
	}
}

static int
poll_ports(struct gcdl_node *n, uint64_t now, uint32_t *work)
{
	struct rte_mbuf *pkts[NODE_MAX_BURST];
	int rc = 0;

	for (uint16_t pi = 0; pi < n->nports; pi++) {
		uint16_t nb = gcdl_node_rx(n, pi, pkts);

		for (uint16_t i = 0; i < nb && rc == 0; i++) {
			struct gcdl_frame_hdr hdr;
			const uint8_t *pl;
			if (gcdl_node_decode(n, pkts[i], &hdr, &pl) != 0)
				continue;
			if (hdr.sender < n->n) {
				n->res.drops[GCDL_DROP_SENDER]++; /* workers do not talk to workers */
				continue;
			}
			if (hdr.type == GCDL_MSG_CONFIG)
				rc = on_config(n, pi, &hdr, pl, now);
			else
				on_values(n, &hdr, pl, now);
		}
		if (nb > 0)
			rte_pktmbuf_free_bulk(pkts, nb);
		*work += nb;
	}
	return rc;
}

/* Send every chunk of v (round R) to its owner. */
static int
send_gradient(struct gcdl_node *n, uint32_t round)
{
	struct gcdl_frame_hdr h;

	gcdl_node_hdr(n, &h, gcdl_engine_msg_type(n->e), round);
	h.scale_block = h.type == GCDL_MSG_ONEBIT ? (uint16_t)n->prof.scale_block : 0;
	for (uint32_t c = 0; c < n->chunks; c++) {
		const struct gcdl_link *l = &n->links[gcdl_shard_owner(n->chunks, n->k, c)];
		uint32_t count = 0;
		int len = gcdl_engine_encode_chunk(n->e, n->opts.id, round, c, n->v, n->payload,
						   n->frame_cap - GCDL_FRAME_OVERHEAD, &count);

		if (len < 0)
			return len;
		h.chunk = c;
		h.first_coord = c * n->chunk_coords;
		h.coord_count = count;
		h.payload_len = (uint16_t)len;
		gcdl_node_send(n, l->port, l->mac, &h, n->payload);
	}
	gcdl_node_flush(n);
	n->res.sent_rounds++;
	return 0;
}

int
gcdl_node_worker_run(struct gcdl_node *n)
{
	const struct gcdl_profile *p = &n->prof;
	struct dp_idle idle = { 0 };
	uint64_t t0 = node_us(n), due = 0, resync_us, skew_us, skew_since = 0;
	uint32_t next = 0, pending = GCDL_JOIN_NONE;
	double dl = p->deadline_mode == GCDL_DEADLINE_FIXED ? p->deadline_us : p->deadline_max_us;
	int rc = 0;

	/* no update for this long while one is awaited: ask again */
	resync_us = (uint64_t)fmax(1e6, 20 * dl);
	skew_us = (uint64_t)fmax(50e3, 2 * dl);
	for (uint32_t a = 0; a < n->k; a++)
		n->links[a].last_rx_us = t0;
	for (;;) {
		uint64_t now = node_us(n);
		uint32_t work = 0, ready = 0, lo = UINT32_MAX, hi = 0;

		if (node_stop(n)) {
			n->res.stopped = 1;
			break;
		}
		for (uint32_t a = 0; a < n->k; a++) {
			struct gcdl_link *l = &n->links[a];

			if (now - l->last_rx_us > (uint64_t)p->idle_timeout_ms * 1000) {
				char links[128] = "";
				size_t off = 0;

				for (uint16_t pi = 0; pi < n->nports && off < sizeof(links); pi++) {
					struct rte_eth_link lk;

					memset(&lk, 0, sizeof(lk));
					rte_eth_link_get_nowait(n->port[pi], &lk);
					off += (size_t)snprintf(links + off, sizeof(links) - off, " %u:%s",
								n->port[pi], lk.link_status ? "up" : "down");
				}
				snprintf(n->fail, sizeof(n->fail), "no frame from aggregator %u for "
					 "network.idle_timeout_ms = %u ms (round %u, link state %s, "
					 "%s): is it running, with the same job id, on a reachable "
					 "port? (ports:%s)", a, p->idle_timeout_ms,
					 l->round == GCDL_JOIN_NONE ? 0 : l->round,
					 l->state == GCDL_LINK_HELLO ? "hello" : l->state ==
					 GCDL_LINK_MODEL ? "model" : "ready",
					 l->have_mac ? "address known" : "address unknown", links);
				return -ETIMEDOUT;
			}
			/* a link that waits too long for its model or update resyncs */
			if (l->state != GCDL_LINK_HELLO && now - l->last_rx_us > resync_us &&
			    (l->state == GCDL_LINK_MODEL || next > l->round) &&
			    l->round < p->rounds) {
				l->state = GCDL_LINK_HELLO;
				l->next_hello_us = now;
			}
			if (l->state == GCDL_LINK_HELLO && now >= l->next_hello_us) {
				send_hello(n, a, l->round != GCDL_JOIN_NONE);
				l->next_hello_us = now + NODE_HELLO_US;
				work++;
			}
		}
		rc = poll_ports(n, now, &work);
		if (rc != 0)
			break;
		for (uint32_t a = 0; a < n->k; a++) {
			const struct gcdl_link *l = &n->links[a];

			if (l->state == GCDL_LINK_READY) {
				ready++;
				lo = RTE_MIN(lo, l->round);
				hi = RTE_MAX(hi, l->round);
			}
		}
		/* sharded: ranges at different rounds for a while: the aggregators
		 * behind close their rounds up to the latest one */
		if (ready == n->k && lo < hi) {
			if (skew_since == 0) {
				skew_since = now;
			} else if (now - skew_since > skew_us) {
				for (uint32_t a = 0; a < n->k; a++) {
					struct gcdl_link *l = &n->links[a];

					if (l->round < hi && now >= l->next_hello_us) {
						send_hello_round(n, a, 1, hi);
						l->next_hello_us = now + NODE_HELLO_US;
						work++;
					}
				}
			}
		} else {
			skew_since = 0;
		}
		if (ready == n->k && lo == hi) {
			if (lo >= p->rounds)
				break; /* the last update is in */
			if (lo >= next && pending == GCDL_JOIN_NONE) {
				next = lo + 1;
				if (n->sm.kind == GCDL_STRAGGLER_BERNOULLI &&
				    gcdl_straggler_is(&n->sm, p->seed, lo, n->opts.id, p->deadline_us)) {
					n->res.skipped++;
				} else {
					rc = gcdl_engine_worker_gradient(n->e, 0, n->opts.id, lo, n->w,
									 n->v);
					if (rc != 0) {
						snprintf(n->fail, sizeof(n->fail), "gradient of round %u: "
							 "%s", lo, strerror(-rc));
						break;
					}
					pending = lo;
					due = now;
					if (n->sm.kind == GCDL_STRAGGLER_TIMING)
						due += (uint64_t)(gcdl_straggler_compute_us(
							&n->sm, p->seed, lo, n->opts.id) * p->time_scale);
				}
				work++;
			}
		}
		if (pending != GCDL_JOIN_NONE && node_us(n) >= due) {
			rc = send_gradient(n, pending);
			if (rc != 0) {
				snprintf(n->fail, sizeof(n->fail), "encoding round %u: %s%s", pending,
					 strerror(-rc), rc == -EDOM ? " (non-finite gradient: the "
					 "model diverged, lower optim.lr)" : "");
				break;
			}
			pending = GCDL_JOIN_NONE;
			work++;
		}
		if (work) {
			dp_idle_reset(&idle);
		} else {
			uint64_t max_us = DP_IDLE_SLEEP_US;

			if (pending != GCDL_JOIN_NONE && due > now && due - now < max_us)
				max_us = due - now;
			dp_idle_wait(&idle, max_us);
		}
	}
	n->res.wall_s = (double)(node_us(n) - t0) / 1e6;
	n->res.rounds = n->links[0].round == GCDL_JOIN_NONE ? 0 : n->links[0].round;
	for (uint32_t a = 1; a < n->k; a++)
		if (n->links[a].round == GCDL_JOIN_NONE || n->links[a].round < n->res.rounds)
			n->res.rounds = n->links[a].round == GCDL_JOIN_NONE ? 0 : n->links[a].round;
	n->res.model_crc = gcdl_node_crc(n->w, n->dim);
	if (rc == 0) {
		int e = gcdl_engine_eval(n->e, n->w, &n->job.train, &n->res.train_loss, NULL);

		if (e == 0)
			e = gcdl_engine_eval(n->e, n->w, &n->job.test, NULL, &n->res.test_accuracy);
		if (e != 0) {
			snprintf(n->fail, sizeof(n->fail), "evaluation: %s", strerror(-e));
			rc = e;
		}
	}
	return rc;
}
