/* SPDX-License-Identifier: BSD-3-Clause */
/* The gcdl wire format: encode, validate and decode raw Ethernet frames. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "gcdl/crc32c.h"
#include "gcdl/frame.h"
#include "gcdl/quant.h"

/* Field offsets inside the gcdl header (after the Ethernet header). */
#define OFF_MAGIC 0
#define OFF_VERSION 2
#define OFF_TYPE 3
#define OFF_JOB 4
#define OFF_ROUND 8
#define OFF_SENDER 12
#define OFF_FLAGS 14
#define OFF_CHUNK 16
#define OFF_FIRST 20
#define OFF_COUNT 24
#define OFF_SCALE_BLOCK 28
#define OFF_PAYLOAD_LEN 30
#define OFF_CRC 32

#define ETH_OFF_TYPE 12

static const char *const drop_names[GCDL_DROP__COUNT] = {
	[GCDL_DROP_NONE] = "none",
#define DROP_NAME(e, n, d) [GCDL_DROP_##e] = #n,
	GCDL_FRAME_DROPS(DROP_NAME)
#undef DROP_NAME
};

static const char *const type_names[GCDL_MSG__COUNT] = {
	[GCDL_MSG_ONEBIT] = "onebit",
	[GCDL_MSG_FLOAT] = "float",
	[GCDL_MSG_SIGN] = "sign",
	[GCDL_MSG_UPDATE] = "update",
	[GCDL_MSG_MODEL] = "model",
	[GCDL_MSG_UPDATE1] = "update1",
	[GCDL_MSG_HELLO] = "hello",
	[GCDL_MSG_CONFIG] = "config",
	[GCDL_MSG_RESYNC] = "resync",
	[GCDL_MSG_COMMIT] = "commit",
	[GCDL_MSG_REPAIR] = "repair",
};

static inline uint16_t
load16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return ntohs(v);
}

static inline uint32_t
load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return ntohl(v);
}

static inline void
store16(uint8_t *p, uint16_t v)
{
	v = htons(v);
	memcpy(p, &v, sizeof(v));
}

static inline void
store32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, sizeof(v));
}

static bool
type_valid(unsigned int type)
{
	return type >= GCDL_MSG_ONEBIT && type < GCDL_MSG__COUNT;
}

static bool
type_has_coords(unsigned int type)
{
	return (type >= GCDL_MSG_ONEBIT && type <= GCDL_MSG_MODEL) || type == GCDL_MSG_UPDATE1;
}

/* CRC-32C of the gcdl header with its crc field zeroed, then the payload. */
static uint32_t
frame_crc(const uint8_t *gh, const uint8_t *payload, uint16_t payload_len)
{
	uint8_t h[GCDL_FRAME_HDR_LEN];
	uint32_t crc;

	memcpy(h, gh, sizeof(h));
	memset(h + OFF_CRC, 0, 4);
	crc = gcdl_crc32c(0, h, sizeof(h));
	if (payload_len > 0)
		crc = gcdl_crc32c(crc, payload, payload_len);
	return crc;
}

const char *
gcdl_frame_drop_name(int reason)
{
	if (reason < 0 || reason >= GCDL_DROP__COUNT)
		return "unknown";
	return drop_names[reason];
}

const char *
gcdl_frame_type_name(int type)
{
	if (type < 0 || !type_valid((unsigned int)type))
		return "unknown";
	return type_names[type];
}

size_t
gcdl_frame_payload_len(int type, uint32_t count, uint32_t scale_block)
{
	if (count == 0)
		return 0;
	switch (type) {
	case GCDL_MSG_ONEBIT:
	case GCDL_MSG_UPDATE1:
		return 4 * (size_t)gcdl_quant_blocks(count, scale_block) +
		       gcdl_quant_packed_bytes(count);
	case GCDL_MSG_FLOAT:
	case GCDL_MSG_UPDATE:
	case GCDL_MSG_MODEL:
		return 4 * (size_t)count;
	case GCDL_MSG_SIGN:
		return gcdl_quant_packed_bytes(count);
	default:
		return 0;
	}
}

