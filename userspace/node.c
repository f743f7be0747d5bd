/* node.c: the store of what is known about each node; every change of state or role is one map write */
#include <errno.h>
#include <ifaddrs.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <bpf/bpf.h>

#include "event.h"
#include "evloop.h"
#include "log.h"
#include "node.h"
#include "reset.h"

/* every configured node, and where the maps are */
static struct {
	const struct pgxr_config *cfg;
	const struct dataplane *dp;
	struct node nodes[PGXR_MAX_BACKENDS];
	int pinned_primary;	/* routed as primary by the previous pgxrd, -1 none */
	bool starting;		/* until the first health round has answered */
} nodes;

static long long node_now_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec * 1000000LL + tv.tv_usec;
}

struct node *node_get(int id)
{
	if (id < 0 || id >= PGXR_MAX_BACKENDS || !nodes.nodes[id].cfg)
		return NULL;
	return &nodes.nodes[id];
}

/* the routed primary: up, with the primary's role; -1 when none */
int node_primary(void)
{
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		const struct node *n = &nodes.nodes[id];

		if (n->cfg && n->state == PGXR_BE_UP && n->role == PGXR_ROLE_PRIMARY)
			return id;
	}
	return -1;
}

/* the primary the pinned maps named at start, -1 none */
int node_pinned_primary(void)
{
	return nodes.pinned_primary;
}

bool node_starting(void)
{
	return nodes.starting;
}

const char *node_state_name(const struct node *n)
{
	return dataplane_state_name(n->state);
}

/* a backend on this host gets XDP_PASS: the kernel delivers it locally */
static bool node_is_local(const struct pgxr_addr *a)
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

static void node_entry(const struct node *n, struct pgxr_backend *be)
{
	memset(be, 0, sizeof(*be));
	memcpy(be->addr, n->cfg->addr.a, sizeof(be->addr));
	be->family = n->cfg->addr.family;
	be->port = n->cfg->port;
	be->weight = (__u32)llround(n->cfg->weight * 1000);
	be->state = n->admin_down && n->state == PGXR_BE_UP ? PGXR_BE_DOWN : n->state;
	be->role = n->role;
	be->flags = (n->local ? PGXR_BE_F_LOCAL : 0) | (n->admin_down ? PGXR_BE_F_ADMIN_DOWN : 0) |
		    (n->lagging ? PGXR_BE_F_LAGGING : 0) | (n->ipip ? PGXR_BE_F_IPIP : 0);
	memcpy(be->mac, n->mac, 6);
	if (n->ipip)
		memcpy(be->tun_src, n->tun_src.a, sizeof(be->tun_src));
}

/*
 * Writes n's entry if it changed, with the rings, in the order that keeps
 * new SYNs from a leaving node (dataplane_set_backend()).  Nothing is
 * written while starting: the pinned entries keep forwarding until the
 * first health round decides.
 */
static int node_sync(struct node *n)
{
	struct pgxr_backend be;
	int ret;

	if (nodes.starting)
		return 0;
	node_entry(n, &be);
	if (n->written_valid && !memcmp(&be, &n->written, sizeof(be)))
		return 0;
	ret = dataplane_set_backend(nodes.dp, n->id, &be);
	if (ret) {
		log_error("node %d: could not update the maps: %s", n->id, strerror(-ret));
		return ret;
	}
	/* it left routing: its clients hear of it now, not when they next send */
	if (n->written.state == PGXR_BE_UP && be.state != PGXR_BE_UP) {
		ret = reset_flows(nodes.dp, n->id);
		if (ret > 0)
			log_info("node %d: %d client connection(s) reset", n->id, ret);
		else if (ret < 0)
			log_warning("node %d: could not reset its client connections: %s", n->id,
				    strerror(-ret));
	}
	n->written = be;
	n->written_valid = true;
	/*
	 * The proxy's workers route on a copy that a hook refreshes: the
	 * hooks run at the end of this batch, not up to a tick later, so that
	 * a client told of the change (pgxrctl) finds the proxy following it
	 */
	evloop_wake_at(0);
	return 0;
}

