/* service.c: "pgxrctl service": the (VIP, port)s the XDP program steers, and their rings */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "pgxrctl.h"

const struct flag_name service_flag_names[] = {
	{ PGXR_SVC_F_RO_FALLBACK, "ro-fallback" },
	{ 0, NULL },
};

static void service_usage(FILE *out)
{
	fprintf(out,
		"Usage: pgxrctl service { list | help }\n"
		"\n"
		"list shows each service with the share of its Maglev ring that each\n"
		"backend holds; new connections are spread in those proportions.\n");
}

static int service_cmp(const void *a, const void *b)
{
	const struct svc_entry *x = a, *y = b;

	if (x->svc.id != y->svc.id)
		return x->svc.id < y->svc.id ? -1 : 1;
	return ntohs(x->key.port) - ntohs(y->key.port);
}

/* the services map into out[PGXR_MAX_SERVICES], sorted by id; the count or -errno */
int service_read_all(const struct dataplane *dp, struct svc_entry *out)
{
	struct pgxr_svc_key key, *prev = NULL;
	int fd = dp->fd[DP_SERVICES], n = 0;

	/*
	 * The map holds at most PGXR_MAX_SERVICES entries; stopping there also
	 * ends a walk that a concurrent delete sent back to the first key.
	 */
	while (n < PGXR_MAX_SERVICES) {
		if (bpf_map_get_next_key(fd, prev, &key)) {
			if (errno == ENOENT)
				break;
			return -errno;
		}
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &out[n].svc)) {
			if (errno == ENOENT)
				continue;	/* deleted meanwhile */
			return -errno;
		}
		out[n++].key = key;
	}
	qsort(out, n, sizeof(*out), service_cmp);
	return n;
}

/*
 * Slots per backend id in the ring of svc_id into counts[PGXR_MAX_BACKENDS],
 * and slots without a backend into *empty.  -ENOENT when the service has
 * no ring (proxy, or pgxrd has not built it yet).
 */
int service_ring_counts(const struct dataplane *dp, __u32 svc_id, __u32 *counts, __u32 *empty)
{
	__u32 *ring;
	int ret;

	memset(counts, 0, PGXR_MAX_BACKENDS * sizeof(*counts));
	*empty = 0;
	ring = malloc(PGXR_RING_SIZE * sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	ret = dataplane_read_ring(dp, svc_id, ring);
	if (ret)
		goto cleanup;
	for (__u32 i = 0; i < PGXR_RING_SIZE; i++) {
		/* an id beyond the backends map would be a bug: counted as no backend */
		if (ring[i] < PGXR_MAX_BACKENDS)
			counts[ring[i]]++;
		else
			(*empty)++;
	}
cleanup:
	free(ring);
	return ret;
}

/* a share of the ring in percent, rounded to 0.1 as the plain output shows it */
static double service_share(__u32 slots)
{
	return (double)(long)(slots * 1000.0 / PGXR_RING_SIZE + 0.5) / 10;
}

static int service_list_plain(const struct svc_entry *s, int n,
			       __u32 (*counts)[PGXR_MAX_BACKENDS])
{
	char vip[ADDR_STRLEN], members[PGXR_MAX_BACKENDS * 20];
	struct table t;

	table_init(&t, "ID KIND VIP PORT BACKENDS", "lllrl");
	for (int i = 0; i < n; i++) {
		size_t used = 0;

		members[0] = '\0';
		if (s[i].svc.kind != PGXR_SVC_PROXY)
			for (int b = 0; b < PGXR_MAX_BACKENDS; b++)
				if (counts[i][b])
					used += snprintf(members + used, sizeof(members) - used,
							 "%s%d (%.1f%%)", used ? " " : "", b,
							 service_share(counts[i][b]));
		table_cell(&t, "%u", s[i].svc.id);
		table_cell(&t, "%s", dataplane_kind_name(s[i].svc.kind));
		table_cell(&t, "%s", addr_format_raw(s[i].key.family, s[i].key.addr, vip,
						     sizeof(vip)));
		table_cell(&t, "%u", ntohs(s[i].key.port));
		table_cell(&t, "%s", used ? members : "-");
	}
	return table_show(&t);
}

static void service_list_json(const struct svc_entry *s, int n,
			      __u32 (*counts)[PGXR_MAX_BACKENDS])
{
	char vip[ADDR_STRLEN];
	struct json j;

	json_init(&j, stdout, pretty_output);
	json_array_begin(&j);
	for (int i = 0; i < n; i++) {
		json_object_begin(&j);
		json_kv_u64(&j, "id", s[i].svc.id);
		json_kv_string(&j, "kind", dataplane_kind_name(s[i].svc.kind));
		json_kv_string(&j, "vip", addr_format_raw(s[i].key.family, s[i].key.addr, vip,
							  sizeof(vip)));
		json_kv_u64(&j, "port", ntohs(s[i].key.port));
		json_key(&j, "flags");
		flags_json(&j, s[i].svc.flags, service_flag_names);
		json_key(&j, "backends");
		json_array_begin(&j);
		for (int b = 0; s[i].svc.kind != PGXR_SVC_PROXY && b < PGXR_MAX_BACKENDS; b++) {
			if (!counts[i][b])
				continue;
			json_object_begin(&j);
			json_kv_u64(&j, "id", b);
			json_kv_u64(&j, "slots", counts[i][b]);
			json_kv_double(&j, "share", service_share(counts[i][b]));
			json_object_end(&j);
		}
		json_array_end(&j);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_finish(&j);
}

static int service_list(int argc, char **argv)
{
	__u32 counts[PGXR_MAX_SERVICES][PGXR_MAX_BACKENDS];
	struct svc_entry s[PGXR_MAX_SERVICES];
	int n, ret = EXIT_FAILURE;
	struct dataplane dp;
	__u32 empty;

	if (args_none(argc, argv, service_usage))
		return EXIT_USAGE;
	if (pgxrctl_open(&dp))
		return EXIT_FAILURE;
	n = service_read_all(&dp, s);
	if (n < 0) {
		p_err("could not read map \"services\": %s", strerror(-n));
		goto cleanup;
	}
	for (int i = 0; i < n; i++) {
		int err = 0;

		if (s[i].svc.kind != PGXR_SVC_PROXY)
			err = service_ring_counts(&dp, s[i].svc.id, counts[i], &empty);
		if (err == -ENOENT)
			memset(counts[i], 0, sizeof(counts[i]));
		else if (err) {
			p_err("could not read the ring of service %u: %s", s[i].svc.id,
			      strerror(-err));
			goto cleanup;
		}
	}
	if (json_output)
		service_list_json(s, n, counts);
	else if (service_list_plain(s, n, counts))
		goto cleanup;
	ret = 0;
cleanup:
	dataplane_close(&dp);
	return ret;
}

static const struct cmd service_cmds[] = {
	{ "list", service_list },
	{ NULL, NULL },
};

int service_main(int argc, char **argv)
{
	return cmd_select(service_cmds, argc, argv, service_usage, "command");
}
