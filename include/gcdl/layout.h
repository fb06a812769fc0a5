/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Shard layouts: which partitions of the training set each worker holds.
 *
 * A layout places M partitions on N workers so that every partition is held
 * by d workers (its replication r_i) and every worker holds s = d*M/N
 * partitions (its load). The kinds are those of METHOD.md: pairwise
 * (balanced pair co-occurrence, the default), cyclic, fractional, random and
 * uncoded. A layout is immutable once created.
 */
#ifndef GCDL_LAYOUT_H
#define GCDL_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Kinds of shard layout. */
enum gcdl_layout_kind {
	GCDL_LAYOUT_PAIRWISE = 0, /**< equal replication and load, pair counts within 1 */
	GCDL_LAYOUT_CYCLIC,       /**< worker k holds s consecutive partitions */
	GCDL_LAYOUT_FRACTIONAL,   /**< N/d groups, each group holds the same partitions */
	GCDL_LAYOUT_RANDOM,       /**< seeded random placement with equal loads */
	GCDL_LAYOUT_UNCODED,      /**< d = 1, worker k holds partition k */
	GCDL_LAYOUT__COUNT
};

/** Largest number of workers or partitions a layout accepts. */
#define GCDL_LAYOUT_MAX_NODES 4096

/** Properties of a layout, as reported by gcdl_layout_props(). */
struct gcdl_layout_props {
	uint32_t workers;      /**< N */
	uint32_t partitions;   /**< M */
	uint32_t rep_min;      /**< smallest replication over partitions */
	uint32_t rep_max;      /**< largest replication over partitions */
	uint32_t load_min;     /**< fewest partitions held by a worker */
	uint32_t load_max;     /**< most partitions held by a worker */
	uint32_t pair_min;     /**< min over partition pairs i<l of n_il (workers holding both) */
	uint32_t pair_max;     /**< max over partition pairs i<l of n_il */
};

struct gcdl_layout;

/**
 * Parse a layout name ("pairwise", "cyclic", "fractional", "random", "uncoded").
 *
 * @param name  the name; NULL is rejected.
 * @param kind  where the kind is written.
 * @return 0 on success, -EINVAL for NULL arguments or an unknown name.
 */
int gcdl_layout_kind_parse(const char *name, enum gcdl_layout_kind *kind);

/**
 * The name of a layout kind.
 *
 * @param kind  a kind.
 * @return a static string, or "unknown" for a value outside the enum.
 */
const char *gcdl_layout_kind_name(enum gcdl_layout_kind kind);

/**
 * Build a shard layout.
 *
 * @param kind        the layout kind.
 * @param workers     N, 1..GCDL_LAYOUT_MAX_NODES.
 * @param partitions  M, 1..GCDL_LAYOUT_MAX_NODES.
 * @param d           replication per partition, 1..N.
 * @param seed        seed for the kinds that draw (pairwise search, random).
 * @param err         if not NULL, receives a message naming the violated
 *                    constraint when the call fails.
 * @param errlen      size of @p err.
 * @return the layout, or NULL with errno set: EINVAL for an impossible
 *         (N, M, d) or unknown kind (the message says which constraint),
 *         ENOMEM when allocation fails.
 */
struct gcdl_layout *gcdl_layout_create(enum gcdl_layout_kind kind, uint32_t workers,
				       uint32_t partitions, uint32_t d, uint64_t seed,
				       char *err, size_t errlen);

/**
 * Free a layout. NULL is accepted and ignored.
 *
 * @param layout  the layout.
 */
void gcdl_layout_free(struct gcdl_layout *layout);

/**
 * Number of workers N.
 *
 * @param layout  the layout.
 * @return N, or 0 when @p layout is NULL.
 */
uint32_t gcdl_layout_workers(const struct gcdl_layout *layout);

/**
 * Number of partitions M.
 *
 * @param layout  the layout.
 * @return M, or 0 when @p layout is NULL.
 */
uint32_t gcdl_layout_partitions(const struct gcdl_layout *layout);

/**
 * The partitions held by one worker, in increasing order.
 *
 * @param layout  the layout.
 * @param worker  worker index, 0..N-1.
 * @param parts   receives a pointer to the worker's partition indices (owned by
 *                the layout).
 * @param count   receives their number s_k.
 * @return 0 on success, -EINVAL for NULL arguments, -ERANGE for a worker
 *         index out of range.
 */
int gcdl_layout_worker_partitions(const struct gcdl_layout *layout, uint32_t worker,
				  const uint32_t **parts, uint32_t *count);

/**
 * Replication r_i of one partition: how many workers hold it.
 *
 * @param layout     the layout.
 * @param partition  partition index, 0..M-1.
 * @return r_i (>= 1), or 0 for a NULL layout or out-of-range index.
 */
uint32_t gcdl_layout_replication(const struct gcdl_layout *layout, uint32_t partition);

/**
 * Whether a worker holds a partition.
 *
 * @param layout     the layout.
 * @param worker     worker index.
 * @param partition  partition index.
 * @return true if it does; false otherwise or for bad arguments.
 */
bool gcdl_layout_holds(const struct gcdl_layout *layout, uint32_t worker, uint32_t partition);

/**
 * Report the layout's properties: replication, load and pair co-occurrence.
 *
 * @param layout  the layout.
 * @param props   where the properties are written.
 * @return 0 on success, -EINVAL for NULL arguments.
 */
int gcdl_layout_props(const struct gcdl_layout *layout, struct gcdl_layout_props *props);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_LAYOUT_H */
