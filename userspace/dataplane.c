/* dataplane.c: ring building and map access shared by pgxrd and pgxrctl */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane.h"
#include "maglev.h"

const char *const dataplane_map_names[DP_NMAPS] = {
	[DP_SERVICES] = "services",
	[DP_BACKENDS] = "backends",
	[DP_RINGS] = "rings",
	[DP_FLOWS] = "flows",
	[DP_VERDICT_STATS] = "verdict_stats",
	[DP_SVC_STATS] = "svc_stats",
	[DP_BACKEND_STATS] = "backend_stats",
};

static const char *const dataplane_verdicts[PGXR_V_MAX] = {
	[PGXR_V_PASS_OTHER] = "pass_other",
	[PGXR_V_PASS_MALFORMED] = "pass_malformed",
	[PGXR_V_PASS_FRAGMENT] = "pass_fragment",
	[PGXR_V_PASS_PROXY] = "pass_proxy",
	[PGXR_V_PASS_LOCAL] = "pass_local",
	[PGXR_V_DROP_NO_NEIGH] = "drop_no_neigh",
	[PGXR_V_PASS_NO_BACKEND] = "pass_no_backend",
	[PGXR_V_PASS_DOWN] = "pass_down",
	[PGXR_V_TX] = "tx",
	[PGXR_V_TX_RST] = "tx_rst",
	[PGXR_V_DROP_FRAGMENT] = "drop_fragment",
	[PGXR_V_TX_ICMP] = "tx_icmp",
	[PGXR_V_TX_IPIP] = "tx_ipip",
	[PGXR_V_TX_TOO_BIG] = "tx_too_big",
	[PGXR_V_DROP_ENCAP] = "drop_encap",
};

const char *dataplane_verdict_name(__u32 verdict)
{
	return verdict < PGXR_V_MAX ? dataplane_verdicts[verdict] : "?";
}

const char *dataplane_kind_name(__u8 kind)
{
	switch (kind) {
	case PGXR_SVC_RW:
		return "rw";
	case PGXR_SVC_RO:
		return "ro";
	case PGXR_SVC_PROXY:
		return "proxy";
	default:
		return "?";
	}
}

const char *dataplane_state_name(__u8 state)
{
	switch (state) {
	case PGXR_BE_UP:
		return "up";
	case PGXR_BE_DOWN:
		return "down";
	case PGXR_BE_FENCED:
		return "fenced";
	default:
		return "unused";
	}
}

const char *dataplane_role_name(__u8 role)
{
	switch (role) {
	case PGXR_ROLE_PRIMARY:
		return "primary";
	case PGXR_ROLE_STANDBY:
		return "standby";
	default:
		return "unknown";
	}
}

int dataplane_pin_dir(char *buf, size_t len, const char *root, const char *ifname)
{
	int n = snprintf(buf, len, "%s/%s", root, ifname);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int dataplane_find_map(const char *name)
{
	for (int i = 0; i < DP_NMAPS; i++)
		if (!strcmp(name, dataplane_map_names[i]))
			return i;
	return -ENOENT;
}

/* each map's key and value sizes and entries in this build: a pinned map of another is misread */
static const struct {
	__u32 key, value, entries;
} dataplane_layouts[DP_NMAPS] = {
	[DP_SERVICES] = { sizeof(struct pgxr_svc_key), sizeof(struct pgxr_svc), PGXR_MAX_SERVICES },
	[DP_BACKENDS] = { sizeof(__u32), sizeof(struct pgxr_backend), PGXR_MAX_BACKENDS },
	[DP_RINGS] = { sizeof(__u32), sizeof(__u32), PGXR_MAX_SERVICES },
	[DP_FLOWS] = { sizeof(struct pgxr_flow_key), sizeof(struct pgxr_flow), PGXR_MAX_FLOWS },
	[DP_VERDICT_STATS] = { sizeof(__u32), sizeof(struct pgxr_counters), PGXR_V_MAX },
	[DP_SVC_STATS] = { sizeof(__u32), sizeof(struct pgxr_counters), PGXR_MAX_SERVICES },
	[DP_BACKEND_STATS] = { sizeof(__u32), sizeof(struct pgxr_counters), PGXR_MAX_BACKENDS },
};

/*
 * Whether the map open at fd has this build's layout for map: 0, or
 * -EPROTO with why said (when why is given).
 */
int dataplane_layout_check(int map, int fd, char *why, size_t len)
{
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &info_len))
		return -errno;
	if (info.key_size == dataplane_layouts[map].key && info.value_size == dataplane_layouts[map].value &&
	    info.max_entries == dataplane_layouts[map].entries)
		return 0;
	if (why)
		snprintf(why, len, "map \"%s\" has keys of %u bytes, values of %u, %u entries; this build's: %u, %u, %u",
			 dataplane_map_names[map], info.key_size, info.value_size, info.max_entries,
			 dataplane_layouts[map].key, dataplane_layouts[map].value, dataplane_layouts[map].entries);
	return -EPROTO;
}

