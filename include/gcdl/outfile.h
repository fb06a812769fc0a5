/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Output files of a run (metrics, capture, summary, model, checkpoint)
 * created under a temporary name next to their final path (DIR/.NAME.tmp-PID)
 * and renamed into place, so that a failed start writes no output file and
 * leaves an existing file of that name untouched, and a reader never sees a
 * half-written one. Only regular files (or new paths) are ever replaced: a
 * rename over /dev/null, run as root, would replace the device.
 */
#ifndef GCDL_OUTFILE_H
#define GCDL_OUTFILE_H

#include <limits.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One output file: its final path and the temporary one written first. */
struct gcdl_outfile {
	char path[PATH_MAX];
	char tmp[PATH_MAX];   /**< DIR/.NAME.tmp-PID; "" when not begun */
};

/**
 * Check that an output file can be created: its directory exists and is
 * writable, and the path is new or names a regular file (not a directory,
 * a device, a FIFO or a socket; a symbolic link counts as what it points to).
 *
 * @param path    the file.
 * @param err     receives the reason on failure (the caller names the path).
 * @param errlen  size of @p err.
 * @return 0, -EINVAL for NULL or an empty path or one naming a directory or
 *         another file that is not regular, or the negative errno of the
 *         directory check.
 */
int gcdl_outfile_check(const char *path, char *err, size_t errlen);

/**
 * Remove the temporary files an earlier gcdl process left beside path when
 * it was killed while writing it (DIR/.NAME.tmp-PID of a PID that is no
 * running process, and the older NAME.tmp-PID form of checkpoints).
 *
 * @param path  the output file.
 * @return how many were removed, or a negative errno when the directory
 *         cannot be read.
 */
int gcdl_outfile_clean_stale(const char *path);

/**
 * Choose the temporary name for path (nothing is created yet).
 *
 * @param o     the output file.
 * @param path  its final path.
 * @return 0, or -EINVAL for NULL, -ENAMETOOLONG.
 */
int gcdl_outfile_begin(struct gcdl_outfile *o, const char *path);

/**
 * Rename the temporary file to the final path (an open stream stays valid).
 *
 * @param o  the output file; NULL or not begun does nothing.
 * @return 0, or the negative errno of rename().
 */
int gcdl_outfile_commit(struct gcdl_outfile *o);

/**
 * Remove the temporary file (the final path is not touched).
 *
 * @param o  the output file; NULL or not begun does nothing.
 */
void gcdl_outfile_abort(struct gcdl_outfile *o);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_OUTFILE_H */
