/* config.c: reads pgxr.conf, a pgpool.conf-style "key = value" file */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "splitlist.h"

enum cfg_type {
	T_INT,
	T_INT64,
	T_BOOL,
	T_STRING,
	T_ADDR,
	T_IFNAME,
	T_XDP_MODE,
	T_WEIGHT,
	T_BACKEND_FLAG,
	T_SYNC_MODE,
	T_LISTEN,
	T_POOL_MODE,
	T_FORWARDING,
	T_LB_ON_WRITE,
	T_REGEXES,	/* regular expressions, min: the separator */
	T_REDIRECTS,	/* pgpool's redirect preference list: name-regex:node(ratio), ... */
	T_RELATIONS,	/* dml_adaptive_object_relationship_list: object:table, ... */
};

struct cfg_param {
	const char *name;	/* indexed: the prefix before the node id */
	enum cfg_type type;
	bool indexed;		/* field is in cfg_backend, not pgxr_config */
	size_t off;
	size_t size;
	long min, max;		/* T_INT; T_REGEXES: min is the separator */
	unsigned hc_bit;	/* a health_check_*N override: its CFG_HC_* bit */
	const char *desc;	/* SHOW pool_status's description */
};

#define GLOBAL(n, t, f, lo, hi, d) \
	{ n, t, false, offsetof(struct pgxr_config, f), \
	  sizeof(((struct pgxr_config *)0)->f), lo, hi, 0, d }
#define BACKEND(n, t, f, lo, hi, d) \
	{ n, t, true, offsetof(struct cfg_backend, f), \
	  sizeof(((struct cfg_backend *)0)->f), lo, hi, 0, d }
#define HEALTH(n, t, f, lo, hi, bit, d) \
	{ n, t, true, offsetof(struct cfg_backend, hc.f), \
	  sizeof(((struct cfg_backend *)0)->hc.f), lo, hi, bit, d }

/*
 * What pgxr reads.  Where pgpool has the same setting, the name is
 * pgpool's (delegate_ip for the VIP, port for the proxy port), so a
 * pgpool.conf can be the start of a pgxr.conf.
 */
