/* SPDX-License-Identifier: BSD-3-Clause */
/* The mesh topology's agreement: commits, contribution sets, repairs. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gcdl/mesh.h"

/* Rounds t-1 (to answer repairs), t, and up to t+BANKS-2 (frames and
 * commits of peers that are already ahead, for a node catching up) each
 * have a bank, indexed by round % BANKS. */
#define BANKS 8

struct bank {
	uint32_t round;
	bool valid;
	bool has_commit;    /* commit of this round known (built or received) */
	bool commit_early;  /* received before the round began: take it at begin */
	uint32_t held;
	uint8_t *full;      /* C*N flags */
	struct gcdl_frame_hdr *hdr;
	uint8_t *payload;   /* C*N * max_payload */
	struct gcdl_mesh_commit commit;
};

struct gcdl_mesh {
	struct gcdl_mesh_params p;
	uint32_t slots;     /* C*N */
	size_t set_bytes;
	bool started;
	bool synced;
	uint32_t round;
	uint64_t checksum;
	enum gcdl_mesh_state state;
	uint32_t tries;     /* repair requests this round */
	uint32_t asks;      /* of them, for contributions */
	uint32_t missing;
	struct bank bank[BANKS];
	struct gcdl_mesh_stats st;
};

static const char *const drop_names[GCDL_MESH_DROP__COUNT] = {
	[GCDL_MESH_DROP_NONE] = "none",
#define DROP_NAME(e, n, d) [GCDL_MESH_DROP_##e] = #n,
	GCDL_MESH_DROPS(DROP_NAME)
#undef DROP_NAME
};

const char *
gcdl_mesh_drop_name(int reason)
{
	if (reason < 0 || reason >= GCDL_MESH_DROP__COUNT)
		return "unknown";
	return drop_names[reason];
}

static inline void
put16(uint8_t *p, uint16_t v)
{
	v = htons(v);
	memcpy(p, &v, 2);
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static inline uint16_t
get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return ntohs(v);
}

static inline uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

size_t
gcdl_mesh_set_bytes(uint32_t chunks, uint32_t nodes)
{
	uint64_t bits = (uint64_t)chunks * nodes;

	if (bits == 0 || bits > 8ull * GCDL_MESH_SET_MAX)
		return 0;
	return (size_t)((bits + 7) / 8);
}

static inline bool
bit_get(const uint8_t *set, size_t i)
{
	return (set[i / 8] >> (i % 8)) & 1;
}

static inline void
bit_set(uint8_t *set, size_t i)
{
	set[i / 8] |= (uint8_t)(1u << (i % 8));
}

bool
gcdl_mesh_set_has(const uint8_t *set, uint32_t nodes, uint32_t chunk, uint32_t worker)
{
	if (set == NULL || worker >= nodes)
		return false;
	return bit_get(set, (size_t)chunk * nodes + worker);
}

static uint32_t
popcount(const uint8_t *set, size_t bytes)
{
	uint32_t n = 0;

	for (size_t i = 0; i < bytes; i++)
		n += (uint32_t)__builtin_popcount(set[i]);
	return n;
}

uint64_t
gcdl_mesh_checksum(const float *w, uint32_t dim)
{
	uint64_t h = 0xcbf29ce484222325ull;

	if (w == NULL)
		return h;
	for (uint32_t j = 0; j < dim; j++) {
		uint32_t u;

		memcpy(&u, &w[j], 4);
		for (int s = 24; s >= 0; s -= 8) {
			h ^= (u >> s) & 0xff;
			h *= 0x100000001b3ull;
		}
	}
	return h;
}

/* Set bits at or past C*N (in the last byte) make a set invalid. */
static bool
padding_clear(const uint8_t *set, uint32_t chunks, uint32_t nodes, size_t bytes)
{
	size_t bits = (size_t)chunks * nodes;

	if (bits % 8 == 0)
		return true;
	return (set[bytes - 1] >> (bits % 8)) == 0;
}

