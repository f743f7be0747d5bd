/* show.h: pgpool's SHOW pool_* rows, built from what pgxrd knows: for pgxrctl and the proxy alike */
#ifndef PGXR_SHOW_H
#define PGXR_SHOW_H

#include <stdbool.h>
#include <linux/types.h>

#include "config.h"
#include "dataplane.h"
#include "pgproto.h"

struct node;

/* the columns of pgpool 4.4's SHOW pool_nodes, in its order */
#define SHOW_NODES_COLS 14
extern const char *const show_nodes_names[SHOW_NODES_COLS];

/* one row of SHOW pool_nodes, typed (JSON) and as pgpool prints it (text) */
struct show_node {
	int id;
	double lb_weight;
	__u64 select_cnt;
	bool load_balance_node;
	long long replication_delay;	/* -1: unknown */
	char text[SHOW_NODES_COLS][256];
};

/* a SHOW answer as text: column names, then rows of cells (NULL: SQL NULL) */
struct show_table {
	int ncols;
	const char *const *names;
	int nrows;
	char **cells;		/* nrows * ncols, row-major */
	bool failed;		/* out of memory: rows are missing */
};

/* what the proxy counts per node for SHOW pool_backend_stats, from the servers' answers */
enum show_count {
	SHOW_CNT_SELECT,
	SHOW_CNT_INSERT,
	SHOW_CNT_UPDATE,
	SHOW_CNT_DELETE,
	SHOW_CNT_DDL,
	SHOW_CNT_OTHER,
	SHOW_CNT_PANIC,
	SHOW_CNT_FATAL,
	SHOW_CNT_ERROR,
	SHOW_CNT_N,
};

extern const char *const show_pools_names[];
extern const char *const show_processes_names[];
#define SHOW_POOLS_COLS 17
#define SHOW_PROCESSES_COLS 8

void show_init(const struct pgxr_config *cfg, const struct dataplane *dp);
int show_nodes(struct show_node *rows, int max);
double show_lb_weight(const struct node *n);
const char *show_version(void);

void show_table_init(struct show_table *t, const char *const *names, int ncols);
void show_table_row(struct show_table *t, const char *const *cells);
void show_table_free(struct show_table *t);
void show_table_encode(const struct show_table *t, struct pgproto_buf *o);
void show_time(long long wall_ms, char *out, size_t len);
enum show_count show_count_tag(const char *tag);
void show_version_table(struct show_table *t);
void show_nodes_table(struct show_table *t);
void show_status(struct show_table *t);
void show_health(struct show_table *t);
void show_backend_stats(struct show_table *t, unsigned long long (*counts)[SHOW_CNT_N]);

#endif /* PGXR_SHOW_H */
