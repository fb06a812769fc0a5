/* SPDX-License-Identifier: BSD-3-Clause */
/* Profiles: one table of keys, an INI parser that reports file:line:key. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/faults.h"
#include "gcdl/frame.h"
#include "gcdl/join.h"
#include "gcdl/profile.h"
#include "gcdl/quant.h"
#include "seterr.h"

enum key_type { K_U32, K_U64, K_F64, K_STR, K_ENUM };

struct key {
	const char *section;
	const char *name;
	enum key_type type;
	size_t off;
	double min, max;          /* numeric range, inclusive */
	const char *def;          /* default, as text */
	const char *const *names; /* K_ENUM: value names, NULL-terminated */
	const char *doc;
};

static const char *const method_names[] = { "onebit_gc", "sgc", "signsgd_mv", "ignore",
					    "onebit_uncoded", "onebit_gc_ef", NULL };
static const char *const layout_names[] = { "pairwise", "cyclic", "fractional", "random",
					    "uncoded", NULL };
static const char *const straggler_names[] = { "none", "bernoulli", "timing", NULL };
static const char *const deadline_names[] = { "fixed", "adaptive", NULL };
static const char *const data_names[] = { "fashion-mnist", "libsvm", "synthetic-linear",
					  "synthetic-gmm", NULL };
static const char *const part_names[] = { "iid", "label", NULL };
static const char *const norm_names[] = { "none", "scale", "standardize", NULL };
static const char *const model_names[] = { "least_squares", "softmax", "mlp", "external", NULL };
static const char *const schedule_names[] = { "constant", "sqrt", "step", NULL };
static const char *const momentum_at_names[] = { "aggregator", "workers", NULL };
static const char *const decoder_names[] = { "normalised", "unbiased", NULL };
static const char *const topology_names[] = { "star", "sharded", "mesh", NULL };
static const char *const bool_names[] = { "false", "true", NULL };
static const char *const downlink_names[] = { "relay", "onebit", "float32", NULL };

#define OFF(f) offsetof(struct gcdl_profile, f)

