/* proxy.h: the protocol-level proxy on proxy_port: worker threads, sessions to the primary, pgxr's own authentication */
#ifndef PGXR_PROXY_H
#define PGXR_PROXY_H

#include "config.h"

struct show_table;

int proxy_start(const struct pgxr_config *cfg);
int proxy_auth_load(const struct pgxr_config *cfg);
void proxy_maintain(void *arg);
void proxy_stop(void);
void proxy_processes(struct show_table *t);
void proxy_pools(struct show_table *t);
unsigned long long proxy_selects(int node);

#endif /* PGXR_PROXY_H */
