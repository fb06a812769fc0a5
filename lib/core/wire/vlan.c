/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <gcdl/vlan.h>

#define MACS 12

enum gcdl_vlan_class
gcdl_vlan_classify(const uint8_t *frame, size_t len, uint16_t vid)
{
	uint16_t got;

	if (frame == NULL || len < MACS + GCDL_VLAN_TAG_LEN + 2 || !gcdl_vlan_tagged(frame, len))
		return GCDL_VLAN_UNTAGGED;
	got = (uint16_t)(((frame[14] & 0x0f) << 8) | frame[15]);
	return got == vid ? GCDL_VLAN_TAGGED : GCDL_VLAN_OTHER;
}

void
gcdl_vlan_insert(uint8_t *frame, uint16_t tci)
{
	memmove(frame, frame + GCDL_VLAN_TAG_LEN, MACS);
	frame[12] = GCDL_VLAN_TPID >> 8;
	frame[13] = GCDL_VLAN_TPID & 0xff;
	frame[14] = (uint8_t)(tci >> 8);
	frame[15] = (uint8_t)tci;
}

void
gcdl_vlan_strip(uint8_t *frame)
{
	memmove(frame + GCDL_VLAN_TAG_LEN, frame, MACS);
}

void
gcdl_vlan_copy_untagged(uint8_t *dst, const uint8_t *frame, size_t len)
{
	memcpy(dst, frame, MACS);
	memcpy(dst + MACS, frame + MACS + GCDL_VLAN_TAG_LEN, len - MACS - GCDL_VLAN_TAG_LEN);
}