static const struct key keys[] = {
	{ "job", "name", K_STR, OFF(name), 0, 0, "gcdl", NULL, "job name, shown in logs" },
	{ "job", "job_id", K_U32, OFF(job_id), 0, 4294967295.0, "1", NULL,
	  "job id carried in every frame; frames of other jobs are dropped" },
	{ "job", "seed", K_U64, OFF(seed), 0, 18446744073709551615.0, "1", NULL,
	  "seed of every random draw (layout, data, quantizer, stragglers)" },
	{ "job", "rounds", K_U32, OFF(rounds), 1, 10000000, "200", NULL, "training rounds" },
	{ "job", "method", K_ENUM, OFF(method), 0, 0, "onebit_gc", method_names,
	  "what workers send (METHOD.md, Baselines)" },
	{ "job", "eval_every", K_U32, OFF(eval_every), 0, 10000000, "10", NULL,
	  "evaluate train loss and test accuracy every N rounds (0: last round only)" },
	{ "job", "key_file", K_STR, OFF(key_file), 0, 0, "", NULL,
	  "job key (32 bytes or 64 hex digits, mode 600; gcdl --gen-key FILE makes one): "
	  "every frame carries a keyed tag; needed by the multi-host roles" },
	{ "job", "insecure", K_ENUM, OFF(insecure), 0, 0, "false", bool_names,
	  "true: run the multi-host roles without a job key (anyone on the segment can then "
	  "change the model; a warning at start)" },

	{ "cluster", "workers", K_U32, OFF(workers), 1, GCDL_LAYOUT_MAX_NODES, "10", NULL,
	  "number of workers N" },
	{ "cluster", "partitions", K_U32, OFF(partitions), 0, GCDL_LAYOUT_MAX_NODES, "0", NULL,
	  "number of data partitions M (0: M = N)" },
	{ "cluster", "redundancy", K_U32, OFF(redundancy), 1, GCDL_LAYOUT_MAX_NODES, "2", NULL,
	  "workers holding each partition, d" },
	{ "cluster", "layout", K_ENUM, OFF(layout), 0, 0, "pairwise", layout_names,
	  "shard layout" },

	{ "stragglers", "model", K_ENUM, OFF(straggler_model), 0, 0, "bernoulli", straggler_names,
	  "injected straggler model" },
	{ "stragglers", "p", K_F64, OFF(straggler_p), 0, 0.99, "0.2", NULL,
	  "Bernoulli straggler probability (also the unbiased decoder's p)" },
	{ "stragglers", "shift_us", K_F64, OFF(shift_us), 0, 1e9, "1000", NULL,
	  "timing model: minimum compute time, microseconds" },
	{ "stragglers", "mean_us", K_F64, OFF(mean_us), 0, 1e9, "500", NULL,
	  "timing model: mean of the exponential part, microseconds" },
	{ "stragglers", "slowdown", K_STR, OFF(slowdown), 0, 0, "", NULL,
	  "timing model: per-worker slowdowns, \"K:F,...\" (worker K is F times slower)" },

	{ "deadline", "mode", K_ENUM, OFF(deadline_mode), 0, 0, "fixed", deadline_names,
	  "round deadline: fixed, or adaptive (quantile of recent arrival times)" },
	{ "deadline", "fixed_us", K_F64, OFF(deadline_us), 1, 1e9, "2000", NULL,
	  "fixed deadline after round start, microseconds" },
	{ "deadline", "quantile", K_F64, OFF(deadline_quantile), 0.01, 1, "0.8", NULL,
	  "adaptive: quantile of recent worker arrival times" },
	{ "deadline", "min_us", K_F64, OFF(deadline_min_us), 1, 1e9, "500", NULL,
	  "adaptive: lower bound, microseconds" },
	{ "deadline", "max_us", K_F64, OFF(deadline_max_us), 1, 1e9, "20000", NULL,
	  "adaptive: upper bound, microseconds" },

	{ "data", "dataset", K_ENUM, OFF(dataset), 0, 0, "fashion-mnist", data_names,
	  "training data" },
	{ "data", "path", K_STR, OFF(path), 0, 0, "/usr/share/datasets/fashion-mnist", NULL,
	  "fashion-mnist: directory of the *-ubyte.gz files; libsvm: training file" },
	{ "data", "test_path", K_STR, OFF(test_path), 0, 0, "", NULL,
	  "libsvm: test file (empty: evaluate on the training set)" },
	{ "data", "partitioning", K_ENUM, OFF(partitioning), 0, 0, "iid", part_names,
	  "iid (shuffled) or label (grouped by class: non-iid)" },
	{ "data", "normalize", K_ENUM, OFF(normalize), 0, 0, "standardize", norm_names,
	  "feature normalisation" },
	{ "data", "train_rows", K_U32, OFF(train_rows), 0, 4294967295.0, "0", NULL,
	  "use the first N training rows (0: all; synthetic: rows generated)" },
	{ "data", "test_rows", K_U32, OFF(test_rows), 0, 4294967295.0, "0", NULL,
	  "use the first N test rows (0: all; synthetic: rows generated)" },
	{ "data", "synthetic_features", K_U32, OFF(synth_features), 1, 1000000, "20", NULL,
	  "synthetic: features" },
	{ "data", "synthetic_classes", K_U32, OFF(synth_classes), 2, 1000, "4", NULL,
	  "synthetic-gmm: classes" },
	{ "data", "synthetic_noise", K_F64, OFF(synth_noise), 0, 1e6, "0.1", NULL,
	  "synthetic-linear: noise standard deviation" },
	{ "data", "synthetic_sep", K_F64, OFF(synth_sep), 0.001, 1e6, "1.5", NULL,
	  "synthetic-gmm: spread of the class means" },

	{ "model", "type", K_ENUM, OFF(model), 0, 0, "softmax", model_names, "model" },
	{ "model", "hidden", K_U32, OFF(hidden), 1, 65536, "128", NULL, "mlp: hidden units" },
	{ "model", "dim", K_U32, OFF(model_dim), 0, GCDL_PROFILE_MAX_DIM, "0", NULL,
	  "external: the model's coordinates (a PyTorch model's parameters, set by "
	  "lib/python/gcdl; 0 for the built-in models)" },
	{ "model", "l2", K_F64, OFF(l2), 0, 1e3, "0", NULL, "L2 coefficient in the loss" },
	{ "model", "batch", K_U32, OFF(batch), 0, 10000000, "0", NULL,
	  "rows per partition per round (0: the full partition)" },

	{ "optim", "lr", K_F64, OFF(lr), 1e-9, 1e6, "0.1", NULL, "step size eta0" },
	{ "optim", "schedule", K_ENUM, OFF(schedule), 0, 0, "constant", schedule_names,
	  "constant, sqrt (eta0/sqrt(t+1)) or step (eta0*gamma^floor(t/step_every))" },
	{ "optim", "step_every", K_U32, OFF(step_every), 1, 10000000, "100", NULL,
	  "step schedule: rounds between decays" },
	{ "optim", "step_gamma", K_F64, OFF(step_gamma), 1e-6, 1, "0.5", NULL,
	  "step schedule: decay factor" },
	{ "optim", "momentum", K_F64, OFF(momentum), 0, 0.999, "0", NULL, "heavy-ball momentum" },
	{ "optim", "momentum_at", K_ENUM, OFF(momentum_at), 0, 0, "aggregator", momentum_at_names,
	  "where the momentum is kept: aggregator (on the decoded gradient) or workers (each "
	  "on its own v_k, before compression; the aggregator then steps without)" },
	{ "optim", "weight_decay", K_F64, OFF(weight_decay), 0, 1e3, "0", NULL,
	  "decoupled weight decay added to the update" },

	{ "coding", "scale_block", K_U32, OFF(scale_block), 0, 65535, "256", NULL,
	  "coordinates per 1-bit scale (0: one scale per chunk)" },
	{ "coding", "decoder", K_ENUM, OFF(decoder), 0, 0, "normalised", decoder_names,
	  "normalised (N/|R_c|) or unbiased (1/(1-p))" },
	{ "coding", "mtu", K_U32, OFF(mtu), 64, GCDL_MTU_MAX, "1500", NULL,
	  "Ethernet MTU; sets coordinates per frame (every frame, tag included, fits it)" },
	{ "coding", "value_bound", K_F64, OFF(value_bound), 0, 1e12, "1000", NULL,
	  "a gradient frame's largest scale or value may be at most this many times the "
	  "largest accepted in the last round that had any (0: no bound)" },

	{ "network", "topology", K_ENUM, OFF(topology), 0, 0, "star", topology_names,
	  "multi-host: star (one aggregator), sharded (K aggregators, each owning a range of "
	  "chunks) or mesh" },
	{ "network", "aggregators", K_U32, OFF(aggregators), 1, 64, "1", NULL,
	  "multi-host: number of aggregators K (sharded; star has 1)" },
	{ "network", "aggregator_macs", K_STR, OFF(aggregator_macs), 0, 0, "", NULL,
	  "multi-host: the aggregators' MACs \"MAC,...\" (empty: each port's own MAC, "
	  "found by broadcast hello)" },
	{ "network", "worker_macs", K_STR, OFF(worker_macs), 0, 0, "", NULL,
	  "multi-host: the workers' MACs \"MAC,...\" (empty: each port's own MAC)" },
	{ "network", "join_wait_ms", K_U32, OFF(join_wait_ms), 0, 3600000, "10000", NULL,
	  "multi-host: the aggregator waits this long for all workers before round 0" },
	{ "network", "absent_rounds", K_U32, OFF(absent_rounds), 1, 1000000, "20", NULL,
	  "multi-host: a joined worker silent for this many rounds is absent (not expected) "
	  "until it sends again" },
	{ "network", "idle_timeout_ms", K_U32, OFF(idle_timeout_ms), 100, 3600000, "30000", NULL,
	  "multi-host: a worker gives up after this long without a frame from an aggregator" },
	{ "network", "vlan", K_U32, OFF(vlan), 0, 4094, "0", NULL,
	  "802.1Q VLAN id of every frame sent; only frames tagged with it are taken, others "
	  "counted as wrong_vlan (0: untagged frames only)" },
	{ "network", "vlan_priority", K_U32, OFF(vlan_priority), 0, 7, "0", NULL,
	  "802.1p priority in the VLAN tag (network.vlan set)" },

	{ "downlink", "mode", K_ENUM, OFF(downlink), 0, 0, "onebit", downlink_names,
	  "what goes down each round, once, by multicast: relay (the accepted 1-bit frames and "
	  "a commit), onebit (the update at 1 bit per coordinate, error feedback) or float32" },
	{ "downlink", "group", K_STR, OFF(downlink_group), 0, 0, "", NULL,
	  "multicast MAC of the downlink (empty: 03:67:63:64:J:J, J the low 16 bits of "
	  "job.job_id)" },
	{ "downlink", "repair_us", K_U32, OFF(repair_us), 100, 10000000, "2000", NULL,
	  "a worker missing a frame of the round's downlink asks again after this long" },
	{ "downlink", "repair_tries", K_U32, OFF(repair_tries), 1, 1000, "4", NULL,
	  "repair requests for one round before the worker resyncs from the full model" },

	{ "dataplane", "burst", K_U32, OFF(burst), 1, 512, "32", NULL, "RX/TX burst size" },
	{ "dataplane", "ring_size", K_U32, OFF(ring_size), 64, 65536, "1024", NULL,
	  "descriptors per port ring (power of two)" },
	{ "dataplane", "mbufs", K_U32, OFF(mbufs), 1023, 4194304, "8191", NULL,
	  "mbufs in the packet pool" },
	{ "dataplane", "worker_lcores", K_U32, OFF(worker_lcores), 1, 128, "1", NULL,
	  "lcores that run the logical workers (local mode)" },
	{ "dataplane", "agg_lcores", K_U32, OFF(agg_lcores), 1, 16, "1", NULL,
	  "aggregation lcores per aggregator: above 1, that many lcores besides the one that "
	  "receives accumulate and close a range of chunks each (same bits as 1)" },
	{ "dataplane", "quant_lcores", K_U32, OFF(quant_lcores), 1, 16, "1", NULL,
	  "quantizing lcores per worker: above 1, the worker's lcore and quant_lcores - 1 more "
	  "each quantize and frame a range of its chunks (the same frames as 1)" },
	{ "dataplane", "ports", K_STR, OFF(ports), 0, 0, "", NULL,
	  "multi-host: the ports this node uses, by ethdev name, \"NAME,...\" (a NIC's PCI "
	  "address as the EAL names it, e.g. 0000:3b:00.0, or a vdev such as net_af_packet0); "
	  "empty: every port the EAL probed" },
	{ "dataplane", "flow_isolate", K_ENUM, OFF(flow_isolate), 0, 0, "false", bool_names,
	  "multi-host: true: rte_flow isolated mode, the ports take only gcdl's EtherType (on "
	  "network.vlan); the rest stays with the kernel on a bifurcated NIC (mlx5); a PMD "
	  "without it is refused" },
	{ "dataplane", "time_scale", K_F64, OFF(time_scale), 0, 1e6, "1", NULL,
	  "timing stragglers: real delay per simulated microsecond" },
	{ "dataplane", "synthetic_gradient", K_U32, OFF(synthetic_gradient), 0, 1, "0", NULL,
	  "1: workers send a fixed seeded pseudo-gradient, no model compute (benchmarks)" },

	{ "faults", "drop_p", K_F64, OFF(fault_drop_p), 0, 1, "0", NULL,
	  "probability a worker does not send an uplink frame" },
	{ "faults", "dup_p", K_F64, OFF(fault_dup_p), 0, 1, "0", NULL,
	  "probability a worker sends an uplink frame twice" },
	{ "faults", "reorder_window", K_U32, OFF(fault_reorder_window), 0,
	  GCDL_FAULTS_MAX_WINDOW, "0", NULL,
	  "uplink frames shuffled within windows of this many (0, 1: in order)" },
	{ "faults", "corrupt_p", K_F64, OFF(fault_corrupt_p), 0, 1, "0", NULL,
	  "probability an uplink frame has one bit flipped (EtherType to payload end)" },
	{ "faults", "slow_workers", K_STR, OFF(fault_slow_workers), 0, 0, "", NULL,
	  "slow workers, \"K:F,K:+Dus\" (worker K takes F times as long / sends D us later)" },
	{ "faults", "downlink_drop_p", K_F64, OFF(fault_downlink_drop_p), 0, 1, "0", NULL,
	  "probability the aggregator does not send a downlink frame to the group (each "
	  "port's copy; repairs are sent)" },
	{ "faults", "seed", K_U64, OFF(fault_seed), 0, 18446744073709551615.0, "0", NULL,
	  "seed of the fault decisions (0: job.seed)" },

	{ "checkpoint", "every", K_U32, OFF(checkpoint_every), 0, 10000000, "0", NULL,
	  "the aggregator writes a checkpoint every K rounds (0: never)" },
	{ "checkpoint", "path", K_STR, OFF(checkpoint_path), 0, 0, "", NULL,
	  "checkpoint file (replaced atomically each time; gcdl --resume FILE continues)" },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= GCDL_PROFILE_MAX_KEYS, "raise GCDL_PROFILE_MAX_KEYS");

