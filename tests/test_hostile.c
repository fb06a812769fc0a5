/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Check tests of nodes under attack: a host on a link (this test) puts
 * frames on a port's receive ring while the cluster runs, as a machine on
 * the shared segment would: forged hellos and resyncs, gradients of future
 * rounds, scales of 1e30, updates from another MAC or with a NaN, and every
 * frame of an earlier run replayed with the same job key. The frames are
 * built here with the public frame encoder and tags; each test says which
 * defect of the issue 17 audit it pins down, and fails on the code before.
 * The cluster is polled by this thread (gcdl_node_poll()), a hook between
 * node polls decides when to strike.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <sodium.h>

#include "gcdl/auth.h"
#include "gcdl/join.h"

#include "node_cluster.h"

static const uint8_t EVIL[6] = { 0x02, 0xba, 0xad, 0x00, 0x00, 0x01 };

/* The MAC node_on() gives side s of link l of the current cluster. */
static void
mac_of(uint8_t mac[6], uint32_t link, int side)
{
	const uint8_t m[6] = { 0x02, 0x74, 0x6e, (uint8_t)link, (uint8_t)side,
			       (uint8_t)cluster_seq };

	memcpy(mac, m, 6);
}

/* Encode (and with a key, tag) a frame and put it on (link, side). */
static void
inject(struct cluster *c, uint32_t link, int side, const struct gcdl_frame_hdr *h,
       const void *payload, const struct gcdl_auth *key)
{
	uint8_t buf[GCDL_MTU_MAX + 64];
	ssize_t len = gcdl_frame_encode(h, payload, buf, sizeof(buf));

	ck_assert_int_gt(len, 0);
	if (key != NULL)
		len = gcdl_auth_seal(key, buf, sizeof(buf));
	ck_assert_int_gt(len, 0);
	inject_bytes(c, link, side, buf, (size_t)len);
}

static void
hdr_of(struct gcdl_frame_hdr *h, const struct cluster *c, int type, uint16_t sender,
       uint32_t round, const uint8_t src[6], const uint8_t dst[6])
{
	memset(h, 0, sizeof(*h));
	h->type = (uint8_t)type;
	h->job_id = c->p.job_id;
	h->round = round;
	h->sender = sender;
	memcpy(h->src, src, 6);
	memcpy(h->dst, dst, 6);
}

/* Called after node i was polled. */
typedef void (*hook_fn)(struct cluster *c, uint32_t i, void *arg);

/* Poll the cluster's live nodes in turn until every one is done (120 s at
 * most), calling hook after each poll. */
static int
run_hooked(struct cluster *c, hook_fn hook, void *arg)
{
	uint64_t end = rte_rdtsc() + 120 * rte_get_tsc_hz();

	for (;;) {
		struct gcdl_loop lp = { 0 };
		int all = 1;

		lp.top = rte_rdtsc();
		lp.wake = UINT64_MAX;
		for (uint32_t i = 0; i < c->nnodes; i++) {
			int rc;

			if (c->dead[i] || gcdl_node_done(c->node[i]))
				continue;
			rc = gcdl_node_poll(c->node[i], &lp);
			if (rc < 0)
				return rc;
			if (hook != NULL)
				hook(c, i, arg);
			if (!gcdl_node_done(c->node[i]))
				all = 0;
		}
		if (all)
			return 0;
		if (rte_rdtsc() > end)
			return -ETIMEDOUT;
	}
}

static uint32_t
rounds_done(const struct gcdl_node *n)
{
	struct gcdl_node_round r;

	gcdl_node_round(n, &r);
	return r.rounds_done;
}

/* ---- forged hello and resync ------------------------------------------- */

struct forge {
	uint32_t at;      /* strike when the aggregator has closed this many rounds */
	int done;
};

/* A hello for worker 1 from another MAC, then its resync for round 3000:
 * the aggregator used to take worker 1's place for the forger and close
 * every round at once ("catching up"), ending the job with exit 0. */
