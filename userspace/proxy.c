/*
 * proxy.c: the PostgreSQL protocol proxy on proxy_port (pgpool's port).
 * num_workers threads each run an epoll loop of their own on an
 * SO_REUSEPORT listener; a client session is a small state machine that
 * relays messages to the primary over bounded buffers, in both directions,
 * with back-pressure.  With enable_pool_hba pgxr authenticates the client
 * itself (pool_hba.conf, pool_passwd) and logs in to the server with what
 * it holds or learnt; otherwise authentication passes through.  A server
 * connection whose client left cleanly is reset (reset_query_list) and
 * cached for the next client of the same user, database and parameters.
 * The main loop publishes who the primary is and pgpool's SHOW rows;
 * workers read them under a lock, once per session or SHOW, never per
 * message.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "catalog.h"
#include "classify.h"
#include "digest.h"
#include "evloop.h"
#include "health.h"
#include "log.h"
#include "node.h"
#include "pgproto.h"
#include "pool.h"
#include "proxy.h"
#include "qcache.h"
#include "show.h"
#include "splitlist.h"
#include "tls.h"
#include "txstate.h"

/* bytes buffered per direction of a session: a full buffer stops reading the other side */
#ifndef PROXY_BUF
#define PROXY_BUF 65536
#endif
/* a message pgxr must see whole (BackendKeyData, ReadyForQuery, a SHOW query) is at most this */
#define PROXY_SMALL 8192
/* PostgreSQL's own limit on a message */
#define PROXY_MAX_MSG 0x40000000u
#define PROXY_MAX_WORKERS 64
#define PROXY_EVENTS 64
/* TCP keepalives on both sockets of a session: a vanished peer is seen within about 2 minutes */
#define PROXY_KEEPIDLE 60
#define PROXY_KEEPINTVL 10
#define PROXY_KEEPCNT 6
/* how long an outgoing cancel request may take, and how many may be under way */
#define PROXY_CANCEL_MS 5000
#define PROXY_MAX_CANCELING 64
/* how long a server connection may take to run reset_query_list */
#define PROXY_RESET_MS 10000
/*
 * Transaction pooling: server connections a worker keeps in its epoll set
 * for its own next transactions, and for how long before they go back to
 * the shared pool (where SHOW, connection_life_time and the other workers
 * see them).
 */
#ifndef PROXY_PARK_MAX
#define PROXY_PARK_MAX 64
#endif
#define PROXY_PARK_MS 1000
/* classifications each worker keeps, by query text */
#define PROXY_QCACHE_ENTRIES 4096
#define PROXY_QCACHE_BYTES (4u << 20)
/* a reader that refused a connection gets none of the worker's reads for this long */
#define PROXY_SHUN_MS 2000
/* dml_adaptive: tables a transaction may write before its reads all stay on the primary */
#define PROXY_DML_TABLES 64

enum proxy_state {
	PS_STARTUP,		/* reading the startup packet (SSLRequest, CancelRequest...) */
	PS_TLS,			/* the client's TLS handshake */
	PS_AUTH,		/* pgxr authenticates the client (enable_pool_hba) */
	PS_WAITING,		/* no primary is routed (a failover): waiting for one */
	PS_CONNECTING,		/* connecting to the primary */
	PS_BTLS,		/* TLS to the server: its answer to SSLRequest, then the handshake */
	PS_LOGIN,		/* pgxr logs in to the server for an authenticated client */
	PS_RELAY,		/* relaying messages both ways */
	PS_CLOSING,		/* flushing the last bytes to the client, then closing */
};

/* the SHOW answers the main loop publishes (its data is the main thread's) */
enum proxy_answer { PA_NODES, PA_VERSION, PA_STATUS, PA_HEALTH, PA_BACKEND, PROXY_NANSWERS };

/* an IPv4 or IPv6 address and port: what a session keeps, smaller than sockaddr_storage */
union proxy_addr {
	struct sockaddr sa;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};

enum proxy_kind { PK_LISTEN, PK_WAKE, PK_CLIENT, PK_BACKEND, PK_CANCEL, PK_SERVER, PK_PARKED, PK_HELD,
		 PK_DEAD };

/* where the client is in pgxr's own authentication */
enum proxy_auth_step { AS_NONE, AS_PASSWORD, AS_MD5, AS_SCRAM_FIRST, AS_SCRAM_FINAL };

/* what an epoll event points at */
struct proxy_tag {
	enum proxy_kind kind;
	void *p;
};

/*
 * Bytes read from one side, waiting to go to the other; data is NULL
 * while empty.  Offsets are 32-bit: a buffer holds at most PROXY_BUF.
 */
struct proxy_buf {
	uint8_t *data;
	uint32_t len;
	uint32_t scan;		/* bytes before scan are checked and may be sent */
	uint32_t rest;		/* bytes of a message being streamed through, after scan */
	uint32_t reserve;	/* room left unread: transaction pooling renames in place */
	bool mid;		/* the receiver has part of a message: nothing may be slipped in */
	/*
	 * The plain socket it is read from gave less than asked: it is empty
	 * until epoll says otherwise (level-triggered, so nothing is missed),
	 * and is not read in vain meanwhile.  TLS may hold decrypted bytes: never.
	 */
	bool drained;
};

struct proxy_worker;

/*
 * A server connection's place in its worker's epoll set: the event data
 * stays this link while the connection passes from one session of the
 * worker to the next, so a pooled transaction costs no epoll_ctl.  A
 * link outlives its registration until the end of the epoll batch
 * (PK_DEAD), which may still hold an event that points at it.
 */
struct proxy_link {
	struct proxy_tag tag;	/* PK_BACKEND: tag.p is the session; PK_PARKED, PK_HELD: the link; PK_DEAD */
	unsigned events;	/* parked or held: what it is registered for */
	struct proxy_link *next;	/* the worker's parked list, a session's held list, or the dead list */
	struct proxy_sess *owner;	/* held: the session it is kept for */
	long long parked_at;
	struct pool *pool;	/* parked: the pool it counts in */
	struct pool_conn conn;	/* parked: the connection */
	int owed;		/* held: ReadyForQuery it owes pgxr (the ROLLBACK that ended a reader's transaction) */
};

/*
 * A client session and its backend connection.  10,000 idle clients
 * cost 10,000 of these: fields go by size, flags are bits.
 */
struct proxy_sess {
	struct proxy_worker *w;
	struct proxy_sess *prev, *next;
	struct proxy_tag ctag;
	struct proxy_link *blink;	/* the backend's epoll registration; NULL without one */
	struct proxy_link *held;	/* split in session pooling: its server connections not attached now */
	SSL *cssl, *bssl;	/* TLS on either side; NULL: plain */
	struct proxy_buf c2b, b2c;
	struct pgproto_buf local;	/* what pgxr says to the client itself */
	struct pgproto_buf params;	/* the server's ParameterStatus messages, for the next client */
	struct pgproto_buf lout;	/* pgxr's own messages to the server while it logs in */
	struct pgproto_buf inj;	/* pgxr's messages to go before the client's, when c2b has no room */
	uint8_t *startup;	/* the startup packet while it is read, then NULL */
	/*
	 * The split in explicit transactions: the client's BEGIN, which the
	 * node that takes the transaction runs first (pgxr answered it, or a
	 * reader runs the transaction and a write moves it to the primary)
	 */
	char *begin;
	char *lost_why;		/* the FATAL message of a reader that is closing; NULL: none */
	/*
	 * One block: the startup packet pgxr sends the server, then the pool
	 * key (NULL when connection_cache is off); user and database point
	 * into the packet.
	 */
	uint8_t *be_startup;
	char *key;
	const char *user, *database;
	const char *app;	/* application_name of the startup packet (in it); NULL: none */
	struct pool *pool;	/* joined once a server is wanted */
	struct auth_secret *cred;	/* what pgxr logs in to the server with, until it has */
	struct auth_scram *scram;	/* a SCRAM exchange under way, either side */
	struct auth_secret *authq_cred;	/* auth_query: what the client is checked against, once found */
	struct pool_waiter *qw;	/* its place in its pool's queue; made the first time it waits */
	/* ParseComplete and CloseComplete owed, and the Syncs between them, in order */
	struct proxy_owed *owed;
	struct tx_session tx;	/* statements and SETs that follow it */
	unsigned long long *dml_tabs;	/* dml_adaptive: hashes of the names of the tables its transaction wrote */
	struct tx_server prepared;	/* the statements the attached server connection has */
	unsigned long long set_hash;	/* of the SETs the client made; 0: none */
	unsigned long long server_sets;	/* set_hash of what the attached server carries */
	/*
	 * causal: the primary's WAL position after the session's last commit
	 * of a write, which a standby must have replayed to take its reads;
	 * 0: it wrote nothing; PROXY_LSN_UNKNOWN: its reads go to the primary
	 */
	unsigned long long causal_lsn;
	unsigned long long lsn_got;	/* causal: the answer to pgxr's question, as it comes */
	long long causal_until;	/* causal: monotonic ms the wait for a reader's replay ends */
	long long causal_due;	/* causal: monotonic ms the reader is asked again */
	long long deadline;	/* monotonic ms: the startup must be done by then */
	long long heard;	/* monotonic ms: the client's last bytes */
	long long born;		/* monotonic ms the server connection was made */
	long long started;	/* monotonic ms the client connected */
	long long queued_until;
	union proxy_addr caddr;	/* the client's address */
	union proxy_addr baddr;
	socklen_t baddr_len;
	int cfd, bfd;
	unsigned cev, bev;	/* epoll events asked for on each */
	uint32_t startup_len, be_startup_len, key_len;
	uint32_t local_off, lout_off, inj_off;
	int node;		/* the backend's node id */
	int read_node;		/* load balancing: the session's read node, picked once; -1: none yet */
	float pref_ratio;	/* has_pref: the share of its reads pref_node takes */
	int16_t pref_node;	/* has_pref: a node id, SPLITLIST_STANDBY or SPLITLIST_PRIMARY */
	unsigned gen;		/* the routing generation it was connected in */
	int pending;		/* queries and syncs the backend has not answered with ReadyForQuery */
	int pending_at_execute;	/* pending after the last Execute; -1 after a simple Query */
	int inject_q;		/* replayed SETs whose answers are dropped */
	uint32_t key_secret;	/* the secret pgxr gave the client, with the backend's pid */
	uint32_t key_pid;	/* the pid in the client's BackendKeyData */
	uint32_t be_pid, be_secret;	/* the backend's key */
	unsigned uses;		/* clients its server connection has served, this one included */
	int hba_line;
	int owed_head, owed_n, owed_cap;
	uint8_t md5_salt[4];
	uint8_t last_b2c;	/* the type of the backend's last message */
	uint8_t causal_gap;	/* causal: ms until the reader is asked again, doubling to 8 */
	uint8_t dml_n, dml_cap;	/* dml_tabs: used, allocated */
	char tx_status;		/* of the backend's last ReadyForQuery: 'I', 'T' or 'E' */
	/* SHOW reads state and queued from the main thread: whole fields, loaded atomically */
	enum proxy_state state;
	bool queued;		/* a message waits and the pool is full (or no primary is routed) */
	bool tls_want_write;	/* a handshake waits for its socket to take bytes (taken by address) */
	enum proxy_auth_step auth_step : 8;
	enum auth_method authq_method : 8;
	bool keyed : 1;		/* the key is in the cancel table */
	bool counted : 1;	/* holds one of max_connections */
	bool terminated : 1;	/* the client sent Terminate: the backend's EOF is expected */
	bool client_eof : 1;	/* the client closed: what it sent goes on, then the session ends */
	bool copy_in : 1;	/* COPY FROM STDIN: the server ignores Sync and Flush meanwhile */
	bool dead : 1;		/* ended; freed after the epoll batch */
	bool passthrough : 1;	/* the server authenticates the client (enable_pool_hba off) */
	bool auth_seen : 1;	/* passthrough: the server's first Authentication message went by */
	bool trusted : 1;	/* passthrough: the server let the client in without a password */
	bool authq : 1;		/* auth_query: the client's secret is looked up on the primary */
	bool authq_sent : 1;	/* the lookup query went out */
	bool holds_server : 1;	/* its server connection counts in its pool */
	/* transaction pooling */
	bool txmode : 1;	/* the server connection is held for a transaction only */
	bool greeted : 1;	/* the client had its AuthenticationOk .. ReadyForQuery */
	bool want_server : 1;	/* a message waits for a server connection */
	bool pool_queued : 1;	/* in its pool's queue (not waiting for a primary) */
	bool unsynced : 1;	/* extended-protocol messages went since the last Sync */
	/* load balancing */
	bool reading : 1;	/* the attached server runs a read the router sent to a reader */
	bool unit_done : 1;	/* reading: the unit's last message went; what follows waits for its end */
	bool wrote : 1;		/* disable_load_balance_on_write = always: a write went, reads stay on the primary */
	/*
	 * Session pooling with load_balance_mode: run as transaction pooling
	 * (server connections attached per unit, statements and SETs carried
	 * over), but the connections stay the session's own (held) until it
	 * leaves.
	 */
	bool sticky : 1;
	bool fn_ddl : 1;	/* DDL of functions or tables ran: once its transaction ends, the split reads them again */
	/* causal (disable_load_balance_on_write) */
	bool routed : 1;	/* the attached server was picked for the next unit, which has not gone yet */
	bool read_unit : 1;	/* the unit going out was routed as a read (to a reader or the primary) */
	bool causal_dirty : 1;	/* something not judged a read went to the primary: its position is due */
	bool lsn_q : 1;		/* the primary is asked its WAL position; the next unit waits */
	bool causal_ask : 1;	/* the routed reader must confirm the replay before the unit goes */
	bool causal_q : 1;	/* the reader is asked; the unit waits for the answer */
	bool causal_sleep : 1;	/* the reader had not replayed: asked again when due */
	bool causal_ok : 1;	/* its answer: replayed */
	bool causal_null : 1;	/* its answer: no replay position (not a standby now) */
	bool causal_primary : 1;	/* the reader did not replay in time: the unit goes to the primary */
	/* the split in explicit transactions */
	bool begin_owed : 1;	/* begin goes before the next unit, wherever it runs */
	bool begin_plain : 1;	/* a reader gets a plain BEGIN (the client's says READ WRITE) */
	bool tx_split : 1;	/* a reader runs the transaction; a write moves it to the primary */
	bool moved : 1;		/* the transaction moved to the primary: it ends there */
	bool explicit_tx : 1;	/* trans_transaction: a BEGIN went, the transaction has not ended */
	bool serializable : 1;	/* the session's transactions are SERIALIZABLE: none runs on a standby */
	bool has_pref : 1;	/* a redirect preference list named its read node */
	/* dml_adaptive (disable_load_balance_on_write) */
	bool dml_off : 1;	/* its transaction did what pgxr does not follow: its reads stay on the primary */
	bool dml_unit : 1;	/* the unit being routed reads no table its transaction wrote */
	bool dml_reading : 1;	/* a reader runs such a unit, outside the transaction, which the client still sees */
	bool dml_held : 1;	/* the primary's connection, in the transaction, is held meanwhile */
	bool dml_failed : 1;	/* such a read failed: the transaction fails on the primary too */
	bool dml_fail_q : 1;	/* the statement that fails it there went: its error is expected */
	bool dml_dirty : 1;	/* the reader did not end that read idle: its connection is closed */
	bool snapshot_default : 1;	/* the session's transactions are REPEATABLE READ or SERIALIZABLE */
};

/* causal_lsn of a session whose last write's position pgxr could not learn */
#define PROXY_LSN_UNKNOWN (~0ULL)

/*
 * An answer the server owes: kind '1' (ParseComplete), '3' (CloseComplete)
 * or 'Z' (the end of a Sync's batch).  ours: pgxr asked, the answer is
 * dropped.  The attached server's statement list changed when the message
 * went (name added for a Parse, removed for a Close); if the batch fails
 * before the answer, the change is undone.
 */
struct proxy_owed {
	char kind;
	bool ours;
	char name[TX_NAME_LEN];	/* empty: the list did not change */
};

/* a server connection running reset_query_list after its client left, on its way into the pool */
struct proxy_server {
	struct proxy_tag tag;
	struct pool *pool;
	struct pool_conn conn;
	struct proxy_buf in;
	int resets;		/* ReadyForQuery the reset still owes */
	char tx_status;
	long long deadline;
	struct proxy_server *prev, *next;
};

/* an outgoing CancelRequest to a backend */
struct proxy_cancel {
	struct proxy_tag tag;
	int fd;
	uint8_t pkt[16];
	bool sent;		/* waiting for the server to close: it has signalled the backend */
	int slot;		/* in proxy.canceling */
	long long deadline;
	struct proxy_cancel *next;
};

/* relay buffers kept for reuse, per worker: a busy session does not malloc per message */
#define PROXY_SPARE_BUFS 32

struct proxy_worker {
	int id;
	pthread_t thread;
	int epfd, lfd, wfd;
	struct proxy_tag ltag, wtag;
	struct proxy_sess *sessions;
	struct proxy_sess *dead;	/* ended in this batch, freed after it */
	struct proxy_cancel *cancels;
	struct proxy_server *resetting;
	/* server connections given back by this worker's sessions, still in its epoll set */
	struct proxy_link *parked;
	atomic_uint nparked;	/* written by the worker, read by others to wake it only if it holds some */
	struct proxy_link *dead_links;	/* out of the epoll set in this batch, freed after it */
	atomic_bool unpark;	/* a session of another worker waits for a pool: give them back */
	uint8_t *spare[PROXY_SPARE_BUFS];
	int nspare;
	struct qcache *qc;	/* the router's classifications; NULL: out of memory, reads stay on the primary */
	uint64_t rand;		/* xorshift state for the weighted pick of read nodes */
	long long shun[PGXR_MAX_BACKENDS];	/* monotonic ms: until then the node gets no reads of this worker */
	/* causal: sessions whose reader had not replayed, to be asked again when due */
	struct proxy_sess **polls;
	int npolls, polls_cap;
	bool sweep_now;		/* the main loop published a new primary */
	/* waiting sessions that other threads handed a server connection (or a slot) */
	pthread_mutex_t hlock;
	struct pool_waiter *handed;
	bool kick;		/* this thread handed one: serve it after the event */
	atomic_bool resweep;	/* the main loop published a new primary: sweep at the wake-up */
	atomic_bool sleeping;	/* in epoll_wait: a hand-over writes to its eventfd */
	/* guards the session list, each session's user and database, and the parked list, for SHOW and pgxrctl */
	pthread_mutex_t lock;
	pid_t tid;		/* pool_pid in SHOW pool_processes */
	long long started;	/* wall ms */
	unsigned long long accepted;	/* client_connection_count */
	/* pool_backend_stats: written by this worker, read by the main loop */
	unsigned long long counts[PGXR_MAX_BACKENDS][SHOW_CNT_N];
	bool paused;		/* the listener rests: out of descriptors */
	atomic_bool stop;
};

/*
 * The worker slots, mostly pool_backend_stats counters: zero-initialised
 * in .bss, where the slots of workers that do not run cost no memory (in
 * the initialised proxy state they would be file pages, faulted in).
 */
static struct proxy_worker proxy_workers[PROXY_MAX_WORKERS];

/* a node as the workers route to it, published by the main loop */
struct proxy_node {
	union proxy_addr addr;	/* family 0: not configured */
	socklen_t addr_len;
	bool reads;		/* up, not lagging, weight > 0: load_balance_mode may send it reads */
	bool lagging;		/* a standby that would take reads but for delay_threshold */
	long long lag;		/* a standby's lag, in delay_threshold's unit (ms or bytes); unknown: LLONG_MAX */
	double weight;		/* backend_weight */
	char host[256];		/* backend_hostname, for backend_sslmode verify-full */
};

/* a key pgxr gave a client, and the backend's key it stands for */
struct proxy_key {
	uint32_t pid, secret;
	uint32_t be_pid, be_secret;
	union proxy_addr addr;
	socklen_t addr_len;
	struct proxy_key *next;
};

#define PROXY_KEY_BUCKETS 4096

/*
 * What the workers share.  The lock guards the routing target, the SHOW
 * rows and the cancel keys; the main thread writes the first two, workers
 * read them once per session or SHOW.  The limits are copied from the
 * configuration by the main thread, so that a reload never races a worker.
 */
static struct {
	int nworkers;
	struct proxy_worker *workers;	/* proxy_workers: kept out of .data, see there */
	/* taken per pooled transaction (the cancel key): adaptive, as pool_lock */
	pthread_mutex_t lock;
	/* the primary writes go to */
	int node;
	atomic_uint gen;	/* bumped when the primary changes */
	struct proxy_node nodes[PGXR_MAX_BACKENDS];
	/* the SHOW answers the main loop builds, as RowDescription and DataRows */
	struct pgproto_buf answers[PROXY_NANSWERS];
	long long answers_at;	/* main thread: when they were last built */
	struct proxy_key *keys[PROXY_KEY_BUCKETS];
	/* backends a cancel request is on its way to: their connections serve no other client */
	uint32_t canceling[PROXY_MAX_CANCELING];
	atomic_int clients;	/* sessions holding a max_connections slot */
	atomic_int sockets;	/* sessions accepted, in their startup or not */
	struct pgproto_buf too_many;	/* FATAL 53300, for a connection refused before its startup */
	atomic_int max_connections, authentication_timeout, client_idle_limit;
	atomic_int max_pool;
	atomic_bool connection_cache;
	atomic_bool pool_transaction;
	atomic_bool plus_said[PGXR_MAX_BACKENDS];	/* a SCRAM-PLUS login to the node was logged */
	atomic_int query_wait_timeout, max_prepared_statements;
	/* the read/write split's settings */
	atomic_bool load_balance, lb_statement, allow_sql_comments, check_unlogged_table;
	atomic_bool prefer_lower_delay;
	atomic_int lb_on_write;
	atomic_int causal_read_timeout;
	/*
	 * causal: the WAL position each node is known to have replayed, the
	 * highest a wait on it confirmed; zeroed while it takes no reads (a
	 * node rewound or rebuilt comes back through there).
	 */
	_Atomic unsigned long long replayed[PGXR_MAX_BACKENDS];
	char auth_user[64];	/* auth_query's user; empty: no lookups */
	char auth_query[1024];
	/* reset_query_list as Query messages, and how many */
	struct pgproto_buf reset;
	int nreset;
	char reset_src[1024];	/* main thread: the list they were made from */
	long long expired_at;	/* main thread: the last pool_expire() */
	/* workers tell the main loop which node to check at once */
	int check_pipe[2];
	struct evloop_fd *check_ev;
	const struct pgxr_config *cfg;	/* main thread only */
	bool started;
} proxy = { .workers = proxy_workers, .lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP, .node = -1,
	     .check_pipe = { -1, -1 } };

static long long proxy_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* a monotonic time of this process as wall-clock ms */
static long long proxy_wall(long long mono)
{
	struct timespec ts;

	if (!mono)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000 - (proxy_now() - mono);
}

/* recv() and send(), through TLS when the socket has it */
static ssize_t proxy_recv(int fd, SSL *ssl, void *buf, size_t len)
{
	return ssl ? tls_recv(ssl, buf, len) : recv(fd, buf, len, 0);
}

static ssize_t proxy_send(int fd, SSL *ssl, const void *buf, size_t len)
{
	return ssl ? tls_send(ssl, buf, len) : send(fd, buf, len, MSG_NOSIGNAL);
}

/* ---- keys for CancelRequest ---- */

static unsigned proxy_key_bucket(uint32_t pid)
{
	return (pid * 2654435761u) % PROXY_KEY_BUCKETS;
}

static void proxy_key_add(struct proxy_sess *s)
{
	struct proxy_key *k = calloc(1, sizeof(*k));
	unsigned b;

	if (!k)
		return;
	k->pid = s->key_pid;
	k->secret = s->key_secret;
	k->be_pid = s->be_pid;
	k->be_secret = s->be_secret;
	k->addr = s->baddr;
	k->addr_len = s->baddr_len;
	b = proxy_key_bucket(k->pid);
	pthread_mutex_lock(&proxy.lock);
	k->next = proxy.keys[b];
	proxy.keys[b] = k;
	pthread_mutex_unlock(&proxy.lock);
}

static void proxy_key_del(uint32_t pid, uint32_t secret)
{
	struct proxy_key **pp;

	pthread_mutex_lock(&proxy.lock);
	for (pp = &proxy.keys[proxy_key_bucket(pid)]; *pp; pp = &(*pp)->next) {
		if ((*pp)->pid == pid && (*pp)->secret == secret) {
			struct proxy_key *k = *pp;

			*pp = k->next;
			free(k);
			break;
		}
	}
	pthread_mutex_unlock(&proxy.lock);
}

/* under proxy.lock: a cancel request is on its way to backend be_pid */
static bool proxy_canceling_locked(uint32_t be_pid)
{
	for (int i = 0; i < PROXY_MAX_CANCELING && be_pid; i++)
		if (proxy.canceling[i] == be_pid)
			return true;
	return false;
}

/*
 * Transaction pooling: the key now stands for the attached server, or for
 * none; true when a cancel is on its way to backend left, the one the
 * session just gave back (0: none), under the same lock as the lookup of
 * the key by a cancel: either that cancel found left, or it finds nothing.
 */
static bool proxy_key_server(struct proxy_sess *s, uint32_t left)
{
	bool canceling;

	if (!s->keyed)
		return false;
	pthread_mutex_lock(&proxy.lock);
	for (struct proxy_key *k = proxy.keys[proxy_key_bucket(s->key_pid)]; k; k = k->next) {
		if (k->pid == s->key_pid && k->secret == s->key_secret) {
			k->be_pid = s->bfd >= 0 ? s->be_pid : 0;
			k->be_secret = s->be_secret;
			k->addr = s->baddr;
			k->addr_len = s->baddr_len;
			break;
		}
	}
	canceling = proxy_canceling_locked(left);
	pthread_mutex_unlock(&proxy.lock);
	return canceling;
}

/* ---- epoll helpers ---- */

/* in a session's cev/bev: the socket is in the epoll set, whatever it waits for */
#define PROXY_REGISTERED (1u << 27)

static void proxy_watch(struct proxy_worker *w, int fd, unsigned *have, unsigned want,
			struct proxy_tag *tag)
{
	struct epoll_event ev = { .events = want, .data.ptr = tag };

	want |= PROXY_REGISTERED;
	if (fd < 0 || *have == want)
		return;
	if (epoll_ctl(w->epfd, *have ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) == 0)
		*have = want;
	else
		log_debug("proxy: epoll_ctl: %s", strerror(errno));
}

/* ---- buffers ---- */

static uint8_t *proxy_buf_get(struct proxy_worker *w)
{
	return w->nspare ? w->spare[--w->nspare] : malloc(PROXY_BUF);
}

/* an empty buffer goes back to the worker: an idle session holds none */
static void proxy_buf_put(struct proxy_worker *w, struct proxy_buf *b)
{
	if (!b->data || b->len)
		return;
	if (w->nspare < PROXY_SPARE_BUFS)
		w->spare[w->nspare++] = b->data;
	else
		free(b->data);
	b->data = NULL;
	b->scan = 0;
}

/* ---- links: server connections in a worker's epoll set ---- */

/* the session's new server connection gets a registration of its own (bev 0: not in the set yet) */
static bool proxy_link_drop_of(struct proxy_sess *s);

static bool proxy_link_new(struct proxy_sess *s)
{
	struct proxy_link *l = calloc(1, sizeof(*l));

	proxy_link_drop_of(s);
	if (!l)
		return false;
	l->tag = (struct proxy_tag){ PK_BACKEND, s };
	s->blink = l;
	s->bev = 0;
	return true;
}

/* the link left the epoll set (closed, deleted, or registered under another tag) */
static void proxy_link_drop(struct proxy_worker *w, struct proxy_link *l)
{
	l->tag.kind = PK_DEAD;
	l->next = w->dead_links;
	w->dead_links = l;
}

/* the session's link, if it has one; true if it had */
static bool proxy_link_drop_of(struct proxy_sess *s)
{
	if (!s->blink)
		return false;
	proxy_link_drop(s->w, s->blink);
	s->blink = NULL;
	return true;
}

