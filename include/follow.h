/* follow.h: re-pointing a standby at a new primary (follow_primary, follow_primary_command) */
#ifndef PGXR_FOLLOW_H
#define PGXR_FOLLOW_H

#include <stddef.h>

struct node;
struct pgxr_config;

/* standby follows the new primary (status 0), or could not (-errno) */
typedef void (*follow_cb)(int standby, int status, void *arg);

void follow_init(const struct pgxr_config *cfg);
int follow_start(struct node *standby, struct node *primary, int old_primary, follow_cb cb,
		 void *arg);
int follow_upstream(struct node *standby, struct node *upstream, follow_cb cb, void *arg);
void follow_cancel_all(void);

#endif /* PGXR_FOLLOW_H */
