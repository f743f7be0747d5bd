/* fence.c: a node that must not take writes: read-only and its clients ended, or stopped; fence_command */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "command.h"
#include "fence.h"
#include "log.h"
#include "node.h"
#include "nodeconn.h"
#include "pgctl.h"
#include "pgq.h"
#include "proc.h"

/* ends every client session but pgxrd's own; they roll back what they had not committed */
#define FENCE_TERMINATE_SQL \
	"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity " \
	"WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() " \
	"AND application_name <> 'pgxrd'"

/*
 * Ends its walsenders but the one to keep (%s: an address, or NULL).  A
 * standby cut off reconnects at once (its first retry does not wait for
 * wal_retrieve_retry_interval): a switchover first re-points the others
 * at the candidate, and this ends those it could not re-point.
 */
#define FENCE_WALSENDERS_SQL \
	"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_replication " \
	"WHERE client_addr IS DISTINCT FROM %s"

enum fence_kind { FENCE_READ_ONLY, FENCE_LIFT, FENCE_STOP, FENCE_START, FENCE_COMMAND };

/* one fence step on one node; its queries or children chain through callbacks */
struct fence_job {
	enum fence_kind kind;
	int id;
	struct pgq_conn *conn;
	struct pgctl_dir dir;
	pid_t pid;
	int step;
	__u64 lsn;
	char keep[64];		/* the standby whose walsender stays (an address literal), or "NULL" */
	bool flush;		/* a switchover's: the position is forced out, for keep to replay */
	char out[4096];		/* pg_controldata's output */
	fence_cb cb;
	void *arg;
	struct fence_job *next;
};

/* running jobs, and the settings they use */
static struct {
	const struct pgxr_config *cfg;
	struct fence_job *jobs;
} fence = { 0 };

void fence_init(const struct pgxr_config *cfg)
{
	fence.cfg = cfg;
}

static struct fence_job *fence_job_new(struct node *n, enum fence_kind kind, fence_cb cb,
				       void *arg)
{
	struct fence_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->kind = kind;
	j->id = n->id;
	j->cb = cb;
	j->arg = arg;
	j->next = fence.jobs;
	fence.jobs = j;
	return j;
}

