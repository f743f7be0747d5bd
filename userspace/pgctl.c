/* pgctl.c: runs PostgreSQL's programs on a local data directory, as its owner, without blocking */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node.h"
#include "pgctl.h"

/* set by pgctl_init(): pg_bin_dir */
static const struct pgxr_config *pgctl_cfg;

void pgctl_init(const struct pgxr_config *cfg)
{
	pgctl_cfg = cfg;
}

/*
 * n's data directory is on this host: backend_data_directoryN is set and
 * holds a PG_VERSION.  The programs are taken from pg_bin_dir, else from
 * Debian's directory of the server's major version (version_num).
 */
bool pgctl_local(const struct node *n, int version_num, struct pgctl_dir *d, char *err,
		 size_t len)
{
	char pv[PATH_MAX + 16];
	struct stat st;

	snprintf(pv, sizeof(pv), "%s/PG_VERSION", n->cfg->data_directory);
	if (!n->cfg->data_directory[0] || stat(pv, &st)) {
		snprintf(err, len, "backend_data_directory%d is not on this host", n->id);
		return false;
	}
	d->path = n->cfg->data_directory;
	d->uid = st.st_uid;
	d->gid = st.st_gid;
	if (pgctl_cfg->pg_bin_dir[0])
		snprintf(d->bin, sizeof(d->bin), "%s", pgctl_cfg->pg_bin_dir);
	else
		snprintf(d->bin, sizeof(d->bin), "/usr/lib/postgresql/%d/bin", version_num / 10000);
	snprintf(pv, sizeof(pv), "%s/pg_ctl", d->bin);
	if (access(pv, X_OK)) {
		snprintf(err, len, "no PostgreSQL programs in \"%s\": set pg_bin_dir", d->bin);
		return false;
	}
	return true;
}

static int pgctl_argv(const struct pgctl_dir *d, const char *prog, char *const args[],
		      char *path, size_t len, char **argv, int max)
{
	int n = 0;

	snprintf(path, len, "%s/%s", d->bin, prog);
	argv[n++] = path;
	for (int i = 0; args[i]; i++) {
		if (n + 1 >= max)
			return -E2BIG;
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	return 0;
}

/* prog with args, as the data directory's owner, in the C locale (its output is parsed) */
int pgctl_run(const struct pgctl_dir *d, const char *tag, const char *prog, char *const args[],
	      char *const env[], int timeout_ms, proc_done_cb cb, void *arg)
{
	char path[PATH_MAX + 32], *argv[24], *envv[8];
	int n = 0, ret;

	ret = pgctl_argv(d, prog, args, path, sizeof(path), argv, 24);
	if (ret)
		return ret;
	envv[n++] = "LC_ALL=C";
	for (int i = 0; env && env[i] && n < 7; i++)
		envv[n++] = env[i];
	envv[n] = NULL;
	return proc_spawn(tag, argv, d->uid, d->gid, envv, timeout_ms, cb, arg);
}

/* as pgctl_run(), and what it prints is kept in out (len bytes) for the callback */
int pgctl_capture(const struct pgctl_dir *d, const char *tag, const char *prog,
		  char *const args[], char *out, size_t len, int timeout_ms, proc_done_cb cb,
		  void *arg)
{
	int pid = pgctl_run(d, tag, prog, args, NULL, timeout_ms, cb, arg);

	if (pid > 0)
		proc_capture(pid, out, len);
	return pid;
}
