/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gcdl-bench: microbenchmarks of the 1-bit kernels, each timed next to a
 * memcpy of the same bytes in the same run.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gcdl/kernels.h"
#include "bench_auth.h"
#include "gcdl/quant.h"
#include "gcdl/rng.h"
#include "gcdl/version.h"

#define MAX_COORDS (UINT32_C(1) << 28) /* 1 GiB of floats */
#define REPEATS 5		       /* measurements per rate; the best is kept */
#define BENCH_SEED UINT64_C(0x6763646c)

struct bench {
	uint32_t coords, scale_block;
	float *v;	/* input values */
	float *scales;	/* block scales of v */
	uint8_t *bits;	/* packed bits of v */
	float *acc;	/* accumulators / unpack output */
	uint32_t *words; /* random words */
	void *src, *dst; /* memcpy baseline */
	uint32_t round;
};

struct kernel {
	const char *name;
	const char *what; /* for --help */
	void (*run)(struct bench *b);
	size_t (*bytes)(const struct bench *b); /* bytes the memcpy baseline copies */
};

struct opts {
	uint32_t coords, scale_block;
	double min_time;
	const char *kernel; /* NULL: all */
	int json;
	int path; /* -1: the default choice */
};

/* Keep the compiler from dropping or merging the timed calls. */
static inline void
clobber(void)
{
	__asm__ volatile("" ::: "memory");
}

static void
run_quantize(struct bench *b)
{
	gcdl_quant_onebit(b->v, b->coords, b->scale_block, BENCH_SEED, b->round++, 3, 7, b->scales,
			  b->bits);
}

static void
run_sign(struct bench *b)
{
	gcdl_quant_sign(b->v, b->coords, b->bits);
}

static void
run_accumulate(struct bench *b)
{
	gcdl_quant_accumulate(b->acc, b->bits, b->scales, b->coords, b->scale_block);
}

static void
run_unpack(struct bench *b)
{
	gcdl_quant_unpack(b->bits, b->scales, b->coords, b->scale_block, b->acc);
}

static void
run_rng(struct bench *b)
{
	gcdl_rng_stream(BENCH_SEED, b->round++, 3, 7, 0, b->words, b->coords);
}

static size_t
floats_bytes(const struct bench *b)
{
	return (size_t)b->coords * sizeof(float);
}

static void
run_auth(struct bench *b)
{
	gcdl_bench_auth_run(b->coords, b->scale_block);
}

static size_t
auth_bytes(const struct bench *b)
{
	return gcdl_bench_auth_bytes(b->coords, b->scale_block);
}

static const struct kernel kernels[] = {
	{ "quantize_1bit", "gcdl_quant_onebit, stochastic bits + block scales (vs floats in)",
	  run_quantize, floats_bytes },
	{ "sign_1bit", "gcdl_quant_sign (vs floats in)", run_sign, floats_bytes },
	{ "accumulate_1bit", "gcdl_quant_accumulate with scales (vs accumulator bytes)",
	  run_accumulate, floats_bytes },
	{ "unpack_1bit", "gcdl_quant_unpack with scales (vs floats out)", run_unpack,
	  floats_bytes },
	{ "rng_stream", "gcdl_rng_stream, one word per coordinate (vs words out)", run_rng,
	  floats_bytes },
	{ "auth_tag", "gcdl_auth_tag (keyed BLAKE2b-128) of every 1500-MTU 1-bit frame "
	  "(vs payload bytes)", run_auth, auth_bytes },
};
#define NKERNELS (sizeof(kernels) / sizeof(kernels[0]))

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void
run_memcpy(struct bench *b)
{
	memcpy(b->dst, b->src, floats_bytes(b));
}

/* Calls per second of fn, in batches that double until min_time has passed. */
static double
rate(void (*fn)(struct bench *), struct bench *b, double min_time)
{
	double t0 = now_s(), t;
	uint64_t calls = 0, batch = 1;

	do {
		for (uint64_t i = 0; i < batch; i++) {
			fn(b);
			clobber();
		}
		calls += batch;
		batch *= 2;
		t = now_s() - t0;
	} while (t < min_time);
	return (double)calls / t;
}

