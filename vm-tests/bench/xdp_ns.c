/* xdp_ns.c: nanoseconds per packet of the XDP program, from bpf_prog_test_run_opts repeat */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane.h"
#include "maglev.h"
#include "pgxr_xdp.skel.h"
#include "pkt.h"

/* one measurement: the kernel's average over repeat runs, median of rounds */
static int measure(int prog_fd, const __u8 *pkt, int len, int repeat, int rounds,
		   __u32 *action, double *ns)
{
	double samples[32];
	__u8 out[1024];

	for (int r = 0; r < rounds; r++) {
		LIBBPF_OPTS(bpf_test_run_opts, o,
			.data_in = pkt,
			.data_size_in = len,
			.data_out = out,
			.data_size_out = sizeof(out),
			.repeat = repeat,
		);

		if (bpf_prog_test_run_opts(prog_fd, &o))
			return -errno;
		*action = o.retval;
		samples[r] = o.duration;
	}
	for (int i = 0; i < rounds; i++)
		for (int j = i + 1; j < rounds; j++)
			if (samples[j] < samples[i]) {
				double t = samples[i];

				samples[i] = samples[j];
				samples[j] = t;
			}
	*ns = samples[rounds / 2];
	return 0;
}

int main(int argc, char **argv)
{
	int repeat = argc > 1 ? atoi(argv[1]) : 1000000, rounds = 9, prog_fd, len;
	struct pkt_spec s = {
		.smac = { 2, 0, 0, 0, 0, 0xa }, .dmac = { 2, 0, 0, 0, 0, 1 },
		.family = 4, .src = "10.0.0.10", .dst = "10.0.0.100",
		.sport = 40000, .dport = 5433, .flags = TH_SYN, .seq = 1, .window = 64240,
		.tcp_opts = 20,
	};
	struct pgxr_svc_key k = { .port = htons(5433), .family = 4, .proto = 6 };
	struct pgxr_svc v = { .id = 0, .kind = PGXR_SVC_RO };
	struct maglev_member m[2] = { { 1, 1000 }, { 2, 1000 } };
	static __u32 ring[PGXR_RING_SIZE];
	struct pgxr_xdp_bpf *skel;
	struct dataplane dp;
	struct pkt_spec q;
	double syn_ns, hit_ns, frag_ns, ptb_ns;
	__u32 act_syn, act_hit, act_frag, act_ptb;
	__u8 pkt[1024];

	skel = pgxr_xdp_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "xdp_ns: could not load the XDP program: %s\n", strerror(errno));
		return 1;
	}
	for (int i = 0; i < DP_NMAPS; i++)
		dp.fd[i] = bpf_map__fd(bpf_object__find_map_by_name(skel->obj, dataplane_map_names[i]));
	prog_fd = bpf_program__fd(skel->progs.pgxr_xdp);
	inet_pton(AF_INET, "10.0.0.100", k.addr);
	bpf_map_update_elem(dp.fd[DP_SERVICES], &k, &v, BPF_ANY);
	for (__u32 id = 1; id <= 2; id++) {
		struct pgxr_backend b = { .family = 4, .state = PGXR_BE_UP, .role = PGXR_ROLE_STANDBY,
					  .weight = 1000, .mac = { 2, 0, 0, 0, 1, (__u8)id } };

		bpf_map_update_elem(dp.fd[DP_BACKENDS], &id, &b, BPF_ANY);
	}
	if (maglev_build(m, 2, ring, PGXR_RING_SIZE) || dataplane_swap_ring(&dp, 0, ring)) {
		fprintf(stderr, "xdp_ns: could not build the ring\n");
		return 1;
	}
	len = pkt_build(&s, pkt, sizeof(pkt));
	if (measure(prog_fd, pkt, len, repeat, rounds, &act_syn, &syn_ns))
		return 1;
	/* the SYN recorded the flow: an ACK of the same 5-tuple is a flow-table hit */
	s.flags = TH_ACK;
	s.ack = 1;
	s.tcp_opts = 12;
	s.payload = 100;
	len = pkt_build(&s, pkt, sizeof(pkt));
	if (measure(prog_fd, pkt, len, repeat, rounds, &act_hit, &hit_ns))
		return 1;
	/* a hop's "fragmentation needed" about the backend's reply: to the flow's backend */
	q = s;
	q.src = s.dst;
	q.dst = s.src;
	q.sport = s.dport;
	q.dport = s.sport;
	q.payload = 1400;
	q.frag_off = 0x4000;
	len = pkt_build_ptb(&q, "10.0.0.1", NULL, 1280, 548, pkt, sizeof(pkt));
	if (measure(prog_fd, pkt, len, repeat, rounds, &act_ptb, &ptb_ns))
		return 1;
	/* the first fragment of a segment to the service: dropped */
	s.frag_off = 0x2000;
	len = pkt_build(&s, pkt, sizeof(pkt));
	if (measure(prog_fd, pkt, len, repeat, rounds, &act_frag, &frag_ns))
		return 1;
	if (act_syn != XDP_TX || act_hit != XDP_TX || act_ptb != XDP_TX || act_frag != XDP_DROP) {
		fprintf(stderr, "xdp_ns: packets were not forwarded and dropped (%u, %u, %u, %u)\n",
			act_syn, act_hit, act_ptb, act_frag);
		return 1;
	}
	printf("{\"repeat\": %d, \"rounds\": %d, \"syn_ns\": %.0f, \"flow_hit_ns\": %.0f, "
	       "\"icmp_ptb_ns\": %.0f, \"fragment_ns\": %.0f}\n", repeat, rounds, syn_ns, hit_ns,
	       ptb_ns, frag_ns);
	pgxr_xdp_bpf__destroy(skel);
	return 0;
}
