/* tap.h: minimal TAP output for the unit tests; tests/run counts the lines */
#ifndef PGXR_TAP_H
#define PGXR_TAP_H

#include <stdarg.h>
#include <stdio.h>

/* per-binary tallies; each test binary is one process */
static int tap_failed, tap_passed;
/* set by CHECK() inside a test function, reported by tap_run() */
static char tap_why[512];

/* records why a check failed; messages may be cut, that is fine */
static inline __attribute__((format(printf, 1, 2))) void tap_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tap_why, sizeof(tap_why), fmt, ap);
	va_end(ap);
}

#define CHECK(cond, ...)                \
	do {                            \
		if (!(cond)) {          \
			tap_fail(__VA_ARGS__); \
			return -1;      \
		}                       \
	} while (0)

static inline void tap_run(const char *name, int (*fn)(void))
{
	tap_why[0] = '\0';
	if (fn() == 0) {
		tap_passed++;
		printf("ok - %s\n", name);
	} else {
		tap_failed++;
		printf("not ok - %s: %s\n", name, tap_why);
	}
	fflush(stdout);
}

static inline int tap_done(void)
{
	return tap_failed ? 1 : 0;
}

#endif /* PGXR_TAP_H */
