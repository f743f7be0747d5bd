/* ctl.c: the control socket: one request line, one reply, commands in a lookup table */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "event.h"
#include "evloop.h"
#include "ha.h"
#include "json.h"
#include "log.h"
#include "node.h"
#include "proxy.h"
#include "reload.h"
#include "show.h"
#include "table.h"

#define CTL_MAX_REQUEST 1024
#define CTL_REQUEST_TIMEOUT_MS 5000
#define CTL_MAX_ARGS 8

enum ctl_format { CTL_PLAIN, CTL_JSON, CTL_PRETTY };

struct ctl_client {
	int fd;
	struct evloop_fd *ev;
	char req[CTL_MAX_REQUEST + 1];
	size_t len;
	long long deadline;	/* for the request line */
	bool pending;		/* a command answers later (promote, rejoin) */
	bool gone;		/* hung up while pending: the reply is dropped */
	char *out;		/* the reply, being written */
	size_t out_len, out_off;
	enum ctl_format fmt;
	struct ctl_client *next;
};

/* the listening socket, its clients, and what the commands read (and reload) */
static struct {
	struct pgxr_config *cfg;
	const struct dataplane *dp;
	int fd;
	struct evloop_fd *ev;
	struct ctl_client *clients;
} ctl = { .fd = -1 };

static void ctl_client_event(int fd, unsigned events, void *arg);

static void ctl_client_free(struct ctl_client *c)
{
	struct ctl_client **pp;

	for (pp = &ctl.clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	evloop_del(c->ev);
	close(c->fd);
	free(c->out);
	free(c);
}

static void ctl_flush(struct ctl_client *c)
{
	while (c->out_off < c->out_len) {
		/* a client gone before its reply must not SIGPIPE pgxrd */
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			evloop_mod(c->ev, EPOLLOUT);
			return;
		}
		if (n <= 0)
			break;
		c->out_off += n;
	}
	ctl_client_free(c);
}

/* status line, then the text: output for CTL_OK, the message otherwise */
static void ctl_reply(struct ctl_client *c, int status, const char *text)
{
	static const char *const words[] = { "ok", "error", "usage" };
	size_t n = strlen(text);

	if (c->gone) {
		ctl_client_free(c);
		return;
	}
	c->pending = false;
	c->out = malloc(n + 16);
	if (!c->out) {
		ctl_client_free(c);
		return;
	}
	c->out_len = snprintf(c->out, n + 16, "%s%s%s\n", words[status], status ? " " : "",
			      status ? text : "");
	if (!status) {
		memcpy(c->out + c->out_len, text, n);
		c->out_len += n;
	}
	ctl_flush(c);
}

static int ctl_parse_id(const char *s, int *id)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v >= PGXR_MAX_BACKENDS)
		return -EINVAL;
	*id = (int)v;
	return 0;
}

/* the output of a command, built in memory, then sent as an "ok" reply */
struct ctl_out {
	FILE *f;
	char *buf;
	size_t len;
	struct json j;
};

static int ctl_out_open(struct ctl_out *o, struct ctl_client *c)
{
	o->buf = NULL;
	o->f = open_memstream(&o->buf, &o->len);
	if (!o->f)
		return -errno;
	json_init(&o->j, o->f, c->fmt == CTL_PRETTY);
	return 0;
}

static void ctl_out_send(struct ctl_out *o, struct ctl_client *c)
{
	if (c->fmt != CTL_PLAIN)
		json_finish(&o->j);
	fclose(o->f);
	ctl_reply(c, CTL_OK, o->buf ? o->buf : "");
	free(o->buf);
}

static const char *ctl_pg_role(const struct node *n)
{
	return n->pg_ok ? dataplane_role_name(n->pg.role) : "unknown";
}

