/* node.c: "pgxrctl node" and "pgxrctl event": asked of the running pgxrd on its control socket */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pgxrctl.h"

static void node_usage(FILE *out)
{
	fprintf(out,
		"Usage: pgxrctl node { list | help }\n"
		"       pgxrctl node { info | attach | detach | rejoin } ID\n"
		"       pgxrctl node promote ID [--force]\n"
		"\n"
		"       ID := node id (N of pgpool's backend_hostnameN)\n"
		"\n"
		"list shows the columns of pgpool's SHOW pool_nodes, then a line for each\n"
		"node that is not what one would expect, and why; info a node in detail.\n"
		"detach takes a node out of routing (for the primary: a failover), attach\n"
		"puts it back.  promote ID, with the primary up, is a switchover that loses\n"
		"no acknowledged commit: the primary stops taking writes, ID replays all of\n"
		"it and is promoted, the old primary becomes a standby of ID where pgxrd can\n"
		"restart it; it answers when done, with each step and how long writes were\n"
		"refused.  With the primary lost, promote ID fails over to ID if the rules\n"
		"allow; --force promotes ID anyway (a standby behind the synchronous ones),\n"
		"or routes ID as the primary when it already is one (a manual promotion)\n"
		"and fences the others.  rejoin turns a fenced old primary into a standby\n"
		"of the current primary (pg_rewind, or rejoin_command).  These ask the\n"
		"running pgxrd.\n");
}

static void event_usage(FILE *out)
{
	fprintf(out,
		"Usage: pgxrctl event { list | help }\n"
		"\n"
		"list shows the last node events pgxrd recorded, oldest first.\n");
}

/*
 * Sends one request to pgxrd and prints its answer.  quiet: a refused or
 * missing socket is not reported (the caller has another way).  Returns
 * the exit status, or -ECONNREFUSED when quiet and pgxrd is not there.
 */
