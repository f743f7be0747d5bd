/* loader.c: loads, pins and attaches the XDP program; reuses what a previous pgxrd left */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "log.h"
#include "nl.h"
#include "pgxr_xdp.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#ifndef BPF_F_XDP_DEV_BOUND_ONLY
#define BPF_F_XDP_DEV_BOUND_ONLY (1U << 6)
#endif

#define LOADER_BPFFS "/sys/fs/bpf"
#define LOADER_LINK_PIN "link"

/* no pin at all under dir: what a failed start may remove is its own */
static bool loader_pins_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return true;
	while (empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	return empty;
}

static int loader_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	if (n && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	if (level == LIBBPF_WARN)
		log_warning("libbpf: %s", msg);
	else
		log_debug("libbpf: %s", msg);
	return 0;
}

static bool loader_is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/* mkdir -p, each component mode 0700: pins are root's business */
static int loader_mkdirs(const char *path)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;

			*p = '\0';
			if (mkdir(buf, 0700) && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

/*
 * bpffs is not mounted on every system (nor in every container); mount it
 * at its usual place when the pin directory lives there.
 */
static int loader_prepare_pins(const char *root, const char *pin_dir)
{
	int ret;

	if (!strncmp(root, LOADER_BPFFS, strlen(LOADER_BPFFS)) && !loader_is_bpffs(LOADER_BPFFS)) {
		if (mount("bpf", LOADER_BPFFS, "bpf", 0, "mode=0700")) {
			ret = -errno;
			log_error("could not mount the bpf filesystem on \"%s\": %s",
				  LOADER_BPFFS, strerror(errno));
			return ret;
		}
		log_info("mounted the bpf filesystem on \"%s\"", LOADER_BPFFS);
	}
	ret = loader_mkdirs(pin_dir);
	if (ret) {
		log_error("could not create pin directory \"%s\": %s", pin_dir, strerror(-ret));
		return ret;
	}
	if (!loader_is_bpffs(pin_dir)) {
		log_error("bpf_pin_dir \"%s\" is not on a bpf filesystem (mount -t bpf bpf DIR)", root);
		return -EINVAL;
	}
	return 0;
}

#define LOADER_MAX_PROG_MAPS 32

static int loader_id_cmp(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * A program's tag, and the ids of the maps it uses, sorted: the tag
 * leaves out the maps (and their sizes), so a program of the same code
 * may still use other maps.
 */
static int loader_prog_id(int prog_fd, __u8 tag[BPF_TAG_SIZE], __u32 *ids, __u32 *n)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	info.nr_map_ids = LOADER_MAX_PROG_MAPS;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	if (info.nr_map_ids > LOADER_MAX_PROG_MAPS)
		return -E2BIG;
	memcpy(tag, info.tag, BPF_TAG_SIZE);
	*n = info.nr_map_ids;
	qsort(ids, *n, sizeof(*ids), loader_id_cmp);
	return 0;
}

/* the XDP mode the interface runs our program in, for the log and operators */
static const char *loader_attached_mode(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(ifindex, 0, &q))
		return "unknown";
	switch (q.attach_mode) {
	case XDP_ATTACHED_DRV:
		return "native";
	case XDP_ATTACHED_SKB:
		return "generic";
	case XDP_ATTACHED_HW:
		return "offload";
	default:
		return "none";
	}
}

/* the program for a mode: native runs the device-bound one where it loaded */
static int loader_prog_fd(const struct loader *l, bool native)
{
	if (native && l->vlan)
		return bpf_program__fd(l->skel->progs.pgxr_xdp_vlan);
	return bpf_program__fd(l->skel->progs.pgxr_xdp);
}

static int loader_link_create(const struct pgxr_config *cfg, struct loader *l)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts);
	int fd;

	if (cfg->xdp_mode != XDP_MODE_GENERIC) {
		opts.flags = XDP_FLAGS_DRV_MODE;
		fd = bpf_link_create(loader_prog_fd(l, true), l->ifindex, BPF_XDP, &opts);
		if (fd >= 0 || cfg->xdp_mode == XDP_MODE_NATIVE || errno == EBUSY ||
		    errno == EEXIST)
			return fd < 0 ? -errno : fd;
		log_info("native XDP is not available on \"%s\" (%s); using generic mode",
			 cfg->interface, strerror(errno));
	}
	opts.flags = XDP_FLAGS_SKB_MODE;
	fd = bpf_link_create(loader_prog_fd(l, false), l->ifindex, BPF_XDP, &opts);
	return fd < 0 ? -errno : fd;
}

/*
 * Native XDP refused: the driver has none, which virtual interfaces
 * mostly lack.  A VLAN device is the one that matters: generic mode on it
 * gets frames with the tag taken off (by the NIC or the kernel) and sends
 * XDP_TX through it, tagged again.
 */