ssize_t
gcdl_mesh_commit_encode(const struct gcdl_mesh_commit *c, uint32_t chunks, uint32_t nodes,
			uint8_t *payload, size_t cap)
{
	size_t bytes = gcdl_mesh_set_bytes(chunks, nodes);
	uint64_t ck;

	if (c == NULL || payload == NULL || bytes == 0 || nodes > UINT16_MAX)
		return -EINVAL;
	if (cap < GCDL_MESH_COMMIT_HDR + bytes)
		return -ENOSPC;
	put32(payload, chunks);
	put16(payload + 4, (uint16_t)nodes);
	put16(payload + 6, 0);
	ck = c->checksum;
	put32(payload + 8, (uint32_t)(ck >> 32));
	put32(payload + 12, (uint32_t)ck);
	memcpy(payload + GCDL_MESH_COMMIT_HDR, c->set, bytes);
	if (!padding_clear(c->set, chunks, nodes, bytes))
		payload[GCDL_MESH_COMMIT_HDR + bytes - 1] &=
			(uint8_t)((1u << (((size_t)chunks * nodes) % 8)) - 1);
	put32(payload + 16, popcount(payload + GCDL_MESH_COMMIT_HDR, bytes));
	return (ssize_t)(GCDL_MESH_COMMIT_HDR + bytes);
}

/* The checks both payloads share: length, shape, padding, count. */
static int
check_set(const uint8_t *payload, size_t len, size_t hdr_len, uint32_t chunks, uint32_t nodes,
	  uint32_t count)
{
	size_t bytes = gcdl_mesh_set_bytes(chunks, nodes);

	if (len < hdr_len || len - hdr_len != bytes)
		return GCDL_MESH_DROP_LENGTH;
	if (get32(payload) != chunks || get16(payload + 4) != nodes)
		return GCDL_MESH_DROP_SHAPE;
	if (!padding_clear(payload + hdr_len, chunks, nodes, bytes))
		return GCDL_MESH_DROP_PADDING;
	if (popcount(payload + hdr_len, bytes) != count)
		return GCDL_MESH_DROP_COUNT;
	return GCDL_MESH_DROP_NONE;
}

int
gcdl_mesh_commit_decode(const uint8_t *payload, size_t len, uint32_t chunks, uint32_t nodes,
			struct gcdl_mesh_commit *c)
{
	size_t bytes = gcdl_mesh_set_bytes(chunks, nodes);
	uint32_t count;
	int rc;

	if (payload == NULL || c == NULL || bytes == 0)
		return -EINVAL;
	if (len < GCDL_MESH_COMMIT_HDR)
		return GCDL_MESH_DROP_LENGTH;
	count = get32(payload + 16);
	rc = check_set(payload, len, GCDL_MESH_COMMIT_HDR, chunks, nodes, count);
	if (rc != 0)
		return rc;
	if (get16(payload + 6) != 0)
		return GCDL_MESH_DROP_RESERVED;
	c->round = 0;
	c->checksum = (uint64_t)get32(payload + 8) << 32 | get32(payload + 12);
	c->count = count;
	memcpy(c->set, payload + GCDL_MESH_COMMIT_HDR, bytes);
	return 0;
}

ssize_t
gcdl_mesh_repair_encode(const struct gcdl_mesh_repair *r, uint32_t chunks, uint32_t nodes,
			uint8_t *payload, size_t cap)
{
	size_t bytes = gcdl_mesh_set_bytes(chunks, nodes);

	if (r == NULL || payload == NULL || bytes == 0 || nodes > UINT16_MAX)
		return -EINVAL;
	if (cap < GCDL_MESH_REPAIR_HDR + bytes)
		return -ENOSPC;
	put32(payload, chunks);
	put16(payload + 4, (uint16_t)nodes);
	put16(payload + 6, r->flags);
	put16(payload + 8, r->server);
	put16(payload + 10, 0);
	memcpy(payload + GCDL_MESH_REPAIR_HDR, r->set, bytes);
	if (!padding_clear(r->set, chunks, nodes, bytes))
		payload[GCDL_MESH_REPAIR_HDR + bytes - 1] &=
			(uint8_t)((1u << (((size_t)chunks * nodes) % 8)) - 1);
	put32(payload + 12, popcount(payload + GCDL_MESH_REPAIR_HDR, bytes));
	return (ssize_t)(GCDL_MESH_REPAIR_HDR + bytes);
}

int
gcdl_mesh_repair_decode(const uint8_t *payload, size_t len, uint32_t chunks, uint32_t nodes,
			struct gcdl_mesh_repair *r)
{
	size_t bytes = gcdl_mesh_set_bytes(chunks, nodes);
	uint16_t flags, server;
	uint32_t count;
	int rc;

