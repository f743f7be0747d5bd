/* rejoin.c: stop, pg_rewind, standby.signal, start, wait for streaming, attach; or rejoin_command */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
#include "rejoin.h"

/* configuration files pg_rewind would overwrite with the source's */
static const char *const rejoin_conf_files[] = {
	"postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf",
};
#define REJOIN_NCONF (sizeof(rejoin_conf_files) / sizeof(rejoin_conf_files[0]))

/* a CHECKPOINT may have a lot to write */
#define REJOIN_CHECKPOINT_MS 120000

enum rejoin_step {
	RJ_IDLE,
	RJ_CHECKPOINT,		/* CHECKPOINT on the primary, for pg_rewind */
	RJ_CONNINFO,		/* asking the primary for the conninfo to stream with */
	RJ_STATUS,		/* pg_ctl status */
	RJ_STOP,		/* pg_ctl stop -m fast */
	RJ_REWIND,		/* pg_rewind */
	RJ_START,		/* pg_ctl start */
	RJ_COMMAND,		/* rejoin_command */
	RJ_WAIT,		/* until the primary sees it streaming */
};

/* the one rejoin that can run at a time */
static struct {
	const struct pgxr_config *cfg;
	enum rejoin_step step;
	int id;
	int primary;
	bool local;		/* the data directory is here: pgxrd does the work */
	char command[2048];	/* else: rejoin_command, expanded */
	struct ctl_client *waiter;
	struct pgq_conn *pc;
	uid_t uid;
	gid_t gid;
	char bin[PATH_MAX];
	char conninfo[2048];
	char *conf[REJOIN_NCONF];	/* the target's own configuration files */
	size_t conf_len[REJOIN_NCONF];
	long long started, deadline;
} rj;

void rejoin_init(const struct pgxr_config *cfg)
{
	rj.cfg = cfg;
}

static void rejoin_end(const char *error)
{
	for (size_t i = 0; i < REJOIN_NCONF; i++) {
		free(rj.conf[i]);
		rj.conf[i] = NULL;
	}
	pgq_close(rj.pc);
	rj.pc = NULL;
	rj.step = RJ_IDLE;
	if (rj.waiter) {
		ctl_reply(rj.waiter, error ? CTL_ERROR : CTL_OK, error ? error : "");
		rj.waiter = NULL;
	}
}

static void rejoin_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void rejoin_fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	event_add(rj.id, "rejoin failed: %s", msg);
	rejoin_end(msg);
}

static const char *rejoin_dir(void)
{
	return node_get(rj.id)->cfg->data_directory;
}

/* runs a PostgreSQL program as the data directory's owner */
static int rejoin_run(const char *tag, const char *prog, char *const args[], proc_done_cb cb)
{
	char path[PATH_MAX + 16], pw[300], *argv[16], *env[2] = { NULL, NULL };
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", rj.bin, prog);
	argv[n++] = path;
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	/* pg_rewind's source password goes by the environment, never the command line */
	if (rj.cfg->recovery_password[0]) {
		snprintf(pw, sizeof(pw), "PGPASSWORD=%s", rj.cfg->recovery_password);
		env[0] = pw;
	}
	return proc_spawn(tag, argv, rj.uid, rj.gid, env, cb, NULL);
}

/* appended settings win over earlier lines of postgresql.auto.conf */
static int rejoin_write_standby(void)
{
	char path[PATH_MAX + 32], line[4400];
	int fd, ret = 0;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/standby.signal", rejoin_dir());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || fchown(fd, rj.uid, rj.gid))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (ret)
		return ret;
	char lit[4300];

	if (pgtext_conf_literal(rj.conninfo, lit, sizeof(lit)))
		return -ENAMETOOLONG;
	n = snprintf(line, sizeof(line),
		     "# written by pgxrd: rejoined as a standby of node %d\nprimary_conninfo = %s\n",
		     rj.primary, lit);
	if (n >= sizeof(line))
		return -ENAMETOOLONG;
	snprintf(path, sizeof(path), "%s/postgresql.auto.conf", rejoin_dir());
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, line, n) != (ssize_t)n)
		ret = -EIO;
	close(fd);
	return ret;
}

