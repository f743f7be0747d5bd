/* maglev.c: weighted Maglev tables (Eisenbud et al., NSDI 2016), integer-only */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "pgxr_xdp.h"

/*
 * Fixed seeds: every router computes the same table from the same member
 * list, so a flow keeps its backend when the VIP moves.
 */
#define MAGLEV_SEED_OFFSET 0x9e3779b97f4a7c15ULL
#define MAGLEV_SEED_SKIP 0xc2b2ae3d27d4eb4fULL

/* a 64-bit finalizer with full avalanche */
static __u64 maglev_mix(__u64 x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static int maglev_cmp(const void *a, const void *b)
{
	const struct maglev_member *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * Fills ring[size] (size prime) with member ids.  Each member walks its own
 * permutation of the slots; members take turns, and a member of weight w
 * takes w turns for every max-weight turn, so slot counts follow weights.
 * Turns go in node id order whatever the order of members[], so the table
 * depends on the set alone.  With no member every slot is PGXR_NO_BACKEND.
 */
int maglev_build(const struct maglev_member *in, int n, __u32 *ring, __u32 size)
{
	__u64 *offset = NULL, *skip = NULL, *next = NULL, *credit = NULL;
	struct maglev_member *members = NULL;
	__u32 filled = 0, max_weight = 0;
	int ret = 0;

	for (__u32 s = 0; s < size; s++)
		ring[s] = PGXR_NO_BACKEND;
	if (n <= 0)
		return 0;
	if (size < 2)
		return -EINVAL;
	members = malloc(n * sizeof(*members));
	offset = calloc(n, sizeof(*offset));
	skip = calloc(n, sizeof(*skip));
	next = calloc(n, sizeof(*next));
	credit = calloc(n, sizeof(*credit));
	if (!members || !offset || !skip || !next || !credit) {
		ret = -ENOMEM;
		goto cleanup;
	}
	memcpy(members, in, n * sizeof(*members));
	qsort(members, n, sizeof(*members), maglev_cmp);
	for (int i = 0; i < n; i++) {
		if (!members[i].weight) {
			ret = -EINVAL;
			goto cleanup;
		}
		offset[i] = maglev_mix(members[i].id ^ MAGLEV_SEED_OFFSET) % size;
		skip[i] = maglev_mix(members[i].id ^ MAGLEV_SEED_SKIP) % (size - 1) + 1;
		if (members[i].weight > max_weight)
			max_weight = members[i].weight;
	}
	while (filled < size) {
		for (int i = 0; i < n && filled < size; i++) {
			credit[i] += members[i].weight;
			while (credit[i] >= max_weight && filled < size) {
				__u64 slot;

				credit[i] -= max_weight;
				do {
					slot = (offset[i] + next[i] * skip[i]) % size;
					next[i]++;
				} while (ring[slot] != PGXR_NO_BACKEND);
				ring[slot] = members[i].id;
				filled++;
			}
		}
	}
cleanup:
	free(members);
	free(offset);
	free(skip);
	free(next);
	free(credit);
	return ret;
}
