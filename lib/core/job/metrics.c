/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "gcdl/metrics.h"

FILE *
gcdl_metrics_open(const char *path, char *err, size_t errlen)
{
	FILE *f;

	if (path == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "metrics: no file given");
		errno = EINVAL;
		return NULL;
	}
	f = fopen(path, "w");
	if (f == NULL) {
		int e = errno;

		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	/* one row per round, flushed whole (gcdl_metrics_write()): a run killed
	 * mid-way leaves every completed round's row */
	setvbuf(f, NULL, _IOFBF, 4096);
	if (fprintf(f, "%s\n", GCDL_METRICS_HEADER) < 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: write failed", path);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	return f;
}

int
gcdl_metrics_write(FILE *f, const struct gcdl_metrics_row *r)
{
	char row[512];
	off_t at;
	int n;

	if (f == NULL || r == NULL || r->method == NULL)
		return -EINVAL;
	if (r->evaluated)
		n = snprintf(row, sizeof(row), "%" PRIu32 ",%s,%.6f,%.4f,%" PRIu64 ",%" PRIu64
			     ",%" PRIu32 ",%.3f\n", r->round, r->method, r->train_loss,
			     r->test_accuracy, r->uplink_bits, r->downlink_bits, r->stragglers,
			     r->wall_ms);
	else
		n = snprintf(row, sizeof(row), "%" PRIu32 ",%s,,,%" PRIu64 ",%" PRIu64 ",%" PRIu32
			     ",%.3f\n", r->round, r->method, r->uplink_bits, r->downlink_bits,
			     r->stragglers, r->wall_ms);
	if (n < 0 || (size_t)n >= sizeof(row))
		return -EINVAL;
	/* a whole row or none: a row cut short by a full disk is taken back */
	at = ftello(f);
	if (fwrite(row, 1, (size_t)n, f) != (size_t)n || fflush(f) != 0) {
		clearerr(f);
		if (at >= 0 && ftruncate(fileno(f), at) == 0)
			fseeko(f, at, SEEK_SET);
		return -EIO;
	}
	return 0;
}

int
gcdl_metrics_close(FILE *f)
{
	int rc = 0;

	if (f == NULL)
		return 0;
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = -EIO;
	if (fclose(f) != 0)
		rc = -EIO;
	return rc;
}
