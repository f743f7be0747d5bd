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
#include "log.h"
#include "node.h"
#include "nodeconn.h"
#include "pgctl.h"
#include "pgq.h"
#include "switchover.h"

enum switchover_step {
	SW_IDLE,
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
	struct pgq_conn *conn;	/* to the candidate, for the catch-up */
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

/*
 * What the candidate must have replayed before its promotion: the old
 * primary's last position, and what any other standby received from it
 * (as its last health check said): a standby ahead of the new timeline's
 * fork could not follow it.
 */
static __u64 switchover_target(void)
{
	struct node *o = node_get(sw.r.old);
	char addr[ADDR_STRLEN];
	__u64 t = sw.r.lsn;

	addr_format(&o->cfg->addr, addr, sizeof(addr));
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = node_get(id);

		if (!n || id == sw.r.old || id == sw.r.candidate || !n->pg_ok ||
		    n->pg.role != PGXR_ROLE_STANDBY)
			continue;
		if ((!strcmp(n->pg.sender_host, o->cfg->hostname) || !strcmp(n->pg.sender_host, addr)) &&
		    n->pg.lsn > t)
			t = n->pg.lsn;
	}
	return t;
}

static void switchover_poll(const PGresult *res, const char *err, void *arg)
{
	struct node *c = node_get(sw.r.candidate);
	__u64 at = res && !PQgetisnull(res, 0, 1) ? strtoull(PQgetvalue(res, 0, 1), NULL, 10) : 0;
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

/*
 * Starts the switchover from old to candidate; the caller has already
 * stopped routing new sessions to old.  old stops taking writes: with its
 * data directory on this host by a clean stop, else over libpq
 * (read-only, client sessions ended).  Then candidate replays up to old's
 * last position (bounded by switchover_timeout) and is promoted.  On
 * failure old is started again or made writable again before cb.
 */
int switchover_start(int old, int candidate, switchover_cb cb, void *arg)
{
	struct node *o = node_get(old);
	struct pgctl_dir dir;
	char err[256];
	int ret;

	if (sw.step != SW_IDLE)
		return -EBUSY;
	memset(&sw.r, 0, sizeof(sw.r));
	sw.r.old = old;
	sw.r.candidate = candidate;
	sw.cb = cb;
	sw.arg = arg;
	sw.read_only = false;
	sw.started = evloop_now_ms();
	sw.deadline = sw.started + sw.cfg->switchover_timeout * 1000LL;
	sw.step = SW_DEMOTE;
	sw.r.stopped = pgctl_local(o, o->pg.version_num, &dir, err, sizeof(err));
	if (sw.r.stopped) {
		ret = fence_stop(o, switchover_demoted, NULL);
	} else {
		sw.read_only = true;
		ret = fence_read_only(o, node_get(candidate), switchover_demoted, NULL);
	}
	if (ret) {
		sw.step = SW_IDLE;
		return ret;
	}
	return 0;
}
