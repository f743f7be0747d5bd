/* test_pgtext.c: SQL and postgresql.conf literals, conninfo rewriting, pgpool's placeholders */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "pgtext.h"
#include "tap.h"

static char out[4096];

static int t_literals(void)
{
	CHECK(!pgtext_sql_literal("plain", out, sizeof(out)) && !strcmp(out, "'plain'"), "%s", out);
	CHECK(!pgtext_sql_literal("it's", out, sizeof(out)) && !strcmp(out, "'it''s'"), "%s", out);
	CHECK(!pgtext_sql_literal("a\\b", out, sizeof(out)) && !strcmp(out, "'a\\b'"),
	      "SQL keeps backslashes literal: %s", out);
	CHECK(!pgtext_sql_literal("", out, sizeof(out)) && !strcmp(out, "''"), "%s", out);
	CHECK(pgtext_sql_literal("too long", out, 5) == -ENAMETOOLONG, "overflow not reported");
	/* postgresql.conf reads backslash escapes: a conninfo's \' must survive */
	CHECK(!pgtext_conf_literal("password='p\\'w' x", out, sizeof(out)) &&
	      !strcmp(out, "'password=''p\\\\''w'' x'"), "%s", out);
	return 0;
}

/* the value libpq parses out of conninfo for key */
static const char *conninfo_get(const char *conninfo, const char *key)
{
	static char val[512];
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);

	val[0] = '\0';
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (!strcmp(o->keyword, key) && o->val)
			snprintf(val, sizeof(val), "%s", o->val);
	PQconninfoFree(opts);
	return val;
}

static int t_conninfo(void)
{
	static const char *const drop[] = { "application_name", NULL };
	const char *old = "user=repl password='it\\'s a \\'secret\\' \\\\ end' host=10.0.0.20 "
			  "hostaddr=10.0.0.20 port=5433 application_name=db2 sslmode=prefer";

	CHECK(!pgtext_conninfo_retarget(old, "db1.example", "10.0.0.21", 5432, NULL, out,
					sizeof(out)), "retarget failed");
	CHECK(!strcmp(conninfo_get(out, "host"), "db1.example"), "host: %s", out);
	CHECK(!strcmp(conninfo_get(out, "hostaddr"), "10.0.0.21"), "hostaddr: %s", out);
	CHECK(!strcmp(conninfo_get(out, "port"), "5432"), "port: %s", out);
	CHECK(!strcmp(conninfo_get(out, "user"), "repl"), "user lost: %s", out);
	CHECK(!strcmp(conninfo_get(out, "password"), "it's a 'secret' \\ end"),
	      "password mangled: %s", conninfo_get(out, "password"));
	CHECK(!strcmp(conninfo_get(out, "application_name"), "db2"), "application_name lost");
	CHECK(!strcmp(conninfo_get(out, "sslmode"), "prefer"), "sslmode lost");
	CHECK(!pgtext_conninfo_retarget(old, "h", NULL, 1, drop, out, sizeof(out)) &&
	      !conninfo_get(out, "application_name")[0] && !strcmp(conninfo_get(out, "user"), "repl"),
	      "dropping application_name: %s", out);
	/* a URI is conninfo too */
	CHECK(!pgtext_conninfo_retarget("postgresql://repl:p%27w@10.0.0.20:5433/?sslmode=require",
					"h", NULL, 7, NULL, out, sizeof(out)) &&
	      !strcmp(conninfo_get(out, "user"), "repl") &&
	      !strcmp(conninfo_get(out, "password"), "p'w") &&
	      !strcmp(conninfo_get(out, "sslmode"), "require") &&
	      !strcmp(conninfo_get(out, "host"), "h") && !strcmp(conninfo_get(out, "port"), "7"),
	      "a URI retargeted: %s", out);
	/* an empty primary_conninfo still gives a usable string */
	CHECK(!pgtext_conninfo_retarget("", "h", NULL, 6000, NULL, out, sizeof(out)), "empty failed");
	CHECK(!strcmp(conninfo_get(out, "host"), "h") && !strcmp(conninfo_get(out, "port"), "6000"),
	      "empty: %s", out);
	CHECK(pgtext_conninfo_retarget("host='unterminated", "h", NULL, 1, NULL, out, sizeof(out)) ==
	      -EINVAL, "a broken conninfo was accepted");
	CHECK(pgtext_conninfo_retarget(old, "h", NULL, 1, NULL, out, 20) == -ENAMETOOLONG,
	      "overflow not reported");
	return 0;
}

