/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The self-tests --inject-garbage N and --inject-hostile N in any role: each
 * round, a node sends N malformed (or N spoofed, replayed, altered) frames of
 * its own kind (gcdl/selftest.h) to each peer it sends its round's frames to
 * (a worker: its aggregators; an aggregator: its workers; a mesh peer: the
 * group), on the same port. The receivers drop and count every one; the
 * model does not change.
 */
#include "gcdl/selftest.h"

#include "node_internal.h"

void
node_inject(struct gcdl_node *n, uint32_t round, uint16_t pi, const uint8_t dst[6])
{
	struct gcdl_selftest_from from = {
		.aggregator = n->conf.role == GCDL_NODE_AGGREGATOR,
		.sender = n->self,
		.senders = n->n + (n->prof.topology == GCDL_TOPO_MESH ? 0 : n->k),
	};
	uint32_t total = n->conf.inject_garbage + n->conf.inject_hostile;
	/* the key this node's genuine frames to dst carry (the run's session):
	 * a replay of one of them is authentic */
	const struct gcdl_auth *key = node_key_to(n, dst);

	for (uint32_t i = 0; i < total; i++) {
		int garbage = i < n->conf.inject_garbage;
		uint64_t seq = n->inject_seq[!garbage]++;
		size_t len = garbage
				     ? gcdl_selftest_garbage(n->e, &n->prof, &from, round, seq,
							     n->frame, n->frame_cap)
				     : gcdl_selftest_hostile(n->e, &n->prof, key, &from,
							     round, seq, n->frame, n->frame_cap);

		if (len == 0)
			continue;
		/* garbage keeps the builder's source MAC (02:00:00:00:00:ee), so a
		 * capture tells it apart; a hostile frame comes from this node, as a
		 * replay or a spoof on the segment would */
		if (node_send_raw(n, pi, dst, n->frame, len,
				  NODE_RAW_SELFTEST | (garbage ? NODE_RAW_KEEP_SRC : 0)) == 0)
			node_count(n, garbage ? GCDL_CTR_GARBAGE_SENT : GCDL_CTR_HOSTILE_SENT, 1);
	}
}
