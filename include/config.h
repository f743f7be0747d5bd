/* config.h: the pgpool.conf-style configuration of pgxrd */
#ifndef PGXR_CONFIG_H
#define PGXR_CONFIG_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>

#include "addr.h"
#include "pgxr_xdp.h"

#define CONFIG_DEFAULT_PATH "/etc/pgxr/pgxr.conf"
#define CONFIG_DEFAULT_PIN_DIR "/sys/fs/bpf/pgxr"

enum xdp_mode {
	XDP_MODE_AUTO,		/* native, falling back to generic */
	XDP_MODE_NATIVE,
	XDP_MODE_GENERIC,
};

/* synchronous_mode, Patroni's names */
enum sync_mode {
	SYNC_MODE_OFF,		/* synchronous_standby_names is the DBA's */
	SYNC_MODE_ON,		/* ANY 1 of the healthy standbys; none: commits run async */
	SYNC_MODE_STRICT,	/* ANY 1 of the healthy standbys; none: commits wait */
};

/* disable_load_balance_on_write, pgpool's values: where a session's reads go after it wrote */
enum lb_on_write {
	LB_ON_WRITE_OFF,		/* balanced all the same */
	LB_ON_WRITE_TRANSACTION,	/* not for the rest of the transaction */
	LB_ON_WRITE_TRANS_TRANSACTION,	/* nor in the session's later transactions */
	LB_ON_WRITE_DML_ADAPTIVE,	/* not those of the tables the transaction wrote */
	LB_ON_WRITE_ALWAYS,		/* not for the rest of the session */
	LB_ON_WRITE_CAUSAL,		/* pgxr's: only to nodes that replayed the session's last commit */
};

/* backend_flagN bits, pgpool's names */
#define BACKEND_FLAG_DISALLOW_TO_FAILOVER 0x1
#define BACKEND_FLAG_ALWAYS_PRIMARY 0x2

/* health check settings of one node: pgpool's health_check_*, overridden per node by health_check_*N */
struct cfg_health {
	int period;			/* seconds; 0: no health checks, no failover */
	int timeout;			/* seconds, a whole check: connect and query */
	int max_retries;
	int retry_delay;		/* seconds */
	char user[64];
	char password[256];
	char database[64];
};

struct cfg_backend {
	bool configured;		/* backend_hostnameN was given */
	int line;			/* where backend_hostnameN was given */
	char hostname[256];
	struct pgxr_addr addr;		/* hostname resolved at load */
	int port;
	double weight;
	unsigned flags;			/* BACKEND_FLAG_* */
	char data_directory[1024];	/* MAXPGPATH, PostgreSQL's own bound */
	struct cfg_health hc;		/* effective: health_check_*N, else health_check_* */
	unsigned hc_set;		/* which health_check_*N were given (CFG_HC_* bits) */
};

