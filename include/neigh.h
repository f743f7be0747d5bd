/* neigh.h: backend MAC addresses from the kernel's neighbour table */
#ifndef PGXR_NEIGH_H
#define PGXR_NEIGH_H

#include <linux/types.h>
#include <stddef.h>

#include "addr.h"

struct mnl_socket;

/* called for every neighbour entry with a usable link-layer address */
typedef void (*neigh_cb)(int ifindex, const struct pgxr_addr *addr,
			 const __u8 mac[6], void *arg);

int neigh_lookup(int ifindex, const struct pgxr_addr *addr, __u8 mac[6]);
int neigh_solicit(int ifindex, const struct pgxr_addr *addr);
int neigh_onlink(int ifindex, const struct pgxr_addr *addr, char *why, size_t len);
struct mnl_socket *neigh_watch_open(void);
int neigh_watch_fd(struct mnl_socket *nl);
int neigh_watch_read(struct mnl_socket *nl, neigh_cb cb, void *arg);
void neigh_watch_close(struct mnl_socket *nl);

#endif /* PGXR_NEIGH_H */
