/* main.c: pgxrctl, the operator CLI of pgxr: options, objects, dispatch, the pin directory */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "config.h"
#include "log.h"
#include "pgxrctl.h"

/* getopt value of --pin-dir, which has no short form */
#define MAIN_OPT_PIN_DIR 256

/* most commands in one table; more would need a larger names[] in cmd_select() */
#define MAIN_MAX_CMDS 16

bool json_output;
/* --force: what node promote may do against the rules */
bool force_option;
bool pretty_output;
char pin_dir[PATH_MAX];

/* getopt values of --socket and --force */
#define MAIN_OPT_SOCKET 257
#define MAIN_OPT_FORCE 258

/* what the options asked for; main_resolve() turns it into pin_dir */
static struct {
	const char *root;	/* --pin-dir */
	const char *ifname;	/* -i */
	const char *config;	/* -f */
	const char *socket;	/* --socket */
} main_opts;

/* what main_resolve() found: the interface, and -f's control_socket */
static struct {
	char ifname[NAME_MAX + 1];
	char socket[PATH_MAX];
} main_resolved;

static void main_usage(FILE *out)
{
	fprintf(out,
		"Usage: pgxrctl [OPTIONS] OBJECT { COMMAND | help }\n"
		"       pgxrctl help\n"
		"\n"
		"       OBJECT := { service | backend | flow | stats | map | node | event |\n"
		"                   pool | client | config | reload | decap }\n"
		"       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-i|--interface} IFNAME |\n"
		"                    --pin-dir DIR | --socket PATH | {-f|--config} FILE |\n"
		"                    --force |\n"
		"                    {-h|--help} | {-V|--version} }\n"
		"\n"
		"Options:\n"
		"  -j, --json              compact JSON output\n"
		"  -p, --pretty            indented JSON output (implies --json)\n"
		"  -i, --interface IFNAME  the interface pgxrd is attached to (default: the\n"
		"                          only one with pins under DIR)\n"
		"      --pin-dir DIR       where pgxrd pins its maps, its bpf_pin_dir\n"
		"                          (default %s)\n"
		"      --socket PATH       pgxrd's control socket (default\n"
		"                          /run/pgxr/IFNAME.sock)\n"
		"  -f, --config FILE       take interface, bpf_pin_dir and control_socket\n"
		"                          from pgxrd's configuration; options override them\n"
		"      --force             node promote: promote even when the rules say no\n"
		"  -h, --help              show this help and exit\n"
		"  -V, --version           print the version and exit\n"
		"\n"
		"service, backend, flow, stats and map read and write the maps pinned under\n"
		"DIR/IFNAME directly, so they work whether pgxrd is running or not; node,\n"
		"event, pool, client, config and reload ask the running pgxrd; decap is for\n"
		"backends that take forwarding = ipip's packets.  Objects and commands may\n"
		"be abbreviated to any unambiguous prefix.\n",
		CONFIG_DEFAULT_PIN_DIR);
}

static const struct cmd main_objects[] = {
	{ "service", service_main },
	{ "backend", backend_main },
	{ "flow", flow_main },
	{ "stats", stats_main },
	{ "map", map_main },
	{ "node", node_main },
	{ "event", event_main },
	{ "pool", pool_main },
	{ "client", client_main },
	{ "config", config_main },
	{ "reload", reload_main },
	{ "decap", decap_main },
	{ NULL, NULL },
};

/*
 * Index of word among names[0..n-1]: an exact match, else the one name
 * that word is a prefix of.  -ENOENT when there is none; -EINVAL, with an
 * error listing the candidates, when there are several.
 */
int match_name(const char *word, const char *const *names, int n, const char *what)
{
	size_t len = strlen(word), used = 0;
	int found = -ENOENT, matches = 0;
	char list[256] = "";

	for (int i = 0; i < n; i++) {
		if (!strcmp(word, names[i]))
			return i;
		if (strncmp(word, names[i], len))
			continue;
		found = i;
		matches++;
		if (used < sizeof(list))
			used += snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "",
					 names[i]);
	}
	if (matches <= 1)
		return found;
	p_err("ambiguous %s \"%s\": %s", what, word, list);
	return -EINVAL;
}

/*
 * Runs the command of cmds that argv[0] names (what: "object" or
 * "command", for errors), or cmds[0] when there is no argument, as
 * bpftool does.  Every level also knows "help", which prints its usage.
 * Returns the exit status.
 */
