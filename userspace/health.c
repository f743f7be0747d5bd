/* health.c: health and replication checks of every node, non-blocking on the event loop */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evloop.h"
#include "health.h"
#include "log.h"
#include "node.h"
#include "nodeconn.h"
#include "pgq.h"

/*
 * One query tells role, timeline, position, whether pgxr's read-only
 * fence is on, and what the node's walreceiver sees of its primary.
 * pg_walfile_name() names the primary's current WAL segment, whose first
 * 8 hex digits are its timeline: unlike pg_control_checkpoint() it is
 * right at once after a promotion.
 */
#define HEALTH_SQL \
	"SELECT pg_is_in_recovery(), " \
	"CASE WHEN pg_is_in_recovery() THEN 0 ELSE " \
	"('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END, " \
	"CASE WHEN pg_is_in_recovery() THEN " \
	"GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) - '0/0' " \
	"ELSE pg_current_wal_lsn() - '0/0' END, " \
	"current_setting('server_version_num')::int, " \
	"current_setting('default_transaction_read_only'), " \
	"w.status, w.sender_host, w.sender_port, " \
	"(EXTRACT(epoch FROM clock_timestamp() - w.last_msg_receipt_time) * 1000)::bigint " \
	"FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver AS w ON true"

/* asked of the primary: each standby's position and sync state, and its own */
#define HEALTH_SR_SQL \
	"SELECT host(r.client_addr), r.application_name, r.state, r.sync_state, " \
	"COALESCE((r.write_lsn - '0/0')::bigint, 0), COALESCE((r.flush_lsn - '0/0')::bigint, 0), " \
	"COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn), -1)::bigint, " \
	"COALESCE((EXTRACT(epoch FROM r.replay_lag) * 1000)::bigint, 0), " \
	"current_setting('synchronous_standby_names'), (pg_current_wal_lsn() - '0/0')::bigint " \
	"FROM (SELECT 1) AS one LEFT JOIN pg_stat_replication AS r ON true"

struct health_node {
	struct node *n;
	struct pgq_conn *conn;
	bool running;		/* a check is on the wire */
	bool was_ready;		/* its connection was established when the check began */
	long long due;		/* monotonic ms of the next check */
	long long started;	/* monotonic ms the running check began */
	unsigned started_gen;	/* the node's role generation then */
	long long last_ok;	/* monotonic ms of the last answer; 0 none */
	long long outage;	/* monotonic ms pgxrd last heard from it, in an outage; 0 none */
	bool outage_timed_out;	/* the outage began with a timeout */
	int failures;		/* consecutive failed checks */
	bool lost;		/* its connection broke: the next check decides at once */
	bool recheck;		/* asked for while a check ran: another at once */
	bool resolved;		/* the first round has an answer for it */
	struct health_stats stats;
};

/* per-node check state, and the replication check's connection and schedule */
static struct {
	const struct pgxr_config *cfg;
	health_report_cb report;
	struct health_node hn[PGXR_MAX_BACKENDS];
	int pending;		/* nodes without an answer in the first round */
	struct pgq_conn *sr_conn;	/* to the primary, as sr_check_user */
	int sr_node;		/* the node sr_conn goes to */
	long long sr_due;
	bool sr_running;
} health;

static void health_broken(struct pgq_conn *c, const char *err, void *arg);
static void health_start(struct health_node *h);

/* one check ended: its time, and whether it was a retry (it began after a failure) */
static void health_count(struct health_node *h, bool ok, int failures_before, long long now)
{
	struct health_stats *st = &h->stats;
	long long dur = now - h->started, wall;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	wall = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
	st->total++;
	st->dur_sum += dur;
	if (dur > st->dur_max)
		st->dur_max = dur;
	if (st->total == 1 || dur < st->dur_min)
		st->dur_min = dur;
	st->last = wall;
	if (ok) {
		st->success++;
		st->last_ok = wall;
	} else {
		st->fail++;
		st->last_fail = wall;
	}
	if (failures_before > 0) {
		st->retry++;
		if (failures_before > st->max_retry)
			st->max_retry = failures_before;
	}
}

const struct health_stats *health_stats_of(int id)
{
	return id >= 0 && id < PGXR_MAX_BACKENDS ? &health.hn[id].stats : NULL;
}

