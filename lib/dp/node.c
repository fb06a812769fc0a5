/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The node: creation, the receive path (burst, address filter, capture,
 * validation, counting by class), the transmit path (per-port backlogs fed
 * by frames and by image streams, flushed every poll), telemetry's view and
 * the summary. The roles live in node_worker.c, node_agg.c, node_mesh.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <numa.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "node_internal.h"
#include "seterr.h"

/* frame classes, kept in the mbuf until it goes out (hash.usr is unused on transmit) */
enum {
	CLASS_OTHER = 0,
	CLASS_UPLINK,
	CLASS_DOWNLINK,
	CLASS_CONTROL,
};

const char *
gcdl_node_role_name(enum gcdl_node_role role)
{
	switch (role) {
	case GCDL_NODE_WORKER:
		return "worker";
	case GCDL_NODE_AGGREGATOR:
		return "aggregator";
	case GCDL_NODE_PEER:
		return "peer";
	default:
		return "unknown";
	}
}

int
node_fail(struct gcdl_node *n, int rc, const char *fmt, ...)
{
	va_list ap;

	if (n->rc == 0) {
		va_start(ap, fmt);
		vsnprintf(n->fail, sizeof(n->fail), fmt, ap);
		va_end(ap);
		n->rc = rc < 0 ? rc : -EIO;
		node_helpers_stop(n);
		/* a trainer waiting on this node learns why it stopped */
		if (n->xg != NULL)
			gcdl_extgrad_set_state(n->xg, GCDL_EXTGRAD_FAILED, n->fail);
		NODE_LOG(control, ERR, "%s %u: %s", gcdl_node_role_name(n->conf.role),
			 n->conf.id, n->fail);
	}
	return n->rc;
}

void
node_tel_round(struct gcdl_node *n, uint32_t round_1based, double deadline_us)
{
	__atomic_store_n(&n->tel.round, round_1based, __ATOMIC_RELAXED);
	__atomic_store(&n->tel.deadline_us, &deadline_us, __ATOMIC_RELAXED);
}

void
node_tel_closed(struct gcdl_node *n, uint32_t rounds_done, uint32_t stragglers)
{
	__atomic_store_n(&n->tel.rounds_done, rounds_done, __ATOMIC_RELAXED);
	__atomic_store_n(&n->tel.stragglers, stragglers, __ATOMIC_RELAXED);
	if (n->re.evaluated) {
		__atomic_store(&n->tel.train_loss, &n->re.loss, __ATOMIC_RELAXED);
		__atomic_store(&n->tel.test_accuracy, &n->re.acc, __ATOMIC_RELAXED);
		__atomic_store_n(&n->tel.evaluated, 1, __ATOMIC_RELAXED);
	}
}

/* ---- transmit ---------------------------------------------------------- */

static int
frame_class(int type)
{
	switch (type) {
	case GCDL_MSG_ONEBIT:
	case GCDL_MSG_FLOAT:
	case GCDL_MSG_SIGN:
		return CLASS_UPLINK;
	case GCDL_MSG_UPDATE:
	case GCDL_MSG_UPDATE1:
	case GCDL_MSG_MODEL:
		return CLASS_DOWNLINK;
	case GCDL_MSG_HELLO:
	case GCDL_MSG_CONFIG:
	case GCDL_MSG_RESYNC:
	case GCDL_MSG_COMMIT:
	case GCDL_MSG_REPAIR:
		return CLASS_CONTROL;
	default:
		return CLASS_OTHER;
	}
}

/* The class of a frame we built: its type byte, unless it is not a gcdl
 * frame at all (self-test garbage). */
static int
class_of_frame(const uint8_t *f, size_t len)
{
	if (len < GCDL_ETH_HDR_LEN + 4 || f[12] != (GCDL_ETHERTYPE >> 8) ||
	    f[13] != (GCDL_ETHERTYPE & 0xff))
		return CLASS_OTHER;
	return frame_class(f[GCDL_ETH_HDR_LEN + 3]);
}

struct rte_mbuf *
node_alloc(struct gcdl_node *n)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(n->conf.pool);

	if (m == NULL)
		node_count(n, GCDL_CTR_ALLOC_FAILURES, 1);
	return m;
}

uint32_t
node_tx_room(const struct gcdl_node *n, uint16_t pi)
{
	const struct node_port *p = &n->port[pi];

	return NODE_BACKLOG - (p->tail - p->head);
}

/* network.vlan: tag a frame (once: a multicast mbuf queued on several ports
 * is tagged by the first); -1 when the mbuf has no headroom for it. */
static int
vlan_tag(const struct gcdl_node *n, struct rte_mbuf *m)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	uint8_t *t;

	if (gcdl_vlan_tagged(d, m->data_len))
		return 0;
	t = (uint8_t *)rte_pktmbuf_prepend(m, GCDL_VLAN_TAG_LEN);
	if (t == NULL)
		return -1;
	gcdl_vlan_insert(t, n->vlan_tci);
	return 0;
}

static void
tx_queue_as(struct gcdl_node *n, uint16_t pi, struct rte_mbuf *m, int class)
{
	struct node_port *p = &n->port[pi];

	if (n->prof.vlan != 0 && unlikely(vlan_tag(n, m) != 0)) {
		node_count(n, GCDL_CTR_TX_FAILED, 1);
		rte_pktmbuf_free(m);
		return;
	}
	m->hash.usr = (uint32_t)class;
	if (p->tail - p->head == NODE_BACKLOG) {
		node_tx_flush(n);
		if (p->tail - p->head == NODE_BACKLOG) {
			node_count(n, GCDL_CTR_TX_FAILED, 1);
			rte_pktmbuf_free(m);
			return;
		}
	}
	p->backlog[p->tail++ & (NODE_BACKLOG - 1)] = m;
}

void
node_tx_queue(struct gcdl_node *n, uint16_t pi, struct rte_mbuf *m)
{
	tx_queue_as(n, pi, m, class_of_frame(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len));
}

/* What a transmit burst will count, read before the burst: once a port has
 * taken an mbuf it is not ours to read (net_ring hands it to a receiver on
 * another lcore, which may free and reuse it; af_packet frees it at once). */
struct tx_snap {
	uint32_t len;
	uint8_t class;
};

/* Snapshot the burst backlog[head .. head + cnt) of port p; with --pcap,
 * write the entries not written yet (a frame the port takes only on a later
 * burst is not written twice; a frame sent on several ports is written once
 * per port, as a capture of each port would show it). */
