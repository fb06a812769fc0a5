/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to lib/dp: the node (include/gcdl/node.h). node.c builds it and
 * owns its ports' receive and transmit paths; node_worker.c,
 * node_agg.c and node_mesh.c are the three roles; faults_tx.c applies
 * [faults] to frames a node holds; inject.c sends the self-test frames;
 * pcap.c writes the capture.
 *
 * Transmit: every frame goes into its port's backlog (node_tx_queue()), and
 * every poll sends from each backlog what the port takes (node_tx_flush()):
 * a full ring is retried on the next poll, never spun on, so nodes sharing
 * an lcore never wait for each other. Only a port whose link is down drops
 * its backlog (a dead memif peer). Long sends (a worker's round of chunks,
 * an update to every worker) are fed into the backlogs as they drain.
 */
#ifndef GCDL_NODE_INTERNAL_H
#define GCDL_NODE_INTERNAL_H

#include <stdint.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "gcdl/auth.h"
#include "gcdl/deadline.h"
#include "gcdl/downlink.h"
#include "gcdl/engine.h"
#include "gcdl/extgrad.h"
#include "gcdl/faults.h"
#include "gcdl/join.h"
#include "gcdl/node.h"
#include "gcdl/rng.h"
#include "gcdl/round_end.h"
#include "gcdl/straggler.h"
#include "gcdl/vlan.h"

#include "clock.h"

extern int gcdl_logtype_control;
extern int gcdl_logtype_dataplane;
extern int gcdl_logtype_engine;