static const struct key *
find_key(const char *section, size_t slen, const char *name, size_t nlen)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strlen(keys[i].section) == slen && strncmp(keys[i].section, section, slen) == 0 &&
		    strlen(keys[i].name) == nlen && strncmp(keys[i].name, name, nlen) == 0)
			return &keys[i];
	}
	return NULL;
}

static int
section_known(const char *section, size_t slen)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strlen(keys[i].section) == slen && strncmp(keys[i].section, section, slen) == 0)
			return 1;
	return 0;
}

static void
range_text(const struct key *k, char *buf, size_t len)
{
	if (k->type == K_ENUM) {
		size_t n = 0;

		buf[0] = '\0';
		for (int i = 0; k->names[i] != NULL && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "|" : "", k->names[i]);
	} else if (k->type == K_STR) {
		snprintf(buf, len, "text");
	} else if (k->type == K_U64) {
		snprintf(buf, len, "0..18446744073709551615");
	} else {
		snprintf(buf, len, "%.10g..%.10g", k->min, k->max);
	}
}

/* Parse value text into the profile field; on error write the reason. */
static int
set_value(struct gcdl_profile *p, const struct key *k, const char *v, char *why, size_t whylen)
{
	char *end;
	char rng[160];
	void *field = (char *)p + k->off;

	range_text(k, rng, sizeof(rng));
	switch (k->type) {
	case K_STR:
		if (strlen(v) >= GCDL_PROFILE_STR) {
			snprintf(why, whylen, "value longer than %d characters", GCDL_PROFILE_STR - 1);
			return -EINVAL;
		}
		snprintf((char *)field, GCDL_PROFILE_STR, "%s", v);
		return 0;
	case K_ENUM:
		for (int i = 0; k->names[i] != NULL; i++) {
			if (strcmp(v, k->names[i]) == 0) {
				*(int *)field = i;
				return 0;
			}
		}
		/* accept the American spelling of the default decoder too */
		if (k->names == decoder_names && strcmp(v, "normalized") == 0) {
			*(int *)field = GCDL_DECODER_NORMALISED;
			return 0;
		}
		snprintf(why, whylen, "'%s' is not one of %s", v, rng);
		return -EINVAL;
	case K_U32:
	case K_U64: {
		unsigned long long x;

		if (*v == '\0' || *v == '-' || *v == '+' || isspace((unsigned char)*v)) {
			snprintf(why, whylen, "'%s' is not a non-negative decimal integer", v);
			return -EINVAL;
		}
		/* decimal only: "010" is not 8, "0x10" not 16 */
		if (v[0] == '0' && v[1] != '\0') {
			snprintf(why, whylen, "'%s': integers are decimal, without a leading zero", v);
			return -EINVAL;
		}
		errno = 0;
		x = strtoull(v, &end, 10);
		if (errno == ERANGE && *end == '\0') {
			snprintf(why, whylen, "%s is out of range %s", v, rng);
			return -EINVAL;
		}
		if (errno != 0 || *end != '\0') {
			snprintf(why, whylen, "'%s' is not a non-negative decimal integer", v);
			return -EINVAL;
		}
		if ((double)x < k->min || (double)x > k->max ||
		    (k->type == K_U32 && x > UINT32_MAX)) {
			snprintf(why, whylen, "%s is out of range %s", v, rng);
			return -EINVAL;
		}
		if (k->type == K_U32)
			*(uint32_t *)field = (uint32_t)x;
		else
			*(uint64_t *)field = (uint64_t)x;
		return 0;
	}
	case K_F64: {
		double x;

		if (*v == '\0' || isspace((unsigned char)*v)) {
			snprintf(why, whylen, "'%s' is not a number", v);
			return -EINVAL;
		}
		errno = 0;
		x = strtod(v, &end);
		if (errno != 0 || *end != '\0' || !isfinite(x)) {
			snprintf(why, whylen, "'%s' is not a finite number", v);
			return -EINVAL;
		}
		if (x < k->min || x > k->max) {
			snprintf(why, whylen, "%s is out of range %s", v, rng);
			return -EINVAL;
		}
		*(double *)field = x;
		return 0;
	}
	}
	return -EINVAL;
}

