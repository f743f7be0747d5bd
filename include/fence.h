/* fence.h: making a node refuse writes: read-only over SQL, a clean stop, fence_command; and undoing it */
#ifndef PGXR_FENCE_H
#define PGXR_FENCE_H

#include <stdbool.h>
#include <linux/types.h>

#include "config.h"

struct node;

/*
 * A fence step is over: status 0 or -errno, and msg.  lsn: after
 * fence_read_only() with a standby to keep, at or past every commit the
 * node acknowledged, flushed (a commit of pgxr's own forces it out);
 * without, its flush position once its clients are gone; after
 * fence_stop(), the end of its WAL (its shutdown checkpoint).
 */
typedef void (*fence_cb)(int status, __u64 lsn, const char *msg, void *arg);

void fence_init(const struct pgxr_config *cfg);
int fence_read_only(struct node *n, const struct node *keep, fence_cb cb, void *arg);
int fence_lift(struct node *n, fence_cb cb, void *arg);
int fence_stop(struct node *n, fence_cb cb, void *arg);
int fence_start(struct node *n, fence_cb cb, void *arg);
int fence_command(struct node *n, int primary, fence_cb cb, void *arg);
void fence_cancel_all(void);

#endif /* PGXR_FENCE_H */
