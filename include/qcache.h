/* qcache.h: classifications by query text, least recently used out, one cache per proxy worker */
#ifndef PGXR_QCACHE_H
#define PGXR_QCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "classify.h"

struct qcache;

/* what a cache did, for SHOW and the benchmark */
struct qcache_stats {
	uint64_t hits;
	uint64_t misses;
	uint64_t evictions;
	uint64_t uncached;	/* texts longer than a cache keeps */
	uint32_t entries;
	size_t bytes;
};

struct qcache *qcache_new(uint32_t max_entries, size_t max_bytes);
void qcache_free(struct qcache *q);
const struct classify *qcache_get(struct qcache *q, const char *sql, size_t len);
void qcache_stats(const struct qcache *q, struct qcache_stats *st);

#endif
