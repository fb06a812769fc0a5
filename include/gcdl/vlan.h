/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * 802.1Q VLAN tags on gcdl frames (network.vlan): a node on a VLAN inserts
 * the tag (TPID 0x8100, priority and VLAN id) after the source MAC of every
 * frame it sends and takes only frames tagged with its VLAN, which it
 * strips before anything else reads them; the rest of gcdl (frames, CRC,
 * tags of the job key) sees untagged frames only. Pure C over bytes: the
 * data plane moves the mbuf's start, these move the 12 MAC bytes.
 */
#ifndef GCDL_VLAN_H
#define GCDL_VLAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GCDL_VLAN_TPID 0x8100   /**< the 802.1Q tag's EtherType */
#define GCDL_VLAN_TAG_LEN 4     /**< bytes the tag adds to a frame */
#define GCDL_VLAN_MAX_ID 4094   /**< largest VLAN id (4095 is reserved) */

/** What gcdl_vlan_classify() finds in a frame. */
enum gcdl_vlan_class {
	GCDL_VLAN_UNTAGGED = 0, /**< no 802.1Q tag */
	GCDL_VLAN_TAGGED,       /**< tagged with the VLAN asked about (0: a priority tag) */
	GCDL_VLAN_OTHER,        /**< tagged with another VLAN */
};

/**
 * The tag control information of a VLAN id and priority.
 *
 * @param vid       1..4094.
 * @param priority  802.1p priority code point, 0..7.
 * @return the 16-bit TCI.
 */
static inline uint16_t
gcdl_vlan_tci(uint16_t vid, uint8_t priority)
{
	return (uint16_t)(((unsigned)(priority & 7) << 13) | (vid & 0xfff));
}

/**
 * Whether a frame carries an 802.1Q tag (its EtherType field is the TPID).
 *
 * @param frame  the frame from its destination MAC.
 * @param len    its length.
 * @return 1 or 0.
 */
static inline int
gcdl_vlan_tagged(const uint8_t *frame, size_t len)
{
	return len >= 14 && frame[12] == (GCDL_VLAN_TPID >> 8) &&
	       frame[13] == (GCDL_VLAN_TPID & 0xff);
}

/**
 * Classify a received frame by its 802.1Q tag.
 *
 * @param frame  the frame from its destination MAC.
 * @param len    its length; a frame too short to hold a tag is untagged.
 * @param vid    the VLAN id asked about (0: untagged, which takes a
 *               priority tag, VLAN id 0, too).
 * @return GCDL_VLAN_TAGGED when the tag carries @p vid, GCDL_VLAN_OTHER
 *         when it carries another id, GCDL_VLAN_UNTAGGED without a tag.
 */
enum gcdl_vlan_class gcdl_vlan_classify(const uint8_t *frame, size_t len, uint16_t vid);

/**
 * Make the tag of a frame whose start was moved 4 bytes earlier: @p frame
 * points at the new start; the 12 MAC bytes are moved down from
 * frame + 4 and the tag written after them.
 *
 * @param frame  the new start (4 bytes before the untagged frame).
 * @param tci    gcdl_vlan_tci().
 */
void gcdl_vlan_insert(uint8_t *frame, uint16_t tci);

/**
 * Remove the tag of a tagged frame in place: the 12 MAC bytes move up by 4
 * bytes; the untagged frame starts at @p frame + GCDL_VLAN_TAG_LEN.
 *
 * @param frame  the tagged frame (at least 16 bytes).
 */
void gcdl_vlan_strip(uint8_t *frame);

/**
 * Copy a tagged frame without its tag.
 *
 * @param dst    room for @p len - 4 bytes.
 * @param frame  the tagged frame.
 * @param len    its length, at least 16.
 */
void gcdl_vlan_copy_untagged(uint8_t *dst, const uint8_t *frame, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_VLAN_H */
