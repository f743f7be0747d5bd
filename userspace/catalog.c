/*
 * catalog.c: what the read/write split needs from the primary's catalog:
 * which functions may write (pgpool's rule with both function lists
 * empty: a VOLATILE one), and which tables are unlogged (a standby has
 * none of their rows: check_unlogged_table).  The catalog is per
 * database: for each database a proxy session asked about, the main
 * loop fetches both lists in one query, then every CATALOG_REFRESH_MS,
 * and soon after a transaction that changed functions or tables ended;
 * the workers look names up under a read lock.  A function the last
 * fetch did not have, or any name of a database not fetched (yet, or at
 * all: the health check user may not log in to it), is taken as a write.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "log.h"
#include "node.h"
#include "nodeconn.h"
#include "pgq.h"

/* how often the list is fetched again when no DDL says it changed */
#ifndef CATALOG_REFRESH_MS
#define CATALOG_REFRESH_MS 60000
#endif
/* a fetch that failed is tried again after this */
#define CATALOG_RETRY_MS 5000
/* at most one fetch of a database this often, however often functions change */
#define CATALOG_MIN_MS 1000

/*
 * One function name (kind 'f'), in one schema or (schema "") in any:
 * volatile when one function of that name there is; or an unlogged
 * table's name (kind 'u'), likewise
 */
struct catalog_fn {
	struct catalog_fn *next;
	bool writes;
	char kind;
	char key[];		/* schema, NUL, name, NUL */
};

/* one fetch's answer: a hash table of names, never changed once published */
struct catalog_set {
	uint32_t nbuckets;	/* a power of two */
	struct catalog_fn **buckets;
};

/* a database's list; entries are added, never removed, while pgxrd runs */
struct catalog_db {
	struct catalog_db *next;
	struct catalog_set *set;	/* NULL: not fetched */
	atomic_bool dirty;		/* its functions changed: fetch again */
	bool failed;			/* the last fetch failed (read under the lock) */
	long long next_ms;		/* main loop: the next fetch is due (monotonic) */
	long long last_ms;		/* main loop: the last fetch began */
	char name[64];
};

/* the databases and their published sets, under the lock */
static pthread_rwlock_t catalog_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct catalog_db *catalog_dbs;
/* the main loop's fetch under way, one at a time */
static struct {
	struct pgq_conn *conn;
	struct catalog_db *db;
} cat;

static const char catalog_sql[] =
	"SELECT 'f', n.nspname, p.proname, bool_or(p.provolatile = 'v') "
	"FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
	"GROUP BY 2, 3 "
	"UNION ALL SELECT 'u', n.nspname, c.relname, true "
	"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	"WHERE c.relpersistence = 'u' AND c.relkind IN ('r', 'p', 'S')";

