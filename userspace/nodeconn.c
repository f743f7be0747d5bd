/* nodeconn.c: connection parameters for a node: hostaddr (no DNS on the loop), credentials, timeouts */
#include <stdio.h>

#include "addr.h"
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
	const struct pgxr_config *cfg = nodeconn_cfg;
	const char *keys[16], *vals[16], *user, *password, *dbname;
	char port[8], hostaddr[ADDR_STRLEN], user_timeout[16];
	int i = 0;

	switch (cred) {
	case NODECONN_SR:
		user = cfg->sr_check_user;
		password = cfg->sr_check_password;
		dbname = cfg->sr_check_database;
		break;
	case NODECONN_RECOVERY:
		user = cfg->recovery_user;
		password = cfg->recovery_password;
		dbname = n->cfg->hc.database;
		break;
	default:
		user = n->cfg->hc.user;
		password = n->cfg->hc.password;
		dbname = n->cfg->hc.database;
		break;
	}
	snprintf(port, sizeof(port), "%d", n->cfg->port);
	snprintf(user_timeout, sizeof(user_timeout), "%d", 2 * timeout_ms);
	addr_format(&n->cfg->addr, hostaddr, sizeof(hostaddr));
	keys[i] = "host", vals[i++] = n->cfg->hostname;
	keys[i] = "hostaddr", vals[i++] = hostaddr;
	keys[i] = "port", vals[i++] = port;
	keys[i] = "user", vals[i++] = user;
	keys[i] = "dbname", vals[i++] = dbname;
	keys[i] = "application_name", vals[i++] = "pgxrd";
	keys[i] = "keepalives_idle", vals[i++] = "5";
	keys[i] = "tcp_user_timeout", vals[i++] = user_timeout;
	if (password[0])
		keys[i] = "password", vals[i++] = password;
	keys[i] = NULL, vals[i] = NULL;
	return pgq_connect(keys, vals, timeout_ms, on_broken, arg);
}