static void proxy_close_backend(struct proxy_sess *s);
static void proxy_pump(struct proxy_sess *s);
static void proxy_causal_unpoll(struct proxy_sess *s);
static bool proxy_canceling(uint32_t be_pid);
static void proxy_unqueue(struct proxy_sess *s);
static bool proxy_tx_idle(const struct proxy_sess *s);
static void proxy_tx_detach(struct proxy_sess *s, int owed);
static void proxy_tx_set_aside(struct proxy_sess *s, int owed, bool hold);
static bool proxy_dml(void);
static bool proxy_dml_unit(struct proxy_sess *s, bool note);
static void proxy_dml_leave(struct proxy_sess *s);
static void proxy_dml_end(struct proxy_sess *s);
static bool proxy_dml_done(const struct proxy_sess *s);
static bool proxy_read_failed(struct proxy_sess *s, const char *why);
static void proxy_note_write(struct proxy_sess *s, const uint8_t *sql, size_t room);
static const struct classify *proxy_classify(struct proxy_sess *s, const uint8_t *sql, size_t room);
static bool proxy_split_begin_ok(const struct proxy_sess *s, const struct classify *c, bool own_text);
static bool proxy_unit_reads(struct proxy_sess *s, bool in_tx, const char **begin, uint32_t *begin_flags);
static int proxy_sticky_switch(struct proxy_sess *s);
static void proxy_held_end(struct proxy_sess *s, struct proxy_link *l, bool keep);
static void proxy_hold(struct proxy_sess *s, struct proxy_link *l, struct pool_conn *c, unsigned ev,
		       int owed);

/* ---- server connections on their way into the pool ---- */

/*
 * The server connection of a session that ends can serve another client:
 * logged in, cacheable, every message it was sent answered, nothing of a
 * message half sent either way, no COPY under way.
 */
static bool proxy_releasable(const struct proxy_sess *s)
{
	/* causal: a client that leaves while its primary is asked its position leaves it reusable */
	bool owed_ours = s->lsn_q && s->pending == s->inject_q && !s->b2c.len &&
			 s->inj_off == s->inj.len;

	return s->pool && s->bfd >= 0 && s->state == PS_RELAY && s->be_pid &&
	       (s->pending == 0 || owed_ours) &&
	       !s->c2b.scan && !s->c2b.rest && !s->c2b.mid && !s->b2c.rest && !s->copy_in &&
	       (!s->passthrough || s->trusted) && atomic_load(&proxy.connection_cache) &&
	       atomic_load(&proxy.max_pool) > 0;
}

static void proxy_server_free(struct proxy_worker *w, struct proxy_server *v, bool keep)
{
	if (v->prev)
		v->prev->next = v->next;
	else
		w->resetting = v->next;
	if (v->next)
		v->next->prev = v->prev;
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, v->conn.fd, NULL);
	v->in.len = 0;
	proxy_buf_put(w, &v->in);
	v->conn.idle_since = proxy_now();
	/* in transaction pooling max_pool bounds all a pool's connections, not the idle ones */
	if (!keep || proxy_canceling(v->conn.be_pid) ||
	    !pool_put(v->pool, &v->conn, atomic_load(&proxy.pool_transaction) ?
		      INT_MAX : atomic_load(&proxy.max_pool))) {
		pool_conn_free(&v->conn);
		pool_server_gone(v->pool, v->conn.node);
	}
	pool_leave(v->pool);
	free(v);
}

/*
 * The session's server connection runs reset_query_list (each item a
 * Query, sent at once: a few bytes into an idle socket) and waits alone
 * for the answers; the session takes its pool membership with it.
 */
/*
 * A server connection of pool p whose client is done with it (c, its
 * epoll registration bev): reset_query_list goes out (unless !reset),
 * and it joins the pool once answered.  It takes a reference to p of its
 * own.  False when nothing was sent (the caller still owns c).
 */
static bool proxy_server_reset(struct proxy_worker *w, struct pool *p, struct pool_conn *c,
			       unsigned bev, bool txmode, bool reset, char tx_status, int owed)
{
	struct proxy_server *v = calloc(1, sizeof(*v));
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct pgproto_buf q = {};

	if (!v)
		return false;
	/* the answers still owed to pgxr's own question (causal, a ROLLBACK) are read and dropped first */
	v->resets = owed;
	pthread_mutex_lock(&proxy.lock);
	if (reset) {
		pgproto_raw(&q, proxy.reset.data, proxy.reset.len);
		v->resets += proxy.nreset;
	}
	pthread_mutex_unlock(&proxy.lock);
	if (txmode && reset) {
		/* whatever reset_query_list says, a connection shared by transactions forgets all */
		pgproto_message(&q, 'Q', "RESET ALL", 10);
		pgproto_message(&q, 'Q', "DEALLOCATE ALL", 15);
		v->resets += 2;
	}
	if (q.failed || (q.len && proxy_send(c->fd, c->ssl, q.data, q.len) != (ssize_t)q.len)) {
		pgproto_buf_free(&q);
		free(v);
		return false;
	}
	pgproto_buf_free(&q);
	v->tag = (struct proxy_tag){ PK_SERVER, v };
	pool_ref(p);
	v->pool = p;
	v->conn = *c;
	/* the reset discards the statements and settings a client left (DISCARD ALL, or RESET ALL and DEALLOCATE ALL) */
	if (reset) {
		v->conn.sets = 0;
		tx_server_free(&v->conn.prepared);
	}
	v->conn.next = NULL;
	v->tx_status = 'I';
	v->deadline = proxy_now() + PROXY_RESET_MS;
	ev.data.ptr = &v->tag;
	if (epoll_ctl(w->epfd, bev ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, v->conn.fd, &ev))
		log_debug("proxy: epoll_ctl: %s", strerror(errno));
	v->next = w->resetting;
	if (w->resetting)
		w->resetting->prev = v;
	w->resetting = v;
	/* nothing to reset with: only a connection the client left outside a transaction is kept */
	if (!v->resets)
		proxy_server_free(w, v, tx_status == 'I');
	return true;
}

static void proxy_server_release(struct proxy_sess *s)
{
	struct pool_conn c = {
		.fd = s->bfd, .ssl = s->bssl, .node = s->node, .gen = s->gen, .be_pid = s->be_pid,
		.be_secret = s->be_secret, .params = s->params, .born = s->born, .uses = s->uses,
	};

	if (!proxy_server_reset(s->w, s->pool, &c, s->bev, s->txmode, true, s->tx_status,
				s->lsn_q ? s->pending : 0))
		return;
	tx_server_free(&s->prepared);
	s->holds_server = false;
	memset(&s->params, 0, sizeof(s->params));
	pool_leave(s->pool);
	s->pool = NULL;
	s->bssl = NULL;
	s->bfd = -1;
	s->b2c.drained = false;
	s->bev = 0;
	proxy_link_drop_of(s);
}

static uint8_t *proxy_next(struct proxy_buf *b, uint32_t *mlen);
static ssize_t proxy_read(struct proxy_worker *w, int fd, SSL *ssl, struct proxy_buf *b);

/*
 * The answers to the reset: a ReadyForQuery per query, then the
 * connection is idle ('I') and goes into the pool.  An error, or a
 * server that closes, and it is closed instead.
 */
static void proxy_server_event(struct proxy_worker *w, struct proxy_server *v)
{
	struct proxy_buf *b = &v->in;
	uint32_t mlen;
	uint8_t *m;
	ssize_t n;

	while ((n = proxy_read(w, v->conn.fd, v->conn.ssl, b)) > 0) {
		while ((m = proxy_next(b, &mlen))) {
			size_t avail = b->len - b->scan;

			if (mlen < 4 || mlen > PROXY_MAX_MSG || m[0] == 'E' ||
			    ((m[0] == 'Z' || m[0] == 'S') && mlen + 1 > PROXY_SMALL)) {
				proxy_server_free(w, v, false);
				return;
			}
			if (m[0] == 'Z' || m[0] == 'S') {
				if (avail < mlen + 1)
					break;
				if (m[0] == 'Z') {
					v->tx_status = mlen == 5 ? m[5] : '?';
					v->resets--;
				} else {
					pgproto_params_set(&v->conn.params, m, mlen + 1);
				}
				b->scan += mlen + 1;
				continue;
			}
			b->scan += 5;
			b->rest = mlen - 4;
		}
		memmove(b->data, b->data + b->scan, b->len - b->scan);
		b->len -= b->scan;
		b->scan = 0;
		if (v->resets <= 0) {
			proxy_server_free(w, v, !b->len && !b->rest && v->tx_status == 'I');
			return;
		}
	}
	if (n == 0 || n == -1)
		proxy_server_free(w, v, false);
}

/* ---- sessions ---- */

/*
 * Ends a session: its sockets close and it leaves the list at once, but
 * its memory waits for the end of the epoll batch, which may still hold
 * an event of its other socket.  A server connection that can serve
 * another client is reset and cached instead of closed.
 */
static void proxy_sess_free(struct proxy_sess *s)
{
	struct proxy_worker *w = s->w;

	if (s->dead)
		return;
	proxy_causal_unpoll(s);
	if (proxy_tx_idle(s))
		proxy_tx_detach(s, 0);
	else if (proxy_releasable(s))
		proxy_server_release(s);
	while (s->held)
		proxy_held_end(s, s->held, true);
	proxy_close_backend(s);
	proxy_unqueue(s);
	if (s->pool)
		pool_leave(s->pool);
	s->pool = NULL;
	pthread_mutex_lock(&w->lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		w->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&w->lock);
	tls_free(s->cssl);
	tls_free(s->bssl);
	s->cssl = s->bssl = NULL;
	if (s->cfd >= 0)
		close(s->cfd);
	if (s->bfd >= 0)
		close(s->bfd);
	proxy_link_drop_of(s);
	s->cfd = s->bfd = -1;
	s->b2c.drained = false;
	if (s->keyed)
		proxy_key_del(s->key_pid, s->key_secret);
	if (s->counted)
		atomic_fetch_sub(&proxy.clients, 1);
	atomic_fetch_sub(&proxy.sockets, 1);
	s->c2b.len = s->b2c.len = 0;
	proxy_buf_put(w, &s->c2b);
	proxy_buf_put(w, &s->b2c);
	free(s->startup);
	free(s->begin);
	free(s->lost_why);
	free(s->be_startup);	/* the key, the user and the database with it */
	pgproto_buf_free(&s->params);
	if (s->cred)
		explicit_bzero(s->cred, sizeof(*s->cred));
	if (s->scram)
		explicit_bzero(s->scram, sizeof(*s->scram));
	free(s->cred);
	free(s->scram);
	if (s->authq_cred)
		explicit_bzero(s->authq_cred, sizeof(*s->authq_cred));
	free(s->authq_cred);
	pgproto_buf_free(&s->local);
	pgproto_buf_free(&s->lout);
	pgproto_buf_free(&s->inj);
	free(s->owed);
	free(s->dml_tabs);
	free(s->qw);
	tx_session_free(&s->tx);
	tx_server_free(&s->prepared);
	s->dead = true;
	s->next = w->dead;
	w->dead = s;
}

/* after an epoll batch: the memory of the sessions it ended */
static void proxy_bury(struct proxy_worker *w)
{
	while (w->dead) {
		struct proxy_sess *s = w->dead;

		w->dead = s->next;
		free(s);
	}
	while (w->dead_links) {
		struct proxy_link *l = w->dead_links;

		w->dead_links = l->next;
		free(l);
	}
}

/* the main loop checks node id at once: a session saw it go away */
static void proxy_check_node(int id)
{
	if (id >= 0 && proxy.check_pipe[1] >= 0 &&
	    write(proxy.check_pipe[1], &id, sizeof(id)) != sizeof(id))
		log_debug("proxy: could not ask for a check of node %d", id);
}

static void proxy_close_backend(struct proxy_sess *s)
{
	tls_free(s->bssl);
	s->bssl = NULL;
	if (s->bfd >= 0) {
		close(s->bfd);
		s->bfd = -1;
		s->b2c.drained = false;
		s->bev = 0;
	}
	proxy_link_drop_of(s);
	if (s->holds_server && s->pool)
		pool_server_gone(s->pool, s->node);
	s->holds_server = false;
}

/*
 * The session ends: what the backend said in whole messages goes to the
 * client first, then this FATAL ErrorResponse, then the socket closes.
 * NULL sqlstate: no message of pgxr's (the backend said why itself).
 */
static void proxy_fatal(struct proxy_sess *s, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void proxy_fatal(struct proxy_sess *s, const char *sqlstate, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	proxy_close_backend(s);
	/* what follows the last whole message of the backend is cut */
	s->b2c.len = s->b2c.scan;
	if (s->b2c.rest) {
		/* the client holds part of a message: nothing of pgxr's can follow it */
		s->b2c.rest = 0;
		sqlstate = NULL;
		if (!s->local_off)
			s->local.len = 0;
	}
	s->c2b.len = s->c2b.scan = 0;
	s->c2b.rest = 0;
	proxy_buf_put(s->w, &s->c2b);
	if (sqlstate) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		pgproto_error(&s->local, "FATAL", sqlstate, "%s", msg);
	}
	s->state = PS_CLOSING;
	s->deadline = proxy_now() + 1000;
}

/* the message types a frontend may send once started */
static bool proxy_client_type(uint8_t t)
{
	return t && strchr("QPBEDCSHFdcfpX", t);
}

/* the backend owes a ReadyForQuery for each of these */
static bool proxy_awaits_ready(uint8_t t)
{
	return t == 'Q' || t == 'S' || t == 'F';
}

static int proxy_show_find(const char *what);
static void proxy_show(struct proxy_sess *s, int show, const char *what);
static bool proxy_local_pending(const struct proxy_sess *s);

/*
 * The next message header in b, once the rest of a message streamed
 * through is passed over; NULL until its 5 bytes are in.
 */
static uint8_t *proxy_next(struct proxy_buf *b, uint32_t *mlen)
{
	size_t avail = b->len - b->scan;

	if (b->rest) {
		uint32_t n = avail < b->rest ? avail : b->rest;

		b->scan += n;
		b->rest -= n;
		avail -= n;
	}
	if (b->rest || avail < 5)
		return NULL;
	*mlen = pgproto_get32(b->data + b->scan + 1);
	return b->data + b->scan;
}

/* ---- transaction pooling: what goes to the server besides the client's messages ---- */

/* an answer the server owes (see struct proxy_owed); name: the statement list changed for it */
static int proxy_owe(struct proxy_sess *s, char kind, bool ours, const char *name)
{
	struct proxy_owed *e;

	if (s->owed_n == s->owed_cap) {
		int cap = s->owed_cap ? 2 * s->owed_cap : 16;
		struct proxy_owed *o = malloc(cap * sizeof(*o));

		if (!o)
			return -ENOMEM;
		for (int i = 0; i < s->owed_n; i++)
			o[i] = s->owed[(s->owed_head + i) % s->owed_cap];
		free(s->owed);
		s->owed = o;
		s->owed_head = 0;
		s->owed_cap = cap;
	}
	e = &s->owed[(s->owed_head + s->owed_n) % s->owed_cap];
	e->kind = kind;
	e->ours = ours;
	snprintf(e->name, sizeof(e->name), "%s", name ? name : "");
	s->owed_n++;
	return 0;
}

static struct proxy_owed *proxy_owed_front(struct proxy_sess *s)
{
	return s->owed_n ? &s->owed[s->owed_head] : NULL;
}

static void proxy_owed_drop(struct proxy_sess *s)
{
	s->owed_head = (s->owed_head + 1) % s->owed_cap;
	s->owed_n--;
}

/* the server answered a Parse or Close: 1 when it was pgxr's own */
static int proxy_owed_pop(struct proxy_sess *s, char kind)
{
	struct proxy_owed *e = proxy_owed_front(s);
	int ours;

	if (!e || e->kind != kind)
		return 0;
	ours = e->ours;
	proxy_owed_drop(s);
	return ours;
}

/*
 * An error: the server skips to the next Sync, so what it owed before that
 * never comes, and the statement list changes those messages made are undone.
 * ReadyForQuery (end): the batch's marker goes too.
 */
static void proxy_owed_skip(struct proxy_sess *s, bool end)
{
	struct proxy_owed *e;

	while ((e = proxy_owed_front(s)) && e->kind != 'Z') {
		if (e->name[0] && e->kind == '1')
			tx_server_del(&s->prepared, e->name);
		else if (e->name[0] && e->kind == '3')
			tx_server_add(&s->prepared, e->name, 0, (char[TX_NAME_LEN]){});
		proxy_owed_drop(s);
	}
	if (end && e)
		proxy_owed_drop(s);
}

/* replaces len bytes at off of b by nlen bytes of data; false when b has no room */
static bool proxy_splice(struct proxy_buf *b, size_t off, size_t len, const void *data,
			 size_t nlen)
{
	if (off + len > b->len || b->len - len + nlen > PROXY_BUF)
		return false;
	memmove(b->data + off + nlen, b->data + off + len, b->len - off - len);
	memcpy(b->data + off, data, nlen);
	b->len = b->len - len + nlen;
	return true;
}

/*
 * Messages of pgxr's to go to the server before the client's message at
 * c2b.scan; false: no room now (the caller waits for c2b to drain).  Room
 * for the rename of that message is always left.
 */
static bool proxy_inject(struct proxy_sess *s, const void *msg, size_t len)
{
	struct proxy_buf *b = &s->c2b;

	if (b->len + len + 2 * TX_NAME_LEN <= PROXY_BUF) {
		proxy_splice(b, b->scan, 0, msg, len);
		b->scan += len;
		return true;
	}
	if (b->scan)
		return false;
	/* nothing of the client's is before it: the messages go out first, from a buffer of their own */
	pgproto_raw(&s->inj, msg, len);
	return !s->inj.failed;
}

/* a Close of a server-side statement, as a message */
static void proxy_close_msg(struct pgproto_buf *o, const char *name)
{
	uint8_t body[1 + TX_NAME_LEN];

	body[0] = 'S';
	memcpy(body + 1, name, TX_NAME_LEN);
	pgproto_message(o, 'C', body, sizeof(body));
}

/*
 * The server name of the client's statement name, prepared on the
 * attached server first when it has not got it (and the least recently
 * used one closed past max_prepared_statements).  *server NULL: not a
 * statement the client parsed.  1: no room, wait.
 */
static int proxy_tx_ensure(struct proxy_sess *s, const char *name, const char **server)
{
	const struct tx_stmt *st = tx_stmt_find(&s->tx, name);
	int max = atomic_load(&proxy.max_prepared_statements);
	struct pgproto_buf o = {};
	char evicted[TX_NAME_LEN] = "";
	bool ok;

	*server = st ? st->server : NULL;
	if (!st || tx_server_has(&s->prepared, st->server))
		return 0;
	if (max > 0 && s->prepared.n >= max) {
		memcpy(evicted, s->prepared.names[0], TX_NAME_LEN);
		proxy_close_msg(&o, evicted);
	}
	pgproto_raw(&o, st->parse, st->parse_len);
	ok = !o.failed && proxy_inject(s, o.data, o.len);
	pgproto_buf_free(&o);
	if (!ok)
		return 1;
	if (evicted[0]) {
		proxy_owe(s, '3', true, evicted);
		tx_server_del(&s->prepared, evicted);
	}
	proxy_owe(s, '1', true, st->server);
	tx_server_add(&s->prepared, st->server, 0, evicted);
	return 0;
}

/*
 * Room in c2b for a rename of the message at scan: at scan 0 there always
 * is (reads leave c2b.reserve free), else the caller waits for a drain.
 */
static bool proxy_tx_room(const struct proxy_sess *s)
{
	return s->c2b.len + TX_NAME_LEN <= PROXY_BUF;
}

/* the client's statement name at off (len bytes) in c2b becomes its server name; room was checked */
static void proxy_tx_rename(struct proxy_sess *s, size_t off, size_t len, const char *server,
			    uint32_t *mlen)
{
	struct proxy_buf *b = &s->c2b;
	size_t n = strlen(server);

	if (!proxy_splice(b, off, len, server, n))
		return;
	*mlen += n - len;
	pgproto_put32(b->data + b->scan + 1, *mlen);
}