static void
forge_hook(struct cluster *c, uint32_t i, void *arg)
{
	struct forge *f = arg;
	struct gcdl_hello h = { .version = GCDL_JOIN_VERSION, .worker = 1,
				.profile_hash = gcdl_profile_hash(&c->p),
				.incarnation = 0x0badc0ffee, .round = GCDL_JOIN_NONE };
	uint8_t pl[GCDL_HELLO_LEN], agg[6];
	struct gcdl_frame_hdr fh;

	if (i != 0 || f->done || rounds_done(c->node[0]) < f->at)
		return;
	f->done = 1;
	mac_of(agg, 1, 0);
	ck_assert_int_eq(gcdl_hello_encode(&h, pl, sizeof(pl)), GCDL_HELLO_LEN);
	hdr_of(&fh, c, GCDL_MSG_HELLO, 1, 0, EVIL, agg);
	fh.payload_len = GCDL_HELLO_LEN;
	inject(c, 1, 0, &fh, pl, NULL);
	h.round = 3000;
	ck_assert_int_eq(gcdl_hello_encode(&h, pl, sizeof(pl)), GCDL_HELLO_LEN);
	fh.type = GCDL_MSG_RESYNC;
	inject(c, 1, 0, &fh, pl, NULL);
}

START_TEST(forged_hello_and_resync_change_nothing)
{
	const uint32_t R = 12;
	struct gcdl_profile p;
	struct cluster c;
	struct forge f = { .at = 3 };
	uint32_t dim;
	float *ref;

	dp_test_profile(&p, R);
	p.insecure = 1; /* the checks below the tag: no key */
	star(&c, &p, NULL, NULL);
	ck_assert_int_eq(run_hooked(&c, forge_hook, &f), 0);
	ck_assert(f.done);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_CLOSED_CATCHUP), 0);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_CAUGHT_UP), 0);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_CLOSED_COMPLETE), R);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_JOINS), 4);
	/* both ignored: worker 1 is present, and speaks from its own MAC */
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_DROP(GCDL_DROP_SENDER)), 2);
	ref = dp_test_sim_model(&p, &dim);
	for (uint32_t i = 0; i <= 4; i++)
		assert_model(c.node[i], ref, dim, i ? "worker" : "aggregator");
	free(ref);
	cluster_close(&c);
}
END_TEST

/* ---- a frame of a future round is no news of its sender ----------------- */

struct ghost {
	uint32_t kill_at;   /* worker 3 dies when this many rounds are closed */
	uint32_t sent;      /* future-round frames sent in its name */
	uint32_t last;      /* the round of the last one */
};

static void
ghost_hook(struct cluster *c, uint32_t i, void *arg)
{
	struct ghost *g = arg;
	uint32_t t = rounds_done(c->node[0]);
	uint8_t w3[6], agg[6], pl[64];
	struct gcdl_frame_hdr fh;

	if (i != 0 || t < g->kill_at || t + 5 > c->p.rounds || (g->sent && g->last == t))
		return;
	c->dead[4] = 1; /* worker 3 is gone */
	/* in its name, from its MAC: a valid 1-bit frame of round t + 5 */
	mac_of(w3, 3, 1);
	mac_of(agg, 3, 0);
	hdr_of(&fh, c, GCDL_MSG_ONEBIT, 3, t + 5, w3, agg);
	fh.coord_count = 84;
	fh.scale_block = 64;
	fh.payload_len = (uint16_t)gcdl_frame_payload_len(GCDL_MSG_ONEBIT, 84, 64);
	memset(pl, 0, sizeof(pl));
	inject(c, 3, 0, &fh, pl, NULL);
	g->sent++;
	g->last = t;
}

/* Worker 3 dies after round 4 while someone sends frames of round t + 5 in
 * its name every round: the aggregator used to count them as news of the
 * worker, so it never became absent and every later round waited for its
 * deadline. Now a frame outside the window is dropped before it counts. */
START_TEST(future_rounds_do_not_keep_a_dead_worker)
{
	const uint32_t R = 20;
	struct gcdl_profile p;
	struct cluster c;
	struct ghost g = { .kill_at = 4 };

	dp_test_profile(&p, R);
	p.insecure = 1;
	p.deadline_us = 30000;
	p.absent_rounds = 3;
	star(&c, &p, NULL, NULL);
	ck_assert_int_eq(run_hooked(&c, ghost_hook, &g), 0);
	ck_assert_uint_ge(g.sent, 10);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_DROP(GCDL_DROP_ROUND)), g.sent);
	/* rounds 4, 5, 6 wait for worker 3, then it is absent */
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_CLOSED_DEADLINE), 3);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_CLOSED_COMPLETE), R - 3);
	cluster_close(&c);
}
END_TEST

/* ---- scales far beyond the gradient's ---------------------------------- */

struct bigscale {
	uint32_t at;
	int done;
};

/* Right after the aggregator opened round `at`, before worker 2's frame:
 * worker 2's chunk with both scales 1e30 (accepted before: every replica's
 * loss went to 2e62). */
