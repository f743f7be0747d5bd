/* nl.h: one rtnetlink request and its answers, on a socket of its own */
#ifndef PGXR_NL_H
#define PGXR_NL_H

#include <linux/netlink.h>

#include <libmnl/libmnl.h>

int nl_request(struct nlmsghdr *nlh, mnl_cb_t cb, void *data);

#endif /* PGXR_NL_H */