/*
 * The ABIs the pins under pin_dir carry (the abi map pgxrd writes): 0,
 * -ENOENT without an abi pin, -EPROTO when it is not one this build can
 * read, or -errno.
 */
int dataplane_abi_read(const char *pin_dir, struct pgxr_abi *out)
{
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info), key = 0;
	char path[4096];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, DATAPLANE_ABI_PIN);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &info_len) || info.value_size != sizeof(*out) ||
	    bpf_map_lookup_elem(fd, &key, out))
		ret = -EPROTO;
	close(fd);
	return ret;
}

/*
 * Whether the pins under pin_dir carry this build's map and cache ABIs:
 * 0, or -EPROTO with why said (when why is given), or -errno.
 */
int dataplane_abi_check(const char *pin_dir, char *why, size_t len)
{
	struct pgxr_abi a;
	int ret = dataplane_abi_read(pin_dir, &a);

	if (ret == -ENOENT || ret == -EPROTO) {
		if (why)
			snprintf(why, len, "no map ABI this build can read");
		return -EPROTO;
	}
	if (ret)
		return ret;
	if (a.maps != PGXR_MAP_ABI || a.caches != PGXR_CACHE_ABI) {
		if (why)
			snprintf(why, len, "map ABI %u, cache ABI %u; this build's: %u, %u", a.maps, a.caches,
				 PGXR_MAP_ABI, PGXR_CACHE_ABI);
		return -EPROTO;
	}
	return 0;
}

/* the pinned maps under pin_dir; -EPROTO when they are another build's (ABI or layout) */
int dataplane_open(const char *pin_dir, struct dataplane *dp)
{
	char path[4096];
	int ret;

	for (int i = 0; i < DP_NMAPS; i++)
		dp->fd[i] = -1;
	ret = dataplane_abi_check(pin_dir, NULL, 0);
	if (ret)
		return ret;
	for (int i = 0; i < DP_NMAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, dataplane_map_names[i]);
		dp->fd[i] = bpf_obj_get(path);
		ret = dp->fd[i] < 0 ? -errno : dataplane_layout_check(i, dp->fd[i], NULL, 0);
		if (ret) {
			dataplane_close(dp);
			return ret;
		}
	}
	return 0;
}

void dataplane_close(struct dataplane *dp)
{
	for (int i = 0; i < DP_NMAPS; i++) {
		if (dp->fd[i] >= 0)
			close(dp->fd[i]);
		dp->fd[i] = -1;
	}
}

/*
 * Who is in the ring of a service, derived from the backends map alone so
 * that pgxrd and pgxrctl agree: rw holds the lowest-numbered primary that
 * is up, ro the standbys that are up, not lagging and of non-zero weight,
 * or the primary when there are none and the service allows the fallback.
 */
static int dataplane_members(const struct pgxr_backend *be, const struct pgxr_svc *svc,
			     struct maglev_member *m)
{
	int n = 0, primary = -1;

	for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
		if (be[i].state == PGXR_BE_UP && be[i].role == PGXR_ROLE_PRIMARY) {
			primary = i;
			break;
		}
	}
	if (svc->kind == PGXR_SVC_RO) {
		for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
			if (be[i].state == PGXR_BE_UP && be[i].role == PGXR_ROLE_STANDBY &&
			    be[i].weight && !(be[i].flags & PGXR_BE_F_LAGGING)) {
				m[n].id = i;
				m[n].weight = be[i].weight;
				n++;
			}
		}
		if (n || !(svc->flags & PGXR_SVC_F_RO_FALLBACK))
			return n;
	}
	if (primary >= 0) {
		m[0].id = primary;
		m[0].weight = 1;
		n = 1;
	}
	return n;
}

/*
 * The members each service's ring was last built from by this process:
 * a ring whose members did not change is not rebuilt (a rebuild costs a
 * map of PGXR_RING_SIZE slots).  Starts empty, so the first rebuild of a
 * process writes every ring.
 */
static struct {
	bool valid;
	int n;
	struct maglev_member m[PGXR_MAX_BACKENDS];
} dataplane_built[PGXR_MAX_SERVICES];

