/* structs.h: BPF-only structures of the XDP program */
#ifndef PGXR_BPF_STRUCTS_H
#define PGXR_BPF_STRUCTS_H

#include <linux/types.h>
#include "pgxr_xdp.h"

/* 802.1Q tag as it follows the MAC addresses (uapi has no such struct) */
struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* what parsing learned about one packet; offsets are from ctx->data */
struct pkt {
	struct pgxr_flow_key flow;	/* client -> VIP 5-tuple */
	__u32 l3_off;			/* 14, or 18 behind a VLAN tag */
	__u32 l3_len;			/* the IP packet's length, from its header */
	__u32 seq;			/* host order */
	__u32 ack_seq;			/* host order */
	__u32 seg_len;			/* payload + SYN + FIN: RFC 793 SEG.LEN */
	__u8 tcp_flags;
};

#endif /* PGXR_BPF_STRUCTS_H */
