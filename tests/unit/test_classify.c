/* test_classify.c: the read/write rules of pgpool-II 4.4, statement by statement, through PostgreSQL's parser */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "tap.h"

#define P CLASSIFY_PRIMARY
#define B CLASSIFY_BOTH
#define E CLASSIFY_EITHER
#define SEL CLASSIFY_STAT_SELECT
#define INS CLASSIFY_STAT_INSERT
#define UPD CLASSIFY_STAT_UPDATE
#define DEL CLASSIFY_STAT_DELETE
#define DDL CLASSIFY_STAT_DDL
#define OTH CLASSIFY_STAT_OTHER

static const struct {
	const char *sql;
	enum classify_dest dest;
	enum classify_stat stat;
	unsigned has;	/* flags it must have */
	unsigned lacks;	/* flags it must not have */
} rules[] = {
	/* 1. several statements: the primary, counted by the first */
	{ "SELECT 1; SELECT 2", P, SEL, CLASSIFY_MULTI | CLASSIFY_WRITE, 0 },
	{ "BEGIN; SELECT 1; COMMIT", P, OTH, CLASSIFY_MULTI, 0 },
	{ "SELECT ';'", E, SEL, 0, CLASSIFY_MULTI | CLASSIFY_WRITE },
	{ "SELECT 1;", E, SEL, 0, CLASSIFY_MULTI },
	/* 2. the primary only */
	{ "INSERT INTO t VALUES (1)", P, INS, CLASSIFY_WRITE | CLASSIFY_DML, 0 },
	{ "UPDATE t SET x = 1", P, UPD, CLASSIFY_WRITE | CLASSIFY_DML, 0 },
	{ "DELETE FROM t", P, DEL, CLASSIFY_WRITE | CLASSIFY_DML, 0 },
	{ "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", P, DDL, CLASSIFY_DML, 0 },
	{ "COPY t FROM STDIN", P, DDL, CLASSIFY_WRITE | CLASSIFY_DML, 0 },
	{ "COPY t TO '/tmp/x'", P, DDL, CLASSIFY_WRITE, 0 },
	{ "COPY t TO PROGRAM 'cat'", P, DDL, CLASSIFY_WRITE, 0 },
	{ "COPY (INSERT INTO t VALUES (1) RETURNING *) TO STDOUT", P, DDL, CLASSIFY_WRITE, 0 },
	{ "TRUNCATE t", P, DDL, CLASSIFY_WRITE, 0 },
	{ "CREATE TABLE t (x int)", P, DDL, CLASSIFY_WRITE, 0 },
	{ "ALTER TABLE t ADD COLUMN y int", P, DDL, CLASSIFY_WRITE, 0 },
	{ "DROP TABLE t", P, DDL, CLASSIFY_WRITE, 0 },
	{ "CREATE INDEX ON t (x)", P, DDL, CLASSIFY_WRITE, 0 },
	{ "ALTER TYPE mood ADD VALUE 'meh'", P, DDL, CLASSIFY_WRITE, 0 },
	{ "GRANT SELECT ON t TO bob", P, DDL, CLASSIFY_WRITE, 0 },
	{ "COMMENT ON TABLE t IS 'x'", P, DDL, CLASSIFY_WRITE, 0 },
	{ "SELECT * INTO t2 FROM t", P, SEL, CLASSIFY_WRITE, 0 },
	{ "CREATE TABLE t2 AS SELECT * FROM t", P, DDL, CLASSIFY_WRITE, 0 },
	{ "SELECT * FROM t FOR UPDATE", P, SEL, CLASSIFY_WRITE, 0 },
	{ "SELECT * FROM t FOR SHARE", P, SEL, CLASSIFY_WRITE, 0 },
	{ "SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED", P, SEL, CLASSIFY_WRITE, 0 },
	{ "SELECT * FROM (SELECT * FROM t FOR UPDATE) s", P, SEL, CLASSIFY_WRITE, 0 },
	{ "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", P, SEL, CLASSIFY_WRITE | CLASSIFY_DML, 0 },
	{ "WITH u AS (UPDATE t SET x = 1 RETURNING *) SELECT count(*) FROM u", P, SEL, CLASSIFY_DML, 0 },
	{ "LOCK t", P, OTH, CLASSIFY_WRITE, 0 },
	{ "LOCK t IN ROW EXCLUSIVE MODE", P, OTH, CLASSIFY_WRITE, 0 },
	{ "LOCK t IN SHARE MODE", P, OTH, 0, 0 },
	{ "DECLARE c CURSOR FOR SELECT 1", P, DDL, CLASSIFY_WRITE, 0 },
	{ "FETCH 10 FROM c", P, DDL, CLASSIFY_WRITE, 0 },
	{ "CLOSE c", P, DDL, CLASSIFY_WRITE, 0 },
	{ "LISTEN ch", P, OTH, CLASSIFY_WRITE, 0 },
	{ "UNLISTEN *", P, OTH, CLASSIFY_WRITE, 0 },
	{ "NOTIFY ch, 'x'", P, OTH, CLASSIFY_WRITE, 0 },
	{ "VACUUM t", P, OTH, CLASSIFY_WRITE, 0 },
	{ "ANALYZE t", P, OTH, CLASSIFY_WRITE, 0 },
	{ "PREPARE TRANSACTION 'g'", P, OTH, CLASSIFY_TX_END, 0 },
	{ "COMMIT PREPARED 'g'", P, OTH, CLASSIFY_TX_END, 0 },
	{ "ROLLBACK PREPARED 'g'", P, OTH, CLASSIFY_TX_END, 0 },
	{ "PREPARE q AS SELECT 1", P, OTH, CLASSIFY_WRITE, 0 },
	{ "EXECUTE q", P, OTH, CLASSIFY_WRITE, 0 },
	{ "DEALLOCATE q", P, OTH, CLASSIFY_WRITE, 0 },
	{ "SET transaction_read_only = off", P, OTH, CLASSIFY_READ_WRITE, 0 },
	{ "SET transaction_read_only TO false", P, OTH, CLASSIFY_READ_WRITE, 0 },
	{ "SET transaction_read_only = 0", P, OTH, CLASSIFY_READ_WRITE, 0 },
	{ "SET TRANSACTION READ WRITE", P, OTH, CLASSIFY_READ_WRITE, 0 },
	{ "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", P, OTH, CLASSIFY_READ_WRITE, 0 },
	{ "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", P, OTH, CLASSIFY_SERIALIZABLE,
	  CLASSIFY_DEFAULT_SERIALIZABLE },
	{ "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE", P, OTH,
	  CLASSIFY_SERIALIZABLE | CLASSIFY_DEFAULT_SERIALIZABLE, 0 },
	{ "SET transaction_isolation = 'serializable'", P, OTH, CLASSIFY_SERIALIZABLE,
	  CLASSIFY_DEFAULT_SERIALIZABLE },
	{ "SET default_transaction_isolation TO 'SERIALIZABLE'", P, OTH,
	  CLASSIFY_SERIALIZABLE | CLASSIFY_DEFAULT_SERIALIZABLE, 0 },
	{ "SET LOCAL default_transaction_isolation TO 'SERIALIZABLE'", P, OTH, CLASSIFY_SERIALIZABLE,
	  CLASSIFY_DEFAULT_SERIALIZABLE },
	{ "CALL p()", P, DDL, CLASSIFY_WRITE, 0 },
	{ "DO $$ BEGIN END $$", P, DDL, CLASSIFY_WRITE, 0 },
	{ "CHECKPOINT", P, OTH, CLASSIFY_WRITE, 0 },
	{ "REFRESH MATERIALIZED VIEW m", P, DDL, CLASSIFY_WRITE, 0 },
	/* what the parser rejects */
	{ "SELEKT 1", P, OTH, CLASSIFY_UNPARSED | CLASSIFY_WRITE, 0 },
	{ "SELECT 'unterminated", P, OTH, CLASSIFY_UNPARSED, 0 },
	/* 3. the primary and the read node */
	{ "BEGIN", B, OTH, CLASSIFY_BEGIN,
	  CLASSIFY_PLAIN_BEGIN | CLASSIFY_WRITE | CLASSIFY_START | CLASSIFY_TX_ISOLATION | CLASSIFY_SNAPSHOT },
	{ "BEGIN ISOLATION LEVEL READ COMMITTED", B, OTH, CLASSIFY_BEGIN | CLASSIFY_TX_ISOLATION,
	  CLASSIFY_SNAPSHOT },
	{ "START TRANSACTION", B, OTH, CLASSIFY_BEGIN | CLASSIFY_START, CLASSIFY_PLAIN_BEGIN },
	{ "BEGIN READ ONLY", B, OTH, CLASSIFY_BEGIN | CLASSIFY_READ_ONLY, CLASSIFY_PLAIN_BEGIN },
	{ "BEGIN READ WRITE", B, OTH, CLASSIFY_BEGIN | CLASSIFY_READ_WRITE | CLASSIFY_PLAIN_BEGIN,
	  CLASSIFY_TX_ISOLATION },
	{ "BEGIN ISOLATION LEVEL REPEATABLE READ, READ WRITE", B, OTH,
	  CLASSIFY_BEGIN | CLASSIFY_READ_WRITE | CLASSIFY_TX_ISOLATION | CLASSIFY_SNAPSHOT, CLASSIFY_SERIALIZABLE },
	{ "BEGIN READ WRITE DEFERRABLE", B, OTH, CLASSIFY_BEGIN | CLASSIFY_READ_WRITE | CLASSIFY_TX_ISOLATION, 0 },
	{ "BEGIN ISOLATION LEVEL SERIALIZABLE", B, OTH,
	  CLASSIFY_BEGIN | CLASSIFY_SERIALIZABLE | CLASSIFY_PLAIN_BEGIN | CLASSIFY_SNAPSHOT, 0 },
	{ "START TRANSACTION ISOLATION LEVEL REPEATABLE READ", B, OTH,
	  CLASSIFY_BEGIN | CLASSIFY_START | CLASSIFY_TX_ISOLATION | CLASSIFY_SNAPSHOT, CLASSIFY_PLAIN_BEGIN },
	{ "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ", B, OTH,
	  CLASSIFY_DEFAULT_ISOLATION | CLASSIFY_SNAPSHOT, CLASSIFY_DEFAULT_SERIALIZABLE },
	{ "SET default_transaction_isolation = 'repeatable read'", B, OTH,
	  CLASSIFY_DEFAULT_ISOLATION | CLASSIFY_SNAPSHOT, CLASSIFY_DEFAULT_SERIALIZABLE },
	{ "SET default_transaction_isolation = 'read committed'", B, OTH,
	  CLASSIFY_DEFAULT_ISOLATION, CLASSIFY_SNAPSHOT },
	{ "COMMIT", B, OTH, CLASSIFY_TX_END, CLASSIFY_WRITE },
	{ "END", B, OTH, CLASSIFY_TX_END, 0 },
	{ "ROLLBACK", B, OTH, CLASSIFY_TX_END, 0 },
	{ "ABORT", B, OTH, CLASSIFY_TX_END, 0 },
	{ "SAVEPOINT s", B, OTH, CLASSIFY_WRITE, CLASSIFY_TX_END },
	{ "RELEASE SAVEPOINT s", B, OTH, 0, 0 },
	{ "ROLLBACK TO SAVEPOINT s", B, OTH, 0, CLASSIFY_WRITE },
	{ "SET search_path = app, public", B, OTH, CLASSIFY_SESSION_SET | CLASSIFY_WRITE, 0 },
	{ "SET LOCAL statement_timeout = 0", B, OTH, CLASSIFY_SESSION_SET, 0 },
	{ "RESET ALL", B, OTH, CLASSIFY_SESSION_SET, 0 },
	{ "SET transaction_read_only = on", B, OTH, CLASSIFY_READ_ONLY, CLASSIFY_WRITE },
	{ "SET TRANSACTION READ ONLY", B, OTH, CLASSIFY_READ_ONLY, CLASSIFY_WRITE },
	{ "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", B, OTH, 0, CLASSIFY_SERIALIZABLE },
	{ "SET default_transaction_isolation = 'read committed'", B, OTH, CLASSIFY_DEFAULT_ISOLATION,
	  CLASSIFY_SERIALIZABLE | CLASSIFY_DEFAULT_SERIALIZABLE },
	{ "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED", B, OTH,
	  CLASSIFY_DEFAULT_ISOLATION, CLASSIFY_DEFAULT_SERIALIZABLE },
	{ "RESET default_transaction_isolation", B, OTH, CLASSIFY_DEFAULT_ISOLATION, CLASSIFY_DEFAULT_SERIALIZABLE },
	{ "RESET ALL", B, OTH, CLASSIFY_DEFAULT_ISOLATION, 0 },
	{ "DISCARD ALL", B, OTH, CLASSIFY_DEFAULT_ISOLATION, 0 },
	{ "DISCARD PLANS", B, OTH, 0, CLASSIFY_DEFAULT_ISOLATION },
	{ "SET work_mem = '8MB'", B, OTH, 0, CLASSIFY_DEFAULT_ISOLATION },
	{ "DISCARD ALL", B, OTH, CLASSIFY_SESSION_SET, 0 },
	{ "DEALLOCATE ALL", B, OTH, 0, 0 },
	{ "LOCK t IN ACCESS SHARE MODE", B, OTH, 0, 0 },
	{ "LOCK t IN ROW SHARE MODE", B, OTH, 0, 0 },
	/* 4. reads */
	{ "SELECT 1", E, SEL, 0, CLASSIFY_WRITE },
	{ "select * from t where x = $1", E, SEL, 0, CLASSIFY_WRITE },
	{ "(SELECT 1) UNION (SELECT 2)", E, SEL, 0, 0 },
	{ "WITH r AS (SELECT 1) SELECT * FROM r", E, SEL, 0, 0 },
	{ "TABLE t", E, SEL, 0, 0 },
	{ "VALUES (1), (2)", E, SEL, 0, 0 },
	{ "COPY t TO STDOUT", E, DDL, 0, CLASSIFY_WRITE },
	{ "COPY (SELECT * FROM t) TO STDOUT WITH (FORMAT csv)", E, DDL, 0, 0 },
	{ "EXPLAIN SELECT * FROM t", E, OTH, 0, CLASSIFY_WRITE },
	{ "EXPLAIN INSERT INTO t VALUES (1)", E, OTH, 0, 0 },
	{ "EXPLAIN ANALYZE SELECT * FROM t", E, OTH, 0, CLASSIFY_WRITE },
	{ "EXPLAIN (ANALYZE false) UPDATE t SET x = 1", E, OTH, 0, 0 },
	{ "EXPLAIN ANALYZE UPDATE t SET x = 1", P, OTH, CLASSIFY_WRITE, 0 },
	{ "EXPLAIN (ANALYZE, BUFFERS) DELETE FROM t", P, OTH, CLASSIFY_WRITE, 0 },
	{ "EXPLAIN ANALYZE SELECT * FROM t FOR UPDATE", P, OTH, CLASSIFY_WRITE, 0 },
	{ "EXPLAIN (ANALYZE) SELECT * INTO t2 FROM t", P, OTH, CLASSIFY_WRITE, 0 },
	{ "EXPLAIN SELECT * FROM t FOR UPDATE", E, OTH, 0, 0 },
	{ "SHOW search_path", E, OTH, 0, CLASSIFY_WRITE },
	{ "SHOW ALL", E, OTH, 0, 0 },
	{ "", E, SEL, 0, 0 },
	{ " ; ", E, SEL, 0, 0 },
	/* comments: the text checks are the router's, the flags are here */
	{ "/* hi */ SELECT 1", E, SEL, CLASSIFY_COMMENT, CLASSIFY_NO_LB },
	{ "-- hi\nSELECT 1", E, SEL, CLASSIFY_COMMENT, 0 },
	{ "/*NO LOAD BALANCE*/ SELECT 1", E, SEL, CLASSIFY_COMMENT | CLASSIFY_NO_LB, 0 },
	{ "  /*no load balance*/SELECT 1", E, SEL, CLASSIFY_NO_LB, 0 },
	{ "SELECT 1 /*NO LOAD BALANCE*/", E, SEL, 0, CLASSIFY_COMMENT | CLASSIFY_NO_LB },
};

