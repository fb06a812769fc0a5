/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Malformed frames for the --inject-garbage self-test. Each starts as a valid
 * uplink frame of the round (sender 0, chunk 0, all-zero payload) and is then
 * broken in one way, so that gcdl_frame_decode() drops it under a known
 * reason; fields checked after the CRC are broken before the frame is sealed,
 * so the CRC does not hide them. None of them can ever be accepted.
 */
#include <string.h>

#include "gcdl/rng.h"

#include "dp_internal.h"

/* gcdl header field offsets in the whole frame */
#define F_ETHERTYPE 12
#define F_MAGIC (GCDL_ETH_HDR_LEN + 0)
#define F_JOB (GCDL_ETH_HDR_LEN + 4)
#define F_SENDER (GCDL_ETH_HDR_LEN + 12)
#define F_FIRST (GCDL_ETH_HDR_LEN + 20)
#define F_COUNT (GCDL_ETH_HDR_LEN + 24)
#define F_PAYLOAD_LEN (GCDL_ETH_HDR_LEN + 30)

static void
put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t
gcdl_dp_garbage_frame(const struct gcdl_engine *e, const struct gcdl_profile *p, uint32_t round,
		      uint64_t seq, uint8_t *buf, size_t cap)
{
	uint32_t kind = (uint32_t)(seq % DP_GARBAGE__COUNT);
	uint32_t count = RTE_MIN(gcdl_engine_chunk_coords(e), gcdl_engine_dim(e));
	uint8_t payload[GCDL_MTU_MAX];
	struct gcdl_frame_hdr h;
	struct gcdl_rng rng;
	ssize_t len;

	memset(&h, 0, sizeof(h));
	h.dst[0] = 0x02;
	h.src[0] = 0x02;
	h.src[5] = 0xee;
	h.type = (uint8_t)gcdl_engine_msg_type(e);
	h.job_id = p->job_id;
	h.round = round;
	h.sender = 0;
	h.chunk = 0;
	h.first_coord = 0;
	h.coord_count = count;
	h.scale_block = h.type == GCDL_MSG_ONEBIT ? (uint16_t)p->scale_block : 0;
	h.payload_len = (uint16_t)gcdl_frame_payload_len(h.type, count, h.scale_block);
	memset(payload, 0, h.payload_len);
	len = gcdl_frame_encode(&h, payload, buf, cap);
	if (len < 0)
		return 0;

	switch (kind) {
	case DP_GARBAGE_TRUNCATED:
		return GCDL_FRAME_OVERHEAD - 1;
	case DP_GARBAGE_ETHERTYPE:
		put_be16(buf + F_ETHERTYPE, 0x0800);
		break;
	case DP_GARBAGE_MAGIC:
		put_be16(buf + F_MAGIC, 0x4744);
		break;
	case DP_GARBAGE_CRC:
		buf[GCDL_FRAME_OVERHEAD] ^= 0x5a; /* payload changed after sealing */
		break;
	case DP_GARBAGE_JOB:
		put_be32(buf + F_JOB, p->job_id ^ 0x80000001u);
		gcdl_frame_seal(buf, (size_t)len);
		break;
	case DP_GARBAGE_SENDER:
		put_be16(buf + F_SENDER, (uint16_t)(p->workers + 1 + seq % 7));
		gcdl_frame_seal(buf, (size_t)len);
		break;
	case DP_GARBAGE_OFFSET:
		put_be32(buf + F_FIRST, get_be32(buf + F_FIRST) + 1);
		gcdl_frame_seal(buf, (size_t)len);
		break;
	case DP_GARBAGE_COUNT:
		put_be32(buf + F_COUNT, get_be32(buf + F_COUNT) + 8);
		gcdl_frame_seal(buf, (size_t)len);
		break;
	case DP_GARBAGE_LENGTH:
		/* claims more payload than the frame holds */
		put_be16(buf + F_PAYLOAD_LEN, (uint16_t)(len - GCDL_FRAME_OVERHEAD + 1));
		break;
	default: {
		/* random bytes and a random length, seeded by (seed, round, seq) */
		size_t rlen;

		gcdl_rng_init(&rng, p->seed, GCDL_RNG_FAULT, round, (uint32_t)seq);
		rlen = 1 + gcdl_rng_below(&rng, (uint32_t)RTE_MIN(cap, (size_t)len));
		for (size_t i = 0; i < rlen; i++)
			buf[i] = (uint8_t)gcdl_rng_u32(&rng);
		/* keep it impossible to accept: never the gcdl EtherType */
		if (rlen >= 14 && buf[F_ETHERTYPE] == 0x88 && buf[F_ETHERTYPE + 1] == 0xB5)
			buf[F_ETHERTYPE + 1] ^= 0xff;
		return rlen;
	}
	}
	return (size_t)len;
}
