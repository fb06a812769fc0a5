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

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include "gcdl/auth.h"
#include "gcdl/dp.h"
#include "gcdl/metrics.h"
#include "gcdl/outfile.h"
#include "gcdl/npy.h"
#include "gcdl/summary.h"
#include "gcdl/version.h"

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
		"Trains a gcdl job over DPDK. Every mode is made of nodes (workers, aggregators,\n"
		"mesh peers): --role local runs all of them in this process, each pair that\n"
		"talks joined by a net_ring port pair; --role aggregator/worker runs one node\n"
		"on the ports the EAL probed.\n\n"
		"EAL options (before --), for example:\n"
		"  local:  --no-huge --no-pci --no-shconf --file-prefix gcdl-$$ -m 512 --lcores '(0-2)@(0-1)'\n"
		"          needs 1 + dataplane.worker_lcores lcores (the aggregators poll on their own\n"
		"          lcore when one is left, else on the main lcore), plus dataplane.agg_lcores\n"
		"          per aggregator and dataplane.quant_lcores - 1 per worker when above 1;\n"
		"          no --vdev: the ports are made at run time\n"
		"  a node: ... --vdev net_af_packet0,iface=eth0 (or net_memif, or -a PCI for a NIC)\n\n"
		"Options (after --):\n"
		"  --profile FILE        INI profile (required), e.g. configs/local.ini\n"
		"  --role ROLE           local (default): the whole cluster in this process;\n"
		"                        aggregator or worker: one node of a multi-host job on\n"
		"                        the ports given with --vdev (net_memif, net_af_packet)\n"
		"                        or NICs; see docs/MULTIHOST.md\n"
		"  --id K                with --role worker: worker K (0..N-1; peer K in a mesh);\n"
		"                        with --role aggregator: aggregator K\n"
		"                        (0..network.aggregators-1, default 0)\n"
		"  --rounds N            override job.rounds\n"
		"  --seed N              override job.seed\n"
		"  --set S.K=V           override any profile key, e.g. --set stragglers.p=0.3\n"
		"                        (repeatable)\n"
		"  --metrics FILE        write the per-round metrics CSV (the aggregator, aggregator\n"
		"                        0 of a local sharded job, a mesh peer):\n"
		"                        " GCDL_METRICS_HEADER "\n"
		"  --summary-json FILE   write the run's summary as one JSON object at exit: every\n"
		"                        counter, the run's figures, every node, each aggregator's\n"
		"                        worker table (include/gcdl/summary.h)\n"
		"  --save-model FILE     write the final weights as a NumPy .npy (float32, shape\n"
		"                        (dim,)): the aggregator's (local: the assembled ranges of a\n"
		"                        sharded job), or this node's replica\n"
		"  --inject-garbage N    self-test: this node (local: worker 0, or peer 1) sends N\n"
		"                        malformed frames per round to the nodes it sends to\n"
		"                        (truncated, wrong EtherType, bad magic, bad CRC, wrong\n"
		"                        job, sender out of range, bad offset, bad count, lying\n"
		"                        length, random bytes); they are dropped, counted by\n"
		"                        reason, and change nothing\n"
		"  --inject-hostile N    self-test of job.key_file, from the same node: N\n"
		"                        well-formed frames per round with a wrong tag, of a closed\n"
		"                        round, or altered after tagging; all dropped and counted,\n"
		"                        the model unchanged\n"
		"  --gen-key FILE        write a new job key (64 hex digits, mode 600) to FILE and\n"
		"                        exit (no EAL options needed): set job.key_file = FILE\n"
		"  --pcap FILE           write every frame this node (local: aggregator 0, or peer\n"
		"                        0) receives and sends to FILE, a classic pcap (Ethernet);\n"
		"                        decode it with Wireshark and scripts/wireshark/gcdl.lua\n"
		"  --grad-shm FILE       a worker of model.type external: exchange each round's\n"
		"                        gradient with its trainer (PyTorch, lib/python/gcdl)\n"
		"                        through FILE, a shared mapping this node creates\n"
		"                        (gcdl/extgrad.h); the trainer starts the node with it\n"
		"  --resume FILE         continue from a checkpoint (checkpoint.every/path; the\n"
		"                        aggregator, or mesh peer 0): the same profile and --set\n"
		"                        options, refused otherwise\n"
		"  --quiet               no start-up summary and no progress lines\n"
		"  --version             the version and git description\n"
		"  --help                this text\n\n"
		"Exit status: 0 done, 1 run failed, 2 bad command line, profile or start-up (or\n"
		"a worker refused by its aggregator), 3 an aggregator with no contributor (no\n"
		"worker joined within network.join_wait_ms, or none contributed for\n"
		"network.absent_rounds rounds).\n"
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
 * then the check that every --vdev has a port (a local run makes its own
 * ports: a --vdev there is an error). @return 0, or -1 after the message
 * (the EAL cleaned up if it had started). */
