/* SPDX-License-Identifier: BSD-3-Clause */
/* Frame authentication: key files, seal, verify, every way a tag fails. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gcdl/auth.h"
#include "gcdl/frame.h"

static char path[64];

static void
setup(void)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/gcdl_test_auth_XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void
teardown(void)
{
	unlink(path);
}

static void
write_key_file(const void *data, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static const char hexkey[] = "000102030405060708090a0b0c0d0e0f"
			     "101112131415161718191A1B1C1D1E1F\n";

START_TEST(key_file_rejects)
{
	struct gcdl_auth a;
	char err[256];
	uint8_t raw[33] = { 0 };

	ck_assert_int_eq(gcdl_auth_key_load(NULL, path, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gcdl_auth_key_load(&a, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gcdl_auth_key_load(&a, "/nonexistent/key", err, sizeof(err)), -ENOENT);
	write_key_file(hexkey, sizeof(hexkey) - 1, 0640);
	ck_assert_int_eq(gcdl_auth_key_load(&a, path, err, sizeof(err)), -EPERM);
	ck_assert(strstr(err, "group or others") != NULL);
	write_key_file(hexkey, sizeof(hexkey) - 1, 0604);
	ck_assert_int_eq(gcdl_auth_key_load(&a, path, err, sizeof(err)), -EPERM);
	write_key_file(raw, 31, 0600);
	ck_assert_int_eq(gcdl_auth_key_load(&a, path, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "32 bytes or 64 hexadecimal digits") != NULL);
	write_key_file(raw, 33, 0600);
	ck_assert_int_eq(gcdl_auth_key_load(&a, path, err, sizeof(err)), -EINVAL);
	write_key_file("zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 64,
		       0600);
	ck_assert_int_eq(gcdl_auth_key_load(&a, path, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "hexadecimal") != NULL);
	ck_assert_int_eq(gcdl_auth_key_load(&a, "/tmp", err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(key_file_loads)
{
	struct gcdl_auth a, b;
	char err[256];
	uint8_t raw[32];

	write_key_file(hexkey, sizeof(hexkey) - 1, 0600);
	ck_assert_int_eq(gcdl_auth_key_load(&a, path, err, sizeof(err)), 0);
	for (int i = 0; i < 32; i++)
		ck_assert_uint_eq(a.key[i], i);
	for (int i = 0; i < 32; i++)
		raw[i] = (uint8_t)i;
	write_key_file(raw, 32, 0400);
	ck_assert_int_eq(gcdl_auth_key_load(&b, path, err, sizeof(err)), 0);
	ck_assert_mem_eq(a.key, b.key, 32);
}
END_TEST

/* A valid 1-bit frame of 64 coordinates (one block of S = 64). */
static size_t
frame(uint8_t *buf, size_t cap)
{
	struct gcdl_frame_hdr h;
	uint8_t payload[12];

	memset(&h, 0, sizeof(h));
	memset(payload, 0x33, sizeof(payload));
	payload[0] = 0x3f;
	payload[1] = payload[2] = payload[3] = 0;
	h.type = GCDL_MSG_ONEBIT;
	h.job_id = 9;
	h.round = 2;
	h.sender = 1;
	h.coord_count = 64;
	h.scale_block = 64;
	h.payload_len = sizeof(payload);
	return (size_t)gcdl_frame_encode(&h, payload, buf, cap);
}

static struct gcdl_frame_limits
limits(void)
{
	struct gcdl_frame_limits lim;

	memset(&lim, 0, sizeof(lim));
	lim.job_id = 9;
	lim.senders = 4;
	lim.dim = 64;
	lim.round_max = 5;
	lim.scale_block = 64;
	lim.chunk_coords[GCDL_MSG_ONEBIT] = 64;
	return lim;
}

