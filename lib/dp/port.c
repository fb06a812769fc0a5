/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet pools and ports: the net_ring port pairs of a local cluster (two
 * ethdev ports made with rte_eth_from_rings(), each one's TX ring the other's
 * RX ring: a point-to-point link), and the start of a probed port (memif,
 * af_packet, a NIC) for a multi-host node.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_flow.h>

#include "gcdl/frame.h"

#include "dp_internal.h"
#include "seterr.h"

#define POOL_CACHE 256

struct rte_mempool *
dp_pool_create(const char *name, unsigned socket, uint32_t mbufs, uint16_t data_room)
{
	uint32_t cache = POOL_CACHE;

	/* the cache may hold at most 1.5 * cache <= n mbufs */
	if (cache > mbufs / 2)
		cache = mbufs / 2;
	if (cache > RTE_MEMPOOL_CACHE_MAX_SIZE)
		cache = RTE_MEMPOOL_CACHE_MAX_SIZE;
	return rte_pktmbuf_pool_create(name, mbufs, cache, 0, data_room, (int)socket);
}

/* One RX and one TX queue; net_ring ignores the descriptor counts (its
 * rings set the depth). */
static int
queues_start(uint16_t port, uint32_t ring_size, struct rte_mempool *pool)
{
	uint16_t desc = ring_size > 4096 ? 4096 : (uint16_t)ring_size;
	int sock = rte_eth_dev_socket_id(port);
	struct rte_eth_conf conf;
	int rc;

	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(port, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(port, 0, desc, sock < 0 ? 0 : (unsigned)sock, NULL,
					    pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(port, 0, desc, sock < 0 ? 0 : (unsigned)sock, NULL);
	return rc;
}

int
dp_link_create(struct dp_link *l, uint32_t seq, uint32_t index, const unsigned socket[2],
	       uint32_t ring_size,
	       struct rte_mempool *const pool[2], char *err, size_t errlen)
{
	char name[RTE_RING_NAMESIZE];

	memset(l, 0, sizeof(*l));
	l->port[0] = l->port[1] = -1;
	/* each ring lives with its consumer; one producer, one consumer */
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "gcdl%u_l%u_%d", seq, index, i);
		l->ring[i] = rte_ring_create(name, ring_size, (int)socket[i],
					     RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (l->ring[i] == NULL) {
			gcdl_seterr(err, errlen, "link %u: cannot create its rings of %u slots: %s",
				    index, ring_size, rte_strerror(rte_errno));
			return -(rte_errno ? rte_errno : ENOMEM);
		}
	}
	for (int i = 0; i < 2; i++) {
		snprintf(l->name[i], sizeof(l->name[i]), "gcdl%u_l%u_%c", seq, index, i ? 'b' : 'a');
		l->port[i] = rte_eth_from_rings(l->name[i], &l->ring[i], 1, &l->ring[!i], 1,
						socket[i]);
		if (l->port[i] < 0 || !rte_eth_dev_is_valid_port((uint16_t)l->port[i])) {
			gcdl_seterr(err, errlen, "link %u: net_ring port did not probe: %s (DPDK "
				    "has room for %u ports)", index, rte_strerror(rte_errno),
				    RTE_MAX_ETHPORTS);
			l->port[i] = -1;
			return -ENODEV;
		}
	}
	for (int i = 0; i < 2; i++) {
		int rc = queues_start((uint16_t)l->port[i], ring_size, pool[i]);

		if (rc == 0)
			rc = rte_eth_dev_start((uint16_t)l->port[i]);
		if (rc != 0) {
			gcdl_seterr(err, errlen, "link %u: cannot configure and start port %d: %s",
				    index, l->port[i], rte_strerror(-rc));
			return rc;
		}
		l->started[i] = 1;
	}
	return 0;
}

static void
drain_ring(struct rte_ring *r)
{
	void *objs[64];
	unsigned int n;

	while ((n = rte_ring_dequeue_burst(r, objs, RTE_DIM(objs), NULL)) > 0)
		rte_pktmbuf_free_bulk((struct rte_mbuf **)objs, n);
}

void
dp_link_destroy(struct dp_link *l)
{
	if (l == NULL)
		return;
	for (int i = 0; i < 2; i++) {
		char vdev[48];

		if (l->port[i] < 0)
			continue;
		if (l->started[i])
			rte_eth_dev_stop((uint16_t)l->port[i]);
		rte_eth_dev_close((uint16_t)l->port[i]);
		/* the device stays on the vdev bus under its name until removed */
		snprintf(vdev, sizeof(vdev), "net_ring_%s", l->name[i]);
		rte_vdev_uninit(vdev);
	}
	/* ports made from existing rings leave them to us */
	for (int i = 0; i < 2; i++) {
		if (l->ring[i] != NULL) {
			drain_ring(l->ring[i]);
			rte_ring_free(l->ring[i]);
		}
	}
	memset(l, 0, sizeof(*l));
	l->port[0] = l->port[1] = -1;
}

/* A socket for the ioctls of the kernel interface with that index, its
 * name in ifname and ifr: the socket, or a negative errno. */
static int
kernel_if(unsigned int if_index, char ifname[IF_NAMESIZE], struct ifreq *ifr)
{
	int fd;

	if (if_indextoname(if_index, ifname) == NULL)
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -errno;
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
	return fd;
}

/* The MTU of the kernel interface with that index (in this process's network
 * namespace), or a negative errno. */
static int
kernel_mtu(unsigned int if_index, char ifname[IF_NAMESIZE])
{
	struct ifreq ifr;
	int fd = kernel_if(if_index, ifname, &ifr), rc;

	if (fd < 0)
		return fd;
	rc = ioctl(fd, SIOCGIFMTU, &ifr) == 0 ? ifr.ifr_mtu : -errno;
	close(fd);
	return rc;
}

/* The kernel interface's flags, with `set` set first (0: none): the flags,
 * or -errno. */
static int
kernel_flags(unsigned int if_index, short set)
{
	char ifname[IF_NAMESIZE];
	struct ifreq ifr;
	int fd = kernel_if(if_index, ifname, &ifr), rc;

	if (fd < 0)
		return fd;
	rc = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 ? 0 : -errno;
	if (rc == 0 && set != 0 && (ifr.ifr_flags & set) != set) {
		ifr.ifr_flags |= set;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr) == 0 ? 0 : -errno;
	}
	close(fd);
	return rc == 0 ? (unsigned short)ifr.ifr_flags : rc;
}

