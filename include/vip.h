/* vip.h: the service address on a local interface: add, remove, check, announce */
#ifndef PGXR_VIP_H
#define PGXR_VIP_H

#include "addr.h"

/* 0 or -errno; adding what is there or removing what is not succeeds */
int vip_add(int ifindex, const struct pgxr_addr *vip);
int vip_del(int ifindex, const struct pgxr_addr *vip);
/* 1 present (any prefix length), 0 absent, or -errno */
int vip_present(int ifindex, const struct pgxr_addr *vip);
/* one gratuitous ARP request or unsolicited NA; the caller repeats it */
int vip_announce(int ifindex, const struct pgxr_addr *vip);
/* pgxrd's hold of the VIP: add and announce it, then remove it on stop */
int vip_take(int ifindex, const struct pgxr_addr *vip, int count, int interval_ms);
void vip_maintain(void *arg);
void vip_release(void);

#endif /* PGXR_VIP_H */
