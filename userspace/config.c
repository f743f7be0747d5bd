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
};

struct cfg_param {
	const char *name;	/* indexed: the prefix before the node id */
	enum cfg_type type;
	bool indexed;		/* field is in cfg_backend, not pgxr_config */
	size_t off;
	size_t size;
	long min, max;		/* T_INT only */
};

#define GLOBAL(n, t, f, lo, hi) \
	{ n, t, false, offsetof(struct pgxr_config, f), \
	  sizeof(((struct pgxr_config *)0)->f), lo, hi }
#define BACKEND(n, t, f, lo, hi) \
	{ n, t, true, offsetof(struct cfg_backend, f), \
	  sizeof(((struct cfg_backend *)0)->f), lo, hi }

/*
 * What pgxr reads.  Where pgpool has the same setting, the name is
 * pgpool's (delegate_ip for the VIP, port for the proxy port), so a
 * pgpool.conf can be the start of a pgxr.conf.
 */
static const struct cfg_param cfg_params[] = {
	GLOBAL("interface", T_IFNAME, interface, 0, 0),
	GLOBAL("vip", T_ADDR, vip, 0, 0),
	GLOBAL("delegate_ip", T_ADDR, vip, 0, 0),
	GLOBAL("rw_port", T_INT, rw_port, 1, 65535),
	GLOBAL("ro_port", T_INT, ro_port, 1, 65535),
	GLOBAL("proxy_port", T_INT, proxy_port, 0, 65535),
	GLOBAL("port", T_INT, proxy_port, 0, 65535),
	GLOBAL("xdp_mode", T_XDP_MODE, xdp_mode, 0, 0),
	GLOBAL("bpf_pin_dir", T_STRING, bpf_pin_dir, 0, 0),
	GLOBAL("ro_fallback_to_primary", T_BOOL, ro_fallback_to_primary, 0, 0),
	GLOBAL("health_check_user", T_STRING, health_check_user, 0, 0),
	GLOBAL("health_check_password", T_STRING, health_check_password, 0, 0),
	GLOBAL("health_check_database", T_STRING, health_check_database, 0, 0),
	GLOBAL("health_check_period", T_INT, health_check_period, 0, 3600),
	GLOBAL("health_check_timeout", T_INT, health_check_timeout, 1, 3600),
	GLOBAL("health_check_max_retries", T_INT, health_check_max_retries, 0, 100),
	GLOBAL("health_check_retry_delay", T_INT, health_check_retry_delay, 0, 3600),
	GLOBAL("sr_check_period", T_INT, sr_check_period, 0, 3600),
	GLOBAL("sr_check_user", T_STRING, sr_check_user, 0, 0),
	GLOBAL("sr_check_password", T_STRING, sr_check_password, 0, 0),
	GLOBAL("sr_check_database", T_STRING, sr_check_database, 0, 0),
	GLOBAL("delay_threshold", T_INT64, delay_threshold, 0, 0),
	GLOBAL("delay_threshold_by_time", T_INT, delay_threshold_by_time, 0, 86400000),
	GLOBAL("failover_command", T_STRING, failover_command, 0, 0),
	GLOBAL("failover_on_backend_error", T_BOOL, failover_on_backend_error, 0, 0),
	GLOBAL("fail_over_on_backend_error", T_BOOL, failover_on_backend_error, 0, 0),
	GLOBAL("follow_primary", T_BOOL, follow_primary, 0, 0),
	GLOBAL("auto_failback", T_BOOL, auto_failback, 0, 0),
	GLOBAL("rejoin_command", T_STRING, rejoin_command, 0, 0),
	GLOBAL("recovery_user", T_STRING, recovery_user, 0, 0),
	GLOBAL("recovery_password", T_STRING, recovery_password, 0, 0),
	GLOBAL("recovery_timeout", T_INT, recovery_timeout, 1, 86400),
	GLOBAL("pg_bin_dir", T_STRING, pg_bin_dir, 0, 0),
	GLOBAL("pid_file_name", T_STRING, pid_file_name, 0, 0),
	GLOBAL("control_socket", T_STRING, control_socket, 0, 0),
	GLOBAL("vip_announce_count", T_INT, vip_announce_count, 0, 100),
	GLOBAL("vip_announce_interval", T_INT, vip_announce_interval, 10, 60000),
	BACKEND("backend_hostname", T_STRING, hostname, 0, 0),
	BACKEND("backend_port", T_INT, port, 1, 65535),
	BACKEND("backend_weight", T_WEIGHT, weight, 0, 0),
	BACKEND("backend_flag", T_BACKEND_FLAG, flags, 0, 0),
	BACKEND("backend_data_directory", T_STRING, data_directory, 0, 0),
};

