/* pgq.h: asynchronous PostgreSQL connections on the event loop (libpq, non-blocking) */
#ifndef PGXR_PGQ_H
#define PGXR_PGQ_H

#include <stdbool.h>

#include <libpq-fe.h>

struct pgq_conn;

/*
 * A query's outcome: res on success (freed by pgq after the call), or NULL
 * and err.  err is one line, without libpq's trailing newline.
 */
typedef void (*pgq_result_cb)(const PGresult *res, const char *err, void *arg);
/* the connection failed or was lost; called once, after pending queries failed */
typedef void (*pgq_broken_cb)(struct pgq_conn *c, const char *err, void *arg);

struct pgq_conn *pgq_connect(const char *const *keys, const char *const *vals, int timeout_ms,
			     pgq_broken_cb on_broken, void *arg);
int pgq_query(struct pgq_conn *c, const char *sql, int timeout_ms, pgq_result_cb cb, void *arg);
bool pgq_ready(const struct pgq_conn *c);
bool pgq_broken(const struct pgq_conn *c);
void pgq_close(struct pgq_conn *c);
void pgq_close_failing(struct pgq_conn *c, const char *why);
void pgq_maintain(void *arg);
bool pgq_error_sqlstate(const char *err, char code[6]);

#endif /* PGXR_PGQ_H */
