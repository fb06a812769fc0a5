/* SPDX-License-Identifier: BSD-3-Clause */
/* Philox4x32-10 (Salmon et al., SC'11) and a sequential generator on top. */
#include <errno.h>
#include <math.h>

#include "gcdl/rng.h"
#include "kernels.h"

/* blocks per kernel call: stays in 32 bits and in the counter range */
#define MAX_BLOCKS (UINT64_C(1) << 24)
#define MIN_U64(a, b) ((uint64_t)(a) < (uint64_t)(b) ? (uint64_t)(a) : (uint64_t)(b))

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void
philox_round(uint32_t c[4], const uint32_t k[2])
{
	uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
	uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
	uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
	uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;

	c[0] = hi1 ^ c[1] ^ k[0];
	c[1] = lo1;
	c[2] = hi0 ^ c[3] ^ k[1];
	c[3] = lo0;
}

void
gcdl_rng_philox(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
	uint32_t c[4], k[2];

	if (ctr == NULL || key == NULL || out == NULL)
		return;
	c[0] = ctr[0];
	c[1] = ctr[1];
	c[2] = ctr[2];
	c[3] = ctr[3];
	k[0] = key[0];
	k[1] = key[1];

	for (int i = 0; i < 10; i++) {
		if (i > 0) {
			k[0] += PHILOX_W0;
			k[1] += PHILOX_W1;
		}
		philox_round(c, k);
	}
	out[0] = c[0];
	out[1] = c[1];
	out[2] = c[2];
	out[3] = c[3];
}

#define LANES 8

/*
 * Blocks blk .. blk + LANES - 1 of one stream, laid out lane-wise so that the
 * compiler runs LANES Philox4x32-10 blocks in SIMD registers (pmuludq on
 * SSE2): 570 against 220 Mwords/s for one block at a time. This is the
 * scalar reference of the kernel table; test_kernels checks every path
 * against it and test_rng checks it against gcdl_rng_philox().
 */
static void
philox_lanes(uint32_t blk, uint32_t chunk, uint32_t worker, uint32_t round, uint64_t seed,
	     uint32_t *out)
{
	uint32_t c0[LANES], c1[LANES], c2[LANES], c3[LANES];
	uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);

	for (uint32_t i = 0; i < LANES; i++) {
		c0[i] = blk + i;
		c1[i] = chunk;
		c2[i] = worker;
		c3[i] = round;
	}
	for (int r = 0; r < 10; r++) {
		for (uint32_t i = 0; i < LANES; i++) {
			uint64_t p0 = (uint64_t)PHILOX_M0 * c0[i];
			uint64_t p1 = (uint64_t)PHILOX_M1 * c2[i];
			uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[i] ^ k0;
			uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[i] ^ k1;

			c1[i] = (uint32_t)p1;
			c3[i] = (uint32_t)p0;
			c0[i] = n0;
			c2[i] = n2;
		}
		k0 += PHILOX_W0;
		k1 += PHILOX_W1;
	}
	for (uint32_t i = 0; i < LANES; i++) {
		out[4 * i] = c0[i];
		out[4 * i + 1] = c1[i];
		out[4 * i + 2] = c2[i];
		out[4 * i + 3] = c3[i];
	}
}

void
gcdl_kernels_philox_scalar(uint64_t seed, uint32_t round, uint32_t worker, uint32_t chunk,
			   uint32_t blk, uint32_t nblk, uint32_t *out)
{
	for (uint32_t b = 0; b < nblk; b += LANES)
		philox_lanes(blk + b, chunk, worker, round, seed, out + 4 * (size_t)b);
}

int
gcdl_rng_stream(uint64_t seed, uint32_t round, uint32_t worker, uint32_t chunk, uint64_t first,
		uint32_t *out, size_t n)
{
	const uint32_t key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) };
	uint32_t ctr[4] = { 0, chunk, worker, round };
	const struct gcdl_kernels *k = gcdl_kernels_get();
	uint32_t blk[4];
	size_t i = 0;

	if (n == 0)
		return 0;
	if (out == NULL)
		return -EINVAL;
	/* the block counter is 32 bits: 2^34 words per stream */
	if (first >= (UINT64_C(1) << 34) || n > (UINT64_C(1) << 34) - first)
		return -ERANGE;

	/* whole aligned groups of LANES blocks go through the kernel path */
	while (i < n) {
		uint64_t w = first + i;
		uint32_t off = (uint32_t)(w & 3);

		if (off == 0 && n - i >= 4 * LANES) {
			uint32_t nblk = (uint32_t)MIN_U64((n - i) / 4, MAX_BLOCKS) & ~(LANES - 1);

			k->philox(seed, round, worker, chunk, (uint32_t)(w >> 2), nblk, out + i);
			i += 4 * (size_t)nblk;
			continue;
		}
		ctr[0] = (uint32_t)(w >> 2);
		gcdl_rng_philox(ctr, key, blk);
		for (; off < 4 && i < n; off++, i++)
			out[i] = blk[off];
	}
	return 0;
}

void
gcdl_rng_init(struct gcdl_rng *r, uint64_t seed, uint32_t domain, uint32_t a, uint32_t b)
{
	/* domains differ in the key, so no sequential stream can meet a frame
	 * stream (whose key is the bare seed) or another domain */
	uint64_t k = seed ^ ((uint64_t)(domain + 1) * UINT64_C(0x9E3779B97F4A7C15));

	if (r == NULL)
		return;

	r->key[0] = (uint32_t)k;
	r->key[1] = (uint32_t)(k >> 32) ^ 0x5bd1e995u;
	r->ctr[0] = 0;
	r->ctr[1] = 0;
	r->ctr[2] = a;
	r->ctr[3] = b;
	r->left = 0;
}

uint32_t
gcdl_rng_u32(struct gcdl_rng *r)
{
	if (r == NULL)
		return 0;
	if (r->left == 0) {
		gcdl_rng_philox(r->ctr, r->key, r->buf);
		if (++r->ctr[0] == 0)
			r->ctr[1]++;
		r->left = 4;
	}
	return r->buf[4 - r->left--];
}

uint64_t
gcdl_rng_u64(struct gcdl_rng *r)
{
	uint64_t hi = gcdl_rng_u32(r);

	return (hi << 32) | gcdl_rng_u32(r);
}

double
gcdl_rng_uniform(struct gcdl_rng *r)
{
	return (double)(gcdl_rng_u64(r) >> 11) * 0x1.0p-53;
}

uint32_t
gcdl_rng_below(struct gcdl_rng *r, uint32_t n)
{
	uint64_t m;
	uint32_t l;

	if (n == 0)
		return 0;
	/* Lemire's multiply-and-reject */
	m = (uint64_t)gcdl_rng_u32(r) * n;
	l = (uint32_t)m;
	if (l < n) {
		uint32_t t = (uint32_t)(-n) % n;

		while (l < t) {
			m = (uint64_t)gcdl_rng_u32(r) * n;
			l = (uint32_t)m;
		}
	}
	return (uint32_t)(m >> 32);
}

double
gcdl_rng_normal(struct gcdl_rng *r)
{
	double u1, u2;

	do {
		u1 = gcdl_rng_uniform(r);
	} while (u1 <= 0.0);
	u2 = gcdl_rng_uniform(r);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void
gcdl_rng_shuffle(struct gcdl_rng *r, uint32_t *a, size_t n)
{
	if (r == NULL || a == NULL)
		return;
	for (size_t i = n; i > 1; i--) {
		uint32_t j = gcdl_rng_below(r, (uint32_t)i);
		uint32_t t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}
