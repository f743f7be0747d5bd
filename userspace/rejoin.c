/* rejoin.c: stop, pg_rewind, standby.signal, start, wait for streaming; or rejoin_command */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event.h"
#include "evloop.h"
#include "command.h"
#include "log.h"
#include "node.h"
#include "nodeconn.h"
#include "pgctl.h"
#include "pgq.h"
#include "pgtext.h"
#include "proc.h"
#include "rejoin.h"

/* configuration files pg_rewind would overwrite with the source's */
static const char *const rejoin_conf_files[] = {
	"postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf",
};
#define REJOIN_NCONF (sizeof(rejoin_conf_files) / sizeof(rejoin_conf_files[0]))

/* next to the data directory: pg_rewind removes what only the target has */
#define REJOIN_SAVE_SUFFIX ".pgxr-rejoin"

enum rejoin_step {
	RJ_IDLE,
	RJ_CHECKPOINT,		/* CHECKPOINT on the primary, for pg_rewind */
	RJ_CONNINFO,		/* asking the primary for the conninfo to stream with */
	RJ_STATUS,		/* pg_ctl status */
	RJ_STOP,		/* pg_ctl stop -m fast */
	RJ_REWIND,		/* pg_rewind */
	RJ_SLOT,		/* the node's replication slot on the primary */
	RJ_START,		/* pg_ctl start */
	RJ_COMMAND,		/* rejoin_command */
	RJ_WAIT,		/* until the primary sees it streaming */
};

/* the one rejoin that can run at a time */
static struct {
	const struct pgxr_config *cfg;
	enum rejoin_step step;
	unsigned generation;	/* ties a child's exit to its rejoin */
	int id;
	int primary;
	unsigned flags;		/* REJOIN_* */
	bool local;		/* the data directory is here: pgxrd does the work */
	struct pgctl_dir dir;
	char command[2048];	/* else: rejoin_command, expanded */
	char env_buf[8192];	/* its PGXR_* environment */
	char *env[24];
	rejoin_cb cb;
	void *arg;
	struct pgq_conn *pc;
	pid_t pid;		/* the child of the current step */
	char conninfo[2048];
	char slot[128];
	char *conf[REJOIN_NCONF];	/* the target's own configuration files */
	size_t conf_len[REJOIN_NCONF];
	long long started, deadline;
} rj;

void rejoin_init(const struct pgxr_config *cfg)
{
	rj.cfg = cfg;
}

/* every step, and the wait for streaming, has recovery_timeout */
static void rejoin_step(enum rejoin_step step)
{
	rj.step = step;
	rj.deadline = evloop_now_ms() + rj.cfg->recovery_timeout * 1000LL;
}

static void rejoin_end(const char *error)
{
	rejoin_cb cb = rj.cb;

	for (size_t i = 0; i < REJOIN_NCONF; i++) {
		free(rj.conf[i]);
		rj.conf[i] = NULL;
	}
	pgq_close(rj.pc);
	rj.pc = NULL;
	rj.step = RJ_IDLE;
	rj.generation++;
	rj.cb = NULL;
	if (cb)
		cb(rj.id, error ? -EIO : 0, error ? error : "", rj.arg);
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
	return rj.dir.path;
}

/* how a step's child ended, for the message */
static const char *rejoin_exit(int status)
{
	static char buf[64];

	if (status == -ETIMEDOUT)
		snprintf(buf, sizeof(buf), "did not finish within recovery_timeout (%d s): killed",
			 rj.cfg->recovery_timeout);
	else
		snprintf(buf, sizeof(buf), "exited with status %d", status);
	return buf;
}

/* the exit of a child of an earlier rejoin must not drive this one */
static bool rejoin_current(void *arg)
{
	return (uintptr_t)arg == rj.generation;
}

/*
 * Runs a PostgreSQL program as the data directory's owner.  Only
 * pg_rewind gets the source's password (by the environment, never the
 * command line): pg_ctl start's postmaster would keep it for life.
 */
