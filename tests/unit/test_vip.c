/* test_vip.c: VIP add, remove, check and the bytes it announces, in a private network namespace */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* vip.c is not among the shared objects the tests link with */
#include "../../userspace/vip.c"
#include "tap.h"

#define V4 "10.99.0.100"
#define V6 "fd99::100"
/* an ifindex no namespace of ours will reach */
#define NO_IFINDEX 999999
/* how long a capture waits for the frame it wants */
#define CAPTURE_MS 2000

static const __u8 mac0[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x0a, 0x01 };
static int if0, if1;
static struct pgxr_addr vip4, vip6;

static __attribute__((format(printf, 1, 2))) int sh(const char *fmt, ...)
{
	char cmd[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* the output of a command, NUL-terminated and cut at len - 1 */
static int sh_out(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	return pclose(f) == 0 ? 0 : -1;
}

/* /proc/sys/net is that of the namespace the writer is in */
static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fputs(text, f) < 0 ? -1 : 0;
	if (fclose(f))
		ret = -1;
	return ret;
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* a packet socket on ifindex for one ethertype, opened before anything is sent */
static int capture_open(int ifindex, int proto)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(proto),
		.sll_ifindex = ifindex,
	};
	struct timeval tv = { .tv_usec = 100000 };
	int fd;

	/* protocol 0 until bound, or frames of every interface slip in */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* next frame arriving from the peer, 0 once the deadline has passed */
static int capture_next(int fd, __u8 *buf, size_t len, long deadline)
{
	struct sockaddr_ll from;
	socklen_t fromlen;
	ssize_t n;

	while (now_ms() < deadline) {
		fromlen = sizeof(from);
		n = recvfrom(fd, buf, len, 0, (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			continue;
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		return n;
	}
	return 0;
}

static int t_setup(void)
{
	char out[4096];
	long deadline;

	CHECK(!addr_parse(V4, &vip4) && !addr_parse(V6, &vip6), "cannot parse the test addresses");
	CHECK(!sh("ip link set lo up"), "ip link set lo up failed");
	CHECK(!sh("ip link add vip0 type veth peer name vip1"), "cannot create the veth pair");
	CHECK(!sh("ip link set vip0 address 02:00:00:00:0a:01"), "cannot set the MAC of vip0");
	/*
	 * A usable link-local at once: the kernel would prefer it as the
	 * source towards ff02::1, so an announcement not bound to the VIP
	 * shows in the captured source address.
	 */
	CHECK(!write_file("/proc/sys/net/ipv6/conf/vip0/accept_dad", "0"), "cannot turn DAD off on vip0");
	CHECK(!sh("ip link set vip0 up && ip link set vip1 up"), "cannot bring the veth pair up");
	if0 = if_nametoindex("vip0");
	if1 = if_nametoindex("vip1");
	CHECK(if0 > 0 && if1 > 0, "veth pair has no ifindex");
	/* IPv6 comes up with the carrier, a moment later: until then ff02::1 has no route */
	deadline = now_ms() + 5000;
	for (;;) {
		if (!sh_out("ip -6 route show table local dev vip0", out, sizeof(out)) &&
		    strstr(out, "ff00::/8") &&
		    !sh_out("ip -6 addr show dev vip0 scope link", out, sizeof(out)) &&
		    strstr(out, "fe80::") && !strstr(out, "tentative"))
			break;
		CHECK(now_ms() < deadline, "IPv6 never came up on vip0");
		usleep(20000);
	}
	return 0;
}

static int t_add4(void)
{
	char out[4096];

	CHECK(vip_present(if0, &vip4) == 0, "present before it was added");
	CHECK(vip_add(if0, &vip4) == 0, "vip_add failed");
	CHECK(vip_present(if0, &vip4) == 1, "not present after vip_add");
	CHECK(vip_present(if1, &vip4) == 0, "present on the other interface");
	CHECK(!sh_out("ip -4 addr show dev vip0", out, sizeof(out)), "ip addr show failed");
	CHECK(strstr(out, "inet " V4 "/32 "), "not a /32 with scope global: %s", out);
	CHECK(strstr(out, "scope global"), "not scope global: %s", out);
	CHECK(vip_add(if0, &vip4) == 0, "a second vip_add failed");
	CHECK(!sh_out("ip -4 addr show dev vip0", out, sizeof(out)), "ip addr show failed");
	CHECK(count_of(out, V4 "/") == 1, "address there twice: %s", out);
	return 0;
}

static int t_del4(void)
{
	char out[4096];
	int ret;

	CHECK((ret = vip_del(if0, &vip4)) == 0, "vip_del: %s", strerror(-ret));
	CHECK(vip_present(if0, &vip4) == 0, "present after vip_del");
	CHECK(!sh_out("ip -4 addr show dev vip0", out, sizeof(out)), "ip addr show failed");
	CHECK(!strstr(out, V4), "still listed: %s", out);
	CHECK((ret = vip_del(if0, &vip4)) == 0, "second vip_del: %s", strerror(-ret));
	return 0;
}

static int t_v6(void)
{
	char out[4096], *line, *end;
	int ret;

	CHECK(vip_present(if0, &vip6) == 0, "present before it was added");
	CHECK((ret = vip_add(if0, &vip6)) == 0, "vip_add: %s", strerror(-ret));
	CHECK(vip_present(if0, &vip6) == 1, "not present after vip_add");
	CHECK(vip_present(if0, &vip4) == 0, "the IPv4 VIP is present");
	CHECK(vip_add(if0, &vip6) == 0, "a second vip_add failed");
	CHECK(!sh_out("ip -6 addr show dev vip0", out, sizeof(out)), "ip addr show failed");
	line = strstr(out, "inet6 " V6 "/128 ");
	CHECK(line, "no " V6 "/128: %s", out);
	end = strchr(line, '\n');
	if (end)
		*end = '\0';
	CHECK(strstr(line, "scope global"), "not scope global: %s", line);
	CHECK(!strstr(line, "tentative") && !strstr(line, "dadfailed"), "not usable: %s", line);
	CHECK((ret = vip_del(if0, &vip6)) == 0, "vip_del: %s", strerror(-ret));
	CHECK(vip_present(if0, &vip6) == 0, "present after vip_del");
	CHECK((ret = vip_del(if0, &vip6)) == 0, "second vip_del: %s", strerror(-ret));
	return 0;
}

static int t_garp(void)
{
	static const __u8 bcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const __u8 zero[ETH_ALEN] = {};
	__u8 f[2048], *arp = f + 14;
	long deadline;
	int fd, n, ret;

	CHECK(vip_add(if0, &vip4) == 0, "vip_add failed");
	fd = capture_open(if1, ETH_P_ARP);
	CHECK(fd >= 0, "cannot capture on vip1: %s", strerror(errno));
	ret = vip_announce(if0, &vip4);
	deadline = now_ms() + CAPTURE_MS;
	while ((n = capture_next(fd, f, sizeof(f), deadline)) > 0)
		if (n >= 14 + 28 && !memcmp(arp + 14, vip4.a, 4))
			break;
	close(fd);
	vip_del(if0, &vip4);
	CHECK(ret == 0, "vip_announce: %s", strerror(-ret));
	CHECK(n > 0, "no ARP announcement seen on vip1");
	CHECK(!memcmp(f, bcast, ETH_ALEN), "destination MAC not broadcast");
	CHECK(!memcmp(f + 6, mac0, ETH_ALEN), "source MAC not vip0's");
	CHECK(f[12] == 0x08 && f[13] == 0x06, "ethertype %02x%02x", f[12], f[13]);
	CHECK(arp[0] == 0 && arp[1] == 1, "htype %u", arp[0] << 8 | arp[1]);
	CHECK(arp[2] == 0x08 && arp[3] == 0x00, "ptype %04x", arp[2] << 8 | arp[3]);
	CHECK(arp[4] == 6 && arp[5] == 4, "hlen %u plen %u", arp[4], arp[5]);
	CHECK(arp[6] == 0 && arp[7] == 1, "op %u, want 1 (request)", arp[6] << 8 | arp[7]);
	CHECK(!memcmp(arp + 8, mac0, ETH_ALEN), "sender MAC not vip0's");
	CHECK(!memcmp(arp + 14, vip4.a, 4), "sender IP not the VIP");
	CHECK(!memcmp(arp + 18, zero, ETH_ALEN), "target MAC not zero");
	CHECK(!memcmp(arp + 24, vip4.a, 4), "target IP not the VIP");
	return 0;
}

/* RFC 4443 2.3 checksum over the pseudo-header and the message: 0 when right */
static __u16 icmp6_verify(const __u8 *ip6, const __u8 *msg, unsigned int len)
{
	__u32 sum = 0;
	unsigned int i;

	for (i = 8; i < 40; i += 2)
		sum += ip6[i] << 8 | ip6[i + 1];
	sum += len >> 16;
	sum += len & 0xffff;
	sum += IPPROTO_ICMPV6;
	for (i = 0; i + 1 < len; i += 2)
		sum += msg[i] << 8 | msg[i + 1];
	if (len & 1)
		sum += msg[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

static int t_na(void)
{
	static const __u8 mcast[ETH_ALEN] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
	static const __u8 all_nodes[16] = { 0xff, 0x02, [15] = 0x01 };
	__u8 f[2048], *ip6 = f + 14, *icmp = f + 54;
	unsigned int plen = 0;
	long deadline;
	int fd, n, ret;

	CHECK((ret = vip_add(if0, &vip6)) == 0, "vip_add: %s", strerror(-ret));
	fd = capture_open(if1, ETH_P_IPV6);
	CHECK(fd >= 0, "cannot capture on vip1: %s", strerror(errno));
	ret = vip_announce(if0, &vip6);
	deadline = now_ms() + CAPTURE_MS;
	/* MLD reports, router solicitations and DAD of the link-local pass by too */
	while ((n = capture_next(fd, f, sizeof(f), deadline)) > 0) {
		if (n < 54 + 24 || ip6[6] != IPPROTO_ICMPV6 || icmp[0] != ND_NEIGHBOR_ADVERT ||
		    memcmp(icmp + 8, vip6.a, 16))
			continue;
		plen = ip6[4] << 8 | ip6[5];
		break;
	}
	close(fd);
	vip_del(if0, &vip6);
	CHECK(ret == 0, "vip_announce: %s", strerror(-ret));
	CHECK(n > 0, "no neighbour advertisement seen on vip1");
	CHECK(!memcmp(f, mcast, ETH_ALEN), "destination MAC not 33:33:00:00:00:01");
	CHECK(!memcmp(f + 6, mac0, ETH_ALEN), "source MAC not vip0's");
	CHECK(f[12] == 0x86 && f[13] == 0xdd, "ethertype %02x%02x", f[12], f[13]);
	CHECK(plen == 32 && (unsigned int)n >= 54 + plen, "payload length %u, frame %d", plen, n);
	CHECK(ip6[7] == 255, "hop limit %u", ip6[7]);
	CHECK(!memcmp(ip6 + 8, vip6.a, 16), "source not the VIP");
	CHECK(!memcmp(ip6 + 24, all_nodes, 16), "destination not ff02::1");
	CHECK(icmp[0] == 136 && icmp[1] == 0, "type %u code %u", icmp[0], icmp[1]);
	CHECK(icmp[4] == 0x20, "flags %02x, want O only", icmp[4]);
	CHECK(!icmp[5] && !icmp[6] && !icmp[7], "reserved bits set");
	CHECK(!memcmp(icmp + 8, vip6.a, 16), "target not the VIP");
	CHECK(icmp[24] == 2 && icmp[25] == 1, "option type %u len %u", icmp[24], icmp[25]);
	CHECK(!memcmp(icmp + 26, mac0, ETH_ALEN), "target link-layer address not vip0's");
	CHECK(icmp6_verify(ip6, icmp, plen) == 0, "ICMPv6 checksum wrong");
	return 0;
}

static int t_errors(void)
{
	struct pgxr_addr bad = { .family = 5 };
	int ret;

	CHECK((ret = vip_add(NO_IFINDEX, &vip4)) < 0, "IPv4 add on no interface: %d", ret);
	CHECK((ret = vip_add(NO_IFINDEX, &vip6)) < 0, "IPv6 add on no interface: %d", ret);
	CHECK((ret = vip_del(NO_IFINDEX, &vip4)) < 0, "del on no interface: %d", ret);
	CHECK((ret = vip_present(NO_IFINDEX, &vip4)) < 0, "present on no interface: %d", ret);
	CHECK((ret = vip_announce(NO_IFINDEX, &vip4)) < 0, "IPv4 announce on no interface: %d", ret);
	CHECK((ret = vip_announce(NO_IFINDEX, &vip6)) < 0, "IPv6 announce on no interface: %d", ret);
	CHECK(vip_add(if0, &bad) == -EAFNOSUPPORT, "unknown family accepted");
	CHECK(vip_announce(if0, &bad) == -EAFNOSUPPORT, "unknown family announced");
	/* loopback has no Ethernet address to announce */
	CHECK(vip_announce(if_nametoindex("lo"), &vip4) == -EOPNOTSUPP, "announced on lo");
	/* nothing to bind to: the address was never added */
	CHECK(vip_announce(if0, &vip6) == -EADDRNOTAVAIL, "announced an IPv6 VIP not on the host");
	return 0;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("ok - vip tests # SKIP need root for network namespaces\n");
		return 0;
	}
	/* the namespace dies with this process: nothing to clean up, the host untouched */
	if (unshare(CLONE_NEWNET) < 0) {
		printf("ok - vip tests # SKIP cannot create a network namespace: %s\n", strerror(errno));
		return 0;
	}
	tap_run("vip: namespace with a veth pair", t_setup);
	if (tap_failed)
		return tap_done();
	tap_run("vip: IPv4 add is a /32, idempotent", t_add4);
	tap_run("vip: IPv4 del, idempotent", t_del4);
	tap_run("vip: IPv6 add is a /128 not tentative, del", t_v6);
	tap_run("vip: gratuitous ARP request bytes", t_garp);
	tap_run("vip: unsolicited neighbour advertisement bytes", t_na);
	tap_run("vip: errors are negative errno values", t_errors);
	return tap_done();
}
