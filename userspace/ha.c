/*
 * ha.c: the HA policy, the one place that decides.  Health checks report
 * here; from what they saw, and what the store knows, this file alone
 * decides who is primary, when a failover starts or is called off, who
 * may be promoted, what a false primary gets, and when a standby is
 * attached again.  The machines it drives (failover, switchover, follow,
 * rejoin, fence, syncrep) only do what they are told and report back.
 */
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
#include "ha.h"
#include "health.h"
#include "log.h"
#include "node.h"
#include "pgq.h"
#include "rejoin.h"
#include "switchover.h"
#include "syncrep.h"

/* a failover that found nobody to promote, or failed, looks again this long after */
#define HA_RETRY_MS 5000
/* while a rejoined node is awaited, replication checks this often */
#define HA_REJOIN_SR_MS 100

enum ha_phase {
	HA_STARTING,		/* the first health round is not in */
	HA_IDLE,
	HA_SURVEY,		/* the primary is lost: asking the standbys (it is still routed) */
	HA_PROMOTE,		/* promoting the candidate (the old primary is out of routing) */
	HA_WAIT_PRIMARY,	/* failover_command exited: waiting for a node to report primary */
	HA_WAITING,		/* nobody may be promoted: waiting for a standby, or the primary */
	HA_SWITCHOVER,		/* an operator's switchover */
};

/* what the primary's last replication checks said of synchronous replication */
struct ha_sync {
	int primary;		/* the node they were asked of; -1 none */
	bool required;		/* its synchronous_standby_names is set: commits wait for standbys */
	bool quorum;		/* ANY: a member alone may lack what another confirmed */
	bool member[PGXR_MAX_BACKENDS];	/* sync or quorum at the last check */
	__u64 confirmed;	/* the furthest position a member confirmed (written) */
	char names[1024];	/* synchronous_standby_names as last seen */
};

/* what an operator's promote turned into, for its reply */
enum ha_op {
	HA_OP_NONE,
	HA_OP_FAILOVER,		/* a failover to the node asked for */
	HA_OP_SWITCHOVER,	/* a switchover, and the old primary's rejoin */
	HA_OP_MOVE,		/* --force on a node that already is a primary */
};

/* the policy's state: the one operation in progress, and what it needs to finish */
static struct {
	const struct pgxr_config *cfg;
	enum ha_phase phase;
	int old;		/* the primary being replaced */
	int candidate;
	char reason[256];	/* why the failover */
	long long started;	/* monotonic ms the failover or switchover began */
	long long silent_since;	/* the old primary's silence began (monotonic ms) */
	bool timed_out;		/* ... with a timeout rather than a refusal or a reset */
	bool answered;		/* ... and it answered with an error */
	bool operator;		/* an operator's detach or promote: the standbys are not asked if it lives */
	bool certain;		/* the primary is known not to be one (it is in recovery): no witness */
	bool tried[PGXR_MAX_BACKENDS];	/* promotion was asked of it in this failover */
	int want;		/* the node an operator asked to promote, -1 none */
	bool force;		/* ... whatever the rules say */
	bool vetoed;		/* the standbys said the primary lives: said once per outage */
	long long retry_at;	/* HA_WAITING: look again then (0: when a standby comes back) */
	long long confirming;	/* HA_WAITING: a standby came back; a check of the old primary begun after decides */
	long long wait_deadline;	/* HA_WAIT_PRIMARY: search_primary_node_timeout */
	bool ambiguous;		/* several primaries at start: none routed until an operator picks */
	struct ha_sync sync;
	bool fence_ran[PGXR_MAX_BACKENDS];	/* fence_command ran for the node's current fence */
	bool fencing[PGXR_MAX_BACKENDS];	/* its read-only fence is being applied */
	/* the operator waiting for a promote, and what to tell */
	ha_done_cb done;
	void *done_arg;
	enum ha_op done_op;
	char report[1536];
	long long refused_at;	/* a switchover stopped routing writes then */
	long long refused_ms;
	/* an operator waiting for a rejoin */
	ha_done_cb rejoin_done;
	void *rejoin_arg;
	char status[256];
	long long rejoin_sr_at;	/* the last replication check asked for a waiting rejoin */
} ha = { .old = -1, .candidate = -1, .want = -1, .sync = { .primary = -1 } };

static void ha_failover_begin(struct node *old, const char *why);
static void ha_promote_candidate(int id, bool reset_read_only);

void ha_init(const struct pgxr_config *cfg)
{
	ha.cfg = cfg;
	ha.phase = HA_STARTING;
}

static long long ha_now(void)
{
	return evloop_now_ms();
}

static void ha_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* one line of the promote reply */
static void ha_report(const char *fmt, ...)
{
	size_t n = strlen(ha.report);
	va_list ap;

	if (n + 2 >= sizeof(ha.report))
		return;
	va_start(ap, fmt);
	vsnprintf(ha.report + n, sizeof(ha.report) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(ha.report);
	ha.report[n] = '\n';
	ha.report[n + 1] = '\0';
}

/*
 * The operator waiting for a promote hears how it ended, once, and only
 * from the operation it asked for (op): a failover that starts on its own
 * meanwhile does not answer for it.
 */
static void ha_reply(enum ha_op op, int status, const char *msg)
{
	ha_done_cb cb = ha.done;

	if (!cb || ha.done_op != op)
		return;
	ha.done = NULL;
	ha.done_op = HA_OP_NONE;
	cb(status, status ? msg : ha.report, ha.done_arg);
}

static void ha_fence_done(int status, __u64 lsn, const char *msg, void *arg)
{
	int id = (intptr_t)arg;

	(void)lsn;
	ha.fencing[id] = false;
	if (status)
		event_add(id, "fence: could not make it refuse writes: %s", msg);
	else
		event_add(id, "fence: it refuses writes now (default_transaction_read_only), its client sessions ended");
}

static void ha_fence_command_done(int status, __u64 lsn, const char *msg, void *arg)
{
	(void)lsn;
	if (status)
		event_add((intptr_t)arg, "fence: %s", msg);
	else
		event_add((intptr_t)arg, "fence: fence_command done");
}

/*
 * n must never be routed again until it is rejoined: fenced in the maps
 * (its flows get RSTs), fence_command run when configured, and made
 * read-only as soon as it answers (ha_fenced_answers()).
 */
static void ha_fence(struct node *n, __u8 role, int primary, const char *why)
{
	int ret;

	if (node_apply(n, PGXR_BE_FENCED, role, why))
		return;
	node_set_note(n, "fenced: %s; pgxrctl node rejoin %d makes it a standby", why, n->id);
	if (!ha.cfg->fence_command[0] || ha.fence_ran[n->id])
		return;
	ha.fence_ran[n->id] = true;
	ret = fence_command(n, primary, ha_fence_command_done, (void *)(intptr_t)n->id);
	if (ret)
		event_add(n->id, "fence: could not run fence_command: %s", strerror(-ret));
}

/* a fenced node that answers as a primary is made read-only, once per fence */
static void ha_fenced_answers(struct node *n)
{
	if (n->pg.role != PGXR_ROLE_PRIMARY || n->pg.read_only || n->read_only_set ||
	    ha.fencing[n->id])
		return;
	ha.fencing[n->id] = true;
	if (fence_read_only(n, NULL, ha_fence_done, (void *)(intptr_t)n->id))
		ha.fencing[n->id] = false;
}

/* a node attached or rejoined: its next fence starts afresh */
static void ha_unfence(struct node *n)
{
	ha.fence_ran[n->id] = false;
	n->note[0] = '\0';
}

/* ---- synchronous replication ---- */

/* synchronous_standby_names when pgxr manages it: ANY 1 of the standbys named */
static void ha_sync_names(const bool *take, char *out, size_t len)
{
	size_t n = 0;
	int count = 0;

	out[0] = '\0';
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		const struct node *s = node_get(id);

		if (!s || !take[id] || !s->repl.app_name[0] || n + 80 >= len)
			continue;
		n += snprintf(out + n, len - n, "%s\"%s\"", count++ ? ", " : "ANY 1 (",
			      s->repl.app_name);
	}
	if (count)
		snprintf(out + n, len - n, ")");
	else if (ha.cfg->synchronous_mode == SYNC_MODE_STRICT)
		snprintf(out, len, "*");
}