static long long catalog_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static uint32_t catalog_hash(const char *schema, const char *name)
{
	uint32_t h = 2166136261u;

	for (const char *p = schema; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

static struct catalog_fn *catalog_find(const struct catalog_set *s, char kind, const char *schema,
				       const char *name)
{
	size_t ls = strlen(schema);

	for (struct catalog_fn *f = s->buckets[catalog_hash(schema, name) & (s->nbuckets - 1)]; f;
	     f = f->next)
		if (f->kind == kind && !strcmp(f->key, schema) && !strcmp(f->key + ls + 1, name))
			return f;
	return NULL;
}

/* name of kind in schema writes (with others of its name); -ENOMEM */
static int catalog_add(struct catalog_set *s, char kind, const char *schema, const char *name,
		       bool writes)
{
	struct catalog_fn *f = catalog_find(s, kind, schema, name);
	size_t ls = strlen(schema), ln = strlen(name);
	uint32_t b;

	if (f) {
		f->writes |= writes;
		return 0;
	}
	f = malloc(sizeof(*f) + ls + ln + 2);
	if (!f)
		return -ENOMEM;
	memcpy(f->key, schema, ls + 1);
	memcpy(f->key + ls + 1, name, ln + 1);
	f->writes = writes;
	f->kind = kind;
	b = catalog_hash(schema, name) & (s->nbuckets - 1);
	f->next = s->buckets[b];
	s->buckets[b] = f;
	return 0;
}

static void catalog_set_free(struct catalog_set *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nbuckets; i++) {
		for (struct catalog_fn *f = s->buckets[i], *next; f; f = next) {
			next = f->next;
			free(f);
		}
	}
	free(s->buckets);
	free(s);
}

/* the fetch's rows, as a set: each name under its schema and under "" (any schema) */
static struct catalog_set *catalog_build(const struct pgq_result *res)
{
	int rows = pgq_ntuples(res);
	struct catalog_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->nbuckets = 1024;
	while (s->nbuckets < (uint32_t)rows * 2 && s->nbuckets < (1u << 20))
		s->nbuckets <<= 1;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	if (!s->buckets)
		goto fail;
	for (int i = 0; i < rows; i++) {
		char kind = pgq_value(res, i, 0)[0];
		const char *schema = pgq_value(res, i, 1), *name = pgq_value(res, i, 2);
		bool writes = !strcmp(pgq_value(res, i, 3), "t");

		if (catalog_add(s, kind, schema, name, writes) || catalog_add(s, kind, "", name, writes))
			goto fail;
	}
	return s;
fail:
	catalog_set_free(s);
	return NULL;
}

static void catalog_done(const struct pgq_result *res, const char *err, void *arg)
{
	struct catalog_db *db = arg;
	struct catalog_set *s = NULL, *old;

	if (res)
		s = catalog_build(res);
	if (!s) {
		log_warning("could not read the functions' volatility and the unlogged tables in database \"%s\" from the primary: %s; its reads %s",
			    db->name, err ? err : "out of memory",
			    db->set ? "are judged by the last lists" :
			    "that call a function go to the primary, its tables are taken as logged");
		db->next_ms = catalog_now() + CATALOG_RETRY_MS;
		pthread_rwlock_wrlock(&catalog_lock);
		db->failed = true;
		pthread_rwlock_unlock(&catalog_lock);
	} else {
		pthread_rwlock_wrlock(&catalog_lock);
		old = db->set;
		db->set = s;
		db->failed = false;
		pthread_rwlock_unlock(&catalog_lock);
		catalog_set_free(old);
		db->next_ms = catalog_now() + CATALOG_REFRESH_MS;
		log_debug("read %d function and unlogged table names in database \"%s\"", pgq_ntuples(res),
			  db->name);
	}
	pgq_close(cat.conn);
	cat.conn = NULL;
	cat.db = NULL;
}

/*
 * The main loop, each tick while load_balance_mode is on (from the
 * proxy's maintenance): the list is fetched from the primary when due,
 * or soon after DDL went through the proxy
 */
void catalog_poll(void)
{
	struct catalog_db *db;
	long long now;
	struct node *n;

	if (cat.conn || !(n = node_get(node_primary())))
		return;
	now = catalog_now();
	pthread_rwlock_rdlock(&catalog_lock);
	for (db = catalog_dbs; db; db = db->next)
		if (now >= db->next_ms || (atomic_load(&db->dirty) && now >= db->last_ms + CATALOG_MIN_MS))
			break;
	pthread_rwlock_unlock(&catalog_lock);
	if (!db)
		return;
	atomic_store(&db->dirty, false);
	db->last_ms = now;
	db->next_ms = now + CATALOG_RETRY_MS;
	cat.db = db;
	cat.conn = nodeconn_open_db(n, NODECONN_HEALTH, db->name, nodeconn_timeout_ms(n), NULL, NULL);
	if (!cat.conn || pgq_query(cat.conn, catalog_sql, nodeconn_timeout_ms(n), catalog_done, db)) {
		pgq_close(cat.conn);
		cat.conn = NULL;
		cat.db = NULL;
	}
}

/* under catalog_lock: database's entry; NULL: none */
static struct catalog_db *catalog_db_find(const char *database)
{
	for (struct catalog_db *db = catalog_dbs; db; db = db->next)
		if (!strcmp(db->name, database))
			return db;
	return NULL;
}

/* a transaction that changed functions or tables in database ended: its lists are fetched again */
void catalog_changed(const char *database)
{
	struct catalog_db *db;

	pthread_rwlock_rdlock(&catalog_lock);
	db = catalog_db_find(database);
	if (db)
		atomic_store(&db->dirty, true);
	pthread_rwlock_unlock(&catalog_lock);
}

/*
 * What the catalog of database says of name of kind (in schema; ""
 * unqualified: in any): a function that may write (VOLATILE), an
 * unlogged table.  A database not fetched yet is asked for by its first
 * lookup, and says true meanwhile; a function it does not know (created
 * since the last fetch) writes; a table it does not know is logged.
 */
static bool catalog_says(const char *database, char kind, const char *schema, const char *name)
{
	const struct catalog_fn *f;
	struct catalog_db *db;
	bool writes = true;

	pthread_rwlock_rdlock(&catalog_lock);
	db = catalog_db_find(database);
	if (db && db->set) {
		f = catalog_find(db->set, kind, schema, name);
		writes = f ? f->writes : kind == 'f';
	} else if (db && db->failed && kind == 'u') {
		/* unreadable: its tables are taken as logged, rather than none balanced (said in the log) */
		writes = false;
	}
	pthread_rwlock_unlock(&catalog_lock);
	if (db || strlen(database) >= sizeof(db->name))
		return writes;
	pthread_rwlock_wrlock(&catalog_lock);
	if (!catalog_db_find(database) && (db = calloc(1, sizeof(*db)))) {
		snprintf(db->name, sizeof(db->name), "%s", database);
		db->next = catalog_dbs;
		catalog_dbs = db;
	}
	pthread_rwlock_unlock(&catalog_lock);
	return true;
}

/* whether function name (in schema; "": in any) may write in database */
bool catalog_function_writes(const char *database, const char *schema, const char *name)
{
	return catalog_says(database, 'f', schema, name);
}

/* whether table name (in schema; "": in any) is unlogged in database */
bool catalog_table_unlogged(const char *database, const char *schema, const char *name)
{
	return catalog_says(database, 'u', schema, name);
}

/* at shutdown */
void catalog_stop(void)
{
	pgq_close(cat.conn);
	cat.conn = NULL;
	cat.db = NULL;
	pthread_rwlock_wrlock(&catalog_lock);
	while (catalog_dbs) {
		struct catalog_db *db = catalog_dbs;

		catalog_dbs = db->next;
		catalog_set_free(db->set);
		free(db);
	}
	pthread_rwlock_unlock(&catalog_lock);
}