int cmd_select(const struct cmd *cmds, int argc, char **argv, void (*usage)(FILE *out),
	       const char *what)
{
	const char *names[MAIN_MAX_CMDS + 1];
	int n, i;

	if (argc < 1)
		return cmds[0].func(argc, argv);
	for (n = 0; cmds[n].name && n < MAIN_MAX_CMDS; n++)
		names[n] = cmds[n].name;
	names[n] = "help";
	i = match_name(argv[0], names, n + 1, what);
	if (i == -EINVAL)
		return EXIT_USAGE;
	if (i < 0) {
		p_err("unknown %s \"%s\"", what, argv[0]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (i == n) {
		usage(stdout);
		return 0;
	}
	return cmds[i].func(argc - 1, argv + 1);
}

static int main_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* no pin root, or an empty one: the usual mistakes are named */
static int main_nothing_attached(const char *root)
{
	p_err("nothing is attached under \"%s\" (is pgxrd running, or was it given another bpf_pin_dir?)",
	      root);
	return -ENOENT;
}

/*
 * pgxrd makes one directory per interface under the pin root: without -i
 * the only one is taken, and a choice among several is left to the user.
 */
static int main_find_interface(const char *root, char *ifname, size_t len)
{
	char **names = NULL, list[512] = "";
	size_t n = 0, used = 0;
	struct dirent *de;
	int ret = 0;
	DIR *d;

	d = opendir(root);
	if (!d) {
		if (errno == ENOENT)
			return main_nothing_attached(root);
		ret = -errno;
		p_err("could not open \"%s\": %s", root, strerror(-ret));
		return ret;
	}
	while ((de = readdir(d))) {
		struct stat st;
		char **grown, *name;

		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, 0) ||
		    !S_ISDIR(st.st_mode))
			continue;
		name = strdup(de->d_name);
		grown = name ? realloc(names, (n + 1) * sizeof(*names)) : NULL;
		if (!grown) {
			free(name);
			ret = -ENOMEM;
			p_err("out of memory");
			goto cleanup;
		}
		names = grown;
		names[n++] = name;
	}
	if (!n) {
		ret = main_nothing_attached(root);
	} else if (n > 1) {
		qsort(names, n, sizeof(*names), main_strcmp);
		for (size_t i = 0; i < n && used < sizeof(list); i++)
			used += snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
					 names[i]);
		p_err("several interfaces under \"%s\" (%s): choose one with -i", root, list);
		ret = -EEXIST;
	} else if (snprintf(ifname, len, "%s", names[0]) >= (int)len) {
		p_err("\"%s/%s\" is not an interface's pin directory", root, names[0]);
		ret = -ENAMETOOLONG;
	}
cleanup:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return ret;
}

/* pin_dir from -f, --pin-dir and -i, looking for the interface when none is given */
static int main_resolve(void)
{
	/* large (every backend's settings): static rather than on the stack */
	static struct pgxr_config cfg;
	const char *root = main_opts.root, *ifname = main_opts.ifname;
	char found[NAME_MAX + 1];
	int ret;

	if (main_opts.config) {
		/* config_load() has logged each problem with file:line */
		if (config_load(main_opts.config, &cfg))
			return -EINVAL;
		if (!root)
			root = cfg.bpf_pin_dir;
		if (!ifname)
			ifname = cfg.interface;
	}
	if (!root)
		root = CONFIG_DEFAULT_PIN_DIR;
	if (!ifname) {
		ret = main_find_interface(root, found, sizeof(found));
		if (ret)
			return ret;
		ifname = found;
	}
	snprintf(main_resolved.ifname, sizeof(main_resolved.ifname), "%s", ifname);
	if (main_opts.config)
		snprintf(main_resolved.socket, sizeof(main_resolved.socket), "%s", cfg.control_socket);
	ret = dataplane_pin_dir(pin_dir, sizeof(pin_dir), root, ifname);
	if (ret)
		p_err("pin directory \"%s/%s\" is too long", root, ifname);
	return ret;
}

/* the pin root: --pin-dir, else -f's bpf_pin_dir, else the default */
const char *pgxrctl_pin_root(void)
{
	static struct pgxr_config cfg;

	if (main_opts.root)
		return main_opts.root;
	if (main_opts.config && !config_load(main_opts.config, &cfg))
		return cfg.bpf_pin_dir;
	return CONFIG_DEFAULT_PIN_DIR;
}

/*
 * pgxrd's control socket: --socket, else -f's control_socket, else the
 * default for the interface (/run/pgxr/IFNAME.sock).
 */
