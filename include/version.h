/* version.h: the version pgxrd, pgxrctl and the proxy's SHOW pool_version report */
#ifndef PGXR_VERSION_H
#define PGXR_VERSION_H

#define PGXR_VERSION "0.1.0"

#endif /* PGXR_VERSION_H */