/* keeps the primary's synchronous_standby_names over the healthy streaming standbys */
static void ha_sync_manage(struct node *p, bool after_promotion)
{
	bool take[PGXR_MAX_BACKENDS] = { false };
	char names[1024];

	if (ha.cfg->synchronous_mode == SYNC_MODE_OFF)
		return;
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		const struct node *s = node_get(id);

		/* after a promotion nobody streams yet: the standbys that will follow count */
		take[id] = s && s != p && s->role == PGXR_ROLE_STANDBY && s->state == PGXR_BE_UP &&
			   !s->admin_down && (after_promotion || s->streaming);
	}
	ha_sync_names(take, names, sizeof(names));
	if (!after_promotion && ha.sync.primary == p->id && !strcmp(names, ha.sync.names))
		return;
	syncrep_set(p, names);
}

/* ---- routing the primary ---- */

/* a standby that could not follow the primary is pointed at it again at the next replication check */
static void ha_followed(int standby, int status, void *arg)
{
	struct node *s = node_get(standby);

	(void)arg;
	if (status && s)
		s->followed = -1;
}

/* n is the primary now: routed, the others follow it */
static void ha_promoted(struct node *n)
{
	struct node *old = node_get(ha.old);
	char why[160];
	long long took = ha_now() - ha.started;

	if (old && old != n && old->state != PGXR_BE_FENCED) {
		snprintf(why, sizeof(why), "node %d is the primary now", n->id);
		/* a planned switchover is no reason for STONITH */
		if (ha.phase == HA_SWITCHOVER)
			ha.fence_ran[old->id] = true;
		ha_fence(old, PGXR_ROLE_PRIMARY, n->id, why);
	}
	n->lagging = false;
	n->lag_ok = 0;
	n->streaming = false;
	/* its promotion lifted any read-only setting pgxr had left on it */
	n->read_only_set = false;
	memset(&n->repl, 0, sizeof(n->repl));
	n->repl.lag_bytes = n->repl.lag_ms = -1;
	ha_unfence(n);
	if (node_apply(n, PGXR_BE_UP, PGXR_ROLE_PRIMARY,
		       ha.phase == HA_SWITCHOVER ? "promoted by a switchover" : "promoted by a failover")) {
		event_add(n->id, "promoted, but could not be routed: see the log");
		return;
	}
	event_add(-1, "%s complete: node %d is the primary, %lld ms after it started",
		  ha.phase == HA_SWITCHOVER ? "switchover" : "failover", n->id, took);
	ha.sync.primary = -1;
	ha.vetoed = false;
	ha_sync_manage(n, true);
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *s = node_get(id);

		if (!s || s == n || s == old || !s->pg_ok || s->role != PGXR_ROLE_STANDBY ||
		    s->state == PGXR_BE_FENCED)
			continue;
		if (!ha.cfg->follow_primary)
			continue;
		if (follow_start(s, n, ha.old, ha_followed, NULL))
			event_add(id, "could not follow node %d", n->id);
	}
	health_check_now(n);
	health_sr_now();
}

/* no failover running any more */
static void ha_idle(void)
{
	ha.phase = HA_IDLE;
	ha.confirming = 0;
	ha.retry_at = 0;
	ha.operator = false;
	ha.certain = false;
	ha.want = -1;
	ha.force = false;
	ha.status[0] = '\0';
}

/* a failover an operator asked for is called off: the operator hears why */
static void ha_call_off(const char *why)
{
	ha_reply(HA_OP_FAILOVER, -ECANCELED, why);
	ha_idle();
}

/* ---- failover ---- */

/*
 * An error that says the server is going away (57P01 admin shutdown,
 * 57P02 crash shutdown, 57P03 starting or stopping) is no sign that it
 * will stay: it counts as no answer.
 */
static bool ha_going_away(const char *err)
{
	char code[6];

	return pgq_error_sqlstate(err, code) && !strncmp(code, "57P", 3);
}

/*
 * Who may be promoted, from the survey: a standby that answered; when the
 * primary had synchronous standbys, only one of them (all of a quorum
 * answered, or a sync standby) or one that has at least what they
 * confirmed; else one within maximum_lag_on_failover of the primary's
 * last position.  The furthest wins, the lowest id on ties.  why tells
 * the operator why nobody may be, when nobody may.
 */
static int ha_choose(const struct failover_position *pos, char *why, size_t len)
{
	const struct node *old = node_get(ha.old);
	const struct ha_sync *sy = &ha.sync;
	bool sync = sy->primary == ha.old && sy->required;
	bool quorum_whole = true;
	int best = -1, answered = 0, missing = -1;
	size_t w = 0;

	why[0] = '\0';
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		if (sync && sy->member[id] && !pos[id].answered) {
			quorum_whole = false;
			if (missing < 0)
				missing = id;
		}
	}
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		const struct failover_position *p = &pos[id];
		struct node *n = node_get(id);
		char no[200] = "";

		if (!n || !p->answered || p->h.role != PGXR_ROLE_STANDBY)
			continue;
		answered++;
		if (id == ha.want && ha.force) {
			best = id;
			break;
		}
		if (sync) {
			bool member = sy->member[id] && (!sy->quorum || quorum_whole);

			/*
			 * What a synchronous standby that did not answer confirmed
			 * since the last replication check is unknown: only a
			 * member that alone has all of it (sync, or a whole quorum)
			 * may be promoted then.
			 */
			if (!member && sy->member[id])
				snprintf(no, sizeof(no),
					 "a quorum standby, but node %d of the quorum did not answer", missing);
			else if (!member && missing >= 0)
				snprintf(no, sizeof(no),
					 "not a synchronous standby, and synchronous standby node %d did not answer",
					 missing);
			else if (!member && p->h.lsn < sy->confirmed)
				snprintf(no, sizeof(no),
					 "not a synchronous standby, and %" PRIu64 " bytes behind what they confirmed",
					 (uint64_t)(sy->confirmed - p->h.lsn));
		} else if (ha.cfg->maximum_lag_on_failover && old &&
			   old->pg.lsn > p->h.lsn + (__u64)ha.cfg->maximum_lag_on_failover) {
			snprintf(no, sizeof(no),
				 "%" PRIu64 " bytes behind the primary's last position (maximum_lag_on_failover %lld)",
				 (uint64_t)(old->pg.lsn - p->h.lsn), ha.cfg->maximum_lag_on_failover);
		}
		if (no[0]) {
			node_set_note(n, "not promoted automatically: %s; pgxrctl node promote %d --force promotes it",
				      no, id);
			if (w + 20 < len)
				w += snprintf(why + w, len - w, "%snode %d is %s", w ? "; " : "", id, no);
			continue;
		}
		n->note[0] = '\0';
		if (ha.want >= 0 && id != ha.want)
			continue;
		if (best < 0 || p->h.lsn > pos[best].h.lsn)
			best = id;
	}
	if (best < 0 && ha.want >= 0 && !why[0])
		snprintf(why, len, "node %d did not answer as a standby", ha.want);
	if (best < 0 && !why[0])
		snprintf(why, len, answered ? "no standby answered as a standby" :
					      "no standby is up to promote");
	return best;
}

