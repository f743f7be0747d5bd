/* csum.h: the Internet checksum (RFC 1071) over headers the program writes */
#ifndef PGXR_BPF_CSUM_H
#define PGXR_BPF_CSUM_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* one's complement sum of len bytes (even, constant) at p */
static __always_inline __u32 csum_add(__u32 sum, const void *p, int len)
{
	const __u16 *w = p;

#pragma unroll
	for (int i = 0; i < len / 2; i++)
		sum += w[i];
	return sum;
}

#endif /* PGXR_BPF_CSUM_H */
