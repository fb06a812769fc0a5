/* SPDX-License-Identifier: BSD-3-Clause */
/* The join protocol: hello/config payloads, shard ranges, MAC lists, the
 * aggregator's worker table and the worker's link to an aggregator. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gcdl/join.h"

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

int
gcdl_hello_encode(const struct gcdl_hello *h, uint8_t *buf, size_t cap)
{
	if (h == NULL || buf == NULL)
		return -EINVAL;
	if (cap < GCDL_HELLO_LEN)
		return -ENOSPC;
	put32(buf, h->version);
	put32(buf + 4, h->worker);
	put64(buf + 8, h->profile_hash);
	put64(buf + 16, h->incarnation);
	put32(buf + 24, h->round);
	return GCDL_HELLO_LEN;
}

int
gcdl_hello_decode(const uint8_t *buf, size_t len, struct gcdl_hello *h)
{
	if (buf == NULL || h == NULL)
		return -EINVAL;
	if (len != GCDL_HELLO_LEN)
		return -EBADMSG;
	h->version = get32(buf);
	h->worker = get32(buf + 4);
	h->profile_hash = get64(buf + 8);
	h->incarnation = get64(buf + 16);
	h->round = get32(buf + 24);
	return 0;
}

/* Config: version, status (u32), profile hash, incarnation, session (u64),
 * then these 32-bit fields in wire order, nparts, the partitions. */
#define CONFIG_U32S 13
#define CONFIG_U32_OFF 32

static void
config_fields(struct gcdl_config *c, uint32_t **f)
{
	f[0] = &c->worker;
	f[1] = &c->round;
	f[2] = &c->rounds;
	f[3] = &c->dim;
	f[4] = &c->chunks;
	f[5] = &c->chunk_coords;
	f[6] = &c->model_coords;
	f[7] = &c->aggregator;
	f[8] = &c->aggregators;
	f[9] = &c->chunk_first;
	f[10] = &c->chunk_count;
	f[11] = &c->coord_first;
	f[12] = &c->coord_count;
}

_Static_assert(CONFIG_U32_OFF + 4 * CONFIG_U32S + 4 == GCDL_CONFIG_FIXED_LEN, "config layout");

int
gcdl_config_encode(const struct gcdl_config *c, uint8_t *buf, size_t cap)
{
	struct gcdl_config copy;
	uint32_t *f[CONFIG_U32S];
	size_t len;

	if (c == NULL || buf == NULL || c->nparts > GCDL_JOIN_MAX_PARTS)
		return -EINVAL;
	len = GCDL_CONFIG_FIXED_LEN + 4 * (size_t)c->nparts;
	if (cap < len)
		return -ENOSPC;
	copy = *c;
	config_fields(&copy, f);
	put32(buf, c->version);
	put32(buf + 4, c->status);
	put64(buf + 8, c->profile_hash);
	put64(buf + 16, c->incarnation);
	put64(buf + 24, c->session);
	for (int i = 0; i < CONFIG_U32S; i++)
		put32(buf + CONFIG_U32_OFF + 4 * i, *f[i]);
	put32(buf + CONFIG_U32_OFF + 4 * CONFIG_U32S, c->nparts);
	for (uint32_t i = 0; i < c->nparts; i++)
		put32(buf + GCDL_CONFIG_FIXED_LEN + 4 * i, c->parts[i]);
	return (int)len;
}

int
gcdl_config_decode(const uint8_t *buf, size_t len, struct gcdl_config *c)
{
	uint32_t *f[CONFIG_U32S];

	if (buf == NULL || c == NULL)
		return -EINVAL;
	if (len < GCDL_CONFIG_FIXED_LEN)
		return -EBADMSG;
	memset(c, 0, sizeof(*c));
	config_fields(c, f);
	c->version = get32(buf);
	c->status = get32(buf + 4);
	c->profile_hash = get64(buf + 8);
	c->incarnation = get64(buf + 16);
	c->session = get64(buf + 24);
	for (int i = 0; i < CONFIG_U32S; i++)
		*f[i] = get32(buf + CONFIG_U32_OFF + 4 * i);
	c->nparts = get32(buf + CONFIG_U32_OFF + 4 * CONFIG_U32S);
	if (c->nparts > GCDL_JOIN_MAX_PARTS ||
	    len != GCDL_CONFIG_FIXED_LEN + 4 * (size_t)c->nparts)
		return -EBADMSG;
	for (uint32_t i = 0; i < c->nparts; i++)
		c->parts[i] = get32(buf + GCDL_CONFIG_FIXED_LEN + 4 * i);
	if (c->status >= GCDL_JOIN__COUNT)
		return -EBADMSG;
	if (c->status != GCDL_JOIN_ACCEPTED)
		return 0; /* a refusal carries the hash and version only */
	if (c->aggregators == 0 || c->aggregator >= c->aggregators || c->dim == 0 ||
	    c->chunks == 0 || c->chunk_coords == 0 || c->model_coords == 0 ||
	    (uint64_t)c->chunk_first + c->chunk_count > c->chunks ||
	    (uint64_t)c->coord_first + c->coord_count > c->dim || c->round > c->rounds)
		return -EBADMSG;
	return 0;
}

int
gcdl_shard_chunks(uint32_t chunks, uint32_t k, uint32_t a, uint32_t *first, uint32_t *count)
{
	uint64_t lo, hi;

	if (first == NULL || count == NULL || k == 0 || a >= k)
		return -EINVAL;
	lo = (uint64_t)a * chunks / k;
	hi = ((uint64_t)a + 1) * chunks / k;
	*first = (uint32_t)lo;
	*count = (uint32_t)(hi - lo);
	return 0;
}

