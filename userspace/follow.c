/* follow.c: a standby follows a new primary: its slot there, primary_conninfo, reload; or follow_primary_command */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "event.h"
#include "command.h"
#include "follow.h"
#include "log.h"
#include "node.h"
#include "nodeconn.h"
#include "pgq.h"
#include "pgtext.h"
#include "proc.h"

#define FOLLOW_TIMEOUT_MS 10000

/* one standby being re-pointed; the steps chain through their callbacks */
struct follow_job {
	int standby, primary;
	struct pgq_conn *sc;	/* to the standby */
	struct pgq_conn *pc;	/* to the new primary, for the slot */
	char slot[128];
	char conninfo[2048];
	bool unchanged;		/* primary_conninfo already points at the primary */
	bool upstream;		/* "primary" is a standby: this one cascades through it */
	follow_cb cb;
	void *arg;
	struct follow_job *next;
};

/* set by follow_init(): follow_primary_command and its deadline; and the running jobs */
static const struct pgxr_config *follow_cfg;
static struct follow_job *follow_jobs;

void follow_init(const struct pgxr_config *cfg)
{
	follow_cfg = cfg;
}

/* the standby's primary_conninfo, pointed at the new primary */
static int follow_conninfo(const char *old, const struct node *primary, char *out, size_t len)
{
	char hostaddr[ADDR_STRLEN];

	addr_format(&primary->cfg->addr, hostaddr, sizeof(hostaddr));
	return pgtext_conninfo_retarget(old, primary->cfg->hostname, hostaddr, primary->cfg->port,
					NULL, out, len);
}

