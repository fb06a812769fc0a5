/* SPDX-License-Identifier: BSD-3-Clause */
/* gcdl: the DPDK data plane. Parse, build the data plane from lib/dp, run, report. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include "gcdl/dp.h"
#include "gcdl/metrics.h"
#include "gcdl/node.h"
#include "gcdl/outfile.h"
#include "gcdl/npy.h"

#define MAX_OVERRIDES 64
#define MAX_VDEVS 64

/* set by SIGINT/SIGTERM, read atomically by the control thread */
static int stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	__atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
}

/* SIGINT and SIGTERM stop the run after the round in progress */
static void
catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: gcdl [EAL options] -- --profile FILE [options]\n"
		"Trains a gcdl job over DPDK: N logical workers and one aggregator in one\n"
		"process, each worker joined to the aggregator by a net_ring port pair.\n\n"
		"EAL options (before --), for example:\n"
		"  --no-huge --no-pci --no-shconf --file-prefix gcdl-$$ -m 512 --lcores '(0-2)@(0-1)'\n"
		"  Needs 1 + dataplane.worker_lcores lcores; the aggregator runs on its own lcore\n"
		"  when one is left, else on the main lcore. No --vdev: ports are made at run time.\n\n"
		"Options (after --):\n"
		"  --profile FILE        INI profile (required), e.g. configs/local.ini\n"
		"  --role ROLE           local (default): the whole cluster in this process;\n"
		"                        aggregator or worker: one node of a multi-host job on\n"
		"                        the ports given with --vdev (net_memif, net_af_packet)\n"
		"                        or NICs; see docs/MULTIHOST.md\n"
		"  --id K                with --role worker: worker K (0..N-1); with --role\n"
		"                        aggregator: aggregator K (0..network.aggregators-1,\n"
		"                        default 0)\n"
		"  --rounds N            override job.rounds\n"
		"  --seed N              override job.seed\n"
		"  --set S.K=V           override any profile key, e.g. --set stragglers.p=0.3\n"
		"                        (repeatable)\n"
		"  --metrics FILE        write the per-round metrics CSV:\n"
		"                        " GCDL_METRICS_HEADER "\n"
		"  --save-model FILE     write the aggregator's final weights as a NumPy .npy\n"
		"                        (float32, shape (dim,))\n"
		"  --inject-garbage N    self-test: inject N malformed frames per round into the\n"
		"                        aggregator's polling set (truncated, wrong EtherType, bad\n"
		"                        magic, bad CRC, wrong job, sender out of range, bad\n"
		"                        offset, bad count, lying length, random bytes); they\n"
		"                        are dropped, counted by reason, and change nothing\n"
		"  --inject-hostile N    self-test of job.key_file: N well-formed frames per round\n"
		"                        with a wrong tag, of a closed round, or altered after\n"
		"                        tagging; all dropped and counted, the model unchanged\n"
		"  --pcap FILE           write every frame the aggregator receives (garbage and\n"
		"                        late frames included) and sends (updates) to FILE, a\n"
		"                        classic pcap (Ethernet); decode it with Wireshark and\n"
		"                        scripts/wireshark/gcdl.lua\n"
		"  --resume FILE         continue from a checkpoint (checkpoint.every/path): the\n"
		"                        same profile and --set options, refused otherwise\n"
		"  --quiet               no start-up summary and no progress lines\n"
		"  --help                this text\n\n"
		"Exit status: 0 done, 1 run failed, 2 bad command line, profile or start-up.\n"
		"SIGINT/SIGTERM stop the run cleanly after the round in progress.\n\n"
		"Profile keys:\n");
	gcdl_profile_print_keys(out);
}

/* An unsigned decimal with nothing after it, at most max. */
static int
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* The EAL arguments as one shell-quoted line. */
static void
eal_line(char *buf, size_t len, int argc, char **argv)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < argc && n < len; i++) {
		int quote = argv[i][strspn(argv[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
					   "TUVWXYZ0123456789_./=:,-@+%")] != '\0';

		n += (size_t)snprintf(buf + n, len - n, quote ? "%s'%s'" : "%s%s", i ? " " : "",
				      argv[i]);
	}
}

/* The --vdev arguments among the EAL options (rte_eal_init() reorders argv,
 * so they are collected before). @return how many, at most max. */
