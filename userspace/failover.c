/* failover.c: asks the standbys how far they are and what they hear, promotes one, waits for it */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evloop.h"
#include "command.h"
#include "failover.h"
#include "log.h"
#include "node.h"
#include "nodeconn.h"
#include "pgq.h"
#include "proc.h"

/* asked of each standby: its position, and its walreceiver's last word from the primary */
#define FAILOVER_SURVEY_SQL \
	"SELECT GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) - '0/0', " \
	"pg_is_in_recovery(), current_setting('default_transaction_read_only'), " \
	"w.status, w.sender_host, w.sender_port, " \
	"(EXTRACT(epoch FROM clock_timestamp() - w.last_msg_receipt_time) * 1000)::bigint " \
	"FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver AS w ON true"

/* re-send the promote request this often while the candidate stays in recovery */
#define FAILOVER_NUDGE_MS 50

enum failover_step {
	FO_IDLE,
	FO_SURVEY,		/* asking the standbys */
	FO_RESET,		/* lifting a read-only fence pgxr left on the candidate */
	FO_PROMOTE,		/* pg_promote() sent, waiting for the end of recovery */
	FO_COMMAND,		/* failover_command running */
};

struct failover_ask {
	struct pgq_conn *conn;
	bool shared;		/* conn is the node's health connection: not ours to close */
};

/* the one survey or promotion that runs at a time */
static struct {
	const struct pgxr_config *cfg;
	enum failover_step step;
	struct failover_position pos[PGXR_MAX_BACKENDS];
	struct failover_ask ask[PGXR_MAX_BACKENDS];
	int outstanding;
	failover_survey_cb survey_cb;
	failover_promote_cb promote_cb;
	void *arg;
	int candidate;
	long long deadline;
	struct pgq_conn *conn;	/* to the candidate */
	unsigned generation;	/* ties a failover_command's exit to its promotion */
	unsigned survey_gen;	/* ties an answer on a shared connection to its survey */
	bool asking;		/* failover_survey() is sending: answers cannot end it yet */
	pid_t pid;		/* failover_command, while it runs */
	long long promoted;	/* when pg_promote() was first sent */
	long long nudged;	/* when it was last sent */
	long long nudge_logged;	/* when a re-send was last logged */
} fo;

void failover_init(const struct pgxr_config *cfg)
{
	fo.cfg = cfg;
	fo.candidate = -1;
}

static void failover_close(void)
{
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		if (!fo.ask[id].shared)
			pgq_close(fo.ask[id].conn);
		fo.ask[id] = (struct failover_ask){};
	}
	pgq_close(fo.conn);
	fo.conn = NULL;
}

/*
 * Nothing is reported after this.  A running failover_command is killed
 * (kill) or left to finish (its promotion was seen to succeed); either
 * way no other promotion starts until it has exited.
 */
void failover_cancel(bool kill)
{
	failover_close();
	if (fo.step == FO_COMMAND) {
		if (kill)
			proc_kill(fo.pid);
		fo.promote_cb = NULL;	/* it stays FO_COMMAND until the command has exited */
		return;
	}
	fo.step = FO_IDLE;
}

static void failover_survey_end(void)
{
	failover_survey_cb cb = fo.survey_cb;

	failover_close();
	fo.step = FO_IDLE;
	cb(fo.pos, fo.arg);
}

/* an answer's arg: the survey it belongs to, and the node */
#define FAILOVER_ASK_ARG(id) ((void *)(uintptr_t)((fo.survey_gen << 8) | (unsigned)(id)))

static void failover_survey_done(const struct pgq_result *res, const char *err, void *arg)
{
	int id = (uintptr_t)arg & 0xff;
	struct failover_ask *a = &fo.ask[id];
	struct failover_position *p = &fo.pos[id];

	/* a late answer on a health connection, to a survey that is over */
	if (fo.step != FO_SURVEY || ((uintptr_t)arg >> 8) != fo.survey_gen)
		return;

	if (res && pgq_ntuples(res) == 1 && !pgq_isnull(res, 0, 0)) {
		p->answered = true;
		p->answered_at = evloop_now_ms();
		p->h.lsn = strtoull(pgq_value(res, 0, 0), NULL, 10);
		p->h.role = !strcmp(pgq_value(res, 0, 1), "t") ? PGXR_ROLE_STANDBY :
								  PGXR_ROLE_PRIMARY;
		p->h.read_only = !strcmp(pgq_value(res, 0, 2), "on");
		p->h.receiving = !strcmp(pgq_value(res, 0, 3), "streaming");
		snprintf(p->h.sender_host, sizeof(p->h.sender_host), "%s", pgq_value(res, 0, 4));
		p->h.sender_port = atoi(pgq_value(res, 0, 5));
		p->h.receipt_age_ms = pgq_isnull(res, 0, 6) ? -1 :
							      strtoll(pgq_value(res, 0, 6), NULL, 10);
	} else {
		log_warning("failover: node %d did not tell its WAL position: %s", id,
			    err ? err : "no position");
	}
	if (!a->shared)
		pgq_close(a->conn);
	a->conn = NULL;
	a->shared = false;
	if (--fo.outstanding == 0 && !fo.asking)
		failover_survey_end();
}