static const struct cfg_param cfg_params[] = {
	GLOBAL("interface", T_IFNAME, interface, 0, 0,
	       "the NIC that receives VIP traffic"),
	GLOBAL("vip", T_ADDR, vip, 0, 0,
	       "the virtual IP, IPv4 or IPv6"),
	GLOBAL("delegate_ip", T_ADDR, vip, 0, 0,
	       "pgpool's name for vip"),
	GLOBAL("rw_port", T_INT, rw_port, 1, 65535,
	       "VIP port steered to the primary"),
	GLOBAL("ro_port", T_INT, ro_port, 1, 65535,
	       "VIP port steered to the standbys"),
	GLOBAL("proxy_port", T_INT, proxy_port, 0, 65535,
	       "the proxy's port, passed by XDP from the VIP to the router's stack"),
	GLOBAL("port", T_INT, proxy_port, 0, 65535,
	       "pgpool's name for proxy_port"),
	GLOBAL("listen_addresses", T_LISTEN, listen_addresses, 0, 0,
	       "the proxy's listening address: * (every address, IPv4 and IPv6) or one address, which need not be on the host yet (the VIP)"),
	GLOBAL("num_workers", T_INT, num_workers, 0, 64,
	       "proxy threads, each with its own event loop and listening socket"),
	GLOBAL("max_connections", T_INT, max_connections, 1, 1000000,
	       "proxy clients at once, all workers together"),
	GLOBAL("authentication_timeout", T_INT, authentication_timeout, 1, 86400,
	       "seconds a proxy client has from connect to its backend's BackendKeyData"),
	GLOBAL("client_idle_limit", T_INT, client_idle_limit, 0, 86400,
	       "seconds a proxy client may stay silent while the server owes it nothing"),
	GLOBAL("enable_pool_hba", T_BOOL, enable_pool_hba, 0, 0,
	       "pgxr authenticates proxy clients itself with pool_hba_file and pool_passwd"),
	GLOBAL("pool_passwd", T_STRING, pool_passwd, 0, 0,
	       "pgpool's password file"),
	GLOBAL("pool_hba_file", T_STRING, pool_hba_file, 0, 0,
	       "pgpool's client authentication file"),
	GLOBAL("pool_key_file", T_STRING, pool_key_file, 0, 0,
	       "the key of pool_passwd's AES entries"),
	GLOBAL("auth_user", T_STRING, auth_user, 0, 0,
	       "the user (in pool_passwd) that looks up users pool_passwd lacks with auth_query"),
	GLOBAL("auth_query", T_STRING, auth_query, 0, 0,
	       "the query that returns a user's name and secret, $1 being the name"),
	GLOBAL("connection_cache", T_BOOL, connection_cache, 0, 0,
	       "cache server connections after their client leaves"),
	GLOBAL("max_pool", T_INT, max_pool, 0, 100000,
	       "idle cached server connections per (user, database, startup parameters)"),
	GLOBAL("connection_life_time", T_INT, connection_life_time, 0, 86400 * 365,
	       "seconds a cached connection may stay idle"),
	GLOBAL("pool_mode", T_POOL_MODE, pool_transaction, 0, 0,
	       "session (a server connection per client session) or transaction (per transaction)"),
	GLOBAL("load_balance_mode", T_BOOL, load_balance_mode, 0, 0,
	       "reads the parser finds safe may run on a standby"),
	GLOBAL("statement_level_load_balance", T_BOOL, statement_level_load_balance, 0, 0,
	       "the read node is picked per statement, not once per session"),
	GLOBAL("disable_load_balance_on_write", T_LB_ON_WRITE, lb_on_write, 0, 0,
	       "off, transaction, trans_transaction, dml_adaptive, always or causal: reads after a write"),
	GLOBAL("causal_read_timeout", T_INT, causal_read_timeout, 0, 3600000,
	       "ms a read after a commit waits for a standby to replay it (causal), then goes to the primary"),
	GLOBAL("write_function_list", T_REGEXES, write_function_list, ',', 0,
	       "functions whose reads go to the primary (comma-separated regular expressions)"),
	GLOBAL("read_only_function_list", T_REGEXES, read_only_function_list, ',', 0,
	       "the only functions a read on a standby may call (comma-separated regular expressions)"),
	GLOBAL("primary_routing_query_pattern_list", T_REGEXES, primary_routing_query_pattern_list, ';', 0,
	       "queries that go to the primary (semicolon-separated regular expressions)"),
	GLOBAL("app_name_redirect_preference_list", T_REDIRECTS, app_name_redirect_preference_list, 0, 0,
	       "application_name-regex:node(ratio), ...: the read node of a session by its application name"),
	GLOBAL("database_redirect_preference_list", T_REDIRECTS, database_redirect_preference_list, 0, 0,
	       "database-regex:node(ratio), ...: the read node of a session by its database"),
	GLOBAL("dml_adaptive_object_relationship_list", T_RELATIONS, dml_adaptive_object_relationship_list, 0, 0,
	       "object:table, ...: dml_adaptive, a write to the table or function() writes that table too"),
	GLOBAL("prefer_lower_delay_standby", T_BOOL, prefer_lower_delay_standby, 0, 0,
	       "a read for a standby past delay_threshold goes to the least delayed standby, not the primary"),
	GLOBAL("allow_sql_comments", T_BOOL, allow_sql_comments, 0, 0,
	       "a query that starts with a comment may be load balanced"),
	GLOBAL("check_unlogged_table", T_BOOL, check_unlogged_table, 0, 0,
	       "a read of an unlogged table (the primary's catalog says) goes to the primary"),
	GLOBAL("query_wait_timeout", T_INT, query_wait_timeout, 0, 86400,
	       "seconds a client may wait for a server connection of a full pool"),
	GLOBAL("max_prepared_statements", T_INT, max_prepared_statements, 0, 100000,
	       "prepared statements kept per server connection in transaction pooling"),
	GLOBAL("ssl", T_BOOL, ssl, 0, 0,
	       "TLS for proxy clients that ask for it"),
	GLOBAL("ssl_cert", T_STRING, ssl_cert, 0, 0,
	       "the proxy's certificate chain (PEM)"),
	GLOBAL("ssl_key", T_STRING, ssl_key, 0, 0,
	       "the proxy's private key (PEM)"),
	GLOBAL("ssl_ca_cert", T_STRING, ssl_ca_cert, 0, 0,
	       "CAs whose client certificates are accepted; empty: none asked"),
	GLOBAL("ssl_ciphers", T_STRING, ssl_ciphers, 0, 0,
	       "OpenSSL cipher list for TLS 1.2 and older"),
	GLOBAL("ssl_min_protocol_version", T_STRING, ssl_min_protocol_version, 0, 0,
	       "the oldest TLS version a client may use"),
	GLOBAL("ssl_prefer_server_ciphers", T_BOOL, ssl_prefer_server_ciphers, 0, 0,
	       "the proxy's cipher order wins over the client's"),
	GLOBAL("backend_sslmode", T_STRING, backend_sslmode, 0, 0,
	       "TLS to the servers: disable, prefer, require, verify-ca or verify-full"),
	GLOBAL("backend_sslrootcert", T_STRING, backend_sslrootcert, 0, 0,
	       "CAs that sign the servers' certificates, for verify-ca and verify-full"),
	GLOBAL("reset_query_list", T_STRING, reset_query_list, 0, 0,
	       "run on a server connection before it is cached"),
	GLOBAL("xdp_mode", T_XDP_MODE, xdp_mode, 0, 0,
	       "native, generic, or auto (native, falling back to generic)"),
	GLOBAL("forwarding", T_FORWARDING, forward_ipip, 0, 0,
	       "dsr (backends on the interface's link) or ipip (routed backends decapsulate)"),
	GLOBAL("bpf_pin_dir", T_STRING, bpf_pin_dir, 0, 0,
	       "pin root"),
	GLOBAL("ro_fallback_to_primary", T_BOOL, ro_fallback_to_primary, 0, 0,
	       "with no standby in the ro ring, ro_port goes to the primary"),
	GLOBAL("health_check_user", T_STRING, health_check_user, 0, 0,
	       "the checks' connection"),
	GLOBAL("health_check_password", T_STRING, health_check_password, 0, 0,
	       "the password of health_check_user"),
	GLOBAL("health_check_database", T_STRING, health_check_database, 0, 0,
	       "the database health checks connect to"),
	GLOBAL("health_check_period", T_INT, health_check_period, 0, 3600,
	       "seconds between checks"),
	GLOBAL("health_check_timeout", T_INT, health_check_timeout, 1, 3600,
	       "seconds for a whole check, connect and query"),
	GLOBAL("health_check_max_retries", T_INT, health_check_max_retries, 0, 100,
	       "retries before a node is down"),
	GLOBAL("health_check_retry_delay", T_INT, health_check_retry_delay, 0, 3600,
	       "seconds between retries"),
	GLOBAL("health_probe_interval", T_INT, health_probe_interval, 0, 60000,
	       "ms between probes of a node that answers"),
	GLOBAL("sr_check_period", T_INT, sr_check_period, 0, 3600,
	       "seconds between replication checks on the primary"),
	GLOBAL("sr_check_user", T_STRING, sr_check_user, 0, 0,
	       "the replication check's connection (it reads pg_stat_replication)"),
	GLOBAL("sr_check_password", T_STRING, sr_check_password, 0, 0,
	       "the password of sr_check_user"),
	GLOBAL("sr_check_database", T_STRING, sr_check_database, 0, 0,
	       "the database replication checks connect to"),
	GLOBAL("delay_threshold", T_INT64, delay_threshold, 0, 0,
	       "bytes of replay lag that take a standby out of the ro ring"),
	GLOBAL("delay_threshold_by_time", T_INT, delay_threshold_by_time, 0, 86400000,
	       "the same in milliseconds (replay_lag)"),
	GLOBAL("delay_recovery_checks", T_INT, delay_recovery_checks, 1, 1000,
	       "replication checks in a row within the delay thresholds before a lagging standby takes reads again"),
	GLOBAL("failover_command", T_STRING, failover_command, 0, 0,
	       "promote with this instead of pg_promote()"),
	GLOBAL("follow_primary_command", T_STRING, follow_primary_command, 0, 0,
	       "run for each other standby after a failover instead of pgxrd's own re-pointing"),
	GLOBAL("follow_master_command", T_STRING, follow_primary_command, 0, 0,
	       "pgpool's old name for follow_primary_command"),
	GLOBAL("fence_command", T_STRING, fence_command, 0, 0,
	       "run when a node is fenced (a STONITH hook)"),
	GLOBAL("command_timeout", T_INT, command_timeout, 1, 86400,
	       "seconds those three commands may run"),
	GLOBAL("search_primary_node_timeout", T_INT, search_primary_node_timeout, 0, 86400,
	       "seconds a promotion may take before the failover is tried again"),
	GLOBAL("switchover_timeout", T_INT, switchover_timeout, 1, 86400,
	       "seconds a switchover waits for the candidate to replay all of the old primary"),
	GLOBAL("maximum_lag_on_failover", T_INT64, maximum_lag_on_failover, 0, 0,
	       "bytes an asynchronous standby may be behind to be promoted automatically"),
	GLOBAL("synchronous_mode", T_SYNC_MODE, synchronous_mode, 0, 0,
	       "on or strict: pgxr manages synchronous_standby_names (Patroni's names)"),
	GLOBAL("auto_failback_interval", T_INT, auto_failback_interval, 0, 86400,
	       "seconds before the same node is attached automatically again"),
	GLOBAL("failover_on_backend_error", T_BOOL, failover_on_backend_error, 0, 0,
	       "a lost connection that cannot be re-made: down without retries"),
	GLOBAL("fail_over_on_backend_error", T_BOOL, failover_on_backend_error, 0, 0,
	       "pgpool's old name for failover_on_backend_error"),
	GLOBAL("follow_primary", T_BOOL, follow_primary, 0, 0,
	       "re-point the other standbys at a new primary"),
	GLOBAL("auto_failback", T_BOOL, auto_failback, 0, 0,
	       "attach a standby again once it streams from the primary"),
	GLOBAL("rejoin_command", T_STRING, rejoin_command, 0, 0,
	       "node rejoin of a node whose data directory is not on this host"),
	GLOBAL("recovery_user", T_STRING, recovery_user, 0, 0,
	       "pg_rewind's connection to the primary"),
	GLOBAL("recovery_password", T_STRING, recovery_password, 0, 0,
	       "the password of recovery_user"),
	GLOBAL("recovery_timeout", T_INT, recovery_timeout, 1, 86400,
	       "seconds for each rejoin step (pg_rewind included), and for the node to stream"),
	GLOBAL("pg_bin_dir", T_STRING, pg_bin_dir, 0, 0,
	       "where pg_ctl and pg_rewind are"),
	GLOBAL("pid_file_name", T_STRING, pid_file_name, 0, 0,
	       "locked while pgxrd runs"),
	GLOBAL("control_socket", T_STRING, control_socket, 0, 0,
	       "pgxrctl's way to pgxrd (mode 0600)"),
	GLOBAL("vip_announce_count", T_INT, vip_announce_count, 0, 100,
	       "gratuitous ARPs / NAs after taking the VIP, ms apart"),
	GLOBAL("vip_announce_interval", T_INT, vip_announce_interval, 10, 60000,
	       "milliseconds between two announcements of the VIP"),
	BACKEND("backend_hostname", T_STRING, hostname, 0, 0,
	       "node N's address or host name (N = 0..127)"),
	BACKEND("backend_port", T_INT, port, 1, 65535,
	       "its PostgreSQL port (health checks, promotion, rejoin)"),
	BACKEND("backend_weight", T_WEIGHT, weight, 0, 0,
	       "its share of ro_port sessions"),
	BACKEND("backend_flag", T_BACKEND_FLAG, flags, 0, 0,
	       "DISALLOW_TO_FAILOVER: no failover when this primary fails"),
	BACKEND("backend_data_directory", T_STRING, data_directory, 0, 0,
	       "its data directory, for the built-in rejoin when it is on this host"),
	HEALTH("health_check_period", T_INT, period, 0, 3600, CFG_HC_PERIOD,
	       "seconds between checks"),
	HEALTH("health_check_timeout", T_INT, timeout, 1, 3600, CFG_HC_TIMEOUT,
	       "seconds for a whole check, connect and query"),
	HEALTH("health_check_max_retries", T_INT, max_retries, 0, 100, CFG_HC_MAX_RETRIES,
	       "retries before a node is down"),
	HEALTH("health_check_retry_delay", T_INT, retry_delay, 0, 3600, CFG_HC_RETRY_DELAY,
	       "seconds between retries"),
	HEALTH("health_check_user", T_STRING, user, 0, 0, CFG_HC_USER,
	       "the checks' connection"),
	HEALTH("health_check_password", T_STRING, password, 0, 0, CFG_HC_PASSWORD,
	       "the password of health_check_user"),
	HEALTH("health_check_database", T_STRING, database, 0, 0, CFG_HC_DATABASE,
	       "the database health checks connect to"),
};