static void loader_no_native(const char *ifname, int ifindex)
{
	char kind[32];

	if (nl_link_kind(ifindex, kind, sizeof(kind)) || !kind[0])
		snprintf(kind, sizeof(kind), "physical");
	log_error("could not attach XDP (native mode) to \"%s\": its driver (a %s device) has no native XDP; use xdp_mode = generic or auto%s",
		  ifname, kind,
		  strcmp(kind, "vlan") ? "" :
					 " (generic mode on a VLAN device receives frames untagged and sends them tagged through it)");
}

/*
 * A link pinned by a previous pgxrd keeps the program attached while no
 * pgxrd runs.  Keep it: with the same program nothing is touched, with a
 * new build the program is swapped under the link in one step.  Either
 * way established flows keep flowing.  Returns the link fd, or -ENOENT
 * when there is no usable pinned link.
 */
static int loader_reuse_link(struct loader *l, const char *path)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	__u8 old_tag[BPF_TAG_SIZE], new_tag[BPF_TAG_SIZE];
	__u32 old_ids[LOADER_MAX_PROG_MAPS], new_ids[LOADER_MAX_PROG_MAPS], old_n = 0, new_n = 0;
	int fd, old_prog, prog_fd, ret;

	fd = bpf_obj_get(path);
	if (fd < 0)
		return -ENOENT;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != BPF_LINK_TYPE_XDP ||
	    info.xdp.ifindex != (__u32)l->ifindex) {
		/* the interface went away and came back: that link is dead */
		log_info("removing stale pinned link \"%s\"", path);
		close(fd);
		unlink(path);
		return -ENOENT;
	}
	prog_fd = loader_prog_fd(l, !strcmp(loader_attached_mode(l->ifindex), "native"));
	old_prog = bpf_prog_get_fd_by_id(info.prog_id);
	ret = old_prog < 0 ? -errno : loader_prog_id(old_prog, old_tag, old_ids, &old_n);
	if (old_prog >= 0)
		close(old_prog);
	if (!ret)
		ret = loader_prog_id(prog_fd, new_tag, new_ids, &new_n);
	/* the same code on the same maps (a cache replaced makes it another program) */
	if (!ret && !memcmp(old_tag, new_tag, BPF_TAG_SIZE) && old_n == new_n &&
	    !memcmp(old_ids, new_ids, old_n * sizeof(*old_ids))) {
		l->reused_prog = true;
		return fd;
	}
	if (bpf_link_update(fd, prog_fd, NULL)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	log_info("replaced the attached XDP program (id %u) with this build's", info.prog_id);
	return fd;
}

/*
 * Pins of another map ABI are never read as this build's.  Another
 * PGXR_MAP_ABI, or pins older than ABI versions, are refused; another
 * PGXR_CACHE_ABI sets *stale, and the caches are replaced.  fresh: no
 * pins yet.
 */
static int loader_check_abi(const char *pin_dir, bool fresh, bool *stale)
{
	struct pgxr_abi a;
	int ret = dataplane_abi_read(pin_dir, &a);

	*stale = false;
	if (ret == -ENOENT && fresh)
		return 0;
	if (ret == -ENOENT || ret == -EPROTO) {
		log_error("the maps pinned under \"%s\" have no map ABI this build can read (a build older than map ABI versions, or another): \"pgxrd --detach\" removes them (the XDP path's sessions end), then start pgxrd again",
			  pin_dir);
		return -EPROTO;
	}
	if (ret) {
		log_error("could not read the map ABI under \"%s\": %s", pin_dir, strerror(-ret));
		return ret;
	}
	if (a.maps != PGXR_MAP_ABI) {
		log_error("the maps pinned under \"%s\" are of map ABI %u, this build's is %u: \"pgxrd --detach\" removes them (the XDP path's sessions end), then start pgxrd again",
			  pin_dir, a.maps, PGXR_MAP_ABI);
		return -EPROTO;
	}
	if (a.caches != PGXR_CACHE_ABI) {
		log_info("the caches pinned under \"%s\" are of cache ABI %u, this build's is %u: replaced",
			 pin_dir, a.caches, PGXR_CACHE_ABI);
		*stale = true;
	}
	return 0;
}

/*
 * The flow table and the counters are caches: pinned by a build with
 * another layout (stale, or sizes that differ), they are replaced rather
 * than refused (a flow missing from the table takes the same ring slot;
 * counters start again).  The services, backends and rings hold
 * decisions and must match.
 */