int node_request(const char *object, const char *command, const char *arg, bool quiet,
		 void (*usage)(FILE *out))
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[PATH_MAX], req[256], *reply = NULL, *nl;
	size_t len = 0, cap = 0;
	int fd, ret = EXIT_FAILURE;
	ssize_t n;

	if (pgxrctl_socket(path, sizeof(path))) {
		if (quiet)
			return -ECONNREFUSED;
		p_err("cannot tell which pgxrd to ask: use -i, -f or --socket");
		return EXIT_FAILURE;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		p_err("socket path \"%s\" is too long", path);
		return EXIT_FAILURE;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		if (quiet && (err == ENOENT || err == ECONNREFUSED))
			return -ECONNREFUSED;
		p_err("could not connect to pgxrd at \"%s\": %s (is pgxrd running?)", path,
		      strerror(err));
		return EXIT_FAILURE;
	}
	snprintf(req, sizeof(req), "%s %s %s%s%s\n",
		 pretty_output ? "pretty" : json_output ? "json" : "plain", object, command,
		 arg ? " " : "", arg ? arg : "");
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		p_err("could not send to pgxrd: %s", strerror(errno));
		goto cleanup;
	}
	/* promote and rejoin answer when they are done: no timeout here */
	for (;;) {
		if (len + 4096 > cap) {
			char *grown = realloc(reply, cap + 65536);

			if (!grown) {
				p_err("out of memory");
				goto cleanup;
			}
			reply = grown;
			cap += 65536;
		}
		n = read(fd, reply + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	if (!reply || !len || !(nl = memchr(reply, '\n', len))) {
		p_err("pgxrd closed the connection without an answer");
		goto cleanup;
	}
	reply[len] = '\0';
	*nl = '\0';
	if (!strcmp(reply, "ok")) {
		fwrite(nl + 1, 1, len - (nl + 1 - reply), stdout);
		ret = 0;
	} else if (!strncmp(reply, "usage ", 6)) {
		p_err("%s", reply + 6);
		if (usage)
			usage(stderr);
		ret = EXIT_USAGE;
	} else {
		/* an error of several lines (a reload's file:line list) goes out whole */
		p_err("%s", !strncmp(reply, "error ", 6) ? reply + 6 : reply);
		fputs(nl + 1, stderr);
	}
cleanup:
	free(reply);
	close(fd);
	return ret;
}

static int node_simple(const char *command, int argc, char **argv)
{
	__u32 id;

	if (argc != 1) {
		p_err(argc ? "unexpected argument \"%s\"" : "expected a node ID%s", argc ? argv[1] : "");
		node_usage(stderr);
		return EXIT_USAGE;
	}
	if (parse_u32(argv[0], &id) || id >= PGXR_MAX_BACKENDS) {
		p_err("node ID must be an integer from 0 to %d, not \"%s\"", PGXR_MAX_BACKENDS - 1,
		      argv[0]);
		node_usage(stderr);
		return EXIT_USAGE;
	}
	return node_request("node", command, argv[0], false, node_usage);
}

static int node_list(int argc, char **argv)
{
	if (args_none(argc, argv, node_usage))
		return EXIT_USAGE;
	return node_request("node", "list", NULL, false, node_usage);
}

static int node_info(int argc, char **argv)
{
	return node_simple("info", argc, argv);
}

static int node_attach(int argc, char **argv)
{
	return node_simple("attach", argc, argv);
}

static int node_detach(int argc, char **argv)
{
	return node_simple("detach", argc, argv);
}

static int node_promote(int argc, char **argv)
{
	char arg[32];
	__u32 id;

	if (!force_option)
		return node_simple("promote", argc, argv);
	if (argc != 1 || parse_u32(argv[0], &id) || id >= PGXR_MAX_BACKENDS) {
		p_err("expected a node ID from 0 to %d", PGXR_MAX_BACKENDS - 1);
		node_usage(stderr);
		return EXIT_USAGE;
	}
	snprintf(arg, sizeof(arg), "%u force", id);
	return node_request("node", "promote", arg, false, node_usage);
}

static int node_rejoin(int argc, char **argv)
{
	return node_simple("rejoin", argc, argv);
}

static const struct cmd node_cmds[] = {
	{ "list", node_list },
	{ "info", node_info },
	{ "attach", node_attach },
	{ "detach", node_detach },
	{ "promote", node_promote },
	{ "rejoin", node_rejoin },
	{ NULL, NULL },
};

int node_main(int argc, char **argv)
{
	return cmd_select(node_cmds, argc, argv, node_usage, "command");
}

static int event_list(int argc, char **argv)
{
	if (args_none(argc, argv, event_usage))
		return EXIT_USAGE;
	return node_request("event", "list", NULL, false, event_usage);
}

static const struct cmd event_cmds[] = {
	{ "list", event_list },
	{ NULL, NULL },
};

int event_main(int argc, char **argv)
{
	return cmd_select(event_cmds, argc, argv, event_usage, "command");
}

static void config_usage(FILE *out)
{
	fprintf(out,
		"Usage: pgxrctl config { reload | help }\n"
		"       pgxrctl reload\n"
		"\n"
		"reload makes the running pgxrd read its configuration file again, as\n"
		"SIGHUP does.  Health and replication checks, weights, thresholds, flags and\n"
		"commands take effect at once; what needs a restart (the interface, the VIP\n"
		"and its ports, the pins, the backends' addresses) is named.  A file with\n"
		"errors changes nothing: they are printed with file:line.\n");
}

static int config_reload(int argc, char **argv)
{
	if (args_none(argc, argv, config_usage))
		return EXIT_USAGE;
	return node_request("config", "reload", NULL, false, config_usage);
}

static const struct cmd config_cmds[] = {
	{ "reload", config_reload },
	{ NULL, NULL },
};

int config_main(int argc, char **argv)
{
	return cmd_select(config_cmds, argc, argv, config_usage, "command");
}

/* "pgxrctl reload": pcp users look for a verb at the top */
int reload_main(int argc, char **argv)
{
	return config_reload(argc, argv);
}
