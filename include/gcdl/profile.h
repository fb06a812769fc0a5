/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Profiles: the INI files in configs/ that describe a job.
 *
 * One table of keys serves gcdl-sim and the gcdl data plane alike. Every key
 * has a type, a documented default and a range; an unknown section or key, a
 * malformed line or an out-of-range value is an error whose message names the
 * file, the line and the key. The parser is ours rather than rte_cfgfile
 * because rte_cfgfile does not report line numbers and would tie the pure
 * core (and gcdl-sim) to DPDK.
 *
 * Syntax: `[section]` headers, `key = value` lines, `;` or `#` comments at the
 * start of a line, blank lines. A key may appear once per file.
 */
#ifndef GCDL_PROFILE_H
#define GCDL_PROFILE_H

#include <stdint.h>
#include <stdio.h>

#include "gcdl/agg.h"
#include "gcdl/dataset.h"
#include "gcdl/layout.h"
#include "gcdl/model.h"
#include "gcdl/straggler.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GCDL_PROFILE_STR 256
#define GCDL_PROFILE_MAX_KEYS 160          /**< room in key_line[] */
#define GCDL_PROFILE_LINE_CLI UINT32_MAX   /**< key_line[] of a key set by --set */
#define GCDL_PROFILE_MAX_DIM (1u << 28)    /**< most model coordinates a profile may ask for */

/** Where the momentum is kept (optim.momentum_at). */
enum gcdl_momentum_at {
	GCDL_MOMENTUM_AGGREGATOR = 0, /**< on the decoded gradient */
	GCDL_MOMENTUM_WORKERS,        /**< each worker on its own v_k, before compression */
};

/** Methods (METHOD.md, Baselines). */
enum gcdl_method {
	GCDL_METHOD_ONEBIT_GC = 0,
	GCDL_METHOD_SGC,
	GCDL_METHOD_SIGNSGD_MV,
	GCDL_METHOD_IGNORE,
	GCDL_METHOD_ONEBIT_UNCODED,
	GCDL_METHOD_ONEBIT_GC_EF,        /**< scaled sign with worker-side error feedback */
	GCDL_METHOD__COUNT
};

/** Step-size schedules. */
enum gcdl_schedule {
	GCDL_SCHEDULE_CONSTANT = 0, /**< eta0 */
	GCDL_SCHEDULE_SQRT,         /**< eta0 / sqrt(t+1) */
	GCDL_SCHEDULE_STEP,         /**< eta0 * gamma^floor(t / step_every) */
	GCDL_SCHEDULE__COUNT
};

/** Datasets. */
enum gcdl_data_source {
	GCDL_DATA_FMNIST = 0,   /**< IDX gzip files in a directory */
	GCDL_DATA_LIBSVM,       /**< LIBSVM text files */
	GCDL_DATA_SYNTH_LINEAR, /**< seeded linear regression */
	GCDL_DATA_SYNTH_GMM,    /**< seeded Gaussian mixture */
	GCDL_DATA__COUNT
};

/** Feature normalisation. */
enum gcdl_normalize {
	GCDL_NORM_NONE = 0,
	GCDL_NORM_SCALE,       /**< pixels / 255 */
	GCDL_NORM_STANDARDIZE, /**< zero mean, unit variance per feature (train statistics) */
	GCDL_NORM__COUNT
};

/** Round deadlines. */
enum gcdl_deadline_mode {
	GCDL_DEADLINE_FIXED = 0,   /**< fixed_us */
	GCDL_DEADLINE_ADAPTIVE,    /**< quantile of recent arrival times, within [min_us, max_us] */
	GCDL_DEADLINE__COUNT
};

/** How the nodes of a multi-host job are connected (network.topology). */
enum gcdl_topology {
	GCDL_TOPO_STAR = 0,  /**< N workers, one aggregator */
	GCDL_TOPO_SHARDED,   /**< K aggregators, each owning a contiguous range of chunks */
	GCDL_TOPO_MESH,      /**< every node multicasts to its peers and aggregates */
	GCDL_TOPO__COUNT
};

