/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Frame authentication with a job key (profile key job.key_file).
 *
 * With a key, every frame carries GCDL_FRAME_FLAG_AUTH and, right after its
 * payload, a 16-byte tag: keyed BLAKE2b (libsodium crypto_generichash, the
 * job key as its 32-byte key, 16-byte output) over the frame from the
 * EtherType to the end of the payload, CRC included. Receivers verify it
 * (constant time) after gcdl_frame_decode() and before anything of the frame
 * is used; a frame without a tag or with a wrong one is dropped as
 * GCDL_DROP_AUTH. Frames of closed rounds stay late and duplicates stay
 * duplicates: a replayed genuine frame never reaches the accumulators.
 *
 * Run binding: the node that starts a run (the aggregator, mesh peer 0)
 * draws a random 64-bit session id; the frames of the run are tagged with
 * the session key gcdl_auth_session() derives from the job key and that id,
 * except the hello and config that let a node learn the id (tagged with the
 * job key, made fresh by the worker's random incarnation the config echoes:
 * gcdl/join.h). A frame captured in an earlier run never verifies in a
 * later one.
 *
 * Why keyed BLAKE2b: one pass over the bytes, no nonce (so a round that is
 * computed again after a --resume, or a retransmission, can never reuse a
 * one-time key the way Poly1305 would), and fast on short messages: the
 * per-frame cost is measured by gcdl-bench (kernel auth_tag).
 */
#ifndef GCDL_AUTH_H
#define GCDL_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GCDL_AUTH_KEY_LEN 32

/** A job key. */
struct gcdl_auth {
	uint8_t key[GCDL_AUTH_KEY_LEN];
};

/**
 * Read a job key file: exactly 32 bytes, or 64 hexadecimal digits (one
 * trailing newline allowed). The file must be a regular file not readable,
 * writable or executable by group or others (chmod 600).
 *
 * @param a       receives the key.
 * @param path    the file.
 * @param err     receives the reason on failure (the caller names the key and file).
 * @param errlen  size of @p err.
 * @return 0; -EINVAL for NULL arguments or a file of the wrong size or
 *         format; -EPERM for a file group or others may access; the
 *         negative errno of opening or reading it.
 */
int gcdl_auth_key_load(struct gcdl_auth *a, const char *path, char *err, size_t errlen);

/**
 * Write a new job key file: 64 hexadecimal digits of a random 32-byte key
 * (libsodium's randombytes) and a newline, mode 600. An existing file is
 * never overwritten.
 *
 * @param path    the file to create.
 * @param err     receives the reason on failure.
 * @param errlen  size of @p err.
 * @return 0; -EINVAL for NULL; -EEXIST when the path exists; the negative
 *         errno of creating or writing it.
 */
int gcdl_auth_key_generate(const char *path, char *err, size_t errlen);

/**
 * Derive a run's session key: keyed BLAKE2b-256 (the job key as its key) of
 * "gcdl-session" and the session id (8 bytes, big-endian).
 *
 * @param job      the job key.
 * @param session  the run's session id.
 * @param out      receives the session key (may be @p job itself).
 * @return 0, or -EINVAL for NULL.
 */
int gcdl_auth_session(const struct gcdl_auth *job, uint64_t session, struct gcdl_auth *out);

/**
 * Compute the tag of a frame: BLAKE2b-128 keyed with the job key over bytes
 * 12 .. GCDL_FRAME_OVERHEAD + payload_len.
 *
 * @param a      the key.
 * @param frame  the frame (header with its payload_len in place).
 * @param len    bytes available in @p frame.
 * @param tag    receives GCDL_FRAME_TAG_LEN bytes.
 * @return 0, or -EINVAL for NULL or a frame shorter than its header and payload.
 */
int gcdl_auth_tag(const struct gcdl_auth *a, const uint8_t *frame, size_t len, uint8_t *tag);

/**
 * Seal a frame whose header and payload are in place: set
 * GCDL_FRAME_FLAG_AUTH, write the CRC (gcdl_frame_seal()), append the tag
 * after the payload and zero-pad to 60 bytes.
 *
 * @param a      the key.
 * @param frame  the frame.
 * @param cap    its buffer's capacity.
 * @return the frame length, or -EINVAL for NULL or a frame shorter than its
 *         header, -ENOSPC when the tag does not fit.
 */
ssize_t gcdl_auth_seal(const struct gcdl_auth *a, uint8_t *frame, size_t cap);

/**
 * Verify a frame that gcdl_frame_decode() accepted.
 *
 * @param a      the key.
 * @param frame  the frame.
 * @param len    its length.
 * @return 0 for an authentic frame; GCDL_DROP_AUTH for a frame without
 *         GCDL_FRAME_FLAG_AUTH, too short for its tag, or with a wrong tag;
 *         -EINVAL for NULL arguments.
 */
int gcdl_auth_verify(const struct gcdl_auth *a, const uint8_t *frame, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_AUTH_H */
