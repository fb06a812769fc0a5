/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * downlink.mode relay (METHOD.md "Downlink"): the aggregator sends down the
 * round's accepted uplink frames, unchanged (their tag is the session's, so
 * it still holds), and a commit that lists them; every worker decodes them
 * with the same decoder and takes the same optimizer step as the aggregator,
 * so the replicas stay bit-identical and the update is exact, at the cost of
 * |R| uplink frames down instead of one update.
 *
 * The agreement is the mesh's (gcdl/mesh.h) with the aggregator as committer
 * that contributes nothing (node id N): it stores each frame it accepts and
 * sends it to the downlink's multicast group at once; at the close its commit
 * (the held set and the checksum of w_t) follows on the same ports, behind
 * the frames. A worker stores what comes from its aggregator's MAC; on the
 * commit it asks (REPAIR, unicast to the aggregator) for committed frames it
 * lacks, up to downlink.repair_tries times, every downlink.repair_us; then it
 * applies exactly the committed set (gcdl_mesh_apply) to its own engine, whose
 * model and momentum are its replica. A worker whose checksum of w_t differs
 * from the commit's, or that gives up, resyncs from the full model and
 * momentum (a config, then MODEL and momentum frames).
 */
#include <errno.h>
#include <string.h>

#include "gcdl/mesh.h"

#include "node_internal.h"
#include "seterr.h"

int
node_relay_init(struct gcdl_node *n, char *err, size_t errlen)
{
	const struct gcdl_profile *p = &n->prof;
	struct gcdl_mesh_params mp = {
		.nodes = n->n,
		.chunks = n->chunks,
		.self = n->conf.role == GCDL_NODE_AGGREGATOR ? n->n : n->conf.id,
		.committer = n->n,
		.repair_tries = p->repair_tries,
		.max_payload = gcdl_engine_max_payload(n->e),
	};

	if (p->downlink != GCDL_DOWNLINK_RELAY || p->topology == GCDL_TOPO_MESH)
		return 0;
	n->relay = gcdl_mesh_create(&mp);
	if (n->relay == NULL) {
		gcdl_seterr(err, errlen, "downlink.mode relay: cannot hold %u chunks x %u workers "
			    "(out of memory, or a commit of more than %u bytes)", n->chunks, n->n,
			    GCDL_MESH_SET_MAX);
		return -ENOMEM;
	}
	n->lim.chunk_coords[GCDL_MSG_COMMIT] = 1;
	return 0;
}

void
node_relay_fini(struct gcdl_node *n)
{
	gcdl_mesh_free(n->relay);
	n->relay = NULL;
}

/* ---- the aggregator ---------------------------------------------------- */

void
node_relay_open(struct gcdl_node *n, uint32_t t)
{
	if (n->relay == NULL)
		return;
	gcdl_mesh_begin_round(n->relay, t, gcdl_mesh_checksum(gcdl_engine_model(n->e), n->dim));
}

/* Encode a frame (the contributor's id stays in it: it is its frame),
 * tagged with the session's key; addresses are patched in per port. */
static ssize_t
encode(struct gcdl_node *n, const struct gcdl_frame_hdr *hdr, const uint8_t *pl)
{
	ssize_t len = gcdl_frame_encode(hdr, pl, n->frame, n->frame_cap);

	if (len >= 0 && node_tx_key(n, hdr->type) != NULL)
		len = gcdl_auth_seal(node_tx_key(n, hdr->type), n->frame, n->frame_cap);
	return len;
}

void
node_relay_accepted(struct gcdl_node *n, const struct gcdl_frame_hdr *hdr, const uint8_t *pl,
		    const uint16_t *ports, uint16_t nports)
{
	ssize_t len;

	if (n->relay == NULL)
		return;
	if (gcdl_mesh_store(n->relay, hdr, pl) != 0)
		return;
	len = encode(n, hdr, pl);
	if (len > 0)
		node_group_send(n, n->frame, (size_t)len, ports, nports);
}

