/* pgtext.h: text for and from PostgreSQL: literals, conninfo strings, %-placeholders */
#ifndef PGXR_PGTEXT_H
#define PGXR_PGTEXT_H

#include <stddef.h>

/* what a placeholder can name of a node; id < 0: no such node */
struct pgtext_node {
	int id;
	const char *host;
	int port;
	const char *data_dir;
};

/* the nodes of pgpool's failover_command placeholders */
struct pgtext_vars {
	struct pgtext_node failed;	/* %d %h %p %D */
	struct pgtext_node new_main;	/* %m %H %r %R */
	struct pgtext_node old_main;	/* %M */
	struct pgtext_node old_primary;	/* %P %N %S */
};

int pgtext_sql_literal(const char *s, char *out, size_t len);
int pgtext_conf_literal(const char *s, char *out, size_t len);
/* the longest conninfo value pgxr reads back (a password, a path) */
#define PGTEXT_CONNINFO_VALUE 1024

int pgtext_conninfo_add(char *out, size_t len, size_t *n, const char *key, const char *val);
int pgtext_conninfo_get(const char *conninfo, const char *key, char *out, size_t len);
int pgtext_conninfo_retarget(const char *old, const char *host, const char *hostaddr, int port,
			     const char *const *drop, char *out, size_t len);
int pgtext_passfile_lookup(const char *path, const char *host, int port, const char *db,
			   const char *user, char *out, size_t len);
void pgtext_conf_value(const char *text, const char *key, char *out, size_t len);
int pgtext_expand(const char *tmpl, const struct pgtext_vars *v, char *out, size_t len);
int pgtext_env(const struct pgtext_vars *v, char *buf, size_t len, char **env, int max);

#endif /* PGXR_PGTEXT_H */