static int t_rules(void)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		struct classify c;
		int ret = classify_sql(rules[i].sql, &c);

		CHECK(ret == 0, "\"%s\": %d", rules[i].sql, ret);
		CHECK(c.dest == rules[i].dest, "\"%s\": %s, expected %s (%s)", rules[i].sql,
		      classify_dest_name(c.dest), classify_dest_name(rules[i].dest), c.why ? c.why : "");
		CHECK(c.stat == rules[i].stat, "\"%s\": counted as %d, expected %d", rules[i].sql, c.stat,
		      rules[i].stat);
		CHECK((c.flags & rules[i].has) == rules[i].has, "\"%s\": flags %#x lack %#x", rules[i].sql,
		      c.flags, rules[i].has & ~c.flags);
		CHECK(!(c.flags & rules[i].lacks), "\"%s\": flags %#x have %#x", rules[i].sql, c.flags,
		      c.flags & rules[i].lacks);
		CHECK((c.dest == CLASSIFY_PRIMARY) == (c.why != NULL), "\"%s\": why \"%s\"", rules[i].sql,
		      c.why ? c.why : "(none)");
		classify_free(&c);
	}
	return 0;
}

/* the names as one string: "rels: s.a b | funcs: f s.g" */
static int names_of(const struct classify *c, char *buf, size_t len)
{
	const char *p = NULL;
	size_t off = 0;

	off += snprintf(buf + off, len - off, "rels:");
	for (unsigned i = 0; i < c->nrels + c->nfuncs; i++) {
		const char *schema = classify_name_next(c, p);
		const char *name = classify_name_next(c, schema);

		p = name;
		if (i == c->nrels)
			off += snprintf(buf + off, len - off, " | funcs:");
		off += snprintf(buf + off, len - off, " %s%s%s", schema, schema[0] ? "." : "", name);
	}
	CHECK(classify_name_next(c, p) == NULL, "names past the last");
	return 0;
}

