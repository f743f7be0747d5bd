// SPDX-License-Identifier: GPL-2.0
/* pgxr_xdp.bpf.c: steers client TCP flows to a VIP to PostgreSQL backends (DSR) */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "pgxr_xdp.h"
#include "consts.h"
#include "structs.h"
#include "maps.h"
#include "parse.h"
#include "rst.h"
#include "encap.h"
#include "vlan.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline __u32 hash_mix(__u32 h, __u32 w)
{
	h ^= w;
	h *= 0x9e3779b1u;
	return (h << 15) | (h >> 17);
}

/*
 * Flow hash over the whole 5-tuple.  The same function runs on every
 * router, so a flow lands on the same ring slot wherever it arrives.
 */
static __always_inline __u32 flow_hash(const struct pgxr_flow_key *k)
{
	__u32 h = PGXR_HASH_SEED;

#pragma unroll
	for (int i = 0; i < 4; i++) {
		h = hash_mix(h, k->src[i]);
		h = hash_mix(h, k->dst[i]);
	}
	h = hash_mix(h, ((__u32)k->sport << 16) | k->dport);
	h = hash_mix(h, k->family);
	/* final avalanche so that the low bits used by the modulo are mixed */
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static __always_inline void count(void *map, __u32 key, __u64 bytes, __u64 conns,
				  __u64 rsts, __u64 retrans, __u64 misses)
{
	struct pgxr_counters *c = bpf_map_lookup_elem(map, &key);

	if (!c)
		return;
	c->packets++;
	c->bytes += bytes;
	c->conns += conns;
	c->rsts += rsts;
	c->retrans += retrans;
	c->misses += misses;
}

/*
 * Follows the client's side of an established flow: the last ACK it sent
 * and the end of its furthest segment.  A segment that carries nothing
 * beyond that end is a retransmission: the client heard nothing back.
 * Returns 1 for a retransmission.
 */
static __always_inline int flow_track(struct pgxr_flow *f, const struct pkt *p)
{
	__u32 end = p->seq + p->seg_len;

	if (p->tcp_flags & TCPF_ACK)
		f->ack = p->ack_seq;
	if ((__s32)(end - f->seq_end) > 0) {
		f->seq_end = end;
		return 0;
	}
	return p->seg_len != 0;
}

/* Maglev lookup: slot of the ring picked by the flow hash */
static __always_inline __u32 ring_pick(__u32 svc_id, const struct pgxr_flow_key *k)
{
	__u32 slot = flow_hash(k) % PGXR_RING_SIZE;
	void *ring = bpf_map_lookup_elem(&rings, &svc_id);
	__u32 *be;

	if (!ring)
		return PGXR_NO_BACKEND;
	be = bpf_map_lookup_elem(ring, &slot);
	return be ? *be : PGXR_NO_BACKEND;
}

/* the service of a (VIP, port), or NULL */
static __always_inline struct pgxr_svc *svc_of(const struct pkt *p)
{
	struct pgxr_svc_key skey = {};

	__builtin_memcpy(skey.addr, p->flow.dst, sizeof(skey.addr));
	skey.port = p->flow.dport;
	skey.family = p->flow.family;
	skey.proto = IPPROTO_TCP;
	return bpf_map_lookup_elem(&services, &skey);
}

/*
 * Whether the program cannot send to be yet: its MAC (its next hop's) is
 * not resolved, or, in IPIP, the outer source is not known
 */
static __always_inline int unresolved(const struct pgxr_backend *be)
{
	if (!(be->mac[0] | be->mac[1] | be->mac[2] | be->mac[3] | be->mac[4] | be->mac[5]))
		return 1;
	return (be->flags & PGXR_BE_F_IPIP) &&
	       !(be->tun_src[0] | be->tun_src[1] | be->tun_src[2] | be->tun_src[3]);
}

/*
 * Sends the frame on to be, as verdict: DSR rewrites only the destination
 * MAC (the VIP stays the L3 target); forwarding = ipip puts the packet in
 * an outer header to the backend, through its next hop's MAC.
 */
static __always_inline int forward(struct xdp_md *ctx, const struct pkt *p,
				   const struct pgxr_backend *be, int verdict)
{
	struct ethhdr *eth = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (be->flags & PGXR_BE_F_IPIP)
		return encap(ctx, p, be, flow_hash(&p->flow), verdict);
	if ((void *)(eth + 1) > data_end)
		return PGXR_V_PASS_MALFORMED;
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, be->mac, ETH_ALEN);
	return verdict;
}

