/* SPDX-License-Identifier: BSD-3-Clause */
/* Shard layouts: which partitions each worker holds. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/layout.h"
#include "gcdl/rng.h"

/* Swaps tried by the pairwise search before it settles for the best found. */
#define PAIRWISE_MAX_MOVES 300000u

struct gcdl_layout {
	uint32_t n, m, d, s;
	uint8_t *hold;     /* n x m membership */
	uint32_t *parts;   /* n x s partitions per worker, sorted */
	uint32_t *rep;     /* m replications */
};

static const char *const kind_names[GCDL_LAYOUT__COUNT] = {
	"pairwise", "cyclic", "fractional", "random", "uncoded",
};

static void __attribute__((format(printf, 3, 4)))
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

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
	if ((unsigned)kind >= GCDL_LAYOUT__COUNT)
		return "unknown";
	return kind_names[kind];
}

void
gcdl_layout_free(struct gcdl_layout *l)
{
	if (l == NULL)
		return;
	free(l->hold);
	free(l->parts);
	free(l->rep);
	free(l);
}

/* Copy r of partition i goes to worker (i*d + r) mod N: valid for every
 * (N, M, d) with integer s (d consecutive residues are distinct, and the dM
 * slots spread evenly over the N residues). */
static void
place_round_robin(struct gcdl_layout *l)
{
	for (uint32_t i = 0; i < l->m; i++)
		for (uint32_t r = 0; r < l->d; r++)
			l->hold[(size_t)((i * l->d + r) % l->n) * l->m + i] = 1;
}

static void
place_cyclic(struct gcdl_layout *l)
{
	for (uint32_t k = 0; k < l->n; k++) {
		uint32_t start = (uint32_t)((uint64_t)k * l->m / l->n);

		for (uint32_t j = 0; j < l->s; j++)
			l->hold[(size_t)k * l->m + (start + j) % l->m] = 1;
	}
}

static void
place_fractional(struct gcdl_layout *l)
{
	for (uint32_t k = 0; k < l->n; k++) {
		uint32_t g = k / l->d;

		for (uint32_t j = 0; j < l->s; j++)
			l->hold[(size_t)k * l->m + g * l->s + j] = 1;
	}
}

/* Pick a random swap: worker a gives partition i to worker b, which gives
 * partition j back. Returns 0 if the draw is not a valid swap. */
static int
draw_swap(const struct gcdl_layout *l, struct gcdl_rng *r, uint32_t *a, uint32_t *i,
	  uint32_t *b, uint32_t *j)
{
	*a = gcdl_rng_below(r, l->n);
	*b = gcdl_rng_below(r, l->n);
	*i = gcdl_rng_below(r, l->m);
	*j = gcdl_rng_below(r, l->m);
	return *a != *b && l->hold[(size_t)*a * l->m + *i] && !l->hold[(size_t)*a * l->m + *j] &&
	       l->hold[(size_t)*b * l->m + *j] && !l->hold[(size_t)*b * l->m + *i];
}

static void
do_swap(struct gcdl_layout *l, uint32_t a, uint32_t i, uint32_t b, uint32_t j)
{
	l->hold[(size_t)a * l->m + i] = 0;
	l->hold[(size_t)a * l->m + j] = 1;
	l->hold[(size_t)b * l->m + j] = 0;
	l->hold[(size_t)b * l->m + i] = 1;
}

static void
place_random(struct gcdl_layout *l, struct gcdl_rng *r)
{
	uint64_t swaps = 0, target = 20ull * l->n * l->s + 100;

	place_round_robin(l);
	for (uint64_t tries = 0; swaps < target && tries < 50 * target; tries++) {
		uint32_t a, i, b, j;

		if (draw_swap(l, r, &a, &i, &b, &j)) {
			do_swap(l, a, i, b, j);
			swaps++;
		}
	}
}

/* co[i*m+l] += delta for every l held by worker w besides p; returns the
 * change of sum over pairs of n_il^2 (each unordered pair counted once). */
static int64_t
co_update(const struct gcdl_layout *l, uint32_t *co, uint32_t w, uint32_t p, int delta)
{
	int64_t change = 0;

	for (uint32_t q = 0; q < l->m; q++) {
		uint32_t *c1, *c2;

		if (q == p || !l->hold[(size_t)w * l->m + q])
			continue;
		c1 = &co[(size_t)p * l->m + q];
		c2 = &co[(size_t)q * l->m + p];
		change += 2 * (int64_t)*c1 * delta + 1;
		*c1 = (uint32_t)((int64_t)*c1 + delta);
		*c2 = *c1;
	}
	return change;
}

static int64_t
apply_swap(struct gcdl_layout *l, uint32_t *co, uint32_t a, uint32_t i, uint32_t b, uint32_t j)
{
	int64_t ch = 0;

	ch += co_update(l, co, a, i, -1);
	l->hold[(size_t)a * l->m + i] = 0;
	ch += co_update(l, co, a, j, +1);
	l->hold[(size_t)a * l->m + j] = 1;
	ch += co_update(l, co, b, j, -1);
	l->hold[(size_t)b * l->m + j] = 0;
	ch += co_update(l, co, b, i, +1);
	l->hold[(size_t)b * l->m + i] = 1;
	return ch;
}

