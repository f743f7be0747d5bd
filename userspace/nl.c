/* nl.c: one rtnetlink or generic netlink request and its answers, on a socket of its own (libmnl) */
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "nl.h"

/* large enough that the kernel never has to cut a dump batch short */
#define NL_BUFSIZE 32768

/* NLMSG_ERROR and NLMSG_DONE both start with the error: 0 ends the exchange */
static int nl_ctl_cb(const struct nlmsghdr *nlh, void *data)
{
	int err;

	(void)data;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(err))
		return MNL_CB_STOP;
	memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	if (err < 0) {
		errno = -err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

/*
 * cb (may be NULL) sees every answer until the ack or the end of the
 * dump, so a request that is not a dump must ask for an ack.  A dump the
 * kernel refuses (strict checking, unknown ifindex) ends in an NLMSG_DONE
 * that carries the error, which libmnl's default handler would take for
 * success, hence our own control callbacks.  0 or -errno.
 */
static int nl_request_on(int bus, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = nl_ctl_cb,
		[NLMSG_DONE] = nl_ctl_cb,
	};
	char buf[NL_BUFSIZE];
	struct mnl_socket *nl;
	unsigned int portid;
	int one = 1;
	int ret;

	nl = mnl_socket_open2(bus, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	/* kernels before 4.20 lack it and dump everything: callers filter anyway */
	mnl_socket_setsockopt(nl, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto cleanup;
	}
	portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto cleanup;
	}
	do {
		ret = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (ret < 0)
			break;
		ret = mnl_cb_run2(buf, ret, nlh->nlmsg_seq, portid, cb, data, ctl, NLMSG_MIN_TYPE);
	} while (ret > MNL_CB_STOP);
	ret = ret < 0 ? -errno : 0;
cleanup:
	mnl_socket_close(nl);
	return ret;
}

int nl_request(struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	return nl_request_on(NETLINK_ROUTE, nlh, cb, data);
}

/* what nl_link_kind(), nl_link_mtu() and nl_link_lower() ask of a link */
struct nl_kind {
	char *buf;
	size_t len;
	int mtu;
	int lower;		/* IFLA_LINK: a VLAN device's parent */
};

static int nl_linkinfo_cb(const struct nlattr *attr, void *data)
{
	struct nl_kind *k = data;

	if (mnl_attr_get_type(attr) == IFLA_INFO_KIND && !mnl_attr_validate(attr, MNL_TYPE_STRING))
		snprintf(k->buf, k->len, "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static int nl_link_attr_cb(const struct nlattr *attr, void *data)
{
	struct nl_kind *k = data;

	if (mnl_attr_get_type(attr) == IFLA_LINKINFO)
		mnl_attr_parse_nested(attr, nl_linkinfo_cb, data);
	else if (mnl_attr_get_type(attr) == IFLA_MTU && !mnl_attr_validate(attr, MNL_TYPE_U32))
		k->mtu = mnl_attr_get_u32(attr);
	else if (mnl_attr_get_type(attr) == IFLA_LINK && !mnl_attr_validate(attr, MNL_TYPE_U32))
		k->lower = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int nl_link_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type == RTM_NEWLINK)
		mnl_attr_parse(nlh, sizeof(struct ifinfomsg), nl_link_attr_cb, data);
	return MNL_CB_OK;
}

/* the header of a request that is not a dump, and room for its own header of len */
static struct nlmsghdr *nl_put_request(char *buf, int type, void **extra, size_t len)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	*extra = mnl_nlmsg_put_extra_header(nlh, len);
	return nlh;
}

static int nl_link(int ifindex, struct nl_kind *k)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh = nl_put_request(buf, RTM_GETLINK, (void **)&ifi, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nl_request(nlh, nl_link_cb, k);
}

/*
 * The kind of a virtual interface ("vlan", "veth", "bridge"...), as
 * "ip -d link" shows it; "" for a physical one.  0 or -errno.
 */
int nl_link_kind(int ifindex, char *kind, size_t len)
{
	struct nl_kind k = { kind, len, 0, 0 };

	kind[0] = '\0';
	return nl_link(ifindex, &k);
}

/* the interface's MTU, or -errno */
int nl_link_mtu(int ifindex)
{
	char kind[32];
	struct nl_kind k = { kind, sizeof(kind), -ENOENT, 0 };
	int ret = nl_link(ifindex, &k);

	return ret ? ret : k.mtu;
}

/* the device under ifindex (a VLAN device's parent), 0 for none, or -errno */
int nl_link_lower(int ifindex)
{
	char kind[32];
	struct nl_kind k = { kind, sizeof(kind), 0, 0 };
	int ret = nl_link(ifindex, &k);

	return ret ? ret : k.lower == ifindex ? 0 : k.lower;
}

/*
 * The "netdev" generic netlink family (kernel 6.3 and later), whose uapi
 * header this build's may predate: the values are the kernel's ABI
 */
#define NL_NETDEV_CMD_DEV_GET 1
#define NL_NETDEV_A_DEV_IFINDEX 1
#define NL_NETDEV_A_DEV_XDP_RX_METADATA_FEATURES 5
#define NL_NETDEV_XDP_RX_METADATA_VLAN_TAG 4

static int nl_family_attr_cb(const struct nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID && !mnl_attr_validate(attr, MNL_TYPE_U16))
		*(int *)data = mnl_attr_get_u16(attr);
	return MNL_CB_OK;
}

static int nl_family_cb(const struct nlmsghdr *nlh, void *data)
{
	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), nl_family_attr_cb, data);
	return MNL_CB_OK;
}

static int nl_dev_attr_cb(const struct nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == NL_NETDEV_A_DEV_XDP_RX_METADATA_FEATURES &&
	    !mnl_attr_validate(attr, MNL_TYPE_U64))
		*(__u64 *)data = mnl_attr_get_u64(attr);
	return MNL_CB_OK;
}

static int nl_dev_cb(const struct nlmsghdr *nlh, void *data)
{
	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), nl_dev_attr_cb, data);
	return MNL_CB_OK;
}

/* the header of a generic netlink request: cmd of family */
static struct nlmsghdr *nl_genl_put(char *buf, int family, int cmd)
{
	struct genlmsghdr *g;
	struct nlmsghdr *nlh = nl_put_request(buf, family, (void **)&g, sizeof(*g));

	g->cmd = cmd;
	g->version = 1;
	return nlh;
}

/*
 * Whether the driver of ifindex hands native XDP the VLAN tag it stripped
 * on receive (the bpf_xdp_metadata_rx_vlan_tag hint): 1, 0, or -errno
 * (-ENOENT: a kernel without the netdev family, before 6.3)
 */
int nl_xdp_rx_vlan_tag(int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	__u64 features = 0;
	int family = -1, ret;

	nlh = nl_genl_put(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, "netdev");
	ret = nl_request_on(NETLINK_GENERIC, nlh, nl_family_cb, &family);
	if (ret)
		return ret;
	if (family < 0)
		return -ENOENT;
	nlh = nl_genl_put(buf, family, NL_NETDEV_CMD_DEV_GET);
	mnl_attr_put_u32(nlh, NL_NETDEV_A_DEV_IFINDEX, ifindex);
	ret = nl_request_on(NETLINK_GENERIC, nlh, nl_dev_cb, &features);
	if (ret)
		return ret;
	return !!(features & NL_NETDEV_XDP_RX_METADATA_VLAN_TAG);
}
