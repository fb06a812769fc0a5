/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The aggregator node a:
 *
 *   before the first round: answer hellos until every worker joined or
 *                 network.join_wait_ms passed (none joined: the job fails);
 *   round t:      ingest the gradient frames of the chunks a owns from joined
 *                 workers, until every expected frame arrived (the expected
 *                 workers: joined and heard from within network.absent_rounds
 *                 rounds) or the deadline passed; a frame seen at or after
 *                 the deadline is late, even when the lcore only gets to it
 *                 later;
 *   closing t:    decode + optimizer step (gcdl_engine_close_round), the end
 *                 of the round (evaluation, metrics row, progress, checkpoint:
 *                 gcdl/round_end.h), the update of a's coordinate range
 *                 (float32, or 1 bit with error feedback: downlink.mode)
 *                 encoded once as an image and sent once to the downlink's
 *                 multicast group on every port with a joined worker (ports
 *                 that share a MAC share each mbuf), then t+1 opens; the
 *                 images of the last NODE_DL_KEEP rounds are kept: a worker
 *                 that missed frames asks for them (REPAIR, unicast);
 *   any time:     a hello or resync is answered with a config and a's range of
 *                 the model w_t (an image of it, shared by every worker that
 *                 asks in round t);
 *   after the end: resyncs are answered for NODE_LINGER_US (multi-host).
 *
 * A sharded aggregator updates only its own range of the model correctly: it
 * receives no gradient for the others. Workers evaluate the assembled model.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>
#include <sodium.h>

#include "gcdl/layout.h"

#include "node_internal.h"
#include "seterr.h"

#define AGG_QUEUE 8          /* images queued per worker (updates of rounds, a model) */
#define AGG_ANSWER_US 100000 /* a worker's hellos and resyncs are answered at most this often */
#define AGG_LATE_WINDOW 64   /* frames of a round older than this are out of the window */

enum close_how {
	HOW_COMPLETE = 0,
	HOW_DEADLINE,
	HOW_STOP,
	HOW_CATCHUP,
};

struct agg_queue {
	struct node_stream s[AGG_QUEUE];
	uint32_t head, len;
};

struct node_agg {
	struct gcdl_join_worker *jw;    /* N */
	struct gcdl_worker_row *row;    /* N: relaxed stores, read by telemetry */
	struct agg_queue *q;            /* N: images on their way to each worker */
	uint32_t chunk_first, chunk_count, coord_first, coord_count;
	uint32_t t;                     /* the round in progress */
	int started;                    /* the first round's clock runs */
	int open;                       /* ingesting round t */
	int closing;                    /* ingest over, the decode waits for a free image */
	int how;                        /* enum close_how of the closing round */
	uint64_t start_tsc, deadline_tsc;
	uint64_t close_tsc;             /* when it closed (the deadline, if by it) */
	uint64_t seen_tsc;              /* when the lcore noticed */
	double not_running_us;          /* of seen - deadline, the lcore was not running */
	uint64_t got, expected;
	uint32_t *arr;                  /* chunks of each worker this round */
	int first_seen;                 /* sharded: a frame came, the deadline follows it */
	uint32_t catchup_to;            /* sharded: close rounds up to this one at once */
	struct gcdl_deadline dl;
	uint64_t t0_tsc;
	uint64_t join_until;
	uint64_t pre_tsc, pre_cpu;      /* the last iteration that began near the deadline */
	uint64_t spin_tsc;
	uint32_t silent;                /* rounds in a row without a contributor */
	uint64_t *answered;             /* N: TSC of the last answer to each worker */
	uint64_t answer_tsc;
	float *update;                  /* signsgd_mv: the vote of the round closed, else NULL */
	struct node_image img[NODE_IMAGES];   /* models (joins, resyncs) */
	struct node_image upd[NODE_DL_KEEP];  /* the updates of the last rounds, by t % KEEP */
	struct agg_queue gq;                  /* updates on their way to the group */
};

static void
row_add(uint64_t *f, uint64_t v)
{
	__atomic_store_n(f, *f + v, __ATOMIC_RELAXED);
}

static void
row_set32(uint32_t *f, uint32_t v)
{
	__atomic_store_n(f, v, __ATOMIC_RELAXED);
}

int
node_agg_row(const struct gcdl_node *n, uint32_t k, struct gcdl_worker_row *row)
{
	const struct node_agg *a = n->a;
	const struct gcdl_worker_row *r;

	if (a == NULL || k >= n->n || row == NULL)
		return -ENOENT;
	r = &a->row[k];
	row->joins = __atomic_load_n(&r->joins, __ATOMIC_RELAXED);
	row->resyncs = __atomic_load_n(&r->resyncs, __ATOMIC_RELAXED);
	row->refused = __atomic_load_n(&r->refused, __ATOMIC_RELAXED);
	row->accepted = __atomic_load_n(&r->accepted, __ATOMIC_RELAXED);
	row->accepted_since_join = __atomic_load_n(&r->accepted_since_join, __ATOMIC_RELAXED);
	row->late = __atomic_load_n(&r->late, __ATOMIC_RELAXED);
	row->duplicates = __atomic_load_n(&r->duplicates, __ATOMIC_RELAXED);
	row->rejected = __atomic_load_n(&r->rejected, __ATOMIC_RELAXED);
	row->joined_round = __atomic_load_n(&r->joined_round, __ATOMIC_RELAXED);
	row->last_round = __atomic_load_n(&r->last_round, __ATOMIC_RELAXED);
	return 0;
}

