/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An aggregator's aggregation lcores (dataplane.agg_lcores = L > 1): the
 * engine's aggregation is cut into L parts, contiguous ranges of chunks
 * (gcdl_engine_set_parts()), and aggregation lcore i owns part i:
 *
 *   round t open:  the node's lcore receives, checks and stores each frame
 *                  (gcdl_engine_ingest(), the slot's flag written with
 *                  release order); lcore i adds the frames of its chunks to
 *                  their accumulators as they come, in worker order
 *                  (gcdl_engine_accumulate());
 *   closing t:     the node's lcore asks (phase = 2t + 1); lcore i closes its
 *                  part (what is left to accumulate, decode, optimizer step,
 *                  downlink compression of its coordinates:
 *                  gcdl_engine_close_part()) and says so (done = t + 1);
 *   closed:        once every lcore is done, the node's lcore ends the round
 *                  (counts, end of round, downlink), begins t + 1 and opens it
 *                  (phase = 2(t + 1)); the lcores touch nothing in between.
 *
 * This is the software dispatch: any PMD (net_ring, memif, af_packet) brings
 * every frame to the node's lcore, which hands each to its owner through the
 * slot it stores it in; the owners' work (accumulation and the close) is
 * what is spread. Every part count gives the same bits as one: each chunk's
 * frames are added in worker order whichever lcore adds them.
 */
#include <errno.h>
#include <stdlib.h>

#include <rte_lcore.h>
#include <rte_malloc.h>

#include "node_internal.h"
#include "seterr.h"

/* One aggregation lcore: written by it (relaxed or release), read by the
 * node's lcore and the summary. */
struct agg_lcore {
	uint32_t done;              /* round closed + 1 */
	unsigned lcore;             /* its EAL lcore, RTE_MAX_LCORE before it ran */
	uint64_t cpu_accumulate_ns; /* CPU time of calls that accumulated something */
	uint64_t cpu_close_ns;      /* CPU time of its closes */
	uint64_t closes;
} __rte_cache_aligned;

struct node_agg_lcores {
	uint32_t count;
	uint32_t phase;             /* 2t: round t open; 2t + 1: round t closing */
	int asked;                  /* node's lcore: the close of the round asked */
	float *update;              /* what gcdl_engine_close_part() writes, or NULL */
	struct agg_lcore *l;        /* count, cache-line aligned */
};

int
node_agg_lcores_init(struct gcdl_node *n, float *update, char *err, size_t errlen)
{
	uint32_t count = n->prof.agg_lcores;
	struct node_agg_lcores *al;
	int rc;

	rc = gcdl_engine_set_parts(n->e, count);
	if (rc != 0) {
		gcdl_seterr(err, errlen, "dataplane.agg_lcores = %u: %s", count, strerror(-rc));
		return rc;
	}
	al = calloc(1, sizeof(*al));
	if (al != NULL)
		al->l = rte_zmalloc_socket("gcdl_agg_lcores", sizeof(*al->l) * count,
					   RTE_CACHE_LINE_SIZE, (int)n->conf.socket);
	if (al == NULL || al->l == NULL) {
		free(al);
		gcdl_seterr(err, errlen, "aggregation lcores: out of memory");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < count; i++)
		al->l[i].lcore = RTE_MAX_LCORE;
	al->count = count;
	al->update = update;
	n->al = al;
	n->helpers = count;
	return 0;
}

void
node_agg_lcores_open(struct gcdl_node *n, uint32_t t)
{
	if (n->al != NULL)
		__atomic_store_n(&n->al->phase, 2 * t, __ATOMIC_RELEASE);
}

int
node_agg_lcores_close(struct gcdl_node *n, uint32_t t)
{
	struct node_agg_lcores *al = n->al;

	if (!al->asked) {
		__atomic_store_n(&al->phase, 2 * t + 1, __ATOMIC_RELEASE);
		al->asked = 1;
	}
	for (uint32_t i = 0; i < al->count; i++)
		if (__atomic_load_n(&al->l[i].done, __ATOMIC_ACQUIRE) != t + 1)
			return 0;
	al->asked = 0;
	return 1;
}

void
node_agg_lcores_fini(struct gcdl_node *n)
{
	if (n->al == NULL)
		return;
	rte_free(n->al->l);
	free(n->al);
	n->al = NULL;
}

int
gcdl_node_agg_lcore_stats(const struct gcdl_node *n, uint32_t i, struct gcdl_agg_lcore_summary *s)
{
	struct gcdl_engine_part_stats st;

	if (n == NULL || s == NULL)
		return -EINVAL;
	if (gcdl_engine_part_stats(n->e, i, &st) != 0)
		return -ERANGE;
	memset(s, 0, sizeof(*s));
	s->part = i;
	s->lcore = -1;
	s->chunk_first = st.chunk_first;
	s->chunk_count = st.chunk_count;
	s->coords = st.coords;
	s->coords_at_close = st.coords_at_close;
	s->chunks_closed_early = st.chunks_closed_early;
	if (n->al != NULL) {
		const struct agg_lcore *l = &n->al->l[i];
		unsigned lc = __atomic_load_n(&l->lcore, __ATOMIC_RELAXED);

		s->lcore = lc < RTE_MAX_LCORE ? (int)lc : -1;
		s->cpu_accumulate_ns = __atomic_load_n(&l->cpu_accumulate_ns, __ATOMIC_RELAXED);
		s->cpu_close_ns = __atomic_load_n(&l->cpu_close_ns, __ATOMIC_RELAXED);
		s->closes = __atomic_load_n(&l->closes, __ATOMIC_RELAXED);
	}
	return 0;
}

/* Aggregation lcore i's work: close its part when asked, else accumulate
 * what completed. @return 1 when it did something. */
static int
agg_work(struct gcdl_node *n, uint32_t i)
{
	struct node_agg_lcores *al = n->al;
	struct agg_lcore *me = &al->l[i];
	uint32_t ph = __atomic_load_n(&al->phase, __ATOMIC_ACQUIRE);
	uint64_t c0 = node_thread_ns();

	if (ph & 1) {
		uint32_t t = ph / 2;

		if (__atomic_load_n(&me->done, __ATOMIC_RELAXED) == t + 1)
			return 0;
		gcdl_engine_close_part(n->e, i, al->update);
		__atomic_store_n(&me->cpu_close_ns, me->cpu_close_ns + (node_thread_ns() - c0),
				 __ATOMIC_RELAXED);
		__atomic_store_n(&me->closes, me->closes + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&me->done, t + 1, __ATOMIC_RELEASE);
		return 1;
	}
	if (gcdl_engine_accumulate(n->e, i) == 0)
		return 0;
	__atomic_store_n(&me->cpu_accumulate_ns, me->cpu_accumulate_ns + (node_thread_ns() - c0),
			 __ATOMIC_RELAXED);
	return 1;
}

int
node_agg_lcore_run(struct gcdl_node *n, uint32_t i, const int *quit)
{
	__atomic_store_n(&n->al->l[i].lcore, rte_lcore_id(), __ATOMIC_RELAXED);
	return node_helper_loop(n, i, quit, NULL, agg_work);
}