static unsigned long long proxy_sets_hash(const struct tx_session *t)
{
	unsigned long long h = 1469598103934665603ULL;

	if (!t->nsets)
		return 0;
	for (int i = 0; i < t->nsets; i++)
		for (const char *p = t->sets[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h | 1;
}

static void proxy_tx_pin(struct proxy_sess *s, const char *why);

/*
 * The SQL of a Query or an unnamed Parse, its first have bytes (whole: all
 * of it): what pins the session (a long text by its beginning), and, when
 * whole, the SETs kept and a DISCARD ALL or DEALLOCATE ALL that empties
 * the server's statements.
 */
static void proxy_tx_text(struct proxy_sess *s, const uint8_t *sql, size_t have, bool whole)
{
	char text[PROXY_SMALL + 1];
	const char *why;

	if (have > PROXY_SMALL)
		have = PROXY_SMALL;
	memcpy(text, sql, have);
	text[have] = '\0';
	if ((why = tx_pin_reason(text)))
		proxy_tx_pin(s, why);
	if (!whole)
		return;
	if (tx_set_track(&s->tx, text) > 0)
		s->set_hash = s->server_sets = proxy_sets_hash(&s->tx);
	if (tx_discards(text)) {
		tx_server_free(&s->prepared);
		while (s->tx.stmts)
			tx_stmt_forget(&s->tx, s->tx.stmts->name);
	}
}

static void proxy_tx_pin(struct proxy_sess *s, const char *why)
{
	if (s->tx.pin)
		return;
	s->tx.pin = why;
	/* inside BEGIN READ ONLY on a reader: the session stays there, and its writes fail there */
	if (s->reading)
		log_warning("proxy: user \"%s\" pinned to read node %d (%s): its writes will fail there",
			    s->user, s->node, why);
	log_debug("proxy: user \"%s\" pinned to its server connection (%s)", s->user, why);
}

/*
 * One message of the client, at c2b.scan, on its way to the attached
 * server: what pins the session is noted, SETs kept, named statements
 * renamed and prepared where needed, Parse and Close answers expected.
 * 0: go on with it (its length in *mlen); 1: wait for more bytes or room;
 * -1: the session ended.
 */
static int proxy_tx_c2b(struct proxy_sess *s, uint32_t *mlen)
{
	struct proxy_buf *b = &s->c2b;
	uint8_t *m = b->data + b->scan;
	size_t avail = b->len - b->scan, whole = *mlen + 1;
	char text[PROXY_SMALL + 1];
	const char *server, *why;
	int ret;

	switch (m[0]) {
	case 'Q':
		if (avail < whole && avail < PROXY_SMALL)
			return 1;
		proxy_tx_text(s, m + 5, (avail < whole ? avail : whole) - 5, avail >= whole);
		if (avail >= whole)
			proxy_note_write(s, m + 5, *mlen - 4);
		return 0;
	case 'P': {
		uint8_t *out;
		size_t out_len;
		const char *query;
		char evicted[TX_NAME_LEN] = "";
		struct pgproto_buf o = {};
		const struct tx_stmt *st;
		bool ok = true, closed;

		if (*mlen < 8)
			return 0;	/* not a valid one: the server says so */
		if (avail < 6)
			return 1;
		if (!m[5]) {
			/* unnamed: it lives on this server until the next Sync, as it is */
			if (avail < whole && avail < PROXY_SMALL)
				return 1;
			proxy_tx_text(s, m + 6, (avail < whole ? avail : whole) - 6, avail >= whole);
			if (avail >= whole)
				proxy_note_write(s, m + 6, *mlen - 5);
			return proxy_owe(s, '1', false, NULL) ? -1 : 0;
		}
		if (whole + 2 * TX_NAME_LEN > PROXY_BUF - b->reserve) {
			proxy_fatal(s, "54000", "a Parse message of %u bytes is too large for pgxr's transaction pooling (at most %d)",
				    *mlen + 1, (int)(PROXY_BUF - b->reserve - 2 * TX_NAME_LEN));
			return -1;
		}
		if (avail < whole)
			return 1;
		query = memchr(m + 5, '\0', *mlen - 4) ? (const char *)m + 5 + strlen((char *)m + 5) + 1 : NULL;
		if (query && memchr(query, '\0', (const char *)m + whole - query) && (why = tx_pin_reason(query)))
			proxy_tx_pin(s, why);
		if (query)
			proxy_note_write(s, (const uint8_t *)query, (const char *)m + whole - query);
		ret = tx_parse(&s->tx, m, whole, &out, &out_len);
		if (ret < 0) {
			proxy_fatal(s, "08P01", "invalid Parse message");
			return -1;
		}
		if (ret == 0)
			return proxy_owe(s, '1', false, NULL) ? -1 : 0;
		if (!proxy_tx_room(s))
			return 1;
		st = tx_stmt_find(&s->tx, (const char *)m + 5);
		/* a name parsed again on a server that has it: closed first, as the client expects */
		if (tx_server_has(&s->prepared, st->server)) {
			proxy_close_msg(&o, st->server);
		} else if (atomic_load(&proxy.max_prepared_statements) > 0 &&
			   s->prepared.n >= atomic_load(&proxy.max_prepared_statements)) {
			memcpy(evicted, s->prepared.names[0], TX_NAME_LEN);
			proxy_close_msg(&o, evicted);
		}
		closed = o.len > 0;
		if (closed)
			ok = !o.failed && proxy_inject(s, o.data, o.len);
		pgproto_buf_free(&o);
		if (!ok)
			return 1;
		if (closed && evicted[0]) {
			proxy_owe(s, '3', true, evicted);
			tx_server_del(&s->prepared, evicted);
		} else if (closed) {
			/* closed and parsed again: the list ends as it was */
			proxy_owe(s, '3', true, NULL);
		}
		if (!proxy_splice(b, b->scan, whole, out, out_len))
			return 1;	/* not reached: proxy_inject() leaves the room */
		*mlen = out_len - 1;
		if (tx_server_has(&s->prepared, st->server))
			return proxy_owe(s, '1', false, NULL) ? -1 : 0;
		tx_server_add(&s->prepared, st->server, 0, evicted);
		return proxy_owe(s, '1', false, st->server) ? -1 : 0;
	}
	case 'B': {
		const char *portal = (const char *)m + 5, *stmt;
		size_t plen, slen, have = avail < whole ? avail : whole;

		if (!memchr(portal, '\0', have - 5) ||
		    !memchr((stmt = portal + strlen(portal) + 1), '\0', have - 5 - strlen(portal) - 1))
			return avail < whole ? 1 : 0;
		plen = strlen(portal);
		slen = strlen(stmt);
		if (!slen)
			return 0;
		if (!proxy_tx_room(s))
			return 1;
		snprintf(text, sizeof(text), "%s", stmt);
		ret = proxy_tx_ensure(s, text, &server);
		if (ret || !server)
			return ret;
		proxy_tx_rename(s, b->scan + 5 + plen + 1, slen, server, mlen);
		return 0;
	}
	case 'D':
	case 'C': {
		char type = m[0];

		if (whole > PROXY_SMALL || *mlen < 6)
			return 0;	/* not a valid one: the server says so */
		if (avail < whole)
			return 1;
		if (m[5] == 'S' && memchr(m + 6, '\0', *mlen - 5) && m[6]) {
			if (!proxy_tx_room(s))
				return 1;
			snprintf(text, sizeof(text), "%s", (char *)m + 6);
			if (type == 'D') {
				ret = proxy_tx_ensure(s, text, &server);
				if (ret || !server)
					return ret;
			} else {
				const struct tx_stmt *st = tx_stmt_find(&s->tx, text);

				server = st ? st->server : NULL;
			}
			if (server) {
				char keep[TX_NAME_LEN];

				snprintf(keep, sizeof(keep), "%s", server);
				proxy_tx_rename(s, b->scan + 6, strlen(text), keep, mlen);
				if (type == 'C') {
					tx_stmt_forget(&s->tx, text);
					tx_server_del(&s->prepared, keep);
					return proxy_owe(s, '3', false, keep) ? -1 : 0;
				}
			}
		}
		if (type == 'C' && proxy_owe(s, '3', false, NULL))
			return -1;
		return 0;
	}
	default:
		return 0;
	}
}

/*
 * Client to backend: every message passes unchanged, streamed through
 * whatever its length; pgxr answers pgpool's SHOW commands itself when
 * the session is idle, and counts what the backend owes a ReadyForQuery
 * for.
 */
/* disable_load_balance_on_write = causal, with the split on */
static bool proxy_causal(void)
{
	return atomic_load_explicit(&proxy.lb_on_write, memory_order_relaxed) == LB_ON_WRITE_CAUSAL &&
	       atomic_load_explicit(&proxy.load_balance, memory_order_relaxed);
}

/* under proxy.lock: node i has what the session committed last (the primary has all) */
static bool proxy_caught_up(const struct proxy_sess *s, int i)
{
	return !s->causal_lsn || i == proxy.node ||
	       (s->causal_lsn != PROXY_LSN_UNKNOWN &&
		atomic_load_explicit(&proxy.replayed[i], memory_order_relaxed) >= s->causal_lsn);
}

/* node replayed at least lsn: the highest such position is kept */
static void proxy_replayed(int node, unsigned long long lsn)
{
	unsigned long long cur = atomic_load_explicit(&proxy.replayed[node], memory_order_relaxed);

	while (cur < lsn && !atomic_compare_exchange_weak_explicit(&proxy.replayed[node], &cur, lsn,
								    memory_order_relaxed,
								    memory_order_relaxed))
		;
}

/*
 * causal: the primary is asked its WAL position once the session's
 * transaction that may have written ended there, before its next unit
 * is routed.  The flush position: the commit flushed its record, so it
 * covers it, and a standby can get no further than it (the write and
 * insert positions may be ahead of what any standby can have until the
 * next flush, which an idle primary may not do for long).  A commit with
 * synchronous_commit = off may not be flushed yet: it is covered once
 * the WAL writer flushed it.
 */
static void proxy_lsn_ask(struct proxy_sess *s)
{
	static const char q[] = "SELECT pg_current_wal_flush_lsn()";

	pgproto_message(&s->inj, 'Q', q, sizeof(q));
	s->inject_q++;
	s->pending++;
	s->lsn_q = true;
	s->lsn_got = 0;
	s->causal_dirty = false;
}

/*
 * causal: the reader is asked whether it replayed the session's last
 * commit; the unit waits for the answer.  A short question each time,
 * not one that waits on the standby's side: a query that holds its
 * snapshot there holds back the replay of what conflicts with it (with
 * hot_standby_feedback off, the default), the very replay it waits for.
 */
static void proxy_causal_ask(struct proxy_sess *s)
{
	char q[96];
	int n;

	n = snprintf(q, sizeof(q), "SELECT pg_last_wal_replay_lsn() >= '%X/%X'",
		     (unsigned)(s->causal_lsn >> 32), (unsigned)s->causal_lsn);
	pgproto_message(&s->inj, 'Q', q, n + 1);
	s->inject_q++;
	s->pending++;
	s->causal_q = true;
	s->causal_ok = false;
	s->causal_null = false;
}

/* causal: the first question to the routed reader; the wait ends causal_read_timeout ms on */
static void proxy_causal_send(struct proxy_sess *s)
{
	s->causal_ask = false;
	s->causal_until = proxy_now() + atomic_load_explicit(&proxy.causal_read_timeout,
							     memory_order_relaxed);
	s->causal_gap = 1;
	proxy_causal_ask(s);
}

/* causal: the session no longer waits to ask its reader again */
static void proxy_causal_unpoll(struct proxy_sess *s)
{
	struct proxy_worker *w = s->w;

	if (!s->causal_sleep)
		return;
	s->causal_sleep = false;
	for (int i = 0; i < w->npolls; i++)
		if (w->polls[i] == s) {
			w->polls[i] = w->polls[--w->npolls];
			break;
		}
}

/* causal: the reader had not replayed: asked again in causal_gap ms; false: out of memory */
static bool proxy_causal_poll(struct proxy_sess *s, long long now)
{
	struct proxy_worker *w = s->w;

	if (w->npolls == w->polls_cap) {
		int cap = w->polls_cap ? 2 * w->polls_cap : 64;
		struct proxy_sess **p = realloc(w->polls, cap * sizeof(*p));

		if (!p)
			return false;
		w->polls = p;
		w->polls_cap = cap;
	}
	w->polls[w->npolls++] = s;
	s->causal_sleep = true;
	s->causal_due = now + s->causal_gap;
	if (s->causal_gap < 8)
		s->causal_gap *= 2;
	return true;
}

/* per-loop hook of a worker with sessions waiting for a replay: those due ask again */
static void proxy_causal_tick(struct proxy_worker *w)
{
	long long now = proxy_now();

	for (int i = 0; i < w->npolls;) {
		struct proxy_sess *s = w->polls[i];

		if (s->causal_due > now) {
			i++;
			continue;
		}
		/* the last entry moves into slot i; the pump adds back only this session, due later */
		proxy_causal_unpoll(s);
		if (s->state != PS_RELAY || s->bfd < 0)
			continue;	/* ended meanwhile (proxy_fatal): it asks nothing more */
		proxy_causal_ask(s);
		proxy_pump(s);
	}
}

/* causal: the DataRow of pgxr's question (whole, at m) */
static void proxy_causal_row(struct proxy_sess *s, const uint8_t *m, uint32_t mlen)
{
	uint32_t len;
	char text[40];
	unsigned hi, lo;

	if (mlen < 10 || (m[5] << 8 | m[6]) != 1)
		return;
	len = pgproto_get32(m + 7);
	if (len == UINT32_MAX) {
		s->causal_null = s->causal_q;
		return;
	}
	if (len >= sizeof(text) || len > mlen - 10)
		return;
	memcpy(text, m + 11, len);
	text[len] = '\0';
	if (s->causal_q)
		s->causal_ok = !strcmp(text, "t");
	else if (sscanf(text, "%X/%X", &hi, &lo) == 2)
		s->lsn_got = (unsigned long long)hi << 32 | lo;
}

/* causal: the last answer to pgxr's question came (its ReadyForQuery) */
static void proxy_causal_answered(struct proxy_sess *s)
{
	if (s->lsn_q) {
		s->lsn_q = false;
		s->causal_lsn = s->lsn_got ? s->lsn_got : PROXY_LSN_UNKNOWN;
		if (!s->lsn_got)
			log_debug("proxy: no WAL position from node %d: the reads of user \"%s\" go to the primary",
				  s->node, s->user);
	} else if (s->causal_q) {
		long long now = proxy_now();

		s->causal_q = false;
		if (s->causal_ok) {
			proxy_replayed(s->node, s->causal_lsn);
		} else if (s->causal_null || now >= s->causal_until || !proxy_causal_poll(s, now)) {
			/* routed again: the reader goes back, the unit to the primary */
			s->causal_primary = true;
			s->routed = false;
		}
	}
}

/*
 * With the split on, an extended-protocol unit is routed whole: until its
 * Sync (or a Flush) came, it waits for more bytes.  PostgreSQL answers
 * nothing before either, so a client always sends one; a unit larger
 * than the buffer is routed as it is (to the primary).
 */
static bool proxy_unit_partial(const struct proxy_sess *s)
{
	const struct proxy_buf *b = &s->c2b;
	uint32_t off = b->scan;

	if (!atomic_load_explicit(&proxy.load_balance, memory_order_relaxed) || !b->data ||
	    b->len + b->reserve >= PROXY_BUF)
		return false;
	while (off + 5 <= b->len) {
		uint32_t mlen = pgproto_get32(b->data + off + 1);

		if (!b->data[off] || !strchr("PBDEC", b->data[off]) || mlen < 4)
			return false;
		if (off + 1 + mlen > b->len)
			return off + 1 + mlen <= PROXY_BUF - b->reserve;
		off += 1 + mlen;
	}
	return true;
}

/*
 * The split in explicit transactions.  A BEGIN alone in a simple Query,
 * from idle: pgxr answers it and keeps it, and whichever node runs the
 * transaction's first statement runs it first (a reader, if that
 * statement reads).  Answered as the server would (the classifier parsed
 * it; a pooled connection is idle).  1: answered, the message is gone;
 * 0: not one pgxr answers; -1: it waits for what goes before it.
 */
static int proxy_begin_defer(struct proxy_sess *s, uint8_t *m, uint32_t mlen)
{
	struct proxy_buf *b = &s->c2b;
	const struct classify *c;
	size_t avail = b->len - b->scan;

	if (m[0] != 'Q' || !s->txmode || !s->greeted || s->tx.pin || s->begin_owed ||
	    s->tx_status != 'I' || s->copy_in || s->unsynced || avail < mlen + 1 ||
	    !atomic_load_explicit(&proxy.load_balance, memory_order_relaxed))
		return 0;
	c = proxy_classify(s, m + 5, mlen - 4);
	/* BEGIN READ ONLY is a read unit of its own: its transaction stays where it goes */
	if (!proxy_split_begin_ok(s, c, false) || (c->flags & CLASSIFY_READ_ONLY))
		return 0;
	/* as a SHOW: the client has all the answers before this one, nothing else is owed */
	if (b->scan || s->b2c.scan || s->b2c.rest || proxy_local_pending(s) || s->pending != s->inject_q)
		return -1;
	free(s->begin);
	if (!(s->begin = strdup((const char *)m + 5)))
		return 0;
	s->begin_owed = true;
	s->begin_plain = c->flags & CLASSIFY_PLAIN_BEGIN;
	s->explicit_tx = true;
	/* dml_adaptive: a transaction of one snapshot must not read another's on a standby */
	if (c->flags & CLASSIFY_SNAPSHOT)
		s->dml_off = true;
	pgproto_command_complete(&s->local, (c->flags & CLASSIFY_START) ? "START TRANSACTION" : "BEGIN");
	pgproto_ready(&s->local, 'T');
	memmove(m, m + mlen + 1, avail - mlen - 1);
	b->len -= mlen + 1;
	return 1;
}

/*
 * The kept BEGIN goes before the unit, to the node routed for it (a
 * reader gets a plain BEGIN when the client's says READ WRITE); its
 * answers are dropped.  1: no room yet.
 */
static int proxy_begin_inject(struct proxy_sess *s)
{
	const char *text = s->reading && s->begin_plain ? "BEGIN" : s->begin;
	struct pgproto_buf o = {};
	bool ok;

	pgproto_message(&o, 'Q', text, strlen(text) + 1);
	ok = !o.failed && proxy_inject(s, o.data, o.len);
	pgproto_buf_free(&o);
	if (!ok)
		return 1;
	s->inject_q++;
	s->pending++;
	s->begin_owed = false;
	if (!s->tx_split) {
		free(s->begin);
		s->begin = NULL;
	}
	return 0;
}

/*
 * A reader ran the transaction's reads and the client sends what is not
 * one: the reader's transaction is rolled back (it only read) and its
 * connection goes, to the pool once that is answered (or held for the
 * session's next read); the unit waits for the primary, where the
 * client's BEGIN goes first.
 */
static void proxy_split_leave(struct proxy_sess *s)
{
	static const char rollback[] = "ROLLBACK";
	struct pgproto_buf q = {};
	bool sent;

	pgproto_message(&q, 'Q', rollback, sizeof(rollback));
	sent = !q.failed && proxy_send(s->bfd, s->bssl, q.data, q.len) == (ssize_t)q.len;
	pgproto_buf_free(&q);
	log_debug("proxy: user \"%s\": a transaction read on node %d moves to the primary", s->user, s->node);
	s->tx_split = false;
	s->moved = true;
	s->begin_owed = true;
	s->reading = false;
	s->unit_done = false;
	s->routed = false;
	proxy_tx_detach(s, sent ? 1 : -1);
}

static int proxy_scan_c2b(struct proxy_sess *s)
{
	struct proxy_buf *b = &s->c2b;
	uint32_t mlen;
	uint8_t *m;

	while ((m = proxy_next(b, &mlen))) {
		size_t avail = b->len - b->scan;
		char what[64];
		int show;

		if (!proxy_client_type(m[0]) || mlen < 4 || mlen > PROXY_MAX_MSG) {
			proxy_fatal(s, "08P01", "invalid frontend message type %d or length %u",
				    m[0], mlen);
			return -1;
		}
		/* a short simple query is looked at whole: it may be a SHOW pool_* */
		if (m[0] == 'Q' && mlen + 1 <= PROXY_SMALL && avail < mlen + 1)
			break;
		/*
		 * pgxr answers pgpool's SHOW when the backend owes nothing (a
		 * SHOW pipelined behind queries goes to the backend), once all
		 * before it is out, the backend's and its own: the order
		 * holds, and a client that never reads gets one answer
		 * buffered, not more.  Until then the SHOW and what follows
		 * wait.
		 */
		if (m[0] == 'Q' && mlen + 1 <= PROXY_SMALL && s->pending == 0 &&
		    pgproto_show(m + 5, mlen - 4, what, sizeof(what)) &&
		    (show = proxy_show_find(what)) >= 0) {
			if (b->scan || s->b2c.scan || s->b2c.rest || proxy_local_pending(s))
				break;
			proxy_show(s, show, what);
			memmove(m, m + mlen + 1, avail - mlen - 1);
			b->len -= mlen + 1;
			continue;
		}
		if (s->txmode && m[0] != 'X') {
			int r = proxy_begin_defer(s, m, mlen);

			if (r > 0)
				continue;
			if (r < 0)
				break;
			/* between transactions: a server connection first (for the whole unit) */
			if (s->bfd < 0) {
				if (!proxy_unit_partial(s))
					s->want_server = true;
				break;
			}
			/*
			 * The unit waits for pgxr's question (causal), or, with the
			 * split, to be routed: the server it would go to now is
			 * only the one the last unit ended on
			 */
			if (s->lsn_q || s->causal_q || s->causal_sleep ||
			    (!s->routed && proxy_tx_idle(s) &&
			     atomic_load_explicit(&proxy.load_balance, memory_order_relaxed)))
				break;
			/* dml_adaptive: a reader runs one unit outside the transaction; the next waits for its end */
			if (s->dml_reading && s->unit_done)
				break;
			/*
			 * dml_adaptive, at the start of a unit for the primary: a read
			 * of no table its transaction wrote goes to a reader once all
			 * before it is answered; else what the unit writes is noted
			 */
			if (!s->unsynced && !s->copy_in && !s->reading && !s->tx_split && !s->tx.pin &&
			    proxy_dml()) {
				/* seen whole (a client may send a unit message by message) */
				if (proxy_unit_partial(s))
					break;
				/*
				 * Not a unit routed already (its read found no reader),
				 * nor while a cancel may still hit the primary's backend
				 * (set aside, that connection would be closed)
				 */
				if (s->tx_status == 'T' && !s->dml_off && !s->routed && !s->snapshot_default &&
				    !s->pending && !s->begin_owed && !s->inject_q && s->inj_off == s->inj.len &&
				    !b->scan && !s->b2c.len && !proxy_canceling(s->be_pid) &&
				    proxy_unit_reads(s, false, NULL, NULL) && proxy_dml_unit(s, false)) {
					proxy_dml_leave(s);
					s->want_server = true;
					break;
				}
				if (!proxy_dml_unit(s, true))
					s->dml_off = true;
			}
			/* a transaction a reader runs: what is not a read (nor its end) moves it */
			if (s->tx_split && s->tx_status == 'T' && !s->pending && !s->unsynced && !s->copy_in) {
				if (b->scan || s->b2c.len || s->inj_off != s->inj.len || s->inject_q ||
				    proxy_unit_partial(s))
					break;
				if (!proxy_unit_reads(s, true, NULL, NULL)) {
					proxy_split_leave(s);
					s->want_server = true;
					break;
				}
			}
			if (s->sticky) {
				int sw = proxy_sticky_switch(s);

				if (sw > 0)
					s->want_server = true;
				if (sw)
					break;
			} else if (s->reading && s->unit_done && !s->tx.pin &&
				   (s->pending > 0 || s->tx_status == 'I')) {
				/* a reader runs its unit only: the next one is routed once it ends */
				break;
			}
			if (s->begin_owed && proxy_begin_inject(s))
				break;
			r = proxy_tx_c2b(s, &mlen);
			if (r < 0)
				return -1;
			if (r > 0)
				break;
			m = b->data + b->scan;
			s->routed = false;
			/* causal: what was not routed as a read may write on the primary */
			if (!s->reading && !s->read_unit && proxy_causal())
				s->causal_dirty = true;
			if (m[0] == 'Q' || m[0] == 'S')
				s->read_unit = false;
			if (s->reading && (m[0] == 'Q' || m[0] == 'S'))
				s->unit_done = true;
			/* a Sync, a Query or a FunctionCall ends a batch of answers (COPY ignores Syncs) */
			if (((m[0] == 'S' && !s->copy_in) || m[0] == 'Q' || m[0] == 'F') &&
			    proxy_owe(s, 'Z', false, NULL))
				return -1;
			if (strchr("PBEDCH", m[0]))
				s->unsynced = true;
			else if (m[0] == 'S' || m[0] == 'Q')
				s->unsynced = false;
		}
		if (m[0] == 'Q')
			s->pending_at_execute = -1;
		if ((m[0] == 'S' || m[0] == 'H') && s->copy_in)
			;	/* ignored by the server during COPY FROM STDIN */
		else if (proxy_awaits_ready(m[0]))
			s->pending++;
		if (m[0] == 'E')
			s->pending_at_execute = s->pending;
		if (m[0] == 'c' || m[0] == 'f')
			s->copy_in = false;
		if (m[0] == 'X') {
			/* Terminate: nothing after it counts; a cacheable server never sees it */
			if (s->pool) {
				b->len = b->scan;
				s->client_eof = true;
				break;
			}
			s->terminated = true;
			b->scan += 5;
			b->len = b->scan;
			break;
		}
		b->scan += 5;
		b->rest = mlen - 4;
	}
	return 0;
}

/*
 * A reader's ErrorResponse (whole, at m), FATAL or PANIC: its message is
 * kept for the client's ERROR when the connection ends; true when kept
 * (the message is not relayed).
 */
static bool proxy_read_fatal(struct proxy_sess *s, const uint8_t *m, uint32_t mlen)
{
	const char *body = (const char *)m + 5, *end = body + mlen - 4, *msg = NULL;
	bool fatal = false;

	if (mlen < 5 || end[-1])
		return false;
	for (const char *f = body; f < end && *f; f += strlen(f) + 1) {
		if ((*f == 'V' || *f == 'S') && (!strcmp(f + 1, "FATAL") || !strcmp(f + 1, "PANIC")))
			fatal = true;
		if (*f == 'M')
			msg = f + 1;
	}
	if (!fatal)
		return false;
	free(s->lost_why);
	s->lost_why = strdup(msg ? msg : "");
	return true;
}

/* a CommandComplete or ErrorResponse of the session's server, whole, into the worker's counters */
static void proxy_count(struct proxy_sess *s, const uint8_t *m, uint32_t mlen)
{
	const char *body = (const char *)m + 5;
	size_t len = mlen - 4;
	enum show_count c = SHOW_CNT_N;

	if (!len || body[len - 1])
		return;
	if (m[0] == 'C') {
		c = show_count_tag(body);
	} else {
		for (const char *f = body; f < body + len && *f; f += strlen(f) + 1) {
			if (*f != 'V' && *f != 'S')
				continue;
			c = !strcmp(f + 1, "ERROR") ? SHOW_CNT_ERROR : !strcmp(f + 1, "FATAL") ?
			    SHOW_CNT_FATAL : !strcmp(f + 1, "PANIC") ? SHOW_CNT_PANIC : SHOW_CNT_N;
			break;
		}
	}
	if (c != SHOW_CNT_N)
		__atomic_fetch_add(&s->w->counts[s->node][c], 1, __ATOMIC_RELAXED);
	/* functions or unlogged tables may have come, gone or changed: read again once it commits */
	if (c == SHOW_CNT_DDL && m[0] == 'C' && strncmp(body, "TRUNCATE", 8) &&
	    (strstr(body, "FUNCTION") || strstr(body, "PROCEDURE") || strstr(body, "ROUTINE") ||
	     strstr(body, "AGGREGATE") || strstr(body, "EXTENSION") || strstr(body, "SCHEMA") ||
	     strstr(body, "TABLE") || strstr(body, "SEQUENCE")))
		s->fn_ddl = true;
}

/* transaction pooling: the transaction is over and nothing is on the way: the server can go */
static bool proxy_tx_idle(const struct proxy_sess *s)
{
	return s->txmode && !s->sticky && !s->tx.pin && s->bfd >= 0 && s->tx_status == 'I' && s->pending == 0 &&
	       !s->copy_in && !s->unsynced && !s->c2b.scan && !s->c2b.rest && !s->c2b.mid &&
	       !s->b2c.len && s->inj_off == s->inj.len && s->inject_q == 0 &&
	       !s->causal_sleep && s->state == PS_RELAY;
}

/*
 * Backend to client: every message passes, BackendKeyData with pgxr's
 * key instead (a cancel must come back here), and each ReadyForQuery
 * settles one query or sync.
 */
static int proxy_scan_b2c(struct proxy_sess *s)
{
	struct proxy_buf *b = &s->b2c;
	uint32_t mlen;
	uint8_t *m;

	while ((m = proxy_next(b, &mlen))) {
		size_t avail = b->len - b->scan;

		if (mlen < 4 || mlen > PROXY_MAX_MSG) {
			proxy_check_node(s->node);
			proxy_fatal(s, "08P01", "invalid message from the server (node %d): length %u",
				    s->node, mlen);
			return -1;
		}
		/* transaction pooling: the answers to pgxr's own messages never reach the client */
		if (s->txmode && (s->inject_q > 0 || ((m[0] == '1' || m[0] == '3') && s->owed_n))) {
			bool drop = true;

			if (mlen + 1 > PROXY_SMALL) {
				proxy_fatal(s, "08P01", "invalid message from the server (node %d)", s->node);
				return -1;
			}
			if (avail < mlen + 1)
				break;
			if (s->inject_q > 0) {
				bool causal = (s->lsn_q || s->causal_q) && s->inject_q == 1;

				if (m[0] == 'Z') {
					/* the server's state all the same: an injected BEGIN opened a transaction */
					if (mlen == 5)
						s->tx_status = m[5];
					s->inject_q--;
					if (s->pending > 0)
						s->pending--;
					if (s->pending_at_execute > 0)
						s->pending_at_execute--;
					if (causal)
						proxy_causal_answered(s);
				} else if (causal) {
					if (m[0] == 'D')
						proxy_causal_row(s, m, mlen);
				} else if (m[0] == 'E' && s->dml_fail_q) {
					s->dml_fail_q = false;
				} else if (m[0] == 'E') {
					log_warning("proxy: a statement pgxr replayed for user \"%s\" on node %d failed",
						    s->user, s->node);
				} else if (m[0] == 'S') {
					pgproto_params_set(&s->params, m, mlen + 1);
				}
			} else {
				drop = proxy_owed_pop(s, m[0]) == 1;
			}
			if (drop) {
				memmove(m, m + mlen + 1, avail - mlen - 1);
				b->len -= mlen + 1;
				continue;
			}
		}
		/* a reader that ends the connection: its FATAL is said as an ERROR of that read */
		if (m[0] == 'E' && s->reading && s->txmode && mlen + 1 <= PROXY_SMALL) {
			if (avail < mlen + 1)
				break;
			if (proxy_read_fatal(s, m, mlen)) {
				memmove(m, m + mlen + 1, avail - mlen - 1);
				b->len -= mlen + 1;
				continue;
			}
		}
		if (m[0] == 'E' && s->txmode)
			proxy_owed_skip(s, false);
		if (m[0] == 'E' && s->dml_reading)
			s->dml_failed = true;
		s->last_b2c = m[0];
		if (m[0] == 'R' && !s->auth_seen) {
			/* passthrough: a server that asks no password may serve the next client too */
			if (avail < 9)
				break;
			s->auth_seen = true;
			s->trusted = mlen == 8 && pgproto_get32(m + 5) == PGPROTO_AUTH_OK;
		}
		if ((m[0] == 'C' || m[0] == 'E') && mlen + 1 <= PROXY_SMALL && s->node >= 0) {
			/* pool_backend_stats: each statement's tag, each error's severity */
			if (avail < mlen + 1)
				break;
			proxy_count(s, m, mlen);
			b->scan += mlen + 1;
			continue;
		}
		if (m[0] == 'G') {
			/*
			 * CopyInResponse: until CopyDone or CopyFail the server
			 * ignores Sync; those a client sent after the Execute
			 * that started the COPY owe no ReadyForQuery.
			 */
			s->copy_in = true;
			if (s->pending_at_execute >= 0 && s->pending > s->pending_at_execute)
				s->pending = s->pending_at_execute;
			/* the Syncs sent after the COPY's Execute are ignored: their markers go */
			if (s->txmode)
				while (s->owed_n && s->owed[(s->owed_head + s->owed_n - 1) % s->owed_cap].kind == 'Z')
					s->owed_n--;
		}
		if (m[0] == 'K' || m[0] == 'Z' || m[0] == 'S') {
			if (mlen + 1 > PROXY_SMALL) {
				proxy_fatal(s, "08P01", "invalid message from the server (node %d)",
					    s->node);
				return -1;
			}
			if (avail < mlen + 1)
				break;
			if (m[0] == 'K' && mlen == 12) {
				/*
				 * The pid stays the server's (pg_backend_pid() and
				 * NOTIFY's sender agree with it); the secret is
				 * pgxr's, so a cancel must come through here.
				 */
				s->be_pid = s->key_pid = pgproto_get32(m + 5);
				s->be_secret = pgproto_get32(m + 9);
				pgproto_put32(m + 9, s->key_secret);
				proxy_key_add(s);
				s->keyed = true;
			}
			if (m[0] == 'S')
				pgproto_params_set(&s->params, m, mlen + 1);
			/* dml_adaptive: the reader ran outside the transaction, which goes on (or failed) */
			if (m[0] == 'Z' && mlen == 5 && s->dml_reading) {
				if (m[5] != 'I')
					s->dml_dirty = s->dml_failed = true;
				m[5] = s->dml_failed ? 'E' : 'T';
			}
			if (m[0] == 'Z' && mlen == 5)
				s->tx_status = m[5];
			/* the transaction ended, and nothing after it went: what it wrote is forgotten */
			if (m[0] == 'Z' && s->tx_status == 'I' && s->pending <= 1 && !s->unsynced && !s->dml_held)
				proxy_dml_end(s);
			/* the explicit transaction ended: its BEGIN is forgotten */
			if (m[0] == 'Z' && s->tx_status == 'I' && !s->begin_owed) {
				s->explicit_tx = false;
				s->tx_split = false;
				s->moved = false;
				free(s->begin);
				s->begin = NULL;
			}
			if (m[0] == 'Z' && s->fn_ddl && s->tx_status == 'I') {
				s->fn_ddl = false;
				catalog_changed(s->database);
			}
			if (m[0] == 'Z' && s->pending > 0) {
				s->pending--;
				/* it counts what was owed at the Execute: an earlier answer came */
				if (s->pending_at_execute > 0)
					s->pending_at_execute--;
			}
			if (m[0] == 'Z' && s->txmode)
				proxy_owed_skip(s, true);
			/* causal: a transaction that may have written ended, and nothing else is out */
			if (m[0] == 'Z' && s->causal_dirty && !s->tx.pin && s->tx_status == 'I' && !s->pending &&
			    !s->inject_q && !s->unsynced && !s->c2b.scan && !s->c2b.rest &&
			    !s->copy_in && proxy_causal())
				proxy_lsn_ask(s);
			b->scan += mlen + 1;
			continue;
		}
		b->scan += 5;
		b->rest = mlen - 4;
	}
	return 0;
}

/* a published answer of the main loop */
static void proxy_answer(struct pgproto_buf *o, enum proxy_answer a)
{
	pthread_mutex_lock(&proxy.lock);
	pgproto_raw(o, proxy.answers[a].data, proxy.answers[a].len);
	pthread_mutex_unlock(&proxy.lock);
}

static void proxy_show_nodes(struct pgproto_buf *o)
{
	proxy_answer(o, PA_NODES);
}

static void proxy_show_version(struct pgproto_buf *o)
{
	proxy_answer(o, PA_VERSION);
}

static void proxy_show_status(struct pgproto_buf *o)
{
	proxy_answer(o, PA_STATUS);
}

static void proxy_show_health(struct pgproto_buf *o)
{
	proxy_answer(o, PA_HEALTH);
}

static void proxy_show_backend(struct pgproto_buf *o)
{
	proxy_answer(o, PA_BACKEND);
}

static void proxy_show_table(struct pgproto_buf *o, void (*build)(struct show_table *t))
{
	struct show_table t;

	build(&t);
	show_table_encode(&t, o);
	show_table_free(&t);
}

static void proxy_show_processes(struct pgproto_buf *o)
{
	proxy_show_table(o, proxy_processes);
}

static void proxy_show_pools(struct pgproto_buf *o)
{
	proxy_show_table(o, proxy_pools);
}

/* pgpool's SHOW commands; NULL: pgpool has it, pgxr does not */
static const struct {
	const char *name;
	void (*fn)(struct pgproto_buf *o);
} proxy_shows[] = {
	{ "pool_nodes", proxy_show_nodes },
	{ "pool_version", proxy_show_version },
	{ "pool_processes", proxy_show_processes },
	{ "pool_pools", proxy_show_pools },
	{ "pool_status", proxy_show_status },
	{ "pool_backend_stats", proxy_show_backend },
	{ "pool_health_check_stats", proxy_show_health },
	{ "pool_cache", NULL },
};

/* the SHOW command what in proxy_shows[], or -1: not pgpool's, the backend answers */
static int proxy_show_find(const char *what)
{
	for (size_t i = 0; i < sizeof(proxy_shows) / sizeof(proxy_shows[0]); i++)
		if (!strcmp(what, proxy_shows[i].name))
			return i;
	return -1;
}

static void proxy_show(struct proxy_sess *s, int show, const char *what)
{
	if (proxy_shows[show].fn) {
		proxy_shows[show].fn(&s->local);
		pgproto_command_complete(&s->local, "SHOW");
	} else {
		pgproto_error(&s->local, "ERROR", "0A000", "SHOW %s is not supported by pgxr (it has no query cache)",
			      what);
	}
	/* the session's transaction state is the backend's (or a BEGIN pgxr answered): unchanged */
	pgproto_ready(&s->local, s->begin_owed ? 'T' : s->tx_status ? s->tx_status : 'I');
}

/* reads what fd has into b: >0 bytes read, 0 on EOF, -1 on error, -2 when nothing is there */
static ssize_t proxy_read(struct proxy_worker *w, int fd, SSL *ssl, struct proxy_buf *b)
{
	size_t room;
	ssize_t n;

	if (b->drained)
		return -2;
	if (!b->data && !(b->data = proxy_buf_get(w)))
		return -1;
	if (b->len + b->reserve >= PROXY_BUF)
		return -2;
	room = PROXY_BUF - b->reserve - b->len;
	n = proxy_recv(fd, ssl, b->data + b->len, room);
	if (n > 0)
		b->len += n;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		n = -2;
	b->drained = !ssl && (n == -2 || (n > 0 && (size_t)n < room));
	proxy_buf_put(w, b);
	return n;
}

/* sends b's checked bytes to fd; -1 on error */
static int proxy_write(struct proxy_worker *w, int fd, SSL *ssl, struct proxy_buf *b)
{
	ssize_t n;

	if (!b->scan)
		return 0;
	n = proxy_send(fd, ssl, b->data, b->scan);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->scan -= n;
	/* a partial send may end inside a message; so does a streamed one */
	b->mid = b->scan || b->rest;
	proxy_buf_put(w, b);
	return 0;
}

/* pgxr's own messages, sent between two of the backend's; -1 on error */
static int proxy_write_local(struct proxy_sess *s)
{
	ssize_t n;

	if (s->b2c.mid || s->local_off == s->local.len)
		return 0;
	if (s->local.failed)
		return -1;
	n = proxy_send(s->cfd, s->cssl, s->local.data + s->local_off, s->local.len - s->local_off);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	s->local_off += n;
	if (s->local_off == s->local.len) {
		/* an idle client holds no buffer */
		pgproto_buf_free(&s->local);
		s->local_off = 0;
	}
	return 0;
}

static bool proxy_local_pending(const struct proxy_sess *s)
{
	return s->local_off != s->local.len;
}

/*
 * The client's side: pgxr's own messages first (NegotiateProtocolVersion
 * precedes the backend's first, a SHOW answer comes before later
 * notices), unless the session is closing: its last error comes after
 * what the backend said.  A message of pgxr's begun is always finished
 * first.
 */
static int proxy_flush_client(struct proxy_sess *s)
{
	bool local_first = s->state != PS_CLOSING || s->local_off > 0;

	if (local_first && proxy_write_local(s))
		return -1;
	if ((!local_first || !proxy_local_pending(s)) && proxy_write(s->w, s->cfd, s->cssl, &s->b2c))
		return -1;
	if (!local_first && !s->b2c.scan && proxy_write_local(s))
		return -1;
	return 0;
}

/* the events each socket waits for, from what the buffers hold */
static void proxy_update(struct proxy_sess *s)
{
	unsigned c = 0, b = 0;

	switch (s->state) {
	case PS_STARTUP:
	case PS_AUTH:
		/* as in PS_RELAY, so that the greeting costs no epoll_ctl */
		c = EPOLLIN | EPOLLRDHUP;
		break;
	case PS_TLS:
		c = s->tls_want_write ? EPOLLOUT : EPOLLIN;
		break;
	case PS_BTLS:
		b = s->tls_want_write ? EPOLLOUT : EPOLLIN;
		c = EPOLLRDHUP;
		break;
	case PS_LOGIN:
		b = EPOLLIN | EPOLLRDHUP;
		if (s->lout_off < s->lout.len)
			b |= EPOLLOUT;
		c = EPOLLRDHUP;
		break;
	case PS_WAITING:
		c = EPOLLRDHUP;
		break;
	case PS_CONNECTING:
		b = EPOLLOUT;
		c = EPOLLRDHUP;
		break;
	case PS_RELAY:
		/* the room proxy_read() would read into: no EPOLLIN it could not serve */
		if (s->c2b.len + s->c2b.reserve < PROXY_BUF && !s->terminated && !s->client_eof)
			c |= EPOLLIN | EPOLLRDHUP;
		if (s->b2c.len < PROXY_BUF)
			b |= EPOLLIN | EPOLLRDHUP;
		if (s->c2b.scan || s->inj_off < s->inj.len)
			b |= EPOLLOUT;
		break;
	case PS_CLOSING:
		c = EPOLLRDHUP;
		break;
	}
	if (s->b2c.scan || (proxy_local_pending(s) && !s->b2c.mid))
		c |= EPOLLOUT;
	proxy_watch(s->w, s->cfd, &s->cev, c, &s->ctag);
	if (s->bfd >= 0 && s->blink)
		proxy_watch(s->w, s->bfd, &s->bev, b, &s->blink->tag);
}

/* the backend is gone: the client hears why, unless it asked for it or was told */
/*
 * The reader of an autocommit read went away (shut down, crashed, cut
 * off): when the client holds no part of a message and owes nothing
 * else, it gets an ERROR for that read and ReadyForQuery, and its next
 * statement is routed again, away from that node.  False otherwise: the
 * session ends as any whose server is lost.
 */
static bool proxy_read_lost(struct proxy_sess *s)
{
	struct pgproto_buf o = {};
	struct proxy_buf *b = &s->b2c;
	int node = s->node;

	if (!s->reading || !s->txmode || !s->greeted || s->terminated)
		return false;
	/* still connecting or logging in for a unit: routed again, no error */
	if (s->state == PS_CONNECTING || s->state == PS_BTLS || s->state == PS_LOGIN) {
		b->len = b->scan = 0;
		return proxy_read_failed(s, "the connection was lost before the login ended");
	}
	/* causal: lost while it waited for the replay, before the unit went: as between units */
	if ((s->causal_q || s->causal_sleep) && !b->rest) {
		proxy_causal_unpoll(s);
		s->causal_q = false;
		pgproto_buf_free(&s->inj);
		s->inj_off = 0;
		s->inject_q = 0;
		s->pending = 0;
		b->len = b->scan;
	}
	/*
	 * In a transaction (one the reader took after pgxr's BEGIN too), the
	 * session ends; but a dml_adaptive read ran outside it: the read gets
	 * an ERROR and the transaction fails
	 */
	if ((s->tx_status != 'I' && !s->dml_reading) || (s->tx_split && !s->begin_owed) || s->pending > 1 ||
	    s->copy_in ||
	    s->inject_q ||
	    s->inj_off != s->inj.len || b->rest || s->c2b.scan || s->c2b.rest || s->c2b.mid)
		return false;
	/* under a read the client gets an ERROR for it; between units (session pooling) nothing */
	if (s->pending == 1) {
		pgproto_error(&o, "ERROR", "57P01", "the read node (node %d) ended the connection: %s",
			      node, s->lost_why && *s->lost_why ? s->lost_why : "connection lost");
		pgproto_ready(&o, s->dml_reading ? 'E' : 'I');
		if (s->dml_reading) {
			s->dml_failed = true;
			s->tx_status = 'E';
		}
		if (!b->data)
			b->data = proxy_buf_get(s->w);
		if (o.failed || !b->data || b->scan + o.len > PROXY_BUF) {
			pgproto_buf_free(&o);
			return false;
		}
		memcpy(b->data + b->scan, o.data, o.len);
		b->len = b->scan += o.len;
		pgproto_buf_free(&o);
	}
	log_info("proxy: read node %d ended a connection%s: %s; reads go elsewhere", node,
		 s->pending ? " under a read" : "", s->lost_why ? s->lost_why : "connection lost");
	free(s->lost_why);
	s->lost_why = NULL;
	s->w->shun[node] = proxy_now() + PROXY_SHUN_MS;
	/* it may come back from a restart behind what it replayed before */
	atomic_store_explicit(&proxy.replayed[node], 0, memory_order_relaxed);
	proxy_check_node(node);
	proxy_close_backend(s);
	tx_server_free(&s->prepared);
	s->owed_n = 0;
	s->pending = 0;
	s->pending_at_execute = -1;
	s->unsynced = false;
	s->reading = false;
	s->dml_reading = false;
	s->read_node = -1;
	s->be_pid = 0;
	proxy_key_server(s, 0);
	return true;
}

static void proxy_backend_lost(struct proxy_sess *s)
{
	if (proxy_read_lost(s))
		return;
	if (s->terminated) {
		proxy_fatal(s, NULL, "terminated");
		return;
	}
	proxy_check_node(s->node);
	/* a reader's FATAL was held back for an ERROR that could not be: it is said now */
	if (s->lost_why) {
		proxy_fatal(s, "57P01", "the read node (node %d) ended the connection: %s", s->node,
			    s->lost_why);
		return;
	}
	if (s->last_b2c == 'E' && !s->b2c.rest)
		proxy_fatal(s, NULL, "the server said why");
	else
		proxy_fatal(s, "08006", "the connection to the server (node %d) was lost", s->node);
}

/*
 * Moves what can be moved, both ways, then asks epoll for what is still
 * needed.  The session may be freed: the caller must not touch it after.
 */
static int proxy_login(struct proxy_sess *s);

/* pgxr's own bytes to the server, all of b from *off; -1 on error */
static int proxy_write_own(struct proxy_sess *s, struct pgproto_buf *b, uint32_t *off)
{
	ssize_t n;

	if (*off == b->len)
		return 0;
	if (b->failed)
		return -1;
	n = proxy_send(s->bfd, s->bssl, b->data + *off, b->len - *off);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	*off += n;
	if (*off == b->len) {
		pgproto_buf_free(b);
		*off = 0;
	}
	return 0;
}

/* to the attached server: pgxr's injected messages first, then the client's */
static int proxy_write_server(struct proxy_sess *s)
{
	if (s->bfd < 0)
		return 0;
	if (s->inj_off < s->inj.len) {
		if (proxy_write_own(s, &s->inj, &s->inj_off))
			return -1;
		if (s->inj_off < s->inj.len)
			return 0;
	}
	return proxy_write(s->w, s->bfd, s->bssl, &s->c2b);
}

static void proxy_acquire(struct proxy_sess *s);

/* transaction pooling: a message waits and no server is attached: get one, then look again */
static void proxy_tx_want(struct proxy_sess *s)
{
	/* a new server's login reads b2c: the client takes what is there first */
	if (!s->txmode || s->state != PS_RELAY || s->bfd >= 0 || !s->want_server || s->queued ||
	    s->b2c.len)
		return;
	proxy_acquire(s);
	/* a reader refused at once: routed again, to another node */
	if (!s->dead && s->state == PS_RELAY && s->bfd < 0 && !s->queued)
		proxy_acquire(s);
	if (s->state == PS_RELAY && s->bfd >= 0)
		proxy_scan_c2b(s);
}

/* TLS holds bytes it decrypted that no socket event will announce, and there is room for them */
static bool proxy_tls_pending(const struct proxy_sess *s)
{
	return s->state == PS_RELAY &&
	       ((s->cssl && SSL_pending(s->cssl) && s->c2b.len < PROXY_BUF && !s->client_eof &&
		 !s->terminated) ||
		(s->bssl && SSL_pending(s->bssl) && s->b2c.len < PROXY_BUF));
}

static void proxy_pump(struct proxy_sess *s)
{
	int rounds = 0;
	ssize_t n;

again:
	if (s->state == PS_LOGIN) {
		if (proxy_write_own(s, &s->lout, &s->lout_off)) {
			proxy_backend_lost(s);
		} else {
			while ((n = proxy_read(s->w, s->bfd, s->bssl, &s->b2c)) > 0)
				if (proxy_login(s) || s->state != PS_LOGIN)
					break;
			if (s->state == PS_LOGIN && (n == 0 || n == -1))
				proxy_backend_lost(s);
			else if (s->state == PS_LOGIN && proxy_write_own(s, &s->lout, &s->lout_off))
				proxy_backend_lost(s);
		}
	}
	if (s->state == PS_RELAY && !s->terminated && !s->client_eof) {
		while ((n = proxy_read(s->w, s->cfd, s->cssl, &s->c2b)) > 0) {
			s->heard = proxy_now();
			if (proxy_scan_c2b(s) || s->terminated || s->client_eof)
				break;
		}
		if (n == -1 || (n == 0 && !s->c2b.scan)) {
			/* the client is gone: its backend goes too */
			proxy_sess_free(s);
			return;
		}
		/* gone, with whole messages still to send: as PostgreSQL, they run */
		if (n == 0)
			s->client_eof = true;
	}
	proxy_tx_want(s);
	if (s->state == PS_RELAY && s->bfd >= 0) {
		while ((n = proxy_read(s->w, s->bfd, s->bssl, &s->b2c)) > 0)
			if (proxy_scan_b2c(s))
				break;
		if (s->state == PS_RELAY && (n == 0 || n == -1))
			proxy_backend_lost(s);
	}
	if (s->state == PS_RELAY && proxy_write_server(s))
		proxy_backend_lost(s);
	if (s->client_eof && (s->state != PS_RELAY || !s->c2b.scan)) {
		proxy_sess_free(s);
		return;
	}
	if (proxy_flush_client(s)) {
		proxy_sess_free(s);
		return;
	}
	/*
	 * SHOWs held back until all before them was out go now, one after
	 * another while the client takes the answers; no bytes are read
	 * here, so this ends.
	 */
	while (s->state == PS_RELAY && s->c2b.scan < s->c2b.len && !s->c2b.rest) {
		size_t len = s->c2b.len, scan = s->c2b.scan;

		if (proxy_scan_c2b(s))
			break;
		proxy_tx_want(s);
		if (s->state == PS_RELAY && proxy_write_server(s))
			proxy_backend_lost(s);
		if (proxy_flush_client(s)) {
			proxy_sess_free(s);
			return;
		}
		if (s->c2b.len == len && s->c2b.scan == scan)
			break;
	}
	if (s->state == PS_CLOSING && !s->b2c.scan && !proxy_local_pending(s)) {
		proxy_sess_free(s);
		return;
	}
	if (proxy_tx_idle(s) || proxy_dml_done(s)) {
		s->dml_reading = false;
		s->reading = false;
		proxy_tx_detach(s, s->dml_dirty ? -1 : 0);
		s->dml_dirty = false;
		/* the next message came already: it wants a server of its own */
		if (s->c2b.len && ++rounds < 64)
			goto again;
	}
	/* a bounded number of rounds; the sweep picks up what is left */
	if (proxy_tls_pending(s) && ++rounds < 64)
		goto again;
	proxy_update(s);
}

/*
 * A statement a reader may run, by pgpool's rules: a read, alone, not
 * behind a comment (unless allow_sql_comments) nor NO LOAD BALANCE, that
 * names no system catalog and calls no function the primary's catalog
 * says may write (VOLATILE, or unknown to it).
 */
static bool proxy_read_ok(const struct proxy_sess *s, const struct classify *c, const char *sql)
{
	const char *schema = NULL, *name;

	if (!c || c->dest != CLASSIFY_EITHER ||
	    (c->flags & (CLASSIFY_MULTI | CLASSIFY_UNPARSED | CLASSIFY_NO_LB | CLASSIFY_TOO_DEEP)))
		return false;
	/* what would pin the session (by its text, as transaction pooling reads it) stays on the primary */
	if (tx_pin_reason(sql))
		return false;
	/* pgpool's first-character test is of SELECTs only (is_select_query()) */
	if (!atomic_load_explicit(&proxy.allow_sql_comments, memory_order_relaxed) &&
	    ((c->flags & CLASSIFY_COMMENT) ||
	     (c->stat == CLASSIFY_STAT_SELECT && !classify_select_text_ok(sql))))
		return false;
	for (int i = 0; i < c->nrels; i++) {
		if (!(schema = classify_name_next(c, schema)) || !(name = classify_name_next(c, schema)))
			return false;
		/* every relation of pg_catalog is named pg_*; information_schema's are qualified */
		if (!strcmp(schema, "pg_catalog") || !strcmp(schema, "information_schema") ||
		    !strncmp(name, "pg_", 3))
			return false;
		/* a standby has none of an unlogged table's rows (and refuses to read it) */
		if (atomic_load_explicit(&proxy.check_unlogged_table, memory_order_relaxed) &&
		    catalog_table_unlogged(s->database, schema, name))
			return false;
		schema = name;
	}
	for (int i = 0; i < c->nfuncs; i++) {
		int writes;

		if (!(schema = classify_name_next(c, schema)) || !(name = classify_name_next(c, schema)))
			return false;
		/* write_function_list or read_only_function_list, if set, else pg_proc */
		writes = splitlist_function(schema, name);
		if (writes < 0)
			writes = catalog_function_writes(s->database, schema, name);
		if (writes)
			return false;
		schema = name;
	}
	return !splitlist_primary_query(sql);
}

/* the classification of a NUL-terminated statement text in a message; NULL: none */
static const struct classify *proxy_classify(struct proxy_sess *s, const uint8_t *sql,
					     size_t room)
{
	const uint8_t *end = memchr(sql, '\0', room);

	if (!end || !s->w->qc)
		return NULL;
	return qcache_get(s->w->qc, (const char *)sql, end - sql);
}

/*
 * An explicit transaction's BEGIN a reader may take (the transaction then
 * runs there until a write moves it to the primary): not SERIALIZABLE
 * (pgpool sends those transactions' reads to the primary), nor READ
 * WRITE when the reader would run the client's text (a standby refuses
 * it; pgxr gives it a plain BEGIN where it can, not when that would lose
 * an isolation level), nor for a session whose later reads stay on the
 * primary after a write (always, trans_transaction).
 */
static bool proxy_split_begin_ok(const struct proxy_sess *s, const struct classify *c, bool own_text)
{
	int mode = atomic_load_explicit(&proxy.lb_on_write, memory_order_relaxed);

	return c && (c->flags & CLASSIFY_BEGIN) && c->dest == CLASSIFY_BOTH &&
	       !(c->flags & (CLASSIFY_MULTI | CLASSIFY_UNPARSED | CLASSIFY_SERIALIZABLE)) &&
	       !((own_text || (c->flags & CLASSIFY_TX_ISOLATION)) && (c->flags & CLASSIFY_READ_WRITE)) &&
	       !s->serializable &&
	       !(s->wrote && (mode == LB_ON_WRITE_ALWAYS || mode == LB_ON_WRITE_TRANS_TRANSACTION));
}

/*
 * One statement of a unit a reader may run: a read, or in a transaction
 * a reader runs (in_tx) its end; 2: the BEGIN that leads the unit
 * (first, and begin asked for).
 */
static int proxy_unit_stmt(struct proxy_sess *s, const uint8_t *sql, size_t room, bool in_tx,
			   bool first, const char **begin, uint32_t *begin_flags)
{
	const struct classify *c = proxy_classify(s, sql, room);

	if (first && begin && proxy_split_begin_ok(s, c, true)) {
		*begin = (const char *)sql;
		*begin_flags = c->flags;
		return 2;
	}
	if (in_tx && c && (c->flags & CLASSIFY_TX_END) && c->dest == CLASSIFY_BOTH &&
	    !(c->flags & CLASSIFY_MULTI))
		return 1;
	return proxy_read_ok(s, c, (const char *)sql);
}

/*
 * Whether the unit the client sent may run on a reader: a simple Query
 * that reads, or BEGIN READ ONLY (the whole transaction then stays
 * there), or an extended-protocol batch whose every statement reads, up
 * to its Sync, all in the buffer; a BEGIN may lead the batch (*begin:
 * its text, in c2b).  in_tx: the unit goes on a transaction a reader
 * runs, whose end stays there too.  Anything else, or anything pgxr
 * cannot see whole, goes to the primary.
 */
static bool proxy_unit_reads(struct proxy_sess *s, bool in_tx, const char **begin, uint32_t *begin_flags)
{
	const struct proxy_buf *b = &s->c2b;
	const struct classify *c;
	bool always = atomic_load_explicit(&proxy.lb_on_write, memory_order_relaxed) ==
		      LB_ON_WRITE_ALWAYS;
	bool reads = true, any = false;
	uint32_t off = 0;

	/* every transaction of the session is SERIALIZABLE, which a standby refuses */
	if (!b->data || s->serializable)
		return false;
	while (off + 5 <= b->len) {
		const uint8_t *m = b->data + off;
		uint32_t mlen = pgproto_get32(m + 1), room;
		int r;

		if (mlen < 4 || off + 1 + mlen > b->len)
			return false;
		room = mlen - 4;
		switch (m[0]) {
		case 'Q':
			if (off)
				return false;
			c = proxy_classify(s, m + 5, room);
			if (!c || (always && (s->wrote || (c->flags & CLASSIFY_WRITE) ||
					      c->dest == CLASSIFY_PRIMARY)))
				return false;
			if ((c->flags & CLASSIFY_BEGIN) && (c->flags & CLASSIFY_READ_ONLY) &&
			    !(c->flags & (CLASSIFY_MULTI | CLASSIFY_READ_WRITE)))
				return true;
			return proxy_unit_stmt(s, m + 5, room, in_tx, false, NULL, NULL) == 1;
		case 'P': {
			const uint8_t *q = memchr(m + 5, '\0', room);

			if (!q)
				return false;
			r = proxy_unit_stmt(s, q + 1, room - (q + 1 - (m + 5)), in_tx, !any, begin, begin_flags);
			if (!r)
				reads = false;
			any = true;
			break;
		}
		case 'B': {
			const uint8_t *portal_end = memchr(m + 5, '\0', room);
			const struct tx_stmt *st;
			const char *name;
			size_t nlen;

			if (!portal_end || !memchr(portal_end + 1, '\0', room - (portal_end + 1 - (m + 5))))
				return false;
			name = (const char *)portal_end + 1;
			/* an unnamed statement: its Parse is in this batch (else it is not here to read) */
			if (!*name) {
				if (!any)
					return false;
				break;
			}
			st = tx_stmt_find(&s->tx, name);
			/* parsed in this batch: its Parse was looked at */
			if (!st && any)
				break;
			if (!st)
				return false;
			/* Parse: 'P', length, the server name, then the text */
			nlen = strlen((char *)st->parse + 5) + 1;
			r = proxy_unit_stmt(s, st->parse + 5 + nlen, st->parse_len - 5 - nlen, in_tx, !any,
					    begin, begin_flags);
			if (!r)
				reads = false;
			any = true;
			break;
		}
		case 'D':
		case 'E':
		case 'C':
		case 'H':
			break;
		case 'S':
			/* in a transaction a reader runs, a unit of portals only (a fetch) stays with them */
			return reads && (any || in_tx) && !(always && s->wrote);
		default:
			return false;
		}
		off += 1 + mlen;
	}
	return false;
}

/*
 * A statement on its way: with disable_load_balance_on_write = always a
 * write, in a transaction or not, keeps the session's later reads on the
 * primary; with trans_transaction, a write in an explicit transaction
 * keeps its later transactions there.  A SET that makes the session's
 * transactions SERIALIZABLE keeps all its reads there.
 */
static void proxy_note_write(struct proxy_sess *s, const uint8_t *sql, size_t room)
{
	int mode = atomic_load_explicit(&proxy.lb_on_write, memory_order_relaxed);
	const uint8_t *p = sql;
	const struct classify *c;

	if (!atomic_load_explicit(&proxy.load_balance, memory_order_relaxed))
		return;
	while (p < sql + room && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	/* a cache hit costs little, but not nothing: only SET, RESET and DISCARD matter to the other modes */
	if ((s->wrote || (mode != LB_ON_WRITE_ALWAYS && mode != LB_ON_WRITE_TRANS_TRANSACTION)) &&
	    (p == sql + room || !*p || !strchr("sSrRdD", *p)))
		return;
	c = proxy_classify(s, sql, room);
	if (c && (c->flags & CLASSIFY_DEFAULT_ISOLATION)) {
		s->serializable = c->flags & CLASSIFY_DEFAULT_SERIALIZABLE;
		s->snapshot_default = c->flags & CLASSIFY_SNAPSHOT;
	}
	if (c && (c->flags & CLASSIFY_BEGIN))
		s->explicit_tx = true;
	if (s->wrote || (mode == LB_ON_WRITE_TRANS_TRANSACTION && !s->explicit_tx && s->tx_status == 'I'))
		return;
	if (mode != LB_ON_WRITE_ALWAYS && mode != LB_ON_WRITE_TRANS_TRANSACTION)
		return;
	if (!c || (c->flags & CLASSIFY_WRITE) || c->dest == CLASSIFY_PRIMARY)
		s->wrote = true;
}

/*
 * dml_adaptive, pgpool's rule: in an explicit transaction, a read that
 * names no table the transaction wrote still runs on a reader.  pgxr
 * runs it there outside any transaction (the primary's connection, in
 * the transaction, is held meanwhile) and tells the client the
 * transaction's state.  Tables are known by name without their schema.
 */
static bool proxy_dml(void)
{
	return atomic_load_explicit(&proxy.lb_on_write, memory_order_relaxed) == LB_ON_WRITE_DML_ADAPTIVE &&
	       atomic_load_explicit(&proxy.load_balance, memory_order_relaxed);
}

/* FNV-1a of a name, in any case (the relationship list's names are lowercased) */
static unsigned long long proxy_dml_hash(const char *name)
{
	unsigned long long h = 0xcbf29ce484222325ULL;

	for (; *name; name++)
		h = (h ^ (unsigned char)tolower((unsigned char)*name)) * 0x100000001b3ULL;
	return h;
}

static bool proxy_dml_wrote(const struct proxy_sess *s, const char *name)
{
	unsigned long long h = proxy_dml_hash(name);

	for (int i = 0; i < s->dml_n; i++)
		if (s->dml_tabs[i] == h)
			return true;
	return false;
}

static void proxy_dml_add(struct proxy_sess *s, const char *name)
{
	unsigned long long *grown;

	if (s->dml_off || proxy_dml_wrote(s, name))
		return;
	if (s->dml_n == s->dml_cap) {
		int cap = s->dml_cap ? s->dml_cap * 2 : 4;

		grown = cap <= PROXY_DML_TABLES ? realloc(s->dml_tabs, cap * sizeof(*grown)) : NULL;
		if (!grown) {
			s->dml_off = true;
			return;
		}
		s->dml_tabs = grown;
		s->dml_cap = cap;
	}
	s->dml_tabs[s->dml_n++] = proxy_dml_hash(name);
}

/* a write to name (a table, or a function when fn): it, and what the relationship list says it writes */
static void proxy_dml_write(struct proxy_sess *s, const char *name, bool fn)
{
	const char *dep;
	int pos = 0;

	if (!fn)
		proxy_dml_add(s, name);
	while ((dep = splitlist_related(name, fn, &pos)))
		proxy_dml_add(s, dep);
}

/* the transaction ended: what it wrote is forgotten */
static void proxy_dml_end(struct proxy_sess *s)
{
	s->dml_n = 0;
	s->dml_off = false;
	s->dml_failed = false;
	s->dml_fail_q = false;
}

/*
 * A statement on its way to the primary: the tables a DML statement (or
 * a read that locks rows) names, and those the relationship list gives
 * for the functions it calls (pgpool follows functions through the list
 * only).  What changes the transaction's or the session's state, or
 * cannot be followed (SET, SAVEPOINT, LOCK, DDL, TRUNCATE, cursors, SQL
 * EXECUTE, an unparsed text), keeps the rest of its reads on the primary.
 */
static void proxy_dml_stmt(struct proxy_sess *s, const uint8_t *sql, size_t room)
{
	const struct classify *c = proxy_classify(s, sql, room);
	const char *schema = NULL, *name;
	bool rels;

	if (!c || (c->flags & (CLASSIFY_MULTI | CLASSIFY_UNPARSED | CLASSIFY_TOO_DEEP))) {
		s->dml_off = true;
		return;
	}
	/* a transaction of one snapshot must not read another's on a standby */
	if ((c->flags & CLASSIFY_BEGIN) && (c->flags & CLASSIFY_SNAPSHOT))
		s->dml_off = true;
	if ((c->flags & (CLASSIFY_BEGIN | CLASSIFY_TX_END)) || proxy_read_ok(s, c, (const char *)sql))
		return;
	rels = (c->flags & CLASSIFY_DML) ||
	       (c->stat == CLASSIFY_STAT_SELECT && (c->flags & CLASSIFY_WRITE));
	if (!rels && c->dest != CLASSIFY_EITHER) {
		s->dml_off = true;
		return;
	}
	for (int i = 0; i < c->nrels + c->nfuncs; i++) {
		if (!(schema = classify_name_next(c, schema)) || !(name = classify_name_next(c, schema))) {
			s->dml_off = true;
			return;
		}
		if (i >= c->nrels)
			proxy_dml_write(s, name, true);
		else if (rels)
			proxy_dml_write(s, name, false);
		schema = name;
	}
}

/* a read of the unit names a table its transaction wrote */
static bool proxy_dml_touches(struct proxy_sess *s, const uint8_t *sql, size_t room)
{
	const struct classify *c = proxy_classify(s, sql, room);
	const char *schema = NULL, *name;

	/* a BEGIN READ ONLY, say, would leave the reader in a transaction */
	if (!c || (c->flags & (CLASSIFY_BEGIN | CLASSIFY_TX_END)))
		return true;
	for (int i = 0; i < c->nrels; i++) {
		if (!(schema = classify_name_next(c, schema)) || !(name = classify_name_next(c, schema)) ||
		    proxy_dml_wrote(s, name))
			return true;
		schema = name;
	}
	return false;
}

/*
 * Each statement of the unit at the front of c2b: its text to note (to
 * proxy_dml_stmt), or else to check (proxy_dml_touches).  False when the
 * unit is not all here, has a statement pgxr cannot see (an unnamed one
 * of an earlier unit, a FunctionCall), or, when checking, touches a
 * table written or keeps a portal past its Sync (a named portal, or an
 * Execute of some rows only), which a reader outside the transaction
 * would lose.
 */
static bool proxy_dml_unit(struct proxy_sess *s, bool note)
{
	const struct proxy_buf *b = &s->c2b;
	uint32_t off = b->scan;
	bool parsed = false;

	while (b->data && off + 5 <= b->len) {
		const uint8_t *m = b->data + off, *q, *end = NULL;
		uint32_t mlen = pgproto_get32(m + 1), room = mlen - 4;

		if (mlen < 4 || off + 1 + mlen > b->len)
			return false;
		q = m + 5;
		switch (m[0]) {
		case 'Q':
			end = q + room;
			break;
		case 'P':
			if (!(q = memchr(q, '\0', room)))
				return false;
			q++;
			end = m + 1 + mlen;
			parsed = true;
			break;
		case 'B': {
			const struct tx_stmt *st;
			const uint8_t *stmt = memchr(q, '\0', room);
			size_t nlen;

			if (!stmt || !memchr(stmt + 1, '\0', m + 1 + mlen - (stmt + 1)))
				return false;
			if (*q && !note)
				return false;
			if (!*++stmt) {
				if (!parsed)
					return false;
				break;
			}
			/* parsed in this unit, then looked at */
			if (!(st = tx_stmt_find(&s->tx, (const char *)stmt))) {
				if (!parsed)
					return false;
				break;
			}
			nlen = strlen((const char *)st->parse + 5) + 1;
			q = st->parse + 5 + nlen;
			end = st->parse + st->parse_len;
			break;
		}
		case 'E':
			if (!note && (*q || room < 5 || pgproto_get32(q + 1)))
				return false;
			break;
		case 'S':
			return true;
		case 'D':
		case 'C':
			/*
			 * A named portal is the transaction's, on the primary; a
			 * statement closed must be closed where the client's
			 * statements are tracked from
			 */
			if (!note && (room < 2 || (*q == 'P' && q[1]) || (m[0] == 'C' && *q == 'S')))
				return false;
			break;
		case 'H':
			break;
		default:
			return false;
		}
		if (end) {
			if (note)
				proxy_dml_stmt(s, q, end - q);
			else if (proxy_dml_touches(s, q, end - q))
				return false;
			if (m[0] == 'Q')
				return true;
		}
		off += 1 + mlen;
	}
	return false;
}

/*
 * The transaction's primary connection is held (it stays the session's)
 * and the unit, a read of no table the transaction wrote, is routed to a
 * reader.
 */
static void proxy_dml_leave(struct proxy_sess *s)
{
	log_debug("proxy: user \"%s\": a read of a transaction that wrote goes to a reader", s->user);
	s->dml_unit = true;
	s->dml_held = true;
	s->routed = false;
	proxy_tx_set_aside(s, 0, true);
}

/*
 * A read the transaction ran on a reader failed: so does the transaction
 * on the primary, before the client's next statement (whose answers are
 * then those PostgreSQL gives in a failed transaction).
 */
static void proxy_dml_fail(struct proxy_sess *s)
{
	static const char fail[] =
		"DO $pgxr$BEGIN RAISE EXCEPTION 'a read of this transaction failed on a standby (pgxr, dml_adaptive)'; END $pgxr$";

	pgproto_message(&s->inj, 'Q', fail, sizeof(fail));
	s->inject_q++;
	s->pending++;
	s->dml_failed = false;
	s->dml_fail_q = true;
}

/* the read a reader ran for a transaction is answered: its connection goes */
static bool proxy_dml_done(const struct proxy_sess *s)
{
	return s->dml_reading && s->bfd >= 0 && s->pending == 0 && !s->copy_in && !s->unsynced &&
	       !s->c2b.scan && !s->c2b.rest && !s->c2b.mid && !s->b2c.len && s->inj_off == s->inj.len &&
	       s->inject_q == 0 && s->state == PS_RELAY;
}

/* under proxy.lock: node i may get this worker's reads now */
static bool proxy_may_read(const struct proxy_worker *w, int i, long long now)
{
	return proxy.nodes[i].reads && w->shun[i] <= now;
}

/* a number in [0, 1) from the worker's xorshift state */
static double proxy_rand(struct proxy_worker *w)
{
	uint64_t x = w->rand;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	w->rand = x;
	return (double)(x >> 11) / (double)(1ULL << 53);
}

/*
 * under proxy.lock: node i may be drawn: a reader, or with
 * prefer_lower_delay_standby a standby past delay_threshold (its draw
 * goes to the least lagging standby within it)
 */
static bool proxy_pickable(const struct proxy_worker *w, int i, long long now, bool prefer)
{
	return proxy_may_read(w, i, now) || (prefer && proxy.nodes[i].lagging && w->shun[i] <= now);
}

/*
 * under proxy.lock: prefer_lower_delay_standby's node, the standby least
 * behind among those within delay_threshold (by weight among equals);
 * caught: of those that replayed the session's last commit; -1: none
 * (the primary then, as pgpool does)
 */
static int proxy_least_lag(struct proxy_sess *s, long long now, bool caught)
{
	struct proxy_worker *w = s->w;
	long long best = LLONG_MAX;
	double total = 0, r;
	int last = -1;

	for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
		if (i == proxy.node || !proxy_may_read(w, i, now) || (caught && !proxy_caught_up(s, i)))
			continue;
		if (proxy.nodes[i].lag < best) {
			best = proxy.nodes[i].lag;
			total = proxy.nodes[i].weight;
		} else if (proxy.nodes[i].lag == best) {
			total += proxy.nodes[i].weight;
		}
	}
	if (total <= 0)
		return -1;
	r = proxy_rand(w) * total;
	for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
		if (i == proxy.node || !proxy_may_read(w, i, now) || (caught && !proxy_caught_up(s, i)) ||
		    proxy.nodes[i].lag != best)
			continue;
		if (r < proxy.nodes[i].weight)
			return i;
		r -= proxy.nodes[i].weight;
		last = i;
	}
	return last;
}

/*
 * under proxy.lock: the read node by backend_weight, the primary among
 * them; caught: only those that replayed the session's last commit; -1:
 * none.  A standby past delay_threshold takes no reads, unless
 * prefer_lower_delay_standby (pgpool's): then what it would take goes to
 * the standby least behind.  A session a redirect preference list names
 * a node for (pgpool's rule) sends that node its ratio of the reads,
 * while it is up, and the rest to the others by weight; "primary"
 * likewise, whatever its weight; "standby" sends its ratio to the
 * standbys by weight, the rest to the primary.
 */
static int proxy_pick_read(struct proxy_sess *s, long long now, bool caught)
{
	struct proxy_worker *w = s->w;
	bool prefer = atomic_load_explicit(&proxy.prefer_lower_delay, memory_order_relaxed);
	int skip = -1, last = -1;
	bool standbys = false;
	double r, total = 0;

	if (s->has_pref) {
		int n = s->pref_node == SPLITLIST_PRIMARY ? proxy.node : s->pref_node;
		double u = proxy_rand(w);

		if (s->pref_node == SPLITLIST_STANDBY) {
			if (u >= s->pref_ratio && proxy.node >= 0)
				return proxy.node;
			standbys = true;
		} else if (n >= 0 && (n == proxy.node || proxy_pickable(w, n, now, prefer)) &&
			   (!caught || proxy_caught_up(s, n))) {
			if (u < s->pref_ratio)
				return proxy.nodes[n].lagging ? proxy_least_lag(s, now, caught) : n;
			skip = n;
		}
	}
	for (int i = 0; i < PGXR_MAX_BACKENDS; i++)
		if (i != skip && !(standbys && i == proxy.node) && proxy_pickable(w, i, now, prefer) &&
		    (!caught || proxy_caught_up(s, i)))
			total += proxy.nodes[i].weight;
	if (total <= 0)
		return -1;
	r = proxy_rand(w) * total;
	for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
		if (i == skip || (standbys && i == proxy.node) || !proxy_pickable(w, i, now, prefer) ||
		    (caught && !proxy_caught_up(s, i)))
			continue;
		if (r < proxy.nodes[i].weight)
			return proxy.nodes[i].lagging ? proxy_least_lag(s, now, caught) : i;
		r -= proxy.nodes[i].weight;
		last = i;
	}
	return last >= 0 && proxy.nodes[last].lagging ? proxy_least_lag(s, now, caught) : last;
}


