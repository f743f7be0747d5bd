/* test_node.c: the node store keeps "at most one routed primary", in memory and in the maps */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* the store and what it needs are pgxrd modules, not among the shared objects */
#include "../../userspace/event.c"
#include "../../userspace/evloop.c"
#include "../../userspace/node.c"
#include "../../userspace/reset.c"
#include "pgxr_xdp.skel.h"
#include "tap.h"

#define RW_SVC 0
#define RO_SVC 1

/* the loaded program's (unpinned) maps and the configuration of three nodes */
static struct pgxr_xdp_bpf *skel;
static struct dataplane dp;
static struct pgxr_config cfg;

static int add_service(int port, __u32 id, __u8 kind)
{
	struct pgxr_svc_key k = { .port = htons(port), .family = PGXR_FAMILY_V4,
				  .proto = IPPROTO_TCP };
	struct pgxr_svc v = { .id = id, .kind = kind };

	k.addr[0] = inet_addr("10.0.0.100");
	return bpf_map_update_elem(dp.fd[DP_SERVICES], &k, &v, BPF_ANY);
}

/* every slot of svc's ring holds want (PGXR_NO_BACKEND for an empty ring) */
static int ring_is(__u32 svc, __u32 want)
{
	static __u32 ring[PGXR_RING_SIZE];

	if (dataplane_read_ring(&dp, svc, ring))
		return 0;
	for (int i = 0; i < PGXR_RING_SIZE; i++)
		if (ring[i] != want)
			return 0;
	return 1;
}

/* the backends map routes exactly one primary, and it is id */
static int map_primary_is(int id)
{
	struct pgxr_backend be[PGXR_MAX_BACKENDS];

	if (dataplane_read_backends(&dp, be) || dataplane_routed_primaries(be) != 1)
		return 0;
	return be[id].state == PGXR_BE_UP && be[id].role == PGXR_ROLE_PRIMARY;
}

static int setup(void)
{
	skel = pgxr_xdp_bpf__open_and_load();
	if (!skel)
		return -1;
	for (int i = 0; i < DP_NMAPS; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(skel->obj, dataplane_map_names[i]);

		if (!m)
			return -1;
		dp.fd[i] = bpf_map__fd(m);
	}
	if (add_service(5432, RW_SVC, PGXR_SVC_RW) || add_service(5433, RO_SVC, PGXR_SVC_RO))
		return -1;
	for (int i = 0; i < 3; i++) {
		struct cfg_backend *b = &cfg.backends[i];

		b->configured = true;
		b->addr.family = PGXR_FAMILY_V4;
		b->addr.a[0] = htonl(0x0a000014 + i);	/* 10.0.0.20 + i: not this host's */
		b->port = 5432;
		b->weight = 1;
	}
	cfg.nbackends = 3;
	if (node_init(&cfg, &dp))
		return -1;
	for (int i = 0; i < 3; i++) {
		static const __u8 mac[6] = { 2, 0, 0, 0, 0, 1 };

		node_set_mac(node_get(i), mac);
	}
	node_set_started();
	return 0;
}

static int t_one_primary(void)
{
	CHECK(!node_apply(node_get(0), PGXR_BE_UP, PGXR_ROLE_PRIMARY, "test"), "route node 0");
	CHECK(!node_apply(node_get(1), PGXR_BE_UP, PGXR_ROLE_STANDBY, "test"), "node 1 standby");
	CHECK(!node_apply(node_get(2), PGXR_BE_UP, PGXR_ROLE_STANDBY, "test"), "node 2 standby");
	CHECK(node_primary() == 0, "node_primary() is %d", node_primary());
	CHECK(map_primary_is(0) && ring_is(RW_SVC, 0), "node 0 is not the one routed primary");
	/* a second routed primary is refused, and nothing changes */
	CHECK(node_apply(node_get(1), PGXR_BE_UP, PGXR_ROLE_PRIMARY, "test") == -EEXIST,
	      "a second routed primary was accepted");
	CHECK(node_get(1)->role == PGXR_ROLE_STANDBY && node_get(1)->state == PGXR_BE_UP,
	      "the refused change was applied in memory");
	CHECK(map_primary_is(0) && ring_is(RW_SVC, 0), "the refused change reached the maps");
	return 0;
}