/* NODE_LOG(control, ERR, "...", ...): log types gcdl.control/dataplane/engine. */
#define NODE_LOG(type, level, fmt, ...)                                               \
	rte_log(RTE_LOG_##level, gcdl_logtype_##type, "gcdl." #type ": " fmt "\n", \
		##__VA_ARGS__)

#define NODE_MAX_PORTS 64
#define NODE_MAX_BURST 512        /* the profile's upper bound of dataplane.burst */
#define NODE_BACKLOG 4096         /* frames a port's backlog holds (power of two) */
#define NODE_FEED_MAX 256         /* streams fill a port's backlog up to this: bounds
				   * the mbufs in flight per port */
#define NODE_HELLO_US 200000      /* hello and resync retry period */
#define NODE_LINGER_US 1000000    /* an aggregator answers resyncs this long after the end */
#define NODE_DL_KEEP 4            /* an aggregator keeps the updates of this many rounds (repairs) */
#define NODE_DEADLINE_SPIN_US 500 /* poll without sleeping this close to a timer */
#define NODE_IDLE_SPIN 64         /* empty polls before yielding */
#define NODE_IDLE_YIELD 256       /* empty polls before sleeping */
#define NODE_IDLE_SLEEP_US 20     /* longest sleep of an idle loop */
#define NODE_ALLOC_WAIT_S 2       /* a node gives up on an empty mempool after this */
#define NODE_IMAGES 6             /* model and momentum images an aggregator keeps in flight */
#define NODE_CLOSE_SLACK_US 1000.0 /* a round closed later than this past its
				    * deadline is a late close */

/* One port of a node and its transmit backlog (a ring of mbufs). */
struct node_port {
	uint16_t id;                 /* ethdev port */
	uint8_t mac[6];
	uint32_t head, tail;         /* backlog[head & mask] .. backlog[tail & mask] */
	uint32_t captured;           /* --pcap: backlog entries before this one are written */
	struct rte_mbuf *backlog[NODE_BACKLOG];
};

/* One round's update encoded once as frames; sent to each joined worker
 * with its addresses patched in (neither the CRC nor the tag covers them). */
struct node_image {
	int type;                    /* GCDL_MSG_UPDATE, _UPDATE1 or _MODEL */
	uint32_t round;
	uint32_t first_chunk;        /* the chunk of frame 0 (of the type's frame size) */
	uint32_t frames;
	uint32_t stride;             /* bytes between frames in data */
	uint16_t *len;
	uint8_t *data;
	uint32_t users;              /* destinations still sending it */
};

/* A stream of an image to one worker: the next frame to queue. */
struct node_stream {
	struct node_image *img;      /* NULL: nothing to send */
	uint32_t next;
};

struct node_worker;
struct node_agg;
struct node_agg_lcores;
struct node_quant_lcores;
struct gcdl_quant_lcore_summary;
struct node_mesh;
struct gcdl_mesh;

struct gcdl_node {
	struct gcdl_counters c;      /* first: cache-line aligned by the allocation */
	struct gcdl_node_conf conf;
	struct gcdl_profile prof;
	struct gcdl_job *job;
	struct gcdl_engine *e;       /* this node's: its replica, its aggregation */
	struct gcdl_round_end re;
	uint32_t n;                  /* workers N */
	uint32_t k;                  /* aggregators K (1 in mesh: peer 0 commits) */
	uint32_t dim, chunks, chunk_coords;
	uint32_t mc, mchunks;        /* coordinates per model/float32 update frame, frames per model */
	int dl_type;                 /* the round's update frames: GCDL_MSG_UPDATE or _UPDATE1 */
	uint32_t dl_coords, dl_chunks; /* coordinates per update frame, update frames per model */
	uint8_t group[6];            /* the downlink's multicast MAC (downlink.group) */
	int steps;                   /* a worker takes the optimizer step itself (relay, and
				      * signsgd_mv's vote): its join brings the momentum too */
	int vote;                    /* the downlink is signsgd_mv's vote (a worker steps from it) */
	uint16_t self;               /* sender id: k, or N + a */
	uint64_t hash;               /* gcdl_profile_hash() */
	uint16_t vlan_tci;           /* the 802.1Q tag of every frame sent (prof.vlan set) */
	uint64_t hz;
	uint32_t burst;
	size_t frame_cap;            /* longest frame, bytes */
	uint8_t *payload;            /* scratch for one payload */
	uint8_t *frame;              /* scratch for one frame */
	uint16_t nports;
	struct node_port *port;      /* nports */
	uint8_t (*agg_macs)[6];      /* K entries, NULL: found by broadcast */
	uint8_t (*worker_macs)[6];   /* N entries, NULL: any */
	struct gcdl_frame_limits lim;
	struct gcdl_straggler_model sm;
	double *slowdown;
	struct gcdl_faults faults;
	/* run binding (gcdl/auth.h): the session of the run this node is in and
	 * its key; an aggregator and mesh peer 0 draw it, a mesh peer learns it
	 * from peer 0's config (a worker keeps one per aggregator: node_worker.c) */
	uint64_t session;
	int have_session;
	struct gcdl_auth session_key;
	struct gcdl_pcap *pcap;
	uint64_t inject_seq[2];      /* self-test frames built so far: garbage, hostile */
	int finished;                /* rounds over (or stopped) */
	int counted_done;            /* a local worker added itself to conf.local_finished */
	int stopped;
	uint64_t linger_until;       /* TSC; 0: not lingering */
	int rc;                      /* failure (negative), else 0 */
	char fail[512];
	struct gcdl_node_round tel;  /* relaxed stores, for telemetry */
	struct node_worker *w;
	struct node_agg *a;
	struct node_mesh *m;
	struct node_agg_lcores *al;  /* aggregator, dataplane.agg_lcores > 1: its
				      * aggregation lcores (agg_lcore.c), else NULL */
	struct node_quant_lcores *ql; /* worker, dataplane.quant_lcores > 1: its
				       * quantizing lcores (quant_lcore.c), else NULL */
	uint32_t helpers;            /* helper lcores (either kind) the node needs */
	int helpers_stop;            /* set once: every helper loop returns */
	/* downlink.mode relay (node_relay.c): the aggregator holds and commits the
	 * round's accepted frames, a worker collects them and applies the commit */
	struct gcdl_mesh *relay;
	uint64_t relay_repair_at;    /* worker: when to ask the aggregator again */
	struct gcdl_rng dl_fault;    /* faults.downlink_drop_p's decisions */
	uint32_t dl_drop;            /* ... as a threshold on a 32-bit draw (0: none) */
	/* model.type external (node_extgrad.c): the trainer's channel */
	struct gcdl_extgrad *xg;
	float *xg_g;                 /* the decoded gradient of the round applied */
	uint32_t xg_wait;            /* the round whose gradient it waits for, or GCDL_JOIN_NONE */
	uint32_t xg_published;       /* rounds published to the trainer */
} __rte_cache_aligned;

/* CPU time of the calling thread in ns (~0.2 us a call: per round or per
 * poll, never per frame). */
static inline uint64_t
node_thread_ns(void)
{
	return gcdl_clock_thread_ns();
}

static inline void
node_count(struct gcdl_node *n, enum gcdl_counter c, uint64_t v)
{
	gcdl_counter_add(&n->c, c, v);
}

static inline double
node_tsc_us(const struct gcdl_node *n, uint64_t ticks)
{
	return (double)ticks * 1e6 / (double)n->hz;
}

/* Worker or peer k sends nothing in round t: an injected Bernoulli
 * straggler (the timing model delays instead). One rule for every role, and
 * for the flag a trainer of model.type external reads a round ahead. */
static inline int
node_injected_straggler(const struct gcdl_node *n, uint32_t t)
{
	return n->sm.kind == GCDL_STRAGGLER_BERNOULLI &&
	       gcdl_straggler_is(&n->sm, n->prof.seed, t, n->conf.id, n->prof.deadline_us);
}

static inline uint64_t
node_us_tsc(const struct gcdl_node *n, double us)
{
	return us > 0 ? (uint64_t)(us * (double)n->hz / 1e6) : 0;
}

static inline int
node_stop_requested(const struct gcdl_node *n)
{
	return n->conf.stop != NULL && __atomic_load_n(n->conf.stop, __ATOMIC_RELAXED);
}

/* Ask to be polled again at tsc at the latest. */
static inline void
node_wake_at(struct gcdl_loop *lp, uint64_t tsc)
{
	if (tsc < lp->wake)
		lp->wake = tsc;
}

/* The node failed: remember the first reason. @return rc. */
int node_fail(struct gcdl_node *n, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Telemetry's view of the round (relaxed stores). */
void node_tel_round(struct gcdl_node *n, uint32_t round_1based, double deadline_us);
void node_tel_closed(struct gcdl_node *n, uint32_t rounds_done, uint32_t stragglers);

/* node.c: the longest frame any node of the job sends, tag included. */
size_t node_frame_cap(const struct gcdl_job *job);

/* node.c: transmit */
/* An mbuf from the node's pool, or NULL (counted). */
struct rte_mbuf *node_alloc(struct gcdl_node *n);
/* Room left in a port's backlog. */
uint32_t node_tx_room(const struct gcdl_node *n, uint16_t pi);
/* Queue a ready mbuf on port index pi (counted by class when it goes out).
 * A full backlog drops it (tx_failed). */
void node_tx_queue(struct gcdl_node *n, uint16_t pi, struct rte_mbuf *m);
/* Send what every port takes from its backlog. @return frames sent. */
uint32_t node_tx_flush(struct gcdl_node *n);
/* The key that tags frames of this type from this node (NULL: no job key,
 * no tags): the job key for a hello or a config (and a mesh resync), the
 * session key for every other frame (a worker: node_worker_key()). */
const struct gcdl_auth *node_tx_key(const struct gcdl_node *n, int type);
/* Take a run's session id: derive its key. */
void node_set_session(struct gcdl_node *n, uint64_t session);
/* Encode one frame (header fields in h, payload of h->payload_len bytes,
 * sealed with key unless it is NULL) for dst on port index pi, and queue
 * it. @return 0, -ENOBUFS, or the encoder's error. */
int node_send(struct gcdl_node *n, uint16_t pi, const uint8_t dst[6],
	      const struct gcdl_frame_hdr *h, const void *payload, const struct gcdl_auth *key);
/* node_send_raw() flags */
#define NODE_RAW_KEEP_SRC 0x1  /* keep the frame's source MAC (garbage marks its own) */
#define NODE_RAW_SELFTEST 0x2  /* a self-test frame: counted as neither uplink nor downlink */
#define NODE_RAW_DOWNLINK 0x4  /* a downlink frame whatever its type (a relayed gradient) */

/* Queue a copy of a whole frame on port index pi, its destination MAC
 * patched to dst and its source to the port's (see the flags).
 * @return 0 or -ENOBUFS. */
int node_send_raw(struct gcdl_node *n, uint16_t pi, const uint8_t dst[6], const uint8_t *frame,
		  size_t len, unsigned flags);
/* This node's header fields for a frame of the given type and round. */
void node_hdr(const struct gcdl_node *n, struct gcdl_frame_hdr *h, int type, uint32_t round);
/* Queue model or update frames (values of vec, round) that intersect the
 * coordinates [first, first+count) to dst on port index pi, tagged with key. */
void node_send_range(struct gcdl_node *n, uint16_t pi, const uint8_t dst[6], int type,
		     uint32_t round, const float *vec, uint32_t first, uint32_t count,
		     const struct gcdl_auth *key);

/* node.c: receive */
/* Receive a burst on port index pi; frames for another unicast MAC are freed
 * and counted; every frame is captured. @return frames kept in pkts. */
uint16_t node_rx(struct gcdl_node *n, uint16_t pi, struct rte_mbuf **pkts);
/* Validate a received frame against lim and, with a job key, its tag under
 * the key its type and sender call for (a frame that needs a session key the
 * node does not have yet fails as auth); count it by class.
 * @return 0, or a positive drop reason (counted). */
int node_decode(struct gcdl_node *n, const struct rte_mbuf *m, struct gcdl_frame_hdr *hdr,
		const uint8_t **pl);

/* images (node.c) */
int node_image_init(struct gcdl_node *n, struct node_image *img, uint32_t frames);
void node_image_fini(struct node_image *img);
/* Encode vec as frames of type (round) into img, tagged with the node's key
 * for the type. */
void node_image_encode(struct gcdl_node *n, struct node_image *img, int type, uint32_t round,
		       const float *vec, uint32_t first, uint32_t count);
/* Feed a stream into port pi's backlog for dst. @return frames queued; the
 * stream is done when s->img is NULL again. */
uint32_t node_stream_feed(struct gcdl_node *n, struct node_stream *s, uint16_t pi,
			  const uint8_t dst[6]);
/* Feed a stream to the downlink's multicast group on the given ports (each
 * frame built once per source MAC, the ports sharing the mbuf). @return
 * frames built; the stream is done when s->img is NULL again. */
uint32_t node_group_feed(struct gcdl_node *n, struct node_stream *s, const uint16_t *ports,
			 uint16_t nports);
/* Send a whole frame (addresses patched: the group, the port's MAC) once to
 * the group on the given ports, counted as downlink. @return 0 or -ENOBUFS. */
int node_group_send(struct gcdl_node *n, const uint8_t *frame, size_t len, const uint16_t *ports,
		    uint16_t nports);
/* Send the frame of an image that holds chunk (of the image type's frame
 * size) again, to dst on port pi. @return its length, -ENOENT when the image
 * has no such frame, -ENOBUFS. */
int node_image_resend(struct gcdl_node *n, const struct node_image *img, uint32_t chunk,
		      uint16_t pi, const uint8_t dst[6]);

/* pcap.c: append one record of len bytes at time tsc (one writer thread). */
void gcdl_pcap_write(struct gcdl_pcap *pc, uint64_t tsc, const uint8_t *frame, uint32_t len);

/* faults_tx.c: [faults] on frames a node holds for round t (drop, duplicate,
 * corrupt, reorder; held_port follows its frame), and the send time of a
 * slow worker. */
int node_faults_apply(struct gcdl_node *n, uint32_t round, struct rte_mbuf **held,
		      uint16_t *held_port, uint32_t *nheld, struct gcdl_fault_send *plan,
		      struct rte_mbuf **scratch, uint16_t *scratch_port);
int node_faults_slow(const struct gcdl_node *n);
uint64_t node_faults_due(struct gcdl_node *n, uint64_t start, uint64_t ready, uint64_t due,
			 uint32_t frames);

/* inject.c: this round's self-test frames (--inject-garbage, --inject-hostile)
 * to dst on port index pi. */
void node_inject(struct gcdl_node *n, uint32_t round, uint16_t pi, const uint8_t dst[6]);

/* node_relay.c: downlink.mode relay */
int node_relay_init(struct gcdl_node *n, char *err, size_t errlen);
void node_relay_fini(struct gcdl_node *n);
/* aggregator: round t opens (the checksum of w_t goes into its commit) */
void node_relay_open(struct gcdl_node *n, uint32_t t);
/* aggregator: a gradient frame was accepted: hold it and send it to the group */
void node_relay_accepted(struct gcdl_node *n, const struct gcdl_frame_hdr *hdr,
			 const uint8_t *pl, const uint16_t *ports, uint16_t nports);
/* aggregator: the round closed: its commit to the group */
int node_relay_commit(struct gcdl_node *n, const uint16_t *ports, uint16_t nports);
/* aggregator: a worker asks for frames or the commit again */
void node_relay_serve(struct gcdl_node *n, uint16_t pi, const struct gcdl_frame_hdr *hdr,
		      const uint8_t *pl);
/* worker: a relayed gradient frame or a commit from aggregator a's MAC */
void node_relay_rx(struct gcdl_node *n, const struct gcdl_frame_hdr *hdr, const uint8_t *pl);
/* worker: its replica is at round t (begin collecting t) */
void node_relay_begin(struct gcdl_node *n, uint32_t t);
/* worker: apply the round once its commit and every committed frame are in,
 * ask for what is missing, resync when that fails. @return 1 when the round
 * was applied, 0, or a negative error */
int node_relay_poll(struct gcdl_node *n, struct gcdl_loop *lp, uint64_t now);

/* node_extgrad.c: a worker of model.type external and its trainer */
int node_extgrad_init(struct gcdl_node *n, char *err, size_t errlen);
void node_extgrad_fini(struct gcdl_node *n);
/* round t begins: wait for the trainer's gradient, unless an injected straggler */
void node_extgrad_begin(struct gcdl_node *n, uint32_t round, int straggler);
/* the trainer's gradient of the awaited round into v: @return 1 (its round in
 * *round), or 0 (not yet) */
int node_extgrad_take(struct gcdl_node *n, float *v, uint32_t *round);
/* round t was applied (its decoded gradient in xg_g): publish it. @return 0 or
 * a negative error (the node failed) */
int node_extgrad_applied(struct gcdl_node *n, uint32_t round);

/* the roles */
int node_worker_init(struct gcdl_node *n, char *err, size_t errlen);
/* The session key of the link to aggregator a, NULL when it has none yet. */
const struct gcdl_auth *node_worker_key(const struct gcdl_node *n, uint32_t a);
/* The port and MAC of the link to aggregator 0 (a star's only one). */
uint16_t node_worker_link_port(const struct gcdl_node *n);
const uint8_t *node_worker_link_mac(const struct gcdl_node *n);
/* The key of this node's genuine frames to dst (NULL: none yet, or no key). */
const struct gcdl_auth *node_key_to(const struct gcdl_node *n, const uint8_t dst[6]);
int node_worker_poll(struct gcdl_node *n, struct gcdl_loop *lp);
void node_worker_fini(struct gcdl_node *n);
int node_agg_init(struct gcdl_node *n, char *err, size_t errlen);
int node_agg_poll(struct gcdl_node *n, struct gcdl_loop *lp);
void node_agg_fini(struct gcdl_node *n);
int node_agg_row(const struct gcdl_node *n, uint32_t k, struct gcdl_worker_row *row);
int node_agg_drained(const struct gcdl_node *n);
/* runner.c: the loop of a helper lcore: work(n, i) until it finds nothing
 * to do and quit or n->helpers_stop is set (then *exited, when not NULL, is
 * set); spins, yields, then naps while idle. @return 0. */
int node_helper_loop(struct gcdl_node *n, uint32_t i, const int *quit, int *exited,
		     int (*work)(struct gcdl_node *n, uint32_t i));
/* node.c: every helper loop of the node returns once idle */
void node_helpers_stop(struct gcdl_node *n);
/* agg_lcore.c: an aggregator's aggregation lcores. init: the engine cut into
 * dataplane.agg_lcores parts; open: round t takes frames (the lcores
 * accumulate on arrival); close: ask the lcores to close round t, 1 once
 * every one has (the engine's close_finish is then the caller's), 0 while
 * waiting; stop: the lcores return. */
int node_agg_lcores_init(struct gcdl_node *n, float *update, char *err, size_t errlen);
void node_agg_lcores_open(struct gcdl_node *n, uint32_t t);
int node_agg_lcores_close(struct gcdl_node *n, uint32_t t);
void node_agg_lcores_fini(struct gcdl_node *n);
int node_agg_lcore_run(struct gcdl_node *n, uint32_t i, const int *quit);
/* quant_lcore.c: a worker's quantizing lcores. frame: the chunks of round t
 * framed into held[] (range 0 by the caller, the others by the lcores);
 * @return 0 or the first negative errno of a range. */
int node_quant_lcores_init(struct gcdl_node *n, char *err, size_t errlen);
int node_quant_lcores_frame(struct gcdl_node *n, uint32_t t, const float *src, uint64_t *coords);
void node_quant_lcores_fini(struct gcdl_node *n);
int node_quant_lcore_run(struct gcdl_node *n, uint32_t i, const int *quit);
int node_quant_lcore_stats(const struct gcdl_node *n, uint32_t i,
			   struct gcdl_quant_lcore_summary *s);
/* node_worker.c: chunks [lo, hi) of v_k of round t framed into held[]
 * (mbufs taken); adds their coordinates. @return 0 or a negative errno. */
int node_worker_frame_range(const struct gcdl_node *n, uint32_t round, const float *src,
			    uint32_t lo, uint32_t hi, uint64_t *coords);
int node_mesh_init(struct gcdl_node *n, char *err, size_t errlen);
int node_mesh_poll(struct gcdl_node *n, struct gcdl_loop *lp);
void node_mesh_fini(struct gcdl_node *n);
int node_mesh_in_sync(const struct gcdl_node *n);
void node_mesh_counters(const struct gcdl_node *n, struct gcdl_counters *c);

/* port.c: an ethdev port's MTU (net_af_packet: its kernel interface's,
 * named in ifname when given), -ENOTSUP when the PMD has none. */
int dp_port_mtu(uint16_t port, char *ifname, size_t ifnamelen);
/* Whether the port takes every frame and every multicast frame (1, 0, -1:
 * unknown); net_af_packet: its kernel interface's flags. */
int dp_port_rx_mode(uint16_t port, int *promiscuous, int *allmulticast);

#endif /* GCDL_NODE_INTERNAL_H */
