/* test_splitlist.c: pgpool's function, query, redirect and relationship lists: anchored, case-insensitive, one in force */
#include <string.h>

#include "tap.h"
#include "splitlist.h"

static int t_write_list(void)
{
	splitlist_update("nextval, setval,public\\.audit_.*", "", "", "", "", "");
	CHECK(splitlist_function("", "nextval") == 1 && splitlist_function("", "NEXTVAL") == 1,
	      "a listed name, in any case, is a write");
	CHECK(splitlist_function("", "nextval2") == 0 && splitlist_function("", "my_nextval") == 0,
	      "an item matches a whole name, not a part of one");
	CHECK(splitlist_function("public", "audit_log") == 1 && splitlist_function("", "audit_log") == 0,
	      "a qualified item matches schema.name only");
	CHECK(splitlist_function("", "now") == 0, "an unlisted name is a read");
	CHECK(!splitlist_primary_query("SELECT nextval('s')"), "no query list: nothing forced");
	return 0;
}

static int t_read_only_list(void)
{
	splitlist_update("", "now|length,lower", "", "", "", "");
	CHECK(splitlist_function("", "now") == 0 && splitlist_function("", "length") == 0 &&
	      splitlist_function("", "lower") == 0, "a listed name is a read (alternation inside an item)");
	CHECK(splitlist_function("", "nowhere") == 1 && splitlist_function("", "random") == 1,
	      "anything else is a write");
	return 0;
}

static int t_queries_and_none(void)
{
	splitlist_update("", "", ".*FOR SHARE.*; SELECT .*pg_stat_activity.* ", "", "", "");
	CHECK(splitlist_function("", "random") == -1, "no function list: the catalog decides");
	CHECK(splitlist_primary_query("SELECT * FROM t\\nFOR SHARE"), "a pattern matches across lines");
	CHECK(splitlist_primary_query("select count(*) from pg_stat_activity"),
	      "a pattern matches in any case, blanks around it dropped");
	CHECK(!splitlist_primary_query("SELECT 1"), "an unmatched query is not forced");
	splitlist_update("", "", "", "", "", "");
	CHECK(!splitlist_primary_query("SELECT * FROM t FOR SHARE") && splitlist_function("", "x") == -1,
	      "lists emptied by a reload are gone");
	return 0;
}

static int t_check(void)
{
	char err[256];

	CHECK(splitlist_check("a,b.*, c", ',', err, sizeof(err)) == 0, "good list refused: %s", err);
	CHECK(splitlist_check("a,[z-a]", ',', err, sizeof(err)) < 0 && strstr(err, "\"[z-a]\""),
	      "a bad item not named: %s", err);
	CHECK(splitlist_check("", ';', err, sizeof(err)) == 0, "an empty list refused");
	return 0;
}

static int t_redirects(void)
{
	char err[256];
	double ratio = -1;
	int node = -9;

	splitlist_update("", "", "", "psql:primary, myapp[12]:1(0.3) ,batch.*:standby(0.8)",
			 "postgres:standby,mydb[01]:2,postgres:1", "");
	CHECK(splitlist_redirect("psql", "mydb0", &node, &ratio) && node == SPLITLIST_PRIMARY && ratio == 1.0,
	      "the application name first: %d %g", node, ratio);
	CHECK(splitlist_redirect("MyApp2", "x", &node, &ratio) && node == 1 && ratio > 0.29 && ratio < 0.31,
	      "a node id and its ratio, any case: %d %g", node, ratio);
	CHECK(splitlist_redirect("batch-7", "x", &node, &ratio) && node == SPLITLIST_STANDBY && ratio == 0.8,
	      "standby with a ratio: %d %g", node, ratio);
	CHECK(splitlist_redirect("myapp3", "mydb1", &node, &ratio) && node == 2,
	      "no application match: the database's: %d", node);
	CHECK(splitlist_redirect(NULL, "postgres", &node, &ratio) && node == SPLITLIST_STANDBY,
	      "no application name; the first item of a name wins: %d", node);
	CHECK(!splitlist_redirect("psql2", "mydb2", &node, &ratio), "a name matches whole, not a part");
	splitlist_update("", "", "", "", "", "");
	CHECK(!splitlist_redirect("psql", "postgres", &node, &ratio), "lists emptied by a reload are gone");
	CHECK(splitlist_redirect_check("a:primary,b:standby(0),c:127(1.0)", 128, err, sizeof(err)) == 0,
	      "a good list refused: %s", err);
	CHECK(splitlist_redirect_check("a:2,b", 128, err, sizeof(err)) < 0 && strstr(err, "\"b\" is not name:node"),
	      "an item without a node not named: %s", err);
	CHECK(splitlist_redirect_check("a:replica", 128, err, sizeof(err)) < 0 &&
	      strstr(err, "\"replica\" is not a node: expected primary, standby or a node id from 0 to 127"),
	      "a bad node not named: %s", err);
	CHECK(splitlist_redirect_check("a:128", 128, err, sizeof(err)) < 0, "a node id past the last accepted");
	CHECK(splitlist_redirect_check("a:1(1.5)", 128, err, sizeof(err)) < 0 && strstr(err, "from 0 to 1"),
	      "a ratio past 1 not refused: %s", err);
	CHECK(splitlist_redirect_check("a:1(x)", 128, err, sizeof(err)) < 0, "a ratio not a number accepted");
	CHECK(splitlist_redirect_check("a:1(nan)", 128, err, sizeof(err)) < 0, "a NaN ratio accepted");
	CHECK(splitlist_redirect_check("a:000000000000000000000000000000001", 128, err, sizeof(err)) < 0,
	      "a node spec too long to read accepted");
	CHECK(splitlist_redirect_check("[z-a]:1", 128, err, sizeof(err)) < 0 && strstr(err, "not a regular expression"),
	      "a bad name pattern not said: %s", err);
	return 0;
}

