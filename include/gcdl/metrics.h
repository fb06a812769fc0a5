/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The per-round metrics CSV shared by gcdl-sim and gcdl:
 * `round,method,train_loss,test_accuracy,uplink_bits,downlink_bits,stragglers,wall_ms`.
 * train_loss and test_accuracy are empty on rounds without evaluation;
 * uplink_bits is cumulative, on the wire, headers included; so is
 * downlink_bits, counting each frame the aggregator sends down once (a
 * multicast frame once, whatever N is), repairs included, the model sent at a
 * join or resync not.
 */
#ifndef GCDL_METRICS_H
#define GCDL_METRICS_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The CSV header line, without the newline. */
#define GCDL_METRICS_HEADER \
	"round,method,train_loss,test_accuracy,uplink_bits,downlink_bits,stragglers,wall_ms"

/** One row. */
struct gcdl_metrics_row {
	uint32_t round;        /**< 1-based number of rounds completed */
	const char *method;    /**< method name */
	int evaluated;         /**< non-zero when loss and accuracy are set */
	double train_loss;
	double test_accuracy;
	uint64_t uplink_bits;  /**< cumulative */
	uint64_t downlink_bits; /**< cumulative, sent: each downlink frame once (a multicast frame once) */
	uint32_t stragglers;   /**< this round */
	double wall_ms;        /**< this round, from its start until it actually closed */
};

/**
 * Open a metrics file and write the header. gcdl_metrics_write() flushes each
 * row, so a killed run leaves every completed row, and takes back a row a
 * failed write cut short: the file never holds a torn row.
 *
 * @param path    the file (created or truncated).
 * @param err     receives "PATH: reason" on failure.
 * @param errlen  size of @p err.
 * @return the stream, or NULL with errno set.
 */
FILE *gcdl_metrics_open(const char *path, char *err, size_t errlen);

/**
 * Write one row.
 *
 * @param f    the stream.
 * @param row  the row.
 * @return 0, or -EIO when the write fails (the file is cut back to its last
 *         whole row), -EINVAL for NULL.
 */
int gcdl_metrics_write(FILE *f, const struct gcdl_metrics_row *row);

/**
 * Flush, sync and close a metrics file.
 *
 * @param f  the stream (NULL is ignored).
 * @return 0, or -EIO when a write or the close failed.
 */
int gcdl_metrics_close(FILE *f);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_METRICS_H */