static int rejoin_run(const char *tag, const char *prog, char *const args[], proc_done_cb cb)
{
	char pw[300], *env[2] = { NULL, NULL };
	int ret;

	if (!strcmp(prog, "pg_rewind") && rj.cfg->recovery_password[0]) {
		snprintf(pw, sizeof(pw), "PGPASSWORD=%s", rj.cfg->recovery_password);
		env[0] = pw;
	}
	ret = pgctl_run(&rj.dir, tag, prog, args, env, rj.cfg->recovery_timeout * 1000, cb,
			(void *)(uintptr_t)rj.generation);
	if (ret > 0)
		rj.pid = ret;
	return ret < 0 ? ret : 0;
}

static void rejoin_save_path(char *path, size_t len, const char *file)
{
	snprintf(path, len, "%s" REJOIN_SAVE_SUFFIX "%s%s", rejoin_dir(), file ? "/" : "",
		 file ? file : "");
}

static int rejoin_read(const char *path, char **buf, size_t *len)
{
	struct stat st;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !(*buf = malloc(st.st_size + 1))) {
		close(fd);
		return -ENOMEM;
	}
	got = read(fd, *buf, st.st_size);
	close(fd);
	*len = got > 0 ? (size_t)got : 0;
	(*buf)[*len] = '\0';
	return 0;
}

static int rejoin_write(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, buf, len) != (ssize_t)len || fchown(fd, rj.dir.uid, rj.dir.gid) || fsync(fd))
		ret = -EIO;
	close(fd);
	return ret;
}

/*
 * The node's own configuration files, before pg_rewind replaces them with
 * the primary's: kept in memory and on disk next to the data directory.
 * A copy left there by a rejoin that was cut short is the real one.
 */
