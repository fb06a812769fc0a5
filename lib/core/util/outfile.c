/* SPDX-License-Identifier: BSD-3-Clause */
/* Output files written under a temporary name until the run has started. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gcdl/outfile.h"
#include "seterr.h"

/* The directory part of path ("." when there is none). */
static void
dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(dir, len, ".");
	else if (slash == path)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

int
gcdl_outfile_check(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct stat st;

	if (path == NULL || path[0] == '\0') {
		gcdl_seterr(err, errlen, "output file: no path given");
		return -EINVAL;
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		gcdl_seterr(err, errlen, "it is a directory");
		return -EINVAL;
	}
	dir_of(path, dir, sizeof(dir));
	if (stat(dir, &st) != 0) {
		int rc = -errno;

		gcdl_seterr(err, errlen, "directory %s: %s", dir, strerror(-rc));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		gcdl_seterr(err, errlen, "%s is not a directory", dir);
		return -ENOTDIR;
	}
	if (access(dir, W_OK) != 0) {
		int rc = -errno;

		gcdl_seterr(err, errlen, "directory %s is not writable: %s", dir, strerror(-rc));
		return rc;
	}
	return 0;
}

int
gcdl_outfile_begin(struct gcdl_outfile *o, const char *path)
{
	const char *slash, *base;
	char dir[PATH_MAX];
	int n;

	if (o == NULL || path == NULL || path[0] == '\0')
		return -EINVAL;
	o->tmp[0] = '\0';
	if (strlen(path) >= sizeof(o->path))
		return -ENAMETOOLONG;
	snprintf(o->path, sizeof(o->path), "%s", path);
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	dir_of(path, dir, sizeof(dir));
	n = snprintf(o->tmp, sizeof(o->tmp), "%s/.%s.tmp-%ld", dir, base, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(o->tmp)) {
		o->tmp[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

int
gcdl_outfile_commit(struct gcdl_outfile *o)
{
	if (o == NULL || o->tmp[0] == '\0')
		return 0;
	if (rename(o->tmp, o->path) != 0)
		return -errno;
	o->tmp[0] = '\0';
	return 0;
}

void
gcdl_outfile_abort(struct gcdl_outfile *o)
{
	if (o == NULL || o->tmp[0] == '\0')
		return;
	unlink(o->tmp);
	o->tmp[0] = '\0';
}
