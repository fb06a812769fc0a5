/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shard layouts: which partitions each worker holds.
 *
 * Every kind is built into a working state (each worker's partition list, each
 * partition's holder list, a membership bitmap), checked to give replication d
 * and load s exactly, then frozen: sorted partition lists, replications, the
 * bitmap for gcdl_layout_holds(), and the properties, computed once.
 *
 * The random and pairwise kinds move from a valid layout by swaps: worker a
 * holds i but not j, worker b holds j but not i; a trades i for j and b trades
 * j for i. A swap keeps every replication and every load.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/layout.h"
#include "gcdl/rng.h"
#include "seterr.h"

/*
 * Work budgets, in counter reads and updates (a pairwise move costs about
 * s^2 + 4s, a random swap s + d). 2^25 of them take a few tens of ms to a few
 * hundred; the pairwise search stops much earlier wherever it reaches its
 * bound, which for d <= 4 and N = M <= 64 takes milliseconds.
 */
#define PAIRWISE_MAX_MOVES 400000u
#define PAIRWISE_WORK (UINT64_C(1) << 25)
#define RANDOM_WORK (UINT64_C(1) << 25)
/* annealing: each cycle cools from TEMP_HOT to TEMP_COLD over CYCLE_MOVES */
#define CYCLE_MOVES 20000u
#define TEMP_HOT 2.0
#define TEMP_COLD 0.05
/* share of targeted moves, and absent partitions each one compares */
#define TARGET_SHARE 0.9
#define TARGET_CANDIDATES 3u
/* base-block hill climb for N = M: moves per restart */
#define BLOCK_RESTART 3000u

struct gcdl_layout {
	uint32_t n, m, d, s;
	uint32_t words;  /* 64-bit words per worker row of bits */
	uint32_t *parts; /* n x s, each worker's partitions in increasing order */
	uint32_t *rep;   /* m replications */
	uint64_t *bits;  /* n x words membership */
	struct gcdl_layout_props props;
};

/* Working state while a layout is placed. */
struct build {
	uint32_t n, m, d, s, words;
	uint32_t *wp;   /* n x s partitions per worker, any order */
	uint32_t *ph;   /* m x d holders per partition, any order */
	uint64_t *bits; /* n x words membership */
	uint32_t *fill; /* scratch: n + m counters */
};

static const char *const kind_names[GCDL_LAYOUT__COUNT] = {
	[GCDL_LAYOUT_PAIRWISE] = "pairwise", [GCDL_LAYOUT_CYCLIC] = "cyclic",
	[GCDL_LAYOUT_FRACTIONAL] = "fractional", [GCDL_LAYOUT_RANDOM] = "random",
	[GCDL_LAYOUT_UNCODED] = "uncoded",
};

int
gcdl_layout_kind_parse(const char *name, enum gcdl_layout_kind *kind)
{
	if (name == NULL || kind == NULL)
		return -EINVAL;
	for (int i = 0; i < GCDL_LAYOUT__COUNT; i++) {
		if (strcmp(name, kind_names[i]) == 0) {
			*kind = (enum gcdl_layout_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
gcdl_layout_kind_name(enum gcdl_layout_kind kind)
{
	if ((unsigned int)kind >= GCDL_LAYOUT__COUNT)
		return "unknown";
	return kind_names[kind];
}

static inline bool
bit_get(const uint64_t *bits, uint32_t words, uint32_t k, uint32_t i)
{
	return (bits[(size_t)k * words + i / 64] >> (i % 64)) & 1;
}

static inline void
bit_set(uint64_t *bits, uint32_t words, uint32_t k, uint32_t i)
{
	bits[(size_t)k * words + i / 64] |= UINT64_C(1) << (i % 64);
}

static inline void
bit_clear(uint64_t *bits, uint32_t words, uint32_t k, uint32_t i)
{
	bits[(size_t)k * words + i / 64] &= ~(UINT64_C(1) << (i % 64));
}

static void
build_free(struct build *b)
{
	free(b->wp);
	free(b->ph);
	free(b->bits);
	free(b->fill);
}

static int
build_alloc(struct build *b, uint32_t n, uint32_t m, uint32_t d)
{
	memset(b, 0, sizeof(*b));
	b->n = n;
	b->m = m;
	b->d = d;
	b->s = (uint32_t)((uint64_t)d * m / n);
	b->words = (m + 63) / 64;
	b->wp = malloc((size_t)n * b->s * sizeof(*b->wp));
	b->ph = malloc((size_t)m * d * sizeof(*b->ph));
	b->bits = calloc((size_t)n * b->words, sizeof(*b->bits));
	b->fill = malloc(((size_t)n + m) * sizeof(*b->fill));
	if (b->wp == NULL || b->ph == NULL || b->bits == NULL || b->fill == NULL) {
		build_free(b);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Derive the worker and holder lists from the bitmap. Returns -EINVAL if some
 * worker does not hold exactly s partitions or some partition is not on
 * exactly d workers.
 */
static int
build_index(struct build *b)
{
	uint32_t *wload = b->fill, *prep = b->fill + b->n;

	memset(b->fill, 0, ((size_t)b->n + b->m) * sizeof(*b->fill));
	for (uint32_t k = 0; k < b->n; k++) {
		for (uint32_t w = 0; w < b->words; w++) {
			uint64_t x = b->bits[(size_t)k * b->words + w];

			while (x != 0) {
				uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(x);

				x &= x - 1;
				if (wload[k] == b->s || prep[i] == b->d)
					return -EINVAL;
				b->wp[(size_t)k * b->s + wload[k]++] = i;
				b->ph[(size_t)i * b->d + prep[i]++] = k;
			}
		}
		if (wload[k] != b->s)
			return -EINVAL;
	}
	for (uint32_t i = 0; i < b->m; i++)
		if (prep[i] != b->d)
			return -EINVAL;
	return 0;
}

/*
 * Worker k holds floor(k*M/N) + j (mod M), j < s. This is balanced for every
 * (N, M, d) with integer s, not only when N | M or M | N: partition i is held
 * by the k with floor(kM/N) in the s integers (i-s, i] (mod M), i.e. with
 * kM/N in a real interval of length s, i.e. k in an interval of length
 * sN/M = d (mod N), which holds exactly d integers.
 */
static void
place_cyclic(struct build *b)
{
	for (uint32_t k = 0; k < b->n; k++) {
		uint32_t start = (uint32_t)((uint64_t)k * b->m / b->n);

		for (uint32_t j = 0; j < b->s; j++)
			bit_set(b->bits, b->words, k, (uint32_t)(((uint64_t)start + j) % b->m));
	}
}

/* Groups of d consecutive workers; group g holds partitions g*s .. g*s+s-1.
 * The caller checked d | N, and then s = M/(N/d) is an integer exactly when
 * N/d divides M, which the d*M/N check already ensured. */
static void
place_fractional(struct build *b)
{
	for (uint32_t k = 0; k < b->n; k++)
		for (uint32_t j = 0; j < b->s; j++)
			bit_set(b->bits, b->words, k, (k / b->d) * b->s + j);
}

static void
place_uncoded(struct build *b)
{
	for (uint32_t k = 0; k < b->n; k++)
		bit_set(b->bits, b->words, k, k);
}

/* A partition worker a does not hold, uniform among them (needs s < M). */
static uint32_t
draw_absent(const struct build *b, struct gcdl_rng *r, uint32_t a)
{
	const uint64_t *row = b->bits + (size_t)a * b->words;
	uint32_t rank;

	if (b->s <= b->m / 2) {
		for (;;) {
			uint32_t j = gcdl_rng_below(r, b->m);

			if (!bit_get(b->bits, b->words, a, j))
				return j;
		}
	}
	/* dense rows: pick the rank-th zero bit */
	rank = gcdl_rng_below(r, b->m - b->s);
	for (uint32_t w = 0;; w++) {
		uint64_t x = ~row[w];
		uint32_t z;

		if (w == b->words - 1 && b->m % 64 != 0)
			x &= (UINT64_C(1) << (b->m % 64)) - 1;
		z = (uint32_t)__builtin_popcountll(x);
		if (rank < z) {
			while (rank-- > 0)
				x &= x - 1;
			return w * 64 + (uint32_t)__builtin_ctzll(x);
		}
		rank -= z;
	}
}

/*
 * Draw a random swap (a gives i, receives j; c gives j, receives i). Needs
 * s < M. Returns false when the holders of j all hold i too.
 */
static bool
draw_giver(const struct build *b, struct gcdl_rng *r, uint32_t i, uint32_t j, uint32_t *c)
{
	uint32_t off = gcdl_rng_below(r, b->d);

	for (uint32_t t = 0; t < b->d; t++) {
		uint32_t h = b->ph[(size_t)j * b->d + (off + t) % b->d];

		if (!bit_get(b->bits, b->words, h, i)) {
			*c = h;
			return true;
		}
	}
	return false;
}

static bool
draw_swap(const struct build *b, struct gcdl_rng *r, uint32_t *a, uint32_t *i, uint32_t *c,
	  uint32_t *j)
{
	*a = gcdl_rng_below(r, b->n);
	*i = b->wp[(size_t)*a * b->s + gcdl_rng_below(r, b->s)];
	*j = draw_absent(b, r, *a);
	return draw_giver(b, r, *i, *j, c);
}

static void
list_replace(uint32_t *list, uint32_t len, uint32_t from, uint32_t to)
{
	for (uint32_t t = 0; t < len; t++) {
		if (list[t] == from) {
			list[t] = to;
			return;
		}
	}
}

/* Pair co-occurrence counts n_il, upper triangle of an M x M matrix. */
struct pairs {
	uint32_t m;
	uint16_t *n; /* n_il <= N <= 4096 fits */
};

static inline int64_t
pair_bump(struct pairs *p, uint32_t i, uint32_t l, int up)
{
	uint16_t *c = i < l ? &p->n[(size_t)i * p->m + l] : &p->n[(size_t)l * p->m + i];
	int64_t before = *c;

	if (up) {
		(*c)++;
		return 2 * before + 1;
	}
	(*c)--;
	return -2 * before + 1;
}

/*
 * Apply a swap (a: i -> j, c: j -> i). With pair counts, update them and
 * return the change of sum_{i<l} n_il^2; without, return 0.
 */
static int64_t
apply_swap(struct build *b, struct pairs *p, uint32_t a, uint32_t i, uint32_t c, uint32_t j)
{
	uint32_t *la = b->wp + (size_t)a * b->s, *lc = b->wp + (size_t)c * b->s;
	int64_t delta = 0;

	if (p != NULL) {
		for (uint32_t t = 0; t < b->s; t++) {
			if (la[t] == i)
				continue;
			delta += pair_bump(p, i, la[t], 0);
			delta += pair_bump(p, j, la[t], 1);
		}
		for (uint32_t t = 0; t < b->s; t++) {
			if (lc[t] == j)
				continue;
			delta += pair_bump(p, j, lc[t], 0);
			delta += pair_bump(p, i, lc[t], 1);
		}
	}
	list_replace(la, b->s, i, j);
	list_replace(lc, b->s, j, i);
	list_replace(b->ph + (size_t)i * b->d, b->d, a, c);
	list_replace(b->ph + (size_t)j * b->d, b->d, c, a);
	bit_clear(b->bits, b->words, a, i);
	bit_set(b->bits, b->words, a, j);
	bit_clear(b->bits, b->words, c, j);
	bit_set(b->bits, b->words, c, i);
	return delta;
}

static inline uint32_t
pair_get(const struct pairs *p, uint32_t i, uint32_t l)
{
	return i < l ? p->n[(size_t)i * p->m + l] : p->n[(size_t)l * p->m + i];
}

/*
 * A swap aimed at the worst pairs: worker a gives up the partition with the
 * largest sum of n^2 against its other partitions, and takes the best of a
 * few random absent ones (fewest co-holders with a's other partitions).
 */
static bool
draw_swap_targeted(const struct build *b, const struct pairs *p, struct gcdl_rng *r,
		   uint32_t *a, uint32_t *i, uint32_t *c, uint32_t *j)
{
	uint64_t worst = 0, lightest = UINT64_MAX;
	const uint32_t *la;
	uint32_t ties = 0;

	*a = gcdl_rng_below(r, b->n);
	la = b->wp + (size_t)*a * b->s;
	*i = la[0];
	for (uint32_t t = 0; t < b->s; t++) {
		uint64_t w = 0;

		for (uint32_t u = 0; u < b->s; u++) {
			uint64_t v = u != t ? pair_get(p, la[t], la[u]) : 0;

			w += v * v;
		}
		if (w > worst) {
			worst = w;
			*i = la[t];
			ties = 1;
		} else if (w == worst && gcdl_rng_below(r, ++ties) == 0) {
			*i = la[t];
		}
	}
	for (uint32_t k = 0; k < TARGET_CANDIDATES; k++) {
		uint32_t cand = draw_absent(b, r, *a);
		uint64_t w = 0;

		for (uint32_t u = 0; u < b->s; u++)
			w += la[u] != *i ? pair_get(p, cand, la[u]) : 0;
		if (w < lightest) {
			lightest = w;
			*j = cand;
		}
	}
	return draw_giver(b, r, *i, *j, c);
}

/* Rebuild bitmap and holder lists from the worker lists. */
static void
build_from_lists(struct build *b)
{
	memset(b->bits, 0, (size_t)b->n * b->words * sizeof(*b->bits));
	for (uint32_t k = 0; k < b->n; k++)
		for (uint32_t t = 0; t < b->s; t++)
			bit_set(b->bits, b->words, k, b->wp[(size_t)k * b->s + t]);
	/* the lists describe a valid layout, so indexing cannot fail */
	(void)build_index(b);
}

/*
 * Random kind: from the cyclic layout, many random swaps. About 4 swaps
 * per held (worker, partition) slot mix it well; the work budget caps huge
 * layouts.
 */
static void
place_random(struct build *b, struct gcdl_rng *r)
{
	uint64_t want = 4 * (uint64_t)b->n * b->s + 64;
	uint64_t cap = RANDOM_WORK / ((uint64_t)b->s + b->d), tries;

	place_cyclic(b);
	(void)build_index(b);
	if (b->s == b->m) /* every worker holds everything: nothing to move */
		return;
	if (want > cap)
		want = cap;
	tries = 4 * want;
	for (uint64_t t = 0; t < tries; t++) {
		uint32_t a, i, c, j;

		if (!draw_swap(b, r, &a, &i, &c, &j))
			continue;
		apply_swap(b, NULL, a, i, c, j);
		if (--want == 0)
			break;
	}
}

/* Smallest sum of C(x_j, 2) over count integers x_j >= 0 summing to total:
 * the x_j all q or q+1. */
static uint64_t
min_sum_choose2(uint64_t total, uint64_t count)
{
	uint64_t q, rem;

	if (count == 0)
		return 0;
	q = total / count;
	rem = total % count;
	return (count - rem) * (q * (q - 1) / 2) + rem * ((q + 1) * q / 2);
}

/*
 * A lower bound on sum_{i<l} n_il^2 over all layouts with this (N, M, d).
 * Counting the (partition pair, worker pair) incidences two ways gives
 * sum_{i<l} C(n_il, 2) = sum_{u<v} C(lambda_uv, 2), with lambda_uv the number
 * of partitions both workers u and v hold. The n_il sum to N*C(s,2) over
 * C(M,2) pairs and the lambda_uv to M*C(d,2) over C(N,2) pairs, so both sides
 * are at least their balanced values, and sum n_il^2 = 2 sum C(n_il, 2) +
 * N*C(s,2). When the worker side's bound is the larger one, pair counts within
 * 1 are impossible (e.g. N = 8, M = 16, d = 3: every n_il would be 1, but 16
 * partitions on 3 of 8 workers force some worker pair to share two of them).
 */
static uint64_t
sumsq_bound(const struct build *b)
{
	uint64_t total = (uint64_t)b->n * b->s * (b->s - 1) / 2;
	uint64_t part = min_sum_choose2(total, (uint64_t)b->m * (b->m - 1) / 2);
	uint64_t work = min_sum_choose2((uint64_t)b->m * b->d * (b->d - 1) / 2,
					(uint64_t)b->n * (b->n - 1) / 2);

	return 2 * (part > work ? part : work) + total;
}

/* c[(x - y) mod M] += up ? 1 : -1 for both orders of x and every other y in
 * the block; returns the change of sum_delta c_delta^2 (ordered counts). */
static int64_t
block_bump(uint32_t *c, const uint32_t *blk, uint32_t d, uint32_t m, uint32_t skip, uint32_t x,
	   int up)
{
	int64_t delta = 0;

	for (uint32_t t = 0; t < d; t++) {
		uint32_t y = blk[t], e[2];

		if (t == skip)
			continue;
		e[0] = (x + m - y) % m;
		e[1] = (y + m - x) % m;
		for (int h = 0; h < 2; h++) {
			if (up) {
				delta += 2 * (int64_t)c[e[h]] + 1;
				c[e[h]]++;
			} else {
				delta += -2 * (int64_t)c[e[h]] + 1;
				c[e[h]]--;
			}
		}
	}
	return delta;
}

/*
 * For N = M: worker k holds B + k (mod M) for a base block B of d residues,
 * so every partition is on d workers, every worker holds d, and n_il = c(l-i),
 * the number of ordered pairs of B with that difference. Hill-climb over B
 * (trade one member for a non-member, keep the trade unless sum c^2 grows),
 * from the cyclic block {0..d-1} and then from seeded random blocks, and place
 * the best block found. A near difference set gives pair counts within 1 in
 * cases the swap search finds hard (e.g. N = M = 25, d = 5).
 */
static int
place_circulant(struct build *b, struct gcdl_rng *r)
{
	const uint32_t m = b->m, d = b->d;
	uint64_t moves = PAIRWISE_WORK / (8 * (uint64_t)d);
	uint32_t *perm, *c, *bestblk;
	int64_t cost = 0, best, bound;
	uint64_t q = (uint64_t)d * (d - 1) / (m - 1), rem = (uint64_t)d * (d - 1) % (m - 1);

	perm = malloc((size_t)m * sizeof(*perm));
	c = calloc(m, sizeof(*c));
	bestblk = malloc((size_t)d * sizeof(*bestblk));
	if (perm == NULL || c == NULL || bestblk == NULL) {
		free(perm);
		free(c);
		free(bestblk);
		return -ENOMEM;
	}
	bound = (int64_t)((m - 1 - rem) * q * q + rem * (q + 1) * (q + 1));
	for (uint32_t x = 0; x < m; x++)
		perm[x] = x;
	for (uint32_t t = 0; t < d; t++)
		cost += block_bump(c, perm, t, m, UINT32_MAX, perm[t], 1);
	best = cost;
	memcpy(bestblk, perm, (size_t)d * sizeof(*bestblk));
	if (moves > 10 * BLOCK_RESTART)
		moves = 10 * BLOCK_RESTART;
	for (uint64_t mv = 1; mv <= moves && best > bound; mv++) {
		uint32_t t, u, x, z;
		int64_t delta;

		if (mv % BLOCK_RESTART == 0) {
			gcdl_rng_shuffle(r, perm, m);
			memset(c, 0, (size_t)m * sizeof(*c));
			cost = 0;
			for (uint32_t k = 0; k < d; k++)
				cost += block_bump(c, perm, k, m, UINT32_MAX, perm[k], 1);
		}
		t = gcdl_rng_below(r, d);
		u = d + gcdl_rng_below(r, m - d);
		x = perm[t];
		z = perm[u];
		delta = block_bump(c, perm, d, m, t, x, 0);
		delta += block_bump(c, perm, d, m, t, z, 1);
		if (delta > 0) {
			block_bump(c, perm, d, m, t, z, 0);
			block_bump(c, perm, d, m, t, x, 1);
			continue;
		}
		perm[t] = z;
		perm[u] = x;
		cost += delta;
		if (cost < best) {
			best = cost;
			memcpy(bestblk, perm, (size_t)d * sizeof(*bestblk));
		}
	}
	for (uint32_t k = 0; k < b->n; k++)
		for (uint32_t t = 0; t < d; t++)
			bit_set(b->bits, b->words, k, (bestblk[t] + k) % m);
	free(perm);
	free(c);
	free(bestblk);
	return build_index(b);
}

/*
 * Pairwise kind: simulated annealing over swaps, minimising sum_{i<l} n_il^2,
 * from the best circulant layout when N = M, else from the cyclic one.
 * The sum of n_il over pairs is fixed (N * s(s-1)/2), so the minimum is
 * reached exactly when every n_il is q or q+1 (max - min <= 1), where that is
 * possible. The search stops at sumsq_bound() (then the layout is optimal) or
 * when the move budget runs out, keeping the best layout seen (never worse
 * than its start).
 */
static int
place_pairwise(struct build *b, struct gcdl_rng *r)
{
	const uint64_t total = (uint64_t)b->n * b->s * (b->s - 1) / 2;
	uint64_t moves;
	int64_t cost = 0, best, bound;
	struct pairs p = { .m = b->m };
	uint32_t *snap;
	bool saved = false;

	/* s < 2: no pair is co-held; s = M: every pair is held by all N */
	if (b->n == b->m && b->s >= 2 && b->s < b->m) {
		int rc = place_circulant(b, r);

		if (rc != 0)
			return rc;
	} else {
		place_cyclic(b);
		(void)build_index(b);
	}
	if (b->s < 2 || b->s == b->m)
		return 0;
	/* counting the start's pairs costs N * s(s-1)/2 */
	if (total > PAIRWISE_WORK)
		return 0;
	/* a targeted draw reads s^2 counts, a swap updates 4s */
	moves = PAIRWISE_WORK / ((uint64_t)b->s * b->s + 4 * (uint64_t)b->s + b->d);
	if (moves > PAIRWISE_MAX_MOVES)
		moves = PAIRWISE_MAX_MOVES;
	p.n = calloc((size_t)b->m * b->m, sizeof(*p.n));
	snap = malloc((size_t)b->n * b->s * sizeof(*snap));
	if (p.n == NULL || snap == NULL) {
		free(p.n);
		free(snap);
		return -ENOMEM;
	}
	for (uint32_t k = 0; k < b->n; k++) {
		const uint32_t *lk = b->wp + (size_t)k * b->s;

		for (uint32_t t = 0; t < b->s; t++)
			for (uint32_t u = t + 1; u < b->s; u++)
				cost += pair_bump(&p, lk[t], lk[u], 1);
	}
	bound = (int64_t)sumsq_bound(b);
	best = cost;
	for (uint64_t mv = 0; mv < moves && cost > bound; mv++) {
		double temp = TEMP_HOT * pow(TEMP_COLD / TEMP_HOT,
					     (double)(mv % CYCLE_MOVES) / CYCLE_MOVES);
		uint32_t a, i, c, j;
		int64_t delta;

		if (gcdl_rng_uniform(r) < TARGET_SHARE) {
			if (!draw_swap_targeted(b, &p, r, &a, &i, &c, &j))
				continue;
		} else if (!draw_swap(b, r, &a, &i, &c, &j)) {
			continue;
		}
		delta = apply_swap(b, &p, a, i, c, j);
		if (delta > 0 && gcdl_rng_uniform(r) >= exp(-(double)delta / temp)) {
			apply_swap(b, &p, a, j, c, i);
			continue;
		}
		if (delta > 0 && cost == best && !saved) {
			/* leaving a best layout uphill: keep a copy of it first */
			apply_swap(b, &p, a, j, c, i);
			memcpy(snap, b->wp, (size_t)b->n * b->s * sizeof(*snap));
			saved = true;
			apply_swap(b, &p, a, i, c, j);
		}
		cost += delta;
		if (cost < best) {
			best = cost;
			saved = false;
		}
	}
	if (cost > best) {
		memcpy(b->wp, snap, (size_t)b->n * b->s * sizeof(*snap));
		build_from_lists(b);
	}
	free(p.n);
	free(snap);
	return 0;
}

/*
 * Minimum and maximum of n_il over pairs i < l, by the cheaper of two counts:
 * per partition i, walk the lists of its d holders (M*d*s steps), or AND the
 * holder bitmaps of each pair (M^2/2 * N/64 words).
 */
static int
pair_range(const struct build *b, uint32_t *pmin, uint32_t *pmax)
{
	const uint32_t nw = (b->n + 63) / 64;
	uint32_t lo = UINT32_MAX, hi = 0;

	*pmin = *pmax = 0;
	if (b->m < 2)
		return 0;
	if (b->s == b->m) {
		*pmin = *pmax = b->n;
		return 0;
	}
	if ((uint64_t)b->d * b->s <= (uint64_t)nw * (b->m / 2)) {
		uint32_t *cnt = calloc(b->m, sizeof(*cnt));

		if (cnt == NULL)
			return -ENOMEM;
		for (uint32_t i = 0; i + 1 < b->m; i++) {
			for (uint32_t h = 0; h < b->d; h++) {
				const uint32_t *lk = b->wp + (size_t)b->ph[(size_t)i * b->d + h] * b->s;

				for (uint32_t t = 0; t < b->s; t++)
					if (lk[t] > i)
						cnt[lk[t]]++;
			}
			for (uint32_t l = i + 1; l < b->m; l++) {
				lo = cnt[l] < lo ? cnt[l] : lo;
				hi = cnt[l] > hi ? cnt[l] : hi;
				cnt[l] = 0;
			}
		}
		free(cnt);
	} else {
		uint64_t *col = calloc((size_t)b->m * nw, sizeof(*col));

		if (col == NULL)
			return -ENOMEM;
		for (uint32_t i = 0; i < b->m; i++)
			for (uint32_t h = 0; h < b->d; h++)
				bit_set(col, nw, i, b->ph[(size_t)i * b->d + h]);
		for (uint32_t i = 0; i + 1 < b->m; i++) {
			for (uint32_t l = i + 1; l < b->m; l++) {
				uint32_t c = 0;

				for (uint32_t w = 0; w < nw; w++)
					c += (uint32_t)__builtin_popcountll(
						col[(size_t)i * nw + w] & col[(size_t)l * nw + w]);
				lo = c < lo ? c : lo;
				hi = c > hi ? c : hi;
			}
		}
		free(col);
	}
	*pmin = lo;
	*pmax = hi;
	return 0;
}

void
gcdl_layout_free(struct gcdl_layout *layout)
{
	if (layout == NULL)
		return;
	free(layout->parts);
	free(layout->rep);
	free(layout->bits);
	free(layout);
}

/* Freeze a validated working state into a layout; takes over its worker
 * lists and bitmap. */
static struct gcdl_layout *
freeze(struct build *b)
{
	struct gcdl_layout *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->n = b->n;
	l->m = b->m;
	l->d = b->d;
	l->s = b->s;
	l->words = b->words;
	l->rep = malloc((size_t)b->m * sizeof(*l->rep));
	if (l->rep == NULL || pair_range(b, &l->props.pair_min, &l->props.pair_max) != 0) {
		gcdl_layout_free(l);
		return NULL;
	}
	/* rewrite each worker's list from the bitmap, read in increasing order */
	for (uint32_t k = 0; k < b->n; k++) {
		uint32_t c = 0;

		for (uint32_t w = 0; w < b->words; w++) {
			uint64_t x = b->bits[(size_t)k * b->words + w];

			for (; x != 0; x &= x - 1)
				b->wp[(size_t)k * b->s + c++] = w * 64 + (uint32_t)__builtin_ctzll(x);
		}
	}
	for (uint32_t i = 0; i < b->m; i++)
		l->rep[i] = b->d;
	l->parts = b->wp;
	b->wp = NULL;
	l->bits = b->bits;
	b->bits = NULL;
	l->props.workers = b->n;
	l->props.partitions = b->m;
	l->props.rep_min = l->props.rep_max = b->d;
	l->props.load_min = l->props.load_max = b->s;
	return l;
}

struct gcdl_layout *
gcdl_layout_create(enum gcdl_layout_kind kind, uint32_t workers, uint32_t partitions,
		   uint32_t d, uint64_t seed, char *err, size_t errlen)
{
	struct gcdl_layout *l = NULL;
	struct build b;
	struct gcdl_rng r;
	int rc = 0;

	if ((unsigned int)kind >= GCDL_LAYOUT__COUNT) {
		gcdl_seterr(err, errlen, "unknown layout kind %d", (int)kind);
		goto inval;
	}
	if (workers == 0 || workers > GCDL_LAYOUT_MAX_NODES) {
		gcdl_seterr(err, errlen, "N (workers) must be in 1..%d (N=%u)", GCDL_LAYOUT_MAX_NODES,
		       workers);
		goto inval;
	}
	if (partitions == 0 || partitions > GCDL_LAYOUT_MAX_NODES) {
		gcdl_seterr(err, errlen, "M (partitions) must be in 1..%d (M=%u)",
		       GCDL_LAYOUT_MAX_NODES, partitions);
		goto inval;
	}
	if (d == 0 || d > workers) {
		gcdl_seterr(err, errlen, "d (replication) must be in 1..N (d=%u, N=%u)", d, workers);
		goto inval;
	}
	/* with d <= N, s = d*M/N <= M holds by itself */
	if ((uint64_t)d * partitions % workers != 0) {
		gcdl_seterr(err, errlen, "d*M/N must be an integer (d=%u, M=%u, N=%u)", d, partitions,
		       workers);
		goto inval;
	}
	if (kind == GCDL_LAYOUT_UNCODED && (d != 1 || partitions != workers)) {
		gcdl_seterr(err, errlen, "uncoded layout needs d = 1 and M = N (d=%u, M=%u, N=%u)", d,
		       partitions, workers);
		goto inval;
	}
	if (kind == GCDL_LAYOUT_FRACTIONAL && workers % d != 0) {
		gcdl_seterr(err, errlen, "fractional layout needs d to divide N (d=%u, N=%u)", d,
		       workers);
		goto inval;
	}
	if (build_alloc(&b, workers, partitions, d) != 0)
		goto nomem;
	gcdl_rng_init(&r, seed, GCDL_RNG_LAYOUT, (uint32_t)kind, 0);
	switch (kind) {
	case GCDL_LAYOUT_PAIRWISE:
		rc = place_pairwise(&b, &r);
		break;
	case GCDL_LAYOUT_CYCLIC:
		place_cyclic(&b);
		rc = build_index(&b);
		break;
	case GCDL_LAYOUT_FRACTIONAL:
		place_fractional(&b);
		rc = build_index(&b);
		break;
	case GCDL_LAYOUT_RANDOM:
		place_random(&b, &r);
		break;
	case GCDL_LAYOUT_UNCODED:
	default:
		place_uncoded(&b);
		rc = build_index(&b);
		break;
	}
	if (rc == -ENOMEM) {
		build_free(&b);
		goto nomem;
	}
	if (rc != 0) {
		/* not reached: every placement above gives replication d and load s */
		gcdl_seterr(err, errlen, "%s layout came out unbalanced (d=%u, M=%u, N=%u)",
		       kind_names[kind], d, partitions, workers);
		build_free(&b);
		goto inval;
	}
	l = freeze(&b);
	build_free(&b);
	if (l == NULL)
		goto nomem;
	return l;
inval:
	errno = EINVAL;
	return NULL;
nomem:
	gcdl_seterr(err, errlen, "out of memory");
	errno = ENOMEM;
	return NULL;
}

uint32_t
gcdl_layout_workers(const struct gcdl_layout *layout)
{
	return layout != NULL ? layout->n : 0;
}

uint32_t
gcdl_layout_partitions(const struct gcdl_layout *layout)
{
	return layout != NULL ? layout->m : 0;
}

int
gcdl_layout_worker_partitions(const struct gcdl_layout *layout, uint32_t worker,
			      const uint32_t **parts, uint32_t *count)
{
	if (layout == NULL || parts == NULL || count == NULL)
		return -EINVAL;
	if (worker >= layout->n)
		return -ERANGE;
	*parts = layout->parts + (size_t)worker * layout->s;
	*count = layout->s;
	return 0;
}

uint32_t
gcdl_layout_replication(const struct gcdl_layout *layout, uint32_t partition)
{
	if (layout == NULL || partition >= layout->m)
		return 0;
	return layout->rep[partition];
}

bool
gcdl_layout_holds(const struct gcdl_layout *layout, uint32_t worker, uint32_t partition)
{
	if (layout == NULL || worker >= layout->n || partition >= layout->m)
		return false;
	return bit_get(layout->bits, layout->words, worker, partition);
}

int
gcdl_layout_props(const struct gcdl_layout *layout, struct gcdl_layout_props *props)
{
	if (layout == NULL || props == NULL)
		return -EINVAL;
	*props = layout->props;
	return 0;
}
