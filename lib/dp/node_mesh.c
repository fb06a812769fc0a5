/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A mesh peer (network.topology = mesh): peer K is worker K and a replica of
 * the aggregator. It multicasts its gradient frames to every peer (to the
 * mesh group MAC, on every port), stores its own and its peers' frames, and
 * applies each round exactly as peer 0 commits it (gcdl/mesh.h,
 * docs/MULTIHOST.md "Mesh"):
 *
 *   round t:     send its chunks (unless a Bernoulli straggler; [faults]
 *                applies at transmit), store what arrives;
 *   peer 0:      when every frame is in or at the deadline: COMMIT to all,
 *                apply, open t+1;
 *   other peers: on the COMMIT, ask for what is missing (REPAIR, every
 *                repair period after the deadline, at most MESH_REPAIR_TRIES
 *                times); when complete, apply, open t+1;
 *   any peer:    answers REPAIRs with the frames it holds (peer 0 also with
 *                its commit);
 *   out of sync: a peer whose tries ran out, or whose model checksum differs
 *                from the commit's, sends no gradient and asks peer 0 for
 *                its state (RESYNC, with its incarnation); peer 0 answers
 *                with a CONFIG that echoes the incarnation and carries the
 *                run's session (gcdl/auth.h: the key of every other frame),
 *                then its model (MODEL frames) and momentum (UPDATE frames)
 *                at the start of its current round, and the peer rejoins
 *                from that round. Every peer but 0 starts out of sync.
 *
 * Every peer ends each round it applies with gcdl_round_end_close() (metrics
 * row, progress, peer 0's checkpoints).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>
#include <sodium.h>

#include "gcdl/join.h"
#include "gcdl/mesh.h"

#include "node_internal.h"
#include "seterr.h"

#define MESH_REPAIR_TRIES 16    /* repair requests per round before a resync */
#define MESH_REPAIR_MIN_US 2000 /* least time between repair requests */
#define MESH_REPAIR_FAST_US 500 /* first request after a commit that leaves gaps */
#define MESH_RESYNC_US 20000    /* resync request period */
#define MESH_LINGER_US 2000000  /* peer 0 answers repairs and resyncs this long after the end */

static const uint8_t MESH_GROUP[6] = GCDL_MESH_GROUP;

struct node_mesh {
	struct gcdl_mesh *m;
	struct gcdl_fault_send *plan;
	float *v;                 /* the gradient v_k */
	int started;              /* the first poll happened */
	uint32_t t;               /* the round in progress */
	uint64_t start_tsc;
	uint64_t deadline_tsc;    /* after start */
	uint64_t repair_tsc;      /* between repair requests */
	uint64_t next_repair;
	int fast_repair;          /* the first request after the commit is scheduled */
	uint64_t next_resync;
	uint64_t last_rx;
	uint64_t idle_tsc;
	uint64_t t0;
	int joined;               /* has a replica's state (peer 0: from the start) */
	uint64_t incarnation;     /* random per process start: peer 0's config echoes it */
	uint32_t resync_tries;    /* resyncs under the session key without an answer */
	int waiting;              /* peer 0: round 0's clock waits for the peers */
	uint64_t join_until;
	uint32_t peers_seen;
	uint8_t *seen;            /* peer 0: peers that asked for the state */
	/* a resync being assembled */
	uint32_t rs_round;
	uint32_t rs_got;
	uint8_t *rs_have;         /* 2 * mchunks: model frames, then momentum frames */
	float *rs_w, *rs_mom;
	uint64_t ctl_sent;        /* control frames built (for the [faults] draws) */
	uint64_t mesh_drops[GCDL_MESH_DROP__COUNT]; /* malformed commits and repairs */
	struct gcdl_fault_counts fc;
};

void
node_mesh_fini(struct gcdl_node *n)
{
	struct node_mesh *x = n->m;

	if (x == NULL)
		return;
	gcdl_mesh_free(x->m);
	free(x->plan);
	free(x->v);
	free(x->rs_have);
	free(x->rs_w);
	free(x->rs_mom);
	free(x->seen);
	rte_free(x);
	n->m = NULL;
}

int
node_mesh_init(struct gcdl_node *n, char *err, size_t errlen)
{
	const struct gcdl_profile *p = &n->prof;
	struct gcdl_mesh_params mp = {
		.nodes = n->n, .chunks = n->chunks, .self = n->conf.id, .committer = 0,
		.repair_tries = MESH_REPAIR_TRIES, .max_payload = gcdl_engine_max_payload(n->e),
	};
	size_t set = gcdl_mesh_set_bytes(n->chunks, n->n);
	struct node_mesh *x;
	double dl;

	if (p->straggler_model == GCDL_STRAGGLER_TIMING) {
		gcdl_seterr(err, errlen, "stragglers.model timing is not implemented for "
			    "network.topology mesh (none or bernoulli)");
		return -EINVAL;
	}
	if (set == 0 || n->n > UINT16_MAX ||
	    GCDL_FRAME_HDR_LEN + GCDL_MESH_COMMIT_HDR + set > gcdl_profile_frame_mtu(p)) {
		gcdl_seterr(err, errlen, "network.topology mesh: the commit of %u chunks x %u nodes "
			    "(%zu bytes of set) does not fit one frame of coding.mtu %u%s", n->chunks,
			    n->n, set, p->mtu, p->key_file[0] ? " (less the 16-byte tag)" : "");
		return -EINVAL;
	}
	x = rte_zmalloc_socket("gcdl_mesh", sizeof(*x), RTE_CACHE_LINE_SIZE, (int)n->conf.socket);
	if (x == NULL)
		goto nomem;
	n->m = x;
	x->m = gcdl_mesh_create(&mp);
	x->plan = calloc(2 * (size_t)n->chunks, sizeof(*x->plan));
	x->v = malloc(sizeof(float) * n->dim);
	x->rs_have = calloc(2 * (size_t)n->mchunks, 1);
	x->rs_w = malloc(sizeof(float) * n->dim);
	x->rs_mom = malloc(sizeof(float) * n->dim);
	x->seen = calloc(n->n, 1);
	if (x->m == NULL || x->plan == NULL || x->v == NULL || x->rs_have == NULL || x->rs_w == NULL ||
	    x->rs_mom == NULL || x->seen == NULL)
		goto nomem;
	if (n->conf.resume != NULL) {
		char why[384];

		if (n->conf.id != 0) {
			gcdl_seterr(err, errlen, "--resume is for peer 0, which holds the job's "
				    "state: peer %u resyncs from it", n->conf.id);
			return -EINVAL;
		}
		if (gcdl_checkpoint_restore(n->conf.resume, p, n->e, why, sizeof(why)) != 0) {
			gcdl_seterr(err, errlen, "--resume: %s", why);
			return -EINVAL;
		}
	}
	dl = p->deadline_mode == GCDL_DEADLINE_FIXED ? p->deadline_us : p->deadline_max_us;
	x->deadline_tsc = node_us_tsc(n, dl);
	x->repair_tsc = node_us_tsc(n, RTE_MAX(dl / 4, (double)MESH_REPAIR_MIN_US));
	x->idle_tsc = node_us_tsc(n, (double)p->idle_timeout_ms * 1000);
	gcdl_engine_frame_limits(n->e, 0, p->rounds, &n->lim);
	n->lim.senders = n->n;
	n->lim.chunk_coords[GCDL_MSG_COMMIT] = 1;
	n->lim.chunk_coords[GCDL_MSG_CONFIG] = 1;
	n->lim.chunk_coords[GCDL_MSG_HELLO] = 1;
	n->lim.chunk_coords[GCDL_MSG_REPAIR] = 1;
	n->lim.chunk_coords[GCDL_MSG_RESYNC] = 1;
	n->lim.chunk_coords[GCDL_MSG_MODEL] = n->mc;
	n->lim.chunk_coords[GCDL_MSG_UPDATE] = n->mc;
	/* peer 0 holds the job's state; every other peer joins by asking it (a
	 * resync), which also lines the peers up for the first round */
	x->t0 = rte_rdtsc();
	x->last_rx = x->t0;
	x->joined = n->conf.id == 0;
	x->waiting = n->conf.id == 0;
	x->join_until = x->t0 + node_us_tsc(n, (double)p->join_wait_ms * 1000);
	x->t = n->re.first_round;
	x->rs_round = UINT32_MAX;
	randombytes_buf(&x->incarnation, sizeof(x->incarnation));
	if (x->joined) {
		/* peer 0 starts this run: its session (frames of another run never verify) */
		uint64_t session;

		randombytes_buf(&session, sizeof(session));
		node_set_session(n, session);
	}
	return 0;
nomem:
	gcdl_seterr(err, errlen, "mesh peer %u: out of memory", n->conf.id);
	return -ENOMEM;
}

int
node_mesh_in_sync(const struct gcdl_node *n)
{
	const struct node_mesh *x = n->m;

	return x != NULL && x->joined && gcdl_mesh_synced(x->m);
}

void
node_mesh_counters(const struct gcdl_node *n, struct gcdl_counters *c)
{
	const struct node_mesh *x = n->m;
	const struct gcdl_mesh_stats *s;

	if (x == NULL)
		return;
	s = gcdl_mesh_stats(x->m);
	c->v[GCDL_CTR_MESH_STORED] = s->stored;
	c->v[GCDL_CTR_MESH_STALE] = s->stale;
	c->v[GCDL_CTR_MESH_COMMITS_TAKEN] = s->commits;
	c->v[GCDL_CTR_MESH_COMMIT_DUPS] = s->commit_dups;
	c->v[GCDL_CTR_MESH_LEFT_OUT] = s->left_out;
	c->v[GCDL_CTR_MESH_REPAIRED] = s->repaired;
	c->v[GCDL_CTR_MESH_SERVED_FRAMES] = s->served_frames;
	c->v[GCDL_CTR_MESH_SERVED_COMMITS] = s->served_commits;
	c->v[GCDL_CTR_MESH_GAVE_UP] = s->gave_up;
	c->v[GCDL_CTR_MESH_MISMATCHES] = s->mismatches;
	c->v[GCDL_CTR_MESH_RESYNCS] = s->resyncs;
	for (int r = 1; r < GCDL_MESH_DROP__COUNT; r++)
		c->v[GCDL_CTR_MESH_DROP(r)] = s->drops[r] + x->mesh_drops[r];
}

/* [faults] drop_p also applies to every other frame a mesh peer sends
 * (commits, repair requests and answers, state): a seeded draw per frame,
 * keyed by (faults seed, peer, frame number). */
static int
ctl_lost(struct gcdl_node *n)
{
	struct node_mesh *x = n->m;
	uint64_t z;

	x->ctl_sent++;
	if (n->faults.drop_p <= 0)
		return 0;
	z = n->faults.seed ^ ((uint64_t)n->conf.id << 48) ^ (x->ctl_sent * 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	if ((double)(z >> 11) * 0x1.0p-53 >= n->faults.drop_p)
		return 0;
	node_count(n, GCDL_CTR_MESH_CONTROL_DROPPED, 1);
	return 1;
}

/* Send a control frame, unless [faults] drops it. */
static void
ctl_send(struct gcdl_node *n, uint16_t pi, const uint8_t *dst, const struct gcdl_frame_hdr *h,
	 const void *payload)
{
	if (!ctl_lost(n))
		node_send(n, pi, dst, h, payload, node_tx_key(n, h->type));
}

static void
send_all(struct gcdl_node *n, const struct gcdl_frame_hdr *h, const void *payload)
{
	for (uint16_t pi = 0; pi < n->nports; pi++)
		ctl_send(n, pi, MESH_GROUP, h, payload);
}

static void
go_out(struct gcdl_node *n, uint64_t now)
{
	struct node_mesh *x = n->m;

	x->next_resync = now;
	x->resync_tries = 0;
	x->rs_got = 0;
	x->rs_round = UINT32_MAX;
	memset(x->rs_have, 0, 2 * (size_t)n->mchunks);
}

/* Round t: open it, and send this peer's chunks unless it is a straggler. */
static int
start_round(struct gcdl_node *n, uint32_t t, uint64_t now)
{
	const struct gcdl_profile *p = &n->prof;
	struct node_mesh *x = n->m;
	float *w = gcdl_engine_model(n->e);
	struct gcdl_frame_hdr h;
	uint64_t t0;
	int rc, ncopies;

	x->t = t;
	x->start_tsc = now;
	/* the commit is due at peer 0's deadline */
	x->next_repair = now + x->deadline_tsc + x->repair_tsc;
	x->fast_repair = 0;
	node_tel_round(n, t + 1, node_tsc_us(n, x->deadline_tsc));
	rc = gcdl_mesh_begin_round(x->m, t, gcdl_mesh_checksum(w, n->dim));
	if (rc != 0)
		return node_fail(n, rc, "round %u: %s", t, strerror(-rc));
	if (t >= p->rounds || !node_mesh_in_sync(n))
		return 0;
	if (n->conf.inject_garbage > 0 || n->conf.inject_hostile > 0)
		for (uint16_t pi = 0; pi < n->nports; pi++)
			node_inject(n, t, pi, MESH_GROUP);
	if (node_injected_straggler(n, t)) {
		node_count(n, GCDL_CTR_SKIPPED, 1);
		return 0;
	}
	rc = gcdl_engine_worker_gradient(n->e, 0, n->conf.id, t, w, x->v);
	if (rc == 0)
		rc = gcdl_engine_worker_compress(n->e, n->conf.id, t, x->v);
	if (rc != 0)
		return node_fail(n, rc, "gradient of round %u: %s", t, strerror(-rc));
	t0 = node_thread_ns();
	node_hdr(n, &h, gcdl_engine_msg_type(n->e), t);
	h.scale_block = h.type == GCDL_MSG_ONEBIT ? (uint16_t)p->scale_block : 0;
	memcpy(h.dst, MESH_GROUP, 6);
	memset(&x->fc, 0, sizeof(x->fc));
	ncopies = gcdl_faults_plan(&n->faults, t, n->conf.id, n->chunks, x->plan, &x->fc);
	if (ncopies < 0)
		return node_fail(n, ncopies, "[faults] plan of round %u: %s", t, strerror(-ncopies));
	node_count(n, GCDL_CTR_FAULT_DROPPED, x->fc.dropped);
	node_count(n, GCDL_CTR_FAULT_DUPLICATED, x->fc.duplicated);
	node_count(n, GCDL_CTR_FAULT_REORDERED, x->fc.reordered);
	/* every chunk is stored here; what goes out is [faults]' plan of them */
	for (uint32_t c = 0; c < n->chunks; c++) {
		uint32_t count = 0;
		int len = gcdl_engine_encode_chunk(n->e, n->conf.id, t, c, x->v, n->payload,
						   n->frame_cap - GCDL_FRAME_OVERHEAD, &count);

		if (len < 0)
			return node_fail(n, len, "encoding round %u: %s%s", t, strerror(-len),
					 len == -EDOM ? " (non-finite gradient: the model diverged, "
							"lower optim.lr)" : "");
		h.chunk = c;
		h.first_coord = c * n->chunk_coords;
		h.coord_count = count;
		h.payload_len = (uint16_t)len;
		gcdl_mesh_store(x->m, &h, n->payload);
		node_count(n, GCDL_CTR_ENCODE_COORDS, count);
	}
	for (int i = 0; i < ncopies; i++) {
		const struct gcdl_fault_send *s = &x->plan[i];
		uint32_t count = 0;
		int len = gcdl_engine_encode_chunk(n->e, n->conf.id, t, s->index, x->v,
						   n->payload, n->frame_cap - GCDL_FRAME_OVERHEAD,
						   &count);
		ssize_t fl;

		h.chunk = s->index;
		h.first_coord = s->index * n->chunk_coords;
		h.coord_count = count;
		h.payload_len = (uint16_t)len;
		fl = gcdl_frame_encode(&h, n->payload, n->frame, n->frame_cap);
		if (fl > 0 && node_tx_key(n, h.type) != NULL)
			fl = gcdl_auth_seal(node_tx_key(n, h.type), n->frame, n->frame_cap);
		if (fl < 0)
			return node_fail(n, (int)fl, "framing round %u: %s", t, strerror((int)-fl));
		if (s->corrupt && gcdl_faults_flip(n->frame, (size_t)fl, s->flip) >= 0)
			node_count(n, GCDL_CTR_FAULT_CORRUPTED, 1);
		for (uint16_t pi = 0; pi < n->nports; pi++)
			node_send_raw(n, pi, MESH_GROUP, n->frame, (size_t)fl, 0);
		node_count(n, GCDL_CTR_MESH_GRADIENT_SENT, 1);
	}
	node_count(n, GCDL_CTR_CPU_ENCODE_NS, node_thread_ns() - t0);
	node_count(n, GCDL_CTR_CONTRIBUTED, 1);
	return 0;
}

static void
send_commit(struct gcdl_node *n, uint16_t pi, const uint8_t *dst,
	    const struct gcdl_mesh_commit *c)
{
	struct gcdl_frame_hdr h;
	ssize_t len = gcdl_mesh_commit_encode(c, n->chunks, n->n, n->payload,
					      GCDL_MESH_COMMIT_HDR + GCDL_MESH_SET_MAX);

	if (len < 0)
		return;
	node_hdr(n, &h, GCDL_MSG_COMMIT, c->round);
	h.payload_len = (uint16_t)len;
	if (dst == NULL)
		send_all(n, &h, n->payload);
	else
		ctl_send(n, pi, dst, &h, n->payload);
	node_count(n, GCDL_CTR_MESH_COMMITS_SENT, 1);
}

struct reply_to {
	struct gcdl_node *n;
	uint16_t pi;
	uint8_t mac[6];
};

static int
reply_frame(void *arg, const struct gcdl_frame_hdr *hdr, const uint8_t *payload)
{
	struct reply_to *r = arg;

	/* the contributor's id stays in the header: it is its frame */
	ctl_send(r->n, r->pi, r->mac, hdr, payload);
	return 0;
}

static int
reply_commit(void *arg, const struct gcdl_mesh_commit *c)
{
	struct reply_to *r = arg;

	send_commit(r->n, r->pi, r->mac, c);
	return 0;
}

/* The whole vector as model-sized frames of round t (model: w_t, update:
 * the momentum buffer). */
static void
send_state(struct gcdl_node *n, uint16_t pi, const uint8_t *dst, int type, const float *vec)
{
	struct gcdl_frame_hdr h;

	node_hdr(n, &h, type, n->m->t);
	for (uint32_t c = 0; c < n->mchunks; c++) {
		uint32_t lo = c * n->mc, cnt = RTE_MIN(n->mc, n->dim - lo);

		h.chunk = c;
		h.first_coord = lo;
		h.coord_count = cnt;
		h.payload_len = (uint16_t)(4 * cnt);
		gcdl_frame_put_floats(n->payload, vec + lo, cnt);
		ctl_send(n, pi, dst, &h, n->payload);
	}
}

/* Peer 0's config to a requester: the run's session, its incarnation echoed. */
static void
send_config(struct gcdl_node *n, uint16_t pi, const struct gcdl_frame_hdr *hdr,
	    const struct gcdl_hello *req, uint32_t status)
{
	struct gcdl_config c;
	struct gcdl_frame_hdr h;
	int len;

	memset(&c, 0, sizeof(c));
	c.version = GCDL_JOIN_VERSION;
	c.status = status;
	c.profile_hash = n->hash;
	c.worker = req->worker;
	c.incarnation = req->incarnation;
	c.session = n->session;
	c.round = n->m->t;
	c.rounds = n->prof.rounds;
	c.dim = n->dim;
	c.chunks = n->chunks;
	c.chunk_coords = n->chunk_coords;
	c.model_coords = n->mc;
	c.aggregators = 1;
	c.chunk_count = n->chunks;
	c.coord_count = n->dim;
	len = gcdl_config_encode(&c, n->payload, GCDL_CONFIG_FIXED_LEN);
	if (len < 0)
		return;
	node_hdr(n, &h, GCDL_MSG_CONFIG, n->m->t);
	h.payload_len = (uint16_t)len;
	ctl_send(n, pi, hdr->src, &h, n->payload);
}

/* Peer 0 answers a hello under the job key with the session only. */
static void
answer_challenge(struct gcdl_node *n, uint16_t pi, const struct gcdl_frame_hdr *hdr,
		 const struct gcdl_hello *req)
{
	if (n->conf.id != 0 || !n->have_session)
		return;
	send_config(n, pi, hdr, req, GCDL_JOIN_CHALLENGE);
	node_count(n, GCDL_CTR_CHALLENGES, 1);
}

/* Peer 0 answers a proven resync request with a config and its state at the
 * start of round t. */
static void
answer_resync(struct gcdl_node *n, uint16_t pi, const struct gcdl_frame_hdr *hdr,
	      const struct gcdl_hello *req)
{
	if (n->conf.id != 0 || !node_mesh_in_sync(n))
		return;
	send_config(n, pi, hdr, req, GCDL_JOIN_ACCEPTED);
	send_state(n, pi, hdr->src, GCDL_MSG_MODEL, gcdl_engine_model(n->e));
	send_state(n, pi, hdr->src, GCDL_MSG_UPDATE, gcdl_engine_momentum(n->e));
	node_count(n, GCDL_CTR_MESH_RESYNC_ANSWERS, 1);
}

/* Peer 0's config: the run's session, when it answers this process. */
static void
on_config(struct gcdl_node *n, const struct gcdl_frame_hdr *hdr, const uint8_t *pl, uint64_t now)
{
	struct node_mesh *x = n->m;
	struct gcdl_config c;

	if (hdr->sender != 0 || gcdl_config_decode(pl, hdr->payload_len, &c) != 0 ||
	    (c.status != GCDL_JOIN_ACCEPTED && c.status != GCDL_JOIN_CHALLENGE)) {
		node_count(n, GCDL_CTR_DROP(GCDL_DROP_PAYLOAD), 1);
		return;
	}
	if (c.worker != n->conf.id || c.incarnation != x->incarnation || node_mesh_in_sync(n)) {
		node_count(n, GCDL_CTR_LATE, 1); /* another process's, or an earlier answer */
		return;
	}
	if (!n->have_session || n->session != c.session)
		node_set_session(n, c.session);
	if (c.status == GCDL_JOIN_CHALLENGE) {
		/* prove the session at once: a resync under its key */
		x->resync_tries = 0;
		x->next_resync = now;
	}
}

/* A model (w) or update (momentum) frame of a resync answer. */
static int
on_state(struct gcdl_node *n, const struct gcdl_frame_hdr *hdr, const uint8_t *pl, uint64_t now)
{
	struct node_mesh *x = n->m;
	size_t slot = (hdr->type == GCDL_MSG_UPDATE ? n->mchunks : 0) + hdr->chunk;

	if (node_mesh_in_sync(n) || hdr->round < x->t) {
		node_count(n, GCDL_CTR_LATE, 1);
		return 0;
	}
	if (hdr->round != x->rs_round) {
		x->rs_round = hdr->round;
		x->rs_got = 0;
		memset(x->rs_have, 0, 2 * (size_t)n->mchunks);
	}
	if (x->rs_have[slot]) {
		node_count(n, GCDL_CTR_DUPLICATES, 1);
		return 0;
	}
	/* one value that is not finite would spread to every coordinate */
	if (!gcdl_frame_floats_finite(pl, hdr->coord_count)) {
		node_count(n, GCDL_CTR_REJECTED, 1);
		return 0;
	}
	x->rs_have[slot] = 1;
	node_count(n, GCDL_CTR_DOWNLINK_ACCEPTED, 1);
	gcdl_frame_get_floats((hdr->type == GCDL_MSG_UPDATE ? x->rs_mom : x->rs_w) +
			      hdr->first_coord, pl, hdr->coord_count);
	if (++x->rs_got < 2 * n->mchunks)
		return 0;
	memcpy(gcdl_engine_model(n->e), x->rs_w, sizeof(float) * n->dim);
	memcpy(gcdl_engine_momentum(n->e), x->rs_mom, sizeof(float) * n->dim);
	node_count(n, GCDL_CTR_JOINS, 1);
	node_tel_closed(n, x->rs_round, 0);
	n->re.rounds_done = x->rs_round;
	if (x->joined)
		gcdl_mesh_resync(x->m, x->rs_round);
	x->joined = 1;
	if (x->rs_round >= n->prof.rounds) {
		x->t = x->rs_round;
		n->finished = 1;
		return 0;
	}
	return start_round(n, x->rs_round, now);
}

static int
dispatch(struct gcdl_node *n, uint16_t pi, const struct gcdl_frame_hdr *hdr, const uint8_t *pl,
	 uint64_t now)
{
	struct node_mesh *x = n->m;
	struct gcdl_mesh_commit c;
	struct gcdl_mesh_repair r;
	struct reply_to rt = { n, pi, { 0 } };
	struct gcdl_mesh_emit emit = { reply_frame, reply_commit, &rt };
	int rc;

	memcpy(rt.mac, hdr->src, 6);
	switch (hdr->type) {
	case GCDL_MSG_COMMIT:
		rc = gcdl_mesh_commit_decode(pl, hdr->payload_len, n->chunks, n->n, &c);
		if (rc > 0) {
			x->mesh_drops[rc]++;
			return 0;
		}
		c.round = hdr->round;
		rc = gcdl_mesh_on_commit(x->m, hdr->sender, &c);
		if (rc == -EALREADY)
			node_count(n, GCDL_CTR_DUPLICATES, 1);
		else if (rc == -ENOTRECOVERABLE)
			go_out(n, now);
		else if (rc == 0 && c.round > x->t)
			x->next_repair = now; /* peer 0 is ahead: catch up at once */
		return 0;
	case GCDL_MSG_REPAIR:
		rc = gcdl_mesh_repair_decode(pl, hdr->payload_len, n->chunks, n->n, &r);
		if (rc > 0) {
			x->mesh_drops[rc]++;
			return 0;
		}
		r.round = hdr->round;
		r.from = hdr->sender;
		gcdl_mesh_on_repair(x->m, &r, &emit);
		return 0;
	case GCDL_MSG_HELLO:
	case GCDL_MSG_RESYNC: {
		struct gcdl_hello req;

		if (gcdl_hello_decode(pl, hdr->payload_len, &req) != 0 ||
		    req.worker != hdr->sender || req.version != GCDL_JOIN_VERSION) {
			node_count(n, GCDL_CTR_DROP(GCDL_DROP_PAYLOAD), 1);
			return 0;
		}
		if (req.profile_hash != n->hash) {
			node_count(n, GCDL_CTR_REFUSED, 1);
			return 0;
		}
		/* a hello under the job key (perhaps a replay) earns the session
		 * only; the state goes to a resync under the session's key */
		if (hdr->type == GCDL_MSG_HELLO && n->conf.auth != NULL) {
			answer_challenge(n, pi, hdr, &req);
			return 0;
		}
		if (!x->seen[hdr->sender]) {
			x->seen[hdr->sender] = 1;
			x->peers_seen++;
		}
		answer_resync(n, pi, hdr, &req);
		return 0;
	}
	case GCDL_MSG_CONFIG:
		on_config(n, hdr, pl, now);
		return 0;
	case GCDL_MSG_MODEL:
	case GCDL_MSG_UPDATE:
		if (hdr->sender != 0) {
			/* only peer 0 hands out the state */
			node_count(n, GCDL_CTR_DROP(GCDL_DROP_SENDER), 1);
			return 0;
		}
		return on_state(n, hdr, pl, now);
	default:
		rc = gcdl_mesh_store(x->m, hdr, pl);
		if (rc == 0) {
			node_count(n, GCDL_CTR_UPLINK_ACCEPTED, 1);
			node_count(n, GCDL_CTR_INGEST_COORDS, hdr->coord_count);
		} else if (rc == -EALREADY) {
			node_count(n, GCDL_CTR_DUPLICATES, 1);
		} else if (rc == -ESTALE) {
			node_count(n, GCDL_CTR_LATE, 1);
		} else {
			node_count(n, GCDL_CTR_REJECTED, 1);
		}
		return 0;
	}
}

static int
poll_ports(struct gcdl_node *n, uint64_t now, uint32_t *work)
{
	struct node_mesh *x = n->m;
	struct rte_mbuf *pkts[NODE_MAX_BURST];
	uint64_t t0 = 0;
	int rc = 0;

	for (uint16_t pi = 0; pi < n->nports; pi++) {
		uint16_t nb = node_rx(n, pi, pkts);

		if (nb > 0 && t0 == 0)
			t0 = node_thread_ns();
		for (uint16_t i = 0; i < nb && rc == 0; i++) {
			struct gcdl_frame_hdr hdr;
			const uint8_t *pl;

			/* validated, and authenticated with job.key_file; drops counted */
			if (node_decode(n, pkts[i], &hdr, &pl) != 0)
				continue;
			x->last_rx = now;
			if (hdr.sender == n->conf.id) {
				node_count(n, GCDL_CTR_MESH_OWN_ECHO, 1);
				continue;
			}
			rc = dispatch(n, pi, &hdr, pl, now);
		}
		if (nb > 0)
			rte_pktmbuf_free_bulk(pkts, nb);
		*work += nb;
	}
	if (t0 != 0)
		node_count(n, GCDL_CTR_CPU_INGEST_NS, node_thread_ns() - t0);
	return rc;
}

/* One step of the round in progress: commit (peer 0), repair, apply. */
static int
advance(struct gcdl_node *n, struct gcdl_loop *lp, uint64_t now, uint32_t *work)
{
	const struct gcdl_profile *p = &n->prof;
	struct node_mesh *x = n->m;
	struct gcdl_mesh_commit c;
	struct gcdl_mesh_repair r;
	struct gcdl_round_info info;
	struct gcdl_frame_hdr h;
	uint64_t c0;
	int rc, last;

	if (!node_mesh_in_sync(n)) {
		if (now >= x->next_resync) {
			struct gcdl_hello req = { .version = GCDL_JOIN_VERSION, .worker = n->conf.id,
						  .profile_hash = n->hash,
						  .incarnation = x->incarnation, .round = x->t };
			int len = gcdl_hello_encode(&req, n->payload, GCDL_HELLO_LEN);
			/* with a job key: a resync under the session's key once a
			 * config gave it, a hello under the job key before (or when
			 * two resyncs went unanswered: peer 0 restarted) */
			int resync = n->conf.auth == NULL || (n->have_session && x->resync_tries < 2);

			node_hdr(n, &h, resync ? GCDL_MSG_RESYNC : GCDL_MSG_HELLO, 0);
			h.payload_len = (uint16_t)len;
			send_all(n, &h, n->payload);
			x->resync_tries = resync ? x->resync_tries + 1 : 0;
			node_count(n, GCDL_CTR_RESYNC_REQUESTS, 1);
			x->next_resync = now + node_us_tsc(n, MESH_RESYNC_US);
			(*work)++;
		}
		node_wake_at(lp, x->next_resync);
		return 0;
	}
	switch (gcdl_mesh_state(x->m)) {
	case GCDL_MESH_COLLECT:
	case GCDL_MESH_REPAIR:
		if (n->conf.id == 0) {
			if (x->waiting) {
				/* the first round's clock starts when every peer asked for
				 * the state, or after network.join_wait_ms */
				if (x->peers_seen + 1 < n->n && now < x->join_until) {
					node_wake_at(lp, x->join_until);
					return 0;
				}
				x->waiting = 0;
				x->start_tsc = now;
				x->t0 = now;
				gcdl_round_end_start(&n->re);
			}
			if (gcdl_mesh_held(x->m) < n->chunks * n->n &&
			    now < x->start_tsc + x->deadline_tsc) {
				node_wake_at(lp, x->start_tsc + x->deadline_tsc);
				return 0;
			}
			if (gcdl_mesh_held(x->m) == n->chunks * n->n)
				node_count(n, GCDL_CTR_CLOSED_COMPLETE, 1);
			else
				node_count(n, GCDL_CTR_CLOSED_DEADLINE, 1);
			rc = gcdl_mesh_commit_build(x->m, &c);
			if (rc != 0)
				return node_fail(n, rc, "commit of round %u: %s", x->t, strerror(-rc));
			send_commit(n, 0, NULL, &c);
			(*work)++;
			break;
		}
		if (gcdl_mesh_state(x->m) == GCDL_MESH_REPAIR && !x->fast_repair) {
			/* the commit is in; what it lists and this peer lacks is lost */
			x->fast_repair = 1;
			x->next_repair = RTE_MIN(x->next_repair,
						 now + node_us_tsc(n, MESH_REPAIR_FAST_US));
		}
		if (now < x->next_repair) {
			node_wake_at(lp, x->next_repair);
			return 0;
		}
		rc = gcdl_mesh_repair_build(x->m, &r);
		x->next_repair = now + x->repair_tsc;
		(*work)++;
		if (rc == -ETIMEDOUT) {
			go_out(n, now);
			return 0;
		}
		if (rc != 0)
			return 0;
		{
			ssize_t len = gcdl_mesh_repair_encode(&r, n->chunks, n->n, n->payload,
							      GCDL_MESH_REPAIR_HDR +
							      GCDL_MESH_SET_MAX);

			if (len < 0)
				return node_fail(n, (int)len, "repair request: %s",
						 strerror((int)-len));
			node_hdr(n, &h, GCDL_MSG_REPAIR, x->t);
			h.payload_len = (uint16_t)len;
			send_all(n, &h, n->payload);
			node_count(n, GCDL_CTR_MESH_REPAIRS_SENT, 1);
		}
		return 0;
	default:
		break;
	}
	if (gcdl_mesh_state(x->m) != GCDL_MESH_READY)
		return 0;
	c0 = node_thread_ns();
	rc = gcdl_mesh_apply(x->m, n->e, NULL, &info);
	node_count(n, GCDL_CTR_CPU_DECODE_NS, node_thread_ns() - c0);
	node_count(n, GCDL_CTR_DECODE_COORDS, (uint64_t)n->dim * info.contributors);
	if (rc != 0)
		return node_fail(n, rc, "applying round %u: %s", x->t, strerror(-rc));
	(*work)++;
	node_count(n, GCDL_CTR_APPLIED, 1);
	last = x->t + 1 >= p->rounds || node_stop_requested(n);
	gcdl_figure_max(&n->c, GCDL_FIG_MAX_ROUND_US, node_tsc_us(n, now - x->start_tsc));
	gcdl_figure_set(&n->c, GCDL_FIG_WALL_S, node_tsc_us(n, now - x->t0) / 1e6);
	rc = gcdl_round_end_close(&n->re, x->t, &info, node_tsc_us(n, now - x->start_tsc) / 1e3,
				  last, n->fail, sizeof(n->fail));
	if (rc != 0)
		return node_fail(n, rc, "%s", n->fail);
	node_tel_closed(n, x->t + 1, info.stragglers);
	if (last) {
		n->stopped = x->t + 1 < p->rounds;
		x->t++;
		n->finished = 1;
		/* peer 0 lingers to answer the last repairs and resyncs */
		if (n->conf.id == 0 && !n->conf.local && !n->stopped)
			n->linger_until = rte_rdtsc() + node_us_tsc(n, MESH_LINGER_US);
		return 0;
	}
	return start_round(n, x->t + 1, now);
}

int
node_mesh_poll(struct gcdl_node *n, struct gcdl_loop *lp)
{
	const struct gcdl_profile *p = &n->prof;
	struct node_mesh *x = n->m;
	uint64_t now = rte_rdtsc();
	uint32_t work = 0;
	int rc;

	if (!x->started) {
		/* peer 0 starts with the job's state and opens its first round; the
		 * others ask it for that state */
		x->started = 1;
		x->last_rx = now;
		if (x->joined) {
			rc = start_round(n, x->t, now);
			if (rc != 0)
				return rc;
		} else {
			go_out(n, now);
		}
	}
	if (node_stop_requested(n) && !n->finished) {
		n->stopped = 1;
		n->finished = 1;
		return 1;
	}
	if (n->finished) {
		if (node_stop_requested(n) && n->linger_until != 0)
			n->linger_until = 1;
	} else if (now - x->last_rx > x->idle_tsc) {
		return node_fail(n, -ETIMEDOUT, "no frame from any mesh peer for "
				 "network.idle_timeout_ms = %u ms (round %u): are they running, "
				 "with the same job id, on a reachable port?", p->idle_timeout_ms,
				 x->t);
	}
	rc = poll_ports(n, now, &work);
	if (rc != 0)
		return rc;
	if (!n->finished) {
		rc = advance(n, lp, now, &work);
		if (rc != 0)
			return rc;
	}
	return (int)work;
}
