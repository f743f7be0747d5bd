/* pgxrctl.h: what the files of pgxrctl share: command tables, options, helpers, objects */
#ifndef PGXRCTL_H
#define PGXRCTL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/types.h>

#include "addr.h"
#include "dataplane.h"
#include "json.h"
#include "table.h"
#include "pgxr_xdp.h"

#include "version.h"

#define PGXRCTL_VERSION PGXR_VERSION

/* exit status of a usage error; runtime errors exit with EXIT_FAILURE */
#define EXIT_USAGE 2

/* longest "ADDR:PORT" or "[ADDR]:PORT", with the NUL */
#define ADDRPORT_STRLEN (ADDR_STRLEN + 8)

/* one command of an object, or one object; tables end with a NULL name */
struct cmd {
	const char *name;
	int (*func)(int argc, char **argv);	/* returns the exit status */
};

/* the name of one bit of a flags field; tables end with a NULL name */
struct flag_name {
	__u8 bit;
	const char *name;
};

/* one entry of the services map */
struct svc_entry {
	struct pgxr_svc_key key;
	struct pgxr_svc svc;
};


/* set by the options in main.c */
extern bool json_output;
extern bool pretty_output;
extern bool force_option;
/* <pin root>/<interface>, set by pgxrctl_open() */
extern char pin_dir[PATH_MAX];

/* main.c */
int match_name(const char *word, const char *const *names, int n, const char *what);
int cmd_select(const struct cmd *cmds, int argc, char **argv, void (*usage)(FILE *out),
	       const char *what);
int pgxrctl_open(struct dataplane *dp);
int pgxrctl_socket(char *path, size_t len);
const char *pgxrctl_pin_root(void);

/* util.c */
void p_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int args_none(int argc, char **argv, void (*usage)(FILE *out));
int parse_u32(const char *s, __u32 *out);
const char *addr_port_format(__u8 family, const __be32 addr[4], __u16 port, char *buf,
			     size_t len);
const char *mac_format(const __u8 mac[6], char *buf, size_t len);
const char *flags_format(__u8 flags, const struct flag_name *names, char *buf, size_t len);
void flags_json(struct json *j, __u8 flags, const struct flag_name *names);
int table_show(struct table *t);

/* service.c */
int service_main(int argc, char **argv);
int service_read_all(const struct dataplane *dp, struct svc_entry *out);
int service_ring_counts(const struct dataplane *dp, __u32 svc_id, __u32 *counts, __u32 *empty);
extern const struct flag_name service_flag_names[];

/* decap.c */
int decap_main(int argc, char **argv);

/* backend.c */
int backend_main(int argc, char **argv);
extern const struct flag_name backend_flag_names[];

/* flow.c */
int flow_main(int argc, char **argv);
int flow_show(const struct dataplane *dp, size_t limit);

/* stats.c */
int stats_main(int argc, char **argv);
void stats_counters_json(struct json *j, const struct pgxr_counters *c);

/* map.c */
int map_main(int argc, char **argv);

/* node.c */
int node_main(int argc, char **argv);
int event_main(int argc, char **argv);
int config_main(int argc, char **argv);
int reload_main(int argc, char **argv);
int node_request(const char *object, const char *command, const char *arg, bool quiet,
		 void (*usage)(FILE *out));

/* pool.c */
int pool_main(int argc, char **argv);
int client_main(int argc, char **argv);

#endif /* PGXRCTL_H */
