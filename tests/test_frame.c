/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for the wire format (lib/core/frame.c). */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/crc32c.h"
#include "gcdl/frame.h"
#include "gcdl/quant.h"
#include "gcdl/rng.h"
#include "gcdl/vlan.h"

/* The receiver every test decodes against: mtu 1500, S = 256. */
#define JOB 0x0A0B0C0Du
#define SENDERS 8
#define DIM 25000
#define RMIN 10
#define RMAX 20
#define SB 256
#define L_ONEBIT 10240 /* (1500 - 36) / (4 + 256/8) = 40 blocks of 256 */
#define L_FLOAT 366    /* (1500 - 36) / 4 */
#define L_SIGN 11712   /* (1500 - 36) * 8 */

#define BUF_CAP (GCDL_ETH_HDR_LEN + GCDL_MTU_MAX + 64)
#define PAYLOAD_CAP 65536

/* gcdl header field offsets in the whole frame (Ethernet header first). */
#define F_ETHERTYPE 12
#define F_MAGIC 14
#define F_VERSION 16
#define F_TYPE 17
#define F_JOB 18
#define F_ROUND 22
#define F_SENDER 26
#define F_FLAGS 28
#define F_CHUNK 30
#define F_FIRST 34
#define F_COUNT 38
#define F_SCALE_BLOCK 42
#define F_PAYLOAD_LEN 44
#define F_CRC 46
#define F_PAYLOAD 50

static const uint8_t MAC_DST[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t MAC_SRC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

struct fx {
	struct gcdl_frame_limits lim;
	struct gcdl_frame_hdr hdr;
	uint8_t payload[PAYLOAD_CAP];
	uint8_t buf[BUF_CAP];
	size_t len;
};

static uint32_t
chunk_len_of(int type)
{
	switch (type) {
	case GCDL_MSG_ONEBIT:
	case GCDL_MSG_UPDATE1:
		return L_ONEBIT;
	case GCDL_MSG_FLOAT:
	case GCDL_MSG_UPDATE:
	case GCDL_MSG_MODEL:
		return L_FLOAT;
	case GCDL_MSG_SIGN:
		return L_SIGN;
	default:
		return 1;
	}
}

static bool
has_coords(int type)
{
	return (type >= GCDL_MSG_ONEBIT && type <= GCDL_MSG_MODEL) || type == GCDL_MSG_UPDATE1;
}

static void
limits_init(struct gcdl_frame_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->job_id = JOB;
	lim->senders = SENDERS;
	lim->dim = DIM;
	lim->round_min = RMIN;
	lim->round_max = RMAX;
	lim->scale_block = SB;
	for (int t = GCDL_MSG_ONEBIT; t < GCDL_MSG__COUNT; t++)
		lim->chunk_coords[t] = chunk_len_of(t);
}

static void
fill_random(uint8_t *p, size_t n, uint32_t a, uint32_t b)
{
	struct gcdl_rng r;

	gcdl_rng_init(&r, 0xF4A3E, GCDL_RNG_TEST, a, b);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)gcdl_rng_u32(&r);
}

/* A header valid for the test limits; control frames carry `ctl_len` bytes. */
static void
fx_init(struct fx *f, int type, uint32_t chunk, uint16_t ctl_len)
{
	struct gcdl_frame_hdr *h = &f->hdr;

	limits_init(&f->lim);
	memset(h, 0, sizeof(*h));
	memcpy(h->dst, MAC_DST, 6);
	memcpy(h->src, MAC_SRC, 6);
	h->type = (uint8_t)type;
	h->job_id = JOB;
	h->round = RMIN + 3;
	h->sender = 5;
	if (has_coords(type)) {
		uint32_t l = chunk_len_of(type);
		uint32_t first = chunk * l;

		h->chunk = chunk;
		h->first_coord = first;
		h->coord_count = DIM - first < l ? DIM - first : l;
		h->scale_block = type == GCDL_MSG_ONEBIT || type == GCDL_MSG_UPDATE1 ? SB : 0;
		h->payload_len = (uint16_t)gcdl_frame_payload_len(type, h->coord_count,
								  h->scale_block);
	} else {
		h->payload_len = ctl_len;
	}
	memset(f->payload, 0, sizeof(f->payload));
	fill_random(f->payload, h->payload_len, (uint32_t)type, chunk);
}

static void
fx_encode(struct fx *f)
{
	ssize_t n = gcdl_frame_encode(&f->hdr, f->payload, f->buf, sizeof(f->buf));

	ck_assert_int_gt(n, 0);
	f->len = (size_t)n;
}

static int
fx_decode(struct fx *f)
{
	struct gcdl_frame_hdr out;
	const uint8_t *p = NULL;

	return gcdl_frame_decode(f->buf, f->len, &f->lim, &out, &p);
}

static void
poke16(uint8_t *b, size_t off, uint16_t v)
{
	b[off] = (uint8_t)(v >> 8);
	b[off + 1] = (uint8_t)v;
}

static uint16_t
peek16(const uint8_t *b, size_t off)
{
	return (uint16_t)(b[off] << 8 | b[off + 1]);
}

static uint32_t
peek32(const uint8_t *b, size_t off)
{
	return (uint32_t)b[off] << 24 | (uint32_t)b[off + 1] << 16 | (uint32_t)b[off + 2] << 8 |
	       b[off + 3];
}

/* A valid frame of `type` with one header byte pair overwritten, resealed. */
static int
poked16(int type, size_t off, uint16_t v)
{
	struct fx f;

	fx_init(&f, type, 0, 8);
	fx_encode(&f);
	poke16(f.buf, off, v);
	ck_assert_int_eq(gcdl_frame_seal(f.buf, f.len), 0);
	return fx_decode(&f);
}

/* A frame encoded from a valid header with one field changed. */
#define ENCODED_WITH(type, chunk, field, value)                                                   \
	({                                                                                         \
		struct fx f_;                                                                      \
		fx_init(&f_, (type), (chunk), 8);                                                  \
		f_.hdr.field = (value);                                                            \
		fx_encode(&f_);                                                                    \
		fx_decode(&f_);                                                                    \
	})

/* ---- rejected arguments ---------------------------------------------- */

/* CRC-32C bit by bit (reflected 0x82F63B78), the reference for the frames'
 * CRC and for both paths of gcdl_crc32c() */
