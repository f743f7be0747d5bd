/* map.c: "pgxrctl map": the pinned maps themselves, listed and dumped entry by entry */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pgxrctl.h"

/* one entry of the rings map, with what its ring holds */
struct map_ring {
	__u32 svc;
	__u32 map_id;				/* of the inner array, for bpftool */
	__u32 counts[PGXR_MAX_BACKENDS];	/* slots per backend id */
	__u32 empty;				/* slots without a backend */
};

/* a per-CPU stats map, read in one pass so sums and per-CPU values agree */
struct map_stats {
	enum dataplane_map map;
	__u32 nkeys;
	int ncpu;
	struct pgxr_counters *sum;	/* [nkeys] */
	struct pgxr_counters *cpu;	/* [nkeys * ncpu] */
};

static void map_usage(FILE *out)
{
	/* where NAME := { ... } wraps, and how far its continuation is indented */
	const int wrap = 72, indent = 16;
	int col;

	fprintf(out,
		"Usage: pgxrctl map { list | help }\n"
		"       pgxrctl map dump NAME\n"
		"\n");
	col = fprintf(out, "       NAME := {");
	for (int i = 0; i < DP_NMAPS; i++) {
		if (col + (int)strlen(dataplane_map_names[i]) + 3 > wrap) {
			fprintf(out, "\n%*s", indent, "");
			col = indent;
		}
		col += fprintf(out, " %s %s", dataplane_map_names[i], i < DP_NMAPS - 1 ? "|" : "}");
	}
	fprintf(out,
		"\n\n"
		"dump decodes every entry of the map as stored (weights x 1000); stats\n"
		"maps show the sums over CPUs, skipping zero entries, and in JSON also\n"
		"the value of each possible CPU.\n");
}

static int map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

static const char *map_type_name(__u32 type)
{
	const char *s = libbpf_bpf_map_type_str(type);

	return s ? s : "unknown";
}

static int map_list_plain(const struct bpf_map_info *info)
{
	struct table t;

	table_init(&t, "NAME ID TYPE KEY VALUE MAX_ENTRIES", "lllrrr");
	for (int i = 0; i < DP_NMAPS; i++) {
		table_cell(&t, "%s", dataplane_map_names[i]);
		table_cell(&t, "%u", info[i].id);
		table_cell(&t, "%s", map_type_name(info[i].type));
		table_cell(&t, "%u", info[i].key_size);
		table_cell(&t, "%u", info[i].value_size);
		table_cell(&t, "%u", info[i].max_entries);
	}
	return table_show(&t);
}

static void map_list_json(const struct bpf_map_info *info)
{
	char path[PATH_MAX + 32];
	struct json j;

	json_init(&j, stdout, pretty_output);
	json_array_begin(&j);
	for (int i = 0; i < DP_NMAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, dataplane_map_names[i]);
		json_object_begin(&j);
		json_kv_string(&j, "name", dataplane_map_names[i]);
		json_kv_u64(&j, "id", info[i].id);
		json_kv_string(&j, "type", map_type_name(info[i].type));
		json_kv_u64(&j, "key_size", info[i].key_size);
		json_kv_u64(&j, "value_size", info[i].value_size);
		json_kv_u64(&j, "max_entries", info[i].max_entries);
		json_kv_string(&j, "pinned", path);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_finish(&j);
}

static int map_list(int argc, char **argv)
{
	struct bpf_map_info info[DP_NMAPS];
	int err, ret = EXIT_FAILURE;
	struct dataplane dp;

	if (args_none(argc, argv, map_usage))
		return EXIT_USAGE;
	if (pgxrctl_open(&dp))
		return EXIT_FAILURE;
	for (int i = 0; i < DP_NMAPS; i++) {
		err = map_info(dp.fd[i], &info[i]);
		if (err) {
			p_err("could not get the info of map \"%s\": %s", dataplane_map_names[i],
			      strerror(-err));
			goto cleanup;
		}
	}
	if (json_output)
		map_list_json(info);
	else if (map_list_plain(info))
		goto cleanup;
	ret = 0;
cleanup:
	dataplane_close(&dp);
	return ret;
}

