/* SPDX-License-Identifier: BSD-3-Clause */
/* Shard layouts: every rejection, the invariants of every kind over a grid of
 * (N, M, d), pair balance of the pairwise layout (and the grid points where
 * balance is impossible, with the proof), known designs, determinism. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/layout.h"

#define NKINDS GCDL_LAYOUT__COUNT

/* Independent recount, from gcdl_layout_holds() alone. */
static void
recount(const struct gcdl_layout *l, struct gcdl_layout_props *p, uint64_t *sumsq)
{
	uint32_t n = gcdl_layout_workers(l), m = gcdl_layout_partitions(l);

	memset(p, 0, sizeof(*p));
	p->workers = n;
	p->partitions = m;
	p->rep_min = p->load_min = p->pair_min = UINT32_MAX;
	*sumsq = 0;
	for (uint32_t i = 0; i < m; i++) {
		uint32_t r = 0;

		for (uint32_t k = 0; k < n; k++)
			r += gcdl_layout_holds(l, k, i);
		p->rep_min = r < p->rep_min ? r : p->rep_min;
		p->rep_max = r > p->rep_max ? r : p->rep_max;
	}
	for (uint32_t k = 0; k < n; k++) {
		uint32_t s = 0;

		for (uint32_t i = 0; i < m; i++)
			s += gcdl_layout_holds(l, k, i);
		p->load_min = s < p->load_min ? s : p->load_min;
		p->load_max = s > p->load_max ? s : p->load_max;
	}
	for (uint32_t a = 0; a < m; a++) {
		for (uint32_t b = a + 1; b < m; b++) {
			uint32_t c = 0;

			for (uint32_t k = 0; k < n; k++)
				c += gcdl_layout_holds(l, k, a) && gcdl_layout_holds(l, k, b);
			p->pair_min = c < p->pair_min ? c : p->pair_min;
			p->pair_max = c > p->pair_max ? c : p->pair_max;
			*sumsq += (uint64_t)c * c;
		}
	}
	if (m < 2)
		p->pair_min = p->pair_max = 0;
}

static uint64_t
sumsq_of(enum gcdl_layout_kind kind, uint32_t n, uint32_t m, uint32_t d, uint64_t seed,
	 struct gcdl_layout_props *p)
{
	struct gcdl_layout *l = gcdl_layout_create(kind, n, m, d, seed, NULL, 0);
	uint64_t sumsq;

	ck_assert_msg(l != NULL, "%s N=%u M=%u d=%u", gcdl_layout_kind_name(kind), n, m, d);
	recount(l, p, &sumsq);
	gcdl_layout_free(l);
	return sumsq;
}

/* The constraints of METHOD.md, restated here independently of the library. */
static bool
kind_valid(int kind, uint32_t n, uint32_t m, uint32_t d)
{
	if (n == 0 || m == 0 || d == 0 || n > GCDL_LAYOUT_MAX_NODES ||
	    m > GCDL_LAYOUT_MAX_NODES || d > n || (d * m) % n != 0)
		return false;
	if (kind == GCDL_LAYOUT_FRACTIONAL)
		return n % d == 0;
	if (kind == GCDL_LAYOUT_UNCODED)
		return d == 1 && m == n;
	return true;
}

static void
expect_reject(int kind, uint32_t n, uint32_t m, uint32_t d, const char *frag)
{
	char err[256] = "";

	errno = 0;
	ck_assert_ptr_null(gcdl_layout_create(kind, n, m, d, 1, err, sizeof(err)));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_msg(strstr(err, frag) != NULL, "'%s' not in '%s'", frag, err);
}

START_TEST(rejects_sizes)
{
	for (int kind = 0; kind < NKINDS; kind++) {
		expect_reject(kind, 0, 4, 1, "N (workers) must be in 1..4096 (N=0)");
		expect_reject(kind, GCDL_LAYOUT_MAX_NODES + 1, 4, 1, "(N=4097)");
		expect_reject(kind, 4, 0, 1, "M (partitions) must be in 1..4096 (M=0)");
		expect_reject(kind, 4, GCDL_LAYOUT_MAX_NODES + 1, 1, "(M=4097)");
		expect_reject(kind, 4, 4, 0, "d (replication) must be in 1..N (d=0, N=4)");
		expect_reject(kind, 4, 4, 5, "d (replication) must be in 1..N (d=5, N=4)");
	}
}
END_TEST

