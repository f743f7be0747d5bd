/* router.c: writes the services into the maps, keeps the nodes' MACs current, watches retransmissions */
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "evloop.h"
#include "health.h"
#include "log.h"
#include "neigh.h"
#include "nl.h"
#include "node.h"
#include "router.h"

/* re-validate every backend's neighbour entry this often */
#define ROUTER_SOLICIT_MS 5000
/* compare the map with the kernel's neighbour table this often */
#define ROUTER_LOOKUP_MS 1000

/* what router_init() was given, when the neighbour work is next due, what clients retransmitted */
static struct {
	const struct pgxr_config *cfg;
	const struct dataplane *dp;
	int ifindex;
	long long next_lookup, next_solicit;
	__u64 retrans[PGXR_MAX_BACKENDS];	/* each node's retransmission counter, last read */
	bool retrans_read[PGXR_MAX_BACKENDS];
	long long retrans_logged[PGXR_MAX_BACKENDS];
	__u64 no_neigh;		/* packets dropped for an unresolved MAC, last read */
	bool off_link[PGXR_MAX_BACKENDS];	/* ipip: its route left the interface (warned once) */
} router;

static void router_svc_key(struct pgxr_svc_key *k, const struct pgxr_addr *vip, int port)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, vip->a, sizeof(k->addr));
	k->port = htons(port);
	k->family = vip->family;
	k->proto = IPPROTO_TCP;
}

/*
 * Services are fixed by the configuration: rw is id 0, ro id 1, proxy id 2.
 * Keys of an older configuration (another VIP or port) are removed.
 */
static int router_services(const struct pgxr_config *cfg, const struct dataplane *dp)
{
	struct pgxr_svc_key want[3], key, next;
	struct pgxr_svc val[3] = {
		{ .id = 0, .kind = PGXR_SVC_RW },
		{ .id = 1, .kind = PGXR_SVC_RO,
		  .flags = cfg->ro_fallback_to_primary ? PGXR_SVC_F_RO_FALLBACK : 0 },
		{ .id = 2, .kind = PGXR_SVC_PROXY },
	};
	int n = cfg->proxy_port ? 3 : 2, fd = dp->fd[DP_SERVICES];
	bool more;

	router_svc_key(&want[0], &cfg->vip, cfg->rw_port);
	router_svc_key(&want[1], &cfg->vip, cfg->ro_port);
	router_svc_key(&want[2], &cfg->vip, cfg->proxy_port);
	more = !bpf_map_get_next_key(fd, NULL, &key);
	while (more) {
		bool keep = false;

		more = !bpf_map_get_next_key(fd, &key, &next);
		for (int i = 0; i < n; i++)
			keep |= !memcmp(&key, &want[i], sizeof(key));
		if (!keep && bpf_map_delete_elem(fd, &key))
			return -errno;
		key = next;
	}
	for (int i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, &want[i], &val[i], BPF_ANY))
			return -errno;
	return 0;
}

/*
 * forwarding = ipip adds an outer header; the MTU left must still be one
 * every client takes: IPv6 never goes below 1280
 */
static int router_check_mtu(const struct pgxr_config *cfg, int ifindex)
{
	int hdr = cfg->vip.family == PGXR_FAMILY_V4 ? 20 : 40;
	int min = cfg->vip.family == PGXR_FAMILY_V4 ? 576 : 1280, mtu;
	char name[IF_NAMESIZE];

	if (!cfg->forward_ipip || (mtu = nl_link_mtu(ifindex)) <= 0 || mtu - hdr >= min)
		return 0;
	log_error("%s: forwarding = ipip needs an MTU of at least %d on \"%s\" (it has %d): the outer header takes %d bytes and IPv%d clients go no lower than %d",
		  cfg->path, min + hdr, if_indextoname(ifindex, name) ? name : cfg->interface, mtu, hdr,
		  cfg->vip.family == PGXR_FAMILY_V4 ? 4 : 6, min);
	return -EMSGSIZE;
}

/*
 * DSR rewrites only a frame's destination MAC, so every backend must be
 * on the interface's own link; IPIP needs only its route to leave by the
 * interface (XDP sends frames out where they came in).  A backend that
 * does not qualify would have every session handed to the router's stack
 * and reset while its health checks (which are routed) pass: each is
 * refused by name.  On a reload (live given) only the backends the file
 * adds or moves are checked: a running one whose route flaps is the
 * health checks' business.  0, or -EHOSTUNREACH.
 */