int
node_agg_init(struct gcdl_node *n, char *err, size_t errlen)
{
	const struct gcdl_profile *p = &n->prof;
	int sock = (int)n->conf.socket;
	struct node_agg *a;
	uint32_t end;

	a = rte_zmalloc_socket("gcdl_agg", sizeof(*a), RTE_CACHE_LINE_SIZE, sock);
	if (a == NULL)
		goto nomem;
	n->a = a;
	gcdl_shard_chunks(n->chunks, n->k, n->conf.id, &a->chunk_first, &a->chunk_count);
	a->coord_first = a->chunk_first * n->chunk_coords;
	end = (uint32_t)RTE_MIN((uint64_t)(a->chunk_first + a->chunk_count) * n->chunk_coords,
				(uint64_t)n->dim);
	a->coord_count = end - a->coord_first;
	a->jw = calloc(n->n, sizeof(*a->jw));
	a->row = rte_zmalloc_socket("gcdl_agg_rows", sizeof(*a->row) * n->n, RTE_CACHE_LINE_SIZE,
				    sock);
	a->q = calloc(n->n, sizeof(*a->q));
	a->arr = calloc(n->n, sizeof(uint32_t));
	a->answered = calloc(n->n, sizeof(uint64_t));
	/* signsgd_mv's vote: a copy of it (the engine's array holds the step) */
	if (n->vote)
		a->update = rte_zmalloc_socket("gcdl_agg_update", sizeof(float) * n->dim,
					       RTE_CACHE_LINE_SIZE, sock);
	if (a->jw == NULL || a->row == NULL || a->q == NULL || a->arr == NULL ||
	    (n->vote && a->update == NULL) || a->answered == NULL)
		goto nomem;
	for (int i = 0; i < NODE_IMAGES; i++)
		if (node_image_init(n, &a->img[i], n->mchunks) != 0)
			goto nomem;
	for (int i = 0; i < NODE_DL_KEEP; i++)
		if (node_image_init(n, &a->upd[i], RTE_MAX(n->mchunks, n->dl_chunks)) != 0)
			goto nomem;
	if (n->conf.resume != NULL) {
		char why[384];

		if (gcdl_checkpoint_restore(n->conf.resume, p, n->e, why, sizeof(why)) != 0) {
			gcdl_seterr(err, errlen, "--resume: %s", why);
			return -EINVAL;
		}
	}
	gcdl_engine_frame_limits(n->e, 0, p->rounds - 1, &n->lim);
	n->lim.chunk_coords[GCDL_MSG_HELLO] = 1;
	n->lim.chunk_coords[GCDL_MSG_RESYNC] = 1;
	n->lim.chunk_coords[GCDL_MSG_REPAIR] = 1;
	gcdl_deadline_init(&a->dl, p);
	{
		int rc = node_relay_init(n, err, errlen);

		if (rc == 0 && p->agg_lcores > 1)
			rc = node_agg_lcores_init(n, a->update, err, errlen);
		if (rc != 0)
			return rc;
		/* complete chunks closed as they complete, where a chunk is a
		 * whole number of update frames (-ENOTSUP: at the end) */
		gcdl_engine_set_early_close(n->e, 1, a->update);
	}
	/* after --resume the workers join at the checkpoint's round and model */
	a->t = n->re.first_round;
	gcdl_engine_begin_round(n->e, a->t);
	node_agg_lcores_open(n, a->t);
	node_relay_open(n, a->t);
	a->join_until = rte_rdtsc() + node_us_tsc(n, (double)p->join_wait_ms * 1000);
	a->spin_tsc = node_us_tsc(n, NODE_DEADLINE_SPIN_US);
	a->answer_tsc = node_us_tsc(n, AGG_ANSWER_US);
	a->catchup_to = a->t;
	{
		/* this run's session (gcdl/auth.h): frames of another run never verify */
		uint64_t session;

		randombytes_buf(&session, sizeof(session));
		node_set_session(n, session);
	}
	return 0;
nomem:
	gcdl_seterr(err, errlen, "aggregator %u: out of memory on socket %d (raise -m)",
		    n->conf.id, sock);
	return -ENOMEM;
}

void
node_agg_fini(struct gcdl_node *n)
{
	struct node_agg *a = n->a;

	if (a == NULL)
		return;
	for (int i = 0; i < NODE_IMAGES; i++)
		node_image_fini(&a->img[i]);
	for (int i = 0; i < NODE_DL_KEEP; i++)
		node_image_fini(&a->upd[i]);
	node_relay_fini(n);
	node_agg_lcores_fini(n);
	free(a->jw);
	free(a->q);
	free(a->arr);
	free(a->answered);
	rte_free(a->row);
	rte_free(a->update);
	rte_free(a);
	n->a = NULL;
}

/* ---- images to the workers --------------------------------------------- */

static struct node_image *
free_image(struct node_agg *a)
{
	for (int i = 0; i < NODE_IMAGES; i++)
		if (a->img[i].users == 0)
			return &a->img[i];
	return NULL;
}

/* The image of a's range of the model (GCDL_MSG_MODEL) or, for a relay's
 * worker, the momentum (GCDL_MSG_UPDATE) at the start of round t (shared by
 * every worker that asks in that round), or NULL when every image is busy. */
