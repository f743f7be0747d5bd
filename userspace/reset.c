/*
 * reset.c: ends the client connections pinned to a backend that left
 * routing.  The XDP program answers a client's next packet with a RST,
 * but a client that waits (for a result, or idle in a pool) sends nothing
 * for minutes.  The flow table holds what each client last acknowledged,
 * so a RST it accepts can be sent at once, from the VIP, through raw
 * sockets; the flows are forgotten.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "log.h"
#include "reset.h"

#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL 36
#endif

/* flows read per batch */
#define RESET_BATCH 4096

/* raw sockets, opened on first use; -1 when not open */
static struct {
	int v4, v6;
} reset_sk = { -1, -1 };

/* one's complement sum of len (even) bytes; memcpy, as the headers are not arrays of __u16 */
static __u32 reset_sum(__u32 sum, const void *p, size_t len)
{
	for (size_t i = 0; i < len; i += 2) {
		__u16 w;

		memcpy(&w, (const __u8 *)p + i, 2);
		sum += w;
	}
	return sum;
}

static __u16 reset_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * RFC 793/5961: a RST whose sequence number is what the client expects
 * next is accepted at once.  A flow that never carried an ACK (a SYN
 * only) gets a RST+ACK of what the client sent.
 */
static void reset_tcp(struct tcphdr *t, const struct pgxr_flow_key *k, const struct pgxr_flow *v)
{
	memset(t, 0, sizeof(*t));
	t->source = k->dport;
	t->dest = k->sport;
	t->doff = sizeof(*t) / 4;
	t->rst = 1;
	if (v->ack) {
		t->seq = htonl(v->ack);
	} else {
		t->ack = 1;
		t->ack_seq = htonl(v->seq_end);
	}
}

static int reset_open(int family)
{
	int one = 1, *fd = family == PGXR_FAMILY_V4 ? &reset_sk.v4 : &reset_sk.v6;

	if (*fd >= 0)
		return *fd;
	*fd = socket(family == PGXR_FAMILY_V4 ? AF_INET : AF_INET6,
		     SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_RAW);
	if (*fd < 0)
		return -errno;
	if (family == PGXR_FAMILY_V6 && setsockopt(*fd, IPPROTO_IPV6, IPV6_HDRINCL, &one, sizeof(one))) {
		int err = errno;

		close(*fd);
		*fd = -1;
		return -err;
	}
	return *fd;
}

/* one RST from the VIP (the flow's destination) to its client */
static int reset_send(const struct pgxr_flow_key *k, const struct pgxr_flow *v)
{
	__u8 buf[sizeof(struct ip6_hdr) + sizeof(struct tcphdr)];
	struct sockaddr_storage to = {};
	struct tcphdr *t;
	size_t len;
	__u32 sum;
	int fd = reset_open(k->family);

	if (fd < 0)
		return fd;
	memset(buf, 0, sizeof(buf));
	if (k->family == PGXR_FAMILY_V4) {
		struct iphdr *ip = (struct iphdr *)buf;
		struct sockaddr_in *sin = (struct sockaddr_in *)&to;

		t = (struct tcphdr *)(ip + 1);
		len = sizeof(*ip) + sizeof(*t);
		ip->version = 4;
		ip->ihl = sizeof(*ip) / 4;
		ip->tot_len = htons(len);
		ip->frag_off = htons(IP_DF);
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		ip->saddr = k->dst[0];
		ip->daddr = k->src[0];
		reset_tcp(t, k, v);
		sum = reset_sum(0, &ip->saddr, 8) + htons(IPPROTO_TCP) + htons(sizeof(*t));
		t->check = reset_fold(reset_sum(sum, t, sizeof(*t)));
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = k->src[0];
	} else {
		struct ip6_hdr *ip6 = (struct ip6_hdr *)buf;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&to;

		t = (struct tcphdr *)(ip6 + 1);
		len = sizeof(*ip6) + sizeof(*t);
		ip6->ip6_flow = htonl(6u << 28);
		ip6->ip6_plen = htons(sizeof(*t));
		ip6->ip6_nxt = IPPROTO_TCP;
		ip6->ip6_hlim = 64;
		memcpy(&ip6->ip6_src, k->dst, 16);
		memcpy(&ip6->ip6_dst, k->src, 16);
		reset_tcp(t, k, v);
		sum = reset_sum(0, &ip6->ip6_src, 32) + htons(IPPROTO_TCP) + htons(sizeof(*t));
		t->check = reset_fold(reset_sum(sum, t, sizeof(*t)));
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, k->src, 16);
	}
	if (sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

/*
 * Every flow pinned to backend: its client gets a RST, the flow is
 * deleted.  Returns how many, or -errno.  The table is read in batches;
 * flows the XDP program adds meanwhile go to the new rings, not to
 * backend.
 */
int reset_flows(const struct dataplane *dp, __u32 backend)
{
	struct pgxr_flow_key *keys = malloc(RESET_BATCH * sizeof(*keys));
	struct pgxr_flow *vals = malloc(RESET_BATCH * sizeof(*vals));
	__u32 token = 0, count;
	bool first = true, more = true;
	int fd = dp->fd[DP_FLOWS], sent = 0, ret = 0, failed = 0;

	if (!keys || !vals) {
		ret = -ENOMEM;
		goto cleanup;
	}
	while (more) {
		count = RESET_BATCH;
		if (bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys, vals, &count,
					 NULL)) {
			if (errno != ENOENT) {
				ret = -errno;
				goto cleanup;
			}
			more = false;
		}
		first = false;
		for (__u32 i = 0; i < count; i++) {
			if (vals[i].backend != backend)
				continue;
			if (reset_send(&keys[i], &vals[i]))
				failed++;
			else
				sent++;
			bpf_map_delete_elem(fd, &keys[i]);
		}
	}
	if (failed)
		log_warning("backend %u: %d RST(s) could not be sent", backend, failed);
	ret = sent;
cleanup:
	free(keys);
	free(vals);
	return ret;
}

void reset_close(void)
{
	if (reset_sk.v4 >= 0)
		close(reset_sk.v4);
	if (reset_sk.v6 >= 0)
		close(reset_sk.v6);
	reset_sk.v4 = reset_sk.v6 = -1;
}
