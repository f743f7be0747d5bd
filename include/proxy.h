/* proxy.h: the protocol-level proxy on proxy_port: worker threads, sessions to the primary, pgxr's own authentication */
#ifndef PGXR_PROXY_H
#define PGXR_PROXY_H

#include "config.h"

int proxy_start(const struct pgxr_config *cfg);
int proxy_auth_load(const struct pgxr_config *cfg);
void proxy_maintain(void *arg);
void proxy_stop(void);

#endif /* PGXR_PROXY_H */
