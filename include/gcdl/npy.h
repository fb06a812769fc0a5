/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * NumPy .npy files for model vectors: format version 1.0, dtype '<f4'
 * (little-endian float32), C order, 1-D shape (n,). The header (magic,
 * version, length and the dict text padded with spaces and ended by '\n')
 * is a multiple of 64 bytes, as numpy writes it, so `numpy.load()` reads
 * what gcdl --save-model writes.
 */
#ifndef GCDL_NPY_H
#define GCDL_NPY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Magic string that opens every .npy file ("\x93NUMPY"). */
#define GCDL_NPY_MAGIC "\x93NUMPY"
#define GCDL_NPY_MAGIC_LEN 6
/** Header alignment of format 1.0 files. */
#define GCDL_NPY_ALIGN 64

/**
 * Build the header of a 1-D '<f4' array of n values.
 *
 * @param n    the number of values.
 * @param buf  receives the header bytes (not NUL-terminated).
 * @param cap  capacity of @p buf.
 * @return the header length (a multiple of GCDL_NPY_ALIGN), -EINVAL for
 *         NULL @p buf, -ENOSPC when @p cap is too small (128 always suffices).
 */
int gcdl_npy_header_f32(uint32_t n, uint8_t *buf, size_t cap);

/**
 * Write a float vector as a .npy file, atomically: the data go to a
 * temporary file in the same directory, which is fsync'ed and renamed over
 * @p path (then the directory is fsync'ed).
 *
 * @param path    the file.
 * @param v       the values (may be NULL when @p n is 0).
 * @param n       how many.
 * @param err     receives "PATH: reason" on failure, or NULL.
 * @param errlen  size of @p err.
 * @return 0, -EINVAL for a NULL @p path or NULL @p v with n > 0, or the
 *         negative errno of the failed create, write, sync or rename (the
 *         temporary file is removed and @p path is left as it was).
 */
int gcdl_npy_write_f32(const char *path, const float *v, uint32_t n, char *err, size_t errlen);

/**
 * Read a .npy file written as by gcdl_npy_write_f32(): version 1.0 or 2.0,
 * dtype '<f4', fortran_order False, a 1-D shape.
 *
 * @param path    the file.
 * @param v       receives a malloc'ed array the caller frees (NULL when the
 *                shape is (0,)).
 * @param n       receives the number of values.
 * @param err     receives "PATH: reason" on failure, or NULL.
 * @param errlen  size of @p err.
 * @return 0; -EINVAL for NULL arguments; -EPROTO for a file that is not a
 *         .npy file of this kind (bad magic, version, header, dtype, order,
 *         shape, or a data size that does not match the shape); -ENOMEM; or
 *         the negative errno of the failed open or read.
 */
int gcdl_npy_read_f32(const char *path, float **v, uint32_t *n, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_NPY_H */
