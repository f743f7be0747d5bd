/* test_config.c: the pgpool.conf-style parser on good and bad files */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "tap.h"

/* the file under test, and what config_load() logged about it */
static char path[64];
static char logged[16384];
static struct pgxr_config cfg;

/* writes text to a temp file, loads it with stderr captured */
static int load(const char *text)
{
	char logpath[] = "/tmp/pgxr-test-log-XXXXXX";
	int fd, logfd, saved, ret;
	ssize_t n;

	snprintf(path, sizeof(path), "/tmp/pgxr-test-conf-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -999;
	close(fd);
	logfd = mkstemp(logpath);
	saved = dup(STDERR_FILENO);
	dup2(logfd, STDERR_FILENO);
	ret = config_load(path, &cfg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(logfd, 0, SEEK_SET);
	n = read(logfd, logged, sizeof(logged) - 1);
	logged[n > 0 ? n : 0] = '\0';
	close(logfd);
	unlink(logpath);
	unlink(path);
	return ret;
}

/* the log holds "<path>:<line>: <text>" */
static int logged_at(int line, const char *text)
{
	char want[1200];

	snprintf(want, sizeof(want), "%s:%d: %s", path, line, text);
	return strstr(logged, want) != NULL;
}

#define MINIMAL "interface = eth0\nvip = 10.0.0.100\nbackend_hostname0 = '10.0.0.20'\n"

static int t_minimal_defaults(void)
{
	char buf[ADDR_STRLEN];

	CHECK(load(MINIMAL) == 0, "minimal config refused: %s", logged);
	CHECK(!strcmp(cfg.interface, "eth0"), "interface %s", cfg.interface);
	CHECK(!strcmp(addr_format(&cfg.vip, buf, sizeof(buf)), "10.0.0.100"), "vip %s", buf);
	CHECK(cfg.rw_port == 5432 && cfg.ro_port == 5433 && cfg.proxy_port == 9999,
	      "default ports %d %d %d", cfg.rw_port, cfg.ro_port, cfg.proxy_port);
	CHECK(cfg.xdp_mode == XDP_MODE_AUTO, "default xdp_mode");
	CHECK(!strcmp(cfg.bpf_pin_dir, "/sys/fs/bpf/pgxr"), "default pin dir %s", cfg.bpf_pin_dir);
	CHECK(cfg.nbackends == 1 && cfg.backends[0].port == 5432 && cfg.backends[0].weight == 1.0,
	      "default backend");
	CHECK(cfg.ro_fallback_to_primary, "ro_fallback_to_primary defaults on");
	CHECK(!strstr(logged, "WARNING") && !strstr(logged, "ERROR"), "noise: %s", logged);
	return 0;
}

static int t_full(void)
{
	const char *text =
		"# pgxr\n"
		"interface = 'veth-rtr'   # the router's NIC\n"
		"vip = fd00::100\n"
		"rw_port = 6432\n"
		"ro_port=6433\n"
		"proxy_port 0\n"
		"xdp_mode = GENERIC\n"
		"bpf_pin_dir = '/sys/fs/bpf/lab1'\n"
		"ro_fallback_to_primary = off\n"
		"health_check_user = 'monitor'\n"
		"health_check_password = 'it''s # not a comment'\n"
		"health_check_database = 'postgres'\n"
		"health_check_timeout = 5\n"
		"backend_hostname0 = 'fd00::20'\n"
		"backend_port0 = 5432\n"
		"backend_weight0 = 0.5\n"
		"backend_flag0 = 'ALLOW_TO_FAILOVER'\n"
		"backend_data_directory0 = '/var/lib/postgresql/15/main'\n"
		"backend_hostname2 = 'fd00::22'\n"
		"backend_flag2 = 'DISALLOW_TO_FAILOVER|ALWAYS_PRIMARY'\n"
		"backend_weight2 = 3\n";

	CHECK(load(text) == 0, "refused: %s", logged);
	CHECK(!strcmp(cfg.interface, "veth-rtr"), "interface %s", cfg.interface);
	CHECK(cfg.vip.family == PGXR_FAMILY_V6, "vip family");
	CHECK(cfg.rw_port == 6432 && cfg.ro_port == 6433 && cfg.proxy_port == 0, "ports");
	CHECK(cfg.xdp_mode == XDP_MODE_GENERIC, "xdp_mode");
	CHECK(!strcmp(cfg.bpf_pin_dir, "/sys/fs/bpf/lab1"), "pin dir");
	CHECK(!cfg.ro_fallback_to_primary, "fallback");
	CHECK(!strcmp(cfg.health_check_password, "it's # not a comment"), "password \"%s\"",
	      cfg.health_check_password);
	CHECK(cfg.health_check_timeout == 5, "timeout");
	CHECK(cfg.nbackends == 3 && cfg.backends[0].configured && !cfg.backends[1].configured &&
	      cfg.backends[2].configured, "backends 0 and 2");
	CHECK(cfg.backends[0].weight == 0.5 && cfg.backends[2].weight == 3, "weights");
	CHECK(cfg.backends[0].flags == 0, "flag0");
	CHECK(cfg.backends[2].flags == (BACKEND_FLAG_DISALLOW_TO_FAILOVER | BACKEND_FLAG_ALWAYS_PRIMARY),
	      "flag2 %#x", cfg.backends[2].flags);
	CHECK(!strcmp(cfg.backends[0].data_directory, "/var/lib/postgresql/15/main"), "data dir");
	return 0;
}

/* the seed's pgpool.conf, as its author wrote it, plus the interface */
static int t_seed_pgpool_conf(void)
{
	const char *text =
		"listen_addresses = '*'  # rtm\n"
		"port = 9999    # rtm\n"
		"pcp_listen_addresses = '*' # rtm\n"
		"pcp_port = 9898         # rtm\n"
		"backend_hostname0 = '192.168.174.128' # rtm\n"
		"backend_port0 = 5432              # rtm\n"
		"backend_weight0 = 1               # rtm\n"
		"backend_data_directory0 = '/opt/pgsql-9.6/pgdata/9.6/data' # rtm\n"
		"backend_flag0 = 'ALLOW_TO_FAILOVER'   # rtm\n"
		"backend_hostname1 = '192.168.174.129'      # rtm\n"
		"backend_port1 = 5432                    # rtm\n"
		"backend_weight1 = 1                     # rtm\n"
		"backend_flag1 = 'ALLOW_TO_FAILOVER'     # rtm\n"
		"enable_pool_hba = on            # rtm\n"
		"pool_passwd = 'pool_passwd'     # rtm\n"
		"log_destination = 'stderr'  # rtm\n"
		"log_line_prefix = '%t: pid %p: '    # rtm\n"
		"master_slave_mode = on           # rtm\n"
		"master_slave_sub_mode = 'stream'         # rtm\n"
		"sr_check_period = 10             # rtm\n"
		"delay_threshold = 10000000             # rtm\n"
		"health_check_period = 10          # rtm\n"
		"health_check_timeout = 20        # rtm\n"
		"health_check_user = 'postgres'           # rtm\n"
		"health_check_password = 'pg1235'        # rtm\n"
		"health_check_database = 'postgres'      # rtm\n"
		"health_check_max_retries = 3            # rtm\n"
		"failover_command = '/opt/pgpool-3/script/failover.sh %H'           # rtm\n"
		"fail_over_on_backend_error = off  # rtm\n"
		"use_watchdog = on                   # rtm\n"
		"wd_hostname = '192.168.174.128'             # rtm\n"
		"delegate_IP = '192.168.174.159'             # rtm\n"
		"if_up_cmd = 'ip addr add $_IP_$/24 dev ens33'  # rtm\n"
		"heartbeat_destination0 = '192.168.174.129'  # rtm\n"
		"heartbeat_destination_port0 = 9694      # rtm\n"
		"other_pgpool_hostname0 = '192.168.174.129'  # rtm\n"
		"other_wd_port0 = 9000           # rtm\n"
		"interface = ens33\n";
	char buf[ADDR_STRLEN];

	CHECK(load(text) == 0, "the seed pgpool.conf was refused: %s", logged);
	CHECK(!strcmp(addr_format(&cfg.vip, buf, sizeof(buf)), "192.168.174.159"),
	      "delegate_IP not taken as the VIP: %s", buf);
	CHECK(cfg.proxy_port == 9999, "pgpool's port not taken as proxy_port");
	CHECK(cfg.nbackends == 2, "%d backends", cfg.nbackends);
	CHECK(!strcmp(cfg.health_check_password, "pg1235"), "health_check_password");
	/* what pgxr does otherwise is said once per kind, at the first such line */
	CHECK(!strcmp(cfg.listen_addresses, "*"), "listen_addresses %s", cfg.listen_addresses);
	/* the seed's own authentication is pgxr's: pool_hba.conf and pool_passwd beside the file */
	CHECK(cfg.enable_pool_hba, "enable_pool_hba not taken");
	CHECK(!strcmp(strrchr(cfg.pool_passwd, '/'), "/pool_passwd") && cfg.pool_passwd[0] == '/',
	      "pool_passwd not beside the file: %s", cfg.pool_passwd);
	CHECK(!strstr(logged, "enable_pool_hba") && !strstr(logged, "\"pool_passwd\""),
	      "the proxy's authentication warned about: %s", logged);
	CHECK(logged_at(30, "pgpool parameter \"use_watchdog\" and 5 more like it is not used: pgxr has no watchdog cluster yet"),
	      "no warning about the watchdog: %s", logged);
	CHECK(logged_at(33, "pgpool parameter \"if_up_cmd\" is not used: pgxrd adds, removes and announces the VIP itself"),
	      "no warning about if_up_cmd: %s", logged);
	/* logging, pcp and a streaming-replication mode change nothing pgxr lacks */
	CHECK(strstr(logged, "6 pgpool parameter(s) not used by pgxr were ignored"),
	      "no summary of ignored pgpool parameters: %s", logged);
	CHECK(!strstr(logged, "master_slave"), "streaming mode warned about: %s", logged);
	return 0;
}

/* a pgpool setting whose value pgxr cannot honour is a warning; the benign value is not */
static int t_pgpool_behaviour(void)
{
	CHECK(load(MINIMAL "replication_mode = on\nmemory_cache_enabled = off\n"
		   "failback_command = ''\ndetach_false_primary = off\n") == 0,
	      "refused: %s", logged);
	CHECK(logged_at(4, "pgpool parameter \"replication_mode\" is not used: pgxr supports streaming replication only"),
	      "replication_mode = on not warned about: %s", logged);
	CHECK(logged_at(7, "pgpool parameter \"detach_false_primary\" is not used: pgxr always fences"),
	      "detach_false_primary = off not warned about: %s", logged);
	CHECK(!strstr(logged, "\"memory_cache_enabled\" is not used") &&
	      !strstr(logged, "\"failback_command\" is not used"),
	      "a benign value warned about: %s", logged);
	CHECK(load(MINIMAL "failback_command = '/bin/true'\n") == 0, "refused: %s", logged);
	CHECK(logged_at(4, "pgpool parameter \"failback_command\" is not used: pgxr runs no failback_command"),
	      "failback_command not warned about: %s", logged);
	return 0;
}

/* health_check_*N override the global values for node N only */
/* the proxy's keys: pgpool's names where pgpool has them, and what it does not do yet */
static int t_proxy_keys(void)
{
	CHECK(load(MINIMAL) == 0, "refused: %s", logged);
	CHECK(!strcmp(cfg.listen_addresses, "*") && cfg.num_workers == 0 &&
	      cfg.max_connections == 1000 && cfg.authentication_timeout == 60 &&
	      cfg.client_idle_limit == 0, "defaults");
	CHECK(load(MINIMAL "listen_addresses = '10.0.0.100'\nnum_workers = 4\nmax_connections = 5000\n"
		   "authentication_timeout = 10\nclient_idle_limit = 300\nload_balance_mode = on\n"
		   "num_init_children = 32\n") == 0, "refused: %s", logged);
	CHECK(!strcmp(cfg.listen_addresses, "10.0.0.100") && cfg.num_workers == 4 &&
	      cfg.max_connections == 5000 && cfg.authentication_timeout == 10 &&
	      cfg.client_idle_limit == 300, "values not taken");
	CHECK(cfg.load_balance_mode && !cfg.statement_level_load_balance &&
	      cfg.lb_on_write == LB_ON_WRITE_TRANSACTION && !cfg.allow_sql_comments,
	      "load_balance_mode not taken, or the split's defaults wrong");
	CHECK(strstr(logged, "load_balance_mode = on needs enable_pool_hba = on"),
	      "load_balance_mode without enable_pool_hba not warned about: %s", logged);
	CHECK(logged_at(10, "pgpool parameter \"num_init_children\" is not used: pgxr has no process per client"),
	      "num_init_children not explained: %s", logged);
	CHECK(load(MINIMAL "load_balance_mode = off\nlisten_addresses = '::'\n") == 0, "refused: %s", logged);
	CHECK(!strstr(logged, "load_balance_mode"), "load_balance_mode = off warned about: %s", logged);
	return 0;
}

/* the read/write split's keys, pgpool's names and values */
static int t_split_keys(void)
{
	CHECK(load(MINIMAL "enable_pool_hba = on\nload_balance_mode = on\nstatement_level_load_balance = on\n"
		   "disable_load_balance_on_write = always\nallow_sql_comments = on\n") == 0,
	      "refused: %s", logged);
	CHECK(cfg.load_balance_mode && cfg.statement_level_load_balance &&
	      cfg.lb_on_write == LB_ON_WRITE_ALWAYS && cfg.allow_sql_comments, "values not taken");
	CHECK(!strstr(logged, "load_balance"), "warned about: %s", logged);
	for (int i = 0; i < 4; i++) {
		static const char *const v[] = { "off", "transaction", "trans_transaction", "dml_adaptive" };
		static const enum lb_on_write want[] = { LB_ON_WRITE_OFF, LB_ON_WRITE_TRANSACTION,
							 LB_ON_WRITE_TRANS_TRANSACTION, LB_ON_WRITE_DML_ADAPTIVE };
		char text[512];

		snprintf(text, sizeof(text), MINIMAL "disable_load_balance_on_write = '%s'\n", v[i]);
		CHECK(load(text) == 0 && cfg.lb_on_write == want[i], "%s: %s", v[i], logged);
		CHECK(!strcmp(config_lb_on_write_name(cfg.lb_on_write), v[i]), "%s named %s", v[i],
		      config_lb_on_write_name(cfg.lb_on_write));
	}
	CHECK(load(MINIMAL "disable_load_balance_on_write = sometimes\n") < 0 &&
	      logged_at(4, "invalid value for parameter \"disable_load_balance_on_write\""),
	      "a bad value not refused at its line: %s", logged);
	CHECK(strstr(logged, "expected off, transaction, trans_transaction, dml_adaptive, always or causal"),
	      "the expected values not said: %s", logged);
	CHECK(load(MINIMAL "disable_load_balance_on_write = causal\ncausal_read_timeout = 250\n") == 0 &&
	      cfg.lb_on_write == LB_ON_WRITE_CAUSAL && cfg.causal_read_timeout == 250, "causal: %s", logged);
	CHECK(load(MINIMAL "write_function_list = 'nextval,setval, public\\\\.audit_.*'\n"
		   "primary_routing_query_pattern_list = '.*FOR SHARE.*;.*, now\\\\(\\\\).*'\n") == 0 &&
	      !strcmp(cfg.write_function_list, "nextval,setval, public\\.audit_.*") &&
	      !strcmp(cfg.primary_routing_query_pattern_list, ".*FOR SHARE.*;.*, now\\(\\).*"),
	      "the lists not taken: %s", logged);
	CHECK(!strstr(logged, "function_list") && !strstr(logged, "pattern_list"), "warned about: %s", logged);
	CHECK(load(MINIMAL "write_function_list = 'nextval'\nread_only_function_list = 'now'\n") < 0 &&
	      logged_at(5, "parameter \"read_only_function_list\" cannot be set with \"write_function_list\""),
	      "both function lists not refused at the second: %s", logged);
	CHECK(load(MINIMAL "read_only_function_list = 'now,(unclosed'\n") < 0 &&
	      logged_at(4, "invalid value for parameter \"read_only_function_list\"") &&
	      strstr(logged, "\"(unclosed\" is not a regular expression"),
	      "a bad regular expression not refused, named, at its line: %s", logged);
	CHECK(load(MINIMAL "app_name_redirect_preference_list = 'psql:primary,myapp1:1(0.3)'\n"
		   "database_redirect_preference_list = 'mydb[01]:standby'\n") == 0 &&
	      !strcmp(cfg.app_name_redirect_preference_list, "psql:primary,myapp1:1(0.3)") &&
	      !strcmp(cfg.database_redirect_preference_list, "mydb[01]:standby") &&
	      !strstr(logged, "redirect"), "the redirect lists not taken, or warned about: %s", logged);
	CHECK(load(MINIMAL "database_redirect_preference_list = 'mydb:replica'\n") < 0 &&
	      logged_at(4, "invalid value for parameter \"database_redirect_preference_list\"") &&
	      strstr(logged, "\"replica\" is not a node"), "a bad redirect list not refused at its line: %s", logged);
	{
		char text[1400], item[1100];

		memset(item, 'a', sizeof(item) - 1);
		item[sizeof(item) - 1] = '\0';
		snprintf(text, sizeof(text), MINIMAL "database_redirect_preference_list = '%s:1'\n", item);
		CHECK(load(text) < 0 && logged_at(4, "invalid value for parameter \"database_redirect_preference_list\""),
		      "a list longer than its field not refused: %s", logged);
	}
	CHECK(load(MINIMAL) == 0 && cfg.check_unlogged_table, "check_unlogged_table not on by default");
	CHECK(load(MINIMAL "check_unlogged_table = off\ncheck_temp_table = none\n") == 0 &&
	      !cfg.check_unlogged_table, "check_unlogged_table = off not taken: %s", logged);
	CHECK(logged_at(5, "pgpool parameter \"check_temp_table\" is not used: pgxr keeps a session that creates a temporary table"),
	      "check_temp_table not explained at its line: %s", logged);
	return 0;
}

static int t_health_per_node(void)
{
	CHECK(load(MINIMAL "backend_hostname1 = '10.0.0.21'\nhealth_check_timeout = 3\n"
		   "health_check_timeout1 = 7\nhealth_check_user1 = 'mon'\nhealth_check_password1 = ''\n"
		   "health_check_password = 'secret'\nhealth_check_max_retries0 = 0\n") == 0,
	      "refused: %s", logged);
	CHECK(cfg.backends[0].hc.timeout == 3 && cfg.backends[1].hc.timeout == 7, "timeouts %d %d",
	      cfg.backends[0].hc.timeout, cfg.backends[1].hc.timeout);
	CHECK(!strcmp(cfg.backends[0].hc.user, "postgres") && !strcmp(cfg.backends[1].hc.user, "mon"),
	      "users %s %s", cfg.backends[0].hc.user, cfg.backends[1].hc.user);
	CHECK(!strcmp(cfg.backends[0].hc.password, "secret") && !cfg.backends[1].hc.password[0],
	      "an empty health_check_password1 must stay empty (passfile)");
	CHECK(cfg.backends[0].hc.max_retries == 0 && cfg.backends[1].hc.max_retries == 1,
	      "retries %d %d", cfg.backends[0].hc.max_retries, cfg.backends[1].hc.max_retries);
	CHECK(load(MINIMAL "health_check_timeout2 = 5\n") != 0, "an override of no node accepted");
	CHECK(logged_at(4, "parameter \"health_check_timeout2\" is set but backend_hostname2 is not"),
	      "log: %s", logged);
	CHECK(load(MINIMAL "health_check_timeout0 = 0\n") != 0, "timeout 0 accepted");
	return 0;
}

/* a reload keeps what needs a restart and names it; the rest takes effect */
static int t_reload(void)
{
	static struct pgxr_config live, fresh;
	char restart[256];
	int n;

	CHECK(load(MINIMAL "backend_weight0 = 1\n") == 0, "refused: %s", logged);
	live = cfg;
	CHECK(load("interface = eth1\nvip = 10.0.0.100\nbackend_hostname0 = '10.0.0.20'\n"
		   "backend_weight0 = 3\ndelay_threshold = 99\nrw_port = 6432\n"
		   "backend_hostname1 = '10.0.0.21'\nsynchronous_mode = strict\n") == 0,
	      "refused: %s", logged);
	fresh = cfg;
	n = config_reload(&live, &fresh, restart, sizeof(restart));
	/* the pid file and the socket are named after the interface by default */
	CHECK(n == 5, "%d parameters need a restart: %s", n, restart);
	CHECK(!strcmp(restart, "interface, rw_port, pid_file_name, control_socket, backend_hostname1"),
	      "named: %s", restart);
	CHECK(!strcmp(live.interface, "eth0") && live.rw_port == 5432 && live.nbackends == 1,
	      "a restart parameter changed online");
	CHECK(live.backends[0].weight == 3 && live.delay_threshold == 99 &&
	      live.synchronous_mode == SYNC_MODE_STRICT, "online parameters not applied");
	CHECK(!live.backends[1].configured, "a new backend configured online");
	return 0;
}

static int t_bad_values(void)
{
	static const struct {
		const char *line, *msg;
	} cases[] = {
		{ "rw_port = abc", "invalid value for parameter \"rw_port\": \"abc\" (expected an integer from 1 to 65535)" },
		{ "ro_port = 70000", "invalid value for parameter \"ro_port\": \"70000\" (expected an integer from 1 to 65535)" },
		{ "rw_port = 54x", "invalid value for parameter \"rw_port\": \"54x\"" },
		{ "vip = 10.0.0.300", "invalid value for parameter \"vip\": \"10.0.0.300\" (expected an IPv4 or IPv6 address)" },
		{ "xdp_mode = turbo", "invalid value for parameter \"xdp_mode\": \"turbo\" (expected one of native, generic, auto)" },
		{ "ro_fallback_to_primary = maybe", "invalid value for parameter \"ro_fallback_to_primary\": \"maybe\" (expected a boolean" },
		{ "backend_weight0 = -1", "invalid value for parameter \"backend_weight0\": \"-1\" (expected a number from 0 to 1000000)" },
		{ "backend_flag0 = 'ALLOW_TO_FAILOVER|DISALLOW_TO_FAILOVER'", "invalid value for parameter \"backend_flag0\"" },
		{ "backend_flag0 = 'SOMETIMES'", "invalid value for parameter \"backend_flag0\": \"SOMETIMES\"" },
		{ "interface = 'a-name-much-too-long'", "invalid value for parameter \"interface\"" },
		{ "health_check_timeout = 0", "invalid value for parameter \"health_check_timeout\": \"0\" (expected an integer from 1 to 3600)" },
		{ "backend_port200 = 5432", "node id of parameter \"backend_port200\" is out of range (expected 0 to 127)" },
		{ "listen_addresses = 'localhost'", "invalid value for parameter \"listen_addresses\": \"localhost\" (expected \"*\" or one IPv4 or IPv6 address)" },
		{ "max_connections = 0", "invalid value for parameter \"max_connections\": \"0\" (expected an integer from 1 to 1000000)" },
		{ "num_workers = 65", "invalid value for parameter \"num_workers\": \"65\" (expected an integer from 0 to 64)" },
	};
	char text[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), MINIMAL "# spacer\n%s\n", cases[i].line);
		CHECK(load(text) == -EINVAL, "\"%s\" accepted", cases[i].line);
		CHECK(logged_at(5, cases[i].msg), "\"%s\": expected \"%s:5: %s\", log was: %s",
		      cases[i].line, path, cases[i].msg, logged);
	}
	return 0;
}

