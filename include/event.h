/* event.h: the bounded history of what happened to the nodes, with times and reasons */
#ifndef PGXR_EVENT_H
#define PGXR_EVENT_H

#ifndef EVENT_HISTORY
#define EVENT_HISTORY 256
#endif

struct event {
	long long when_us;	/* wall clock, microseconds since the epoch */
	int node;		/* -1: not about one node */
	char text[200];
};

void event_add(int node, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int event_count(void);
const struct event *event_get(int i);
void event_format_time(long long when_us, char *buf, int len);

#endif /* PGXR_EVENT_H */
