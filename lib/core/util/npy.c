/* SPDX-License-Identifier: BSD-3-Clause */
/* NumPy .npy files of float32 vectors (format 1.0 written, 1.0/2.0 read). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gcdl/npy.h"
#include "gcdl/outfile.h"
#include "seterr.h"

#define HDR_MAX 4096     /* longest dict text we accept when reading */
#define IO_CHUNK 4096    /* floats converted per write/read */

int
gcdl_npy_header_f32(uint32_t n, uint8_t *buf, size_t cap)
{
	char dict[96];
	size_t dlen, total;
	int len;

	if (buf == NULL)
		return -EINVAL;
	len = snprintf(dict, sizeof(dict), "{'descr': '<f4', 'fortran_order': False, "
		       "'shape': (%u,), }", n);
	dlen = (size_t)len;
	/* magic + version (2) + header length (2) + dict + padding + '\n' */
	total = GCDL_NPY_MAGIC_LEN + 4 + dlen + 1;
	total = (total + GCDL_NPY_ALIGN - 1) / GCDL_NPY_ALIGN * GCDL_NPY_ALIGN;
	if (total > cap)
		return -ENOSPC;
	memcpy(buf, GCDL_NPY_MAGIC, GCDL_NPY_MAGIC_LEN);
	buf[6] = 1;
	buf[7] = 0;
	buf[8] = (uint8_t)((total - 10) & 0xff);
	buf[9] = (uint8_t)((total - 10) >> 8);
	memcpy(buf + 10, dict, dlen);
	memset(buf + 10 + dlen, ' ', total - 10 - dlen - 1);
	buf[total - 1] = '\n';
	return (int)total;
}

static void
put_le32(uint8_t *dst, const float *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t u;

		memcpy(&u, &src[i], sizeof(u));
		dst[4 * i] = (uint8_t)u;
		dst[4 * i + 1] = (uint8_t)(u >> 8);
		dst[4 * i + 2] = (uint8_t)(u >> 16);
		dst[4 * i + 3] = (uint8_t)(u >> 24);
	}
}

static void
get_le32(float *dst, const uint8_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t u = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 |
			     (uint32_t)src[4 * i + 2] << 16 | (uint32_t)src[4 * i + 3] << 24;

		memcpy(&dst[i], &u, sizeof(u));
	}
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding path, so the rename itself is durable. */
static int
sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = 0;

	if (copy == NULL)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0 && errno != EINVAL)
		rc = -errno;
	close(fd);
	return rc;
}

int
gcdl_npy_write_f32(const char *path, const float *v, uint32_t n, char *err, size_t errlen)
{
	uint8_t hdr[128], *buf = NULL;
	struct gcdl_outfile of;
	char *tmp = NULL, why[256];
	const char *what = "create";
	int fd = -1, rc, hlen;

	if (path == NULL || (v == NULL && n > 0)) {
		gcdl_seterr(err, errlen, "npy: no file or no data");
		return -EINVAL;
	}
	hlen = gcdl_npy_header_f32(n, hdr, sizeof(hdr));
	rc = gcdl_outfile_check(path, why, sizeof(why));
	if (rc != 0) {
		gcdl_seterr(err, errlen, "%s: %s", path, why);
		return rc;
	}
	if (gcdl_outfile_begin(&of, path) != 0 || (tmp = strdup(of.tmp)) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	buf = malloc(4 * (size_t)IO_CHUNK);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	what = "write";
	rc = write_all(fd, hdr, (size_t)hlen);
	for (uint32_t i = 0; rc == 0 && i < n; i += IO_CHUNK) {
		size_t k = n - i < IO_CHUNK ? n - i : IO_CHUNK;

		put_le32(buf, v + i, k);
		rc = write_all(fd, buf, 4 * k);
	}
	if (rc != 0)
		goto fail;
	what = "sync";
	if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
		rc = -errno;
		goto fail;
	}
	rc = close(fd);
	fd = -1;
	if (rc != 0) {
		rc = -errno;
		goto fail;
	}
	what = "rename";
	if (rename(tmp, path) != 0) {
		rc = -errno;
		goto fail;
	}
	rc = sync_dir(path);
	if (rc != 0) {
		gcdl_seterr(err, errlen, "%s: sync of its directory: %s", path, strerror(-rc));
		free(tmp);
		free(buf);
		return rc;
	}
	free(tmp);
	free(buf);
	return 0;
fail:
	gcdl_seterr(err, errlen, "%s: %s: %s", path, what, strerror(-rc));
	if (fd >= 0)
		close(fd);
	if (tmp != NULL && strcmp(what, "create") != 0)
		unlink(tmp);
	free(tmp);
	free(buf);
	return rc;
}

/* Skip spaces; return the next character position. */
static const char *
skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/*
 * Parse the header dict: exactly the keys descr ('<f4'), fortran_order
 * (False) and shape (one non-negative integer), in any order.
 */
