/*
 * qcache.c: classifications by query text, least recently used out, one
 * cache per proxy worker (no locks).  A query's constants are left out of
 * its key when its kind makes them irrelevant to pgpool's rules (SELECT,
 * DML: tables, functions, locking and INTO decide, never a value), so
 * that a client that sends its values inline (the simple protocol) hits
 * the cache as one using parameters does.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "qcache.h"

/* texts longer than this are classified each time: a cache of them would hold little else */
#ifndef QCACHE_MAX_TEXT
#define QCACHE_MAX_TEXT 8192
#endif

/* what stands for a constant in a key: a byte no valid statement has outside a constant */
#define QCACHE_CONST '\x01'

/* one cached text and its classification */
struct qcache_entry {
	struct qcache_entry *chain;		/* the next in its bucket */
	struct qcache_entry *newer, *older;	/* the LRU list */
	uint64_t hash;
	size_t len;
	bool shaped;				/* the key is a text with its constants left out */
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

/* byte classes for the scan: what may continue a word, and what may start a constant or a comment */
#define QCACHE_WORD 1
#define QCACHE_SPECIAL 2

static const uint8_t qcache_class[256] = {
	['0' ... '9'] = QCACHE_WORD | QCACHE_SPECIAL,
	['A' ... 'Z'] = QCACHE_WORD, ['a' ... 'z'] = QCACHE_WORD, ['_'] = QCACHE_WORD,
	['$'] = QCACHE_WORD | QCACHE_SPECIAL, [0x80 ... 0xff] = QCACHE_WORD,
	['-'] = QCACHE_SPECIAL, ['/'] = QCACHE_SPECIAL, ['"'] = QCACHE_SPECIAL,
	['\''] = QCACHE_SPECIAL, ['.'] = QCACHE_SPECIAL,
};

static bool qcache_ident(char c)
{
	return qcache_class[(unsigned char)c] & QCACHE_WORD;
}

/* the first word of sql past blanks, comments and opening parentheses is one of those kinds */
static bool qcache_shapeable(const char *p, const char *end)
{
	static const char *const kinds[] = { "select", "with", "table", "values", "insert", "update",
					     "delete", "merge" };
	size_t n;

	for (;;) {
		while (p < end && (isspace((unsigned char)*p) || *p == '('))
			p++;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
			while (p < end && *p != '\n')
				p++;
		} else if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
			int depth = 0;

			/* nested, as PostgreSQL's are */
			for (; p + 1 < end; p++) {
				if (p[0] == '/' && p[1] == '*') {
					depth++;
					p++;
				} else if (p[0] == '*' && p[1] == '/' && --depth == 0) {
					p += 2;
					break;
				}
			}
			if (depth)
				return false;
		} else {
			break;
		}
	}
	for (n = 0; p + n < end && qcache_ident(p[n]); n++)
		;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i]) == n && !strncasecmp(p, kinds[i], n))
			return true;
	return false;
}

/* the end of a quoted string from its opening quote at p; backslash escapes in E'' */
static const char *qcache_string_end(const char *p, const char *end, bool escapes)
{
	for (p++; p < end; p++) {
		if (escapes && *p == '\\' && p + 1 < end) {
			p++;
		} else if (*p == '\'') {
			if (p + 1 < end && p[1] == '\'')
				p++;
			else
				return p + 1;
		}
	}
	return NULL;
}

/*
 * The key of sql (len bytes) into out (room for len bytes): each
 * constant (a quoted, escaped, bit or dollar-quoted string, a number)
 * as QCACHE_CONST, all else as it is, as PostgreSQL's scanner reads it
 * (standard_conforming_strings on, as the parser pgxr classifies with).
 * 0: the text keeps its constants (another kind, or one pgxr cannot
 * scan through).
 */
