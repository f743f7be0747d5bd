/* pgq.c: the control plane's PostgreSQL client on epoll: login (TLS, md5, SCRAM, passfile), simple queries, loss detection */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "evloop.h"
#include "log.h"
#include "pgproto.h"
#include "pgq.h"
#include "pgtext.h"
#include "tls.h"

/* an error message, as callbacks get it */
#define PGQ_ERRLEN 512
/* the largest message accepted: the control plane's queries return a few short rows */
#define PGQ_MAX_MESSAGE (1 << 20)

enum pgq_state {
	PGQ_CONNECTING,
	PGQ_IDLE,		/* logged in, watching for the server going away */
	PGQ_BUSY,		/* the head query is on the wire */
	PGQ_BROKEN,
};

/* where a login is */
enum pgq_step {
	STEP_TCP,		/* connect() under way */
	STEP_SSLREQ,		/* SSLRequest sent: the server's one-byte answer is due */
	STEP_TLS,		/* the TLS handshake */
	STEP_LOGIN,		/* startup packet sent: authentication, then ReadyForQuery */
};

struct pgq_result {
	int ntuples, nfields, cap;
	char ***rows;		/* per row one block: nfields pointers (NULL: SQL NULL), then the text */
	char cmd[64];		/* the CommandComplete tag */
};

struct pgq_query {
	char *sql;
	long long deadline;	/* monotonic ms: queueing and running both count */
	pgq_result_cb cb;
	void *arg;
	struct pgq_query *next;
};

struct pgq_conn {
	int fd;
	SSL *ssl;
	enum pgq_state state;
	enum pgq_step step;
	bool tls_want_write;
	struct evloop_fd *ev;
	unsigned want;			/* epoll events asked for */
	long long connect_deadline;	/* 0: failed before it started, see pgq_maintain() */
	char *host, *user, *dbname, *password, *appname;
	int port;
	struct sockaddr_storage sa;	/* where it connects, again for a retry without TLS */
	unsigned sa_len;
	int keepalive_idle_s, user_timeout_ms;
	bool plain_only;		/* TLS failed once: this attempt goes without it */
	bool scram_done;		/* the server's SCRAM signature checked */
	char where[160];		/* "connection to server at ... failed: ", before login errors */
	struct auth_scram *scram;	/* a SCRAM exchange under way */
	uint8_t *in;
	size_t in_len, in_cap;
	struct pgproto_buf out;
	size_t out_off;
	struct pgq_query *head, *tail;	/* head runs when BUSY */
	struct pgq_result *res;		/* the running query's last result */
	bool res_open;			/* a RowDescription came, its CommandComplete not yet */
	char err[PGQ_ERRLEN];		/* the running query's error, or the FATAL the server ends with */
	pgq_broken_cb on_broken;
	void *arg;
	int depth;			/* > 0 while pgq code is on the stack for it */
	bool closed;			/* pgq_close() called: free when depth drops to 0 */
	struct pgq_conn *next;
};

/* every connection, for the timeout sweep of pgq_maintain() */
static struct pgq_conn *pgq_all;

static void pgq_event(int fd, unsigned events, void *arg);

