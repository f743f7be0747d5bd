/* maglev.h: weighted Maglev lookup tables */
#ifndef PGXR_MAGLEV_H
#define PGXR_MAGLEV_H

#include <linux/types.h>

struct maglev_member {
	__u32 id;		/* node id: the only input to its permutation */
	__u32 weight;		/* > 0 */
};

int maglev_build(const struct maglev_member *members, int n, __u32 *ring, __u32 size);

#endif /* PGXR_MAGLEV_H */
