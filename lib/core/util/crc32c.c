/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC-32C: a 256-entry table built once, and the SSE4.2 crc32 instruction
 * (x86-64) chosen at run time. Both compute the same function; the test
 * suite checks them against each other and against the standard check value.
 */
#include <pthread.h>
#include <string.h>

#include "gcdl/crc32c.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define POLY 0x82F63B78u

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void
table_build(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
		table[i] = c;
	}
}

uint32_t
gcdl_crc32c_table(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_once(&table_once, table_build);
	crc = ~crc;
	for (size_t i = 0; i < len; i++)
		crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
	return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t
crc_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = ~crc;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w;

		memcpy(&w, p, 8); /* unaligned: the header follows a 14-byte Ethernet header */
		c = _mm_crc32_u64(c, w);
	}
	for (; len > 0; p++, len--)
		c = _mm_crc32_u8((uint32_t)c, *p);
	return ~(uint32_t)c;
}

int
gcdl_crc32c_hw(void)
{
	static int hw = -1;

	if (hw < 0) {
		__builtin_cpu_init();
		hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	}
	return hw;
}

uint32_t
gcdl_crc32c(uint32_t crc, const void *buf, size_t len)
{
	if (gcdl_crc32c_hw())
		return crc_sse42(crc, buf, len);
	return gcdl_crc32c_table(crc, buf, len);
}
#else
int
gcdl_crc32c_hw(void)
{
	return 0;
}

uint32_t
gcdl_crc32c(uint32_t crc, const void *buf, size_t len)
{
	return gcdl_crc32c_table(crc, buf, len);
}
#endif