/* columns of pgpool's SHOW pool_nodes, in its order and with its names */
static int ctl_node_list(struct ctl_client *c, char **argv, int argc)
{
	static struct show_node rows[PGXR_MAX_BACKENDS];
	struct ctl_out o;
	struct table t;
	int n;

	(void)argv;
	(void)argc;
	if (ctl_out_open(&o, c))
		return CTL_ERROR;
	table_init(&t, "node_id hostname port status pg_status lb_weight role pg_role select_cnt "
		       "load_balance_node replication_delay replication_state replication_sync_state "
		       "last_status_change", "rlrllrllrlrlll");
	if (c->fmt != CTL_PLAIN)
		json_array_begin(&o.j);
	n = show_nodes(rows, PGXR_MAX_BACKENDS);
	for (int i = 0; i < n; i++) {
		const struct show_node *r = &rows[i];

		if (c->fmt == CTL_PLAIN) {
			for (int col = 0; col < SHOW_NODES_COLS; col++)
				table_cell(&t, "%s", r->text[col]);
			continue;
		}
		json_object_begin(&o.j);
		json_kv_u64(&o.j, "node_id", r->id);
		json_kv_string(&o.j, "hostname", r->text[1]);
		json_kv_u64(&o.j, "port", node_get(r->id)->cfg->port);
		json_kv_string(&o.j, "status", r->text[3]);
		json_kv_string(&o.j, "pg_status", r->text[4]);
		json_kv_double(&o.j, "lb_weight", r->lb_weight);
		json_kv_string(&o.j, "role", r->text[6]);
		json_kv_string(&o.j, "pg_role", r->text[7]);
		json_kv_u64(&o.j, "select_cnt", r->select_cnt);
		json_kv_bool(&o.j, "load_balance_node", r->load_balance_node);
		json_key(&o.j, "replication_delay");
		if (r->replication_delay < 0)
			json_null(&o.j);
		else
			json_u64(&o.j, r->replication_delay);
		json_kv_string(&o.j, "replication_state", r->text[11]);
		json_kv_string(&o.j, "replication_sync_state", r->text[12]);
		json_kv_string(&o.j, "last_status_change", r->text[13]);
		json_kv_string(&o.j, "note", node_get(r->id)->note);
		json_object_end(&o.j);
	}
	if (c->fmt != CTL_PLAIN) {
		json_array_end(&o.j);
	} else if (table_print(&t, o.f)) {
		fprintf(o.f, "could not build the table\n");
	} else {
		/* what pool_nodes has no column for: why a node is not what one expects */
		if (ha_status()[0])
			fprintf(o.f, "# %s\n", ha_status());
		for (int id = 0; id < PGXR_MAX_BACKENDS; id++)
			if (node_get(id) && node_get(id)->note[0])
				fprintf(o.f, "# node %d: %s\n", id, node_get(id)->note);
	}
	ctl_out_send(&o, c);
	return CTL_OK;
}

