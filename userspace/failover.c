/* failover.c: picks and promotes a standby, fences the old primary, re-points the others */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "event.h"
#include "evloop.h"
#include "failover.h"
#include "follow.h"
#include "health.h"
#include "log.h"
#include "node.h"
#include "pgq.h"
#include "pgtext.h"
#include "proc.h"

/* how long a promotion may take, in seconds */
#define FAILOVER_PROMOTE_WAIT 60

enum failover_phase {
	FO_IDLE,
	FO_COLLECT,		/* asking the standbys how far they are */
	FO_PROMOTE,		/* pg_promote() or failover_command running */
	FO_WAIT_PRIMARY,	/* promoted: waiting for a health check to see it */
};

struct failover_candidate {
	struct pgq_conn *conn;
	bool shared;		/* conn is the node's health connection: not ours to close */
	bool asked, answered;
	__u64 lsn;
};

/* the one failover or switchover that can run at a time */
static struct {
	const struct pgxr_config *cfg;
	enum failover_phase phase;
	bool waiting;		/* no standby to promote: start again when one is up */
	long long confirming;	/* a standby is up: the old primary's check begun after this decides */
	bool switchover;
	int old;		/* the primary being replaced */
	int candidate;
	char reason[256];
	long long started, deadline;
	struct failover_candidate cand[PGXR_MAX_BACKENDS];
	int outstanding;
	struct pgq_conn *promote_conn;
	struct ctl_client *waiter;	/* a "node promote" waiting for the outcome */
	unsigned generation;		/* ties a failover_command's exit to its failover */
	long long promoted;		/* when pg_promote() was first sent */
	long long nudged;		/* when it was last sent */
	long long nudge_logged;		/* when a re-send was last logged */
	long long retry_at;		/* a failed failover is tried again then */
} fo = { .old = -1, .candidate = -1 };

/* a failed failover is tried again this long after */
#define FAILOVER_RETRY_MS 5000

void failover_init(const struct pgxr_config *cfg)
{
	fo.cfg = cfg;
}

bool failover_active(void)
{
	return fo.phase != FO_IDLE;
}

const char *failover_status(void)
{
	switch (fo.phase) {
	case FO_COLLECT:
		return "failover: choosing a standby";
	case FO_PROMOTE:
		return "failover: promoting";
	case FO_WAIT_PRIMARY:
		return "failover: waiting for the new primary";
	default:
		if (fo.confirming)
			return "failover: a standby is up; checking the primary once more";
		return fo.waiting ? "failover: waiting for a standby to promote" : "idle";
	}
}

static void failover_end(const char *error)
{
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		if (!fo.cand[id].shared)
			pgq_close(fo.cand[id].conn);
		fo.cand[id] = (struct failover_candidate){};
	}
	pgq_close(fo.promote_conn);
	fo.promote_conn = NULL;
	fo.phase = FO_IDLE;
	if (fo.waiter) {
		ctl_reply(fo.waiter, error ? CTL_ERROR : CTL_OK, error ? error : "");
		fo.waiter = NULL;
	}
}

static void failover_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void failover_fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	event_add(-1, "%s failed: %s%s", fo.switchover ? "switchover" : "failover", msg,
		  fo.switchover ? "" : "; trying again in 5 s");
	/* the primary is still lost: keep trying, a standby may answer next time */
	if (!fo.switchover) {
		fo.waiting = true;
		fo.retry_at = evloop_now_ms() + FAILOVER_RETRY_MS;
	}
	failover_end(msg);
}

static void failover_var(struct pgtext_node *v, int id)
{
	const struct node *n = node_get(id);

	v->id = n ? id : -1;
	v->host = n ? n->cfg->hostname : NULL;
	v->port = n ? n->cfg->port : 0;
	v->data_dir = n ? n->cfg->data_directory : NULL;
}

/*
 * A command line from a template with pgpool's placeholders; in streaming
 * replication the main node is the primary, so %M is the old primary too.
 */
int failover_command_line(const char *tmpl, int failed, int new_main, int old_primary, char *out,
			  size_t len)
{
	struct pgtext_vars v;

	failover_var(&v.failed, failed);
	failover_var(&v.new_main, new_main);
	failover_var(&v.old_main, old_primary);
	failover_var(&v.old_primary, old_primary);
	return pgtext_expand(tmpl, &v, out, len);
}

static void failover_complete(struct node *n);

/* re-send the promote request this often while the candidate stays in recovery */
#define FAILOVER_NUDGE_MS 50