static void rejoin_save_conf(void)
{
	for (size_t i = 0; i < REJOIN_NCONF; i++) {
		char path[PATH_MAX + 32];
		struct stat st;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", rejoin_dir(), rejoin_conf_files[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!fstat(fd, &st) && (rj.conf[i] = malloc(st.st_size + 1))) {
			ssize_t got = read(fd, rj.conf[i], st.st_size);

			rj.conf_len[i] = got > 0 ? (size_t)got : 0;
		}
		close(fd);
	}
}

static int rejoin_restore_conf(void)
{
	for (size_t i = 0; i < REJOIN_NCONF; i++) {
		char path[PATH_MAX + 32];
		int fd;

		if (!rj.conf[i])
			continue;
		snprintf(path, sizeof(path), "%s/%s", rejoin_dir(), rejoin_conf_files[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		if (write(fd, rj.conf[i], rj.conf_len[i]) != (ssize_t)rj.conf_len[i] ||
		    fchown(fd, rj.uid, rj.gid)) {
			close(fd);
			return -EIO;
		}
		close(fd);
	}
	return 0;
}

static void rejoin_wait(void)
{
	rj.step = RJ_WAIT;
	rj.deadline = evloop_now_ms() + rj.cfg->recovery_timeout * 1000LL;
	event_add(rj.id, "waiting until it streams from node %d (recovery_timeout %d s)", rj.primary,
		  rj.cfg->recovery_timeout);
	health_check_now(node_get(rj.id));
	health_sr_now();
}

static void rejoin_started(int status, void *arg)
{
	(void)arg;
	if (status) {
		rejoin_fail("pg_ctl start exited with status %d", status);
		return;
	}
	rejoin_wait();
}

static void rejoin_rewound(int status, void *arg)
{
	char log[PATH_MAX + 32], timeout[16];
	char *args[] = { "start", "-D", (char *)rejoin_dir(), "-w", "-t", timeout, "-l", log, NULL };
	int ret;

	(void)arg;
	if (status) {
		/* the target is stopped: its own configuration goes back all the same */
		rejoin_restore_conf();
		rejoin_fail("pg_rewind exited with status %d", status);
		return;
	}
	ret = rejoin_restore_conf();
	if (!ret)
		ret = rejoin_write_standby();
	if (ret) {
		rejoin_fail("could not write its configuration back: %s", strerror(-ret));
		return;
	}
	event_add(rj.id, "rewound to node %d's timeline; starting it as a standby", rj.primary);
	snprintf(timeout, sizeof(timeout), "%d", rj.cfg->recovery_timeout);
	snprintf(log, sizeof(log), "%s/pgxr-rejoin.log", rejoin_dir());
	rj.step = RJ_START;
	ret = rejoin_run("rejoin: pg_ctl start", "pg_ctl", args, rejoin_started);
	if (ret)
		rejoin_fail("could not run pg_ctl: %s", strerror(-ret));
}

static void rejoin_rewind(void)
{
	const struct node *p = node_get(rj.primary);
	char target[PATH_MAX + 32], source[1200], hostaddr[ADDR_STRLEN];
	char *args[] = { target, source, NULL };
	int ret;

	rejoin_save_conf();
	addr_format(&p->cfg->addr, hostaddr, sizeof(hostaddr));
	snprintf(target, sizeof(target), "--target-pgdata=%s", rejoin_dir());
	snprintf(source, sizeof(source),
		 "--source-server=host=%s hostaddr=%s port=%d user=%s dbname=%s", p->cfg->hostname,
		 hostaddr, p->cfg->port, rj.cfg->recovery_user, rj.cfg->health_check_database);
	rj.step = RJ_REWIND;
	event_add(rj.id, "pg_rewind from node %d", rj.primary);
	ret = rejoin_run("rejoin: pg_rewind", "pg_rewind", args, rejoin_rewound);
	if (ret)
		rejoin_fail("could not run pg_rewind: %s", strerror(-ret));
}

static void rejoin_stopped(int status, void *arg)
{
	(void)arg;
	if (status) {
		rejoin_fail("pg_ctl stop exited with status %d", status);
		return;
	}
	rejoin_rewind();
}

static void rejoin_status(int status, void *arg)
{
	char *args[] = { "stop", "-D", (char *)rejoin_dir(), "-m", "fast", "-w", "-t", "60", NULL };
	int ret;

	(void)arg;
	/* pg_ctl status: 0 running, 3 not running; anything else is trouble */
	if (status == 3) {
		rejoin_rewind();
		return;
	}
	if (status) {
		rejoin_fail("pg_ctl status exited with status %d", status);
		return;
	}
	event_add(rj.id, "stopping it (fast) for pg_rewind");
	rj.step = RJ_STOP;
	ret = rejoin_run("rejoin: pg_ctl stop", "pg_ctl", args, rejoin_stopped);
	if (ret)
		rejoin_fail("could not run pg_ctl: %s", strerror(-ret));
}

static void rejoin_got_conninfo(const PGresult *res, const char *err, void *arg)
{
	const struct node *p = node_get(rj.primary);
	char *args[] = { "status", "-D", (char *)rejoin_dir(), NULL };
	char base[600];
	int ret;

	(void)arg;
	if (!res || PQntuples(res) != 1) {
		rejoin_fail("could not ask node %d how standbys connect: %s", rj.primary,
			    err ? err : "no answer");
		return;
	}
	/*
	 * The primary was a standby once: its primary_conninfo has the user,
	 * password and options replication works with here.  Without one,
	 * recovery_user is used.
	 */
	snprintf(base, sizeof(base), "%s", PQgetvalue(res, 0, 0));
	if (!base[0])
		snprintf(base, sizeof(base), "user=%s%s%s", rj.cfg->recovery_user,
			 rj.cfg->recovery_password[0] ? " password=" : "", rj.cfg->recovery_password);
	if (follow_conninfo(base, p, rj.conninfo, sizeof(rj.conninfo))) {
		rejoin_fail("node %d's primary_conninfo cannot be used", rj.primary);
		return;
	}
	pgq_close(rj.pc);
	rj.pc = NULL;
	if (!rj.bin[0]) {
		snprintf(rj.bin, sizeof(rj.bin), "/usr/lib/postgresql/%d/bin", p->pg.version_num / 10000);
		if (access(rj.bin, X_OK)) {
			rejoin_fail("no PostgreSQL programs in \"%s\": set pg_bin_dir", rj.bin);
			return;
		}
	}
	rj.step = RJ_STATUS;
	ret = rejoin_run("rejoin: pg_ctl status", "pg_ctl", args, rejoin_status);
	if (ret)
		rejoin_fail("could not run pg_ctl: %s", strerror(-ret));
}

static void rejoin_command_done(int status, void *arg)
{
	(void)arg;
	if (status) {
		rejoin_fail("rejoin_command exited with status %d", status);
		return;
	}
	rejoin_wait();
}

static void rejoin_checkpointed(const PGresult *res, const char *err, void *arg)
{
	int ret;

	(void)arg;
	if (!res) {
		rejoin_fail("CHECKPOINT on node %d: %s", rj.primary, err);
		return;
	}
	if (rj.local) {
		rj.step = RJ_CONNINFO;
		if (pgq_query(rj.pc, "SELECT current_setting('primary_conninfo')",
			      rj.cfg->health_check_timeout * 1000, rejoin_got_conninfo, NULL))
			rejoin_fail("lost the connection to node %d", rj.primary);
		return;
	}
	pgq_close(rj.pc);
	rj.pc = NULL;
	rj.step = RJ_COMMAND;
	ret = proc_shell("rejoin_command", rj.command, rejoin_command_done, NULL);
	if (ret)
		rejoin_fail("could not run rejoin_command: %s", strerror(-ret));
}

/*
 * "node rejoin ID".  With the data directory on this host pgxrd does it
 * itself; otherwise rejoin_command does the work and pgxrd waits for the
 * node to stream.  Either way the node is attached only once the primary
 * sees it streaming.
 */
int rejoin_start(int id, struct ctl_client *waiter, char *err, size_t len)
{
	struct node *n = node_get(id);
	char pv[PATH_MAX + 16];
	struct stat st;
	int ret;

	if (!n) {
		snprintf(err, len, "node %d is not configured", id);
		return -ENOENT;
	}
	if (rj.step != RJ_IDLE) {
		snprintf(err, len, "a rejoin of node %d is running", rj.id);
		return -EBUSY;
	}
	if (failover_active()) {
		snprintf(err, len, "a failover is running (%s)", failover_status());
		return -EBUSY;
	}
	if (id == node_primary() || node_primary() < 0) {
		snprintf(err, len, id == node_primary() ? "node %d is the primary" :
							 "there is no primary to rejoin node %d to",
			 id);
		return -EINVAL;
	}
	if (n->state == PGXR_BE_UP && n->role == PGXR_ROLE_STANDBY) {
		snprintf(err, len, "node %d is already a standby that is up", id);
		return -EALREADY;
	}
	{
		const struct pgxr_config *cfg = rj.cfg;

		memset(&rj, 0, sizeof(rj));
		rj.cfg = cfg;
	}
	rj.id = id;
	rj.primary = node_primary();
	rj.started = evloop_now_ms();
	snprintf(rj.bin, sizeof(rj.bin), "%s", rj.cfg->pg_bin_dir);
	snprintf(pv, sizeof(pv), "%s/PG_VERSION", n->cfg->data_directory);
	rj.local = n->cfg->data_directory[0] && !stat(pv, &st);
	if (rj.local) {
		rj.uid = st.st_uid;
		rj.gid = st.st_gid;
	} else if (!rj.cfg->rejoin_command[0]) {
		snprintf(err, len,
			 "node %d: backend_data_directory%d is not on this host and rejoin_command is not set",
			 id, id);
		return -EINVAL;
	} else {
		if (failover_command_line(rj.cfg->rejoin_command, id, rj.primary, id, rj.command,
					  sizeof(rj.command))) {
			snprintf(err, len, "rejoin_command is too long once expanded");
			return -ENAMETOOLONG;
		}
	}
	/*
	 * A primary promoted minutes ago may not have checkpointed yet: its
	 * control file still names the old timeline, and pg_rewind would find
	 * "no rewind required" and leave the old primary diverged.
	 */
	rj.pc = health_connect(node_get(rj.primary), rj.cfg->health_check_user,
			       rj.cfg->health_check_password, rj.cfg->health_check_database, NULL,
			       NULL);
	ret = rj.pc ? pgq_query(rj.pc, "CHECKPOINT", REJOIN_CHECKPOINT_MS, rejoin_checkpointed,
				NULL) : -errno;
	if (ret) {
		snprintf(err, len, "could not connect to node %d: %s", rj.primary, strerror(-ret));
		pgq_close(rj.pc);
		rj.pc = NULL;
		return ret;
	}
	event_add(id, "rejoin as a standby of node %d: %s", rj.primary,
		  rj.local ? "data directory on this host" : "with rejoin_command");
	rj.waiter = waiter;
	rj.step = RJ_CHECKPOINT;
	return 0;
}

/* per-tick hook: a rejoined node is attached once the primary sees it stream */
void rejoin_maintain(void *arg)
{
	struct node *n;

	(void)arg;
	if (rj.step != RJ_WAIT)
		return;
	n = node_get(rj.id);
	if (n->pg_ok && n->pg.role == PGXR_ROLE_STANDBY && n->streaming) {
		node_rejoined(n, rj.primary);
		event_add(rj.id, "rejoin complete in %lld ms", evloop_now_ms() - rj.started);
		rejoin_end(NULL);
		return;
	}
	if (evloop_now_ms() >= rj.deadline) {
		rejoin_fail("it did not stream from node %d within recovery_timeout (%d s)", rj.primary,
			    rj.cfg->recovery_timeout);
		return;
	}
	health_sr_now();
}