	if (payload == NULL || r == NULL || bytes == 0)
		return -EINVAL;
	if (len < GCDL_MESH_REPAIR_HDR)
		return GCDL_MESH_DROP_LENGTH;
	count = get32(payload + 12);
	rc = check_set(payload, len, GCDL_MESH_REPAIR_HDR, chunks, nodes, count);
	if (rc != 0)
		return rc;
	flags = get16(payload + 6);
	server = get16(payload + 8);
	if ((flags & ~GCDL_MESH_WANT_COMMIT) != 0 || get16(payload + 10) != 0)
		return GCDL_MESH_DROP_RESERVED;
	/* a node, the aggregator of a star's relay (id nodes), or any */
	if (server != GCDL_MESH_ANY && server > nodes)
		return GCDL_MESH_DROP_SERVER;
	if (count == 0 && !(flags & GCDL_MESH_WANT_COMMIT))
		return GCDL_MESH_DROP_EMPTY;
	r->round = 0;
	r->from = 0;
	r->server = server;
	r->flags = flags;
	r->count = count;
	memcpy(r->set, payload + GCDL_MESH_REPAIR_HDR, bytes);
	return 0;
}

void
gcdl_mesh_free(struct gcdl_mesh *m)
{
	if (m == NULL)
		return;
	for (int b = 0; b < BANKS; b++) {
		free(m->bank[b].full);
		free(m->bank[b].hdr);
		free(m->bank[b].payload);
	}
	free(m);
}

struct gcdl_mesh *
gcdl_mesh_create(const struct gcdl_mesh_params *p)
{
	struct gcdl_mesh *m;

	if (p == NULL || p->nodes == 0 || p->nodes > 4096 || p->self > p->nodes ||
	    p->committer > p->nodes || p->repair_tries == 0 || p->max_payload == 0 ||
	    p->max_payload > GCDL_MTU_MAX || gcdl_mesh_set_bytes(p->chunks, p->nodes) == 0) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->p = *p;
	m->slots = p->chunks * p->nodes;
	m->set_bytes = gcdl_mesh_set_bytes(p->chunks, p->nodes);
	m->synced = true;
	for (int b = 0; b < BANKS; b++) {
		m->bank[b].full = calloc(m->slots, 1);
		m->bank[b].hdr = calloc(m->slots, sizeof(struct gcdl_frame_hdr));
		m->bank[b].payload = malloc((size_t)m->slots * p->max_payload);
		if (m->bank[b].full == NULL || m->bank[b].hdr == NULL ||
		    m->bank[b].payload == NULL) {
			gcdl_mesh_free(m);
			errno = ENOMEM;
			return NULL;
		}
	}
	return m;
}

static struct bank *
claim(struct gcdl_mesh *m, uint32_t round)
{
	struct bank *b = &m->bank[round % BANKS];

	if (!b->valid || b->round != round) {
		b->valid = true;
		b->round = round;
		b->has_commit = false;
		b->commit_early = false;
		b->held = 0;
		memset(b->full, 0, m->slots);
	}
	return b;
}

static struct bank *
bank_of(struct gcdl_mesh *m, uint32_t round)
{
	struct bank *b = &m->bank[round % BANKS];

	return b->valid && b->round == round ? b : NULL;
}

static void
leave(struct gcdl_mesh *m)
{
	m->synced = false;
	m->state = GCDL_MESH_OUT;
}

/* Compare the commit with what the current round holds. */
static int
take_commit(struct gcdl_mesh *m, struct bank *b)
{
	if (b->commit.checksum != m->checksum) {
		m->st.mismatches++;
		leave(m);
		return -ENOTRECOVERABLE;
	}
	m->st.commits++;
	m->missing = 0;
	for (uint32_t i = 0; i < m->slots; i++) {
		bool in = bit_get(b->commit.set, i);

		if (in && !b->full[i])
			m->missing++;
		else if (!in && b->full[i])
			m->st.left_out++;
	}
	m->state = m->missing > 0 ? GCDL_MESH_REPAIR : GCDL_MESH_READY;
	return 0;
}

int
gcdl_mesh_begin_round(struct gcdl_mesh *m, uint32_t round, uint64_t checksum)
{
	struct bank *b;

	if (m == NULL)
		return -EINVAL;
	if (m->started && round <= m->round)
		return -ERANGE;
	m->started = true;
	m->round = round;
	m->checksum = checksum;
	m->tries = 0;
	m->asks = 0;
	m->missing = 0;
	m->state = m->synced ? GCDL_MESH_COLLECT : GCDL_MESH_OUT;
	b = claim(m, round);
	if (b->commit_early) {
		b->commit_early = false;
		if (m->synced)
			take_commit(m, b);
	}
	return 0;
}