static struct node_image *
model_image(struct gcdl_node *n, uint32_t t, int type)
{
	struct node_agg *a = n->a;
	struct node_image *img;

	for (int i = 0; i < NODE_IMAGES; i++) {
		img = &a->img[i];
		if (img->users > 0 && img->type == type && img->round == t)
			return img;
	}
	img = free_image(a);
	if (img != NULL)
		node_image_encode(n, img, type, t, type == GCDL_MSG_MODEL ? gcdl_engine_model(n->e)
									   : gcdl_engine_momentum(n->e),
				  a->coord_first, a->coord_count);
	return img;
}

/* Queue an image for worker k. @return 0, or -ENOBUFS when its queue is full. */
static int
push(struct node_agg *a, uint32_t k, struct node_image *img)
{
	struct agg_queue *q = &a->q[k];
	struct node_stream *s;

	if (q->len == AGG_QUEUE)
		return -ENOBUFS;
	s = &q->s[(q->head + q->len) % AGG_QUEUE];
	s->img = img;
	s->next = 0;
	q->len++;
	img->users++;
	return 0;
}

/* The ports the downlink's group goes out on: every port with a joined
 * worker, those that share a MAC next to each other (they share each mbuf). */
static uint16_t
group_ports(const struct gcdl_node *n, uint16_t *ports)
{
	const struct node_agg *a = n->a;
	uint8_t used[NODE_MAX_PORTS] = { 0 };
	uint16_t np = 0;

	for (uint32_t k = 0; k < n->n; k++) {
		uint16_t pi = a->jw[k].port;

		if (a->jw[k].joined && pi < n->nports && !used[pi]) {
			used[pi] = 1;
			ports[np++] = pi;
		}
	}
	for (uint16_t i = 1; i < np; i++)
		for (uint16_t j = i; j > 0 && memcmp(n->port[ports[j - 1]].mac,
						       n->port[ports[j]].mac, 6) > 0; j--) {
			uint16_t t = ports[j];

			ports[j] = ports[j - 1];
			ports[j - 1] = t;
		}
	return np;
}

/* Feed the queued updates to the group on every port with a joined worker,
 * then every worker's queued images into its port's backlog. */
static uint32_t
feed(struct gcdl_node *n)
{
	struct node_agg *a = n->a;
	uint32_t total = 0;

	if (a->gq.len > 0) {
		uint16_t ports[NODE_MAX_PORTS], np = group_ports(n, ports);

		while (a->gq.len > 0) {
			struct node_stream *s = &a->gq.s[a->gq.head];

			total += node_group_feed(n, s, ports, np);
			if (s->img != NULL)
				break; /* a backlog is full */
			a->gq.head = (a->gq.head + 1) % AGG_QUEUE;
			a->gq.len--;
		}
	}

	for (uint32_t k = 0; k < n->n; k++) {
		struct agg_queue *q = &a->q[k];

		while (q->len > 0) {
			struct node_stream *s = &q->s[q->head];

			total += node_stream_feed(n, s, a->jw[k].port, a->jw[k].mac);
			if (s->img != NULL)
				break; /* the backlog is full */
			q->head = (q->head + 1) % AGG_QUEUE;
			q->len--;
		}
	}
	return total;
}

int
node_agg_drained(const struct gcdl_node *n)
{
	if (n->a->gq.len > 0)
		return 0;
	for (uint32_t k = 0; k < n->n; k++)
		if (n->a->q[k].len > 0)
			return 0;
	return 1;
}

/* Forget what is queued for worker k (it rejoined: the model follows). */
static void
drop_queue(struct node_agg *a, uint32_t k)
{
	struct agg_queue *q = &a->q[k];

	while (q->len > 0) {
		struct node_stream *s = &q->s[q->head];

		if (s->img != NULL)
			s->img->users--;
		s->img = NULL;
		q->head = (q->head + 1) % AGG_QUEUE;
		q->len--;
	}
}

/* ---- join -------------------------------------------------------------- */

/* Send a config (and for an accepted one a's range of the model at round t). */
static void
answer(struct gcdl_node *n, uint16_t pi, const uint8_t dst[6], uint32_t k, uint64_t inc,
       uint32_t status, uint32_t t)
{
	struct node_agg *a = n->a;
	struct gcdl_config c;
	struct gcdl_frame_hdr h;
	const uint32_t *parts = NULL;
	uint32_t nparts = 0;
	int len;

	memset(&c, 0, sizeof(c));
	c.version = GCDL_JOIN_VERSION;
	c.status = status;
	c.profile_hash = n->hash;
	c.worker = k;
	c.incarnation = inc;
	c.session = n->session;
	c.round = t;
	c.rounds = n->prof.rounds;
	c.dim = n->dim;
	c.chunks = n->chunks;
	c.chunk_coords = n->chunk_coords;
	c.model_coords = n->mc;
	c.aggregator = n->conf.id;
	c.aggregators = n->k;
	c.chunk_first = a->chunk_first;
	c.chunk_count = a->chunk_count;
	c.coord_first = a->coord_first;
	c.coord_count = a->coord_count;
	if (status == GCDL_JOIN_ACCEPTED &&
	    gcdl_layout_worker_partitions(gcdl_engine_layout(n->e), k, &parts, &nparts) == 0) {
		c.nparts = RTE_MIN(nparts, (uint32_t)GCDL_JOIN_MAX_PARTS);
		memcpy(c.parts, parts, sizeof(uint32_t) * c.nparts);
	}
	len = gcdl_config_encode(&c, n->payload, GCDL_CONFIG_FIXED_LEN + 4 * GCDL_JOIN_MAX_PARTS);
	if (len < 0)
		return;
	node_hdr(n, &h, GCDL_MSG_CONFIG, t);
	h.payload_len = (uint16_t)len;
	if (status != GCDL_JOIN_ACCEPTED) {
		node_send(n, pi, dst, &h, n->payload, node_tx_key(n, GCDL_MSG_CONFIG));
		return;
	}
	/* the config goes before the model: both through k's queue */
	drop_queue(a, k);
	node_send(n, pi, dst, &h, n->payload, node_tx_key(n, GCDL_MSG_CONFIG));
	{
		struct node_image *img = model_image(n, t, GCDL_MSG_MODEL);

		if (img == NULL || push(a, k, img) != 0)
			node_count(n, GCDL_CTR_TX_FAILED, 1); /* the worker asks again */
		/* relay and a vote: the worker takes the optimizer step itself: the
		 * momentum too */
		if (n->steps) {
			img = model_image(n, t, GCDL_MSG_UPDATE);
			if (img == NULL || push(a, k, img) != 0)
				node_count(n, GCDL_CTR_TX_FAILED, 1);
		}
	}
}

