/* reset.h: ending the client connections of a backend that left routing, from user space */
#ifndef PGXR_RESET_H
#define PGXR_RESET_H

#include <linux/types.h>

#include "dataplane.h"

int reset_flows(const struct dataplane *dp, __u32 backend);
void reset_close(void);

#endif /* PGXR_RESET_H */