static void
snap_burst(struct gcdl_node *n, struct node_port *p, struct rte_mbuf **m, uint16_t cnt,
	   struct tx_snap *sn)
{
	uint64_t now = n->pcap != NULL ? rte_rdtsc() : 0;

	for (uint16_t i = 0; i < cnt; i++) {
		sn[i].len = m[i]->pkt_len;
		sn[i].class = (uint8_t)(m[i]->hash.usr & 3);
		if (unlikely(n->pcap != NULL) && (int32_t)(p->head + i - p->captured) >= 0) {
			gcdl_pcap_write(n->pcap, now, rte_pktmbuf_mtod(m[i], const uint8_t *),
					m[i]->data_len);
			p->captured = p->head + i + 1;
		}
	}
}

static void
count_sent(struct gcdl_node *n, const struct tx_snap *sn, uint16_t cnt)
{
	uint64_t bytes = 0, cb[4] = { 0 }, cf[4] = { 0 };

	for (uint16_t i = 0; i < cnt; i++) {
		bytes += sn[i].len;
		cb[sn[i].class] += sn[i].len;
		cf[sn[i].class]++;
	}
	node_count(n, GCDL_CTR_TX_FRAMES, cnt);
	node_count(n, GCDL_CTR_TX_BYTES, bytes);
	if (cf[CLASS_UPLINK]) {
		node_count(n, GCDL_CTR_UPLINK_TX_FRAMES, cf[CLASS_UPLINK]);
		node_count(n, GCDL_CTR_UPLINK_TX_BYTES, cb[CLASS_UPLINK]);
	}
	if (cf[CLASS_DOWNLINK]) {
		node_count(n, GCDL_CTR_DOWNLINK_TX_FRAMES, cf[CLASS_DOWNLINK]);
		node_count(n, GCDL_CTR_DOWNLINK_TX_BYTES, cb[CLASS_DOWNLINK]);
	}
	if (cf[CLASS_CONTROL])
		node_count(n, GCDL_CTR_CONTROL_TX_FRAMES, cf[CLASS_CONTROL]);
}

uint32_t
node_tx_flush(struct gcdl_node *n)
{
	uint32_t total = 0;

	for (uint16_t pi = 0; pi < n->nports; pi++) {
		struct node_port *p = &n->port[pi];

		while (p->tail != p->head) {
			uint32_t h = p->head & (NODE_BACKLOG - 1);
			uint32_t cnt = RTE_MIN(p->tail - p->head, NODE_BACKLOG - h);
			uint16_t want = (uint16_t)RTE_MIN(cnt, n->burst), sent;
			struct rte_eth_link lk;

			struct tx_snap sn[NODE_MAX_BURST];

			/* a burst is too short to be descheduled in: no clock read */
			snap_burst(n, p, &p->backlog[h], want, sn);
			sent = rte_eth_tx_burst(p->id, 0, &p->backlog[h], want);
			if (sent > 0) {
				count_sent(n, sn, sent);
				p->head += sent;
				total += sent;
			}
			if (sent == want)
				continue;
			/* a full ring drains by the next poll; a link that is down (a
			 * memif peer that died) never does: drop what waits for it */
			memset(&lk, 0, sizeof(lk));
			if (rte_eth_link_get_nowait(p->id, &lk) == 0 && !lk.link_status) {
				while (p->tail != p->head) {
					rte_pktmbuf_free(p->backlog[p->head++ & (NODE_BACKLOG - 1)]);
					node_count(n, GCDL_CTR_TX_FAILED, 1);
				}
			} else {
				node_count(n, GCDL_CTR_TX_FULL, 1);
			}
			break;
		}
	}
	return total;
}

/* Hello and config let a node learn the session: they are tagged with the
 * job key (a hello earns a challenge only, gcdl/join.h). */
static int
job_keyed(const struct gcdl_node *n, int type)
{
	(void)n;
	return type == GCDL_MSG_HELLO || type == GCDL_MSG_CONFIG;
}

const struct gcdl_auth *
node_tx_key(const struct gcdl_node *n, int type)
{
	if (n->conf.auth == NULL)
		return NULL;
	if (job_keyed(n, type))
		return n->conf.auth;
	return &n->session_key; /* a worker's frames go through node_worker_key() */
}

void
node_set_session(struct gcdl_node *n, uint64_t session)
{
	n->session = session;
	n->have_session = 1;
	if (n->conf.auth != NULL)
		gcdl_auth_session(n->conf.auth, session, &n->session_key);
}

/* The key a received frame must verify under, NULL when the node has none
 * yet (the frame fails as auth). */
static const struct gcdl_auth *
rx_key(const struct gcdl_node *n, const struct gcdl_frame_hdr *hdr)
{
	if (job_keyed(n, hdr->type))
		return n->conf.auth;
	if (n->conf.role == GCDL_NODE_WORKER) {
		if (hdr->sender >= n->n)
			return node_worker_key(n, hdr->sender - n->n);
		/* relay: the workers' frames, sent down by the aggregator under
		 * its session (node_relay.c); a worker takes them from no one
		 * else (a star's relay has one aggregator) */
		return n->relay != NULL ? node_worker_key(n, 0) : NULL;
	}
	return n->have_session ? &n->session_key : NULL;
}

void
node_hdr(const struct gcdl_node *n, struct gcdl_frame_hdr *h, int type, uint32_t round)
{
	memset(h, 0, sizeof(*h));
	h->type = (uint8_t)type;
	h->job_id = n->prof.job_id;
	h->round = round;
	h->sender = n->self;
}

int
node_send(struct gcdl_node *n, uint16_t pi, const uint8_t dst[6], const struct gcdl_frame_hdr *h,
	  const void *payload, const struct gcdl_auth *key)
{
	struct gcdl_frame_hdr hh = *h;
	struct rte_mbuf *m = node_alloc(n);
	ssize_t len;

	if (m == NULL) {
		node_count(n, GCDL_CTR_TX_FAILED, 1);
		return -ENOBUFS;
	}
	memcpy(hh.dst, dst, 6);
	memcpy(hh.src, n->port[pi].mac, 6);
	len = gcdl_frame_encode(&hh, payload, rte_pktmbuf_mtod(m, uint8_t *),
				rte_pktmbuf_tailroom(m));
	if (len >= 0 && key != NULL)
		len = gcdl_auth_seal(key, rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m));
	if (len < 0) {
		rte_pktmbuf_free(m);
		node_count(n, GCDL_CTR_TX_FAILED, 1);
		return (int)len;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	node_tx_queue(n, pi, m);
	return 0;
}