static void follow_free(struct follow_job *j)
{
	struct follow_job **pp;

	for (pp = &follow_jobs; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	pgq_close(j->sc);
	pgq_close(j->pc);
	free(j);
}

static void follow_end(struct follow_job *j, int status)
{
	follow_cb cb = j->cb;
	void *arg = j->arg;
	int standby = j->standby;

	follow_free(j);
	if (cb)
		cb(standby, status, arg);
}

static void follow_fail(struct follow_job *j, const char *what, const char *err)
{
	event_add(j->standby, "could not follow node %d: %s: %s", j->primary, what,
		  err ? err : "unexpected answer");
	follow_end(j, -EIO);
}

static void follow_reloaded(const struct pgq_result *res, const char *err, void *arg)
{
	struct follow_job *j = arg;

	if (!res) {
		follow_fail(j, "pg_reload_conf()", err);
		return;
	}
	if (j->upstream)
		event_add(j->standby, "streams through node %d now (cascading; primary_conninfo changed, configuration reloaded)",
			  j->primary);
	else
		event_add(j->standby, "follows node %d now (primary_conninfo changed, configuration reloaded)",
			  j->primary);
	follow_end(j, 0);
}

static void follow_altered(const struct pgq_result *res, const char *err, void *arg)
{
	struct follow_job *j = arg;

	if (!res) {
		follow_fail(j, "ALTER SYSTEM SET primary_conninfo", err);
		return;
	}
	if (pgq_query(j->sc, "SELECT pg_reload_conf()", FOLLOW_TIMEOUT_MS, follow_reloaded, j))
		follow_fail(j, "pg_reload_conf()", "connection lost");
}

static void follow_alter(struct follow_job *j)
{
	char lit[4200], sql[4300];

	if (j->unchanged) {
		log_info("node %d: primary_conninfo already points at node %d", j->standby,
			 j->primary);
		follow_end(j, 0);
		return;
	}
	if (pgtext_sql_literal(j->conninfo, lit, sizeof(lit))) {
		follow_fail(j, "primary_conninfo", "too long");
		return;
	}
	snprintf(sql, sizeof(sql), "ALTER SYSTEM SET primary_conninfo = %s", lit);
	if (pgq_query(j->sc, sql, FOLLOW_TIMEOUT_MS, follow_altered, j))
		follow_fail(j, "ALTER SYSTEM", "connection lost");
}

static void follow_slot_done(const struct pgq_result *res, const char *err, void *arg)
{
	struct follow_job *j = arg;

	if (!res) {
		follow_fail(j, "creating its replication slot there", err);
		return;
	}
	pgq_close(j->pc);
	j->pc = NULL;
	follow_alter(j);
}

static void follow_got_settings(const struct pgq_result *res, const char *err, void *arg)
{
	struct follow_job *j = arg;
	char lit[300], sql[800];

	if (!res || pgq_ntuples(res) != 1) {
		follow_fail(j, "reading primary_conninfo", err);
		return;
	}
	if (follow_conninfo(pgq_value(res, 0, 0), node_get(j->primary), j->conninfo,
			    sizeof(j->conninfo))) {
		follow_fail(j, "primary_conninfo", "cannot be parsed or is too long");
		return;
	}
	/* nothing to change then, but its slot may be missing on the primary */
	j->unchanged = !strcmp(j->conninfo, pgq_value(res, 0, 0));
	snprintf(j->slot, sizeof(j->slot), "%s", pgq_value(res, 0, 1));
	if (!j->slot[0]) {
		follow_alter(j);
		return;
	}
	/* the slot it streams through must exist on the new primary first */
	if (pgtext_sql_literal(j->slot, lit, sizeof(lit))) {
		follow_fail(j, "primary_slot_name", "too long");
		return;
	}
	snprintf(sql, sizeof(sql),
		 "SELECT pg_create_physical_replication_slot(%s) WHERE NOT EXISTS "
		 "(SELECT FROM pg_replication_slots WHERE slot_name = %s)", lit, lit);
	j->pc = nodeconn_open(node_get(j->primary), NODECONN_HEALTH, FOLLOW_TIMEOUT_MS, NULL, NULL);
	if (!j->pc || pgq_query(j->pc, sql, FOLLOW_TIMEOUT_MS, follow_slot_done, j))
		follow_fail(j, "connecting to it for the slot", strerror(errno));
}

static void follow_command_done(int status, void *arg)
{
	struct follow_job *j = NULL;

	for (struct follow_job *x = follow_jobs; x; x = x->next)
		if (x == arg)
			j = x;
	if (!j)
		return;
	if (status == -ETIMEDOUT)
		event_add(j->standby, "follow_primary_command did not exit within command_timeout (%d s): killed",
			  follow_cfg->command_timeout);
	else if (status)
		event_add(j->standby, "follow_primary_command exited with status %d", status);
	else
		event_add(j->standby, "follow_primary_command done: it follows node %d", j->primary);
	follow_end(j, status ? -EIO : 0);
}

static struct follow_job *follow_job_new(struct node *standby, struct node *primary,
					 follow_cb cb, void *arg)
{
	struct follow_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->standby = standby->id;
	j->primary = primary->id;
	j->cb = cb;
	j->arg = arg;
	j->next = follow_jobs;
	follow_jobs = j;
	standby->followed = primary->id;
	return j;
}

/* over SQL: its slot on primary, primary_conninfo by ALTER SYSTEM, reload */
static void follow_sql(struct follow_job *j, struct node *standby)
{
	j->sc = nodeconn_open(standby, NODECONN_HEALTH, FOLLOW_TIMEOUT_MS, NULL, NULL);
	if (!j->sc || pgq_query(j->sc,
				"SELECT current_setting('primary_conninfo'), "
				"current_setting('primary_slot_name')",
				FOLLOW_TIMEOUT_MS, follow_got_settings, j))
		follow_fail(j, "connecting to it", strerror(errno));
}

/*
 * Re-points standby at primary (old_primary: the one it followed, for the
 * placeholders): follow_primary_command when set, with pgpool's
 * placeholders (%d the standby, %m the new primary, %P the old one), else
 * pgxrd does it over SQL.  cb, if given, hears the outcome.
 */
int follow_start(struct node *standby, struct node *primary, int old_primary, follow_cb cb,
		 void *arg)
{
	struct follow_job *j = follow_job_new(standby, primary, cb, arg);
	int ret;

	if (!j)
		return -ENOMEM;
	if (follow_cfg->follow_primary_command[0]) {
		char cmd[2048], env_buf[8192], *env[24];

		if (command_line(follow_cfg->follow_primary_command, standby->id, primary->id,
					  old_primary, cmd, sizeof(cmd), env_buf, sizeof(env_buf),
					  env, 24)) {
			follow_free(j);
			return -ENAMETOOLONG;
		}
		ret = proc_shell("follow_primary_command", cmd, env,
				 follow_cfg->command_timeout * 1000, follow_command_done, j);
		if (ret < 0)
			follow_free(j);
		return ret < 0 ? ret : 0;
	}
	follow_sql(j, standby);
	return 0;
}

/*
 * Re-points standby at upstream, a standby itself, over SQL (it is
 * pgxr's own step of a switchover, not a new primary for
 * follow_primary_command): it cascades through upstream and follows its
 * promotion.  cb hears when its configuration was reloaded.
 */
int follow_upstream(struct node *standby, struct node *upstream, follow_cb cb, void *arg)
{
	struct follow_job *j = follow_job_new(standby, upstream, cb, arg);

	if (!j)
		return -ENOMEM;
	j->upstream = true;
	follow_sql(j, standby);
	return 0;
}

/* at shutdown: no callback runs any more */
void follow_cancel_all(void)
{
	while (follow_jobs)
		follow_free(follow_jobs);
}
