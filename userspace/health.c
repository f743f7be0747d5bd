/* health.c: health and replication checks of every node, non-blocking on the event loop */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "evloop.h"
#include "health.h"
#include "log.h"
#include "node.h"
#include "pgq.h"

/*
 * One query tells role, timeline and position.  pg_walfile_name() names
 * the primary's current WAL segment, whose first 8 hex digits are its
 * timeline: unlike pg_control_checkpoint() it is right at once after a
 * promotion.
 */
#define HEALTH_SQL \
	"SELECT pg_is_in_recovery(), " \
	"CASE WHEN pg_is_in_recovery() THEN 0 ELSE " \
	"('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END, " \
	"CASE WHEN pg_is_in_recovery() THEN " \
	"GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) - '0/0' " \
	"ELSE pg_current_wal_lsn() - '0/0' END, " \
	"current_setting('server_version_num')::int"

/* asked of the primary: how far each standby is behind */
#define HEALTH_SR_SQL \
	"SELECT host(client_addr), state, sync_state, " \
	"COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), -1)::bigint, " \
	"COALESCE((EXTRACT(epoch FROM replay_lag) * 1000)::bigint, 0) " \
	"FROM pg_stat_replication"

struct health_node {
	struct node *n;
	struct pgq_conn *conn;
	bool running;		/* a check is on the wire */
	bool was_ready;		/* its connection was established when the check began */
	long long due;		/* monotonic ms of the next check */
	int failures;		/* consecutive failed checks */
	bool lost;		/* its connection broke: the next check decides at once */
	bool recheck;		/* asked for while a check ran: another at once */
	long long started;	/* monotonic ms the running check began */
	bool resolved;		/* the first round has an answer for it */
};

/* per-node check state, and the replication check's connection and schedule */
static struct {
	const struct pgxr_config *cfg;
	struct health_node hn[PGXR_MAX_BACKENDS];
	int pending;		/* nodes without an answer in the first round */
	struct pgq_conn *sr_conn;	/* to the primary, as sr_check_user */
	int sr_node;		/* the node sr_conn goes to */
	long long sr_due;
	bool sr_running;
} health = { .sr_node = -1 };

/* when the next periodic check is due; with period 0 there is none */
static long long health_next(long long now)
{
	return health.cfg->health_check_period ?
		       now + health.cfg->health_check_period * 1000LL : LLONG_MAX;
}

static void health_broken(struct pgq_conn *c, const char *err, void *arg);
static void health_start(struct health_node *h);

/* connection parameters of node n: hostaddr, so that connecting never blocks on DNS */
static void health_params(const struct node *n, const char *user, const char *password,
			  const char *dbname, const char **keys, const char **vals, char *port,
			  char *hostaddr)
{
	int i = 0;

	snprintf(port, 8, "%d", n->cfg->port);
	addr_format(&n->cfg->addr, hostaddr, ADDR_STRLEN);
	keys[i] = "host", vals[i++] = n->cfg->hostname;
	keys[i] = "hostaddr", vals[i++] = hostaddr;
	keys[i] = "port", vals[i++] = port;
	keys[i] = "user", vals[i++] = user;
	keys[i] = "dbname", vals[i++] = dbname;
	keys[i] = "application_name", vals[i++] = "pgxrd";
	/* a dead host must not hang a backend on keepalives: the check times out */
	keys[i] = "keepalives_idle", vals[i++] = "5";
	if (password[0])
		keys[i] = "password", vals[i++] = password;
	keys[i] = NULL, vals[i] = NULL;
}

struct pgq_conn *health_connect(const struct node *n, const char *user, const char *password,
				const char *dbname, pgq_broken_cb on_broken, void *arg)
{
	const char *keys[12], *vals[12];
	char port[8], hostaddr[ADDR_STRLEN];

	health_params(n, user, password, dbname, keys, vals, port, hostaddr);
	return pgq_connect(keys, vals, health.cfg->health_check_timeout * 1000, on_broken, arg);
}

static void health_resolved(struct health_node *h)
{
	if (h->resolved)
		return;
	h->resolved = true;
	if (--health.pending == 0)
		node_started();
}

