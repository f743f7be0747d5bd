/* node.h: the backends as pgxrd sees them: state, role, health, and their map entries */
#ifndef PGXR_NODE_H
#define PGXR_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "config.h"
#include "dataplane.h"

/* one answer to the health query */
struct node_health {
	__u8 role;		/* PGXR_ROLE_PRIMARY or PGXR_ROLE_STANDBY */
	__u32 timeline;		/* of a primary; 0 for a standby */
	__u64 lsn;		/* primary: current; standby: furthest received or replayed */
	int version_num;	/* server_version_num */
};

struct node {
	int id;
	const struct cfg_backend *cfg;
	__u8 state;		/* PGXR_BE_UP, _DOWN or _FENCED: how pgxr routes it */
	__u8 role;		/* PGXR_ROLE_*: what pgxr routes it as */
	bool admin_down;	/* detached by an operator */
	bool lagging;		/* past delay_threshold: not in the ro ring */
	bool local;		/* on this host: XDP passes its packets to the stack */
	__u8 mac[6];
	/* the last health check */
	bool pg_ok;		/* the last check (after retries) succeeded */
	struct node_health pg;
	char pg_error[256];
	/* the primary's pg_stat_replication row for this standby */
	bool streaming;
	char repl_state[16];
	char sync_state[16];
	long long lag_bytes;	/* -1: unknown */
	long long lag_ms;	/* -1: unknown */
	int followed;		/* the primary follow_primary last pointed it at, -1 none */
	long long role_epoch;	/* monotonic ms of the last role change */
	long long status_change_us;
	/* what the backends map holds, so that unchanged entries are not rewritten */
	struct pgxr_backend written;
	bool written_valid;
};

int node_init(const struct pgxr_config *cfg, const struct dataplane *dp);
struct node *node_get(int id);
int node_primary(void);
bool node_starting(void);
void node_started(void);

void node_health_ok(struct node *n, const struct node_health *h);
void node_health_failed(struct node *n, const char *why);
void node_health_checked(struct node *n, long long started);
void node_replication(struct node *n, bool found, const char *state, const char *sync,
		      long long lag_bytes, long long lag_ms);
void node_set_mac(struct node *n, const __u8 mac[6]);

void node_set_state(struct node *n, __u8 state, const char *why);
void node_fence(struct node *n, const char *why);
void node_make_primary(struct node *n, const char *why);
void node_rejoined(struct node *n, int primary);
int node_attach(int id, char *err, size_t len);
int node_detach(int id, char *err, size_t len);
const char *node_state_name(const struct node *n);

#endif /* PGXR_NODE_H */
