/* test_xdp.c: packet fixtures through the real XDP program with bpf_prog_test_run_opts */
#include <arpa/inet.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane.h"
#include "maglev.h"
#include "pgxr_decap.h"
#include "pgxr_decap.skel.h"
#include "pgxr_xdp.skel.h"
#include "pkt.h"
#include "tap.h"

#define VIP4 "10.0.0.100"
#define VIP6 "fd00::100"
#define CLI4 "10.0.0.10"
#define CLI6 "fd00::10"
#define RW 5432
#define RO 5433
#define PROXY 9999

enum { SVC_RW4, SVC_RO4, SVC_PROXY4, SVC_RW6, SVC_RO6 };

static const __u8 router_mac[6] = { 2, 0, 0, 0, 0, 1 };
static const __u8 client_mac[6] = { 2, 0, 0, 0, 0, 0xa };

/* the loaded program and its (unpinned) maps, shared by every test */
static struct pgxr_xdp_bpf *skel;
static struct dataplane dp;
static int prog_fd;

static void backend_mac(int id, __u8 mac[6])
{
	const __u8 m[6] = { 2, 0, 0, 0, 1, (__u8)(0x20 + id) };

	memcpy(mac, m, 6);
}

static struct pkt_spec base(int family, __u16 dport, __u8 flags)
{
	struct pkt_spec s = {
		.family = family,
		.src = family == 4 ? CLI4 : CLI6,
		.dst = family == 4 ? VIP4 : VIP6,
		.sport = 40000,
		.dport = dport,
		.flags = flags,
		.seq = 1000,
		.ack = flags & TH_ACK ? 5000 : 0,
		.window = 64240,
	};

	memcpy(s.smac, client_mac, 6);
	memcpy(s.dmac, router_mac, 6);
	return s;
}

static void flow_key(const struct pkt_spec *s, struct pgxr_flow_key *k)
{
	int af = s->family == 4 ? AF_INET : AF_INET6;

	memset(k, 0, sizeof(*k));
	inet_pton(af, s->src, k->src);
	inet_pton(af, s->dst, k->dst);
	k->sport = htons(s->sport);
	k->dport = htons(s->dport);
	k->family = s->family;
}

static int add_service(int family, const char *vip, __u16 port, __u32 id, __u8 kind)
{
	struct pgxr_svc_key k = { .port = htons(port), .family = family, .proto = 6 };
	struct pgxr_svc v = { .id = id, .kind = kind };

	inet_pton(family == 4 ? AF_INET : AF_INET6, vip, k.addr);
	return bpf_map_update_elem(dp.fd[DP_SERVICES], &k, &v, BPF_ANY);
}

static int set_backend(__u32 id, int family, const char *addr, __u8 role, __u8 state,
		       __u32 weight)
{
	struct pgxr_backend b = { .family = family, .role = role, .state = state,
				  .weight = weight, .port = 5432 };

	inet_pton(family == 4 ? AF_INET : AF_INET6, addr, b.addr);
	backend_mac(id, b.mac);
	return bpf_map_update_elem(dp.fd[DP_BACKENDS], &id, &b, BPF_ANY);
}

static int patch_backend(__u32 id, __u8 state, __u8 flags, int clear_mac)
{
	struct pgxr_backend b;

	if (bpf_map_lookup_elem(dp.fd[DP_BACKENDS], &id, &b))
		return -errno;
	b.state = state;
	b.flags = flags;
	if (clear_mac)
		memset(b.mac, 0, 6);
	else
		backend_mac(id, b.mac);
	return bpf_map_update_elem(dp.fd[DP_BACKENDS], &id, &b, BPF_ANY);
}

/* a ring over the given members, swapped in as pgxrd does it */
static int set_ring(__u32 svc, const __u32 *ids, const __u32 *weights, int n)
{
	struct maglev_member m[PGXR_MAX_BACKENDS];
	static __u32 ring[PGXR_RING_SIZE];

	for (int i = 0; i < n; i++) {
		m[i].id = ids[i];
		m[i].weight = weights ? weights[i] : 1000;
	}
	if (maglev_build(m, n, ring, PGXR_RING_SIZE))
		return -1;
	return dataplane_swap_ring(&dp, svc, ring);
}

static void reset_fixture(void)
{
	const __u32 ro4[] = { 1, 2 }, rw4[] = { 0 }, rw6[] = { 3 }, ro6[] = { 4 };

	set_backend(0, 4, "10.0.0.20", PGXR_ROLE_PRIMARY, PGXR_BE_UP, 1000);
	set_backend(1, 4, "10.0.0.21", PGXR_ROLE_STANDBY, PGXR_BE_UP, 1000);
	set_backend(2, 4, "10.0.0.22", PGXR_ROLE_STANDBY, PGXR_BE_UP, 1000);
	set_backend(3, 6, "fd00::20", PGXR_ROLE_PRIMARY, PGXR_BE_UP, 1000);
	set_backend(4, 6, "fd00::21", PGXR_ROLE_STANDBY, PGXR_BE_UP, 1000);
	set_ring(SVC_RW4, rw4, NULL, 1);
	set_ring(SVC_RO4, ro4, NULL, 2);
	set_ring(SVC_RW6, rw6, NULL, 1);
	set_ring(SVC_RO6, ro6, NULL, 1);
}

struct result {
	__u32 action;
	__u32 len;
	__u8 out[2048];
};

/* in through the program fd once: its action and output frame */
static int run_prog(int fd, const __u8 *in, int len, struct result *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = in,
		.data_size_in = len,
		.data_out = r->out,
		.data_size_out = sizeof(r->out),
		.repeat = 1,
	);

	if (bpf_prog_test_run_opts(fd, &o))
		return -errno;
	r->action = o.retval;
	r->len = o.data_size_out;
	return 0;
}

static int run(const __u8 *in, int len, struct result *r)
{
	return run_prog(prog_fd, in, len, r);
}

static __u64 verdicts(__u32 v)
{
	struct pgxr_counters c;

	return dataplane_counters(&dp, DP_VERDICT_STATS, v, &c, NULL) ? ~0ULL : c.packets;
}

/*
 * Runs one fixture and checks the action, the single verdict counted and,
 * when want is given, the exact output bytes; without want the output must
 * equal the input (a passed packet is untouched).
 */
static int expect(const __u8 *in, int len, __u32 action, __u32 verdict,
		  const __u8 *want, int want_len, struct result *r)
{
	__u64 before[PGXR_V_MAX];

	for (__u32 v = 0; v < PGXR_V_MAX; v++)
		before[v] = verdicts(v);
	CHECK(!run(in, len, r), "prog_test_run failed: %s", strerror(errno));
	CHECK(r->action == action, "action %u, expected %u", r->action, action);
	for (__u32 v = 0; v < PGXR_V_MAX; v++) {
		__u64 d = verdicts(v) - before[v];

		CHECK(d == (v == verdict), "verdict %s counted %llu times, expected %s",
		      dataplane_verdict_name(v), (unsigned long long)d,
		      v == verdict ? "once" : "never");
	}
	if (!want) {
		want = in;
		want_len = len;
	}
	if (r->len != (__u32)want_len || memcmp(r->out, want, want_len)) {
		pkt_hexdump("got", r->out, r->len);
		pkt_hexdump("expected", want, want_len);
		CHECK(0, "output packet differs from the fixture");
	}
	return 0;
}

/* the input with only the MACs rewritten for DSR to backend id, counted as verdict */
static int expect_tx_as(const __u8 *in, int len, int id, __u32 verdict, struct result *r)
{
	__u8 want[2048];

	memcpy(want, in, len);
	backend_mac(id, want);
	memcpy(want + 6, router_mac, 6);
	return expect(in, len, XDP_TX, verdict, want, len, r);
}

static int expect_tx(const __u8 *in, int len, int id, struct result *r)
{
	return expect_tx_as(in, len, id, PGXR_V_TX, r);
}

static int backend_of(const struct result *r)
{
	if (r->out[0] != 2 || r->out[4] != 1)
		return -1;
	return r->out[5] - 0x20;
}

/* a SYN from sport opens a flow (s becomes that SYN): the backend it went to, or -1 */
static int syn_open(struct pkt_spec *s, __u16 sport)
{
	struct result r;
	__u8 in[256];
	int len;

	s->flags = TH_SYN;
	s->sport = sport;
	len = pkt_build(s, in, sizeof(in));
	if (run(in, len, &r) || r.action != XDP_TX)
		return -1;
	return backend_of(&r);
}

static int t_syn_rw_v4(void)
{
	struct pkt_spec s = base(4, RW, TH_SYN);
	struct pgxr_flow_key k;
	struct pgxr_counters c0, c1;
	struct pgxr_flow f;
	struct result r;
	__u8 in[256];
	int len = pkt_build(&s, in, sizeof(in));

	dataplane_counters(&dp, DP_BACKEND_STATS, 0, &c0, NULL);
	if (expect_tx(in, len, 0, &r))
		return -1;
	flow_key(&s, &k);
	CHECK(!bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f), "no flow recorded");
	CHECK(f.backend == 0 && f.svc == SVC_RW4, "flow -> backend %u svc %u", f.backend, f.svc);
	dataplane_counters(&dp, DP_BACKEND_STATS, 0, &c1, NULL);
	CHECK(c1.conns == c0.conns + 1 && c1.packets == c0.packets + 1 &&
	      c1.bytes == c0.bytes + (__u64)len, "backend counters not updated");
	return 0;
}

static int t_syn_ro_v4(void)
{
	struct pkt_spec s = base(4, RO, TH_SYN);
	struct pgxr_flow_key k;
	struct pgxr_flow f;
	struct result r;
	__u8 in[256];
	int len, id;

	s.sport = 40001;
	len = pkt_build(&s, in, sizeof(in));
	CHECK(!run(in, len, &r) && r.action == XDP_TX, "not forwarded");
	id = backend_of(&r);
	CHECK(id == 1 || id == 2, "ro SYN went to backend %d, not a standby", id);
	flow_key(&s, &k);
	CHECK(!bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f) && f.backend == (__u32)id,
	      "flow not recorded with the chosen standby");
	/* later segments of the session follow the flow */
	s.flags = TH_ACK | TH_PSH;
	s.ack = 1;
	s.payload = 100;
	len = pkt_build(&s, in, sizeof(in));
	return expect_tx(in, len, id, &r);
}

