/* parse.h: Ethernet/802.1Q/IPv4/IPv6/TCP parsing into struct pkt */
#ifndef PGXR_BPF_PARSE_H
#define PGXR_BPF_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "consts.h"
#include "structs.h"

/* parse_pkt() result meaning "a well-formed TCP segment: go on" */
#define PARSE_OK PGXR_V_MAX
/* parse_pkt() result: the first fragment of a TCP segment, its addresses and ports in p->flow */
#define PARSE_FRAGMENT (PGXR_V_MAX + 1)
/*
 * parse_pkt() result: an ICMP "fragmentation needed" or ICMPv6 "packet
 * too big" about a segment the VIP sent; p->flow is the flow the segment
 * belongs to (its inner 5-tuple reversed: client -> VIP)
 */
#define PARSE_ICMP_PTB (PGXR_V_MAX + 2)

/* the ports of a first fragment's TCP header, if the fragment (room bytes past l4) holds them */
static __always_inline int parse_fragment(struct pkt *p, const void *l4, __u32 room,
					  const void *data_end)
{
	const __be16 *ports = l4;

	if (room < 4 || (const void *)(ports + 2) > data_end)
		return PGXR_V_PASS_FRAGMENT;
	p->flow.sport = ports[0];
	p->flow.dport = ports[1];
	return PARSE_FRAGMENT;
}

/*
 * The quoted TCP header's ports of an ICMP error (RFC 792 quotes at least
 * 8 bytes past the IP header, RFC 4443 as much as fits), reversed into
 * the client's flow.  The error must come back to the segment's source:
 * an ICMP to anyone else about the VIP's segment is not ours.
 */
static __always_inline int parse_quoted_ports(struct pkt *p, const __be16 *ports,
					      const void *data_end)
{
	if ((const void *)(ports + 2) > data_end)
		return PGXR_V_PASS_OTHER;
	p->flow.sport = ports[1];
	p->flow.dport = ports[0];
	return PARSE_ICMP_PTB;
}

/* ICMP type 3 code 4 quoting an IPv4 TCP segment from the packet's destination */
static __always_inline int parse_icmp4(struct pkt *p, const struct iphdr *iph, const __u8 *icmp,
				       const void *data_end)
{
	const struct iphdr *in = (const void *)(icmp + 8);

	if ((const void *)(in + 1) > data_end)
		return PGXR_V_PASS_OTHER;
	if (icmp[0] != ICMP_DEST_UNREACH || icmp[1] != ICMP_FRAG_NEEDED)
		return PGXR_V_PASS_OTHER;
	if (in->version != 4 || in->ihl < 5 || in->protocol != IPPROTO_TCP ||
	    in->saddr != iph->daddr || (in->frag_off & bpf_htons(IPV4_OFFSET)))
		return PGXR_V_PASS_OTHER;
	p->flow.family = PGXR_FAMILY_V4;
	p->flow.src[0] = in->daddr;
	p->flow.dst[0] = in->saddr;
	return parse_quoted_ports(p, (const void *)in + (in->ihl & 0xf) * 4, data_end);
}

/* ICMPv6 type 2 quoting an IPv6 TCP segment (no extension header) from the packet's destination */
static __always_inline int parse_icmp6(struct pkt *p, const struct ipv6hdr *ip6, const __u8 *icmp,
				       const void *data_end)
{
	const struct ipv6hdr *in = (const void *)(icmp + 8);

	if ((const void *)(in + 1) > data_end)
		return PGXR_V_PASS_OTHER;
	if (icmp[0] != ICMPV6_PKT_TOOBIG || in->version != 6 || in->nexthdr != IPPROTO_TCP)
		return PGXR_V_PASS_OTHER;
#pragma unroll
	for (int i = 0; i < 4; i++)
		if (in->saddr.in6_u.u6_addr32[i] != ip6->daddr.in6_u.u6_addr32[i])
			return PGXR_V_PASS_OTHER;
	p->flow.family = PGXR_FAMILY_V6;
	__builtin_memcpy(p->flow.src, &in->daddr, 16);
	__builtin_memcpy(p->flow.dst, &in->saddr, 16);
	return parse_quoted_ports(p, (const void *)(in + 1), data_end);
}

static __always_inline __u8 tcp_flags_byte(const struct tcphdr *tcp)
{
	return ((const __u8 *)tcp)[13];
}

/* fills the TCP part of p; tcp_room is what the IP header says is left */
static __always_inline int parse_tcp(struct pkt *p, const struct tcphdr *tcp,
				     __u32 tcp_room)
{
	__u32 doff = tcp->doff * 4;

	if (doff < TCP_HLEN || doff > tcp_room)
		return PGXR_V_PASS_MALFORMED;
	p->flow.sport = tcp->source;
	p->flow.dport = tcp->dest;
	p->seq = bpf_ntohl(tcp->seq);
	p->ack_seq = bpf_ntohl(tcp->ack_seq);
	p->tcp_flags = tcp_flags_byte(tcp);
	p->seg_len = tcp_room - doff;
	if (p->tcp_flags & TCPF_SYN)
		p->seg_len++;
	if (p->tcp_flags & TCPF_FIN)
		p->seg_len++;
	return PARSE_OK;
}

