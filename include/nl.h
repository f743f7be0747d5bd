/* nl.h: one rtnetlink or generic netlink request and its answers, on a socket of its own */
#ifndef PGXR_NL_H
#define PGXR_NL_H

#include <linux/netlink.h>
#include <stddef.h>

#include <libmnl/libmnl.h>

int nl_request(struct nlmsghdr *nlh, mnl_cb_t cb, void *data);
int nl_link_kind(int ifindex, char *kind, size_t len);
int nl_link_mtu(int ifindex);
int nl_link_lower(int ifindex);
int nl_xdp_rx_vlan_tag(int ifindex);

#endif /* PGXR_NL_H */