/* the standbys told where they are: promote one, or call the failover off */
static void ha_surveyed(const struct failover_position *pos, void *arg)
{
	struct node *old = node_get(ha.old);
	long long half = old ? old->cfg->hc.timeout * 500LL : 0;
	char why[600];
	int best;

	(void)arg;
	if (ha.phase != HA_SURVEY)
		return;
	/*
	 * The standbys are witnesses: one that heard from the primary after
	 * pgxrd lost it, and lately (within a health check timeout), says that
	 * only pgxrd's own path is broken.  After a timeout, "after" means half
	 * a timeout after its last answer (a message sent just before a cut is
	 * no proof of life); after an error the server answered with, a live
	 * walsender is proof enough.
	 */
	for (int id = 0; id < PGXR_MAX_BACKENDS && old && !ha.operator && !ha.certain && !old->admin_down;
	     id++) {
		const struct failover_position *p = &pos[id];
		long long heard;

		if (!p->answered || !node_streams_from(&p->h, old) || p->h.receipt_age_ms < 0 ||
		    (!ha.answered && p->h.receipt_age_ms > half * 2))
			continue;
		heard = p->answered_at - p->h.receipt_age_ms;
		if (!ha.answered && heard <= ha.silent_since + (ha.timed_out ? half : 0))
			continue;
		if (!ha.vetoed)
			event_add(old->id, "failover called off: node %d still receives WAL from it (%lld ms ago); only pgxrd's path to it is broken",
				  id, p->h.receipt_age_ms);
		else
			log_info("node %d: still no answer, but node %d received WAL from it %lld ms ago: no failover",
				 old->id, id, p->h.receipt_age_ms);
		ha.vetoed = true;
		node_set_note(old, "pgxrd cannot reach it (%s), but node %d still streams from it",
			      old->pg_error, id);
		/* a primary taken out of routing while nobody could be promoted goes back */
		if (old->state == PGXR_BE_DOWN && !old->admin_down)
			node_apply(old, PGXR_BE_UP, PGXR_ROLE_PRIMARY, "its standbys still stream from it");
		ha_idle();
		return;
	}
	best = ha_choose(pos, why, sizeof(why));
	if (old && old->state == PGXR_BE_UP)
		node_apply(old, PGXR_BE_DOWN, PGXR_ROLE_PRIMARY, ha.reason);
	if (best < 0) {
		char status[sizeof(ha.status)];

		snprintf(status, sizeof(status), "failover waiting: %s", why);
		/* the same reason every 5 s is one event, then log lines */
		if (strcmp(status, ha.status))
			event_add(-1, "failover: nobody may be promoted: %s; looking again every %d s",
				  why, HA_RETRY_MS / 1000);
		else
			log_info("failover: still nobody to promote: %s", why);
		memcpy(ha.status, status, sizeof(ha.status));
		ha.phase = HA_WAITING;
		ha.retry_at = ha_now() + HA_RETRY_MS;
		if (ha.want >= 0) {
			char msg[800];

			snprintf(msg, sizeof(msg), "%s; pgxrctl node promote %d --force promotes it anyway",
				 why, ha.want);
			ha.want = -1;
			ha.force = false;
			ha_reply(HA_OP_FAILOVER, -EPERM, msg);
		}
		return;
	}
	event_add(best, "chosen for promotion: WAL position %X/%X%s", (unsigned)(pos[best].h.lsn >> 32),
		  (unsigned)pos[best].h.lsn,
		  ha.force ? " (forced by an operator)" : ", the furthest eligible standby");
	ha_promote_candidate(best, pos[best].h.read_only);
}

static void ha_survey(void)
{
	bool ask[PGXR_MAX_BACKENDS] = { false };
	struct pgq_conn *shared[PGXR_MAX_BACKENDS] = { NULL };
	int ret;

	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = node_get(id);

		if (!n || id == ha.old || !n->pg_ok || n->pg.role != PGXR_ROLE_STANDBY ||
		    n->state == PGXR_BE_FENCED || (n->admin_down && id != ha.want))
			continue;
		ask[id] = true;
		shared[id] = health_conn(n);
	}
	ha.phase = HA_SURVEY;
	ret = failover_survey(ask, shared, ha_surveyed, NULL);
	if (ret) {
		log_error("failover: could not ask the standbys: %s", strerror(-ret));
		ha.phase = HA_WAITING;
		ha.retry_at = ha_now() + HA_RETRY_MS;
	}
}

/*
 * The routed primary is lost (old): unless its flag forbids a failover,
 * the standbys are asked, while it stays routed, whether it lives and how
 * far they are.
 */
static void ha_failover_begin(struct node *old, const char *why)
{
	if (old->cfg->flags & BACKEND_FLAG_DISALLOW_TO_FAILOVER) {
		if (old->state == PGXR_BE_UP)
			node_apply(old, PGXR_BE_DOWN, PGXR_ROLE_PRIMARY, why);
		event_add(old->id, "the primary is lost (%s); no failover (DISALLOW_TO_FAILOVER)", why);
		return;
	}
	if (!ha.vetoed || ha.old != old->id)
		event_add(old->id, "failover: %s", why);
	memset(ha.tried, 0, sizeof(ha.tried));
	ha.started = ha_now();
	ha.old = old->id;
	ha.candidate = -1;
	snprintf(ha.reason, sizeof(ha.reason), "%s", why);
	snprintf(ha.status, sizeof(ha.status), "failover: asking the standbys");
	ha_survey();
}

static void ha_promote_done(int status, int id, const char *msg, void *arg)
{
	(void)arg;
	if (status) {
		event_add(ha.candidate, "failover failed: %s; trying again in %d s", msg,
			  HA_RETRY_MS / 1000);
		ha.phase = HA_WAITING;
		ha.retry_at = ha_now() + HA_RETRY_MS;
		snprintf(ha.status, sizeof(ha.status), "failover failed: %s", msg);
		ha_reply(HA_OP_FAILOVER, status, msg);
		return;
	}
	if (id < 0) {
		/* failover_command may have promoted any standby: whichever reports primary wins */
		ha.phase = HA_WAIT_PRIMARY;
		ha.wait_deadline = ha.cfg->search_primary_node_timeout ?
					   ha_now() + ha.cfg->search_primary_node_timeout * 1000LL : 0;
		snprintf(ha.status, sizeof(ha.status), "failover: waiting for a node to report primary");
		for (int i = 0; i < PGXR_MAX_BACKENDS; i++)
			if (node_get(i) && i != ha.old)
				health_check_now(node_get(i));
		return;
	}
	ha_promoted(node_get(id));
	ha_report("node %d promoted and routed as the primary in %lld ms", id, ha_now() - ha.started);
	ha_idle();
	ha_reply(HA_OP_FAILOVER, 0, NULL);
}