static int t_names(void)
{
	static const struct {
		const char *sql, *names;
	} cases[] = {
		{ "SELECT 1", "rels:" },
		{ "SELECT * FROM t", "rels: t" },
		{ "SELECT * FROM app.t JOIN pg_catalog.pg_class c ON true, u", "rels: app.t pg_catalog.pg_class u" },
		{ "SELECT nextval('s')", "rels: | funcs: nextval" },
		{ "SELECT pg_catalog.now(), db.sch.f(x) FROM t WHERE y IN (SELECT g() FROM v)",
		  "rels: t v | funcs: pg_catalog.now sch.f g" },
		{ "WITH r AS (SELECT * FROM a) SELECT count(*) FROM r, LATERAL f(r.x)",
		  "rels: r a | funcs: count f" },
		{ "INSERT INTO t SELECT * FROM u", "rels: t u" },
		{ "SELECT \"Mixed\".\"Case\" FROM \"Mixed\"", "rels: Mixed" },
		{ "SELECT upper(x) FROM t1; SELECT lower(y) FROM t2", "rels: t1 t2 | funcs: upper lower" },
	};
	char buf[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct classify c;

		CHECK(classify_sql(cases[i].sql, &c) == 0, "\"%s\"", cases[i].sql);
		CHECK(names_of(&c, buf, sizeof(buf)) == 0, "\"%s\": %s", cases[i].sql, tap_why);
		CHECK(!strcmp(buf, cases[i].names), "\"%s\": %s, expected %s", cases[i].sql, buf,
		      cases[i].names);
		classify_free(&c);
	}
	return 0;
}

