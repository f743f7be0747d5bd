/* maps.h: the maps of the XDP direct path; types come from include/pgxr_xdp.h */
#ifndef PGXR_BPF_MAPS_H
#define PGXR_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "pgxr_xdp.h"

/* (VIP, port) -> service; written by pgxrd at start, read per packet */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PGXR_MAX_SERVICES);
	__type(key, struct pgxr_svc_key);
	__type(value, struct pgxr_svc);
} services SEC(".maps");

/* node id -> backend; pgxrd and pgxrctl write state and MAC, XDP reads */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PGXR_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct pgxr_backend);
} backends SEC(".maps");

/* template of one Maglev ring: slot -> node id; mmapable, so user space fills it with one copy */
struct ring {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, PGXR_RING_SIZE);
	__type(key, __u32);
	__type(value, __u32);
};

/* service id -> ring; user space swaps a whole ring in one update */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, PGXR_MAX_SERVICES);
	__type(key, __u32);
	__array(values, struct ring);
} rings SEC(".maps");

/*
 * client 5-tuple -> backend, and the client's ACK and sequence; XDP writes,
 * pgxrd (resets) and pgxrctl read.  The common LRU, not the per-CPU one:
 * per CPU, a flood on one RX queue evicts that queue's idle flows after
 * PGXR_MAX_FLOWS / CPUs new ones (flow_lru measures both), for ~140 ns
 * per insert saved
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PGXR_MAX_FLOWS);
	__type(key, struct pgxr_flow_key);
	__type(value, struct pgxr_flow);
} flows SEC(".maps");

/* [0]: the map ABIs of the build that created the pins; pgxrd writes and checks it, XDP never reads it */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pgxr_abi);
} abi SEC(".maps");

/* verdict -> counters; XDP writes, pgxrctl reads */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PGXR_V_MAX);
	__type(key, __u32);
	__type(value, struct pgxr_counters);
} verdict_stats SEC(".maps");

/* service id -> counters; XDP writes, pgxrctl reads */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PGXR_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct pgxr_counters);
} svc_stats SEC(".maps");

/* node id -> counters; XDP writes, pgxrctl reads */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PGXR_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct pgxr_counters);
} backend_stats SEC(".maps");

#endif /* PGXR_BPF_MAPS_H */