static int finish_round(struct gcdl_node *n, struct gcdl_loop *lp);

static void
on_hello(struct gcdl_node *n, uint16_t pi, const struct gcdl_frame_hdr *hdr, const uint8_t *pl)
{
	struct node_agg *a = n->a;
	struct gcdl_hello h;
	struct gcdl_join_worker *w;
	enum gcdl_join_action act;
	uint64_t prev_inc, now = rte_rdtsc();
	uint32_t status;
	int was_joined;
	char mac[18];

	if (gcdl_hello_decode(pl, hdr->payload_len, &h) != 0 || h.worker != hdr->sender) {
		node_count(n, GCDL_CTR_DROP(GCDL_DROP_PAYLOAD), 1);
		return;
	}
	w = &a->jw[hdr->sender];
	/* one answer per worker and AGG_ANSWER_US: retries within it, and
	 * replays, cost nothing (the worker retries every 200 ms) */
	if (a->answered[hdr->sender] != 0 && now - a->answered[hdr->sender] < a->answer_tsc &&
	    h.incarnation == w->incarnation) {
		node_count(n, GCDL_CTR_DUPLICATES, 1);
		return;
	}
	was_joined = w->joined;
	prev_inc = w->incarnation;
	/* a resync verified under this run's session key proves the sender
	 * holds the job key now; a hello under the job key may be a replay */
	act = gcdl_join_on_hello(w, &h, n->hash, hdr->src, pi,
				 n->worker_macs ? n->worker_macs[hdr->sender] : NULL, a->t,
				 n->prof.absent_rounds, hdr->type == GCDL_MSG_RESYNC,
				 n->conf.auth == NULL || hdr->type == GCDL_MSG_RESYNC, &status);
	if (act != GCDL_JOIN_ACT_IGNORE && act != GCDL_JOIN_ACT_CHALLENGE)
		a->answered[hdr->sender] = now;
	gcdl_mac_format(hdr->src, mac, sizeof(mac));
	switch (act) {
	case GCDL_JOIN_ACT_IGNORE:
		node_count(n, GCDL_CTR_DROP(GCDL_DROP_SENDER), 1);
		return;
	case GCDL_JOIN_ACT_CHALLENGE:
		/* the session only: nothing changes until a resync under its key */
		node_count(n, GCDL_CTR_CHALLENGES, 1);
		answer(n, pi, hdr->src, h.worker, h.incarnation, status, a->t);
		return;
	case GCDL_JOIN_ACT_REFUSE:
		node_count(n, GCDL_CTR_REFUSED, 1);
		row_set32(&a->row[hdr->sender].refused, w->refused);
		/* once per incarnation: the worker retries its hello */
		if (w->refused == 1 || h.incarnation != w->incarnation) {
			if (status == GCDL_JOIN_REFUSED_PROFILE)
				NODE_LOG(control, WARNING, "refused worker %u (%s): its profile hash "
					 "%016" PRIx64 " differs from this aggregator's %016" PRIx64
					 ": every node must run the same profile (keys outside "
					 "[dataplane])", h.worker, mac, h.profile_hash, n->hash);
			else
				NODE_LOG(control, WARNING, "refused worker %u (%s): join protocol "
					 "version %u, this aggregator speaks %u", h.worker, mac,
					 h.version, GCDL_JOIN_VERSION);
			if (!was_joined)
				w->incarnation = h.incarnation;
		}
		answer(n, pi, hdr->src, h.worker, h.incarnation, status, a->t);
		return;
	case GCDL_JOIN_ACT_JOIN:
		node_count(n, GCDL_CTR_JOINS, 1);
		row_set32(&a->row[hdr->sender].joins, w->joins);
		__atomic_store_n(&a->row[hdr->sender].accepted_since_join, 0, __ATOMIC_RELAXED);
		row_set32(&a->row[hdr->sender].joined_round, a->t);
		/* a local cluster's joins are routine: only at debug level */
		if (n->conf.local)
			NODE_LOG(control, DEBUG, "worker %u (%s) %sjoined at round %u", h.worker, mac,
				 was_joined && prev_inc != h.incarnation ? "re" : "", a->t);
		else
			NODE_LOG(control, NOTICE, "worker %u (%s) %sjoined at round %u", h.worker, mac,
				 was_joined && prev_inc != h.incarnation ? "re" : "", a->t);
		break;
	case GCDL_JOIN_ACT_RESEND:
		node_count(n, GCDL_CTR_RESYNCS, hdr->type == GCDL_MSG_RESYNC);
		row_set32(&a->row[hdr->sender].resyncs, w->resyncs);
		/* sharded: the worker's other ranges are at a later round; close
		 * the rounds in between (nobody can send for them), at most
		 * network.absent_rounds at a time (a worker asks again) */
		if (n->k > 1 && hdr->type == GCDL_MSG_RESYNC && a->started &&
		    h.round != GCDL_JOIN_NONE && h.round > a->t && h.round <= n->prof.rounds &&
		    !n->finished) {
			uint32_t to = h.round - a->t > n->prof.absent_rounds
					      ? a->t + n->prof.absent_rounds : h.round;

			NODE_LOG(control, INFO, "worker %u: catching up from round %u to %u",
				 h.worker, a->t, to);
			if (to > a->catchup_to)
				a->catchup_to = to;
			node_count(n, GCDL_CTR_CAUGHT_UP, 1);
			return; /* answered once caught up (the worker asks again) */
		}
		NODE_LOG(control, INFO, "worker %u (%s): model resent at round %u", h.worker, mac,
			 a->t);
		break;
	}
	answer(n, pi, hdr->src, h.worker, h.incarnation, GCDL_JOIN_ACCEPTED, a->t);
}