/*
 * pgpool-II parameters that pgxr accepts and does not use (yet), so that
 * a pgpool.conf loads without a warning per line.  A trailing '#' stands
 * for a node or peer index.
 */
static const char *const cfg_pgpool_params[] = {
	"allow_clear_text_frontend_auth", "allow_multiple_failover_requests_from_node",
	"allow_sql_comments", "app_name_redirect_preference_list", "arping_cmd",
	"arping_path", "authentication_timeout", "auto_failback_interval",
	"backend_application_name#", "backend_clustering_mode", "black_function_list",
	"black_memqcache_table_list", "black_query_pattern_list",
	"cache_safe_memqcache_table_list", "cache_unsafe_memqcache_table_list",
	"check_temp_table", "check_unlogged_table", "child_life_time",
	"child_max_connections", "clear_memqcache_on_escalation", "client_idle_limit",
	"client_idle_limit_in_recovery", "client_min_messages", "connect_timeout",
	"connect_timeout#", "connection_cache", "connection_life_time",
	"database_redirect_preference_list", "debug_level", "detach_false_primary",
	"disable_load_balance_on_write", "dml_adaptive_object_relationship_list",
	"enable_consensus_with_half_votes", "enable_pool_hba",
	"enable_shared_relcache", "failback_command",
	"failover_if_affected_tuples_mismatch", "failover_on_backend_shutdown",
	"failover_require_consensus", "failover_when_quorum_exists",
	"follow_master_command", "follow_primary_command", "health_check_database#",
	"health_check_max_retries#", "health_check_password#", "health_check_period#",
	"health_check_retry_delay#", "health_check_timeout#", "health_check_user#",
	"heartbeat_destination#", "heartbeat_destination_port#", "heartbeat_device#",
	"heartbeat_hostname#", "heartbeat_port#", "hostname#", "if_cmd_path",
	"if_down_cmd", "if_up_cmd", "ignore_leading_white_space", "insert_lock",
	"listen_addresses", "listen_backlog_multiplier", "load_balance_mode",
	"lobj_lock_table", "log_client_messages", "log_connections", "log_destination",
	"log_directory", "log_disconnections", "log_error_verbosity", "log_file_mode",
	"log_filename", "log_hostname", "log_line_prefix", "log_min_messages",
	"log_per_node_statement", "log_rotation_age", "log_rotation_size",
	"log_standby_delay", "log_statement", "log_truncate_on_rotation", "logdir",
	"logging_collector", "master_slave_mode", "master_slave_sub_mode", "max_pool",
	"memory_cache_enabled", "memqcache_auto_cache_invalidation",
	"memqcache_cache_block_size", "memqcache_expire", "memqcache_max_num_cache",
	"memqcache_maxcache", "memqcache_memcached_host", "memqcache_memcached_port",
	"memqcache_method", "memqcache_oiddir", "memqcache_total_size",
	"num_init_children", "other_pgpool_hostname#", "other_pgpool_port#",
	"other_wd_port#", "pcp_listen_addresses", "pcp_port", "pcp_socket_dir",
	"pgpool_port#", "ping_path", "pool_passwd", "prefer_lower_delay_standby",
	"primary_routing_query_pattern_list", "read_only_function_list",
	"recovery_1st_stage_command", "recovery_2nd_stage_command", "relcache_expire",
	"relcache_query_target", "relcache_size", "replicate_select",
	"replication_mode", "replication_stop_on_mismatch", "reserved_connections",
	"reset_query_list", "search_primary_node_timeout", "serialize_accept",
	"socket_dir", "ssl", "ssl_ca_cert", "ssl_ca_cert_dir", "ssl_cert",
	"ssl_ciphers", "ssl_crl_file", "ssl_dh_params_file", "ssl_ecdh_curve",
	"ssl_key", "ssl_passphrase_command", "ssl_prefer_server_ciphers",
	"statement_level_load_balance", "syslog_facility", "syslog_ident",
	"trusted_servers", "use_watchdog", "wd_authkey", "wd_de_escalation_command",
	"wd_escalation_command", "wd_heartbeat_deadtime", "wd_heartbeat_keepalive",
	"wd_heartbeat_port", "wd_hostname", "wd_interval", "wd_ipc_socket_dir",
	"wd_life_point", "wd_lifecheck_dbname", "wd_lifecheck_method",
	"wd_lifecheck_password", "wd_lifecheck_query", "wd_lifecheck_user",
	"wd_lost_node_removal_timeout", "wd_monitoring_interfaces_list",
	"wd_no_show_node_removal_timeout", "wd_port", "wd_port#", "wd_priority",
	"wd_remove_shutdown_nodes", "white_function_list",
	"white_memqcache_table_list", "write_function_list",
};