/* keys 0..PGXR_RING_SIZE-1 for batch operations, built on first use */
static __u32 *dataplane_ring_keys;

static int dataplane_keys(void)
{
	if (dataplane_ring_keys)
		return 0;
	dataplane_ring_keys = malloc(PGXR_RING_SIZE * sizeof(__u32));
	if (!dataplane_ring_keys)
		return -ENOMEM;
	for (__u32 i = 0; i < PGXR_RING_SIZE; i++)
		dataplane_ring_keys[i] = i;
	return 0;
}

/*
 * Rings are mmapable since this layout; a rings map pinned by an older
 * build keeps its plain ring template, and only a plain ring fits it.
 * Found out at the first swap that fails, kept for the next.
 */
static bool dataplane_rings_plain;

/*
 * A new ring map holding ring[], or -errno.  A mmapable one is filled with
 * plain stores through a mapping (array elements take 8 bytes each,
 * whatever their value size); a plain one by a batch update, slot by
 * slot, about 5 ms more.
 */
static int dataplane_new_ring(const __u32 *ring, bool plain)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = plain ? 0 : BPF_F_MMAPABLE);
	size_t page = sysconf(_SC_PAGESIZE);
	size_t len = (PGXR_RING_SIZE * 8 + page - 1) / page * page;
	__u32 count = PGXR_RING_SIZE, *slots;
	int fd, ret = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "pgxr_ring", sizeof(__u32), sizeof(__u32),
			    PGXR_RING_SIZE, &opts);
	if (fd < 0)
		return -errno;
	if (plain) {
		if (dataplane_keys())
			ret = -ENOMEM;
		else if (bpf_map_update_batch(fd, dataplane_ring_keys, ring, &count, NULL))
			ret = -errno;
	} else {
		slots = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (slots == MAP_FAILED) {
			ret = -errno;
		} else {
			for (__u32 i = 0; i < PGXR_RING_SIZE; i++)
				slots[2 * i] = ring[i];
			munmap(slots, len);
		}
	}
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

int dataplane_swap_ring(const struct dataplane *dp, __u32 svc_id, const __u32 *ring)
{
	int fd, ret = 0;

	if (svc_id < PGXR_MAX_SERVICES)
		dataplane_built[svc_id].valid = false;
	/* a whole new table, then one update: XDP never sees half a ring */
	for (int attempt = 0; attempt < 2; attempt++) {
		fd = dataplane_new_ring(ring, dataplane_rings_plain);
		if (fd < 0)
			return fd;
		ret = bpf_map_update_elem(dp->fd[DP_RINGS], &svc_id, &fd, BPF_ANY) ? -errno : 0;
		close(fd);
		/* EINVAL: the rings map's template is of the other kind */
		if (ret != -EINVAL)
			break;
		dataplane_rings_plain = !dataplane_rings_plain;
	}
	return ret;
}