int
node_send_raw(struct gcdl_node *n, uint16_t pi, const uint8_t dst[6], const uint8_t *frame,
	      size_t len, unsigned flags)
{
	struct rte_mbuf *m = node_alloc(n);
	uint8_t *f;

	if (m == NULL || rte_pktmbuf_tailroom(m) < len) {
		rte_pktmbuf_free(m);
		node_count(n, GCDL_CTR_TX_FAILED, 1);
		return -ENOBUFS;
	}
	f = rte_pktmbuf_mtod(m, uint8_t *);
	memcpy(f, frame, len);
	/* the MACs are covered by neither the CRC nor the tag */
	if (len >= 6)
		memcpy(f, dst, 6);
	if (len >= 12 && !(flags & NODE_RAW_KEEP_SRC))
		memcpy(f + 6, n->port[pi].mac, 6);
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	if (flags & NODE_RAW_SELFTEST)
		tx_queue_as(n, pi, m, CLASS_OTHER);
	else if (flags & NODE_RAW_DOWNLINK)
		tx_queue_as(n, pi, m, CLASS_DOWNLINK);
	else
		node_tx_queue(n, pi, m);
	return 0;
}

void
node_send_range(struct gcdl_node *n, uint16_t pi, const uint8_t dst[6], int type, uint32_t round,
		const float *vec, uint32_t first, uint32_t count, const struct gcdl_auth *key)
{
	struct gcdl_frame_hdr h;

	if (count == 0)
		return;
	node_hdr(n, &h, type, round);
	for (uint32_t c = first / n->mc; c <= (first + count - 1) / n->mc; c++) {
		uint32_t lo = c * n->mc;
		uint32_t cnt = RTE_MIN(n->mc, n->dim - lo);

		h.chunk = c;
		h.first_coord = lo;
		h.coord_count = cnt;
		h.payload_len = (uint16_t)(4 * cnt);
		gcdl_frame_put_floats(n->payload, vec + lo, cnt);
		node_send(n, pi, dst, &h, n->payload, key);
	}
}

/* ---- images and streams ------------------------------------------------ */

int
node_image_init(struct gcdl_node *n, struct node_image *img, uint32_t frames)
{
	memset(img, 0, sizeof(*img));
	img->stride = (uint32_t)RTE_ALIGN_CEIL(n->frame_cap, RTE_CACHE_LINE_SIZE);
	img->len = rte_zmalloc_socket("gcdl_image_len", sizeof(uint16_t) * RTE_MAX(frames, 1u), 0,
				      (int)n->conf.socket);
	img->data = rte_zmalloc_socket("gcdl_image", (size_t)img->stride * RTE_MAX(frames, 1u),
				       RTE_CACHE_LINE_SIZE, (int)n->conf.socket);
	return img->len != NULL && img->data != NULL ? 0 : -ENOMEM;
}

void
node_image_fini(struct node_image *img)
{
	rte_free(img->len);
	rte_free(img->data);
	memset(img, 0, sizeof(*img));
}

/* Coordinates per frame of an image of this type. */
static uint32_t
image_chunk_coords(const struct gcdl_node *n, int type)
{
	return type == GCDL_MSG_UPDATE1 ? n->dl_coords : n->mc;
}

void
node_image_encode(struct gcdl_node *n, struct node_image *img, int type, uint32_t round,
		  const float *vec, uint32_t first, uint32_t count)
{
	uint32_t l = image_chunk_coords(n, type);
	struct gcdl_frame_hdr h;
	uint32_t f = 0;

	img->type = type;
	img->round = round;
	img->frames = 0;
	img->first_chunk = first / l;
	if (count == 0)
		return;
	node_hdr(n, &h, type, round);
	for (uint32_t c = first / l; c <= (first + count - 1) / l; c++, f++) {
		uint32_t lo = c * l;
		uint32_t cnt = RTE_MIN(l, n->dim - lo);
		uint8_t *dst = img->data + (size_t)f * img->stride;
		ssize_t len;

		h.chunk = c;
		h.first_coord = lo;
		h.coord_count = cnt;
		if (type == GCDL_MSG_UPDATE1) {
			h.scale_block = (uint16_t)n->prof.scale_block;
			h.payload_len = (uint16_t)gcdl_downlink_encode(vec + lo, cnt,
								      n->prof.scale_block, n->payload);
		} else {
			h.scale_block = 0;
			h.payload_len = (uint16_t)(4 * cnt);
			gcdl_frame_put_floats(n->payload, vec + lo, cnt);
		}
		/* addresses are patched in per destination */
		len = gcdl_frame_encode(&h, n->payload, dst, img->stride);
		if (len >= 0 && node_tx_key(n, type) != NULL)
			len = gcdl_auth_seal(node_tx_key(n, type), dst, img->stride);
		img->len[f] = (uint16_t)(len > 0 ? len : 0);
	}
	img->frames = f;
}

/* One frame of an image, addressed, in a fresh mbuf (NULL: no mbuf). */
static struct rte_mbuf *
image_frame(struct gcdl_node *n, const struct node_image *img, uint32_t fi, uint16_t pi,
	    const uint8_t dst[6])
{
	struct rte_mbuf *m = node_alloc(n);
	uint16_t len = img->len[fi];
	uint8_t *f;

	if (m == NULL)
		return NULL;
	f = rte_pktmbuf_mtod(m, uint8_t *);
	rte_memcpy(f, img->data + (size_t)fi * img->stride, len);
	memcpy(f, dst, 6);
	memcpy(f + 6, n->port[pi].mac, 6);
	m->data_len = len;
	m->pkt_len = len;
	return m;
}

int
node_image_resend(struct gcdl_node *n, const struct node_image *img, uint32_t chunk, uint16_t pi,
		  const uint8_t dst[6])
{
	struct rte_mbuf *m;
	uint32_t fi;

	if (chunk < img->first_chunk || chunk - img->first_chunk >= img->frames)
		return -ENOENT;
	fi = chunk - img->first_chunk;
	if (img->len[fi] == 0)
		return -ENOENT;
	m = image_frame(n, img, fi, pi, dst);
	if (m == NULL)
		return -ENOBUFS;
	node_tx_queue(n, pi, m);
	return img->len[fi];
}

/* faults.downlink_drop_p: keep, for each port, whether this frame's copy is
 * sent; the ports that keep it are left in out. @return how many. */
