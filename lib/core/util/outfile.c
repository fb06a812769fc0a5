/* SPDX-License-Identifier: BSD-3-Clause */
/* Output files written under a temporary name until the run has started. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		gcdl_seterr(err, errlen, "it exists and is not a regular file (a device, FIFO or "
			    "socket would be replaced): name a new or regular file");
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

/* A number's worth of digits ending the name: the PID of a temporary file. */
static long
tmp_pid(const char *name, const char *prefix, size_t plen)
{
	const char *d;
	char *end;
	long pid;

	if (strncmp(name, prefix, plen) != 0)
		return -1;
	d = name + plen;
	if (*d < '1' || *d > '9')
		return -1;
	pid = strtol(d, &end, 10);
	return *end == '\0' ? pid : -1;
}

int
gcdl_outfile_clean_stale(const char *path)
{
	char dir[PATH_MAX], p1[PATH_MAX], p2[PATH_MAX], full[PATH_MAX * 2];
	const char *slash, *base;
	struct dirent *de;
	DIR *d;
	int removed = 0;

	if (path == NULL || path[0] == '\0')
		return -EINVAL;
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	dir_of(path, dir, sizeof(dir));
	snprintf(p1, sizeof(p1), ".%s.tmp-", base);
	snprintf(p2, sizeof(p2), "%s.tmp-", base);
	d = opendir(dir);
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		long pid = tmp_pid(de->d_name, p1, strlen(p1));

		if (pid < 0)
			pid = tmp_pid(de->d_name, p2, strlen(p2));
		/* ours is still being written, a live process's too */
		if (pid <= 0 || pid == (long)getpid() ||
		    (kill((pid_t)pid, 0) == 0 || errno == EPERM))
			continue;
		snprintf(full, sizeof(full), "%s/%s", dir, de->d_name);
		if (unlink(full) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}