static void health_drop(struct health_node *h)
{
	pgq_close(h->conn);
	h->conn = NULL;
}

static void health_done(const PGresult *res, const char *err, void *arg)
{
	struct health_node *h = arg;
	const struct pgxr_config *cfg = health.cfg;
	struct node_health nh = {};
	long long now = evloop_now_ms();
	bool again;

	h->running = false;
	/*
	 * An answer from before the node's role last changed (a check that
	 * began just before a promotion) says nothing about it now.
	 */
	if (res && h->started < h->n->role_epoch) {
		h->due = 0;
		return;
	}
	again = h->recheck;
	h->recheck = false;
	if (res && PQntuples(res) == 1) {
		nh.role = !strcmp(PQgetvalue(res, 0, 0), "t") ? PGXR_ROLE_STANDBY : PGXR_ROLE_PRIMARY;
		nh.timeline = strtoul(PQgetvalue(res, 0, 1), NULL, 10);
		nh.lsn = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
		nh.version_num = atoi(PQgetvalue(res, 0, 3));
		if (h->failures)
			log_info("node %d: health check succeeded after %d failure(s)", h->n->id,
				 h->failures);
		h->failures = 0;
		h->lost = false;
		h->due = again ? 0 : health_next(now);
		node_health_ok(h->n, &nh);
		node_health_checked(h->n, h->started);
		health_resolved(h);
		return;
	}
	health_drop(h);
	/* an established connection broke under the query: re-check at once */
	if (h->was_ready && !h->lost && err && strncmp(err, "timeout", 7) &&
	    cfg->health_check_period) {
		log_info("node %d: connection lost (%s); checking now", h->n->id, err);
		h->lost = true;
		health_start(h);
		return;
	}
	h->failures++;
	/*
	 * A server that dropped our connection and will not take a new one is
	 * gone (pgpool's failover_on_backend_error): no retries to wait out.
	 */
	if (h->lost && cfg->failover_on_backend_error &&
	    h->failures <= cfg->health_check_max_retries) {
		log_warning("node %d: connection lost and not re-made (%s): down without retries (failover_on_backend_error)",
			    h->n->id, err ? err : "unexpected answer");
		h->failures = cfg->health_check_max_retries + 1;
	}
	h->lost = false;
	if (h->failures <= cfg->health_check_max_retries) {
		log_warning("node %d: health check failed (retry %d of %d in %d s): %s", h->n->id,
			    h->failures, cfg->health_check_max_retries, cfg->health_check_retry_delay,
			    err ? err : "unexpected answer");
		h->due = now + cfg->health_check_retry_delay * 1000LL;
		node_health_checked(h->n, h->started);
		return;
	}
	h->due = again ? 0 : health_next(now);
	/* the node state machine hears of each outage once, not of every failed check */
	if (h->failures == cfg->health_check_max_retries + 1) {
		log_warning("node %d: health check failed: %s", h->n->id,
			    err ? err : "unexpected answer");
		node_health_failed(h->n, err ? err : "unexpected answer");
	}
	node_health_checked(h->n, h->started);
	health_resolved(h);
}

static void health_start(struct health_node *h)
{
	const struct pgxr_config *cfg = health.cfg;
	int ret;

	/* set first: a check that fails before its query began is still this one */
	h->started = evloop_now_ms();
	if (!h->conn) {
		h->conn = health_connect(h->n, cfg->health_check_user, cfg->health_check_password,
					 cfg->health_check_database, health_broken, h);
		if (!h->conn) {
			health_done(NULL, strerror(errno), h);
			return;
		}
	}
	h->running = true;
	h->was_ready = pgq_ready(h->conn);
	ret = pgq_query(h->conn, HEALTH_SQL, cfg->health_check_timeout * 1000, health_done, h);
	if (ret) {
		h->running = false;
		health_done(NULL, strerror(-ret), h);
	}
}

/*
 * The idle connection of a node went away (the server closed it, a reset):
 * check again at once instead of waiting for the period.
 */
static void health_broken(struct pgq_conn *c, const char *err, void *arg)
{
	struct health_node *h = arg;

	(void)c;
	if (h->running)
		return;	/* the failed query reports it */
	health_drop(h);
	/* without periodic checks a lost connection is not a reason to decide */
	if (!health.cfg->health_check_period)
		return;
	log_info("node %d: connection lost (%s); checking now", h->n->id, err);
	h->lost = true;
	h->due = 0;
	health_start(h);
}

