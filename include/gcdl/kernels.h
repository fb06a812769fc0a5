/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Which instruction-set path the 1-bit kernels and the frame RNG run on.
 *
 * gcdl_quant_onebit, gcdl_quant_sign, gcdl_quant_unpack,
 * gcdl_quant_accumulate and gcdl_rng_stream each have a portable scalar
 * reference and, on x86-64, an AVX2 and an AVX-512 (F+BW) path. Every path
 * gives bit-identical results (test_kernels proves it on every path the CPU
 * has). The best path the CPU supports is chosen at the first call; the
 * environment variable GCDL_KERNELS (`scalar`, `avx2`, `avx512`) or
 * gcdl_kernels_select() forces one, so that tests and benchmarks can compare.
 */
#ifndef GCDL_KERNELS_H
#define GCDL_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/** The kernel paths, from the reference up. */
enum gcdl_kernels_path {
	GCDL_KERNELS_SCALAR = 0,
	GCDL_KERNELS_AVX2,
	GCDL_KERNELS_AVX512,
	GCDL_KERNELS_NPATHS,
};

/**
 * Whether this build and CPU can run a path.
 *
 * @param path  the path.
 * @return 1 if it can, 0 if not (or @p path is out of range).
 */
int gcdl_kernels_available(enum gcdl_kernels_path path);

/**
 * Force a path for every later kernel call in the process (not thread-safe
 * against concurrent kernel calls: select before starting threads).
 *
 * @param path  the path.
 * @return 0 on success, -EINVAL if @p path is out of range, -ENOTSUP if the
 *         CPU or the build lacks it (the current path is kept).
 */
int gcdl_kernels_select(enum gcdl_kernels_path path);

/**
 * The path by name.
 *
 * @param name  `scalar`, `avx2` or `avx512`.
 * @return the path, or -EINVAL for an unknown or NULL name.
 */
int gcdl_kernels_parse(const char *name);

/** @return the path in use (choosing it first if no call has yet). */
enum gcdl_kernels_path gcdl_kernels_active(void);

/** @return the name of a path (`scalar`, `avx2`, `avx512`), "?" if out of range. @param path the path. */
const char *gcdl_kernels_name(enum gcdl_kernels_path path);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_KERNELS_H */
