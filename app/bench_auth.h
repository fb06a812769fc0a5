/* SPDX-License-Identifier: BSD-3-Clause */
/* gcdl-bench entry for frame authentication (gcdl/auth.h), apart from the
 * 1-bit kernels of gcdl_bench.c. */
#ifndef GCDL_BENCH_AUTH_H
#define GCDL_BENCH_AUTH_H

#include <stddef.h>
#include <stdint.h>

/* Payload bytes of the 1-bit frames of `coords` coordinates (scale block S). */
size_t gcdl_bench_auth_bytes(uint32_t coords, uint32_t scale_block);

/* Tag every 1500-byte-MTU 1-bit frame of `coords` coordinates once, as a
 * worker does before sending (gcdl_auth_tag over EtherType..payload end). */
void gcdl_bench_auth_run(uint32_t coords, uint32_t scale_block);

#endif
