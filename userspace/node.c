/* node.c: the node state machine: up/down/fenced, who is primary, lag; every change an event */
#include <errno.h>
#include <ifaddrs.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include <bpf/bpf.h>

#include "event.h"
#include "evloop.h"
#include "failover.h"
#include "follow.h"
#include "health.h"
#include "log.h"
#include "node.h"

/* every configured node, the chosen primary, and where the maps are */
static struct {
	const struct pgxr_config *cfg;
	const struct dataplane *dp;
	struct node nodes[PGXR_MAX_BACKENDS];
	int primary;		/* the node routed as primary, -1 when none */
	bool starting;		/* until the first health round has answered */
} nodes = { .primary = -1, .starting = true };

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

int node_primary(void)
{
	return nodes.primary;
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
		    (n->lagging ? PGXR_BE_F_LAGGING : 0);
	memcpy(be->mac, n->mac, 6);
}

/*
 * Writes n's entry if it changed, with the rings, in the order that keeps
 * new SYNs from a leaving node.  Nothing is written while starting: the
 * pinned entries keep forwarding until the first health round decides.
 */
static void node_sync(struct node *n)
{
	struct pgxr_backend be;
	int ret;

	if (nodes.starting)
		return;
	node_entry(n, &be);
	if (n->written_valid && !memcmp(&be, &n->written, sizeof(be)))
		return;
	ret = dataplane_set_backend(nodes.dp, n->id, &be);
	if (ret) {
		log_error("node %d: could not update the maps: %s", n->id, strerror(-ret));
		return;
	}
	n->written = be;
	n->written_valid = true;
}

void node_set_state(struct node *n, __u8 state, const char *why)
{
	if (n->state == state)
		return;
	event_add(n->id, "status %s -> %s: %s", dataplane_state_name(n->state),
		  dataplane_state_name(state), why);
	n->state = state;
	n->status_change_us = node_now_us();
	node_sync(n);
}

static void node_set_role(struct node *n, __u8 role, const char *why)
{
	if (n->role == role)
		return;
	event_add(n->id, "role %s -> %s: %s", dataplane_role_name(n->role),
		  dataplane_role_name(role), why);
	n->role = role;
	n->role_epoch = evloop_now_ms();
	n->status_change_us = node_now_us();
	node_sync(n);
}

/* never routed again until rejoined as a standby (or attached as one) */
void node_fence(struct node *n, const char *why)
{
	if (nodes.primary == n->id)
		nodes.primary = -1;
	node_set_state(n, PGXR_BE_FENCED, why);
}

/* n is the primary: rw goes to it, any other primary is fenced */
void node_make_primary(struct node *n, const char *why)
{
	char reason[160];

	if (nodes.primary >= 0 && nodes.primary != n->id) {
		snprintf(reason, sizeof(reason), "node %d is the primary now", n->id);
		node_fence(&nodes.nodes[nodes.primary], reason);
	}
	nodes.primary = n->id;
	n->lagging = false;
	n->streaming = false;
	n->repl_state[0] = n->sync_state[0] = '\0';
	n->lag_bytes = n->lag_ms = -1;
	node_set_role(n, PGXR_ROLE_PRIMARY, why);
	if (!n->admin_down)
		node_set_state(n, PGXR_BE_UP, why);
	node_sync(n);
}

/* the primary is lost: a failover, unless its backend_flag forbids one */
static void node_lose_primary(struct node *n, const char *why)
{
	if (n->cfg->flags & BACKEND_FLAG_DISALLOW_TO_FAILOVER) {
		event_add(n->id, "the primary is lost (%s); no failover (DISALLOW_TO_FAILOVER)", why);
		return;
	}
	failover_start(n, why);
}

