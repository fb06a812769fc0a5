/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Datasets: IDX (gzip or plain) and LIBSVM loaders, seeded synthetic
 * generators, normalisation and partitioning.
 *
 * IDX files are read through zlib's inflate directly (not gzread) so that a
 * corrupt or cut stream can be reported at the exact uncompressed offset
 * that was reached.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "gcdl/dataset.h"
#include "gcdl/rng.h"
#include "seterr.h"

/* Stream selectors (first selector of gcdl_rng_init) inside GCDL_RNG_DATA. */
#define DS_SEL_LINEAR_MODEL   0x44530001u
#define DS_SEL_LINEAR_SAMPLES 0x44530002u
#define DS_SEL_GMM_MEANS      0x44530003u
#define DS_SEL_GMM_SAMPLES    0x44530004u
#define DS_SEL_PARTITION      0x44530005u

#define IDX_MAX_BYTES   (UINT64_C(1) << 31) /* largest pixel payload accepted */
#define ZIN_SIZE        (256u * 1024u)      /* compressed input buffer */
#define STAGE_SIZE      (256u * 1024u)      /* bytes inflated per conversion step */
#define SVM_MAX_LABEL   65535.0             /* largest class index in LIBSVM files */
#define GMM_MAX_CLASSES (1u << 24)          /* class indices exact in a float */

int
gcdl_partitioning_parse(const char *name, enum gcdl_partitioning *out)
{
	if (name == NULL || out == NULL)
		return -EINVAL;
	if (strcmp(name, "iid") == 0)
		*out = GCDL_PART_IID;
	else if (strcmp(name, "label") == 0)
		*out = GCDL_PART_LABEL;
	else
		return -EINVAL;
	return 0;
}

void
gcdl_dataset_free(struct gcdl_dataset *ds)
{
	if (ds == NULL)
		return;
	free(ds->x);
	free(ds->y);
	memset(ds, 0, sizeof(*ds));
}

/* Allocate x (rows * features) and y (rows); 0 or -ENOMEM, ds untouched on failure. */
static int
ds_alloc(struct gcdl_dataset *ds, uint32_t rows, uint32_t features, int zero)
{
	size_t n = (size_t)rows * features;
	float *x, *y;

	if (n > SIZE_MAX / sizeof(float))
		return -ENOMEM;
	x = zero ? calloc(n, sizeof(float)) : malloc(n * sizeof(float));
	y = zero ? calloc(rows, sizeof(float)) : malloc((size_t)rows * sizeof(float));
	if (x == NULL || y == NULL) {
		free(x);
		free(y);
		return -ENOMEM;
	}
	ds->rows = rows;
	ds->features = features;
	ds->x = x;
	ds->y = y;
	return 0;
}

/*
 * A byte source over a file that is either gzip (one or more members) or
 * plain; the kind is decided by the first two bytes.
 */
struct zsrc {
	const char *path;
	int fd;
	int gzip;          /* 1: inflate, 0: plain copy */
	int zinit;         /* inflateInit2 done */
	int member_end;    /* last inflate returned Z_STREAM_END */
	int done;          /* no more data */
	int eof;           /* read() returned 0 */
	z_stream zs;
	unsigned char *in;
	size_t in_pos, in_len; /* plain mode: unread bytes in[in_pos, in_len) */
	uint64_t in_off;   /* compressed bytes consumed by inflate (all members) */
	uint64_t out_off;  /* uncompressed bytes delivered */
};

static int
zsrc_fill(struct zsrc *s, unsigned char *dst, size_t cap, size_t *got, char *err, size_t errlen)
{
	ssize_t r;

	*got = 0;
	while (*got < cap && !s->eof) {
		r = read(s->fd, dst + *got, cap - *got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			gcdl_seterr(err, errlen, "%s: read error at uncompressed byte %llu: %s", s->path,
			       (unsigned long long)s->out_off, strerror(errno));
			return -EIO;
		}
		if (r == 0)
			s->eof = 1;
		*got += (size_t)r;
		/* one read per call is enough when something arrived */
		if (r > 0)
			break;
	}
	return 0;
}

/* Move the unread input to the front of the buffer and top it up. */
static int
zsrc_refill(struct zsrc *s, char *err, size_t errlen)
{
	size_t got;
	int rc;

	if (s->zs.avail_in > 0 && s->zs.next_in != s->in)
		memmove(s->in, s->zs.next_in, s->zs.avail_in);
	s->zs.next_in = s->in;
	rc = zsrc_fill(s, s->in + s->zs.avail_in, ZIN_SIZE - s->zs.avail_in, &got, err, errlen);
	s->zs.avail_in += (uInt)got;
	return rc;
}