/** What the aggregator sends down each round (downlink.mode, METHOD.md "Downlink"). */
enum gcdl_downlink {
	GCDL_DOWNLINK_RELAY = 0,  /**< the accepted 1-bit uplink frames and a commit; every
				   *   replica decodes and steps itself */
	GCDL_DOWNLINK_ONEBIT,     /**< the update, scaled sign per block, error feedback */
	GCDL_DOWNLINK_FLOAT32,    /**< the update as float32 */
	GCDL_DOWNLINK__COUNT
};

/** A job's profile. Field comments give the INI section.key. */
struct gcdl_profile {
	/* [job] */
	char name[GCDL_PROFILE_STR];     /**< job.name */
	uint32_t job_id;                 /**< job.job_id */
	uint64_t seed;                   /**< job.seed */
	uint32_t rounds;                 /**< job.rounds */
	enum gcdl_method method;         /**< job.method */
	uint32_t eval_every;             /**< job.eval_every (0: last round only) */
	char key_file[GCDL_PROFILE_STR]; /**< job.key_file ("": frames carry no tag) */
	uint32_t insecure;               /**< job.insecure: multi-host without a key allowed */
	/* [cluster] */
	uint32_t workers;                /**< cluster.workers (N) */
	uint32_t partitions;             /**< cluster.partitions (M; 0: = N) */
	uint32_t redundancy;             /**< cluster.redundancy (d) */
	enum gcdl_layout_kind layout;    /**< cluster.layout */
	/* [stragglers] */
	enum gcdl_straggler_kind straggler_model; /**< stragglers.model */
	double straggler_p;              /**< stragglers.p */
	double shift_us;                 /**< stragglers.shift_us */
	double mean_us;                  /**< stragglers.mean_us */
	char slowdown[GCDL_PROFILE_STR]; /**< stragglers.slowdown ("K:F,...") */
	/* [deadline] */
	enum gcdl_deadline_mode deadline_mode; /**< deadline.mode */
	double deadline_us;              /**< deadline.fixed_us */
	double deadline_quantile;        /**< deadline.quantile */
	double deadline_min_us;          /**< deadline.min_us */
	double deadline_max_us;          /**< deadline.max_us */
	/* [data] */
	enum gcdl_data_source dataset;   /**< data.dataset */
	char path[GCDL_PROFILE_STR];     /**< data.path */
	char test_path[GCDL_PROFILE_STR]; /**< data.test_path */
	enum gcdl_partitioning partitioning; /**< data.partitioning */
	enum gcdl_normalize normalize;   /**< data.normalize */
	uint32_t train_rows;             /**< data.train_rows (0: all) */
	uint32_t test_rows;              /**< data.test_rows (0: all) */
	uint32_t synth_features;         /**< data.synthetic_features */
	uint32_t synth_classes;          /**< data.synthetic_classes */
	double synth_noise;              /**< data.synthetic_noise */
	double synth_sep;                /**< data.synthetic_sep */
	/* [model] */
	enum gcdl_model_kind model;      /**< model.type */
	uint32_t hidden;                 /**< model.hidden */
	uint32_t model_dim;              /**< model.dim (model.type external: its coordinates) */
	double l2;                       /**< model.l2 */
	uint32_t batch;                  /**< model.batch (0: full partition) */
	/* [optim] */
	double lr;                       /**< optim.lr */
	enum gcdl_schedule schedule;     /**< optim.schedule */
	uint32_t step_every;             /**< optim.step_every */
	double step_gamma;               /**< optim.step_gamma */
	double momentum;                 /**< optim.momentum */
	uint32_t momentum_at;            /**< optim.momentum_at: enum gcdl_momentum_at */
	double weight_decay;             /**< optim.weight_decay */
	/* [coding] */
	uint32_t scale_block;            /**< coding.scale_block */
	enum gcdl_decoder decoder;       /**< coding.decoder */
	uint32_t mtu;                    /**< coding.mtu */
	double value_bound;              /**< coding.value_bound (0: none) */
	/* [network] */
	enum gcdl_topology topology;     /**< network.topology */
	uint32_t aggregators;            /**< network.aggregators (K) */
	char aggregator_macs[GCDL_PROFILE_STR]; /**< network.aggregator_macs ("" or K MACs) */
	char worker_macs[GCDL_PROFILE_STR];     /**< network.worker_macs ("" or N MACs) */
	uint32_t join_wait_ms;           /**< network.join_wait_ms */
	uint32_t absent_rounds;          /**< network.absent_rounds */
	uint32_t idle_timeout_ms;        /**< network.idle_timeout_ms */
	uint32_t vlan;                   /**< network.vlan (0: untagged; gcdl/vlan.h) */
	uint32_t vlan_priority;          /**< network.vlan_priority (802.1p, 0..7) */
	/* [downlink] */
	enum gcdl_downlink downlink;     /**< downlink.mode */
	char downlink_group[GCDL_PROFILE_STR]; /**< downlink.group ("": from job.job_id) */
	uint32_t repair_us;              /**< downlink.repair_us */
	uint32_t repair_tries;           /**< downlink.repair_tries */
	/* [dataplane] */
	uint32_t burst;                  /**< dataplane.burst */
	uint32_t ring_size;              /**< dataplane.ring_size */
	uint32_t mbufs;                  /**< dataplane.mbufs */
	uint32_t worker_lcores;          /**< dataplane.worker_lcores */
	uint32_t agg_lcores;             /**< dataplane.agg_lcores */
	uint32_t quant_lcores;           /**< dataplane.quant_lcores */
	char ports[GCDL_PROFILE_STR];    /**< dataplane.ports ("" or "NAME,..." ethdev names) */
	uint32_t flow_isolate;           /**< dataplane.flow_isolate (0 false, 1 true) */
	double time_scale;               /**< dataplane.time_scale */
	uint32_t synthetic_gradient;     /**< dataplane.synthetic_gradient */
	/* [faults] (gcdl/faults.h) */
	double fault_drop_p;             /**< faults.drop_p */
	double fault_downlink_drop_p;    /**< faults.downlink_drop_p */
	double fault_dup_p;              /**< faults.dup_p */
	uint32_t fault_reorder_window;   /**< faults.reorder_window */
	double fault_corrupt_p;          /**< faults.corrupt_p */
	char fault_slow_workers[GCDL_PROFILE_STR]; /**< faults.slow_workers */
	uint64_t fault_seed;             /**< faults.seed (0: job.seed) */
	/* [checkpoint] (gcdl/checkpoint.h) */
	uint32_t checkpoint_every;       /**< checkpoint.every (0: none) */
	char checkpoint_path[GCDL_PROFILE_STR]; /**< checkpoint.path */
	/* where the values came from, for messages (gcdl_profile_where()) */
	char source[GCDL_PROFILE_STR];   /**< the file loaded ("": none) */
	uint32_t key_line[GCDL_PROFILE_MAX_KEYS]; /**< per key in table order: line of
						   *   the file, 0: default,
						   *   GCDL_PROFILE_LINE_CLI: --set */
};

