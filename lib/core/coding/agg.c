/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Aggregation of one round: float accumulators per chunk, contributor sets as
 * per-chunk bitmaps of N bits, decoders.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/agg.h"
#include "gcdl/quant.h"

struct gcdl_agg {
	uint32_t workers, dim, chunk_coords, chunks;
	uint32_t words;	 /* 64-bit words per contributor bitmap */
	float *acc;	 /* dim accumulators */
	uint64_t *seen;	 /* per chunk a bitmap of `words` words: R_c */
	uint32_t *count; /* |R_c| per chunk */
};

static const char *const decoder_names[GCDL_DECODER__COUNT] = { "normalised", "unbiased" };

int
gcdl_decoder_parse(const char *name, enum gcdl_decoder *dec)
{
	if (name == NULL || dec == NULL)
		return -EINVAL;
	if (strcmp(name, "normalised") == 0 || strcmp(name, "normalized") == 0) {
		*dec = GCDL_DECODER_NORMALISED;
		return 0;
	}
	if (strcmp(name, "unbiased") == 0) {
		*dec = GCDL_DECODER_UNBIASED;
		return 0;
	}
	return -EINVAL;
}

const char *
gcdl_decoder_name(enum gcdl_decoder dec)
{
	if ((unsigned)dec >= GCDL_DECODER__COUNT)
		return "unknown";
	return decoder_names[dec];
}