/* ---- rounds ------------------------------------------------------------ */

/* how: HOW_COMPLETE, HOW_DEADLINE, HOW_STOP. A round closed by its deadline
 * accepted nothing seen at or after it: it closed at the deadline, whenever
 * this lcore got to notice (now). How much of the time past the deadline
 * the lcore was not running (the OS or the hypervisor ran something else)
 * is kept, the larger of two lower bounds:
 * - if the previous poll-loop iteration found nothing to do, it paused until
 *   prev_wake at the latest (never past a timer); the time after that until
 *   this iteration began;
 * - the wall time since the last iteration that began before the deadline
 *   (pre_tsc) less this thread's CPU time since then, less the time from
 *   pre_tsc to the deadline (off-CPU time that may lie before it); only if
 *   the loop has not chosen to sleep or yield since (it does not within
 *   NODE_DEADLINE_SPIN_US of a timer). */
static void
close_round(struct gcdl_node *n, const struct gcdl_loop *lp, uint64_t now, int how)
{
	struct node_agg *a = n->a;

	a->open = 0;
	a->closing = 1;
	a->how = how;
	a->close_tsc = now;
	a->seen_tsc = now;
	a->not_running_us = 0;
	if (how == HOW_DEADLINE && now > a->deadline_tsc) {
		uint64_t from = lp->prev_wake > a->deadline_tsc ? lp->prev_wake : a->deadline_tsc;

		a->close_tsc = a->deadline_tsc;
		if (!lp->prev_work && lp->prev_slept && lp->top > from)
			a->not_running_us = node_tsc_us(n, lp->top - from);
		if (a->pre_tsc != 0) {
			double off = node_tsc_us(n, now - a->pre_tsc) -
				     (double)(node_thread_ns() - a->pre_cpu) / 1e3 -
				     node_tsc_us(n, a->deadline_tsc - a->pre_tsc);
			double lag = node_tsc_us(n, now - a->deadline_tsc);

			if (off > lag)
				off = lag;
			if (off > a->not_running_us)
				a->not_running_us = off;
		}
	}
}

static void
on_gradient(struct gcdl_node *n, const struct gcdl_loop *lp, const struct gcdl_frame_hdr *hdr,
	    const uint8_t *pl, uint64_t now)
{
	struct node_agg *a = n->a;
	struct gcdl_join_worker *w = &a->jw[hdr->sender];
	struct gcdl_worker_row *row = &a->row[hdr->sender];
	int rc;

	if (!w->joined) {
		node_count(n, GCDL_CTR_UNJOINED, 1);
		return;
	}
	if (memcmp(hdr->src, w->mac, 6) != 0) {
		node_count(n, GCDL_CTR_DROP(GCDL_DROP_SENDER), 1);
		return;
	}
	if (hdr->chunk < a->chunk_first || hdr->chunk >= a->chunk_first + a->chunk_count) {
		node_count(n, GCDL_CTR_DROP(GCDL_DROP_CHUNK), 1); /* sent to the wrong aggregator */
		return;
	}
	/* a frame of a future round, or one older than the window, is no news
	 * of its sender (nor the late arrival of a frame it just sent) */
	if (hdr->round > a->t || hdr->round + AGG_LATE_WINDOW < a->t) {
		node_count(n, GCDL_CTR_DROP(GCDL_DROP_ROUND), 1);
		return;
	}
	if (hdr->round + 1 > w->last_round) {
		w->last_round = hdr->round + 1;
		row_set32(&row->last_round, w->last_round);
	}
	if (hdr->round < a->t || (a->started && !a->open) || a->closing) {
		node_count(n, GCDL_CTR_LATE, 1);
		row_add(&row->late, 1);
		return;
	}
	rc = gcdl_engine_ingest(n->e, hdr, pl);
	if (rc == -EALREADY) {
		node_count(n, GCDL_CTR_DUPLICATES, 1);
		row_add(&row->duplicates, 1);
		return;
	}
	if (rc != 0) {
		node_count(n, GCDL_CTR_REJECTED, 1);
		row_add(&row->rejected, 1);
		return;
	}
	node_count(n, GCDL_CTR_UPLINK_ACCEPTED, 1);
	node_count(n, GCDL_CTR_INGEST_COORDS, hdr->coord_count);
	if (n->relay != NULL) {
		uint16_t ports[NODE_MAX_PORTS], np = group_ports(n, ports);

		node_relay_accepted(n, hdr, pl, ports, np);
	}
	row_add(&row->accepted, 1);
	row_add(&row->accepted_since_join, 1);
	a->got++;
	/* sharded: every aggregator counts the round from the workers' frames,
	 * which reach all of them at once, so their rounds stay aligned */
	if (n->k > 1 && a->started && !a->first_seen) {
		a->first_seen = 1;
		a->deadline_tsc = now + node_us_tsc(n, gcdl_deadline_current(&a->dl));
	}
	if (++a->arr[hdr->sender] == a->chunk_count && a->started) {
		double us = node_tsc_us(n, now - a->start_tsc);

		gcdl_deadline_observe(&a->dl, us);
		NODE_LOG(control, DEBUG, "aggregator %u: worker %u: round %u complete after %.1f us",
			 n->conf.id, hdr->sender, a->t, us);
	}
	if (a->open && a->expected > 0 && a->got >= a->expected)
		close_round(n, lp, rte_rdtsc(), HOW_COMPLETE);
}

