/* show.c: the rows of pgpool's SHOW pool_nodes from the node store and the XDP counters */
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "node.h"
#include "show.h"

#include "version.h"

const char *const show_nodes_names[SHOW_NODES_COLS] = {
	"node_id", "hostname", "port", "status", "pg_status", "lb_weight", "role", "pg_role",
	"select_cnt", "load_balance_node", "replication_delay", "replication_state",
	"replication_sync_state", "last_status_change",
};

/* set by show_init(): ro_fallback_to_primary, and the counters */
static struct {
	const struct pgxr_config *cfg;
	const struct dataplane *dp;
} show;

void show_init(const struct pgxr_config *cfg, const struct dataplane *dp)
{
	show.cfg = cfg;
	show.dp = dp;
}

/* pgpool's lb_weight: the node's share of all weights */
double show_lb_weight(const struct node *n)
{
	double total = 0;

	for (int id = 0; id < PGXR_MAX_BACKENDS; id++)
		if (node_get(id))
			total += node_get(id)->cfg->weight;
	return total > 0 ? n->cfg->weight / total : 0;
}

/* in the ro ring: the rules of dataplane_members(), from pgxrd's view */
static bool show_load_balanced(const struct node *n)
{
	bool standby_in = false;

	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		const struct node *s = node_get(id);

		if (s && s->role == PGXR_ROLE_STANDBY && s->state == PGXR_BE_UP && !s->admin_down &&
		    !s->lagging && s->cfg->weight > 0)
			standby_in = true;
	}
	if (n->role == PGXR_ROLE_STANDBY)
		return n->state == PGXR_BE_UP && !n->admin_down && !n->lagging && n->cfg->weight > 0;
	return n->id == node_primary() && n->state == PGXR_BE_UP && !standby_in &&
	       show.cfg->ro_fallback_to_primary;
}

/*
 * Up to max rows of SHOW pool_nodes, one per configured node; select_cnt
 * counts the sessions XDP steered to it.  Returns how many.
 */
int show_nodes(struct show_node *rows, int max)
{
	int n = 0;

	for (int id = 0; id < PGXR_MAX_BACKENDS && n < max; id++) {
		const struct node *nd = node_get(id);
		struct pgxr_counters cnt = {};
		struct show_node *r = &rows[n];
		char (*t)[256] = r->text;

		if (!nd)
			continue;
		dataplane_counters(show.dp, DP_BACKEND_STATS, id, &cnt, NULL);
		r->id = id;
		r->lb_weight = show_lb_weight(nd);
		r->select_cnt = cnt.conns;
		r->load_balance_node = show_load_balanced(nd);
		r->replication_delay = nd->role == PGXR_ROLE_STANDBY ? nd->repl.lag_bytes : 0;
		snprintf(t[0], 256, "%d", id);
		snprintf(t[1], 256, "%s", nd->cfg->hostname);
		snprintf(t[2], 256, "%d", nd->cfg->port);
		snprintf(t[3], 256, "%s", node_state_name(nd));
		snprintf(t[4], 256, "%s", nd->pg_ok ? "up" : "down");
		snprintf(t[5], 256, "%f", r->lb_weight);
		snprintf(t[6], 256, "%s", dataplane_role_name(nd->role));
		snprintf(t[7], 256, "%s", nd->pg_ok ? dataplane_role_name(nd->pg.role) : "unknown");
		snprintf(t[8], 256, "%llu", (unsigned long long)r->select_cnt);
		snprintf(t[9], 256, "%s", r->load_balance_node ? "true" : "false");
		/* unknown (not streaming) is an empty cell, as pgpool prints it */
		if (r->replication_delay < 0)
			t[10][0] = '\0';
		else
			snprintf(t[10], 256, "%lld", r->replication_delay);
		snprintf(t[11], 256, "%s", nd->repl.found ? nd->repl.state : "");
		snprintf(t[12], 256, "%s", nd->repl.found ? nd->repl.sync_state : "");
		event_format_time(nd->status_change_us, t[13], 256);
		n++;
	}
	return n;
}

/* SHOW pool_version's one value */
const char *show_version(void)
{
	return PGXR_VERSION " (pgxr)";
}
