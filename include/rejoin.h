/* rejoin.h: turning a fenced old primary into a standby of the current primary */
#ifndef PGXR_REJOIN_H
#define PGXR_REJOIN_H

#include <stddef.h>

#include "config.h"

struct ctl_client;

void rejoin_init(const struct pgxr_config *cfg);
int rejoin_start(int id, struct ctl_client *waiter, char *err, size_t len);
void rejoin_maintain(void *arg);

#endif /* PGXR_REJOIN_H */