/*
 * The routing decision, in one place: the node that runs what the
 * session sends next.  Writes, and everything of a session in session
 * pooling, go to the primary.  With load_balance_mode, in transaction
 * pooling, a unit that only reads goes to the session's read node
 * (statement_level_load_balance: one picked per unit), which may be the
 * primary by its weight; reads go on while no primary is routed.
 */
static int proxy_route_target(struct proxy_sess *s, bool *reading, union proxy_addr *addr,
			      socklen_t *addr_len, unsigned *gen)
{
	const char *begin = NULL;
	uint32_t begin_flags = 0;
	/* a waiter keeps its place in its node's queue: the unit was routed already */
	/* a transaction that moved, or whose primary connection is held, reads there (but dml_adaptive's reads) */
	bool read = s->pool_queued ? s->reading :
		    s->txmode && s->greeted && (s->dml_unit || (!s->moved && !s->dml_held)) &&
		    atomic_load_explicit(&proxy.load_balance, memory_order_relaxed) &&
		    proxy_unit_reads(s, false, s->begin_owed ? NULL : &begin, &begin_flags);
	long long now = read ? proxy_now() : 0;
	char *lead = NULL;
	int node;

	/* a batch led by BEGIN: its text runs on the primary too if the transaction moves there */
	if (read && begin && !(begin_flags & CLASSIFY_READ_ONLY) && !(lead = strdup(begin)))
		read = false;

	s->read_unit = read;
	s->causal_ask = false;
	pthread_mutex_lock(&proxy.lock);
	node = proxy.node;
	if (read) {
		bool stmt = atomic_load_explicit(&proxy.lb_statement, memory_order_relaxed);
		int r = s->read_node;

		/* the primary, drawn (a redirect preference, whatever its weight), stays the session's */
		if (r < 0 || (r != proxy.node && !proxy_may_read(s->w, r, now)) || stmt)
			r = proxy_pick_read(s, now, false);
		if (r >= 0)
			s->read_node = r;
		/*
		 * causal: a reader behind the session's last commit is skipped
		 * for one that has it (per statement) or asked to wait for it;
		 * if it did not replay in time, the unit goes to the primary
		 */
		if (r >= 0 && s->causal_lsn && !proxy_caught_up(s, r) && proxy_causal()) {
			int c = stmt ? proxy_pick_read(s, now, true) : -1;

			if (c >= 0)
				r = c;
			else if (s->causal_primary || s->causal_lsn == PROXY_LSN_UNKNOWN ||
				 !atomic_load_explicit(&proxy.causal_read_timeout, memory_order_relaxed))
				r = -1;
			else
				s->causal_ask = true;
			/* the position is asked again after this read, which the primary runs */
			if (s->causal_lsn == PROXY_LSN_UNKNOWN)
				s->causal_dirty = true;
		}
		s->causal_primary = false;
		if (r >= 0)
			node = r;
	}
	*reading = read && node >= 0 && node != proxy.node;
	if (node >= 0) {
		*addr = proxy.nodes[node].addr;
		*addr_len = proxy.nodes[node].addr_len;
	}
	*gen = atomic_load(&proxy.gen);
	pthread_mutex_unlock(&proxy.lock);
	/*
	 * An explicit transaction a reader takes (the BEGIN pgxr answered,
	 * or the one leading the batch): a write moves it to the primary.
	 * BEGIN READ ONLY's stays, its writes fail there as on any standby.
	 */
	if (!s->pool_queued) {
		s->tx_split = *reading && (s->begin_owed || lead);
		if (lead) {
			free(s->begin);
			s->begin = s->tx_split ? lead : NULL;
			s->begin_plain = false;
			if (!s->tx_split)
				free(lead);
		}
	}
	return node;
}