static int t_syn_rw_v6(void)
{
	struct pkt_spec s = base(6, RW, TH_SYN);
	struct result r;
	__u8 in[256];
	int len = pkt_build(&s, in, sizeof(in));

	return expect_tx(in, len, 3, &r);
}

static int t_vlan(void)
{
	struct pkt_spec s = base(4, RW, TH_SYN);
	struct result r;
	__u8 in[256];
	int len;

	s.vlan = 42;
	s.sport = 40002;
	len = pkt_build(&s, in, sizeof(in));
	if (expect_tx(in, len, 0, &r))
		return -1;
	CHECK(r.out[12] == 0x81 && r.out[13] == 0x00 && r.out[15] == 42, "VLAN tag lost");
	return 0;
}

static int t_tcp_and_ip_options(void)
{
	struct pkt_spec s = base(4, RW, TH_SYN);
	struct result r;
	__u8 in[256];
	int len;

	s.tcp_opts = 20;
	s.ip_opts = 8;
	s.sport = 40003;
	len = pkt_build(&s, in, sizeof(in));
	return expect_tx(in, len, 0, &r);
}

/* a non-SYN without a flow takes the same Maglev pick a SYN would have */
static int t_non_syn_miss(void)
{
	struct pkt_spec s = base(4, RO, TH_SYN);
	struct pgxr_flow_key k;
	struct pgxr_flow f;
	struct result r;
	__u8 in[256];
	int len, want;

	want = syn_open(&s, 40100);
	CHECK(want >= 0, "SYN not forwarded");
	flow_key(&s, &k);
	CHECK(!bpf_map_delete_elem(dp.fd[DP_FLOWS], &k), "flow not recorded");
	s.flags = TH_ACK;
	s.ack = 1;
	len = pkt_build(&s, in, sizeof(in));
	if (expect_tx(in, len, want, &r))
		return -1;
	CHECK(!bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f) && f.backend == (__u32)want,
	      "miss not recorded as a flow");
	return 0;
}

/* an existing flow wins over the ring: sessions keep their backend */
static int t_flow_hit_wins(void)
{
	struct pkt_spec s = base(4, RO, TH_ACK);
	struct pgxr_flow f = { .svc = SVC_RO4 };
	struct pgxr_flow_key k;
	struct result r;
	__u8 in[256];
	int len, picked;

	s.sport = 40200;
	len = pkt_build(&s, in, sizeof(in));
	CHECK(!run(in, len, &r) && r.action == XDP_TX, "not forwarded");
	picked = backend_of(&r);
	f.backend = picked == 1 ? 2 : 1;
	flow_key(&s, &k);
	CHECK(!bpf_map_update_elem(dp.fd[DP_FLOWS], &k, &f, BPF_ANY), "flow update failed");
	return expect_tx(in, len, f.backend, &r);
}

/* the backend's segment of the flow s, as the VIP sent it to the client: what a PTB quotes */
static struct pkt_spec reply_of(const struct pkt_spec *s)
{
	struct pkt_spec q = *s;

	q.src = s->dst;
	q.dst = s->src;
	q.sport = s->dport;
	q.dport = s->sport;
	q.flags = TH_ACK | TH_PSH;
	q.payload = 1400;
	q.frag_off = s->family == 4 ? 0x4000 : 0;	/* DF */
	return q;
}

/*
 * A path MTU error about a backend's segment goes to that backend, the
 * frame untouched but for its MACs: the flow table's backend first, the
 * ring's for an evicted flow; what quotes no flow of ours is the stack's
 */
static int t_icmp_ptb(void)
{
	struct pkt_spec s = base(4, RO, TH_SYN), q;
	struct pgxr_flow f = { .svc = SVC_RO4 };
	struct pgxr_counters b0, b1;
	struct pgxr_flow_key k;
	struct result r;
	__u8 in[2048];
	int len, picked, ret;

	picked = syn_open(&s, 40800);
	CHECK(picked == 1 || picked == 2, "the SYN was not forwarded to a standby");
	q = reply_of(&s);
	/* RFC 792's minimum quote: the IP header and 8 bytes */
	len = pkt_build_ptb(&q, "10.0.0.1", NULL, 1280, 28, in, sizeof(in));
	dataplane_counters(&dp, DP_BACKEND_STATS, picked, &b0, NULL);
	if (expect_tx_as(in, len, picked, PGXR_V_TX_ICMP, &r))
		return -1;
	dataplane_counters(&dp, DP_BACKEND_STATS, picked, &b1, NULL);
	CHECK(b1.packets == b0.packets + 1 && b1.conns == b0.conns, "the backend did not count the ICMP");
	/* the flow table's backend, not a fresh pick */
	f.backend = picked == 1 ? 2 : 1;
	flow_key(&s, &k);
	CHECK(!bpf_map_update_elem(dp.fd[DP_FLOWS], &k, &f, BPF_ANY), "flow update failed");
	/* Linux quotes as much as fits in 576 bytes */
	len = pkt_build_ptb(&q, "10.0.0.1", NULL, 1280, 548, in, sizeof(in));
	if (expect_tx_as(in, len, f.backend, PGXR_V_TX_ICMP, &r))
		return -1;
	/* evicted: the ring's pick, as the flow's next segment */
	bpf_map_delete_elem(dp.fd[DP_FLOWS], &k);
	if (expect_tx_as(in, len, picked, PGXR_V_TX_ICMP, &r))
		return -1;
	/* 802.1Q: the tag stays */
	s.vlan = 42;
	q = reply_of(&s);
	len = pkt_build_ptb(&q, "10.0.0.1", NULL, 1280, 28, in, sizeof(in));
	if (expect_tx_as(in, len, picked, PGXR_V_TX_ICMP, &r))
		return -1;
	/* rw over IPv6: ICMPv6 packet too big */
	s = base(6, RW, TH_SYN);
	CHECK(syn_open(&s, 40801) == 3, "the IPv6 SYN was not forwarded to the primary");
	q = reply_of(&s);
	len = pkt_build_ptb(&q, "fd00::1", NULL, 1280, 1232, in, sizeof(in));
	if (expect_tx_as(in, len, 3, PGXR_V_TX_ICMP, &r))
		return -1;
	/* the backend is down or its MAC unknown: nobody to tell */
	s = base(4, RW, TH_SYN);
	CHECK(syn_open(&s, 40802) == 0, "the SYN was not forwarded to the primary");
	q = reply_of(&s);
	len = pkt_build_ptb(&q, "10.0.0.1", NULL, 1280, 28, in, sizeof(in));
	patch_backend(0, PGXR_BE_DOWN, 0, 0);
	ret = expect(in, len, XDP_PASS, PGXR_V_PASS_NO_BACKEND, NULL, 0, &r);
	patch_backend(0, PGXR_BE_UP, 0, 1);
	ret = ret ?: expect(in, len, XDP_DROP, PGXR_V_DROP_NO_NEIGH, NULL, 0, &r);
	patch_backend(0, PGXR_BE_UP, PGXR_BE_F_LOCAL, 0);
	ret = ret ?: expect(in, len, XDP_PASS, PGXR_V_PASS_LOCAL, NULL, 0, &r);
	patch_backend(0, PGXR_BE_UP, 0, 0);
	if (ret)
		return -1;
	/* not ours: the proxy's (the stack's own socket), another port, other errors */
	s.dport = PROXY;
	q = reply_of(&s);
	len = pkt_build_ptb(&q, "10.0.0.1", NULL, 1280, 28, in, sizeof(in));
	if (expect(in, len, XDP_PASS, PGXR_V_PASS_PROXY, NULL, 0, &r))
		return -1;
	s.dport = 5555;
	q = reply_of(&s);
	len = pkt_build_ptb(&q, "10.0.0.1", NULL, 1280, 28, in, sizeof(in));
	if (expect(in, len, XDP_PASS, PGXR_V_PASS_OTHER, NULL, 0, &r))
		return -1;
	s.dport = RW;
	q = reply_of(&s);
	len = pkt_build_ptb(&q, "10.0.0.1", NULL, 1280, 28, in, sizeof(in));
	in[14 + 20 + 1] = 3;	/* port unreachable */
	if (expect(in, len, XDP_PASS, PGXR_V_PASS_OTHER, NULL, 0, &r))
		return -1;
	/* about the VIP's segment, but to the router's own address: not ours */
	len = pkt_build_ptb(&q, "10.0.0.1", "10.0.0.2", 1280, 28, in, sizeof(in));
	if (expect(in, len, XDP_PASS, PGXR_V_PASS_OTHER, NULL, 0, &r))
		return -1;
	/* a quote too short to hold the ports */
	q = reply_of(&s);
	len = pkt_build_ptb(&q, "10.0.0.1", NULL, 1280, 22, in, sizeof(in));
	return expect(in, len, XDP_PASS, PGXR_V_PASS_OTHER, NULL, 0, &r);
}

/* backend id as a routed one (on), IPIP from src through its next hop's MAC, backend_mac(id) */
static int set_ipip(__u32 id, const char *src, int on)
{
	struct pgxr_backend b;

	if (bpf_map_lookup_elem(dp.fd[DP_BACKENDS], &id, &b))
		return -errno;
	b.flags = on ? PGXR_BE_F_IPIP : 0;
	memset(b.tun_src, 0, sizeof(b.tun_src));
	if (on)
		inet_pton(b.family == 4 ? AF_INET : AF_INET6, src, b.tun_src);
	return bpf_map_update_elem(dp.fd[DP_BACKENDS], &id, &b, BPF_ANY);
}

