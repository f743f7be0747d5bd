/* nodeconn.h: control connections from pgxrd to a node, with the credentials of one purpose */
#ifndef PGXR_NODECONN_H
#define PGXR_NODECONN_H

#include "config.h"
#include "pgq.h"

struct node;

enum nodeconn_cred {
	NODECONN_HEALTH,	/* health_check_user(N): checks, promotion, fencing, follow */
	NODECONN_SR,		/* sr_check_user: the replication check */
	NODECONN_RECOVERY,	/* recovery_user: rejoin's source */
};

void nodeconn_init(const struct pgxr_config *cfg);
struct pgq_conn *nodeconn_open(const struct node *n, enum nodeconn_cred cred, int timeout_ms,
			       pgq_broken_cb on_broken, void *arg);
struct pgq_conn *nodeconn_open_db(const struct node *n, enum nodeconn_cred cred, const char *dbname,
				  int timeout_ms, pgq_broken_cb on_broken, void *arg);
int nodeconn_timeout_ms(const struct node *n);

#endif /* PGXR_NODECONN_H */
