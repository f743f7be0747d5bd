/* switchover.c: demote the primary, wait until the candidate has replayed all of it, promote the candidate */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "event.h"
#include "evloop.h"
#include "failover.h"
#include "fence.h"
#include "follow.h"
#include "log.h"
#include "node.h"
#include "nodeconn.h"
#include "pgctl.h"
#include "pgq.h"
#include "switchover.h"

/* how long the standbys re-pointed at the candidate may take to leave the old primary */
#define SWITCHOVER_CUTOFF_MS 3000

enum switchover_step {
	SW_IDLE,
	SW_CASCADE,		/* the old primary's other standbys stream through the candidate */
	SW_DEMOTE,		/* the old primary stops taking writes: read-only, or a clean stop */
	SW_CATCHUP,		/* the candidate replays up to the old primary's last position */
	SW_PROMOTE,		/* the candidate is promoted */
	SW_UNDO,		/* it failed: the old primary takes writes again */
};

/* the one switchover that runs at a time */
static struct {
	const struct pgxr_config *cfg;
	enum switchover_step step;
	struct switchover_result r;
	long long started, deadline;
	bool read_only;		/* the old primary was made read-only: undo lifts it */
	bool cascaded[PGXR_MAX_BACKENDS];	/* re-pointed at the candidate: undo re-points them */
	int following;		/* re-pointings still running */
	long long cutoff;	/* when the re-pointed standbys must have left the old primary */
	struct pgq_conn *conn;	/* to the old primary for the cut-off, then to the candidate */
	switchover_ready_cb ready;
	switchover_cb cb;
	void *arg;
} sw;

void switchover_init(const struct pgxr_config *cfg)
{
	sw.cfg = cfg;
}

static long long switchover_ms(void)
{
	return evloop_now_ms() - sw.started;
}

static void switchover_end(void)
{
	switchover_cb cb = sw.cb;

	pgq_close(sw.conn);
	sw.conn = NULL;
	sw.step = SW_IDLE;
	cb(&sw.r, sw.arg);
}

static void switchover_undone(int status, __u64 lsn, const char *msg, void *arg)
{
	(void)lsn;
	(void)arg;
	if (status)
		event_add(sw.r.old, "switchover: could not undo the demotion: %s", msg);
	else
		event_add(sw.r.old, "switchover undone: node %d takes writes again", sw.r.old);
	switchover_end();
}

/* something failed before the candidate was promoted: the old primary goes back to work */
static void switchover_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void switchover_fail(int status, const char *fmt, ...)
{
	struct node *old = node_get(sw.r.old);
	va_list ap;
	int ret = 0;

	va_start(ap, fmt);
	vsnprintf(sw.r.msg, sizeof(sw.r.msg), fmt, ap);
	va_end(ap);
	sw.r.status = status;
	event_add(sw.r.candidate, "switchover failed: %s", sw.r.msg);
	pgq_close(sw.conn);
	sw.conn = NULL;
	sw.step = SW_UNDO;
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++)
		if (sw.cascaded[id] && node_get(id) && old)
			follow_start(node_get(id), old, sw.r.candidate, NULL, NULL);
	if (sw.r.stopped)
		ret = fence_start(old, switchover_undone, NULL);
	else if (sw.read_only)
		ret = fence_lift(old, switchover_undone, NULL);
	else
		ret = -ENOENT;
	if (ret)
		switchover_end();
}

static void switchover_promoted(int status, int id, const char *msg, void *arg)
{
	(void)arg;
	if (status) {
		switchover_fail(status, "%s", msg);
		return;
	}
	sw.r.promoted_ms = switchover_ms();
	sw.r.candidate = id >= 0 ? id : sw.r.candidate;
	switchover_end();
}

/* n streams from the old primary, as its last health check said */
static bool switchover_streams_from_old(const struct node *n)
{
	return n->pg_ok && n->pg.role == PGXR_ROLE_STANDBY &&
	       node_streams_from(&n->pg, node_get(sw.r.old));
}

/*
 * What the candidate must have replayed before its promotion: the old
 * primary's last position, and what any other standby received from it
 * (as its last health check said): a standby ahead of the new timeline's
 * fork could not follow it.
 */
static __u64 switchover_target(void)
{
	__u64 t = sw.r.lsn;

	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = node_get(id);

		if (n && id != sw.r.old && id != sw.r.candidate && switchover_streams_from_old(n) &&
		    n->pg.lsn > t)
			t = n->pg.lsn;
	}
	return t;
}