static size_t qcache_shape(const char *sql, size_t len, char *out)
{
	const char *p = sql, *end = sql + len, *e;
	size_t o = 0;

	/* a text with the byte itself is its own key: no other text's constants can make it */
	if (memchr(sql, QCACHE_CONST, len) || !qcache_shapeable(p, end))
		return 0;
	while (p < end) {
		char c = *p;
		bool word_before;

		if (!(qcache_class[(unsigned char)c] & QCACHE_SPECIAL)) {
			out[o++] = *p++;
			continue;
		}
		word_before = p > sql && (qcache_ident(p[-1]) || p[-1] == '.');
		if (c == '-' && p + 1 < end && p[1] == '-') {
			for (; p < end && *p != '\n'; p++)
				out[o++] = *p;
		} else if (c == '/' && p + 1 < end && p[1] == '*') {
			int depth = 0;

			for (; p < end; p++) {
				out[o++] = *p;
				if (p + 1 < end && p[0] == '/' && p[1] == '*') {
					depth++;
					out[o++] = *++p;
				} else if (p + 1 < end && p[0] == '*' && p[1] == '/' && --depth == 0) {
					out[o++] = *++p;
					p++;
					break;
				}
			}
			if (depth)
				return 0;
		} else if (c == '"') {
			/* a quoted identifier, "" inside */
			for (out[o++] = *p++; p < end; p++) {
				out[o++] = *p;
				if (*p == '"') {
					if (p + 1 < end && p[1] == '"')
						out[o++] = *++p;
					else
						break;
				}
			}
			if (p++ >= end)
				return 0;
		} else if (c == '\'') {
			/*
			 * B'..', X'..', N'..': the prefix is the constant's.  E'..'
			 * and U&'..' stay as they are: the scanner refuses some of
			 * their escapes, so their text decides whether the
			 * statement parses at all
			 */
			bool prefix = word_before && strchr("eEbBxXnN", p[-1]) &&
				      (p - 1 == sql || !qcache_ident(p[-2]));
			bool escapes = prefix && strchr("eE", p[-1]);
			bool unicode = !prefix && p - sql >= 2 && p[-1] == '&' && strchr("uU", p[-2]) &&
				       (p - 2 == sql || !qcache_ident(p[-3]));

			if (!(e = qcache_string_end(p, end, escapes)))
				return 0;
			if (escapes || unicode) {
				memcpy(out + o, p, e - p);
				o += e - p;
			} else {
				o -= prefix;
				out[o++] = QCACHE_CONST;
			}
			p = e;
		} else if (c == '$' && !word_before && p + 1 < end && !isdigit((unsigned char)p[1])) {
			/* $tag$...$tag$, or $$...$$ */
			const char *tag_end = p + 1;
			size_t tag;

			while (tag_end < end && qcache_ident(*tag_end) && *tag_end != '$')
				tag_end++;
			if (tag_end >= end || *tag_end != '$') {
				out[o++] = *p++;
				continue;
			}
			tag = tag_end + 1 - p;
			for (e = tag_end + 1; e + tag <= end && memcmp(e, p, tag); e++)
				;
			if (e + tag > end)
				return 0;
			out[o++] = QCACHE_CONST;
			p = e + tag;
		} else if (!word_before && (isdigit((unsigned char)c) ||
					    (c == '.' && p + 1 < end && isdigit((unsigned char)p[1])))) {
			/* PostgreSQL 15's numbers: digits, one fraction, an exponent ("1..2" is 1 and "..") */
			while (p < end && isdigit((unsigned char)*p))
				p++;
			if (p < end && *p == '.' && !(p + 1 < end && p[1] == '.')) {
				p++;
				while (p < end && isdigit((unsigned char)*p))
					p++;
			}
			if (p < end && (*p == 'e' || *p == 'E')) {
				const char *x = p + 1;

				if (x < end && (*x == '+' || *x == '-'))
					x++;
				if (x < end && isdigit((unsigned char)*x)) {
					p = x;
					while (p < end && isdigit((unsigned char)*p))
						p++;
				}
			}
			out[o++] = QCACHE_CONST;
		} else {
			out[o++] = *p++;
		}
	}
	return o;
}

/*
 * The classification of sql (NUL-terminated, len bytes), parsed at its
 * first sight.  The result stays valid until the next call on q.  NULL
 * when memory ran out: the caller sends the statement to the primary.
 */
const struct classify *qcache_get(struct qcache *q, const char *sql, size_t len)
{
	struct qcache_entry *e, **bucket;
	char buf[QCACHE_MAX_TEXT];
	const char *key = sql;
	size_t klen = len;
	bool shaped;
	uint64_t h;

	classify_free(&q->scratch);
	if (len > QCACHE_MAX_TEXT) {
		q->st.uncached++;
		return classify_sql(sql, &q->scratch) ? NULL : &q->scratch;
	}
	klen = qcache_shape(sql, len, buf);
	shaped = klen > 0;
	if (shaped)
		key = buf;
	else
		klen = len;
	h = qcache_hash(q->key, (const uint8_t *)key, klen);
	bucket = &q->buckets[h & (q->nbuckets - 1)];
	for (e = *bucket; e; e = e->chain) {
		if (e->hash == h && e->len == klen && e->shaped == shaped && !memcmp(e->text, key, klen)) {
			q->st.hits++;
			if (q->newest != e) {
				qcache_unlink(q, e);
				qcache_push(q, e);
			}
			return &e->c;
		}
	}
	q->st.misses++;
	e = malloc(sizeof(*e) + klen + 1);
	if (!e)
		return NULL;
	memcpy(e->text, key, klen);
	e->text[klen] = '\0';
	e->len = klen;
	e->shaped = shaped;
	e->hash = h;
	if (classify_sql(sql, &e->c)) {
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
