/* SPDX-License-Identifier: BSD-3-Clause */
/* Frames of the --inject-garbage and --inject-hostile self-tests. */
#include <string.h>

#include "gcdl/rng.h"
#include "gcdl/selftest.h"

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

/* The header of a genuine frame of the sender's kind for chunk c of round t:
 * a gradient chunk of a worker, an update frame of an aggregator. */
static void
genuine(const struct gcdl_engine *e, const struct gcdl_profile *p,
	const struct gcdl_selftest_from *from, uint32_t round, uint32_t c,
	struct gcdl_frame_hdr *h)
{
	uint32_t dim = gcdl_engine_dim(e), per, chunks;

	memset(h, 0, sizeof(*h));
	h->dst[0] = 0x02;
	h->src[0] = 0x02;
	h->src[5] = 0xee;
	h->job_id = p->job_id;
	h->round = round;
	h->sender = from->sender;
	if (from->aggregator) {
		h->type = GCDL_MSG_UPDATE;
		per = gcdl_frame_chunk_coords(GCDL_MSG_UPDATE, gcdl_profile_frame_mtu(p), 0);
	} else {
		h->type = (uint8_t)gcdl_engine_msg_type(e);
		per = gcdl_engine_chunk_coords(e);
		h->scale_block = h->type == GCDL_MSG_ONEBIT ? (uint16_t)p->scale_block : 0;
	}
	chunks = per > 0 ? (dim + per - 1) / per : 1;
	h->chunk = c % chunks;
	h->first_coord = h->chunk * per;
	h->coord_count = dim - h->first_coord < per ? dim - h->first_coord : per;
	h->payload_len = (uint16_t)gcdl_frame_payload_len(h->type, h->coord_count,
							   h->scale_block);
}

size_t
gcdl_selftest_garbage(const struct gcdl_engine *e, const struct gcdl_profile *p,
		      const struct gcdl_selftest_from *from, uint32_t round, uint64_t seq,
		      uint8_t *buf, size_t cap)
{
	uint32_t kind = (uint32_t)(seq % GCDL_GARBAGE__COUNT);
	uint8_t payload[GCDL_MTU_MAX];
	struct gcdl_frame_hdr h;
	struct gcdl_rng rng;
	ssize_t len;

	if (e == NULL || p == NULL || from == NULL || buf == NULL)
		return 0;
	genuine(e, p, from, round, 0, &h);
	memset(payload, 0, h.payload_len);
	len = gcdl_frame_encode(&h, payload, buf, cap);
	if (len < 0)
		return 0;

	switch (kind) {
	case GCDL_GARBAGE_TRUNCATED:
		return GCDL_FRAME_OVERHEAD - 1;
	case GCDL_GARBAGE_ETHERTYPE:
		put_be16(buf + F_ETHERTYPE, 0x0800);
		break;
	case GCDL_GARBAGE_MAGIC:
		put_be16(buf + F_MAGIC, 0x4744);
		break;
	case GCDL_GARBAGE_CRC:
		buf[GCDL_FRAME_OVERHEAD] ^= 0x5a; /* payload changed after sealing */
		break;
	case GCDL_GARBAGE_JOB:
		put_be32(buf + F_JOB, p->job_id ^ 0x80000001u);
		gcdl_frame_seal(buf, (size_t)len);
		break;
	case GCDL_GARBAGE_SENDER:
		put_be16(buf + F_SENDER, (uint16_t)(from->senders + 1 + seq % 7));
		gcdl_frame_seal(buf, (size_t)len);
		break;
	case GCDL_GARBAGE_OFFSET:
		put_be32(buf + F_FIRST, get_be32(buf + F_FIRST) + 1);
		gcdl_frame_seal(buf, (size_t)len);
		break;
	case GCDL_GARBAGE_COUNT:
		put_be32(buf + F_COUNT, get_be32(buf + F_COUNT) + 8);
		gcdl_frame_seal(buf, (size_t)len);
		break;
	case GCDL_GARBAGE_LENGTH:
		/* claims more payload than the frame holds */
		put_be16(buf + F_PAYLOAD_LEN, (uint16_t)(len - GCDL_FRAME_OVERHEAD + 1));
		break;
	default: {
		/* random bytes and a random length, seeded by (seed, round, seq, sender) */
		size_t rlen;

		gcdl_rng_init(&rng, p->seed ^ ((uint64_t)from->sender << 40), GCDL_RNG_FAULT,
			      round, (uint32_t)seq);
		rlen = 1 + gcdl_rng_below(&rng, (uint32_t)((size_t)len < cap ? (size_t)len : cap));
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

size_t
gcdl_selftest_hostile(const struct gcdl_engine *e, const struct gcdl_profile *p,
		      const struct gcdl_auth *auth, const struct gcdl_selftest_from *from,
		      uint32_t round, uint64_t seq, uint8_t *buf, size_t cap)
{
	uint32_t kind = round == 0 && seq % 3 == 1 ? 0 : (uint32_t)(seq % 3);
	uint8_t payload[GCDL_MTU_MAX];
	struct gcdl_frame_hdr h;
	struct gcdl_auth wrong;
	ssize_t len;

	if (e == NULL || p == NULL || auth == NULL || from == NULL || buf == NULL)
		return 0;
	genuine(e, p, from, kind == 1 ? round - 1 : round, (uint32_t)(seq / 3), &h);
	/* a plausible payload: small positive scales or values, bits set */
	memset(payload, 0x3c, h.payload_len);
	if (gcdl_frame_encode(&h, payload, buf, cap) < 0)
		return 0;
	wrong = *auth;
	wrong.key[seq % GCDL_AUTH_KEY_LEN] ^= 0x01;
	len = gcdl_auth_seal(kind == 0 ? &wrong : auth, buf, cap);
	if (len < 0)
		return 0;
	if (kind == 2) {
		buf[GCDL_FRAME_OVERHEAD + seq % h.payload_len] ^= 0x01;
		gcdl_frame_seal(buf, (size_t)len);
	}
	return (size_t)len;
}