/* in, forwarded to backend id in IPIP from src to dst (IPv6's flow label as the output has it) */
static int expect_ipip(const __u8 *in, int len, int id, const char *src, const char *dst,
		       __u32 verdict, struct result *r)
{
	int l2 = in[12] == 0x81 ? 18 : 14, want_len;
	__u8 want[2048], mac[6];
	__u32 label = 0;

	backend_mac(id, mac);
	if (!run(in, len, r) && r->len > (__u32)l2 + 4)
		label = (r->out[l2 + 1] & 0xf) << 16 | r->out[l2 + 2] << 8 | r->out[l2 + 3];
	want_len = pkt_encap(in, len, src, dst, mac, router_mac, label, want, sizeof(want));
	CHECK(want_len > 0, "pkt_encap failed");
	return expect(in, len, XDP_TX, verdict, want, want_len, r);
}

/* the client's segment s, too big for the tunnel: the ICMP error back to it, the flow unmoved */
static int expect_too_big(const struct pkt_spec *s, const char *vip, __u16 mtu, int quote)
{
	struct pkt_spec back = *s;
	struct pgxr_flow_key k;
	struct pgxr_flow f0, f1;
	struct result r;
	__u8 in[2048], want[256];
	int len, want_len;

	memcpy(back.smac, router_mac, 6);
	memcpy(back.dmac, client_mac, 6);
	len = pkt_build(s, in, sizeof(in));
	want_len = pkt_build_ptb(&back, vip, NULL, mtu, quote, want, sizeof(want));
	flow_key(s, &k);
	CHECK(!bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f0), "no flow for the segment");
	if (expect(in, len, XDP_TX, PGXR_V_TX_TOO_BIG, want, want_len, &r))
		return -1;
	CHECK(!bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f1) && !memcmp(&f0, &f1, sizeof(f0)),
	      "a segment not sent moved its flow");
	return 0;
}

/*
 * forwarding = ipip: a routed backend's packets leave in an outer header
 * to it, through its next hop; what would not fit the interface's MTU
 * (1500 here) gets the ICMP error back to its client instead
 */
static int t_ipip(void)
{
	struct pkt_spec s = base(4, RO, TH_SYN), q;
	struct result r;
	__u8 in[2048];
	int len, id, ret = -1;

	set_ipip(1, "10.0.0.2", 1);
	set_ipip(2, "10.0.0.2", 1);
	set_ipip(3, "fd00::2", 1);
	s.sport = 41000;
	s.tcp_opts = 8;
	len = pkt_build(&s, in, sizeof(in));
	if (run(in, len, &r) || r.action != XDP_TX || ((id = backend_of(&r)) != 1 && id != 2)) {
		printf("# the SYN was not forwarded to a standby\n");
		goto out;
	}
	if (expect_ipip(in, len, id, "10.0.0.2", id == 1 ? "10.0.0.21" : "10.0.0.22",
			PGXR_V_TX_IPIP, &r))
		goto out;
	/* 1480 bytes fit in 1500 with the outer header; 1481 do not */
	s.flags = TH_ACK | TH_PSH;
	s.seq = 1001;
	s.ack = 5000;
	s.payload = 1480 - 20 - 28;
	len = pkt_build(&s, in, sizeof(in));
	if (expect_ipip(in, len, id, "10.0.0.2", id == 1 ? "10.0.0.21" : "10.0.0.22",
			PGXR_V_TX_IPIP, &r))
		goto out;
	s.seq += s.payload;
	s.payload++;
	/* without DF its sender does no path MTU discovery: an ICMP would not help */
	len = pkt_build(&s, in, sizeof(in));
	if (expect(in, len, XDP_DROP, PGXR_V_DROP_ENCAP, NULL, 0, &r))
		goto out;
	s.frag_off = 0x4000;
	if (expect_too_big(&s, VIP4, 1480, 28))
		goto out;
	/* a hop's ICMP about the backend's reply goes to it in IPIP too */
	q = reply_of(&s);
	len = pkt_build_ptb(&q, "10.0.0.1", NULL, 1280, 28, in, sizeof(in));
	if (expect_ipip(in, len, id, "10.0.0.2", id == 1 ? "10.0.0.21" : "10.0.0.22",
			PGXR_V_TX_ICMP, &r))
		goto out;
	/* 802.1Q: the outer frame keeps the tag */
	s = base(4, RO, TH_SYN);
	s.vlan = 7;
	s.sport = 41001;
	len = pkt_build(&s, in, sizeof(in));
	if (run(in, len, &r) || ((id = backend_of(&r)) != 1 && id != 2) ||
	    expect_ipip(in, len, id, "10.0.0.2", id == 1 ? "10.0.0.21" : "10.0.0.22",
			PGXR_V_TX_IPIP, &r))
		goto out;
	/* IPv6 in IPv6, and packet too big (1460 = 1500 less the outer header) */
	s = base(6, RW, TH_SYN);
	s.sport = 41002;
	len = pkt_build(&s, in, sizeof(in));
	/* no outer source known yet: as an unresolved MAC */
	set_ipip(3, "::", 1);
	if (expect(in, len, XDP_DROP, PGXR_V_DROP_NO_NEIGH, NULL, 0, &r))
		goto out;
	set_ipip(3, "fd00::2", 1);
	if (expect_ipip(in, len, 3, "fd00::2", "fd00::20", PGXR_V_TX_IPIP, &r))
		goto out;
	s.flags = TH_ACK;
	s.seq = 1001;
	s.ack = 5000;
	s.payload = 1460 - 40 - 20 + 1;
	if (expect_too_big(&s, VIP6, 1460, 48))
		goto out;
	ret = 0;
out:
	reset_fixture();
	return ret;
}

/* the decap program a backend runs, loaded once by t_decap */
static struct pgxr_decap_bpf *decap_skel;

static int decap_run(const __u8 *in, int len, struct result *r)
{
	return run_prog(bpf_program__fd(decap_skel->progs.pgxr_decap), in, len, r);
}

static __u64 decap_count(__u32 v)
{
	int n = libbpf_num_possible_cpus();
	struct pgxr_decap_counters c[n > 0 ? n : 1];
	__u64 sum = 0;

	if (bpf_map__lookup_elem(decap_skel->maps.decap_stats, &v, sizeof(v), c, sizeof(c), 0))
		return ~0ULL;
	for (int i = 0; i < n; i++)
		sum += c[i].packets;
	return sum;
}

/* in through the decap program: action, the one verdict counted, and the output frame */
static int decap_expect(const __u8 *in, int len, __u32 action, __u32 verdict, const __u8 *want,
			int want_len)
{
	__u64 before[PGXR_DECAP_MAX];
	struct result r;

	for (__u32 v = 0; v < PGXR_DECAP_MAX; v++)
		before[v] = decap_count(v);
	CHECK(!decap_run(in, len, &r), "prog_test_run failed: %s", strerror(errno));
	CHECK(r.action == action, "action %u, expected %u", r.action, action);
	for (__u32 v = 0; v < PGXR_DECAP_MAX; v++)
		CHECK(decap_count(v) - before[v] == (v == verdict), "decap verdict %u miscounted", v);
	if (action == XDP_DROP)
		return 0;
	if (!want) {
		want = in;
		want_len = len;
	}
	if (r.len != (__u32)want_len || memcmp(r.out, want, want_len)) {
		pkt_hexdump("got", r.out, r.len);
		pkt_hexdump("expected", want, want_len);
		CHECK(0, "output frame differs from the fixture");
	}
	return 0;
}

/* s in IPIP from src to dst, and what the backend's stack must see of it: the frame, inner packet */
static int decap_case(const struct pkt_spec *s, const char *src, const char *dst, __u32 action,
		      __u32 verdict)
{
	__u8 inner[2048], outer[2048], want[2048], mac[6];
	int len, olen;

	backend_mac(1, mac);
	len = pkt_build(s, inner, sizeof(inner));
	olen = pkt_encap(inner, len, src, dst, mac, router_mac, 0x12345, outer, sizeof(outer));
	CHECK(len > 0 && olen > 0, "could not build the fixture");
	memcpy(want, inner, len);
	memcpy(want, mac, 6);
	memcpy(want + 6, router_mac, 6);
	return decap_expect(outer, olen, action, verdict, want, len);
}

/*
 * The backend's side of forwarding = ipip: the outer header comes off
 * (IPv4, IPv6, behind a VLAN tag), the rest is untouched, and with a
 * from list only the routers in it are taken
 */
