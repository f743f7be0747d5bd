/* probe.c: asks a backend whether it is in recovery (SELECT pg_is_in_recovery()) */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "probe.h"

/*
 * Returns PGXR_ROLE_PRIMARY or PGXR_ROLE_STANDBY, or a negative value with
 * the reason in err.  Blocking, bounded by health_check_timeout: it runs
 * once at start, before the event loop.
 */
int probe_role(const struct pgxr_config *cfg, int id, char *err, size_t errlen)
{
	const struct cfg_backend *b = &cfg->backends[id];
	char port[8], timeout[16], hostaddr[ADDR_STRLEN];
	const char *keys[10], *vals[10];
	PGresult *res = NULL;
	PGconn *conn;
	int n = 0, ret = -1;

	snprintf(port, sizeof(port), "%d", b->port);
	snprintf(timeout, sizeof(timeout), "%d", cfg->health_check_timeout);
	keys[n] = "host", vals[n++] = b->hostname;
	keys[n] = "hostaddr", vals[n++] = addr_format(&b->addr, hostaddr, sizeof(hostaddr));
	keys[n] = "port", vals[n++] = port;
	keys[n] = "user", vals[n++] = cfg->health_check_user;
	keys[n] = "dbname", vals[n++] = cfg->health_check_database;
	keys[n] = "connect_timeout", vals[n++] = timeout;
	keys[n] = "application_name", vals[n++] = "pgxrd";
	/* without a password libpq falls back to PGPASSFILE or ~/.pgpass */
	if (cfg->health_check_password[0])
		keys[n] = "password", vals[n++] = cfg->health_check_password;
	keys[n] = NULL, vals[n] = NULL;

	err[0] = '\0';
	conn = PQconnectdbParams(keys, vals, 0);
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		goto cleanup;
	}
	res = PQexec(conn, "SELECT pg_is_in_recovery()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		goto cleanup;
	}
	ret = !strcmp(PQgetvalue(res, 0, 0), "t") ? PGXR_ROLE_STANDBY : PGXR_ROLE_PRIMARY;
cleanup:
	/* libpq messages end in a newline; log lines must not */
	err[strcspn(err, "\n")] = '\0';
	PQclear(res);
	PQfinish(conn);
	return ret;
}