/* The index of the kernel interface under a net_af_packet port, 0 for
 * another PMD. */
static unsigned int
af_packet_ifindex(uint16_t port)
{
	struct rte_eth_dev_info di;

	if (rte_eth_dev_info_get(port, &di) != 0 || di.driver_name == NULL ||
	    strcmp(di.driver_name, "net_af_packet") != 0)
		return 0;
	return di.if_index;
}

/* Is the port driven by the PMD of that name (net_af_packet, net_memif)? */
static int
port_driver_is(uint16_t port, const char *driver)
{
	struct rte_eth_dev_info di;

	return rte_eth_dev_info_get(port, &di) == 0 && di.driver_name != NULL &&
	       strcmp(di.driver_name, driver) == 0;
}

int
dp_port_mtu(uint16_t port, char *ifname, size_t ifnamelen)
{
	unsigned int ifindex = af_packet_ifindex(port);
	char kif[IF_NAMESIZE] = "";
	uint16_t mtu = 0;
	int km;

	if (ifname != NULL && ifnamelen > 0)
		ifname[0] = '\0';
	if (!rte_eth_dev_is_valid_port(port))
		return -ENODEV;
	if (ifindex != 0) {
		km = kernel_mtu(ifindex, kif);
		if (km >= 0 && ifname != NULL)
			snprintf(ifname, ifnamelen, "%s", kif);
		return km;
	}
	if (rte_eth_dev_get_mtu(port, &mtu) != 0)
		return -ENOTSUP;
	return mtu;
}

/* The port carries frames of coding.mtu bytes after the Ethernet header:
 * set its MTU, or refuse it. net_af_packet's MTU is its kernel interface's
 * (DPDK 22.11's PMD reports 1518-byte frames at most whatever the interface
 * carries, so ethdev would refuse 9000): check that one. A PMD without an
 * MTU (net_ring, net_memif) carries what its buffers hold. */
