// SPDX-License-Identifier: GPL-2.0
/* xdp_pass.bpf.c: lab helper; a veth peer needs an XDP program to receive XDP_TX frames natively */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}
