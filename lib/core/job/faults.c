/* SPDX-License-Identifier: BSD-3-Clause */
/* Fault injection at transmit: seeded decisions, no DPDK types. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/faults.h"
#include "gcdl/frame.h"
#include "gcdl/profile.h"
#include "gcdl/rng.h"

int
gcdl_faults_parse_slow(const char *text, uint32_t workers, double *factor, double *extra_us)
{
	unsigned char *seen_f = NULL, *seen_d = NULL;
	const char *s = text;
	int rc = -EINVAL;

	if (text == NULL || workers == 0)
		return -EINVAL;
	for (uint32_t k = 0; k < workers; k++) {
		if (factor != NULL)
			factor[k] = 1.0;
		if (extra_us != NULL)
			extra_us[k] = 0.0;
	}
	seen_f = calloc(workers, 1);
	seen_d = calloc(workers, 1);
	if (seen_f == NULL || seen_d == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	while (isspace((unsigned char)*s))
		s++;
	while (*s != '\0') {
		unsigned long k;
		double v;
		char *end;
		int extra = 0;

		if (!isdigit((unsigned char)*s))
			goto out;
		errno = 0;
		k = strtoul(s, &end, 10);
		if (errno != 0 || *end != ':' || k >= workers)
			goto out;
		s = end + 1;
		if (*s == '+') {
			extra = 1;
			s++;
		}
		if (!isdigit((unsigned char)*s) && *s != '.')
			goto out;
		errno = 0;
		v = strtod(s, &end);
		if (errno != 0 || end == s || !isfinite(v))
			goto out;
		s = end;
		if (extra) {
			if (strncmp(s, "us", 2) != 0 || v < 0 || v > 1e9 || seen_d[k])
				goto out;
			s += 2;
			seen_d[k] = 1;
			if (extra_us != NULL)
				extra_us[k] = v;
		} else {
			if (*s == 'x')
				s++;
			if (v < 1 || v > 1e6 || seen_f[k])
				goto out;
			seen_f[k] = 1;
			if (factor != NULL)
				factor[k] = v;
		}
		while (isspace((unsigned char)*s))
			s++;
		if (*s == ',') {
			s++;
			while (isspace((unsigned char)*s))
				s++;
			if (*s == '\0')
				goto out;
		} else if (*s != '\0') {
			goto out;
		}
	}
	rc = 0;
out:
	free(seen_f);
	free(seen_d);
	return rc;
}

int
gcdl_faults_init(struct gcdl_faults *f, const struct gcdl_profile *p)
{
	int rc;

	if (f == NULL || p == NULL || p->workers == 0)
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	f->drop_p = p->fault_drop_p;
	f->dup_p = p->fault_dup_p;
	f->corrupt_p = p->fault_corrupt_p;
	f->reorder_window = p->fault_reorder_window;
	f->seed = p->fault_seed != 0 ? p->fault_seed : p->seed;
	f->workers = p->workers;
	f->slow_factor = malloc(sizeof(double) * p->workers);
	f->slow_extra_us = malloc(sizeof(double) * p->workers);
	if (f->slow_factor == NULL || f->slow_extra_us == NULL) {
		gcdl_faults_fini(f);
		return -ENOMEM;
	}
	rc = gcdl_faults_parse_slow(p->fault_slow_workers, p->workers, f->slow_factor,
				    f->slow_extra_us);
	if (rc != 0) {
		gcdl_faults_fini(f);
		return rc;
	}
	f->active = f->drop_p > 0 || f->dup_p > 0 || f->corrupt_p > 0 || f->reorder_window > 1;
	for (uint32_t k = 0; k < f->workers; k++)
		if (f->slow_factor[k] != 1.0 || f->slow_extra_us[k] != 0.0)
			f->active = 1;
	return 0;
}

void
gcdl_faults_fini(struct gcdl_faults *f)
{
	if (f == NULL)
		return;
	free(f->slow_factor);
	free(f->slow_extra_us);
	f->slow_factor = NULL;
	f->slow_extra_us = NULL;
	f->active = 0;
}

int
gcdl_faults_plan(const struct gcdl_faults *f, uint32_t round, uint32_t worker, uint32_t n,
		 struct gcdl_fault_send *out, struct gcdl_fault_counts *c)
{
	struct gcdl_rng r;
	uint32_t m = 0, w;

	if (f == NULL || (out == NULL && n > 0))
		return -EINVAL;
	/* one stream per (round, worker): the draws do not depend on timing */
	gcdl_rng_init(&r, f->seed, GCDL_RNG_FAULT, round, worker);
	for (uint32_t i = 0; i < n; i++) {
		/* draw every number whatever the outcome, so that changing one
		 * probability does not shift the other decisions */
		double u_drop = gcdl_rng_uniform(&r), u_dup = gcdl_rng_uniform(&r);
		double u_c0 = gcdl_rng_uniform(&r), u_c1 = gcdl_rng_uniform(&r);
		uint32_t b0 = gcdl_rng_u32(&r), b1 = gcdl_rng_u32(&r);

		if (u_drop < f->drop_p) {
			if (c != NULL)
				c->dropped++;
			continue;
		}
		out[m++] = (struct gcdl_fault_send){ .index = i, .copy = 0,
						     .corrupt = u_c0 < f->corrupt_p, .flip = b0 };
		if (u_dup < f->dup_p) {
			out[m++] = (struct gcdl_fault_send){ .index = i, .copy = 1,
							     .corrupt = u_c1 < f->corrupt_p,
							     .flip = b1 };
			if (c != NULL)
				c->duplicated++;
		}
	}
	for (uint32_t i = 0; i < m && c != NULL; i++)
		c->corrupted += out[i].corrupt != 0;
	w = f->reorder_window;
	if (w > 1) {
		for (uint32_t s = 0; s < m; s += w) {
			uint32_t len = m - s < w ? m - s : w;

			/* Fisher-Yates within the window */
			for (uint32_t i = len - 1; i > 0; i--) {
				uint32_t j = gcdl_rng_below(&r, i + 1);
				struct gcdl_fault_send t = out[s + i];

				out[s + i] = out[s + j];
				out[s + j] = t;
			}
		}
		/* without reordering the copies are in (index, copy) order, and
		 * each window holds the same copies as before its shuffle */
		for (uint32_t i = 0; i < m && c != NULL; i++) {
			uint32_t s = i - i % w, e = s + w < m ? s + w : m, before = s;

			for (uint32_t j = s; j < e; j++)
				before += out[j].index < out[i].index ||
					  (out[j].index == out[i].index && out[j].copy < out[i].copy);
			c->reordered += before != i;
		}
	}
	return (int)m;
}

long
gcdl_faults_flip(uint8_t *frame, size_t len, uint32_t flip)
{
	const size_t from = 12; /* the EtherType */
	size_t end, bits, bit;

	if (frame == NULL || len < GCDL_FRAME_OVERHEAD)
		return -EINVAL;
	/* payload_len, big-endian, at offset 30 of the gcdl header */
	end = GCDL_FRAME_OVERHEAD + ((size_t)frame[GCDL_ETH_HDR_LEN + 30] << 8 |
				     frame[GCDL_ETH_HDR_LEN + 31]);
	if (end > len)
		end = len;
	bits = (end - from) * 8;
	bit = from * 8 + (size_t)(((uint64_t)flip * bits) >> 32);
	frame[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	return (long)bit;
}

double
gcdl_faults_hold_us(const struct gcdl_faults *f, uint32_t worker, double elapsed_us)
{
	double h;

	if (f == NULL || worker >= f->workers || f->slow_factor == NULL)
		return 0.0;
	h = (f->slow_factor[worker] - 1.0) * (elapsed_us > 0 ? elapsed_us : 0.0) +
	    f->slow_extra_us[worker];
	return h > 0 ? h : 0.0;
}
