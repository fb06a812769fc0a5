/* SPDX-License-Identifier: BSD-3-Clause */
/* The mesh agreement: commit and repair payloads (every rejection path), the
 * node's state machine, and a seeded 4-node cluster over lossy delivery whose
 * replicas must end bit-identical and equal to one engine fed the commits. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/engine.h"
#include "gcdl/job.h"
#include "gcdl/mesh.h"

#define C 5
#define N 4
#define SETB 3 /* ceil(5*4/8) */

static uint8_t buf[GCDL_MESH_SET_MAX + 64];

START_TEST(names)
{
	static const char *const want[GCDL_MESH_DROP__COUNT] = {
		"none",	 "length", "shape",	"reserved",  "padding",
		"count", "server", "empty", "committer", "round",
	};

	for (int i = 0; i < GCDL_MESH_DROP__COUNT; i++)
		ck_assert_str_eq(gcdl_mesh_drop_name(i), want[i]);
	ck_assert_str_eq(gcdl_mesh_drop_name(-1), "unknown");
	ck_assert_str_eq(gcdl_mesh_drop_name(GCDL_MESH_DROP__COUNT), "unknown");
}
END_TEST

START_TEST(set_bytes)
{
	ck_assert_uint_eq(gcdl_mesh_set_bytes(C, N), SETB);
	ck_assert_uint_eq(gcdl_mesh_set_bytes(2, 4), 1);
	ck_assert_uint_eq(gcdl_mesh_set_bytes(0, 4), 0);
	ck_assert_uint_eq(gcdl_mesh_set_bytes(4, 0), 0);
	ck_assert_uint_eq(gcdl_mesh_set_bytes(16, 4096), GCDL_MESH_SET_MAX);
	ck_assert_uint_eq(gcdl_mesh_set_bytes(17, 4096), 0);
	ck_assert_uint_eq(gcdl_mesh_set_bytes(UINT32_MAX, UINT32_MAX), 0);
}
END_TEST

START_TEST(checksum)
{
	float a[3] = { 1.0f, -2.5f, 0.0f }, b[3] = { 1.0f, -2.5f, -0.0f };
	uint64_t h = gcdl_mesh_checksum(a, 3);

	ck_assert(h == gcdl_mesh_checksum(a, 3));
	ck_assert(h != gcdl_mesh_checksum(b, 3)); /* bit patterns, not values */
	ck_assert(h != gcdl_mesh_checksum(a, 2));
	ck_assert(gcdl_mesh_checksum(NULL, 3) == gcdl_mesh_checksum(a, 0));
	/* FNV-1a 64 of the bytes 3f 80 00 00 */
	ck_assert(gcdl_mesh_checksum(a, 1) == 0xc21d92265d7e4f3aull);
}
END_TEST

static ssize_t
commit_bytes(uint64_t ck, const uint32_t *bits, int nbits)
{
	struct gcdl_mesh_commit c;

	memset(&c, 0, sizeof(c));
	c.checksum = ck;
	for (int i = 0; i < nbits; i++)
		c.set[bits[i] / 8] |= (uint8_t)(1u << (bits[i] % 8));
	return gcdl_mesh_commit_encode(&c, C, N, buf, sizeof(buf));
}

START_TEST(commit_roundtrip)
{
	static const uint32_t bits[] = { 0, 5, 19 };
	struct gcdl_mesh_commit c, d;
	ssize_t len = commit_bytes(0x0123456789abcdefull, bits, 3);

	ck_assert_int_eq(len, GCDL_MESH_COMMIT_HDR + SETB);
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, (size_t)len, C, N, &d), 0);
	ck_assert(d.checksum == 0x0123456789abcdefull);
	ck_assert_uint_eq(d.count, 3);
	ck_assert(gcdl_mesh_set_has(d.set, N, 0, 0));
	ck_assert(gcdl_mesh_set_has(d.set, N, 1, 1));
	ck_assert(gcdl_mesh_set_has(d.set, N, 4, 3));
	ck_assert(!gcdl_mesh_set_has(d.set, N, 4, 2));
	ck_assert(!gcdl_mesh_set_has(d.set, N, 0, N)); /* worker out of range */
	ck_assert(!gcdl_mesh_set_has(NULL, N, 0, 0));
	/* big-endian on the wire */
	ck_assert_uint_eq(buf[3], C);
	ck_assert_uint_eq(buf[5], N);
	ck_assert_uint_eq(buf[8], 0x01);
	ck_assert_uint_eq(buf[15], 0xef);
	ck_assert_uint_eq(buf[19], 3);
	/* the count is recomputed and bits past C*N are not sent */
	memset(&c, 0, sizeof(c));
	c.count = 99;
	c.set[2] = 0xff;
	ck_assert_int_eq(gcdl_mesh_commit_encode(&c, C, N, buf, sizeof(buf)), len);
	ck_assert_uint_eq(buf[GCDL_MESH_COMMIT_HDR + 2], 0x0f);
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, (size_t)len, C, N, &d), 0);
	ck_assert_uint_eq(d.count, 4);
}
END_TEST

