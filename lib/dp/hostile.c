/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The --inject-hostile self-test of frame authentication (needs a job key):
 * per round, N well-formed frames from the garbage port into the
 * aggregator, cycling three kinds, each for a real sender and chunk:
 *   spoofed:   round t, tagged with a wrong key;
 *   replayed:  tagged with the job key but of a closed round (t - 1), as a
 *              copy of an authentic frame of that round would be (round 0
 *              has no closed round: spoofed instead; an authentic frame of
 *              a round not yet open is no replay, it would be accepted);
 *   corrupted: round t, tagged with the job key, then one payload byte
 *              changed and the CRC recomputed, so only the tag can tell.
 * None may reach the accumulators: spoofed and corrupted frames are dropped
 * as "auth" (or "round" when they overtake their round's opening), replayed
 * ones as late.
 */
#include <string.h>

#include <rte_ethdev.h>

#include "gcdl/auth.h"

#include "dp_internal.h"

static size_t
hostile_frame(struct gcdl_dp *dp, uint32_t round, uint64_t seq, uint8_t *buf, size_t cap)
{
	uint32_t kind = round == 0 && seq % 3 == 1 ? 0 : (uint32_t)(seq % 3);
	uint32_t k = (uint32_t)(seq / 3 % dp->n);
	uint32_t c = (uint32_t)(seq / 3 / dp->n % dp->chunks);
	uint32_t first = c * dp->chunk_coords;
	uint32_t count = RTE_MIN(dp->chunk_coords, dp->dim - first);
	uint8_t payload[GCDL_MTU_MAX];
	struct gcdl_frame_hdr h;
	struct gcdl_auth wrong;
	ssize_t len;

	memset(&h, 0, sizeof(h));
	h.dst[0] = 0x02;
	h.src[0] = 0x02;
	h.src[5] = 0xef;
	h.type = (uint8_t)gcdl_engine_msg_type(dp->e);
	h.job_id = dp->prof.job_id;
	h.round = kind == 1 ? round - 1 : round;
	h.sender = (uint16_t)k;
	h.chunk = c;
	h.first_coord = first;
	h.coord_count = count;
	h.scale_block = h.type == GCDL_MSG_ONEBIT ? (uint16_t)dp->prof.scale_block : 0;
	h.payload_len = (uint16_t)gcdl_frame_payload_len(h.type, count, h.scale_block);
	/* a plausible payload: small positive scales or values, bits set */
	memset(payload, 0x3c, h.payload_len);
	if (gcdl_frame_encode(&h, payload, buf, cap) < 0)
		return 0;
	wrong = *dp->auth;
	wrong.key[seq % GCDL_AUTH_KEY_LEN] ^= 0x01;
	len = gcdl_auth_seal(kind == 0 ? &wrong : dp->auth, buf, cap);
	if (len < 0)
		return 0;
	if (kind == 2) {
		buf[GCDL_FRAME_OVERHEAD + seq % h.payload_len] ^= 0x01;
		gcdl_frame_seal(buf, (size_t)len);
	}
	return (size_t)len;
}

int
gcdl_dp_inject_hostile(struct gcdl_dp *dp, uint32_t round)
{
	uint64_t bytes;
	int rc = dp_inject_frames(dp, round, dp->opts.inject_hostile, hostile_frame, &bytes);

	if (rc == 0)
		DP_STAT_ADD(&dp->ctl_st, hostile_sent, dp->opts.inject_hostile);
	return rc;
}