static void fence_job_free(struct fence_job *j)
{
	struct fence_job **pp;

	for (pp = &fence.jobs; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	pgq_close(j->conn);
	free(j);
}

static void fence_end(struct fence_job *j, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fence_end(struct fence_job *j, int status, const char *fmt, ...)
{
	fence_cb cb = j->cb;
	void *arg = j->arg;
	__u64 lsn = j->lsn;
	char msg[512] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	fence_job_free(j);
	if (cb)
		cb(status, lsn, msg, arg);
}

/* a job's child exited: a late exit of a cancelled job finds no job */
static struct fence_job *fence_job_of(void *arg)
{
	for (struct fence_job *j = fence.jobs; j; j = j->next)
		if (j == arg)
			return j;
	return NULL;
}

/*
 * Read-only, then the clients: ALTER SYSTEM SET
 * default_transaction_read_only (it survives a restart of the node),
 * reload, end every client session, flush, and tell the WAL position
 * after them: every commit acknowledged by the node is before it.
 */
static void fence_read_only_step(const struct pgq_result *res, const char *err, void *arg)
{
	static const char *const steps[] = {
		"ALTER SYSTEM SET default_transaction_read_only = on",
		"SELECT pg_reload_conf()",
		FENCE_TERMINATE_SQL,
		FENCE_WALSENDERS_SQL,
		/* the standbys whose walsenders just ended must not hold this commit up */
		"SET synchronous_commit = local",
		/*
		 * A commit of its own flushes what the node inserted: walsenders
		 * send only flushed WAL, and an idle primary's last records (an
		 * asynchronous commit's, a page prune's) may wait for the next
		 * commit.  A transactional message is WAL a read-only transaction
		 * may write; logical decoding clients that take messages see it,
		 * with prefix "pgxr".
		 */
		"SELECT CASE WHEN pg_is_in_recovery() THEN NULL "
		"ELSE pg_logical_emit_message(true, 'pgxr', 'fenced') END",
		/*
		 * At or past the end of that commit: a position a standby's
		 * replay reaches.  The insert position may point past the next
		 * page's header, where no record may come for a long time.
		 */
		"SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
		"ELSE pg_current_wal_flush_lsn() END - '0/0'",
	};
	const int nsteps = sizeof(steps) / sizeof(steps[0]);
	struct fence_job *j = arg;
	struct node *n = node_get(j->id);
	char sql[512];

	if (j->step > 0 && !res) {
		fence_end(j, -EIO, "%s: %s", steps[j->step - 1], err);
		return;
	}
	if (j->step == 3)
		log_info("node %d: %s client session(s) ended", j->id, pgq_value(res, 0, 0));
	if (j->step == 4 && strcmp(pgq_value(res, 0, 0), "0"))
		log_info("node %d: %s walsender(s) ended", j->id, pgq_value(res, 0, 0));
	/*
	 * Only a switchover waits for the position.  A commit on an old
	 * primary that will not be one again would only give its rewind
	 * more to undo.
	 */
	if (j->step == 4 && !j->flush)
		j->step = 6;
	if (j->step == nsteps) {
		j->lsn = strtoull(pgq_value(res, 0, 0), NULL, 10);
		n->read_only_set = true;
		fence_end(j, 0, NULL);
		return;
	}
	snprintf(sql, sizeof(sql), steps[j->step], j->keep);
	j->step++;
	if (pgq_query(j->conn, sql, nodeconn_timeout_ms(n), fence_read_only_step, j))
		fence_end(j, -EIO, "lost the connection to node %d", j->id);
}

static void fence_lift_step(const struct pgq_result *res, const char *err, void *arg)
{
	static const char *const steps[] = {
		"ALTER SYSTEM RESET default_transaction_read_only",
		"SELECT pg_reload_conf()",
	};
	struct fence_job *j = arg;
	struct node *n = node_get(j->id);

	if (j->step > 0 && !res) {
		fence_end(j, -EIO, "%s: %s", steps[j->step - 1], err);
		return;
	}
	if (j->step == 2) {
		n->read_only_set = false;
		fence_end(j, 0, NULL);
		return;
	}
	if (pgq_query(j->conn, steps[j->step++], nodeconn_timeout_ms(n), fence_lift_step, j))
		fence_end(j, -EIO, "lost the connection to node %d", j->id);
}

static int fence_sql(struct node *n, enum fence_kind kind, const struct node *keep,
		       pgq_result_cb step, fence_cb cb, void *arg)
{
	struct fence_job *j = fence_job_new(n, kind, cb, arg);
	char addr[ADDR_STRLEN];

	if (!j)
		return -ENOMEM;
	j->flush = keep;
	if (keep)
		snprintf(j->keep, sizeof(j->keep), "'%s'::inet",
			 addr_format(&keep->cfg->addr, addr, sizeof(addr)));
	else
		snprintf(j->keep, sizeof(j->keep), "NULL");
	j->conn = nodeconn_open(n, NODECONN_HEALTH, nodeconn_timeout_ms(n), NULL, NULL);
	if (!j->conn) {
		int ret = -errno;

		fence_job_free(j);
		return ret;
	}
	step(NULL, NULL, j);
	return 0;
}

/*
 * n refuses writes: read-only, its client sessions and its walsenders
 * ended (but keep's, when given: the standby about to be promoted, which
 * then gets a position it can replay up to).
 */
int fence_read_only(struct node *n, const struct node *keep, fence_cb cb, void *arg)
{
	return fence_sql(n, FENCE_READ_ONLY, keep, fence_read_only_step, cb, arg);
}

int fence_lift(struct node *n, fence_cb cb, void *arg)
{
	return fence_sql(n, FENCE_LIFT, NULL, fence_lift_step, cb, arg);
}

/* "Latest checkpoint location:  0/3000060" of pg_controldata: the end of a cleanly stopped WAL */
static int fence_checkpoint(const char *out, __u64 *lsn)
{
	const char *p = strstr(out, "Latest checkpoint location:");
	unsigned hi, lo;

	if (!p || sscanf(p + 27, " %X/%X", &hi, &lo) != 2)
		return -EINVAL;
	*lsn = ((__u64)hi << 32) | lo;
	return 0;
}

/* "Database cluster state:   shut down": stopped cleanly */
static bool fence_shut_down(const char *out)
{
	const char *p = strstr(out, "Database cluster state:");

	if (!p)
		return false;
	for (p += 23; *p == ' ' || *p == '\t'; p++)
		;
	return !strncmp(p, "shut down", 9);
}

static void fence_controldata_done(int status, void *arg)
{
	struct fence_job *j = fence_job_of(arg);

	if (!j)
		return;
	if (status) {
		fence_end(j, -EIO, "pg_controldata exited with status %d", status);
		return;
	}
	if (!fence_shut_down(j->out)) {
		fence_end(j, -EIO, "node %d was not shut down cleanly", j->id);
		return;
	}
	if (fence_checkpoint(j->out, &j->lsn)) {
		fence_end(j, -EIO, "no checkpoint location in pg_controldata's output");
		return;
	}
	fence_end(j, 0, NULL);
}

static void fence_stopped(int status, void *arg)
{
	struct fence_job *j = fence_job_of(arg);
	char *args[] = { "-D", NULL, NULL };
	int ret;

	if (!j)
		return;
	args[1] = (char *)j->dir.path;
	if (status) {
		fence_end(j, -EIO, status == -ETIMEDOUT ? "pg_ctl stop did not finish in time" :
							  "pg_ctl stop exited with status %d", status);
		return;
	}
	ret = pgctl_capture(&j->dir, "fence: pg_controldata", "pg_controldata", args, j->out,
			    sizeof(j->out), fence.cfg->command_timeout * 1000,
			    fence_controldata_done, j);
	if (ret < 0)
		fence_end(j, ret, "could not run pg_controldata: %s", strerror(-ret));
}

static void fence_started(int status, void *arg)
{
	struct fence_job *j = fence_job_of(arg);

	if (!j)
		return;
	if (status)
		fence_end(j, -EIO, "pg_ctl start exited with status %d", status);
	else
		fence_end(j, 0, NULL);
}

/*
 * pg_ctl stop or start on n's data directory, which must be on this host,
 * bounded by switchover_timeout.
 */
static int fence_pg_ctl(struct node *n, enum fence_kind kind, fence_cb cb, void *arg)
{
	char err[256], timeout[16], logfile[4200];
	char *args[] = { NULL, "-D", NULL, "-w", "-t", timeout, NULL, NULL, NULL, NULL };
	struct fence_job *j;
	int ret;

	j = fence_job_new(n, kind, cb, arg);
	if (!j)
		return -ENOMEM;
	if (!pgctl_local(n, n->pg.version_num, &j->dir, err, sizeof(err))) {
		log_warning("node %d: %s", n->id, err);
		fence_job_free(j);
		return -ENOENT;
	}
	snprintf(timeout, sizeof(timeout), "%d", fence.cfg->switchover_timeout);
	snprintf(logfile, sizeof(logfile), "%s/pgxr-start.log", j->dir.path);
	args[0] = kind == FENCE_STOP ? "stop" : "start";
	args[2] = (char *)j->dir.path;
	args[6] = kind == FENCE_STOP ? "-m" : "-l";
	args[7] = kind == FENCE_STOP ? "fast" : logfile;
	ret = pgctl_run(&j->dir, kind == FENCE_STOP ? "fence: pg_ctl stop" : "fence: pg_ctl start",
			"pg_ctl", args, NULL, (fence.cfg->switchover_timeout + 5) * 1000,
			kind == FENCE_STOP ? fence_stopped : fence_started, j);
	if (ret < 0) {
		fence_job_free(j);
		return ret;
	}
	j->pid = ret;
	return 0;
}

/*
 * A clean stop of a node whose data directory is here: a fast shutdown
 * ends its sessions, and its walsenders send everything, the shutdown
 * checkpoint too, before it exits.  The end of its WAL comes from
 * pg_controldata.
 */
int fence_stop(struct node *n, fence_cb cb, void *arg)
{
	return fence_pg_ctl(n, FENCE_STOP, cb, arg);
}

/* starts a local node again as it was (a switchover that is undone) */
int fence_start(struct node *n, fence_cb cb, void *arg)
{
	return fence_pg_ctl(n, FENCE_START, cb, arg);
}

static void fence_command_done(int status, void *arg)
{
	struct fence_job *j = fence_job_of(arg);

	if (!j)
		return;
	if (status == -ETIMEDOUT)
		fence_end(j, -ETIMEDOUT, "fence_command did not exit within command_timeout (%d s): killed",
			  fence.cfg->command_timeout);
	else if (status)
		fence_end(j, -EIO, "fence_command exited with status %d", status);
	else
		fence_end(j, 0, NULL);
}

/* fence_command (STONITH) with pgpool's placeholders: %d the fenced node, %m the primary */
int fence_command(struct node *n, int primary, fence_cb cb, void *arg)
{
	char cmd[2048], env_buf[8192], *env[24];
	struct fence_job *j;
	int ret;

	if (!fence.cfg->fence_command[0])
		return -ENOENT;
	if (command_line(fence.cfg->fence_command, n->id, primary, n->id, cmd, sizeof(cmd),
				  env_buf, sizeof(env_buf), env, 24))
		return -ENAMETOOLONG;
	j = fence_job_new(n, FENCE_COMMAND, cb, arg);
	if (!j)
		return -ENOMEM;
	ret = proc_shell("fence_command", cmd, env, fence.cfg->command_timeout * 1000,
			 fence_command_done, j);
	if (ret < 0) {
		fence_job_free(j);
		return ret;
	}
	j->pid = ret;
	return 0;
}

/* at shutdown: no callback runs any more; children are killed by proc_kill_all() */
void fence_cancel_all(void)
{
	while (fence.jobs)
		fence_job_free(fence.jobs);
}