/*
 * A packet to a steered service: to its flow's backend, or for a new
 * flow to the ring's pick.  What cannot reach a backend is never handed
 * to the stack, which owns the VIP, has no listener on the port, and
 * would reset the client's session: a down backend's clients get a RST
 * of the program's own, a packet for a backend whose MAC is unknown is
 * dropped (the client sends it again once pgxrd resolved it).
 */
static __always_inline int steer_flow(struct xdp_md *ctx, __u32 len, struct pkt *p,
				      const struct pgxr_svc *svc, int *conn, int *miss)
{
	struct pgxr_flow flow = {};
	struct pgxr_backend *be;
	struct pgxr_flow *f;
	int syn, ret, retrans = 0;
	__u32 mtu;

	syn = (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;
	f = bpf_map_lookup_elem(&flows, &p->flow);
	if (syn) {
		/* the same SYN again (its ISN) was not answered; another is a reused 5-tuple */
		retrans = f && f->seq_end == p->seq + 1;
		/* either way a SYN is hashed fresh: a reused 5-tuple is a new session */
		f = NULL;
	} else if (f) {
		/* tracked on a copy: what is dropped below was not sent, and is sent again */
		flow = *f;
		retrans = flow_track(&flow, p);
	} else {
		/* an evicted flow (or one another router had): the ring's pick, counted */
		*miss = 1;
	}
	if (!f) {
		flow.svc = svc->id;
		flow.backend = ring_pick(svc->id, &p->flow);
		flow.ack = p->tcp_flags & TCPF_ACK ? p->ack_seq : 0;
		flow.seq_end = p->seq + p->seg_len;
		if (flow.backend == PGXR_NO_BACKEND)
			return PGXR_V_PASS_NO_BACKEND;
	}
	be = bpf_map_lookup_elem(&backends, &flow.backend);
	/* down, fenced, or gone from the configuration: the client hears it at once */
	if (!be || be->state != PGXR_BE_UP) {
		bpf_map_delete_elem(&flows, &p->flow);
		ret = craft_rst(ctx, p, len);
		count(&backend_stats, flow.backend, 0, 0, ret == PGXR_V_TX_RST, 0, 0);
		return ret;
	}
	/* a local backend has no MAC: the stack delivers to it */
	if (!(be->flags & PGXR_BE_F_LOCAL) && unresolved(be))
		return PGXR_V_DROP_NO_NEIGH;
	/* too big for the tunnel: the client learns the MTU and sends it again; the flow stays */
	if ((be->flags & PGXR_BE_F_IPIP) && !encap_fits(ctx, p, &mtu))
		return too_big(ctx, p, len, mtu);
	if (be->flags & PGXR_BE_F_LOCAL) {
		ret = PGXR_V_PASS_LOCAL;
	} else {
		/* the flow moves only with a packet that leaves */
		ret = forward(ctx, p, be, PGXR_V_TX);
		if (ret != PGXR_V_TX && ret != PGXR_V_TX_IPIP)
			return ret;
	}
	/*
	 * The client's RST ends the flow: the backend gets it, the entry
	 * goes.  Only one at the sequence the backend expects next (RFC 5961):
	 * another, spoofed or late, leaves the session where it is.
	 */
	if (p->tcp_flags & TCPF_RST) {
		if (f && p->seq == f->seq_end)
			bpf_map_delete_elem(&flows, &p->flow);
	} else if (f) {
		f->ack = flow.ack;
		f->seq_end = flow.seq_end;
	} else {
		bpf_map_update_elem(&flows, &p->flow, &flow, BPF_ANY);
	}
	*conn = syn;
	count(&backend_stats, flow.backend, len, syn, 0, retrans, 0);
	return ret;
}

/*
 * The first fragment of a segment to rw or ro: dropped, as a remote
 * backend could never have the rest (later fragments carry no ports);
 * the stack takes it when the stack is where it goes (a local backend)
 * or nothing takes it (an empty ring).
 */
static __always_inline int steer_fragment(const struct pkt *p, const struct pgxr_svc *svc)
{
	struct pgxr_flow *f = bpf_map_lookup_elem(&flows, &p->flow);
	__u32 id = f ? f->backend : ring_pick(svc->id, &p->flow);
	struct pgxr_backend *be;

	if (id == PGXR_NO_BACKEND)
		return PGXR_V_PASS_FRAGMENT;
	be = bpf_map_lookup_elem(&backends, &id);
	return be && (be->flags & PGXR_BE_F_LOCAL) ? PGXR_V_PASS_FRAGMENT : PGXR_V_DROP_FRAGMENT;
}

/*
 * A path MTU error about a segment a backend sent as the VIP (DSR replies
 * leave from the backend, the error comes back to the VIP, so to us):
 * to the backend of the flow it quotes, which lowers its MSS.  The stack
 * here has no socket for it and would drop it, and a large result would
 * stall.  A flow evicted meanwhile is looked up in the ring, as its next
 * segment would be.
 */
static __always_inline int steer_icmp(struct xdp_md *ctx, __u32 len, const struct pkt *p,
				      const struct pgxr_svc *svc)
{
	struct pgxr_flow *f = bpf_map_lookup_elem(&flows, &p->flow);
	__u32 id = f ? f->backend : ring_pick(svc->id, &p->flow);
	struct pgxr_backend *be = bpf_map_lookup_elem(&backends, &id);
	int ret;

	if (!be || be->state != PGXR_BE_UP)
		return PGXR_V_PASS_NO_BACKEND;
	if (be->flags & PGXR_BE_F_LOCAL)
		return PGXR_V_PASS_LOCAL;
	if (unresolved(be))
		return PGXR_V_DROP_NO_NEIGH;
	ret = forward(ctx, p, be, PGXR_V_TX_ICMP);
	if (ret == PGXR_V_TX_ICMP)
		count(&backend_stats, id, len, 0, 0, 0, 0);
	return ret;
}

static __always_inline int steer(struct xdp_md *ctx, __u32 len)
{
	struct pgxr_svc *svc;
	struct pkt p = {};
	int ret, conn = 0, miss = 0;

	ret = parse_pkt(ctx, &p);
	if (ret != PARSE_OK && ret != PARSE_FRAGMENT && ret != PARSE_ICMP_PTB)
		return ret;
	svc = svc_of(&p);
	if (!svc)
		return ret == PARSE_FRAGMENT ? PGXR_V_PASS_FRAGMENT : PGXR_V_PASS_OTHER;
	if (svc->kind == PGXR_SVC_PROXY && ret == PARSE_FRAGMENT) {
		ret = PGXR_V_PASS_FRAGMENT;
	} else if (ret == PARSE_ICMP_PTB) {
		/* the proxy's sockets are the stack's own: the error is for it */
		ret = svc->kind == PGXR_SVC_PROXY ? PGXR_V_PASS_PROXY : steer_icmp(ctx, len, &p, svc);
	} else if (svc->kind == PGXR_SVC_PROXY) {
		conn = (p.tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;
		ret = PGXR_V_PASS_PROXY;
	} else if (ret == PARSE_FRAGMENT) {
		ret = steer_fragment(&p, svc);
	} else {
		ret = steer_flow(ctx, len, &p, svc, &conn, &miss);
	}
	count(&svc_stats, svc->id, len, conn, 0, 0, miss);
	return ret;
}

static __always_inline int sends(int verdict)
{
	switch (verdict) {
	case PGXR_V_TX:
	case PGXR_V_TX_RST:
	case PGXR_V_TX_ICMP:
	case PGXR_V_TX_IPIP:
	case PGXR_V_TX_TOO_BIG:
		return 1;
	default:
		return 0;
	}
}

/*
 * The one exit: the verdict counted, as an XDP action.  vlan: the program
 * bound to a device whose driver hands over the tag it stripped, read only
 * for what is sent back, on the VLAN it came on (as an in-band tag is)
 */
static __always_inline int run(struct xdp_md *ctx, int vlan)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data;
	int verdict = steer(ctx, len);
	struct vlan_meta tag = {};

	if (vlan && sends(verdict)) {
		vlan_read(ctx, &tag);
		if (tag.proto && vlan_retag(ctx, &tag))
			verdict = PGXR_V_DROP_ENCAP;
	}
	count(&verdict_stats, verdict, len, 0, 0, 0, 0);
	if (sends(verdict))
		return XDP_TX;
	switch (verdict) {
	case PGXR_V_DROP_NO_NEIGH:
	case PGXR_V_DROP_FRAGMENT:
	case PGXR_V_DROP_ENCAP:
		return XDP_DROP;
	default:
		return XDP_PASS;
	}
}

SEC("xdp")
int pgxr_xdp(struct xdp_md *ctx)
{
	return run(ctx, 0);
}

/* the same for native mode, bound to the device (pgxrd loads it instead where it can) */
SEC("?xdp")
int pgxr_xdp_vlan(struct xdp_md *ctx)
{
	return run(ctx, 1);
}