static void loader_replace_cache(struct bpf_map *map, const char *path, bool stale)
{
	static const char *const caches[] = { "flows", "verdict_stats", "svc_stats", "backend_stats" };
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	bool cache = false;
	int fd;

	for (size_t i = 0; i < sizeof(caches) / sizeof(caches[0]); i++)
		cache |= !strcmp(bpf_map__name(map), caches[i]);
	if (!cache || (fd = bpf_obj_get(path)) < 0)
		return;
	if (!stale && !bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == bpf_map__type(map) &&
	    info.key_size == bpf_map__key_size(map) && info.value_size == bpf_map__value_size(map) &&
	    info.max_entries == bpf_map__max_entries(map)) {
		close(fd);
		return;
	}
	close(fd);
	if (unlink(path))
		log_warning("could not remove \"%s\" of an older layout: %s", path, strerror(errno));
	else
		log_info("replaced \"%s\", pinned by a build with another layout", path);
}

/*
 * Opens and loads the program (l->vlan: with the device-bound one),
 * reusing the pinned maps of a previous run: flows and counters survive
 */
static int loader_load(struct loader *l, bool stale)
{
	char path[PATH_MAX + 32];
	struct bpf_map *map;
	int ret;

	l->skel = pgxr_xdp_bpf__open();
	if (!l->skel) {
		ret = -errno;
		log_error("could not open the XDP program: %s", strerror(errno));
		return ret;
	}
	bpf_object__for_each_map(map, l->skel->obj) {
		snprintf(path, sizeof(path), "%s/%s", l->pin_dir, bpf_map__name(map));
		loader_replace_cache(map, path, stale);
		ret = bpf_map__set_pin_path(map, path);
		if (ret)
			return ret;
	}
	if (l->vlan) {
		struct bpf_program *prog = l->skel->progs.pgxr_xdp_vlan;

		bpf_program__set_autoload(prog, true);
		bpf_program__set_ifindex(prog, l->ifindex);
		bpf_program__set_flags(prog, bpf_program__flags(prog) | BPF_F_XDP_DEV_BOUND_ONLY);
	}
	ret = pgxr_xdp_bpf__load(l->skel);
	if (ret && !l->vlan)
		log_error("could not load the XDP program: %s", strerror(-ret));
	return ret;
}