static int t_decap(void)
{
	struct pgxr_decap_from k = { .family = 4 };
	struct pgxr_decap_cfg cfg = { .restrict_from = 1 };
	struct pkt_spec s = base(4, RW, TH_SYN);
	__u8 in[256];
	__u32 zero = 0;
	__u8 one = 1;
	int len, ret;

	decap_skel = pgxr_decap_bpf__open_and_load();
	CHECK(decap_skel, "could not load the decap program: %s", strerror(errno));
	s.payload = 100;
	if (decap_case(&s, "10.0.0.2", "10.0.0.21", XDP_PASS, PGXR_DECAP_IPIP))
		return -1;
	s.vlan = 9;
	if (decap_case(&s, "10.0.0.2", "10.0.0.21", XDP_PASS, PGXR_DECAP_IPIP))
		return -1;
	s = base(6, RO, TH_ACK);
	if (decap_case(&s, "fd00::2", "fd00::21", XDP_PASS, PGXR_DECAP_IP6IP6))
		return -1;
	/* a router on the way marked congestion (CE) on the outer header: the ECN-capable inner
	 * packet gets it, with its checksum right (the outer one is not checked) */
	for (int fam = 4; fam <= 6; fam += 2) {
		__u8 inner[256], outer[256], want[256], mac[6];
		int ilen, olen, l3 = 14;

		s = base(fam, RW, TH_ACK);
		s.tos = 0x02;	/* ECT(0) */
		ilen = pkt_build(&s, inner, sizeof(inner));
		backend_mac(1, mac);
		olen = pkt_encap(inner, ilen, fam == 4 ? "10.0.0.2" : "fd00::2",
				 fam == 4 ? "10.0.0.21" : "fd00::21", mac, router_mac, 0, outer,
				 sizeof(outer));
		if (fam == 4)
			outer[l3 + 1] |= 0x03;
		else
			outer[l3 + 1] |= 0x30;
		s.tos = 0x03;	/* CE */
		pkt_build(&s, want, sizeof(want));
		memcpy(want, mac, 6);
		memcpy(want + 6, router_mac, 6);
		if (decap_expect(outer, olen, XDP_PASS, fam == 4 ? PGXR_DECAP_IPIP : PGXR_DECAP_IP6IP6,
				 want, ilen))
			return -1;
	}
	/* not IPIP: untouched */
	s = base(4, RW, TH_SYN);
	len = pkt_build(&s, in, sizeof(in));
	if (decap_expect(in, len, XDP_PASS, PGXR_DECAP_PASS, NULL, 0))
		return -1;
	/* a from list: its router's IPIP is taken, another sender's dropped */
	inet_pton(AF_INET, "10.0.0.2", k.addr);
	bpf_map__update_elem(decap_skel->maps.decap_from, &k, sizeof(k), &one, 1, BPF_ANY);
	bpf_map__update_elem(decap_skel->maps.decap_cfg, &zero, 4, &cfg, sizeof(cfg), BPF_ANY);
	ret = decap_case(&s, "10.0.0.2", "10.0.0.21", XDP_PASS, PGXR_DECAP_IPIP) ?:
	      decap_case(&s, "10.0.0.66", "10.0.0.21", XDP_DROP, PGXR_DECAP_DROP_FROM);
	pgxr_decap_bpf__destroy(decap_skel);
	return ret;
}

/* a SYN is hashed fresh even when a flow exists for its 5-tuple */
static int t_syn_rehashed(void)
{
	struct pkt_spec s = base(4, RO, TH_SYN);
	struct pgxr_flow f = { .svc = SVC_RO4 };
	struct pgxr_flow_key k;
	struct result r;
	__u8 in[256];
	int len, picked;

	s.sport = 40300;
	len = pkt_build(&s, in, sizeof(in));
	CHECK(!run(in, len, &r) && r.action == XDP_TX, "not forwarded");
	picked = backend_of(&r);
	f.backend = picked == 1 ? 2 : 1;
	flow_key(&s, &k);
	bpf_map_update_elem(dp.fd[DP_FLOWS], &k, &f, BPF_ANY);
	if (expect_tx(in, len, picked, &r))
		return -1;
	CHECK(!bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f) && f.backend == (__u32)picked,
	      "SYN did not re-record its flow");
	return 0;
}

/*
 * The first fragment of a segment to rw or ro is dropped (counted): its
 * backend could never have the rest, and the stack would reset the
 * session.  Later fragments carry no ports: passed, the stack drops them
 * when their first never comes.  The proxy port's are the stack's.
 */
static int t_fragments(void)
{
	struct pkt_spec s = base(4, RW, TH_ACK);
	struct pgxr_counters c0, c1;
	struct result r;
	__u8 in[256];
	int len, ret;

	s.frag_off = 0x2000;	/* first fragment: MF */
	s.payload = 64;
	len = pkt_build(&s, in, sizeof(in));
	dataplane_counters(&dp, DP_SVC_STATS, SVC_RW4, &c0, NULL);
	if (expect(in, len, XDP_DROP, PGXR_V_DROP_FRAGMENT, NULL, 0, &r))
		return -1;
	dataplane_counters(&dp, DP_SVC_STATS, SVC_RW4, &c1, NULL);
	CHECK(c1.packets == c0.packets + 1 && c1.conns == c0.conns, "the service did not count the fragment");
	s.dport = RO;
	len = pkt_build(&s, in, sizeof(in));
	if (expect(in, len, XDP_DROP, PGXR_V_DROP_FRAGMENT, NULL, 0, &r))
		return -1;
	s.dport = PROXY;
	len = pkt_build(&s, in, sizeof(in));
	if (expect(in, len, XDP_PASS, PGXR_V_PASS_FRAGMENT, NULL, 0, &r))
		return -1;
	s.dport = 5555;
	len = pkt_build(&s, in, sizeof(in));
	if (expect(in, len, XDP_PASS, PGXR_V_PASS_FRAGMENT, NULL, 0, &r))
		return -1;
	s.dport = RW;
	s.frag_off = 0x0010;	/* a later fragment */
	len = pkt_build(&s, in, sizeof(in));
	if (expect(in, len, XDP_PASS, PGXR_V_PASS_FRAGMENT, NULL, 0, &r))
		return -1;
	/* a first fragment of 2 bytes (padded): no ports to tell */
	s.frag_off = 0x2000;
	len = pkt_build(&s, in, sizeof(in));
	in[14 + 2] = 0;
	in[14 + 3] = 20 + 2;
	if (expect(in, len, XDP_PASS, PGXR_V_PASS_FRAGMENT, NULL, 0, &r))
		return -1;
	/* the local backend's: the stack reassembles them for it */
	len = pkt_build(&s, in, sizeof(in));
	patch_backend(0, PGXR_BE_UP, PGXR_BE_F_LOCAL, 0);
	ret = expect(in, len, XDP_PASS, PGXR_V_PASS_FRAGMENT, NULL, 0, &r);
	patch_backend(0, PGXR_BE_UP, 0, 0);
	if (ret)
		return -1;
	s = base(6, RW, TH_ACK);
	s.v6_frag = 1;
	s.payload = 64;
	len = pkt_build(&s, in, sizeof(in));
	if (expect(in, len, XDP_DROP, PGXR_V_DROP_FRAGMENT, NULL, 0, &r))
		return -1;
	s.v6_ext = 2;
	len = pkt_build(&s, in, sizeof(in));
	if (expect(in, len, XDP_DROP, PGXR_V_DROP_FRAGMENT, NULL, 0, &r))
		return -1;
	s.v6_frag = 2;
	len = pkt_build(&s, in, sizeof(in));
	return expect(in, len, XDP_PASS, PGXR_V_PASS_FRAGMENT, NULL, 0, &r);
}

/* IPv6 extension headers before TCP are walked: the packet is steered, headers and all */
static int t_v6_ext(void)
{
	struct pkt_spec s = base(6, RW, TH_SYN);
	struct result r;
	__u8 in[256];
	int len;

	s.sport = 40700;
	s.v6_ext = 2;
	len = pkt_build(&s, in, sizeof(in));
	if (expect_tx(in, len, 3, &r))
		return -1;
	/* an atomic fragment (RFC 6946: offset 0, no more) is a whole segment */
	s.flags = TH_ACK | TH_PSH;
	s.ack = 1;
	s.payload = 10;
	s.v6_ext = 1;
	s.v6_frag = 3;
	len = pkt_build(&s, in, sizeof(in));
	if (expect_tx(in, len, 3, &r))
		return -1;
	/* hop-by-hop, routing (no segment left), destination options */
	s.v6_frag = 0;
	s.v6_hop = 1;
	s.v6_routing = 1;
	len = pkt_build(&s, in, sizeof(in));
	if (expect_tx(in, len, 3, &r))
		return -1;
	/* segments left: the VIP is a hop on the way, not the packet's end */
	s.v6_routing = 2;
	len = pkt_build(&s, in, sizeof(in));
	if (expect(in, len, XDP_PASS, PGXR_V_PASS_OTHER, NULL, 0, &r))
		return -1;
	/* more than the program walks: not ours */
	s.v6_hop = s.v6_routing = 0;
	s.v6_ext = 5;
	len = pkt_build(&s, in, sizeof(in));
	return expect(in, len, XDP_PASS, PGXR_V_PASS_OTHER, NULL, 0, &r);
}

/* a down backend's client that sent IPv6 extension headers gets a plain RST */
static int t_rst_v6_ext(void)
{
	struct pkt_spec s = base(6, RW, TH_ACK | TH_PSH);
	struct result r;
	__u8 in[256];
	int len, ret;

	s.sport = 40750;
	s.ack = 5000;
	s.payload = 30;
	s.v6_hop = 1;
	s.v6_ext = 2;
	len = pkt_build(&s, in, sizeof(in));
	patch_backend(3, PGXR_BE_DOWN, 0, 0);
	CHECK(!run(in, len, &r), "prog_test_run failed");
	ret = r.action == XDP_TX && r.len == 14 + 40 + 20 && r.out[20] == 6 && (r.out[14 + 40 + 13] & TH_RST) &&
	      pkt_checksums_ok(r.out, r.len);
	patch_backend(3, PGXR_BE_UP, 0, 0);
	CHECK(ret, "no plain RST (action %u, %u bytes)", r.action, r.len);
	return 0;
}

/* every cut of a good packet short of the TCP header is malformed and passed */
static int t_truncated(void)
{
	struct pkt_spec s = base(4, RW, TH_SYN);
	struct result r;
	__u8 in[256];
	int len = pkt_build(&s, in, sizeof(in));

	for (int cut = 14; cut < 14 + 20 + 20; cut++)
		if (expect(in, cut, XDP_PASS, PGXR_V_PASS_MALFORMED, NULL, 0, &r))
			return -1;
	s = base(6, RW, TH_SYN);
	len = pkt_build(&s, in, sizeof(in));
	for (int cut = 14; cut < 14 + 40 + 20; cut++)
		if (expect(in, cut, XDP_PASS, PGXR_V_PASS_MALFORMED, NULL, 0, &r))
			return -1;
	/* ...and a frame shorter than its IPv4 total length */
	s = base(4, RW, TH_ACK);
	s.payload = 100;
	len = pkt_build(&s, in, sizeof(in));
	return expect(in, len - 1, XDP_PASS, PGXR_V_PASS_MALFORMED, NULL, 0, &r);
}

