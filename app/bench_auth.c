/* SPDX-License-Identifier: BSD-3-Clause */
/* gcdl-bench: the cost of the keyed frame tag per frame of a 1-bit chunk. */
#include <stdlib.h>
#include <string.h>

#include "gcdl/auth.h"
#include "gcdl/frame.h"

#include "bench_auth.h"

size_t
gcdl_bench_auth_bytes(uint32_t coords, uint32_t scale_block)
{
	uint32_t per = gcdl_frame_chunk_coords(GCDL_MSG_ONEBIT, GCDL_MTU_DEFAULT, scale_block);
	uint32_t full = per ? coords / per : 0, rest = per ? coords % per : 0;

	return (size_t)full * gcdl_frame_payload_len(GCDL_MSG_ONEBIT, per, scale_block) +
	       gcdl_frame_payload_len(GCDL_MSG_ONEBIT, rest, scale_block);
}

void
gcdl_bench_auth_run(uint32_t coords, uint32_t scale_block)
{
	static uint8_t frame[GCDL_MTU_MAX + 64], tag[GCDL_FRAME_TAG_LEN];
	static struct gcdl_auth key;
	static uint32_t per;
	static uint32_t S = UINT32_MAX;

	if (S != scale_block) {
		static uint8_t payload[GCDL_MTU_MAX];
		struct gcdl_frame_hdr h;

		S = scale_block;
		memset(&key, 0x5a, sizeof(key));
		per = gcdl_frame_chunk_coords(GCDL_MSG_ONEBIT, GCDL_MTU_DEFAULT, scale_block);
		memset(&h, 0, sizeof(h));
		h.type = GCDL_MSG_ONEBIT;
		h.coord_count = per;
		h.scale_block = (uint16_t)scale_block;
		h.payload_len = (uint16_t)gcdl_frame_payload_len(GCDL_MSG_ONEBIT, per, scale_block);
		for (size_t i = 0; i < sizeof(payload); i++)
			payload[i] = (uint8_t)(i * 131);
		if (gcdl_frame_encode(&h, payload, frame, sizeof(frame)) < 0)
			abort();
	}
	/* one full frame's tag per frame of the chunk (the last one is shorter
	 * in practice; counted full here) */
	for (uint32_t c = 0; per && c < coords; c += per)
		gcdl_auth_tag(&key, frame, sizeof(frame), tag);
	__asm__ volatile("" ::: "memory");
}