/* A worker asks again for frames of the update of a round (GCDL_MSG_REPAIR:
 * first chunk, count, one bit per chunk): sent again, unicast, from the kept
 * image, while it is kept (else the worker resyncs). */
static void
on_repair(struct gcdl_node *n, const struct gcdl_frame_hdr *hdr, const uint8_t *pl)
{
	struct node_agg *a = n->a;
	const struct gcdl_join_worker *w = &a->jw[hdr->sender];
	const struct node_image *img = &a->upd[hdr->round % NODE_DL_KEEP];
	uint32_t first, count;

	if (hdr->sender >= n->n || !w->joined || memcmp(hdr->src, w->mac, 6) != 0) {
		node_count(n, GCDL_CTR_DROP(GCDL_DROP_SENDER), 1);
		return;
	}
	if (n->relay != NULL) {
		node_relay_serve(n, w->port, hdr, pl);
		return;
	}
	if (hdr->payload_len < 8) {
		node_count(n, GCDL_CTR_DROP(GCDL_DROP_PAYLOAD), 1);
		return;
	}
	first = (uint32_t)pl[0] << 24 | (uint32_t)pl[1] << 16 | (uint32_t)pl[2] << 8 | pl[3];
	count = (uint32_t)pl[4] << 24 | (uint32_t)pl[5] << 16 | (uint32_t)pl[6] << 8 | pl[7];
	if (count > n->dl_chunks || first > n->dl_chunks - count ||
	    hdr->payload_len != 8 + (count + 7) / 8) {
		node_count(n, GCDL_CTR_DROP(GCDL_DROP_PAYLOAD), 1);
		return;
	}
	if (img->frames == 0 || img->round != hdr->round || img->type != n->dl_type) {
		/* not closed yet (the worker asks again), or no longer kept (it resyncs) */
		node_count(n, GCDL_CTR_REPAIRS_UNHELD, 1);
		return;
	}
	for (uint32_t i = 0; i < count; i++) {
		int len;

		if (!(pl[8 + i / 8] >> (i % 8) & 1))
			continue;
		len = node_image_resend(n, img, first + i, w->port, w->mac);
		if (len > 0) {
			node_count(n, GCDL_CTR_DOWNLINK_REPAIRS, 1);
			node_count(n, GCDL_CTR_DOWNLINK_REPAIR_BYTES, (uint64_t)len + GCDL_ETH_FCS_LEN);
		}
	}
}

/* Receive on every port. @return frames handled. */
static uint32_t
poll_ports(struct gcdl_node *n, const struct gcdl_loop *lp)
{
	struct node_agg *a = n->a;
	struct rte_mbuf *pkts[NODE_MAX_BURST];
	uint64_t t0 = 0; /* read when a poll first brings frames: idle polls make no system call */
	uint32_t total = 0;

	for (uint16_t pi = 0; pi < n->nports; pi++) {
		uint16_t nb = node_rx(n, pi, pkts);
		uint64_t now;

		if (nb == 0)
			continue;
		if (t0 == 0)
			t0 = node_thread_ns();
		now = rte_rdtsc();
		/* frames seen after the deadline are late, even if the loop was
		 * descheduled and only now gets to them */
		if (a->open && now >= a->deadline_tsc)
			close_round(n, lp, now, HOW_DEADLINE);
		for (uint16_t i = 0; i < nb; i++) {
			struct gcdl_frame_hdr hdr;
			const uint8_t *pl;

			if (node_decode(n, pkts[i], &hdr, &pl) != 0)
				continue;
			if (hdr.type == GCDL_MSG_HELLO || hdr.type == GCDL_MSG_RESYNC)
				on_hello(n, pi, &hdr, pl);
			else if (hdr.type == GCDL_MSG_REPAIR)
				on_repair(n, &hdr, pl);
			else if (!n->finished)
				on_gradient(n, lp, &hdr, pl, now);
			else
				node_count(n, GCDL_CTR_LATE, 1);
		}
		rte_pktmbuf_free_bulk(pkts, nb);
		total += nb;
	}
	/* empty polls are idle time, not ingest */
	if (t0 != 0)
		node_count(n, GCDL_CTR_CPU_INGEST_NS, node_thread_ns() - t0);
	return total;
}

