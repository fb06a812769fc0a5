/* SPDX-License-Identifier: BSD-3-Clause */
/* gcdl-sim: a whole cluster in memory, from a profile. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gcdl/metrics.h"
#include "gcdl/sim.h"

static volatile int stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: gcdl-sim --profile FILE [options]\n"
		"Runs a whole gcdl cluster (N workers, one aggregator) in memory.\n\n"
		"Options:\n"
		"  --profile FILE   INI profile (required), e.g. configs/sim-fmnist-softmax.ini\n"
		"  --rounds N       override job.rounds\n"
		"  --seed N         override job.seed\n"
		"  --method NAME    override job.method (onebit_gc, sgc, signsgd_mv, ignore,\n"
		"                   onebit_uncoded)\n"
		"  --set S.K=V      override any profile key, e.g. --set stragglers.p=0.3\n"
		"                   (repeatable)\n"
		"  --metrics FILE   write per-round metrics CSV:\n"
		"                   " GCDL_METRICS_HEADER "\n"
		"  --quiet          no progress output\n"
		"  --help           this text\n\n"
		"Exit status: 0 done, 1 run failed, 2 bad command line or profile.\n\n"
		"Profile keys:\n");
	gcdl_profile_print_keys(out);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "method", required_argument, NULL, 'm' },
		{ "set", required_argument, NULL, 'S' },
		{ "metrics", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *profile = NULL, *metrics = NULL;
	struct gcdl_profile_override overrides[64];
	int noverrides = 0, quiet = 0, c, rc;
	struct gcdl_profile prof;
	struct gcdl_sim_opts so = { 0 };
	struct gcdl_sim_result res;
	struct gcdl_job job;
	char err[512];

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char *key = NULL;

		switch (c) {
		case 'p':
			profile = optarg;
			break;
		case 'r':
			key = "job.rounds";
			break;
		case 's':
			key = "job.seed";
			break;
		case 'm':
			key = "job.method";
			break;
		case 'S': {
			struct gcdl_profile_override ov;

			if (gcdl_profile_override_parse(optarg, &ov) != 0) {
				fprintf(stderr, "gcdl-sim: --set needs SECTION.KEY=VALUE, got '%s'\n",
					optarg);
				return 2;
			}
			key = ov.key;
			optarg = (char *)ov.value;
			break;
		}
		case 'o':
			metrics = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'gcdl-sim --help'.\n");
			return 2;
		}
		if (key != NULL) {
			if (noverrides == 64) {
				fprintf(stderr, "gcdl-sim: too many overrides\n");
				return 2;
			}
			overrides[noverrides].key = key;
			overrides[noverrides].value = optarg;
			noverrides++;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gcdl-sim: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (profile == NULL) {
		fprintf(stderr, "gcdl-sim: --profile FILE is required (try --help)\n");
		return 2;
	}
	if (gcdl_profile_open(&prof, profile, overrides, noverrides, err, sizeof(err)) != 0) {
		fprintf(stderr, "gcdl-sim: %s\n", err);
		return 2;
	}
	rc = gcdl_job_open(&job, &prof, 1, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "gcdl-sim: %s\n", err);
		return 2;
	}
	if (!quiet) {
		const struct gcdl_layout *l = gcdl_engine_layout(job.engine);
		struct gcdl_layout_props lp;
		enum gcdl_layout_kind kind;
		uint32_t m, d;

		gcdl_layout_props(l, &lp);
		gcdl_profile_layout(&prof, &kind, &m, &d);
		printf("gcdl-sim: %s, method %s, N=%u M=%u layout %s (replication %u..%u, load "
		       "%u..%u, pairs %u..%u), dim %u, %u chunk(s) of %u, %u train / %u test rows\n",
		       profile, gcdl_method_name(prof.method), lp.workers, lp.partitions,
		       gcdl_layout_kind_name(kind),
		       lp.rep_min, lp.rep_max, lp.load_min, lp.load_max, lp.pair_min, lp.pair_max,
		       gcdl_engine_dim(job.engine), gcdl_engine_chunks(job.engine),
		       gcdl_engine_chunk_coords(job.engine), job.train.rows, job.test.rows);
		fflush(stdout);
		so.progress = stderr;
		so.progress_tty = isatty(fileno(stderr));
		so.progress_s = so.progress_tty ? 0.2 : 5.0;
	}
	if (metrics != NULL) {
		so.metrics = gcdl_metrics_open(metrics, err, sizeof(err));
		if (so.metrics == NULL) {
			fprintf(stderr, "gcdl-sim: %s\n", err);
			gcdl_job_close(&job);
			return 2;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	so.stop = &stop_requested;
	rc = gcdl_sim_run(&job, &so, &res);
	if (gcdl_metrics_close(so.metrics) != 0 && rc == 0)
		rc = -EIO;
	gcdl_job_close(&job);
	if (rc != 0) {
		fprintf(stderr, "gcdl-sim: run failed after %u rounds: %s%s\n", res.rounds,
			strerror(-rc),
			rc == -EDOM ? " (non-finite gradient: the model diverged, lower optim.lr)"
				    : "");
		return 1;
	}
	printf("gcdl-sim: %u rounds%s in %.2f s (%.1f rounds/s): train_loss %.6f "
	       "test_accuracy %.4f uplink %" PRIu64 " bits on the wire (%" PRIu64
	       " payload), %" PRIu64 " frames, %" PRIu64 " straggler-rounds\n",
	       res.rounds, stop_requested ? " (stopped by signal)" : "", res.wall_s,
	       res.wall_s > 0 ? res.rounds / res.wall_s : 0.0, res.train_loss, res.test_accuracy,
	       res.uplink_bits, res.payload_bits, res.frames, res.stragglers);
	return 0;
}