int
gcdl_mesh_store(struct gcdl_mesh *m, const struct gcdl_frame_hdr *hdr, const uint8_t *payload)
{
	struct bank *b;
	size_t slot;

	if (m == NULL || hdr == NULL || payload == NULL)
		return -EINVAL;
	if (hdr->sender >= m->p.nodes || hdr->chunk >= m->p.chunks ||
	    hdr->payload_len > m->p.max_payload)
		return -EINVAL;
	if (!m->started || hdr->round + 1 < m->round || hdr->round > m->round + BANKS - 2) {
		m->st.stale++;
		return -ESTALE;
	}
	if (hdr->round + 1 == m->round) {
		b = bank_of(m, hdr->round);
		if (b == NULL) {
			m->st.stale++;
			return -ESTALE;
		}
	} else {
		b = claim(m, hdr->round);
	}
	slot = (size_t)hdr->chunk * m->p.nodes + hdr->sender;
	if (b->full[slot]) {
		m->st.duplicates++;
		return -EALREADY;
	}
	b->full[slot] = 1;
	b->hdr[slot] = *hdr;
	memcpy(b->payload + slot * m->p.max_payload, payload, hdr->payload_len);
	b->held++;
	m->st.stored++;
	if (hdr->round == m->round && m->state == GCDL_MESH_REPAIR &&
	    bit_get(b->commit.set, slot)) {
		m->st.repaired++;
		if (--m->missing == 0)
			m->state = GCDL_MESH_READY;
	}
	return 0;
}

uint32_t
gcdl_mesh_held(const struct gcdl_mesh *m)
{
	const struct bank *b;

	if (m == NULL || !m->started)
		return 0;
	b = &m->bank[m->round % BANKS];
	return b->valid && b->round == m->round ? b->held : 0;
}

int
gcdl_mesh_commit_build(struct gcdl_mesh *m, struct gcdl_mesh_commit *c)
{
	struct bank *b;

	if (m == NULL || c == NULL)
		return -EINVAL;
	if (m->p.self != m->p.committer)
		return -EPERM;
	if (!m->started || m->state != GCDL_MESH_COLLECT)
		return -EALREADY;
	b = claim(m, m->round);
	memset(&b->commit, 0, sizeof(b->commit));
	b->commit.round = m->round;
	b->commit.checksum = m->checksum;
	for (uint32_t i = 0; i < m->slots; i++)
		if (b->full[i])
			bit_set(b->commit.set, i);
	b->commit.count = b->held;
	b->has_commit = true;
	m->st.commits++;
	m->missing = 0;
	m->state = GCDL_MESH_READY;
	memcpy(c, &b->commit, sizeof(*c));
	return 0;
}

int
gcdl_mesh_on_commit(struct gcdl_mesh *m, uint16_t sender, const struct gcdl_mesh_commit *c)
{
	struct bank *b;

	if (m == NULL || c == NULL)
		return -EINVAL;
	if (sender != m->p.committer || m->p.self == m->p.committer) {
		m->st.drops[GCDL_MESH_DROP_COMMITTER]++;
		return GCDL_MESH_DROP_COMMITTER;
	}
	if (m->started && c->round > m->round && c->round <= m->round + BANKS - 2) {
		/* the committer is ahead: keep it for begin_round */
		b = claim(m, c->round);
		if (b->has_commit) {
			m->st.commit_dups++;
			return -EALREADY;
		}
		b->commit = *c;
		b->has_commit = true;
		b->commit_early = true;
		return 0;
	}
	if (!m->started || c->round != m->round) {
		b = m->started ? bank_of(m, c->round) : NULL;
		if (b != NULL && b->has_commit) {
			m->st.commit_dups++;
			return -EALREADY;
		}
		m->st.drops[GCDL_MESH_DROP_ROUND]++;
		return GCDL_MESH_DROP_ROUND;
	}
	b = claim(m, m->round);
	if (b->has_commit) {
		m->st.commit_dups++;
		return -EALREADY;
	}
	b->commit = *c;
	b->has_commit = true;
	if (m->state == GCDL_MESH_OUT)
		return 0;
	return take_commit(m, b);
}

