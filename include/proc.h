/* proc.h: child processes (failover_command, pg_ctl, pg_rewind) run from the event loop */
#ifndef PGXR_PROC_H
#define PGXR_PROC_H

#include <sys/types.h>

/*
 * status: the exit code, 128 + the signal that killed it, -ETIMEDOUT if
 * it was killed at its deadline, or -errno if it never ran
 */
typedef void (*proc_done_cb)(int status, void *arg);

int proc_spawn(const char *tag, char *const argv[], uid_t uid, gid_t gid, char *const env_add[],
	       int timeout_ms, proc_done_cb cb, void *arg);
int proc_shell(const char *tag, const char *command, char *const env_add[], int timeout_ms,
	       proc_done_cb cb, void *arg);
void proc_capture(pid_t pid, char *buf, size_t len);
void proc_maintain(void *arg);
void proc_reap(void);
void proc_kill(pid_t pid);
void proc_kill_all(void);

#endif /* PGXR_PROC_H */