static int t_syntax_errors(void)
{
	static const struct {
		const char *line, *msg;
	} cases[] = {
		{ "rw_port =", "missing value for parameter \"rw_port\"" },
		{ "rw_port = # comment", "missing value for parameter \"rw_port\"" },
		{ "health_check_user = 'open", "unterminated quoted string for parameter \"health_check_user\"" },
		{ "rw_port = 5432 5433", "syntax error after the value of parameter \"rw_port\"" },
		{ "5432 = rw_port", "syntax error: expected a parameter name" },
	};
	char text[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "%s\n" MINIMAL, cases[i].line);
		CHECK(load(text) == -EINVAL, "\"%s\" accepted", cases[i].line);
		CHECK(logged_at(1, cases[i].msg), "\"%s\": expected \"%s\" at line 1, log was: %s",
		      cases[i].line, cases[i].msg, logged);
	}
	return 0;
}

static int t_unknown_key_warns(void)
{
	CHECK(load(MINIMAL "rw_prot = 5432\nfrobnicate = 1\n") == 0, "unknown key is fatal: %s",
	      logged);
	CHECK(logged_at(4, "unrecognized configuration parameter \"rw_prot\" (did you mean \"rw_port\"?)"),
	      "no warning with a suggestion: %s", logged);
	CHECK(logged_at(5, "unrecognized configuration parameter \"frobnicate\""),
	      "no warning for frobnicate: %s", logged);
	CHECK(strstr(logged, "WARNING"), "not a warning: %s", logged);
	return 0;
}

