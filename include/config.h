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

/* backend_flagN bits, pgpool's names */
#define BACKEND_FLAG_DISALLOW_TO_FAILOVER 0x1
#define BACKEND_FLAG_ALWAYS_PRIMARY 0x2

struct cfg_backend {
	bool configured;		/* backend_hostnameN was given */
	int line;			/* where backend_hostnameN was given */
	char hostname[256];
	struct pgxr_addr addr;		/* hostname resolved at load */
	int port;
	double weight;
	unsigned flags;			/* BACKEND_FLAG_* */
	char data_directory[PATH_MAX];
};

struct pgxr_config {
	char path[PATH_MAX];
	char interface[IF_NAMESIZE];
	struct pgxr_addr vip;
	int rw_port;
	int ro_port;
	int proxy_port;			/* 0: no proxy service */
	enum xdp_mode xdp_mode;
	char bpf_pin_dir[PATH_MAX];
	bool ro_fallback_to_primary;
	char health_check_user[64];
	char health_check_password[256];
	char health_check_database[64];
	int health_check_period;	/* seconds; 0: no health checks, no failover */
	int health_check_timeout;	/* seconds, a whole check: connect and query */
	int health_check_max_retries;
	int health_check_retry_delay;	/* seconds */
	int sr_check_period;		/* seconds; 0: no replication checks */
	char sr_check_user[64];		/* empty: health_check_user */
	char sr_check_password[256];
	char sr_check_database[64];
	long long delay_threshold;	/* bytes; 0: off */
	int delay_threshold_by_time;	/* milliseconds; 0: off */
	char failover_command[1024];	/* empty: pg_promote() over libpq */
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

int config_load(const char *path, struct pgxr_config *cfg);
const char *config_xdp_mode_name(enum xdp_mode mode);

#endif /* PGXR_CONFIG_H */
