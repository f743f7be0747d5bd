/* encap.h: IPIP (IPv6 in IPv6) toward a routed backend, and the ICMP error for what cannot fit */
#ifndef PGXR_BPF_ENCAP_H
#define PGXR_BPF_ENCAP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "consts.h"
#include "csum.h"
#include "structs.h"

/* the bytes of the inner packet an ICMP error quotes: its IP header and 8 more (RFC 792) */
#define QUOTE4 (IPV4_HLEN + 8)
#define QUOTE6 (IPV6_HLEN + 8)

/*
 * The new Ethernet header in front of a frame whose old one now starts
 * hdr bytes further (after bpf_xdp_adjust_head): to dst (NULL: back to
 * the sender), from the router (the old destination), with the old VLAN
 * tag and EtherType.  The two never overlap: hdr >= 20.
 */
static __always_inline int eth_push(void *data, void *data_end, __u32 hdr, const __u32 l3_off,
				    const __u8 *dst)
{
	__u8 *old = data + hdr, *eth = data;
	__u8 from[ETH_ALEN], to[ETH_ALEN];

	if ((void *)(old + l3_off) > data_end)
		return -1;
	__builtin_memcpy(from, old, ETH_ALEN);
	__builtin_memcpy(to, dst ? dst : old + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(eth, to, ETH_ALEN);
	__builtin_memcpy(eth + ETH_ALEN, from, ETH_ALEN);
	/* the tag and the EtherType: the outer header is of the inner's family */
	__builtin_memcpy(eth + 2 * ETH_ALEN, old + 2 * ETH_ALEN, l3_off - 2 * ETH_ALEN);
	return 0;
}

/*
 * Puts the IP packet in an outer header to the backend (protocol 4, or
 * next header 41), from its tun_src, and the frame to its next hop's
 * MAC.  The outer header copies the inner's traffic class and is never
 * fragmented; IPv6's flow label carries the flow hash for ECMP on the way.
 */
static __always_inline int encap_at(struct xdp_md *ctx, const struct pkt *p,
				    const struct pgxr_backend *be, __u32 hash, const __u32 l3_off)
{
	void *data, *data_end;

	if (p->flow.family == PGXR_FAMILY_V4) {
		struct iphdr ip = {}, *o, *in;

		if (bpf_xdp_adjust_head(ctx, -(int)IPV4_HLEN))
			return -1;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		o = data + l3_off;
		in = (void *)(o + 1);
		if ((void *)(in + 1) > data_end ||
		    eth_push(data, data_end, IPV4_HLEN, l3_off, be->mac))
			return -1;
		ip.version = 4;
		ip.ihl = IPV4_HLEN / 4;
		ip.tos = in->tos;
		ip.tot_len = bpf_htons(bpf_ntohs(in->tot_len) + IPV4_HLEN);
		/* never fragmented on the way: the ICMP for an oversize one comes back to us */
		ip.frag_off = bpf_htons(IPV4_DF);
		ip.ttl = PGXR_TUNNEL_TTL;
		ip.protocol = IPPROTO_IPIP;
		ip.saddr = be->tun_src[0];
		ip.daddr = be->addr[0];
		ip.check = csum_fold(csum_add(0, &ip, IPV4_HLEN));
		__builtin_memcpy(o, &ip, IPV4_HLEN);
	} else {
		struct ipv6hdr ip6 = {}, *o, *in;
		__u32 first;

		if (bpf_xdp_adjust_head(ctx, -(int)IPV6_HLEN))
			return -1;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		o = data + l3_off;
		in = (void *)(o + 1);
		if ((void *)(in + 1) > data_end ||
		    eth_push(data, data_end, IPV6_HLEN, l3_off, be->mac))
			return -1;
		/* version 6, the inner traffic class, the flow hash as the label */
		first = bpf_ntohl(*(__be32 *)in) & 0x0ff00000;
		*(__be32 *)&ip6 = bpf_htonl(0x60000000 | first | (hash & 0xfffff));
		ip6.payload_len = bpf_htons(bpf_ntohs(in->payload_len) + IPV6_HLEN);
		ip6.nexthdr = IPPROTO_IPV6;
		ip6.hop_limit = PGXR_TUNNEL_TTL;
		__builtin_memcpy(&ip6.saddr, be->tun_src, 16);
		__builtin_memcpy(&ip6.daddr, be->addr, 16);
		__builtin_memcpy(o, &ip6, IPV6_HLEN);
	}
	return 0;
}

/*
 * Turns the client's segment into the ICMP error that tells it the path
 * takes at most mtu bytes (the interface's MTU less the outer header):
 * "fragmentation needed" from the VIP (IPv4), "packet too big" (IPv6),
 * quoting the segment's IP header and first 8 bytes, back out to the
 * client's MAC.  The caller saw that the segment has no IPv4 options or
 * IPv6 extension headers, which the quote would cut.
 */
/*
 * Room for an ICMP error back to the frame's sender: hdr bytes of IP
 * header and 8 of ICMP before the packet's first quote bytes (its own IP
 * header and 8 more), the rest cut off, the Ethernet header turned
 * around.  The new IP header, with hdr + 8 + quote bytes readable; NULL
 * when the frame cannot be reshaped.
 */
static __always_inline void *reply_room(struct xdp_md *ctx, __u32 len, const __u32 hdr,
					const __u32 quote, const __u32 l3_off)
{
	void *data, *data_end;

	if (bpf_xdp_adjust_head(ctx, -(int)(hdr + 8)) ||
	    bpf_xdp_adjust_tail(ctx, (int)(l3_off + hdr + 8 + quote) - (int)(len + hdr + 8)))
		return NULL;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + l3_off + hdr + 8 + quote > data_end ||
	    eth_push(data, data_end, hdr + 8, l3_off, NULL))
		return NULL;
	return data + l3_off;
}

