/* syncrep.h: synchronous_standby_names on the primary, when pgxr manages it (synchronous_mode) */
#ifndef PGXR_SYNCREP_H
#define PGXR_SYNCREP_H

struct node;

void syncrep_set(struct node *primary, const char *names);
void syncrep_forget(void);

#endif /* PGXR_SYNCREP_H */