static const struct cfg_health *health_cfg(const struct health_node *h)
{
	return &h->n->cfg->hc;
}

/* when the next check is due after an answer: a connected node is probed continuously */
static long long health_next_ok(const struct health_node *h, long long now)
{
	const struct cfg_health *hc = health_cfg(h);

	if (!hc->period)
		return LLONG_MAX;
	if (health.cfg->health_probe_interval)
		return now + health.cfg->health_probe_interval;
	return now + hc->period * 1000LL;
}

/* ... and after a failure that was given up on: a new attempt every period */
static long long health_next_failed(const struct health_node *h, long long now)
{
	const struct cfg_health *hc = health_cfg(h);

	return hc->period ? now + hc->period * 1000LL : LLONG_MAX;
}

static void health_resolved(struct health_node *h)
{
	if (h->resolved)
		return;
	h->resolved = true;
	if (--health.pending == 0) {
		struct health_report r = { .what = HEALTH_ROUND };

		health.report(&r);
	}
}

/* other users of the connection (a failover's survey) hear that their queries will not run */
static void health_drop(struct health_node *h)
{
	pgq_close_failing(h->conn, "the node's health connection was closed");
	h->conn = NULL;
}

static void health_parse(const struct pgq_result *res, struct node_health *nh)
{
	nh->role = !strcmp(pgq_value(res, 0, 0), "t") ? PGXR_ROLE_STANDBY : PGXR_ROLE_PRIMARY;
	nh->timeline = strtoul(pgq_value(res, 0, 1), NULL, 10);
	nh->lsn = strtoull(pgq_value(res, 0, 2), NULL, 10);
	nh->version_num = atoi(pgq_value(res, 0, 3));
	nh->read_only = !strcmp(pgq_value(res, 0, 4), "on");
	nh->receiving = !strcmp(pgq_value(res, 0, 5), "streaming");
	snprintf(nh->sender_host, sizeof(nh->sender_host), "%s", pgq_value(res, 0, 6));
	nh->sender_port = atoi(pgq_value(res, 0, 7));
	nh->receipt_age_ms = pgq_isnull(res, 0, 8) ? -1 : strtoll(pgq_value(res, 0, 8), NULL, 10);
}

static void health_ok(struct health_node *h, const struct pgq_result *res)
{
	struct node_health nh = {};
	struct health_report r = { .what = HEALTH_OK, .n = h->n, .started = h->started, .h = &nh };
	long long now = evloop_now_ms();

	health_parse(res, &nh);
	health_count(h, true, h->failures, now);
	if (h->failures)
		log_info("node %d: health check succeeded after %d failure(s)", h->n->id,
			 h->failures);
	h->failures = 0;
	h->lost = false;
	h->outage = 0;
	h->last_ok = now;
	h->due = h->recheck ? 0 : health_next_ok(h, now);
	h->recheck = false;
	health.report(&r);
	health_resolved(h);
}

static void health_failed(struct health_node *h, const char *err, bool timed_out)
{
	const struct cfg_health *hc = health_cfg(h);
	struct health_report r = { .what = HEALTH_FAILED, .n = h->n, .started = h->started,
				   .error = err ? err : "unexpected answer", .timed_out = timed_out };
	long long now = evloop_now_ms();
	int failures_before = h->failures;
	char code[6];

	r.answered = pgq_error_sqlstate(err, code);
	if (!h->outage) {
		/* a timeout says the node was silent since its last answer; anything else, since now */
		h->outage = timed_out && h->last_ok ? h->last_ok : now;
		h->outage_timed_out = timed_out;
	}
	r.silent_since = h->outage;
	r.timed_out = h->outage_timed_out;
	h->failures++;
	/*
	 * A server that dropped our connection and will not take a new one is
	 * gone (pgpool's failover_on_backend_error): no retries to wait out.
	 */
	if (h->lost && health.cfg->failover_on_backend_error && h->failures <= hc->max_retries) {
		log_warning("node %d: connection lost and not re-made (%s): down without retries (failover_on_backend_error)",
			    h->n->id, r.error);
		h->failures = hc->max_retries + 1;
	}
	h->lost = false;
	health_count(h, false, failures_before, now);
	if (h->failures <= hc->max_retries) {
		log_warning("node %d: health check failed (retry %d of %d in %d s): %s%s", h->n->id,
			    h->failures, hc->max_retries, hc->retry_delay,
			    r.answered ? "it answered: " : "", r.error);
		h->due = now + hc->retry_delay * 1000LL;
		r.retrying = true;
		health.report(&r);
		return;
	}
	if (h->failures == hc->max_retries + 1)
		log_warning("node %d: health check failed: %s%s", h->n->id,
			    r.answered ? "it answered: " : "no answer: ", r.error);
	h->due = h->recheck ? 0 : health_next_failed(h, now);
	h->recheck = false;
	health.report(&r);
	health_resolved(h);
}

