/* SPDX-License-Identifier: BSD-3-Clause */
/* gcdl-sim: a whole cluster in memory, from a profile. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gcdl/metrics.h"
#include "gcdl/outfile.h"
#include "gcdl/sim.h"
#include "gcdl/summary.h"
#include "gcdl/version.h"

#define VARIANCE_HEADER \
	"method,layout,decoder,workers,partitions,redundancy,p,packet_loss,rounds,draws," \
	"grad_norm2,mse,mse_stderr,variance,bias2,rel_mse,stragglers,empty_chunks"

static volatile int stop_requested;

static int
parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(x >= lo && x <= hi))
		return -1;
	*out = x;
	return 0;
}

/* Measure, print and write the decoded gradient against the exact one. */
static int
run_variance(struct gcdl_job *job, const struct gcdl_profile *prof, const struct gcdl_sim_opts *so,
	     uint32_t draws, const char *path)
{
	struct gcdl_sim_variance vr;
	enum gcdl_layout_kind kind;
	uint32_t m, d;
	FILE *f;
	int rc;

	rc = gcdl_sim_variance(job, so, draws, &vr);
	if (rc != 0) {
		fprintf(stderr, "gcdl-sim: variance measurement failed: %s%s\n", strerror(-rc),
			rc == -ENOTSUP ? " (signsgd_mv decodes signs, not a gradient estimate; "
					 "with optim.momentum_at = workers the workers send their "
					 "momentum)" : "");
		return rc;
	}
	gcdl_profile_layout(prof, &kind, &m, &d);
	printf("gcdl-sim: variance over %u draws: ||grad F||^2 %.6g, E||g - grad F||^2 %.6g "
	       "(+- %.2g, %.4g relative), variance %.6g, bias^2 %.6g\n", vr.draws,
	       vr.grad_norm2, vr.mse, vr.mse_stderr,
	       vr.grad_norm2 > 0 ? vr.mse / vr.grad_norm2 : NAN, vr.variance, vr.bias2);
	if (path == NULL)
		return 0;
	f = fopen(path, "w");
	if (f == NULL) {
		fprintf(stderr, "gcdl-sim: %s: %s\n", path, strerror(errno));
		return -EIO;
	}
	fprintf(f, VARIANCE_HEADER "\n");
	fprintf(f, "%s,%s,%s,%u,%u,%u,%g,%g,%u,%u,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.4f,%.4f\n",
		gcdl_method_name(prof->method), gcdl_layout_kind_name(kind),
		prof->decoder == GCDL_DECODER_UNBIASED ? "unbiased" : "normalised",
		prof->workers, m, d, prof->straggler_p, so->packet_loss, prof->rounds, vr.draws,
		vr.grad_norm2, vr.mse, vr.mse_stderr, vr.variance, vr.bias2,
		vr.grad_norm2 > 0 ? vr.mse / vr.grad_norm2 : NAN, vr.stragglers, vr.empty_chunks);
	if (fclose(f) != 0) {
		fprintf(stderr, "gcdl-sim: %s: write failed\n", path);
		return -EIO;
	}
	return 0;
}

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
		"  --summary-json FILE  write the run's summary as one JSON object (the counters\n"
		"                   of gcdl's summary that a simulation has; include/gcdl/summary.h)\n"
		"  --packet-loss P  lose each uplink frame with probability P (0..1, seeded)\n"
		"  --variance K     after the rounds, at the final model, draw K >= 2 straggler\n"
		"                   sets, losses and quantizer draws, decode each and measure\n"
		"                   the decoded gradient g against the exact gradient\n"
		"  --variance-at start|end  measure at the model after the rounds (end, the\n"
		"                   default) or at the seeded initial model, the same for every\n"
		"                   layout, method and p, without training (start)\n"
		"  --variance-out FILE  write that measurement as CSV:\n"
		"                   " VARIANCE_HEADER "\n"
		"  --quiet          no progress output\n"
		"  --version        the version and git description\n"
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
		{ "summary-json", required_argument, NULL, 'J' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "packet-loss", required_argument, NULL, 'L' },
		{ "variance", required_argument, NULL, 'V' },
		{ "variance-out", required_argument, NULL, 'O' },
		{ "variance-at", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 0x100 },
		{ NULL, 0, NULL, 0 },
	};
	const char *profile = NULL, *metrics = NULL, *variance_out = NULL, *summary_json = NULL;
	struct gcdl_counters counters = { 0 };
	double x, loss = 0;
	uint32_t draws = 0;
	int at_start = 0;
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
		case 'J':
			summary_json = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'L':
			if (parse_double(optarg, 0, 1, &loss) != 0) {
				fprintf(stderr, "gcdl-sim: --packet-loss needs a probability 0..1, "
					"got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'V':
			if (parse_double(optarg, 2, 10000000, &x) != 0 || x != (uint32_t)x) {
				fprintf(stderr, "gcdl-sim: --variance needs an integer 2..10000000, "
					"got '%s'\n", optarg);
				return 2;
			}
			draws = (uint32_t)x;
			break;
		case 'O':
			variance_out = optarg;
			break;
		case 'A':
			if (strcmp(optarg, "start") != 0 && strcmp(optarg, "end") != 0) {
				fprintf(stderr, "gcdl-sim: --variance-at needs start or end, got "
					"'%s'\n", optarg);
				return 2;
			}
			at_start = strcmp(optarg, "start") == 0;
			break;
		case 0x100:
			gcdl_version_print(stdout, "gcdl-sim");
			return 0;
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
	if ((variance_out != NULL || at_start) && draws == 0) {
		fprintf(stderr, "gcdl-sim: --variance-out and --variance-at need --variance K\n");
		return 2;
	}
	if (at_start && metrics != NULL) {
		fprintf(stderr, "gcdl-sim: --variance-at start trains nothing: no --metrics\n");
		return 2;
	}
	if (gcdl_profile_open(&prof, profile, overrides, noverrides, err, sizeof(err)) != 0) {
		fprintf(stderr, "gcdl-sim: %s\n", err);
		return 2;
	}
	{
		/* every output is checked before any work: a new or regular file in a
		 * writable directory */
		const char *outs[][2] = { { metrics, "--metrics" }, { summary_json, "--summary-json" },
					  { variance_out, "--variance-out" } };

		for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
			if (outs[i][0] == NULL)
				continue;
			if (gcdl_outfile_check(outs[i][0], err, sizeof(err)) != 0) {
				fprintf(stderr, "gcdl-sim: %s %s: cannot create it: %s\n", outs[i][1],
					outs[i][0], err);
				return 2;
			}
			gcdl_outfile_clean_stale(outs[i][0]);
		}
	}
	if (draws > 0 && prof.method == GCDL_METHOD_SIGNSGD_MV) {
		fprintf(stderr, "gcdl-sim: --variance: signsgd_mv decodes signs, not a gradient "
			"estimate\n");
		return 2;
	}
	if (prof.model == GCDL_MODEL_EXTERNAL) {
		fprintf(stderr, "gcdl-sim: model.type external: the model is a trainer's "
			"(PyTorch, lib/python/gcdl), which runs over gcdl's data plane, not here\n");
		return 2;
	}
	rc = gcdl_job_open(&job, &prof, 1, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "gcdl-sim: %s\n", err);
		return 2;
	}
	so.packet_loss = loss;
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
	if (at_start) {
		rc = run_variance(&job, &prof, &so, draws, variance_out);
		gcdl_job_close(&job);
		return rc != 0 ? 1 : 0;
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
	so.counters = &counters;
	rc = gcdl_sim_run(&job, &so, &res);
	if (gcdl_metrics_close(so.metrics) != 0 && rc == 0)
		rc = -EIO;
	if (rc != 0) {
		gcdl_job_close(&job);
		fprintf(stderr, "gcdl-sim: run failed after %u rounds: %s%s\n", res.rounds,
			strerror(-rc),
			rc == -EDOM ? " (non-finite gradient: the model diverged, lower optim.lr)"
				    : "");
		return 1;
	}
	printf("gcdl-sim: %u rounds%s in %.2f s (%.1f rounds/s): train_loss %.6f "
	       "test_accuracy %.4f uplink %" PRIu64 " bits on the wire (%" PRIu64
	       " payload), downlink %" PRIu64 " bits (%s), %" PRIu64 " frames, %" PRIu64
	       " straggler-rounds, %" PRIu64 " frames lost\n",
	       res.rounds, stop_requested ? " (stopped by signal)" : "", res.wall_s,
	       res.wall_s > 0 ? res.rounds / res.wall_s : 0.0, res.train_loss, res.test_accuracy,
	       res.uplink_bits, res.payload_bits, res.downlink_bits,
	       gcdl_downlink_name(prof.downlink), res.frames, res.stragglers, res.lost_frames);
	if (summary_json != NULL) {
		struct gcdl_node_summary node = { .role = "sim", .rounds = res.rounds, .in_sync = 1 };
		struct gcdl_summary s = { .program = "gcdl-sim", .role = "sim", .nnodes = 1,
					  .nodes = &node };

		s.topology = "star";
		s.method = gcdl_method_name(prof.method);
		s.profile = profile;
		s.workers = prof.workers;
		s.aggregators = 1;
		s.rounds = res.rounds;
		s.rounds_planned = prof.rounds;
		s.stopped = stop_requested;
		s.evaluated = node.evaluated = res.rounds > 0;
		s.train_loss = node.train_loss = res.train_loss;
		s.test_accuracy = node.test_accuracy = res.test_accuracy;
		s.model_crc = node.model_crc = gcdl_crc32_floats(gcdl_engine_model(job.engine),
								 gcdl_engine_dim(job.engine));
		node.crc_count = gcdl_engine_dim(job.engine);
		s.have_crc = 1;
		s.error = "";
		node.c = counters;
		gcdl_summary_total(&s);
		if (gcdl_summary_save_json(&s, summary_json, err, sizeof(err)) != 0) {
			fprintf(stderr, "gcdl-sim: --summary-json %s\n", err);
			rc = -EIO;
		}
	}
	if (rc == 0 && draws > 0 && !stop_requested)
		rc = run_variance(&job, &prof, &so, draws, variance_out);
	gcdl_job_close(&job);
	return rc != 0 ? 1 : 0;
}