static int proxy_route(struct proxy_sess *s)
{
	bool reading;

	s->node = proxy_route_target(s, &reading, &s->baddr, &s->baddr_len, &s->gen);
	s->reading = reading;
	/* no reader for it: the read runs on the transaction's primary after all */
	s->dml_reading = reading && s->dml_unit;
	s->dml_unit = false;
	s->unit_done = false;
	s->routed = true;
	return s->node;
}

/*
 * Split in session pooling: a unit starts on the attached connection; if
 * it must run elsewhere, the connection is set aside (held) and 1 says
 * the unit wants another; -1: it waits (a reader's unit is still
 * running, or the client has answers to read first); 0: it runs here.
 */
static int proxy_sticky_switch(struct proxy_sess *s)
{
	union proxy_addr addr;
	socklen_t addr_len;
	unsigned gen;
	bool reading, to_primary;
	int node;

	if (s->tx.pin || s->tx_status != 'I' || s->pending || s->unsynced || s->copy_in ||
	    s->c2b.scan || s->c2b.rest || s->inject_q || s->inj_off != s->inj.len ||
	    s->state != PS_RELAY)
		return s->reading && s->unit_done && s->pending > 0 ? -1 : 0;
	/*
	 * Attached for this very unit: routed once.  A second draw (per
	 * statement) could send it elsewhere again, and again, with nothing
	 * left to wake the session.
	 */
	if (s->routed) {
		if (!s->causal_ask)
			return 0;
		proxy_causal_send(s);
		return -1;
	}
	/* the unit is routed once whole */
	if (proxy_unit_partial(s))
		return -1;
	to_primary = s->causal_primary;
	node = proxy_route_target(s, &reading, &addr, &addr_len, &gen);
	/* no primary routed: set aside, the unit waits for one as any session's does */
	if (node >= 0 && node == s->node && gen == s->gen) {
		s->reading = reading && node == s->node;
		s->unit_done = false;
		if (s->causal_ask) {
			proxy_causal_send(s);
			return -1;
		}
		return 0;
	}
	if (s->b2c.len) {
		s->causal_primary = to_primary;
		return -1;
	}
	proxy_tx_detach(s, 0);
	/* the acquire routes this unit again: a failed wait still sends it to the primary */
	s->causal_primary = to_primary;
	return 1;
}

/*
 * The backend that runs the session of pgxr's key (pid, secret), marked
 * as being canceled; false when the session runs nothing (or too many
 * cancels are under way).  Under the same lock as a session's release of
 * its server connection: either the release sees the mark (and closes
 * that connection), or the cancel sees no backend.
 */
static bool proxy_key_cancel(uint32_t pid, uint32_t secret, struct proxy_key *out, int *slot)
{
	bool found = false;

	pthread_mutex_lock(&proxy.lock);
	for (struct proxy_key *k = proxy.keys[proxy_key_bucket(pid)]; k; k = k->next) {
		if (k->pid == pid && k->secret == secret && k->be_pid) {
			for (int i = 0; i < PROXY_MAX_CANCELING && !found; i++) {
				if (!proxy.canceling[i]) {
					proxy.canceling[i] = k->be_pid;
					*slot = i;
					*out = *k;
					found = true;
				}
			}
			break;
		}
	}
	pthread_mutex_unlock(&proxy.lock);
	return found;
}

/* a cancel request is on its way to backend be_pid: its connection must not serve another client */
static bool proxy_canceling(uint32_t be_pid)
{
	bool found;

	pthread_mutex_lock(&proxy.lock);
	found = proxy_canceling_locked(be_pid);
	pthread_mutex_unlock(&proxy.lock);
	return found;
}

static void proxy_cancel_unmark(int slot)
{
	pthread_mutex_lock(&proxy.lock);
	proxy.canceling[slot] = 0;
	pthread_mutex_unlock(&proxy.lock);
}