/*
 * What pgxr says of a pgpool-II parameter it does not use, by kind.  A
 * parameter whose value changes behaviour pgxr does not have is a warning
 * saying what pgxr does instead; the rest (logging, pcp, process model)
 * is summed up in one line.
 */
enum cfg_pgpool_kind {
	PG_UNUSED,		/* no behaviour to miss: logging, pcp, process model */
	PG_WATCHDOG,
	PG_VIP_COMMANDS,
	PG_PROXY,
	PG_PROCESS,
	PG_SPLIT,
	PG_TEMP_TABLE,
	PG_MODE,
	PG_QUERY_CACHE,
	PG_FALSE_PRIMARY,
	PG_FAILBACK,
	PG_RECOVERY,
	PG_NKINDS,
};

static const char *const cfg_pgpool_says[PG_NKINDS] = {
	[PG_WATCHDOG] = "pgxr has no watchdog cluster yet: this pgxrd decides failovers alone and holds the VIP alone; before promoting it asks the standbys whether the primary is alive",
	[PG_VIP_COMMANDS] = "pgxrd adds, removes and announces the VIP itself (rtnetlink, gratuitous ARP or unsolicited NA); these commands are not run",
	[PG_PROXY] = "pgxr's proxy does not implement this: no CRL, DH parameter file, curve choice or key passphrase for TLS (ssl_cert and ssl_key are read as they are), no connect_timeout, client_idle_limit_in_recovery or allow_clear_text_frontend_auth",
	[PG_PROCESS] = "pgxr has no process per client: num_workers threads serve every client and max_connections limits them (the next one gets SQLSTATE 53300)",
	[PG_SPLIT] = "pgxr's read/write split does not have this yet: its reads go to a standby when they call no VOLATILE function and name no catalog table, by backend_weight alone",
	[PG_TEMP_TABLE] = "pgxr keeps a session that creates a temporary table on its server connection to the primary from then on (pinned: its reads run there too), whatever this says; a temporary table a function creates is not seen",
	[PG_MODE] = "pgxr supports streaming replication only (pgpool's backend_clustering_mode = 'streaming_replication')",
	[PG_QUERY_CACHE] = "pgxr has no query cache",
	[PG_FALSE_PRIMARY] = "pgxr always fences a node that claims to be primary without being promoted by pgxr (detach_false_primary = on)",
	[PG_FAILBACK] = "pgxr runs no failback_command: a standby that streams from the primary again is attached (auto_failback)",
	[PG_RECOVERY] = "pgxr runs no recovery stages: pgxrctl node rejoin runs pg_rewind itself or rejoin_command",
};

/*
 * pgpool-II parameters pgxr does not read, with the value that leaves
 * nothing missing (NULL: every value).  A trailing '#' stands for a node
 * or peer index.
 */