static uint32_t
ref_crc32c(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

/* The standard check value, chaining, every length and alignment up to 64
 * bytes on both paths (SSE4.2 and the table) against the reference. */
START_TEST(test_crc32c)
{
	uint8_t buf[80];

	ck_assert_uint_eq(gcdl_crc32c(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(gcdl_crc32c_table(0, "123456789", 9), 0xE3069283u);
	ck_assert_uint_eq(gcdl_crc32c(gcdl_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
	ck_assert_uint_eq(gcdl_crc32c(0, NULL, 0), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 64; len++) {
			uint32_t want = ref_crc32c(0, buf + off, len);

			ck_assert_uint_eq(gcdl_crc32c(0, buf + off, len), want);
			ck_assert_uint_eq(gcdl_crc32c_table(0, buf + off, len), want);
		}
	/* not zlib's CRC-32 */
	ck_assert_uint_ne(gcdl_crc32c(0, "123456789", 9), 0xCBF43926u);
}
END_TEST

START_TEST(test_names_unknown)
{
	ck_assert_str_eq(gcdl_frame_drop_name(-1), "unknown");
	ck_assert_str_eq(gcdl_frame_drop_name(GCDL_DROP__COUNT), "unknown");
	ck_assert_str_eq(gcdl_frame_drop_name(1000), "unknown");
	ck_assert_str_eq(gcdl_frame_type_name(0), "unknown");
	ck_assert_str_eq(gcdl_frame_type_name(-1), "unknown");
	ck_assert_str_eq(gcdl_frame_type_name(GCDL_MSG__COUNT), "unknown");
	ck_assert_str_eq(gcdl_frame_type_name(255), "unknown");
}
END_TEST

START_TEST(test_encode_einval)
{
	struct fx f;

	fx_init(&f, GCDL_MSG_FLOAT, 0, 0);
	ck_assert_int_eq(gcdl_frame_encode(NULL, f.payload, f.buf, sizeof(f.buf)), -EINVAL);
	ck_assert_int_eq(gcdl_frame_encode(&f.hdr, f.payload, NULL, sizeof(f.buf)), -EINVAL);
	ck_assert_int_eq(gcdl_frame_encode(&f.hdr, NULL, f.buf, sizeof(f.buf)), -EINVAL);
	f.hdr.type = 0;
	ck_assert_int_eq(gcdl_frame_encode(&f.hdr, f.payload, f.buf, sizeof(f.buf)), -EINVAL);
	f.hdr.type = GCDL_MSG__COUNT;
	ck_assert_int_eq(gcdl_frame_encode(&f.hdr, f.payload, f.buf, sizeof(f.buf)), -EINVAL);
	f.hdr.type = 255;
	ck_assert_int_eq(gcdl_frame_encode(&f.hdr, f.payload, f.buf, sizeof(f.buf)), -EINVAL);
	/* NULL payload is fine when there is none */
	fx_init(&f, GCDL_MSG_HELLO, 0, 0);
	ck_assert_int_eq(gcdl_frame_encode(&f.hdr, NULL, f.buf, sizeof(f.buf)),
			 GCDL_ETH_MIN_FRAME);
}
END_TEST

START_TEST(test_encode_enospc)
{
	struct fx f;
	size_t need;

	fx_init(&f, GCDL_MSG_ONEBIT, 0, 0);
	need = GCDL_FRAME_OVERHEAD + f.hdr.payload_len;
	ck_assert_uint_eq(need, 1490);
	ck_assert_int_eq(gcdl_frame_encode(&f.hdr, f.payload, f.buf, need - 1), -ENOSPC);
	ck_assert_int_eq(gcdl_frame_encode(&f.hdr, f.payload, f.buf, 0), -ENOSPC);
	ck_assert_int_eq(gcdl_frame_encode(&f.hdr, f.payload, f.buf, need), (ssize_t)need);

	/* the 60-byte minimum counts against the capacity too */
	fx_init(&f, GCDL_MSG_HELLO, 0, 0);
	ck_assert_int_eq(gcdl_frame_encode(&f.hdr, NULL, f.buf, GCDL_FRAME_OVERHEAD),
			 -ENOSPC);
	ck_assert_int_eq(gcdl_frame_encode(&f.hdr, NULL, f.buf, GCDL_ETH_MIN_FRAME - 1),
			 -ENOSPC);
	ck_assert_int_eq(gcdl_frame_encode(&f.hdr, NULL, f.buf, GCDL_ETH_MIN_FRAME),
			 GCDL_ETH_MIN_FRAME);
}
END_TEST

START_TEST(test_seal_einval)
{
	struct fx f;

	fx_init(&f, GCDL_MSG_FLOAT, 0, 0);
	fx_encode(&f);
	ck_assert_int_eq(gcdl_frame_seal(NULL, f.len), -EINVAL);
	ck_assert_int_eq(gcdl_frame_seal(f.buf, 0), -EINVAL);
	ck_assert_int_eq(gcdl_frame_seal(f.buf, GCDL_FRAME_OVERHEAD - 1), -EINVAL);
	ck_assert_int_eq(gcdl_frame_seal(f.buf, f.len - 1), -EINVAL);
	ck_assert_int_eq(gcdl_frame_seal(f.buf, f.len), 0);
}
END_TEST

START_TEST(test_decode_einval)
{
	struct fx f;
	struct gcdl_frame_hdr h;
	const uint8_t *p;

	fx_init(&f, GCDL_MSG_FLOAT, 0, 0);
	fx_encode(&f);
	ck_assert_int_eq(gcdl_frame_decode(NULL, f.len, &f.lim, &h, &p), -EINVAL);
	ck_assert_int_eq(gcdl_frame_decode(f.buf, f.len, NULL, &h, &p), -EINVAL);
	ck_assert_int_eq(gcdl_frame_decode(f.buf, f.len, &f.lim, NULL, &p), -EINVAL);
	ck_assert_int_eq(gcdl_frame_decode(f.buf, f.len, &f.lim, &h, NULL), -EINVAL);
	ck_assert_int_eq(gcdl_frame_decode(f.buf, f.len, &f.lim, &h, &p), GCDL_DROP_NONE);
}
END_TEST

/* ---- every drop reason, each on an otherwise valid frame --------------- */

START_TEST(test_drop_truncated)
{
	struct fx f;

	fx_init(&f, GCDL_MSG_HELLO, 0, 0);
	fx_encode(&f);
	f.len = GCDL_FRAME_OVERHEAD - 1;
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_TRUNCATED);
	f.len = 0;
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_TRUNCATED);
	/* header only, no payload, no padding: complete */
	f.len = GCDL_FRAME_OVERHEAD;
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_NONE);
}
END_TEST

START_TEST(test_drop_ethertype)
{
	ck_assert_int_eq(poked16(GCDL_MSG_ONEBIT, F_ETHERTYPE, 0x0800), GCDL_DROP_ETHERTYPE);
	ck_assert_int_eq(poked16(GCDL_MSG_ONEBIT, F_ETHERTYPE, 0x88B6), GCDL_DROP_ETHERTYPE);
	ck_assert_int_eq(poked16(GCDL_MSG_ONEBIT, F_ETHERTYPE, 0xB588), GCDL_DROP_ETHERTYPE);
	ck_assert_int_eq(poked16(GCDL_MSG_HELLO, F_ETHERTYPE, 0x8100), GCDL_DROP_ETHERTYPE);
}
END_TEST

START_TEST(test_drop_magic)
{
	ck_assert_int_eq(poked16(GCDL_MSG_ONEBIT, F_MAGIC, 0x4347), GCDL_DROP_MAGIC);
	ck_assert_int_eq(poked16(GCDL_MSG_ONEBIT, F_MAGIC, 0x0000), GCDL_DROP_MAGIC);
	ck_assert_int_eq(poked16(GCDL_MSG_FLOAT, F_MAGIC, 0x4743 ^ 0x8000), GCDL_DROP_MAGIC);
}
END_TEST

START_TEST(test_drop_version)
{
	/* version and type share a byte pair; version 1 (zlib's CRC-32) is
	 * refused as another version, not taken for a corrupt frame */
	ck_assert_int_eq(poked16(GCDL_MSG_ONEBIT, F_VERSION, 0x0001), GCDL_DROP_VERSION);
	ck_assert_int_eq(poked16(GCDL_MSG_ONEBIT, F_VERSION, 0x0101), GCDL_DROP_VERSION);
	ck_assert_int_eq(poked16(GCDL_MSG_ONEBIT, F_VERSION, 0x0301), GCDL_DROP_VERSION);
	ck_assert_int_eq(poked16(GCDL_MSG_ONEBIT, F_VERSION, 0xFF01), GCDL_DROP_VERSION);
	ck_assert_int_eq(poked16(GCDL_MSG_ONEBIT, F_VERSION, 0x0201), GCDL_DROP_NONE);
}
END_TEST

START_TEST(test_drop_type)
{
	struct fx f;

	ck_assert_int_eq(poked16(GCDL_MSG_ONEBIT, F_VERSION, GCDL_FRAME_VERSION << 8),
			 GCDL_DROP_TYPE);
	ck_assert_int_eq(poked16(GCDL_MSG_ONEBIT, F_VERSION,
				 GCDL_FRAME_VERSION << 8 | GCDL_MSG__COUNT), GCDL_DROP_TYPE);
	ck_assert_int_eq(poked16(GCDL_MSG_ONEBIT, F_VERSION, GCDL_FRAME_VERSION << 8 | 0xFF),
			 GCDL_DROP_TYPE);

	/* a known type this receiver does not accept */
	fx_init(&f, GCDL_MSG_ONEBIT, 0, 0);
	fx_encode(&f);
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_NONE);
	f.lim.chunk_coords[GCDL_MSG_ONEBIT] = 0;
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_TYPE);

	fx_init(&f, GCDL_MSG_RESYNC, 0, 4);
	fx_encode(&f);
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_NONE);
	f.lim.chunk_coords[GCDL_MSG_RESYNC] = 0;
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_TYPE);
}
END_TEST