static int
port_mtu_set(uint16_t port, const char *name, uint32_t mtu, char *err, size_t errlen)
{
	struct rte_eth_dev_info di;
	char ifname[IF_NAMESIZE] = "";
	int rc;

	if (port_driver_is(port, "net_af_packet")) {
		rc = dp_port_mtu(port, ifname, sizeof(ifname));
		if (rc >= 0 && (uint32_t)rc < mtu) {
			gcdl_seterr(err, errlen, "port %u (%s on %s): the interface's MTU is %d, below "
				    "coding.mtu = %u: frames would be dropped on the link; set it "
				    "(ip link set %s mtu %u, and the switch's) or lower coding.mtu",
				    port, name, ifname, rc, mtu, ifname, mtu);
			return -EMSGSIZE;
		}
		return 0;
	}
	rc = rte_eth_dev_set_mtu(port, (uint16_t)mtu);
	if (rc == 0 || rc == -ENOTSUP)
		return 0;
	memset(&di, 0, sizeof(di));
	rte_eth_dev_info_get(port, &di);
	gcdl_seterr(err, errlen, "port %u (%s): cannot set its MTU to coding.mtu = %u: %s (the "
		    "device takes %u to %u)", port, name, mtu, rte_strerror(-rc), di.min_mtu,
		    di.max_mtu);
	return rc;
}

int
dp_port_rx_mode(uint16_t port, int *promiscuous, int *allmulticast)
{
	unsigned int ifindex = af_packet_ifindex(port);
	int f;

	*promiscuous = *allmulticast = -1;
	if (!rte_eth_dev_is_valid_port(port))
		return -ENODEV;
	if (ifindex != 0) {
		f = kernel_flags(ifindex, 0);
		if (f < 0)
			return f;
		*promiscuous = !!(f & IFF_PROMISC);
		*allmulticast = !!(f & IFF_ALLMULTI);
		return 0;
	}
	*promiscuous = rte_eth_promiscuous_get(port);
	*allmulticast = rte_eth_allmulticast_get(port);
	return 0;
}

/* Only the frames gcdl wants: the port's own MAC and the broadcast (every
 * port takes those), and the multicast groups, by the PMD's list of them,
 * else by all multicast, else promiscuous. net_af_packet has neither: its
 * kernel interface takes all multicast (IFF_ALLMULTI, left set at exit);
 * given the profile's MAC, which the interface does not have, promiscuous. */
static void
port_rx_filter(uint16_t port, const char *name, int own_mac, const uint8_t (*groups)[6],
	       uint32_t ngroups)
{
	struct rte_ether_addr mc[8];
	uint32_t n = RTE_MIN(ngroups, (uint32_t)RTE_DIM(mc));
	unsigned int ifindex = af_packet_ifindex(port);
	const char *why;

	for (uint32_t i = 0; i < n; i++)
		memcpy(mc[i].addr_bytes, groups[i], 6);
	if (ifindex != 0) {
		if (own_mac) {
			why = "its MAC is the profile's, not its interface's";
		} else {
			rte_eth_promiscuous_disable(port);
			if (kernel_flags(ifindex, IFF_ALLMULTI) >= 0)
				return;
			why = "its interface would not take all multicast";
		}
	} else {
		rte_eth_promiscuous_disable(port);
		if (rte_eth_promiscuous_get(port) == 1)
			why = "the PMD keeps it promiscuous";
		else if (rte_eth_dev_set_mc_addr_list(port, mc, n) == 0)
			return;
		else if (rte_eth_allmulticast_enable(port) == 0)
			return;
		else
			why = "it filters no multicast group";
	}
	if (rte_eth_promiscuous_enable(port) == 0)
		NODE_LOG(dataplane, INFO, "port %u (%s): promiscuous: %s", port, name, why);
}

/* dataplane.flow_isolate, before the port is configured: only flows a
 * rule names reach DPDK; the rest stay with the kernel (a bifurcated NIC,
 * mlx5) or are dropped. */
static int
flow_isolate(uint16_t port, const char *name, char *err, size_t errlen)
{
	struct rte_flow_error fe;
	int rc;

	memset(&fe, 0, sizeof(fe));
	rc = rte_flow_isolate(port, 1, &fe);
	if (rc == 0)
		return 0;
	gcdl_seterr(err, errlen, "port %u (%s): dataplane.flow_isolate = true: the PMD has no "
		    "rte_flow isolated mode (%s); set it false (the port then takes every frame "
		    "its device gives it)", port, name,
		    fe.message != NULL ? fe.message : rte_strerror(rc < 0 ? -rc : rc));
	return -ENOTSUP;
}

