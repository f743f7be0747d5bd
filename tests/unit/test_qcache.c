/* test_qcache.c: the classification cache: hits, least recently used out by count and by bytes, long texts */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qcache.h"
#include "tap.h"

static const struct classify *get(struct qcache *q, const char *sql)
{
	return qcache_get(q, sql, strlen(sql));
}

static int t_hits(void)
{
	struct qcache *q = qcache_new(8, 1 << 20);
	struct qcache_stats st;
	const struct classify *c;

	CHECK(q, "qcache_new");
	c = get(q, "SELECT * FROM t");
	CHECK(c && c->dest == CLASSIFY_EITHER && c->nrels == 1, "a read");
	c = get(q, "UPDATE t SET x = 1");
	CHECK(c && c->dest == CLASSIFY_PRIMARY, "a write");
	c = get(q, "SELECT * FROM t");
	CHECK(c && c->dest == CLASSIFY_EITHER && !strcmp(classify_name_next(c, classify_name_next(c, NULL)), "t"),
	      "the read again, with its names");
	/* the same text but one byte: another statement */
	c = get(q, "SELECT * FROM t ");
	CHECK(c && c->dest == CLASSIFY_EITHER, "a near twin");
	qcache_stats(q, &st);
	CHECK(st.hits == 1 && st.misses == 3 && st.entries == 3, "hits %llu misses %llu entries %u",
	      (unsigned long long)st.hits, (unsigned long long)st.misses, st.entries);
	qcache_free(q);
	return 0;
}

/* the least recently used goes first, by count */
static int t_lru(void)
{
	struct qcache *q = qcache_new(3, 1 << 20);
	struct qcache_stats st;
	char sql[64];

	CHECK(q, "qcache_new");
	for (int i = 0; i < 3; i++) {
		snprintf(sql, sizeof(sql), "SELECT %d", i);
		CHECK(get(q, sql), "%s", sql);
	}
	CHECK(get(q, "SELECT 0"), "0 again");	/* 0 is the newest now: 1 is the oldest */
	CHECK(get(q, "SELECT 3"), "3");		/* 1 goes */
	qcache_stats(q, &st);
	CHECK(st.entries == 3 && st.evictions == 1, "entries %u evictions %llu", st.entries,
	      (unsigned long long)st.evictions);
	CHECK(get(q, "SELECT 0") && get(q, "SELECT 2") && get(q, "SELECT 3"), "the kept ones");
	qcache_stats(q, &st);
	CHECK(st.hits == 4 && st.misses == 4, "0, 2 and 3 hit: hits %llu misses %llu",
	      (unsigned long long)st.hits, (unsigned long long)st.misses);
	CHECK(get(q, "SELECT 1"), "1");
	qcache_stats(q, &st);
	CHECK(st.misses == 5, "1 was gone: misses %llu", (unsigned long long)st.misses);
	qcache_free(q);
	return 0;
}

/* a byte budget: many distinct texts never hold more than it, plus the newest */
static int t_bytes(void)
{
	struct qcache *q = qcache_new(100000, 64 * 1024);
	struct qcache_stats st;
	char sql[256];

	CHECK(q, "qcache_new");
	for (int i = 0; i < 5000; i++) {
		snprintf(sql, sizeof(sql), "SELECT a, b, c FROM some_table_%d WHERE id = %d", i % 977, i);
		CHECK(get(q, sql), "%s", sql);
		qcache_stats(q, &st);
		CHECK(st.bytes <= 64 * 1024, "%zu bytes after %d", st.bytes, i);
	}
	CHECK(st.evictions > 0 && st.entries > 100, "entries %u evictions %llu", st.entries,
	      (unsigned long long)st.evictions);
	qcache_free(q);
	return 0;
}

/* a text longer than the cache keeps is classified each time, right all the same */
static int t_long(void)
{
	struct qcache *q = qcache_new(8, 1 << 20);
	struct qcache_stats st;
	size_t n = 20000;
	char *sql = malloc(n + 64);
	const struct classify *c;

	CHECK(q && sql, "alloc");
	strcpy(sql, "INSERT INTO t VALUES ('");
	memset(sql + strlen(sql), 'x', n);
	strcpy(sql + 23 + n, "')");
	for (int i = 0; i < 2; i++) {
		c = get(q, sql);
		CHECK(c && c->dest == CLASSIFY_PRIMARY && c->stat == CLASSIFY_STAT_INSERT, "long insert");
	}
	qcache_stats(q, &st);
	CHECK(st.uncached == 2 && st.entries == 0, "uncached %llu entries %u", (unsigned long long)st.uncached,
	      st.entries);
	free(sql);
	qcache_free(q);
	return 0;
}

/* what a hit and a miss cost here: reported, the benchmark holds the target */
static int t_cost(void)
{
	static const char *texts[] = {
		"SELECT abalance FROM pgbench_accounts WHERE aid = $1",
		"UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
		"SELECT c.relname, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' ORDER BY 1 LIMIT 10",
	};
	struct qcache *q = qcache_new(1024, 1 << 20);
	struct timespec a, b;
	int n = 200000;
	double hit, miss;

	CHECK(q, "qcache_new");
	for (size_t i = 0; i < 3; i++)
		CHECK(get(q, texts[i]), "warm");
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		CHECK(get(q, texts[i % 3]), "hit");
	clock_gettime(CLOCK_MONOTONIC, &b);
	hit = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 2000; i++) {
		struct classify c;

		CHECK(classify_sql(texts[i % 3], &c) == 0, "parse");
		classify_free(&c);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	miss = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 2000;
	printf("# classification: %.0f ns on a cache hit, %.1f us parsing\n", hit, miss / 1000);
	qcache_free(q);
	return 0;
}

int main(void)
{
	tap_run("qcache: a text seen before is a hit, with its names", t_hits);
	tap_run("qcache: the least recently used goes first", t_lru);
	tap_run("qcache: the byte budget holds", t_bytes);
	tap_run("qcache: a long text is classified each time", t_long);
	tap_run("qcache: the cost of a hit and of a parse", t_cost);
	return tap_done();
}
