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
		snprintf(sql, sizeof(sql), "SELECT * FROM t%d", i);
		CHECK(get(q, sql), "%s", sql);
	}
	CHECK(get(q, "SELECT * FROM t0"), "0 again");	/* 0 is the newest now: 1 is the oldest */
	CHECK(get(q, "SELECT * FROM t3"), "3");		/* 1 goes */
	qcache_stats(q, &st);
	CHECK(st.entries == 3 && st.evictions == 1, "entries %u evictions %llu", st.entries,
	      (unsigned long long)st.evictions);
	CHECK(get(q, "SELECT * FROM t0") && get(q, "SELECT * FROM t2") && get(q, "SELECT * FROM t3"),
	      "the kept ones");
	qcache_stats(q, &st);
	CHECK(st.hits == 4 && st.misses == 4, "0, 2 and 3 hit: hits %llu misses %llu",
	      (unsigned long long)st.hits, (unsigned long long)st.misses);
	CHECK(get(q, "SELECT * FROM t1"), "1");
	qcache_stats(q, &st);
	CHECK(st.misses == 5, "1 was gone: misses %llu", (unsigned long long)st.misses);
	qcache_free(q);
	return 0;
}

/*
 * The constants of a read or a write are not in its key: the same
 * statement with other values hits; what differs outside constants
 * (a locking clause, a comment, another table) does not; SET keeps its
 * values, which decide where it goes
 */
static int t_shape(void)
{
	static const char *const same[] = {
		"SELECT * FROM t WHERE id = 1 AND x > 2.5e-3",
		"SELECT * FROM t WHERE id = 22 AND x > .5",
		"SELECT * FROM t WHERE id = 'a''b' AND x > X'1f'",
		"SELECT * FROM t WHERE id = $$it's$$ AND x > $q$a$$b$q$",
		"SELECT * FROM t WHERE id = B'101' AND x > 0",
	};
	struct qcache *q = qcache_new(64, 1 << 20);
	struct qcache_stats st, st2;
	const struct classify *c;

	CHECK(q, "qcache_new");
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		c = get(q, same[i]);
		CHECK(c && c->dest == CLASSIFY_EITHER, "%s: a read", same[i]);
	}
	qcache_stats(q, &st);
	CHECK(st.misses == 1 && st.hits == 4, "one parse for the five: misses %llu hits %llu",
	      (unsigned long long)st.misses, (unsigned long long)st.hits);
	c = get(q, "SELECT * FROM t WHERE id = 3 AND x > 4 FOR UPDATE");
	CHECK(c && c->dest == CLASSIFY_PRIMARY, "FOR UPDATE is not a constant");
	c = get(q, "SELECT * FROM t1 WHERE id = 3 AND x > 4");
	CHECK(c && c->nrels == 1 && !strcmp(classify_name_next(c, classify_name_next(c, NULL)), "t1"),
	      "a table named with a digit is another table");
	c = get(q, "/*NO LOAD BALANCE*/ SELECT * FROM t WHERE id = 5 AND x > 6");
	CHECK(c && (c->flags & CLASSIFY_NO_LB), "a comment is kept");
	c = get(q, "SELECT * FROM t WHERE id = 7 -- it's\n AND x > 8 FOR SHARE");
	CHECK(c && c->dest == CLASSIFY_PRIMARY, "a quote in a comment opens no string");
	c = get(q, "SELECT * FROM t WHERE id = U&'\\0041' AND x > 9");
	CHECK(c && c->dest == CLASSIFY_EITHER, "a Unicode string");
	c = get(q, "SELECT * FROM t WHERE id = U&'\\0[41' AND x > 9");
	CHECK(c && (c->flags & CLASSIFY_UNPARSED), "one the scanner refuses is not another's key");
	c = get(q, "SELECT * FROM t WHERE id = 'unterminated");
	CHECK(c && (c->flags & CLASSIFY_UNPARSED), "a text pgxr cannot scan is parsed as it is");
	c = get(q, "SET default_transaction_isolation = 'serializable'");
	CHECK(c && c->dest == CLASSIFY_PRIMARY, "SET ... serializable");
	c = get(q, "SET default_transaction_isolation = 'read committed'");
	CHECK(c && c->dest == CLASSIFY_BOTH, "SET ... read committed keeps its value in its key");
	c = get(q, "INSERT INTO t VALUES (1, 'x')");
	CHECK(c && c->dest == CLASSIFY_PRIMARY && c->stat == CLASSIFY_STAT_INSERT, "an insert");
	qcache_stats(q, &st);
	c = get(q, "INSERT INTO t VALUES (3, $x$z$x$)");
	qcache_stats(q, &st2);
	CHECK(c && c->dest == CLASSIFY_PRIMARY && st2.hits == st.hits + 1,
	      "an insert with other values hits: hits %llu", (unsigned long long)st2.hits);
	c = get(q, "insert into t values (2, 'y')");
	qcache_stats(q, &st);
	CHECK(c && c->dest == CLASSIFY_PRIMARY && st.hits == st2.hits && st.misses == st2.misses + 1,
	      "keywords in another case are another text: a miss");
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
		"SELECT abalance FROM pgbench_accounts WHERE aid = 12345",
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
	tap_run("qcache: constants are not in the key, where they cannot change the route", t_shape);
	tap_run("qcache: the byte budget holds", t_bytes);
	tap_run("qcache: a long text is classified each time", t_long);
	tap_run("qcache: the cost of a hit and of a parse", t_cost);
	return tap_done();
}
