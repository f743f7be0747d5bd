/* probe.h: one-shot role discovery of a backend */
#ifndef PGXR_PROBE_H
#define PGXR_PROBE_H

#include <stddef.h>

#include "config.h"

int probe_role(const struct pgxr_config *cfg, int id, char *err, size_t errlen);

#endif /* PGXR_PROBE_H */