static int t_cross_checks(void)
{
	CHECK(load("vip = 10.0.0.1\nbackend_hostname0 = '10.0.0.2'\n") == -EINVAL, "no interface accepted");
	CHECK(strstr(logged, "parameter \"interface\" is not set"), "log: %s", logged);
	CHECK(load("interface = eth0\nbackend_hostname0 = '10.0.0.2'\n") == -EINVAL, "no vip accepted");
	CHECK(strstr(logged, "parameter \"vip\" (or pgpool's \"delegate_ip\") is not set"), "log: %s", logged);
	CHECK(load("interface = eth0\nvip = 10.0.0.1\n") == -EINVAL, "no backend accepted");
	CHECK(strstr(logged, "no backend is configured"), "log: %s", logged);
	CHECK(load(MINIMAL "ro_port = 5432\n") == -EINVAL, "equal ports accepted");
	CHECK(strstr(logged, "must differ"), "log: %s", logged);
	CHECK(load(MINIMAL "backend_port3 = 5432\n") == -EINVAL, "port without host accepted");
	CHECK(logged_at(4, "parameter \"backend_port3\" is set but backend_hostname3 is not"),
	      "log: %s", logged);
	CHECK(load(MINIMAL "backend_hostname1 = 'fd00::1'\n") == -EINVAL, "mixed families accepted");
	CHECK(logged_at(4, "backend_hostname1 \"fd00::1\" is not of the address family of the VIP"),
	      "log: %s", logged);
	CHECK(load(MINIMAL "backend_hostname1 = 'no-such-host.invalid'\n") == -EINVAL,
	      "unresolvable host accepted");
	CHECK(logged_at(4, "could not resolve backend_hostname1 \"no-such-host.invalid\""),
	      "log: %s", logged);
	return 0;
}