/*
 * The one way to change how a node is routed: state and role together, in
 * one write of its entry, so that no ring is ever built from half a
 * change (a rogue primary with a lower id would take the rw ring for one
 * build if its role were written before its fence).  A second routed
 * primary is refused: -EEXIST, nothing changes.
 */
int node_apply(struct node *n, __u8 state, __u8 role, const char *why)
{
	__u8 old_state = n->state, old_role = n->role;
	int ret;

	if (state == PGXR_BE_UP && role == PGXR_ROLE_PRIMARY) {
		int p = node_primary();

		if (p >= 0 && p != n->id) {
			log_error("node %d: not routed as the primary (%s): node %d is routed as the primary",
				  n->id, why, p);
			return -EEXIST;
		}
	}
	if (state == old_state && role == old_role)
		return 0;
	n->state = state;
	n->role = role;
	n->status_change_us = node_now_us();
	if (role != old_role)
		n->role_gen++;
	ret = node_sync(n);
	if (ret) {
		n->state = old_state;
		n->role = old_role;
		if (role != old_role)
			n->role_gen--;
		return ret;
	}
	if (state != old_state && role != old_role)
		event_add(n->id, "%s %s -> %s %s: %s", dataplane_role_name(old_role),
			  dataplane_state_name(old_state), dataplane_role_name(role),
			  dataplane_state_name(state), why);
	else if (state != old_state)
		event_add(n->id, "status %s -> %s: %s", dataplane_state_name(old_state),
			  dataplane_state_name(state), why);
	else
		event_add(n->id, "role %s -> %s: %s", dataplane_role_name(old_role),
			  dataplane_role_name(role), why);
	return 0;
}

/* an operator's detach: a node that is up is routed as down while set */
void node_set_admin_down(struct node *n, bool down)
{
	n->admin_down = down;
	node_sync(n);
}

/*
 * Hysteresis of the ro ring: whether standby n lags after a replication
 * check that found it over a threshold or not.  It leaves at once; it
 * returns only after checks in a row within them, so that a standby near
 * the threshold does not leave and rejoin on every check (each change
 * rebuilds the rings and may move sessions whose flow was evicted).
 */
bool node_lag_next(struct node *n, bool over, int checks, long long now, long long gap)
{
	if (over || !n->lagging) {
		n->lag_ok = 0;
		return over;
	}
	/* checks forced back to back (a rejoin, a reload) count once per gap */
	if (n->lag_ok && now - n->lag_ok_at < gap)
		return true;
	n->lag_ok_at = now;
	return ++n->lag_ok < checks;
}

void node_set_lagging(struct node *n, bool lagging, const char *why)
{
	if (n->lagging == lagging)
		return;
	n->lagging = lagging;
	event_add(n->id, "%s", why);
	node_sync(n);
}

/* true when the MAC changed */
bool node_set_mac(struct node *n, const __u8 mac[6])
{
	if (!memcmp(n->mac, mac, 6))
		return false;
	memcpy(n->mac, mac, 6);
	log_info("node %d: MAC %02x:%02x:%02x:%02x:%02x:%02x", n->id, mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	node_sync(n);
	return true;
}

/*
 * forwarding = ipip: the route to n changed (or was first learned): its
 * next hop, the outer source toward it, and that hop's MAC (zero: not
 * resolved yet, XDP drops until it is), in one write
 */
void node_set_path(struct node *n, const struct pgxr_addr *hop, const struct pgxr_addr *src,
		   const __u8 mac[6])
{
	char h[ADDR_STRLEN], f[ADDR_STRLEN];

	n->hop = *hop;
	n->tun_src = *src;
	memcpy(n->mac, mac, 6);
	log_info("node %d: in IPIP through %s, from %s", n->id, addr_format(hop, h, sizeof(h)),
		 addr_format(src, f, sizeof(f)));
	node_sync(n);
}

void node_set_note(struct node *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(n->note, sizeof(n->note), fmt, ap);
	va_end(ap);
}

/*
 * The first health round is in: from now on the store writes the maps.
 * Nodes that leave routing go first, so that a primary that moved while
 * pgxrd was away never meets the pinned one in the map.
 */
void node_set_started(void)
{
	nodes.starting = false;
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++)
		if (nodes.nodes[id].cfg && nodes.nodes[id].state != PGXR_BE_UP)
			node_sync(&nodes.nodes[id]);
	node_sync_all();
}

