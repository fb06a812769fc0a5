/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A worker of model.type external (`--grad-shm FILE`): its gradient comes
 * from a trainer outside gcdl (PyTorch, lib/python/gcdl) through the channel
 * of gcdl/extgrad.h, and every round's decoded gradient goes back to it.
 *
 *   begin round t:  an injected straggler sends nothing; otherwise the node
 *                   waits for the trainer's v_k of round t (node_extgrad_take
 *                   from its poll), quantizes and sends it as for a built-in
 *                   model; a gradient that comes after round t closed is
 *                   never sent (counted as stale in the channel);
 *   round t applied (downlink.mode relay: the accepted frames and the
 *                   commit): the decoded gradient (the engine's update, its
 *                   step being u = g for an external model) is published
 *                   in slot t, after the straggler flag of round t + 1.
 * A round can never be skipped: a late join or a resync (the aggregator's
 * w_t instead of the rounds) fails the node, which a trainer's replica
 * could not follow.
 */
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>

#include "gcdl/extgrad.h"
#include "gcdl/layout.h"

#include "node_internal.h"
#include "seterr.h"

int
node_extgrad_init(struct gcdl_node *n, char *err, size_t errlen)
{
	const struct gcdl_layout *l = gcdl_engine_layout(n->e);
	uint32_t wparts[GCDL_EXTGRAD_MAX_PARTS];
	float wts[GCDL_EXTGRAD_MAX_PARTS];
	struct gcdl_extgrad_info info;
	const uint32_t *parts;
	uint32_t nparts, m = gcdl_layout_partitions(l);

	if (n->conf.grad_shm == NULL)
		return 0;
	if (gcdl_layout_worker_partitions(l, n->conf.id, &parts, &nparts) != 0 ||
	    nparts > GCDL_EXTGRAD_MAX_PARTS) {
		gcdl_seterr(err, errlen, "worker %u: it holds more than %u partitions, more than "
			    "--grad-shm can describe", n->conf.id, GCDL_EXTGRAD_MAX_PARTS);
		return -EINVAL;
	}
	/* METHOD.md: v_k = sum over its partitions i of grad f_i / (M r_i) */
	for (uint32_t j = 0; j < nparts; j++) {
		wparts[j] = parts[j];
		wts[j] = 1.0f / ((float)m * (float)gcdl_layout_replication(l, parts[j]));
	}
	memset(&info, 0, sizeof(info));
	info.dim = n->dim;
	info.slots = GCDL_EXTGRAD_SLOTS;
	info.worker = n->conf.id;
	info.workers = n->n;
	info.partitions = m;
	info.nparts = nparts;
	info.rounds = n->prof.rounds;
	info.seed = n->prof.seed;
	info.parts = wparts;
	info.weights = wts;
	n->xg_g = rte_zmalloc_socket("gcdl_extgrad", sizeof(float) * n->dim, RTE_CACHE_LINE_SIZE,
				     (int)n->conf.socket);
	if (n->xg_g == NULL) {
		gcdl_seterr(err, errlen, "worker %u: out of memory for %u coordinates (raise -m)",
			    n->conf.id, n->dim);
		return -ENOMEM;
	}
	n->xg = gcdl_extgrad_create(n->conf.grad_shm, &info, err, errlen);
	if (n->xg == NULL)
		return -errno;
	n->xg_wait = GCDL_JOIN_NONE;
	return 0;
}

void
node_extgrad_fini(struct gcdl_node *n)
{
	if (n->xg != NULL) {
		if (n->rc == 0 && !n->stopped && n->xg_published == n->prof.rounds)
			gcdl_extgrad_set_state(n->xg, GCDL_EXTGRAD_ENDED, NULL);
		else if (n->rc == 0)
			gcdl_extgrad_set_state(n->xg, GCDL_EXTGRAD_FAILED, n->stopped
					       ? "the gcdl worker was stopped"
					       : "the gcdl worker ended before its last round");
		gcdl_extgrad_free(n->xg);
		n->xg = NULL;
	}
	rte_free(n->xg_g);
	n->xg_g = NULL;
}

void
node_extgrad_begin(struct gcdl_node *n, uint32_t round, int straggler)
{
	if (round == 0) {
		if (straggler)
			gcdl_extgrad_straggler(n->xg, 0);
		gcdl_extgrad_set_state(n->xg, GCDL_EXTGRAD_RUNNING, NULL);
	}
	n->xg_wait = straggler ? GCDL_JOIN_NONE : round;
}

int
node_extgrad_take(struct gcdl_node *n, float *v, uint32_t *round)
{
	int rc;

	if (n->xg_wait == GCDL_JOIN_NONE)
		return 0;
	rc = gcdl_extgrad_take(n->xg, n->xg_wait, v);
	if (rc != 1)
		return 0;
	*round = n->xg_wait;
	n->xg_wait = GCDL_JOIN_NONE;
	return 1;
}

int
node_extgrad_applied(struct gcdl_node *n, uint32_t round)
{
	int rc;

	if (n->xg == NULL)
		return 0;
	if (n->xg_wait == round)
		n->xg_wait = GCDL_JOIN_NONE; /* closed before the trainer's gradient came */
	if (round + 1 < n->prof.rounds && node_injected_straggler(n, round + 1))
		gcdl_extgrad_straggler(n->xg, round + 1);
	rc = gcdl_extgrad_publish(n->xg, round, n->xg_g);
	if (rc == 0)
		n->xg_published = round + 1;
	if (rc == -ERANGE)
		return node_fail(n, rc, "model.type external: round %u applied, but its trainer "
				 "has the rounds up to %u only: this worker joined late or resynced, "
				 "and a trainer's replica cannot skip rounds (start every trainer "
				 "before the first round; raise network.join_wait_ms)", round,
				 (unsigned)n->xg_published);
	return rc;
}
