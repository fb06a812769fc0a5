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

#include "gcdl/downlink.h"
#include "gcdl/layout.h"
#include "gcdl/quant.h"
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
	uint8_t *lgot;               /* K x got_size(): frames of the model being assembled */
	/* the updates being assembled, two rounds per link (the link's round, and
	 * the next one, which may come while a frame of the first is repaired):
	 * slot (link, round % 2) */
	float *ub[2];                /* by round % 2 (the links' ranges do not overlap) */
	uint8_t *upl[2];             /* 1-bit downlink (not a vote): the frames' payloads, by
				      * round % 2, upl_stride bytes per chunk, applied when the
				      * update is complete (w -= q in one pass, no q built) */
	uint32_t upl_stride;
	uint8_t *ugot;               /* K x 2 x dl_chunks: which frames are in */
	uint32_t *ucnt;              /* K x 2: how many */
	uint32_t *uround;            /* K x 2: the round held, GCDL_JOIN_NONE: none */
	uint32_t *uhigh;             /* K x 2: 1 + the highest frame (chunk) in: frames come in
				      * order, so a missing one below it was lost, one above may
				      * be on its way */
	float *v;                    /* the gradient v_k */
	float *vq;                   /* the workers' momentum with dataplane.synthetic_gradient:
				      * the copy it goes into (v stays the fixed load) */
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
	uint64_t repair_tsc;         /* downlink.repair_us */
	uint64_t blind_tsc;          /* nothing of the awaited update came: ask after this */
	uint64_t t0;
	uint8_t tmpl[GCDL_FRAME_OVERHEAD]; /* uplink header, addresses patched per frame */
};

/* Bytes of a link's "frames in" map: the update's or the model's frames, and
 * with downlink.mode relay the momentum's after the model's. */
static inline uint32_t
got_size(const struct gcdl_node *n)
{
	return n->steps ? 2 * n->mchunks : RTE_MAX(n->mchunks, n->dl_chunks);
}

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
	w->lgot = calloc((size_t)n->k * got_size(n), 1);
	w->lkey = calloc(n->k, sizeof(*w->lkey));
	w->lkey_ok = calloc(n->k, 1);
	w->ub[0] = rte_zmalloc_socket("gcdl_update", sizeof(float) * n->dim, RTE_CACHE_LINE_SIZE,
				      sock);
	w->ub[1] = rte_zmalloc_socket("gcdl_update", sizeof(float) * n->dim, RTE_CACHE_LINE_SIZE,
				      sock);
	if (n->dl_type == GCDL_MSG_UPDATE1 && !n->vote) {
		w->upl_stride = (uint32_t)gcdl_frame_payload_len(GCDL_MSG_UPDATE1, n->dl_coords,
								  p->scale_block);
		for (int i = 0; i < 2; i++) {
			w->upl[i] = rte_malloc_socket("gcdl_update_bits",
						      (size_t)w->upl_stride * n->dl_chunks,
						      RTE_CACHE_LINE_SIZE, sock);
			if (w->upl[i] == NULL)
				goto nomem;
		}
	}
	w->ugot = calloc((size_t)n->k * 2 * n->dl_chunks, 1);
	w->ucnt = calloc((size_t)n->k * 2, sizeof(uint32_t));
	w->uround = calloc((size_t)n->k * 2, sizeof(uint32_t));
	w->uhigh = calloc((size_t)n->k * 2, sizeof(uint32_t));
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
	    w->ub[0] == NULL || w->ub[1] == NULL || w->ugot == NULL || w->ucnt == NULL ||
	    w->uround == NULL || w->uhigh == NULL || w->v == NULL ||
	    w->held == NULL || w->held_port == NULL || w->plan == NULL || w->scratch == NULL ||
	    w->scratch_port == NULL)
		goto nomem;
	if (p->synthetic_gradient && gcdl_profile_worker_momentum(p)) {
		w->vq = rte_zmalloc_socket("gcdl_grad_q", sizeof(float) * n->dim,
					   RTE_CACHE_LINE_SIZE, sock);
		if (w->vq == NULL)
			goto nomem;
	}
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
	/* the round's update: float32 or 1-bit frames, by downlink.mode (relay:
	 * the accepted gradient frames and a commit, the momentum at a join) */
	n->lim.chunk_coords[n->dl_type] = n->dl_coords;
	n->lim.scale_block = (uint16_t)p->scale_block;
	if (p->downlink == GCDL_DOWNLINK_RELAY)
		n->lim.chunk_coords[gcdl_engine_msg_type(n->e)] = n->chunk_coords;
	if (n->steps)
		n->lim.chunk_coords[GCDL_MSG_UPDATE] = n->mc; /* the momentum at a join */
	if (gcdl_layout_worker_partitions(gcdl_engine_layout(n->e), n->conf.id, &parts,
					  &nparts) == 0) {
		w->nparts = RTE_MIN(nparts, (uint32_t)GCDL_JOIN_MAX_PARTS);
		memcpy(w->parts, parts, sizeof(uint32_t) * w->nparts);
	}
	for (uint32_t i = 0; i < 2 * n->k; i++)
		w->uround[i] = GCDL_JOIN_NONE;
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
		w->repair_tsc = node_us_tsc(n, p->repair_us);
		/* the round may run to its deadline, and the aggregator may evaluate
		 * after it: ask for an update none of which came only after that */
		w->blind_tsc = node_us_tsc(n, fmax(2 * dl, 50000) + p->repair_us);
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
	{
		int rc = node_relay_init(n, err, errlen);

		if (rc == 0)
			rc = node_extgrad_init(n, err, errlen);
		if (rc == 0 && p->quant_lcores > 1)
			rc = node_quant_lcores_init(n, err, errlen);
		if (rc != 0)
			return rc;
	}
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
	node_relay_fini(n);
	node_extgrad_fini(n);
	node_quant_lcores_fini(n);
	free(w->links);
	free(w->lgot);
	if (w->lkey != NULL)
		sodium_memzero(w->lkey, sizeof(*w->lkey) * n->k);
	free(w->lkey);
	free(w->lkey_ok);
	rte_free(w->ub[0]);
	rte_free(w->ub[1]);
	rte_free(w->upl[0]);
	rte_free(w->upl[1]);
	free(w->ugot);
	free(w->ucnt);
	free(w->uround);
	free(w->uhigh);
	rte_free(w->v);
	rte_free(w->vq);
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

