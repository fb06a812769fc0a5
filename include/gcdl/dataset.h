/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Datasets: loading (IDX gzip, LIBSVM), seeded synthetic generators,
 * normalisation and partitioning into M partitions.
 *
 * A dataset is a dense row-major float matrix x (n rows of `features`
 * values) and a target y per row: the class index (as a float holding an
 * integer in [0, classes)) for classification, the real target for
 * regression (classes = 0). Loaders either load a file completely or fail
 * with a message naming the file and the byte offset or line; they never
 * return a half-loaded dataset.
 */
#ifndef GCDL_DATASET_H
#define GCDL_DATASET_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A dense dataset. */
struct gcdl_dataset {
	uint32_t rows;      /**< n */
	uint32_t features;  /**< values per row */
	uint32_t classes;   /**< number of classes; 0 for regression */
	float *x;           /**< rows * features, row-major */
	float *y;           /**< rows targets */
};

/** How rows are split into partitions. */
enum gcdl_partitioning {
	GCDL_PART_IID = 0, /**< shuffled with the seed, equal sizes (+-1) */
	GCDL_PART_LABEL,   /**< sorted by label: each partition holds one or two classes */
	GCDL_PART__COUNT
};

/**
 * Parse a partitioning name ("iid" or "label").
 *
 * @param name  the name.
 * @param out   where the value is written.
 * @return 0, or -EINVAL for NULL or an unknown name.
 */
int gcdl_partitioning_parse(const char *name, enum gcdl_partitioning *out);

/**
 * Load an IDX image file and its IDX label file, both gzip-compressed
 * (as in Fashion-MNIST's *-ubyte.gz). Pixels are stored as floats 0..255.
 * Uncompressed files are accepted too (told apart by the gzip magic).
 * The pixel data may not exceed 2^31 bytes; the gzip CRC and length are
 * checked, and bytes after the IDX data are an error.
 *
 * @param images_path  IDX3 (ubyte, n x rows x cols) file, gzip.
 * @param labels_path  IDX1 (ubyte, n) file, gzip.
 * @param classes      the classes the set declares (Fashion-MNIST: 10), 2..256;
 *                     a label outside 0..classes-1 is -EBADMSG naming the
 *                     labels file and the record.
 * @param out          receives the dataset (classes = @p classes).
 * @param err          receives a message naming file and byte offset on failure
 *                     (the uncompressed offset); may be NULL.
 * @param errlen       size of @p err.
 * @return 0 on success; -EINVAL for NULL arguments, -ENOENT/-EACCES (the
 *         negative errno of open()) when a file cannot be opened, -EIO for a
 *         read error, -EBADMSG for a corrupt, truncated or mismatched
 *         file, -ENOMEM. On failure @p out is left zeroed, nothing allocated.
 */
int gcdl_dataset_load_idx(const char *images_path, const char *labels_path, uint32_t classes,
			  struct gcdl_dataset *out, char *err, size_t errlen);

/**
 * Load a LIBSVM text file ("label index:value ..." with 1-based increasing
 * indices). Labels that are all integers >= 0 give a classification set
 * (classes = max + 1) unless @p regression is set.
 *
 * Blank lines and '#' comments (whole lines or the rest of a line) are
 * skipped; fields are separated by spaces or tabs, CRLF is accepted.
 * Without @p regression the labels must be class indices 0..65535, or else
 * all be -1 or +1: the binary LIBSVM convention, mapped to -1 -> 0 and
 * +1 -> 1 with classes = 2. Any other label (negative, fractional, too
 * large) is -EBADMSG naming its line; load such files with @p regression.
 * Values must be finite and fit in a float.
 *
 * @param path        the file.
 * @param features    number of features, or 0 to use the largest index seen.
 * @param classes     the declared class count, or 0 to take max label + 1
 *                    (a test set is loaded with the training set's count: a
 *                    class index >= @p classes is -EBADMSG naming its line);
 *                    ignored with @p regression. 1 or above 65536 is -EINVAL.
 * @param regression  non-zero to keep labels as real targets (classes = 0).
 * @param out         receives the dataset.
 * @param err         receives a message naming file and line ("FILE:LINE: ...")
 *                    on failure; may be NULL.
 * @param errlen      size of @p err.
 * @return 0 on success; -EINVAL for NULL arguments, -ENOENT/-EACCES (the
 *         negative errno of open()), -EIO for a read error, -EBADMSG for a
 *         malformed line, an index beyond @p features, a label that is not a
 *         class in classification mode, or a file without data rows or
 *         feature indices, -ENOMEM. On failure @p out is left zeroed.
 */
