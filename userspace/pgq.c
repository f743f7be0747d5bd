/* pgq.c: non-blocking libpq connections driven by epoll: connect, queue queries, detect loss */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "evloop.h"
#include "log.h"
#include "pgq.h"

/* an error message, as callbacks get it */
#define PGQ_ERRLEN 512

static void pgq_squeeze(char *msg);

enum pgq_state {
	PGQ_CONNECTING,
	PGQ_IDLE,		/* connected, watching for the server going away */
	PGQ_BUSY,		/* the head query is on the wire */
	PGQ_BROKEN,
};

struct pgq_query {
	char *sql;
	long long deadline;	/* monotonic ms: queueing and running both count */
	pgq_result_cb cb;
	void *arg;
	struct pgq_query *next;
};

struct pgq_conn {
	PGconn *pg;
	enum pgq_state state;
	struct evloop_fd *ev;
	int sock;
	unsigned want;			/* epoll events asked for */
	long long connect_deadline;
	struct pgq_query *head, *tail;	/* head runs when BUSY */
	PGresult *last;			/* last result of the running query */
	pgq_broken_cb on_broken;
	void *arg;
	int depth;			/* > 0 while pgq code is on the stack for it */
	bool closed;			/* pgq_close() called: free when depth drops to 0 */
	struct pgq_conn *next;
};

/* every connection, for the timeout sweep of pgq_maintain() */
static struct pgq_conn *pgq_all;

static void pgq_event(int fd, unsigned events, void *arg);

/*
 * libpq messages end with a newline and may span lines: one log-friendly
 * line.  A server's message comes verbose ("FATAL:  28P01: text" and a
 * LOCATION line, see pgq_connect()): the code moves to the end as
 * "(SQLSTATE 28P01)", where pgq_error_sqlstate() finds it, and the
 * LOCATION line goes.
 */
static void pgq_oneline(char *msg)
{
	char code[6] = "", *p, *loc;
	size_t n;

	loc = strstr(msg, "\nLOCATION:");
	if (loc)
		*loc = '\0';
	for (p = strstr(msg, ":  "); p; p = strstr(p + 1, ":  ")) {
		char *c = p + 3;
		int i;

		for (i = 0; i < 5 && ((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'A' && c[i] <= 'Z')); i++)
			;
		if (i == 5 && c[5] == ':' && c[6] == ' ') {
			memcpy(code, c, 5);
			code[5] = '\0';
			memmove(c, c + 7, strlen(c + 7) + 1);
			break;
		}
	}
	pgq_squeeze(msg);
	n = strlen(msg);
	if (code[0] && n + 18 < PGQ_ERRLEN)
		snprintf(msg + n, PGQ_ERRLEN - n, " (SQLSTATE %s)", code);
}

/* the SQLSTATE a server answered with, from an error of pgq; false when none did */
bool pgq_error_sqlstate(const char *err, char code[6])
{
	const char *p = err ? strstr(err, "(SQLSTATE ") : NULL;

	if (!p || strlen(p) < 16 || p[15] != ')')
		return false;
	memcpy(code, p + 10, 5);
	code[5] = '\0';
	return true;
}

/* whitespace runs, newlines and tabs to one space; none at the ends */
static void pgq_squeeze(char *msg)
{
	char *out = msg;
	bool space = false;

	for (char *p = msg; *p; p++) {
		bool ws = *p == '\n' || *p == '\t' || *p == ' ';

		if (ws && !space && out != msg)
			*out++ = ' ';
		else if (!ws)
			*out++ = *p;
		space = ws;
	}
	while (out > msg && out[-1] == ' ')
		out--;
	*out = '\0';
}

static void pgq_watch(struct pgq_conn *c, unsigned want)
{
	int sock = PQsocket(c->pg);

	/*
	 * libpq may switch sockets while connecting (another address, a retry
	 * without SSL), and a new socket may get the old one's number: epoll
	 * forgot the old file, so a connecting socket is always registered anew.
	 */
	if (c->ev && (sock != c->sock || c->state == PGQ_CONNECTING)) {
		evloop_del(c->ev);
		c->ev = NULL;
	}
	c->sock = sock;
	if (sock < 0)
		return;
	if (!c->ev) {
		c->ev = evloop_add(sock, want, pgq_event, c);
		c->want = want;
	} else if (want != c->want) {
		evloop_mod(c->ev, want);
		c->want = want;
	}
}