uint16_t
node_worker_link_port(const struct gcdl_node *n)
{
	return n->w->links[0].port;
}

const uint8_t *
node_worker_link_mac(const struct gcdl_node *n)
{
	return n->w->links[0].mac;
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
	l->update_frames = (c.coord_first + c.coord_count - 1) / n->dl_coords -
			   c.coord_first / n->dl_coords + 1;
	l->seen_round = c.round;
	l->repair_at = 0;
	l->repair_tries = 0;
	/* the aggregator's run: its frames from now on are tagged with its key */
	if (n->conf.auth != NULL)
		gcdl_auth_session(n->conf.auth, c.session, &w->lkey[a]);
	w->lkey_ok[a] = 1;
	memcpy(l->mac, hdr->src, 6);
	l->port = pi;
	l->have_mac = 1;
	l->last_rx = now;
	memset(w->lgot + (size_t)a * got_size(n), 0, got_size(n));
	w->uround[2 * a] = w->uround[2 * a + 1] = GCDL_JOIN_NONE;
	node_count(n, GCDL_CTR_JOINS, 1);
	return 0;
}

/* Ask aggregator a again for the frames of its update of the link's round
 * that have not come (GCDL_MSG_REPAIR: first chunk, count, then one bit per
 * chunk, 1 = wanted). */
