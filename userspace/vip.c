/* vip.c: the virtual IP on a local interface (rtnetlink, libmnl) and its ARP / NA announcements */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netinet/icmp6.h>
#include <netinet/if_ether.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "log.h"
#include "nl.h"
#include "pgxr_xdp.h"
#include "vip.h"

/* an address lifetime without end, as the kernel spells it */
#ifndef INFINITY_LIFE_TIME
#define INFINITY_LIFE_TIME 0xFFFFFFFFu
#endif

/* a neighbour advertisement with its target link-layer address option */
struct vip_na {
	struct nd_neighbor_advert na;
	struct nd_opt_hdr opt;
	__u8 mac[ETH_ALEN];
} __attribute__((packed));

static int vip_family(const struct pgxr_addr *vip)
{
	if (vip->family == PGXR_FAMILY_V4)
		return AF_INET;
	if (vip->family == PGXR_FAMILY_V6)
		return AF_INET6;
	return -EAFNOSUPPORT;
}

static int vip_addr_len(const struct pgxr_addr *vip)
{
	return vip->family == PGXR_FAMILY_V4 ? 4 : 16;
}

/* RTM_NEWADDR / RTM_DELADDR for the VIP as a host address */
static int vip_change(int type, int flags, int ifindex, const struct pgxr_addr *vip)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	int family = vip_family(vip);
	int len = vip_addr_len(vip);

	if (family < 0)
		return family;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = time(NULL);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = family;
	ifa->ifa_prefixlen = len * 8;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	/*
	 * Without NODAD an IPv6 VIP stays tentative for a second or more:
	 * nothing can bind to it and a takeover would stall. The attribute
	 * overrides ifa_flags where the kernel knows it; older ones read only
	 * the header.
	 */
	if (family == AF_INET6) {
		ifa->ifa_flags = IFA_F_NODAD;
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	}
	/*
	 * An IPv6 VIP is deprecated (preferred lifetime 0, as keepalived
	 * does): it takes packets and answers solicitations, but the kernel
	 * never picks it as the source of the router's own connections (RFC
	 * 6724, rule 3).  Its health checks from the VIP would be answered to
	 * the backends' own copy of it, on their loopback.
	 */
	if (family == AF_INET6 && type == RTM_NEWADDR) {
		struct ifa_cacheinfo ci = { .ifa_prefered = 0, .ifa_valid = INFINITY_LIFE_TIME };

		mnl_attr_put(nlh, IFA_CACHEINFO, sizeof(ci), &ci);
	}
	mnl_attr_put(nlh, IFA_LOCAL, len, vip->a);
	mnl_attr_put(nlh, IFA_ADDRESS, len, vip->a);
	return nl_request(nlh, NULL, NULL);
}

int vip_add(int ifindex, const struct pgxr_addr *vip)
{
	int ret = vip_change(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, vip);

	/* left over from an earlier run, or put there by hand: ours now, deprecated if IPv6 */
	if (ret == -EEXIST)
		ret = vip->family == PGXR_FAMILY_V6 ? vip_change(RTM_NEWADDR, NLM_F_REPLACE, ifindex, vip) : 0;
	return ret;
}

int vip_del(int ifindex, const struct pgxr_addr *vip)
{
	int ret = vip_change(RTM_DELADDR, 0, ifindex, vip);

	return ret == -EADDRNOTAVAIL || ret == -ENOENT ? 0 : ret;
}

struct vip_match {
	unsigned int ifindex;
	const struct pgxr_addr *vip;
	int found;
};

/*
 * Any prefix length counts: the host answers for the address either way,
 * which is what a takeover must know.
 */
static int vip_addr_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr, *local = NULL, *address = NULL;
	struct vip_match *m = data;
	const struct nlattr *own;

	if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_index != m->ifindex ||
	    ifa->ifa_family != vip_family(m->vip))
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*ifa)) {
		if (mnl_attr_get_type(attr) == IFA_LOCAL)
			local = attr;
		else if (mnl_attr_get_type(attr) == IFA_ADDRESS)
			address = attr;
	}
	/* on point-to-point links IFA_ADDRESS is the peer's, IFA_LOCAL ours */
	own = local ? local : address;
	if (own && mnl_attr_get_payload_len(own) == (unsigned int)vip_addr_len(m->vip) &&
	    !memcmp(mnl_attr_get_payload(own), m->vip->a, vip_addr_len(m->vip))) {
		m->found = 1;
		return MNL_CB_STOP;
	}
	return MNL_CB_OK;
}

int vip_present(int ifindex, const struct pgxr_addr *vip)
{
	struct vip_match m = { .ifindex = ifindex, .vip = vip };
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	int family = vip_family(vip);
	int ret;

	if (family < 0)
		return family;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = time(NULL);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = family;
	ifa->ifa_index = ifindex;
	ret = nl_request(nlh, vip_addr_cb, &m);
	return ret < 0 ? ret : m.found;
}

struct vip_link {
	__u8 mac[ETH_ALEN];
	int found;
};

static int vip_link_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct vip_link *link = data;
	const struct nlattr *attr;

	/* ARP and NDP as built here only make sense on Ethernet */
	if (nlh->nlmsg_type != RTM_NEWLINK || ifi->ifi_type != ARPHRD_ETHER)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*ifi)) {
		if (mnl_attr_get_type(attr) == IFLA_ADDRESS &&
		    mnl_attr_get_payload_len(attr) == ETH_ALEN) {
			memcpy(link->mac, mnl_attr_get_payload(attr), ETH_ALEN);
			link->found = 1;
		}
	}
	return MNL_CB_OK;
}

