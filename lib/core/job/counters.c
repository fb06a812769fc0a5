/* SPDX-License-Identifier: BSD-3-Clause */
/* Names, descriptions and flags of the counters, all from the lists in
 * gcdl/counters.h. */
#include <string.h>

#include "gcdl/counters.h"

struct ctr_info {
	const char *name;
	const char *desc;
	unsigned flags;
};

static const struct ctr_info ctr_info[GCDL_CTR__COUNT] = {
#define CTR_INFO(e, n, f, d) [GCDL_CTR_##e] = { #n, d, f },
	GCDL_COUNTERS(CTR_INFO)
#undef CTR_INFO
#define CTR_DROP_INFO(e, n, d) [GCDL_CTR_DROP_##e] = { "drop_" #n, d, 0 },
	GCDL_FRAME_DROPS(CTR_DROP_INFO)
#undef CTR_DROP_INFO
#define CTR_MESH_DROP_INFO(e, n, d) [GCDL_CTR_MESH_DROP_##e] = { "mesh_drop_" #n, d, 0 },
	GCDL_MESH_DROPS(CTR_MESH_DROP_INFO)
#undef CTR_MESH_DROP_INFO
};

struct fig_info {
	const char *name;
	const char *unit;
	const char *desc;
};

static const struct fig_info fig_info[GCDL_FIG__COUNT] = {
#define FIG_INFO(e, n, u, d) [GCDL_FIG_##e] = { #n, u, d },
	GCDL_FIGURES(FIG_INFO)
#undef FIG_INFO
};

const char *
gcdl_counter_name(int c)
{
	return c >= 0 && c < GCDL_CTR__COUNT ? ctr_info[c].name : "unknown";
}

const char *
gcdl_counter_desc(int c)
{
	return c >= 0 && c < GCDL_CTR__COUNT ? ctr_info[c].desc : "";
}

unsigned
gcdl_counter_flags(int c)
{
	return c >= 0 && c < GCDL_CTR__COUNT ? ctr_info[c].flags : 0;
}

const char *
gcdl_figure_name(int f)
{
	return f >= 0 && f < GCDL_FIG__COUNT ? fig_info[f].name : "unknown";
}

const char *
gcdl_figure_desc(int f, const char **unit)
{
	if (f < 0 || f >= GCDL_FIG__COUNT) {
		if (unit != NULL)
			*unit = "";
		return "";
	}
	if (unit != NULL)
		*unit = fig_info[f].unit;
	return fig_info[f].desc;
}

void
gcdl_counters_snapshot(struct gcdl_counters *dst, const struct gcdl_counters *src)
{
	for (int c = 0; c < GCDL_CTR__COUNT; c++)
		dst->v[c] = gcdl_counter_get(src, (enum gcdl_counter)c);
	for (int f = 0; f < GCDL_FIG__COUNT; f++)
		dst->fig[f] = gcdl_figure_get(src, (enum gcdl_figure)f);
}

void
gcdl_counters_accumulate(struct gcdl_counters *dst, const struct gcdl_counters *src)
{
	for (int c = 0; c < GCDL_CTR__COUNT; c++)
		dst->v[c] += src->v[c];
	for (int f = 0; f < GCDL_FIG__COUNT; f++)
		if (src->fig[f] > dst->fig[f])
			dst->fig[f] = src->fig[f];
}

void
gcdl_counters_sum_drops(struct gcdl_counters *s)
{
	s->v[GCDL_CTR_DROPS] = 0;
	for (int r = 1; r < GCDL_DROP__COUNT; r++)
		s->v[GCDL_CTR_DROPS] += s->v[GCDL_CTR_DROP(r)];
	s->v[GCDL_CTR_MESH_DROPS] = 0;
	for (int r = 1; r < GCDL_MESH_DROP__COUNT; r++)
		s->v[GCDL_CTR_MESH_DROPS] += s->v[GCDL_CTR_MESH_DROP(r)];
}