START_TEST(rejects_non_integer_s)
{
	char err[128];

	ck_assert_ptr_null(gcdl_layout_create(GCDL_LAYOUT_PAIRWISE, 4, 10, 3, 1, err,
					      sizeof(err)));
	ck_assert_str_eq(err, "d*M/N must be an integer (d=3, M=10, N=4)");
	for (int kind = 0; kind < NKINDS; kind++) {
		expect_reject(kind, 4, 10, 3, "d*M/N must be an integer");
		expect_reject(kind, 6, 4, 1, "d*M/N must be an integer");
		expect_reject(kind, 4096, 4095, 1, "d*M/N must be an integer");
	}
}
END_TEST

START_TEST(rejects_kind_constraints)
{
	/* valid for the other kinds, so the rejection is the kind's own */
	expect_reject(GCDL_LAYOUT_FRACTIONAL, 6, 3, 4, "fractional layout needs d to divide N");
	expect_reject(GCDL_LAYOUT_FRACTIONAL, 8, 8, 3, "fractional layout needs d to divide N");
	expect_reject(GCDL_LAYOUT_UNCODED, 4, 4, 2, "uncoded layout needs d = 1 and M = N");
	expect_reject(GCDL_LAYOUT_UNCODED, 4, 8, 1, "uncoded layout needs d = 1 and M = N");
	expect_reject(GCDL_LAYOUT_UNCODED, 4, 2, 2, "uncoded layout needs d = 1 and M = N");
	for (int kind = 0; kind < NKINDS; kind++) {
		struct gcdl_layout *l;

		if (kind == GCDL_LAYOUT_FRACTIONAL || kind == GCDL_LAYOUT_UNCODED)
			continue;
		l = gcdl_layout_create(kind, 6, 3, 4, 1, NULL, 0);
		ck_assert_ptr_nonnull(l);
		gcdl_layout_free(l);
	}
}
END_TEST

START_TEST(rejects_unknown_kind)
{
	expect_reject(GCDL_LAYOUT__COUNT, 4, 4, 1, "unknown layout kind 5");
	expect_reject(17, 4, 4, 1, "unknown layout kind 17");
	expect_reject(-1, 4, 4, 1, "unknown layout kind -1");
}
END_TEST

START_TEST(error_buffer)
{
	char err[16];

	/* err may be NULL */
	errno = 0;
	ck_assert_ptr_null(gcdl_layout_create(GCDL_LAYOUT_CYCLIC, 0, 4, 1, 1, NULL, 0));
	ck_assert_int_eq(errno, EINVAL);
	/* errlen 0: nothing written */
	memset(err, 'x', sizeof(err));
	ck_assert_ptr_null(gcdl_layout_create(GCDL_LAYOUT_CYCLIC, 0, 4, 1, 1, err, 0));
	ck_assert_int_eq(err[0], 'x');
	/* a short buffer gets a truncated, terminated message */
	ck_assert_ptr_null(gcdl_layout_create(GCDL_LAYOUT_CYCLIC, 4, 10, 3, 1, err, 6));
	ck_assert_str_eq(err, "d*M/N");
	ck_assert_int_eq(err[6], 'x');
}
END_TEST

START_TEST(accessors_reject_bad_arguments)
{
	struct gcdl_layout *l = gcdl_layout_create(GCDL_LAYOUT_CYCLIC, 4, 4, 2, 1, NULL, 0);
	const uint32_t sentinel[1] = { 0 };
	const uint32_t *parts = sentinel;
	struct gcdl_layout_props p;
	enum gcdl_layout_kind k = GCDL_LAYOUT_RANDOM;
	uint32_t count = 99;

	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(gcdl_layout_worker_partitions(l, 4, &parts, &count), -ERANGE);
	ck_assert_int_eq(gcdl_layout_worker_partitions(l, UINT32_MAX, &parts, &count), -ERANGE);
	ck_assert_ptr_eq(parts, sentinel);
	ck_assert_uint_eq(count, 99);
	ck_assert_int_eq(gcdl_layout_worker_partitions(NULL, 0, &parts, &count), -EINVAL);
	ck_assert_int_eq(gcdl_layout_worker_partitions(l, 0, NULL, &count), -EINVAL);
	ck_assert_int_eq(gcdl_layout_worker_partitions(l, 0, &parts, NULL), -EINVAL);
	ck_assert_uint_eq(gcdl_layout_replication(l, 4), 0);
	ck_assert_uint_eq(gcdl_layout_replication(NULL, 0), 0);
	ck_assert(!gcdl_layout_holds(l, 4, 0));
	ck_assert(!gcdl_layout_holds(l, 0, 4));
	ck_assert(!gcdl_layout_holds(NULL, 0, 0));
	ck_assert_int_eq(gcdl_layout_props(NULL, &p), -EINVAL);
	ck_assert_int_eq(gcdl_layout_props(l, NULL), -EINVAL);
	ck_assert_uint_eq(gcdl_layout_workers(NULL), 0);
	ck_assert_uint_eq(gcdl_layout_partitions(NULL), 0);
	ck_assert_int_eq(gcdl_layout_kind_parse(NULL, &k), -EINVAL);
	ck_assert_int_eq(gcdl_layout_kind_parse("pairwise", NULL), -EINVAL);
	ck_assert_int_eq(gcdl_layout_kind_parse("diagonal", &k), -EINVAL);
	ck_assert_int_eq(gcdl_layout_kind_parse("", &k), -EINVAL);
	ck_assert_int_eq(gcdl_layout_kind_parse("Pairwise", &k), -EINVAL);
	ck_assert_int_eq(gcdl_layout_kind_parse("cyclic ", &k), -EINVAL);
	ck_assert_int_eq(k, GCDL_LAYOUT_RANDOM);
	ck_assert_str_eq(gcdl_layout_kind_name(GCDL_LAYOUT__COUNT), "unknown");
	ck_assert_str_eq(gcdl_layout_kind_name((enum gcdl_layout_kind)-1), "unknown");
	gcdl_layout_free(l);
	gcdl_layout_free(NULL);
}
END_TEST