static int
eal_start(int argc, char **argv, int local, char *eal, size_t eal_len)
{
	const char *vdevs[MAX_VDEVS];
	char err[512];
	int nvdevs;

	eal_line(eal, eal_len, argc, argv);
	nvdevs = find_vdevs(argc, argv, vdevs, MAX_VDEVS);
	if (local && nvdevs > 0) {
		fprintf(stderr, "gcdl: --vdev %s: --role local makes its own net_ring ports; a "
			"--vdev is for --role aggregator or worker\n", vdevs[0]);
		return -1;
	}
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


/* The command line, parsed. */
struct cli {
	const char *profile, *metrics, *save, *pcap, *resume, *summary_json;
	enum gcdl_dp_role role;
	int have_id, quiet;
	uint32_t id;
	struct gcdl_dp_opts o;
	struct gcdl_profile_override overrides[MAX_OVERRIDES];
	int noverrides;
};

/* @return 0, 1 for --help or --version (done), or 2 after a message. */
static int
parse_cli(int argc, char **argv, struct cli *c)
{
	static const struct option opts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "role", required_argument, NULL, 'R' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "id", required_argument, NULL, 'i' },
		{ "seed", required_argument, NULL, 's' },
		{ "set", required_argument, NULL, 'S' },
		{ "metrics", required_argument, NULL, 'o' },
		{ "summary-json", required_argument, NULL, 'J' },
		{ "save-model", required_argument, NULL, 'M' },
		{ "inject-garbage", required_argument, NULL, 'g' },
		{ "inject-hostile", required_argument, NULL, 'H' },
		{ "pcap", required_argument, NULL, 'P' },
		{ "grad-shm", required_argument, NULL, 'x' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "resume", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 0x100 },
		{ NULL, 0, NULL, 0 },
	};
	const char *role = "local";
	uint64_t v;
	int ch;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		const char *key = NULL;

		switch (ch) {
		case 'p':
			c->profile = optarg;
			break;
		case 'R':
			role = optarg;
			break;
		case 'i':
			if (parse_u64(optarg, 65535, &v) != 0) {
				fprintf(stderr, "gcdl: --id '%s' is not a node id (0..65535)\n", optarg);
				return 2;
			}
			c->id = (uint32_t)v;
			c->have_id = 1;
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
			c->metrics = optarg;
			break;
		case 'J':
			c->summary_json = optarg;
			break;
		case 'M':
			c->save = optarg;
			break;
		case 'g':
		case 'H':
			if (parse_u64(optarg, 1000000, &v) != 0) {
				fprintf(stderr, "gcdl: --inject-%s '%s' is not a count of frames "
					"(0..1000000)\n", ch == 'g' ? "garbage" : "hostile", optarg);
				return 2;
			}
			if (ch == 'g')
				c->o.inject_garbage = (uint32_t)v;
			else
				c->o.inject_hostile = (uint32_t)v;
			break;
		case 'P':
			c->pcap = optarg;
			break;
		case 'x':
			c->o.grad_shm = optarg;
			break;
		case 'q':
			c->quiet = 1;
			break;
		case 'C':
			c->resume = optarg;
			break;
		case 0x100:
			gcdl_version_print(stdout, "gcdl");
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		default:
			fprintf(stderr, "Try 'gcdl -- --help'.\n");
			return 2;
		}
		if (key != NULL) {
			if (c->noverrides == MAX_OVERRIDES) {
				fprintf(stderr, "gcdl: more than %d overrides\n", MAX_OVERRIDES);
				return 2;
			}
			c->overrides[c->noverrides].key = key;
			c->overrides[c->noverrides].value = optarg;
			c->noverrides++;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gcdl: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (strcmp(role, "local") == 0) {
		c->role = GCDL_DP_LOCAL;
	} else if (strcmp(role, "worker") == 0) {
		c->role = GCDL_DP_WORKER;
	} else if (strcmp(role, "aggregator") == 0) {
		c->role = GCDL_DP_AGGREGATOR;
	} else {
		fprintf(stderr, "gcdl: unknown --role '%s' (local, worker or aggregator)\n", role);
		return 2;
	}
	if (c->profile == NULL) {
		fprintf(stderr, "gcdl: --profile FILE is required (try 'gcdl -- --help')\n");
		return 2;
	}
	if (c->role == GCDL_DP_WORKER && !c->have_id) {
		fprintf(stderr, "gcdl: --role worker needs --id K (0..cluster.workers-1)\n");
		return 2;
	}
	if (c->role == GCDL_DP_LOCAL && c->have_id) {
		fprintf(stderr, "gcdl: --id is for --role worker or aggregator\n");
		return 2;
	}
	return 0;
}