int node_init(const struct pgxr_config *cfg, const struct dataplane *dp)
{
	nodes.cfg = cfg;
	nodes.dp = dp;
	for (__u32 id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = &nodes.nodes[id];
		struct pgxr_backend old = {};
		bool same_host;

		bpf_map_lookup_elem(dp->fd[DP_BACKENDS], &id, &old);
		if (id >= (__u32)cfg->nbackends || !cfg->backends[id].configured) {
			/* a node gone from the configuration stops being routed */
			static const struct pgxr_backend unused;

			if (old.state != PGXR_BE_UNUSED &&
			    dataplane_set_backend(dp, id, &unused) == 0)
				log_info("node %u is no longer configured: removed from the maps", id);
			continue;
		}
		n->id = id;
		n->cfg = &cfg->backends[id];
		n->lag_bytes = n->lag_ms = -1;
		n->followed = -1;
		n->local = node_is_local(&n->cfg->addr);
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
		n->admin_down = old.flags & PGXR_BE_F_ADMIN_DOWN;
		n->lagging = old.flags & PGXR_BE_F_LAGGING;
		memcpy(n->mac, old.mac, 6);
		if (old.state == PGXR_BE_FENCED || old.state == PGXR_BE_UP)
			n->state = old.state;
		if (old.state == PGXR_BE_UP && old.role == PGXR_ROLE_PRIMARY && nodes.primary < 0)
			nodes.primary = id;
	}
	return 0;
}

/*
 * The first health round is in: elect the primary from what the backends
 * say and what was pinned.  Of several primaries the highest timeline
 * wins, then the one pinned as primary, then the lowest id; the others
 * are fenced.
 */
void node_started(void)
{
	int pinned = nodes.primary, best = -1;
	bool pinned_down = false;
	char why[160];

	nodes.primary = -1;
	for (int id = 0; id < nodes.cfg->nbackends; id++) {
		struct node *n = node_get(id);

		if (!n || !n->pg_ok || n->pg.role != PGXR_ROLE_PRIMARY || n->state == PGXR_BE_FENCED)
			continue;
		if (best < 0 || n->pg.timeline > nodes.nodes[best].pg.timeline ||
		    (n->pg.timeline == nodes.nodes[best].pg.timeline && id == pinned))
			best = id;
	}
	nodes.starting = false;
	for (int id = 0; id < nodes.cfg->nbackends; id++) {
		struct node *n = node_get(id);

		if (!n)
			continue;
		if (n->state == PGXR_BE_FENCED) {
			if (id == pinned)
				pinned_down = true;
			node_sync(n);
			continue;
		}
		if (!n->pg_ok) {
			if (id == pinned)
				pinned_down = true;
			n->state = PGXR_BE_DOWN;
			node_sync(n);
			continue;
		}
		if (n->pg.role == PGXR_ROLE_PRIMARY && id != best) {
			snprintf(why, sizeof(why),
				 "claims to be primary, but node %d is (timeline %u against %u)", best,
				 nodes.nodes[best].pg.timeline, n->pg.timeline);
			n->role = PGXR_ROLE_PRIMARY;
			node_fence(n, why);
			continue;
		}
		n->role = n->pg.role;
		n->state = n->admin_down ? PGXR_BE_DOWN : PGXR_BE_UP;
		if (n->pg.role == PGXR_ROLE_STANDBY)
			node_sync(n);
	}
	/* the standbys follow whoever is primary at start: no re-pointing on a mere restart */
	for (int id = 0; id < nodes.cfg->nbackends; id++)
		if (node_get(id))
			nodes.nodes[id].followed = best >= 0 ? best : pinned;
	if (best >= 0) {
		node_make_primary(&nodes.nodes[best], "primary at start");
	} else if (pinned >= 0 && pinned_down) {
		snprintf(why, sizeof(why), "the primary was not reachable at start");
		node_lose_primary(&nodes.nodes[pinned], why);
	} else {
		event_add(-1, "no primary found at start: VIP port %d has no backend",
			  nodes.cfg->rw_port);
	}
	for (int id = 0; id < nodes.cfg->nbackends; id++) {
		struct node *n = node_get(id);

		if (n)
			event_add(id, "%s %s at start%s", dataplane_role_name(n->role),
				  node_state_name(n), n->admin_down ? " (detached by an operator)" : "");
	}
	log_info("ready: VIP ports rw %d, ro %d, proxy %d; primary: %s", nodes.cfg->rw_port,
		 nodes.cfg->ro_port, nodes.cfg->proxy_port,
		 nodes.primary >= 0 ? nodes.nodes[nodes.primary].cfg->hostname : "none");
}