/*
 * pg_promote(true) looks every 100 ms whether promotion is done; asking
 * ourselves, with a 10 ms sleep on the server between looks, ends the
 * wait closer to the moment it happens.
 *
 * PostgreSQL 15's startup process can take a promote request that lands
 * just as its walreceiver dies, then sleep wal_retrieve_retry_interval
 * (5 s) before acting on it.  Another pg_promote() sets its latch again,
 * so every FAILOVER_NUDGE_MS the look re-sends the request.  A nudge may
 * race the end of recovery ("recovery is not in progress"): such an
 * error only means looking again.
 */
static void failover_poll(const PGresult *res, const char *err, void *arg)
{
	bool nudge;
	const char *sql;

	(void)arg;
	if (res && !strcmp(PQgetvalue(res, 0, 1), "f")) {
		failover_complete(node_get(fo.candidate));
		return;
	}
	if (!res && pgq_broken(fo.promote_conn)) {
		failover_fail("waiting for node %d to promote: %s", fo.candidate, err);
		return;
	}
	if (evloop_now_ms() >= fo.deadline) {
		failover_fail("node %d did not leave recovery in time", fo.candidate);
		return;
	}
	nudge = evloop_now_ms() - fo.nudged >= FAILOVER_NUDGE_MS;
	if (nudge) {
		fo.nudged = evloop_now_ms();
		/* the first nudge, then one line a second */
		if (fo.nudged - fo.nudge_logged >= 1000) {
			fo.nudge_logged = fo.nudged;
			log_info("node %d is still in recovery %lld ms after pg_promote(); asking again",
				 fo.candidate, fo.nudged - fo.promoted);
		}
	}
	sql = nudge ? "SELECT CASE WHEN pg_is_in_recovery() THEN pg_promote(false) END, "
		      "pg_is_in_recovery()" :
		      "SELECT pg_sleep(0.01), pg_is_in_recovery()";
	if (pgq_query(fo.promote_conn, sql, fo.cfg->health_check_timeout * 1000, failover_poll,
		      NULL))
		failover_fail("lost the connection to node %d", fo.candidate);
}

static void failover_promoted(const PGresult *res, const char *err, void *arg)
{
	(void)arg;
	if (!res || strcmp(PQgetvalue(res, 0, 0), "t")) {
		failover_fail("pg_promote() on node %d: %s", fo.candidate,
			      err ? err : "refused to promote");
		return;
	}
	fo.nudged = fo.promoted = evloop_now_ms();
	fo.nudge_logged = 0;
	failover_poll(res, NULL, NULL);
}

static void failover_command_done(int status, void *arg)
{
	/* a command that outlived its failover must not decide the next one */
	if (fo.phase != FO_PROMOTE || (uintptr_t)arg != fo.generation)
		return;
	if (status) {
		failover_fail("failover_command exited with status %d", status);
		return;
	}
	/* the command may have promoted any standby: whichever reports primary wins */
	fo.phase = FO_WAIT_PRIMARY;
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++)
		if (node_get(id))
			health_check_now(node_get(id));
}

static void failover_promote(void)
{
	struct node *c = node_get(fo.candidate);
	char sql[64];
	int ret;

	fo.generation++;
	fo.phase = FO_PROMOTE;
	fo.deadline = evloop_now_ms() + (FAILOVER_PROMOTE_WAIT + 10) * 1000LL;
	if (fo.cfg->failover_command[0]) {
		char cmd[2048];

		if (failover_command_line(fo.cfg->failover_command, fo.old, fo.candidate, fo.old, cmd,
					  sizeof(cmd))) {
			failover_fail("failover_command is too long once expanded");
			return;
		}
		ret = proc_shell("failover_command", cmd, failover_command_done,
				 (void *)(uintptr_t)fo.generation);
		if (ret < 0)
			failover_fail("could not run failover_command: %s", strerror(-ret));
		return;
	}
	fo.promote_conn = health_connect(c, fo.cfg->health_check_user, fo.cfg->health_check_password,
					 fo.cfg->health_check_database, NULL, NULL);
	/* the second column keeps failover_poll()'s shape: "t" means still in recovery */
	snprintf(sql, sizeof(sql), "SELECT pg_promote(false), 't'");
	ret = fo.promote_conn ? pgq_query(fo.promote_conn, sql, fo.cfg->health_check_timeout * 1000,
					  failover_promoted, NULL) : -errno;
	if (ret)
		failover_fail("could not ask node %d to promote: %s", fo.candidate, strerror(-ret));
}