static void switchover_poll(const struct pgq_result *res, const char *err, void *arg)
{
	struct node *c = node_get(sw.r.candidate);
	__u64 at = res && !pgq_isnull(res, 0, 1) ? strtoull(pgq_value(res, 0, 1), NULL, 10) : 0;
	int ret;

	(void)arg;
	if (res && at >= sw.r.lsn && at >= switchover_target()) {
		sw.r.lsn = at;
		sw.r.caught_up_ms = switchover_ms();
		event_add(c->id, "switchover: replayed the old primary's WAL up to %X/%X in %lld ms",
			  (unsigned)(sw.r.lsn >> 32), (unsigned)sw.r.lsn,
			  sw.r.caught_up_ms - sw.r.demoted_ms);
		pgq_close(sw.conn);
		sw.conn = NULL;
		sw.step = SW_PROMOTE;
		ret = failover_promote(c->id, sw.r.old, c->pg.read_only, switchover_promoted, NULL);
		if (ret)
			switchover_fail(ret, "could not promote node %d: %s", c->id, strerror(-ret));
		return;
	}
	if (!res && pgq_broken(sw.conn)) {
		switchover_fail(-EIO, "lost the connection to node %d: %s", c->id, err);
		return;
	}
	if (evloop_now_ms() >= sw.deadline) {
		__u64 t = switchover_target();

		switchover_fail(-ETIMEDOUT,
				"node %d did not replay up to %X/%X within switchover_timeout (%d s): it is at %X/%X, %s%s",
				c->id, (unsigned)(t >> 32), (unsigned)t, sw.cfg->switchover_timeout,
				(unsigned)(at >> 32), (unsigned)at,
				c->pg.receiving ? "receiving from " : "not receiving WAL",
				c->pg.receiving ? c->pg.sender_host : "");
		return;
	}
	if (pgq_query(sw.conn, "SELECT pg_sleep(0.01), pg_last_wal_replay_lsn() - '0/0'",
		      nodeconn_timeout_ms(c), switchover_poll, NULL))
		switchover_fail(-EIO, "lost the connection to node %d", c->id);
}

static void switchover_demoted(int status, __u64 lsn, const char *msg, void *arg)
{
	struct node *c = node_get(sw.r.candidate);

	(void)arg;
	if (status) {
		switchover_fail(status, "node %d could not be demoted: %s", sw.r.old, msg);
		return;
	}
	sw.r.demoted = true;
	sw.r.demoted_ms = switchover_ms();
	/* a stopped node's position is its shutdown checkpoint: replayed, it is past it */
	sw.r.lsn = sw.r.stopped ? lsn + 1 : lsn;
	if (sw.r.stopped)
		event_add(sw.r.old, "switchover: stopped cleanly (fast); its WAL ends at %X/%X",
			  (unsigned)(lsn >> 32), (unsigned)lsn);
	else
		event_add(sw.r.old, "switchover: refuses writes (default_transaction_read_only), its client sessions ended; its WAL is at %X/%X",
			  (unsigned)(lsn >> 32), (unsigned)lsn);
	sw.step = SW_CATCHUP;
	sw.conn = nodeconn_open(c, NODECONN_HEALTH, nodeconn_timeout_ms(c), NULL, NULL);
	if (!sw.conn) {
		switchover_fail(-errno, "could not connect to node %d", c->id);
		return;
	}
	switchover_poll(NULL, NULL, NULL);
}

/* the old primary stops taking writes: ready() takes it out of routing first */
static void switchover_demote(void)
{
	struct node *o = node_get(sw.r.old);
	struct pgctl_dir dir;
	char err[256];
	int ret;

	pgq_close(sw.conn);
	sw.conn = NULL;
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++)
		sw.r.cascaded += sw.cascaded[id];
	ret = sw.ready(&sw.r, sw.arg);
	if (ret) {
		switchover_fail(ret, "node %d could not be taken out of routing", sw.r.old);
		return;
	}
	sw.step = SW_DEMOTE;
	sw.r.stopped = pgctl_local(o, o->pg.version_num, &dir, err, sizeof(err));
	if (sw.r.stopped) {
		ret = fence_stop(o, switchover_demoted, NULL);
	} else {
		sw.read_only = true;
		ret = fence_read_only(o, node_get(sw.r.candidate), switchover_demoted, NULL);
	}
	if (ret)
		switchover_fail(ret, "node %d could not be demoted: %s", sw.r.old, strerror(-ret));
}

