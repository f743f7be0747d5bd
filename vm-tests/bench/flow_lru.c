/* flow_lru.c: how many new flows an idle flow survives in the flow table, per LRU variant */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "pgxr_xdp.h"

/* the SYNs a flood may send before we stop looking: twice the table */
#define FLOOD_MAX (2 * PGXR_MAX_FLOWS)

struct run {
	int fd;
	int cpu;
	__u32 base;		/* first source address of this thread's flood */
	__u32 n;
	double ns;		/* per insert */
};

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void key_of(struct pgxr_flow_key *k, __u32 src)
{
	memset(k, 0, sizeof(*k));
	k->src[0] = src;
	k->dst[0] = 0x6400000a;
	k->sport = 10000;
	k->dport = 5433;
	k->family = PGXR_FAMILY_V4;
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* inserts r->n flows as XDP does on a SYN, from one CPU (an RX queue's) */
static void *flood(void *arg)
{
	struct run *r = arg;
	struct pgxr_flow v = { .backend = 1, .svc = 1 };
	struct pgxr_flow_key k;
	double t0;

	pin_cpu(r->cpu);
	t0 = now_ns();
	for (__u32 i = 0; i < r->n; i++) {
		key_of(&k, r->base + i);
		bpf_map_update_elem(r->fd, &k, &v, BPF_ANY);
	}
	r->ns = (now_ns() - t0) / r->n;
	return NULL;
}

/*
 * New flows an idle flow survives (in steps of step), flooding from
 * threads CPUs at once; -1 past FLOOD_MAX.  A lookup from user space
 * does not refresh an entry, so looking does not keep it alive.
 */
static long survives(__u32 flags, int threads, __u32 step, double *ns)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
	struct pgxr_flow v = { .backend = 0 };
	struct pgxr_flow_key idle;
	struct run r[8];
	pthread_t t[8];
	long total = 0;
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "flow_lru", sizeof(struct pgxr_flow_key),
			    sizeof(struct pgxr_flow), PGXR_MAX_FLOWS, &o);
	if (fd < 0) {
		fprintf(stderr, "flow_lru: could not create the map: %s\n", strerror(errno));
		exit(1);
	}
	/* the idle flow came in on CPU 0's queue, as the flood's first thread */
	pin_cpu(0);
	key_of(&idle, 1);
	bpf_map_update_elem(fd, &idle, &v, BPF_ANY);
	*ns = 0;
	while (total < FLOOD_MAX) {
		for (int i = 0; i < threads; i++) {
			r[i] = (struct run){ .fd = fd, .cpu = i, .n = step / threads,
					     .base = 0x10000000u + (__u32)total + i * (step / threads) };
			pthread_create(&t[i], NULL, flood, &r[i]);
		}
		for (int i = 0; i < threads; i++) {
			pthread_join(t[i], NULL);
			*ns += r[i].ns;
		}
		total += step;
		if (bpf_map_lookup_elem(fd, &idle, &v))
			break;
	}
	*ns /= threads * (total / step);
	close(fd);
	return total < FLOOD_MAX ? total : -1;
}

int main(void)
{
	int cpus = sysconf(_SC_NPROCESSORS_ONLN) > 8 ? 8 : sysconf(_SC_NPROCESSORS_ONLN);
	const struct {
		const char *name;
		__u32 flags;
	} variants[] = { { "common", 0 }, { "percpu", BPF_F_NO_COMMON_LRU } };

	printf("{\"max_flows\": %d, \"cpus\": %d, \"variants\": [", PGXR_MAX_FLOWS, cpus);
	for (int v = 0; v < 2; v++) {
		double ns1, nsn;
		long one = survives(variants[v].flags, 1, 4096, &ns1);
		long all = survives(variants[v].flags, cpus, 4096, &nsn);

		printf("%s{\"lru\": \"%s\", \"survives_one_cpu\": %ld, \"survives_all_cpus\": %ld, "
		       "\"insert_ns_one_cpu\": %.0f, \"insert_ns_all_cpus\": %.0f}",
		       v ? ", " : "", variants[v].name, one, all, ns1, nsn);
	}
	printf("]}\n");
	return 0;
}