/* Simulated annealing over swaps, minimising sum_{i<l} n_il^2; its minimum
 * for the fixed total N*s(s-1)/2 is reached exactly when every n_il is q or
 * q+1, i.e. max - min <= 1. */
static int
place_pairwise(struct gcdl_layout *l, struct gcdl_rng *r)
{
	const uint64_t pairs = (uint64_t)l->m * (l->m - 1) / 2;
	const uint64_t total = (uint64_t)l->n * l->s * (l->s - 1) / 2;
	uint32_t *co;
	uint8_t *best;
	int64_t obj = 0, best_obj, bound;
	double temp = 2.0;

	place_round_robin(l);
	if (pairs == 0 || l->s < 2)
		return 0;
	co = calloc((size_t)l->m * l->m, sizeof(*co));
	best = malloc((size_t)l->n * l->m);
	if (co == NULL || best == NULL) {
		free(co);
		free(best);
		return -ENOMEM;
	}
	for (uint32_t k = 0; k < l->n; k++)
		for (uint32_t p = 0; p < l->m; p++)
			for (uint32_t q = p + 1; q < l->m; q++)
				if (l->hold[(size_t)k * l->m + p] && l->hold[(size_t)k * l->m + q])
					co[(size_t)p * l->m + q]++;
	for (uint32_t p = 0; p < l->m; p++)
		for (uint32_t q = p + 1; q < l->m; q++) {
			co[(size_t)q * l->m + p] = co[(size_t)p * l->m + q];
			obj += (int64_t)co[(size_t)p * l->m + q] * co[(size_t)p * l->m + q];
		}
	{
		int64_t qv = (int64_t)(total / pairs), rem = (int64_t)(total % pairs);

		bound = ((int64_t)pairs - rem) * qv * qv + rem * (qv + 1) * (qv + 1);
	}
	best_obj = obj;
	memcpy(best, l->hold, (size_t)l->n * l->m);
	for (uint32_t move = 0; move < PAIRWISE_MAX_MOVES && best_obj > bound;) {
		uint32_t a, i, b, j;
		int64_t ch;

		if (!draw_swap(l, r, &a, &i, &b, &j))
			continue;
		move++;
		ch = apply_swap(l, co, a, i, b, j);
		if (ch <= 0 || gcdl_rng_uniform(r) < exp(-(double)ch / temp)) {
			obj += ch;
			if (obj < best_obj) {
				best_obj = obj;
				memcpy(best, l->hold, (size_t)l->n * l->m);
			}
		} else {
			apply_swap(l, co, a, j, b, i); /* undo */
		}
		/* cool slowly, then reheat: a few annealing cycles per search */
		if ((move & 1023) == 0)
			temp = temp > 0.02 ? temp * 0.98 : 2.0;
	}
	memcpy(l->hold, best, (size_t)l->n * l->m);
	free(co);
	free(best);
	return 0;
}

static int
finish(struct gcdl_layout *l, char *err, size_t errlen, const char *kind_rule)
{
	for (uint32_t i = 0; i < l->m; i++)
		l->rep[i] = 0;
	for (uint32_t k = 0; k < l->n; k++) {
		uint32_t c = 0;

		for (uint32_t i = 0; i < l->m; i++) {
			if (!l->hold[(size_t)k * l->m + i])
				continue;
			if (c == l->s) {
				c++;
				break;
			}
			l->parts[(size_t)k * l->s + c++] = i;
			l->rep[i]++;
		}
		if (c != l->s) {
			seterr(err, errlen, "%s (worker %u would hold %u partitions, not s = %u)",
			       kind_rule, k, c, l->s);
			return -EINVAL;
		}
	}
	for (uint32_t i = 0; i < l->m; i++) {
		if (l->rep[i] != l->d) {
			seterr(err, errlen, "%s (partition %u would be on %u workers, not d = %u)",
			       kind_rule, i, l->rep[i], l->d);
			return -EINVAL;
		}
	}
	return 0;
}