static void proxy_cancel_free(struct proxy_worker *w, struct proxy_cancel *c)
{
	struct proxy_cancel **pp;

	for (pp = &w->cancels; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	proxy_cancel_unmark(c->slot);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

/* a CancelRequest: sent on to the backend that runs that client's session, or dropped */
static void proxy_cancel(struct proxy_worker *w, uint32_t pid, uint32_t secret)
{
	struct proxy_cancel *c;
	struct proxy_key k;
	struct epoll_event ev;
	int slot;

	/* as PostgreSQL: an unknown key is ignored, silently; so is a client between transactions */
	if (!proxy_key_cancel(pid, secret, &k, &slot))
		return;
	c = calloc(1, sizeof(*c));
	if (c) {
		c->slot = slot;
		c->next = w->cancels;
		w->cancels = c;
		c->fd = socket(k.addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (!c || c->fd < 0 ||
	    (connect(c->fd, (struct sockaddr *)&k.addr, k.addr_len) && errno != EINPROGRESS)) {
		if (c)
			proxy_cancel_free(w, c);
		else
			proxy_cancel_unmark(slot);
		return;
	}
	pgproto_put32(c->pkt, 16);
	pgproto_put32(c->pkt + 4, PGPROTO_CANCEL);
	pgproto_put32(c->pkt + 8, k.be_pid);
	pgproto_put32(c->pkt + 12, k.be_secret);
	c->tag.kind = PK_CANCEL;
	c->tag.p = c;
	c->deadline = proxy_now() + PROXY_CANCEL_MS;
	ev.events = EPOLLOUT;
	ev.data.ptr = &c->tag;
	epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

/*
 * The cancel connection is up: the request goes.  The server closes it
 * once the backend was signalled; until then that backend's connection
 * serves no other client, whose query the signal could hit.
 */
static void proxy_cancel_event(struct proxy_worker *w, struct proxy_cancel *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = &c->tag };

	if (c->sent ||
	    send(c->fd, c->pkt, sizeof(c->pkt), MSG_NOSIGNAL) != sizeof(c->pkt) ||
	    epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev)) {
		proxy_cancel_free(w, c);
		return;
	}
	c->sent = true;
}

/*
 * A socket of a session: no Nagle delay, and keepalives, so that a peer
 * that vanishes (a client's host lost, a NAT entry dropped) does not hold
 * a server connection and a max_connections slot forever.
 */
/* on a listener, accepted sockets inherit them: no setsockopt per client */
static void proxy_sockopts(int fd)
{
	int one = 1, idle = PROXY_KEEPIDLE, intvl = PROXY_KEEPINTVL, cnt = PROXY_KEEPCNT;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/*
 * A reader refused a connection for a read between transactions: this
 * worker sends it no reads for a while, its health check runs at once,
 * and the read is routed again (to another reader, or the primary), with
 * no error for the client.  False when the session was not reading.
 */
static bool proxy_read_failed(struct proxy_sess *s, const char *why)
{
	if (!s->reading || !s->greeted || !s->txmode || s->node < 0)
		return false;
	log_info("proxy: could not connect to read node %d: %s; its reads go elsewhere", s->node, why);
	s->w->shun[s->node] = proxy_now() + PROXY_SHUN_MS;
	atomic_store_explicit(&proxy.replayed[s->node], 0, memory_order_relaxed);
	proxy_check_node(s->node);
	proxy_close_backend(s);
	s->state = PS_RELAY;
	s->reading = false;
	s->read_node = -1;
	return true;
}

/* connects to the node proxy_route() chose; the startup packet is queued already */
static void proxy_connect(struct proxy_sess *s)
{
	s->bfd = socket(s->baddr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->b2c.drained = false;
	if (s->bfd >= 0)
		proxy_sockopts(s->bfd);
	if (s->bfd >= 0 && !proxy_link_new(s)) {
		proxy_fatal(s, "53200", "out of memory");
		return;
	}
	if (s->bfd < 0 || (connect(s->bfd, (struct sockaddr *)&s->baddr, s->baddr_len) &&
			   errno != EINPROGRESS)) {
		int err = errno;

		if (proxy_read_failed(s, strerror(err)))
			return;
		proxy_check_node(s->node);
		proxy_fatal(s, "08006", "could not connect to %s (node %d): %s",
			    s->reading ? "the read node" : "the primary", s->node,
			    strerror(err));
		return;
	}
	s->state = PS_CONNECTING;
}

/* false as PostgreSQL's parse_bool() reads it: a prefix of false or no, of or off, 0 */
static bool proxy_false(const char *v)
{
	size_t n = strlen(v);

	return (n && !strncasecmp(v, "false", n) && n <= 5) || (n && !strncasecmp(v, "no", n) && n <= 2) ||
	       (n >= 2 && n <= 3 && !strncasecmp(v, "off", n)) || !strcmp(v, "0");
}

/* the client's address as text, for pool_hba.conf's messages and the log */
static void proxy_client_host(const struct proxy_sess *s, char *out, size_t len)
{
	const union proxy_addr *a = &s->caddr;

	if (a->sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a->v6.sin6_addr))
		inet_ntop(AF_INET, a->v6.sin6_addr.s6_addr + 12, out, len);
	else if (a->sa.sa_family == AF_INET6)
		inet_ntop(AF_INET6, &a->v6.sin6_addr, out, len);
	else if (a->sa.sa_family == AF_INET)
		inet_ntop(AF_INET, &a->v4.sin_addr, out, len);
	else
		snprintf(out, len, "[unknown]");
}

/* the worker whose thread runs this; NULL in the main loop */
static __thread struct proxy_worker *proxy_self;

/*
 * Under the pool's lock, in whichever thread gave the connection back:
 * the waiter's worker hears of it, at once when it is this thread.
 */
static void proxy_handed_fn(struct pool_waiter *wt)
{
	struct proxy_sess *s = wt->arg;
	struct proxy_worker *w = s->w;
	uint64_t one = 1;

	pthread_mutex_lock(&w->hlock);
	wt->next = w->handed;
	__atomic_store_n(&w->handed, wt, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&w->hlock);
	if (w == proxy_self)
		w->kick = true;
	else if (atomic_load(&w->sleeping) && write(w->wfd, &one, sizeof(one)) < 0)
		log_debug("proxy: could not wake worker %d: %s", w->id, strerror(errno));
}

/* the session's place in a pool's queue, made the first time it may wait */
static struct pool_waiter *proxy_waiter(struct proxy_sess *s)
{
	if (!s->qw && (s->qw = calloc(1, sizeof(*s->qw)))) {
		s->qw->handed_fn = proxy_handed_fn;
		s->qw->arg = s;
	}
	return s->qw;
}

/* takes wt off its worker's handed list, where pool_hand() put it */
static void proxy_handed_drop(struct proxy_worker *w, struct pool_waiter *wt)
{
	pthread_mutex_lock(&w->hlock);
	for (struct pool_waiter **pp = &w->handed; *pp; pp = &(*pp)->next) {
		if (*pp == wt) {
			*pp = wt->next;
			break;
		}
	}
	pthread_mutex_unlock(&w->hlock);
	wt->next = NULL;
}

/* the session no longer waits; what it was handed meanwhile goes to the next one */
static void proxy_unqueue(struct proxy_sess *s)
{
	if (!s->queued)
		return;
	s->queued = false;
	s->pool_queued = false;
	if (s->qw && s->pool && pool_unwait(s->pool, s->qw)) {
		proxy_handed_drop(s->w, s->qw);
		s->qw->handed = false;
		if (s->qw->conn.fd < 0) {
			pool_server_gone(s->pool, s->qw->node);
		} else if (!pool_put(s->pool, &s->qw->conn, INT_MAX)) {
			pool_conn_free(&s->qw->conn);
			pool_server_gone(s->pool, s->qw->node);
		}
	}
}

/*
 * Transaction pooling: the server connection is attached (taken from the
 * pool or just logged in).  It is told the client's SETs when it carries
 * others (RESET ALL first), ahead of the client's messages, and the
 * client's cancel key now stands for it.
 */
static void proxy_tx_ready(struct proxy_sess *s)
{
	proxy_unqueue(s);
	s->queued_until = 0;
	s->want_server = false;
	s->state = PS_RELAY;
	s->holds_server = s->pool != NULL;
	proxy_key_server(s, 0);
	if (s->server_sets != s->set_hash) {
		uint8_t *sets = NULL;
		size_t len = 0;
		int n;

		if (s->server_sets) {
			static const char reset[] = "RESET SESSION AUTHORIZATION; RESET ROLE; RESET ALL";

			pgproto_message(&s->inj, 'Q', reset, sizeof(reset));
			s->inject_q++;
			s->pending++;
		}
		n = tx_set_replay(&s->tx, &sets, &len);
		if (n > 0) {
			pgproto_raw(&s->inj, sets, len);
			s->inject_q += n;
			s->pending += n;
		}
		free(sets);
		s->server_sets = s->set_hash;
	}
	if (s->causal_ask)
		proxy_causal_send(s);
}

/*
 * Transaction pooling: the transaction ended, the server connection goes
 * back to the pool.  owed: ReadyForQuery it owes pgxr first (read and
 * dropped on the way); -1: it cannot serve again.
 */
static void proxy_tx_detach(struct proxy_sess *s, int owed)
{
	proxy_tx_set_aside(s, owed, s->sticky);
}

/* the attached server connection leaves the session (hold: it stays the session's, held) */
static void proxy_tx_set_aside(struct proxy_sess *s, int owed, bool hold)
{
	struct proxy_worker *w = s->w;
	struct pool_conn c = {
		.fd = s->bfd, .ssl = s->bssl, .node = s->node, .gen = s->gen, .be_pid = s->be_pid,
		.be_secret = s->be_secret, .params = s->params, .born = s->born, .uses = s->uses,
		.prepared = s->prepared, .sets = s->server_sets, .idle_since = proxy_now(),
	};
	struct proxy_link *l = s->blink;
	unsigned ev = s->bev;
	bool canceling;

	s->blink = NULL;
	s->bev = 0;
	s->bfd = -1;
	s->b2c.drained = false;
	s->bssl = NULL;
	s->be_pid = 0;
	memset(&s->params, 0, sizeof(s->params));
	memset(&s->prepared, 0, sizeof(s->prepared));
	s->holds_server = false;
	/* a cancel on its way there could hit the next client's query: that connection closes */
	canceling = proxy_key_server(s, c.be_pid);
	if (hold && !canceling && l && owed >= 0) {
		proxy_hold(s, l, &c, ev, owed);
		return;
	}
	/* a connection in a transaction never joins the pool: the session will miss it */
	if (hold)
		owed = -1;
	if (owed > 0 && !canceling && l && s->pool &&
	    proxy_server_reset(w, s->pool, &c, ev, true, false, 'T', owed)) {
		proxy_link_drop(w, l);
		return;
	}
	/*
	 * Parked: it stays in this worker's epoll set, waiting for EPOLLIN
	 * only (a server that speaks or closes is dropped), for the next
	 * transaction of a session of this worker.  Not while another session
	 * waits for the pool (that one gets it), nor when the pool has
	 * max_pool connections and none idle: those are shared by the workers.
	 */
	if (!canceling && !owed && l && s->pool && (ev & PROXY_REGISTERED) && (ev & EPOLLIN) &&
	    !(ev & EPOLLOUT) && atomic_load_explicit(&w->nparked, memory_order_relaxed) < PROXY_PARK_MAX &&
	    pool_park(s->pool, c.node, atomic_load(&proxy.max_pool))) {
		l->tag = (struct proxy_tag){ PK_PARKED, l };
		l->events = ev;
		l->pool = s->pool;
		l->conn = c;
		l->parked_at = c.idle_since;
		pthread_mutex_lock(&w->lock);
		l->next = w->parked;
		w->parked = l;
		pthread_mutex_unlock(&w->lock);
		atomic_fetch_add_explicit(&w->nparked, 1, memory_order_relaxed);
		return;
	}
	if (ev)
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, c.fd, NULL);
	if (l)
		proxy_link_drop(w, l);
	if (canceling || owed || !pool_put(s->pool, &c, INT_MAX)) {
		pool_conn_free(&c);
		pool_server_gone(s->pool, c.node);
	}
}

static void proxy_attach(struct proxy_sess *s, struct pool_conn *c, struct proxy_link *l);

/*
 * Split in session pooling: the connection the session leaves for a unit
 * elsewhere stays its own, in the epoll set for EPOLLIN only (a server
 * that speaks or closes is dropped), for its next unit on that node.
 */
static void proxy_hold(struct proxy_sess *s, struct proxy_link *l, struct pool_conn *c, unsigned ev,
		       int owed)
{
	l->tag = (struct proxy_tag){ PK_HELD, l };
	l->owner = s;
	l->pool = s->pool;
	l->conn = *c;
	l->events = ev;
	/* answers it owes stay in the socket until the session takes it again (and drops them) */
	l->owed = owed;
	proxy_watch(s->w, c->fd, &l->events, owed ? EPOLLRDHUP : EPOLLIN | EPOLLRDHUP, &l->tag);
	l->next = s->held;
	s->held = l;
}

static void proxy_held_unlink(struct proxy_sess *s, struct proxy_link *l)
{
	struct proxy_link **pp = &s->held;

	while (*pp != l)
		pp = &(*pp)->next;
	*pp = l->next;
	l->next = NULL;
}

/* a held connection leaves its session: reset into the pool (keep, as at its end), or closed */
static void proxy_held_end(struct proxy_sess *s, struct proxy_link *l, bool keep)
{
	proxy_held_unlink(s, l);
	if (keep && l->pool && proxy_server_reset(s->w, l->pool, &l->conn, l->events, true, true, 'I', l->owed)) {
		proxy_link_drop(s->w, l);
		return;
	}
	if (l->events)
		epoll_ctl(s->w->epfd, EPOLL_CTL_DEL, l->conn.fd, NULL);
	pool_conn_free(&l->conn);
	if (l->pool)
		pool_server_gone(l->pool, l->conn.node);
	proxy_link_drop(s->w, l);
}

/* the session's held connection to its node in its generation, attached again; false: none */
static bool proxy_unhold(struct proxy_sess *s)
{
	for (struct proxy_link *l = s->held, *next; l; l = next) {
		next = l->next;
		if (l->conn.node != s->node)
			continue;
		if (l->conn.gen != s->gen) {
			proxy_held_end(s, l, false);
			continue;
		}
		proxy_held_unlink(s, l);
		/* the answers it owes pgxr are dropped as those of replayed SETs are */
		s->inject_q += l->owed;
		s->pending += l->owed;
		l->owed = 0;
		proxy_attach(s, &l->conn, l);
		return true;
	}
	return false;
}

/* l leaves the worker's parked list (under its lock: SHOW reads the list) */
static void proxy_park_unlink(struct proxy_worker *w, struct proxy_link *l)
{
	struct proxy_link **pp = &w->parked;

	pthread_mutex_lock(&w->lock);
	while (*pp != l)
		pp = &(*pp)->next;
	*pp = l->next;
	pthread_mutex_unlock(&w->lock);
	l->next = NULL;
	atomic_fetch_sub_explicit(&w->nparked, 1, memory_order_relaxed);
}

/* a parked connection leaves the worker: back into the shared pool (keep), or closed */
static void proxy_park_end(struct proxy_worker *w, struct proxy_link *l, bool keep)
{
	proxy_park_unlink(w, l);
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, l->conn.fd, NULL);
	if (!keep || proxy_canceling(l->conn.be_pid) || !pool_put(l->pool, &l->conn, INT_MAX)) {
		pool_conn_free(&l->conn);
		pool_server_gone(l->pool, l->conn.node);
	}
	proxy_link_drop(w, l);
}

/* every parked connection back into the shared pool: a session of another worker waits */
static void proxy_park_flush(struct proxy_worker *w)
{
	while (w->parked)
		proxy_park_end(w, w->parked, true);
}

/*
 * A session began to wait for a pool: the workers that hold parked
 * connections give theirs back (all of them: the pool that waits is one
 * of few).  A worker told already, or with none, is not woken.
 */
static void proxy_unpark_others(struct proxy_worker *self)
{
	uint64_t one = 1;

	for (int i = 0; i < proxy.nworkers; i++) {
		struct proxy_worker *w = &proxy.workers[i];

		if (w == self || !atomic_load_explicit(&w->nparked, memory_order_relaxed) ||
		    atomic_exchange(&w->unpark, true))
			continue;
		if (write(w->wfd, &one, sizeof(one)) < 0)
			log_debug("proxy: could not wake worker %d: %s", w->id, strerror(errno));
	}
}

/*
 * The client is in and its server connection logged in: pgxr says what
 * the server would have, its parameters, a key of pgxr's and ready.  In
 * transaction pooling the key's pid is pgxr's (the server changes), and
 * a client greeted already only gets its server attached.
 */
static void proxy_greet(struct proxy_sess *s)
{
	/* transaction pooling logs in again later, with the pool's copy: an idle client keeps none */
	if (s->cred) {
		if (s->txmode && s->pool)
			pool_cred_set(s->pool, s->cred);
		explicit_bzero(s->cred, sizeof(*s->cred));
		free(s->cred);
		s->cred = NULL;
	}
	/* the parameters of a fresh login, never of a connection another client changed */
	if (s->txmode && s->pool && s->bfd >= 0 && s->uses == 1 && !s->server_sets && !s->reading)
		pool_params_set(s->pool, &s->params);
	if (s->greeted) {
		proxy_tx_ready(s);
		return;
	}
	s->greeted = true;
	if (!s->txmode) {
		s->key_pid = s->be_pid;
	} else if (digest_random(&s->key_pid, sizeof(s->key_pid))) {
		s->key_pid = (uint32_t)(uintptr_t)s;
	}
	if (s->txmode)
		s->key_pid = (s->key_pid & 0x3fffffff) | 0x40000000;
	pgproto_auth(&s->local, PGPROTO_AUTH_OK, NULL, 0);
	pgproto_raw(&s->local, s->params.data, s->params.len);
	pgproto_backend_key(&s->local, s->key_pid, s->key_secret);
	pgproto_ready(&s->local, 'I');
	s->tx_status = 'I';
	s->pending = 0;
	proxy_key_add(s);
	s->keyed = true;
	s->state = PS_RELAY;
	s->heard = proxy_now();
	if (s->txmode) {
		/* the parameters are the attached server's business; a client between transactions keeps none */
		if (s->bfd < 0)
			pgproto_buf_free(&s->params);
		proxy_key_server(s, 0);
		/* the greeting's server is not this client's: it goes back at once */
		if (s->bfd >= 0) {
			s->holds_server = s->pool != NULL;
		}
	}
}

/* a new server connection for the session, logged in by pgxr or by the client (passthrough) */
static void proxy_new_server(struct proxy_sess *s)
{
	if (s->passthrough) {
		if (!s->c2b.data && !(s->c2b.data = proxy_buf_get(s->w))) {
			proxy_fatal(s, "53200", "out of memory");
			return;
		}
		memcpy(s->c2b.data, s->be_startup, s->be_startup_len);
		s->c2b.len = s->c2b.scan = s->be_startup_len;
		/* the startup's answer ends with a ReadyForQuery, like a query's */
		s->pending = 1;
	} else {
		if (!s->cred && s->pool && (s->cred = malloc(sizeof(*s->cred))) &&
		    !pool_cred_get(s->pool, s->cred))
			s->cred->kind = AUTH_SECRET_NONE;
		s->lout.len = s->lout_off = 0;
		pgproto_raw(&s->lout, s->be_startup, s->be_startup_len);
		pgproto_buf_free(&s->params);
		tx_server_free(&s->prepared);
		s->server_sets = 0;
	}
	s->deadline = proxy_now() + atomic_load(&proxy.authentication_timeout) * 1000LL;
	proxy_connect(s);
}

/* c, a connection of its pool, serves the session now */
static void proxy_attach(struct proxy_sess *s, struct pool_conn *c, struct proxy_link *l)
{
	if (l) {
		/* parked by this worker: registered already, for what it waited for */
		l->tag = (struct proxy_tag){ PK_BACKEND, s };
		s->blink = l;
		s->bev = l->events;
	} else if (!proxy_link_new(s)) {
		int node = c->node;

		pool_conn_free(c);
		pool_server_gone(s->pool, node);
		proxy_fatal(s, "53200", "out of memory");
		return;
	}
	s->bfd = c->fd;
	/* an idle pooled connection has nothing to read; if it had, epoll will say so at once */
	s->b2c.drained = !c->ssl;
	s->bssl = c->ssl;
	s->be_pid = c->be_pid;
	s->be_secret = c->be_secret;
	pgproto_buf_free(&s->params);
	s->params = c->params;
	tx_server_free(&s->prepared);
	s->prepared = c->prepared;
	s->server_sets = c->sets;
	s->born = c->born;
	s->uses = c->uses + 1;
	s->holds_server = true;
	proxy_unqueue(s);
	s->queued_until = 0;
	proxy_greet(s);
}

/* a new server connection for the session, counted in its pool (if it has one) */
static void proxy_make_server(struct proxy_sess *s)
{
	proxy_unqueue(s);
	s->queued_until = 0;
	s->holds_server = s->pool != NULL;
	proxy_new_server(s);
}

/*
 * Transaction pooling: a connection of the session's pool that this
 * worker parked, if one fits (its node and routing generation); one whose
 * server spoke or closed is dropped on the way.
 */
static bool proxy_unpark(struct proxy_sess *s)
{
	struct proxy_worker *w = s->w;
	struct proxy_link *l, *next;

	for (l = w->parked; l; l = next) {
		next = l->next;
		if (l->pool != s->pool || l->conn.node != s->node || l->conn.gen != s->gen)
			continue;
		/* sessions of other workers wait for this pool: they come first */
		if (!pool_park(s->pool, s->node, 0)) {
			proxy_park_flush(w);
			return false;
		}
		/* as the shared pool does: one parked a while is looked at, a server gone is dropped */
		if (!pool_conn_quiet(&l->conn)) {
			proxy_park_end(w, l, false);
			continue;
		}
		proxy_park_unlink(w, l);
		proxy_attach(s, &l->conn, l);
		return true;
	}
	return false;
}

/*
 * The session wants a server connection to the primary: an idle one of
 * its pool if there is one, else a new one.  With no primary it waits.
 * In transaction pooling a pool holds at most max_pool connections: past
 * them the client waits for one to come back (query_wait_timeout), and a
 * client whose pool knows the servers' parameters is greeted with none.
 */
static void proxy_acquire(struct proxy_sess *s)
{
	struct pool_conn c;
	enum pool_get got;

	if (proxy_route(s) < 0) {
		if (!s->greeted)
			s->state = PS_WAITING;	/* a failover is under way: the sweep comes back */
		else if (!s->queued) {
			if (!s->queued_until)
				s->queued_until = proxy_now() +
						  atomic_load(&proxy.authentication_timeout) * 1000LL;
			s->queued = true;
		}
		return;
	}
	if (s->key && !s->pool)
		s->pool = pool_join(s->key, s->key_len, s->user, s->database);
	if (s->txmode && !s->greeted && s->pool) {
		pgproto_buf_free(&s->params);
		if (pool_params_get(s->pool, &s->params)) {
			proxy_unqueue(s);
			s->queued_until = 0;
			proxy_greet(s);
			return;
		}
	}
	if (!s->pool) {
		proxy_make_server(s);
		return;
	}
	if ((s->sticky || s->held) && proxy_unhold(s)) {
		if (s->dml_held && !s->dml_reading) {
			s->dml_held = false;
			if (s->dml_failed)
				proxy_dml_fail(s);
		}
		return;
	}
	/* the transaction's primary connection closed while a reader ran a read */
	if (s->dml_held && !s->dml_reading) {
		proxy_fatal(s, "08006", "the connection to the primary (node %d) that ran this transaction was lost",
			    s->node);
		return;
	}
	if (s->txmode && !s->sticky && proxy_unpark(s))
		return;
	if (s->txmode && !s->sticky && !proxy_waiter(s)) {
		proxy_fatal(s, "53200", "out of memory");
		return;
	}
	/* another thread may hand it a connection at once: this one serves it after the event */
	/* session pooling (split or not) has no limit on connections, only on idle ones */
	got = pool_get(s->pool, s->node, s->gen,
		       s->txmode && !s->sticky ? atomic_load(&proxy.max_pool) : 0, &c,
		       s->txmode && !s->sticky ? s->qw : NULL);
	if (got == POOL_CONN) {
		proxy_attach(s, &c, NULL);
		return;
	}
	/* a read waits for no reader while its transaction holds the primary: it runs there */
	if (got == POOL_WAIT && s->dml_reading) {
		s->queued = true;
		proxy_unqueue(s);
		s->queued_until = 0;
		s->dml_reading = false;
		proxy_acquire(s);
		return;
	}
	if (got == POOL_WAIT) {
		int wait = atomic_load(&proxy.query_wait_timeout);

		if (s->txmode && !s->queued)
			proxy_unpark_others(s->w);

		s->queued = true;
		s->pool_queued = s->txmode && !s->sticky;
		/* the wait began when the first try failed; retries do not extend it */
		if (!s->queued_until && wait)
			s->queued_until = proxy_now() + wait * 1000LL;
		if (!s->greeted)
			s->state = PS_WAITING;
		return;
	}
	proxy_make_server(s);
}

/*
 * A waiting session was handed a server connection of its pool (or the
 * slot of one that closed, to make one): it is served now, ahead of
 * anyone who came later.  One of another routing generation is closed
 * and the session asks again.
 */
static void proxy_handed(struct proxy_sess *s)
{
	struct pool_waiter *wt = s->qw;
	struct pool_conn c = wt->conn;

	wt->handed = false;
	s->pool_queued = false;
	s->queued = false;
	if (c.fd >= 0 && (c.node != s->node || c.gen != s->gen || s->bfd >= 0)) {
		pool_conn_free(&c);
		pool_server_gone(s->pool, wt->node);
		if (s->bfd < 0)
			proxy_acquire(s);
	} else if (c.fd >= 0) {
		proxy_attach(s, &c, NULL);
	} else if (s->bfd >= 0 || wt->node != s->node) {
		/* a slot of a node the session no longer wants: the next waiter's */
		pool_server_gone(s->pool, wt->node);
		if (s->bfd < 0)
			proxy_acquire(s);
	} else {
		proxy_make_server(s);
	}
	if (!s->dead && s->state == PS_RELAY && s->bfd >= 0)
		proxy_scan_c2b(s);
	if (!s->dead)
		proxy_pump(s);
}

/* the sessions of this worker that were handed a server connection, one at a time off the list */
static void proxy_serve_handed(struct proxy_worker *w)
{
	struct pool_waiter *wt;

	w->kick = false;
	for (;;) {
		pthread_mutex_lock(&w->hlock);
		wt = w->handed;
		if (wt)
			__atomic_store_n(&w->handed, wt->next, __ATOMIC_SEQ_CST);
		pthread_mutex_unlock(&w->hlock);
		if (!wt)
			break;
		wt->next = NULL;
		proxy_handed(wt->arg);
	}
}

/* the end of pgxr's authentication of the client: on to a server, or 28P01 */
static void proxy_auth_done(struct proxy_sess *s, bool ok, const char *why)
{
	char host[INET6_ADDRSTRLEN];

	if (s->scram)
		explicit_bzero(s->scram, sizeof(*s->scram));
	free(s->scram);
	s->scram = NULL;
	s->auth_step = AS_NONE;
	if (!ok) {
		proxy_client_host(s, host, sizeof(host));
		log_info("proxy: password authentication failed for user \"%s\" from %s: %s (pool_hba.conf line %d)",
			 s->user, host, why, s->hba_line);
		proxy_fatal(s, "28P01", "password authentication failed for user \"%s\"", s->user);
		return;
	}
	proxy_acquire(s);
}

static void proxy_auth_challenge(struct proxy_sess *s, enum auth_method m);

/*
 * auth_query: a user pool_passwd lacks is looked up on the primary, as
 * auth_user (whose own secret is in pool_passwd), with auth_query and the
 * user's name as its parameter; the answer's second column is the
 * secret (an md5 hash or a SCRAM verifier, as pg_authid has it).  The
 * connection is the session's server socket while it lasts.  false: no
 * lookup (no auth_user), the client is asked at once.
 */
static bool proxy_authq_start(struct proxy_sess *s, enum auth_method m)
{
	char user[64];
	struct auth_secret *au;
	size_t len;

	pthread_mutex_lock(&proxy.lock);
	snprintf(user, sizeof(user), "%s", proxy.auth_user);
	pthread_mutex_unlock(&proxy.lock);
	if (!user[0])
		return false;
	au = calloc(1, sizeof(*au));
	if (!au)
		return false;
	if (!auth_lookup(user, au)) {
		log_warning("proxy: auth_user \"%s\" has no entry in pool_passwd: no lookup for user \"%s\"",
			    user, s->user);
		free(au);
		return false;
	}
	if (proxy_route(s) < 0) {
		free(au);
		return false;	/* no primary to ask: the exchange goes on and fails */
	}
	s->authq = true;
	s->authq_sent = false;
	s->authq_method = m;
	s->authq_cred = s->cred;
	s->cred = au;
	/* a startup packet of auth_user's, to the client's database */
	s->lout.len = s->lout_off = 0;
	len = 8 + strlen("user") + 1 + strlen(user) + 1 + strlen("database") + 1 +
	      strlen(s->database) + 1 + 1;
	{
		uint8_t head[8];

		pgproto_put32(head, len);
		pgproto_put32(head + 4, PGPROTO_V3);
		pgproto_raw(&s->lout, head, 8);
		pgproto_raw(&s->lout, "user", 5);
		pgproto_raw(&s->lout, user, strlen(user) + 1);
		pgproto_raw(&s->lout, "database", 9);
		pgproto_raw(&s->lout, s->database, strlen(s->database) + 1);
		pgproto_raw(&s->lout, "", 1);
	}
	proxy_connect(s);
	return true;
}

/* auth_user is in: auth_query goes, by the extended protocol, with the user's name as $1 */
static void proxy_authq_send(struct proxy_sess *s)
{
	struct pgproto_buf b = {};
	char query[1024];
	uint8_t bind[512];
	size_t n = 0, ulen = strlen(s->user);

	pthread_mutex_lock(&proxy.lock);
	snprintf(query, sizeof(query), "%s", proxy.auth_query);
	pthread_mutex_unlock(&proxy.lock);
	pgproto_raw(&b, "", 0);
	{
		uint8_t parse[1100];
		size_t ql = strlen(query) + 1;

		parse[0] = '\0';	/* the unnamed statement */
		memcpy(parse + 1, query, ql);
		parse[1 + ql] = 0;	/* no parameter types */
		parse[2 + ql] = 0;
		pgproto_message(&b, 'P', parse, 3 + ql);
	}
	/* Bind: unnamed portal and statement, text parameters, one: the user */
	bind[n++] = '\0';
	bind[n++] = '\0';
	bind[n++] = 0;
	bind[n++] = 0;
	bind[n++] = 0;
	bind[n++] = 1;
	pgproto_put32(bind + n, ulen);
	n += 4;
	memcpy(bind + n, s->user, ulen);
	n += ulen;
	bind[n++] = 0;
	bind[n++] = 0;
	pgproto_message(&b, 'B', bind, n);
	pgproto_message(&b, 'E', "\0\0\0\0", 5);
	pgproto_message(&b, 'S', NULL, 0);
	pgproto_raw(&s->lout, b.data, b.len);
	pgproto_buf_free(&b);
	s->authq_sent = true;
}

/* the lookup is over: its connection goes, and the client is asked with what was found */
static void proxy_authq_done(struct proxy_sess *s)
{
	proxy_close_backend(s);
	s->b2c.len = s->b2c.scan = s->b2c.rest = 0;
	proxy_buf_put(s->w, &s->b2c);
	s->lout.len = s->lout_off = 0;
	s->be_pid = 0;
	s->uses = 0;
	pgproto_buf_free(&s->params);
	explicit_bzero(s->cred, sizeof(*s->cred));
	free(s->cred);
	s->cred = s->authq_cred;
	s->authq_cred = NULL;
	s->authq = false;
	s->state = PS_STARTUP;
	proxy_auth_challenge(s, s->authq_method);
}

/* a message of the lookup's answer: the row's second column is the secret */
static int proxy_authq_message(struct proxy_sess *s, const uint8_t *m, uint32_t mlen)
{
	if (m[0] == 'E') {
		log_warning("proxy: auth_query for user \"%s\" failed on node %d", s->user, s->node);
		if (s->authq_cred)
			s->authq_cred->kind = AUTH_SECRET_NONE;
	}
	if (m[0] == 'D' && mlen >= 6 && pgproto_get32(m + 1) == mlen && s->authq_cred) {
		const uint8_t *p = m + 7, *end = m + 1 + mlen;
		int ncols = (m[5] << 8) | m[6];

		for (int c = 0; c < ncols && p + 4 <= end; c++) {
			int32_t len = (int32_t)pgproto_get32(p);

			p += 4;
			if (len < 0)
				continue;
			if (p + len > end)
				break;
			if (c == 1 && len < AUTH_MAX_PASSWORD) {
				char secret[AUTH_MAX_PASSWORD];

				memcpy(secret, p, len);
				secret[len] = '\0';
				if (auth_parse_secret(s->user, secret, NULL, s->authq_cred))
					s->authq_cred->kind = AUTH_SECRET_NONE;
				explicit_bzero(secret, sizeof(secret));
			}
			p += len;
		}
	}
	return 0;
}

/* pgxr's authentication of the client, as its pool_hba.conf line says */
/*
 * pool_hba.conf's line for the client says how it proves who it is;
 * pool_passwd says what it is checked against.  An unknown user goes
 * through the same exchange and fails at its end, as in PostgreSQL.
 */
static void proxy_auth_begin(struct proxy_sess *s)
{
	char host[INET6_ADDRSTRLEN];
	enum auth_method m;

	proxy_client_host(s, host, sizeof(host));
	const char *enc = s->cssl ? "SSL encryption" : "no encryption";

	if (auth_hba(&s->caddr.sa, s->cssl != NULL, s->database, s->user, &m,
		     &s->hba_line)) {
		log_info("proxy: no pool_hba.conf entry for host \"%s\", user \"%s\", database \"%s\", %s",
			 host, s->user, s->database, enc);
		proxy_fatal(s, "28000", "no pool_hba.conf entry for host \"%s\", user \"%s\", database \"%s\", %s",
			    host, s->user, s->database, enc);
		return;
	}
	if (m == AUTH_REJECT) {
		log_info("proxy: pool_hba.conf line %d rejects host \"%s\", user \"%s\", database \"%s\", %s",
			 s->hba_line, host, s->user, s->database, enc);
		proxy_fatal(s, "28000", "pool_hba.conf rejects connection for host \"%s\", user \"%s\", database \"%s\", %s",
			    host, s->user, s->database, enc);
		return;
	}
	s->cred = calloc(1, sizeof(*s->cred));
	if (!s->cred) {
		proxy_fatal(s, "53200", "out of memory");
		return;
	}
	if (!auth_lookup(s->user, s->cred)) {
		s->cred->kind = AUTH_SECRET_NONE;
		if (m != AUTH_TRUST && proxy_authq_start(s, m))
			return;
	}
	proxy_auth_challenge(s, m);
}

/* what the client is asked for, by the method of its pool_hba.conf line and what pgxr holds */
static void proxy_auth_challenge(struct proxy_sess *s, enum auth_method m)
{
	static const char mechs[] = "SCRAM-SHA-256\0";	/* and the list's closing NUL */
	static const char mechs_tls[] = "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0";

	/* as PostgreSQL: md5 against a SCRAM verifier is done with SCRAM */
	if (m == AUTH_MD5 && s->cred->kind == AUTH_SECRET_SCRAM)
		m = AUTH_SCRAM;
	switch (m) {
	case AUTH_TRUST:
		proxy_acquire(s);
		return;
	case AUTH_PASSWORD:
		pgproto_auth(&s->local, PGPROTO_AUTH_CLEARTEXT, NULL, 0);
		s->auth_step = AS_PASSWORD;
		break;
	case AUTH_MD5:
		if (digest_random(s->md5_salt, sizeof(s->md5_salt))) {
			proxy_fatal(s, "58000", "could not generate a random salt");
			return;
		}
		pgproto_auth(&s->local, PGPROTO_AUTH_MD5, s->md5_salt, sizeof(s->md5_salt));
		s->auth_step = AS_MD5;
		break;
	default:
		s->scram = calloc(1, sizeof(*s->scram));
		if (!s->scram) {
			proxy_fatal(s, "53200", "out of memory");
			return;
		}
		/* over TLS, channel binding to pgxr's certificate is offered too */
		if (s->cssl && !tls_endpoint(s->cssl, false, s->scram->cbind, &s->scram->cbind_len))
			pgproto_auth(&s->local, PGPROTO_AUTH_SASL, mechs_tls, sizeof(mechs_tls));
		else
			pgproto_auth(&s->local, PGPROTO_AUTH_SASL, mechs, sizeof(mechs));
		s->auth_step = AS_SCRAM_FIRST;
		break;
	}
	s->state = PS_AUTH;
}

/* one PasswordMessage, SASLInitialResponse or SASLResponse of the client */
static void proxy_auth_step(struct proxy_sess *s, const uint8_t *body, size_t len)
{
	struct auth_secret *cred = s->cred;
	bool known = cred->kind != AUTH_SECRET_NONE;
	char out[512];
	int ret;

	switch (s->auth_step) {
	case AS_PASSWORD:
	case AS_MD5:
		if (!len || body[len - 1] || strlen((const char *)body) != len - 1 ||
		    len > AUTH_MAX_PASSWORD) {
			proxy_fatal(s, "08P01", "invalid password packet size");
			return;
		}
		if (!known) {
			proxy_auth_done(s, false, "the user has no entry in pool_passwd");
		} else if (s->auth_step == AS_MD5) {
			proxy_auth_done(s, auth_md5_check(cred, s->user, s->md5_salt, (const char *)body),
					"wrong password (md5)");
		} else if (!auth_password_check(cred, s->user, (const char *)body)) {
			proxy_auth_done(s, false, "wrong password (password)");
		} else {
			/* the password itself: whatever the server asks, pgxr can answer */
			cred->kind = AUTH_SECRET_TEXT;
			memcpy(cred->text, body, len);
			proxy_auth_done(s, true, NULL);
		}
		return;
	case AS_SCRAM_FIRST: {
		const char *mech = (const char *)body;
		size_t mlen = strnlen(mech, len);
		uint32_t dlen;

		if (mlen + 5 > len || (dlen = pgproto_get32(body + mlen + 1)) != len - mlen - 5) {
			proxy_fatal(s, "08P01", "malformed SCRAM message");
			return;
		}
		ret = auth_scram_server_first(s->scram, known ? cred : NULL, mech, body + mlen + 5,
					      dlen, out, sizeof(out));
		if (ret == -ENOKEY) {
			/* an md5 hash cannot check a SCRAM proof: the exchange goes on to fail */
			memset(s->scram, 0, sizeof(*s->scram));
			cred->kind = AUTH_SECRET_NONE;
			ret = auth_scram_server_first(s->scram, NULL, mech, body + mlen + 5, dlen, out,
						      sizeof(out));
		}
		if (ret) {
			proxy_fatal(s, "08P01", "malformed SCRAM message");
			return;
		}
		pgproto_auth(&s->local, PGPROTO_AUTH_SASL_CONTINUE, out, strlen(out));
		s->auth_step = AS_SCRAM_FINAL;
		return;
	}
	case AS_SCRAM_FINAL: {
		struct auth_secret learnt;

		ret = auth_scram_server_final(s->scram, body, len, out, sizeof(out), &learnt);
		if (ret == -EINVAL || ret == -EPROTO) {
			proxy_fatal(s, "08P01", "malformed SCRAM message");
			return;
		}
		if (!ret) {
			pgproto_auth(&s->local, PGPROTO_AUTH_SASL_FINAL, out, strlen(out));
			/* a verifier in pool_passwd: the client's keys log in to the server */
			if (cred->kind == AUTH_SECRET_SCRAM)
				*cred = learnt;
		}
		explicit_bzero(&learnt, sizeof(learnt));
		proxy_auth_done(s, ret == 0, !known ? "the user has no entry in pool_passwd, or only an md5 hash (scram-sha-256 needs a verifier or the password)" :
				"wrong password (scram-sha-256)");
		return;
	}
	default:
		proxy_fatal(s, "08P01", "unexpected password message");
	}
}

/* the client's answers while pgxr authenticates it; -1 when the session was freed */
static int proxy_auth_read(struct proxy_sess *s)
{
	uint8_t body[PROXY_SMALL];
	struct proxy_buf *b = &s->c2b;
	uint32_t mlen;
	ssize_t n = proxy_read(s->w, s->cfd, s->cssl, b);

	if (n == 0 || n == -1) {
		proxy_sess_free(s);
		return -1;
	}
	if (b->len < 5)
		return 0;
	mlen = pgproto_get32(b->data + 1);
	if (b->data[0] != 'p' || mlen < 4 || mlen + 1 > PROXY_SMALL) {
		proxy_fatal(s, "08P01", "expected a password response, got message type %d", b->data[0]);
		return 0;
	}
	if (b->len < mlen + 1)
		return 0;
	if (b->len > mlen + 1) {
		proxy_fatal(s, "08P01", "unexpected message after the password response");
		return 0;
	}
	/* the buffer is free again before the step: it carries the server's startup next */
	memcpy(body, b->data + 5, mlen - 4);
	b->len = 0;
	proxy_buf_put(s->w, b);
	proxy_auth_step(s, body, mlen - 4);
	explicit_bzero(body, mlen - 4);
	return 0;
}

/* pgxr cannot log in to the server for this client: the client hears why */
static int proxy_login_fail(struct proxy_sess *s, const char *why)
{
	log_warning("proxy: could not log in to node %d as user \"%s\": %s", s->node, s->user, why);
	proxy_fatal(s, "28000", "pgxr could not log in to the server (node %d) as user \"%s\": %s",
		    s->node, s->user, why);
	return -1;
}

/* the server's Authentication request during pgxr's login, answered into c2b */
static int proxy_login_auth(struct proxy_sess *s, const uint8_t *body, size_t len)
{
	static const struct auth_secret none = { .kind = AUTH_SECRET_NONE };
	const struct auth_secret *cred = s->cred ? s->cred : &none;
	struct pgproto_buf out = {};
	uint32_t code = len >= 4 ? pgproto_get32(body) : ~0u;
	char buf[512];
	int ret = 0;

	switch (code) {
	case PGPROTO_AUTH_OK:
		return 0;
	case PGPROTO_AUTH_CLEARTEXT:
		if (cred->kind != AUTH_SECRET_TEXT)
			return proxy_login_fail(s, "the server asks for a cleartext password and pool_passwd holds no TEXT or AES password for the user");
		pgproto_message(&out, 'p', cred->text, strlen(cred->text) + 1);
		break;
	case PGPROTO_AUTH_MD5:
		if (len < 8 || auth_md5_response(cred, s->user, body + 4, buf))
			return proxy_login_fail(s, "the server asks for md5 and pool_passwd holds no md5 hash or password for the user");
		pgproto_message(&out, 'p', buf, strlen(buf) + 1);
		break;
	case PGPROTO_AUTH_SASL: {
		bool scram, plus;

		pgproto_sasl_mechs(body + 4, len - 4, &scram, &plus);
		if (!scram && !plus)
			return proxy_login_fail(s, "the server offers no SCRAM-SHA-256");
		s->scram = calloc(1, sizeof(*s->scram));
		if (!s->scram)
			return proxy_login_fail(s, "out of memory");
		/* over TLS: bound to the server's certificate when it offers binding */
		if (s->bssl && tls_endpoint(s->bssl, true, s->scram->cbind, &s->scram->cbind_len))
			return proxy_login_fail(s, "no certificate from the server for channel binding");
		s->scram->plus = plus && s->bssl;
		/* said once per node: operators see that the logins are bound to the server's TLS */
		if (s->scram->plus && s->node >= 0 && s->node < PGXR_MAX_BACKENDS &&
		    !atomic_exchange(&proxy.plus_said[s->node], true))
			log_info("proxy: logging in to node %d with SCRAM-SHA-256-PLUS (channel binding to its TLS certificate)",
				 s->node);
		if (auth_scram_client_first(s->scram, cred, buf, sizeof(buf)))
			return proxy_login_fail(s, "the server asks for SCRAM: pool_passwd needs the password (TEXT or AES), or a verifier and a client that logs in with scram-sha-256");
		pgproto_sasl_initial(&out, s->scram->plus ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256", buf);
		break;
	}
	case PGPROTO_AUTH_SASL_CONTINUE:
		ret = s->scram ? auth_scram_client_final(s->scram, body + 4, len - 4, buf, sizeof(buf)) : -EPROTO;
		if (ret == -ESTALE)
			return proxy_login_fail(s, "the user's SCRAM verifier in pool_passwd is not the server's (another salt or iteration count)");
		if (ret)
			return proxy_login_fail(s, "invalid SCRAM message from the server");
		pgproto_message(&out, 'p', buf, strlen(buf));
		break;
	case PGPROTO_AUTH_SASL_FINAL:
		if (!s->scram || auth_scram_client_verify(s->scram, body + 4, len - 4))
			return proxy_login_fail(s, "the server's SCRAM signature is wrong");
		return 0;
	default:
		return proxy_login_fail(s, "the server asks for an authentication method pgxr does not speak");
	}
	if (out.failed) {
		pgproto_buf_free(&out);
		return proxy_login_fail(s, "out of memory");
	}
	pgproto_raw(&s->lout, out.data, out.len);
	explicit_bzero(out.data, out.len);
	pgproto_buf_free(&out);
	return 0;
}

/*
 * The server's messages while pgxr logs in: authentication requests are
 * answered, parameters and the key kept, notices dropped; ReadyForQuery
 * ends the login and the client is greeted.  The server's error goes to
 * the client as it is.  -1 when the session ends.
 */
static int proxy_login(struct proxy_sess *s)
{
	struct proxy_buf *b = &s->b2c;

	while (b->len >= 5) {
		uint8_t *m = b->data, type;
		uint32_t mlen = pgproto_get32(m + 1);

		if (mlen < 4 || mlen + 1 > PROXY_SMALL)
			return proxy_login_fail(s, "invalid message from the server");
		if (b->len < mlen + 1)
			break;
		if (s->authq && s->authq_sent) {
			/* the lookup's answer, up to its ReadyForQuery */
			type = m[0];
			proxy_authq_message(s, m, mlen);
			memmove(b->data, b->data + mlen + 1, b->len - mlen - 1);
			b->len -= mlen + 1;
			if (type == 'Z') {
				/* the secret found, if any, is in authq_cred already */
				proxy_authq_done(s);
				return -1;
			}
			continue;
		}
		/* a reader that refuses the login (shutting down, starting, full) serves no read now */
		if (m[0] == 'E' && s->reading && s->greeted) {
			b->len = b->scan = 0;
			if (proxy_read_failed(s, "it refused the login"))
				return -1;
		}
		if (m[0] == 'E') {
			b->len = b->scan = mlen + 1;
			s->last_b2c = 'E';
			log_info("proxy: node %d refused user \"%s\"%s (its error goes to the client)",
				 s->node, s->user, s->authq ? "'s auth_user" : "");
			proxy_fatal(s, NULL, "the server said why");
			return -1;
		}
		if (m[0] == 'R' && proxy_login_auth(s, m + 5, mlen - 4))
			return -1;
		if (m[0] == 'S')
			pgproto_params_set(&s->params, m, mlen + 1);
		if (m[0] == 'K' && mlen == 12) {
			s->be_pid = pgproto_get32(m + 5);
			s->be_secret = pgproto_get32(m + 9);
		}
		type = m[0];
		memmove(b->data, b->data + mlen + 1, b->len - mlen - 1);
		b->len -= mlen + 1;
		if (type == 'Z') {
			if (s->scram)
				explicit_bzero(s->scram, sizeof(*s->scram));
			free(s->scram);
			s->scram = NULL;
			if (s->authq) {
				proxy_authq_send(s);
				continue;
			}
			proxy_greet(s);
			return 0;
		}
	}
	return 0;
}

/*
 * What a session keeps of its startup, in one block: the packet pgxr
 * sends the server (pkt), then, with connection_cache, the pool key: who
 * the client is and every parameter it asked for.  user and database
 * point into the packet; database is user's when the client named none.
 */
static int proxy_session_block(struct proxy_sess *s, const struct pgproto_startup *st,
			       const uint8_t *pkt, size_t len)
{
	bool keyed = atomic_load(&proxy.connection_cache);
	struct pgproto_startup copy;
	const char *user, *db;
	size_t klen = 2;
	double ratio = 1;
	int node = 0;
	uint8_t *b;
	char *p;

	for (int i = 0; keyed && i < st->nparams; i++)
		klen += strlen(st->name[i]) + strlen(st->value[i]) + 2;
	b = malloc(len + (keyed ? klen : 0));
	if (!b)
		return -ENOMEM;
	memcpy(b, pkt, len);
	if (pgproto_startup_parse(b, len, &copy)) {
		free(b);
		return -EINVAL;
	}
	user = pgproto_startup_param(&copy, "user");
	db = pgproto_startup_param(&copy, "database");
	if (!db || !db[0])
		db = user;
	s->be_startup = b;
	s->be_startup_len = len;
	if (keyed) {
		/* a server the client logged in to itself is not one pgxr logged in to */
		p = s->key = (char *)b + len;
		*p++ = s->passthrough ? 'p' : 'a';
		*p++ = '\0';
		for (int i = 0; i < st->nparams; i++) {
			size_t n = strlen(st->name[i]) + 1, v = strlen(st->value[i]) + 1;

			memcpy(p, st->name[i], n);
			memcpy(p + n, st->value[i], v);
			p += n + v;
		}
		s->key_len = p - s->key;
	}
	pthread_mutex_lock(&s->w->lock);
	s->user = user;
	s->database = db;
	pthread_mutex_unlock(&s->w->lock);
	s->app = pgproto_startup_param(&copy, "application_name");
	/* pgpool's redirect preference lists, as they are when the session starts */
	s->has_pref = splitlist_redirect(s->app, db, &node, &ratio);
	s->pref_node = (int16_t)node;
	s->pref_ratio = (float)ratio;
	return 0;
}

static int proxy_read_startup(struct proxy_sess *s);

/* the client's TLS handshake goes on; -1 when the session was freed */
static int proxy_tls_client(struct proxy_sess *s)
{
	int ret = tls_handshake(s->cssl, &s->tls_want_write);

	if (ret == -EAGAIN)
		return 0;
	if (ret) {
		char host[INET6_ADDRSTRLEN];

		proxy_client_host(s, host, sizeof(host));
		log_info("proxy: TLS handshake with %s failed: %s", host, tls_error());
		proxy_sess_free(s);
		return -1;
	}
	s->state = PS_STARTUP;
	s->startup_len = 0;
	/* the startup packet may be in TLS's buffer already: no event would say so */
	return proxy_read_startup(s);
}

/*
 * A whole startup packet is in: answer SSLRequest and GSSENCRequest with
 * 'N', pass a CancelRequest on, and for a StartupMessage take a slot of
 * max_connections, then authenticate the client or let the server do it.
 * Returns -1 when the session was freed.
 */
static int proxy_startup(struct proxy_sess *s)
{
	static const char no = 'N';
	struct pgproto_startup st;
	const char *opts[PGPROTO_MAX_PARAMS];
	const char *repl, *user;
	uint8_t pkt[PGPROTO_MAX_STARTUP];
	int nopts = 0, len;

	if (pgproto_startup_parse(s->startup, s->startup_len, &st)) {
		proxy_fatal(s, "08P01", "invalid startup packet layout");
		return 0;
	}
	if (st.code == PGPROTO_SSL && s->cssl) {
		proxy_fatal(s, "08P01", "SSLRequest inside TLS");
		return 0;
	}
	if (st.code == PGPROTO_SSL && tls_server_on()) {
		static const char yes = 'S';

		/* 'S' goes in plain text; the startup packet comes after the handshake */
		s->startup_len = 0;
		if (send(s->cfd, &yes, 1, MSG_NOSIGNAL) != 1 || !(s->cssl = tls_accept_new(s->cfd))) {
			proxy_sess_free(s);
			return -1;
		}
		s->state = PS_TLS;
		return proxy_tls_client(s);
	}
	if (st.code == PGPROTO_SSL || st.code == PGPROTO_GSSENC) {
		/* no TLS (ssl = off) nor GSS encryption: the client goes on in plain text */
		if (send(s->cfd, &no, 1, MSG_NOSIGNAL) != 1) {
			proxy_sess_free(s);
			return -1;
		}
		s->startup_len = 0;
		return 0;
	}
	if (st.code == PGPROTO_CANCEL) {
		proxy_cancel(s->w, st.cancel_pid, st.cancel_key);
		proxy_sess_free(s);
		return -1;
	}
	repl = pgproto_startup_param(&st, "replication");
	if (repl && !proxy_false(repl)) {
		proxy_fatal(s, "0A000", "replication connections are not supported by pgxr's proxy: connect to the primary itself");
		return 0;
	}
	user = pgproto_startup_param(&st, "user");
	if (!user || !user[0]) {
		proxy_fatal(s, "28000", "no PostgreSQL user name specified in startup packet");
		return 0;
	}
	if (atomic_fetch_add(&proxy.clients, 1) >= atomic_load(&proxy.max_connections)) {
		atomic_fetch_sub(&proxy.clients, 1);
		proxy_fatal(s, "53300", "sorry, too many clients already");
		return 0;
	}
	s->counted = true;
	/* 3.0 is what pgxr speaks: a newer minor version, and protocol options, are declined */
	for (int i = 0; i < st.nparams; i++)
		if (!strncmp(st.name[i], "_pq_.", 5))
			opts[nopts++] = st.name[i];
	if ((st.code & 0xffff) || nopts)
		pgproto_negotiate(&s->local, PGPROTO_V3, opts, nopts);
	len = pgproto_startup_build(&st, PGPROTO_V3, pkt, sizeof(pkt));
	if (len < 0) {
		proxy_fatal(s, "08P01", "invalid startup packet layout");
		return 0;
	}
	s->passthrough = !auth_enabled();
	if (proxy_session_block(s, &st, pkt, len)) {
		proxy_fatal(s, "53200", "out of memory");
		return 0;
	}
	/*
	 * Transaction pooling needs pgxr's own logins and a pool; so does the
	 * split in session pooling, which runs the same way with connections
	 * of the session's own
	 */
	s->txmode = !s->passthrough && s->key &&
		    (atomic_load(&proxy.pool_transaction) || atomic_load(&proxy.load_balance));
	s->sticky = s->txmode && !atomic_load(&proxy.pool_transaction);
	if (s->txmode)
		s->c2b.reserve = 512;
	free(s->startup);
	s->startup = NULL;
	if (digest_random(&s->key_secret, sizeof(s->key_secret)))
		s->key_secret = (uint32_t)proxy_now() ^ ((uintptr_t)s * 2654435761u);
	if (s->passthrough)
		proxy_acquire(s);
	else
		proxy_auth_begin(s);
	return 0;
}

/* the startup packet arrives in pieces, its length word first; -1 when the session was freed */
static int proxy_read_startup(struct proxy_sess *s)
{
	size_t want;
	ssize_t n;

	if (!s->startup && !(s->startup = malloc(PGPROTO_MAX_STARTUP))) {
		proxy_sess_free(s);
		return -1;
	}
	for (;;) {
		/* 8 bytes, the shortest packet, then the rest: an SSLRequest takes one read */
		want = s->startup_len < 4 ? 8 : pgproto_get32(s->startup);
		if (s->startup_len >= 4 && (want < 8 || want > PGPROTO_MAX_STARTUP)) {
			proxy_fatal(s, "08P01", "invalid length of startup packet");
			return 0;
		}
		n = proxy_recv(s->cfd, s->cssl, s->startup + s->startup_len, want - s->startup_len);
		if (n <= 0) {
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			proxy_sess_free(s);
			return -1;
		}
		s->startup_len += n;
		if (s->startup_len >= 8 && s->startup_len == pgproto_get32(s->startup)) {
			/* the client waits for an answer now: anything more it sends, epoll reports */
			s->c2b.drained = !s->cssl;
			return proxy_startup(s);
		}
	}
}

static void proxy_connected(struct proxy_sess *s)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(s->bfd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		if (proxy_read_failed(s, strerror(err ? err : errno)))
			return;
		proxy_check_node(s->node);
		proxy_fatal(s, "08006", "could not connect to %s (node %d): %s",
			    s->reading ? "the read node" : "the primary", s->node,
			    strerror(err ? err : errno));
		return;
	}
	s->heard = s->born = proxy_now();
	s->uses = 1;
	if (tls_backend_mode() != TLS_BACKEND_DISABLE) {
		uint8_t req[8];

		/* the socket is new and empty: 8 bytes go at once */
		pgproto_put32(req, 8);
		pgproto_put32(req + 4, PGPROTO_SSL);
		if (send(s->bfd, req, sizeof(req), MSG_NOSIGNAL) != sizeof(req)) {
			proxy_backend_lost(s);
			return;
		}
		s->state = PS_BTLS;
		s->tls_want_write = false;
		return;
	}
	s->state = s->passthrough ? PS_RELAY : PS_LOGIN;
}

/* TLS to the server: its one-byte answer to SSLRequest, then the handshake */
static void proxy_tls_backend(struct proxy_sess *s)
{
	char answer;
	int ret;

	if (!s->bssl) {
		ssize_t n = recv(s->bfd, &answer, 1, 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			proxy_backend_lost(s);
			return;
		}
		if (answer == 'N' && tls_backend_mode() == TLS_BACKEND_PREFER) {
			s->state = s->passthrough ? PS_RELAY : PS_LOGIN;
			return;
		}
		if (answer != 'S') {
			log_warning("proxy: node %d refuses TLS (backend_sslmode %s)", s->node,
				    proxy.cfg->backend_sslmode);
			proxy_fatal(s, "08006", "the server (node %d) does not support TLS, which backend_sslmode requires",
				    s->node);
			return;
		}
		char host[sizeof(proxy.nodes[0].host)];

		/* the name verify-full checks: the node's backend_hostname */
		pthread_mutex_lock(&proxy.lock);
		memcpy(host, proxy.nodes[s->node].host, sizeof(host));
		pthread_mutex_unlock(&proxy.lock);
		s->bssl = tls_connect_new(s->bfd, host);
		if (!s->bssl) {
			proxy_fatal(s, "53200", "out of memory");
			return;
		}
	}
	ret = tls_handshake(s->bssl, &s->tls_want_write);
	if (ret == -EAGAIN)
		return;
	if (ret) {
		const char *why = tls_error();

		log_warning("proxy: TLS handshake with node %d failed: %s", s->node, why);
		proxy_fatal(s, "08006", "TLS with the server (node %d) failed: %s", s->node, why);
		return;
	}
	s->state = s->passthrough ? PS_RELAY : PS_LOGIN;
}

/* out of file descriptors: the listener rests until the next sweep instead of spinning */
static void proxy_accept_pause(struct proxy_worker *w)
{
	struct epoll_event ev = { .events = 0, .data.ptr = &w->ltag };

	if (w->paused)
		return;
	log_warning("proxy: could not accept a connection: %s; pausing new connections for 100 ms",
		    strerror(errno));
	epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->lfd, &ev);
	w->paused = true;
}

static void proxy_accept_resume(struct proxy_worker *w)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->ltag };

	if (w->paused && epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->lfd, &ev) == 0)
		w->paused = false;
}

