/* loader.h: attaching the XDP program to an interface and pinning it */
#ifndef PGXR_LOADER_H
#define PGXR_LOADER_H

#include <limits.h>
#include <stdbool.h>

#include "config.h"
#include "dataplane.h"

struct pgxr_xdp_bpf;

struct loader {
	struct pgxr_xdp_bpf *skel;
	struct dataplane dp;		/* owned by skel: not to be closed */
	int link_fd;
	int ifindex;
	bool reused_prog;		/* the pinned program was already this build */
	bool fresh;			/* nothing was pinned before: this start made it all */
	bool vlan;			/* native mode runs the program that puts stripped VLAN tags back */
	const char *mode;		/* native or generic, as attached */
	char pin_dir[PATH_MAX];
};

int loader_attach(const struct pgxr_config *cfg, struct loader *l);
void loader_close(struct loader *l);
int loader_detach(const struct pgxr_config *cfg);

#endif /* PGXR_LOADER_H */
