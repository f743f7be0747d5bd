/*
 * show.c: pgpool's SHOW pool_* answers as text tables, from the node
 * store, the XDP counters, the health checks and the configuration; the
 * proxy sends them as result sets, pgxrctl prints them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "health.h"
#include "node.h"
#include "proxy.h"
#include "show.h"

#include "version.h"

const char *const show_nodes_names[SHOW_NODES_COLS] = {
	"node_id", "hostname", "port", "status", "pg_status", "lb_weight", "role", "pg_role",
	"select_cnt", "load_balance_node", "replication_delay", "replication_state",
	"replication_sync_state", "last_status_change",
};

/* pgpool 4.4's columns of SHOW pool_pools and pool_processes, in its order */
const char *const show_pools_names[SHOW_POOLS_COLS] = {
	"pool_pid", "start_time", "client_connection_count", "pool_id", "backend_id", "database",
	"username", "backend_connection_time", "client_connection_time",
	"client_disconnection_time", "client_idle_duration", "majorversion", "minorversion",
	"pool_counter", "pool_backendpid", "pool_connected", "status",
};
const char *const show_processes_names[SHOW_PROCESSES_COLS] = {
	"pool_pid", "start_time", "client_connection_count", "database", "username",
	"backend_connection_time", "pool_counter", "status",
};
static const char *const show_health_names[] = {
	"node_id", "hostname", "port", "status", "role", "last_status_change", "total_count",
	"success_count", "fail_count", "skip_count", "retry_count", "average_retry_count",
	"max_retry_count", "max_duration", "min_duration", "average_duration",
	"last_health_check", "last_successful_health_check", "last_skip_health_check",
	"last_failed_health_check",
};
static const char *const show_backend_names[] = {
	"node_id", "hostname", "port", "status", "role", "select_cnt", "insert_cnt", "update_cnt",
	"delete_cnt", "ddl_cnt", "other_cnt", "panic_cnt", "fatal_cnt", "error_cnt",
};
static const char *const show_status_names[] = { "item", "value", "description" };

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
 * counts the SELECTs the proxy ran on it and the sessions XDP steered to
 * it (whose statements pgxr does not see).  Returns how many.
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
		r->select_cnt = cnt.conns + proxy_selects(id);
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

void show_table_init(struct show_table *t, const char *const *names, int ncols)
{
	memset(t, 0, sizeof(*t));
	t->names = names;
	t->ncols = ncols;
}

/* a row of ncols cells, copied */
void show_table_row(struct show_table *t, const char *const *cells)
{
	char **grown = realloc(t->cells, (size_t)(t->nrows + 1) * t->ncols * sizeof(*grown));

	if (!grown) {
		t->failed = true;
		return;
	}
	t->cells = grown;
	for (int c = 0; c < t->ncols; c++) {
		char **cell = &t->cells[(size_t)t->nrows * t->ncols + c];

		*cell = cells[c] ? strdup(cells[c]) : NULL;
		if (cells[c] && !*cell)
			t->failed = true;
	}
	t->nrows++;
}