static void proxy_accept(struct proxy_worker *w)
{
	for (;;) {
		struct sockaddr_storage addr;
		socklen_t alen = sizeof(addr);
		int fd = accept4(w->lfd, (struct sockaddr *)&addr, &alen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct proxy_sess *s;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				proxy_accept_pause(w);
			return;
		}
		/*
		 * Connections still in their startup hold no max_connections
		 * slot; they are bounded too, so that a flood of silent
		 * connections cannot take every descriptor.
		 */
		if (atomic_fetch_add(&proxy.sockets, 1) >= 2 * atomic_load(&proxy.max_connections)) {
			atomic_fetch_sub(&proxy.sockets, 1);
			if (send(fd, proxy.too_many.data, proxy.too_many.len,
				 MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				log_debug("proxy: a refused client is gone: %s", strerror(errno));
			close(fd);
			continue;
		}
		s = calloc(1, sizeof(*s));
		if (!s) {
			atomic_fetch_sub(&proxy.sockets, 1);
			close(fd);
			continue;
		}
		s->w = w;
		s->cfd = fd;
		memcpy(&s->caddr, &addr, alen < sizeof(s->caddr) ? alen : sizeof(s->caddr));
		s->bfd = -1;
		s->b2c.drained = false;
		s->node = -1;
		s->read_node = -1;
		s->pending_at_execute = -1;
		s->ctag = (struct proxy_tag){ PK_CLIENT, s };
		s->started = proxy_now();
		s->deadline = s->started + atomic_load(&proxy.authentication_timeout) * 1000LL;
		pthread_mutex_lock(&w->lock);
		s->next = w->sessions;
		if (w->sessions)
			w->sessions->prev = s;
		w->sessions = s;
		w->accepted++;
		pthread_mutex_unlock(&w->lock);
		proxy_update(s);
		/* the client speaks first and its packet is often in already: no epoll round */
		if (proxy_read_startup(s) == 0)
			proxy_pump(s);
	}
}

static void proxy_event(struct proxy_worker *w, struct proxy_tag *t, unsigned events)
{
	struct proxy_sess *s = t->p;

	switch (t->kind) {
	case PK_LISTEN:
		proxy_accept(w);
		return;
	case PK_WAKE: {
		uint64_t v;

		/* a server connection was handed over; or the primary changed: sweep now */
		if (read(w->wfd, &v, sizeof(v)) < 0)
			log_debug("proxy: wake-up read: %s", strerror(errno));
		if (atomic_exchange(&w->resweep, false))
			w->sweep_now = true;
		if (atomic_exchange(&w->unpark, false))
			proxy_park_flush(w);
		proxy_serve_handed(w);
		return;
	}
	case PK_PARKED: {
		struct proxy_link *l = t->p;
		char c;

		/*
		 * A parked server spoke or closed (a terminated backend says
		 * why): it is dropped.  The event may also be older than the
		 * parking, from the transaction that read it since: then the
		 * socket is empty and the connection stays.
		 */
		if (!(events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) &&
		    recv(l->conn.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN)
			return;
		proxy_park_end(w, l, false);
		return;
	}
	case PK_HELD: {
		struct proxy_link *l = t->p;
		char c;

		/*
		 * As a parked one: a held server that spoke or closed is
		 * dropped; one that owes pgxr an answer speaks, and only its
		 * close counts (an older event of this batch may say EPOLLIN)
		 */
		if (!(events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) &&
		    (l->owed || (recv(l->conn.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN)))
			return;
		proxy_held_end(l->owner, l, false);
		return;
	}
	case PK_DEAD:
		return;
	case PK_CANCEL:
		proxy_cancel_event(w, t->p);
		return;
	case PK_SERVER:
		((struct proxy_server *)t->p)->in.drained = false;
		proxy_server_event(w, t->p);
		return;
	case PK_CLIENT:
		if (s->dead)
			return;
		s->c2b.drained = false;
		if (s->state == PS_TLS && proxy_tls_client(s))
			return;
		if (s->state == PS_STARTUP && proxy_read_startup(s))
			return;
		if (s->state == PS_AUTH && proxy_auth_read(s))
			return;
		/* a reset or a hang-up both ways: nothing can reach the client any more */
		if (events & (EPOLLERR | EPOLLHUP)) {
			proxy_sess_free(s);
			return;
		}
		/* a client that hangs up while nothing is read from it */
		if ((s->state == PS_WAITING || s->state == PS_CONNECTING || s->state == PS_LOGIN ||
		     s->state == PS_BTLS || s->state == PS_CLOSING) &&
		    (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))) {
			proxy_sess_free(s);
			return;
		}
		break;
	case PK_BACKEND:
		if (s->dead)
			return;
		s->b2c.drained = false;
		if (s->state == PS_CONNECTING)
			proxy_connected(s);
		else if (s->state == PS_BTLS)
			proxy_tls_backend(s);
		else if (s->state == PS_RELAY && (events & (EPOLLERR | EPOLLHUP)) &&
			 s->b2c.len == PROXY_BUF)
			proxy_backend_lost(s);	/* unreadable until the client reads: it would spin */
		break;
	}
	proxy_pump(s);
}

/*
 * Every 100 ms: a startup that takes too long ends
 * (authentication_timeout), so does a silent client (client_idle_limit);
 * sessions waiting for a primary connect once there is one; sessions on
 * a node that is no longer the primary end; cancel requests that hang
 * are dropped.
 */
static void proxy_sweep(struct proxy_worker *w)
{
	long long now = proxy_now();
	long long idle = atomic_load(&proxy.client_idle_limit) * 1000LL;
	unsigned gen = atomic_load(&proxy.gen);
	bool reads[PGXR_MAX_BACKENDS];
	int primary;

	proxy_accept_resume(w);
	pthread_mutex_lock(&proxy.lock);
	primary = proxy.node;
	for (int i = 0; i < PGXR_MAX_BACKENDS; i++)
		reads[i] = proxy.nodes[i].reads;
	pthread_mutex_unlock(&proxy.lock);
	for (struct proxy_sess *s = w->sessions, *next; s; s = next) {
		bool waiting_on_backend = s->pending > 0 && !s->c2b.rest && s->c2b.scan == s->c2b.len;

		next = s->next;
		if (s->state == PS_CLOSING) {
			if (now >= s->deadline)
				proxy_sess_free(s);
			continue;
		}
		if (now >= s->deadline && (s->state != PS_RELAY || !(s->greeted || s->be_pid))) {
			if (s->state == PS_WAITING && s->queued)
				proxy_fatal(s, "53300", "no server connection for user \"%s\" within authentication_timeout (%d s): its pool is full (max_pool %d)",
					    s->user, atomic_load(&proxy.authentication_timeout),
					    atomic_load(&proxy.max_pool));
			else
				proxy_fatal(s, s->state == PS_WAITING ? "57P03" : "08006",
					    s->state == PS_WAITING ?
					    "no primary is routed: pgxrd found none within authentication_timeout (%d s)" :
					    "the startup of the session took longer than authentication_timeout (%d s)",
					    atomic_load(&proxy.authentication_timeout));
		} else if (s->state == PS_WAITING && primary >= 0) {
			proxy_acquire(s);
		} else if (s->queued && s->greeted && s->queued_until && now >= s->queued_until) {
			proxy_fatal(s, "53300", "no server connection for user \"%s\" within query_wait_timeout (%d s): its pool is full (max_pool %d)",
				    s->user, atomic_load(&proxy.query_wait_timeout),
				    atomic_load(&proxy.max_pool));
		} else if (s->queued && s->greeted && !s->pool_queued) {
			proxy_unqueue(s);	/* no primary was routed: the pump asks again */
		} else if ((s->state == PS_RELAY || s->state == PS_CONNECTING) && s->bfd >= 0 &&
			   s->gen != gen && s->node != primary && !(s->reading && reads[s->node])) {
			proxy_fatal(s, "57P01", "terminating connection because node %d is no longer the primary",
				    s->node);
		} else if (proxy_tls_pending(s)) {
			/* falls through to the pump */
		} else if (s->state == PS_RELAY && idle && (s->greeted || s->be_pid) &&
			   !waiting_on_backend && now - s->heard >= idle) {
			proxy_fatal(s, "57P05", "terminating connection due to client_idle_limit (%d s)",
				    atomic_load(&proxy.client_idle_limit));
		} else {
			continue;
		}
		proxy_pump(s);
	}
	for (struct proxy_cancel *c = w->cancels, *next; c; c = next) {
		next = c->next;
		if (now >= c->deadline)
			proxy_cancel_free(w, c);
	}
	for (struct proxy_server *v = w->resetting, *next; v; v = next) {
		next = v->next;
		if (now >= v->deadline)
			proxy_server_free(w, v, false);
	}
	/* parked long enough: back to the shared pool; of an older routing: closed */
	for (struct proxy_link *l = w->parked, *next; l; l = next) {
		next = l->next;
		if (l->conn.gen != gen)
			proxy_park_end(w, l, false);
		else if (now - l->parked_at >= PROXY_PARK_MS)
			proxy_park_end(w, l, true);
	}
}

static void *proxy_run(void *arg)
{
	struct proxy_worker *w = arg;
	struct epoll_event ev[PROXY_EVENTS];
	long long next_sweep = proxy_now() + 100;

	pthread_mutex_lock(&w->lock);
	w->tid = gettid();
	proxy_self = w;
	w->started = proxy_wall(proxy_now());
	pthread_mutex_unlock(&w->lock);
	w->qc = qcache_new(PROXY_QCACHE_ENTRIES, PROXY_QCACHE_BYTES);
	if (digest_random(&w->rand, sizeof(w->rand)) || !w->rand)
		w->rand = 0x9e3779b97f4a7c15ULL ^ (uint64_t)w->tid;
	while (!atomic_load(&w->stop)) {
		int n;

		/* asleep, it is woken for a hand-over; awake, it looks after each event */
		atomic_store(&w->sleeping, true);
		if (__atomic_load_n(&w->handed, __ATOMIC_SEQ_CST)) {
			atomic_store(&w->sleeping, false);
			proxy_serve_handed(w);
		}
		/* a session waiting for a reader's replay asks again within milliseconds */
		n = epoll_wait(w->epfd, ev, PROXY_EVENTS, w->npolls ? 1 : 100);
		atomic_store(&w->sleeping, false);

		for (int i = 0; i < n; i++) {
			proxy_event(w, ev[i].data.ptr, ev[i].events);
			/* one handed over by another thread is served now, not after the batch */
			if (w->kick || __atomic_load_n(&w->handed, __ATOMIC_RELAXED))
				proxy_serve_handed(w);
		}
		if (w->npolls)
			proxy_causal_tick(w);
		if (w->sweep_now || proxy_now() >= next_sweep) {
			w->sweep_now = false;
			proxy_sweep(w);
			next_sweep = proxy_now() + 100;
		}
		proxy_bury(w);
	}
	while (w->sessions)
		proxy_sess_free(w->sessions);
	proxy_bury(w);
	while (w->cancels)
		proxy_cancel_free(w, w->cancels);
	while (w->resetting)
		proxy_server_free(w, w->resetting, false);
	while (w->parked)
		proxy_park_end(w, w->parked, false);
	proxy_bury(w);
	while (w->nspare)
		free(w->spare[--w->nspare]);
	qcache_free(w->qc);
	w->qc = NULL;
	free(w->polls);
	w->polls = NULL;
	w->npolls = w->polls_cap = 0;
	return NULL;
}

/* a listening socket of its own for each worker: the kernel spreads clients over them */
static int proxy_listen(const struct pgxr_config *cfg)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST };
	const char *host = strcmp(cfg->listen_addresses, "*") ? cfg->listen_addresses : NULL;
	struct addrinfo *ai;
	char port[8];
	int fd, one = 1, ret;

	snprintf(port, sizeof(port), "%d", cfg->proxy_port);
	hints.ai_family = host ? AF_UNSPEC : AF_INET6;
	ret = getaddrinfo(host, port, &hints, &ai);
	if (ret) {
		log_error("listen_addresses \"%s\": %s", cfg->listen_addresses, gai_strerror(ret));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto cleanup;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	proxy_sockopts(fd);
	/* listen_addresses may be the VIP, which this host may not hold yet */
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (ai->ai_family == AF_INET6 && !host) {
		int zero = 0;

		/* "*": IPv4 too, as IPv4-mapped addresses */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 1024)) {
		ret = -errno;
		close(fd);
		goto cleanup;
	}
	ret = fd;
cleanup:
	if (ret < 0)
		log_error("could not listen on %s port %d: %s", cfg->listen_addresses, cfg->proxy_port,
			  strerror(-ret));
	freeaddrinfo(ai);
	return ret;
}

/* the main loop hears which node a session saw go away, and checks it at once */
static void proxy_check_event(int fd, unsigned events, void *arg)
{
	int id;

	(void)events;
	(void)arg;
	while (read(fd, &id, sizeof(id)) == sizeof(id)) {
		struct node *n = node_get(id);

		if (n)
			health_check_now(n);
	}
}

/* reset_query_list ("ABORT; DISCARD ALL") as one Query message per statement */
static void proxy_reset_build(const char *list)
{
	struct pgproto_buf q = {};
	char copy[sizeof(proxy.reset_src)], *save = NULL;
	int n = 0;

	snprintf(copy, sizeof(copy), "%s", list);
	for (char *t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
		char *e;

		t += strspn(t, " \t\n");
		e = t + strlen(t);
		while (e > t && strchr(" \t\n", e[-1]))
			*--e = '\0';
		if (!*t)
			continue;
		pgproto_message(&q, 'Q', t, strlen(t) + 1);
		n++;
	}
	if (q.failed) {
		pgproto_buf_free(&q);
		return;
	}
	pthread_mutex_lock(&proxy.lock);
	pgproto_buf_free(&proxy.reset);
	proxy.reset = q;
	proxy.nreset = n;
	pthread_mutex_unlock(&proxy.lock);
	snprintf(proxy.reset_src, sizeof(proxy.reset_src), "%s", list);
}

/* what a session does, in pgpool's words where pgpool has them; then whether it is pinned */
static const char *proxy_status(const struct proxy_sess *s, char *buf, size_t len)
{
	enum proxy_state st = __atomic_load_n(&s->state, __ATOMIC_RELAXED);
	char tx = __atomic_load_n(&s->tx_status, __ATOMIC_RELAXED);
	const char *pin = __atomic_load_n(&s->tx.pin, __ATOMIC_RELAXED);
	const char *what;

	if (st == PS_CLOSING)
		what = "Closing";
	else if (__atomic_load_n(&s->queued, __ATOMIC_RELAXED))
		what = "Wait for server";	/* its pool is full */
	else if (st != PS_RELAY)
		what = "Connecting";	/* startup, authentication, a login, or waiting for a primary */
	else if (__atomic_load_n(&s->pending, __ATOMIC_RELAXED) > 0)
		what = "Execute command";
	else if (tx == 'T' || tx == 'E')
		what = "Idle in transaction";
	else if (s->txmode && __atomic_load_n(&s->bfd, __ATOMIC_RELAXED) < 0)
		what = "Idle (no server)";
	else
		what = "Idle";
	if (pin)
		snprintf(buf, len, "%s (pinned: %s)", what, pin);
	else
		snprintf(buf, len, "%s", what);
	return buf;
}

/*
 * SHOW pool_processes: a "process" of pgpool is, in pgxr, a client
 * session of a worker thread (pool_pid is the thread's id); each worker
 * also has a row of its own, its listener, "Wait for connection".
 */
void proxy_processes(struct show_table *t)
{
	show_table_init(t, show_processes_names, SHOW_PROCESSES_COLS);
	for (int i = 0; i < proxy.nworkers; i++) {
		struct proxy_worker *w = &proxy.workers[i];
		char pid[16], start[32], count[24], conn[32], counter[16], status[96];
		const char *v[SHOW_PROCESSES_COLS] = { pid, start, count, "", "", "", "", "Wait for connection" };

		pthread_mutex_lock(&w->lock);
		snprintf(pid, sizeof(pid), "%d", (int)w->tid);
		show_time(w->started, start, sizeof(start));
		snprintf(count, sizeof(count), "%llu", w->accepted);
		show_table_row(t, v);
		for (struct proxy_sess *s = w->sessions; s; s = s->next) {
			unsigned uses = __atomic_load_n(&s->uses, __ATOMIC_RELAXED);

			show_time(proxy_wall(s->started), start, sizeof(start));
			show_time(uses ? proxy_wall(__atomic_load_n(&s->born, __ATOMIC_RELAXED)) : 0,
				  conn, sizeof(conn));
			snprintf(counter, sizeof(counter), "%u", uses);
			v[3] = s->database ? s->database : "";
			v[4] = s->user ? s->user : "";
			v[5] = conn;
			v[6] = counter;
			v[7] = proxy_status(s, status, sizeof(status));
			show_table_row(t, v);
		}
		pthread_mutex_unlock(&w->lock);
	}
}

/* SHOW pool_pools' rows of the idle cached connections */
struct proxy_pools_arg {
	struct show_table *t;
	int id;
};

static void proxy_pools_idle(const char *user, const char *database, const struct pool_conn *c,
			     void *arg)
{
	struct proxy_pools_arg *a = arg;
	char pid[16], id[16], node[16], born[32], gone[32], idle[24], counter[16], bpid[16];
	const char *v[SHOW_POOLS_COLS] = { pid, "", "0", id, node, database, user, born, "", gone,
					   idle, "3", "0", counter, bpid, "0", "Idle (cached)" };

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(id, sizeof(id), "%d", a->id++);
	snprintf(node, sizeof(node), "%d", c->node);
	show_time(proxy_wall(c->born), born, sizeof(born));
	show_time(proxy_wall(c->idle_since), gone, sizeof(gone));
	snprintf(idle, sizeof(idle), "%lld", (proxy_now() - c->idle_since) / 1000);
	snprintf(counter, sizeof(counter), "%u", c->uses);
	snprintf(bpid, sizeof(bpid), "%u", c->be_pid);
	show_table_row(a->t, v);
}

/*
 * SHOW pool_pools: every server connection, one row each: those serving
 * a client (pool_connected 1; pool_pid is the worker thread), then the
 * idle cached ones (pool_connected 0, with when their last client left).
 */
void proxy_pools(struct show_table *t)
{
	struct proxy_pools_arg a = { t, 0 };

	show_table_init(t, show_pools_names, SHOW_POOLS_COLS);
	for (int i = 0; i < proxy.nworkers; i++) {
		struct proxy_worker *w = &proxy.workers[i];
		char pid[16], start[32], count[24], id[16], node[16], born[32], conn[32];
		char idle[24], counter[16], bpid[16], status[96];
		const char *v[SHOW_POOLS_COLS] = { pid, start, count, id, node, "", "", born, conn,
						   "", idle, "3", "0", counter, bpid, "1", "" };

		pthread_mutex_lock(&w->lock);
		snprintf(pid, sizeof(pid), "%d", (int)w->tid);
		show_time(w->started, start, sizeof(start));
		snprintf(count, sizeof(count), "%llu", w->accepted);
		for (struct proxy_sess *s = w->sessions; s; s = s->next) {
			unsigned uses = __atomic_load_n(&s->uses, __ATOMIC_RELAXED);
			uint32_t be_pid = __atomic_load_n(&s->be_pid, __ATOMIC_RELAXED);
			long long heard = __atomic_load_n(&s->heard, __ATOMIC_RELAXED);

			if (!uses || !be_pid)
				continue;	/* no server logged in yet */
			snprintf(id, sizeof(id), "%d", a.id++);
			snprintf(node, sizeof(node), "%d", __atomic_load_n(&s->node, __ATOMIC_RELAXED));
			show_time(proxy_wall(__atomic_load_n(&s->born, __ATOMIC_RELAXED)), born,
				  sizeof(born));
			show_time(proxy_wall(s->started), conn, sizeof(conn));
			snprintf(idle, sizeof(idle), "%lld", heard ? (proxy_now() - heard) / 1000 : 0);
			snprintf(counter, sizeof(counter), "%u", uses);
			snprintf(bpid, sizeof(bpid), "%u", be_pid);
			v[5] = s->database ? s->database : "";
			v[6] = s->user ? s->user : "";
			v[16] = proxy_status(s, status, sizeof(status));
			show_table_row(t, v);
		}
		/* parked by this worker for its next transactions: idle, not in the shared pool yet */
		for (struct proxy_link *l = w->parked; l; l = l->next) {
			snprintf(id, sizeof(id), "%d", a.id++);
			snprintf(node, sizeof(node), "%d", l->conn.node);
			show_time(proxy_wall(l->conn.born), born, sizeof(born));
			show_time(proxy_wall(l->conn.idle_since), conn, sizeof(conn));
			snprintf(idle, sizeof(idle), "%lld", (proxy_now() - l->conn.idle_since) / 1000);
			snprintf(counter, sizeof(counter), "%u", l->conn.uses);
			snprintf(bpid, sizeof(bpid), "%u", l->conn.be_pid);
			v[5] = pool_database(l->pool);
			v[6] = pool_user(l->pool);
			v[8] = "";
			v[9] = conn;
			v[15] = "0";
			v[16] = "Idle (parked)";
			show_table_row(t, v);
		}
		pthread_mutex_unlock(&w->lock);
	}
	pool_each_idle(proxy_pools_idle, &a);
}

/* a table of the main thread's, encoded, as answer a */
static void proxy_publish(enum proxy_answer a, void (*build)(struct show_table *t))
{
	struct pgproto_buf o = {};
	struct show_table t;

	build(&t);
	show_table_encode(&t, &o);
	show_table_free(&t);
	if (o.failed) {
		pgproto_buf_free(&o);
		return;
	}
	pthread_mutex_lock(&proxy.lock);
	pgproto_buf_free(&proxy.answers[a]);
	proxy.answers[a] = o;
	pthread_mutex_unlock(&proxy.lock);
}

/* pool_backend_stats: the workers' counters summed, with the node columns */
static void proxy_backend_table(struct show_table *t)
{
	static unsigned long long sum[PGXR_MAX_BACKENDS][SHOW_CNT_N];

	memset(sum, 0, sizeof(sum));
	for (int i = 0; i < proxy.nworkers; i++)
		for (int id = 0; id < PGXR_MAX_BACKENDS; id++)
			for (int k = 0; k < SHOW_CNT_N; k++)
				sum[id][k] += __atomic_load_n(&proxy.workers[i].counts[id][k],
							      __ATOMIC_RELAXED);
	show_backend_stats(t, sum);
}

/* the SELECTs the workers' sessions ran on node, for SHOW pool_nodes' select_cnt */
unsigned long long proxy_selects(int node)
{
	unsigned long long n = 0;

	for (int i = 0; i < proxy.nworkers && node >= 0 && node < PGXR_MAX_BACKENDS; i++)
		n += __atomic_load_n(&proxy.workers[i].counts[node][SHOW_CNT_SELECT], __ATOMIC_RELAXED);
	return n;
}

/* where node nd listens, as a socket address */
static socklen_t proxy_node_addr(const struct node *nd, union proxy_addr *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (nd->cfg->addr.family == PGXR_FAMILY_V4) {
		sa->v4.sin_family = AF_INET;
		sa->v4.sin_port = htons(nd->cfg->port);
		sa->v4.sin_addr.s_addr = nd->cfg->addr.a[0];
		return sizeof(sa->v4);
	}
	sa->v6.sin6_family = AF_INET6;
	sa->v6.sin6_port = htons(nd->cfg->port);
	memcpy(&sa->v6.sin6_addr, nd->cfg->addr.a, 16);
	return sizeof(sa->v6);
}

/*
 * A node may take the proxy's reads: the primary, or a standby up and
 * attached, within delay_threshold, with a weight (the rules of the ro
 * ring)
 */
static bool proxy_node_reads(const struct node *nd, int primary)
{
	if (nd->cfg->weight <= 0 || nd->state != PGXR_BE_UP || nd->admin_down)
		return false;
	if (nd->id == primary)
		return true;
	return nd->role == PGXR_ROLE_STANDBY && !nd->lagging;
}

/*
 * Per-loop hook of the main loop: publishes the primary (a new one bumps
 * the generation, and the workers end the sessions of the old one), who
 * takes reads, the limits, and every 100 ms the SHOW rows.
 */
void proxy_maintain(void *arg)
{
	const struct pgxr_config *cfg = proxy.cfg;
	int p = node_primary();
	long long now = proxy_now(), lag;
	bool changed, serving[PGXR_MAX_BACKENDS] = {};

	(void)arg;
	if (!proxy.started)
		return;
	atomic_store(&proxy.max_connections, cfg->max_connections);
	atomic_store(&proxy.authentication_timeout, cfg->authentication_timeout);
	atomic_store(&proxy.client_idle_limit, cfg->client_idle_limit);
	atomic_store(&proxy.max_pool, cfg->max_pool);
	if (cfg->pool_transaction)
		pool_grow(cfg->max_pool);
	atomic_store(&proxy.connection_cache, cfg->connection_cache);
	atomic_store(&proxy.pool_transaction, cfg->pool_transaction);
	atomic_store(&proxy.query_wait_timeout, cfg->query_wait_timeout);
	atomic_store(&proxy.max_prepared_statements, cfg->max_prepared_statements);
	atomic_store(&proxy.load_balance, cfg->load_balance_mode);
	atomic_store(&proxy.lb_statement, cfg->statement_level_load_balance);
	atomic_store(&proxy.lb_on_write, cfg->lb_on_write);
	atomic_store(&proxy.causal_read_timeout, cfg->causal_read_timeout);
	atomic_store(&proxy.allow_sql_comments, cfg->allow_sql_comments);
	atomic_store(&proxy.check_unlogged_table, cfg->check_unlogged_table);
	atomic_store(&proxy.prefer_lower_delay, cfg->prefer_lower_delay_standby);
	splitlist_update(cfg->write_function_list, cfg->read_only_function_list,
			 cfg->primary_routing_query_pattern_list, cfg->app_name_redirect_preference_list,
			 cfg->database_redirect_preference_list, cfg->dml_adaptive_object_relationship_list);
	if (cfg->load_balance_mode)
		catalog_poll();
	if (strcmp(proxy.auth_user, cfg->auth_user) || strcmp(proxy.auth_query, cfg->auth_query)) {
		pthread_mutex_lock(&proxy.lock);
		snprintf(proxy.auth_user, sizeof(proxy.auth_user), "%s", cfg->auth_user);
		snprintf(proxy.auth_query, sizeof(proxy.auth_query), "%s", cfg->auth_query);
		pthread_mutex_unlock(&proxy.lock);
	}
	if (strcmp(proxy.reset_src, cfg->reset_query_list))
		proxy_reset_build(cfg->reset_query_list);
	if (now - proxy.answers_at >= 100) {
		proxy_publish(PA_NODES, show_nodes_table);
		proxy_publish(PA_HEALTH, show_health);
		proxy_publish(PA_BACKEND, proxy_backend_table);
		/* a reload shows at once */
		proxy_publish(PA_STATUS, show_status);
		proxy.answers_at = now;
	}
	pthread_mutex_lock(&proxy.lock);
	changed = proxy.node != p;
	if (changed) {
		proxy.node = p;
		atomic_fetch_add(&proxy.gen, 1);
	}
	for (int i = 0; i < PGXR_MAX_BACKENDS; i++) {
		const struct node *nd = node_get(i);
		struct proxy_node *pn = &proxy.nodes[i];

		if (!nd) {
			memset(pn, 0, sizeof(*pn));
			continue;
		}
		pn->addr_len = proxy_node_addr(nd, &pn->addr);
		pn->weight = nd->cfg->weight;
		pn->reads = proxy_node_reads(nd, p);
		pn->lagging = nd->lagging && nd->role == PGXR_ROLE_STANDBY && nd->state == PGXR_BE_UP &&
			      !nd->admin_down && nd->cfg->weight > 0 && i != p;
		lag = cfg->delay_threshold_by_time > 0 ? nd->repl.lag_ms : nd->repl.lag_bytes;
		pn->lag = !nd->streaming || lag < 0 ? LLONG_MAX : lag;
		snprintf(pn->host, sizeof(pn->host), "%s", nd->cfg->hostname);
		serving[i] = i == p || pn->reads;
		if (!pn->reads || changed)
			atomic_store_explicit(&proxy.replayed[i], 0, memory_order_relaxed);
	}
	pthread_mutex_unlock(&proxy.lock);
	if (changed || now - proxy.expired_at >= 1000) {
		pool_expire(now, cfg->connection_life_time * 1000LL, serving, atomic_load(&proxy.gen));
		proxy.expired_at = now;
	}
	for (int i = 0; changed && i < proxy.nworkers; i++) {
		uint64_t one = 1;

		atomic_store(&proxy.workers[i].resweep, true);
		if (proxy.workers[i].wfd >= 0 &&
		    write(proxy.workers[i].wfd, &one, sizeof(one)) < 0)
			log_debug("proxy: could not wake worker %d: %s", i, strerror(errno));
	}
}

/*
 * Each client takes two descriptors: the soft limit goes up to the hard
 * one, and a limit still too low for max_connections is said at start.
 */
static void proxy_nofile(const struct pgxr_config *cfg)
{
	struct rlimit rl;
	long need = 4L * cfg->max_connections + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			log_debug("proxy: could not raise RLIMIT_NOFILE: %s", strerror(errno));
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < need)
		log_warning("max_connections %d may need %ld file descriptors; the limit is %ld (LimitNOFILE, ulimit -n)",
			    cfg->max_connections, need, (long)rl.rlim_cur);
}