static uint32_t
ask_repair(struct gcdl_node *n, uint32_t a, uint64_t now, int tail)
{
	struct node_worker *w = n->w;
	struct gcdl_link *l = &w->links[a];
	uint32_t si = 2 * a + (l->round & 1);
	const uint8_t *got = w->ugot + (size_t)si * n->dl_chunks;
	int held = w->uround[si] == l->round;
	uint32_t first = l->coord_first / n->dl_coords, count = l->update_frames, wanted = 0;
	struct gcdl_frame_hdr h;
	uint8_t *pl = n->payload;

	memset(pl, 0, 8 + (count + 7) / 8);
	put_be32(pl, first);
	put_be32(pl + 4, count);
	for (uint32_t i = 0; i < count; i++) {
		/* a gap below the highest frame in was lost; the frames above it
		 * are asked for only when the round is known to be over (tail) */
		if ((!held || !got[first + i]) && (tail || (held && first + i < w->uhigh[si]))) {
			pl[8 + i / 8] |= (uint8_t)(1u << (i % 8));
			wanted++;
		}
	}
	l->repair_at = now + w->repair_tsc;
	if (wanted == 0)
		return 0;
	node_hdr(n, &h, GCDL_MSG_REPAIR, l->round);
	h.payload_len = (uint16_t)(8 + (count + 7) / 8);
	node_send(n, l->port, l->mac, &h, pl, node_worker_key(n, a));
	node_count(n, GCDL_CTR_DOWNLINK_REPAIRS, wanted);
	l->repair_tries++;
	return wanted;
}

/* The update of the link's round is missing frames: ask for them, or after
 * downlink.repair_tries requests (or when the aggregator is further ahead
 * than it keeps updates) resync from the full model. */
static void
repair_or_resync(struct gcdl_node *n, uint32_t a, uint64_t now)
{
	struct node_worker *w = n->w;
	struct gcdl_link *l = &w->links[a];
	uint32_t si = 2 * a + (l->round & 1);

	int some = w->uround[si] == l->round && w->ucnt[si] > 0;
	int over = l->seen_round > l->round; /* a later round's frames came */

	/* no frame of the update nor of a later round: the round may just not be
	 * over; ask, but do not count it as a try */
	if (!over && !some) {
		if (ask_repair(n, a, now, 1) > 0)
			l->repair_tries--;
		l->repair_at = now + w->blind_tsc;
		return;
	}
	if (l->repair_tries < n->prof.repair_tries && l->seen_round - l->round < NODE_DL_KEEP) {
		/* the gaps; the missing tail too once the round is over, or when
		 * nothing came for a long while */
		if (ask_repair(n, a, now, over || now - l->last_rx >= w->blind_tsc) == 0)
			l->repair_at = over ? now + w->repair_tsc : l->last_rx + w->blind_tsc;
		return;
	}
	NODE_LOG(control, INFO, "worker %u: the update of round %u is still missing frames "
		 "after %u requests (the aggregator is at round %u): resync", n->conf.id, l->round,
		 l->repair_tries, l->seen_round);
	l->state = GCDL_LINK_HELLO;
	l->next_hello = now;
	l->repair_at = 0;
	l->repair_tries = 0;
}

/* The frame's values are finite (and a 1-bit update's scales >= 0). */
static int
values_finite(const struct gcdl_node *n, const struct gcdl_frame_hdr *hdr, const uint8_t *pl)
{
	if (hdr->type == GCDL_MSG_UPDATE1) {
		uint32_t nb = gcdl_quant_blocks(hdr->coord_count, n->prof.scale_block);
		float s[GCDL_MTU_MAX / 4];

		gcdl_frame_get_floats(s, pl, nb);
		for (uint32_t b = 0; b < nb; b++)
			if (!(s[b] >= 0.0f) || !isfinite(s[b]))
				return 0;
		return 1;
	}
	return gcdl_frame_floats_finite(pl, hdr->coord_count);
}

/* A complete 1-bit update of link l's range, its frames' payloads: w -= q. */
static void
apply_bits(struct gcdl_node *n, const struct gcdl_link *l, const uint8_t *upl, float *replica)
{
	uint32_t first = l->coord_first / n->dl_coords;

	for (uint32_t c = first; c < first + l->update_frames; c++) {
		uint32_t lo = c * n->dl_coords, cnt = RTE_MIN(n->dl_coords, n->dim - lo);

		gcdl_downlink_apply(upl + (size_t)c * n->w->upl_stride, cnt, n->prof.scale_block,
				    replica + lo);
	}
}

/* An update frame of the link's round or the next: held in the round's
 * slot; each complete update, in order, is applied (w <- w - u on the range). */