static void
bench_free(struct bench *b)
{
	free(b->v);
	free(b->scales);
	free(b->bits);
	free(b->acc);
	free(b->words);
	free(b->src);
	free(b->dst);
}

static int
bench_init(struct bench *b, uint32_t coords, uint32_t scale_block)
{
	struct gcdl_rng r;
	size_t fb = (size_t)coords * sizeof(float);

	memset(b, 0, sizeof(*b));
	b->coords = coords;
	b->scale_block = scale_block;
	b->v = malloc(fb);
	b->scales = malloc(sizeof(float) * gcdl_quant_blocks(coords, scale_block));
	b->bits = malloc(gcdl_quant_packed_bytes(coords));
	b->acc = calloc(coords, sizeof(float));
	b->words = malloc((size_t)coords * sizeof(uint32_t));
	b->src = malloc(fb);
	b->dst = malloc(fb);
	if (b->v == NULL || b->scales == NULL || b->bits == NULL || b->acc == NULL ||
	    b->words == NULL || b->src == NULL || b->dst == NULL) {
		bench_free(b);
		return -ENOMEM;
	}
	gcdl_rng_init(&r, BENCH_SEED, GCDL_RNG_TEST, 0, 0);
	for (uint32_t j = 0; j < coords; j++)
		b->v[j] = (float)gcdl_rng_normal(&r);
	memcpy(b->src, b->v, fb);
	memset(b->dst, 0, fb);
	if (gcdl_quant_onebit(b->v, coords, scale_block, BENCH_SEED, 0, 3, 7, b->scales,
			      b->bits) != 0) {
		bench_free(b);
		return -EINVAL;
	}
	return 0;
}

static void
report(const struct opts *o, const struct kernel *k, double calls_per_s, double memcpy_per_s,
       size_t bytes)
{
	double mcoords = calls_per_s * o->coords / 1e6;
	double gbs = calls_per_s * (double)bytes / 1e9;
	double mgbs = memcpy_per_s * (double)bytes / 1e9;

	if (o->json)
		printf("{\"kernel\": \"%s\", \"path\": \"%s\", \"coords\": %" PRIu32
		       ", \"mcoords_per_s\": %.6g, "
		       "\"gbytes_per_s\": %.6g, \"memcpy_gbytes_per_s\": %.6g, "
		       "\"ratio_vs_memcpy\": %.6g}\n",
		       k->name, gcdl_kernels_name(gcdl_kernels_active()), o->coords, mcoords, gbs,
		       mgbs, gbs / mgbs);
	else
		printf("%-16s %10" PRIu32 " %12.1f %10.3f %12.3f %9.4f\n", k->name, o->coords,
		       mcoords, gbs, mgbs, gbs / mgbs);
	fflush(stdout);
}

