/* neigh.c: rtnetlink (libmnl) lookups, resolution requests and events for neighbours */
#include <errno.h>
#include <fcntl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "neigh.h"
#include "nl.h"
#include "pgxr_xdp.h"

/* states in which the kernel vouches for the link-layer address */
#define NEIGH_USABLE (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP)

static int neigh_family(const struct pgxr_addr *a)
{
	return a->family == PGXR_FAMILY_V4 ? AF_INET : AF_INET6;
}

static int neigh_addr_len(const struct pgxr_addr *a)
{
	return a->family == PGXR_FAMILY_V4 ? 4 : 16;
}

struct neigh_parsed {
	int ifindex;
	int state;
	struct pgxr_addr addr;
	const __u8 *mac;
};

static int neigh_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, NDA_MAX) < 0)
		return MNL_CB_OK;
	tb[type] = attr;
	return MNL_CB_OK;
}

/* 0 and *out filled for a neighbour message with an address, else -1 */
static int neigh_parse(const struct nlmsghdr *nlh, struct neigh_parsed *out)
{
	const struct nlattr *tb[NDA_MAX + 1] = {};
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	int len;

	if (nlh->nlmsg_type != RTM_NEWNEIGH && nlh->nlmsg_type != RTM_DELNEIGH)
		return -1;
	if (ndm->ndm_family != AF_INET && ndm->ndm_family != AF_INET6)
		return -1;
	mnl_attr_parse(nlh, sizeof(*ndm), neigh_attr_cb, tb);
	if (!tb[NDA_DST])
		return -1;
	memset(out, 0, sizeof(*out));
	out->ifindex = ndm->ndm_ifindex;
	out->state = nlh->nlmsg_type == RTM_DELNEIGH ? 0 : ndm->ndm_state;
	out->addr.family = ndm->ndm_family == AF_INET ? PGXR_FAMILY_V4 : PGXR_FAMILY_V6;
	len = mnl_attr_get_payload_len(tb[NDA_DST]);
	if (len != neigh_addr_len(&out->addr))
		return -1;
	memcpy(out->addr.a, mnl_attr_get_payload(tb[NDA_DST]), len);
	if (tb[NDA_LLADDR] && mnl_attr_get_payload_len(tb[NDA_LLADDR]) == 6)
		out->mac = mnl_attr_get_payload(tb[NDA_LLADDR]);
	return 0;
}

static struct nlmsghdr *neigh_msg(char *buf, int type, int flags, int ifindex,
				  const struct pgxr_addr *addr)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ndmsg *ndm;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = time(NULL);
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = neigh_family(addr);
	ndm->ndm_ifindex = ifindex;
	mnl_attr_put(nlh, NDA_DST, neigh_addr_len(addr), addr->a);
	return nlh;
}

/* what a lookup found */
struct neigh_answer {
	__u8 mac[6];
	bool found;
};

/* the answer to a lookup: its MAC, if the kernel vouches for it */
static int neigh_lookup_cb(const struct nlmsghdr *nlh, void *data)
{
	struct neigh_answer *a = data;
	struct neigh_parsed n;

	if (!neigh_parse(nlh, &n) && n.mac && (n.state & NEIGH_USABLE)) {
		memcpy(a->mac, n.mac, 6);
		a->found = true;
	}
	return MNL_CB_OK;
}

/* MAC of addr on ifindex if the kernel knows it: 0, or -ENOENT */
int neigh_lookup(int ifindex, const struct pgxr_addr *addr, __u8 mac[6])
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct neigh_answer a = {};
	int ret;

	ret = nl_request(neigh_msg(buf, RTM_GETNEIGH, NLM_F_ACK, ifindex, addr), neigh_lookup_cb,
			 &a);
	if (ret)
		return ret;
	if (!a.found)
		return -ENOENT;
	memcpy(mac, a.mac, 6);
	return 0;
}

/*
 * Asks the kernel to resolve addr (NTF_USE, as "ip neigh ... use"): it
 * creates the entry if needed and sends the ARP request or neighbour
 * solicitation itself; the answer arrives as a neighbour event.
 */
int neigh_solicit(int ifindex, const struct pgxr_addr *addr)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;

	nlh = neigh_msg(buf, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_ACK, ifindex, addr);
	ndm = mnl_nlmsg_get_payload(nlh);
	ndm->ndm_flags = NTF_USE;
	ndm->ndm_state = NUD_NONE;
	return nl_request(nlh, NULL, NULL);
}

static int neigh_route_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, RTA_MAX) >= 0)
		tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static void neigh_route_addr(const struct nlattr *attr, struct pgxr_addr *out)
{
	int len = mnl_attr_get_payload_len(attr);

	memset(out, 0, sizeof(*out));
	out->family = len == 4 ? PGXR_FAMILY_V4 : PGXR_FAMILY_V6;
	memcpy(out->a, mnl_attr_get_payload(attr), len == 4 ? 4 : 16);
}

static int neigh_route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[RTA_MAX + 1] = {};
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct neigh_route *r = data;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), neigh_route_attr_cb, tb);
	r->found = true;
	r->local = rtm->rtm_type == RTN_LOCAL;
	if (tb[RTA_OIF])
		r->oif = mnl_attr_get_u32(tb[RTA_OIF]);
	r->gateway = tb[RTA_GATEWAY] != NULL;
	if (tb[RTA_GATEWAY])
		neigh_route_addr(tb[RTA_GATEWAY], &r->hop);
	if (tb[RTA_PREFSRC])
		neigh_route_addr(tb[RTA_PREFSRC], &r->src);
	return MNL_CB_OK;
}

/*
 * The kernel's route to addr (as "ip route get"): 0 with *r filled, its
 * hop the gateway or addr itself, or -errno (-ENETUNREACH: none).
 */
int neigh_route(const struct pgxr_addr *addr, struct neigh_route *r)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	int ret;

	memset(r, 0, sizeof(*r));
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = time(NULL);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = neigh_family(addr);
	rtm->rtm_dst_len = neigh_addr_len(addr) * 8;
	mnl_attr_put(nlh, RTA_DST, neigh_addr_len(addr), addr->a);
	ret = nl_request(nlh, neigh_route_cb, r);
	if (!ret && !r->found)
		ret = -ENETUNREACH;
	if (!ret && !r->gateway)
		r->hop = *addr;
	return ret;
}

struct mnl_socket *neigh_watch_open(void)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, RTMGRP_NEIGH, MNL_SOCKET_AUTOPID) < 0) {
		int err = errno;

		mnl_socket_close(nl);
		errno = err;
		return NULL;
	}
	return nl;
}

int neigh_watch_fd(struct mnl_socket *nl)
{
	return mnl_socket_get_fd(nl);
}

struct neigh_dispatch {
	neigh_cb cb;
	void *arg;
};

static int neigh_event_cb(const struct nlmsghdr *nlh, void *data)
{
	struct neigh_dispatch *d = data;
	struct neigh_parsed n;

	if (!neigh_parse(nlh, &n) && n.mac && (n.state & NEIGH_USABLE))
		d->cb(n.ifindex, &n.addr, n.mac, d->arg);
	return MNL_CB_OK;
}

/* drains pending events; -ENOBUFS means some were lost: look up again */
int neigh_watch_read(struct mnl_socket *nl, neigh_cb cb, void *arg)
{
	struct neigh_dispatch d = { cb, arg };
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int ret;

	for (;;) {
		ret = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (ret < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		mnl_cb_run(buf, ret, 0, 0, neigh_event_cb, &d);
	}
}

void neigh_watch_close(struct mnl_socket *nl)
{
	if (nl)
		mnl_socket_close(nl);
}
