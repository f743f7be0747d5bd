/* pidfile.c: the pid file is locked while pgxrd runs; a crashed pgxrd's lock is gone with it */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "pidfile.h"

/* the open, locked pid file, and where it is */
static struct {
	int fd;
	char path[PATH_MAX];
} pidfile = { .fd = -1 };

/* the directory of path, created 0755 if missing (/run/pgxr after a boot) */
static int pidfile_mkdir(const char *path)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * flock() rather than "is that pid alive": a lock dies with its process,
 * so a stale file from a crash is simply taken over, and a recycled pid
 * can never be mistaken for a running pgxrd.
 */
int pidfile_acquire(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd, ret;

	ret = pidfile_mkdir(path);
	if (ret) {
		log_error("could not create the directory of pid file \"%s\": %s", path, strerror(-ret));
		return ret;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		log_error("could not open pid file \"%s\": %s", path, strerror(errno));
		return ret;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		ret = -errno;
		n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (ret == -EWOULDBLOCK)
			log_error("another pgxrd is running (pid %s, pid file \"%s\")",
				  buf[0] ? buf : "unknown", path);
		else
			log_error("could not lock pid file \"%s\": %s", path, strerror(-ret));
		close(fd);
		return ret == -EWOULDBLOCK ? -EEXIST : ret;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		log_info("replacing the stale pid file \"%s\" of pid %s", path, buf);
	}
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, buf, strlen(buf), 0) != (ssize_t)strlen(buf)) {
		ret = -errno;
		log_error("could not write pid file \"%s\": %s", path, strerror(errno));
		close(fd);
		return ret;
	}
	pidfile.fd = fd;
	snprintf(pidfile.path, sizeof(pidfile.path), "%s", path);
	return 0;
}

/*
 * Emptied, not removed: an unlink under the lock would let a starting
 * pgxrd lock the old file while another creates and locks a new one.
 */
void pidfile_release(void)
{
	if (pidfile.fd < 0)
		return;
	if (ftruncate(pidfile.fd, 0))
		log_warning("could not empty pid file \"%s\": %s", pidfile.path, strerror(errno));
	close(pidfile.fd);
	pidfile.fd = -1;
}
