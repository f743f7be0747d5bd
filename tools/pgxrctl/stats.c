/* stats.c: "pgxrctl stats": the XDP program's counters per verdict, service and backend */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "pgxrctl.h"

/* everything stats show prints, read before printing so errors never cut output short */
struct stats {
	struct pgxr_counters verdicts[PGXR_V_MAX];
	struct svc_entry svcs[PGXR_MAX_SERVICES];
	struct pgxr_counters svc[PGXR_MAX_SERVICES];
	int nsvcs;
	struct pgxr_backend be[PGXR_MAX_BACKENDS];
	struct pgxr_counters backend[PGXR_MAX_BACKENDS];
};

static void stats_usage(FILE *out)
{
	fprintf(out,
		"Usage: pgxrctl stats [ show | help ]\n"
		"\n"
		"show (the default) prints the packet counters of the XDP program: per\n"
		"verdict (what it did with each packet), per service and per backend.\n"
		"A service's MISSES are segments (not SYNs) of no flow the program\n"
		"knew: flows evicted from its table, or begun through another router.\n");
}

/* the counters as members of the current JSON object */
void stats_counters_json(struct json *j, const struct pgxr_counters *c)
{
	json_kv_u64(j, "packets", c->packets);
	json_kv_u64(j, "bytes", c->bytes);
	json_kv_u64(j, "conns", c->conns);
	json_kv_u64(j, "rsts", c->rsts);
	json_kv_u64(j, "retrans", c->retrans);
	json_kv_u64(j, "misses", c->misses);
}