static void
on_update(struct gcdl_node *n, uint32_t a, const struct gcdl_frame_hdr *hdr, const uint8_t *pl,
	  uint64_t now)
{
	struct node_worker *w = n->w;
	struct gcdl_link *l = &w->links[a];
	uint32_t si = 2 * a + (hdr->round & 1), lo, cnt;
	uint8_t *got = w->ugot + (size_t)si * n->dl_chunks;
	float *replica = gcdl_engine_model(n->e);

	if (hdr->round > l->round + 1) {
		/* further ahead than it holds: the update of its round is late or
		 * lost; the aggregator keeps it a few rounds */
		if (l->repair_at == 0 || now >= l->repair_at)
			repair_or_resync(n, a, now);
		node_count(n, GCDL_CTR_LATE, 1);
		return;
	}
	gcdl_link_clip(l, hdr->first_coord, hdr->coord_count, &lo, &cnt);
	if (cnt == 0 || (hdr->type == GCDL_MSG_UPDATE1 && cnt != hdr->coord_count) ||
	    hdr->chunk >= n->dl_chunks) {
		node_count(n, GCDL_CTR_DROP(GCDL_DROP_OFFSET), 1);
		return;
	}
	if (w->uround[si] != hdr->round) {
		w->uround[si] = hdr->round;
		w->ucnt[si] = 0;
		w->uhigh[si] = 0;
		memset(got, 0, n->dl_chunks);
	}
	if (hdr->chunk + 1 > w->uhigh[si])
		w->uhigh[si] = hdr->chunk + 1;
	if (got[hdr->chunk]) {
		node_count(n, GCDL_CTR_DUPLICATES, 1);
		return;
	}
	if (hdr->type == GCDL_MSG_UPDATE1 && w->upl[0] != NULL)
		/* validated: the chunk's whole payload, its scales finite */
		memcpy(w->upl[hdr->round & 1] + (size_t)hdr->chunk * w->upl_stride, pl,
		       hdr->payload_len);
	else if (hdr->type == GCDL_MSG_UPDATE1)
		gcdl_downlink_decode(pl, cnt, n->prof.scale_block, w->ub[hdr->round & 1] + lo);
	else
		gcdl_frame_get_floats(w->ub[hdr->round & 1] + lo, pl + 4 * (lo - hdr->first_coord),
				      cnt);
	got[hdr->chunk] = 1;
	w->ucnt[si]++;
	l->last_rx = now;
	node_count(n, GCDL_CTR_DOWNLINK_ACCEPTED, 1);
	if (hdr->round == l->round)
		l->repair_at = now + w->repair_tsc; /* the rest should follow */
	else if (w->uround[si ^ 1] != l->round || w->ucnt[si ^ 1] < l->update_frames)
		l->repair_at = now; /* the next round came first: its own is missing frames */
	/* apply every complete update in order */
	for (;;) {
		uint32_t ci = 2 * a + (l->round & 1);

		if (l->round >= n->prof.rounds || w->uround[ci] != l->round ||
		    w->ucnt[ci] < l->update_frames)
			break;
		if (n->vote)
			/* the vote: the same step as the aggregator's, from it */
			gcdl_engine_step(n->e, w->ub[l->round & 1], l->round);
		else if (w->upl[0] != NULL)
			apply_bits(n, l, w->upl[l->round & 1], replica);
		else
			gcdl_engine_apply_update(replica + l->coord_first,
						 w->ub[l->round & 1] + l->coord_first,
						 l->coord_count);
		w->uround[ci] = GCDL_JOIN_NONE;
		l->round++;
		node_count(n, GCDL_CTR_APPLIED, 1);
		l->repair_tries = 0;
		ci = 2 * a + (l->round & 1);
		/* the next one started, or the aggregator is ahead: it should follow,
		 * or be asked for */
		l->repair_at = w->uround[ci] == l->round ? now + w->repair_tsc
			       : l->seen_round > l->round ? now : 0;
	}
}

