/* pkt.h: builds packet fixtures for the data-plane tests, checksums included */
#ifndef PGXR_TEST_PKT_H
#define PGXR_TEST_PKT_H

#include <linux/types.h>
#include <stddef.h>

struct pkt_spec {
	__u8 smac[6], dmac[6];
	int vlan;		/* 0: untagged, else the TCI of one 802.1Q tag */
	int family;		/* 4 or 6 */
	const char *src, *dst;
	__u16 sport, dport;
	__u8 proto;		/* 0 means TCP */
	__u8 flags;		/* TCP flags byte */
	__u32 seq, ack;
	__u16 window;		/* as given: 0 is a zero window */
	int tcp_opts;		/* bytes of TCP options, multiple of 4, <= 40 */
	int ip_opts;		/* bytes of IPv4 options, multiple of 4, <= 40 */
	int payload;		/* payload bytes */
	__u16 frag_off;		/* IPv4 flags+offset field, host order */
	/* an IPv6 fragment header before TCP: 1 the first fragment, 2 a later one, 3 an atomic one */
	int v6_frag;
	int v6_ext;		/* IPv6 destination options headers (8 bytes each) before it */
	int v6_routing;		/* before them, a routing header with segments left v6_routing - 1 */
	int v6_hop;		/* before all, a hop-by-hop header */
	int ttl;		/* 0 means 64 */
	__u8 tos;		/* IPv4 TOS, IPv6 traffic class (DSCP and ECN) */
	__u16 ip_id;
};

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

int pkt_build(const struct pkt_spec *s, __u8 *buf, size_t cap);
int pkt_build_ptb(const struct pkt_spec *quoted, const char *from, const char *to, __u16 mtu,
		  int quote, __u8 *buf, size_t cap);
int pkt_encap(const __u8 *in, int len, const char *src, const char *dst, const __u8 dmac[6],
	      const __u8 smac[6], __u32 label, __u8 *out, size_t cap);
int pkt_checksums_ok(const __u8 *pkt, int len);
void pkt_hexdump(const char *title, const __u8 *p, int len);

#endif /* PGXR_TEST_PKT_H */