int pgxrctl_socket(char *path, size_t len)
{
	int ret;

	if (main_opts.socket) {
		snprintf(path, len, "%s", main_opts.socket);
		return 0;
	}
	if (main_opts.config || main_opts.ifname) {
		ret = main_resolve();
		if (ret)
			return ret;
	} else if (main_resolve()) {
		return -ENOENT;
	}
	if (main_resolved.socket[0])
		snprintf(path, len, "%s", main_resolved.socket);
	else
		snprintf(path, len, "/run/pgxr/%s.sock", main_resolved.ifname);
	return 0;
}

/*
 * Opens the pinned maps of the interface into dp, or reports which pin is
 * missing: dataplane_open() only says that one of them is.
 */
int pgxrctl_open(struct dataplane *dp)
{
	char path[PATH_MAX + 32];
	struct stat st;
	int ret, fd;

	ret = main_resolve();
	if (ret)
		return ret;
	ret = dataplane_open(pin_dir, dp);
	if (!ret)
		return 0;
	if (stat(pin_dir, &st)) {
		p_err("could not open \"%s\": %s", pin_dir, strerror(errno));
		return ret;
	}
	if (ret == -EPROTO) {
		char why[256];

		if (dataplane_abi_check(pin_dir, why, sizeof(why)) == -EPROTO) {
			p_err("the maps under \"%s\" are another pgxr build's (%s): use that build's pgxrctl, or start this build's pgxrd (pgxrd --detach first if it refuses them)",
			      pin_dir, why);
			return ret;
		}
	}
	for (int i = 0; i < DP_NMAPS; i++) {
		char why[256];

		snprintf(path, sizeof(path), "%s/%s", pin_dir, dataplane_map_names[i]);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			p_err("could not open \"%s\": %s", path, strerror(errno));
			return ret;
		}
		if (dataplane_layout_check(i, fd, why, sizeof(why)) == -EPROTO) {
			close(fd);
			p_err("the maps under \"%s\" are another pgxr build's (%s): use that build's pgxrctl, or start this build's pgxrd (pgxrd --detach first if it refuses them)",
			      pin_dir, why);
			return ret;
		}
		close(fd);
	}
	p_err("could not open the maps under \"%s\": %s", pin_dir, strerror(-ret));
	return ret;
}

/* what -i may name: one path component that fits an interface name */
static bool main_ifname_valid(const char *s)
{
	return *s && strlen(s) < IF_NAMESIZE && !strchr(s, '/') && strcmp(s, ".") &&
	       strcmp(s, "..");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "interface", required_argument, NULL, 'i' },
		{ "pin-dir", required_argument, NULL, MAIN_OPT_PIN_DIR },
		{ "config", required_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, MAIN_OPT_SOCKET },
		{ "force", no_argument, NULL, MAIN_OPT_FORCE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, ret;

	log_init("pgxrctl", 0);
	/* our own messages, in the "Error: ..." form of the rest */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":jpi:f:hV", options, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json_output = true;
			break;
		case 'p':
			json_output = true;
			pretty_output = true;
			break;
		case 'i':
			if (!main_ifname_valid(optarg)) {
				p_err("\"%s\" is not an interface name", optarg);
				main_usage(stderr);
				return EXIT_USAGE;
			}
			main_opts.ifname = optarg;
			break;
		case MAIN_OPT_PIN_DIR:
			main_opts.root = optarg;
			break;
		case 'f':
			main_opts.config = optarg;
			break;
		case MAIN_OPT_SOCKET:
			main_opts.socket = optarg;
			break;
		case MAIN_OPT_FORCE:
			force_option = true;
			break;
		case 'h':
			main_usage(stdout);
			return 0;
		case 'V':
			printf("pgxrctl %s\n", PGXRCTL_VERSION);
			return 0;
		case ':':
			p_err("option \"%s\" needs an argument", argv[optind - 1]);
			main_usage(stderr);
			return EXIT_USAGE;
		default:
			if (optopt)
				p_err("unknown option \"-%c\"", optopt);
			else
				p_err("unknown option \"%s\"", argv[optind - 1]);
			main_usage(stderr);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		main_usage(stderr);
		return EXIT_USAGE;
	}
	ret = cmd_select(main_objects, argc, argv, main_usage, "object");
	/* output cut short (disk full, closed pipe) must not look like success */
	if (fflush(stdout) || ferror(stdout)) {
		p_err("could not write the output: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	return ret;
}
