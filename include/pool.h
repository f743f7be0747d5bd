/* pool.h: server connections cached after their client left, per (user, database, startup parameters) */
#ifndef PGXR_POOL_H
#define PGXR_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "auth.h"
#include "pgproto.h"
#include "pgxr_xdp.h"
#include "txstate.h"

struct pool;

/* an idle server connection, logged in, reset, outside every epoll set */
struct pool_conn {
	int fd;
	SSL *ssl;			/* TLS to the server; NULL: plain */
	int node;
	unsigned gen;			/* the routing generation it was made in */
	uint32_t be_pid, be_secret;
	struct pgproto_buf params;	/* the server's ParameterStatus messages, as sent */
	long long born;			/* monotonic ms it was made */
	long long idle_since;
	unsigned uses;			/* clients it has served */
	struct tx_server prepared;	/* transaction pooling: the statements it has */
	unsigned long long sets;	/* the hash of the SETs a client left on it; 0: none */
	struct pool_conn *next;
};

/*
 * A session waiting for a server connection of a full pool, in arrival
 * order.  A connection that comes back, or the slot of one that closed,
 * goes to the first waiter (handed) under the pool's lock, and its
 * handed() tells the waiter's thread.
 */
struct pool_waiter {
	struct pool_waiter *next;	/* in the pool's queue; then in its owner's list */
	bool queued;
	bool handed;			/* conn is its own now; conn.fd -1: a slot to make one */
	int node;			/* whose queue it is in */
	struct pool_conn conn;
	void (*handed_fn)(struct pool_waiter *wt);	/* runs under the pool's lock */
	void *arg;
};

enum pool_get { POOL_CONN, POOL_NEW, POOL_WAIT };

struct pool *pool_join(const char *key, size_t len, const char *user, const char *database);
void pool_ref(struct pool *p);
void pool_leave(struct pool *p);
enum pool_get pool_get(struct pool *p, int node, unsigned gen, int max, struct pool_conn *out,
			struct pool_waiter *wt);
bool pool_unwait(struct pool *p, struct pool_waiter *wt);
bool pool_put(struct pool *p, struct pool_conn *c, int max_pool);
bool pool_park(struct pool *p, int node, int max);
bool pool_conn_quiet(const struct pool_conn *c);
const char *pool_user(const struct pool *p);
const char *pool_database(const struct pool *p);
void pool_server_gone(struct pool *p, int node);
void pool_params_set(struct pool *p, const struct pgproto_buf *params);
bool pool_params_get(struct pool *p, struct pgproto_buf *out);
void pool_conn_free(struct pool_conn *c);
void pool_cred_set(struct pool *p, const struct auth_secret *cred);
bool pool_cred_get(struct pool *p, struct auth_secret *out);
void pool_grow(int max);
void pool_expire(long long now, long long life_ms, const bool *serving, unsigned gen);
void pool_each_idle(void (*fn)(const char *user, const char *database, const struct pool_conn *c,
			       void *arg), void *arg);
void pool_close_all(void);

#endif /* PGXR_POOL_H */
