/* test_txstate.c: transaction pooling's pins, SET tracking, statement renaming and per-server statement sets */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgproto.h"
#include "tap.h"
#include "txstate.h"

static int t_pins(void)
{
	static const struct {
		const char *sql, *why;
	} cases[] = {
		{ "LISTEN jobs", "LISTEN" },
		{ "  listen jobs;", "LISTEN" },
		{ "BEGIN; LISTEN jobs; COMMIT", "LISTEN" },
		{ "PREPARE q AS SELECT 1", "PREPARE" },
		{ "PREPARE TRANSACTION 'x'", NULL },
		{ "CREATE TEMP TABLE t (x int)", "temporary table" },
		{ "create local temporary table t (x int)", "temporary table" },
		{ "CREATE TABLE t (x int)", NULL },
		{ "SELECT * INTO TEMP t FROM x", "temporary table" },
		{ "DECLARE c CURSOR WITH HOLD FOR SELECT 1", "cursor WITH HOLD" },
		{ "DECLARE c CURSOR FOR SELECT 1", NULL },
		{ "SELECT pg_advisory_lock(1)", "advisory lock" },
		{ "select pg_try_advisory_lock_shared(1)", "advisory lock" },
		{ "SELECT pg_advisory_xact_lock(1)", NULL },
		{ "SELECT 'LISTEN x'", NULL },
		{ "-- LISTEN x\nSELECT 1", NULL },
		{ "/* a comment */ LISTEN x", "LISTEN" },
		{ "SELECT 'a;b'; LISTEN x", "LISTEN" },
		{ "SELECT $$;LISTEN$$", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = tx_pin_reason(cases[i].sql);

		CHECK((!got && !cases[i].why) || (got && cases[i].why && !strcmp(got, cases[i].why)),
		      "\"%s\": got %s, want %s", cases[i].sql, got ? got : "none",
		      cases[i].why ? cases[i].why : "none");
	}
	return 0;
}

static int t_sets(void)
{
	struct tx_session t = {};
	uint8_t *out;
	size_t len;
	int n;

	CHECK(tx_set_track(&t, "SET search_path = app, public") == 1 && t.nsets == 1, "one SET");
	CHECK(tx_set_track(&t, "set work_mem TO '64MB'; SET LOCAL statement_timeout = 5") == 1,
	      "SET LOCAL is the transaction's");
	CHECK(tx_set_track(&t, "SET SESSION search_path TO app2") == 1 && t.nsets == 2 &&
	      !strcmp(t.sets[0], "SET SESSION search_path TO app2"), "the last SET of a name wins: %s",
	      t.sets[0]);
	CHECK(tx_set_track(&t, "SET TIME ZONE 'UTC'") == 1 && t.nsets == 3, "SET TIME ZONE");
	CHECK(tx_set_track(&t, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE") == 0 && t.nsets == 3,
	      "SET TRANSACTION is the transaction's");
	CHECK(tx_set_track(&t, "RESET timezone") == 1 && t.nsets == 2, "RESET forgets one");
	n = tx_set_replay(&t, &out, &len);
	CHECK(n == 2 && out[0] == 'Q' && !strcmp((char *)out + 5, t.sets[0]), "replay as Queries");
	free(out);
	CHECK(tx_set_track(&t, "DISCARD ALL") == 1 && t.nsets == 0, "DISCARD ALL forgets all");
	tx_set_track(&t, "SET a.b = 1");
	CHECK(tx_set_track(&t, "RESET ALL") == 1 && t.nsets == 0, "RESET ALL forgets all");
	CHECK(tx_set_track(&t, "SELECT 'SET x = 1'") == 0, "a SELECT is no SET");
	tx_session_free(&t);
	return 0;
}

/* a Parse message: name, query, no parameter types */
static size_t parse_msg(uint8_t *out, const char *name, const char *query)
{
	size_t n = 5;

	out[0] = 'P';
	memcpy(out + n, name, strlen(name) + 1);
	n += strlen(name) + 1;
	memcpy(out + n, query, strlen(query) + 1);
	n += strlen(query) + 1;
	out[n++] = 0;
	out[n++] = 0;
	pgproto_put32(out + 1, n - 1);
	return n;
}

static int t_statements(void)
{
	struct tx_session a = {}, b = {};
	uint8_t m[256], *out;
	size_t n, len;
	const struct tx_stmt *sa, *sb;

	n = parse_msg(m, "", "SELECT 1");
	CHECK(tx_parse(&a, m, n, &out, &len) == 0, "an unnamed statement is renamed");
	n = parse_msg(m, "S_1", "SELECT $1");
	CHECK(tx_parse(&a, m, n, &out, &len) == 1, "a named statement is not kept");
	CHECK(out[0] == 'P' && pgproto_get32(out + 1) == len - 1 && !strncmp((char *)out + 5, "pgxr_", 5) &&
	      !strcmp((char *)out + 5 + TX_NAME_LEN, "SELECT $1"), "the rewritten Parse is wrong");
	n = parse_msg(m, "other_name", "SELECT $1");
	CHECK(tx_parse(&b, m, n, &out, &len) == 1, "second client");
	sa = tx_stmt_find(&a, "S_1");
	sb = tx_stmt_find(&b, "other_name");
	CHECK(sa && sb && !strcmp(sa->server, sb->server),
	      "the same text under two client names must share the server name");
	n = parse_msg(m, "S_2", "SELECT $1 + 1");
	tx_parse(&a, m, n, &out, &len);
	CHECK(strcmp(tx_stmt_find(&a, "S_2")->server, sa->server), "another text, another name");
	tx_stmt_forget(&a, "S_1");
	CHECK(!tx_stmt_find(&a, "S_1") && tx_stmt_find(&a, "S_2"), "Close forgets one");
	m[1] = 99;
	CHECK(tx_parse(&a, m, n, &out, &len) == -EINVAL, "a wrong length word taken");
	tx_session_free(&a);
	tx_session_free(&b);
	return 0;
}

static int t_server_sets(void)
{
	struct tx_server sv = {};
	char evicted[TX_NAME_LEN];

	CHECK(tx_server_add(&sv, "pgxr_a", 2, evicted) == 0, "add a");
	CHECK(tx_server_add(&sv, "pgxr_b", 2, evicted) == 0, "add b");
	CHECK(tx_server_has(&sv, "pgxr_a"), "a prepared");	/* a is now the most recent */
	CHECK(tx_server_add(&sv, "pgxr_c", 2, evicted) == 1 && !strcmp(evicted, "pgxr_b"),
	      "the least recently used must go: %s", evicted);
	CHECK(!tx_server_has(&sv, "pgxr_b") && tx_server_has(&sv, "pgxr_c"), "b gone, c in");
	tx_server_del(&sv, "pgxr_c");
	CHECK(!tx_server_has(&sv, "pgxr_c") && sv.n == 1, "del");
	tx_server_free(&sv);
	return 0;
}

int main(void)
{
	tap_run("txstate: what pins a session to its server, quotes and comments skipped", t_pins);
	tap_run("txstate: session SETs kept, replayed, RESET and DISCARD ALL", t_sets);
	tap_run("txstate: named statements renamed by their text, shared across clients", t_statements);
	tap_run("txstate: a server connection's statements, least recently used evicted", t_server_sets);
	return tap_done();
}
