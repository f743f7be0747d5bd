/* command.c: the configured commands' command lines: pgpool's %-placeholders, and PGXR_* variables */
#include <errno.h>
#include <stddef.h>

#include "command.h"
#include "node.h"
#include "pgtext.h"

/* a node's values for the placeholders; id -1 when there is no such node */
static void command_var(struct pgtext_node *v, int id)
{
	const struct node *n = node_get(id);

	v->id = n ? id : -1;
	v->host = n ? n->cfg->hostname : NULL;
	v->port = n ? n->cfg->port : 0;
	v->data_dir = n ? n->cfg->data_directory : NULL;
}

/*
 * A command line from a template with pgpool's placeholders, and the same
 * values as PGXR_* environment strings.  In streaming replication the
 * main node is the primary, so %M is the old primary too.
 */
int command_line(const char *tmpl, int failed, int new_main, int old_primary, char *out,
		 size_t len, char *env_buf, size_t env_len, char **env, int env_max)
{
	struct pgtext_vars v;
	int ret;

	command_var(&v.failed, failed);
	command_var(&v.new_main, new_main);
	command_var(&v.old_main, old_primary);
	command_var(&v.old_primary, old_primary);
	ret = pgtext_expand(tmpl, &v, out, len);
	if (!ret && env)
		ret = pgtext_env(&v, env_buf, env_len, env, env_max) < 0 ? -ENAMETOOLONG : 0;
	return ret;
}
