/* SPDX-License-Identifier: BSD-3-Clause */
/* The algorithm engine: worker gradients, uplink payloads, aggregation and the
 * optimizer step, independent of any transport. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "gcdl/agg.h"
#include "gcdl/downlink.h"
#include "gcdl/engine.h"
#include "gcdl/mesh.h"
#include "gcdl/quant.h"
#include "gcdl/rng.h"
#include "seterr.h"

/* One accumulation part: its chunks, their coordinates, its scratch and
 * what it did (written by the thread that runs the part only). */
struct engine_part {
	uint32_t lo, hi;       /* chunks */
	uint32_t x0, x1;       /* coordinates */
	uint32_t blk;          /* coordinates closed at a time (whole chunks, update frames) */
	float *tmp;            /* one chunk of floats */
	uint32_t empty;        /* chunks without a contributor at the last close */
	uint64_t coords;       /* coordinates accumulated, all rounds */
	uint64_t coords_close; /* of which when the round closed (not on arrival) */
	uint64_t early;        /* chunks closed when they completed, all rounds */
};

/* Per compute context: a model (it owns scratch) and gather buffers. */
struct engine_ctx {
	struct gcdl_model *model;
	float *grad;
	float *xb;
	float *yb;
};

struct gcdl_engine {
	struct gcdl_profile prof;
	enum gcdl_msg_type type;
	enum gcdl_decoder decoder;
	struct gcdl_layout *layout;
	uint32_t n, m, dim;
	uint32_t chunk_coords, chunks;
	size_t max_payload;
	const struct gcdl_dataset *train;
	const uint32_t *offsets;
	uint32_t contexts;
	struct engine_ctx *ctx;

	float *w;   /* the aggregator's replica */
	float *mom; /* momentum buffer */
	float *resid; /* the downlink's error-feedback residual (onebit), else NULL */
	float **ef;   /* onebit_gc_ef: worker k's residual e_k (allocated at its first
		       * round, dim values), else NULL */
	float **wmom; /* optim.momentum_at workers: worker k's momentum m_k (likewise) */
	uint32_t *wseq; /* per worker: odd while its state is being changed (a
			 * checkpoint's copy of it retries or skips) */
	/* onebit_gc_ef: the payloads compression made, per worker (chunks x
	 * max_payload bytes, allocated at its first round) and the round they
	 * are of; and one chunk of x = v + e (this engine's compressions run on
	 * one thread at a time) */
	uint8_t **efpay;
	uint32_t *efround;
	float *efx;
	int ws_borrowed; /* ef, wmom and wseq are another engine's (shared) */
	int vote;     /* the downlink is signsgd_mv's vote (gcdl_profile_downlink_vote()) */
	uint32_t dl_chunk_coords; /* coordinates per 1-bit update frame */
	float *g;   /* decoded gradient */

	/* Payloads are kept per (chunk, worker) and accumulated in worker order,
	 * so the float sums do not depend on the order in which frames arrive:
	 * any transport gives the same bits. A chunk whose N frames are all in
	 * is accumulated at once (its accumulator written in one pass, the
	 * payloads still in cache), the others when the round closes, block by
	 * block with their decode and step, skipping the workers that sent
	 * none. Chunk c's accumulator has taken workers 0 .. acc_next[c] - 1;
	 * acc_next[c] = N: chunk c is accumulated (complete, or closed). */
	uint8_t *slots;
	uint8_t *slot_full;     /* written with release, read with acquire */
	uint16_t *slot_len;
	uint32_t *slot_count;   /* per chunk: frames in (release; the ingest thread's) */
	uint32_t *acc_next;
	struct gcdl_agg *agg;
	/* the accumulation parts (gcdl_engine_set_parts()): part i owns the
	 * chunks [lo, hi) and their coordinates [x0, x1) */
	uint32_t parts;
	struct engine_part *part;
	/* gcdl_engine_set_early_close(): a complete chunk is closed at once
	 * (decode, step, compression, update), acc_next[c] = N + 1 */
	int early;
	float *early_update;

	uint32_t round;
	struct gcdl_round_info cur;
	/* the value bound (coding.value_bound): the largest scale or value
	 * accepted in the last round that had any, and in this one so far */
	float ref_max, cur_max;
};

static enum gcdl_msg_type
method_type(enum gcdl_method m)
{
	switch (m) {
	case GCDL_METHOD_SGC:
	case GCDL_METHOD_IGNORE:
		return GCDL_MSG_FLOAT;
	case GCDL_METHOD_SIGNSGD_MV:
		return GCDL_MSG_SIGN;
	default:
		return GCDL_MSG_ONEBIT;
	}
}

void
gcdl_engine_free(struct gcdl_engine *e)
{
	if (e == NULL)
		return;
	if (e->ctx != NULL) {
		for (uint32_t i = 0; i < e->contexts; i++) {
			gcdl_model_free(e->ctx[i].model);
			free(e->ctx[i].grad);
			free(e->ctx[i].xb);
			free(e->ctx[i].yb);
		}
		free(e->ctx);
	}
	gcdl_layout_free(e->layout);
	gcdl_agg_free(e->agg);
	free(e->w);
	free(e->mom);
	free(e->resid);
	for (uint32_t k = 0; e->efpay != NULL && k < e->n; k++)
		free(e->efpay[k]);
	free(e->efpay);
	free(e->efround);
	free(e->efx);
	if (!e->ws_borrowed) {
		for (uint32_t k = 0; e->ef != NULL && k < e->n; k++)
			free(e->ef[k]);
		for (uint32_t k = 0; e->wmom != NULL && k < e->n; k++)
			free(e->wmom[k]);
		free(e->ef);
		free(e->wmom);
		free(e->wseq);
	}
	free(e->g);
	for (uint32_t i = 0; e->part != NULL && i < e->parts; i++)
		free(e->part[i].tmp);
	free(e->part);
	free(e->acc_next);
	free(e->slot_count);
	free(e->slots);
	free(e->slot_full);
	free(e->slot_len);
	free(e);
}