/* pgpool's first-character test of a SELECT, for allow_sql_comments = off */
static int t_select_text(void)
{
	static const struct {
		const char *sql;
		bool ok;
	} cases[] = {
		{ "SELECT 1", true }, { "  select 1", true }, { "\n\t(SELECT 1)", true }, { "WITH x AS (SELECT 1) SELECT 1", true },
		{ "TABLE t", true }, { "", true }, { ";", true }, { "/* c */ SELECT 1", false },
		{ "-- c\nSELECT 1", false }, { "VALUES (1)", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(classify_select_text_ok(cases[i].sql) == cases[i].ok, "\"%s\": expected %d", cases[i].sql,
		      cases[i].ok);
	return 0;
}

/* nesting that the walk does not follow goes to the primary; a parser limit is a parse error */
static int t_deep(void)
{
	size_t depth = 1000, len = 16 + depth * 4;
	char *sql = malloc(len);
	struct classify c;
	size_t off;

	CHECK(sql, "malloc");
	/* 1+(1+(1+...)): an expression node per level (parentheses alone make none) */
	off = (size_t)snprintf(sql, len, "SELECT ");
	for (size_t i = 0; i < depth; i++) {
		memcpy(sql + off, "1+(", 3);
		off += 3;
	}
	sql[off++] = '1';
	for (size_t i = 0; i < depth; i++)
		sql[off++] = ')';
	sql[off] = '\0';
	CHECK(classify_sql(sql, &c) == 0, "deep");
	CHECK(c.dest == CLASSIFY_PRIMARY, "1000 levels: %s", classify_dest_name(c.dest));
	CHECK(c.flags & (CLASSIFY_TOO_DEEP | CLASSIFY_UNPARSED), "flags %#x", c.flags);
	classify_free(&c);
	free(sql);
	return 0;
}

int main(void)
{
	tap_run("classify: pgpool-II 4.4's rules for each kind of statement", t_rules);
	tap_run("classify: the relations and functions a statement names", t_names);
	tap_run("classify: pgpool's first-character test of a SELECT's text", t_select_text);
	tap_run("classify: a statement nested deeper than the walk goes to the primary", t_deep);
	return tap_done();
}
