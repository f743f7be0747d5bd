/*
 * pool.c: the server connection cache.  A pool holds the idle, reset
 * connections of one (user, database, startup parameters), to each node
 * apart (the primary's, and the standbys' that run reads); a session
 * takes the most recently used one (LIFO keeps few servers warm), gives
 * it back after a reset, and idle connections that outlive
 * connection_life_time, of an older routing generation or of a node that
 * no longer serves, are closed by the main loop.  All of it under one
 * lock, taken once per session start and end (per transaction in
 * transaction pooling), never per message.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"
#include "tls.h"

/* a connection idle for less is taken without looking (pool_conn_quiet()) */
#ifndef POOL_PEEK_AFTER_MS
#define POOL_PEEK_AFTER_MS 100
#endif

/* a pool's connections to one node: max_pool holds per node, as pgpool's does per backend */
struct pool_node {
	int servers;		/* serving, idle, being made or reset */
	int nidle;
	struct pool_conn *idle;	/* most recently returned first */
	struct pool_waiter *wait_head, *wait_tail;	/* sessions waiting, first come first */
};

struct pool {
	char *key;
	size_t len;
	char user[64], database[64];
	int active;		/* sessions that joined it and have not left */
	struct pgproto_buf params;	/* the ParameterStatus of its last login, to greet clients with */
	struct auth_secret *cred;	/* what pgxr logs in with for its clients (one user: one secret) */
	/* by node id, made at its first use: most pools only ever reach the primary */
	struct pool_node *nodes[PGXR_MAX_BACKENDS];
	struct pool *next;
};

/* a placeholder for a node a pool never used: nothing idle, nobody waits */
static struct pool_node pool_node_none;

/* p's list of node, made if need be (under pool_lock); the empty placeholder when out of memory */
static struct pool_node *pool_node(struct pool *p, int node)
{
	if (node < 0 || node >= PGXR_MAX_BACKENDS)
		return &pool_node_none;
	if (!p->nodes[node] && !(p->nodes[node] = calloc(1, sizeof(struct pool_node))))
		return &pool_node_none;
	return p->nodes[node];
}

/* every pool; a pool nobody uses and that caches nothing is freed */
static struct pool *pool_all;
/*
 * Every worker takes it twice per pooled transaction, for a few dozen
 * instructions: it spins a moment before it sleeps in the kernel.
 */
static pthread_mutex_t pool_lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;

/* a connection leaves for good: the server hears Terminate, as from any client */
static void pool_conn_close(struct pool_conn *c)
{
	static const uint8_t terminate[5] = { 'X', 0, 0, 0, 4 };

	/* a server gone already is closed all the same */
	if (c->ssl)
		(void)!tls_send(c->ssl, terminate, sizeof(terminate));
	else
		(void)!send(c->fd, terminate, sizeof(terminate), MSG_NOSIGNAL | MSG_DONTWAIT);
	pool_conn_free(c);
	free(c);
}

/* what a connection owns, closed and freed; not the struct itself */
void pool_conn_free(struct pool_conn *c)
{
	tls_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	pgproto_buf_free(&c->params);
	tx_server_free(&c->prepared);
}

/* the pool of key, made if there is none; the caller is one of its active sessions until pool_leave() */
struct pool *pool_join(const char *key, size_t len, const char *user, const char *database)
{
	struct pool *p;

	pthread_mutex_lock(&pool_lock);
	for (p = pool_all; p; p = p->next)
		if (p->len == len && !memcmp(p->key, key, len))
			break;
	if (!p && (p = calloc(1, sizeof(*p)))) {
		p->key = malloc(len);
		if (!p->key) {
			free(p);
			p = NULL;
		} else {
			memcpy(p->key, key, len);
			p->len = len;
			strncpy(p->user, user, sizeof(p->user) - 1);
			strncpy(p->database, database, sizeof(p->database) - 1);
			p->next = pool_all;
			pool_all = p;
		}
	}
	if (p)
		p->active++;
	pthread_mutex_unlock(&pool_lock);
	return p;
}

/* one more user of a pool someone holds already (a connection being reset for it) */
void pool_ref(struct pool *p)
{
	pthread_mutex_lock(&pool_lock);
	p->active++;
	pthread_mutex_unlock(&pool_lock);
}

void pool_leave(struct pool *p)
{
	pthread_mutex_lock(&pool_lock);
	p->active--;
	pthread_mutex_unlock(&pool_lock);
}

/*
 * The first waiter for node n gets c (or, with c NULL, the slot of a
 * connection that closed); under pool_lock
 */
static bool pool_hand(struct pool_node *n, const struct pool_conn *c)
{
	struct pool_waiter *wt = n->wait_head;

	if (!wt)
		return false;
	n->wait_head = wt->next;
	if (!n->wait_head)
		n->wait_tail = NULL;
	wt->next = NULL;
	wt->queued = false;
	wt->handed = true;
	if (c)
		wt->conn = *c;
	else
		wt->conn = (struct pool_conn){ .fd = -1 };
	wt->conn.next = NULL;
	wt->handed_fn(wt);
	return true;
}