/* The one rule of an isolated port: gcdl's EtherType, tagged with the job's
 * VLAN when it has one, to queue 0. */
static int
flow_rule(uint16_t port, const char *name, uint16_t vlan, char *err, size_t errlen)
{
	const struct rte_flow_attr attr = { .ingress = 1 };
	struct rte_flow_item_eth eth = { .type = RTE_BE16(GCDL_ETHERTYPE) };
	struct rte_flow_item_eth eth_mask = { .type = RTE_BE16(0xffff) };
	struct rte_flow_item_vlan vl = { .tci = rte_cpu_to_be_16(vlan),
					  .inner_type = RTE_BE16(GCDL_ETHERTYPE) };
	struct rte_flow_item_vlan vl_mask = { .tci = RTE_BE16(0x0fff),
					       .inner_type = RTE_BE16(0xffff) };
	struct rte_flow_item pattern[3];
	const struct rte_flow_action_queue q = { .index = 0 };
	const struct rte_flow_action actions[] = {
		{ .type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &q },
		{ .type = RTE_FLOW_ACTION_TYPE_END },
	};
	struct rte_flow_error fe;

	memset(pattern, 0, sizeof(pattern));
	pattern[0].type = RTE_FLOW_ITEM_TYPE_ETH;
	if (vlan == 0) {
		pattern[0].spec = &eth;
		pattern[0].mask = &eth_mask;
		pattern[1].type = RTE_FLOW_ITEM_TYPE_END;
	} else {
		pattern[1].type = RTE_FLOW_ITEM_TYPE_VLAN;
		pattern[1].spec = &vl;
		pattern[1].mask = &vl_mask;
		pattern[2].type = RTE_FLOW_ITEM_TYPE_END;
	}
	memset(&fe, 0, sizeof(fe));
	if (rte_flow_create(port, &attr, pattern, actions, &fe) != NULL)
		return 0;
	gcdl_seterr(err, errlen, "port %u (%s): dataplane.flow_isolate = true: cannot add the rule "
		    "for EtherType 0x%04X%s: %s", port, name, GCDL_ETHERTYPE,
		    vlan ? " on the job's VLAN" : "", fe.message != NULL ? fe.message : "refused");
	return -ENOTSUP;
}

int
dp_port_start(uint16_t port, const struct dp_port_conf *pc, char *err, size_t errlen)
{
	char name[RTE_ETH_NAME_MAX_LEN] = "";
	struct rte_ether_addr a;
	int rc;

	rte_eth_dev_get_name_by_port(port, name);
	if (pc->isolate) {
		rc = flow_isolate(port, name, err, errlen);
		if (rc != 0)
			return rc;
	}
	rc = queues_start(port, pc->ring_size, pc->pool);
	if (rc != 0) {
		gcdl_seterr(err, errlen, "port %u (%s): cannot configure it: %s", port, name,
			    rte_strerror(-rc));
		return rc;
	}
	rc = port_mtu_set(port, name, pc->mtu, err, errlen);
	if (rc != 0)
		return rc;
	if (pc->want_mac != NULL) {
		memcpy(a.addr_bytes, pc->want_mac, 6);
		rc = rte_eth_dev_default_mac_addr_set(port, &a);
		if (rc != 0) {
			char t[18];

			gcdl_seterr(err, errlen, "port %u (%s): cannot take the profile's MAC %s: %s",
				    port, name, gcdl_mac_format(pc->want_mac, t, sizeof(t)),
				    rte_strerror(-rc));
			return rc;
		}
	}
	rc = rte_eth_dev_start(port);
	if (rc != 0) {
		gcdl_seterr(err, errlen, "port %u (%s): cannot start it: %s%s", port, name,
			    rte_strerror(-rc),
			    port_driver_is(port, "net_memif") ? " (net_memif: a client needs its server listening on the "
				    "socket; check the --vdev arguments: DPDK ignores misspelt "
				    "ones)" : "");
		return rc;
	}
	if (pc->isolate) {
		rc = flow_rule(port, name, pc->vlan, err, errlen);
		if (rc != 0)
			return rc;
	}
	port_rx_filter(port, name, pc->want_mac != NULL, pc->groups, pc->ngroups);
	return 0;
}