static int
run_all(const struct opts *o)
{
	struct bench b;

	if (o->path >= 0 && gcdl_kernels_select((enum gcdl_kernels_path)o->path) != 0) {
		fprintf(stderr, "gcdl-bench: --path %s: this CPU or build lacks it\n",
			gcdl_kernels_name((enum gcdl_kernels_path)o->path));
		return 2;
	}
	if (bench_init(&b, o->coords, o->scale_block) != 0) {
		fprintf(stderr, "gcdl-bench: cannot set up %" PRIu32 " coords\n", o->coords);
		return 1;
	}
	if (!o->json)
		printf("kernel path: %s\n", gcdl_kernels_name(gcdl_kernels_active()));
	if (!o->json)
		printf("%-16s %10s %12s %10s %12s %9s\n", "kernel", "coords", "Mcoords/s", "GB/s",
		       "memcpy GB/s", "ratio");
	for (size_t i = 0; i < NKERNELS; i++) {
		const struct kernel *k = &kernels[i];
		double best = 0.0, best_memcpy = 0.0;

		if (o->kernel != NULL && strcmp(o->kernel, k->name) != 0)
			continue;
		/* alternate so that both see the same machine state */
		for (int r = 0; r < REPEATS; r++) {
			best = fmax(best, rate(k->run, &b, o->min_time));
			best_memcpy = fmax(best_memcpy, rate(run_memcpy, &b, o->min_time));
		}
		report(o, k, best, best_memcpy, k->bytes(&b));
	}
	bench_free(&b);
	return 0;
}

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: gcdl-bench [options]\n"
		"Times the 1-bit kernels, each next to a memcpy of the same bytes (the best of\n"
		"%d measurements of at least --min-time seconds each).\n\n"
		"Options:\n"
		"  --coords D        coordinates per call, 1..%" PRIu32 " (default 262144)\n"
		"  --scale-block S   scale-block size, 0 = one per call (default %d)\n"
		"  --kernel NAME     run one kernel only\n"
		"  --path P          kernel path: scalar, avx2, avx512 (default: the best the\n"
		"                    CPU has, or the environment variable GCDL_KERNELS)\n"
		"  --min-time SECS   least time per measurement, (0, 60] (default 0.2)\n"
		"  --json            one JSON object per kernel and line: kernel, path, coords,\n"
		"                    mcoords_per_s, gbytes_per_s, memcpy_gbytes_per_s,\n"
		"                    ratio_vs_memcpy (= gbytes_per_s / memcpy_gbytes_per_s)\n"
		"  --version         the version and git description\n"
		"  --help            this text\n\n"
		"Kernels:\n",
		REPEATS, MAX_COORDS, GCDL_QUANT_DEFAULT_SCALE_BLOCK);
	for (size_t i = 0; i < NKERNELS; i++)
		fprintf(out, "  %-16s %s\n", kernels[i].name, kernels[i].what);
	fprintf(out, "\nExit status: 0 done, 1 run failed, 2 bad command line.\n");
}

static int
parse_u32(const char *opt, const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 10);
	/* strtoull alone would take " 5" and "-5" */
	if (!isdigit((unsigned char)s[0]) || *end != '\0' || errno != 0 || x < lo || x > hi) {
		fprintf(stderr,
			"gcdl-bench: %s: '%s' is not an integer in %" PRIu32 "..%" PRIu32 "\n", opt,
			s, lo, hi);
		return -EINVAL;
	}
	*out = (uint32_t)x;
	return 0;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "coords", required_argument, NULL, 'd' },
		{ "scale-block", required_argument, NULL, 's' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "min-time", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "path", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 0x100 },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (parse_u32("--coords", optarg, 1, MAX_COORDS, &o->coords) != 0)
				return 2;
			break;
		case 's':
			if (parse_u32("--scale-block", optarg, 0, UINT32_MAX, &o->scale_block) != 0)
				return 2;
			break;
		case 'k': {
			size_t i;

			for (i = 0; i < NKERNELS; i++)
				if (strcmp(optarg, kernels[i].name) == 0)
					break;
			if (i == NKERNELS) {
				fprintf(stderr,
					"gcdl-bench: --kernel: unknown kernel '%s' (see --help)\n",
					optarg);
				return 2;
			}
			o->kernel = kernels[i].name;
			break;
		}
		case 't': {
			char *end;

			errno = 0;
			o->min_time = strtod(optarg, &end);
			if (optarg[0] == '\0' || *end != '\0' || errno != 0 ||
			    !(o->min_time > 0.0 && o->min_time <= 60.0)) {
				fprintf(stderr,
					"gcdl-bench: --min-time: '%s' is not a number of seconds "
					"in (0, 60]\n",
					optarg);
				return 2;
			}
			break;
		}
		case 'j':
			o->json = 1;
			break;
		case 'p':
			o->path = gcdl_kernels_parse(optarg);
			if (o->path < 0) {
				fprintf(stderr,
					"gcdl-bench: --path: unknown path '%s' (scalar, avx2, "
					"avx512)\n",
					optarg);
				return 2;
			}
			break;
		case 0x100:
			gcdl_version_print(stdout, "gcdl-bench");
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'gcdl-bench --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gcdl-bench: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return -1;
}

int
main(int argc, char **argv)
{
	struct opts o = {
		.coords = 262144,
		.scale_block = GCDL_QUANT_DEFAULT_SCALE_BLOCK,
		.min_time = 0.2,
		.path = -1,
	};
	int rc = parse_opts(argc, argv, &o);

	if (rc >= 0)
		return rc;
	return run_all(&o);
}
