/* event.c: a ring of the last EVENT_HISTORY node events; each is also logged */
#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#include "event.h"
#include "log.h"

/* oldest first from (next - count); the ring overwrites the oldest */
static struct {
	struct event ring[EVENT_HISTORY];
	int next;
	int count;
} events;

void event_add(int node, const char *fmt, ...)
{
	struct event *e = &events.ring[events.next];
	struct timeval tv;
	va_list ap;

	gettimeofday(&tv, NULL);
	e->when_us = tv.tv_sec * 1000000LL + tv.tv_usec;
	e->node = node;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	events.next = (events.next + 1) % EVENT_HISTORY;
	if (events.count < EVENT_HISTORY)
		events.count++;
	if (node >= 0)
		log_info("node %d: %s", node, e->text);
	else
		log_info("%s", e->text);
}

int event_count(void)
{
	return events.count;
}

/* the i-th event, oldest first */
const struct event *event_get(int i)
{
	if (i < 0 || i >= events.count)
		return NULL;
	return &events.ring[(events.next - events.count + i + EVENT_HISTORY) % EVENT_HISTORY];
}

/* "2026-11-24 01:02:03.456", local time, as pgpool prints last_status_change */
void event_format_time(long long when_us, char *buf, int len)
{
	time_t t = when_us / 1000000;
	struct tm tm;
	char s[32];

	localtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03lld", s, when_us / 1000 % 1000);
}
