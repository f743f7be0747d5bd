/* log.c: one line per message on stderr, with syslog priorities under journald */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* set once by log_init(); read by every log_msg() */
static struct {
	const char *progname;
	int debug;
	int journal;	/* stderr is a journald stream: it timestamps for us */
} log_state = { "pgxr", 0, 0 };

/*
 * Warnings and errors of this thread are copied here too (a reload's
 * reply); per thread, so that the proxy's workers never write into it.
 */
static __thread struct {
	char *buf;
	size_t len;
} log_capture_to;

static const char *const log_tags[] = {
	[PGXR_LOG_DEBUG] = "DEBUG",
	[PGXR_LOG_INFO] = "LOG",
	[PGXR_LOG_WARNING] = "WARNING",
	[PGXR_LOG_ERROR] = "ERROR",
	[PGXR_LOG_FATAL] = "FATAL",
};

/* sd-daemon(3) priorities: debug, info, warning, err, crit */
static const int log_prio[] = { 7, 6, 4, 3, 2 };

void log_init(const char *progname, int debug)
{
	log_state.progname = progname;
	log_state.debug = debug;
	log_state.journal = getenv("JOURNAL_STREAM") != NULL;
}

/*
 * Until called with NULL, warnings and errors are also appended to buf,
 * one per line, without time and tag: what a reload request answers with.
 */
void log_capture(char *buf, size_t len)
{
	log_capture_to.buf = buf;
	log_capture_to.len = len;
	if (buf && len)
		buf[0] = '\0';
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	if (log_capture_to.buf && level >= PGXR_LOG_WARNING) {
		char *c = log_capture_to.buf;
		size_t used = strlen(c);

		if (used + 2 < log_capture_to.len) {
			va_start(ap, fmt);
			vsnprintf(c + used, log_capture_to.len - used - 1, fmt, ap);
			va_end(ap);
			used = strlen(c);
			c[used] = '\n';
			c[used + 1] = '\0';
		}
	}

	if (level == PGXR_LOG_DEBUG && !log_state.debug)
		return;
	if (log_state.journal) {
		n = snprintf(line, sizeof(line), "<%d>%s:  ", log_prio[level],
			     log_tags[level]);
	} else {
		struct timeval tv;
		struct tm tm;
		char ts[32];

		gettimeofday(&tv, NULL);
		localtime_r(&tv.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "%s.%03ld %s[%d] %s:  ", ts,
			     (long)tv.tv_usec / 1000, log_state.progname,
			     (int)getpid(), log_tags[level]);
	}
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(line);
	line[n++] = '\n';
	/* one write per line keeps lines whole when several writers share stderr */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