/*
 * Asks every node in ask[] (by id) for its WAL position (received or
 * replayed, whichever is further: promotion replays all of it) and for
 * what its walreceiver last heard.  shared[id], when set, is the node's
 * health connection, which saves a connection set-up.
 */
int failover_survey(const bool *ask, struct pgq_conn *const *shared, failover_survey_cb cb,
		    void *arg)
{
	long long now = evloop_now_ms();

	if (fo.step != FO_IDLE)
		return -EBUSY;
	memset(fo.pos, 0, sizeof(fo.pos));
	fo.survey_gen = (fo.survey_gen + 1) & 0xffffff;
	fo.step = FO_SURVEY;
	fo.survey_cb = cb;
	fo.arg = arg;
	fo.outstanding = 0;
	fo.deadline = now;
	fo.asking = true;
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		struct node *n = node_get(id);
		struct failover_ask *a = &fo.ask[id];
		int timeout;

		if (!n || !ask[id])
			continue;
		timeout = nodeconn_timeout_ms(n);
		if (now + timeout + 100 > fo.deadline)
			fo.deadline = now + timeout + 100;
		a->conn = shared[id];
		a->shared = a->conn != NULL;
		if (!a->conn)
			a->conn = nodeconn_open(n, NODECONN_HEALTH, timeout, NULL, NULL);
		if (!a->conn)
			continue;
		fo.pos[id].asked = true;
		fo.outstanding++;
		if (pgq_query(a->conn, FAILOVER_SURVEY_SQL, timeout, failover_survey_done,
			      FAILOVER_ASK_ARG(id))) {
			fo.outstanding--;
			fo.pos[id].asked = false;
			if (!a->shared)
				pgq_close(a->conn);
			a->conn = NULL;
		}
	}
	fo.asking = false;
	evloop_wake_at(fo.deadline);
	if (!fo.outstanding && fo.step == FO_SURVEY)
		failover_survey_end();
	return 0;
}