/* pcp_node_info's fields, and what pgxr knows besides */
static int ctl_node_info(struct ctl_client *c, char **argv, int argc)
{
	char when[40], mac[24], lsn[32], delay[32], sender[300];
	const struct node *n;
	struct ctl_out o;
	int id;

	(void)argc;
	if (ctl_parse_id(argv[0], &id) || !(n = node_get(id))) {
		ctl_reply(c, CTL_ERROR, "no such node");
		return CTL_ERROR;
	}
	if (ctl_out_open(&o, c))
		return CTL_ERROR;
	event_format_time(n->status_change_us, when, sizeof(when));
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1],
		 n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
	snprintf(lsn, sizeof(lsn), "%X/%X", (unsigned)(n->pg.lsn >> 32), (unsigned)n->pg.lsn);
	snprintf(delay, sizeof(delay), n->repl.lag_bytes < 0 ? "unknown" : "%lld bytes",
		 n->repl.lag_bytes);
	if (n->pg_ok && n->pg.receiving)
		snprintf(sender, sizeof(sender), "%s:%d, last message %lld ms ago", n->pg.sender_host,
			 n->pg.sender_port, n->pg.receipt_age_ms);
	else
		snprintf(sender, sizeof(sender), "-");
	if (c->fmt == CTL_PLAIN) {
		fprintf(o.f,
			"Node ID                : %d\n"
			"Hostname               : %s\n"
			"Port                   : %d\n"
			"Status                 : %s\n"
			"PostgreSQL status      : %s\n"
			"Weight                 : %f\n"
			"Role                   : %s\n"
			"PostgreSQL role        : %s\n"
			"Timeline               : %u\n"
			"WAL position           : %s\n"
			"Replication delay      : %s\n"
			"Replication state      : %s\n"
			"Replication sync state : %s\n"
			"Detached by operator   : %s\n"
			"Lagging                : %s\n"
			"MAC                    : %s\n"
			"Data directory         : %s\n"
			"Last status change     : %s\n"
			"Last health error      : %s\n"
			"Streams from           : %s\n"
			"Read-only fence        : %s\n"
			"Note                   : %s\n",
			id, n->cfg->hostname, n->cfg->port, node_state_name(n),
			n->pg_ok ? "up" : "down", show_lb_weight(n), dataplane_role_name(n->role),
			ctl_pg_role(n), n->pg.timeline, lsn,
			n->role == PGXR_ROLE_STANDBY ? delay : "-", n->repl.state,
			n->repl.sync_state, n->admin_down ? "yes" : "no", n->lagging ? "yes" : "no",
			n->local ? "local" : mac, n->cfg->data_directory, when, n->pg_error, sender,
			n->pg.read_only ? "on (default_transaction_read_only)" : "off", n->note);
	} else {
		json_object_begin(&o.j);
		json_kv_u64(&o.j, "node_id", id);
		json_kv_string(&o.j, "hostname", n->cfg->hostname);
		json_kv_u64(&o.j, "port", n->cfg->port);
		json_kv_string(&o.j, "status", node_state_name(n));
		json_kv_string(&o.j, "pg_status", n->pg_ok ? "up" : "down");
		json_kv_double(&o.j, "lb_weight", show_lb_weight(n));
		json_kv_string(&o.j, "role", dataplane_role_name(n->role));
		json_kv_string(&o.j, "pg_role", ctl_pg_role(n));
		json_kv_u64(&o.j, "timeline", n->pg.timeline);
		json_kv_string(&o.j, "wal_position", lsn);
		json_key(&o.j, "replication_delay");
		if (n->repl.lag_bytes < 0)
			json_null(&o.j);
		else
			json_u64(&o.j, n->repl.lag_bytes);
		json_kv_string(&o.j, "replication_state", n->repl.state);
		json_kv_string(&o.j, "replication_sync_state", n->repl.sync_state);
		json_kv_bool(&o.j, "detached", n->admin_down);
		json_kv_bool(&o.j, "lagging", n->lagging);
		json_kv_string(&o.j, "mac", n->local ? "local" : mac);
		json_kv_string(&o.j, "data_directory", n->cfg->data_directory);
		json_kv_string(&o.j, "last_status_change", when);
		json_kv_string(&o.j, "last_health_error", n->pg_error);
		json_kv_string(&o.j, "streams_from", n->pg_ok && n->pg.receiving ? n->pg.sender_host : "");
		json_kv_bool(&o.j, "read_only", n->pg.read_only);
		json_kv_string(&o.j, "note", n->note);
		json_object_end(&o.j);
	}
	ctl_out_send(&o, c);
	return CTL_OK;
}

static int ctl_node_id(struct ctl_client *c, const char *arg, int *id)
{
	if (ctl_parse_id(arg, id) || !node_get(*id)) {
		char msg[96];

		snprintf(msg, sizeof(msg), "node %s is not configured", arg);
		ctl_reply(c, CTL_ERROR, msg);
		return -1;
	}
	return 0;
}

/* a deferred request is over: the reply goes to the client that asked */
static void ctl_done(int status, const char *text, void *arg)
{
	ctl_reply(arg, status ? CTL_ERROR : CTL_OK, text ? text : "");
}

