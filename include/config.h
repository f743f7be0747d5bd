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
	int health_check_timeout;	/* seconds */
	struct cfg_backend backends[PGXR_MAX_BACKENDS];
	int nbackends;			/* highest configured node id + 1 */
};

int config_load(const char *path, struct pgxr_config *cfg);
const char *config_xdp_mode_name(enum xdp_mode mode);

#endif /* PGXR_CONFIG_H */
