// SPDX-License-Identifier: GPL-2.0
/* vlan_wire.bpf.c: makes a lab link an 802.1Q access port of one VLAN, for a kernel without 802.1Q */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

/* the VLAN, set by the loader */
const volatile __u16 vid = 0;

enum { W_PUSHED, W_POPPED, W_UNTAGGED, W_OTHER_VLAN, W_MAX };

/* frames tagged on the way out, untagged on the way in, and dropped (untagged, another VLAN) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, W_MAX);
	__type(key, __u32);
	__type(value, __u64);
} wire_stats SEC(".maps");

static __always_inline void wire_count(__u32 what)
{
	__u64 *n = bpf_map_lookup_elem(&wire_stats, &what);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* everything the namespace sends leaves tagged: the tag goes in the skb, as a NIC's offload keeps it */
SEC("tc")
int wire_egress(struct __sk_buff *skb)
{
	if (skb->vlan_present)
		return TC_ACT_OK;
	if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), vid))
		return TC_ACT_SHOT;
	wire_count(W_PUSHED);
	return TC_ACT_OK;
}

/*
 * Only the VLAN's frames come in (the receive path already moved an
 * in-band tag into the skb): an untagged frame, which a router that lost
 * the tag would send, is dropped as a switch would keep it off the VLAN
 */
SEC("tc")
int wire_ingress(struct __sk_buff *skb)
{
	if (!skb->vlan_present) {
		wire_count(W_UNTAGGED);
		return TC_ACT_SHOT;
	}
	if ((skb->vlan_tci & 0x0fff) != vid) {
		wire_count(W_OTHER_VLAN);
		return TC_ACT_SHOT;
	}
	if (bpf_skb_vlan_pop(skb))
		return TC_ACT_SHOT;
	wire_count(W_POPPED);
	return TC_ACT_OK;
}
