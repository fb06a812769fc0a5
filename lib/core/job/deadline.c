/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/deadline.h"

int
gcdl_deadline_init(struct gcdl_deadline *dl, const struct gcdl_profile *p)
{
	if (dl == NULL || p == NULL)
		return -EINVAL;
	memset(dl, 0, sizeof(*dl));
	dl->mode = p->deadline_mode;
	dl->fixed_us = p->deadline_us;
	dl->quantile = p->deadline_quantile;
	dl->min_us = p->deadline_min_us;
	dl->max_us = p->deadline_max_us;
	return 0;
}

void
gcdl_deadline_observe(struct gcdl_deadline *dl, double us)
{
	if (dl == NULL || !isfinite(us) || us < 0)
		return;
	dl->window[dl->next] = us;
	dl->next = (dl->next + 1) % GCDL_DEADLINE_WINDOW;
	if (dl->count < GCDL_DEADLINE_WINDOW)
		dl->count++;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
gcdl_deadline_current(const struct gcdl_deadline *dl)
{
	double sorted[GCDL_DEADLINE_WINDOW], q;
	uint32_t idx;

	if (dl == NULL)
		return 0.0;
	if (dl->mode == GCDL_DEADLINE_FIXED)
		return dl->fixed_us;
	if (dl->count == 0)
		return dl->max_us;
	memcpy(sorted, dl->window, sizeof(double) * dl->count);
	qsort(sorted, dl->count, sizeof(double), cmp_double);
	idx = (uint32_t)ceil(dl->quantile * dl->count);
	if (idx > 0)
		idx--;
	q = sorted[idx];
	if (q < dl->min_us)
		q = dl->min_us;
	if (q > dl->max_us)
		q = dl->max_us;
	return q;
}