static __always_inline int parse_ipv4(struct pkt *p, void *data, void *data_end)
{
	struct iphdr *iph = data + p->l3_off;
	struct tcphdr *tcp;
	__u32 ihl, tot;

	if ((void *)(iph + 1) > data_end)
		return PGXR_V_PASS_MALFORMED;
	if (iph->version != 4 || iph->ihl < 5)
		return PGXR_V_PASS_MALFORMED;
	ihl = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	/* Ethernet padding may follow tot_len; a shorter frame is truncated */
	if (tot < ihl || (void *)iph + tot > data_end)
		return PGXR_V_PASS_MALFORMED;
	/* a later fragment has no ports: nobody can tell whose segment it is */
	if (iph->frag_off & bpf_htons(IPV4_OFFSET))
		return PGXR_V_PASS_FRAGMENT;
	if (iph->protocol == IPPROTO_ICMP && !(iph->frag_off & bpf_htons(IPV4_MF)))
		return parse_icmp4(p, iph, (void *)iph + ihl, data_end);
	if (iph->protocol != IPPROTO_TCP)
		return iph->frag_off & bpf_htons(IPV4_MF) ? PGXR_V_PASS_FRAGMENT : PGXR_V_PASS_OTHER;
	tcp = (void *)iph + ihl;
	p->l3_len = tot;
	p->flow.family = PGXR_FAMILY_V4;
	p->flow.src[0] = iph->saddr;
	p->flow.dst[0] = iph->daddr;
	if (iph->frag_off & bpf_htons(IPV4_MF))
		return parse_fragment(p, tcp, tot - ihl, data_end);
	if ((void *)(tcp + 1) > data_end)
		return PGXR_V_PASS_MALFORMED;
	return parse_tcp(p, tcp, tot - ihl);
}

/*
 * IPv6: TCP behind up to PGXR_IPV6_EXT_MAX extension headers (hop-by-hop,
 * routing, destination options, a fragment header), which the packet
 * keeps when it is forwarded.  Anything else after them is not ours.
 */
static __always_inline int parse_ipv6(struct pkt *p, void *data, void *data_end)
{
	struct ipv6hdr *ip6 = data + p->l3_off;
	void *l4 = ip6 + 1;
	struct tcphdr *tcp;
	__u32 plen, ext = 0;
	__u8 next;
	int first_frag = 0;

	if ((void *)(ip6 + 1) > data_end)
		return PGXR_V_PASS_MALFORMED;
	if (ip6->version != 6)
		return PGXR_V_PASS_MALFORMED;
	plen = bpf_ntohs(ip6->payload_len);
	if ((void *)(ip6 + 1) + plen > data_end)
		return PGXR_V_PASS_MALFORMED;
	next = ip6->nexthdr;
#pragma unroll
	for (int i = 0; i < PGXR_IPV6_EXT_MAX; i++) {
		__u8 *h = l4;

		if (next != IPV6_NEXTHDR_HOP && next != IPV6_NEXTHDR_ROUTING &&
		    next != IPV6_NEXTHDR_DEST && next != IPV6_NEXTHDR_FRAGMENT)
			break;
		if ((void *)(h + 8) > data_end)
			return PGXR_V_PASS_MALFORMED;
		if (next == IPV6_NEXTHDR_FRAGMENT) {
			__u16 frag = bpf_ntohs(*(__be16 *)(h + 2));

			/* a later fragment has no ports; an atomic one (RFC 6946) is whole */
			if (frag & IPV6_FRAG_OFFSET)
				return PGXR_V_PASS_FRAGMENT;
			first_frag = frag & 1;
			next = h[0];
			ext += 8;
		} else {
			/* a routing header with segments left: the VIP is not where the packet ends */
			if (next == IPV6_NEXTHDR_ROUTING && h[3])
				return PGXR_V_PASS_OTHER;
			next = h[0];
			ext += (h[1] + 1) * 8;
		}
		if (ext > plen)
			return PGXR_V_PASS_MALFORMED;
		l4 = (void *)(ip6 + 1) + (ext & 0xffff);
	}
	if (next == IPPROTO_ICMPV6 && !first_frag)
		return parse_icmp6(p, ip6, l4, data_end);
	if (next != IPPROTO_TCP)
		return first_frag ? PGXR_V_PASS_FRAGMENT : PGXR_V_PASS_OTHER;
	p->l3_len = IPV6_HLEN + plen;
	p->flow.family = PGXR_FAMILY_V6;
	__builtin_memcpy(p->flow.src, &ip6->saddr, 16);
	__builtin_memcpy(p->flow.dst, &ip6->daddr, 16);
	if (first_frag)
		return parse_fragment(p, l4, plen - ext, data_end);
	tcp = l4;
	if ((void *)(tcp + 1) > data_end)
		return PGXR_V_PASS_MALFORMED;
	return parse_tcp(p, tcp, plen - ext);
}

/*
 * Returns PARSE_OK for a TCP segment over IPv4 or IPv6 behind at most one
 * 802.1Q tag, PARSE_FRAGMENT for the first fragment of one, PARSE_ICMP_PTB
 * for a path MTU error about one the VIP sent, or the pass verdict
 * explaining why the packet is not ours.
 */
static __always_inline int parse_pkt(struct xdp_md *ctx, struct pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u16 proto;

	if ((void *)(eth + 1) > data_end)
		return PGXR_V_PASS_MALFORMED;
	proto = eth->h_proto;
	p->l3_off = sizeof(*eth);
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vh = (void *)(eth + 1);

		if ((void *)(vh + 1) > data_end)
			return PGXR_V_PASS_MALFORMED;
		proto = vh->proto;
		p->l3_off += sizeof(*vh);
	}
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(p, data, data_end);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(p, data, data_end);
	/* ARP, LLDP, a second VLAN tag...: not ours */
	return PGXR_V_PASS_OTHER;
}

#endif /* PGXR_BPF_PARSE_H */
