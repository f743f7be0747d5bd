/* backend.c: "pgxrctl backend": the PostgreSQL nodes, their state, and an operator's up/down */
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "pgxrctl.h"

const struct flag_name backend_flag_names[] = {
	{ PGXR_BE_F_LOCAL, "local" },
	{ PGXR_BE_F_ADMIN_DOWN, "admin-down" },
	{ PGXR_BE_F_LAGGING, "lagging" },
	{ PGXR_BE_F_IPIP, "ipip" },
	{ 0, NULL },
};

static void backend_usage(FILE *out)
{
	fprintf(out,
		"Usage: pgxrctl backend { list | help }\n"
		"       pgxrctl backend set ID { up | down }\n"
		"\n"
		"       ID := node id of the backend (N of pgpool's backend_hostnameN)\n"
		"\n"
		"list shows each backend's MAC as the program forwards to it; \"unresolved\"\n"
		"means the kernel has not resolved it yet, and packets steered to that\n"
		"backend are dropped (drop_no_neigh) until it has.\n"
		"\n"
		"set ID down takes the backend out of the rings, then marks it down by an\n"
		"operator (admin-down, which a restarted pgxrd keeps); packets of its\n"
		"established flows are answered with a TCP RST.  set ID up clears that and\n"
		"marks it up; the rings its role qualifies it for take it back in.  With\n"
		"pgxrd running this is \"node detach\" and \"node attach\", done by pgxrd.\n");
}

static int backend_list_plain(const struct pgxr_backend *be, const struct pgxr_counters *c)
{
	char addr[ADDR_STRLEN], mac[24], flags[64];
	struct table t;

	table_init(&t, "ID ADDRESS PORT STATE ROLE WEIGHT MAC FLAGS CONNS PACKETS BYTES RSTS RETRANS",
		   "llrllrllrrrrr");
	for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
		if (be[i].state == PGXR_BE_UNUSED)
			continue;
		table_cell(&t, "%d", i);
		table_cell(&t, "%s", addr_format_raw(be[i].family, be[i].addr, addr, sizeof(addr)));
		table_cell(&t, "%u", be[i].port);
		table_cell(&t, "%s", dataplane_state_name(be[i].state));
		table_cell(&t, "%s", dataplane_role_name(be[i].role));
		table_cell(&t, "%g", be[i].weight / 1000.0);
		mac_format(be[i].mac, mac, sizeof(mac));
		/* XDP drops what is steered to it until the kernel resolves it */
		if (!strcmp(mac, "-") && !(be[i].flags & PGXR_BE_F_LOCAL))
			snprintf(mac, sizeof(mac), "unresolved");
		table_cell(&t, "%s", mac);
		table_cell(&t, "%s", flags_format(be[i].flags, backend_flag_names, flags,
						  sizeof(flags)));
		table_cell(&t, "%llu", c[i].conns);
		table_cell(&t, "%llu", c[i].packets);
		table_cell(&t, "%llu", c[i].bytes);
		table_cell(&t, "%llu", c[i].rsts);
		table_cell(&t, "%llu", c[i].retrans);
	}
	return table_show(&t);
}

static void backend_list_json(const struct pgxr_backend *be, const struct pgxr_counters *c)
{
	char addr[ADDR_STRLEN], mac[24];
	struct json j;

	json_init(&j, stdout, pretty_output);
	json_array_begin(&j);
	for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
		if (be[i].state == PGXR_BE_UNUSED)
			continue;
		json_object_begin(&j);
		json_kv_u64(&j, "id", i);
		json_kv_string(&j, "address", addr_format_raw(be[i].family, be[i].addr, addr,
							      sizeof(addr)));
		json_kv_u64(&j, "port", be[i].port);
		json_kv_string(&j, "state", dataplane_state_name(be[i].state));
		json_kv_string(&j, "role", dataplane_role_name(be[i].role));
		json_kv_double(&j, "weight", be[i].weight / 1000.0);
		json_key(&j, "mac");
		mac_format(be[i].mac, mac, sizeof(mac));
		if (strcmp(mac, "-"))
			json_string(&j, mac);
		else
			json_null(&j);
		json_key(&j, "flags");
		flags_json(&j, be[i].flags, backend_flag_names);
		stats_counters_json(&j, &c[i]);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_finish(&j);
}