/**
 * Fill a profile with every key's default.
 *
 * @param p  the profile; NULL is ignored.
 */
void gcdl_profile_defaults(struct gcdl_profile *p);

/**
 * Load a profile: defaults, then every key of the file.
 *
 * @param p       receives the profile; on failure it holds the defaults.
 * @param path    the INI file.
 * @param err     receives "FILE:LINE: key SECTION.KEY: reason" (or
 *                "FILE: reason" for I/O errors).
 * @param errlen  size of @p err.
 * @return 0, -EINVAL for NULL arguments or any bad content, -errno when the
 *         file cannot be read.
 */
int gcdl_profile_load(struct gcdl_profile *p, const char *path, char *err, size_t errlen);

/**
 * Set one key from text, with the same checks as the file parser (used for
 * command-line overrides such as --rounds).
 *
 * @param p       the profile.
 * @param key     "section.key".
 * @param value   the value's text.
 * @param err     receives "key SECTION.KEY: reason".
 * @param errlen  size of @p err.
 * @return 0, or -EINVAL for an unknown key or a bad value.
 */
int gcdl_profile_set(struct gcdl_profile *p, const char *key, const char *value, char *err,
		     size_t errlen);

/** One command-line override: key "section.key" and its value text. */
struct gcdl_profile_override {
	const char *key;
	const char *value;
};

