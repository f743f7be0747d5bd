/* nodeconn.c: connection parameters for a node: its address (no DNS on the loop), credentials, timeouts */
#include "node.h"
#include "nodeconn.h"

/* set by nodeconn_init(): the credentials of each purpose */
static const struct pgxr_config *nodeconn_cfg;

void nodeconn_init(const struct pgxr_config *cfg)
{
	nodeconn_cfg = cfg;
}

/* the node's health_check_timeout, in ms: the bound of every short query to it */
int nodeconn_timeout_ms(const struct node *n)
{
	return n->cfg->hc.timeout * 1000;
}

/*
 * A connection to n; the whole attempt is bounded by timeout_ms.  Once
 * connected, pgq's query deadlines decide; TCP_USER_TIMEOUT at twice
 * that only makes sure the kernel gives up on a socket nobody reads.
 */
struct pgq_conn *nodeconn_open(const struct node *n, enum nodeconn_cred cred, int timeout_ms,
			       pgq_broken_cb on_broken, void *arg)
{
	return nodeconn_open_db(n, cred, NULL, timeout_ms, on_broken, arg);
}

/* the same, to database dbname (NULL: the purpose's own) */
struct pgq_conn *nodeconn_open_db(const struct node *n, enum nodeconn_cred cred, const char *dbname,
				  int timeout_ms, pgq_broken_cb on_broken, void *arg)
{
	const struct pgxr_config *cfg = nodeconn_cfg;
	struct pgq_params p = { .host = n->cfg->hostname, .addr = n->cfg->addr, .port = n->cfg->port,
				  .application_name = "pgxrd", .keepalive_idle_s = 5,
				  .user_timeout_ms = 2 * timeout_ms };

	switch (cred) {
	case NODECONN_SR:
		p.user = cfg->sr_check_user;
		p.password = cfg->sr_check_password;
		p.dbname = cfg->sr_check_database;
		break;
	case NODECONN_RECOVERY:
		p.user = cfg->recovery_user;
		p.password = cfg->recovery_password;
		p.dbname = n->cfg->hc.database;
		break;
	default:
		p.user = n->cfg->hc.user;
		p.password = n->cfg->hc.password;
		p.dbname = n->cfg->hc.database;
		break;
	}
	if (dbname)
		p.dbname = dbname;
	return pgq_connect(&p, timeout_ms, on_broken, arg);
}
