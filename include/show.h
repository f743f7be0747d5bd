/* show.h: pgpool's SHOW pool_* rows, built from what pgxrd knows: for pgxrctl and the proxy alike */
#ifndef PGXR_SHOW_H
#define PGXR_SHOW_H

#include <stdbool.h>
#include <linux/types.h>

#include "config.h"
#include "dataplane.h"

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

void show_init(const struct pgxr_config *cfg, const struct dataplane *dp);
int show_nodes(struct show_node *rows, int max);
double show_lb_weight(const struct node *n);
const char *show_version(void);

#endif /* PGXR_SHOW_H */