uint32_t
gcdl_shard_owner(uint32_t chunks, uint32_t k, uint32_t chunk)
{
	if (k == 0 || chunk >= chunks)
		return UINT32_MAX;
	for (uint32_t a = 0; a < k; a++)
		if (((uint64_t)a + 1) * chunks / k > chunk)
			return a;
	return k - 1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
gcdl_mac_list_parse(const char *text, uint8_t (*macs)[6], uint32_t max)
{
	const char *s = text;
	uint32_t n = 0;

	if (text == NULL || (macs == NULL && max > 0))
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return 0;
	for (;;) {
		uint8_t mac[6];

		while (isspace((unsigned char)*s))
			s++;
		for (int i = 0; i < 6; i++) {
			int hi = hexval((unsigned char)s[0]), lo = hi < 0 ? -1 : hexval((unsigned char)s[1]);

			if (hi < 0 || lo < 0)
				return -EINVAL;
			mac[i] = (uint8_t)(hi << 4 | lo);
			s += 2;
			if (i < 5) {
				if (*s != ':' && *s != '-')
					return -EINVAL;
				s++;
			}
		}
		while (isspace((unsigned char)*s))
			s++;
		if (n == max)
			return -E2BIG;
		memcpy(macs[n++], mac, 6);
		if (*s == '\0')
			return (int)n;
		if (*s != ',')
			return -EINVAL;
		s++;
	}
}

const char *
gcdl_mac_format(const uint8_t mac[6], char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return buf;
	if (mac == NULL) {
		buf[0] = '\0';
		return buf;
	}
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	return buf;
}

enum gcdl_join_action
gcdl_join_on_hello(struct gcdl_join_worker *w, const struct gcdl_hello *h, uint64_t own_hash,
		   const uint8_t src[6], uint16_t port, const uint8_t *want_mac, uint32_t round,
		   uint32_t absent_rounds, int resync, int proven, uint32_t *status)
{
	if (status == NULL)
		return GCDL_JOIN_ACT_IGNORE;
	if (h == NULL || src == NULL) {
		*status = GCDL_JOIN_REFUSED_VERSION;
		return GCDL_JOIN_ACT_IGNORE;
	}
	*status = GCDL_JOIN_ACCEPTED;
	if (h->version != GCDL_JOIN_VERSION) {
		*status = GCDL_JOIN_REFUSED_VERSION;
	} else if (w == NULL) {
		*status = GCDL_JOIN_REFUSED_ID;
		return GCDL_JOIN_ACT_REFUSE;
	} else if (want_mac != NULL && memcmp(want_mac, src, 6) != 0) {
		return GCDL_JOIN_ACT_IGNORE;
	} else if (gcdl_join_expected(w, round, absent_rounds) && memcmp(w->mac, src, 6) != 0) {
		/* a present worker keeps its place: only it, from its MAC, speaks for it */
		return GCDL_JOIN_ACT_IGNORE;
	} else if (h->profile_hash != own_hash) {
		*status = GCDL_JOIN_REFUSED_PROFILE;
	}
	if (*status != GCDL_JOIN_ACCEPTED) {
		if (w != NULL)
			w->refused++;
		return GCDL_JOIN_ACT_REFUSE;
	}
	if (!proven) {
		/* anyone may have recorded a hello: it earns the session, nothing more */
		*status = GCDL_JOIN_CHALLENGE;
		return GCDL_JOIN_ACT_CHALLENGE;
	}
	memcpy(w->mac, src, 6);
	w->port = port;
	if (w->joined && w->incarnation == h->incarnation) {
		if (resync)
			w->resyncs++;
		return GCDL_JOIN_ACT_RESEND;
	}
	w->joined = 1;
	w->incarnation = h->incarnation;
	w->joins++;
	w->since_round = round;
	return GCDL_JOIN_ACT_JOIN;
}

bool
gcdl_join_expected(const struct gcdl_join_worker *w, uint32_t round, uint32_t absent_rounds)
{
	uint32_t last;

	if (w == NULL || !w->joined)
		return false;
	/* last_round is 1-based: the latest round sent, + 1 */
	last = w->last_round > w->since_round ? w->last_round : w->since_round;
	return (uint64_t)last + absent_rounds > round;
}

int
gcdl_link_on_config(struct gcdl_link *l, const struct gcdl_config *c)
{
	if (l == NULL || c == NULL || c->status != GCDL_JOIN_ACCEPTED || c->coord_count == 0 ||
	    c->model_coords == 0)
		return -EINVAL;
	l->state = GCDL_LINK_MODEL;
	l->round = c->round;
	l->update_round = c->round;
	l->coord_first = c->coord_first;
	l->coord_count = c->coord_count;
	l->model_coords = c->model_coords;
	l->frames = (c->coord_first + c->coord_count - 1) / c->model_coords -
		    c->coord_first / c->model_coords + 1;
	l->got = 0;
	return 0;
}

void
gcdl_link_clip(const struct gcdl_link *l, uint32_t first, uint32_t count, uint32_t *lo,
	       uint32_t *n)
{
	uint64_t a = first > l->coord_first ? first : l->coord_first;
	uint64_t b = (uint64_t)first + count;
	uint64_t e = (uint64_t)l->coord_first + l->coord_count;

	if (e < b)
		b = e;
	*lo = (uint32_t)a;
	*n = b > a ? (uint32_t)(b - a) : 0;
}
