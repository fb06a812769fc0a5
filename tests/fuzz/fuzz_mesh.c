/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the mesh agreement (gcdl/mesh.h).
 *
 * Byte 0 picks a job shape (chunks x nodes). The rest is decoded as a
 * commit payload and as a repair payload; whatever decodes must encode back
 * to the same bytes. Then the same bytes drive two nodes (the committer and
 * node 1) through a sequence of operations: rounds, gradient frames, the
 * commit, repair requests and answers, apply-readiness; every answer to a
 * repair must be a frame the answering node holds, of the asked round.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/mesh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t shapes[][2] = { { 5, 4 }, { 1, 1 }, { 3, 7 }, { 16, 4096 } };
static uint8_t out[GCDL_MESH_COMMIT_HDR + GCDL_MESH_SET_MAX];

struct check {
	uint32_t round;
	uint32_t chunks, nodes;
};

static int
check_frame(void *arg, const struct gcdl_frame_hdr *h, const uint8_t *payload)
{
	const struct check *c = arg;

	if (h->round != c->round || h->chunk >= c->chunks || h->sender >= c->nodes ||
	    payload == NULL || h->payload_len > 16)
		abort();
	return 0;
}

static int
check_commit(void *arg, const struct gcdl_mesh_commit *cm)
{
	const struct check *c = arg;

	if (cm->round != c->round)
		abort();
	return 0;
}

static void
roundtrip(const uint8_t *p, size_t len, uint32_t C, uint32_t N)
{
	static struct gcdl_mesh_commit c;
	static struct gcdl_mesh_repair r;
	ssize_t n;
	int rc;

	rc = gcdl_mesh_commit_decode(p, len, C, N, &c);
	if (rc < 0 || rc >= GCDL_MESH_DROP__COUNT)
		abort();
	if (rc == 0) {
		n = gcdl_mesh_commit_encode(&c, C, N, out, sizeof(out));
		if (n != (ssize_t)len || memcmp(out, p, len) != 0)
			abort();
	}
	rc = gcdl_mesh_repair_decode(p, len, C, N, &r);
	if (rc < 0 || rc >= GCDL_MESH_DROP__COUNT)
		abort();
	if (rc == 0) {
		n = gcdl_mesh_repair_encode(&r, C, N, out, sizeof(out));
		if (n != (ssize_t)len || memcmp(out, p, len) != 0)
			abort();
	}
}

static void
drive(const uint8_t *p, size_t len)
{
	struct gcdl_mesh_params mp = { .nodes = 4, .chunks = 5, .self = 0, .committer = 0,
				       .repair_tries = 3, .max_payload = 16 };
	struct gcdl_mesh *m[2];
	static struct gcdl_mesh_commit c;
	static struct gcdl_mesh_repair r;
	uint8_t pl[16] = { 0 };
	uint32_t round[2] = { 0, 0 };

	m[0] = gcdl_mesh_create(&mp);
	mp.self = 1;
	m[1] = gcdl_mesh_create(&mp);
	if (m[0] == NULL || m[1] == NULL)
		abort();
	for (size_t i = 0; i + 1 < len; i += 2) {
		uint8_t op = p[i], arg = p[i + 1];
		int who = op & 1;
		struct gcdl_frame_hdr h = { 0 };
		struct check ck = { 0, 5, 4 };
		struct gcdl_mesh_emit emit = { check_frame, check_commit, &ck };

		switch ((op >> 1) % 6) {
		case 0: /* next round, or a jump */
			round[who] += 1 + (arg & 3);
			gcdl_mesh_begin_round(m[who], round[who], arg >> 6);
			break;
		case 1: /* a gradient frame of a nearby round */
			h.type = GCDL_MSG_ONEBIT;
			h.round = round[who] + (arg >> 6) - 1;
			h.sender = arg & 3;
			h.chunk = (arg >> 2) % 6;
			h.payload_len = 8;
			gcdl_mesh_store(m[who], &h, pl);
			break;
		case 2: /* the committer's commit, delivered to node 1 */
			if (gcdl_mesh_commit_build(m[0], &c) == 0) {
				if (arg & 1)
					c.checksum ^= 1;
				gcdl_mesh_on_commit(m[1], 0, &c);
			}
			break;
		case 3: /* node 1 asks; the committer answers */
			if (gcdl_mesh_repair_build(m[1], &r) == 0) {
				ck.round = r.round;
				if (gcdl_mesh_on_repair(m[0], &r, &emit) < 0)
					abort();
			}
			break;
		case 4: /* a raw request of a round, server from arg */
			memset(&r, 0, sizeof(r));
			r.round = round[who] + (arg & 3) - 1;
			r.server = arg & 0x80 ? GCDL_MESH_ANY : (arg >> 4) & 3;
			r.flags = arg & 4 ? GCDL_MESH_WANT_COMMIT : 0;
			r.set[0] = arg;
			r.set[1] = (uint8_t)(arg >> 3) & 0x0f;
			ck.round = r.round;
			if (gcdl_mesh_on_repair(m[who], &r, &emit) < 0)
				abort();
			break;
		default: /* rejoin */
			if (!gcdl_mesh_synced(m[who]))
				gcdl_mesh_resync(m[who], round[who] + 1);
			break;
		}
		if (gcdl_mesh_held(m[who]) > 20)
			abort();
	}
	gcdl_mesh_free(m[0]);
	gcdl_mesh_free(m[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint32_t *s;

	if (size < 1)
		return 0;
	s = shapes[data[0] % 4];
	roundtrip(data + 1, size - 1, s[0], s[1]);
	drive(data + 1, size - 1);
	return 0;
}
