/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The build's version, for every program's --version.
 */
#ifndef GCDL_VERSION_H
#define GCDL_VERSION_H

#include <stdio.h>

/**
 * The project's version (meson.build's project(version:)), e.g. "0.1.0".
 */
const char *gcdl_version(void);

/**
 * The source tree's `git describe --always --dirty` at build time, or
 * "unknown" when the tree is not a git checkout (a release tarball).
 */
const char *gcdl_version_vcs(void);

/**
 * Print "PROGRAM VERSION (git DESCRIBE)" and the licence line to @p out,
 * as every program's --version does.
 */
void gcdl_version_print(FILE *out, const char *program);

#endif /* GCDL_VERSION_H */