static uint16_t
fault_ports(struct gcdl_node *n, const uint16_t *ports, uint16_t nports, uint16_t *out)
{
	uint16_t k = 0;

	for (uint16_t i = 0; i < nports; i++) {
		if (n->dl_drop != 0 && gcdl_rng_u32(&n->dl_fault) < n->dl_drop) {
			node_count(n, GCDL_CTR_FAULT_DROPPED, 1);
			continue;
		}
		out[k++] = ports[i];
	}
	return k;
}

/* The run of ports[p..) that share ports[p]'s MAC: @return its end. */
static uint16_t
same_mac_end(const struct gcdl_node *n, const uint16_t *ports, uint16_t nports, uint16_t p)
{
	uint16_t q = p + 1;

	while (q < nports && memcmp(n->port[ports[q]].mac, n->port[ports[p]].mac, 6) == 0)
		q++;
	return q;
}

/* Queue one downlink mbuf on ports[0..refs), which share its source MAC: one
 * reference each (net_ring passes the pointer on; memif and af_packet copy it
 * out), never N copies. */
static void
queue_shared(struct gcdl_node *n, struct rte_mbuf *m, const uint16_t *ports, uint16_t refs)
{
	if (refs > 1)
		rte_mbuf_refcnt_update(m, (int16_t)(refs - 1));
	for (uint16_t r = 0; r < refs; r++)
		tx_queue_as(n, ports[r], m, CLASS_DOWNLINK);
}

int
node_group_send(struct gcdl_node *n, const uint8_t *frame, size_t len, const uint16_t *all,
		uint16_t nall)
{
	uint16_t ports[NODE_MAX_PORTS], nports = fault_ports(n, all, nall, ports);
	uint16_t p = 0;

	while (p < nports) {
		uint16_t q = same_mac_end(n, ports, nports, p);
		struct rte_mbuf *m = node_alloc(n);
		uint8_t *f;

		if (m == NULL || rte_pktmbuf_tailroom(m) < len) {
			rte_pktmbuf_free(m);
			node_count(n, GCDL_CTR_TX_FAILED, q - p);
			return -ENOBUFS;
		}
		f = rte_pktmbuf_mtod(m, uint8_t *);
		memcpy(f, frame, len);
		memcpy(f, n->group, 6);
		memcpy(f + 6, n->port[ports[p]].mac, 6);
		m->data_len = (uint16_t)len;
		m->pkt_len = (uint32_t)len;
		queue_shared(n, m, ports + p, q - p);
		p = q;
	}
	return 0;
}

uint32_t
node_group_feed(struct gcdl_node *n, struct node_stream *s, const uint16_t *ports,
		uint16_t nports)
{
	uint32_t queued = 0;

	while (s->img != NULL) {
		struct node_image *img = s->img;
		uint32_t room = UINT32_MAX, cnt;

		if (s->next == img->frames || nports == 0) {
			img->users--;
			s->img = NULL;
			break;
		}
		for (uint16_t i = 0; i < nports; i++) {
			uint32_t backlog = NODE_BACKLOG - node_tx_room(n, ports[i]);

			room = RTE_MIN(room, backlog < NODE_FEED_MAX ? NODE_FEED_MAX - backlog : 0);
		}
		cnt = RTE_MIN(img->frames - s->next, room);
		if (cnt == 0)
			break;
		for (uint32_t i = 0; i < cnt; i++) {
			struct rte_mbuf *m = NULL;
			uint16_t p = 0, kept[NODE_MAX_PORTS];
			uint16_t nk = fault_ports(n, ports, nports, kept);

			/* one mbuf for the ports that share a MAC (the frame's source) */
			while (p < nk) {
				uint16_t q = same_mac_end(n, kept, nk, p);

				m = image_frame(n, img, s->next + i, kept[p], n->group);
				if (m == NULL)
					break;
				queue_shared(n, m, kept + p, q - p);
				p = q;
			}
			if (nk > 0 && m == NULL) {
				cnt = i;
				break;
			}
		}
		s->next += cnt;
		queued += cnt;
		if (cnt == 0)
			break;
	}
	return queued;
}

uint32_t
node_stream_feed(struct gcdl_node *n, struct node_stream *s, uint16_t pi, const uint8_t dst[6])
{
	struct rte_mbuf *m[64];
	uint32_t queued = 0;

	while (s->img != NULL) {
		struct node_image *img = s->img;
		uint32_t backlog = NODE_BACKLOG - node_tx_room(n, pi);
		uint32_t room = backlog < NODE_FEED_MAX ? NODE_FEED_MAX - backlog : 0;
		uint32_t cnt = RTE_MIN(img->frames - s->next, room);

		if (cnt > RTE_DIM(m))
			cnt = RTE_DIM(m);

		if (s->next == img->frames) {
			img->users--;
			s->img = NULL;
			break;
		}
		if (cnt == 0)
			break;
		if (rte_pktmbuf_alloc_bulk(n->conf.pool, m, cnt) != 0) {
			node_count(n, GCDL_CTR_ALLOC_FAILURES, 1);
			break;
		}
		for (uint32_t i = 0; i < cnt; i++) {
			uint32_t fi = s->next + i;
			uint16_t len = img->len[fi];
			uint8_t *f = rte_pktmbuf_mtod(m[i], uint8_t *);

			rte_memcpy(f, img->data + (size_t)fi * img->stride, len);
			memcpy(f, dst, 6);
			memcpy(f + 6, n->port[pi].mac, 6);
			m[i]->data_len = len;
			m[i]->pkt_len = len;
			node_tx_queue(n, pi, m[i]);
		}
		s->next += cnt;
		queued += cnt;
	}
	return queued;
}

/* ---- receive ----------------------------------------------------------- */

/* network.vlan: 0 when *mp is of this node's VLAN (0: untagged), its tag
 * removed; -1 when it is of another (or untagged on a VLAN node). A port may
 * have stripped the tag into the mbuf (af_packet: the kernel does). An mbuf
 * other receivers hold too (a multicast frame over ring ports) is left as
 * it is: its frame is copied untagged into a new mbuf. -2: no mbuf. */