START_TEST(test_drop_flags)
{
	ck_assert_int_eq(poked16(GCDL_MSG_ONEBIT, F_FLAGS, 0x0002), GCDL_DROP_FLAGS);
	ck_assert_int_eq(poked16(GCDL_MSG_ONEBIT, F_FLAGS, 0x8000), GCDL_DROP_FLAGS);
	ck_assert_int_eq(poked16(GCDL_MSG_CONFIG, F_FLAGS, 0xFFFF), GCDL_DROP_FLAGS);
}
END_TEST

START_TEST(test_drop_length)
{
	struct fx f;
	uint16_t pl;

	/* one byte more than the unpadded frame holds */
	fx_init(&f, GCDL_MSG_ONEBIT, 0, 0);
	fx_encode(&f);
	pl = f.hdr.payload_len;
	poke16(f.buf, F_PAYLOAD_LEN, (uint16_t)(pl + 1));
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_LENGTH);
	poke16(f.buf, F_PAYLOAD_LEN, 0xFFFF);
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_LENGTH);

	/* a 4-byte control payload padded to 60 bytes: the padding may be
	 * claimed as payload (the CRC then covers it), one byte more may not */
	fx_init(&f, GCDL_MSG_CONFIG, 0, 4);
	fx_encode(&f);
	ck_assert_uint_eq(f.len, GCDL_ETH_MIN_FRAME);
	poke16(f.buf, F_PAYLOAD_LEN, GCDL_ETH_MIN_FRAME - GCDL_FRAME_OVERHEAD);
	ck_assert_int_eq(gcdl_frame_seal(f.buf, f.len), 0);
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_NONE);
	poke16(f.buf, F_PAYLOAD_LEN, GCDL_ETH_MIN_FRAME - GCDL_FRAME_OVERHEAD + 1);
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_LENGTH);
}
END_TEST

START_TEST(test_drop_crc)
{
	struct fx f;

	fx_init(&f, GCDL_MSG_ONEBIT, 1, 0);
	fx_encode(&f);
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_NONE);
	f.buf[f.len - 1] ^= 0x01; /* last payload byte */
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_CRC);
	f.buf[f.len - 1] ^= 0x01;
	f.buf[F_CRC + 3] ^= 0x80; /* the CRC itself */
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_CRC);
	f.buf[F_CRC + 3] ^= 0x80;
	f.buf[F_JOB] ^= 0x10; /* a header field after it would be JOB if resealed */
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_CRC);
	ck_assert_int_eq(gcdl_frame_seal(f.buf, f.len), 0);
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_JOB);
}
END_TEST

START_TEST(test_drop_job)
{
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, job_id, JOB + 1), GCDL_DROP_JOB);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, job_id, 0), GCDL_DROP_JOB);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_HELLO, 0, job_id, JOB ^ 0x80000000u),
			 GCDL_DROP_JOB);
}
END_TEST

START_TEST(test_drop_sender)
{
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, sender, SENDERS), GCDL_DROP_SENDER);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, sender, 0xFFFF), GCDL_DROP_SENDER);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, sender, SENDERS - 1), GCDL_DROP_NONE);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, sender, 0), GCDL_DROP_NONE);
}
END_TEST

START_TEST(test_drop_round)
{
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, round, RMIN - 1), GCDL_DROP_ROUND);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, round, RMAX + 1), GCDL_DROP_ROUND);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, round, 0), GCDL_DROP_ROUND);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, round, UINT32_MAX), GCDL_DROP_ROUND);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, round, RMIN), GCDL_DROP_NONE);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, round, RMAX), GCDL_DROP_NONE);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_RESYNC, 0, round, RMAX + 1), GCDL_DROP_ROUND);
}
END_TEST

START_TEST(test_drop_chunk)
{
	struct fx f;

	/* dim 25000, L 10240: chunks 0..2 exist, 3 starts at 30720 */
	fx_init(&f, GCDL_MSG_ONEBIT, 2, 0);
	f.hdr.chunk = 3;
	f.hdr.first_coord = 3 * L_ONEBIT;
	fx_encode(&f);
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_CHUNK);

	/* 419431 * 10240 = 2^32 + 6144: in 32 bits it would wrap to a chunk
	 * start inside the model and look consistent with first_coord 6144 */
	fx_init(&f, GCDL_MSG_ONEBIT, 0, 0);
	f.hdr.chunk = 419431;
	f.hdr.first_coord = (uint32_t)(419431u * L_ONEBIT);
	ck_assert_uint_eq(f.hdr.first_coord, 6144);
	fx_encode(&f);
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_CHUNK);

	fx_init(&f, GCDL_MSG_ONEBIT, 0, 0);
	f.hdr.chunk = UINT32_MAX;
	fx_encode(&f);
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_CHUNK);

	/* float, L 366: 68 * 366 = 24888 < 25000 <= 69 * 366 */
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_FLOAT, 68, chunk, 69), GCDL_DROP_CHUNK);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_FLOAT, 68, chunk, 68), GCDL_DROP_NONE);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_SIGN, 2, chunk, 3), GCDL_DROP_CHUNK);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_MODEL, 0, chunk, 70), GCDL_DROP_CHUNK);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_UPDATE, 0, chunk, 1000), GCDL_DROP_CHUNK);
}
END_TEST

START_TEST(test_drop_offset)
{
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 1, first_coord, L_ONEBIT + 1),
			 GCDL_DROP_OFFSET);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 1, first_coord, 0), GCDL_DROP_OFFSET);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, first_coord, L_ONEBIT),
			 GCDL_DROP_OFFSET);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_FLOAT, 3, first_coord, 3 * L_FLOAT - 1),
			 GCDL_DROP_OFFSET);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_SIGN, 1, first_coord, L_SIGN - 8),
			 GCDL_DROP_OFFSET);
	/* control frames: chunk and first coordinate must both be 0 */
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_HELLO, 0, chunk, 1), GCDL_DROP_OFFSET);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_CONFIG, 0, first_coord, 1), GCDL_DROP_OFFSET);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_RESYNC, 0, chunk, UINT32_MAX),
			 GCDL_DROP_OFFSET);
}
END_TEST

START_TEST(test_drop_count)
{
	/* full chunk claiming one coordinate less; payload_len stays that of
	 * the full chunk */
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, coord_count, L_ONEBIT - 1),
			 GCDL_DROP_COUNT);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, coord_count, L_ONEBIT + 1),
			 GCDL_DROP_COUNT);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, coord_count, 0), GCDL_DROP_COUNT);
	/* the last chunk (4520 coordinates) claiming a full one */
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 2, coord_count, L_ONEBIT),
			 GCDL_DROP_COUNT);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_FLOAT, 68, coord_count, L_FLOAT),
			 GCDL_DROP_COUNT);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_SIGN, 0, coord_count, UINT32_MAX),
			 GCDL_DROP_COUNT);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_HELLO, 0, coord_count, 1), GCDL_DROP_COUNT);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_RESYNC, 0, coord_count, 1000), GCDL_DROP_COUNT);
}
END_TEST