static ssize_t
encode_commit(struct gcdl_node *n, const struct gcdl_mesh_commit *c)
{
	struct gcdl_frame_hdr h;
	ssize_t len = gcdl_mesh_commit_encode(c, n->chunks, n->n, n->payload,
					      GCDL_MESH_COMMIT_HDR + GCDL_MESH_SET_MAX);

	if (len < 0)
		return len;
	node_hdr(n, &h, GCDL_MSG_COMMIT, c->round);
	h.payload_len = (uint16_t)len;
	return encode(n, &h, n->payload);
}

int
node_relay_commit(struct gcdl_node *n, const uint16_t *ports, uint16_t nports)
{
	struct gcdl_mesh_commit c;
	ssize_t len;
	int rc;

	if (n->relay == NULL)
		return 0;
	rc = gcdl_mesh_commit_build(n->relay, &c);
	if (rc != 0)
		return rc;
	len = encode_commit(n, &c);
	if (len < 0)
		return (int)len;
	node_count(n, GCDL_CTR_MESH_COMMITS_SENT, 1);
	return node_group_send(n, n->frame, (size_t)len, ports, nports);
}

struct reply {
	struct gcdl_node *n;
	uint16_t pi;
	uint8_t mac[6];
};

static int
reply(struct gcdl_node *n, uint16_t pi, const uint8_t mac[6], ssize_t len)
{
	if (len < 0)
		return (int)len;
	if (node_send_raw(n, pi, mac, n->frame, (size_t)len, NODE_RAW_DOWNLINK) != 0)
		return -ENOBUFS;
	node_count(n, GCDL_CTR_DOWNLINK_REPAIRS, 1);
	node_count(n, GCDL_CTR_DOWNLINK_REPAIR_BYTES, (uint64_t)len + GCDL_ETH_FCS_LEN);
	return 0;
}

static int
reply_frame(void *arg, const struct gcdl_frame_hdr *hdr, const uint8_t *payload)
{
	struct reply *r = arg;

	return reply(r->n, r->pi, r->mac, encode(r->n, hdr, payload));
}

static int
reply_commit(void *arg, const struct gcdl_mesh_commit *c)
{
	struct reply *r = arg;

	return reply(r->n, r->pi, r->mac, encode_commit(r->n, c));
}

void
node_relay_serve(struct gcdl_node *n, uint16_t pi, const struct gcdl_frame_hdr *hdr,
		 const uint8_t *pl)
{
	struct reply rt = { n, pi, { 0 } };
	struct gcdl_mesh_emit emit = { reply_frame, reply_commit, &rt };
	struct gcdl_mesh_repair r;
	int rc;

	rc = gcdl_mesh_repair_decode(pl, hdr->payload_len, n->chunks, n->n, &r);
	if (rc > 0) {
		node_count(n, GCDL_CTR_MESH_DROP(rc), 1);
		return;
	}
	r.round = hdr->round;
	r.from = hdr->sender;
	memcpy(rt.mac, hdr->src, 6);
	gcdl_mesh_on_repair(n->relay, &r, &emit);
}

/* ---- a worker ---------------------------------------------------------- */

void
node_relay_begin(struct gcdl_node *n, uint32_t t)
{
	if (n->relay == NULL)
		return;
	gcdl_mesh_begin_round(n->relay, t, gcdl_mesh_checksum(gcdl_engine_model(n->e), n->dim));
	/* no commit yet: the round may run to its deadline and the aggregator
	 * may be busy after it (evaluation); ask for the commit only well after
	 * that, or as soon as a frame of a later round shows the round closed */
	n->relay_repair_at = rte_rdtsc() +
			     node_us_tsc(n, 4.0 * (n->prof.deadline_mode == GCDL_DEADLINE_FIXED
						   ? n->prof.deadline_us : n->prof.deadline_max_us) +
					    50000.0);
}

