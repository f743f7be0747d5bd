/* main.c: pgxrd, the pgxr controller: options, start-up, the event loop, shutdown */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <sys/epoll.h>

#include "config.h"
#include "ctl.h"
#include "evloop.h"
#include "failover.h"
#include "fence.h"
#include "follow.h"
#include "ha.h"
#include "health.h"
#include "loader.h"
#include "log.h"
#include "neigh.h"
#include "node.h"
#include "nodeconn.h"
#include "pgctl.h"
#include "pgq.h"
#include "pidfile.h"
#include "proc.h"
#include "proxy.h"
#include "rejoin.h"
#include "show.h"
#include "reload.h"
#include "reset.h"
#include "router.h"
#include "switchover.h"
#include "tls.h"
#include "version.h"
#include "vip.h"


/* maintenance hooks run this often (ms): the resolution of every timeout */
#define PGXRD_TICK_MS 100

static void usage(FILE *out)
{
	fprintf(out,
		"pgxrd - the pgxr controller: steers PostgreSQL clients from a VIP to the\n"
		"primary and the standbys with an XDP program\n"
		"\n"
		"Usage:\n"
		"  pgxrd [OPTION]...\n"
		"\n"
		"Options:\n"
		"  -f, --config=FILE   configuration file (default %s)\n"
		"      --detach        remove the XDP program and the pinned maps of the\n"
		"                      configured interface, then exit\n"
		"  -d, --debug         log debug messages\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          show this help and exit\n"
		"\n"
		"pgxrd runs in the foreground and logs to stderr.  It health-checks the\n"
		"backends, fails over to the furthest standby when the primary is lost,\n"
		"holds the VIP, and answers pgxrctl on its control socket.  On exit the\n"
		"XDP program stays attached and keeps forwarding established flows; a\n"
		"restarted pgxrd takes it over.  SIGHUP re-reads the configuration file\n"
		"(as pgxrctl reload does); SIGINT and SIGTERM stop pgxrd.\n",
		CONFIG_DEFAULT_PATH);
}

static void on_signal(int fd, unsigned events, void *arg)
{
	struct pgxr_config *cfg = arg;
	struct signalfd_siginfo si;
	char msg[8192];

	(void)events;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			proc_reap();
			continue;
		}
		if (si.ssi_signo == SIGHUP) {
			log_info("received SIGHUP, reloading \"%s\"", cfg->path);
			reload_config(cfg, msg, sizeof(msg));
			continue;
		}
		log_info("received %s, shutting down", strsignal(si.ssi_signo));
		evloop_stop();
	}
}

static void on_neigh(int fd, unsigned events, void *arg)
{
	struct mnl_socket *nl = arg;

	(void)fd;
	(void)events;
	if (neigh_watch_read(nl, router_neigh, NULL) == -ENOBUFS)
		log_warning("neighbour events were lost; the next lookup catches up");
}

/* the per-tick hooks, in the order they run */
static const struct {
	evloop_hook fn;
} hooks[] = {
	{ pgq_maintain },	/* timeouts first: a failed check is seen this tick */
	{ proc_maintain },
	{ health_maintain },
	{ failover_maintain },
	{ ha_maintain },
	{ rejoin_maintain },
	{ router_maintain },
	{ proxy_maintain },
	{ vip_maintain },
	{ ctl_maintain },
};