static int map_services_plain(const struct svc_entry *s, int n)
{
	char addr[ADDR_STRLEN], flags[64];
	struct table t;

	table_init(&t, "ADDRESS PORT FAMILY PROTO ID KIND FLAGS", "lrrrlll");
	for (int i = 0; i < n; i++) {
		table_cell(&t, "%s", addr_format_raw(s[i].key.family, s[i].key.addr, addr,
						     sizeof(addr)));
		table_cell(&t, "%u", ntohs(s[i].key.port));
		table_cell(&t, "%u", s[i].key.family);
		table_cell(&t, "%u", s[i].key.proto);
		table_cell(&t, "%u", s[i].svc.id);
		table_cell(&t, "%s", dataplane_kind_name(s[i].svc.kind));
		table_cell(&t, "%s", flags_format(s[i].svc.flags, service_flag_names, flags,
						  sizeof(flags)));
	}
	return table_show(&t);
}

static void map_services_json(const struct svc_entry *s, int n)
{
	char addr[ADDR_STRLEN];
	struct json j;

	json_init(&j, stdout, pretty_output);
	json_array_begin(&j);
	for (int i = 0; i < n; i++) {
		json_object_begin(&j);
		json_key(&j, "key");
		json_object_begin(&j);
		json_kv_string(&j, "addr", addr_format_raw(s[i].key.family, s[i].key.addr, addr,
							   sizeof(addr)));
		json_kv_u64(&j, "port", ntohs(s[i].key.port));
		json_kv_u64(&j, "family", s[i].key.family);
		json_kv_u64(&j, "proto", s[i].key.proto);
		json_object_end(&j);
		json_key(&j, "value");
		json_object_begin(&j);
		json_kv_u64(&j, "id", s[i].svc.id);
		json_kv_string(&j, "kind", dataplane_kind_name(s[i].svc.kind));
		json_key(&j, "flags");
		flags_json(&j, s[i].svc.flags, service_flag_names);
		json_object_end(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_finish(&j);
}

static int map_dump_services(const struct dataplane *dp)
{
	struct svc_entry s[PGXR_MAX_SERVICES];
	int n = service_read_all(dp, s);

	if (n < 0) {
		p_err("could not read map \"services\": %s", strerror(-n));
		return n;
	}
	if (json_output) {
		map_services_json(s, n);
		return 0;
	}
	return map_services_plain(s, n);
}

static int map_backends_plain(const struct pgxr_backend *be)
{
	char addr[ADDR_STRLEN], mac[24], flags[64];
	struct table t;

	table_init(&t, "ID ADDRESS FAMILY PORT STATE ROLE FLAGS MAC WEIGHT", "llrrlllll");
	for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
		if (be[i].state == PGXR_BE_UNUSED)
			continue;
		table_cell(&t, "%d", i);
		table_cell(&t, "%s", addr_format_raw(be[i].family, be[i].addr, addr, sizeof(addr)));
		table_cell(&t, "%u", be[i].family);
		table_cell(&t, "%u", be[i].port);
		table_cell(&t, "%s", dataplane_state_name(be[i].state));
		table_cell(&t, "%s", dataplane_role_name(be[i].role));
		table_cell(&t, "%s", flags_format(be[i].flags, backend_flag_names, flags,
						  sizeof(flags)));
		table_cell(&t, "%s", mac_format(be[i].mac, mac, sizeof(mac)));
		table_cell(&t, "%u", be[i].weight);
	}
	return table_show(&t);
}

static void map_backends_json(const struct pgxr_backend *be)
{
	char addr[ADDR_STRLEN], mac[24];
	struct json j;

	json_init(&j, stdout, pretty_output);
	json_array_begin(&j);
	for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
		if (be[i].state == PGXR_BE_UNUSED)
			continue;
		json_object_begin(&j);
		json_kv_u64(&j, "key", i);
		json_key(&j, "value");
		json_object_begin(&j);
		json_kv_string(&j, "addr", addr_format_raw(be[i].family, be[i].addr, addr,
							   sizeof(addr)));
		json_kv_u64(&j, "family", be[i].family);
		json_kv_string(&j, "state", dataplane_state_name(be[i].state));
		json_kv_string(&j, "role", dataplane_role_name(be[i].role));
		json_key(&j, "flags");
		flags_json(&j, be[i].flags, backend_flag_names);
		/* the raw bytes, zeros included: this is the map as stored */
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", be[i].mac[0],
			 be[i].mac[1], be[i].mac[2], be[i].mac[3], be[i].mac[4], be[i].mac[5]);
		json_kv_string(&j, "mac", mac);
		json_kv_u64(&j, "port", be[i].port);
		json_kv_u64(&j, "weight", be[i].weight);
		json_object_end(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_finish(&j);
}

static int map_dump_backends(const struct dataplane *dp)
{
	struct pgxr_backend be[PGXR_MAX_BACKENDS];
	int ret = dataplane_read_backends(dp, be);

	if (ret) {
		p_err("could not read map \"backends\": %s", strerror(-ret));
		return ret;
	}
	if (json_output) {
		map_backends_json(be);
		return 0;
	}
	return map_backends_plain(be);
}

static int map_rings_plain(const struct map_ring *r, int n)
{
	char slots[PGXR_MAX_BACKENDS * 16 + 32];
	struct table t;

	table_init(&t, "SERVICE MAP_ID SLOTS", "lll");
	for (int i = 0; i < n; i++) {
		size_t used = 0;

		slots[0] = '\0';
		for (int b = 0; b < PGXR_MAX_BACKENDS; b++)
			if (r[i].counts[b])
				used += snprintf(slots + used, sizeof(slots) - used, "%s%d=%u",
						 used ? " " : "", b, r[i].counts[b]);
		if (r[i].empty)
			snprintf(slots + used, sizeof(slots) - used, "%sempty=%u", used ? " " : "",
				 r[i].empty);
		table_cell(&t, "%u", r[i].svc);
		table_cell(&t, "%u", r[i].map_id);
		table_cell(&t, "%s", slots);
	}
	return table_show(&t);
}

static void map_rings_json(const struct map_ring *r, int n)
{
	struct json j;

	json_init(&j, stdout, pretty_output);
	json_array_begin(&j);
	for (int i = 0; i < n; i++) {
		json_object_begin(&j);
		json_kv_u64(&j, "key", r[i].svc);
		json_kv_u64(&j, "map_id", r[i].map_id);
		json_key(&j, "slots");
		json_array_begin(&j);
		for (int b = 0; b < PGXR_MAX_BACKENDS; b++) {
			if (!r[i].counts[b])
				continue;
			json_object_begin(&j);
			json_kv_u64(&j, "backend", b);
			json_kv_u64(&j, "count", r[i].counts[b]);
			json_object_end(&j);
		}
		json_array_end(&j);
		json_kv_u64(&j, "empty", r[i].empty);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_finish(&j);
}

static int map_dump_rings(const struct dataplane *dp)
{
	struct map_ring r[PGXR_MAX_SERVICES];
	int n = 0, ret;

	for (__u32 svc = 0; svc < PGXR_MAX_SERVICES; svc++) {
		if (bpf_map_lookup_elem(dp->fd[DP_RINGS], &svc, &r[n].map_id)) {
			if (errno == ENOENT)
				continue;	/* no ring: a proxy service, or no service */
			ret = -errno;
			goto error;
		}
		/* a ring swapped in between the two lookups shows the newer contents */
		ret = service_ring_counts(dp, svc, r[n].counts, &r[n].empty);
		if (ret == -ENOENT)
			continue;
		if (ret)
			goto error;
		r[n++].svc = svc;
	}
	if (json_output) {
		map_rings_json(r, n);
		return 0;
	}
	return map_rings_plain(r, n);
error:
	p_err("could not read map \"rings\": %s", strerror(-ret));
	return ret;
}

static int map_dump_flows(const struct dataplane *dp)
{
	return flow_show(dp, SIZE_MAX);
}

/* what a stats map counts by: the verdict's name, else the service or backend id */
static void map_stats_key(enum dataplane_map map, __u32 key, char *buf, size_t len)
{
	if (map == DP_VERDICT_STATS)
		snprintf(buf, len, "%s", dataplane_verdict_name(key));
	else
		snprintf(buf, len, "%u", key);
}

static bool map_stats_zero(const struct pgxr_counters *c)
{
	return !c->packets && !c->bytes && !c->conns && !c->rsts && !c->retrans && !c->misses;
}

static int map_stats_plain(const struct map_stats *st)
{
	static const char *const header[DP_NMAPS] = {
		[DP_VERDICT_STATS] = "VERDICT PACKETS BYTES CONNS RSTS RETRANS MISSES",
		[DP_SVC_STATS] = "SERVICE PACKETS BYTES CONNS RSTS RETRANS MISSES",
		[DP_BACKEND_STATS] = "BACKEND PACKETS BYTES CONNS RSTS RETRANS MISSES",
	};
	struct table t;
	char key[32];

	table_init(&t, header[st->map], "lrrrrrr");
	for (__u32 k = 0; k < st->nkeys; k++) {
		const struct pgxr_counters *c = &st->sum[k];

		if (map_stats_zero(c))
			continue;
		map_stats_key(st->map, k, key, sizeof(key));
		table_cell(&t, "%s", key);
		table_cell(&t, "%llu", c->packets);
		table_cell(&t, "%llu", c->bytes);
		table_cell(&t, "%llu", c->conns);
		table_cell(&t, "%llu", c->rsts);
		table_cell(&t, "%llu", c->retrans);
		table_cell(&t, "%llu", c->misses);
	}
	return table_show(&t);
}

static void map_stats_json(const struct map_stats *st)
{
	struct json j;

	json_init(&j, stdout, pretty_output);
	json_array_begin(&j);
	for (__u32 k = 0; k < st->nkeys; k++) {
		json_object_begin(&j);
		json_kv_u64(&j, "key", k);
		if (st->map == DP_VERDICT_STATS)
			json_kv_string(&j, "verdict", dataplane_verdict_name(k));
		stats_counters_json(&j, &st->sum[k]);
		json_key(&j, "cpus");
		json_array_begin(&j);
		for (int c = 0; c < st->ncpu; c++) {
			json_object_begin(&j);
			stats_counters_json(&j, &st->cpu[k * st->ncpu + c]);
			json_object_end(&j);
		}
		json_array_end(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_finish(&j);
}

/* every key of a per-CPU stats map into st, summed over CPUs */
static int map_stats_read(const struct dataplane *dp, struct map_stats *st)
{
	struct bpf_map_info info;
	int ret;

	ret = map_info(dp->fd[st->map], &info);
	if (ret)
		return ret;
	st->ncpu = libbpf_num_possible_cpus();
	if (st->ncpu <= 0)
		return st->ncpu ? st->ncpu : -EINVAL;
	st->nkeys = info.max_entries;
	st->sum = calloc(st->nkeys, sizeof(*st->sum));
	st->cpu = calloc((size_t)st->nkeys * st->ncpu, sizeof(*st->cpu));
	if (!st->sum || !st->cpu)
		return -ENOMEM;
	for (__u32 k = 0; k < st->nkeys; k++) {
		ret = dataplane_counters(dp, st->map, k, &st->sum[k], &st->cpu[(size_t)k * st->ncpu]);
		if (ret)
			return ret;
	}
	return 0;
}

static int map_dump_stats(const struct dataplane *dp, enum dataplane_map map)
{
	struct map_stats st = { .map = map };
	int ret;

	ret = map_stats_read(dp, &st);
	if (ret) {
		p_err("could not read map \"%s\": %s", dataplane_map_names[map], strerror(-ret));
		goto cleanup;
	}
	if (json_output)
		map_stats_json(&st);
	else
		ret = map_stats_plain(&st);
cleanup:
	free(st.sum);
	free(st.cpu);
	return ret;
}

static int map_dump(int argc, char **argv)
{
	struct dataplane dp;
	int m, ret;

	if (argc != 1) {
		if (argc < 1)
			p_err("expected a map NAME");
		else
			p_err("unexpected argument \"%s\"", argv[1]);
		map_usage(stderr);
		return EXIT_USAGE;
	}
	m = match_name(argv[0], dataplane_map_names, DP_NMAPS, "map");
	if (m == -EINVAL)
		return EXIT_USAGE;
	if (m < 0) {
		p_err("unknown map \"%s\"", argv[0]);
		map_usage(stderr);
		return EXIT_USAGE;
	}
	if (pgxrctl_open(&dp))
		return EXIT_FAILURE;
	switch (m) {
	case DP_SERVICES:
		ret = map_dump_services(&dp);
		break;
	case DP_BACKENDS:
		ret = map_dump_backends(&dp);
		break;
	case DP_RINGS:
		ret = map_dump_rings(&dp);
		break;
	case DP_FLOWS:
		ret = map_dump_flows(&dp);
		break;
	default:
		ret = map_dump_stats(&dp, m);
		break;
	}
	dataplane_close(&dp);
	return ret ? EXIT_FAILURE : 0;
}

static const struct cmd map_cmds[] = {
	{ "list", map_list },
	{ "dump", map_dump },
	{ NULL, NULL },
};

int map_main(int argc, char **argv)
{
	return cmd_select(map_cmds, argc, argv, map_usage, "command");
}