START_TEST(test_drop_scale_block)
{
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, scale_block, 64),
			 GCDL_DROP_SCALE_BLOCK);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, scale_block, 0),
			 GCDL_DROP_SCALE_BLOCK);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_FLOAT, 0, scale_block, 1),
			 GCDL_DROP_SCALE_BLOCK);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_SIGN, 0, scale_block, SB),
			 GCDL_DROP_SCALE_BLOCK);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_MODEL, 0, scale_block, 0xFFFF),
			 GCDL_DROP_SCALE_BLOCK);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_CONFIG, 0, scale_block, 1),
			 GCDL_DROP_SCALE_BLOCK);
}
END_TEST

START_TEST(test_drop_payload)
{
	/* 10240 coords, S 256: 40 scales + 1280 bytes = 1440 */
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, payload_len, 1439), GCDL_DROP_PAYLOAD);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, payload_len, 1441), GCDL_DROP_PAYLOAD);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, payload_len, 1280), GCDL_DROP_PAYLOAD);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, payload_len, 0), GCDL_DROP_PAYLOAD);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_ONEBIT, 0, payload_len, 1440), GCDL_DROP_NONE);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_FLOAT, 0, payload_len, 4 * L_FLOAT - 4),
			 GCDL_DROP_PAYLOAD);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_UPDATE, 0, payload_len, 4 * L_FLOAT + 4),
			 GCDL_DROP_PAYLOAD);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_SIGN, 0, payload_len, L_SIGN / 8 + 1),
			 GCDL_DROP_PAYLOAD);
	/* last sign chunk: 25000 - 23424 = 1576 coords, 197 bytes */
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_SIGN, 2, payload_len, 196), GCDL_DROP_PAYLOAD);
	ck_assert_int_eq(ENCODED_WITH(GCDL_MSG_SIGN, 2, payload_len, 197), GCDL_DROP_NONE);
}
END_TEST

/* ---- truncation and corruption ----------------------------------------- */

/* Every strict prefix of an unpadded frame is dropped; each prefix is copied
 * into a buffer of exactly its length so that ASan catches any over-read. */
START_TEST(test_truncation_every_length)
{
	static const int types[] = { GCDL_MSG_ONEBIT, GCDL_MSG_SIGN, GCDL_MSG_MODEL };

	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		struct fx f;

		fx_init(&f, types[t], 1, 0);
		fx_encode(&f);
		ck_assert_uint_eq(f.len, GCDL_FRAME_OVERHEAD + f.hdr.payload_len);
		for (size_t len = 0; len <= f.len; len++) {
			uint8_t *b = malloc(len ? len : 1);
			struct gcdl_frame_hdr h;
			const uint8_t *p;
			int ret;

			ck_assert_ptr_nonnull(b);
			memcpy(b, f.buf, len);
			ret = gcdl_frame_decode(b, len, &f.lim, &h, &p);
			if (len < GCDL_FRAME_OVERHEAD)
				ck_assert_int_eq(ret, GCDL_DROP_TRUNCATED);
			else if (len < f.len)
				ck_assert_int_eq(ret, GCDL_DROP_LENGTH);
			else
				ck_assert_int_eq(ret, GCDL_DROP_NONE);
			free(b);
		}
	}
}
END_TEST

/* A padded control frame: prefixes that still hold the payload are valid. */
START_TEST(test_truncation_padding)
{
	struct fx f;

	fx_init(&f, GCDL_MSG_HELLO, 0, 3);
	fx_encode(&f);
	ck_assert_uint_eq(f.len, GCDL_ETH_MIN_FRAME);
	for (size_t len = 0; len <= f.len; len++) {
		uint8_t *b = malloc(len ? len : 1);
		struct gcdl_frame_hdr h;
		const uint8_t *p;
		int ret;

		ck_assert_ptr_nonnull(b);
		memcpy(b, f.buf, len);
		ret = gcdl_frame_decode(b, len, &f.lim, &h, &p);
		if (len < GCDL_FRAME_OVERHEAD)
			ck_assert_int_eq(ret, GCDL_DROP_TRUNCATED);
		else if (len < GCDL_FRAME_OVERHEAD + 3)
			ck_assert_int_eq(ret, GCDL_DROP_LENGTH);
		else
			ck_assert_int_eq(ret, GCDL_DROP_NONE);
		free(b);
	}
}
END_TEST

/* CRC-32 detects every single-bit error; fields checked before the CRC may
 * catch a flip first. Flips in the MAC addresses are not the CRC's business. */
START_TEST(test_bit_flips)
{
	struct fx f;
	uint8_t orig[BUF_CAP];

	fx_init(&f, GCDL_MSG_ONEBIT, 1, 0);
	fx_encode(&f);
	memcpy(orig, f.buf, f.len);
	for (size_t bit = 0; bit < 8 * f.len; bit++) {
		struct gcdl_frame_hdr h;
		const uint8_t *p;
		int ret;

		f.buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ret = gcdl_frame_decode(f.buf, f.len, &f.lim, &h, &p);
		if (bit < 8 * F_ETHERTYPE) {
			ck_assert_int_eq(ret, GCDL_DROP_NONE);
			ck_assert_int_ne(memcmp(h.dst, MAC_DST, 6) | memcmp(h.src, MAC_SRC, 6), 0);
		} else if (bit < 8 * GCDL_ETH_HDR_LEN) {
			ck_assert_int_eq(ret, GCDL_DROP_ETHERTYPE);
		} else {
			ck_assert_int_gt(ret, GCDL_DROP_NONE);
			ck_assert_int_le(ret, GCDL_DROP_CRC);
		}
		f.buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	ck_assert_mem_eq(f.buf, orig, f.len);
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_NONE);
}
END_TEST

/* ---- valid frames ------------------------------------------------------ */

static void
assert_hdr_eq(const struct gcdl_frame_hdr *a, const struct gcdl_frame_hdr *b)
{
	ck_assert_mem_eq(a->dst, b->dst, 6);
	ck_assert_mem_eq(a->src, b->src, 6);
	ck_assert_uint_eq(a->type, b->type);
	ck_assert_uint_eq(a->job_id, b->job_id);
	ck_assert_uint_eq(a->round, b->round);
	ck_assert_uint_eq(a->sender, b->sender);
	ck_assert_uint_eq(a->chunk, b->chunk);
	ck_assert_uint_eq(a->first_coord, b->first_coord);
	ck_assert_uint_eq(a->coord_count, b->coord_count);
	ck_assert_uint_eq(a->scale_block, b->scale_block);
	ck_assert_uint_eq(a->payload_len, b->payload_len);
}