/* whitespace runs, newlines and tabs to one space; none at the ends */
static void pgq_squeeze(char *msg)
{
	char *out = msg;
	bool space = false;

	for (char *p = msg; *p; p++) {
		bool ws = *p == '\n' || *p == '\t' || *p == ' ' || *p == '\r';

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

/*
 * An ErrorResponse as one line: "FATAL: message DETAIL: ... HINT: ...
 * (SQLSTATE 28P01)", where pgq_error_sqlstate() finds the code.  fatal:
 * the server ends the connection after it.
 */
static void pgq_error_text(const uint8_t *body, size_t len, char *out, size_t outlen, bool *fatal)
{
	const char *sev = "ERROR", *code = "", *msg = "", *detail = "", *hint = "";
	char tail[24] = "";
	size_t room;

	for (size_t off = 0; off < len && body[off];) {
		char f = body[off++];
		const char *v = (const char *)body + off;
		size_t n = strnlen(v, len - off);

		if (off + n >= len)
			break;	/* unterminated: the rest is not trusted */
		switch (f) {
		case 'V': sev = v; break;
		case 'S': if (!strcmp(sev, "ERROR")) sev = v; break;
		case 'C': code = v; break;
		case 'M': msg = v; break;
		case 'D': detail = v; break;
		case 'H': hint = v; break;
		}
		off += n + 1;
	}
	/* the code goes last and always fits: pgq_error_sqlstate() looks for it there */
	if (code[0])
		snprintf(tail, sizeof(tail), " (SQLSTATE %.5s)", code);
	room = outlen > strlen(tail) ? outlen - strlen(tail) : 1;
	snprintf(out, room, "%s: %s%s%s%s%s", sev, msg, detail[0] ? " DETAIL: " : "", detail,
		 hint[0] ? " HINT: " : "", hint);
	pgq_squeeze(out);
	strncat(out, tail, outlen - strlen(out) - 1);
	if (fatal)
		*fatal = !strcmp(sev, "FATAL") || !strcmp(sev, "PANIC");
}

static void pgq_result_free(struct pgq_result *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->ntuples; i++)
		free(r->rows[i]);
	free(r->rows);
	free(r);
}

int pgq_ntuples(const struct pgq_result *res)
{
	return res ? res->ntuples : 0;
}

/* libpq's PQgetvalue(): "" for NULL and for a cell out of range */
const char *pgq_value(const struct pgq_result *res, int row, int col)
{
	if (!res || row < 0 || row >= res->ntuples || col < 0 || col >= res->nfields ||
	    !res->rows[row][col])
		return "";
	return res->rows[row][col];
}

bool pgq_isnull(const struct pgq_result *res, int row, int col)
{
	return !res || row < 0 || row >= res->ntuples || col < 0 || col >= res->nfields ||
	       !res->rows[row][col];
}

const char *pgq_cmd_status(const struct pgq_result *res)
{
	return res ? res->cmd : "";
}

/* a DataRow into the running result; -1 when it is not one */
static int pgq_add_row(struct pgq_result *r, const uint8_t *body, size_t len)
{
	size_t off = 2, text = 0;
	char **row, *p;
	int n;

	if (len < 2 || (n = body[0] << 8 | body[1]) != r->nfields)
		return -1;
	/* the sizes first: one block holds the pointers and the values */
	for (int i = 0; i < n; i++) {
		int32_t vl;

		if (off + 4 > len)
			return -1;
		vl = (int32_t)pgproto_get32(body + off);
		off += 4;
		if (vl < 0)
			continue;
		if ((size_t)vl > len - off)
			return -1;
		off += vl;
		text += vl + 1;
	}
	if (r->ntuples == r->cap) {
		int cap = r->cap ? r->cap * 2 : 8;
		char ***rows = realloc(r->rows, cap * sizeof(*rows));

		if (!rows)
			return -1;
		r->rows = rows;
		r->cap = cap;
	}
	row = malloc(n * sizeof(char *) + text + 1);
	if (!row)
		return -1;
	p = (char *)(row + n);
	off = 2;
	for (int i = 0; i < n; i++) {
		int32_t vl = (int32_t)pgproto_get32(body + off);

		off += 4;
		if (vl < 0) {
			row[i] = NULL;
			continue;
		}
		memcpy(p, body + off, vl);
		p[vl] = '\0';
		row[i] = p;
		p += vl + 1;
		off += vl;
	}
	r->rows[r->ntuples++] = row;
	return 0;
}

static void pgq_watch(struct pgq_conn *c)
{
	unsigned want;

	if (c->fd < 0 || c->state == PGQ_BROKEN)
		return;
	if (c->state == PGQ_CONNECTING && c->step == STEP_TCP)
		want = EPOLLOUT;
	else if (c->state == PGQ_CONNECTING && c->step == STEP_TLS)
		want = c->tls_want_write ? EPOLLOUT : EPOLLIN;
	else
		want = EPOLLIN | (c->out_off < c->out.len ? EPOLLOUT : 0);
	if (!c->ev) {
		c->ev = evloop_add(c->fd, want, pgq_event, c);
		c->want = want;
	} else if (want != c->want) {
		evloop_mod(c->ev, want);
		c->want = want;
	}
}

/* a SCRAM exchange's state holds the password's keys: wiped */
static void pgq_scram_drop(struct pgq_conn *c)
{
	if (c->scram)
		explicit_bzero(c->scram, sizeof(*c->scram));
	free(c->scram);
	c->scram = NULL;
}

/* the socket and its TLS, out of the event loop */
static void pgq_socket_close(struct pgq_conn *c)
{
	evloop_del(c->ev);
	c->ev = NULL;
	tls_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void pgq_query_free(struct pgq_query *q)
{
	free(q->sql);
	free(q);
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
		pgq_query_free(q);
	}
	pgq_socket_close(c);
	pgq_result_free(c->res);
	pgq_scram_drop(c);
	if (c->password) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	if (c->out.data)
		explicit_bzero(c->out.data, c->out.len);
	pgproto_buf_free(&c->out);
	free(c->in);
	free(c->host);
	free(c->user);
	free(c->dbname);
	free(c->appname);
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
	snprintf(err, sizeof(err), "%s%s", c->state == PGQ_CONNECTING ? c->where : "", why);
	pgq_squeeze(err);
	c->state = PGQ_BROKEN;
	evloop_del(c->ev);
	c->ev = NULL;
	c->head = c->tail = NULL;
	for (; q; q = next) {
		next = q->next;
		q->cb(NULL, err, q->arg);
		pgq_query_free(q);
	}
	if (!c->closed && c->on_broken)
		c->on_broken(c, err, c->arg);
}

__attribute__((format(printf, 2, 3)))
static void pgq_failf(struct pgq_conn *c, const char *fmt, ...)
{
	char why[PGQ_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pgq_fail(c, why);
}

/* sends what out holds; -1 when the connection failed (c is broken) */
static int pgq_flush(struct pgq_conn *c)
{
	while (c->out_off < c->out.len) {
		const uint8_t *p = c->out.data + c->out_off;
		size_t n = c->out.len - c->out_off;
		ssize_t w = c->ssl ? tls_send(c->ssl, p, n) : send(c->fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return 0;
		if (w <= 0) {
			pgq_failf(c, "could not send data to server: %s", strerror(w < 0 ? errno : EPIPE));
			return -1;
		}
		c->out_off += w;
	}
	/* a password or a proof may have gone by */
	explicit_bzero(c->out.data, c->out.len);
	c->out.len = c->out_off = 0;
	return 0;
}

static int pgq_send(struct pgq_conn *c, struct pgproto_buf *m)
{
	if (m->failed) {
		pgproto_buf_free(m);
		pgq_fail(c, "out of memory");
		return -1;
	}
	pgproto_raw(&c->out, m->data, m->len);
	explicit_bzero(m->data, m->len);
	pgproto_buf_free(m);
	if (c->out.failed) {
		pgq_fail(c, "out of memory");
		return -1;
	}
	return pgq_flush(c);
}

static void pgq_start(struct pgq_conn *c)
{
	struct pgproto_buf m = {};

	if (c->state != PGQ_IDLE || !c->head)
		return;
	pgq_result_free(c->res);
	c->res = NULL;
	c->res_open = false;
	c->err[0] = '\0';
	c->state = PGQ_BUSY;
	pgproto_message(&m, 'Q', c->head->sql, strlen(c->head->sql) + 1);
	if (!pgq_send(c, &m))
		pgq_watch(c);
}

/* the head query's ReadyForQuery came: hand over its last result, or its error */
static void pgq_finish_query(struct pgq_conn *c)
{
	struct pgq_query *q = c->head;
	struct pgq_result *res = c->res;

	c->head = q->next;
	if (!c->head)
		c->tail = NULL;
	c->res = NULL;
	c->res_open = false;
	c->state = PGQ_IDLE;
	if (!c->err[0] && !res)
		snprintf(c->err, sizeof(c->err), "query returned no result");
	q->cb(c->err[0] ? NULL : res, c->err[0] ? c->err : NULL, q->arg);
	c->err[0] = '\0';
	pgq_result_free(res);
	pgq_query_free(q);
}

/* a new, empty result for the next statement of the running query: the last one counts */
static int pgq_new_result(struct pgq_conn *c, int nfields)
{
	pgq_result_free(c->res);
	c->res = calloc(1, sizeof(*c->res));
	if (!c->res) {
		pgq_fail(c, "out of memory");
		return -1;
	}
	c->res->nfields = nfields;
	return 0;
}

/*
 * The password for the login: the configured one, else the passfile's
 * (PGPASSFILE, or ~/.pgpass, as libpq reads it).  NULL when there is none.
 */
static const char *pgq_password(struct pgq_conn *c)
{
	char path[PATH_MAX], pw[AUTH_MAX_PASSWORD];
	const char *env = getenv("PGPASSFILE"), *home = getenv("HOME");

	if (c->password)
		return c->password;
	if (env && env[0]) {
		snprintf(path, sizeof(path), "%s", env);
	} else {
		struct passwd *pwd = home && home[0] ? NULL : getpwuid(getuid());

		if (!home || !home[0])
			home = pwd ? pwd->pw_dir : NULL;
		if (!home)
			return NULL;
		snprintf(path, sizeof(path), "%s/.pgpass", home);
	}
	if (pgtext_passfile_lookup(path, c->host, c->port, c->dbname, c->user, pw, sizeof(pw)))
		return NULL;
	c->password = strdup(pw);
	explicit_bzero(pw, sizeof(pw));
	return c->password;
}

/* an Authentication request of the server, answered; -1 when the login failed */
static int pgq_auth(struct pgq_conn *c, const uint8_t *body, size_t len)
{
	struct auth_secret sec = { .kind = AUTH_SECRET_TEXT };
	uint32_t code = len >= 4 ? pgproto_get32(body) : ~0u;
	const char *pw = NULL;
	struct pgproto_buf m = {};
	char buf[512];
	int ret = -1;

	if (code == PGPROTO_AUTH_OK) {
		if (c->scram && !c->scram_done) {
			pgq_fail(c, "the server ended SCRAM authentication before proving itself");
			return -1;
		}
		return 0;
	}
	if (code == PGPROTO_AUTH_SASL && c->scram) {
		pgq_fail(c, "the server started SCRAM authentication twice");
		return -1;
	}
	if (code == PGPROTO_AUTH_CLEARTEXT || code == PGPROTO_AUTH_MD5 ||
	    (code == PGPROTO_AUTH_SASL && !c->scram)) {
		pw = pgq_password(c);
		if (!pw) {
			pgq_fail(c, "fe_sendauth: no password supplied");
			return -1;
		}
		if (strlen(pw) >= sizeof(sec.text)) {
			pgq_fail(c, "the password is too long");
			return -1;
		}
		strcpy(sec.text, pw);
	}
	switch (code) {
	case PGPROTO_AUTH_CLEARTEXT:
		pgproto_message(&m, 'p', pw, strlen(pw) + 1);
		break;
	case PGPROTO_AUTH_MD5:
		if (len < 8 || auth_md5_response(&sec, c->user, body + 4, buf)) {
			pgq_fail(c, "invalid md5 request from the server");
			goto cleanup;
		}
		pgproto_message(&m, 'p', buf, strlen(buf) + 1);
		break;
	case PGPROTO_AUTH_SASL: {
		bool scram, plus;

		pgproto_sasl_mechs(body + 4, len - 4, &scram, &plus);
		if (!scram && !plus) {
			pgq_fail(c, "none of the server's SASL authentication mechanisms are supported");
			goto cleanup;
		}
		c->scram = calloc(1, sizeof(*c->scram));
		if (!c->scram) {
			pgq_fail(c, "out of memory");
			goto cleanup;
		}
		/* over TLS: bound to the server's certificate when it offers binding, as libpq prefers */
		if (c->ssl && tls_endpoint(c->ssl, true, c->scram->cbind, &c->scram->cbind_len)) {
			pgq_fail(c, "no certificate from the server for channel binding");
			goto cleanup;
		}
		c->scram->plus = plus && c->ssl;
		if (auth_scram_client_first(c->scram, &sec, buf, sizeof(buf))) {
			pgq_fail(c, "could not start SCRAM authentication");
			goto cleanup;
		}
		pgproto_sasl_initial(&m, c->scram->plus ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256", buf);
		break;
	}
	case PGPROTO_AUTH_SASL_CONTINUE:
		if (!c->scram || auth_scram_client_final(c->scram, body + 4, len - 4, buf, sizeof(buf))) {
			pgq_fail(c, "invalid SCRAM message from the server");
			goto cleanup;
		}
		pgproto_message(&m, 'p', buf, strlen(buf));
		break;
	case PGPROTO_AUTH_SASL_FINAL:
		if (!c->scram || auth_scram_client_verify(c->scram, body + 4, len - 4)) {
			pgq_fail(c, "the server's SCRAM signature is wrong");
			goto cleanup;
		}
		c->scram_done = true;
		ret = 0;
		goto cleanup;
	default:
		pgq_failf(c, "authentication method %u not supported", code);
		goto cleanup;
	}
	ret = pgq_send(c, &m);
cleanup:
	pgproto_buf_free(&m);
	explicit_bzero(&sec, sizeof(sec));
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

static int pgq_send_startup(struct pgq_conn *c)
{
	struct pgproto_startup st = { .nparams = 0 };
	uint8_t pkt[1024];
	int n;

	st.name[st.nparams] = "user", st.value[st.nparams++] = c->user;
	st.name[st.nparams] = "database", st.value[st.nparams++] = c->dbname;
	if (c->appname)
		st.name[st.nparams] = "application_name", st.value[st.nparams++] = c->appname;
	n = pgproto_startup_build(&st, PGPROTO_V3, pkt, sizeof(pkt));
	if (n < 0) {
		pgq_fail(c, "the user or database name is too long");
		return -1;
	}
	c->step = STEP_LOGIN;
	pgproto_raw(&c->out, pkt, n);
	return pgq_flush(c);
}

/*
 * A socket, connecting: no Nagle, keepalives, a user timeout.  A failure
 * is kept in c->err and reported by pgq_maintain() (connect_deadline 0).
 */
static void pgq_open(struct pgq_conn *c)
{
	int one = 1;

	c->step = STEP_TCP;
	c->fd = socket(c->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		snprintf(c->err, sizeof(c->err), "could not create socket: %s", strerror(errno));
		c->connect_deadline = 0;
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	if (c->keepalive_idle_s > 0)
		setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &c->keepalive_idle_s,
			   sizeof(c->keepalive_idle_s));
	if (c->user_timeout_ms > 0)
		setsockopt(c->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &c->user_timeout_ms,
			   sizeof(c->user_timeout_ms));
	if (connect(c->fd, (struct sockaddr *)&c->sa, c->sa_len) && errno != EINPROGRESS) {
		snprintf(c->err, sizeof(c->err), "%s", strerror(errno));
		c->connect_deadline = 0;
		return;
	}
	pgq_watch(c);
}

/*
 * libpq's sslmode=prefer: a login that failed over TLS (the handshake,
 * or the server refused it: a hostnossl line) is tried again without,
 * once, within the same deadline.  false when there is nothing to retry.
 */
static bool pgq_retry_plain(struct pgq_conn *c)
{
	if (!c->ssl || c->plain_only || c->state != PGQ_CONNECTING)
		return false;
	c->plain_only = true;
	pgq_socket_close(c);
	pgq_scram_drop(c);
	c->scram_done = false;
	c->in_len = 0;
	explicit_bzero(c->out.data, c->out.len);
	c->out.len = c->out_off = 0;
	c->err[0] = '\0';
	pgq_open(c);
	return true;
}

/*
 * The TCP connection is up: TLS first when the server offers it, as
 * libpq's default sslmode=prefer does (see tls_control_new()).
 */
static void pgq_connected(struct pgq_conn *c)
{
	uint8_t req[8];

	if (c->plain_only) {
		if (!pgq_send_startup(c))
			pgq_watch(c);
		return;
	}
	pgproto_put32(req, 8);
	pgproto_put32(req + 4, PGPROTO_SSL);
	c->step = STEP_SSLREQ;
	pgproto_raw(&c->out, req, sizeof(req));
	if (!pgq_flush(c))
		pgq_watch(c);
}

static void pgq_tls_step(struct pgq_conn *c)
{
	int r = tls_handshake(c->ssl, &c->tls_want_write);

	if (r == -EAGAIN) {
		pgq_watch(c);
		return;
	}
	if (r) {
		log_debug("%sTLS handshake failed: %s; trying without TLS", c->where, tls_error());
		if (!pgq_retry_plain(c))
			pgq_fail(c, "TLS handshake failed");
		return;
	}
	if (!pgq_send_startup(c))
		pgq_watch(c);
}

/* the server's answer to SSLRequest, one byte */
static void pgq_ssl_answer(struct pgq_conn *c)
{
	char a;
	ssize_t n = recv(c->fd, &a, 1, 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		pgq_fail(c, n ? strerror(errno) : "server closed the connection unexpectedly");
		return;
	}
	if (a == 'S') {
		c->ssl = tls_control_new(c->fd);
		if (!c->ssl) {
			pgq_failf(c, "could not start TLS: %s", tls_error());
			return;
		}
		c->step = STEP_TLS;
		pgq_tls_step(c);
	} else if (a == 'N') {
		if (!pgq_send_startup(c))
			pgq_watch(c);
	} else {
		pgq_fail(c, "the server answered the SSLRequest with an error");
	}
}

/* one message of the server; -1 when c broke or was closed under it */
static int pgq_message(struct pgq_conn *c, uint8_t type, const uint8_t *body, size_t len)
{
	bool fatal = false;

	if (type == 'E') {
		pgq_error_text(body, len, c->err, sizeof(c->err), &fatal);
		/*
		 * A login error or a FATAL: the server closes; say its words,
		 * not "closed", and nothing before them: the answer is a fact
		 * of its own (see pgq_error_sqlstate()).
		 */
		if (c->state == PGQ_CONNECTING && pgq_retry_plain(c))
			return -1;
		if (c->state == PGQ_CONNECTING || (fatal && c->state == PGQ_IDLE)) {
			c->where[0] = '\0';
			pgq_fail(c, c->err);
			return -1;
		}
		return 0;
	}
	if (c->state == PGQ_CONNECTING) {
		switch (type) {
		case 'R':
			return pgq_auth(c, body, len);
		case 'Z':
			c->state = PGQ_IDLE;
			pgq_scram_drop(c);
			pgq_start(c);
			return c->state == PGQ_BROKEN ? -1 : 0;
		case 'S': case 'K': case 'N': case 'v':
			return 0;
		}
		pgq_failf(c, "unexpected message '%c' from the server while logging in", type);
		return -1;
	}
	/* a result with no query running: the server is not speaking the protocol */
	if (c->state != PGQ_BUSY && type && strchr("TDCIZ", type)) {
		pgq_failf(c, "unexpected message '%c' from the server", type);
		return -1;
	}
	switch (type) {
	case 'T':
		if (len < 2 || pgq_new_result(c, body[0] << 8 | body[1]))
			break;
		c->res_open = true;
		return 0;
	case 'D':
		if (!c->res_open || pgq_add_row(c->res, body, len))
			break;
		return 0;
	case 'C':
	case 'I':
		if (!c->res_open && pgq_new_result(c, 0))
			return -1;
		c->res_open = false;
		if (type == 'C')
			snprintf(c->res->cmd, sizeof(c->res->cmd), "%.*s", (int)strnlen((const char *)body, len),
				 (const char *)body);
		return 0;
	case 'Z':
		c->depth++;
		pgq_finish_query(c);
		if (!c->closed)
			pgq_start(c);
		c->depth--;
		return c->closed || c->state == PGQ_BROKEN ? -1 : 0;
	case 'N': case 'S': case 'A': case 'K':
		return 0;
	}
	if (c->state != PGQ_BROKEN)
		pgq_failf(c, "unexpected message '%c' from the server", type);
	return -1;
}

/* reads what the server sent and handles each whole message */
static void pgq_read(struct pgq_conn *c)
{
	for (;;) {
		size_t off = 0;
		ssize_t n;

		if (c->in_len == c->in_cap) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 8192;
			uint8_t *in;

			if (cap > PGQ_MAX_MESSAGE + 5)
				cap = PGQ_MAX_MESSAGE + 5;
			in = cap > c->in_cap ? realloc(c->in, cap) : NULL;

			if (!in) {
				pgq_fail(c, "message from the server too large");
				return;
			}
			c->in = in;
			c->in_cap = cap;
		}
		n = c->ssl ? tls_recv(c->ssl, c->in + c->in_len, c->in_cap - c->in_len) :
			     recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			/* a FATAL the server sent before closing says why */
			pgq_fail(c, c->err[0] ? c->err : n ? strerror(errno) :
				 "server closed the connection unexpectedly");
			return;
		}
		c->in_len += n;
		while (c->in_len - off >= 5) {
			uint8_t *m = c->in + off;
			uint32_t mlen = pgproto_get32(m + 1);

			if (mlen < 4 || mlen > PGQ_MAX_MESSAGE) {
				pgq_fail(c, "invalid message length from the server");
				return;
			}
			if (c->in_len - off < mlen + 1)
				break;
			off += mlen + 1;
			if (pgq_message(c, m[0], m + 5, mlen - 4))
				return;
		}
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
}

static void pgq_io(struct pgq_conn *c, unsigned events)
{
	if (c->state == PGQ_CONNECTING && c->step == STEP_TCP) {
		int err = 0;
		socklen_t l = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) || err) {
			pgq_fail(c, strerror(err ? err : errno));
			return;
		}
		pgq_connected(c);
		return;
	}
	if (c->state == PGQ_CONNECTING && c->step == STEP_TLS) {
		pgq_tls_step(c);
		return;
	}
	if (c->state == PGQ_CONNECTING && c->step == STEP_SSLREQ) {
		if (!(events & EPOLLOUT) || !pgq_flush(c))
			pgq_ssl_answer(c);
		pgq_watch(c);
		return;
	}
	if (events & EPOLLOUT && pgq_flush(c))
		return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR) || c->ssl)
		pgq_read(c);
	if (!c->closed)
		pgq_watch(c);
}