START_TEST(names_round_trip)
{
	static const char *const names[NKINDS] = { "pairwise", "cyclic", "fractional", "random",
						   "uncoded" };
	enum gcdl_layout_kind k;

	for (int i = 0; i < NKINDS; i++) {
		ck_assert_str_eq(gcdl_layout_kind_name(i), names[i]);
		ck_assert_int_eq(gcdl_layout_kind_parse(names[i], &k), 0);
		ck_assert_int_eq(k, i);
	}
}
END_TEST

/*
 * What each deterministic kind must hold, from METHOD.md and the layout brief.
 * Cyclic: worker k holds floor(kM/N) + j (mod M), j < s.
 */
static bool
expected_holds(int kind, uint32_t n, uint32_t m, uint32_t d, uint32_t k, uint32_t i)
{
	uint32_t s = d * m / n;

	switch (kind) {
	case GCDL_LAYOUT_CYCLIC:
		return (i + m - (k * m / n) % m) % m < s;
	case GCDL_LAYOUT_FRACTIONAL:
		return i / s == k / d;
	case GCDL_LAYOUT_UNCODED:
		return i == k;
	default:
		return false;
	}
}

/* Replication d, load s, sorted distinct lists, holds() agreeing with the
 * lists, props equal to a recount. */
static void
check_layout(const struct gcdl_layout *l, int kind, uint32_t n, uint32_t m, uint32_t d)
{
	struct gcdl_layout_props got, want;
	uint32_t s = d * m / n;
	uint64_t sumsq;

	ck_assert_uint_eq(gcdl_layout_workers(l), n);
	ck_assert_uint_eq(gcdl_layout_partitions(l), m);
	for (uint32_t k = 0; k < n; k++) {
		const uint32_t *parts;
		uint32_t cnt, held = 0;

		ck_assert_int_eq(gcdl_layout_worker_partitions(l, k, &parts, &cnt), 0);
		ck_assert_uint_eq(cnt, s);
		for (uint32_t j = 0; j < cnt; j++) {
			ck_assert_uint_lt(parts[j], m);
			ck_assert(j == 0 || parts[j] > parts[j - 1]);
			ck_assert(gcdl_layout_holds(l, k, parts[j]));
		}
		for (uint32_t i = 0; i < m; i++) {
			held += gcdl_layout_holds(l, k, i);
			if (kind != GCDL_LAYOUT_PAIRWISE && kind != GCDL_LAYOUT_RANDOM)
				ck_assert_msg(gcdl_layout_holds(l, k, i) ==
						      expected_holds(kind, n, m, d, k, i),
					      "%s N=%u M=%u d=%u worker %u partition %u",
					      gcdl_layout_kind_name(kind), n, m, d, k, i);
		}
		ck_assert_uint_eq(held, s); /* holds() has nothing beyond the list */
	}
	for (uint32_t i = 0; i < m; i++)
		ck_assert_uint_eq(gcdl_layout_replication(l, i), d);
	ck_assert_int_eq(gcdl_layout_props(l, &got), 0);
	recount(l, &want, &sumsq);
	ck_assert_uint_eq(want.rep_min, d);
	ck_assert_uint_eq(want.rep_max, d);
	ck_assert_uint_eq(want.load_min, s);
	ck_assert_uint_eq(want.load_max, s);
	ck_assert_uint_eq(got.workers, want.workers);
	ck_assert_uint_eq(got.partitions, want.partitions);
	ck_assert_uint_eq(got.rep_min, want.rep_min);
	ck_assert_uint_eq(got.rep_max, want.rep_max);
	ck_assert_uint_eq(got.load_min, want.load_min);
	ck_assert_uint_eq(got.load_max, want.load_max);
	ck_assert_uint_eq(got.pair_min, want.pair_min);
	ck_assert_uint_eq(got.pair_max, want.pair_max);
}