START_TEST(seal_and_verify)
{
	struct gcdl_auth a, wrong;
	struct gcdl_frame_limits lim = limits();
	struct gcdl_frame_hdr h;
	const uint8_t *pl;
	uint8_t buf[256], work[256];
	size_t plain = frame(buf, sizeof(buf)), end = GCDL_FRAME_OVERHEAD + 12;
	ssize_t len;

	for (int i = 0; i < 32; i++) {
		a.key[i] = (uint8_t)(7 * i + 1);
		wrong.key[i] = a.key[i];
	}
	wrong.key[31] ^= 1;
	/* without a tag: decodes (the CRC path), fails verification */
	ck_assert_int_eq(gcdl_frame_decode(buf, plain, &lim, &h, &pl), 0);
	ck_assert_int_eq(gcdl_auth_verify(&a, buf, plain), GCDL_DROP_AUTH);
	len = gcdl_auth_seal(&a, buf, sizeof(buf));
	ck_assert_int_eq(len, (ssize_t)(end + GCDL_FRAME_TAG_LEN));
	ck_assert_int_eq(gcdl_frame_decode(buf, (size_t)len, &lim, &h, &pl), 0);
	ck_assert_int_eq(gcdl_auth_verify(&a, buf, (size_t)len), 0);
	ck_assert_int_eq(gcdl_auth_verify(&wrong, buf, (size_t)len), GCDL_DROP_AUTH);
	/* the tag is missing: length */
	ck_assert_int_eq(gcdl_frame_decode(buf, end + 15, &lim, &h, &pl), GCDL_DROP_LENGTH);
	ck_assert_int_eq(gcdl_auth_verify(&a, buf, end + 15), GCDL_DROP_AUTH);
	/* any byte from the EtherType to the tag's end changed, CRC recomputed
	 * so that decode lets it through: the tag catches it */
	for (size_t off = 12; off < (size_t)len; off++) {
		memcpy(work, buf, (size_t)len);
		work[off] ^= 0x04;
		/* (a changed CRC byte is left as is: resealing would undo it) */
		if (off < end && (off < GCDL_ETH_HDR_LEN + 32 || off >= GCDL_FRAME_OVERHEAD))
			gcdl_frame_seal(work, (size_t)len);
		if (gcdl_frame_decode(work, (size_t)len, &lim, &h, &pl) != 0)
			continue; /* caught earlier: also a drop */
		ck_assert_msg(gcdl_auth_verify(&a, work, (size_t)len) == GCDL_DROP_AUTH,
			      "byte %zu changed, still authentic", off);
	}
	/* the MACs are not covered (switches rewrite nothing, but ports differ) */
	memcpy(work, buf, (size_t)len);
	work[0] ^= 0xff;
	ck_assert_int_eq(gcdl_auth_verify(&a, work, (size_t)len), 0);
	/* capacity and NULL */
	frame(work, sizeof(work));
	ck_assert_int_eq(gcdl_auth_seal(&a, work, end + 15), -ENOSPC);
	ck_assert_int_eq(gcdl_auth_seal(NULL, work, sizeof(work)), -EINVAL);
	ck_assert_int_eq(gcdl_auth_verify(NULL, work, sizeof(work)), -EINVAL);
	ck_assert_int_eq(gcdl_auth_tag(&a, work, 10, work), -EINVAL);
}
END_TEST

/* Known answer: the tag is BLAKE2b-128 keyed, over EtherType..payload end. */
START_TEST(known_answer_is_stable)
{
	struct gcdl_auth a;
	uint8_t buf[256], t1[16], t2[16];
	size_t len = frame(buf, sizeof(buf));

	memset(a.key, 0x11, sizeof(a.key));
	ck_assert_int_eq(gcdl_auth_tag(&a, buf, len, t1), 0);
	ck_assert_int_eq(gcdl_auth_tag(&a, buf, len, t2), 0);
	ck_assert_mem_eq(t1, t2, 16);
	buf[len - 1] ^= 1; /* a payload byte */
	ck_assert_int_eq(gcdl_auth_tag(&a, buf, len, t2), 0);
	ck_assert(memcmp(t1, t2, 16) != 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("auth");
	TCase *neg = tcase_create("negative");
	TCase *pos = tcase_create("positive");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(neg, setup, teardown);
	tcase_add_checked_fixture(pos, setup, teardown);
	tcase_add_test(neg, key_file_rejects);
	tcase_add_test(pos, key_file_loads);
	tcase_add_test(pos, seal_and_verify);
	tcase_add_test(pos, known_answer_is_stable);
	suite_add_tcase(s, neg);
	suite_add_tcase(s, pos);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
