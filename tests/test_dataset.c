/* SPDX-License-Identifier: BSD-3-Clause */
/* Check tests for lib/core/dataset.c: loaders, generators, normalisation, partitioning. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "gcdl/dataset.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

/* scratch directory for the files the tests write; set once in main() */
static char tmpdir[64];

static void
tpath(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", tmpdir, name);
}

static void
write_plain(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* gzip with zlib; mode "wb" starts a file, "ab" appends another gzip member */
static void
write_gz_mode(const char *path, const void *data, size_t len, const char *mode)
{
	gzFile g = gzopen(path, mode);

	ck_assert_ptr_nonnull(g);
	if (len > 0)
		ck_assert_int_eq(gzwrite(g, data, (unsigned)len), (int)len);
	ck_assert_int_eq(gzclose(g), Z_OK);
}

static void
write_gz(const char *path, const void *data, size_t len)
{
	write_gz_mode(path, data, len, "wb");
}

static unsigned char *
read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long sz;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	sz = ftell(f);
	ck_assert_int_gt(sz, 0);
	rewind(f);
	buf = malloc((size_t)sz);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	*len = (size_t)sz;
	return buf;
}

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* IDX3 image file bytes; caller frees */
static unsigned char *
make_idx3(uint32_t magic, uint32_t n, uint32_t r, uint32_t c, const unsigned char *pix,
	  size_t npix, size_t *len)
{
	unsigned char *b = malloc(16 + npix + 1);

	ck_assert_ptr_nonnull(b);
	put_be32(b, magic);
	put_be32(b + 4, n);
	put_be32(b + 8, r);
	put_be32(b + 12, c);
	if (npix > 0)
		memcpy(b + 16, pix, npix);
	*len = 16 + npix;
	return b;
}

static unsigned char *
make_idx1(uint32_t magic, uint32_t n, const unsigned char *lab, size_t nlab, size_t *len)
{
	unsigned char *b = malloc(8 + nlab + 1);

	ck_assert_ptr_nonnull(b);
	put_be32(b, magic);
	put_be32(b + 4, n);
	if (nlab > 0)
		memcpy(b + 8, lab, nlab);
	*len = 8 + nlab;
	return b;
}

static int
is_zeroed(const struct gcdl_dataset *ds)
{
	return ds->rows == 0 && ds->features == 0 && ds->classes == 0 && ds->x == NULL &&
	       ds->y == NULL;
}

/* garbage that a loader must overwrite on failure (never freed) */
static void
poison(struct gcdl_dataset *ds)
{
	memset(ds, 0xA5, sizeof(*ds));
}

/* The tiny fixture: 5 images of 2 x 3 pixels. */
#define TN 5
#define TR 2
#define TC 3
#define TPIX (TN * TR * TC)
static const unsigned char tiny_labels[TN] = { 3, 0, 9, 1, 3 };

static void
tiny_pixels(unsigned char *pix)
{
	for (int i = 0; i < TPIX; i++)
		pix[i] = (unsigned char)((i * 37 + 11) & 0xff);
	pix[0] = 0;
	pix[TPIX - 1] = 255;
}

/* writes tiny images (gzip) and labels (gzip) as img_name / lab_name */
static void
write_tiny(char *img, size_t imgn, const char *img_name, char *lab, size_t labn,
	   const char *lab_name)
{
	unsigned char pix[TPIX], *b;
	size_t len;

	tiny_pixels(pix);
	tpath(img, imgn, img_name);
	tpath(lab, labn, lab_name);
	b = make_idx3(0x803, TN, TR, TC, pix, TPIX, &len);
	write_gz(img, b, len);
	free(b);
	b = make_idx1(0x801, TN, tiny_labels, TN, &len);
	write_gz(lab, b, len);
	free(b);
}

/* ------------------------------------------------------------------ */
/* IDX: rejections                                                    */
/* ------------------------------------------------------------------ */

START_TEST(test_idx_null_args)
{
	struct gcdl_dataset ds;
	char img[PATH_MAX], lab[PATH_MAX], err[256];

	write_tiny(img, sizeof(img), "null_i.gz", lab, sizeof(lab), "null_l.gz");
	poison(&ds);
	err[0] = 0;
	ck_assert_int_eq(gcdl_dataset_load_idx(NULL, lab, 10, &ds, err, sizeof(err)), -EINVAL);
	ck_assert(is_zeroed(&ds));
	ck_assert_uint_gt(strlen(err), 0);
	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, NULL, 10, &ds, err, sizeof(err)), -EINVAL);
	ck_assert(is_zeroed(&ds));
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, NULL, err, sizeof(err)), -EINVAL);
	/* err is optional */
	ck_assert_int_eq(gcdl_dataset_load_idx(NULL, lab, 10, &ds, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(test_idx_missing_file)
{
	struct gcdl_dataset ds;
	char img[PATH_MAX], lab[PATH_MAX], nope[PATH_MAX], err[512];

	write_tiny(img, sizeof(img), "miss_i.gz", lab, sizeof(lab), "miss_l.gz");
	tpath(nope, sizeof(nope), "does-not-exist.gz");
	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_load_idx(nope, lab, 10, &ds, err, sizeof(err)), -ENOENT);
	ck_assert(is_zeroed(&ds));
	ck_assert_ptr_nonnull(strstr(err, nope));
	memset(&ds, 0, sizeof(ds));
	ck_assert_int_eq(gcdl_dataset_load_idx(img, nope, 10, &ds, err, sizeof(err)), -ENOENT);
	ck_assert(is_zeroed(&ds));
	ck_assert_ptr_nonnull(strstr(err, nope));
}
END_TEST

START_TEST(test_idx_no_access)
{
	struct gcdl_dataset ds = { 0 };
	char img[PATH_MAX], lab[PATH_MAX], err[512];

	write_tiny(img, sizeof(img), "acc_i.gz", lab, sizeof(lab), "acc_l.gz");
	if (geteuid() == 0) {
		/* root ignores file modes: this check cannot be made */
		printf("test_idx_no_access: skipped (running as root)\n");
		return;
	}
	ck_assert_int_eq(chmod(img, 0), 0);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EACCES);
	ck_assert(is_zeroed(&ds));
}
END_TEST

START_TEST(test_idx_read_error)
{
	struct gcdl_dataset ds;
	char img[PATH_MAX], lab[PATH_MAX], err[512];

	/* a directory opens but cannot be read */
	write_tiny(img, sizeof(img), "rd_i.gz", lab, sizeof(lab), "rd_l.gz");
	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_load_idx(tmpdir, lab, 10, &ds, err, sizeof(err)), -EIO);
	ck_assert(is_zeroed(&ds));
	ck_assert_ptr_nonnull(strstr(err, "read error"));
}
END_TEST

START_TEST(test_idx_bad_magic)
{
	static const struct {
		uint32_t magic;
		const char *what;
	} cases[] = {
		{ 0x00000804, "dimensions" },   /* 4 dims */
		{ 0x00000801, "dimensions" },   /* a label file given as images */
		{ 0x01000803, "magic" },
		{ 0x00010803, "magic" },
		{ 0x00000D03, "data type" },    /* float pixels */
		{ 0x00000903, "data type" },    /* signed bytes */
	};
	unsigned char pix[TPIX], *b;
	char img[PATH_MAX], lab[PATH_MAX], err[512];
	struct gcdl_dataset ds;
	size_t len;

	tiny_pixels(pix);
	write_tiny(img, sizeof(img), "mag_i.gz", lab, sizeof(lab), "mag_l.gz");
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		b = make_idx3(cases[k].magic, TN, TR, TC, pix, TPIX, &len);
		write_gz(img, b, len);
		free(b);
		poison(&ds);
		ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)),
				 -EBADMSG);
		ck_assert(is_zeroed(&ds));
		ck_assert_ptr_nonnull(strstr(err, img));
		ck_assert_msg(strstr(err, cases[k].what) != NULL, "case %zu: %s", k, err);
	}
}
END_TEST

START_TEST(test_idx_labels_wrong_magic)
{
	unsigned char *b;
	char img[PATH_MAX], lab[PATH_MAX], err[512];
	struct gcdl_dataset ds;
	size_t len;

	write_tiny(img, sizeof(img), "lmag_i.gz", lab, sizeof(lab), "lmag_l.gz");
	/* an image magic in the label file */
	b = make_idx1(0x803, TN, tiny_labels, TN, &len);
	write_gz(lab, b, len);
	free(b);
	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert(is_zeroed(&ds));
	ck_assert_ptr_nonnull(strstr(err, lab));
	ck_assert_ptr_nonnull(strstr(err, "dimensions"));
	/* the images given as labels */
	memset(&ds, 0, sizeof(ds));
	ck_assert_int_eq(gcdl_dataset_load_idx(img, img, 10, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert(is_zeroed(&ds));
}
END_TEST

START_TEST(test_idx_bad_dims)
{
	static const uint32_t dims[][3] = {
		{ 0, TR, TC },
		{ TN, 0, TC },
		{ TN, TR, 0 },
	};
	unsigned char pix[TPIX], *b;
	char img[PATH_MAX], lab[PATH_MAX], err[512];
	struct gcdl_dataset ds;
	size_t len;

	tiny_pixels(pix);
	write_tiny(img, sizeof(img), "dim_i.gz", lab, sizeof(lab), "dim_l.gz");
	for (size_t k = 0; k < 3; k++) {
		b = make_idx3(0x803, dims[k][0], dims[k][1], dims[k][2], pix, TPIX, &len);
		write_gz(img, b, len);
		free(b);
		poison(&ds);
		ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)),
				 -EBADMSG);
		ck_assert(is_zeroed(&ds));
		ck_assert_msg(strstr(err, "is zero") != NULL, "%s", err);
	}
	/* a zero-length label file */
	b = make_idx1(0x801, 0, NULL, 0, &len);
	write_gz(lab, b, len);
	free(b);
	b = make_idx3(0x803, TN, TR, TC, pix, TPIX, &len);
	write_gz(img, b, len);
	free(b);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, lab));
}
END_TEST