static int t_relations(void)
{
	char err[256];
	const char *d[4];
	int pos = 0, n = 0;

	splitlist_update("", "", "", "", "",
			 " accounts:history, public.Accounts : audit_log,ledger_add():Ledger, s.f() : x.\"T\"");
	while (n < 4 && (d[n] = splitlist_related("accounts", false, &pos)))
		n++;
	CHECK(n == 2 && !strcmp(d[0], "history") && !strcmp(d[1], "audit_log"),
	      "a table's dependents in order, its schema and case left out: %d", n);
	pos = 0;
	CHECK((d[0] = splitlist_related("ledger_add", true, &pos)) && !strcmp(d[0], "ledger") &&
	      !splitlist_related("ledger_add", true, &pos), "a function's dependent, lowercased");
	pos = 0;
	CHECK(!splitlist_related("ledger_add", false, &pos), "a table of a function's name is not the function");
	pos = 0;
	CHECK((d[0] = splitlist_related("F", true, &pos)) && !strcmp(d[0], "t"), "a qualified function");
	pos = 0;
	CHECK(!splitlist_related("history", false, &pos), "a dependent is not an object");
	CHECK(splitlist_relations_check("a:b, f():c ,", err, sizeof(err)) == 0, "a good list refused: %s", err);
	CHECK(splitlist_relations_check("a:b,c", err, sizeof(err)) < 0 && strstr(err, "\"c\" is not object:table"),
	      "an item without a colon not named: %s", err);
	CHECK(splitlist_relations_check("a:f()", err, sizeof(err)) < 0 && strstr(err, "\"a:f()\""),
	      "a function as the dependent accepted: %s", err);
	CHECK(splitlist_relations_check(":b", err, sizeof(err)) < 0, "an empty object accepted");
	CHECK(splitlist_relations_check("a:s.", err, sizeof(err)) < 0, "an empty table name accepted");
	CHECK(splitlist_relations_check("a:b(", err, sizeof(err)) < 0, "a parenthesis in a name accepted");
	CHECK(splitlist_relations_check("a:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
					err, sizeof(err)) < 0, "a name longer than NAMEDATALEN accepted");
	splitlist_update("", "", "", "", "", "");
	pos = 0;
	CHECK(!splitlist_related("accounts", false, &pos), "a list emptied by a reload is gone");
	return 0;
}

int main(void)
{
	tap_run("splitlist: write_function_list", t_write_list);
	tap_run("splitlist: read_only_function_list", t_read_only_list);
	tap_run("splitlist: primary_routing_query_pattern_list, and no list", t_queries_and_none);
	tap_run("splitlist: the configuration's check names a bad item", t_check);
	tap_run("splitlist: app_name and database redirect preference lists", t_redirects);
	tap_run("splitlist: dml_adaptive_object_relationship_list", t_relations);
	splitlist_free();
	return tap_done();
}