/* every standby answered or gave up: the furthest one, lowest id on ties */
static void failover_choose(void)
{
	int best = -1, asked = 0;

	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct failover_candidate *c = &fo.cand[id];

		asked += c->asked;
		if (c->answered && (best < 0 || c->lsn > fo.cand[best].lsn))
			best = id;
	}
	if (best < 0) {
		fo.phase = FO_IDLE;
		fo.waiting = true;
		fo.retry_at = evloop_now_ms() + FAILOVER_RETRY_MS;
		event_add(-1, "failover: none of %d standby(s) answered; trying again in 5 s", asked);
		return;
	}
	fo.candidate = best;
	event_add(best, "chosen for promotion: WAL position %" PRIu64 " bytes, the furthest of %d standby(s)",
		  (uint64_t)fo.cand[best].lsn, asked);
	failover_promote();
}

static void failover_lsn_done(const PGresult *res, const char *err, void *arg)
{
	struct failover_candidate *c = arg;
	int id = c - fo.cand;

	if (res && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		c->answered = true;
		c->lsn = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	} else {
		log_warning("failover: node %d did not tell its WAL position: %s", id,
			    err ? err : "no position");
	}
	if (!c->shared)
		pgq_close(c->conn);
	c->conn = NULL;
	if (--fo.outstanding == 0 && fo.phase == FO_COLLECT)
		failover_choose();
}

/*
 * The primary is lost (old).  The standbys that are up say how much WAL
 * they have (received or replayed: promotion replays all of it), and the
 * furthest is promoted.
 */
void failover_start(struct node *old, const char *why)
{
	if (fo.phase != FO_IDLE) {
		log_info("failover already running (%s)", failover_status());
		return;
	}
	if (!fo.waiting || fo.old != old->id)
		event_add(old->id, "failover: %s", why);
	snprintf(fo.reason, sizeof(fo.reason), "%s", why);
	fo.waiting = false;
	fo.confirming = 0;
	fo.switchover = false;
	fo.old = old->id;
	fo.candidate = -1;
	fo.started = evloop_now_ms();
	fo.deadline = fo.started + fo.cfg->health_check_timeout * 1000LL + 1000;
	fo.phase = FO_COLLECT;
	fo.outstanding = 0;
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = node_get(id);
		struct failover_candidate *c = &fo.cand[id];

		*c = (struct failover_candidate){};
		if (!n || id == old->id || n->state != PGXR_BE_UP || n->role != PGXR_ROLE_STANDBY ||
		    n->admin_down || !n->pg_ok)
			continue;
		/* the health connection saves a connection set-up in the failover's path */
		c->conn = health_conn(n);
		c->shared = c->conn != NULL;
		if (!c->conn)
			c->conn = health_connect(n, fo.cfg->health_check_user,
						 fo.cfg->health_check_password,
						 fo.cfg->health_check_database, NULL, NULL);
		if (!c->conn)
			continue;
		if (pgq_query(c->conn,
			      "SELECT GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) - '0/0'",
			      fo.cfg->health_check_timeout * 1000, failover_lsn_done, c)) {
			if (!c->shared)
				pgq_close(c->conn);
			c->conn = NULL;
			continue;
		}
		c->asked = true;
		fo.outstanding++;
	}
	if (!fo.outstanding) {
		fo.phase = FO_IDLE;
		fo.waiting = true;
		fo.retry_at = 0;	/* failover_standby_up() starts it again */
		event_add(-1, "failover: no standby is up to promote; waiting for one");
	}
}

/* a failover waiting for a standby, or to retry, still has a primary to replace */
static bool failover_still_needed(void)
{
	struct node *old = node_get(fo.old);
	int p = node_primary();

	if (!old || (p >= 0 && p != fo.old))
		return false;
	return p < 0 || old->state != PGXR_BE_UP || !old->pg_ok;
}

/*
 * A standby became available: a failover that found none goes on, once
 * the old primary fails a check made now.  It was found down while no
 * standby answered either, and then pgxrd itself may have been the one cut
 * off (its network, a wrong password): the standbys coming back may mean
 * the primary is back too.
 */
void failover_standby_up(void)
{
	struct node *old;

	if (!fo.waiting || fo.phase != FO_IDLE || fo.confirming)
		return;
	if (!failover_still_needed()) {
		fo.waiting = false;
		return;
	}
	old = node_get(fo.old);
	fo.confirming = evloop_now_ms();
	fo.retry_at = 0;	/* the check decides, not a timer */
	event_add(old->id, "failover: a standby is up; checking the primary once more first");
	health_check_now(old);
}