static void ha_promote_candidate(int id, bool reset_read_only)
{
	int ret;

	ha.phase = HA_PROMOTE;
	ha.candidate = id;
	ha.tried[id] = true;
	snprintf(ha.status, sizeof(ha.status), "failover: promoting node %d", id);
	ret = failover_promote(id, ha.old, reset_read_only, ha_promote_done, NULL);
	if (ret)
		ha_promote_done(ret, id, strerror(-ret), NULL);
}

/* a standby is available again: a waiting failover goes on once the old primary fails a check begun now */
static void ha_standby_back(void)
{
	struct node *old = node_get(ha.old);

	if (ha.phase != HA_WAITING || ha.confirming || !old)
		return;
	/*
	 * It was found down while no standby answered either, and then pgxrd
	 * itself may have been the one cut off (its network, a wrong
	 * password): the standbys coming back may mean the primary is back too.
	 */
	ha.confirming = ha_now();
	ha.retry_at = 0;
	event_add(old->id, "failover: a standby is up; checking the primary once more first");
	health_check_now(old);
}

/* ---- what the health checks saw ---- */

/*
 * The first round is in: the primary is the one pinned, else the one the
 * standbys stream from; several with nothing to tell them apart: none.
 */
static void ha_started(void)
{
	int pinned = node_pinned_primary(), winner = -1, primaries = 0, only = -1;
	int streams[PGXR_MAX_BACKENDS] = { 0 };
	char why[200];

	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = node_get(id);

		if (!n || !n->pg_ok || n->pg.role != PGXR_ROLE_PRIMARY || n->state == PGXR_BE_FENCED)
			continue;
		primaries++;
		only = id;
		for (int s = 0; s < PGXR_MAX_BACKENDS; s++) {
			struct node *sn = node_get(s);

			if (sn && sn->pg_ok && sn->pg.role == PGXR_ROLE_STANDBY &&
			    node_streams_from(&sn->pg, n))
				streams[id]++;
		}
	}
	if (pinned >= 0 && node_get(pinned)->pg_ok && node_get(pinned)->pg.role == PGXR_ROLE_PRIMARY &&
	    node_get(pinned)->state != PGXR_BE_FENCED) {
		winner = pinned;
	} else if (primaries == 1 && (pinned < 0 || streams[only])) {
		winner = only;
	} else if (primaries >= 1) {
		for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
			if (!streams[id])
				continue;
			winner = winner < 0 ? id : -2;
		}
		if (winner < 0) {
			winner = -1;
			ha.ambiguous = true;
		}
	}
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = node_get(id);

		if (!n || n->state == PGXR_BE_FENCED)
			continue;
		if (!n->pg_ok) {
			node_apply(n, PGXR_BE_DOWN, n->role, "no answer at start");
		} else if (n->pg.role == PGXR_ROLE_STANDBY) {
			node_apply(n, PGXR_BE_UP, PGXR_ROLE_STANDBY, "standby at start");
			n->followed = winner >= 0 ? winner : pinned;
		} else if (id == winner) {
			node_apply(n, PGXR_BE_UP, PGXR_ROLE_PRIMARY, "primary at start");
		} else if (ha.ambiguous) {
			node_apply(n, PGXR_BE_DOWN, PGXR_ROLE_PRIMARY, "one of several primaries");
			node_set_note(n, "one of several primaries, and the standbys do not tell which is the real one: pgxrctl node promote %d --force routes it",
				      id);
		} else {
			snprintf(why, sizeof(why), "claims to be primary, but node %d is the primary",
				 winner);
			ha_fence(n, PGXR_ROLE_PRIMARY, winner, why);
		}
	}
	node_set_started();
	ha.phase = HA_IDLE;
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = node_get(id);

		if (n && (n->state == PGXR_BE_FENCED || n->admin_down))
			event_add(id, "%s %s at start, as pinned before the restart%s",
				  dataplane_role_name(n->role), node_state_name(n),
				  n->admin_down ? " (detached by an operator)" : "");
	}
	if (ha.ambiguous) {
		event_add(-1, "several primaries and no standby streams from exactly one of them: none is routed; pgxrctl node promote ID --force routes one and fences the others");
		snprintf(ha.status, sizeof(ha.status), "several primaries: none routed (pgxrctl node promote ID --force)");
	} else if (winner < 0 && pinned >= 0) {
		ha_failover_begin(node_get(pinned), "the primary was not reachable at start");
	} else if (winner < 0) {
		event_add(-1, "no primary found at start: VIP port %d has no backend", ha.cfg->rw_port);
	}
	log_info("ready: VIP ports rw %d, ro %d, proxy %d; primary: %s", ha.cfg->rw_port,
		 ha.cfg->ro_port, ha.cfg->proxy_port,
		 winner >= 0 ? node_get(winner)->cfg->hostname : "none");
}

/* a node that says it is the primary */
static void ha_primary_answers(struct node *n)
{
	int p = node_primary();
	char why[300];

	/* the lost primary answers while the standbys are asked: it is not lost */
	if (ha.phase == HA_SURVEY && n->id == ha.old && !n->admin_down && !ha.certain) {
		failover_cancel(true);
		event_add(n->id, "failover called off: the primary answers again");
		ha.vetoed = false;
		n->note[0] = '\0';
		if (n->state == PGXR_BE_DOWN && !n->admin_down)
			node_apply(n, PGXR_BE_UP, PGXR_ROLE_PRIMARY, "the primary answers again");
		ha_call_off("the failover was called off: the primary answers again");
		return;
	}
	/* a candidate whose promotion was given up on, and that made it after all */
	if (ha.tried[n->id] && n->state != PGXR_BE_FENCED &&
	    (ha.phase == HA_WAITING || ha.phase == HA_WAIT_PRIMARY || ha.phase == HA_SURVEY ||
	     ha.phase == HA_PROMOTE)) {
		failover_cancel(false);
		ha.candidate = n->id;
		ha_promote_done(0, n->id, NULL, NULL);
		return;
	}
	if (n->id == p) {
		if (ha.vetoed) {
			ha.vetoed = false;
			n->note[0] = '\0';
		}
		return;
	}
	switch (ha.phase) {
	case HA_PROMOTE:
		if (n->id == ha.old)
			return;	/* fenced once the candidate is out of recovery */
		/* failover_command may promote another standby than the one it was named */
		if (n->id == ha.candidate || (ha.cfg->failover_command[0] && n->state != PGXR_BE_FENCED)) {
			/* out of recovery: a failover_command still running may finish */
			ha.candidate = n->id;
			failover_cancel(false);
			ha_promote_done(0, n->id, NULL, NULL);
			return;
		}
		break;
	case HA_WAIT_PRIMARY:
		if (n->id != ha.old && n->state != PGXR_BE_FENCED) {
			ha.candidate = n->id;
			ha_promote_done(0, n->id, NULL, NULL);
			return;
		}
		return;
	case HA_SWITCHOVER:
		if (n->id == ha.old || n->id == ha.candidate)
			return;	/* the switchover decides */
		break;
	case HA_WAITING:
		if (n->id == ha.old && !n->admin_down) {
			failover_cancel(true);
			node_apply(n, PGXR_BE_UP, PGXR_ROLE_PRIMARY, "the primary is back");
			n->note[0] = '\0';
			event_add(n->id, "failover called off: the primary is back");
			ha_call_off("the failover was called off: the primary is back");
			return;
		}
		break;
	default:
		break;
	}
	/* the routed primary came back after a loss that could not be failed over */
	if (p < 0 && n->role == PGXR_ROLE_PRIMARY && n->state == PGXR_BE_DOWN && !n->admin_down &&
	    !ha.ambiguous && ha.phase == HA_IDLE) {
		node_apply(n, PGXR_BE_UP, PGXR_ROLE_PRIMARY, "the primary is back");
		n->note[0] = '\0';
		return;
	}
	/* a node never known as anything, and nobody is primary: it is the primary */
	if (p < 0 && n->role == PGXR_ROLE_UNKNOWN && !ha.ambiguous && ha.phase == HA_IDLE) {
		node_apply(n, PGXR_BE_UP, PGXR_ROLE_PRIMARY, "the only primary");
		return;
	}
	/* waiting for an operator's pick, or a detached primary while none is routed */
	if (ha.ambiguous || (p < 0 && n->role == PGXR_ROLE_PRIMARY && n->state == PGXR_BE_DOWN))
		return;
	/*
	 * Anyone else who says primary was not made primary by pgxr (a manual
	 * promote, a restored backup, an old primary back): whatever its
	 * timeline, it is fenced and never routed.
	 */
	if (p >= 0)
		snprintf(why, sizeof(why),
			 "claims to be primary (timeline %u) without being promoted by pgxr; node %d (timeline %u) is the primary",
			 n->pg.timeline, p, node_get(p)->pg.timeline);
	else
		snprintf(why, sizeof(why),
			 "claims to be primary (timeline %u) without being promoted by pgxr",
			 n->pg.timeline);
	ha_fence(n, PGXR_ROLE_PRIMARY, p, why);
	ha_fenced_answers(n);
}