static int t_bad_headers(void)
{
	struct pkt_spec s = base(4, RW, TH_SYN);
	struct result r;
	__u8 in[256], bad[256];
	int len = pkt_build(&s, in, sizeof(in));

	memcpy(bad, in, len);
	bad[14] = 0x44;	/* IHL 4 */
	if (expect(bad, len, XDP_PASS, PGXR_V_PASS_MALFORMED, NULL, 0, &r))
		return -1;
	memcpy(bad, in, len);
	bad[14 + 20 + 12] = 0x40;	/* TCP data offset 4 */
	if (expect(bad, len, XDP_PASS, PGXR_V_PASS_MALFORMED, NULL, 0, &r))
		return -1;
	memcpy(bad, in, len);
	bad[14 + 20 + 12] = 0xf0;	/* data offset 60 > segment */
	if (expect(bad, len, XDP_PASS, PGXR_V_PASS_MALFORMED, NULL, 0, &r))
		return -1;
	memcpy(bad, in, len);
	bad[14] = 0x55;	/* IPv6 version nibble under an IPv4 ethertype */
	return expect(bad, len, XDP_PASS, PGXR_V_PASS_MALFORMED, NULL, 0, &r);
}

/* fixed-seed random frames: whatever they are, they pass untouched */
static int t_garbage(void)
{
	struct result r;
	unsigned seed = 12345;
	__u8 in[512];

	for (int i = 0; i < 2000; i++) {
		int len = 14 + rand_r(&seed) % 400;

		for (int j = 0; j < len; j++)
			in[j] = rand_r(&seed);
		/* half of them claim IPv4 or IPv6 so the parser goes deeper */
		if (i % 2) {
			in[12] = i % 4 == 1 ? 0x08 : 0x86;
			in[13] = i % 4 == 1 ? 0x00 : 0xdd;
		}
		CHECK(!run(in, len, &r), "prog_test_run failed");
		CHECK(r.action == XDP_PASS && r.len == (__u32)len && !memcmp(r.out, in, len),
		      "random frame %d (%d bytes) was not passed untouched", i, len);
	}
	return 0;
}

static int t_not_ours(void)
{
	struct pkt_spec s = base(4, 22, TH_SYN);
	struct result r;
	__u8 in[256];
	int len = pkt_build(&s, in, sizeof(in));

	if (expect(in, len, XDP_PASS, PGXR_V_PASS_OTHER, NULL, 0, &r))
		return -1;
	s = base(4, RW, TH_SYN);
	s.dst = "10.0.0.99";
	len = pkt_build(&s, in, sizeof(in));
	if (expect(in, len, XDP_PASS, PGXR_V_PASS_OTHER, NULL, 0, &r))
		return -1;
	s = base(4, RW, 0);
	s.proto = 17;	/* UDP to VIP:5432 */
	s.payload = 20;
	len = pkt_build(&s, in, sizeof(in));
	if (expect(in, len, XDP_PASS, PGXR_V_PASS_OTHER, NULL, 0, &r))
		return -1;
	s.proto = 1;	/* ICMP */
	len = pkt_build(&s, in, sizeof(in));
	if (expect(in, len, XDP_PASS, PGXR_V_PASS_OTHER, NULL, 0, &r))
		return -1;
	/* an ARP request for the VIP */
	memset(in, 0, 60);
	memset(in, 0xff, 6);
	memcpy(in + 6, client_mac, 6);
	in[12] = 0x08, in[13] = 0x06;
	in[14] = 0, in[15] = 1, in[16] = 8, in[17] = 0, in[18] = 6, in[19] = 4, in[21] = 1;
	return expect(in, 60, XDP_PASS, PGXR_V_PASS_OTHER, NULL, 0, &r);
}

static int t_proxy(void)
{
	struct pkt_spec s = base(4, PROXY, TH_SYN);
	struct pgxr_counters c0, c1;
	struct result r;
	__u8 in[256];
	int len = pkt_build(&s, in, sizeof(in));

	dataplane_counters(&dp, DP_SVC_STATS, SVC_PROXY4, &c0, NULL);
	if (expect(in, len, XDP_PASS, PGXR_V_PASS_PROXY, NULL, 0, &r))
		return -1;
	dataplane_counters(&dp, DP_SVC_STATS, SVC_PROXY4, &c1, NULL);
	CHECK(c1.conns == c0.conns + 1 && c1.packets == c0.packets + 1, "the proxy's SYN not counted");
	return 0;
}

static int t_local_backend(void)
{
	struct pkt_spec s = base(4, RW, TH_SYN);
	struct result r;
	__u8 in[256];
	int len, ret;

	s.sport = 40400;
	len = pkt_build(&s, in, sizeof(in));
	/* as pgxrd writes it: a local backend has no MAC */
	patch_backend(0, PGXR_BE_UP, PGXR_BE_F_LOCAL, 1);
	ret = expect(in, len, XDP_PASS, PGXR_V_PASS_LOCAL, NULL, 0, &r);
	/* and its segments after the SYN */
	s.flags = TH_ACK;
	s.seq = 1001;
	len = pkt_build(&s, in, sizeof(in));
	ret = ret ?: expect(in, len, XDP_PASS, PGXR_V_PASS_LOCAL, NULL, 0, &r);
	patch_backend(0, PGXR_BE_UP, 0, 0);
	return ret;
}

/* a backend whose MAC is unknown: dropped (the stack would reset it), no flow, no session counted */
static int t_unresolved_mac(void)
{
	struct pkt_spec s = base(4, RW, TH_SYN);
	struct pgxr_counters b0, b1, s0, s1;
	struct pgxr_flow_key k;
	struct pgxr_flow f;
	struct result r;
	__u8 in[256];
	int len, ret;

	s.sport = 40500;
	len = pkt_build(&s, in, sizeof(in));
	dataplane_counters(&dp, DP_BACKEND_STATS, 0, &b0, NULL);
	dataplane_counters(&dp, DP_SVC_STATS, SVC_RW4, &s0, NULL);
	patch_backend(0, PGXR_BE_UP, 0, 1);
	ret = expect(in, len, XDP_DROP, PGXR_V_DROP_NO_NEIGH, NULL, 0, &r);
	patch_backend(0, PGXR_BE_UP, 0, 0);
	if (ret)
		return ret;
	flow_key(&s, &k);
	CHECK(bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f) && errno == ENOENT, "a SYN not forwarded left a flow");
	dataplane_counters(&dp, DP_BACKEND_STATS, 0, &b1, NULL);
	dataplane_counters(&dp, DP_SVC_STATS, SVC_RW4, &s1, NULL);
	CHECK(b1.conns == b0.conns && b1.packets == b0.packets && s1.conns == s0.conns &&
	      s1.packets == s0.packets + 1, "a SYN not forwarded counted a session");
	/* resolved: the client's SYN sent again goes through */
	return expect_tx(in, len, 0, &r);
}

/* the client's RST goes to the backend and ends the flow */
static int t_client_rst(void)
{
	struct pkt_spec s = base(4, RO, TH_SYN);
	struct pgxr_flow_key k;
	struct pgxr_flow f;
	struct result r;
	__u8 in[256];
	int len, id;

	id = syn_open(&s, 40800);
	CHECK(id >= 0, "SYN not forwarded");
	/* one not at the sequence the backend expects (spoofed, late) goes, the flow stays */
	s.flags = TH_RST | TH_ACK;
	s.ack = 1;
	s.seq = 5000;
	len = pkt_build(&s, in, sizeof(in));
	if (expect_tx(in, len, id, &r))
		return -1;
	flow_key(&s, &k);
	CHECK(!bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f), "an out-of-window RST ended the flow");
	s.seq = 1001;	/* past the SYN */
	len = pkt_build(&s, in, sizeof(in));
	if (expect_tx(in, len, id, &r))
		return -1;
	CHECK(bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f) && errno == ENOENT, "the flow outlived the client's RST");
	return 0;
}

/* a segment of no known flow (evicted) takes the ring's pick and is counted as a miss; a SYN is not */
static int t_miss_counted(void)
{
	struct pkt_spec s = base(4, RW, TH_ACK);
	struct pgxr_counters c0, c1;
	struct result r;
	__u8 in[256];
	int len;

	s.sport = 40900;
	s.ack = 1;
	len = pkt_build(&s, in, sizeof(in));
	dataplane_counters(&dp, DP_SVC_STATS, SVC_RW4, &c0, NULL);
	if (expect_tx(in, len, 0, &r))
		return -1;
	dataplane_counters(&dp, DP_SVC_STATS, SVC_RW4, &c1, NULL);
	CHECK(c1.misses == c0.misses + 1, "a miss not counted: %llu -> %llu", c0.misses, c1.misses);
	/* the flow now exists: no second miss */
	if (expect_tx(in, len, 0, &r))
		return -1;
	s = base(4, RW, TH_SYN);
	s.sport = 40901;
	len = pkt_build(&s, in, sizeof(in));
	if (expect_tx(in, len, 0, &r))
		return -1;
	dataplane_counters(&dp, DP_SVC_STATS, SVC_RW4, &c0, NULL);
	CHECK(c0.misses == c1.misses, "a hit or a SYN counted as a miss");
	return 0;
}

/* a flow whose backend left the configuration: the client gets a RST, the entry goes */
static int t_removed_backend(void)
{
	struct pkt_spec s = base(4, RO, TH_SYN);
	struct pgxr_flow_key k;
	struct pgxr_backend saved;
	struct pgxr_flow f;
	struct result r;
	__u8 in[256];
	int len, ret, id;

	id = syn_open(&s, 41000);
	CHECK(id >= 0, "SYN not forwarded");
	s.flags = TH_ACK | TH_PSH;
	s.ack = 1;
	s.payload = 20;
	len = pkt_build(&s, in, sizeof(in));
	bpf_map_lookup_elem(dp.fd[DP_BACKENDS], &(__u32){ id }, &saved);
	patch_backend(id, PGXR_BE_UNUSED, 0, 0);
	CHECK(!run(in, len, &r), "prog_test_run failed");
	ret = r.action == XDP_TX && pkt_checksums_ok(r.out, r.len) && (r.out[47] & TH_RST);
	bpf_map_update_elem(dp.fd[DP_BACKENDS], &(__u32){ id }, &saved, BPF_ANY);
	CHECK(ret, "no RST for a removed backend's flow (action %u)", r.action);
	flow_key(&s, &k);
	CHECK(bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f) && errno == ENOENT, "the removed backend's flow was kept");
	return 0;
}

