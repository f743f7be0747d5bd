/* health.h: health and replication checks of the nodes, reported as events to one callback */
#ifndef PGXR_HEALTH_H
#define PGXR_HEALTH_H

#include <stdbool.h>
#include <linux/types.h>

#include "config.h"
#include "node.h"
#include "pgq.h"

enum health_event {
	HEALTH_OK,		/* a node answered its check */
	HEALTH_FAILED,		/* a node failed its check (and its retries, unless retrying) */
	HEALTH_REPLICATION,	/* the primary's pg_stat_replication */
	HEALTH_ROUND,		/* every node has answered or failed once: the roles can be decided */
};

/* what a check saw; pointers are valid during the callback only */
struct health_report {
	enum health_event what;
	struct node *n;			/* OK, FAILED */
	long long started;		/* OK, FAILED: monotonic ms the check began */
	const struct node_health *h;	/* OK */
	const char *error;		/* FAILED */
	bool answered;			/* FAILED: the server answered, with an error (error has its SQLSTATE) */
	bool timed_out;			/* FAILED: no answer within health_check_timeout */
	bool retrying;			/* FAILED: a retry follows; the node is not given up yet */
	long long silent_since;		/* FAILED: since when pgxrd has had no answer (monotonic ms) */
	int primary;			/* REPLICATION: the node asked */
	const struct node_repl *repl;	/* REPLICATION: by node id, PGXR_MAX_BACKENDS rows */
	const char *sync_names;		/* REPLICATION: its synchronous_standby_names */
	__u64 primary_lsn;		/* REPLICATION: its current WAL position */
};

typedef void (*health_report_cb)(const struct health_report *r);

/* what pgpool's SHOW pool_health_check_stats counts, for one node: each check is one attempt */
struct health_stats {
	unsigned long long total, success, fail, retry;
	int max_retry;			/* the most retries one outage or recovery took */
	long long dur_sum, dur_max, dur_min;	/* ms per check */
	long long last, last_ok, last_fail;	/* wall clock, ms; 0: never */
};

int health_init(const struct pgxr_config *cfg, health_report_cb cb);
void health_maintain(void *arg);
void health_check_now(struct node *n);
void health_sr_now(void);
struct pgq_conn *health_conn(const struct node *n);
const struct health_stats *health_stats_of(int id);
void health_close(void);

#endif /* PGXR_HEALTH_H */
