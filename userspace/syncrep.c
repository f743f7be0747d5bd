/* syncrep.c: sets synchronous_standby_names on the primary (ALTER SYSTEM, reload), one change at a time */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "node.h"
#include "nodeconn.h"
#include "pgq.h"
#include "pgtext.h"
#include "syncrep.h"

/* the value being set, and the one asked for meanwhile */
static struct {
	struct pgq_conn *conn;
	int node;
	char setting[1024];	/* on the wire */
	char wanted[1024];	/* asked for while a change ran */
	int wanted_node;	/* -1: nothing asked */
	bool reloading;
} sr = { .node = -1, .wanted_node = -1 };

static void syncrep_next(void);

static void syncrep_done(const struct pgq_result *res, const char *err, void *arg)
{
	(void)arg;
	if (!res) {
		log_warning("node %d: could not set synchronous_standby_names to '%s': %s", sr.node,
			    sr.setting, err);
	} else if (!sr.reloading) {
		sr.reloading = true;
		if (!pgq_query(sr.conn, "SELECT pg_reload_conf()", nodeconn_timeout_ms(node_get(sr.node)),
			       syncrep_done, NULL))
			return;
	} else {
		event_add(sr.node, "synchronous_standby_names = '%s' (synchronous_mode)", sr.setting);
	}
	pgq_close(sr.conn);
	sr.conn = NULL;
	sr.node = -1;
	syncrep_next();
}

static void syncrep_next(void)
{
	struct node *n = node_get(sr.wanted_node);
	char lit[2100], sql[2200];

	if (sr.conn || !n)
		return;
	sr.node = sr.wanted_node;
	sr.wanted_node = -1;
	snprintf(sr.setting, sizeof(sr.setting), "%s", sr.wanted);
	sr.reloading = false;
	if (pgtext_sql_literal(sr.setting, lit, sizeof(lit)))
		return;
	snprintf(sql, sizeof(sql), "ALTER SYSTEM SET synchronous_standby_names = %s", lit);
	sr.conn = nodeconn_open(n, NODECONN_HEALTH, nodeconn_timeout_ms(n), NULL, NULL);
	if (!sr.conn || pgq_query(sr.conn, sql, nodeconn_timeout_ms(n), syncrep_done, NULL)) {
		log_warning("node %d: could not connect to set synchronous_standby_names", n->id);
		pgq_close(sr.conn);
		sr.conn = NULL;
		sr.node = -1;
	}
}

/* names becomes the primary's synchronous_standby_names; the last request wins */
void syncrep_set(struct node *primary, const char *names)
{
	if (sr.conn && sr.node == primary->id && !strcmp(sr.setting, names))
		return;
	snprintf(sr.wanted, sizeof(sr.wanted), "%s", names);
	sr.wanted_node = primary->id;
	syncrep_next();
}

/* at shutdown, or when the primary changes: nothing more is sent */
void syncrep_forget(void)
{
	pgq_close(sr.conn);
	sr.conn = NULL;
	sr.node = -1;
	sr.wanted_node = -1;
}