/* the re-pointed standbys' walsenders on the old primary are gone: they reconnected upstream */
static void switchover_cutoff_poll(const struct pgq_result *res, const char *err, void *arg)
{
	struct node *o = node_get(sw.r.old);
	char sql[128 + PGXR_MAX_BACKENDS * (ADDR_STRLEN + 10)], addr[ADDR_STRLEN];
	size_t len;

	(void)arg;
	if (res && !strcmp(pgq_value(res, 0, 0), "0")) {
		switchover_demote();
		return;
	}
	if (!res && sw.conn && pgq_broken(sw.conn)) {
		switchover_fail(-EIO, "lost the connection to node %d: %s", o->id, err);
		return;
	}
	/* an answer that never comes down to 0, or a query that fails, ends at the cut-off too */
	if (evloop_now_ms() >= sw.cutoff) {
		event_add(o->id, "switchover: standbys re-pointed at node %d still stream from it after %d ms: their walsenders will be ended",
			  sw.r.candidate, SWITCHOVER_CUTOFF_MS);
		switchover_demote();
		return;
	}
	len = (size_t)snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_replication%s "
			       "WHERE client_addr IN (", res ? ", pg_sleep(0.01)" : "");
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++)
		if (sw.cascaded[id])
			len += (size_t)snprintf(sql + len, sizeof(sql) - len, "'%s'::inet,",
						addr_format(&node_get(id)->cfg->addr, addr,
							    sizeof(addr)));
	sql[len - 1] = ')';
	if (pgq_query(sw.conn, sql, nodeconn_timeout_ms(o), switchover_cutoff_poll, NULL))
		switchover_fail(-EIO, "lost the connection to node %d", o->id);
}

/* a standby of the old primary was re-pointed at the candidate (or could not be) */
static void switchover_cascaded(int standby, int status, void *arg)
{
	bool any = false;

	(void)arg;
	if (standby >= 0 && status) {
		sw.cascaded[standby] = false;
		event_add(standby, "switchover: it still streams from node %d: its walsender there will be ended",
			  sw.r.old);
	}
	if (--sw.following > 0 || sw.step != SW_CASCADE)
		return;
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++)
		any |= sw.cascaded[id];
	if (!any) {
		switchover_demote();
		return;
	}
	sw.cutoff = evloop_now_ms() + SWITCHOVER_CUTOFF_MS;
	sw.conn = nodeconn_open(node_get(sw.r.old), NODECONN_HEALTH,
				nodeconn_timeout_ms(node_get(sw.r.old)), NULL, NULL);
	if (!sw.conn) {
		switchover_fail(-errno, "could not connect to node %d", sw.r.old);
		return;
	}
	switchover_cutoff_poll(NULL, NULL, NULL);
}

/*
 * The old primary writes WAL after its demotion (checkpoints, autovacuum,
 * standby snapshots), and a standby whose walsender is ended reconnects
 * at once: a standby streaming from it could get WAL that the candidate
 * never had, and then follow no one.  So, before the demotion, its other
 * standbys stream through the candidate (cascading), which they follow
 * across its promotion; they never get ahead of it.
 */
static void switchover_cascade(void)
{
	struct node *c = node_get(sw.r.candidate);

	sw.step = SW_CASCADE;
	sw.following = 1;	/* held until every job started: one may end at once */
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = node_get(id);

		if (!sw.cfg->follow_primary || !n || id == sw.r.old || id == sw.r.candidate ||
		    n->state == PGXR_BE_FENCED || !switchover_streams_from_old(n))
			continue;
		sw.cascaded[id] = true;
		sw.following++;
		if (follow_upstream(n, c, switchover_cascaded, NULL)) {
			sw.cascaded[id] = false;
			sw.following--;
		}
	}
	switchover_cascaded(-1, 0, NULL);
}

/*
 * Starts the switchover from old to candidate.  The old primary's other
 * standbys are re-pointed at the candidate; then ready() takes old out of
 * routing, and old stops taking writes: with its data directory on this
 * host by a clean stop, else over SQL (read-only, client sessions
 * ended).  Then candidate replays up to old's last position (bounded by
 * switchover_timeout) and is promoted.  On failure old is started again
 * or made writable again, and the standbys follow it again, before cb.
 */
int switchover_start(int old, int candidate, switchover_ready_cb ready, switchover_cb cb,
		     void *arg)
{
	if (sw.step != SW_IDLE)
		return -EBUSY;
	memset(&sw.r, 0, sizeof(sw.r));
	memset(sw.cascaded, 0, sizeof(sw.cascaded));
	sw.r.old = old;
	sw.r.candidate = candidate;
	sw.ready = ready;
	sw.cb = cb;
	sw.arg = arg;
	sw.read_only = false;
	sw.started = evloop_now_ms();
	sw.deadline = sw.started + sw.cfg->switchover_timeout * 1000LL;
	switchover_cascade();
	return 0;
}
