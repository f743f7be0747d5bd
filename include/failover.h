/* failover.h: promotion of a standby when the primary is lost, and switchover */
#ifndef PGXR_FAILOVER_H
#define PGXR_FAILOVER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct node;
struct ctl_client;

void failover_init(const struct pgxr_config *cfg);
void failover_start(struct node *old, const char *why);
bool failover_active(void);
void failover_primary_seen(struct node *n);
void failover_standby_up(void);
void failover_primary_back(struct node *n);
void failover_primary_checked(struct node *n, long long started);
void failover_maintain(void *arg);
int failover_switchover(int id, struct ctl_client *waiter, char *err, size_t len);
int failover_command_line(const char *tmpl, int failed, int new_main, int old_primary, char *out,
			  size_t len);
const char *failover_status(void);

#endif /* PGXR_FAILOVER_H */
