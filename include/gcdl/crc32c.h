/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the frames'
 * integrity check: the SSE4.2 crc32 instruction where the CPU has it (8
 * bytes an instruction), else a table, with the same result on both.
 */
#ifndef GCDL_CRC32C_H
#define GCDL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Extend a CRC-32C over @p len bytes, zlib style: start with 0, pass the
 * previous result to continue (the pre- and post-inversions are inside).
 * gcdl_crc32c(0, "123456789", 9) = 0xE3069283.
 *
 * @param crc  0, or the CRC of the bytes before.
 * @param buf  the bytes (may be NULL when @p len is 0).
 * @param len  how many.
 * @return the CRC of everything so far.
 */
uint32_t gcdl_crc32c(uint32_t crc, const void *buf, size_t len);

/**
 * The same, by the table only (the reference the SSE4.2 path is tested
 * against).
 */
uint32_t gcdl_crc32c_table(uint32_t crc, const void *buf, size_t len);

/** 1 when gcdl_crc32c() uses the SSE4.2 instruction on this CPU. */
int gcdl_crc32c_hw(void);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_CRC32C_H */