/* pgxr reads conninfo strings as libpq does: libpq's parser is the reference */
static int t_conninfo_libpq(void)
{
	static const struct { const char *conninfo, *key; } ok[] = {
		{ "host=h port=5432", "port" },
		{ "  host = h   port =5432 ", "port" },
		{ "password='it\\'s \\\\ x' user=u", "password" },
		{ "password='' user=u", "password" },
		{ "password=a\\ b user=u", "password" },
		{ "user=a user=b", "user" },
		{ "application_name='x y z'", "application_name" },
		{ "sslmode=prefer", "host" },
		{ "postgresql://repl:s%40cret@db0:5433/postgres?application_name=x%20y", "password" },
		{ "postgresql://repl:s%40cret@db0:5433/postgres?application_name=x%20y", "user" },
		{ "postgresql://repl:s%40cret@db0:5433/postgres?application_name=x%20y", "port" },
		{ "postgresql://repl:s%40cret@db0:5433/postgres?application_name=x%20y", "dbname" },
		{ "postgresql://repl:s%40cret@db0:5433/postgres?application_name=x%20y", "application_name" },
		{ "postgres://[::1]:6000/d", "host" },
		{ "postgres://[::1]:6000/d", "port" },
		{ "postgresql://h1:1,h2:2/d", "host" },
		{ "postgresql://h1:1,h2:2/d", "port" },
		{ "postgresql://h1,h2:2/d", "port" },
		{ "postgresql://u@h", "user" },
		{ "postgresql:///d?host=/tmp", "host" },
		{ "postgresql://h/d?ssl=true", "sslmode" },
		{ "postgresql://a%2Cb,c/d", "host" },
	};
	static const char *const bad[] = { "host='unterminated", "host", "host=h port", "=x",
					   "postgresql://h/d?x", "postgresql://u:p%4@h" };
	char val[128];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *want = conninfo_get(ok[i].conninfo, ok[i].key);
		int r = pgtext_conninfo_get(ok[i].conninfo, ok[i].key, val, sizeof(val));

		CHECK(want[0] ? r == 0 && !strcmp(val, want) : r == -ENOENT || (r == 0 && !val[0]),
		      "%s in [%s]: libpq says [%s], pgxr %d [%s]", ok[i].key, ok[i].conninfo, want,
		      r, r ? "" : val);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(!PQconninfoParse(bad[i], NULL), "libpq accepts [%s]", bad[i]);
		CHECK(pgtext_conninfo_get(bad[i], "host", val, sizeof(val)) == -EINVAL,
		      "[%s] was accepted", bad[i]);
	}
	return 0;
}

/* a passfile as libpq reads it: first match wins, '*' wildcards, escapes, 0600 only */
static int t_passfile(void)
{
	char path[] = "/tmp/pgxr-test-pgpass-XXXXXX", pw[64];
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	int ret = 0;

	CHECK(f, "could not create a passfile");
	fputs("# comment\n"
	      "other:5432:*:postgres:not-this\n"
	      "db0:5432:postgres:postgres:first\n"
	      "db0:5432:*:postgres:second\n"
	      "*:*:*:rep\\:l:colon\\:and\\\\back\n"
	      "\\*:7000:*:*:literal-star\n"
	      "*:6000:*:*:any-user\n", f);
	fclose(f);
#define LOOKUP(h, p, d, u) pgtext_passfile_lookup(path, h, p, d, u, pw, sizeof(pw))
	if (LOOKUP("db0", 5432, "postgres", "postgres") || strcmp(pw, "first"))
		ret = (tap_fail("the first matching line: %s", pw), -1);
	else if (LOOKUP("db0", 5432, "other", "postgres") || strcmp(pw, "second"))
		ret = (tap_fail("a '*' database: %s", pw), -1);
	else if (LOOKUP("x", 1, "d", "rep:l") || strcmp(pw, "colon:and\\back"))
		ret = (tap_fail("escapes: %s", pw), -1);
	else if (LOOKUP("x", 6000, "d", "anyone") || strcmp(pw, "any-user"))
		ret = (tap_fail("a '*' user: %s", pw), -1);
	else if (LOOKUP("x", 7000, "d", "u") != -ENOENT)
		ret = (tap_fail("an escaped '*' matched a host: %s", pw), -1);
	else if (LOOKUP("*", 7000, "d", "u") || strcmp(pw, "literal-star"))
		ret = (tap_fail("an escaped '*' is the host '*': %s", pw), -1);
	else if (LOOKUP("db1", 5432, "postgres", "postgres") != -ENOENT)
		ret = (tap_fail("no line matches, yet a password came"), -1);
	chmod(path, 0644);
	if (!ret && LOOKUP("db0", 5432, "postgres", "postgres") != -ENOENT)
		ret = (tap_fail("a passfile others can read was used"), -1);
#undef LOOKUP
	unlink(path);
	return ret;
}

