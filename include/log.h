/* log.h: pgxrd logging to stderr, journald-aware */
#ifndef PGXR_LOG_H
#define PGXR_LOG_H

enum log_level {
	PGXR_LOG_DEBUG,
	PGXR_LOG_INFO,
	PGXR_LOG_WARNING,
	PGXR_LOG_ERROR,
	PGXR_LOG_FATAL,
};

#include <stddef.h>

void log_init(const char *progname, int debug);
void log_capture(char *buf, size_t len);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(PGXR_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(PGXR_LOG_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(PGXR_LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(PGXR_LOG_ERROR, __VA_ARGS__)
#define log_fatal(...) log_msg(PGXR_LOG_FATAL, __VA_ARGS__)

#endif /* PGXR_LOG_H */
