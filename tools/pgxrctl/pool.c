/* pool.c: pgxrctl pool and client: the proxy's server connections and client sessions, from the running pgxrd */
#include "pgxrctl.h"

static void pool_usage(FILE *out)
{
	fprintf(out,
		"Usage: pgxrctl pool { list | help }\n"
		"\n"
		"list shows the proxy's server connections as pgpool's SHOW pool_pools does:\n"
		"one row per connection serving a client (pool_connected 1, pool_pid the\n"
		"worker thread), then one per idle cached connection (pool_connected 0, with\n"
		"the time its last client left); pool_counter is how many clients it served.\n");
}

static void client_usage(FILE *out)
{
	fprintf(out,
		"Usage: pgxrctl client { list | help }\n"
		"\n"
		"list shows the proxy's clients as pgpool's SHOW pool_processes does: a row\n"
		"per worker thread (\"Wait for connection\", its listener) and one per client\n"
		"session of it, with its user, database, server connection and status.\n");
}

static int pool_list(int argc, char **argv)
{
	if (args_none(argc, argv, pool_usage))
		return EXIT_USAGE;
	return node_request("pool", "list", NULL, false, pool_usage);
}

static int client_list(int argc, char **argv)
{
	if (args_none(argc, argv, client_usage))
		return EXIT_USAGE;
	return node_request("client", "list", NULL, false, client_usage);
}

static const struct cmd pool_cmds[] = {
	{ "list", pool_list },
	{ NULL, NULL },
};

static const struct cmd client_cmds[] = {
	{ "list", client_list },
	{ NULL, NULL },
};

int pool_main(int argc, char **argv)
{
	return cmd_select(pool_cmds, argc, argv, pool_usage, "command");
}

int client_main(int argc, char **argv)
{
	return cmd_select(client_cmds, argc, argv, client_usage, "command");
}