static void pgq_free(struct pgq_conn *c)
{
	struct pgq_conn **pp;

	for (pp = &pgq_all; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	while (c->head) {
		struct pgq_query *q = c->head;

		c->head = q->next;
		free(q->sql);
		free(q);
	}
	evloop_del(c->ev);
	PQclear(c->last);
	PQfinish(c->pg);
	free(c);
}

/*
 * Fails every queued query, then tells the owner (who closes c).  The
 * queue is taken first: queries of other users of a shared connection
 * (failover on a health connection) hear of the failure even when an
 * earlier callback closes c.
 */
static void pgq_fail(struct pgq_conn *c, const char *why)
{
	struct pgq_query *q = c->head, *next;
	char err[PGQ_ERRLEN];

	if (c->state == PGQ_BROKEN)
		return;
	snprintf(err, sizeof(err), "%s", why);
	pgq_oneline(err);
	c->state = PGQ_BROKEN;
	evloop_del(c->ev);
	c->ev = NULL;
	c->head = c->tail = NULL;
	for (; q; q = next) {
		next = q->next;
		q->cb(NULL, err, q->arg);
		free(q->sql);
		free(q);
	}
	if (!c->closed && c->on_broken)
		c->on_broken(c, err, c->arg);
}

static void pgq_start(struct pgq_conn *c)
{
	if (c->state != PGQ_IDLE || !c->head)
		return;
	if (!PQsendQuery(c->pg, c->head->sql)) {
		pgq_fail(c, PQerrorMessage(c->pg));
		return;
	}
	c->state = PGQ_BUSY;
	pgq_watch(c, PQflush(c->pg) == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/* the head query's results are all in: hand over the last one */
static void pgq_finish_query(struct pgq_conn *c)
{
	struct pgq_query *q = c->head;
	PGresult *res = c->last;
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	char err[PGQ_ERRLEN] = "";

	c->head = q->next;
	if (!c->head)
		c->tail = NULL;
	c->last = NULL;
	c->state = PGQ_IDLE;
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		snprintf(err, sizeof(err), "%s",
			 res ? PQresultErrorMessage(res) : "query returned no result");
		pgq_oneline(err);
	}
	q->cb(err[0] ? NULL : res, err[0] ? err : NULL, q->arg);
	PQclear(res);
	free(q->sql);
	free(q);
}

static void pgq_read(struct pgq_conn *c)
{
	if (!PQconsumeInput(c->pg)) {
		pgq_fail(c, PQerrorMessage(c->pg));
		return;
	}
	if (c->state == PGQ_IDLE) {
		/* notices and parameter changes arrive unasked; a dead link shows here */
		if (PQstatus(c->pg) == CONNECTION_BAD)
			pgq_fail(c, PQerrorMessage(c->pg));
		return;
	}
	while (c->state == PGQ_BUSY && !c->closed && !PQisBusy(c->pg)) {
		PGresult *res = PQgetResult(c->pg);

		if (!res) {
			pgq_finish_query(c);
			pgq_start(c);
			return;
		}
		PQclear(c->last);
		c->last = res;
	}
}

static void pgq_connect_step(struct pgq_conn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		pgq_watch(c, EPOLLIN);
		break;
	case PGRES_POLLING_WRITING:
		pgq_watch(c, EPOLLOUT);
		break;
	case PGRES_POLLING_OK:
		c->state = PGQ_IDLE;
		pgq_watch(c, EPOLLIN);
		pgq_start(c);
		break;
	default:
		pgq_fail(c, PQerrorMessage(c->pg));
		break;
	}
}

static void pgq_event(int fd, unsigned events, void *arg)
{
	struct pgq_conn *c = arg;

	(void)fd;
	c->depth++;
	if (c->state == PGQ_CONNECTING) {
		pgq_connect_step(c);
	} else if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
		pgq_fail(c, "connection lost");
	} else {
		if (events & EPOLLOUT && c->state == PGQ_BUSY) {
			int r = PQflush(c->pg);

			if (r < 0)
				pgq_fail(c, PQerrorMessage(c->pg));
			else if (r == 0)
				pgq_watch(c, EPOLLIN);
		}
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR) && c->state != PGQ_BROKEN)
			pgq_read(c);
	}
	if (--c->depth == 0 && c->closed)
		pgq_free(c);
}

/*
 * Starts a connection; queries may be queued at once.  The whole
 * connection attempt is bounded by timeout_ms: libpq's connect_timeout
 * does not apply to non-blocking connections.  Pass hostaddr: a host name
 * would be resolved synchronously.  NULL with errno set on failure.
 */