static void pgq_event(int fd, unsigned events, void *arg)
{
	struct pgq_conn *c = arg;

	(void)fd;
	c->depth++;
	if (c->state != PGQ_BROKEN)
		pgq_io(c, events);
	if (--c->depth == 0 && c->closed)
		pgq_free(c);
}

static char *pgq_strdup(const char *s)
{
	return s && s[0] ? strdup(s) : NULL;
}

/*
 * Starts a connection; queries may be queued at once.  The whole
 * connection attempt, login included, is bounded by timeout_ms.  A
 * failure to even start is reported through on_broken at the next
 * maintenance pass.  NULL with errno set when out of memory.
 */
struct pgq_conn *pgq_connect(const struct pgq_params *p, int timeout_ms, pgq_broken_cb on_broken,
			     void *arg)
{
	struct pgq_conn *c = calloc(1, sizeof(*c));
	char addr[ADDR_STRLEN];

	if (!c)
		return NULL;
	c->fd = -1;
	c->keepalive_idle_s = p->keepalive_idle_s;
	c->user_timeout_ms = p->user_timeout_ms;
	c->on_broken = on_broken;
	c->arg = arg;
	c->port = p->port;
	c->state = PGQ_CONNECTING;
	c->step = STEP_TCP;
	c->connect_deadline = evloop_now_ms() + timeout_ms;
	addr_format(&p->addr, addr, sizeof(addr));
	c->host = strdup(p->host && p->host[0] ? p->host : addr);
	c->user = strdup(p->user ? p->user : "");
	c->dbname = strdup(p->dbname && p->dbname[0] ? p->dbname : c->user ? c->user : "");
	c->password = pgq_strdup(p->password);
	c->appname = pgq_strdup(p->application_name);
	c->next = pgq_all;
	pgq_all = c;
	if (!c->host || !c->user || !c->dbname || (p->password && p->password[0] && !c->password) ||
	    (p->application_name && p->application_name[0] && !c->appname)) {
		pgq_free(c);
		errno = ENOMEM;
		return NULL;
	}
	if (strcmp(c->host, addr))
		snprintf(c->where, sizeof(c->where), "connection to server at \"%s\" (%s), port %d failed: ",
			 c->host, addr, c->port);
	else
		snprintf(c->where, sizeof(c->where), "connection to server at \"%s\", port %d failed: ",
			 addr, c->port);
	c->sa_len = sizeof(c->sa);
	if (addr_to_sockaddr(&p->addr, p->port, &c->sa, &c->sa_len) < 0) {
		snprintf(c->err, sizeof(c->err), "invalid address %s", addr);
		c->connect_deadline = 0;
		return c;
	}
	pgq_open(c);
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
		pgq_query_free(q);
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
	char why[PGQ_ERRLEN];

	(void)arg;
again:
	for (c = pgq_all; c; c = c->next) {
		why[0] = '\0';
		if (c->closed || c->state == PGQ_BROKEN)
			continue;
		if (c->state == PGQ_CONNECTING && now >= c->connect_deadline)
			snprintf(why, sizeof(why), "%s", c->connect_deadline ?
				 "timeout while connecting" : c->err);
		else if (c->head && now >= c->head->deadline)
			snprintf(why, sizeof(why), "%s", c->state == PGQ_BUSY ?
				 "timeout waiting for the query" : "timeout while connecting");
		if (!why[0])
			continue;
		/* "timeout..." first: callers tell a silent server apart by it */
		if (!strncmp(why, "timeout", 7))
			c->where[0] = '\0';
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