/* a command on one node that answers at once */
static int ctl_node_now(struct ctl_client *c, const char *arg, int (*act)(int id, char *err, size_t len))
{
	char err[512] = "";
	int id;

	if (ctl_node_id(c, arg, &id))
		return CTL_ERROR;
	if (act(id, err, sizeof(err))) {
		ctl_reply(c, CTL_ERROR, err[0] ? err : "failed");
		return CTL_ERROR;
	}
	ctl_reply(c, CTL_OK, "");
	return CTL_OK;
}

static int ctl_node_attach(struct ctl_client *c, char **argv, int argc)
{
	(void)argc;
	return ctl_node_now(c, argv[0], ha_attach);
}

static int ctl_node_detach(struct ctl_client *c, char **argv, int argc)
{
	(void)argc;
	return ctl_node_now(c, argv[0], ha_detach);
}

/* "node promote ID [force]": answers when the switchover or failover is over */
static int ctl_node_promote(struct ctl_client *c, char **argv, int argc)
{
	char err[512] = "";
	int id;

	if (argc == 2 && strcmp(argv[1], "force")) {
		ctl_reply(c, CTL_USAGE, "expected: node promote ID [force]");
		return CTL_ERROR;
	}
	if (ctl_node_id(c, argv[0], &id))
		return CTL_ERROR;
	c->pending = true;
	if (ha_promote(id, argc == 2, ctl_done, c, err, sizeof(err))) {
		c->pending = false;
		ctl_reply(c, CTL_ERROR, err[0] ? err : "failed");
		return CTL_ERROR;
	}
	return CTL_OK;
}

static int ctl_node_rejoin(struct ctl_client *c, char **argv, int argc)
{
	char err[512] = "";
	int id;

	(void)argc;
	if (ctl_node_id(c, argv[0], &id))
		return CTL_ERROR;
	c->pending = true;
	if (ha_rejoin(id, ctl_done, c, err, sizeof(err))) {
		c->pending = false;
		ctl_reply(c, CTL_ERROR, err[0] ? err : "failed");
		return CTL_ERROR;
	}
	return CTL_OK;
}

/* "config reload": as SIGHUP, with what happened in the reply */
static int ctl_config_reload(struct ctl_client *c, char **argv, int argc)
{
	char msg[8192];
	int ret;

	(void)argv;
	(void)argc;
	ret = reload_config(ctl.cfg, msg, sizeof(msg));
	ctl_reply(c, ret ? CTL_ERROR : CTL_OK, msg);
	return ret ? CTL_ERROR : CTL_OK;
}

static int ctl_event_list(struct ctl_client *c, char **argv, int argc)
{
	struct ctl_out o;
	struct table t;
	char when[40];

	(void)argv;
	(void)argc;
	if (ctl_out_open(&o, c))
		return CTL_ERROR;
	table_init(&t, "TIME NODE EVENT", "lrl");
	if (c->fmt != CTL_PLAIN)
		json_array_begin(&o.j);
	for (int i = 0; i < event_count(); i++) {
		const struct event *e = event_get(i);

		event_format_time(e->when_us, when, sizeof(when));
		if (c->fmt == CTL_PLAIN) {
			table_cell(&t, "%s", when);
			if (e->node >= 0)
				table_cell(&t, "%d", e->node);
			else
				table_cell(&t, "-");
			table_cell(&t, "%s", e->text);
			continue;
		}
		json_object_begin(&o.j);
		json_kv_string(&o.j, "time", when);
		json_key(&o.j, "node");
		if (e->node >= 0)
			json_u64(&o.j, e->node);
		else
			json_null(&o.j);
		json_kv_string(&o.j, "event", e->text);
		json_object_end(&o.j);
	}
	if (c->fmt != CTL_PLAIN)
		json_array_end(&o.j);
	else if (table_print(&t, o.f))
		fprintf(o.f, "could not build the table\n");
	ctl_out_send(&o, c);
	return CTL_OK;
}

