/* flow.c: "pgxrctl flow": the client connections the XDP program has pinned to a backend */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "pgxrctl.h"

/* one entry of the flows map */
struct flow_entry {
	struct pgxr_flow_key key;
	struct pgxr_flow val;
};

static void flow_usage(FILE *out)
{
	fprintf(out,
		"Usage: pgxrctl flow { list [limit N] | help }\n"
		"\n"
		"list shows the client connections pinned to a backend, at most N of\n"
		"them with limit N.\n");
}

/*
 * Up to limit entries of the flows map into a new array *out; the count or
 * -errno.  The walk is bounded: the XDP program adds and evicts entries
 * while we read, and a key evicted under us sends get_next_key back to the
 * first one, so an unbounded walk might never end.
 */
static long flow_read(const struct dataplane *dp, size_t limit, struct flow_entry **out)
{
	struct pgxr_flow_key key, *prev = NULL;
	size_t n = 0, cap = 0, steps = 0;
	int fd = dp->fd[DP_FLOWS];
	struct flow_entry *e = NULL;
	long ret;

	if (limit > PGXR_MAX_FLOWS)
		limit = PGXR_MAX_FLOWS;
	while (n < limit && steps++ < 2 * (size_t)PGXR_MAX_FLOWS) {
		if (bpf_map_get_next_key(fd, prev, &key)) {
			if (errno == ENOENT)
				break;
			ret = -errno;
			goto cleanup;
		}
		prev = &key;
		if (n == cap) {
			struct flow_entry *grown;

			cap = cap ? 2 * cap : 256;
			grown = realloc(e, cap * sizeof(*e));
			if (!grown) {
				ret = -ENOMEM;
				goto cleanup;
			}
			e = grown;
		}
		if (bpf_map_lookup_elem(fd, &key, &e[n].val)) {
			if (errno == ENOENT)
				continue;	/* evicted meanwhile */
			ret = -errno;
			goto cleanup;
		}
		e[n++].key = key;
	}
	*out = e;
	return n;
cleanup:
	free(e);
	return ret;
}

static int flow_show_plain(const struct flow_entry *e, size_t n)
{
	char client[ADDRPORT_STRLEN], svc[ADDRPORT_STRLEN];
	struct table t;
	int ret;

	table_init(&t, "CLIENT SERVICE BACKEND", "lll");
	for (size_t i = 0; i < n; i++) {
		const struct pgxr_flow_key *k = &e[i].key;

		table_cell(&t, "%s", addr_port_format(k->family, k->src, ntohs(k->sport), client,
						      sizeof(client)));
		table_cell(&t, "%s", addr_port_format(k->family, k->dst, ntohs(k->dport), svc,
						      sizeof(svc)));
		table_cell(&t, "%u", e[i].val.backend);
	}
	ret = table_show(&t);
	if (!ret)
		printf("%zu flows\n", n);
	return ret;
}

static void flow_show_json(const struct flow_entry *e, size_t n)
{
	char addr[ADDR_STRLEN];
	struct json j;

	json_init(&j, stdout, pretty_output);
	json_array_begin(&j);
	for (size_t i = 0; i < n; i++) {
		const struct pgxr_flow_key *k = &e[i].key;

		json_object_begin(&j);
		json_kv_string(&j, "client", addr_format_raw(k->family, k->src, addr,
							     sizeof(addr)));
		json_kv_u64(&j, "client_port", ntohs(k->sport));
		json_kv_string(&j, "vip", addr_format_raw(k->family, k->dst, addr, sizeof(addr)));
		json_kv_u64(&j, "vip_port", ntohs(k->dport));
		json_kv_u64(&j, "service", e[i].val.svc);
		json_kv_u64(&j, "backend", e[i].val.backend);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_finish(&j);
}

/* the flows map as flow list shows it, for map dump flows too; 0 or -errno, reported */
int flow_show(const struct dataplane *dp, size_t limit)
{
	struct flow_entry *e = NULL;
	long n;
	int ret = 0;

	n = flow_read(dp, limit, &e);
	if (n < 0) {
		p_err("could not read map \"flows\": %s", strerror(-n));
		return n;
	}
	if (json_output)
		flow_show_json(e, n);
	else
		ret = flow_show_plain(e, n);
	free(e);
	return ret;
}

static int flow_list(int argc, char **argv)
{
	size_t limit = SIZE_MAX;
	struct dataplane dp;
	__u32 n = 0;
	int ret;

	if (argc >= 1 && !strcmp(argv[0], "limit")) {
		/* too large to parse is larger than the map: no limit */
		ret = argc < 2 ? -EINVAL : parse_u32(argv[1], &n);
		if (ret == -EINVAL || (!ret && !n)) {
			p_err("limit must be followed by a positive integer");
			flow_usage(stderr);
			return EXIT_USAGE;
		}
		if (!ret)
			limit = n;
		argc -= 2;
		argv += 2;
	}
	if (args_none(argc, argv, flow_usage))
		return EXIT_USAGE;
	if (pgxrctl_open(&dp))
		return EXIT_FAILURE;
	ret = flow_show(&dp, limit) ? EXIT_FAILURE : 0;
	dataplane_close(&dp);
	return ret;
}

static const struct cmd flow_cmds[] = {
	{ "list", flow_list },
	{ NULL, NULL },
};

int flow_main(int argc, char **argv)
{
	return cmd_select(flow_cmds, argc, argv, flow_usage, "command");
}
