/* failover.h: the machinery of a promotion: survey the standbys, promote one, wait for it */
#ifndef PGXR_FAILOVER_H
#define PGXR_FAILOVER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "node.h"
#include "pgq.h"

/* what a standby said when asked during a failover */
struct failover_position {
	bool asked;
	bool answered;
	long long answered_at;	/* monotonic ms */
	struct node_health h;	/* role, WAL position, read-only fence, its walreceiver */
};

/* every standby asked has answered or given up; pos is indexed by node id */
typedef void (*failover_survey_cb)(const struct failover_position *pos, void *arg);
/*
 * The promotion is over.  status 0: node id is out of recovery (with
 * failover_command: the command exited 0, id -1, and the health checks
 * tell who was promoted); else -errno and what went wrong.
 */
typedef void (*failover_promote_cb)(int status, int id, const char *msg, void *arg);

void failover_init(const struct pgxr_config *cfg);
int failover_survey(const bool *ask, struct pgq_conn *const *shared, failover_survey_cb cb,
		    void *arg);
int failover_promote(int candidate, int old, bool reset_read_only, failover_promote_cb cb,
		     void *arg);
void failover_cancel(bool kill);
void failover_maintain(void *arg);

#endif /* PGXR_FAILOVER_H */
