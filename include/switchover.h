/* switchover.h: a planned change of primary that loses no acknowledged commit */
#ifndef PGXR_SWITCHOVER_H
#define PGXR_SWITCHOVER_H

#include <stdbool.h>
#include <linux/types.h>

#include "config.h"

/* how a switchover went; times in ms since it started */
struct switchover_result {
	int status;		/* 0: the candidate is out of recovery; else -errno, undone */
	int old, candidate;
	int cascaded;		/* the old primary's standbys re-pointed at the candidate first */
	bool demoted;		/* the old primary refused writes (or was stopped) */
	bool stopped;		/* the old primary was stopped cleanly (its data directory is here) */
	__u64 lsn;		/* the position the candidate replayed before its promotion */
	long long demoted_ms;	/* the old primary refused writes */
	long long caught_up_ms;	/* the candidate had replayed all of it */
	long long promoted_ms;	/* the candidate was out of recovery */
	char msg[512];
};

/* the old primary is about to be demoted: take it out of routing (0), or call it off (-errno) */
typedef int (*switchover_ready_cb)(const struct switchover_result *r, void *arg);
typedef void (*switchover_cb)(const struct switchover_result *r, void *arg);

void switchover_init(const struct pgxr_config *cfg);
int switchover_start(int old, int candidate, switchover_ready_cb ready, switchover_cb cb,
		     void *arg);

#endif /* PGXR_SWITCHOVER_H */
