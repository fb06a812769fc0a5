/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker node k. It keeps one link per aggregator (struct gcdl_link):
 * hello until a config comes, then the aggregator's range of the model, then
 * that range's update frames round by round. Round R is computed when every
 * link's range is at R (the ranges of a sharded job may be at different
 * rounds just after a join: the worker then waits for the laggard's update
 * and contributes from the next round).
 *
 *   round R: v_k = gradient(w_R) (or a straggler sends nothing); every chunk
 *            is encoded straight into an mbuf behind a prebuilt header,
 *            sealed, [faults] applied, and held until its send time (now, or
 *            the round's start + the simulated compute time of the timing
 *            straggler model or of a slow worker); then each chunk goes to
 *            its owner aggregator as the port takes it;
 *   any time: update frames are assembled per link; a complete update is
 *            applied (w <- w - u on the link's range).
 *
 * A missed update, or nothing from a link for a while, makes the worker ask
 * for a resync; the answer is a config and the model, as for a join.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>
#include <sodium.h>

#include "gcdl/layout.h"
#include "gcdl/rng.h"

#include "node_internal.h"
#include "seterr.h"

/* gcdl header fields patched per uplink frame (offsets in the whole frame) */
#define OFF_ROUND (GCDL_ETH_HDR_LEN + 8)
#define OFF_CHUNK (GCDL_ETH_HDR_LEN + 16)
#define OFF_FIRST (GCDL_ETH_HDR_LEN + 20)
#define OFF_COUNT (GCDL_ETH_HDR_LEN + 24)
#define OFF_PAYLOAD_LEN (GCDL_ETH_HDR_LEN + 30)

static const uint8_t BROADCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

struct node_worker {
	struct gcdl_link *links;     /* K */
	uint8_t *lgot;               /* K x mchunks: frames of the update being assembled */
	float *u;                    /* the update being assembled */
	float *v;                    /* the gradient v_k */
	struct gcdl_auth *lkey;      /* K: each link's session key (its aggregator's run) */
	uint8_t *lkey_ok;            /* K: the link has one */
	uint64_t incarnation;
	uint32_t nparts;
	uint32_t parts[GCDL_JOIN_MAX_PARTS];
	uint32_t next;               /* the next round it may compute */
	uint32_t pending;            /* round of the held frames, GCDL_JOIN_NONE: none */
	uint64_t start_tsc;          /* when that round began here */
	uint64_t ready_tsc;          /* when its frames were encoded */
	uint64_t due_tsc;            /* when they may go */
	struct rte_mbuf **held;      /* 2 x chunks (injected duplicates) */
	uint16_t *held_port;         /* port index of each */
	uint32_t nheld, sent;
	struct gcdl_fault_send *plan; /* [faults]: 2 x chunks */
	struct rte_mbuf **scratch;
	uint16_t *scratch_port;
	uint64_t resync_tsc;         /* no update for this long while one is awaited: resync */
	uint64_t skew_tsc;           /* sharded: ranges at different rounds this long: catch up */
	uint64_t skew_since;
	uint64_t idle_tsc;           /* network.idle_timeout_ms */
	uint64_t hello_tsc;
	uint64_t t0;
	uint8_t tmpl[GCDL_FRAME_OVERHEAD]; /* uplink header, addresses patched per frame */
};

static inline void
put_be32(uint8_t *p, uint32_t v)
{
	uint32_t be = __builtin_bswap32(v);

	memcpy(p, &be, sizeof(be));
}

static inline void
put_be16(uint8_t *p, uint16_t v)
{
	uint16_t be = __builtin_bswap16(v);

	memcpy(p, &be, sizeof(be));
}

int
node_worker_init(struct gcdl_node *n, char *err, size_t errlen)
{
	const struct gcdl_profile *p = &n->prof;
	int sock = (int)n->conf.socket;
	struct node_worker *w;
	const uint32_t *parts;
	struct gcdl_frame_hdr h;
	uint8_t frame[GCDL_ETH_MIN_FRAME];
	uint32_t nparts;

	w = rte_zmalloc_socket("gcdl_worker", sizeof(*w), RTE_CACHE_LINE_SIZE, sock);
	if (w == NULL)
		goto nomem;
	n->w = w;
	w->links = calloc(n->k, sizeof(*w->links));
	w->lgot = calloc((size_t)n->k * n->mchunks, 1);
	w->lkey = calloc(n->k, sizeof(*w->lkey));
	w->lkey_ok = calloc(n->k, 1);
	w->u = rte_zmalloc_socket("gcdl_update", sizeof(float) * n->dim, RTE_CACHE_LINE_SIZE, sock);
	w->v = rte_zmalloc_socket("gcdl_grad", sizeof(float) * n->dim, RTE_CACHE_LINE_SIZE, sock);
	w->held = rte_zmalloc_socket("gcdl_held", sizeof(*w->held) * 2 * n->chunks, 0, sock);
	w->held_port = rte_zmalloc_socket("gcdl_held_port", sizeof(uint16_t) * 2 * n->chunks, 0,
					  sock);
	w->plan = rte_zmalloc_socket("gcdl_plan", sizeof(*w->plan) * 2 * n->chunks, 0, sock);
	w->scratch = rte_zmalloc_socket("gcdl_scratch", sizeof(*w->scratch) * 2 * n->chunks, 0,
					sock);
	w->scratch_port = rte_zmalloc_socket("gcdl_scratch_port", sizeof(uint16_t) * 2 * n->chunks,
					     0, sock);
	if (w->links == NULL || w->lgot == NULL || w->lkey == NULL || w->lkey_ok == NULL ||
	    w->u == NULL || w->v == NULL ||
	    w->held == NULL || w->held_port == NULL || w->plan == NULL || w->scratch == NULL ||
	    w->scratch_port == NULL)
		goto nomem;
	if (p->synthetic_gradient) {
		/* small seeded values: the update keeps the replicas finite */
		struct gcdl_rng r;

		gcdl_rng_init(&r, p->seed, GCDL_RNG_INIT, 0x5947u, n->conf.id);
		for (uint32_t j = 0; j < n->dim; j++)
			w->v[j] = (float)(1e-3 * gcdl_rng_normal(&r));
	}
	/* tells a restarted process from a retried hello, and makes the config
	 * that echoes it fresh (an earlier run's cannot) */
	randombytes_buf(&w->incarnation, sizeof(w->incarnation));
	w->incarnation |= 1;
	w->pending = GCDL_JOIN_NONE;
	n->lim.job_id = p->job_id;
	n->lim.senders = n->n + n->k;
	n->lim.dim = n->dim;
	n->lim.round_min = 0;
	n->lim.round_max = p->rounds;
	n->lim.chunk_coords[GCDL_MSG_CONFIG] = 1;
	n->lim.chunk_coords[GCDL_MSG_MODEL] = n->mc;
	n->lim.chunk_coords[GCDL_MSG_UPDATE] = n->mc;
	if (gcdl_layout_worker_partitions(gcdl_engine_layout(n->e), n->conf.id, &parts,
					  &nparts) == 0) {
		w->nparts = RTE_MIN(nparts, (uint32_t)GCDL_JOIN_MAX_PARTS);
		memcpy(w->parts, parts, sizeof(uint32_t) * w->nparts);
	}
	for (uint32_t a = 0; a < n->k; a++) {
		w->links[a].state = GCDL_LINK_HELLO;
		w->links[a].round = GCDL_JOIN_NONE;
		if (n->agg_macs != NULL) {
			memcpy(w->links[a].mac, n->agg_macs[a], 6);
			w->links[a].have_mac = 1;
			w->links[a].port = 0; /* refined by its config */
		}
	}
	{
		double dl = p->deadline_mode == GCDL_DEADLINE_FIXED ? p->deadline_us
								    : p->deadline_max_us;

		w->resync_tsc = node_us_tsc(n, fmax(1e6, 20 * dl));
		w->skew_tsc = node_us_tsc(n, fmax(50e3, 2 * dl));
		w->idle_tsc = node_us_tsc(n, (double)p->idle_timeout_ms * 1000);
		w->hello_tsc = node_us_tsc(n, NODE_HELLO_US);
	}
	memset(&h, 0, sizeof(h));
	h.type = (uint8_t)gcdl_engine_msg_type(n->e);
	h.job_id = p->job_id;
	h.sender = n->self;
	h.scale_block = h.type == GCDL_MSG_ONEBIT ? (uint16_t)p->scale_block : 0;
	if (gcdl_frame_encode(&h, NULL, frame, sizeof(frame)) < 0) {
		gcdl_seterr(err, errlen, "worker %u: cannot build its frame header", n->conf.id);
		return -EINVAL;
	}
	memcpy(w->tmpl, frame, GCDL_FRAME_OVERHEAD);
	w->t0 = rte_rdtsc();
	for (uint32_t a = 0; a < n->k; a++)
		w->links[a].last_rx = w->t0; /* a TSC here */
	return 0;
nomem:
	gcdl_seterr(err, errlen, "worker %u: out of memory for %u coordinates on socket %d "
		    "(raise -m)", n->conf.id, n->dim, sock);
	return -ENOMEM;
}

static void
free_held(struct node_worker *w)
{
	for (uint32_t i = w->sent; i < w->nheld; i++)
		rte_pktmbuf_free(w->held[i]);
	w->nheld = 0;
	w->sent = 0;
}

void
node_worker_fini(struct gcdl_node *n)
{
	struct node_worker *w = n->w;

	if (w == NULL)
		return;
	if (w->held != NULL)
		free_held(w);
	free(w->links);
	free(w->lgot);
	if (w->lkey != NULL)
		sodium_memzero(w->lkey, sizeof(*w->lkey) * n->k);
	free(w->lkey);
	free(w->lkey_ok);
	rte_free(w->u);
	rte_free(w->v);
	rte_free(w->held);
	rte_free(w->held_port);
	rte_free(w->plan);
	rte_free(w->scratch);
	rte_free(w->scratch_port);
	rte_free(w);
	n->w = NULL;
}

const struct gcdl_auth *
node_worker_key(const struct gcdl_node *n, uint32_t a)
{
	const struct node_worker *w = n->w;

	if (n->conf.auth == NULL || w == NULL || a >= n->k || !w->lkey_ok[a])
		return NULL;
	return &w->lkey[a];
}

const struct gcdl_auth *
node_key_to(const struct gcdl_node *n, const uint8_t dst[6])
{
	const struct node_worker *w = n->w;

	if (n->conf.role != GCDL_NODE_WORKER)
		return node_tx_key(n, GCDL_MSG_UPDATE);
	for (uint32_t a = 0; w != NULL && a < n->k; a++)
		if (w->links[a].have_mac && memcmp(w->links[a].mac, dst, 6) == 0)
			return node_worker_key(n, a);
	return node_worker_key(n, 0);
}

/* A hello (first join) or resync (after a config) to aggregator a: a hello
 * is tagged with the job key, a resync with the link's session key. */
static void
send_hello(struct gcdl_node *n, uint32_t a, int resync, uint32_t round)
{
	struct node_worker *w = n->w;
	struct gcdl_link *l = &w->links[a];
	struct gcdl_hello h = { .version = GCDL_JOIN_VERSION, .worker = n->conf.id,
				.profile_hash = n->hash, .incarnation = w->incarnation,
				.round = round };
	struct gcdl_frame_hdr fh;
	int len = gcdl_hello_encode(&h, n->payload, GCDL_HELLO_LEN);

	const struct gcdl_auth *key = n->conf.auth;

	/* a resync after the aggregator restarted (another session) cannot
	 * verify: after two tries the link says hello again */
	if (resync && (l->resync_tries >= 2 || node_worker_key(n, a) == NULL))
		resync = 0;
	if (resync)
		key = node_worker_key(n, a);
	node_hdr(n, &fh, resync ? GCDL_MSG_RESYNC : GCDL_MSG_HELLO, 0);
	fh.payload_len = (uint16_t)len;
	if (resync)
		node_count(n, GCDL_CTR_RESYNC_REQUESTS, 1);
	l->resync_tries = resync ? l->resync_tries + 1 : 0;
	/* before its config, the aggregator may sit behind any port; a resync
	 * (under its session's key) goes to it alone */
	for (uint16_t pi = 0; pi < n->nports; pi++) {
		if (l->have_mac && (l->state != GCDL_LINK_HELLO || resync) && pi != l->port)
			continue;
		node_send(n, pi, l->have_mac ? l->mac : BROADCAST, &fh, n->payload, key);
	}
}

static int
on_config(struct gcdl_node *n, uint16_t pi, const struct gcdl_frame_hdr *hdr, const uint8_t *pl,
	  uint64_t now)
{
	struct node_worker *w = n->w;
	uint32_t a = hdr->sender - n->n, first, count;
	struct gcdl_link *l = &w->links[a];
	struct gcdl_config c;
	char mac[18];

	if (gcdl_config_decode(pl, hdr->payload_len, &c) != 0) {
		node_count(n, GCDL_CTR_DROP(GCDL_DROP_PAYLOAD), 1);
		return 0;
	}
	if (c.worker != n->conf.id || c.incarnation != w->incarnation) {
		node_count(n, GCDL_CTR_LATE, 1); /* an answer to another process or an earlier one */
		return 0;
	}
	gcdl_mac_format(hdr->src, mac, sizeof(mac));
	if (c.status == GCDL_JOIN_CHALLENGE) {
		/* the aggregator's session: prove it at once with a resync under its key */
		if (n->conf.auth == NULL || l->state != GCDL_LINK_HELLO) {
			node_count(n, GCDL_CTR_LATE, 1);
			return 0;
		}
		gcdl_auth_session(n->conf.auth, c.session, &w->lkey[a]);
		w->lkey_ok[a] = 1;
		l->resync_tries = 0;
		/* authentic (job key, our incarnation): the resync goes to it alone */
		memcpy(l->mac, hdr->src, 6);
		l->port = pi;
		l->have_mac = 1;
		send_hello(n, a, 1, l->round);
		l->next_hello = now + w->hello_tsc;
		return 0;
	}
	if (c.status != GCDL_JOIN_ACCEPTED) {
		l->state = GCDL_LINK_REFUSED;
		if (c.status == GCDL_JOIN_REFUSED_PROFILE)
			return node_fail(n, -EPERM, "aggregator %u (%s) refused worker %u: this "
					 "worker's profile hash %016" PRIx64 " differs from the "
					 "aggregator's %016" PRIx64 ": every node must run the same "
					 "profile (keys outside [dataplane])", a, mac, n->conf.id,
					 n->hash, c.profile_hash);
		if (c.status == GCDL_JOIN_REFUSED_VERSION)
			return node_fail(n, -EPERM, "aggregator %u (%s) refused worker %u: join "
					 "protocol version %u is not the aggregator's", a, mac,
					 n->conf.id, GCDL_JOIN_VERSION);
		return node_fail(n, -EPERM, "aggregator %u (%s) refused worker %u: no such worker "
				 "id in its job", a, mac, n->conf.id);
	}
	/* only a link that asked: a hello for another aggregator, or a retried
	 * one, may be answered by this aggregator too */
	if (l->state != GCDL_LINK_HELLO) {
		node_count(n, GCDL_CTR_LATE, 1);
		return 0;
	}
	gcdl_shard_chunks(n->chunks, n->k, a, &first, &count);
	if (c.dim != n->dim || c.chunks != n->chunks || c.chunk_coords != n->chunk_coords ||
	    c.model_coords != n->mc || c.aggregators != n->k || c.aggregator != a ||
	    c.chunk_first != first || c.chunk_count != count || c.rounds != n->prof.rounds ||
	    c.nparts != w->nparts || memcmp(c.parts, w->parts, 4 * (size_t)c.nparts) != 0)
		return node_fail(n, -EPROTO, "aggregator %u (%s) sent worker %u a shard assignment "
				 "that disagrees with this worker's profile (dim %u/%u, chunks "
				 "%u/%u, aggregators %u/%u, partitions %u/%u)", a, mac, n->conf.id,
				 c.dim, n->dim, c.chunks, n->chunks, c.aggregators, n->k, c.nparts,
				 w->nparts);
	gcdl_link_on_config(l, &c);
	l->resync_tries = 0;
	/* the aggregator's run: its frames from now on are tagged with its key */
	if (n->conf.auth != NULL)
		gcdl_auth_session(n->conf.auth, c.session, &w->lkey[a]);
	w->lkey_ok[a] = 1;
	memcpy(l->mac, hdr->src, 6);
	l->port = pi;
	l->have_mac = 1;
	l->last_rx = now;
	memset(w->lgot + (size_t)a * n->mchunks, 0, n->mchunks);
	node_count(n, GCDL_CTR_JOINS, 1);
	return 0;
}

/* A model or update frame from aggregator a. */
static void
on_values(struct gcdl_node *n, const struct gcdl_frame_hdr *hdr, const uint8_t *pl, uint64_t now)
{
	struct node_worker *w = n->w;
	uint32_t a = hdr->sender - n->n, lo, cnt;
	struct gcdl_link *l = &w->links[a];
	uint8_t *got = w->lgot + (size_t)a * n->mchunks;
	int model = hdr->type == GCDL_MSG_MODEL;
	float *replica = gcdl_engine_model(n->e);

	/* only the aggregator this link joined speaks for its range */
	if (!l->have_mac || memcmp(hdr->src, l->mac, 6) != 0) {
		node_count(n, GCDL_CTR_DROP(GCDL_DROP_SENDER), 1);
		return;
	}
	if ((model && l->state != GCDL_LINK_MODEL) || (!model && l->state != GCDL_LINK_READY) ||
	    hdr->round < l->round) {
		node_count(n, GCDL_CTR_LATE, 1);
		return;
	}
	if (hdr->round > l->round) {
		/* an update of a later round: this range missed one */
		if (!model) {
			l->state = GCDL_LINK_HELLO;
			l->next_hello = now;
		}
		node_count(n, GCDL_CTR_LATE, 1);
		return;
	}
	gcdl_link_clip(l, hdr->first_coord, hdr->coord_count, &lo, &cnt);
	if (cnt == 0) {
		node_count(n, GCDL_CTR_DROP(GCDL_DROP_OFFSET), 1);
		return;
	}
	if (got[hdr->chunk]) {
		node_count(n, GCDL_CTR_DUPLICATES, 1);
		return;
	}
	/* one value that is not finite would spread to every coordinate */
	if (!gcdl_frame_floats_finite(pl + 4 * (lo - hdr->first_coord), cnt)) {
		node_count(n, GCDL_CTR_REJECTED, 1);
		return;
	}
	got[hdr->chunk] = 1;
	l->last_rx = now;
	node_count(n, GCDL_CTR_DOWNLINK_ACCEPTED, 1);
	gcdl_frame_get_floats((model ? replica : w->u) + lo, pl + 4 * (lo - hdr->first_coord), cnt);
	if (++l->got < l->frames)
		return;
	l->got = 0;
	memset(got, 0, n->mchunks);
	if (model) {
		l->state = GCDL_LINK_READY;
	} else {
		gcdl_engine_apply_update(replica + l->coord_first, w->u + l->coord_first,
					 l->coord_count);
		l->round++;
		node_count(n, GCDL_CTR_APPLIED, 1);
	}
}

static int
poll_ports(struct gcdl_node *n, uint64_t now, uint32_t *work)
{
	struct rte_mbuf *pkts[NODE_MAX_BURST];
	int rc = 0;

	for (uint16_t pi = 0; pi < n->nports; pi++) {
		uint16_t nb = node_rx(n, pi, pkts);

		for (uint16_t i = 0; i < nb && rc == 0; i++) {
			struct gcdl_frame_hdr hdr;
			const uint8_t *pl;

			if (node_decode(n, pkts[i], &hdr, &pl) != 0)
				continue;
			if (hdr.sender < n->n) {
				/* workers do not talk to workers */
				node_count(n, GCDL_CTR_DROP(GCDL_DROP_SENDER), 1);
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

/* The send time of round R's frames: now, or (timing stragglers, slow
 * workers) the round's start + its simulated or stretched compute time. */
static void
set_due(struct gcdl_node *n, uint32_t round)
{
	struct node_worker *w = n->w;
	uint64_t due = 0;

	if (n->sm.kind == GCDL_STRAGGLER_TIMING) {
		double us = gcdl_straggler_compute_us(&n->sm, n->prof.seed, round, n->conf.id) *
			    n->prof.time_scale;

		due = w->start_tsc + node_us_tsc(n, us);
	}
	w->due_tsc = node_faults_due(n, w->start_tsc, w->ready_tsc, due, w->nheld);
}

/* v_k of round R into held mbufs, one per chunk, for its owner's port. */
static int
build_frames(struct gcdl_node *n, uint32_t round)
{
	const struct gcdl_profile *p = &n->prof;
	struct node_worker *w = n->w;
	uint64_t t0, coords = 0;
	uint32_t nbulk = 0;
	int rc;

	if (!p->synthetic_gradient) {
		rc = gcdl_engine_worker_gradient(n->e, 0, n->conf.id, round, gcdl_engine_model(n->e),
						 w->v);
		if (rc != 0)
			return rc;
	}
	t0 = node_thread_ns();
	for (uint32_t c = 0; c < n->chunks; c++) {
		const struct gcdl_link *l = &w->links[gcdl_shard_owner(n->chunks, n->k, c)];
		struct rte_mbuf *m;
		uint32_t count = 0;
		size_t flen;
		uint8_t *f;
		int len;

		if (c == nbulk) {
			uint32_t want = RTE_MIN(n->chunks - c, (uint32_t)NODE_MAX_BURST);

			if (rte_pktmbuf_alloc_bulk(n->conf.pool, w->held + c, want) == 0)
				nbulk = c + want;
		}
		m = c < nbulk ? w->held[c] : node_alloc(n);
		if (m == NULL) {
			/* mbufs come back as the receivers free theirs; a pool that
			 * stays empty is a sizing error, not a wait */
			uint64_t give_up = rte_rdtsc() + n->hz * NODE_ALLOC_WAIT_S;

			while ((m = node_alloc(n)) == NULL) {
				if (node_stop_requested(n) || rte_rdtsc() > give_up) {
					w->nheld = c;
					w->sent = 0;
					free_held(w);
					return node_stop_requested(n) ? -ECANCELED : -ENOBUFS;
				}
				rte_delay_us_sleep(NODE_IDLE_SLEEP_US);
			}
		}
		f = rte_pktmbuf_mtod(m, uint8_t *);
		len = gcdl_engine_encode_chunk(n->e, n->conf.id, round, c, w->v,
					       f + GCDL_FRAME_OVERHEAD,
					       rte_pktmbuf_tailroom(m) - GCDL_FRAME_OVERHEAD, &count);
		if (len < 0) {
			rte_pktmbuf_free(m);
			w->nheld = c;
			w->sent = 0;
			free_held(w);
			if (nbulk > c + 1)
				rte_pktmbuf_free_bulk(w->held + c + 1, nbulk - c - 1);
			return len;
		}
		coords += count;
		memcpy(f, w->tmpl, GCDL_FRAME_OVERHEAD);
		memcpy(f, l->mac, 6);
		memcpy(f + 6, n->port[l->port].mac, 6);
		put_be32(f + OFF_ROUND, round);
		put_be32(f + OFF_CHUNK, c);
		put_be32(f + OFF_FIRST, c * n->chunk_coords);
		put_be32(f + OFF_COUNT, count);
		put_be16(f + OFF_PAYLOAD_LEN, (uint16_t)len);
		flen = GCDL_FRAME_OVERHEAD + (size_t)len;
		if (n->conf.auth != NULL) {
			/* CRC, then the tag (the owner's session key) after the payload */
			flen = (size_t)gcdl_auth_seal(node_worker_key(n, gcdl_shard_owner(n->chunks,
									     n->k, c)),
						      f, rte_pktmbuf_tailroom(m));
		} else {
			if (flen < GCDL_ETH_MIN_FRAME) {
				memset(f + flen, 0, GCDL_ETH_MIN_FRAME - flen);
				flen = GCDL_ETH_MIN_FRAME;
			}
			gcdl_frame_seal(f, flen);
		}
		m->data_len = (uint16_t)flen;
		m->pkt_len = (uint32_t)flen;
		w->held[c] = m;
		w->held_port[c] = l->port;
	}
	w->nheld = n->chunks;
	w->sent = 0;
	w->ready_tsc = rte_rdtsc();
	node_count(n, GCDL_CTR_CPU_ENCODE_NS, node_thread_ns() - t0);
	node_count(n, GCDL_CTR_ENCODE_COORDS, coords);
	return node_faults_apply(n, round, w->held, w->held_port, &w->nheld, w->plan, w->scratch,
				 w->scratch_port);
}

/* Begin round R: self-test frames, then send nothing (a Bernoulli
 * straggler) or compute and hold the round's frames. */
static int
begin_round(struct gcdl_node *n, uint32_t round, uint64_t now)
{
	const struct gcdl_profile *p = &n->prof;
	struct node_worker *w = n->w;
	int rc;

	node_tel_round(n, round + 1, p->deadline_us);
	if (n->conf.inject_garbage > 0 || n->conf.inject_hostile > 0)
		for (uint32_t a = 0; a < n->k; a++)
			node_inject(n, round, w->links[a].port, w->links[a].mac);
	if (n->sm.kind == GCDL_STRAGGLER_BERNOULLI &&
	    gcdl_straggler_is(&n->sm, p->seed, round, n->conf.id, p->deadline_us)) {
		node_count(n, GCDL_CTR_SKIPPED, 1);
		return 0;
	}
	w->start_tsc = now;
	rc = build_frames(n, round);
	if (rc != 0)
		return rc == -ECANCELED ? 0 :
		       node_fail(n, rc, "round %u: %s%s", round, strerror(-rc),
				 rc == -ENOBUFS ? " (mempool exhausted: raise dataplane.mbufs)" :
				 rc == -EDOM ? " (non-finite gradient: the model diverged, lower "
					       "optim.lr)" : "");
	w->pending = round;
	set_due(n, round);
	return 0;
}

/* Queue held frames whose time has come, as the ports' backlogs take them. */
static uint32_t
send_held(struct gcdl_node *n, struct gcdl_loop *lp)
{
	struct node_worker *w = n->w;
	uint32_t queued = 0;
	uint64_t t0;

	if (w->pending == GCDL_JOIN_NONE)
		return 0;
	if (rte_rdtsc() < w->due_tsc) {
		node_wake_at(lp, w->due_tsc);
		return 0;
	}
	t0 = rte_rdtsc();
	while (w->sent < w->nheld && node_tx_room(n, w->held_port[w->sent]) > 0) {
		node_tx_queue(n, w->held_port[w->sent], w->held[w->sent]);
		w->sent++;
		queued++;
	}
	if (queued > 0) {
		node_tx_flush(n);
		/* a burst is too short to be descheduled in: the TSC, no system call */
		node_count(n, GCDL_CTR_CPU_TX_NS, (uint64_t)(node_tsc_us(n, rte_rdtsc() - t0) * 1e3));
	}
	if (w->sent == w->nheld) {
		w->nheld = 0;
		w->sent = 0;
		w->pending = GCDL_JOIN_NONE;
		node_count(n, GCDL_CTR_CONTRIBUTED, 1);
	}
	return queued;
}

static int
idle_timeout(struct gcdl_node *n, uint32_t a)
{
	const struct gcdl_link *l = &n->w->links[a];
	char links[128] = "";
	size_t off = 0;

	for (uint16_t pi = 0; pi < n->nports && off < sizeof(links); pi++) {
		struct rte_eth_link lk;

		memset(&lk, 0, sizeof(lk));
		rte_eth_link_get_nowait(n->port[pi].id, &lk);
		off += (size_t)snprintf(links + off, sizeof(links) - off, " %u:%s", n->port[pi].id,
					lk.link_status ? "up" : "down");
	}
	return node_fail(n, -ETIMEDOUT, "no frame from aggregator %u for network.idle_timeout_ms "
			 "= %u ms (round %u, link state %s, %s): is it running, with the same job "
			 "id, on a reachable port? (ports:%s)", a, n->prof.idle_timeout_ms,
			 l->round == GCDL_JOIN_NONE ? 0 : l->round,
			 l->state == GCDL_LINK_HELLO ? "hello" :
			 l->state == GCDL_LINK_MODEL ? "model" : "ready",
			 l->have_mac ? "address known" : "address unknown", links);
}

/* Every link's range is at round `lo` (all READY): the rounds are over, or
 * round lo may begin. */
static int
advance(struct gcdl_node *n, uint32_t lo, uint64_t now, uint32_t *work)
{
	const struct gcdl_profile *p = &n->prof;
	struct node_worker *w = n->w;

	node_tel_closed(n, lo, 0);
	if (lo >= p->rounds) {
		if (w->pending == GCDL_JOIN_NONE)
			n->finished = 1; /* the last update is in */
		return 0;
	}
	if (lo < w->next || w->pending != GCDL_JOIN_NONE)
		return 0;
	w->next = lo + 1;
	(*work)++;
	return begin_round(n, lo, now);
}

int
node_worker_poll(struct gcdl_node *n, struct gcdl_loop *lp)
{
	const struct gcdl_profile *p = &n->prof;
	struct node_worker *w = n->w;
	uint64_t now = rte_rdtsc();
	uint32_t work = 0, ready = 0, lo = UINT32_MAX, hi = 0;
	int rc;

	if (n->finished)
		return 0;
	if (node_stop_requested(n)) {
		n->stopped = 1;
		n->finished = 1;
		return 1;
	}
	for (uint32_t a = 0; a < n->k; a++) {
		struct gcdl_link *l = &w->links[a];

		if (now - l->last_rx > w->idle_tsc)
			return idle_timeout(n, a);
		/* a link that waits too long for its model or update resyncs */
		if (l->state != GCDL_LINK_HELLO && now - l->last_rx > w->resync_tsc &&
		    (l->state == GCDL_LINK_MODEL || w->next > l->round) && l->round < p->rounds) {
			l->state = GCDL_LINK_HELLO;
			l->next_hello = now;
		}
		if (l->state == GCDL_LINK_HELLO) {
			if (now >= l->next_hello) {
				send_hello(n, a, l->round != GCDL_JOIN_NONE || w->lkey_ok[a],
					   l->round);
				l->next_hello = now + w->hello_tsc;
				work++;
			}
			node_wake_at(lp, l->next_hello);
		}
	}
	rc = poll_ports(n, now, &work);
	if (rc != 0)
		return rc;
	for (uint32_t a = 0; a < n->k; a++) {
		const struct gcdl_link *l = &w->links[a];

		if (l->state == GCDL_LINK_READY) {
			ready++;
			lo = RTE_MIN(lo, l->round);
			hi = RTE_MAX(hi, l->round);
		}
	}
	/* sharded: ranges at different rounds for a while: the aggregators
	 * behind close their rounds up to the latest one */
	if (ready == n->k && lo < hi) {
		if (w->skew_since == 0) {
			w->skew_since = now;
		} else if (now - w->skew_since > w->skew_tsc) {
			for (uint32_t a = 0; a < n->k; a++) {
				struct gcdl_link *l = &w->links[a];

				if (l->round < hi && now >= l->next_hello) {
					send_hello(n, a, 1, hi);
					l->next_hello = now + w->hello_tsc;
					work++;
				}
			}
		}
	} else {
		w->skew_since = 0;
	}
	if (ready == n->k && lo == hi) {
		rc = advance(n, lo, now, &work);
		if (rc != 0)
			return rc;
	}
	work += send_held(n, lp);
	if (n->finished && !n->conf.local) {
		/* a multi-host worker reports its final replica */
		rc = gcdl_round_end_eval(&n->re, NULL);
		if (rc != 0)
			return node_fail(n, rc, "evaluation: %s", strerror(-rc));
	}
	if (n->finished)
		gcdl_figure_set(&n->c, GCDL_FIG_WALL_S, node_tsc_us(n, rte_rdtsc() - w->t0) / 1e6);
	return (int)work;
}
