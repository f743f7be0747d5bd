/* pgq.h: asynchronous PostgreSQL connections of the control plane on the event loop: login, simple queries, results */
#ifndef PGXR_PGQ_H
#define PGXR_PGQ_H

#include <stdbool.h>

#include "addr.h"

struct pgq_conn;
struct pgq_result;

/* where and as whom a connection logs in */
struct pgq_params {
	const char *host;		/* the node's name: verify-full and the passfile match it */
	struct pgxr_addr addr;		/* where to connect: no DNS on the loop */
	int port;
	const char *user, *dbname;
	const char *password;		/* "" or NULL: the passfile's, if the server asks */
	const char *application_name;
	int keepalive_idle_s;		/* 0: the kernel's */
	int user_timeout_ms;		/* TCP_USER_TIMEOUT; 0: the kernel's */
};

/*
 * A query's outcome: res on success (freed by pgq after the call), or NULL
 * and err.  err is one line; a server's error ends with "(SQLSTATE XXXXX)".
 */
typedef void (*pgq_result_cb)(const struct pgq_result *res, const char *err, void *arg);
/* the connection failed or was lost; called once, after pending queries failed */
typedef void (*pgq_broken_cb)(struct pgq_conn *c, const char *err, void *arg);

struct pgq_conn *pgq_connect(const struct pgq_params *p, int timeout_ms, pgq_broken_cb on_broken,
			     void *arg);
int pgq_query(struct pgq_conn *c, const char *sql, int timeout_ms, pgq_result_cb cb, void *arg);
bool pgq_ready(const struct pgq_conn *c);
bool pgq_broken(const struct pgq_conn *c);
void pgq_close(struct pgq_conn *c);
void pgq_close_failing(struct pgq_conn *c, const char *why);
void pgq_maintain(void *arg);
bool pgq_error_sqlstate(const char *err, char code[6]);

int pgq_ntuples(const struct pgq_result *res);
const char *pgq_value(const struct pgq_result *res, int row, int col);
bool pgq_isnull(const struct pgq_result *res, int row, int col);
const char *pgq_cmd_status(const struct pgq_result *res);

#endif /* PGXR_PGQ_H */