/* one file being read: for file:line messages */
struct cfg_reader {
	const char *path;
	int line;
	int errors;
	int pgpool_ignored;
	char first_ignored[64];
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
	cfg->xdp_mode = XDP_MODE_AUTO;
	snprintf(cfg->bpf_pin_dir, sizeof(cfg->bpf_pin_dir), "%s", CONFIG_DEFAULT_PIN_DIR);
	cfg->ro_fallback_to_primary = true;
	snprintf(cfg->health_check_user, sizeof(cfg->health_check_user), "postgres");
	snprintf(cfg->health_check_database, sizeof(cfg->health_check_database), "postgres");
	cfg->health_check_period = 1;
	cfg->health_check_timeout = 5;
	cfg->health_check_max_retries = 1;
	cfg->health_check_retry_delay = 1;
	cfg->sr_check_period = 5;
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

static bool cfg_is_pgpool_param(const char *key)
{
	for (size_t i = 0; i < sizeof(cfg_pgpool_params) / sizeof(cfg_pgpool_params[0]); i++) {
		const char *name = cfg_pgpool_params[i];
		size_t n = strlen(name);

		if (name[n - 1] == '#') {
			char prefix[64];

			snprintf(prefix, sizeof(prefix), "%.*s", (int)(n - 1), name);
			if (cfg_index(key, prefix) >= 0)
				return true;
		} else if (!strcasecmp(key, name)) {
			return true;
		}
	}
	return false;
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
	char range[96];
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

	switch (p->type) {
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
	case T_STRING:
		if (strlen(v) >= p->size) {
			snprintf(range, sizeof(range), "at most %zu characters", p->size - 1);
			expected = range;
			break;
		}
		memcpy(field, v, strlen(v) + 1);
		if (p->indexed && p->off == offsetof(struct cfg_backend, hostname)) {
			cfg->backends[index].configured = v[0] != '\0';
			cfg->backends[index].line = r->line;
		}
		break;
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
	}
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

/* defaults that depend on other parameters */
static void cfg_derive(struct pgxr_config *cfg)
{
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
		} else if (cfg_is_pgpool_param(key)) {
			log_debug("%s:%d: pgpool parameter \"%s\" is not used by pgxr", path, r.line, key);
			if (!r.pgpool_ignored++)
				snprintf(r.first_ignored, sizeof(r.first_ignored), "%s", key);
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
	if (r.pgpool_ignored)
		log_info("%s: %d pgpool parameter(s) not used by pgxr were ignored (\"%s\"%s)",
			 path, r.pgpool_ignored, r.first_ignored,
			 r.pgpool_ignored > 1 ? " and others; -d lists them" : "");
	cfg_validate(&r, cfg);
	return r.errors ? -EINVAL : 0;
}