static const struct cfg_pgpool_param {
	const char *name;
	enum cfg_pgpool_kind kind;
	const char *benign;
} cfg_pgpool_params[] = {
	{ "allow_clear_text_frontend_auth", PG_PROXY, NULL },
	{ "allow_multiple_failover_requests_from_node", PG_WATCHDOG, NULL },
	{ "arping_cmd", PG_VIP_COMMANDS, NULL },
	{ "arping_path", PG_VIP_COMMANDS, NULL },
	{ "backend_application_name#", PG_UNUSED, NULL },
	{ "backend_clustering_mode", PG_MODE, "streaming_replication" },
	{ "black_function_list", PG_SPLIT, NULL },
	{ "black_memqcache_table_list", PG_UNUSED, NULL },
	{ "black_query_pattern_list", PG_SPLIT, NULL },
	{ "cache_safe_memqcache_table_list", PG_UNUSED, NULL },
	{ "cache_unsafe_memqcache_table_list", PG_UNUSED, NULL },
	{ "check_temp_table", PG_TEMP_TABLE, NULL },
	{ "child_life_time", PG_UNUSED, NULL },
	{ "child_max_connections", PG_UNUSED, NULL },
	{ "clear_memqcache_on_escalation", PG_UNUSED, NULL },
	{ "client_idle_limit_in_recovery", PG_PROXY, NULL },
	{ "client_min_messages", PG_UNUSED, NULL },
	{ "connect_timeout", PG_PROXY, NULL },
	{ "connect_timeout#", PG_PROXY, NULL },
	{ "debug_level", PG_UNUSED, NULL },
	{ "detach_false_primary", PG_FALSE_PRIMARY, "on" },
	{ "enable_consensus_with_half_votes", PG_WATCHDOG, NULL },
	{ "enable_shared_relcache", PG_UNUSED, NULL },
	{ "failback_command", PG_FAILBACK, "" },
	{ "failover_if_affected_tuples_mismatch", PG_UNUSED, NULL },
	{ "failover_on_backend_shutdown", PG_UNUSED, NULL },
	{ "failover_require_consensus", PG_WATCHDOG, NULL },
	{ "failover_when_quorum_exists", PG_WATCHDOG, NULL },
	{ "heartbeat_destination#", PG_WATCHDOG, NULL },
	{ "heartbeat_destination_port#", PG_WATCHDOG, NULL },
	{ "heartbeat_device#", PG_WATCHDOG, NULL },
	{ "heartbeat_hostname#", PG_WATCHDOG, NULL },
	{ "heartbeat_port#", PG_WATCHDOG, NULL },
	{ "hostname#", PG_WATCHDOG, NULL },
	{ "if_cmd_path", PG_VIP_COMMANDS, NULL },
	{ "if_down_cmd", PG_VIP_COMMANDS, NULL },
	{ "if_up_cmd", PG_VIP_COMMANDS, NULL },
	{ "ignore_leading_white_space", PG_SPLIT, NULL },
	{ "insert_lock", PG_UNUSED, NULL },
	{ "listen_backlog_multiplier", PG_PROCESS, NULL },
	{ "lobj_lock_table", PG_UNUSED, NULL },
	{ "log_client_messages", PG_UNUSED, NULL },
	{ "log_connections", PG_UNUSED, NULL },
	{ "log_destination", PG_UNUSED, NULL },
	{ "log_directory", PG_UNUSED, NULL },
	{ "log_disconnections", PG_UNUSED, NULL },
	{ "log_error_verbosity", PG_UNUSED, NULL },
	{ "log_file_mode", PG_UNUSED, NULL },
	{ "log_filename", PG_UNUSED, NULL },
	{ "log_hostname", PG_UNUSED, NULL },
	{ "log_line_prefix", PG_UNUSED, NULL },
	{ "log_min_messages", PG_UNUSED, NULL },
	{ "log_per_node_statement", PG_UNUSED, NULL },
	{ "log_rotation_age", PG_UNUSED, NULL },
	{ "log_rotation_size", PG_UNUSED, NULL },
	{ "log_standby_delay", PG_UNUSED, NULL },
	{ "log_statement", PG_UNUSED, NULL },
	{ "log_truncate_on_rotation", PG_UNUSED, NULL },
	{ "logdir", PG_UNUSED, NULL },
	{ "logging_collector", PG_UNUSED, NULL },
	{ "master_slave_mode", PG_MODE, "on" },
	{ "master_slave_sub_mode", PG_MODE, "stream" },
	{ "memory_cache_enabled", PG_QUERY_CACHE, "off" },
	{ "memqcache_auto_cache_invalidation", PG_UNUSED, NULL },
	{ "memqcache_cache_block_size", PG_UNUSED, NULL },
	{ "memqcache_expire", PG_UNUSED, NULL },
	{ "memqcache_max_num_cache", PG_UNUSED, NULL },
	{ "memqcache_maxcache", PG_UNUSED, NULL },
	{ "memqcache_memcached_host", PG_UNUSED, NULL },
	{ "memqcache_memcached_port", PG_UNUSED, NULL },
	{ "memqcache_method", PG_UNUSED, NULL },
	{ "memqcache_oiddir", PG_UNUSED, NULL },
	{ "memqcache_total_size", PG_UNUSED, NULL },
	{ "num_init_children", PG_PROCESS, NULL },
	{ "other_pgpool_hostname#", PG_WATCHDOG, NULL },
	{ "other_pgpool_port#", PG_WATCHDOG, NULL },
	{ "other_wd_port#", PG_WATCHDOG, NULL },
	{ "pcp_listen_addresses", PG_UNUSED, NULL },
	{ "pcp_port", PG_UNUSED, NULL },
	{ "pcp_socket_dir", PG_UNUSED, NULL },
	{ "pgpool_port#", PG_WATCHDOG, NULL },
	{ "ping_path", PG_WATCHDOG, NULL },
	{ "recovery_1st_stage_command", PG_RECOVERY, "" },
	{ "recovery_2nd_stage_command", PG_RECOVERY, "" },
	{ "relcache_expire", PG_UNUSED, NULL },
	{ "relcache_query_target", PG_UNUSED, NULL },
	{ "relcache_size", PG_UNUSED, NULL },
	{ "replicate_select", PG_UNUSED, NULL },
	{ "replication_mode", PG_MODE, "off" },
	{ "replication_stop_on_mismatch", PG_UNUSED, NULL },
	{ "reserved_connections", PG_PROCESS, NULL },
	{ "serialize_accept", PG_UNUSED, NULL },
	{ "socket_dir", PG_UNUSED, NULL },
	{ "ssl_ca_cert_dir", PG_PROXY, NULL },
	{ "ssl_crl_file", PG_PROXY, NULL },
	{ "ssl_dh_params_file", PG_PROXY, NULL },
	{ "ssl_ecdh_curve", PG_PROXY, NULL },
	{ "ssl_passphrase_command", PG_PROXY, NULL },
	{ "syslog_facility", PG_UNUSED, NULL },
	{ "syslog_ident", PG_UNUSED, NULL },
	{ "trusted_servers", PG_WATCHDOG, NULL },
	{ "use_watchdog", PG_WATCHDOG, "off" },
	{ "wd_authkey", PG_WATCHDOG, NULL },
	{ "wd_de_escalation_command", PG_WATCHDOG, NULL },
	{ "wd_escalation_command", PG_WATCHDOG, NULL },
	{ "wd_heartbeat_deadtime", PG_WATCHDOG, NULL },
	{ "wd_heartbeat_keepalive", PG_WATCHDOG, NULL },
	{ "wd_heartbeat_port", PG_WATCHDOG, NULL },
	{ "wd_hostname", PG_WATCHDOG, NULL },
	{ "wd_interval", PG_WATCHDOG, NULL },
	{ "wd_ipc_socket_dir", PG_UNUSED, NULL },
	{ "wd_life_point", PG_WATCHDOG, NULL },
	{ "wd_lifecheck_dbname", PG_WATCHDOG, NULL },
	{ "wd_lifecheck_method", PG_WATCHDOG, NULL },
	{ "wd_lifecheck_password", PG_WATCHDOG, NULL },
	{ "wd_lifecheck_query", PG_WATCHDOG, NULL },
	{ "wd_lifecheck_user", PG_WATCHDOG, NULL },
	{ "wd_lost_node_removal_timeout", PG_WATCHDOG, NULL },
	{ "wd_monitoring_interfaces_list", PG_WATCHDOG, NULL },
	{ "wd_no_show_node_removal_timeout", PG_WATCHDOG, NULL },
	{ "wd_port", PG_WATCHDOG, NULL },
	{ "wd_port#", PG_WATCHDOG, NULL },
	{ "wd_priority", PG_WATCHDOG, NULL },
	{ "wd_remove_shutdown_nodes", PG_WATCHDOG, NULL },
	{ "white_function_list", PG_SPLIT, NULL },
	{ "white_memqcache_table_list", PG_UNUSED, NULL },
};

/* the first pgpool parameter of one kind whose value matters, and how many more */
struct cfg_pgpool_seen {
	int line;
	int count;
	char name[64];
};

/* one file being read: for file:line messages */
struct cfg_reader {
	const char *path;
	int line;
	int errors;
	struct cfg_pgpool_seen pgpool[PG_NKINDS];
};

static void cfg_error(struct cfg_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void cfg_error(struct cfg_reader *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s:%d: %s", r->path, r->line, msg);
	r->errors++;
}

const char *config_sync_mode_name(enum sync_mode mode)
{
	switch (mode) {
	case SYNC_MODE_ON:
		return "on";
	case SYNC_MODE_STRICT:
		return "strict";
	default:
		return "off";
	}
}

const char *config_lb_on_write_name(enum lb_on_write w)
{
	switch (w) {
	case LB_ON_WRITE_OFF:
		return "off";
	case LB_ON_WRITE_TRANS_TRANSACTION:
		return "trans_transaction";
	case LB_ON_WRITE_DML_ADAPTIVE:
		return "dml_adaptive";
	case LB_ON_WRITE_ALWAYS:
		return "always";
	case LB_ON_WRITE_CAUSAL:
		return "causal";
	default:
		return "transaction";
	}
}

const char *config_xdp_mode_name(enum xdp_mode mode)
{
	switch (mode) {
	case XDP_MODE_NATIVE:
		return "native";
	case XDP_MODE_GENERIC:
		return "generic";
	default:
		return "auto";
	}
}

static void config_defaults(struct pgxr_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->rw_port = 5432;
	cfg->ro_port = 5433;
	cfg->proxy_port = 9999;
	snprintf(cfg->listen_addresses, sizeof(cfg->listen_addresses), "*");
	cfg->max_connections = 1000;
	cfg->authentication_timeout = 60;
	snprintf(cfg->pool_passwd, sizeof(cfg->pool_passwd), "pool_passwd");
	snprintf(cfg->pool_hba_file, sizeof(cfg->pool_hba_file), "pool_hba.conf");
	cfg->connection_cache = true;
	cfg->max_pool = 4;
	snprintf(cfg->reset_query_list, sizeof(cfg->reset_query_list), "ABORT; DISCARD ALL");
	snprintf(cfg->ssl_ciphers, sizeof(cfg->ssl_ciphers), "HIGH:MEDIUM:+3DES:!aNULL");
	snprintf(cfg->ssl_min_protocol_version, sizeof(cfg->ssl_min_protocol_version), "TLSv1.2");
	snprintf(cfg->backend_sslmode, sizeof(cfg->backend_sslmode), "disable");
	cfg->query_wait_timeout = 120;
	cfg->causal_read_timeout = 1000;
	snprintf(cfg->auth_query, sizeof(cfg->auth_query),
		 "SELECT usename, passwd FROM pg_shadow WHERE usename = $1");
	cfg->max_prepared_statements = 200;
	cfg->lb_on_write = LB_ON_WRITE_TRANSACTION;
	cfg->check_unlogged_table = true;
	cfg->xdp_mode = XDP_MODE_AUTO;
	snprintf(cfg->bpf_pin_dir, sizeof(cfg->bpf_pin_dir), "%s", CONFIG_DEFAULT_PIN_DIR);
	cfg->ro_fallback_to_primary = true;
	snprintf(cfg->health_check_user, sizeof(cfg->health_check_user), "postgres");
	snprintf(cfg->health_check_database, sizeof(cfg->health_check_database), "postgres");
	cfg->health_check_period = 1;
	cfg->health_check_timeout = 5;
	cfg->health_check_max_retries = 1;
	cfg->health_check_retry_delay = 1;
	cfg->health_probe_interval = 100;
	cfg->sr_check_period = 5;
	cfg->delay_recovery_checks = 3;
	cfg->command_timeout = 60;
	cfg->search_primary_node_timeout = 300;
	cfg->switchover_timeout = 30;
	cfg->maximum_lag_on_failover = 1048576;
	cfg->auto_failback_interval = 60;
	cfg->failover_on_backend_error = true;
	cfg->follow_primary = true;
	cfg->auto_failback = true;
	cfg->recovery_timeout = 90;
	cfg->vip_announce_count = 3;
	cfg->vip_announce_interval = 500;
	for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
		cfg->backends[i].port = 5432;
		cfg->backends[i].weight = 1.0;
	}
}

