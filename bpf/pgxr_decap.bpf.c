// SPDX-License-Identifier: GPL-2.0
/* pgxr_decap.bpf.c: on a backend, takes the IPIP header of a pgxr router (forwarding = ipip) off */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "pgxr_decap.h"
#include "consts.h"
#include "structs.h"

char LICENSE[] SEC("license") = "GPL";

/* verdict -> packets and bytes; the program writes, pgxrctl decap show reads */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PGXR_DECAP_MAX);
	__type(key, __u32);
	__type(value, struct pgxr_decap_counters);
} decap_stats SEC(".maps");

/* [0]: whether only decap_from's sources are taken; pgxrctl writes it at attach */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pgxr_decap_cfg);
} decap_cfg SEC(".maps");

/* the routers IPIP is taken from (their outer source); pgxrctl writes, the program reads */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PGXR_DECAP_MAX_FROM);
	__type(key, struct pgxr_decap_from);
	__type(value, __u8);
} decap_from SEC(".maps");

/*
 * Whether an outer header from src may be taken off: anyone's, as the
 * kernel's own tunl0 does, unless the operator named the routers
 */
static __always_inline int from_ok(const __be32 *src, __u8 family)
{
	struct pgxr_decap_from k = { .family = family };
	struct pgxr_decap_cfg *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&decap_cfg, &zero);
	if (!cfg || !cfg->restrict_from)
		return 1;
	__builtin_memcpy(k.addr, src, family == PGXR_FAMILY_V4 ? 4 : 16);
	return bpf_map_lookup_elem(&decap_from, &k) != NULL;
}

/*
 * Moves the Ethernet header (and its VLAN tag) hdr bytes on, over the
 * outer IP header, and drops what is before it: the frame is the inner
 * packet's, as if it had come so.  The two never overlap: hdr >= 20.
 */
static __always_inline int strip_at(struct xdp_md *ctx, __u32 hdr, const __u32 l3_off)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 eth[ETH_HLEN + sizeof(struct vlan_hdr)];

	if (data + l3_off + hdr > data_end)
		return -1;
	__builtin_memcpy(eth, data, l3_off);
	__builtin_memcpy(data + hdr, eth, l3_off);
	return bpf_xdp_adjust_head(ctx, (int)hdr);
}

static __always_inline int strip(struct xdp_md *ctx, __u32 hdr, __u32 l3_off)
{
	if (l3_off == ETH_HLEN)
		return strip_at(ctx, hdr, ETH_HLEN);
	return strip_at(ctx, hdr, ETH_HLEN + sizeof(struct vlan_hdr));
}

/*
 * RFC 6040: congestion a router marked on the outer header (CE) is the
 * inner packet's, if that one is ECN-capable; IPv4's checksum follows
 * the changed word (RFC 1624)
 */
static __always_inline void ce_copy4(const struct iphdr *o, struct iphdr *in)
{
	__u16 *w = (__u16 *)in, old;
	__u32 sum;

	if ((o->tos & 3) != 3 || !(in->tos & 3) || (in->tos & 3) == 3)
		return;
	old = w[0];
	in->tos |= 3;
	sum = (__u16)~in->check + (__u16)~old + w[0];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	in->check = ~sum;
}

static __always_inline void ce_copy6(const struct ipv6hdr *o, struct ipv6hdr *in)
{
	__u32 ecn = 3 << 20;

	if ((bpf_ntohl(*(__be32 *)o) & ecn) == ecn && (bpf_ntohl(*(__be32 *)in) & ecn))
		*(__be32 *)in |= bpf_htonl(ecn);
}

static __always_inline int decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 l3_off = ETH_HLEN;
	__u16 proto;

	if ((void *)(eth + 1) > data_end)
		return PGXR_DECAP_PASS;
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vh = (void *)(eth + 1);

		if ((void *)(vh + 1) > data_end)
			return PGXR_DECAP_PASS;
		proto = vh->proto;
		l3_off += sizeof(*vh);
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *o = data + l3_off;
		struct iphdr *in = (void *)(o + 1);

		/* pgxr's outer header: no options, no fragment; an IPv4 packet inside */
		if ((void *)(in + 1) > data_end || o->ihl != 5 || o->protocol != IPPROTO_IPIP ||
		    (o->frag_off & bpf_htons(IPV4_MF | IPV4_OFFSET)) || in->version != 4)
			return PGXR_DECAP_PASS;
		if (!from_ok(&o->saddr, PGXR_FAMILY_V4))
			return PGXR_DECAP_DROP_FROM;
		ce_copy4(o, in);
		return strip(ctx, IPV4_HLEN, l3_off) ? PGXR_DECAP_PASS : PGXR_DECAP_IPIP;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *o = data + l3_off;
		struct ipv6hdr *in = (void *)(o + 1);

		if ((void *)(in + 1) > data_end || o->nexthdr != IPPROTO_IPV6 || in->version != 6)
			return PGXR_DECAP_PASS;
		if (!from_ok(o->saddr.in6_u.u6_addr32, PGXR_FAMILY_V6))
			return PGXR_DECAP_DROP_FROM;
		ce_copy6(o, in);
		return strip(ctx, IPV6_HLEN, l3_off) ? PGXR_DECAP_PASS : PGXR_DECAP_IP6IP6;
	}
	return PGXR_DECAP_PASS;
}

SEC("xdp")
int pgxr_decap(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	__u32 verdict = decap(ctx);
	struct pgxr_decap_counters *c = bpf_map_lookup_elem(&decap_stats, &verdict);

	if (c) {
		c->packets++;
		c->bytes += len;
	}
	return verdict == PGXR_DECAP_DROP_FROM ? XDP_DROP : XDP_PASS;
}