int router_check_segment(const struct pgxr_config *cfg, const struct pgxr_config *live)
{
	int ifindex = if_nametoindex(cfg->interface), ret = 0;

	/* a missing interface is the loader's error to name */
	if (!ifindex)
		return 0;
	for (int i = 0; i < cfg->nbackends; i++) {
		const struct cfg_backend *b = &cfg->backends[i];
		char why[256], addr[ADDR_STRLEN], hop[ADDR_STRLEN], name[IF_NAMESIZE];
		struct neigh_route r;
		int err;

		if (!b->configured)
			continue;
		/* the same backend under the same interface and forwarding: the health checks' business */
		if (live && i < live->nbackends && live->backends[i].configured &&
		    addr_equal(&live->backends[i].addr, &b->addr) &&
		    live->forward_ipip == cfg->forward_ipip && !strcmp(live->interface, cfg->interface))
			continue;
		err = neigh_route(&b->addr, &r);
		if (!err && (r.local || (r.oif == ifindex && (cfg->forward_ipip || !r.gateway))))
			continue;
		if (err)
			snprintf(why, sizeof(why), "the kernel has no route to it (%s)", strerror(-err));
		else if (r.oif != ifindex)
			snprintf(why, sizeof(why), "the kernel reaches it on \"%s\"",
				 if_indextoname(r.oif, name) ? name : "?");
		else
			snprintf(why, sizeof(why), "the kernel routes it via %s on \"%s\"",
				 addr_format(&r.hop, hop, sizeof(hop)), cfg->interface);
		log_error("%s:%d: backend_hostname%d = '%s' (%s) is not %s \"%s\": %s; %s", cfg->path,
			  b->line, i, b->hostname, addr_format(&b->addr, addr, sizeof(addr)),
			  cfg->forward_ipip ? "reached through" : "on the link of", cfg->interface, why,
			  cfg->forward_ipip ?
				  "pgxr sends its IPIP out of the interface it is attached to" :
				  "pgxr forwards to a backend by its MAC and needs it on that L2 segment (forwarding = ipip reaches routed backends)");
		ret = -EHOSTUNREACH;
	}
	return ret ?: router_check_mtu(cfg, ifindex);
}

/* whether the kernel merges received segments (GRO, or the NIC's LRO) on ifname */
static bool router_merges(const char *ifname)
{
	struct ethtool_value gro = { .cmd = ETHTOOL_GGRO }, flags = { .cmd = ETHTOOL_GFLAGS };
	struct ifreq ifr = {};
	bool on = false;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&gro;
	if (!ioctl(fd, SIOCETHTOOL, &ifr))
		on = gro.data;
	ifr.ifr_data = (void *)&flags;
	if (!ioctl(fd, SIOCETHTOOL, &ifr))
		on |= !!(flags.data & ETH_FLAG_LRO);
	close(fd);
	return on;
}

/*
 * Generic XDP runs after GRO and sees its merged segments whole, up to
 * 64 KB: forwarding = ipip could neither fit them in the MTU nor tell
 * the client a size it would send.  A VLAN device's merging is its
 * parent's.  mode: as attached.  0 or -EINVAL.
 */
int router_check_merging(const struct pgxr_config *cfg, const char *mode)
{
	char lower[IF_NAMESIZE];
	const char *dev = cfg->interface;
	int link;

	if (!cfg->forward_ipip || strcmp(mode, "generic"))
		return 0;
	if (!router_merges(dev)) {
		link = nl_link_lower(if_nametoindex(dev));
		if (link <= 0 || !if_indextoname(link, lower) || !router_merges(lower))
			return 0;
		dev = lower;
	}
	log_error("forwarding = ipip in generic XDP mode needs GRO and LRO off on \"%s\" (ethtool -K %s gro off lro off): generic XDP sees merged segments, which no tunnel MTU fits",
		  dev, dev);
	return -EINVAL;
}

int router_init(const struct pgxr_config *cfg, const struct dataplane *dp, int ifindex)
{
	int ret;

	router.cfg = cfg;
	router.dp = dp;
	router.ifindex = ifindex;
	ret = router_services(cfg, dp);
	if (ret)
		log_error("could not update the services map: %s", strerror(-ret));
	return ret;
}

