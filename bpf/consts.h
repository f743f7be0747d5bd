/* consts.h: tunables and protocol constants of the XDP program */
#ifndef PGXR_BPF_CONSTS_H
#define PGXR_BPF_CONSTS_H

/*
 * The flow hash seed is fixed so that every router and every restart maps
 * a 5-tuple to the same ring slot (an established session survives a move
 * of the VIP).  Change it only with every router of a cluster at once.
 */
#ifndef PGXR_HASH_SEED
#define PGXR_HASH_SEED 0x70677872u	/* "pgxr" */
#endif

/* hop limit of crafted RSTs */
#ifndef PGXR_RST_TTL
#define PGXR_RST_TTL 64
#endif

/* hop limit of IPIP outer headers and of the ICMP errors the program sends */
#ifndef PGXR_TUNNEL_TTL
#define PGXR_TUNNEL_TTL 64
#endif

/* not in the uapi headers */
#define IPV4_MF 0x2000
#define IPV4_DF 0x4000
#define IPV4_OFFSET 0x1FFF
#define IPV6_NEXTHDR_HOP 0
#define IPV6_NEXTHDR_ROUTING 43
#define IPV6_NEXTHDR_FRAGMENT 44
#define IPV6_NEXTHDR_DEST 60
#define IPV6_FRAG_OFFSET 0xFFF8	/* of the fragment header's frag_off, network order swapped */

/* IPv6 extension headers walked to find TCP; past them the packet is the stack's */
#ifndef PGXR_IPV6_EXT_MAX
#define PGXR_IPV6_EXT_MAX 4
#endif

/* the path MTU errors (linux/icmp.h pulls in libc headers BPF cannot build with) */
#define ICMP_DEST_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define ICMPV6_PKT_TOOBIG 2
#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6 58
#endif

/* TCP flags byte (offset 13 of the header) */
#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_ACK 0x10

#define IPV4_HLEN 20
#define IPV6_HLEN 40
#define TCP_HLEN 20

#endif /* PGXR_BPF_CONSTS_H */