int loader_attach(const struct pgxr_config *cfg, struct loader *l)
{
	char path[PATH_MAX + 32];
	struct pgxr_abi abi = { PGXR_MAP_ABI, PGXR_CACHE_ABI };
	struct bpf_map *map;
	bool fresh, stale;
	int ret, hint;
	__u32 key = 0;

	memset(l, 0, sizeof(*l));
	l->link_fd = -1;
	libbpf_set_print(loader_libbpf_print);
	l->ifindex = if_nametoindex(cfg->interface);
	if (!l->ifindex) {
		ret = -errno;
		log_error("interface \"%s\" does not exist", cfg->interface);
		return ret;
	}
	ret = dataplane_pin_dir(l->pin_dir, sizeof(l->pin_dir), cfg->bpf_pin_dir, cfg->interface);
	if (ret) {
		log_error("bpf_pin_dir \"%s\" is too long", cfg->bpf_pin_dir);
		return ret;
	}
	ret = loader_prepare_pins(cfg->bpf_pin_dir, l->pin_dir);
	if (ret)
		return ret;

	/* maps pinned here by this run are removed again if attaching fails */
	fresh = loader_pins_empty(l->pin_dir);
	ret = loader_check_abi(l->pin_dir, fresh, &stale);
	if (ret)
		return ret;

	/*
	 * Where native mode may be used and the driver hands XDP the VLAN tag
	 * it stripped, the program that puts it back, bound to the interface
	 */
	hint = cfg->xdp_mode == XDP_MODE_GENERIC ? 0 : nl_xdp_rx_vlan_tag(l->ifindex);
	l->vlan = hint == 1;
	ret = loader_load(l, stale);
	if (ret && l->vlan) {
		int vlan_ret = ret;

		pgxr_xdp_bpf__destroy(l->skel);
		l->skel = NULL;
		l->vlan = false;
		ret = loader_load(l, stale);
		if (!ret)
			log_warning("could not load the XDP program that puts back VLAN tags \"%s\" strips on receive (%s): running the one without; tagged VIP traffic needs receive VLAN offload off there (ethtool -K %s rxvlan off)",
				    cfg->interface, strerror(-vlan_ret), cfg->interface);
	}
	if (ret) {
		if (ret == -EINVAL)
			log_error("maps pinned under \"%s\" may be from an incompatible pgxr build; \"pgxrd --detach\" removes them",
				  l->pin_dir);
		goto fail;
	}
	if (bpf_map__update_elem(l->skel->maps.abi, &key, sizeof(key), &abi, sizeof(abi), BPF_ANY)) {
		ret = -errno;
		log_error("could not write the map ABI under \"%s\": %s", l->pin_dir, strerror(errno));
		goto fail;
	}
	for (int i = 0; i < DP_NMAPS; i++) {
		map = bpf_object__find_map_by_name(l->skel->obj, dataplane_map_names[i]);
		l->dp.fd[i] = map ? bpf_map__fd(map) : -1;
		if (l->dp.fd[i] < 0) {
			log_error("the XDP program has no map \"%s\"", dataplane_map_names[i]);
			ret = -ENOENT;
			goto fail;
		}
	}

	snprintf(path, sizeof(path), "%s/%s", l->pin_dir, LOADER_LINK_PIN);
	l->link_fd = loader_reuse_link(l, path);
	if (l->link_fd == -ENOENT) {
		l->link_fd = loader_link_create(cfg, l);
		if (l->link_fd < 0) {
			ret = l->link_fd;
			if (ret == -EBUSY || ret == -EEXIST)
				log_error("could not attach to \"%s\": another XDP program is attached (detach it first, e.g. ip link set dev %s xdp off)",
					  cfg->interface, cfg->interface);
			else if (ret == -EOPNOTSUPP && cfg->xdp_mode == XDP_MODE_NATIVE)
				loader_no_native(cfg->interface, l->ifindex);
			else
				log_error("could not attach XDP (%s mode) to \"%s\": %s",
					  config_xdp_mode_name(cfg->xdp_mode), cfg->interface,
					  strerror(-ret));
			goto fail;
		}
		if (bpf_obj_pin(l->link_fd, path)) {
			ret = -errno;
			log_error("could not pin \"%s\": %s", path, strerror(errno));
			goto fail;
		}
	} else if (l->link_fd < 0) {
		ret = l->link_fd;
		log_error("could not reuse the pinned link \"%s\": %s", path, strerror(-ret));
		goto fail;
	}
	l->mode = loader_attached_mode(l->ifindex);
	l->fresh = fresh;
	l->vlan &= !strcmp(l->mode, "native");
	/* (a program that could not be loaded was warned about) */
	if (hint != 1 && !strcmp(l->mode, "native"))
		log_info("native XDP on \"%s\" cannot put back VLAN tags it strips on receive (%s): tagged VIP traffic needs receive VLAN offload off there",
			 cfg->interface,
			 hint == 0 ? "its driver does not hand them to XDP" : strerror(-hint));
	log_info("XDP program %s on \"%s\" (ifindex %d, %s mode%s), maps pinned under \"%s\"",
		 l->reused_prog ? "already attached" : "attached", cfg->interface, l->ifindex,
		 l->mode, l->vlan ? ", VLAN tags the device strips are put back" : "",
		 l->pin_dir);
	return 0;
fail:
	if (fresh && l->skel) {
		bpf_object__unpin_maps(l->skel->obj, NULL);
		rmdir(l->pin_dir);
		rmdir(cfg->bpf_pin_dir);	/* only if no other interface uses it */
	}
	loader_close(l);
	return ret;
}

void loader_close(struct loader *l)
{
	if (l->link_fd >= 0)
		close(l->link_fd);
	l->link_fd = -1;
	pgxr_xdp_bpf__destroy(l->skel);
	l->skel = NULL;
}

/*
 * Removes the pinned link (which detaches the program once no process
 * holds it) and the pinned maps.  Nothing pinned is not an error.
 */
/* removes the pin dir/name: 1, 0 when there was none, or -errno (said) */
static int loader_unpin(const char *dir, const char *name)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!unlink(path))
		return 1;
	if (errno == ENOENT)
		return 0;
	log_error("could not remove \"%s\": %s", path, strerror(errno));
	return -errno;
}

int loader_detach(const struct pgxr_config *cfg)
{
	char dir[PATH_MAX];
	int removed = 0, ret = 0, r;

	if (dataplane_pin_dir(dir, sizeof(dir), cfg->bpf_pin_dir, cfg->interface))
		return -ENAMETOOLONG;
	/* the link and the ABI, then the maps */
	for (int i = 0; i < DP_NMAPS + 2; i++) {
		r = loader_unpin(dir, i == 0 ? LOADER_LINK_PIN : i == 1 ? DATAPLANE_ABI_PIN :
				 dataplane_map_names[i - 2]);
		if (r > 0)
			removed++;
		else if (r < 0)
			ret = r;
	}
	if (rmdir(dir) && errno != ENOENT) {
		ret = -errno;
		log_error("could not remove \"%s\": %s", dir, strerror(errno));
	}
	rmdir(cfg->bpf_pin_dir);	/* only when no other interface uses it */
	if (!ret)
		log_info(removed ? "detached from \"%s\"; removed pins under \"%s\""
				 : "nothing attached on \"%s\" under \"%s\"",
			 cfg->interface, dir);
	return ret;
}
