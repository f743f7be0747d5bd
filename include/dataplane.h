/* dataplane.h: the maps of one interface's XDP program, as user space sees them */
#ifndef PGXR_DATAPLANE_H
#define PGXR_DATAPLANE_H

#include <stddef.h>
#include <linux/types.h>

#include "pgxr_xdp.h"

enum dataplane_map {
	DP_SERVICES,
	DP_BACKENDS,
	DP_RINGS,
	DP_FLOWS,
	DP_VERDICT_STATS,
	DP_SVC_STATS,
	DP_BACKEND_STATS,
	DP_NMAPS,
};

/* file descriptors of the maps, indexed by enum dataplane_map */
struct dataplane {
	int fd[DP_NMAPS];
};

/* the pin of the map that says which map ABIs the pins are of (not one of the maps above) */
#define DATAPLANE_ABI_PIN "abi"

/* map names in the BPF object, which are also their pin names */
extern const char *const dataplane_map_names[DP_NMAPS];

int dataplane_pin_dir(char *buf, size_t len, const char *root, const char *ifname);
int dataplane_open(const char *pin_dir, struct dataplane *dp);
int dataplane_layout_check(int map, int fd, char *why, size_t len);
int dataplane_abi_read(const char *pin_dir, struct pgxr_abi *out);
int dataplane_abi_check(const char *pin_dir, char *why, size_t len);
void dataplane_close(struct dataplane *dp);
int dataplane_find_map(const char *name);

int dataplane_rebuild(const struct dataplane *dp);
int dataplane_set_backend(const struct dataplane *dp, __u32 id, const struct pgxr_backend *val);
int dataplane_swap_ring(const struct dataplane *dp, __u32 svc_id, const __u32 *ring);
int dataplane_read_ring(const struct dataplane *dp, __u32 svc_id, __u32 *ring);
int dataplane_routed_primaries(const struct pgxr_backend *be);
int dataplane_read_backends(const struct dataplane *dp, struct pgxr_backend *be);
int dataplane_counters(const struct dataplane *dp, enum dataplane_map map, __u32 key,
		       struct pgxr_counters *sum, struct pgxr_counters *percpu);
const char *dataplane_verdict_name(__u32 verdict);
const char *dataplane_kind_name(__u8 kind);
const char *dataplane_state_name(__u8 state);
const char *dataplane_role_name(__u8 role);

#endif /* PGXR_DATAPLANE_H */