/* Loop index: type (1..8); the last chunk of each coordinate type too. */
START_TEST(test_roundtrip_each_type)
{
	const int type = _i;
	const uint32_t nchunks = has_coords(type) ? (DIM + chunk_len_of(type) - 1) /
							    chunk_len_of(type)
						  : 1;
	const uint32_t chunks[2] = { 0, nchunks - 1 };

	for (int c = 0; c < 2; c++) {
		struct fx f;
		struct gcdl_frame_hdr h;
		const uint8_t *p = NULL;
		size_t used;

		fx_init(&f, type, chunks[c], 100);
		if (type == GCDL_MSG_FLOAT || type == GCDL_MSG_UPDATE || type == GCDL_MSG_MODEL) {
			static float v[L_FLOAT], back[L_FLOAT];
			struct gcdl_rng r;

			gcdl_rng_init(&r, 99, GCDL_RNG_TEST, (uint32_t)type, (uint32_t)c);
			for (uint32_t j = 0; j < f.hdr.coord_count; j++)
				v[j] = (float)gcdl_rng_normal(&r);
			gcdl_frame_put_floats(f.payload, v, f.hdr.coord_count);
			fx_encode(&f);
			ck_assert_int_eq(gcdl_frame_decode(f.buf, f.len, &f.lim, &h, &p), 0);
			gcdl_frame_get_floats(back, p, h.coord_count);
			ck_assert_mem_eq(back, v, sizeof(float) * h.coord_count);
		} else {
			fx_encode(&f);
			ck_assert_int_eq(gcdl_frame_decode(f.buf, f.len, &f.lim, &h, &p), 0);
		}
		used = GCDL_FRAME_OVERHEAD + f.hdr.payload_len;
		ck_assert_uint_eq(f.len, used < 60 ? 60 : used);
		assert_hdr_eq(&h, &f.hdr);
		ck_assert_ptr_eq(p, f.buf + F_PAYLOAD);
		ck_assert_mem_eq(p, f.payload, f.hdr.payload_len);
		ck_assert_uint_gt(f.hdr.payload_len, 0);
		if (has_coords(type))
			ck_assert_uint_eq(h.first_coord + h.coord_count,
					  c == 0 ? chunk_len_of(type) : DIM);
	}
}
END_TEST

/* A 1-bit frame carrying the quantizer's real output, unpacked again. */
START_TEST(test_roundtrip_onebit_quant)
{
	static float v[L_ONEBIT], scales[L_ONEBIT / SB], got_scales[L_ONEBIT / SB];
	static float out_sent[L_ONEBIT], out_recv[L_ONEBIT];
	static uint8_t bits[L_ONEBIT / 8];
	const uint32_t nblk = L_ONEBIT / SB;
	struct gcdl_rng r;
	struct fx f;
	struct gcdl_frame_hdr h;
	const uint8_t *p;

	fx_init(&f, GCDL_MSG_ONEBIT, 1, 0);
	gcdl_rng_init(&r, 7, GCDL_RNG_TEST, 1, 2);
	for (uint32_t j = 0; j < L_ONEBIT; j++)
		v[j] = (float)gcdl_rng_normal(&r);
	ck_assert_int_eq(gcdl_quant_onebit(v, L_ONEBIT, SB, 42, f.hdr.round, f.hdr.sender, 1,
					   scales, bits),
			 0);
	ck_assert_uint_eq(f.hdr.payload_len, 4 * nblk + sizeof(bits));
	gcdl_frame_put_floats(f.payload, scales, nblk);
	memcpy(f.payload + 4 * nblk, bits, sizeof(bits));
	fx_encode(&f);

	ck_assert_int_eq(gcdl_frame_decode(f.buf, f.len, &f.lim, &h, &p), 0);
	gcdl_frame_get_floats(got_scales, p, gcdl_quant_blocks(h.coord_count, h.scale_block));
	ck_assert_mem_eq(got_scales, scales, sizeof(scales));
	ck_assert_mem_eq(p + 4 * nblk, bits, sizeof(bits));
	ck_assert_int_eq(gcdl_quant_unpack(bits, scales, L_ONEBIT, SB, out_sent), 0);
	ck_assert_int_eq(gcdl_quant_unpack(p + 4 * nblk, got_scales, h.coord_count,
					   h.scale_block, out_recv),
			 0);
	ck_assert_mem_eq(out_recv, out_sent, sizeof(out_sent));
	/* every unpacked value is +-B of its block, B = max |v| over the block */
	for (uint32_t j = 0; j < L_ONEBIT; j++) {
		float b = scales[j / SB];

		ck_assert(out_recv[j] == b || out_recv[j] == -b);
		ck_assert(b >= (v[j] < 0 ? -v[j] : v[j]));
	}
}
END_TEST

/* Hand-written bytes for every header field, read off the frame. */
START_TEST(test_wire_layout)
{
	struct gcdl_frame_hdr hdr = {
		.dst = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 },
		.src = { 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6 },
		.type = GCDL_MSG_SIGN,
		.job_id = 0x01020304,
		.round = 0x05060708,
		.sender = 0x090A,
		.chunk = 0x0B0C0D0E,
		.first_coord = 0x0F101112,
		.coord_count = 0x13141516,
		.scale_block = 0x1718,
		.payload_len = 3,
	};
	static const uint8_t want_hdr[GCDL_FRAME_OVERHEAD - 4] = {
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6,
		0x88, 0xB5, 0x47, 0x43, 0x02, 0x03, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
		0x07, 0x08, 0x09, 0x0A, 0x00, 0x00, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10,
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x00, 0x03,
	};
	const uint8_t payload[3] = { 0xDE, 0xAD, 0xBE };
	uint8_t buf[128], h0[GCDL_FRAME_HDR_LEN];
	uint32_t crc;

	memset(buf, 0xAA, sizeof(buf));
	ck_assert_int_eq(gcdl_frame_encode(&hdr, payload, buf, sizeof(buf)), 60);
	ck_assert_mem_eq(buf, want_hdr, sizeof(want_hdr));
	ck_assert_mem_eq(buf + F_PAYLOAD, payload, 3);
	for (size_t i = F_PAYLOAD + 3; i < 60; i++)
		ck_assert_uint_eq(buf[i], 0); /* zero padding */
	for (size_t i = 60; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], 0xAA); /* nothing written past the frame */

	/* CRC-32C over the gcdl header (crc zeroed) and the payload only, by the
	 * bitwise reference below */
	memcpy(h0, buf + GCDL_ETH_HDR_LEN, sizeof(h0));
	memset(h0 + 32, 0, 4);
	crc = ref_crc32c(0, h0, sizeof(h0));
	crc = ref_crc32c(crc, payload, 3);
	ck_assert_uint_eq(peek32(buf, F_CRC), (uint32_t)crc);

	/* other MACs, same CRC: the Ethernet header is not covered */
	hdr.dst[0] = 0x01;
	hdr.src[5] = 0x00;
	ck_assert_int_eq(gcdl_frame_encode(&hdr, payload, buf, sizeof(buf)), 60);
	ck_assert_uint_eq(peek32(buf, F_CRC), (uint32_t)crc);
	/* and a different payload byte changes it */
	hdr.payload_len = 2;
	ck_assert_int_eq(gcdl_frame_encode(&hdr, payload, buf, sizeof(buf)), 60);
	ck_assert_uint_ne(peek32(buf, F_CRC), (uint32_t)crc);
	ck_assert_uint_eq(peek16(buf, F_PAYLOAD_LEN), 2);
	ck_assert_uint_eq(buf[F_PAYLOAD + 2], 0);
}
END_TEST

/* A frame written field by field into a buffer and sealed equals the
 * encoder's output and decodes. */
START_TEST(test_seal_in_place)
{
	struct fx f;
	uint8_t b[BUF_CAP];

	fx_init(&f, GCDL_MSG_ONEBIT, 2, 0);
	fx_encode(&f);
	memcpy(b, f.buf, f.len);
	memset(b + F_CRC, 0x5A, 4);
	ck_assert_int_eq(gcdl_frame_seal(b, f.len), 0);
	ck_assert_mem_eq(b, f.buf, f.len);

	/* change the round in place and reseal: decodes with the new round */
	memcpy(f.buf, b, f.len);
	f.buf[F_ROUND + 3] = RMAX;
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_CRC);
	ck_assert_int_eq(gcdl_frame_seal(f.buf, f.len), 0);
	{
		struct gcdl_frame_hdr h;
		const uint8_t *p;

		ck_assert_int_eq(gcdl_frame_decode(f.buf, f.len, &f.lim, &h, &p), 0);
		ck_assert_uint_eq(h.round, RMAX);
	}
	/* sealing with trailing bytes beyond payload_len is allowed */
	ck_assert_int_eq(gcdl_frame_seal(f.buf, f.len + 10), 0);
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_NONE);
}
END_TEST