/* a node that says it is a standby */
static void ha_standby_answers(struct node *n)
{
	struct node *p = node_get(node_primary());
	long long now = ha_now();

	if (p == n) {
		/* the primary went back into recovery behind pgxr's back */
		node_apply(n, PGXR_BE_DOWN, PGXR_ROLE_STANDBY, "the primary reports being in recovery");
		ha.vetoed = false;
		/* seen, not inferred from silence: the standbys are not asked whether it lives */
		ha.certain = true;
		ha_failover_begin(n, "the primary is in recovery");
		return;
	}
	if ((ha.phase == HA_SWITCHOVER || ha.phase == HA_PROMOTE || ha.phase == HA_SURVEY) &&
	    (n->id == ha.old || n->id == ha.candidate))
		return;
	if (n->role != PGXR_ROLE_STANDBY)
		node_apply(n, n->state, PGXR_ROLE_STANDBY, "reports standby");
	if (n->state == PGXR_BE_DOWN && !n->admin_down && ha.cfg->auto_failback &&
	    n->id != rejoin_node()) {
		if (n->streaming || !p) {
			/* with no primary a failover may need it: no interval then */
			if (p && n->failback_ms >= 0 &&
			    now - n->failback_ms < ha.cfg->auto_failback_interval * 1000LL) {
				node_set_note(n, "attached again at most every auto_failback_interval (%d s)",
					      ha.cfg->auto_failback_interval);
				return;
			}
			n->failback_ms = now;
			n->note[0] = '\0';
			node_apply(n, PGXR_BE_UP, PGXR_ROLE_STANDBY,
				   p ? "streaming from the primary again (auto_failback)" :
				       "standby is back (no primary to stream from)");
			ha_standby_back();
			return;
		}
		/*
		 * It may have been down when the primary changed: point it at
		 * the primary once, then attach it when the primary sees it.
		 */
		if (ha.cfg->follow_primary && n->followed != p->id && ha.phase == HA_IDLE)
			follow_start(n, p, n->followed, ha_followed, NULL);
		health_sr_now();
	}
}

static void ha_ok(const struct health_report *r)
{
	struct node *n = r->n;
	bool was_ok = n->pg_ok;

	n->pg_ok = true;
	n->pg_answered = false;
	n->pg = *r->h;
	n->pg_error[0] = '\0';
	if (ha.phase == HA_STARTING)
		return;
	if (!was_ok)
		event_add(n->id, "answers health checks again (%s)", dataplane_role_name(r->h->role));
	if (n->id == ha.old && ha.phase == HA_WAITING && ha.confirming && r->started >= ha.confirming &&
	    (r->h->role != PGXR_ROLE_PRIMARY || n->admin_down)) {
		ha.confirming = 0;
		ha_survey();
		return;
	}
	if (n->state == PGXR_BE_FENCED) {
		ha_fenced_answers(n);
		return;
	}
	if (r->h->role == PGXR_ROLE_PRIMARY)
		ha_primary_answers(n);
	else
		ha_standby_answers(n);
}

static void ha_failed(const struct health_report *r)
{
	struct node *n = r->n;
	char why[400];

	if (r->retrying)
		return;
	n->pg_ok = false;
	n->pg_answered = r->answered;
	snprintf(n->pg_error, sizeof(n->pg_error), "%s%s", r->answered ? "answered: " : "no answer: ",
		 r->error);
	if (ha.phase == HA_STARTING)
		return;
	snprintf(why, sizeof(why), "health check failed: %s", n->pg_error);
	if (n->id == node_primary()) {
		if (ha.phase != HA_IDLE)
			return;
		ha.silent_since = r->silent_since;
		ha.timed_out = r->timed_out;
		ha.answered = r->answered && !ha_going_away(r->error);
		ha_failover_begin(n, why);
		return;
	}
	if (n->state == PGXR_BE_UP)
		node_apply(n, PGXR_BE_DOWN, n->role, why);
	if (n->id == ha.old && ha.phase == HA_WAITING && ha.confirming && r->started >= ha.confirming) {
		ha.confirming = 0;
		ha_survey();
	}
}

/* the lag of standby n decides whether it is in the ro ring */
static void ha_lag(struct node *n)
{
	const struct pgxr_config *cfg = ha.cfg;
	bool thresholds = cfg->delay_threshold > 0 || cfg->delay_threshold_by_time > 0;
	bool over, lagging;
	char why[200];

	if (n->role != PGXR_ROLE_STANDBY || n->state == PGXR_BE_FENCED) {
		n->lag_ok = 0;
		return;
	}
	/* a standby that does not stream at all falls behind without measure */
	over = !n->streaming ? thresholds :
	       (cfg->delay_threshold > 0 && n->repl.lag_bytes > cfg->delay_threshold) ||
	       (cfg->delay_threshold_by_time > 0 && n->repl.lag_ms > cfg->delay_threshold_by_time);
	/*
	 * One out for its measured lag comes back after checks in a row
	 * within the thresholds; one out for not streaming (a failover's
	 * standbys a moment) or with the thresholds off, at once
	 */
	lagging = node_lag_next(n, over,
				thresholds && n->lag_streamed ? cfg->delay_recovery_checks : 1,
				evloop_now_ms(), cfg->sr_check_period * 1000LL / 2);
	if (lagging && !n->lagging)
		n->lag_streamed = n->streaming;
	if (lagging == n->lagging)
		return;
	if (!lagging)
		snprintf(why, sizeof(why),
			 "caught up (%lld bytes behind, within the thresholds for %d checks): back in the ro ring",
			 n->repl.lag_bytes, cfg->delay_recovery_checks);
	else if (!n->streaming)
		snprintf(why, sizeof(why), "not streaming from the primary: out of the ro ring");
	else
		snprintf(why, sizeof(why),
			 "lagging %lld bytes, %lld ms behind (delay_threshold %lld bytes, %d ms): out of the ro ring",
			 n->repl.lag_bytes, n->repl.lag_ms, cfg->delay_threshold,
			 cfg->delay_threshold_by_time);
	node_set_lagging(n, lagging, why);
}