/* Output files are checked before anything starts (the checkpoint file's
 * too, when the profile writes one). @return 0 or 2. */
static int
check_outputs(const struct cli *c, const struct gcdl_profile *p)
{
	const struct {
		const char *path, *opt, *what;
	} out[] = {
		{ c->metrics, "--metrics", "metrics file" },
		{ c->pcap, "--pcap", "capture file" },
		{ c->save, "--save-model", "model file" },
		{ c->summary_json, "--summary-json", "summary file" },
		{ p->checkpoint_every > 0 ? p->checkpoint_path : NULL, "checkpoint.path",
		  "checkpoint file" },
	};
	char err[512];

	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		if (out[i].path == NULL)
			continue;
		if (gcdl_outfile_check(out[i].path, err, sizeof(err)) != 0) {
			fprintf(stderr, "gcdl: %s %s: cannot create the %s: %s\n", out[i].opt,
				out[i].path, out[i].what, err);
			return 2;
		}
		/* what a killed gcdl left half-written beside it */
		gcdl_outfile_clean_stale(out[i].path);
	}
	return 0;
}

/* The exit status of a run's error. */
static int
exit_status(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case -EPERM:
		return 2; /* refused: this node's profile is not the job's */
	case -ENOTCONN:
		return GCDL_EXIT_NO_CONTRIBUTOR;
	default:
		return 1;
	}
}