static __always_inline int too_big_at(struct xdp_md *ctx, const struct pkt *p, __u32 len,
				      __u32 mtu, const __u32 l3_off)
{
	__u32 sum;

	if (p->flow.family == PGXR_FAMILY_V4) {
		struct iphdr ip = {}, *o = reply_room(ctx, len, IPV4_HLEN, QUOTE4, l3_off);
		__u8 *icmp = (void *)(o + 1);

		if (!o || icmp[8] != 0x45)
			return -1;
		ip.version = 4;
		ip.ihl = IPV4_HLEN / 4;
		ip.tot_len = bpf_htons(IPV4_HLEN + 8 + QUOTE4);
		ip.ttl = PGXR_TUNNEL_TTL;
		ip.protocol = IPPROTO_ICMP;
		ip.saddr = p->flow.dst[0];
		ip.daddr = p->flow.src[0];
		ip.check = csum_fold(csum_add(0, &ip, IPV4_HLEN));
		__builtin_memcpy(o, &ip, IPV4_HLEN);
		icmp[0] = ICMP_DEST_UNREACH;
		icmp[1] = ICMP_FRAG_NEEDED;
		*(__u16 *)(icmp + 2) = 0;
		*(__u16 *)(icmp + 4) = 0;
		*(__be16 *)(icmp + 6) = bpf_htons(mtu - IPV4_HLEN);
		*(__u16 *)(icmp + 2) = csum_fold(csum_add(0, icmp, 8 + QUOTE4));
	} else {
		struct ipv6hdr ip6 = {}, *o = reply_room(ctx, len, IPV6_HLEN, QUOTE6, l3_off);
		__u8 *icmp = (void *)(o + 1);

		if (!o || icmp[8 + 6] != IPPROTO_TCP)
			return -1;
		ip6.version = 6;
		ip6.payload_len = bpf_htons(8 + QUOTE6);
		ip6.nexthdr = IPPROTO_ICMPV6;
		ip6.hop_limit = PGXR_TUNNEL_TTL;
		__builtin_memcpy(&ip6.saddr, p->flow.dst, 16);
		__builtin_memcpy(&ip6.daddr, p->flow.src, 16);
		__builtin_memcpy(o, &ip6, IPV6_HLEN);
		icmp[0] = ICMPV6_PKT_TOOBIG;
		icmp[1] = 0;
		*(__u16 *)(icmp + 2) = 0;
		*(__be32 *)(icmp + 4) = bpf_htonl(mtu - IPV6_HLEN);
		sum = csum_add(0, &ip6.saddr, 32);
		sum += bpf_htons(8 + QUOTE6) + bpf_htons(IPPROTO_ICMPV6);
		*(__u16 *)(icmp + 2) = csum_fold(csum_add(sum, icmp, 8 + QUOTE6));
	}
	return 0;
}

/*
 * Whether the segment still fits the interface's MTU once in its outer
 * header; if not, *mtu is the interface's MTU
 */
static __always_inline int encap_fits(struct xdp_md *ctx, const struct pkt *p, __u32 *mtu)
{
	*mtu = p->l3_len + (p->flow.family == PGXR_FAMILY_V4 ? IPV4_HLEN : IPV6_HLEN);
	return bpf_check_mtu(ctx, 0, mtu, 0, 0) != BPF_MTU_CHK_RET_FRAG_NEEDED;
}

/*
 * A segment too big for the tunnel: the ICMP error to its client
 * (PGXR_V_TX_TOO_BIG), which sends it again smaller.  Dropped instead
 * (the stack would reset it): one whose quote would not hold its ports,
 * and an IPv4 one without DF, whose sender does not do path MTU discovery
 * and would send it the same again (the backends' advmss is the cure).
 */
static __always_inline int too_big(struct xdp_md *ctx, const struct pkt *p, __u32 len, __u32 mtu)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *l3 = data + (p->l3_off & 0x1f);
	int ret;

	if ((void *)(l3 + IPV6_HLEN) > data_end ||
	    (p->flow.family == PGXR_FAMILY_V4 ? l3[0] != 0x45 || !(l3[6] & 0x40) :
						 l3[6] != IPPROTO_TCP))
		return PGXR_V_DROP_ENCAP;
	if (p->l3_off == sizeof(struct ethhdr))
		ret = too_big_at(ctx, p, len, mtu, sizeof(struct ethhdr));
	else
		ret = too_big_at(ctx, p, len, mtu, sizeof(struct ethhdr) + sizeof(struct vlan_hdr));
	return ret ? PGXR_V_DROP_ENCAP : PGXR_V_TX_TOO_BIG;
}

/*
 * The frame in its outer header to be: verdict (PGXR_V_TX becomes
 * PGXR_V_TX_IPIP), or PGXR_V_DROP_ENCAP with no headroom for it.
 */
static __always_inline int encap(struct xdp_md *ctx, const struct pkt *p,
				 const struct pgxr_backend *be, __u32 hash, int verdict)
{
	int ret;

	if (p->l3_off == sizeof(struct ethhdr))
		ret = encap_at(ctx, p, be, hash, sizeof(struct ethhdr));
	else
		ret = encap_at(ctx, p, be, hash, sizeof(struct ethhdr) + sizeof(struct vlan_hdr));
	if (ret)
		return PGXR_V_DROP_ENCAP;
	return verdict == PGXR_V_TX ? PGXR_V_TX_IPIP : verdict;
}

#endif /* PGXR_BPF_ENCAP_H */
