/* pkt.c: packet fixtures written byte by byte, independent of the BPF code */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pkt.h"

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(__u8 *p, __u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* RFC 1071 sum over big-endian 16-bit words */
static __u32 sum16(__u32 sum, const __u8 *p, int len)
{
	for (int i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	return sum;
}

static __u16 fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

static __u32 pseudo(int family, const __u8 *src, const __u8 *dst, int proto, int len)
{
	int alen = family == 4 ? 4 : 16;
	__u32 sum = sum16(0, src, alen);

	sum = sum16(sum, dst, alen);
	return sum + proto + len;
}

int pkt_build(const struct pkt_spec *s, __u8 *buf, size_t cap)
{
	int proto = s->proto ? s->proto : 6;
	int l4_hlen = proto == 6 ? 20 + s->tcp_opts : 8;
	int l4_len = l4_hlen + s->payload;
	__u8 src[16] = {}, dst[16] = {};
	__u8 *p = buf, *l3, *l4;
	int off = 0, l3_len;

	if (inet_pton(s->family == 4 ? AF_INET : AF_INET6, s->src, src) != 1 ||
	    inet_pton(s->family == 4 ? AF_INET : AF_INET6, s->dst, dst) != 1)
		return -1;
	/* the IPv6 extension headers, in order, 8 bytes each */
	__u8 types[16];
	int next = 0, ext;
	/* the TCP checksum needs the whole segment: not in a fragment */
	bool fragment = s->family == 4 ? (s->frag_off & 0x3fff) != 0 : s->v6_frag == 1 || s->v6_frag == 2;

	if (s->v6_hop)
		types[next++] = 0;
	if (s->v6_routing)
		types[next++] = 43;
	for (int i = 0; i < s->v6_ext && next < 14; i++)
		types[next++] = 60;
	if (s->v6_frag >= 1 && s->v6_frag <= 3)
		types[next++] = 44;
	ext = 8 * next;
	l3_len = s->family == 4 ? 20 + s->ip_opts : 40 + ext;
	if ((size_t)(18 + l3_len + l4_len) > cap)
		return -1;
	memset(buf, 0, 18 + l3_len + l4_len);
	memcpy(p, s->dmac, 6);
	memcpy(p + 6, s->smac, 6);
	off = 12;
	if (s->vlan) {
		put16(p + off, 0x8100);
		put16(p + off + 2, s->vlan);
		off += 4;
	}
	put16(p + off, s->family == 4 ? 0x0800 : 0x86dd);
	off += 2;
	l3 = p + off;
	if (s->family == 4) {
		l3[0] = 0x40 | (l3_len / 4);
		l3[1] = s->tos;
		put16(l3 + 2, l3_len + l4_len);
		put16(l3 + 4, s->ip_id);
		put16(l3 + 6, s->frag_off);
		l3[8] = s->ttl ? s->ttl : 64;
		l3[9] = proto;
		memcpy(l3 + 12, src, 4);
		memcpy(l3 + 16, dst, 4);
		for (int i = 20; i < l3_len; i++)
			l3[i] = 1;	/* NOP options */
		put16(l3 + 10, fold(sum16(0, l3, l3_len)));
	} else {
		__u8 *h = l3 + 40;

		l3[0] = 0x60 | s->tos >> 4;
		l3[1] = (s->tos & 0xf) << 4;
		put16(l3 + 4, l4_len + ext);
		l3[7] = s->ttl ? s->ttl : 64;
		memcpy(l3 + 8, src, 16);
		memcpy(l3 + 24, dst, 16);
		l3[6] = next ? types[0] : proto;
		for (int i = 0; i < next; i++, h += 8) {
			h[0] = i + 1 < next ? types[i + 1] : proto;
			h[1] = 0;
			if (types[i] == 44) {
				/* offset in 8-byte units << 3, then M */
				static const __u16 frag[] = { 0, 0x0001, 0x0011, 0x0000 };

				put16(h + 2, frag[s->v6_frag]);
				put32(h + 4, 0x12345678);
			} else if (types[i] == 43) {
				h[2] = 4;	/* a segment routing header, its segments left */
				h[3] = s->v6_routing - 1;
			} else {
				h[2] = 1;	/* a PadN option fills the 6 bytes */
				h[3] = 4;
			}
		}
	}
	l4 = l3 + l3_len;
	put16(l4, s->sport);
	put16(l4 + 2, s->dport);
	if (proto == 6) {
		put32(l4 + 4, s->seq);
		put32(l4 + 8, s->ack);
		l4[12] = (l4_hlen / 4) << 4;
		l4[13] = s->flags;
		put16(l4 + 14, s->window);
		/* an MSS option, then NOPs up to the requested length */
		if (s->tcp_opts >= 4) {
			l4[20] = 2, l4[21] = 4;
			put16(l4 + 22, 1460);
		}
		for (int i = 24; i < l4_hlen; i++)
			l4[i] = 1;
	} else {
		put16(l4 + 4, l4_len);
	}
	for (int i = 0; i < s->payload; i++)
		l4[l4_hlen + i] = 'a' + i % 26;
	if (!fragment) {
		__u32 sum = pseudo(s->family, src, dst, proto, l4_len);

		put16(l4 + (proto == 6 ? 16 : 6), fold(sum16(sum, l4, l4_len)));
	}
	return off + l3_len + l4_len;
}

/* 1 when the IPv4 header checksum and the TCP checksum verify */
int pkt_checksums_ok(const __u8 *pkt, int len)
{
	int off = 12, family, l3_len, l4_len;
	const __u8 *l3, *src, *dst;
	__u32 sum;

	if ((pkt[12] << 8 | pkt[13]) == 0x8100)
		off += 4;
	family = (pkt[off] << 8 | pkt[off + 1]) == 0x0800 ? 4 : 6;
	l3 = pkt + off + 2;
	if (family == 4) {
		l3_len = (l3[0] & 0xf) * 4;
		if (fold(sum16(0, l3, l3_len)) != 0)
			return 0;
		l4_len = (l3[2] << 8 | l3[3]) - l3_len;
		src = l3 + 12;
		dst = l3 + 16;
	} else {
		l3_len = 40;
		l4_len = l3[4] << 8 | l3[5];
		src = l3 + 8;
		dst = l3 + 24;
	}
	if (off + 2 + l3_len + l4_len > len)
		return 0;
	sum = pseudo(family, src, dst, 6, l4_len);
	return fold(sum16(sum, l3 + l3_len, l4_len)) == 0;
}

void pkt_hexdump(const char *title, const __u8 *p, int len)
{
	printf("# %s (%d bytes)\n#", title, len);
	for (int i = 0; i < len; i++)
		printf(" %02x%s", p[i], (i + 1) % 16 ? "" : "\n#");
	printf("\n");
}

/*
 * An ICMP "fragmentation needed" (IPv4) or ICMPv6 "packet too big" sent by
 * the router at from about the segment quoted, quoting its first quote
 * bytes of IP header and on, to the segment's source (or to, if given).  The frame's MACs and VLAN
 * are the quoted spec's.
 */
int pkt_build_ptb(const struct pkt_spec *quoted, const char *from, const char *to, __u16 mtu,
		  int quote, __u8 *buf, size_t cap)
{
	__u8 seg[2048], src[16] = {}, dst[16] = {};
	int seg_len, l2, l3_len, icmp_len, off;
	__u8 *l3, *icmp;

	seg_len = pkt_build(quoted, seg, sizeof(seg));
	if (seg_len < 0)
		return -1;
	l2 = quoted->vlan ? 18 : 14;
	if (quote > seg_len - l2)
		quote = seg_len - l2;
	if (inet_pton(quoted->family == 4 ? AF_INET : AF_INET6, from, src) != 1 ||
	    inet_pton(quoted->family == 4 ? AF_INET : AF_INET6, to ? to : quoted->src, dst) != 1)
		return -1;
	l3_len = quoted->family == 4 ? 20 : 40;
	icmp_len = 8 + quote;
	if ((size_t)(l2 + l3_len + icmp_len) > cap)
		return -1;
	memset(buf, 0, l2 + l3_len + icmp_len);
	memcpy(buf, seg, l2);
	off = l2;
	l3 = buf + off;
	icmp = l3 + l3_len;
	if (quoted->family == 4) {
		l3[0] = 0x45;
		put16(l3 + 2, l3_len + icmp_len);
		l3[8] = 64;
		l3[9] = 1;
		memcpy(l3 + 12, src, 4);
		memcpy(l3 + 16, dst, 4);
		put16(l3 + 10, fold(sum16(0, l3, 20)));
		icmp[0] = 3;	/* destination unreachable */
		icmp[1] = 4;	/* fragmentation needed */
		put16(icmp + 6, mtu);
	} else {
		l3[0] = 0x60;
		put16(l3 + 4, icmp_len);
		l3[6] = 58;
		l3[7] = 64;
		memcpy(l3 + 8, src, 16);
		memcpy(l3 + 24, dst, 16);
		icmp[0] = 2;	/* packet too big */
		put32(icmp + 4, mtu);
	}
	memcpy(icmp + 8, seg + l2, quote);
	{
		__u32 sum = quoted->family == 4 ? 0 : pseudo(6, src, dst, 58, icmp_len);

		put16(icmp + 2, fold(sum16(sum, icmp, icmp_len)));
	}
	return off + l3_len + icmp_len;
}

/*
 * The frame in (Ethernet, maybe 802.1Q, IP) in an IPIP (IPv6 in IPv6)
 * outer header from src to dst, the frame from smac to dmac: what a
 * router using IPIP toward a backend sends.  The outer header has DF and
 * the inner traffic class; label is IPv6's flow label.
 */
int pkt_encap(const __u8 *in, int len, const char *src, const char *dst, const __u8 dmac[6],
	      const __u8 smac[6], __u32 label, __u8 *out, size_t cap)
{
	int l2 = (in[12] << 8 | in[13]) == 0x8100 ? 18 : 14;
	int v4 = (in[l2 - 2] << 8 | in[l2 - 1]) == 0x0800, hdr = v4 ? 20 : 40;
	const __u8 *inner = in + l2;
	__u8 *o = out + l2;

	if ((size_t)(len + hdr) > cap)
		return -1;
	memset(out, 0, l2 + hdr);
	memcpy(out, dmac, 6);
	memcpy(out + 6, smac, 6);
	memcpy(out + 12, in + 12, l2 - 12);
	if (v4) {
		o[0] = 0x45;
		o[1] = inner[1];
		put16(o + 2, (inner[2] << 8 | inner[3]) + 20);
		o[6] = 0x40;	/* DF: the outer packet is never fragmented */
		o[8] = 64;
		o[9] = 4;
		if (inet_pton(AF_INET, src, o + 12) != 1 || inet_pton(AF_INET, dst, o + 16) != 1)
			return -1;
		put16(o + 10, fold(sum16(0, o, 20)));
	} else {
		__u32 tc = ((inner[0] & 0xf) << 4 | inner[1] >> 4) << 20;

		put32(o, 0x60000000 | tc | (label & 0xfffff));
		put16(o + 4, (inner[4] << 8 | inner[5]) + 40);
		o[6] = 41;
		o[7] = 64;
		if (inet_pton(AF_INET6, src, o + 8) != 1 || inet_pton(AF_INET6, dst, o + 24) != 1)
			return -1;
	}
	memcpy(o + hdr, inner, len - l2);
	return len + hdr;
}