static void health_sr_drop(void)
{
	pgq_close(health.sr_conn);
	health.sr_conn = NULL;
	health.sr_node = -1;
}

static void health_sr_broken(struct pgq_conn *c, const char *err, void *arg)
{
	(void)c;
	(void)err;
	(void)arg;
	if (!health.sr_running)
		health_sr_drop();
}

static void health_sr_done(const PGresult *res, const char *err, void *arg)
{
	int primary = node_primary();

	health.sr_running = false;
	/* rows of a primary that is no longer the primary say nothing of streaming from it */
	if ((intptr_t)arg != primary)
		return;
	if (!res) {
		log_warning("replication check on the primary failed: %s", err);
		health_sr_drop();
		return;
	}
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = node_get(id);
		bool found = false;

		if (!n || id == primary)
			continue;
		for (int r = 0; r < PQntuples(res); r++) {
			struct pgxr_addr a;

			if (addr_parse(PQgetvalue(res, r, 0), &a) || !addr_equal(&a, &n->cfg->addr))
				continue;
			node_replication(n, true, PQgetvalue(res, r, 1), PQgetvalue(res, r, 2),
					 strtoll(PQgetvalue(res, r, 3), NULL, 10),
					 strtoll(PQgetvalue(res, r, 4), NULL, 10));
			found = true;
			break;
		}
		if (!found)
			node_replication(n, false, "", "", -1, -1);
	}
}

/* asks the primary, as sr_check_user, about its standbys */
static void health_sr_start(void)
{
	const struct pgxr_config *cfg = health.cfg;
	int primary = node_primary();

	if (health.sr_running)
		return;
	if (health.sr_node != primary)
		health_sr_drop();
	if (primary < 0)
		return;
	if (!health.sr_conn) {
		health.sr_conn = health_connect(node_get(primary), cfg->sr_check_user,
						cfg->sr_check_password, cfg->sr_check_database,
						health_sr_broken, NULL);
		if (!health.sr_conn)
			return;
		health.sr_node = primary;
	}
	if (pgq_query(health.sr_conn, HEALTH_SR_SQL, cfg->health_check_timeout * 1000,
		      health_sr_done, (void *)(intptr_t)primary) == 0)
		health.sr_running = true;
}

/* checks n at once, not at the next tick: failover steps wait on it */
void health_check_now(struct node *n)
{
	struct health_node *h = &health.hn[n->id];

	h->due = 0;
	if (!h->n)
		return;
	if (h->running)
		h->recheck = true;
	else
		health_start(h);
}

/* n's health connection when it is up: other short queries may share it */
struct pgq_conn *health_conn(const struct node *n)
{
	struct pgq_conn *c = health.hn[n->id].conn;

	return pgq_ready(c) ? c : NULL;
}

void health_sr_now(void)
{
	health.sr_due = 0;
}

/* per-tick hook: starts the checks that are due */
void health_maintain(void *arg)
{
	long long now = evloop_now_ms();

	(void)arg;
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct health_node *h = &health.hn[id];

		if (h->n && !h->running && now >= h->due)
			health_start(h);
	}
	/* health_sr_now() asks for one even when sr_check_period is 0 (rejoin waits on it) */
	if (!node_starting() && now >= health.sr_due) {
		health_sr_start();
		health.sr_due = health.cfg->sr_check_period ?
					now + health.cfg->sr_check_period * 1000LL : LLONG_MAX;
	}
}

/* every node is checked at once: the first round decides the roles */
int health_init(const struct pgxr_config *cfg)
{
	health.cfg = cfg;
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = node_get(id);

		if (!n)
			continue;
		health.hn[id].n = n;
		health.hn[id].due = 0;
		health.pending++;
	}
	if (!cfg->health_check_period)
		log_warning("health_check_period is 0: nodes are probed once at start and never again, and there is no failover");
	return 0;
}

void health_close(void)
{
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++)
		health_drop(&health.hn[id]);
	health_sr_drop();
}
