/* node.h: the store of what pgxrd knows about each backend, and its entry in the maps */
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
	bool read_only;		/* default_transaction_read_only is on (a fence pgxr left) */
	/* a standby's walreceiver (pg_stat_wal_receiver) */
	bool receiving;		/* its status is "streaming" */
	char sender_host[256];	/* whom it streams from, as its primary_conninfo names it */
	int sender_port;
	long long receipt_age_ms;	/* since its last message from the sender; -1 unknown */
};

/* the primary's pg_stat_replication row for a standby */
struct node_repl {
	bool found;		/* the standby is in pg_stat_replication */
	char state[16];		/* "streaming", "catchup", ... */
	char sync_state[16];	/* "async", "sync", "quorum", "potential" */
	char app_name[64];	/* application_name, what synchronous_standby_names names */
	__u64 write_lsn;
	__u64 flush_lsn;
	long long lag_bytes;	/* behind the primary's position in replay; -1 unknown */
	long long lag_ms;	/* replay_lag; -1 unknown */
};

struct node {
	int id;
	const struct cfg_backend *cfg;
	__u8 state;		/* PGXR_BE_UP, _DOWN or _FENCED: how pgxr routes it */
	__u8 role;		/* PGXR_ROLE_*: what pgxr routes it as */
	bool admin_down;	/* detached by an operator */
	bool lagging;		/* past delay_threshold: not in the ro ring */
	int lag_ok;		/* lagging: replication checks in a row since within the thresholds */
	long long lag_ok_at;	/* monotonic ms of the last of them */
	bool lag_streamed;	/* it lags by measure (it streamed), not for not streaming */
	bool local;		/* on this host: XDP passes its packets to the stack */
	bool ipip;		/* forwarding = ipip: reached in IPIP through hop */
	struct pgxr_addr hop;	/* whose MAC frames to it go to: itself (DSR), or its route's gateway */
	struct pgxr_addr tun_src; /* ipip: the outer source, the router's address toward it */
	__u8 mac[6];		/* hop's */
	/* the last health check */
	bool pg_ok;		/* the last check (after retries) succeeded */
	bool pg_answered;	/* it failed, but the server answered (with an error) */
	struct node_health pg;
	char pg_error[256];
	struct node_repl repl;
	bool streaming;		/* repl.found and repl.state is "streaming" */
	int followed;		/* the primary it was last pointed at, -1 none */
	bool read_only_set;	/* pgxr made it refuse writes (a fence, a switchover) */
	unsigned role_gen;	/* counts role changes: an answer from before one is stale */
	long long status_change_us;
	long long failback_ms;	/* monotonic ms of its last auto_failback */
	char note[200];		/* why it is not routed as one would expect; "" when nothing to say */
	/* what the backends map holds, so that unchanged entries are not rewritten */
	struct pgxr_backend written;
	bool written_valid;
};

int node_init(const struct pgxr_config *cfg, const struct dataplane *dp);
struct node *node_get(int id);
int node_primary(void);
int node_pinned_primary(void);
bool node_starting(void);
void node_set_started(void);

int node_apply(struct node *n, __u8 state, __u8 role, const char *why);
void node_set_admin_down(struct node *n, bool down);
void node_set_lagging(struct node *n, bool lagging, const char *why);
bool node_lag_next(struct node *n, bool over, int checks, long long now, long long gap);
bool node_set_mac(struct node *n, const __u8 mac[6]);
void node_set_path(struct node *n, const struct pgxr_addr *hop, const struct pgxr_addr *src,
		   const __u8 mac[6]);
void node_set_note(struct node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void node_sync_all(void);
const char *node_state_name(const struct node *n);
bool node_streams_from(const struct node_health *h, const struct node *p);

#endif /* PGXR_NODE_H */