int gcdl_dataset_load_libsvm(const char *path, uint32_t features, uint32_t classes,
			     int regression, struct gcdl_dataset *out, char *err, size_t errlen);

/**
 * Seeded synthetic linear regression: x ~ N(0, 1), y = x . w* + b* + noise * N(0,1),
 * with w* ~ N(0, 1) and b* ~ N(0, 1) drawn from the same seed. x does not
 * depend on @p noise: the same seed and sizes give the same x for any noise.
 *
 * @param rows      n > 0.
 * @param features  > 0.
 * @param noise     noise standard deviation, >= 0.
 * @param seed      seed.
 * @param out       receives the dataset (classes = 0).
 * @return 0, -EINVAL for zero sizes or negative noise, -ENOMEM.
 */
int gcdl_dataset_synth_linear(uint32_t rows, uint32_t features, double noise, uint64_t seed,
			      struct gcdl_dataset *out);

/**
 * Seeded Gaussian-mixture classification: class c ~ uniform, x ~ N(mu_c, I),
 * with class means mu_c ~ N(0, sep^2 I) drawn from the same seed.
 *
 * @param rows      n > 0.
 * @param features  > 0.
 * @param classes   2..2^24.
 * @param sep       spread of the class means, > 0.
 * @param seed      seed (the same seed gives the same means, so a train and a
 *                  test set share them; pass a different @p sample_stream).
 * @param sample_stream  selects the sample draws (e.g. 0 for train, 1 for test).
 * @param out       receives the dataset.
 * @return 0, -EINVAL for bad sizes, -ENOMEM.
 */
int gcdl_dataset_synth_gmm(uint32_t rows, uint32_t features, uint32_t classes, double sep,
			   uint64_t seed, uint32_t sample_stream, struct gcdl_dataset *out);

/** Free a dataset's arrays and zero it; NULL is ignored. @param ds the dataset. */
void gcdl_dataset_free(struct gcdl_dataset *ds);

/**
 * Standardise features with the training set's statistics: each feature gets
 * (x - mean) / std over @p train (std < 1e-6 treated as 1), applied to
 * @p train and, if not NULL, to @p test.
 *
 * @param train  the training set.
 * @param test   the test set, or NULL; must have the same feature count.
 * @return 0, -EINVAL for NULL train, empty data or a feature-count mismatch.
 */
int gcdl_dataset_standardize(struct gcdl_dataset *train, struct gcdl_dataset *test);

/**
 * Multiply every feature by a constant (e.g. 1/255 for pixels).
 *
 * @param ds      the dataset.
 * @param factor  the factor, finite.
 * @return 0, -EINVAL for NULL or a non-finite factor.
 */
int gcdl_dataset_scale(struct gcdl_dataset *ds, float factor);

/**
 * Split rows into M partitions by reordering the dataset in place so that
 * partition i occupies rows [offsets[i], offsets[i+1]).
 *
 * In both cases the slices have sizes rows/M or rows/M + 1, the larger ones
 * first (sizes differ by <= 1).
 * iid: a seeded shuffle, then equal consecutive slices.
 * label: rows sorted by class 0, 1, ... (seeded shuffle within a class),
 * then equal consecutive slices, so that each partition holds one or two
 * classes whenever no class is smaller than a slice (e.g. balanced classes
 * and M >= classes). With 10 balanced classes, M = 10 gives one class per
 * partition and M = 20 two partitions per class.
 * The result depends only on the input order, M, @p how and @p seed.
 *
 * @param ds       the dataset (classification for label partitioning).
 * @param parts    M, 1..rows.
 * @param how      the partitioning.
 * @param seed     seed.
 * @param offsets  receives M+1 row offsets (offsets[0] = 0, offsets[M] = rows).
 * @return 0, -EINVAL for NULL, no features, M = 0, M > rows, an unknown @p how, or label
 *         partitioning of a regression set or of a set with a label outside
 *         [0, classes), -ENOMEM. On failure the dataset is unchanged.
 */
int gcdl_dataset_partition(struct gcdl_dataset *ds, uint32_t parts, enum gcdl_partitioning how,
			   uint64_t seed, uint32_t *offsets);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_DATASET_H */