/* every request pgxrd answers: "object command", with its argument counts */
/*
 * A SHOW pool_* table of the proxy, as the proxy answers it: plain, the
 * columns in pgpool's order; JSON, an object per row keyed by column.
 */
static int ctl_show(struct ctl_client *c, void (*build)(struct show_table *t))
{
	char header[1024] = "", align[64] = "";
	struct show_table st;
	struct ctl_out o;
	struct table t;

	if (ctl_out_open(&o, c))
		return CTL_ERROR;
	build(&st);
	for (int i = 0; i < st.ncols && i < (int)sizeof(align) - 1; i++) {
		size_t n = strlen(header);

		snprintf(header + n, sizeof(header) - n, "%s%s", i ? " " : "", st.names[i]);
		align[i] = 'l';
	}
	table_init(&t, header, align);
	if (c->fmt != CTL_PLAIN)
		json_array_begin(&o.j);
	for (int r = 0; r < st.nrows; r++) {
		char **row = &st.cells[(size_t)r * st.ncols];

		if (c->fmt != CTL_PLAIN)
			json_object_begin(&o.j);
		for (int i = 0; i < st.ncols; i++) {
			if (c->fmt == CTL_PLAIN)
				table_cell(&t, "%s", row[i] && row[i][0] ? row[i] : "-");
			else
				json_kv_string(&o.j, st.names[i], row[i] ? row[i] : "");
		}
		if (c->fmt != CTL_PLAIN)
			json_object_end(&o.j);
	}
	if (c->fmt != CTL_PLAIN)
		json_array_end(&o.j);
	else if (table_print(&t, o.f))
		fprintf(o.f, "could not build the table\n");
	show_table_free(&st);
	ctl_out_send(&o, c);
	return CTL_OK;
}

static int ctl_pool_list(struct ctl_client *c, char **argv, int argc)
{
	(void)argv;
	(void)argc;
	return ctl_show(c, proxy_pools);
}

static int ctl_client_list(struct ctl_client *c, char **argv, int argc)
{
	(void)argv;
	(void)argc;
	return ctl_show(c, proxy_processes);
}

static const struct ctl_cmd {
	const char *object;
	const char *command;
	int min_args, max_args;
	const char *usage;
	int (*fn)(struct ctl_client *c, char **argv, int argc);
} ctl_cmds[] = {
	{ "node", "list", 0, 0, "node list", ctl_node_list },
	{ "node", "info", 1, 1, "node info ID", ctl_node_info },
	{ "node", "attach", 1, 1, "node attach ID", ctl_node_attach },
	{ "node", "detach", 1, 1, "node detach ID", ctl_node_detach },
	{ "node", "promote", 1, 2, "node promote ID [force]", ctl_node_promote },
	{ "node", "rejoin", 1, 1, "node rejoin ID", ctl_node_rejoin },
	{ "event", "list", 0, 0, "event list", ctl_event_list },
	{ "pool", "list", 0, 0, "pool list", ctl_pool_list },
	{ "client", "list", 0, 0, "client list", ctl_client_list },
	{ "config", "reload", 0, 0, "config reload", ctl_config_reload },
};

static void ctl_dispatch(struct ctl_client *c)
{
	char *argv[CTL_MAX_ARGS], *save, *w;
	int argc = 0;
	char msg[160];

	for (w = strtok_r(c->req, " \t\r\n", &save); w && argc < CTL_MAX_ARGS;
	     w = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = w;
	if (argc < 3 || (strcmp(argv[0], "plain") && strcmp(argv[0], "json") &&
			 strcmp(argv[0], "pretty"))) {
		ctl_reply(c, CTL_USAGE, "expected FORMAT OBJECT COMMAND [ARG]...");
		return;
	}
	c->fmt = !strcmp(argv[0], "plain") ? CTL_PLAIN : !strcmp(argv[0], "json") ? CTL_JSON :
										CTL_PRETTY;
	for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		const struct ctl_cmd *cmd = &ctl_cmds[i];

		if (strcmp(argv[1], cmd->object) || strcmp(argv[2], cmd->command))
			continue;
		if (argc - 3 < cmd->min_args || argc - 3 > cmd->max_args) {
			snprintf(msg, sizeof(msg), "expected: %s", cmd->usage);
			ctl_reply(c, CTL_USAGE, msg);
			return;
		}
		cmd->fn(c, argv + 3, argc - 3);
		return;
	}
	snprintf(msg, sizeof(msg), "unknown command \"%s %s\"", argv[1], argv[2]);
	ctl_reply(c, CTL_USAGE, msg);
}

