/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to lib/dp: the data plane's objects, the messages lcores and the
 * control thread exchange through rte_rings, and the per-lcore counters.
 *
 * Who touches what:
 *  - a worker lcore: its struct dp_wlcore, its logical workers (replicas,
 *    update assembly), their W_k ports, engine contexts 1 + index
 *    (gcdl_engine_worker_gradient, gcdl_engine_encode_chunk);
 *  - the aggregator lcore: struct dp_agg, every A_k port, the garbage
 *    port's RX side, gcdl_engine_ingest() while a round is open;
 *  - the control thread: gcdl_engine_begin_round/close_round/eval (engine
 *    context 0) while no round is open for ingest, the downlink images while
 *    it owns them, the garbage port's TX side, the metrics file.
 * Ownership of a round's engine state and of each downlink image passes
 * through ring messages (release/acquire), never through locks.
 */
#ifndef GCDL_DP_INTERNAL_H
#define GCDL_DP_INTERNAL_H

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include "gcdl/deadline.h"
#include "gcdl/dp.h"
#include "gcdl/auth.h"
#include "gcdl/engine.h"
#include "gcdl/faults.h"
#include "gcdl/straggler.h"

extern int gcdl_logtype_control;
extern int gcdl_logtype_dataplane;
extern int gcdl_logtype_engine;