void
gcdl_profile_defaults(struct gcdl_profile *p)
{
	char why[64];

	if (p == NULL)
		return;
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < NKEYS; i++)
		(void)set_value(p, &keys[i], keys[i].def, why, sizeof(why));
}

/* text with every byte that is not printable ASCII as \xNN, cut to fit */
static const char *
printable(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p != '\0' && o + 5 < len; p++) {
		if (*p >= 0x20 && *p < 0x7f)
			out[o++] = (char)*p;
		else
			o += (size_t)snprintf(out + o, len - o, "\\x%02x", *p);
	}
	out[o] = '\0';
	return out;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
gcdl_profile_load(struct gcdl_profile *p, const char *path, char *err, size_t errlen)
{
	char section[64] = "", esc[512];
	unsigned char seen[NKEYS];
	unsigned lineno = 0, nkeys = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	FILE *f;
	int rc = 0;

	if (p == NULL || path == NULL) {
		gcdl_seterr(err, errlen, "profile: no file given");
		return -EINVAL;
	}
	gcdl_profile_defaults(p);
	f = fopen(path, "r");
	if (f == NULL) {
		rc = -errno;
		gcdl_seterr(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	memset(seen, 0, sizeof(seen));
	snprintf(p->source, sizeof(p->source), "%s", path);
	while ((got = getline(&line, &cap, f)) >= 0) {
		char *s, *eq, *name, *val, why[256];
		const struct key *k;
		size_t len = (size_t)got;

		lineno++;
		/* a NUL byte would hide the rest of the line from the parser */
		if (strlen(line) != len) {
			gcdl_seterr(err, errlen, "%s:%u: a NUL byte in the line (a profile is text)",
				    path, lineno);
			rc = -EINVAL;
			break;
		}
		if (len > 1024) {
			gcdl_seterr(err, errlen, "%s:%u: line longer than 1024 characters", path,
				    lineno);
			rc = -EINVAL;
			break;
		}
		s = trim(line);
		if (*s == '\0' || *s == ';' || *s == '#')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');

			if (close == NULL || close[1] != '\0') {
				gcdl_seterr(err, errlen, "%s:%u: malformed section header '%s'", path,
					    lineno, printable(s, esc, sizeof(esc)));
				rc = -EINVAL;
				break;
			}
			*close = '\0';
			name = trim(s + 1);
			if (!section_known(name, strlen(name)) || strlen(name) >= sizeof(section)) {
				gcdl_seterr(err, errlen, "%s:%u: unknown section [%s]", path, lineno,
					    printable(name, esc, sizeof(esc)));
				rc = -EINVAL;
				break;
			}
			snprintf(section, sizeof(section), "%s", name);
			continue;
		}
		eq = strchr(s, '=');
		if (eq == NULL) {
			gcdl_seterr(err, errlen, "%s:%u: expected 'key = value', got '%s'", path, lineno,
				    printable(s, esc, sizeof(esc)));
			rc = -EINVAL;
			break;
		}
		*eq = '\0';
		name = trim(s);
		val = trim(eq + 1);
		if (section[0] == '\0') {
			gcdl_seterr(err, errlen, "%s:%u: key %s: outside any [section]", path, lineno,
				    printable(name, esc, sizeof(esc)));
			rc = -EINVAL;
			break;
		}
		k = find_key(section, strlen(section), name, strlen(name));
		if (k == NULL) {
			gcdl_seterr(err, errlen, "%s:%u: key %s.%s: unknown key", path, lineno, section,
				    printable(name, esc, sizeof(esc)));
			rc = -EINVAL;
			break;
		}
		if (seen[k - keys]) {
			gcdl_seterr(err, errlen, "%s:%u: key %s.%s: given twice", path, lineno,
				    section, name);
			rc = -EINVAL;
			break;
		}
		seen[k - keys] = 1;
		if (set_value(p, k, val, why, sizeof(why)) != 0) {
			gcdl_seterr(err, errlen, "%s:%u: key %s.%s: %s", path, lineno, section, name,
				    printable(why, esc, sizeof(esc)));
			rc = -EINVAL;
			break;
		}
		p->key_line[k - keys] = lineno;
		nkeys++;
	}
	if (rc == 0 && ferror(f)) {
		gcdl_seterr(err, errlen, "%s: read error", path);
		rc = -EIO;
	}
	/* an empty file, or a wrong one, must not run every default */
	if (rc == 0 && nkeys == 0) {
		gcdl_seterr(err, errlen, "%s: no key is set (an empty profile would run every "
			    "default): give the keys of the job, 'gcdl -- --help' lists them", path);
		rc = -EINVAL;
	}
	free(line);
	fclose(f);
	if (rc != 0)
		gcdl_profile_defaults(p);
	return rc;
}

int
gcdl_profile_set(struct gcdl_profile *p, const char *key, const char *value, char *err,
		 size_t errlen)
{
	const struct key *k;
	const char *dot;
	char why[256];

	if (p == NULL || key == NULL || value == NULL) {
		gcdl_seterr(err, errlen, "profile: missing key or value");
		return -EINVAL;
	}
	dot = strchr(key, '.');
	k = dot ? find_key(key, (size_t)(dot - key), dot + 1, strlen(dot + 1)) : NULL;
	if (k == NULL) {
		gcdl_seterr(err, errlen, "key %s: unknown key", key);
		return -EINVAL;
	}
	if (set_value(p, k, value, why, sizeof(why)) != 0) {
		gcdl_seterr(err, errlen, "key %s: %s", key, why);
		return -EINVAL;
	}
	p->key_line[k - keys] = GCDL_PROFILE_LINE_CLI;
	return 0;
}

int
gcdl_profile_where(const struct gcdl_profile *p, const char *key, char *buf, size_t len)
{
	const struct key *k;
	const char *dot;
	uint32_t line;

	if (p == NULL || key == NULL || buf == NULL || len == 0)
		return -EINVAL;
	dot = strchr(key, '.');
	k = dot ? find_key(key, (size_t)(dot - key), dot + 1, strlen(dot + 1)) : NULL;
	if (k == NULL) {
		snprintf(buf, len, "key %s", key);
		return -EINVAL;
	}
	line = p->key_line[k - keys];
	if (line == GCDL_PROFILE_LINE_CLI)
		snprintf(buf, len, "command line: key %s", key);
	else if (line > 0)
		snprintf(buf, len, "%s:%u: key %s", p->source, line, key);
	else if (p->source[0] != '\0')
		snprintf(buf, len, "%s: key %s (default)", p->source, key);
	else
		snprintf(buf, len, "key %s (default)", key);
	return 0;
}

size_t
gcdl_profile_key_count(void)
{
	return NKEYS;
}

int
gcdl_profile_key_info(size_t i, struct gcdl_profile_key_info *info)
{
	static const int kind[] = { [K_U32] = 0, [K_U64] = 0, [K_F64] = 1, [K_STR] = 2,
				    [K_ENUM] = 3 };

	if (info == NULL || i >= NKEYS)
		return -EINVAL;
	info->section = keys[i].section;
	info->name = keys[i].name;
	info->kind = kind[keys[i].type];
	info->min = keys[i].min;
	info->max = keys[i].max;
	info->def = keys[i].def;
	return 0;
}

/* A relation between keys failed: the message starts where `key` was set. */
static void
bad(const struct gcdl_profile *p, char *err, size_t errlen, const char *key, const char *fmt,
    ...)
{
	char where[GCDL_PROFILE_STR + 96], msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gcdl_profile_where(p, key, where, sizeof(where));
	gcdl_seterr(err, errlen, "%s: %s", where, msg);
}

int
gcdl_profile_override_parse(char *text, struct gcdl_profile_override *ov)
{
	char *eq;

	if (text == NULL || ov == NULL)
		return -EINVAL;
	eq = strchr(text, '=');
	if (eq == NULL || eq == text)
		return -EINVAL;
	*eq = '\0';
	ov->key = text;
	ov->value = eq + 1;
	return 0;
}

int
gcdl_profile_open(struct gcdl_profile *p, const char *path,
		  const struct gcdl_profile_override *ov, int nov, char *err, size_t errlen)
{
	char why[512];
	int rc;

	rc = gcdl_profile_load(p, path, err, errlen);
	if (rc != 0)
		return rc;
	for (int i = 0; i < nov; i++) {
		rc = gcdl_profile_set(p, ov[i].key, ov[i].value, why, sizeof(why));
		if (rc != 0) {
			gcdl_seterr(err, errlen, "command line: %s", why);
			return rc;
		}
	}
	return gcdl_profile_validate(p, err, errlen);
}

int
gcdl_profile_downlink_vote(const struct gcdl_profile *p)
{
	return p != NULL && p->topology != GCDL_TOPO_MESH && p->method == GCDL_METHOD_SIGNSGD_MV &&
	       p->downlink != GCDL_DOWNLINK_RELAY;
}

int
gcdl_profile_downlink_compressed(const struct gcdl_profile *p)
{
	if (p == NULL || p->topology == GCDL_TOPO_MESH || gcdl_profile_downlink_vote(p))
		return 0;
	return p->downlink == GCDL_DOWNLINK_ONEBIT;
}

size_t
gcdl_profile_wire_bytes(const struct gcdl_profile *p, size_t payload_len)
{
	return gcdl_frame_wire_bytes(payload_len +
				     (p != NULL && p->key_file[0] != '\0' ? GCDL_FRAME_TAG_LEN : 0));
}

int
gcdl_profile_worker_momentum(const struct gcdl_profile *p)
{
	return p != NULL && p->momentum_at == GCDL_MOMENTUM_WORKERS && p->momentum > 0;
}

int
gcdl_profile_downlink_group(const struct gcdl_profile *p, uint8_t mac[6])
{
	uint8_t m[2][6];

	if (p == NULL || mac == NULL)
		return -EINVAL;
	if (p->downlink_group[0] == '\0') {
		/* locally administered (bit 1) multicast (bit 0): "gcd" + the job */
		const uint8_t d[6] = { 0x03, 0x67, 0x63, 0x64, (uint8_t)(p->job_id >> 8),
				       (uint8_t)p->job_id };

		memcpy(mac, d, 6);
		return 0;
	}
	if (gcdl_mac_list_parse(p->downlink_group, m, 2) != 1 || !(m[0][0] & 1))
		return -EINVAL;
	memcpy(mac, m[0], 6);
	return 0;
}

uint32_t
gcdl_profile_frame_mtu(const struct gcdl_profile *p)
{
	if (p == NULL)
		return 0;
	return p->key_file[0] != '\0' ? p->mtu - GCDL_FRAME_TAG_LEN : p->mtu;
}

int
gcdl_profile_layout(const struct gcdl_profile *p, enum gcdl_layout_kind *kind,
		    uint32_t *partitions, uint32_t *d)
{
	int uncoded;

	if (p == NULL || kind == NULL || partitions == NULL || d == NULL)
		return -EINVAL;
	uncoded = p->method == GCDL_METHOD_SIGNSGD_MV || p->method == GCDL_METHOD_IGNORE ||
		  p->method == GCDL_METHOD_ONEBIT_UNCODED;
	*kind = uncoded ? GCDL_LAYOUT_UNCODED : p->layout;
	*partitions = p->partitions ? p->partitions : p->workers;
	*d = uncoded ? 1 : p->redundancy;
	return 0;
}

/* The uplink is 1 bit per coordinate with block scales (GCDL_MSG_ONEBIT). */
static int
method_onebit(enum gcdl_method m)
{
	return m == GCDL_METHOD_ONEBIT_GC || m == GCDL_METHOD_ONEBIT_UNCODED ||
	       m == GCDL_METHOD_ONEBIT_GC_EF;
}

static int
is_pow2(uint32_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

int
gcdl_profile_validate(const struct gcdl_profile *p, char *err, size_t errlen)
{
	uint32_t n, m, d;
	enum gcdl_layout_kind kind;
	struct gcdl_layout *l;
	char why[256];

	if (p == NULL) {
		gcdl_seterr(err, errlen, "profile: none given");
		return -EINVAL;
	}
	n = p->workers;
	gcdl_profile_layout(p, &kind, &m, &d);
	if (kind == GCDL_LAYOUT_UNCODED && p->layout != GCDL_LAYOUT_UNCODED && m != n) {
		bad(p, err, errlen, "cluster.partitions",
			 "job.method %s sends with d = 1 and needs cluster.partitions = "
			 "cluster.workers (got M=%u, N=%u)",
			 gcdl_method_name(p->method), m, n);
		return -EINVAL;
	}
	l = gcdl_layout_create(kind, n, m, d, p->seed, why, sizeof(why));
	if (l == NULL) {
		bad(p, err, errlen, "cluster.layout", "cluster.layout %s with workers=%u partitions=%u "
			 "redundancy=%u: %s", gcdl_layout_kind_name(kind), n, m, d, why);
		return -EINVAL;
	}
	gcdl_layout_free(l);
	if (p->quant_lcores > 1 && p->topology == GCDL_TOPO_MESH) {
		bad(p, err, errlen, "dataplane.quant_lcores", "dataplane.quant_lcores = %u: a mesh "
		    "peer quantizes on its own lcore; set it to 1", p->quant_lcores);
		return -EINVAL;
	}
	if (p->agg_lcores > 1 && p->topology == GCDL_TOPO_MESH) {
		bad(p, err, errlen, "dataplane.agg_lcores", "dataplane.agg_lcores = %u: a mesh has "
		    "no aggregator (every peer aggregates on its own lcore); set it to 1",
		    p->agg_lcores);
		return -EINVAL;
	}
	if (p->method == GCDL_METHOD_ONEBIT_GC_EF && p->decoder != GCDL_DECODER_NORMALISED) {
		bad(p, err, errlen, "coding.decoder", "coding.decoder %s: job.method onebit_gc_ef "
		    "decodes with the normalised decoder (METHOD.md, error feedback): its frames "
		    "are biased, so the unbiased decoder's 1/(1-p) has no meaning for them",
		    "unbiased");
		return -EINVAL;
	}
	if (method_onebit(p->method)) {
		if (gcdl_frame_chunk_coords(GCDL_MSG_ONEBIT, gcdl_profile_frame_mtu(p),
					    p->scale_block) == 0) {
			bad(p, err, errlen, "coding.scale_block", "coding.scale_block %u does not fit one frame of "
				 "coding.mtu %u%s", p->scale_block, p->mtu,
			    p->key_file[0] ? " (less the 16-byte tag)" : "");
			return -EINVAL;
		}
	}
	if ((gcdl_profile_downlink_compressed(p) || gcdl_profile_downlink_vote(p)) &&
	    gcdl_frame_chunk_coords(GCDL_MSG_UPDATE1, gcdl_profile_frame_mtu(p), p->scale_block) == 0) {
		bad(p, err, errlen, "coding.scale_block", "coding.scale_block %u does not fit one frame "
		    "of coding.mtu %u%s, and downlink.mode %s sends the update as 1-bit frames of it",
		    p->scale_block, p->mtu, p->key_file[0] ? " (less the 16-byte tag)" : "",
		    gcdl_downlink_name(p->downlink));
		return -EINVAL;
	}
	if (gcdl_frame_chunk_coords(GCDL_MSG_FLOAT, gcdl_profile_frame_mtu(p), 0) == 0) {
		bad(p, err, errlen, "coding.mtu", "coding.mtu %u is too small for a float32 frame%s",
		    p->mtu, p->key_file[0] ? " and the 16-byte tag" : "");
		return -EINVAL;
	}
	if (p->straggler_model == GCDL_STRAGGLER_TIMING) {
		double *f = malloc(sizeof(*f) * n);
		int rc;

		if (f == NULL)
			return -ENOMEM;
		rc = gcdl_straggler_parse_slowdown(p->slowdown, n, f);
		free(f);
		if (rc != 0) {
			bad(p, err, errlen, "stragglers.slowdown", "stragglers.slowdown '%s': expected \"K:F,...\" with "
				 "0 <= K < workers (%u) and F >= 1", p->slowdown, n);
			return -EINVAL;
		}
	}
	if (gcdl_faults_parse_slow(p->fault_slow_workers, n, NULL, NULL) != 0) {
		bad(p, err, errlen, "faults.slow_workers", "faults.slow_workers '%s': expected \"K:F,K:+Dus,...\" with "
			 "0 <= K < workers (%u), F >= 1, D >= 0, each kind once per worker",
			 p->fault_slow_workers, n);
		return -EINVAL;
	}
	if (p->deadline_min_us > p->deadline_max_us) {
		bad(p, err, errlen, "deadline.min_us", "deadline.min_us %.10g is above deadline.max_us %.10g",
			 p->deadline_min_us, p->deadline_max_us);
		return -EINVAL;
	}
	if (p->model == GCDL_MODEL_EXTERNAL) {
		/* the model and its data are the trainer's; gcdl carries its gradient */
		if (p->model_dim == 0) {
			bad(p, err, errlen, "model.dim", "model.type external needs model.dim, the "
			    "trainer's parameter count (lib/python/gcdl sets it)");
			return -EINVAL;
		}
		if (p->downlink != GCDL_DOWNLINK_RELAY) {
			bad(p, err, errlen, "downlink.mode", "model.type external needs downlink.mode "
			    "= relay: every worker decodes the round's gradient for its trainer's "
			    "own optimizer");
			return -EINVAL;
		}
		if (p->topology != GCDL_TOPO_STAR) {
			bad(p, err, errlen, "network.topology", "model.type external runs on "
			    "network.topology = star only");
			return -EINVAL;
		}
		if (p->synthetic_gradient) {
			bad(p, err, errlen, "dataplane.synthetic_gradient", "model.type external "
			    "takes its gradient from the trainer, not a synthetic one");
			return -EINVAL;
		}
	} else if (p->model_dim != 0) {
		bad(p, err, errlen, "model.dim", "model.dim is only for model.type external");
		return -EINVAL;
	}
	if (p->dataset == GCDL_DATA_SYNTH_LINEAR && p->model != GCDL_MODEL_LEAST_SQUARES &&
	    p->model != GCDL_MODEL_EXTERNAL) {
		bad(p, err, errlen, "model.type", "data.dataset synthetic-linear is a regression set: "
			 "model.type must be least_squares");
		return -EINVAL;
	}
	if (p->dataset != GCDL_DATA_SYNTH_LINEAR && p->model == GCDL_MODEL_LEAST_SQUARES &&
	    p->dataset != GCDL_DATA_LIBSVM) {
		bad(p, err, errlen, "model.type", "model.type least_squares needs a regression set "
			 "(data.dataset synthetic-linear or libsvm)");
		return -EINVAL;
	}
	if (p->partitioning == GCDL_PART_LABEL && p->dataset == GCDL_DATA_SYNTH_LINEAR) {
		bad(p, err, errlen, "data.partitioning", "data.partitioning label needs a classification set");
		return -EINVAL;
	}
	if (p->dataset == GCDL_DATA_LIBSVM && p->path[0] == '\0') {
		bad(p, err, errlen, "data.path", "data.path must name the LIBSVM training file");
		return -EINVAL;
	}
	if (p->topology == GCDL_TOPO_STAR && p->aggregators != 1) {
		bad(p, err, errlen, "network.aggregators", "network.aggregators %u: topology star "
		    "has one aggregator (use network.topology = sharded for more)", p->aggregators);
		return -EINVAL;
	}
	{
		uint8_t macs[64][6];
		int na = gcdl_mac_list_parse(p->aggregator_macs, macs, 64);
		int nw;

		if (na < 0 || (na > 0 && (uint32_t)na != p->aggregators)) {
			bad(p, err, errlen, "network.aggregator_macs", "network.aggregator_macs '%s': "
			    "expected empty or %u MACs \"aa:bb:cc:dd:ee:ff,...\" (one per aggregator)",
			    p->aggregator_macs, p->aggregators);
			return -EINVAL;
		}
		nw = gcdl_mac_list_parse(p->worker_macs, NULL, 0);
		if (nw == -E2BIG) {
			uint8_t (*wm)[6] = malloc(6 * (size_t)n);

			if (wm == NULL)
				return -ENOMEM;
			nw = gcdl_mac_list_parse(p->worker_macs, wm, n);
			free(wm);
		}
		if (nw < 0 || (nw > 0 && (uint32_t)nw != n)) {
			bad(p, err, errlen, "network.worker_macs", "network.worker_macs '%s': expected "
			    "empty or %u MACs \"aa:bb:cc:dd:ee:ff,...\" (one per worker)",
			    p->worker_macs, n);
			return -EINVAL;
		}
	}
	{
		uint8_t g[6];

		if (gcdl_profile_downlink_group(p, g) != 0) {
			bad(p, err, errlen, "downlink.group", "downlink.group '%s': expected one "
			    "multicast MAC \"03:xx:xx:xx:xx:xx\" (the first byte odd)",
			    p->downlink_group);
			return -EINVAL;
		}
	}
	if (p->topology == GCDL_TOPO_SHARDED &&
	    (gcdl_profile_downlink_compressed(p) || gcdl_profile_downlink_vote(p)) &&
	    !method_onebit(p->method)) {
		/* the 1-bit update's frames are the 1-bit uplink's chunks: with another
		 * uplink they would straddle the aggregators' ranges */
		bad(p, err, errlen, "downlink.mode", "downlink.mode %s with network.topology "
		    "sharded needs a 1-bit uplink method (onebit_gc, onebit_uncoded, onebit_gc_ef): "
		    "use float32",
		    p->downlink == GCDL_DOWNLINK_ONEBIT ? "onebit" : "float32 (a 1-bit vote)");
		return -EINVAL;
	}
	if (p->downlink == GCDL_DOWNLINK_RELAY && p->topology == GCDL_TOPO_SHARDED) {
		bad(p, err, errlen, "downlink.mode", "downlink.mode relay needs one aggregator "
		    "(topology star): with network.topology sharded use onebit or float32");
		return -EINVAL;
	}
	if (!is_pow2(p->ring_size)) {
		bad(p, err, errlen, "dataplane.ring_size", "dataplane.ring_size %u is not a power of two", p->ring_size);
		return -EINVAL;
	}
	if (p->checkpoint_every > 0 && p->checkpoint_path[0] == '\0') {
		bad(p, err, errlen, "checkpoint.path", "checkpoint.every %u needs checkpoint.path",
		    p->checkpoint_every);
		return -EINVAL;
	}
	if (p->burst > p->ring_size) {
		bad(p, err, errlen, "dataplane.burst", "dataplane.burst %u is above "
		    "dataplane.ring_size %u", p->burst, p->ring_size);
		return -EINVAL;
	}
	if (p->name[0] == '\0') {
		bad(p, err, errlen, "job.name", "job.name is empty");
		return -EINVAL;
	}
	for (const char *c = p->name; *c != '\0'; c++) {
		if (!isprint((unsigned char)*c)) {
			bad(p, err, errlen, "job.name", "job.name has a non-printable character");
			return -EINVAL;
		}
	}
	if (p->test_path[0] != '\0' && p->dataset != GCDL_DATA_LIBSVM) {
		bad(p, err, errlen, "data.test_path", "data.test_path is only read for "
		    "data.dataset libsvm (got %s)", p->dataset == GCDL_DATA_FMNIST ? "fashion-mnist"
		    : "a synthetic set");
		return -EINVAL;
	}
	if (p->dataset != GCDL_DATA_LIBSVM && p->model != GCDL_MODEL_EXTERNAL) {
		/* libsvm sizes are known once read; the others now */
		double f = p->dataset == GCDL_DATA_FMNIST ? 784 : p->synth_features;
		double c = p->dataset == GCDL_DATA_FMNIST ? 10
			   : p->dataset == GCDL_DATA_SYNTH_GMM ? p->synth_classes : 1;
		double dim = p->model == GCDL_MODEL_MLP ? (f + 1) * p->hidden + (p->hidden + 1) * c
			     : (f + 1) * c;

		if (dim > GCDL_PROFILE_MAX_DIM) {
			bad(p, err, errlen, p->model == GCDL_MODEL_MLP ? "model.hidden"
			    : "data.synthetic_features", "the model would have %.0f coordinates, "
			    "above %u", dim, (unsigned)GCDL_PROFILE_MAX_DIM);
			return -EINVAL;
		}
	}
	return 0;
}

static void
value_text(const struct gcdl_profile *p, const struct key *k, char *buf, size_t len)
{
	const void *field = (const char *)p + k->off;

	switch (k->type) {
	case K_STR:
		snprintf(buf, len, "%s", (const char *)field);
		break;
	case K_ENUM:
		snprintf(buf, len, "%s", k->names[*(const int *)field]);
		break;
	case K_U32:
		snprintf(buf, len, "%" PRIu32, *(const uint32_t *)field);
		break;
	case K_U64:
		snprintf(buf, len, "%" PRIu64, *(const uint64_t *)field);
		break;
	case K_F64:
		snprintf(buf, len, "%.17g", *(const double *)field);
		break;
	}
}

void
gcdl_profile_print_keys(FILE *out)
{
	const char *section = "";

	if (out == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		char rng[160];

		if (strcmp(section, keys[i].section) != 0) {
			section = keys[i].section;
			fprintf(out, "  [%s]\n", section);
		}
		range_text(&keys[i], rng, sizeof(rng));
		fprintf(out, "    %-20s %s (default: %s; %s)\n", keys[i].name, keys[i].doc,
			keys[i].def[0] ? keys[i].def : "\"\"", rng);
	}
}

void
gcdl_profile_write(const struct gcdl_profile *p, FILE *out)
{
	const char *section = "";

	if (p == NULL || out == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		char val[GCDL_PROFILE_STR + 32];

		if (strcmp(section, keys[i].section) != 0) {
			section = keys[i].section;
			fprintf(out, "[%s]\n", section);
		}
		value_text(p, &keys[i], val, sizeof(val));
		fprintf(out, "%s = %s\n", keys[i].name, val);
	}
}

uint64_t
gcdl_profile_hash(const struct gcdl_profile *p)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	if (p == NULL)
		return 0;
	for (size_t i = 0; i < NKEYS; i++) {
		char val[GCDL_PROFILE_STR + 64];
		int n;

		/* the data plane's local tuning, injected faults and where checkpoints go
		 * may differ between hosts (and between a run and its resumption), as
		 * may where a host keeps the job key; whether frames carry a tag is
		 * the job's (it sets the chunk sizes) */
		if (strcmp(keys[i].section, "dataplane") == 0 ||
		    strcmp(keys[i].section, "faults") == 0 ||
		    strcmp(keys[i].section, "checkpoint") == 0)
			continue;
		n = snprintf(val, sizeof(val), "%s.%s=", keys[i].section, keys[i].name);
		if (strcmp(keys[i].section, "job") == 0 && strcmp(keys[i].name, "key_file") == 0)
			snprintf(val + n, sizeof(val) - (size_t)n, "%s",
				 p->key_file[0] != '\0' ? "tagged" : "");
		else
			value_text(p, &keys[i], val + n, sizeof(val) - (size_t)n);
		for (const char *c = val; *c != '\0'; c++) {
			h ^= (unsigned char)*c;
			h *= UINT64_C(0x100000001b3);
		}
		h ^= '\n';
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

int
gcdl_method_parse(const char *name, enum gcdl_method *method)
{
	if (name == NULL || method == NULL)
		return -EINVAL;
	for (int i = 0; method_names[i] != NULL; i++) {
		if (strcmp(name, method_names[i]) == 0) {
			*method = (enum gcdl_method)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
gcdl_method_name(enum gcdl_method method)
{
	if ((unsigned)method >= GCDL_METHOD__COUNT)
		return "unknown";
	return method_names[method];
}

const char *
gcdl_downlink_name(enum gcdl_downlink mode)
{
	if ((unsigned)mode >= GCDL_DOWNLINK__COUNT)
		return "unknown";
	return downlink_names[mode];
}