/* "name123" -> 123 when name is the prefix and only digits follow */
static int cfg_index(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *p = key + n;
	long id;

	if (strncasecmp(key, prefix, n) || !isdigit((unsigned char)*p))
		return -1;
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q))
			return -1;
	errno = 0;
	id = strtol(p, NULL, 10);
	if (errno || id > INT_MAX)
		return INT_MAX;
	return (int)id;
}

static const struct cfg_param *cfg_find(const char *key, int *index)
{
	for (size_t i = 0; i < sizeof(cfg_params) / sizeof(cfg_params[0]); i++) {
		const struct cfg_param *p = &cfg_params[i];

		if (!p->indexed && !strcasecmp(key, p->name))
			return p;
		if (p->indexed && (*index = cfg_index(key, p->name)) >= 0)
			return p;
	}
	return NULL;
}

static const struct cfg_pgpool_param *cfg_pgpool_param(const char *key)
{
	for (size_t i = 0; i < sizeof(cfg_pgpool_params) / sizeof(cfg_pgpool_params[0]); i++) {
		const char *name = cfg_pgpool_params[i].name;
		size_t n = strlen(name);

		if (name[n - 1] == '#') {
			char prefix[64];

			snprintf(prefix, sizeof(prefix), "%.*s", (int)(n - 1), name);
			if (cfg_index(key, prefix) >= 0)
				return &cfg_pgpool_params[i];
		} else if (!strcasecmp(key, name)) {
			return &cfg_pgpool_params[i];
		}
	}
	return NULL;
}

static int cfg_bool(const char *v, bool *out);

/* a pgpool parameter pgxr does not read: counted by kind, said once at the end */
static void cfg_pgpool_note(struct cfg_reader *r, const struct cfg_pgpool_param *p, const char *key,
			    const char *value)
{
	enum cfg_pgpool_kind kind = p->kind;
	struct cfg_pgpool_seen *seen;
	bool bool_benign = false, b;

	if (p->benign && !cfg_bool(p->benign, &b)) {
		bool v;

		bool_benign = !cfg_bool(value, &v) && v == b;
	}
	if (p->benign && (bool_benign || !strcasecmp(value, p->benign)))
		kind = PG_UNUSED;
	log_debug("%s:%d: pgpool parameter \"%s\" is not used by pgxr", r->path, r->line, key);
	seen = &r->pgpool[kind];
	if (!seen->count++) {
		seen->line = r->line;
		snprintf(seen->name, sizeof(seen->name), "%s", key);
	}
}

/* one line per kind of pgpool parameter seen: a warning where pgxr behaves otherwise */
static void cfg_pgpool_report(struct cfg_reader *r)
{
	for (int k = 0; k < PG_NKINDS; k++) {
		const struct cfg_pgpool_seen *seen = &r->pgpool[k];
		char more[48] = "";

		if (!seen->count)
			continue;
		if (seen->count > 1)
			snprintf(more, sizeof(more), " and %d more like it", seen->count - 1);
		if (k == PG_UNUSED)
			log_info("%s: %d pgpool parameter(s) not used by pgxr were ignored (\"%s\"%s)",
				 r->path, seen->count, seen->name,
				 seen->count > 1 ? " and others; -d lists them" : "");
		else
			log_warning("%s:%d: pgpool parameter \"%s\"%s is not used: %s", r->path,
				    seen->line, seen->name, more, cfg_pgpool_says[k]);
	}
}

/* edit distance, for "did you mean" on a misspelt parameter */
static int cfg_distance(const char *a, const char *b)
{
	int la = strlen(a), lb = strlen(b), prev[64], cur[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (int j = 0; j <= lb; j++)
		prev[j] = j;
	for (int i = 1; i <= la; i++) {
		cur[0] = i;
		for (int j = 1; j <= lb; j++) {
			int sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) !=
						 tolower((unsigned char)b[j - 1]));
			int del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, sizeof(cur));
	}
	return prev[lb];
}

static void cfg_unknown(struct cfg_reader *r, const char *key)
{
	const char *best = NULL;
	int best_d = 3;

	for (size_t i = 0; i < sizeof(cfg_params) / sizeof(cfg_params[0]); i++) {
		char name[80];
		int d;

		snprintf(name, sizeof(name), "%s%s", cfg_params[i].name,
			 cfg_params[i].indexed ? "0" : "");
		d = cfg_distance(key, name);
		if (d < best_d) {
			best_d = d;
			best = cfg_params[i].name;
		}
	}
	if (best)
		log_warning("%s:%d: unrecognized configuration parameter \"%s\" (did you mean \"%s\"?)",
			    r->path, r->line, key, best);
	else
		log_warning("%s:%d: unrecognized configuration parameter \"%s\"",
			    r->path, r->line, key);
}