static void
bigscale_hook(struct cluster *c, uint32_t i, void *arg)
{
	struct bigscale *b = arg;
	uint8_t w2[6], agg[6], pl[64];
	const float big[2] = { 1e30f, 1e30f };
	struct gcdl_frame_hdr fh;

	if (i != 0 || b->done || rounds_done(c->node[0]) != b->at)
		return;
	b->done = 1;
	mac_of(w2, 2, 1);
	mac_of(agg, 2, 0);
	hdr_of(&fh, c, GCDL_MSG_ONEBIT, 2, b->at, w2, agg);
	fh.coord_count = 84;
	fh.scale_block = 64;
	fh.payload_len = (uint16_t)gcdl_frame_payload_len(GCDL_MSG_ONEBIT, 84, 64);
	memset(pl, 0xa5, sizeof(pl));
	gcdl_frame_put_floats(pl, big, 2);
	inject(c, 2, 0, &fh, pl, NULL);
}

START_TEST(scales_beyond_the_bound_change_nothing)
{
	const uint32_t R = 10;
	struct gcdl_profile p;
	struct cluster c;
	struct bigscale b = { .at = 3 };
	uint32_t dim;
	float *ref;

	dp_test_profile(&p, R);
	p.insecure = 1;
	star(&c, &p, NULL, NULL);
	ck_assert_int_eq(run_hooked(&c, bigscale_hook, &b), 0);
	ck_assert(b.done);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_REJECTED), 1);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_UPLINK_ACCEPTED), 4 * R);
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_DUPLICATES), 0);
	ref = dp_test_sim_model(&p, &dim);
	for (uint32_t i = 0; i <= 4; i++)
		assert_model(c.node[i], ref, dim, i ? "worker" : "aggregator");
	free(ref);
	cluster_close(&c);
}
END_TEST

/* ---- updates: only the aggregator's MAC, only finite values ------------- */

struct updates {
	uint32_t at;
	int done[4];
};

/* After worker k sent its gradient of round `at`, before the aggregator's
 * update: an update of that round from another MAC (taken before), and one
 * from the aggregator's MAC with a NaN (a worker exited 1 on it before), as
 * 1-bit update frames (downlink.mode onebit, the default): block scales then
 * sign bits. */
static void
update_hook(struct cluster *c, uint32_t i, void *arg)
{
	struct updates *u = arg;
	uint32_t k = i - 1;
	uint8_t wk[6], agg[6], pl[64];
	float s[2] = { 0.5f, 0.5f };
	struct gcdl_frame_hdr fh;

	if (i == 0 || u->done[k] || rounds_done(c->node[0]) != u->at ||
	    ctr(c->node[i], GCDL_CTR_CONTRIBUTED) != u->at + 1)
		return;
	u->done[k] = 1;
	mac_of(wk, k, 1);
	mac_of(agg, k, 0);
	memset(pl, 0x5a, sizeof(pl));
	gcdl_frame_put_floats(pl, s, 2);
	hdr_of(&fh, c, GCDL_MSG_UPDATE1, 4, u->at, EVIL, wk);
	fh.coord_count = 84;
	fh.scale_block = 64;
	fh.payload_len = (uint16_t)gcdl_frame_payload_len(GCDL_MSG_UPDATE1, 84, 64);
	inject(c, k, 1, &fh, pl, NULL);
	s[1] = __builtin_nanf("");
	gcdl_frame_put_floats(pl, s, 2);
	memcpy(fh.src, agg, 6);
	inject(c, k, 1, &fh, pl, NULL);
}

START_TEST(updates_only_from_the_aggregator_and_finite)
{
	const uint32_t R = 10;
	struct gcdl_profile p;
	struct cluster c;
	struct updates u = { .at = 3 };
	uint32_t dim;
	float *ref;

	dp_test_profile(&p, R);
	p.insecure = 1;
	star(&c, &p, NULL, NULL);
	ck_assert_int_eq(run_hooked(&c, update_hook, &u), 0);
	ref = dp_test_sim_model(&p, &dim);
	for (uint32_t k = 0; k < 4; k++) {
		ck_assert(u.done[k]);
		ck_assert_uint_eq(ctr(c.node[k + 1], GCDL_CTR_DROP(GCDL_DROP_SENDER)), 1);
		ck_assert_uint_eq(ctr(c.node[k + 1], GCDL_CTR_REJECTED), 1);
		ck_assert_uint_eq(ctr(c.node[k + 1], GCDL_CTR_APPLIED), R);
		assert_model(c.node[k + 1], ref, dim, "worker");
	}
	free(ref);
	cluster_close(&c);
}
END_TEST