static int
find_vdevs(int argc, char **argv, const char **dev, int max)
{
	int n = 0;

	for (int i = 1; i < argc && n < max; i++) {
		if (strcmp(argv[i], "--vdev") == 0 && i + 1 < argc)
			dev[n++] = argv[++i];
		else if (strncmp(argv[i], "--vdev=", 7) == 0)
			dev[n++] = argv[i] + 7;
	}
	return n;
}

/* rte_eal_init() succeeds when a --vdev fails to probe: check each one has a port.
 * @return 0, or -ENODEV with the device named in err. */
static int
check_vdevs(const char **dev, int n, char *err, size_t errlen)
{
	for (int i = 0; i < n; i++) {
		char name[RTE_ETH_NAME_MAX_LEN];
		uint16_t port;

		snprintf(name, sizeof(name), "%.*s", (int)strcspn(dev[i], ","), dev[i]);
		if (rte_eth_dev_get_port_by_name(name, &port) != 0) {
			snprintf(err, errlen, "--vdev %s: the device failed to probe (no port %s)",
				 dev[i], name);
			return -ENODEV;
		}
	}
	return 0;
}

/* rte_eal_init() with the EAL options as one line in eal (for the summary),
 * then the check that every --vdev has a port. @return 0, or -1 after the
 * message (the EAL cleaned up if it had started). */
static int
eal_start(int argc, char **argv, char *eal, size_t eal_len)
{
	const char *vdevs[MAX_VDEVS];
	char err[512];
	int nvdevs;

	eal_line(eal, eal_len, argc, argv);
	nvdevs = find_vdevs(argc, argv, vdevs, MAX_VDEVS);
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "gcdl: EAL initialisation failed: %s (EAL options: %s)\n",
			rte_strerror(rte_errno), eal);
		return -1;
	}
	if (check_vdevs(vdevs, nvdevs, err, sizeof(err)) != 0) {
		fprintf(stderr, "gcdl: %s\n", err);
		rte_eal_cleanup();
		return -1;
	}
	return 0;
}

