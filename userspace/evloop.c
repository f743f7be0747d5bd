/* evloop.c: one epoll loop; fd callbacks on readiness, hooks once per tick */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "evloop.h"

#define EVLOOP_MAX_HOOKS 16
#define EVLOOP_BATCH 32

struct evloop_fd {
	int fd;
	bool dead;		/* removed during this batch; freed after it */
	evloop_fd_cb cb;
	void *arg;
	struct evloop_fd *next_dead;
};

struct evloop_hook_entry {
	evloop_hook fn;
	void *arg;
};

/* the loop of this process: one thread, so no locking */
static struct {
	int epfd;
	bool stop;
	long long next_tick;	/* monotonic ms the hooks run next */
	struct evloop_fd *dead;	/* removed entries, freed once no batch refers to them */
	int nhooks;
	struct evloop_hook_entry hooks[EVLOOP_MAX_HOOKS];
} evloop = { .epfd = -1 };

int evloop_init(void)
{
	evloop.epfd = epoll_create1(EPOLL_CLOEXEC);
	return evloop.epfd < 0 ? -errno : 0;
}

/* NULL with errno set on failure */
struct evloop_fd *evloop_add(int fd, unsigned events, evloop_fd_cb cb, void *arg)
{
	struct epoll_event ev = { .events = events };
	struct evloop_fd *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->fd = fd;
	e->cb = cb;
	e->arg = arg;
	ev.data.ptr = e;
	if (epoll_ctl(evloop.epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int err = errno;

		free(e);
		errno = err;
		return NULL;
	}
	return e;
}

int evloop_mod(struct evloop_fd *e, unsigned events)
{
	struct epoll_event ev = { .events = events, .data.ptr = e };

	return epoll_ctl(evloop.epfd, EPOLL_CTL_MOD, e->fd, &ev) ? -errno : 0;
}

/*
 * Stops watching e.  Call it before closing the fd.  e may still be in the
 * batch being dispatched, so it is only freed after that batch.
 */
void evloop_del(struct evloop_fd *e)
{
	if (!e || e->dead)
		return;
	epoll_ctl(evloop.epfd, EPOLL_CTL_DEL, e->fd, NULL);
	e->dead = true;
	e->next_dead = evloop.dead;
	evloop.dead = e;
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

long long evloop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void evloop_reap(void)
{
	while (evloop.dead) {
		struct evloop_fd *e = evloop.dead;

		evloop.dead = e->next_dead;
		free(e);
	}
}

/*
 * The hooks run at ms at the latest (monotonic): a deadline finer than the
 * tick (a health check's timeout) is kept to the millisecond.
 */
void evloop_wake_at(long long ms)
{
	if (ms < evloop.next_tick)
		evloop.next_tick = ms;
}

/* runs until evloop_stop(); hooks run every tick_ms whatever the traffic, or sooner when asked */
int evloop_run(int tick_ms)
{
	struct epoll_event events[EVLOOP_BATCH];

	evloop.next_tick = evloop_now_ms() + tick_ms;
	evloop.stop = false;
	while (!evloop.stop) {
		long long now = evloop_now_ms();
		int n, wait = evloop.next_tick > now ? (int)(evloop.next_tick - now) : 0;

		n = epoll_wait(evloop.epfd, events, EVLOOP_BATCH, wait);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			struct evloop_fd *e = events[i].data.ptr;

			if (!e->dead)
				e->cb(e->fd, events[i].events, e->arg);
		}
		evloop_reap();
		now = evloop_now_ms();
		if (now >= evloop.next_tick) {
			/* set first: a hook may ask to run again sooner */
			evloop.next_tick = now + tick_ms;
			for (int i = 0; i < evloop.nhooks; i++)
				evloop.hooks[i].fn(evloop.hooks[i].arg);
			evloop_reap();
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
	evloop_reap();
	if (evloop.epfd >= 0)
		close(evloop.epfd);
	evloop.epfd = -1;
	evloop.nhooks = 0;
}