START_TEST(test_idx_absurd_dims)
{
	/* each product overflows 2^31 bytes; the first overflows 64 bits */
	static const uint32_t dims[][3] = {
		{ 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu },
		{ 1, 65536, 65536 },
		{ (1u << 21) + 1, 32, 32 },
		{ 2, 0xFFFFFFFFu, 1 },
	};
	unsigned char *b;
	char img[PATH_MAX], lab[PATH_MAX], err[512];
	struct gcdl_dataset ds;
	size_t len;

	write_tiny(img, sizeof(img), "abs_i.gz", lab, sizeof(lab), "abs_l.gz");
	for (size_t k = 0; k < sizeof(dims) / sizeof(dims[0]); k++) {
		b = make_idx3(0x803, dims[k][0], dims[k][1], dims[k][2], NULL, 0, &len);
		write_gz(img, b, len);
		free(b);
		poison(&ds);
		ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)),
				 -EBADMSG);
		ck_assert(is_zeroed(&ds));
		ck_assert_msg(strstr(err, "exceed") != NULL, "case %zu: %s", k, err);
	}
	/* exactly 2^31 bytes is accepted by the size check; the label count
	 * mismatch is then found before anything that large is allocated */
	b = make_idx3(0x803, 1u << 21, 32, 32, NULL, 0, &len);
	write_gz(img, b, len);
	free(b);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "5 labels for 2097152 images") != NULL, "%s", err);
}
END_TEST

START_TEST(test_idx_truncated_images)
{
	/* header is 16 bytes, the whole file 46 */
	static const size_t cuts[] = { 0, 1, 3, 15, 16, 17, 30, 45 };
	unsigned char pix[TPIX], *b;
	char img[PATH_MAX], lab[PATH_MAX], err[512], want[128];
	struct gcdl_dataset ds;
	size_t len;

	tiny_pixels(pix);
	write_tiny(img, sizeof(img), "tr_i.gz", lab, sizeof(lab), "tr_l.gz");
	b = make_idx3(0x803, TN, TR, TC, pix, TPIX, &len);
	ck_assert_uint_eq(len, 46);
	for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
		for (int gz = 0; gz < 2; gz++) {
			if (gz)
				write_gz(img, b, cuts[k]);
			else
				write_plain(img, b, cuts[k]);
			poison(&ds);
			ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)),
					 -EBADMSG);
			ck_assert(is_zeroed(&ds));
			ck_assert_ptr_nonnull(strstr(err, img));
			if (cuts[k] < 16)
				snprintf(want, sizeof(want),
					 "truncated at byte %zu (expected an IDX3 header of 16 bytes)",
					 cuts[k]);
			else
				snprintf(want, sizeof(want),
					 "truncated at byte %zu of 46 (expected 30 bytes of pixel data)",
					 cuts[k]);
			ck_assert_msg(strstr(err, want) != NULL, "cut %zu gz %d: %s", cuts[k], gz,
				      err);
		}
	}
	free(b);
}
END_TEST

START_TEST(test_idx_truncated_labels)
{
	unsigned char *b;
	char img[PATH_MAX], lab[PATH_MAX], err[512];
	struct gcdl_dataset ds;
	size_t len;

	write_tiny(img, sizeof(img), "trl_i.gz", lab, sizeof(lab), "trl_l.gz");
	b = make_idx1(0x801, TN, tiny_labels, TN, &len);
	write_gz(lab, b, 10);
	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert(is_zeroed(&ds));
	ck_assert_msg(strstr(err, "truncated at byte 10 of 13 (expected 5 bytes of label data)") !=
		      NULL, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, lab));
	write_gz(lab, b, 5);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "truncated at byte 5 (expected an IDX1 header of 8 bytes)"));
	free(b);
}
END_TEST

START_TEST(test_idx_trailing_garbage)
{
	unsigned char pix[TPIX], *b;
	char img[PATH_MAX], lab[PATH_MAX], err[512];
	struct gcdl_dataset ds;
	size_t len;

	tiny_pixels(pix);
	write_tiny(img, sizeof(img), "tg_i.gz", lab, sizeof(lab), "tg_l.gz");
	b = make_idx3(0x803, TN, TR, TC, pix, TPIX, &len);
	b[len] = 0x42;
	write_gz(img, b, len + 1);
	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert(is_zeroed(&ds));
	ck_assert_msg(strstr(err, "trailing data at byte 46") != NULL, "%s", err);
	/* the same uncompressed */
	write_plain(img, b, len + 1);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "trailing data at byte 46"));
	free(b);

	/* an extra label */
	write_tiny(img, sizeof(img), "tg_i.gz", lab, sizeof(lab), "tg_l.gz");
	{
		unsigned char l6[TN + 1] = { 3, 0, 9, 1, 3, 7 };

		b = make_idx1(0x801, TN, l6, TN + 1, &len);
		write_gz(lab, b, len);
		free(b);
	}
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "trailing data at byte 13"));
	ck_assert_ptr_nonnull(strstr(err, lab));

	/* non-gzip bytes after the gzip member */
	write_tiny(img, sizeof(img), "tg_i.gz", lab, sizeof(lab), "tg_l.gz");
	{
		FILE *f = fopen(img, "ab");

		ck_assert_ptr_nonnull(f);
		fputs("garbage", f);
		fclose(f);
	}
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "garbage after the gzip data") != NULL, "%s", err);
}
END_TEST

START_TEST(test_idx_count_mismatch)
{
	unsigned char *b;
	char img[PATH_MAX], lab[PATH_MAX], err[512];
	struct gcdl_dataset ds;
	size_t len;

	write_tiny(img, sizeof(img), "cm_i.gz", lab, sizeof(lab), "cm_l.gz");
	b = make_idx1(0x801, TN - 1, tiny_labels, TN - 1, &len);
	write_gz(lab, b, len);
	free(b);
	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert(is_zeroed(&ds));
	ck_assert_msg(strstr(err, "4 labels for 5 images") != NULL, "%s", err);
}
END_TEST

/* 50 images of 28 x 28 with a compressible pattern plus a little noise */
#define BIGN 50
#define BIGPIX (BIGN * 784)
#define BIGLEN (16 + BIGPIX)

static void
write_big(char *img, size_t imgn, const char *img_name, char *lab, size_t labn,
	  const char *lab_name)
{
	unsigned char *pix = malloc(BIGPIX), labels[BIGN], *b;
	uint32_t lcg = 12345;
	size_t len;

	ck_assert_ptr_nonnull(pix);
	for (int i = 0; i < BIGPIX; i++) {
		lcg = lcg * 1664525u + 1013904223u;
		pix[i] = (unsigned char)(((i % 28) * ((i / 28) % 28)) ^ (lcg >> 28));
	}
	for (int i = 0; i < BIGN; i++)
		labels[i] = (unsigned char)(i % 10);
	tpath(img, imgn, img_name);
	tpath(lab, labn, lab_name);
	b = make_idx3(0x803, BIGN, 28, 28, pix, BIGPIX, &len);
	write_gz(img, b, len);
	free(b);
	b = make_idx1(0x801, BIGN, labels, BIGN, &len);
	write_gz(lab, b, len);
	free(b);
	free(pix);
}

/* the uncompressed offset quoted after "uncompressed byte " */
static unsigned long long
quoted_offset(const char *err)
{
	const char *p = strstr(err, "uncompressed byte ");

	ck_assert_msg(p != NULL, "%s", err);
	return strtoull(p + strlen("uncompressed byte "), NULL, 10);
}