static int stats_read(const struct dataplane *dp, struct stats *s)
{
	int ret;

	for (__u32 v = 0; v < PGXR_V_MAX; v++) {
		ret = dataplane_counters(dp, DP_VERDICT_STATS, v, &s->verdicts[v], NULL);
		if (ret) {
			p_err("could not read map \"verdict_stats\": %s", strerror(-ret));
			return ret;
		}
	}
	s->nsvcs = service_read_all(dp, s->svcs);
	if (s->nsvcs < 0) {
		p_err("could not read map \"services\": %s", strerror(-s->nsvcs));
		return s->nsvcs;
	}
	for (int i = 0; i < s->nsvcs; i++) {
		ret = dataplane_counters(dp, DP_SVC_STATS, s->svcs[i].svc.id, &s->svc[i], NULL);
		if (ret) {
			p_err("could not read map \"svc_stats\": %s", strerror(-ret));
			return ret;
		}
	}
	ret = dataplane_read_backends(dp, s->be);
	if (ret) {
		p_err("could not read map \"backends\": %s", strerror(-ret));
		return ret;
	}
	for (__u32 i = 0; i < PGXR_MAX_BACKENDS; i++) {
		if (s->be[i].state == PGXR_BE_UNUSED)
			continue;
		ret = dataplane_counters(dp, DP_BACKEND_STATS, i, &s->backend[i], NULL);
		if (ret) {
			p_err("could not read map \"backend_stats\": %s", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* three tables, one per section, a blank line between them */
static int stats_show_plain(const struct stats *s)
{
	char addr[ADDRPORT_STRLEN];
	struct table t;
	int ret;

	table_init(&t, "VERDICT PACKETS BYTES", "lrr");
	for (__u32 v = 0; v < PGXR_V_MAX; v++) {
		table_cell(&t, "%s", dataplane_verdict_name(v));
		table_cell(&t, "%llu", s->verdicts[v].packets);
		table_cell(&t, "%llu", s->verdicts[v].bytes);
	}
	ret = table_show(&t);
	if (ret)
		return ret;

	putchar('\n');
	table_init(&t, "SERVICE KIND ADDRESS PACKETS BYTES CONNS MISSES", "lllrrrr");
	for (int i = 0; i < s->nsvcs; i++) {
		const struct svc_entry *e = &s->svcs[i];

		table_cell(&t, "%u", e->svc.id);
		table_cell(&t, "%s", dataplane_kind_name(e->svc.kind));
		table_cell(&t, "%s", addr_port_format(e->key.family, e->key.addr,
						      ntohs(e->key.port), addr, sizeof(addr)));
		table_cell(&t, "%llu", s->svc[i].packets);
		table_cell(&t, "%llu", s->svc[i].bytes);
		table_cell(&t, "%llu", s->svc[i].conns);
		table_cell(&t, "%llu", s->svc[i].misses);
	}
	ret = table_show(&t);
	if (ret)
		return ret;

	putchar('\n');
	table_init(&t, "BACKEND ADDRESS PACKETS BYTES CONNS RSTS RETRANS", "llrrrrr");
	for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
		if (s->be[i].state == PGXR_BE_UNUSED)
			continue;
		table_cell(&t, "%d", i);
		table_cell(&t, "%s", addr_port_format(s->be[i].family, s->be[i].addr,
						      s->be[i].port, addr, sizeof(addr)));
		table_cell(&t, "%llu", s->backend[i].packets);
		table_cell(&t, "%llu", s->backend[i].bytes);
		table_cell(&t, "%llu", s->backend[i].conns);
		table_cell(&t, "%llu", s->backend[i].rsts);
		table_cell(&t, "%llu", s->backend[i].retrans);
	}
	return table_show(&t);
}

static void stats_show_json(const struct stats *s)
{
	char addr[ADDR_STRLEN];
	struct json j;

	json_init(&j, stdout, pretty_output);
	json_object_begin(&j);

	json_key(&j, "verdicts");
	json_array_begin(&j);
	for (__u32 v = 0; v < PGXR_V_MAX; v++) {
		json_object_begin(&j);
		json_kv_u64(&j, "id", v);
		json_kv_string(&j, "verdict", dataplane_verdict_name(v));
		json_kv_u64(&j, "packets", s->verdicts[v].packets);
		json_kv_u64(&j, "bytes", s->verdicts[v].bytes);
		json_object_end(&j);
	}
	json_array_end(&j);

	json_key(&j, "services");
	json_array_begin(&j);
	for (int i = 0; i < s->nsvcs; i++) {
		const struct svc_entry *e = &s->svcs[i];

		json_object_begin(&j);
		json_kv_u64(&j, "id", e->svc.id);
		json_kv_string(&j, "kind", dataplane_kind_name(e->svc.kind));
		json_kv_string(&j, "vip", addr_format_raw(e->key.family, e->key.addr, addr,
							  sizeof(addr)));
		json_kv_u64(&j, "port", ntohs(e->key.port));
		stats_counters_json(&j, &s->svc[i]);
		json_object_end(&j);
	}
	json_array_end(&j);

	json_key(&j, "backends");
	json_array_begin(&j);
	for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
		if (s->be[i].state == PGXR_BE_UNUSED)
			continue;
		json_object_begin(&j);
		json_kv_u64(&j, "id", i);
		json_kv_string(&j, "address", addr_format_raw(s->be[i].family, s->be[i].addr,
							      addr, sizeof(addr)));
		json_kv_u64(&j, "port", s->be[i].port);
		json_kv_u64(&j, "packets", s->backend[i].packets);
		json_kv_u64(&j, "bytes", s->backend[i].bytes);
		json_kv_u64(&j, "conns", s->backend[i].conns);
		json_kv_u64(&j, "rsts", s->backend[i].rsts);
		json_kv_u64(&j, "retrans", s->backend[i].retrans);
		json_object_end(&j);
	}
	json_array_end(&j);

	json_object_end(&j);
	json_finish(&j);
}

static int stats_show(int argc, char **argv)
{
	/* about 10 KiB of counters and backends: kept off the stack */
	static struct stats s;
	int ret = EXIT_FAILURE;
	struct dataplane dp;

	if (args_none(argc, argv, stats_usage))
		return EXIT_USAGE;
	if (pgxrctl_open(&dp))
		return EXIT_FAILURE;
	if (stats_read(&dp, &s))
		goto cleanup;
	if (json_output)
		stats_show_json(&s);
	else if (stats_show_plain(&s))
		goto cleanup;
	ret = 0;
cleanup:
	dataplane_close(&dp);
	return ret;
}

static const struct cmd stats_cmds[] = {
	{ "show", stats_show },
	{ NULL, NULL },
};

int stats_main(int argc, char **argv)
{
	return cmd_select(stats_cmds, argc, argv, stats_usage, "command");
}
