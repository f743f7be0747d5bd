/* ha.h: the HA policy: who is primary, when to fail over, what a false primary gets */
#ifndef PGXR_HA_H
#define PGXR_HA_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "health.h"

/* an operator's request is over: status 0 and its report, or -errno and why */
typedef void (*ha_done_cb)(int status, const char *text, void *arg);

void ha_init(const struct pgxr_config *cfg);
void ha_health(const struct health_report *r);
void ha_maintain(void *arg);
void ha_reloaded(void);
void ha_close(void);

int ha_promote(int id, bool force, ha_done_cb cb, void *arg, char *err, size_t len);
int ha_rejoin(int id, ha_done_cb cb, void *arg, char *err, size_t len);
int ha_attach(int id, char *err, size_t len);
int ha_detach(int id, char *err, size_t len);
const char *ha_status(void);

#endif /* PGXR_HA_H */