START_TEST(test_idx_corrupt_gzip)
{
	char img[PATH_MAX], lab[PATH_MAX], err[512], want[128];
	struct gcdl_dataset ds;
	unsigned char *gz, *bad;
	size_t len;

	write_big(img, sizeof(img), "cor_i.gz", lab, sizeof(lab), "cor_l.gz");
	/* the intact file loads */
	memset(&ds, 0, sizeof(ds));
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), 0);
	ck_assert_uint_eq(ds.rows, BIGN);
	gcdl_dataset_free(&ds);

	gz = read_all(img, &len);
	ck_assert_uint_gt(len, 200);
	bad = malloc(len);
	ck_assert_ptr_nonnull(bad);
	/* flip bytes inside the deflate data (after the 10-byte header, before
	 * the 8-byte trailer) */
	for (int k = 1; k <= 7; k++) {
		size_t pos = 10 + (len - 18) * (size_t)k / 8;

		memcpy(bad, gz, len);
		bad[pos] ^= 0xFF;
		bad[pos + 1] ^= 0x5A;
		write_plain(img, bad, len);
		poison(&ds);
		ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)),
				 -EBADMSG);
		ck_assert(is_zeroed(&ds));
		ck_assert_msg(strstr(err, img) != NULL, "%s", err);
		ck_assert_msg(strstr(err, "corrupt gzip stream at uncompressed byte") != NULL,
			      "pos %zu: %s", pos, err);
		/* the loader asks for at most one byte past the IDX data */
		ck_assert_uint_le(quoted_offset(err), BIGLEN + 1);
	}
	/* a bad CRC-32 is found after all data was inflated: exact offset */
	memcpy(bad, gz, len);
	bad[len - 8] ^= 0x01;
	write_plain(img, bad, len);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EBADMSG);
	snprintf(want, sizeof(want), "corrupt gzip stream at uncompressed byte %d ", BIGLEN);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "incorrect data check"));
	/* a bad length field likewise */
	memcpy(bad, gz, len);
	bad[len - 1] ^= 0x01;
	write_plain(img, bad, len);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "incorrect length check"));
	free(bad);
	free(gz);
}
END_TEST

START_TEST(test_idx_truncated_gzip)
{
	char img[PATH_MAX], lab[PATH_MAX], err[512], want[128];
	struct gcdl_dataset ds;
	unsigned char *gz;
	unsigned long long off;
	size_t len;

	write_big(img, sizeof(img), "tgz_i.gz", lab, sizeof(lab), "tgz_l.gz");
	gz = read_all(img, &len);
	/* cut in the middle of the deflate data */
	write_plain(img, gz, len / 2);
	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert(is_zeroed(&ds));
	ck_assert_msg(strstr(err, "gzip stream truncated at uncompressed byte") != NULL, "%s",
		      err);
	off = quoted_offset(err);
	ck_assert_uint_gt(off, 16);
	ck_assert_uint_lt(off, BIGLEN);
	/* cut inside the trailer: all pixels arrive, the check cannot be made */
	write_plain(img, gz, len - 4);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EBADMSG);
	snprintf(want, sizeof(want), "gzip stream truncated at uncompressed byte %d ", BIGLEN);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	/* cut inside the gzip header */
	write_plain(img, gz, 5);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, "gzip stream truncated at uncompressed byte 0 ") != NULL, "%s",
		      err);
	free(gz);
}
END_TEST

/* ------------------------------------------------------------------ */
/* IDX: loading                                                       */
/* ------------------------------------------------------------------ */

static void
check_tiny(const struct gcdl_dataset *ds, uint32_t classes)
{
	unsigned char pix[TPIX];

	tiny_pixels(pix);
	ck_assert_uint_eq(ds->rows, TN);
	ck_assert_uint_eq(ds->features, TR * TC);
	ck_assert_uint_eq(ds->classes, classes);
	for (int i = 0; i < TPIX; i++)
		ck_assert_float_eq(ds->x[i], (float)pix[i]);
	for (int i = 0; i < TN; i++)
		ck_assert_float_eq(ds->y[i], (float)tiny_labels[i]);
}

START_TEST(test_idx_tiny_exact)
{
	char img[PATH_MAX], lab[PATH_MAX], err[512];
	unsigned char pix[TPIX], *b;
	struct gcdl_dataset ds;
	size_t len;

	write_tiny(img, sizeof(img), "ok_i.gz", lab, sizeof(lab), "ok_l.gz");
	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), 0);
	check_tiny(&ds, 10);
	ck_assert_float_eq(ds.x[0], 0.0f);
	ck_assert_float_eq(ds.x[TPIX - 1], 255.0f);
	ck_assert_float_eq(ds.x[1], 48.0f); /* (1 * 37 + 11) */
	gcdl_dataset_free(&ds);
	ck_assert(is_zeroed(&ds));
	gcdl_dataset_free(NULL);

	/* uncompressed files, err NULL */
	tiny_pixels(pix);
	b = make_idx3(0x803, TN, TR, TC, pix, TPIX, &len);
	write_plain(img, b, len);
	free(b);
	b = make_idx1(0x801, TN, tiny_labels, TN, &len);
	write_plain(lab, b, len);
	free(b);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, NULL, 0), 0);
	check_tiny(&ds, 10);
	gcdl_dataset_free(&ds);
}
END_TEST

START_TEST(test_idx_multimember_and_classes)
{
	char img[PATH_MAX], lab[PATH_MAX], err[512];
	unsigned char pix[TPIX], *b;
	unsigned char l12[TN] = { 3, 0, 12, 1, 3 };
	struct gcdl_dataset ds = { 0 };
	size_t len;

	/* gzip members: header, first 7 pixels, the rest (as cat a.gz b.gz makes) */
	tiny_pixels(pix);
	tpath(img, sizeof(img), "mm_i.gz");
	tpath(lab, sizeof(lab), "mm_l.gz");
	b = make_idx3(0x803, TN, TR, TC, pix, TPIX, &len);
	write_gz_mode(img, b, 16, "wb");
	write_gz_mode(img, b + 16, 7, "ab");
	write_gz_mode(img, b + 23, len - 23, "ab");
	free(b);
	b = make_idx1(0x801, TN, tiny_labels, TN, &len);
	write_gz(lab, b, len);
	free(b);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), 0);
	check_tiny(&ds, 10);
	gcdl_dataset_free(&ds);

	/* labels 0..3 still give the 10 classes of an IDX set */
	{
		unsigned char l3[TN] = { 3, 0, 2, 1, 3 };

		b = make_idx1(0x801, TN, l3, TN, &len);
		write_gz(lab, b, len);
		free(b);
	}
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), 0);
	ck_assert_uint_eq(ds.classes, 10);
	ck_assert_float_eq(ds.y[2], 2.0f);
	gcdl_dataset_free(&ds);

	/* a label outside the declared classes is an error naming file and record
	 * (it used to grow the model to 13 classes) */
	b = make_idx1(0x801, TN, l12, TN, &len);
	write_gz(lab, b, len);
	free(b);
	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 10, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, lab) != NULL && strstr(err, "record 2 (byte 10): label 12 is "
		      "outside the 10 declared classes") != NULL, "%s", err);
	ck_assert(is_zeroed(&ds));
	/* the same file with 13 declared classes loads */
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 13, &ds, err, sizeof(err)), 0);
	ck_assert_uint_eq(ds.classes, 13);
	ck_assert_float_eq(ds.y[2], 12.0f);
	gcdl_dataset_free(&ds);
	/* the class count itself is checked: a byte label allows 2..256 */
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 1, &ds, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_load_idx(img, lab, 257, &ds, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "2..256") != NULL);
}
END_TEST

static int
have_fmnist(void)
{
	return access(FMNIST_DIR "/train-images-idx3-ubyte.gz", R_OK) == 0 &&
	       access(FMNIST_DIR "/train-labels-idx1-ubyte.gz", R_OK) == 0 &&
	       access(FMNIST_DIR "/t10k-images-idx3-ubyte.gz", R_OK) == 0 &&
	       access(FMNIST_DIR "/t10k-labels-idx1-ubyte.gz", R_OK) == 0;
}

static void
check_fmnist(const struct gcdl_dataset *ds, uint32_t n, uint32_t per_class,
	     const float first[10], uint64_t pixel_sum)
{
	uint32_t count[10] = { 0 };
	uint64_t sum = 0;
	float mn = 1e9f, mx = -1e9f;

	ck_assert_uint_eq(ds->rows, n);
	ck_assert_uint_eq(ds->features, 784);
	ck_assert_uint_eq(ds->classes, 10);
	for (uint32_t i = 0; i < n; i++) {
		float c = ds->y[i];

		ck_assert(c >= 0 && c <= 9 && c == floorf(c));
		count[(int)c]++;
	}
	for (int c = 0; c < 10; c++)
		ck_assert_uint_eq(count[c], per_class);
	for (int i = 0; i < 10; i++)
		ck_assert_float_eq(ds->y[i], first[i]);
	for (size_t k = 0; k < (size_t)n * 784; k++) {
		float v = ds->x[k];

		mn = v < mn ? v : mn;
		mx = v > mx ? v : mx;
		sum += (uint64_t)v;
		if (v != floorf(v))
			ck_abort_msg("pixel %zu is %g", k, (double)v);
	}
	ck_assert_float_eq(mn, 0.0f);
	ck_assert_float_eq(mx, 255.0f);
	ck_assert_uint_eq(sum, pixel_sum);
}

START_TEST(test_idx_fashion_mnist)
{
	/* first labels and pixel sums computed independently with Python's gzip module */
	static const float train_first[10] = { 9, 0, 0, 3, 0, 2, 7, 2, 5, 5 };
	static const float test_first[10] = { 9, 2, 1, 1, 6, 1, 4, 6, 5, 7 };
	struct gcdl_dataset tr = { 0 }, te = { 0 };
	char err[512];

	if (!have_fmnist()) {
		printf("test_idx_fashion_mnist: skipped (%s not installed)\n", FMNIST_DIR);
		return;
	}
	ck_assert_msg(gcdl_dataset_load_idx(FMNIST_DIR "/train-images-idx3-ubyte.gz",
					    FMNIST_DIR "/train-labels-idx1-ubyte.gz", 10, &tr, err,
					    sizeof(err)) == 0, "%s", err);
	check_fmnist(&tr, 60000, 6000, train_first, UINT64_C(3431114169));
	gcdl_dataset_free(&tr);
	ck_assert_msg(gcdl_dataset_load_idx(FMNIST_DIR "/t10k-images-idx3-ubyte.gz",
					    FMNIST_DIR "/t10k-labels-idx1-ubyte.gz", 10, &te, err,
					    sizeof(err)) == 0, "%s", err);
	check_fmnist(&te, 10000, 1000, test_first, UINT64_C(573469082));
	gcdl_dataset_free(&te);
}
END_TEST

