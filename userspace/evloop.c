/* evloop.c: one epoll loop; fd callbacks on readiness, hooks once per tick */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "evloop.h"

#define EVLOOP_MAX_FDS 64
#define EVLOOP_MAX_HOOKS 16

struct evloop_fd {
	int fd;
	evloop_fd_cb cb;
	void *arg;
};

struct evloop_hook_entry {
	evloop_hook fn;
	void *arg;
};

/* the loop of this process: one thread, so no locking */
static struct {
	int epfd;
	bool stop;
	int nfds;
	struct evloop_fd fds[EVLOOP_MAX_FDS];
	int nhooks;
	struct evloop_hook_entry hooks[EVLOOP_MAX_HOOKS];
} evloop = { .epfd = -1 };

int evloop_init(void)
{
	evloop.epfd = epoll_create1(EPOLL_CLOEXEC);
	return evloop.epfd < 0 ? -errno : 0;
}

int evloop_add(int fd, evloop_fd_cb cb, void *arg)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct evloop_fd *e;

	if (evloop.nfds == EVLOOP_MAX_FDS)
		return -ENOSPC;
	e = &evloop.fds[evloop.nfds];
	e->fd = fd;
	e->cb = cb;
	e->arg = arg;
	ev.data.ptr = e;
	if (epoll_ctl(evloop.epfd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	evloop.nfds++;
	return 0;
}

int evloop_add_hook(evloop_hook hook, void *arg)
{
	if (evloop.nhooks == EVLOOP_MAX_HOOKS)
		return -ENOSPC;
	evloop.hooks[evloop.nhooks].fn = hook;
	evloop.hooks[evloop.nhooks].arg = arg;
	evloop.nhooks++;
	return 0;
}

static long long evloop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* runs until evloop_stop(); hooks run every tick_ms whatever the traffic */
int evloop_run(int tick_ms)
{
	struct epoll_event events[16];
	long long next_tick = evloop_now_ms() + tick_ms;

	evloop.stop = false;
	while (!evloop.stop) {
		long long now = evloop_now_ms();
		int n, wait = next_tick > now ? (int)(next_tick - now) : 0;

		n = epoll_wait(evloop.epfd, events, 16, wait);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			struct evloop_fd *e = events[i].data.ptr;

			e->cb(e->fd, events[i].events, e->arg);
		}
		if (evloop_now_ms() >= next_tick) {
			for (int i = 0; i < evloop.nhooks; i++)
				evloop.hooks[i].fn(evloop.hooks[i].arg);
			next_tick = evloop_now_ms() + tick_ms;
		}
	}
	return 0;
}

void evloop_stop(void)
{
	evloop.stop = true;
}

void evloop_close(void)
{
	if (evloop.epfd >= 0)
		close(evloop.epfd);
	evloop.epfd = -1;
	evloop.nfds = 0;
	evloop.nhooks = 0;
}