/* A model or update frame from aggregator a. */
static void
on_values(struct gcdl_node *n, const struct gcdl_frame_hdr *hdr, const uint8_t *pl, uint64_t now)
{
	struct node_worker *w = n->w;
	uint32_t a = hdr->sender - n->n, lo, cnt;
	struct gcdl_link *l = &w->links[a];
	uint8_t *got = w->lgot + (size_t)a * got_size(n);
	int relay = n->relay != NULL;
	/* a worker that steps itself: the state is the model and the momentum
	 * (UPDATE frames, which are not its downlink) */
	int model = hdr->type == GCDL_MSG_MODEL || (n->steps && hdr->type == GCDL_MSG_UPDATE);
	int mom = n->steps && hdr->type == GCDL_MSG_UPDATE;
	uint32_t slot = hdr->chunk + (mom ? n->mchunks : 0);
	float *replica = mom ? gcdl_engine_momentum(n->e) : gcdl_engine_model(n->e);

	/* only the aggregator this link joined speaks for its range */
	if (!l->have_mac || memcmp(hdr->src, l->mac, 6) != 0) {
		node_count(n, GCDL_CTR_DROP(GCDL_DROP_SENDER), 1);
		return;
	}
	/* one value that is not finite would spread to every coordinate (and a
	 * frame that holds one is no news of a later round either) */
	if (!values_finite(n, hdr, pl)) {
		node_count(n, GCDL_CTR_REJECTED, 1);
		return;
	}
	if (!model && l->state == GCDL_LINK_READY && hdr->round > l->seen_round)
		l->seen_round = hdr->round;
	if ((model && l->state != GCDL_LINK_MODEL) || (!model && l->state != GCDL_LINK_READY) ||
	    hdr->round < l->round) {
		node_count(n, GCDL_CTR_LATE, 1);
		return;
	}
	if (!model) {
		on_update(n, a, hdr, pl, now);
		return;
	}
	if (hdr->round > l->round) {
		node_count(n, GCDL_CTR_LATE, 1);
		return;
	}
	gcdl_link_clip(l, hdr->first_coord, hdr->coord_count, &lo, &cnt);
	if (cnt == 0) {
		node_count(n, GCDL_CTR_DROP(GCDL_DROP_OFFSET), 1);
		return;
	}
	if (got[slot]) {
		node_count(n, GCDL_CTR_DUPLICATES, 1);
		return;
	}
	gcdl_frame_get_floats(replica + lo, pl + 4 * (lo - hdr->first_coord), cnt);
	got[slot] = 1;
	l->last_rx = now;
	node_count(n, GCDL_CTR_DOWNLINK_ACCEPTED, 1);
	if (++l->got < (n->steps ? 2 : 1) * l->frames)
		return;
	l->got = 0;
	memset(got, 0, got_size(n));
	l->state = GCDL_LINK_READY;
	l->seen_round = l->round;
	w->uround[2 * a] = w->uround[2 * a + 1] = GCDL_JOIN_NONE;
	if (relay) {
		/* collect round `round` from here, whatever was held before */
		gcdl_mesh_resync(n->relay, l->round);
		node_relay_begin(n, l->round);
	}
}

