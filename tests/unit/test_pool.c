/* test_pool.c: the server connection cache keeps each node apart: its limit, its idle list, its queue */
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "../../userspace/pool.c"

/* the connections here are plain socket pairs: pool.c's TLS calls see no TLS */
void tls_free(SSL *ssl)
{
	(void)ssl;
}

ssize_t tls_send(SSL *ssl, const void *buf, size_t len)
{
	(void)ssl;
	(void)buf;
	return (ssize_t)len;
}

static int handed_calls;

static void handed(struct pool_waiter *wt)
{
	(void)wt;
	handed_calls++;
}

/* a connection to node, its peer end in *peer */
static struct pool_conn conn_to(int node, unsigned gen, int *peer)
{
	int sv[2];
	struct pool_conn c = { .fd = -1, .node = node, .gen = gen };

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0) {
		c.fd = sv[0];
		*peer = sv[1];
	}
	return c;
}

/* the peer saw its connection close (pgxr's Terminate, then end of file) */
static bool closed(int peer)
{
	char b[16];
	ssize_t n;

	while ((n = read(peer, b, sizeof(b))) > 0)
		;
	return n == 0;
}

static int t_limits(void)
{
	struct pool *p = pool_join("k1", 2, "u", "d");
	struct pool_conn out;
	struct pool_waiter wt = { .handed_fn = handed };
	struct pool_conn c0, c1;
	int peer0 = -1, peer1 = -1;

	CHECK(p, "pool_join");
	CHECK(pool_get(p, 0, 1, 1, &out, NULL) == POOL_NEW, "node 0: a slot");
	CHECK(pool_get(p, 1, 1, 1, &out, NULL) == POOL_NEW, "node 1 has a limit of its own");
	CHECK(pool_get(p, 0, 1, 1, &out, &wt) == POOL_WAIT && wt.queued && wt.node == 0,
	      "node 0 at its limit: the session waits in node 0's queue");
	CHECK(!pool_park(p, 0, 1) && pool_park(p, 1, 1) == false,
	      "nobody keeps a node 0 connection while one waits; node 1 is at its limit");
	c1 = conn_to(1, 1, &peer1);
	handed_calls = 0;
	CHECK(pool_put(p, &c1, 10) && handed_calls == 0, "node 1's connection goes idle, not to node 0's waiter");
	CHECK(pool_park(p, 1, 1), "node 1 has one idle: it may be parked");
	c0 = conn_to(0, 1, &peer0);
	CHECK(pool_put(p, &c0, 10) && handed_calls == 1 && wt.handed && wt.conn.fd == c0.fd,
	      "node 0's connection goes to its waiter");
	CHECK(pool_get(p, 1, 1, 1, &out, NULL) == POOL_CONN && out.fd == c1.fd && out.node == 1,
	      "node 1's idle connection serves node 1");
	pool_conn_free(&out);
	pool_server_gone(p, 1);
	pool_conn_free(&wt.conn);
	pool_server_gone(p, 0);
	close(peer0);
	close(peer1);
	pool_leave(p);
	return 0;
}

static int t_gone(void)
{
	struct pool *p = pool_join("k2", 2, "u", "d");
	struct pool_conn out;
	struct pool_waiter wt = { .handed_fn = handed };

	CHECK(p, "pool_join");
	CHECK(pool_get(p, 0, 1, 1, &out, NULL) == POOL_NEW && pool_get(p, 2, 1, 1, &out, NULL) == POOL_NEW,
	      "a slot on node 0 and one on node 2");
	CHECK(pool_get(p, 0, 1, 1, &out, &wt) == POOL_WAIT, "a session waits for node 0");
	handed_calls = 0;
	pool_server_gone(p, 2);
	CHECK(handed_calls == 0 && !wt.handed, "node 2's slot is not node 0's");
	pool_server_gone(p, 0);
	CHECK(handed_calls == 1 && wt.handed && wt.conn.fd == -1, "node 0's slot goes to its waiter");
	pool_server_gone(p, 0);
	CHECK(pool_get(p, 2, 1, 1, &out, NULL) == POOL_NEW, "node 2 has its slot back");
	pool_server_gone(p, 2);
	pool_leave(p);
	return 0;
}

static int t_expire(void)
{
	struct pool *p = pool_join("k3", 2, "u", "d");
	bool serving[PGXR_MAX_BACKENDS] = { [0] = true, [1] = false, [2] = true };
	struct pool_conn out, c0, c1, c2;
	int peer0 = -1, peer1 = -1, peer2 = -1;

	CHECK(p, "pool_join");
	for (int i = 0; i < 3; i++)
		CHECK(pool_get(p, i, 7, 0, &out, NULL) == POOL_NEW, "a slot on node %d", i);
	c0 = conn_to(0, 7, &peer0);
	c1 = conn_to(1, 7, &peer1);
	c2 = conn_to(2, 6, &peer2);
	CHECK(pool_put(p, &c0, 10) && pool_put(p, &c1, 10) && pool_put(p, &c2, 10), "three idle");
	pool_expire(0, 0, serving, 7);
	CHECK(!closed(peer0), "node 0 serves, in this generation: kept");
	CHECK(closed(peer1), "node 1 no longer serves: closed");
	CHECK(closed(peer2), "node 2's connection is of an older generation: closed");
	CHECK(pool_get(p, 0, 7, 0, &out, NULL) == POOL_CONN && out.fd == c0.fd, "node 0's is still there");
	pool_conn_free(&out);
	pool_server_gone(p, 0);
	close(peer0);
	close(peer1);
	close(peer2);
	pool_leave(p);
	/* nobody in it, nothing in it: the pool goes */
	pool_expire(0, 0, serving, 7);
	for (struct pool *q = pool_all; q; q = q->next)
		CHECK(q->len != 2 || memcmp(q->key, "k3", 2), "the empty pool is gone");
	return 0;
}

int main(void)
{
	tap_run("pool: max_pool, the idle list and the queue are per node", t_limits);
	tap_run("pool: a closed connection's slot goes to a waiter of its own node", t_gone);
	tap_run("pool: the main loop closes idle connections of nodes that no longer serve", t_expire);
	return tap_done();
}