struct pgxr_config {
	char path[PATH_MAX];
	char interface[IF_NAMESIZE];
	struct pgxr_addr vip;
	int rw_port;
	int ro_port;
	int proxy_port;			/* 0: no proxy service */
	char listen_addresses[256];	/* the proxy's: one address, or "*" for all */
	int num_workers;		/* proxy threads; 0: one per core */
	int max_connections;		/* proxy clients at once, all workers together */
	int authentication_timeout;	/* seconds a proxy client has to finish its startup */
	int client_idle_limit;		/* seconds a proxy client may stay silent; 0: no limit */
	bool enable_pool_hba;		/* pgxr authenticates proxy clients itself (pool_hba_file) */
	char pool_passwd[PATH_MAX];	/* pgpool's user:secret file; empty: none */
	char pool_hba_file[PATH_MAX];
	char pool_key_file[PATH_MAX];	/* the key of pool_passwd's AES entries (pgpool's .pgpoolkey) */
	char auth_user[64];		/* looks up users pool_passwd lacks on the primary; empty: none */
	char auth_query[1024];
	bool connection_cache;		/* server connections outlive their client and are reused */
	int max_pool;			/* idle cached server connections per (user, database, parameters) */
	int connection_life_time;	/* seconds a cached connection may stay idle; 0: no limit */
	char reset_query_list[1024];	/* run on a server connection before it is cached */
	bool pool_transaction;		/* pool_mode = transaction: a server per transaction */
	int query_wait_timeout;		/* seconds a client waits for a server connection; 0: forever */
	int max_prepared_statements;	/* per server connection, transaction pooling; 0: no limit */
	bool load_balance_mode;		/* the proxy sends reads to standbys (transaction pooling) */
	bool statement_level_load_balance;	/* a read node per statement, not per session */
	enum lb_on_write lb_on_write;	/* disable_load_balance_on_write */
	int causal_read_timeout;	/* ms a causal read waits for a standby before it goes to the primary */
	bool allow_sql_comments;	/* a leading comment does not keep a read on the primary */
	bool check_unlogged_table;	/* reads of unlogged tables go to the primary */
	bool prefer_lower_delay_standby;	/* a lagging standby's reads go to the least lagging one */
	char write_function_list[1024];	/* pgpool's: functions that write; empty: pg_proc says */
	char read_only_function_list[1024];	/* pgpool's: the functions that do not */
	char primary_routing_query_pattern_list[1024];	/* pgpool's: queries for the primary */
	char app_name_redirect_preference_list[1024];	/* pgpool's: read nodes by application name */
	char database_redirect_preference_list[1024];	/* pgpool's: read nodes by database */
	char dml_adaptive_object_relationship_list[1024];	/* pgpool's: what a write to an object writes too */
	bool ssl;			/* TLS to clients (pgpool's ssl) */
	char ssl_cert[PATH_MAX];
	char ssl_key[PATH_MAX];
	char ssl_ca_cert[PATH_MAX];	/* empty: no client certificates asked */
	char ssl_ciphers[256];
	char ssl_min_protocol_version[16];
	bool ssl_prefer_server_ciphers;
	char backend_sslmode[16];	/* TLS to the servers: libpq's sslmode names */
	char backend_sslrootcert[PATH_MAX];
	enum xdp_mode xdp_mode;
	bool forward_ipip;		/* forwarding = ipip: to routed backends in IPIP, not DSR by MAC */
	char bpf_pin_dir[PATH_MAX];
	bool ro_fallback_to_primary;
	char health_check_user[64];
	char health_check_password[256];
	char health_check_database[64];
	int health_check_period;	/* seconds; 0: no health checks, no failover */
	int health_check_timeout;	/* seconds, a whole check: connect and query */
	int health_check_max_retries;
	int health_check_retry_delay;	/* seconds */
	int health_probe_interval;	/* ms between probes of a connected node; 0: every period */
	int sr_check_period;		/* seconds; 0: no replication checks */
	char sr_check_user[64];		/* empty: health_check_user */
	char sr_check_password[256];
	char sr_check_database[64];
	long long delay_threshold;	/* bytes; 0: off */
	int delay_threshold_by_time;	/* milliseconds; 0: off */
	int delay_recovery_checks;	/* checks within the thresholds before a lagging standby returns */
	char failover_command[1024];	/* empty: pg_promote() over SQL */
	char follow_primary_command[1024];	/* empty: pgxrd re-points standbys itself */
	char fence_command[1024];	/* run when a node is fenced (STONITH); empty: none */
	int command_timeout;		/* seconds failover, follow and fence commands may run */
	int search_primary_node_timeout;	/* seconds to wait for a promoted node; 0: no limit */
	int switchover_timeout;		/* seconds a switchover waits for the candidate to catch up */
	long long maximum_lag_on_failover;	/* bytes an async standby may lag to be promoted; 0: any */
	enum sync_mode synchronous_mode;
	int auto_failback_interval;	/* seconds between two auto_failbacks of one node */
	bool failover_on_backend_error;	/* a lost connection that cannot be re-made: down at once */
	bool follow_primary;		/* re-point standbys after a failover */
	bool auto_failback;		/* re-attach standbys that stream again */
	char rejoin_command[1024];	/* when the data directory is not on this host */
	char recovery_user[64];		/* pg_rewind's source connection; empty: health_check_user */
	char recovery_password[256];
	int recovery_timeout;		/* seconds a rejoined node has to start streaming */
	char pg_bin_dir[PATH_MAX];	/* pg_ctl, pg_rewind; empty: the server's Debian directory */
	char pid_file_name[PATH_MAX];	/* empty: /run/pgxr/<interface>.pid */
	char control_socket[PATH_MAX];	/* empty: /run/pgxr/<interface>.sock */
	int vip_announce_count;		/* gratuitous ARPs / unsolicited NAs after taking the VIP */
	int vip_announce_interval;	/* milliseconds between them */
	struct cfg_backend backends[PGXR_MAX_BACKENDS];
	int nbackends;			/* highest configured node id + 1 */
};

/* health_check_*N bits of cfg_backend.hc_set */
#define CFG_HC_PERIOD 0x01
#define CFG_HC_TIMEOUT 0x02
#define CFG_HC_MAX_RETRIES 0x04
#define CFG_HC_RETRY_DELAY 0x08
#define CFG_HC_USER 0x10
#define CFG_HC_PASSWORD 0x20
#define CFG_HC_DATABASE 0x40

typedef void (*config_describe_cb)(const char *item, const char *value, const char *desc,
				   void *arg);

int config_load(const char *path, struct pgxr_config *cfg);
void config_describe(const struct pgxr_config *cfg, config_describe_cb fn, void *arg);
int config_reload(struct pgxr_config *live, const struct pgxr_config *fresh, char *restart,
		  size_t len);
const char *config_xdp_mode_name(enum xdp_mode mode);
const char *config_lb_on_write_name(enum lb_on_write w);
const char *config_sync_mode_name(enum sync_mode mode);

#endif /* PGXR_CONFIG_H */
