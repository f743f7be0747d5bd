/* test_splitlist.c: pgpool's function and query lists: anchored, case-insensitive, one in force */
#include <string.h>

#include "tap.h"
#include "splitlist.h"

static int t_write_list(void)
{
	splitlist_update("nextval, setval,public\\.audit_.*", "", "");
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
	splitlist_update("", "now|length,lower", "");
	CHECK(splitlist_function("", "now") == 0 && splitlist_function("", "length") == 0 &&
	      splitlist_function("", "lower") == 0, "a listed name is a read (alternation inside an item)");
	CHECK(splitlist_function("", "nowhere") == 1 && splitlist_function("", "random") == 1,
	      "anything else is a write");
	return 0;
}

static int t_queries_and_none(void)
{
	splitlist_update("", "", ".*FOR SHARE.*; SELECT .*pg_stat_activity.* ");
	CHECK(splitlist_function("", "random") == -1, "no function list: the catalog decides");
	CHECK(splitlist_primary_query("SELECT * FROM t\\nFOR SHARE"), "a pattern matches across lines");
	CHECK(splitlist_primary_query("select count(*) from pg_stat_activity"),
	      "a pattern matches in any case, blanks around it dropped");
	CHECK(!splitlist_primary_query("SELECT 1"), "an unmatched query is not forced");
	splitlist_update("", "", "");
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

int main(void)
{
	tap_run("splitlist: write_function_list", t_write_list);
	tap_run("splitlist: read_only_function_list", t_read_only_list);
	tap_run("splitlist: primary_routing_query_pattern_list, and no list", t_queries_and_none);
	tap_run("splitlist: the configuration's check names a bad item", t_check);
	splitlist_free();
	return tap_done();
}