static void
open_round(struct gcdl_node *n, uint64_t now)
{
	struct node_agg *a = n->a;
	uint32_t expected = 0;
	double dl = gcdl_deadline_current(&a->dl);

	for (uint32_t k = 0; k < n->n; k++)
		expected += gcdl_join_expected(&a->jw[k], a->t, n->prof.absent_rounds);
	a->expected = (uint64_t)expected * a->chunk_count;
	a->start_tsc = now;
	a->deadline_tsc = now + node_us_tsc(n, dl);
	a->pre_tsc = 0;
	a->open = 1;
	a->first_seen = a->got > 0;
	gcdl_figure_set(&n->c, GCDL_FIG_LAST_DEADLINE_US, dl);
	node_tel_round(n, a->t + 1, dl);
	/* frames that came before the round's clock started count */
	if (a->expected > 0 && a->got >= a->expected) {
		a->open = 0;
		a->closing = 1;
		a->how = HOW_COMPLETE;
		a->close_tsc = a->seen_tsc = now;
		a->not_running_us = 0;
	}
}

/* The accounting of a closed round's time. */
static void
account_close(struct gcdl_node *n)
{
	struct node_agg *a = n->a;
	double round_us = node_tsc_us(n, a->seen_tsc - a->start_tsc);

	switch (a->how) {
	case HOW_COMPLETE:
		node_count(n, GCDL_CTR_CLOSED_COMPLETE, 1);
		break;
	case HOW_DEADLINE: {
		double over = a->seen_tsc > a->deadline_tsc
				      ? node_tsc_us(n, a->seen_tsc - a->deadline_tsc) : 0.0;
		double running = over - a->not_running_us;

		node_count(n, GCDL_CTR_CLOSED_DEADLINE, 1);
		gcdl_figure_max(&n->c, GCDL_FIG_MAX_OVERSHOOT_US, over);
		gcdl_figure_max(&n->c, GCDL_FIG_MAX_OVERSHOOT_RUNNING_US, running);
		if (over > NODE_CLOSE_SLACK_US) {
			node_count(n, GCDL_CTR_CLOSED_LATE, 1);
			if (running <= NODE_CLOSE_SLACK_US)
				node_count(n, GCDL_CTR_CLOSED_LATE_NOT_RUNNING, 1);
		}
		break;
	}
	case HOW_STOP:
		node_count(n, GCDL_CTR_CLOSED_STOP, 1);
		break;
	default:
		node_count(n, GCDL_CTR_CLOSED_CATCHUP, 1);
		break;
	}
	gcdl_figure_max(&n->c, GCDL_FIG_MAX_ROUND_US, round_us);
	gcdl_figure_set(&n->c, GCDL_FIG_WALL_S, node_tsc_us(n, a->seen_tsc - a->t0_tsc) / 1e6);
}

/* Decode the closed round, take the step, end the round, stream the update
 * to every joined worker, open the next round (or stop). Waits (returns 0)
 * while every image is still on its way. @return 1 when done, 0 when
 * waiting, or a negative error. */