START_TEST(test_names)
{
	static const char *const drops[GCDL_DROP__COUNT] = {
		"none",	 "truncated", "ethertype", "magic",  "version",	    "type",
		"flags", "length",    "crc",	   "job",    "sender",	    "round",
		"chunk", "offset",    "count",	   "scale_block", "payload", "auth",
	};
	static const char *const types[GCDL_MSG__COUNT] = {
		NULL,	   "onebit", "float",  "sign",   "update", "model",
		"hello", "config", "resync", "commit", "repair", "update1",
	};

	for (int i = 0; i < GCDL_DROP__COUNT; i++)
		ck_assert_str_eq(gcdl_frame_drop_name(i), drops[i]);
	for (int i = 1; i < GCDL_MSG__COUNT; i++)
		ck_assert_str_eq(gcdl_frame_type_name(i), types[i]);
	ck_assert_int_eq(GCDL_DROP_CRC, 8);
	ck_assert_int_eq(GCDL_DROP__COUNT, 18);
}
END_TEST

START_TEST(test_payload_len)
{
	for (int t = GCDL_MSG_HELLO; t <= GCDL_MSG__COUNT; t++)
		ck_assert_uint_eq(gcdl_frame_payload_len(t, 100, 0),
				  t == GCDL_MSG_UPDATE1 ? 4 + 13 : 0);
	ck_assert_uint_eq(gcdl_frame_payload_len(0, 100, 0), 0);
	ck_assert_uint_eq(gcdl_frame_payload_len(-3, 100, 0), 0);
	for (int t = GCDL_MSG_ONEBIT; t <= GCDL_MSG_MODEL; t++)
		ck_assert_uint_eq(gcdl_frame_payload_len(t, 0, 256), 0);

	/* onebit: 4 bytes per block + ceil(count / 8) */
	ck_assert_uint_eq(gcdl_frame_payload_len(GCDL_MSG_ONEBIT, 10240, 256), 40 * 4 + 1280);
	ck_assert_uint_eq(gcdl_frame_payload_len(GCDL_MSG_ONEBIT, 10240, 0), 4 + 1280);
	ck_assert_uint_eq(gcdl_frame_payload_len(GCDL_MSG_ONEBIT, 257, 256), 8 + 33);
	ck_assert_uint_eq(gcdl_frame_payload_len(GCDL_MSG_ONEBIT, 1, 256), 4 + 1);
	ck_assert_uint_eq(gcdl_frame_payload_len(GCDL_MSG_ONEBIT, 4520, 256), 18 * 4 + 565);
	ck_assert_uint_eq(gcdl_frame_payload_len(GCDL_MSG_ONEBIT, 100, 3), 34 * 4 + 13);
	/* no 32-bit overflow: 2^32 - 1 blocks of one coordinate */
	ck_assert_uint_eq(gcdl_frame_payload_len(GCDL_MSG_ONEBIT, UINT32_MAX, 1),
			  4 * (size_t)UINT32_MAX + 536870912);
	ck_assert_uint_eq(gcdl_frame_payload_len(GCDL_MSG_FLOAT, 366, 256), 1464);
	ck_assert_uint_eq(gcdl_frame_payload_len(GCDL_MSG_UPDATE, 7, 0), 28);
	ck_assert_uint_eq(gcdl_frame_payload_len(GCDL_MSG_MODEL, UINT32_MAX, 0),
			  4 * (size_t)UINT32_MAX);
	ck_assert_uint_eq(gcdl_frame_payload_len(GCDL_MSG_SIGN, 9, 256), 2);
	ck_assert_uint_eq(gcdl_frame_payload_len(GCDL_MSG_SIGN, 8, 0), 1);
	/* the 1-bit update is laid out as a 1-bit gradient */
	ck_assert_uint_eq(gcdl_frame_payload_len(GCDL_MSG_UPDATE1, 4520, 256), 18 * 4 + 565);
}
END_TEST

START_TEST(test_chunk_coords_range)
{
	/* mtu below header + 8 or above the maximum */
	ck_assert_uint_eq(gcdl_frame_chunk_coords(GCDL_MSG_FLOAT, 0, 0), 0);
	ck_assert_uint_eq(gcdl_frame_chunk_coords(GCDL_MSG_FLOAT, GCDL_FRAME_HDR_LEN + 7, 0), 0);
	ck_assert_uint_eq(gcdl_frame_chunk_coords(GCDL_MSG_FLOAT, GCDL_MTU_MAX + 1, 0), 0);
	ck_assert_uint_eq(gcdl_frame_chunk_coords(GCDL_MSG_SIGN, UINT32_MAX, 0), 0);
	/* types without coordinates */
	for (int t = GCDL_MSG_HELLO; t <= GCDL_MSG__COUNT; t++)
		ck_assert_uint_eq(gcdl_frame_chunk_coords(t, 1500, 0),
				  t == GCDL_MSG_UPDATE1 ? gcdl_frame_chunk_coords(GCDL_MSG_ONEBIT, 1500, 0)
							: 0);
	ck_assert_uint_eq(gcdl_frame_chunk_coords(0, 1500, 0), 0);
	/* not even one block: mtu 44 leaves 8 bytes, a block of 256 needs 36 */
	ck_assert_uint_eq(gcdl_frame_chunk_coords(GCDL_MSG_ONEBIT, 44, 256), 0);
	ck_assert_uint_eq(gcdl_frame_chunk_coords(GCDL_MSG_ONEBIT, 71, 256), 0);
	ck_assert_uint_eq(gcdl_frame_chunk_coords(GCDL_MSG_ONEBIT, 72, 256), 256);
	/* S must fit the 16-bit header field (65536 would fit in a 9000 mtu) */
	ck_assert_uint_eq(gcdl_frame_chunk_coords(GCDL_MSG_ONEBIT, 9000, 65536), 0);
	ck_assert_uint_eq(gcdl_frame_chunk_coords(GCDL_MSG_ONEBIT, 9000, UINT32_MAX), 0);
	/* the smallest mtu */
	ck_assert_uint_eq(gcdl_frame_chunk_coords(GCDL_MSG_FLOAT, 44, 0), 2);
	ck_assert_uint_eq(gcdl_frame_chunk_coords(GCDL_MSG_SIGN, 44, 0), 64);
	ck_assert_uint_eq(gcdl_frame_chunk_coords(GCDL_MSG_ONEBIT, 44, 0), 32);
}
END_TEST

static uint32_t
lcm_s8(uint32_t s)
{
	uint32_t a = s, b = 8;

	while (b) {
		uint32_t t = a % b;

		a = b;
		b = t;
	}
	return s / a * 8;
}