/* a node answered its health check */
void node_health_ok(struct node *n, const struct node_health *h)
{
	struct node *p = nodes.primary >= 0 ? &nodes.nodes[nodes.primary] : NULL;
	bool was_ok = n->pg_ok;
	char why[200];

	n->pg_ok = true;
	n->pg = *h;
	n->pg_error[0] = '\0';
	if (!was_ok && !nodes.starting)
		event_add(n->id, "answers health checks again (%s)", dataplane_role_name(h->role));
	if (nodes.starting || n->state == PGXR_BE_FENCED)
		return;

	if (h->role == PGXR_ROLE_PRIMARY) {
		/* a failover decides about every primary it did not choose, the old one too */
		if (failover_active()) {
			failover_primary_seen(n);
			return;
		}
		if (p == n) {
			if (n->state == PGXR_BE_DOWN && !n->admin_down) {
				node_set_state(n, PGXR_BE_UP, "the primary is back");
				failover_primary_back(n);
			}
			return;
		}
		if (!p) {
			node_make_primary(n, "the only primary");
			failover_primary_back(n);
			return;
		}
		/* two primaries: the higher timeline wins, the other is fenced */
		if (h->timeline > p->pg.timeline) {
			snprintf(why, sizeof(why), "promoted: timeline %u is above node %d's %u",
				 h->timeline, p->id, p->pg.timeline);
			node_make_primary(n, why);
		} else {
			snprintf(why, sizeof(why),
				 "claims to be primary, but node %d is (timeline %u against %u)", p->id,
				 p->pg.timeline, h->timeline);
			node_set_role(n, PGXR_ROLE_PRIMARY, "reports primary");
			node_fence(n, why);
		}
		return;
	}

	if (p == n) {
		/* the primary went back into recovery behind pgxr's back */
		nodes.primary = -1;
		node_set_role(n, PGXR_ROLE_STANDBY, "the primary reports being in recovery");
		node_lose_primary(n, "the primary is in recovery");
		return;
	}
	node_set_role(n, PGXR_ROLE_STANDBY, "reports standby");
	if (n->state == PGXR_BE_DOWN && !n->admin_down) {
		if (!nodes.cfg->auto_failback)
			return;
		if (n->streaming || !p) {
			node_set_state(n, PGXR_BE_UP, p ? "streaming from the primary again (auto_failback)"
							: "standby is back (no primary to stream from)");
			failover_standby_up();
			return;
		}
		/*
		 * It may have been down when the primary changed: point it at
		 * the primary once, then attach it when the primary sees it.
		 */
		if (nodes.cfg->follow_primary && n->followed != p->id) {
			n->followed = p->id;
			follow_primary(n, p);
		}
		health_sr_now();
	}
}

/* a check of n begun at started (monotonic ms) is over, whatever its outcome */
void node_health_checked(struct node *n, long long started)
{
	if (!nodes.starting)
		failover_primary_checked(n, started);
}

/* a node failed its health check and all retries */
void node_health_failed(struct node *n, const char *why)
{
	char reason[300];

	n->pg_ok = false;
	snprintf(n->pg_error, sizeof(n->pg_error), "%s", why);
	if (nodes.starting)
		return;
	snprintf(reason, sizeof(reason), "health check failed: %s", why);
	if (n->state == PGXR_BE_UP)
		node_set_state(n, PGXR_BE_DOWN, reason);
	if (nodes.primary == n->id)
		node_lose_primary(n, reason);
}

/*
 * What the primary's pg_stat_replication says of standby n (found false:
 * not there, so not streaming).  Decides lag and auto_failback.
 */
void node_replication(struct node *n, bool found, const char *state, const char *sync,
		      long long lag_bytes, long long lag_ms)
{
	const struct pgxr_config *cfg = nodes.cfg;
	bool thresholds = cfg->delay_threshold > 0 || cfg->delay_threshold_by_time > 0;
	bool lagging;
	char why[200];

	n->streaming = found && !strcmp(state, "streaming");
	snprintf(n->repl_state, sizeof(n->repl_state), "%s", found ? state : "");
	snprintf(n->sync_state, sizeof(n->sync_state), "%s", found ? sync : "");
	n->lag_bytes = found ? lag_bytes : -1;
	n->lag_ms = found ? lag_ms : -1;
	if (n->role != PGXR_ROLE_STANDBY || n->state == PGXR_BE_FENCED)
		return;

	/* a standby that does not stream at all falls behind without measure */
	lagging = !n->streaming ? thresholds :
		  (cfg->delay_threshold > 0 && lag_bytes > cfg->delay_threshold) ||
		  (cfg->delay_threshold_by_time > 0 && lag_ms > cfg->delay_threshold_by_time);
	if (lagging != n->lagging) {
		if (!lagging)
			snprintf(why, sizeof(why), "caught up (%lld bytes behind): back in the ro ring",
				 lag_bytes);
		else if (!n->streaming)
			snprintf(why, sizeof(why), "not streaming from the primary: out of the ro ring");
		else
			snprintf(why, sizeof(why),
				 "lagging %lld bytes, %lld ms behind (delay_threshold %lld bytes, %d ms): out of the ro ring",
				 lag_bytes, lag_ms, cfg->delay_threshold, cfg->delay_threshold_by_time);
		event_add(n->id, "%s", why);
		n->lagging = lagging;
		node_sync(n);
	}
	if (n->state == PGXR_BE_DOWN && !n->admin_down && cfg->auto_failback && n->pg_ok &&
	    n->streaming) {
		node_set_state(n, PGXR_BE_UP, "streaming from the primary again (auto_failback)");
		failover_standby_up();
	}
}