int
main(int argc, char **argv)
{
	static struct gcdl_outfile mout, pout;
	struct gcdl_checkpoint ck = { 0 };
	struct gcdl_summary sum;
	struct gcdl_profile prof;
	struct gcdl_dp *dp = NULL;
	struct cli c;
	char err[512], eal[2048];
	const float *model;
	int eal_argc, rc, status = 2;
	uint32_t dim;

	memset(&c, 0, sizeof(c));
	/* gcdl --gen-key FILE (also after --): no EAL, no profile */
	for (int i = 1; i + 1 < argc && i <= 2; i++) {
		if (strcmp(argv[i], "--gen-key") == 0 && (i == 1 || strcmp(argv[1], "--") == 0)) {
			if (i + 2 != argc) {
				fprintf(stderr, "gcdl: --gen-key FILE takes nothing else\n");
				return 2;
			}
			if (gcdl_auth_key_generate(argv[i + 1], err, sizeof(err)) != 0) {
				fprintf(stderr, "gcdl: --gen-key %s\n", err);
				return 2;
			}
			printf("gcdl: job key written to %s (mode 600): copy it to every node and set "
			       "job.key_file = %s\n", argv[i + 1], argv[i + 1]);
			return 0;
		}
	}
	for (eal_argc = 1; eal_argc < argc; eal_argc++)
		if (strcmp(argv[eal_argc], "--") == 0)
			break;
	if (eal_argc == argc) {
		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
				usage(stdout);
				return 0;
			}
			if (strcmp(argv[i], "--version") == 0) {
				gcdl_version_print(stdout, "gcdl");
				return 0;
			}
		}
		fprintf(stderr, "gcdl: application options go after '--', e.g. gcdl --no-huge "
			"--no-pci -- --profile configs/local.ini (try 'gcdl -- --help')\n");
		return 2;
	}
	/* the application's argv: argv[0], then what follows "--" (in place of it) */
	argv[eal_argc] = argv[0];
	rc = parse_cli(argc - eal_argc, argv + eal_argc, &c);
	if (rc != 0)
		return rc == 1 ? 0 : 2;
	if (gcdl_profile_open(&prof, c.profile, c.overrides, c.noverrides, err, sizeof(err)) != 0) {
		fprintf(stderr, "gcdl: %s\n", err);
		return 2;
	}
	if (c.resume != NULL) {
		if (gcdl_checkpoint_load(c.resume, &ck, err, sizeof(err)) != 0) {
			fprintf(stderr, "gcdl: --resume %s\n", err);
			return 2;
		}
		c.o.resume = &ck;
	}
	if (check_outputs(&c, &prof) != 0)
		goto out_ck;
	if (c.role == GCDL_DP_LOCAL && prof.ports[0] != '\0') {
		fprintf(stderr, "gcdl: dataplane.ports = %s: --role local makes its own net_ring "
			"ports; dataplane.ports is for --role aggregator or worker\n", prof.ports);
		goto out_ck;
	}
	if (c.role == GCDL_DP_LOCAL && prof.flow_isolate) {
		fprintf(stderr, "gcdl: dataplane.flow_isolate = true: --role local makes its own "
			"net_ring ports, which have no flow rules; it is for --role aggregator or "
			"worker on a NIC\n");
		goto out_ck;
	}
	if (prof.model == GCDL_MODEL_EXTERNAL && c.role == GCDL_DP_LOCAL) {
		fprintf(stderr, "gcdl: model.type external: its trainers run beside their own "
			"worker nodes (lib/python/gcdl starts them): use --role aggregator, or "
			"--role worker --id K --grad-shm FILE\n");
		goto out_ck;
	}
	if (prof.model == GCDL_MODEL_EXTERNAL && c.role == GCDL_DP_WORKER && c.o.grad_shm == NULL) {
		fprintf(stderr, "gcdl: model.type external: a worker needs --grad-shm FILE, where "
			"its trainer puts each round's gradient\n");
		goto out_ck;
	}
	if (c.o.grad_shm != NULL && (c.role != GCDL_DP_WORKER || prof.model != GCDL_MODEL_EXTERNAL)) {
		fprintf(stderr, "gcdl: --grad-shm is for --role worker with model.type external\n");
		goto out_ck;
	}
	if (c.role != GCDL_DP_LOCAL && prof.key_file[0] == '\0' && prof.insecure)
		fprintf(stderr, "gcdl: warning: job.insecure = true: frames carry no tag, so anyone "
			"on this segment can send frames that change the model or stop the job\n");
	if (eal_start(eal_argc, argv, c.role == GCDL_DP_LOCAL, eal, sizeof(eal)) != 0)
		goto out_ck;
	c.o.role = c.role;
	c.o.id = c.id;
	c.o.progress = c.quiet ? NULL : stderr;
	c.o.progress_s = 1.0;
	c.o.stop = &stop_flag;
	/* metrics and capture go under a temporary name until the run starts */
	if (c.metrics != NULL) {
		c.o.metrics = gcdl_outfile_begin(&mout, c.metrics) == 0
				      ? gcdl_metrics_open(mout.tmp, err, sizeof(err)) : NULL;
		if (c.o.metrics == NULL) {
			fprintf(stderr, "gcdl: --metrics %s: cannot create the metrics file: %s\n",
				c.metrics, err);
			goto out_eal;
		}
	}
	if (c.pcap != NULL) {
		c.o.pcap = gcdl_outfile_begin(&pout, c.pcap) == 0
				   ? gcdl_pcap_open(pout.tmp, err, sizeof(err)) : NULL;
		if (c.o.pcap == NULL) {
			fprintf(stderr, "gcdl: --pcap %s: cannot create the capture file: %s\n",
				c.pcap, err);
			goto out_files;
		}
	}
	dp = gcdl_dp_create(&prof, &c.o, err, sizeof(err));
	if (dp == NULL) {
		/* a port's failure is the port's (its --vdev or NIC), not the profile's */
		if (strncmp(err, "port ", 5) == 0 || strstr(err, "--vdev") != NULL)
			fprintf(stderr, "gcdl: %s\n", err);
		else
			fprintf(stderr, "gcdl: %s: %s\n", c.profile, err);
		goto out_files;
	}
	if (gcdl_outfile_commit(&mout) != 0 || gcdl_outfile_commit(&pout) != 0) {
		fprintf(stderr, "gcdl: cannot rename %s into place: %s\n",
			mout.tmp[0] ? mout.tmp : pout.tmp, strerror(errno));
		goto out_files;
	}
	if (!c.quiet) {
		const struct gcdl_job *job = gcdl_dp_job(dp);

		printf("gcdl: EAL: %s\n", eal);
		printf("gcdl: %s, role %s, method %s, N=%u M=%u d=%u layout %s, %u rounds, "
		       "%u train / %u test rows, stragglers %s\n", c.profile,
		       gcdl_dp_role_name(c.role), gcdl_method_name(prof.method), prof.workers,
		       prof.partitions ? prof.partitions : prof.workers, prof.redundancy,
		       gcdl_layout_kind_name(prof.layout), prof.rounds, job->train.rows,
		       job->test.rows,
		       prof.straggler_model == GCDL_STRAGGLER_BERNOULLI ? "bernoulli"
		       : prof.straggler_model == GCDL_STRAGGLER_TIMING ? "timing" : "none");
		gcdl_dp_print_placement(dp, stdout);
		fflush(stdout);
	}
	catch_stop_signals();

	rc = gcdl_dp_run(dp);
	if (rc != 0)
		fprintf(stderr, "gcdl: %s run failed: %s\n", gcdl_dp_role_name(c.role),
			gcdl_dp_error(dp)[0] ? gcdl_dp_error(dp) : strerror(-rc));
	if (gcdl_metrics_close(c.o.metrics) != 0 && rc == 0) {
		fprintf(stderr, "gcdl: --metrics %s: write failed\n", c.metrics);
		rc = -EIO;
	}
	c.o.metrics = NULL;
	/* the lcores have stopped: nothing writes to the capture any more */
	if (gcdl_pcap_close(c.o.pcap) != 0 && rc == 0) {
		fprintf(stderr, "gcdl: --pcap %s: write failed\n", c.pcap);
		rc = -EIO;
	}
	c.o.pcap = NULL;
	model = gcdl_dp_model(dp, &dim);
	if (rc == 0 && c.save != NULL) {
		rc = model != NULL ? gcdl_npy_write_f32(c.save, model, dim, err, sizeof(err)) : -ENOENT;
		if (rc != 0)
			fprintf(stderr, "gcdl: --save-model %s\n", model != NULL ? err : "no model");
		else if (!c.quiet)
			printf("gcdl: model saved to %s\n", c.save);
	}
	status = exit_status(rc);
	gcdl_dp_summary(dp, &sum);
	sum.status = status;
	gcdl_summary_print(&sum, stdout);
	fflush(stdout);
	if (sum.warning[0] != '\0')
		fprintf(stderr, "gcdl: WARNING: %s\n", sum.warning);
	if (c.summary_json != NULL &&
	    gcdl_summary_save_json(&sum, c.summary_json, err, sizeof(err)) != 0) {
		fprintf(stderr, "gcdl: --summary-json %s\n", err);
		if (status == 0)
			status = 1;
	}
out_files:
	if (c.o.pcap != NULL) {
		gcdl_pcap_close(c.o.pcap);
		gcdl_outfile_abort(&pout);
	}
	if (c.o.metrics != NULL) {
		/* nothing was written but the header */
		gcdl_metrics_close(c.o.metrics);
		gcdl_outfile_abort(&mout);
	}
	gcdl_dp_free(dp);
	/* DPDK 22.11: closing a memif port unregisters interrupt sources, and the
	 * EAL's interrupt thread rebuilds its wait list from them while
	 * rte_eal_cleanup() may already unmap their memory (a core at exit, about
	 * 1 run in 8 of an aggregator whose memif peer had gone): let it settle */
	rte_delay_us_sleep(20000);
out_eal:
	rte_eal_cleanup();
out_ck:
	gcdl_checkpoint_free(&ck);
	return status;
}