/* every entry written again where it differs (a reload changed weights) */
void node_sync_all(void)
{
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++)
		if (nodes.nodes[id].cfg)
			node_sync(&nodes.nodes[id]);
}

int node_init(const struct pgxr_config *cfg, const struct dataplane *dp)
{
	nodes.cfg = cfg;
	nodes.dp = dp;
	nodes.pinned_primary = -1;
	nodes.starting = true;
	for (__u32 id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = &nodes.nodes[id];
		struct pgxr_backend old = {};
		bool same_host;

		bpf_map_lookup_elem(dp->fd[DP_BACKENDS], &id, &old);
		if (id >= (__u32)cfg->nbackends || !cfg->backends[id].configured) {
			/* a node gone from the configuration stops being routed */
			static const struct pgxr_backend unused;

			if (old.state != PGXR_BE_UNUSED &&
			    dataplane_set_backend(dp, id, &unused) == 0) {
				log_info("node %u is no longer configured: removed from the maps", id);
				int ret = reset_flows(dp, id);

				/* its clients' flows would only wait for the LRU */
				if (ret > 0)
					log_info("node %u: %d client connection(s) reset", id, ret);
				else if (ret < 0)
					log_warning("node %u: could not reset its client connections: %s", id,
						    strerror(-ret));
			}
			continue;
		}
		n->id = id;
		n->cfg = &cfg->backends[id];
		n->repl.lag_bytes = n->repl.lag_ms = -1;
		n->pg.receipt_age_ms = -1;
		n->followed = -1;
		n->failback_ms = -1;
		n->local = node_is_local(&n->cfg->addr);
		n->ipip = cfg->forward_ipip && !n->local;
		n->hop = n->cfg->addr;
		n->state = PGXR_BE_DOWN;
		n->status_change_us = node_now_us();
		same_host = old.family == n->cfg->addr.family &&
			    !memcmp(old.addr, n->cfg->addr.a, sizeof(old.addr));
		if (!same_host)
			continue;
		/*
		 * The pinned entry is what a previous pgxrd decided: a fence and
		 * an operator's detach hold across restarts, the rest is checked.
		 */
		n->role = old.role;
		/* what is pinned is what is written: leaving routing resets its clients */
		n->written = old;
		n->admin_down = old.flags & PGXR_BE_F_ADMIN_DOWN;
		n->lagging = old.flags & PGXR_BE_F_LAGGING;
		memcpy(n->mac, old.mac, 6);
		/* the path the pinned entry forwards on, until the router looks the route up */
		if (n->ipip && (old.flags & PGXR_BE_F_IPIP)) {
			n->tun_src.family = old.family;
			memcpy(n->tun_src.a, old.tun_src, sizeof(n->tun_src.a));
		}
		if (old.state == PGXR_BE_FENCED)
			n->state = old.state;
		if (old.state == PGXR_BE_UP && old.role == PGXR_ROLE_PRIMARY &&
		    nodes.pinned_primary < 0)
			nodes.pinned_primary = id;
	}
	return 0;
}

/* h is a walreceiver streaming from p (as its primary_conninfo names p) */
bool node_streams_from(const struct node_health *h, const struct node *p)
{
	char addr[ADDR_STRLEN];

	if (!h->receiving || (h->sender_port && h->sender_port != p->cfg->port))
		return false;
	addr_format(&p->cfg->addr, addr, sizeof(addr));
	return !strcmp(h->sender_host, p->cfg->hostname) || !strcmp(h->sender_host, addr);
}