/* The grid: N in 1..16, M in {N, 2N, N/2}, every d in 1..min(N, 4). */
#define GRID_N 16
#define GRID_D 4

static uint32_t
grid_ms(uint32_t n, uint32_t ms[3])
{
	uint32_t c = 0;

	ms[c++] = n;
	ms[c++] = 2 * n;
	if (n % 2 == 0)
		ms[c++] = n / 2;
	return c;
}

/* Every kind at every grid point: created exactly where its constraints hold
 * (rejected with EINVAL elsewhere), and then a valid layout. */
START_TEST(grid_invariants)
{
	uint32_t made[NKINDS] = { 0 };

	for (uint32_t n = 1; n <= GRID_N; n++) {
		uint32_t ms[3], nm = grid_ms(n, ms);

		for (uint32_t mi = 0; mi < nm; mi++) {
			for (uint32_t d = 1; d <= n && d <= GRID_D; d++) {
				for (int kind = 0; kind < NKINDS; kind++) {
					uint32_t m = ms[mi];
					struct gcdl_layout *l;

					errno = 0;
					l = gcdl_layout_create(kind, n, m, d, 3, NULL, 0);
					if (!kind_valid(kind, n, m, d)) {
						ck_assert_ptr_null(l);
						ck_assert_int_eq(errno, EINVAL);
						continue;
					}
					ck_assert_msg(l != NULL, "%s N=%u M=%u d=%u",
						      gcdl_layout_kind_name(kind), n, m, d);
					made[kind]++;
					check_layout(l, kind, n, m, d);
					gcdl_layout_free(l);
				}
			}
		}
	}
	/* 131 grid points have integer s; d | N at 78 of them; uncoded at d = 1, M = N */
	ck_assert_uint_eq(made[GCDL_LAYOUT_PAIRWISE], 131);
	ck_assert_uint_eq(made[GCDL_LAYOUT_CYCLIC], 131);
	ck_assert_uint_eq(made[GCDL_LAYOUT_RANDOM], 131);
	ck_assert_uint_eq(made[GCDL_LAYOUT_FRACTIONAL], 78);
	ck_assert_uint_eq(made[GCDL_LAYOUT_UNCODED], GRID_N);
}
END_TEST

/*
 * The brief's cyclic rule (reject unless N | M or M | N, when replication is
 * unequal) never fires: floor(kM/N) + j (mod M), j < s, is balanced whenever
 * s = dM/N is an integer. Partition i is held by the k whose start floor(kM/N)
 * lies in the s integers (i-s, i] mod M, i.e. kM/N in a real interval of
 * length s, i.e. k in an interval of length sN/M = d mod N: exactly d
 * workers. So cyclic is accepted wherever s is an integer, including where N
 * and M do not divide each other; checked exhaustively for N, M <= 24.
 */
START_TEST(cyclic_accepts_every_integer_s)
{
	uint32_t odd = 0;

	for (uint32_t n = 1; n <= 24; n++) {
		for (uint32_t m = 1; m <= 24; m++) {
			for (uint32_t d = 1; d <= n; d++) {
				struct gcdl_layout *l;

				if ((d * m) % n != 0)
					continue;
				l = gcdl_layout_create(GCDL_LAYOUT_CYCLIC, n, m, d, 1, NULL, 0);
				ck_assert_msg(l != NULL, "N=%u M=%u d=%u", n, m, d);
				odd += n % m != 0 && m % n != 0;
				for (uint32_t i = 0; i < m; i++) {
					uint32_t r = 0;

					for (uint32_t k = 0; k < n; k++) {
						ck_assert(gcdl_layout_holds(l, k, i) ==
							  expected_holds(GCDL_LAYOUT_CYCLIC, n, m,
									 d, k, i));
						r += gcdl_layout_holds(l, k, i);
					}
					ck_assert_uint_eq(r, d);
				}
				gcdl_layout_free(l);
			}
		}
	}
	ck_assert_uint_gt(odd, 100); /* the non-dividing cases were exercised */
}
END_TEST