/* ---- keyed: the join's proof, and replays of an earlier run ------------- */

struct capture {
	uint8_t *buf;      /* the frames, back to back */
	size_t len;
	uint32_t *off;     /* where each starts */
	uint32_t *flen;
	uint32_t count;
};

/* Read a classic pcap file written by gcdl_pcap_open() (host byte order). */
static void
capture_read(struct capture *cap, const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t gh[24];
	uint32_t rec[4];

	memset(cap, 0, sizeof(*cap));
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(gh, 1, sizeof(gh), f), sizeof(gh));
	cap->buf = malloc(1 << 22);
	cap->off = malloc(sizeof(uint32_t) * 65536);
	cap->flen = malloc(sizeof(uint32_t) * 65536);
	ck_assert(cap->buf != NULL && cap->off != NULL && cap->flen != NULL);
	while (fread(rec, 4, 4, f) == 4) {
		ck_assert_uint_le(rec[2], GCDL_MTU_MAX + 64);
		ck_assert_uint_lt(cap->count, 65536);
		ck_assert_uint_le(cap->len + rec[2], 1 << 22);
		ck_assert_uint_eq(fread(cap->buf + cap->len, 1, rec[2], f), rec[2]);
		cap->off[cap->count] = (uint32_t)cap->len;
		cap->flen[cap->count++] = rec[2];
		cap->len += rec[2];
	}
	fclose(f);
}

static void
capture_free(struct capture *cap)
{
	free(cap->buf);
	free(cap->off);
	free(cap->flen);
}

struct replay {
	const struct capture *cap;
	uint32_t next_round;   /* replay the frames of this round next */
	uint8_t old_seq;       /* the earlier cluster's MAC byte */
	uint64_t to_agg, to_agg_hellos, to_workers, to_workers_configs;
};

static uint32_t
frame_round(const uint8_t *f)
{
	const uint8_t *r = f + GCDL_ETH_HDR_LEN + 8;

	return (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3];
}

/* Whenever the aggregator reaches round t, every frame of round t of the
 * earlier run, each to where it went then, with the MACs of this run (the
 * tag does not cover them). Frames of round 0 (hellos, configs) go first. */
static void
replay_hook(struct cluster *c, uint32_t i, void *arg)
{
	struct replay *r = arg;
	uint32_t t = rounds_done(c->node[0]);

	if (i != 0 || r->next_round > t || t >= c->p.rounds)
		return;
	for (uint32_t k = 0; k < r->cap->count; k++) {
		uint8_t f[GCDL_MTU_MAX + 64];
		uint32_t len = r->cap->flen[k];
		int to_agg;

		memcpy(f, r->cap->buf + r->cap->off[k], len);
		if (len < GCDL_FRAME_OVERHEAD || frame_round(f) != r->next_round ||
		    f[6] != 0x02 || f[7] != 0x74 || f[11] != r->old_seq)
			continue;
		to_agg = f[10] == 1; /* sent by a worker (side 1) */
		f[11] = (uint8_t)cluster_seq;
		if (f[0] == 0x02 && f[1] == 0x74 && f[5] == r->old_seq)
			f[5] = (uint8_t)cluster_seq;
		inject_bytes(c, f[9], to_agg ? 0 : 1, f, len);
		if (to_agg) {
			r->to_agg++;
			r->to_agg_hellos += f[GCDL_ETH_HDR_LEN + 3] == GCDL_MSG_HELLO;
		} else {
			r->to_workers++;
			r->to_workers_configs += f[GCDL_ETH_HDR_LEN + 3] == GCDL_MSG_CONFIG;
		}
	}
	r->next_round++;
}

/* With a job key: the join takes the challenge (one per worker), the
 * models are gcdl-sim's; then every frame of that run, replayed in a second
 * run with the same key and seed when it reaches each frame's round, is
 * refused: 0 accepted (the hellos earn a challenge, the configs echo an
 * incarnation nobody has, everything else fails its tag: another session).
 * Before, authentic hellos of an earlier run were taken again, and replayed
 * resyncs closed thousands of rounds. */
