/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A mesh node (network.topology = mesh, --role worker --id K), one loop on
 * the main lcore. Node K is worker K and a replica of the aggregator: it
 * multicasts its gradient frames to every peer (to the mesh group MAC, on
 * every port), stores its own and its peers' frames, and applies each round
 * exactly as node 0 commits it (gcdl/mesh.h, docs/MULTIHOST.md "Mesh"):
 *
 *   round t:     send its chunks (unless a Bernoulli straggler; [faults]
 *                applies at transmit), store what arrives;
 *   node 0:      when every frame is in or at the deadline: COMMIT to all,
 *                apply, open t+1;
 *   other nodes: on the COMMIT, ask for what is missing (REPAIR, every
 *                MESH_REPAIR_US after the deadline, at most
 *                MESH_REPAIR_TRIES times); when complete, apply, open t+1;
 *   any node:    answers REPAIRs with the frames it holds (node 0 also with
 *                its commit);
 *   out of sync: a node whose tries ran out, or whose model checksum differs
 *                from the commit's, sends no gradient and asks node 0 for
 *                its state (RESYNC); node 0 answers with its model (MODEL
 *                frames) and momentum (UPDATE frames) at the start of its
 *                current round, and the node rejoins from that round.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>

#include "gcdl/faults.h"
#include "gcdl/mesh.h"
#include "gcdl/metrics.h"

#include "node_internal.h"
#include "dp_internal.h"
#include "../core/seterr.h"

#define MESH_REPAIR_TRIES 16   /* repair requests per round before a resync */
#define MESH_REPAIR_MIN_US 2000 /* least time between repair requests */
#define MESH_REPAIR_FAST_US 500 /* first request after a commit that leaves gaps */
#define MESH_RESYNC_US 20000   /* resync request period */
#define MESH_LINGER_US 2000000 /* node 0 answers repairs and resyncs this long after the end */

/* Locally administered group address of the mesh: every node receives it. */
static const uint8_t MESH_GROUP[6] = { 0x03, 'g', 'c', 'd', 'l', 0x00 };

struct node_mesh {
	struct gcdl_mesh *m;
	struct gcdl_faults faults;
	struct gcdl_fault_send *plan;
	uint8_t *frame;          /* one encoded frame */
	uint32_t t;              /* the round in progress */
	uint64_t start_us;
	uint64_t deadline_us;    /* after start */
	uint64_t repair_us;      /* between repair requests */
	uint64_t next_repair_us;
	int fast_repair;         /* the first request after the commit is scheduled */
	uint64_t next_resync_us;
	uint64_t last_rx_us;
	int done;
	int joined;              /* has a replica's state (node 0: from the start) */
	int waiting;             /* node 0: round 0's clock waits for the peers */
	uint32_t peers_seen;
	uint8_t *seen;           /* node 0: peers that asked for the state */
	/* a resync being assembled */
	uint32_t rs_round;
	uint32_t rs_got;
	uint8_t *rs_have;        /* 2 * mchunks: model frames, then momentum frames */
	float *rs_w, *rs_mom;
	/* counters */
	uint64_t grad_sent, commits_sent, repairs_sent, repair_frames, resync_requests;
	uint64_t resync_answers, own_echo, rejected;
	uint64_t ctl_sent, ctl_dropped; /* commit, repair, resent and state frames */
	uint64_t drops[GCDL_MESH_DROP__COUNT]; /* malformed commits and repairs */
	struct gcdl_fault_counts fc;
};

void
gcdl_node_mesh_free(struct gcdl_node *n)
{
	struct node_mesh *x = n->mesh;

	if (x == NULL)
		return;
	gcdl_mesh_free(x->m);
	gcdl_faults_fini(&x->faults);
	free(x->plan);
	free(x->frame);
	free(x->rs_have);
	free(x->rs_w);
	free(x->rs_mom);
	free(x->seen);
	free(x);
	n->mesh = NULL;
}