static int cfg_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "on", "true", "yes", "1" };
	static const char *const no[] = { "off", "false", "no", "0" };

	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int cfg_backend_flags(const char *v, unsigned *out)
{
	char buf[256], *save, *tok;
	bool allow = false;

	if (strlen(v) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", v);
	*out = 0;
	for (tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		for (char *e = tok + strlen(tok); e > tok && isspace((unsigned char)e[-1]); e--)
			e[-1] = '\0';
		if (!strcasecmp(tok, "ALLOW_TO_FAILOVER"))
			allow = true;
		else if (!strcasecmp(tok, "DISALLOW_TO_FAILOVER"))
			*out |= BACKEND_FLAG_DISALLOW_TO_FAILOVER;
		else if (!strcasecmp(tok, "ALWAYS_PRIMARY") || !strcasecmp(tok, "ALWAYS_MASTER"))
			*out |= BACKEND_FLAG_ALWAYS_PRIMARY;
		else
			return -EINVAL;
	}
	if (allow && (*out & BACKEND_FLAG_DISALLOW_TO_FAILOVER))
		return -EINVAL;
	return 0;
}

/* sets one parameter; on a bad value says what was expected */
static void cfg_set(struct cfg_reader *r, struct pgxr_config *cfg,
		    const struct cfg_param *p, const char *key, int index,
		    const char *v)
{
	char *base = (char *)cfg;
	const char *expected = NULL;
	char range[96], why[320];
	void *field;

	if (p->indexed) {
		if (index >= PGXR_MAX_BACKENDS) {
			cfg_error(r, "node id of parameter \"%s\" is out of range (expected 0 to %d)",
				  key, PGXR_MAX_BACKENDS - 1);
			return;
		}
		base = (char *)&cfg->backends[index];
	}
	field = base + p->off;

	/* the text types keep the value whole, in a field of p->size bytes */
	if ((p->type == T_STRING || p->type == T_REGEXES || p->type == T_REDIRECTS ||
	     p->type == T_RELATIONS) && strlen(v) >= p->size) {
		snprintf(range, sizeof(range), "at most %zu characters", p->size - 1);
		expected = range;
	} else switch (p->type) {
	case T_INT: {
		char *end;
		long n;

		errno = 0;
		n = strtol(v, &end, 10);
		if (errno || end == v || *end || n < p->min || n > p->max) {
			snprintf(range, sizeof(range), "an integer from %ld to %ld", p->min, p->max);
			expected = range;
			break;
		}
		*(int *)field = (int)n;
		break;
	}
	case T_INT64: {
		char *end;
		long long n;

		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno || end == v || *end || n < 0) {
			expected = "a non-negative integer";
			break;
		}
		*(long long *)field = n;
		break;
	}
	case T_BOOL:
		if (cfg_bool(v, field))
			expected = "a boolean: on, off, true, false, yes, no, 1 or 0";
		break;
	case T_REGEXES: {
		bool write_list = p->off == offsetof(struct pgxr_config, write_function_list);
		bool ro_list = p->off == offsetof(struct pgxr_config, read_only_function_list);

		if (splitlist_check(v, (char)p->min, why, sizeof(why))) {
			expected = why;
			break;
		}
		/* pgpool's rule: a function list says either what writes or what only reads */
		if (*v && ((write_list && cfg->read_only_function_list[0]) ||
			   (ro_list && cfg->write_function_list[0]))) {
			cfg_error(r, "parameter \"%s\" cannot be set with \"%s\": only one function list may be set",
				  key, write_list ? "read_only_function_list" : "write_function_list");
			return;
		}
		memcpy(field, v, strlen(v) + 1);
		break;
	}
	case T_REDIRECTS:
		if (splitlist_redirect_check(v, PGXR_MAX_BACKENDS, why, sizeof(why))) {
			expected = why;
			break;
		}
		memcpy(field, v, strlen(v) + 1);
		break;
	case T_RELATIONS:
		if (splitlist_relations_check(v, why, sizeof(why))) {
			expected = why;
			break;
		}
		memcpy(field, v, strlen(v) + 1);
		break;
	case T_STRING:
		memcpy(field, v, strlen(v) + 1);
		if (p->indexed && p->off == offsetof(struct cfg_backend, hostname)) {
			cfg->backends[index].configured = v[0] != '\0';
			cfg->backends[index].line = r->line;
		}
		break;
	case T_LISTEN: {
		struct pgxr_addr a;

		if (strcmp(v, "*") && (strlen(v) >= p->size || addr_parse(v, &a))) {
			expected = "\"*\" or one IPv4 or IPv6 address";
			break;
		}
		memcpy(field, v, strlen(v) + 1);
		break;
	}
	case T_ADDR:
		if (addr_parse(v, field))
			expected = "an IPv4 or IPv6 address";
		break;
	case T_IFNAME:
		if (!v[0] || strlen(v) >= IF_NAMESIZE || strchr(v, '/') || strpbrk(v, " \t")) {
			snprintf(range, sizeof(range), "a network interface name of 1 to %d characters",
				 IF_NAMESIZE - 1);
			expected = range;
			break;
		}
		memcpy(field, v, strlen(v) + 1);
		break;
	case T_XDP_MODE:
		if (!strcasecmp(v, "auto"))
			*(enum xdp_mode *)field = XDP_MODE_AUTO;
		else if (!strcasecmp(v, "native"))
			*(enum xdp_mode *)field = XDP_MODE_NATIVE;
		else if (!strcasecmp(v, "generic"))
			*(enum xdp_mode *)field = XDP_MODE_GENERIC;
		else
			expected = "one of native, generic, auto";
		break;
	case T_WEIGHT: {
		char *end;
		double d;

		errno = 0;
		d = strtod(v, &end);
		if (errno || end == v || *end || !isfinite(d) || d < 0 || d > 1e6) {
			expected = "a number from 0 to 1000000";
			break;
		}
		*(double *)field = d;
		break;
	}
	case T_BACKEND_FLAG:
		if (cfg_backend_flags(v, field))
			expected = "ALLOW_TO_FAILOVER or DISALLOW_TO_FAILOVER, optionally with ALWAYS_PRIMARY, joined by |";
		break;
	case T_LB_ON_WRITE:
		if (!strcasecmp(v, "off"))
			*(enum lb_on_write *)field = LB_ON_WRITE_OFF;
		else if (!strcasecmp(v, "transaction"))
			*(enum lb_on_write *)field = LB_ON_WRITE_TRANSACTION;
		else if (!strcasecmp(v, "trans_transaction"))
			*(enum lb_on_write *)field = LB_ON_WRITE_TRANS_TRANSACTION;
		else if (!strcasecmp(v, "dml_adaptive"))
			*(enum lb_on_write *)field = LB_ON_WRITE_DML_ADAPTIVE;
		else if (!strcasecmp(v, "always"))
			*(enum lb_on_write *)field = LB_ON_WRITE_ALWAYS;
		else if (!strcasecmp(v, "causal"))
			*(enum lb_on_write *)field = LB_ON_WRITE_CAUSAL;
		else
			expected = "off, transaction, trans_transaction, dml_adaptive, always or causal";
		break;
	case T_FORWARDING:
		if (!strcasecmp(v, "dsr"))
			*(bool *)field = false;
		else if (!strcasecmp(v, "ipip"))
			*(bool *)field = true;
		else
			expected = "dsr or ipip";
		break;
	case T_POOL_MODE:
		if (!strcasecmp(v, "session"))
			*(bool *)field = false;
		else if (!strcasecmp(v, "transaction"))
			*(bool *)field = true;
		else
			expected = "session or transaction";
		break;
	case T_SYNC_MODE:
		if (!strcasecmp(v, "strict")) {
			*(enum sync_mode *)field = SYNC_MODE_STRICT;
		} else {
			bool on;

			if (cfg_bool(v, &on))
				expected = "one of off, on, strict";
			else
				*(enum sync_mode *)field = on ? SYNC_MODE_ON : SYNC_MODE_OFF;
		}
		break;
	}
	if (!expected && p->hc_bit)
		cfg->backends[index].hc_set |= p->hc_bit;
	if (expected)
		cfg_error(r, "invalid value for parameter \"%s\": \"%s\" (expected %s)",
			  key, v, expected);
}

/*
 * Splits one line into key and value, in place.  Values are bare words or
 * single-quoted strings with '' or \' for a quote, as in pgpool.conf and
 * postgresql.conf.  Returns 1 for a setting, 0 for a blank or comment
 * line, -1 after reporting a syntax error.
 */
static int cfg_split(struct cfg_reader *r, char *s, char **key, char **value)
{
	char *w;

	while (isspace((unsigned char)*s))
		s++;
	if (!*s || *s == '#')
		return 0;
	if (!isalpha((unsigned char)*s) && *s != '_') {
		cfg_error(r, "syntax error: expected a parameter name, found \"%.20s\"", s);
		return -1;
	}
	*key = s;
	while (isalnum((unsigned char)*s) || *s == '_' || *s == '.')
		s++;
	w = s;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '=')
		s++;
	*w = '\0';
	while (isspace((unsigned char)*s))
		s++;
	if (!*s || *s == '#') {
		cfg_error(r, "missing value for parameter \"%s\"", *key);
		return -1;
	}
	if (*s == '\'') {
		char *out = ++s;

		*value = out;
		for (;;) {
			if (!*s || *s == '\n') {
				cfg_error(r, "unterminated quoted string for parameter \"%s\"", *key);
				return -1;
			}
			if (*s == '\'' && s[1] == '\'') {
				*out++ = '\'';
				s += 2;
			} else if (*s == '\'') {
				s++;
				break;
			} else if (*s == '\\' && s[1]) {
				s++;
				*out++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s == 'r' ? '\r' : *s;
				s++;
			} else {
				*out++ = *s++;
			}
		}
		*out = '\0';
	} else {
		*value = s;
		while (*s && !isspace((unsigned char)*s) && *s != '#')
			s++;
		if (*s == '#') {
			*s = '\0';
			return 1;
		}
		if (*s)
			*s++ = '\0';
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s && *s != '#') {
		cfg_error(r, "syntax error after the value of parameter \"%s\": \"%.20s\"", *key, s);
		return -1;
	}
	return 1;
}