static int rejoin_save_conf(void)
{
	char dir[PATH_MAX + 32], path[PATH_MAX + 64];
	struct stat st;
	bool resumed;
	int ret;

	rejoin_save_path(dir, sizeof(dir), NULL);
	resumed = !stat(dir, &st);
	if (resumed)
		event_add(rj.id, "using the configuration files saved by an earlier rejoin in %s", dir);
	else if (mkdir(dir, 0700) || chown(dir, rj.dir.uid, rj.dir.gid))
		return -errno;
	for (size_t i = 0; i < REJOIN_NCONF; i++) {
		if (resumed)
			rejoin_save_path(path, sizeof(path), rejoin_conf_files[i]);
		else
			snprintf(path, sizeof(path), "%s/%s", rejoin_dir(), rejoin_conf_files[i]);
		if (rejoin_read(path, &rj.conf[i], &rj.conf_len[i]))
			continue;	/* pg_ident.conf, say, may not exist */
		if (!resumed) {
			rejoin_save_path(path, sizeof(path), rejoin_conf_files[i]);
			ret = rejoin_write(path, rj.conf[i], rj.conf_len[i]);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* back into the data directory; then the saved copy is no longer needed */
static int rejoin_restore_conf(void)
{
	char path[PATH_MAX + 64];
	int ret;

	for (size_t i = 0; i < REJOIN_NCONF; i++) {
		if (!rj.conf[i])
			continue;
		snprintf(path, sizeof(path), "%s/%s", rejoin_dir(), rejoin_conf_files[i]);
		ret = rejoin_write(path, rj.conf[i], rj.conf_len[i]);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < REJOIN_NCONF; i++) {
		rejoin_save_path(path, sizeof(path), rejoin_conf_files[i]);
		unlink(path);
	}
	rejoin_save_path(path, sizeof(path), NULL);
	rmdir(path);
	return 0;
}

/* standby.signal, and settings appended to postgresql.auto.conf (the last line wins) */
static int rejoin_write_standby(void)
{
	char path[PATH_MAX + 32], line[4600], lit[4300], slot[300] = "";
	size_t n;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/standby.signal", rejoin_dir());
	ret = rejoin_write(path, "", 0);
	if (ret)
		return ret;
	if (pgtext_conf_literal(rj.conninfo, lit, sizeof(lit)))
		return -ENAMETOOLONG;
	if (rj.slot[0] && pgtext_conf_literal(rj.slot, slot, sizeof(slot)))
		return -ENAMETOOLONG;
	n = snprintf(line, sizeof(line),
		     "# written by pgxrd: rejoined as a standby of node %d\nprimary_conninfo = %s\n%s%s%s",
		     rj.primary, lit, slot[0] ? "primary_slot_name = " : "", slot,
		     slot[0] ? "\n" : "");
	if (n >= sizeof(line))
		return -ENAMETOOLONG;
	snprintf(path, sizeof(path), "%s/postgresql.auto.conf", rejoin_dir());
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = write(fd, line, n) == (ssize_t)n ? 0 : -EIO;
	close(fd);
	return ret;
}

static void rejoin_wait(void)
{
	rejoin_step(RJ_WAIT);
	event_add(rj.id, "waiting until it streams from node %d (recovery_timeout %d s)", rj.primary,
		  rj.cfg->recovery_timeout);
}

/* waiting for the node to stream: the caller should check replication often */
bool rejoin_waiting(void)
{
	return rj.step == RJ_WAIT;
}

static void rejoin_started(int status, void *arg)
{
	if (!rejoin_current(arg))
		return;
	if (status) {
		rejoin_fail("pg_ctl start %s", rejoin_exit(status));
		return;
	}
	rejoin_wait();
}

static void rejoin_start_server(void)
{
	char log[PATH_MAX + 32], timeout[16];
	char *args[] = { "start", "-D", (char *)rejoin_dir(), "-w", "-t", timeout, "-l", log, NULL };
	int ret;

	snprintf(timeout, sizeof(timeout), "%d", rj.cfg->recovery_timeout);
	snprintf(log, sizeof(log), "%s/pgxr-rejoin.log", rejoin_dir());
	rejoin_step(RJ_START);
	ret = rejoin_run("rejoin: pg_ctl start", "pg_ctl", args, rejoin_started);
	if (ret)
		rejoin_fail("could not run pg_ctl: %s", strerror(-ret));
}

static void rejoin_slot_done(const struct pgq_result *res, const char *err, void *arg)
{
	(void)arg;
	if (!res) {
		rejoin_fail("could not create replication slot \"%s\" on node %d: %s", rj.slot,
			    rj.primary, err);
		return;
	}
	pgq_close(rj.pc);
	rj.pc = NULL;
	rejoin_start_server();
}

/*
 * The node streams through the slot its own configuration names: that
 * slot must exist on the primary before it starts.
 */
static void rejoin_slot(void)
{
	char lit[300], sql[800];
	int ret;

	if (!rj.slot[0]) {
		rejoin_start_server();
		return;
	}
	pgtext_sql_literal(rj.slot, lit, sizeof(lit));
	snprintf(sql, sizeof(sql),
		 "SELECT pg_create_physical_replication_slot(%s) WHERE NOT EXISTS "
		 "(SELECT FROM pg_replication_slots WHERE slot_name = %s)", lit, lit);
	rejoin_step(RJ_SLOT);
	rj.pc = nodeconn_open(node_get(rj.primary), NODECONN_HEALTH,
			      nodeconn_timeout_ms(node_get(rj.primary)), NULL, NULL);
	ret = rj.pc ? pgq_query(rj.pc, sql, nodeconn_timeout_ms(node_get(rj.primary)),
				rejoin_slot_done, NULL) : -errno;
	if (ret)
		rejoin_fail("could not connect to node %d: %s", rj.primary, strerror(-ret));
}

static void rejoin_rewound(int status, void *arg)
{
	int ret;

	if (!rejoin_current(arg))
		return;
	/* the target is stopped either way: its own configuration goes back */
	ret = rejoin_restore_conf();
	if (status) {
		rejoin_fail("pg_rewind %s", rejoin_exit(status));
		return;
	}
	/* the slot the node's own configuration streams through, if any */
	for (size_t i = 0; i < REJOIN_NCONF && !ret; i++)
		if (rj.conf[i] && strstr(rejoin_conf_files[i], "postgresql"))
			pgtext_conf_value(rj.conf[i], "primary_slot_name", rj.slot, sizeof(rj.slot));
	if (!ret)
		ret = rejoin_write_standby();
	if (ret) {
		rejoin_fail("could not write its configuration back: %s", strerror(-ret));
		return;
	}
	event_add(rj.id, "rewound to node %d's timeline; starting it as a standby", rj.primary);
	rejoin_slot();
}

static void rejoin_rewind(void)
{
	const struct node *p = node_get(rj.primary);
	char target[PATH_MAX + 32], source[1400], base[700], hostaddr[ADDR_STRLEN];
	char *args[] = { target, source, NULL };
	size_t n = 0;
	int ret;

	ret = rejoin_save_conf();
	if (ret) {
		rejoin_fail("could not save its configuration files: %s", strerror(-ret));
		return;
	}
	addr_format(&p->cfg->addr, hostaddr, sizeof(hostaddr));
	snprintf(target, sizeof(target), "--target-pgdata=%s", rejoin_dir());
	base[0] = '\0';
	ret = pgtext_conninfo_add(base, sizeof(base), &n, "user", rj.cfg->recovery_user);
	if (!ret)
		ret = pgtext_conninfo_add(base, sizeof(base), &n, "dbname",
					  rj.cfg->health_check_database);
	memcpy(source, "--source-server=", 16);
	if (!ret)
		ret = pgtext_conninfo_retarget(base, p->cfg->hostname, hostaddr, p->cfg->port, NULL,
					       source + 16, sizeof(source) - 16);
	if (ret) {
		rejoin_restore_conf();
		rejoin_fail("pg_rewind's source connection string is too long");
		return;
	}
	rejoin_step(RJ_REWIND);
	event_add(rj.id, "pg_rewind from node %d", rj.primary);
	ret = rejoin_run("rejoin: pg_rewind", "pg_rewind", args, rejoin_rewound);
	if (ret) {
		rejoin_restore_conf();
		rejoin_fail("could not run pg_rewind: %s", strerror(-ret));
	}
}

static void rejoin_stopped(int status, void *arg)
{
	if (!rejoin_current(arg))
		return;
	if (status) {
		rejoin_fail("pg_ctl stop %s", rejoin_exit(status));
		return;
	}
	rejoin_rewind();
}

static void rejoin_status(int status, void *arg)
{
	char *args[] = { "stop", "-D", (char *)rejoin_dir(), "-m", "fast", "-w", "-t", "60", NULL };
	int ret;

	if (!rejoin_current(arg))
		return;
	/* pg_ctl status: 0 running, 3 not running; anything else is trouble */
	if (status == 3) {
		rejoin_rewind();
		return;
	}
	if (status) {
		rejoin_fail("pg_ctl status %s", rejoin_exit(status));
		return;
	}
	event_add(rj.id, "stopping it (fast) for pg_rewind");
	rejoin_step(RJ_STOP);
	ret = rejoin_run("rejoin: pg_ctl stop", "pg_ctl", args, rejoin_stopped);
	if (ret)
		rejoin_fail("could not run pg_ctl: %s", strerror(-ret));
}

/*
 * A node stopped cleanly by a switchover: its WAL ends at its shutdown
 * checkpoint, which the new primary replayed before it was promoted, so
 * it follows the new timeline without pg_rewind.  Its own configuration
 * is intact; it gets standby.signal, primary_conninfo and its slot.
 */
static void rejoin_clean(void)
{
	char *slot_files[] = { "postgresql.conf", "postgresql.auto.conf" };
	char path[PATH_MAX + 32];
	char *text;
	size_t len;
	int ret;

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", rejoin_dir(), slot_files[i]);
		if (rejoin_read(path, &text, &len))
			continue;
		pgtext_conf_value(text, "primary_slot_name", rj.slot, sizeof(rj.slot));
		free(text);
	}
	ret = rejoin_write_standby();
	if (ret) {
		rejoin_fail("could not write its standby configuration: %s", strerror(-ret));
		return;
	}
	event_add(rj.id, "stopped cleanly: starting it as a standby of node %d (no pg_rewind needed)",
		  rj.primary);
	rejoin_slot();
}

static void rejoin_got_conninfo(const struct pgq_result *res, const char *err, void *arg)
{
	/* the primary's application_name would name this node as the primary */
	static const char *const drop[] = { "application_name", NULL };
	const struct node *p = node_get(rj.primary);
	char *args[] = { "status", "-D", (char *)rejoin_dir(), NULL };
	char base[600], hostaddr[ADDR_STRLEN];
	size_t n = 0;
	int ret;

	(void)arg;
	if (!res || pgq_ntuples(res) != 1) {
		rejoin_fail("could not ask node %d how standbys connect: %s", rj.primary,
			    err ? err : "no answer");
		return;
	}
	/*
	 * The primary was a standby once: its primary_conninfo has the user,
	 * password and options replication works with here.  Without one,
	 * recovery_user is used.
	 */
	snprintf(base, sizeof(base), "%s", pgq_value(res, 0, 0));
	if (!base[0]) {
		pgtext_conninfo_add(base, sizeof(base), &n, "user", rj.cfg->recovery_user);
		if (rj.cfg->recovery_password[0])
			pgtext_conninfo_add(base, sizeof(base), &n, "password",
					    rj.cfg->recovery_password);
	}
	addr_format(&p->cfg->addr, hostaddr, sizeof(hostaddr));
	if (pgtext_conninfo_retarget(base, p->cfg->hostname, hostaddr, p->cfg->port, drop,
				     rj.conninfo, sizeof(rj.conninfo))) {
		rejoin_fail("node %d's primary_conninfo cannot be used", rj.primary);
		return;
	}
	pgq_close(rj.pc);
	rj.pc = NULL;
	if (rj.flags & REJOIN_CLEAN) {
		rejoin_clean();
		return;
	}
	rejoin_step(RJ_STATUS);
	ret = rejoin_run("rejoin: pg_ctl status", "pg_ctl", args, rejoin_status);
	if (ret)
		rejoin_fail("could not run pg_ctl: %s", strerror(-ret));
}

static void rejoin_command_done(int status, void *arg)
{
	if (!rejoin_current(arg))
		return;
	if (status) {
		rejoin_fail("rejoin_command %s", rejoin_exit(status));
		return;
	}
	rejoin_wait();
}

static void rejoin_checkpointed(const struct pgq_result *res, const char *err, void *arg)
{
	int ret;

	(void)arg;
	if (!res) {
		rejoin_fail("CHECKPOINT on node %d: %s", rj.primary, err);
		return;
	}
	if (rj.local) {
		rejoin_step(RJ_CONNINFO);
		if (pgq_query(rj.pc, "SELECT current_setting('primary_conninfo')",
			      nodeconn_timeout_ms(node_get(rj.primary)), rejoin_got_conninfo, NULL))
			rejoin_fail("lost the connection to node %d", rj.primary);
		return;
	}
	pgq_close(rj.pc);
	rj.pc = NULL;
	rejoin_step(RJ_COMMAND);
	ret = proc_shell("rejoin_command", rj.command, rj.env, rj.cfg->recovery_timeout * 1000,
			 rejoin_command_done, (void *)(uintptr_t)rj.generation);
	if (ret < 0)
		rejoin_fail("could not run rejoin_command: %s", strerror(-ret));
	else
		rj.pid = ret;
}

/*
 * Turns node id into a standby of primary.  With the data directory on
 * this host pgxrd does it itself (REJOIN_CLEAN: the node was stopped
 * cleanly and needs no pg_rewind); otherwise rejoin_command does the work
 * and pgxrd waits for the node to stream.  Either way cb hears of it once
 * the primary sees it streaming, or of the step that failed.
 */
int rejoin_start(int id, int primary, unsigned flags, rejoin_cb cb, void *arg, char *err,
		 size_t len)
{
	const struct pgxr_config *cfg = rj.cfg;
	unsigned generation = rj.generation;
	struct node *n = node_get(id), *p = node_get(primary);
	char why[256];
	int ret;

	if (!n || !p) {
		snprintf(err, len, "node %d is not configured", n ? primary : id);
		return -ENOENT;
	}
	if (rj.step != RJ_IDLE) {
		snprintf(err, len, "a rejoin of node %d is running", rj.id);
		return -EBUSY;
	}
	memset(&rj, 0, sizeof(rj));
	rj.cfg = cfg;
	rj.generation = generation + 1;
	rj.id = id;
	rj.primary = primary;
	rj.flags = flags;
	rj.started = evloop_now_ms();
	rj.local = pgctl_local(n, p->pg.version_num, &rj.dir, why, sizeof(why));
	if (!rj.local && (flags & REJOIN_CLEAN)) {
		snprintf(err, len, "node %d: %s", id, why);
		return -EINVAL;
	}
	if (!rj.local && n->cfg->data_directory[0] && strstr(why, "pg_bin_dir")) {
		snprintf(err, len, "node %d: %s", id, why);
		return -EINVAL;
	}
	if (!rj.local && !rj.cfg->rejoin_command[0]) {
		snprintf(err, len,
			 "node %d: backend_data_directory%d is not on this host and rejoin_command is not set",
			 id, id);
		return -EINVAL;
	}
	if (!rj.local && command_line(rj.cfg->rejoin_command, id, primary, id, rj.command,
					       sizeof(rj.command), rj.env_buf, sizeof(rj.env_buf),
					       rj.env, 24)) {
		snprintf(err, len, "rejoin_command is too long once expanded");
		return -ENAMETOOLONG;
	}
	/*
	 * A primary promoted minutes ago may not have checkpointed yet: its
	 * control file still names the old timeline, and pg_rewind would find
	 * "no rewind required" and leave the old primary diverged.  A clean
	 * rejoin only needs the primary's conninfo.
	 */
	rj.pc = nodeconn_open(p, NODECONN_HEALTH, nodeconn_timeout_ms(p), NULL, NULL);
	if (rj.flags & REJOIN_CLEAN)
		ret = rj.pc ? pgq_query(rj.pc, "SELECT current_setting('primary_conninfo')",
					nodeconn_timeout_ms(p), rejoin_got_conninfo, NULL) : -errno;
	else
		ret = rj.pc ? pgq_query(rj.pc, "CHECKPOINT", rj.cfg->recovery_timeout * 1000,
					rejoin_checkpointed, NULL) : -errno;
	if (ret) {
		snprintf(err, len, "could not connect to node %d: %s", primary, strerror(-ret));
		pgq_close(rj.pc);
		rj.pc = NULL;
		return ret;
	}
	event_add(id, "rejoin as a standby of node %d: %s", primary,
		  rj.local ? "data directory on this host" : "with rejoin_command");
	rj.cb = cb;
	rj.arg = arg;
	rejoin_step(rj.flags & REJOIN_CLEAN ? RJ_CONNINFO : RJ_CHECKPOINT);
	return 0;
}

/* per-tick hook: attaches a node that streams; no step may run past its deadline */
void rejoin_maintain(void *arg)
{
	struct node *n;

	(void)arg;
	if (rj.step == RJ_IDLE)
		return;
	n = node_get(rj.id);
	if (rj.step == RJ_WAIT && n->pg_ok && n->pg.role == PGXR_ROLE_STANDBY && n->streaming) {
		event_add(rj.id, "rejoin complete in %lld ms", evloop_now_ms() - rj.started);
		rejoin_end(NULL);
		return;
	}
	/*
	 * Children are killed at their own deadline (recovery_timeout) and
	 * their exit ends the step (pg_rewind's restores the configuration
	 * once nothing writes it any more); queries have theirs.  Only the
	 * wait for streaming is bounded here.
	 */
	if (rj.step == RJ_WAIT && evloop_now_ms() >= rj.deadline)
		rejoin_fail("it did not stream from node %d within recovery_timeout (%d s)",
			    rj.primary, rj.cfg->recovery_timeout);
}

/* the node being rejoined, -1 when none */
int rejoin_node(void)
{
	return rj.step == RJ_IDLE ? -1 : rj.id;
}
