/* vlan.h: the 802.1Q tag a device took off on receive, put back on what XDP_TX sends */
#ifndef PGXR_BPF_VLAN_H
#define PGXR_BPF_VLAN_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

/*
 * A NIC with receive VLAN offload (most of them, by default) strips the
 * tag into its descriptor: XDP sees the frame untagged, and XDP_TX would
 * send it back on the untagged network.  Drivers that implement this
 * hint give the tag back; only a program bound to the device may call it.
 * Weak: a kernel without it (before 6.8) still loads the plain program.
 */
extern int bpf_xdp_metadata_rx_vlan_tag(const struct xdp_md *ctx, __be16 *vlan_proto,
					__u16 *vlan_tci) __ksym __weak;

/* the stripped tag: proto 0 when the frame came untagged, or the driver cannot tell */
struct vlan_meta {
	__be16 proto;
	__u16 tci;
};

static __always_inline void vlan_read(struct xdp_md *ctx, struct vlan_meta *m)
{
	if (bpf_xdp_metadata_rx_vlan_tag(ctx, &m->proto, &m->tci))
		m->proto = 0;
}

/*
 * Inserts the stripped tag after the MAC addresses of the frame about to
 * be sent, outermost: a tag still in the frame (QinQ) is the inner one.
 * Returns 0, or -1 when the frame has no room for it.
 */
static __always_inline int vlan_retag(struct xdp_md *ctx, const struct vlan_meta *m)
{
	void *data, *data_end;
	__u8 macs[2 * ETH_ALEN];
	__be16 *tag;

	if (bpf_xdp_adjust_head(ctx, -4))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + sizeof(struct ethhdr) + 4 > data_end)
		return -1;
	/* the addresses move 4 bytes to the front; the EtherType stays where it was */
	__builtin_memcpy(macs, data + 4, sizeof(macs));
	__builtin_memcpy(data, macs, sizeof(macs));
	tag = data + sizeof(macs);
	tag[0] = m->proto;
	tag[1] = bpf_htons(m->tci);
	return 0;
}

#endif
