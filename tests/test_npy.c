/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for .npy files (lib/core/npy.c). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gcdl/npy.h"

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_npy.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static void
path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void
write_bytes(const char *path, const void *b, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(b, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static size_t
read_bytes(const char *path, uint8_t *b, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(b, 1, cap, f);
	fclose(f);
	return n;
}

/* A format-1.0 file with the given dict text and data bytes. */
static void
write_npy_raw(const char *path, uint8_t major, const char *dict, const void *data, size_t dlen)
{
	uint8_t buf[1024];
	size_t len = strlen(dict), pre = major == 1 ? 10 : 12;
	size_t total = (pre + len + 1 + 63) / 64 * 64;
	size_t hl = total - pre;

	memcpy(buf, GCDL_NPY_MAGIC, 6);
	buf[6] = major;
	buf[7] = 0;
	buf[8] = (uint8_t)hl;
	buf[9] = (uint8_t)(hl >> 8);
	if (major != 1) {
		buf[10] = 0;
		buf[11] = 0;
	}
	memcpy(buf + pre, dict, len);
	memset(buf + pre + len, ' ', hl - len - 1);
	buf[total - 1] = '\n';
	memcpy(buf + total, data, dlen);
	write_bytes(path, buf, total + dlen);
}

static int
files_in_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* ---- header ---- */

START_TEST(header_null_buf)
{
	ck_assert_int_eq(gcdl_npy_header_f32(3, NULL, 128), -EINVAL);
}
END_TEST

START_TEST(header_too_small)
{
	uint8_t b[128];

	ck_assert_int_eq(gcdl_npy_header_f32(3, b, 127), -ENOSPC);
	ck_assert_int_eq(gcdl_npy_header_f32(3, b, 0), -ENOSPC);
}
END_TEST

START_TEST(header_exact_bytes)
{
	/* what numpy.save writes for np.zeros(3, '<f4') */
	static const char dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
	uint8_t b[128];
	int len = gcdl_npy_header_f32(3, b, sizeof(b));

	ck_assert_int_eq(len, 128);
	ck_assert_mem_eq(b, "\x93NUMPY\x01\x00", 8);
	ck_assert_uint_eq(b[8] | b[9] << 8, 118);
	ck_assert_mem_eq(b + 10, dict, sizeof(dict) - 1);
	for (size_t i = 10 + sizeof(dict) - 1; i < 127; i++)
		ck_assert_uint_eq(b[i], ' ');
	ck_assert_uint_eq(b[127], '\n');
}
END_TEST

START_TEST(header_largest_shape_fits_128)
{
	uint8_t b[128];
	int len = gcdl_npy_header_f32(UINT32_MAX, b, sizeof(b));

	ck_assert_int_eq(len, 128);
	ck_assert(memmem(b, 128, "(4294967295,)", 13) != NULL);
	ck_assert_uint_eq(b[127], '\n');
}
END_TEST

/* ---- write ---- */

START_TEST(write_null_path)
{
	float x = 1;

	ck_assert_int_eq(gcdl_npy_write_f32(NULL, &x, 1, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(write_null_data)
{
	char p[256], err[256] = "";

	path_of(p, sizeof(p), "a.npy");
	ck_assert_int_eq(gcdl_npy_write_f32(p, NULL, 2, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(access(p, F_OK), -1);
	ck_assert_str_ne(err, "");
}
END_TEST

START_TEST(write_missing_dir)
{
	char p[256], err[512] = "";
	float x = 1;

	path_of(p, sizeof(p), "nodir/a.npy");
	ck_assert_int_eq(gcdl_npy_write_f32(p, &x, 1, err, sizeof(err)), -ENOENT);
	ck_assert(strstr(err, p) != NULL);
	ck_assert_int_eq(files_in_dir(), 0);
}
END_TEST

START_TEST(write_bytes_little_endian)
{
	/* 1.0f = 0x3f800000, -2.0f = 0xc0000000, 0.5f = 0x3f000000 */
	static const uint8_t want[12] = { 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0,
					  0x00, 0x00, 0x00, 0x3f };
	float v[3] = { 1.0f, -2.0f, 0.5f };
	uint8_t got[256];
	char p[256];

	path_of(p, sizeof(p), "m.npy");
	ck_assert_int_eq(gcdl_npy_write_f32(p, v, 3, NULL, 0), 0);
	ck_assert_uint_eq(read_bytes(p, got, sizeof(got)), 128 + 12);
	ck_assert_mem_eq(got + 128, want, 12);
	ck_assert_mem_eq(got, "\x93NUMPY\x01\x00", 8);
	ck_assert_int_eq(files_in_dir(), 1); /* no temporary file left */
}
END_TEST

START_TEST(write_replaces_existing)
{
	float v[2] = { 3.0f, 4.0f };
	float *r = NULL;
	uint32_t n = 0;
	char p[256];

	path_of(p, sizeof(p), "m.npy");
	write_bytes(p, "old contents that are not npy", 29);
	ck_assert_int_eq(gcdl_npy_write_f32(p, v, 2, NULL, 0), 0);
	ck_assert_int_eq(gcdl_npy_read_f32(p, &r, &n, NULL, 0), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_float_eq(r[0], 3.0f);
	ck_assert_float_eq(r[1], 4.0f);
	ck_assert_int_eq(files_in_dir(), 1);
	free(r);
}
END_TEST

START_TEST(write_empty_vector)
{
	uint8_t got[256];
	char p[256];

	path_of(p, sizeof(p), "e.npy");
	ck_assert_int_eq(gcdl_npy_write_f32(p, NULL, 0, NULL, 0), 0);
	ck_assert_uint_eq(read_bytes(p, got, sizeof(got)), 128);
	ck_assert(memmem(got, 128, "'shape': (0,)", 13) != NULL);
}
END_TEST

/* ---- read ---- */

START_TEST(read_null_args)
{
	float *v;
	uint32_t n;

	ck_assert_int_eq(gcdl_npy_read_f32(NULL, &v, &n, NULL, 0), -EINVAL);
	ck_assert_int_eq(gcdl_npy_read_f32("x", NULL, &n, NULL, 0), -EINVAL);
	ck_assert_int_eq(gcdl_npy_read_f32("x", &v, NULL, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(read_missing_file)
{
	char p[256], err[512] = "";
	float dummy = 0, *v = &dummy;
	uint32_t n = 7;

	path_of(p, sizeof(p), "none.npy");
	ck_assert_int_eq(gcdl_npy_read_f32(p, &v, &n, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_null(v);
	ck_assert_uint_eq(n, 0);
	ck_assert(strstr(err, p) != NULL);
}
END_TEST

START_TEST(read_bad_magic)
{
	char p[256];
	float *v;
	uint32_t n;

	path_of(p, sizeof(p), "b.npy");
	write_bytes(p, "\x93NUMPZ\x01\x00\x10\x00", 10);
	ck_assert_int_eq(gcdl_npy_read_f32(p, &v, &n, NULL, 0), -EPROTO);
}
END_TEST

START_TEST(read_short_preamble)
{
	char p[256];
	float *v;
	uint32_t n;

	path_of(p, sizeof(p), "b.npy");
	write_bytes(p, "\x93NUM", 4);
	ck_assert_int_eq(gcdl_npy_read_f32(p, &v, &n, NULL, 0), -EPROTO);
}
END_TEST

START_TEST(read_bad_version)
{
	char p[256];
	float *v;
	uint32_t n;

	path_of(p, sizeof(p), "b.npy");
	write_npy_raw(p, 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
		      "\0\0\0\0", 4);
	ck_assert_int_eq(gcdl_npy_read_f32(p, &v, &n, NULL, 0), -EPROTO);
}
END_TEST

START_TEST(read_wrong_dtype)
{
	char p[256];
	float *v;
	uint32_t n;

	path_of(p, sizeof(p), "b.npy");
	write_npy_raw(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
		      "\0\0\0\0\0\0\0\0", 8);
	ck_assert_int_eq(gcdl_npy_read_f32(p, &v, &n, NULL, 0), -EPROTO);
	write_npy_raw(p, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
		      "\0\0\0\0", 4);
	ck_assert_int_eq(gcdl_npy_read_f32(p, &v, &n, NULL, 0), -EPROTO);
}
END_TEST

START_TEST(read_fortran_order)
{
	char p[256];
	float *v;
	uint32_t n;

	path_of(p, sizeof(p), "b.npy");
	write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }",
		      "\0\0\0\0", 4);
	ck_assert_int_eq(gcdl_npy_read_f32(p, &v, &n, NULL, 0), -EPROTO);
}
END_TEST

START_TEST(read_two_dims)
{
	char p[256];
	float *v;
	uint32_t n;

	path_of(p, sizeof(p), "b.npy");
	write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }",
		      "\0\0\0\0", 4);
	ck_assert_int_eq(gcdl_npy_read_f32(p, &v, &n, NULL, 0), -EPROTO);
}
END_TEST

START_TEST(read_extra_key)
{
	char p[256];
	float *v;
	uint32_t n;

	path_of(p, sizeof(p), "b.npy");
	write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1, }",
		      "\0\0\0\0", 4);
	ck_assert_int_eq(gcdl_npy_read_f32(p, &v, &n, NULL, 0), -EPROTO);
	write_npy_raw(p, 1, "{'descr': '<f4', 'descr': '<f4', 'shape': (1,), }", "\0\0\0\0", 4);
	ck_assert_int_eq(gcdl_npy_read_f32(p, &v, &n, NULL, 0), -EPROTO);
}
END_TEST

START_TEST(read_truncated_data)
{
	char p[256], err[512] = "";
	float *v;
	uint32_t n;

	path_of(p, sizeof(p), "b.npy");
	write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
		      "\0\0\0\0\0\0\0\0\0\0\0", 11);
	ck_assert_int_eq(gcdl_npy_read_f32(p, &v, &n, err, sizeof(err)), -EPROTO);
	ck_assert(strstr(err, "ends early") != NULL);
}
END_TEST

START_TEST(read_trailing_data)
{
	char p[256];
	float *v;
	uint32_t n;

	path_of(p, sizeof(p), "b.npy");
	write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
		      "\0\0\0\0\0", 5);
	ck_assert_int_eq(gcdl_npy_read_f32(p, &v, &n, NULL, 0), -EPROTO);
}
END_TEST

START_TEST(read_version2_and_key_order)
{
	/* 2.5f = 0x40200000 */
	static const uint8_t data[4] = { 0x00, 0x00, 0x20, 0x40 };
	char p[256];
	float *v = NULL;
	uint32_t n = 0;

	path_of(p, sizeof(p), "b.npy");
	write_npy_raw(p, 2, "{'shape': (1,), 'fortran_order': False, 'descr': '<f4'}", data, 4);
	ck_assert_int_eq(gcdl_npy_read_f32(p, &v, &n, NULL, 0), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_float_eq(v[0], 2.5f);
	free(v);
}
END_TEST

START_TEST(round_trip_bit_exact)
{
	/* 10000 values with every class of float: spans several I/O chunks */
	const uint32_t n = 10000;
	float *v = malloc(sizeof(float) * n), *r = NULL;
	uint32_t got = 0, seed = 12345;
	char p[256];

	ck_assert_ptr_nonnull(v);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t u;

		seed = seed * 1664525u + 1013904223u;
		u = seed;
		memcpy(&v[i], &u, sizeof(u));
	}
	v[0] = -0.0f;
	v[1] = 1e-45f; /* denormal */
	path_of(p, sizeof(p), "r.npy");
	ck_assert_int_eq(gcdl_npy_write_f32(p, v, n, NULL, 0), 0);
	ck_assert_int_eq(gcdl_npy_read_f32(p, &r, &got, NULL, 0), 0);
	ck_assert_uint_eq(got, n);
	ck_assert_mem_eq(r, v, sizeof(float) * n); /* NaN payloads included */
	free(v);
	free(r);
}
END_TEST

static Suite *
npy_suite(void)
{
	Suite *s = suite_create("npy");
	TCase *h = tcase_create("header");
	TCase *w = tcase_create("write");
	TCase *r = tcase_create("read");

	tcase_add_test(h, header_null_buf);
	tcase_add_test(h, header_too_small);
	tcase_add_test(h, header_exact_bytes);
	tcase_add_test(h, header_largest_shape_fits_128);
	suite_add_tcase(s, h);

	tcase_add_checked_fixture(w, setup, teardown);
	tcase_add_test(w, write_null_path);
	tcase_add_test(w, write_null_data);
	tcase_add_test(w, write_missing_dir);
	tcase_add_test(w, write_bytes_little_endian);
	tcase_add_test(w, write_replaces_existing);
	tcase_add_test(w, write_empty_vector);
	suite_add_tcase(s, w);

	tcase_add_checked_fixture(r, setup, teardown);
	tcase_add_test(r, read_null_args);
	tcase_add_test(r, read_missing_file);
	tcase_add_test(r, read_bad_magic);
	tcase_add_test(r, read_short_preamble);
	tcase_add_test(r, read_bad_version);
	tcase_add_test(r, read_wrong_dtype);
	tcase_add_test(r, read_fortran_order);
	tcase_add_test(r, read_two_dims);
	tcase_add_test(r, read_extra_key);
	tcase_add_test(r, read_truncated_data);
	tcase_add_test(r, read_trailing_data);
	tcase_add_test(r, read_version2_and_key_order);
	tcase_add_test(r, round_trip_bit_exact);
	suite_add_tcase(s, r);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(npy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
