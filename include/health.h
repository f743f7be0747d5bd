/* health.h: health and replication checks of the nodes */
#ifndef PGXR_HEALTH_H
#define PGXR_HEALTH_H

#include "config.h"
#include "node.h"
#include "pgq.h"

int health_init(const struct pgxr_config *cfg);
void health_maintain(void *arg);
void health_check_now(struct node *n);
void health_sr_now(void);
struct pgq_conn *health_conn(const struct node *n);
void health_close(void);
struct pgq_conn *health_connect(const struct node *n, const char *user, const char *password,
				const char *dbname, pgq_broken_cb on_broken, void *arg);

#endif /* PGXR_HEALTH_H */