static int
vlan_rx(struct gcdl_node *n, struct rte_mbuf **mp)
{
	struct rte_mbuf *m = *mp, *c;
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);

	switch (gcdl_vlan_classify(d, len, (uint16_t)n->prof.vlan)) {
	case GCDL_VLAN_UNTAGGED:
		if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED)
			return (m->vlan_tci & 0xfff) == n->prof.vlan ? 0 : -1;
		return n->prof.vlan == 0 ? 0 : -1;
	case GCDL_VLAN_OTHER:
		return -1;
	default:
		break;
	}
	if (rte_mbuf_refcnt_read(m) == 1 && RTE_MBUF_DIRECT(m)) {
		gcdl_vlan_strip(d);
		rte_pktmbuf_adj(m, GCDL_VLAN_TAG_LEN);
		return 0;
	}
	c = node_alloc(n);
	if (c == NULL)
		return -2;
	gcdl_vlan_copy_untagged(rte_pktmbuf_mtod(c, uint8_t *), d, len);
	c->data_len = (uint16_t)(len - GCDL_VLAN_TAG_LEN);
	c->pkt_len = c->data_len;
	c->port = m->port;
	rte_pktmbuf_free(m);
	*mp = c;
	return 0;
}

uint16_t
node_rx(struct gcdl_node *n, uint16_t pi, struct rte_mbuf **pkts)
{
	struct node_port *p = &n->port[pi];
	uint16_t nb = rte_eth_rx_burst(p->id, 0, pkts, (uint16_t)n->burst), kept = 0;
	uint64_t bytes = 0, now = 0;

	if (nb == 0)
		return 0;
	if (unlikely(n->pcap != NULL))
		now = rte_rdtsc();
	for (uint16_t i = 0; i < nb; i++) {
		const uint8_t *d = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
		uint32_t len = rte_pktmbuf_data_len(pkts[i]);
		int v;

		bytes += len;
		if (unlikely(n->pcap != NULL))
			gcdl_pcap_write(n->pcap, now, d, len);
		/* a frame with an 802.1Q tag, or a port that stripped one */
		if (gcdl_vlan_tagged(d, len) || (pkts[i]->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) ||
		    n->prof.vlan != 0) {
			v = vlan_rx(n, &pkts[i]);
			if (v != 0) {
				if (v == -1)
					node_count(n, GCDL_CTR_WRONG_VLAN, 1);
				rte_pktmbuf_free(pkts[i]);
				continue;
			}
			d = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
			len = rte_pktmbuf_data_len(pkts[i]);
		}
		/* group addresses (broadcast hellos, the mesh group) are for everyone */
		if (len >= 6 && !(d[0] & 1) && memcmp(d, p->mac, 6) != 0) {
			node_count(n, GCDL_CTR_NOT_MINE, 1);
			rte_pktmbuf_free(pkts[i]);
			continue;
		}
		if (i + 1 < nb)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		pkts[kept++] = pkts[i];
	}
	node_count(n, GCDL_CTR_RX_FRAMES, nb);
	node_count(n, GCDL_CTR_RX_BYTES, bytes);
	return kept;
}

int
node_decode(struct gcdl_node *n, const struct rte_mbuf *m, struct gcdl_frame_hdr *hdr,
	    const uint8_t **pl)
{
	const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	int rc = gcdl_frame_decode(data, len, &n->lim, hdr, pl);

	/* with a job key nothing of a frame is used before its tag is checked */
	if (rc == 0 && n->conf.auth != NULL) {
		const struct gcdl_auth *key = rx_key(n, hdr);

		if (key == NULL) {
			/* nothing to check it with yet: neither news nor a forgery */
			node_count(n, GCDL_CTR_NO_SESSION, 1);
			return GCDL_DROP_AUTH;
		}
		rc = gcdl_auth_verify(key, data, len);
	}
	if (rc < 0)
		rc = GCDL_DROP_TRUNCATED;
	if (rc > 0) {
		node_count(n, GCDL_CTR_DROP(rc), 1);
		return rc;
	}
	/* a worker gets gradient frames only as the relay's downlink */
	switch (frame_class(hdr->type) == CLASS_UPLINK && n->conf.role == GCDL_NODE_WORKER
			? CLASS_DOWNLINK : frame_class(hdr->type)) {
	case CLASS_UPLINK:
		node_count(n, GCDL_CTR_UPLINK_RX_FRAMES, 1);
		node_count(n, GCDL_CTR_UPLINK_RX_BYTES, len);
		break;
	case CLASS_DOWNLINK:
		node_count(n, GCDL_CTR_DOWNLINK_RX_FRAMES, 1);
		node_count(n, GCDL_CTR_DOWNLINK_RX_BYTES, len);
		break;
	default:
		node_count(n, GCDL_CTR_CONTROL_RX_FRAMES, 1);
		break;
	}
	return 0;
}

/* ---- the node ---------------------------------------------------------- */

size_t
node_frame_cap(const struct gcdl_job *job)
{
	const struct gcdl_profile *p = &job->prof;
	uint32_t mc = gcdl_frame_chunk_coords(GCDL_MSG_MODEL, gcdl_profile_frame_mtu(p), 0);
	size_t payload = RTE_MAX(gcdl_engine_max_payload(job->engine), 4 * (size_t)mc);

	payload = RTE_MAX(payload, (size_t)GCDL_CONFIG_FIXED_LEN + 4 * GCDL_JOIN_MAX_PARTS);
	if (p->topology == GCDL_TOPO_MESH)
		payload = RTE_MAX(payload, (size_t)GCDL_MESH_COMMIT_HDR +
				  gcdl_mesh_set_bytes(gcdl_engine_chunks(job->engine), p->workers));
	return RTE_MAX((size_t)GCDL_ETH_MIN_FRAME,
		       GCDL_FRAME_OVERHEAD + payload + GCDL_FRAME_TAG_LEN);
}