/*
 * A worker may keep a connection it got from p for its own sessions
 * (parked, in its epoll set, still counted in servers): not while anyone
 * waits for p, who gets it instead, nor (max > 0) when p has max servers
 * and none idle: a session of another worker would have to wait for it.
 */
bool pool_park(struct pool *p, int node, int max)
{
	struct pool_node *n;
	bool ok;

	pthread_mutex_lock(&pool_lock);
	n = pool_node(p, node);
	ok = !n->wait_head && (max <= 0 || n->servers < max || n->nidle > 0);
	pthread_mutex_unlock(&pool_lock);
	return ok;
}

/* a server connection of the pool to node was closed: its slot goes to the first waiter, if any */
void pool_server_gone(struct pool *p, int node)
{
	struct pool_node *n;

	pthread_mutex_lock(&pool_lock);
	n = pool_node(p, node);
	/* never below 0: a slot handed out while the node's list could not be made was not counted */
	if (!pool_hand(n, NULL) && n->servers > 0)
		n->servers--;
	pthread_mutex_unlock(&pool_lock);
}

void pool_params_set(struct pool *p, const struct pgproto_buf *params)
{
	pthread_mutex_lock(&pool_lock);
	p->params.len = 0;
	p->params.failed = false;
	pgproto_raw(&p->params, params->data, params->len);
	pthread_mutex_unlock(&pool_lock);
}

/*
 * The secret the last client of the pool authenticated with (a password,
 * an md5 hash, or SCRAM keys): logins to new server connections use it,
 * so that idle clients keep none of their own.
 */
void pool_cred_set(struct pool *p, const struct auth_secret *cred)
{
	pthread_mutex_lock(&pool_lock);
	if (!p->cred)
		p->cred = malloc(sizeof(*p->cred));
	if (p->cred)
		*p->cred = *cred;
	pthread_mutex_unlock(&pool_lock);
}

bool pool_cred_get(struct pool *p, struct auth_secret *out)
{
	bool known;

	pthread_mutex_lock(&pool_lock);
	known = p->cred != NULL;
	if (known)
		*out = *p->cred;
	pthread_mutex_unlock(&pool_lock);
	return known;
}

/* the parameters the pool's servers report, appended to out; false: none known yet */
bool pool_params_get(struct pool *p, struct pgproto_buf *out)
{
	bool known;

	pthread_mutex_lock(&pool_lock);
	known = p->params.len && !p->params.failed;
	if (known)
		pgproto_raw(out, p->params.data, p->params.len);
	pthread_mutex_unlock(&pool_lock);
	return known;
}

/*
 * The server said nothing and did not close since it was cached.  Asked
 * of a connection idle for POOL_PEEK_AFTER_MS or more: one given back a
 * moment ago (transaction pooling, each transaction) is taken as it is,
 * a syscall saved per transaction; a server gone in that moment is an
 * error for that one transaction, as it would be a moment later.
 */
bool pool_conn_quiet(const struct pool_conn *c)
{
	struct timespec ts;
	char b;
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 - c->idle_since < POOL_PEEK_AFTER_MS)
		return true;
	n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/*
 * A server connection for a session: an idle one of node in routing
 * generation gen (POOL_CONN, into out, which owns it then), else a slot
 * to make one while fewer than max (0: no limit) exist (POOL_NEW), else wt
 * joins the queue (POOL_WAIT).  While sessions wait, newcomers queue
 * behind them.  Idle connections of an older generation, or that the
 * server closed or spoke on, are closed.
 */
enum pool_get pool_get(struct pool *p, int node, unsigned gen, int max, struct pool_conn *out,
		       struct pool_waiter *wt)
{
	struct pool_conn *stale = NULL, *c;
	enum pool_get got = POOL_WAIT;
	struct pool_node *n;

	pthread_mutex_lock(&pool_lock);
	/* one is on its way to it */
	if (wt && wt->handed) {
		pthread_mutex_unlock(&pool_lock);
		return POOL_WAIT;
	}
	n = pool_node(p, node);
	if (n == &pool_node_none) {
		pthread_mutex_unlock(&pool_lock);
		return POOL_NEW;	/* out of memory: made and closed uncounted */
	}
	/* nobody passes those who wait */
	while (!n->wait_head && (c = n->idle)) {
		n->idle = c->next;
		n->nidle--;
		if (c->gen == gen && pool_conn_quiet(c)) {
			*out = *c;
			out->next = NULL;
			free(c);
			got = POOL_CONN;
			break;
		}
		n->servers--;
		c->next = stale;
		stale = c;
	}
	if (got == POOL_WAIT && !n->wait_head && (!max || n->servers < max)) {
		n->servers++;
		got = POOL_NEW;
	}
	if (got == POOL_WAIT && wt && !wt->queued) {
		wt->queued = true;
		wt->handed = false;
		wt->node = node;
		wt->next = NULL;
		if (n->wait_tail)
			n->wait_tail->next = wt;
		else
			n->wait_head = wt;
		n->wait_tail = wt;
	}
	pthread_mutex_unlock(&pool_lock);
	while (stale) {
		c = stale;
		stale = c->next;
		pool_conn_close(c);
	}
	return got;
}

