/* pgctl.h: PostgreSQL programs (pg_ctl, pg_rewind, pg_controldata) run on a data directory of this host */
#ifndef PGXR_PGCTL_H
#define PGXR_PGCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "proc.h"

struct node;

/* a data directory on this host, and who owns it: the programs run as that user */
struct pgctl_dir {
	const char *path;
	uid_t uid;
	gid_t gid;
	char bin[4096];		/* where pg_ctl and friends are */
};

void pgctl_init(const struct pgxr_config *cfg);
bool pgctl_local(const struct node *n, int version_num, struct pgctl_dir *d, char *err,
		 size_t len);
int pgctl_run(const struct pgctl_dir *d, const char *tag, const char *prog, char *const args[],
	      char *const env[], int timeout_ms, proc_done_cb cb, void *arg);
int pgctl_capture(const struct pgctl_dir *d, const char *tag, const char *prog,
		  char *const args[], char *out, size_t len, int timeout_ms, proc_done_cb cb,
		  void *arg);

#endif /* PGXR_PGCTL_H */
