/* reload.h: re-reading the configuration file while pgxrd runs (SIGHUP, pgxrctl reload) */
#ifndef PGXR_RELOAD_H
#define PGXR_RELOAD_H

#include <stddef.h>

#include "config.h"

int reload_config(struct pgxr_config *live, char *msg, size_t len);

#endif /* PGXR_RELOAD_H */
