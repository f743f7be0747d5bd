/* router.h: the services of the configuration, and the backends' MACs from the kernel */
#ifndef PGXR_ROUTER_H
#define PGXR_ROUTER_H

#include <linux/types.h>

#include "addr.h"
#include "config.h"
#include "dataplane.h"

int router_check_segment(const struct pgxr_config *cfg, const struct pgxr_config *live);
int router_check_merging(const struct pgxr_config *cfg, const char *mode);
int router_init(const struct pgxr_config *cfg, const struct dataplane *dp, int ifindex);
void router_neigh(int ifindex, const struct pgxr_addr *addr, const __u8 mac[6], void *arg);
void router_maintain(void *arg);

#endif /* PGXR_ROUTER_H */
