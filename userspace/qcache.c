/* qcache.c: classifications by query text, least recently used out, one cache per proxy worker (no locks) */
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "qcache.h"

/* texts longer than this are classified each time: a cache of them would hold little else */
#ifndef QCACHE_MAX_TEXT
#define QCACHE_MAX_TEXT 8192
#endif

/* one cached text and its classification */
struct qcache_entry {
	struct qcache_entry *chain;		/* the next in its bucket */
	struct qcache_entry *newer, *older;	/* the LRU list */
	uint64_t hash;
	size_t len;
	struct classify c;
	char text[];				/* NUL-terminated */
};

struct qcache {
	struct qcache_entry **buckets;
	uint32_t nbuckets;			/* a power of two, at least max_entries */
	uint32_t max_entries;
	size_t max_bytes;
	struct qcache_entry *newest, *oldest;
	uint64_t key[2];			/* SipHash's: texts come from clients */
	struct classify scratch;		/* a text too long to keep, until the next call */
	struct qcache_stats st;
};

#define QCACHE_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define QCACHE_ROUND(v0, v1, v2, v3)                                                        \
	do {                                                                                \
		v0 += v1; v1 = QCACHE_ROTL(v1, 13); v1 ^= v0; v0 = QCACHE_ROTL(v0, 32);    \
		v2 += v3; v3 = QCACHE_ROTL(v3, 16); v3 ^= v2;                               \
		v0 += v3; v3 = QCACHE_ROTL(v3, 21); v3 ^= v0;                               \
		v2 += v1; v1 = QCACHE_ROTL(v1, 17); v1 ^= v2; v2 = QCACHE_ROTL(v2, 32);    \
	} while (0)

/* SipHash-1-3 (Aumasson and Bernstein): a client cannot choose texts that share a bucket */
static uint64_t qcache_hash(const uint64_t key[2], const uint8_t *p, size_t len)
{
	uint64_t v0 = key[0] ^ 0x736f6d6570736575ULL, v1 = key[1] ^ 0x646f72616e646f6dULL;
	uint64_t v2 = key[0] ^ 0x6c7967656e657261ULL, v3 = key[1] ^ 0x7465646279746573ULL;
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, tail = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&m, p + i, 8);	/* little-endian hosts; the hash only has to be consistent */
		v3 ^= m;
		QCACHE_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t k = 0; k < tail; k++)
		b |= (uint64_t)p[i + k] << (8 * k);
	v3 ^= b;
	QCACHE_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int r = 0; r < 3; r++)
		QCACHE_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

struct qcache *qcache_new(uint32_t max_entries, size_t max_bytes)
{
	struct qcache *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->max_entries = max_entries ? max_entries : 1;
	q->max_bytes = max_bytes;
	q->nbuckets = 16;
	while (q->nbuckets < q->max_entries && q->nbuckets < (1u << 30))
		q->nbuckets <<= 1;
	q->buckets = calloc(q->nbuckets, sizeof(*q->buckets));
	if (!q->buckets || digest_random(q->key, sizeof(q->key))) {
		free(q->buckets);
		free(q);
		return NULL;
	}
	return q;
}

static size_t qcache_entry_bytes(const struct qcache_entry *e)
{
	return sizeof(*e) + e->len + 1 + e->c.names_len;
}

static void qcache_unlink(struct qcache *q, struct qcache_entry *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		q->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		q->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void qcache_push(struct qcache *q, struct qcache_entry *e)
{
	e->older = q->newest;
	e->newer = NULL;
	if (q->newest)
		q->newest->newer = e;
	q->newest = e;
	if (!q->oldest)
		q->oldest = e;
}

static void qcache_drop(struct qcache *q, struct qcache_entry *e)
{
	struct qcache_entry **pp = &q->buckets[e->hash & (q->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	qcache_unlink(q, e);
	q->st.entries--;
	q->st.bytes -= qcache_entry_bytes(e);
	classify_free(&e->c);
	free(e);
}

void qcache_free(struct qcache *q)
{
	if (!q)
		return;
	while (q->oldest)
		qcache_drop(q, q->oldest);
	classify_free(&q->scratch);
	free(q->buckets);
	free(q);
}

/*
 * The classification of sql (NUL-terminated, len bytes), parsed at its
 * first sight.  The result stays valid until the next call on q.  NULL
 * when memory ran out: the caller sends the statement to the primary.
 */
const struct classify *qcache_get(struct qcache *q, const char *sql, size_t len)
{
	struct qcache_entry *e, **bucket;
	uint64_t h;

	classify_free(&q->scratch);
	if (len > QCACHE_MAX_TEXT) {
		q->st.uncached++;
		return classify_sql(sql, &q->scratch) ? NULL : &q->scratch;
	}
	h = qcache_hash(q->key, (const uint8_t *)sql, len);
	bucket = &q->buckets[h & (q->nbuckets - 1)];
	for (e = *bucket; e; e = e->chain) {
		if (e->hash == h && e->len == len && !memcmp(e->text, sql, len)) {
			q->st.hits++;
			if (q->newest != e) {
				qcache_unlink(q, e);
				qcache_push(q, e);
			}
			return &e->c;
		}
	}
	q->st.misses++;
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return NULL;
	memcpy(e->text, sql, len);
	e->text[len] = '\0';
	e->len = len;
	e->hash = h;
	if (classify_sql(e->text, &e->c)) {
		free(e);
		return NULL;
	}
	e->chain = *bucket;
	*bucket = e;
	qcache_push(q, e);
	q->st.entries++;
	q->st.bytes += qcache_entry_bytes(e);
	/* the oldest go; the new entry stays even alone over the budget, until the next */
	while (q->oldest != e && (q->st.entries > q->max_entries || q->st.bytes > q->max_bytes)) {
		qcache_drop(q, q->oldest);
		q->st.evictions++;
	}
	return &e->c;
}

void qcache_stats(const struct qcache *q, struct qcache_stats *st)
{
	*st = q->st;
}