/* DP_LOG(control, ERR, "...", ...): log types gcdl.control/dataplane/engine. */
#define DP_LOG(type, level, fmt, ...)                                                 \
	rte_log(RTE_LOG_##level, gcdl_logtype_##type, "gcdl." #type ": " fmt "\n", \
		##__VA_ARGS__)

#define DP_MAX_WLCORES 128      /* the profile's upper bound of worker_lcores */
#define DP_MAX_BURST 512        /* the profile's upper bound of burst */
#define DP_IMAGES 4             /* downlink images in flight */
#define DP_CTL_RING 16384       /* control thread's inbox */
#define DP_LCORE_RING 4096      /* each lcore's inbox */
#define DP_START_SLOTS 256      /* round start times a worker lcore remembers */
#define DP_IDLE_SPIN 64         /* empty polls before yielding */
#define DP_IDLE_YIELD 256       /* empty polls before sleeping */
#define DP_IDLE_SLEEP_US 20     /* sleep of an idle loop */
#define DP_DEADLINE_SPIN_US 500 /* the aggregator polls without sleeping this close to a
				 * deadline: a sleeping thread's wake-up can be late */
#define DP_ALLOC_WAIT_S 2       /* a worker gives up on an empty mempool after this */

/* Messages. Direction and meaning of the fields per type. */
enum dp_msg_type {
	DP_MSG_OPEN = 1,   /* ctl->agg: open `round` (tsc start, tsc2 deadline); ptr: the
			    * previous round's downlink image or NULL */
	DP_MSG_DOWNLINK,   /* ctl->agg: send image ptr (the last round's update) */
	DP_MSG_CLOSE_NOW,  /* ctl->agg: close the open round now (stop request) */
	DP_MSG_STOP,       /* ctl->agg: drain the RX queues and return */
	DP_MSG_ROUND,      /* ctl->worker lcore: `round` started at tsc */
	DP_MSG_STARTED,    /* agg->ctl: the first round is open */
	DP_MSG_CLOSED,     /* agg->ctl: `round` closed at tsc (seen at tsc2); arg 0: every
			    * frame came, 1: by its deadline, 2: on a stop request; us:
			    * how much of tsc2 - deadline the lcore was not running */
	DP_MSG_ARRIVAL,    /* agg->ctl: `worker`'s last chunk of `round` came `us` after
			    * the start; arg 1: late */
	DP_MSG_IMAGE_DONE, /* agg->ctl: image ptr sent on every port */
	DP_MSG_LCORE_DONE, /* worker lcore->ctl: its workers applied the last update */
	DP_MSG_ERROR,      /* lcore->ctl: fatal: arg = -errno for `worker` in `round` */
};

struct dp_msg {
	uint32_t type;
	uint32_t round;
	uint32_t worker;
	int32_t arg;
	uint64_t tsc;
	uint64_t tsc2;
	void *ptr;
	double us;
};

/* Counters of one lcore or of the control thread: one writer (the owner,
 * through DP_STAT_ADD), readers load them relaxed. */
struct dp_stats {
	uint64_t rx_frames;
	uint64_t rx_bytes;
	uint64_t tx_frames;
	uint64_t tx_bytes;
	uint64_t drops[GCDL_DROP__COUNT];
	uint64_t duplicates;
	uint64_t late;
	uint64_t accepted;     /* uplink frames ingested */
	uint64_t rejected;     /* frames the engine refused after validation */
	uint64_t skipped;      /* worker-rounds not sent (Bernoulli straggler) */
	uint64_t applied;      /* updates applied to replicas */
	uint64_t alloc_fail;   /* mbuf allocation failures (retried) */
	uint64_t tx_full;      /* TX bursts the ring took only partly (rest retried) */
	uint64_t msg_lost;     /* ARRIVAL messages the control inbox had no room for */
	/* injected at transmit ([faults]) */
	uint64_t fault_dropped;
	uint64_t fault_duplicated;
	uint64_t fault_reordered;
	uint64_t fault_corrupted;
	uint64_t fault_delayed;  /* frames a slow worker held back */
	uint64_t hostile_sent;   /* --inject-hostile frames (control thread) */
	/* CPU time (ns, this thread's: time the lcore was descheduled on a
	 * shared core is not counted) of the hot paths, for per-lcore rates */
	uint64_t encode_ns;      /* worker: quantize + frame + seal, mbufs included */
	uint64_t encode_coords;
	uint64_t tx_ns;          /* worker: uplink tx bursts */
	uint64_t ingest_ns;      /* aggregator: polls that brought frames: validate, ingest, free */
	uint64_t ingest_coords;  /* aggregator: coordinates of the frames ingested */
} __rte_cache_aligned;

#define DP_STAT_ADD(s, f, n) __atomic_store_n(&(s)->f, (s)->f + (n), __ATOMIC_RELAXED)
#define DP_STAT_GET(s, f) __atomic_load_n(&(s)->f, __ATOMIC_RELAXED)

/* CPU time of the calling thread in ns (a vDSO-less clock: ~0.2 us a call,
 * so it is read per round or per poll, never per frame). */
static inline uint64_t
dp_thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* What the aggregator lcore saw from one worker (sender id validated), for
 * telemetry: one writer (the aggregator lcore, DP_STAT_ADD), readers load
 * them relaxed. */
struct dp_wstats {
	uint64_t accepted;     /* its uplink frames ingested */
	uint64_t duplicates;
	uint64_t late;
	uint64_t rejected;
	uint64_t last_round;   /* latest round (1-based) of a valid frame of its, 0: none */
};

/* The round state the control thread publishes for telemetry (relaxed
 * stores, relaxed loads: each field is current, the set is not a snapshot). */
struct dp_tel_round {
	uint32_t round;        /* round in progress, 1-based (0: none opened yet) */
	uint32_t rounds_done;
	uint32_t stragglers;   /* of the last closed round */
	uint32_t evaluated;    /* loss and accuracy are set */
	double deadline_us;    /* of the round in progress */
	double train_loss;     /* last evaluation */
	double test_accuracy;
	uint32_t closed_complete;
	uint32_t closed_deadline;
	uint64_t stragglers_total;  /* worker-rounds */
	uint64_t payload_bytes;     /* of the accepted uplink frames */
	uint64_t wire_bytes;
};

/* One round's update, encoded once by the control thread as ready frames. */
struct dp_image {
	uint32_t round;
	uint32_t frames;
	uint32_t stride;       /* bytes between frames in data */
	uint16_t *len;         /* frame lengths */
	uint8_t *data;
};

/* Two ethdev ports joined by two rings: W (worker or garbage side), A (aggregator side). */
struct dp_pair {
	char name[24];
	int wport, aport;      /* -1 until created */
	unsigned wsocket, asocket;
	struct rte_ring *to_agg, *to_worker;
	struct rte_ether_addr wmac, amac;
	int wstarted, astarted;
};

enum dp_lworker_state {
	DP_W_INIT = 0,  /* waiting for round 0 to start */
	DP_W_HOLD,      /* frames encoded, waiting for their send time */
	DP_W_WAIT,      /* frames sent (or none): assembling the update */
	DP_W_DONE,      /* last update applied */
};

/* A logical worker k. */
struct dp_lworker {
	uint32_t id;
	uint16_t port;
	uint16_t pad;
	uint32_t round;        /* round it computes for and whose update it awaits */
	enum dp_lworker_state state;
	float *w;              /* replica w_round */
	float *u;              /* update being assembled */
	uint8_t *got;          /* downlink chunks received */
	uint32_t got_n;
	uint32_t nheld, next;  /* encoded uplink frames, next to send */
	struct rte_mbuf **held; /* room for 2 x chunks (injected duplicates) */
	uint64_t ready_tsc;    /* when the held frames were encoded */
	uint16_t *held_len;
	uint64_t due;          /* TSC when the held frames may go */
	int due_known;
	struct gcdl_frame_limits lim;         /* what the worker accepts: updates */
	uint8_t tmpl[GCDL_FRAME_OVERHEAD];    /* uplink header template */
};

struct gcdl_dp;

/* A worker lcore and the logical workers it runs. */
struct dp_wlcore {
	struct dp_stats st;
	struct gcdl_dp *dp;
	unsigned lcore, socket;
	uint32_t index, ctx;
	uint32_t nworkers;
	struct dp_lworker *w;
	float *v;              /* gradient scratch */
	struct gcdl_fault_send *plan; /* 2 x chunks: fault plan of one round */
	struct rte_mbuf **scratch;    /* 2 x chunks */
	struct rte_mempool *pool;
	struct rte_ring *in;
	uint64_t start_tsc[DP_START_SLOTS];
	uint32_t start_round[DP_START_SLOTS];
	uint8_t start_valid[DP_START_SLOTS];
} __rte_cache_aligned;

/* The aggregator lcore. */
struct dp_agg {
	struct dp_stats st;
	struct gcdl_dp *dp;
	unsigned lcore, socket;
	struct rte_mempool *pool;
	struct rte_ring *in;
	uint32_t nrx;          /* A_k ports, plus the garbage port */
	uint16_t *rxport;
	/* the round */
	uint32_t round;
	int open, started, stopping;
	uint64_t start_tsc, deadline_tsc;
	uint64_t got, expected;
	/* when this poll-loop iteration began; whether the previous one found
	 * work, and until when it meant to pause if it found none */
	uint64_t top, prev_wake;
	int prev_work;
	/* the last iteration that began within DP_DEADLINE_SPIN_US (spin_tsc)
	 * before the open round's deadline: its start and this thread's CPU time
	 * then (pre_tsc 0: none yet) */
	uint64_t spin_tsc, pre_tsc, pre_cpu;
	struct gcdl_frame_limits lim;
	/* arrival tracking of the open and the previous round (slot = round & 1) */
	uint32_t *arr[2];
	uint32_t arr_round[2];
	uint64_t arr_start[2];
	int arr_valid[2];
	/* downlink: images in order of sequence number, per-port progress */
	struct dp_image *fifo[DP_IMAGES];
	uint32_t remaining[DP_IMAGES];
	uint64_t head_seq, tail_seq;
	uint64_t *port_seq;
	uint32_t *port_frame;
	struct dp_wstats *wst; /* per worker, n entries */
} __rte_cache_aligned;

/* The whole local data plane. */
struct gcdl_dp {
	struct gcdl_profile prof;
	struct gcdl_dp_opts opts;
	struct gcdl_job job;
	int job_open;
	struct gcdl_engine *e;
	uint32_t n, dim, chunks, chunk_coords, dl_coords, dl_chunks;
	uint32_t burst;
	size_t frame_cap;      /* longest frame, bytes */
	uint16_t data_room;
	uint64_t hz;
	struct gcdl_straggler_model sm;
	double *slowdown;
	struct gcdl_faults faults;

	unsigned main_lcore, agg_lcore;
	uint32_t nwl;
	unsigned wl_lcore[DP_MAX_WLCORES];
	struct dp_wlcore *wl[DP_MAX_WLCORES];
	struct dp_agg *agg;
	struct rte_mempool *pool[RTE_MAX_NUMA_NODES];
	uint32_t pool_mbufs;
	struct dp_pair *pairs; /* n worker pairs, then the garbage pair if any */
	uint32_t npairs;
	int garbage;           /* pairs[n] is the garbage pair */
	struct rte_ring *ctl_in;
	struct rte_ring *agg_in;

	/* control thread */
	pthread_t ctl_thread;
	int ctl_started;
	struct dp_stats ctl_st;
	struct dp_image images[DP_IMAGES];
	int image_free[DP_IMAGES];
	float *update;
	struct gcdl_deadline dl;
	uint32_t lcores_done;
	int agg_started;
	int closed_ready;
	struct dp_msg closed;
	int ran;
	int run_rc;
	int quit;              /* set once: every loop returns */
	uint32_t exited;       /* lcore loops that returned (atomic) */
	char fail[256];
	struct gcdl_dp_result res;
	struct dp_tel_round tel;
	int numa_engine;       /* node the engine's memory was preferred on, -1: none */
	uint32_t first_round;  /* 0, or the round a checkpoint continues with */
	struct gcdl_auth auth_key;
	const struct gcdl_auth *auth; /* &auth_key with job.key_file, else NULL */
};

/* Back off when a loop found nothing to do, so idle lcores sharing a core
 * with busy ones give it up: spin, then yield, then sleep briefly. */
struct dp_idle {
	uint32_t n;
};

static inline void
dp_idle_reset(struct dp_idle *i)
{
	i->n = 0;
}

static inline void
dp_idle_wait(struct dp_idle *i, uint64_t max_sleep_us)
{
	if (i->n < DP_IDLE_SPIN) {
		rte_pause();
	} else if (i->n < DP_IDLE_YIELD) {
		sched_yield();
	} else {
		uint64_t us = DP_IDLE_SLEEP_US < max_sleep_us ? DP_IDLE_SLEEP_US : max_sleep_us;

		if (us > 0)
			rte_delay_us_sleep((unsigned int)us);
		else
			sched_yield();
	}
	if (i->n < UINT32_MAX)
		i->n++;
}

static inline int
dp_quit(const struct gcdl_dp *dp)
{
	return __atomic_load_n(&dp->quit, __ATOMIC_ACQUIRE);
}

/* Builds self-test frame number seq of round t into buf (room bytes).
 * @return its length. */
typedef size_t (*dp_frame_builder)(struct gcdl_dp *dp, uint32_t round, uint64_t seq,
				   uint8_t *buf, size_t room);

/* The control thread sends count frames made by build for round t on the
 * garbage port's TX side (the self-tests), retrying a full mempool or TX ring
 * until they are all sent. Frame i of the round has seq round * count + i.
 * @return 0 with their bytes in *bytes, or -ECANCELED on a stop request. */
int dp_inject_frames(struct gcdl_dp *dp, uint32_t round, uint32_t count, dp_frame_builder build,
		     uint64_t *bytes);

static inline void
dp_set_quit(struct gcdl_dp *dp)
{
	__atomic_store_n(&dp->quit, 1, __ATOMIC_RELEASE);
}

static inline double
dp_tsc_us(const struct gcdl_dp *dp, uint64_t ticks)
{
	return (double)ticks * 1e6 / (double)dp->hz;
}

/* Enqueue a message, retrying while the ring is full unless the run quits.
 * @return 0, or -ECANCELED when quitting first. */
int gcdl_dp_msg_send(struct gcdl_dp *dp, struct rte_ring *r, const struct dp_msg *m);

/* port.c */
struct rte_mempool *gcdl_dp_pool_create(const char *name, unsigned socket, uint32_t mbufs,
					uint16_t data_room);
int gcdl_dp_pair_create(struct dp_pair *pp, uint32_t index, const char *prefix,
			unsigned wsocket, unsigned asocket, uint32_t ring_size,
			struct rte_mempool *wpool, struct rte_mempool *apool, char *err,
			size_t errlen);
void gcdl_dp_pair_destroy(struct dp_pair *pp);

/* dp_worker.c */
int gcdl_dp_wlcore_init(struct gcdl_dp *dp, struct dp_wlcore *wl, char *err, size_t errlen);
void gcdl_dp_wlcore_fini(struct dp_wlcore *wl);
int gcdl_dp_worker_main(void *arg);

/* faults_tx.c: the [faults] of a worker's encoded frames. apply: drop,
 * duplicate, corrupt and reorder w->held (called once they are encoded);
 * due: the send time of a slow worker's frames, at least `due`. */
int gcdl_dp_faults_wlcore_init(struct dp_wlcore *wl);
void gcdl_dp_faults_wlcore_fini(struct dp_wlcore *wl);
int gcdl_dp_faults_apply(struct dp_wlcore *wl, struct dp_lworker *w);
int gcdl_dp_faults_slow(const struct gcdl_dp *dp, uint32_t worker);
uint64_t gcdl_dp_faults_due(struct dp_wlcore *wl, struct dp_lworker *w, uint64_t start,
			    uint64_t due);

/* hostile.c: the --inject-hostile frames of round t on the garbage port. */
int gcdl_dp_inject_hostile(struct gcdl_dp *dp, uint32_t round);

/* dp_agg.c */
int gcdl_dp_agg_init(struct gcdl_dp *dp, struct dp_agg *a, char *err, size_t errlen);
void gcdl_dp_agg_fini(struct dp_agg *a);
int gcdl_dp_agg_main(void *arg);

/* control.c */
int gcdl_dp_control_init(struct gcdl_dp *dp, char *err, size_t errlen);
void gcdl_dp_control_fini(struct gcdl_dp *dp);
void *gcdl_dp_control_main(void *arg);

/* garbage.c: malformed frame number `seq` of the run (kind = seq % count, so
 * the kinds cycle even with one frame per round), for round `round`, in buf.
 * @return its length (0 if cap is too small). No DPDK types. */
enum dp_garbage_kind {
	DP_GARBAGE_TRUNCATED = 0,
	DP_GARBAGE_ETHERTYPE,
	DP_GARBAGE_MAGIC,
	DP_GARBAGE_CRC,
	DP_GARBAGE_JOB,
	DP_GARBAGE_SENDER,
	DP_GARBAGE_OFFSET,
	DP_GARBAGE_COUNT,
	DP_GARBAGE_LENGTH,
	DP_GARBAGE_RANDOM,
	DP_GARBAGE__COUNT
};
size_t gcdl_dp_garbage_frame(const struct gcdl_engine *e, const struct gcdl_profile *p,
			     uint32_t round, uint64_t seq, uint8_t *buf, size_t cap);

/* pcap.c: append one record of len bytes at time tsc; the first 12 bytes
 * (the MACs) are taken from mac12 instead of frame when mac12 is not NULL.
 * Aggregator lcore only. Write errors surface in gcdl_pcap_close(). */
void gcdl_dp_pcap_write(struct gcdl_pcap *pc, uint64_t tsc, const uint8_t *mac12,
			const uint8_t *frame, uint32_t len);

/* stats.c */
void gcdl_dp_stats_collect(struct gcdl_dp *dp, struct gcdl_dp_result *res);

/* telemetry.c: register the /gcdl/ telemetry commands (once per process) and
 * make them report on dp; detach before dp is freed (waits for a callback in
 * progress). Attaching fails with -EBUSY while another data plane is attached. */
int gcdl_dp_telemetry_attach(struct gcdl_dp *dp);
void gcdl_dp_telemetry_detach(struct gcdl_dp *dp);

#endif /* GCDL_DP_INTERNAL_H */