/* the primary's pg_stat_replication: lag, auto_failback, synchronous facts */
static void ha_replication(const struct health_report *r)
{
	struct ha_sync *sy = &ha.sync;
	struct node *p = node_get(r->primary);

	if (sy->primary != r->primary) {
		memset(sy, 0, sizeof(*sy));
		sy->primary = r->primary;
	}
	sy->required = r->sync_names[0] != '\0';
	sy->quorum = false;
	snprintf(sy->names, sizeof(sy->names), "%s", r->sync_names);
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = node_get(id);
		const struct node_repl *row = &r->repl[id];

		if (!n || id == r->primary)
			continue;
		n->repl = *row;
		n->streaming = row->found && !strcmp(row->state, "streaming");
		sy->member[id] = row->found &&
				 (!strcmp(row->sync_state, "sync") || !strcmp(row->sync_state, "quorum"));
		if (sy->member[id] && !strcmp(row->sync_state, "quorum"))
			sy->quorum = true;
		if (sy->member[id] && row->write_lsn > sy->confirmed)
			sy->confirmed = row->write_lsn;
		ha_lag(n);
		if (n->state == PGXR_BE_DOWN && n->role == PGXR_ROLE_STANDBY && n->pg_ok &&
		    n->streaming)
			ha_standby_answers(n);
		/* a standby whose follow failed is pointed at the primary again */
		if (p && n->state == PGXR_BE_UP && n->role == PGXR_ROLE_STANDBY && n->pg_ok &&
		    !n->streaming && n->followed != p->id && ha.cfg->follow_primary &&
		    ha.phase == HA_IDLE && rejoin_node() != id)
			follow_start(n, p, n->followed, ha_followed, NULL);
	}
	if (p && p->state == PGXR_BE_UP && ha.phase == HA_IDLE)
		ha_sync_manage(p, false);
}

void ha_health(const struct health_report *r)
{
	switch (r->what) {
	case HEALTH_ROUND:
		ha_started();
		break;
	case HEALTH_OK:
		ha_ok(r);
		break;
	case HEALTH_FAILED:
		ha_failed(r);
		break;
	case HEALTH_REPLICATION:
		ha_replication(r);
		break;
	}
}

/* ---- switchover ---- */

static void ha_rejoined(int id, int status, const char *msg, void *arg);

static void ha_switched(const struct switchover_result *r, void *arg)
{
	struct node *old = node_get(r->old), *c = node_get(r->candidate);
	char err[300];
	int ret;

	(void)arg;
	if (r->demoted)
		ha_report("+%lld ms: node %d %s (WAL at %X/%X)", r->demoted_ms, r->old,
			  r->stopped ? "stopped cleanly" : "refuses writes, its client sessions ended",
			  (unsigned)(r->lsn >> 32), (unsigned)r->lsn);
	if (r->status && !ha.refused_at) {
		ha_report("switchover failed: %s; node %d is the primary still; writes were never refused",
			  r->msg, r->old);
		ha_idle();
		ha_reply(HA_OP_SWITCHOVER, r->status, ha.report);
		return;
	}
	if (r->status) {
		ha.refused_ms = ha_now() - ha.refused_at;
		node_apply(old, PGXR_BE_UP, PGXR_ROLE_PRIMARY, "the switchover was undone");
		ha_report("switchover failed: %s; node %d is the primary again; writes were refused for %lld ms",
			  r->msg, r->old, ha.refused_ms);
		ha_idle();
		ha_reply(HA_OP_SWITCHOVER, r->status, ha.report);
		return;
	}
	ha_report("+%lld ms: node %d replayed all of it", r->caught_up_ms, r->candidate);
	ha_promoted(c);
	ha.refused_ms = ha_now() - ha.refused_at;
	ha_report("+%lld ms: node %d promoted and routed as the primary", ha_now() - ha.started,
		  r->candidate);
	ha_report("writes were refused for %lld ms", ha.refused_ms);
	event_add(-1, "switchover: writes were refused for %lld ms", ha.refused_ms);
	ha_idle();
	/* the old primary becomes a standby of the new one where pgxr can restart it */
	if (r->stopped || ha.cfg->rejoin_command[0]) {
		ret = rejoin_start(old->id, c->id, r->stopped ? REJOIN_CLEAN : 0, ha_rejoined,
				   (void *)1, err, sizeof(err));
		if (!ret)
			return;	/* the reply waits for the rejoin */
		ha_report("node %d stays fenced: %s; pgxrctl node rejoin %d when it can be", old->id,
			  err, old->id);
	} else {
		ha_report("node %d stays fenced and read-only: pgxrctl node rejoin %d makes it a standby (set rejoin_command or backend_data_directory%d on this host)",
			  old->id, old->id, old->id);
	}
	ha_reply(HA_OP_SWITCHOVER, 0, NULL);
}

/*
 * The old primary's other standbys stream through the candidate now: no
 * new rw session reaches it, and its sessions are reset, before it is
 * demoted.  Writes are refused from here.
 */
static int ha_switch_ready(const struct switchover_result *r, void *arg)
{
	struct node *p = node_get(r->old);
	int ret;

	(void)arg;
	if (r->cascaded)
		ha_report("+%lld ms: %d other standby(s) of node %d stream through node %d",
			  ha_now() - ha.started, r->cascaded, r->old, r->candidate);
	ret = node_apply(p, PGXR_BE_DOWN, PGXR_ROLE_PRIMARY, "switchover: out of routing");
	if (ret)
		return ret;
	ha.refused_at = ha_now();
	ha_report("+%lld ms: node %d out of the rw ring, its sessions reset",
		  ha.refused_at - ha.started, r->old);
	return 0;
}

/* a switchover from the routed primary p to standby c */
static int ha_switchover(struct node *p, struct node *c, char *err, size_t len)
{
	int ret;

	ha.phase = HA_SWITCHOVER;
	ha.old = p->id;
	ha.candidate = c->id;
	ha.started = ha_now();
	ha.refused_at = 0;
	ha.report[0] = '\0';
	snprintf(ha.status, sizeof(ha.status), "switchover from node %d to node %d", p->id, c->id);
	event_add(c->id, "switchover requested by an operator: from node %d", p->id);
	ha_report("switchover from node %d to node %d", p->id, c->id);
	ret = switchover_start(p->id, c->id, ha_switch_ready, ha_switched, NULL);
	if (ret) {
		snprintf(err, len, "could not start the switchover: %s", strerror(-ret));
		ha_idle();
	}
	return ret;
}

