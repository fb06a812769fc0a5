/* SPDX-License-Identifier: BSD-3-Clause */
/* Run-time choice of the kernel path (gcdl/kernels.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static const char *const names[GCDL_KERNELS_NPATHS] = { "scalar", "avx2", "avx512" };

static const struct gcdl_kernels *const tables[GCDL_KERNELS_NPATHS] = {
	&gcdl_kernels_scalar,
#if defined(__x86_64__)
	&gcdl_kernels_avx2,
	&gcdl_kernels_avx512,
#endif
};

/* the active path + 1; 0 until the first call chooses */
static int active;

int
gcdl_kernels_available(enum gcdl_kernels_path path)
{
	switch (path) {
	case GCDL_KERNELS_SCALAR:
		return 1;
#if defined(__x86_64__)
	case GCDL_KERNELS_AVX2:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2") != 0;
	case GCDL_KERNELS_AVX512:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx512f") != 0 &&
		       __builtin_cpu_supports("avx512bw") != 0;
#endif
	default:
		return 0;
	}
}

int
gcdl_kernels_parse(const char *name)
{
	if (name == NULL)
		return -EINVAL;
	for (int i = 0; i < GCDL_KERNELS_NPATHS; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -EINVAL;
}

int
gcdl_kernels_select(enum gcdl_kernels_path path)
{
	if ((int)path < 0 || path >= GCDL_KERNELS_NPATHS)
		return -EINVAL;
	if (!gcdl_kernels_available(path))
		return -ENOTSUP;
	__atomic_store_n(&active, (int)path + 1, __ATOMIC_RELEASE);
	return 0;
}

/* GCDL_KERNELS if set and available, else the best path the CPU has. */
static int
choose(void)
{
	const char *env = getenv("GCDL_KERNELS");
	int p = gcdl_kernels_parse(env);

	if (p >= 0 && gcdl_kernels_available((enum gcdl_kernels_path)p))
		return p;
	if (env != NULL && env[0] != '\0')
		fprintf(stderr, "gcdl: GCDL_KERNELS=%s: %s; using the best path the CPU has\n",
			env, p < 0 ? "unknown path (scalar, avx2, avx512)" : "not supported here");
	for (p = GCDL_KERNELS_NPATHS - 1; p > 0; p--)
		if (gcdl_kernels_available((enum gcdl_kernels_path)p))
			break;
	return p;
}

enum gcdl_kernels_path
gcdl_kernels_active(void)
{
	int a = __atomic_load_n(&active, __ATOMIC_ACQUIRE);

	if (a == 0) {
		/* every thread that races here computes the same choice */
		a = choose() + 1;
		__atomic_store_n(&active, a, __ATOMIC_RELEASE);
	}
	return (enum gcdl_kernels_path)(a - 1);
}

const char *
gcdl_kernels_name(enum gcdl_kernels_path path)
{
	if ((int)path < 0 || path >= GCDL_KERNELS_NPATHS)
		return "?";
	return names[path];
}

const struct gcdl_kernels *
gcdl_kernels_get(void)
{
	return tables[gcdl_kernels_active()];
}