struct gcdl_agg *
gcdl_agg_create(uint32_t workers, uint32_t dim, uint32_t chunk_coords)
{
	struct gcdl_agg *a;

	if (workers == 0 || workers > GCDL_AGG_MAX_WORKERS || dim == 0 || chunk_coords == 0) {
		errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	a->workers = workers;
	a->dim = dim;
	a->chunk_coords = chunk_coords;
	a->chunks = dim / chunk_coords + (dim % chunk_coords != 0);
	a->words = (workers + 63) / 64;
	a->acc = calloc(dim, sizeof(float));
	a->seen = calloc((size_t)a->chunks * a->words, sizeof(uint64_t));
	a->count = calloc(a->chunks, sizeof(uint32_t));
	if (a->acc == NULL || a->seen == NULL || a->count == NULL) {
		gcdl_agg_free(a);
		errno = ENOMEM;
		return NULL;
	}
	return a;
}

void
gcdl_agg_free(struct gcdl_agg *a)
{
	if (a == NULL)
		return;
	free(a->acc);
	free(a->seen);
	free(a->count);
	free(a);
}

int
gcdl_agg_reset(struct gcdl_agg *a)
{
	if (a == NULL)
		return -EINVAL;
	memset(a->acc, 0, sizeof(float) * a->dim);
	memset(a->seen, 0, sizeof(uint64_t) * a->chunks * a->words);
	memset(a->count, 0, sizeof(uint32_t) * a->chunks);
	return 0;
}

int
gcdl_agg_reset_chunk(struct gcdl_agg *a, uint32_t chunk)
{
	if (a == NULL)
		return -EINVAL;
	if (chunk >= a->chunks)
		return -ERANGE;
	memset(a->acc + (size_t)chunk * a->chunk_coords, 0,
	       sizeof(float) * gcdl_agg_chunk_len(a, chunk));
	memset(a->seen + (size_t)chunk * a->words, 0, sizeof(uint64_t) * a->words);
	a->count[chunk] = 0;
	return 0;
}

uint32_t
gcdl_agg_chunks(const struct gcdl_agg *a)
{
	return a ? a->chunks : 0;
}

uint32_t
gcdl_agg_chunk_len(const struct gcdl_agg *a, uint32_t chunk)
{
	uint32_t first;

	if (a == NULL || chunk >= a->chunks)
		return 0;
	first = chunk * a->chunk_coords;
	return a->dim - first < a->chunk_coords ? a->dim - first : a->chunk_coords;
}

/* Common checks; on success returns 0 and the chunk's accumulators. */
static int
admit(struct gcdl_agg *a, uint32_t worker, uint32_t chunk, uint32_t count, float **acc)
{
	uint64_t *w, bit;

	if (worker >= a->workers || chunk >= a->chunks)
		return -ERANGE;
	if (count != gcdl_agg_chunk_len(a, chunk))
		return -EMSGSIZE;
	w = &a->seen[(size_t)chunk * a->words + worker / 64];
	bit = UINT64_C(1) << (worker % 64);
	if (*w & bit)
		return -EALREADY;
	*w |= bit;
	a->count[chunk]++;
	*acc = a->acc + (size_t)chunk * a->chunk_coords;
	return 0;
}

int
gcdl_agg_add_onebit(struct gcdl_agg *a, uint32_t worker, uint32_t chunk, const float *scales,
		    uint32_t scale_block, const uint8_t *bits, uint32_t count)
{
	float *acc;
	int rc;

	if (a == NULL || scales == NULL || bits == NULL)
		return -EINVAL;
	rc = admit(a, worker, chunk, count, &acc);
	if (rc != 0)
		return rc;
	return gcdl_quant_accumulate(acc, bits, scales, count, scale_block);
}

/* acc += v, in groups of 8 so that gcc -O2 vectorises it. */
static void
add_floats(float *restrict acc, const float *restrict v, uint32_t n)
{
	for (; n >= 8; n -= 8, acc += 8, v += 8)
		for (uint32_t k = 0; k < 8; k++)
			acc[k] += v[k];
	for (uint32_t k = 0; k < n; k++)
		acc[k] += v[k];
}

int
gcdl_agg_add_float(struct gcdl_agg *a, uint32_t worker, uint32_t chunk, const float *v,
		   uint32_t count)
{
	float *acc;
	int rc;

	if (a == NULL || v == NULL)
		return -EINVAL;
	rc = admit(a, worker, chunk, count, &acc);
	if (rc != 0)
		return rc;
	add_floats(acc, v, count);
	return 0;
}

int
gcdl_agg_add_sign(struct gcdl_agg *a, uint32_t worker, uint32_t chunk, const uint8_t *bits,
		  uint32_t count)
{
	float *acc;
	int rc;

	if (a == NULL || bits == NULL)
		return -EINVAL;
	rc = admit(a, worker, chunk, count, &acc);
	if (rc != 0)
		return rc;
	return gcdl_quant_accumulate(acc, bits, NULL, count, 0);
}

bool
gcdl_agg_has(const struct gcdl_agg *a, uint32_t worker, uint32_t chunk)
{
	if (a == NULL || worker >= a->workers || chunk >= a->chunks)
		return false;
	return (a->seen[(size_t)chunk * a->words + worker / 64] >> (worker % 64)) & 1;
}

uint32_t
gcdl_agg_contributors(const struct gcdl_agg *a, uint32_t chunk)
{
	if (a == NULL || chunk >= a->chunks)
		return 0;
	return a->count[chunk];
}

uint64_t
gcdl_agg_total_contributions(const struct gcdl_agg *a)
{
	uint64_t t = 0;

	if (a == NULL)
		return 0;
	for (uint32_t c = 0; c < a->chunks; c++)
		t += a->count[c];
	return t;
}

/* g = f * acc, the product in double and rounded once to float. */
static void
scale_floats(float *restrict g, const float *restrict acc, uint32_t n, double f)
{
	for (; n >= 8; n -= 8, g += 8, acc += 8)
		for (uint32_t k = 0; k < 8; k++)
			g[k] = (float)(f * (double)acc[k]);
	for (uint32_t k = 0; k < n; k++)
		g[k] = (float)(f * (double)acc[k]);
}

int
gcdl_agg_decode_range(const struct gcdl_agg *a, enum gcdl_decoder dec, double p, float *g,
		      uint32_t lo, uint32_t hi, uint32_t *empty)
{
	uint32_t nempty = 0;

	if (a == NULL || g == NULL || (unsigned)dec >= GCDL_DECODER__COUNT)
		return -EINVAL;
	if (!(p >= 0.0 && p < 1.0))
		return -EINVAL;
	if (lo > hi || hi > a->chunks)
		return -ERANGE;
	for (uint32_t c = lo; c < hi; c++) {
		uint32_t first = c * a->chunk_coords, len = gcdl_agg_chunk_len(a, c);
		double f;

		if (a->count[c] == 0) {
			nempty++;
			memset(g + first, 0, sizeof(float) * len);
			continue;
		}
		if (dec == GCDL_DECODER_UNBIASED)
			f = 1.0 / (1.0 - p);
		else
			f = (double)a->workers / (double)a->count[c];
		scale_floats(g + first, a->acc + first, len, f);
	}
	if (empty != NULL)
		*empty = nempty;
	return 0;
}

int
gcdl_agg_decode(const struct gcdl_agg *a, enum gcdl_decoder dec, double p, float *g,
		uint32_t *empty)
{
	if (a == NULL)
		return -EINVAL;
	return gcdl_agg_decode_range(a, dec, p, g, 0, a->chunks, empty);
}

int
gcdl_agg_decode_majority_range(const struct gcdl_agg *a, float *g, uint32_t lo, uint32_t hi)
{
	uint32_t end;

	if (a == NULL || g == NULL)
		return -EINVAL;
	if (lo > hi || hi > a->chunks)
		return -ERANGE;
	end = hi == a->chunks ? a->dim : hi * a->chunk_coords;
	for (uint32_t j = lo * a->chunk_coords; j < end; j++)
		g[j] = a->acc[j] > 0.0f ? 1.0f : a->acc[j] < 0.0f ? -1.0f : 0.0f;
	return 0;
}

int
gcdl_agg_decode_majority(const struct gcdl_agg *a, float *g)
{
	if (a == NULL)
		return -EINVAL;
	return gcdl_agg_decode_majority_range(a, g, 0, a->chunks);
}