START_TEST(test_chunk_coords_values)
{
	/* budget = mtu - 36: 1464 and 8964 bytes.
	 * float: budget / 4. sign: budget * 8.
	 * onebit S=0: (budget - 4) * 8. onebit S>0: units of lcm(S, 8) coords
	 * costing 4 * lcm/S + lcm/8 bytes: S=64: 12 B per 64, S=256: 36 B per
	 * 256, S=100: 33 B per 200, S=3: 35 B per 24, S=1: 33 B per 8. */
	static const struct {
		int type;
		uint32_t mtu, s, want;
	} cases[] = {
		{ GCDL_MSG_FLOAT, 1500, 0, 366 },      { GCDL_MSG_FLOAT, 9000, 0, 2241 },
		{ GCDL_MSG_UPDATE, 1500, 64, 366 },    { GCDL_MSG_UPDATE, 9000, 256, 2241 },
		{ GCDL_MSG_MODEL, 1500, 256, 366 },    { GCDL_MSG_MODEL, 9000, 64, 2241 },
		{ GCDL_MSG_SIGN, 1500, 0, 11712 },     { GCDL_MSG_SIGN, 1500, 64, 11712 },
		{ GCDL_MSG_SIGN, 1500, 256, 11712 },   { GCDL_MSG_SIGN, 9000, 0, 71712 },
		{ GCDL_MSG_SIGN, 9000, 256, 71712 },   { GCDL_MSG_ONEBIT, 1500, 0, 11680 },
		{ GCDL_MSG_ONEBIT, 1500, 64, 7808 },   { GCDL_MSG_ONEBIT, 1500, 256, 10240 },
		{ GCDL_MSG_ONEBIT, 9000, 0, 71680 },   { GCDL_MSG_ONEBIT, 9000, 64, 47808 },
		{ GCDL_MSG_ONEBIT, 9000, 256, 63744 }, { GCDL_MSG_ONEBIT, 1500, 100, 8800 },
		{ GCDL_MSG_ONEBIT, 1500, 3, 984 },     { GCDL_MSG_ONEBIT, 1500, 1, 352 },
		{ GCDL_MSG_FLOAT, 1501, 0, 366 },      { GCDL_MSG_FLOAT, 1503, 0, 366 },
		{ GCDL_MSG_FLOAT, 1504, 0, 367 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const int t = cases[i].type;
		const uint32_t mtu = cases[i].mtu, s = cases[i].s;
		uint32_t l = gcdl_frame_chunk_coords(t, mtu, s), step;
		struct gcdl_frame_hdr hdr = { .type = (uint8_t)t, .coord_count = l };
		static uint8_t payload[GCDL_MTU_MAX], buf[BUF_CAP];
		ssize_t n;

		ck_assert_msg(l == cases[i].want, "case %zu: type %d mtu %u S %u: %u != %u", i, t,
			      mtu, s, l, cases[i].want);
		if (t == GCDL_MSG_ONEBIT)
			step = s ? lcm_s8(s) : 8;
		else if (t == GCDL_MSG_SIGN)
			step = 8;
		else
			step = 1;
		ck_assert_uint_eq(l % step, 0);
		ck_assert_uint_le(GCDL_FRAME_HDR_LEN + gcdl_frame_payload_len(t, l, s), mtu);
		ck_assert_uint_gt(GCDL_FRAME_HDR_LEN + gcdl_frame_payload_len(t, l + step, s),
				  mtu);
		/* the encoded frame fits the mtu after the Ethernet header */
		hdr.scale_block = t == GCDL_MSG_ONEBIT ? (uint16_t)s : 0;
		hdr.payload_len = (uint16_t)gcdl_frame_payload_len(t, l, s);
		n = gcdl_frame_encode(&hdr, payload, buf, GCDL_ETH_HDR_LEN + mtu);
		ck_assert_int_eq(n, GCDL_FRAME_OVERHEAD + hdr.payload_len);
		ck_assert_int_le(n, GCDL_ETH_HDR_LEN + mtu);
	}
}
END_TEST

/* dim 25000, L 10240: chunks 0, 1 full, chunk 2 has 4520 coordinates. */
START_TEST(test_last_chunk)
{
	struct fx f;
	struct gcdl_frame_hdr h;
	const uint8_t *p;

	fx_init(&f, GCDL_MSG_ONEBIT, 2, 0);
	ck_assert_uint_eq(f.hdr.first_coord, 20480);
	ck_assert_uint_eq(f.hdr.coord_count, 4520);
	ck_assert_uint_eq(f.hdr.payload_len, 18 * 4 + 565);
	fx_encode(&f);
	ck_assert_int_eq(gcdl_frame_decode(f.buf, f.len, &f.lim, &h, &p), 0);
	ck_assert_uint_eq(h.coord_count, 4520);

	/* a model of exactly two chunks: the second one is full */
	f.lim.dim = 2 * L_ONEBIT;
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_CHUNK);
	fx_init(&f, GCDL_MSG_ONEBIT, 1, 0);
	f.lim.dim = 2 * L_ONEBIT;
	fx_encode(&f);
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_NONE);
	/* ... and with one coordinate less, one short */
	f.lim.dim = 2 * L_ONEBIT - 1;
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_COUNT);

	/* a model of one coordinate */
	fx_init(&f, GCDL_MSG_SIGN, 0, 0);
	f.lim.dim = 1;
	f.hdr.coord_count = 1;
	f.hdr.payload_len = 1;
	fx_encode(&f);
	ck_assert_uint_eq(f.len, GCDL_ETH_MIN_FRAME);
	ck_assert_int_eq(gcdl_frame_decode(f.buf, f.len, &f.lim, &h, &p), 0);
	/* and of none: nothing is accepted */
	f.lim.dim = 0;
	ck_assert_int_eq(fx_decode(&f), GCDL_DROP_CHUNK);
}
END_TEST

START_TEST(test_wire_bytes)
{
	ck_assert_uint_eq(gcdl_frame_wire_bytes(0), 64);
	ck_assert_uint_eq(gcdl_frame_wire_bytes(10), 64);
	ck_assert_uint_eq(gcdl_frame_wire_bytes(11), 65);
	ck_assert_uint_eq(gcdl_frame_wire_bytes(1440), 14 + 36 + 1440 + 4);
	ck_assert_uint_eq(gcdl_frame_wire_bytes(8964), 9018);
	ck_assert_uint_eq(gcdl_frame_wire_bytes(SIZE_MAX), SIZE_MAX);
}
END_TEST

START_TEST(test_floats_ignore_null)
{
	const float v[1] = { 1.0f };
	uint8_t b[4] = { 9, 9, 9, 9 };
	float f[1] = { 5.0f };

	gcdl_frame_put_floats(NULL, v, 1);
	gcdl_frame_put_floats(b, NULL, 1);
	gcdl_frame_get_floats(NULL, b, 1);
	gcdl_frame_get_floats(f, NULL, 1);
	ck_assert_uint_eq(b[0], 9);
	ck_assert_float_eq(f[0], 5.0f);
}
END_TEST

START_TEST(test_float_byte_order)
{
	const float v[4] = { 1.0f, -2.0f, 0.5f, 3.14159274f };
	static const uint8_t want[16] = {
		0x3f, 0x80, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00,
		0x3f, 0x00, 0x00, 0x00, 0x40, 0x49, 0x0f, 0xdb,
	};
	uint8_t b[1 + 16 + 1];
	float back[4] = { 0 };

	memset(b, 0xEE, sizeof(b));
	gcdl_frame_put_floats(b + 1, v, 4); /* unaligned */
	ck_assert_mem_eq(b + 1, want, 16);
	ck_assert_uint_eq(b[0], 0xEE);
	ck_assert_uint_eq(b[17], 0xEE);
	gcdl_frame_get_floats(back, b + 1, 4);
	ck_assert_mem_eq(back, v, sizeof(v));
	gcdl_frame_get_floats(back, want + 4, 1);
	ck_assert(back[0] == -2.0f);
	/* n = 0 touches nothing */
	gcdl_frame_put_floats(b, v, 0);
	ck_assert_uint_eq(b[0], 0xEE);
}
END_TEST

/* Update and model frames carry float32 values a replica adds to its
 * model: one NaN or infinity would end every replica (broadcast NaN update
 * frames made every worker exit 1). */