void show_table_free(struct show_table *t)
{
	for (size_t i = 0; i < (size_t)t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

/* RowDescription and a DataRow per row: a result set of text columns */
void show_table_encode(const struct show_table *t, struct pgproto_buf *o)
{
	pgproto_row_description(o, t->names, t->ncols);
	for (int r = 0; r < t->nrows; r++)
		pgproto_data_row(o, (const char *const *)&t->cells[(size_t)r * t->ncols], t->ncols);
}

/* a wall-clock time as pgpool prints it; 0: never, an empty cell */
void show_time(long long wall_ms, char *out, size_t len)
{
	time_t sec = wall_ms / 1000;
	struct tm tm;

	if (!wall_ms || !localtime_r(&sec, &tm) || !strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm))
		out[0] = '\0';
}

/* which counter of pool_backend_stats a CommandComplete tag goes to */
enum show_count show_count_tag(const char *tag)
{
	static const struct {
		const char *word;
		enum show_count c;
	} words[] = {
		{ "SELECT", SHOW_CNT_SELECT }, { "INSERT", SHOW_CNT_INSERT },
		{ "UPDATE", SHOW_CNT_UPDATE }, { "DELETE", SHOW_CNT_DELETE },
		{ "CREATE", SHOW_CNT_DDL }, { "ALTER", SHOW_CNT_DDL }, { "DROP", SHOW_CNT_DDL },
		{ "TRUNCATE", SHOW_CNT_DDL }, { "COMMENT", SHOW_CNT_DDL },
		{ "GRANT", SHOW_CNT_DDL }, { "REVOKE", SHOW_CNT_DDL },
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t n = strlen(words[i].word);

		if (!strncmp(tag, words[i].word, n) && (tag[n] == ' ' || !tag[n]))
			return words[i].c;
	}
	return SHOW_CNT_OTHER;
}

void show_version_table(struct show_table *t)
{
	static const char *const names[] = { "pool_version" };
	const char *v[] = { show_version() };

	show_table_init(t, names, 1);
	show_table_row(t, v);
}

void show_nodes_table(struct show_table *t)
{
	static struct show_node rows[PGXR_MAX_BACKENDS];
	int n = show_nodes(rows, PGXR_MAX_BACKENDS);

	show_table_init(t, show_nodes_names, SHOW_NODES_COLS);
	for (int i = 0; i < n; i++) {
		const char *v[SHOW_NODES_COLS];

		for (int c = 0; c < SHOW_NODES_COLS; c++)
			v[c] = rows[i].text[c];
		show_table_row(t, v);
	}
}

static void show_status_row(const char *item, const char *value, const char *desc, void *arg)
{
	const char *v[] = { item, value, desc };

	show_table_row(arg, v);
}

/* every parameter pgxr reads, its value and what it is for */
void show_status(struct show_table *t)
{
	show_table_init(t, show_status_names, 3);
	config_describe(show.cfg, show_status_row, t);
}

/* the columns pool_health_check_stats and pool_backend_stats share with pool_nodes */
static void show_node_cells(const struct node *nd, char cells[][256])
{
	snprintf(cells[0], 256, "%d", nd->id);
	snprintf(cells[1], 256, "%s", nd->cfg->hostname);
	snprintf(cells[2], 256, "%d", nd->cfg->port);
	snprintf(cells[3], 256, "%s", node_state_name(nd));
	snprintf(cells[4], 256, "%s", dataplane_role_name(nd->role));
}

/* each node's health checks: each probe is one check, each retry after a failure one more */
void show_health(struct show_table *t)
{
	enum { N = sizeof(show_health_names) / sizeof(show_health_names[0]) };

	show_table_init(t, show_health_names, N);
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		const struct node *nd = node_get(id);
		const struct health_stats *st = health_stats_of(id);
		char c[N][256];
		const char *v[N];

		if (!nd || !st)
			continue;
		show_node_cells(nd, c);
		event_format_time(nd->status_change_us, c[5], 256);
		snprintf(c[6], 256, "%llu", st->total);
		snprintf(c[7], 256, "%llu", st->success);
		snprintf(c[8], 256, "%llu", st->fail);
		snprintf(c[9], 256, "0");	/* pgxr checks a down node too: it skips none */
		snprintf(c[10], 256, "%llu", st->retry);
		snprintf(c[11], 256, "%f", st->total ? (double)st->retry / st->total : 0.0);
		snprintf(c[12], 256, "%d", st->max_retry);
		snprintf(c[13], 256, "%lld", st->dur_max);
		snprintf(c[14], 256, "%lld", st->dur_min);
		snprintf(c[15], 256, "%f", st->total ? (double)st->dur_sum / st->total : 0.0);
		show_time(st->last, c[16], 256);
		show_time(st->last_ok, c[17], 256);
		c[18][0] = '\0';
		show_time(st->last_fail, c[19], 256);
		for (int i = 0; i < N; i++)
			v[i] = c[i];
		show_table_row(t, v);
	}
}

/* each node's statements and errors, as the proxy saw the servers answer them */
void show_backend_stats(struct show_table *t, unsigned long long (*counts)[SHOW_CNT_N])
{
	enum { N = sizeof(show_backend_names) / sizeof(show_backend_names[0]) };

	show_table_init(t, show_backend_names, N);
	for (int id = 0; id < PGXR_MAX_BACKENDS; id++) {
		const struct node *nd = node_get(id);
		char c[N][256];
		const char *v[N];

		if (!nd)
			continue;
		show_node_cells(nd, c);
		for (int k = 0; k < SHOW_CNT_N; k++)
			snprintf(c[5 + k], 64, "%llu", counts[id][k]);
		for (int i = 0; i < N; i++)
			v[i] = c[i];
		show_table_row(t, v);
	}
}
