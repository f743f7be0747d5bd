/* proc.c: fork/exec without blocking the loop; output goes to the log, exit to a callback, deadlines kill */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"
#include "proc.h"

struct proc {
	pid_t pid;
	char tag[64];
	int out;		/* read end of the child's stdout and stderr */
	struct evloop_fd *ev;
	char buf[1024];		/* a partial line */
	size_t len;
	bool exited, eof;	/* the callback runs when both are true */
	int status;
	long long deadline;	/* monotonic ms; then SIGTERM to its process group, 0: none */
	long long kill_at;	/* monotonic ms of the SIGKILL that follows, 0: not yet */
	bool timed_out;
	char *capture;		/* its output is copied here too, when set */
	size_t capture_len;
	proc_done_cb cb;
	void *arg;
	struct proc *next;
};

/* running children */
static struct proc *procs;

extern char **environ;

static void proc_finish(struct proc *p)
{
	struct proc **pp;

	if (!p->exited || !p->eof)
		return;
	for (pp = &procs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	evloop_del(p->ev);
	close(p->out);
	if (p->timed_out)
		p->status = -ETIMEDOUT;
	if (p->cb)
		p->cb(p->status, p->arg);
	free(p);
}

static void proc_keep(struct proc *p, const char *line)
{
	size_t used;

	if (!p->capture)
		return;
	used = strlen(p->capture);
	if (used + 2 < p->capture_len)
		snprintf(p->capture + used, p->capture_len - used, "%s\n", line);
}

static void proc_log_lines(struct proc *p, bool flush)
{
	char *nl;

	while ((nl = memchr(p->buf, '\n', p->len))) {
		*nl = '\0';
		log_info("%s: %s", p->tag, p->buf);
		proc_keep(p, p->buf);
		p->len -= nl + 1 - p->buf;
		memmove(p->buf, nl + 1, p->len);
	}
	if (p->len && (flush || p->len == sizeof(p->buf))) {
		log_info("%s: %.*s", p->tag, (int)p->len, p->buf);
		p->buf[p->len < sizeof(p->buf) ? p->len : sizeof(p->buf) - 1] = '\0';
		proc_keep(p, p->buf);
		p->len = 0;
	}
}

static void proc_output(int fd, unsigned events, void *arg)
{
	struct proc *p = arg;
	ssize_t n;

	(void)events;
	n = read(fd, p->buf + p->len, sizeof(p->buf) - p->len);
	if (n > 0) {
		p->len += n;
		proc_log_lines(p, false);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	proc_log_lines(p, true);
	evloop_del(p->ev);
	p->ev = NULL;
	p->eof = true;
	proc_finish(p);
}

/*
 * Runs argv as uid/gid (uid 0: as pgxrd), environment = pgxrd's without
 * PGPASSWORD, plus env_add: a password reaches only the child that is
 * given it (pg_ctl start's postmaster would keep it for life).  The child
 * gets no blocked signals and a session of its own, so that its process
 * group can be killed whole at timeout_ms (0: no deadline); the callback
 * then gets -ETIMEDOUT, once the child has exited.  Returns its pid, or
 * -errno.
 */
int proc_spawn(const char *tag, char *const argv[], uid_t uid, gid_t gid, char *const env_add[],
	       int timeout_ms, proc_done_cb cb, void *arg)
{
	struct proc *p = calloc(1, sizeof(*p));
	int pfd[2];
	sigset_t all;

	if (!p)
		return -ENOMEM;
	if (pipe2(pfd, O_CLOEXEC)) {
		free(p);
		return -errno;
	}
	p->pid = fork();
	if (p->pid < 0) {
		int err = errno;

		close(pfd[0]);
		close(pfd[1]);
		free(p);
		return -err;
	}
	if (p->pid == 0) {
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		/* pgxrd ignores SIGPIPE (see main.c); a command gets the default back */
		signal(SIGPIPE, SIG_DFL);
		setsid();
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		if (uid && (setgroups(0, NULL) || setgid(gid) || setuid(uid))) {
			fprintf(stderr, "could not switch to uid %d: %s\n", (int)uid, strerror(errno));
			_exit(126);
		}
		if (chdir("/"))
			_exit(126);
		unsetenv("PGPASSWORD");
		for (int i = 0; env_add && env_add[i]; i++)
			putenv(env_add[i]);
		execvp(argv[0], argv);
		fprintf(stderr, "could not execute \"%s\": %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	snprintf(p->tag, sizeof(p->tag), "%s", tag);
	p->out = pfd[0];
	p->cb = cb;
	p->arg = arg;
	p->deadline = timeout_ms > 0 ? evloop_now_ms() + timeout_ms : 0;
	if (p->deadline)
		evloop_wake_at(p->deadline);
	p->ev = evloop_add(p->out, EPOLLIN, proc_output, p);
	if (!p->ev)
		p->eof = true;	/* output is lost, the exit status is not */
	p->next = procs;
	procs = p;
	log_debug("%s: started pid %d", tag, (int)p->pid);
	return p->pid;
}

/* a configured command line, through /bin/sh as pgxrd's user */
int proc_shell(const char *tag, const char *command, char *const env_add[], int timeout_ms,
	       proc_done_cb cb, void *arg)
{
	char *argv[] = { "/bin/sh", "-c", (char *)command, NULL };

	log_info("%s: running %s", tag, command);
	return proc_spawn(tag, argv, 0, 0, env_add, timeout_ms, cb, arg);
}

/* how long a child killed at its deadline has to exit on SIGTERM before SIGKILL */
#define PROC_KILL_GRACE_MS 5000

/*
 * Per-tick hook: a child past its deadline gets SIGTERM, with whatever it
 * started (its process group), and SIGKILL if it lingers.
 */
void proc_maintain(void *arg)
{
	long long now = evloop_now_ms();

	(void)arg;
	for (struct proc *p = procs; p; p = p->next) {
		if (p->exited)
			continue;
		if (p->deadline && now >= p->deadline && !p->timed_out) {
			log_warning("%s: still running after its deadline: killing process group %d",
				    p->tag, (int)p->pid);
			p->timed_out = true;
			p->kill_at = now + PROC_KILL_GRACE_MS;
			kill(-p->pid, SIGTERM);
			evloop_wake_at(p->kill_at);
		} else if (p->kill_at && now >= p->kill_at) {
			kill(-p->pid, SIGKILL);
			p->kill_at = 0;
		} else if (p->deadline && !p->timed_out) {
			evloop_wake_at(p->deadline);
		}
	}
}

/*
 * On SIGCHLD: collect every child that ended.  What it wrote is drained
 * now rather than awaited: a server it started may hold the pipe open.
 */
void proc_reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (struct proc *p = procs; p; p = p->next) {
			ssize_t n;

			if (p->pid != pid)
				continue;
			p->exited = true;
			p->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			while (!p->eof && (n = read(p->out, p->buf + p->len, sizeof(p->buf) - p->len)) > 0) {
				p->len += n;
				proc_log_lines(p, false);
			}
			proc_log_lines(p, true);
			p->eof = true;
			proc_finish(p);
			break;
		}
	}
}

/* what child pid writes is also kept in buf (len bytes, NUL-terminated), from now on */
void proc_capture(pid_t pid, char *buf, size_t len)
{
	for (struct proc *p = procs; p; p = p->next) {
		if (p->pid != pid)
			continue;
		p->capture = buf;
		p->capture_len = len;
		if (len)
			buf[0] = '\0';
	}
}

/* a child given up on, with whatever it started; SIGKILL follows if it lingers */
void proc_kill(pid_t pid)
{
	for (struct proc *p = procs; p; p = p->next) {
		if (p->pid != pid || p->exited)
			continue;
		kill(-p->pid, SIGTERM);
		p->kill_at = evloop_now_ms() + PROC_KILL_GRACE_MS;
	}
}

/* at shutdown: children are not left running unattended */
void proc_kill_all(void)
{
	for (struct proc *p = procs; p; p = p->next)
		kill(-p->pid, SIGTERM);
}