static int t_empty_ring(void)
{
	struct pkt_spec s = base(4, RO, TH_SYN);
	struct result r;
	__u8 in[256];
	int len, ret;
	const __u32 ro4[] = { 1, 2 };

	len = pkt_build(&s, in, sizeof(in));
	set_ring(SVC_RO4, NULL, NULL, 0);
	ret = expect(in, len, XDP_PASS, PGXR_V_PASS_NO_BACKEND, NULL, 0, &r);
	set_ring(SVC_RO4, ro4, NULL, 2);
	return ret;
}

/*
 * Pins a flow to a standby, marks it down, and checks the RST: the exact
 * bytes of a fixture built independently, valid checksums, flow gone.
 */
static int rst_case(int family, int vlan, __u8 flags, int payload, __u32 want_seq,
		    __u32 want_ack, __u8 want_flags)
{
	struct pkt_spec s = base(family, RO, TH_SYN), w;
	__u32 svc = family == 4 ? SVC_RO4 : SVC_RO6;
	struct pgxr_counters c0, c1;
	struct pgxr_flow_key k;
	struct pgxr_flow f;
	struct result r;
	__u8 in[512], want[512];
	int len, wlen, id, ret;

	s.vlan = vlan;
	s.sport = 41000 + family + vlan;
	len = pkt_build(&s, in, sizeof(in));
	CHECK(!run(in, len, &r) && r.action == XDP_TX, "SYN not forwarded");
	id = backend_of(&r);
	(void)svc;

	s.flags = flags;
	s.seq = 1000;
	s.ack = 5000;
	s.payload = payload;
	s.tcp_opts = 12;
	len = pkt_build(&s, in, sizeof(in));

	w = base(family, 0, want_flags);
	memcpy(w.smac, router_mac, 6);
	memcpy(w.dmac, client_mac, 6);
	w.vlan = vlan;
	w.src = s.dst;
	w.dst = s.src;
	w.sport = s.dport;
	w.dport = s.sport;
	w.seq = want_seq;
	w.ack = want_ack;
	w.window = 0;
	w.frag_off = 0x4000;
	wlen = pkt_build(&w, want, sizeof(want));

	dataplane_counters(&dp, DP_BACKEND_STATS, id, &c0, NULL);
	patch_backend(id, PGXR_BE_DOWN, 0, 0);
	ret = expect(in, len, XDP_TX, PGXR_V_TX_RST, want, wlen, &r);
	patch_backend(id, PGXR_BE_UP, 0, 0);
	if (ret)
		return ret;
	CHECK(pkt_checksums_ok(r.out, r.len), "RST checksums do not verify");
	flow_key(&s, &k);
	CHECK(bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f) && errno == ENOENT,
	      "flow of the down backend was not deleted");
	dataplane_counters(&dp, DP_BACKEND_STATS, id, &c1, NULL);
	CHECK(c1.rsts == c0.rsts + 1, "rst counter of backend %d not updated", id);
	return 0;
}

/* RFC 793: a segment with ACK gets <SEQ=SEG.ACK><CTL=RST> */
static int t_rst_v4_ack(void)
{
	return rst_case(4, 0, TH_ACK | TH_PSH, 30, 5000, 0, TH_RST);
}

/* ...one without gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; FIN counts one */
static int t_rst_v4_noack(void)
{
	return rst_case(4, 0, TH_FIN | TH_PSH, 10, 0, 1000 + 10 + 1, TH_RST | TH_ACK);
}

static int t_rst_v6(void)
{
	return rst_case(6, 0, TH_ACK, 0, 5000, 0, TH_RST);
}

static int t_rst_vlan(void)
{
	return rst_case(4, 7, TH_ACK | TH_PSH, 200, 5000, 0, TH_RST);
}

/* a RST to a down backend is not answered, and its flow is forgotten */
static int t_rst_not_answered(void)
{
	struct pkt_spec s = base(4, RO, TH_SYN);
	struct pgxr_flow_key k;
	struct pgxr_flow f;
	struct result r;
	__u8 in[256];
	int len, id, ret;

	id = syn_open(&s, 42000);
	CHECK(id >= 0, "SYN not forwarded");
	s.flags = TH_RST | TH_ACK;
	s.ack = 1;
	len = pkt_build(&s, in, sizeof(in));
	patch_backend(id, PGXR_BE_DOWN, 0, 0);
	ret = expect(in, len, XDP_PASS, PGXR_V_PASS_DOWN, NULL, 0, &r);
	patch_backend(id, PGXR_BE_UP, 0, 0);
	if (ret)
		return ret;
	flow_key(&s, &k);
	CHECK(bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f), "flow not deleted");
	return 0;
}

/* FNV-1a over the numbers that make a layout */
static unsigned long long fingerprint(const unsigned *v, size_t n)
{
	unsigned long long h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ v[i]) * 0x100000001b3ULL;
	return h;
}

#define FIELD(t, f) offsetof(t, f), sizeof(((t *)0)->f)

/*
 * The layouts PGXR_MAP_ABI and PGXR_CACHE_ABI stand for.  A change of one
 * fails here: bump the ABI in include/pgxr_xdp.h, then record the new
 * fingerprint (printed) with it.
 */
static int t_abi_fingerprints(void)
{
	const unsigned maps[] = {
		sizeof(struct pgxr_svc_key), FIELD(struct pgxr_svc_key, addr),
		FIELD(struct pgxr_svc_key, port), FIELD(struct pgxr_svc_key, family),
		FIELD(struct pgxr_svc_key, proto),
		sizeof(struct pgxr_svc), FIELD(struct pgxr_svc, id), FIELD(struct pgxr_svc, kind),
		FIELD(struct pgxr_svc, flags), FIELD(struct pgxr_svc, pad),
		sizeof(struct pgxr_backend), FIELD(struct pgxr_backend, addr),
		FIELD(struct pgxr_backend, family), FIELD(struct pgxr_backend, state),
		FIELD(struct pgxr_backend, role), FIELD(struct pgxr_backend, flags),
		FIELD(struct pgxr_backend, mac), FIELD(struct pgxr_backend, port),
		FIELD(struct pgxr_backend, weight), FIELD(struct pgxr_backend, tun_src),
		PGXR_SVC_RW, PGXR_SVC_RO, PGXR_SVC_PROXY, PGXR_SVC_F_RO_FALLBACK,
		PGXR_BE_UNUSED, PGXR_BE_UP, PGXR_BE_DOWN, PGXR_BE_FENCED,
		PGXR_ROLE_UNKNOWN, PGXR_ROLE_PRIMARY, PGXR_ROLE_STANDBY,
		PGXR_BE_F_LOCAL, PGXR_BE_F_ADMIN_DOWN, PGXR_BE_F_LAGGING, PGXR_BE_F_IPIP,
		PGXR_FAMILY_V4, PGXR_FAMILY_V6, PGXR_NO_BACKEND,
		PGXR_MAX_SERVICES, PGXR_MAX_BACKENDS, PGXR_RING_SIZE,
	};
	const unsigned caches[] = {
		sizeof(struct pgxr_flow_key), FIELD(struct pgxr_flow_key, src),
		FIELD(struct pgxr_flow_key, dst), FIELD(struct pgxr_flow_key, sport),
		FIELD(struct pgxr_flow_key, dport), FIELD(struct pgxr_flow_key, family),
		FIELD(struct pgxr_flow_key, pad),
		sizeof(struct pgxr_flow), FIELD(struct pgxr_flow, backend), FIELD(struct pgxr_flow, svc),
		FIELD(struct pgxr_flow, ack), FIELD(struct pgxr_flow, seq_end),
		sizeof(struct pgxr_counters), FIELD(struct pgxr_counters, packets),
		FIELD(struct pgxr_counters, bytes), FIELD(struct pgxr_counters, conns),
		FIELD(struct pgxr_counters, rsts), FIELD(struct pgxr_counters, retrans),
		FIELD(struct pgxr_counters, misses),
		PGXR_V_PASS_OTHER, PGXR_V_PASS_MALFORMED, PGXR_V_PASS_FRAGMENT, PGXR_V_PASS_PROXY,
		PGXR_V_PASS_LOCAL, PGXR_V_DROP_NO_NEIGH, PGXR_V_PASS_NO_BACKEND, PGXR_V_PASS_DOWN,
		PGXR_V_TX, PGXR_V_TX_RST, PGXR_V_DROP_FRAGMENT, PGXR_V_TX_ICMP, PGXR_V_TX_IPIP, PGXR_V_TX_TOO_BIG, PGXR_V_DROP_ENCAP, PGXR_V_MAX,
		PGXR_MAX_FLOWS,
	};
	/* the ABI each layout was recorded with, and its fingerprint */
	const struct {
		unsigned abi;
		unsigned long long fp;
	} rec_maps = { 2, 0xda041f5a5e41cb54ULL }, rec_caches = { 3, 0x9391ceeffa845aa2ULL };
	unsigned long long fm = fingerprint(maps, sizeof(maps) / sizeof(maps[0]));
	unsigned long long fc = fingerprint(caches, sizeof(caches) / sizeof(caches[0]));

	CHECK(fm == rec_maps.fp && PGXR_MAP_ABI == rec_maps.abi,
	      "the decision maps' layout is %#llx with PGXR_MAP_ABI %u; recorded: %#llx with %u (bump the ABI, record both)",
	      fm, PGXR_MAP_ABI, rec_maps.fp, rec_maps.abi);
	CHECK(fc == rec_caches.fp && PGXR_CACHE_ABI == rec_caches.abi,
	      "the caches' layout is %#llx with PGXR_CACHE_ABI %u; recorded: %#llx with %u (bump the ABI, record both)",
	      fc, PGXR_CACHE_ABI, rec_caches.fp, rec_caches.abi);
	return 0;
}