START_TEST(keyed_replays_of_an_earlier_run_change_nothing)
{
	const uint32_t R = 8;
	struct gcdl_auth key;
	struct gcdl_profile p;
	struct gcdl_node_conf agg = { 0 };
	struct cluster a, b;
	struct capture cap;
	struct replay rp = { 0 };
	char path[64], err[256];
	uint64_t auth_agg, auth_workers = 0, nosess_workers = 0, late_workers = 0;
	uint32_t dim;
	float *ref;

	randombytes_buf(key.key, sizeof(key.key));
	cluster_auth = &key;
	dp_test_profile(&p, R);
	ref = dp_test_sim_model(&p, &dim);
	snprintf(path, sizeof(path), "/tmp/gcdl_test_hostile_%d.pcap", (int)getpid());
	agg.pcap = gcdl_pcap_open(path, err, sizeof(err));
	ck_assert_msg(agg.pcap != NULL, "%s", err);
	star(&a, &p, &agg, NULL);
	ck_assert_int_eq(run_hooked(&a, NULL, NULL), 0);
	ck_assert_int_eq(gcdl_pcap_close(agg.pcap), 0);
	ck_assert_uint_eq(ctr(a.node[0], GCDL_CTR_JOINS), 4);
	ck_assert_uint_ge(ctr(a.node[0], GCDL_CTR_CHALLENGES), 4);
	ck_assert_uint_eq(ctr(a.node[0], GCDL_CTR_DROPS), 0);
	for (uint32_t i = 0; i <= 4; i++)
		assert_model(a.node[i], ref, dim, i ? "keyed worker" : "keyed aggregator");
	rp.old_seq = (uint8_t)cluster_seq;
	cluster_close(&a);

	capture_read(&cap, path);
	unlink(path);
	ck_assert_uint_ge(cap.count, 8 * R);
	rp.cap = &cap;
	star(&b, &p, NULL, NULL);
	cluster_auth = NULL;
	ck_assert_int_eq(run_hooked(&b, replay_hook, &rp), 0);
	/* the whole earlier run went in, rounds 0 .. R-1 */
	ck_assert_uint_eq(rp.next_round, R);
	ck_assert_uint_ge(rp.to_agg, 4 * R);
	ck_assert_uint_ge(rp.to_agg_hellos, 4);
	ck_assert_uint_ge(rp.to_workers, 4 * R);
	/* nothing accepted: the joins are the workers' own, every gradient
	 * accepted is theirs, the other frames failed their tag */
	ck_assert_uint_eq(ctr(b.node[0], GCDL_CTR_JOINS), 4);
	ck_assert_uint_eq(ctr(b.node[0], GCDL_CTR_UPLINK_ACCEPTED), 4 * R);
	ck_assert_uint_eq(ctr(b.node[0], GCDL_CTR_RESYNCS), 0);
	auth_agg = ctr(b.node[0], GCDL_CTR_DROP(GCDL_DROP_AUTH));
	ck_assert_uint_eq(auth_agg, rp.to_agg - rp.to_agg_hellos);
	ck_assert_uint_ge(ctr(b.node[0], GCDL_CTR_CHALLENGES), 4 + rp.to_agg_hellos);
	for (uint32_t k = 1; k <= 4; k++) {
		/* before its challenge answer a worker cannot check a frame at all */
		auth_workers += ctr(b.node[k], GCDL_CTR_DROP(GCDL_DROP_AUTH));
		nosess_workers += ctr(b.node[k], GCDL_CTR_NO_SESSION);
		late_workers += ctr(b.node[k], GCDL_CTR_LATE);
		ck_assert_uint_eq(ctr(b.node[k], GCDL_CTR_JOINS), 1);
		ck_assert_uint_eq(ctr(b.node[k], GCDL_CTR_APPLIED), R);
		assert_model(b.node[k], ref, dim, "worker under replay");
	}
	ck_assert_uint_eq(auth_workers + nosess_workers, rp.to_workers - rp.to_workers_configs);
	ck_assert_uint_ge(late_workers, rp.to_workers_configs);
	assert_model(b.node[0], ref, dim, "aggregator under replay");
	capture_free(&cap);
	free(ref);
	cluster_close(&b);
}
END_TEST

/* A keyed mesh: peers learn the session by the challenge, then resync under
 * its key; the replicas are gcdl-sim's. */