static int
poll_ports(struct gcdl_node *n, uint64_t now, uint32_t *work)
{
	struct node_worker *w = n->w;
	struct rte_mbuf *pkts[NODE_MAX_BURST];
	int rc = 0;

	uint64_t t0 = 0; /* read when a poll first brings frames: idle polls make no system call */

	for (uint16_t pi = 0; pi < n->nports; pi++) {
		uint16_t nb = node_rx(n, pi, pkts);

		if (nb > 0 && t0 == 0)
			t0 = node_thread_ns();
		for (uint16_t i = 0; i < nb && rc == 0; i++) {
			struct gcdl_frame_hdr hdr;
			const uint8_t *pl;

			if (node_decode(n, pkts[i], &hdr, &pl) != 0)
				continue;
			if (n->relay != NULL && (hdr.sender < n->n || hdr.type == GCDL_MSG_COMMIT)) {
				/* relay: the gradient frames and the commit the aggregator
				 * sends down, from its MAC only */
				if (!w->links[0].have_mac ||
				    memcmp(hdr.src, w->links[0].mac, 6) != 0)
					node_count(n, GCDL_CTR_DROP(GCDL_DROP_SENDER), 1);
				else if (w->links[0].state != GCDL_LINK_READY)
					node_count(n, GCDL_CTR_LATE, 1); /* it repairs once ready */
				else
					node_relay_rx(n, &hdr, pl);
				continue;
			}
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
	if (t0 != 0)
		node_count(n, GCDL_CTR_CPU_DL_RX_NS, node_thread_ns() - t0);
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

/* Chunk c of v_k of round R framed into m for its owner. @return the
 * chunk's coordinates, or a negative errno (nothing framed). Reads the
 * node's read-only state only: a quantizing lcore runs it for its chunks. */
static int
frame_chunk(const struct gcdl_node *n, uint32_t round, uint32_t c, const float *src,
	    struct rte_mbuf *m)
{
	const struct node_worker *w = n->w;
	const struct gcdl_link *l = &w->links[gcdl_shard_owner(n->chunks, n->k, c)];
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t count = 0;
	size_t flen;
	int len;

	len = gcdl_engine_encode_chunk(n->e, n->conf.id, round, c, src, f + GCDL_FRAME_OVERHEAD,
				       rte_pktmbuf_tailroom(m) - GCDL_FRAME_OVERHEAD, &count);
	if (len < 0)
		return len;
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
		flen = (size_t)gcdl_auth_seal(node_worker_key(n, gcdl_shard_owner(n->chunks, n->k,
										    c)),
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
	return (int)count;
}

int
node_worker_frame_range(const struct gcdl_node *n, uint32_t round, const float *src,
			uint32_t lo, uint32_t hi, uint64_t *coords)
{
	for (uint32_t c = lo; c < hi; c++) {
		int rc = frame_chunk(n, round, c, src, n->w->held[c]);

		if (rc < 0)
			return rc;
		*coords += (uint64_t)rc;
	}
	return 0;
}

/* An mbuf for every chunk into held[] (bulk, and one at a time while the
 * pool refills). @return 0, -ENOBUFS (the pool stayed empty) or -ECANCELED
 * (a stop request), with nothing held. */
static int
alloc_held(struct gcdl_node *n)
{
	struct node_worker *w = n->w;
	uint32_t nbulk = 0;

	for (uint32_t c = 0; c < n->chunks; c++) {
		struct rte_mbuf *m;

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
		w->held[c] = m;
		w->held_port[c] = w->links[gcdl_shard_owner(n->chunks, n->k, c)].port;
	}
	return 0;
}

/* v_k of round R into held mbufs, one per chunk, for its owner's port: by
 * this lcore, or cut among the quantizing lcores (quant_lcore.c). */
static int
build_frames(struct gcdl_node *n, uint32_t round)
{
	const struct gcdl_profile *p = &n->prof;
	struct node_worker *w = n->w;
	uint64_t t0, coords = 0;
	float *src = w->v;
	int rc;

	if (n->xg != NULL) {
		/* v_k is the trainer's (node_extgrad_take) */
	} else if (!p->synthetic_gradient) {
		rc = gcdl_engine_worker_gradient(n->e, 0, n->conf.id, round, gcdl_engine_model(n->e),
						 w->v);
		if (rc != 0)
			return rc;
	} else if (w->vq != NULL) {
		memcpy(w->vq, w->v, sizeof(float) * n->dim);
		src = w->vq;
	}
	rc = gcdl_engine_worker_compress(n->e, n->conf.id, round, src);
	if (rc != 0)
		return rc;
	t0 = node_thread_ns();
	rc = alloc_held(n);
	if (rc != 0)
		return rc;
	if (n->ql != NULL)
		rc = node_quant_lcores_frame(n, round, src, &coords);
	else
		rc = node_worker_frame_range(n, round, src, 0, n->chunks, &coords);
	if (rc < 0) {
		w->nheld = n->chunks;
		w->sent = 0;
		free_held(w);
		return rc;
	}
	w->nheld = n->chunks;
	w->sent = 0;
	w->ready_tsc = rte_rdtsc();
	node_count(n, GCDL_CTR_CPU_ENCODE_NS, node_thread_ns() - t0);
	node_count(n, GCDL_CTR_ENCODE_COORDS, coords);
	return node_faults_apply(n, round, w->held, w->held_port, &w->nheld, w->plan, w->scratch,
				 w->scratch_port);
}

/* Round R's frames built from v_k and held until their send time. */
static int
hold_round(struct gcdl_node *n, uint32_t round)
{
	struct node_worker *w = n->w;
	int rc;

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

/* Begin round R: self-test frames, then send nothing (a Bernoulli
 * straggler) or compute and hold the round's frames (model.type external:
 * once its trainer's gradient is in). */
static int
begin_round(struct gcdl_node *n, uint32_t round, uint64_t now)
{
	const struct gcdl_profile *p = &n->prof;
	struct node_worker *w = n->w;
	int straggler;

	node_tel_round(n, round + 1, p->deadline_us);
	if (n->conf.inject_garbage > 0 || n->conf.inject_hostile > 0)
		for (uint32_t a = 0; a < n->k; a++)
			node_inject(n, round, w->links[a].port, w->links[a].mac);
	straggler = node_injected_straggler(n, round);
	if (n->xg != NULL)
		node_extgrad_begin(n, round, straggler);
	if (straggler) {
		node_count(n, GCDL_CTR_SKIPPED, 1);
		return 0;
	}
	w->start_tsc = now;
	if (n->xg != NULL)
		return 0; /* hold_round() once the trainer's gradient is in */
	return hold_round(n, round);
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
	uint64_t vlan = gcdl_counter_get(&n->c, GCDL_CTR_WRONG_VLAN);
	char hint[128] = "";

	if (vlan > 0)
		snprintf(hint, sizeof(hint), "; %" PRIu64 " frames of another VLAN came: is "
			 "network.vlan = %u the job's?", vlan, n->prof.vlan);
	return node_fail(n, -ETIMEDOUT, "no frame from aggregator %u for network.idle_timeout_ms "
			 "= %u ms (round %u, link state %s, %s): is it running, with the same job "
			 "id, on a reachable port? (ports:%s)%s", a, n->prof.idle_timeout_ms,
			 l->round == GCDL_JOIN_NONE ? 0 : l->round,
			 l->state == GCDL_LINK_HELLO ? "hello" :
			 l->state == GCDL_LINK_MODEL ? "model" : "ready",
			 l->have_mac ? "address known" : "address unknown", links, hint);
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
	/* its update will come, or be asked for */
	for (uint32_t a = 0; a < n->k && n->relay == NULL; a++)
		if (w->links[a].repair_at == 0)
			w->links[a].repair_at = now + w->blind_tsc;
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
		} else if (l->state == GCDL_LINK_READY && l->repair_at != 0 &&
			   l->round < p->rounds && n->relay == NULL) {
			/* frames of the update of its round are missing */
			if (now >= l->repair_at) {
				repair_or_resync(n, a, now);
				work++;
			}
			if (l->repair_at != 0)
				node_wake_at(lp, l->repair_at);
		}
	}
	rc = poll_ports(n, now, &work);
	if (rc != 0)
		return rc;
	if (n->relay != NULL && w->links[0].state == GCDL_LINK_READY &&
	    w->links[0].round < p->rounds) {
		struct gcdl_link *l = &w->links[0];

		rc = node_relay_poll(n, lp, now);
		if (rc == 1 && n->xg != NULL)
			rc = node_extgrad_applied(n, l->round) == 0 ? 1 : n->rc;
		if (rc == 1) {
			l->round++;
			l->last_rx = now;
			if (l->round < p->rounds)
				node_relay_begin(n, l->round);
			work++;
		} else if (rc == -ETIMEDOUT) {
			l->state = GCDL_LINK_HELLO; /* resync: the model and momentum again */
			l->next_hello = now;
		} else if (rc < 0) {
			return rc;
		}
	}
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
	if (n->xg != NULL && w->pending == GCDL_JOIN_NONE) {
		uint32_t r;

		if (node_extgrad_take(n, w->v, &r)) {
			rc = hold_round(n, r);
			if (rc != 0)
				return rc;
			work++;
		}
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
