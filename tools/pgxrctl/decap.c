/* decap.c: "pgxrctl decap": the XDP program a backend runs to take a router's IPIP off */
#include <errno.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <net/if.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pgxr_decap.h"
#include "pgxr_decap.skel.h"
#include "pgxrctl.h"

/* pin names under DIR-decap/DEV */
#define DECAP_LINK_PIN "link"
#define DECAP_STATS_PIN "decap_stats"

static const char *const decap_verdicts[PGXR_DECAP_MAX] = {
	[PGXR_DECAP_PASS] = "pass",
	[PGXR_DECAP_IPIP] = "ipip",
	[PGXR_DECAP_IP6IP6] = "ip6ip6",
	[PGXR_DECAP_DROP_FROM] = "drop_from",
};

static void decap_usage(FILE *out)
{
	fprintf(out,
		"Usage: pgxrctl decap { show DEV | help }\n"
		"       pgxrctl decap attach DEV [mode { native | generic }] [from ADDR...]\n"
		"       pgxrctl decap detach DEV\n"
		"\n"
		"       DEV := the backend's interface the router's IPIP arrives on\n"
		"\n"
		"With forwarding = ipip, pgxrd sends a backend its clients' packets in IPIP\n"
		"(IPv6 in IPv6), from the router's address.  The backend takes the outer\n"
		"header off with its kernel's tunnel device (ip link add NAME type ipip\n"
		"external) or, where the kernel has none, with this XDP program: attach\n"
		"loads it on DEV (native mode unless told) and pins it under\n"
		"DIR-decap/DEV, DIR being --pin-dir, so that it stays when pgxrctl exits.\n"
		"from ADDR... takes IPIP only from those routers; without it, from any\n"
		"sender, as the kernel's tunl0 does.  detach removes it.  show prints what\n"
		"it did with the packets it saw: passed untouched, taken off (ipip,\n"
		"ip6ip6), or dropped for a sender not in the from list.\n");
}