/* ------------------------------------------------------------------ */
/* LIBSVM                                                             */
/* ------------------------------------------------------------------ */

static void
write_text(char *path, size_t n, const char *name, const char *text)
{
	tpath(path, n, name);
	write_plain(path, text, strlen(text));
}

START_TEST(test_svm_null_missing)
{
	struct gcdl_dataset ds;
	char p[PATH_MAX], err[512];

	write_text(p, sizeof(p), "nm.svm", "1 1:1\n");
	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_load_libsvm(NULL, 0, 0, 0, &ds, err, sizeof(err)), -EINVAL);
	ck_assert(is_zeroed(&ds));
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 0, 0, NULL, err, sizeof(err)), -EINVAL);
	tpath(p, sizeof(p), "nope.svm");
	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 0, 0, &ds, err, sizeof(err)), -ENOENT);
	ck_assert(is_zeroed(&ds));
	ck_assert_ptr_nonnull(strstr(err, p));
}
END_TEST

START_TEST(test_svm_malformed)
{
	static const struct {
		const char *line;
		uint32_t features;
		int regression;
		const char *what;
	} cases[] = {
		{ "1 1:0.5 2 3:1", 0, 0, "missing ':'" },
		{ "1 3:1 2:1", 0, 0, "strictly increase" },
		{ "1 2:1 2:1", 0, 0, "strictly increase" },
		{ "1 0:1", 0, 0, "index 0" },
		{ "1 2:abc", 0, 0, "bad value" },
		{ "1 2:", 0, 0, "bad value" },
		{ "1 2:1e50", 0, 0, "bad value" },
		{ "1 2:nan", 0, 0, "bad value" },
		{ "1 2:inf", 0, 0, "bad value" },
		{ "1 2:0.5:3", 0, 0, "bad value" },
		{ "abc 1:1", 0, 0, "bad label" },
		{ "1e400 1:1", 0, 1, "bad label" },
		{ "1 :5", 0, 0, "missing index" },
		{ "1 -1:2", 0, 0, "bad index" },
		{ "1 x:2", 0, 0, "bad index" },
		{ "1 99999999999:1", 0, 0, "index too large" },
		{ "1 2:1 5:1", 4, 0, "beyond the 4 features" },
		{ "2.5 1:1", 0, 0, "regression" },
		{ "-3 1:1", 0, 0, "regression" },
		{ "70000 1:1", 0, 0, "not a class index" },
	};
	struct gcdl_dataset ds;
	char p[PATH_MAX], err[512], text[512], want[PATH_MAX + 32];

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		/* k good lines after a comment and a blank line: bad line at 3 + k */
		size_t off = (size_t)snprintf(text, sizeof(text), "# test file\n\n");

		for (size_t g = 0; g < k; g++)
			off += (size_t)snprintf(text + off, sizeof(text) - off, "%zu 1:%zu\n",
						g % 3, g);
		snprintf(text + off, sizeof(text) - off, "%s\n1 1:1\n", cases[k].line);
		write_text(p, sizeof(p), "bad.svm", text);
		poison(&ds);
		ck_assert_msg(gcdl_dataset_load_libsvm(p, cases[k].features, 0, cases[k].regression,
						       &ds, err, sizeof(err)) == -EBADMSG,
			      "case %zu", k);
		ck_assert(is_zeroed(&ds));
		snprintf(want, sizeof(want), "%s:%zu: ", p, 3 + k);
		ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "case %zu: %s", k, err);
		ck_assert_msg(strstr(err, cases[k].what) != NULL, "case %zu: %s", k, err);
	}
}
END_TEST

START_TEST(test_svm_bad_labels_and_empty)
{
	struct gcdl_dataset ds;
	char p[PATH_MAX], err[512], want[PATH_MAX + 32];
	static const char nul_line[] = "1 1:1\n0 2:\0003\n";

	/* -1 mixed with 0: neither class indices nor the -1/+1 convention */
	write_text(p, sizeof(p), "mix.svm", "0 1:1\n1 1:2\n-1 1:3\n");
	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 0, 0, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert(is_zeroed(&ds));
	snprintf(want, sizeof(want), "%s:3: label -1 ", p);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);

	write_text(p, sizeof(p), "empty.svm", "");
	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 0, 0, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert(is_zeroed(&ds));
	ck_assert_ptr_nonnull(strstr(err, "no data rows"));
	write_text(p, sizeof(p), "comments.svm", "# only\n\n   # comments\n");
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 0, 0, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "no data rows"));
	/* rows without any index and no feature count given */
	write_text(p, sizeof(p), "nofeat.svm", "1\n0\n");
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 0, 0, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err, "no feature index"));
	ck_assert(is_zeroed(&ds));
	/* ... which is fine once the count is given: two all-zero rows */
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 3, 0, 0, &ds, err, sizeof(err)), 0);
	ck_assert_uint_eq(ds.rows, 2);
	ck_assert_uint_eq(ds.features, 3);
	for (int k = 0; k < 6; k++)
		ck_assert_float_eq(ds.x[k], 0.0f);
	gcdl_dataset_free(&ds);

	/* an embedded NUL byte */
	tpath(p, sizeof(p), "nul.svm");
	write_plain(p, nul_line, sizeof(nul_line) - 1);
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 0, 0, &ds, err, sizeof(err)), -EBADMSG);
	snprintf(want, sizeof(want), "%s:2: NUL", p);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
}
END_TEST

START_TEST(test_svm_exact)
{
	static const char text[] = "# a comment\n"
				   "\n"
				   "1 1:0.5 3:-2\n"
				   "0\t2:1e-3  4:7 # trailing comment\r\n"
				   "2 4:+3.25\n"
				   "   \n"
				   "1 1:1 2:2 3:3 4:4\n";
	static const float x4[4][4] = {
		{ 0.5f, 0, -2, 0 },
		{ 0, 1e-3f, 0, 7 },
		{ 0, 0, 0, 3.25f },
		{ 1, 2, 3, 4 },
	};
	static const float y[4] = { 1, 0, 2, 1 };
	struct gcdl_dataset ds;
	char p[PATH_MAX], err[512];

	write_text(p, sizeof(p), "ok.svm", text);
	poison(&ds);
	ck_assert_msg(gcdl_dataset_load_libsvm(p, 0, 0, 0, &ds, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(ds.rows, 4);
	ck_assert_uint_eq(ds.features, 4);
	ck_assert_uint_eq(ds.classes, 3);
	for (int i = 0; i < 4; i++) {
		ck_assert_float_eq(ds.y[i], y[i]);
		for (int j = 0; j < 4; j++)
			ck_assert_float_eq(ds.x[i * 4 + j], x4[i][j]);
	}
	gcdl_dataset_free(&ds);

	/* a wider declared feature count pads with zeros */
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 6, 0, 0, &ds, NULL, 0), 0);
	ck_assert_uint_eq(ds.features, 6);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 6; j++)
			ck_assert_float_eq(ds.x[i * 6 + j], j < 4 ? x4[i][j] : 0.0f);
	gcdl_dataset_free(&ds);

	/* regression keeps the labels as they are and sets classes = 0 */
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 0, 1, &ds, err, sizeof(err)), 0);
	ck_assert_uint_eq(ds.classes, 0);
	for (int i = 0; i < 4; i++)
		ck_assert_float_eq(ds.y[i], y[i]);
	gcdl_dataset_free(&ds);
}
END_TEST