static int
check_conf(const struct gcdl_node_conf *c, char *err, size_t errlen)
{
	const struct gcdl_profile *p;

	if (c == NULL || c->job == NULL || c->job->engine == NULL || c->pool == NULL ||
	    c->nports == 0 || c->ports == NULL) {
		gcdl_seterr(err, errlen, "node: no job, mempool or port");
		return -EINVAL;
	}
	if (c->nports > NODE_MAX_PORTS) {
		gcdl_seterr(err, errlen, "node: %u ports, at most %u", c->nports, NODE_MAX_PORTS);
		return -EINVAL;
	}
	p = &c->job->prof;
	switch (c->role) {
	case GCDL_NODE_WORKER:
		if (p->topology == GCDL_TOPO_MESH) {
			gcdl_seterr(err, errlen, "network.topology mesh: its nodes are peers");
			return -EINVAL;
		}
		/* fall through */
	case GCDL_NODE_PEER:
		if (c->role == GCDL_NODE_PEER && p->topology != GCDL_TOPO_MESH) {
			gcdl_seterr(err, errlen, "a mesh peer needs network.topology mesh");
			return -EINVAL;
		}
		if (c->id >= p->workers) {
			gcdl_seterr(err, errlen, "--id %u: this job has workers 0..%u "
				    "(cluster.workers = %u)", c->id, p->workers - 1, p->workers);
			return -EINVAL;
		}
		break;
	case GCDL_NODE_AGGREGATOR:
		if (p->topology == GCDL_TOPO_MESH) {
			gcdl_seterr(err, errlen, "network.topology mesh has no aggregator: run "
				    "every node as --role worker --id K");
			return -EINVAL;
		}
		if (c->id >= p->aggregators) {
			gcdl_seterr(err, errlen, "--id %u: this job has aggregators 0..%u "
				    "(network.aggregators = %u)", c->id, p->aggregators - 1,
				    p->aggregators);
			return -EINVAL;
		}
		break;
	default:
		gcdl_seterr(err, errlen, "node: unknown role %d", (int)c->role);
		return -EINVAL;
	}
	if (c->inject_hostile > 0 && c->auth == NULL) {
		gcdl_seterr(err, errlen, "--inject-hostile needs a job key (job.key_file)");
		return -EINVAL;
	}
	return 0;
}

/* The node's own engine on the job's datasets, its memory preferred on the
 * node's socket. */
static struct gcdl_engine *
engine_on(const struct gcdl_node_conf *c, char *err, size_t errlen)
{
	int numa = numa_available() >= 0;
	struct gcdl_engine *e;

	if (numa)
		numa_set_preferred((int)c->socket);
	e = gcdl_job_engine_create(c->job, 1, err, errlen);
	if (numa)
		numa_set_localalloc();
	/* one process, one store of the workers' states (onebit_gc_ef's
	 * residuals, their momentum): the aggregator's checkpoint holds them */
	if (e != NULL && c->local && gcdl_engine_share_worker_state(e, c->job->engine) != 0) {
		gcdl_seterr(err, errlen, "node: cannot share the workers' state");
		gcdl_engine_free(e);
		return NULL;
	}
	return e;
}

struct gcdl_node *
gcdl_node_create(const struct gcdl_node_conf *c, char *err, size_t errlen)
{
	const struct gcdl_profile *p;
	struct gcdl_node *n;
	size_t payload;
	int rc;

	rc = check_conf(c, err, errlen);
	if (rc != 0) {
		rte_errno = -rc;
		return NULL;
	}
	p = &c->job->prof;
	n = rte_zmalloc_socket("gcdl_node", sizeof(*n), RTE_CACHE_LINE_SIZE, (int)c->socket);
	if (n == NULL)
		goto nomem;
	n->conf = *c;
	n->prof = *p;
	n->job = c->job;
	n->n = p->workers;
	n->k = p->topology == GCDL_TOPO_MESH ? 1 : p->aggregators;
	n->hz = rte_get_tsc_hz();
	n->burst = RTE_MIN(p->burst, (uint32_t)NODE_MAX_BURST);
	n->hash = gcdl_profile_hash(p);
	n->vlan_tci = gcdl_vlan_tci((uint16_t)p->vlan, (uint8_t)p->vlan_priority);
	n->self = (uint16_t)(c->role == GCDL_NODE_AGGREGATOR ? p->workers + c->id : c->id);
	n->pcap = c->pcap;
	n->tel.rounds_total = p->rounds;
	n->port = rte_zmalloc_socket("gcdl_node_ports", sizeof(*n->port) * c->nports,
				     RTE_CACHE_LINE_SIZE, (int)c->socket);
	if (n->port == NULL)
		goto nomem;
	n->nports = c->nports;
	for (uint16_t i = 0; i < c->nports; i++) {
		struct rte_ether_addr a;

		n->port[i].id = c->ports[i];
		if (c->macs != NULL) {
			memcpy(n->port[i].mac, c->macs[i], 6);
			continue;
		}
		if (rte_eth_macaddr_get(c->ports[i], &a) != 0) {
			gcdl_seterr(err, errlen, "port %u: no MAC address", c->ports[i]);
			rc = -ENODEV;
			goto fail;
		}
		memcpy(n->port[i].mac, a.addr_bytes, 6);
	}
	if (!c->local && p->aggregator_macs[0] != '\0' && p->topology != GCDL_TOPO_MESH) {
		n->agg_macs = calloc(n->k, 6);
		if (n->agg_macs == NULL)
			goto nomem;
		gcdl_mac_list_parse(p->aggregator_macs, n->agg_macs, n->k);
	}
	if (!c->local && p->worker_macs[0] != '\0') {
		n->worker_macs = calloc(n->n, 6);
		if (n->worker_macs == NULL)
			goto nomem;
		gcdl_mac_list_parse(p->worker_macs, n->worker_macs, n->n);
	}
	n->e = engine_on(c, err, errlen);
	if (n->e == NULL) {
		rc = errno == ENOMEM ? -ENOMEM : -EINVAL;
		goto fail;
	}
	n->dim = gcdl_engine_dim(n->e);
	n->chunks = gcdl_engine_chunks(n->e);
	n->chunk_coords = gcdl_engine_chunk_coords(n->e);
	n->mc = gcdl_frame_chunk_coords(GCDL_MSG_MODEL, gcdl_profile_frame_mtu(p), 0);
	n->mchunks = (n->dim + n->mc - 1) / n->mc;
	/* the round's downlink: its frames' type and size, and where they go */
	n->dl_type = gcdl_engine_downlink_type(n->e);
	n->dl_coords = gcdl_engine_downlink_chunk_coords(n->e);
	n->dl_chunks = (n->dim + n->dl_coords - 1) / n->dl_coords;
	gcdl_profile_downlink_group(p, n->group);
	n->vote = gcdl_profile_downlink_vote(p);
	n->steps = n->vote || (p->downlink == GCDL_DOWNLINK_RELAY && p->topology != GCDL_TOPO_MESH);
	gcdl_rng_init(&n->dl_fault, p->fault_seed ? p->fault_seed : p->seed, GCDL_RNG_FAULT,
		      0xD0D0u, c->id);
	n->dl_drop = (uint32_t)fmin(p->fault_downlink_drop_p * 4294967296.0, 4294967295.0);
	if (c->role == GCDL_NODE_AGGREGATOR && n->k > n->chunks) {
		gcdl_seterr(err, errlen, "network.aggregators %u: this model has only %u uplink "
			    "chunks to share among them", n->k, n->chunks);
		rc = -EINVAL;
		goto fail;
	}
	/* the scratch payload also holds a mesh commit or repair of any shape */
	payload = RTE_MAX(gcdl_engine_max_payload(n->e), 4 * (size_t)n->mc);
	payload = RTE_MAX(payload, (size_t)GCDL_CONFIG_FIXED_LEN + 4 * GCDL_JOIN_MAX_PARTS);
	payload = RTE_MAX(payload, (size_t)GCDL_MESH_COMMIT_HDR + GCDL_MESH_SET_MAX);
	n->frame_cap = node_frame_cap(n->job);
	n->payload = rte_malloc_socket("gcdl_payload", payload, 0, (int)c->socket);
	n->frame = rte_malloc_socket("gcdl_frame", n->frame_cap, 0, (int)c->socket);
	n->slowdown = calloc(n->n, sizeof(double));
	if (n->payload == NULL || n->frame == NULL || n->slowdown == NULL)
		goto nomem;
	if (gcdl_straggler_from_profile(&n->sm, p, n->slowdown) != 0) {
		gcdl_seterr(err, errlen, "stragglers.slowdown '%s' is malformed", p->slowdown);
		rc = -EINVAL;
		goto fail;
	}
	rc = gcdl_faults_init(&n->faults, p);
	if (rc != 0) {
		gcdl_seterr(err, errlen, "faults.slow_workers '%s': %s", p->fault_slow_workers,
			    strerror(-rc));
		goto fail;
	}
	{
		/* evaluation and checkpoints belong to the node that owns the
		 * model: a star aggregator, mesh peers; a sharded aggregator holds
		 * only its range right */
		struct gcdl_round_end_opts o = c->out;
		int owner = (c->role == GCDL_NODE_AGGREGATOR && n->k == 1) ||
			    c->role == GCDL_NODE_PEER;

		o.evaluate = c->role == GCDL_NODE_AGGREGATOR ? n->k == 1
			     : c->role == GCDL_NODE_PEER;
		o.checkpoint = owner && (c->role == GCDL_NODE_AGGREGATOR || c->id == 0);
		gcdl_round_end_init(&n->re, n->job, n->e, &n->c, &o,
				    o.checkpoint ? c->resume : NULL);
	}
	switch (c->role) {
	case GCDL_NODE_WORKER:
		rc = node_worker_init(n, err, errlen);
		break;
	case GCDL_NODE_AGGREGATOR:
		rc = node_agg_init(n, err, errlen);
		break;
	default:
		rc = node_mesh_init(n, err, errlen);
		break;
	}
	if (rc != 0)
		goto fail;
	return n;
nomem:
	gcdl_seterr(err, errlen, "%s %u: out of memory", gcdl_node_role_name(c->role), c->id);
	rc = -ENOMEM;
fail:
	gcdl_node_free(n);
	rte_errno = -rc;
	return NULL;
}

