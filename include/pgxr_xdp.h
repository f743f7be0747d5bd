/* pgxr_xdp.h: the map ABI of the XDP direct path, shared by bpf/ and user space */
#ifndef PGXR_XDP_H
#define PGXR_XDP_H

#include <linux/types.h>

/*
 * Sizes.  Changing one changes the ABI: pinned maps of another size are
 * refused at load and must be removed with pgxrd --detach first.
 */
#ifndef PGXR_MAX_SERVICES
#define PGXR_MAX_SERVICES 16
#endif
#ifndef PGXR_MAX_BACKENDS
#define PGXR_MAX_BACKENDS 128
#endif
/* Maglev table size: prime, and >= 100 x PGXR_MAX_BACKENDS for an even spread */
#ifndef PGXR_RING_SIZE
#define PGXR_RING_SIZE 65537
#endif
/*
 * Flows (30 MB pinned).  An idle flow survives as many new ones as the
 * table holds (vm-tests/bench/flow_lru; t59 sends 200,000 SYNs past two
 * idle sessions), and one evicted still takes its ring's pick: the same
 * backend unless the ring changed since.
 */
#ifndef PGXR_MAX_FLOWS
#define PGXR_MAX_FLOWS 262144
#endif

/*
 * The layout of the pinned maps, which a pgxrd of another build may find:
 * PGXR_MAP_ABI covers the maps that hold decisions (services, backends,
 * rings) and the values in them; pinned by a build of another, they are
 * refused (pgxrd --detach removes them).  PGXR_CACHE_ABI covers the
 * caches (flows, the counters and the verdicts they count by); of
 * another, they are replaced.  Bump one on any change of a struct, an
 * enum or a flag it covers, even when no size changes: test_xdp's
 * fingerprints fail until the new layout is recorded there.
 */
#define PGXR_MAP_ABI 2
#define PGXR_CACHE_ABI 3

/* abi's one value: the ABIs of the build that created the pins */
struct pgxr_abi {
	__u32 maps;		/* PGXR_MAP_ABI */
	__u32 caches;		/* PGXR_CACHE_ABI */
};

/* ring slot value meaning "no backend": the packet goes to the stack */
#define PGXR_NO_BACKEND 0xffffffffu

/* address families as stored in keys: not AF_*, which BPF code lacks */
#define PGXR_FAMILY_V4 4
#define PGXR_FAMILY_V6 6

enum pgxr_svc_kind {
	PGXR_SVC_RW = 1,	/* ring holds the primary */
	PGXR_SVC_RO = 2,	/* ring holds the standbys, Maglev by weight */
	PGXR_SVC_PROXY = 3,	/* XDP_PASS to pgxrd's protocol-level proxy */
};

/* ro service: when no standby is up, the ring holds the primary instead */
#define PGXR_SVC_F_RO_FALLBACK 0x01

enum pgxr_be_state {
	PGXR_BE_UNUSED = 0,	/* slot not configured */
	PGXR_BE_UP = 1,
	PGXR_BE_DOWN = 2,	/* pinned flows get a RST, never in a ring */
	PGXR_BE_FENCED = 3,	/* claims primary but is not the chosen one */
};

enum pgxr_be_role {
	PGXR_ROLE_UNKNOWN = 0,
	PGXR_ROLE_PRIMARY = 1,
	PGXR_ROLE_STANDBY = 2,
};

#define PGXR_BE_F_LOCAL 0x01		/* backend runs on the router: XDP_PASS */
#define PGXR_BE_F_ADMIN_DOWN 0x02	/* set by an operator; survives restarts */
#define PGXR_BE_F_LAGGING 0x04		/* standby past delay_threshold: not in the ro ring */
/* forwarding = ipip: the frame goes in IPIP (IPv6 in IPv6) to addr, through mac, its next hop */
#define PGXR_BE_F_IPIP 0x08

/*
 * What the program did with a packet.  Every packet ends in exactly one
 * verdict, counted in verdict_stats.
 */