/* a node's health check settings: its health_check_*N where given, else the global ones */
static void cfg_derive_health(struct pgxr_config *cfg, struct cfg_backend *b)
{
	struct cfg_health *h = &b->hc;

	if (!(b->hc_set & CFG_HC_PERIOD))
		h->period = cfg->health_check_period;
	if (!(b->hc_set & CFG_HC_TIMEOUT))
		h->timeout = cfg->health_check_timeout;
	if (!(b->hc_set & CFG_HC_MAX_RETRIES))
		h->max_retries = cfg->health_check_max_retries;
	if (!(b->hc_set & CFG_HC_RETRY_DELAY))
		h->retry_delay = cfg->health_check_retry_delay;
	if (!(b->hc_set & CFG_HC_USER))
		snprintf(h->user, sizeof(h->user), "%s", cfg->health_check_user);
	if (!(b->hc_set & CFG_HC_PASSWORD))
		snprintf(h->password, sizeof(h->password), "%s", cfg->health_check_password);
	if (!(b->hc_set & CFG_HC_DATABASE))
		snprintf(h->database, sizeof(h->database), "%s", cfg->health_check_database);
}

/* a relative path is taken from the configuration file's directory, as pgpool does */
static void cfg_beside(const struct pgxr_config *cfg, char *path, size_t len)
{
	const char *slash = strrchr(cfg->path, '/');
	char full[PATH_MAX + 256];

	if (!path[0] || path[0] == '/' || !slash)
		return;
	snprintf(full, sizeof(full), "%.*s/%s", (int)(slash - cfg->path), cfg->path, path);
	if (strlen(full) < len)
		memcpy(path, full, strlen(full) + 1);
}

/* defaults that depend on other parameters */
static void cfg_derive(struct pgxr_config *cfg)
{
	for (int i = 0; i < PGXR_MAX_BACKENDS; i++)
		cfg_derive_health(cfg, &cfg->backends[i]);
	if (!cfg->sr_check_user[0]) {
		snprintf(cfg->sr_check_user, sizeof(cfg->sr_check_user), "%s", cfg->health_check_user);
		snprintf(cfg->sr_check_password, sizeof(cfg->sr_check_password), "%s",
			 cfg->health_check_password);
	}
	if (!cfg->sr_check_database[0])
		snprintf(cfg->sr_check_database, sizeof(cfg->sr_check_database), "%s",
			 cfg->health_check_database);
	if (!cfg->recovery_user[0]) {
		snprintf(cfg->recovery_user, sizeof(cfg->recovery_user), "%s", cfg->health_check_user);
		snprintf(cfg->recovery_password, sizeof(cfg->recovery_password), "%s",
			 cfg->health_check_password);
	}
	cfg_beside(cfg, cfg->pool_passwd, sizeof(cfg->pool_passwd));
	cfg_beside(cfg, cfg->pool_hba_file, sizeof(cfg->pool_hba_file));
	cfg_beside(cfg, cfg->ssl_cert, sizeof(cfg->ssl_cert));
	cfg_beside(cfg, cfg->ssl_key, sizeof(cfg->ssl_key));
	cfg_beside(cfg, cfg->ssl_ca_cert, sizeof(cfg->ssl_ca_cert));
	cfg_beside(cfg, cfg->backend_sslrootcert, sizeof(cfg->backend_sslrootcert));
	if (!cfg->pool_key_file[0]) {
		const char *env = getenv("PGPOOLKEYFILE"), *home = getenv("HOME");

		if (env && env[0])
			snprintf(cfg->pool_key_file, sizeof(cfg->pool_key_file), "%s", env);
		else
			snprintf(cfg->pool_key_file, sizeof(cfg->pool_key_file), "%s/.pgpoolkey",
				 home && home[0] ? home : "/root");
	}
	if (!cfg->pid_file_name[0])
		snprintf(cfg->pid_file_name, sizeof(cfg->pid_file_name), "/run/pgxr/%s.pid",
			 cfg->interface);
	if (!cfg->control_socket[0])
		snprintf(cfg->control_socket, sizeof(cfg->control_socket), "/run/pgxr/%s.sock",
			 cfg->interface);
}

/* cross-parameter checks once the whole file is read */
static void cfg_validate(struct cfg_reader *r, struct pgxr_config *cfg)
{
	char vip[ADDR_STRLEN];
	int any = 0;

	r->line = 0;
	if (!cfg->interface[0]) {
		log_error("%s: parameter \"interface\" is not set (the network interface that receives VIP traffic)",
			  r->path);
		r->errors++;
	}
	if (!cfg->vip.family) {
		log_error("%s: parameter \"vip\" (or pgpool's \"delegate_ip\") is not set", r->path);
		r->errors++;
	}
	if (cfg->pool_transaction && !cfg->enable_pool_hba) {
		log_error("%s: pool_mode = transaction needs enable_pool_hba = on: pgxr must log in to the servers itself",
			  r->path);
		r->errors++;
	}
	if (cfg->load_balance_mode && !cfg->enable_pool_hba)
		log_warning("%s: load_balance_mode = on needs enable_pool_hba = on, since pgxr logs in to the standbys itself: every statement goes to the primary",
			    r->path);
	if (cfg->ssl && (!cfg->ssl_cert[0] || !cfg->ssl_key[0])) {
		log_error("%s: ssl = on needs ssl_cert and ssl_key (PEM files)", r->path);
		r->errors++;
	}
	if (cfg->rw_port == cfg->ro_port || cfg->rw_port == cfg->proxy_port ||
	    cfg->ro_port == cfg->proxy_port) {
		log_error("%s: rw_port (%d), ro_port (%d) and proxy_port (%d) must differ",
			  r->path, cfg->rw_port, cfg->ro_port, cfg->proxy_port);
		r->errors++;
	}
	for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
		struct cfg_backend *b = &cfg->backends[i];
		int ret;

		if (!b->configured)
			continue;
		any = 1;
		cfg->nbackends = i + 1;
		r->line = b->line;
		ret = addr_resolve(b->hostname, &b->addr);
		if (ret) {
			cfg_error(r, "could not resolve backend_hostname%d \"%s\": %s", i,
				  b->hostname, ret == -ENOENT ? "no such host" : "resolver failure");
			continue;
		}
		if (cfg->vip.family && b->addr.family != cfg->vip.family)
			cfg_error(r, "backend_hostname%d \"%s\" is not of the address family of the VIP %s: direct server return needs both on one L2 segment",
				  i, b->hostname, addr_format(&cfg->vip, vip, sizeof(vip)));
	}
	if (!any) {
		log_error("%s: no backend is configured (expected backend_hostname0 and so on)", r->path);
		r->errors++;
	}
	cfg_derive(cfg);
}

/*
 * Loads path into cfg.  Every problem is logged with file:line; returns 0,
 * or -EINVAL when the file had errors, or -errno when it could not be read.
 */