int
gcdl_node_poll(struct gcdl_node *n, struct gcdl_loop *lp)
{
	int rc;

	if (n->rc != 0)
		return n->rc;
	switch (n->conf.role) {
	case GCDL_NODE_WORKER:
		rc = node_worker_poll(n, lp);
		break;
	case GCDL_NODE_AGGREGATOR:
		rc = node_agg_poll(n, lp);
		break;
	default:
		rc = node_mesh_poll(n, lp);
		break;
	}
	/* the helper lcores return once there are no more rounds */
	if (n->finished || n->rc != 0)
		node_helpers_stop(n);
	if (rc >= 0)
		rc += (int)node_tx_flush(n);
	if (n->rc != 0)
		return n->rc;
	if (n->finished && !n->counted_done && n->conf.role == GCDL_NODE_WORKER &&
	    n->conf.local_finished != NULL) {
		n->counted_done = 1;
		__atomic_fetch_add(n->conf.local_finished, 1, __ATOMIC_RELEASE);
	}
	return rc;
}

int
gcdl_node_finished(const struct gcdl_node *n)
{
	return n != NULL && n->finished;
}

int
gcdl_node_done(const struct gcdl_node *n)
{
	if (n == NULL || !n->finished)
		return 0;
	for (uint16_t pi = 0; pi < n->nports; pi++)
		if (n->port[pi].tail != n->port[pi].head)
			return 0;
	if (n->a != NULL && !node_agg_drained(n))
		return 0;
	if (n->linger_until != 0 && n->conf.local_finished != NULL &&
	    __atomic_load_n(n->conf.local_finished, __ATOMIC_ACQUIRE) >= n->conf.local_workers)
		return 1; /* every worker of the local cluster is done */
	return n->linger_until == 0 || rte_rdtsc() >= n->linger_until;
}

void
gcdl_node_end_linger(struct gcdl_node *n)
{
	if (n != NULL && n->linger_until != 0)
		n->linger_until = 1;
}

void
node_helpers_stop(struct gcdl_node *n)
{
	__atomic_store_n(&n->helpers_stop, 1, __ATOMIC_RELEASE);
}

uint32_t
gcdl_node_helper_lcores(const struct gcdl_node *n)
{
	return n != NULL ? n->helpers : 0;
}

int
gcdl_node_helper_run(struct gcdl_node *n, uint32_t i, const int *quit)
{
	if (n == NULL || i >= gcdl_node_helper_lcores(n))
		return -EINVAL;
	if (n->al != NULL)
		return node_agg_lcore_run(n, i, quit);
	return node_quant_lcore_run(n, i, quit);
}

const char *
gcdl_node_error(const struct gcdl_node *n)
{
	return n == NULL ? "" : n->fail;
}

const float *
gcdl_node_model(const struct gcdl_node *n, uint32_t *dim, uint32_t *first, uint32_t *count)
{
	uint32_t lo = 0, cnt;

	if (n == NULL)
		return NULL;
	cnt = n->dim;
	if (n->conf.role == GCDL_NODE_AGGREGATOR && n->k > 1) {
		uint32_t cf, cc, end;

		gcdl_shard_chunks(n->chunks, n->k, n->conf.id, &cf, &cc);
		lo = cf * n->chunk_coords;
		end = (uint32_t)RTE_MIN((uint64_t)(cf + cc) * n->chunk_coords, (uint64_t)n->dim);
		cnt = end - lo;
	}
	if (dim != NULL)
		*dim = n->dim;
	if (first != NULL)
		*first = lo;
	if (count != NULL)
		*count = cnt;
	return gcdl_engine_model(n->e);
}

const struct gcdl_counters *
gcdl_node_counters(const struct gcdl_node *n)
{
	return n == NULL ? NULL : &n->c;
}

