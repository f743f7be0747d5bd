/* pidfile.h: one pgxrd per interface, enforced by a locked pid file */
#ifndef PGXR_PIDFILE_H
#define PGXR_PIDFILE_H

int pidfile_acquire(const char *path);
void pidfile_release(void);

#endif /* PGXR_PIDFILE_H */