int config_load(const char *path, struct pgxr_config *cfg)
{
	struct cfg_reader r = { .path = path };
	int seen_line[PGXR_MAX_BACKENDS] = { 0 };	/* first backend_*N line */
	char seen_key[PGXR_MAX_BACKENDS][48];
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int ret = 0;

	config_defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		log_error("could not open configuration file \"%s\": %s", path, strerror(errno));
		return ret;
	}
	while (getline(&line, &cap, f) >= 0) {
		const struct cfg_param *p;
		char *key, *value;
		int index = -1;

		r.line++;
		if (cfg_split(&r, line, &key, &value) <= 0)
			continue;
		p = cfg_find(key, &index);
		if (p) {
			cfg_set(&r, cfg, p, key, index, value);
			if (p->indexed && index < PGXR_MAX_BACKENDS && !seen_line[index]) {
				seen_line[index] = r.line;
				snprintf(seen_key[index], sizeof(seen_key[index]), "%s", key);
			}
		} else if (cfg_pgpool_param(key)) {
			cfg_pgpool_note(&r, cfg_pgpool_param(key), key, value);
		} else {
			cfg_unknown(&r, key);
		}
	}
	if (ferror(f)) {
		ret = -errno;
		log_error("could not read configuration file \"%s\": %s", path, strerror(errno));
	}
	free(line);
	fclose(f);
	if (ret)
		return ret;

	/* backend_portN and friends without backend_hostnameN name no node */
	for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
		if (seen_line[i] && !cfg->backends[i].configured) {
			r.line = seen_line[i];
			cfg_error(&r, "parameter \"%s\" is set but backend_hostname%d is not",
				  seen_key[i], i);
		}
	}
	cfg_pgpool_report(&r);
	cfg_validate(&r, cfg);
	return r.errors ? -EINVAL : 0;
}

/* one parameter's value as the file would say it; a password is masked */
static void cfg_value(const struct cfg_param *p, const void *field, char *out, size_t len)
{
	switch (p->type) {
	case T_INT:
		snprintf(out, len, "%d", *(const int *)field);
		break;
	case T_INT64:
		snprintf(out, len, "%lld", *(const long long *)field);
		break;
	case T_BOOL:
		snprintf(out, len, "%s", *(const bool *)field ? "on" : "off");
		break;
	case T_ADDR:
		if (((const struct pgxr_addr *)field)->family)
			addr_format(field, out, len);
		else
			snprintf(out, len, "%s", "");
		break;
	case T_XDP_MODE:
		snprintf(out, len, "%s", config_xdp_mode_name(*(const enum xdp_mode *)field));
		break;
	case T_WEIGHT:
		snprintf(out, len, "%g", *(const double *)field);
		break;
	case T_BACKEND_FLAG: {
		unsigned f = *(const unsigned *)field;

		snprintf(out, len, "%s%s", f & BACKEND_FLAG_DISALLOW_TO_FAILOVER ?
			 "DISALLOW_TO_FAILOVER" : "ALLOW_TO_FAILOVER",
			 f & BACKEND_FLAG_ALWAYS_PRIMARY ? "|ALWAYS_PRIMARY" : "");
		break;
	}
	case T_SYNC_MODE:
		snprintf(out, len, "%s", config_sync_mode_name(*(const enum sync_mode *)field));
		break;
	case T_POOL_MODE:
		snprintf(out, len, "%s", *(const bool *)field ? "transaction" : "session");
		break;
	case T_FORWARDING:
		snprintf(out, len, "%s", *(const bool *)field ? "ipip" : "dsr");
		break;
	case T_LB_ON_WRITE:
		snprintf(out, len, "%s", config_lb_on_write_name(*(const enum lb_on_write *)field));
		break;
	default:
		if (strstr(p->name, "password") && *(const char *)field)
			snprintf(out, len, "%s", "********");
		else
			snprintf(out, len, "%s", (const char *)field);
		break;
	}
}

/*
 * Every parameter pgxr reads, with its value and what it is for, in the
 * table's order; a node's parameters for each configured node.  For
 * pgpool's SHOW pool_status.
 */
void config_describe(const struct pgxr_config *cfg, config_describe_cb fn, void *arg)
{
	char name[64], value[PATH_MAX];

	for (size_t i = 0; i < sizeof(cfg_params) / sizeof(cfg_params[0]); i++) {
		const struct cfg_param *p = &cfg_params[i];

		if (!p->indexed) {
			cfg_value(p, (const char *)cfg + p->off, value, sizeof(value));
			fn(p->name, value, p->desc, arg);
			continue;
		}
		for (int id = 0; id < cfg->nbackends; id++) {
			if (!cfg->backends[id].configured)
				continue;
			snprintf(name, sizeof(name), "%s%d", p->name, id);
			cfg_value(p, (const char *)&cfg->backends[id] + p->off, value, sizeof(value));
			fn(name, value, p->desc, arg);
		}
	}
}

/* what a reload cannot change: pgxrd must restart to apply these */
#define RESTART(n, f) { n, offsetof(struct pgxr_config, f), sizeof(((struct pgxr_config *)0)->f) }
static const struct {
	const char *name;
	size_t off, size;
} cfg_restart_params[] = {
	RESTART("interface", interface),
	RESTART("vip", vip),
	RESTART("rw_port", rw_port),
	RESTART("ro_port", ro_port),
	RESTART("proxy_port", proxy_port),
	RESTART("listen_addresses", listen_addresses),
	RESTART("num_workers", num_workers),
	RESTART("ssl", ssl),
	RESTART("ssl_cert", ssl_cert),
	RESTART("ssl_key", ssl_key),
	RESTART("ssl_ca_cert", ssl_ca_cert),
	RESTART("ssl_ciphers", ssl_ciphers),
	RESTART("ssl_min_protocol_version", ssl_min_protocol_version),
	RESTART("ssl_prefer_server_ciphers", ssl_prefer_server_ciphers),
	RESTART("backend_sslmode", backend_sslmode),
	RESTART("backend_sslrootcert", backend_sslrootcert),
	RESTART("xdp_mode", xdp_mode),
	RESTART("forwarding", forward_ipip),
	RESTART("bpf_pin_dir", bpf_pin_dir),
	RESTART("pid_file_name", pid_file_name),
	RESTART("control_socket", control_socket),
};

static void cfg_name_append(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cfg_name_append(char *out, size_t len, const char *fmt, ...)
{
	size_t n = strlen(out);
	va_list ap;

	if (n + 3 >= len)
		return;
	if (n)
		n += snprintf(out + n, len - n, ", ");
	va_start(ap, fmt);
	vsnprintf(out + n, len - n, fmt, ap);
	va_end(ap);
}

/*
 * Applies a freshly loaded file to the live configuration, in place (the
 * modules hold pointers into it).  What needs a restart (the interface,
 * the VIP and ports, the pins, the set of backends and their addresses)
 * keeps its live value and is named in restart.  Returns how many such
 * parameters changed.
 */
int config_reload(struct pgxr_config *live, const struct pgxr_config *fresh, char *restart,
		  size_t len)
{
	struct pgxr_config *next = malloc(sizeof(*next));
	int changed = 0;

	if (!next)
		return -ENOMEM;
	*next = *fresh;
	restart[0] = '\0';
	for (size_t i = 0; i < sizeof(cfg_restart_params) / sizeof(cfg_restart_params[0]); i++) {
		size_t off = cfg_restart_params[i].off, size = cfg_restart_params[i].size;

		if (!memcmp((char *)live + off, (char *)next + off, size))
			continue;
		cfg_name_append(restart, len, "%s", cfg_restart_params[i].name);
		memcpy((char *)next + off, (char *)live + off, size);
		changed++;
	}
	for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
		struct cfg_backend *l = &live->backends[i], *f = &next->backends[i];

		if (l->configured != f->configured ||
		    (l->configured && (strcmp(l->hostname, f->hostname) || l->port != f->port))) {
			cfg_name_append(restart, len, "%s%d",
					l->configured != f->configured || strcmp(l->hostname, f->hostname) ?
						"backend_hostname" : "backend_port", i);
			changed++;
		}
		f->configured = l->configured;
		f->line = l->line;
		memcpy(f->hostname, l->hostname, sizeof(f->hostname));
		f->addr = l->addr;
		f->port = l->port;
	}
	next->nbackends = live->nbackends;
	memcpy(next->path, live->path, sizeof(next->path));
	*live = *next;
	free(next);
	return changed;
}