void
gcdl_node_round(const struct gcdl_node *n, struct gcdl_node_round *r)
{
	memset(r, 0, sizeof(*r));
	if (n == NULL)
		return;
	r->round = __atomic_load_n(&n->tel.round, __ATOMIC_RELAXED);
	r->rounds_done = __atomic_load_n(&n->tel.rounds_done, __ATOMIC_RELAXED);
	r->rounds_total = n->tel.rounds_total;
	r->evaluated = __atomic_load_n(&n->tel.evaluated, __ATOMIC_RELAXED);
	r->stragglers = __atomic_load_n(&n->tel.stragglers, __ATOMIC_RELAXED);
	__atomic_load(&n->tel.train_loss, &r->train_loss, __ATOMIC_RELAXED);
	__atomic_load(&n->tel.test_accuracy, &r->test_accuracy, __ATOMIC_RELAXED);
	__atomic_load(&n->tel.deadline_us, &r->deadline_us, __ATOMIC_RELAXED);
}

int
gcdl_node_worker_row(const struct gcdl_node *n, uint32_t k, struct gcdl_worker_row *row)
{
	if (n == NULL || n->conf.role != GCDL_NODE_AGGREGATOR || k >= n->n || row == NULL)
		return -ENOENT;
	return node_agg_row(n, k, row);
}

void
gcdl_node_summary(const struct gcdl_node *n, struct gcdl_node_summary *s)
{
	const float *w;
	uint32_t first, count;

	memset(s, 0, sizeof(*s));
	if (n == NULL)
		return;
	snprintf(s->role, sizeof(s->role), "%s", gcdl_node_role_name(n->conf.role));
	s->id = n->conf.id;
	s->rounds = __atomic_load_n(&n->tel.rounds_done, __ATOMIC_RELAXED);
	s->evaluated = n->re.evaluated;
	s->train_loss = n->re.loss;
	s->test_accuracy = n->re.acc;
	w = gcdl_node_model(n, NULL, &first, &count);
	s->model_crc = gcdl_crc32_floats(w + first, count);
	s->crc_first = first;
	s->crc_count = count;
	s->in_sync = n->conf.role != GCDL_NODE_PEER || node_mesh_in_sync(n);
	for (uint16_t pi = 0; pi < n->nports && pi < GCDL_SUMMARY_MAX_PORTS; pi++) {
		int pm, am;

		s->ports[pi].id = n->port[pi].id;
		rte_eth_dev_get_name_by_port(n->port[pi].id, s->ports[pi].name);
		gcdl_mac_format(n->port[pi].mac, s->ports[pi].mac, sizeof(s->ports[pi].mac));
		s->ports[pi].mtu = RTE_MAX(dp_port_mtu(n->port[pi].id, NULL, 0), -1);
		dp_port_rx_mode(n->port[pi].id, &pm, &am);
		s->ports[pi].promiscuous = (int8_t)RTE_MAX(pm, -1);
		s->ports[pi].allmulticast = (int8_t)RTE_MAX(am, -1);
		s->nports = pi + 1;
	}
	gcdl_counters_snapshot(&s->c, &n->c);
	for (uint16_t pi = 0; pi < n->nports; pi++) {
		struct rte_eth_stats st;

		if (rte_eth_stats_get(n->port[pi].id, &st) == 0)
			s->c.v[GCDL_CTR_PORT_MISSED] += st.imissed;
	}
	if (n->conf.role == GCDL_NODE_PEER)
		node_mesh_counters(n, &s->c);
	gcdl_counters_sum_drops(&s->c);
	for (uint32_t i = 0; n->ql != NULL && i < n->helpers && i < GCDL_SUMMARY_MAX_AGG_LCORES; i++)
		if (node_quant_lcore_stats(n, i, &s->quant_lcores[i]) == 0)
			s->nquant_lcores = i + 1;
	if (n->conf.role == GCDL_NODE_AGGREGATOR) {
		uint32_t parts = gcdl_engine_parts(n->e);

		for (uint32_t i = 0; i < parts && i < GCDL_SUMMARY_MAX_AGG_LCORES; i++)
			if (gcdl_node_agg_lcore_stats(n, i, &s->agg_lcores[i]) == 0)
				s->nagg_lcores = i + 1;
		s->workers = calloc(n->n, sizeof(*s->workers));
		if (s->workers != NULL) {
			s->nworkers = n->n;
			for (uint32_t k = 0; k < n->n; k++)
				node_agg_row(n, k, &s->workers[k]);
		}
	}
}

void
gcdl_node_summary_free(struct gcdl_node_summary *s)
{
	if (s == NULL)
		return;
	free(s->workers);
	s->workers = NULL;
	s->nworkers = 0;
}

void
gcdl_node_print_placement(const struct gcdl_node *n, FILE *out)
{
	if (n == NULL || out == NULL)
		return;
	fprintf(out, "  %s %u (sender id %u), socket %u, ports", gcdl_node_role_name(n->conf.role),
		n->conf.id, n->self, n->conf.socket);
	for (uint16_t pi = 0; pi < n->nports; pi++) {
		char name[RTE_ETH_NAME_MAX_LEN] = "", mac[18];
		int mtu = dp_port_mtu(n->port[pi].id, NULL, 0);

		rte_eth_dev_get_name_by_port(n->port[pi].id, name);
		fprintf(out, "%s %u %s %s", pi ? "," : "", n->port[pi].id, name,
			gcdl_mac_format(n->port[pi].mac, mac, sizeof(mac)));
		if (mtu >= 0)
			fprintf(out, " mtu %d", mtu);
	}
	fprintf(out, "\n");
}

void
gcdl_node_free(struct gcdl_node *n)
{
	if (n == NULL)
		return;
	if (n->w != NULL)
		node_worker_fini(n);
	if (n->a != NULL)
		node_agg_fini(n);
	if (n->m != NULL)
		node_mesh_fini(n);
	if (n->port != NULL) {
		for (uint16_t pi = 0; pi < n->nports; pi++) {
			struct node_port *p = &n->port[pi];

			while (p->tail != p->head)
				rte_pktmbuf_free(p->backlog[p->head++ & (NODE_BACKLOG - 1)]);
		}
		rte_free(n->port);
	}
	gcdl_engine_free(n->e);
	gcdl_faults_fini(&n->faults);
	free(n->agg_macs);
	free(n->worker_macs);
	free(n->slowdown);
	rte_free(n->payload);
	rte_free(n->frame);
	rte_free(n);
}