/*
 * A rogue primary with a lower id than the routed one: its role and its
 * fence are one write, so the rw ring never holds it and the backends map
 * never shows two primaries up.
 */
static int t_rogue_lower_id(void)
{
	CHECK(!node_apply(node_get(0), PGXR_BE_DOWN, PGXR_ROLE_PRIMARY, "test"), "node 0 out");
	CHECK(ring_is(RW_SVC, PGXR_NO_BACKEND), "rw ring not empty with no primary up");
	CHECK(!node_apply(node_get(2), PGXR_BE_UP, PGXR_ROLE_PRIMARY, "test"), "route node 2");
	CHECK(!node_apply(node_get(0), PGXR_BE_UP, PGXR_ROLE_STANDBY, "test"), "node 0 standby");
	CHECK(map_primary_is(2) && ring_is(RW_SVC, 2), "node 2 is not the routed primary");
	CHECK(!node_apply(node_get(0), PGXR_BE_FENCED, PGXR_ROLE_PRIMARY, "test"), "fence node 0");
	CHECK(map_primary_is(2) && ring_is(RW_SVC, 2), "the rogue node 0 reached the rw ring");
	CHECK(ring_is(RO_SVC, 1), "the fenced node is still in the ro ring");
	return 0;
}

/* whoever writes the map (pgxrctl backend set, say), two primaries up are refused */
static int t_map_guard(void)
{
	struct pgxr_backend be[PGXR_MAX_BACKENDS], two;

	CHECK(!dataplane_read_backends(&dp, be), "read backends");
	two = be[1];
	two.role = PGXR_ROLE_PRIMARY;
	two.state = PGXR_BE_UP;
	CHECK(dataplane_set_backend(&dp, 1, &two) == -EEXIST, "a second primary up was written");
	CHECK(map_primary_is(2) && ring_is(RW_SVC, 2), "the map changed");
	memset(be, 0, sizeof(be));
	be[3].state = be[7].state = PGXR_BE_UP;
	be[3].role = be[7].role = PGXR_ROLE_PRIMARY;
	CHECK(dataplane_routed_primaries(be) == 2, "two not counted");
	be[7].state = PGXR_BE_FENCED;
	CHECK(dataplane_routed_primaries(be) == 1, "a fenced primary counted as routed");
	return 0;
}

/* a flow of a client on loopback (this test's own network namespace) to the VIP */
static int add_flow(__u32 client, __u16 port, __u32 backend, __u32 ack, __u32 seq_end)
{
	struct pgxr_flow_key k = { .sport = htons(port), .dport = htons(5432),
				   .family = PGXR_FAMILY_V4 };
	struct pgxr_flow v = { .backend = backend, .svc = RW_SVC, .ack = ack, .seq_end = seq_end };

	k.src[0] = htonl(client);
	k.dst[0] = htonl(0x7f000001);
	return bpf_map_update_elem(dp.fd[DP_FLOWS], &k, &v, BPF_ANY);
}

static int flows_of(__u32 backend)
{
	struct pgxr_flow_key k, *prev = NULL;
	struct pgxr_flow v;
	int n = 0;

	while (!bpf_map_get_next_key(dp.fd[DP_FLOWS], prev, &k)) {
		prev = &k;
		if (!bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &v) && v.backend == backend)
			n++;
	}
	return n;
}

/* the ro ring's hysteresis: out at once, back after checks in a row within the thresholds */
static int t_lag_hysteresis(void)
{
	struct node n = { .id = 1 };
	const bool checks[] = { false, true, false, false, true, false, false, false, false };
	const bool want[] = { false, true, true, true, true, true, true, false, false };

	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		n.lagging = node_lag_next(&n, checks[i], 3, 1000 * (long long)i, 500);
		CHECK(n.lagging == want[i], "check %zu (over: %d): lagging %d, expected %d", i, checks[i],
		      n.lagging, want[i]);
	}
	n.lagging = true;
	n.lag_ok = 0;
	CHECK(!node_lag_next(&n, false, 1, 20000, 500), "with 1 check it returns at the first within the thresholds");
	/* checks forced back to back count once per half period */
	n.lagging = true;
	n.lag_ok = 0;
	for (int i = 0; i < 5; i++)
		n.lagging = node_lag_next(&n, false, 3, 30000 + i, 500);
	CHECK(n.lagging && n.lag_ok == 1, "back-to-back checks counted %d times", n.lag_ok);
	n.lagging = node_lag_next(&n, false, 3, 30600, 500);
	n.lagging = node_lag_next(&n, false, 3, 31200, 500);
	CHECK(!n.lagging, "three checks half a period apart did not bring it back");
	return 0;
}