START_TEST(test_floats_finite)
{
	static const uint8_t bad[][4] = { { 0x7f, 0xc0, 0, 0 }, { 0xff, 0xc0, 0, 1 },
					  { 0x7f, 0x80, 0, 0 }, { 0xff, 0x80, 0, 0 },
					  { 0x7f, 0xff, 0xff, 0xff } };
	const float good[5] = { 0.0f, -0.0f, 3.4e38f, -3.4e38f, 1e-45f };
	uint8_t b[4 * 6];

	gcdl_frame_put_floats(b, good, 5);
	ck_assert(gcdl_frame_floats_finite(b, 5));
	ck_assert(gcdl_frame_floats_finite(NULL, 0));
	ck_assert(!gcdl_frame_floats_finite(NULL, 1));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* at the end, and in the middle */
		memcpy(b + 4 * 5, bad[i], 4);
		ck_assert_msg(!gcdl_frame_floats_finite(b, 6), "case %zu", i);
		ck_assert(gcdl_frame_floats_finite(b, 5));
		gcdl_frame_put_floats(b, good, 5);
		memcpy(b + 4 * 2, bad[i], 4);
		ck_assert(!gcdl_frame_floats_finite(b, 5));
		ck_assert(gcdl_frame_floats_finite(b, 2));
		gcdl_frame_put_floats(b, good, 5);
	}
}
END_TEST

/* 802.1Q (gcdl/vlan.h): what is not a tag of the VLAN asked about is
 * never taken for one. */
START_TEST(test_vlan_classify_rejects)
{
	uint8_t f[64];

	memset(f, 0, sizeof(f));
	f[12] = 0x88, f[13] = 0xb5;
	ck_assert_int_eq(gcdl_vlan_classify(NULL, sizeof(f), 100), GCDL_VLAN_UNTAGGED);
	ck_assert_int_eq(gcdl_vlan_classify(f, sizeof(f), 100), GCDL_VLAN_UNTAGGED);
	f[12] = 0x81, f[13] = 0x00, f[14] = 0x20, f[15] = 0x64;      /* PCP 1, VLAN 100 */
	ck_assert_int_eq(gcdl_vlan_classify(f, sizeof(f), 100), GCDL_VLAN_TAGGED);
	ck_assert_int_eq(gcdl_vlan_classify(f, sizeof(f), 200), GCDL_VLAN_OTHER);
	ck_assert_int_eq(gcdl_vlan_classify(f, sizeof(f), 0), GCDL_VLAN_OTHER);
	/* the id is 12 bits: 100 + 4096 is not 100 (the DEI and PCP bits are not it) */
	f[14] = 0x30;
	ck_assert_int_eq(gcdl_vlan_classify(f, sizeof(f), 100), GCDL_VLAN_TAGGED);
	f[14] = 0x01;
	ck_assert_int_eq(gcdl_vlan_classify(f, sizeof(f), 100), GCDL_VLAN_OTHER);
	/* a priority tag (VLAN 0) is an untagged node's, not a VLAN's */
	f[14] = 0xe0, f[15] = 0;
	ck_assert_int_eq(gcdl_vlan_classify(f, sizeof(f), 0), GCDL_VLAN_TAGGED);
	ck_assert_int_eq(gcdl_vlan_classify(f, sizeof(f), 100), GCDL_VLAN_OTHER);
	/* too short to hold a tag and an EtherType */
	f[14] = 0, f[15] = 100;
	ck_assert_int_eq(gcdl_vlan_classify(f, 17, 100), GCDL_VLAN_UNTAGGED);
	ck_assert_int_eq(gcdl_vlan_classify(f, 18, 100), GCDL_VLAN_TAGGED);
	/* another TPID (802.1ad) is not 802.1Q */
	f[12] = 0x88, f[13] = 0xa8;
	ck_assert_int_eq(gcdl_vlan_classify(f, sizeof(f), 100), GCDL_VLAN_UNTAGGED);
}
END_TEST

/* A tag inserted and stripped gives the frame back byte for byte, the copy
 * without the tag too, and the wire layout is 802.1Q's. */
START_TEST(test_vlan_roundtrip)
{
	uint8_t buf[4 + 80], tagged[84], copy[80], orig[80];

	for (size_t i = 0; i < sizeof(orig); i++)
		orig[i] = (uint8_t)(i * 7 + 1);
	memcpy(buf + 4, orig, sizeof(orig));
	ck_assert_uint_eq(gcdl_vlan_tci(100, 5), 0xa064);
	ck_assert_uint_eq(gcdl_vlan_tci(4094, 7), 0xeffe);
	ck_assert_uint_eq(gcdl_vlan_tci(4095 + 2, 9), 0x2001); /* masked to 12 and 3 bits */
	gcdl_vlan_insert(buf, gcdl_vlan_tci(100, 5));
	ck_assert_mem_eq(buf, orig, 12);
	ck_assert_uint_eq(buf[12], 0x81);
	ck_assert_uint_eq(buf[13], 0x00);
	ck_assert_uint_eq(buf[14], 0xa0);
	ck_assert_uint_eq(buf[15], 100);
	ck_assert_mem_eq(buf + 16, orig + 12, sizeof(orig) - 12);
	ck_assert_int_eq(gcdl_vlan_classify(buf, sizeof(buf), 100), GCDL_VLAN_TAGGED);
	memcpy(tagged, buf, sizeof(tagged));
	gcdl_vlan_copy_untagged(copy, tagged, sizeof(tagged));
	ck_assert_mem_eq(copy, orig, sizeof(orig));
	gcdl_vlan_strip(buf);
	ck_assert_mem_eq(buf + 4, orig, sizeof(orig));
}
END_TEST

static Suite *
frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *tc;

	tc = tcase_create("reject");
	tcase_add_test(tc, test_names_unknown);
	tcase_add_test(tc, test_encode_einval);
	tcase_add_test(tc, test_encode_enospc);
	tcase_add_test(tc, test_seal_einval);
	tcase_add_test(tc, test_decode_einval);
	tcase_add_test(tc, test_drop_truncated);
	tcase_add_test(tc, test_drop_ethertype);
	tcase_add_test(tc, test_drop_magic);
	tcase_add_test(tc, test_drop_version);
	tcase_add_test(tc, test_drop_type);
	tcase_add_test(tc, test_drop_flags);
	tcase_add_test(tc, test_drop_length);
	tcase_add_test(tc, test_drop_crc);
	tcase_add_test(tc, test_crc32c);
	tcase_add_test(tc, test_drop_job);
	tcase_add_test(tc, test_drop_sender);
	tcase_add_test(tc, test_drop_round);
	tcase_add_test(tc, test_drop_chunk);
	tcase_add_test(tc, test_drop_offset);
	tcase_add_test(tc, test_drop_count);
	tcase_add_test(tc, test_drop_scale_block);
	tcase_add_test(tc, test_drop_payload);
	tcase_add_test(tc, test_floats_finite);
	tcase_add_test(tc, test_vlan_classify_rejects);
	suite_add_tcase(s, tc);

	tc = tcase_create("corrupt");
	tcase_add_test(tc, test_truncation_every_length);
	tcase_add_test(tc, test_truncation_padding);
	tcase_add_test(tc, test_bit_flips);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("valid");
	tcase_add_loop_test(tc, test_roundtrip_each_type, GCDL_MSG_ONEBIT, GCDL_MSG__COUNT);
	tcase_add_test(tc, test_roundtrip_onebit_quant);
	tcase_add_test(tc, test_wire_layout);
	tcase_add_test(tc, test_seal_in_place);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_payload_len);
	tcase_add_test(tc, test_chunk_coords_range);
	tcase_add_test(tc, test_chunk_coords_values);
	tcase_add_test(tc, test_last_chunk);
	tcase_add_test(tc, test_wire_bytes);
	tcase_add_test(tc, test_vlan_roundtrip);
	tcase_add_test(tc, test_floats_ignore_null);
	tcase_add_test(tc, test_float_byte_order);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(frame_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
