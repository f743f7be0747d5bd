/* follow.h: re-pointing a standby at a new primary (follow_primary) */
#ifndef PGXR_FOLLOW_H
#define PGXR_FOLLOW_H

#include <stddef.h>

struct node;
struct pgxr_config;

void follow_init(const struct pgxr_config *cfg);
void follow_primary(struct node *standby, struct node *primary);
int follow_conninfo(const char *old, const struct node *primary, char *out, size_t len);

#endif /* PGXR_FOLLOW_H */