/*
 * A node that leaves routing: each of its clients gets a RST from the VIP
 * that it accepts (its sequence number is what the client last
 * acknowledged), valid checksums, and its flows are gone; other nodes'
 * flows stay.
 */
static int t_leaving_resets(void)
{
	struct { struct iphdr ip; struct tcphdr tcp; } pkt;
	int sk = socket(AF_INET, SOCK_RAW, IPPROTO_TCP), got = 0, sum_ok = 0;
	struct timeval tv = { .tv_sec = 1 };
	__u32 seqs[2] = { 0 };

	CHECK(sk >= 0, "raw socket: %s", strerror(errno));
	setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	CHECK(!add_flow(0x7f000002, 40001, 1, 111111, 5000) &&
	      !add_flow(0x7f000003, 40002, 1, 0, 7001) && !add_flow(0x7f000004, 40003, 2, 1, 1),
	      "flows not added");
	CHECK(!node_apply(node_get(1), PGXR_BE_DOWN, PGXR_ROLE_STANDBY, "test"), "node 1 down");
	CHECK(flows_of(1) == 0 && flows_of(2) == 1, "flows left: node 1 %d, node 2 %d", flows_of(1),
	      flows_of(2));
	while (got < 2 && recv(sk, &pkt, sizeof(pkt), 0) == sizeof(pkt)) {
		__u32 s = reset_sum(0, &pkt.ip.saddr, 8) + htons(IPPROTO_TCP) + htons(sizeof(pkt.tcp));

		if (pkt.ip.saddr != htonl(0x7f000001) || !pkt.tcp.rst || pkt.tcp.source != htons(5432))
			continue;
		sum_ok += reset_fold(reset_sum(s, &pkt.tcp, sizeof(pkt.tcp))) == 0;
		seqs[got++] = pkt.ip.daddr == htonl(0x7f000002) ? ntohl(pkt.tcp.seq) :
								   ntohl(pkt.tcp.ack_seq) + 0x80000000u * pkt.tcp.ack;
	}
	close(sk);
	CHECK(got == 2, "%d RSTs seen, expected 2", got);
	CHECK(sum_ok == 2, "%d RSTs with a bad TCP checksum", 2 - sum_ok);
	CHECK((seqs[0] == 111111 && seqs[1] == 7001 + 0x80000000u) ||
	      (seqs[1] == 111111 && seqs[0] == 7001 + 0x80000000u),
	      "RST sequence numbers %u %u: want the client's last ACK, or RST+ACK of its SYN",
	      seqs[0], seqs[1]);
	return 0;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("ok - node store tests # SKIP need root to load BPF maps\n");
		return 0;
	}
	log_init("test_node", 0);
	/* a network namespace of its own: the RSTs go to loopback clients, captured here */
	if (unshare(CLONE_NEWNET) || system("ip link set lo up")) {
		printf("not ok - node setup: could not make a network namespace\n");
		return 1;
	}
	if (setup()) {
		printf("not ok - node setup: could not load the maps: %s\n", strerror(errno));
		return 1;
	}
	tap_run("node: one routed primary; a second is refused and changes nothing", t_one_primary);
	tap_run("node: a rogue primary of lower id never reaches the rw ring", t_rogue_lower_id);
	tap_run("dataplane: a write leaving two primaries up is refused", t_map_guard);
	tap_run("node: a node leaving routing gets its clients reset at once", t_leaving_resets);
	tap_run("node: a lagging standby leaves at once, returns after checks in a row within the thresholds", t_lag_hysteresis);
	pgxr_xdp_bpf__destroy(skel);
	return tap_done();
}