/**
 * Split a command-line "SECTION.KEY=VALUE" in place into an override (the
 * key and value point into @p text; the '=' becomes a NUL).
 *
 * @param text  the argument; modified.
 * @param ov    receives the key and value.
 * @return 0, or -EINVAL for NULL, no '=' or an empty key (text unchanged).
 */
int gcdl_profile_override_parse(char *text, struct gcdl_profile_override *ov);

/**
 * What a program does with a profile: load the file, apply the command-line
 * overrides in order, then check the relations between keys.
 *
 * @param p        receives the profile.
 * @param path     the INI file.
 * @param ov       overrides, or NULL when @p nov is 0.
 * @param nov      their number.
 * @param err      receives "FILE:LINE: key ...", "command line: key ..." or
 *                 "FILE: reason".
 * @param errlen   size of @p err.
 * @return 0, or the negative errno of the step that failed.
 */
int gcdl_profile_open(struct gcdl_profile *p, const char *path,
		      const struct gcdl_profile_override *ov, int nov, char *err, size_t errlen);

/**
 * The shard layout a profile asks for. Methods sent with d = 1 (signsgd_mv,
 * ignore, onebit_uncoded) use the uncoded layout with d = 1 whatever
 * cluster.layout and cluster.redundancy say; cluster.partitions = 0 means M = N.
 *
 * @param p           the profile.
 * @param kind        receives the layout kind.
 * @param partitions  receives M.
 * @param d           receives the replication.
 * @return 0, or -EINVAL for NULL arguments.
 */
/**
 * Whether the aggregator compresses its update to 1 bit per coordinate with
 * error feedback (gcdl/downlink.h): downlink.mode onebit, for every method
 * but signsgd_mv; never in a mesh (no downlink).
 *
 * @param p  the profile.
 * @return non-zero when compressed.
 */
int gcdl_profile_downlink_compressed(const struct gcdl_profile *p);

/**
 * Whether the downlink is signsgd_mv's majority vote, 1 bit per coordinate
 * (downlink.mode onebit or float32; relay sends the signs themselves): every
 * replica takes the optimizer step from the vote itself (with its own
 * momentum), so the vote is exact in every mode.
 *
 * @param p  the profile.
 * @return non-zero for a vote downlink.
 */
int gcdl_profile_downlink_vote(const struct gcdl_profile *p);

/**
 * Bytes a frame with this payload takes on the wire: Ethernet header, gcdl
 * header, payload, the 16-byte tag when frames carry one, padding to the
 * 60-byte minimum, FCS.
 *
 * @param p            the profile (job.key_file).
 * @param payload_len  the payload's bytes.
 * @return the bytes.
 */
size_t gcdl_profile_wire_bytes(const struct gcdl_profile *p, size_t payload_len);

/**
 * Whether the workers keep a momentum of their own (optim.momentum_at =
 * workers with optim.momentum > 0): the aggregator then steps without one.
 *
 * @return 1 or 0 (0 for NULL).
 */
int gcdl_profile_worker_momentum(const struct gcdl_profile *p);

/**
 * The multicast MAC of the downlink: downlink.group, or when empty
 * 03:67:63:64:JJ:JJ with the low 16 bits of job.job_id.
 *
 * @param p    the profile.
 * @param mac  receives the address.
 * @return 0, or -EINVAL for NULL or a group that is not one multicast MAC.
 */