static int t_missing_file(void)
{
	char logpath[] = "/tmp/pgxr-test-log-XXXXXX";
	int logfd = mkstemp(logpath), saved = dup(STDERR_FILENO), ret;
	ssize_t n;

	dup2(logfd, STDERR_FILENO);
	ret = config_load("/nonexistent/pgxr.conf", &cfg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(logfd, 0, SEEK_SET);
	n = read(logfd, logged, sizeof(logged) - 1);
	logged[n > 0 ? n : 0] = '\0';
	close(logfd);
	unlink(logpath);
	CHECK(ret == -ENOENT, "ret %d", ret);
	CHECK(strstr(logged, "could not open configuration file \"/nonexistent/pgxr.conf\": No such file or directory"),
	      "log: %s", logged);
	return 0;
}

static int t_last_wins_and_case(void)
{
	CHECK(load(MINIMAL "RW_PORT = 1000\nrw_port = 2000\nDelegate_IP = 10.0.0.101\n") == 0,
	      "refused: %s", logged);
	CHECK(cfg.rw_port == 2000, "last setting should win, got %d", cfg.rw_port);
	CHECK(cfg.vip.a[0] == inet_addr("10.0.0.101"), "case-insensitive delegate_IP not applied");
	return 0;
}

static int t_ha_keys(void)
{
	CHECK(load(MINIMAL
		   "health_check_period = 2\nhealth_check_max_retries = 3\nhealth_check_retry_delay = 0\n"
		   "sr_check_period = 0\ndelay_threshold = 10000000000\ndelay_threshold_by_time = 500\n"
		   "failover_command = '/s/failover.sh %d %H'\nfail_over_on_backend_error = off\n"
		   "auto_failback = off\nfollow_primary = no\nrejoin_command = 'rejoin %d'\n"
		   "recovery_timeout = 30\nvip_announce_count = 0\n") == 0, "refused: %s", logged);
	CHECK(cfg.health_check_period == 2 && cfg.health_check_max_retries == 3 &&
	      cfg.health_check_retry_delay == 0 && cfg.sr_check_period == 0, "health keys");
	CHECK(cfg.delay_threshold == 10000000000LL, "delay_threshold beyond 32 bits: %lld",
	      cfg.delay_threshold);
	CHECK(cfg.delay_threshold_by_time == 500, "delay_threshold_by_time");
	CHECK(!strcmp(cfg.failover_command, "/s/failover.sh %d %H"), "failover_command");
	CHECK(!cfg.failover_on_backend_error, "pgpool 3's fail_over_on_backend_error not taken");
	CHECK(!cfg.auto_failback && !cfg.follow_primary, "booleans");
	CHECK(cfg.recovery_timeout == 30 && cfg.vip_announce_count == 0, "ints");
	/* derived defaults */
	CHECK(!strcmp(cfg.sr_check_user, "postgres") && !strcmp(cfg.recovery_user, "postgres"),
	      "sr_check_user and recovery_user default to health_check_user");
	CHECK(!strcmp(cfg.pid_file_name, "/run/pgxr/eth0.pid") &&
	      !strcmp(cfg.control_socket, "/run/pgxr/eth0.sock"), "paths: %s %s",
	      cfg.pid_file_name, cfg.control_socket);
	CHECK(load(MINIMAL "delay_threshold = -5\n") == -EINVAL, "negative delay_threshold accepted");
	CHECK(logged_at(4, "invalid value for parameter \"delay_threshold\": \"-5\" (expected a non-negative integer)"),
	      "log: %s", logged);
	/* the defaults of an HA router: checks on, failover on backend error, auto_failback */
	CHECK(load(MINIMAL) == 0 && cfg.health_check_period == 1 && cfg.failover_on_backend_error &&
	      cfg.auto_failback && cfg.follow_primary, "defaults");
	return 0;
}

int main(void)
{
	log_init("test_config", 0);
	tap_run("config: minimal file gets the defaults", t_minimal_defaults);
	tap_run("config: every pgxr parameter, quoting and comments", t_full);
	tap_run("config: the seed's pgpool.conf loads; what pgxr does otherwise is a warning", t_seed_pgpool_conf);
	tap_run("config: a pgpool value pgxr cannot honour is a warning, a benign one is not", t_pgpool_behaviour);
	tap_run("config: the proxy's keys, and pgpool's it does not honour yet", t_proxy_keys);
	tap_run("config: the read/write split's keys, with pgpool's values", t_split_keys);
	tap_run("config: health_check_*N override per node", t_health_per_node);
	tap_run("config: a reload applies online parameters and names the rest", t_reload);
	tap_run("config: bad values are errors at file:line with what was expected", t_bad_values);
	tap_run("config: syntax errors at file:line", t_syntax_errors);
	tap_run("config: an unknown key is a warning at file:line", t_unknown_key_warns);
	tap_run("config: cross-parameter checks", t_cross_checks);
	tap_run("config: a missing file is a clear error", t_missing_file);
	tap_run("config: last setting wins, names are case-insensitive", t_last_wins_and_case);
	tap_run("config: health, failover and rejoin keys, pgpool's names and defaults", t_ha_keys);
	return tap_done();
}