/* ---- operators ---- */

static bool ha_busy(char *err, size_t len)
{
	switch (ha.phase) {
	case HA_STARTING:
		snprintf(err, len, "pgxrd is starting: its first health checks have not answered yet");
		return true;
	case HA_SURVEY:
	case HA_PROMOTE:
	case HA_WAIT_PRIMARY:
	case HA_SWITCHOVER:
		snprintf(err, len, "%s is running", ha.status);
		return true;
	default:
		break;
	}
	if (ha.done) {
		snprintf(err, len, "another promote is still finishing");
		return true;
	}
	return false;
}

/*
 * The node an operator routes as the primary (--force) takes writes: the
 * others are fenced, then it is routed, and the standbys follow it.
 */
static void ha_move_routed(struct node *n)
{
	char why[160];

	snprintf(why, sizeof(why), "node %d is the primary now (node promote --force)", n->id);
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *o = node_get(id);

		if (o && o != n && o->role == PGXR_ROLE_PRIMARY && o->state != PGXR_BE_FENCED)
			ha_fence(o, PGXR_ROLE_PRIMARY, n->id, why);
		if (o && o != n && o->pg_ok && o->pg.role == PGXR_ROLE_PRIMARY)
			ha_fenced_answers(o);
	}
	ha.ambiguous = false;
	ha.old = -1;
	ha_idle();
	ha_unfence(n);
	node_set_admin_down(n, false);
	if (node_apply(n, PGXR_BE_UP, PGXR_ROLE_PRIMARY, "routed as the primary by an operator (--force)")) {
		ha_reply(HA_OP_MOVE, -EIO, "could not route it: see the log");
		return;
	}
	ha_sync_manage(n, true);
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *s = node_get(id);

		if (s && s != n && s->pg_ok && s->role == PGXR_ROLE_STANDBY &&
		    s->state != PGXR_BE_FENCED && ha.cfg->follow_primary)
			follow_start(s, n, -1, ha_followed, NULL);
	}
	health_sr_now();
	ha_report("node %d is routed as the primary", n->id);
	ha_reply(HA_OP_MOVE, 0, NULL);
}

static void ha_lifted(int status, __u64 lsn, const char *msg, void *arg)
{
	struct node *n = node_get((intptr_t)arg);

	(void)lsn;
	ha.fencing[n->id] = false;
	if (status) {
		event_add(n->id, "could not lift its read-only setting: %s", msg);
		ha_reply(HA_OP_MOVE, -EIO, msg);
		return;
	}
	event_add(n->id, "takes writes again (default_transaction_read_only reset)");
	ha_move_routed(n);
}

/*
 * Routes n, a node that already says it is a primary, as the primary.  A
 * read-only setting pgxr left on it is lifted first: the others are only
 * fenced once it can take their place.
 */
static int ha_move_rw(struct node *n, char *err, size_t len)
{
	int ret;

	ha.started = ha_now();
	if (!n->pg.read_only && !n->read_only_set) {
		ha_move_routed(n);
		return 0;
	}
	/* no fence is applied to it while its read-only setting is lifted */
	ha.fencing[n->id] = true;
	ret = fence_lift(n, ha_lifted, (void *)(intptr_t)n->id);
	if (ret) {
		ha.fencing[n->id] = false;
		snprintf(err, len, "could not lift node %d's read-only setting: %s", n->id,
			 strerror(-ret));
	}
	return ret;
}

/*
 * "node promote ID [force]": a switchover when the primary is up; a
 * failover to ID when it is lost and ID may be promoted (force: even when
 * the rules say no); with force, a node that already says it is primary
 * is routed and the others fenced.
 */
int ha_promote(int id, bool force, ha_done_cb cb, void *arg, char *err, size_t len)
{
	struct node *n = node_get(id), *p = node_get(node_primary());
	int ret;

	if (!n) {
		snprintf(err, len, "node %d is not configured", id);
		return -ENOENT;
	}
	if (ha_busy(err, len))
		return -EBUSY;
	if (rejoin_node() >= 0) {
		snprintf(err, len, "a rejoin of node %d is running", rejoin_node());
		return -EBUSY;
	}
	if (n == p) {
		snprintf(err, len, "node %d is the primary", id);
		return -EALREADY;
	}
	if (n->pg_ok && n->pg.role == PGXR_ROLE_PRIMARY) {
		if (!force) {
			snprintf(err, len,
				 "node %d already says it is a primary (timeline %u) but was not promoted by pgxr; routing it abandons what %s wrote since: add --force",
				 id, n->pg.timeline, p ? "the current primary" : "the old primary");
			return -EPERM;
		}
		ha.report[0] = '\0';
		ha.done = cb;
		ha.done_arg = arg;
		ha.done_op = HA_OP_MOVE;
		ret = ha_move_rw(n, err, len);
		if (ret) {
			ha.done = NULL;
			ha.done_op = HA_OP_NONE;
		}
		return ret;
	}
	if (!n->pg_ok || n->pg.role != PGXR_ROLE_STANDBY || n->state == PGXR_BE_FENCED) {
		snprintf(err, len, "node %d is not a standby that answers (it is %s %s%s%s)", id,
			 dataplane_role_name(n->role), node_state_name(n), n->pg_ok ? "" : ": ",
			 n->pg_ok ? "" : n->pg_error);
		return -EINVAL;
	}
	ha.report[0] = '\0';
	if (p && p->pg_ok) {
		if (n->state != PGXR_BE_UP) {
			snprintf(err, len, "node %d is a standby but not up (%s)", id,
				 n->admin_down ? "detached: attach it first" : "it does not stream yet");
			return -EINVAL;
		}
		ret = ha_switchover(p, n, err, len);
		if (!ret) {
			ha.done = cb;
			ha.done_arg = arg;
			ha.done_op = HA_OP_SWITCHOVER;
		}
		return ret;
	}
	if (ha.phase != HA_WAITING && !force) {
		snprintf(err, len, "no primary is lost, and none is routed: add --force to promote node %d anyway",
			 id);
		return -EPERM;
	}
	/* a failover the rules held back, or one the operator starts */
	if (ha.old < 0 || !node_get(ha.old) || ha.phase != HA_WAITING)
		ha.old = p ? p->id : -1;
	ha.started = ha_now();
	ha.done = cb;
	ha.done_arg = arg;
	ha.done_op = HA_OP_FAILOVER;
	ha_report("failover to node %d requested by an operator%s", id, force ? " (--force)" : "");
	event_add(id, "promotion requested by an operator%s", force ? " (--force)" : "");
	ha.operator = true;
	ha.want = id;
	ha.force = force;
	ha_survey();
	return 0;
}

static void ha_rejoined(int id, int status, const char *msg, void *arg)
{
	struct node *n = node_get(id);
	int primary = node_primary();
	char why[96];

	if (!status) {
		snprintf(why, sizeof(why), "rejoined as a standby of node %d", primary);
		n->admin_down = false;
		n->followed = primary;
		ha_unfence(n);
		node_apply(n, PGXR_BE_UP, PGXR_ROLE_STANDBY, why);
		/* synchronous_standby_names and the ro ring take it at the next check: now */
		health_sr_now();
	}
	if (arg) {
		/* the old primary of a switchover: the promote's reply tells it */
		if (status)
			ha_report("node %d could not be rejoined: %s; pgxrctl node rejoin %d when it can be",
				  id, msg, id);
		else
			ha_report("node %d is a standby of node %d now", id, primary);
		ha_reply(HA_OP_SWITCHOVER, 0, NULL);
		return;
	}
	if (ha.rejoin_done) {
		ha_done_cb cb = ha.rejoin_done;

		ha.rejoin_done = NULL;
		cb(status, status ? msg : "", ha.rejoin_arg);
	}
}