struct gcdl_layout *
gcdl_layout_create(enum gcdl_layout_kind kind, uint32_t workers, uint32_t partitions,
		   uint32_t d, uint64_t seed, char *err, size_t errlen)
{
	struct gcdl_layout *l;
	struct gcdl_rng r;
	const char *rule = "layout";
	int rc = 0;

	if ((unsigned)kind >= GCDL_LAYOUT__COUNT) {
		seterr(err, errlen, "unknown layout kind %d", (int)kind);
		goto inval;
	}
	if (workers == 0 || workers > GCDL_LAYOUT_MAX_NODES) {
		seterr(err, errlen, "N (workers) must be in 1..%d, got %u", GCDL_LAYOUT_MAX_NODES,
		       workers);
		goto inval;
	}
	if (partitions == 0 || partitions > GCDL_LAYOUT_MAX_NODES) {
		seterr(err, errlen, "M (partitions) must be in 1..%d, got %u",
		       GCDL_LAYOUT_MAX_NODES, partitions);
		goto inval;
	}
	if (d == 0 || d > workers) {
		seterr(err, errlen, "d (replication) must be in 1..N, got d=%u with N=%u", d,
		       workers);
		goto inval;
	}
	if (((uint64_t)d * partitions) % workers != 0) {
		seterr(err, errlen, "d*M/N must be an integer (d=%u, M=%u, N=%u)", d, partitions,
		       workers);
		goto inval;
	}
	if (kind == GCDL_LAYOUT_UNCODED && (d != 1 || partitions != workers)) {
		seterr(err, errlen, "uncoded layout needs d = 1 and M = N (d=%u, M=%u, N=%u)", d,
		       partitions, workers);
		goto inval;
	}
	if (kind == GCDL_LAYOUT_FRACTIONAL &&
	    workers % d != 0) {
		seterr(err, errlen, "fractional layout needs d to divide N "
		       "(d=%u, M=%u, N=%u)", d, partitions, workers);
		goto inval;
	}
	if (kind == GCDL_LAYOUT_CYCLIC && workers % partitions != 0 && partitions % workers != 0) {
		seterr(err, errlen, "cyclic layout needs N to divide M or M to divide N (M=%u, "
		       "N=%u)", partitions, workers);
		goto inval;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		goto nomem;
	l->n = workers;
	l->m = partitions;
	l->d = d;
	l->s = (uint32_t)((uint64_t)d * partitions / workers);
	l->hold = calloc((size_t)workers * partitions, 1);
	l->parts = calloc((size_t)workers * l->s, sizeof(uint32_t));
	l->rep = calloc(partitions, sizeof(uint32_t));
	if (l->hold == NULL || l->parts == NULL || l->rep == NULL) {
		gcdl_layout_free(l);
		goto nomem;
	}
	gcdl_rng_init(&r, seed, GCDL_RNG_LAYOUT, (uint32_t)kind, 0);
	switch (kind) {
	case GCDL_LAYOUT_PAIRWISE:
		rc = place_pairwise(l, &r);
		break;
	case GCDL_LAYOUT_CYCLIC:
		place_cyclic(l);
		rule = "cyclic layout needs N to divide M or M to divide N";
		break;
	case GCDL_LAYOUT_FRACTIONAL:
		place_fractional(l);
		break;
	case GCDL_LAYOUT_RANDOM:
		place_random(l, &r);
		break;
	case GCDL_LAYOUT_UNCODED:
		for (uint32_t k = 0; k < workers; k++)
			l->hold[(size_t)k * partitions + k] = 1;
		break;
	default:
		break;
	}
	if (rc == -ENOMEM) {
		gcdl_layout_free(l);
		goto nomem;
	}
	rc = finish(l, err, errlen, rule);
	if (rc != 0) {
		gcdl_layout_free(l);
		goto inval;
	}
	return l;
inval:
	errno = EINVAL;
	return NULL;
nomem:
	seterr(err, errlen, "out of memory");
	errno = ENOMEM;
	return NULL;
}

uint32_t
gcdl_layout_workers(const struct gcdl_layout *l)
{
	return l ? l->n : 0;
}

uint32_t
gcdl_layout_partitions(const struct gcdl_layout *l)
{
	return l ? l->m : 0;
}

int
gcdl_layout_worker_partitions(const struct gcdl_layout *l, uint32_t worker,
			      const uint32_t **parts, uint32_t *count)
{
	if (l == NULL || parts == NULL || count == NULL)
		return -EINVAL;
	if (worker >= l->n)
		return -ERANGE;
	*parts = l->parts + (size_t)worker * l->s;
	*count = l->s;
	return 0;
}

uint32_t
gcdl_layout_replication(const struct gcdl_layout *l, uint32_t partition)
{
	if (l == NULL || partition >= l->m)
		return 0;
	return l->rep[partition];
}

bool
gcdl_layout_holds(const struct gcdl_layout *l, uint32_t worker, uint32_t partition)
{
	if (l == NULL || worker >= l->n || partition >= l->m)
		return false;
	return l->hold[(size_t)worker * l->m + partition] != 0;
}

int
gcdl_layout_props(const struct gcdl_layout *l, struct gcdl_layout_props *p)
{
	if (l == NULL || p == NULL)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->workers = l->n;
	p->partitions = l->m;
	p->rep_min = p->rep_max = l->rep[0];
	for (uint32_t i = 1; i < l->m; i++) {
		if (l->rep[i] < p->rep_min)
			p->rep_min = l->rep[i];
		if (l->rep[i] > p->rep_max)
			p->rep_max = l->rep[i];
	}
	p->load_min = p->load_max = l->s;
	if (l->m < 2)
		return 0;
	p->pair_min = UINT32_MAX;
	for (uint32_t a = 0; a < l->m; a++) {
		for (uint32_t b = a + 1; b < l->m; b++) {
			uint32_t c = 0;

			for (uint32_t k = 0; k < l->n; k++)
				c += l->hold[(size_t)k * l->m + a] & l->hold[(size_t)k * l->m + b];
			if (c < p->pair_min)
				p->pair_min = c;
			if (c > p->pair_max)
				p->pair_max = c;
		}
	}
	return 0;
}