/*
 * With enable_pool_hba, pool_hba.conf and pool_passwd are read (at start
 * and at each reload); a file with errors changes nothing.  Without it
 * authentication passes through to the servers.
 */
int proxy_auth_load(const struct pgxr_config *cfg)
{
	if (!cfg->proxy_port)
		return 0;
	if (!cfg->enable_pool_hba)
		return auth_load("", "", "", false);
	return auth_load(cfg->pool_passwd, cfg->pool_key_file, cfg->pool_hba_file, true);
}

/* num_workers threads, each with its listener; 0 when proxy_port is 0 (no proxy) */
int proxy_start(const struct pgxr_config *cfg)
{
	int ret = 0;

	proxy.cfg = cfg;
	if (!cfg->proxy_port)
		return 0;
	ret = proxy_auth_load(cfg);
	if (ret)
		return ret;
	proxy.nworkers = cfg->num_workers ? cfg->num_workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (proxy.nworkers < 1)
		proxy.nworkers = 1;
	if (proxy.nworkers > PROXY_MAX_WORKERS)
		proxy.nworkers = PROXY_MAX_WORKERS;
	for (int i = 0; i < PROXY_MAX_WORKERS; i++)
		proxy.workers[i].lfd = proxy.workers[i].epfd = proxy.workers[i].wfd = -1;
	proxy.answers_at = -1000000;
	proxy_publish(PA_VERSION, show_version_table);
	pgproto_error(&proxy.too_many, "FATAL", "53300", "sorry, too many clients already");
	if (proxy.too_many.failed)
		return -ENOMEM;
	proxy_nofile(cfg);
	if (pipe2(proxy.check_pipe, O_NONBLOCK | O_CLOEXEC))
		return -errno;
	proxy.check_ev = evloop_add(proxy.check_pipe[0], EPOLLIN, proxy_check_event, NULL);
	proxy.started = true;
	proxy_maintain(NULL);
	for (int i = 0; i < proxy.nworkers; i++) {
		struct proxy_worker *w = &proxy.workers[i];
		struct epoll_event ev = { .events = EPOLLIN };

		w->id = i;
		pthread_mutex_init(&w->lock, NULL);
		pthread_mutex_init(&w->hlock, NULL);
		w->lfd = proxy_listen(cfg);
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		w->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->lfd < 0 || w->epfd < 0 || w->wfd < 0) {
			ret = w->lfd < 0 ? w->lfd : -errno;
			break;
		}
		w->ltag = (struct proxy_tag){ PK_LISTEN, NULL };
		w->wtag = (struct proxy_tag){ PK_WAKE, NULL };
		ev.data.ptr = &w->ltag;
		epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->lfd, &ev);
		ev.data.ptr = &w->wtag;
		epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wfd, &ev);
		ret = -pthread_create(&w->thread, NULL, proxy_run, w);
		if (ret)
			break;
	}
	if (ret) {
		proxy_stop();
		return ret;
	}
	log_info("proxy listening on %s port %d: %d worker(s), max_connections %d",
		 cfg->listen_addresses, cfg->proxy_port, proxy.nworkers, cfg->max_connections);
	return 0;
}

void proxy_stop(void)
{
	/* every worker ends before any descriptor closes: one ending hands connections to the others */
	for (int i = 0; i < proxy.nworkers; i++) {
		struct proxy_worker *w = &proxy.workers[i];
		uint64_t one = 1;

		if (w->thread) {
			w->stop = true;
			if (write(w->wfd, &one, sizeof(one)) < 0)
				log_debug("proxy: could not wake worker %d", i);
		}
	}
	for (int i = 0; i < proxy.nworkers; i++) {
		struct proxy_worker *w = &proxy.workers[i];

		if (w->thread) {
			pthread_join(w->thread, NULL);
			w->thread = 0;
		}
	}
	catalog_stop();
	splitlist_free();
	for (int i = 0; i < proxy.nworkers; i++) {
		struct proxy_worker *w = &proxy.workers[i];

		if (w->lfd >= 0)
			close(w->lfd);
		if (w->epfd >= 0)
			close(w->epfd);
		if (w->wfd >= 0)
			close(w->wfd);
		w->lfd = w->epfd = w->wfd = -1;
	}
	proxy.nworkers = 0;
	evloop_del(proxy.check_ev);
	proxy.check_ev = NULL;
	for (int i = 0; i < 2; i++) {
		if (proxy.check_pipe[i] >= 0)
			close(proxy.check_pipe[i]);
		proxy.check_pipe[i] = -1;
	}
	for (int b = 0; b < PROXY_KEY_BUCKETS; b++) {
		while (proxy.keys[b]) {
			struct proxy_key *k = proxy.keys[b];

			proxy.keys[b] = k->next;
			free(k);
		}
	}
	pool_close_all();
	for (int a = 0; a < PROXY_NANSWERS; a++)
		pgproto_buf_free(&proxy.answers[a]);
	pgproto_buf_free(&proxy.too_many);
	pgproto_buf_free(&proxy.reset);
	proxy.reset_src[0] = '\0';
	proxy.nreset = 0;
	auth_unload();
	proxy.started = false;
}