/* DIR-decap/DEV into buf */
static int decap_dir(const char *dev, char *buf, size_t len)
{
	if (!dev[0] || strlen(dev) >= IF_NAMESIZE || strchr(dev, '/')) {
		p_err("\"%s\" is not an interface name", dev);
		return -EINVAL;
	}
	if (snprintf(buf, len, "%s-decap/%s", pgxrctl_pin_root(), dev) >= (int)len) {
		p_err("pin directory \"%s-decap/%s\" is too long", pgxrctl_pin_root(), dev);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* mkdir -p of dir, which must end up on a bpf filesystem */
static int decap_mkdirs(const char *dir)
{
	char path[PATH_MAX];
	struct statfs fs;

	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			p_err("could not create \"%s\": %s", path, strerror(errno));
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(path, 0700) && errno != EEXIST) {
		p_err("could not create \"%s\": %s", path, strerror(errno));
		return -errno;
	}
	if (statfs(path, &fs) || fs.f_type != BPF_FS_MAGIC) {
		p_err("\"%s\" is not on a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)", path);
		return -EINVAL;
	}
	return 0;
}

/* removes dir and DIR-decap above it, each if empty */
static void decap_rmdirs(const char *dir)
{
	char up[PATH_MAX], *slash;

	rmdir(dir);
	snprintf(up, sizeof(up), "%s", dir);
	slash = strrchr(up, '/');
	if (slash) {
		*slash = '\0';
		rmdir(up);
	}
}

static int decap_from_add(struct pgxr_decap_bpf *skel, const char *text)
{
	struct pgxr_decap_from k = {};
	struct pgxr_addr a;
	__u8 one = 1;

	if (addr_parse(text, &a)) {
		p_err("\"%s\" is not an IPv4 or IPv6 address", text);
		return -EINVAL;
	}
	memcpy(k.addr, a.a, sizeof(k.addr));
	k.family = a.family;
	if (bpf_map__update_elem(skel->maps.decap_from, &k, sizeof(k), &one, sizeof(one), BPF_ANY)) {
		p_err("could not add \"%s\" to the from list: %s", text, strerror(errno));
		return -errno;
	}
	return 0;
}

static int decap_attach(int argc, char **argv)
{
	struct pgxr_decap_cfg cfg = {};
	char dir[PATH_MAX], path[PATH_MAX + 32];
	struct pgxr_decap_bpf *skel = NULL;
	__u32 flags = XDP_FLAGS_DRV_MODE, zero = 0;
	int ifindex, link_fd = -1, ret = EXIT_FAILURE, i = 1;

	if (argc < 1) {
		p_err("attach needs the interface");
		decap_usage(stderr);
		return EXIT_USAGE;
	}
	if (decap_dir(argv[0], dir, sizeof(dir)))
		return EXIT_USAGE;
	if (i + 1 < argc && !strcmp(argv[i], "mode")) {
		if (!strcmp(argv[i + 1], "generic")) {
			flags = XDP_FLAGS_SKB_MODE;
		} else if (strcmp(argv[i + 1], "native")) {
			p_err("unknown mode \"%s\": expected native or generic", argv[i + 1]);
			return EXIT_USAGE;
		}
		i += 2;
	}
	if (i < argc && strcmp(argv[i], "from")) {
		p_err("unexpected argument \"%s\"", argv[i]);
		decap_usage(stderr);
		return EXIT_USAGE;
	}
	if (i < argc && i + 1 == argc) {
		p_err("from needs at least one address");
		return EXIT_USAGE;
	}
	ifindex = if_nametoindex(argv[0]);
	if (!ifindex) {
		p_err("interface \"%s\" does not exist", argv[0]);
		return EXIT_FAILURE;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, DECAP_LINK_PIN);
	if (!access(path, F_OK)) {
		p_err("the decap program is already attached on \"%s\" (%s): detach it first",
		      argv[0], path);
		return EXIT_FAILURE;
	}
	if (decap_mkdirs(dir))
		goto cleanup;
	/* counters left by an attach that failed half-way (no link pin): not a program's */
	snprintf(path, sizeof(path), "%s/%s", dir, DECAP_STATS_PIN);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, DECAP_LINK_PIN);
	LIBBPF_OPTS(bpf_link_create_opts, o, .flags = flags);
	skel = pgxr_decap_bpf__open_and_load();
	if (!skel) {
		p_err("could not load the decap program: %s", strerror(errno));
		goto cleanup;
	}
	for (int a = i + 1; a < argc; a++)
		if (decap_from_add(skel, argv[a]))
			goto cleanup;
	cfg.restrict_from = i < argc;
	if (bpf_map__update_elem(skel->maps.decap_cfg, &zero, sizeof(zero), &cfg, sizeof(cfg),
				 BPF_ANY)) {
		p_err("could not write the decap configuration: %s", strerror(errno));
		goto cleanup;
	}
	link_fd = bpf_link_create(bpf_program__fd(skel->progs.pgxr_decap), ifindex, BPF_XDP, &o);
	if (link_fd < 0) {
		p_err("could not attach to \"%s\" (%s mode): %s", argv[0],
		      flags == XDP_FLAGS_SKB_MODE ? "generic" : "native", strerror(errno));
		goto cleanup;
	}
	if (bpf_obj_pin(link_fd, path)) {
		p_err("could not pin \"%s\": %s", path, strerror(errno));
		goto cleanup;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, DECAP_STATS_PIN);
	if (bpf_map__pin(skel->maps.decap_stats, path)) {
		p_err("could not pin \"%s\": %s", path, strerror(errno));
		snprintf(path, sizeof(path), "%s/%s", dir, DECAP_LINK_PIN);
		unlink(path);
		goto cleanup;
	}
	printf("decap attached on \"%s\" (%s mode), pinned under \"%s\"\n", argv[0],
	       flags == XDP_FLAGS_SKB_MODE ? "generic" : "native", dir);
	ret = 0;
cleanup:
	/* the pinned link holds the program and its maps */
	if (link_fd >= 0)
		close(link_fd);
	pgxr_decap_bpf__destroy(skel);
	if (ret)
		decap_rmdirs(dir);
	return ret;
}