/* --role aggregator / worker: one node of a multi-host job. */
static int
run_node(char **argv, int eal_argc, const char *profile, const struct gcdl_profile *prof,
	 enum gcdl_node_role role, uint32_t id, const char *metrics, const char *save, int quiet,
	 const struct gcdl_checkpoint *resume)
{
	struct gcdl_node_opts o = { .role = role, .id = id, .progress_s = 1.0, .resume = resume };
	struct gcdl_node_result res;
	struct gcdl_node *node;
	char err[512], eal[2048];
	const float *model;
	uint32_t dim;
	int rc;

	if (eal_start(eal_argc, argv, eal, sizeof(eal)) != 0)
		return 2;
	o.progress = quiet ? NULL : stderr;
	o.stop = &stop_flag;
	node = gcdl_node_create(prof, &o, err, sizeof(err));
	if (node == NULL) {
		fprintf(stderr, "gcdl: %s: %s\n", profile, err);
		rte_eal_cleanup();
		return 2;
	}
	if (metrics != NULL) {
		static struct gcdl_outfile mout;

		o.metrics = gcdl_outfile_begin(&mout, metrics) == 0
				    ? gcdl_metrics_open(mout.tmp, err, sizeof(err)) : NULL;
		if (o.metrics == NULL || gcdl_outfile_commit(&mout) != 0) {
			fprintf(stderr, "gcdl: --metrics %s: cannot create the metrics file: %s\n",
				metrics, o.metrics == NULL ? err : strerror(errno));
			if (o.metrics != NULL)
				gcdl_metrics_close(o.metrics);
			gcdl_outfile_abort(&mout);
			gcdl_node_free(node);
			rte_eal_cleanup();
			return 2;
		}
		gcdl_node_set_metrics(node, o.metrics);
	}
	if (!quiet) {
		printf("gcdl: EAL: %s\n", eal);
		gcdl_node_print_placement(node, stdout);
		fflush(stdout);
	}
	catch_stop_signals();

	rc = gcdl_node_run(node, &res);
	gcdl_node_print_summary(node, &res, stdout);
	fflush(stdout);
	if (rc != 0)
		fprintf(stderr, "gcdl: %s %u failed after %u rounds: %s\n",
			role == GCDL_NODE_WORKER ? "worker" : "aggregator", id, res.rounds,
			gcdl_node_error(node)[0] ? gcdl_node_error(node) : strerror(-rc));
	if (gcdl_metrics_close(o.metrics) != 0 && rc == 0) {
		fprintf(stderr, "gcdl: --metrics %s: write failed\n", metrics);
		rc = -EIO;
	}
	model = gcdl_node_model(node, &dim);
	if (rc == 0 && save != NULL) {
		rc = gcdl_npy_write_f32(save, model, dim, err, sizeof(err));
		if (rc != 0)
			fprintf(stderr, "gcdl: --save-model %s\n", err);
		else if (!quiet)
			printf("gcdl: model saved to %s\n", save);
	}
	gcdl_node_free(node);
	rte_eal_cleanup();
	/* a refusal is a start-up error: this node's profile is not the job's */
	return rc == 0 ? 0 : rc == -EPERM ? 2 : 1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "role", required_argument, NULL, 'R' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "id", required_argument, NULL, 'i' },
		{ "seed", required_argument, NULL, 's' },
		{ "set", required_argument, NULL, 'S' },
		{ "metrics", required_argument, NULL, 'o' },
		{ "save-model", required_argument, NULL, 'M' },
		{ "inject-garbage", required_argument, NULL, 'g' },
		{ "inject-hostile", required_argument, NULL, 'H' },
		{ "pcap", required_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "resume", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *profile = NULL, *metrics = NULL, *save = NULL, *role = "local";
	const char *pcap = NULL, *resume = NULL;
	struct gcdl_checkpoint ck = { 0 };
	struct gcdl_profile_override overrides[MAX_OVERRIDES];
	int eal_argc, app_argc, noverrides = 0, quiet = 0, c, rc;
	struct gcdl_dp_opts o = { 0 };
	struct gcdl_dp_result res;
	struct gcdl_profile prof;
	static struct gcdl_outfile mout, pout;
	struct gcdl_dp *dp;
	char **app_argv;
	char err[512], eal[2048];
	int have_id = 0;
	uint32_t id = 0;
	uint64_t v;

	for (eal_argc = 1; eal_argc < argc; eal_argc++)
		if (strcmp(argv[eal_argc], "--") == 0)
			break;
	if (eal_argc == argc) {
		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
				usage(stdout);
				return 0;
			}
		}
		fprintf(stderr, "gcdl: application options go after '--', e.g. gcdl --no-huge "
			"--no-pci -- --profile configs/local.ini (try 'gcdl -- --help')\n");
		return 2;
	}
	/* the application's argv: argv[0], then what follows "--" (in place of it) */
	app_argc = argc - eal_argc;
	app_argv = argv + eal_argc;
	app_argv[0] = argv[0];

	while ((c = getopt_long(app_argc, app_argv, "h", opts, NULL)) != -1) {
		const char *key = NULL;

		switch (c) {
		case 'p':
			profile = optarg;
			break;
		case 'R':
			role = optarg;
			break;
		case 'i':
			if (parse_u64(optarg, 65535, &v) != 0) {
				fprintf(stderr, "gcdl: --id '%s' is not a node id (0..65535)\n", optarg);
				return 2;
			}
			id = (uint32_t)v;
			have_id = 1;
			break;
		case 'r':
			if (parse_u64(optarg, UINT32_MAX, &v) != 0) {
				fprintf(stderr, "gcdl: --rounds '%s' is not a number of rounds\n",
					optarg);
				return 2;
			}
			key = "job.rounds";
			break;
		case 's':
			if (parse_u64(optarg, UINT64_MAX, &v) != 0) {
				fprintf(stderr, "gcdl: --seed '%s' is not an unsigned 64-bit number\n",
					optarg);
				return 2;
			}
			key = "job.seed";
			break;
		case 'S': {
			struct gcdl_profile_override ov;

			if (gcdl_profile_override_parse(optarg, &ov) != 0) {
				fprintf(stderr, "gcdl: --set needs SECTION.KEY=VALUE, got '%s'\n",
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
		case 'M':
			save = optarg;
			break;
		case 'g':
			if (parse_u64(optarg, 1000000, &v) != 0) {
				fprintf(stderr, "gcdl: --inject-garbage '%s' is not a count of frames "
					"(0..1000000)\n", optarg);
				return 2;
			}
			o.inject_garbage = (uint32_t)v;
			break;
		case 'H':
			if (parse_u64(optarg, 1000000, &v) != 0) {
				fprintf(stderr, "gcdl: --inject-hostile '%s' is not a count of frames "
					"(0..1000000)\n", optarg);
				return 2;
			}
			o.inject_hostile = (uint32_t)v;
			break;
		case 'P':
			pcap = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'C':
			resume = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'gcdl -- --help'.\n");
			return 2;
		}
		if (key != NULL) {
			if (noverrides == MAX_OVERRIDES) {
				fprintf(stderr, "gcdl: more than %d overrides\n", MAX_OVERRIDES);
				return 2;
			}
			overrides[noverrides].key = key;
			overrides[noverrides].value = optarg;
			noverrides++;
		}
	}
	if (optind < app_argc) {
		fprintf(stderr, "gcdl: unexpected argument '%s'\n", app_argv[optind]);
		return 2;
	}
	if (strcmp(role, "local") != 0 && strcmp(role, "worker") != 0 &&
	    strcmp(role, "aggregator") != 0) {
		fprintf(stderr, "gcdl: unknown --role '%s' (local, worker or aggregator)\n", role);
		return 2;
	}
	if (profile == NULL) {
		fprintf(stderr, "gcdl: --profile FILE is required (try 'gcdl -- --help')\n");
		return 2;
	}
	if (strcmp(role, "worker") == 0 && !have_id) {
		fprintf(stderr, "gcdl: --role worker needs --id K (0..cluster.workers-1)\n");
		return 2;
	}
	if (strcmp(role, "local") == 0 && have_id) {
		fprintf(stderr, "gcdl: --id is for --role worker or aggregator\n");
		return 2;
	}
	if (gcdl_profile_open(&prof, profile, overrides, noverrides, err, sizeof(err)) != 0) {
		fprintf(stderr, "gcdl: %s\n", err);
		return 2;
	}
	if (resume != NULL) {
		if (gcdl_checkpoint_load(resume, &ck, err, sizeof(err)) != 0) {
			fprintf(stderr, "gcdl: --resume %s\n", err);
			return 2;
		}
		o.resume = &ck;
	}
	/* outputs are checked now, written under a temporary name until the run starts */
	if (metrics != NULL && gcdl_outfile_check(metrics, err, sizeof(err)) != 0) {
		fprintf(stderr, "gcdl: --metrics %s: cannot create the metrics file: %s\n", metrics,
			err);
		return 2;
	}
	if (pcap != NULL && gcdl_outfile_check(pcap, err, sizeof(err)) != 0) {
		fprintf(stderr, "gcdl: --pcap %s: cannot create the capture file: %s\n", pcap, err);
		return 2;
	}
	if (save != NULL && gcdl_outfile_check(save, err, sizeof(err)) != 0) {
		fprintf(stderr, "gcdl: --save-model %s: cannot create the model file: %s\n", save,
			err);
		return 2;
	}
	if (strcmp(role, "local") == 0 && prof.topology != GCDL_TOPO_STAR) {
		fprintf(stderr, "gcdl: %s: network.topology %s needs one process per node "
			"(--role aggregator / worker); --role local runs star only\n", profile,
			prof.topology == GCDL_TOPO_SHARDED ? "sharded" : "mesh");
		return 2;
	}
	if (strcmp(role, "local") != 0) {
		if (o.inject_garbage > 0 || pcap != NULL) {
			fprintf(stderr, "gcdl: --inject-garbage and --pcap are for --role local\n");
			return 2;
		}
		if (metrics != NULL && strcmp(role, "worker") == 0 &&
		    prof.topology != GCDL_TOPO_MESH) {
			fprintf(stderr, "gcdl: --metrics is written by the aggregator, not a worker\n");
			return 2;
		}
		if (resume != NULL && strcmp(role, "worker") == 0) {
			fprintf(stderr, "gcdl: --resume is for the aggregator: a worker rejoins and "
				"takes the restarted aggregator's round and model\n");
			return 2;
		}
		return run_node(argv, eal_argc, profile, &prof,
				strcmp(role, "worker") == 0 ? GCDL_NODE_WORKER : GCDL_NODE_AGGREGATOR,
				id, metrics, save, quiet, o.resume);
	}

	if (eal_start(eal_argc, argv, eal, sizeof(eal)) != 0)
		return 2;
	o.progress = quiet ? NULL : stderr;
	o.progress_s = 1.0;
	o.stop = &stop_flag;
	if (metrics != NULL) {
		o.metrics = gcdl_outfile_begin(&mout, metrics) == 0
				    ? gcdl_metrics_open(mout.tmp, err, sizeof(err)) : NULL;
		if (o.metrics == NULL) {
			fprintf(stderr, "gcdl: --metrics %s: cannot create the metrics file: %s\n",
				metrics, err);
			rte_eal_cleanup();
			return 2;
		}
	}
	if (pcap != NULL) {
		o.pcap = gcdl_outfile_begin(&pout, pcap) == 0
				 ? gcdl_pcap_open(pout.tmp, err, sizeof(err)) : NULL;
		if (o.pcap == NULL) {
			fprintf(stderr, "gcdl: --pcap %s: cannot create the capture file: %s\n",
				pcap, err);
			gcdl_outfile_abort(&pout);
			if (o.metrics != NULL) {
				gcdl_metrics_close(o.metrics);
				gcdl_outfile_abort(&mout);
			}
			rte_eal_cleanup();
			return 2;
		}
	}
	dp = gcdl_dp_create(&prof, &o, err, sizeof(err));
	if (dp == NULL) {
		fprintf(stderr, "gcdl: %s\n", err);
		if (o.pcap != NULL) {
			gcdl_pcap_close(o.pcap);
			gcdl_outfile_abort(&pout);
		}
		if (o.metrics != NULL) {
			/* nothing was written but the header we just made */
			gcdl_metrics_close(o.metrics);
			gcdl_outfile_abort(&mout);
		}
		rte_eal_cleanup();
		return 2;
	}
	if (gcdl_outfile_commit(&mout) != 0 || gcdl_outfile_commit(&pout) != 0) {
		fprintf(stderr, "gcdl: cannot rename %s into place: %s\n",
			mout.tmp[0] ? mout.tmp : pout.tmp, strerror(errno));
		gcdl_outfile_abort(&mout);
		gcdl_outfile_abort(&pout);
		gcdl_dp_free(dp);
		rte_eal_cleanup();
		return 2;
	}
	if (!quiet) {
		const struct gcdl_job *job = gcdl_dp_job(dp);

		printf("gcdl: EAL: %s\n", eal);
		printf("gcdl: %s, role local, method %s, N=%u M=%u d=%u layout %s, %u rounds, "
		       "%u train / %u test rows, stragglers %s\n", profile,
		       gcdl_method_name(prof.method), prof.workers,
		       prof.partitions ? prof.partitions : prof.workers, prof.redundancy,
		       gcdl_layout_kind_name(prof.layout), prof.rounds, job->train.rows,
		       job->test.rows,
		       prof.straggler_model == GCDL_STRAGGLER_BERNOULLI ? "bernoulli"
		       : prof.straggler_model == GCDL_STRAGGLER_TIMING ? "timing" : "none");
		gcdl_dp_print_placement(dp, stdout);
		fflush(stdout);
	}

	catch_stop_signals();

	rc = gcdl_dp_run(dp, &res);
	gcdl_dp_print_summary(&res, stdout);
	fflush(stdout);
	if (rc != 0)
		fprintf(stderr, "gcdl: run failed after %u rounds: %s\n", res.rounds,
			gcdl_dp_error(dp)[0] ? gcdl_dp_error(dp) : strerror(-rc));
	if (gcdl_metrics_close(o.metrics) != 0 && rc == 0) {
		fprintf(stderr, "gcdl: --metrics %s: write failed\n", metrics);
		rc = -EIO;
	}
	/* the lcores have stopped: the aggregator no longer writes to it */
	if (gcdl_pcap_close(o.pcap) != 0 && rc == 0) {
		fprintf(stderr, "gcdl: --pcap %s: write failed\n", pcap);
		rc = -EIO;
	}
	if (rc == 0 && save != NULL) {
		const struct gcdl_job *job = gcdl_dp_job(dp);

		rc = gcdl_npy_write_f32(save, gcdl_engine_model(job->engine),
					gcdl_engine_dim(job->engine), err, sizeof(err));
		if (rc != 0)
			fprintf(stderr, "gcdl: --save-model %s\n", err);
		else if (!quiet)
			printf("gcdl: model saved to %s\n", save);
	}
	gcdl_dp_free(dp);
	gcdl_checkpoint_free(&ck);
	rte_eal_cleanup();
	return rc == 0 ? 0 : 1;
}