static void health_done(const struct pgq_result *res, const char *err, void *arg)
{
	struct health_node *h = arg;

	h->running = false;
	/*
	 * An answer from before the node's role last changed (a check that
	 * began just before a promotion) says nothing about it now.
	 */
	if (res && h->started_gen != h->n->role_gen) {
		h->due = 0;
		return;
	}
	if (res && pgq_ntuples(res) == 1) {
		health_ok(h, res);
		return;
	}
	health_drop(h);
	/* an established connection broke under the query: re-check at once */
	if (h->was_ready && !h->lost && err && strncmp(err, "timeout", 7) &&
	    health_cfg(h)->period) {
		log_info("node %d: connection lost (%s); checking now", h->n->id, err);
		h->lost = true;
		if (!h->outage) {
			h->outage = evloop_now_ms();
			h->outage_timed_out = false;
		}
		health_start(h);
		return;
	}
	health_failed(h, err, err && !strncmp(err, "timeout", 7));
}

/*
 * A probe of a connected node may wait for its answer until
 * health_check_timeout after the last answer: a node cut off is declared
 * down within that time of its last word, not a probe interval later.
 * Only where it is probed continuously: a node checked every period (or
 * never) was last heard long ago, and its check gets the whole timeout.
 */
static int health_deadline_ms(const struct health_node *h, long long now)
{
	int timeout = health_cfg(h)->timeout * 1000;
	long long left;

	if (!h->was_ready || !h->last_ok || h->failures || !health_cfg(h)->period ||
	    !health.cfg->health_probe_interval)
		return timeout;
	left = h->last_ok + timeout - now;
	return left < 1 ? 1 : left > timeout ? timeout : (int)left;
}

static void health_start(struct health_node *h)
{
	long long now = evloop_now_ms();
	int ret;

	/* set first: a check that fails before its query began is still this one */
	h->started = now;
	h->started_gen = h->n->role_gen;
	if (!h->conn) {
		h->conn = nodeconn_open(h->n, NODECONN_HEALTH, health_cfg(h)->timeout * 1000,
					health_broken, h);
		if (!h->conn) {
			health_failed(h, strerror(errno), false);
			return;
		}
	}
	h->running = true;
	h->was_ready = pgq_ready(h->conn);
	ret = pgq_query(h->conn, HEALTH_SQL, health_deadline_ms(h, now), health_done, h);
	if (ret) {
		h->running = false;
		health_done(NULL, strerror(-ret), h);
	}
}

/*
 * The idle connection of a node went away (the server closed it, a reset):
 * check again at once instead of waiting for the probe.
 */