static int decap_detach(int argc, char **argv)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	int removed = 0;

	if (argc != 1) {
		p_err("detach needs the interface, alone");
		decap_usage(stderr);
		return EXIT_USAGE;
	}
	if (decap_dir(argv[0], dir, sizeof(dir)))
		return EXIT_USAGE;
	/* the link first: the program leaves the interface when its last pin goes */
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, i ? DECAP_STATS_PIN : DECAP_LINK_PIN);
		if (!unlink(path))
			removed++;
		else if (errno != ENOENT) {
			p_err("could not remove \"%s\": %s", path, strerror(errno));
			return EXIT_FAILURE;
		}
	}
	if (!removed) {
		p_err("no decap program is pinned under \"%s\"", dir);
		return EXIT_FAILURE;
	}
	decap_rmdirs(dir);
	printf("decap detached from \"%s\"\n", argv[0]);
	return 0;
}

static int decap_show(int argc, char **argv)
{
	struct pgxr_decap_counters c[PGXR_DECAP_MAX] = {}, *percpu;
	char dir[PATH_MAX], path[PATH_MAX + 32];
	int fd, ncpus, ret = EXIT_FAILURE;

	if (argc != 1) {
		p_err("show needs the interface, alone");
		decap_usage(stderr);
		return EXIT_USAGE;
	}
	if (decap_dir(argv[0], dir, sizeof(dir)))
		return EXIT_USAGE;
	snprintf(path, sizeof(path), "%s/%s", dir, DECAP_STATS_PIN);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		p_err("could not open \"%s\": %s (is the decap program attached on \"%s\"?)", path,
		      strerror(errno), argv[0]);
		return EXIT_FAILURE;
	}
	ncpus = libbpf_num_possible_cpus();
	percpu = ncpus > 0 ? calloc(ncpus, sizeof(*percpu)) : NULL;
	if (!percpu) {
		p_err("out of memory");
		goto cleanup;
	}
	for (__u32 v = 0; v < PGXR_DECAP_MAX; v++) {
		if (bpf_map_lookup_elem(fd, &v, percpu)) {
			p_err("could not read \"%s\": %s", path, strerror(errno));
			goto cleanup;
		}
		for (int cpu = 0; cpu < ncpus; cpu++) {
			c[v].packets += percpu[cpu].packets;
			c[v].bytes += percpu[cpu].bytes;
		}
	}
	if (json_output) {
		struct json j;

		json_init(&j, stdout, pretty_output);
		json_array_begin(&j);
		for (__u32 v = 0; v < PGXR_DECAP_MAX; v++) {
			json_object_begin(&j);
			json_kv_string(&j, "verdict", decap_verdicts[v]);
			json_kv_u64(&j, "packets", c[v].packets);
			json_kv_u64(&j, "bytes", c[v].bytes);
			json_object_end(&j);
		}
		json_array_end(&j);
		json_finish(&j);
		ret = 0;
	} else {
		struct table t;

		table_init(&t, "VERDICT PACKETS BYTES", "lrr");
		for (__u32 v = 0; v < PGXR_DECAP_MAX; v++) {
			table_cell(&t, "%s", decap_verdicts[v]);
			table_cell(&t, "%llu", (unsigned long long)c[v].packets);
			table_cell(&t, "%llu", (unsigned long long)c[v].bytes);
		}
		ret = table_show(&t) ? EXIT_FAILURE : 0;
	}
cleanup:
	free(percpu);
	close(fd);
	return ret;
}

static const struct cmd decap_cmds[] = {
	{ "show", decap_show },
	{ "attach", decap_attach },
	{ "detach", decap_detach },
	{ NULL, NULL },
};

int decap_main(int argc, char **argv)
{
	return cmd_select(decap_cmds, argc, argv, decap_usage, "command");
}
