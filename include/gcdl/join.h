/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The join protocol of multi-host jobs (docs/MULTIHOST.md), free of DPDK:
 * the payloads of hello, resync and config frames, the ownership of chunk
 * and coordinate ranges by the aggregators of a sharded job, MAC lists, the
 * aggregator's table of workers and the worker's view of one aggregator.
 *
 *     worker k                                   aggregator a
 *     HELLO(job, k, profile hash, incarnation)  ─►  same hash and 0 <= k < N?
 *                                               ◄─  CONFIG(CHALLENGE, incarnation
 *                                                   echoed, session)   [job key only]
 *     RESYNC(k, incarnation), session key       ─►  proves the key and the run
 *                                               ◄─  CONFIG(status, incarnation echoed,
 *                                                   session, round t, dims,
 *                                                   ranges, k's partitions)
 *                                               ◄─  MODEL frames: w_t (a's range)
 *     gradient frames of t, t+1, ...            ─►
 *                                               ◄─  UPDATE frames of every round
 *     RESYNC (missed an update)                 ─►  answered like a proven HELLO
 *
 * A worker with another profile hash is answered with a refusing CONFIG
 * that carries the aggregator's hash, so both sides can say what differs.
 * All multi-byte fields are big-endian.
 *
 * Run binding (with a job key, gcdl/auth.h): the aggregator draws a random
 * session id when it starts; HELLO and CONFIG are tagged with the job key,
 * every other frame with the session's key. A worker takes only the CONFIG
 * that echoes its own incarnation (a random 64-bit number per process
 * start), so a config from an earlier run, or meant for another process,
 * is not taken; frames of an earlier run do not verify under this run's
 * session key. A HELLO under the job key changes nothing at the aggregator:
 * it only learns the session (CHALLENGE); the join takes a RESYNC under the
 * session key, which a HELLO replayed from an earlier run cannot produce.
 * Without a job key (job.insecure) every hello is taken as proven.
 */
#ifndef GCDL_JOIN_H
#define GCDL_JOIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GCDL_JOIN_VERSION 2        /**< version of the hello/config payloads */
#define GCDL_HELLO_LEN 28          /**< payload bytes of a hello or resync */
#define GCDL_CONFIG_FIXED_LEN 88   /**< config payload bytes before the partition list */
#define GCDL_JOIN_MAX_PARTS 256    /**< partitions a config can list */
#define GCDL_JOIN_NONE UINT32_MAX  /**< "no round" in hello.round */

/** What a CONFIG answers. */
enum gcdl_join_status {
	GCDL_JOIN_ACCEPTED = 0,    /**< joined; the model follows */
	GCDL_JOIN_REFUSED_PROFILE, /**< the profile hashes differ */
	GCDL_JOIN_REFUSED_ID,      /**< the worker id is not below N */
	GCDL_JOIN_REFUSED_VERSION, /**< another protocol version */
	GCDL_JOIN_CHALLENGE,       /**< the run's session: send a RESYNC tagged with its key */
	GCDL_JOIN__COUNT
};

/** A hello (join) or resync request. */
struct gcdl_hello {
	uint32_t version;       /**< GCDL_JOIN_VERSION */
	uint32_t worker;        /**< k (also the frame's sender) */
	uint64_t profile_hash;  /**< gcdl_profile_hash() of the worker's profile */
	uint64_t incarnation;   /**< random per process start: tells a restart from a retry,
				 *   and makes the config that echoes it fresh */
	uint32_t round;         /**< round of the worker's replica, GCDL_JOIN_NONE before a model */
};

/** The aggregator's answer. */
struct gcdl_config {
	uint32_t version;
	uint32_t status;        /**< enum gcdl_join_status */
	uint64_t profile_hash;  /**< the aggregator's */
	uint32_t worker;        /**< k, echoed */
	uint64_t incarnation;   /**< echoed */
	uint64_t session;       /**< the aggregator's session id (its frames' key, gcdl/auth.h) */
	uint32_t round;         /**< the round the model frames that follow are at */
	uint32_t rounds;        /**< rounds of the job */
	uint32_t dim;           /**< model coordinates */
	uint32_t chunks;        /**< uplink chunks per worker and round */
	uint32_t chunk_coords;  /**< coordinates per uplink chunk */
	uint32_t model_coords;  /**< coordinates per model/update frame */
	uint32_t aggregator;    /**< a */
	uint32_t aggregators;   /**< K */
	uint32_t chunk_first;   /**< first uplink chunk a owns */
	uint32_t chunk_count;   /**< uplink chunks a owns */
	uint32_t coord_first;   /**< first coordinate a owns */
	uint32_t coord_count;   /**< coordinates a owns */
	uint32_t nparts;        /**< partitions of worker k */
	uint32_t parts[GCDL_JOIN_MAX_PARTS]; /**< its partitions */
};

/**
 * Encode a hello or resync payload.
 *
 * @param h    the fields.
 * @param buf  receives GCDL_HELLO_LEN bytes.
 * @param cap  its capacity.
 * @return GCDL_HELLO_LEN, -EINVAL for NULL, -ENOSPC when @p cap is too small.
 */
int gcdl_hello_encode(const struct gcdl_hello *h, uint8_t *buf, size_t cap);

/**
 * Decode a hello or resync payload.
 *
 * @param buf  the payload.
 * @param len  its length (exactly GCDL_HELLO_LEN).
 * @param h    receives the fields.
 * @return 0, -EINVAL for NULL, -EBADMSG for another length.
 */
int gcdl_hello_decode(const uint8_t *buf, size_t len, struct gcdl_hello *h);

/**
 * Encode a config payload (the fixed part, then nparts partitions).
 *
 * @param c    the fields.
 * @param buf  the output.
 * @param cap  its capacity.
 * @return the length, -EINVAL for NULL or nparts above GCDL_JOIN_MAX_PARTS,
 *         -ENOSPC when it does not fit.
 */
int gcdl_config_encode(const struct gcdl_config *c, uint8_t *buf, size_t cap);

/**
 * Decode and check a config payload: the length matches nparts, the
 * status is known, ranges lie within the dimensions (chunk range within
 * chunks, coordinate range within dim, a < K).
 *
 * @param buf  the payload.
 * @param len  its length.
 * @param c    receives the fields.
 * @return 0, -EINVAL for NULL, -EBADMSG for a malformed or inconsistent payload.
 */
int gcdl_config_decode(const uint8_t *buf, size_t len, struct gcdl_config *c);

/**
 * The contiguous range of uplink chunks aggregator a of K owns: chunks
 * [floor(a*C/K), floor((a+1)*C/K)). Every chunk has exactly one owner.
 *
 * @param chunks  C.
 * @param k       K (>= 1).
 * @param a       a (< K).
 * @param first   receives the first chunk.
 * @param count   receives the number of chunks (0 when K > C for some a).
 * @return 0, or -EINVAL for NULL, K = 0 or a >= K.
 */
int gcdl_shard_chunks(uint32_t chunks, uint32_t k, uint32_t a, uint32_t *first, uint32_t *count);

/**
 * The owner of an uplink chunk (the inverse of gcdl_shard_chunks()).
 *
 * @param chunks  C.
 * @param k       K (>= 1).
 * @param chunk   c (< C).
 * @return a, or UINT32_MAX for K = 0 or c >= C.
 */
uint32_t gcdl_shard_owner(uint32_t chunks, uint32_t k, uint32_t chunk);

/**
 * Parse "aa:bb:cc:dd:ee:ff,..." (hex, case-insensitive, blanks around
 * entries allowed). "" is the empty list.
 *
 * @param text  the list.
 * @param macs  receives up to @p max addresses, 6 bytes each.
 * @param max   capacity of @p macs in addresses.
 * @return the number of addresses, -EINVAL for NULL or a malformed entry,
 *         -E2BIG for more than @p max.
 */
int gcdl_mac_list_parse(const char *text, uint8_t (*macs)[6], uint32_t max);

/**
 * Format a MAC as "aa:bb:cc:dd:ee:ff".
 *
 * @param mac  6 bytes.
 * @param buf  receives the text.
 * @param len  its capacity (18 suffices).
 * @return @p buf.
 */
const char *gcdl_mac_format(const uint8_t mac[6], char *buf, size_t len);

/** What the aggregator knows of one worker. */
struct gcdl_join_worker {
	int joined;              /**< accepted at least once */
	uint64_t incarnation;    /**< of the last accepted hello */
	uint8_t mac[6];          /**< where its frames come from */
	uint16_t port;           /**< the port they come in on */
	uint32_t joins;          /**< accepted hellos with a new incarnation */
	uint32_t resyncs;        /**< resync requests answered (same incarnation) */
	uint32_t refused;        /**< refused hellos */
	uint32_t last_round;     /**< latest round it sent a gradient frame for + 1 (0: none) */
	uint32_t since_round;    /**< round it (re)joined at */
};

/** What the aggregator does with a hello or resync. */
enum gcdl_join_action {
	GCDL_JOIN_ACT_JOIN = 0,  /**< accept a new incarnation: config + model */
	GCDL_JOIN_ACT_RESEND,    /**< same incarnation again (retry or resync): config + model */
	GCDL_JOIN_ACT_REFUSE,    /**< answer with a refusing config (status in *status) */
	GCDL_JOIN_ACT_IGNORE,    /**< a MAC that the profile does not give to worker k,
				  *   or another MAC than a present worker's */
	GCDL_JOIN_ACT_CHALLENGE, /**< acceptable but not proven: answer with the session
				  *   only (status GCDL_JOIN_CHALLENGE), change nothing */
};

/**
 * The aggregator's decision on a hello, and its bookkeeping in @p w.
 *
 * @param w            worker k's entry (NULL when k >= N).
 * @param h            the decoded hello.
 * @param own_hash     the aggregator's profile hash.
 * @param src          the hello's source MAC.
 * @param port         the port it came in on.
 * @param want_mac     the MAC the profile gives worker k, or NULL for any.
 * @param round        the aggregator's current round.
 * @param absent_rounds  network.absent_rounds: a joined worker heard from within
 *                     them is present, and a hello for it from another MAC than
 *                     its current one is ignored (a spoofed or replayed hello
 *                     cannot take a present worker's place).
 * @param resync       non-zero for a resync request (counted in resyncs), 0 for
 *                     a hello (a retry of the same incarnation is not counted).
 * @param proven       non-zero when the request verified under this run's
 *                     session key (or the job has no key); 0 for a hello
 *                     under the job key, which is at most challenged: only a
 *                     refusal's counter changes in @p w.
 * @param status       receives the status of the config to send.
 * @return an enum gcdl_join_action.
 */
enum gcdl_join_action gcdl_join_on_hello(struct gcdl_join_worker *w, const struct gcdl_hello *h,
					 uint64_t own_hash, const uint8_t src[6], uint16_t port,
					 const uint8_t *want_mac, uint32_t round,
					 uint32_t absent_rounds, int resync, int proven,
					 uint32_t *status);

/**
 * Whether a joined worker is expected in round t: it joined, and sent a
 * gradient frame within the last @p absent_rounds rounds or joined within them.
 *
 * @param w              its entry.
 * @param round          t.
 * @param absent_rounds  rounds of silence after which it is absent.
 * @return true when its frames are awaited.
 */
bool gcdl_join_expected(const struct gcdl_join_worker *w, uint32_t round, uint32_t absent_rounds);

/** States of a worker's link to one aggregator. */
enum gcdl_link_state {
	GCDL_LINK_HELLO = 0,  /**< sending hellos, waiting for a config */
	GCDL_LINK_MODEL,      /**< config accepted, receiving the model of its range */
	GCDL_LINK_READY,      /**< the range of the replica is at `round` */
	GCDL_LINK_REFUSED,    /**< refused: the worker stops */
};

/** A worker's view of one aggregator. */
struct gcdl_link {
	enum gcdl_link_state state;
	uint32_t round;          /**< round its range of the replica is at */
	uint32_t coord_first;    /**< its coordinates */
	uint32_t coord_count;
	uint32_t model_coords;   /**< coordinates per model/update frame */
	uint32_t frames;         /**< model/update frames that intersect the range */
	uint32_t got;            /**< of those, received for the round being assembled */
	uint32_t update_round;   /**< round of the update being assembled */
	uint64_t next_hello;     /**< when to send the next hello or resync (the
				  *   transport's clock: the data plane uses the TSC) */
	uint64_t last_rx;        /**< last valid frame from it (the same clock) */
	int have_mac;            /**< its MAC and port are known */
	uint8_t mac[6];
	uint16_t port;
	uint32_t resync_tries;   /**< resyncs in a row without an answer */
	/* the downlink (set and used by the transport) */
	uint32_t update_frames;  /**< frames of a round's update that hold a coordinate of
				  *   the range (float32 or 1-bit frames) */
	uint32_t seen_round;     /**< the latest round of an update frame seen from it */
	uint64_t repair_at;      /**< when to ask again for the missing frames of the
				  *   update of `round` (0: not armed) */
	uint32_t repair_tries;   /**< requests for the update of `round` so far */
};

/**
 * Take an accepted config: the link moves to MODEL at the config's round.
 *
 * @param l  the link.
 * @param c  the decoded config (status accepted).
 * @return 0, or -EINVAL for NULL, a refusing config, or an empty range.
 */
int gcdl_link_on_config(struct gcdl_link *l, const struct gcdl_config *c);

/**
 * The part of a model/update frame (coordinates [first, first+count)) that
 * lies in the link's range.
 *
 * @param l      the link.
 * @param first  the frame's first coordinate.
 * @param count  its coordinates.
 * @param lo     receives the first coordinate to take.
 * @param n      receives how many (0: none).
 */
void gcdl_link_clip(const struct gcdl_link *l, uint32_t first, uint32_t count, uint32_t *lo,
		    uint32_t *n);

#ifdef __cplusplus
}
#endif

#endif /* GCDL_JOIN_H */
