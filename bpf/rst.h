/* rst.h: turn a client segment into the RST that resets its connection */
#ifndef PGXR_BPF_RST_H
#define PGXR_BPF_RST_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "consts.h"
#include "csum.h"
#include "structs.h"

/*
 * RFC 793 reset generation for a segment that belongs to no usable
 * connection: if it carries an ACK the RST takes its sequence number from
 * that ACK; otherwise the RST has sequence 0 and acknowledges the segment.
 */
static __always_inline void rst_fill_tcp(struct tcphdr *rst, const struct pkt *p)
{
	__u8 *flags = (__u8 *)rst + 13;

	__builtin_memset(rst, 0, sizeof(*rst));
	rst->source = p->flow.dport;
	rst->dest = p->flow.sport;
	rst->doff = TCP_HLEN / 4;
	if (p->tcp_flags & TCPF_ACK) {
		rst->seq = bpf_htonl(p->ack_seq);
		*flags = TCPF_RST;
	} else {
		rst->ack_seq = bpf_htonl(p->seq + p->seg_len);
		*flags = TCPF_RST | TCPF_ACK;
	}
}

/*
 * Rewrites the packet in place into a RST from the VIP back to the client
 * (MACs, addresses and ports swapped; options and payload cut) and returns
 * PGXR_V_TX_RST, or PGXR_V_PASS_DOWN when nothing may or can be sent: a
 * RST is never answered with a RST.
 */
static __always_inline int craft_rst_at(struct xdp_md *ctx, const struct pkt *p,
					__u32 len, const __u32 l3_off)
{
	__u32 l3_len = p->flow.family == PGXR_FAMILY_V4 ? IPV4_HLEN : IPV6_HLEN;
	__u32 new_len = l3_off + l3_len + TCP_HLEN;
	void *data, *data_end;
	struct ethhdr *eth;
	struct tcphdr tcp;
	__u8 mac[ETH_ALEN];
	__u32 sum;

	if (p->tcp_flags & TCPF_RST)
		return PGXR_V_PASS_DOWN;
	if (bpf_xdp_adjust_tail(ctx, (int)new_len - (int)len))
		return PGXR_V_PASS_DOWN;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return PGXR_V_PASS_DOWN;
	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);

	rst_fill_tcp(&tcp, p);
	if (p->flow.family == PGXR_FAMILY_V4) {
		struct iphdr *iph = data + l3_off;
		struct iphdr ip = {};

		if ((void *)(iph + 1) + TCP_HLEN > data_end)
			return PGXR_V_PASS_DOWN;
		ip.version = 4;
		ip.ihl = IPV4_HLEN / 4;
		ip.tot_len = bpf_htons(IPV4_HLEN + TCP_HLEN);
		ip.frag_off = bpf_htons(IPV4_DF);
		ip.ttl = PGXR_RST_TTL;
		ip.protocol = IPPROTO_TCP;
		ip.saddr = p->flow.dst[0];
		ip.daddr = p->flow.src[0];
		ip.check = csum_fold(csum_add(0, &ip, IPV4_HLEN));
		sum = csum_add(0, &ip.saddr, 8);
		sum += bpf_htons(IPPROTO_TCP) + bpf_htons(TCP_HLEN);
		tcp.check = csum_fold(csum_add(sum, &tcp, TCP_HLEN));
		__builtin_memcpy(iph, &ip, IPV4_HLEN);
		__builtin_memcpy(iph + 1, &tcp, TCP_HLEN);
	} else {
		struct ipv6hdr *ip6h = data + l3_off;
		struct ipv6hdr ip6 = {};

		if ((void *)(ip6h + 1) + TCP_HLEN > data_end)
			return PGXR_V_PASS_DOWN;
		ip6.version = 6;
		ip6.payload_len = bpf_htons(TCP_HLEN);
		ip6.nexthdr = IPPROTO_TCP;
		ip6.hop_limit = PGXR_RST_TTL;
		__builtin_memcpy(&ip6.saddr, p->flow.dst, 16);
		__builtin_memcpy(&ip6.daddr, p->flow.src, 16);
		sum = csum_add(0, &ip6.saddr, 32);
		sum += bpf_htons(IPPROTO_TCP) + bpf_htons(TCP_HLEN);
		tcp.check = csum_fold(csum_add(sum, &tcp, TCP_HLEN));
		__builtin_memcpy(ip6h, &ip6, IPV6_HLEN);
		__builtin_memcpy(ip6h + 1, &tcp, TCP_HLEN);
	}
	return PGXR_V_TX_RST;
}

/* the L3 offset as a constant in each branch keeps packet accesses verifiable */
static __always_inline int craft_rst(struct xdp_md *ctx, const struct pkt *p, __u32 len)
{
	if (p->l3_off == sizeof(struct ethhdr))
		return craft_rst_at(ctx, p, len, sizeof(struct ethhdr));
	return craft_rst_at(ctx, p, len, sizeof(struct ethhdr) + sizeof(struct vlan_hdr));
}

#endif /* PGXR_BPF_RST_H */