int ha_rejoin(int id, ha_done_cb cb, void *arg, char *err, size_t len)
{
	struct node *n = node_get(id);
	int p = node_primary(), ret;

	if (!n) {
		snprintf(err, len, "node %d is not configured", id);
		return -ENOENT;
	}
	if (ha_busy(err, len))
		return -EBUSY;
	if (id == p || p < 0) {
		snprintf(err, len, id == p ? "node %d is the primary" : "there is no primary to rejoin node %d to",
			 id);
		return -EINVAL;
	}
	if (n->state == PGXR_BE_UP && n->role == PGXR_ROLE_STANDBY) {
		snprintf(err, len, "node %d is already a standby that is up", id);
		return -EALREADY;
	}
	ret = rejoin_start(id, p, 0, ha_rejoined, NULL, err, len);
	if (!ret) {
		ha.rejoin_done = cb;
		ha.rejoin_arg = arg;
	}
	return ret;
}

int ha_attach(int id, char *err, size_t len)
{
	struct node *n = node_get(id);
	int p = node_primary();

	if (!n) {
		snprintf(err, len, "node %d is not configured", id);
		return -ENOENT;
	}
	if (ha.phase == HA_STARTING) {
		snprintf(err, len, "pgxrd is starting: its first health checks have not answered yet");
		return -EAGAIN;
	}
	if (n->state == PGXR_BE_FENCED) {
		if (!n->pg_ok || n->pg.role != PGXR_ROLE_STANDBY) {
			snprintf(err, len,
				 "node %d is fenced and still claims to be primary: rejoin it (pgxrctl node rejoin %d)",
				 id, id);
			return -EPERM;
		}
		node_set_admin_down(n, false);
		ha_unfence(n);
		node_apply(n, PGXR_BE_UP, PGXR_ROLE_STANDBY, "attached by an operator: it is a standby now");
		ha_standby_back();
		return 0;
	}
	if (n->admin_down) {
		node_set_admin_down(n, false);
		event_add(id, "attached by an operator");
	}
	if (!n->pg_ok) {
		snprintf(err, len, "node %d does not answer health checks (%s); %s", id,
			 n->pg_error[0] ? n->pg_error : "no answer yet",
			 ha.cfg->auto_failback ? "no longer detached, it is attached when it answers and streams" :
						 "no longer detached; attach it again when it answers");
		return -EAGAIN;
	}
	if (n->pg.role == PGXR_ROLE_PRIMARY && ha.phase != HA_IDLE && ha.phase != HA_WAITING) {
		snprintf(err, len, "node %d claims to be primary while %s runs", id, ha.status);
		return -EBUSY;
	}
	if (n->pg.role == PGXR_ROLE_PRIMARY && p != id && p >= 0) {
		snprintf(err, len, "node %d claims to be primary but node %d is the primary", id, p);
		return -EPERM;
	}
	if (n->pg.role == PGXR_ROLE_PRIMARY) {
		if (ha.ambiguous) {
			snprintf(err, len, "several nodes say they are primary: pgxrctl node promote %d --force routes this one and fences the others",
				 id);
			return -EPERM;
		}
		if (n->role != PGXR_ROLE_PRIMARY && n->role != PGXR_ROLE_UNKNOWN) {
			snprintf(err, len, "node %d claims to be primary but was not promoted by pgxr: pgxrctl node promote %d --force routes it",
				 id, id);
			return -EPERM;
		}
		failover_cancel(true);
		node_apply(n, PGXR_BE_UP, PGXR_ROLE_PRIMARY, "attached by an operator");
		if (ha.phase == HA_WAITING)
			event_add(id, "failover called off: the primary was attached by an operator");
		ha_call_off("the failover was called off: the primary was attached by an operator");
		return 0;
	}
	n->failback_ms = -1;
	node_apply(n, PGXR_BE_UP, PGXR_ROLE_STANDBY, "attached by an operator");
	ha_standby_back();
	return 0;
}

int ha_detach(int id, char *err, size_t len)
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
	node_set_admin_down(n, true);
	if (id == node_primary()) {
		if (ha.phase != HA_IDLE && ha.phase != HA_WAITING) {
			node_set_admin_down(n, false);
			snprintf(err, len, "%s is running", ha.status);
			return -EBUSY;
		}
		ha.operator = true;
		ha.vetoed = false;
		ha_failover_begin(n, "the primary was detached by an operator");
		return 0;
	}
	if (n->state == PGXR_BE_UP)
		node_apply(n, PGXR_BE_DOWN, n->role, "detached by an operator");
	else
		event_add(id, "detached by an operator");
	/* the lost primary of a waiting failover: the operator says it is not coming back */
	if (id == ha.old && ha.phase == HA_WAITING)
		ha.operator = true;
	return 0;
}

/* what is going on, for node list: "" when nothing is */
const char *ha_status(void)
{
	if (ha.phase == HA_IDLE && !ha.ambiguous)
		return "";
	return ha.status;
}

/* per-tick hook: a waiting failover looks again; a rejoin waits on replication checks */
void ha_maintain(void *arg)
{
	long long now = ha_now();

	(void)arg;
	if (ha.phase == HA_WAITING && ha.retry_at && now >= ha.retry_at) {
		struct node *old = node_get(ha.old);

		ha.retry_at = 0;
		if (old && old->pg_ok && old->pg.role == PGXR_ROLE_PRIMARY && !old->admin_down)
			ha_primary_answers(old);
		else
			ha_survey();
	} else if (ha.phase == HA_WAITING && ha.retry_at) {
		evloop_wake_at(ha.retry_at);
	}
	if (ha.phase == HA_WAIT_PRIMARY && ha.wait_deadline && now >= ha.wait_deadline) {
		event_add(-1, "failover: no node reported primary within search_primary_node_timeout (%d s); trying again in %d s",
			  ha.cfg->search_primary_node_timeout, HA_RETRY_MS / 1000);
		ha.phase = HA_WAITING;
		ha.retry_at = now + HA_RETRY_MS;
		ha_reply(HA_OP_FAILOVER, -ETIMEDOUT,
			 "failover_command exited, but no node reported primary within search_primary_node_timeout");
	}
	/* a rejoining node streams or not: asked often, but not on every pass of the loop */
	if (rejoin_waiting()) {
		if (now - ha.rejoin_sr_at >= HA_REJOIN_SR_MS) {
			ha.rejoin_sr_at = now;
			health_sr_now();
		} else {
			evloop_wake_at(ha.rejoin_sr_at + HA_REJOIN_SR_MS);
		}
	}
}

/* a reload changed weights or thresholds: the maps and the rings follow */
void ha_reloaded(void)
{
	node_sync_all();
	health_sr_now();
}

void ha_close(void)
{
	failover_cancel(true);
	syncrep_forget();
	fence_cancel_all();
	follow_cancel_all();
}