START_TEST(keyed_mesh_equals_sim)
{
	const uint32_t R = 10;
	struct gcdl_auth key;
	struct gcdl_profile p;
	struct cluster c;
	uint32_t dim;
	float *ref;

	randombytes_buf(key.key, sizeof(key.key));
	cluster_auth = &key;
	dp_test_profile(&p, R);
	p.workers = 3;
	p.partitions = 3;
	p.topology = GCDL_TOPO_MESH;
	cluster_open(&c, &p, 3);
	node_on(&c, GCDL_NODE_PEER, 0, (uint32_t[]){ 0, 1 }, (int[]){ 0, 0 }, 2, NULL);
	node_on(&c, GCDL_NODE_PEER, 1, (uint32_t[]){ 0, 2 }, (int[]){ 1, 0 }, 2, NULL);
	node_on(&c, GCDL_NODE_PEER, 2, (uint32_t[]){ 1, 2 }, (int[]){ 1, 1 }, 2, NULL);
	cluster_auth = NULL;
	ck_assert_int_eq(run_hooked(&c, NULL, NULL), 0);
	ref = dp_test_sim_model(&p, &dim);
	for (uint32_t i = 0; i < 3; i++) {
		assert_model(c.node[i], ref, dim, "keyed peer");
		ck_assert_uint_eq(ctr(c.node[i], GCDL_CTR_APPLIED), R);
		/* a peer may get a frame or two under the session before its
		 * challenge answer: not checkable, counted as no_session */
		ck_assert_uint_eq(ctr(c.node[i], GCDL_CTR_DROP(GCDL_DROP_AUTH)), 0);
	}
	ck_assert_uint_eq(ctr(c.node[0], GCDL_CTR_NO_SESSION), 0);
	ck_assert_uint_ge(ctr(c.node[0], GCDL_CTR_CHALLENGES), 2);
	free(ref);
	cluster_close(&c);
}
END_TEST

/* A keyed star in every downlink mode: the relayed gradient frames (sent
 * down by the aggregator under its session) verify at the workers, no
 * worker has to resync, and every replica is gcdl-sim's model. Before, a
 * worker looked for the key of a relayed frame under its contributor's id,
 * found none, and dropped every one (no_session): each round ended in a
 * resync from the full model. */
START_TEST(keyed_star_every_downlink_mode_equals_sim)
{
	static const enum gcdl_downlink modes[] = { GCDL_DOWNLINK_RELAY, GCDL_DOWNLINK_ONEBIT,
						    GCDL_DOWNLINK_FLOAT32 };
	const uint32_t R = 10;
	struct gcdl_auth key;

	randombytes_buf(key.key, sizeof(key.key));
	for (int i = 0; i < 3; i++) {
		struct gcdl_profile p;
		struct cluster c;
		uint32_t dim;
		float *ref;

		dp_test_profile(&p, R);
		p.downlink = modes[i];
		cluster_auth = &key;
		star(&c, &p, NULL, NULL);
		cluster_auth = NULL;
		ck_assert_int_eq(run(&c), 0);
		ref = dp_test_sim_model(&p, &dim);
		for (uint32_t k = 0; k <= 4; k++)
			assert_model(c.node[k], ref, dim, k ? "keyed worker" : "keyed aggregator");
		for (uint32_t k = 1; k <= 4; k++) {
			ck_assert_msg(ctr(c.node[k], GCDL_CTR_JOINS) == 1,
				      "mode %d worker %u: %lu joins", i, k - 1,
				      (unsigned long)ctr(c.node[k], GCDL_CTR_JOINS));
			ck_assert_uint_eq(ctr(c.node[k], GCDL_CTR_APPLIED), R);
			ck_assert_uint_eq(ctr(c.node[k], GCDL_CTR_DROP(GCDL_DROP_AUTH)), 0);
			ck_assert_uint_eq(ctr(c.node[k], GCDL_CTR_DOWNLINK_REPAIRS), 0);
		}
		free(ref);
		cluster_close(&c);
	}
}
END_TEST

static Suite *
hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *t = tcase_create("hostile");

	tcase_set_timeout(t, 200);
	tcase_add_test(t, forged_hello_and_resync_change_nothing);
	tcase_add_test(t, future_rounds_do_not_keep_a_dead_worker);
	tcase_add_test(t, scales_beyond_the_bound_change_nothing);
	tcase_add_test(t, updates_only_from_the_aggregator_and_finite);
	tcase_add_test(t, keyed_replays_of_an_earlier_run_change_nothing);
	tcase_add_test(t, keyed_mesh_equals_sim);
	tcase_add_test(t, keyed_star_every_downlink_mode_equals_sim);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (sodium_init() < 0 || dp_test_eal("test_hostile") != 0)
		return 77; /* skipped: no EAL here */
	sr = srunner_create(hostile_suite());
	/* the EAL lives in this process */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rte_eal_cleanup();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
