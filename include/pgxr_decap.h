/* pgxr_decap.h: the map ABI of the decapsulation program backends run, shared by bpf/ and pgxrctl */
#ifndef PGXR_DECAP_H
#define PGXR_DECAP_H

#include <linux/types.h>

/* outer sources a backend may take IPIP from (pgxrctl decap attach ... from ADDR) */
#ifndef PGXR_DECAP_MAX_FROM
#define PGXR_DECAP_MAX_FROM 64
#endif

/* what the program did with a packet; each ends in one, counted in decap_stats */
enum pgxr_decap_verdict {
	PGXR_DECAP_PASS = 0,	/* not IPIP to take off: to the stack untouched */
	PGXR_DECAP_IPIP,	/* IPv4 in IPv4: the outer header taken off */
	PGXR_DECAP_IP6IP6,	/* IPv6 in IPv6: the outer header taken off */
	PGXR_DECAP_DROP_FROM,	/* IPIP from a source not in decap_from: dropped */
	PGXR_DECAP_MAX,
};

/* decap_from: an outer source taken from; addresses in network order */
struct pgxr_decap_from {
	__be32 addr[4];		/* IPv4 in addr[0], rest zero */
	__u8 family;		/* PGXR_FAMILY_V4 or _V6 of pgxr_xdp.h: 4 or 6 */
	__u8 pad[3];
};

/* decap_cfg's one value */
struct pgxr_decap_cfg {
	__u32 restrict_from;	/* 1: only sources in decap_from; 0: any (as the kernel's tunl0) */
};

/* decap_stats values (per CPU) */
struct pgxr_decap_counters {
	__u64 packets;
	__u64 bytes;
};

#endif /* PGXR_DECAP_H */
