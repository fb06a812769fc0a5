/* SPDX-License-Identifier: BSD-3-Clause */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gcdl/profile.h"

static char path[64];

static void
setup(void)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/gcdl_test_profile_XXXXXX");
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
write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* Load text; expect failure with every fragment in the message. */
static void
expect_load_error(const char *text, const char *frag1, const char *frag2)
{
	struct gcdl_profile p, def;
	char err[512] = "";

	write_file(text);
	ck_assert_int_eq(gcdl_profile_load(&p, path, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, path) != NULL, "no file name in '%s'", err);
	ck_assert_msg(strstr(err, frag1) != NULL, "'%s' not in '%s'", frag1, err);
	if (frag2 != NULL)
		ck_assert_msg(strstr(err, frag2) != NULL, "'%s' not in '%s'", frag2, err);
	/* a failed load leaves the defaults, nothing half-set */
	gcdl_profile_defaults(&def);
	ck_assert_uint_eq(gcdl_profile_hash(&p), gcdl_profile_hash(&def));
}

START_TEST(rejects_null_and_missing_file)
{
	struct gcdl_profile p;
	char err[256];

	ck_assert_int_eq(gcdl_profile_load(NULL, path, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gcdl_profile_load(&p, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gcdl_profile_load(&p, "/nonexistent/gcdl.ini", err, sizeof(err)),
			 -ENOENT);
	ck_assert(strstr(err, "/nonexistent/gcdl.ini") != NULL);
	/* err may be NULL */
	ck_assert_int_eq(gcdl_profile_load(&p, "/nonexistent/gcdl.ini", NULL, 0), -ENOENT);
	ck_assert_int_eq(gcdl_profile_set(&p, NULL, "1", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gcdl_profile_set(&p, "job.rounds", NULL, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gcdl_profile_validate(NULL, err, sizeof(err)), -EINVAL);
	/* void calls ignore NULL, the hash of nothing is 0 */
	gcdl_profile_defaults(NULL);
	gcdl_profile_write(NULL, stdout);
	gcdl_profile_defaults(&p);
	gcdl_profile_write(&p, NULL);
	gcdl_profile_print_keys(NULL);
	ck_assert_uint_eq(gcdl_profile_hash(NULL), 0);
	ck_assert_uint_ne(gcdl_profile_hash(&p), 0);
}
END_TEST

START_TEST(rejects_syntax_errors_with_line)
{
	expect_load_error("[job]\nrounds = 5\n[nosuch]\n", ":3:", "unknown section [nosuch]");
	expect_load_error("[job]\n\n# c\nbogus = 1\n", ":4:", "job.bogus: unknown key");
	expect_load_error("[job]\nrounds 5\n", ":2:", "expected 'key = value'");
	expect_load_error("rounds = 5\n", ":1:", "outside any [section]");
	expect_load_error("[job\n", ":1:", "malformed section header");
	expect_load_error("[job]\nrounds = 5\nrounds = 6\n", ":3:", "given twice");
}
END_TEST

START_TEST(rejects_bad_values_with_key)
{
	expect_load_error("[job]\nrounds = 0\n", ":2:", "job.rounds: 0 is out of range");
	expect_load_error("[job]\nrounds = -3\n", "job.rounds", "not a non-negative decimal integer");
	expect_load_error("[job]\nrounds = 12abc\n", "job.rounds", "not a non-negative decimal integer");
	expect_load_error("[job]\nrounds =\n", "job.rounds", "not a non-negative decimal integer");
	expect_load_error("[job]\njob_id = 4294967296\n", "job.job_id", "out of range");
	expect_load_error("[job]\nmethod = turbo\n", "job.method", "'turbo' is not one of");
	expect_load_error("[stragglers]\np = 1.5\n", "stragglers.p", "out of range");
	expect_load_error("[stragglers]\np = nan\n", "stragglers.p", "not a finite number");
	expect_load_error("[stragglers]\np = 0.2x\n", "stragglers.p", "not a finite number");
	expect_load_error("[optim]\nlr = inf\n", "optim.lr", "not a finite number");
	expect_load_error("[optim]\nlr = 0\n", "optim.lr", "out of range");
	expect_load_error("[coding]\nmtu = 9001\n", "coding.mtu", "out of range");
	expect_load_error("[cluster]\nlayout = diagonal\n", "cluster.layout", "not one of");
	expect_load_error("[cluster]\nworkers = 5000\n", "cluster.workers", "out of range");
	expect_load_error("[model]\ntype = cnn\n", "model.type", "not one of");
	expect_load_error("[data]\ndataset = cifar\n", "data.dataset", "not one of");
}
END_TEST

/* Every key of the table: values outside its range, of the wrong kind, or
 * too long are refused with file:line:key, and the load leaves the defaults. */
START_TEST(every_key_rejects_bad_values)
{
	size_t n = gcdl_profile_key_count();

	ck_assert_uint_gt(n, 50);
	for (size_t i = 0; i < n; i++) {
		struct gcdl_profile_key_info k;
		char text[600], where[128];
		int h;

		ck_assert_int_eq(gcdl_profile_key_info(i, &k), 0);
		snprintf(where, sizeof(where), ":2: key %s.%s: ", k.section, k.name);
		h = snprintf(text, sizeof(text), "[%s]\n%s = ", k.section, k.name);
		switch (k.kind) {
		case 0: /* unsigned integer */
			snprintf(text + h, sizeof(text) - h, "-1\n");
			expect_load_error(text, where, "not a non-negative decimal integer");
			snprintf(text + h, sizeof(text) - h, "7q\n");
			expect_load_error(text, where, "not a non-negative decimal integer");
			snprintf(text + h, sizeof(text) - h, "%.0f\n", k.max + 1);
			expect_load_error(text, where, "out of range");
			if (k.min >= 1) {
				snprintf(text + h, sizeof(text) - h, "%.0f\n", k.min - 1);
				expect_load_error(text, where, "out of range");
			}
			break;
		case 1: /* real */
			snprintf(text + h, sizeof(text) - h, "%.17g\n", k.max * 1.0001 + 1e-9);
			expect_load_error(text, where, "out of range");
			snprintf(text + h, sizeof(text) - h, "%.17g\n",
				 k.min > 0 ? k.min * 0.9999 : k.min - 1e-9);
			expect_load_error(text, where, "out of range");
			snprintf(text + h, sizeof(text) - h, "nan\n");
			expect_load_error(text, where, "not a finite number");
			snprintf(text + h, sizeof(text) - h, "1e400\n");
			expect_load_error(text, where, "not a finite number");
			break;
		case 2: /* text */
			memset(text + h, 'a', 300);
			snprintf(text + h + 300, sizeof(text) - h - 300, "\n");
			expect_load_error(text, where, "longer than");
			break;
		default: /* one of names */
			snprintf(text + h, sizeof(text) - h, "no-such-value\n");
			expect_load_error(text, where, "is not one of");
			break;
		}
	}
	ck_assert_int_eq(gcdl_profile_key_info(n, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_profile_key_info(n, &(struct gcdl_profile_key_info){ 0 }), -EINVAL);
}
END_TEST

/* open + validate: a relation that fails names the file, the line and the key. */
static void
expect_open_error(const char *text, const char *where_frag, const char *msg)
{
	struct gcdl_profile p;
	char err[512] = "", want[256];

	write_file(text);
	ck_assert_int_eq(gcdl_profile_open(&p, path, NULL, 0, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s%s", path, where_frag);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "'%s' does not start with '%s'", err,
		      want);
	ck_assert_msg(strstr(err, msg) != NULL, "'%s' not in '%s'", msg, err);
}

START_TEST(relations_name_file_line_key)
{
	const struct gcdl_profile_override cli[] = { { "dataplane.burst", "128" } };
	struct gcdl_profile p;
	char err[512], buf[64];

	expect_open_error("[cluster]\nworkers = 10\nredundancy = 3\npartitions = 7\n",
			  ": key cluster.layout (default): ", "d*M/N must be an integer");
	expect_open_error("[job]\nmethod = ignore\n[cluster]\npartitions = 20\n",
			  ":4: key cluster.partitions: ", "needs cluster.partitions");
	expect_open_error("[coding]\nscale_block = 16384\n", ":2: key coding.scale_block: ",
			  "does not fit");
	expect_open_error("[stragglers]\nmodel = timing\nslowdown = 10:5\n",
			  ":3: key stragglers.slowdown: ", "0 <= K < workers");
	expect_open_error("[faults]\nslow_workers = 3:0.5\n", ":2: key faults.slow_workers: ",
			  "F >= 1");
	expect_open_error("[faults]\nslow_workers = 3:5,3:6\n", ":2: key faults.slow_workers: ",
			  "each kind once");
	expect_open_error("[deadline]\nmax_us = 100\nmin_us = 5000\n",
			  ":3: key deadline.min_us: ", "above deadline.max_us");
	expect_open_error("[data]\ndataset = synthetic-linear\n",
			  ": key model.type (default): ", "regression set");
	expect_open_error("[model]\ntype = least_squares\n", ":2: key model.type: ",
			  "needs a regression set");
	expect_open_error("[data]\ndataset = synthetic-linear\npartitioning = label\n"
			  "[model]\ntype = least_squares\n",
			  ":3: key data.partitioning: ", "classification set");
	expect_open_error("[data]\ndataset = libsvm\npath =\n", ":3: key data.path: ",
			  "LIBSVM training file");
	expect_open_error("[dataplane]\nring_size = 1000\n", ":2: key dataplane.ring_size: ",
			  "not a power of two");
	expect_open_error("[dataplane]\nring_size = 64\nburst = 65\n",
			  ":3: key dataplane.burst: ", "above dataplane.ring_size 64");
	expect_open_error("[job]\nname =\n", ":2: key job.name: ", "empty");
	expect_open_error("[job]\nname = a\tb\n", ":2: key job.name: ", "non-printable");
	expect_open_error("[data]\ntest_path = /tmp/x\n", ":2: key data.test_path: ",
			  "only read for data.dataset libsvm");
	expect_open_error("[model]\ntype = mlp\nhidden = 65536\n[data]\n"
			  "dataset = synthetic-gmm\nsynthetic_features = 100000\n",
			  ":3: key model.hidden: ", "coordinates, above");
	expect_open_error("[data]\ndataset = synthetic-gmm\nsynthetic_features = 1000000\n"
			  "synthetic_classes = 1000\n", ":3: key data.synthetic_features: ",
			  "coordinates, above");
	/* the same relation from the command line says so */
	write_file("[dataplane]\nring_size = 64\n");
	ck_assert_int_eq(gcdl_profile_open(&p, path, cli, 1, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "command line: key dataplane.burst: dataplane.burst 128 is above "
			 "dataplane.ring_size 64");
	/* where() itself */
	gcdl_profile_defaults(&p);
	ck_assert_int_eq(gcdl_profile_where(&p, "job.rounds", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "key job.rounds (default)");
	ck_assert_int_eq(gcdl_profile_where(&p, "job.nope", buf, sizeof(buf)), -EINVAL);
	ck_assert_str_eq(buf, "key job.nope");
	ck_assert_int_eq(gcdl_profile_where(NULL, "job.rounds", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(gcdl_profile_where(&p, NULL, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(gcdl_profile_where(&p, "job.rounds", NULL, 0), -EINVAL);
}
END_TEST

START_TEST(rejects_long_values_and_lines)
{
	char text[2200];
	int n;

	n = snprintf(text, sizeof(text), "[job]\nname = ");
	memset(text + n, 'a', 300);
	strcpy(text + n + 300, "\n");
	expect_load_error(text, "job.name", "longer than");
	n = snprintf(text, sizeof(text), "[job]\n# ");
	memset(text + n, 'b', 1500);
	strcpy(text + n + 1500, "\n");
	expect_load_error(text, ":2:", "line longer than");
}
END_TEST

/* Write raw bytes (NULs included) to the profile file. */
static void
write_bytes(const char *bytes, size_t n)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
	fclose(f);
}

START_TEST(rejects_empty_nul_octal_and_escapes)
{
	static const char nul[] = "[job]\nrounds = 5\0\nseed = 3\n";
	static const char bin[] = "[job]\n\x1b[2J\x07\xff = 1\n";
	struct gcdl_profile p, def;
	char err[512] = "";

	/* an empty profile, or one with only comments and sections, runs nothing */
	expect_load_error("", "no key is set", NULL);
	expect_load_error("; nothing\n[job]\n\n", "no key is set", NULL);
	/* "010" is not octal 8 and "0x10" not hex 16: decimal only */
	expect_load_error("[job]\nrounds = 010\n", "job.rounds", "decimal, without a leading zero");
	expect_load_error("[job]\nseed = 0x10\n", "job.seed", "decimal, without a leading zero");
	expect_load_error("[job]\nrounds = 1e3\n", "job.rounds", "decimal integer");
	/* a plain 0 is still fine where the range allows it */
	write_file("[job]\neval_every = 0\n");
	ck_assert_int_eq(gcdl_profile_load(&p, path, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.eval_every, 0);
	/* a NUL byte would hide "seed = 3": an error naming its line */
	write_bytes(nul, sizeof(nul) - 1);
	ck_assert_int_eq(gcdl_profile_load(&p, path, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, ":2: a NUL byte") != NULL, "'%s'", err);
	gcdl_profile_defaults(&def);
	ck_assert_uint_eq(gcdl_profile_hash(&p), gcdl_profile_hash(&def));
	/* binary bytes are escaped, never echoed raw to the terminal */
	write_bytes(bin, sizeof(bin) - 1);
	ck_assert_int_eq(gcdl_profile_load(&p, path, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "\\x1b[2J\\x07\\xff") != NULL, "'%s'", err);
	for (const char *c = err; *c != '\0'; c++)
		ck_assert_msg((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f,
			      "raw byte 0x%02x in '%s'", (unsigned char)*c, err);
}
END_TEST

START_TEST(rejects_bad_relations)
{
	struct gcdl_profile p;
	char err[512];

	gcdl_profile_defaults(&p);
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), 0);

	p.redundancy = 3; /* d*M/N = 3 with N = M = 10: fine for pairwise */
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), 0);
	p.partitions = 7; /* 3*7/10 is not an integer */
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "cluster.layout") != NULL);
	ck_assert(strstr(err, "redundancy=3") != NULL);

	gcdl_profile_defaults(&p);
	p.redundancy = 11;
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);

	gcdl_profile_defaults(&p);
	p.method = GCDL_METHOD_IGNORE;
	p.partitions = 20;
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "cluster.partitions = cluster.workers") != NULL);
	p.partitions = 0; /* M = N: fine, and the d = 1 layout replaces the profile's d */
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), 0);

	gcdl_profile_defaults(&p);
	p.scale_block = 16384; /* 2048 bytes of bits + one scale > 1500 - 36 */
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "coding.scale_block") != NULL);
	p.mtu = 9000; /* 2048 + 4 bytes fit a jumbo frame */
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), 0);

	gcdl_profile_defaults(&p);
	p.straggler_model = GCDL_STRAGGLER_TIMING;
	snprintf(p.slowdown, sizeof(p.slowdown), "3:5");
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), 0);
	snprintf(p.slowdown, sizeof(p.slowdown), "10:5");
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "stragglers.slowdown") != NULL);
	snprintf(p.slowdown, sizeof(p.slowdown), "3:0.5");
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
	snprintf(p.slowdown, sizeof(p.slowdown), "3:5,");
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);

	gcdl_profile_defaults(&p);
	p.deadline_min_us = 5000;
	p.deadline_max_us = 100;
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "deadline.min_us") != NULL);

	gcdl_profile_defaults(&p);
	p.dataset = GCDL_DATA_SYNTH_LINEAR;
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "least_squares") != NULL);
	p.model = GCDL_MODEL_LEAST_SQUARES;
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), 0);
	p.partitioning = GCDL_PART_LABEL;
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);

	gcdl_profile_defaults(&p);
	p.model = GCDL_MODEL_LEAST_SQUARES; /* on fashion-mnist */
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);

	gcdl_profile_defaults(&p);
	p.ring_size = 1000;
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "dataplane.ring_size") != NULL);

	gcdl_profile_defaults(&p);
	p.dataset = GCDL_DATA_LIBSVM;
	p.path[0] = '\0';
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);

	/* model.type external: needs model.dim, relay, star, a real gradient */
	gcdl_profile_defaults(&p);
	p.model = GCDL_MODEL_EXTERNAL;
	p.downlink = GCDL_DOWNLINK_RELAY;
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "model.type external needs model.dim") != NULL);
	p.model_dim = 30000;
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), 0);
	p.dataset = GCDL_DATA_SYNTH_LINEAR; /* the data is the trainer's: not checked */
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), 0);
	p.downlink = GCDL_DOWNLINK_ONEBIT;
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "needs downlink.mode = relay") != NULL);
	p.downlink = GCDL_DOWNLINK_RELAY;
	p.topology = GCDL_TOPO_MESH;
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "network.topology = star only") != NULL);
	p.topology = GCDL_TOPO_STAR;
	p.synthetic_gradient = 1;
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "dataplane.synthetic_gradient") != NULL);
	gcdl_profile_defaults(&p);
	p.model_dim = 100; /* a built-in model has its own size */
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "model.dim is only for model.type external") != NULL);
}
END_TEST