/*
 * wt stops waiting: out of the queue; true when it was handed a
 * connection or a slot first (the caller gives it back).
 */
bool pool_unwait(struct pool *p, struct pool_waiter *wt)
{
	bool handed;

	pthread_mutex_lock(&pool_lock);
	if (wt->queued) {
		struct pool_node *n = pool_node(p, wt->node);
		struct pool_waiter **pp = &n->wait_head, *prev = NULL;

		while (*pp && *pp != wt) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		if (*pp)
			*pp = wt->next;
		if (n->wait_tail == wt)
			n->wait_tail = prev;
		wt->queued = false;
	}
	handed = wt->handed;
	pthread_mutex_unlock(&pool_lock);
	return handed;
}

/*
 * A reset connection back into its pool, or to the first session that
 * waits for one; false when the pool holds max_pool already (the caller
 * closes it and keeps ownership).
 */
bool pool_put(struct pool *p, struct pool_conn *c, int max_pool)
{
	struct pool_conn *copy;
	struct pool_node *n;
	bool kept = false;

	pthread_mutex_lock(&pool_lock);
	n = pool_node(p, c->node);
	if (n == &pool_node_none) {
		/* not counted: the caller closes it */
	} else if (pool_hand(n, c)) {
		kept = true;
	} else if (n->nidle < max_pool && (copy = malloc(sizeof(*copy)))) {
		*copy = *c;
		copy->next = n->idle;
		n->idle = copy;
		n->nidle++;
		kept = true;
	}
	pthread_mutex_unlock(&pool_lock);
	return kept;
}

/* max_pool was raised (or a slot freed unseen): sessions that wait get the slots under max */
void pool_grow(int max)
{
	pthread_mutex_lock(&pool_lock);
	for (struct pool *p = pool_all; p && max > 0; p = p->next) {
		for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
			struct pool_node *n = p->nodes[i];

			while (n && n->wait_head && n->servers < max) {
				n->servers++;
				pool_hand(n, NULL);
			}
		}
	}
	pthread_mutex_unlock(&pool_lock);
}

/*
 * The main loop, every second: idle connections past life_ms (0: no
 * limit), of a node that serves no more (serving[id] false) or of
 * another generation than gen close; pools with no session and no
 * connection go.
 */
void pool_expire(long long now, long long life_ms, const bool *serving, unsigned gen)
{
	struct pool_conn *dead = NULL, *c;

	pthread_mutex_lock(&pool_lock);
	for (struct pool **pp = &pool_all; *pp;) {
		struct pool *p = *pp;
		bool used = p->active > 0;

		for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
			struct pool_node *n = p->nodes[i];

			if (!n)
				continue;
			for (struct pool_conn **cp = &n->idle; (c = *cp);) {
				if ((life_ms && now - c->idle_since >= life_ms) || !serving[i] ||
				    c->gen != gen) {
					*cp = c->next;
					n->nidle--;
					n->servers--;
					c->next = dead;
					dead = c;
				} else {
					cp = &c->next;
				}
			}
			if (n->idle || n->servers > 0)
				used = true;
		}
		if (!used) {
			*pp = p->next;
			for (int i = 0; i < PGXR_MAX_BACKENDS; i++)
				free(p->nodes[i]);
			pgproto_buf_free(&p->params);
			if (p->cred)
				explicit_bzero(p->cred, sizeof(*p->cred));
			free(p->cred);
			free(p->key);
			free(p);
		} else {
			pp = &p->next;
		}
	}
	pthread_mutex_unlock(&pool_lock);
	while (dead) {
		c = dead;
		dead = c->next;
		pool_conn_close(c);
	}
}

/* fn for every idle connection, under the pool lock: fn must not call back into the pool */
/* the names a pool was made for; they never change, and a pool with a server connection stays */
const char *pool_user(const struct pool *p)
{
	return p->user;
}

const char *pool_database(const struct pool *p)
{
	return p->database;
}

void pool_each_idle(void (*fn)(const char *user, const char *database, const struct pool_conn *c,
			       void *arg), void *arg)
{
	pthread_mutex_lock(&pool_lock);
	for (struct pool *p = pool_all; p; p = p->next)
		for (int i = 0; i < PGXR_MAX_BACKENDS; i++)
			for (struct pool_conn *c = p->nodes[i] ? p->nodes[i]->idle : NULL; c; c = c->next)
				fn(p->user, p->database, c, arg);
	pthread_mutex_unlock(&pool_lock);
}

/* at stop: every idle connection closes; pools with sessions stay until they leave */
void pool_close_all(void)
{
	static const bool none[PGXR_MAX_BACKENDS];

	pool_expire(0, 1, none, 0);
}