/* copies the ring of svc_id into ring[PGXR_RING_SIZE]; -ENOENT when it has none */
int dataplane_read_ring(const struct dataplane *dp, __u32 svc_id, __u32 *ring)
{
	__u32 inner_id, count = PGXR_RING_SIZE, out_batch;
	int fd, ret = 0;

	if (dataplane_keys())
		return -ENOMEM;
	if (bpf_map_lookup_elem(dp->fd[DP_RINGS], &svc_id, &inner_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_batch(fd, NULL, &out_batch, dataplane_ring_keys, ring, &count, NULL) &&
	    errno != ENOENT)
		ret = -errno;
	else if (count != PGXR_RING_SIZE)
		ret = -EIO;
	close(fd);
	return ret;
}

/*
 * Recomputes from be[] and swaps the rings whose members changed, of the
 * rw services (rw) or of the others.
 */
static int dataplane_rebuild_kind(const struct dataplane *dp, const struct pgxr_backend *be,
				  __u32 *ring, bool rw)
{
	struct maglev_member m[PGXR_MAX_BACKENDS];
	struct pgxr_svc_key key, *prev = NULL;
	struct pgxr_svc svc;
	int n, ret;

	while (!bpf_map_get_next_key(dp->fd[DP_SERVICES], prev, &key)) {
		prev = &key;
		if (bpf_map_lookup_elem(dp->fd[DP_SERVICES], &key, &svc))
			continue;	/* deleted meanwhile */
		if (svc.kind == PGXR_SVC_PROXY || svc.id >= PGXR_MAX_SERVICES ||
		    (svc.kind == PGXR_SVC_RW) != rw)
			continue;
		n = dataplane_members(be, &svc, m);
		if (dataplane_built[svc.id].valid && dataplane_built[svc.id].n == n &&
		    !memcmp(dataplane_built[svc.id].m, m, n * sizeof(m[0])))
			continue;
		dataplane_built[svc.id].valid = false;
		ret = maglev_build(m, n, ring, PGXR_RING_SIZE);
		if (!ret)
			ret = dataplane_swap_ring(dp, svc.id, ring);
		if (ret)
			return ret;
		dataplane_built[svc.id].valid = true;
		dataplane_built[svc.id].n = n;
		memcpy(dataplane_built[svc.id].m, m, n * sizeof(m[0]));
	}
	return 0;
}

/*
 * Recomputes and swaps the ring of every non-proxy service from be[] (the
 * caller may have a view it has not written yet).  The rw rings go first:
 * after a failover, writes wait on them.
 */
static int dataplane_rebuild_from(const struct dataplane *dp, const struct pgxr_backend *be)
{
	__u32 *ring = malloc(PGXR_RING_SIZE * sizeof(*ring));
	int ret;

	if (!ring)
		return -ENOMEM;
	ret = dataplane_rebuild_kind(dp, be, ring, true);
	if (!ret)
		ret = dataplane_rebuild_kind(dp, be, ring, false);
	free(ring);
	return ret;
}

/* all PGXR_MAX_BACKENDS slots, unused ones too */
int dataplane_read_backends(const struct dataplane *dp, struct pgxr_backend *be)
{
	for (__u32 i = 0; i < PGXR_MAX_BACKENDS; i++)
		if (bpf_map_lookup_elem(dp->fd[DP_BACKENDS], &i, &be[i]))
			return -errno;
	return 0;
}

int dataplane_rebuild(const struct dataplane *dp)
{
	struct pgxr_backend be[PGXR_MAX_BACKENDS];
	int ret = dataplane_read_backends(dp, be);

	return ret ? ret : dataplane_rebuild_from(dp, be);
}

/* how many entries of be[PGXR_MAX_BACKENDS] are up with the primary's role */
int dataplane_routed_primaries(const struct pgxr_backend *be)
{
	int n = 0;

	for (int i = 0; i < PGXR_MAX_BACKENDS; i++)
		n += be[i].state == PGXR_BE_UP && be[i].role == PGXR_ROLE_PRIMARY;
	return n;
}

/*
 * Writes backend id and updates the rings, in the order that keeps new
 * SYNs away from a backend that is leaving: the rings without it are
 * swapped in before its state says down (pinned flows then get RSTs).
 * A backend that joins is written first, then the rings take it in.
 * A write that would leave two primaries up is refused with -EEXIST:
 * whoever writes the map, no ring is ever built from two.
 */
int dataplane_set_backend(const struct dataplane *dp, __u32 id, const struct pgxr_backend *val)
{
	struct pgxr_backend be[PGXR_MAX_BACKENDS];
	int ret;

	if (id >= PGXR_MAX_BACKENDS)
		return -EINVAL;
	ret = dataplane_read_backends(dp, be);
	if (ret)
		return ret;
	be[id] = *val;
	if (dataplane_routed_primaries(be) > 1)
		return -EEXIST;
	if (val->state != PGXR_BE_UP) {
		ret = dataplane_rebuild_from(dp, be);
		if (ret)
			return ret;
	}
	if (bpf_map_update_elem(dp->fd[DP_BACKENDS], &id, val, BPF_ANY))
		return -errno;
	return val->state == PGXR_BE_UP ? dataplane_rebuild_from(dp, be) : 0;
}

/*
 * The counters of key in a per-CPU stats map, summed into sum and, when
 * percpu is given, also per CPU (libbpf_num_possible_cpus() entries).
 */
int dataplane_counters(const struct dataplane *dp, enum dataplane_map map, __u32 key,
		       struct pgxr_counters *sum, struct pgxr_counters *percpu)
{
	int ncpu = libbpf_num_possible_cpus();
	struct pgxr_counters *v = percpu;
	int ret = 0;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	if (!v)
		v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(dp->fd[map], &key, v)) {
		ret = -errno;
		goto cleanup;
	}
	for (int c = 0; c < ncpu; c++) {
		sum->packets += v[c].packets;
		sum->bytes += v[c].bytes;
		sum->conns += v[c].conns;
		sum->rsts += v[c].rsts;
		sum->retrans += v[c].retrans;
		sum->misses += v[c].misses;
	}
cleanup:
	if (v != percpu)
		free(v);
	return ret;
}
