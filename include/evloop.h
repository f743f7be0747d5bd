/* evloop.h: the epoll event loop of pgxrd, with per-loop maintenance hooks */
#ifndef PGXR_EVLOOP_H
#define PGXR_EVLOOP_H

struct evloop_fd;

typedef void (*evloop_fd_cb)(int fd, unsigned events, void *arg);
typedef void (*evloop_hook)(void *arg);

int evloop_init(void);
struct evloop_fd *evloop_add(int fd, unsigned events, evloop_fd_cb cb, void *arg);
int evloop_mod(struct evloop_fd *e, unsigned events);
void evloop_del(struct evloop_fd *e);
int evloop_add_hook(evloop_hook hook, void *arg);
int evloop_run(int tick_ms);
void evloop_wake_at(long long ms);
void evloop_stop(void);
void evloop_close(void);
long long evloop_now_ms(void);

#endif /* PGXR_EVLOOP_H */