START_TEST(test_svm_labels)
{
	struct gcdl_dataset ds = { 0 };
	char p[PATH_MAX], err[512];

	/* binary -1/+1: mapped to 0/1 */
	write_text(p, sizeof(p), "pm.svm", "+1 1:1\n-1 2:1\n1 1:2\n");
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 0, 0, &ds, err, sizeof(err)), 0);
	ck_assert_uint_eq(ds.classes, 2);
	ck_assert_float_eq(ds.y[0], 1.0f);
	ck_assert_float_eq(ds.y[1], 0.0f);
	ck_assert_float_eq(ds.y[2], 1.0f);
	ck_assert_float_eq(ds.x[2 * 2], 2.0f);
	gcdl_dataset_free(&ds);
	/* all -1 is still binary */
	write_text(p, sizeof(p), "m1.svm", "-1 1:1\n-1 1:2\n");
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 0, 0, &ds, err, sizeof(err)), 0);
	ck_assert_uint_eq(ds.classes, 2);
	ck_assert_float_eq(ds.y[0], 0.0f);
	ck_assert_float_eq(ds.y[1], 0.0f);
	gcdl_dataset_free(&ds);
	/* real targets in regression mode */
	write_text(p, sizeof(p), "reg.svm", "2.5 1:1\n-1 1:2\n-3.75 2:1\n");
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 0, 1, &ds, err, sizeof(err)), 0);
	ck_assert_uint_eq(ds.classes, 0);
	ck_assert_float_eq(ds.y[0], 2.5f);
	ck_assert_float_eq(ds.y[1], -1.0f);
	ck_assert_float_eq(ds.y[2], -3.75f);
	gcdl_dataset_free(&ds);
	/* multiclass with a gap: classes = max + 1 */
	write_text(p, sizeof(p), "mc.svm", "0 1:1\n5 1:1\n2 1:1\n");
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 0, 0, &ds, err, sizeof(err)), 0);
	ck_assert_uint_eq(ds.classes, 6);
	ck_assert_float_eq(ds.y[1], 5.0f);
	gcdl_dataset_free(&ds);
	/* declared classes (a test set loads with the training set's count):
	 * a class index beyond them is an error naming the line */
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 6, 0, &ds, err, sizeof(err)), 0);
	ck_assert_uint_eq(ds.classes, 6);
	gcdl_dataset_free(&ds);
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 8, 0, &ds, err, sizeof(err)), 0);
	ck_assert_uint_eq(ds.classes, 8);
	gcdl_dataset_free(&ds);
	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 5, 0, &ds, err, sizeof(err)), -EBADMSG);
	ck_assert_msg(strstr(err, ":2: label 5 is outside the 5 declared classes (0..4)") != NULL &&
		      strstr(err, p) != NULL, "%s", err);
	ck_assert(is_zeroed(&ds));
	/* binary -1/+1 fits two declared classes; regression ignores the count */
	write_text(p, sizeof(p), "pm2.svm", "+1 1:1\n-1 2:1\n");
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 2, 0, &ds, err, sizeof(err)), 0);
	ck_assert_uint_eq(ds.classes, 2);
	gcdl_dataset_free(&ds);
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 2, 1, &ds, err, sizeof(err)), 0);
	ck_assert_uint_eq(ds.classes, 0);
	gcdl_dataset_free(&ds);
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 1, 0, &ds, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_load_libsvm(p, 0, 65537, 0, &ds, err, sizeof(err)),
			 -EINVAL);
}
END_TEST

/* ------------------------------------------------------------------ */
/* synthetic data                                                     */
/* ------------------------------------------------------------------ */

START_TEST(test_synth_rejects)
{
	struct gcdl_dataset ds;

	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_synth_linear(0, 3, 0.1, 1, &ds), -EINVAL);
	ck_assert(is_zeroed(&ds));
	ck_assert_int_eq(gcdl_dataset_synth_linear(10, 0, 0.1, 1, &ds), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_synth_linear(10, 3, -0.1, 1, &ds), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_synth_linear(10, 3, NAN, 1, &ds), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_synth_linear(10, 3, INFINITY, 1, &ds), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_synth_linear(10, 3, 0.1, 1, NULL), -EINVAL);
	ck_assert(is_zeroed(&ds));

	poison(&ds);
	ck_assert_int_eq(gcdl_dataset_synth_gmm(0, 3, 2, 1.0, 1, 0, &ds), -EINVAL);
	ck_assert(is_zeroed(&ds));
	ck_assert_int_eq(gcdl_dataset_synth_gmm(10, 0, 2, 1.0, 1, 0, &ds), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_synth_gmm(10, 3, 1, 1.0, 1, 0, &ds), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_synth_gmm(10, 3, 0, 1.0, 1, 0, &ds), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_synth_gmm(10, 3, (1u << 24) + 1, 1.0, 1, 0, &ds), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_synth_gmm(10, 3, 2, 0.0, 1, 0, &ds), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_synth_gmm(10, 3, 2, -1.0, 1, 0, &ds), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_synth_gmm(10, 3, 2, NAN, 1, 0, &ds), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_synth_gmm(10, 3, 2, INFINITY, 1, 0, &ds), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_synth_gmm(10, 3, 2, 1.0, 1, 0, NULL), -EINVAL);
	ck_assert(is_zeroed(&ds));
}
END_TEST

static int
same_data(const struct gcdl_dataset *a, const struct gcdl_dataset *b)
{
	return a->rows == b->rows && a->features == b->features && a->classes == b->classes &&
	       memcmp(a->x, b->x, (size_t)a->rows * a->features * sizeof(float)) == 0 &&
	       memcmp(a->y, b->y, (size_t)a->rows * sizeof(float)) == 0;
}

START_TEST(test_synth_deterministic)
{
	struct gcdl_dataset a, b, c;

	ck_assert_int_eq(gcdl_dataset_synth_linear(300, 7, 0.3, 42, &a), 0);
	ck_assert_int_eq(gcdl_dataset_synth_linear(300, 7, 0.3, 42, &b), 0);
	ck_assert_int_eq(gcdl_dataset_synth_linear(300, 7, 0.3, 43, &c), 0);
	ck_assert_uint_eq(a.classes, 0);
	ck_assert(same_data(&a, &b));
	ck_assert(memcmp(a.x, c.x, 300 * 7 * sizeof(float)) != 0);
	ck_assert(memcmp(a.y, c.y, 300 * sizeof(float)) != 0);
	gcdl_dataset_free(&b);
	/* other noise: same x, other y */
	ck_assert_int_eq(gcdl_dataset_synth_linear(300, 7, 0.0, 42, &b), 0);
	ck_assert(memcmp(a.x, b.x, 300 * 7 * sizeof(float)) == 0);
	ck_assert(memcmp(a.y, b.y, 300 * sizeof(float)) != 0);
	gcdl_dataset_free(&a);
	gcdl_dataset_free(&b);
	gcdl_dataset_free(&c);

	ck_assert_int_eq(gcdl_dataset_synth_gmm(300, 5, 4, 2.0, 9, 0, &a), 0);
	ck_assert_int_eq(gcdl_dataset_synth_gmm(300, 5, 4, 2.0, 9, 0, &b), 0);
	ck_assert_int_eq(gcdl_dataset_synth_gmm(300, 5, 4, 2.0, 9, 1, &c), 0);
	ck_assert_uint_eq(a.classes, 4);
	ck_assert(same_data(&a, &b));
	ck_assert(memcmp(a.x, c.x, 300 * 5 * sizeof(float)) != 0);
	for (int i = 0; i < 300; i++) {
		float y = a.y[i];

		ck_assert(y == 0 || y == 1 || y == 2 || y == 3);
	}
	gcdl_dataset_free(&a);
	gcdl_dataset_free(&b);
	gcdl_dataset_free(&c);
}
END_TEST

/* Solve the n x n system A z = b by Gauss-Jordan with partial pivoting (A, b destroyed). */
static void
solve(double *A, double *b, int n)
{
	for (int c = 0; c < n; c++) {
		int piv = c;

		for (int r = c + 1; r < n; r++)
			if (fabs(A[r * n + c]) > fabs(A[piv * n + c]))
				piv = r;
		ck_assert(fabs(A[piv * n + c]) > 1e-12);
		for (int k = 0; k < n; k++) {
			double t = A[c * n + k];

			A[c * n + k] = A[piv * n + k];
			A[piv * n + k] = t;
		}
		{
			double t = b[c];

			b[c] = b[piv];
			b[piv] = t;
		}
		for (int r = 0; r < n; r++) {
			double f;

			if (r == c)
				continue;
			f = A[r * n + c] / A[c * n + c];
			for (int k = c; k < n; k++)
				A[r * n + k] -= f * A[c * n + k];
			b[r] -= f * b[c];
		}
	}
	for (int c = 0; c < n; c++)
		b[c] /= A[c * n + c];
}

#define LP 5           /* features */
#define LQ (LP + 1)    /* with the intercept */
#define LN 2000        /* rows */

/* normal equations of [x 1]: A = Z^T Z, rhs = Z^T y */
static void
normal_eq(const struct gcdl_dataset *ds, double *A, double *rhs)
{
	memset(A, 0, sizeof(double) * LQ * LQ);
	memset(rhs, 0, sizeof(double) * LQ);
	for (uint32_t i = 0; i < ds->rows; i++) {
		double z[LQ];

		for (int j = 0; j < LP; j++)
			z[j] = ds->x[i * LP + j];
		z[LP] = 1.0;
		for (int r = 0; r < LQ; r++) {
			rhs[r] += z[r] * ds->y[i];
			for (int c = 0; c < LQ; c++)
				A[r * LQ + c] += z[r] * z[c];
		}
	}
}