START_TEST(known_layouts)
{
	struct gcdl_layout *l;
	const uint32_t *parts;
	uint32_t cnt;

	/* cyclic N = M = 5, d = 2: worker k holds k, k+1 mod 5 */
	l = gcdl_layout_create(GCDL_LAYOUT_CYCLIC, 5, 5, 2, 1, NULL, 0);
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(gcdl_layout_worker_partitions(l, 4, &parts, &cnt), 0);
	ck_assert_uint_eq(cnt, 2);
	ck_assert_uint_eq(parts[0], 0);
	ck_assert_uint_eq(parts[1], 4);
	ck_assert_int_eq(gcdl_layout_worker_partitions(l, 1, &parts, &cnt), 0);
	ck_assert_uint_eq(parts[0], 1);
	ck_assert_uint_eq(parts[1], 2);
	gcdl_layout_free(l);
	/* cyclic N = 4, M = 6, d = 2 (s = 3): starts 0, 1, 3, 4 */
	l = gcdl_layout_create(GCDL_LAYOUT_CYCLIC, 4, 6, 2, 1, NULL, 0);
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(gcdl_layout_worker_partitions(l, 2, &parts, &cnt), 0);
	ck_assert_uint_eq(cnt, 3);
	ck_assert_uint_eq(parts[0], 3);
	ck_assert_uint_eq(parts[2], 5);
	ck_assert_int_eq(gcdl_layout_worker_partitions(l, 3, &parts, &cnt), 0);
	ck_assert_uint_eq(parts[0], 0);
	ck_assert_uint_eq(parts[1], 4);
	ck_assert_uint_eq(parts[2], 5);
	gcdl_layout_free(l);
	/* fractional N = 6, M = 6, d = 2: workers 2 and 3 form group 1 with {2, 3} */
	l = gcdl_layout_create(GCDL_LAYOUT_FRACTIONAL, 6, 6, 2, 1, NULL, 0);
	ck_assert_ptr_nonnull(l);
	for (uint32_t k = 2; k <= 3; k++) {
		ck_assert_int_eq(gcdl_layout_worker_partitions(l, k, &parts, &cnt), 0);
		ck_assert_uint_eq(cnt, 2);
		ck_assert_uint_eq(parts[0], 2);
		ck_assert_uint_eq(parts[1], 3);
	}
	gcdl_layout_free(l);
	/* uncoded: worker k holds exactly partition k */
	l = gcdl_layout_create(GCDL_LAYOUT_UNCODED, 9, 9, 1, 1, NULL, 0);
	ck_assert_ptr_nonnull(l);
	for (uint32_t k = 0; k < 9; k++) {
		ck_assert_int_eq(gcdl_layout_worker_partitions(l, k, &parts, &cnt), 0);
		ck_assert_uint_eq(cnt, 1);
		ck_assert_uint_eq(parts[0], k);
	}
	gcdl_layout_free(l);
}
END_TEST

/* One partition: no pairs, props report 0 and 0. d = N: every worker holds
 * everything and every pair is on all N workers. */
START_TEST(degenerate_shapes)
{
	struct gcdl_layout_props p;
	struct gcdl_layout *l;

	for (int kind = 0; kind < NKINDS; kind++) {
		if (kind == GCDL_LAYOUT_UNCODED)
			continue;
		l = gcdl_layout_create(kind, 4, 1, 4, 1, NULL, 0);
		ck_assert_ptr_nonnull(l);
		ck_assert_int_eq(gcdl_layout_props(l, &p), 0);
		ck_assert_uint_eq(p.pair_min, 0);
		ck_assert_uint_eq(p.pair_max, 0);
		ck_assert_uint_eq(p.rep_min, 4);
		ck_assert_uint_eq(p.rep_max, 4);
		ck_assert_uint_eq(p.load_min, 1);
		ck_assert_uint_eq(p.load_max, 1);
		gcdl_layout_free(l);
		sumsq_of(kind, 40, 40, 40, 1, &p);
		ck_assert_uint_eq(p.pair_min, 40);
		ck_assert_uint_eq(p.pair_max, 40);
		ck_assert_uint_eq(p.load_min, 40);
	}
	l = gcdl_layout_create(GCDL_LAYOUT_UNCODED, 1, 1, 1, 1, NULL, 0);
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(gcdl_layout_props(l, &p), 0);
	ck_assert_uint_eq(p.pair_max, 0);
	ck_assert_uint_eq(p.rep_min, 1);
	ck_assert(gcdl_layout_holds(l, 0, 0));
	gcdl_layout_free(l);
}
END_TEST

/* Smallest sum of C(x, 2) over count integers x >= 0 summing to total. */
static uint64_t
min_choose2(uint64_t total, uint64_t count)
{
	uint64_t q = total / count, r = total % count;

	return (count - r) * (q * (q - 1) / 2) + r * ((q + 1) * q / 2);
}