void
node_relay_rx(struct gcdl_node *n, const struct gcdl_frame_hdr *hdr, const uint8_t *pl)
{
	struct gcdl_mesh_commit c;
	int rc;

	if (hdr->type == GCDL_MSG_COMMIT) {
		rc = gcdl_mesh_commit_decode(pl, hdr->payload_len, n->chunks, n->n, &c);
		if (rc > 0) {
			node_count(n, GCDL_CTR_MESH_DROP(rc), 1);
			return;
		}
		c.round = hdr->round;
		rc = gcdl_mesh_on_commit(n->relay, (uint16_t)n->n, &c);
		if (rc == -EALREADY)
			node_count(n, GCDL_CTR_DUPLICATES, 1);
		else if (rc == 0 && c.round > gcdl_mesh_round(n->relay) &&
			 gcdl_mesh_state(n->relay) == GCDL_MESH_COLLECT)
			n->relay_repair_at = rte_rdtsc(); /* a later commit: ours is missing */
		else if (rc == 0 && gcdl_mesh_state(n->relay) == GCDL_MESH_REPAIR)
			n->relay_repair_at = rte_rdtsc(); /* what it lists and is not here is lost */
		return;
	}
	rc = gcdl_mesh_store(n->relay, hdr, pl);
	if (rc == 0 && hdr->round > gcdl_mesh_round(n->relay) &&
	    gcdl_mesh_state(n->relay) == GCDL_MESH_COLLECT)
		n->relay_repair_at = rte_rdtsc(); /* its round closed: the commit is missing */
	if (rc == 0)
		node_count(n, GCDL_CTR_DOWNLINK_ACCEPTED, 1);
	else if (rc == -EALREADY)
		node_count(n, GCDL_CTR_DUPLICATES, 1);
	else
		node_count(n, GCDL_CTR_LATE, 1);
}

int
node_relay_poll(struct gcdl_node *n, struct gcdl_loop *lp, uint64_t now)
{
	struct gcdl_mesh_repair r;
	struct gcdl_frame_hdr h;
	ssize_t len;
	int rc;

	switch (gcdl_mesh_state(n->relay)) {
	case GCDL_MESH_OUT:
		return -ETIMEDOUT; /* another w_t than the aggregator's: the caller resyncs */
	case GCDL_MESH_READY:
		/* model.type external: the update is the decoded gradient, for the trainer */
		rc = gcdl_mesh_apply(n->relay, n->e, n->xg_g, NULL);
		if (rc != 0)
			return node_fail(n, rc, "relay: applying round %u: %s",
					 gcdl_mesh_round(n->relay), strerror(-rc));
		node_count(n, GCDL_CTR_APPLIED, 1);
		return 1;
	case GCDL_MESH_COLLECT:
	case GCDL_MESH_REPAIR:
		break;
	default:
		return 0;
	}
	if (now < n->relay_repair_at) {
		node_wake_at(lp, n->relay_repair_at);
		return 0;
	}
	n->relay_repair_at = now + node_us_tsc(n, n->prof.repair_us);
	rc = gcdl_mesh_repair_build(n->relay, &r);
	if (rc == -ETIMEDOUT)
		return -ETIMEDOUT; /* the caller resyncs */
	if (rc != 0)
		return 0;
	len = gcdl_mesh_repair_encode(&r, n->chunks, n->n, n->payload,
				      GCDL_MESH_REPAIR_HDR + GCDL_MESH_SET_MAX);
	if (len < 0)
		return 0;
	node_hdr(n, &h, GCDL_MSG_REPAIR, r.round);
	h.payload_len = (uint16_t)len;
	node_send(n, node_worker_link_port(n), node_worker_link_mac(n), &h, n->payload,
		  node_worker_key(n, 0));
	node_count(n, GCDL_CTR_DOWNLINK_REPAIRS, r.count);
	node_wake_at(lp, n->relay_repair_at);
	return 0;
}