static int backend_list(int argc, char **argv)
{
	struct pgxr_backend be[PGXR_MAX_BACKENDS];
	struct pgxr_counters c[PGXR_MAX_BACKENDS] = {};
	int err, ret = EXIT_FAILURE;
	struct dataplane dp;

	if (args_none(argc, argv, backend_usage))
		return EXIT_USAGE;
	if (pgxrctl_open(&dp))
		return EXIT_FAILURE;
	err = dataplane_read_backends(&dp, be);
	if (err) {
		p_err("could not read map \"backends\": %s", strerror(-err));
		goto cleanup;
	}
	for (__u32 i = 0; i < PGXR_MAX_BACKENDS; i++) {
		if (be[i].state == PGXR_BE_UNUSED)
			continue;
		err = dataplane_counters(&dp, DP_BACKEND_STATS, i, &c[i], NULL);
		if (err) {
			p_err("could not read map \"backend_stats\": %s", strerror(-err));
			goto cleanup;
		}
	}
	if (json_output)
		backend_list_json(be, c);
	else if (backend_list_plain(be, c))
		goto cleanup;
	ret = 0;
cleanup:
	dataplane_close(&dp);
	return ret;
}

static int backend_set(int argc, char **argv)
{
	struct pgxr_backend be;
	int err, ret = EXIT_FAILURE;
	struct dataplane dp;
	struct json j;
	bool up;
	__u32 id;

	if (argc != 2) {
		if (argc < 2)
			p_err("expected a backend ID and up or down");
		else
			p_err("unexpected argument \"%s\"", argv[2]);
		backend_usage(stderr);
		return EXIT_USAGE;
	}
	err = parse_u32(argv[0], &id);
	if (err == -EINVAL) {
		p_err("backend ID must be a decimal integer, not \"%s\"", argv[0]);
		backend_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "up")) {
		up = true;
	} else if (!strcmp(argv[1], "down")) {
		up = false;
	} else {
		p_err("expected up or down, not \"%s\"", argv[1]);
		backend_usage(stderr);
		return EXIT_USAGE;
	}
	/* beyond the map no backend can be configured: no need to look */
	if (err || id >= PGXR_MAX_BACKENDS) {
		p_err("backend %s is not configured", argv[0]);
		return EXIT_FAILURE;
	}
	/*
	 * A running pgxrd owns the backend entries: it is asked, so that its
	 * state machine and the maps agree.  Without it the map is written.
	 */
	ret = node_request("node", up ? "attach" : "detach", argv[0], true, backend_usage);
	if (ret != -ECONNREFUSED) {
		if (!ret && json_output) {
			json_init(&j, stdout, pretty_output);
			json_null(&j);
			json_finish(&j);
		}
		return ret;
	}
	ret = EXIT_FAILURE;
	if (pgxrctl_open(&dp))
		return EXIT_FAILURE;
	if (bpf_map_lookup_elem(dp.fd[DP_BACKENDS], &id, &be)) {
		p_err("could not read backend %u: %s", id, strerror(errno));
		goto cleanup;
	}
	if (be.state == PGXR_BE_UNUSED) {
		p_err("backend %u is not configured", id);
		goto cleanup;
	}
	/*
	 * A fenced backend claims to be primary without being the chosen one:
	 * routing it could split writes over two primaries.  Only a rejoin as a
	 * standby (pgxrd) lifts a fence; an operator's down keeps it fenced.
	 */
	if (be.state == PGXR_BE_FENCED && up) {
		p_err("backend %u is fenced (a primary that is not the chosen one); it cannot be set up",
		      id);
		goto cleanup;
	}
	if (up) {
		be.state = PGXR_BE_UP;
		be.flags &= ~PGXR_BE_F_ADMIN_DOWN;
	} else {
		if (be.state != PGXR_BE_FENCED)
			be.state = PGXR_BE_DOWN;
		be.flags |= PGXR_BE_F_ADMIN_DOWN;
	}
	/* it orders the ring swaps and the state write so no new SYN reaches a leaver */
	err = dataplane_set_backend(&dp, id, &be);
	if (err) {
		p_err("could not set backend %u %s: %s", id, argv[1], strerror(-err));
		goto cleanup;
	}
	if (json_output) {
		json_init(&j, stdout, pretty_output);
		json_null(&j);
		json_finish(&j);
	}
	ret = 0;
cleanup:
	dataplane_close(&dp);
	return ret;
}

static const struct cmd backend_cmds[] = {
	{ "list", backend_list },
	{ "set", backend_set },
	{ NULL, NULL },
};

int backend_main(int argc, char **argv)
{
	return cmd_select(backend_cmds, argc, argv, backend_usage, "command");
}