/* a pinned map of another build's layout is refused by name, not misread */
static int t_layout_check(void)
{
	char why[256] = "";
	int fd;

	for (int i = 0; i < DP_NMAPS; i++)
		CHECK(!dataplane_layout_check(i, dp.fd[i], why, sizeof(why)), "map %d: %s", i, why);
	/* the counters of a build before MISSES: 40-byte values */
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "verdict_stats", 4, 40, PGXR_V_MAX, NULL);
	CHECK(fd >= 0, "bpf_map_create: %s", strerror(errno));
	CHECK(dataplane_layout_check(DP_VERDICT_STATS, fd, why, sizeof(why)) == -EPROTO &&
	      strstr(why, "values of 40") && strstr(why, "this build's: 4, 48"), "not refused: %s", why);
	close(fd);
	return 0;
}

/* pgxrd's membership rules, through dataplane_rebuild() */
static int t_rebuild_members(void)
{
	static __u32 ring[PGXR_RING_SIZE];
	int n1 = 0, n2 = 0, ret = -1;

	/* only v4 services for this test: rebuild does every service */
	set_backend(3, 6, "fd00::20", PGXR_ROLE_UNKNOWN, PGXR_BE_UNUSED, 0);
	set_backend(4, 6, "fd00::21", PGXR_ROLE_UNKNOWN, PGXR_BE_UNUSED, 0);
	CHECK(!dataplane_rebuild(&dp), "rebuild failed");
	CHECK(!dataplane_read_ring(&dp, SVC_RW4, ring), "no rw ring");
	for (int i = 0; i < PGXR_RING_SIZE; i++)
		CHECK(ring[i] == 0, "rw slot %d holds %u, not the primary", i, ring[i]);
	CHECK(!dataplane_read_ring(&dp, SVC_RO4, ring), "no ro ring");
	for (int i = 0; i < PGXR_RING_SIZE; i++) {
		CHECK(ring[i] == 1 || ring[i] == 2, "ro slot %d holds %u", i, ring[i]);
		n1 += ring[i] == 1;
		n2 += ring[i] == 2;
	}
	CHECK(abs(n1 - n2) < PGXR_RING_SIZE / 100, "ro ring uneven: %d vs %d", n1, n2);

	/* a standby leaving through dataplane_set_backend leaves the ring */
	{
		struct pgxr_backend b;
		__u32 id = 2;

		bpf_map_lookup_elem(dp.fd[DP_BACKENDS], &id, &b);
		b.state = PGXR_BE_DOWN;
		CHECK(!dataplane_set_backend(&dp, id, &b), "set_backend failed");
		CHECK(!dataplane_read_ring(&dp, SVC_RO4, ring), "no ro ring");
		for (int i = 0; i < PGXR_RING_SIZE; i++)
			CHECK(ring[i] == 1, "ro slot %d holds %u after node 2 went down", i, ring[i]);
		/* with no standby left the ro service falls back to the primary */
		id = 1;
		bpf_map_lookup_elem(dp.fd[DP_BACKENDS], &id, &b);
		b.state = PGXR_BE_DOWN;
		CHECK(!dataplane_set_backend(&dp, id, &b), "set_backend failed");
		dataplane_read_ring(&dp, SVC_RO4, ring);
		CHECK(ring[0] == PGXR_NO_BACKEND, "no fallback flag, yet ro holds %u", ring[0]);
	}
	{
		struct pgxr_svc_key k = { .port = htons(RO), .family = 4, .proto = 6 };
		struct pgxr_svc v = { .id = SVC_RO4, .kind = PGXR_SVC_RO,
				      .flags = PGXR_SVC_F_RO_FALLBACK };

		inet_pton(AF_INET, VIP4, k.addr);
		bpf_map_update_elem(dp.fd[DP_SERVICES], &k, &v, BPF_ANY);
		CHECK(!dataplane_rebuild(&dp), "rebuild failed");
		dataplane_read_ring(&dp, SVC_RO4, ring);
		CHECK(ring[0] == 0 && ring[PGXR_RING_SIZE - 1] == 0,
		      "ro did not fall back to the primary");
		v.flags = 0;
		bpf_map_update_elem(dp.fd[DP_SERVICES], &k, &v, BPF_ANY);
	}
	ret = 0;
	reset_fixture();
	return ret;
}

/* many SYNs from random clients over a weighted ring; returns picks per id */
static int spray(__u32 svc_port, int nflows, unsigned seed, int *picks, __u8 *chosen)
{
	struct result r;
	__u8 in[256];

	for (int i = 0; i < nflows; i++) {
		struct pkt_spec s = base(4, svc_port, TH_SYN);
		char src[32];
		int id;

		snprintf(src, sizeof(src), "10.%d.%d.%d", 1 + rand_r(&seed) % 200,
			 rand_r(&seed) % 256, 1 + rand_r(&seed) % 254);
		s.src = src;
		s.sport = 1024 + rand_r(&seed) % 64000;
		if (run(in, pkt_build(&s, in, sizeof(in)), &r) || r.action != XDP_TX)
			return -1;
		id = backend_of(&r);
		if (id < 0 || id >= PGXR_MAX_BACKENDS)
			return -1;
		picks[id]++;
		if (chosen)
			chosen[i] = id;
	}
	return 0;
}

#define SPREAD_FLOWS 40000

/* traffic follows the weights within 5% (each backend's share, relative) */
static int t_maglev_spread(void)
{
	const __u32 ids[] = { 10, 11, 12, 13 }, w[] = { 1000, 2000, 3000, 4000 };
	int picks[PGXR_MAX_BACKENDS] = {};

	for (int i = 0; i < 4; i++)
		set_backend(ids[i], 4, "10.0.0.30", PGXR_ROLE_STANDBY, PGXR_BE_UP, w[i]);
	CHECK(!set_ring(SVC_RO4, ids, w, 4), "ring build failed");
	CHECK(!spray(RO, SPREAD_FLOWS, 7, picks, NULL), "spray failed");
	for (int i = 0; i < 4; i++) {
		double want = SPREAD_FLOWS * w[i] / 10000.0;
		double dev = picks[ids[i]] / want - 1;

		printf("# weight %u: %d flows, %.1f expected (%+.2f%%)\n", w[i] / 1000,
		       picks[ids[i]], want, dev * 100);
		CHECK(dev < 0.05 && dev > -0.05, "backend %u got %d flows, expected %.0f +-5%%",
		      ids[i], picks[ids[i]], want);
	}
	reset_fixture();
	return 0;
}

#define CHURN_FLOWS 20000

/* one of N leaving moves at most 1/N + 2% of the flows */
static int t_maglev_disruption(void)
{
	const __u32 ids[] = { 20, 21, 22, 23, 24 };
	int picks[PGXR_MAX_BACKENDS] = {}, moved = 0, n = 5;
	static __u8 before[CHURN_FLOWS], after[CHURN_FLOWS];
	double frac;

	for (int i = 0; i < n; i++)
		set_backend(ids[i], 4, "10.0.0.40", PGXR_ROLE_STANDBY, PGXR_BE_UP, 1000);
	CHECK(!set_ring(SVC_RO4, ids, NULL, n), "ring build failed");
	CHECK(!spray(RO, CHURN_FLOWS, 99, picks, before), "spray failed");
	CHECK(!set_ring(SVC_RO4, ids, NULL, n - 1), "ring build failed");	/* 24 leaves */
	CHECK(!spray(RO, CHURN_FLOWS, 99, picks, after), "spray failed");
	for (int i = 0; i < CHURN_FLOWS; i++)
		moved += before[i] != after[i];
	frac = (double)moved / CHURN_FLOWS;
	printf("# %d of %d flows moved (%.2f%%, bound %.2f%%)\n", moved, CHURN_FLOWS,
	       frac * 100, (1.0 / n + 0.02) * 100);
	CHECK(frac <= 1.0 / n + 0.02, "%.2f%% of flows moved", frac * 100);
	reset_fixture();
	return 0;
}

/*
 * The flow follows the client's side: its last ACK and the end of its
 * furthest segment.  A segment that brings nothing new, or the same SYN
 * again, counts a retransmission on the backend; a SYN with another ISN is
 * a new session on a reused 5-tuple, and counts none.
 */