static int
parse_dict(const char *s, uint64_t *count)
{
	int seen_descr = 0, seen_order = 0, seen_shape = 0;

	s = skip_ws(s);
	if (*s++ != '{')
		return -EPROTO;
	for (;;) {
		char key[16];
		size_t klen = 0;

		s = skip_ws(s);
		if (*s == '}')
			break;
		if (*s++ != '\'')
			return -EPROTO;
		while (*s != '\'' && *s != '\0' && klen < sizeof(key) - 1)
			key[klen++] = *s++;
		key[klen] = '\0';
		if (*s++ != '\'')
			return -EPROTO;
		s = skip_ws(s);
		if (*s++ != ':')
			return -EPROTO;
		s = skip_ws(s);
		if (strcmp(key, "descr") == 0 && !seen_descr) {
			if (strncmp(s, "'<f4'", 5) != 0)
				return -EPROTO;
			s += 5;
			seen_descr = 1;
		} else if (strcmp(key, "fortran_order") == 0 && !seen_order) {
			if (strncmp(s, "False", 5) != 0)
				return -EPROTO;
			s += 5;
			seen_order = 1;
		} else if (strcmp(key, "shape") == 0 && !seen_shape) {
			char *end;

			if (*s++ != '(')
				return -EPROTO;
			s = skip_ws(s);
			if (*s < '0' || *s > '9')
				return -EPROTO;
			errno = 0;
			*count = strtoull(s, &end, 10);
			if (errno != 0 || end == s)
				return -EPROTO;
			s = skip_ws(end);
			if (*s++ != ',')
				return -EPROTO;
			s = skip_ws(s);
			if (*s++ != ')')
				return -EPROTO;
			seen_shape = 1;
		} else {
			return -EPROTO;
		}
		s = skip_ws(s);
		if (*s == ',')
			s++;
		else if (*s != '}')
			return -EPROTO;
	}
	s = skip_ws(s + 1);
	while (*s == ' ' || *s == '\n')
		s++;
	if (*s != '\0' || !seen_descr || !seen_order || !seen_shape)
		return -EPROTO;
	return 0;
}

static int
read_all(FILE *f, void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (fread(buf, 1, len, f) != len)
		return ferror(f) ? -EIO : -EPROTO;
	return 0;
}

int
gcdl_npy_read_f32(const char *path, float **v, uint32_t *n, char *err, size_t errlen)
{
	uint8_t pre[12], *buf = NULL;
	char *dict = NULL;
	uint64_t count = 0;
	size_t dlen;
	float *out = NULL;
	FILE *f;
	int rc;

	if (path == NULL || v == NULL || n == NULL) {
		gcdl_seterr(err, errlen, "npy: missing arguments");
		return -EINVAL;
	}
	*v = NULL;
	*n = 0;
	f = fopen(path, "rb");
	if (f == NULL) {
		rc = -errno;
		gcdl_seterr(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = read_all(f, pre, 10);
	if (rc != 0)
		goto bad;
	if (memcmp(pre, GCDL_NPY_MAGIC, GCDL_NPY_MAGIC_LEN) != 0) {
		gcdl_seterr(err, errlen, "%s: not a .npy file (bad magic)", path);
		rc = -EPROTO;
		goto out;
	}
	if (pre[6] == 1 && pre[7] == 0) {
		dlen = (size_t)pre[8] | (size_t)pre[9] << 8;
	} else if (pre[6] == 2 && pre[7] == 0) {
		rc = read_all(f, pre + 10, 2);
		if (rc != 0)
			goto bad;
		dlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
		       (size_t)pre[11] << 24;
	} else {
		gcdl_seterr(err, errlen, "%s: unsupported .npy version %u.%u", path, pre[6], pre[7]);
		rc = -EPROTO;
		goto out;
	}
	if (dlen == 0 || dlen > HDR_MAX) {
		gcdl_seterr(err, errlen, "%s: bad .npy header length %zu", path, dlen);
		rc = -EPROTO;
		goto out;
	}
	dict = malloc(dlen + 1);
	if (dict == NULL) {
		rc = -ENOMEM;
		goto bad;
	}
	rc = read_all(f, dict, dlen);
	if (rc != 0)
		goto bad;
	dict[dlen] = '\0';
	if (dict[dlen - 1] != '\n' || strlen(dict) != dlen || parse_dict(dict, &count) != 0) {
		gcdl_seterr(err, errlen, "%s: not a 1-D little-endian float32 array in C order", path);
		rc = -EPROTO;
		goto out;
	}
	if (count > UINT32_MAX) {
		gcdl_seterr(err, errlen, "%s: shape (%llu,) is too large", path,
		       (unsigned long long)count);
		rc = -EPROTO;
		goto out;
	}
	if (count > 0) {
		out = malloc(sizeof(float) * count);
		buf = malloc(4 * (size_t)IO_CHUNK);
		if (out == NULL || buf == NULL) {
			rc = -ENOMEM;
			goto bad;
		}
	}
	for (uint64_t i = 0; i < count; i += IO_CHUNK) {
		size_t k = count - i < IO_CHUNK ? (size_t)(count - i) : IO_CHUNK;

		rc = read_all(f, buf, 4 * k);
		if (rc != 0)
			goto bad;
		get_le32(out + i, buf, k);
	}
	if (fgetc(f) != EOF) {
		gcdl_seterr(err, errlen, "%s: data longer than the shape (%llu,)", path,
		       (unsigned long long)count);
		rc = -EPROTO;
		goto out;
	}
	*v = out;
	*n = (uint32_t)count;
	out = NULL;
	rc = 0;
	goto out;
bad:
	if (rc == -EPROTO)
		gcdl_seterr(err, errlen, "%s: file ends early", path);
	else
		gcdl_seterr(err, errlen, "%s: %s", path, strerror(-rc));
out:
	free(out);
	free(buf);
	free(dict);
	fclose(f);
	return rc;
}
