/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A worker's quantizing lcores (dataplane.quant_lcores = Q > 1): the round's
 * chunks are cut into Q contiguous ranges; the worker's own lcore frames the
 * first (quantize, header, CRC or tag) and Q - 1 quantizing lcores one each:
 *
 *   the worker's lcore computes v_k (and its compression, onebit_gc_ef),
 *   takes an mbuf for every chunk, publishes the job (round, v_k, then
 *   phase = the job's sequence number), frames range 0, and waits until
 *   every quantizing lcore says done = that number; then it sends the frames
 *   in chunk order as before. A quantizing lcore finishes a job it saw before
 *   it looks at a stop request, and says when it returned (exited), so the
 *   mbufs are never freed under it.
 *
 * The frames are the same bytes whichever lcore builds them (the quantizer
 * is keyed by (seed, round, worker, chunk), not by who calls it).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_pause.h>

#include "node_internal.h"
#include "seterr.h"

struct quant_lcore {
	uint32_t done;              /* the sequence number of the last job done */
	int exited;                 /* its loop returned */
	int rc;                     /* its range's result (0 or a negative errno) */
	unsigned lcore;             /* its EAL lcore, RTE_MAX_LCORE before it ran */
	uint32_t lo, hi;            /* its chunks */
	uint64_t coords;            /* coordinates it framed, all rounds */
	uint64_t cpu_ns;            /* its CPU time framing */
	uint64_t rounds;
	uint64_t round_coords;      /* of the last round (read after done) */
} __rte_cache_aligned;

struct node_quant_lcores {
	uint32_t count;             /* Q - 1 quantizing lcores (the node's own is range 0) */
	uint32_t phase;             /* the sequence number of the job published (0: none) */
	uint32_t lo0, hi0;          /* the node's own range */
	uint32_t round;             /* the job: round t ... */
	const float *src;           /* ... and v_k */
	struct quant_lcore *l;
};

int
node_quant_lcores_init(struct gcdl_node *n, char *err, size_t errlen)
{
	uint32_t q = n->prof.quant_lcores;
	struct node_quant_lcores *ql;

	ql = calloc(1, sizeof(*ql));
	if (ql != NULL)
		ql->l = rte_zmalloc_socket("gcdl_quant_lcores", sizeof(*ql->l) * (q - 1),
					   RTE_CACHE_LINE_SIZE, (int)n->conf.socket);
	if (ql == NULL || ql->l == NULL) {
		free(ql);
		gcdl_seterr(err, errlen, "quantizing lcores: out of memory");
		return -ENOMEM;
	}
	ql->count = q - 1;
	ql->lo0 = 0;
	ql->hi0 = (uint32_t)((uint64_t)n->chunks / q);
	for (uint32_t i = 0; i < q - 1; i++) {
		ql->l[i].lcore = RTE_MAX_LCORE;
		ql->l[i].lo = (uint32_t)((uint64_t)n->chunks * (i + 1) / q);
		ql->l[i].hi = (uint32_t)((uint64_t)n->chunks * (i + 2) / q);
	}
	n->ql = ql;
	n->helpers = q - 1;
	return 0;
}

void
node_quant_lcores_fini(struct gcdl_node *n)
{
	if (n->ql == NULL)
		return;
	rte_free(n->ql->l);
	free(n->ql);
	n->ql = NULL;
}

int
node_quant_lcores_frame(struct gcdl_node *n, uint32_t t, const float *src, uint64_t *coords)
{
	struct node_quant_lcores *ql = n->ql;
	uint32_t idle = 0;
	int rc;

	uint32_t seq = ql->phase + 1 == 0 ? 1 : ql->phase + 1;

	ql->round = t;
	ql->src = src;
	__atomic_store_n(&ql->phase, seq, __ATOMIC_RELEASE);
	rc = node_worker_frame_range(n, t, src, ql->lo0, ql->hi0, coords);
	for (uint32_t i = 0; i < ql->count; i++) {
		struct quant_lcore *l = &ql->l[i];

		while (__atomic_load_n(&l->done, __ATOMIC_ACQUIRE) != seq) {
			/* gone without the job (the run is stopping): its range is not framed */
			if (__atomic_load_n(&l->exited, __ATOMIC_ACQUIRE) &&
			    __atomic_load_n(&l->done, __ATOMIC_ACQUIRE) != seq)
				return -ECANCELED;
			/* the quantizing lcores may share this core */
			if (idle++ < NODE_IDLE_SPIN)
				rte_pause();
			else
				sched_yield();
		}
		if (l->rc != 0 && rc == 0)
			rc = l->rc;
		*coords += l->round_coords;
	}
	return rc;
}

/* Quantizing lcore i's work: frame its range of a job not done yet.
 * @return 1 when it did. */
static int
quant_work(struct gcdl_node *n, uint32_t i)
{
	struct node_quant_lcores *ql = n->ql;
	struct quant_lcore *me = &ql->l[i];
	uint32_t ph = __atomic_load_n(&ql->phase, __ATOMIC_ACQUIRE);
	uint64_t c0, coords = 0;

	if (ph == 0 || ph == __atomic_load_n(&me->done, __ATOMIC_RELAXED))
		return 0;
	c0 = node_thread_ns();
	me->rc = node_worker_frame_range(n, ql->round, ql->src, me->lo, me->hi, &coords);
	me->round_coords = coords;
	__atomic_store_n(&me->coords, me->coords + coords, __ATOMIC_RELAXED);
	__atomic_store_n(&me->cpu_ns, me->cpu_ns + (node_thread_ns() - c0), __ATOMIC_RELAXED);
	__atomic_store_n(&me->rounds, me->rounds + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&me->done, ph, __ATOMIC_RELEASE);
	return 1;
}

int
node_quant_lcore_run(struct gcdl_node *n, uint32_t i, const int *quit)
{
	struct quant_lcore *me = &n->ql->l[i];

	__atomic_store_n(&me->lcore, rte_lcore_id(), __ATOMIC_RELAXED);
	return node_helper_loop(n, i, quit, &me->exited, quant_work);
}

int
node_quant_lcore_stats(const struct gcdl_node *n, uint32_t i, struct gcdl_quant_lcore_summary *s)
{
	const struct quant_lcore *l;
	unsigned lc;

	if (n->ql == NULL || i >= n->ql->count)
		return -ERANGE;
	l = &n->ql->l[i];
	memset(s, 0, sizeof(*s));
	lc = __atomic_load_n(&l->lcore, __ATOMIC_RELAXED);
	s->lcore = lc < RTE_MAX_LCORE ? (int)lc : -1;
	s->chunk_first = l->lo;
	s->chunk_count = l->hi - l->lo;
	s->coords = __atomic_load_n(&l->coords, __ATOMIC_RELAXED);
	s->cpu_ns = __atomic_load_n(&l->cpu_ns, __ATOMIC_RELAXED);
	s->rounds = __atomic_load_n(&l->rounds, __ATOMIC_RELAXED);
	return 0;
}