static void
zsrc_close(struct zsrc *s)
{
	if (s->zinit)
		inflateEnd(&s->zs);
	if (s->fd >= 0)
		close(s->fd);
	free(s->in);
	s->fd = -1;
	s->in = NULL;
	s->zinit = 0;
}

static int
zsrc_open(struct zsrc *s, const char *path, char *err, size_t errlen)
{
	size_t got;
	int rc;

	memset(s, 0, sizeof(*s));
	s->path = path;
	s->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0) {
		rc = -errno;
		gcdl_seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	s->in = malloc(ZIN_SIZE);
	if (s->in == NULL) {
		zsrc_close(s);
		gcdl_seterr(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	/* enough bytes to see the gzip magic */
	s->in_len = 0;
	while (s->in_len < 2 && !s->eof) {
		rc = zsrc_fill(s, s->in + s->in_len, ZIN_SIZE - s->in_len, &got, err, errlen);
		if (rc < 0) {
			zsrc_close(s);
			return rc;
		}
		s->in_len += got;
	}
	if (s->in_len >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
		s->gzip = 1;
		s->zs.next_in = s->in;
		s->zs.avail_in = (uInt)s->in_len;
		/* 16 + MAX_WBITS: gzip wrapper only, CRC-32 and length checked */
		if (inflateInit2(&s->zs, 16 + MAX_WBITS) != Z_OK) {
			zsrc_close(s);
			gcdl_seterr(err, errlen, "%s: out of memory", path);
			return -ENOMEM;
		}
		s->zinit = 1;
	}
	return 0;
}

/* Plain files: copy from the buffered head, then read() straight into buf. */
static int
zsrc_read_plain(struct zsrc *s, unsigned char *buf, size_t len, size_t *got, char *err,
		size_t errlen)
{
	size_t n;
	int rc;

	*got = 0;
	while (*got < len && !s->done) {
		if (s->in_pos < s->in_len) {
			n = s->in_len - s->in_pos;
			if (n > len - *got)
				n = len - *got;
			memcpy(buf + *got, s->in + s->in_pos, n);
			s->in_pos += n;
		} else {
			rc = zsrc_fill(s, buf + *got, len - *got, &n, err, errlen);
			if (rc < 0)
				return rc;
			if (n == 0 && s->eof)
				s->done = 1;
		}
		*got += n;
		s->out_off += n;
	}
	return 0;
}

static int
zsrc_read_gzip(struct zsrc *s, unsigned char *buf, size_t len, size_t *got, char *err,
	       size_t errlen)
{
	uLong in0, out0;
	int ret, rc;

	*got = 0;
	while (*got < len && !s->done) {
		if (s->member_end) {
			/* another gzip member may follow (as gzip -c a b > c makes) */
			while (s->zs.avail_in < 2 && !s->eof) {
				rc = zsrc_refill(s, err, errlen);
				if (rc < 0)
					return rc;
			}
			if (s->zs.avail_in == 0) {
				s->done = 1;
				break;
			}
			if (s->zs.avail_in < 2 || s->zs.next_in[0] != 0x1f ||
			    s->zs.next_in[1] != 0x8b) {
				gcdl_seterr(err, errlen,
				       "%s: corrupt gzip stream: garbage after the gzip data at compressed byte %llu",
				       s->path, (unsigned long long)s->in_off);
				return -EBADMSG;
			}
			if (inflateReset(&s->zs) != Z_OK) {
				gcdl_seterr(err, errlen, "%s: inflateReset failed", s->path);
				return -EBADMSG;
			}
			s->member_end = 0;
		}
		if (s->zs.avail_in == 0 && !s->eof) {
			rc = zsrc_refill(s, err, errlen);
			if (rc < 0)
				return rc;
		}
		{
			size_t want = len - *got;

			if (want > UINT_MAX)
				want = UINT_MAX;
			s->zs.next_out = buf + *got;
			s->zs.avail_out = (uInt)want;
		}
		in0 = s->zs.avail_in;
		out0 = s->zs.avail_out;
		ret = inflate(&s->zs, Z_NO_FLUSH);
		s->in_off += in0 - s->zs.avail_in;
		*got += out0 - s->zs.avail_out;
		s->out_off += out0 - s->zs.avail_out;
		switch (ret) {
		case Z_OK:
			break;
		case Z_STREAM_END:
			s->member_end = 1;
			break;
		case Z_BUF_ERROR:
			/* no progress possible: only fatal when the input is exhausted */
			if (s->zs.avail_in == 0 && s->eof) {
				gcdl_seterr(err, errlen,
				       "%s: gzip stream truncated at uncompressed byte %llu (compressed byte %llu)",
				       s->path, (unsigned long long)s->out_off,
				       (unsigned long long)s->in_off);
				return -EBADMSG;
			}
			break;
		case Z_MEM_ERROR:
			gcdl_seterr(err, errlen, "%s: out of memory in inflate", s->path);
			return -ENOMEM;
		default: /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
			gcdl_seterr(err, errlen,
			       "%s: corrupt gzip stream at uncompressed byte %llu (compressed byte %llu): %s",
			       s->path, (unsigned long long)s->out_off,
			       (unsigned long long)s->in_off,
			       s->zs.msg != NULL ? s->zs.msg : "inflate error");
			return -EBADMSG;
		}
	}
	return 0;
}

/* Read up to len bytes; *got < len only at the clean end of the data. */
static int
zsrc_read(struct zsrc *s, void *buf, size_t len, size_t *got, char *err, size_t errlen)
{
	if (s->gzip)
		return zsrc_read_gzip(s, buf, len, got, err, errlen);
	return zsrc_read_plain(s, buf, len, got, err, errlen);
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read an IDX header of 4 + 4 * ndims bytes and check its magic; dims out. */
static int
idx_header(struct zsrc *s, uint32_t ndims, uint32_t *dims, char *err, size_t errlen)
{
	unsigned char h[16];
	size_t hlen = 4 + 4 * (size_t)ndims, got;
	int rc;

	rc = zsrc_read(s, h, hlen, &got, err, errlen);
	if (rc < 0)
		return rc;
	if (got < hlen) {
		gcdl_seterr(err, errlen, "%s: truncated at byte %zu (expected an IDX%u header of %zu bytes)",
		       s->path, got, ndims, hlen);
		return -EBADMSG;
	}
	if (h[0] != 0 || h[1] != 0) {
		gcdl_seterr(err, errlen,
		       "%s: bad IDX magic 0x%08x at byte 0 (expected 0x%08x, IDX%u of unsigned bytes)",
		       s->path, be32(h), 0x800u | ndims, ndims);
		return -EBADMSG;
	}
	if (h[2] != 0x08) {
		gcdl_seterr(err, errlen,
		       "%s: unsupported IDX data type 0x%02x at byte 2 (only unsigned byte 0x08)",
		       s->path, h[2]);
		return -EBADMSG;
	}
	if (h[3] != ndims) {
		gcdl_seterr(err, errlen, "%s: IDX file has %u dimensions at byte 3 (expected %u)",
		       s->path, h[3], ndims);
		return -EBADMSG;
	}
	for (uint32_t i = 0; i < ndims; i++) {
		dims[i] = be32(h + 4 + 4 * i);
		if (dims[i] == 0) {
			gcdl_seterr(err, errlen, "%s: IDX dimension %u is zero (byte %u)", s->path, i,
			       4 + 4 * i);
			return -EBADMSG;
		}
	}
	return 0;
}

/*
 * Inflate count bytes and store them as floats in dst; then require the end
 * of the file (this also makes inflate check the gzip CRC and length).
 */
static int
idx_bytes_to_floats(struct zsrc *s, unsigned char *stage, float *dst, uint64_t count,
		    uint64_t hdr, const char *what, uint8_t *maxval, char *err, size_t errlen)
{
	uint64_t done = 0;
	unsigned char extra;
	uint8_t mx = 0;
	size_t got;
	int rc;

	while (done < count) {
		size_t want = count - done > STAGE_SIZE ? STAGE_SIZE : (size_t)(count - done);

		rc = zsrc_read(s, stage, want, &got, err, errlen);
		if (rc < 0)
			return rc;
		/* plain loops: the compiler vectorises both */
		for (size_t i = 0; i < got; i++)
			dst[done + i] = (float)stage[i];
		for (size_t i = 0; i < got; i++)
			mx = stage[i] > mx ? stage[i] : mx;
		done += got;
		if (got < want) {
			gcdl_seterr(err, errlen,
			       "%s: truncated at byte %llu of %llu (expected %llu bytes of %s)",
			       s->path, (unsigned long long)(hdr + done),
			       (unsigned long long)(hdr + count), (unsigned long long)count, what);
			return -EBADMSG;
		}
	}
	rc = zsrc_read(s, &extra, 1, &got, err, errlen);
	if (rc < 0)
		return rc;
	if (got != 0) {
		gcdl_seterr(err, errlen, "%s: trailing data at byte %llu (the IDX data ends there)",
		       s->path, (unsigned long long)(hdr + count));
		return -EBADMSG;
	}
	if (maxval != NULL)
		*maxval = mx;
	return 0;
}

int
gcdl_dataset_load_idx(const char *images_path, const char *labels_path, uint32_t classes,
		      struct gcdl_dataset *out, char *err, size_t errlen)
{
	struct zsrc img = { .fd = -1 }, lab = { .fd = -1 };
	struct gcdl_dataset ds = { 0 };
	unsigned char *stage = NULL;
	uint32_t idim[3], ldim[1];
	uint64_t pixels;
	uint8_t maxlabel = 0;
	int rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (images_path == NULL || labels_path == NULL || out == NULL) {
		gcdl_seterr(err, errlen, "load_idx: NULL argument");
		return -EINVAL;
	}
	if (classes < 2 || classes > 256) {
		gcdl_seterr(err, errlen, "load_idx: %u classes (an IDX label is a byte: 2..256)",
			    classes);
		return -EINVAL;
	}

	rc = zsrc_open(&img, images_path, err, errlen);
	if (rc < 0)
		goto fail;
	rc = idx_header(&img, 3, idim, err, errlen);
	if (rc < 0)
		goto fail;
	/* each factor < 2^32, so checking after every product cannot overflow */
	pixels = (uint64_t)idim[1] * idim[2];
	if (pixels > IDX_MAX_BYTES || (pixels *= idim[0]) > IDX_MAX_BYTES) {
		gcdl_seterr(err, errlen, "%s: IDX dimensions %u x %u x %u exceed the %llu-byte limit",
		       images_path, idim[0], idim[1], idim[2],
		       (unsigned long long)IDX_MAX_BYTES);
		rc = -EBADMSG;
		goto fail;
	}

	rc = zsrc_open(&lab, labels_path, err, errlen);
	if (rc < 0)
		goto fail;
	rc = idx_header(&lab, 1, ldim, err, errlen);
	if (rc < 0)
		goto fail;
	if (ldim[0] != idim[0]) {
		gcdl_seterr(err, errlen, "%s: %u labels for %u images in %s", labels_path, ldim[0],
		       idim[0], images_path);
		rc = -EBADMSG;
		goto fail;
	}

	stage = malloc(STAGE_SIZE);
	if (stage == NULL || ds_alloc(&ds, idim[0], idim[1] * idim[2], 0) < 0) {
		gcdl_seterr(err, errlen, "%s: out of memory for %u x %u x %u images", images_path,
		       idim[0], idim[1], idim[2]);
		rc = -ENOMEM;
		goto fail;
	}
	rc = idx_bytes_to_floats(&lab, stage, ds.y, ldim[0], 8, "label data", &maxlabel, err,
				 errlen);
	if (rc < 0)
		goto fail;
	if (maxlabel >= classes) {
		uint32_t r = 0;

		while (ds.y[r] < (float)classes)
			r++;
		gcdl_seterr(err, errlen, "%s: record %u (byte %llu): label %u is outside the %u "
			    "declared classes (0..%u)", labels_path, r, 8ULL + r, (unsigned)ds.y[r],
			    classes, classes - 1);
		rc = -EBADMSG;
		goto fail;
	}
	rc = idx_bytes_to_floats(&img, stage, ds.x, pixels, 16, "pixel data", NULL, err, errlen);
	if (rc < 0)
		goto fail;

	ds.classes = classes;
	free(stage);
	zsrc_close(&img);
	zsrc_close(&lab);
	*out = ds;
	return 0;

fail:
	free(stage);
	gcdl_dataset_free(&ds);
	zsrc_close(&img);
	zsrc_close(&lab);
	return rc;
}

/* ---- LIBSVM ---- */

struct svm_acc {
	uint32_t *idx;     /* feature index (1-based) of every stored value */
	float *val;
	size_t nent, cap_ent;
	size_t *row_end;   /* entries of row r end at row_end[r] */
	double *label;
	size_t rows, cap_rows;
	uint32_t max_index;
	unsigned long bad_class_line;  /* first label that is not a class index */
	unsigned long not_pm1_line;    /* first label other than -1 / +1 */
	double bad_class_label;
	uint32_t classes;              /* declared class count (0: from the labels) */
	unsigned long over_line;       /* first class label >= classes */
	double over_label;
};

static int
grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 1024;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			return -ENOMEM;
		ncap *= 2;
	}
	np = realloc(*p, ncap * elem);
	if (np == NULL)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

static int
svm_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == '\n';
}

/* Parse one non-comment line; the message names path:line. */
static int
svm_line(struct svm_acc *a, char *line, const char *path, unsigned long lineno,
	 uint32_t features, char *err, size_t errlen)
{
	char *p = line, *tok, *end, *colon;
	uint32_t prev = 0;
	double label;
	size_t cap;

	while (svm_isspace(*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;

	tok = p;
	while (*p != '\0' && !svm_isspace(*p))
		p++;
	if (*p != '\0')
		*p++ = '\0';
	label = strtod(tok, &end);
	if (end == tok || *end != '\0' || !isfinite(label) || fabs(label) > FLT_MAX) {
		gcdl_seterr(err, errlen, "%s:%lu: bad label '%.40s'", path, lineno, tok);
		return -EBADMSG;
	}
	if (a->rows == UINT32_MAX) {
		gcdl_seterr(err, errlen, "%s:%lu: more than %u rows", path, lineno, UINT32_MAX);
		return -EBADMSG;
	}

	for (;;) {
		uint64_t idx = 0;
		double v;

		while (svm_isspace(*p))
			p++;
		if (*p == '\0' || *p == '#')
			break;
		tok = p;
		while (*p != '\0' && !svm_isspace(*p))
			p++;
		if (*p != '\0')
			*p++ = '\0';
		colon = strchr(tok, ':');
		if (colon == NULL) {
			gcdl_seterr(err, errlen, "%s:%lu: missing ':' in '%.40s' (expected index:value)",
			       path, lineno, tok);
			return -EBADMSG;
		}
		if (colon == tok) {
			gcdl_seterr(err, errlen, "%s:%lu: missing index in '%.40s'", path, lineno, tok);
			return -EBADMSG;
		}
		for (char *q = tok; q < colon; q++) {
			if (*q < '0' || *q > '9') {
				gcdl_seterr(err, errlen, "%s:%lu: bad index in '%.40s'", path, lineno,
				       tok);
				return -EBADMSG;
			}
			idx = idx * 10 + (uint64_t)(*q - '0');
			if (idx > UINT32_MAX) {
				gcdl_seterr(err, errlen, "%s:%lu: index too large in '%.40s'", path,
				       lineno, tok);
				return -EBADMSG;
			}
		}
		if (idx == 0) {
			gcdl_seterr(err, errlen, "%s:%lu: index 0 in '%.40s' (indices are 1-based)",
			       path, lineno, tok);
			return -EBADMSG;
		}
		if (idx <= prev) {
			gcdl_seterr(err, errlen,
			       "%s:%lu: index %llu after %u (indices must strictly increase)", path,
			       lineno, (unsigned long long)idx, prev);
			return -EBADMSG;
		}
		if (features != 0 && idx > features) {
			gcdl_seterr(err, errlen, "%s:%lu: index %llu beyond the %u features", path,
			       lineno, (unsigned long long)idx, features);
			return -EBADMSG;
		}
		v = strtod(colon + 1, &end);
		if (end == colon + 1 || *end != '\0' || !isfinite(v) || fabs(v) > FLT_MAX) {
			gcdl_seterr(err, errlen, "%s:%lu: bad value in '%.40s'", path, lineno, tok);
			return -EBADMSG;
		}
		prev = (uint32_t)idx;
		cap = a->cap_ent;
		if (grow((void **)&a->idx, &cap, a->nent + 1, sizeof(*a->idx)) < 0 ||
		    grow((void **)&a->val, &a->cap_ent, a->nent + 1, sizeof(*a->val)) < 0) {
			gcdl_seterr(err, errlen, "%s:%lu: out of memory", path, lineno);
			return -ENOMEM;
		}
		a->idx[a->nent] = (uint32_t)idx;
		a->val[a->nent] = (float)v;
		a->nent++;
	}
	if (prev > a->max_index)
		a->max_index = prev;

	cap = a->cap_rows;
	if (grow((void **)&a->row_end, &cap, a->rows + 1, sizeof(*a->row_end)) < 0 ||
	    grow((void **)&a->label, &a->cap_rows, a->rows + 1, sizeof(*a->label)) < 0) {
		gcdl_seterr(err, errlen, "%s:%lu: out of memory", path, lineno);
		return -ENOMEM;
	}
	a->row_end[a->rows] = a->nent;
	a->label[a->rows] = label;
	a->rows++;
	if (a->bad_class_line == 0 &&
	    (label < 0 || label > SVM_MAX_LABEL || label != floor(label))) {
		a->bad_class_line = lineno;
		a->bad_class_label = label;
	}
	if (a->not_pm1_line == 0 && label != 1.0 && label != -1.0)
		a->not_pm1_line = lineno;
	if (a->over_line == 0 && a->classes != 0 && label >= a->classes) {
		a->over_line = lineno;
		a->over_label = label;
	}
	return 0;
}

int
gcdl_dataset_load_libsvm(const char *path, uint32_t features, uint32_t classes,
			 int regression, struct gcdl_dataset *out, char *err, size_t errlen)
{
	struct svm_acc a = { .classes = regression ? 0 : classes };
	struct gcdl_dataset ds = { 0 };
	unsigned long lineno = 0;
	char *line = NULL;
	size_t linecap = 0;
	ssize_t len;
	FILE *f = NULL;
	int rc = 0;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (path == NULL || out == NULL) {
		gcdl_seterr(err, errlen, "load_libsvm: NULL argument");
		return -EINVAL;
	}
	if (classes == 1 || classes > SVM_MAX_LABEL + 1) {
		gcdl_seterr(err, errlen, "load_libsvm: %u classes (0, or 2..%.0f)", classes,
			    SVM_MAX_LABEL + 1);
		return -EINVAL;
	}
	f = fopen(path, "re");
	if (f == NULL) {
		rc = -errno;
		gcdl_seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	for (;;) {
		/* getline does not set the stream error on ENOMEM */
		errno = 0;
		len = getline(&line, &linecap, f);
		if (len < 0)
			break;
		lineno++;
		if (memchr(line, '\0', (size_t)len) != NULL) {
			gcdl_seterr(err, errlen, "%s:%lu: NUL byte in line", path, lineno);
			rc = -EBADMSG;
			goto out;
		}
		rc = svm_line(&a, line, path, lineno, features, err, errlen);
		if (rc < 0)
			goto out;
	}
	if (ferror(f) || errno == ENOMEM) {
		rc = errno == ENOMEM ? -ENOMEM : -EIO;
		gcdl_seterr(err, errlen, "%s:%lu: read error: %s", path, lineno + 1,
		       strerror(errno ? errno : EIO));
		goto out;
	}
	if (a.rows == 0) {
		gcdl_seterr(err, errlen, "%s: no data rows", path);
		rc = -EBADMSG;
		goto out;
	}
	if (features == 0)
		features = a.max_index;
	if (features == 0) {
		gcdl_seterr(err, errlen, "%s: no feature index in any row (pass the feature count)",
		       path);
		rc = -EBADMSG;
		goto out;
	}
	if (!regression && a.bad_class_line != 0 && a.not_pm1_line != 0) {
		gcdl_seterr(err, errlen,
		       "%s:%lu: label %g is not a class index (classification needs integer labels "
		       "0..%.0f or exactly -1/+1; use regression mode for real targets)",
		       path, a.bad_class_line, a.bad_class_label, SVM_MAX_LABEL);
		rc = -EBADMSG;
		goto out;
	}
	/* class indices beyond the declared classes (binary -1/+1 fits any) */
	if (!regression && a.bad_class_line == 0 && a.over_line != 0) {
		gcdl_seterr(err, errlen, "%s:%lu: label %.0f is outside the %u declared classes "
			    "(0..%u)", path, a.over_line, a.over_label, classes, classes - 1);
		rc = -EBADMSG;
		goto out;
	}
	if (ds_alloc(&ds, (uint32_t)a.rows, features, 1) < 0) {
		gcdl_seterr(err, errlen, "%s: out of memory for %zu x %u values", path, a.rows,
		       features);
		rc = -ENOMEM;
		goto out;
	}
	for (size_t r = 0, e = 0; r < a.rows; r++) {
		float *row = ds.x + r * features;

		for (; e < a.row_end[r]; e++)
			row[a.idx[e] - 1] = a.val[e];
	}
	if (regression) {
		ds.classes = 0;
		for (size_t r = 0; r < a.rows; r++)
			ds.y[r] = (float)a.label[r];
	} else if (a.bad_class_line == 0) {
		double mx = 0;

		for (size_t r = 0; r < a.rows; r++) {
			ds.y[r] = (float)a.label[r];
			mx = a.label[r] > mx ? a.label[r] : mx;
		}
		ds.classes = classes != 0 ? classes : (uint32_t)mx + 1;
	} else {
		/* all labels are -1 or +1 (and some -1): the binary convention */
		for (size_t r = 0; r < a.rows; r++)
			ds.y[r] = a.label[r] > 0 ? 1.0f : 0.0f;
		ds.classes = classes != 0 ? classes : 2;
	}
	*out = ds;
	rc = 0;
out:
	if (rc < 0)
		gcdl_dataset_free(&ds);
	free(line);
	free(a.idx);
	free(a.val);
	free(a.row_end);
	free(a.label);
	fclose(f);
	return rc;
}

/* ---- synthetic data ---- */

int
gcdl_dataset_synth_linear(uint32_t rows, uint32_t features, double noise, uint64_t seed,
			  struct gcdl_dataset *out)
{
	struct gcdl_dataset ds = { 0 };
	struct gcdl_rng model, samples;
	double *w, b;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (out == NULL || rows == 0 || features == 0 || !(noise >= 0) || !isfinite(noise))
		return -EINVAL;
	w = malloc((size_t)features * sizeof(*w));
	if (w == NULL || ds_alloc(&ds, rows, features, 0) < 0) {
		free(w);
		return -ENOMEM;
	}
	gcdl_rng_init(&model, seed, GCDL_RNG_DATA, DS_SEL_LINEAR_MODEL, 0);
	for (uint32_t j = 0; j < features; j++)
		w[j] = gcdl_rng_normal(&model);
	b = gcdl_rng_normal(&model);

	gcdl_rng_init(&samples, seed, GCDL_RNG_DATA, DS_SEL_LINEAR_SAMPLES, 0);
	for (uint32_t i = 0; i < rows; i++) {
		float *row = ds.x + (size_t)i * features;
		double dot = b;

		for (uint32_t j = 0; j < features; j++) {
			row[j] = (float)gcdl_rng_normal(&samples);
			dot += (double)row[j] * w[j];
		}
		/* drawn even when noise = 0, so x does not depend on noise */
		ds.y[i] = (float)(dot + noise * gcdl_rng_normal(&samples));
	}
	free(w);
	ds.classes = 0;
	*out = ds;
	return 0;
}

int
gcdl_dataset_synth_gmm(uint32_t rows, uint32_t features, uint32_t classes, double sep,
		       uint64_t seed, uint32_t sample_stream, struct gcdl_dataset *out)
{
	struct gcdl_dataset ds = { 0 };
	struct gcdl_rng means, samples;
	size_t nmu;
	double *mu;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (out == NULL || rows == 0 || features == 0 || classes < 2 ||
	    classes > GMM_MAX_CLASSES || !(sep > 0) || !isfinite(sep))
		return -EINVAL;
	nmu = (size_t)classes * features;
	if (nmu > SIZE_MAX / sizeof(*mu))
		return -ENOMEM;
	mu = malloc(nmu * sizeof(*mu));
	if (mu == NULL || ds_alloc(&ds, rows, features, 0) < 0) {
		free(mu);
		return -ENOMEM;
	}
	gcdl_rng_init(&means, seed, GCDL_RNG_DATA, DS_SEL_GMM_MEANS, 0);
	for (size_t k = 0; k < nmu; k++)
		mu[k] = sep * gcdl_rng_normal(&means);

	gcdl_rng_init(&samples, seed, GCDL_RNG_DATA, DS_SEL_GMM_SAMPLES, sample_stream);
	for (uint32_t i = 0; i < rows; i++) {
		uint32_t c = gcdl_rng_below(&samples, classes);
		const double *m = mu + (size_t)c * features;
		float *row = ds.x + (size_t)i * features;

		for (uint32_t j = 0; j < features; j++)
			row[j] = (float)(m[j] + gcdl_rng_normal(&samples));
		ds.y[i] = (float)c;
	}
	free(mu);
	ds.classes = classes;
	*out = ds;
	return 0;
}

/* ---- normalisation ---- */

int
gcdl_dataset_standardize(struct gcdl_dataset *train, struct gcdl_dataset *test)
{
	uint32_t nf;
	double *mean, *scale;

	if (train == NULL || train->rows == 0 || train->features == 0 || train->x == NULL)
		return -EINVAL;
	nf = train->features;
	if (test != NULL &&
	    (test->features != nf || (test->rows > 0 && test->x == NULL)))
		return -EINVAL;
	mean = calloc(nf, sizeof(*mean));
	scale = calloc(nf, sizeof(*scale));
	if (mean == NULL || scale == NULL) {
		free(mean);
		free(scale);
		return -ENOMEM;
	}
	/* two passes (mean, then squared deviations) in double */
	for (uint32_t i = 0; i < train->rows; i++) {
		const float *row = train->x + (size_t)i * nf;

		for (uint32_t j = 0; j < nf; j++)
			mean[j] += row[j];
	}
	for (uint32_t j = 0; j < nf; j++)
		mean[j] /= train->rows;
	for (uint32_t i = 0; i < train->rows; i++) {
		const float *row = train->x + (size_t)i * nf;

		for (uint32_t j = 0; j < nf; j++) {
			double d = row[j] - mean[j];

			scale[j] += d * d;
		}
	}
	for (uint32_t j = 0; j < nf; j++) {
		double sd = sqrt(scale[j] / train->rows);

		scale[j] = sd < 1e-6 ? 1.0 : 1.0 / sd;
	}
	for (int pass = 0; pass < 2; pass++) {
		struct gcdl_dataset *ds = pass == 0 ? train : test;

		if (ds == NULL)
			continue;
		for (uint32_t i = 0; i < ds->rows; i++) {
			float *row = ds->x + (size_t)i * nf;

			for (uint32_t j = 0; j < nf; j++)
				row[j] = (float)((row[j] - mean[j]) * scale[j]);
		}
	}
	free(mean);
	free(scale);
	return 0;
}

int
gcdl_dataset_scale(struct gcdl_dataset *ds, float factor)
{
	size_t n;

	if (ds == NULL || !isfinite(factor))
		return -EINVAL;
	n = (size_t)ds->rows * ds->features;
	if (n > 0 && ds->x == NULL)
		return -EINVAL;
	for (size_t k = 0; k < n; k++)
		ds->x[k] *= factor;
	return 0;
}

/* ---- partitioning ---- */

/* Reorder rows so that new row j is old row perm[j]; perm is consumed. */
static void
apply_perm(struct gcdl_dataset *ds, uint32_t *perm, float *tmp)
{
	size_t nf = ds->features, rb = nf * sizeof(float);

	for (uint32_t i = 0; i < ds->rows; i++) {
		uint32_t j = i;
		float ty;

		if (perm[i] == i)
			continue;
		/* follow the cycle through i, moving each source row into place */
		memcpy(tmp, ds->x + i * nf, rb);
		ty = ds->y[i];
		for (;;) {
			uint32_t k = perm[j];

			perm[j] = j;
			if (k == i) {
				memcpy(ds->x + j * nf, tmp, rb);
				ds->y[j] = ty;
				break;
			}
			memcpy(ds->x + j * nf, ds->x + k * nf, rb);
			ds->y[j] = ds->y[k];
			j = k;
		}
	}
}

int
gcdl_dataset_partition(struct gcdl_dataset *ds, uint32_t parts, enum gcdl_partitioning how,
		       uint64_t seed, uint32_t *offsets)
{
	uint32_t *perm = NULL, *count = NULL;
	struct gcdl_rng r;
	float *tmp = NULL;
	uint32_t n;

	if (ds == NULL || offsets == NULL || parts == 0 || parts > ds->rows ||
	    (unsigned)how >= GCDL_PART__COUNT || ds->x == NULL || ds->y == NULL ||
	    ds->features == 0)
		return -EINVAL;
	n = ds->rows;
	if (how == GCDL_PART_LABEL) {
		if (ds->classes == 0)
			return -EINVAL;
		for (uint32_t i = 0; i < n; i++) {
			float c = ds->y[i];

			if (!(c >= 0) || c >= (float)ds->classes || c != floorf(c))
				return -EINVAL;
		}
	}
	perm = malloc((size_t)n * sizeof(*perm));
	tmp = malloc((size_t)ds->features * sizeof(*tmp) + 1);
	if (perm == NULL || tmp == NULL)
		goto nomem;
	gcdl_rng_init(&r, seed, GCDL_RNG_DATA, DS_SEL_PARTITION, (uint32_t)how);

	if (how == GCDL_PART_IID) {
		for (uint32_t i = 0; i < n; i++)
			perm[i] = i;
		gcdl_rng_shuffle(&r, perm, n);
	} else {
		/* counting sort by class (stable), then shuffle inside each class */
		uint32_t nc = ds->classes, pos = 0;

		count = calloc((size_t)nc + 1, sizeof(*count));
		if (count == NULL)
			goto nomem;
		for (uint32_t i = 0; i < n; i++)
			count[(uint32_t)ds->y[i] + 1]++;
		for (uint32_t c = 0; c < nc; c++)
			count[c + 1] += count[c];
		for (uint32_t i = 0; i < n; i++)
			perm[count[(uint32_t)ds->y[i]]++] = i;
		for (uint32_t c = 0; c < nc; c++) {
			/* count[c] is now the end of class c */
			gcdl_rng_shuffle(&r, perm + pos, count[c] - pos);
			pos = count[c];
		}
	}
	apply_perm(ds, perm, tmp);

	offsets[0] = 0;
	for (uint32_t p = 0; p < parts; p++)
		offsets[p + 1] = offsets[p] + n / parts + (p < n % parts ? 1 : 0);
	free(perm);
	free(count);
	free(tmp);
	return 0;
nomem:
	free(perm);
	free(count);
	free(tmp);
	return -ENOMEM;
}