START_TEST(set_rejects_unknown_and_bad)
{
	struct gcdl_profile p;
	char err[256];

	gcdl_profile_defaults(&p);
	ck_assert_int_eq(gcdl_profile_set(&p, "rounds", "5", err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "unknown key") != NULL);
	ck_assert_int_eq(gcdl_profile_set(&p, "job.nope", "5", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(gcdl_profile_set(&p, "job.rounds", "five", err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "job.rounds") != NULL);
	ck_assert_uint_eq(p.rounds, 200); /* unchanged */
	ck_assert_int_eq(gcdl_profile_set(&p, "job.rounds", "77", err, sizeof(err)), 0);
	ck_assert_uint_eq(p.rounds, 77);
	ck_assert_int_eq(gcdl_profile_set(&p, "coding.decoder", "normalized", err, sizeof(err)),
			 0);
	ck_assert_int_eq(p.decoder, GCDL_DECODER_NORMALISED);
	ck_assert_int_eq(gcdl_profile_set(&p, "coding.decoder", "unbiased", err, sizeof(err)), 0);
	ck_assert_int_eq(p.decoder, GCDL_DECODER_UNBIASED);
}
END_TEST

START_TEST(override_parse)
{
	struct gcdl_profile_override ov;
	char ok[] = "stragglers.p=0.3", noeq[] = "stragglers.p", nokey[] = "=1", empty[] = "a.b=";

	ck_assert_int_eq(gcdl_profile_override_parse(NULL, &ov), -EINVAL);
	ck_assert_int_eq(gcdl_profile_override_parse(ok, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_profile_override_parse(noeq, &ov), -EINVAL);
	ck_assert_str_eq(noeq, "stragglers.p");
	ck_assert_int_eq(gcdl_profile_override_parse(nokey, &ov), -EINVAL);
	ck_assert_int_eq(gcdl_profile_override_parse(ok, &ov), 0);
	ck_assert_str_eq(ov.key, "stragglers.p");
	ck_assert_str_eq(ov.value, "0.3");
	ck_assert_int_eq(gcdl_profile_override_parse(empty, &ov), 0); /* the value check is set's */
	ck_assert_str_eq(ov.value, "");
}
END_TEST

START_TEST(open_applies_overrides_then_validates)
{
	const struct gcdl_profile_override good[] = { { "job.rounds", "9" },
						      { "cluster.workers", "7" } };
	const struct gcdl_profile_override bad_key[] = { { "job.nope", "1" } };
	const struct gcdl_profile_override bad_rel[] = { { "cluster.redundancy", "3" },
							 { "cluster.partitions", "5" } };
	struct gcdl_profile p;
	char err[512];

	write_file("[job]\nrounds = 4\n");
	ck_assert_int_eq(gcdl_profile_open(&p, path, good, 2, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.rounds, 9); /* the command line wins over the file */
	ck_assert_uint_eq(p.workers, 7);
	ck_assert_int_eq(gcdl_profile_open(&p, path, bad_key, 1, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "command line: key job.nope: unknown key");
	ck_assert_int_eq(gcdl_profile_open(&p, path, bad_rel, 2, err, sizeof(err)), -EINVAL);
	ck_assert(strncmp(err, path, strlen(path)) == 0);
	ck_assert(strstr(err, "d*M/N must be an integer") != NULL);
	ck_assert_int_eq(gcdl_profile_open(&p, "/nonexistent.ini", NULL, 0, err, sizeof(err)),
			 -ENOENT);
}
END_TEST

START_TEST(defaults_are_documented_values)
{
	struct gcdl_profile p;

	gcdl_profile_defaults(&p);
	ck_assert_uint_eq(p.workers, 10);
	ck_assert_uint_eq(p.partitions, 0);
	ck_assert_uint_eq(p.redundancy, 2);
	ck_assert_int_eq(p.layout, GCDL_LAYOUT_PAIRWISE);
	ck_assert_int_eq(p.method, GCDL_METHOD_ONEBIT_GC);
	ck_assert_int_eq(p.decoder, GCDL_DECODER_NORMALISED);
	ck_assert_uint_eq(p.scale_block, 256);
	ck_assert_uint_eq(p.mtu, 1500);
	ck_assert_double_eq(p.straggler_p, 0.2);
	ck_assert_str_eq(p.path, "/usr/share/datasets/fashion-mnist");
	ck_assert_uint_eq(p.burst, 32);
}
END_TEST

START_TEST(loads_values)
{
	struct gcdl_profile p;
	char err[256] = "";

	write_file("; comment\n# another\n\n[job]\n  rounds = 12  \nseed=16\nmethod = sgc\n"
		   "[cluster]\nworkers = 7\nredundancy = 3\nlayout = cyclic\n"
		   "[stragglers]\nmodel = timing\nslowdown = 1:2.5, 3:4\n"
		   "[optim]\nlr = 2.5e-2\nschedule = step\n");
	ck_assert_int_eq(gcdl_profile_load(&p, path, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.rounds, 12);
	ck_assert_uint_eq(p.seed, 16);
	ck_assert_int_eq(p.method, GCDL_METHOD_SGC);
	ck_assert_uint_eq(p.workers, 7);
	ck_assert_uint_eq(p.redundancy, 3);
	ck_assert_int_eq(p.layout, GCDL_LAYOUT_CYCLIC);
	ck_assert_int_eq(p.straggler_model, GCDL_STRAGGLER_TIMING);
	ck_assert_str_eq(p.slowdown, "1:2.5, 3:4");
	ck_assert_double_eq(p.lr, 0.025);
	ck_assert_int_eq(p.schedule, GCDL_SCHEDULE_STEP);
	ck_assert_uint_eq(p.eval_every, 10); /* untouched default */
	ck_assert_int_eq(gcdl_profile_validate(&p, err, sizeof(err)), 0);
}
END_TEST

START_TEST(write_round_trips_and_hash)
{
	struct gcdl_profile p, q;
	char err[256];
	uint64_t h;
	FILE *f;

	gcdl_profile_defaults(&p);
	p.rounds = 321;
	p.lr = 0.0123456789;
	p.method = GCDL_METHOD_SIGNSGD_MV;
	snprintf(p.name, sizeof(p.name), "round trip");
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	gcdl_profile_write(&p, f);
	fclose(f);
	ck_assert_int_eq(gcdl_profile_load(&q, path, err, sizeof(err)), 0);
	ck_assert_uint_eq(q.rounds, 321);
	ck_assert_double_eq(q.lr, 0.0123456789);
	ck_assert_int_eq(q.method, GCDL_METHOD_SIGNSGD_MV);
	ck_assert_str_eq(q.name, "round trip");
	h = gcdl_profile_hash(&p);
	ck_assert_uint_eq(gcdl_profile_hash(&q), h);
	/* local data-plane tuning does not change the job's identity... */
	q.burst = 64;
	ck_assert_uint_eq(gcdl_profile_hash(&q), h);
	/* ...but anything the nodes must agree on does */
	q.scale_block = 128;
	ck_assert_uint_ne(gcdl_profile_hash(&q), h);
}
END_TEST

START_TEST(method_names)
{
	enum gcdl_method m;

	ck_assert_int_eq(gcdl_method_parse(NULL, &m), -EINVAL);
	ck_assert_int_eq(gcdl_method_parse("sgc", NULL), -EINVAL);
	ck_assert_int_eq(gcdl_method_parse("SGC", &m), -EINVAL);
	ck_assert_str_eq(gcdl_method_name((enum gcdl_method)99), "unknown");
	for (int i = 0; i < GCDL_METHOD__COUNT; i++) {
		ck_assert_int_eq(gcdl_method_parse(gcdl_method_name((enum gcdl_method)i), &m), 0);
		ck_assert_int_eq(m, i);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("profile");
	TCase *neg = tcase_create("negative");
	TCase *pos = tcase_create("positive");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(neg, setup, teardown);
	tcase_add_checked_fixture(pos, setup, teardown);
	tcase_add_test(neg, rejects_null_and_missing_file);
	tcase_add_test(neg, rejects_syntax_errors_with_line);
	tcase_add_test(neg, rejects_bad_values_with_key);
	tcase_add_test(neg, rejects_long_values_and_lines);
	tcase_add_test(neg, rejects_empty_nul_octal_and_escapes);
	tcase_add_test(neg, every_key_rejects_bad_values);
	tcase_add_test(neg, relations_name_file_line_key);
	tcase_add_test(neg, rejects_bad_relations);
	tcase_add_test(neg, set_rejects_unknown_and_bad);
	tcase_add_test(neg, override_parse);
	tcase_add_test(neg, open_applies_overrides_then_validates);
	tcase_add_test(pos, defaults_are_documented_values);
	tcase_add_test(pos, loads_values);
	tcase_add_test(pos, write_round_trips_and_hash);
	tcase_add_test(pos, method_names);
	suite_add_tcase(s, neg);
	suite_add_tcase(s, pos);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