static struct gcdl_model *
model_for(const struct gcdl_profile *p, const struct gcdl_dataset *train)
{
	if (p->model == GCDL_MODEL_EXTERNAL)
		return gcdl_model_create(p->model, p->model_dim, 0, 0, 0.0f);
	return gcdl_model_create(p->model, train->features, train->classes, p->hidden,
				 (float)p->l2);
}

struct gcdl_engine *
gcdl_engine_create(const struct gcdl_profile *p, const struct gcdl_dataset *train,
		   const uint32_t *offsets, uint32_t contexts, char *err, size_t errlen)
{
	struct gcdl_engine *e;
	struct gcdl_profile xp;
	enum gcdl_layout_kind kind;
	uint32_t d, max_rows = 0;
	size_t nslots;
	int external = p != NULL && p->model == GCDL_MODEL_EXTERNAL;

	if (p == NULL || train == NULL || offsets == NULL || contexts == 0 ||
	    (!external && (train->rows == 0 || train->x == NULL))) {
		gcdl_seterr(err, errlen, "engine: missing profile, data or contexts");
		errno = EINVAL;
		return NULL;
	}
	if (gcdl_profile_validate(p, err, errlen) != 0) {
		errno = EINVAL;
		return NULL;
	}
	if (external) {
		/* the trainer's optimizer takes the step (step_range: u = g, so
		 * the update is the decoded gradient and the "model" minus their
		 * sum); no momentum anywhere (optim.momentum_at = workers would
		 * alter v_k), no minibatch of its own, the round's step size 1 */
		xp = *p;
		xp.lr = 1.0;
		xp.schedule = GCDL_SCHEDULE_CONSTANT;
		xp.momentum = 0.0;
		xp.weight_decay = 0.0;
		xp.batch = 0;
		p = &xp;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		goto nomem;
	e->prof = *p;
	e->n = p->workers;
	gcdl_profile_layout(p, &kind, &e->m, &d);
	e->train = train;
	e->offsets = offsets;
	e->type = method_type(p->method);
	e->decoder = p->method == GCDL_METHOD_IGNORE ? GCDL_DECODER_NORMALISED : p->decoder;
	if (p->method == GCDL_METHOD_ONEBIT_GC_EF) {
		e->ef = calloc(e->n, sizeof(*e->ef));
		e->efpay = calloc(e->n, sizeof(*e->efpay));
		e->efround = malloc(sizeof(*e->efround) * e->n);
		if (e->ef == NULL || e->efpay == NULL || e->efround == NULL)
			goto nomem;
		for (uint32_t k = 0; k < e->n; k++)
			e->efround[k] = UINT32_MAX;
	}
	if (gcdl_profile_worker_momentum(p)) {
		e->wmom = calloc(e->n, sizeof(*e->wmom));
		if (e->wmom == NULL)
			goto nomem;
	}
	if (e->ef != NULL || e->wmom != NULL) {
		e->wseq = calloc(e->n, sizeof(*e->wseq));
		if (e->wseq == NULL)
			goto nomem;
	}
	for (uint32_t i = 0; i < e->m && !external; i++) {
		if (offsets[i + 1] <= offsets[i]) {
			gcdl_seterr(err, errlen, "engine: partition %u is empty (%u training rows for "
			       "%u partitions)", i, train->rows, e->m);
			gcdl_engine_free(e);
			errno = EINVAL;
			return NULL;
		}
		if (offsets[i + 1] - offsets[i] > max_rows)
			max_rows = offsets[i + 1] - offsets[i];
	}
	if (!external && offsets[e->m] != train->rows) {
		gcdl_seterr(err, errlen, "engine: partition offsets do not cover the %u training rows",
		       train->rows);
		gcdl_engine_free(e);
		errno = EINVAL;
		return NULL;
	}
	if (p->batch > 0 && p->batch < max_rows)
		max_rows = p->batch;
	e->layout = gcdl_layout_create(kind, e->n, e->m, d, p->seed, err, errlen);
	if (e->layout == NULL) {
		gcdl_engine_free(e);
		errno = EINVAL;
		return NULL;
	}
	e->contexts = contexts;
	e->ctx = calloc(contexts, sizeof(*e->ctx));
	if (e->ctx == NULL)
		goto nomem;
	for (uint32_t i = 0; i < contexts; i++) {
		e->ctx[i].model = model_for(p, train);
		if (e->ctx[i].model == NULL) {
			gcdl_seterr(err, errlen, "model.type: cannot build the model for %u features, "
			       "%u classes and %u hidden units", train->features, train->classes,
			       p->hidden);
			gcdl_engine_free(e);
			errno = EINVAL;
			return NULL;
		}
		e->dim = gcdl_model_dim(e->ctx[i].model);
		e->ctx[i].grad = malloc(sizeof(float) * e->dim);
		if (p->batch > 0) {
			e->ctx[i].xb = malloc(sizeof(float) * (size_t)max_rows * train->features);
			e->ctx[i].yb = malloc(sizeof(float) * max_rows);
			if (e->ctx[i].xb == NULL || e->ctx[i].yb == NULL)
				goto nomem;
		}
		if (e->ctx[i].grad == NULL)
			goto nomem;
	}
	e->chunk_coords = gcdl_frame_chunk_coords(e->type, gcdl_profile_frame_mtu(p), p->scale_block);
	if (e->chunk_coords == 0) {
		gcdl_seterr(err, errlen, "coding.mtu %u / coding.scale_block %u: no coordinate fits "
		       "a frame", p->mtu, p->scale_block);
		gcdl_engine_free(e);
		errno = EINVAL;
		return NULL;
	}
	e->chunks = (e->dim + e->chunk_coords - 1) / e->chunk_coords;
	e->max_payload = gcdl_frame_payload_len(e->type, e->chunk_coords, p->scale_block);
	e->w = malloc(sizeof(float) * e->dim);
	e->mom = calloc(e->dim, sizeof(float));
	e->dl_chunk_coords = gcdl_frame_chunk_coords(GCDL_MSG_UPDATE1, gcdl_profile_frame_mtu(p),
						     p->scale_block);
	e->vote = gcdl_profile_downlink_vote(p);
	if (gcdl_profile_downlink_compressed(p)) {
		e->resid = calloc(e->dim, sizeof(float));
		if (e->resid == NULL || e->dl_chunk_coords == 0)
			goto nomem;
	}
	e->g = malloc(sizeof(float) * e->dim);
	nslots = (size_t)e->chunks * e->n;
	e->slots = malloc(nslots * e->max_payload);
	e->slot_full = calloc(nslots, 1);
	e->slot_len = calloc(nslots, sizeof(uint16_t));
	e->acc_next = calloc(e->chunks, sizeof(uint32_t));
	e->slot_count = calloc(e->chunks, sizeof(uint32_t));
	e->agg = gcdl_agg_create(e->n, e->dim, e->chunk_coords);
	if (e->w == NULL || e->mom == NULL || e->g == NULL || e->slots == NULL ||
	    e->slot_full == NULL || e->slot_len == NULL || e->acc_next == NULL ||
	    e->slot_count == NULL || e->agg == NULL ||
	    gcdl_engine_set_parts(e, 1) != 0)
		goto nomem;
	gcdl_model_init(e->ctx[0].model, e->w, p->seed);
	gcdl_engine_begin_round(e, 0);
	return e;
nomem:
	gcdl_seterr(err, errlen, "engine: out of memory");
	gcdl_engine_free(e);
	errno = ENOMEM;
	return NULL;
}

const struct gcdl_layout *
gcdl_engine_layout(const struct gcdl_engine *e)
{
	return e ? e->layout : NULL;
}

uint32_t
gcdl_engine_dim(const struct gcdl_engine *e)
{
	return e ? e->dim : 0;
}

enum gcdl_msg_type
gcdl_engine_msg_type(const struct gcdl_engine *e)
{
	return e ? e->type : GCDL_MSG_ONEBIT;
}

uint32_t
gcdl_engine_chunks(const struct gcdl_engine *e)
{
	return e ? e->chunks : 0;
}

uint32_t
gcdl_engine_chunk_coords(const struct gcdl_engine *e)
{
	return e ? e->chunk_coords : 0;
}

size_t
gcdl_engine_max_payload(const struct gcdl_engine *e)
{
	return e ? e->max_payload : 0;
}

float *
gcdl_engine_model(struct gcdl_engine *e)
{
	return e ? e->w : NULL;
}

float *
gcdl_engine_momentum(struct gcdl_engine *e)
{
	return e ? e->mom : NULL;
}

float *
gcdl_engine_residual(struct gcdl_engine *e)
{
	return e ? e->resid : NULL;
}

enum gcdl_msg_type
gcdl_engine_downlink_type(const struct gcdl_engine *e)
{
	return e != NULL && (e->resid != NULL || e->vote) ? GCDL_MSG_UPDATE1 : GCDL_MSG_UPDATE;
}

uint32_t
gcdl_engine_downlink_chunk_coords(const struct gcdl_engine *e)
{
	if (e == NULL)
		return 0;
	if (e->resid != NULL || e->vote)
		return e->dl_chunk_coords;
	return gcdl_frame_chunk_coords(GCDL_MSG_UPDATE, gcdl_profile_frame_mtu(&e->prof), 0);
}

uint64_t
gcdl_engine_downlink_bytes(const struct gcdl_engine *e, uint32_t first, uint32_t count,
			   const struct gcdl_round_info *info)
{
	const struct gcdl_profile *p;
	uint32_t l, end;
	uint64_t bytes = 0;

	if (e == NULL || count == 0)
		return 0;
	p = &e->prof;
	if (p->topology == GCDL_TOPO_MESH)
		return 0; /* no downlink: every peer aggregates itself */
	if (p->downlink == GCDL_DOWNLINK_RELAY) {
		/* the accepted frames, once each, and the commit */
		size_t set = gcdl_mesh_set_bytes(e->chunks, e->n);

		return (info != NULL ? info->wire_bytes : 0) +
		       gcdl_profile_wire_bytes(p, GCDL_MESH_COMMIT_HDR + set);
	}
	l = gcdl_engine_downlink_chunk_coords(e);
	end = first + count > e->dim ? e->dim : first + count;
	/* every frame that holds a coordinate of the range */
	for (uint32_t c = first / l; (uint64_t)c * l < end; c++) {
		uint32_t lo = c * l, cnt = e->dim - lo < l ? e->dim - lo : l;

		bytes += gcdl_profile_wire_bytes(p, gcdl_frame_payload_len(
							     gcdl_engine_downlink_type(e), cnt,
							     p->scale_block));
	}
	return bytes;
}

int
gcdl_engine_worker_gradient(struct gcdl_engine *e, uint32_t ctx, uint32_t worker,
			    uint32_t round, const float *w, float *v)
{
	const struct gcdl_dataset *ds;
	const uint32_t *parts;
	struct engine_ctx *c;
	uint32_t nparts;
	int rc;

	if (e == NULL || w == NULL || v == NULL)
		return -EINVAL;
	if (ctx >= e->contexts || worker >= e->n)
		return -ERANGE;
	if (e->prof.model == GCDL_MODEL_EXTERNAL)
		return -ENOTSUP; /* the trainer computes it */
	c = &e->ctx[ctx];
	ds = e->train;
	rc = gcdl_layout_worker_partitions(e->layout, worker, &parts, &nparts);
	if (rc != 0)
		return rc;
	memset(v, 0, sizeof(float) * e->dim);
	for (uint32_t j = 0; j < nparts; j++) {
		uint32_t i = parts[j];
		uint32_t first = e->offsets[i], rows = e->offsets[i + 1] - first;
		const float *x = ds->x + (size_t)first * ds->features;
		const float *y = ds->y + first;
		float wgt = 1.0f / ((float)e->m * (float)gcdl_layout_replication(e->layout, i));

		if (e->prof.batch > 0 && e->prof.batch < rows) {
			struct gcdl_rng r;

			/* the same rows for every holder of partition i in round t */
			gcdl_rng_init(&r, e->prof.seed, GCDL_RNG_MINIBATCH, round, i);
			for (uint32_t b = 0; b < e->prof.batch; b++) {
				uint32_t row = gcdl_rng_below(&r, rows);

				memcpy(c->xb + (size_t)b * ds->features,
				       x + (size_t)row * ds->features,
				       sizeof(float) * ds->features);
				c->yb[b] = y[row];
			}
			x = c->xb;
			y = c->yb;
			rows = e->prof.batch;
		}
		rc = gcdl_model_loss_grad(c->model, w, x, y, rows, c->grad, NULL);
		if (rc != 0)
			return rc;
		cblas_saxpy((int)e->dim, wgt, c->grad, 1, v, 1);
	}
	return 0;
}

/* A worker's state vector (residual, momentum), made (zero) at its first use. */
static float *
worker_state(struct gcdl_engine *e, float **slot)
{
	if (*slot == NULL)
		__atomic_store_n(slot, calloc(e->dim, sizeof(float)), __ATOMIC_RELEASE);
	return *slot;
}

/* onebit_gc_ef, chunk by chunk while it is in cache: x = v + e_k into efx,
 * q = C(x) in its place with e_k = x - q, then q's payload (block scales and
 * signs) into the worker's stash: v is read once and q never goes back to
 * memory. */
static void
ef_compress_encode(struct gcdl_engine *e, uint32_t worker, const float *v)
{
	uint32_t bs = e->prof.scale_block;
	float *r = e->ef[worker];
	uint8_t *pay = e->efpay[worker];

	for (uint32_t c = 0; c < e->chunks; c++) {
		uint32_t first = c * e->chunk_coords;
		uint32_t cnt = e->dim - first < e->chunk_coords ? e->dim - first : e->chunk_coords;

		gcdl_downlink_compress(v + first, r + first, e->efx, 0, cnt, cnt, bs);
		gcdl_downlink_encode(e->efx, cnt, bs, pay + (size_t)c * e->max_payload);
	}
}

int
gcdl_engine_worker_compress(struct gcdl_engine *e, uint32_t worker, uint32_t round, float *v)
{
	if (e == NULL || v == NULL)
		return -EINVAL;
	if (worker >= e->n)
		return -ERANGE;
	if (e->ef == NULL && e->wmom == NULL)
		return 0;
	/* a non-finite v would poison the state for good: refuse it first */
	for (uint32_t j = 0; j < e->dim; j++)
		if (!isfinite(v[j]))
			return -EDOM;
	if ((e->wmom != NULL && worker_state(e, &e->wmom[worker]) == NULL) ||
	    (e->ef != NULL && worker_state(e, &e->ef[worker]) == NULL))
		return -ENOMEM;
	if (e->ef != NULL) {
		if (e->efx == NULL)
			e->efx = malloc(sizeof(float) * e->chunk_coords);
		if (e->efpay[worker] == NULL)
			e->efpay[worker] = malloc((size_t)e->chunks * e->max_payload);
		if (e->efx == NULL || e->efpay[worker] == NULL)
			return -ENOMEM;
	}
	__atomic_fetch_add(&e->wseq[worker], 1, __ATOMIC_ACQ_REL);
	if (e->wmom != NULL) {
		/* optim.momentum_at workers: v <- m_k = mu m_k + v_k */
		float mu = (float)e->prof.momentum, *m = e->wmom[worker];

		for (uint32_t j = 0; j < e->dim; j++) {
			m[j] = mu * m[j] + v[j];
			v[j] = m[j];
		}
	}
	if (e->ef != NULL) {
		/* the uplink's chunks and blocks: q = C(v + e_k), e_k = v + e_k - q */
		ef_compress_encode(e, worker, v);
		e->efround[worker] = round;
	}
	__atomic_fetch_add(&e->wseq[worker], 1, __ATOMIC_RELEASE);
	return 0;
}

int
gcdl_engine_share_worker_state(struct gcdl_engine *e, struct gcdl_engine *owner)
{
	if (e == NULL || owner == NULL || e == owner)
		return -EINVAL;
	if (e->n != owner->n || e->dim != owner->dim || (e->ef == NULL) != (owner->ef == NULL) ||
	    (e->wmom == NULL) != (owner->wmom == NULL))
		return -EINVAL;
	if (e->ws_borrowed || e->wseq == NULL)
		return 0; /* already, or nothing to share */
	for (uint32_t k = 0; k < e->n; k++)
		if ((e->ef != NULL && e->ef[k] != NULL) || (e->wmom != NULL && e->wmom[k] != NULL))
			return -EBUSY;
	free(e->ef);
	free(e->wmom);
	free(e->wseq);
	e->ef = owner->ef;
	e->wmom = owner->wmom;
	e->wseq = owner->wseq;
	e->ws_borrowed = 1;
	return 0;
}

static float **
state_array(const struct gcdl_engine *e, enum gcdl_worker_state which)
{
	return which == GCDL_WSTATE_EF ? e->ef : which == GCDL_WSTATE_MOMENTUM ? e->wmom : NULL;
}

int
gcdl_engine_worker_state_get(const struct gcdl_engine *e, uint32_t worker,
			     enum gcdl_worker_state which, float *out)
{
	float **a;

	if (e == NULL || out == NULL)
		return -EINVAL;
	a = state_array(e, which);
	if (a == NULL || worker >= e->n)
		return -ERANGE;
	/* a copy between two even, equal counts is whole (seqlock) */
	for (int tries = 0; tries < 3; tries++) {
		uint32_t s0 = __atomic_load_n(&e->wseq[worker], __ATOMIC_ACQUIRE), s1;
		const float *src = __atomic_load_n(&a[worker], __ATOMIC_ACQUIRE);

		if (s0 & 1)
			continue;
		if (src == NULL)
			return 0;
		memcpy(out, src, sizeof(float) * e->dim);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s1 = __atomic_load_n(&e->wseq[worker], __ATOMIC_RELAXED);
		if (s0 == s1)
			return 1;
	}
	return -EBUSY;
}

int
gcdl_engine_worker_state_set(struct gcdl_engine *e, uint32_t worker, enum gcdl_worker_state which,
			     const float *in)
{
	float **a, *dst;

	if (e == NULL || in == NULL)
		return -EINVAL;
	a = state_array(e, which);
	if (a == NULL || worker >= e->n)
		return -ERANGE;
	for (uint32_t j = 0; j < e->dim; j++)
		if (!isfinite(in[j]))
			return -EDOM;
	dst = worker_state(e, &a[worker]);
	if (dst == NULL)
		return -ENOMEM;
	memcpy(dst, in, sizeof(float) * e->dim);
	return 0;
}

int
gcdl_engine_encode_chunk(const struct gcdl_engine *e, uint32_t worker, uint32_t round,
			 uint32_t chunk, const float *v, uint8_t *payload, size_t cap,
			 uint32_t *count)
{
	uint32_t first, cnt, blocks;
	size_t len;
	int rc;

	if (e == NULL || v == NULL || payload == NULL)
		return -EINVAL;
	if (chunk >= e->chunks || worker >= e->n)
		return -ERANGE;
	first = chunk * e->chunk_coords;
	cnt = e->dim - first < e->chunk_coords ? e->dim - first : e->chunk_coords;
	len = gcdl_frame_payload_len(e->type, cnt, e->prof.scale_block);
	if (len > cap)
		return -ENOSPC;
	if (e->ef != NULL) {
		/* the payload gcdl_engine_worker_compress() made for this round */
		if (e->efround[worker] != round || e->efpay[worker] == NULL)
			return -ESTALE;
		memcpy(payload, e->efpay[worker] + (size_t)chunk * e->max_payload, len);
		if (count != NULL)
			*count = cnt;
		return (int)len;
	}
	switch (e->type) {
	case GCDL_MSG_ONEBIT: {
		float scales[GCDL_MTU_MAX / 4];

		blocks = gcdl_quant_blocks(cnt, e->prof.scale_block);
		rc = gcdl_quant_onebit(v + first, cnt, e->prof.scale_block, e->prof.seed, round,
				       worker, chunk, scales, payload + 4 * (size_t)blocks);
		if (rc != 0)
			return rc;
		gcdl_frame_put_floats(payload, scales, blocks);
		break;
	}
	case GCDL_MSG_SIGN:
		rc = gcdl_quant_sign(v + first, cnt, payload);
		if (rc != 0)
			return rc;
		break;
	default:
		for (uint32_t j = 0; j < cnt; j++)
			if (!isfinite(v[first + j]))
				return -EDOM;
		gcdl_frame_put_floats(payload, v + first, cnt);
		break;
	}
	if (count != NULL)
		*count = cnt;
	return (int)len;
}

void
gcdl_engine_frame_limits(const struct gcdl_engine *e, uint32_t round_min, uint32_t round_max,
			 struct gcdl_frame_limits *lim)
{
	if (e == NULL || lim == NULL)
		return;
	memset(lim, 0, sizeof(*lim));
	lim->job_id = e->prof.job_id;
	lim->senders = e->n;
	lim->dim = e->dim;
	lim->round_min = round_min;
	lim->round_max = round_max;
	lim->scale_block = e->type == GCDL_MSG_ONEBIT ? (uint16_t)e->prof.scale_block : 0;
	lim->chunk_coords[e->type] = e->chunk_coords;
}

int
gcdl_engine_begin_round(struct gcdl_engine *e, uint32_t round)
{
	if (e == NULL)
		return -EINVAL;
	e->round = round;
	memset(&e->cur, 0, sizeof(e->cur));
	e->cur.round = round;
	if (e->cur_max > 0)
		e->ref_max = e->cur_max;
	e->cur_max = 0;
	memset(e->slot_full, 0, (size_t)e->chunks * e->n);
	for (uint32_t c = 0; c < e->chunks; c++) {
		if (gcdl_agg_contributors(e->agg, c) > 0)
			gcdl_agg_reset_chunk(e->agg, c);
		e->acc_next[c] = 0;
		e->slot_count[c] = 0;
	}
	return 0;
}

/* The smallest common multiple of a and b. */
static uint64_t
lcm_u64(uint64_t a, uint64_t b)
{
	uint64_t x = a, y = b;

	while (y != 0) {
		uint64_t r = x % y;

		x = y;
		y = r;
	}
	return a / x * b;
}

int
gcdl_engine_set_parts(struct gcdl_engine *e, uint32_t parts)
{
	struct engine_part *np;
	uint64_t unit, units;

	if (e == NULL || parts == 0 || parts > GCDL_ENGINE_MAX_PARTS)
		return -EINVAL;
	/* a part's range is whole uplink chunks and, with the onebit downlink
	 * (its error feedback runs per update frame), whole update frames */
	unit = e->resid != NULL ? lcm_u64(e->chunk_coords, e->dl_chunk_coords) : e->chunk_coords;
	units = (e->dim + unit - 1) / unit;
	np = calloc(parts, sizeof(*np));
	if (np == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < parts; i++) {
		uint64_t u0 = units * i / parts, u1 = units * (i + 1) / parts;
		uint64_t x0 = u0 * unit, x1 = u1 * unit;
		/* the close runs block by block, each in cache: decode, step,
		 * compression and update of ~64 K coordinates at a time */
		uint64_t blk = unit * (unit < 65536 ? 65536 / unit : 1);

		np[i].x0 = (uint32_t)(x0 < e->dim ? x0 : e->dim);
		np[i].x1 = (uint32_t)(x1 < e->dim ? x1 : e->dim);
		np[i].lo = np[i].x0 / e->chunk_coords;
		np[i].hi = (np[i].x1 + e->chunk_coords - 1) / e->chunk_coords;
		np[i].blk = (uint32_t)(blk < e->dim ? blk : e->dim);
		np[i].tmp = malloc(sizeof(float) * e->chunk_coords);
		if (np[i].tmp == NULL) {
			for (uint32_t j = 0; j <= i; j++)
				free(np[j].tmp);
			free(np);
			return -ENOMEM;
		}
	}
	for (uint32_t i = 0; e->part != NULL && i < e->parts; i++)
		free(e->part[i].tmp);
	free(e->part);
	e->part = np;
	e->parts = parts;
	return 0;
}

uint32_t
gcdl_engine_parts(const struct gcdl_engine *e)
{
	return e != NULL ? e->parts : 0;
}

int
gcdl_engine_part_stats(const struct gcdl_engine *e, uint32_t part, struct gcdl_engine_part_stats *st)
{
	if (e == NULL || st == NULL)
		return -EINVAL;
	if (part >= e->parts)
		return -ERANGE;
	st->chunk_first = e->part[part].lo;
	st->chunk_count = e->part[part].hi - e->part[part].lo;
	st->coord_first = e->part[part].x0;
	st->coord_count = e->part[part].x1 - e->part[part].x0;
	st->coords = e->part[part].coords;
	st->coords_at_close = e->part[part].coords_close;
	st->chunks_closed_early = e->part[part].early;
	return 0;
}

/* Add slot (c, k)'s payload to chunk c's accumulator. */
static void
add_slot(struct gcdl_engine *e, struct engine_part *pt, uint32_t c, uint32_t k)
{
	float scales[GCDL_MTU_MAX / 4];
	uint32_t S = e->prof.scale_block, cnt = gcdl_agg_chunk_len(e->agg, c);
	uint32_t blocks = gcdl_quant_blocks(cnt, S);
	const uint8_t *pl = e->slots + ((size_t)c * e->n + k) * e->max_payload;

	switch (e->type) {
	case GCDL_MSG_ONEBIT:
		gcdl_frame_get_floats(scales, pl, blocks);
		gcdl_agg_add_onebit(e->agg, k, c, scales, S, pl + 4 * (size_t)blocks, cnt);
		break;
	case GCDL_MSG_SIGN:
		gcdl_agg_add_sign(e->agg, k, c, pl, cnt);
		break;
	default:
		gcdl_frame_get_floats(pt->tmp, pl, cnt);
		gcdl_agg_add_float(e->agg, k, c, pt->tmp, cnt);
		break;
	}
}

/* Chunk c's accumulator takes, in worker order, every frame whose lower
 * workers' frames are all in; with @p close, also the frames after a
 * missing one (the round is over: the missing ones will not count), and
 * the chunk is closed. @return coordinates added. */
static uint64_t
accumulate_chunk(struct gcdl_engine *e, struct engine_part *pt, uint32_t c, int close)
{
	uint32_t k = e->acc_next[c], added = 0;
	const uint8_t *full = e->slot_full + (size_t)c * e->n;

	for (; k < e->n; k++) {
		if (__atomic_load_n(&full[k], __ATOMIC_ACQUIRE))
			added++;
		else if (close)
			continue;
		else
			break;
		add_slot(e, pt, c, k);
	}
	e->acc_next[c] = k;
	return (uint64_t)added * gcdl_agg_chunk_len(e->agg, c);
}

static void close_chunk_early(struct gcdl_engine *e, struct engine_part *pt, uint32_t c);

/* Scales must be in [0, GCDL_ENGINE_MAX_VALUE], floats within
 * +-GCDL_ENGINE_MAX_VALUE: one NaN, infinity or value near FLT_MAX would
 * otherwise make the decoded update, and every replica with it, non-finite.
 * @return 0 with the largest magnitude in *max, or -EDOM. */
static int
values_sane(enum gcdl_msg_type type, const struct gcdl_frame_hdr *hdr, const uint8_t *payload,
	    float *max)
{
	uint32_t n;

	*max = 0;
	switch (type) {
	case GCDL_MSG_ONEBIT:
		n = gcdl_quant_blocks(hdr->coord_count, hdr->scale_block);
		break;
	case GCDL_MSG_SIGN:
		return 0;
	default:
		n = hdr->coord_count;
		break;
	}
	if ((size_t)n * 4 > hdr->payload_len)
		return -EDOM;
	for (uint32_t i = 0; i < n; i++) {
		float v;

		gcdl_frame_get_floats(&v, payload + 4 * (size_t)i, 1);
		/* written so that NaN fails too */
		if (!(fabsf(v) <= GCDL_ENGINE_MAX_VALUE) || (type == GCDL_MSG_ONEBIT && v < 0))
			return -EDOM;
		if (fabsf(v) > *max)
			*max = fabsf(v);
	}
	return 0;
}

int
gcdl_engine_ingest(struct gcdl_engine *e, const struct gcdl_frame_hdr *hdr,
		   const uint8_t *payload)
{
	size_t slot;
	float max;

	if (e == NULL || hdr == NULL || payload == NULL)
		return -EINVAL;
	if (hdr->type != e->type)
		return -EPROTO;
	if (hdr->round != e->round)
		return -ESTALE;
	if (hdr->sender >= e->n || hdr->chunk >= e->chunks || hdr->payload_len > e->max_payload)
		return -EINVAL;
	slot = (size_t)hdr->chunk * e->n + hdr->sender;
	if (e->slot_full[slot]) {
		e->cur.duplicates++;
		return -EALREADY;
	}
	if (values_sane(e->type, hdr, payload, &max) != 0)
		return -EDOM;
	/* far above anything accepted last round: a forged or broken scale, not
	 * a gradient (a real one does not grow 1000 times in a round) */
	if (e->prof.value_bound > 0 && e->ref_max > 0 &&
	    (double)max > e->prof.value_bound * (double)e->ref_max)
		return -ERANGE;
	if (max > e->cur_max)
		e->cur_max = max;
	memcpy(e->slots + slot * e->max_payload, payload, hdr->payload_len);
	e->slot_len[slot] = hdr->payload_len;
	/* a chunk a decode closed takes frames again: accumulated anew, in
	 * worker order, as if it had never closed */
	if (e->parts == 1 && e->acc_next[hdr->chunk] == e->n) {
		gcdl_agg_reset_chunk(e->agg, hdr->chunk);
		e->acc_next[hdr->chunk] = 0;
	}
	__atomic_store_n(&e->slot_full[slot], 1, __ATOMIC_RELEASE);
	__atomic_store_n(&e->slot_count[hdr->chunk], e->slot_count[hdr->chunk] + 1,
			 __ATOMIC_RELEASE);
	e->cur.frames++;
	e->cur.payload_bytes += hdr->payload_len;
	e->cur.wire_bytes += gcdl_profile_wire_bytes(&e->prof, hdr->payload_len);
	/* a chunk complete with this frame: one part accumulates it here, more
	 * by their threads (gcdl_engine_accumulate()) */
	if (e->parts == 1 && e->slot_count[hdr->chunk] == e->n) {
		e->part[0].coords += accumulate_chunk(e, &e->part[0], hdr->chunk, 0);
		if (e->early)
			close_chunk_early(e, &e->part[0], hdr->chunk);
	}
	return 0;
}

static double
step_size(const struct gcdl_profile *p, uint32_t t)
{
	switch (p->schedule) {
	case GCDL_SCHEDULE_SQRT:
		return p->lr / sqrt((double)t + 1.0);
	case GCDL_SCHEDULE_STEP:
		return p->lr * pow(p->step_gamma, (double)(t / p->step_every));
	default:
		return p->lr;
	}
}

uint64_t
gcdl_engine_accumulate(struct gcdl_engine *e, uint32_t part)
{
	struct engine_part *pt;
	uint64_t coords = 0;

	if (e == NULL || part >= e->parts)
		return 0;
	pt = &e->part[part];
	for (uint32_t c = pt->lo; c < pt->hi; c++)
		if (e->acc_next[c] < e->n &&
		    __atomic_load_n(&e->slot_count[c], __ATOMIC_ACQUIRE) == e->n) {
			coords += accumulate_chunk(e, pt, c, 0);
			if (e->early)
				close_chunk_early(e, pt, c);
		}
	pt->coords += coords;
	return coords;
}

/* signsgd_mv: a tied vote (a chunk with votes, their sum 0) is broken by a
 * bit of the counter-based stream keyed by (seed, round, chunk), so that
 * every replica breaks it the same way and the vote is 1 bit everywhere. */
static void
break_ties(struct gcdl_engine *e, float *g, uint32_t from, uint32_t to)
{
	for (uint32_t c = from; c < to; c++) {
		uint32_t lo = c * e->chunk_coords, cnt = gcdl_agg_chunk_len(e->agg, c);
		uint32_t word[1] = { 0 };
		uint64_t have = UINT64_MAX;

		if (gcdl_agg_contributors(e->agg, c) == 0)
			continue;
		for (uint32_t j = 0; j < cnt; j++) {
			if (g[lo + j] != 0.0f)
				continue;
			if (have != j / 32) {
				gcdl_rng_stream(e->prof.seed, e->round, GCDL_RNG_VOTE_WORKER, c, j / 32,
						word, 1);
				have = j / 32;
			}
			g[lo + j] = word[0] >> (j % 32) & 1 ? 1.0f : -1.0f;
		}
	}
}

/* Close chunks [lo, hi) of a part (accumulate what is left) and decode
 * them into g; adds their empty chunks to the part's count. */
static void
decode_chunks(struct gcdl_engine *e, struct engine_part *pt, float *g, uint32_t lo, uint32_t hi)
{
	uint64_t coords = 0;
	uint32_t empty = 0;

	for (uint32_t c = lo; c < hi; c++)
		if (e->acc_next[c] < e->n)
			coords += accumulate_chunk(e, pt, c, 1);
	pt->coords += coords;
	pt->coords_close += coords;
	if (e->type == GCDL_MSG_SIGN) {
		gcdl_agg_decode_majority_range(e->agg, g, lo, hi);
		break_ties(e, g, lo, hi);
		for (uint32_t c = lo; c < hi; c++)
			if (gcdl_agg_contributors(e->agg, c) == 0)
				empty++;
	} else {
		gcdl_agg_decode_range(e->agg, e->decoder, e->prof.straggler_p, g, lo, hi, &empty);
	}
	pt->empty += empty;
}

static void
decode_part(struct gcdl_engine *e, struct engine_part *pt, float *g)
{
	pt->empty = 0;
	decode_chunks(e, pt, g, pt->lo, pt->hi);
}

/* The round's empty chunks, contributors and stragglers, once every part
 * decoded. */
static void
count_round(struct gcdl_engine *e)
{
	uint32_t contributors = 0;

	e->cur.empty_chunks = 0;
	for (uint32_t i = 0; i < e->parts; i++)
		e->cur.empty_chunks += e->part[i].empty;
	for (uint32_t k = 0; k < e->n; k++) {
		for (uint32_t c = 0; c < e->chunks; c++) {
			if (e->slot_full[(size_t)c * e->n + k]) {
				contributors++;
				break;
			}
		}
	}
	e->cur.contributors = contributors;
	e->cur.stragglers = e->n - contributors;
}

int
gcdl_engine_decode_round(struct gcdl_engine *e, float *g, struct gcdl_round_info *info)
{
	if (e == NULL || g == NULL)
		return -EINVAL;
	if (e->early)
		return -EBUSY; /* complete chunks are already stepped */
	for (uint32_t i = 0; i < e->parts; i++)
		decode_part(e, &e->part[i], g);
	count_round(e);
	if (info != NULL)
		*info = e->cur;
	return 0;
}

static inline uint32_t
min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* The optimizer step on the engine's replica from the gradient estimate in
 * e->g: u = lr * (m <- mu*m + g) + lr*wd*w (into e->g); with the onebit
 * downlink u is then compressed with error feedback; every replica then does
 * w -= u. */
static void
step_range(struct gcdl_engine *e, uint32_t x0, uint32_t x1)
{
	const struct gcdl_profile *p = &e->prof;
	float lr = (float)step_size(p, e->round),
	      mu = gcdl_profile_worker_momentum(p) ? 0.0f : (float)p->momentum,
	      wd = (float)p->weight_decay;
	/* four arrays that never overlap: restrict lets the compiler vectorise */
	float *restrict w = e->w, *restrict mom = e->mom, *restrict g = e->g,
	      *restrict r = e->resid;

	if (p->model == GCDL_MODEL_EXTERNAL) {
		/* the trainer's optimizer steps: the update is g itself, bit for bit */
		gcdl_engine_apply_update(w + x0, g + x0, x1 - x0);
		return;
	}

	/* one chunk of the downlink at a time, so that with the onebit downlink
	 * the compression and w -= q find it in cache (the plain step has no
	 * chunks: one pass); x0 is the first coordinate of an update frame */
	for (uint32_t c0 = x0; c0 < x1;) {
		uint32_t clen = r == NULL ? x1 - c0 : min_u32(x1 - c0, e->dl_chunk_coords);

		for (uint32_t j = c0; j < c0 + clen; j++) {
			float m = mu * mom[j] + g[j];
			float u = lr * m + lr * wd * w[j];

			mom[j] = m;
			g[j] = u;
		}
		/* downlink.mode onebit: every replica applies q = C(u + e), not u */
		if (r != NULL)
			gcdl_downlink_compress(g + c0, r + c0, g + c0, 0, clen, clen, p->scale_block);
		gcdl_engine_apply_update(w + c0, g + c0, clen);
		c0 += clen;
	}
}

static void
step(struct gcdl_engine *e)
{
	e->cur.lr = (float)step_size(&e->prof, e->round);
	step_range(e, 0, e->dim);
}

/* Close coordinates [x, xe) of a part: accumulate what is left of their
 * chunks (whole chunks), decode, step, compress, write the update. */
static void
close_range(struct gcdl_engine *e, struct engine_part *pt, uint32_t x, uint32_t xe, float *update)
{
	size_t bytes = sizeof(float) * (xe - x);

	decode_chunks(e, pt, e->g, x / e->chunk_coords, (xe + e->chunk_coords - 1) / e->chunk_coords);
	/* a vote downlink sends the vote: every replica steps from it */
	if (update != NULL && e->vote)
		memcpy(update + x, e->g + x, bytes);
	step_range(e, x, xe);
	if (update != NULL && !e->vote)
		memcpy(update + x, e->g + x, bytes);
}

/* close_range() of chunk c's coordinates. */
static void
close_chunk(struct gcdl_engine *e, struct engine_part *pt, uint32_t c, float *update)
{
	uint32_t x = c * e->chunk_coords;

	close_range(e, pt, x, x + gcdl_agg_chunk_len(e->agg, c), update);
}

/* A chunk complete before the close: closed now, while it is in cache. */
static void
close_chunk_early(struct gcdl_engine *e, struct engine_part *pt, uint32_t c)
{
	close_chunk(e, pt, c, e->early_update);
	e->acc_next[c] = e->n + 1;
	pt->early++;
}

int
gcdl_engine_close_part(struct gcdl_engine *e, uint32_t part, float *update)
{
	struct engine_part *pt;

	if (e == NULL)
		return -EINVAL;
	if (part >= e->parts)
		return -ERANGE;
	pt = &e->part[part];
	pt->empty = 0;
	if (e->early) {
		/* the chunks not closed when they completed, one at a time */
		for (uint32_t c = pt->lo; c < pt->hi; c++)
			if (e->acc_next[c] != e->n + 1)
				close_chunk(e, pt, c, update);
		return 0;
	}
	/* block by block, so that the accumulators, the decoded gradient, the
	 * model, the momentum and the residual of a block are in cache for
	 * every step of its close */
	for (uint32_t x = pt->x0, xe; x < pt->x1; x = xe) {
		xe = x + pt->blk < pt->x1 ? x + pt->blk : pt->x1;
		close_range(e, pt, x, xe, update);
	}
	return 0;
}

int
gcdl_engine_set_early_close(struct gcdl_engine *e, int on, float *update)
{
	if (e == NULL)
		return -EINVAL;
	/* a chunk is a unit of the close: whole update frames */
	if (on && e->resid != NULL && e->dl_chunk_coords != e->chunk_coords)
		return -ENOTSUP;
	e->early = on != 0;
	e->early_update = on ? update : NULL;
	return 0;
}

const float *
gcdl_engine_update(const struct gcdl_engine *e)
{
	return e != NULL ? e->g : NULL;
}

int
gcdl_engine_close_finish(struct gcdl_engine *e, struct gcdl_round_info *info)
{
	if (e == NULL)
		return -EINVAL;
	count_round(e);
	e->cur.lr = (float)step_size(&e->prof, e->round);
	e->cur.downlink_bytes = gcdl_engine_downlink_bytes(e, 0, e->dim, &e->cur);
	if (info != NULL)
		*info = e->cur;
	return 0;
}

int
gcdl_engine_close_round(struct gcdl_engine *e, float *update, struct gcdl_round_info *info)
{
	if (e == NULL)
		return -EINVAL;
	for (uint32_t i = 0; i < e->parts; i++)
		gcdl_engine_close_part(e, i, update);
	return gcdl_engine_close_finish(e, info);
}

int
gcdl_engine_step(struct gcdl_engine *e, const float *g, uint32_t round)
{
	if (e == NULL || g == NULL)
		return -EINVAL;
	e->round = round;
	memcpy(e->g, g, sizeof(float) * e->dim);
	step(e);
	return 0;
}

void
gcdl_engine_apply_update(float *restrict w, const float *restrict u, uint32_t dim)
{
	if (w == NULL || u == NULL)
		return;
	for (uint32_t j = 0; j < dim; j++)
		w[j] -= u[j];
}

int
gcdl_engine_eval(struct gcdl_engine *e, const float *w, const struct gcdl_dataset *ds,
		 double *loss, double *accuracy)
{
	if (e == NULL || w == NULL || ds == NULL)
		return -EINVAL;
	if (e->prof.model == GCDL_MODEL_EXTERNAL)
		return -ENOTSUP; /* the trainer evaluates */
	return gcdl_model_eval(e->ctx[0].model, w, ds->x, ds->y, ds->rows, loss, accuracy);
}