int gcdl_profile_downlink_group(const struct gcdl_profile *p, uint8_t mac[6]);

/**
 * The MTU a frame's header and payload may fill: coding.mtu, less the
 * 16-byte tag when frames carry one (job.key_file set). Every frame of the
 * job, tag included, then fits coding.mtu.
 *
 * @param p  the profile.
 * @return the bytes for gcdl_frame_chunk_coords(), 0 for NULL.
 */
uint32_t gcdl_profile_frame_mtu(const struct gcdl_profile *p);

int gcdl_profile_layout(const struct gcdl_profile *p, enum gcdl_layout_kind *kind,
			uint32_t *partitions, uint32_t *d);

/**
 * Where a key's value came from, as the start of an error message:
 * "FILE:LINE: key S.K" (read from the file), "command line: key S.K" (--set),
 * "FILE: key S.K (default)" or "key S.K (default)" when nothing was loaded.
 *
 * @param p    the profile.
 * @param key  "section.name".
 * @param buf  receives the text.
 * @param len  size of @p buf.
 * @return 0, or -EINVAL for NULL arguments or an unknown key (buf then
 *         holds "key KEY").
 */
int gcdl_profile_where(const struct gcdl_profile *p, const char *key, char *buf, size_t len);

/** One key of the profile table, for tests and tools. */
struct gcdl_profile_key_info {
	const char *section;
	const char *name;
	int kind;          /**< 0 unsigned integer, 1 real number, 2 text, 3 one of names */
	double min, max;   /**< numeric range, inclusive */
	const char *def;   /**< default, as text */
};

/**
 * Describe key number i of the table.
 *
 * @param i     0 .. gcdl_profile_key_count() - 1.
 * @param info  receives the description.
 * @return 0, or -EINVAL for NULL @p info or i out of range.
 */
int gcdl_profile_key_info(size_t i, struct gcdl_profile_key_info *info);

/** @return the number of profile keys. */
size_t gcdl_profile_key_count(void);

/**
 * Check relations between keys that no single key can (e.g. the layout's
 * (N, M, d), the scale block against the MTU, the straggler list). The
 * message starts with gcdl_profile_where() of the key at fault.
 *
 * @param p       the profile.
 * @param err     receives a message naming the keys.
 * @param errlen  size of @p err.
 * @return 0, or -EINVAL.
 */
int gcdl_profile_validate(const struct gcdl_profile *p, char *err, size_t errlen);

/**
 * Print every key with its type, range, default and meaning (for --help).
 *
 * @param out  the stream; NULL is ignored.
 */
void gcdl_profile_print_keys(FILE *out);

/**
 * Print the profile as an INI file that loads back to the same profile.
 *
 * @param p    the profile (NULL: nothing is written).
 * @param out  the stream (NULL: nothing is written).
 */
void gcdl_profile_write(const struct gcdl_profile *p, FILE *out);

/**
 * A 64-bit hash of every key that must agree between the nodes of one job.
 *
 * @param p  the profile.
 * @return the hash (FNV-1a over the canonical text of the profile), 0 for NULL.
 */
uint64_t gcdl_profile_hash(const struct gcdl_profile *p);

/**
 * Parse a method name ("onebit_gc", "sgc", "signsgd_mv", "ignore", "onebit_uncoded").
 *
 * @param name    the name.
 * @param method  where the method is written.
 * @return 0, or -EINVAL for NULL or an unknown name.
 */
int gcdl_method_parse(const char *name, enum gcdl_method *method);

/**
 * The name of a method.
 *
 * @param method  the method.
 * @return a static string, "unknown" outside the enum.
 */
const char *gcdl_method_name(enum gcdl_method method);

/**
 * The name of a downlink mode (downlink.mode).
 *
 * @param mode  the mode.
 * @return a static string, "unknown" outside the enum.
 */
const char *gcdl_downlink_name(enum gcdl_downlink mode);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_PROFILE_H */