struct pgq_conn *pgq_connect(const char *const *keys, const char *const *vals, int timeout_ms,
			     pgq_broken_cb on_broken, void *arg)
{
	struct pgq_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->sock = -1;
	c->on_broken = on_broken;
	c->arg = arg;
	c->connect_deadline = evloop_now_ms() + timeout_ms;
	c->pg = PQconnectStartParams(keys, vals, 0);
	c->next = pgq_all;
	pgq_all = c;
	if (!c->pg) {
		pgq_free(c);
		errno = ENOMEM;
		return NULL;
	}
	/*
	 * Verbose errors carry the SQLSTATE, also of a connection refused by
	 * the server: "answered with an error" is another fact than "did not
	 * answer" (pgq_error_sqlstate()).
	 */
	PQsetErrorVerbosity(c->pg, PQERRORS_VERBOSE);
	if (PQstatus(c->pg) == CONNECTION_BAD || PQsetnonblocking(c->pg, 1)) {
		/* reported through on_broken at the next maintenance pass */
		c->state = PGQ_CONNECTING;
		c->connect_deadline = 0;
		return c;
	}
	c->state = PGQ_CONNECTING;
	pgq_watch(c, EPOLLOUT);
	evloop_wake_at(c->connect_deadline);
	return c;
}

int pgq_query(struct pgq_conn *c, const char *sql, int timeout_ms, pgq_result_cb cb, void *arg)
{
	struct pgq_query *q;

	if (c->state == PGQ_BROKEN || c->closed)
		return -ENOTCONN;
	q = calloc(1, sizeof(*q));
	if (!q || !(q->sql = strdup(sql))) {
		free(q);
		return -ENOMEM;
	}
	q->deadline = evloop_now_ms() + timeout_ms;
	evloop_wake_at(q->deadline);
	q->cb = cb;
	q->arg = arg;
	if (c->tail)
		c->tail->next = q;
	else
		c->head = q;
	c->tail = q;
	/* a synchronous failure runs callbacks that may close c under us */
	c->depth++;
	pgq_start(c);
	if (--c->depth == 0 && c->closed)
		pgq_free(c);
	return 0;
}

bool pgq_ready(const struct pgq_conn *c)
{
	return c && (c->state == PGQ_IDLE || c->state == PGQ_BUSY);
}

bool pgq_broken(const struct pgq_conn *c)
{
	return !c || c->state == PGQ_BROKEN;
}

/*
 * No callback runs for c after this, not even for its queued queries,
 * unless c is failing right now: then every query queued when it broke
 * still hears of it (see pgq_fail()).
 */
void pgq_close(struct pgq_conn *c)
{
	if (!c || c->closed)
		return;
	c->closed = true;
	if (c->depth == 0)
		pgq_free(c);
}

/*
 * As pgq_close(), but the queries still queued hear of it (their callback
 * gets why), for a connection that others share; its broken callback
 * does not run.
 */
void pgq_close_failing(struct pgq_conn *c, const char *why)
{
	struct pgq_query *q, *next;

	if (!c || c->closed)
		return;
	q = c->head;
	c->head = c->tail = NULL;
	c->closed = true;
	c->depth++;
	for (; q; q = next) {
		next = q->next;
		q->cb(NULL, why, q->arg);
		free(q->sql);
		free(q);
	}
	if (--c->depth == 0)
		pgq_free(c);
}

/*
 * Per-tick hook: connection attempts and queries past their deadline fail.
 * A failure runs callbacks that may close any connection, so the walk
 * starts over after each one; each failed connection is skipped after.
 */
void pgq_maintain(void *arg)
{
	long long now = evloop_now_ms(), next = LLONG_MAX;
	struct pgq_conn *c;

	(void)arg;
again:
	for (c = pgq_all; c; c = c->next) {
		const char *why = NULL;

		if (c->closed || c->state == PGQ_BROKEN)
			continue;
		if (c->state == PGQ_CONNECTING && now >= c->connect_deadline)
			why = c->connect_deadline && PQstatus(c->pg) != CONNECTION_BAD ?
				      "timeout while connecting" : PQerrorMessage(c->pg);
		else if (c->head && now >= c->head->deadline)
			why = c->state == PGQ_BUSY ? "timeout waiting for the query" :
						     "timeout while connecting";
		if (!why)
			continue;
		c->depth++;
		pgq_fail(c, why);
		if (--c->depth == 0 && c->closed)
			pgq_free(c);
		goto again;
	}
	/* the next deadline, to the millisecond */
	for (c = pgq_all; c; c = c->next) {
		if (c->closed || c->state == PGQ_BROKEN)
			continue;
		if (c->state == PGQ_CONNECTING && c->connect_deadline < next)
			next = c->connect_deadline;
		if (c->head && c->head->deadline < next)
			next = c->head->deadline;
	}
	if (next != LLONG_MAX)
		evloop_wake_at(next);
}