/* by index, not name: a name can be reused by another interface meanwhile */
static int vip_link_mac(int ifindex, __u8 mac[ETH_ALEN])
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct vip_link link = { .found = 0 };
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int ret;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = time(NULL);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ret = nl_request(nlh, vip_link_cb, &link);
	if (ret < 0)
		return ret;
	if (!link.found)
		return -EOPNOTSUPP;
	memcpy(mac, link.mac, ETH_ALEN);
	return 0;
}

/*
 * RFC 5227 announcement: a request with sender and target both the VIP.
 * Peers update an existing ARP entry from any request, and unlike a reply
 * a request is not dropped by hosts that ignore unsolicited replies.
 */
static int vip_announce4(int ifindex, const struct pgxr_addr *vip, const __u8 mac[ETH_ALEN])
{
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ARP),
		.sll_ifindex = ifindex,
		.sll_halen = ETH_ALEN,
		.sll_addr = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	};
	struct ether_arp arp = {
		.ea_hdr = {
			.ar_hrd = htons(ARPHRD_ETHER),
			.ar_pro = htons(ETH_P_IP),
			.ar_hln = ETH_ALEN,
			.ar_pln = 4,
			.ar_op = htons(ARPOP_REQUEST),
		},
	};
	int fd, ret;

	memcpy(arp.arp_sha, mac, ETH_ALEN);
	memcpy(arp.arp_spa, vip->a, 4);
	memcpy(arp.arp_tpa, vip->a, 4);
	/* protocol 0: a socket that only sends receives nothing */
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = 0;
	if (sendto(fd, &arp, sizeof(arp), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * RFC 4861 7.2.6 unsolicited advertisement to all nodes with Override set,
 * so that peers replace the old router's MAC at once. Hop limit 255 or
 * receivers discard it; the kernel fills in the ICMPv6 checksum.
 */
static int vip_announce6(int ifindex, const struct pgxr_addr *vip, const __u8 mac[ETH_ALEN])
{
	struct sockaddr_in6 from = { .sin6_family = AF_INET6 };
	struct sockaddr_in6 to = {
		.sin6_family = AF_INET6,
		.sin6_addr = { .s6_addr = { 0xff, 0x02, [15] = 0x01 } },
		.sin6_scope_id = ifindex,
	};
	struct vip_na msg = {
		.na = {
			.nd_na_type = ND_NEIGHBOR_ADVERT,
			.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE,
		},
		.opt = {
			.nd_opt_type = ND_OPT_TARGET_LINKADDR,
			.nd_opt_len = 1,
		},
	};
	int hops = 255, loop = 0;
	int fd, ret;

	memcpy(&msg.na.nd_na_target, vip->a, 16);
	memcpy(msg.mac, mac, ETH_ALEN);
	/* the VIP is the source: it is global, so no scope id */
	memcpy(&from.sin6_addr, vip->a, 16);
	fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof(hops)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex)) < 0 ||
	    /* our own stack needs no news of its own address */
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof(loop)) < 0 ||
	    bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0) {
		ret = -errno;
		goto cleanup;
	}
	ret = 0;
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		ret = -errno;
cleanup:
	close(fd);
	return ret;
}

int vip_announce(int ifindex, const struct pgxr_addr *vip)
{
	__u8 mac[ETH_ALEN];
	int ret = vip_family(vip);

	if (ret < 0)
		return ret;
	ret = vip_link_mac(ifindex, mac);
	if (ret < 0)
		return ret;
	if (vip->family == PGXR_FAMILY_V4)
		return vip_announce4(ifindex, vip, mac);
	return vip_announce6(ifindex, vip, mac);
}

/* the VIP pgxrd holds, and the announcements still to send */
static struct {
	int ifindex;
	struct pgxr_addr addr;
	bool held;
	int left;		/* announcements still to send */
	int interval_ms;
	long long next_ms;	/* monotonic */
} vip_owned;

static long long vip_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * pgxrd owns the VIP: it is added to the interface (no if_up_cmd, no
 * setuid ip) and announced count times, interval_ms apart, so that
 * neighbours drop a stale MAC for it at once.
 */
int vip_take(int ifindex, const struct pgxr_addr *vip, int count, int interval_ms)
{
	char text[ADDR_STRLEN];
	int ret = vip_add(ifindex, vip);

	addr_format(vip, text, sizeof(text));
	if (ret) {
		log_error("could not add the VIP %s: %s", text, strerror(-ret));
		return ret;
	}
	vip_owned.ifindex = ifindex;
	vip_owned.addr = *vip;
	vip_owned.held = true;
	vip_owned.left = count;
	vip_owned.interval_ms = interval_ms;
	vip_owned.next_ms = 0;
	log_info("holding the VIP %s; announcing it %d time(s)", text, count);
	vip_maintain(NULL);
	return 0;
}

/* per-tick hook: the next announcement when it is due */
void vip_maintain(void *arg)
{
	long long now = vip_now_ms();
	int ret;

	(void)arg;
	if (!vip_owned.held || vip_owned.left <= 0 || now < vip_owned.next_ms)
		return;
	ret = vip_announce(vip_owned.ifindex, &vip_owned.addr);
	if (ret)
		log_warning("could not announce the VIP: %s", strerror(-ret));
	vip_owned.left--;
	vip_owned.next_ms = now + vip_owned.interval_ms;
}

void vip_release(void)
{
	char text[ADDR_STRLEN];
	int ret;

	if (!vip_owned.held)
		return;
	vip_owned.held = false;
	addr_format(&vip_owned.addr, text, sizeof(text));
	ret = vip_del(vip_owned.ifindex, &vip_owned.addr);
	if (ret)
		log_warning("could not remove the VIP %s: %s", text, strerror(-ret));
	else
		log_info("released the VIP %s", text);
}