/*
 * Grid points where pair counts within 1 are impossible. Count incidences of
 * (partition pair {i,l}, worker pair {u,v}) with u, v both holding i and l two
 * ways: sum_{i<l} C(n_il, 2) = sum_{u<v} C(lambda_uv, 2), lambda_uv being the
 * number of partitions both u and v hold. The lambda_uv sum to M*C(d,2) over
 * C(N,2) worker pairs, so the right side is at least B_w = its balanced value;
 * if every n_il is q or q+1 the left side equals B_p, the balanced value of
 * N*C(s,2) over C(M,2). So B_w > B_p rules balance out. Here, exactly the
 * points below (all M = 2N; e.g. N = 8, M = 16, d = 3 would need every n_il =
 * 1, yet 16 triples of 8 workers must repeat a worker pair). The least
 * possible sum_{i<l} n_il^2 is then 2*B_w + N*C(s,2), and the search must
 * reach it.
 */
static const uint32_t impossible[][3] = {
	{ 4, 8, 2 },   { 6, 12, 3 },  { 7, 14, 3 },  { 7, 14, 4 },  { 8, 16, 3 },  { 8, 16, 4 },
	{ 9, 18, 3 },  { 9, 18, 4 },  { 10, 20, 3 }, { 10, 20, 4 }, { 11, 22, 3 }, { 11, 22, 4 },
	{ 12, 24, 3 }, { 12, 24, 4 }, { 13, 26, 4 }, { 14, 28, 4 }, { 15, 30, 4 }, { 16, 32, 4 },
};

static bool
listed_impossible(uint32_t n, uint32_t m, uint32_t d)
{
	for (size_t x = 0; x < sizeof(impossible) / sizeof(impossible[0]); x++)
		if (impossible[x][0] == n && impossible[x][1] == m && impossible[x][2] == d)
			return true;
	return false;
}

START_TEST(pairwise_balances_pairs_over_grid)
{
	uint32_t balanced = 0, optimal = 0;

	for (uint64_t seed = 1; seed <= 3; seed++) {
		for (uint32_t n = 1; n <= GRID_N; n++) {
			uint32_t ms[3], nm = grid_ms(n, ms);

			for (uint32_t mi = 0; mi < nm; mi++) {
				for (uint32_t d = 1; d <= n && d <= GRID_D; d++) {
					uint32_t m = ms[mi], s = d * m / n;
					struct gcdl_layout_props p;
					uint64_t sumsq, tot, bp, bw;

					if ((d * m) % n != 0 || m < 2)
						continue;
					sumsq = sumsq_of(GCDL_LAYOUT_PAIRWISE, n, m, d, seed, &p);
					tot = (uint64_t)n * s * (s - 1) / 2;
					bp = min_choose2(tot, (uint64_t)m * (m - 1) / 2);
					bw = n < 2 ? 0 : min_choose2((uint64_t)m * d * (d - 1) / 2,
								     (uint64_t)n * (n - 1) / 2);
					ck_assert_int_eq(bw > bp, listed_impossible(n, m, d));
					if (bw > bp) {
						ck_assert_uint_eq(sumsq, 2 * bw + tot);
						optimal++;
					} else {
						ck_assert_msg(p.pair_max - p.pair_min <= 1,
							      "N=%u M=%u d=%u seed %lu: %u..%u", n,
							      m, d, (unsigned long)seed, p.pair_min,
							      p.pair_max);
						balanced++;
					}
				}
			}
		}
	}
	ck_assert_uint_eq(optimal, 3 * sizeof(impossible) / sizeof(impossible[0]));
	/* 111 grid points with M >= 2 and integer s besides the 18 above */
	ck_assert_uint_eq(balanced, 3 * 111);
}
END_TEST

/* Every n_il of a pairwise layout equals lambda; with dual, also every pair of
 * workers shares lambda partitions (a symmetric design). */
static void
expect_design(uint32_t n, uint32_t m, uint32_t d, uint64_t seed, uint32_t lambda, bool dual)
{
	struct gcdl_layout *l = gcdl_layout_create(GCDL_LAYOUT_PAIRWISE, n, m, d, seed, NULL, 0);

	ck_assert_ptr_nonnull(l);
	for (uint32_t a = 0; a < m; a++) {
		for (uint32_t b = a + 1; b < m; b++) {
			uint32_t c = 0;

			for (uint32_t k = 0; k < n; k++)
				c += gcdl_layout_holds(l, k, a) && gcdl_layout_holds(l, k, b);
			ck_assert_msg(c == lambda, "N=%u M=%u d=%u: n_%u,%u = %u", n, m, d, a, b, c);
		}
	}
	for (uint32_t u = 0; dual && u < n; u++) {
		for (uint32_t v = u + 1; v < n; v++) {
			uint32_t c = 0;

			for (uint32_t i = 0; i < m; i++)
				c += gcdl_layout_holds(l, u, i) && gcdl_layout_holds(l, v, i);
			ck_assert_uint_eq(c, lambda);
		}
	}
	gcdl_layout_free(l);
}