static void ctl_client_event(int fd, unsigned events, void *arg)
{
	struct ctl_client *c = arg;
	ssize_t n;

	if (c->out) {
		if (events & EPOLLOUT)
			ctl_flush(c);
		return;
	}
	if (c->pending) {
		/* only a hang-up is expected now; the reply is dropped when it comes */
		char b;

		if (events & (EPOLLHUP | EPOLLERR) || recv(fd, &b, 1, MSG_DONTWAIT) == 0) {
			c->gone = true;
			evloop_del(c->ev);
			c->ev = NULL;
		}
		return;
	}
	n = read(fd, c->req + c->len, CTL_MAX_REQUEST - c->len);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		ctl_client_free(c);
		return;
	}
	c->len += n;
	c->req[c->len] = '\0';
	if (strchr(c->req, '\n')) {
		ctl_dispatch(c);
	} else if (c->len == CTL_MAX_REQUEST) {
		ctl_reply(c, CTL_USAGE, "request too long");
	}
}

static void ctl_accept(int fd, unsigned events, void *arg)
{
	(void)events;
	(void)arg;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_client *c;

		if (cfd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		c->fd = cfd;
		c->deadline = evloop_now_ms() + CTL_REQUEST_TIMEOUT_MS;
		c->ev = evloop_add(cfd, EPOLLIN | EPOLLRDHUP, ctl_client_event, c);
		if (!c->ev) {
			close(cfd);
			free(c);
			continue;
		}
		c->next = ctl.clients;
		ctl.clients = c;
	}
}

/* per-tick hook: a client that never finishes its request line is dropped */
void ctl_maintain(void *arg)
{
	long long now = evloop_now_ms();

	(void)arg;
	for (struct ctl_client *c = ctl.clients, *next; c; c = next) {
		next = c->next;
		if (!c->pending && !c->out && now >= c->deadline)
			ctl_client_free(c);
	}
}

/* the socket is 0600: a control socket is root's, like the pins */
int ctl_init(struct pgxr_config *cfg, const struct dataplane *dp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int ret;

	ctl.cfg = cfg;
	ctl.dp = dp;
	if (strlen(cfg->control_socket) >= sizeof(sa.sun_path)) {
		log_error("control_socket \"%s\" is too long for a unix socket path", cfg->control_socket);
		return -ENAMETOOLONG;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cfg->control_socket);
	ctl.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl.fd < 0)
		return -errno;
	/* the pid file lock is held: a socket file here is a crashed pgxrd's */
	unlink(sa.sun_path);
	old = umask(0077);
	ret = bind(ctl.fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (!ret && listen(ctl.fd, 16))
		ret = -errno;
	if (!ret && !(ctl.ev = evloop_add(ctl.fd, EPOLLIN, ctl_accept, NULL)))
		ret = -errno;
	if (ret) {
		log_error("could not listen on control socket \"%s\": %s", cfg->control_socket,
			  strerror(-ret));
		close(ctl.fd);
		ctl.fd = -1;
	}
	return ret;
}

void ctl_close(void)
{
	while (ctl.clients)
		ctl_client_free(ctl.clients);
	if (ctl.fd >= 0) {
		evloop_del(ctl.ev);
		close(ctl.fd);
		unlink(ctl.cfg->control_socket);
	}
	ctl.fd = -1;
}
