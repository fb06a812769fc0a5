/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The gcdl wire format: raw Ethernet frames, EtherType 0x88B5.
 *
 * Layout (network byte order), after the 14-byte Ethernet header:
 *
 *     off size field
 *       0  2   magic        0x4743 ("GC")
 *       2  1   version      2
 *       3  1   type         enum gcdl_msg_type
 *       4  4   job_id
 *       8  4   round
 *      12  2   sender       node id (worker k, or the aggregator's id)
 *      14  2   flags        0, or GCDL_FRAME_FLAG_AUTH; other bits must be 0
 *      16  4   chunk        chunk index
 *      20  4   first_coord  chunk * chunk_coords for the type
 *      24  4   coord_count  coordinates carried
 *      28  2   scale_block  S for 1-bit frames (0: one scale per chunk), else 0
 *      30  2   payload_len  bytes of payload after the header
 *      32  4   crc32        CRC-32C (Castagnoli, gcdl/crc32c.h) of header (crc
 *                           field zeroed) + payload; version 1 had zlib's CRC-32
 *      36      payload
 *       .  16  tag          only with GCDL_FRAME_FLAG_AUTH: keyed BLAKE2b-128 of
 *                           the EtherType to the payload's end (gcdl/auth.h)
 *
 * Payloads: 1-bit gradient and 1-bit update = block scales (float32,
 * big-endian) then packed bits; float32 gradient, update and model = coord_count big-endian float32;
 * sign = packed bits only; hello/config/resync carry opaque bytes whose
 * meaning belongs to the control protocol (coord_count = 0); commit and
 * repair carry the mesh's contribution sets (gcdl/mesh.h, coord_count = 0).
 *
 * gcdl_frame_decode() validates every field, in the order of the
 * enum gcdl_frame_drop, before it reads the payload, and never reads past
 * the buffer it is given.
 */
#ifndef GCDL_FRAME_H
#define GCDL_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GCDL_ETHERTYPE 0x88B5       /**< IEEE 802 local experimental */
#define GCDL_FRAME_MAGIC 0x4743     /**< "GC" */
#define GCDL_FRAME_VERSION 2 /**< 2: CRC-32C; 1 (zlib CRC-32) is refused */
#define GCDL_ETH_HDR_LEN 14         /**< dst, src, EtherType */
#define GCDL_FRAME_HDR_LEN 36       /**< gcdl header after Ethernet */
#define GCDL_FRAME_OVERHEAD (GCDL_ETH_HDR_LEN + GCDL_FRAME_HDR_LEN)
#define GCDL_ETH_MIN_FRAME 60       /**< shortest Ethernet frame without FCS */
#define GCDL_ETH_FCS_LEN 4
#define GCDL_MTU_DEFAULT 1500
#define GCDL_FRAME_FLAG_AUTH 0x0001 /**< a 16-byte tag follows the payload */
#define GCDL_FRAME_TAG_LEN 16       /**< bytes of the tag */
#define GCDL_MTU_MAX 9000

/** Message types. */
enum gcdl_msg_type {
	GCDL_MSG_ONEBIT = 1, /**< 1-bit gradient chunk: scales + packed bits */
	GCDL_MSG_FLOAT,      /**< float32 gradient chunk */
	GCDL_MSG_SIGN,       /**< sign bits (signSGD) */
	GCDL_MSG_UPDATE,     /**< the round's decoded update, float32 */
	GCDL_MSG_MODEL,      /**< full model chunk, float32 */
	GCDL_MSG_HELLO,      /**< join/hello */
	GCDL_MSG_CONFIG,     /**< configuration / shard assignment */
	GCDL_MSG_RESYNC,     /**< resync request */
	GCDL_MSG_COMMIT,     /**< mesh: the round's committed contribution set (gcdl/mesh.h) */
	GCDL_MSG_REPAIR,     /**< mesh: request for missing contributions or a commit;
			      *   star: a worker's request for missing downlink frames */
	GCDL_MSG_UPDATE1,    /**< the round's update at 1 bit per coordinate: block scales
			      *   and sign bits, as a 1-bit gradient (downlink.mode onebit) */
	GCDL_MSG__COUNT
};

/**
 * Reasons a frame is dropped, in the order gcdl_frame_decode() checks them:
 * one list that makes the enum, the counter names ("drop_<name>") of every
 * summary, telemetry reply and JSON summary, and their descriptions.
 * _(ENUM, name, description)
 */
#define GCDL_FRAME_DROPS(_)                                                                 \
	_(TRUNCATED, truncated, "shorter than Ethernet + gcdl header")                      \
	_(ETHERTYPE, ethertype, "not EtherType 0x88B5")                                     \
	_(MAGIC, magic, "wrong magic")                                                      \
	_(VERSION, version, "another frame version")                                        \
	_(TYPE, type, "unknown type, or a type this node does not accept")                  \
	_(FLAGS, flags, "reserved flag bits set")                                           \
	_(LENGTH, length, "payload_len runs past the end of the frame")                     \
	_(CRC, crc, "CRC mismatch")                                                         \
	_(JOB, job, "another job id")                                                       \
	_(SENDER, sender, "sender id out of range, or not allowed to send this")            \
	_(ROUND, round, "round outside the accepted window")                                \
	_(CHUNK, chunk, "chunk index beyond the model, or not this node's")                 \
	_(OFFSET, offset, "first_coord is not chunk * chunk_coords")                        \
	_(COUNT, count, "coord_count is not the chunk's length")                            \
	_(SCALE_BLOCK, scale_block, "scale_block differs from the job's")                   \
	_(PAYLOAD, payload, "payload_len does not match type and count, or a bad payload")  \
	_(AUTH, auth, "tag missing or wrong (a job key is set)")

/** Reasons a frame is dropped (GCDL_FRAME_DROPS); 0 is "not dropped". */
enum gcdl_frame_drop {
	GCDL_DROP_NONE = 0,
#define GCDL_DROP_ENUM_(e, n, d) GCDL_DROP_##e,
	GCDL_FRAME_DROPS(GCDL_DROP_ENUM_)
#undef GCDL_DROP_ENUM_
	GCDL_DROP__COUNT
};

/** A frame's header fields in host order. */
struct gcdl_frame_hdr {
	uint8_t dst[6];        /**< destination MAC */
	uint8_t src[6];        /**< source MAC */
	uint8_t type;          /**< enum gcdl_msg_type */
	uint32_t job_id;
	uint32_t round;
	uint16_t sender;
	uint32_t chunk;
	uint32_t first_coord;
	uint32_t coord_count;
	uint16_t scale_block;
	uint16_t payload_len;
};

/** What a receiver accepts; frames outside it are dropped. */
struct gcdl_frame_limits {
	uint32_t job_id;
	uint32_t senders;      /**< sender ids 0..senders-1 are accepted */
	uint32_t dim;          /**< model coordinates */
	uint32_t round_min;    /**< accepted rounds: [round_min, round_max] */
	uint32_t round_max;
	uint16_t scale_block;  /**< the job's S, checked on 1-bit frames */
	/** coordinates per chunk for each type; 0 = type not accepted. Types
	 *  without coordinates (hello, config, resync) use 1 to be accepted. */
	uint32_t chunk_coords[GCDL_MSG__COUNT];
};

/**
 * Name of a drop reason, for counters and logs ("truncated", "crc", ...).
 *
 * @param reason  an enum gcdl_frame_drop value.
 * @return a static string, "unknown" outside the enum.
 */
const char *gcdl_frame_drop_name(int reason);

/**
 * Name of a message type ("onebit", "float", ...).
 *
 * @param type  an enum gcdl_msg_type value.
 * @return a static string, "unknown" outside the enum.
 */
const char *gcdl_frame_type_name(int type);

/**
 * Payload bytes a gradient or model message of this type carries.
 *
 * @param type         message type with coordinates (onebit, float, sign, update, model).
 * @param count        coordinates.
 * @param scale_block  S for onebit (0: one scale).
 * @return the payload length, or 0 for a type without coordinates or count 0.
 */
size_t gcdl_frame_payload_len(int type, uint32_t count, uint32_t scale_block);

/**
 * Most coordinates one frame of this type carries within an MTU.
 *
 * For onebit frames with S > 0 the result is a multiple of S (and of 8), so
 * that scale blocks never straddle frames.
 *
 * @param type         message type with coordinates.
 * @param mtu          Ethernet MTU (payload bytes after the Ethernet header),
 *                     GCDL_FRAME_HDR_LEN+8 .. GCDL_MTU_MAX.
 * @param scale_block  S for onebit frames.
 * @return the coordinate count, or 0 when the type has no coordinates, the MTU
 *         is out of range, or not even one block fits.
 */
uint32_t gcdl_frame_chunk_coords(int type, uint32_t mtu, uint32_t scale_block);

/**
 * Bytes a frame occupies on the wire: Ethernet header, gcdl header, payload,
 * padding to the 60-byte minimum and the 4-byte FCS (preamble and gap excluded).
 *
 * @param payload_len  payload bytes.
 * @return the frame's wire size in bytes.
 */
size_t gcdl_frame_wire_bytes(size_t payload_len);

/**
 * Encode a frame: Ethernet header, gcdl header with CRC, payload.
 *
 * The payload is copied as given (callers put floats in big-endian order,
 * see gcdl_frame_put_floats()). Frames shorter than 60 bytes are zero-padded.
 *
 * @param hdr      header fields; hdr->payload_len bytes are taken from payload.
 * @param payload  payload bytes (may be NULL when payload_len is 0).
 * @param buf      output buffer.
 * @param cap      its capacity.
 * @return the frame length written (>= 60), -EINVAL for NULL pointers or an
 *         unknown type, -ENOSPC when the frame does not fit in @p cap.
 */
ssize_t gcdl_frame_encode(const struct gcdl_frame_hdr *hdr, const void *payload, uint8_t *buf,
			  size_t cap);

/**
 * Write the CRC of a frame whose header and payload are already in place.
 *
 * @param frame  the frame (Ethernet header first).
 * @param len    its length, at least GCDL_FRAME_OVERHEAD + payload_len.
 * @return 0, or -EINVAL for NULL or a too-short frame.
 */
int gcdl_frame_seal(uint8_t *frame, size_t len);

/**
 * Validate and decode a frame.
 *
 * @param buf      the received bytes, Ethernet header first.
 * @param len      how many bytes were received.
 * @param lim      what this receiver accepts.
 * @param hdr      receives the header fields (valid only on success).
 * @param payload  receives a pointer into @p buf at the payload.
 * @return 0 for a valid frame; otherwise a positive enum gcdl_frame_drop
 *         reason; -EINVAL for NULL arguments.
 */
int gcdl_frame_decode(const uint8_t *buf, size_t len, const struct gcdl_frame_limits *lim,
		      struct gcdl_frame_hdr *hdr, const uint8_t **payload);

/**
 * Store floats as big-endian float32 (unaligned destination allowed).
 *
 * @param dst  destination, 4*n bytes.
 * @param src  host floats.
 * @param n    number of values.
 * NULL pointers are ignored.
 */
void gcdl_frame_put_floats(uint8_t *dst, const float *src, size_t n);

/**
 * Load big-endian float32 values into host floats (unaligned source allowed).
 *
 * @param dst  host floats.
 * @param src  source, 4*n bytes.
 * @param n    number of values.
 * NULL pointers are ignored.
 */
void gcdl_frame_get_floats(float *dst, const uint8_t *src, size_t n);

/**
 * Whether every one of n big-endian float32 values is finite (neither NaN
 * nor infinite): the exponent bits of a non-finite float are all ones.
 *
 * @param src  4*n bytes.
 * @param n    number of values.
 * @return true when all are finite (also for n = 0); false for NULL @p src
 *         with n > 0.
 */
bool gcdl_frame_floats_finite(const uint8_t *src, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_FRAME_H */