START_TEST(commit_encode_errors)
{
	struct gcdl_mesh_commit c;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(gcdl_mesh_commit_encode(NULL, C, N, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(gcdl_mesh_commit_encode(&c, C, N, NULL, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(gcdl_mesh_commit_encode(&c, 0, N, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(gcdl_mesh_commit_encode(&c, 17, 4096, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(gcdl_mesh_commit_encode(&c, C, N, buf, GCDL_MESH_COMMIT_HDR + SETB - 1),
			 -ENOSPC);
	ck_assert_int_eq(gcdl_mesh_commit_decode(NULL, 30, C, N, &c), -EINVAL);
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, 30, C, N, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, 30, 0, N, &c), -EINVAL);
}
END_TEST

/* Every way a commit payload can lie, each with its reason. */
START_TEST(commit_rejects)
{
	static const uint32_t bits[] = { 1, 2 };
	struct gcdl_mesh_commit d;
	size_t len = (size_t)commit_bytes(7, bits, 2);
	uint8_t good[64];

	memcpy(good, buf, len);
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, 0, C, N, &d), GCDL_MESH_DROP_LENGTH);
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, GCDL_MESH_COMMIT_HDR - 1, C, N, &d),
			 GCDL_MESH_DROP_LENGTH);
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, len - 1, C, N, &d), GCDL_MESH_DROP_LENGTH);
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, len + 1, C, N, &d), GCDL_MESH_DROP_LENGTH);
	/* the payload is the shape of another job: its length is checked first */
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, len, C + 4, N, &d), GCDL_MESH_DROP_LENGTH);
	/* same length, other shape */
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, len, 6, N, &d), GCDL_MESH_DROP_SHAPE);
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, len, C, 3, &d), GCDL_MESH_DROP_LENGTH);
	buf[3] = 6;
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, len, C, N, &d), GCDL_MESH_DROP_SHAPE);
	memcpy(buf, good, len);
	buf[5] = 5;
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, len, C, N, &d), GCDL_MESH_DROP_SHAPE);
	memcpy(buf, good, len);
	buf[7] = 1;
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, len, C, N, &d), GCDL_MESH_DROP_RESERVED);
	memcpy(buf, good, len);
	buf[GCDL_MESH_COMMIT_HDR + 2] |= 0x10; /* bit 20: past C*N */
	buf[19] = 3;
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, len, C, N, &d), GCDL_MESH_DROP_PADDING);
	memcpy(buf, good, len);
	buf[19] = 3;
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, len, C, N, &d), GCDL_MESH_DROP_COUNT);
	buf[19] = 2;
	ck_assert_int_eq(gcdl_mesh_commit_decode(buf, len, C, N, &d), 0);
}
END_TEST

static ssize_t
repair_bytes(uint16_t flags, uint16_t server, const uint32_t *bits, int nbits)
{
	struct gcdl_mesh_repair r;

	memset(&r, 0, sizeof(r));
	r.flags = flags;
	r.server = server;
	for (int i = 0; i < nbits; i++)
		r.set[bits[i] / 8] |= (uint8_t)(1u << (bits[i] % 8));
	return gcdl_mesh_repair_encode(&r, C, N, buf, sizeof(buf));
}

