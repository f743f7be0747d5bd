/* test_maglev.c: properties of the weighted Maglev tables */
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "pgxr_xdp.h"
#include "tap.h"

#define M PGXR_RING_SIZE
/* word-wise FNV-1a hash of the ring of t_golden() as first released */
#define GOLDEN_RING_HASH 0xdf8cb294219338c6ULL

/* scratch tables, too big for the stack */
static __u32 ring_a[M], ring_b[M];

static int count(const __u32 *ring, __u32 id)
{
	int n = 0;

	for (int i = 0; i < M; i++)
		n += ring[i] == id;
	return n;
}

static int t_empty(void)
{
	CHECK(maglev_build(NULL, 0, ring_a, M) == 0, "empty build failed");
	for (int i = 0; i < M; i++)
		CHECK(ring_a[i] == PGXR_NO_BACKEND, "slot %d not empty", i);
	return 0;
}

static int t_single(void)
{
	struct maglev_member m = { .id = 7, .weight = 1000 };

	CHECK(maglev_build(&m, 1, ring_a, M) == 0, "build failed");
	CHECK(count(ring_a, 7) == M, "a single member must own every slot");
	return 0;
}

static int t_zero_weight_rejected(void)
{
	struct maglev_member m[2] = { { 1, 1000 }, { 2, 0 } };

	CHECK(maglev_build(m, 2, ring_a, M) < 0, "a zero weight was accepted");
	return 0;
}

/* same set, any order, any run: the same table (routers must agree) */
static int t_deterministic(void)
{
	struct maglev_member a[3] = { { 3, 1000 }, { 1, 2000 }, { 9, 500 } };
	struct maglev_member b[3] = { { 9, 500 }, { 3, 1000 }, { 1, 2000 } };

	CHECK(!maglev_build(a, 3, ring_a, M) && !maglev_build(b, 3, ring_b, M), "build failed");
	CHECK(!memcmp(ring_a, ring_b, sizeof(ring_a)), "tables differ with member order");
	return 0;
}

/*
 * Routers of different pgxr versions must build the same table: a change
 * of seeds or algorithm shows here first (and needs a cluster-wide upgrade).
 */
static int t_golden(void)
{
	struct maglev_member m[3] = { { 1, 2000 }, { 3, 1000 }, { 9, 500 } };
	__u64 h = 14695981039346656037ULL;

	CHECK(!maglev_build(m, 3, ring_a, M), "build failed");
	for (int i = 0; i < M; i++)
		h = (h ^ ring_a[i]) * 1099511628211ULL;
	CHECK(ring_a[0] == 1 && ring_a[1] == 9 && ring_a[2] == 3 && ring_a[3] == 1,
	      "first slots %u %u %u %u changed", ring_a[0], ring_a[1], ring_a[2], ring_a[3]);
	CHECK(h == GOLDEN_RING_HASH, "table hash %#llx changed", (unsigned long long)h);
	return 0;
}

/* slot shares follow the weights within 1% (the ring itself, before hashing) */
static int t_weights(void)
{
	struct maglev_member m[5] = { { 0, 1000 }, { 1, 2000 }, { 2, 3000 }, { 3, 500 }, { 4, 1500 } };
	double total = 8000;

	CHECK(!maglev_build(m, 5, ring_a, M), "build failed");
	for (int i = 0; i < 5; i++) {
		double want = M * m[i].weight / total, got = count(ring_a, m[i].id);

		CHECK(got / want > 0.99 && got / want < 1.01, "id %u: %.0f slots, expected %.0f",
		      m[i].id, got, want);
	}
	return 0;
}

/* adding a member takes about its share, and only from the others */
static int t_minimal_disruption(void)
{
	struct maglev_member m[11];
	int moved = 0, to_new = 0;

	for (int i = 0; i < 11; i++)
		m[i] = (struct maglev_member){ .id = (__u32)i, .weight = 1000 };
	CHECK(!maglev_build(m, 10, ring_a, M) && !maglev_build(m, 11, ring_b, M), "build failed");
	for (int i = 0; i < M; i++) {
		moved += ring_a[i] != ring_b[i];
		to_new += ring_b[i] == 10;
	}
	printf("# 11th member: %d slots changed, %d to the newcomer (share %d)\n", moved, to_new, M / 11);
	CHECK(moved <= M / 11 + M / 50, "%d slots changed for a 1/11 share", moved);
	return 0;
}

int main(void)
{
	tap_run("maglev: no member leaves every slot empty", t_empty);
	tap_run("maglev: a single member owns every slot", t_single);
	tap_run("maglev: a zero weight is rejected", t_zero_weight_rejected);
	tap_run("maglev: table depends on the member set only", t_deterministic);
	tap_run("maglev: table unchanged across versions", t_golden);
	tap_run("maglev: slot shares follow weights within 1%", t_weights);
	tap_run("maglev: a newcomer moves about its share", t_minimal_disruption);
	return tap_done();
}