static void failover_promote_end(int status, int id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void failover_promote_end(int status, int id, const char *fmt, ...)
{
	failover_promote_cb cb = fo.promote_cb;
	char msg[512] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	failover_close();
	fo.step = FO_IDLE;
	if (cb)
		cb(status, id, msg, fo.arg);
}

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
static void failover_poll(const struct pgq_result *res, const char *err, void *arg)
{
	const char *sql;
	bool nudge;

	(void)arg;
	if (res && !strcmp(pgq_value(res, 0, 1), "f")) {
		failover_promote_end(0, fo.candidate, NULL);
		return;
	}
	if (!res && pgq_broken(fo.conn)) {
		failover_promote_end(-EIO, fo.candidate, "waiting for node %d to promote: %s",
				     fo.candidate, err);
		return;
	}
	if (evloop_now_ms() >= fo.deadline) {
		failover_promote_end(-ETIMEDOUT, fo.candidate,
				     "node %d did not leave recovery within search_primary_node_timeout",
				     fo.candidate);
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
	if (pgq_query(fo.conn, sql, nodeconn_timeout_ms(node_get(fo.candidate)), failover_poll,
		      NULL))
		failover_promote_end(-EIO, fo.candidate, "lost the connection to node %d",
				     fo.candidate);
}

static void failover_promoted(const struct pgq_result *res, const char *err, void *arg)
{
	(void)arg;
	if (!res || strcmp(pgq_value(res, 0, 0), "t")) {
		failover_promote_end(-EIO, fo.candidate, "pg_promote() on node %d: %s", fo.candidate,
				     err ? err : "refused to promote");
		return;
	}
	fo.step = FO_PROMOTE;
	fo.nudged = fo.promoted = evloop_now_ms();
	fo.nudge_logged = 0;
	failover_poll(res, NULL, NULL);
}

static void failover_send_promote(void)
{
	/* the second column keeps failover_poll()'s shape: "t" means still in recovery */
	if (pgq_query(fo.conn, "SELECT pg_promote(false), 't'",
		      nodeconn_timeout_ms(node_get(fo.candidate)), failover_promoted, NULL))
		failover_promote_end(-EIO, fo.candidate, "could not ask node %d to promote",
				     fo.candidate);
}

/* a fence pgxr left (default_transaction_read_only) must not outlive the promotion */
static void failover_reset_done(const struct pgq_result *res, const char *err, void *arg)
{
	(void)arg;
	if (!res) {
		failover_promote_end(-EIO, fo.candidate,
				     "could not lift the read-only setting of node %d: %s",
				     fo.candidate, err);
		return;
	}
	if (!strcmp(pgq_cmd_status(res), "ALTER SYSTEM")) {
		if (pgq_query(fo.conn, "SELECT pg_reload_conf()",
			      nodeconn_timeout_ms(node_get(fo.candidate)), failover_reset_done, NULL))
			failover_promote_end(-EIO, fo.candidate, "lost the connection to node %d",
					     fo.candidate);
		return;
	}
	log_info("node %d: default_transaction_read_only reset before its promotion", fo.candidate);
	failover_send_promote();
}

static void failover_command_done(int status, void *arg)
{
	/* a command that outlived its promotion must not decide the next one */
	if ((uintptr_t)arg != fo.generation || fo.step != FO_COMMAND)
		return;
	if (!fo.promote_cb) {
		/* cancelled: the command has exited now */
		log_info("failover_command exited with status %d after its promotion was decided", status);
		fo.step = FO_IDLE;
		return;
	}
	if (status == -ETIMEDOUT)
		failover_promote_end(-ETIMEDOUT, -1,
				     "failover_command did not exit within command_timeout (%d s): killed",
				     fo.cfg->command_timeout);
	else if (status)
		failover_promote_end(-EIO, -1, "failover_command exited with status %d", status);
	else
		failover_promote_end(0, -1, NULL);
}

/*
 * Promotes candidate: failover_command with pgpool's placeholders when
 * set, else pg_promote() over SQL, re-sent until the node is out of
 * recovery.  reset_read_only: the candidate still has the read-only
 * setting pgxr fences a node with; it is lifted first.
 */
int failover_promote(int candidate, int old, bool reset_read_only, failover_promote_cb cb,
		     void *arg)
{
	struct node *c = node_get(candidate);
	long long wait = fo.cfg->search_primary_node_timeout;
	int ret;

	if (fo.step != FO_IDLE)
		return -EBUSY;
	fo.generation++;
	fo.candidate = candidate;
	fo.promote_cb = cb;
	fo.arg = arg;
	fo.deadline = evloop_now_ms() + (wait ? wait * 1000 : 365LL * 86400 * 1000);
	if (fo.cfg->failover_command[0]) {
		char cmd[2048], env_buf[8192], *env[24];

		if (command_line(fo.cfg->failover_command, old, candidate, old, cmd,
					  sizeof(cmd), env_buf, sizeof(env_buf), env, 24))
			return -ENAMETOOLONG;
		ret = proc_shell("failover_command", cmd, env, fo.cfg->command_timeout * 1000,
				 failover_command_done, (void *)(uintptr_t)fo.generation);
		if (ret < 0)
			return ret;
		fo.pid = ret;
		fo.step = FO_COMMAND;
		return 0;
	}
	fo.conn = nodeconn_open(c, NODECONN_HEALTH, nodeconn_timeout_ms(c), NULL, NULL);
	if (!fo.conn)
		return -errno;
	fo.step = FO_RESET;
	if (reset_read_only)
		ret = pgq_query(fo.conn, "ALTER SYSTEM RESET default_transaction_read_only",
				nodeconn_timeout_ms(c), failover_reset_done, NULL);
	else
		ret = pgq_query(fo.conn, "SELECT pg_promote(false), 't'", nodeconn_timeout_ms(c),
				failover_promoted, NULL);
	if (ret) {
		failover_close();
		fo.step = FO_IDLE;
	}
	return ret;
}

/* per-tick hook: a survey that takes too long ends with what it has */
void failover_maintain(void *arg)
{
	(void)arg;
	if (fo.step == FO_SURVEY && evloop_now_ms() >= fo.deadline)
		failover_survey_end();
}