START_TEST(repair_roundtrip)
{
	static const uint32_t bits[] = { 3, 17 };
	struct gcdl_mesh_repair r;
	ssize_t len = repair_bytes(0, 2, bits, 2);

	ck_assert_int_eq(len, GCDL_MESH_REPAIR_HDR + SETB);
	ck_assert_int_eq(gcdl_mesh_repair_decode(buf, (size_t)len, C, N, &r), 0);
	ck_assert_uint_eq(r.server, 2);
	ck_assert_uint_eq(r.flags, 0);
	ck_assert_uint_eq(r.count, 2);
	ck_assert(gcdl_mesh_set_has(r.set, N, 0, 3));
	ck_assert(gcdl_mesh_set_has(r.set, N, 4, 1));
	len = repair_bytes(GCDL_MESH_WANT_COMMIT, GCDL_MESH_ANY, NULL, 0);
	ck_assert_int_eq(gcdl_mesh_repair_decode(buf, (size_t)len, C, N, &r), 0);
	ck_assert_uint_eq(r.server, GCDL_MESH_ANY);
	ck_assert_uint_eq(r.flags, GCDL_MESH_WANT_COMMIT);
	ck_assert_uint_eq(r.count, 0);
	ck_assert_int_eq(gcdl_mesh_repair_encode(NULL, C, N, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(gcdl_mesh_repair_encode(&r, C, N, buf, GCDL_MESH_REPAIR_HDR), -ENOSPC);
	ck_assert_int_eq(gcdl_mesh_repair_encode(&r, C, 70000, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(gcdl_mesh_repair_decode(NULL, 19, C, N, &r), -EINVAL);
	ck_assert_int_eq(gcdl_mesh_repair_decode(buf, 19, C, N, NULL), -EINVAL);
}
END_TEST

START_TEST(repair_rejects)
{
	static const uint32_t bits[] = { 3 };
	struct gcdl_mesh_repair r;
	size_t len = (size_t)repair_bytes(0, 1, bits, 1);
	uint8_t good[64];

	memcpy(good, buf, len);
	ck_assert_int_eq(gcdl_mesh_repair_decode(buf, 3, C, N, &r), GCDL_MESH_DROP_LENGTH);
	ck_assert_int_eq(gcdl_mesh_repair_decode(buf, len - 1, C, N, &r), GCDL_MESH_DROP_LENGTH);
	ck_assert_int_eq(gcdl_mesh_repair_decode(buf, len, 6, N, &r), GCDL_MESH_DROP_SHAPE);
	buf[7] = 2; /* unknown flag */
	ck_assert_int_eq(gcdl_mesh_repair_decode(buf, len, C, N, &r), GCDL_MESH_DROP_RESERVED);
	memcpy(buf, good, len);
	buf[11] = 1; /* reserved field */
	ck_assert_int_eq(gcdl_mesh_repair_decode(buf, len, C, N, &r), GCDL_MESH_DROP_RESERVED);
	memcpy(buf, good, len);
	buf[9] = N + 1; /* server N + 1: not a node, not the aggregator (N), not ANY */
	ck_assert_int_eq(gcdl_mesh_repair_decode(buf, len, C, N, &r), GCDL_MESH_DROP_SERVER);
	buf[9] = N; /* the aggregator of a star's relay */
	ck_assert_int_eq(gcdl_mesh_repair_decode(buf, len, C, N, &r), 0);
	ck_assert_uint_eq(r.server, N);
	memcpy(buf, good, len);
	buf[15] = 0;
	ck_assert_int_eq(gcdl_mesh_repair_decode(buf, len, C, N, &r), GCDL_MESH_DROP_COUNT);
	buf[GCDL_MESH_REPAIR_HDR + 2] = 0x80; /* bit 23 */
	buf[15] = 2;
	ck_assert_int_eq(gcdl_mesh_repair_decode(buf, len, C, N, &r), GCDL_MESH_DROP_PADDING);
	len = (size_t)repair_bytes(0, 1, NULL, 0);
	ck_assert_int_eq(gcdl_mesh_repair_decode(buf, len, C, N, &r), GCDL_MESH_DROP_EMPTY);
}
END_TEST

static struct gcdl_mesh *
node(uint32_t self, uint32_t tries)
{
	struct gcdl_mesh_params p = {
		.nodes = N, .chunks = C, .self = self, .committer = 0,
		.repair_tries = tries, .max_payload = 16,
	};

	return gcdl_mesh_create(&p);
}

START_TEST(create_rejects)
{
	struct gcdl_mesh_params ok = {
		.nodes = N, .chunks = C, .self = 1, .committer = 0,
		.repair_tries = 2, .max_payload = 16,
	};
	struct gcdl_mesh_params p;
	struct gcdl_mesh *m;

	ck_assert_ptr_null(gcdl_mesh_create(NULL));
	ck_assert_int_eq(errno, EINVAL);
#define BAD(field, value)                                   \
	do {                                                \
		p = ok;                                     \
		p.field = value;                            \
		errno = 0;                                  \
		ck_assert_ptr_null(gcdl_mesh_create(&p));   \
		ck_assert_int_eq(errno, EINVAL);            \
	} while (0)
	BAD(nodes, 0);
	BAD(nodes, 4097);
	/* N is the aggregator of a star's relay (outside the set); beyond it, nothing */
	BAD(self, N + 1);
	BAD(committer, N + 1);
	BAD(repair_tries, 0);
	BAD(max_payload, 0);
	BAD(max_payload, GCDL_MTU_MAX + 1);
	BAD(chunks, 0);
#undef BAD
	p = ok;
	p.nodes = 4096;
	p.chunks = 17; /* a set of more than GCDL_MESH_SET_MAX bytes */
	errno = 0;
	ck_assert_ptr_null(gcdl_mesh_create(&p));
	ck_assert_int_eq(errno, EINVAL);
	m = gcdl_mesh_create(&ok);
	ck_assert_ptr_nonnull(m);
	ck_assert(gcdl_mesh_synced(m));
	gcdl_mesh_free(m);
	gcdl_mesh_free(NULL);
	ck_assert(!gcdl_mesh_synced(NULL));
	ck_assert_int_eq(gcdl_mesh_state(NULL), GCDL_MESH_OUT);
	ck_assert_ptr_null(gcdl_mesh_stats(NULL));
	ck_assert_uint_eq(gcdl_mesh_held(NULL), 0);
	ck_assert_uint_eq(gcdl_mesh_round(NULL), 0);
}
END_TEST

static struct gcdl_frame_hdr
grad_hdr(uint32_t round, uint16_t sender, uint32_t chunk)
{
	struct gcdl_frame_hdr h;

	memset(&h, 0, sizeof(h));
	h.type = GCDL_MSG_ONEBIT;
	h.round = round;
	h.sender = sender;
	h.chunk = chunk;
	h.payload_len = 8;
	return h;
}

START_TEST(store_rules)
{
	struct gcdl_mesh *m = node(1, 2);
	uint8_t pl[16] = { 1, 2, 3 };
	struct gcdl_frame_hdr h = grad_hdr(5, 2, 1);

	ck_assert_int_eq(gcdl_mesh_store(m, &h, pl), -ESTALE); /* no round yet */
	ck_assert_int_eq(gcdl_mesh_begin_round(m, 5, 1), 0);
	ck_assert_int_eq(gcdl_mesh_begin_round(m, 5, 1), -ERANGE);
	ck_assert_int_eq(gcdl_mesh_begin_round(m, 4, 1), -ERANGE);
	ck_assert_int_eq(gcdl_mesh_begin_round(NULL, 6, 1), -EINVAL);
	ck_assert_int_eq(gcdl_mesh_store(m, &h, pl), 0);
	ck_assert_int_eq(gcdl_mesh_store(m, &h, pl), -EALREADY);
	ck_assert_uint_eq(gcdl_mesh_held(m), 1);
	h = grad_hdr(12, 2, 1); /* t+7: too far ahead */
	ck_assert_int_eq(gcdl_mesh_store(m, &h, pl), -ESTALE);
	h = grad_hdr(3, 2, 1);
	ck_assert_int_eq(gcdl_mesh_store(m, &h, pl), -ESTALE);
	h = grad_hdr(4, 2, 1); /* t-1, never held: nothing to serve */
	ck_assert_int_eq(gcdl_mesh_store(m, &h, pl), -ESTALE);
	h = grad_hdr(6, 3, 0); /* a peer already in t+1 */
	ck_assert_int_eq(gcdl_mesh_store(m, &h, pl), 0);
	ck_assert_uint_eq(gcdl_mesh_held(m), 1);
	h = grad_hdr(5, N, 0);
	ck_assert_int_eq(gcdl_mesh_store(m, &h, pl), -EINVAL);
	h = grad_hdr(5, 0, C);
	ck_assert_int_eq(gcdl_mesh_store(m, &h, pl), -EINVAL);
	h = grad_hdr(5, 0, 0);
	h.payload_len = 17;
	ck_assert_int_eq(gcdl_mesh_store(m, &h, pl), -EINVAL);
	ck_assert_int_eq(gcdl_mesh_store(NULL, &h, pl), -EINVAL);
	ck_assert_int_eq(gcdl_mesh_store(m, NULL, pl), -EINVAL);
	ck_assert_int_eq(gcdl_mesh_store(m, &h, NULL), -EINVAL);
	ck_assert_uint_eq(gcdl_mesh_stats(m)->stale, 4);
	ck_assert_uint_eq(gcdl_mesh_stats(m)->duplicates, 1);
	/* the early frame of round 6 is still there when 6 begins */
	ck_assert_int_eq(gcdl_mesh_begin_round(m, 6, 1), 0);
	ck_assert_uint_eq(gcdl_mesh_held(m), 1);
	/* and round 5's frames are kept to answer repairs: a resend is a duplicate */
	h = grad_hdr(5, 2, 1);
	ck_assert_int_eq(gcdl_mesh_store(m, &h, pl), -EALREADY);
	gcdl_mesh_free(m);
}
END_TEST

struct sink {
	int frames, commits;
	uint32_t last_chunk, last_sender;
	uint8_t first_byte;
	int fail;
};

static int
sink_frame(void *arg, const struct gcdl_frame_hdr *h, const uint8_t *payload)
{
	struct sink *s = arg;

	if (s->fail)
		return -EIO;
	s->frames++;
	s->last_chunk = h->chunk;
	s->last_sender = h->sender;
	s->first_byte = payload[0];
	return 0;
}

static int
sink_commit(void *arg, const struct gcdl_mesh_commit *c)
{
	struct sink *s = arg;

	(void)c;
	s->commits++;
	return 0;
}

/* A commit, its checks, the repairs it leads to, and leaving the replica set. */
START_TEST(commit_and_repair)
{
	struct gcdl_mesh *c0 = node(0, 9), *m = node(1, 3);
	struct gcdl_mesh_commit c, early;
	struct gcdl_mesh_repair r;
	struct sink s = { 0 };
	struct gcdl_mesh_emit emit = { sink_frame, sink_commit, &s };
	uint8_t pl[16] = { 42 };
	struct gcdl_frame_hdr h;

	ck_assert_int_eq(gcdl_mesh_begin_round(c0, 1, 77), 0);
	ck_assert_int_eq(gcdl_mesh_begin_round(m, 1, 77), 0);
	/* the committer holds (0,0), (0,1), (3,2); m holds (0,0) and (2,3) */
	h = grad_hdr(1, 0, 0);
	gcdl_mesh_store(c0, &h, pl);
	gcdl_mesh_store(m, &h, pl);
	h = grad_hdr(1, 1, 0);
	gcdl_mesh_store(c0, &h, pl);
	h = grad_hdr(1, 2, 3);
	gcdl_mesh_store(c0, &h, pl);
	h = grad_hdr(1, 3, 2);
	gcdl_mesh_store(m, &h, pl);

	/* only the committer commits */
	ck_assert_int_eq(gcdl_mesh_commit_build(m, &c), -EPERM);
	ck_assert_int_eq(gcdl_mesh_commit_build(NULL, &c), -EINVAL);
	/* before a commit: ask the committer for it */
	ck_assert_int_eq(gcdl_mesh_repair_build(m, &r), 0);
	ck_assert_uint_eq(r.flags, GCDL_MESH_WANT_COMMIT);
	ck_assert_uint_eq(r.server, 0);
	ck_assert_uint_eq(r.count, 0);
	ck_assert_uint_eq(r.from, 1);
	ck_assert_uint_eq(r.round, 1);
	/* the committer has no commit yet: nothing to send */
	ck_assert_int_eq(gcdl_mesh_on_repair(c0, &r, &emit), 0);
	ck_assert_int_eq(gcdl_mesh_repair_build(c0, &r), -EALREADY);

	ck_assert_int_eq(gcdl_mesh_commit_build(c0, &c), 0);
	ck_assert_int_eq(gcdl_mesh_commit_build(c0, &c), -EALREADY);
	ck_assert_uint_eq(c.count, 3);
	ck_assert_uint_eq(c.round, 1);
	ck_assert(c.checksum == 77);
	ck_assert_int_eq(gcdl_mesh_state(c0), GCDL_MESH_READY);

	/* a commit from another node, of another round */
	ck_assert_int_eq(gcdl_mesh_on_commit(m, 2, &c), GCDL_MESH_DROP_COMMITTER);
	ck_assert_int_eq(gcdl_mesh_on_commit(c0, 0, &c), GCDL_MESH_DROP_COMMITTER);
	early = c;
	early.round = 0;
	ck_assert_int_eq(gcdl_mesh_on_commit(m, 0, &early), GCDL_MESH_DROP_ROUND);
	early.round = 8; /* t+7 */
	ck_assert_int_eq(gcdl_mesh_on_commit(m, 0, &early), GCDL_MESH_DROP_ROUND);
	ck_assert_uint_eq(gcdl_mesh_stats(m)->drops[GCDL_MESH_DROP_COMMITTER], 1);
	ck_assert_uint_eq(gcdl_mesh_stats(m)->drops[GCDL_MESH_DROP_ROUND], 2);
	ck_assert_int_eq(gcdl_mesh_on_commit(NULL, 0, &c), -EINVAL);

	ck_assert_int_eq(gcdl_mesh_on_commit(m, 0, &c), 0);
	ck_assert_int_eq(gcdl_mesh_on_commit(m, 0, &c), -EALREADY);
	ck_assert_int_eq(gcdl_mesh_state(m), GCDL_MESH_REPAIR);
	ck_assert_uint_eq(gcdl_mesh_stats(m)->left_out, 1); /* (2,3) */
	ck_assert_int_eq(gcdl_mesh_apply(m, NULL, NULL, NULL), -EINVAL);

	/* first try asks the committer for (0,1) and (3,2) */
	ck_assert_int_eq(gcdl_mesh_repair_build(m, &r), 0);
	ck_assert_uint_eq(r.flags, 0);
	ck_assert_uint_eq(r.server, 0);
	ck_assert_uint_eq(r.count, 2);
	ck_assert(gcdl_mesh_set_has(r.set, N, 0, 1));
	ck_assert(gcdl_mesh_set_has(r.set, N, 3, 2));
	ck_assert(!gcdl_mesh_set_has(r.set, N, 0, 0));
	/* a node asked by id that is not it answers nothing, and does not
	 * count a round it does not hold */
	r.server = 3;
	ck_assert_int_eq(gcdl_mesh_on_repair(c0, &r, &emit), 0);
	r.round = 2;
	ck_assert_int_eq(gcdl_mesh_on_repair(c0, &r, &emit), 0);
	ck_assert_uint_eq(gcdl_mesh_stats(c0)->drops[GCDL_MESH_DROP_ROUND], 0);
	r.round = 1;
	r.server = 0;
	r.flags = GCDL_MESH_WANT_COMMIT;
	ck_assert_int_eq(gcdl_mesh_on_repair(c0, &r, &emit), 3);
	ck_assert_int_eq(s.frames, 2);
	ck_assert_int_eq(s.commits, 1);
	ck_assert_uint_eq(s.last_chunk, 3);
	ck_assert_uint_eq(s.last_sender, 2);
	ck_assert_uint_eq(s.first_byte, 42);
	s.fail = 1;
	ck_assert_int_eq(gcdl_mesh_on_repair(c0, &r, &emit), -EIO);
	s.fail = 0;
	ck_assert_int_eq(gcdl_mesh_on_repair(c0, NULL, &emit), -EINVAL);
	r.round = 2; /* a round the committer holds nothing of */
	ck_assert_int_eq(gcdl_mesh_on_repair(c0, &r, &emit), GCDL_MESH_DROP_ROUND);
	ck_assert_uint_eq(gcdl_mesh_stats(c0)->drops[GCDL_MESH_DROP_ROUND], 1);

	/* one of the two arrives: still repairing; the second try asks everyone */
	h = grad_hdr(1, 1, 0);
	ck_assert_int_eq(gcdl_mesh_store(m, &h, pl), 0);
	ck_assert_int_eq(gcdl_mesh_state(m), GCDL_MESH_REPAIR);
	ck_assert_int_eq(gcdl_mesh_repair_build(m, &r), 0);
	ck_assert_uint_eq(r.server, GCDL_MESH_ANY);
	ck_assert_uint_eq(r.count, 1);
	ck_assert_int_eq(gcdl_mesh_apply(m, (struct gcdl_engine *)1, NULL, NULL), -EAGAIN);
	/* tries spent: out of the replica set */
	ck_assert_int_eq(gcdl_mesh_repair_build(m, &r), -ETIMEDOUT);
	ck_assert(!gcdl_mesh_synced(m));
	ck_assert_int_eq(gcdl_mesh_state(m), GCDL_MESH_OUT);
	ck_assert_int_eq(gcdl_mesh_repair_build(m, &r), -ETIMEDOUT);
	ck_assert_uint_eq(gcdl_mesh_stats(m)->gave_up, 1);
	ck_assert_uint_eq(gcdl_mesh_stats(m)->repairs_sent, 3);
	ck_assert_uint_eq(gcdl_mesh_stats(m)->repaired, 1);
	/* an out node stays out in the next rounds until it is resynced */
	ck_assert_int_eq(gcdl_mesh_begin_round(m, 2, 77), 0);
	ck_assert_int_eq(gcdl_mesh_state(m), GCDL_MESH_OUT);
	ck_assert_int_eq(gcdl_mesh_resync(m, 3), 0);
	ck_assert_int_eq(gcdl_mesh_begin_round(m, 3, 78), 0);
	ck_assert_int_eq(gcdl_mesh_state(m), GCDL_MESH_COLLECT);
	ck_assert(gcdl_mesh_synced(m));
	ck_assert_uint_eq(gcdl_mesh_stats(m)->resyncs, 1);
	ck_assert_int_eq(gcdl_mesh_resync(NULL, 3), -EINVAL);

	/* a commit of the next round, before it begins, is taken when it does */
	early = c;
	early.round = 4;
	early.checksum = 79;
	ck_assert_int_eq(gcdl_mesh_on_commit(m, 0, &early), 0);
	ck_assert_int_eq(gcdl_mesh_on_commit(m, 0, &early), -EALREADY);
	ck_assert_int_eq(gcdl_mesh_state(m), GCDL_MESH_COLLECT);
	ck_assert_int_eq(gcdl_mesh_begin_round(m, 4, 79), 0);
	ck_assert_int_eq(gcdl_mesh_state(m), GCDL_MESH_REPAIR);

	/* a replica whose model differs from the committer's leaves at once */
	ck_assert_int_eq(gcdl_mesh_begin_round(m, 5, 80), 0);
	early.round = 5;
	early.checksum = 81;
	ck_assert_int_eq(gcdl_mesh_on_commit(m, 0, &early), -ENOTRECOVERABLE);
	ck_assert(!gcdl_mesh_synced(m));
	ck_assert_uint_eq(gcdl_mesh_stats(m)->mismatches, 1);
	gcdl_mesh_free(c0);
	gcdl_mesh_free(m);
}
END_TEST

/* ---- a seeded 4-node mesh over lossy delivery, with the real engine ---- */

#define TRIES 3

static void
mesh_profile(struct gcdl_profile *p)
{
	gcdl_profile_defaults(p);
	p->method = GCDL_METHOD_ONEBIT_GC;
	p->workers = N;
	p->partitions = N;
	p->redundancy = 2;
	p->dataset = GCDL_DATA_SYNTH_GMM;
	p->train_rows = 400;
	p->test_rows = 200;
	p->synth_features = 40;
	p->synth_classes = 4;
	p->lr = 0.5;
	p->momentum = 0.5; /* state beyond the model, carried by a resync */
	p->scale_block = 8;
	p->mtu = 64;       /* 40 coordinates per frame: several chunks */
	p->seed = 5;
	p->topology = GCDL_TOPO_MESH; /* no downlink: every peer applies its own update */
}

struct cluster {
	struct gcdl_job job;
	struct gcdl_engine *eng[N];
	struct gcdl_engine *ref; /* one engine fed each commit */
	struct gcdl_mesh *mesh[N];
	struct gcdl_frame_limits lim;
	uint32_t chunks, dim;
	double loss;
	uint64_t rng;
	uint64_t frames, lost;
	/* each worker's payloads of the round, for the reference */
	uint8_t pl[N][64][64];
	struct gcdl_frame_hdr hdr[N][64];
};

static uint64_t
next(struct cluster *cl)
{
	uint64_t z = (cl->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static bool
chance(struct cluster *cl, double p)
{
	return (double)(next(cl) >> 11) * 0x1.0p-53 < p;
}

static void deliver(struct cluster *cl, uint32_t to, const uint8_t *f, size_t len);

/* Send a frame from one node to another over the lossy link. */
static void
send_to(struct cluster *cl, uint32_t to, const uint8_t *f, size_t len)
{
	cl->frames++;
	if (chance(cl, cl->loss)) {
		cl->lost++;
		return;
	}
	deliver(cl, to, f, len);
}

struct reply {
	struct cluster *cl;
	uint32_t to;
	uint16_t self;
};

static int
reply_frame(void *arg, const struct gcdl_frame_hdr *h, const uint8_t *payload)
{
	struct reply *r = arg;
	uint8_t f[256];
	ssize_t len = gcdl_frame_encode(h, payload, f, sizeof(f));

	ck_assert_int_gt(len, 0);
	send_to(r->cl, r->to, f, (size_t)len);
	return 0;
}

static void
commit_frame(struct cluster *cl, const struct gcdl_mesh_commit *c, uint8_t *f, size_t *flen)
{
	uint8_t pl[64];
	struct gcdl_frame_hdr h;
	ssize_t len = gcdl_mesh_commit_encode(c, cl->chunks, N, pl, sizeof(pl));

	ck_assert_int_gt(len, 0);
	memset(&h, 0, sizeof(h));
	h.type = GCDL_MSG_COMMIT;
	h.job_id = cl->lim.job_id;
	h.round = c->round;
	h.sender = 0;
	h.payload_len = (uint16_t)len;
	len = gcdl_frame_encode(&h, pl, f, 256);
	ck_assert_int_gt(len, 0);
	*flen = (size_t)len;
}

static int
reply_commit(void *arg, const struct gcdl_mesh_commit *c)
{
	struct reply *r = arg;
	uint8_t f[256];
	size_t len;

	commit_frame(r->cl, c, f, &len);
	send_to(r->cl, r->to, f, len);
	return 0;
}

static void
deliver(struct cluster *cl, uint32_t to, const uint8_t *f, size_t len)
{
	struct gcdl_frame_hdr h;
	const uint8_t *pl;
	struct gcdl_mesh_commit c;
	struct gcdl_mesh_repair r;
	struct reply rp = { cl, 0, (uint16_t)to };
	struct gcdl_mesh_emit emit = { reply_frame, reply_commit, &rp };
	int rc = gcdl_frame_decode(f, len, &cl->lim, &h, &pl);

	ck_assert_int_eq(rc, 0);
	switch (h.type) {
	case GCDL_MSG_COMMIT:
		ck_assert_int_eq(gcdl_mesh_commit_decode(pl, h.payload_len, cl->chunks, N, &c), 0);
		c.round = h.round;
		rc = gcdl_mesh_on_commit(cl->mesh[to], h.sender, &c);
		ck_assert(rc == 0 || rc == -EALREADY);
		break;
	case GCDL_MSG_REPAIR:
		ck_assert_int_eq(gcdl_mesh_repair_decode(pl, h.payload_len, cl->chunks, N, &r), 0);
		r.round = h.round;
		r.from = h.sender;
		rp.to = h.sender;
		ck_assert_int_ge(gcdl_mesh_on_repair(cl->mesh[to], &r, &emit), 0);
		break;
	default:
		rc = gcdl_mesh_store(cl->mesh[to], &h, pl);
		ck_assert(rc == 0 || rc == -EALREADY);
		break;
	}
}

static void
cluster_open(struct cluster *cl, double loss, uint64_t seed)
{
	struct gcdl_profile p;
	char err[256] = "";

	memset(cl, 0, sizeof(*cl));
	mesh_profile(&p);
	ck_assert_msg(gcdl_job_open(&cl->job, &p, 1, err, sizeof(err)) == 0, "%s", err);
	cl->loss = loss;
	cl->rng = seed;
	cl->eng[0] = cl->job.engine;
	for (int k = 1; k < N; k++) {
		cl->eng[k] = gcdl_engine_create(&p, &cl->job.train, cl->job.offsets, 1, err,
						sizeof(err));
		ck_assert_ptr_nonnull(cl->eng[k]);
	}
	cl->ref = gcdl_engine_create(&p, &cl->job.train, cl->job.offsets, 1, err, sizeof(err));
	ck_assert_ptr_nonnull(cl->ref);
	cl->chunks = gcdl_engine_chunks(cl->eng[0]);
	cl->dim = gcdl_engine_dim(cl->eng[0]);
	ck_assert_uint_ge(cl->chunks, 4);
	ck_assert_uint_le(cl->chunks, 64);
	ck_assert_uint_le(gcdl_engine_max_payload(cl->eng[0]), 64);
	gcdl_engine_frame_limits(cl->eng[0], 0, UINT32_MAX, &cl->lim);
	cl->lim.chunk_coords[GCDL_MSG_COMMIT] = 1;
	cl->lim.chunk_coords[GCDL_MSG_REPAIR] = 1;
	for (uint32_t k = 0; k < N; k++) {
		struct gcdl_mesh_params mp = {
			.nodes = N, .chunks = cl->chunks, .self = k, .committer = 0,
			.repair_tries = TRIES, .max_payload = gcdl_engine_max_payload(cl->eng[0]),
		};

		cl->mesh[k] = gcdl_mesh_create(&mp);
		ck_assert_ptr_nonnull(cl->mesh[k]);
	}
}

static void
cluster_close(struct cluster *cl)
{
	for (int k = 0; k < N; k++) {
		gcdl_mesh_free(cl->mesh[k]);
		if (k > 0)
			gcdl_engine_free(cl->eng[k]);
	}
	gcdl_engine_free(cl->ref);
	gcdl_job_close(&cl->job);
}

/* One round: gradients multicast, the commit, repairs, apply, resyncs.
 * Returns the number of nodes that left the replica set. */
static int
cluster_round(struct cluster *cl, uint32_t t, double straggler_p)
{
	float *v = malloc(sizeof(float) * cl->dim);
	uint8_t f[256];
	size_t flen;
	struct gcdl_mesh_commit c;
	bool sent[N] = { false };
	int out = 0;

	ck_assert_ptr_nonnull(v);
	for (uint32_t k = 0; k < N; k++)
		ck_assert_int_eq(gcdl_mesh_begin_round(cl->mesh[k], t,
						       gcdl_mesh_checksum(gcdl_engine_model(cl->eng[k]),
									  cl->dim)), 0);
	for (uint32_t k = 0; k < N; k++) {
		if (chance(cl, straggler_p))
			continue;
		sent[k] = true;
		ck_assert_int_eq(gcdl_engine_worker_gradient(cl->eng[k], 0, k, t,
							     gcdl_engine_model(cl->eng[k]), v), 0);
		for (uint32_t ch = 0; ch < cl->chunks; ch++) {
			struct gcdl_frame_hdr *h = &cl->hdr[k][ch];
			uint32_t count;
			int len = gcdl_engine_encode_chunk(cl->eng[k], k, t, ch, v, cl->pl[k][ch], 64,
							   &count);
			ssize_t fl;

			ck_assert_int_gt(len, 0);
			memset(h, 0, sizeof(*h));
			h->type = GCDL_MSG_ONEBIT;
			h->job_id = cl->lim.job_id;
			h->round = t;
			h->sender = (uint16_t)k;
			h->chunk = ch;
			h->first_coord = ch * gcdl_engine_chunk_coords(cl->eng[k]);
			h->coord_count = count;
			h->scale_block = cl->lim.scale_block;
			h->payload_len = (uint16_t)len;
			fl = gcdl_frame_encode(h, cl->pl[k][ch], f, sizeof(f));
			ck_assert_int_gt(fl, 0);
			deliver(cl, k, f, (size_t)fl); /* its own copy */
			for (uint32_t j = 0; j < N; j++)
				if (j != k)
					send_to(cl, j, f, (size_t)fl);
		}
	}
	ck_assert_int_eq(gcdl_mesh_commit_build(cl->mesh[0], &c), 0);
	commit_frame(cl, &c, f, &flen);
	for (uint32_t j = 1; j < N; j++)
		send_to(cl, j, f, flen);

	/* repair timers: every node that still lacks something asks */
	for (int tr = 0; tr <= TRIES; tr++) {
		for (uint32_t j = 1; j < N; j++) {
			struct gcdl_mesh_repair r;
			uint8_t pl[64];
			struct gcdl_frame_hdr h;
			ssize_t len;
			int rc = gcdl_mesh_repair_build(cl->mesh[j], &r);

			if (rc == -EALREADY || rc == -ETIMEDOUT)
				continue;
			ck_assert_int_eq(rc, 0);
			len = gcdl_mesh_repair_encode(&r, cl->chunks, N, pl, sizeof(pl));
			ck_assert_int_gt(len, 0);
			memset(&h, 0, sizeof(h));
			h.type = GCDL_MSG_REPAIR;
			h.job_id = cl->lim.job_id;
			h.round = t;
			h.sender = (uint16_t)j;
			h.payload_len = (uint16_t)len;
			len = gcdl_frame_encode(&h, pl, f, sizeof(f));
			ck_assert_int_gt(len, 0);
			for (uint32_t s = 0; s < N; s++)
				if (s != j && (r.server == s || r.server == GCDL_MESH_ANY))
					send_to(cl, s, f, (size_t)len);
		}
	}

	/* the reference: one engine fed exactly the committed contributions */
	ck_assert_int_eq(gcdl_engine_begin_round(cl->ref, t), 0);
	for (uint32_t ch = 0; ch < cl->chunks; ch++)
		for (uint32_t k = 0; k < N; k++)
			if (gcdl_mesh_set_has(c.set, N, ch, k)) {
				ck_assert(sent[k]);
				ck_assert_int_eq(gcdl_engine_ingest(cl->ref, &cl->hdr[k][ch],
								    cl->pl[k][ch]), 0);
			}
	ck_assert_int_eq(gcdl_engine_close_round(cl->ref, NULL, NULL), 0);

	for (uint32_t k = 0; k < N; k++) {
		if (gcdl_mesh_state(cl->mesh[k]) == GCDL_MESH_READY) {
			ck_assert_int_eq(gcdl_mesh_apply(cl->mesh[k], cl->eng[k], NULL, NULL), 0);
			ck_assert_int_eq(memcmp(gcdl_engine_model(cl->eng[k]),
						gcdl_engine_model(cl->ref), sizeof(float) * cl->dim), 0);
		} else {
			ck_assert_int_eq(gcdl_mesh_state(cl->mesh[k]), GCDL_MESH_OUT);
			out++;
		}
	}
	/* a node out of the replica set copies the committer's state */
	for (uint32_t k = 1; k < N; k++) {
		if (gcdl_mesh_synced(cl->mesh[k]))
			continue;
		memcpy(gcdl_engine_model(cl->eng[k]), gcdl_engine_model(cl->eng[0]),
		       sizeof(float) * cl->dim);
		memcpy(gcdl_engine_momentum(cl->eng[k]), gcdl_engine_momentum(cl->eng[0]),
		       sizeof(float) * cl->dim);
		ck_assert_int_eq(gcdl_mesh_resync(cl->mesh[k], t + 1), 0);
	}
	free(v);
	return out;
}

static void
run_mesh(double loss, double straggler_p, uint32_t rounds, uint64_t seed, int *gave_up,
	 uint64_t *repaired, uint64_t *left_out, uint32_t *partial)
{
	struct cluster *cl = malloc(sizeof(*cl));
	double loss0, loss1;
	uint64_t sum;

	ck_assert_ptr_nonnull(cl);
	cluster_open(cl, loss, seed);
	ck_assert_int_eq(gcdl_engine_eval(cl->eng[0], gcdl_engine_model(cl->eng[0]),
					  &cl->job.train, &loss0, NULL), 0);
	*gave_up = 0;
	*partial = 0;
	for (uint32_t t = 0; t < rounds; t++) {
		*gave_up += cluster_round(cl, t, straggler_p);
		if (gcdl_mesh_held(cl->mesh[0]) < cl->chunks * N)
			(*partial)++;
	}
	/* every replica bit-identical, to each other and to the reference */
	sum = gcdl_mesh_checksum(gcdl_engine_model(cl->ref), cl->dim);
	for (uint32_t k = 0; k < N; k++) {
		ck_assert(gcdl_mesh_checksum(gcdl_engine_model(cl->eng[k]), cl->dim) == sum);
		ck_assert_int_eq(memcmp(gcdl_engine_model(cl->eng[k]), gcdl_engine_model(cl->ref),
					sizeof(float) * cl->dim), 0);
		ck_assert_int_eq(memcmp(gcdl_engine_momentum(cl->eng[k]),
					gcdl_engine_momentum(cl->ref), sizeof(float) * cl->dim), 0);
	}
	/* and the model learned */
	ck_assert_int_eq(gcdl_engine_eval(cl->eng[0], gcdl_engine_model(cl->eng[0]),
					  &cl->job.train, &loss1, NULL), 0);
	ck_assert_msg(loss1 < 0.8 * loss0, "loss %g -> %g", loss0, loss1);
	*repaired = 0;
	*left_out = 0;
	for (uint32_t k = 0; k < N; k++) {
		*repaired += gcdl_mesh_stats(cl->mesh[k])->repaired;
		*left_out += gcdl_mesh_stats(cl->mesh[k])->left_out;
		ck_assert_uint_eq(gcdl_mesh_stats(cl->mesh[k])->mismatches, 0);
	}
	printf("mesh sim: loss %.2f stragglers %.2f: %llu frames, %llu lost, %u rounds with a "
	       "partial commit, %llu repaired, %llu left out, %d resyncs, train loss %.4f -> %.4f\n",
	       loss, straggler_p, (unsigned long long)cl->frames, (unsigned long long)cl->lost,
	       *partial, (unsigned long long)*repaired, (unsigned long long)*left_out, *gave_up,
	       loss0, loss1);
	cluster_close(cl);
	free(cl);
}

START_TEST(sim_lossless)
{
	int gave_up;
	uint64_t repaired, left_out;
	uint32_t partial;

	run_mesh(0.0, 0.0, 100, 1, &gave_up, &repaired, &left_out, &partial);
	ck_assert_int_eq(gave_up, 0);
	ck_assert_uint_eq(repaired, 0);
	ck_assert_uint_eq(left_out, 0);
	ck_assert_uint_eq(partial, 0);
}
END_TEST

START_TEST(sim_loss_1pct)
{
	int gave_up;
	uint64_t repaired, left_out;
	uint32_t partial;

	run_mesh(0.01, 0.1, 300, 2, &gave_up, &repaired, &left_out, &partial);
	/* with ~14000 frames at 1%, losses to repair and partial commits occur
	 * (their absence would mean the loss is not injected) */
	ck_assert_uint_gt(repaired, 0);
	ck_assert_uint_gt(partial, 0);
}
END_TEST

START_TEST(sim_loss_20pct)
{
	int gave_up;
	uint64_t repaired, left_out;
	uint32_t partial;

	run_mesh(0.20, 0.1, 300, 3, &gave_up, &repaired, &left_out, &partial);
	ck_assert_uint_gt(repaired, 100);
	ck_assert_uint_gt(left_out, 0);
	/* at 20% loss some node exhausts its repair tries and resyncs */
	ck_assert_int_gt(gave_up, 0);
}
END_TEST

static Suite *
mesh_suite(void)
{
	Suite *s = suite_create("mesh");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, names);
	tcase_add_test(tc, set_bytes);
	tcase_add_test(tc, checksum);
	tcase_add_test(tc, commit_roundtrip);
	tcase_add_test(tc, commit_encode_errors);
	tcase_add_test(tc, commit_rejects);
	tcase_add_test(tc, repair_roundtrip);
	tcase_add_test(tc, repair_rejects);
	tcase_add_test(tc, create_rejects);
	tcase_add_test(tc, store_rules);
	tcase_add_test(tc, commit_and_repair);
	tcase_add_test(tc, sim_lossless);
	tcase_add_test(tc, sim_loss_1pct);
	tcase_add_test(tc, sim_loss_20pct);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mesh_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