enum pgxr_verdict {
	PGXR_V_PASS_OTHER = 0,	/* not TCP to a configured (VIP, port) */
	PGXR_V_PASS_MALFORMED,	/* truncated or inconsistent headers */
	PGXR_V_PASS_FRAGMENT,	/* IP fragment: no ports to steer by */
	PGXR_V_PASS_PROXY,	/* proxy service: to pgxrd's listener */
	PGXR_V_PASS_LOCAL,	/* backend on this host */
	/* backend MAC not resolved yet: pgxrd asks the kernel, the client sends again */
	PGXR_V_DROP_NO_NEIGH,
	PGXR_V_PASS_NO_BACKEND,	/* empty ring; an ICMP error whose flow's backend is not up */
	PGXR_V_PASS_DOWN,	/* RST from the client to a down backend */
	PGXR_V_TX,		/* forwarded to a backend by MAC rewrite */
	PGXR_V_TX_RST,		/* answered with a RST: backend is down */
	/*
	 * The first fragment of a steered service's segment: a backend could
	 * not have the rest (no ports to follow), the stack would reset it
	 */
	PGXR_V_DROP_FRAGMENT,
	/* an ICMP "fragmentation needed" / "packet too big" forwarded to the backend of its flow */
	PGXR_V_TX_ICMP,
	PGXR_V_TX_IPIP,		/* forwarded to a routed backend in IPIP (forwarding = ipip) */
	/*
	 * A segment that would not fit the interface's MTU once in IPIP:
	 * answered with ICMP "fragmentation needed" ("packet too big"), so
	 * the client lowers its MSS and sends it again
	 */
	PGXR_V_TX_TOO_BIG,
	/*
	 * No room for a header to put on (IPIP, a stripped VLAN tag), or in
	 * IPIP too big with options to quote or without DF
	 */
	PGXR_V_DROP_ENCAP,
	PGXR_V_MAX,
};

/* services: key of a steered (VIP, port); addresses in network order */
struct pgxr_svc_key {
	__be32 addr[4];		/* IPv4 in addr[0], rest zero */
	__be16 port;
	__u8 family;		/* PGXR_FAMILY_* */
	__u8 proto;		/* IPPROTO_TCP */
};

struct pgxr_svc {
	__u32 id;		/* index into rings and svc_stats */
	__u8 kind;		/* enum pgxr_svc_kind */
	__u8 flags;		/* PGXR_SVC_F_* */
	__u16 pad;
};

/* backends: indexed by pgpool node id */
struct pgxr_backend {
	__be32 addr[4];
	__u8 family;
	__u8 state;		/* enum pgxr_be_state */
	__u8 role;		/* enum pgxr_be_role */
	__u8 flags;		/* PGXR_BE_F_* */
	__u8 mac[6];		/* all zero: not resolved */
	__u16 port;		/* backend_portN, host order, for operators */
	__u32 weight;		/* backend_weightN x 1000 */
	__be32 tun_src[4];	/* PGXR_BE_F_IPIP: the outer source, the router's address toward it */
};

/* flows: one per client TCP connection, client -> VIP */
struct pgxr_flow_key {
	__be32 src[4];
	__be32 dst[4];
	__be16 sport;
	__be16 dport;
	__u8 family;
	__u8 pad[3];
};

struct pgxr_flow {
	__u32 backend;
	__u32 svc;
	/*
	 * What the client last acknowledged (host order; 0: nothing yet):
	 * the sequence number it expects from the server next, so that user
	 * space can reset a connection whose backend left, without waiting
	 * for the client to send.
	 */
	__u32 ack;
	/* the end of the furthest segment the client sent (host order) */
	__u32 seq_end;
};

/* verdict_stats, svc_stats and backend_stats values (per CPU) */
struct pgxr_counters {
	__u64 packets;
	__u64 bytes;
	__u64 conns;		/* SYNs steered */
	__u64 rsts;		/* RSTs crafted */
	__u64 retrans;		/* client segments and SYNs seen again: the backend did not answer */
	__u64 misses;		/* segments of no known flow but a SYN: evicted or foreign flows, steered by the ring */
};

#endif /* PGXR_XDP_H */