START_TEST(pairwise_finds_designs)
{
	/* Fano plane, several seeds */
	expect_design(7, 7, 3, 1, 1, true);
	expect_design(7, 7, 3, 2, 1, true);
	expect_design(7, 7, 3, 12345, 1, true);
	/* projective plane of order 3, its complement-like (4, 3, 2), affine plane
	 * AG(2, 3): 12 lines of 3 points on 9 points, each point on 4 lines */
	expect_design(13, 13, 4, 1, 1, true);
	expect_design(4, 4, 3, 1, 2, true);
	expect_design(12, 9, 4, 1, 1, false);
	/* biplanes (11, 5, 2) and (16, 6, 2), beyond the d <= 4 grid */
	expect_design(11, 11, 5, 1, 2, true);
	expect_design(16, 16, 6, 1, 2, true);
}
END_TEST

/*
 * Beyond the grid (d = 5..8, N = M): the circulant start finds near difference
 * sets where swaps alone stall. N = M = 20, d = 8 is not balanced within the
 * budget; the search then ends above its best and restores the best layout
 * it saw, which must still be a valid layout no worse than cyclic.
 */
START_TEST(pairwise_beyond_grid)
{
	static const uint32_t reach[][2] = { { 25, 5 }, { 24, 6 }, { 32, 8 }, { 16, 8 } };
	struct gcdl_layout_props p;
	struct gcdl_layout *l;

	for (size_t c = 0; c < sizeof(reach) / sizeof(reach[0]); c++) {
		uint32_t n = reach[c][0], d = reach[c][1];

		l = gcdl_layout_create(GCDL_LAYOUT_PAIRWISE, n, n, d, 1, NULL, 0);
		ck_assert_ptr_nonnull(l);
		check_layout(l, GCDL_LAYOUT_PAIRWISE, n, n, d);
		ck_assert_int_eq(gcdl_layout_props(l, &p), 0);
		ck_assert_msg(p.pair_max - p.pair_min <= 1, "N=M=%u d=%u: %u..%u", n, d,
			      p.pair_min, p.pair_max);
		gcdl_layout_free(l);
	}
	for (uint64_t seed = 1; seed <= 2; seed++) {
		l = gcdl_layout_create(GCDL_LAYOUT_PAIRWISE, 20, 20, 8, seed, NULL, 0);
		ck_assert_ptr_nonnull(l);
		check_layout(l, GCDL_LAYOUT_PAIRWISE, 20, 20, 8);
		gcdl_layout_free(l);
		ck_assert_uint_le(sumsq_of(GCDL_LAYOUT_PAIRWISE, 20, 20, 8, seed, &p),
				  sumsq_of(GCDL_LAYOUT_CYCLIC, 20, 20, 8, seed, &p));
	}
}
END_TEST

/* The search starts from the cyclic layout (N = M: from the best circulant
 * one, of which cyclic is the first tried) and keeps its best, so it can never
 * end worse than cyclic; nor is it worse than random anywhere on the grid. */
START_TEST(pairwise_never_worse_than_cyclic_or_random)
{
	struct gcdl_layout_props p;
	uint32_t strictly = 0;

	for (uint32_t n = 2; n <= GRID_N; n++) {
		uint32_t ms[3], nm = grid_ms(n, ms);

		for (uint32_t mi = 0; mi < nm; mi++) {
			for (uint32_t d = 1; d <= n && d <= GRID_D; d++) {
				uint32_t m = ms[mi];
				uint64_t pw, cy;

				if ((d * m) % n != 0)
					continue;
				pw = sumsq_of(GCDL_LAYOUT_PAIRWISE, n, m, d, 9, &p);
				cy = sumsq_of(GCDL_LAYOUT_CYCLIC, n, m, d, 9, &p);
				ck_assert_uint_le(pw, cy);
				ck_assert_uint_le(pw, sumsq_of(GCDL_LAYOUT_RANDOM, n, m, d, 9, &p));
				strictly += pw < cy;
			}
		}
	}
	ck_assert_uint_gt(strictly, 50);
	/* Fano: cyclic puts neighbours on 2 workers and distant pairs on none */
	ck_assert_uint_eq(sumsq_of(GCDL_LAYOUT_CYCLIC, 7, 7, 3, 1, &p), 7 * 4 + 7 * 1);
	ck_assert_uint_eq(p.pair_max, 2);
	ck_assert_uint_eq(p.pair_min, 0);
	ck_assert_uint_eq(sumsq_of(GCDL_LAYOUT_PAIRWISE, 7, 7, 3, 1, &p), 21);
}
END_TEST

/* Large layout: N = M = 4096, d = 4 pairwise is a packing (no two partitions
 * share two workers), checked by marking every co-held pair once. */
