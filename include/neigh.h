/* neigh.h: backend MAC addresses from the kernel's neighbour table */
#ifndef PGXR_NEIGH_H
#define PGXR_NEIGH_H

#include <linux/types.h>
#include <stdbool.h>

#include "addr.h"

struct mnl_socket;

/* the kernel's route to an address */
struct neigh_route {
	bool found;
	bool local;		/* an address of this host */
	bool gateway;		/* through a router: hop is that router */
	int oif;		/* the interface it leaves by */
	struct pgxr_addr hop;	/* whose MAC the frame goes to: the gateway, or the address */
	struct pgxr_addr src;	/* the source address the kernel would use (RTA_PREFSRC) */
};

/* called for every neighbour entry with a usable link-layer address */
typedef void (*neigh_cb)(int ifindex, const struct pgxr_addr *addr,
			 const __u8 mac[6], void *arg);

int neigh_lookup(int ifindex, const struct pgxr_addr *addr, __u8 mac[6]);
int neigh_solicit(int ifindex, const struct pgxr_addr *addr);
int neigh_route(const struct pgxr_addr *addr, struct neigh_route *r);
struct mnl_socket *neigh_watch_open(void);
int neigh_watch_fd(struct mnl_socket *nl);
int neigh_watch_read(struct mnl_socket *nl, neigh_cb cb, void *arg);
void neigh_watch_close(struct mnl_socket *nl);

#endif /* PGXR_NEIGH_H */