void node_set_mac(struct node *n, const __u8 mac[6])
{
	if (!memcmp(n->mac, mac, 6))
		return;
	memcpy(n->mac, mac, 6);
	log_info("node %d: MAC %02x:%02x:%02x:%02x:%02x:%02x", n->id, mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	node_sync(n);
	/* a node lost behind a stale MAC may answer now: no need to wait for the period */
	if (!nodes.starting && !n->pg_ok)
		health_check_now(n);
}

/* a fenced or broken node streams from the primary again: routed as a standby */
void node_rejoined(struct node *n, int primary)
{
	char why[96];

	snprintf(why, sizeof(why), "rejoined as a standby of node %d", primary);
	n->admin_down = false;
	node_set_role(n, PGXR_ROLE_STANDBY, why);
	node_set_state(n, PGXR_BE_UP, why);
	failover_standby_up();
}

int node_attach(int id, char *err, size_t len)
{
	struct node *n = node_get(id);

	if (!n) {
		snprintf(err, len, "node %d is not configured", id);
		return -ENOENT;
	}
	if (n->state == PGXR_BE_FENCED) {
		if (!n->pg_ok || n->pg.role != PGXR_ROLE_STANDBY) {
			snprintf(err, len,
				 "node %d is fenced and still claims to be primary: rejoin it (pgxrctl node rejoin %d)",
				 id, id);
			return -EPERM;
		}
		n->admin_down = false;
		node_set_role(n, PGXR_ROLE_STANDBY, "reports standby");
		node_set_state(n, PGXR_BE_UP, "attached by an operator: it is a standby now");
		failover_standby_up();
		return 0;
	}
	if (n->admin_down) {
		n->admin_down = false;
		event_add(id, "attached by an operator");
	}
	if (!n->pg_ok) {
		node_sync(n);
		snprintf(err, len, "node %d does not answer health checks (%s); %s", id,
			 n->pg_error[0] ? n->pg_error : "no answer yet",
			 nodes.cfg->auto_failback ? "no longer detached, it is attached when it answers and streams"
						  : "no longer detached; attach it again when it answers");
		return -EAGAIN;
	}
	if (n->pg.role == PGXR_ROLE_PRIMARY && failover_active()) {
		snprintf(err, len, "node %d claims to be primary while a failover runs (%s)", id,
			 failover_status());
		return -EBUSY;
	}
	if (n->pg.role == PGXR_ROLE_PRIMARY && nodes.primary != id && nodes.primary >= 0) {
		snprintf(err, len, "node %d claims to be primary but node %d is the primary", id,
			 nodes.primary);
		return -EPERM;
	}
	if (n->pg.role == PGXR_ROLE_PRIMARY) {
		node_make_primary(n, "attached by an operator");
		failover_primary_back(n);
	}
	else
		node_set_state(n, PGXR_BE_UP, "attached by an operator");
	node_sync(n);
	failover_standby_up();
	return 0;
}

int node_detach(int id, char *err, size_t len)
{
	struct node *n = node_get(id);

	if (!n) {
		snprintf(err, len, "node %d is not configured", id);
		return -ENOENT;
	}
	if (n->admin_down) {
		snprintf(err, len, "node %d is already detached", id);
		return -EALREADY;
	}
	n->admin_down = true;
	if (n->state == PGXR_BE_UP)
		node_set_state(n, PGXR_BE_DOWN, "detached by an operator");
	else
		node_sync(n);
	if (nodes.primary == id)
		node_lose_primary(n, "the primary was detached by an operator");
	return 0;
}