static void health_broken(struct pgq_conn *c, const char *err, void *arg)
{
	struct health_node *h = arg;

	(void)c;
	if (h->running)
		return;	/* the failed query reports it */
	health_drop(h);
	/* without periodic checks a lost connection is not a reason to decide */
	if (!health_cfg(h)->period)
		return;
	log_info("node %d: connection lost (%s); checking now", h->n->id, err);
	h->lost = true;
	if (!h->outage) {
		h->outage = evloop_now_ms();
		h->outage_timed_out = false;
	}
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

static void health_sr_done(const struct pgq_result *res, const char *err, void *arg)
{
	static struct node_repl rows[PGXR_MAX_BACKENDS];
	struct health_report r = { .what = HEALTH_REPLICATION, .repl = rows };
	int asked = (intptr_t)arg;

	health.sr_running = false;
	/* one asked for while this one ran starts now, not at the next tick */
	if (health.sr_due <= evloop_now_ms())
		evloop_wake_at(0);
	/* rows of a primary that is no longer the primary say nothing of streaming from it */
	if (asked != node_primary())
		return;
	if (!res || pgq_ntuples(res) < 1) {
		log_warning("replication check on the primary failed: %s", err ? err : "no rows");
		health_sr_drop();
		return;
	}
	memset(rows, 0, sizeof(rows));
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++)
		rows[id].lag_bytes = rows[id].lag_ms = -1;
	for (int i = 0; i < pgq_ntuples(res); i++) {
		struct pgxr_addr a;

		if (pgq_isnull(res, i, 0) || addr_parse(pgq_value(res, i, 0), &a))
			continue;
		for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
			const struct node *n = node_get(id);
			struct node_repl *row = &rows[id];

			if (!n || id == asked || row->found || !addr_equal(&a, &n->cfg->addr))
				continue;
			row->found = true;
			snprintf(row->app_name, sizeof(row->app_name), "%s", pgq_value(res, i, 1));
			snprintf(row->state, sizeof(row->state), "%s", pgq_value(res, i, 2));
			snprintf(row->sync_state, sizeof(row->sync_state), "%s", pgq_value(res, i, 3));
			row->write_lsn = strtoull(pgq_value(res, i, 4), NULL, 10);
			row->flush_lsn = strtoull(pgq_value(res, i, 5), NULL, 10);
			row->lag_bytes = strtoll(pgq_value(res, i, 6), NULL, 10);
			row->lag_ms = strtoll(pgq_value(res, i, 7), NULL, 10);
			break;
		}
	}
	r.primary = asked;
	r.sync_names = pgq_value(res, 0, 8);
	r.primary_lsn = strtoull(pgq_value(res, 0, 9), NULL, 10);
	health.report(&r);
}

/* asks the primary, as sr_check_user, about its standbys */
static void health_sr_start(void)
{
	int primary = node_primary();

	if (health.sr_running)
		return;
	if (health.sr_node != primary)
		health_sr_drop();
	if (primary < 0)
		return;
	if (!health.sr_conn) {
		health.sr_conn = nodeconn_open(node_get(primary), NODECONN_SR,
					       nodeconn_timeout_ms(node_get(primary)),
					       health_sr_broken, NULL);
		if (!health.sr_conn)
			return;
		health.sr_node = primary;
	}
	if (pgq_query(health.sr_conn, HEALTH_SR_SQL, nodeconn_timeout_ms(node_get(primary)),
		      health_sr_done, (void *)(intptr_t)primary) == 0)
		health.sr_running = true;
}

/* checks n at once, not at its next probe: failover steps wait on it */
void health_check_now(struct node *n)
{
	struct health_node *h = &health.hn[n->id];

	if (!h->n)
		return;
	h->due = 0;
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
	evloop_wake_at(0);
}

/* per-tick hook: starts the checks that are due, and asks to run again when the next one is */
void health_maintain(void *arg)
{
	long long now = evloop_now_ms(), next = LLONG_MAX;

	(void)arg;
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct health_node *h = &health.hn[id];

		if (!h->n || h->running)
			continue;
		if (now >= h->due)
			health_start(h);
		if (!h->running && h->due < next)
			next = h->due;
	}
	/*
	 * health_sr_now() asks for one even when sr_check_period is 0 (rejoin
	 * waits on it); asked while one runs, it starts when that one is done
	 */
	if (!node_starting() && now >= health.sr_due && !health.sr_running) {
		health_sr_start();
		health.sr_due = health.cfg->sr_check_period ?
					now + health.cfg->sr_check_period * 1000LL : LLONG_MAX;
	}
	if (next != LLONG_MAX)
		evloop_wake_at(next);
}

/* every node is checked at once: the first round decides the roles */
int health_init(const struct pgxr_config *cfg, health_report_cb cb)
{
	health.cfg = cfg;
	health.report = cb;
	health.sr_node = -1;
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = node_get(id);

		if (!n)
			continue;
		health.hn[id].n = n;
		health.hn[id].due = 0;
		health.pending++;
		if (!n->cfg->hc.period)
			log_warning("node %d: health_check_period is 0: it is checked at start, then only when the proxy loses a connection to it",
				    id);
	}
	return 0;
}

void health_close(void)
{
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++)
		health_drop(&health.hn[id]);
	health_sr_drop();
}