START_TEST(test_synth_linear_stats)
{
	const double sigma = 0.5;
	struct gcdl_dataset clean, noisy;
	double A[LQ * LQ], A0[LQ * LQ], w0[LQ], w1[LQ], s = 0, ss = 0, wnorm = 0, maxres = 0;

	ck_assert_int_eq(gcdl_dataset_synth_linear(LN, LP, 0.0, 2024, &clean), 0);
	ck_assert_int_eq(gcdl_dataset_synth_linear(LN, LP, sigma, 2024, &noisy), 0);
	ck_assert_uint_eq(clean.rows, LN);
	ck_assert_uint_eq(clean.features, LP);

	/* x ~ N(0,1): over n = 10^4 entries the mean has std 1/sqrt(n) = 0.01 and the
	 * variance estimate std sqrt(2/n) = 0.014; 5 standard deviations each */
	for (int k = 0; k < LN * LP; k++) {
		s += clean.x[k];
		ss += (double)clean.x[k] * clean.x[k];
	}
	s /= LN * LP;
	ss = ss / (LN * LP) - s * s;
	ck_assert_double_lt(fabs(s), 0.05);
	ck_assert_double_lt(fabs(ss - 1.0), 0.071);

	/* noise 0: least squares recovers (w*, b*) and fits exactly, up to the
	 * float rounding of x and y (relative 6e-8 of values below ~20) */
	normal_eq(&clean, A, w0);
	memcpy(A0, A, sizeof(A));
	solve(A, w0, LQ);
	for (uint32_t i = 0; i < LN; i++) {
		double pred = w0[LP];

		for (int j = 0; j < LP; j++)
			pred += w0[j] * clean.x[i * LP + j];
		maxres = fmax(maxres, fabs(pred - clean.y[i]));
	}
	ck_assert_double_lt(maxres, 1e-4);
	for (int j = 0; j < LP; j++)
		wnorm += w0[j] * w0[j];
	/* |w*|^2 ~ chi^2_5: below 0.01 with probability ~1e-7 */
	ck_assert_double_gt(wnorm, 0.01);
	/* b* ~ N(0,1) is part of y: |b*| < 1e-3 has probability 8e-4, and the
	 * noise-free fit recovers it to ~1e-6 */
	ck_assert_double_gt(fabs(w0[LP]), 1e-3);

	/* the same x, so y_noisy - y_clean = sigma * N(0,1): mean within
	 * 5 sigma/sqrt(n) = 0.056, variance within 5 sqrt(2/n) sigma^2 = 0.079 */
	s = ss = 0;
	ck_assert(memcmp(clean.x, noisy.x, sizeof(float) * LN * LP) == 0);
	for (int i = 0; i < LN; i++) {
		double d = (double)noisy.y[i] - clean.y[i];

		s += d;
		ss += d * d;
	}
	s /= LN;
	ss = ss / LN - s * s;
	ck_assert_double_lt(fabs(s), 5 * sigma / sqrt(LN));
	ck_assert_double_lt(fabs(ss - sigma * sigma), 5 * sqrt(2.0 / LN) * sigma * sigma);

	/* noisy fit: w1 - w* ~ N(0, sigma^2 (Z^T Z)^-1); each coefficient within
	 * 5 standard deviations, taken from the diagonal of the inverse */
	normal_eq(&noisy, A, w1);
	solve(A, w1, LQ);
	for (int j = 0; j < LQ; j++) {
		double e[LQ] = { 0 }, Ac[LQ * LQ], sd;

		e[j] = 1.0;
		memcpy(Ac, A0, sizeof(Ac));
		solve(Ac, e, LQ);
		sd = sigma * sqrt(e[j]);
		ck_assert_msg(fabs(w1[j] - w0[j]) < 5 * sd, "coef %d: %g vs %g (sd %g)", j, w1[j],
			      w0[j], sd);
	}
	gcdl_dataset_free(&clean);
	gcdl_dataset_free(&noisy);
}
END_TEST

/* per-class feature means, class counts and pooled within-class variance */
static void
class_stats(const struct gcdl_dataset *ds, double *mean, uint32_t *count, double *var)
{
	uint32_t nf = ds->features, nc = ds->classes;
	double ss = 0;

	memset(mean, 0, sizeof(double) * nf * nc);
	memset(count, 0, sizeof(uint32_t) * nc);
	for (uint32_t i = 0; i < ds->rows; i++) {
		uint32_t c = (uint32_t)ds->y[i];

		ck_assert_uint_lt(c, nc);
		count[c]++;
		for (uint32_t j = 0; j < nf; j++)
			mean[c * nf + j] += ds->x[i * nf + j];
	}
	for (uint32_t c = 0; c < nc; c++)
		for (uint32_t j = 0; j < nf; j++)
			mean[c * nf + j] /= count[c] ? count[c] : 1;
	for (uint32_t i = 0; i < ds->rows; i++) {
		uint32_t c = (uint32_t)ds->y[i];

		for (uint32_t j = 0; j < nf; j++) {
			double d = ds->x[i * nf + j] - mean[c * nf + j];

			ss += d * d;
		}
	}
	*var = ss / ((double)ds->rows * nf);
}

START_TEST(test_synth_gmm_stats)
{
	enum { N = 4000, F = 3, C = 4 };
	struct gcdl_dataset tr, te, other, many;
	double mtr[C * F], mte[C * F], mot[C * F], vtr, vte, vot, maxdiff = 0;
	uint32_t ctr[C], cte[C], cot[C];

	ck_assert_int_eq(gcdl_dataset_synth_gmm(N, F, C, 3.0, 7, 0, &tr), 0);
	ck_assert_int_eq(gcdl_dataset_synth_gmm(N, F, C, 3.0, 7, 1, &te), 0);
	ck_assert_int_eq(gcdl_dataset_synth_gmm(N, F, C, 3.0, 8, 0, &other), 0);
	class_stats(&tr, mtr, ctr, &vtr);
	class_stats(&te, mte, cte, &vte);
	class_stats(&other, mot, cot, &vot);
	for (int c = 0; c < C; c++) {
		/* class counts ~ Binomial(4000, 1/4): std 27.4, 5 std = 137 */
		ck_assert_uint_lt(abs((int)ctr[c] - N / C), 137);
		ck_assert_uint_lt(abs((int)cte[c] - N / C), 137);
		for (int j = 0; j < F; j++) {
			/* train and test share mu_c: the difference of two means of
			 * ~1000 unit-variance samples has std sqrt(2/1000) = 0.045;
			 * 5 std = 0.224 */
			ck_assert_double_lt(fabs(mtr[c * F + j] - mte[c * F + j]), 0.224);
			maxdiff = fmax(maxdiff, fabs(mtr[c * F + j] - mot[c * F + j]));
		}
	}
	/* another seed draws other means: each difference ~ N(0, 2 * 9), so
	 * all 12 below 1 has probability < 0.2^12 */
	ck_assert_double_gt(maxdiff, 1.0);
	/* within-class variance 1: 12000 values, std sqrt(2/12000) = 0.013; 5 std */
	ck_assert_double_lt(fabs(vtr - 1.0), 0.065);
	ck_assert_double_lt(fabs(vte - 1.0), 0.065);

	/* spread of the means: 50 classes x 20 features of mu ~ N(0, sep^2); with
	 * ~400 samples per class each estimate adds variance 1/400. The variance
	 * of 1000 such values has relative std sqrt(2/1000) = 0.045; 5 std = 22% */
	{
		enum { MN = 20000, MF = 20, MC = 50 };
		const double sep = 2.0;
		double *mu = malloc(sizeof(double) * MC * MF), s = 0, ss = 0, v, var;
		uint32_t cnt[MC];

		ck_assert_ptr_nonnull(mu);
		ck_assert_int_eq(gcdl_dataset_synth_gmm(MN, MF, MC, sep, 5, 0, &many), 0);
		class_stats(&many, mu, cnt, &v);
		for (int k = 0; k < MC * MF; k++) {
			s += mu[k];
			ss += mu[k] * mu[k];
		}
		var = ss / (MC * MF); /* the true mean of mu is 0 */
		ck_assert_double_lt(fabs(var / (sep * sep + 1.0 / 400) - 1.0), 0.22);
		free(mu);
		gcdl_dataset_free(&many);
	}
	gcdl_dataset_free(&tr);
	gcdl_dataset_free(&te);
	gcdl_dataset_free(&other);
}
END_TEST

/* ------------------------------------------------------------------ */
/* standardize, scale                                                 */
/* ------------------------------------------------------------------ */

