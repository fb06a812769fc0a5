/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for gcdl_frame_decode().
 *
 * Each input is decoded as received, then once more with its CRC rewritten
 * (gcdl_frame_seal) so that the checks after the CRC are reached too. A frame
 * that decodes is read to its end: scales and bits of 1-bit frames are
 * unpacked, floats loaded, sign bits expanded.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I include tests/fuzz/fuzz_frame.c \
 *         lib/core/wire/frame.c lib/core/coding/quant.c lib/core/coding/rng.c -lz -lm
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/frame.h"
#include "gcdl/quant.h"

/* mtu 1500, S = 256, 25000 coordinates, 8 senders */
#define FUZZ_DIM 25000
#define FUZZ_S 256
#define FUZZ_MAX_COORDS 11712 /* the sign chunk, the longest */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct gcdl_frame_limits fuzz_lim = {
	.job_id = 7,
	.senders = 8,
	.dim = FUZZ_DIM,
	.round_min = 0,
	.round_max = 100,
	.scale_block = FUZZ_S,
	.chunk_coords = {
		[GCDL_MSG_ONEBIT] = 10240,
		[GCDL_MSG_FLOAT] = 366,
		[GCDL_MSG_SIGN] = 11712,
		[GCDL_MSG_UPDATE] = 366,
		[GCDL_MSG_MODEL] = 366,
		[GCDL_MSG_HELLO] = 1,
		[GCDL_MSG_CONFIG] = 1,
		[GCDL_MSG_RESYNC] = 1,
	},
};

static void
consume(const uint8_t *buf, size_t len)
{
	static const size_t max_blocks = FUZZ_MAX_COORDS / 8; /* S >= 8 here */
	float scales[FUZZ_MAX_COORDS / 8];
	float out[FUZZ_MAX_COORDS];
	struct gcdl_frame_hdr h;
	const uint8_t *p;
	uint32_t nblk;
	int ret;

	ret = gcdl_frame_decode(buf, len, &fuzz_lim, &h, &p);
	if (ret < 0 || ret >= GCDL_DROP__COUNT)
		abort();
	if (ret != GCDL_DROP_NONE)
		return;
	if (p != buf + GCDL_FRAME_OVERHEAD || GCDL_FRAME_OVERHEAD + (size_t)h.payload_len > len)
		abort();
	if (h.coord_count > FUZZ_MAX_COORDS)
		abort();

	switch (h.type) {
	case GCDL_MSG_ONEBIT:
		nblk = gcdl_quant_blocks(h.coord_count, h.scale_block);
		if (nblk > max_blocks || h.payload_len != 4 * (size_t)nblk +
					 gcdl_quant_packed_bytes(h.coord_count))
			abort();
		gcdl_frame_get_floats(scales, p, nblk);
		if (gcdl_quant_unpack(p + 4 * nblk, scales, h.coord_count, h.scale_block, out) != 0)
			abort();
		break;
	case GCDL_MSG_SIGN:
		if (gcdl_quant_unpack(p, NULL, h.coord_count, 0, out) != 0)
			abort();
		break;
	case GCDL_MSG_FLOAT:
	case GCDL_MSG_UPDATE:
	case GCDL_MSG_MODEL:
		gcdl_frame_get_floats(out, p, h.coord_count);
		break;
	default:
		/* control payloads are opaque: touch every byte */
		memcpy(out, p, h.payload_len < sizeof(out) ? h.payload_len : sizeof(out));
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	consume(data, size);

	/* the same bytes with a correct CRC, in a buffer of exactly their size */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	if (gcdl_frame_seal(copy, size) == 0)
		consume(copy, size);
	free(copy);
	return 0;
}