START_TEST(pairwise_large_is_packing)
{
	const uint32_t n = 4096;
	struct gcdl_layout *l = gcdl_layout_create(GCDL_LAYOUT_PAIRWISE, n, n, 4, 1, NULL, 0);
	uint8_t *mark = calloc((size_t)n * n / 8, 1);
	uint32_t *rep = calloc(n, sizeof(*rep));
	struct gcdl_layout_props p;

	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_nonnull(mark);
	ck_assert_ptr_nonnull(rep);
	for (uint32_t k = 0; k < n; k++) {
		const uint32_t *parts;
		uint32_t cnt;

		ck_assert_int_eq(gcdl_layout_worker_partitions(l, k, &parts, &cnt), 0);
		ck_assert_uint_eq(cnt, 4);
		for (uint32_t a = 0; a < cnt; a++) {
			rep[parts[a]]++;
			for (uint32_t b = a + 1; b < cnt; b++) {
				size_t bit = (size_t)parts[a] * n + parts[b];

				ck_assert_msg(!(mark[bit / 8] & (1u << (bit % 8))),
					      "partitions %u and %u share two workers", parts[a],
					      parts[b]);
				mark[bit / 8] |= (uint8_t)(1u << (bit % 8));
			}
		}
	}
	for (uint32_t i = 0; i < n; i++)
		ck_assert_uint_eq(rep[i], 4);
	ck_assert_int_eq(gcdl_layout_props(l, &p), 0);
	ck_assert_uint_eq(p.pair_min, 0);
	ck_assert_uint_eq(p.pair_max, 1);
	free(mark);
	free(rep);
	gcdl_layout_free(l);
}
END_TEST

static bool
same_layout(int kind, uint32_t n, uint32_t m, uint32_t d, uint64_t s1, uint64_t s2)
{
	struct gcdl_layout *a = gcdl_layout_create(kind, n, m, d, s1, NULL, 0);
	struct gcdl_layout *b = gcdl_layout_create(kind, n, m, d, s2, NULL, 0);
	bool same = true;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	for (uint32_t k = 0; k < n; k++)
		for (uint32_t i = 0; i < m; i++)
			same &= gcdl_layout_holds(a, k, i) == gcdl_layout_holds(b, k, i);
	gcdl_layout_free(a);
	gcdl_layout_free(b);
	return same;
}

START_TEST(seeded_determinism)
{
	static const uint32_t cases[][3] = { { 10, 10, 3 }, { 16, 32, 2 }, { 12, 6, 4 },
					     { 31, 31, 6 } };

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint32_t n = cases[c][0], m = cases[c][1], d = cases[c][2];

		ck_assert(same_layout(GCDL_LAYOUT_PAIRWISE, n, m, d, 5, 5));
		ck_assert(same_layout(GCDL_LAYOUT_RANDOM, n, m, d, 5, 5));
		ck_assert(same_layout(GCDL_LAYOUT_RANDOM, n, m, d, UINT64_MAX, UINT64_MAX));
		ck_assert(!same_layout(GCDL_LAYOUT_RANDOM, n, m, d, 5, 6));
		ck_assert(!same_layout(GCDL_LAYOUT_RANDOM, n, m, d, 0, UINT64_C(1) << 32));
		ck_assert(same_layout(GCDL_LAYOUT_CYCLIC, n, m, d, 5, 6)); /* no randomness */
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("layout");
	TCase *neg = tcase_create("negative");
	TCase *pos = tcase_create("positive");
	SRunner *sr;
	int failed;

	tcase_set_timeout(pos, 120);
	tcase_add_test(neg, rejects_sizes);
	tcase_add_test(neg, rejects_non_integer_s);
	tcase_add_test(neg, rejects_kind_constraints);
	tcase_add_test(neg, rejects_unknown_kind);
	tcase_add_test(neg, error_buffer);
	tcase_add_test(neg, accessors_reject_bad_arguments);
	tcase_add_test(pos, names_round_trip);
	tcase_add_test(pos, grid_invariants);
	tcase_add_test(pos, cyclic_accepts_every_integer_s);
	tcase_add_test(pos, known_layouts);
	tcase_add_test(pos, degenerate_shapes);
	tcase_add_test(pos, pairwise_balances_pairs_over_grid);
	tcase_add_test(pos, pairwise_finds_designs);
	tcase_add_test(pos, pairwise_beyond_grid);
	tcase_add_test(pos, pairwise_never_worse_than_cyclic_or_random);
	tcase_add_test(pos, pairwise_large_is_packing);
	tcase_add_test(pos, seeded_determinism);
	suite_add_tcase(s, neg);
	suite_add_tcase(s, pos);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
