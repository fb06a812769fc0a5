/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/profile.h"
#include "gcdl/rng.h"
#include "gcdl/straggler.h"

int
gcdl_straggler_kind_parse(const char *name, enum gcdl_straggler_kind *kind)
{
	static const char *const names[GCDL_STRAGGLER__COUNT] = { "none", "bernoulli", "timing" };

	if (name == NULL || kind == NULL)
		return -EINVAL;
	for (int i = 0; i < GCDL_STRAGGLER__COUNT; i++) {
		if (strcmp(name, names[i]) == 0) {
			*kind = (enum gcdl_straggler_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

double
gcdl_straggler_compute_us(const struct gcdl_straggler_model *m, uint64_t seed, uint32_t round,
			  uint32_t worker)
{
	struct gcdl_rng r;
	double u, f = 1.0;

	if (m == NULL || m->kind != GCDL_STRAGGLER_TIMING)
		return 0.0;
	gcdl_rng_init(&r, seed, GCDL_RNG_STRAGGLER, round, worker);
	u = gcdl_rng_uniform(&r);
	if (m->slowdown != NULL && worker < m->workers)
		f = m->slowdown[worker];
	return f * (m->shift_us - m->mean_us * log1p(-u));
}

bool
gcdl_straggler_is(const struct gcdl_straggler_model *m, uint64_t seed, uint32_t round,
		  uint32_t worker, double deadline_us)
{
	struct gcdl_rng r;

	if (m == NULL)
		return false;
	switch (m->kind) {
	case GCDL_STRAGGLER_BERNOULLI:
		gcdl_rng_init(&r, seed, GCDL_RNG_STRAGGLER, round, worker);
		return gcdl_rng_uniform(&r) < m->p;
	case GCDL_STRAGGLER_TIMING:
		return gcdl_straggler_compute_us(m, seed, round, worker) > deadline_us;
	default:
		return false;
	}
}

int
gcdl_straggler_parse_slowdown(const char *text, uint32_t workers, double *out)
{
	const char *s = text;

	if (text == NULL || out == NULL)
		return -EINVAL;
	for (uint32_t k = 0; k < workers; k++)
		out[k] = 1.0;
	while (*s == ' ')
		s++;
	while (*s != '\0') {
		char *end;
		unsigned long k;
		double f;

		errno = 0;
		k = strtoul(s, &end, 10);
		if (end == s || errno != 0 || *end != ':' || k >= workers)
			return -EINVAL;
		s = end + 1;
		f = strtod(s, &end);
		if (end == s || errno != 0 || !isfinite(f) || f < 1.0)
			return -EINVAL;
		out[k] = f;
		s = end;
		while (*s == ' ')
			s++;
		if (*s == ',') {
			s++;
			while (*s == ' ')
				s++;
			if (*s == '\0')
				return -EINVAL;
		} else if (*s != '\0') {
			return -EINVAL;
		}
	}
	return 0;
}

int
gcdl_straggler_from_profile(struct gcdl_straggler_model *m, const struct gcdl_profile *p,
			    double *slowdown)
{
	if (m == NULL || p == NULL || slowdown == NULL)
		return -EINVAL;
	m->kind = p->straggler_model;
	m->p = p->straggler_p;
	m->shift_us = p->shift_us;
	m->mean_us = p->mean_us;
	m->workers = p->workers;
	m->slowdown = slowdown;
	return gcdl_straggler_parse_slowdown(p->slowdown, p->workers, slowdown);
}