int
gcdl_mesh_repair_build(struct gcdl_mesh *m, struct gcdl_mesh_repair *r)
{
	struct bank *b;

	if (m == NULL || r == NULL)
		return -EINVAL;
	if (m->state == GCDL_MESH_OUT)
		return -ETIMEDOUT;
	if (!m->started || m->p.self == m->p.committer ||
	    (m->state != GCDL_MESH_COLLECT && m->state != GCDL_MESH_REPAIR))
		return -EALREADY;
	if (m->tries >= m->p.repair_tries) {
		m->st.gave_up++;
		leave(m);
		return -ETIMEDOUT;
	}
	m->tries++;
	b = claim(m, m->round);
	memset(r, 0, sizeof(*r));
	r->round = m->round;
	r->from = (uint16_t)m->p.self;
	if (m->state == GCDL_MESH_COLLECT) {
		r->flags = GCDL_MESH_WANT_COMMIT;
		r->server = (uint16_t)m->p.committer;
	} else {
		/* the committer holds all it committed; if its answer is lost
		 * too, any node that holds a copy may answer */
		r->server = ++m->asks == 1 ? (uint16_t)m->p.committer : GCDL_MESH_ANY;
		for (uint32_t i = 0; i < m->slots; i++)
			if (bit_get(b->commit.set, i) && !b->full[i])
				bit_set(r->set, i);
		r->count = m->missing;
	}
	m->st.repairs_sent++;
	return 0;
}

int
gcdl_mesh_on_repair(struct gcdl_mesh *m, const struct gcdl_mesh_repair *r,
		    const struct gcdl_mesh_emit *emit)
{
	struct bank *b;
	int sent = 0, rc;

	if (m == NULL || r == NULL || emit == NULL)
		return -EINVAL;
	/* a request for another node is not this node's business */
	if (r->server != m->p.self && r->server != GCDL_MESH_ANY &&
	    !((r->flags & GCDL_MESH_WANT_COMMIT) && m->p.self == m->p.committer))
		return 0;
	b = m->started ? bank_of(m, r->round) : NULL;
	if (b == NULL) {
		m->st.drops[GCDL_MESH_DROP_ROUND]++;
		return GCDL_MESH_DROP_ROUND;
	}
	if (r->server == m->p.self || r->server == GCDL_MESH_ANY) {
		for (uint32_t i = 0; i < m->slots && emit->frame != NULL; i++) {
			if (!bit_get(r->set, i) || !b->full[i])
				continue;
			rc = emit->frame(emit->arg, &b->hdr[i], b->payload + i * m->p.max_payload);
			if (rc < 0)
				return rc;
			m->st.served_frames++;
			sent++;
		}
	}
	if ((r->flags & GCDL_MESH_WANT_COMMIT) && m->p.self == m->p.committer && b->has_commit &&
	    emit->commit != NULL) {
		rc = emit->commit(emit->arg, &b->commit);
		if (rc < 0)
			return rc;
		m->st.served_commits++;
		sent++;
	}
	return sent;
}

int
gcdl_mesh_apply(struct gcdl_mesh *m, struct gcdl_engine *e, float *update,
		struct gcdl_round_info *info)
{
	struct bank *b;
	int rc;

	if (m == NULL || e == NULL)
		return -EINVAL;
	if (m->state != GCDL_MESH_READY)
		return -EAGAIN;
	if (gcdl_engine_chunks(e) != m->p.chunks)
		return -EINVAL;
	b = claim(m, m->round);
	rc = gcdl_engine_begin_round(e, m->round);
	if (rc != 0)
		return rc;
	for (uint32_t i = 0; i < m->slots; i++) {
		if (!bit_get(b->commit.set, i))
			continue;
		rc = gcdl_engine_ingest(e, &b->hdr[i], b->payload + i * m->p.max_payload);
		/* a value every replica refuses the same way (not finite, or above
		 * coding.value_bound) counts as a missing contribution */
		if (rc == -EDOM || rc == -ERANGE)
			continue;
		if (rc != 0)
			return rc;
	}
	rc = gcdl_engine_close_round(e, update, info);
	if (rc != 0)
		return rc;
	m->state = GCDL_MESH_APPLIED;
	return 0;
}

int
gcdl_mesh_resync(struct gcdl_mesh *m, uint32_t round)
{
	if (m == NULL)
		return -EINVAL;
	m->synced = true;
	m->st.resyncs++;
	/* the next gcdl_mesh_begin_round(round) must be accepted */
	if (m->started && round <= m->round) {
		m->started = false;
		for (int b = 0; b < BANKS; b++)
			m->bank[b].valid = false;
	}
	return 0;
}

enum gcdl_mesh_state
gcdl_mesh_state(const struct gcdl_mesh *m)
{
	return m ? m->state : GCDL_MESH_OUT;
}

bool
gcdl_mesh_synced(const struct gcdl_mesh *m)
{
	return m ? m->synced : false;
}

uint32_t
gcdl_mesh_round(const struct gcdl_mesh *m)
{
	return m ? m->round : 0;
}

const struct gcdl_mesh_stats *
gcdl_mesh_stats(const struct gcdl_mesh *m)
{
	return m ? &m->st : NULL;
}