int
gcdl_node_mesh_init(struct gcdl_node *n, char *err, size_t errlen)
{
	const struct gcdl_profile *p = &n->prof;
	struct gcdl_mesh_params mp = {
		.nodes = n->n, .chunks = n->chunks, .self = n->opts.id, .committer = 0,
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
	    GCDL_FRAME_HDR_LEN + GCDL_MESH_COMMIT_HDR + set > p->mtu) {
		gcdl_seterr(err, errlen, "network.topology mesh: the commit of %u chunks x %u nodes "
			    "(%zu bytes of set) does not fit one frame of coding.mtu %u", n->chunks,
			    n->n, set, p->mtu);
		return -EINVAL;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		goto nomem;
	n->mesh = x;
	x->m = gcdl_mesh_create(&mp);
	x->plan = calloc(2 * (size_t)n->chunks, sizeof(*x->plan));
	x->frame = malloc(n->frame_cap + GCDL_MESH_COMMIT_HDR + GCDL_MESH_SET_MAX);
	x->rs_have = calloc(2 * (size_t)n->mchunks, 1);
	x->rs_w = malloc(sizeof(float) * n->dim);
	x->rs_mom = malloc(sizeof(float) * n->dim);
	x->seen = calloc(n->n, 1);
	n->v = malloc(sizeof(float) * n->dim);
	if (x->m == NULL || x->plan == NULL || x->frame == NULL || x->rs_have == NULL ||
	    x->rs_w == NULL || x->rs_mom == NULL || x->seen == NULL || n->v == NULL)
		goto nomem;
	if (gcdl_faults_init(&x->faults, p) != 0) {
		gcdl_seterr(err, errlen, "faults.slow_workers: cannot be parsed");
		return -EINVAL;
	}
	dl = p->deadline_mode == GCDL_DEADLINE_FIXED ? p->deadline_us : p->deadline_max_us;
	x->deadline_us = (uint64_t)dl;
	x->repair_us = RTE_MAX((uint64_t)dl / 4, (uint64_t)MESH_REPAIR_MIN_US);

	gcdl_engine_frame_limits(n->e, 0, p->rounds, &n->lim);
	n->lim.senders = n->n;
	n->lim.chunk_coords[GCDL_MSG_COMMIT] = 1;
	n->lim.chunk_coords[GCDL_MSG_REPAIR] = 1;
	n->lim.chunk_coords[GCDL_MSG_RESYNC] = 1;
	n->lim.chunk_coords[GCDL_MSG_MODEL] = n->mc;
	n->lim.chunk_coords[GCDL_MSG_UPDATE] = n->mc;
	return 0;
nomem:
	gcdl_seterr(err, errlen, "mesh node: out of memory");
	return -ENOMEM;
}

/* [faults] drop_p also applies to every other frame a mesh node sends
 * (commits, repair requests and answers, state): a seeded draw per frame,
 * keyed by (faults seed, node, frame number). */
static int
ctl_lost(struct gcdl_node *n)
{
	struct node_mesh *x = n->mesh;
	uint64_t z;

	x->ctl_sent++;
	if (x->faults.drop_p <= 0)
		return 0;
	z = x->faults.seed ^ ((uint64_t)n->opts.id << 48) ^ (x->ctl_sent * 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	if ((double)(z >> 11) * 0x1.0p-53 >= x->faults.drop_p)
		return 0;
	x->ctl_dropped++;
	return 1;
}

/* Send a control frame, unless [faults] drops it. */
static void
ctl_send(struct gcdl_node *n, uint16_t pi, const uint8_t *dst, const struct gcdl_frame_hdr *h,
	 const void *payload)
{
	if (!ctl_lost(n))
		gcdl_node_send(n, pi, dst, h, payload);
}

/* Queue raw frame bytes on every port (the group address is in them). */
static void
send_raw_all(struct gcdl_node *n, const uint8_t *f, size_t len)
{
	for (uint16_t pi = 0; pi < n->nports; pi++) {
		struct node_txq *q = &n->txq[pi];
		struct rte_mbuf *mb = rte_pktmbuf_alloc(n->pool);

		if (mb == NULL) {
			gcdl_node_flush(n);
			mb = rte_pktmbuf_alloc(n->pool);
		}
		if (mb == NULL || rte_pktmbuf_tailroom(mb) < len) {
			rte_pktmbuf_free(mb);
			n->res.tx_failed++;
			continue;
		}
		memcpy(rte_pktmbuf_mtod(mb, uint8_t *), f, len);
		memcpy(rte_pktmbuf_mtod(mb, uint8_t *) + 6, n->mac[pi], 6);
		/* the source MAC is covered by neither the CRC nor the tag */
		mb->data_len = (uint16_t)len;
		mb->pkt_len = (uint32_t)len;
		q->m[q->n++] = mb;
		if (q->n == n->burst)
			gcdl_node_flush(n);
	}
}

static void
send_all(struct gcdl_node *n, const struct gcdl_frame_hdr *h, const void *payload)
{
	for (uint16_t pi = 0; pi < n->nports; pi++)
		ctl_send(n, pi, MESH_GROUP, h, payload);
}

/* In the replica set: joined, and not left since. */
static int
in_sync(const struct node_mesh *x)
{
	return x->joined && gcdl_mesh_synced(x->m);
}

static void
go_out(struct gcdl_node *n, uint64_t now)
{
	struct node_mesh *x = n->mesh;

	x->next_resync_us = now;
	x->rs_got = 0;
	x->rs_round = UINT32_MAX;
	memset(x->rs_have, 0, 2 * (size_t)n->mchunks);
}

/* Round t: open it, and send this node's chunks unless it is a straggler. */
static int
start_round(struct gcdl_node *n, uint32_t t, uint64_t now)
{
	const struct gcdl_profile *p = &n->prof;
	struct node_mesh *x = n->mesh;
	float *w = gcdl_engine_model(n->e);
	struct gcdl_frame_hdr h;
	int rc, ncopies;

	x->t = t;
	x->start_us = now;
	/* the commit is due at node 0's deadline */
	x->next_repair_us = now + x->deadline_us + x->repair_us;
	x->fast_repair = 0;
	rc = gcdl_mesh_begin_round(x->m, t, gcdl_mesh_checksum(w, n->dim));
	if (rc != 0)
		return rc;
	if (t >= p->rounds || !in_sync(x))
		return 0;
	if (n->sm.kind == GCDL_STRAGGLER_BERNOULLI &&
	    gcdl_straggler_is(&n->sm, p->seed, t, n->opts.id, p->deadline_us)) {
		n->res.skipped++;
		return 0;
	}
	rc = gcdl_engine_worker_gradient(n->e, 0, n->opts.id, t, w, n->v);
	if (rc != 0) {
		snprintf(n->fail, sizeof(n->fail), "gradient of round %u: %s", t, strerror(-rc));
		return rc;
	}
	gcdl_node_hdr(n, &h, gcdl_engine_msg_type(n->e), t);
	h.scale_block = h.type == GCDL_MSG_ONEBIT ? (uint16_t)p->scale_block : 0;
	memcpy(h.dst, MESH_GROUP, 6);
	ncopies = gcdl_faults_plan(&x->faults, t, n->opts.id, n->chunks, x->plan, &x->fc);
	/* every chunk is stored here; what goes out is [faults]' plan of them */
	for (uint32_t c = 0; c < n->chunks; c++) {
		uint32_t count = 0;
		int len = gcdl_engine_encode_chunk(n->e, n->opts.id, t, c, n->v, n->payload,
						   n->frame_cap - GCDL_FRAME_OVERHEAD, &count);

		if (len < 0) {
			snprintf(n->fail, sizeof(n->fail), "encoding round %u: %s%s", t,
				 strerror(-len), len == -EDOM ? " (non-finite gradient: the model "
				 "diverged, lower optim.lr)" : "");
			return len;
		}
		h.chunk = c;
		h.first_coord = c * n->chunk_coords;
		h.coord_count = count;
		h.payload_len = (uint16_t)len;
		gcdl_mesh_store(x->m, &h, n->payload);
	}
	for (int i = 0; i < ncopies; i++) {
		const struct gcdl_fault_send *s = &x->plan[i];
		uint32_t count = 0;
		int len = gcdl_engine_encode_chunk(n->e, n->opts.id, t, s->index, n->v, n->payload,
						   n->frame_cap - GCDL_FRAME_OVERHEAD, &count);
		ssize_t fl;

		h.chunk = s->index;
		h.first_coord = s->index * n->chunk_coords;
		h.coord_count = count;
		h.payload_len = (uint16_t)len;
		fl = gcdl_frame_encode(&h, n->payload, x->frame, n->frame_cap);
		if (fl > 0 && n->auth != NULL)
			fl = gcdl_auth_seal(n->auth, x->frame, n->frame_cap);
		if (fl < 0)
			return (int)fl;
		if (s->corrupt)
			gcdl_faults_flip(x->frame, (size_t)fl, s->flip);
		send_raw_all(n, x->frame, (size_t)fl);
		x->grad_sent++;
	}
	gcdl_node_flush(n);
	n->res.sent_rounds++;
	return 0;
}

static void
send_commit(struct gcdl_node *n, uint16_t pi, const uint8_t *dst,
	    const struct gcdl_mesh_commit *c)
{
	struct node_mesh *x = n->mesh;
	struct gcdl_frame_hdr h;
	ssize_t len = gcdl_mesh_commit_encode(c, n->chunks, n->n, x->frame,
					      GCDL_MESH_COMMIT_HDR + GCDL_MESH_SET_MAX);

	if (len < 0)
		return;
	gcdl_node_hdr(n, &h, GCDL_MSG_COMMIT, c->round);
	h.payload_len = (uint16_t)len;
	if (dst == NULL)
		send_all(n, &h, x->frame);
	else
		ctl_send(n, pi, dst, &h, x->frame);
	x->commits_sent++;
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

	r->n->mesh->repair_frames++;
	/* the contributor's id stays in the header: it is its frame; a frame
	 * the port does not take is counted in tx_failed and asked again */
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

	gcdl_node_hdr(n, &h, type, n->mesh->t);
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

/* Node 0 answers a resync request with its state at the start of round t. */
static void
answer_resync(struct gcdl_node *n, uint16_t pi, const uint8_t *dst)
{
	struct node_mesh *x = n->mesh;

	if (n->opts.id != 0 || !in_sync(x))
		return;
	send_state(n, pi, dst, GCDL_MSG_MODEL, gcdl_engine_model(n->e));
	send_state(n, pi, dst, GCDL_MSG_UPDATE, gcdl_engine_momentum(n->e));
	gcdl_node_flush(n);
	x->resync_answers++;
}

/* A model (w) or update (momentum) frame of a resync answer. */
static int
on_state(struct gcdl_node *n, const struct gcdl_frame_hdr *hdr, const uint8_t *pl, uint64_t now)
{
	struct node_mesh *x = n->mesh;
	size_t slot = (hdr->type == GCDL_MSG_UPDATE ? n->mchunks : 0) + hdr->chunk;

	if (in_sync(x) || hdr->round < x->t) {
		n->res.late++;
		return 0;
	}
	if (hdr->round != x->rs_round) {
		x->rs_round = hdr->round;
		x->rs_got = 0;
		memset(x->rs_have, 0, 2 * (size_t)n->mchunks);
	}
	if (x->rs_have[slot]) {
		n->res.duplicates++;
		return 0;
	}
	x->rs_have[slot] = 1;
	n->res.accepted++;
	gcdl_frame_get_floats((hdr->type == GCDL_MSG_UPDATE ? x->rs_mom : x->rs_w) +
			      hdr->first_coord, pl, hdr->coord_count);
	if (++x->rs_got < 2 * n->mchunks)
		return 0;
	memcpy(gcdl_engine_model(n->e), x->rs_w, sizeof(float) * n->dim);
	memcpy(gcdl_engine_momentum(n->e), x->rs_mom, sizeof(float) * n->dim);
	n->res.joins++;
	n->res.rounds = x->rs_round;
	if (x->joined)
		gcdl_mesh_resync(x->m, x->rs_round);
	x->joined = 1;
	if (x->rs_round >= n->prof.rounds) {
		x->t = x->rs_round;
		x->done = 1;
		return 0;
	}
	return start_round(n, x->rs_round, now);
}

static int
dispatch(struct gcdl_node *n, uint16_t pi, const struct gcdl_frame_hdr *hdr, const uint8_t *pl,
	 uint64_t now)
{
	struct node_mesh *x = n->mesh;
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
			x->drops[rc]++;
			return 0;
		}
		c.round = hdr->round;
		rc = gcdl_mesh_on_commit(x->m, hdr->sender, &c);
		if (rc == -EALREADY)
			n->res.duplicates++;
		else if (rc == -ENOTRECOVERABLE)
			go_out(n, now);
		else if (rc == 0 && c.round > x->t)
			x->next_repair_us = now; /* node 0 is ahead: catch up at once */
		return 0;
	case GCDL_MSG_REPAIR:
		rc = gcdl_mesh_repair_decode(pl, hdr->payload_len, n->chunks, n->n, &r);
		if (rc > 0) {
			x->drops[rc]++;
			return 0;
		}
		r.round = hdr->round;
		r.from = hdr->sender;
		gcdl_mesh_on_repair(x->m, &r, &emit);
		return 0;
	case GCDL_MSG_RESYNC:
		if (!x->seen[hdr->sender]) {
			x->seen[hdr->sender] = 1;
			x->peers_seen++;
		}
		answer_resync(n, pi, hdr->src);
		return 0;
	case GCDL_MSG_MODEL:
	case GCDL_MSG_UPDATE:
		return on_state(n, hdr, pl, now);
	default:
		rc = gcdl_mesh_store(x->m, hdr, pl);
		if (rc == 0)
			n->res.accepted++;
		else if (rc == -EALREADY)
			n->res.duplicates++;
		else if (rc == -ESTALE)
			n->res.late++;
		else
			x->rejected++;
		return 0;
	}
}

static int
poll_ports(struct gcdl_node *n, uint64_t now, uint32_t *work)
{
	struct node_mesh *x = n->mesh;
	struct rte_mbuf *pkts[NODE_MAX_BURST];
	int rc = 0;

	for (uint16_t pi = 0; pi < n->nports; pi++) {
		uint16_t nb = gcdl_node_rx(n, pi, pkts);

		for (uint16_t i = 0; i < nb && rc == 0; i++) {
			struct gcdl_frame_hdr hdr;
			const uint8_t *pl;
			/* validated, and authenticated with job.key_file; drops counted */
			if (gcdl_node_decode(n, pkts[i], &hdr, &pl) != 0)
				continue;
			x->last_rx_us = now;
			if (hdr.sender == n->opts.id) {
				x->own_echo++; /* our own multicast, seen by the port */
				continue;
			}
			rc = dispatch(n, pi, &hdr, pl, now);
		}
		if (nb > 0)
			rte_pktmbuf_free_bulk(pkts, nb);
		*work += nb;
	}
	return rc;
}

static void
progress(struct gcdl_node *n, uint64_t now, uint64_t t0, uint64_t *last_us, int force)
{
	struct node_mesh *x = n->mesh;
	double dt = (double)(now - t0) / 1e6;

	if (n->opts.progress == NULL || (!force && now - *last_us < n->opts.progress_s * 1e6))
		return;
	*last_us = now;
	fprintf(n->opts.progress, "mesh node %u: round %u/%u %.1f rounds/s %.0f frames/s "
		"%s, %" PRIu64 " frames not taken by a port\n", n->opts.id, x->t, n->prof.rounds,
		dt > 0 ? x->t / dt : 0.0,
		dt > 0 ? (double)(n->res.rx_frames + n->res.tx_frames) / dt : 0.0,
		in_sync(x) ? "in sync" : "resyncing", n->res.tx_failed);
	fflush(n->opts.progress);
}

/* The metrics row of the round just applied (--metrics on a mesh node):
 * every node that applies a round computes the same row but wall_ms. */
static int
write_metrics(struct gcdl_node *n, const struct gcdl_round_info *info, uint64_t now)
{
	const struct gcdl_profile *p = &n->prof;
	struct node_mesh *x = n->mesh;
	struct gcdl_metrics_row row = { 0 };
	int rc;

	if (n->opts.metrics == NULL)
		return 0;
	row.round = x->t + 1;
	row.method = gcdl_method_name(p->method);
	row.evaluated = gcdl_job_eval_due(p, x->t);
	if (row.evaluated) {
		rc = gcdl_engine_eval(n->e, gcdl_engine_model(n->e), &n->job.train,
				      &row.train_loss, NULL);
		if (rc == 0)
			rc = gcdl_engine_eval(n->e, gcdl_engine_model(n->e), &n->job.test, NULL,
					      &row.test_accuracy);
		if (rc != 0) {
			snprintf(n->fail, sizeof(n->fail), "evaluation after round %u: %s",
				 x->t + 1, strerror(-rc));
			return rc;
		}
	}
	row.uplink_bits = 8 * n->res.wire_bytes;
	row.stragglers = info->stragglers;
	row.wall_ms = (double)(now - x->start_us) / 1e3;
	if (gcdl_metrics_write(n->opts.metrics, &row) != 0) {
		snprintf(n->fail, sizeof(n->fail), "metrics: write failed after round %u", x->t + 1);
		return -EIO;
	}
	return 0;
}

/* One step of the round in progress: commit (node 0), repair, apply. */
static int
advance(struct gcdl_node *n, uint64_t now, uint32_t *work)
{
	const struct gcdl_profile *p = &n->prof;
	struct node_mesh *x = n->mesh;
	struct gcdl_mesh_commit c;
	struct gcdl_mesh_repair r;
	struct gcdl_round_info info;
	struct gcdl_frame_hdr h;
	int rc;

	if (!in_sync(x)) {
		if (now >= x->next_resync_us) {
			gcdl_node_hdr(n, &h, GCDL_MSG_RESYNC, 0);
			send_all(n, &h, NULL);
			gcdl_node_flush(n);
			x->resync_requests++;
			n->res.resync_requests++;
			x->next_resync_us = now + MESH_RESYNC_US;
			(*work)++;
		}
		return 0;
	}
	switch (gcdl_mesh_state(x->m)) {
	case GCDL_MESH_COLLECT:
	case GCDL_MESH_REPAIR:
		if (n->opts.id == 0) {
			if (x->waiting) {
				/* round 0's clock starts when every peer asked for the
				 * state, or after network.join_wait_ms */
				if (x->peers_seen + 1 < n->n &&
				    now - x->start_us < (uint64_t)p->join_wait_ms * 1000)
					return 0;
				x->waiting = 0;
				x->start_us = now;
			}
			if (gcdl_mesh_held(x->m) < n->chunks * n->n && now < x->start_us + x->deadline_us)
				return 0;
			if (gcdl_mesh_held(x->m) == n->chunks * n->n)
				n->res.closed_complete++;
			else
				n->res.closed_deadline++;
			rc = gcdl_mesh_commit_build(x->m, &c);
			if (rc != 0)
				return rc;
			send_commit(n, 0, NULL, &c);
			gcdl_node_flush(n);
			(*work)++;
			break;
		}
		if (gcdl_mesh_state(x->m) == GCDL_MESH_REPAIR && !x->fast_repair) {
			/* the commit is in; what it lists and this node lacks is lost */
			x->fast_repair = 1;
			x->next_repair_us = RTE_MIN(x->next_repair_us, now + MESH_REPAIR_FAST_US);
		}
		if (now < x->next_repair_us)
			return 0;
		rc = gcdl_mesh_repair_build(x->m, &r);
		x->next_repair_us = now + x->repair_us;
		(*work)++;
		if (rc == -ETIMEDOUT) {
			go_out(n, now);
			return 0;
		}
		if (rc != 0)
			return 0;
		{
			ssize_t len = gcdl_mesh_repair_encode(&r, n->chunks, n->n, x->frame,
							      GCDL_MESH_REPAIR_HDR +
							      GCDL_MESH_SET_MAX);

			if (len < 0)
				return (int)len;
			gcdl_node_hdr(n, &h, GCDL_MSG_REPAIR, x->t);
			h.payload_len = (uint16_t)len;
			send_all(n, &h, x->frame);
			gcdl_node_flush(n);
			x->repairs_sent++;
		}
		return 0;
	default:
		break;
	}
	if (gcdl_mesh_state(x->m) != GCDL_MESH_READY)
		return 0;
	rc = gcdl_mesh_apply(x->m, n->e, NULL, &info);
	if (rc != 0) {
		snprintf(n->fail, sizeof(n->fail), "applying round %u: %s", x->t, strerror(-rc));
		return rc;
	}
	n->res.stragglers += info.stragglers;
	n->res.wire_bytes += info.wire_bytes;
	n->res.rounds = x->t + 1;
	(*work)++;
	rc = write_metrics(n, &info, now);
	if (rc != 0)
		return rc;
	if (x->t + 1 >= p->rounds) {
		x->t = p->rounds;
		x->done = 1;
		return 0;
	}
	return start_round(n, x->t + 1, now);
}

int
gcdl_node_mesh_run(struct gcdl_node *n)
{
	const struct gcdl_profile *p = &n->prof;
	struct node_mesh *x = n->mesh;
	struct dp_idle idle = { 0 };
	uint64_t t0 = node_us(n), end_us = 0, last_report = t0;
	int rc;

	x->last_rx_us = t0;
	/* node 0 holds the job's state; every other node joins by asking it
	 * (a resync), which also lines the nodes up for round 0 */
	x->joined = n->opts.id == 0;
	x->waiting = n->opts.id == 0;
	rc = 0;
	if (x->joined)
		rc = start_round(n, 0, t0);
	else
		go_out(n, t0);
	while (rc == 0) {
		uint64_t now = node_us(n);
		uint32_t work = 0;

		if (node_stop(n)) {
			n->res.stopped = 1;
			break;
		}
		if (x->done) {
			/* node 0 lingers to answer the last repairs and resyncs */
			if (end_us == 0)
				end_us = now;
			if (n->opts.id != 0 || now - end_us > MESH_LINGER_US)
				break;
		} else if (now - x->last_rx_us > (uint64_t)p->idle_timeout_ms * 1000) {
			snprintf(n->fail, sizeof(n->fail), "no frame from any mesh peer for "
				 "network.idle_timeout_ms = %u ms (round %u): are they running, "
				 "with the same job id, on a reachable port?", p->idle_timeout_ms,
				 x->t);
			rc = -ETIMEDOUT;
			break;
		}
		rc = poll_ports(n, now, &work);
		if (rc == 0 && !x->done)
			rc = advance(n, now, &work);
		progress(n, now, t0, &last_report, 0);
		if (work) {
			dp_idle_reset(&idle);
		} else {
			dp_idle_wait(&idle, DP_IDLE_SLEEP_US);
		}
	}
	gcdl_node_flush(n);
	n->res.wall_s = (double)((end_us ? end_us : node_us(n)) - t0) / 1e6;
	n->res.model_crc = gcdl_node_crc(gcdl_engine_model(n->e), n->dim);
	progress(n, node_us(n), t0, &last_report, 1);
	if (rc == 0) {
		int e = gcdl_engine_eval(n->e, gcdl_engine_model(n->e), &n->job.train,
					 &n->res.train_loss, NULL);

		if (e == 0)
			e = gcdl_engine_eval(n->e, gcdl_engine_model(n->e), &n->job.test, NULL,
					     &n->res.test_accuracy);
		if (e != 0) {
			snprintf(n->fail, sizeof(n->fail), "evaluation: %s", strerror(-e));
			rc = e;
		}
	}
	return rc;
}

void
gcdl_node_mesh_summary(const struct gcdl_node *n, FILE *out)
{
	const struct node_mesh *x = n->mesh;
	const struct gcdl_mesh_stats *s;
	uint64_t drops = 0;

	if (x == NULL)
		return;
	s = gcdl_mesh_stats(x->m);
	for (int i = 1; i < GCDL_MESH_DROP__COUNT; i++)
		drops += x->drops[i] + s->drops[i];
	fprintf(out, "mesh replica: %s\n", in_sync(x) ? "in sync" : "out of sync");
	fprintf(out, "mesh gradient frames: %" PRIu64 " sent, %" PRIu64 " stored, %" PRIu64
		" duplicates, %" PRIu64 " stale, %" PRIu64 " own echoes\n", x->grad_sent, s->stored,
		s->duplicates, s->stale, x->own_echo);
	fprintf(out, "mesh commits: %" PRIu64 " taken, %" PRIu64 " sent, %" PRIu64
		" repeated; contributions left out %" PRIu64 "\n", s->commits, x->commits_sent,
		s->commit_dups, s->left_out);
	fprintf(out, "mesh repairs: %" PRIu64 " requests, %" PRIu64 " contributions repaired, %"
		PRIu64 " frames and %" PRIu64 " commits resent\n", x->repairs_sent, s->repaired,
		s->served_frames, s->served_commits);
	fprintf(out, "mesh resyncs: %" PRIu64 " (gave up %" PRIu64 " rounds, %" PRIu64
		" checksum mismatches, %" PRIu64 " requests sent, %" PRIu64 " answered)\n",
		s->resyncs, s->gave_up, s->mismatches, x->resync_requests, x->resync_answers);
	fprintf(out, "mesh faults: %" PRIu64 " gradient frames dropped, %" PRIu64 " duplicated, %"
		PRIu64 " reordered, %" PRIu64 " corrupted; %" PRIu64 " of %" PRIu64
		" other frames dropped\n", x->fc.dropped, x->fc.duplicated, x->fc.reordered,
		x->fc.corrupted, x->ctl_dropped, x->ctl_sent);
	fprintf(out, "mesh stragglers: %" PRIu64 " worker-rounds without a committed "
		"contribution in the rounds this node applied\n", n->res.stragglers);
	fprintf(out, "mesh drops: %" PRIu64 "\n", drops);
	for (int i = 1; i < GCDL_MESH_DROP__COUNT; i++)
		if (x->drops[i] + s->drops[i] > 0)
			fprintf(out, "mesh drop %s: %" PRIu64 "\n", gcdl_mesh_drop_name(i),
				x->drops[i] + s->drops[i]);
}
