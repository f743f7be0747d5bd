/* router.c: writes services and backends into the maps and keeps backend MACs current */
#include <errno.h>
#include <ifaddrs.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>

#include "log.h"
#include "neigh.h"
#include "probe.h"
#include "router.h"

/* what router_init() was given; the event-loop callbacks use it */
static struct {
	const struct pgxr_config *cfg;
	const struct dataplane *dp;
	int ifindex;
} router;

static const char *router_mac(const __u8 mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

static bool router_mac_zero(const __u8 mac[6])
{
	return !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

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

/* a backend on this host gets XDP_PASS: the kernel delivers it locally */
static bool router_is_local(const struct pgxr_addr *a)
{
	struct ifaddrs *ifa, *i;
	bool local = false;

	if (getifaddrs(&ifa))
		return false;
	for (i = ifa; i && !local; i = i->ifa_next) {
		struct pgxr_addr x = {};

		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			x.family = PGXR_FAMILY_V4;
			x.a[0] = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			x.family = PGXR_FAMILY_V6;
			memcpy(x.a, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		local = addr_equal(&x, a);
	}
	freeifaddrs(ifa);
	return local;
}

/* builds the entry of node id from the config, the probe and what was pinned */
static void router_backend(const struct pgxr_config *cfg, int id, const struct pgxr_backend *old,
			   struct pgxr_backend *be, bool *have_primary)
{
	const struct cfg_backend *b = &cfg->backends[id];
	bool same_host = old->family == b->addr.family &&
			 !memcmp(old->addr, b->addr.a, sizeof(old->addr));
	char err[512], host[ADDR_STRLEN], mac[24];
	int role;

	memset(be, 0, sizeof(*be));
	memcpy(be->addr, b->addr.a, sizeof(be->addr));
	be->family = b->addr.family;
	be->port = b->port;
	be->weight = (__u32)llround(b->weight * 1000);
	addr_format(&b->addr, host, sizeof(host));
	if (router_is_local(&b->addr))
		be->flags |= PGXR_BE_F_LOCAL;
	/* the last known MAC keeps forwarding going across a restart */
	if (same_host && !router_mac_zero(old->mac))
		memcpy(be->mac, old->mac, 6);

	role = probe_role(cfg, id, err, sizeof(err));
	if (role < 0) {
		be->role = same_host ? old->role : PGXR_ROLE_UNKNOWN;
		be->state = PGXR_BE_DOWN;
		log_warning("node %d (%s:%d) is down: %s", id, b->hostname, b->port, err);
	} else {
		be->role = role;
		be->state = PGXR_BE_UP;
	}
	if (be->role == PGXR_ROLE_PRIMARY && be->state == PGXR_BE_UP) {
		if (*have_primary) {
			be->state = PGXR_BE_FENCED;
			log_warning("node %d (%s:%d) is a second primary: fenced, not routed",
				    id, b->hostname, b->port);
		}
		*have_primary = true;
	}
	if (same_host && (old->flags & PGXR_BE_F_ADMIN_DOWN)) {
		be->flags |= PGXR_BE_F_ADMIN_DOWN;
		be->state = PGXR_BE_DOWN;
		log_info("node %d (%s:%d) stays down: set down by an operator", id, b->hostname,
			 b->port);
	}
	if (!(be->flags & PGXR_BE_F_LOCAL) &&
	    neigh_lookup(router.ifindex, &b->addr, be->mac) && router_mac_zero(be->mac))
		neigh_solicit(router.ifindex, &b->addr);
	log_info("node %d: %s:%d%s%s%s %s %s, weight %g, %s", id, b->hostname, b->port,
		 strcmp(host, b->hostname) ? " (" : "", strcmp(host, b->hostname) ? host : "",
		 strcmp(host, b->hostname) ? ")" : "",
		 dataplane_role_name(be->role), dataplane_state_name(be->state), b->weight,
		 be->flags & PGXR_BE_F_LOCAL ? "local" :
		 router_mac_zero(be->mac) ? "MAC not resolved yet" :
		 router_mac(be->mac, mac, sizeof(mac)));
}

int router_init(const struct pgxr_config *cfg, const struct dataplane *dp, int ifindex)
{
	bool have_primary = false;
	int ret;

	router.cfg = cfg;
	router.dp = dp;
	router.ifindex = ifindex;
	ret = router_services(cfg, dp);
	if (ret) {
		log_error("could not update the services map: %s", strerror(-ret));
		return ret;
	}
	for (__u32 id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct pgxr_backend old = {}, be = {};

		bpf_map_lookup_elem(dp->fd[DP_BACKENDS], &id, &old);
		if (id < (__u32)cfg->nbackends && cfg->backends[id].configured)
			router_backend(cfg, id, &old, &be, &have_primary);
		if (bpf_map_update_elem(dp->fd[DP_BACKENDS], &id, &be, BPF_ANY)) {
			ret = -errno;
			log_error("could not update the backends map: %s", strerror(errno));
			return ret;
		}
	}
	if (!have_primary)
		log_warning("no primary is up: VIP port %d has no backend", cfg->rw_port);
	ret = dataplane_rebuild(dp);
	if (ret)
		log_error("could not build the service rings: %s", strerror(-ret));
	return ret;
}

/* a neighbour event: a backend's MAC appeared or changed */
void router_neigh(int ifindex, const struct pgxr_addr *addr, const __u8 mac[6], void *arg)
{
	const struct pgxr_config *cfg = router.cfg;
	char buf[24];

	(void)arg;
	if (ifindex != router.ifindex)
		return;
	for (__u32 id = 0; id < (__u32)cfg->nbackends; id++) {
		struct pgxr_backend be;

		if (!cfg->backends[id].configured || !addr_equal(&cfg->backends[id].addr, addr))
			continue;
		if (bpf_map_lookup_elem(router.dp->fd[DP_BACKENDS], &id, &be) ||
		    !memcmp(be.mac, mac, 6))
			continue;
		memcpy(be.mac, mac, 6);
		if (bpf_map_update_elem(router.dp->fd[DP_BACKENDS], &id, &be, BPF_EXIST))
			log_warning("node %d: could not store MAC: %s", id, strerror(errno));
		else
			log_info("node %d: MAC %s", id, router_mac(mac, buf, sizeof(buf)));
	}
}

/* re-validate every backend's neighbour entry this often (ticks) */
#define ROUTER_SOLICIT_TICKS 5

/*
 * Per-tick hook.  The XDP path never touches the kernel's neighbour
 * entries, so nothing would refresh them: every few ticks each backend's
 * entry is re-validated (NTF_USE), which lets the kernel notice a changed
 * MAC; every tick the map is compared with the kernel's answer, which also
 * covers neighbour events lost to a full socket buffer.
 */
void router_maintain(void *arg)
{
	const struct pgxr_config *cfg = router.cfg;
	static unsigned ticks;	/* ticks since start, for the solicit period */
	bool solicit_all = ticks++ % ROUTER_SOLICIT_TICKS == 0;

	(void)arg;
	for (__u32 id = 0; id < (__u32)cfg->nbackends; id++) {
		const struct pgxr_addr *a = &cfg->backends[id].addr;
		struct pgxr_backend be;
		__u8 mac[6];

		if (!cfg->backends[id].configured ||
		    bpf_map_lookup_elem(router.dp->fd[DP_BACKENDS], &id, &be) ||
		    (be.flags & PGXR_BE_F_LOCAL))
			continue;
		if (!neigh_lookup(router.ifindex, a, mac))
			router_neigh(router.ifindex, a, mac, NULL);
		if (solicit_all || router_mac_zero(be.mac))
			neigh_solicit(router.ifindex, a);
	}
}
