/* rejoin.h: turning a fenced or stopped node into a standby of the current primary */
#ifndef PGXR_REJOIN_H
#define PGXR_REJOIN_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* the node was stopped cleanly by a switchover: no pg_rewind */
#define REJOIN_CLEAN 0x1

/* node id streams from the primary (status 0), or the step in msg failed */
typedef void (*rejoin_cb)(int id, int status, const char *msg, void *arg);

void rejoin_init(const struct pgxr_config *cfg);
int rejoin_start(int id, int primary, unsigned flags, rejoin_cb cb, void *arg, char *err,
		 size_t len);
bool rejoin_waiting(void);
int rejoin_node(void);
void rejoin_maintain(void *arg);

#endif /* PGXR_REJOIN_H */
