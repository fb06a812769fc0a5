/* SPDX-License-Identifier: BSD-3-Clause */
/* Frame authentication: keyed BLAKE2b-128 tags (libsodium). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "gcdl/auth.h"
#include "gcdl/frame.h"
#include "seterr.h"

#define OFF_FLAGS (GCDL_ETH_HDR_LEN + 14)
#define OFF_PAYLOAD_LEN (GCDL_ETH_HDR_LEN + 30)

static size_t
payload_end(const uint8_t *frame)
{
	return GCDL_FRAME_OVERHEAD +
	       ((size_t)frame[OFF_PAYLOAD_LEN] << 8 | frame[OFF_PAYLOAD_LEN + 1]);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
gcdl_auth_key_load(struct gcdl_auth *a, const char *path, char *err, size_t errlen)
{
	uint8_t buf[GCDL_AUTH_KEY_LEN * 2 + 2];
	struct stat st;
	ssize_t n;
	int fd, rc = 0;

	if (a == NULL || path == NULL || path[0] == '\0') {
		gcdl_seterr(err, errlen, "no key file given");
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = -errno;
		gcdl_seterr(err, errlen, "%s", strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		gcdl_seterr(err, errlen, "%s", strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		gcdl_seterr(err, errlen, "not a regular file");
		rc = -EINVAL;
		goto out;
	}
	if (st.st_mode & 077) {
		gcdl_seterr(err, errlen, "group or others may access it (mode %03o): chmod 600 it",
			    (unsigned)(st.st_mode & 0777));
		rc = -EPERM;
		goto out;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		rc = -errno;
		gcdl_seterr(err, errlen, "%s", strerror(-rc));
		goto out;
	}
	if (n == GCDL_AUTH_KEY_LEN) {
		memcpy(a->key, buf, GCDL_AUTH_KEY_LEN);
	} else if (n == 2 * GCDL_AUTH_KEY_LEN ||
		   (n == 2 * GCDL_AUTH_KEY_LEN + 1 && buf[n - 1] == '\n')) {
		for (int i = 0; i < GCDL_AUTH_KEY_LEN; i++) {
			int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);

			if (hi < 0 || lo < 0) {
				gcdl_seterr(err, errlen, "64 hexadecimal digits expected");
				rc = -EINVAL;
				goto out;
			}
			a->key[i] = (uint8_t)(hi << 4 | lo);
		}
	} else {
		gcdl_seterr(err, errlen, "a key is 32 bytes or 64 hexadecimal digits (got %zd "
			    "bytes%s)", n, n == (ssize_t)sizeof(buf) ? " or more" : "");
		rc = -EINVAL;
	}
out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

int
gcdl_auth_key_generate(const char *path, char *err, size_t errlen)
{
	uint8_t key[GCDL_AUTH_KEY_LEN];
	char text[2 * GCDL_AUTH_KEY_LEN + 2];
	size_t off = 0, len;
	int fd, rc = 0;

	if (path == NULL) {
		gcdl_seterr(err, errlen, "no file given");
		return -EINVAL;
	}
	if (sodium_init() < 0) {
		gcdl_seterr(err, errlen, "libsodium cannot start");
		return -EIO;
	}
	randombytes_buf(key, sizeof(key));
	for (size_t i = 0; i < sizeof(key); i++)
		snprintf(text + 2 * i, 3, "%02x", key[i]);
	text[2 * GCDL_AUTH_KEY_LEN] = '\n';
	len = 2 * GCDL_AUTH_KEY_LEN + 1;
	sodium_memzero(key, sizeof(key));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		gcdl_seterr(err, errlen, "%s: %s%s", path, strerror(-rc),
			    rc == -EEXIST ? " (an existing key is never overwritten)" : "");
		sodium_memzero(text, sizeof(text));
		return rc;
	}
	/* the umask may have taken bits away, never added: make it 600 exactly */
	if (fchmod(fd, 0600) != 0)
		rc = -errno;
	while (rc == 0 && off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = w < 0 ? -errno : -EIO;
		else
			off += (size_t)w;
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	sodium_memzero(text, sizeof(text));
	if (rc != 0) {
		unlink(path);
		gcdl_seterr(err, errlen, "%s: %s", path, strerror(-rc));
	}
	return rc;
}

int
gcdl_auth_session(const struct gcdl_auth *job, uint64_t session, struct gcdl_auth *out)
{
	static const char label[] = "gcdl-session";
	uint8_t msg[sizeof(label) - 1 + 8];

	if (job == NULL || out == NULL)
		return -EINVAL;
	memcpy(msg, label, sizeof(label) - 1);
	for (int i = 0; i < 8; i++)
		msg[sizeof(label) - 1 + i] = (uint8_t)(session >> (56 - 8 * i));
	/* out may be job: hash into a temporary first */
	{
		uint8_t k[GCDL_AUTH_KEY_LEN];

		crypto_generichash(k, sizeof(k), msg, sizeof(msg), job->key, sizeof(job->key));
		memcpy(out->key, k, sizeof(k));
		sodium_memzero(k, sizeof(k));
	}
	return 0;
}

int
gcdl_auth_tag(const struct gcdl_auth *a, const uint8_t *frame, size_t len, uint8_t *tag)
{
	size_t end;

	if (a == NULL || frame == NULL || tag == NULL || len < GCDL_FRAME_OVERHEAD)
		return -EINVAL;
	end = payload_end(frame);
	if (end > len)
		return -EINVAL;
	/* ~1.2 us for a 1500-byte frame (gcdl-bench auth_tag) */
	crypto_generichash(tag, GCDL_FRAME_TAG_LEN, frame + 12, end - 12, a->key,
			   GCDL_AUTH_KEY_LEN);
	return 0;
}

ssize_t
gcdl_auth_seal(const struct gcdl_auth *a, uint8_t *frame, size_t cap)
{
	size_t end, len;

	if (a == NULL || frame == NULL || cap < GCDL_FRAME_OVERHEAD)
		return -EINVAL;
	end = payload_end(frame);
	if (end + GCDL_FRAME_TAG_LEN > cap)
		return -ENOSPC;
	frame[OFF_FLAGS + 1] |= GCDL_FRAME_FLAG_AUTH;
	if (gcdl_frame_seal(frame, end) != 0)
		return -EINVAL;
	gcdl_auth_tag(a, frame, end, frame + end);
	len = end + GCDL_FRAME_TAG_LEN;
	if (len < GCDL_ETH_MIN_FRAME) {
		if (cap < GCDL_ETH_MIN_FRAME)
			return -ENOSPC;
		memset(frame + len, 0, GCDL_ETH_MIN_FRAME - len);
		len = GCDL_ETH_MIN_FRAME;
	}
	return (ssize_t)len;
}

int
gcdl_auth_verify(const struct gcdl_auth *a, const uint8_t *frame, size_t len)
{
	uint8_t tag[GCDL_FRAME_TAG_LEN];
	size_t end;

	if (a == NULL || frame == NULL)
		return -EINVAL;
	if (len < GCDL_FRAME_OVERHEAD || !(frame[OFF_FLAGS + 1] & GCDL_FRAME_FLAG_AUTH))
		return GCDL_DROP_AUTH;
	end = payload_end(frame);
	if (end + GCDL_FRAME_TAG_LEN > len)
		return GCDL_DROP_AUTH;
	gcdl_auth_tag(a, frame, end, tag);
	return crypto_verify_16(tag, frame + end) == 0 ? 0 : GCDL_DROP_AUTH;
}