START_TEST(test_standardize_rejects)
{
	struct gcdl_dataset a, b, c = { 0 };
	float *copy;

	ck_assert_int_eq(gcdl_dataset_synth_gmm(50, 4, 3, 1.0, 1, 0, &a), 0);
	ck_assert_int_eq(gcdl_dataset_synth_gmm(50, 5, 3, 1.0, 1, 1, &b), 0);
	copy = malloc(sizeof(float) * 200);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, a.x, sizeof(float) * 200);
	ck_assert_int_eq(gcdl_dataset_standardize(NULL, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_standardize(NULL, &a), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_standardize(&c, NULL), -EINVAL); /* empty */
	c.rows = 3;
	c.features = 4; /* x NULL */
	ck_assert_int_eq(gcdl_dataset_standardize(&c, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_standardize(&a, &c), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_standardize(&a, &b), -EINVAL); /* 4 vs 5 features */
	ck_assert(memcmp(copy, a.x, sizeof(float) * 200) == 0);
	free(copy);
	gcdl_dataset_free(&a);
	gcdl_dataset_free(&b);
}
END_TEST

START_TEST(test_standardize)
{
	enum { N = 3000, F = 4, NT = 500 };
	struct gcdl_dataset tr, te;
	double mean[F] = { 0 }, sd[F] = { 0 };
	float *test_orig;

	ck_assert_int_eq(gcdl_dataset_synth_gmm(N, F, 3, 5.0, 11, 0, &tr), 0);
	ck_assert_int_eq(gcdl_dataset_synth_gmm(NT, F, 3, 5.0, 11, 1, &te), 0);
	/* feature 1: scaled up and shifted; feature 3: constant */
	for (int i = 0; i < N; i++) {
		tr.x[i * F + 1] = tr.x[i * F + 1] * 40.0f + 1000.0f;
		tr.x[i * F + 3] = 7.0f;
	}
	for (int i = 0; i < NT; i++)
		te.x[i * F + 1] = te.x[i * F + 1] * 40.0f + 1000.0f;
	for (int i = 0; i < N; i++)
		for (int j = 0; j < F; j++)
			mean[j] += tr.x[i * F + j] / (double)N;
	for (int i = 0; i < N; i++)
		for (int j = 0; j < F; j++)
			sd[j] += pow(tr.x[i * F + j] - mean[j], 2) / N;
	for (int j = 0; j < F; j++)
		sd[j] = sqrt(sd[j]);
	ck_assert_double_gt(sd[1], 10.0);
	test_orig = malloc(sizeof(float) * NT * F);
	ck_assert_ptr_nonnull(test_orig);
	memcpy(test_orig, te.x, sizeof(float) * NT * F);

	ck_assert_int_eq(gcdl_dataset_standardize(&tr, &te), 0);
	/* exact up to float rounding: mean within 1e-5, std within 1e-4 */
	for (int j = 0; j < F; j++) {
		double m = 0, v = 0;

		for (int i = 0; i < N; i++)
			m += tr.x[i * F + j];
		m /= N;
		for (int i = 0; i < N; i++)
			v += pow(tr.x[i * F + j] - m, 2);
		v = sqrt(v / N);
		ck_assert_double_lt(fabs(m), 1e-5);
		if (j == 3)
			ck_assert_double_lt(v, 1e-6);
		else
			ck_assert_double_lt(fabs(v - 1.0), 1e-4);
	}
	for (int i = 0; i < N; i++)
		ck_assert_float_eq_tol(tr.x[i * F + 3], 0.0f, 1e-6f);
	/* the test set with the training statistics */
	for (int i = 0; i < NT; i++)
		for (int j = 0; j < 3; j++) {
			double want = (test_orig[i * F + j] - mean[j]) / sd[j];

			ck_assert_double_lt(fabs(te.x[i * F + j] - want), 1e-4);
		}
	/* test feature 3 keeps its offset from 7 (std treated as 1) */
	for (int i = 0; i < NT; i++)
		ck_assert_float_eq_tol(te.x[i * F + 3], test_orig[i * F + 3] - 7.0f, 1e-4f);
	free(test_orig);
	gcdl_dataset_free(&tr);
	gcdl_dataset_free(&te);
}
END_TEST

START_TEST(test_scale)
{
	struct gcdl_dataset ds, empty = { 0 }, nox = { 0 };
	float orig[60];

	ck_assert_int_eq(gcdl_dataset_synth_gmm(10, 6, 2, 3.0, 1, 0, &ds), 0);
	memcpy(orig, ds.x, sizeof(orig));
	ck_assert_int_eq(gcdl_dataset_scale(NULL, 1.0f), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_scale(&ds, NAN), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_scale(&ds, INFINITY), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_scale(&ds, -INFINITY), -EINVAL);
	nox.rows = 2;
	nox.features = 2;
	ck_assert_int_eq(gcdl_dataset_scale(&nox, 2.0f), -EINVAL);
	ck_assert(memcmp(orig, ds.x, sizeof(orig)) == 0);
	ck_assert_int_eq(gcdl_dataset_scale(&empty, 2.0f), 0);
	ck_assert_int_eq(gcdl_dataset_scale(&ds, 1.0f / 255.0f), 0);
	for (int k = 0; k < 60; k++)
		ck_assert_float_eq(ds.x[k], orig[k] * (1.0f / 255.0f));
	gcdl_dataset_free(&ds);
}
END_TEST

/* ------------------------------------------------------------------ */
/* partitioning                                                       */
/* ------------------------------------------------------------------ */

START_TEST(test_partitioning_parse)
{
	enum gcdl_partitioning p = GCDL_PART__COUNT;

	ck_assert_int_eq(gcdl_partitioning_parse("iid", &p), 0);
	ck_assert_int_eq(p, GCDL_PART_IID);
	ck_assert_int_eq(gcdl_partitioning_parse("label", &p), 0);
	ck_assert_int_eq(p, GCDL_PART_LABEL);
	ck_assert_int_eq(gcdl_partitioning_parse("IID", &p), -EINVAL);
	ck_assert_int_eq(gcdl_partitioning_parse("", &p), -EINVAL);
	ck_assert_int_eq(gcdl_partitioning_parse("labels", &p), -EINVAL);
	ck_assert_int_eq(gcdl_partitioning_parse(NULL, &p), -EINVAL);
	ck_assert_int_eq(gcdl_partitioning_parse("iid", NULL), -EINVAL);
	ck_assert_int_eq(p, GCDL_PART_LABEL);
}
END_TEST

/* Row i: x = (i, 2i + 0.5, -i), y = i % 10; every row can be identified. */
#define PN 1000
#define PF 3
#define PC 10

static void
make_tagged(struct gcdl_dataset *ds)
{
	ds->rows = PN;
	ds->features = PF;
	ds->classes = PC;
	ds->x = malloc(sizeof(float) * PN * PF);
	ds->y = malloc(sizeof(float) * PN);
	ck_assert_ptr_nonnull(ds->x);
	ck_assert_ptr_nonnull(ds->y);
	for (int i = 0; i < PN; i++) {
		ds->x[i * PF] = (float)i;
		ds->x[i * PF + 1] = 2.0f * i + 0.5f;
		ds->x[i * PF + 2] = -(float)i;
		ds->y[i] = (float)(i % PC);
	}
}

/* every row intact and each original row present exactly once */
static void
check_tagged(const struct gcdl_dataset *ds)
{
	unsigned char seen[PN] = { 0 };

	ck_assert_uint_eq(ds->rows, PN);
	for (int i = 0; i < PN; i++) {
		float t = ds->x[i * PF];
		int id = (int)t;

		ck_assert(t >= 0 && t < PN && t == (float)id);
		ck_assert(!seen[id]);
		seen[id] = 1;
		ck_assert_float_eq(ds->x[i * PF + 1], 2.0f * id + 0.5f);
		ck_assert_float_eq(ds->x[i * PF + 2], -(float)id);
		ck_assert_float_eq(ds->y[i], (float)(id % PC));
	}
}

static void
check_offsets(const uint32_t *off, uint32_t parts, uint32_t rows)
{
	uint32_t lo = UINT32_MAX, hi = 0;

	ck_assert_uint_eq(off[0], 0);
	ck_assert_uint_eq(off[parts], rows);
	for (uint32_t p = 0; p < parts; p++) {
		uint32_t sz = off[p + 1] - off[p];

		ck_assert_uint_le(off[p], off[p + 1]);
		lo = sz < lo ? sz : lo;
		hi = sz > hi ? sz : hi;
	}
	ck_assert_uint_le(hi - lo, 1);
	ck_assert_uint_ge(lo, 1);
}

static uint32_t
classes_in(const struct gcdl_dataset *ds, uint32_t from, uint32_t to)
{
	int present[PC] = { 0 };
	uint32_t n = 0;

	for (uint32_t i = from; i < to; i++)
		present[(int)ds->y[i]] = 1;
	for (int c = 0; c < PC; c++)
		n += (uint32_t)present[c];
	return n;
}

START_TEST(test_partition_rejects)
{
	struct gcdl_dataset ds, reg;
	float *cx, *cy;
	uint32_t off[PN + 2];

	make_tagged(&ds);
	cx = malloc(sizeof(float) * PN * PF);
	cy = malloc(sizeof(float) * PN);
	ck_assert_ptr_nonnull(cx);
	ck_assert_ptr_nonnull(cy);
	memcpy(cx, ds.x, sizeof(float) * PN * PF);
	memcpy(cy, ds.y, sizeof(float) * PN);
	ck_assert_int_eq(gcdl_dataset_partition(NULL, 4, GCDL_PART_IID, 1, off), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_partition(&ds, 4, GCDL_PART_IID, 1, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_partition(&ds, 0, GCDL_PART_IID, 1, off), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_partition(&ds, PN + 1, GCDL_PART_IID, 1, off), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_partition(&ds, 4, GCDL_PART__COUNT, 1, off), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_partition(&ds, 4, (enum gcdl_partitioning)-1, 1, off),
			 -EINVAL);
	/* no feature columns */
	ds.features = 0;
	ck_assert_int_eq(gcdl_dataset_partition(&ds, 4, GCDL_PART_IID, 1, off), -EINVAL);
	ds.features = PF;
	/* labels outside [0, classes) */
	ds.y[17] = 10.0f;
	ck_assert_int_eq(gcdl_dataset_partition(&ds, 4, GCDL_PART_LABEL, 1, off), -EINVAL);
	ds.y[17] = -1.0f;
	ck_assert_int_eq(gcdl_dataset_partition(&ds, 4, GCDL_PART_LABEL, 1, off), -EINVAL);
	ds.y[17] = 2.5f;
	ck_assert_int_eq(gcdl_dataset_partition(&ds, 4, GCDL_PART_LABEL, 1, off), -EINVAL);
	ds.y[17] = NAN;
	ck_assert_int_eq(gcdl_dataset_partition(&ds, 4, GCDL_PART_LABEL, 1, off), -EINVAL);
	ds.y[17] = cy[17];
	ck_assert(memcmp(cx, ds.x, sizeof(float) * PN * PF) == 0);
	ck_assert(memcmp(cy, ds.y, sizeof(float) * PN) == 0);
	/* label partitioning of a regression set */
	ck_assert_int_eq(gcdl_dataset_synth_linear(50, 2, 0.1, 1, &reg), 0);
	ck_assert_int_eq(gcdl_dataset_partition(&reg, 4, GCDL_PART_LABEL, 1, off), -EINVAL);
	ck_assert_int_eq(gcdl_dataset_partition(&reg, 4, GCDL_PART_IID, 1, off), 0);
	check_offsets(off, 4, 50);
	gcdl_dataset_free(&reg);
	free(cx);
	free(cy);
	gcdl_dataset_free(&ds);
}
END_TEST

START_TEST(test_partition_iid)
{
	struct gcdl_dataset ds, again, other;
	uint32_t off[8], off2[8], moved = 0;

	make_tagged(&ds);
	ck_assert_int_eq(gcdl_dataset_partition(&ds, 7, GCDL_PART_IID, 99, off), 0);
	check_offsets(off, 7, PN);
	/* 1000 = 6 * 143 + 142 */
	ck_assert_uint_eq(off[1], 143);
	ck_assert_uint_eq(off[6], 6 * 143);
	check_tagged(&ds);
	for (int i = 0; i < PN; i++)
		moved += ds.x[i * PF] != (float)i;
	/* a random permutation leaves ~1 fixed point */
	ck_assert_uint_gt(moved, 950);
	/* mixed: a class misses a random 143-row slice with probability
	 * 0.9^143 = 3e-7, so each partition holds all 10 classes */
	for (int p = 0; p < 7; p++)
		ck_assert_uint_eq(classes_in(&ds, off[p], off[p + 1]), PC);

	make_tagged(&again);
	make_tagged(&other);
	ck_assert_int_eq(gcdl_dataset_partition(&again, 7, GCDL_PART_IID, 99, off2), 0);
	ck_assert(memcmp(off, off2, sizeof(off)) == 0);
	ck_assert(same_data(&ds, &again));
	ck_assert_int_eq(gcdl_dataset_partition(&other, 7, GCDL_PART_IID, 100, off2), 0);
	ck_assert(memcmp(ds.x, other.x, sizeof(float) * PN * PF) != 0);
	check_tagged(&other);

	/* M = 1 and M = rows */
	ck_assert_int_eq(gcdl_dataset_partition(&again, 1, GCDL_PART_IID, 3, off2), 0);
	ck_assert_uint_eq(off2[0], 0);
	ck_assert_uint_eq(off2[1], PN);
	check_tagged(&again);
	{
		uint32_t *all = malloc(sizeof(uint32_t) * (PN + 1));

		ck_assert_ptr_nonnull(all);
		ck_assert_int_eq(gcdl_dataset_partition(&again, PN, GCDL_PART_IID, 3, all), 0);
		for (uint32_t i = 0; i <= PN; i++)
			ck_assert_uint_eq(all[i], i);
		check_tagged(&again);
		free(all);
	}
	gcdl_dataset_free(&ds);
	gcdl_dataset_free(&again);
	gcdl_dataset_free(&other);
}
END_TEST

START_TEST(test_partition_label)
{
	struct gcdl_dataset ds, again;
	uint32_t off[21], off2[21];
	int descents = 0;

	/* M = classes: partition p is exactly class p */
	make_tagged(&ds);
	ck_assert_int_eq(gcdl_dataset_partition(&ds, 10, GCDL_PART_LABEL, 5, off), 0);
	check_offsets(off, 10, PN);
	check_tagged(&ds);
	for (int p = 0; p < 10; p++) {
		ck_assert_uint_eq(off[p + 1] - off[p], 100);
		for (uint32_t i = off[p]; i < off[p + 1]; i++)
			ck_assert_float_eq(ds.y[i], (float)p);
	}
	/* shuffled within the class: ascending ids would have no descent */
	for (uint32_t i = off[0] + 1; i < off[1]; i++)
		descents += ds.x[i * PF] < ds.x[(i - 1) * PF];
	ck_assert_int_gt(descents, 10);
	make_tagged(&again);
	ck_assert_int_eq(gcdl_dataset_partition(&again, 10, GCDL_PART_LABEL, 5, off2), 0);
	ck_assert(same_data(&ds, &again));
	gcdl_dataset_free(&again);
	make_tagged(&again);
	ck_assert_int_eq(gcdl_dataset_partition(&again, 10, GCDL_PART_LABEL, 6, off2), 0);
	ck_assert(memcmp(ds.x, again.x, sizeof(float) * PN * PF) != 0);
	ck_assert(memcmp(ds.y, again.y, sizeof(float) * PN) == 0);
	gcdl_dataset_free(&again);
	gcdl_dataset_free(&ds);

	/* M = 2 * classes: two partitions per class */
	make_tagged(&ds);
	ck_assert_int_eq(gcdl_dataset_partition(&ds, 20, GCDL_PART_LABEL, 5, off), 0);
	check_offsets(off, 20, PN);
	check_tagged(&ds);
	for (int p = 0; p < 20; p++)
		for (uint32_t i = off[p]; i < off[p + 1]; i++)
			ck_assert_float_eq(ds.y[i], (float)(p / 2));
	gcdl_dataset_free(&ds);

	/* M = 13: slices of 76-77 rows in class order hold one or two classes */
	make_tagged(&ds);
	ck_assert_int_eq(gcdl_dataset_partition(&ds, 13, GCDL_PART_LABEL, 5, off), 0);
	check_offsets(off, 13, PN);
	check_tagged(&ds);
	for (int p = 0; p < 13; p++) {
		uint32_t k = classes_in(&ds, off[p], off[p + 1]);

		ck_assert(k == 1 || k == 2);
	}
	for (int i = 1; i < PN; i++)
		ck_assert(ds.y[i - 1] <= ds.y[i]);
	gcdl_dataset_free(&ds);

	/* M = 3 < classes: still sorted by class */
	make_tagged(&ds);
	ck_assert_int_eq(gcdl_dataset_partition(&ds, 3, GCDL_PART_LABEL, 5, off), 0);
	check_offsets(off, 3, PN);
	check_tagged(&ds);
	for (int i = 1; i < PN; i++)
		ck_assert(ds.y[i - 1] <= ds.y[i]);
	gcdl_dataset_free(&ds);
}
END_TEST

static Suite *
dataset_suite(void)
{
	Suite *s = suite_create("dataset");
	TCase *neg = tcase_create("rejections");
	TCase *pos = tcase_create("behaviour");

	tcase_set_timeout(neg, 60);
	tcase_set_timeout(pos, 120);
	tcase_add_test(neg, test_idx_null_args);
	tcase_add_test(neg, test_idx_missing_file);
	tcase_add_test(neg, test_idx_no_access);
	tcase_add_test(neg, test_idx_read_error);
	tcase_add_test(neg, test_idx_bad_magic);
	tcase_add_test(neg, test_idx_labels_wrong_magic);
	tcase_add_test(neg, test_idx_bad_dims);
	tcase_add_test(neg, test_idx_absurd_dims);
	tcase_add_test(neg, test_idx_truncated_images);
	tcase_add_test(neg, test_idx_truncated_labels);
	tcase_add_test(neg, test_idx_trailing_garbage);
	tcase_add_test(neg, test_idx_count_mismatch);
	tcase_add_test(neg, test_idx_corrupt_gzip);
	tcase_add_test(neg, test_idx_truncated_gzip);
	tcase_add_test(neg, test_svm_null_missing);
	tcase_add_test(neg, test_svm_malformed);
	tcase_add_test(neg, test_svm_bad_labels_and_empty);
	tcase_add_test(neg, test_synth_rejects);
	tcase_add_test(neg, test_standardize_rejects);
	tcase_add_test(neg, test_partition_rejects);
	suite_add_tcase(s, neg);

	tcase_add_test(pos, test_idx_tiny_exact);
	tcase_add_test(pos, test_idx_multimember_and_classes);
	tcase_add_test(pos, test_idx_fashion_mnist);
	tcase_add_test(pos, test_svm_exact);
	tcase_add_test(pos, test_svm_labels);
	tcase_add_test(pos, test_synth_deterministic);
	tcase_add_test(pos, test_synth_linear_stats);
	tcase_add_test(pos, test_synth_gmm_stats);
	tcase_add_test(pos, test_standardize);
	tcase_add_test(pos, test_scale);
	tcase_add_test(pos, test_partitioning_parse);
	tcase_add_test(pos, test_partition_iid);
	tcase_add_test(pos, test_partition_label);
	suite_add_tcase(s, pos);
	return s;
}

static void
remove_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char p[PATH_MAX];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(tmpdir);
}

int
main(void)
{
	SRunner *sr;
	int failed;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gcdl_test_dataset.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	sr = srunner_create(dataset_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	remove_tmpdir();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