/*
 * A check of n begun at started is over.  If n is the old primary and the
 * check began after a standby came back, it decides a confirming failover:
 * a primary that answered and was routed again has called it off already
 * (failover_primary_back()); otherwise (no answer, or an answer that does
 * not make it the primary again) the failover goes on.
 */
void failover_primary_checked(struct node *n, long long started)
{
	if (!fo.confirming || n->id != fo.old || started < fo.confirming)
		return;
	fo.confirming = 0;
	if (failover_still_needed())
		failover_start(n, fo.reason);
	else
		fo.waiting = false;
}

/* a primary answers and is routed (the lost one, or another): a waiting failover is called off */
void failover_primary_back(struct node *n)
{
	if (fo.waiting && fo.phase == FO_IDLE && !fo.switchover) {
		fo.waiting = false;
		fo.confirming = 0;
		if (n->id == fo.old)
			event_add(n->id, "failover called off: the primary is back");
		else
			event_add(n->id, "failover called off: node %d is the primary", n->id);
	}
}

/*
 * While a failover runs, n reports primary.  The old primary coming back
 * is fenced; any other node is the promoted one (with failover_command it
 * may not be the candidate pgxr named).
 */
void failover_primary_seen(struct node *n)
{
	if (n->id == fo.old) {
		node_fence(n, "the old primary came back during a failover");
		return;
	}
	if (fo.phase == FO_COLLECT || (!fo.cfg->failover_command[0] && n->id != fo.candidate)) {
		node_fence(n, "claims to be primary during a failover it was not chosen for");
		return;
	}
	failover_complete(n);
}

/* n is out of recovery: route it, fence the old primary, let the others follow */
static void failover_complete(struct node *n)
{
	long long took = evloop_now_ms() - fo.started;

	node_make_primary(n, fo.switchover ? "promoted by a switchover" : "promoted by a failover");
	event_add(-1, "%s complete: node %d is the primary, %lld ms after it started",
		  fo.switchover ? "switchover" : "failover", n->id, took);
	if (fo.cfg->follow_primary) {
		for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
			struct node *s = node_get(id);

			if (s && s != n && s->pg_ok && s->role == PGXR_ROLE_STANDBY &&
			    s->state != PGXR_BE_FENCED)
				follow_primary(s, n);
		}
	}
	fo.waiting = false;
	fo.confirming = 0;
	failover_end(NULL);
	/* its timeline, for the next "which primary wins" */
	health_check_now(n);
	health_sr_now();
}

/* per-tick hook: a failover that takes too long is given up; a failed one retried */
void failover_maintain(void *arg)
{
	(void)arg;
	if (fo.phase == FO_IDLE && fo.waiting && fo.retry_at && evloop_now_ms() >= fo.retry_at) {
		fo.retry_at = 0;
		if (failover_still_needed())
			failover_start(node_get(fo.old), fo.reason);
		else
			fo.waiting = false;
		return;
	}
	if (fo.phase == FO_IDLE || evloop_now_ms() < fo.deadline)
		return;
	if (fo.phase == FO_COLLECT)
		failover_choose();
	else
		failover_fail("node %d did not become primary in time", fo.candidate);
}

/* "node promote ID": promote a standby while the primary runs, fence the old one */
int failover_switchover(int id, struct ctl_client *waiter, char *err, size_t len)
{
	struct node *n = node_get(id);

	if (!n) {
		snprintf(err, len, "node %d is not configured", id);
		return -ENOENT;
	}
	if (fo.phase != FO_IDLE) {
		snprintf(err, len, "a failover is running (%s)", failover_status());
		return -EBUSY;
	}
	if (node_starting()) {
		snprintf(err, len, "pgxrd is starting: its first health checks have not answered yet");
		return -EAGAIN;
	}
	if (n->role != PGXR_ROLE_STANDBY || n->state != PGXR_BE_UP || !n->pg_ok) {
		snprintf(err, len, "node %d is not a standby that is up (it is %s %s)", id,
			 dataplane_role_name(n->role), node_state_name(n));
		return -EINVAL;
	}
	event_add(id, "switchover requested by an operator");
	fo.switchover = true;
	fo.waiting = false;
	fo.confirming = 0;
	fo.old = node_primary();
	fo.candidate = id;
	fo.started = evloop_now_ms();
	fo.waiter = waiter;
	failover_promote();
	return 0;
}
