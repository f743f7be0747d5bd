/* ctl.h: pgxrd's control socket, which pgxrctl's node and event objects talk to */
#ifndef PGXR_CTL_H
#define PGXR_CTL_H

#include "config.h"
#include "dataplane.h"

struct ctl_client;

/*
 * The protocol: the client sends one line, "FORMAT OBJECT COMMAND [ARG]...",
 * FORMAT one of plain, json, pretty.  The reply is a status line, "ok",
 * "error MESSAGE" or "usage MESSAGE", then for "ok" the output to print;
 * then pgxrd closes the connection.
 */
#define CTL_OK 0
#define CTL_ERROR 1
#define CTL_USAGE 2

int ctl_init(struct pgxr_config *cfg, const struct dataplane *dp);
void ctl_maintain(void *arg);
void ctl_close(void);

#endif /* PGXR_CTL_H */