/* a conninfo written into postgresql.conf reads back as the same conninfo */
static int t_conf_roundtrip(void)
{
	const char *conninfo = "user='repl' password='p\\'w\\\\x' host='h'";
	char text[sizeof(out) + 256], back[512];

	CHECK(!pgtext_conf_literal(conninfo, out, sizeof(out)), "literal");
	snprintf(text, sizeof(text),
		 "# a comment\nprimary_conninfo = 'host=old'\nport = 5432\n"
		 "primary_conninfo = %s   # the last one wins\nprimary_slot_name = db2\n", out);
	pgtext_conf_value(text, "primary_conninfo", back, sizeof(back));
	CHECK(!strcmp(back, conninfo), "read back \"%s\", wrote \"%s\"", back, conninfo);
	CHECK(!strcmp(conninfo_get(back, "password"), "p'w\\x"), "password \"%s\"",
	      conninfo_get(back, "password"));
	pgtext_conf_value(text, "primary_slot_name", back, sizeof(back));
	CHECK(!strcmp(back, "db2"), "bare value \"%s\"", back);
	pgtext_conf_value(text, "primary_slot", back, sizeof(back));
	CHECK(!back[0], "a prefix of a name matched: \"%s\"", back);
	pgtext_conf_value("PRIMARY_SLOT_NAME='x'' y'\n", "primary_slot_name", back, sizeof(back));
	CHECK(!strcmp(back, "x' y"), "doubled quote \"%s\"", back);
	return 0;
}

static int t_placeholders(void)
{
	struct pgtext_vars v = {
		.failed = { 0, "db0.example", 5432, "/var/lib/pg/0" },
		.new_main = { 2, "db2.example", 5433, "/var/lib/pg/2" },
		.old_main = { 0, "db0.example", 5432, "/var/lib/pg/0" },
		.old_primary = { 0, "db0.example", 5432, "/var/lib/pg/0" },
	};

	CHECK(!pgtext_expand("/s/failover.sh %d %h %p %D %m %H %r %R %M %P %N %S %% %x 100%", &v,
			     out, sizeof(out)), "expand failed");
	CHECK(!strcmp(out, "/s/failover.sh 0 db0.example 5432 /var/lib/pg/0 2 db2.example 5433 "
			   "/var/lib/pg/2 0 0 db0.example 5432 % %x 100%"), "got: %s", out);
	/* the seed's failover_command */
	CHECK(!pgtext_expand("/opt/pgpool-3/script/failover.sh %H", &v, out, sizeof(out)) &&
	      !strcmp(out, "/opt/pgpool-3/script/failover.sh db2.example"), "seed: %s", out);
	v.new_main.id = -1;
	CHECK(!pgtext_expand("[%m][%H][%r]", &v, out, sizeof(out)) && !strcmp(out, "[-1][][0]"),
	      "no new main node: %s", out);
	CHECK(pgtext_expand("%D%D%D", &v, out, 10) == -ENAMETOOLONG, "overflow not reported");
	return 0;
}

/* values that are not plain words reach /bin/sh as one word; PGXR_* variables carry them too */
static int t_command_quoting(void)
{
	struct pgtext_vars v = {
		.failed = { 0, "db 0;rm -rf /", 5432, "/var/lib/it's" },
		.new_main = { 1, "db1.example", 5433, NULL },
		.old_main = { 0, "db 0;rm -rf /", 5432, NULL },
		.old_primary = { -1, NULL, 0, NULL },
	};
	char out[512], buf[2048], *env[24];
	int n;

	CHECK(!pgtext_expand("f.sh %h %D %H %N", &v, out, sizeof(out)), "expand failed");
	CHECK(!strcmp(out, "f.sh 'db 0;rm -rf /' '/var/lib/it'\\''s' db1.example "), "got: %s", out);
	n = pgtext_env(&v, buf, sizeof(buf), env, 24);
	CHECK(n == 16, "%d variables", n);
	CHECK(!strcmp(env[1], "PGXR_FAILED_HOST=db 0;rm -rf /"), "got %s", env[1]);
	CHECK(!strcmp(env[4], "PGXR_NEW_MAIN_NODE_ID=1") && !strcmp(env[6], "PGXR_NEW_MAIN_PORT=5433"),
	      "got %s %s", env[4], env[6]);
	CHECK(!strcmp(env[12], "PGXR_OLD_PRIMARY_NODE_ID=-1") && !strcmp(env[13], "PGXR_OLD_PRIMARY_HOST="),
	      "got %s %s", env[12], env[13]);
	CHECK(env[16] == NULL, "not NULL-terminated");
	CHECK(pgtext_env(&v, buf, 20, env, 24) == -ENAMETOOLONG, "overflow not reported");
	return 0;
}

int main(void)
{
	tap_run("pgtext: SQL and postgresql.conf literals", t_literals);
	tap_run("pgtext: primary_conninfo pointed at a new primary keeps everything else", t_conninfo);
	tap_run("pgtext: conninfo strings read as libpq reads them", t_conninfo_libpq);
	tap_run("pgtext: a passfile read as libpq reads it", t_passfile);
	tap_run("pgtext: a conninfo survives postgresql.conf quoting", t_conf_roundtrip);
	tap_run("pgtext: pgpool's failover_command placeholders", t_placeholders);
	tap_run("pgtext: placeholder values reach the shell as one word, and as PGXR_* variables", t_command_quoting);
	return tap_done();
}