static int
finish_round(struct gcdl_node *n, struct gcdl_loop *lp)
{
	const struct gcdl_profile *p = &n->prof;
	struct node_agg *a = n->a;
	struct gcdl_round_info info;
	struct node_image *img = &a->upd[a->t % NODE_DL_KEEP];
	uint64_t c0;
	int last, rc;

	/* the image of round t - KEEP is still on its way to the group */
	if (img->users > 0)
		return 0;
	c0 = node_thread_ns();
	/* the update is encoded from the engine's own array (no copy), the
	 * vote from a copy taken before the step */
	if (n->al == NULL) {
		gcdl_engine_close_round(n->e, n->vote ? a->update : NULL, &info);
	} else {
		/* the aggregation lcores close their parts (CPU time theirs) */
		if (!node_agg_lcores_close(n, a->t))
			return 0;
		gcdl_engine_close_finish(n->e, &info);
	}
	node_count(n, GCDL_CTR_CPU_DECODE_NS, node_thread_ns() - c0);
	node_count(n, GCDL_CTR_DECODE_COORDS, (uint64_t)n->dim * info.contributors);
	a->closing = 0;
	/* this aggregator's downlink: the update frames of its range */
	info.downlink_bytes = gcdl_engine_downlink_bytes(n->e, a->coord_first, a->coord_count,
							 &info);
	account_close(n);
	last = a->t + 1 == p->rounds || a->how == HOW_STOP;
	/* evaluate and report before the update goes down, so evaluation never
	 * competes with the next round's workers for the cores */
	rc = gcdl_round_end_close(&n->re, a->t, &info, node_tsc_us(n, a->seen_tsc - a->start_tsc) / 1e3,
				  last, n->fail, sizeof(n->fail));
	if (rc != 0)
		return node_fail(n, rc, "%s", n->fail);
	node_tel_closed(n, a->t + 1, info.stragglers);
	NODE_LOG(control, DEBUG, "aggregator %u: round %u closed %s after %.1f us: %u stragglers, "
		 "%" PRIu64 " frames, %" PRIu64 " duplicates", n->conf.id, a->t,
		 a->how == HOW_COMPLETE ? "complete" : a->how == HOW_DEADLINE ? "by deadline" :
		 a->how == HOW_STOP ? "on request" : "to catch up",
		 node_tsc_us(n, a->seen_tsc - a->start_tsc), info.stragglers, info.frames,
		 info.duplicates);
	/* relay: the commit of the frames already sent down */
	if (n->relay != NULL) {
		uint16_t ports[NODE_MAX_PORTS], np = group_ports(n, ports);

		rc = node_relay_commit(n, ports, np);
		if (rc != 0 && rc != -ENOBUFS)
			return node_fail(n, rc, "relay: commit of round %u: %s", a->t, strerror(-rc));
	} else {
	/* the update of a's range goes once to the group, to every worker that
	 * joined (kept NODE_DL_KEEP rounds for repairs) */
	c0 = node_thread_ns();
	node_image_encode(n, img, n->dl_type, a->t, n->vote ? a->update : gcdl_engine_update(n->e),
			  a->coord_first, a->coord_count);
	node_count(n, GCDL_CTR_CPU_DL_ENCODE_NS, node_thread_ns() - c0);
	if (a->gq.len < AGG_QUEUE) {
		struct node_stream *s = &a->gq.s[(a->gq.head + a->gq.len) % AGG_QUEUE];

		s->img = img;
		s->next = 0;
		a->gq.len++;
		img->users++;
	} else {
		node_count(n, GCDL_CTR_TX_FAILED, img->frames); /* the workers repair */
	}
	}
	if (n->conf.inject_garbage > 0 || n->conf.inject_hostile > 0)
		for (uint32_t k = 0; k < n->n; k++)
			if (a->jw[k].joined)
				node_inject(n, a->t + 1, a->jw[k].port, a->jw[k].mac);
	a->silent = info.contributors == 0 ? a->silent + 1 : 0;
	if (a->silent >= p->absent_rounds && a->how != HOW_CATCHUP)
		return node_fail(n, -ENOTCONN, "no worker contributed to the last %u rounds "
				 "(network.absent_rounds) up to round %u: the workers are gone",
				 a->silent, a->t + 1);
	a->t++;
	if (last) {
		n->finished = 1;
		n->stopped = a->how == HOW_STOP;
		/* answer repairs and resyncs a while (a local cluster: until its
		 * workers are done) */
		if (!n->stopped)
			n->linger_until = rte_rdtsc() + node_us_tsc(n, n->conf.local_finished != NULL
									? 10 * NODE_LINGER_US
									: NODE_LINGER_US);
		return 1;
	}
	gcdl_engine_begin_round(n->e, a->t);
	node_agg_lcores_open(n, a->t);
	node_relay_open(n, a->t);
	a->got = 0;
	memset(a->arr, 0, sizeof(uint32_t) * n->n);
	open_round(n, rte_rdtsc());
	node_wake_at(lp, a->deadline_tsc);
	return 1;
}

static int
start(struct gcdl_node *n, uint64_t now)
{
	struct node_agg *a = n->a;
	uint32_t joined = 0;

	for (uint32_t k = 0; k < n->n; k++)
		joined += a->jw[k].joined;
	if (joined < n->n && now < a->join_until && !node_stop_requested(n))
		return 0;
	if (joined == 0 && !node_stop_requested(n))
		return node_fail(n, -ENOTCONN, "no worker joined within network.join_wait_ms = %u "
				 "ms: are the workers running, with the same profile and job id, "
				 "on a reachable port?", n->prof.join_wait_ms);
	a->started = 1;
	a->t0_tsc = now;
	gcdl_round_end_start(&n->re);
	open_round(n, now);
	return 1;
}

int
node_agg_poll(struct gcdl_node *n, struct gcdl_loop *lp)
{
	struct node_agg *a = n->a;
	uint64_t now;
	uint32_t work = 0;
	int rc;

	if (a->open && lp->top < a->deadline_tsc && a->deadline_tsc - lp->top < a->spin_tsc) {
		a->pre_tsc = lp->top;
		a->pre_cpu = node_thread_ns();
	}
	if (lp->prev_slept)
		a->pre_tsc = 0; /* off-CPU by choice: not "not running" */
	work += poll_ports(n, lp);
	if (n->rc != 0)
		return n->rc;
	now = rte_rdtsc();
	if (n->finished) {
		/* lingering: answer resyncs with the final model, until a stop request */
		if (node_stop_requested(n) && n->linger_until != 0)
			n->linger_until = 1;
	} else if (!a->started) {
		rc = start(n, now);
		if (rc < 0)
			return rc;
		work += (uint32_t)rc;
		if (!a->started)
			node_wake_at(lp, a->join_until);
	} else {
		if (a->open) {
			if (node_stop_requested(n))
				close_round(n, lp, now, HOW_STOP);
			else if (a->t < a->catchup_to)
				close_round(n, lp, now, HOW_CATCHUP);
			else if (now >= a->deadline_tsc)
				close_round(n, lp, now, HOW_DEADLINE);
			else
				node_wake_at(lp, a->deadline_tsc);
		}
		if (a->closing) {
			if (node_stop_requested(n))
				a->how = HOW_STOP;
			rc = finish_round(n, lp);
			if (rc < 0)
				return rc;
			work += (uint32_t)rc;
		}
	}
	work += feed(n);
	return (int)work;
}