static uint64_t
gcd64(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

uint32_t
gcdl_frame_chunk_coords(int type, uint32_t mtu, uint32_t scale_block)
{
	uint64_t budget, unit, cost;

	if (mtu < GCDL_FRAME_HDR_LEN + 8 || mtu > GCDL_MTU_MAX)
		return 0;
	budget = mtu - GCDL_FRAME_HDR_LEN;

	switch (type) {
	case GCDL_MSG_FLOAT:
	case GCDL_MSG_UPDATE:
	case GCDL_MSG_MODEL:
		return (uint32_t)(budget / 4);
	case GCDL_MSG_SIGN:
		/* whole bytes of bits: L a multiple of 8 */
		return (uint32_t)(budget * 8);
	case GCDL_MSG_ONEBIT:
	case GCDL_MSG_UPDATE1:
		break;
	default:
		return 0;
	}

	if (scale_block == 0) {
		/* one scale, then whole bytes of bits */
		if (budget < 4)
			return 0;
		return (uint32_t)((budget - 4) * 8);
	}
	/* The header's scale_block field has 16 bits. */
	if (scale_block > UINT16_MAX)
		return 0;
	/* L is a whole number of units of lcm(S, 8) coordinates, each costing
	 * 4 bytes per scale block plus its packed bits. */
	unit = (uint64_t)scale_block / gcd64(scale_block, 8) * 8;
	cost = 4 * (unit / scale_block) + unit / 8;
	return (uint32_t)(budget / cost * unit);
}

size_t
gcdl_frame_wire_bytes(size_t payload_len)
{
	size_t len;

	if (payload_len > SIZE_MAX - GCDL_FRAME_OVERHEAD - GCDL_ETH_FCS_LEN)
		return SIZE_MAX;
	len = GCDL_FRAME_OVERHEAD + payload_len;
	if (len < GCDL_ETH_MIN_FRAME)
		len = GCDL_ETH_MIN_FRAME;
	return len + GCDL_ETH_FCS_LEN;
}

ssize_t
gcdl_frame_encode(const struct gcdl_frame_hdr *hdr, const void *payload, uint8_t *buf, size_t cap)
{
	size_t used, len;
	uint8_t *gh;

	if (hdr == NULL || buf == NULL || !type_valid(hdr->type))
		return -EINVAL;
	if (hdr->payload_len > 0 && payload == NULL)
		return -EINVAL;

	used = GCDL_FRAME_OVERHEAD + (size_t)hdr->payload_len;
	len = used < GCDL_ETH_MIN_FRAME ? GCDL_ETH_MIN_FRAME : used;
	if (len > cap)
		return -ENOSPC;

	memcpy(buf, hdr->dst, 6);
	memcpy(buf + 6, hdr->src, 6);
	store16(buf + ETH_OFF_TYPE, GCDL_ETHERTYPE);

	gh = buf + GCDL_ETH_HDR_LEN;
	store16(gh + OFF_MAGIC, GCDL_FRAME_MAGIC);
	gh[OFF_VERSION] = GCDL_FRAME_VERSION;
	gh[OFF_TYPE] = hdr->type;
	store32(gh + OFF_JOB, hdr->job_id);
	store32(gh + OFF_ROUND, hdr->round);
	store16(gh + OFF_SENDER, hdr->sender);
	store16(gh + OFF_FLAGS, 0);
	store32(gh + OFF_CHUNK, hdr->chunk);
	store32(gh + OFF_FIRST, hdr->first_coord);
	store32(gh + OFF_COUNT, hdr->coord_count);
	store16(gh + OFF_SCALE_BLOCK, hdr->scale_block);
	store16(gh + OFF_PAYLOAD_LEN, hdr->payload_len);
	if (hdr->payload_len > 0)
		memmove(buf + GCDL_FRAME_OVERHEAD, payload, hdr->payload_len);
	if (len > used)
		memset(buf + used, 0, len - used);
	store32(gh + OFF_CRC, frame_crc(gh, buf + GCDL_FRAME_OVERHEAD, hdr->payload_len));
	return (ssize_t)len;
}

int
gcdl_frame_seal(uint8_t *frame, size_t len)
{
	uint8_t *gh;
	uint16_t payload_len;

	if (frame == NULL || len < GCDL_FRAME_OVERHEAD)
		return -EINVAL;
	gh = frame + GCDL_ETH_HDR_LEN;
	payload_len = load16(gh + OFF_PAYLOAD_LEN);
	if (len - GCDL_FRAME_OVERHEAD < payload_len)
		return -EINVAL;
	store32(gh + OFF_CRC, frame_crc(gh, frame + GCDL_FRAME_OVERHEAD, payload_len));
	return 0;
}

/* Chunk, offset, count, scale block and payload of a frame with coordinates. */
static int
check_coords(const struct gcdl_frame_hdr *h, const struct gcdl_frame_limits *lim)
{
	uint64_t chunk_len = lim->chunk_coords[h->type];
	uint64_t first = (uint64_t)h->chunk * chunk_len;
	uint64_t count;

	if (first >= lim->dim)
		return GCDL_DROP_CHUNK;
	if (h->first_coord != first)
		return GCDL_DROP_OFFSET;
	count = lim->dim - first;
	if (count > chunk_len)
		count = chunk_len;
	if (h->coord_count != count)
		return GCDL_DROP_COUNT;
	if (h->scale_block != (h->type == GCDL_MSG_ONEBIT || h->type == GCDL_MSG_UPDATE1
				       ? lim->scale_block : 0))
		return GCDL_DROP_SCALE_BLOCK;
	if (h->payload_len != gcdl_frame_payload_len(h->type, h->coord_count, h->scale_block))
		return GCDL_DROP_PAYLOAD;
	return GCDL_DROP_NONE;
}

int
gcdl_frame_decode(const uint8_t *buf, size_t len, const struct gcdl_frame_limits *lim,
		  struct gcdl_frame_hdr *hdr, const uint8_t **payload)
{
	const uint8_t *gh;
	struct gcdl_frame_hdr h;
	int ret;

	if (buf == NULL || lim == NULL || hdr == NULL || payload == NULL)
		return -EINVAL;
	gh = buf + GCDL_ETH_HDR_LEN;
	if (len < GCDL_FRAME_OVERHEAD)
		return GCDL_DROP_TRUNCATED;
	if (load16(buf + ETH_OFF_TYPE) != GCDL_ETHERTYPE)
		return GCDL_DROP_ETHERTYPE;
	if (load16(gh + OFF_MAGIC) != GCDL_FRAME_MAGIC)
		return GCDL_DROP_MAGIC;
	if (gh[OFF_VERSION] != GCDL_FRAME_VERSION)
		return GCDL_DROP_VERSION;
	h.type = gh[OFF_TYPE];
	if (!type_valid(h.type) || lim->chunk_coords[h.type] == 0)
		return GCDL_DROP_TYPE;
	if ((load16(gh + OFF_FLAGS) & ~GCDL_FRAME_FLAG_AUTH) != 0)
		return GCDL_DROP_FLAGS;
	h.payload_len = load16(gh + OFF_PAYLOAD_LEN);
	if (len - GCDL_FRAME_OVERHEAD < (size_t)h.payload_len +
	    ((load16(gh + OFF_FLAGS) & GCDL_FRAME_FLAG_AUTH) ? GCDL_FRAME_TAG_LEN : 0u))
		return GCDL_DROP_LENGTH;
	if (load32(gh + OFF_CRC) != frame_crc(gh, buf + GCDL_FRAME_OVERHEAD, h.payload_len))
		return GCDL_DROP_CRC;

	h.job_id = load32(gh + OFF_JOB);
	if (h.job_id != lim->job_id)
		return GCDL_DROP_JOB;
	h.sender = load16(gh + OFF_SENDER);
	if (h.sender >= lim->senders)
		return GCDL_DROP_SENDER;
	h.round = load32(gh + OFF_ROUND);
	if (h.round < lim->round_min || h.round > lim->round_max)
		return GCDL_DROP_ROUND;
	h.chunk = load32(gh + OFF_CHUNK);
	h.first_coord = load32(gh + OFF_FIRST);
	h.coord_count = load32(gh + OFF_COUNT);
	h.scale_block = load16(gh + OFF_SCALE_BLOCK);

	if (type_has_coords(h.type)) {
		ret = check_coords(&h, lim);
		if (ret != GCDL_DROP_NONE)
			return ret;
	} else {
		if (h.chunk != 0 || h.first_coord != 0)
			return GCDL_DROP_OFFSET;
		if (h.coord_count != 0)
			return GCDL_DROP_COUNT;
		if (h.scale_block != 0)
			return GCDL_DROP_SCALE_BLOCK;
	}

	memcpy(h.dst, buf, 6);
	memcpy(h.src, buf + 6, 6);
	*hdr = h;
	*payload = buf + GCDL_FRAME_OVERHEAD;
	return GCDL_DROP_NONE;
}

void
gcdl_frame_put_floats(uint8_t *dst, const float *src, size_t n)
{
	if (dst == NULL || src == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;

		memcpy(&u, &src[i], sizeof(u));
		u = htonl(u);
		memcpy(dst + 4 * i, &u, sizeof(u));
	}
}

bool
gcdl_frame_floats_finite(const uint8_t *src, size_t n)
{
	if (src == NULL)
		return n == 0;
	for (size_t i = 0; i < n; i++) {
		/* big-endian: the exponent is in bits 30..23 of the word */
		uint32_t hi = (uint32_t)src[4 * i] << 8 | src[4 * i + 1];

		if ((hi & 0x7f80) == 0x7f80)
			return false;
	}
	return true;
}

void
gcdl_frame_get_floats(float *dst, const uint8_t *src, size_t n)
{
	if (dst == NULL || src == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;

		memcpy(&u, src + 4 * i, sizeof(u));
		u = ntohl(u);
		memcpy(&dst[i], &u, sizeof(u));
	}
}