static int run(struct pgxr_config *cfg)
{
	struct mnl_socket *nl = NULL;
	struct loader l = { .link_fd = -1 };
	bool locked = false, vip = false;
	sigset_t mask;
	int sfd, ret;

	/* signals first: a SIGTERM during start-up must not leave half a state */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	/* OpenSSL writes to sockets without MSG_NOSIGNAL: a client gone mid-handshake must not kill pgxrd */
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		log_error("could not create signalfd: %s", strerror(errno));
		return -errno;
	}
	ret = pidfile_acquire(cfg->pid_file_name);
	if (ret)
		goto cleanup;
	locked = true;
	/* before anything is attached: a backend it could never reach is the file's error */
	ret = router_check_segment(cfg, NULL);
	if (!ret && cfg->xdp_mode == XDP_MODE_GENERIC)
		ret = router_check_merging(cfg, "generic");
	if (ret)
		goto cleanup;
	ret = loader_attach(cfg, &l);
	if (ret)
		goto cleanup;
	/* auto fell back to generic: a start refused here leaves nothing it attached */
	ret = router_check_merging(cfg, l.mode);
	if (ret) {
		if (l.fresh) {
			loader_close(&l);
			loader_detach(cfg);
		}
		goto cleanup;
	}
	nl = neigh_watch_open();
	if (!nl) {
		ret = -errno;
		log_error("could not subscribe to neighbour events: %s", strerror(errno));
		goto cleanup;
	}
	ret = evloop_init();
	if (ret) {
		log_error("could not create the event loop: %s", strerror(-ret));
		goto cleanup;
	}
	ret = node_init(cfg, &l.dp);
	if (!ret)
		ret = router_init(cfg, &l.dp, l.ifindex);
	if (ret)
		goto cleanup;
	/* TLS to the servers serves the control connections as well as the proxy's */
	ret = tls_init(cfg);
	if (ret)
		goto cleanup;
	nodeconn_init(cfg);
	show_init(cfg, &l.dp);
	pgctl_init(cfg);
	failover_init(cfg);
	fence_init(cfg);
	switchover_init(cfg);
	follow_init(cfg);
	rejoin_init(cfg);
	ha_init(cfg);
	health_init(cfg, ha_health);
	ret = ctl_init(cfg, &l.dp);
	if (ret)
		goto cleanup;
	ret = proxy_start(cfg);
	if (ret)
		goto cleanup;
	ret = vip_take(l.ifindex, &cfg->vip, cfg->vip_announce_count, cfg->vip_announce_interval);
	if (ret)
		goto cleanup;
	vip = true;
	if (!evloop_add(sfd, EPOLLIN, on_signal, cfg) ||
	    !evloop_add(neigh_watch_fd(nl), EPOLLIN, on_neigh, nl)) {
		ret = -errno;
		log_error("could not set up the event loop: %s", strerror(errno));
		goto cleanup;
	}
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		evloop_add_hook(hooks[i].fn, NULL);
	log_info("pgxrd %s started on \"%s\": checking %d node(s)", PGXR_VERSION, cfg->interface,
		 cfg->nbackends);
	ret = evloop_run(PGXRD_TICK_MS);
	if (ret)
		log_error("event loop failed: %s", strerror(-ret));
	else
		log_info("stopped; the XDP program stays attached (pgxrd --detach removes it)");
cleanup:
	if (vip)
		vip_release();
	proxy_stop();
	proc_kill_all();
	ctl_close();
	ha_close();
	health_close();
	reset_close();
	evloop_close();
	tls_fini();
	neigh_watch_close(nl);
	loader_close(&l);
	if (locked)
		pidfile_release();
	close(sfd);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'f' },
		{ "detach", no_argument, NULL, 'D' },
		{ "debug", no_argument, NULL, 'd' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = CONFIG_DEFAULT_PATH;
	static struct pgxr_config cfg;	/* large: keep it off the stack */
	int detach = 0, debug = 0, c;

	while ((c = getopt_long(argc, argv, "f:dVh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			path = optarg;
			break;
		case 'D':
			detach = 1;
			break;
		case 'd':
			debug = 1;
			break;
		case 'V':
			printf("pgxrd %s\n", PGXR_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try \"pgxrd --help\" for more information.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pgxrd: unexpected argument \"%s\"\n", argv[optind]);
		fprintf(stderr, "Try \"pgxrd --help\" for more information.\n");
		return 2;
	}
	log_init("pgxrd", debug);
	if (config_load(path, &cfg)) {
		log_fatal("could not load configuration from \"%s\"", path);
		return 1;
	}
	if (detach)
		return loader_detach(&cfg) ? 1 : 0;
	return run(&cfg) ? 1 : 0;
}