/* a node lost behind a stale MAC may answer now: no need to wait for its next check */
static void router_mac(struct node *n, const __u8 mac[6])
{
	if (node_set_mac(n, mac) && !node_starting() && !n->pg_ok)
		health_check_now(n);
}

/* a neighbour event: a backend's MAC appeared or changed */
void router_neigh(int ifindex, const struct pgxr_addr *addr, const __u8 mac[6], void *arg)
{
	(void)arg;
	if (ifindex != router.ifindex)
		return;
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = node_get(id);

		if (n && !n->local && addr_equal(&n->hop, addr))
			router_mac(n, mac);
	}
}

/*
 * Clients that send a segment again to a node got no answer from it: the
 * XDP program counts that, and a node whose count grew is checked at once
 * rather than at its next probe.  Not a node whose health_check_period is
 * 0: the operator turned its checks, and the failovers they start, off.
 */
static void router_retrans(long long now)
{
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = node_get(id);
		struct pgxr_counters c;

		if (!n || dataplane_counters(router.dp, DP_BACKEND_STATS, id, &c, NULL))
			continue;
		if (c.retrans > router.retrans[id] && router.retrans_read[id] && n->state == PGXR_BE_UP &&
		    n->cfg->hc.period && !node_starting()) {
			if (now - router.retrans_logged[id] >= 1000) {
				router.retrans_logged[id] = now;
				log_info("node %d: clients sent %llu segment(s) to it again: checking it now",
					 id, (unsigned long long)(c.retrans - router.retrans[id]));
			}
			health_check_now(n);
		}
		router.retrans[id] = c.retrans;
		router.retrans_read[id] = true;
	}
}

/*
 * forwarding = ipip: n's route, looked up again; a new next hop or source
 * is written with the new hop's MAC, if the kernel knows it yet.  A route
 * gone keeps the last path: the health checks tell whether it still works.
 */
static void router_path(struct node *n)
{
	static const __u8 unknown[6];
	struct neigh_route r;
	char name[IF_NAMESIZE];
	__u8 mac[6];

	if (neigh_route(&n->cfg->addr, &r) || !r.src.family)
		return;
	if (r.oif != router.ifindex) {
		if (!router.off_link[n->id])
			log_warning("node %d: the kernel now routes it out of \"%s\", not \"%s\": its packets keep the last path",
				    n->id, if_indextoname(r.oif, name) ? name : "?", router.cfg->interface);
		router.off_link[n->id] = true;
		return;
	}
	router.off_link[n->id] = false;
	if (addr_equal(&r.hop, &n->hop) && addr_equal(&r.src, &n->tun_src))
		return;
	/* the same hop keeps its MAC; a new one's is looked up (unknown: dropped until resolved) */
	if (addr_equal(&r.hop, &n->hop))
		memcpy(mac, n->mac, 6);
	else if (neigh_lookup(router.ifindex, &r.hop, mac))
		memcpy(mac, unknown, 6);
	node_set_path(n, &r.hop, &r.src, mac);
}

/*
 * Per-tick hook.  The XDP path never touches the kernel's neighbour
 * entries, so nothing would refresh them: every few seconds each backend's
 * entry is re-validated (NTF_USE), which lets the kernel notice a changed
 * MAC; every second the nodes are compared with the kernel's answer, which
 * also covers neighbour events lost to a full socket buffer.
 */
void router_maintain(void *arg)
{
	long long now = evloop_now_ms();
	bool solicit = now >= router.next_solicit;
	struct pgxr_counters c;

	(void)arg;
	router_retrans(now);
	/* clients wait for a MAC (XDP dropped their packets): the nodes are looked up now */
	if (!dataplane_counters(router.dp, DP_VERDICT_STATS, PGXR_V_DROP_NO_NEIGH, &c, NULL) &&
	    c.packets != router.no_neigh) {
		router.no_neigh = c.packets;
		router.next_lookup = now;
	}
	if (now < router.next_lookup)
		return;
	router.next_lookup = now + ROUTER_LOOKUP_MS;
	if (solicit)
		router.next_solicit = now + ROUTER_SOLICIT_MS;
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = node_get(id);
		__u8 mac[6];
		bool known;

		if (!n || n->local)
			continue;
		if (n->ipip)
			router_path(n);
		known = !neigh_lookup(router.ifindex, &n->hop, mac);
		if (known)
			router_mac(n, mac);
		if (solicit || !known)
			neigh_solicit(router.ifindex, &n->hop);
	}
}