static int t_flow_tracking(void)
{
	struct pkt_spec s = base(4, RW, TH_SYN);
	struct pgxr_counters c0, c1;
	struct pgxr_flow_key k;
	struct pgxr_flow f;
	struct result r;
	__u8 in[512];
	int len;

	s.sport = 41000;
	s.seq = 7000;
	flow_key(&s, &k);
	dataplane_counters(&dp, DP_BACKEND_STATS, 0, &c0, NULL);
	len = pkt_build(&s, in, sizeof(in));
	CHECK(!run(in, len, &r) && r.action == XDP_TX, "SYN not forwarded");
	CHECK(!bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f), "no flow");
	CHECK(f.seq_end == 7001 && f.ack == 0, "after the SYN: seq_end %u ack %u", f.seq_end, f.ack);
	/* the same SYN again: its ISN was not answered */
	CHECK(!run(in, len, &r) && r.action == XDP_TX, "SYN again not forwarded");
	dataplane_counters(&dp, DP_BACKEND_STATS, 0, &c1, NULL);
	CHECK(c1.retrans == c0.retrans + 1, "a SYN sent again counted %llu retransmissions",
	      c1.retrans - c0.retrans);
	/* data: the flow takes its ACK and end */
	s.flags = TH_ACK | TH_PSH;
	s.seq = 7001;
	s.ack = 90001;
	s.payload = 100;
	len = pkt_build(&s, in, sizeof(in));
	CHECK(!run(in, len, &r) && r.action == XDP_TX, "data not forwarded");
	CHECK(!bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f), "no flow");
	CHECK(f.seq_end == 7101 && f.ack == 90001, "after data: seq_end %u ack %u", f.seq_end, f.ack);
	dataplane_counters(&dp, DP_BACKEND_STATS, 0, &c0, NULL);
	CHECK(c0.retrans == c1.retrans, "new data counted as a retransmission");
	/* the same segment again */
	CHECK(!run(in, len, &r) && r.action == XDP_TX, "retransmission not forwarded");
	dataplane_counters(&dp, DP_BACKEND_STATS, 0, &c1, NULL);
	CHECK(c1.retrans == c0.retrans + 1, "a segment sent again not counted");
	/* a pure ACK brings no data and is no retransmission; it moves the ACK */
	s.flags = TH_ACK;
	s.seq = 7101;
	s.ack = 95000;
	s.payload = 0;
	len = pkt_build(&s, in, sizeof(in));
	CHECK(!run(in, len, &r) && r.action == XDP_TX, "ACK not forwarded");
	CHECK(!bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f) && f.ack == 95000, "ack not moved");
	dataplane_counters(&dp, DP_BACKEND_STATS, 0, &c0, NULL);
	CHECK(c0.retrans == c1.retrans, "a pure ACK counted as a retransmission");
	/* a SYN with another ISN: a new session on the same 5-tuple */
	s.flags = TH_SYN;
	s.seq = 123456;
	s.ack = 0;
	len = pkt_build(&s, in, sizeof(in));
	CHECK(!run(in, len, &r) && r.action == XDP_TX, "new SYN not forwarded");
	dataplane_counters(&dp, DP_BACKEND_STATS, 0, &c1, NULL);
	CHECK(c1.retrans == c0.retrans, "a new SYN counted as a retransmission");
	CHECK(!bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f) && f.seq_end == 123457 && f.ack == 0,
	      "the new session's flow: seq_end %u ack %u", f.seq_end, f.ack);
	/* across the wrap of the sequence space the end still moves forward */
	s.seq = 0xffffffe0u;
	len = pkt_build(&s, in, sizeof(in));
	CHECK(!run(in, len, &r), "run");
	s.flags = TH_ACK | TH_PSH;
	s.seq = 0xffffffe1u;
	s.ack = 1;
	s.payload = 0x30;
	len = pkt_build(&s, in, sizeof(in));
	CHECK(!run(in, len, &r), "run");
	CHECK(!bpf_map_lookup_elem(dp.fd[DP_FLOWS], &k, &f) && f.seq_end == 0x11,
	      "seq_end across the wrap: %#x", f.seq_end);
	dataplane_counters(&dp, DP_BACKEND_STATS, 0, &c0, NULL);
	CHECK(c0.retrans == c1.retrans, "data across the wrap counted as a retransmission");
	return 0;
}

static int setup(void)
{
	struct bpf_map *m;

	skel = pgxr_xdp_bpf__open();
	if (!skel)
		return -1;
	if (pgxr_xdp_bpf__load(skel))
		return -1;
	for (int i = 0; i < DP_NMAPS; i++) {
		m = bpf_object__find_map_by_name(skel->obj, dataplane_map_names[i]);
		if (!m)
			return -1;
		dp.fd[i] = bpf_map__fd(m);
	}
	prog_fd = bpf_program__fd(skel->progs.pgxr_xdp);
	if (add_service(4, VIP4, RW, SVC_RW4, PGXR_SVC_RW) ||
	    add_service(4, VIP4, RO, SVC_RO4, PGXR_SVC_RO) ||
	    add_service(4, VIP4, PROXY, SVC_PROXY4, PGXR_SVC_PROXY) ||
	    add_service(6, VIP6, RW, SVC_RW6, PGXR_SVC_RW) ||
	    add_service(6, VIP6, RO, SVC_RO6, PGXR_SVC_RO))
		return -1;
	reset_fixture();
	return 0;
}

/*
 * A rings map pinned by a build whose ring template was not mmapable still
 * takes rings, and so does this build's map afterwards.
 */
static int t_old_rings(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	static __u32 ring[PGXR_RING_SIZE], back[PGXR_RING_SIZE];
	const __u32 ids[] = { 1, 2 };
	struct maglev_member m[] = { { 1, 1000 }, { 2, 500 } };
	struct dataplane old = dp;
	int inner, swapped, read, again;

	CHECK(!maglev_build(m, 2, ring, PGXR_RING_SIZE), "maglev_build failed");
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "old_ring", 4, 4, PGXR_RING_SIZE, NULL);
	CHECK(inner >= 0, "could not create a ring: %s", strerror(errno));
	opts.inner_map_fd = inner;
	old.fd[DP_RINGS] = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "old_rings", 4, 4,
					  PGXR_MAX_SERVICES, &opts);
	close(inner);
	CHECK(old.fd[DP_RINGS] >= 0, "could not create the rings map: %s", strerror(errno));
	swapped = dataplane_swap_ring(&old, 0, ring);
	read = swapped ? -1 : dataplane_read_ring(&old, 0, back);
	close(old.fd[DP_RINGS]);
	CHECK(!swapped, "swap into an old rings map: %s", strerror(-swapped));
	CHECK(!read, "reading it back: %s", strerror(-read));
	CHECK(!memcmp(ring, back, sizeof(ring)), "the ring read back differs");
	/* and this build's own rings map again */
	again = set_ring(SVC_RO4, ids, NULL, 2);
	CHECK(!again, "swap into this build's rings map after it: %s", strerror(-again));
	CHECK(!dataplane_read_ring(&dp, SVC_RO4, back), "reading this build's ring back");
	return 0;
}

static int lo_mtu(int mtu)
{
	struct ifreq ifr = { .ifr_mtu = mtu };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ret;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ret = ioctl(fd, SIOCSIFMTU, &ifr);
	close(fd);
	return ret;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("ok - xdp data-plane tests # SKIP need root to load BPF programs\n");
		return 0;
	}
	/*
	 * A network namespace of its own, whose loopback (the device the test
	 * runs see) has an Ethernet MTU: the one bpf_check_mtu() reads
	 */
	if (unshare(CLONE_NEWNET) || lo_mtu(1500)) {
		printf("not ok - xdp setup: could not make a network namespace with MTU 1500: %s\n",
		       strerror(errno));
		return 1;
	}
	if (setup()) {
		printf("not ok - xdp setup: could not load the XDP program: %s\n", strerror(errno));
		return 1;
	}
	tap_run("xdp: IPv4 SYN to rw goes to the primary, flow and counters recorded", t_syn_rw_v4);
	tap_run("xdp: IPv4 SYN to ro goes to a standby, the session follows", t_syn_ro_v4);
	tap_run("xdp: IPv6 SYN to rw goes to the primary", t_syn_rw_v6);
	tap_run("xdp: 802.1Q tagged SYN forwarded with its tag", t_vlan);
	tap_run("xdp: TCP and IPv4 options forwarded untouched", t_tcp_and_ip_options);
	tap_run("xdp: non-SYN flow miss uses the Maglev pick", t_non_syn_miss);
	tap_run("xdp: flow table wins over the ring", t_flow_hit_wins);
	tap_run("xdp: a SYN is hashed fresh", t_syn_rehashed);
	tap_run("xdp: flows follow the client's ACK and sequence; retransmissions counted", t_flow_tracking);
	tap_run("xdp: first fragments to rw and ro dropped, counted; later ones and the proxy's passed", t_fragments);
	tap_run("xdp: ICMP fragmentation needed and ICMPv6 packet too big go to the flow's backend", t_icmp_ptb);
	tap_run("xdp: forwarding = ipip: IPIP and IPv6 in IPv6 to routed backends; too big: ICMP to the client", t_ipip);
	tap_run("decap: a backend takes IPIP and IPv6 in IPv6 off, only from its from list", t_decap);
	tap_run("xdp: IPv6 extension headers walked, the packet steered whole", t_v6_ext);
	tap_run("xdp: the client's RST is forwarded and ends its flow, if in window", t_client_rst);
	tap_run("xdp: RST for a down backend (IPv6 with extension headers)", t_rst_v6_ext);
	tap_run("xdp: non-SYN flow misses counted per service", t_miss_counted);
	tap_run("xdp: a removed backend's flow gets a RST and is deleted", t_removed_backend);
	tap_run("xdp: truncated packets are passed", t_truncated);
	tap_run("xdp: bad IHL and data offsets are passed", t_bad_headers);
	tap_run("xdp: 2000 random frames are passed untouched", t_garbage);
	tap_run("xdp: other ports, addresses, UDP, ICMP, ARP are passed", t_not_ours);
	tap_run("xdp: proxy port is passed to the stack", t_proxy);
	tap_run("xdp: a local backend is passed to the stack", t_local_backend);
	tap_run("xdp: unresolved backend MAC: dropped, no flow, no session counted", t_unresolved_mac);
	tap_run("xdp: an empty ring is passed", t_empty_ring);
	tap_run("xdp: RST for a down backend (ACK segment, IPv4)", t_rst_v4_ack);
	tap_run("xdp: RST for a down backend (no ACK, FIN counts)", t_rst_v4_noack);
	tap_run("xdp: RST for a down backend (IPv6)", t_rst_v6);
	tap_run("xdp: RST for a down backend (802.1Q)", t_rst_vlan);
	tap_run("xdp: a RST to a down backend is not answered", t_rst_not_answered);
	tap_run("dataplane: ring membership, ordered updates, ro fallback", t_rebuild_members);
	tap_run("maglev: spread within 5% of weights through XDP", t_maglev_spread);
	tap_run("maglev: one of 5 leaving moves <= 1/5 + 2% of flows", t_maglev_disruption);
	tap_run("dataplane: rings pinned by an older build still take rings", t_old_rings);
	tap_run("dataplane: a map of another build's layout is refused, and named", t_layout_check);
	tap_run("dataplane: the map layouts are those their ABI versions were recorded with", t_abi_fingerprints);
	pgxr_xdp_bpf__destroy(skel);
	return tap_done();
}
